/* test_mcp_fast.c: the envelope scanner and mcp_parse_lazy() on the bodies the checkpoint sees
 * most (the SDK's tools/call, tools/list, notifications), every kind of body it must leave to
 * mcp_parse(), and policy_needs_args() on compiled policies. The differential proof over
 * arbitrary bytes is tests/fuzz/fuzz_mcp_fast.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mcp.h"
#include "policy.h"

static void scan_ok(const char *json, struct mcp_scan *sc)
{
	int r = mcp_scan_request(json, strlen(json), MCP_FROM_CLIENT, NULL, sc);

	if (r != 0)
		fail_msg("expected the scanner to take '%s', got %d", json, r);
}

static void scan_unsure(const char *json)
{
	struct mcp_scan sc;
	int r = mcp_scan_request(json, strlen(json), MCP_FROM_CLIENT, NULL, &sc);

	if (r != -EAGAIN)
		fail_msg("expected the scanner to leave '%s' to mcp_parse, got %d", json, r);
}

static void test_tools_call(void **state)
{
	static const char body[] =
	    " {\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
	    "\"arguments\":{\"message\":\"a\\\"b\\n\",\"n\":[1,-2,0,true,false,null,{}]}}}\r\n";
	struct mcp_scan sc;

	(void)state;
	scan_ok(body, &sc);
	assert_int_equal(sc.kind, MCP_REQUEST);
	assert_int_equal(sc.id.type, MCP_ID_INT);
	assert_int_equal(sc.id.num, 42);
	assert_int_equal(sc.mid, MCP_M_TOOLS_CALL);
	assert_int_equal(sc.method_len, strlen("tools/call"));
	assert_memory_equal(sc.method, "tools/call", sc.method_len);
	assert_int_equal(sc.name_len, 4);
	assert_memory_equal(sc.name, "echo", 4);
	assert_true(sc.has_arguments);
}

static void test_other_shapes(void **state)
{
	struct mcp_scan sc;

	(void)state;
	scan_ok("{\"method\":\"tools/list\",\"id\":\"req-1\",\"jsonrpc\":\"2.0\",\"params\":{}}", &sc);
	assert_int_equal(sc.mid, MCP_M_TOOLS_LIST);
	assert_int_equal(sc.id.type, MCP_ID_STR);
	assert_int_equal(sc.id_len, 5);
	assert_memory_equal(sc.id_str, "req-1", 5);
	assert_null(sc.name);
	scan_ok("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &sc);
	assert_int_equal(sc.kind, MCP_NOTIFICATION);
	assert_int_equal(sc.id.type, MCP_ID_NONE);
	scan_ok("{\"jsonrpc\":\"2.0\",\"id\":-9,\"method\":\"tools/call\",\"params\":{\"name\":\"x\"}}",
		&sc);
	assert_int_equal(sc.id.num, -9);
	assert_false(sc.has_arguments);
	scan_ok("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x/custom\",\"params\":{\"name\":\"n\"}}",
		&sc);
	assert_int_equal(sc.mid, MCP_M_OTHER);
	assert_null(sc.name); /* name is a tool only for tools/call */
}

/* Each of these is left to mcp_parse(), which accepts some and refuses others. */
static void test_unsure(void **state)
{
	static const char *const bodies[] = {
		"",
		"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"x\","
		"\"arguments\":{\"a\":1,\"a\":2}}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"x\","
		"\"arguments\":{\"a\":\"\\u0000\"}}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"x\","
		"\"arguments\":{\"a\":\"\xc3\xa9\"}}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"x\","
		"\"arguments\":{\"a\":\"\xff\"}}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"x\","
		"\"arguments\":{\"a\":1.5}}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"x\","
		"\"arguments\":[]}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"arguments\":{}}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"x\","
		"\"_meta\":{\"progressToken\":1}}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1.0,\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":12345678901234567890,\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":01,\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}",
		"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"extra\":1}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\",\"params\":{\"uri\":\"a\"}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sampling/createMessage\",\"params\":{}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":[]}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} x",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"to\\u006fls/list\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"x\","
		"\"arguments\":{\"a\":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}}}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
		scan_unsure(bodies[i]);
	/* a string id one byte too long */
	char body[MCP_ID_MAX_LEN + 64];
	int n = snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":\"%0*d\"}",
			 MCP_ID_MAX_LEN + 1, 0);
	assert_true(n > 0 && (size_t)n < sizeof(body));
	scan_unsure(body);
	/* the server's side is never scanned */
	struct mcp_scan sc;
	static const char ping[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
	assert_int_equal(mcp_scan_request(ping, strlen(ping), MCP_FROM_SERVER, NULL, &sc), -EAGAIN);
	/* nor a body over the limit, nor one nested beyond it */
	struct mcp_limits lim = { .max_body = 10 };
	assert_int_equal(mcp_scan_request(ping, strlen(ping), MCP_FROM_CLIENT, &lim, &sc), -EAGAIN);
}

