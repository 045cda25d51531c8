/* jwt.c: JWS compact verification (RFC 7515, 7518 3, 8037 3.1) and JWT access token claims
 * (RFC 7519, 9068) following RFC 8725. Pure; the contract is in jwt.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "jwk.h"
#include "jwt.h"
#include "util.h"

#define JWT_MAX_HEADER_BYTES 4096
#define JWT_MAX_SIG_BYTES (MW_JWK_RSA_MAX_BITS / 8)
#define JWT_SAFE_CHARS 48
#define JWT_SAFE_SIZE (JWT_SAFE_CHARS + 4)

enum jwt_sig_kind { SIG_PKCS1, SIG_PSS, SIG_ECDSA, SIG_EDDSA };

static const struct {
	const char *md;
	enum jwt_sig_kind kind;
	size_t half; /* ECDSA: bytes of r and of s */
} alg_info[_MW_JWT_ALG_MAX] = {
	[MW_JWT_RS256] = { "SHA256", SIG_PKCS1, 0 },  [MW_JWT_RS384] = { "SHA384", SIG_PKCS1, 0 },
	[MW_JWT_RS512] = { "SHA512", SIG_PKCS1, 0 },  [MW_JWT_PS256] = { "SHA256", SIG_PSS, 0 },
	[MW_JWT_PS384] = { "SHA384", SIG_PSS, 0 },    [MW_JWT_PS512] = { "SHA512", SIG_PSS, 0 },
	[MW_JWT_ES256] = { "SHA256", SIG_ECDSA, 32 }, [MW_JWT_ES384] = { "SHA384", SIG_ECDSA, 48 },
	[MW_JWT_EDDSA] = { NULL, SIG_EDDSA, 0 },
};

/* Group orders (SEC 2): r and s must lie in [1, n-1] (CVE-2022-21449). */
static const unsigned char p256_order[32] = {
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
	0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};
static const unsigned char p384_order[48] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xc7, 0x63, 0x4d, 0x81, 0xf4, 0x37, 0x2d, 0xdf, 0x58, 0x1a, 0x0d, 0xb2,
	0x48, 0xb0, 0xa7, 0x7a, 0xec, 0xec, 0x19, 0x6a, 0xcc, 0xc5, 0x29, 0x73,
};

/* A token-supplied string cut to printable ASCII for an error message. */
static const char *safe(const char *s, char buf[JWT_SAFE_SIZE])
{
	size_t i;

	for (i = 0; s && s[i] && i < JWT_SAFE_CHARS; i++)
		buf[i] = s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\'' ? s[i] : '?';
	strcpy(buf + i, s && s[i] ? "..." : "");
	return buf;
}

static bool ec_scalar_ok(const unsigned char *v, const unsigned char *order, size_t n)
{
	unsigned char any = 0;

	for (size_t i = 0; i < n; i++)
		any |= v[i];
	return any && memcmp(v, order, n) < 0;
}

/* JWS raw r||s -> DER ECDSA-Sig-Value. */
static int ecdsa_to_der(const unsigned char *sig, size_t half, unsigned char **ret_der,
			int *ret_len)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, (int)half, NULL), *s = BN_bin2bn(sig + half, (int)half, NULL);
	unsigned char *der = NULL;
	int n = -1;

	if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
		r = s = NULL;
		n = i2d_ECDSA_SIG(es, &der);
	}
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	if (n <= 0)
		return -ENOMEM;
	*ret_der = der;
	*ret_len = n;
	return 0;
}

