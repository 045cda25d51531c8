/* test_inspect_resp.c: the checkpoint's server side: JSON bodies held and re-framed, SSE
 * streams passed event by event however the bytes are split, server-to-client requests
 * decided by the policy (a denied one removed, the events around it kept), tools/list
 * filtered, payload records in order, and the bound on held bodies. */
#include "inspect_fixtures.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

#define SAMPLING(id)                                                                               \
	"{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"method\":\"sampling/createMessage\",\"params\":"    \
	"{\"messages\":[],\"maxTokens\":5}}"
#define RESULT_ECHO(id) "{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"result\":{\"content\":[]}}"
#define PROGRESS                                                                                   \
	"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":"                   \
	"{\"progressToken\":1,\"progress\":1}}"

static const char sse_head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n";

/* The events of one stream, as the server writes them and as the client must get them. */
static const char *const ev_in[] = {
	"id: 0\ndata:\n\n",				    /* priming: no data, kept */
	": keep-alive\nretry: 500\n\n",			    /* comment and retry only */
	"id: 1\nevent: message\ndata: " PROGRESS "\n\n",    /* a notification: kept */
	"id: 2\nevent: message\ndata: " SAMPLING(7) "\n\n", /* denied: only its id stays */
	"event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"ping\"}\n\n",
	"data: " SAMPLING(9) "\r\n\r\n", /* denied, no id: gone */
	"id: 3\r\nevent: message\r\ndata: " RESULT_ECHO(1) "\r\n\r\n",
};
static const char *const ev_out[] = {
	"id: 0\ndata:\n\n",
	": keep-alive\nretry: 500\n\n",
	"id: 1\nevent: message\ndata: " PROGRESS "\n\n",
	"id: 2\n\n",
	"event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"ping\"}\n\n",
	NULL,
	"id: 3\r\nevent: message\r\ndata: " RESULT_ECHO(1) "\r\n\r\n",
};

/* The server's stream cut into chunks at other places than the events. */
static char *stream_chunked(void)
{
	char all[4096], *s;
	size_t n = 0, off = 0, k = 0;
	static const size_t cuts[] = { 5, 40, 1, 90, 300, 17 };
	int w;

	for (size_t i = 0; i < ARRAY_SIZE(ev_in); i++)
		n += (size_t)snprintf(all + n, sizeof(all) - n, "%s", ev_in[i]);
	s = malloc(2 * sizeof(all));
	assert_non_null(s);
	w = snprintf(s, 2 * sizeof(all), "%s", sse_head);
	while (off < n) {
		size_t c = cuts[k++ % ARRAY_SIZE(cuts)];

		if (c > n - off)
			c = n - off;
		w += snprintf(s + w, 2 * sizeof(all) - (size_t)w, "%zx;ext=1\r\n%.*s\r\n", c,
			      (int)c, all + off);
		off += c;
	}
	snprintf(s + w, 2 * sizeof(all) - (size_t)w, "0\r\n\r\n");
	return s;
}

/* What the client must get: one chunk per kept event. */
static char *stream_expected(void)
{
	char *s = malloc(8192);
	int w;

	assert_non_null(s);
	w = snprintf(s, 8192, "%s", sse_head);
	for (size_t i = 0; i < ARRAY_SIZE(ev_out); i++)
		if (ev_out[i])
			w += snprintf(s + w, 8192 - (size_t)w, "%zx\r\n%s\r\n", strlen(ev_out[i]),
				      ev_out[i]);
	snprintf(s + w, 8192 - (size_t)w, "0\r\n\r\n");
	return s;
}

static void check_s2c_events(const struct run *t)
{
	/* the request's allow, then sampling denied, ping allowed, sampling denied */
	assert_int_equal(t->n_ev, 4);
	assert_string_equal(t->ev[0].method, "tools/call");
	assert_string_equal(t->ev[1].method, "sampling/createMessage");
	assert_string_equal(t->ev[1].decision, "deny");
	assert_string_equal(t->ev[1].rule, "no other tools");
	assert_string_equal(t->ev[2].method, "ping");
	assert_string_equal(t->ev[2].decision, "allow");
	assert_string_equal(t->ev[2].rule, "plumbing");
	assert_string_equal(t->ev[3].decision, "deny");
}

static void test_sse_chunked_every_byte(void **state)
{
	char *req = post(CALL_ECHO(1), NULL), *in = stream_chunked(), *exp = stream_expected();
	size_t n = strlen(in);
	struct run t;

	/* whole */
	run_start(&t, false);
	client(&t, req);
	server(&t, in);
	assert_bytes_str(&t.cl, exp);
	check_s2c_events(&t);
	run_end(&t);
	/* byte by byte: the same, and each event out as soon as it is whole */
	run_start(&t, false);
	client(&t, req);
	for (size_t i = 0; i < n; i++) {
		server_n(&t, in + i, 1);
		assert_true(t.cl.len <= strlen(exp));
		assert_memory_equal(t.cl.data, exp, t.cl.len);
		if (i + 1 == (size_t)(strstr(in, "ping") - in)) /* the progress event is out */
			assert_non_null(memmem(t.cl.data, t.cl.len, "progress", 8));
	}
	assert_bytes_str(&t.cl, exp);
	check_s2c_events(&t);
	run_end(&t);
	/* every split in two */
	for (size_t i = 0; i <= n; i++) {
		run_start(&t, false);
		client(&t, req);
		server_n(&t, in, i);
		server_n(&t, in + i, n - i);
		if (t.cl.len != strlen(exp) || memcmp(t.cl.data, exp, t.cl.len))
			fail_msg("split at %zu: got '%s'", i, esc(t.cl.data, t.cl.len));
		run_end(&t);
	}
	free(req);
	free(in);
	free(exp);
}

/* Content-Length SSE: held whole, the length recomputed, nothing before the end. */
static void test_sse_content_length(void **state)
{
	char *req = post(CALL_ECHO(1), NULL), body[4096], exp_body[4096], resp[8192], exp[8192];
	size_t nb = 0, ne = 0;
	struct run t;

	for (size_t i = 0; i < ARRAY_SIZE(ev_in); i++) {
		nb += (size_t)snprintf(body + nb, sizeof(body) - nb, "%s", ev_in[i]);
		if (ev_out[i])
			ne +=
			    (size_t)snprintf(exp_body + ne, sizeof(exp_body) - ne, "%s", ev_out[i]);
	}
	snprintf(resp, sizeof(resp),
		 "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nMcp-Session-Id: s9\r\n"
		 "Content-Length: %zu\r\n\r\n%s",
		 nb, body);
	snprintf(exp, sizeof(exp),
		 "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nMcp-Session-Id: s9\r\n"
		 "Content-Length: %zu\r\n\r\n%s",
		 ne, exp_body);
	run_start(&t, false);
	client(&t, req);
	server_n(&t, resp, strlen(resp) - 1);
	assert_int_equal(t.cl.len, 0);
	server(&t, resp + strlen(resp) - 1);
	assert_bytes_str(&t.cl, exp);
	check_s2c_events(&t);
	run_end(&t);
	free(req);
}

/* JSON: held whole, re-emitted with a Content-Length, also when upstream used chunked. */
static void test_json_reframed(void **state)
{
	char *req = post(CALL_ECHO(1), NULL), *plain = response(RESULT_ECHO(1));
	static const char chunked[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				      "Transfer-Encoding: chunked\r\n\r\n"
				      "11\r\n{\"jsonrpc\":\"2.0\",\r\n"
				      "1f\r\n\"id\":1,\"result\":{\"content\":[]}}\r\n"
				      "0\r\nX-T: 1\r\n\r\n";
	struct run t;

	run_start(&t, false);
	client(&t, req);
	server(&t, plain);
	assert_bytes_str(&t.cl, plain); /* unchanged, byte for byte */
	client(&t, req);
	t.cl.len = 0;
	for (size_t i = 0; i < strlen(chunked); i++)
		server_n(&t, chunked + i, 1);
	assert_bytes_str(&t.cl, plain);
	run_end(&t);
	free(req);
	free(plain);
}

/* A server request in a JSON body (against the spec, but clients read it): decided too; a
 * batch loses only its denied member. */
static void test_json_s2c(void **state)
{
	char *req = post(CALL_ECHO(1), NULL);
	char *r1 = response("[" SAMPLING(5) "," RESULT_ECHO(1) "]");
	char *exp = response("[" RESULT_ECHO(1) "]");
	char *r2 = response(SAMPLING(6));
	struct run t;

	run_start(&t, false);
	client(&t, req);
	server(&t, r1);
	assert_bytes_str(&t.cl, exp);
	assert_string_equal(t.ev[1].method, "sampling/createMessage");
	assert_string_equal(t.ev[1].decision, "deny");
	client(&t, req);
	t.cl.len = 0;
	server(&t, r2);
	assert_bytes_str(&t.cl, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				"Content-Length: 0\r\n\r\n");
	run_end(&t);
	free(req);
	free(r1);
	free(r2);
	free(exp);
}

/* The standing GET stream: a server request on it is decided (and removed) too. */
static void test_get_stream_s2c(void **state)
{
	static const char get[] = "GET /mcp HTTP/1.1\r\nHost: mcp.example\r\n"
				  "Accept: text/event-stream\r\nMcp-Session-Id: s1\r\n\r\n";
	static const char ev1[] = "event: message\ndata: " SAMPLING(1) "\n\n";
	static const char ev2[] = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":"
				  "\"notifications/tools/list_changed\"}\n\n";
	char in[1024], exp[1024];
	struct run t;

	snprintf(in, sizeof(in), "%s%zx\r\n%s\r\n%zx\r\n%s\r\n", sse_head, strlen(ev1), ev1,
		 strlen(ev2), ev2);
	snprintf(exp, sizeof(exp), "%s%zx\r\n%s\r\n", sse_head, strlen(ev2), ev2);
	run_start(&t, false);
	client(&t, get);
	server(&t, in);
	assert_bytes_str(&t.cl, exp);
	assert_int_equal(t.n_ev, 1);
	assert_string_equal(t.ev[0].method, "sampling/createMessage");
	assert_string_equal(t.ev[0].decision, "deny");
	run_end(&t);
}

/* An unreadable message that may hold a request is not forwarded. */
static void test_unreadable_dropped(void **state)
{
	static const char ev[] = "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\","
				 "\"method\":\"sampling/createMessage\"}\n\n";
	static const char ok[] = "data: not json at all\n\n";
	char *req = post(CALL_ECHO(1), NULL), in[1024], exp[1024];
	struct run t;

	snprintf(in, sizeof(in), "%s%zx\r\n%s\r\n%zx\r\n%s\r\n0\r\n\r\n", sse_head, strlen(ev), ev,
		 strlen(ok), ok);
	snprintf(exp, sizeof(exp), "%s%zx\r\n%s\r\n0\r\n\r\n", sse_head, strlen(ok), ok);
	run_start(&t, false);
	client(&t, req);
	server(&t, in);
	assert_bytes_str(&t.cl, exp);
	assert_string_equal(t.ev[1].decision, "malformed");
	run_end(&t);
	free(req);
}

/* tools/list in an SSE reply: filtered in its event, the event re-encoded. */
static void test_tools_list_sse(void **state)
{
	char *req = post("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}", NULL);
	static const char ev[] =
	    "id: 4\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":["
	    "{\"name\":\"echo\",\"inputSchema\":{}},{\"name\":\"rm\",\"inputSchema\":{}}]}}\n\n";
	static const char exp_ev[] =
	    "event: message\nid: 4\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":["
	    "{\"name\":\"echo\",\"inputSchema\":{}}]}}\n\n";
	char in[1024], exp[1024];
	struct run t;

	snprintf(in, sizeof(in), "%s%zx\r\n%s\r\n0\r\n\r\n", sse_head, strlen(ev), ev);
	snprintf(exp, sizeof(exp), "%s%zx\r\n%s\r\n0\r\n\r\n", sse_head, strlen(exp_ev), exp_ev);
	run_start(&t, false);
	client(&t, req);
	server(&t, in);
	assert_bytes_str(&t.cl, exp);
	run_end(&t);
	free(req);
}

/* --- payload records ------------------------------------------------------------------- */

#define MAX_RECS 16

struct recs {
	struct run t; /* first: the userdata is the run */
	size_t n;
	struct {
		bool to_client, own;
		int status;
		char method[64], tool[64], session[64], payload[512];
		size_t len;
	} r[MAX_RECS];
};

static void on_record(void *userdata, const struct mw_inspect_record *rec)
{
	struct recs *x = userdata;

	if (x->n >= MAX_RECS)
		fail_msg("more than %d records", MAX_RECS);
	/* called before the bytes are queued: what is recorded is not in the output yet */
	if (rec->to_client && rec->len && !rec->own)
		assert_null(memmem(x->t.cl.data ? x->t.cl.data : (uint8_t *)"", x->t.cl.len,
				   rec->payload, rec->len));
	x->r[x->n].to_client = rec->to_client;
	x->r[x->n].own = rec->own;
	x->r[x->n].status = rec->status;
	snprintf(x->r[x->n].method, 64, "%s", rec->method);
	snprintf(x->r[x->n].tool, 64, "%s", rec->tool);
	snprintf(x->r[x->n].session, 64, "%s", rec->session);
	snprintf(x->r[x->n].payload, 512, "%.*s", (int)rec->len, rec->payload);
	x->r[x->n].len = rec->len;
	assert_string_equal(rec->masked, "");
	x->n++;
}

static void test_recorder(void **state)
{
	char *req = post(CALL_ECHO(1), "Accept: application/json, text/event-stream\r\n"
				       "Mcp-Session-Id: sess-1\r\n");
	char *denied = post(CALL_RM(2), "Accept: application/json\r\nMcp-Session-Id: sess-1\r\n");
	char *in = stream_chunked();
	struct recs x = {};

	run_start(&x.t, false);
	inspect_set_recorder(x.t.in, on_record);
	client(&x.t, req);
	assert_int_equal(x.n, 1);
	assert_false(x.r[0].to_client);
	assert_string_equal(x.r[0].method, "tools/call");
	assert_string_equal(x.r[0].tool, "echo");
	assert_string_equal(x.r[0].session, "sess-1");
	assert_string_equal(x.r[0].payload, CALL_ECHO(1));
	server(&x.t, in);
	/* the events with data that went out: progress, ping, the result */
	assert_int_equal(x.n, 4);
	assert_string_equal(x.r[1].payload, PROGRESS);
	assert_string_equal(x.r[2].payload, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"ping\"}");
	assert_string_equal(x.r[3].payload, RESULT_ECHO(1));
	for (size_t i = 1; i < 4; i++) {
		assert_true(x.r[i].to_client);
		assert_false(x.r[i].own);
		assert_int_equal(x.r[i].status, 200);
		assert_string_equal(x.r[i].method, "tools/call");
		assert_string_equal(x.r[i].tool, "echo");
		assert_string_equal(x.r[i].session, "sess-1");
	}
	client(&x.t, denied);
	assert_int_equal(x.n, 5);
	assert_true(x.r[4].to_client && x.r[4].own);
	assert_int_equal(x.r[4].status, 200);
	assert_string_equal(x.r[4].tool, "rm");
	assert_non_null(strstr(x.r[4].payload, "\"code\":-32010"));
	assert_non_null(strstr((char *)x.t.cl.data, x.r[4].payload));
	run_end(&x.t);
	free(req);
	free(denied);
	free(in);
}

/* --- bounds ---------------------------------------------------------------------------- */

static void test_json_too_large(void **state)
{
	char *req = post(CALL_ECHO(1), NULL), head[256];
	size_t big = MW_INSPECT_MAX_RESPONSE + 1;
	char *body = malloc(big);
	struct reply rp;
	struct run t;

	assert_non_null(body);
	memset(body, ' ', big);
	snprintf(head, sizeof(head),
		 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
		 big);
	run_start(&t, false);
	client(&t, req);
	server(&t, head);
	server_n(&t, body, big / 2);
	assert_int_equal(t.cl.len, 0);
	server_n(&t, body + big / 2, big - big / 2);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_int_equal(rp.status, 502);
	assert_int_equal(rp.wire, t.cl.len); /* nothing of the body */
	assert_contains(rp.head, "Connection: close\r\n");
	assert_true(inspect_closing(t.in));
	server(&t, "more");
	assert_int_equal(rp.wire, t.cl.len);
	reply_clear(&rp);
	run_end(&t);
	free(body);
	free(req);
}

static void test_sse_event_too_large(void **state)
{
	char *req = post(CALL_ECHO(1), NULL);
	size_t big = MW_INSPECT_MAX_EVENT + 16;
	char *data = malloc(big), line[32];
	struct run t;

	assert_non_null(data);
	memset(data, 'x', big);
	memcpy(data, "data: ", 6);
	snprintf(line, sizeof(line), "%zx\r\n", big);
	run_start(&t, false);
	client(&t, req);
	server(&t, sse_head);
	server(&t, line);
	assert_int_equal(inspect_server(t.in, (uint8_t *)data, big, &t.cl), -EMSGSIZE);
	assert_int_equal(t.cl.len, strlen(sse_head)); /* no partial event */
	run_end(&t);
	free(data);
	free(req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sse_chunked_every_byte),
		cmocka_unit_test(test_sse_content_length),
		cmocka_unit_test(test_json_reframed),
		cmocka_unit_test(test_json_s2c),
		cmocka_unit_test(test_get_stream_s2c),
		cmocka_unit_test(test_unreadable_dropped),
		cmocka_unit_test(test_tools_list_sse),
		cmocka_unit_test(test_recorder),
		cmocka_unit_test(test_json_too_large),
		cmocka_unit_test(test_sse_event_too_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
