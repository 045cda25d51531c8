/* test_oidc.c: the identity provider side: "identity" config parsing (exact file:line:column
 * and key), issuer selection, the verified-token cache (hits, expiry, bound), the refresh
 * policy on an injected clock (schedule, unknown-kid rate limit, backoff, keeping the old
 * keys when a refresh fails) and the HTTP fetch rules against a scripted loopback server
 * (discovery issuer check, same-host redirects only, size bound, Cache-Control max-age). */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "oidc.h"

#define ISS_A "https://a.example"
#define ISS_B "https://b.example/realms/x"
#define AUD "urn:mcp:gateway"
#define NOW 1700000000ULL
#define SEC 1000000ULL

static EVP_PKEY *ka, *kb, *kc;
static char dir[64];
static uint64_t fake_now; /* the monotonic clock the refresh policy sees, usec */

static uint64_t fake_clock(void)
{
	return fake_now;
}

/* --- tokens and key sets ------------------------------------------------------------------ */

static char *b64url(const void *in, size_t len)
{
	char *out = malloc(len / 3 * 4 + 8);
	int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);

	while (n > 0 && out[n - 1] == '=')
		n--;
	for (int i = 0; i < n; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	out[n] = 0;
	return out;
}

static char *jwk_of(EVP_PKEY *k, const char *kid)
{
	unsigned char bx[32], by[32];
	BIGNUM *x = NULL, *y = NULL;
	char *sx, *sy, *s;

	assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &x), 1);
	assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &y), 1);
	BN_bn2binpad(x, bx, 32);
	BN_bn2binpad(y, by, 32);
	sx = b64url(bx, 32);
	sy = b64url(by, 32);
	assert_true(asprintf(&s, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"%s\",\"x\":\"%s\","
				 "\"y\":\"%s\"}",
			     kid, sx, sy) > 0);
	BN_free(x);
	BN_free(y);
	free(sx);
	free(sy);
	return s;
}

/* ES256 token with kid over a payload given as JSON text. */
static char *mint(EVP_PKEY *k, const char *kid, const char *payload)
{
	unsigned char der[128], raw[64];
	size_t n = sizeof(der);
	char hdr[128], *h, *p, *in, *s, *tok;
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	const unsigned char *q = der;
	ECDSA_SIG *es;

	snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", kid);
	h = b64url(hdr, strlen(hdr));
	p = b64url(payload, strlen(payload));
	assert_true(asprintf(&in, "%s.%s", h, p) > 0);
	assert_int_equal(EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, k), 1);
	assert_int_equal(EVP_DigestSign(m, der, &n, (unsigned char *)in, strlen(in)), 1);
	EVP_MD_CTX_free(m);
	es = d2i_ECDSA_SIG(NULL, &q, (long)n);
	BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32);
	BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32);
	ECDSA_SIG_free(es);
	s = b64url(raw, 64);
	assert_true(asprintf(&tok, "%s.%s", in, s) > 0);
	free(h);
	free(p);
	free(in);
	free(s);
	return tok;
}

static char *mint_for(EVP_PKEY *k, const char *kid, const char *iss, const char *sub,
		      uint64_t exp)
{
	char payload[512];

	snprintf(payload, sizeof(payload),
		 "{\"iss\":\"%s\",\"aud\":\"" AUD "\",\"sub\":\"%s\",\"exp\":%llu,\"iat\":%llu,"
		 "\"groups\":[\"finance\",\"eng\"],\"email\":\"%s@example.com\"}",
		 iss, sub, (unsigned long long)exp, NOW - 10, sub);
	return mint(k, kid, payload);
}

static void write_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A JWKS file with the given keys (kid = "a", "b", "c" for ka, kb, kc). */
static void write_jwks(const char *name, bool a, bool b, bool c)
{
	char *ja = jwk_of(ka, "a"), *jb = jwk_of(kb, "b"), *jc = jwk_of(kc, "c"), text[2048];

	snprintf(text, sizeof(text), "{\"keys\":[%s%s%s%s%s]}", a ? ja : "",
		 a && (b || c) ? "," : "", b ? jb : "", b && c ? "," : "", c ? jc : "");
	write_file(name, text);
	free(ja);
	free(jb);
	free(jc);
}

/* --- config ------------------------------------------------------------------------------- */

static int parse(const char *text, struct mw_oidc **ret, struct mw_diag *diag)
{
	json_error_t jerr;
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	int r;

	if (!root)
		fail_msg("test config does not parse: %s (line %d)", jerr.text, jerr.line);
	r = oidc_from_json(json_object_get(root, "identity"), "test.json", text, strlen(text), ret,
			   diag);
	json_decref(root);
	return r;
}

static struct mw_oidc *parse_ok(const char *text)
{
	struct mw_oidc *o = NULL;
	struct mw_diag d = { 0 };
	char buf[1024];

	if (parse(text, &o, &d) != 0)
		fail_msg("unexpected config error: %s", mw_diag_format(&d, buf, sizeof(buf)));
	oidc_set_clock(o, fake_clock);
	return o;
}

