/* jwt_fixtures.h: what test_jwt.c and test_jwk.c share: fresh keys of every kind, a key set
 * holding them, and the helpers that mint tokens and verify them with the errno printed.
 * Everything is static (inline), so each test program gets its own copy. */
#ifndef MW_TESTS_JWT_FIXTURES_H
#define MW_TESTS_JWT_FIXTURES_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "jwk.h"
#include "jwt.h"
#include "util.h"

#define ISS "https://idp.example"
#define AUD "urn:mcp:gateway"
#define NOW 1700000000

/* RFC 8037 A.2: the Ed25519 public key. */
static const char rfc8037_x[] = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

static EVP_PKEY *rsa, *rsa2, *rsa1024, *ec256, *ec384, *ed, *evil;
static struct mw_jwks *keys; /* rsa "rsa" (no alg), rsa2 "rsa2" RS512, ec256, ec384, ed */
static char last_err[256];

static const struct mw_jwt_expect base = {
	.issuer = ISS, .audience = AUD, .leeway_sec = 30, .now_sec = NOW
};

/* --- helpers ------------------------------------------------------------------------------ */

static inline char *b64url(const void *in, size_t len)
{
	char *out = malloc(len / 3 * 4 + 8);
	int n;

	assert_non_null(out);
	n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	while (n > 0 && out[n - 1] == '=')
		n--;
	for (int i = 0; i < n; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	out[n] = 0;
	return out;
}

static inline char *b64url_bn(const BIGNUM *bn, int pad)
{
	unsigned char buf[1024];
	int n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);

	return b64url(buf, (size_t)n);
}

static inline char *cat(const char *a, const char *sep, const char *b)
{
	char *s;

	assert_true(asprintf(&s, "%s%s%s", a, sep, b) > 0);
	return s;
}

/* A public JWK object for k as JSON text (alg and kid may be NULL). */
static inline char *jwk_of(EVP_PKEY *k, const char *kid, const char *alg)
{
	json_t *o = json_object();
	BIGNUM *a = NULL, *b = NULL;
	char *s, *x, *y;

	if (EVP_PKEY_is_a(k, "RSA")) {
		assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &a), 1);
		assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &b), 1);
		x = b64url_bn(a, 0);
		y = b64url_bn(b, 0);
		json_object_set_new(o, "kty", json_string("RSA"));
		json_object_set_new(o, "n", json_string(x));
		json_object_set_new(o, "e", json_string(y));
	} else if (EVP_PKEY_is_a(k, "EC")) {
		int size = EVP_PKEY_get_bits(k) == 256 ? 32 : 48;

		assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &a), 1);
		assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &b), 1);
		x = b64url_bn(a, size);
		y = b64url_bn(b, size);
		json_object_set_new(o, "kty", json_string("EC"));
		json_object_set_new(o, "crv", json_string(size == 32 ? "P-256" : "P-384"));
		json_object_set_new(o, "x", json_string(x));
		json_object_set_new(o, "y", json_string(y));
	} else {
		unsigned char raw[32];
		size_t n = sizeof(raw);

		assert_int_equal(EVP_PKEY_get_raw_public_key(k, raw, &n), 1);
		x = b64url(raw, n);
		y = NULL;
		json_object_set_new(o, "kty", json_string("OKP"));
		json_object_set_new(o, "crv", json_string("Ed25519"));
		json_object_set_new(o, "x", json_string(x));
	}
	if (kid)
		json_object_set_new(o, "kid", json_string(kid));
	if (alg)
		json_object_set_new(o, "alg", json_string(alg));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	BN_free(a);
	BN_free(b);
	free(x);
	free(y);
	return s;
}

static inline struct mw_jwks *jwks_of(const char *json, const struct mw_jwks_opts *opts)
{
	struct mw_jwks *s = NULL;
	char err[256] = "";
	int r = jwks_parse(json, strlen(json), opts, &s, err, sizeof(err));

	if (r != 0)
		print_message("jwks_parse: %s\n", err);
	assert_int_equal(r, 0);
	return s;
}

/* Signature bytes as JWS wants them (ECDSA: raw r||s). */
static inline size_t sign_raw(EVP_PKEY *k, const char *alg, const char *in, unsigned char *out)
{
	const char *md = strstr(alg, "256") ? "SHA256" : strstr(alg, "384") ? "SHA384" : "SHA512";
	unsigned char der[2048];
	size_t n = sizeof(der);
	EVP_PKEY_CTX *p = NULL;
	EVP_MD_CTX *m = EVP_MD_CTX_new();

	if (strcmp(alg, "EdDSA") == 0)
		md = NULL;
	assert_int_equal(EVP_DigestSignInit_ex(m, &p, md, NULL, NULL, k, NULL), 1);
	if (alg[0] == 'P') {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(p, RSA_PKCS1_PSS_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(p, RSA_PSS_SALTLEN_DIGEST), 1);
	}
	assert_int_equal(EVP_DigestSign(m, der, &n, (const unsigned char *)in, strlen(in)), 1);
	EVP_MD_CTX_free(m);
	if (alg[0] == 'E' && alg[1] == 'S') {
		const unsigned char *q = der;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)n);
		int half = strstr(alg, "256") ? 32 : 48;

		assert_non_null(es);
		BN_bn2binpad(ECDSA_SIG_get0_r(es), out, half);
		BN_bn2binpad(ECDSA_SIG_get0_s(es), out + half, half);
		ECDSA_SIG_free(es);
		return (size_t)(2 * half);
	}
	memcpy(out, der, n);
	return n;
}

