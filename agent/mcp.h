/* mcp.h: MCP over JSON-RPC 2.0, as the agent sees it in HTTP bodies.
 *
 * Owns: the parsed form of one body (a message or a batch) with the fields policy needs
 * (method, tool, arguments, uri, prompt, progress token, protocol revision hints, result,
 * error, resultType); a per-session table of outstanding request ids; a per-server table of
 * tool definition hashes; and the bytes of the replies the agent sends instead of forwarding
 * (mcp_reply.c).
 * Promises: pure (no I/O, no logging, no global state); every limit on input is named below;
 * a body is accepted whole or refused whole with one precise error and the JSON-RPC code a
 * server would answer with. Nothing here decides policy.
 *
 * Strictness (the agent refuses what it cannot read; fail closed):
 * - "jsonrpc" must be the string "2.0"; members other than jsonrpc, id, method, params,
 *   result and error are refused (as the TypeScript SDK's strict schemas do).
 * - An id is a string (at most MCP_ID_MAX_LEN bytes) or an integer that fits int64_t.
 *   Fractional or exponent numbers (1.5, 1e3, even 1.0) are refused: JSON-RPC says ids
 *   SHOULD NOT have fractions, and pairing compares ids exactly. Requests never have a null
 *   id; only an error response may (the reply to an unreadable request).
 * - Any number in the body beyond int64_t or double range is refused (jansson cannot hold
 *   it), as are strings holding \u0000, duplicate object keys, invalid UTF-8.
 * - params is an object or an array. MCP always uses objects: an MCP method whose params
 *   are missing what MCP requires (tools/call without a string name, ...) still parses, with
 *   msg->invalid set and MCP_ERR_INVALID_PARAMS suggested: the caller refuses it.
 * - A batch is refused whole when any member is invalid (no per-member answers); an empty
 *   batch is an invalid request. MCP 2025-06-18 and later dropped batches, JSON-RPC did not:
 *   they are parsed, and body->batch tells the caller.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Limits on untrusted bodies; 0 in struct mcp_limits means the default. */
#define MCP_MAX_BODY_DEFAULT (8u << 20) /* bytes of JSON text */
#define MCP_MAX_DEPTH_DEFAULT 64	/* nested arrays/objects, the batch array counts */
#define MCP_MAX_BATCH_DEFAULT 100	/* messages in one batch */
#define MCP_ID_MAX_LEN 256		/* bytes of a string id or progress token */
#define MCP_PENDING_MAX_DEFAULT 1024	/* outstanding requests per session (both ways) */
#define MCP_TOOLS_MAX_DEFAULT 4096	/* tool names remembered per server */

/* JSON-RPC 2.0 codes, and the agent's own (DESIGN.md). */
#define MCP_ERR_PARSE (-32700)
#define MCP_ERR_INVALID_REQUEST (-32600)
#define MCP_ERR_METHOD_NOT_FOUND (-32601)
#define MCP_ERR_INVALID_PARAMS (-32602)
#define MCP_ERR_INTERNAL (-32603)
#define MCP_ERR_DENIED_POLICY (-32010)
#define MCP_ERR_DENIED_APPROVER (-32011)
#define MCP_ERR_APPROVAL_TIMEOUT (-32012)

struct mcp_limits {
	size_t max_body;
	unsigned max_depth;
	size_t max_batch;
};

/* Who wrote the body: the client (HTTP request bodies) or the server (response bodies and
 * the standing GET stream). A request written by the server is a server-to-client request. */
enum mcp_dir {
	MCP_FROM_CLIENT,
	MCP_FROM_SERVER,
};

enum mcp_kind {
	MCP_REQUEST = 1,
	MCP_NOTIFICATION,
	MCP_RESULT,
	MCP_ERROR,
};

enum mcp_id_type {
	MCP_ID_NONE, /* absent (notifications) */
	MCP_ID_NULL, /* error responses only */
	MCP_ID_INT,
	MCP_ID_STR,
};

