/* test_http1.c: the HTTP/1.1 parser. Every input is parsed whole, byte by byte and split in two
 * at every position; the transcripts (heads, bodies, ends, errors) must be identical. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http1.h"

#define MAX_MSGS 8
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct msg {
	char start[512]; /* method target version, or version status reason */
	unsigned flags;
	uint64_t content_length;
	size_t n_headers, head_bytes, wire;
	char headers[2048];
	char body[8192];
	size_t body_len;
	bool done;
	unsigned done_flags;
	char trailers[512];
};

struct result {
	struct msg m[MAX_MSGS];
	size_t n;
	int rc;
	enum http1_error err;
	size_t consumed;
	char log[65536];
	size_t log_len;
};

static void logf_(struct result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	r->log_len += (size_t)vsnprintf(r->log + r->log_len, sizeof(r->log) - r->log_len, fmt, ap);
	va_end(ap);
	assert_true(r->log_len < sizeof(r->log));
}

static void add_fields(char *dst, size_t size, const struct http1_header *h, size_t n)
{
	size_t off = 0;

	dst[0] = 0;
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(dst + off, size - off, "%.*s=%.*s|", (int)h[i].name.len,
					h[i].name.p, (int)h[i].value.len, h[i].value.p);
}

static void push_methods(struct http1_parser *p, const char *methods)
{
	for (const char *c = methods; c && *c; c++)
		assert_int_equal(http1_parser_push_request(p, *c == 'H'	  ? HTTP1_M_HEAD
							      : *c == 'C' ? HTTP1_M_CONNECT
							      : *c == 'P' ? HTTP1_M_POST
									  : HTTP1_M_GET),
				 0);
}

static void on_event(struct result *r, struct http1_parser *p, const struct http1_event *ev)
{
	struct msg *m = &r->m[r->n < MAX_MSGS ? r->n : MAX_MSGS - 1];
	const struct http1_head *h = http1_parser_head(p);
	const struct http1_header *t;
	size_t nt;

	m->wire += ev->wire;
	switch (ev->type) {
	case HTTP1_EV_HEAD:
		if (h->kind == HTTP1_REQUEST)
			snprintf(m->start, sizeof(m->start), "%.*s %.*s 1.%d", (int)h->method.len,
				 h->method.p, (int)h->target.len, h->target.p, h->version_minor);
		else
			snprintf(m->start, sizeof(m->start), "1.%d %d %.*s", h->version_minor,
				 h->status, (int)h->reason.len, h->reason.p);
		m->flags = h->flags;
		m->content_length = h->content_length;
		m->n_headers = h->n_headers;
		m->head_bytes = h->head_bytes;
		assert_int_equal(ev->wire, h->head_bytes);
		add_fields(m->headers, sizeof(m->headers), h->headers, h->n_headers);
		logf_(r, "HEAD %s f=%x cl=%llu %s\n", m->start, m->flags,
		      (unsigned long long)m->content_length, m->headers);
		break;
	case HTTP1_EV_BODY:
		assert_true(ev->len > 0);
		if (m->body_len + ev->len < sizeof(m->body))
			memcpy(m->body + m->body_len, ev->data, ev->len);
		m->body_len += ev->len;
		break;
	case HTTP1_EV_DONE:
		t = http1_parser_trailers(p, &nt);
		add_fields(m->trailers, sizeof(m->trailers), t, nt);
		m->done = true;
		m->done_flags = ev->flags;
		logf_(r, "BODY %zu %.*s\nDONE f=%x wire=%zu t=%s\n", m->body_len,
		      (int)(m->body_len < sizeof(m->body) ? m->body_len : 0), m->body, ev->flags,
		      m->wire, m->trailers);
		r->n++;
		break;
	default:
		fail();
	}
}

/* Feed in pieces: cut[] are the split offsets. */
static void feed(struct result *r, enum http1_kind kind, const struct http1_limits *lim,
		 const char *methods, const char *in, size_t len, const size_t *cut, size_t ncut)
{
	struct http1_parser *p = NULL;
	struct http1_event ev;
	size_t off = 0;

	memset(r, 0, sizeof(*r));
	assert_int_equal(http1_parser_new(kind, lim, &p), 0);
	push_methods(p, methods);
	for (size_t piece = 0; piece <= ncut; piece++) {
		size_t end = piece < ncut ? cut[piece] : len;
		const uint8_t *b = (const uint8_t *)in + off;
		size_t n = end - off;

		do {
			r->rc = http1_parse(p, b, n, &ev);
			if (r->rc < 0)
				goto out;
			assert_true(ev.consumed <= n);
			b += ev.consumed;
			n -= ev.consumed;
			r->consumed += ev.consumed;
			if (ev.type != HTTP1_EV_NONE)
				on_event(r, p, &ev);
		} while (ev.type != HTTP1_EV_NONE);
		off = end;
	}
	r->rc = http1_parse_eof(p, &ev);
	if (r->rc >= 0 && ev.type == HTTP1_EV_DONE) {
		logf_(r, "EOF ");
		on_event(r, p, &ev);
	}
out:
	r->err = http1_parser_error(p);
	if (r->rc < 0)
		r->m[r->n < MAX_MSGS ? r->n : MAX_MSGS - 1].wire = 0; /* partial: not compared */
	logf_(r, "END rc=%d err=%s consumed=%s\n", r->rc, http1_error_str(r->err),
	      r->rc < 0 ? "-" : "all");
	if (r->rc >= 0)
		assert_int_equal(r->consumed, len);
	http1_parser_free(p);
}

