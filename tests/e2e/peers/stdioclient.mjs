#!/usr/bin/env node
// An SDK client over stdio (StdioClientTransport) for driving a stdio proxy such as mcp-remote.
// usage: node stdioclient.mjs [--call TOOL --args JSON]... -- CMD [ARGS...]
// Spawns CMD ARGS (its child: same cgroup), initializes, lists tools, makes each call in order
// and prints exactly one JSON line:
//   {"ok":true,"tools":["echo",..],"server":{"name":..,"version":..},
//    "calls":[{"tool":"echo","ok":true,"isError":false,"text":"Echo: hi","error":null},
//             {"tool":"get-sum","ok":false,"isError":null,"text":null,"error":"MCP error -32010: .."}]}
// A refused call does not stop the run ("ok" is about the session, each call has its own).
// Exit 0 when the session worked, 1 otherwise ({"ok":false,"error":".."}). 30 s timeout.
// The child's stderr goes to ours.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { errorText, resultLine } from './oneline.mjs';

const TIMEOUT_MS = 30_000;
const USAGE = 'usage: node stdioclient.mjs [--call TOOL --args JSON]... -- CMD [ARGS...]';
const { finish, fail } = resultLine(TIMEOUT_MS, (error) => ({ ok: false, error }));

function parseArgs(argv) {
  const calls = [];
  let i = 0;
  for (; i < argv.length && argv[i] !== '--'; i++) {
    if (argv[i] === '--call' && argv[i + 1]) calls.push({ tool: argv[++i], args: {} });
    else if (argv[i] === '--args' && calls.length && argv[i + 1]) calls[calls.length - 1].args = JSON.parse(argv[++i]);
    else throw new Error(`unexpected argument ${argv[i]}; ${USAGE}`);
  }
  const cmd = argv.slice(i + 1);
  if (!cmd.length) throw new Error(USAGE);
  return { calls, cmd };
}

async function main() {
  const { calls, cmd } = parseArgs(process.argv.slice(2));
  const transport = new StdioClientTransport({ command: cmd[0], args: cmd.slice(1), env: process.env, stderr: 'inherit' });
  const client = new Client({ name: 'mcpwarden-e2e-stdio', version: '0.1.0' });
  await client.connect(transport);
  const { tools } = await client.listTools();
  const results = [];
  for (const c of calls) {
    try {
      const res = await client.callTool({ name: c.tool, arguments: c.args });
      const text = (res.content || []).filter((x) => x.type === 'text').map((x) => x.text).join('');
      results.push({ tool: c.tool, ok: !res.isError, isError: !!res.isError, text, error: null });
    } catch (err) {
      results.push({ tool: c.tool, ok: false, isError: null, text: null, error: errorText(err) });
    }
  }
  const server = client.getServerVersion() || {};
  try { await client.close(); } catch { /* not fatal */ }
  finish({ ok: true, tools: tools.map((t) => t.name), server: { name: server.name, version: server.version }, calls: results }, 0);
}

main().catch(fail);
