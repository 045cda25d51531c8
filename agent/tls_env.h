/* tls_env.h: what every TLS-aware flow shares, built from the config at start and on reload:
 * the local CA and the interception contexts (tls.h), the "upstreams" rules (upstream.h) and
 * the credential each rule injects (inject.h), with the OAuth refresher threads.
 *
 * Replaced as a whole on reload; flows hold a reference to the one they started with, so a
 * credential or a rule never changes under a flow.  Loading reads the CA key and the secret
 * files (do it while those are readable); starting runs the OAuth refreshers.  Never logs:
 * errors come back as a diagnostic naming the key and the fix, never a secret. */
#pragma once

#include "ca.h"
#include "config.h"
#include "inject.h"
#include "inject_oauth.h"
#include "tls.h"
#include "upstream.h"
#include "util.h"

struct mw_tls_env {
	int refs;
	struct mw_ca *ca;	     /* NULL: no CA (intercept rules are then refused at load) */
	struct mw_tls_ctx *ctx;	     /* NULL without a CA */
	struct mw_upstreams *ups;    /* never NULL (an empty table without "upstreams") */
	struct mw_cred **cred;	     /* per rule, NULL without a credential */
	struct mw_oauth **oauth;     /* per rule, the refresher of an oauth credential */
	unsigned n_intercept, n_cred;
};

/* The CA from state_dir/ca (or $CREDENTIALS_DIRECTORY), the rules, the credentials.  A rule
 * that intercepts without a CA is an error naming `mcpwarden ca init`. */
int tls_env_load(const struct mw_config *c, struct mw_tls_env **ret, struct mw_diag *diag);
/* Start the OAuth refreshers (after privileges are dropped: they talk to the network); each
 * calls report (may be NULL) after each fetch, on its own thread (inject_oauth.h). */
int tls_env_start(struct mw_tls_env *e,
		  void (*report)(const struct mw_oauth_report *rep, void *userdata), void *userdata,
		  struct mw_diag *diag);
struct mw_tls_env *tls_env_ref(struct mw_tls_env *e);
struct mw_tls_env *tls_env_unref(struct mw_tls_env *e);

/* The credential of rule r (a pointer into e->ups), NULL without one. */
struct mw_cred *tls_env_cred(const struct mw_tls_env *e, const struct mw_upstream *r);