/* 1: valid; 0: not; <0: error. The caller has checked that k allows a. */
static int sig_verify(const struct mw_jwk *k, enum mw_jwt_alg a, const unsigned char *msg,
		      size_t msglen, const unsigned char *sig, size_t siglen)
{
	size_t half = alg_info[a].half;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *mctx = NULL;
	unsigned char *der = NULL;
	int derlen = 0, r = -ENOMEM;

	switch (alg_info[a].kind) {
	case SIG_PKCS1:
	case SIG_PSS:
		if (EVP_PKEY_get_size(k->pkey) <= 0 || siglen != (size_t)EVP_PKEY_get_size(k->pkey))
			return 0;
		break;
	case SIG_ECDSA:
		if (siglen != 2 * half ||
		    !ec_scalar_ok(sig, half == 32 ? p256_order : p384_order, half) ||
		    !ec_scalar_ok(sig + half, half == 32 ? p256_order : p384_order, half))
			return 0;
		r = ecdsa_to_der(sig, half, &der, &derlen);
		if (r < 0)
			return r;
		sig = der;
		siglen = (size_t)derlen;
		break;
	case SIG_EDDSA:
		if (siglen != 64)
			return 0;
		break;
	}
	mctx = EVP_MD_CTX_new();
	r = mctx ? 0 : -ENOMEM; /* a context OpenSSL will not set up verifies nothing */
	if (!mctx ||
	    EVP_DigestVerifyInit_ex(mctx, &pctx, alg_info[a].md, NULL, NULL, k->pkey, NULL) <= 0)
		goto out;
	if (alg_info[a].kind == SIG_PKCS1 &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0)
		goto out;
	/* RFC 7518 3.5: MGF1 with the same hash, salt as long as the hash. */
	if (alg_info[a].kind == SIG_PSS &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0 ||
	     EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, alg_info[a].md, NULL) <= 0))
		goto out;
	r = EVP_DigestVerify(mctx, sig, siglen, msg, msglen) == 1;
out:
	EVP_MD_CTX_free(mctx);
	OPENSSL_free(der);
	ERR_clear_error();
	return r;
}

static const struct mw_jwk *key_by_kid(const struct mw_jwks *keys, const char *kid, bool usable)
{
	for (size_t i = 0; i < keys->n; i++)
		if (keys->keys[i].has_kid && !!keys->keys[i].pkey == usable &&
		    strcmp(keys->keys[i].kid, kid) == 0)
			return &keys->keys[i];
	return NULL;
}

static int jwt_check_signature(const struct mw_jwks *keys, enum mw_jwt_alg a, const char *kid,
			       const char *msg, size_t msglen, const unsigned char *sig,
			       size_t siglen, char *err, size_t errlen)
{
	const unsigned char *m = (const unsigned char *)msg;
	char s1[JWT_SAFE_SIZE];
	const struct mw_jwk *k;
	bool tried = false;
	int r;

	if (kid && (k = key_by_kid(keys, kid, true))) {
		if (!(k->algs & MW_JWT_ALG_BIT(a)))
			return mw_jwt_fail(err, errlen, -EKEYREJECTED, "alg %s not allowed for key '%s'",
				    jwt_alg_to_string(a), safe(kid, s1));
		r = sig_verify(k, a, m, msglen, sig, siglen);
		if (r < 0)
			return mw_jwt_fail(err, errlen, r, "signature check failed");
		return r ? 0
			 : mw_jwt_fail(err, errlen, -EKEYREJECTED, "bad signature (key '%s')",
				safe(kid, s1));
	}
	if (kid && (k = key_by_kid(keys, kid, false)))
		return mw_jwt_fail(err, errlen, -EKEYREJECTED, "key '%s' unusable: %s", safe(kid, s1),
			    k->reason ? k->reason : "skipped");
	/* No kid, or no key with it: try the keys without a kid (or all, without a kid)
	 * whose algorithms include the token's. */
	for (size_t i = 0; i < keys->n; i++) {
		k = &keys->keys[i];
		if (!k->pkey || (kid && k->has_kid) || !(k->algs & MW_JWT_ALG_BIT(a)))
			continue;
		tried = true;
		r = sig_verify(k, a, m, msglen, sig, siglen);
		if (r < 0)
			return mw_jwt_fail(err, errlen, r, "signature check failed");
		if (r)
			return 0;
	}
	/* An unknown kid stays -ENOKEY even after kid-less keys failed: a refreshed JWKS may
	 * bring the key. */
	if (kid)
		return mw_jwt_fail(err, errlen, -ENOKEY, "no key with kid '%s'", safe(kid, s1));
	if (tried)
		return mw_jwt_fail(err, errlen, -EKEYREJECTED, "bad signature");
	return mw_jwt_fail(err, errlen, -ENOKEY, "no key for alg %s", jwt_alg_to_string(a));
}

static int json_parse_object(const unsigned char *buf, size_t len, json_t **ret)
{
	json_t *v;

	if (mw_json_check_depth((const char *)buf, len, MW_JWT_MAX_JSON_DEPTH) < 0)
		return -EBADMSG;
	v = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(v)) {
		json_decref(v);
		return -EBADMSG;
	}
	*ret = v;
	return 0;
}