/* An identity with issuers A (jwks a.json) and B (jwks b.json, groups "roles"). */
static struct mw_oidc *two_issuers(void)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 "{\"identity\": {\"require_token\": true, \"oidc\": ["
		 "{\"issuer\": \"" ISS_A "\", \"audience\": \"" AUD "\", \"jwks_file\": "
		 "\"%s/a.json\", \"leeway\": \"0s\", \"typ\": \"at+jwt\"},"
		 "{\"issuer\": \"" ISS_B "\", \"audience\": \"" AUD "\", \"jwks_file\": "
		 "\"%s/b.json\", \"leeway\": \"5s\"}]}}",
		 dir, dir);
	return parse_ok(text);
}

static void test_config_good(void **state)
{
	struct mw_oidc *o;
	struct mw_oidc_status st;

	o = parse_ok("{\"identity\": {\"require_token\": true, \"oidc\": [{"
		     "\"issuer\": \"https://idp.example/\", \"audience\": \"urn:x\", "
		     "\"jwks_uri\": \"https://idp.example/jwks\", \"ca_file\": \"/etc/ca.pem\", "
		     "\"groups_claim\": \"realm_access.roles\", \"typ\": \"at+jwt\", "
		     "\"leeway\": \"60s\", \"refresh\": \"1h\"}, "
		     "{\"issuer\": \"http://127.0.0.1:9999\", \"audience\": \"urn:x\"}, "
		     "{\"issuer\": \"http://[::1]:8080/realm\", \"audience\": \"urn:x\"}, "
		     "{\"issuer\": \"http://localhost\", \"audience\": \"urn:x\", "
		     "\"jwks_file\": \"/etc/k.pem\", \"alg\": \"ES384\"}]}}");
	assert_true(oidc_require_token(o));
	assert_int_equal(oidc_n_issuers(o), 4);
	assert_int_equal(oidc_get_status(o, 1, &st), 0);
	assert_string_equal(st.issuer, "http://127.0.0.1:9999");
	assert_false(st.have_keys);
	assert_int_equal(oidc_get_status(o, 4, &st), -ERANGE);
	/* nothing fetched yet: every issuer is due at once */
	fake_now = 5 * SEC;
	assert_true(oidc_refresh_due(o, 0));
	assert_int_equal(oidc_next_due(o), 0);
	oidc_free(o);

	/* no identity section: no issuers, tokens not required, nothing due */
	o = parse_ok("{}");
	assert_false(oidc_require_token(o));
	assert_int_equal(oidc_n_issuers(o), 0);
	assert_int_equal(oidc_next_due(o), UINT64_MAX);
	oidc_free(o);
	o = parse_ok("{\"identity\": {\"require_token\": false}}");
	assert_false(oidc_require_token(o));
	oidc_free(o);
}

/* Line 7 of this text is the member under test (in identity.oidc[0]). */
#define ISSUER_WITH(member)                                                                        \
	"{\n  \"identity\": {\n    \"oidc\": [\n      {\n        \"issuer\": \"https://idp.example\","  \
	"\n        \"audience\": \"urn:mcp:gateway\",\n        " member "\n      }\n    ]\n  }\n}\n"