/* header.payload.signature, the header and payload given as JSON text. */
static inline char *mint(EVP_PKEY *k, const char *alg, const char *hdr, const char *payload)
{
	unsigned char sig[2048] = { 0 }; /* ES256 over a P-384 key leaves it unwritten */
	char *h = b64url(hdr, strlen(hdr)), *p = b64url(payload, strlen(payload));
	char *in = cat(h, ".", p), *s, *tok;
	size_t n = sign_raw(k, alg, in, sig);

	s = b64url(sig, n);
	tok = cat(in, ".", s);
	free(h);
	free(p);
	free(in);
	free(s);
	return tok;
}

/* Signing input given already encoded (to test non-canonical encodings). */
static inline char *mint_encoded(EVP_PKEY *k, const char *alg, const char *input)
{
	unsigned char sig[2048] = { 0 }; /* ES256 over a P-384 key leaves it unwritten */
	char *s = b64url(sig, sign_raw(k, alg, input, sig)), *tok = cat(input, ".", s);

	free(s);
	return tok;
}

/* The token with its signature part replaced. */
static inline char *resign(const char *tok, const void *sig, size_t len)
{
	char *s = b64url(sig, len), *in = strndup(tok, (size_t)(strrchr(tok, '.') - tok));
	char *out = cat(in, ".", s);

	free(s);
	free(in);
	return out;
}

static char payload_buf[MW_JWT_MAX_TOKEN_BYTES + 1024];

/* A valid payload plus extra members ("" for none). */
static inline const char *P(const char *extra)
{
	snprintf(payload_buf, sizeof(payload_buf),
		 "{\"iss\":\"" ISS "\",\"aud\":\"" AUD
		 "\",\"exp\":%d,\"iat\":%d,\"sub\":\"alice\"%s%s}",
		 NOW + 300, NOW - 10, *extra ? "," : "", extra);
	return payload_buf;
}

static inline int verify_with(const char *tok, const struct mw_jwks *s,
			      const struct mw_jwt_expect *x, struct mw_jwt_claims **ret)
{
	struct mw_jwt_claims *c = NULL;
	const char *sig = strrchr(tok, '.');
	int r;

	last_err[0] = 0;
	r = jwt_verify(tok, strlen(tok), s, x, &c, last_err, sizeof(last_err));
	if (r == 0)
		assert_non_null(c);
	else
		assert_null(c);
	/* The error line never echoes the token. */
	if (sig && strlen(sig + 1) >= 16)
		assert_null(strstr(last_err, strndupa(sig + 1, 16)));
	if (ret)
		*ret = c;
	else
		jwt_claims_free(c);
	return r;
}

#define expect_verify(want, tok, s, x)                                                             \
	do {                                                                                       \
		int _r = verify_with((tok), (s), (x), NULL);                                       \
		if (_r != (want))                                                                  \
			print_message("%s:%d: err '%s'\n", __FILE__, __LINE__, last_err);          \
		assert_int_equal(_r, (want));                                                      \
	} while (0)

/* Mint with k, verify against keys with base expectations, expect want; frees the token. */
#define expect_mint(want, k, alg, hdr, payload)                                                    \
	do {                                                                                       \
		char *_t = mint((k), (alg), (hdr), (payload));                                     \
		expect_verify((want), _t, keys, &base);                                            \
		free(_t);                                                                          \
	} while (0)

static inline char *pem_of(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *s;
	long n;

	assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
	n = BIO_get_mem_data(b, &p);
	s = strndup(p, (size_t)n);
	BIO_free(b);
	return s;
}

static inline int setup(void **state)
{
	char *j[5], *all;

	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	rsa2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
	rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	evil = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ec256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ec384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!rsa || !rsa2 || !rsa1024 || !evil || !ec256 || !ec384 || !ed)
		return -1;
	j[0] = jwk_of(rsa, "rsa", NULL);
	j[1] = jwk_of(rsa2, "rsa2", "RS512");
	j[2] = jwk_of(ec256, "ec256", NULL);
	j[3] = jwk_of(ec384, "ec384", "ES384");
	j[4] = jwk_of(ed, "ed", NULL);
	if (asprintf(&all, "{\"keys\":[%s,%s,%s,%s,%s]}", j[0], j[1], j[2], j[3], j[4]) < 0)
		return -1;
	if (jwks_parse(all, strlen(all), NULL, &keys, NULL, 0) < 0)
		return -1;
	for (int i = 0; i < 5; i++)
		free(j[i]);
	free(all);
	return 0;
}

static inline int teardown(void **state)
{
	jwks_free(keys);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(rsa2);
	EVP_PKEY_free(rsa1024);
	EVP_PKEY_free(evil);
	EVP_PKEY_free(ec256);
	EVP_PKEY_free(ec384);
	EVP_PKEY_free(ed);
	return 0;
}

#endif /* MW_TESTS_JWT_FIXTURES_H */
