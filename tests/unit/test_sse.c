/* test_sse.c: the event-stream parser and encoder. Every stream is parsed whole, byte by byte
 * and split in two at every position; the blocks must be identical each time. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sse.h"

#define MAX_BLOCKS 16

struct block {
	unsigned flags;
	size_t span;
	char raw[512], type[64], data[512], id[64], last_id[64];
	size_t raw_len, data_len;
	bool has_data, has_id;
	int64_t retry;
};

struct result {
	struct block b[MAX_BLOCKS];
	size_t n;
	int rc; /* last sse_parse/sse_finish result */
	char log[32768];
	size_t log_len;
};

static void copy(char *dst, size_t size, const void *src, size_t len)
{
	assert_true(len < size);
	memcpy(dst, src, len);
	dst[len] = 0;
}

static void record(struct result *r, const struct sse_event *ev)
{
	struct block *b = &r->b[r->n < MAX_BLOCKS ? r->n++ : MAX_BLOCKS - 1];

	b->flags = ev->flags;
	b->span = ev->span;
	b->raw_len = ev->raw_len;
	copy(b->raw, sizeof(b->raw), ev->raw, ev->raw_len);
	copy(b->type, sizeof(b->type), ev->type, ev->type_len);
	b->has_data = ev->msg.data != NULL;
	b->data_len = ev->msg.data_len;
	if (ev->msg.data)
		copy(b->data, sizeof(b->data), ev->msg.data, ev->msg.data_len);
	b->has_id = ev->msg.id != NULL;
	if (ev->msg.id)
		copy(b->id, sizeof(b->id), ev->msg.id, ev->msg.id_len);
	copy(b->last_id, sizeof(b->last_id), ev->last_event_id, ev->last_event_id_len);
	b->retry = ev->msg.retry;
	r->log_len += (size_t)snprintf(r->log + r->log_len, sizeof(r->log) - r->log_len,
				       "f=%x span=%zu raw=%zu[%s] type=%s data=%d[%s] id=%d[%s] "
				       "last=%s retry=%lld\n",
				       b->flags, b->span, b->raw_len, b->raw, b->type, b->has_data,
				       b->data, b->has_id, b->id, b->last_id, (long long)b->retry);
	assert_true(r->log_len < sizeof(r->log));
}

static void feed(struct result *r, const struct sse_limits *lim, const char *in, size_t len,
		 const size_t *cut, size_t ncut)
{
	struct sse_parser *p = NULL;
	struct sse_event ev;
	size_t off = 0, spans = 0;

	memset(r, 0, sizeof(*r));
	assert_int_equal(sse_parser_new(lim, &p), 0);
	for (size_t piece = 0; piece <= ncut; piece++) {
		size_t end = piece < ncut ? cut[piece] : len;
		const char *b = in + off;
		size_t n = end - off;

		for (;;) {
			r->rc = sse_parse(p, b, n, &ev);
			if (r->rc < 0)
				goto out;
			assert_true(ev.consumed <= n);
			b += ev.consumed;
			n -= ev.consumed;
			if (r->rc == 0) {
				assert_int_equal(n, 0);
				break;
			}
			spans += ev.span;
			assert_int_equal(spans, (size_t)(b - in));
			record(r, &ev);
		}
		off = end;
	}
	r->rc = sse_finish(p, &ev);
	if (r->rc == 1) {
		spans += ev.span;
		record(r, &ev);
	}
	assert_int_equal(spans, len);
out:
	r->log_len +=
	    (size_t)snprintf(r->log + r->log_len, sizeof(r->log) - r->log_len, "rc=%d\n", r->rc);
	sse_parser_free(p);
}

static const struct result *parse_lim(const struct sse_limits *lim, const char *in, size_t len)
{
	static struct result whole, other;
	static size_t cuts[1 << 14];

	assert_true(len < sizeof(cuts) / sizeof(cuts[0]));
	feed(&whole, lim, in, len, NULL, 0);
	for (size_t i = 1; i < len; i++)
		cuts[i - 1] = i;
	feed(&other, lim, in, len, cuts, len ? len - 1 : 0);
	assert_string_equal(whole.log, other.log);
	for (size_t i = 1; i < len; i++) {
		feed(&other, lim, in, len, &i, 1);
		assert_string_equal(whole.log, other.log);
	}
	return &whole;
}

