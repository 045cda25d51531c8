/* test_approval_hold.c: the checkpoint holding a request for review (agent/inspect_hold.c
 * through inspect.c): nothing goes upstream while it is held, later requests on the same
 * connection wait behind it, the flow is woken when it is decided, and the answer is the
 * upstream's (approved), -32011 (denied) or -32012 (held past the limit), in order.  The
 * payload records see a released request when it is forwarded, and a denial as the agent's
 * own reply.  A call with a progressToken from a client accepting SSE gets its reply started
 * at once (checked byte for byte: head, progress event, keep-alive comments), and its answer,
 * the upstream's JSON or SSE, an upstream error, a denial or expiry, as events in it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "approval.h"
#include "inject.h"
#include "inspect.h"
#include "policy.h"

static const char policy_text[] =
	"{\"rules\": ["
	"{\"name\": \"drop needs a DBA\", \"match\": {\"method\": \"tools/call\", \"tool\": "
	"\"query\", \"args\": {\"/sql\": {\"sql_class\": [\"destructive\"]}}}, \"action\": "
	"\"review\", \"approvers\": {\"groups\": [\"dba\"]}},"
	"{\"name\": \"rest\", \"action\": \"allow\"}]}";

static const struct mw_inspect_flow flow = {
	.unit = "app.service", .comm = "node", .uid = 1000, .host = "127.0.0.1", .port = 8080,
	.direction = MW_POLICY_DIR_OUTBOUND,
};

struct run {
	struct mw_inspect_env *env;
	struct mw_approvals *reg;
	struct mw_inspect *in;
	struct mw_bytes up, cl;
	bool close;
	int wakes;
	char events[256]; /* approval events reported, "new:ID approved:ID " */
	int n_rec;
	struct {
		bool to_client, own;
		char method[32], tool[32], payload[512];
	} rec[8];
};

static void on_record(void *ud, const struct mw_inspect_record *r)
{
	struct run *t = ud;

	assert_true(t->n_rec < 8);
	t->rec[t->n_rec].to_client = r->to_client;
	t->rec[t->n_rec].own = r->own;
	snprintf(t->rec[t->n_rec].method, 32, "%s", r->method);
	snprintf(t->rec[t->n_rec].tool, 32, "%s", r->tool);
	snprintf(t->rec[t->n_rec].payload, 512, "%.*s", (int)r->len, (const char *)r->payload);
	t->n_rec++;
}

static void on_report(void *ud, const struct mw_inspect_event *ev)
{
	struct run *t = ud;
	size_t n = strlen(t->events);

	if (ev->approval[0])
		snprintf(t->events + n, sizeof(t->events) - n, "%s:%s:%s ", ev->approval_event,
			 ev->approval, ev->tool);
}

static void on_wake(void *ud)
{
	((struct run *)ud)->wakes++;
}

static void run_start_flow(struct run *t, uint64_t hold_usec, const struct mw_inspect_flow *fl);

static void run_start(struct run *t, uint64_t hold_usec)
{
	run_start_flow(t, hold_usec, &flow);
}

static void run_start_flow(struct run *t, uint64_t hold_usec, const struct mw_inspect_flow *fl)
{
	json_t *root = json_loads(policy_text, 0, NULL);
	struct mw_diag d;

	*t = (struct run){};
	assert_non_null(root);
	t->env = calloc(1, sizeof(*t->env));
	t->env->refs = 1;
	assert_int_equal(policy_compile(root, "t.json", NULL, 0, "", &t->env->policy, &d), 0);
	json_decref(root);
	assert_int_equal(approvals_new(600ULL * 1000000, NULL, NULL, &t->reg), 0);
	t->env->approvals = t->reg;
	t->env->hold_usec = hold_usec;
	t->env->keepalive_usec = 5000000;
	t->env->wake = on_wake;
	assert_int_equal(inspect_new(t->env, fl, on_report, t, &t->in), 0);
	inspect_set_recorder(t->in, on_record);
}

static void run_end(struct run *t)
{
	inspect_free(t->in);
	inspect_env_unref(t->env);
	approvals_free(t->reg);
	bytes_free(&t->up);
	bytes_free(&t->cl);
}

