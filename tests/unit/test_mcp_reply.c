/* test_mcp_reply.c: the agent's reply bytes: JSON-RPC error replies as JSON or as an SSE
 * event, batches and error codes, the 401 challenge, and the framing chosen from Accept. */
#include "mcp_fixtures.h"
#include "sse.h"

/* --- replies ------------------------------------------------------------------------------ */

#define DENY_JSON                                                                                  \
	"{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32010,\"message\":\"Denied by "        \
	"policy\",\"data\":{\"rule\":\"finance may query\",\"reason\":\"group 'dev' may not "      \
	"call 'query'\"}}}"

static struct mcp_body *body_of_reply(const char *http, size_t len)
{
	const char *b = strstr(http, "\r\n\r\n");

	assert_non_null(b);
	b += 4;
	return parse_srv(b); /* a Content-Length JSON reply: the rest is the JSON */
}

static void test_error_reply_json(void **state)
{
	struct mcp_body *req =
	    parse_ok("{\"method\":\"tools/call\",\"params\":{\"name\":\"query\"},"
		     "\"jsonrpc\":\"2.0\",\"id\":2}");
	struct mcp_denial d = { .rule = "finance may query",
				.reason = "group 'dev' may not call 'query'" };
	struct mcp_http_opts o = { .session_id = "1868a90c-3ab0-4a87-8d8b-0a26b2b4b4bc" };
	struct mcp_body *back;
	json_t *reply = NULL, *data;
	char *buf, expect[1024];
	size_t len;

	assert_int_equal(mcp_error_reply(req, MCP_ERR_DENIED_POLICY, NULL, &d, &reply), 0);
	assert_non_null(reply);
	assert_int_equal(mcp_http_reply(reply, &o, &buf, &len), 0);
	snprintf(expect, sizeof(expect),
		 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		 "Mcp-Session-Id: 1868a90c-3ab0-4a87-8d8b-0a26b2b4b4bc\r\n"
		 "Content-Length: %zu\r\n\r\n" DENY_JSON,
		 strlen(DENY_JSON));
	assert_string_equal(buf, expect);
	assert_int_equal(len, strlen(expect));
	back = body_of_reply(buf, len);
	assert_int_equal(back->msgs[0].kind, MCP_ERROR);
	assert_int_equal(back->msgs[0].error_code, MCP_ERR_DENIED_POLICY);
	assert_int_equal(back->msgs[0].id.num, 2);
	data = back->msgs[0].error_data;
	assert_string_equal(json_string_value(json_object_get(data, "rule")), "finance may query");
	assert_null(json_object_get(data, "approval_id"));
	mcp_body_free(back);
	free(buf);

	/* Chunked, closing. */
	o = (struct mcp_http_opts){ .chunked = true, .close = true };
	assert_int_equal(mcp_http_reply(reply, &o, &buf, &len), 0);
	snprintf(expect, sizeof(expect),
		 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		 "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n%zx\r\n" DENY_JSON
		 "\r\n0\r\n\r\n",
		 strlen(DENY_JSON));
	assert_string_equal(buf, expect);
	free(buf);
	json_decref(reply);

	/* A header-breaking session id is refused. */
	o = (struct mcp_http_opts){ .session_id = "a\r\nSet-Cookie: x" };
	assert_int_equal(mcp_http_reply(NULL, &o, &buf, &len), -EINVAL);
	o = (struct mcp_http_opts){ .status = 99 };
	assert_int_equal(mcp_http_reply(NULL, &o, &buf, &len), -EINVAL);
	mcp_body_free(req);
}

