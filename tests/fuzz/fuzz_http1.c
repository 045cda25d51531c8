/* fuzz_http1.c: the HTTP/1.1 parser on arbitrary bytes, whole and in chunks.
 *
 * Byte 0: bit 0 request/response, bit 1 small limits, bits 2-7 the methods of the requests a
 * response parser expects (GET, HEAD, POST, CONNECT). Byte 1: chunk size for the split run
 * (0: one byte at a time). The rest is the stream. Invariants: events never cover more than
 * the input, body slices lie inside the consumed input, wire counts add up to the consumed
 * bytes, and the whole and split runs produce the same transcript and the same result. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

struct transcript {
	uint8_t *buf;
	size_t len, cap;
};

static void put(struct transcript *t, const void *p, size_t n)
{
	if (t->len + n > t->cap) {
		t->cap = (t->len + n) * 2 + 256;
		t->buf = realloc(t->buf, t->cap);
		assert(t->buf);
	}
	if (n) /* p may be NULL for an empty slice */
		memcpy(t->buf + t->len, p, n);
	t->len += n;
}

static void put_u64(struct transcript *t, uint64_t v)
{
	put(t, &v, sizeof(v));
}

static void put_str(struct transcript *t, struct http1_str s)
{
	put_u64(t, s.len);
	put(t, s.p, s.len);
}

static void record_head(struct transcript *t, const struct http1_head *h)
{
	put(t, "H", 1);
	put_u64(t, (uint64_t)h->status);
	put_u64(t, h->method_id);
	put_u64(t, h->flags);
	put_u64(t, h->content_length);
	put_u64(t, h->head_bytes);
	put_u64(t, (uint64_t)h->version_minor);
	put_str(t, h->method);
	put_str(t, h->target);
	put_str(t, h->reason);
	for (size_t i = 0; i < h->n_headers; i++) {
		put_str(t, h->headers[i].name);
		put_str(t, h->headers[i].value);
	}
}

static int run(const uint8_t *data, size_t len, uint8_t mode, size_t chunk, struct transcript *t)
{
	static const enum http1_method methods[] = {HTTP1_M_GET, HTTP1_M_HEAD, HTTP1_M_POST,
						    HTTP1_M_CONNECT};
	enum http1_kind kind = mode & 1 ? HTTP1_RESPONSE : HTTP1_REQUEST;
	struct http1_parser *p = NULL;
	struct http1_limits lim;
	size_t off = 0, wire = 0;
	struct http1_event ev;
	int r = 0;

	http1_limits_default(kind, &lim);
	if (mode & 2) {
		lim.max_head_bytes = 128;
		lim.max_headers = 4;
		lim.max_body = 300;
		lim.max_chunk_line = 16;
		lim.max_trailer_bytes = 32;
		lim.max_pipeline = 4;
		lim.allow_identical_content_length = true;
	}
	assert(http1_parser_new(kind, &lim, &p) == 0);
	if (kind == HTTP1_RESPONSE)
		for (unsigned i = 0; i < lim.max_pipeline && i < 8; i++)
			assert(http1_parser_push_request(
				   p, methods[(mode >> (2 + (i % 3) * 2)) & 3]) == 0);

	while (off < len || len == 0) {
		size_t n = chunk && chunk < len - off ? chunk : len - off;
		const uint8_t *in = data + off;

		for (;;) {
			r = http1_parse(p, in, n, &ev);
			if (r < 0)
				goto done;
			assert(ev.consumed <= n);
			off += ev.consumed;
			wire += ev.wire;
			if (ev.type == HTTP1_EV_NONE) {
				assert(ev.consumed == n);
				assert(ev.wire == 0);
				break;
			}
			if (ev.type == HTTP1_EV_HEAD) {
				assert(ev.wire == http1_parser_head(p)->head_bytes);
				record_head(t, http1_parser_head(p));
			} else if (ev.type == HTTP1_EV_BODY) {
				assert(ev.len > 0);
				assert(ev.data >= in && ev.data + ev.len <= in + ev.consumed);
				put(t, ev.data, ev.len);
			} else {
				size_t nt;
				const struct http1_header *tr = http1_parser_trailers(p, &nt);

				put(t, "D", 1);
				put_u64(t, ev.flags);
				for (size_t i = 0; i < nt; i++) {
					put_str(t, tr[i].name);
					put_str(t, tr[i].value);
				}
			}
			assert(wire == off);
			in += ev.consumed;
			n -= ev.consumed;
		}
		if (len == 0)
			break;
	}
	assert(off == len);
	r = http1_parse_eof(p, &ev);
	if (r >= 0 && ev.type == HTTP1_EV_DONE) {
		put(t, "E", 1);
		put_u64(t, ev.flags);
	}
done:
	put(t, "R", 1);
	put_u64(t, (uint64_t)(int64_t)r);
	put_u64(t, http1_parser_error(p));
	if (r < 0) {
		assert(http1_parser_error(p) != HTTP1_E_NONE);
		assert(http1_error_status(kind, http1_parser_error(p)) >= 400);
		assert(http1_error_str(http1_parser_error(p)) != NULL);
	}
	http1_parser_free(p);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct transcript a = {}, b = {};
	uint8_t mode, chunk;

	if (size < 2)
		return 0;
	mode = data[0];
	chunk = data[1];
	run(data + 2, size - 2, mode, 0, &a);
	run(data + 2, size - 2, mode, chunk ? chunk : 1, &b);
	assert(a.len == b.len && (a.len == 0 || memcmp(a.buf, b.buf, a.len) == 0));
	free(a.buf);
	free(b.buf);
	return 0;
}
