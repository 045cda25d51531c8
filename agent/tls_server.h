/* tls_server.h: what a passed (not intercepted) TLS flow shows in clear from the server's
 * side: the ServerHello (selected version, cipher suite, ALPN in TLS 1.2) and, for TLS 1.2 and
 * older, the server's leaf certificate (subject and SHA-256 fingerprint).  TLS 1.3 encrypts
 * everything after ServerHello, so there only the version and cipher suite are seen.
 *
 * Reads the server's first bytes across records without consuming them, like tls_hello.h:
 * -EAGAIN until enough is there.  Bounded by MW_TLS_SERVER_FLIGHT_MAX.  Pure (OpenSSL only
 * decodes the certificate), no logging; the result is written only on success. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tls_hello.h"

#define MW_TLS_SERVER_FLIGHT_MAX (64u * 1024) /* ServerHello + Certificate bytes read */
#define MW_TLS_SUBJECT_MAX 256
#define MW_TLS_FINGERPRINT_MAX 96

struct mw_tls_server_hello {
	uint16_t version;      /* selected: supported_versions, else legacy_version */
	uint16_t cipher_suite;
	bool hello_retry;      /* a HelloRetryRequest (TLS 1.3) */
	char alpn[MW_TLS_ALPN_NAME_MAX + 1]; /* TLS 1.2 only; "" none or not visible */
	bool has_cert;	       /* TLS <= 1.2 full handshake: the leaf below is valid */
	char subject[MW_TLS_SUBJECT_MAX];
	char fingerprint[MW_TLS_FINGERPRINT_MAX]; /* "AB:CD:..." SHA-256 of the leaf's DER */
	size_t wire_bytes;			  /* record bytes read */
};

/* 0: complete; -EAGAIN: feed more; -EBADMSG: malformed; -E2BIG: over the limit;
 * -EPROTONOSUPPORT: not a TLS server handshake. */
int tls_server_parse(const uint8_t *buf, size_t len, struct mw_tls_server_hello *ret);