static void client(struct run *t, const char *s)
{
	assert_int_equal(inspect_client(t->in, (const uint8_t *)s, s ? strlen(s) : 0, &t->up,
					&t->cl, &t->close),
			 0);
}

static char *post(int id, const char *sql)
{
	char body[512], *req;

	snprintf(body, sizeof(body),
		 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":"
		 "\"query\",\"arguments\":{\"sql\":\"%s\"}}}",
		 id, sql);
	assert_true(asprintf(&req,
			     "POST /mcp HTTP/1.1\r\nHost: x\r\nAccept: application/json, "
			     "text/event-stream\r\nContent-Type: application/json\r\n"
			     "Content-Length: %zu\r\n\r\n%s",
			     strlen(body), body) > 0);
	return req;
}

static const char ok_response[] =
	"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";

static const char *pending_id(struct run *t)
{
	static char id[16];
	json_t *l = approvals_list(t->reg, false);

	assert_int_equal(json_array_size(l), 1);
	snprintf(id, sizeof(id), "%s",
		 json_string_value(json_object_get(json_array_get(l, 0), "id")));
	json_decref(l);
	return id;
}

static const char *const dba[] = { "dba" };
static const struct mw_approver carol = { .uid = 2000, .user = "carol", .groups = dba,
					  .n_groups = 1 };

static void test_approved_in_order(void **state)
{
	struct run t;
	char *held = post(1, "DROP TABLE t"), *next = post(2, "SELECT 1"), why[256], id[16];

	run_start(&t, 0);
	client(&t, held);
	assert_int_equal(t.up.len, 0); /* nothing upstream */
	assert_int_equal(t.cl.len, 0); /* no answer yet */
	assert_true(inspect_holding(t.in));
	/* a pipelined request behind it waits, even though it is allowed */
	client(&t, next);
	assert_int_equal(t.up.len, 0);
	assert_int_equal(t.wakes, 0);
	assert_int_equal(t.n_rec, 0); /* nothing forwarded, nothing recorded */
	snprintf(id, sizeof(id), "%s", pending_id(&t));
	assert_int_equal(approvals_decide(t.reg, id, &carol, true, "ok", 0, false,
					  mw_now_wall_usec(), why, sizeof(why)),
			 0);
	assert_int_equal(t.wakes, 1);
	client(&t, NULL); /* the flow, woken */
	assert_false(inspect_holding(t.in));
	/* both requests, byte for byte, in order */
	assert_int_equal(t.up.len, strlen(held) + strlen(next));
	assert_memory_equal(t.up.data, held, strlen(held));
	assert_memory_equal(t.up.data + strlen(held), next, strlen(next));
	/* the approval's events, for the flow's session journal */
	snprintf(why, sizeof(why), "new:%s:query approved:%s:query ", id, id);
	assert_string_equal(t.events, why);
	/* the released request is recorded as forwarded, before the one behind it */
	assert_int_equal(t.n_rec, 2);
	assert_false(t.rec[0].to_client);
	assert_false(t.rec[0].own);
	assert_string_equal(t.rec[0].method, "tools/call");
	assert_string_equal(t.rec[0].tool, "query");
	assert_non_null(strstr(t.rec[0].payload, "DROP TABLE t"));
	assert_non_null(strstr(t.rec[1].payload, "SELECT 1"));
	assert_int_equal(inspect_server(t.in, (const uint8_t *)ok_response, strlen(ok_response),
					&t.cl),
			 0);
	assert_int_equal(t.cl.len, strlen(ok_response));
	run_end(&t);
	free(held);
	free(next);
}

/* Approved while the upstream's credential has no usable token (an OAuth token expired during
 * the hold): the client gets the agent's 503 in order, nothing goes upstream, the flow closes
 * after it; the connection is not reset. */