struct jwt_header {
	enum mw_jwt_alg alg;
	const char *kid; /* NULL when absent; points into the header object */
	const char *typ;
};

static int jwt_parse_header(json_t *h, struct jwt_header *ret, char *err, size_t errlen)
{
	json_t *alg = json_object_get(h, "alg"), *kid = json_object_get(h, "kid");
	json_t *typ = json_object_get(h, "typ");
	char s1[JWT_SAFE_SIZE];
	const char *name;
	int a;

	if (!json_is_string(alg))
		return mw_jwt_fail(err, errlen, -EBADMSG, "header has no alg");
	/* The alg gate comes first, so that none, HS* and the rest are always -EKEYREJECTED,
	 * whatever else is wrong with the header or the signature part (empty for none). */
	name = json_string_value(alg);
	a = jwt_alg_from_string(name);
	if (a < 0) {
		if (strcasecmp(name, "none") == 0)
			return mw_jwt_fail(err, errlen, -EKEYREJECTED, "alg none refused");
		if (strncasecmp(name, "HS", 2) == 0)
			return mw_jwt_fail(err, errlen, -EKEYREJECTED, "HMAC alg '%s' refused",
				    safe(name, s1));
		return mw_jwt_fail(err, errlen, -EKEYREJECTED, "unsupported alg '%s'", safe(name, s1));
	}
	if ((kid && (!json_is_string(kid) || json_string_length(kid) > MW_JWK_MAX_KID)) ||
	    (typ && !json_is_string(typ)))
		return mw_jwt_fail(err, errlen, -EBADMSG, "header kid or typ malformed");
	/* No extension is understood, so any crit is one we must refuse (RFC 7515 4.1.11). */
	if (json_object_get(h, "crit"))
		return mw_jwt_fail(err, errlen, -EBADMSG, "header has crit");
	ret->alg = a;
	ret->kid = json_string_value(kid);
	ret->typ = json_string_value(typ);
	return 0;
}

static const char *typ_strip(const char *t)
{
	return strncasecmp(t, "application/", 12) == 0 ? t + 12 : t;
}

/* A NumericDate: non-negative, integer or real (cut to whole seconds). */
static int claim_time(json_t *payload, const char *name, uint64_t *ret)
{
	json_t *v = json_object_get(payload, name);
	double d;

	if (!v)
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*ret = (uint64_t)json_integer_value(v);
		return 1;
	}
	d = json_is_real(v) ? json_real_value(v) : -1;
	if (!(d >= 0 && d < 1e18))
		return -EBADMSG;
	*ret = (uint64_t)d;
	return 1;
}

static int claim_string(json_t *payload, const char *name, char *out, size_t size)
{
	json_t *v = json_object_get(payload, name);

	if (!v)
		return 0;
	if (!json_is_string(v) || json_string_length(v) >= size)
		return -EBADMSG;
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 1;
}

/* 1: aud names want; 0: it does not (or is absent); -EBADMSG: malformed. */
static int claim_aud(json_t *aud, const char *want)
{
	json_t *v;
	size_t i;
	int found = 0;

	if (!aud)
		return 0;
	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	if (!json_is_array(aud) || json_array_size(aud) > MW_JWT_MAX_AUD)
		return -EBADMSG;
	json_array_foreach(aud, i, v) {
		if (!json_is_string(v))
			return -EBADMSG;
		found |= strcmp(json_string_value(v), want) == 0;
	}
	return found;
}

/* The claim named path, else the dotted path through nested objects. */
static json_t *claim_lookup(json_t *payload, const char *path)
{
	char buf[MW_JWT_MAX_CLAIM_PATH + 1], *p = buf, *seg;
	json_t *v = json_object_get(payload, path);

	if (v || !strchr(path, '.') || strlen(path) > MW_JWT_MAX_CLAIM_PATH)
		return v;
	strcpy(buf, path);
	v = payload;
	while ((seg = strsep(&p, "."))) {
		if (!*seg || !json_is_object(v))
			return NULL;
		v = json_object_get(v, seg);
	}
	return v;
}