/* An id or a progress token. 1 and "1" are different ids. str points into the body (or the
 * pending table) and is NUL-terminated. */
struct mcp_id {
	enum mcp_id_type type;
	int64_t num;
	const char *str;
};

/* Methods the agent treats specially; everything else is MCP_M_OTHER (look at ->method). */
enum mcp_method {
	MCP_M_OTHER,
	MCP_M_INITIALIZE,
	MCP_M_INITIALIZED, /* notifications/initialized */
	MCP_M_PING,
	MCP_M_SERVER_DISCOVER,
	MCP_M_TOOLS_LIST,
	MCP_M_TOOLS_CALL,
	MCP_M_RESOURCES_LIST,
	MCP_M_RESOURCES_TEMPLATES_LIST,
	MCP_M_RESOURCES_READ,
	MCP_M_RESOURCES_SUBSCRIBE,
	MCP_M_RESOURCES_UNSUBSCRIBE,
	MCP_M_PROMPTS_LIST,
	MCP_M_PROMPTS_GET,
	MCP_M_COMPLETION_COMPLETE,
	MCP_M_LOGGING_SET_LEVEL,
	MCP_M_SAMPLING_CREATE_MESSAGE, /* server to client */
	MCP_M_ELICITATION_CREATE,      /* server to client */
	MCP_M_ROOTS_LIST,	       /* server to client */
	MCP_M_PROGRESS,		       /* notifications/progress */
	MCP_M_CANCELLED,	       /* notifications/cancelled */
};

/* Where msg->protocol_version came from. */
enum mcp_proto_src {
	MCP_PROTO_NONE,
	MCP_PROTO_INITIALIZE, /* params.protocolVersion of initialize (2025-xx: asked for) */
	MCP_PROTO_META,	      /* params._meta["io.modelcontextprotocol/protocolVersion"] */
	MCP_PROTO_RESULT,     /* result.protocolVersion (an initialize result: agreed on) */
};

#define MCP_META_PROTOCOL_VERSION "io.modelcontextprotocol/protocolVersion"
#define MCP_META_CLIENT_INFO "io.modelcontextprotocol/clientInfo"

/* One message. Every pointer is borrowed from the body's JSON tree (valid until
 * mcp_body_free()) and NULL when absent; strings are NUL-terminated UTF-8. */
struct mcp_message {
	enum mcp_kind kind;
	struct mcp_id id;
	json_t *json; /* the whole message object */

	/* Requests and notifications. */
	const char *method;
	enum mcp_method mid;
	json_t *params;	     /* object or array */
	bool server_request; /* a request written by the server (sampling, elicitation, ...) */
	bool misdirected;    /* a known method written by the side that never sends it */
	const char *tool;    /* tools/call params.name */
	json_t *arguments;   /* tools/call params.arguments (an object when present) */
	const char *uri;     /* resources/read, subscribe, unsubscribe params.uri */
	const char *prompt;  /* prompts/get params.name */
	struct mcp_id progress_token; /* params._meta.progressToken; notifications/progress
				       * params.progressToken */
	struct mcp_id cancel_id;      /* notifications/cancelled params.requestId */
	const char *protocol_version; /* see proto_src */
	enum mcp_proto_src proto_src;
	const char *client_name; /* initialize params.clientInfo or _meta clientInfo */
	const char *client_version;
	bool stateless;	     /* 2026-07-28 style: _meta protocol version, or server/discover */
	const char *invalid; /* MCP-level problem (see top of file); NULL when fine */

	/* Responses. */
	json_t *result;		 /* any JSON value */
	const char *result_type; /* result.resultType (2026-07-28) */
	json_int_t error_code;
	const char *error_message;
	json_t *error_data;
};

