#!/usr/bin/env node
// A real MCP client (SDK StreamableHTTPClientTransport) whose one tool call may be held for
// a person's approval by the agent, for tests/e2e/approval.sh.
// usage: node approvalclient.mjs URL SQL [--token T] [--tool NAME] [--arg NAME]
//                                [--timeout-ms N] [--progress] [--justification TEXT]
//                                [--tag TEXT]
// Initializes, calls the tool once with {ARG: SQL} (request timeout --timeout-ms, default
// 120000; --progress asks for progress notifications) and prints exactly one JSON line:
//   {"ok":true,"isError":false,"text":"...","code":null,"data":null,"ms":N,"tag":...}
//   {"ok":false,"isError":null,"text":null,"code":-32011,"data":{...},"message":"...","ms":N}
// Before the call it prints "calling" on stderr, so a test knows the call is on its way.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { resultLine } from './oneline.mjs';

const o = { token: null, tool: 'execute_sql', arg: 'sql', 'timeout-ms': '120000', progress: false,
  justification: null, tag: null };
const pos = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--progress') o.progress = true;
  else if (a.startsWith('--')) {
    const v = argv[++i];
    if (v === undefined) throw new Error(`${a} needs a value`);
    o[a.slice(2)] = v;
  } else pos.push(a);
}
const timeout = Number(o['timeout-ms']);
const t0 = Date.now();
const { finish } = resultLine(timeout + 20_000, (error) => ({ ok: false, isError: null, text: null,
  code: null, data: null, message: error, ms: Date.now() - t0, tag: o.tag }));

async function main() {
  if (pos.length !== 2) throw new Error('usage: node approvalclient.mjs URL SQL [options]');
  const requestInit = o.token ? { headers: { Authorization: `Bearer ${o.token}` } } : undefined;
  const transport = new StreamableHTTPClientTransport(new URL(pos[0]), { requestInit });
  const client = new Client({ name: 'mcpwarden-e2e-approvalclient', version: '0.1.0' });
  await client.connect(transport);
  const progress = [];
  const opts = { timeout, maxTotalTimeout: timeout };
  if (o.progress) opts.onprogress = (p) => progress.push(p);
  const params = { name: o.tool, arguments: { [o.arg]: pos[1] } };
  if (o.justification) params._meta = { justification: o.justification };
  console.error('calling');
  try {
    const res = await client.callTool(params, undefined, opts);
    const text = (res.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('');
    finish({ ok: true, isError: !!res.isError, text, code: null, data: null, progress,
      ms: Date.now() - t0, tag: o.tag }, 0);
  } catch (err) {
    finish({ ok: false, isError: null, text: null, code: err.code ?? null, data: err.data ?? null,
      message: String(err.message || err), progress, ms: Date.now() - t0, tag: o.tag }, 1);
  }
}

main().catch((err) => finish({ ok: false, isError: null, text: null, code: err.code ?? null,
  data: err.data ?? null, message: String(err.message || err), ms: Date.now() - t0, tag: o.tag }, 1));
