/* sniff.h: what protocol a flow speaks, from its first client bytes.  Pure.
 * Bytes are only looked at, never consumed: the relay forwards them unchanged. */
#pragma once

#include <stddef.h>
#include <stdint.h>

enum mw_proto {
	MW_PROTO_UNKNOWN = 0, /* nothing seen yet, or not enough to tell */
	MW_PROTO_TLS,	      /* a TLS handshake record carrying a ClientHello */
	MW_PROTO_HTTP1,	      /* an HTTP/1.x request line */
	MW_PROTO_HTTP2,	      /* the HTTP/2 prior-knowledge preface */
	MW_PROTO_POSTGRES,    /* PostgreSQL startup, SSLRequest, GSSENCRequest or cancel */
	MW_PROTO_OTHER,	      /* something else */
};

/* Classify buf. MW_PROTO_UNKNOWN means more bytes could decide (at most MW_SNIFF_NEED). */
#define MW_SNIFF_NEED 24
enum mw_proto sniff_classify(const uint8_t *buf, size_t len);
const char *sniff_proto_name(enum mw_proto p);
