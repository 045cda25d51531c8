#!/usr/bin/env node
// A real MCP client (SDK StreamableHTTPClientTransport) for the end-to-end tests.
// usage: node client.mjs URL [--echo-bytes N] [--calls K] [--token T] [--unlisted]
// --unlisted calls echo even when tools/list does not show it (to test a checkpoint that
// filters the list and must still refuse the call).
// Initializes, lists tools, calls `echo` K times with a fresh random printable message
// of N characters each, and prints exactly one JSON line on stdout:
//   {"ok":true,"tools":n,"calls":k,"bytes":N,"sha256_sent":..,"sha256_back":..,
//    "match":true,"server":{"name":..,"version":..},"protocol":..,"ms":..}
// or {"ok":false,"error":".."} with exit status 1. 20 s overall timeout.
// sha256_sent hashes the K messages sent, concatenated; sha256_back the K messages
// taken back out of the replies ("Echo: " prefix removed), concatenated.
import { createHash, randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { resultLine } from './oneline.mjs';

const TIMEOUT_MS = 20_000;
const USAGE = 'usage: node client.mjs URL [--echo-bytes N] [--calls K] [--token T] [--unlisted]';

let listed = null; // tools/list count, reported on failure too
const { finish, fail } = resultLine(TIMEOUT_MS, (error) => ({ ok: false, error, tools: listed }));

function parseArgs(argv) {
  const o = { url: null, bytes: 32, calls: 1, token: null };
  const intArg = (name, v, min) => {
    if (v === undefined || !/^\d+$/.test(v) || Number(v) < min) throw new Error(`${name} needs an integer >= ${min}; ${USAGE}`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--echo-bytes') o.bytes = intArg(a, argv[++i], 0);
    else if (a === '--calls') o.calls = intArg(a, argv[++i], 0);
    else if (a === '--unlisted') o.unlisted = true;
    else if (a === '--token') {
      o.token = argv[++i];
      if (!o.token) throw new Error(`--token needs a value; ${USAGE}`);
    } else if (a.startsWith('--') || o.url) throw new Error(`unexpected argument ${a}; ${USAGE}`);
    else o.url = a;
  }
  if (!o.url) throw new Error(USAGE);
  return o;
}

// N printable characters: base64 of random bytes, cut to length.
const randomMessage = (n) => randomBytes(Math.ceil((n * 3) / 4) + 3).toString('base64').slice(0, n);

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const url = new URL(opts.url);
  const t0 = Date.now();
  const requestInit = opts.token ? { headers: { Authorization: `Bearer ${opts.token}` } } : undefined;
  const transport = new StreamableHTTPClientTransport(url, { requestInit });
  const client = new Client({ name: 'mcpwarden-e2e-client', version: '0.1.0' });
  await client.connect(transport);

  const { tools } = await client.listTools();
  listed = tools.length;
  if (!opts.unlisted && !tools.some((t) => t.name === 'echo')) throw new Error('server has no echo tool');

  const hSent = createHash('sha256');
  const hBack = createHash('sha256');
  let match = true;
  for (let i = 0; i < opts.calls; i++) {
    const msg = randomMessage(opts.bytes);
    hSent.update(msg);
    const res = await client.callTool({ name: 'echo', arguments: { message: msg } });
    if (res.isError) throw new Error(`echo call ${i + 1} returned an error: ${JSON.stringify(res.content).slice(0, 300)}`);
    const text = (res.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('');
    if (!text.includes(msg)) {
      throw new Error(`echo call ${i + 1}: reply (${text.length} chars) does not contain the ${msg.length}-char message`);
    }
    const back = text.startsWith('Echo: ') ? text.slice('Echo: '.length) : text;
    hBack.update(back);
    if (back !== msg) match = false;
  }

  const server = client.getServerVersion() || {};
  const result = {
    ok: match,
    tools: tools.length,
    calls: opts.calls,
    bytes: opts.bytes,
    sha256_sent: hSent.digest('hex'),
    sha256_back: hBack.digest('hex'),
    match,
    server: { name: server.name, version: server.version },
    protocol: transport.protocolVersion ?? null,
    ms: Date.now() - t0,
  };
  if (!match) result.error = 'echoed text is not exactly the message sent';

  // End the session politely (DELETE); a server or gateway may refuse (405): ignore.
  try { await transport.terminateSession(); } catch { /* not fatal */ }
  try { await client.close(); } catch { /* not fatal */ }
  finish(result, match ? 0 : 1);
}

main().catch(fail);
