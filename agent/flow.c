/* flow.c: see flow.h. */
#include "flow.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/epoll.h>

#include "config.h"
#include "journal.h"
#include "loader.h"
#include "sockdiag.h"
#include "tls_env.h"
#include "util.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

struct listener {
	int fd;
	bool inbound;
	uint16_t public_port;
	sd_event_source *src;
	struct mw_flows *owner;
};

#define MAX_LISTENERS (MW_MAX_LISTEN_FDS)
#define ACCEPT_PAUSE_USEC 100000ULL /* after EMFILE/ENFILE */

struct mw_flows {
	sd_event *event;
	struct mw_loader *loader;
	struct mw_flows_limits limits;
	struct mw_flows_ops ops;
	void *userdata;
	struct listener listeners[MAX_LISTENERS];
	unsigned n_listeners;
	struct mw_flow *head; /* active flows */
	struct mw_flow *recent[MW_FLOWS_RECENT];
	unsigned recent_next;
	uint64_t next_id;
	uint64_t netns_cookie;
	bool inspecting; /* a checkpoint is configured: hold bytes until sniffed */
	struct mw_tls_env *tenv;
	struct mw_journal *journal;
	struct mw_flow_counters counters;
};

static int flow_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);

const char *flow_dir_name(enum mw_flow_dir d)
{
	return d == MW_FLOW_INBOUND ? "inbound" : "outbound";
}

const char *flow_state_name(enum mw_flow_state s)
{
	static const char *const names[] = { "connecting", "relaying", "half-closed", "closed" };

	return s < ARRAY_SIZE(names) ? names[s] : "?";
}

const char *flow_tls_name(enum mw_flow_tls t)
{
	static const char *const names[] = { "-", "hello", "pass", "intercept", "block" };

	return t < ARRAY_SIZE(names) ? names[t] : "?";
}

/* Buffers start small and double, up to the relay_buffer limit, only while a peer keeps
 * filling them: an MCP request costs little, a bulk transfer gets large reads. */
#define RELAY_BUF_INITIAL (64 * 1024)

static int buf_init(struct mw_relay_buf *b, size_t max)
{
	b->cap = max < RELAY_BUF_INITIAL ? max : RELAY_BUF_INITIAL;
	b->max = max;
	b->data = malloc(b->cap);
	if (!b->data)
		return -ENOMEM;
	b->start = b->end = 0;
	return 0;
}

static size_t buf_len(const struct mw_relay_buf *b)
{
	return b->end - b->start;
}

/* Free space at the end: compacting when the front has been consumed, growing when the
 * buffer is full of unsent bytes and may still grow. */
static size_t buf_room(struct mw_relay_buf *b)
{
	if (b->start == b->end) {
		b->start = b->end = 0;
	} else if (b->end == b->cap && b->start > 0) {
		memmove(b->data, b->data + b->start, b->end - b->start);
		b->end -= b->start;
		b->start = 0;
	}
	return b->cap - b->end;
}

/* After a read that filled the buffer: double it (failure just keeps the size). */
static void buf_grow(struct mw_relay_buf *b)
{
	size_t cap = b->cap * 2 > b->max ? b->max : b->cap * 2;
	uint8_t *p;

	if (cap <= b->cap || b->start > 0)
		return;
	p = realloc(b->data, cap);
	if (!p)
		return;
	b->data = p;
	b->cap = cap;
}

static void bytes_wipe(struct mw_bytes *b)
{
	if (b->data)
		explicit_bzero(b->data, b->cap);
	bytes_free(b);
}

static void flow_free(struct mw_flow *f)
{
	sd_event_source_disable_unref(f->src_down);
	sd_event_source_disable_unref(f->src_up);
	sd_event_source_disable_unref(f->timer);
	sd_event_source_disable_unref(f->wake);
	f->src_down = f->src_up = f->timer = f->wake = NULL;
	if (f->fd_down >= 0)
		close(f->fd_down);
	if (f->fd_up >= 0)
		close(f->fd_up);
	f->fd_down = f->fd_up = -1;
	free(f->up.data);
	free(f->down.data);
	f->up.data = f->down.data = NULL;
	sd_event_source_disable_unref(f->cred_timer);
	f->cred_timer = NULL;
	f->insp = inspect_free(f->insp);
	/* plaintext and rewritten heads (an injected credential) are wiped before free */
	bytes_wipe(&f->uout);
	bytes_wipe(&f->cout);
	bytes_wipe(&f->cplain);
	bytes_wipe(&f->uplain);
	bytes_free(&f->cwire);
	bytes_free(&f->uwire);
	bytes_free(&f->shello);
	f->tls = tls_free(f->tls);
	f->urule = NULL;
	f->cred = NULL;
	f->tenv = tls_env_unref(f->tenv);
}

static void flow_unlink(struct mw_flows *fl, struct mw_flow *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		fl->head = f->next;
	if (f->next)
		f->next->prev = f->prev;
	f->prev = f->next = NULL;
}

/* Keep a closed flow for `flows --all`, evicting the oldest. */
static void flow_retire(struct mw_flows *fl, struct mw_flow *f)
{
	struct mw_flow **slot = &fl->recent[fl->recent_next];

	free(*slot);
	*slot = f;
	fl->recent_next = (fl->recent_next + 1) % MW_FLOWS_RECENT;
}

static void flow_close(struct mw_flow *f, const char *reason)
{
	struct mw_flows *fl = f->owner;
	bool relayed = f->state != MW_FLOW_CONNECTING || f->bytes_up || f->bytes_down;

	if (f->state == MW_FLOW_CLOSED)
		return;
	if (!f->reason[0])
		snprintf(f->reason, sizeof(f->reason), "%s", reason);
	f->state = MW_FLOW_CLOSED;
	f->end_mono = mw_now_mono_usec();
	flow_free(f);
	flow_unlink(fl, f);
	fl->counters.active--;
	if (!relayed && strcmp(f->reason, "closed") != 0)
		fl->counters.failed++;
	if (fl->ops.closed)
		fl->ops.closed(fl->userdata, f);
	flow_retire(fl, f);
}

static void set_io(sd_event_source *s, uint32_t events)
{
	if (!s)
		return;
	if (!events) {
		sd_event_source_set_enabled(s, SD_EVENT_OFF);
		return;
	}
	sd_event_source_set_io_events(s, events);
	sd_event_source_set_enabled(s, SD_EVENT_ON);
}

/* Bytes waiting to go upstream, and to the client (the checkpoint's queues included). */
static size_t pending_up(const struct mw_flow *f)
{
	return buf_len(&f->up) + f->uout.len + f->cplain.len + f->uwire.len;
}

static size_t pending_down(const struct mw_flow *f)
{
	return buf_len(&f->down) + f->cout.len + f->uplain.len + f->cwire.len;
}

/* Bytes ready to be written to each socket (what is held as input does not wake EPOLLOUT):
 * relayed bytes once the flow is relaying unread, the checkpoint's queues, ciphertext. */
