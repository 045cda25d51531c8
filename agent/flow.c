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
	f->insp = inspect_free(f->insp);
	bytes_free(&f->uout);
	bytes_free(&f->cout);
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
	return buf_len(&f->up) + f->uout.len;
}

static size_t pending_down(const struct mw_flow *f)
{
	return buf_len(&f->down) + f->cout.len;
}

static bool journal_gate(struct mw_flow *f, bool to_client);

static void flow_update_events(struct mw_flow *f)
{
	uint32_t down = 0, up = 0;

	if (!f->eof_down && !f->insp_close && buf_room(&f->up) > 0 &&
	    f->uout.len < f->up.max)
		down |= EPOLLIN;
	if (pending_down(f) > 0 && journal_gate(f, true)) /* else the journal's signal wakes it */
		down |= EPOLLOUT;
	if (f->state == MW_FLOW_CONNECTING) {
		up = EPOLLOUT;
	} else {
		if (!f->eof_up && buf_room(&f->down) > 0 && f->cout.len < f->down.max)
			up |= EPOLLIN;
		if (pending_up(f) > 0 && journal_gate(f, false))
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

/* Checkpoint flows: what was read is handed to the checkpoint, which queues what may go
 * on (uout: whole allowed requests; cout: responses, and its own replies in their turn). */
static int inspect_feed(struct mw_flow *f)
{
	int r = 0;

	if (!f->insp && f->proto == MW_PROTO_HTTP1 && f->owner->ops.inspect && !f->insp_tried) {
		f->insp_tried = true;
		r = f->owner->ops.inspect(f->owner->userdata, f, &f->insp);
		if (r < 0)
			return r;
	}
	if (!f->insp)
		return 0;
	if (buf_len(&f->up)) {
		size_t ub = f->uout.len, db = f->cout.len;
		uint64_t su = f->jstruct_up, sd = f->jstruct_down;

		r = inspect_client(f->insp, f->up.data + f->up.start, buf_len(&f->up), &f->uout,
				   &f->cout, &f->insp_close);
		f->up.start = f->up.end = 0;
		journal_queued(f, ub, db, su, sd);
	}
	if (r == 0 && buf_len(&f->down)) {
		size_t db = f->cout.len;
		uint64_t sd = f->jstruct_down;

		r = inspect_server(f->insp, f->down.data + f->down.start, buf_len(&f->down),
				   &f->cout);
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

/* Move bytes both ways as far as the sockets allow, then pass on FINs. */
static void flow_pump(struct mw_flow *f, bool readable_down, bool readable_up)
{
	uint64_t before, moved_up = f->bytes_up, moved_down = f->bytes_down;
	size_t sent_up = f->up.start, sent_down = f->down.start;
	int r;

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
	if (f->proto == MW_PROTO_HTTP1 || f->insp) {
		r = inspect_feed(f);
		if (r < 0)
			return flow_err(f, "checkpoint", r);
	}
	/* with a checkpoint configured, nothing goes upstream before the protocol is known */
	if (f->proto == MW_PROTO_UNKNOWN && f->owner->inspecting && !f->eof_down) {
		flow_update_events(f);
		return;
	}
	if (f->state != MW_FLOW_CONNECTING) {
		if (!f->insp)
			journal_raw(f, false);
		if (f->jfailed)
			return flow_err(f, "journal", -EIO);
		r = 0;
		if (journal_gate(f, false))
			r = f->insp ? bytes_write(f->fd_up, &f->uout)
				    : relay_write(f->fd_up, &f->up);
		if (r < 0)
			return flow_err(f, "upstream write", r);
		if (readable_up && !f->eof_up) {
			before = f->bytes_down;
			r = relay_read(f->fd_up, &f->down, &f->bytes_down);
			if (r < 0)
				return flow_err(f, "upstream read", r);
			f->owner->counters.bytes_down += f->bytes_down - before;
			if (r == 1)
				f->eof_up = true;
			if (f->insp) {
				r = inspect_feed(f);
				if (r < 0)
					return flow_err(f, "checkpoint", r);
			}
		}
		if (f->eof_down && !f->shut_up && pending_up(f) == 0) {
			shutdown(f->fd_up, SHUT_WR);
			f->shut_up = true;
		}
	}
	if (!f->insp)
		journal_raw(f, true);
	if (f->jfailed)
		return flow_err(f, "journal", -EIO);
	r = 0;
	if (journal_gate(f, true))
		r = f->insp ? bytes_write(f->fd_down, &f->cout)
			    : relay_write(f->fd_down, &f->down);
	if (r < 0)
		return flow_err(f, "client write", r);
	if (f->insp_close && f->cout.len == 0)
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

static int flow_start_upstream(struct mw_flows *fl, struct mw_flow *f);

/* The upstream went away while a request was held; it is approved now: connect again. */
static int flow_reconnect(struct mw_flow *f)
{
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
	free(fl);
	return NULL;
}
