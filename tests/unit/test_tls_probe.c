/* test_tls_probe.c: the agent's own probe of a TLS server's certificate, against a real
 * OpenSSL TLS 1.3 server in a thread (a self-signed leaf made here, its fingerprint computed
 * independently with X509_digest); the SNI and ALPN the server saw, the cache, a refused
 * connect, a server that never answers (the timeout), a cancelled wait. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls_probe.h"
#include "util.h"

struct server {
	int lfd;
	uint16_t port;
	SSL_CTX *ctx;
	int conns; /* connections to serve before the thread ends */
	char sni[256], alpn[256];
	pthread_t th;
};

static X509 *leaf;
static EVP_PKEY *leaf_key;

static void leaf_make(void)
{
	X509_NAME *n;

	leaf_key = EVP_EC_gen("P-256");
	assert_non_null(leaf_key);
	leaf = X509_new();
	X509_set_version(leaf, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(leaf), 7);
	X509_gmtime_adj(X509_getm_notBefore(leaf), -60);
	X509_gmtime_adj(X509_getm_notAfter(leaf), 3600);
	X509_set_pubkey(leaf, leaf_key);
	n = X509_get_subject_name(leaf);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"probe.test", -1,
				   -1, 0);
	X509_set_issuer_name(leaf, n);
	assert_true(X509_sign(leaf, leaf_key, EVP_sha256()) > 0);
}

static int alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		   const unsigned char *in, unsigned int inlen, void *arg)
{
	struct server *s = arg;
	size_t o = 0;

	for (unsigned i = 0; i < inlen && o + 2 < sizeof(s->alpn);) {
		unsigned n = in[i++];

		o += (size_t)snprintf(s->alpn + o, sizeof(s->alpn) - o, "%s%.*s", o ? "," : "",
				      (int)n, in + i);
		i += n;
	}
	return SSL_TLSEXT_ERR_NOACK;
}

/* while the ClientHello is read, before the server's flight: the probe has not finished */
static int sni_cb(SSL *ssl, int *al, void *arg)
{
	struct server *s = arg;
	const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	snprintf(s->sni, sizeof(s->sni), "%s", sni ? sni : "");
	return SSL_TLSEXT_ERR_OK;
}

static void *serve(void *arg)
{
	struct server *s = arg;

	for (int i = 0; i < s->conns; i++) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		SSL *ssl;

		if (fd < 0)
			break;
		ssl = SSL_new(s->ctx);
		SSL_set_fd(ssl, fd);
		if (SSL_accept(ssl) == 1)
			SSL_shutdown(ssl);
		SSL_free(ssl);
		close(fd);
	}
	return NULL;
}

static void listener(struct server *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->lfd >= 0);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->lfd, 8), 0);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &len), 0);
	s->port = ntohs(a.sin_port);
}

static void server_start(struct server *s, int conns)
{
	memset(s, 0, sizeof(*s));
	listener(s);
	s->conns = conns;
	s->ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_set_min_proto_version(s->ctx, TLS1_3_VERSION);
	SSL_CTX_use_certificate(s->ctx, leaf);
	SSL_CTX_use_PrivateKey(s->ctx, leaf_key);
	SSL_CTX_set_alpn_select_cb(s->ctx, alpn_cb, s);
	SSL_CTX_set_tlsext_servername_callback(s->ctx, sni_cb);
	SSL_CTX_set_tlsext_servername_arg(s->ctx, s);
	assert_int_equal(pthread_create(&s->th, NULL, serve, s), 0);
}

static void server_end(struct server *s)
{
	pthread_join(s->th, NULL);
	close(s->lfd);
	SSL_CTX_free(s->ctx);
}

static struct sockaddr_storage addr_of(uint16_t port)
{
	struct sockaddr_storage ss = {};
	struct sockaddr_in *a = (void *)&ss;

	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->sin_port = htons(port);
	return ss;
}

struct got {
	int calls;
	struct mw_tls_probe_result r;
};

static void done(void *userdata, const struct mw_tls_probe_result *r)
{
	struct got *g = userdata;

	g->calls++;
	g->r = *r;
}

static void run_until(sd_event *e, struct got *g, uint64_t max_usec)
{
	uint64_t end = mw_now_mono_usec() + max_usec;

	while (!g->calls && mw_now_mono_usec() < end)
		assert_true(sd_event_run(e, 100000) >= 0);
}

