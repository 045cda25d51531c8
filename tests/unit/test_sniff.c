/* test_sniff.c: first-bytes protocol classification.
 *
 * Inputs are real where it matters: the two ClientHellos below were captured from
 * `openssl s_client -tls1_2` / `-tls1_3` (OpenSSL 3.0) talking to `openssl s_server` on
 * loopback, and a TLS 1.3 ClientHello is also assembled field by field from RFC 8446 4.1.2.
 * Every valid input is also fed at every prefix length, the way the relay grows its sniff
 * buffer: a prefix may say UNKNOWN, but once it decides it must agree with the whole. Each
 * call gets an exactly-sized heap copy so that a read past len shows up under ASan/valgrind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sniff.h"
#include "util.h"

static const uint8_t tls12_client_hello[] = {
	0x16, 0x03, 0x01, 0x00, 0xc9, 0x01, 0x00, 0x00, 0xc5, 0x03, 0x03, 0xdd, 0xcc, 0xae, 0x16,
	0xc5, 0xce, 0x94, 0xde, 0xf0, 0x02, 0x6b, 0x32, 0x58, 0xd0, 0x2b, 0x9c, 0x24, 0xfc, 0x2d,
	0xf3, 0xea, 0x1c, 0xf8, 0xca, 0xdd, 0xe7, 0x68, 0xc3, 0x83, 0x45, 0xdc, 0xd7, 0x00, 0x00,
	0x38, 0xc0, 0x2c, 0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa, 0xc0, 0x2b,
	0xc0, 0x2f, 0x00, 0x9e, 0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b, 0xc0, 0x23, 0xc0, 0x27, 0x00,
	0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x39, 0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d,
	0x00, 0x9c, 0x00, 0x3d, 0x00, 0x3c, 0x00, 0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x00,
	0x64, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x0c, 0x00, 0x00, 0x09, 0x6c, 0x6f, 0x63, 0x61, 0x6c,
	0x68, 0x6f, 0x73, 0x74, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00,
	0x0c, 0x00, 0x0a, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x00, 0x23,
	0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x2a, 0x00,
	0x28, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08, 0x08, 0x08, 0x09, 0x08, 0x0a,
	0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x03,
	0x03, 0x03, 0x01, 0x03, 0x02, 0x04, 0x02, 0x05, 0x02, 0x06, 0x02,
};

static const uint8_t tls13_client_hello[] = {
	0x16, 0x03, 0x01, 0x00, 0xee, 0x01, 0x00, 0x00, 0xea, 0x03, 0x03, 0x5e, 0x09, 0xc5, 0xae,
	0xab, 0x6a, 0x8d, 0x29, 0xf1, 0xcd, 0xeb, 0x6e, 0x32, 0xd0, 0xa2, 0x07, 0x75, 0x52, 0x8c,
	0xce, 0x30, 0x10, 0x18, 0x9a, 0xcd, 0x79, 0xe8, 0x88, 0x07, 0x18, 0xe2, 0x30, 0x20, 0x3f,
	0x2c, 0x4c, 0xd6, 0x76, 0xfd, 0x7f, 0xeb, 0xb2, 0x17, 0x5b, 0x6c, 0x3f, 0x5c, 0x81, 0x2e,
	0x7a, 0xcb, 0x57, 0x23, 0x61, 0x27, 0x77, 0xf3, 0x43, 0xfa, 0x43, 0xe5, 0x7c, 0x67, 0xce,
	0x7c, 0x00, 0x08, 0x13, 0x02, 0x13, 0x03, 0x13, 0x01, 0x00, 0xff, 0x01, 0x00, 0x00, 0x99,
	0x00, 0x00, 0x00, 0x0e, 0x00, 0x0c, 0x00, 0x00, 0x09, 0x6c, 0x6f, 0x63, 0x61, 0x6c, 0x68,
	0x6f, 0x73, 0x74, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x16,
	0x00, 0x14, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x01, 0x00, 0x01,
	0x01, 0x01, 0x02, 0x01, 0x03, 0x01, 0x04, 0x00, 0x23, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00,
	0x00, 0x17, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x1e, 0x00, 0x1c, 0x04, 0x03, 0x05, 0x03, 0x06,
	0x03, 0x08, 0x07, 0x08, 0x08, 0x08, 0x09, 0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05,
	0x08, 0x06, 0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04,
	0x00, 0x2d, 0x00, 0x02, 0x01, 0x01, 0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00,
	0x20, 0x67, 0x70, 0x12, 0x56, 0xce, 0xca, 0xa6, 0x92, 0xa7, 0xe6, 0x5f, 0xaf, 0xba, 0x42,
	0xea, 0xe8, 0x40, 0x68, 0x2e, 0x5c, 0x0d, 0x27, 0xe0, 0x99, 0x98, 0xeb, 0x7e, 0x46, 0xfd,
	0x4c, 0x33, 0x51,
};

#define PG_SSL_REQUEST 80877103U
#define PG_GSSENC_REQUEST 80877104U
#define PG_CANCEL_REQUEST 80877102U
#define PG_PROTOCOL(major, minor) ((uint32_t)(major) << 16 | (minor))

static const char *const methods[] = {
	"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE",
};
static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static enum mw_proto classify(const void *buf, size_t len)
{
	enum mw_proto p;
	uint8_t *copy = malloc(len ? len : 1);

	assert_non_null(copy);
	if (len)
		memcpy(copy, buf, len);
	p = sniff_classify(len ? copy : NULL, len);
	free(copy);
	return p;
}

static void check_proto(const char *what, const void *buf, size_t len, enum mw_proto want,
			const char *file, int line)
{
	enum mw_proto got = classify(buf, len);

	if (got == want)
		return;
	print_error("%s (%zu bytes): expected %s, got %s\n", what, len, sniff_proto_name(want),
		    sniff_proto_name(got));
	_fail(file, line);
}

#define assert_proto(what, buf, len, want) check_proto(what, buf, len, want, __FILE__, __LINE__)
#define assert_proto_str(s, want) assert_proto("'" s "'", s, sizeof(s) - 1, want)

/* The whole input gives want; no prefix gives anything but UNKNOWN or want; once a prefix
 * decides, longer ones stay decided; nothing stays UNKNOWN past MW_SNIFF_NEED bytes. */
