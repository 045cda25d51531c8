/* inject.h: the credentials the agent holds for upstreams, and the request-head rewrite that
 * puts them in place of whatever the gateway sent.
 *
 * Owns: the secret bytes of each credential, read from a file or a systemd credential
 * ($CREDENTIALS_DIRECTORY/NAME), and an oauth credential's client secret (its file read at
 * load too, so it may be readable by root only), kept in memory locked with mlock() where the system allows,
 * wiped with explicit_bzero() when freed.  Promises: a secret is never formatted into an
 * error, a diagnostic or a log line; callers journal the credential's name only
 * (cred_name()).  OAuth client_credentials tokens are fetched by inject_oauth.c.  Pure apart
 * from reading the secret's file. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http1.h"
#include "inspect.h" /* struct mw_bytes */

#define MW_CRED_NAME_MAX 64
#define MW_CRED_HEADER_MAX 64
#define MW_CRED_SECRET_MAX (16u * 1024) /* a secret file larger than this is refused */
#define MW_CRED_URL_MAX 2048
#define MW_CRED_FIELD_MAX 512

enum mw_cred_kind {
	MW_CRED_NONE = 0,
	MW_CRED_VALUE_FILE, /* {"header": H, "value_file": PATH}: H: <file> */
	MW_CRED_BEARER_FILE, /* {"bearer_file": PATH}: Authorization: Bearer <file> */
	MW_CRED_SYSTEMD,     /* {"credential": NAME}: H: <$CREDENTIALS_DIRECTORY/NAME> */
	MW_CRED_OAUTH,	     /* {"oauth": {...}}: Authorization: Bearer <fetched token> */
};

struct mw_cred_oauth {
	char token_endpoint[MW_CRED_URL_MAX];
	char client_id[MW_CRED_FIELD_MAX];
	char client_secret_file[4096];
	char scope[MW_CRED_FIELD_MAX];
	char audience[MW_CRED_FIELD_MAX];
	char resource[MW_CRED_URL_MAX]; /* RFC 8707 resource indicator */
	bool basic; /* client_secret_basic (RFC 6749 2.3.1); else client_secret_post */
};

/* What the config says about one upstream's credential (no secret in it). */
struct mw_cred_spec {
	enum mw_cred_kind kind;
	char name[MW_CRED_NAME_MAX];	 /* for journals: "name", else derived */
	char header[MW_CRED_HEADER_MAX]; /* default "Authorization" */
	char path[4096];		 /* value_file, bearer_file or the credential's name */
	bool bearer;			 /* prefix "Bearer " (bearer_file, oauth, "bearer": true) */
	bool keep_caller_token;		 /* the gateway's Authorization goes on unchanged */
	struct mw_cred_oauth oauth;
};

struct mw_cred;

/* Read the secret (static kinds), or the client secret and prepare the holder (oauth: empty
 * until a token is set).
 * Errors name no secret: -ENOENT, -EACCES, -EFBIG, -EINVAL (empty or with CR/LF/NUL). */
int cred_load(const struct mw_cred_spec *spec, struct mw_cred **ret);
struct mw_cred *cred_free(struct mw_cred *c);
static inline void cred_freep(struct mw_cred **c)
{
	cred_free(*c);
}
const char *cred_name(const struct mw_cred *c);
const struct mw_cred_spec *cred_spec(const struct mw_cred *c);
/* An oauth credential's client secret (NUL-terminated, locked memory, fixed from load on),
 * NULL for the other kinds.  Never to be formatted into a message. */
const char *cred_client_secret(const struct mw_cred *c);
/* Replace the held value.  Thread-safe with inject_rewrite_head(). */
int cred_set_secret(struct mw_cred *c, const char *value, size_t len);
/* The same for a value that is unusable from expires_usec on (CLOCK_MONOTONIC, as
 * mw_now_mono_usec(); 0: never): an oauth token, set by its refresher. */
int cred_set_token(struct mw_cred *c, const char *value, size_t len, uint64_t expires_usec);
/* Whether a usable value is held (an oauth credential before its first token, or whose
 * token expired without a refresh: no). */
bool cred_ready(struct mw_cred *c);

/* Rewrite a request head: the start line and every field but the credential fields
 * (Authorization and Proxy-Authorization, and the rule's header; Authorization is kept with
 * keep_caller_token), then the held credential, then the empty line, appended to out.
 * -EAGAIN when an oauth credential holds no token yet, or only an expired one; on an error
 * nothing is appended. */
int inject_rewrite_head(struct mw_cred *c, const struct http1_head *head, struct mw_bytes *out);