static size_t out_up(const struct mw_flow *f)
{
	bool raw = !f->insp && !f->tls && !f->holding;

	return (raw ? buf_len(&f->up) : 0) + f->uout.len + f->uwire.len;
}

static size_t out_down(const struct mw_flow *f)
{
	bool raw = !f->insp && !f->tls;

	return (raw ? buf_len(&f->down) : 0) + f->cout.len + f->cwire.len;
}

static bool journal_gate(struct mw_flow *f, bool to_client);

static void flow_update_events(struct mw_flow *f)
{
	uint32_t down = 0, up = 0;

	if (!f->eof_down && !f->insp_close && buf_room(&f->up) > 0 &&
	    f->uout.len + f->cplain.len + f->uwire.len < f->up.max && !f->cred_timer)
		down |= EPOLLIN;
	/* ciphertext (handshakes included) goes at once; the rest when the journal allows,
	 * else the journal's signal wakes it */
	if (f->cwire.len || (out_down(f) > 0 && journal_gate(f, true)))
		down |= EPOLLOUT;
	if (f->state == MW_FLOW_CONNECTING) {
		up = EPOLLOUT;
	} else {
		if (!f->eof_up && buf_room(&f->down) > 0 &&
		    f->cout.len + f->uplain.len + f->cwire.len < f->down.max)
			up |= EPOLLIN;
		if (f->uwire.len || (out_up(f) > 0 && journal_gate(f, false)))
			up |= EPOLLOUT;
	}
	set_io(f->src_down, down);
	set_io(f->src_up, up);
}

static void sniff_feed(struct mw_flow *f, const uint8_t *data, size_t n)
{
	size_t take;

	if (f->proto != MW_PROTO_UNKNOWN || f->sniff_len >= sizeof(f->sniff))
		return;
	take = sizeof(f->sniff) - f->sniff_len;
	if (take > n)
		take = n;
	memcpy(f->sniff + f->sniff_len, data, take);
	f->sniff_len += take;
	f->proto = sniff_classify(f->sniff, f->sniff_len);
	if (f->proto == MW_PROTO_UNKNOWN && f->sniff_len >= MW_SNIFF_NEED)
		f->proto = MW_PROTO_OTHER;
}

/* Read what fits from fd into b. 0 = progress or would block, 1 = EOF, <0 = error. */
static int relay_read(int fd, struct mw_relay_buf *b, uint64_t *count)
{
	for (;;) {
		size_t room = buf_room(b);
		ssize_t n;

		if (!room)
			return 0;
		n = read(fd, b->data + b->end, room);
		if (n > 0) {
			b->end += (size_t)n;
			*count += (uint64_t)n;
			if ((size_t)n < room)
				return 0;
			buf_grow(b);
			continue;
		}
		if (n == 0)
			return 1;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN ? 0 : -errno;
	}
}

