/* test_tls_hello.c: the ClientHello reader on real hellos (captured from openssl s_client and
 * node on loopback, the files of tests/fuzz/corpus/tls_hello), on every prefix of them, split
 * over several records, truncated, oversized, and with lengths that disagree. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tls_hello.h"

#ifndef CORPUS_DIR
#define CORPUS_DIR "tests/fuzz/corpus/tls_hello"
#endif

static size_t load(const char *name, uint8_t *buf, size_t size)
{
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", CORPUS_DIR, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	n = fread(buf, 1, size, f);
	fclose(f);
	assert_true(n > 0);
	return n;
}

static void test_openssl_tls13_alpn(void **state)
{
	uint8_t buf[4096];
	size_t n = load("openssl_tls13_alpn", buf, sizeof(buf));
	struct mw_tls_hello h;

	assert_int_equal(tls_hello_parse(buf, n, &h), 0);
	assert_true(h.has_sni);
	assert_string_equal(h.sni, "mcp.internal.example");
	assert_int_equal(h.n_alpn, 2);
	assert_string_equal(h.alpn[0], "h2");
	assert_string_equal(h.alpn[1], "http/1.1");
	assert_true(tls_hello_offers_alpn(&h, "http/1.1"));
	assert_int_equal(tls_hello_max_version(&h), MW_TLS_VERSION_1_3);
	assert_int_equal(h.legacy_version, 0x0303);
	assert_int_equal(h.wire_bytes, n);
	/* every shorter prefix asks for more */
	for (size_t i = 0; i < n; i++) {
		uint8_t *copy = malloc(i ? i : 1);

		memcpy(copy, buf, i);
		assert_int_equal(tls_hello_parse(copy, i, &h), -EAGAIN);
		free(copy);
	}
}

static void test_openssl_tls12(void **state)
{
	uint8_t buf[4096];
	size_t n = load("openssl_tls12", buf, sizeof(buf));
	struct mw_tls_hello h;

	assert_int_equal(tls_hello_parse(buf, n, &h), 0);
	assert_string_equal(h.sni, "localhost");
	assert_int_equal(h.n_versions, 0);
	assert_int_equal(tls_hello_max_version(&h), MW_TLS_VERSION_1_2);
	assert_int_equal(h.n_alpn, 0);
	assert_true(h.has_session_ticket);
}

static void test_node(void **state)
{
	uint8_t buf[4096];
	size_t n = load("node_https", buf, sizeof(buf));
	struct mw_tls_hello h;

	assert_int_equal(tls_hello_parse(buf, n, &h), 0);
	assert_string_equal(h.sni, "node.example.org");
	assert_int_equal(tls_hello_max_version(&h), MW_TLS_VERSION_1_3);
}

/* The same hello cut into records of 7 bytes of handshake each parses the same. */
static void test_split_records(void **state)
{
	uint8_t buf[4096], split[8192];
	size_t n = load("openssl_tls13", buf, sizeof(buf)), body = n - 5, out = 0;
	struct mw_tls_hello a, b;

	assert_int_equal(tls_hello_parse(buf, n, &a), 0);
	for (size_t off = 0; off < body; off += 7) {
		size_t take = body - off < 7 ? body - off : 7;

		split[out++] = 22;
		split[out++] = 3;
		split[out++] = 1;
		split[out++] = 0;
		split[out++] = (uint8_t)take;
		memcpy(split + out, buf + 5 + off, take);
		out += take;
	}
	assert_int_equal(tls_hello_parse(split, out, &b), 0);
	assert_int_equal(b.wire_bytes, out);
	b.wire_bytes = a.wire_bytes;
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(tls_hello_parse(split, out - 1, &b), -EAGAIN);
}

static void test_refusals(void **state)
{
	uint8_t buf[4096], big[64];
	size_t n = load("openssl_tls13", buf, sizeof(buf));
	struct mw_tls_hello h;

	/* record length larger than the handshake message: something shares the record */
	buf[4]++;
	buf[n++] = 0;
	assert_int_equal(tls_hello_parse(buf, n, &h), -EBADMSG);
	buf[4]--;
	n--;
	/* handshake length inside disagrees with the vectors */
	buf[8]--;
	buf[4]--;
	assert_int_equal(tls_hello_parse(buf, n - 1, &h), -EBADMSG);
	buf[8]++;
	buf[4]++;
	/* a bad SNI: a label starting with a hyphen (the 'l' of "localhost") */
	for (size_t i = 0; i + 9 < n; i++)
		if (memcmp(buf + i, "localhost", 9) == 0)
			buf[i] = '-';
	assert_int_equal(tls_hello_parse(buf, n, &h), -EBADMSG);
	/* not TLS, not a ClientHello, oversize */
	assert_int_equal(tls_hello_parse((const uint8_t *)"GET / HTTP/1.1\r\n", 16, &h),
			 -EPROTONOSUPPORT);
	memcpy(big, "\x16\x03\x01\x00\x10\x02\x00\x00\x0c", 9);
	assert_int_equal(tls_hello_parse(big, 9, &h), -EPROTONOSUPPORT);
	memcpy(big, "\x16\x03\x01\x40\x00\x01\x01\x00\x00", 9);
	assert_int_equal(tls_hello_parse(big, 9, &h), -E2BIG);
	memcpy(big, "\x16\x03\x01\x50\x00", 5);
	assert_int_equal(tls_hello_parse(big, 5, &h), -EBADMSG);
	assert_int_equal(tls_hello_parse(big, 0, &h), -EAGAIN);
}

static void test_dns_names(void **state)
{
	assert_true(tls_dns_name_valid("a.b-c.example"));
	assert_true(tls_dns_name_valid("localhost"));
	assert_false(tls_dns_name_valid(""));
	assert_false(tls_dns_name_valid("a..b"));
	assert_false(tls_dns_name_valid("a.b."));
	assert_false(tls_dns_name_valid("-a.b"));
	assert_false(tls_dns_name_valid("a-.b"));
	assert_false(tls_dns_name_valid("a_b.c"));
	assert_false(tls_dns_name_valid("a b"));
	char longlabel[80];
	memset(longlabel, 'a', 64);
	longlabel[64] = '\0';
	assert_false(tls_dns_name_valid(longlabel));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openssl_tls13_alpn), cmocka_unit_test(test_openssl_tls12),
		cmocka_unit_test(test_node),		    cmocka_unit_test(test_split_records),
		cmocka_unit_test(test_refusals),	    cmocka_unit_test(test_dns_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