#define PARSE(s) parse_lim(NULL, s, sizeof(s) - 1)
#define D SSE_EV_DISPATCH

static void test_basic(void **state)
{
	const struct result *r = PARSE("data: hello\n\n");

	assert_int_equal(r->n, 1);
	assert_int_equal(r->b[0].flags, D);
	assert_string_equal(r->b[0].type, "message");
	assert_string_equal(r->b[0].data, "hello");
	assert_string_equal(r->b[0].raw, "data: hello\n\n");
	assert_int_equal(r->b[0].span, 13);
	assert_false(r->b[0].has_id);
	assert_int_equal(r->b[0].retry, -1);
	assert_string_equal(r->b[0].last_id, "");
	assert_int_equal(r->rc, 0);
}

static void test_multiline_data(void **state)
{
	const struct result *r = PARSE("data: a\ndata:b\ndata\ndata:  c\ndata: \n\n");

	assert_int_equal(r->n, 1);
	assert_int_equal(r->b[0].data_len, 8);
	assert_memory_equal(r->b[0].data, "a\nb\n\n c\n", 8);
}

static void test_fields(void **state)
{
	const struct result *r = PARSE("event: update\nid: 7\nretry: 2500\ndata: x\n\n"
				       "data: y\n\n"
				       "event: a\nevent: b\nData: ignored\nfoo: bar\ndata: z\n\n"
				       "id: \x00nul\nretry: 12a\nretry: -1\nretry\ndata: w\n\n"
				       "id\ndata: v\n\n");

	assert_int_equal(r->n, 5);
	assert_string_equal(r->b[0].type, "update");
	assert_string_equal(r->b[0].id, "7");
	assert_int_equal(r->b[0].retry, 2500);
	assert_int_equal(r->b[0].flags, D | SSE_EV_HAS_ID | SSE_EV_HAS_RETRY);
	/* The last event ID persists; the type does not. */
	assert_string_equal(r->b[1].type, "message");
	assert_false(r->b[1].has_id);
	assert_string_equal(r->b[1].last_id, "7");
	/* The last event field wins; names are case-sensitive; unknown fields are ignored. */
	assert_string_equal(r->b[2].type, "b");
	assert_string_equal(r->b[2].data, "z");
	/* An id with NUL is ignored; retry must be all digits. */
	assert_int_equal(r->b[3].flags, D);
	assert_string_equal(r->b[3].last_id, "7");
	assert_int_equal(r->b[3].retry, -1);
	/* "id" alone resets the last event ID to empty. */
	assert_int_equal(r->b[4].flags, D | SSE_EV_HAS_ID);
	assert_string_equal(r->b[4].last_id, "");
}

static void test_comments_and_empty_blocks(void **state)
{
	const struct result *r = PARSE(": keepalive\n\n\n:ping\n:\ndata: x\n: inside\n\n");

	assert_int_equal(r->n, 3);
	assert_int_equal(r->b[0].flags, SSE_EV_HAS_COMMENT);
	assert_false(r->b[0].has_data);
	assert_int_equal(r->b[1].flags, 0); /* a lone blank line */
	assert_int_equal(r->b[1].span, 1);
	assert_int_equal(r->b[2].flags, D | SSE_EV_HAS_COMMENT);
	assert_string_equal(r->b[2].data, "x");
}

static void test_priming_events(void **state)
{
	const struct result *r = PARSE("id: 0\ndata: \n\n"	/* the SDK's priming event */
				       "id: 5\nretry: 1000\n\n" /* id only: not dispatched */
				       "data\n\n"		/* empty data: dispatched */
				       "event: ping\n\n");	/* type only: not dispatched */

	assert_int_equal(r->n, 4);
	assert_int_equal(r->b[0].flags, D | SSE_EV_HAS_ID);
	assert_true(r->b[0].has_data);
	assert_int_equal(r->b[0].data_len, 0);
	assert_string_equal(r->b[0].id, "0");
	assert_int_equal(r->b[1].flags, SSE_EV_HAS_ID | SSE_EV_HAS_RETRY);
	assert_false(r->b[1].has_data);
	assert_string_equal(r->b[1].last_id, "5");
	assert_int_equal(r->b[1].retry, 1000);
	assert_int_equal(r->b[2].flags, D);
	assert_int_equal(r->b[2].data_len, 0);
	assert_string_equal(r->b[2].last_id, "5");
	assert_int_equal(r->b[3].flags, 0);
}