static int bytes_write(int fd, struct mw_bytes *b)
{
	while (b->len > 0) {
		ssize_t n = send(fd, b->data, b->len, MSG_NOSIGNAL);

		if (n > 0) {
			bytes_consume(b, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN ? 0 : -errno;
	}
	return 0;
}

void flow_journal_append(const struct mw_flow *cf, uint8_t type, uint8_t dir, uint16_t flags,
			 const char *meta, const void *payload, size_t len)
{
	struct mw_flow *f = (struct mw_flow *)cf; /* the flows module owns its flows */
	struct mw_journal *j = f->owner->journal;
	const uint8_t *p = payload;

	if (!j || !f->jsession)
		return;
	do {
		size_t n = len > MW_JOURNAL_RECORD_CHUNK ? MW_JOURNAL_RECORD_CHUNK : len;
		struct mw_jrec r = { .type = type, .dir = dir, .flags = flags,
				     .session = f->jsession, .flow = f->id, .seq = ++f->jseq,
				     .meta = meta, .meta_len = meta ? (uint32_t)strlen(meta) : 0,
				     .payload = p, .payload_len = (uint32_t)n };
		uint64_t t = 0;
		int k = journal_append(j, &r, &t);

		if (k == 0 && dir == MW_JDIR_DOWN)
			f->jwait_down = t;
		else if (k == 0)
			f->jwait_up = t;
		else if (journal_mode(j) == MW_JOURNAL_STRICT)
			f->jfailed = true; /* nothing unrecorded may go out */
		p += n;
		len -= n;
	} while (len > 0);
}

/* Raw bytes of a flow the checkpoint does not read: the tail of b not yet recorded. */
static void journal_raw(struct mw_flow *f, bool to_client)
{
	struct mw_relay_buf *b = to_client ? &f->down : &f->up;
	uint64_t total = to_client ? f->bytes_down : f->bytes_up;
	uint64_t *done = to_client ? &f->jrec_down : &f->jrec_up;
	size_t n = (size_t)(total - *done);

	if (!f->owner->journal || !n)
		return;
	if (n > buf_len(b))
		n = buf_len(b);
	flow_journal_append(f, to_client ? MW_JREC_RESPONSE : MW_JREC_REQUEST,
			    to_client ? MW_JDIR_DOWN : MW_JDIR_UP, MW_JFLAG_RAW, NULL,
			    b->data + b->end - n, n);
	*done = total;
}

/* Strict mode: may the bytes queued towards this side go? */
static bool journal_gate(struct mw_flow *f, bool to_client)
{
	struct mw_journal *j = f->owner->journal;

	if (!j || journal_mode(j) != MW_JOURNAL_STRICT)
		return true;
	return journal_durable(j, to_client ? f->jwait_down : f->jwait_up);
}

/* What the checkpoint queued during one call, recorded raw in each direction for which it
 * made no payload record itself (a GET, a 202, a passed non-JSON response, an HTTP error):
 * a payload is recorded once, structured or raw, never both. */
static void journal_queued(struct mw_flow *f, size_t up_before, size_t down_before,
			   uint64_t st_up, uint64_t st_down)
{
	if (!f->owner->journal)
		return;
	if (f->uout.len > up_before && f->jstruct_up == st_up)
		flow_journal_append(f, MW_JREC_REQUEST, MW_JDIR_UP, MW_JFLAG_RAW, NULL,
				    f->uout.data + up_before, f->uout.len - up_before);
	if (f->cout.len > down_before && f->jstruct_down == st_down)
		flow_journal_append(f, MW_JREC_RESPONSE, MW_JDIR_DOWN, MW_JFLAG_RAW, NULL,
				    f->cout.data + down_before, f->cout.len - down_before);
}

/* ---- TLS (tls_env.h) ------------------------------------------------------------------ */

static void report_tls(struct mw_flow *f, const char *what)
{
	if (f->owner->ops.tls)
		f->owner->ops.tls(f->owner->userdata, f, what);
}

static const char *tls_version_name(uint16_t v)
{
	switch (v) {
	case 0x0304:
		return "TLSv1.3";
	case 0x0303:
		return "TLSv1.2";
	case 0x0302:
		return "TLSv1.1";
	case 0x0301:
		return "TLSv1";
	default:
		return "unknown";
	}
}

/* The destination's IP literal (no brackets) and port. */
static uint16_t target_ip(const struct mw_flow *f, char *buf, size_t size)
{
	buf[0] = 0;
	if (f->target.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&f->target;

		inet_ntop(AF_INET, &sin->sin_addr, buf, (socklen_t)size);
		return ntohs(sin->sin_port);
	}
	if (f->target.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)&f->target;

		inet_ntop(AF_INET6, &sin6->sin6_addr, buf, (socklen_t)size);
		return ntohs(sin6->sin6_port);
	}
	return 0;
}

static void rule_name(struct mw_flow *f)
{
	if (f->urule)
		snprintf(f->tlsi.rule, sizeof(f->tlsi.rule), "upstreams[%u]",
			 (unsigned)(f->urule - f->tenv->ups->rules));
}

static void set_abortive(int fd);

/* Reset both sides: the gateway must see a failure, not a clean end. */
static void flow_reset(struct mw_flow *f, const char *reason)
{
	set_abortive(f->fd_down);
	set_abortive(f->fd_up);
	flow_close(f, reason);
}

/* A plain HTTP flow meets its upstream's rule for the credential it injects. */
static void upstream_rule_plain(struct mw_flow *f)
{
	char ip[INET6_ADDRSTRLEN];
	uint16_t port = target_ip(f, ip, sizeof(ip));

	if (!f->tenv || f->urule)
		return;
	f->urule = upstreams_match(f->tenv->ups, ip, port);
	f->cred = tls_env_cred(f->tenv, f->urule);
	rule_name(f);
	if (f->cred)
		snprintf(f->tlsi.cred, sizeof(f->tlsi.cred), "%s", cred_name(f->cred));
}

/* The ClientHello is in f->up (or not yet): decide what the flow is.  0: go on; 1: keep
 * holding the client's bytes; -1: the flow has ended. */
static int tls_decide(struct mw_flow *f)
{
	struct mw_flow_tls_info *ti = &f->tlsi;
	struct mw_tls_hello h;
	struct mw_tls_verify v = {};
	char ip[INET6_ADDRSTRLEN];
	const char *name;
	uint16_t port;
	size_t o = 0;
	int r;

	r = tls_hello_parse(f->up.data + f->up.start, buf_len(&f->up), &h);
	if (r == -EAGAIN && !f->eof_down && buf_room(&f->up) > 0)
		return 1;
	if (r < 0) {
		snprintf(ti->error, sizeof(ti->error), "unreadable ClientHello: %s",
			 r == -EAGAIN		 ? "truncated"
			 : r == -E2BIG		 ? "too large"
			 : r == -EPROTONOSUPPORT ? "not a ClientHello"
						 : "malformed");
		report_tls(f, "refused");
		flow_reset(f, ti->error);
		return -1;
	}
	snprintf(ti->sni, sizeof(ti->sni), "%s", h.sni);
	for (unsigned i = 0; i < h.n_alpn && o < sizeof(ti->alpn); i++)
		o += (size_t)snprintf(ti->alpn + o, sizeof(ti->alpn) - o, "%s%s", i ? "," : "",
				      h.alpn[i]);
	snprintf(ti->offered, sizeof(ti->offered), "%s",
		 tls_version_name(tls_hello_max_version(&h)));
	port = target_ip(f, ip, sizeof(ip));
	name = h.has_sni ? h.sni : ip;
	f->urule = upstreams_match(f->tenv->ups, name, port);
	rule_name(f);
	if (!f->urule || f->urule->tls == MW_UPSTREAM_TLS_PASS) {
		f->tls_mode = MW_FLOW_TLS_PASS;
		report_tls(f, "pass");
		return 0;
	}
	if (f->urule->tls == MW_UPSTREAM_TLS_BLOCK) {
		f->tls_mode = MW_FLOW_TLS_BLOCK;
		snprintf(ti->error, sizeof(ti->error), "blocked by %s", ti->rule);
		report_tls(f, "block");
		flow_reset(f, ti->error);
		return -1;
	}
	if (!f->tenv->ctx) {
		r = -ENOKEY;
	} else {
		v.ca_file = f->urule->ca_file[0] ? f->urule->ca_file : NULL;
		v.has_pin = f->urule->has_pin;
		memcpy(v.pin, f->urule->pin, sizeof(v.pin));
		r = tls_intercept_new(f->tenv->ctx, name, port, &v, &f->tls);
		if (r == 0)
			r = tls_upstream_start(f->tls, &f->uwire);
	}
	if (r < 0) {
		snprintf(ti->error, sizeof(ti->error), "cannot intercept: %s",
			 r == -ENOKEY ? "no CA ('mcpwarden ca init')" : strerror(-r));
		report_tls(f, "refused");
		flow_reset(f, ti->error);
		return -1;
	}
	f->cred = tls_env_cred(f->tenv, f->urule);
	if (f->cred)
		snprintf(ti->cred, sizeof(ti->cred), "%s", cred_name(f->cred));
	f->tls_mode = MW_FLOW_TLS_INTERCEPT;
	report_tls(f, "intercept");
	return 0;
}

static void tls_facts(struct mw_flow *f)
{
	struct mw_flow_tls_info *ti = &f->tlsi;

	if (!f->tls)
		return;
	if (tls_upstream_ready(f->tls)) {
		snprintf(ti->version, sizeof(ti->version), "%s", tls_upstream_version(f->tls));
		snprintf(ti->subject, sizeof(ti->subject), "%s", tls_upstream_subject(f->tls));
		snprintf(ti->fingerprint, sizeof(ti->fingerprint), "%s",
			 tls_upstream_fingerprint(f->tls));
		ti->resumed_upstream = tls_upstream_resumed(f->tls);
	}
	if (tls_client_ready(f->tls))
		ti->resumed_client = tls_client_resumed(f->tls);
}

/* Pass: the server's first flight, read without consuming it (the relay sends it on). */
static void tls_server_feed(struct mw_flow *f, const uint8_t *p, size_t n)
{
	struct mw_tls_server_hello sh;
	struct mw_flow_tls_info *ti = &f->tlsi;
	size_t room = MW_TLS_SERVER_FLIGHT_MAX - f->shello.len;
	int r;

	if (f->shello_done || !n)
		return;
	if (bytes_append(&f->shello, p, n < room ? n : room) < 0) {
		f->shello_done = true;
		return;
	}
	r = tls_server_parse(f->shello.data, f->shello.len, &sh);
	if (r == -EAGAIN && f->shello.len < MW_TLS_SERVER_FLIGHT_MAX)
		return;
	f->shello_done = true;
	bytes_free(&f->shello);
	if (r < 0) {
		snprintf(ti->subject, sizeof(ti->subject), "unreadable server flight");
		return;
	}
	snprintf(ti->version, sizeof(ti->version), "%s", tls_version_name(sh.version));
	snprintf(ti->cipher, sizeof(ti->cipher), "0x%04x", sh.cipher_suite);
	snprintf(ti->server_alpn, sizeof(ti->server_alpn), "%s", sh.alpn);
	if (sh.has_cert) {
		snprintf(ti->subject, sizeof(ti->subject), "%s", sh.subject);
		snprintf(ti->fingerprint, sizeof(ti->fingerprint), "%s", sh.fingerprint);
	} else {
		snprintf(ti->subject, sizeof(ti->subject), "not visible (%s)",
			 sh.version >= MW_TLS_VERSION_1_3 ? "TLS 1.3" : "resumed");
	}
}

/* The engine failed.  The gateway's leg failing, or anything but a refused upstream, resets
 * the flow; a refused upstream is answered 502 (below) once the gateway's leg is up.
 * -1: the flow has ended. */
static int tls_fail(struct mw_flow *f, int r, bool client_leg)
{
	const char *why = tls_error(f->tls);

	if (!f->tlsi.error[0])
		snprintf(f->tlsi.error, sizeof(f->tlsi.error), "%s",
			 why && why[0] ? why : strerror(-r));
	tls_facts(f);
	if (client_leg || r != -EPROTO) {
		report_tls(f, "refused");
		flow_reset(f, f->tlsi.error);
		return -1;
	}
	if (!f->tls_failed) {
		f->tls_failed = true;
		report_tls(f, "refused");
		set_abortive(f->fd_up);
		shutdown(f->fd_up, SHUT_RDWR);
		f->eof_up = f->shut_up = true;
		bytes_wipe(&f->uout);
		bytes_wipe(&f->uplain);
		bytes_free(&f->uwire);
		f->down.start = f->down.end = 0;
	}
	return 0;
}

/* After a refused upstream: finish the gateway's handshake, then answer the first request
 * 502 with the reason, then close. */
static void tls_refused_pump(struct mw_flow *f)
{
	int r = 0;

	if (buf_len(&f->up)) {
		r = tls_client_in(f->tls, f->up.data + f->up.start, buf_len(&f->up), &f->cplain,
				  &f->cwire);
		f->up.start = f->up.end = 0;
	}
	if (r < 0)
		return flow_reset(f, f->tlsi.error);
	/* once a request has begun (now, or earlier: it may be queued already) */
	if (!f->tls_replied && tls_client_ready(f->tls) &&
	    (f->cplain.len || f->tls_plain_seen || f->eof_down)) {
		char body[400], *resp = NULL;
		int n;

		snprintf(body, sizeof(body), "mcpwarden refused the upstream: %s\n", f->tlsi.error);
		n = asprintf(&resp,
			     "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\n"
			     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			     strlen(body), body);
		if (n < 0)
			return flow_reset(f, f->tlsi.error);
		r = tls_client_out(f->tls, (const uint8_t *)resp, (size_t)n, &f->cwire);
		free(resp);
		if (r == 0)
			r = tls_client_close(f->tls, &f->cwire);
		if (r < 0)
			return flow_reset(f, f->tlsi.error);
		f->tls_replied = true;
	}
	bytes_wipe(&f->cplain);
	if (!f->tls_replied && f->eof_down)
		return flow_reset(f, f->tlsi.error);
	r = bytes_write(f->fd_down, &f->cwire);
	if (r < 0)
		return flow_reset(f, f->tlsi.error);
	if (f->tls_replied && f->cwire.len == 0)
		return flow_close(f, f->tlsi.error);
	flow_update_events(f);
}

static int cred_timer_fire(sd_event_source *s, uint64_t usec, void *userdata);

/* An OAuth credential without its first token: the request waits (bounded), then goes to
 * the checkpoint, which answers 503 if there is still none.  true: hold. */
static bool cred_wait(struct mw_flow *f)
{
	uint64_t now;

	if (!f->cred || cred_ready(f->cred)) {
		f->cred_wait_start = 0;
		return false;
	}
	now = mw_now_mono_usec();
	if (!f->cred_wait_start)
		f->cred_wait_start = now;
	if (now - f->cred_wait_start >= MW_FLOW_CRED_WAIT_USEC)
		return false;
	if (!f->cred_timer &&
	    sd_event_add_time_relative(f->owner->event, &f->cred_timer, CLOCK_MONOTONIC,
				       MW_FLOW_CRED_POLL_USEC, 0, cred_timer_fire, f) < 0)
		return false;
	f->holding = true;
	return true;
}

/* Checkpoint flows: what was read is handed to the checkpoint, which queues what may go
 * on (uout: whole allowed requests; cout: responses, and its own replies in their turn).
 * Intercepted flows hand it the plaintext (cplain, uplain) instead of the relay buffers. */
static int inspect_feed(struct mw_flow *f)
{
	struct mw_bytes cin = {}, sin = {};
	int r = 0;

	if (!f->insp && (f->proto == MW_PROTO_HTTP1 || f->tls_mode == MW_FLOW_TLS_INTERCEPT) &&
	    f->owner->ops.inspect && !f->insp_tried) {
		f->insp_tried = true;
		if (!f->tls)
			upstream_rule_plain(f);
		r = f->owner->ops.inspect(f->owner->userdata, f, &f->insp);
		if (r < 0)
			return r;
	}
	if (!f->insp && f->tls) {
		/* intercepted without a checkpoint: the plaintext goes on as it is */
		size_t ub = f->uout.len, db = f->cout.len;
		uint64_t su = f->jstruct_up, sd = f->jstruct_down;

		r = bytes_append(&f->uout, f->cplain.data, f->cplain.len);
		if (r == 0)
			r = bytes_append(&f->cout, f->uplain.data, f->uplain.len);
		bytes_consume(&f->cplain, f->cplain.len);
		bytes_consume(&f->uplain, f->uplain.len);
		journal_queued(f, ub, db, su, sd);
		f->jrec_up = f->bytes_up;
		f->jrec_down = f->bytes_down;
		return r;
	}
	if (!f->insp)
		return 0;
	if (f->tls) {
		cin = (struct mw_bytes){ f->cplain.data, f->cplain.len, 0 };
		sin = (struct mw_bytes){ f->uplain.data, f->uplain.len, 0 };
	} else {
		cin = (struct mw_bytes){ f->up.data + f->up.start, buf_len(&f->up), 0 };
		sin = (struct mw_bytes){ f->down.data + f->down.start, buf_len(&f->down), 0 };
	}
	if (cin.len && !cred_wait(f)) {
		size_t ub = f->uout.len, db = f->cout.len;
		uint64_t su = f->jstruct_up, sd = f->jstruct_down;

		r = inspect_client(f->insp, cin.data, cin.len, &f->uout, &f->cout, &f->insp_close);
		if (f->tls)
			bytes_consume(&f->cplain, f->cplain.len);
		else
			f->up.start = f->up.end = 0;
		journal_queued(f, ub, db, su, sd);
	}
	if (r == 0 && sin.len) {
		size_t db = f->cout.len;
		uint64_t sd = f->jstruct_down;

		r = inspect_server(f->insp, sin.data, sin.len, &f->cout);
		if (f->tls)
			bytes_consume(&f->uplain, f->uplain.len);
		else
			f->down.start = f->down.end = 0;
		f->insp_close = inspect_closing(f->insp);
		journal_queued(f, f->uout.len, db, f->jstruct_up, sd);
	}
	f->jrec_up = f->bytes_up;
	f->jrec_down = f->bytes_down;
	return r;
}

static int relay_write(int fd, struct mw_relay_buf *b)
{
	while (buf_len(b) > 0) {
		ssize_t n = send(fd, b->data + b->start, buf_len(b), MSG_NOSIGNAL);

		if (n > 0) {
			b->start += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN ? 0 : -errno;
	}
	return 0;
}

static void set_abortive(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/* An error on either side resets both: the gateway must see a failure, not a clean end. */
static void flow_err(struct mw_flow *f, const char *what, int err)
{
	char reason[96];

	snprintf(reason, sizeof(reason), "%s: %s", what, strerror(-err));
	set_abortive(f->fd_down);
	set_abortive(f->fd_up);
	flow_close(f, reason);
}

/* Intercepted flows: client ciphertext (in f->up) into the engine. */
static int tls_client_step(struct mw_flow *f)
{
	int r = 0;

	if (buf_len(&f->up)) {
		r = tls_client_in(f->tls, f->up.data + f->up.start, buf_len(&f->up), &f->cplain,
				  &f->cwire);
		f->up.start = f->up.end = 0;
	}
	if (f->cplain.len)
		f->tls_plain_seen = true;
	if (r == 0 && tls_client_eof(f->tls))
		f->eof_down = true; /* close_notify: the gateway is done */
	return r < 0 ? tls_fail(f, r, true) : 0;
}

static int tls_upstream_step(struct mw_flow *f)
{
	int r = 0;

	if (buf_len(&f->down)) {
		r = tls_upstream_in(f->tls, f->down.data + f->down.start, buf_len(&f->down),
				    &f->uplain, &f->uwire);
		f->down.start = f->down.end = 0;
	}
	if (r == 0 && tls_upstream_eof(f->tls))
		f->eof_up = true;
	if (r == 0 && !f->tlsi.version[0] && tls_upstream_ready(f->tls))
		tls_facts(f);
	return r < 0 ? tls_fail(f, r, false) : 0;
}

/* Intercepted flows: the checkpoint's queues, encrypted once the journal allows, and the
 * ciphertext written. */
static int tls_write_up(struct mw_flow *f)
{
	int r;

	if (f->uout.len && journal_gate(f, false)) {
		r = tls_upstream_out(f->tls, f->uout.data, f->uout.len, &f->uwire);
		bytes_consume(&f->uout, f->uout.len);
		if (r < 0)
			return tls_fail(f, r, false);
	}
	if (f->eof_down && !f->tls_closed_up && !f->uout.len && !f->cplain.len &&
	    !f->holding) {
		f->tls_closed_up = true;
		tls_upstream_close(f->tls, &f->uwire); /* a failed close still ends the flow */
	}
	r = bytes_write(f->fd_up, &f->uwire);
	if (r < 0) {
		flow_err(f, "upstream write", r);
		return -1;
	}
	return 0;
}

static int tls_write_down(struct mw_flow *f)
{
	int r;

	if (f->cout.len && journal_gate(f, true)) {
		r = tls_client_out(f->tls, f->cout.data, f->cout.len, &f->cwire);
		bytes_consume(&f->cout, f->cout.len);
		if (r < 0)
			return tls_fail(f, r, true);
	}
	if (f->eof_up && !f->tls_closed_down && !f->cout.len && !f->uplain.len) {
		f->tls_closed_down = true;
		tls_client_close(f->tls, &f->cwire);
	}
	r = bytes_write(f->fd_down, &f->cwire);
	if (r < 0) {
		flow_err(f, "client write", r);
		return -1;
	}
	return 0;
}

/* Move bytes both ways as far as the sockets allow, then pass on FINs. */
static void flow_pump(struct mw_flow *f, bool readable_down, bool readable_up)
{
	uint64_t before, moved_up = f->bytes_up, moved_down = f->bytes_down;
	size_t sent_up = f->up.start, sent_down = f->down.start;
	bool reading_tls = f->tenv && (f->owner->inspecting || f->tenv->ups->n > 0);
	int r;

	f->holding = false;
	if (readable_down && !f->eof_down) {
		size_t got;

		before = f->bytes_up;
		r = relay_read(f->fd_down, &f->up, &f->bytes_up);
		if (r < 0)
			return flow_err(f, "client read", r);
		/* what this call read sits contiguous at the end of the buffer */
		got = (size_t)(f->bytes_up - before);
		if (got)
			sniff_feed(f, f->up.data + f->up.end - got, got);
		f->owner->counters.bytes_up += got;
		if (r == 1)
			f->eof_down = true;
	}
	if (f->tls_failed)
		return tls_refused_pump(f);
	/* with rules or a checkpoint, nothing goes upstream before the protocol is known, and
	 * for TLS before the ClientHello is read (and the upstream connected: the decision
	 * is journaled in the flow's session) */
	if (f->proto == MW_PROTO_TLS && reading_tls && f->tls_mode == MW_FLOW_TLS_NONE)
		f->tls_mode = MW_FLOW_TLS_HELLO;
	if (f->tls_mode == MW_FLOW_TLS_HELLO) {
		r = f->state == MW_FLOW_CONNECTING ? 1 : tls_decide(f);
		if (r < 0)
			return;
		if (r > 0) {
			f->holding = true;
			flow_update_events(f);
			return;
		}
	}
	if (f->tls && tls_client_step(f) < 0)
		return;
	if (f->tls_failed)
		return tls_refused_pump(f);
	if (f->proto == MW_PROTO_HTTP1 || f->insp || f->tls) {
		r = inspect_feed(f);
		if (r < 0)
			return flow_err(f, "checkpoint", r);
	}
	if (f->proto == MW_PROTO_UNKNOWN && (f->owner->inspecting || reading_tls) &&
	    !f->eof_down) {
		f->holding = true;
		flow_update_events(f);
		return;
	}
	if (f->state != MW_FLOW_CONNECTING) {
		if (!f->insp && !f->tls)
			journal_raw(f, false);
		if (f->jfailed)
			return flow_err(f, "journal", -EIO);
		r = 0;
		if (f->tls) {
			if (tls_write_up(f) < 0)
				return;
			if (f->tls_failed)
				return tls_refused_pump(f);
		} else if (journal_gate(f, false)) {
			r = f->insp ? bytes_write(f->fd_up, &f->uout)
				    : relay_write(f->fd_up, &f->up);
		}
		if (r < 0)
			return flow_err(f, "upstream write", r);
		if (readable_up && !f->eof_up) {
			before = f->bytes_down;
			r = relay_read(f->fd_up, &f->down, &f->bytes_down);
			if (r < 0)
				return flow_err(f, "upstream read", r);
			f->owner->counters.bytes_down += f->bytes_down - before;
			if (f->tls_mode == MW_FLOW_TLS_PASS)
				tls_server_feed(f, f->down.data + f->down.end - (f->bytes_down - before),
						(size_t)(f->bytes_down - before));
			if (r == 1)
				f->eof_up = true;
			if (f->tls) {
				if (tls_upstream_step(f) < 0)
					return;
				if (f->tls_failed)
					return tls_refused_pump(f);
				/* handshake replies and plaintext held for the upstream */
				if (tls_write_up(f) < 0)
					return;
			}
			if (f->insp || f->tls) {
				r = inspect_feed(f);
				if (r < 0)
					return flow_err(f, "checkpoint", r);
			}
		}
		if (f->eof_down && !f->shut_up && pending_up(f) == 0 && !f->holding) {
			shutdown(f->fd_up, SHUT_WR);
			f->shut_up = true;
		}
	}
	if (!f->insp && !f->tls)
		journal_raw(f, true);
	if (f->jfailed)
		return flow_err(f, "journal", -EIO);
	r = 0;
	if (f->tls) {
		if (tls_write_down(f) < 0)
			return;
	} else if (journal_gate(f, true)) {
		r = f->insp ? bytes_write(f->fd_down, &f->cout)
			    : relay_write(f->fd_down, &f->down);
	}
	if (r < 0)
		return flow_err(f, "client write", r);
	if (f->insp_close && f->cout.len == 0 && f->cwire.len == 0)
		return flow_close(f, "closed by the checkpoint after its reply");
	/* an upstream that ends while a request is held (idle keep-alive) is not the client's
	 * end: flow_woken() connects again for the approved request */
	if (f->eof_up && !f->shut_down && pending_down(f) == 0 &&
	    !(f->insp && inspect_holding(f->insp))) {
		shutdown(f->fd_down, SHUT_WR);
		f->shut_down = true;
	}
	if (f->shut_up && f->shut_down)
		return flow_close(f, "closed");
	if (f->state == MW_FLOW_RELAYING && (f->shut_up || f->shut_down))
		f->state = MW_FLOW_HALF_CLOSED;
	if (f->bytes_up != moved_up || f->bytes_down != moved_down || f->up.start != sent_up ||
	    f->down.start != sent_down)
		f->last_active = mw_now_mono_usec();
	flow_update_events(f);
}

static int cred_timer_fire(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct mw_flow *f = userdata;

	f->cred_timer = sd_event_source_disable_unref(f->cred_timer);
	flow_pump(f, false, false);
	return 0;
}

static int flow_start_upstream(struct mw_flows *fl, struct mw_flow *f);

/* The upstream went away while a request was held; it is approved now: connect again. */
static int flow_reconnect(struct mw_flow *f)
{
	if (f->tls) /* an intercepted upstream's TLS session cannot be taken up again */
		return -EOPNOTSUPP;
	f->src_up = sd_event_source_disable_unref(f->src_up);
	f->src_down = sd_event_source_disable_unref(f->src_down);
	f->timer = sd_event_source_disable_unref(f->timer);
	close(f->fd_up);
	f->fd_up = -1;
	f->eof_up = f->shut_up = false;
	f->down.start = f->down.end = 0;
	f->state = MW_FLOW_CONNECTING;
	f->reconnected = true;
	return flow_start_upstream(f->owner, f);
}

static int flow_woken(sd_event_source *s, void *userdata)
{
	struct mw_flow *f = userdata;
	size_t ub = f->uout.len, db = f->cout.len;
	uint64_t su = f->jstruct_up, sd = f->jstruct_down;
	int r;

	if (f->state == MW_FLOW_CLOSED || !f->insp)
		return 0;
	r = inspect_client(f->insp, NULL, 0, &f->uout, &f->cout, &f->insp_close);
	journal_queued(f, ub, db, su, sd); /* a released request, or the reply instead */
	if (r == 0 && f->eof_up && f->uout.len && !f->shut_down) {
		r = flow_reconnect(f);
		if (r < 0) {
			flow_err(f, "upstream reconnect", r);
			return 0;
		}
	}
	if (r < 0) {
		flow_err(f, "checkpoint", r);
		return 0;
	}
	flow_pump(f, false, false);
	return 0;
}

void flow_wake(struct mw_flow *f)
{
	if (f->state == MW_FLOW_CLOSED)
		return;
	if (!f->wake && sd_event_add_defer(f->owner->event, &f->wake, flow_woken, f) < 0)
		return;
	sd_event_source_set_enabled(f->wake, SD_EVENT_ONESHOT);
}

static int flow_connected(struct mw_flow *f)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(f->fd_up, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err)
		return -err;
	f->state = MW_FLOW_RELAYING;
	f->last_active = mw_now_mono_usec();
	if (f->owner->ops.opened && !f->reconnected)
		f->owner->ops.opened(f->owner->userdata, f);
	return 0;
}

static int flow_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct mw_flow *f = userdata;
	bool err = revents & (EPOLLERR | EPOLLHUP);
	bool rd_down = false, rd_up = false;

	if (fd == f->fd_up && f->state == MW_FLOW_CONNECTING) {
		int r = flow_connected(f);

		if (r < 0) {
			flow_err(f, "upstream connect", r);
			return 0;
		}
	} else if (fd == f->fd_up) {
		rd_up = (revents & EPOLLIN) || err;
	}
	if (fd == f->fd_down)
		rd_down = (revents & EPOLLIN) || err;
	flow_pump(f, rd_down, rd_up);
	return 0;
}

static int flow_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct mw_flow *f = userdata;
	struct mw_flows *fl = f->owner;
	uint64_t now = mw_now_mono_usec(), deadline;

	if (f->state == MW_FLOW_CONNECTING) {
		set_abortive(f->fd_down);
		flow_close(f, "upstream connect timed out");
		return 0;
	}
	deadline = f->last_active + fl->limits.idle_timeout_usec;
	if (now >= deadline) {
		/* no byte moved either way: idle, or stalled on a peer that stopped reading
		 * (TCP alone would hold a zero-window peer forever) */
		if (pending_up(f) || pending_down(f)) {
			set_abortive(f->fd_down);
			set_abortive(f->fd_up);
			flow_close(f, "stalled: a peer stopped reading");
		} else {
			flow_close(f, "idle timeout");
		}
		return 0;
	}
	sd_event_source_set_time(s, deadline);
	sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return 0;
}