static void check_prefixes(const char *what, const void *buf, size_t len, enum mw_proto want,
			   const char *file, int line)
{
	size_t decided_at = SIZE_MAX;

	check_proto(what, buf, len, want, file, line);
	for (size_t i = 0; i <= len; i++) {
		enum mw_proto got = classify(buf, i);

		if (got == MW_PROTO_UNKNOWN && decided_at == SIZE_MAX && i < MW_SNIFF_NEED)
			continue;
		if (got == want) {
			if (decided_at == SIZE_MAX)
				decided_at = i;
			continue;
		}
		print_error("%s: prefix of %zu/%zu bytes: expected %s%s, got %s (%s)\n", what, i,
			    len, decided_at == SIZE_MAX ? "unknown or " : "",
			    sniff_proto_name(want), sniff_proto_name(got),
			    decided_at == SIZE_MAX ? "undecided so far" : "already decided");
		_fail(file, line);
	}
}

#define assert_prefixes(what, buf, len, want)                                                      \
	check_prefixes(what, buf, len, want, __FILE__, __LINE__)

/* --- builders ---------------------------------------------------------------------------- */

struct bytes {
	uint8_t b[1024];
	size_t n;
};

static void put(struct bytes *o, const void *p, size_t n)
{
	assert_true(o->n + n <= sizeof(o->b));
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void put_u8(struct bytes *o, uint8_t v)
{
	put(o, &v, 1);
}

static void put_be(struct bytes *o, uint32_t v, int width)
{
	for (int i = width - 1; i >= 0; i--)
		put_u8(o, (uint8_t)(v >> (8 * i)));
}

/* Patch a big-endian length of width bytes at off, covering everything after it. */
static void patch_len(struct bytes *o, size_t off, int width)
{
	size_t v = o->n - off - (size_t)width;

	for (int i = 0; i < width; i++)
		o->b[off + i] = (uint8_t)(v >> (8 * (width - 1 - i)));
}

static void put_ext(struct bytes *o, uint16_t type, const void *data, size_t n)
{
	put_be(o, type, 2);
	put_be(o, (uint32_t)n, 2);
	put(o, data, n);
}

/* RFC 8446 4.1.2: a TLS 1.3 ClientHello in a TLSPlaintext record (legacy version 3.1). */
static void build_tls13_client_hello(struct bytes *o)
{
	/* server_name_list: one host_name "example.com" */
	static const char sni[] = "\x00\x0e\x00\x00\x0b"
				  "example.com";
	static const uint8_t versions[] = { 0x02, 0x03, 0x04 };	    /* TLS 1.3 only */
	static const uint8_t groups[] = { 0x00, 0x02, 0x00, 0x1d }; /* x25519 */
	static const uint8_t sigalgs[] = { 0x00, 0x04, 0x08, 0x04, 0x04, 0x03 };
	uint8_t key_share[2 + 2 + 2 + 32];
	size_t rec, hs, ext;

	memset(o, 0, sizeof(*o));
	put_u8(o, 0x16);      /* ContentType handshake */
	put_be(o, 0x0301, 2); /* legacy_record_version */
	rec = o->n;
	put_be(o, 0, 2); /* length */
	put_u8(o, 0x01); /* HandshakeType client_hello */
	hs = o->n;
	put_be(o, 0, 3);	     /* length */
	put_be(o, 0x0303, 2);	     /* legacy_version */
	for (int i = 0; i < 32; i++) /* random */
		put_u8(o, (uint8_t)(0xa0 + i));
	put_u8(o, 32); /* legacy_session_id */
	for (int i = 0; i < 32; i++)
		put_u8(o, (uint8_t)i);
	put_be(o, 6, 2); /* cipher_suites */
	put_be(o, 0x1301, 2);
	put_be(o, 0x1302, 2);
	put_be(o, 0x1303, 2);
	put_u8(o, 1); /* legacy_compression_methods: null */
	put_u8(o, 0);
	ext = o->n;
	put_be(o, 0, 2);
	put_ext(o, 0x0000, sni, sizeof(sni) - 1);	/* server_name */
	put_ext(o, 0x002b, versions, sizeof(versions)); /* supported_versions */
	put_ext(o, 0x000a, groups, sizeof(groups));	/* supported_groups */
	put_ext(o, 0x000d, sigalgs, sizeof(sigalgs));	/* signature_algorithms */
	key_share[0] = 0x00;				/* client_shares length */
	key_share[1] = 36;
	key_share[2] = 0x00; /* x25519 */
	key_share[3] = 0x1d;
	key_share[4] = 0x00;
	key_share[5] = 32;
	memset(key_share + 6, 0x5a, 32);
	put_ext(o, 0x0033, key_share, sizeof(key_share)); /* key_share */
	patch_len(o, ext, 2);
	patch_len(o, hs, 3);
	patch_len(o, rec, 2);
}

/* A StartupMessage as libpq sends it: length, protocol, name/value pairs, terminator. */
static void build_pg_startup(struct bytes *o, uint32_t protocol)
{
	static const char *const params[] = {
		"user",
		"mcp",
		"database",
		"inventory",
		"application_name",
		"psql",
		"client_encoding",
		"UTF8",
	};

	memset(o, 0, sizeof(*o));
	put_be(o, 0, 4);
	put_be(o, protocol, 4);
	for (size_t i = 0; i < ARRAY_SIZE(params); i++)
		put(o, params[i], strlen(params[i]) + 1);
	put_u8(o, 0);
	patch_len(o, 0, 4);
	o->b[3] += 4; /* the length counts itself */
}

static void build_pg(struct bytes *o, uint32_t len, uint32_t code, size_t extra)
{
	memset(o, 0, sizeof(*o));
	put_be(o, len, 4);
	put_be(o, code, 4);
	for (size_t i = 0; i < extra; i++)
		put_u8(o, (uint8_t)(0x11 * (i + 1)));
}

/* --- TLS --------------------------------------------------------------------------------- */

static void test_tls_captured_client_hellos(void **state)
{
	/* sanity of the captures: handshake record, legacy version 3.1, ClientHello inside,
	 * record length matching the bytes we kept */
	assert_int_equal(tls12_client_hello[0], 0x16);
	assert_int_equal(tls12_client_hello[5], 0x01);
	assert_int_equal(sizeof(tls12_client_hello),
			 5 + (tls12_client_hello[3] << 8 | tls12_client_hello[4]));
	assert_int_equal(tls13_client_hello[0], 0x16);
	assert_int_equal(tls13_client_hello[5], 0x01);
	assert_int_equal(sizeof(tls13_client_hello),
			 5 + (tls13_client_hello[3] << 8 | tls13_client_hello[4]));
	assert_prefixes("openssl TLS 1.2 ClientHello", tls12_client_hello,
			sizeof(tls12_client_hello), MW_PROTO_TLS);
	assert_prefixes("openssl TLS 1.3 ClientHello", tls13_client_hello,
			sizeof(tls13_client_hello), MW_PROTO_TLS);
	for (size_t i = 0; i < 6; i++)
		assert_proto("ClientHello header", tls13_client_hello, i, MW_PROTO_UNKNOWN);
	assert_proto("ClientHello header", tls13_client_hello, 6, MW_PROTO_TLS);
}

static void test_tls_rfc8446_client_hello(void **state)
{
	struct bytes o;

	build_tls13_client_hello(&o);
	assert_int_equal(o.n, 5 + 4 + 2 + 32 + 33 + 8 + 2 + 2 + (4 + 16) + (4 + 3) + (4 + 4) +
				  (4 + 6) + (4 + 38));
	assert_prefixes("RFC 8446 ClientHello", o.b, o.n, MW_PROTO_TLS);
	/* the same hello in records of every legacy version a client may use (SSL 3.0..TLS 1.3) */
	for (int minor = 0; minor <= 4; minor++) {
		o.b[2] = (uint8_t)minor;
		assert_prefixes("ClientHello, record version 3.x", o.b, o.n, MW_PROTO_TLS);
	}
}

static void test_tls_not_client_hello(void **state)
{
	/* handshake records carrying other messages */
	static const uint8_t hs_types[] = { 0, 2, 4, 8, 11, 13, 15, 16, 20, 24, 0xfe };
	/* records of the other content types: change_cipher_spec, alert, application_data,
	 * heartbeat */
	static const uint8_t ccs[] = { 0x14, 0x03, 0x03, 0x00, 0x01, 0x01 };
	static const uint8_t alert[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28 };
	static const uint8_t appdata[] = { 0x17, 0x03, 0x03, 0x00, 0x05,
					   0xde, 0xad, 0xbe, 0xef, 0x00 };
	static const uint8_t heartbeat[] = { 0x18, 0x03, 0x03, 0x00, 0x03, 0x01, 0x00, 0x10 };
	/* SSLv2-compatible ClientHello (2-byte header, msg type 1): not a TLS record */
	static const uint8_t sslv2[] = { 0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00 };
	struct bytes o;

	build_tls13_client_hello(&o);
	for (size_t i = 0; i < ARRAY_SIZE(hs_types); i++) {
		o.b[5] = hs_types[i];
		assert_prefixes("handshake record, not a ClientHello", o.b, o.n, MW_PROTO_OTHER);
	}
	assert_prefixes("change_cipher_spec", ccs, sizeof(ccs), MW_PROTO_OTHER);
	assert_prefixes("alert", alert, sizeof(alert), MW_PROTO_OTHER);
	assert_prefixes("application_data", appdata, sizeof(appdata), MW_PROTO_OTHER);
	assert_prefixes("heartbeat", heartbeat, sizeof(heartbeat), MW_PROTO_OTHER);
	assert_prefixes("SSLv2 ClientHello", sslv2, sizeof(sslv2), MW_PROTO_OTHER);
}

static void test_tls_bad_version(void **state)
{
	struct bytes o;

	build_tls13_client_hello(&o);
	o.b[1] = 0x02; /* major 2 */
	assert_proto("record version 2.1", o.b, 2, MW_PROTO_OTHER);
	assert_prefixes("record version 2.1", o.b, o.n, MW_PROTO_OTHER);
	o.b[1] = 0x04;
	assert_prefixes("record version 4.1", o.b, o.n, MW_PROTO_OTHER);
	o.b[1] = 0x03;
	o.b[2] = 0x05; /* no TLS 1.4 */
	assert_proto("record version 3.5", o.b, 3, MW_PROTO_OTHER);
	assert_prefixes("record version 3.5", o.b, o.n, MW_PROTO_OTHER);
	o.b[2] = 0xff;
	assert_prefixes("record version 3.255", o.b, o.n, MW_PROTO_OTHER);
	/* a record header alone cannot decide */
	assert_proto_str("\x16\x03\x01\x00\xc9", MW_PROTO_UNKNOWN);
	assert_proto_str("\x16", MW_PROTO_UNKNOWN);
}

/* --- HTTP/1.x ---------------------------------------------------------------------------- */

static void test_http1_every_method(void **state)
{
	char req[256];

	for (size_t i = 0; i < ARRAY_SIZE(methods); i++) {
		const char *target = strcmp(methods[i], "CONNECT") == 0	  ? "mcp.internal:443"
				     : strcmp(methods[i], "OPTIONS") == 0 ? "*"
									  : "/mcp";
		int n = snprintf(req, sizeof(req),
				 "%s %s HTTP/1.1\r\nHost: mcp.internal\r\nUser-Agent: t\r\n\r\n",
				 methods[i], target);

		assert_true(n > 0 && (size_t)n < sizeof(req));
		assert_prefixes(methods[i], req, (size_t)n, MW_PROTO_HTTP1);
		/* the method and its space are enough; one byte less is not */
		assert_proto(methods[i], req, strlen(methods[i]) + 1, MW_PROTO_HTTP1);
		assert_proto(methods[i], req, strlen(methods[i]), MW_PROTO_UNKNOWN);
	}
	assert_proto_str("GET / HTTP/1.0\r\n\r\n", MW_PROTO_HTTP1);
	assert_proto_str("POST /mcp HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", MW_PROTO_HTTP1);
}

static void test_http1_partial_methods(void **state)
{
	char buf[16];

	assert_proto_str("P", MW_PROTO_UNKNOWN);
	assert_proto_str("PO", MW_PROTO_UNKNOWN);
	assert_proto_str("POS", MW_PROTO_UNKNOWN);
	assert_proto_str("POST", MW_PROTO_UNKNOWN);
	assert_proto_str("POX", MW_PROTO_OTHER);
	assert_proto_str("POSTX", MW_PROTO_OTHER);
	assert_proto_str("GETX", MW_PROTO_OTHER);
	assert_proto_str("GET\t/", MW_PROTO_OTHER);
	assert_proto_str("GET/", MW_PROTO_OTHER);
	assert_proto_str("get / HTTP/1.1\r\n", MW_PROTO_OTHER); /* methods are case-sensitive */
	assert_proto_str("Get ", MW_PROTO_OTHER);
	assert_proto_str("HTTP/1.1 200 OK\r\n", MW_PROTO_OTHER); /* a response, not a request */
	assert_proto_str(" GET /", MW_PROTO_OTHER);
	/* every strict prefix of every method is undecided; a wrong next byte decides OTHER */
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++) {
		size_t mlen = strlen(methods[i]);

		for (size_t k = 1; k <= mlen; k++) {
			memcpy(buf, methods[i], k);
			assert_proto(methods[i], buf, k, MW_PROTO_UNKNOWN);
			buf[k] = 'X';
			assert_proto("method prefix + 'X'", buf, k + 1, MW_PROTO_OTHER);
		}
	}
}