static const struct bad_case {
	const char *text;
	int line, column;
	const char *key, *text_has;
} bad_cases[] = {
	{ ISSUER_WITH("\"bogus\": 1"), 7, 9, "identity.oidc[0].bogus", "unknown key 'bogus'" },
	{ ISSUER_WITH("\"leeway\": \"90s\""), 7, 19, "identity.oidc[0].leeway", "out of range" },
	{ ISSUER_WITH("\"leeway\": \"soon\""), 7, 19, "identity.oidc[0].leeway", "duration" },
	{ ISSUER_WITH("\"refresh\": \"10s\""), 7, 20, "identity.oidc[0].refresh", "out of range" },
	{ ISSUER_WITH("\"jwks_file\": \"k.json\""), 7, 22, "identity.oidc[0].jwks_file",
	  "absolute path" },
	{ ISSUER_WITH("\"jwks_uri\": \"http://idp.example/jwks\""), 7, 21,
	  "identity.oidc[0].jwks_uri", "loopback" },
	{ ISSUER_WITH("\"jwks_uri\": \"ftp://idp.example/jwks\""), 7, 21,
	  "identity.oidc[0].jwks_uri", "http(s)" },
	{ ISSUER_WITH("\"groups_claim\": 7"), 7, 25, "identity.oidc[0].groups_claim",
	  "non-empty string" },
	{ ISSUER_WITH("\"typ\": \"\""), 7, 16, "identity.oidc[0].typ", "non-empty string" },
	{ ISSUER_WITH("\"alg\": \"HS256\""), 7, 16, "identity.oidc[0].alg", "JWS algorithm" },
	{ ISSUER_WITH("\"alg\": \"ES256\""), 7, 9, "identity.oidc[0].alg", "PEM" },
	{ ISSUER_WITH("\"jwks_file\": \"/k.json\", \"jwks_uri\": \"https://idp.example/k\""), 7, 9,
	  "identity.oidc[0].jwks_file", "exclude each other" },
	{ ISSUER_WITH("\"jwks_file\": \"/k.json\", \"ca_file\": \"/ca.pem\""), 7, 33,
	  "identity.oidc[0].ca_file", "'ca_file' is for fetching" },
	{ "{\n  \"identity\": {\n    \"require_token\": \"yes\"\n  }\n}", 3, 22,
	  "identity.require_token", "true or false" },
	{ "{\n  \"identity\": {\n    \"oidcs\": []\n  }\n}", 3, 5, "identity.oidcs",
	  "unknown key 'oidcs'" },
	{ "{\n  \"identity\": {\n    \"require_token\": true\n  }\n}", 3, 22,
	  "identity.require_token", "at least one issuer" },
	{ "{\n  \"identity\": {\n    \"oidc\": [\n      {\"issuer\": \"https://idp.example\"}\n"
	  "    ]\n  }\n}",
	  4, 7, "identity.oidc[0]", "missing required key 'audience'" },
	{ "{\"identity\": {\"oidc\": [{\"audience\": \"a\"}]}}", 1, 24, "identity.oidc[0]",
	  "missing required key 'issuer'" },
	{ "{\"identity\": {\"oidc\": [{\"issuer\": \"http://idp.example\", \"audience\": \"a\"}]}}",
	  1, 35, "identity.oidc[0].issuer", "plain http is allowed only" },
	{ "{\"identity\": {\"oidc\": [{\"issuer\": \"https://idp.example/#x\", \"audience\": "
	  "\"a\"}]}}",
	  1, 35, "identity.oidc[0].issuer", "no query or fragment" },
	{ "{\"identity\": {\"oidc\": [{\"issuer\": \"https://i.example\", \"audience\": \"a\"},\n"
	  "  {\"issuer\": \"https://i.example\", \"audience\": \"b\"}]}}",
	  2, 14, "identity.oidc[1].issuer", "already configured at oidc[0]" },
	{ "{\"identity\": {\"oidc\": {}}}", 1, 23, "identity.oidc", "array" },
	{ "{\"identity\": {\"oidc\": [7]}}", 1, 24, "identity.oidc[0]", "expected an object" },
	{ "{\"identity\": 5}", 1, 14, "identity", "expected an object" },
	{ "{\"identity\": {\"oidc\": [{\"issuer\": \"https://i.example\", \"audience\": \"a\", "
	  "\"x~/y\": 1}]}}",
	  1, 73, "identity.oidc[0].x~/y", "unknown key" },
};

static void test_config_bad(void **state)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct mw_oidc *o = NULL;
		struct mw_diag d = { 0 };
		char buf[1024];

		assert_int_equal(parse(c->text, &o, &d), -EINVAL);
		assert_null(o);
		print_message("case %zu: %s\n", i, mw_diag_format(&d, buf, sizeof(buf)));
		assert_string_equal(d.file, "test.json");
		assert_string_equal(d.key, c->key);
		assert_int_equal(d.line, c->line);
		assert_int_equal(d.column, c->column);
		if (!strstr(d.text, c->text_has))
			fail_msg("case %zu: '%s' lacks '%s'", i, d.text, c->text_has);
	}
}

/* --- verification, issuer selection, cache ------------------------------------------------ */

static int verify(struct mw_oidc *o, const char *tok, uint64_t now, struct mw_jwt_claims **ret)
{
	struct mw_jwt_claims *c = NULL;
	char err[256] = "";
	int r = oidc_verify(o, tok, strlen(tok), now, &c, err, sizeof(err));

	/* the error line never carries the token (its signature part) */
	if (strlen(strrchr(tok, '.') + 1) >= 16)
		assert_null(strstr(err, strrchr(tok, '.') + 1));
	if (r == 0)
		assert_non_null(c);
	else
		assert_null(c);
	if (ret)
		*ret = c;
	else
		jwt_claims_free(c);
	return r;
}

static void refresh_all_ok(struct mw_oidc *o)
{
	char err[256];

	for (size_t i = 0; i < oidc_n_issuers(o); i++)
		if (oidc_refresh(o, i, err, sizeof(err)) != 0)
			fail_msg("refresh %zu: %s", i, err);
}

