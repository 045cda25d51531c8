/* inspect_hold.c: see inspect_hold.h. */
#include "inspect_hold.h"

#include <stdio.h>

#include "sse.h"
#include "util.h"

#define HOLD_KEEPALIVE_DEFAULT (15ULL * 1000000ULL) /* env->keepalive_usec 0 */

struct mw_hold {
	struct mw_approval_waiter w; /* first: the waiter's callback finds the hold */
	char id[MW_APPROVAL_ID_LEN + 1];
	char rule[MW_APPROVAL_FIELD_MAX + 1];
	char reason[MW_APPROVAL_FIELD_MAX + 1];
	char who[512];
	bool settled;
	enum mw_approval_state state; /* PENDING when settled: held past the limit */
	void (*settled_fn)(void *ud);
	void *ud;
	struct mcp_body *body;
	struct mw_bytes bytes;	 /* the request as received */
	struct mw_bytes payload; /* its body, for the payload record once forwarded */
	int http_method;
	char accept[256], session[256];
	bool http11;		 /* the request was HTTP/1.1: a chunked reply may start early */
	bool streaming;		 /* the SSE reply is started: the answer is events only */
	bool keepalive_due;	 /* a keep-alive comment is to be written */
	uint64_t keepalive_usec; /* between keep-alive comments */
};

static void on_decided(struct mw_approval_waiter *w, const struct mw_approval *a,
		       enum mw_approval_state state)
{
	struct mw_hold *h = (struct mw_hold *)w;

	h->settled = true;
	h->state = state;
	snprintf(h->reason, sizeof(h->reason), "%s", approval_reason(a));
	if (h->settled_fn)
		h->settled_fn(h->ud);
}

static void on_poke(struct mw_approval_waiter *w)
{
	struct mw_hold *h = (struct mw_hold *)w;

	h->keepalive_due = true;
	if (h->settled_fn)
		h->settled_fn(h->ud);
}

static char *groups_str(const struct mw_jwt_claims *c)
{
	char buf[1024] = "";
	size_t n = 0;

	for (size_t i = 0; c && i < c->n_groups; i++) {
		if (i)
			mw_str_append(buf, sizeof(buf), &n, ",", 1);
		mw_str_append(buf, sizeof(buf), &n, c->groups[i], strlen(c->groups[i]));
	}
	return strdup(buf);
}

/* params._meta.justification, else the configured argument. */
static const char *justification(const struct mw_inspect_env *env, const struct mcp_message *m)
{
	json_t *meta = json_object_get(m->params, "_meta");
	const char *s = json_string_value(json_object_get(meta, "justification"));

	if (!s && env->justification_arg)
		s = json_string_value(json_object_get(m->arguments, env->justification_arg));
	return s;
}

int hold_begin(struct mw_inspect_env *env, const struct mw_hold_call *c,
	       void (*settled)(void *ud), void *ud, struct mw_hold **ret_hold,
	       char ret_pass_id[MW_APPROVAL_ID_LEN + 1])
{
	_cleanup_free_ char *identity = NULL, *groups = NULL;
	const struct mw_policy_approvers *pa = c->d->approvers;
	struct mw_approval_rule who = { .count = 1 };
	struct mw_approval_request req;
	struct mw_approval *a;
	struct mw_hold *h;
	uint64_t now = mw_now_wall_usec();
	const char *sub = c->claims ? c->claims->sub : NULL;
	char fp[65];
	int r;

	if (!env->approvals)
		return -ENOTSUP;
	r = approval_identity(sub, c->flow->unit, c->flow->uid, &identity);
	if (r < 0)
		return r;
	r = approval_fingerprint(c->msg->arguments, fp);
	if (r < 0)
		return r;
	r = approvals_check(env->approvals, identity, c->msg->tool, c->target, fp, now, ret_pass_id);
	if (r != 0)
		return r;
	groups = groups_str(c->claims);
	if (!groups)
		return -ENOMEM;
	if (pa) {
		who = (struct mw_approval_rule){
			.users = pa->users,
			.n_users = pa->n_users,
			.groups = pa->groups,
			.n_groups = pa->n_groups,
			.oidc_groups = pa->oidc_groups,
			.n_oidc_groups = pa->n_oidc_groups,
			.count = pa->count,
		};
	}
	req = (struct mw_approval_request){
		.sub = sub,
		.groups = groups,
		.unit = c->flow->unit,
		.comm = c->flow->comm,
		.uid = c->flow->uid,
		.target = c->target,
		.method = c->msg->method,
		.tool = c->msg->tool,
		.args = c->msg->arguments,
		.rule = c->d->rule_name,
		.justification = justification(env, c->msg),
		.session = c->session,
		.approvers = &who,
	};
	r = approvals_submit(env->approvals, &req, now, &a);
	if (r < 0)
		return r;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	snprintf(h->id, sizeof(h->id), "%s", approval_id(a));
	snprintf(h->rule, sizeof(h->rule), "%s", approval_rule(a));
	approval_who(a, h->who, sizeof(h->who));
	h->settled_fn = settled;
	h->ud = ud;
	h->w.fn = on_decided;
	h->w.deadline = env->hold_usec ? now + env->hold_usec : 0;
	h->keepalive_usec = env->keepalive_usec ? env->keepalive_usec : HOLD_KEEPALIVE_DEFAULT;
	approval_wait(a, &h->w);
	*ret_hold = h;
	return 0;
}