/* --- HTTP/2 ------------------------------------------------------------------------------ */

static void test_http2_preface(void **state)
{
	/* preface, then an empty SETTINGS frame as a client sends it */
	static const char with_settings[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
					    "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
	const size_t plen = sizeof(h2_preface) - 1;
	char buf[sizeof(h2_preface)];

	assert_int_equal(plen, MW_SNIFF_NEED);
	assert_prefixes("HTTP/2 preface", h2_preface, plen, MW_PROTO_HTTP2);
	assert_prefixes("HTTP/2 preface + SETTINGS", with_settings, sizeof(with_settings) - 1,
			MW_PROTO_HTTP2);
	for (size_t i = 0; i < plen; i++)
		assert_proto("partial HTTP/2 preface", h2_preface, i, MW_PROTO_UNKNOWN);
	/* one wrong byte anywhere in the preface */
	for (size_t i = 0; i < plen; i++) {
		memcpy(buf, h2_preface, plen);
		buf[i] = 'X';
		assert_prefixes("corrupted HTTP/2 preface", buf, plen, MW_PROTO_OTHER);
	}
	assert_proto_str("PRI * HTTP/1.1\r\n\r\n", MW_PROTO_OTHER);
	assert_proto_str("PRI / HTTP/2.0\r\n\r\nSM\r\n\r\n", MW_PROTO_OTHER);
}

/* --- PostgreSQL -------------------------------------------------------------------------- */

static void test_pg_startup(void **state)
{
	struct bytes o;

	build_pg_startup(&o, PG_PROTOCOL(3, 0));
	assert_int_equal(o.n, 80);
	assert_prefixes("StartupMessage 3.0", o.b, o.n, MW_PROTO_POSTGRES);
	for (size_t i = 1; i < 8; i++)
		assert_proto("partial StartupMessage", o.b, i, MW_PROTO_UNKNOWN);
	assert_proto("StartupMessage header", o.b, 8, MW_PROTO_POSTGRES);
	/* PostgreSQL 18 clients may ask for 3.2; the server negotiates any 3.x minor */
	build_pg_startup(&o, PG_PROTOCOL(3, 2));
	assert_prefixes("StartupMessage 3.2", o.b, o.n, MW_PROTO_POSTGRES);
}

static void test_pg_requests(void **state)
{
	struct bytes o;

	build_pg(&o, 8, PG_SSL_REQUEST, 0);
	assert_prefixes("SSLRequest", o.b, o.n, MW_PROTO_POSTGRES);
	build_pg(&o, 8, PG_GSSENC_REQUEST, 0);
	assert_prefixes("GSSENCRequest", o.b, o.n, MW_PROTO_POSTGRES);
	build_pg(&o, 16, PG_CANCEL_REQUEST, 8); /* pid 4242-ish, 4-byte key */
	assert_prefixes("CancelRequest 3.0", o.b, o.n, MW_PROTO_POSTGRES);
	build_pg(&o, 12 + 32, PG_CANCEL_REQUEST, 4 + 32); /* 3.2: 32-byte key */
	assert_prefixes("CancelRequest 3.2", o.b, o.n, MW_PROTO_POSTGRES);
	build_pg(&o, 12 + 256, PG_CANCEL_REQUEST, 4 + 256);
	assert_prefixes("CancelRequest, longest key", o.b, o.n, MW_PROTO_POSTGRES);
}

static void test_pg_bad_lengths(void **state)
{
	static const struct {
		const char *what;
		uint32_t len, code;
		enum mw_proto want;
	} cases[] = {
		{ "SSLRequest len 0", 0, PG_SSL_REQUEST, MW_PROTO_OTHER },
		{ "SSLRequest len 7", 7, PG_SSL_REQUEST, MW_PROTO_OTHER },
		{ "SSLRequest len 9", 9, PG_SSL_REQUEST, MW_PROTO_OTHER },
		{ "SSLRequest len 16", 16, PG_SSL_REQUEST, MW_PROTO_OTHER },
		{ "GSSENCRequest len 12", 12, PG_GSSENC_REQUEST, MW_PROTO_OTHER },
		{ "CancelRequest len 8", 8, PG_CANCEL_REQUEST, MW_PROTO_OTHER },
		{ "CancelRequest len 15", 15, PG_CANCEL_REQUEST, MW_PROTO_OTHER },
		{ "CancelRequest len 269", 269, PG_CANCEL_REQUEST, MW_PROTO_OTHER },
		{ "Startup len 0", 0, PG_PROTOCOL(3, 0), MW_PROTO_OTHER },
		{ "Startup len 7", 7, PG_PROTOCOL(3, 0), MW_PROTO_OTHER },
		{ "Startup len 8", 8, PG_PROTOCOL(3, 0), MW_PROTO_POSTGRES },
		{ "Startup len 10000", 10000, PG_PROTOCOL(3, 0), MW_PROTO_POSTGRES },
		{ "Startup len 10001", 10001, PG_PROTOCOL(3, 0), MW_PROTO_OTHER },
		{ "Startup len 0xffffff", 0xffffff, PG_PROTOCOL(3, 0), MW_PROTO_OTHER },
		{ "Startup protocol 2.0", 40, PG_PROTOCOL(2, 0), MW_PROTO_OTHER },
		{ "Startup protocol 4.0", 40, PG_PROTOCOL(4, 0), MW_PROTO_OTHER },
		{ "Startup protocol 0.0", 40, 0, MW_PROTO_OTHER },
		{ "request code 1234.5681", 8, 80877105U, MW_PROTO_OTHER },
		{ "request code 1234.5677", 16, 80877101U, MW_PROTO_OTHER },
	};
	struct bytes o;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		build_pg(&o, cases[i].len, cases[i].code, 8);
		assert_prefixes(cases[i].what, o.b, o.n, cases[i].want);
	}
	/* a length of 2^24 or more does not even start with the zero byte */
	build_pg(&o, 0x01000000, PG_PROTOCOL(3, 0), 8);
	assert_proto("Startup len 2^24", o.b, 1, MW_PROTO_OTHER);
	/* a zero first byte alone is undecided up to the code */
	assert_proto("\\0\\0\\0", "\0\0\0", 3, MW_PROTO_UNKNOWN);
}

