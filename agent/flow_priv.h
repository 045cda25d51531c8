/* flow_priv.h: what the parts of the relay share, private to them: flow.c (a flow's life
 * and its byte path: buffers, events, the checkpoint's queues, the session journal, close),
 * flow_tls.c (TLS flows: the ClientHello decision, pass-through facts, the interception
 * engine's layer, upstream rules and credentials) and flow_accept.c (listeners, accept,
 * who a flow is: origin or backend). */
#pragma once

#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "flow.h"


struct listener {
	int fd;
	bool inbound;
	uint16_t public_port;
	sd_event_source *src;
	struct mw_flows *owner;
};

#define MAX_LISTENERS (MW_MAX_LISTEN_FDS)

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
	struct mw_tls_probe *probe; /* made on first use */
	struct mw_tls_minter *minter; /* made on first use */
	struct mw_flow *closing;    /* closed, the report waiting for a probe */
	unsigned n_closing;	    /* at most MW_FLOWS_CLOSING_MAX */
	struct mw_journal *journal;
	struct mw_flow_counters counters;
};

static inline size_t buf_len(const struct mw_relay_buf *b)
{
	return b->end - b->start;
}

/* Free space at the end: compacting when the front has been consumed, growing when the
 * buffer is full of unsent bytes and may still grow. */
static inline size_t buf_room(struct mw_relay_buf *b)
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

static inline void set_abortive(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

static inline void set_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* flow.c */
void flow_free(struct mw_flow *f);
void flow_retire(struct mw_flows *fl, struct mw_flow *f);
void flow_close(struct mw_flow *f, const char *reason);
/* A closed flow's report (ops.closed) and retirement, deferred by flow_close() while the
 * flow waits for a certificate probe. */
void flow_close_report(struct mw_flow *f);
/* Reset both sides: the gateway must see a failure, not a clean end. */
void flow_reset(struct mw_flow *f, const char *reason);
/* An error on either side resets both, the reason naming it ("client read: ..."). */
void flow_err(struct mw_flow *f, const char *what, int err);
void flow_update_events(struct mw_flow *f);
void flow_pump(struct mw_flow *f, bool readable_down, bool readable_up);
int flow_bytes_write(int fd, struct mw_bytes *b);
/* Strict mode: may the bytes queued towards this side go? */
bool flow_journal_gate(struct mw_flow *f, bool to_client);
int flow_start_upstream(struct mw_flows *fl, struct mw_flow *f);

/* flow_tls.c: 0: go on; 1: keep holding the client's bytes; -1: the flow has ended. */
int flow_tls_decide(struct mw_flow *f);
void flow_tls_server_feed(struct mw_flow *f, const uint8_t *p, size_t n);
void flow_tls_refused_pump(struct mw_flow *f);
/* -1: the flow has ended */
int flow_tls_client_step(struct mw_flow *f);
int flow_tls_upstream_step(struct mw_flow *f);
int flow_tls_write_up(struct mw_flow *f);
int flow_tls_write_down(struct mw_flow *f);
/* The upstream is connected again for a held request: a new upstream TLS leg (tls.h). */
int flow_tls_reconnect(struct mw_flow *f);
bool flow_cred_wait(struct mw_flow *f);
void flow_upstream_rule_plain(struct mw_flow *f);
