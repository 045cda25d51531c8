/* jwk.c: JWK sets (RFC 7517, 7518 6, 8037) and PEM public keys into EVP_PKEYs. Pure.
 * Policy is in jwt.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "jwk.h"
#include "util.h"

#define JWK_MAX_COMPONENT_BYTES (MW_JWK_RSA_MAX_BITS / 8 + 1)
#define JWK_MAX_E_BYTES 8

static const char *const alg_names[_MW_JWT_ALG_MAX] = {
	[MW_JWT_RS256] = "RS256", [MW_JWT_RS384] = "RS384", [MW_JWT_RS512] = "RS512",
	[MW_JWT_PS256] = "PS256", [MW_JWT_PS384] = "PS384", [MW_JWT_PS512] = "PS512",
	[MW_JWT_ES256] = "ES256", [MW_JWT_ES384] = "ES384", [MW_JWT_EDDSA] = "EdDSA",
};

int jwt_alg_from_string(const char *s)
{
	for (int a = 0; s && a < _MW_JWT_ALG_MAX; a++)
		if (strcmp(s, alg_names[a]) == 0)
			return a;
	return -1;
}

const char *jwt_alg_to_string(enum mw_jwt_alg a)
{
	return (unsigned)a < _MW_JWT_ALG_MAX ? alg_names[a] : "?";
}

enum mw_jwk_kind jwk_kind_for_alg(enum mw_jwt_alg a)
{
	switch (a) {
	case MW_JWT_ES256:
		return MW_JWK_EC_P256;
	case MW_JWT_ES384:
		return MW_JWK_EC_P384;
	case MW_JWT_EDDSA:
		return MW_JWK_ED25519;
	default:
		return MW_JWK_RSA;
	}
}

int mw_b64url_decode(const char *in, size_t len, unsigned char *out, size_t outsize,
		     size_t *ret_len)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t n = 0;

	if (len % 4 == 1)
		return -EBADMSG;
	if (len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0) > outsize)
		return -EMSGSIZE;
	for (size_t i = 0; i < len; i++) {
		int v = mw_b64url_value((unsigned char)in[i]);

		if (v < 0)
			return -EBADMSG;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0) /* non-canonical: the last character carries stray bits */
		return -EBADMSG;
	*ret_len = n;
	return 0;
}

int mw_b64url_decode_alloc(const char *in, size_t len, size_t max, unsigned char **ret_buf,
			   size_t *ret_len)
{
	size_t need = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0), n;
	unsigned char *buf;
	int r;

	if (len % 4 == 1)
		return -EBADMSG;
	if (need > max)
		return -EMSGSIZE;
	buf = malloc(need + 1);
	if (!buf)
		return -ENOMEM;
	r = mw_b64url_decode(in, len, buf, need, &n);
	if (r < 0) {
		explicit_bzero(buf, need + 1);
		free(buf);
		return r;
	}
	buf[n] = 0;
	*ret_buf = buf;
	*ret_len = n;
	return 0;
}

int mw_json_check_depth(const char *s, size_t len, unsigned max)
{
	unsigned depth = 0;
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '{' || c == '[') {
			if (++depth > max)
				return -EBADMSG;
		} else if ((c == '}' || c == ']') && depth > 0) {
			depth--;
		}
	}
	return 0;
}

int mw_jwt_fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	ERR_clear_error();
	return r;
}

/* Why jansson refused a document, without its error text: that quotes the input ("near
 * '...'"), and a JWKS fetched from a misconfigured URL may be anything, secrets included. */
static const char *json_reason(const json_error_t *e)
{
	switch (json_error_code(e)) {
	case json_error_out_of_memory:
		return "out of memory";
	case json_error_stack_overflow:
		return "nested too deep";
	case json_error_invalid_utf8:
		return "invalid UTF-8";
	case json_error_premature_end_of_input:
		return "unexpected end of input";
	case json_error_end_of_input_expected:
		return "text after the document";
	case json_error_null_character:
	case json_error_null_byte_in_key:
		return "NUL character";
	case json_error_duplicate_key:
		return "duplicate member";
	case json_error_numeric_overflow:
		return "number out of range";
	default:
		return "invalid syntax";
	}
}