static void test_approved_no_credential(void **state)
{
	struct mw_cred_spec spec = { .kind = MW_CRED_OAUTH, .bearer = true };
	struct mw_inspect_flow fl = flow;
	char dir[] = "/tmp/mw-hold.XXXXXX", why[256], id[16];
	char *held = post(1, "DROP TABLE t");
	struct mw_cred *c = NULL;
	struct run t;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(spec.header, sizeof(spec.header), "Authorization");
	snprintf(spec.oauth.token_endpoint, sizeof(spec.oauth.token_endpoint),
		 "https://idp.example/token");
	snprintf(spec.oauth.client_id, sizeof(spec.oauth.client_id), "mw");
	snprintf(spec.oauth.client_secret_file, sizeof(spec.oauth.client_secret_file), "%s/s", dir);
	f = fopen(spec.oauth.client_secret_file, "we");
	assert_non_null(f);
	fputs("secret\n", f);
	fclose(f);
	assert_int_equal(cred_load(&spec, &c), 0);
	assert_false(cred_ready(c)); /* no token yet */
	fl.cred = c;
	run_start_flow(&t, 0, &fl);
	client(&t, held);
	assert_true(inspect_holding(t.in));
	snprintf(id, sizeof(id), "%s", pending_id(&t));
	assert_int_equal(approvals_decide(t.reg, id, &carol, true, "ok", 0, false,
					  mw_now_wall_usec(), why, sizeof(why)),
			 0);
	client(&t, NULL);
	assert_false(inspect_holding(t.in));
	assert_int_equal(t.up.len, 0);
	assert_true(t.cl.len > 0);
	assert_memory_equal(t.cl.data, "HTTP/1.1 503 ", 13);
	assert_non_null(memmem(t.cl.data, t.cl.len, "credential is not available yet", 31));
	assert_true(t.close);
	run_end(&t);
	cred_free(c);
	unlink(spec.oauth.client_secret_file);
	rmdir(dir);
	free(held);
}

static void test_denied_then_next(void **state)
{
	struct run t;
	char *held = post(7, "DROP TABLE t"), *next = post(8, "SELECT 1"), why[256];
	char *reply;

	run_start(&t, 0);
	client(&t, held);
	client(&t, next);
	assert_int_equal(approvals_decide(t.reg, pending_id(&t), &carol, false, "not today", 0,
					  false, mw_now_wall_usec(), why, sizeof(why)),
			 0);
	client(&t, NULL);
	/* the denial answers request 7; request 8 went upstream after it was settled */
	reply = strndup((const char *)t.cl.data, t.cl.len);
	assert_non_null(strstr(reply, "\"id\":7"));
	assert_non_null(strstr(reply, "\"code\":-32011"));
	assert_non_null(strstr(reply, "not today"));
	assert_non_null(strstr(reply, "\"rule\":\"drop needs a DBA\""));
	assert_non_null(strstr(t.events, " denied:"));
	/* the denial is recorded as the agent's own JSON-RPC reply; the next as forwarded */
	assert_int_equal(t.n_rec, 2);
	assert_true(t.rec[0].to_client);
	assert_true(t.rec[0].own);
	assert_string_equal(t.rec[0].tool, "query");
	assert_int_equal(t.rec[0].payload[0], '{');
	assert_non_null(strstr(t.rec[0].payload, "-32011"));
	assert_false(t.rec[1].own);
	assert_non_null(strstr(t.rec[1].payload, "SELECT 1"));
	assert_int_equal(t.up.len, strlen(next));
	assert_memory_equal(t.up.data, next, strlen(next));
	free(reply);
	run_end(&t);
	free(held);
	free(next);
}

static void test_hold_limit_then_retry(void **state)
{
	struct run t;
	char *held = post(3, "DROP TABLE t"), *reply, why[256], id[16];

	run_start(&t, 1000000); /* held 1 s */
	client(&t, held);
	snprintf(id, sizeof(id), "%s", pending_id(&t));
	approvals_tick(t.reg, mw_now_wall_usec() + 2000000);
	assert_int_equal(t.wakes, 1);
	client(&t, NULL);
	reply = strndup((const char *)t.cl.data, t.cl.len);
	assert_non_null(strstr(reply, "\"code\":-32012"));
	assert_non_null(strstr(reply, id));
	assert_non_null(strstr(reply, "retry the same call"));
	free(reply);
	snprintf(why, sizeof(why), "new:%s:query hold_limit:%s:query ", id, id);
	assert_string_equal(t.events, why);
	assert_int_equal(t.up.len, 0);
	/* approved afterwards: the same call passes at once, once */
	assert_int_equal(approvals_decide(t.reg, id, &carol, true, NULL, 0, false,
					  mw_now_wall_usec(), why, sizeof(why)),
			 0);
	client(&t, held);
	assert_false(inspect_holding(t.in));
	assert_int_equal(t.up.len, strlen(held));
	client(&t, held); /* a third time: held again */
	assert_true(inspect_holding(t.in));
	run_end(&t);
	free(held);
}

