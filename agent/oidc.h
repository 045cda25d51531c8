/* oidc.h: the identity provider side of token verification: per configured issuer, the key
 * set (OIDC discovery + JWKS over HTTPS with libcurl, or a local JWKS/PEM file), its refresh
 * policy, and a cache of verified tokens.
 *
 * Owns: struct mw_oidc, built from the config's "identity" object and immutable in shape
 * afterwards (a reload builds a new one); per issuer a key set that oidc_refresh() replaces.
 * Promises: never logs (every function returns 0 or a negative errno and, where it has err,
 * one line that is safe to log: no token, no key material); ret_* written only on success.
 *
 * Threads: oidc_refresh() blocks on the network (connect MW_OIDC_CONNECT_TIMEOUT_MS, total
 * MW_OIDC_TIMEOUT_MS per request) and is meant for a worker thread; oidc_verify() never
 * touches the network or files and may run on any number of threads at the same time. Both
 * share a mutex only for bookkeeping: key sets are reference counted, verification runs
 * outside the lock, and an old key set is freed by whoever drops its last reference.
 *
 * Refresh policy, for the worker: oidc_refresh_due() says whether an issuer wants fetching
 * now, oidc_next_due() when the next one will (to sleep until then, or until oidc_verify()
 * returned -ENOKEY). An issuer is due when it has no keys yet, when its schedule expires
 * ("refresh", default MW_OIDC_REFRESH_DEFAULT_SEC; a Cache-Control max-age shortens it but
 * never below MW_OIDC_MAX_AGE_MIN_SEC), or early after a token named an unknown kid — at most
 * once per MW_OIDC_KID_REFRESH_MIN_SEC per issuer. A failed refresh keeps the previous key
 * set, reports the error and is retried with a backoff starting at
 * MW_OIDC_RETRY_MIN_SEC (doubling, capped at the schedule).
 *
 * Transport: https with peer and host verification (a per-issuer "ca_file" for private CAs);
 * plain http only when the URL's host is loopback (127.0.0.0/8, ::1, localhost), for tests
 * and local IdPs. Discovery ("<issuer>/.well-known/openid-configuration") must name exactly
 * the configured issuer. Redirects are followed only to the same scheme, host and port (at
 * most MW_OIDC_MAX_REDIRECTS). Responses above MW_JWKS_MAX_BYTES (discovery:
 * MW_OIDC_DISCOVERY_MAX_BYTES) are refused. Proxy environment variables are ignored.
 *
 * Verified-token cache: keyed by the token's SHA-256 (the token itself is never stored),
 * entries live until the token's exp, at most MW_OIDC_TOKEN_CACHE_MAX of them (the entry
 * closest to expiry is evicted), and are dropped when their issuer's JWKS changes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "jwt.h"
#include "util.h"

#define MW_OIDC_MAX_ISSUERS 16
#define MW_OIDC_MAX_URL 2048
#define MW_OIDC_REFRESH_DEFAULT_SEC 600	    /* scheduled JWKS refresh */
#define MW_OIDC_REFRESH_MIN_SEC 60	    /* bounds on "refresh" */
#define MW_OIDC_REFRESH_MAX_SEC 86400
#define MW_OIDC_MAX_AGE_MIN_SEC 60	    /* a smaller Cache-Control max-age counts as this */
#define MW_OIDC_KID_REFRESH_MIN_SEC 30	    /* early refreshes on an unknown kid, per issuer */
#define MW_OIDC_RETRY_MIN_SEC 30	    /* first retry after a failed refresh */
#define MW_OIDC_LEEWAY_DEFAULT_SEC 30	    /* "leeway"; at most MW_JWT_MAX_LEEWAY_SEC */
#define MW_OIDC_CONNECT_TIMEOUT_MS 5000
#define MW_OIDC_TIMEOUT_MS 10000
#define MW_OIDC_MAX_REDIRECTS 3
#define MW_OIDC_DISCOVERY_MAX_BYTES (64 * 1024)
#define MW_OIDC_TOKEN_CACHE_MAX 4096	    /* verified tokens remembered (power of two) */
#define MW_OIDC_GROUPS_CLAIM_DEFAULT "groups"

struct mw_oidc;

/* What an issuer's refresh state looks like, for status output and for the caller's logs. */
struct mw_oidc_status {
	const char *issuer;	    /* owned by the struct mw_oidc */
	bool have_keys;
	struct mw_jwks_info info;   /* of the current key set (n_private: the issuer leaks) */
	uint64_t fetched_usec;	    /* monotonic clock of the last success, 0 never */
	uint64_t next_due_usec;	    /* monotonic clock */
	uint32_t max_age_sec;	    /* from the last response's Cache-Control, 0 none */
	unsigned failures;	    /* consecutive failed refreshes */
	char last_error[256];	    /* of the last failed refresh, "" after a success */
};

/* Parse the config's "identity" object (NULL: no identity section: no issuers, tokens not
 * required). file, text and len are the config file's name and raw text, so that errors
 * name file:line:column and the key ("identity.oidc[0].audience"); text may be NULL.
 * Unknown keys are errors. Nothing is fetched here: every issuer starts due. */
int oidc_from_json(json_t *identity, const char *file, const char *text, size_t len,
		   struct mw_oidc **ret_oidc, struct mw_diag *diag);
struct mw_oidc *oidc_free(struct mw_oidc *o);
static inline void oidc_freep(struct mw_oidc **o)
{
	oidc_free(*o);
}

bool oidc_require_token(const struct mw_oidc *o);
size_t oidc_n_issuers(const struct mw_oidc *o);
/* -ERANGE for an index out of range. */
int oidc_get_status(struct mw_oidc *o, size_t issuer_index, struct mw_oidc_status *ret_status);

/* Fetch (discovery, then JWKS; or read jwks_file) and swap the new key set in. Blocking.
 * On failure the previous key set stays and the error is returned (and kept for status). */
int oidc_refresh(struct mw_oidc *o, size_t issuer_index, char *err, size_t errlen);
bool oidc_refresh_due(struct mw_oidc *o, size_t issuer_index);
/* The monotonic time (usec) when some issuer is next due; UINT64_MAX with no issuers. */
uint64_t oidc_next_due(struct mw_oidc *o);

/* Verify a compact JWS (without "Bearer "). The issuer is chosen by the token's unverified
 * "iss" (only to pick whose keys and expectations apply); everything is then verified by
 * jwt_verify(). now_sec is the wall clock in Unix seconds. Errors are jwt_verify()'s, plus
 * -EACCES for an iss no issuer is configured for; -ENOKEY (unknown kid, or no keys yet) also
 * marks the issuer for an early refresh: wake the worker. */
int oidc_verify(struct mw_oidc *o, const char *token, size_t len, uint64_t now_sec,
		struct mw_jwt_claims **ret_claims, char *err, size_t errlen);

/* Tests: replace the monotonic clock (usec) that drives the refresh schedule. */
void oidc_set_clock(struct mw_oidc *o, uint64_t (*now_mono_usec)(void));
/* Cache-Control -> max-age seconds: 0 for none, no-store, no-cache or malformed. Pure. */
uint32_t oidc_parse_max_age(const char *cache_control);
struct mw_oidc_cache_stats {
	size_t entries;		      /* at most MW_OIDC_TOKEN_CACHE_MAX */
	uint64_t hits, misses, evictions; /* evictions: live entries pushed out by a full cache */
};

void oidc_cache_stats(struct mw_oidc *o, struct mw_oidc_cache_stats *ret_stats);