/* A base64url member of exactly want bytes (0: any length up to max). */
static int jwk_member(json_t *o, const char *name, size_t want, size_t max, unsigned char *out,
		      size_t *ret_len)
{
	json_t *v = json_object_get(o, name);
	size_t n;
	int r;

	if (!json_is_string(v))
		return -EINVAL;
	r = mw_b64url_decode(json_string_value(v), json_string_length(v), out, max, &n);
	if (r < 0 || n == 0 || (want && n != want))
		return -EINVAL;
	*ret_len = n;
	return 0;
}

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;

	if (!params)
		return NULL;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

static bool pkey_public_ok(EVP_PKEY *pkey)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	bool ok = ctx && EVP_PKEY_public_check(ctx) == 1;

	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static int jwk_rsa(json_t *o, struct mw_jwk *k)
{
	unsigned char n[JWK_MAX_COMPONENT_BYTES], e[JWK_MAX_E_BYTES];
	size_t nlen, elen, skip = 0;
	OSSL_PARAM_BLD *bld = NULL;
	BIGNUM *bn = NULL, *be = NULL;
	int bits;

	if (jwk_member(o, "n", 0, sizeof(n), n, &nlen) < 0 ||
	    jwk_member(o, "e", 0, sizeof(e), e, &elen) < 0) {
		k->reason = "bad RSA n or e";
		return -EINVAL;
	}
	while (skip < nlen && n[skip] == 0)
		skip++;
	bits = (int)(nlen - skip) * 8;
	if (skip < nlen)
		for (unsigned char top = n[skip]; !(top & 0x80); top <<= 1)
			bits--;
	if (bits < MW_JWK_RSA_MIN_BITS || bits > MW_JWK_RSA_MAX_BITS) {
		k->reason = "RSA modulus size out of range";
		return -EINVAL;
	}
	if (!(n[nlen - 1] & 1) || !(e[elen - 1] & 1) || (elen == 1 && e[0] < 3)) {
		k->reason = "RSA n or e even or e too small";
		return -EINVAL;
	}
	bn = BN_bin2bn(n, (int)nlen, NULL);
	be = BN_bin2bn(e, (int)elen, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (bn && be && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
		k->pkey = pkey_from_params("RSA", bld);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	if (!k->pkey) {
		k->reason = "RSA key not accepted by OpenSSL";
		return -EINVAL;
	}
	k->kind = MW_JWK_RSA;
	return 0;
}

static int jwk_ec(json_t *o, const char *crv, struct mw_jwk *k)
{
	unsigned char pub[1 + 2 * 48];
	size_t size, xlen, ylen;
	OSSL_PARAM_BLD *bld;

	if (strcmp(crv, "P-256") == 0) {
		k->kind = MW_JWK_EC_P256;
		size = 32;
	} else if (strcmp(crv, "P-384") == 0) {
		k->kind = MW_JWK_EC_P384;
		size = 48;
	} else {
		k->reason = "unsupported EC curve";
		return -EOPNOTSUPP;
	}
	pub[0] = 0x04; /* uncompressed point; RFC 7518 6.2.1.2: x and y are full length */
	if (jwk_member(o, "x", size, size, pub + 1, &xlen) < 0 ||
	    jwk_member(o, "y", size, size, pub + 1 + size, &ylen) < 0) {
		k->reason = "bad EC x or y";
		return -EINVAL;
	}
	bld = OSSL_PARAM_BLD_new();
	if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, crv, 0) &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * size))
		k->pkey = pkey_from_params("EC", bld);
	OSSL_PARAM_BLD_free(bld);
	if (!k->pkey || !pkey_public_ok(k->pkey)) {
		k->reason = "EC point not on the curve";
		return -EINVAL;
	}
	return 0;
}

