/* inspect.h: the MCP checkpoint on one HTTP/1.1 flow.
 *
 * The relay hands it every byte the client sends; it parses them as HTTP/1.1 requests
 * (strictly: a malformed request is answered 400/413/431/501 and the connection closes,
 * nothing malformed is forwarded), holds each request until it is whole, reads its MCP
 * JSON-RPC body, establishes who asks (a Bearer JWT verified against the configured OIDC
 * issuers, plus the workload from the flow's origin) and asks the policy.  Allowed
 * requests are released to the upstream byte for byte; denied ones never leave: the client
 * gets a JSON-RPC error (-32010, data {rule, reason}) in the framing it accepts, or a 401
 * when a required token is missing or invalid.  Its own replies keep their turn among the
 * upstream's responses on a keep-alive connection.
 *
 * Responses (inspect_resp.c).  Every JSON-RPC message the server sends the client passes
 * one function, server_message(), which keeps, rewrites or drops it:
 * - application/json bodies are held whole (at most MW_INSPECT_MAX_RESPONSE bytes; past it
 *   the client gets a 502 and the connection closes, nothing of the body is forwarded) and
 *   sent on with a recomputed Content-Length (chunked from upstream becomes Content-Length).
 *   A JSON body read until the connection closes (no framing) passes as it comes, unread.
 * - text/event-stream bodies (POST replies, the standing GET stream) are read event by event
 *   (each at most MW_INSPECT_MAX_EVENT bytes).  Chunked from upstream: one chunk per event
 *   as soon as the event is whole (progress flows before the result); with Content-Length:
 *   held whole (bounded as a JSON body) and sent with a recomputed Content-Length (the
 *   chunked form would need the client's HTTP version; a stream with a length is finite);
 *   read until close: events written as they come.  An event left unchanged goes out byte
 *   for byte (id:, event:, retry:, comments and empty priming events included); a rewritten
 *   one keeps its id, event and retry fields but not its comments.  An event too large for
 *   MW_INSPECT_MAX_EVENT ends the flow (inspect_server() fails; the relay resets it: the
 *   client sees a cut stream, never a partial event).
 * - Server-to-client requests (sampling/createMessage, elicitation/create, roots/list, ping,
 *   any request the server writes in a response or stream) are decided by the policy with
 *   the identity of the request whose response carries them (the standing GET stream: the
 *   GET's token and workload), method = the request's method, the flow's direction.  Each
 *   decision is one report().  Allowed: forwarded.  Denied (deny, and review until approvals
 *   exist: reported as "deny"): removed from the stream, the client never sees it (an event
 *   that carried an id: keeps the id in a block without data, so resumption stays right; a
 *   JSON body that held nothing else goes out empty, Content-Length: 0; a batch loses only
 *   its denied members).
 *   The server gets no answer: the stream it wrote into is the reply in progress and the
 *   agent cannot write a request body upstream on this connection; the server's own request
 *   timeout applies (the SDKs fail the tool call that asked, which the client then sees).
 *   A message that may hold a request but cannot be read as JSON-RPC is dropped the same
 *   way (fail closed); server notifications and responses are not subject to policy.
 * - tools/list results are filtered (inspect_tools.h) in the same place.
 * - Masking (mask.h): a response is masked with the profile of the rule that allowed its
 *   request (struct slot .mask for the request on this connection; the pairing table for
 *   a response on the standing GET stream or a resumed stream, whose request came on
 *   another connection); a server-to-client request with its own decision's profile.  A
 *   response on a GET stream whose request is unknown (forgotten, or never seen), and
 *   notifications on a GET stream, are masked with the journal's profile
 *   (mask_journal_profile(): what the operator lets reach an archive, by default every
 *   built-in detector) once any rule names a profile: the strictest choice that needs no
 *   guess about who asked.  Each masked message is reported once (decision "masked",
 *   summary and JSON paths, never a value) and its payload record carries the summary.
 *   A message that cannot be masked (too large, too deep, a pattern over its limit) is
 *   never forwarded: a response becomes a JSON-RPC error (-32603, "the reply could not be
 *   masked") with the same id in the same framing, anything else is dropped like a denied
 *   request; reported as "deny" by "(masking failed)".  A body or event that is not
 *   JSON-RPC while a profile applies is masked as text (mask_text()) or, failing that,
 *   dropped.
 * Fast path: a message with no masking profile, not answering tools/list and without the
 * text of a JSON-RPC request ("method" or a \u escape) is not parsed; unchanged messages are
 * never re-serialised.  POST responses without a profile are not parsed either (their
 * requests' pairing entries are then forgotten by age, not by answer).
 *
 * Pure apart from the clock: bytes in, bytes out, decisions reported through a callback. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

struct mw_oidc;
struct mw_masker;
struct mw_inspect_pairs;
struct mcp_message;
struct mw_cred;

/* What the agent decides with: shared by all flows, replaced as a whole on reload (flows
 * keep the one they started with). */