struct mcp_body {
	json_t *root;
	bool batch;
	bool partial; /* from mcp_parse_lazy() without a tree: root and every json_t pointer
		       * NULL; msgs[0] has only kind, id, method, mid and tool */
	size_t n;
	struct mcp_message *msgs;
};

/* Why a body was refused. */
enum mcp_perr {
	MCP_PERR_NONE,
	MCP_PERR_TOO_BIG,      /* more than max_body bytes */
	MCP_PERR_SYNTAX,       /* not JSON (incl. invalid UTF-8, trailing bytes, empty body) */
	MCP_PERR_DEPTH,	       /* nesting beyond max_depth */
	MCP_PERR_DUP_KEY,      /* an object key repeated */
	MCP_PERR_NUMBER,       /* a number jansson cannot hold */
	MCP_PERR_NUL,	       /* \u0000 in a string */
	MCP_PERR_NOT_OBJECT,   /* body or batch member is neither object nor (top level) array */
	MCP_PERR_EMPTY_BATCH,  /* [] */
	MCP_PERR_BATCH_SIZE,   /* more than max_batch members */
	MCP_PERR_VERSION,      /* jsonrpc missing or not "2.0" */
	MCP_PERR_MEMBER,       /* a member JSON-RPC does not define */
	MCP_PERR_ID,	       /* id of the wrong type, fractional, null where not allowed, long */
	MCP_PERR_METHOD,       /* method not a string */
	MCP_PERR_PARAMS,       /* params neither object nor array */
	MCP_PERR_SHAPE,	       /* method with result/error, result with error, neither, ... */
	MCP_PERR_ERROR_OBJECT, /* error not {code: integer, message: string, data?} */
	MCP_PERR_NOMEM,
};

struct mcp_parse_error {
	enum mcp_perr kind;
	int code;	  /* MCP_ERR_PARSE, MCP_ERR_INVALID_REQUEST (MCP_ERR_INTERNAL: no memory) */
	long index;	  /* batch member at fault, -1 for the body as a whole */
	int line, column; /* from jansson for syntax errors, else 0 */
	struct mcp_id id; /* the faulty message's id when readable (type NONE otherwise); str is
			   * copied into id_buf so it outlives the failed parse */
	char id_buf[MCP_ID_MAX_LEN + 1];
	char text[200]; /* printable ASCII (other bytes become '?'), NUL-terminated */
};

/* Parse one body. limits may be NULL. Returns 0 with *ret_body set, or a negative errno with
 * *ret_err filled (ret_err may be NULL): -EMSGSIZE (too big), -EBADMSG (not JSON, or not
 * JSON-RPC), -ENOMEM. */
int mcp_parse(const void *buf, size_t len, enum mcp_dir dir, const struct mcp_limits *limits,
	      struct mcp_body **ret_body, struct mcp_parse_error *ret_err);
struct mcp_body *mcp_body_free(struct mcp_body *b);

/* --- Fast path (mcp_fast.c) -----------------------------------------------------------------
 * Most client bodies are one request whose envelope is all the checkpoint reads. The scanner
 * reads jsonrpc, id, method, params.name and whether params.arguments exists, without
 * allocating, from a strict subset of the bodies mcp_parse() accepts (see mcp_fast.c), and
 * answers -EAGAIN ("unsure") for everything else, valid or not. Where it answers 0, mcp_parse()
 * accepts the body as one message with the same kind, id, method, mid and tool (tools/call
 * only), arguments present as an object exactly when has_arguments, and no invalid reason
 * (tests/fuzz/fuzz_mcp_fast.c checks this). Strings are not NUL-terminated: pointer and length
 * into buf, never escaped. */
struct mcp_scan {
	enum mcp_kind kind; /* MCP_REQUEST or MCP_NOTIFICATION */
	struct mcp_id id;   /* str NULL: see id_str */
	const char *id_str;
	size_t id_len;
	const char *method;
	size_t method_len;
	enum mcp_method mid;
	const char *name; /* tools/call params.name, else NULL */
	size_t name_len;
	bool has_arguments;
};

