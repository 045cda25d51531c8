/* test_inspect.c: the MCP checkpoint on one HTTP/1.1 flow: what is forwarded (byte for byte,
 * whole requests only), what is denied by policy, and the order of the agent's replies among
 * the upstream's responses on a keep-alive connection, however the bytes are split. The
 * refusals (400/401/501) are in test_inspect_refuse.c. */
#include "inspect_fixtures.h"

/* A -32010 error object for id, naming rule. */
static void check_denial(const json_t *err_resp, json_int_t id, const char *rule)
{
	json_t *e = json_object_get(err_resp, "error"), *data = json_object_get(e, "data");
	json_t *jid = json_object_get(err_resp, "id");

	assert_string_equal(json_string_value(json_object_get(err_resp, "jsonrpc")), "2.0");
	if (!json_is_integer(jid) || json_integer_value(jid) != id)
		fail_msg("expected id %lld, got %s", (long long)id,
			 jid ? json_dumps(jid, JSON_ENCODE_ANY) : "(none)");
	assert_int_equal(json_integer_value(json_object_get(e, "code")), -32010);
	assert_string_equal(json_string_value(json_object_get(data, "rule")), rule);
	assert_non_null(json_string_value(json_object_get(data, "reason")));
}

/* What the agent answers to one request alone (checked to be a reply of status). */
static char *reply_alone(const char *req, size_t *ret_len)
{
	struct run t;
	char *s;

	run_start(&t, false);
	client(&t, req);
	assert_int_equal(t.up.len, 0);
	assert_true(t.cl.len > 0);
	s = malloc(t.cl.len + 1);
	assert_non_null(s);
	memcpy(s, t.cl.data, t.cl.len);
	s[t.cl.len] = 0;
	*ret_len = t.cl.len;
	run_end(&t);
	return s;
}

/* --- allowed and denied ------------------------------------------------------------------ */

static void test_allowed_forwarded(void **state)
{
	char *a = post(CALL_ECHO(1), NULL), *ra = response("{\"jsonrpc\":\"2.0\",\"id\":1,"
							   "\"result\":{\"content\":[]}}");
	struct run t;

	run_start(&t, false);
	client(&t, a);
	assert_bytes_str(&t.up, a);
	assert_int_equal(t.cl.len, 0);
	assert_false(t.close);
	assert_int_equal(inspect_held(t.in), 0);
	server(&t, ra);
	assert_bytes_str(&t.cl, ra); /* the response passes through */
	assert_bytes_str(&t.up, a);
	run_end(&t);
	free(a);
	free(ra);
}

static void test_partial_request_held(void **state)
{
	char *a = post(CALL_ECHO(1), NULL);
	size_t n = strlen(a);
	struct run t;

	run_start(&t, false);
	client_n(&t, a, n - 1);
	assert_int_equal(t.up.len, 0);
	assert_int_equal(t.cl.len, 0);
	assert_int_equal(inspect_held(t.in), n - 1);
	client_n(&t, a + n - 1, 1);
	assert_bytes_str(&t.up, a);
	assert_int_equal(inspect_held(t.in), 0);
	run_end(&t);
	free(a);
}

static void test_denied_json(void **state)
{
	char *b = post(CALL_RM(7), "Accept: application/json\r\n");
	struct reply rp;
	struct run t;

	run_start(&t, false);
	client(&t, b);
	assert_int_equal(t.up.len, 0);
	assert_false(t.close);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_int_equal(rp.status, 200);
	assert_int_equal(rp.wire, t.cl.len);
	assert_contains(rp.head, "Content-Type: application/json\r\n");
	assert_non_null(rp.body);
	check_denial(rp.body, 7, "no other tools");
	assert_string_equal(
	    json_string_value(json_object_get(
		json_object_get(json_object_get(rp.body, "error"), "data"), "reason")),
	    "tool not allowed");
	reply_clear(&rp);
	run_end(&t);
	free(b);
}

static void test_denied_sse(void **state)
{
	char *b = post(CALL_RM(8), "Accept: text/event-stream, application/json;q=0\r\n"
				   "Mcp-Session-Id: abc123\r\n");
	struct reply rp;
	struct run t;

	run_start(&t, false);
	client(&t, b);
	assert_int_equal(t.up.len, 0);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_int_equal(rp.status, 200);
	assert_contains(rp.head, "Content-Type: text/event-stream\r\n");
	assert_contains(rp.head, "Mcp-Session-Id: abc123\r\n");
	assert_non_null(rp.body);
	check_denial(rp.body, 8, "no other tools");
	reply_clear(&rp);
	run_end(&t);
	free(b);
}

