// A small HTTPS JSON-RPC upstream for tests: answers POST /mcp with the request's id and
// method only when Authorization is "Bearer $UPSTREAM_TOKEN", else 401.
// usage: node https-server.mjs PORT CERT KEY
import https from 'node:https';
import fs from 'node:fs';

const [port, cert, key] = process.argv.slice(2);
const token = process.env.UPSTREAM_TOKEN || '';
https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (req, res) => {
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
}).listen(Number(port), '127.0.0.1', () => console.log('ready'));