static void test_error_reply_sse(void **state)
{
	struct mcp_body *req =
	    parse_ok("{\"method\":\"tools/call\",\"params\":{\"name\":\"query\"},"
		     "\"jsonrpc\":\"2.0\",\"id\":2}");
	struct mcp_denial d = { .rule = "finance may query",
				.reason = "group 'dev' may not call 'query'" };
	struct mcp_http_opts o = { .framing = MCP_FRAMING_SSE, .session_id = "s1" };
	struct sse_parser *p = NULL;
	struct sse_event ev;
	struct mcp_body *back;
	json_t *reply = NULL;
	char *buf, expect[1024], data[600];
	const char *body;
	size_t len;

	assert_int_equal(mcp_error_reply(req, MCP_ERR_DENIED_POLICY, NULL, &d, &reply), 0);
	assert_int_equal(mcp_http_reply(reply, &o, &buf, &len), 0);
	snprintf(data, sizeof(data), "event: message\ndata: %s\n\n", DENY_JSON);
	snprintf(expect, sizeof(expect),
		 "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
		 "Mcp-Session-Id: s1\r\nContent-Length: %zu\r\n\r\n%s",
		 strlen(data), data);
	assert_string_equal(buf, expect);

	body = strstr(buf, "\r\n\r\n") + 4;
	assert_int_equal(sse_parser_new(NULL, &p), 0);
	assert_int_equal(sse_parse(p, body, strlen(body), &ev), 1);
	assert_true(ev.flags & SSE_EV_DISPATCH);
	assert_int_equal(ev.type_len, 7);
	assert_memory_equal(ev.type, "message", 7);
	assert_int_equal(ev.msg.data_len, strlen(DENY_JSON));
	assert_memory_equal(ev.msg.data, DENY_JSON, ev.msg.data_len);
	back = NULL;
	assert_int_equal(
	    mcp_parse(ev.msg.data, ev.msg.data_len, MCP_FROM_SERVER, NULL, &back, NULL), 0);
	assert_int_equal(back->msgs[0].error_code, MCP_ERR_DENIED_POLICY);
	mcp_body_free(back);
	sse_parser_free(p);
	free(buf);

	/* With an SSE id line, chunked. */
	o = (struct mcp_http_opts){ .framing = MCP_FRAMING_SSE, .chunked = true, .sse_id = "42" };
	assert_int_equal(mcp_http_reply(reply, &o, &buf, &len), 0);
	snprintf(data, sizeof(data), "event: message\nid: 42\ndata: %s\n\n", DENY_JSON);
	snprintf(expect, sizeof(expect),
		 "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n%zx\r\n%s\r\n0\r\n\r\n",
		 strlen(data), data);
	assert_string_equal(buf, expect);
	free(buf);
	o.sse_id = "4\n2";
	assert_int_equal(mcp_http_reply(reply, &o, &buf, &len), -EINVAL);
	json_decref(reply);
	mcp_body_free(req);
}

static void test_error_reply_batch_and_codes(void **state)
{
	struct mcp_body *b = parse_ok(
	    "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"a\"}},"
	    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"},"
	    "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"tools/call\",\"params\":{\"name\":"
	    "\"b\"}}]");
	struct mcp_denial d = { .rule = "dba review",
				.approval_id = "ap-7",
				.reason = "denied by bob" };
	json_t *reply = NULL;
	char *s;
	size_t n;

	assert_int_equal(mcp_error_reply(b, MCP_ERR_DENIED_APPROVER, NULL, &d, &reply), 0);
	assert_int_equal(mcp_json_dump(reply, &s, &n), 0);
	assert_string_equal(
	    s, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32011,\"message\":\"Denied "
	       "by approver\",\"data\":{\"rule\":\"dba review\",\"approval_id\":\"ap-7\","
	       "\"reason\":\"denied by bob\"}}},{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"error\":"
	       "{\"code\":-32011,\"message\":\"Denied by approver\",\"data\":{\"rule\":\"dba "
	       "review\",\"approval_id\":\"ap-7\",\"reason\":\"denied by bob\"}}}]");
	free(s);
	json_decref(reply);
	mcp_body_free(b);

	/* Timed out, no rule, no reason: null rule, the message as reason. */
	b = parse_ok("{\"jsonrpc\":\"2.0\",\"id\":\"q\",\"method\":\"tools/call\",\"params\":"
		     "{\"name\":\"a\"}}");
	d = (struct mcp_denial){ .approval_id = "ap-8" };
	assert_int_equal(mcp_error_reply(b, MCP_ERR_APPROVAL_TIMEOUT, NULL, &d, &reply), 0);
	assert_int_equal(mcp_json_dump(reply, &s, &n), 0);
	assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"id\":\"q\",\"error\":{\"code\":-32012,"
			       "\"message\":\"Approval timed out\",\"data\":{\"rule\":null,"
			       "\"approval_id\":\"ap-8\",\"reason\":\"Approval timed out\"}}}");
	free(s);
	json_decref(reply);
	mcp_body_free(b);

	/* Notifications only: nothing to answer, 202. */
	b = parse_ok("[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}]");
	assert_int_equal(mcp_error_reply(b, MCP_ERR_DENIED_POLICY, NULL, NULL, &reply), 0);
	assert_null(reply);
	assert_int_equal(mcp_http_reply(NULL, &(struct mcp_http_opts){ .session_id = "s" }, &s, &n),
			 0);
	assert_string_equal(s, "HTTP/1.1 202 Accepted\r\nMcp-Session-Id: s\r\n"
			       "Content-Length: 0\r\n\r\n");
	free(s);
	mcp_body_free(b);

	/* A refused body: the error with the id that could be read, as a 400. */
	reply = mcp_error_response(NULL, MCP_ERR_PARSE, NULL, NULL);
	assert_int_equal(mcp_http_reply(reply, &(struct mcp_http_opts){ .status = 400 }, &s, &n),
			 0);
	assert_string_equal(s,
			    "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
			    "Content-Length: 75\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":"
			    "{\"code\":-32700,\"message\":\"Parse error\"}}");
	free(s);
	json_decref(reply);
	reply = mcp_error_response(NULL, -1, "bad \xff utf-8", NULL);
	assert_null(reply);
	assert_int_equal(errno, EINVAL);
}