int mcp_scan_request(const void *buf, size_t len, enum mcp_dir dir,
		     const struct mcp_limits *limits, struct mcp_scan *ret_scan);

/* Whether the caller needs params.arguments of a tools/call of tool (policy with "args"
 * match keys that could apply). */
typedef bool (*mcp_args_needed_fn)(void *userdata, const char *method, const char *tool);
/* mcp_parse() for callers that read only the envelope: a body the scanner takes, and whose
 * arguments need_args (NULL: never) does not want, becomes a partial body (no tree); any other
 * body goes to mcp_parse(). Same returns and errors as mcp_parse(). */
int mcp_parse_lazy(const void *buf, size_t len, enum mcp_dir dir, const struct mcp_limits *limits,
		   mcp_args_needed_fn need_args, void *userdata, struct mcp_body **ret_body,
		   struct mcp_parse_error *ret_err);
void mcp_body_freep(struct mcp_body **b);

/* "tools/call" -> MCP_M_TOOLS_CALL; NULL or unknown -> MCP_M_OTHER. */
enum mcp_method mcp_method_from_name(const char *name);
/* Compare two ids (type and value). */
bool mcp_id_equal(const struct mcp_id *a, const struct mcp_id *b);
/* The object a request acts on, as the Mcp-Name header carries it: the tool, the resource
 * uri or the prompt; NULL for other methods. */
const char *mcp_message_name(const struct mcp_message *m);
/* Check the Mcp-Method / Mcp-Name request headers (either may be NULL: not sent) against a
 * single request or notification: 0 when they agree, -EBADMSG when one disagrees (the
 * gateway might route on the header while the server acts on the body: refuse), -EINVAL
 * for a batch (headers cannot describe several messages). */
int mcp_check_headers(const struct mcp_body *b, const char *mcp_method, const char *mcp_name);

/* Serialise a (possibly edited) body, compact, members in their original order. Numbers:
 * integers as they were; reals re-printed by jansson ("%.17g", so 0.1 becomes
 * 0.10000000000000001, 1e2 becomes 100.0): same value, maybe different text. */
int mcp_body_dump(const struct mcp_body *b, char **ret_json, size_t *ret_len);
int mcp_json_dump(const json_t *j, char **ret_json, size_t *ret_len);

/* --- Pairing ----------------------------------------------------------------------------
 * One table per session. Responses may come back on another connection (SSE resumption,
 * the standing GET stream, a client answering a server request by POST), so the caller keys
 * tables by session, not by connection: the Mcp-Session-Id value when there is one. Revision
 * 2026-07-28 has no sessions; there the recommended key is the flow's workload and target:
 * (enrolled cgroup id, upstream address:port, token subject or "-"), so that one gateway's
 * clients of one server share a table and two identities never do. Ids of the two directions
 * are separate namespaces (client request 1 and server request 1 may both be outstanding):
 * a response written by one side matches a request written by the other.
 * Bounded: at most max entries; adding to a full table evicts the oldest (counted). */
struct mcp_pending;

struct mcp_pending_stats {
	uint64_t added, matched, unmatched, evicted, replaced;
	size_t count;
};

/* What a response was paired with; owns its strings (mcp_pair_clear()). */
struct mcp_pair {
	enum mcp_method mid;
	char *method;
	char *tool; /* tools/call only */
	uint64_t cookie;
};

/* max 0 means MCP_PENDING_MAX_DEFAULT. */
int mcp_pending_new(size_t max, struct mcp_pending **ret_table);
struct mcp_pending *mcp_pending_free(struct mcp_pending *t);
void mcp_pending_freep(struct mcp_pending **t);
/* Remember a request (m->kind must be MCP_REQUEST; dir is who wrote it). cookie is the
 * caller's (a flow id, a timestamp). Returns 0, 1 when an outstanding request of the same
 * direction and id was replaced (a client reusing an id: counted), -EINVAL, -ENOMEM. */
