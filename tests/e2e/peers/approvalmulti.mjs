#!/usr/bin/env node
// Many tool calls at once from one real MCP client (SDK), each on its own HTTP connection,
// for tests/e2e/approval.sh: calls TOOL with {ARG: TEMPLATE with {k} replaced by k} for
// k in FIRST..LAST, all concurrently, and prints one JSON line:
//   {"results":[{"k":1,"ok":true,"text":"...","code":null,"reason":null}, ...]}
// usage: node approvalmulti.mjs URL TEMPLATE FIRST LAST [--token T] [--tool N] [--arg N]
//                               [--timeout-ms N]
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { resultLine } from './oneline.mjs';

const o = { token: null, tool: 'execute_sql', arg: 'sql', 'timeout-ms': '120000' };
const pos = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i].startsWith('--')) o[argv[i].slice(2)] = argv[++i];
  else pos.push(argv[i]);
}
const timeout = Number(o['timeout-ms']);
const { finish, fail } = resultLine(timeout + 30_000, (error) => ({ results: null, error }));

async function main() {
  if (pos.length !== 4) throw new Error('usage: node approvalmulti.mjs URL TEMPLATE FIRST LAST');
  const [url, template, first, last] = [pos[0], pos[1], Number(pos[2]), Number(pos[3])];
  const requestInit = o.token ? { headers: { Authorization: `Bearer ${o.token}` } } : undefined;
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit });
  const client = new Client({ name: 'mcpwarden-e2e-approvalmulti', version: '0.1.0' });
  await client.connect(transport);
  const calls = [];
  for (let k = first; k <= last; k++) {
    const sql = template.replaceAll('{k}', String(k));
    calls.push(client.callTool({ name: o.tool, arguments: { [o.arg]: sql } }, undefined,
      { timeout, maxTotalTimeout: timeout })
      .then((res) => ({ k, ok: !res.isError, text: (res.content || []).map((c) => c.text || '').join(''),
        code: null, reason: null }))
      .catch((err) => ({ k, ok: false, text: null, code: err.code ?? null,
        reason: err.data && err.data.reason ? err.data.reason : String(err.message || err) })));
  }
  console.error('calling');
  const results = await Promise.all(calls);
  finish({ results }, 0);
}

main().catch(fail);