static void test_line_endings(void **state)
{
	const struct result *r;

	r = PARSE("data: a\r\ndata: b\r\n\r\n"
		  "data: c\rdata: d\r\r"
		  "data: e\ndata: f\r\n\n"
		  "data: g\r\r\n"
		  "data: h\n\r\n");
	assert_int_equal(r->n, 6);
	assert_string_equal(r->b[0].data, "a\nb");
	assert_string_equal(r->b[1].data, "c\nd");
	assert_string_equal(r->b[2].data, "e\nf");
	assert_string_equal(r->b[3].data, "g");
	assert_string_equal(r->b[3].raw, "data: g\r\r");
	/* The LF of the CRLF whose CR ended block 3 is counted in block 4's span. */
	assert_int_equal(r->b[4].span, 10);
	assert_int_equal(r->b[5].span, 1); /* the last LF */
	assert_string_equal(r->b[4].raw, "data: h\n\r");
	assert_string_equal(r->b[4].data, "h");

	/* A CR ending one chunk and an LF starting the next are one line end (split loop). A
	 * block is reported at the CR of its blank line; the LF goes with the next span. */
	r = PARSE("data: x\r\n\r\ndata: y\r\n\r\n");
	assert_int_equal(r->n, 3);
	assert_string_equal(r->b[0].raw, "data: x\r\n\r");
	assert_int_equal(r->b[0].span, 10);
	assert_string_equal(r->b[1].raw, "data: y\r\n\r");
	assert_int_equal(r->b[1].span, 11);
	assert_int_equal(r->b[2].flags, 0); /* the final LF, from sse_finish() */
	assert_int_equal(r->b[2].span, 1);
	assert_int_equal(r->b[2].raw_len, 0);
}

static void test_bom(void **state)
{
	const struct result *r;

	r = PARSE("\xef\xbb\xbf"
		  "data: x\n\n");
	assert_int_equal(r->n, 1);
	assert_string_equal(r->b[0].data, "x");
	assert_int_equal(r->b[0].span, 12);
	assert_int_equal(r->b[0].raw_len, 9);
	/* Only one BOM, only at the start. */
	r = PARSE("\xef\xbb\xbf\xef\xbb\xbf"
		  "data: x\n\ndata: \xef\xbb\xbfy\n\n");
	assert_int_equal(r->n, 2);
	assert_int_equal(r->b[0].flags, 0);
	assert_string_equal(r->b[1].data, "\xef\xbb\xbfy");
	/* A partial BOM is content. */
	r = PARSE("\xef\xbb"
		  "data: x\n\n");
	assert_int_equal(r->n, 1);
	assert_int_equal(r->b[0].flags, 0);
	assert_string_equal(r->b[0].raw, "\xef\xbb"
					 "data: x\n\n");
	r = PARSE("\xef\xbb");
	assert_int_equal(r->n, 1);
	assert_int_equal(r->b[0].flags, SSE_EV_INCOMPLETE);
	assert_int_equal(r->b[0].span, 2);
}

static void test_incomplete(void **state)
{
	const struct result *r = PARSE("data: one\n\ndata: never\ndata: finished");

	assert_int_equal(r->n, 2);
	assert_int_equal(r->b[0].flags, D);
	assert_int_equal(r->b[1].flags, SSE_EV_INCOMPLETE);
	assert_false(r->b[1].has_data);
	assert_int_equal(r->b[1].span, 26);
	assert_string_equal(r->b[1].raw, "data: never\ndata: finished");
	assert_int_equal(r->rc, 1);
	r = PARSE("data: one\n\n");
	assert_int_equal(r->rc, 0);
}