static void test_unauthorized(void **state)
{
	const char *body = "{\"error\":\"invalid_token\",\"error_description\":\"token expired\"}";
	char *s, expect[1024];
	size_t n;

	assert_int_equal(mcp_http_unauthorized("token expired", NULL, false, &s, &n), 0);
	snprintf(expect, sizeof(expect),
		 "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
		 "WWW-Authenticate: Bearer error=\"invalid_token\", "
		 "error_description=\"token expired\"\r\nContent-Length: %zu\r\n\r\n%s",
		 strlen(body), body);
	assert_string_equal(s, expect);
	assert_int_equal(n, strlen(expect));
	free(s);

	assert_int_equal(mcp_http_unauthorized("bad \"sig\"\r\n",
					       "https://gw.example/.well-known/"
					       "oauth-protected-resource",
					       true, &s, &n),
			 0);
	body = "{\"error\":\"invalid_token\",\"error_description\":\"bad \\\"sig\\\"\\r\\n\"}";
	snprintf(
	    expect, sizeof(expect),
	    "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
	    "WWW-Authenticate: Bearer error=\"invalid_token\", error_description=\"bad ?sig???\", "
	    "resource_metadata=\"https://gw.example/.well-known/oauth-protected-resource\"\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
	    strlen(body), body);
	assert_string_equal(s, expect);
	free(s);
	assert_int_equal(mcp_http_unauthorized("x", "a\"b", false, &s, &n), -EINVAL);
}

static void test_framing_for_accept(void **state)
{
	assert_int_equal(mcp_framing_for_accept(NULL), MCP_FRAMING_JSON);
	assert_int_equal(mcp_framing_for_accept("application/json, text/event-stream"),
			 MCP_FRAMING_JSON);
	assert_int_equal(mcp_framing_for_accept("text/event-stream"), MCP_FRAMING_SSE);
	assert_int_equal(mcp_framing_for_accept("Text/Event-Stream ; charset=utf-8"),
			 MCP_FRAMING_SSE);
	assert_int_equal(mcp_framing_for_accept("application/json;q=0, text/event-stream"),
			 MCP_FRAMING_SSE);
	assert_int_equal(mcp_framing_for_accept("application/json;q=0.0, text/*;q=0.5"),
			 MCP_FRAMING_SSE);
	assert_int_equal(mcp_framing_for_accept("*/*"), MCP_FRAMING_JSON);
	assert_int_equal(mcp_framing_for_accept("text/html"), MCP_FRAMING_JSON);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_reply_json),
		cmocka_unit_test(test_error_reply_sse),
		cmocka_unit_test(test_error_reply_batch_and_codes),
		cmocka_unit_test(test_unauthorized),
		cmocka_unit_test(test_framing_for_accept),
	};

	return cmocka_run_group_tests_name("mcp_reply", tests, NULL, NULL);
}
