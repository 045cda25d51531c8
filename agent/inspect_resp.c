/* inspect_resp.c: the checkpoint's server side: every message the upstream sends the client
 * passes server_message() (see inspect.h for the framing rules). */
#include <stdio.h>

#include "inspect_priv.h"
#include "inspect_tools.h"
#include "mask.h"
#include "util.h"

enum verdict {
	MSG_KEEP,    /* forward the bytes as received */
	MSG_REPLACE, /* forward the new bytes */
	MSG_DROP,    /* forward nothing */
};

void inspect_resp_clear(struct mw_inspect *in)
{
	bytes_free(&in->r.raw);
	bytes_free(&in->r.head);
	bytes_free(&in->r.body);
	in->r.sse = sse_parser_free(in->r.sse);
}

/* --- tools/list ------------------------------------------------------------------------- */

struct list_ctx {
	struct mw_inspect *in;
	const struct slot *s;
};

/* Could this caller ever call the tool?  Asked without arguments: a tool allowed only for
 * some arguments stays listed, its calls are still decided one by one. */
static bool list_allowed(void *userdata, const char *tool)
{
	struct list_ctx *c = userdata;
	struct mw_policy_request req;
	struct mw_policy_decision d;

	inspect_fill_request(c->in, c->s->claims, &req);
	req.method = "tools/call";
	req.tool = tool;
	policy_eval(c->in->env->policy, &req, &d);
	return d.action != MW_POLICY_DENY;
}

static void list_changed(void *userdata, const char *tool)
{
	struct list_ctx *c = userdata;

	inspect_report(c->in, c->s->claims, c->in->r.session, "tools/list", tool, "flagged",
		       "(tool definition changed)",
		       "the server changed this tool's definition since it first listed it");
}

/* --- one message -------------------------------------------------------------------------- */

/* Could these bytes hold a JSON-RPC request?  A request has a "method" member; the only way
 * to spell that key otherwise is with \u escapes.  False positives only cost a parse. */
static bool may_hold_request(const char *p, size_t len)
{
	const char *end = p + len, *q = p;

	if (memmem(p, len, "\"method\"", 8))
		return true;
	while ((q = memchr(q, '\\', (size_t)(end - q))) && q + 1 < end) {
		if (q[1] == 'u')
			return true;
		q += 2; /* an escape is two bytes at least: \\ is not the start of \u */
	}
	return false;
}

/* --- masking ---------------------------------------------------------------------------- */

/* The profile a rule names (NULL: none).  -ENOENT: named but unknown (the configuration
 * checks every rule's profile; a masker missing here fails closed). */
static int profile_get(const struct mw_inspect *in, const char *name,
		       const struct mw_mask_profile **ret)
{
	*ret = NULL;
	if (!name)
		return 0;
	*ret = in->env->masker ? mask_profile(in->env->masker, name) : NULL;
	return *ret ? 0 : -ENOENT;
}

/* Mask msg (edited in place) with p: 1 when it changed, 0 when not, -errno on failure (the
 * message is then not forwarded). */
static int server_message_mask(struct mcp_message *msg, const struct mw_mask_profile *p,
			       struct mw_mask_summary *sum)
{
	int r = mask_message(p, msg->json, sum);

	return r < 0 ? r : r > 0;
}

/* A message that could not be masked: a response becomes a JSON-RPC error with its id (the
 * client's request is answered, nothing of the result goes); 1 when rewritten, 0 when the
 * message must be dropped (no id to answer). */
static int server_message_unmaskable(struct mcp_message *m)
{
	json_t *id = json_object_get(m->json, "id");

	if ((m->kind != MCP_RESULT && m->kind != MCP_ERROR) || !id)
		return 0;
	json_incref(id);
	json_object_clear(m->json);
	json_object_set_new(m->json, "jsonrpc", json_string("2.0"));
	json_object_set_new(m->json, "id", id);
	json_object_set_new(m->json, "error",
			    json_pack("{s:i, s:s}", "code", MCP_ERR_INTERNAL, "message",
				      "the reply could not be masked"));
	return 1;
}

