/* jwt.h: OIDC Bearer JWT access tokens: JWK sets (jwk.c) and JWS compact verification with
 * claim checks (jwt.c), on OpenSSL 3 EVP and jansson.
 *
 * Owns: a key set (struct mw_jwks, one EVP_PKEY per usable key) and, per verified token, a
 * claims record (struct mw_jwt_claims) that never holds the token itself, only its SHA-256.
 * Promises: pure (no network, files, clock or logging; the caller reads files, fetches JWKS
 * and passes the time in); a key set is immutable once parsed, so any number of threads may
 * verify against it while the caller swaps in a refreshed one (free the old one after);
 * every function returns 0 or a negative errno and writes ret_* only on success; err (may be
 * NULL) gets one line that is safe to log: it never contains the token nor anything from its
 * payload, and header strings in it (kid, alg, typ) are cut to 48 printable ASCII characters;
 * nor does it quote a JWKS document (a parse error gives line, column and a generic reason).
 * OpenSSL's error queue is left empty. Decoded header and payload bytes are wiped before they
 * are freed.
 *
 * Order: size, split, header (strict base64url, JSON without duplicate members, depth bound),
 * alg gate, the rest of the header, key, signature; only then is the payload decoded and
 * parsed; then typ, iss, aud, exp, nbf, iat; then the claims are extracted.
 *
 * Algorithms: RS256/384/512, PS256/384/512, ES256 (P-256), ES384 (P-384), EdDSA (Ed25519).
 * The algorithm comes from the key, never from the token alone (RFC 8725 2.1, 3.1):
 * - a JWK with "alg" allows exactly that algorithm, which must fit its kty/crv;
 * - a JWK without "alg": EC P-256 -> ES256, P-384 -> ES384, OKP Ed25519 -> EdDSA, RSA ->
 *   mw_jwks_opts.rsa_algs (default RS256|RS384|RS512; PS* only when configured there);
 * - a PEM key gets the one algorithm its caller names.
 * The header's alg must be one the selected key allows. "none" (any case), HS*, ES512 and
 * anything else are refused with -EKEYREJECTED as soon as the header is parsed: before its
 * other members, the signature part (an unsecured token's is empty) or any key are looked at.
 *
 * Key selection: a token with a kid uses the usable key with that kid; if there is none, a
 * key that was skipped with that kid refuses the token (-EKEYREJECTED, so the caller does not
 * refetch the JWKS for a key it cannot use); otherwise keys without a kid whose algorithms fit
 * are tried (a PEM key has no kid unless given one), and if none verifies it is still -ENOKEY.
 * A token without a kid tries every usable key whose algorithms include its alg, in JWKS
 * order: -EKEYREJECTED if none verifies, -ENOKEY if no key fits the alg.
 *
 * JWKS rules: "keys" must be an array of at most MW_JWKS_MAX_KEYS objects. A key is skipped
 * (and counted in mw_jwks_info) when its kty/crv/alg is unsupported (oct, Ed448, P-521,
 * RSA-OAEP...), its "use" is not "sig", its "key_ops" lack "verify", it is malformed, or it is
 * weak (RSA modulus under MW_JWK_RSA_MIN_BITS). Private members (d, p, q, ...) are ignored:
 * only the public part is imported; n_private counts such keys so the caller can warn that
 * the issuer publishes secrets. Duplicate kid: the first usable key with that kid wins,
 * later ones are dropped and counted. A set with no usable key is -ENOKEY.
 *
 * Header rules: "crit" is refused whatever it lists (no extension is understood). jku, x5u,
 * jwk and x5c are ignored, never fetched nor trusted: a key embedded or pointed to by the
 * token cannot verify it, so the token still fails unless a configured key signed it.
 *
 * Claims: iss must equal expect.issuer and aud (string or array) contain expect.audience
 * (both mandatory); exp is required; nbf and iat are honoured; leeway is capped at
 * MW_JWT_MAX_LEEWAY_SEC. typ, when expected, compares case-insensitively with an optional
 * "application/" prefix on either side. client_id falls back to azp, scope to scp (string or
 * array, joined with spaces). A string claim too long for its field refuses the token rather
 * than being cut (cut subjects could collide). groups_claim names a top-level claim or, when
 * no claim has that exact name (names like "https://x.example/roles" contain dots), a dotted
 * path into nested objects ("realm_access.roles"); its value is an array of strings or a
 * space-separated string; an absent claim means no groups, a malformed one refuses the token.
 *
 * Errors from jwt_verify():
 *   -EINVAL       bad arguments (NULL pointers, no issuer or audience, now_sec 0)
 *   -EBADMSG      malformed: size, base64url, JSON, duplicate keys, depth, claim types,
 *                 missing exp, crit, empty signature, oversize claims or groups
 *   -EKEYREJECTED bad signature, alg none/HS* or unsupported (whatever the signature part
 *                 holds, empty included), alg not allowed by the key, unusable key
 *   -ENOKEY       no key with that kid (or none fits the alg): refresh the JWKS, rate limited
 *   -EKEYEXPIRED  now >= exp + leeway
 *   -ETIME        not yet valid: nbf or iat later than now + leeway
 *   -EACCES       wrong iss, aud or typ
 *   -ENOMEM
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define MW_JWT_MAX_TOKEN_BYTES 16384
#define MW_JWT_MAX_JSON_DEPTH 16 /* header, payload and JWKS nesting */
#define MW_JWT_MAX_LEEWAY_SEC 60
#define MW_JWT_MAX_GROUPS 256
#define MW_JWT_MAX_GROUP_BYTES 255
#define MW_JWT_MAX_AUD 64	  /* entries in an aud array */
#define MW_JWT_MAX_CLAIM_PATH 255 /* groups_claim */
#define MW_JWKS_MAX_BYTES (256 * 1024)
#define MW_JWKS_MAX_KEYS 64
#define MW_JWK_MAX_KID 127
#define MW_JWK_RSA_MIN_BITS 2048
#define MW_JWK_RSA_MAX_BITS 8192