int mcp_pending_add(struct mcp_pending *t, enum mcp_dir dir, const struct mcp_message *m,
		    uint64_t cookie);
/* Pair a response (MCP_RESULT or MCP_ERROR written by dir) and forget the request. Returns 0
 * with *ret_pair filled, -ENOENT when nothing is outstanding under that id (counted; a null
 * id never matches), -EINVAL. */
int mcp_pending_match(struct mcp_pending *t, enum mcp_dir dir, const struct mcp_message *m,
		      struct mcp_pair *ret_pair);
void mcp_pair_clear(struct mcp_pair *p);
void mcp_pending_stats(const struct mcp_pending *t, struct mcp_pending_stats *ret_stats);

/* --- tools/list ---------------------------------------------------------------------------
 * Filtering edits the message in place (its result, hence the body's tree); dump the body
 * afterwards. Tools that are not objects with a string name are removed too (fail closed).
 * Everything else in the result (nextCursor, _meta, resultType, unknown members) stays, in
 * order. -EINVAL when m is not a result holding a "tools" array. */
typedef bool (*mcp_tool_allowed_fn)(void *userdata, const char *tool);
int mcp_tools_filter(struct mcp_message *m, mcp_tool_allowed_fn allowed, void *userdata,
		     size_t *ret_removed);

/* SHA-256 of a tool definition's canonical form: json_dumps(tool, JSON_SORT_KEYS |
 * JSON_COMPACT) -- keys sorted by bytes at every depth, no whitespace, strings as UTF-8 with
 * jansson's escapes, reals as "%.17g". Not RFC 8785, but stable for one agent build, and
 * independent of member order and whitespace, which servers do not keep stable. The whole
 * definition counts (name, title, description, schemas, annotations, _meta, icons). */
#define MCP_TOOL_HASH_LEN 32
int mcp_tool_hash(const json_t *tool, uint8_t ret_hash[MCP_TOOL_HASH_LEN]);
/* Lowercase hex, NUL-terminated; returns buf. */
char *mcp_hash_hex(const uint8_t hash[MCP_TOOL_HASH_LEN], char buf[2 * MCP_TOOL_HASH_LEN + 1]);

/* A server's tools, name -> the hash first seen (pinned). A definition that differs from
 * the pinned one is CHANGED on every observation until mcp_tools_forget(): a rug pull stays
 * flagged, so later calls of that tool can be denied. Bounded: a new name beyond max is
 * -ENOSPC (counted), never evicting a pinned one. */
enum mcp_tool_state {
	MCP_TOOL_UNKNOWN,
	MCP_TOOL_ADDED,
	MCP_TOOL_UNCHANGED,
	MCP_TOOL_CHANGED,
};

struct mcp_tools;

int mcp_tools_new(size_t max, struct mcp_tools **ret_table);
struct mcp_tools *mcp_tools_free(struct mcp_tools *t);
void mcp_tools_freep(struct mcp_tools **t);
/* Returns the state (> 0), -ENOSPC, -ENOMEM, -EINVAL. */
int mcp_tools_observe(struct mcp_tools *t, const char *name, const uint8_t hash[MCP_TOOL_HASH_LEN]);
/* The state at the last observation of name (MCP_TOOL_UNKNOWN if never seen). */
enum mcp_tool_state mcp_tools_state(const struct mcp_tools *t, const char *name);
void mcp_tools_forget(struct mcp_tools *t, const char *name);
size_t mcp_tools_count(const struct mcp_tools *t);
uint64_t mcp_tools_overflows(const struct mcp_tools *t);
/* Hash and observe every tool of a tools/list result; cb (may be NULL) hears each one.
 * Tools without a string name are skipped. Returns the number of CHANGED tools, or -errno
 * (-EINVAL when m is not a tools/list result; the first -ENOSPC or -ENOMEM, after the rest
 * were observed). */