/* Once per masked message: the summary, never a value. */
static void report_masked(struct mw_inspect *in, const struct slot *s, const struct mcp_message *m,
			  const struct mw_mask_summary *sum)
{
	const struct mw_jwt_claims *c = s ? s->claims : NULL;
	char groups[1024] = "", text[256], paths[MW_MASK_MAX_PATHS * MW_MASK_MAX_PATH + 8] = "";
	struct mw_inspect_event ev;
	size_t n = 0;

	if (!in->report)
		return;
	for (size_t i = 0; c && i < c->n_groups && n < sizeof(groups); i++)
		n += (size_t)snprintf(groups + n, sizeof(groups) - n, "%s%s", i ? "," : "",
				      c->groups[i]);
	mask_summary_format(sum, text, sizeof(text));
	n = 0;
	for (unsigned i = 0; i < sum->n_paths && n < sizeof(paths); i++)
		n += (size_t)snprintf(paths + n, sizeof(paths) - n, "%s%s", i ? " " : "",
				      sum->paths[i]);
	if (sum->paths_truncated && n < sizeof(paths))
		snprintf(paths + n, sizeof(paths) - n, " ...");
	ev = (struct mw_inspect_event){
		.sub = c ? c->sub : "",
		.groups = groups,
		.token_sha256 = c ? c->token_sha256 : "",
		.method = m->method ? m->method : s ? s->method : "",
		.tool = m->method ? "" : s ? s->tool : "",
		.decision = "masked",
		.rule = "",
		.reason = "",
		.session = in->r.session,
		.masked = text,
		.masked_paths = paths,
	};
	in->report(in->userdata, &ev);
}

/* Pairing: where s's stream finds its requests ("" none). */
static const char *pair_key(const struct mw_inspect *in, const struct slot *s)
{
	return s ? s->pair_key : in->r.session;
}

void inspect_pairs_note(struct mw_inspect *in, struct slot *s, const struct mcp_body *body,
			const char *mask)
{
	const char *sub = s->claims ? s->claims->sub : "-";

	if (!in->env->pairs)
		return;
	s->get_stream = in->method == HTTP1_M_GET;
	if (s->session[0])
		snprintf(s->pair_key, sizeof(s->pair_key), "%s", s->session);
	else /* no session (2026-07-28): workload, target and subject, as mcp.h recommends */
		snprintf(s->pair_key, sizeof(s->pair_key), "%s|%s|%s",
			 in->flow.cgroup ? in->flow.cgroup : "", in->server, sub);
	for (size_t i = 0; body && i < body->n; i++)
		if (body->msgs[i].kind == MCP_REQUEST && body->msgs[i].id.type != MCP_ID_NONE &&
		    body->msgs[i].id.type != MCP_ID_NULL)
			inspect_pairs_add(in->env->pairs, s->pair_key, &body->msgs[i], mask);
}

/* The profile a message from the server is masked with (NULL: none).  *ret_name: for
 * reports.  s: the request this stream answers (NULL: unknown). */
static int message_profile(struct mw_inspect *in, const struct slot *s, const struct mcp_message *m,
			   const char *s2c_mask, const struct mw_mask_profile **ret)
{
	bool stream = !s || s->get_stream; /* may carry what others asked */
	const char *name;

	if (m->kind == MCP_REQUEST)
		return profile_get(in, s2c_mask, ret);
	if (!in->env->pairs)
		return profile_get(in, s ? s->mask : NULL, ret);
	if ((m->kind == MCP_RESULT || m->kind == MCP_ERROR) &&
	    inspect_pairs_match(in->env->pairs, pair_key(in, s), m, &name) == 0)
		return profile_get(in, name, ret);
	if (!stream)
		return profile_get(in, s->mask, ret);
	/* a GET stream: a response whose request is unknown here, or a notification */
	*ret = mask_journal_profile(in->env->masker);
	return 0;
}

/* A server-to-client request: may it reach the client?  *ret_mask: its rule's profile. */
static bool s2c_allowed(struct mw_inspect *in, const struct slot *s, const struct mcp_message *m,
			const char **ret_mask)
{
	struct mw_policy_request req;
	struct mw_policy_decision d;
	const char *reason;

	inspect_fill_request(in, s ? s->claims : NULL, &req);
	req.method = m->method;
	req.args = m->params;
	policy_eval(in->env->policy, &req, &d);
	*ret_mask = d.mask;
	if (d.action == MW_POLICY_ALLOW) {
		inspect_report(in, s ? s->claims : NULL, in->r.session, m->method, NULL, "allow",
			       d.rule_name, d.reason);
		return true;
	}
	reason = d.action == MW_POLICY_REVIEW ? "approval required (not available for requests "
						"from the server)"
					      : d.reason;
	inspect_report(in, s ? s->claims : NULL, in->r.session, m->method, NULL, "deny",
		       d.rule_name, reason);
	return false;
}