static void test_denied_by_args(void **state)
{
	char *q = post("{\"jsonrpc\":\"2.0\",\"id\":\"q1\",\"method\":\"tools/call\",\"params\":"
		       "{\"name\":\"query\",\"arguments\":{\"sql\":\"DROP TABLE users\"}}}",
		       NULL);
	char *ok = post("{\"jsonrpc\":\"2.0\",\"id\":\"q2\",\"method\":\"tools/call\",\"params\":"
			"{\"name\":\"query\",\"arguments\":{\"sql\":\"SELECT 1\"}}}",
			NULL);
	struct reply rp;
	struct run t;

	run_start(&t, false);
	client(&t, q);
	assert_int_equal(t.up.len, 0);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_string_equal(json_string_value(json_object_get(rp.body, "id")), "q1");
	assert_string_equal(
	    json_string_value(json_object_get(
		json_object_get(json_object_get(rp.body, "error"), "data"), "rule")),
	    "no destructive SQL");
	reply_clear(&rp);
	bytes_consume(&t.cl, t.cl.len);
	client(&t, ok);
	assert_bytes_str(&t.up, ok);
	assert_int_equal(t.cl.len, 0);
	run_end(&t);
	free(q);
	free(ok);
}

/* --- order on a keep-alive connection ---------------------------------------------------- */

struct abc {
	char *a, *b, *c, *ra, *rc, *reply_b;
	size_t reply_b_len;
};

static void abc_init(struct abc *x)
{
	struct reply rp;

	x->a = post(CALL_ECHO(1), NULL);
	x->b = post(CALL_RM(2), NULL);
	x->c = post(PING(3), NULL);
	x->ra = response("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[]}}");
	x->rc = response("{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}");
	x->reply_b = reply_alone(x->b, &x->reply_b_len);
	parse_reply((const uint8_t *)x->reply_b, x->reply_b_len, &rp);
	assert_int_equal(rp.status, 200);
	check_denial(rp.body, 2, "no other tools");
	reply_clear(&rp);
}

static void abc_free(struct abc *x)
{
	free(x->a);
	free(x->b);
	free(x->c);
	free(x->ra);
	free(x->rc);
	free(x->reply_b);
}

static void expect_cl(struct run *t, const char *const *parts)
{
	char buf[8192];
	size_t n = 0;

	for (; *parts; parts++) {
		size_t k = strlen(*parts);

		assert_true(n + k < sizeof(buf));
		memcpy(buf + n, *parts, k);
		n += k;
	}
	assert_bytes(&t->cl, buf, n);
}

static void test_order_keepalive(void **state)
{
	struct abc x;
	struct run t;
	size_t na;

	abc_init(&x);
	na = strlen(x.ra);
	run_start(&t, false);
	client(&t, x.a);
	assert_bytes_str(&t.up, x.a);
	client(&t, x.b);
	assert_bytes_str(&t.up, x.a);
	assert_int_equal(t.cl.len, 0); /* B's reply waits for A's response */
	client(&t, x.c);
	{
		char *ac = cat(x.a, x.c);

		assert_bytes_str(&t.up, ac);
		free(ac);
	}
	assert_int_equal(t.cl.len, 0);
	server_n(&t, x.ra, na - 1); /* all but A's last byte: still not B's turn */
	assert_int_equal(t.cl.len, 0); /* a JSON body is held whole */
	server_n(&t, x.ra + na - 1, 1);
	expect_cl(&t, (const char *const[]){ x.ra, x.reply_b, NULL });
	server(&t, x.rc);
	expect_cl(&t, (const char *const[]){ x.ra, x.reply_b, x.rc, NULL });
	assert_false(t.close);
	run_end(&t);
	abc_free(&x);
}

