/* test_inspect_refuse.c: what the MCP checkpoint answers instead of forwarding when a request
 * cannot be decided or must not pass: upgrades, smuggling-prone framing, bodies that are not
 * JSON-RPC, invalid params, a missing token (400/401/501); and denials that close the
 * connection or carry a session id that cannot be echoed. */
#include "inspect_fixtures.h"

/* tools/call whose arguments are not an object: the SQL cannot be read, so the rule that
 * would deny it cannot be applied; it must not fall through to the allow rule. */
static void test_invalid_params_refused(void **state)
{
	char *q = post("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":"
		       "{\"name\":\"query\",\"arguments\":[\"DROP TABLE users\"]}}",
		       NULL);
	struct reply rp;
	struct run t;

	run_start(&t, false);
	client(&t, q);
	assert_int_equal(t.up.len, 0);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_int_not_equal(rp.status, 200);
	assert_true(rp.status >= 400);
	reply_clear(&rp);
	assert_int_equal(t.n_ev, 1);
	assert_string_equal(t.ev[0].decision, "malformed");
	run_end(&t);
	free(q);
}

static void check_refused(const char *req, int status, const char *why)
{
	char *a = post(CALL_ECHO(1), NULL), *ra = response("{}"), *both = cat(a, req);
	struct reply rp;
	struct run t;

	run_start(&t, false);
	client(&t, req);
	if (t.up.len)
		fail_msg("expected nothing upstream for '%s', got '%s'", esc(req, strlen(req)),
			 esc(t.up.data, t.up.len));
	assert_true(t.close);
	parse_reply(t.cl.data, t.cl.len, &rp);
	if (rp.status != status)
		fail_msg("expected %d for '%s', got %d", status, esc(req, strlen(req)), rp.status);
	assert_contains(rp.head, "Connection: close\r\n");
	assert_int_equal(rp.wire, t.cl.len);
	{
		char *text = strndup((const char *)t.cl.data, t.cl.len);

		assert_contains(text, why);
		free(text);
	}
	reply_clear(&rp);
	/* more bytes after the refusal are ignored */
	client(&t, a);
	assert_int_equal(t.up.len, 0);
	run_end(&t);

	/* behind an allowed request: that one alone goes up, the refusal waits its turn */
	run_start(&t, false);
	client(&t, both);
	assert_bytes_str(&t.up, a);
	assert_false(t.close); /* not before the refusal is out: A's response comes first */
	assert_int_equal(t.cl.len, 0);
	server(&t, ra);
	assert_true(inspect_closing(t.in));
	assert_true(t.cl.len > strlen(ra));
	assert_memory_equal(t.cl.data, ra, strlen(ra));
	parse_reply(t.cl.data + strlen(ra), t.cl.len - strlen(ra), &rp);
	assert_int_equal(rp.status, status);
	reply_clear(&rp);
	run_end(&t);
	free(a);
	free(ra);
	free(both);
}

static void test_upgrade(void **state)
{
	check_refused("GET /mcp HTTP/1.1\r\nHost: mcp.example\r\nConnection: Upgrade\r\n"
		      "Upgrade: websocket\r\n\r\n",
		      501, "upgrade");
}

static void test_smuggling(void **state)
{
	check_refused("POST /mcp HTTP/1.1\r\nHost: mcp.example\r\nContent-Length: 4\r\n"
		      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		      400, "Transfer-Encoding");
	check_refused("POST /mcp HTTP/1.1\r\nHost: mcp.example\r\nContent-Length: 2\r\n"
		      "Content-Length: 2\r\n\r\n{}",
		      400, "Content-Length");
	check_refused("POST /mcp HTTP/1.1\r\nHost: mcp.example\r\nContent-Length: 2\r\n"
		      "Content-Length: 40\r\n\r\n{}",
		      400, "Content-Length");
	check_refused("POST /mcp HTTP/1.1\nHost: mcp.example\r\nContent-Length: 2\r\n\r\n{}", 400,
		      "bare LF");
	check_refused("POST /mcp HTTP/1.1\r\nHost: mcp.example\r\nTransfer-Encoding: gzip, "
		      "chunked\r\n\r\n0\r\n\r\n",
		      501, "transfer coding");
	check_refused("POST /mcp HTTP/1.1\r\nHost: mcp.example\r\nContent-Length : 2\r\n\r\n{}",
		      400, "whitespace");
}