/* A body or event that is not JSON-RPC (an error page, a gateway's own JSON) while a profile
 * applies: masked as text (mask_text() keeps JSON as JSON); dropped when it cannot be. */
static int server_text_mask(struct mw_inspect *in, const struct slot *s, const char *data,
			    size_t len, char **ret_new, size_t *ret_len, struct mw_mask_summary *sum)
{
	const struct mw_mask_profile *p = NULL;
	int r = s && s->mask && !s->get_stream ? profile_get(in, s->mask, &p) : 0;

	if (r == 0 && !p)
		p = mask_journal_profile(in->env->masker);
	if (r == 0 && p)
		r = mask_text(p, data, len, ret_new, ret_len, sum);
	if (r < 0) {
		inspect_report(in, s ? s->claims : NULL, in->r.session, s ? s->method : NULL,
			       s ? s->tool : NULL, "deny", "(masking failed)",
			       "the reply could not be masked");
		return MSG_DROP;
	}
	return r > 0 ? MSG_REPLACE : MSG_KEEP;
}

/* Every JSON-RPC message (body) the server sends the client: keep, rewrite or drop it.
 * s is the forwarded request it answers (NULL: none known).  On MSG_REPLACE *ret_new is
 * malloc'd.  *sum gets what was masked. */
static int server_message(struct mw_inspect *in, const struct slot *s, const char *data, size_t len,
			  char **ret_new, size_t *ret_len, struct mw_mask_summary *sum)
{
	_cleanup_(mcp_body_freep) struct mcp_body *b = NULL;
	bool suspect = may_hold_request(data, len), tools = s && s->tools_list;
	bool pair = in->env->pairs && (!s || s->get_stream);
	bool changed = false, dropped = false, denied[MCP_MAX_BATCH_DEFAULT] = {};
	struct mcp_parse_error perr;
	int r;

	/* fast path: nothing to decide, filter or mask */
	if (!suspect && !tools && !(s && s->mask) && !pair)
		return MSG_KEEP;
	r = mcp_parse(data, len, MCP_FROM_SERVER, NULL, &b, &perr);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		if (!suspect && !pair && !(s && s->mask))
			return MSG_KEEP; /* not JSON-RPC, and no request in it: not ours */
		if (!suspect) /* not JSON-RPC, but a profile applies: masked as text */
			return server_text_mask(in, s, data, len, ret_new, ret_len, sum);
		inspect_report(in, s ? s->claims : NULL, in->r.session, NULL, NULL, "malformed",
			       NULL, "an unreadable message from the server was not forwarded");
		return MSG_DROP;
	}
	if (tools) {
		struct list_ctx c = { in, s };

		r = tools_rewrite_body(b, tool_tables_get(in->env, in->server), list_allowed,
				       list_changed, &c);
		if (r < 0)
			return r;
		changed |= r > 0;
	}
	for (size_t i = 0; i < b->n; i++) {
		struct mcp_message *m = &b->msgs[i];
		const struct mw_mask_profile *p = NULL;
		const char *s2c_mask = NULL;
		struct mw_mask_summary one = {};

		if (m->kind == MCP_REQUEST && !s2c_allowed(in, s, m, &s2c_mask)) {
			denied[i] = dropped = true;
			continue;
		}
		r = message_profile(in, s, m, s2c_mask, &p);
		if (r == 0 && p)
			r = server_message_mask(m, p, &one);
		if (r < 0) {
			inspect_report(in, s ? s->claims : NULL, in->r.session,
				       m->method ? m->method : s ? s->method : NULL,
				       m->method ? NULL : s ? s->tool : NULL, "deny",
				       "(masking failed)",
				       r == -EFBIG   ? "the reply is too large to mask"
				       : r == -ELOOP ? "the reply is nested too deeply to mask"
						     : "the reply could not be masked");
			if (server_message_unmaskable(m) == 0)
				denied[i] = dropped = true;
			changed = true;
			continue;
		}
		if (r > 0) {
			report_masked(in, s, m, &one);
			mask_summary_merge(sum, &one);
			changed = true;
		}
	}
	for (size_t i = b->n; b->batch && i-- > 0;)
		if (denied[i])
			json_array_remove(b->root, i);
	if (dropped && (!b->batch || json_array_size(b->root) == 0))
		return MSG_DROP;
	if (!changed && !dropped)
		return MSG_KEEP;
	r = mcp_body_dump(b, ret_new, ret_len);
	return r < 0 ? r : MSG_REPLACE;
}