static void test_order_pipelined(void **state)
{
	struct abc x;
	struct run t;
	char *abc, *ac, *rarc;

	abc_init(&x);
	abc = cat(x.a, x.b);
	{
		char *tmp = cat(abc, x.c);

		free(abc);
		abc = tmp;
	}
	ac = cat(x.a, x.c);
	rarc = cat(x.ra, x.rc);
	run_start(&t, false);
	client(&t, abc);
	assert_bytes_str(&t.up, ac);
	assert_int_equal(t.cl.len, 0);
	server(&t, rarc);
	expect_cl(&t, (const char *const[]){ x.ra, x.reply_b, x.rc, NULL });
	assert_int_equal(t.n_ev, 3);
	assert_string_equal(t.ev[0].decision, "allow");
	assert_string_equal(t.ev[1].decision, "deny");
	assert_string_equal(t.ev[2].decision, "allow");
	run_end(&t);
	free(abc);
	free(ac);
	free(rarc);
	abc_free(&x);
}

/* A denied request first: its reply goes out at once; responses follow. */
static void test_order_denied_first(void **state)
{
	struct abc x;
	struct run t;

	abc_init(&x);
	run_start(&t, false);
	client(&t, x.b);
	assert_bytes(&t.cl, x.reply_b, x.reply_b_len);
	client(&t, x.a);
	client(&t, x.b);
	assert_bytes(&t.cl, x.reply_b, x.reply_b_len);
	server(&t, x.ra);
	expect_cl(&t, (const char *const[]){ x.reply_b, x.ra, x.reply_b, NULL });
	run_end(&t);
	abc_free(&x);
}

/* An upstream we cannot follow: our replies can no longer be ordered, so none may wait for
 * a response that will never be counted. */
static void test_order_upstream_broken(void **state)
{
	struct abc x;
	struct run t;
	char *d = post(CALL_RM(2), NULL);

	abc_init(&x);
	run_start(&t, false);
	client(&t, x.a);
	client(&t, x.b);
	client(&t, x.c);
	client(&t, d);
	assert_int_equal(t.cl.len, 0);
	server(&t, "garbage\r\n\r\n");
	expect_cl(&t, (const char *const[]){ x.reply_b, x.reply_b, "garbage\r\n\r\n", NULL });
	client(&t, x.b); /* later denials go out at once */
	expect_cl(
	    &t, (const char *const[]){ x.reply_b, x.reply_b, "garbage\r\n\r\n", x.reply_b, NULL });
	run_end(&t);
	free(d);
	abc_free(&x);
}

/* Every split of the client bytes, and of the server bytes, gives the same outputs and the
 * same decisions as the whole. */
struct outputs {
	struct mw_bytes up, cl;
	bool close;
	size_t n_ev;
	char decisions[256];
};

static void run_split(const char *cli, size_t ncli, size_t csplit, const char *srv, size_t nsrv,
		      size_t ssplit, struct outputs *o)
{
	struct run t;

	run_start(&t, false);
	client_n(&t, cli, csplit);
	client_n(&t, cli + csplit, ncli - csplit);
	server_n(&t, srv, ssplit);
	server_n(&t, srv + ssplit, nsrv - ssplit);
	*o = (struct outputs){ .close = t.close, .n_ev = t.n_ev };
	assert_int_equal(bytes_append(&o->up, t.up.data, t.up.len), 0);
	assert_int_equal(bytes_append(&o->cl, t.cl.data, t.cl.len), 0);
	for (size_t i = 0; i < t.n_ev; i++) {
		strncat(o->decisions, t.ev[i].decision,
			sizeof(o->decisions) - strlen(o->decisions) - 1);
		strncat(o->decisions, ",", sizeof(o->decisions) - strlen(o->decisions) - 1);
	}
	run_end(&t);
}

static void outputs_free(struct outputs *o)
{
	bytes_free(&o->up);
	bytes_free(&o->cl);
}

