// idp.mjs: a real OpenID Provider (npm oidc-provider 9) for the identity tests.
//
//   node tests/e2e/peers/idp.mjs PORT      (env IDP_TTL: access token lifetime, seconds, default 300)
//
// Issuer http://127.0.0.1:PORT, listening on 127.0.0.1 only; discovery at
// /.well-known/openid-configuration, keys at /jwks (an RS256 and an ES256 key, generated at
// start, so every run has fresh keys). Four client_credentials clients, one per identity:
//   alice (groups [finance]), bob (groups [eng]), carol (groups [dba]),
//   gw-bot (groups [gateways]: a gateway's own identity),
// each with client_secret "<id>-secret" (client_secret_basic or _post). Access tokens are
// JWTs (typ at+jwt) whose sub and client_id are the client's id, with custom claims groups
// and email (<id>@example.com). The resource indicator picks the audience and the algorithm:
//   resource=urn:mcp:gateway        aud urn:mcp:gateway, RS256 (also the default resource)
//   resource=urn:mcp:gateway:es256  aud urn:mcp:gateway, ES256
//   resource=urn:other:api          aud urn:other:api,   RS256
//   resource=urn:mcp:upstream       aud urn:mcp:upstream, RS256 (an upstream's own API)
// A fifth client, mcpwarden-agent (the agent's own, for the upstreams it injects tokens
// into), authenticates with client_secret_post and the secret in the file named by env
// IDP_AGENT_SECRET_FILE (default "mcpwarden-agent-secret"); its tokens have no groups. A
// sixth, mcpwarden-agent-basic, is the same with client_secret_basic.
// Prints "ready" on stdout once listening, then one line per request ("GET /jwks 200"), and
// one line per client_credentials token issued ("issued CLIENT jti=JTI exp=EXP", never the
// token).
//
// Key rotation, by signal (the provider is rebuilt with the new key set; clients, issuer and
// port stay; tokens issued before stay valid wherever their key is still published):
//   SIGUSR1  a new RSA key rsa-N signs RS256 tokens from now on; the old keys stay published
//   SIGUSR2  the same, but every older RSA key is dropped from the JWKS
// After each it prints "rotated signing=rsa-N published=rsa-N,rsa-1,ec-1" (kids in JWKS order).
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] || process.env.IDP_PORT || 0);
const ttl = Number(process.env.IDP_TTL || 300);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
	console.error('usage: idp.mjs PORT');
	process.exit(2);
}
if (!Number.isInteger(ttl) || ttl <= 0) {
	console.error('IDP_TTL must be a positive integer (seconds)');
	process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const agentSecret = process.env.IDP_AGENT_SECRET_FILE
	? readFileSync(process.env.IDP_AGENT_SECRET_FILE, 'utf8').replace(/\r?\n$/, '')
	: 'mcpwarden-agent-secret';

function jwk(type, opts, kid, alg) {
	const { privateKey } = generateKeyPairSync(type, opts);
	return { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}
const rsaKey = (n) => jwk('rsa', { modulusLength: 2048 }, `rsa-${n}`, 'RS256');
let rsaSerial = 1;
let keys = [rsaKey(1), jwk('ec', { namedCurve: 'P-256' }, 'ec-1', 'ES256')];
// The kid that signs each algorithm's tokens: the newest key of that algorithm.
const signingKid = (alg) => keys.find((k) => k.alg === alg).kid;

const identities = {
	alice: { groups: ['finance'], email: 'alice@example.com' },
	bob: { groups: ['eng'], email: 'bob@example.com' },
	carol: { groups: ['dba'], email: 'carol@example.com' },
	'gw-bot': { groups: ['gateways'], email: 'gw-bot@example.com' },
};

const resources = {
	'urn:mcp:gateway': { audience: 'urn:mcp:gateway', alg: 'RS256' },
	'urn:mcp:gateway:es256': { audience: 'urn:mcp:gateway', alg: 'ES256' },
	'urn:other:api': { audience: 'urn:other:api', alg: 'RS256' },
	'urn:mcp:upstream': { audience: 'urn:mcp:upstream', alg: 'RS256' },
};

const makeProvider = () => new Provider(issuer, {
	clients: Object.keys(identities).map((id) => ({
		client_id: id,
		client_secret: `${id}-secret`,
		grant_types: ['client_credentials'],
		redirect_uris: [],
		response_types: [],
		token_endpoint_auth_method: 'client_secret_basic',
	})).concat([['mcpwarden-agent', 'client_secret_post'],
		['mcpwarden-agent-basic', 'client_secret_basic']].map(([id, method]) => ({
		client_id: id,
		client_secret: agentSecret,
		grant_types: ['client_credentials'],
		redirect_uris: [],
		response_types: [],
		token_endpoint_auth_method: method,
	}))),
	jwks: { keys },
	features: {
		devInteractions: { enabled: false },
		clientCredentials: { enabled: true },
		resourceIndicators: {
			enabled: true,
			defaultResource: () => 'urn:mcp:gateway',
			useGrantedResource: () => true,
			getResourceServerInfo: (ctx, resource) => {
				const r = resources[resource];
				if (!r) throw new Provider.errors.InvalidTarget();
				return {
					scope: 'mcp',
					audience: r.audience,
					accessTokenTTL: ttl,
					accessTokenFormat: 'jwt',
					jwt: { sign: { alg: r.alg, kid: signingKid(r.alg) } },
				};
			},
		},
	},
	extraTokenClaims: async (ctx, token) => {
		const who = identities[token.clientId];
		return who ? { groups: who.groups, email: who.email } : undefined;
	},
	ttl: { ClientCredentials: ttl },
});

// The current provider's request handler; a rotation replaces it.
let handler;
function install() {
	const provider = makeProvider();
	// One line per request on stdout ("GET /jwks 200"), so tests can see what was fetched.
	provider.use(async (ctx, next) => {
		await next();
		console.log(`${ctx.method} ${ctx.path} ${ctx.status}`);
	});
	provider.on('client_credentials.issued', (t) => console.log(`issued ${t.clientId} jti=${t.jti} exp=${t.exp ?? Math.floor(Date.now() / 1000) + t.expiration}`));
	handler = provider.callback();
}
install();

function rotate(keepOld) {
	const fresh = rsaKey(++rsaSerial);
	keys = [fresh, ...keys.filter((k) => k.alg !== 'RS256' || keepOld)];
	install();
	console.log(`rotated signing=${fresh.kid} published=${keys.map((k) => k.kid).join(',')}`);
}
process.on('SIGUSR1', () => rotate(true));
process.on('SIGUSR2', () => rotate(false));

const server = createServer((req, res) => handler(req, res));
server.listen(port, '127.0.0.1', () => {
	console.log('ready');
});
server.on('error', (e) => {
	console.error(`idp: ${e.message}`);
	process.exit(1);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