static void test_issuer_selection(void **state)
{
	struct mw_oidc *o;
	struct mw_jwt_claims *c;
	char *t;

	write_jwks("a.json", true, false, false);
	write_jwks("b.json", false, true, false);
	o = two_issuers();
	fake_now = 1 * SEC;
	assert_int_equal(verify(o, (t = mint_for(ka, "a", ISS_A, "alice", NOW + 60)), NOW, NULL),
			 -ENOKEY); /* no keys yet */
	free(t);
	refresh_all_ok(o);

	t = mint_for(kb, "b", ISS_B, "bob", NOW + 60);
	assert_int_equal(verify(o, t, NOW, &c), 0);
	assert_string_equal(c->iss, ISS_B);
	assert_string_equal(c->sub, "bob");
	assert_string_equal(c->email, "bob@example.com");
	assert_int_equal(c->n_groups, 2);
	assert_string_equal(c->groups[1], "eng");
	jwt_claims_free(c);
	free(t);

	t = mint_for(ka, "a", ISS_A, "alice", NOW + 60);
	assert_int_equal(verify(o, t, NOW, &c), 0);
	assert_string_equal(c->iss, ISS_A);
	assert_string_equal(c->alg, "ES256");
	jwt_claims_free(c);
	free(t);

	/* B's key claiming to be A: A's key set has no kid "b" */
	assert_int_equal(verify(o, (t = mint_for(kb, "b", ISS_A, "mallory", NOW + 60)), NOW, NULL),
			 -ENOKEY);
	free(t);
	/* A's kid, signed by B's key, for A: bad signature */
	assert_int_equal(verify(o, (t = mint_for(kb, "a", ISS_A, "mallory", NOW + 60)), NOW, NULL),
			 -EKEYREJECTED);
	free(t);
	/* unknown issuer, no issuer, garbage */
	assert_int_equal(verify(o, (t = mint_for(ka, "a", "https://c.example", "x", NOW + 60)), NOW,
				NULL),
			 -EACCES);
	free(t);
	t = mint(ka, "a", "{\"aud\":\"" AUD "\",\"exp\":1800000000}");
	assert_int_equal(verify(o, t, NOW, NULL), -EBADMSG);
	free(t);
	assert_int_equal(verify(o, "a.b.c", NOW, NULL), -EBADMSG);
	/* an iss longer than any configurable issuer, and one that is A's up to a NUL */
	{
		char *payload = NULL, *big = malloc(MW_OIDC_MAX_URL + 2);

		assert_non_null(big);
		memset(big, 'x', MW_OIDC_MAX_URL + 1);
		big[MW_OIDC_MAX_URL + 1] = '\0';
		assert_true(asprintf(&payload, "{\"iss\":\"https://%s\",\"aud\":\"" AUD
					       "\",\"exp\":1800000000}", big) > 0);
		assert_int_equal(verify(o, (t = mint(ka, "a", payload)), NOW, NULL), -EACCES);
		free(t);
		free(payload);
		free(big);
		t = mint(ka, "a", "{\"iss\":\"" ISS_A "\\u0000x\",\"aud\":\"" AUD
				  "\",\"exp\":1800000000}");
		assert_int_equal(verify(o, t, NOW, NULL), -EBADMSG);
		free(t);
	}
	/* A expects typ at+jwt: B's tokens need not, A's must */
	t = mint(ka, "a", "{\"iss\":\"" ISS_A "\",\"aud\":\"" AUD "\",\"exp\":1800000000}");
	assert_int_equal(verify(o, t, NOW, NULL), 0);
	free(t);
	oidc_free(o);
}

static void test_cache(void **state)
{
	struct mw_oidc_cache_stats s;
	struct mw_jwt_claims *c;
	struct mw_oidc *o;
	char *t, *t2;

	write_jwks("a.json", true, false, false);
	write_jwks("b.json", false, true, false);
	o = two_issuers();
	fake_now = 1 * SEC;
	refresh_all_ok(o);

	t = mint_for(ka, "a", ISS_A, "alice", NOW + 60);
	assert_int_equal(verify(o, t, NOW, NULL), 0);
	oidc_cache_stats(o, &s);
	assert_int_equal(s.entries, 1);
	assert_int_equal(s.hits, 0);
	/* a hit: the same claims, a copy of their own */
	assert_int_equal(verify(o, t, NOW + 30, &c), 0);
	oidc_cache_stats(o, &s);
	assert_int_equal(s.hits, 1);
	assert_string_equal(c->sub, "alice");
	assert_int_equal(c->n_groups, 2);
	assert_string_equal(c->groups[0], "finance");
	assert_string_equal(json_string_value(json_object_get(c->payload, "email")),
			    "alice@example.com");
	jwt_claims_free(c);
	/* a different token (one byte changed) is not a hit */
	t2 = strdup(t);
	t2[strlen(t2) - 1] = t2[strlen(t2) - 1] == 'A' ? 'B' : 'A';
	assert_int_not_equal(verify(o, t2, NOW, NULL), 0);
	free(t2);
	oidc_cache_stats(o, &s);
	assert_int_equal(s.hits, 1);

	/* expiry: at exp the entry is gone and verification refuses (leeway 0 for A) */
	assert_int_equal(verify(o, t, NOW + 60, NULL), -EKEYEXPIRED);
	oidc_cache_stats(o, &s);
	assert_int_equal(s.entries, 0);
	assert_int_equal(s.hits, 1);
	free(t);

	/* a changed key set drops the issuer's entries: kid "a" gone, the token is refused */
	t = mint_for(ka, "a", ISS_A, "alice", NOW + 60);
	assert_int_equal(verify(o, t, NOW, NULL), 0);
	write_jwks("a.json", false, false, true);
	fake_now = 700 * SEC;
	assert_true(oidc_refresh_due(o, 0));
	refresh_all_ok(o);
	assert_int_equal(verify(o, t, NOW + 1, NULL), -ENOKEY);
	free(t);
	oidc_free(o);
}

