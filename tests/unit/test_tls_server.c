/* test_tls_server.c: the server-flight reader used for passed flows, on real server flights:
 * the files of tests/fuzz/corpus/tls_server (Python's ssl module over OpenSSL, a leaf for
 * upstream.test whose SHA-256 fingerprint `openssl x509 -fingerprint -sha256` printed as
 * below) and flights made here in-process by OpenSSL with a leaf minted by ca.c, whose
 * fingerprint is computed independently with X509_digest. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ssl.h>

#include "ca.h"
#include "tls_server.h"

#define CORPUS_DIR "tests/fuzz/corpus/tls_server"
#define FIXTURE_FP                                                                                 \
	"5F:46:00:47:D9:D2:D2:81:E8:91:3A:0E:4A:03:F3:F8:48:80:48:AA:93:A7:4D:E8:19:F4:EA:E7:0D:4D:" \
	"4A:CD"

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
	return n;
}

static void test_fixtures(void **state)
{
	uint8_t buf[8192];
	size_t n = load("openssl_tls12_alpn", buf, sizeof(buf));
	struct mw_tls_server_hello h;

	assert_int_equal(tls_server_parse(buf, n, &h), 0);
	assert_int_equal(h.version, MW_TLS_VERSION_1_2);
	assert_string_equal(h.alpn, "http/1.1");
	assert_true(h.has_cert);
	assert_string_equal(h.subject, "/CN=upstream.test");
	assert_string_equal(h.fingerprint, FIXTURE_FP);
	for (size_t i = 0; i < n; i++) {
		uint8_t *copy = malloc(i ? i : 1);
		int r;

		memcpy(copy, buf, i);
		r = tls_server_parse(copy, i, &h);
		free(copy);
		/* the flight ends with ServerHelloDone: complete once the Certificate is in */
		assert_true(r == -EAGAIN || r == 0);
	}

	n = load("openssl_tls13", buf, sizeof(buf));
	assert_int_equal(tls_server_parse(buf, n, &h), 0);
	assert_int_equal(h.version, MW_TLS_VERSION_1_3);
	assert_false(h.has_cert);
	assert_string_equal(h.alpn, "");
	assert_int_equal(tls_server_parse((const uint8_t *)"HTTP/1.1 200", 12, &h),
			 -EPROTONOSUPPORT);
	buf[5] = 0x0b; /* the first message is not a ServerHello */
	assert_int_equal(tls_server_parse(buf, n, &h), -EPROTONOSUPPORT);
}

/* A TLS 1.2 flight made now by OpenSSL with a freshly minted leaf. */
static void test_live_tls12(void **state)
{
	char dir[] = "/tmp/test_tls_server.XXXXXX", cmd[128], fp[MW_CA_FINGERPRINT_MAX];
	struct mw_ca *ca;
	X509 *leaf;
	EVP_PKEY *key;
	SSL_CTX *sc = SSL_CTX_new(TLS_server_method()), *cc = SSL_CTX_new(TLS_client_method());
	SSL *s, *c;
	BIO *cr = BIO_new(BIO_s_mem()), *cw = BIO_new(BIO_s_mem());
	BIO *sr = BIO_new(BIO_s_mem()), *sw = BIO_new(BIO_s_mem());
	struct mw_tls_server_hello h;
	char *data;
	long n;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(ca_init(dir, &ca), 0);
	assert_int_equal(ca_mint(ca, "pass.example", &leaf, &key), 0);
	SSL_CTX_use_certificate(sc, leaf);
	SSL_CTX_use_PrivateKey(sc, key);
	SSL_CTX_set_max_proto_version(sc, TLS1_2_VERSION);
	s = SSL_new(sc);
	c = SSL_new(cc);
	SSL_set_bio(s, sr, sw);
	SSL_set_bio(c, cr, cw);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	SSL_do_handshake(c);
	n = BIO_get_mem_data(cw, &data);
	BIO_write(sr, data, (int)n);
	SSL_do_handshake(s);
	n = BIO_get_mem_data(sw, &data);
	assert_int_equal(tls_server_parse((const uint8_t *)data, (size_t)n, &h), 0);
	assert_int_equal(h.version, MW_TLS_VERSION_1_2);
	assert_true(h.has_cert);
	assert_string_equal(h.subject, "/CN=pass.example");
	ca_fingerprint(leaf, fp, sizeof(fp));
	assert_string_equal(h.fingerprint, fp);
	assert_int_equal(h.wire_bytes, (size_t)n);

	SSL_free(s);
	SSL_free(c);
	SSL_CTX_free(sc);
	SSL_CTX_free(cc);
	X509_free(leaf);
	EVP_PKEY_free(key);
	ca_free(ca);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_live_tls12),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