static void test_every_split(void **state)
{
	static const char chunked[] =
	    "POST /mcp HTTP/1.1\r\nHost: mcp.example\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "1a\r\n{\"jsonrpc\":\"2.0\",\"id\":4,\"m\r\n"
	    "1a;ext=1\r\nethod\":\"ping\",\"params\":{}}\r\n"
	    "0\r\nX-Trailer: yes\r\n\r\n";
	static const char get[] =
	    "GET /mcp HTTP/1.1\r\nHost: mcp.example\r\nAccept: text/event-stream\r\n\r\n";
	static const char r4[] =
	    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"
	    "2f\r\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":4}\n\n\r\n"
	    "0\r\n\r\n";
	static const char rget[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n6\r\n: hi\n\n\r\n";
	struct abc x;
	char cli[8192], srv[4096];
	size_t ncli, nsrv;
	struct outputs whole, part;

	abc_init(&x);
	ncli = (size_t)snprintf(cli, sizeof(cli), "%s%s%s%s%s", x.a, x.b, chunked, x.c, get);
	nsrv = (size_t)snprintf(srv, sizeof(srv), "%s%s%s%s", x.ra, r4, x.rc, rget);
	assert_true(ncli < sizeof(cli) && nsrv < sizeof(srv));
	run_split(cli, ncli, ncli, srv, nsrv, nsrv, &whole);
	{
		char up[8192];
		int n = snprintf(up, sizeof(up), "%s%s%s%s", x.a, chunked, x.c, get);

		assert_bytes(&whole.up, up, (size_t)n);
	}
	expect_cl(&(struct run){ .cl = whole.cl },
		  (const char *const[]){ x.ra, x.reply_b, r4, x.rc, rget, NULL });
	assert_string_equal(whole.decisions, "allow,deny,allow,allow,");
	for (size_t i = 0; i <= ncli; i++) {
		run_split(cli, ncli, i, srv, nsrv, nsrv, &part);
		if (part.up.len != whole.up.len ||
		    memcmp(part.up.data, whole.up.data, part.up.len) ||
		    part.cl.len != whole.cl.len || memcmp(part.cl.data, whole.cl.data, part.cl.len))
			fail_msg(
			    "client split at %zu: expected %zu/%zu bytes up/client, got %zu/%zu", i,
			    whole.up.len, whole.cl.len, part.up.len, part.cl.len);
		assert_string_equal(part.decisions, whole.decisions);
		assert_int_equal(part.close, whole.close);
		outputs_free(&part);
	}
	for (size_t i = 0; i <= nsrv; i++) {
		run_split(cli, ncli, ncli, srv, nsrv, i, &part);
		if (part.cl.len != whole.cl.len || memcmp(part.cl.data, whole.cl.data, part.cl.len))
			fail_msg("server split at %zu: expected '%s', got '%s'", i,
				 esc(whole.cl.data, whole.cl.len), esc(part.cl.data, part.cl.len));
		outputs_free(&part);
	}
	/* one byte at a time, both ways, interleaved */
	{
		struct run t;

		run_start(&t, false);
		for (size_t i = 0; i < ncli || i < nsrv; i++) {
			if (i < ncli)
				client_n(&t, cli + i, 1);
			if (i < nsrv && t.up.len > 0)
				server_n(&t, srv + i, 1);
		}
		assert_bytes(&t.up, whole.up.data, whole.up.len);
		run_end(&t);
	}
	outputs_free(&whole);
	abc_free(&x);
}

/* --- framing ----------------------------------------------------------------------------- */

static void test_chunked_body(void **state)
{
	/* the denied tools/call is split across chunks: the body is decoded before deciding */
	static const char req[] =
	    "POST /mcp HTTP/1.1\r\nHost: mcp.example\r\nAccept: application/json\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"
	    "10\r\n{\"jsonrpc\":\"2.0\"\r\n"
	    "35\r\n,\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":\"rm\"}}\r\n"
	    "0\r\n\r\n";
	static const char ok[] = "POST /mcp HTTP/1.1\r\nHost: mcp.example\r\n"
				 "Transfer-Encoding: chunked\r\n\r\n"
				 "5\r\n[{\"js\r\n"
				 "25\r\nonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]\r\n"
				 "0\r\n\r\n";
	struct reply rp;
	struct run t;

	run_start(&t, false);
	client(&t, req);
	assert_int_equal(t.up.len, 0);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_int_equal(rp.status, 200);
	check_denial(rp.body, 9, "no other tools");
	reply_clear(&rp);
	bytes_consume(&t.cl, t.cl.len);
	client(&t, ok);
	assert_bytes_str(&t.up, ok);
	assert_int_equal(t.cl.len, 0);
	assert_int_equal(t.n_ev, 2);
	assert_string_equal(t.ev[1].method, "ping");
	assert_string_equal(t.ev[1].rule, "plumbing");
	run_end(&t);
}

static void test_expect_continue(void **state)
{
	static const char body[] = CALL_ECHO(5);
	char head[512], *a = post(CALL_ECHO(1), NULL), *ra = response("{}");
	struct run t;
	int n;

	n = snprintf(head, sizeof(head),
		     "POST /mcp HTTP/1.1\r\nHost: mcp.example\r\nExpect: 100-continue\r\n"
		     "Content-Length: %zu\r\n\r\n",
		     strlen(body));
	run_start(&t, false);
	client_n(&t, head, (size_t)n);
	assert_bytes_str(&t.cl, "HTTP/1.1 100 Continue\r\n\r\n");
	assert_int_equal(t.up.len, 0);
	assert_int_equal(inspect_held(t.in), (size_t)n);
	client(&t, body);
	{
		char *whole = cat(head, body);

		assert_bytes_str(&t.up, whole);
		free(whole);
	}
	assert_bytes_str(&t.cl, "HTTP/1.1 100 Continue\r\n\r\n");
	run_end(&t);

	/* while a response is outstanding no interim reply may slip in before it */
	run_start(&t, false);
	client(&t, a);
	client_n(&t, head, (size_t)n);
	assert_int_equal(t.cl.len, 0);
	client(&t, body);
	server(&t, ra);
	assert_bytes_str(&t.cl, ra);
	run_end(&t);
	free(a);
	free(ra);
}

static void test_get_stream(void **state)
{
	static const char get[] = "GET /mcp HTTP/1.1\r\nHost: mcp.example\r\n"
				  "Accept: text/event-stream\r\nMcp-Session-Id: s1\r\n\r\n";
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n";
	static const char ev[] = "3f\r\nevent: message\ndata: "
				 "{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":0}\n\n\r\n";
	char *b = post(CALL_RM(2), NULL);
	struct run t;

	run_start(&t, false);
	client(&t, get);
	assert_bytes_str(&t.up, get);
	assert_int_equal(t.cl.len, 0);
	assert_int_equal(t.n_ev, 0);
	server(&t, resp);
	server(&t, ev);
	{
		char *both = cat(resp, ev);

		assert_bytes_str(&t.cl, both);
		free(both);
	}
	/* a denial pipelined behind the standing stream waits for it to end */
	client(&t, b);
	assert_int_equal(t.up.len, strlen(get));
	assert_int_equal(t.cl.len, strlen(resp) + strlen(ev));
	server(&t, "0\r\n\r\n");
	assert_true(t.cl.len > strlen(resp) + strlen(ev) + 5);
	assert_memory_equal(t.cl.data + strlen(resp) + strlen(ev), "0\r\n\r\nHTTP/1.1 200 ", 18);
	run_end(&t);
	free(b);
}

