/* tls.c: see tls.h. */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "util.h"

#define TLS_READ_CHUNK 16384
#define TLS_SESSION_KEY_MAX 300 /* name:port/trust/pin */
#define TLS_SUBJECT_MAX 256

/* The sessions kept for one upstream key, oldest first.  TLS 1.3 tickets are meant for one
 * use: OpenSSL marks a client session not resumable once a handshake resumed it (with
 * SSL_SESS_CACHE_CLIENT), so each flow takes a ticket of its own and the last one is handed
 * out as a copy; a single shared session would leave every flow that starts before the
 * upstream's next ticket arrives with a full handshake. */
struct tls_session {
	char key[TLS_SESSION_KEY_MAX];
	SSL_SESSION *sess[MW_TLS_SESSION_TICKETS_MAX];
	size_t n;
	uint64_t used;
};

struct tls_client_ctx {
	char ca_file[4096]; /* "" for the system store */
	SSL_CTX *ctx;
};

struct mw_tls_ctx {
	struct mw_ca *ca;
	SSL_CTX *server;
	pthread_mutex_t lock;
	struct tls_client_ctx clients[MW_TLS_CLIENT_CTX_MAX];
	size_t n_clients;
	struct tls_session *sessions; /* MW_TLS_SESSION_CACHE_MAX */
	size_t n_sessions;
	uint64_t clock;
};

struct leg {
	SSL *ssl;
	BIO *rbio, *wbio; /* owned by ssl */
	bool ready, eof, failed;
	struct mw_bytes pending; /* plaintext held until ready */
};

struct mw_tls {
	struct mw_tls_ctx *ctx;
	struct leg client, up;
	struct mw_tls_verify verify;
	SSL_CTX *up_ctx; /* the client context of its trust setting (owned by ctx) */
	char name[MW_TLS_NAME_MAX + 1];
	char key[TLS_SESSION_KEY_MAX];
	char error[MW_TLS_ERROR_MAX];
	char subject[TLS_SUBJECT_MAX];
	char fingerprint[MW_CA_FINGERPRINT_MAX];
};

static int ex_index = -1; /* SSL ex_data slot: the struct mw_tls of an upstream SSL */
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