/* --- a started SSE reply: progressToken and text/event-stream ----------------------------- */

static char *post_progress(int id, const char *accept, const char *version)
{
	char body[512], *req;

	snprintf(body, sizeof(body),
		 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":"
		 "\"query\",\"arguments\":{\"sql\":\"DROP TABLE t\"},\"_meta\":{\"progressToken\":"
		 "\"tok-%d\"}}}",
		 id, id);
	assert_true(asprintf(&req,
			     "POST /mcp %s\r\nHost: x\r\nAccept: %s\r\nMcp-Session-Id: s-1\r\n"
			     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			     version, accept, strlen(body), body) > 0);
	return req;
}

static const char stream_head[] =
	"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
	"Transfer-Encoding: chunked\r\nMcp-Session-Id: s-1\r\n\r\n";

static void chunk(char *buf, size_t size, const char *data)
{
	size_t n = strlen(buf);

	snprintf(buf + n, size - n, "%zx\r\n%s\r\n", strlen(data), data);
}

static void event(char *buf, size_t size, const char *json)
{
	char ev[1024];

	snprintf(ev, sizeof(ev), "event: message\ndata: %s\n\n", json);
	chunk(buf, size, ev);
}

/* Held with a progressToken: the stream starts at once, byte for byte; keep-alives follow. */
static void stream_started(struct run *t, int id, char ret_id[16])
{
	char *req = post_progress(id, "application/json, text/event-stream", "HTTP/1.1");
	char want[2048], json[512];

	run_start(t, 0);
	client(t, req);
	free(req);
	assert_int_equal(t->up.len, 0);
	assert_true(inspect_holding(t->in));
	snprintf(ret_id, 16, "%s", pending_id(t));
	snprintf(want, sizeof(want), "%s", stream_head);
	snprintf(json, sizeof(json),
		 "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{"
		 "\"progressToken\":\"tok-%d\",\"progress\":0,\"message\":\"waiting for approval "
		 "%s (needs groups dba)\"}}",
		 id, ret_id);
	event(want, sizeof(want), json);
	assert_int_equal(t->cl.len, strlen(want));
	assert_memory_equal(t->cl.data, want, strlen(want));
	/* recorded as the agent's own message to the client */
	assert_int_equal(t->n_rec, 1);
	assert_true(t->rec[0].to_client);
	assert_true(t->rec[0].own);
	assert_string_equal(t->rec[0].payload, json);
	t->cl.len = 0;
	/* nothing due yet; then one keep-alive comment per approvals.keepalive */
	approvals_tick(t->reg, mw_now_wall_usec() + 1000000);
	assert_int_equal(t->wakes, 0);
	approvals_tick(t->reg, mw_now_wall_usec() + 6000000);
	assert_int_equal(t->wakes, 1);
	client(t, NULL);
	want[0] = 0;
	snprintf(json, sizeof(json), ": waiting for approval %s\n\n", ret_id);
	chunk(want, sizeof(want), json);
	assert_int_equal(t->cl.len, strlen(want));
	assert_memory_equal(t->cl.data, want, strlen(want));
	t->cl.len = 0;
	client(t, NULL); /* woken again for nothing: no second comment */
	assert_int_equal(t->cl.len, 0);
	assert_true(inspect_holding(t->in));
}