struct mw_inspect_env {
	int refs;
	struct mw_policy *policy; /* owned reference */
	struct mw_oidc *oidc;	  /* owned; NULL without "identity" */
	bool require_token;
	/* wakes the key refresher early (a token named an unknown kid); may be NULL */
	void (*keys_wanted)(struct mw_inspect_env *e);
	void *refresher;
	/* tool definitions seen per server (host:port), for rug-pull detection */
	struct mw_tool_tables *tools;
	/* masking (inspect_env_set_masker()): the profiles rules name, and the table pairing
	 * responses with their requests across connections; both NULL without masking */
	struct mw_masker *masker;	/* owned */
	struct mw_inspect_pairs *pairs; /* owned; only when a rule names a profile */
	/* just-in-time approvals (inspect_hold.h): the agent's registry (not owned; NULL: a
	 * review is answered -32010), how long a connection is held (0: until the approval
	 * expires), the argument that carries a justification (owned, may be NULL), and how a
	 * flow is woken when its held request is settled (with inspect_new's userdata) */
	struct mw_approvals *approvals;
	uint64_t hold_usec;
	uint64_t keepalive_usec; /* a started SSE reply's keep-alive comments (0: 15 s) */
	char *justification_arg;
	void (*wake)(void *userdata);
};

/* Give e its masker (owned from now on, also on error).  When a rule of e's policy names a
 * profile, every profile named must exist (-ENOENT, *ret_rule: the first rule naming an
 * unknown one) and the pairing table is created. */
int inspect_env_set_masker(struct mw_inspect_env *e, struct mw_masker *m, size_t *ret_rule);

/* --- Pairing across connections (inspect_pairs.c) ---------------------------------------
 * A response may reach the client on another connection than its request (the standing GET
 * stream, a stream resumed with Last-Event-ID): the checkpoint remembers each forwarded
 * request's masking profile per session (key: the Mcp-Session-Id, or without one, as mcp.h
 * recommends for 2026-07-28, "cgroup|host:port|sub") and finds it again by id.  At most
 * MW_INSPECT_PAIR_SESSIONS sessions (the least recently used is forgotten) of at most
 * MW_INSPECT_PAIR_PENDING outstanding requests each (the oldest is forgotten).  A forgotten
 * request's response is masked as an unpaired one (inspect.h top).  Thread-safe. */
#define MW_INSPECT_PAIR_SESSIONS 1024
#define MW_INSPECT_PAIR_PENDING 256
#define MW_INSPECT_PAIR_KEY 320

int inspect_pairs_new(size_t max_sessions, struct mw_inspect_pairs **ret);
struct mw_inspect_pairs *inspect_pairs_free(struct mw_inspect_pairs *t);
/* Remember request m (a client request with an id) under key, with the profile name that
 * masks its response (NULL: none; borrowed, must outlive the table). */
int inspect_pairs_add(struct mw_inspect_pairs *t, const char *key, const struct mcp_message *m,
		      const char *profile);
/* Pair response m: 0 and *ret_profile (NULL: its request asked for none), -ENOENT when no
 * request is known under that id. */
int inspect_pairs_match(struct mw_inspect_pairs *t, const char *key, const struct mcp_message *m,
			const char **ret_profile);

struct mw_inspect_env *inspect_env_ref(struct mw_inspect_env *e);
struct mw_inspect_env *inspect_env_unref(struct mw_inspect_env *e);

/* Where the flow comes from and goes: the workload part of the identity, and the target. */
struct mw_inspect_flow {
	const char *unit, *comm, *cgroup;
	int64_t uid; /* -1 when unknown (inbound) */
	const char *host;
	uint16_t port;
	enum mw_policy_direction direction;
	/* the upstream's credential (inject.h): every released request head is rewritten
	 * with it; NULL: heads go as received.  Must outlive the checkpoint. */
	struct mw_cred *cred;
};