/* --- everything else --------------------------------------------------------------------- */

static void test_other_protocols(void **state)
{
	assert_prefixes("SSH banner", "SSH-2.0-", 8, MW_PROTO_OTHER);
	assert_proto_str("S", MW_PROTO_OTHER);
	assert_prefixes("OpenSSH banner", "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n", 40,
			MW_PROTO_OTHER);
	assert_proto_str("*1\r\n$4\r\nPING\r\n", MW_PROTO_OTHER);	      /* RESP */
	assert_proto_str("\x05\x01\x00", MW_PROTO_OTHER);		      /* SOCKS5 */
	assert_proto_str("{\"jsonrpc\":\"2.0\",\"id\":1}\n", MW_PROTO_OTHER); /* raw JSON-RPC */
	assert_proto_str("\xff\xd8\xff\xe0", MW_PROTO_OTHER);
	assert_proto_str("\r\n", MW_PROTO_OTHER);
}

static void test_empty(void **state)
{
	assert_proto("NULL", NULL, 0, MW_PROTO_UNKNOWN);
	assert_int_equal(sniff_classify((const uint8_t *)"GET ", 0), MW_PROTO_UNKNOWN);
	assert_string_equal(sniff_proto_name(MW_PROTO_UNKNOWN), "unknown");
}