int hold_keep(struct mw_hold *h, struct mcp_body *body, const uint8_t *bytes, size_t len,
	      const uint8_t *payload, size_t payload_len, int http_method, bool http11,
	      const char *accept, const char *session)
{
	int r;

	h->body = body;
	h->http11 = http11;
	h->http_method = http_method;
	snprintf(h->accept, sizeof(h->accept), "%s", accept ? accept : "");
	snprintf(h->session, sizeof(h->session), "%s", session ? session : "");
	r = bytes_append(&h->bytes, bytes, len);
	return r ?: bytes_append(&h->payload, payload, payload_len);
}

const struct mw_bytes *hold_payload(const struct mw_hold *h)
{
	return &h->payload;
}

const char *hold_id(const struct mw_hold *h)
{
	return h->id;
}

bool hold_settled(const struct mw_hold *h)
{
	return h->settled;
}

bool hold_approved(const struct mw_hold *h)
{
	return h->settled && h->state == MW_APPROVAL_APPROVED;
}

int hold_http_method(const struct mw_hold *h)
{
	return h->http_method;
}

const struct mw_bytes *hold_bytes(const struct mw_hold *h)
{
	return &h->bytes;
}

const char *hold_outcome(const struct mw_hold *h)
{
	if (!h->settled)
		return "review";
	return h->state == MW_APPROVAL_PENDING ? "held" : approval_state_str(h->state);
}

const char *hold_event(const struct mw_hold *h)
{
	if (!h->settled)
		return "new";
	return h->state == MW_APPROVAL_PENDING ? "hold_limit" : approval_state_str(h->state);
}

const char *hold_rule(const struct mw_hold *h)
{
	return h->rule;
}

/* --- the started SSE reply ----------------------------------------------------------------- */

int hold_stream_chunk(struct mw_bytes *out, const void *p, size_t len)
{
	char line[32];
	int r;

	if (!len)
		return 0;
	snprintf(line, sizeof(line), "%zx\r\n", len);
	r = bytes_append(out, line, strlen(line));
	r = r ?: bytes_append(out, p, len);
	return r ?: bytes_append(out, "\r\n", 2);
}

int hold_stream_event(struct mw_bytes *out, const char *data, size_t len)
{
	_cleanup_free_ char *enc = NULL;
	struct sse_message m = { .event = "message", .event_len = 7, .data = data, .data_len = len,
				 .retry = -1 };
	size_t enc_len;
	int r = sse_encode_alloc(&m, &enc, &enc_len);

	return r ?: hold_stream_chunk(out, enc, enc_len);
}

int hold_stream_end(struct mw_bytes *out)
{
	return bytes_append(out, "0\r\n\r\n", 5);
}

/* An answer in the started stream: one event and the end of the stream. */
static int stream_error_reply(json_t *j, char **ret_buf, size_t *ret_len, char **ret_json,
			      size_t *ret_json_len)
{
	_cleanup_free_ char *json = NULL;
	struct mw_bytes out = {};
	size_t len;
	int r;

	r = mcp_json_dump(j, &json, &len);
	if (r < 0)
		return r;
	r = hold_stream_event(&out, json, len);
	r = r ?: hold_stream_end(&out);
	if (r < 0) {
		bytes_free(&out);
		return r;
	}
	if (ret_json) {
		*ret_json = TAKE_PTR(json);
		*ret_json_len = len;
	}
	*ret_buf = (char *)out.data;
	*ret_len = out.len;
	return 0;
}

static json_t *progress_token(const struct mw_hold *h)
{
	const struct mcp_message *m = h->body && h->body->n == 1 ? &h->body->msgs[0] : NULL;
	json_t *meta = m ? json_object_get(m->params, "_meta") : NULL;
	json_t *t = json_object_get(meta, "progressToken");

	return json_is_string(t) || json_is_integer(t) ? t : NULL;
}

static bool header_safe(const char *s)
{
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			return false;
	return true;
}

bool hold_stream_wanted(const struct mw_hold *h)
{
	return !h->settled && !h->streaming && h->http11 && progress_token(h) &&
	       strcasestr(h->accept, "text/event-stream");
}

