#!/usr/bin/env node
// A real MCP client (SDK StreamableHTTPClientTransport) that runs one SQL text through a
// SQL tool, for the end-to-end tests against dbhub.
// usage: node sqlclient.mjs URL SQL [--token T] [--tool NAME] [--arg NAME]
//   (defaults: --tool execute_sql --arg sql, as @bytebase/dbhub names them)
// Initializes, calls the tool once with {ARG: SQL} and prints exactly one JSON line:
//   {"ok":true,"isError":false,"text":"<the reply's text content>","error":null}
//   {"ok":true,"isError":true,"text":"<the tool's error text>","error":null}
//   {"ok":false,"isError":null,"text":null,"error":"MCP error -32010: ..."}  (exit 1)
// ok is false when the call itself failed (JSON-RPC error, HTTP error, timeout); isError is
// the tool result's own error flag. 20 s overall timeout.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const TIMEOUT_MS = 20_000;
const USAGE = 'usage: node sqlclient.mjs URL SQL [--token T] [--tool NAME] [--arg NAME]';

// stdout carries only the result line; anything a library prints goes to stderr.
console.log = console.error;
console.info = console.error;
console.warn = console.error;
console.debug = console.error;

let done = false;
function finish(obj, code) {
  if (done) return;
  done = true;
  process.stdout.write(JSON.stringify(obj) + '\n', () => process.exit(code));
}
function errorText(err) {
  let s = String(err && err.message ? err.message : err);
  if (err && err.code !== undefined && !s.includes(String(err.code))) s = `${err.code} ${s}`;
  if (err && err.data !== undefined) s += ` data=${JSON.stringify(err.data)}`;
  const c = err && err.cause;
  if (c) s += `: ${c.code || ''}${c.code && c.message ? ' ' : ''}${c.message || ''}`;
  return s;
}
const fail = (err) => finish({ ok: false, isError: null, text: null, error: errorText(err) }, 1);

process.on('unhandledRejection', fail);
process.on('uncaughtException', fail);
setTimeout(() => fail(`timeout after ${TIMEOUT_MS / 1000}s`), TIMEOUT_MS);

function parseArgs(argv) {
  const o = { url: null, sql: null, token: null, tool: 'execute_sql', arg: 'sql' };
  const pos = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--token' || a === '--tool' || a === '--arg') {
      const v = argv[++i];
      if (!v) throw new Error(`${a} needs a value; ${USAGE}`);
      o[a.slice(2)] = v;
    } else if (a.startsWith('--')) throw new Error(`unexpected option ${a}; ${USAGE}`);
    else pos.push(a);
  }
  if (pos.length !== 2) throw new Error(USAGE);
  [o.url, o.sql] = pos;
  return o;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const requestInit = opts.token ? { headers: { Authorization: `Bearer ${opts.token}` } } : undefined;
  const transport = new StreamableHTTPClientTransport(new URL(opts.url), { requestInit });
  const client = new Client({ name: 'mcpwarden-e2e-sqlclient', version: '0.1.0' });
  await client.connect(transport);
  const res = await client.callTool({ name: opts.tool, arguments: { [opts.arg]: opts.sql } });
  const text = (res.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('');
  try { await client.close(); } catch { /* not fatal */ }
  finish({ ok: true, isError: !!res.isError, text, error: null }, 0);
}

main().catch(fail);