static void test_names(void **state)
{
	assert_string_equal(sniff_proto_name(MW_PROTO_TLS), "tls");
	assert_string_equal(sniff_proto_name(MW_PROTO_HTTP1), "http1");
	assert_string_equal(sniff_proto_name(MW_PROTO_HTTP2), "http2");
	assert_string_equal(sniff_proto_name(MW_PROTO_POSTGRES), "postgres");
	assert_string_equal(sniff_proto_name(MW_PROTO_OTHER), "other");
	assert_string_equal(sniff_proto_name((enum mw_proto)99), "unknown");
}

/* Deterministic random bytes, with and without a plausible first byte: every prefix holds
 * to the whole, and MW_SNIFF_NEED bytes always decide. */
static void test_random_binary(void **state)
{
	static const uint8_t firsts[] = { 0x16, 0x00, 'P', 'G', 'C', 'O', 'D', 'H', 'T' };
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	uint8_t buf[64];

	for (int round = 0; round < 20000; round++) {
		size_t len = round % (sizeof(buf) + 1);
		enum mw_proto whole;

		for (size_t i = 0; i < len; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = (uint8_t)x;
		}
		if (len && round % 3 == 0)
			buf[0] = firsts[(x >> 32) % ARRAY_SIZE(firsts)];
		whole = classify(buf, len);
		if (len >= MW_SNIFF_NEED)
			assert_int_not_equal(whole, MW_PROTO_UNKNOWN);
		assert_prefixes("random bytes", buf, len, whole);
	}
}

