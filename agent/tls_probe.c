/* tls_probe.c: see tls_probe.h. */
#include "tls_probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "util.h"

#define PROBE_KEY_MAX (INET6_ADDRSTRLEN + 8 + MW_TLS_SNI_MAX + 2)

struct mw_tls_probe_wait {
	struct probe_entry *entry; /* NULL while its entry answers it (entry_finish) */
	bool cancelled;		   /* cancelled then: freed by entry_finish, not called */
	void (*done)(void *userdata, const struct mw_tls_probe_result *r);
	void *userdata;
	struct mw_tls_probe_wait *next;
};

struct probe_entry {
	char key[PROBE_KEY_MAX]; /* "ip:port/sni"; "" for a free slot */
	bool running, connected;
	struct mw_tls_probe_result result;
	uint64_t expires, used;
	/* while running */
	char sni[MW_TLS_SNI_MAX + 1];
	int fd;
	SSL *ssl;
	sd_event_source *io, *timer;
	struct mw_tls_probe_wait *waits;
	struct mw_tls_probe *owner;
};

struct mw_tls_probe {
	sd_event *event;
	SSL_CTX *ctx;
	struct probe_entry *entries; /* MW_TLS_PROBE_CACHE_MAX */
	unsigned running;
	uint64_t clock, count;
};

int tls_probe_new(sd_event *event, struct mw_tls_probe **ret)
{
	struct mw_tls_probe *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->event = event;
	p->entries = calloc(MW_TLS_PROBE_CACHE_MAX, sizeof(*p->entries));
	for (size_t i = 0; p->entries && i < MW_TLS_PROBE_CACHE_MAX; i++)
		p->entries[i].fd = -1; /* before any failure: tls_probe_free() closes fds >= 0 */
	p->ctx = SSL_CTX_new(TLS_client_method());
	if (!p->entries || !p->ctx) {
		tls_probe_free(p);
		return -ENOMEM;
	}
	SSL_CTX_set_min_proto_version(p->ctx, TLS1_2_VERSION);
	/* the certificate is read, never trusted: verification is recorded, not enforced */
	SSL_CTX_set_verify(p->ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(p->ctx, SSL_SESS_CACHE_OFF); /* a full handshake */
	SSL_CTX_set_options(p->ctx, SSL_OP_NO_TICKET);
	if (SSL_CTX_set_default_verify_paths(p->ctx) != 1) {
		tls_probe_free(p);
		return -EIO;
	}
	*ret = p;
	return 0;
}

static void entry_stop(struct probe_entry *e)
{
	e->io = sd_event_source_disable_unref(e->io);
	e->timer = sd_event_source_disable_unref(e->timer);
	if (e->ssl)
		SSL_free(e->ssl);
	e->ssl = NULL;
	e->connected = false;
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
	if (e->running)
		e->owner->running--;
	e->running = false;
}

struct mw_tls_probe *tls_probe_free(struct mw_tls_probe *p)
{
	if (!p)
		return NULL;
	for (size_t i = 0; p->entries && i < MW_TLS_PROBE_CACHE_MAX; i++) {
		struct probe_entry *e = &p->entries[i];

		entry_stop(e);
		while (e->waits) {
			struct mw_tls_probe_wait *w = e->waits;

			e->waits = w->next;
			free(w);
		}
	}
	free(p->entries);
	SSL_CTX_free(p->ctx);
	free(p);
	return NULL;
}

uint64_t tls_probe_count(const struct mw_tls_probe *p)
{
	return p->count;
}

/* The probe ended (result filled): cache it, answer the waiters. */
static void entry_finish(struct probe_entry *e)
{
	uint64_t now = mw_now_mono_usec();
	struct mw_tls_probe_wait *w = e->waits;
	struct mw_tls_probe_result result;

	entry_stop(e);
	e->expires = now + (e->result.error ? MW_TLS_PROBE_FAIL_TTL_USEC : MW_TLS_PROBE_TTL_USEC);
	/* detached and copied first: a waiter's callback may start or cancel probes, and so
	 * reuse this entry */
	e->waits = NULL;
	result = e->result;
	for (struct mw_tls_probe_wait *x = w; x; x = x->next)
		x->entry = NULL;
	while (w) {
		struct mw_tls_probe_wait *next = w->next;

		if (!w->cancelled)
			w->done(w->userdata, &result);
		free(w);
		w = next;
	}
}

static void entry_fail(struct probe_entry *e, int err, const char *what, const char *detail)
{
	e->result.error = err;
	snprintf(e->result.why, sizeof(e->result.why), "%s%s", what, detail);
	ERR_clear_error();
	entry_finish(e);
}

/* The leaf, when the server sent one (also after a failed handshake, e.g. one that wanted a
 * client certificate). */
static bool entry_take_cert(struct probe_entry *e)
{
	X509 *peer = SSL_get0_peer_certificate(e->ssl);
	long v;

	if (!peer)
		return false;
	X509_NAME_oneline(X509_get_subject_name(peer), e->result.subject,
			  sizeof(e->result.subject));
	ca_fingerprint(peer, e->result.fingerprint, sizeof(e->result.fingerprint));
	v = SSL_get_verify_result(e->ssl);
	snprintf(e->result.verify, sizeof(e->result.verify), "%s",
		 v == X509_V_OK ? "ok" : X509_verify_cert_error_string(v));
	snprintf(e->result.version, sizeof(e->result.version), "%s", SSL_get_version(e->ssl));
	e->result.error = 0;
	return true;
}

static int entry_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);

