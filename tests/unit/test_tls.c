/* test_tls.c: the interception engine in one process: a real OpenSSL client (the gateway,
 * trusting mcpwarden's CA) <-> the engine <-> a real OpenSSL server (the upstream, with a
 * certificate from a test CA made here).  Plaintext must pass both ways; an upstream with a
 * wrong host name, an expired certificate, a certificate from an unknown CA or a key that
 * does not match the pin is refused with the verifier's reason; sessions resume on both legs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "tls.h"

#define NAME "upstream.test"
#define PORT 8443

struct fx {
	char dir[64];
	struct mw_ca *ca;    /* mcpwarden's */
	struct mw_ca *upca;  /* the upstream's test CA */
	char upca_file[128]; /* its certificate */
	struct mw_tls_ctx *ctx;
};

static struct fx F;

static int setup(void **state)
{
	char d[128];

	snprintf(F.dir, sizeof(F.dir), "/tmp/test_tls.XXXXXX");
	assert_non_null(mkdtemp(F.dir));
	snprintf(d, sizeof(d), "%s/mw", F.dir);
	assert_int_equal(ca_init(d, &F.ca), 0);
	snprintf(d, sizeof(d), "%s/up", F.dir);
	assert_int_equal(ca_init(d, &F.upca), 0);
	snprintf(F.upca_file, sizeof(F.upca_file), "%s/up/ca.crt", F.dir);
	assert_int_equal(tls_ctx_new(F.ca, &F.ctx), 0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	tls_ctx_free(F.ctx);
	ca_free(F.ca);
	ca_free(F.upca);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", F.dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* A leaf for name signed by the upstream test CA, valid from..until (seconds from now). */
static void leaf_make(const char *name, long from, long until, X509 **ret_cert,
		      EVP_PKEY **ret_key)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = X509_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	char san[128];

	assert_non_null(key);
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 42);
	X509_gmtime_adj(X509_getm_notBefore(cert), from);
	X509_gmtime_adj(X509_getm_notAfter(cert), until);
	X509_set_pubkey(cert, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_UTF8,
				   (const unsigned char *)name, -1, -1, 0);
	X509_set_issuer_name(cert, X509_get_subject_name(ca_cert(F.upca)));
	snprintf(san, sizeof(san), "DNS:%s", name);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, ca_cert(F.upca), cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	/* the test CA's key: read back from its file */
	{
		char p[128];
		FILE *f;
		EVP_PKEY *cakey;

		snprintf(p, sizeof(p), "%s/up/ca.key", F.dir);
		f = fopen(p, "r");
		assert_non_null(f);
		cakey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		assert_non_null(cakey);
		assert_true(X509_sign(cert, cakey, EVP_sha256()) > 0);
		EVP_PKEY_free(cakey);
	}
	*ret_cert = cert;
	*ret_key = key;
}

struct peer {
	SSL *ssl;
	BIO *rbio, *wbio;
};

static void peer_init(struct peer *p, SSL_CTX *c)
{
	p->ssl = SSL_new(c);
	p->rbio = BIO_new(BIO_s_mem());
	p->wbio = BIO_new(BIO_s_mem());
	BIO_set_mem_eof_return(p->rbio, -1);
	SSL_set_bio(p->ssl, p->rbio, p->wbio);
}

/* Move what p wrote into q (bytes appended to a queue). */
static size_t peer_take(struct peer *p, struct mw_bytes *q)
{
	char *data;
	long n = BIO_get_mem_data(p->wbio, &data);

	if (n > 0) {
		bytes_append(q, data, (size_t)n);
		(void)BIO_reset(p->wbio);
	}
	return n > 0 ? (size_t)n : 0;
}

static void peer_give(struct peer *p, struct mw_bytes *q)
{
	if (q->len)
		BIO_write(p->rbio, q->data, (int)q->len);
	bytes_consume(q, q->len);
}

struct run {
	struct peer cli, srv;
	struct mw_tls *t;
	struct mw_bytes to_client, to_up, plain_c, plain_u, wire;
	SSL_CTX *cctx, *sctx;
	int r;
};