static socklen_t ss_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* A v4-mapped destination is connected to as plain IPv4. */
static void target_from_origin(const struct mw_origin *o, struct sockaddr_storage *ss)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(ss, 0, sizeof(*ss));
	if (memcmp(o->dst, mapped, 12) == 0) {
		struct sockaddr_in *sin = (void *)ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, o->dst + 12, 4);
		sin->sin_port = htons(o->dst_port);
	} else {
		struct sockaddr_in6 *sin6 = (void *)ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, o->dst, 16);
		sin6->sin6_port = htons(o->dst_port);
	}
}

static void v4_to_mapped(const struct sockaddr_storage *in, struct sockaddr_storage *out)
{
	const struct sockaddr_in *sin = (const void *)in;
	struct sockaddr_in6 *sin6 = (void *)out;

	memset(out, 0, sizeof(*out));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = sin->sin_port;
	sin6->sin6_addr.s6_addr[10] = sin6->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&sin6->sin6_addr.s6_addr[12], &sin->sin_addr, 4);
}

/* The origin is keyed by 4-tuple only; make sure the socket at the other end is the one
 * that made it (a process outside the enrolled cgroup could bind the same source port
 * after the gateway's connection went away) and that the entry is fresh. */
static int origin_check(struct mw_flows *fl, struct mw_flow *f,
			const struct sockaddr_storage *local)
{
	struct mw_sockinfo si;
	uint64_t age_ns;
	struct timespec ts;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	age_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec - f->origin.time_ns;
	if (age_ns / 1000 > 2 * fl->limits.connect_timeout_usec)
		return -ESTALE;
	r = sockdiag_lookup(&f->peer, local, &si);
	if (r == -ENOENT && f->peer.ss_family == AF_INET) {
		/* an IPv6 gateway socket connected to a v4-mapped address */
		struct sockaddr_storage p6, l6;

		v4_to_mapped(&f->peer, &p6);
		v4_to_mapped(local, &l6);
		r = sockdiag_lookup(&p6, &l6, &si);
	}
	if (r < 0)
		return r;
	if (si.cgroup_id != f->origin.cgroup_id)
		return -EPERM;
	return 0;
}