/* Whole, byte by byte, and split at every position: the same transcript each time. */
static const struct result *parse_lim(enum http1_kind kind, const struct http1_limits *lim,
				      const char *methods, const char *in, size_t len)
{
	static struct result whole, other;
	static size_t cuts[1 << 16];

	assert_true(len < ARRAY_SIZE(cuts));
	feed(&whole, kind, lim, methods, in, len, NULL, 0);
	for (size_t i = 1; i < len; i++)
		cuts[i - 1] = i;
	feed(&other, kind, lim, methods, in, len, cuts, len ? len - 1 : 0);
	assert_string_equal(whole.log, other.log);
	for (size_t i = 1; i < len; i++) {
		feed(&other, kind, lim, methods, in, len, &i, 1);
		assert_string_equal(whole.log, other.log);
	}
	return &whole;
}

#define REQ(s) parse_lim(HTTP1_REQUEST, NULL, NULL, s, sizeof(s) - 1)
#define RESP(methods, s) parse_lim(HTTP1_RESPONSE, NULL, methods, s, sizeof(s) - 1)
#define PLIM(kind, lim, m, s) parse_lim(kind, lim, m, s, sizeof(s) - 1)
#define assert_err(r, e) assert_string_equal(http1_error_str((r)->err), http1_error_str(e))
#define assert_ok(r)                                                                               \
	do {                                                                                       \
		assert_err(r, HTTP1_E_NONE);                                                       \
		assert_int_equal((r)->rc, 0);                                                      \
	} while (0)

static void test_request_get(void **state)
{
	const struct result *r = REQ("GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\n"
				     "User-Agent: t\r\n\r\n");

	assert_ok(r);
	assert_int_equal(r->n, 1);
	assert_string_equal(r->m[0].start, "GET /index.html?q=1 1.1");
	assert_string_equal(r->m[0].headers, "Host=example.com|User-Agent=t|");
	assert_int_equal(r->m[0].flags, HTTP1_HEAD_KEEP_ALIVE | HTTP1_HEAD_NO_BODY);
	assert_int_equal(r->m[0].done_flags, 0);
	assert_int_equal(r->m[0].head_bytes, 66);
	assert_int_equal(r->m[0].wire, 66);
}

static const char mcp_post[] =
    "POST /mcp HTTP/1.1\r\n"
    "Host: 127.0.0.1:3000\r\n"
    "Content-Type: application/json\r\n"
    "Accept: application/json, text/event-stream\r\n"
    "Mcp-Session-Id: 1868a90c-0d4b-4b5e-9e4c-5ebf1f3f2b2a\r\n"
    "Mcp-Protocol-Version: 2025-11-25\r\n"
    "Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig\r\n"
    "Content-Length: 75\r\n"
    "\r\n"
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\"}}   \n";

static void test_mcp_post(void **state)
{
	struct http1_parser *p = NULL;
	const struct http1_header *f;
	const struct http1_head *h;
	struct http1_event ev;
	struct http1_str e;
	size_t iter = 0, pos = 0;
	const struct result *r = REQ(mcp_post);

	assert_ok(r);
	assert_int_equal(r->n, 1);
	assert_int_equal(r->m[0].body_len, 75);
	assert_int_equal(r->m[0].content_length, 75);
	assert_int_equal(r->m[0].flags, HTTP1_HEAD_KEEP_ALIVE | HTTP1_HEAD_CONTENT_LENGTH);
	assert_int_equal(r->m[0].wire, sizeof(mcp_post) - 1);

	/* Field lookup and list helpers on the live head. */
	assert_int_equal(http1_parser_new(HTTP1_REQUEST, NULL, &p), 0);
	assert_int_equal(http1_parse(p, mcp_post, sizeof(mcp_post) - 1, &ev), 0);
	assert_int_equal(ev.type, HTTP1_EV_HEAD);
	h = http1_parser_head(p);
	assert_int_equal(h->method_id, HTTP1_M_POST);
	f = http1_find(h->headers, h->n_headers, "mcp-session-id", &iter);
	assert_non_null(f);
	assert_true(http1_str_eq_ci(f->value, "1868A90C-0D4B-4B5E-9E4C-5EBF1F3F2B2A"));
	assert_null(http1_find(h->headers, h->n_headers, "MCP-SESSION-ID", &iter));
	f = http1_find(h->headers, h->n_headers, "MCP-PROTOCOL-VERSION", NULL);
	assert_true(f && http1_str_eq_ci(f->value, "2025-11-25"));
	f = http1_find(h->headers, h->n_headers, "accept", NULL);
	assert_true(http1_list_next(f->value, &pos, &e) && http1_str_eq_ci(e, "application/json"));
	assert_true(http1_list_next(f->value, &pos, &e) && http1_str_eq_ci(e, "text/event-stream"));
	assert_false(http1_list_next(f->value, &pos, &e));
	assert_true(http1_list_has(f->value, "TEXT/EVENT-STREAM"));
	assert_false(http1_list_has(f->value, "text/event"));
	/* The body slice points into the input, right after the head. */
	assert_int_equal(
	    http1_parse(p, mcp_post + ev.consumed, sizeof(mcp_post) - 1 - ev.consumed, &ev), 0);
	assert_int_equal(ev.type, HTTP1_EV_BODY);
	assert_ptr_equal(ev.data, (const uint8_t *)mcp_post + h->head_bytes);
	assert_int_equal(http1_parser_body_bytes(p), 75);
	http1_parser_free(p);
}