static void ex_init(void)
{
	ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* --- the shared context ------------------------------------------------------------------- */

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char want[] = "\x08" MW_TLS_ALPN_INSPECTED;
	unsigned char *sel = NULL;

	if (SSL_select_next_proto(&sel, outlen, want, sizeof(want) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK; /* no ALPN: the client falls back to HTTP/1.1 */
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static void session_slot_clear(struct tls_session *e)
{
	for (size_t i = 0; i < e->n; i++)
		SSL_SESSION_free(e->sess[i]);
	e->n = 0;
}

/* Keeps sess (the reference is the cache's from now on), the oldest of its key dropped when
 * the key holds MW_TLS_SESSION_TICKETS_MAX already. */
static void session_put(struct mw_tls_ctx *ctx, const char *key, SSL_SESSION *sess)
{
	struct tls_session *slot = NULL;

	pthread_mutex_lock(&ctx->lock);
	for (size_t i = 0; i < ctx->n_sessions && !slot; i++)
		if (strcmp(ctx->sessions[i].key, key) == 0)
			slot = &ctx->sessions[i];
	if (!slot && ctx->n_sessions < MW_TLS_SESSION_CACHE_MAX)
		slot = &ctx->sessions[ctx->n_sessions++];
	if (!slot) {
		slot = &ctx->sessions[0];
		for (size_t i = 1; i < ctx->n_sessions; i++)
			if (ctx->sessions[i].used < slot->used)
				slot = &ctx->sessions[i];
	}
	if (strcmp(slot->key, key) != 0) {
		session_slot_clear(slot);
		snprintf(slot->key, sizeof(slot->key), "%s", key);
	}
	if (slot->n == MW_TLS_SESSION_TICKETS_MAX) {
		SSL_SESSION_free(slot->sess[0]);
		memmove(slot->sess, slot->sess + 1, (slot->n - 1) * sizeof(slot->sess[0]));
		slot->n--;
	}
	slot->sess[slot->n++] = sess;
	slot->used = ++ctx->clock;
	pthread_mutex_unlock(&ctx->lock);
}

/* A session for a new flow, the caller's to free: the newest one of the key, taken out of the
 * cache while others remain, else a copy of the last one (reused rather than no resumption:
 * a server that wants single use answers with a full handshake and a fresh ticket). */
static SSL_SESSION *session_get(struct mw_tls_ctx *ctx, const char *key)
{
	SSL_SESSION *s = NULL;

	pthread_mutex_lock(&ctx->lock);
	for (size_t i = 0; i < ctx->n_sessions; i++) {
		struct tls_session *e = &ctx->sessions[i];

		if (strcmp(e->key, key) != 0)
			continue;
		while (e->n && !SSL_SESSION_is_resumable(e->sess[e->n - 1]))
			SSL_SESSION_free(e->sess[--e->n]);
		if (e->n > 1)
			s = e->sess[--e->n];
		else if (e->n == 1)
			s = SSL_SESSION_dup(e->sess[0]);
		if (s)
			e->used = ++ctx->clock;
		break;
	}
	pthread_mutex_unlock(&ctx->lock);
	return s;
}

/* A new upstream session (TLS 1.3: from a NewSessionTicket after the handshake). */
static int session_new_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct mw_tls *t = SSL_get_ex_data(ssl, ex_index);

	if (!t || !t->up.ready)
		return 0; /* only sessions of verified handshakes are kept */
	session_put(t->ctx, t->key, sess);
	return 1; /* the cache holds the reference */
}

static SSL_CTX *client_ctx_new(const char *ca_file)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	static const unsigned char alpn[] = "\x08" MW_TLS_ALPN_INSPECTED;

	if (!c)
		return NULL;
	SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	if ((ca_file && *ca_file ? SSL_CTX_load_verify_locations(c, ca_file, NULL)
				 : SSL_CTX_set_default_verify_paths(c)) != 1 ||
	    SSL_CTX_set_alpn_protos(c, alpn, sizeof(alpn) - 1) != 0) {
		SSL_CTX_free(c);
		return NULL;
	}
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(c, session_new_cb);
	return c;
}

int tls_ctx_new(struct mw_ca *ca, struct mw_tls_ctx **ret_ctx)
{
	struct mw_tls_ctx *ctx;

	pthread_once(&ex_once, ex_init);
	if (ex_index < 0)
		return -ENOMEM;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	pthread_mutex_init(&ctx->lock, NULL);
	ctx->ca = ca;
	ctx->sessions = calloc(MW_TLS_SESSION_CACHE_MAX, sizeof(*ctx->sessions));
	ctx->server = SSL_CTX_new(TLS_server_method());
	ctx->clients[0].ctx = client_ctx_new(NULL);
	if (!ctx->sessions || !ctx->server) {
		tls_ctx_free(ctx);
		return -ENOMEM;
	}
	ctx->n_clients = 1;
	if (!ctx->clients[0].ctx) {
		tls_ctx_free(ctx);
		return -EIO;
	}
	SSL_CTX_set_min_proto_version(ctx->server, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx->server, TLS1_3_VERSION);
	SSL_CTX_set_alpn_select_cb(ctx->server, alpn_select, NULL);
	SSL_CTX_set_session_cache_mode(ctx->server, SSL_SESS_CACHE_SERVER);
	SSL_CTX_set_session_id_context(ctx->server, (const unsigned char *)"mcpwarden", 9);
	*ret_ctx = ctx;
	return 0;
}

struct mw_tls_ctx *tls_ctx_free(struct mw_tls_ctx *ctx)
{
	if (!ctx)
		return NULL;
	for (size_t i = 0; i < ctx->n_clients; i++)
		SSL_CTX_free(ctx->clients[i].ctx);
	if (ctx->sessions)
		for (size_t i = 0; i < ctx->n_sessions; i++)
			session_slot_clear(&ctx->sessions[i]);
	free(ctx->sessions);
	SSL_CTX_free(ctx->server);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
	return NULL;
}

/* The client context for a trust setting, and its slot (part of the session key). */
static SSL_CTX *client_ctx_get(struct mw_tls_ctx *ctx, const char *ca_file, size_t *ret_slot)
{
	SSL_CTX *c = NULL;

	*ret_slot = 0;
	if (!ca_file || !*ca_file)
		return ctx->clients[0].ctx;
	pthread_mutex_lock(&ctx->lock);
	for (size_t i = 1; i < ctx->n_clients && !c; i++)
		if (strcmp(ctx->clients[i].ca_file, ca_file) == 0) {
			c = ctx->clients[i].ctx;
			*ret_slot = i;
		}
	if (!c && ctx->n_clients < MW_TLS_CLIENT_CTX_MAX &&
	    strlen(ca_file) < sizeof(ctx->clients[0].ca_file)) {
		c = client_ctx_new(ca_file);
		if (c) {
			snprintf(ctx->clients[ctx->n_clients].ca_file,
				 sizeof(ctx->clients[0].ca_file), "%s", ca_file);
			*ret_slot = ctx->n_clients;
			ctx->clients[ctx->n_clients++].ctx = c;
		}
	}
	pthread_mutex_unlock(&ctx->lock);
	return c;
}

static bool inet_pton_any(const char *name, unsigned char ip[16])
{
	return inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
}

/* --- one flow ----------------------------------------------------------------------------- */

static int leg_init(struct leg *l, SSL_CTX *c)
{
	l->ssl = SSL_new(c);
	l->rbio = BIO_new(BIO_s_mem());
	l->wbio = BIO_new(BIO_s_mem());
	if (!l->ssl || !l->rbio || !l->wbio) {
		BIO_free(l->rbio);
		BIO_free(l->wbio);
		return -ENOMEM;
	}
	BIO_set_mem_eof_return(l->rbio, -1);
	SSL_set_bio(l->ssl, l->rbio, l->wbio);
	return 0;
}

static void leg_free(struct leg *l)
{
	SSL_free(l->ssl);
	bytes_wipe(&l->pending); /* plaintext, with an injected credential */
}

struct mw_tls *tls_free(struct mw_tls *t)
{
	if (!t)
		return NULL;
	/* A relay often ends with a FIN and no close_notify; OpenSSL would then mark the
	 * session not resumable.  A flow that never failed keeps its sessions. */
	if (t->up.ready && !t->up.failed)
		SSL_set_shutdown(t->up.ssl, SSL_SENT_SHUTDOWN);
	if (t->client.ready && !t->client.failed)
		SSL_set_shutdown(t->client.ssl, SSL_SENT_SHUTDOWN);
	leg_free(&t->client);
	leg_free(&t->up);
	free(t);
	return NULL;
}

/* The upstream leg: a TLS client for t->name (SNI unless an IP literal, host name checked),
 * offering the session cached under t->key. */
static int up_init(struct mw_tls *t)
{
	unsigned char ip[16];
	bool is_ip = inet_pton_any(t->name, ip);
	SSL_SESSION *sess;
	int r;

	r = leg_init(&t->up, t->up_ctx);
	if (r < 0)
		return r;
	SSL_set_connect_state(t->up.ssl);
	SSL_set_ex_data(t->up.ssl, ex_index, t);
	if ((!is_ip && SSL_set_tlsext_host_name(t->up.ssl, t->name) != 1) ||
	    SSL_set1_host(t->up.ssl, t->name) != 1)
		return -EINVAL;
	SSL_set_hostflags(t->up.ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	sess = session_get(t->ctx, t->key);
	if (sess) {
		SSL_set_session(t->up.ssl, sess);
		SSL_SESSION_free(sess);
	}
	ERR_clear_error();
	return 0;
}

int tls_intercept_new(struct mw_tls_ctx *ctx, const char *name, uint16_t port,
		      const struct mw_tls_verify *verify, struct mw_tls **ret)
{
	_cleanup_(tls_freep) struct mw_tls *t = NULL;
	X509 *leaf = NULL;
	EVP_PKEY *key = NULL;
	SSL_CTX *cc;
	char pinhex[17] = "-";
	size_t slot;
	int r;

	if (strlen(name) > MW_TLS_NAME_MAX)
		return -ENAMETOOLONG;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->ctx = ctx;
	snprintf(t->name, sizeof(t->name), "%s", name);
	if (verify)
		t->verify = *verify;
	r = ca_mint(ctx->ca, name, &leaf, &key);
	if (r < 0)
		return r;
	r = leg_init(&t->client, ctx->server);
	if (r == 0 && (SSL_use_certificate(t->client.ssl, leaf) != 1 ||
		       SSL_use_PrivateKey(t->client.ssl, key) != 1 ||
		       SSL_add1_chain_cert(t->client.ssl, ca_cert(ctx->ca)) != 1))
		r = -EIO;
	X509_free(leaf);
	EVP_PKEY_free(key);
	if (r < 0)
		return r;
	SSL_set_accept_state(t->client.ssl);

	cc = client_ctx_get(ctx, t->verify.ca_file, &slot);
	if (!cc)
		return -EIO;
	/* sessions are resumed only under the same name, port, trust and pin */
	for (size_t i = 0; i < 8 && t->verify.has_pin; i++)
		snprintf(pinhex + 2 * i, sizeof(pinhex) - 2 * i, "%02x", t->verify.pin[i]);
	snprintf(t->key, sizeof(t->key), "%s:%u/%zu/%s", name, port, slot, pinhex);
	t->up_ctx = cc;
	r = up_init(t);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(t);
	return 0;
}

int tls_upstream_restart(struct mw_tls *t, struct mw_bytes *to_upstream)
{
	int r;

	if (t->up.failed)
		return -EPROTO;
	/* the old connection ended without close_notify, maybe: its session stays resumable */
	if (t->up.ready)
		SSL_set_shutdown(t->up.ssl, SSL_SENT_SHUTDOWN);
	leg_free(&t->up);
	memset(&t->up, 0, sizeof(t->up));
	t->subject[0] = t->fingerprint[0] = 0;
	r = up_init(t);
	if (r < 0)
		return r;
	return tls_upstream_start(t, to_upstream);
}

static int fail(struct mw_tls *t, struct leg *l, const char *fmt, ...) _printf_(3, 4);
static int fail(struct mw_tls *t, struct leg *l, const char *fmt, ...)
{
	va_list ap;

	l->failed = true;
	if (!t->error[0]) {
		va_start(ap, fmt);
		vsnprintf(t->error, sizeof(t->error), fmt, ap);
		va_end(ap);
	}
	ERR_clear_error();
	return -EPROTO;
}

static const char *ssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *s = e ? ERR_reason_error_string(e) : NULL;

	return s ? s : "protocol error";
}

static int drain(struct leg *l, struct mw_bytes *out)
{
	char *p;
	long n = BIO_get_mem_data(l->wbio, &p);

	if (n > 0) {
		if (bytes_append(out, p, (size_t)n) < 0)
			return -ENOMEM;
		(void)BIO_reset(l->wbio);
	}
	return 0;
}

static int pin_check(struct mw_tls *t)
{
	STACK_OF(X509) *chain = SSL_get0_verified_chain(t->up.ssl);

	for (int i = 0; chain && i < sk_X509_num(chain); i++) {
		unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;
		int n = i2d_PUBKEY(X509_get0_pubkey(sk_X509_value(chain, i)), &der);
		bool match;

		if (n <= 0)
			continue;
		EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL);
		OPENSSL_free(der);
		match = mdlen == MW_TLS_PIN_LEN && memcmp(md, t->verify.pin, MW_TLS_PIN_LEN) == 0;
		if (match)
			return 0;
	}
	return fail(t, &t->up, "upstream certificate: public key pin mismatch");
}