static int jwk_okp(json_t *o, const char *crv, struct mw_jwk *k)
{
	unsigned char x[32];
	size_t xlen;
	OSSL_PARAM_BLD *bld;

	if (strcmp(crv, "Ed25519") != 0) {
		k->reason = "unsupported OKP curve";
		return -EOPNOTSUPP;
	}
	if (jwk_member(o, "x", sizeof(x), sizeof(x), x, &xlen) < 0) {
		k->reason = "bad OKP x";
		return -EINVAL;
	}
	bld = OSSL_PARAM_BLD_new();
	if (bld && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, x, sizeof(x)))
		k->pkey = pkey_from_params("ED25519", bld);
	OSSL_PARAM_BLD_free(bld);
	if (!k->pkey) {
		k->reason = "Ed25519 key not accepted by OpenSSL";
		return -EINVAL;
	}
	k->kind = MW_JWK_ED25519;
	return 0;
}

/* One JWK -> k. 0: usable; -EOPNOTSUPP: not for us; -EINVAL: malformed or weak. */
static int jwk_from_json(json_t *o, const struct mw_jwks_opts *opts, struct mw_jwk *k)
{
	json_t *kid = json_object_get(o, "kid"), *kty = json_object_get(o, "kty");
	json_t *use = json_object_get(o, "use"), *ops = json_object_get(o, "key_ops");
	json_t *alg = json_object_get(o, "alg"), *crv = json_object_get(o, "crv"), *v;
	const char *t;
	size_t i;
	int a = -1, r;

	if (kid) {
		if (!json_is_string(kid) || json_string_length(kid) > MW_JWK_MAX_KID ||
		    strlen(json_string_value(kid)) != json_string_length(kid)) {
			k->reason = "bad kid";
			return -EINVAL;
		}
		strcpy(k->kid, json_string_value(kid));
		k->has_kid = true;
	}
	if (!json_is_string(kty) || (use && !json_is_string(use)) || (ops && !json_is_array(ops)) ||
	    (alg && !json_is_string(alg)) || (crv && !json_is_string(crv))) {
		k->reason = "bad kty, use, key_ops, alg or crv";
		return -EINVAL;
	}
	if (use && strcmp(json_string_value(use), "sig") != 0) {
		k->reason = "use is not sig";
		return -EOPNOTSUPP;
	}
	if (ops) {
		bool verify = false;

		json_array_foreach(ops, i, v)
			verify |= json_is_string(v) && strcmp(json_string_value(v), "verify") == 0;
		if (!verify) {
			k->reason = "key_ops lack verify";
			return -EOPNOTSUPP;
		}
	}
	if (alg) {
		a = jwt_alg_from_string(json_string_value(alg));
		if (a < 0) {
			k->reason = "unsupported alg";
			return -EOPNOTSUPP;
		}
	}
	t = json_string_value(kty);
	if (strcmp(t, "RSA") == 0)
		r = jwk_rsa(o, k);
	else if (strcmp(t, "EC") == 0 && crv)
		r = jwk_ec(o, json_string_value(crv), k);
	else if (strcmp(t, "OKP") == 0 && crv)
		r = jwk_okp(o, json_string_value(crv), k);
	else if (strcmp(t, "EC") == 0 || strcmp(t, "OKP") == 0)
		return k->reason = "missing crv", -EINVAL;
	else
		return k->reason = "unsupported kty", -EOPNOTSUPP;
	if (r < 0)
		return r;
	if (a >= 0 && jwk_kind_for_alg(a) != k->kind) {
		k->reason = "alg does not fit the key type";
		return -EINVAL;
	}
	if (a >= 0)
		k->algs = MW_JWT_ALG_BIT(a);
	else if (k->kind == MW_JWK_RSA)
		k->algs = opts && opts->rsa_algs ? opts->rsa_algs : MW_JWT_ALGS_RS;
	else
		k->algs = MW_JWT_ALG_BIT(k->kind == MW_JWK_EC_P256   ? MW_JWT_ES256
					 : k->kind == MW_JWK_EC_P384 ? MW_JWT_ES384
								     : MW_JWT_EDDSA);
	return 0;
}