static void test_probe_reads_the_certificate(void **state)
{
	sd_event *e = NULL;
	struct mw_tls_probe *p = NULL;
	struct mw_tls_probe_wait *w = NULL;
	struct mw_tls_probe_result r;
	struct server s;
	struct sockaddr_storage a;
	struct got g = {};
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char fp[MW_TLS_FINGERPRINT_MAX];
	size_t o = 0;

	assert_int_equal(X509_digest(leaf, EVP_sha256(), md, &mdlen), 1);
	for (unsigned i = 0; i < mdlen; i++)
		o += (size_t)snprintf(fp + o, sizeof(fp) - o, "%s%02X", i ? ":" : "", md[i]);

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(tls_probe_new(e, &p), 0);
	server_start(&s, 2);
	a = addr_of(s.port);
	assert_int_equal(tls_probe_get(p, &a, "probe.test", "h2,http/1.1", done, &g, &r, &w),
			 -EINPROGRESS);
	run_until(e, &g, 5000000);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.r.error, 0);
	assert_string_equal(g.r.subject, "/CN=probe.test");
	assert_string_equal(g.r.fingerprint, fp);
	assert_string_equal(g.r.version, "TLSv1.3");
	/* self-signed: read, recorded as not verifying, never refused */
	assert_string_not_equal(g.r.verify, "ok");
	assert_non_null(strstr(g.r.verify, "self"));
	/* the server saw the flow's SNI and ALPN */
	assert_string_equal(s.sni, "probe.test");
	assert_string_equal(s.alpn, "h2,http/1.1");
	assert_int_equal(tls_probe_count(p), 1);

	/* the same (address, port, SNI): from the cache, no connection */
	memset(&r, 0, sizeof(r));
	assert_int_equal(tls_probe_get(p, &a, "probe.test", "", done, &g, &r, &w), 0);
	assert_string_equal(r.fingerprint, fp);
	assert_int_equal(tls_probe_count(p), 1);

	/* another SNI is another probe; its wait cancelled, the result is cached anyway */
	g.calls = 0;
	assert_int_equal(tls_probe_get(p, &a, "other.test", "", done, &g, &r, &w), -EINPROGRESS);
	tls_probe_cancel(w);
	for (int i = 0; i < 20 && tls_probe_get(p, &a, "other.test", "", done, &g, &r, &w) != 0;
	     i++) {
		tls_probe_cancel(w);
		assert_true(sd_event_run(e, 100000) >= 0);
	}
	assert_int_equal(g.calls, 0);
	assert_string_equal(r.fingerprint, fp);
	assert_string_equal(s.sni, "other.test");
	assert_int_equal(tls_probe_count(p), 2);
	server_end(&s);
	tls_probe_free(p);
	sd_event_unref(e);
}

static void test_probe_failures(void **state)
{
	sd_event *e = NULL;
	struct mw_tls_probe *p = NULL;
	struct mw_tls_probe_wait *w = NULL;
	struct mw_tls_probe_result r;
	struct server s;
	struct sockaddr_storage a;
	struct got g = {};
	uint64_t t0;

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(tls_probe_new(e, &p), 0);
	/* nobody listens: refused, and the failure is cached */
	memset(&s, 0, sizeof(s));
	listener(&s);
	close(s.lfd);
	a = addr_of(s.port);
	assert_int_equal(tls_probe_get(p, &a, "", "", done, &g, &r, &w), -EINPROGRESS);
	run_until(e, &g, 5000000);
	assert_int_equal(g.r.error, -ECONNREFUSED);
	assert_non_null(strstr(g.r.why, "connect: "));
	assert_string_equal(g.r.fingerprint, "");
	assert_int_equal(tls_probe_get(p, &a, "", "", done, &g, &r, &w), 0);
	assert_int_equal(r.error, -ECONNREFUSED);

	/* a listener that never speaks TLS: the probe gives up after its timeout */
	memset(&s, 0, sizeof(s));
	listener(&s);
	a = addr_of(s.port);
	g.calls = 0;
	t0 = mw_now_mono_usec();
	assert_int_equal(tls_probe_get(p, &a, "slow.test", "", done, &g, &r, &w), -EINPROGRESS);
	run_until(e, &g, MW_TLS_PROBE_TIMEOUT_USEC + 2000000);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.r.error, -ETIMEDOUT);
	assert_true(mw_now_mono_usec() - t0 >= MW_TLS_PROBE_TIMEOUT_USEC - 10000);
	assert_true(mw_now_mono_usec() - t0 < MW_TLS_PROBE_TIMEOUT_USEC + 1000000);
	close(s.lfd);
	tls_probe_free(p);
	sd_event_unref(e);
}

/* At most MW_TLS_PROBE_INFLIGHT_MAX at once; freeing with probes running drops the waits. */
static void test_probe_bounded(void **state)
{
	sd_event *e = NULL;
	struct mw_tls_probe *p = NULL;
	struct mw_tls_probe_wait *w = NULL;
	struct mw_tls_probe_result r;
	struct server s;
	struct sockaddr_storage a;
	struct got g = {};
	char sni[32];

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(tls_probe_new(e, &p), 0);
	memset(&s, 0, sizeof(s));
	listener(&s); /* accepts in the backlog, never answers */
	a = addr_of(s.port);
	for (int i = 0; i < MW_TLS_PROBE_INFLIGHT_MAX; i++) {
		snprintf(sni, sizeof(sni), "n%d.test", i);
		assert_int_equal(tls_probe_get(p, &a, sni, "", done, &g, &r, &w), -EINPROGRESS);
	}
	assert_int_equal(tls_probe_get(p, &a, "one-more.test", "", done, &g, &r, &w), -EBUSY);
	/* joining a running probe is not a new one */
	assert_int_equal(tls_probe_get(p, &a, "n0.test", "", done, &g, &r, &w), -EINPROGRESS);
	assert_int_equal(tls_probe_count(p), MW_TLS_PROBE_INFLIGHT_MAX);
	tls_probe_free(p);
	assert_int_equal(g.calls, 0);
	close(s.lfd);
	sd_event_unref(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe_reads_the_certificate),
		cmocka_unit_test(test_probe_failures),
		cmocka_unit_test(test_probe_bounded),
	};
	int r;

	signal(SIGPIPE, SIG_IGN); /* as in the agent: the probe closes before session tickets */
	leaf_make();
	r = cmocka_run_group_tests(tests, NULL, NULL);
	X509_free(leaf);
	EVP_PKEY_free(leaf_key);
	return r;
}
