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
import { resultLine } from './oneline.mjs';

const TIMEOUT_MS = 20_000;
const USAGE = 'usage: node sqlclient.mjs URL SQL [--token T] [--tool NAME] [--arg NAME]';

const { finish, fail } = resultLine(TIMEOUT_MS, (error) => ({ ok: false, isError: null, text: null, error }));

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