static void test_cache_bound(void **state)
{
	struct mw_oidc_cache_stats s;
	struct mw_oidc *o;
	char sub[32], *t, *last = NULL;
	const unsigned n = MW_OIDC_TOKEN_CACHE_MAX + 500;

	write_jwks("a.json", true, false, false);
	write_jwks("b.json", false, true, false);
	o = two_issuers();
	fake_now = 1 * SEC;
	refresh_all_ok(o);
	for (unsigned i = 0; i < n; i++) {
		snprintf(sub, sizeof(sub), "user%u", i);
		t = mint_for(kb, "b", ISS_B, sub, NOW + 100 + i);
		assert_int_equal(verify(o, t, NOW, NULL), 0);
		free(last);
		last = t;
	}
	oidc_cache_stats(o, &s);
	print_message("%u tokens: %zu entries, %llu evictions\n", n, s.entries,
		      (unsigned long long)s.evictions);
	assert_true(s.entries <= MW_OIDC_TOKEN_CACHE_MAX);
	assert_true(s.entries >= MW_OIDC_TOKEN_CACHE_MAX / 2);
	assert_int_equal(s.entries + s.evictions, n);
	/* the newest is still there */
	assert_int_equal(verify(o, last, NOW, NULL), 0);
	oidc_cache_stats(o, &s);
	assert_int_equal(s.hits, 1);
	free(last);
	oidc_free(o);
}

/* --- refresh policy ----------------------------------------------------------------------- */

static void test_unknown_kid_rate_limit(void **state)
{
	struct mw_oidc *o;
	char err[256], *t;

	write_jwks("a.json", true, false, false);
	write_jwks("b.json", false, true, false);
	o = two_issuers();
	fake_now = 1000 * SEC;
	refresh_all_ok(o);
	assert_false(oidc_refresh_due(o, 0));
	assert_int_equal(oidc_next_due(o), (1000 + MW_OIDC_REFRESH_DEFAULT_SEC) * SEC);

	/* A rotates in key c; a token with kid c is unknown until A is refetched */
	write_jwks("a.json", true, false, true);
	t = mint_for(kc, "c", ISS_A, "carol", NOW + 60);
	fake_now = 1010 * SEC;
	assert_int_equal(verify(o, t, NOW, NULL), -ENOKEY);
	/* rate limited: 30 s after the last attempt (at 1000 s) */
	assert_false(oidc_refresh_due(o, 0));
	assert_false(oidc_refresh_due(o, 1)); /* B is not affected */
	assert_int_equal(oidc_next_due(o), (1000 + MW_OIDC_KID_REFRESH_MIN_SEC) * SEC);
	fake_now = (1000 + MW_OIDC_KID_REFRESH_MIN_SEC) * SEC - 1;
	assert_false(oidc_refresh_due(o, 0));
	fake_now = (1000 + MW_OIDC_KID_REFRESH_MIN_SEC) * SEC;
	assert_true(oidc_refresh_due(o, 0));
	assert_int_equal(oidc_refresh(o, 0, err, sizeof(err)), 0);
	assert_int_equal(verify(o, t, NOW, NULL), 0);
	free(t);

	/* another unknown kid right after: wait another 30 s */
	t = mint_for(kb, "nope", ISS_A, "x", NOW + 60);
	fake_now += 1 * SEC;
	assert_int_equal(verify(o, t, NOW, NULL), -ENOKEY);
	assert_false(oidc_refresh_due(o, 0));
	fake_now += (MW_OIDC_KID_REFRESH_MIN_SEC - 1) * SEC;
	assert_true(oidc_refresh_due(o, 0));
	assert_int_equal(oidc_refresh(o, 0, err, sizeof(err)), 0);
	/* still unknown after the refresh: no new early refresh until the next miss + 30 s */
	assert_false(oidc_refresh_due(o, 0));
	free(t);

	/* the schedule: due refresh_sec after the last success, without any miss */
	fake_now += (MW_OIDC_REFRESH_DEFAULT_SEC - 1) * SEC;
	assert_false(oidc_refresh_due(o, 0));
	fake_now += 1 * SEC;
	assert_true(oidc_refresh_due(o, 0));
	oidc_free(o);
}