/* Outbound: where the gateway was going (SO_ORIGINAL_DST, answered by our getsockopt
 * program) and who it was (the origin BPF kept by 4-tuple). */
static int flow_find_origin(struct mw_flows *fl, struct mw_flow *f)
{
	struct sockaddr_storage local = {}, orig = {};
	struct mw_flow_key key = {};
	socklen_t len = sizeof(local);
	int level, r;

	if (getsockname(f->fd_down, (struct sockaddr *)&local, &len) < 0)
		return -errno;
	mw_addr16(&f->peer, key.saddr, &key.sport);
	mw_addr16(&local, key.daddr, &key.dport);
	key.netns_cookie = fl->netns_cookie;

	level = local.ss_family == AF_INET ? SOL_IP : SOL_IPV6;
	len = sizeof(orig);
	if (getsockopt(f->fd_down, level, MW_SO_ORIGINAL_DST, &orig, &len) < 0)
		return -errno;
	r = loader_origin_take(fl->loader, &key, &f->origin);
	if (r < 0)
		return r;
	r = origin_check(fl, f, &local);
	if (r < 0)
		return r;
	f->have_origin = true;
	/* both answers come from the same map entry; the origin's is authoritative */
	target_from_origin(&f->origin, &f->target);
	return 0;
}

static int flow_find_backend(struct mw_flows *fl, struct mw_flow *f, uint16_t public_port)
{
	struct mw_inbound in;
	struct mw_sockinfo si;
	int family, r;

	r = loader_inbound_get(fl->loader, public_port, &in);
	if (r < 0)
		return r;
	if (!in.bound)
		return -ENOTCONN; /* the gateway has not bound its listener yet */
	/* Only the listener the enrolled gateway made: a local process may have taken the
	 * backend port first (the bind hook runs before the bind succeeds) or after the
	 * gateway went away. */
	family = in.bound & MW_INBOUND_BOUND4 ? AF_INET : AF_INET6;
	r = sockdiag_listener(family, in.backend_port, &si);
	if (r < 0)
		return r == -ENOENT ? -ENOTCONN : r;
	if (si.cgroup_id != in.cgroup_id)
		return -EPERM;
	memset(&f->origin, 0, sizeof(f->origin));
	f->origin.cgroup_id = in.cgroup_id;
	f->origin.dst_port = in.backend_port;
	f->have_origin = true;
	memset(&f->target, 0, sizeof(f->target));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (void *)&f->target;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin->sin_port = htons(in.backend_port);
	} else {
		struct sockaddr_in6 *sin6 = (void *)&f->target;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		sin6->sin6_port = htons(in.backend_port);
	}
	return 0;
}