static void test_limit(void **state)
{
	struct sse_limits lim = {16};
	struct sse_parser *p = NULL;
	struct sse_event ev;
	const struct result *r;

	r = parse_lim(&lim, "data: 012345678\n\n", 17);
	assert_int_equal(r->rc, -E2BIG);
	assert_int_equal(r->n, 0);
	r = parse_lim(&lim, "data: 01234567\n\ndata: 01234567\n\n", 32);
	assert_int_equal(r->rc, 0);
	assert_int_equal(r->n, 2);
	/* Comments count too: a block never ends, the bound still holds. */
	r = parse_lim(&lim, ":aaaaaa\n:bbbbbb\n:c", 18);
	assert_int_equal(r->rc, -E2BIG);

	assert_int_equal(SSE_MAX_EVENT_BYTES_DEFAULT, 1 << 20);
	lim.max_event_bytes = 0;
	assert_int_equal(sse_parser_new(&lim, &p), -EINVAL);
	lim.max_event_bytes = SSE_MAX_EVENT_BYTES_CEILING + 1;
	assert_int_equal(sse_parser_new(&lim, &p), -EINVAL);
	assert_int_equal(sse_parser_new(NULL, &p), 0);
	{
		static char big[(1 << 20) + 16];

		memcpy(big, "data: ", 6);
		memset(big + 6, 'x', sizeof(big) - 6);
		assert_int_equal(sse_parse(p, big, sizeof(big), &ev), -E2BIG);
		assert_int_equal(sse_parse(p, "\n\n", 2, &ev), -E2BIG); /* sticky */
		assert_int_equal(sse_finish(p, &ev), -E2BIG);
	}
	assert_null(sse_parser_free(p));
	assert_null(sse_parser_free(NULL));
}

struct collect {
	int n;
	int stop_at;
	char data[256];
};

static int on_event(const struct sse_event *ev, void *userdata)
{
	struct collect *c = userdata;

	if (++c->n == c->stop_at)
		return -ECANCELED;
	if (ev->flags & SSE_EV_DISPATCH)
		strncat(c->data, ev->msg.data, ev->msg.data_len);
	return 0;
}

static void test_callback(void **state)
{
	static const char s[] = "data: a\n\n: c\n\ndata: b\n\ndata: partial";
	struct sse_parser *p = NULL;
	struct collect c = {};

	assert_int_equal(sse_parser_new(NULL, &p), 0);
	assert_int_equal(sse_parse_all(p, s, 10, on_event, &c), 0);
	assert_int_equal(sse_parse_all(p, s + 10, sizeof(s) - 11, on_event, &c), 0);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.data, "ab");
	sse_parser_free(p);

	c = (struct collect){.stop_at = 2};
	assert_int_equal(sse_parser_new(NULL, &p), 0);
	assert_int_equal(sse_parse_all(p, s, sizeof(s) - 1, on_event, &c), -ECANCELED);
	sse_parser_free(p);
}

/* A server-everything style stream: priming event, progress, result, keepalive. */
static const char mcp_stream[] =
    "id: 0\nretry: 3000\ndata: \n\n"
    "event: message\nid: 1\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
    "\"params\":{\"progressToken\":7,\"progress\":1,\"total\":2}}\n\n"
    ": keepalive\n\n"
    "event: message\nid: 2\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"content\":"
    "[{\"type\":\"text\",\"text\":\"done\"}]}}\n\n";

static void test_mcp_stream(void **state)
{
	const struct result *r = PARSE(mcp_stream);
	size_t total = 0;

	assert_int_equal(r->n, 4);
	assert_int_equal(r->b[0].flags, D | SSE_EV_HAS_ID | SSE_EV_HAS_RETRY);
	assert_int_equal(r->b[0].data_len, 0);
	assert_string_equal(r->b[1].type, "message");
	assert_string_equal(r->b[1].id, "1");
	assert_string_equal(r->b[1].data,
			    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
			    "\"params\":{\"progressToken\":7,\"progress\":1,"
			    "\"total\":2}}");
	assert_int_equal(r->b[2].flags, SSE_EV_HAS_COMMENT);
	assert_string_equal(r->b[3].last_id, "2");
	for (size_t i = 0; i < r->n; i++) {
		assert_int_equal(r->b[i].span, r->b[i].raw_len);
		total += r->b[i].span;
	}
	assert_int_equal(total, sizeof(mcp_stream) - 1);
}

