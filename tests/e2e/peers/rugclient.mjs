// rugclient.mjs: lists the tools twice, then calls echo; prints one JSON line
//   {ok, first, second, call_ok, error}  (first/second: echo's description each time, or null)
//   node rugclient.mjs URL --token T
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const [url, , token] = process.argv.slice(2);
const out = { ok: false, first: null, second: null, call_ok: false, error: null };
setTimeout(() => { out.error = 'timeout'; console.log(JSON.stringify(out)); process.exit(1); }, 20000);
try {
	const transport = new StreamableHTTPClientTransport(new URL(url),
		{ requestInit: { headers: { Authorization: `Bearer ${token}` } } });
	const client = new Client({ name: 'rug-client', version: '0.1.0' });
	await client.connect(transport);
	const desc = async () => ((await client.listTools()).tools.find((t) => t.name === 'echo') || {}).description ?? null;
	out.first = await desc();
	out.second = await desc();
	try {
		const r = await client.callTool({ name: 'echo', arguments: { message: 'hi' } });
		out.call_ok = !r.isError;
	} catch (e) { out.error = String(e.message || e); }
	out.ok = true;
} catch (e) { out.error = String(e.message || e); }
console.log(JSON.stringify(out));
process.exit(0);
