/* tls_hello.h: the TLS ClientHello reader (RFC 8446 4.1.2, RFC 5246 7.4.1.2).
 *
 * Reads a ClientHello from the first client bytes of a flow, across as many handshake records
 * as it spans, without consuming them: the relay keeps buffering and asks again until the
 * answer is not -EAGAIN.  Strict and bounded: record and handshake lengths are checked against
 * each other and against MW_TLS_HELLO_MAX, every vector length against what contains it, and
 * duplicate extensions are refused.  It returns what a checkpoint decides with: the SNI
 * host_name (validated as a DNS name, lower-cased), the ALPN list, supported_versions.
 * Pure: no allocation, no I/O, no logging; the result is written only on success. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MW_TLS_HELLO_MAX (16u * 1024)	 /* ClientHello body bytes (post-quantum keys fit) */
#define MW_TLS_RECORD_MAX (16u * 1024)	 /* plaintext record fragment, RFC 8446 5.1 */
#define MW_TLS_RECORD_HEADER 5
#define MW_TLS_SNI_MAX 253		 /* a DNS name without the trailing dot */
#define MW_TLS_ALPN_MAX 8		 /* ALPN names kept; more are counted, not kept */
#define MW_TLS_ALPN_NAME_MAX 32		 /* longer ALPN names are counted, not kept */
#define MW_TLS_VERSIONS_MAX 16		 /* supported_versions entries kept */

#define MW_TLS_VERSION_1_2 0x0303
#define MW_TLS_VERSION_1_3 0x0304

struct mw_tls_hello {
	uint16_t legacy_version;
	uint8_t random[32];
	uint8_t session_id_len;
	uint16_t n_cipher_suites;
	uint16_t n_extensions;
	bool has_sni;
	char sni[MW_TLS_SNI_MAX + 1]; /* "" without SNI */
	unsigned n_alpn;	      /* names kept in alpn[] */
	unsigned n_alpn_dropped;      /* names over the limits, not kept */
	char alpn[MW_TLS_ALPN_MAX][MW_TLS_ALPN_NAME_MAX + 1];
	unsigned n_versions; /* supported_versions; 0 when the extension is absent */
	uint16_t versions[MW_TLS_VERSIONS_MAX];
	bool has_session_ticket; /* session_ticket (35) present */
	bool has_psk;		 /* pre_shared_key (41) present: a TLS 1.3 resumption attempt */
	size_t wire_bytes;	 /* record bytes up to the end of the ClientHello */
};

/* Parse the ClientHello at the start of buf.  0: complete, *ret filled.  -EAGAIN: a prefix of
 * a plausible ClientHello, feed more.  -EBADMSG: malformed.  -E2BIG: longer than
 * MW_TLS_HELLO_MAX.  -EPROTONOSUPPORT: a TLS record, but not a ClientHello (or SSLv2). */
int tls_hello_parse(const uint8_t *buf, size_t len, struct mw_tls_hello *ret);

/* Whether s (NUL-terminated) is a DNS host name: 1..253 bytes of dot-separated LDH labels of
 * 1..63 bytes, no leading or trailing hyphen, no trailing dot. */
bool tls_dns_name_valid(const char *s);

/* Whether the hello offers name ("http/1.1", "h2") in ALPN. */
bool tls_hello_offers_alpn(const struct mw_tls_hello *h, const char *name);
/* The highest version offered (supported_versions, else legacy_version). */
uint16_t tls_hello_max_version(const struct mw_tls_hello *h);