static int group_add(struct mw_jwt_claims *c, const char *s, size_t len)
{
	char **g;

	if (len == 0)
		return 0;
	if (len > MW_JWT_MAX_GROUP_BYTES || c->n_groups >= MW_JWT_MAX_GROUPS)
		return -EBADMSG;
	g = realloc(c->groups, (c->n_groups + 1) * sizeof(*g));
	if (!g)
		return -ENOMEM;
	c->groups = g;
	g[c->n_groups] = strndup(s, len);
	if (!g[c->n_groups])
		return -ENOMEM;
	c->n_groups++;
	return 0;
}

/* Array of strings or one space-separated string (as "scope" is). */
static int claim_words(json_t *v, struct mw_jwt_claims *c)
{
	const char *s, *e;
	json_t *x;
	size_t i;
	int r;

	if (json_is_string(v)) {
		for (s = json_string_value(v); *s; s = e) {
			s += strspn(s, " ");
			e = s + strcspn(s, " ");
			r = group_add(c, s, (size_t)(e - s));
			if (r < 0)
				return r;
		}
		return 0;
	}
	if (!json_is_array(v))
		return -EBADMSG;
	json_array_foreach(v, i, x) {
		if (!json_is_string(x))
			return -EBADMSG;
		r = group_add(c, json_string_value(x), json_string_length(x));
		if (r < 0)
			return r;
	}
	return 0;
}

/* scope, else scp (string or array) joined with spaces. */
static int claim_scope(json_t *payload, struct mw_jwt_claims *c)
{
	json_t *scp = json_object_get(payload, "scp"), *x;
	size_t i, n = 0, len;
	int r = claim_string(payload, "scope", c->scope, sizeof(c->scope));

	if (r != 0 || !scp)
		return r;
	if (json_is_string(scp))
		return claim_string(payload, "scp", c->scope, sizeof(c->scope));
	if (!json_is_array(scp))
		return -EBADMSG;
	json_array_foreach(scp, i, x) {
		if (!json_is_string(x))
			return -EBADMSG;
		len = json_string_length(x);
		if (n + !!n + len >= sizeof(c->scope))
			return -EBADMSG;
		if (n)
			c->scope[n++] = ' ';
		memcpy(c->scope + n, json_string_value(x), len + 1);
		n += len;
	}
	return 1;
}

static int jwt_check_claims(json_t *payload, const struct jwt_header *h,
			    const struct mw_jwt_expect *x, struct mw_jwt_claims *c, char *err,
			    size_t errlen)
{
	uint64_t leeway =
	    x->leeway_sec < MW_JWT_MAX_LEEWAY_SEC ? x->leeway_sec : MW_JWT_MAX_LEEWAY_SEC;
	json_t *iss = json_object_get(payload, "iss");
	char s1[JWT_SAFE_SIZE], s2[JWT_SAFE_SIZE];
	int r;

	if (x->typ && (!h->typ || strcasecmp(typ_strip(h->typ), typ_strip(x->typ)) != 0))
		return mw_jwt_fail(err, errlen, -EACCES, "typ '%s' is not '%s'", safe(h->typ, s1),
			    safe(x->typ, s2));
	if (!json_is_string(iss) || strcmp(json_string_value(iss), x->issuer) != 0)
		/* The token's iss is not echoed: err holds nothing from the payload. */
		return mw_jwt_fail(err, errlen, -EACCES, "iss is not '%s'", safe(x->issuer, s1));
	r = claim_aud(json_object_get(payload, "aud"), x->audience);
	if (r < 0)
		return mw_jwt_fail(err, errlen, r, "aud malformed");
	if (r == 0)
		return mw_jwt_fail(err, errlen, -EACCES, "aud does not contain '%s'",
			    safe(x->audience, s1));
	r = claim_time(payload, "exp", &c->exp);
	if (r <= 0)
		return mw_jwt_fail(err, errlen, -EBADMSG, r ? "exp malformed" : "exp missing");
	if (claim_time(payload, "nbf", &c->nbf) < 0 || claim_time(payload, "iat", &c->iat) < 0)
		return mw_jwt_fail(err, errlen, -EBADMSG, "nbf or iat malformed");
	if (x->now_sec >= c->exp + leeway)
		return mw_jwt_fail(err, errlen, -EKEYEXPIRED, "expired %llu s ago",
			    (unsigned long long)(x->now_sec - c->exp));
	if (c->nbf > x->now_sec + leeway)
		return mw_jwt_fail(err, errlen, -ETIME, "not valid for another %llu s (nbf)",
			    (unsigned long long)(c->nbf - x->now_sec));
	if (c->iat > x->now_sec + leeway)
		return mw_jwt_fail(err, errlen, -ETIME, "issued %llu s in the future (iat)",
			    (unsigned long long)(c->iat - x->now_sec));
	return 0;
}

