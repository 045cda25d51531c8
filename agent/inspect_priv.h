/* inspect_priv.h: what the two halves of the checkpoint share: the client side (inspect.c:
 * requests, identity, decisions, the agent's own replies) and the server side
 * (inspect_resp.c: every message the upstream sends the client).  Private to them. */
#pragma once

#include "http1.h"
#include "inspect_hold.h"
#include "inspect.h"
#include "jwt.h"
#include "mcp.h"
#include "sse.h"

#define INSPECT_SMALL_FIELD 256

/* Replies and forwarded requests in request order: a response from upstream completes the
 * first forwarded slot; replies at the head of the queue are then due. */
struct slot {
	struct slot *next;
	char *reply; /* NULL: a request forwarded upstream */
	size_t len;
	bool close_after; /* the connection ends once this reply is out */
	/* forwarded requests: what the response (or stream) that answers them needs */
	bool tools_list;	      /* asked for tools/list: the list is filtered */
	struct mw_jwt_claims *claims; /* who asked (owned; NULL without a token) */
	const char *mask;	      /* the allowing rule's masking profile, NULL: none
				       * (borrowed from the flow's policy, which it keeps) */
	char method[64], tool[128];   /* the (first) request's, "" when none */
	char session[INSPECT_SMALL_FIELD];
	struct mw_hold *hold; /* held for an approval: neither forwarded nor answered */
};

void inspect_slot_free(struct slot *s);

/* How the response being received reaches the client (inspect_resp.c). */
enum resp_mode {
	RESP_HEAD, /* between messages: head bytes are held until the head is whole */
	RESP_PASS, /* passed through as received (no body, interim, not MCP, until close) */
	RESP_JSON, /* an application/json body, held whole, re-emitted with Content-Length */
	RESP_SSE,  /* a text/event-stream body, event by event */
};

struct resp {
	enum resp_mode mode;
	bool chunked; /* SSE: upstream used chunked: one chunk per event */
	bool hold;    /* SSE with Content-Length: held whole, Content-Length recomputed */
	bool dead;    /* refused (too large): the rest of the connection is discarded */
	int status;
	char session[INSPECT_SMALL_FIELD]; /* the response's Mcp-Session-Id, else the slot's */
	struct mw_bytes raw;		   /* head bytes as received (RESP_HEAD) */
	struct mw_bytes head;		   /* rebuilt head without framing fields (held bodies) */
	struct mw_bytes body;		   /* JSON: the held body; SSE hold: the output */
	size_t held_in;			   /* SSE hold: input bytes taken */
	struct sse_parser *sse;
};

struct mw_inspect {
	struct mw_inspect_env *env;
	char unit[256], comm[32], cgroup[1024], host[64];
	struct mw_inspect_flow flow;
	mw_inspect_report_fn report;
	mw_inspect_record_fn record;
	void *userdata;
	struct http1_parser *req, *resp;
	bool resp_broken;
	struct mw_bytes held; /* wire bytes of the request being received */
	struct mw_bytes body; /* its payload */
	/* from the head, copied: the parser's head does not outlive the message */
	enum http1_method method;
	char *token; /* Bearer token, wiped on free */
	bool token_present;
	char accept[INSPECT_SMALL_FIELD], session[INSPECT_SMALL_FIELD];
	/* the request being decided, for payload records of the agent's own replies */
	const char *cur_method, *cur_tool;
	struct slot *first, *last;
	bool refusing;	 /* a closing reply is queued: no more input is read */
	bool answered;	 /* the request just decided was answered by us, not forwarded */
	bool closing;	 /* that reply is out: end the connection once it is written */
	char server[80]; /* host:port, the key of the rug-pull table */
	struct resp r;	 /* the response being received */
	struct mw_bytes later; /* client bytes after a held request, read once it is settled */
};

/* inspect.c */
int inspect_slots_flush(struct mw_inspect *in, struct mw_bytes *to_client);
void inspect_report(struct mw_inspect *in, const struct mw_jwt_claims *claims, const char *session,
		    const char *method, const char *tool, const char *decision, const char *rule,
		    const char *reason);
void inspect_fill_request(struct mw_inspect *in, const struct mw_jwt_claims *c,
			  struct mw_policy_request *req);
void inspect_record(struct mw_inspect *in, const struct mw_inspect_record *rec);

/* inspect_resp.c */
void inspect_resp_clear(struct mw_inspect *in);
