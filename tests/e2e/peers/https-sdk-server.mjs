// https-sdk-server.mjs: an MCP server (the official SDK: McpServer + streamable HTTP,
// stateless) served over HTTPS and plain HTTP at /mcp, that answers only requests carrying
// "Authorization: Bearer <the token in TOKEN_FILE>" (anything else: 401), or with --jwt a
// JWT access token of the OpenID Provider ISSUER (keys from its discovery's jwks_uri; typ
// at+jwt, issuer, audience AUDIENCE, expiry and signature checked by jose).
//   node https-sdk-server.mjs (TOKEN_FILE | --jwt ISSUER AUDIENCE) [--https PORT:CERT:KEY]... [--http PORT]...
// Listens on 127.0.0.1 on every port given (one certificate per HTTPS port); prints "ready"
// once all listen, then one line per request: "PORT 401" for a refused one ("PORT 401 CODE"
// with --jwt, CODE jose's reason, e.g. ERR_JWT_EXPIRED), "PORT METHOD [TOOL]" for an
// answered one (never a header or the token). With --jwt each accepted token is also one line
// before it: "PORT token jti=JTI iat=IAT exp=EXP sub=SUB client_id=CLIENT now=SECONDS"
// (claims only, never the token).
// Tools: echo {message} ("Echo: MESSAGE"), delete_records {table} (a tool a policy denies),
// customer_record {id} (JSON text with a test card number, an email and a GitHub token),
// run_migration {name} ("Migration NAME applied": a risky tool for a policy to send to review).
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

const USAGE = 'usage: node https-sdk-server.mjs (TOKEN_FILE | --jwt ISSUER AUDIENCE) [--https PORT:CERT:KEY]... [--http PORT]...';
const MAX_BODY = 1 << 20;
// Luhn-valid test card, a documentation email, a token in GitHub's format (not a real one)
const CUSTOMER = {
	id: 7, name: 'Ann Lee', city: 'Lyon', email: 'ann.lee@example.com', card: '4111 1111 1111 1111',
	note: 'deploy key ghp_Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf0EdCbA1234',
};

const argv = process.argv.slice(2);
if (!argv.length) { console.error(USAGE); process.exit(2); }
let tokenFile = null;
let jwt = null;
let first = 1;
if (argv[0] === '--jwt') {
	if (!argv[1] || !argv[2]) { console.error(USAGE); process.exit(2); }
	jwt = { issuer: argv[1], audience: argv[2], keys: null };
	first = 3;
} else {
	tokenFile = argv[0];
}
const listeners = [];
for (let i = first; i < argv.length; i++) {
	if (argv[i] === '--https' && argv[i + 1]) {
		const [port, cert, key] = argv[++i].split(':');
		listeners.push({ port: Number(port), tls: { cert: fs.readFileSync(cert), key: fs.readFileSync(key) } });
	} else if (argv[i] === '--http' && argv[i + 1]) {
		listeners.push({ port: Number(argv[++i]), tls: null });
	} else { console.error(USAGE); process.exit(2); }
}
const expected = tokenFile ? `Bearer ${fs.readFileSync(tokenFile, 'utf8').replace(/\n$/, '')}` : null;

// With --jwt: the key set, from the issuer's discovery document on first use.
async function jwtKeys() {
	if (!jwt.keys) {
		const { createRemoteJWKSet } = await import('jose');
		const r = await fetch(`${jwt.issuer}/.well-known/openid-configuration`);
		if (!r.ok) throw new Error(`discovery: HTTP ${r.status}`);
		jwt.keys = createRemoteJWKSet(new URL((await r.json()).jwks_uri));
	}
	return jwt.keys;
}

// Whether the request's bearer is acceptable; logs a refusal itself.
async function authorized(port, header) {
	if (!jwt) {
		if (header === expected) return true;
		console.log(`${port} 401`);
		return false;
	}
	const m = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(header || '');
	if (!m) { console.log(`${port} 401 no_bearer`); return false; }
	try {
		const { jwtVerify } = await import('jose');
		const { payload } = await jwtVerify(m[1], await jwtKeys(),
			{ issuer: jwt.issuer, audience: jwt.audience, typ: 'at+jwt', requiredClaims: ['exp', 'jti'] });
		console.log(`${port} token jti=${payload.jti} iat=${payload.iat} exp=${payload.exp} sub=${payload.sub} ` +
			`client_id=${payload.client_id} now=${(Date.now() / 1000).toFixed(3)}`);
		return true;
	} catch (err) {
		console.log(`${port} 401 ${err.code || 'ERR_UNKNOWN'}`);
		return false;
	}
}

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
			if (!(await authorized(port, req.headers.authorization))) {
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