/* Private members are ignored (only public parts are imported) but counted. */
static bool jwk_has_private(json_t *o)
{
	static const char *const private_members[] = {
		"d", "p", "q", "dp", "dq", "qi", "oth", "k"
	};

	for (size_t i = 0; i < ARRAY_SIZE(private_members); i++)
		if (json_object_get(o, private_members[i]))
			return true;
	return false;
}

static const struct mw_jwk *jwks_find_kid(const struct mw_jwks *s, const char *kid, bool usable)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->keys[i].has_kid && !!s->keys[i].pkey == usable &&
		    strcmp(s->keys[i].kid, kid) == 0)
			return &s->keys[i];
	return NULL;
}

int jwks_parse(const char *json, size_t len, const struct mw_jwks_opts *opts,
	       struct mw_jwks **ret_jwks, char *err, size_t errlen)
{
	json_auto_t *root = NULL;
	struct mw_jwks *s = NULL;
	json_error_t jerr;
	json_t *keys, *o;
	size_t i;

	if (!json || !ret_jwks)
		return mw_jwt_fail(err, errlen, -EINVAL, "no JWKS");
	if (opts && (opts->rsa_algs & ~(MW_JWT_ALGS_RS | MW_JWT_ALGS_PS)))
		return mw_jwt_fail(err, errlen, -EINVAL, "rsa_algs names a non-RSA algorithm");
	if (len > MW_JWKS_MAX_BYTES)
		return mw_jwt_fail(err, errlen, -EBADMSG, "JWKS larger than %d bytes",
			       MW_JWKS_MAX_BYTES);
	if (mw_json_check_depth(json, len, MW_JWT_MAX_JSON_DEPTH) < 0)
		return mw_jwt_fail(err, errlen, -EBADMSG, "JWKS nested too deep");
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return mw_jwt_fail(err, errlen, -EBADMSG, "JWKS is not JSON: line %d, column %d: %s",
			       jerr.line, jerr.column, json_reason(&jerr));
	keys = json_object_get(root, "keys");
	if (!json_is_array(keys))
		return mw_jwt_fail(err, errlen, -EBADMSG, "JWKS has no \"keys\" array");
	if (json_array_size(keys) > MW_JWKS_MAX_KEYS)
		return mw_jwt_fail(err, errlen, -EBADMSG, "JWKS has more than %d keys",
			       MW_JWKS_MAX_KEYS);
	s = calloc(1, sizeof(*s));
	if (s)
		s->keys = calloc(json_array_size(keys) + 1, sizeof(*s->keys));
	if (!s || !s->keys) {
		jwks_free(s);
		return mw_jwt_fail(err, errlen, -ENOMEM, "out of memory");
	}
	json_array_foreach(keys, i, o) {
		struct mw_jwk *k = &s->keys[s->n];
		int r = -EINVAL;

		*k = (struct mw_jwk){};
		if (json_is_object(o))
			r = jwk_from_json(o, opts, k);
		else
			k->reason = "not an object";
		if (json_is_object(o) && jwk_has_private(o))
			s->info.n_private++;
		if (r == 0 && k->has_kid && jwks_find_kid(s, k->kid, true)) {
			s->info.n_duplicate_kid++;
			r = 1;
		} else if (r == 0) {
			s->info.n_keys++;
			s->n++;
			continue;
		} else if (r == -EOPNOTSUPP) {
			s->info.n_unsupported++;
		} else {
			s->info.n_invalid++;
		}
		EVP_PKEY_free(k->pkey);
		k->pkey = NULL;
		/* Keep a skipped key's kid (once) so its tokens are refused, not refetched. */
		if (r < 0 && k->has_kid && !jwks_find_kid(s, k->kid, false))
			s->n++;
	}
	if (s->info.n_keys == 0) {
		struct mw_jwks_info info = s->info;

		jwks_free(s);
		return mw_jwt_fail(err, errlen, -ENOKEY,
			       "JWKS has no usable key (%zu unsupported, %zu invalid)",
			       info.n_unsupported, info.n_invalid);
	}
	ERR_clear_error();
	*ret_jwks = s;
	return 0;
}