/* A forwarded payload, recorded before it is queued. */
static void record_out(struct mw_inspect *in, const struct slot *s, const char *p, size_t len,
		       const struct mw_mask_summary *sum)
{
	char masked[256];

	struct mw_inspect_record rec = {
		.to_client = true,
		.session = in->r.session,
		.method = s ? s->method : "",
		.tool = s ? s->tool : "",
		.status = in->r.status,
		.payload = (const uint8_t *)p,
		.len = len,
		.masked = masked,
	};

	mask_summary_format(sum, masked, sizeof(masked));
	if (in->record)
		inspect_record(in, &rec);
}

/* The forwarded request the response being received answers (NULL: none known). */
static const struct slot *cur_slot(const struct mw_inspect *in)
{
	return in->first && !in->first->reply && !in->first->hold ? in->first : NULL;
}

/* A 1xx for a call whose SSE reply is started: it has no place in that stream. */
static bool interim_for_stream(const struct mw_inspect *in)
{
	return cur_slot(in) && cur_slot(in)->streamed && in->r.status < 200;
}

/* --- framing ------------------------------------------------------------------------------ */

/* The head of a held body: status line and fields without Content-Length and
 * Transfer-Encoding (the caller adds the new length). */
static int head_rebuild(struct mw_inspect *in, const struct http1_head *h)
{
	char line[256];
	int n, r;

	in->r.head.len = 0;
	/* the reason phrase is the upstream's, unbounded but for the head limit: cut it so
	 * the line fits (n is what was written, not what snprintf wanted) */
	n = snprintf(line, sizeof(line), "HTTP/1.%d %d %.*s\r\n", h->version_minor, h->status,
		     (int)(h->reason.len < 200 ? h->reason.len : 200), h->reason.p);
	r = bytes_append(&in->r.head, line, (size_t)n);
	for (size_t i = 0; r == 0 && i < h->n_headers; i++) {
		const struct http1_header *f = &h->headers[i];

		if (http1_str_eq_ci(f->name, "content-length") ||
		    http1_str_eq_ci(f->name, "transfer-encoding"))
			continue;
		r = bytes_append(&in->r.head, f->name.p, f->name.len);
		r = r ?: bytes_append(&in->r.head, ": ", 2);
		r = r ?: bytes_append(&in->r.head, f->value.p, f->value.len);
		r = r ?: bytes_append(&in->r.head, "\r\n", 2);
	}
	return r;
}

/* --- a started stream's answer (slot->streamed, inspect_hold.h) ----------------------------- */

/* The upstream's body as one event (none when empty), then the end of the stream. */
static int events_body(const void *body, size_t len, struct mw_bytes *to_client)
{
	int r = len ? hold_stream_event(to_client, body, len) : 0;

	return r ?: hold_stream_end(to_client);
}

