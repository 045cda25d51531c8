/* sse.c: text/event-stream parsing and encoding.
 *
 * Bytes are copied into the block buffer while a byte scanner finds line ends (CRLF, LF or CR,
 * a CRLF possibly split across calls) and the blank line that ends a block; the block is then
 * interpreted in one pass. Because lines are only interpreted once the block is whole, any
 * chunking yields the same result. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"
#include "util.h"

#define SSE_BUF_INITIAL 4096u

struct sse_parser {
	size_t max;
	unsigned bom;  /* BOM bytes matched so far; 3 once the stream start is past */
	bool skip_lf;  /* the last byte was a CR: an LF now is part of that line end */
	bool cr_ended; /* ... and that CR ended a block */
	bool emitted;  /* the buffers hold a reported block: reset before the next byte */
	bool failed;
	size_t line_len;
	size_t pending; /* input bytes since the last block */

	uint8_t *block;
	size_t block_len, block_cap;
	char *data;
	size_t data_cap;
	char *lid;
	size_t lid_len, lid_cap;
};

static const uint8_t bom[3] = {0xef, 0xbb, 0xbf};

int sse_parser_new(const struct sse_limits *limits, struct sse_parser **ret_parser)
{
	size_t max = limits ? limits->max_event_bytes : SSE_MAX_EVENT_BYTES_DEFAULT;
	struct sse_parser *p;

	if (max == 0 || max > SSE_MAX_EVENT_BYTES_CEILING)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->max = max;
	*ret_parser = p;
	return 0;
}

struct sse_parser *sse_parser_free(struct sse_parser *p)
{
	if (!p)
		return NULL;
	free(p->block);
	free(p->data);
	free(p->lid);
	free(p);
	return NULL;
}

void sse_parser_freep(struct sse_parser **p)
{
	sse_parser_free(*p);
}

/* Make room for need bytes (need <= max + 1). */
static int reserve(void *pbuf, size_t *cap, size_t need)
{
	void **buf = pbuf;
	size_t n;
	void *b;

	if (need <= *cap && *buf)
		return 0;
	n = *cap ? *cap : SSE_BUF_INITIAL;
	while (n < need)
		n *= 2;
	b = realloc(*buf, n);
	if (!b)
		return -ENOMEM;
	*buf = b;
	*cap = n;
	return 0;
}

static int append(struct sse_parser *p, uint8_t c)
{
	int r;

	if (p->block_len >= p->max) {
		p->failed = true;
		return -E2BIG;
	}
	r = reserve(&p->block, &p->block_cap, p->block_len + 1);
	if (r < 0)
		return r;
	p->block[p->block_len++] = c;
	return 0;
}

static bool parse_retry(const char *v, size_t len, int64_t *ret)
{
	int64_t n = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		if (n > (INT64_MAX - (v[i] - '0')) / 10)
			return false;
		n = n * 10 + (v[i] - '0');
	}
	*ret = n;
	return true;
}

static bool field_is(const char *name, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(name, lit, len) == 0;
}