static void check_encode(const struct sse_message *m, const char *expect)
{
	char buf[512];
	size_t n = 0;

	assert_int_equal(sse_encoded_size(m), (ssize_t)strlen(expect));
	assert_int_equal(sse_encode(m, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, strlen(expect));
	buf[n] = 0;
	assert_string_equal(buf, expect);
	n = 12345;
	assert_int_equal(sse_encode(m, buf, strlen(expect) - 1, &n), -ENOBUFS);
	assert_int_equal(n, 12345); /* untouched on failure */
}

static void test_encode(void **state)
{
	struct sse_message m = {.retry = -1};
	struct sse_parser *p = NULL;
	struct sse_event ev;
	char buf[512];
	size_t n;

	m.data = "{\"a\":1}";
	m.data_len = 7;
	check_encode(&m, "data: {\"a\":1}\n\n");
	m.event = "message";
	m.event_len = 7;
	m.id = "42";
	m.id_len = 2;
	m.retry = 1500;
	m.comment = " masked";
	m.comment_len = 7;
	check_encode(&m, ": masked\nevent: message\nid: 42\nretry: 1500\ndata: {\"a\":1}\n\n");
	m = (struct sse_message){.retry = -1, .data = "a\r\nb\rc\n\n d", .data_len = 10};
	check_encode(&m, "data: a\ndata: b\ndata: c\ndata:\ndata:  d\n\n");
	m = (struct sse_message){.retry = -1, .data = "", .id = "0", .id_len = 1};
	check_encode(&m, "id: 0\ndata:\n\n");
	m = (struct sse_message){.retry = -1};
	check_encode(&m, "\n");

	/* What cannot be encoded. */
	m = (struct sse_message){.retry = -1, .id = "a\nb", .id_len = 3};
	assert_int_equal(sse_encoded_size(&m), -EINVAL);
	assert_int_equal(sse_encode(&m, buf, sizeof(buf), &n), -EINVAL);
	m = (struct sse_message){.retry = -1, .id = "a\0b", .id_len = 3};
	assert_int_equal(sse_encoded_size(&m), -EINVAL);
	m = (struct sse_message){.retry = -1, .event = "x\ry", .event_len = 3};
	assert_int_equal(sse_encoded_size(&m), -EINVAL);
	m = (struct sse_message){.retry = -1, .comment = "x\ny", .comment_len = 3};
	assert_int_equal(sse_encoded_size(&m), -EINVAL);
	m = (struct sse_message){.retry = -2};
	assert_int_equal(sse_encoded_size(&m), -EINVAL);

	/* Round trip: a parsed event, encoded, parses back to the same fields. */
	assert_int_equal(sse_parser_new(NULL, &p), 0);
	assert_int_equal(sse_parse(p, "event: e\r\nid: 9\r\ndata:  x\r\ndata\r\n\r\n", 35, &ev), 1);
	assert_int_equal(sse_encode(&ev.msg, buf, sizeof(buf), &n), 0);
	buf[n] = 0;
	assert_string_equal(buf, "event: e\nid: 9\ndata:  x\ndata:\n\n");
	assert_int_equal(sse_parse(p, buf, n, &ev), 1);
	assert_int_equal(ev.msg.data_len, 3);
	assert_memory_equal(ev.msg.data, " x\n", 3);
	assert_int_equal(ev.msg.event_len, 1);
	assert_int_equal(ev.flags, D | SSE_EV_HAS_ID);
	sse_parser_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basic),
	    cmocka_unit_test(test_multiline_data),
	    cmocka_unit_test(test_fields),
	    cmocka_unit_test(test_comments_and_empty_blocks),
	    cmocka_unit_test(test_priming_events),
	    cmocka_unit_test(test_line_endings),
	    cmocka_unit_test(test_bom),
	    cmocka_unit_test(test_incomplete),
	    cmocka_unit_test(test_limit),
	    cmocka_unit_test(test_callback),
	    cmocka_unit_test(test_mcp_stream),
	    cmocka_unit_test(test_encode),
	};

	return cmocka_run_group_tests_name("sse", tests, NULL, NULL);
}