static int jwt_extract(json_t *payload, const struct mw_jwt_expect *x, struct mw_jwt_claims *c,
		       char *err, size_t errlen)
{
	json_t *g;
	int r;

	if (claim_string(payload, "iss", c->iss, sizeof(c->iss)) < 0 ||
	    claim_string(payload, "sub", c->sub, sizeof(c->sub)) < 0 ||
	    claim_string(payload, "email", c->email, sizeof(c->email)) < 0)
		return mw_jwt_fail(err, errlen, -EBADMSG, "iss, sub or email malformed or too long");
	r = claim_string(payload, "client_id", c->client_id, sizeof(c->client_id));
	if (r == 0)
		r = claim_string(payload, "azp", c->client_id, sizeof(c->client_id));
	if (r < 0 || claim_scope(payload, c) < 0)
		return mw_jwt_fail(err, errlen, -EBADMSG, "client_id, azp, scope or scp malformed");
	if (!x->groups_claim)
		return 0;
	g = claim_lookup(payload, x->groups_claim);
	r = g ? claim_words(g, c) : 0;
	if (r == -ENOMEM)
		return mw_jwt_fail(err, errlen, r, "out of memory");
	if (r < 0)
		return mw_jwt_fail(err, errlen, r, "groups claim malformed or over %d groups",
			    MW_JWT_MAX_GROUPS);
	return 0;
}

static void buf_wipe_free(unsigned char *p, size_t n)
{
	if (!p)
		return;
	explicit_bzero(p, n);
	free(p);
}