int hold_stream_start(struct mw_hold *h, struct mw_bytes *out, char **ret_json,
		      size_t *ret_json_len)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
				   "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n";
	_cleanup_(json_decrefp) json_t *n = NULL;
	_cleanup_free_ char *json = NULL;
	char msg[MW_APPROVAL_ID_LEN + sizeof(h->who) + 64];
	struct mw_bytes b = {};
	size_t len;
	int r;

	snprintf(msg, sizeof(msg), "waiting for approval %s (needs %s)", h->id, h->who);
	n = json_pack("{s:s, s:s, s:{s:O, s:i, s:s}}", "jsonrpc", "2.0", "method",
		      "notifications/progress", "params", "progressToken", progress_token(h),
		      "progress", 0, "message", msg);
	if (!n)
		return -ENOMEM;
	r = mcp_json_dump(n, &json, &len);
	if (r < 0)
		return r;
	r = bytes_append(&b, head, sizeof(head) - 1);
	if (r == 0 && h->session[0] && header_safe(h->session)) {
		r = bytes_append(&b, "Mcp-Session-Id: ", 16);
		r = r ?: bytes_append(&b, h->session, strlen(h->session));
		r = r ?: bytes_append(&b, "\r\n", 2);
	}
	r = r ?: bytes_append(&b, "\r\n", 2);
	r = r ?: hold_stream_event(&b, json, len);
	r = r ?: bytes_append(out, b.data, b.len);
	bytes_free(&b);
	if (r < 0)
		return r;
	h->streaming = true;
	h->w.poke = on_poke;
	h->w.poke_every = h->keepalive_usec;
	h->w.poke_at = mw_now_wall_usec() + h->keepalive_usec;
	if (ret_json) {
		*ret_json = TAKE_PTR(json);
		*ret_json_len = len;
	}
	return 0;
}

int hold_stream_keepalive(struct mw_hold *h, struct mw_bytes *out)
{
	char line[MW_APPROVAL_ID_LEN + 64];
	int n;

	if (!h->streaming || !h->keepalive_due || h->settled)
		return 0;
	h->keepalive_due = false;
	n = snprintf(line, sizeof(line), ": waiting for approval %s\n\n", h->id);
	return hold_stream_chunk(out, line, (size_t)n);
}

char *hold_request_id(const struct mw_hold *h)
{
	json_t *id = h->body && h->body->n == 1 ? json_object_get(h->body->msgs[0].json, "id")
						: NULL;

	return json_dumps(id ? id : json_null(), JSON_ENCODE_ANY | JSON_COMPACT);
}

int hold_error_reply(struct mw_hold *h, char **ret_buf, size_t *ret_len, char **ret_json,
		     size_t *ret_json_len)
{
	_cleanup_(json_decrefp) json_t *j = NULL;
	struct mcp_http_opts o = { .framing = mcp_framing_for_accept(h->accept[0] ? h->accept
										 : NULL),
				   .session_id = h->session[0] ? h->session : NULL };
	struct mcp_denial den = { .rule = h->rule, .approval_id = h->id };
	char reason[MW_APPROVAL_FIELD_MAX + 640];
	const char *msg;
	int code, r;

	if (h->state == MW_APPROVAL_DENIED) {
		code = MCP_ERR_DENIED_APPROVER;
		msg = "denied by approver";
		snprintf(reason, sizeof(reason), "%s", h->reason[0] ? h->reason : "denied");
	} else if (h->state == MW_APPROVAL_PENDING) {
		code = MCP_ERR_APPROVAL_TIMEOUT;
		msg = "approval pending";
		snprintf(reason, sizeof(reason),
			 "approval %s is still pending (needs %s); retry the same call once it is "
			 "approved",
			 h->id, h->who);
	} else {
		code = MCP_ERR_APPROVAL_TIMEOUT;
		msg = "approval timed out";
		snprintf(reason, sizeof(reason), "approval %s %s", h->id,
			 h->reason[0] ? h->reason : "expired before enough approvers decided");
	}
	den.reason = reason;
	r = mcp_error_reply(h->body, code, msg, &den, &j);
	if (r == 0 && h->streaming)
		return stream_error_reply(j, ret_buf, ret_len, ret_json, ret_json_len);
	if (r == 0)
		r = mcp_http_reply(j, &o, ret_buf, ret_len);
	if (r == -EINVAL && o.session_id) {
		o.session_id = NULL;
		r = mcp_http_reply(j, &o, ret_buf, ret_len);
	}
	/* the record holds the JSON-RPC reply, whatever its framing; without it the body is */
	if (r == 0 && ret_json && mcp_json_dump(j, ret_json, ret_json_len) < 0)
		*ret_json_len = 0;
	return r;
}

struct mw_hold *hold_free(struct mw_hold *h)
{
	if (!h)
		return NULL;
	approval_wait_cancel(&h->w);
	mcp_body_free(h->body);
	bytes_free(&h->bytes);
	bytes_free(&h->payload);
	free(h);
	return NULL;
}