enum mw_jwt_alg {
	MW_JWT_RS256,
	MW_JWT_RS384,
	MW_JWT_RS512,
	MW_JWT_PS256,
	MW_JWT_PS384,
	MW_JWT_PS512,
	MW_JWT_ES256,
	MW_JWT_ES384,
	MW_JWT_EDDSA,
	_MW_JWT_ALG_MAX,
};

#define MW_JWT_ALG_BIT(a) (1u << (a))
#define MW_JWT_ALGS_RS                                                                             \
	(MW_JWT_ALG_BIT(MW_JWT_RS256) | MW_JWT_ALG_BIT(MW_JWT_RS384) | MW_JWT_ALG_BIT(MW_JWT_RS512))
#define MW_JWT_ALGS_PS                                                                             \
	(MW_JWT_ALG_BIT(MW_JWT_PS256) | MW_JWT_ALG_BIT(MW_JWT_PS384) | MW_JWT_ALG_BIT(MW_JWT_PS512))

/* "RS256" -> MW_JWT_RS256; -1 for anything unsupported (none, HS256, ES512, "rs256"...). */
int jwt_alg_from_string(const char *s);
const char *jwt_alg_to_string(enum mw_jwt_alg a);

struct mw_jwks;

struct mw_jwks_opts {
	/* MW_JWT_ALG_BIT()s an RSA JWK without "alg" allows (RS* and PS* only);
	 * 0: MW_JWT_ALGS_RS */
	unsigned rsa_algs;
};

/* What parsing did with each entry of "keys", for the caller to log. */
struct mw_jwks_info {
	size_t n_keys;		/* usable keys */
	size_t n_unsupported;	/* kty, crv, alg, use or key_ops not for us */
	size_t n_invalid;	/* malformed or weak */
	size_t n_duplicate_kid; /* usable keys dropped because an earlier key had their kid */
	size_t n_private;	/* entries carrying private members (ignored) */
};

/* A JWKS document ({"keys": [...]}, at most MW_JWKS_MAX_BYTES) -> a key set. opts may be NULL. */
int jwks_parse(const char *json, size_t len, const struct mw_jwks_opts *opts,
	       struct mw_jwks **ret_jwks, char *err, size_t errlen);

/* One PEM SubjectPublicKeyInfo ("BEGIN PUBLIC KEY") -> a one-key set allowing exactly alg,
 * which must fit the key (RSA at least MW_JWK_RSA_MIN_BITS; EC curve per ES256/ES384).
 * kid may be NULL (the key then serves tokens with any kid). */
int jwks_parse_pem(const char *pem, size_t len, enum mw_jwt_alg alg, const char *kid,
		   struct mw_jwks **ret_jwks, char *err, size_t errlen);

void jwks_get_info(const struct mw_jwks *jwks, struct mw_jwks_info *ret_info);
struct mw_jwks *jwks_free(struct mw_jwks *jwks);

struct mw_jwt_expect {
	const char *issuer;	  /* required, exact match */
	const char *audience;	  /* required, one of aud */
	const char *typ;	  /* NULL: not checked; e.g. "at+jwt" (RFC 9068) */
	const char *groups_claim; /* NULL: no groups; "groups", "realm_access.roles" */
	uint32_t leeway_sec;	  /* capped at MW_JWT_MAX_LEEWAY_SEC */
	uint64_t now_sec;	  /* required: the caller's wall clock, Unix seconds */
};

struct mw_jwt_claims {
	char sub[256], iss[512], email[256], client_id[256], scope[1024];
	char **groups; /* n_groups strings, in token order */
	size_t n_groups;
	uint64_t exp, nbf, iat; /* 0 when absent (exp never is) */
	char token_sha256[65];	/* lowercase hex of SHA-256 over the whole compact token */
	char kid[MW_JWK_MAX_KID + 1];
	char alg[16];
	json_t *payload; /* the verified claims object, for custom claims; owned */
	unsigned refs;	 /* owners besides the first (jwt_claims_ref()); atomic */
};

/* Verify a compact JWS (without "Bearer "), at most MW_JWT_MAX_TOKEN_BYTES, against keys and
 * expect. On success *ret_claims is a new record for jwt_claims_free(). */
int jwt_verify(const char *token, size_t len, const struct mw_jwks *keys,
	       const struct mw_jwt_expect *expect, struct mw_jwt_claims **ret_claims, char *err,
	       size_t errlen);

/* Claims may be shared (the token cache hands out references): a holder never changes them.
 * jwt_claims_ref() adds an owner; jwt_claims_free() drops one and frees (wiped) with the
 * last. Both are safe from several threads at once. */
struct mw_jwt_claims *jwt_claims_ref(struct mw_jwt_claims *c);
struct mw_jwt_claims *jwt_claims_free(struct mw_jwt_claims *c);

/* UNVERIFIED: NOT AUTHENTICATED, ATTACKER-CONTROLLED. Copies the "iss" of the token's payload
 * into buf (size bytes, NUL included) without checking the signature, the header or any other
 * claim. Its only legitimate use is choosing which issuer's keys and expectations to hand to
 * jwt_verify(), which then checks iss for real. Never authorize, identify, audit or cache on
 * it. -EBADMSG: no payload part, not base64url JSON object, or no "iss" string (or one holding
 * a NUL); -ENOBUFS: iss does not fit in buf; -EINVAL: bad arguments; -ENOMEM. */
int jwt_peek_issuer(const char *token, size_t len, char *buf, size_t size);
