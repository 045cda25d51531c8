/* inject_oauth.h: OAuth 2.0 client_credentials tokens (RFC 6749 4.4) for an upstream
 * credential, fetched by the agent itself from the IdP's token endpoint over libcurl, on a
 * thread of their own so no flow waits on the IdP, held in the credential (inject.h) and
 * refreshed MW_OAUTH_REFRESH_MARGIN_SEC before expiry (half-way for short lifetimes), both
 * counted on CLOCK_MONOTONIC (a wall clock step moves neither).
 * The client secret is the credential's (read at load, inject.h); the request form holding
 * it is wiped after each fetch; neither it nor a token is ever part of an error text. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "inject.h"

#define MW_OAUTH_REFRESH_MARGIN_SEC 60
#define MW_OAUTH_RETRY_SEC 5		/* after a failed fetch */
#define MW_OAUTH_EXPIRY_MARGIN_SEC 5 /* a token is not sent this close to its end (the IdP's
				      * exp is whole seconds, the upstream's clock differs); a
				      * fifth of shorter lifetimes */
#define MW_OAUTH_FAILURE_LOG_EVERY 12	/* failures in a row logged: the 1st, then every 12th
					 * (at MW_OAUTH_RETRY_SEC: once a minute) */
#define MW_OAUTH_TIMEOUT_SEC 10		/* one fetch */
#define MW_OAUTH_POLL_MSEC 1000		/* a refresher's longest wait in libcurl between checks */
#define MW_OAUTH_REPLY_MAX (64 * 1024)	/* a token response larger than this is refused */
#define MW_OAUTH_ERROR_MAX 256
#define MW_OAUTH_FORM_MAX 8192 /* the token request's body, the escaped client secret in it */
#define MW_OAUTH_NO_LIFETIME_REFRESH_SEC 3600 /* a token the IdP gave no expires_in */
#define MW_OAUTH_LIFETIME_MAX_SEC (366 * 86400LL) /* a longer expires_in counts as none */

/* One fetch: the token into the credential (usable until its expires_in ends, counted from
 * the request), its lifetime in seconds (0 when the IdP gave none).  On failure why (no
 * secret in it) is written to err. */
int oauth_fetch(struct mw_cred *c, uint64_t *ret_expires_in, char *err, size_t err_size);

/* What a refresher tells its owner after each fetch (on the refresher's thread; no secret
 * and no token in it), so the owner can log it. */
struct mw_oauth_report {
	const char *name;	/* the credential's name */
	int r;			/* 0 or the fetch's -errno */
	const char *error;	/* why, when r < 0 */
	uint64_t expires_in;	/* the new token's lifetime (s), 0: none given */
	uint64_t fetches;	/* fetches so far, this one included, failed ones too */
	bool first_token;	/* r == 0 and no fetch of this refresher worked before */
	unsigned failed_before; /* failed fetches in a row before this one */
	bool held_expired;	/* r < 0 and the last token has ended: requests get 503 */
};

struct mw_oauth;
/* Start the refresher thread for an MW_CRED_OAUTH credential (which must outlive it); report
 * (may be NULL) is called after each fetch. */
int oauth_start(struct mw_cred *c, void (*report)(const struct mw_oauth_report *rep, void *userdata),
		void *userdata, struct mw_oauth **ret);
/* Stop and free the refresher; a fetch in flight is given up at once (no report for it), so
 * this returns promptly even while the IdP does not answer. */
struct mw_oauth *oauth_stop(struct mw_oauth *o);
/* The last failure ("" when the last fetch worked), and fetches done. */
void oauth_status(struct mw_oauth *o, char *err, size_t err_size, uint64_t *ret_fetches);
