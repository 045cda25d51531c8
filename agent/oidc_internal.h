/* oidc_internal.h: what oidc.c (configuration, issuers, cache, verification, refresh policy)
 * and oidc_fetch.c (getting an issuer's key bytes: discovery and JWKS over libcurl, or a
 * local file) share. Not for other modules; they use oidc.h.
 *
 * Promises as oidc.h: never logs; 0 or a negative errno; err gets one line safe to log;
 * ret_* written only on success. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwt.h"
#include "util.h"

#define OIDC_SHOW_MAX 48 /* token- or server-supplied strings in messages */

/* Where an issuer's keys come from: its configuration, owned by the caller. */
struct oidc_source {
	const char *issuer;    /* for discovery */
	const char *jwks_uri;  /* NULL: discover it */
	const char *jwks_file; /* non-NULL: read this JWKS or PEM file instead of fetching */
	const char *ca_file;   /* NULL: the system's CAs */
	int pem_alg;	       /* -1: try the algorithms a PEM key can have */
};

/* https, or http to a loopback host; an issuer also has no query or fragment.
 * Returns 0 or -EINVAL with *ret_why (a static string) set. */
int oidc_url_check(const char *url, bool issuer, const char **ret_why);

/* The network or file part of a refresh: the key set, the SHA-256 of the bytes it was parsed
 * from (all 0xff when hashing failed, so it counts as changed) and the response's
 * Cache-Control max-age (0: none, or read from a file). Blocking; takes no lock. */
int oidc_fetch_keys(const struct oidc_source *src, struct mw_jwks **ret_jwks,
		    unsigned char ret_md[32], uint32_t *ret_max_age, char *err, size_t errlen);

static inline _printf_(4, 5) int oidc_fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* At most max printable ASCII characters of s, for messages. */
static inline const char *oidc_show(const char *s, size_t max, char *buf, size_t size)
{
	size_t n = 0;

	for (; s && *s && n + 4 < size; s++) {
		if (n >= max) {
			memcpy(buf + n, "...", 3);
			n += 3;
			break;
		}
		buf[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	}
	buf[n] = '\0';
	return buf;
}

#define SHOW(s) oidc_show((s), OIDC_SHOW_MAX, (char[OIDC_SHOW_MAX + 8]){ 0 }, OIDC_SHOW_MAX + 8)

static inline void oidc_wipe_free(void *p, size_t n)
{
	if (!p)
		return;
	explicit_bzero(p, n);
	free(p);
}
