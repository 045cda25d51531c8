/* flow_accept.c: the flows' listeners and a flow's start: accept (paused while descriptors
 * run out), who is on the other end (the origin BPF kept, checked against the socket's
 * cgroup; for inbound ports the gateway's moved listener), the limits a new flow meets,
 * its session journal, its buffers, and its upstream connect. */
#include "flow_priv.h"

#include <stdio.h>

#include "journal.h"
#include "loader.h"
#include "sockdiag.h"
#include "tls_env.h"
#include "util.h"

#define ACCEPT_PAUSE_USEC 100000ULL /* after EMFILE/ENFILE */

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
