/* inspect.c: see inspect.h. */
#include "inspect.h"

#include <stdio.h>
#include <time.h>

#include "inject.h"
#include "inspect_hold.h"
#include "inspect_priv.h"
#include "inspect_tools.h"
#include "mask.h"
#include "oidc.h"
#include "util.h"

#define INSPECT_MAX_TOKEN MW_JWT_MAX_TOKEN_BYTES

void inspect_slot_free(struct slot *s)
{
	hold_free(s->hold);
	free(s->stream_id);
	free(s->reply);
	jwt_claims_free(s->claims);
	free(s);
}

struct mw_inspect_env *inspect_env_ref(struct mw_inspect_env *e)
{
	if (e)
		__atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
	return e;
}

struct mw_inspect_env *inspect_env_unref(struct mw_inspect_env *e)
{
	if (!e || __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return NULL;
	policy_unref(e->policy);
	oidc_free(e->oidc);
	tool_tables_free(e->tools);
	mask_free(e->masker);
	inspect_pairs_free(e->pairs);
	free(e->justification_arg);
	free(e);
	return NULL;
}

int bytes_append(struct mw_bytes *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		uint8_t *d;

		while (cap < b->len + n)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d)
			return -ENOMEM;
		b->data = d;
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

void bytes_consume(struct mw_bytes *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

void bytes_free(struct mw_bytes *b)
{
	free(b->data);
	*b = (struct mw_bytes){};
}

void bytes_wipe(struct mw_bytes *b)
{
	if (b->data)
		explicit_bzero(b->data, b->cap);
	bytes_free(b);
}

static void copy_field(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

int inspect_new(struct mw_inspect_env *env, const struct mw_inspect_flow *flow,
		mw_inspect_report_fn report, void *userdata, struct mw_inspect **ret)
{
	struct mw_inspect *in = calloc(1, sizeof(*in));
	int r;

	if (!in)
		return -ENOMEM;
	in->env = inspect_env_ref(env);
	copy_field(in->unit, sizeof(in->unit), flow->unit);
	copy_field(in->comm, sizeof(in->comm), flow->comm);
	copy_field(in->cgroup, sizeof(in->cgroup), flow->cgroup);
	copy_field(in->host, sizeof(in->host), flow->host);
	in->flow = *flow;
	in->flow.unit = in->unit[0] ? in->unit : NULL;
	in->flow.comm = in->comm[0] ? in->comm : NULL;
	in->flow.cgroup = in->cgroup[0] ? in->cgroup : NULL;
	in->flow.host = in->host[0] ? in->host : NULL;
	in->report = report;
	in->userdata = userdata;
	snprintf(in->server, sizeof(in->server),
		 flow->host && strchr(flow->host, ':') ? "[%s]:%u" : "%s:%u", in->host, flow->port);
	r = http1_parser_new(HTTP1_REQUEST, NULL, &in->req);
	if (r == 0)
		r = http1_parser_new(HTTP1_RESPONSE, NULL, &in->resp);
	if (r < 0) {
		inspect_free(in);
		return r;
	}
	*ret = in;
	return 0;
}

static void token_clear(struct mw_inspect *in)
{
	if (in->token) {
		explicit_bzero(in->token, strlen(in->token));
		free(in->token);
	}
	in->token = NULL;
	in->token_present = false;
}

struct mw_inspect *inspect_free(struct mw_inspect *in)
{
	if (!in)
		return NULL;
	while (in->first) {
		struct slot *s = in->first;

		in->first = s->next;
		inspect_slot_free(s);
	}
	token_clear(in);
	free(in->hdr_method);
	free(in->hdr_name);
	inspect_resp_clear(in);
	http1_parser_free(in->req);
	http1_parser_free(in->resp);
	bytes_free(&in->held);
	bytes_free(&in->body);
	bytes_free(&in->later);
	inspect_env_unref(in->env);
	free(in);
	return NULL;
}

void inspect_set_recorder(struct mw_inspect *in, mw_inspect_record_fn fn)
{
	in->record = fn;
}

bool inspect_closing(const struct mw_inspect *in)
{
	return in->closing;
}

size_t inspect_held(const struct mw_inspect *in)
{
	return in->held.len;
}

static int slot_push(struct mw_inspect *in, char *reply, size_t len)
{
	struct slot *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->reply = reply;
	s->len = len;
	if (in->last)
		in->last->next = s;
	else
		in->first = s;
	in->last = s;
	return 0;
}

/* A held call now at the head of the queue whose client may hear of it: its SSE reply starts
 * (recorded as our own), and its answer will be events in that stream. */
static int stream_start(struct mw_inspect *in, struct slot *s, struct mw_bytes *to_client)
{
	_cleanup_free_ char *json = NULL;
	size_t json_len = 0;
	int r;

	if (s->streamed || !hold_stream_wanted(s->hold))
		return 0;
	r = hold_stream_start(s->hold, to_client, &json, &json_len);
	if (r < 0)
		return r;
	s->streamed = true;
	s->stream_id = hold_request_id(s->hold);
	if (in->record) {
		struct mw_inspect_record rec = {
			.to_client = true,
			.own = true,
			.session = s->session,
			.method = s->method,
			.tool = s->tool,
			.status = 200,
			.payload = (const uint8_t *)json,
			.len = json_len,
			.masked = "",
		};

		in->record(in->userdata, &rec);
	}
	return 0;
}

/* Replies at the head of the queue go out now; a held call reaching the head may start its
 * reply. */
int inspect_slots_flush(struct mw_inspect *in, struct mw_bytes *to_client)
{
	while (in->first && (in->first->reply || in->first->hold)) {
		struct slot *s = in->first;
		int r;

		if (!s->reply)
			return stream_start(in, s, to_client);
		r = bytes_append(to_client, s->reply, s->len);
		if (r < 0)
			return r;
		in->first = s->next;
		if (!in->first)
			in->last = NULL;
		in->closing |= s->close_after;
		inspect_slot_free(s);
	}
	return 0;
}

void inspect_record(struct mw_inspect *in, const struct mw_inspect_record *rec)
{
	if (in->record)
		in->record(in->userdata, rec);
}

/* A reply the agent writes itself, for the session journal: its JSON-RPC payload (json, or
 * when NULL the HTTP body of buf as written) with the status of buf. */
static void record_own_for(struct mw_inspect *in, const char *session, const char *method,
			   const char *tool, const char *buf, size_t len, const char *json,
			   size_t json_len)
{
	const char *body = memmem(buf, len, "\r\n\r\n", 4);
	struct mw_inspect_record rec = {
		.to_client = true,
		.own = true,
		.session = session,
		.method = method,
		.tool = tool,
		.masked = "",
	};

	if (!in->record)
		return;
	if (len > 12 && memcmp(buf, "HTTP/1.", 7) == 0)
		rec.status = atoi(buf + 9);
	else
		rec.status = 200; /* events in a started stream (inspect_hold.h) */
	if (json) {
		rec.payload = (const uint8_t *)json;
		rec.len = json_len;
	} else if (body) {
		rec.payload = (const uint8_t *)body + 4;
		rec.len = len - (size_t)(body + 4 - buf);
	} else {
		rec.payload = (const uint8_t *)"";
	}
	in->record(in->userdata, &rec);
}

static void record_own(struct mw_inspect *in, const char *buf, size_t len, const char *json,
		       size_t json_len)
{
	record_own_for(in, in->session, in->cur_method ? in->cur_method : "",
		       in->cur_tool ? in->cur_tool : "", buf, len, json, json_len);
}

/* A reply of ours, in its turn: at once when nothing forwarded is still unanswered.  It is
 * recorded now, before it is queued. */
static int reply(struct mw_inspect *in, char *buf, size_t len, const char *json, size_t json_len,
		 struct mw_bytes *to_client)
{
	int r;

	record_own(in, buf, len, json, json_len);
	r = slot_push(in, buf, len);
	in->answered = true;
	if (r < 0) {
		free(buf);
		return r;
	}
	return inspect_slots_flush(in, to_client);
}

static void report_ev(struct mw_inspect *in, const struct mw_jwt_claims *claims,
		      const char *session, const char *method, const char *tool,
		      const char *decision, const char *rule, const char *reason,
		      const char *approval, const char *approval_event)
{
	char groups[1024] = "";
	struct mw_inspect_event ev;
	size_t n = 0;

	for (size_t i = 0; claims && i < claims->n_groups && n < sizeof(groups); i++)
		n += (size_t)snprintf(groups + n, sizeof(groups) - n, "%s%s", i ? "," : "",
				      claims->groups[i]);
	ev = (struct mw_inspect_event){
		.sub = claims ? claims->sub : "",
		.groups = groups,
		.token_sha256 = claims ? claims->token_sha256 : "",
		.method = method ? method : "",
		.tool = tool ? tool : "",
		.decision = decision,
		.rule = rule ? rule : "",
		.reason = reason ? reason : "",
		.session = session ? session : "",
		.masked = "",
		.approval = approval ? approval : "",
		.approval_event = approval_event ? approval_event : "",
	};
	if (in->report)
		in->report(in->userdata, &ev);
}

void inspect_report(struct mw_inspect *in, const struct mw_jwt_claims *claims,
		    const char *session, const char *method, const char *tool,
		    const char *decision, const char *rule, const char *reason)
{
	report_ev(in, claims, session, method, tool, decision, rule, reason, NULL, NULL);
}

/* A decision on the request being received (its session). */
static void report(struct mw_inspect *in, const struct mw_jwt_claims *claims,
		   const char *method, const char *tool, const char *decision, const char *rule,
		   const char *reason)
{
	inspect_report(in, claims, in->session, method, tool, decision, rule, reason);
}

/* Who asks: a verified token, or none. -EACCES: a token is required or bad. */
static int identify(struct mw_inspect *in, struct mw_jwt_claims **ret, char *why, size_t size)
{
	int r;

	*ret = NULL;
	if (!in->env->oidc && !in->env->require_token)
		return 0; /* no identity configured: tokens are the upstream's business */
	if (!in->token_present) {
		if (!in->env->require_token)
			return 0;
		snprintf(why, size, "a bearer token is required");
		return -EACCES;
	}
	if (!in->env->oidc) {
		snprintf(why, size, "no token issuer is configured");
		return -EACCES;
	}
	r = oidc_verify(in->env->oidc, in->token, strlen(in->token), (uint64_t)time(NULL), ret,
			why, size);
	if (r == -ENOKEY && in->env->keys_wanted)
		in->env->keys_wanted(in->env); /* the IdP may have rotated its keys */
	return r < 0 ? -EACCES : 0;
}

/* The agent's own HTTP error (text/plain, then close) in a new buffer; its length, or -1. */
static int http_error_text(int status, const char *text, char **ret)
{
	return asprintf(ret,
			"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
			"Connection: close\r\n\r\n%s\n",
			status, status == 413 ? "Content Too Large"
				: status == 431 ? "Request Header Fields Too Large"
				: status == 501 ? "Not Implemented"
				: status == 505 ? "HTTP Version Not Supported"
				: status == 503 ? "Service Unavailable"
						: "Bad Request",
			strlen(text) + 1, text);
}

static int reply_http_error(struct mw_inspect *in, int status, const char *text,
			    struct mw_bytes *to_client)
{
	int r;
	char *buf;
	int n = http_error_text(status, text, &buf);

	if (n < 0)
		return -ENOMEM;
	in->refusing = in->answered = true;
	record_own(in, buf, (size_t)n, NULL, 0);
	r = slot_push(in, buf, (size_t)n);
	if (r < 0) {
		free(buf);
		return r;
	}
	in->last->close_after = true;
	return inspect_slots_flush(in, to_client);
}

void inspect_fill_request(struct mw_inspect *in, const struct mw_jwt_claims *c,
			  struct mw_policy_request *req)
{
	*req = (struct mw_policy_request){
		.sub = c ? c->sub : NULL,
		.email = c && c->email[0] ? c->email : NULL,
		.groups = c ? (const char *const *)c->groups : NULL,
		.n_groups = c ? c->n_groups : 0,
		.token_present = c != NULL,
		.workload = { in->flow.unit, in->flow.uid, in->flow.comm, in->flow.cgroup },
		.host = in->flow.host,
		.port = in->flow.port,
		.direction = in->flow.direction,
	};
}

static bool tool_changed(struct mw_inspect *in, const char *tool)
{
	struct mcp_tools *t = tool_tables_get(in->env, in->server);

	return t && mcp_tools_state(t, tool) == MCP_TOOL_CHANGED;
}

/* An allowed request goes upstream as received or, with an upstream credential, with its
 * head rewritten (inject.h).  1: no token yet (oauth, after the relay's bounded wait), the
 * client got a 503 instead. */
static int release(struct mw_inspect *in, struct mw_bytes *to_upstream, struct mw_bytes *to_client)
{
	const struct http1_head *h = http1_parser_head(in->req);
	int r;

	if (!in->flow.cred)
		return bytes_append(to_upstream, in->held.data, in->held.len);
	if (h->head_bytes > in->held.len)
		return -EINVAL;
	r = inject_rewrite_head(in->flow.cred, h, to_upstream);
	if (r == -EAGAIN) {
		r = reply_http_error(in, 503, "the upstream's credential is not available yet",
				     to_client);
		return r < 0 ? r : 1;
	}
	if (r == 0)
		r = bytes_append(to_upstream, in->held.data + h->head_bytes,
				 in->held.len - h->head_bytes);
	return r;
}

/* An approved held request, released later: its head is read again for the rewrite. */
static int release_held(struct mw_inspect *in, const uint8_t *p, size_t n,
			struct mw_bytes *to_upstream)
{
	_cleanup_(http1_parser_freep) struct http1_parser *hp = NULL;
	struct http1_event ev;
	int r;

	if (!in->flow.cred)
		return bytes_append(to_upstream, p, n);
	r = http1_parser_new(HTTP1_REQUEST, NULL, &hp);
	if (r == 0)
		r = http1_parse(hp, p, n, &ev);
	if (r == 0 && (ev.type != HTTP1_EV_HEAD || ev.consumed > n))
		r = -EBADMSG;
	if (r == 0)
		r = inject_rewrite_head(in->flow.cred, http1_parser_head(hp), to_upstream);
	if (r == 0)
		r = bytes_append(to_upstream, p + ev.consumed, n - ev.consumed);
	return r;
}

static bool holding(const struct mw_inspect *in)
{
	for (const struct slot *s = in->first; s; s = s->next)
		if (s->hold)
			return true;
	return false;
}

bool inspect_holding(const struct mw_inspect *in)
{
	return holding(in);
}

static void hold_settled_cb(void *ud)
{
	struct mw_inspect *in = ud;

	if (in->env->wake)
		in->env->wake(in->userdata);
}

/* Review: 1 when a grant or an approval lets the call through, 0 when it is now held (the
 * queue has its slot, the body and the claims are the slot's), -ENOTSUP when it cannot be held (no
 * approvals configured, the registry full), or -errno (the body is gone). */
static int hold_request(struct mw_inspect *in, struct mw_jwt_claims **claims,
			struct mcp_body **body, const struct mcp_message *m,
			const struct mw_policy_decision *d)
{
	struct mw_hold_call c = { *claims, &in->flow, in->server, m, d, in->session };
	char pass[MW_APPROVAL_ID_LEN + 1], why[64];
	struct mw_hold *h = NULL;
	struct slot *s;
	int r;

	r = hold_begin(in->env, &c, hold_settled_cb, in, &h, pass);
	if (r == 1) {
		snprintf(why, sizeof(why), "approved (%s)", pass);
		report(in, *claims, m->method, m->tool, "allow", d->rule_name, why);
		return 1;
	}
	if (r < 0)
		return -ENOTSUP; /* no approvals, or none to be had: answered as a denial */
	r = hold_keep(h, *body, in->held.data, in->held.len, in->body.data, in->body.len,
		      in->method, in->http11, in->accept, in->session);
	*body = NULL;
	if (r == 0)
		r = slot_push(in, NULL, 0);
	if (r < 0) {
		hold_free(h);
		return r;
	}
	s = in->last;
	s->hold = h;
	s->claims = TAKE_PTR(*claims);
	s->mask = d->mask; /* once approved, the review rule's profile masks the reply */
	snprintf(s->method, sizeof(s->method), "%s", m->method ? m->method : "");
	snprintf(s->tool, sizeof(s->tool), "%s", m->tool ? m->tool : "");
	snprintf(s->session, sizeof(s->session), "%s", in->session);
	report_ev(in, s->claims, in->session, s->method, s->tool, "held", d->rule_name,
		  hold_id(h), hold_id(h), "new");
	return 0;
}

/* A held request settled: forward it (approved, recorded as any forwarded request) or put
 * its answer in its slot (recorded as the agent's own reply). */
static int holds_settle(struct mw_inspect *in, struct mw_bytes *to_upstream,
			struct mw_bytes *to_client)
{
	for (struct slot **pp = &in->first, *s; (s = *pp);) {
		const struct mw_bytes *b;
		int r = 0;

		if (s->hold && !hold_settled(s->hold))
			r = hold_stream_keepalive(s->hold, to_client); /* only the head streams */
		if (r < 0)
			return r;
		if (!s->hold || !hold_settled(s->hold)) {
			pp = &s->next;
			continue;
		}
		report_ev(in, s->claims, s->session, s->method, s->tool, hold_outcome(s->hold),
			  hold_rule(s->hold), hold_id(s->hold), hold_id(s->hold),
			  hold_event(s->hold));
		if (hold_approved(s->hold)) {
			const struct mw_bytes *p = hold_payload(s->hold);
			struct mw_inspect_record rec = {
				.session = s->session,
				.method = s->method,
				.tool = s->tool,
				.payload = p->data,
				.len = p->len,
				.masked = "",
			};

			if (p->len > 0)
				inspect_record(in, &rec);
			b = hold_bytes(s->hold);
			r = release_held(in, b->data, b->len, to_upstream);
			if (r == -EAGAIN) { /* approved, but no upstream token now: 503, in order */
				int n = http_error_text(
					503, "the upstream's credential is not available yet", &s->reply);

				if (n < 0) {
					s->reply = NULL;
					return -ENOMEM;
				}
				s->len = (size_t)n;
				s->close_after = in->refusing = in->answered = true;
				record_own_for(in, s->session, s->method, s->tool, s->reply, s->len,
					       NULL, 0);
				s->hold = hold_free(s->hold);
				pp = &s->next;
				continue;
			}
			if (r == 0 && !in->resp_broken)
				r = http1_parser_push_request(in->resp, hold_http_method(s->hold));
			s->close_after = false; /* the upstream's answer decides */
			s->hold = hold_free(s->hold);
			if (r == 0 && in->resp_broken) { /* nothing will count its answer */
				*pp = s->next;
				inspect_slot_free(s);
				continue;
			}
		} else {
			_cleanup_free_ char *json = NULL;
			size_t json_len = 0;

			r = hold_error_reply(s->hold, &s->reply, &s->len,
					     in->record ? &json : NULL, &json_len);
			if (r == 0)
				record_own_for(in, s->session, s->method, s->tool, s->reply,
					       s->len, json, json_len);
			s->hold = hold_free(s->hold);
		}
		if (r < 0)
			return r;
		pp = &s->next;
	}
	in->last = NULL;
	for (struct slot *s = in->first; s; s = s->next)
		in->last = s;
	return inspect_slots_flush(in, to_client);
}

/* A whole request: forward it, or answer it ourselves. */
static int decide_one(struct mw_inspect *in, struct mw_bytes *to_upstream,
		      struct mw_bytes *to_client)
{
	_cleanup_(mcp_body_freep) struct mcp_body *body = NULL;
	struct mw_jwt_claims *claims = NULL;
	struct mcp_parse_error perr;
	struct mw_policy_request req;
	const char *deny_rule = NULL, *deny_reason = NULL;
	const char *mask = NULL;
	bool denied = false, review = false, tools_list = false;
	const struct mcp_message *review_msg = NULL;
	struct mw_policy_decision review_d = {};
	char why[256];
	int r;

	r = identify(in, &claims, why, sizeof(why));
	if (r < 0) {
		char *buf;
		size_t len;

		report(in, NULL, NULL, NULL, "unauthenticated", NULL, why);
		r = mcp_http_unauthorized(why, NULL, false, &buf, &len);
		return r < 0 ? r : reply(in, buf, len, NULL, 0, to_client);
	}
	if (in->method != HTTP1_M_POST && in->body.len > 0) {
		/* MCP sends messages by POST only: a body elsewhere is not read, so not passed */
		report(in, claims, NULL, NULL, "malformed", NULL,
		       "a request body on a method other than POST");
		jwt_claims_free(claims);
		return reply_http_error(in, 400, "a request body is accepted on POST only",
					to_client);
	}
	if (in->method == HTTP1_M_POST && in->body.len > 0) {
		r = mcp_parse_lazy(in->body.data, in->body.len, MCP_FROM_CLIENT, NULL,
				   policy_needs_args_cb, in->env->policy, &body, &perr);
		if (r < 0) {
			report(in, claims, NULL, NULL, "malformed", NULL, perr.text);
			jwt_claims_free(claims);
			return reply_http_error(in, 400, perr.text, to_client);
		}
		if (mcp_check_headers(body, in->hdr_method, in->hdr_name) < 0) {
			static const char hdr[] = "the Mcp-Method or Mcp-Name header does not "
						  "match the body";

			report(in, claims, body->msgs[0].method, body->msgs[0].tool, "malformed",
			       NULL, hdr);
			jwt_claims_free(claims);
			return reply_http_error(in, 400, hdr, to_client);
		}
		inspect_fill_request(in, claims, &req);
		for (size_t i = 0; i < body->n; i++) {
			const struct mcp_message *m = &body->msgs[i];
			struct mw_policy_decision d;

			if (m->kind != MCP_REQUEST && m->kind != MCP_NOTIFICATION)
				continue;
			if (!in->cur_method) {
				in->cur_method = m->method;
				in->cur_tool = m->tool;
			}
			if (m->invalid) {
				/* mcp.h leaves these to the caller to refuse: what policy would
				 * match on (the tool, its arguments) could not be read */
				report(in, claims, m->method, m->tool, "malformed", NULL,
				       m->invalid);
				jwt_claims_free(claims);
				return reply_http_error(in, 400, m->invalid, to_client);
			}
			req.method = m->method;
			req.tool = m->tool;
			req.args = m->arguments;
			if (m->mid == MCP_M_TOOLS_CALL && m->tool && tool_changed(in, m->tool)) {
				static const char rule[] = "(tool definition changed)";
				static const char changed[] = "the tool's definition changed since "
							      "the server first listed it";

				report(in, claims, m->method, m->tool, "deny", rule, changed);
				if (!denied) {
					denied = true;
					deny_rule = rule;
					deny_reason = changed;
				}
				continue;
			}
			if (m->mid == MCP_M_TOOLS_LIST)
				tools_list = true;
			policy_eval(in->env->policy, &req, &d);
			report(in, claims, m->method, m->tool, policy_action_str(d.action),
			       d.rule_name, d.reason);
			if (d.action == MW_POLICY_ALLOW && !mask)
				mask = d.mask; /* the first allowing rule's profile masks the reply */
			if (d.action != MW_POLICY_ALLOW && !denied) {
				denied = true;
				review = d.action == MW_POLICY_REVIEW;
				deny_rule = d.rule_name;
				deny_reason = d.reason;
				review_msg = m;
				review_d = d;
			}
		}
	}
	if (review && body->n == 1 && review_msg->kind == MCP_REQUEST) {
		/* one call for a person to approve: held here, or let through by an approval */
		r = hold_request(in, &claims, &body, review_msg, &review_d);
		if (r != -ENOTSUP) {
			if (r <= 0) {
				jwt_claims_free(claims);
				/* held: its reply may start now if it is at the head */
				return r ?: inspect_slots_flush(in, to_client);
			}
			denied = false; /* passes: forwarded below */
			mask = review_d.mask;
		}
	}
	if (denied) {
		jwt_claims_free(claims);
		claims = NULL;
		struct mcp_denial den = { .rule = deny_rule, .reason = deny_reason };
		struct mcp_http_opts o = { .framing = mcp_framing_for_accept(in->accept),
					   .session_id = in->session[0] ? in->session : NULL };
		_cleanup_(json_decrefp) json_t *j = NULL;
		_cleanup_free_ char *json = NULL;
		size_t len, json_len = 0;
		char *buf;

		r = mcp_error_reply(body, MCP_ERR_DENIED_POLICY,
				    review ? "approval required" : "denied by policy", &den, &j);
		if (r == 0)
			r = mcp_http_reply(j, &o, &buf, &len);
		if (r == -EINVAL && o.session_id) { /* an id that cannot be echoed safely */
			o.session_id = NULL;
			r = mcp_http_reply(j, &o, &buf, &len);
		}
		if (r < 0)
			return r;
		/* the record holds the JSON-RPC reply, whatever its framing */
		if (j && in->record && mcp_json_dump(j, &json, &json_len) < 0)
			json_len = 0;
		return reply(in, buf, len, json, json_len, to_client);
	}
	if (in->body.len > 0) {
		struct mw_inspect_record rec = {
			.session = in->session,
			.method = in->cur_method ? in->cur_method : "",
			.tool = in->cur_tool ? in->cur_tool : "",
			.payload = in->body.data,
			.len = in->body.len,
			.masked = "",
		};

		inspect_record(in, &rec);
	}
	r = release(in, to_upstream, to_client);
	if (r == 1) { /* answered by the agent: no credential to send */
		jwt_claims_free(claims);
		return 0;
	}
	if (r == 0 && !in->resp_broken)
		r = http1_parser_push_request(in->resp, in->method);
	if (r == 0 && !in->resp_broken) {
		r = slot_push(in, NULL, 0);
		if (r == 0) {
			struct slot *s = in->last;

			s->tools_list = tools_list;
			s->claims = TAKE_PTR(claims);
			s->mask = mask;
			snprintf(s->method, sizeof(s->method), "%s",
				 in->cur_method ? in->cur_method : "");
			snprintf(s->tool, sizeof(s->tool), "%s", in->cur_tool ? in->cur_tool : "");
			snprintf(s->session, sizeof(s->session), "%s", in->session);
			inspect_pairs_note(in, s, body, mask);
		}
	}
	jwt_claims_free(claims);
	return r;
}

static int decide(struct mw_inspect *in, struct mw_bytes *to_upstream, struct mw_bytes *to_client)
{
	int r;

	in->cur_method = in->cur_tool = NULL;
	r = decide_one(in, to_upstream, to_client);
	in->cur_method = in->cur_tool = NULL; /* they pointed into the body */
	return r;
}

static void head_copy(struct mw_inspect *in)
{
	const struct http1_head *h = http1_parser_head(in->req);
	const struct http1_header *f;

	in->method = h->method_id;
	in->http11 = h->version_minor == 1;
	token_clear(in);
	in->accept[0] = in->session[0] = 0;
	f = http1_find(h->headers, h->n_headers, "authorization", NULL);
	if (f && f->value.len > 7 && strncasecmp(f->value.p, "Bearer ", 7) == 0 &&
	    f->value.len - 7 <= INSPECT_MAX_TOKEN) {
		in->token = strndup(f->value.p + 7, f->value.len - 7);
		in->token_present = in->token != NULL;
	} else if (f) {
		in->token_present = true; /* present but not a bearer token: invalid */
		in->token = strdup("");
	}
	f = http1_find(h->headers, h->n_headers, "accept", NULL);
	if (f && f->value.len < sizeof(in->accept))
		snprintf(in->accept, sizeof(in->accept), "%.*s", (int)f->value.len, f->value.p);
	f = http1_find(h->headers, h->n_headers, "mcp-session-id", NULL);
	if (f && f->value.len < sizeof(in->session))
		snprintf(in->session, sizeof(in->session), "%.*s", (int)f->value.len, f->value.p);
	free(in->hdr_method);
	free(in->hdr_name);
	f = http1_find(h->headers, h->n_headers, "mcp-method", NULL);
	in->hdr_method = f ? strndup(f->value.p, f->value.len) : NULL;
	f = http1_find(h->headers, h->n_headers, "mcp-name", NULL);
	in->hdr_name = f ? strndup(f->value.p, f->value.len) : NULL;
}

int inspect_client(struct mw_inspect *in, const uint8_t *buf, size_t len,
		   struct mw_bytes *to_upstream, struct mw_bytes *to_client, bool *ret_close)
{
	_cleanup_(bytes_free) struct mw_bytes work = {};
	int r;

	r = holds_settle(in, to_upstream, to_client);
	if (r < 0)
		return r;
	if (holding(in) || in->later.len) {
		/* behind a held request: kept, bounded, and read in order once it is settled */
		if (in->later.len + len > MW_INSPECT_MAX_REQUEST)
			return -ENOBUFS;
		r = bytes_append(&in->later, buf, len);
		if (r < 0 || holding(in)) {
			*ret_close = in->closing;
			return r;
		}
		work = in->later;
		in->later = (struct mw_bytes){};
		buf = work.data;
		len = work.len;
	}
	/* an event can come with no input left (the end of a body): parse until NONE */
	while (!in->refusing) {
		struct http1_event ev;

		r = http1_parse(in->req, buf, len, &ev);
		if (r < 0) {
			enum http1_error e = http1_parser_error(in->req);

			report(in, NULL, NULL, NULL, "malformed", NULL, http1_error_str(e));
			r = reply_http_error(in, http1_error_status(HTTP1_REQUEST, e),
					     http1_error_str(e), to_client);
			break;
		}
		if (in->held.len + ev.consumed > MW_INSPECT_MAX_REQUEST) {
			r = reply_http_error(in, 413, "request too large to hold", to_client);
			break;
		}
		r = bytes_append(&in->held, buf, ev.consumed);
		if (r < 0)
			break;
		buf += ev.consumed;
		len -= ev.consumed;
		if (ev.type == HTTP1_EV_NONE)
			break;
		if (ev.type == HTTP1_EV_HEAD) {
			const struct http1_head *h = http1_parser_head(in->req);

			if (h->flags & HTTP1_HEAD_UPGRADE) {
				r = reply_http_error(in, 501, "protocol upgrades are not inspected",
						     to_client);
				break;
			}
			head_copy(in);
			if (h->flags & HTTP1_HEAD_EXPECT_CONTINUE) {
				/* the request is held until whole: let the client send the body */
				static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

				if (!in->first) /* interim replies only between messages */
					r = bytes_append(to_client, cont, sizeof(cont) - 1);
			}
		} else if (ev.type == HTTP1_EV_BODY) {
			r = bytes_append(&in->body, ev.data, ev.len);
		} else if (ev.type == HTTP1_EV_DONE) {
			in->answered = false;
			r = decide(in, to_upstream, to_client);
			in->held.len = in->body.len = 0;
			token_clear(in);
			if (ev.flags & HTTP1_DONE_CLOSE) {
				/* the client ends here; if we answered this request, so do we,
				 * once the answer is out */
				if (r == 0 && in->answered && in->last && in->last->reply)
					in->last->close_after = true;
				else if (r == 0 && in->answered)
					in->closing = true; /* written already */
				else if (r == 0 && in->last && in->last->hold)
					in->last->close_after = true; /* if we answer it */
				in->refusing = true;
				break;
			}
			if (r == 0 && holding(in)) {
				/* the rest waits until the held request is settled */
				r = bytes_append(&in->later, buf, len);
				break;
			}
		}
		if (r < 0)
			break;
	}
	*ret_close = in->closing;
	return r;
}