static void record_peer(struct mw_tls *t)
{
	X509 *peer = SSL_get0_peer_certificate(t->up.ssl);

	if (!peer)
		return;
	X509_NAME_oneline(X509_get_subject_name(peer), t->subject, sizeof(t->subject));
	ca_fingerprint(peer, t->fingerprint, sizeof(t->fingerprint));
}

/* Drive a leg's handshake, then read what plaintext there is. */
static int leg_pump(struct mw_tls *t, struct leg *l, bool upstream, struct mw_bytes *plain,
		    struct mw_bytes *out)
{
	uint8_t buf[TLS_READ_CHUNK];
	int r, err;

	ERR_clear_error();
	if (!l->ready) {
		r = SSL_do_handshake(l->ssl);
		if (r != 1) {
			err = SSL_get_error(l->ssl, r);
			drain(l, out); /* an alert for the peer, when there is one */
			if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
				return 0;
			if (upstream && SSL_get_verify_result(l->ssl) != X509_V_OK)
				return fail(t, l, "upstream certificate: %s",
					    X509_verify_cert_error_string(
						    SSL_get_verify_result(l->ssl)));
			return fail(t, l, "%s handshake: %s", upstream ? "upstream" : "client",
				    ssl_reason());
		}
		if (upstream) {
			record_peer(t);
			/* a resumed session comes from a verified, pinned handshake under the same
			 * key (name, port, trust, pin); OpenSSL keeps no verified chain for it */
			if (t->verify.has_pin && !SSL_session_reused(l->ssl) && pin_check(t) < 0)
				return -EPROTO;
		}
		l->ready = true;
		if (upstream) {
			SSL_SESSION *s = SSL_get1_session(l->ssl);

			/* TLS 1.2 sessions exist now; 1.3 ones arrive as tickets (session_new_cb) */
			/* not a resumed one: it came from the pool, whose last TLS 1.2 session is
			 * handed out as copies (reusable); putting it back fills the pool with copies */
			if (s && SSL_version(l->ssl) < TLS1_3_VERSION && !SSL_session_reused(l->ssl) &&
			    SSL_SESSION_is_resumable(s))
				session_put(t->ctx, t->key, s);
			else
				SSL_SESSION_free(s);
		}
		if (l->pending.len) {
			r = SSL_write(l->ssl, l->pending.data, (int)l->pending.len);
			if (r <= 0)
				return fail(t, l, "%s write: %s", upstream ? "upstream" : "client",
					    ssl_reason());
			bytes_wipe(&l->pending);
		}
	}
	for (;;) {
		r = SSL_read(l->ssl, buf, sizeof(buf));
		if (r > 0) {
			if (bytes_append(plain, buf, (size_t)r) < 0)
				return -ENOMEM;
			continue;
		}
		err = SSL_get_error(l->ssl, r);
		if (err == SSL_ERROR_ZERO_RETURN) {
			l->eof = true;
			break;
		}
		if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
			break;
		drain(l, out);
		return fail(t, l, "%s read: %s", upstream ? "upstream" : "client", ssl_reason());
	}
	explicit_bzero(buf, sizeof(buf));
	return drain(l, out);
}