int jwt_peek_issuer(const char *token, size_t len, char *buf, size_t size)
{
	const char *dot1, *dot2;
	unsigned char *body = NULL;
	size_t body_len = 0;
	json_t *payload = NULL, *iss;
	int r;

	if (!token || !buf || size == 0)
		return -EINVAL;
	if (len == 0 || len > MW_JWT_MAX_TOKEN_BYTES)
		return -EBADMSG;
	dot1 = memchr(token, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (!dot2)
		return -EBADMSG;
	r = mw_b64url_decode_alloc(dot1 + 1, (size_t)(dot2 - dot1 - 1), MW_JWT_MAX_TOKEN_BYTES,
				   &body, &body_len);
	if (r < 0)
		return r == -ENOMEM ? r : -EBADMSG;
	r = json_parse_object(body, body_len, &payload);
	if (r == 0) {
		iss = json_object_get(payload, "iss");
		if (!json_is_string(iss) ||
		    strlen(json_string_value(iss)) != json_string_length(iss))
			r = -EBADMSG;
		else if (json_string_length(iss) >= size)
			r = -ENOBUFS;
		else
			memcpy(buf, json_string_value(iss), json_string_length(iss) + 1);
	}
	json_decref(payload);
	buf_wipe_free(body, body_len + 1);
	return r;
}

int jwt_verify(const char *token, size_t len, const struct mw_jwks *keys,
	       const struct mw_jwt_expect *expect, struct mw_jwt_claims **ret_claims, char *err,
	       size_t errlen)
{
	const char *dot1, *dot2, *sig64;
	unsigned char *hdr = NULL, *body = NULL, sig[JWT_MAX_SIG_BYTES];
	unsigned char md[32];
	size_t hdr_len = 0, body_len = 0, sig_len;
	json_t *header = NULL, *payload = NULL;
	struct mw_jwt_claims *c = NULL;
	struct jwt_header h = { 0 };
	int r;

	if (!token || !keys || !expect || !ret_claims || !expect->issuer || !*expect->issuer ||
	    !expect->audience || !*expect->audience || !expect->now_sec ||
	    expect->now_sec > UINT64_MAX / 2 ||
	    (expect->groups_claim && strlen(expect->groups_claim) > MW_JWT_MAX_CLAIM_PATH))
		return mw_jwt_fail(err, errlen, -EINVAL, "bad arguments");
	if (len == 0 || len > MW_JWT_MAX_TOKEN_BYTES)
		return mw_jwt_fail(err, errlen, -EBADMSG, "token empty or over %d bytes",
			    MW_JWT_MAX_TOKEN_BYTES);
	dot1 = memchr(token, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	/* An empty signature part is refused after the alg gate: an unsecured token (alg none,
	 * RFC 7519 6) is "header.payload." and must get the alg's refusal. */
	if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) || dot1 == token ||
	    dot2 == dot1 + 1)
		return mw_jwt_fail(err, errlen, -EBADMSG, "not a compact JWS (three parts)");
	sig64 = dot2 + 1;

	r = mw_b64url_decode_alloc(token, (size_t)(dot1 - token), JWT_MAX_HEADER_BYTES, &hdr,
				   &hdr_len);
	if (r == -ENOMEM)
		return mw_jwt_fail(err, errlen, r, "out of memory");
	if (r < 0 || json_parse_object(hdr, hdr_len, &header) < 0) {
		r = mw_jwt_fail(err, errlen, -EBADMSG, "header is not base64url JSON object");
		goto out;
	}
	r = jwt_parse_header(header, &h, err, errlen);
	if (r < 0)
		goto out;
	if (sig64 == token + len) {
		r = mw_jwt_fail(err, errlen, -EBADMSG, "signature part is empty");
		goto out;
	}
	r = mw_b64url_decode(sig64, len - (size_t)(sig64 - token), sig, sizeof(sig), &sig_len);
	if (r < 0) {
		r = mw_jwt_fail(err, errlen, -EBADMSG, "signature is not base64url or too long");
		goto out;
	}
	r = jwt_check_signature(keys, h.alg, h.kid, token, (size_t)(dot2 - token), sig, sig_len,
				err, errlen);
	if (r < 0)
		goto out;

	/* Authenticated from here on. */
	r = mw_b64url_decode_alloc(dot1 + 1, (size_t)(dot2 - dot1 - 1), MW_JWT_MAX_TOKEN_BYTES,
				   &body, &body_len);
	if (r == -ENOMEM) {
		r = mw_jwt_fail(err, errlen, r, "out of memory");
		goto out;
	}
	if (r < 0 || json_parse_object(body, body_len, &payload) < 0) {
		r = mw_jwt_fail(err, errlen, -EBADMSG, "payload is not base64url JSON object");
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		r = mw_jwt_fail(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	r = jwt_check_claims(payload, &h, expect, c, err, errlen);
	if (r < 0)
		goto out;
	r = jwt_extract(payload, expect, c, err, errlen);
	if (r < 0)
		goto out;
	if (EVP_Digest(token, len, md, NULL, EVP_sha256(), NULL) != 1) {
		r = mw_jwt_fail(err, errlen, -ENOMEM, "SHA-256 failed");
		goto out;
	}
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(c->token_sha256 + 2 * i, 3, "%02x", md[i]);
	snprintf(c->kid, sizeof(c->kid), "%s", h.kid ? h.kid : "");
	snprintf(c->alg, sizeof(c->alg), "%s", jwt_alg_to_string(h.alg));
	c->payload = TAKE_PTR(payload);
	*ret_claims = TAKE_PTR(c);
	r = 0;
out:
	jwt_claims_free(c);
	json_decref(payload);
	json_decref(header);
	buf_wipe_free(hdr, hdr_len + 1);
	buf_wipe_free(body, body_len + 1);
	explicit_bzero(md, sizeof(md));
	ERR_clear_error();
	return r;
}

struct mw_jwt_claims *jwt_claims_ref(struct mw_jwt_claims *c)
{
	if (c)
		__atomic_fetch_add(&c->refs, 1, __ATOMIC_RELAXED);
	return c;
}

struct mw_jwt_claims *jwt_claims_free(struct mw_jwt_claims *c)
{
	unsigned n;

	if (!c)
		return NULL;
	n = __atomic_load_n(&c->refs, __ATOMIC_ACQUIRE);
	while (n > 0)
		if (__atomic_compare_exchange_n(&c->refs, &n, n - 1, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return NULL;
	for (size_t i = 0; i < c->n_groups; i++)
		free(c->groups[i]);
	free(c->groups);
	json_decref(c->payload);
	explicit_bzero(c, sizeof(*c));
	free(c);
	return NULL;
}