int jwks_parse_pem(const char *pem, size_t len, enum mw_jwt_alg alg, const char *kid,
		   struct mw_jwks **ret_jwks, char *err, size_t errlen)
{
	struct mw_jwks *s = NULL;
	struct mw_jwk *k;
	char group[32] = "";
	BIO *bio;
	EVP_PKEY *pkey;
	int kind = -1;

	if (!pem || !ret_jwks || (unsigned)alg >= _MW_JWT_ALG_MAX || len > MW_JWKS_MAX_BYTES ||
	    len > INT32_MAX || (kid && strlen(kid) > MW_JWK_MAX_KID))
		return mw_jwt_fail(err, errlen, -EINVAL, "bad PEM key arguments");
	bio = BIO_new_mem_buf(pem, (int)len);
	pkey = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (!pkey)
		return mw_jwt_fail(err, errlen, -EBADMSG, "no PEM public key");
	if (EVP_PKEY_is_a(pkey, "RSA") && EVP_PKEY_get_bits(pkey) >= MW_JWK_RSA_MIN_BITS &&
	    EVP_PKEY_get_bits(pkey) <= MW_JWK_RSA_MAX_BITS)
		kind = MW_JWK_RSA;
	else if (EVP_PKEY_is_a(pkey, "ED25519"))
		kind = MW_JWK_ED25519;
	else if (EVP_PKEY_is_a(pkey, "EC") &&
		 EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
						sizeof(group), NULL) == 1)
		kind = strcmp(group, "prime256v1") == 0	 ? MW_JWK_EC_P256
		       : strcmp(group, "secp384r1") == 0 ? MW_JWK_EC_P384
							 : -1;
	if (kind < 0 || (enum mw_jwk_kind)kind != jwk_kind_for_alg(alg)) {
		EVP_PKEY_free(pkey);
		return mw_jwt_fail(err, errlen, -EINVAL, "PEM key does not fit %s (or is too weak)",
			       jwt_alg_to_string(alg));
	}
	s = calloc(1, sizeof(*s));
	if (s)
		s->keys = calloc(1, sizeof(*s->keys));
	if (!s || !s->keys) {
		EVP_PKEY_free(pkey);
		jwks_free(s);
		return mw_jwt_fail(err, errlen, -ENOMEM, "out of memory");
	}
	k = &s->keys[0];
	k->pkey = pkey;
	k->kind = kind;
	k->algs = MW_JWT_ALG_BIT(alg);
	if (kid) {
		strcpy(k->kid, kid);
		k->has_kid = true;
	}
	s->n = 1;
	s->info.n_keys = 1;
	ERR_clear_error();
	*ret_jwks = s;
	return 0;
}

void jwks_get_info(const struct mw_jwks *jwks, struct mw_jwks_info *ret_info)
{
	*ret_info = jwks ? jwks->info : (struct mw_jwks_info){};
}

struct mw_jwks *jwks_free(struct mw_jwks *jwks)
{
	if (!jwks)
		return NULL;
	for (size_t i = 0; i < jwks->n; i++)
		EVP_PKEY_free(jwks->keys[i].pkey);
	free(jwks->keys);
	free(jwks);
	return NULL;
}
