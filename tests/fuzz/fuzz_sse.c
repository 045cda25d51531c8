/* fuzz_sse.c: the event-stream parser on arbitrary bytes, whole and in chunks, and the encoder.
 *
 * Byte 0: chunk size for the split run (0: one byte at a time); byte 1 bit 0: small event
 * limit. Invariants: spans add up to the bytes consumed and never exceed the input, raw block
 * bytes fit in their span, whole and split runs agree block for block, and every dispatched
 * event survives sse_encode() and a reparse unchanged. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

struct transcript {
	uint8_t *buf;
	size_t len, cap;
};

static void put(struct transcript *t, const void *p, size_t n)
{
	if (t->len + n + 8 > t->cap) {
		t->cap = (t->len + n + 8) * 2 + 256;
		t->buf = realloc(t->buf, t->cap);
		assert(t->buf);
	}
	memcpy(t->buf + t->len, &n, sizeof(n));
	t->len += sizeof(n);
	if (n)
		memcpy(t->buf + t->len, p, n);
	t->len += n;
}

static void put_u64(struct transcript *t, uint64_t v)
{
	put(t, &v, sizeof(v));
}

static bool same(const char *a, size_t alen, const char *b, size_t blen)
{
	if (!a || !b)
		return !a && !b;
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static void check_roundtrip(const struct sse_event *ev)
{
	struct sse_message m = ev->msg;
	struct sse_parser *q = NULL;
	struct sse_event e2;
	char *buf;
	ssize_t need;
	size_t n;

	need = sse_encoded_size(&m);
	assert(need > 0);
	buf = malloc((size_t)need);
	assert(buf);
	assert(sse_encode(&m, buf, (size_t)need, &n) == 0 && n == (size_t)need);
	assert(sse_encode(&m, buf, (size_t)need - 1, &n) == -ENOBUFS);
	assert(sse_parser_new(&(struct sse_limits){SSE_MAX_EVENT_BYTES_CEILING}, &q) == 0);
	assert(sse_parse(q, buf, n, &e2) == 1);
	assert(e2.consumed == n && e2.span == n);
	assert(e2.flags == (ev->flags & ~SSE_EV_HAS_COMMENT));
	assert(same(e2.msg.data, e2.msg.data_len, m.data, m.data_len));
	assert(same(e2.msg.event, e2.msg.event_len, m.event, m.event_len));
	assert(same(e2.msg.id, e2.msg.id_len, m.id, m.id_len));
	assert(e2.msg.retry == m.retry);
	sse_parser_free(q);
	free(buf);
}

static int run(const uint8_t *data, size_t len, size_t chunk, bool small, struct transcript *t)
{
	struct sse_parser *p = NULL;
	struct sse_limits lim = {small ? 64 : SSE_MAX_EVENT_BYTES_DEFAULT};
	struct sse_event ev;
	size_t off = 0, span = 0;
	int r = 0;

	assert(sse_parser_new(&lim, &p) == 0);
	while (off < len) {
		size_t n = chunk && chunk < len - off ? chunk : len - off;
		const uint8_t *in = data + off;

		for (;;) {
			r = sse_parse(p, in, n, &ev);
			if (r < 0)
				goto done;
			assert(ev.consumed <= n);
			off += ev.consumed;
			if (r == 0) {
				assert(ev.consumed == n);
				break;
			}
			span += ev.span;
			assert(span == off);
			assert(ev.raw_len <= ev.span && ev.raw_len <= lim.max_event_bytes);
			assert(ev.msg.data_len <= ev.raw_len);
			assert(!!(ev.flags & SSE_EV_DISPATCH) == !!ev.msg.data);
			put_u64(t, ev.flags);
			put_u64(t, ev.span);
			put(t, ev.raw, ev.raw_len);
			put(t, ev.type, ev.type_len);
			put(t, ev.msg.data, ev.msg.data_len);
			put(t, ev.msg.id, ev.msg.id_len);
			put_u64(t, (uint64_t)ev.msg.retry);
			put(t, ev.last_event_id, ev.last_event_id_len);
			if (ev.flags & SSE_EV_DISPATCH)
				check_roundtrip(&ev);
			in += ev.consumed;
			n -= ev.consumed;
		}
	}
	r = sse_finish(p, &ev);
	if (r == 1) {
		span += ev.span;
		put_u64(t, ev.flags);
		put(t, ev.raw, ev.raw_len);
	}
	assert(span == len);
done:
	put_u64(t, (uint64_t)(int64_t)r);
	sse_parser_free(p);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct transcript a = {}, b = {};

	if (size < 2)
		return 0;
	run(data + 2, size - 2, 0, data[1] & 1, &a);
	run(data + 2, size - 2, data[0] ? data[0] : 1, data[1] & 1, &b);
	assert(a.len == b.len && (a.len == 0 || memcmp(a.buf, b.buf, a.len) == 0));
	free(a.buf);
	free(b.buf);
	return 0;
}