static void test_helpers(void **state)
{
	static const char list[] = "a, \"b,c\" ,, d;q=\"x,y\" ,";
	struct http1_str v = {list, sizeof(list) - 1}, e;
	size_t pos = 0;

	assert_true(http1_list_next(v, &pos, &e));
	assert_true(http1_str_eq_ci(e, "a"));
	assert_true(http1_list_next(v, &pos, &e));
	assert_true(http1_str_eq_ci(e, "\"b,c\""));
	assert_true(http1_list_next(v, &pos, &e));
	assert_true(http1_str_eq_ci(e, "d;q=\"x,y\""));
	assert_false(http1_list_next(v, &pos, &e));
	assert_int_equal(http1_method_from("PATCH", 5), HTTP1_M_PATCH);
	assert_int_equal(http1_method_from("get", 3), HTTP1_M_OTHER);
	assert_int_equal(http1_method_from("CONNECT", 7), HTTP1_M_CONNECT);
	for (int e2 = 1; e2 < _HTTP1_E_MAX; e2++) {
		int s = http1_error_status(HTTP1_REQUEST, (enum http1_error)e2);

		assert_true(s == 400 || s == 413 || s == 417 || s == 431 || s == 501 || s == 505);
		assert_int_equal(http1_error_status(HTTP1_RESPONSE, (enum http1_error)e2), 502);
		assert_true(strlen(http1_error_str((enum http1_error)e2)) > 5);
	}
	assert_int_equal(http1_error_status(HTTP1_REQUEST, HTTP1_E_NONE), 0);
	assert_int_equal(http1_error_status(HTTP1_REQUEST, HTTP1_E_HEAD_TOO_LARGE), 431);
	assert_int_equal(http1_error_status(HTTP1_REQUEST, HTTP1_E_TOO_MANY_HEADERS), 431);
	assert_int_equal(http1_error_status(HTTP1_REQUEST, HTTP1_E_BODY_TOO_LARGE), 413);
	assert_int_equal(http1_error_status(HTTP1_REQUEST, HTTP1_E_TE_UNKNOWN), 501);
	assert_int_equal(http1_error_status(HTTP1_REQUEST, HTTP1_E_VERSION_UNSUPPORTED), 505);
	assert_int_equal(http1_error_status(HTTP1_REQUEST, HTTP1_E_EXPECT_UNKNOWN), 417);
	assert_int_equal(http1_error_status(HTTP1_REQUEST, HTTP1_E_CL_AND_TE), 400);
}

static void test_chunked_trailers(void **state)
{
	const struct result *r =
	    REQ("POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
		"\r\n"
		"5;name=\"v;a\\\"l\";flag\r\nhello\r\n"
		"6 ; x = y\r\n world\r\n"
		"A\r\n0123456789\r\n"
		"0\r\nX-Checksum: abc\r\nX-Other:  1 \r\n\r\n");

	assert_ok(r);
	assert_int_equal(r->n, 1);
	assert_int_equal(r->m[0].flags, HTTP1_HEAD_KEEP_ALIVE | HTTP1_HEAD_CHUNKED);
	assert_int_equal(r->m[0].body_len, 21);
	assert_memory_equal(r->m[0].body, "hello world0123456789", 21);
	assert_string_equal(r->m[0].trailers, "X-Checksum=abc|X-Other=1|");
}

static void test_pipelining(void **state)
{
	const struct result *r =
	    REQ("POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
		"GET /b HTTP/1.1\r\nHost: a\r\n\r\n"
		"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
		"2\r\nxy\r\n0\r\n\r\n"
		"GET /d HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");

	assert_ok(r);
	assert_int_equal(r->n, 4);
	assert_string_equal(r->m[0].start, "POST /a 1.1");
	assert_string_equal(r->m[0].body, "abc");
	assert_string_equal(r->m[1].start, "GET /b 1.1");
	assert_string_equal(r->m[2].body, "xy");
	assert_int_equal(r->m[2].wire, 69);
	assert_string_equal(r->m[3].start, "GET /d 1.1");
	assert_int_equal(r->m[3].done_flags, HTTP1_DONE_CLOSE);
	assert_false(r->m[3].flags & HTTP1_HEAD_KEEP_ALIVE);
}

