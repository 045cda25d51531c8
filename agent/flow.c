/* flow.c: a flow's life and its byte path (see flow.h): buffers, events, relaying both
 * ways, the checkpoint's queues, the session journal's records and gates, half-close,
 * timeouts, reconnecting a held request's upstream, close; and the flows' settings.  TLS
 * is flow_tls.c, listeners and accept flow_accept.c (flow_priv.h). */
#include "flow_priv.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/epoll.h>

#include "config.h"
#include "journal.h"
#include "tls_env.h"
#include "tls_minter.h"
#include "util.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

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

void flow_free(struct mw_flow *f)
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

static void flow_list_unlink(struct mw_flow **head, struct mw_flow *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		*head = f->next;
	if (f->next)
		f->next->prev = f->prev;
	f->prev = f->next = NULL;
}

/* Keep a closed flow for `flows --all`, evicting the oldest. */
void flow_retire(struct mw_flows *fl, struct mw_flow *f)
{
	struct mw_flow **slot = &fl->recent[fl->recent_next];

	free(*slot);
	*slot = f;
	fl->recent_next = (fl->recent_next + 1) % MW_FLOWS_RECENT;
}

void flow_close(struct mw_flow *f, const char *reason)
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
	flow_list_unlink(&fl->head, f);
	fl->counters.active--;
	if (!relayed && strcmp(f->reason, "closed") != 0)
		fl->counters.failed++;
	if (f->probe_wait && fl->n_closing >= MW_FLOWS_CLOSING_MAX) {
		tls_probe_cancel(f->probe_wait); /* reported without the certificate */
		f->probe_wait = NULL;
	}
	if (f->probe_wait) { /* its certificate comes within the probe's timeout */
		f->close_deferred = true;
		fl->n_closing++;
		f->next = fl->closing;
		if (fl->closing)
			fl->closing->prev = f;
		fl->closing = f;
		return;
	}
	flow_close_report(f);
}

void flow_close_report(struct mw_flow *f)
{
	struct mw_flows *fl = f->owner;

	if (f->close_deferred) {
		flow_list_unlink(&fl->closing, f);
		fl->n_closing--;
		f->close_deferred = false;
	}
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

void flow_update_events(struct mw_flow *f)
{
	uint32_t down = 0, up = 0;

	if (!f->eof_down && !f->insp_close && buf_room(&f->up) > 0 &&
	    f->uout.len + f->cplain.len + f->uwire.len < f->up.max && !f->cred_timer)
		down |= EPOLLIN;
	/* ciphertext (handshakes included) goes at once; the rest when the journal allows,
	 * else the journal's signal wakes it */
	if (f->cwire.len || (out_down(f) > 0 && flow_journal_gate(f, true)))
		down |= EPOLLOUT;
	if (f->state == MW_FLOW_CONNECTING) {
		up = EPOLLOUT;
	} else {
		if (!f->eof_up && buf_room(&f->down) > 0 &&
		    f->cout.len + f->uplain.len + f->cwire.len < f->down.max)
			up |= EPOLLIN;
		if (f->uwire.len || (out_up(f) > 0 && flow_journal_gate(f, false)))
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

int flow_bytes_write(int fd, struct mw_bytes *b)
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
bool flow_journal_gate(struct mw_flow *f, bool to_client)
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

/* Reset both sides: the gateway must see a failure, not a clean end. */
void flow_reset(struct mw_flow *f, const char *reason)
{
	set_abortive(f->fd_down);
	set_abortive(f->fd_up);
	flow_close(f, reason);
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
			flow_upstream_rule_plain(f);
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
	if (cin.len && !flow_cred_wait(f)) {
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

/* An error on either side resets both: the gateway must see a failure, not a clean end. */
void flow_err(struct mw_flow *f, const char *what, int err)
{
	char reason[96];

	snprintf(reason, sizeof(reason), "%s: %s", what, strerror(-err));
	set_abortive(f->fd_down);
	set_abortive(f->fd_up);
	flow_close(f, reason);
}

/* Move bytes both ways as far as the sockets allow, then pass on FINs. */
void flow_pump(struct mw_flow *f, bool readable_down, bool readable_up)
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
		return flow_tls_refused_pump(f);
	/* with rules or a checkpoint, nothing goes upstream before the protocol is known, and
	 * for TLS before the ClientHello is read (and the upstream connected: the decision
	 * is journaled in the flow's session) */
	if (f->proto == MW_PROTO_TLS && reading_tls && f->tls_mode == MW_FLOW_TLS_NONE)
		f->tls_mode = MW_FLOW_TLS_HELLO;
	if (f->tls_mode == MW_FLOW_TLS_HELLO) {
		r = f->state == MW_FLOW_CONNECTING ? 1 : flow_tls_decide(f);
		if (r < 0)
			return;
		if (r > 0) {
			f->holding = true;
			flow_update_events(f);
			return;
		}
	}
	if (f->tls && flow_tls_client_step(f) < 0)
		return;
	if (f->tls_failed)
		return flow_tls_refused_pump(f);
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
			if (flow_tls_write_up(f) < 0)
				return;
			if (f->tls_failed)
				return flow_tls_refused_pump(f);
		} else if (flow_journal_gate(f, false)) {
			r = f->insp ? flow_bytes_write(f->fd_up, &f->uout)
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
				flow_tls_server_feed(f, f->down.data + f->down.end - (f->bytes_down - before),
						(size_t)(f->bytes_down - before));
			if (r == 1)
				f->eof_up = true;
			if (f->tls) {
				if (flow_tls_upstream_step(f) < 0)
					return;
				if (f->tls_failed)
					return flow_tls_refused_pump(f);
				/* handshake replies and plaintext held for the upstream */
				if (flow_tls_write_up(f) < 0)
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
		if (flow_tls_write_down(f) < 0)
			return;
	} else if (flow_journal_gate(f, true)) {
		r = f->insp ? flow_bytes_write(f->fd_down, &f->cout)
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

/* The upstream went away while a request was held; it is approved now: connect again. */
static int flow_reconnect(struct mw_flow *f)
{
	int r;

	f->src_up = sd_event_source_disable_unref(f->src_up);
	f->src_down = sd_event_source_disable_unref(f->src_down);
	f->timer = sd_event_source_disable_unref(f->timer);
	close(f->fd_up);
	f->fd_up = -1;
	f->eof_up = f->shut_up = false;
	f->down.start = f->down.end = 0;
	f->state = MW_FLOW_CONNECTING;
	f->reconnected = true;
	if (f->tls) {
		r = flow_tls_reconnect(f);
		if (r < 0)
			return r;
	}
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

int flow_start_upstream(struct mw_flows *fl, struct mw_flow *f)
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
	while (fl->closing) {
		struct mw_flow *f = fl->closing;

		tls_probe_cancel(f->probe_wait);
		f->probe_wait = NULL;
		flow_close_report(f);
	}
	fl->probe = tls_probe_free(fl->probe);
	fl->minter = tls_minter_free(fl->minter);
	for (unsigned i = 0; i < MW_FLOWS_RECENT; i++)
		free(fl->recent[i]);
	tls_env_unref(fl->tenv);
	free(fl);
	return NULL;
}