static int leg_in(struct mw_tls *t, struct leg *l, bool upstream, const uint8_t *buf,
		  size_t len, struct mw_bytes *plain, struct mw_bytes *out)
{
	if (l->failed)
		return -EPROTO;
	if (len && BIO_write(l->rbio, buf, (int)len) != (int)len)
		return -ENOMEM;
	return leg_pump(t, l, upstream, plain, out);
}

static int leg_out(struct mw_tls *t, struct leg *l, bool upstream, const uint8_t *plain,
		   size_t len, struct mw_bytes *out)
{
	if (l->failed)
		return -EPROTO;
	if (len == 0)
		return 0;
	if (!l->ready) {
		if (l->pending.len + len > MW_TLS_PENDING_MAX)
			return -ENOBUFS;
		return bytes_append(&l->pending, plain, len);
	}
	ERR_clear_error();
	while (len) {
		int chunk = len > INT32_MAX ? INT32_MAX : (int)len;
		int r = SSL_write(l->ssl, plain, chunk);

		if (r <= 0)
			return fail(t, l, "%s write: %s", upstream ? "upstream" : "client",
				    ssl_reason());
		plain += r;
		len -= (size_t)r;
	}
	return drain(l, out);
}

int tls_upstream_start(struct mw_tls *t, struct mw_bytes *to_upstream)
{
	struct mw_bytes none = {};
	int r = leg_in(t, &t->up, true, NULL, 0, &none, to_upstream);

	bytes_free(&none);
	return r;
}

