/* test_approval_hold.c: the checkpoint holding a request for review (agent/inspect_hold.c
 * through inspect.c): nothing goes upstream while it is held, later requests on the same
 * connection wait behind it, the flow is woken when it is decided, and the answer is the
 * upstream's (approved), -32011 (denied) or -32012 (held past the limit), in order.  The
 * payload records see a released request when it is forwarded, and a denial as the agent's
 * own reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "approval.h"
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

static void run_start(struct run *t, uint64_t hold_usec)
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
	t->env->wake = on_wake;
	assert_int_equal(inspect_new(t->env, &flow, on_report, t, &t->in), 0);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_approved_in_order),
		cmocka_unit_test(test_denied_then_next),
		cmocka_unit_test(test_hold_limit_then_retry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
