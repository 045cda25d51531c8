/* flow.h: captured flows: accept, origin, upstream connect, two-way relay.
 *
 * Owns every flow from accept to close: the two sockets, a bounded buffer per direction
 * (a full buffer stops reading that side: backpressure), half-close (a FIN is passed on
 * once the bytes before it are), connect and idle timeouts, and the connection limit.
 * The first client bytes are kept and classified (sniff.h) for the modules to come.
 * Reports open and close through the callbacks (a passed TLS flow's close after its
 * certificate probe, tls_probe.h, at most MW_TLS_PROBE_TIMEOUT_USEC later); never logs. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>

#include "mcpwarden/abi.h"
#include "inspect.h"
#include "sniff.h"
#include "tls_probe.h"
#include "tls_server.h"

#define MW_FLOWS_RECENT 256 /* closed flows remembered for `mcpwarden flows --all` */
/* closed pass flows whose report waits for a certificate probe; past it, reported at once */
#define MW_FLOWS_CLOSING_MAX 256
#define MW_SNIFF_BYTES 64   /* first client bytes kept on the flow */
#define MW_MAX_LISTEN_FDS 48 /* config: 8 listen addresses + 16 inbound ports x 2 families */
#define MW_FLOW_CRED_WAIT_USEC (10 * 1000000ULL) /* a request waits this long for an OAuth token */
#define MW_FLOW_CRED_POLL_USEC (50 * 1000ULL)

/* What the relay does with a flow that opened with a TLS ClientHello (tls_env.h). */
enum mw_flow_tls {
	MW_FLOW_TLS_NONE = 0,  /* not TLS, or TLS relayed unread (no upstreams, no checkpoint) */
	MW_FLOW_TLS_HELLO,     /* reading the ClientHello: nothing goes upstream yet */
	MW_FLOW_TLS_PASS,      /* relayed unchanged; the server's first flight is read */
	MW_FLOW_TLS_INTERCEPT, /* terminated and re-originated: the checkpoint sees plaintext */
	MW_FLOW_TLS_BLOCK,     /* refused by a rule */
};

/* What is known of a TLS flow, for the journals (never a secret). */
struct mw_flow_tls_info {
	char sni[MW_TLS_SNI_MAX + 1];	/* "" without SNI */
	char alpn[128];			/* offered by the gateway, comma-separated */
	char offered[16];		/* the highest version the gateway offered */
	char version[16];		/* negotiated with the upstream ("TLSv1.3") */
	char cipher[48];		/* the suite the upstream chose ("0x1301") */
	char server_alpn[MW_TLS_ALPN_NAME_MAX + 1];
	char subject[MW_TLS_SUBJECT_MAX];	  /* the upstream leaf's, "" when not visible */
	char fingerprint[MW_TLS_FINGERPRINT_MAX]; /* SHA-256, "" when not visible */
	/* where subject and fingerprint come from: "handshake" (the flow's own, in clear or
	 * intercepted), "probe" (pass, TLS 1.3 or resumed: the agent's own connection,
	 * tls_probe.h), "" (none) */
	char cert_source[12];
	char cert_verify[MW_TLS_PROBE_TEXT_MAX]; /* probe: "ok" or why the system store refuses */
	char rule[32];				  /* "upstreams[2]", "" for the default */
	char cred[64];				  /* the credential injected, by name */
	bool resumed_client, resumed_upstream;
	char error[256]; /* why the flow was refused (OpenSSL's words), "" */
};

enum mw_flow_dir {
	MW_FLOW_OUTBOUND = 0, /* the gateway connected out; captured by connect4/6 */
	MW_FLOW_INBOUND = 1,  /* a client connected to a taken-over gateway port */
};

enum mw_flow_state {
	MW_FLOW_CONNECTING = 0,
	MW_FLOW_RELAYING,
	MW_FLOW_HALF_CLOSED,
	MW_FLOW_CLOSED,
};

struct mw_relay_buf {
	uint8_t *data;
	size_t cap, max, start, end;
};

struct mw_flow {
	uint64_t id;
	char name[24]; /* "f" + hex id, as shown to operators */
	enum mw_flow_dir dir;
	enum mw_flow_state state;
	bool have_origin;
	struct mw_origin origin;      /* outbound: from BPF; inbound: the gateway's cgroup */
	struct sockaddr_storage peer; /* who connected to the agent */
	struct sockaddr_storage target;
	int fd_down, fd_up; /* client side (accepted), upstream side */
	sd_event_source *src_down, *src_up, *timer;
	struct mw_relay_buf up, down; /* client->upstream, upstream->client */
	bool eof_down, eof_up, shut_up, shut_down;
	uint64_t bytes_up, bytes_down;
	uint64_t start_mono, start_wall, last_active, end_mono;
	uint8_t sniff[MW_SNIFF_BYTES];
	size_t sniff_len;
	enum mw_proto proto;
	char reason[96]; /* why it closed */
	/* the MCP checkpoint, on HTTP/1.1 flows when a policy is configured: client bytes go
	 * through it into uout, upstream bytes into cout */
	struct mw_inspect *insp;
	struct mw_bytes uout, cout;
	bool insp_close; /* end the flow once cout is written */
	sd_event_source *wake; /* flow_wake(): the checkpoint has something to hand out */
	bool reconnected;      /* the upstream was connected again for a held request */
	bool insp_tried;
	/* the session journal: this flow's session, its record sequence, the tickets the
	 * bytes queued each way wait for (strict mode), raw bytes recorded so far */
	uint64_t jsession, jseq, jwait_up, jwait_down, jrec_up, jrec_down;
	uint64_t jstruct_up, jstruct_down; /* payload records the checkpoint made each way */
	bool jfailed;	  /* a record could not be queued (strict): the flow ends */
	/* TLS and upstream rules (tls_env.h): the environment the flow started with, its
	 * rule and credential; intercepted flows run through the engine: client bytes are
	 * decrypted into cplain, upstream bytes into uplain, and the checkpoint's queues
	 * (uout, cout) are encrypted into uwire / cwire, which the sockets write */
	enum mw_flow_tls tls_mode;
	struct mw_tls_env *tenv;
	const struct mw_upstream *urule;
	struct mw_cred *cred;
	struct mw_tls *tls;
	struct mw_bytes cplain, uplain, cwire, uwire;
	struct mw_bytes shello; /* pass: the server's first bytes until read */
	bool holding; /* client bytes wait (protocol, ClientHello or a token) */
	bool tls_plain_seen; /* the gateway has sent plaintext (a request began) */
	bool shello_done, tls_failed, tls_replied, tls_closed_up, tls_closed_down;
	bool mint_wait; /* intercept: the ClientHello waits for its leaf (tls_minter.h) */
	uint64_t cred_wait_start; /* holding a request for an OAuth token since */
	sd_event_source *cred_timer;
	struct mw_flow_tls_info tlsi;
	/* pass: the certificate probe this flow waits for; a flow that closes meanwhile is
	 * reported closed when it ends (at most MW_TLS_PROBE_TIMEOUT_USEC later) */
	struct mw_tls_probe_wait *probe_wait;
	bool close_deferred;
	struct mw_flows *owner;
	struct mw_flow *prev, *next;
};