int tls_client_in(struct mw_tls *t, const uint8_t *buf, size_t len, struct mw_bytes *plain,
		  struct mw_bytes *to_client)
{
	return leg_in(t, &t->client, false, buf, len, plain, to_client);
}

int tls_upstream_in(struct mw_tls *t, const uint8_t *buf, size_t len, struct mw_bytes *plain,
		    struct mw_bytes *to_upstream)
{
	return leg_in(t, &t->up, true, buf, len, plain, to_upstream);
}

int tls_client_out(struct mw_tls *t, const uint8_t *plain, size_t len, struct mw_bytes *to_client)
{
	return leg_out(t, &t->client, false, plain, len, to_client);
}

int tls_upstream_out(struct mw_tls *t, const uint8_t *plain, size_t len,
		     struct mw_bytes *to_upstream)
{
	return leg_out(t, &t->up, true, plain, len, to_upstream);
}

static int leg_close(struct leg *l, struct mw_bytes *out)
{
	if (!l->ready)
		return 0;
	ERR_clear_error();
	SSL_shutdown(l->ssl);
	ERR_clear_error();
	return drain(l, out);
}

int tls_client_close(struct mw_tls *t, struct mw_bytes *to_client)
{
	return leg_close(&t->client, to_client);
}

int tls_upstream_close(struct mw_tls *t, struct mw_bytes *to_upstream)
{
	return leg_close(&t->up, to_upstream);
}