/* Every valid input used above, fed at every prefix length, decides the same at the end. */
static void test_prefixes_never_disagree(void **state)
{
	struct bytes o;
	char req[64];

	build_tls13_client_hello(&o);
	assert_prefixes("RFC 8446 ClientHello", o.b, o.n, MW_PROTO_TLS);
	build_pg_startup(&o, PG_PROTOCOL(3, 0));
	assert_prefixes("StartupMessage", o.b, o.n, MW_PROTO_POSTGRES);
	assert_prefixes("HTTP/2 preface", h2_preface, sizeof(h2_preface) - 1, MW_PROTO_HTTP2);
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++) {
		int n = snprintf(req, sizeof(req), "%s / HTTP/1.1\r\n", methods[i]);

		assert_prefixes(methods[i], req, (size_t)n, MW_PROTO_HTTP1);
	}
	/* and every decision a prefix makes on the captured hellos is final */
	assert_prefixes("TLS 1.2 hello", tls12_client_hello, sizeof(tls12_client_hello),
			MW_PROTO_TLS);
	assert_prefixes("TLS 1.3 hello", tls13_client_hello, sizeof(tls13_client_hello),
			MW_PROTO_TLS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_captured_client_hellos),
		cmocka_unit_test(test_tls_rfc8446_client_hello),
		cmocka_unit_test(test_tls_not_client_hello),
		cmocka_unit_test(test_tls_bad_version),
		cmocka_unit_test(test_http1_every_method),
		cmocka_unit_test(test_http1_partial_methods),
		cmocka_unit_test(test_http2_preface),
		cmocka_unit_test(test_pg_startup),
		cmocka_unit_test(test_pg_requests),
		cmocka_unit_test(test_pg_bad_lengths),
		cmocka_unit_test(test_other_protocols),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_random_binary),
		cmocka_unit_test(test_prefixes_never_disagree),
	};

	return cmocka_run_group_tests_name("sniff", tests, NULL, NULL);
}
