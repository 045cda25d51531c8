// A small HTTPS JSON-RPC upstream for tests: answers POST /mcp with the request's id and
// method only when Authorization is "Bearer $UPSTREAM_TOKEN", else 401.
// Logs each TLS connection ("tls connection N resumed=BOOL", "tls connection N closed"); KEEPALIVE_MS closes an idle
// keep-alive connection after that long (Node's default: 5 s).
// usage: node https-server.mjs PORT CERT KEY
import https from 'node:https';
import fs from 'node:fs';

const [port, cert, key] = process.argv.slice(2);
const token = process.env.UPSTREAM_TOKEN || '';
let conns = 0;
const server = https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (req, res) => {
	let body = '';
	req.on('data', (c) => (body += c));
	req.on('end', () => {
		if (req.headers.authorization !== `Bearer ${token}`) {
			res.writeHead(401, { 'content-type': 'text/plain' });
			return res.end('no or wrong token\n');
		}
		let m = {};
		try { m = JSON.parse(body); } catch { /* answered below */ }
		const out = JSON.stringify({ jsonrpc: '2.0', id: m.id ?? null,
			result: { content: [{ type: 'text', text: `upstream got ${m.method} ${m.params?.name ?? ''}` }] } });
		res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
		res.end(out);
	});
});
server.on('secureConnection', (s) => {
	const n = ++conns;
	console.log(`tls connection ${n} resumed=${s.isSessionReused()}`);
	s.on('close', () => console.log(`tls connection ${n} closed`));
});
if (process.env.KEEPALIVE_MS) server.keepAliveTimeout = Number(process.env.KEEPALIVE_MS);
server.listen(Number(port), '127.0.0.1', () => console.log('ready'));