static void run_start(struct run *x, X509 *leaf, EVP_PKEY *key, const struct mw_tls_verify *v,
		      SSL_SESSION *client_sess, SSL_CTX *sctx)
{
	static const unsigned char alpn[] = "\x02h2\x08http/1.1";

	memset(x, 0, sizeof(*x));
	x->cctx = SSL_CTX_new(TLS_client_method());
	X509_STORE_add_cert(SSL_CTX_get_cert_store(x->cctx), ca_cert(F.ca));
	SSL_CTX_set_verify(x->cctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_alpn_protos(x->cctx, alpn, sizeof(alpn) - 1);
	if (sctx) {
		/* shared across flows: the upstream's ticket keys stay the same */
		SSL_CTX_up_ref(sctx);
		x->sctx = sctx;
	} else {
		x->sctx = SSL_CTX_new(TLS_server_method());
		SSL_CTX_use_certificate(x->sctx, leaf);
		SSL_CTX_use_PrivateKey(x->sctx, key);
	}
	peer_init(&x->cli, x->cctx);
	SSL_set_connect_state(x->cli.ssl);
	SSL_set_tlsext_host_name(x->cli.ssl, NAME);
	SSL_set1_host(x->cli.ssl, NAME);
	if (client_sess)
		SSL_set_session(x->cli.ssl, client_sess);
	peer_init(&x->srv, x->sctx);
	SSL_set_accept_state(x->srv.ssl);
	assert_int_equal(tls_intercept_new(F.ctx, NAME, PORT, v, &x->t), 0);
	assert_int_equal(tls_upstream_start(x->t, &x->to_up), 0);
}

/* One round of moving bytes everywhere; returns the engine's first error. */
static int run_step(struct run *x)
{
	uint8_t buf[4096];
	int r = 0, n;

	SSL_do_handshake(x->cli.ssl);
	x->wire.len = 0;
	peer_take(&x->cli, &x->wire);
	if (x->wire.len)
		r = tls_client_in(x->t, x->wire.data, x->wire.len, &x->plain_c, &x->to_client);
	peer_give(&x->cli, &x->to_client);
	SSL_do_handshake(x->srv.ssl);
	while ((n = SSL_read(x->srv.ssl, buf, sizeof(buf))) > 0) {
		/* the upstream answers every request with the same reply */
		SSL_write(x->srv.ssl, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 40);
	}
	peer_give(&x->srv, &x->to_up);
	x->wire.len = 0;
	SSL_do_handshake(x->srv.ssl);
	peer_take(&x->srv, &x->wire);
	if (r == 0 && x->wire.len)
		r = tls_upstream_in(x->t, x->wire.data, x->wire.len, &x->plain_u, &x->to_up);
	peer_give(&x->srv, &x->to_up);
	return r;
}

static int run_handshake(struct run *x)
{
	for (int i = 0; i < 10; i++) {
		int r = run_step(x);

		if (r < 0)
			return r;
		if (tls_client_ready(x->t) && tls_upstream_ready(x->t) &&
		    SSL_is_init_finished(x->cli.ssl))
			return 0;
	}
	return -ETIMEDOUT;
}

static void run_end(struct run *x)
{
	tls_free(x->t);
	SSL_set_shutdown(x->cli.ssl, SSL_SENT_SHUTDOWN); /* keep the session resumable */
	SSL_free(x->cli.ssl);
	SSL_free(x->srv.ssl);
	SSL_CTX_free(x->cctx);
	SSL_CTX_free(x->sctx);
	bytes_free(&x->to_client);
	bytes_free(&x->to_up);
	bytes_free(&x->plain_c);
	bytes_free(&x->plain_u);
	bytes_free(&x->wire);
}

static const char request[] = "GET /mcp HTTP/1.1\r\nHost: upstream.test\r\n\r\n";

/* A request through the engine and its reply back; returns the client's session. */
static SSL_SESSION *roundtrip(struct run *x)
{
	char buf[256];
	int n;

	/* the gateway's request, in plaintext for the checkpoint */
	assert_int_equal(SSL_write(x->cli.ssl, request, (int)strlen(request)), (int)strlen(request));
	assert_int_equal(run_step(x), 0);
	assert_int_equal(x->plain_c.len, strlen(request));
	assert_memory_equal(x->plain_c.data, request, strlen(request));
	/* the checkpoint lets it through */
	assert_int_equal(tls_upstream_out(x->t, x->plain_c.data, x->plain_c.len, &x->to_up), 0);
	bytes_consume(&x->plain_c, x->plain_c.len);
	assert_int_equal(run_step(x), 0);
	assert_int_equal(run_step(x), 0);
	assert_int_equal(x->plain_u.len, 40);
	assert_memory_equal(x->plain_u.data, "HTTP/1.1 200 OK", 15);
	assert_int_equal(tls_client_out(x->t, x->plain_u.data, x->plain_u.len, &x->to_client), 0);
	bytes_consume(&x->plain_u, x->plain_u.len);
	peer_give(&x->cli, &x->to_client);
	n = SSL_read(x->cli.ssl, buf, sizeof(buf));
	assert_int_equal(n, 40);
	assert_memory_equal(buf, "HTTP/1.1 200 OK\r\n", 17);
	return SSL_get1_session(x->cli.ssl);
}

static void test_intercept_passes_plaintext(void **state)
{
	struct mw_tls_verify v = { .ca_file = F.upca_file };
	struct run x, y;
	X509 *leaf, *shown;
	EVP_PKEY *key;
	SSL_SESSION *sess;
	SSL_CTX *sctx;
	const unsigned char *alpn;
	unsigned int alpn_len;
	char fp[MW_CA_FINGERPRINT_MAX];

	leaf_make(NAME, -60, 3600, &leaf, &key);
	sctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate(sctx, leaf);
	SSL_CTX_use_PrivateKey(sctx, key);
	run_start(&x, leaf, key, &v, NULL, sctx);
	assert_int_equal(run_handshake(&x), 0);
	assert_string_equal(tls_error(x.t), "");
	/* the gateway verified a leaf minted by mcpwarden's CA for the name it asked */
	assert_int_equal(SSL_get_verify_result(x.cli.ssl), X509_V_OK);
	shown = SSL_get0_peer_certificate(x.cli.ssl);
	assert_int_equal(X509_check_host(shown, NAME, 0, 0, NULL), 1);
	assert_int_equal(X509_check_issued(ca_cert(F.ca), shown), X509_V_OK);
	/* only http/1.1 is offered back */
	SSL_get0_alpn_selected(x.cli.ssl, &alpn, &alpn_len);
	assert_int_equal(alpn_len, 8);
	assert_memory_equal(alpn, "http/1.1", 8);
	/* the upstream's certificate is recorded */
	ca_fingerprint(leaf, fp, sizeof(fp));
	assert_string_equal(tls_upstream_fingerprint(x.t), fp);
	assert_non_null(strstr(tls_upstream_subject(x.t), "CN=" NAME));
	assert_false(tls_upstream_resumed(x.t));
	sess = roundtrip(&x);
	run_end(&x);

	/* a second flow resumes on both legs */
	run_start(&y, leaf, key, &v, sess, sctx);
	assert_int_equal(run_handshake(&y), 0);
	SSL_SESSION_free(roundtrip(&y));
	assert_true(tls_upstream_resumed(y.t));
	assert_true(tls_client_resumed(y.t));
	run_end(&y);
	SSL_SESSION_free(sess);
	SSL_CTX_free(sctx);
	X509_free(leaf);
	EVP_PKEY_free(key);
}

/* The upstream connection ends (a request was held meanwhile): a new upstream leg, resumed
 * from the cached session and verified as before, carries the next request; the gateway's
 * leg goes on unchanged. */
static void test_upstream_restart(void **state)
{
	struct mw_tls_verify v = { .ca_file = F.upca_file };
	struct run x;
	X509 *leaf;
	EVP_PKEY *key;
	SSL_CTX *sctx;
	char fp[MW_CA_FINGERPRINT_MAX];

	leaf_make(NAME, -60, 3600, &leaf, &key);
	sctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate(sctx, leaf);
	SSL_CTX_use_PrivateKey(sctx, key);
	run_start(&x, leaf, key, &v, NULL, sctx);
	assert_int_equal(run_handshake(&x), 0);
	SSL_SESSION_free(roundtrip(&x));
	/* the upstream goes away; a new connection, a new server-side SSL */
	SSL_set_shutdown(x.srv.ssl, SSL_SENT_SHUTDOWN);
	SSL_free(x.srv.ssl);
	bytes_consume(&x.to_up, x.to_up.len);
	peer_init(&x.srv, sctx);
	SSL_set_accept_state(x.srv.ssl);
	assert_int_equal(tls_upstream_restart(x.t, &x.to_up), 0);
	assert_false(tls_upstream_ready(x.t));
	assert_true(x.to_up.len > 0); /* a new ClientHello */
	for (int i = 0; i < 5 && !tls_upstream_ready(x.t); i++)
		assert_int_equal(run_step(&x), 0);
	assert_true(tls_upstream_ready(x.t));
	assert_true(tls_upstream_resumed(x.t));
	assert_true(tls_client_ready(x.t));
	SSL_SESSION_free(roundtrip(&x));
	run_end(&x);

	/* an upstream that no longer resumes: a full handshake, verified again */
	run_start(&x, leaf, key, &v, NULL, NULL);
	assert_int_equal(run_handshake(&x), 0);
	SSL_free(x.srv.ssl);
	/* the upstream no longer resumes anything */
	SSL_CTX_set_session_cache_mode(x.sctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(x.sctx, SSL_OP_NO_TICKET);
	peer_init(&x.srv, x.sctx);
	SSL_set_accept_state(x.srv.ssl);
	bytes_consume(&x.to_up, x.to_up.len);
	assert_int_equal(tls_upstream_restart(x.t, &x.to_up), 0);
	for (int i = 0; i < 5 && !tls_upstream_ready(x.t); i++)
		assert_int_equal(run_step(&x), 0);
	assert_true(tls_upstream_ready(x.t));
	assert_false(tls_upstream_resumed(x.t));
	ca_fingerprint(leaf, fp, sizeof(fp));
	assert_string_equal(tls_upstream_fingerprint(x.t), fp);
	SSL_SESSION_free(roundtrip(&x));
	run_end(&x);
	SSL_CTX_free(sctx);
	X509_free(leaf);
	EVP_PKEY_free(key);
}

/* A request sent before the upstream handshake is done is held, then delivered. */
static void test_held_until_ready(void **state)
{
	struct mw_tls_verify v = { .ca_file = F.upca_file };
	struct run x;
	X509 *leaf;
	EVP_PKEY *key;

	leaf_make(NAME, -60, 3600, &leaf, &key);
	run_start(&x, leaf, key, &v, NULL, NULL);
	assert_int_equal(tls_upstream_out(x.t, (const uint8_t *)request, strlen(request), &x.to_up),
			 0);
	assert_int_equal(run_handshake(&x), 0);
	for (int i = 0; i < 3 && x.plain_u.len == 0; i++)
		assert_int_equal(run_step(&x), 0);
	assert_int_equal(x.plain_u.len, 40);
	run_end(&x);
	X509_free(leaf);
	EVP_PKEY_free(key);
}

static void refused(const char *leaf_name, long from, long until, const struct mw_tls_verify *v,
		    const char *want)
{
	struct run x;
	X509 *leaf;
	EVP_PKEY *key;

	leaf_make(leaf_name, from, until, &leaf, &key);
	run_start(&x, leaf, key, v, NULL, NULL);
	assert_int_equal(run_handshake(&x), -EPROTO);
	assert_false(tls_upstream_ready(x.t));
	if (!strstr(tls_error(x.t), want))
		fail_msg("error '%s', expected '%s'", tls_error(x.t), want);
	/* sticky on the upstream leg */
	assert_int_equal(tls_upstream_out(x.t, (const uint8_t *)"x", 1, &x.to_up), -EPROTO);
	/* the gateway's leg still completes and can be told why */
	for (int i = 0; i < 4 && !SSL_is_init_finished(x.cli.ssl); i++) {
		SSL_do_handshake(x.cli.ssl);
		x.wire.len = 0;
		peer_take(&x.cli, &x.wire);
		assert_int_equal(tls_client_in(x.t, x.wire.data, x.wire.len, &x.plain_c,
					       &x.to_client),
				 0);
		peer_give(&x.cli, &x.to_client);
	}
	assert_true(tls_client_ready(x.t));
	assert_int_equal(tls_client_out(x.t, (const uint8_t *)"HTTP/1.1 502 Bad Gateway\r\n", 26,
					&x.to_client),
			 0);
	peer_give(&x.cli, &x.to_client);
	{
		char buf[64];

		assert_int_equal(SSL_read(x.cli.ssl, buf, sizeof(buf)), 26);
		assert_memory_equal(buf, "HTTP/1.1 502", 12);
	}
	run_end(&x);
	X509_free(leaf);
	EVP_PKEY_free(key);
}

static void test_refusals(void **state)
{
	struct mw_tls_verify v = { .ca_file = F.upca_file };
	struct mw_tls_verify pinned = v;

	refused("other.test", -60, 3600, &v, "upstream certificate: hostname mismatch");
	refused(NAME, -7200, -3600, &v, "upstream certificate: certificate has expired");
	refused(NAME, -60, 3600, NULL, "unable to get local issuer certificate");
	pinned.has_pin = true;
	memset(pinned.pin, 0xab, sizeof(pinned.pin));
	refused(NAME, -60, 3600, &pinned, "public key pin mismatch");
}

/* The right pin, taken from the test CA's key (any key of the chain may be pinned). */
static void test_pin_accepted(void **state)
{
	struct mw_tls_verify v = { .ca_file = F.upca_file, .has_pin = true };
	unsigned char *der = NULL;
	unsigned int n = 0;
	int len = i2d_PUBKEY(X509_get0_pubkey(ca_cert(F.upca)), &der);
	char hex[200] = "";
	SSL_CTX *sctx;
	struct run x;
	X509 *leaf;
	EVP_PKEY *key;

	EVP_Digest(der, (size_t)len, v.pin, &n, EVP_sha256(), NULL);
	OPENSSL_free(der);
	for (int i = 0; i < 32; i++)
		snprintf(hex + strlen(hex), sizeof(hex) - strlen(hex), "%s%02x", i ? ":" : "",
			 v.pin[i]);
	{
		uint8_t parsed[MW_TLS_PIN_LEN];

		assert_int_equal(tls_pin_parse(hex, parsed), 0);
		assert_memory_equal(parsed, v.pin, MW_TLS_PIN_LEN);
		assert_int_equal(tls_pin_parse("abcd", parsed), -EINVAL);
	}
	leaf_make(NAME, -60, 3600, &leaf, &key);
	sctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate(sctx, leaf);
	SSL_CTX_use_PrivateKey(sctx, key);
	run_start(&x, leaf, key, &v, NULL, sctx);
	assert_int_equal(run_handshake(&x), 0);
	SSL_SESSION_free(roundtrip(&x));
	run_end(&x);
	/* a pinned upstream resumes too (the session came from a pinned handshake) */
	run_start(&x, leaf, key, &v, NULL, sctx);
	assert_int_equal(run_handshake(&x), 0);
	assert_true(tls_upstream_resumed(x.t));
	SSL_SESSION_free(roundtrip(&x));
	run_end(&x);
	/* another pin does not get that session */
	v.pin[0] ^= 1;
	run_start(&x, leaf, key, &v, NULL, sctx);
	assert_int_equal(run_handshake(&x), -EPROTO);
	assert_string_equal(tls_error(x.t), "upstream certificate: public key pin mismatch");
	run_end(&x);
	SSL_CTX_free(sctx);
	X509_free(leaf);
	EVP_PKEY_free(key);
}

/* Flows that start before the upstream's next ticket arrives still resume: a full handshake
 * leaves two tickets (OpenSSL's default); later handshakes here get none (the server sends no
 * more), so the first takes a ticket, the second the other one, the third and fourth copies of
 * it.  With one shared session, OpenSSL's client marks it spent after the first resumption. */
static void test_tickets_for_each_flow(void **state)
{
	struct mw_tls_verify v = { .ca_file = F.upca_file };
	SSL_CTX *sctx;
	struct run x;
	X509 *leaf;
	EVP_PKEY *key;

	leaf_make("tickets.test", -60, 3600, &leaf, &key);
	sctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate(sctx, leaf);
	SSL_CTX_use_PrivateKey(sctx, key);
	for (int i = 0; i < 4; i++) {
		memset(&x, 0, sizeof(x));
		x.cctx = SSL_CTX_new(TLS_client_method());
		X509_STORE_add_cert(SSL_CTX_get_cert_store(x.cctx), ca_cert(F.ca));
		SSL_CTX_set_verify(x.cctx, SSL_VERIFY_PEER, NULL);
		SSL_CTX_up_ref(sctx);
		x.sctx = sctx;
		peer_init(&x.cli, x.cctx);
		SSL_set_connect_state(x.cli.ssl);
		SSL_set_tlsext_host_name(x.cli.ssl, "tickets.test");
		peer_init(&x.srv, x.sctx);
		SSL_set_accept_state(x.srv.ssl);
		if (i > 0)
			SSL_set_num_tickets(x.srv.ssl, 0);
		assert_int_equal(tls_intercept_new(F.ctx, "tickets.test", PORT, &v, &x.t), 0);
		assert_int_equal(tls_upstream_start(x.t, &x.to_up), 0);
		assert_int_equal(run_handshake(&x), 0);
		assert_int_equal(run_step(&x), 0); /* the tickets, if any */
		assert_true(tls_upstream_resumed(x.t) == (i > 0));
		run_end(&x);
	}
	SSL_CTX_free(sctx);
	X509_free(leaf);
	EVP_PKEY_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intercept_passes_plaintext),
		cmocka_unit_test(test_held_until_ready),
		cmocka_unit_test(test_upstream_restart),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_pin_accepted),
		cmocka_unit_test(test_tickets_for_each_flow),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