static void approve(struct run *t, const char *id)
{
	char why[256];

	assert_int_equal(approvals_decide(t->reg, id, &carol, true, "ok", 0, false,
					  mw_now_wall_usec(), why, sizeof(why)),
			 0);
	client(t, NULL);
	assert_false(inspect_holding(t->in));
	assert_non_null(memmem(t->up.data, t->up.len, "DROP TABLE t", 12));
}

static void server(struct run *t, const char *s)
{
	assert_int_equal(inspect_server(t->in, (const uint8_t *)s, strlen(s), &t->cl), 0);
}

static void check_out(struct run *t, const char *want)
{
	assert_int_equal(t->cl.len, strlen(want));
	assert_memory_equal(t->cl.data, want, strlen(want));
}

static void test_stream_approved_json(void **state)
{
	static const char result[] = "{\"jsonrpc\":\"2.0\",\"id\":11,\"result\":{\"content\":[]}}";
	char resp[256], want[1024] = "", id[16];
	struct run t;

	char *next = post(40, "SELECT 1");

	stream_started(&t, 11, id);
	client(&t, next); /* pipelined behind the held call */
	approve(&t, id);
	assert_int_equal(t.cl.len, 0);
	snprintf(resp, sizeof(resp),
		 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nMcp-Session-Id: s-1\r\n"
		 "Content-Length: %zu\r\n\r\n%s",
		 strlen(result), result);
	server(&t, resp);
	/* no second head: the body as one event, then the last chunk */
	event(want, sizeof(want), result);
	strcat(want, "0\r\n\r\n");
	check_out(&t, want);
	/* recorded: the progress event, the released request, the next one, the response */
	assert_int_equal(t.n_rec, 4);
	assert_false(t.rec[1].to_client);
	assert_non_null(strstr(t.rec[2].payload, "SELECT 1"));
	assert_true(t.rec[3].to_client);
	assert_false(t.rec[3].own);
	assert_string_equal(t.rec[3].payload, result);
	/* the request behind it went upstream after it, and its answer keeps its own head */
	assert_true(t.up.len > strlen(next));
	assert_memory_equal(t.up.data + t.up.len - strlen(next), next, strlen(next));
	t.cl.len = 0;
	server(&t, ok_response);
	check_out(&t, ok_response);
	free(next);
	run_end(&t);
}

static void test_stream_approved_sse(void **state)
{
	static const char body[] =
		"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\","
		"\"params\":{\"level\":\"info\",\"data\":\"x\"}}\n\n"
		"event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":12,\"result\":{}}\n\n";
	char resp[512], want[1024] = "", id[16];
	struct run t;

	stream_started(&t, 12, id);
	approve(&t, id);
	/* an SSE reply with Content-Length: its events, each as a chunk */
	snprintf(resp, sizeof(resp),
		 "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %zu\r\n"
		 "\r\n%s",
		 strlen(body), body);
	server(&t, resp);
	chunk(want, sizeof(want),
	      "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\","
	      "\"params\":{\"level\":\"info\",\"data\":\"x\"}}\n\n");
	chunk(want, sizeof(want), "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":12,"
				  "\"result\":{}}\n\n");
	strcat(want, "0\r\n\r\n");
	check_out(&t, want);
	assert_int_equal(t.n_rec, 4);
	assert_false(t.rec[3].own);
	assert_string_equal(t.rec[3].payload, "{\"jsonrpc\":\"2.0\",\"id\":12,\"result\":{}}");
	run_end(&t);
}