/* --- batches and notifications ----------------------------------------------------------- */

static void test_notification_batch_denied(void **state)
{
	char *n = post("[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
		       "{\"requestId\":1}},{\"jsonrpc\":\"2.0\",\"method\":"
		       "\"notifications/cancelled\",\"params\":{\"requestId\":2}}]",
		       NULL);
	char *single = post("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
			    "\"params\":{\"requestId\":1}}",
			    NULL);
	struct reply rp;
	struct run t;

	run_start(&t, false);
	client(&t, n);
	assert_int_equal(t.up.len, 0);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_int_equal(rp.status, 202); /* nothing to answer a notification with */
	assert_int_equal(rp.wire, t.cl.len);
	assert_null(rp.body);
	reply_clear(&rp);
	assert_int_equal(t.n_ev, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(t.ev[i].decision, "deny");
		assert_string_equal(t.ev[i].rule, "no cancelling");
		assert_string_equal(t.ev[i].method, "notifications/cancelled");
	}
	bytes_consume(&t.cl, t.cl.len);
	client(&t, single);
	assert_int_equal(t.up.len, 0);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_int_equal(rp.status, 202);
	reply_clear(&rp);
	run_end(&t);
	free(n);
	free(single);
}

static void test_batch_one_denied(void **state)
{
	char *b = post("[" CALL_ECHO(1) "," CALL_RM(
			   2) ","
			      "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}]",
		       "Accept: application/json\r\n");
	struct reply rp;
	struct run t;

	run_start(&t, false);
	client(&t, b);
	assert_int_equal(t.up.len, 0);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_int_equal(rp.status, 200);
	assert_true(json_is_array(rp.body));
	assert_int_equal(json_array_size(rp.body), 2); /* one error per request */
	check_denial(json_array_get(rp.body, 0), 1, "no other tools");
	check_denial(json_array_get(rp.body, 1), 2, "no other tools");
	reply_clear(&rp);
	assert_int_equal(t.n_ev, 3);
	run_end(&t);
	free(b);
}