struct mw_flow_counters {
	uint64_t active, total, refused, failed, origin_missing, bytes_up, bytes_down;
	uint64_t accept_paused; /* times accepting paused for lack of descriptors */
};

struct mw_flows_ops {
	void (*opened)(void *userdata, const struct mw_flow *f);
	void (*closed)(void *userdata, const struct mw_flow *f);
	/* a flow refused before relaying (limit reached, no origin, ...) */
	void (*refused)(void *userdata, const struct mw_flow *f);
	/* a flow that turned out to speak HTTP/1.1: its checkpoint (NULL: none configured);
	 * an error ends the flow, it is never relayed unchecked */
	int (*inspect)(void *userdata, const struct mw_flow *f, struct mw_inspect **ret);
	/* a TLS flow was decided ("intercept", "pass", "block") or refused ("refused":
	 * f->tlsi.error says why); f->tlsi holds what is known */
	void (*tls)(void *userdata, const struct mw_flow *f, const char *what);
};

struct mw_flows_limits {
	uint32_t max_flows;
	uint64_t connect_timeout_usec;
	uint64_t idle_timeout_usec;
	uint32_t relay_buffer;
};

struct mw_loader;
struct mw_flows;

int flows_new(sd_event *event, struct mw_loader *loader, const struct mw_flows_limits *limits,
	      const struct mw_flows_ops *ops, void *userdata, struct mw_flows **ret);
struct mw_flows *flows_free(struct mw_flows *fl);
void flows_set_limits(struct mw_flows *fl, const struct mw_flows_limits *limits);
/* With a checkpoint configured, client bytes wait until the protocol is known. */
void flows_set_inspecting(struct mw_flows *fl, bool on);
struct mw_tls_env;
/* The upstream rules, CA and credentials for new flows (a reference is taken; NULL: none).
 * With rules or a checkpoint, a flow's first bytes wait until a TLS ClientHello is read. */
void flows_set_tls(struct mw_flows *fl, struct mw_tls_env *env);
void *flows_userdata(const struct mw_flow *f);

struct mw_journal;
/* Record every flow as a session in j (NULL: none).  In strict mode no byte is written to
 * either side before its record is durable; flows_journal_progress() (on the journal's
 * eventfd) moves what became durable, or ends every flow once the journal has failed. */
void flows_set_journal(struct mw_flows *fl, struct mw_journal *j);
void flows_journal_progress(struct mw_flows *fl);
/* A record of flow f's session (open, decision, payload, close): sequence and, in strict
 * mode, the ticket its direction's bytes wait for are kept on the flow. */
void flow_journal_append(const struct mw_flow *f, uint8_t type, uint8_t dir, uint16_t flags,
			 const char *meta, const void *payload, size_t len);

/* Serve a listening socket: outbound (captured connects) or inbound (a taken-over port
 * relayed to the gateway's moved listener). The flows module owns fd afterwards. */
int flows_listen_outbound(struct mw_flows *fl, int fd);
int flows_listen_inbound(struct mw_flows *fl, int fd, uint16_t public_port);

/* Stop accepting; flows in progress go on. */
void flows_stop_accepting(struct mw_flows *fl);
unsigned flows_active(struct mw_flows *fl);
/* End every flow now (after a drain timeout). */
void flows_close_all(struct mw_flows *fl, const char *reason);

const struct mw_flow_counters *flows_counters(struct mw_flows *fl);
/* Visit active flows, then (all) the recently closed ones, newest first. */
void flows_foreach(struct mw_flows *fl, bool all, void (*fn)(void *ud, const struct mw_flow *f),
		   void *ud);

/* Run the checkpoint again from the event loop (soon, not from inside the caller): a
 * request it held has been decided.  Safe to call repeatedly; ignored once closed. */
void flow_wake(struct mw_flow *f);

const char *flow_dir_name(enum mw_flow_dir d);
const char *flow_state_name(enum mw_flow_state s);
const char *flow_tls_name(enum mw_flow_tls t); /* "-", "hello", "pass", "intercept", "block" */