static void set_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int flow_start_upstream(struct mw_flows *fl, struct mw_flow *f)
{
	int r;

	f->fd_up = socket(f->target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (f->fd_up < 0)
		return -errno;
	set_nodelay(f->fd_up);
	if (connect(f->fd_up, (struct sockaddr *)&f->target, ss_len(&f->target)) < 0 &&
	    errno != EINPROGRESS)
		return -errno;
	r = sd_event_add_io(fl->event, &f->src_up, f->fd_up, EPOLLOUT, flow_io, f);
	if (r < 0)
		return r;
	r = sd_event_add_io(fl->event, &f->src_down, f->fd_down, EPOLLIN, flow_io, f);
	if (r < 0)
		return r;
	return sd_event_add_time_relative(fl->event, &f->timer, CLOCK_MONOTONIC,
					  fl->limits.connect_timeout_usec, 0, flow_timer, f);
}

static void flow_refuse(struct mw_flows *fl, struct mw_flow *f, const char *reason)
{
	/* reset, so the gateway sees a failure and not a clean empty reply */
	set_abortive(f->fd_down);
	snprintf(f->reason, sizeof(f->reason), "%s", reason);
	f->state = MW_FLOW_CLOSED;
	f->end_mono = mw_now_mono_usec();
	fl->counters.refused++;
	flow_free(f);
	if (fl->ops.refused)
		fl->ops.refused(fl->userdata, f);
	flow_retire(fl, f);
}

static void flow_accept_one(struct listener *ls, int fd, const struct sockaddr_storage *peer)
{
	struct mw_flows *fl = ls->owner;
	struct mw_flow *f;
	char reason[96];
	int r;

	f = calloc(1, sizeof(*f));
	if (!f) {
		close(fd);
		return;
	}
	f->owner = fl;
	f->id = ++fl->next_id;
	snprintf(f->name, sizeof(f->name), "f%llx", (unsigned long long)f->id);
	f->dir = ls->inbound ? MW_FLOW_INBOUND : MW_FLOW_OUTBOUND;
	f->fd_down = fd;
	f->fd_up = -1;
	f->peer = *peer;
	f->start_mono = f->last_active = mw_now_mono_usec();
	f->start_wall = mw_now_wall_usec();
	f->tenv = tls_env_ref(fl->tenv);
	fl->counters.total++;

	/* the origin first, so that even a refused flow says whose it was */
	r = ls->inbound ? flow_find_backend(fl, f, ls->public_port) : flow_find_origin(fl, f);
	if (r < 0) {
		if (!ls->inbound)
			fl->counters.origin_missing++;
		snprintf(reason, sizeof(reason), "%s: %s",
			 ls->inbound ? "no gateway listener behind this port" : "origin unknown",
			 strerror(-r));
		return flow_refuse(fl, f, reason);
	}
	if (fl->counters.active >= fl->limits.max_flows)
		return flow_refuse(fl, f, "connection limit reached");
	if (fl->journal && journal_failed(fl->journal))
		return flow_refuse(fl, f, "the session journal is unavailable (strict mode)");
	if (fl->journal)
		f->jsession = journal_session_new(fl->journal);
	set_nodelay(fd);
	if (buf_init(&f->up, fl->limits.relay_buffer) < 0 ||
	    buf_init(&f->down, fl->limits.relay_buffer) < 0)
		return flow_refuse(fl, f, "out of memory");
	r = flow_start_upstream(fl, f);
	if (r < 0) {
		snprintf(reason, sizeof(reason), "upstream connect: %s", strerror(-r));
		return flow_refuse(fl, f, reason);
	}
	f->next = fl->head;
	if (fl->head)
		fl->head->prev = f;
	fl->head = f;
	fl->counters.active++;
}

static void listeners_enable(struct mw_flows *fl, int on)
{
	for (unsigned i = 0; i < fl->n_listeners; i++)
		sd_event_source_set_enabled(fl->listeners[i].src, on);
}

static int accept_resume(sd_event_source *s, uint64_t usec, void *userdata)
{
	listeners_enable(userdata, SD_EVENT_ON);
	return 0;
}

static int listener_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct listener *ls = userdata;
	struct mw_flows *fl = ls->owner;

	/* a bounded batch per wakeup keeps one busy listener from starving the relays */
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage peer = {};
		socklen_t len = sizeof(peer);
		int cfd = accept4(fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd >= 0) {
			flow_accept_one(ls, cfd, &peer);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			/* out of descriptors or memory: the connection stays queued and the
			 * level-triggered listener would wake us at once; pause accepting */
			fl->counters.accept_paused++;
			listeners_enable(fl, SD_EVENT_OFF);
			sd_event_add_time_relative(fl->event, NULL, CLOCK_MONOTONIC,
						   ACCEPT_PAUSE_USEC, 0, accept_resume, fl);
		}
		break; /* EAGAIN, or a transient error (ECONNABORTED) */
	}
	return 0;
}