static bool want(void *ud, const char *method, const char *tool)
{
	int *calls = ud;

	(*calls)++;
	return !strcmp(method, "tools/call") && !strcmp(tool, "sql");
}

static void test_lazy(void **state)
{
	static const char call_echo[] = "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"tools/call\","
					"\"params\":{\"name\":\"echo\",\"arguments\":{\"m\":1}}}";
	static const char call_sql[] = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\","
				       "\"params\":{\"name\":\"sql\",\"arguments\":{\"q\":\"x\"}}}";
	static const char bad[] = "{\"jsonrpc\":\"2.0\",\"id\":7,\"id\":8,\"method\":\"ping\"}";
	struct mcp_parse_error e;
	struct mcp_body *b = NULL;
	int calls = 0;

	(void)state;
	assert_int_equal(mcp_parse_lazy(call_echo, strlen(call_echo), MCP_FROM_CLIENT, NULL, want,
					&calls, &b, &e),
			 0);
	assert_true(b->partial);
	assert_null(b->root);
	assert_int_equal(b->n, 1);
	assert_string_equal(b->msgs[0].method, "tools/call");
	assert_string_equal(b->msgs[0].tool, "echo");
	assert_string_equal(b->msgs[0].id.str, "a");
	assert_null(b->msgs[0].arguments);
	assert_int_equal(calls, 1);
	b = mcp_body_free(b);

	/* the arguments are wanted: the whole tree */
	assert_int_equal(mcp_parse_lazy(call_sql, strlen(call_sql), MCP_FROM_CLIENT, NULL, want,
					&calls, &b, &e),
			 0);
	assert_false(b->partial);
	assert_non_null(b->msgs[0].arguments);
	assert_string_equal(json_string_value(json_object_get(b->msgs[0].arguments, "q")), "x");
	assert_int_equal(b->msgs[0].id.num, 7);
	b = mcp_body_free(b);

	/* refused exactly as mcp_parse() refuses */
	assert_int_equal(mcp_parse_lazy(bad, strlen(bad), MCP_FROM_CLIENT, NULL, want, &calls, &b, &e),
			 -EBADMSG);
	assert_int_equal(e.kind, MCP_PERR_DUP_KEY);
	assert_null(b);
}

static struct mw_policy *compile(const char *text)
{
	struct mw_policy *p = NULL;
	struct mw_diag d;
	json_t *root = json_loads(text, 0, NULL);

	assert_non_null(root);
	assert_int_equal(policy_compile(root, "t.json", text, strlen(text), "", &p, &d), 0);
	json_decref(root);
	return p;
}

static void test_policy_needs_args(void **state)
{
	struct mw_policy *p;

	(void)state;
	p = compile("{\"rules\": [{\"name\": \"a\", \"match\": {\"tool\": \"echo\"}, \"action\": \"allow\"},"
		    "{\"name\": \"b\", \"action\": \"deny\"}]}");
	assert_false(policy_needs_args(p, "tools/call", "echo"));
	assert_false(policy_needs_args(p, "tools/call", NULL));
	policy_unref(p);

	p = compile("{\"rules\": [{\"name\": \"sql\", \"match\": {\"method\": \"tools/call\", "
		    "\"tool\": \"db_*\", \"args\": {\"/q\": {\"sql_class\": [\"ddl\"]}}}, "
		    "\"action\": \"deny\"}, {\"name\": \"rest\", \"action\": \"allow\"}]}");
	assert_true(policy_needs_args(p, "tools/call", "db_query"));
	assert_false(policy_needs_args(p, "tools/call", "echo"));
	assert_false(policy_needs_args(p, "tools/list", NULL));
	assert_false(policy_needs_args(p, "tools/call", NULL));
	policy_unref(p);

	/* args without method or tool: any request */
	p = compile("{\"rules\": [{\"name\": \"any\", \"match\": {\"args\": {\"/x\": "
		    "{\"exists\": true}}}, \"action\": \"deny\"}]}");
	assert_true(policy_needs_args(p, "tools/call", "echo"));
	assert_true(policy_needs_args_cb(p, "ping", NULL));
	policy_unref(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tools_call),
		cmocka_unit_test(test_other_shapes),
		cmocka_unit_test(test_unsure),
		cmocka_unit_test(test_lazy),
		cmocka_unit_test(test_policy_needs_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