static void test_keep_old_keys_on_failure(void **state)
{
	struct mw_oidc_status st;
	struct mw_oidc *o;
	char err[512], *t;

	write_jwks("a.json", true, false, false);
	write_jwks("b.json", false, true, false);
	o = two_issuers();
	fake_now = 100 * SEC;
	refresh_all_ok(o);

	write_file("a.json", "{\"keys\": [ garbage");
	fake_now = 800 * SEC;
	assert_true(oidc_refresh_due(o, 0));
	assert_int_equal(oidc_refresh(o, 0, err, sizeof(err)), -EBADMSG);
	print_message("refresh error: %s\n", err);
	assert_non_null(strstr(err, "keeping the previous keys"));
	assert_non_null(strstr(err, ISS_A));
	assert_int_equal(oidc_get_status(o, 0, &st), 0);
	assert_true(st.have_keys);
	assert_int_equal(st.info.n_keys, 1);
	assert_int_equal(st.failures, 1);
	assert_true(st.last_error[0] != '\0');
	assert_int_equal(st.fetched_usec, 100 * SEC);
	/* the old key still verifies (a fresh token: no cache involved) */
	t = mint_for(ka, "a", ISS_A, "alice", NOW + 60);
	assert_int_equal(verify(o, t, NOW, NULL), 0);
	free(t);
	/* backoff: 30 s, then 60 s, ... */
	assert_int_equal(st.next_due_usec, (800 + MW_OIDC_RETRY_MIN_SEC) * SEC);
	fake_now = st.next_due_usec;
	assert_true(oidc_refresh_due(o, 0));
	write_file("a.json", ""); /* empty: also refused */
	assert_true(oidc_refresh(o, 0, err, sizeof(err)) < 0);
	oidc_get_status(o, 0, &st);
	assert_int_equal(st.failures, 2);
	assert_int_equal(st.next_due_usec, fake_now + 2 * MW_OIDC_RETRY_MIN_SEC * SEC);
	/* a missing file too; then recovery resets the count */
	write_jwks("a.json", true, false, false);
	assert_int_equal(oidc_refresh(o, 0, err, sizeof(err)), 0);
	oidc_get_status(o, 0, &st);
	assert_int_equal(st.failures, 0);
	assert_string_equal(st.last_error, "");
	oidc_free(o);

	/* an issuer that never had keys: the error says nothing about keeping keys */
	write_file("a.json", "not json");
	o = two_issuers();
	assert_true(oidc_refresh(o, 0, err, sizeof(err)) < 0);
	assert_null(strstr(err, "keeping"));
	oidc_free(o);
}

static void test_pem_file(void **state)
{
	struct mw_oidc *o;
	char text[512], *t;
	FILE *f;

	snprintf(text, sizeof(text), "%s/k.pem", dir);
	f = fopen(text, "we");
	assert_non_null(f);
	assert_int_equal(PEM_write_PUBKEY(f, ka), 1);
	fclose(f);
	snprintf(text, sizeof(text),
		 "{\"identity\": {\"oidc\": [{\"issuer\": \"" ISS_A "\", \"audience\": \"" AUD
		 "\", \"jwks_file\": \"%s/k.pem\"}]}}",
		 dir);
	o = parse_ok(text);
	refresh_all_ok(o);
	t = mint_for(ka, "whatever", ISS_A, "alice", NOW + 60);
	assert_int_equal(verify(o, t, NOW, NULL), 0);
	free(t);
	t = mint_for(kb, "whatever", ISS_A, "alice", NOW + 60);
	assert_int_equal(verify(o, t, NOW, NULL), -ENOKEY);
	free(t);
	oidc_free(o);
}

static void test_max_age(void **state)
{
	assert_int_equal(oidc_parse_max_age("max-age=300"), 300);
	assert_int_equal(oidc_parse_max_age("public, max-age=86400, must-revalidate"), 86400);
	assert_int_equal(oidc_parse_max_age("MAX-AGE=5"), 5);
	assert_int_equal(oidc_parse_max_age("no-cache, max-age=300"), 0);
	assert_int_equal(oidc_parse_max_age("no-store"), 0);
	assert_int_equal(oidc_parse_max_age("max-age=abc"), 0);
	assert_int_equal(oidc_parse_max_age("max-age=12x"), 0);
	assert_int_equal(oidc_parse_max_age("max-age="), 0);
	assert_int_equal(oidc_parse_max_age("max-age=99999999999999999999"), UINT32_MAX);
	assert_int_equal(oidc_parse_max_age(""), 0);
}

/* --- threads: verifiers run while the worker swaps key sets ------------------------------ */

struct verifier {
	struct mw_oidc *o;
	char *tokens[4];
	unsigned ok;
};