static void test_not_json(void **state)
{
	char *bad = post("{\"jsonrpc\":\"2.0\",\"id\":1,", NULL);
	char *norpc = post("{\"id\":1,\"method\":\"tools/call\"}", NULL);

	check_refused(bad, 400, "");
	check_refused(norpc, 400, "");
	free(bad);
	free(norpc);
}

static void test_require_token(void **state)
{
	char *a = post(CALL_ECHO(1), NULL);
	char *bearer = post(CALL_ECHO(1), "Authorization: Bearer abc.def.ghi\r\n");
	struct reply rp;
	struct run t;

	run_start(&t, true);
	client(&t, a);
	assert_int_equal(t.up.len, 0);
	assert_false(t.close);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_int_equal(rp.status, 401);
	assert_contains(rp.head, "\r\nWWW-Authenticate: Bearer ");
	assert_contains(rp.head, "invalid_token");
	reply_clear(&rp);
	assert_int_equal(t.n_ev, 1);
	assert_string_equal(t.ev[0].decision, "unauthenticated");
	assert_string_equal(t.ev[0].sub, "");
	assert_contains(t.ev[0].reason, "token");
	/* a token no issuer can verify is no better */
	bytes_consume(&t.cl, t.cl.len);
	client(&t, bearer);
	assert_int_equal(t.up.len, 0);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_int_equal(rp.status, 401);
	reply_clear(&rp);
	run_end(&t);

	/* without require_token the same request is decided by policy */
	run_start(&t, false);
	client(&t, a);
	assert_bytes_str(&t.up, a);
	run_end(&t);
	free(a);
	free(bearer);
}

/* A denied request that asks to close: answered, then the connection ends, in its turn. */
static void test_denied_connection_close(void **state)
{
	char *a = post(CALL_ECHO(1), NULL), *ra = response("{}");
	char *b = post(CALL_RM(2), "Accept: application/json\r\nConnection: close\r\n");
	char *both = cat(a, b);
	struct reply rp;
	struct run t;

	run_start(&t, false);
	client(&t, b);
	assert_int_equal(t.up.len, 0);
	assert_true(t.close);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_int_equal(rp.status, 200);
	reply_clear(&rp);
	run_end(&t);

	run_start(&t, false);
	client(&t, both);
	assert_bytes_str(&t.up, a);
	assert_false(t.close); /* A's response is still to come */
	server(&t, ra);
	assert_true(inspect_closing(t.in));
	assert_memory_equal(t.cl.data, ra, strlen(ra));
	run_end(&t);
	free(a);
	free(ra);
	free(b);
	free(both);
}

/* A session id that cannot be echoed safely does not cost the client its answer. */
static void test_denied_odd_session_id(void **state)
{
	char *b = post(CALL_RM(3), "Accept: application/json\r\nMcp-Session-Id: a b\r\n");
	struct reply rp;
	struct run t;

	run_start(&t, false);
	client(&t, b);
	assert_int_equal(t.up.len, 0);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_int_equal(rp.status, 200);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(rp.body, "error"),
							     "code")),
			 -32010);
	reply_clear(&rp);
	run_end(&t);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_params_refused),
		cmocka_unit_test(test_upgrade),
		cmocka_unit_test(test_smuggling),
		cmocka_unit_test(test_not_json),
		cmocka_unit_test(test_require_token),
		cmocka_unit_test(test_denied_connection_close),
		cmocka_unit_test(test_denied_odd_session_id),
	};

	return cmocka_run_group_tests_name("inspect_refuse", tests, NULL, NULL);
}
