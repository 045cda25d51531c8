// https-sdk-server.mjs: an MCP server (the official SDK: McpServer + streamable HTTP,
// stateless) served over HTTPS and plain HTTP at /mcp, that answers only requests carrying
// "Authorization: Bearer <the token in TOKEN_FILE>" (anything else: 401).
//   node https-sdk-server.mjs TOKEN_FILE [--https PORT:CERT:KEY]... [--http PORT]...
// Listens on 127.0.0.1 on every port given (one certificate per HTTPS port); prints "ready"
// once all listen, then one line per request: "PORT 401" for a refused one, "PORT METHOD
// [TOOL]" for an answered one (never a header or the token).
// Tools: echo {message} ("Echo: MESSAGE"), delete_records {table} (a tool a policy denies),
// customer_record {id} (JSON text with a test card number, an email and a GitHub token),
// run_migration {name} ("Migration NAME applied": a risky tool for a policy to send to review).
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

const USAGE = 'usage: node https-sdk-server.mjs TOKEN_FILE [--https PORT:CERT:KEY]... [--http PORT]...';
const MAX_BODY = 1 << 20;
// Luhn-valid test card, a documentation email, a token in GitHub's format (not a real one)
const CUSTOMER = {
	id: 7, name: 'Ann Lee', city: 'Lyon', email: 'ann.lee@example.com', card: '4111 1111 1111 1111',
	note: 'deploy key ghp_Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf0EdCbA1234',
};

const argv = process.argv.slice(2);
if (!argv.length) { console.error(USAGE); process.exit(2); }
const tokenFile = argv[0];
const listeners = [];
for (let i = 1; i < argv.length; i++) {
	if (argv[i] === '--https' && argv[i + 1]) {
		const [port, cert, key] = argv[++i].split(':');
		listeners.push({ port: Number(port), tls: { cert: fs.readFileSync(cert), key: fs.readFileSync(key) } });
	} else if (argv[i] === '--http' && argv[i + 1]) {
		listeners.push({ port: Number(argv[++i]), tls: null });
	} else { console.error(USAGE); process.exit(2); }
}
const expected = `Bearer ${fs.readFileSync(tokenFile, 'utf8').replace(/\n$/, '')}`;

function makeServer() {
	const server = new McpServer({ name: 'tls-upstream', version: '1.0.0' });
	server.registerTool('echo', { description: 'Echoes the message back.', inputSchema: { message: z.string() } },
		async ({ message }) => ({ content: [{ type: 'text', text: `Echo: ${message}` }] }));
	server.registerTool('delete_records', { description: 'Deletes every record of a table.',
		inputSchema: { table: z.string() } },
	async ({ table }) => ({ content: [{ type: 'text', text: `deleted every record of ${table}` }] }));
	server.registerTool('customer_record', { description: 'One customer, by id.', inputSchema: { id: z.number() } },
		async ({ id }) => ({ content: [{ type: 'text', text: JSON.stringify({ ...CUSTOMER, id }) }] }));
	server.registerTool('run_migration', { description: 'Applies a database schema migration.',
		inputSchema: { name: z.string() } },
	async ({ name }) => ({ content: [{ type: 'text', text: `Migration ${name} applied` }] }));
	return server;
}

function handler(port) {
	return (req, res) => {
		const chunks = [];
		let size = 0;
		req.on('data', (d) => {
			size += d.length;
			if (size <= MAX_BODY) chunks.push(d);
		});
		req.on('end', async () => {
			if (req.headers.authorization !== expected) {
				console.log(`${port} 401`);
				res.writeHead(401, { 'content-type': 'text/plain' });
				return res.end('no or wrong token\n');
			}
			if (size > MAX_BODY) {
				res.writeHead(413);
				return res.end();
			}
			let parsed;
			try { parsed = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined; } catch { parsed = undefined; }
			console.log(`${port} ${req.method === 'POST' ? parsed?.method ?? '-' : req.method}${parsed?.params?.name ? ` ${parsed.params.name}` : ''}`);
			const server = makeServer();
			const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
			res.on('close', () => { transport.close(); server.close(); });
			try {
				await server.connect(transport);
				await transport.handleRequest(req, res, parsed);
			} catch (err) {
				console.error(`${port} error ${err && err.message}`);
				if (!res.headersSent) { res.writeHead(500); res.end(); }
			}
		});
	};
}

let pending = listeners.length;
for (const l of listeners) {
	const srv = l.tls ? https.createServer(l.tls, handler(l.port)) : http.createServer(handler(l.port));
	srv.listen(l.port, '127.0.0.1', () => { if (--pending === 0) console.log('ready'); });
}