static void test_keepalive(void **state)
{
	const struct result *r;

	r = REQ("GET / HTTP/1.0\r\n\r\n");
	assert_ok(r);
	assert_int_equal(r->m[0].done_flags, HTTP1_DONE_CLOSE);
	r = REQ("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n");
	assert_ok(r);
	assert_int_equal(r->n, 2);
	assert_int_equal(r->m[0].done_flags, 0);
	assert_int_equal(r->m[1].done_flags, HTTP1_DONE_CLOSE);
	r = REQ("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\nGET / HTTP/1.1\r\n");
	assert_err(r, HTTP1_E_DATA_AFTER_CLOSE);
	assert_int_equal(r->n, 1);
	r = RESP("GG", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
	assert_ok(r);
	assert_int_equal(r->m[0].done_flags, HTTP1_DONE_CLOSE);
}

static void test_expect_continue(void **state)
{
	const struct result *r;

	r = REQ(
	    "PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\nabc");
	assert_ok(r);
	assert_true(r->m[0].flags & HTTP1_HEAD_EXPECT_CONTINUE);
	r = REQ("PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 3\r\n\r\nabc");
	assert_err(r, HTTP1_E_EXPECT_UNKNOWN);
	assert_int_equal(r->rc, -EPROTONOSUPPORT);
	r = RESP("P", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n"
		      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	assert_ok(r);
	assert_int_equal(r->n, 3);
	assert_string_equal(r->m[0].start, "1.1 100 Continue");
	assert_int_equal(r->m[0].done_flags, HTTP1_DONE_INTERIM);
	assert_int_equal(r->m[0].flags,
			 HTTP1_HEAD_KEEP_ALIVE | HTTP1_HEAD_NO_BODY | HTTP1_HEAD_INTERIM);
	assert_int_equal(r->m[1].done_flags, HTTP1_DONE_INTERIM);
	assert_string_equal(r->m[2].body, "ok");
	assert_int_equal(r->m[2].done_flags, 0);
}

static void test_upgrade(void **state)
{
	const struct result *r;

	r = REQ("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
		"Upgrade: websocket\r\n\r\n");
	assert_ok(r);
	assert_true(r->m[0].flags & HTTP1_HEAD_UPGRADE);
	assert_int_equal(r->m[0].done_flags, 0); /* the caller decides, on the response */
	r = REQ("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n");
	assert_false(r->m[0].flags & HTTP1_HEAD_UPGRADE); /* no Connection: upgrade */
	r = RESP("G", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		      "Connection: Upgrade\r\n\r\n");
	assert_ok(r);
	assert_int_equal(r->m[0].done_flags, HTTP1_DONE_UPGRADE);
	/* Bytes after the switch are not HTTP: the parser refuses them. */
	r = RESP("G", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n\x81\x05");
	assert_err(r, HTTP1_E_DATA_AFTER_CLOSE);
	assert_int_equal(r->n, 1);
	r = REQ("CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\n\r\n");
	assert_ok(r);
	assert_string_equal(r->m[0].start, "CONNECT db.internal:5432 1.1");
	r = RESP("C", "HTTP/1.1 200 Connection established\r\n\r\n");
	assert_ok(r);
	assert_int_equal(r->m[0].flags & HTTP1_HEAD_TUNNEL, HTTP1_HEAD_TUNNEL);
	assert_int_equal(r->m[0].done_flags, HTTP1_DONE_UPGRADE);
}

static const char sse_response[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/event-stream\r\n"
    "Cache-Control: no-cache\r\n"
    "Mcp-Session-Id: 1868a90c\r\n"
    "Transfer-Encoding: chunked\r\n"
    "\r\n"
    "e\r\nid: 0\ndata: \n\n\r\n"
    "68\r\nevent: message\nid: 1\ndata: "
    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/"
    "progress\",\"params\":{\"progress\":1}}\n\n\r\n"
    "41\r\nevent: message\nid: 2\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n\r\n"
    "0\r\n\r\n";

static void test_responses(void **state)
{
	const struct result *r;

	r = RESP("P", sse_response);
	assert_ok(r);
	assert_int_equal(r->m[0].flags, HTTP1_HEAD_KEEP_ALIVE | HTTP1_HEAD_CHUNKED);
	assert_int_equal(r->m[0].body_len, 183);
	assert_memory_equal(r->m[0].body, "id: 0\ndata: \n\nevent: message\nid: 1\n", 35);
	assert_int_equal(r->m[0].wire, sizeof(sse_response) - 1);

	r = RESP("P", "HTTP/1.1 202 Accepted\r\nMcp-Session-Id: 1868a90c\r\n"
		      "Content-Length: 0\r\n\r\n");
	assert_ok(r);
	assert_int_equal(r->m[0].flags,
			 HTTP1_HEAD_KEEP_ALIVE | HTTP1_HEAD_CONTENT_LENGTH | HTTP1_HEAD_NO_BODY);
	r = RESP("P", "HTTP/1.1 202 Accepted\r\n\r\n"); /* no length at all: until close */
	assert_ok(r);
	assert_int_equal(r->m[0].done_flags, HTTP1_DONE_CLOSE);

	r = RESP("PP", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 36\r\n"
		       "\r\n{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}"
		       "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
	assert_ok(r);
	assert_int_equal(r->n, 2);
	assert_string_equal(r->m[0].body, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
	assert_int_equal(r->m[1].body_len, 0);

	/* HEAD and 304: a Content-Length that frames nothing. */
	r = RESP("HG", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
		       "HTTP/1.1 304 Not Modified\r\nContent-Length: 1000\r\n\r\n");
	assert_ok(r);
	assert_int_equal(r->n, 2);
	assert_int_equal(r->m[0].flags & HTTP1_HEAD_NO_BODY, HTTP1_HEAD_NO_BODY);
	assert_int_equal(r->m[1].flags & HTTP1_HEAD_NO_BODY, HTTP1_HEAD_NO_BODY);

	/* Read until close, ended by EOF. */
	r = RESP("G", "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it");
	assert_ok(r);
	assert_string_equal(r->m[0].body, "all of it");
	assert_int_equal(r->m[0].done_flags, HTTP1_DONE_CLOSE);
	assert_true(r->m[0].flags & HTTP1_HEAD_UNTIL_CLOSE);

	r = RESP("G", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"); /* empty reason, no SP */
	assert_ok(r);
	assert_string_equal(r->m[0].start, "1.1 200 ");

	r = RESP("", "HTTP/1.1 200 OK\r\n\r\n");
	assert_err(r, HTTP1_E_UNSOLICITED_RESPONSE);
	r = RESP("G", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n");
	assert_err(r, HTTP1_E_UNSOLICITED_RESPONSE);
	assert_int_equal(r->n, 1);
}

static void test_truncated(void **state)
{
	const struct result *r;

	r = REQ("GET / HTTP/1.1\r\nHost: a\r\n");
	assert_err(r, HTTP1_E_TRUNCATED);
	r = REQ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nabc");
	assert_err(r, HTTP1_E_TRUNCATED);
	r = REQ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
	assert_err(r, HTTP1_E_TRUNCATED);
	r = REQ("");
	assert_ok(r);
	assert_int_equal(r->n, 0);
}

/* A request head of exactly total bytes (0: as short as possible) with n fields. */
static size_t make_head(char *buf, size_t total, int n)
{
	size_t len = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nHost: a\r\n");

	for (int i = 1; i < n; i++)
		len += (size_t)sprintf(buf + len, "X-%d: y\r\n", i);
	if (total) {
		len += (size_t)sprintf(buf + len, "Pad: ");
		memset(buf + len, 'p', total - len - 4);
		len = total - 4;
		memcpy(buf + len, "\r\n", 2);
		len += 2;
	}
	memcpy(buf + len, "\r\n", 2);
	return len + 2;
}

/* Large inputs: whole and byte by byte only. */
static const struct result *feed_twice(const char *in, size_t len)
{
	static struct result whole, bytes;
	static size_t cuts[1 << 15];

	feed(&whole, HTTP1_REQUEST, NULL, NULL, in, len, NULL, 0);
	for (size_t i = 1; i < len; i++)
		cuts[i - 1] = i;
	feed(&bytes, HTTP1_REQUEST, NULL, NULL, in, len, cuts, len - 1);
	assert_string_equal(whole.log, bytes.log);
	return &whole;
}

static void test_limits(void **state)
{
	struct http1_limits lim;
	struct http1_parser *p = NULL;
	const struct result *r;
	char big[20000];
	size_t n;

	http1_limits_default(HTTP1_REQUEST, &lim);
	assert_int_equal(lim.max_head_bytes, 16384);
	assert_int_equal(lim.max_headers, 100);
	assert_int_equal(lim.max_body, 8 << 20);
	http1_limits_default(HTTP1_RESPONSE, &lim);
	assert_true(lim.max_body == UINT64_MAX);

	/* Defaults: a 16 KiB head passes, one byte more does not; 100 fields pass, 101 do not. */
	n = make_head(big, 16384, 1);
	assert_int_equal(feed_twice(big, n)->rc, 0);
	n = make_head(big, 16385, 1);
	assert_err(feed_twice(big, n), HTTP1_E_HEAD_TOO_LARGE);
	assert_int_equal(feed_twice(big, n)->rc, -E2BIG);
	n = make_head(big, 0, 100);
	assert_int_equal(feed_twice(big, n)->rc, 0);
	n = make_head(big, 0, 101);
	assert_err(feed_twice(big, n), HTTP1_E_TOO_MANY_HEADERS);

	/* Small limits through the struct. */
	http1_limits_default(HTTP1_REQUEST, &lim);
	lim.max_head_bytes = 64;
	lim.max_headers = 2;
	lim.max_body = 10;
	lim.max_chunk_line = 8;
	lim.max_trailer_bytes = 16;
	r = PLIM(HTTP1_REQUEST, &lim, NULL,
		 "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789");
	assert_ok(r);
	r = PLIM(HTTP1_REQUEST, &lim, NULL,
		 "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n");
	assert_err(r, HTTP1_E_BODY_TOO_LARGE);
	assert_int_equal(r->rc, -E2BIG);
	r = PLIM(
	    HTTP1_REQUEST, &lim, NULL,
	    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n5\r\n");
	assert_err(r, HTTP1_E_BODY_TOO_LARGE);
	r = PLIM(HTTP1_REQUEST, &lim, NULL,
		 "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;a=bcd\r\n");
	assert_err(r, HTTP1_E_CHUNK_LINE_TOO_LONG);
	r = PLIM(HTTP1_REQUEST, &lim, NULL,
		 "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: "
		 "0123456789\r\n\r\n");
	assert_err(r, HTTP1_E_TRAILERS_TOO_LARGE);
	r = PLIM(HTTP1_REQUEST, &lim, NULL, "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n");
	assert_err(r, HTTP1_E_TOO_MANY_HEADERS);
	r = PLIM(HTTP1_REQUEST, &lim, NULL,
		 "GET /0123456789012345678901234567890123456789 HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_err(r, HTTP1_E_HEAD_TOO_LARGE);
	/* Until close: exactly the limit passes, the byte after it does not. */
	http1_limits_default(HTTP1_RESPONSE, &lim);
	lim.max_body = 4;
	r = PLIM(HTTP1_RESPONSE, &lim, "G", "HTTP/1.1 200 OK\r\n\r\nabcd");
	assert_ok(r);
	r = PLIM(HTTP1_RESPONSE, &lim, "G", "HTTP/1.1 200 OK\r\n\r\nabcde");
	assert_err(r, HTTP1_E_BODY_TOO_LARGE);

	/* Invalid limits and the request queue. */
	lim.max_headers = 0;
	assert_int_equal(http1_parser_new(HTTP1_REQUEST, &lim, &p), -EINVAL);
	http1_limits_default(HTTP1_RESPONSE, &lim);
	lim.max_head_bytes = HTTP1_MAX_HEAD_BYTES_CEILING + 1;
	assert_int_equal(http1_parser_new(HTTP1_RESPONSE, &lim, &p), -EINVAL);
	lim.max_head_bytes = 1024;
	lim.max_pipeline = 2;
	assert_int_equal(http1_parser_new(HTTP1_RESPONSE, &lim, &p), 0);
	assert_int_equal(http1_parser_push_request(p, HTTP1_M_GET), 0);
	assert_int_equal(http1_parser_push_request(p, HTTP1_M_GET), 0);
	assert_int_equal(http1_parser_push_request(p, HTTP1_M_GET), -ENOBUFS);
	http1_parser_free(p);
	assert_int_equal(http1_parser_new(HTTP1_REQUEST, NULL, &p), 0);
	assert_int_equal(http1_parser_push_request(p, HTTP1_M_GET), -EINVAL);
	p = http1_parser_free(p);
	assert_null(http1_parser_free(NULL));
}

static void test_identical_content_length(void **state)
{
	struct http1_limits lim;
	const struct result *r;
	static const char in[] = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2, 2\r\n"
				 "Content-Length: 2\r\n\r\nok";

	r = REQ(in);
	assert_err(r, HTTP1_E_CL_DUPLICATE);
	http1_limits_default(HTTP1_REQUEST, &lim);
	lim.allow_identical_content_length = true;
	r = parse_lim(HTTP1_REQUEST, &lim, NULL, in, sizeof(in) - 1);
	assert_ok(r);
	assert_string_equal(r->m[0].body, "ok");
	r = parse_lim(HTTP1_REQUEST, &lim, NULL,
		      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2, 3\r\n\r\nok", 51);
	assert_err(r, HTTP1_E_CL_CONFLICT);
}

/* CL.0: a body that looks like a request stays a body. */
static void test_cl0_body_is_not_a_request(void **state)
{
	const struct result *r = REQ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 39\r\n\r\n"
				     "GET /admin HTTP/1.1\r\nHost: internal\r\n\r\n"
				     "GET /b HTTP/1.1\r\nHost: a\r\n\r\n");

	assert_ok(r);
	assert_int_equal(r->n, 2);
	assert_string_equal(r->m[0].body, "GET /admin HTTP/1.1\r\nHost: internal\r\n\r\n");
	assert_string_equal(r->m[1].start, "GET /b 1.1");
}

struct bad {
	const char *name;
	const char *in;
	size_t len;
	enum http1_error err;
};

#define BAD(name, s, e)                                                                            \
	{                                                                                          \
		name, s, sizeof(s) - 1, HTTP1_E_##e                                                \
	}
#define H "POST / HTTP/1.1\r\nHost: a\r\n"
#define CH H "Transfer-Encoding: chunked\r\n\r\n"

static const struct bad smuggling[] = {
    BAD("CL.TE", H "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", CL_AND_TE),
    BAD("TE.CL", H "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\nGPOST", CL_AND_TE),
    BAD("CL.TE obfuscated", H "Content-Length: 4\r\nTransfer-Encoding: xchunked\r\n\r\n",
	CL_AND_TE),
    BAD("TE.TE xchunked", H "Transfer-Encoding: xchunked\r\n\r\n", TE_UNKNOWN),
    BAD("TE.TE space before colon", H "Transfer-Encoding : chunked\r\n\r\n", WS_BEFORE_COLON),
    BAD("TE.TE tab before colon", H "Transfer-Encoding\t: chunked\r\n\r\n", WS_BEFORE_COLON),
    BAD("TE.TE identity last", H "Transfer-Encoding: chunked, identity\r\n\r\n", TE_UNKNOWN),
    BAD("TE.TE gzip, chunked", H "Transfer-Encoding: gzip, chunked\r\n\r\n", TE_UNKNOWN),
    BAD("TE.TE twice", H "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
	TE_CHUNKED_TWICE),
    BAD("TE.TE list twice", H "Transfer-Encoding: chunked,chunked\r\n\r\n", TE_CHUNKED_TWICE),
    BAD("TE.TE split", H "Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n", TE_UNKNOWN),
    BAD("TE.TE quoted", H "Transfer-Encoding: \"chunked\"\r\n\r\n", TE_UNKNOWN),
    BAD("TE.TE param", H "Transfer-Encoding: chunked;q=1\r\n\r\n", TE_UNKNOWN),
    BAD("TE.TE vertical tab",
	H "Transfer-Encoding:\x0b"
	  "chunked\r\n\r\n",
	BAD_HEADER_VALUE),
    BAD("TE.TE empty element", H "Transfer-Encoding: ,chunked\r\n\r\n", TE_EMPTY),
    BAD("TE.TE empty", H "Transfer-Encoding:\r\n\r\n", TE_EMPTY),
    BAD("TE.TE obs-fold", H "Transfer-Encoding:\r\n chunked\r\n\r\n", OBS_FOLD),
    BAD("TE.TE leading space", "POST / HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: a\r\n\r\n",
	OBS_FOLD),
    BAD("TE.TE nbsp", H "Transfer-Encoding: chunked\xa0\r\n\r\n", TE_UNKNOWN),
    BAD("TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", TE_HTTP10),
    BAD("CL negative", H "Content-Length: -1\r\n\r\n", CL_INVALID),
    BAD("CL plus", H "Content-Length: +5\r\n\r\n", CL_INVALID),
    BAD("CL inner space", H "Content-Length: 1 2\r\n\r\n", CL_INVALID),
    BAD("CL hex", H "Content-Length: 0x10\r\n\r\n", CL_INVALID),
    BAD("CL empty", H "Content-Length: \r\n\r\n", CL_INVALID),
    BAD("CL empty element", H "Content-Length: 5,\r\n\r\n", CL_INVALID),
    BAD("CL overflow", H "Content-Length: 18446744073709551616\r\n\r\n", CL_OVERFLOW),
    BAD("CL huge", H "Content-Length: 99999999999999999999999\r\n\r\n", CL_OVERFLOW),
    BAD("CL above limit", H "Content-Length: 18446744073709551615\r\n\r\n", BODY_TOO_LARGE),
    BAD("CL list differing", H "Content-Length: 1, 2\r\n\r\n", CL_CONFLICT),
    BAD("CL list equal", H "Content-Length: 5, 5\r\n\r\n", CL_DUPLICATE),
    BAD("CL twice equal", H "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", CL_DUPLICATE),
    BAD("CL twice differing", H "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", CL_CONFLICT),
    BAD("CL space before colon", H "Content-Length : 5\r\n\r\n", WS_BEFORE_COLON),
    BAD("bare LF head", "GET / HTTP/1.1\nHost: a\n\n", BARE_LF),
    BAD("bare LF field", "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", BARE_LF),
    BAD("bare LF end", "GET / HTTP/1.1\r\nHost: a\r\n\n", BARE_LF),
    BAD("bare CR", "GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", BARE_CR),
    BAD("NUL in field", "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", NUL),
    BAD("NUL in method", "G\0T / HTTP/1.1\r\n\r\n", NUL),
    BAD("chunk ext quoted", CH "5;a=\"b;c\r\nhello\r\n0\r\n\r\n", CHUNK_EXT_INVALID),
    BAD("chunk ext bad char", CH "5;a=b c\r\nhello\r\n0\r\n\r\n", CHUNK_EXT_INVALID),
    BAD("chunk ext empty", CH "5;\r\nhello\r\n0\r\n\r\n", CHUNK_EXT_INVALID),
    BAD("chunk ext no name", CH "5;=x\r\nhello\r\n0\r\n\r\n", CHUNK_EXT_INVALID),
    BAD("chunk ext trailing space", CH "5 \r\nhello\r\n0\r\n\r\n", CHUNK_EXT_INVALID),
    BAD("chunk size overflow", CH "10000000000000000\r\n", CHUNK_SIZE_OVERFLOW),
    BAD("chunk size oversized", CH "fffffffffffffffff\r\n", CHUNK_SIZE_OVERFLOW),
    BAD("chunk size above limit", CH "800001\r\n", BODY_TOO_LARGE),
    BAD("chunk size negative", CH "-1\r\n", CHUNK_SIZE_INVALID),
    BAD("chunk size 0x", CH "0x5\r\nhello\r\n", CHUNK_SIZE_INVALID),
    BAD("chunk size leading space", CH " 5\r\nhello\r\n", CHUNK_SIZE_INVALID),
    BAD("chunk size empty", CH "\r\nhello\r\n", CHUNK_SIZE_INVALID),
    BAD("chunk size bare LF", CH "5\nhello\r\n", BARE_LF),
    BAD("chunk size NUL", CH "5\0\r\nhello\r\n", NUL),
    BAD("chunk data no CRLF", CH "5\r\nhelloX\r\n", CHUNK_MISSING_CRLF),
    BAD("chunk data LF only", CH "5\r\nhello\n0\r\n\r\n", CHUNK_MISSING_CRLF),
    BAD("chunk data CR only", CH "5\r\nhello\r0\r\n\r\n", CHUNK_MISSING_CRLF),
    BAD("chunk too long data", CH "3\r\nhello\r\n", CHUNK_MISSING_CRLF),
    BAD("trailer CL", CH "0\r\nContent-Length: 5\r\n\r\n", TRAILER_FORBIDDEN),
    BAD("trailer TE", CH "0\r\nTransfer-Encoding: chunked\r\n\r\n", TRAILER_FORBIDDEN),
    BAD("trailer bare LF", CH "0\r\nX: y\n\r\n", BARE_LF),
    BAD("trailer obs-fold", CH "0\r\nX: y\r\n z\r\n\r\n", OBS_FOLD),
    BAD("empty line first", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", EMPTY_START),
    BAD("double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    BAD("leading space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    BAD("no version", "GET /\r\nHost: a\r\n\r\n", BAD_REQUEST_LINE),
    BAD("method char", "G@T / HTTP/1.1\r\nHost: a\r\n\r\n", BAD_METHOD),
    BAD("method tab", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", BAD_METHOD),
    BAD("target control", "GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", BAD_TARGET),
    BAD("target tab", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", BAD_TARGET),
    BAD("target DEL", "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", BAD_TARGET),
    BAD("target 8-bit", "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", BAD_TARGET),
    BAD("target relative", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", BAD_TARGET),
    BAD("target asterisk", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", BAD_TARGET),
    BAD("target space", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", BAD_VERSION),
    BAD("version 2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", VERSION_UNSUPPORTED),
    BAD("version 1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", VERSION_UNSUPPORTED),
    BAD("version 0.9", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", VERSION_UNSUPPORTED),
    BAD("version lower", "GET / http/1.1\r\nHost: a\r\n\r\n", BAD_VERSION),
    BAD("version trailing", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", BAD_VERSION),
    BAD("version short", "GET / HTTP/1\r\nHost: a\r\n\r\n", BAD_VERSION),
    BAD("name space", "GET / HTTP/1.1\r\nHost: a\r\nX Y: z\r\n\r\n", BAD_HEADER_NAME),
    BAD("name empty", "GET / HTTP/1.1\r\nHost: a\r\n: z\r\n\r\n", BAD_HEADER_NAME),
    BAD("name quote", "GET / HTTP/1.1\r\nHost: a\r\nX\"Y: z\r\n\r\n", BAD_HEADER_NAME),
    BAD("name 8-bit", "GET / HTTP/1.1\r\nHost: a\r\nX\xff: z\r\n\r\n", BAD_HEADER_NAME),
    BAD("no colon", "GET / HTTP/1.1\r\nHost: a\r\nJust-A-Name\r\n\r\n", NO_COLON),
    BAD("value control", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n", BAD_HEADER_VALUE),
    BAD("value DEL", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", BAD_HEADER_VALUE),
    BAD("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", OBS_FOLD),
    BAD("host missing", "GET / HTTP/1.1\r\nX: a\r\n\r\n", HOST_MISSING),
    BAD("host twice", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", HOST_DUPLICATE),
};

static void test_smuggling_corpus(void **state)
{
	for (size_t i = 0; i < sizeof(smuggling) / sizeof(smuggling[0]); i++) {
		const struct bad *b = &smuggling[i];
		const struct result *r = parse_lim(HTTP1_REQUEST, NULL, NULL, b->in, b->len);

		if (r->err != b->err)
			print_error("case '%s': expected '%s', got '%s'\n", b->name,
				    http1_error_str(b->err), http1_error_str(r->err));
		assert_err(r, b->err);
		assert_true(r->rc < 0);
		assert_int_equal(r->n, 0);
	}
}

static const struct bad bad_status[] = {
    BAD("short code", "HTTP/1.1 20 OK\r\n\r\n", BAD_STATUS_LINE),
    BAD("code 099", "HTTP/1.1 099 X\r\n\r\n", BAD_STATUS_LINE),
    BAD("code 600", "HTTP/1.1 600 X\r\n\r\n", BAD_STATUS_LINE),
    BAD("code letters", "HTTP/1.1 2x0 OK\r\n\r\n", BAD_STATUS_LINE),
    BAD("no space", "HTTP/1.1 200OK\r\n\r\n", BAD_STATUS_LINE),
    BAD("reason control", "HTTP/1.1 200 O\x01K\r\n\r\n", BAD_STATUS_LINE),
    BAD("version 2", "HTTP/2 200 OK\r\n\r\n", BAD_STATUS_LINE),
    BAD("version 2.0", "HTTP/2.0 200 OK\r\n\r\n", VERSION_UNSUPPORTED),
    BAD("CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
	CL_AND_TE),
    BAD("TE gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", TE_UNKNOWN),
    BAD("bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", BARE_LF),
    BAD("truncated chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
	TRUNCATED),
};

static void test_bad_responses(void **state)
{
	for (size_t i = 0; i < sizeof(bad_status) / sizeof(bad_status[0]); i++) {
		const struct bad *b = &bad_status[i];
		const struct result *r = parse_lim(HTTP1_RESPONSE, NULL, "G", b->in, b->len);

		if (r->err != b->err)
			print_error("case '%s'\n", b->name);
		assert_err(r, b->err);
		assert_int_equal(http1_error_status(HTTP1_RESPONSE, r->err), 502);
	}
}

static void test_accepted_oddities(void **state)
{
	const struct result *r;

	/* Tabs are OWS; obs-text in values passes; absolute-form and asterisk-form targets. */
	r = REQ("POST http://a.example/mcp HTTP/1.1\r\nHost: a.example\r\n"
		"Transfer-Encoding:\tchunked\t\r\nX-Name: caf\xc3\xa9\r\n\r\n0\r\n\r\n"
		"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_ok(r);
	assert_int_equal(r->n, 2);
	assert_string_equal(r->m[0].headers,
			    "Host=a.example|Transfer-Encoding=chunked|X-Name=caf\xc3\xa9|");
	assert_string_equal(r->m[1].start, "OPTIONS * 1.1");
	/* Chunk extensions with quoted strings, escapes and spaces around. */
	r = REQ(CH "3 ; a=\"x;\\\"y\" ;b\r\nabc\r\n0;last\r\n\r\n");
	assert_ok(r);
	assert_string_equal(r->m[0].body, "abc");
	/* Leading zeros in lengths; upper-case hex chunk sizes. */
	r = REQ(H "Content-Length: 003\r\n\r\nabc");
	assert_ok(r);
	r = REQ(CH "00B\r\nhello world\r\n0\r\n\r\n");
	assert_ok(r);
	assert_string_equal(r->m[0].body, "hello world");
	/* A sticky error: nothing parses after it. */
	{
		struct http1_parser *p = NULL;
		struct http1_event ev;

		assert_int_equal(http1_parser_new(HTTP1_REQUEST, NULL, &p), 0);
		assert_int_equal(http1_parse(p, "GET / HTTP/1.1\n", 15, &ev), -EBADMSG);
		assert_int_equal(http1_parse(p, "GET / HTTP/1.1\r\n\r\n", 18, &ev), -EBADMSG);
		assert_int_equal(http1_parse_eof(p, &ev), -EBADMSG);
		assert_int_equal(http1_parser_error(p), HTTP1_E_BARE_LF);
		http1_parser_free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_get),
	    cmocka_unit_test(test_mcp_post),
	    cmocka_unit_test(test_helpers),
	    cmocka_unit_test(test_chunked_trailers),
	    cmocka_unit_test(test_pipelining),
	    cmocka_unit_test(test_keepalive),
	    cmocka_unit_test(test_expect_continue),
	    cmocka_unit_test(test_upgrade),
	    cmocka_unit_test(test_responses),
	    cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_identical_content_length),
	    cmocka_unit_test(test_cl0_body_is_not_a_request),
	    cmocka_unit_test(test_smuggling_corpus),
	    cmocka_unit_test(test_bad_responses),
	    cmocka_unit_test(test_accepted_oddities),
	};

	return cmocka_run_group_tests_name("http1", tests, NULL, NULL);
}