/* Interpret a complete block (its last line is empty) into ev. */
static int interpret(struct sse_parser *p, struct sse_event *ev)
{
	const char *s = (const char *)p->block, *end = s + p->block_len;
	size_t data_len = 0;
	int r;

	r = reserve(&p->data, &p->data_cap, p->block_len + 1);
	if (r < 0)
		return r;
	ev->msg = (struct sse_message){.retry = -1};
	while (s < end) {
		const char *eol = s, *colon, *v;
		size_t len, vlen;

		while (eol < end && *eol != '\r' && *eol != '\n')
			eol++;
		len = (size_t)(eol - s);
		if (len == 0)
			break; /* the blank line: end of block */
		colon = memchr(s, ':', len);
		if (colon == s) {
			ev->flags |= SSE_EV_HAS_COMMENT;
		} else {
			size_t nlen = colon ? (size_t)(colon - s) : len;

			v = colon ? colon + 1 : eol;
			if (v < eol && *v == ' ')
				v++;
			vlen = (size_t)(eol - v);
			if (field_is(s, nlen, "event")) {
				ev->msg.event = v;
				ev->msg.event_len = vlen;
			} else if (field_is(s, nlen, "data")) {
				memcpy(p->data + data_len, v, vlen);
				data_len += vlen;
				p->data[data_len++] = '\n';
			} else if (field_is(s, nlen, "id")) {
				if (!memchr(v, 0, vlen)) {
					r = reserve(&p->lid, &p->lid_cap, vlen + 1);
					if (r < 0)
						return r;
					memcpy(p->lid, v, vlen);
					p->lid[vlen] = 0;
					p->lid_len = vlen;
					ev->msg.id = v;
					ev->msg.id_len = vlen;
					ev->flags |= SSE_EV_HAS_ID;
				}
			} else if (field_is(s, nlen, "retry")) {
				if (parse_retry(v, vlen, &ev->msg.retry))
					ev->flags |= SSE_EV_HAS_RETRY;
			}
		}
		s = eol;
		if (s < end && *s == '\r') {
			s++;
			if (s < end && *s == '\n')
				s++;
		} else if (s < end) {
			s++;
		}
	}
	if (data_len > 0) {
		data_len--; /* the spec drops the last '\n' */
		p->data[data_len] = 0;
		ev->msg.data = p->data;
		ev->msg.data_len = data_len;
		ev->flags |= SSE_EV_DISPATCH;
	}
	if (ev->msg.event && ev->msg.event_len > 0) {
		ev->type = ev->msg.event;
		ev->type_len = ev->msg.event_len;
	} else {
		ev->type = "message";
		ev->type_len = 7;
	}
	ev->last_event_id = p->lid ? p->lid : "";
	ev->last_event_id_len = p->lid_len;
	return 0;
}

static int emit(struct sse_parser *p, size_t used, unsigned flags, struct sse_event *ret_ev)
{
	struct sse_event ev = {.flags = flags};
	int r;

	r = interpret(p, &ev);
	if (r < 0)
		return r;
	ev.consumed = used;
	ev.span = p->pending;
	ev.raw = p->block;
	ev.raw_len = p->block_len;
	p->pending = 0;
	p->line_len = 0;
	p->emitted = true;
	*ret_ev = ev;
	return 1;
}

int sse_parse(struct sse_parser *p, const void *buf, size_t len, struct sse_event *ret_ev)
{
	const uint8_t *in = buf;
	size_t used = 0;
	int r;

	if (p->failed)
		return -E2BIG;
	if (p->emitted) {
		p->block_len = 0;
		p->emitted = false;
	}
	while (used < len) {
		uint8_t c = in[used++];

		p->pending++;
		if (p->bom < 3) {
			if (c == bom[p->bom]) {
				p->bom++;
				continue;
			}
			/* Not a BOM after all: the matched bytes are content. */
			for (unsigned i = 0; i < p->bom; i++) {
				r = append(p, bom[i]);
				if (r < 0)
					return r;
				p->line_len++;
			}
			p->bom = 3;
		}
		if (p->skip_lf) {
			p->skip_lf = false;
			if (c == '\n') {
				/* The LF of a CRLF: part of the current block's raw bytes unless
				 * its CR already ended the previous block. */
				if (p->cr_ended)
					continue;
				r = append(p, c);
				if (r < 0)
					return r;
				continue;
			}
		}
		r = append(p, c);
		if (r < 0)
			return r;
		if (c == '\r' || c == '\n') {
			p->skip_lf = c == '\r';
			p->cr_ended = false;
			if (p->line_len == 0) {
				p->cr_ended = p->skip_lf;
				return emit(p, used, 0, ret_ev);
			}
			p->line_len = 0;
		} else {
			/* the rest of the line's bytes at once (no line end among them) */
			size_t k = 0, room = p->max - p->block_len;

			while (used + k < len && k < room && in[used + k] != '\r' &&
			       in[used + k] != '\n')
				k++;
			r = reserve(&p->block, &p->block_cap, p->block_len + k);
			if (r < 0)
				return r;
			memcpy(p->block + p->block_len, in + used, k);
			p->block_len += k;
			p->line_len += 1 + k;
			p->pending += k;
			used += k;
		}
	}
	*ret_ev = (struct sse_event){.consumed = used};
	return 0;
}

