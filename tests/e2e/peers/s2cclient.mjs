#!/usr/bin/env node
// A real MCP client (SDK) that answers server-to-client requests, for the end-to-end tests.
// usage: node s2cclient.mjs URL [--token T] [--wait MS]
// It declares the sampling, elicitation and roots capabilities (counting every call of
// their handlers), then against server-everything: calls trigger-sampling-request (its
// result, or its error after --wait ms, default 3000: the client gives up and cancels),
// get-roots-list, and finally echo (does the session still work?). One JSON line:
//   {"ok":true,"sampling_calls":n,"roots_calls":n,"elicit_calls":n,
//    "sampling":{"ok":bool,"text"|"error":..},"roots":{...},"echo":{...}}
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { errorText, resultLine } from './oneline.mjs';

const USAGE = 'usage: node s2cclient.mjs URL [--token T] [--wait MS]';
const counts = { sampling_calls: 0, roots_calls: 0, elicit_calls: 0 };
const { finish, fail } = resultLine(30_000, (error) => ({ ok: false, error, ...counts }));

function parseArgs(argv) {
  const o = { url: null, token: null, wait: 3000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--token') o.token = argv[++i];
    else if (a === '--wait') o.wait = Number(argv[++i]);
    else if (a.startsWith('--') || o.url) throw new Error(`unexpected argument ${a}; ${USAGE}`);
    else o.url = a;
  }
  if (!o.url || !(o.wait > 0)) throw new Error(USAGE);
  return o;
}

// A tool call's outcome: its text, or the error (a timeout when the server never answers).
async function call(client, name, args, timeout) {
  try {
    const res = await client.callTool({ name, arguments: args }, undefined, { timeout });
    const text = (res.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('');
    return res.isError ? { ok: false, error: text.slice(0, 300) } : { ok: true, text: text.slice(0, 2000) };
  } catch (e) {
    return { ok: false, error: errorText(e).slice(0, 300) };
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const requestInit = opts.token ? { headers: { Authorization: `Bearer ${opts.token}` } } : undefined;
  const transport = new StreamableHTTPClientTransport(new URL(opts.url), { requestInit });
  const client = new Client(
    { name: 'mcpwarden-e2e-s2c', version: '0.1.0' },
    { capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } } },
  );
  client.setRequestHandler(CreateMessageRequestSchema, async () => {
    counts.sampling_calls++;
    return { model: 'e2e-model', role: 'assistant', content: { type: 'text', text: 'sampled-by-e2e' } };
  });
  client.setRequestHandler(ElicitRequestSchema, async () => {
    counts.elicit_calls++;
    return { action: 'decline' };
  });
  client.setRequestHandler(ListRootsRequestSchema, async () => {
    counts.roots_calls++;
    return { roots: [{ uri: 'file:///e2e-root', name: 'e2e' }] };
  });
  await client.connect(transport);
  const sampling = await call(client, 'trigger-sampling-request', { prompt: 'hi', maxTokens: 5 }, opts.wait);
  const roots = await call(client, 'get-roots-list', {}, opts.wait);
  const echo = await call(client, 'echo', { message: 'still-here' }, 10_000);
  await client.close();
  finish({ ok: true, ...counts, sampling, roots, echo }, 0);
}

main().catch(fail);
