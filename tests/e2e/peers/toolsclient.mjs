#!/usr/bin/env node
// An SDK client over streamable HTTP that lists the tools and makes a series of calls.
// usage: node toolsclient.mjs URL [--token T] [--call TOOL --args JSON]...
// Initializes, lists tools, makes each call in order and prints exactly one JSON line:
//   {"ok":true,"tools":["echo",..],"server":{"name":..,"version":..},
//    "calls":[{"tool":"echo","ok":true,"isError":false,"text":"Echo: hi","error":null},
//             {"tool":"rm","ok":false,"isError":null,"text":null,"code":-32010,"data":{..},
//              "error":"MCP error -32010: .."}]}
// A refused call does not stop the run ("ok" is about the session, each call has its own).
// Exit 0 when the session worked, 1 otherwise ({"ok":false,"error":".."}). 20 s timeout.
// --token sends "Authorization: Bearer T".
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { errorText, resultLine } from './oneline.mjs';

const TIMEOUT_MS = 20_000;
const USAGE = 'usage: node toolsclient.mjs URL [--token T] [--call TOOL --args JSON]...';
const { finish, fail } = resultLine(TIMEOUT_MS, (error) => ({ ok: false, error }));

function parseArgs(argv) {
  const o = { url: null, token: null, calls: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--token' && argv[i + 1]) o.token = argv[++i];
    else if (a === '--call' && argv[i + 1]) o.calls.push({ tool: argv[++i], args: {} });
    else if (a === '--args' && o.calls.length && argv[i + 1]) o.calls[o.calls.length - 1].args = JSON.parse(argv[++i]);
    else if (a.startsWith('--') || o.url) throw new Error(`unexpected argument ${a}; ${USAGE}`);
    else o.url = a;
  }
  if (!o.url) throw new Error(USAGE);
  return o;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const requestInit = opts.token ? { headers: { Authorization: `Bearer ${opts.token}` } } : undefined;
  const transport = new StreamableHTTPClientTransport(new URL(opts.url), { requestInit });
  const client = new Client({ name: 'mcpwarden-e2e-tools', version: '0.1.0' });
  await client.connect(transport);
  const { tools } = await client.listTools();
  const results = [];
  for (const c of opts.calls) {
    try {
      const res = await client.callTool({ name: c.tool, arguments: c.args });
      const text = (res.content || []).filter((x) => x.type === 'text').map((x) => x.text).join('');
      results.push({ tool: c.tool, ok: !res.isError, isError: !!res.isError, text, error: null });
    } catch (err) {
      results.push({ tool: c.tool, ok: false, isError: null, text: null, code: err?.code ?? null,
        data: err?.data ?? null, error: errorText(err) });
    }
  }
  const server = client.getServerVersion() || {};
  try { await transport.terminateSession(); } catch { /* not fatal */ }
  try { await client.close(); } catch { /* not fatal */ }
  finish({ ok: true, tools: tools.map((t) => t.name), server: { name: server.name, version: server.version },
    calls: results }, 0);
}

main().catch(fail);