int sse_parse_all(struct sse_parser *p, const void *buf, size_t len, sse_event_cb cb,
		  void *userdata)
{
	const uint8_t *in = buf;
	struct sse_event ev;
	int r;

	for (;;) {
		r = sse_parse(p, in, len, &ev);
		if (r <= 0)
			return r;
		in += ev.consumed;
		len -= ev.consumed;
		r = cb(&ev, userdata);
		if (r < 0)
			return r;
	}
}

int sse_finish(struct sse_parser *p, struct sse_event *ret_ev)
{
	struct sse_event ev = {.flags = SSE_EV_INCOMPLETE, .type = "message", .type_len = 7};

	if (p->failed)
		return -E2BIG;
	if (p->emitted) {
		p->block_len = 0;
		p->emitted = false;
	}
	/* A partial BOM at the very end is content. */
	for (unsigned i = 0; p->bom < 3 && i < p->bom; i++)
		if (append(p, bom[i]) < 0)
			return -E2BIG;
	p->bom = 3;
	if (p->pending == 0)
		return 0;
	/* Only the LF of a CRLF whose CR ended the last block: nothing was cut off. */
	if (p->block_len == 0)
		ev.flags = 0;
	ev.msg.retry = -1;
	ev.span = p->pending;
	ev.raw = p->block;
	ev.raw_len = p->block_len;
	ev.last_event_id = p->lid ? p->lid : "";
	ev.last_event_id_len = p->lid_len;
	p->pending = 0;
	p->line_len = 0;
	p->emitted = true;
	*ret_ev = ev;
	return 1;
}

static bool has_line_end(const char *s, size_t len)
{
	return s && (memchr(s, '\r', len) || memchr(s, '\n', len));
}

/* Write the encoding to out (if not NULL); return its length. */
static size_t encode(const struct sse_message *m, char *out)
{
	size_t n = 0;
	char num[24];

#define PUT(s, len)                                                                                \
	do {                                                                                       \
		if (out)                                                                           \
			memcpy(out + n, (s), (len));                                               \
		n += (len);                                                                        \
	} while (0)
#define FIELD(name, v, vlen)                                                                       \
	do {                                                                                       \
		PUT(name, strlen(name));                                                           \
		if ((vlen) > 0) {                                                                  \
			PUT(" ", 1);                                                               \
			PUT(v, vlen);                                                              \
		}                                                                                  \
		PUT("\n", 1);                                                                      \
	} while (0)

	if (m->comment) {
		PUT(":", 1);
		PUT(m->comment, m->comment_len);
		PUT("\n", 1);
	}
	if (m->event)
		FIELD("event:", m->event, m->event_len);
	if (m->id)
		FIELD("id:", m->id, m->id_len);
	if (m->retry >= 0) {
		int k = snprintf(num, sizeof(num), "%lld", (long long)m->retry);

		FIELD("retry:", num, (size_t)k);
	}
	if (m->data) {
		const char *s = m->data, *end = m->data + m->data_len;

		for (;;) {
			const char *eol = s;

			while (eol < end && *eol != '\r' && *eol != '\n')
				eol++;
			FIELD("data:", s, (size_t)(eol - s));
			if (eol == end)
				break;
			s = eol + 1;
			if (*eol == '\r' && s < end && *s == '\n')
				s++;
		}
	}
	PUT("\n", 1);
	return n;
#undef FIELD
#undef PUT
}

ssize_t sse_encoded_size(const struct sse_message *m)
{
	if (has_line_end(m->event, m->event_len) || has_line_end(m->id, m->id_len) ||
	    has_line_end(m->comment, m->comment_len) || (m->id && memchr(m->id, 0, m->id_len)) ||
	    m->retry < -1)
		return -EINVAL;
	return (ssize_t)encode(m, NULL);
}

int sse_encode(const struct sse_message *m, char *buf, size_t size, size_t *ret_len)
{
	ssize_t need = sse_encoded_size(m);

	if (need < 0)
		return (int)need;
	if ((size_t)need > size)
		return -ENOBUFS;
	*ret_len = encode(m, buf);
	return 0;
}

int sse_encode_alloc(const struct sse_message *m, char **ret_buf, size_t *ret_len)
{
	ssize_t need = sse_encoded_size(m);
	char *buf;

	if (need < 0)
		return (int)need;
	buf = malloc((size_t)need + 1);
	if (!buf)
		return -ENOMEM;
	*ret_len = encode(m, buf);
	*ret_buf = buf;
	return 0;
}