static void test_stream_upstream_error(void **state)
{
	static const char resp[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain"
				   "\r\nContent-Length: 4\r\n\r\nbusy";
	char want[1024] = "", id[16];
	struct run t;

	stream_started(&t, 13, id);
	approve(&t, id);
	server(&t, resp);
	event(want, sizeof(want),
	      "{\"jsonrpc\":\"2.0\",\"id\":13,\"error\":{\"code\":-32603,\"message\":\"the "
	      "upstream answered HTTP 503\"}}");
	strcat(want, "0\r\n\r\n");
	check_out(&t, want);
	assert_true(t.rec[t.n_rec - 1].own);
	run_end(&t);
}

static void test_stream_denied(void **state)
{
	char why[256], id[16], *next = post(15, "SELECT 1"), *out;
	struct run t;

	stream_started(&t, 14, id);
	client(&t, next); /* pipelined behind: waits */
	assert_int_equal(t.up.len, 0);
	assert_int_equal(approvals_decide(t.reg, id, &carol, false, "not today", 0, false,
					  mw_now_wall_usec(), why, sizeof(why)),
			 0);
	client(&t, NULL);
	/* one error event, the last chunk, and no HTTP head of its own */
	out = strndup((const char *)t.cl.data, t.cl.len);
	assert_true(strncmp(out, "HTTP/", 5) != 0);
	assert_non_null(strstr(out, "\r\nevent: message\ndata: {"));
	assert_non_null(strstr(out, "\"id\":14"));
	assert_non_null(strstr(out, "-32011"));
	assert_non_null(strstr(out, "not today"));
	assert_int_equal(strlen(out) - strlen(strstr(out, "\n\n\r\n0\r\n\r\n")) + 9, strlen(out));
	free(out);
	assert_true(t.rec[1].own);
	assert_non_null(strstr(t.rec[1].payload, "-32011"));
	/* the next request went upstream once the held one was answered */
	assert_int_equal(t.up.len, strlen(next));
	t.cl.len = 0;
	server(&t, ok_response); /* its answer: a whole reply with its head */
	check_out(&t, ok_response);
	free(next);
	run_end(&t);
}

static void test_stream_expired(void **state)
{
	char id[16], *out;
	struct run t;

	stream_started(&t, 16, id);
	approvals_tick(t.reg, mw_now_wall_usec() + 601ULL * 1000000);
	client(&t, NULL);
	out = strndup((const char *)t.cl.data, t.cl.len);
	assert_true(strncmp(out, "HTTP/", 5) != 0);
	assert_non_null(strstr(out, "\"id\":16"));
	assert_non_null(strstr(out, "-32012"));
	assert_non_null(strstr(out, id));
	assert_non_null(strstr(out, "\n\n\r\n0\r\n\r\n"));
	free(out);
	run_end(&t);
}

/* Without a progressToken, without SSE in Accept, or on HTTP/1.0: nothing until decided. */
static void test_stream_not_wanted(void **state)
{
	const char *cases[][2] = {
		{ "application/json", "HTTP/1.1" },
		{ "application/json, text/event-stream", "HTTP/1.0" },
	};
	struct run t;

	for (size_t i = 0; i < 2; i++) {
		char *req = post_progress(20, cases[i][0], cases[i][1]);

		run_start(&t, 0);
		client(&t, req);
		assert_true(inspect_holding(t.in));
		assert_int_equal(t.cl.len, 0);
		approvals_tick(t.reg, mw_now_wall_usec() + 6000000);
		assert_int_equal(t.wakes, 0);
		free(req);
		run_end(&t);
	}
}

/* Behind a forwarded request: the stream starts once that one is answered. */
static void test_stream_behind_forwarded(void **state)
{
	char *first = post(30, "SELECT 1");
	char *held = post_progress(31, "application/json, text/event-stream", "HTTP/1.1");
	struct run t;

	run_start(&t, 0);
	client(&t, first);
	client(&t, held);
	assert_int_equal(t.cl.len, 0);
	server(&t, ok_response);
	assert_true(t.cl.len > strlen(ok_response) + strlen(stream_head));
	assert_memory_equal(t.cl.data, ok_response, strlen(ok_response));
	assert_memory_equal(t.cl.data + strlen(ok_response), stream_head, strlen(stream_head));
	free(first);
	free(held);
	run_end(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_approved_in_order),
		cmocka_unit_test(test_approved_no_credential),
		cmocka_unit_test(test_denied_then_next),
		cmocka_unit_test(test_hold_limit_then_retry),
		cmocka_unit_test(test_stream_approved_json),
		cmocka_unit_test(test_stream_approved_sse),
		cmocka_unit_test(test_stream_upstream_error),
		cmocka_unit_test(test_stream_denied),
		cmocka_unit_test(test_stream_expired),
		cmocka_unit_test(test_stream_not_wanted),
		cmocka_unit_test(test_stream_behind_forwarded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