bool tls_client_ready(const struct mw_tls *t)
{
	return t->client.ready;
}

bool tls_upstream_ready(const struct mw_tls *t)
{
	return t->up.ready;
}

bool tls_client_eof(const struct mw_tls *t)
{
	return t->client.eof;
}

bool tls_upstream_eof(const struct mw_tls *t)
{
	return t->up.eof;
}

bool tls_client_resumed(const struct mw_tls *t)
{
	return t->client.ready && SSL_session_reused(t->client.ssl);
}

bool tls_upstream_resumed(const struct mw_tls *t)
{
	return t->up.ready && SSL_session_reused(t->up.ssl);
}

const char *tls_error(const struct mw_tls *t)
{
	return t->error;
}

const char *tls_client_version(const struct mw_tls *t)
{
	return t->client.ready ? SSL_get_version(t->client.ssl) : "";
}

const char *tls_upstream_version(const struct mw_tls *t)
{
	return t->up.ready ? SSL_get_version(t->up.ssl) : "";
}

uint16_t tls_upstream_cipher(const struct mw_tls *t)
{
	const SSL_CIPHER *c = t->up.ready ? SSL_get_current_cipher(t->up.ssl) : NULL;

	return c ? SSL_CIPHER_get_protocol_id(c) : 0;
}

void tls_upstream_alpn(const struct mw_tls *t, char *buf, size_t size)
{
	const unsigned char *p = NULL;
	unsigned n = 0;

	if (t->up.ready)
		SSL_get0_alpn_selected(t->up.ssl, &p, &n);
	snprintf(buf, size, "%.*s", (int)n, p ? (const char *)p : "");
}

const char *tls_upstream_subject(const struct mw_tls *t)
{
	return t->subject;
}

const char *tls_upstream_fingerprint(const struct mw_tls *t)
{
	return t->fingerprint;
}

int tls_pin_parse(const char *s, uint8_t ret_pin[MW_TLS_PIN_LEN])
{
	uint8_t pin[MW_TLS_PIN_LEN + 3];
	size_t n = 0;

	if (strncmp(s, "sha256/", 7) == 0) {
		size_t len = strlen(s + 7);

		if (len != 44 || EVP_DecodeBlock(pin, (const unsigned char *)s + 7, 44) != 33)
			return -EINVAL;
		memcpy(ret_pin, pin, MW_TLS_PIN_LEN);
		return 0;
	}
	while (*s) {
		int hi, lo;

		if (*s == ':') {
			s++;
			continue;
		}
		hi = mw_hex_value(s[0]);
		lo = hi < 0 ? -1 : mw_hex_value(s[1]);
		if (hi < 0 || lo < 0 || n >= MW_TLS_PIN_LEN)
			return -EINVAL;
		pin[n++] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	if (n != MW_TLS_PIN_LEN)
		return -EINVAL;
	memcpy(ret_pin, pin, MW_TLS_PIN_LEN);
	return 0;
}