/* One decision, for the journal. */
struct mw_inspect_event {
	const char *sub;    /* "" without a token */
	const char *groups; /* comma-separated */
	const char *token_sha256;
	const char *method, *tool;
	const char *decision; /* "allow", "deny", "review", "unauthenticated", "malformed" */
	const char *rule;
	const char *reason;
	const char *session; /* Mcp-Session-Id of the request, "" without one */
	const char *masked;  /* masking summary ("credit_card=2 email=1"), "" when none */
	/* decision "masked": a response (or event) was masked, with the JSON pointers of
	 * the values masked (space-separated; never a value), "" otherwise */
	const char *masked_paths;
	/* approval events of a held call (inspect_hold.h): the approval's id and "new",
	 * "approved", "denied", "expired" or "hold_limit" (still pending, the caller got
	 * -32012); "" for other decisions */
	const char *approval, *approval_event;
};

typedef void (*mw_inspect_report_fn)(void *userdata, const struct mw_inspect_event *ev);

/* One JSON-RPC payload as it was forwarded (already masked), for the session journal:
 * a request body sent upstream, a JSON response body or one SSE event's data sent to the
 * client, or a reply the agent wrote itself.  Called before the bytes are appended to the
 * output queue, so a journal can make the record durable before they leave. */
struct mw_inspect_record {
	bool to_client;	     /* direction of the bytes */
	bool own;	     /* written by the agent (a denial, an error), not forwarded */
	const char *session; /* Mcp-Session-Id, "" without one */
	const char *method;  /* the request's method ("tools/call"), "" when unknown */
	const char *tool;    /* tools/call: the tool, else "" */
	int status;	     /* responses: the HTTP status; requests: 0 */
	const uint8_t *payload;
	size_t len;
	const char *masked; /* masking summary, "" when nothing was masked */
};

typedef void (*mw_inspect_record_fn)(void *userdata, const struct mw_inspect_record *rec);

/* A growable byte queue the checkpoint appends to. */
struct mw_bytes {
	uint8_t *data;
	size_t len, cap;
};
int bytes_append(struct mw_bytes *b, const void *p, size_t n);
void bytes_consume(struct mw_bytes *b, size_t n);
void bytes_free(struct mw_bytes *b);
void bytes_wipe(struct mw_bytes *b); /* bytes_free() after zeroing: plaintext, secrets */

#define MW_INSPECT_MAX_REQUEST (8u * 1024 * 1024 + 64 * 1024) /* held bytes of one request */
#define MW_INSPECT_MAX_RESPONSE (8u << 20) /* a response body held whole (JSON, SSE with length) */
#define MW_INSPECT_MAX_EVENT (8u << 20)	   /* one SSE event of a response */

struct mw_inspect;

int inspect_new(struct mw_inspect_env *env, const struct mw_inspect_flow *flow,
		mw_inspect_report_fn report, void *userdata, struct mw_inspect **ret);
struct mw_inspect *inspect_free(struct mw_inspect *in);

/* Payload records go to fn (with inspect_new's userdata); NULL: none. */
void inspect_set_recorder(struct mw_inspect *in, mw_inspect_record_fn fn);

/* Client bytes: whole allowed requests are appended to to_upstream, replies the agent
 * sends instead to to_client (now, or once the responses before them are complete).
 * *ret_close is set when the connection must end once to_client is written. */
int inspect_client(struct mw_inspect *in, const uint8_t *buf, size_t len,
		   struct mw_bytes *to_upstream, struct mw_bytes *to_client, bool *ret_close);

/* Upstream bytes: responses through server_message() (see the top), appended to to_client,
 * with the replies held for ordering inserted once their turn comes.  -EMSGSIZE: an SSE
 * event too large, the flow must end. */
int inspect_server(struct mw_inspect *in, const uint8_t *buf, size_t len,
		   struct mw_bytes *to_client);

/* A closing reply (400, or an answer to "Connection: close") has been handed out: end the
 * connection once to_client is written. */
bool inspect_closing(const struct mw_inspect *in);

/* A request is held for an approval (inspect_hold.h). */
bool inspect_holding(const struct mw_inspect *in);

/* Requests held (a request is being received or decided). */
size_t inspect_held(const struct mw_inspect *in);