static void test_report_events(void **state)
{
	char *b = post("[" CALL_ECHO(1) "," CALL_RM(
			   2) ","
			      "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"},"
			      "{\"jsonrpc\":\"2.0\",\"id\":99,\"result\":{}}]",
		       NULL);
	static const struct {
		const char *method, *tool, *decision, *rule, *reason;
	} want[] = {
		{ "tools/call", "echo", "allow", "echo for the app", "" },
		{ "tools/call", "rm", "deny", "no other tools", "tool not allowed" },
		{ "notifications/initialized", "", "allow", "plumbing", "" },
		{ "", "", "malformed", "", NULL },
	};
	struct run t;

	run_start(&t, false);
	client(&t, b); /* the response member gets no event: it is not asked for */
	client(&t, "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n{[}");
	assert_int_equal(t.n_ev, 4);
	for (size_t i = 0; i < 4; i++) {
		if (strcmp(t.ev[i].method, want[i].method) || strcmp(t.ev[i].tool, want[i].tool) ||
		    strcmp(t.ev[i].decision, want[i].decision) ||
		    strcmp(t.ev[i].rule, want[i].rule))
			fail_msg("event %zu: expected %s/%s %s by '%s', got %s/%s %s by '%s'", i,
				 want[i].method, want[i].tool, want[i].decision, want[i].rule,
				 t.ev[i].method, t.ev[i].tool, t.ev[i].decision, t.ev[i].rule);
		if (want[i].reason)
			assert_string_equal(t.ev[i].reason, want[i].reason);
		assert_string_equal(t.ev[i].sub, "");
	}
	assert_true(t.ev[3].reason[0] != 0);
	run_end(&t);
	free(b);
}

/* A tools/list response is held and re-framed; a reason phrase longer than the agent's
 * status line buffer (fuzz reproducer crash-long-reason-capture) must not be read past. */
static void test_tools_list_long_reason(void **state)
{
	static const char body[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[]}}";
	char *tl = post("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}", NULL);
	char reason[301], resp[1024], *eol;
	struct reply rp;
	struct run t;

	memset(reason, 'x', 300);
	reason[300] = 0;
	snprintf(resp, sizeof(resp),
		 "HTTP/1.1 200 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		 "\r\n%s",
		 reason, strlen(body), body);
	run_start(&t, false);
	client(&t, tl);
	assert_bytes_str(&t.up, tl);
	server(&t, resp);
	assert_true(t.cl.len > 0);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_int_equal(rp.status, 200);
	assert_int_equal(rp.wire, t.cl.len);
	eol = strstr(rp.head, "\r\n");
	assert_non_null(eol);
	assert_true(eol - rp.head < 256);
	assert_non_null(rp.body);
	assert_true(json_is_array(json_object_get(json_object_get(rp.body, "result"), "tools")));
	reply_clear(&rp);
	run_end(&t);
	free(tl);
}

static void test_env_refcount(void **state)
{
	struct mw_inspect_env *e = env_new(false);
	struct mw_inspect *a, *b;

	assert_int_equal(inspect_new(e, &flow, NULL, NULL, &a), 0);
	assert_int_equal(inspect_new(e, &flow, NULL, NULL, &b), 0);
	assert_int_equal(e->refs, 3);
	inspect_env_unref(e); /* the flows keep it alive */
	inspect_free(a);
	assert_int_equal(e->refs, 1);
	inspect_free(b);
	assert_null(inspect_free(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed_forwarded),
		cmocka_unit_test(test_partial_request_held),
		cmocka_unit_test(test_denied_json),
		cmocka_unit_test(test_denied_sse),
		cmocka_unit_test(test_denied_by_args),
		cmocka_unit_test(test_order_keepalive),
		cmocka_unit_test(test_order_pipelined),
		cmocka_unit_test(test_order_denied_first),
		cmocka_unit_test(test_order_upstream_broken),
		cmocka_unit_test(test_every_split),
		cmocka_unit_test(test_chunked_body),
		cmocka_unit_test(test_expect_continue),
		cmocka_unit_test(test_get_stream),
		cmocka_unit_test(test_notification_batch_denied),
		cmocka_unit_test(test_batch_one_denied),
		cmocka_unit_test(test_report_events),
		cmocka_unit_test(test_tools_list_long_reason),
		cmocka_unit_test(test_env_refcount),
	};

	return cmocka_run_group_tests_name("inspect", tests, NULL, NULL);
}
