/* fuzz_jwt.c: JWK sets, PEM keys and JWS tokens from arbitrary bytes.
 *
 * Byte 0 picks the mode (mod 4), byte 1 the options, the rest is the input:
 *   0  jwks_parse() on the bytes (byte 1 bit 0: RSA keys without alg also allow PS*);
 *   1  jwt_verify() of the bytes as a token against a fixed JWKS (RSA, P-256, Ed25519);
 *   2  "header JSON \0 payload JSON": encoded and signed with the fixed Ed25519 key, so the
 *      claim checks behind the signature are reached too;
 *   3  jwks_parse_pem() on the bytes.
 * Invariants: results are consistent (claims only on success, bounded groups, a 64-digit
 * hash), and an error string never contains the token's signature or payload part. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "jwt.h"

/* RFC 7520 3.3 (RSA), RFC 7515 A.3 (P-256), RFC 8037 A.1 (Ed25519). */
static const char fixed_jwks[] =
    "{\"keys\":["
    "{\"kty\":\"RSA\",\"kid\":\"bilbo.baggins@hobbiton.example\",\"use\":\"sig\","
    "\"n\":\"n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZ"
    "QHz_AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHY"
    "pPe7Tpe-OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg"
    "_3L_vniUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw\","
    "\"e\":\"AQAB\"},"
    "{\"kty\":\"EC\",\"kid\":\"p256\",\"crv\":\"P-256\","
    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"},"
    "{\"kty\":\"OKP\",\"kid\":\"ed\",\"crv\":\"Ed25519\","
    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"},"
    "{\"kty\":\"oct\",\"kid\":\"hmac\",\"k\":\"c2VjcmV0\"}]}";

/* RFC 8037 A.1 private key d. */
static const unsigned char ed_priv[32] = {
	0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a,
	0xf4, 0x92, 0xec, 0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32,
	0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
};

static struct mw_jwks *jwks;
static EVP_PKEY *ed_key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	assert(jwks_parse(fixed_jwks, sizeof(fixed_jwks) - 1, NULL, &jwks, err, sizeof(err)) == 0);
	ed_key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, ed_priv, sizeof(ed_priv));
	assert(ed_key);
	return 0;
}

static size_t b64url(const unsigned char *in, size_t len, char *out)
{
	int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);

	assert(n >= 0);
	while (n > 0 && out[n - 1] == '=')
		n--;
	for (int i = 0; i < n; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	out[n] = 0;
	return (size_t)n;
}

static void check_result(int r, const struct mw_jwt_claims *c, const char *token, size_t len,
			 const char *err)
{
	const char *dot1 = memchr(token, '.', len), *dot2;

	if (r == 0) {
		assert(c && strlen(c->token_sha256) == 64 && c->n_groups <= MW_JWT_MAX_GROUPS);
		assert(strlen(c->sub) < sizeof(c->sub) && strlen(c->scope) < sizeof(c->scope));
		for (size_t i = 0; i < c->n_groups; i++)
			assert(c->groups[i][0] && strlen(c->groups[i]) <= MW_JWT_MAX_GROUP_BYTES);
		assert(json_is_object(c->payload));
		return;
	}
	assert(!c);
	assert(r == -EBADMSG || r == -EKEYREJECTED || r == -ENOKEY || r == -EKEYEXPIRED ||
	       r == -ETIME || r == -EACCES || r == -ENOMEM);
	/* Never echo the token: no signature or payload part longer than 12 in err. */
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (dot2 && len - (size_t)(dot2 + 1 - token) >= 12) {
		char part[13];

		memcpy(part, dot2 + 1, 12);
		part[12] = 0;
		assert(strlen(part) < 12 || !strstr(err, part));
	}
	if (dot2 && dot2 - dot1 > 12) {
		char part[13];

		memcpy(part, dot1 + 1, 12);
		part[12] = 0;
		assert(strlen(part) < 12 || !strstr(err, part));
	}
}

static void verify(const char *token, size_t len, uint8_t opt)
{
	static const char *const groups[] = { NULL, "groups", "realm_access.roles",
					      "https://x.example/roles" };
	struct mw_jwt_expect x = {
		.issuer = "https://idp.example",
		.audience = "urn:mcp",
		.typ = (opt & 4) ? "at+jwt" : NULL,
		.groups_claim = groups[opt & 3],
		.leeway_sec = (opt & 8) ? 3600 : 30,
		.now_sec = 1700000000,
	};
	struct mw_jwt_claims *c = NULL;
	char err[256] = "";
	int r;

	r = jwt_verify(token, len, jwks, &x, &c, err, sizeof(err));
	check_result(r, c, token, len, err);
	jwt_claims_free(c);
}

static void signed_token(const uint8_t *data, size_t size, uint8_t opt)
{
	const uint8_t *sep = memchr(data, 0, size);
	size_t hlen, plen, n, siglen = 64;
	unsigned char sig[64];
	EVP_MD_CTX *m;
	char *tok;

	if (!sep)
		return;
	hlen = (size_t)(sep - data);
	plen = size - hlen - 1;
	tok = malloc((hlen + plen) / 3 * 4 + 8 + 100);
	assert(tok);
	n = b64url(data, hlen, tok);
	tok[n++] = '.';
	n += b64url(sep + 1, plen, tok + n);
	m = EVP_MD_CTX_new();
	assert(m && EVP_DigestSignInit_ex(m, NULL, NULL, NULL, NULL, ed_key, NULL) == 1);
	assert(EVP_DigestSign(m, sig, &siglen, (unsigned char *)tok, n) == 1);
	EVP_MD_CTX_free(m);
	tok[n++] = '.';
	n += b64url(sig, siglen, tok + n);
	verify(tok, n, opt);
	free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mw_jwks *s = NULL;
	struct mw_jwks_info info;
	char err[256];
	uint8_t mode, opt;

	if (size < 2)
		return 0;
	mode = data[0] & 3;
	opt = data[1];
	data += 2;
	size -= 2;
	switch (mode) {
	case 0:
		if (jwks_parse((const char *)data, size,
			       &(struct mw_jwks_opts){ (opt & 1) ? MW_JWT_ALGS_PS : 0 }, &s, err,
			       sizeof(err)) == 0) {
			jwks_get_info(s, &info);
			assert(info.n_keys > 0 && info.n_keys <= MW_JWKS_MAX_KEYS);
		} else {
			assert(!s);
		}
		jwks_free(s);
		break;
	case 1:
		verify((const char *)data, size, opt);
		break;
	case 2:
		if (size <= MW_JWT_MAX_TOKEN_BYTES)
			signed_token(data, size, opt);
		break;
	case 3:
		if (jwks_parse_pem((const char *)data, size, opt % _MW_JWT_ALG_MAX,
				   (opt & 0x80) ? "k" : NULL, &s, err, sizeof(err)) == 0)
			assert(s);
		jwks_free(s);
		break;
	}
	return 0;
}
