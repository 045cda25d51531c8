/* sniff.c: see sniff.h. */
#include "sniff.h"

#include <string.h>

#include "util.h"

#define PG_PROTOCOL_MAJOR_3 3U /* any 3.x: 3.0, and 3.2 from PostgreSQL 18 on */
#define PG_SSL_REQUEST 80877103U
#define PG_GSSENC_REQUEST 80877104U
#define PG_CANCEL_REQUEST 80877102U
#define PG_STARTUP_MAX 10000U
/* CancelRequest carries pid and secret key: 4 key bytes in protocol 3.0, up to 256 in 3.2. */
#define PG_CANCEL_MIN 16U
#define PG_CANCEL_MAX (12U + 256U)

static const char *const http_methods[] = {
	"GET ", "POST ", "PUT ", "DELETE ", "HEAD ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE ",
};
static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* 1 = is a prefix of (or equal to) s, 2 = s is a prefix of buf, 0 = neither. */
static int prefix_state(const uint8_t *buf, size_t len, const char *s)
{
	size_t n = strlen(s);

	if (memcmp(buf, s, len < n ? len : n) != 0)
		return 0;
	return len < n ? 1 : 2;
}

static enum mw_proto classify_tls(const uint8_t *buf, size_t len)
{
	/* record: type 22, version 3.x, length; handshake: type 1 (ClientHello) */
	if (len >= 2 && buf[1] != 3)
		return MW_PROTO_OTHER;
	if (len >= 3 && buf[2] > 4)
		return MW_PROTO_OTHER;
	if (len < 6)
		return MW_PROTO_UNKNOWN;
	return buf[5] == 1 ? MW_PROTO_TLS : MW_PROTO_OTHER;
}

static enum mw_proto classify_postgres(const uint8_t *buf, size_t len)
{
	uint32_t mlen, code;

	if (len < 8)
		return MW_PROTO_UNKNOWN;
	mlen = be32(buf);
	code = be32(buf + 4);
	if ((code == PG_SSL_REQUEST || code == PG_GSSENC_REQUEST) && mlen == 8)
		return MW_PROTO_POSTGRES;
	if (code == PG_CANCEL_REQUEST && mlen >= PG_CANCEL_MIN && mlen <= PG_CANCEL_MAX)
		return MW_PROTO_POSTGRES;
	if (code >> 16 == PG_PROTOCOL_MAJOR_3 && mlen >= 8 && mlen <= PG_STARTUP_MAX)
		return MW_PROTO_POSTGRES;
	return MW_PROTO_OTHER;
}

enum mw_proto sniff_classify(const uint8_t *buf, size_t len)
{
	bool maybe_http = false;

	if (len == 0)
		return MW_PROTO_UNKNOWN;
	if (buf[0] == 0x16)
		return classify_tls(buf, len);
	if (buf[0] == 0)
		return classify_postgres(buf, len);
	switch (prefix_state(buf, len, h2_preface)) {
	case 2:
		return MW_PROTO_HTTP2;
	case 1:
		maybe_http = true;
		break;
	}
	for (size_t i = 0; i < ARRAY_SIZE(http_methods); i++) {
		int st = prefix_state(buf, len, http_methods[i]);

		if (st == 2)
			return MW_PROTO_HTTP1;
		if (st == 1)
			maybe_http = true;
	}
	return maybe_http ? MW_PROTO_UNKNOWN : MW_PROTO_OTHER;
}

const char *sniff_proto_name(enum mw_proto p)
{
	switch (p) {
	case MW_PROTO_TLS:
		return "tls";
	case MW_PROTO_HTTP1:
		return "http1";
	case MW_PROTO_HTTP2:
		return "http2";
	case MW_PROTO_POSTGRES:
		return "postgres";
	case MW_PROTO_OTHER:
		return "other";
	case MW_PROTO_UNKNOWN:
		break;
	}
	return "unknown";
}