static void *verify_loop(void *arg)
{
	struct verifier *v = arg;

	for (unsigned i = 0; i < 2000; i++) {
		struct mw_jwt_claims *c = NULL;

		if (oidc_verify(v->o, v->tokens[i % 4], strlen(v->tokens[i % 4]), NOW + i % 3, &c,
				NULL, 0) == 0)
			v->ok++;
		jwt_claims_free(c);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct verifier v[4] = { 0 };
	pthread_t th[4];
	struct mw_oidc *o;
	char sub[16];

	write_jwks("a.json", true, false, false);
	write_jwks("b.json", false, true, false);
	o = two_issuers();
	refresh_all_ok(o);
	for (int t = 0; t < 4; t++) {
		v[t].o = o;
		for (int k = 0; k < 4; k++) {
			snprintf(sub, sizeof(sub), "u%d", k);
			v[t].tokens[k] = mint_for(k % 2 ? kb : ka, k % 2 ? "b" : "a",
						  k % 2 ? ISS_B : ISS_A, sub, NOW + 60);
		}
		assert_int_equal(pthread_create(&th[t], NULL, verify_loop, &v[t]), 0);
	}
	for (int i = 0; i < 50; i++) { /* alternate two key sets: each swap drops the cache */
		write_jwks("a.json", true, false, i % 2 == 0);
		refresh_all_ok(o);
	}
	for (int t = 0; t < 4; t++) {
		assert_int_equal(pthread_join(th[t], NULL), 0);
		assert_int_equal(v[t].ok, 2000); /* the kid stays in every set: never refused */
		for (int k = 0; k < 4; k++)
			free(v[t].tokens[k]);
	}
	oidc_free(o);
}

/* --- HTTP: a scripted loopback server ----------------------------------------------------- */

struct route {
	const char *path;
	char *response; /* the whole HTTP response */
};

static struct route routes[8];
static int srv_fd = -1;
static unsigned short srv_port;
static pthread_t srv_thread;
static pthread_mutex_t routes_lock = PTHREAD_MUTEX_INITIALIZER;

static void *serve(void *arg)
{
	for (;;) {
		char req[4096], path[256] = "";
		size_t n = 0;
		ssize_t k;
		int c = accept(srv_fd, NULL, NULL);

		if (c < 0)
			return NULL;
		while (n < sizeof(req) - 1 && (k = read(c, req + n, sizeof(req) - 1 - n)) > 0) {
			n += (size_t)k;
			req[n] = 0;
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		req[n] = 0;
		sscanf(req, "GET %255s", path);
		pthread_mutex_lock(&routes_lock);
		const char *resp = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
		for (size_t i = 0; i < 8 && routes[i].path; i++)
			if (strcmp(routes[i].path, path) == 0)
				resp = routes[i].response;
		for (size_t off = 0, len = strlen(resp); off < len; off += (size_t)k)
			if ((k = write(c, resp + off, len - off)) <= 0)
				break;
		pthread_mutex_unlock(&routes_lock);
		close(c);
	}
}

/* cl: with a Content-Length header (else the body ends when the connection closes). */
static void route_cl(size_t i, const char *path, const char *headers, const char *body, bool cl)
{
	char len[64] = "";

	if (cl)
		snprintf(len, sizeof(len), "Content-Length: %zu\r\n", strlen(body));
	pthread_mutex_lock(&routes_lock);
	free(routes[i].response);
	routes[i].path = path;
	assert_true(asprintf(&routes[i].response, "HTTP/1.1 %s\r\nConnection: close\r\n%s\r\n%s",
			     headers, len, body) > 0);
	pthread_mutex_unlock(&routes_lock);
}

static void route(size_t i, const char *path, const char *headers, const char *body)
{
	route_cl(i, path, headers, body, true);
}

static struct mw_oidc *http_issuer(const char *extra)
{
	char text[512];

	snprintf(text, sizeof(text),
		 "{\"identity\": {\"oidc\": [{\"issuer\": \"http://127.0.0.1:%u\", \"audience\": "
		 "\"" AUD "\"%s}]}}",
		 srv_port, extra);
	return parse_ok(text);
}

static void test_http(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t sl = sizeof(sa);
	struct mw_oidc_status st;
	struct mw_oidc *o;
	char issuer[64], disc[256], other[256], err[512], *jwks = NULL, *big, *t;

	srv_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(srv_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(srv_fd, 16), 0);
	getsockname(srv_fd, (struct sockaddr *)&sa, &sl);
	srv_port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&srv_thread, NULL, serve, NULL), 0);
	snprintf(issuer, sizeof(issuer), "http://127.0.0.1:%u", srv_port);

	/* discovery -> jwks, with a same-host redirect on the way and a max-age */
	{
		char *ja = jwk_of(ka, "a");

		assert_true(asprintf(&jwks, "{\"keys\":[%s]}", ja) > 0);
		free(ja);
	}
	snprintf(disc, sizeof(disc), "{\"issuer\":\"%s\",\"jwks_uri\":\"%s/certs\"}", issuer,
		 issuer);
	route(0, "/.well-known/openid-configuration", "200 OK", disc);
	snprintf(other, sizeof(other), "302 Found\r\nLocation: %s/jwks", issuer);
	route(1, "/certs", other, "");
	route(2, "/jwks", "200 OK\r\nCache-Control: public, max-age=120", jwks);
	o = http_issuer("");
	fake_now = 10 * SEC;
	if (oidc_refresh(o, 0, err, sizeof(err)) != 0)
		fail_msg("refresh: %s", err);
	oidc_get_status(o, 0, &st);
	assert_int_equal(st.info.n_keys, 1);
	assert_int_equal(st.max_age_sec, 120);
	assert_int_equal(st.next_due_usec, 130 * SEC); /* max-age shortens the 10 min schedule */
	t = mint_for(ka, "a", issuer, "alice", NOW + 60);
	assert_int_equal(verify(o, t, NOW, NULL), 0);
	free(t);

	/* a tiny max-age counts as MW_OIDC_MAX_AGE_MIN_SEC */
	route(2, "/jwks", "200 OK\r\nCache-Control: max-age=1", jwks);
	assert_int_equal(oidc_refresh(o, 0, err, sizeof(err)), 0);
	oidc_get_status(o, 0, &st);
	assert_int_equal(st.next_due_usec, fake_now + MW_OIDC_MAX_AGE_MIN_SEC * SEC);

	/* a redirect to another host is refused (and the old keys kept) */
	route(1, "/certs", "302 Found\r\nLocation: http://127.0.0.2:1/jwks", "");
	assert_int_equal(oidc_refresh(o, 0, err, sizeof(err)), -EPERM);
	print_message("%s\n", err);
	assert_non_null(strstr(err, "redirect to another host"));
	route(1, "/certs", other, "");

	/* an oversized JWKS: by Content-Length and without one */
	big = malloc(MW_JWKS_MAX_BYTES + 2);
	memset(big, ' ', MW_JWKS_MAX_BYTES + 1);
	big[MW_JWKS_MAX_BYTES + 1] = 0;
	route(2, "/jwks", "200 OK", big);
	assert_int_equal(oidc_refresh(o, 0, err, sizeof(err)), -EFBIG);
	route_cl(2, "/jwks", "200 OK", big, false);
	assert_int_equal(oidc_refresh(o, 0, err, sizeof(err)), -EFBIG);
	print_message("%s\n", err);
	free(big);
	route(2, "/jwks", "200 OK", jwks);

	/* HTTP errors and a discovery document for someone else */
	route(2, "/jwks", "500 Oops", "{}");
	assert_int_equal(oidc_refresh(o, 0, err, sizeof(err)), -EIO);
	route(2, "/jwks", "200 OK", jwks);
	snprintf(disc, sizeof(disc), "{\"issuer\":\"%s/\",\"jwks_uri\":\"%s/jwks\"}", issuer,
		 issuer);
	route(0, "/.well-known/openid-configuration", "200 OK", disc);
	assert_int_equal(oidc_refresh(o, 0, err, sizeof(err)), -EACCES);
	/* a discovered jwks_uri over plain http to a non-loopback host */
	route(0, "/.well-known/openid-configuration", "200 OK",
	      "{\"issuer\":\"x\",\"jwks_uri\":\"http://idp.example/jwks\"}");
	snprintf(disc, sizeof(disc), "{\"issuer\":\"%s\",\"jwks_uri\":\"http://idp.example/jwks\"}",
		 issuer);
	route(0, "/.well-known/openid-configuration", "200 OK", disc);
	assert_int_equal(oidc_refresh(o, 0, err, sizeof(err)), -EPERM);
	oidc_get_status(o, 0, &st);
	assert_true(st.have_keys);
	assert_int_equal(st.failures, 6);
	oidc_free(o);

	/* a configured jwks_uri skips discovery */
	route(0, "/.well-known/openid-configuration", "404 Not Found", "");
	snprintf(other, sizeof(other), ", \"jwks_uri\": \"%s/jwks\"", issuer);
	o = http_issuer(other);
	assert_int_equal(oidc_refresh(o, 0, err, sizeof(err)), 0);
	oidc_free(o);
	free(jwks);

	shutdown(srv_fd, SHUT_RDWR);
	close(srv_fd);
	pthread_join(srv_thread, NULL);
	for (size_t i = 0; i < 8; i++)
		free(routes[i].response);
}

/* --- setup -------------------------------------------------------------------------------- */

static int setup(void **state)
{
	ka = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	kb = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	kc = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	snprintf(dir, sizeof(dir), "/tmp/test_oidc.XXXXXX");
	return ka && kb && kc && mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	static const char *const files[] = { "a.json", "b.json", "k.pem" };
	char path[128];

	EVP_PKEY_free(ka);
	EVP_PKEY_free(kb);
	EVP_PKEY_free(kc);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_good),
		cmocka_unit_test(test_config_bad),
		cmocka_unit_test(test_issuer_selection),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_cache_bound),
		cmocka_unit_test(test_unknown_kid_rate_limit),
		cmocka_unit_test(test_keep_old_keys_on_failure),
		cmocka_unit_test(test_pem_file),
		cmocka_unit_test(test_max_age),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_http),
	};

	return cmocka_run_group_tests_name("oidc", tests, setup, teardown);
}