/* The upstream did not answer 200 with JSON or SSE: an error event, then the end. */
static int events_error(struct mw_inspect *in, struct mw_bytes *to_client)
{
	const struct slot *s = cur_slot(in);
	char json[256];
	int n = snprintf(json, sizeof(json),
			 "{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":{\"code\":%d,\"message\":"
			 "\"the upstream answered HTTP %d\"}}",
			 s && s->stream_id && strlen(s->stream_id) < 160 ? s->stream_id : "null",
			 MCP_ERR_INTERNAL, in->r.status);
	struct mw_inspect_record rec = {
		.to_client = true,
		.own = true,
		.session = in->r.session,
		.method = s ? s->method : "",
		.tool = s ? s->tool : "",
		.status = 200,
		.payload = (const uint8_t *)json,
		.len = (size_t)n,
		.masked = "",
	};

	inspect_record(in, &rec);
	return events_body(json, (size_t)n, to_client);
}

static int emit_held(struct mw_inspect *in, const void *body, size_t len,
		     struct mw_bytes *to_client)
{
	char cl[64];
	int r;

	if (in->r.events)
		return events_body(body, len, to_client);

	snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n\r\n", len);
	r = bytes_append(to_client, in->r.head.data, in->r.head.len);
	r = r ?: bytes_append(to_client, cl, strlen(cl));
	return r ?: bytes_append(to_client, body, len);
}

/* A body too large to hold: the client gets a 502 instead, and the connection ends. */
static int refuse_too_large(struct mw_inspect *in, struct mw_bytes *to_client)
{
	static const char text[] = "the upstream response is too large to inspect\n";
	char buf[256];
	int n = snprintf(buf, sizeof(buf),
			 "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			 sizeof(text) - 1, text);
	struct mw_inspect_record rec = {
		.to_client = true,
		.own = true,
		.session = in->r.session,
		.method = cur_slot(in) ? cur_slot(in)->method : "",
		.tool = cur_slot(in) ? cur_slot(in)->tool : "",
		.status = 502,
		.payload = (const uint8_t *)text,
		.len = sizeof(text) - 1,
		.masked = "",
	};

	inspect_report(in, cur_slot(in) ? cur_slot(in)->claims : NULL, in->r.session, rec.method,
		       rec.tool, "malformed", NULL, "upstream response too large to inspect");
	inspect_record(in, &rec);
	in->r.dead = true;
	in->closing = true;
	bytes_free(&in->r.body);
	return bytes_append(to_client, buf, (size_t)n);
}

/* Where the response's events go: a chunk each, the held body, or as they are. */
static int sse_out(struct mw_inspect *in, const void *p, size_t len, bool crlf_fix,
		   struct mw_bytes *to_client)
{
	struct mw_bytes *o = in->r.hold ? &in->r.body : to_client;
	size_t n = len + crlf_fix;
	char line[32];
	int r = 0;

	if (!n)
		return 0;
	if (in->r.chunked) {
		snprintf(line, sizeof(line), "%zx\r\n", n);
		r = bytes_append(o, line, strlen(line));
	}
	r = r ?: bytes_append(o, p, len);
	if (crlf_fix)
		r = r ?: bytes_append(o, "\n", 1);
	if (in->r.chunked)
		r = r ?: bytes_append(o, "\r\n", 2);
	return r;
}

/* One whole SSE block. */
static int sse_block(struct mw_inspect *in, const struct sse_event *ev, struct mw_bytes *to_client)
{
	_cleanup_free_ char *json = NULL, *enc = NULL;
	struct mw_mask_summary sum = {};
	struct sse_message m;
	size_t len, enc_len;
	int v, r;

	/* a block that ended at the CR of a CRLF: its LF is counted in the next block, not
	 * in its raw bytes; write it here so that the client gets the line ends as sent */
	bool fix = ev->raw_len && ev->raw[ev->raw_len - 1] == '\r';

	if (!(ev->flags & SSE_EV_DISPATCH) || !ev->msg.data_len) /* priming, comments, retry */
		return sse_out(in, ev->raw, ev->raw_len, fix, to_client);
	v = server_message(in, cur_slot(in), ev->msg.data, ev->msg.data_len, &json, &len, &sum);
	if (v < 0)
		return v;
	if (v == MSG_KEEP) {
		record_out(in, cur_slot(in), ev->msg.data, ev->msg.data_len, &sum);
		return sse_out(in, ev->raw, ev->raw_len, fix, to_client);
	}
	m = ev->msg;
	m.comment = NULL;
	if (v == MSG_DROP) {
		if (!(ev->flags & (SSE_EV_HAS_ID | SSE_EV_HAS_RETRY)))
			return 0;
		m.event = m.data = NULL; /* keep the stream's last event ID and retry */
		m.event_len = m.data_len = 0;
	} else {
		m.data = json;
		m.data_len = len;
	}
	r = sse_encode_alloc(&m, &enc, &enc_len);
	if (r < 0)
		return r;
	if (v == MSG_REPLACE)
		record_out(in, cur_slot(in), json, len, &sum);
	return sse_out(in, enc, enc_len, false, to_client);
}

static int sse_feed(struct mw_inspect *in, const uint8_t *p, size_t len, struct mw_bytes *to_client)
{
	while (len > 0) {
		struct sse_event ev;
		int r = sse_parse(in->r.sse, p, len, &ev);

		if (r < 0)
			return r == -E2BIG ? -EMSGSIZE : r;
		p += ev.consumed;
		len -= ev.consumed;
		if (r == 0)
			break;
		r = sse_block(in, &ev, to_client);
		if (r < 0)
			return r;
	}
	return 0;
}

/* --- responses ---------------------------------------------------------------------------- */

static bool has_type(const struct http1_head *h, const char *type)
{
	const struct http1_header *f = http1_find(h->headers, h->n_headers, "content-type", NULL);

	return f && memmem(f->value.p, f->value.len, type, strlen(type));
}

/* A response head is whole: choose how its body reaches the client. */
static int resp_start(struct mw_inspect *in)
{
	const struct http1_head *h = http1_parser_head(in->resp);
	const struct http1_header *f;
	struct sse_limits lim = { MW_INSPECT_MAX_EVENT };
	int r;

	in->r.mode = RESP_PASS;
	in->r.chunked = in->r.hold = false;
	in->r.events = cur_slot(in) && cur_slot(in)->streamed;
	in->r.status = h->status;
	in->r.body.len = in->r.held_in = 0;
	in->r.sse = sse_parser_free(in->r.sse);
	f = http1_find(h->headers, h->n_headers, "mcp-session-id", NULL);
	if (f && f->value.len < sizeof(in->r.session))
		snprintf(in->r.session, sizeof(in->r.session), "%.*s", (int)f->value.len,
			 f->value.p);
	else
		snprintf(in->r.session, sizeof(in->r.session), "%s",
			 in->first ? in->first->session : "");
	if (h->flags & HTTP1_HEAD_INTERIM)
		in->r.events = false; /* a 1xx: not for a started stream, dropped below */
	if (h->flags & (HTTP1_HEAD_INTERIM | HTTP1_HEAD_NO_BODY | HTTP1_HEAD_TUNNEL))
		return 0;
	if (has_type(h, "text/event-stream")) {
		r = sse_parser_new(&lim, &in->r.sse);
		if (r < 0)
			return r;
		in->r.mode = RESP_SSE;
		in->r.chunked = h->flags & HTTP1_HEAD_CHUNKED;
		in->r.hold = h->flags & HTTP1_HEAD_CONTENT_LENGTH;
	} else if (has_type(h, "json") && !(h->flags & HTTP1_HEAD_UNTIL_CLOSE)) {
		in->r.mode = RESP_JSON;
	}
	if (in->r.events && (h->status != 200 || in->r.mode == RESP_PASS)) {
		in->r.mode = RESP_PASS; /* not passed: answered by events_error() when done */
		in->r.sse = sse_parser_free(in->r.sse);
	} else if (in->r.events && in->r.mode == RESP_SSE) {
		in->r.chunked = true; /* its events go into the started stream's chunks */
		in->r.hold = false;
		return 0;
	}
	if (in->r.mode == RESP_JSON || in->r.hold)
		return head_rebuild(in, h);
	return 0;
}

/* The response is complete. */
static int resp_finish(struct mw_inspect *in, struct mw_bytes *to_client)
{
	_cleanup_free_ char *json = NULL;
	struct mw_mask_summary sum = {};
	size_t len;
	int v;

	if (in->r.events && in->r.mode == RESP_PASS)
		return events_error(in, to_client);
	if (in->r.mode == RESP_SSE) {
		/* an unterminated last block is never dispatched by a client: not sent */
		if (in->r.chunked)
			return bytes_append(to_client, "0\r\n\r\n", 5);
		if (in->r.hold)
			return emit_held(in, in->r.body.data, in->r.body.len, to_client);
		return 0;
	}
	if (in->r.mode != RESP_JSON)
		return 0;
	v = server_message(in, cur_slot(in), (const char *)in->r.body.data, in->r.body.len, &json,
			   &len, &sum);
	if (v < 0)
		return v;
	if (v == MSG_DROP) /* it held only requests the client may not see */
		return emit_held(in, "", 0, to_client);
	if (v == MSG_KEEP) {
		record_out(in, cur_slot(in), (const char *)in->r.body.data, in->r.body.len, &sum);
		return emit_held(in, in->r.body.data, in->r.body.len, to_client);
	}
	record_out(in, cur_slot(in), json, len, &sum);
	return emit_held(in, json, len, to_client);
}

/* One parser event's bytes (buf, ev->consumed) on their way. */
static int resp_event(struct mw_inspect *in, const uint8_t *buf, const struct http1_event *ev,
		      struct mw_bytes *to_client)
{
	int r = 0;

	if (in->r.mode == RESP_HEAD) {
		/* held until the head is whole: a rebuilt head replaces it for held bodies */
		r = bytes_append(&in->r.raw, buf, ev->consumed);
		if (r < 0 || ev->type != HTTP1_EV_HEAD)
			return r;
		r = resp_start(in);
		if (r == 0 && !in->r.events && !interim_for_stream(in) &&
		    (in->r.mode == RESP_PASS || (in->r.mode == RESP_SSE && !in->r.hold)))
			r = bytes_append(to_client, in->r.raw.data, in->r.raw.len);
		in->r.raw.len = 0;
		return r;
	} else if (in->r.mode == RESP_PASS) {
		if (!in->r.events && !interim_for_stream(in)) /* else: dropped */
			r = bytes_append(to_client, buf, ev->consumed);
	} else if (ev->type == HTTP1_EV_BODY && in->r.mode == RESP_JSON) {
		if (in->r.body.len + ev->len > MW_INSPECT_MAX_RESPONSE)
			return refuse_too_large(in, to_client);
		r = bytes_append(&in->r.body, ev->data, ev->len);
	} else if (ev->type == HTTP1_EV_BODY) {
		if (in->r.hold && (in->r.held_in += ev->len) > MW_INSPECT_MAX_RESPONSE)
			return refuse_too_large(in, to_client);
		r = sse_feed(in, ev->data, ev->len, to_client);
	}
	if (r == 0 && ev->type == HTTP1_EV_DONE) {
		r = resp_finish(in, to_client);
		in->r.mode = RESP_HEAD;
		in->r.body.len = 0;
		in->r.sse = sse_parser_free(in->r.sse);
	}
	return r;
}

int inspect_server(struct mw_inspect *in, const uint8_t *buf, size_t len,
		   struct mw_bytes *to_client)
{
	int r;

	for (;;) {
		struct http1_event ev;

		if (in->r.dead)
			return 0; /* refused: a 502 is out, the connection ends */
		if (in->resp_broken)
			return bytes_append(to_client, buf, len);
		r = http1_parse(in->resp, buf, len, &ev);
		if (r < 0) {
			/* not HTTP we can follow: pass it on, and our replies with it */
			in->resp_broken = true;
			/* what was held of the response goes first, as it came */
			r = 0;
			if (in->r.mode == RESP_HEAD && in->r.raw.len)
				r = bytes_append(to_client, in->r.raw.data, in->r.raw.len);
			if (r < 0)
				return r;
			/* no forwarded request will be counted answered now: drop them all, or
			 * the replies queued behind a later one would wait forever */
			for (struct slot **pp = &in->first, *s; (s = *pp);) {
				if (s->reply || s->hold) { /* a held call is settled later */
					pp = &s->next;
					continue;
				}
				*pp = s->next;
				inspect_slot_free(s);
			}
			in->last = NULL;
			for (struct slot *s = in->first; s; s = s->next)
				in->last = s;
			r = inspect_slots_flush(in, to_client);
			if (r < 0)
				return r;
			continue;
		}
		r = resp_event(in, buf, &ev, to_client);
		if (r < 0)
			return r;
		if (in->r.dead)
			return 0;
		buf += ev.consumed;
		len -= ev.consumed;
		if (ev.type == HTTP1_EV_NONE)
			return 0;
		if (ev.type == HTTP1_EV_DONE && !(ev.flags & HTTP1_DONE_INTERIM) && in->first &&
		    !in->first->reply && !in->first->hold) {
			struct slot *s = in->first;

			in->first = s->next;
			if (!in->first)
				in->last = NULL;
			inspect_slot_free(s);
			r = inspect_slots_flush(in, to_client);
			if (r < 0)
				return r;
		}
	}
}