static void entry_step(struct probe_entry *e)
{
	unsigned long l;
	const char *why;
	int r, err;

	if (!e->connected) {
		socklen_t len = sizeof(err);

		if (getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err)
			return entry_fail(e, -err, "connect: ", strerror(err));
		e->connected = true;
	}
	ERR_clear_error();
	r = SSL_do_handshake(e->ssl);
	if (r == 1) {
		entry_take_cert(e);
		SSL_shutdown(e->ssl); /* close_notify, not waited for */
		return entry_finish(e);
	}
	err = SSL_get_error(e->ssl, r);
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
		sd_event_source_set_io_events(e->io, err == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
		return;
	}
	if (entry_take_cert(e))
		return entry_finish(e);
	if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
		return entry_fail(e, -ECONNRESET, "handshake: ", "the server closed the connection");
	l = ERR_peek_last_error();
	why = l ? ERR_reason_error_string(l) : NULL;
	entry_fail(e, -EPROTO, "handshake: ", why ? why : "protocol error");
}

static int entry_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	entry_step(userdata);
	return 0;
}

static int entry_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct probe_entry *e = userdata;

	if (e->ssl && entry_take_cert(e)) /* the certificate came, the rest did not */
		entry_finish(e);
	else
		entry_fail(e, -ETIMEDOUT, "timed out", "");
	return 0;
}

/* "h2,http/1.1" into the wire format; false when it does not fit or a name is empty. */
static bool alpn_wire(const char *alpn, unsigned char *out, size_t size, size_t *ret_len)
{
	size_t o = 0;

	while (*alpn) {
		const char *end = strchr(alpn, ',');
		size_t n = end ? (size_t)(end - alpn) : strlen(alpn);

		if (n == 0 || n > 255 || o + 1 + n > size)
			return false;
		out[o++] = (unsigned char)n;
		memcpy(out + o, alpn, n);
		o += n;
		alpn += n + (end ? 1 : 0);
	}
	*ret_len = o;
	return true;
}