typedef void (*mcp_tool_seen_fn)(void *userdata, const char *tool, enum mcp_tool_state state,
				 const uint8_t hash[MCP_TOOL_HASH_LEN]);
int mcp_tools_observe_result(struct mcp_tools *t, const struct mcp_message *m, mcp_tool_seen_fn cb,
			     void *userdata);

/* --- Replies (mcp_reply.c) -----------------------------------------------------------------
 * JSON is compact with members in a fixed order; the reply to a single request is an
 * object, to a batch an array holding one error per request (notifications and responses in
 * the batch get none). */
struct mcp_denial {
	const char *rule;	 /* the deciding rule's name; NULL -> null */
	const char *approval_id; /* NULL -> omitted */
	const char *reason;	 /* NULL -> the message */
};

/* "Denied by policy", "Denied by approver", "Approval timed out", "Parse error", ...;
 * "Error" for other codes. */
const char *mcp_error_text(int code);
/* {"jsonrpc":"2.0","id":ID,"error":{"code":C,"message":M,"data":D}}. id NULL or of type
 * NONE gives "id":null; message NULL gives mcp_error_text(code); data is stolen (may be
 * NULL: omitted). NULL with errno set on failure (EINVAL: invalid UTF-8). */
json_t *mcp_error_response(const struct mcp_id *id, int code, const char *message, json_t *data);
/* {"rule":R,"approval_id":A,"reason":W}; NULL with errno on failure. */
json_t *mcp_denial_data(const struct mcp_denial *d, const char *message);
/* The agent's answer to a whole body: an error object for a single request, an array for a
 * batch. Returns 0 with *ret_reply NULL when there is nothing to answer (notifications and
 * responses only: reply 202 with no body), or -errno. */
int mcp_error_reply(const struct mcp_body *b, int code, const char *message,
		    const struct mcp_denial *d, json_t **ret_reply);

enum mcp_framing {
	MCP_FRAMING_JSON, /* Content-Type: application/json */
	MCP_FRAMING_SSE,  /* Content-Type: text/event-stream; one "event: message" event */
};

struct mcp_http_opts {
	int status; /* 0 -> 200 (202 when there is no body) */
	enum mcp_framing framing;
	bool chunked;		/* Transfer-Encoding: chunked instead of Content-Length */
	bool close;		/* Connection: close (the caller closes after writing) */
	const char *session_id; /* Mcp-Session-Id to echo; visible ASCII only */
	const char *sse_id;	/* SSE id: line; NULL for none */
};

/* Which framing to answer with, from the request's Accept header (NULL: absent). JSON when
 * the client accepts application/json (or anything: no header, star/star), SSE when it
 * accepts only text/event-stream. q=0 excludes a type. */
enum mcp_framing mcp_framing_for_accept(const char *accept);

/* The complete HTTP/1.1 response carrying body (NULL: no body, status 202 by default).
 * *ret_buf is malloc'd and NUL-terminated (not counted in *ret_len). -EINVAL for a status
 * outside 200-599, a session id or SSE id that could break the head or the event stream. */
int mcp_http_reply(const json_t *body, const struct mcp_http_opts *o, char **ret_buf,
		   size_t *ret_len);

/* HTTP/1.1 401 with WWW-Authenticate: Bearer error="invalid_token", error_description="...",
 * [resource_metadata="..." (RFC 9728; MCP 2025-06-18 and later clients look for it)] and the
 * body {"error":"invalid_token","error_description":"..."}. Characters RFC 6750 does not
 * allow in the quoted description (controls, '"', '\\', non-ASCII) become '?' in the header;
 * the JSON body keeps the text. */
int mcp_http_unauthorized(const char *description, const char *resource_metadata, bool close,
			  char **ret_buf, size_t *ret_len);
