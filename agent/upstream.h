/* upstream.h: the "upstreams" config key: per destination, what the agent does with TLS
 * (intercept, pass, block), how it verifies the real upstream (ca_file, pin) and which
 * credential it injects.
 *
 *   "upstreams": [{"match": {"host": "mcp.internal.example", "port": 443},
 *                  "tls": "intercept", "ca_file": "/etc/ssl/internal-ca.pem",
 *                  "pin": "sha256/BASE64=", "credential": {"bearer_file": "/run/..."}}]
 *
 * match.host is a DNS name, "*.suffix" (any name below suffix) or absent (any); match.port
 * absent means any.  Rules are tried in order, the first match decides; no match means
 * MW_UPSTREAM_DEFAULT_TLS.  Owns the parsed table.  Pure: parses jansson values, reads no
 * file (credentials are read by inject.c when the daemon applies the config). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "inject.h"
#include "tls.h"
#include "tls_hello.h"

#define MW_UPSTREAMS_MAX 256

enum mw_upstream_tls {
	MW_UPSTREAM_TLS_PASS = 0, /* relay the bytes; record SNI, ALPN, counts */
	MW_UPSTREAM_TLS_INTERCEPT,
	MW_UPSTREAM_TLS_BLOCK,
};

#define MW_UPSTREAM_DEFAULT_TLS MW_UPSTREAM_TLS_PASS

struct mw_upstream {
	char host[MW_TLS_SNI_MAX + 3]; /* lower case; "*.x" wildcard; "" any */
	uint16_t port;		       /* 0 any */
	enum mw_upstream_tls tls;
	char ca_file[4096]; /* "" system trust store */
	bool has_pin;
	uint8_t pin[MW_TLS_PIN_LEN];
	struct mw_cred_spec cred; /* kind MW_CRED_NONE without a credential */
};

struct mw_upstreams {
	struct mw_upstream rules[MW_UPSTREAMS_MAX];
	unsigned n;
};

/* Where a parse error is: upstreams[index].key[.subkey], and what is wrong (no secret: the
 * parser never reads one). */
struct mw_upstream_error {
	size_t index;
	char key[128];	    /* "": the element itself */
	char subkey[128];   /* "": the key itself */
	bool at_key;	    /* the key is wrong (unknown), not its value */
	char text[256];
};

/* Parse the "upstreams" array.  -EINVAL with *ret_err filled. */
int upstreams_parse(json_t *v, struct mw_upstreams **ret, struct mw_upstream_error *ret_err);
struct mw_upstreams *upstreams_free(struct mw_upstreams *u);

/* The rule for a destination: name is the SNI (or "" without one); NULL when none matches. */
const struct mw_upstream *upstreams_match(const struct mw_upstreams *u, const char *name,
					  uint16_t port);
const char *upstream_tls_name(enum mw_upstream_tls t);