int flows_new(sd_event *event, struct mw_loader *loader, const struct mw_flows_limits *limits,
	      const struct mw_flows_ops *ops, void *userdata, struct mw_flows **ret)
{
	struct mw_flows *fl = calloc(1, sizeof(*fl));
	int fd;
	socklen_t len = sizeof(fl->netns_cookie);

	if (!fl)
		return -ENOMEM;
	fl->event = event;
	fl->loader = loader;
	fl->limits = *limits;
	fl->ops = *ops;
	fl->userdata = userdata;
	/* the agent's netns: the same as its listeners', hence its accepted sockets' */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &fl->netns_cookie, &len) < 0) {
		int r = -errno;

		if (fd >= 0)
			close(fd);
		free(fl);
		return r;
	}
	close(fd);
	*ret = fl;
	return 0;
}

void flows_set_inspecting(struct mw_flows *fl, bool on)
{
	fl->inspecting = on;
}

void flows_set_tls(struct mw_flows *fl, struct mw_tls_env *env)
{
	tls_env_unref(fl->tenv);
	fl->tenv = tls_env_ref(env);
}

void flows_set_journal(struct mw_flows *fl, struct mw_journal *j)
{
	fl->journal = j;
}

void flows_journal_progress(struct mw_flows *fl)
{
	struct mw_flow *f, *next;

	if (fl->journal && journal_failed(fl->journal)) {
		while (fl->head) {
			set_abortive(fl->head->fd_down);
			set_abortive(fl->head->fd_up);
			flow_close(fl->head, "the session journal failed (strict mode)");
		}
		return;
	}
	for (f = fl->head; f; f = next) {
		next = f->next;
		if (f->state != MW_FLOW_CONNECTING && (pending_up(f) || pending_down(f)))
			flow_pump(f, false, false);
	}
}

