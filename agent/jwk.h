/* jwk.h: internals shared by jwk.c (key sets) and jwt.c (verification). Callers use jwt.h.
 * Pure, like both. */
#pragma once

#include <openssl/evp.h>

#include "jwt.h"
#include "util.h"

enum mw_jwk_kind {
	MW_JWK_RSA,
	MW_JWK_EC_P256,
	MW_JWK_EC_P384,
	MW_JWK_ED25519,
};

struct mw_jwk {
	char kid[MW_JWK_MAX_KID + 1];
	bool has_kid;
	enum mw_jwk_kind kind;
	unsigned algs;	    /* MW_JWT_ALG_BIT()s this key verifies */
	EVP_PKEY *pkey;	    /* NULL: a skipped key, kept by kid to refuse its tokens */
	const char *reason; /* why it was skipped (static string) */
};

struct mw_jwks {
	struct mw_jwk *keys;
	size_t n;
	struct mw_jwks_info info;
};

/* One base64url character's value (RFC 4648 5), -1 for any other byte. Inline: the masking
 * detectors call it for every byte of a candidate token. */
static inline int mw_b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Strict base64url (RFC 7515 2, RFC 4648 5): alphabet only, no padding, no length % 4 == 1,
 * unused bits of the last character zero. Decodes into out (at most outsize bytes). */
int mw_b64url_decode(const char *in, size_t len, unsigned char *out, size_t outsize,
		     size_t *ret_len);
/* The same into a new NUL-terminated buffer of at most max decoded bytes. */
int mw_b64url_decode_alloc(const char *in, size_t len, size_t max, unsigned char **ret_buf,
			   size_t *ret_len);

/* 0 when JSON text nests at most max arrays/objects deep, -EBADMSG otherwise. Strings are
 * skipped (escapes included) so brackets inside them do not count. */
/* Fill err (when given) with the message, clear OpenSSL's error queue, return r. */
int mw_jwt_fail(char *err, size_t errlen, int r, const char *fmt, ...) _printf_(4, 5);
int mw_json_check_depth(const char *s, size_t len, unsigned max);

/* The key type an algorithm needs. */
enum mw_jwk_kind jwk_kind_for_alg(enum mw_jwt_alg a);