static int entry_start(struct mw_tls_probe *p, struct probe_entry *e,
		       const struct sockaddr_storage *addr, const char *ip, const char *alpn)
{
	unsigned char wire[MW_TLS_PROBE_ALPN_MAX];
	socklen_t alen = addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						       : sizeof(struct sockaddr_in);
	size_t wlen = 0;
	int one = 1, r;

	e->owner = p;
	e->running = true;
	p->running++;
	p->count++;
	memset(&e->result, 0, sizeof(e->result));
	e->fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (e->fd < 0)
		return -errno;
	setsockopt(e->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(e->fd, (const struct sockaddr *)addr, alen) < 0 && errno != EINPROGRESS)
		return -errno;
	e->ssl = SSL_new(p->ctx);
	if (!e->ssl || SSL_set_fd(e->ssl, e->fd) != 1)
		return -ENOMEM;
	SSL_set_connect_state(e->ssl);
	/* the same SNI and ALPN as the gateway's, so the server picks the same certificate */
	if (e->sni[0]) {
		if (SSL_set_tlsext_host_name(e->ssl, e->sni) != 1 || SSL_set1_host(e->ssl, e->sni) != 1)
			return -EINVAL;
	} else if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(e->ssl), ip) != 1) {
		return -EINVAL;
	}
	if (alpn_wire(alpn, wire, sizeof(wire), &wlen) && wlen &&
	    SSL_set_alpn_protos(e->ssl, wire, (unsigned)wlen) != 0)
		return -ENOMEM;
	r = sd_event_add_io(p->event, &e->io, e->fd, EPOLLOUT, entry_io, e);
	if (r < 0)
		return r;
	return sd_event_add_time_relative(p->event, &e->timer, CLOCK_MONOTONIC,
					  MW_TLS_PROBE_TIMEOUT_USEC, 0, entry_timeout, e);
}

/* The slot for key: its entry, a free one, or the least recently used finished one. */
static struct probe_entry *entry_slot(struct mw_tls_probe *p, const char *key)
{
	struct probe_entry *lru = NULL;

	for (size_t i = 0; i < MW_TLS_PROBE_CACHE_MAX; i++) {
		struct probe_entry *e = &p->entries[i];

		if (strcmp(e->key, key) == 0)
			return e;
		if (!e->key[0]) {
			if (!lru || lru->key[0])
				lru = e;
			continue;
		}
		if (!e->running && (!lru || (lru->key[0] && e->used < lru->used)))
			lru = e;
	}
	return lru;
}

int tls_probe_get(struct mw_tls_probe *p, const struct sockaddr_storage *addr, const char *sni,
		  const char *alpn,
		  void (*done)(void *userdata, const struct mw_tls_probe_result *r),
		  void *userdata, struct mw_tls_probe_result *ret,
		  struct mw_tls_probe_wait **ret_wait)
{
	char ip[INET6_ADDRSTRLEN], key[PROBE_KEY_MAX];
	struct mw_tls_probe_wait *w;
	struct probe_entry *e;
	uint16_t port;
	int r;

	if (addr->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)addr;

		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		port = ntohs(sin->sin_port);
	} else if (addr->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)addr;

		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		port = ntohs(sin6->sin6_port);
	} else {
		return -EAFNOSUPPORT;
	}
	if (strlen(sni) > MW_TLS_SNI_MAX)
		return -EINVAL;
	snprintf(key, sizeof(key), "%s:%u/%s", ip, port, sni);
	e = entry_slot(p, key);
	if (!e)
		return -EBUSY; /* every slot is a running probe */
	if (strcmp(e->key, key) == 0 && !e->running && e->expires > mw_now_mono_usec()) {
		e->used = ++p->clock;
		*ret = e->result;
		return 0;
	}
	if (strcmp(e->key, key) != 0 || !e->running) {
		if (p->running >= MW_TLS_PROBE_INFLIGHT_MAX)
			return -EBUSY;
		entry_stop(e);
		snprintf(e->key, sizeof(e->key), "%s", key);
		snprintf(e->sni, sizeof(e->sni), "%s", sni);
		e->used = ++p->clock;
		r = entry_start(p, e, addr, ip, alpn);
		if (r < 0) {
			entry_stop(e);
			e->key[0] = 0;
			return r;
		}
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->entry = e;
	w->done = done;
	w->userdata = userdata;
	w->next = e->waits;
	e->waits = w;
	*ret_wait = w;
	return -EINPROGRESS;
}

void tls_probe_cancel(struct mw_tls_probe_wait *w)
{
	struct mw_tls_probe_wait **pp;

	if (!w)
		return;
	if (!w->entry) { /* being answered: entry_finish frees it */
		w->cancelled = true;
		return;
	}
	for (pp = &w->entry->waits; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	free(w);
}