void *flows_userdata(const struct mw_flow *f)
{
	return f->owner->userdata;
}

void flows_set_limits(struct mw_flows *fl, const struct mw_flows_limits *limits)
{
	fl->limits = *limits; /* buffers of live flows keep their size */
}

static int flows_listen(struct mw_flows *fl, int fd, bool inbound, uint16_t port)
{
	struct listener *ls;
	int r;

	if (fl->n_listeners >= MAX_LISTENERS)
		return -ENOSPC;
	ls = &fl->listeners[fl->n_listeners];
	ls->fd = fd;
	ls->inbound = inbound;
	ls->public_port = port;
	ls->owner = fl;
	r = sd_event_add_io(fl->event, &ls->src, fd, EPOLLIN, listener_io, ls);
	if (r < 0)
		return r;
	fl->n_listeners++;
	return 0;
}

int flows_listen_outbound(struct mw_flows *fl, int fd)
{
	return flows_listen(fl, fd, false, 0);
}

int flows_listen_inbound(struct mw_flows *fl, int fd, uint16_t public_port)
{
	return flows_listen(fl, fd, true, public_port);
}

void flows_stop_accepting(struct mw_flows *fl)
{
	for (unsigned i = 0; i < fl->n_listeners; i++) {
		fl->listeners[i].src = sd_event_source_disable_unref(fl->listeners[i].src);
		close(fl->listeners[i].fd);
	}
	fl->n_listeners = 0;
}

unsigned flows_active(struct mw_flows *fl)
{
	return (unsigned)fl->counters.active;
}

void flows_close_all(struct mw_flows *fl, const char *reason)
{
	while (fl->head)
		flow_close(fl->head, reason);
}

const struct mw_flow_counters *flows_counters(struct mw_flows *fl)
{
	return &fl->counters;
}

void flows_foreach(struct mw_flows *fl, bool all, void (*fn)(void *ud, const struct mw_flow *f),
		   void *ud)
{
	for (struct mw_flow *f = fl->head; f; f = f->next)
		fn(ud, f);
	if (!all)
		return;
	for (unsigned i = 0; i < MW_FLOWS_RECENT; i++) {
		unsigned idx = (fl->recent_next + MW_FLOWS_RECENT - 1 - i) % MW_FLOWS_RECENT;

		if (fl->recent[idx])
			fn(ud, fl->recent[idx]);
	}
}

struct mw_flows *flows_free(struct mw_flows *fl)
{
	if (!fl)
		return NULL;
	flows_stop_accepting(fl);
	flows_close_all(fl, "agent stopped");
	for (unsigned i = 0; i < MW_FLOWS_RECENT; i++)
		free(fl->recent[i]);
	tls_env_unref(fl->tenv);
	free(fl);
	return NULL;
}
