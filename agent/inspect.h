/* inspect.h: the MCP checkpoint on one HTTP/1.1 flow.
 *
 * The relay hands it every byte the client sends; it parses them as HTTP/1.1 requests
 * (strictly: a malformed request is answered 400/413/431/501 and the connection closes,
 * nothing malformed is forwarded), holds each request until it is whole, reads its MCP
 * JSON-RPC body, establishes who asks (a Bearer JWT verified against the configured OIDC
 * issuers, plus the workload from the flow's origin) and asks the policy.  Allowed
 * requests are released to the upstream byte for byte; denied ones never leave: the client
 * gets a JSON-RPC error (-32010, data {rule, reason}) in the framing it accepts, or a 401
 * when a required token is missing or invalid.  It also reads the responses, only to keep
 * its own replies in order with the upstream's on a keep-alive connection.
 *
 * Pure apart from the clock: bytes in, bytes out, decisions reported through a callback. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

struct mw_oidc;

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
	/* just-in-time approvals (inspect_hold.h): the agent's registry (not owned; NULL: a
	 * review is answered -32010), how long a connection is held (0: until the approval
	 * expires), the argument that carries a justification (owned, may be NULL), and how a
	 * flow is woken when its held request is settled (with inspect_new's userdata) */
	struct mw_approvals *approvals;
	uint64_t hold_usec;
	char *justification_arg;
	void (*wake)(void *userdata);
};

struct mw_inspect_env *inspect_env_ref(struct mw_inspect_env *e);
struct mw_inspect_env *inspect_env_unref(struct mw_inspect_env *e);

/* Where the flow comes from and goes: the workload part of the identity, and the target. */
struct mw_inspect_flow {
	const char *unit, *comm, *cgroup;
	int64_t uid; /* -1 when unknown (inbound) */
	const char *host;
	uint16_t port;
	enum mw_policy_direction direction;
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

#define MW_INSPECT_MAX_REQUEST (8u * 1024 * 1024 + 64 * 1024) /* held bytes of one request */

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

/* Upstream bytes: appended to to_client (tools/list responses rewritten), with the replies
 * held for ordering inserted once their turn comes. */
int inspect_server(struct mw_inspect *in, const uint8_t *buf, size_t len,
		   struct mw_bytes *to_client);

/* A closing reply (400, or an answer to "Connection: close") has been handed out: end the
 * connection once to_client is written. */
bool inspect_closing(const struct mw_inspect *in);

/* A request is held for an approval (inspect_hold.h). */
bool inspect_holding(const struct mw_inspect *in);

/* Requests held (a request is being received or decided). */
size_t inspect_held(const struct mw_inspect *in);
