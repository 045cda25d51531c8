/* mask_jtext.c: JSON carried as text (an MCP tool result's content[].text holding rows),
 * masked without a parse tree.  A strict recursive-descent walk (RFC 8259 grammar) over the
 * text: string values are masked where they stand (decoded first only when they hold
 * escapes, re-escaped after), integers that look like cards or phones become strings, values
 * under a key-name rule are replaced whole, and every other byte is copied as it was.  Output
 * is written only from the first change on.  Text that is not JSON gives -EBADMSG and
 * leaves out, the counts and the summary as they were, so the caller can mask it as text. */
#include <stdio.h>

#include "mask_internal.h"

struct jt {
	const char *s;
	size_t n, i;
	size_t copied; /* s[0..copied) is in out (only once changed) */
	struct mask_buf *out;
	bool changed;
};

#define JT_MAX_KEY 256

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
#define HAS_ZERO(v) (((v) - ONES) & ~(v) & HIGHS)
#define HAS_LESS(v, n) (((v) - ONES * (n)) & ~(v) & HIGHS) /* bytes of a decoded key compared against the rules */

static inline void ws(struct jt *t)
{
	while (t->i < t->n) {
		char c = t->s[t->i];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			return;
		t->i++;
	}
}

/* Replace s[a..b) with r[0..rn) (quoted when quote). */
static int replace(struct jt *t, size_t a, size_t b, const char *r, size_t rn, bool quote)
{
	int e = 0;

	if (!t->changed)
		e = mask_buf_reserve(t->out, t->n + 256); /* most of the text follows */
	if (e >= 0)
		e = mask_buf_put(t->out, t->s + t->copied, a - t->copied);
	if (e >= 0 && quote)
		e = mask_buf_put(t->out, "\"", 1);
	if (e >= 0)
		e = mask_buf_put(t->out, r, rn);
	if (e >= 0 && quote)
		e = mask_buf_put(t->out, "\"", 1);
	if (e < 0)
		return e;
	t->copied = b;
	t->changed = true;
	return 0;
}

static int hex4(const char *p, unsigned *ret)
{
	unsigned v = 0;

	for (int k = 0; k < 4; k++) {
		int h = mw_hex_value(p[k]);

		if (h < 0)
			return -EBADMSG;
		v = v << 4 | h;
	}
	*ret = v;
	return 0;
}

/* At '"': the content's bounds and whether it holds escapes. */
static int scan_string(struct jt *t, size_t *ret_a, size_t *ret_b, bool *ret_esc)
{
	static const uint8_t stop[256] = { [0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1 };
	size_t i = t->i + 1;
	bool esc = false;

	for (;;) {
		unsigned char c;

		/* eight bytes at a time while none is '"', '\\' or a control character */
		while (i + 8 <= t->n) {
			uint64_t v;

			memcpy(&v, t->s + i, 8);
			if ((HAS_ZERO(v ^ (ONES * '"')) | HAS_ZERO(v ^ (ONES * '\\')) |
			     HAS_LESS(v, 0x20)))
				break;
			i += 8;
		}
		while (i < t->n && !stop[(unsigned char)t->s[i]])
			i++;
		if (i >= t->n)
			return -EBADMSG;
		c = t->s[i];
		if (c == '"')
			break;
		if (c < 0x20)
			return -EBADMSG;
		if (c == '\\') {
			if (i + 1 >= t->n)
				return -EBADMSG;
			esc = true;
			if (t->s[i + 1] == 'u') {
				unsigned v;

				if (i + 6 > t->n || hex4(t->s + i + 2, &v) < 0)
					return -EBADMSG;
				i += 6;
				continue;
			}
			if (!strchr("\"\\/bfnrt", t->s[i + 1]) || !t->s[i + 1])
				return -EBADMSG;
			i += 2;
			continue;
		}
		i++;
	}
	*ret_a = t->i + 1;
	*ret_b = i;
	*ret_esc = esc;
	t->i = i + 1;
	return 0;
}

static int put_utf8(struct mask_buf *b, unsigned cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = 0xc0 | cp >> 6;
		u[1] = 0x80 | (cp & 0x3f);
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = 0xe0 | cp >> 12;
		u[1] = 0x80 | ((cp >> 6) & 0x3f);
		u[2] = 0x80 | (cp & 0x3f);
		n = 3;
	} else {
		u[0] = 0xf0 | cp >> 18;
		u[1] = 0x80 | ((cp >> 12) & 0x3f);
		u[2] = 0x80 | ((cp >> 6) & 0x3f);
		u[3] = 0x80 | (cp & 0x3f);
		n = 4;
	}
	return mask_buf_put(b, u, n);
}

/* Decode a string's content (already checked by scan_string).  Lone surrogates are refused,
 * as jansson refuses them. */
static int decode(const char *s, size_t n, struct mask_buf *b)
{
	size_t i = 0, plain = 0;
	int r;

	while (i < n) {
		unsigned cp;
		char c;

		if (s[i] != '\\') {
			i++;
			continue;
		}
		r = mask_buf_put(b, s + plain, i - plain);
		if (r < 0)
			return r;
		c = s[i + 1];
		if (c != 'u') {
			static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";

			r = mask_buf_put(b, &to[strchr(from, c) - from], 1);
			i += 2;
		} else {
			(void)hex4(s + i + 2, &cp);
			i += 6;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				unsigned lo;

				if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u' ||
				    hex4(s + i + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
					return -EBADMSG;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				i += 6;
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				return -EBADMSG;
			}
			if (cp == 0)
				return -EBADMSG; /* jansson refuses NUL in strings unless asked */
			r = put_utf8(b, cp);
		}
		if (r < 0)
			return r;
		plain = i;
	}
	return mask_buf_put(b, s + plain, n - plain);
}

/* JSON string content for s[0..n) (valid UTF-8 in, kept as UTF-8). */
static int encode(const char *s, size_t n, struct mask_buf *b)
{
	size_t plain = 0;
	int r;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		char e[8];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		r = mask_buf_put(b, s + plain, i - plain);
		if (r < 0)
			return r;
		switch (c) {
		case '"': r = mask_buf_put(b, "\\\"", 2); break;
		case '\\': r = mask_buf_put(b, "\\\\", 2); break;
		case '\n': r = mask_buf_put(b, "\\n", 2); break;
		case '\r': r = mask_buf_put(b, "\\r", 2); break;
		case '\t': r = mask_buf_put(b, "\\t", 2); break;
		default:
			snprintf(e, sizeof(e), "\\u%04x", c);
			r = mask_buf_put(b, e, 6);
		}
		if (r < 0)
			return r;
		plain = i + 1;
	}
	return mask_buf_put(b, s + plain, n - plain);
}

static int value(struct mask_ctx *x, struct jt *t, int depth, bool skip);

/* A value under a key-name rule: walked (to find its end and check it), then replaced whole
 * by a string.  null stays null. */
static int value_ruled(struct mask_ctx *x, struct jt *t, int depth, enum mw_mask_kind kind)
{
	struct mask_buf dec = { 0 }, rep = { 0 };
	size_t a = t->i, ca, cb;
	bool esc;
	int r;

	if (t->i < t->n && t->s[t->i] == '"') {
		r = scan_string(t, &ca, &cb, &esc);
		if (r < 0)
			return r;
		if (esc) {
			r = decode(t->s + ca, cb - ca, &dec);
			if (r >= 0)
				r = mask_render_one(x, kind, NULL, dec.p ? dec.p : "", dec.len,
						    &rep);
		} else {
			r = mask_render_one(x, kind, NULL, t->s + ca, cb - ca, &rep);
		}
	} else {
		r = value(x, t, depth, true);
		if (r >= 0 && t->i - a == 4 && memcmp(t->s + a, "null", 4) == 0)
			return 0;
		if (r >= 0)
			r = mask_render_one(x, kind, NULL, t->s + a, t->i - a, &rep);
	}
	if (r >= 0)
		r = replace(t, a, t->i, rep.p, rep.len, true);
	if (r >= 0)
		mask_note(x, kind);
	free(dec.p);
	free(rep.p);
	return r;
}

static int string_value(struct mask_ctx *x, struct jt *t, int depth, bool skip)
{
	struct mask_buf dec = { 0 }, m = { 0 }, enc = { 0 };
	size_t a, b;
	bool esc;
	int r;

	r = scan_string(t, &a, &b, &esc);
	if (r < 0 || skip)
		return r;
	if (!esc && !mask_looks_json(t->s + a, b - a)) {
		/* the common case: plain text, masked through the context's scratch buffer */
		x->scratch.len = 0;
		r = mask_span(x, t->s + a, b - a, &x->scratch);
		if (r > 0)
			r = replace(t, a, b, x->scratch.p, x->scratch.len, false);
		return r;
	}
	if (!esc) {
		r = mask_string(x, t->s + a, b - a, depth + 1, &m);
		if (r > 0)
			r = replace(t, a, b, m.p, m.len, false);
		free(m.p);
		return r;
	}
	r = decode(t->s + a, b - a, &dec);
	if (r >= 0 && dec.len > 0)
		r = mask_string(x, dec.p, dec.len, depth + 1, &m);
	if (r > 0)
		r = encode(m.p, m.len, &enc);
	if (r >= 0 && m.len > 0)
		r = replace(t, a, b, enc.p ? enc.p : "", enc.len, false);
	free(dec.p);
	free(m.p);
	free(enc.p);
	return r;
}

#define NUMBER_MIN_DIGITS 7 /* shorter integers cannot be a card or a phone */

static int number_value(struct mask_ctx *x, struct jt *t, bool skip)
{
	size_t a = t->i, digits = 0;
	bool integer = true;
	struct mask_buf m = { 0 };
	int r;

	if (t->s[t->i] == '-')
		t->i++;
	if (t->i >= t->n || !(t->s[t->i] >= '0' && t->s[t->i] <= '9'))
		return -EBADMSG;
	if (t->s[t->i] == '0' && t->i + 1 < t->n && t->s[t->i + 1] >= '0' &&
	    t->s[t->i + 1] <= '9')
		return -EBADMSG;
	while (t->i < t->n && t->s[t->i] >= '0' && t->s[t->i] <= '9')
		t->i++, digits++;
	if (t->i < t->n && t->s[t->i] == '.') {
		integer = false;
		t->i++;
		if (t->i >= t->n || !(t->s[t->i] >= '0' && t->s[t->i] <= '9'))
			return -EBADMSG;
		while (t->i < t->n && t->s[t->i] >= '0' && t->s[t->i] <= '9')
			t->i++;
	}
	if (t->i < t->n && (t->s[t->i] == 'e' || t->s[t->i] == 'E')) {
		integer = false;
		t->i++;
		if (t->i < t->n && (t->s[t->i] == '+' || t->s[t->i] == '-'))
			t->i++;
		if (t->i >= t->n || !(t->s[t->i] >= '0' && t->s[t->i] <= '9'))
			return -EBADMSG;
		while (t->i < t->n && t->s[t->i] >= '0' && t->s[t->i] <= '9')
			t->i++;
	}
	if (skip || !integer || digits < NUMBER_MIN_DIGITS || t->s[a] == '-')
		return 0;
	r = mask_span(x, t->s + a, t->i - a, &m);
	if (r > 0)
		r = replace(t, a, t->i, m.p, m.len, true);
	free(m.p);
	return r;
}

static int literal(struct jt *t)
{
	static const char *const lits[] = { "true", "false", "null" };

	for (size_t k = 0; k < ARRAY_SIZE(lits); k++) {
		size_t l = strlen(lits[k]);

		if (t->n - t->i >= l && memcmp(t->s + t->i, lits[k], l) == 0) {
			t->i += l;
			return 0;
		}
	}
	return -EBADMSG;
}

/* '{' or '[' at t->i: true when close follows at once (the empty container is consumed). */
static inline bool container_open(struct jt *t, char close)
{
	t->i++;
	ws(t);
	if (t->i < t->n && t->s[t->i] == close) {
		t->i++;
		return true;
	}
	return false;
}

/* After a member or element: 1 at ',' (more follow), 0 at close (the container ends). */
static inline int container_next(struct jt *t, char close)
{
	ws(t);
	if (t->i < t->n && t->s[t->i] == ',') {
		t->i++;
		ws(t);
		return 1;
	}
	if (t->i < t->n && t->s[t->i] == close) {
		t->i++;
		return 0;
	}
	return -EBADMSG;
}

static int object(struct mask_ctx *x, struct jt *t, int depth, bool skip)
{
	int r;

	if (container_open(t, '}'))
		return 0;
	for (;;) {
		struct mask_buf key = { 0 };
		enum mw_mask_kind rule = MW_MASK__MAX;
		size_t a, b, old = x->path_len;
		bool esc;

		if (t->i >= t->n || t->s[t->i] != '"')
			return -EBADMSG;
		r = scan_string(t, &a, &b, &esc);
		if (r < 0)
			return r;
		if (!skip) {
			const char *k = t->s + a;
			size_t kn = b - a;

			if (esc && kn <= JT_MAX_KEY) {
				r = decode(k, kn, &key);
				if (r < 0) {
					free(key.p);
					return r;
				}
				k = key.p ? key.p : "";
				kn = key.len;
			}
			rule = mask_key_rule(x->p, k, kn);
			old = mask_path_push(x, k, kn);
		}
		ws(t);
		if (t->i >= t->n || t->s[t->i] != ':') {
			free(key.p);
			return -EBADMSG;
		}
		t->i++;
		ws(t);
		if (rule != MW_MASK__MAX)
			r = value_ruled(x, t, depth + 1, rule);
		else
			r = value(x, t, depth + 1, skip);
		mask_path_pop(x, old);
		free(key.p); /* the path pointed into it */
		if (r < 0)
			return r;
		r = container_next(t, '}');
		if (r <= 0)
			return r;
	}
}

static int array(struct mask_ctx *x, struct jt *t, int depth, bool skip)
{
	size_t idx = 0;
	int r;

	if (container_open(t, ']'))
		return 0;
	for (;;) {
		size_t old = skip ? x->path_len : mask_path_push_index(x, idx++);

		r = value(x, t, depth + 1, skip);
		mask_path_pop(x, old);
		if (r < 0)
			return r;
		r = container_next(t, ']');
		if (r <= 0)
			return r;
	}
}

static int value(struct mask_ctx *x, struct jt *t, int depth, bool skip)
{
	if (depth > MW_MASK_MAX_DEPTH)
		return -ELOOP;
	if (t->i >= t->n)
		return -EBADMSG;
	switch (t->s[t->i]) {
	case '{':
		return object(x, t, depth, skip);
	case '[':
		return array(x, t, depth, skip);
	case '"':
		return string_value(x, t, depth, skip);
	case '-':
	case '0' ... '9':
		return number_value(x, t, skip);
	default:
		return literal(t);
	}
}

int mask_jtext(struct mask_ctx *x, const char *s, size_t n, int depth, struct mask_buf *out)
{
	struct jt t = { .s = s, .n = n, .out = out };
	struct mw_mask_summary saved;
	size_t out_len = out->len, path_len = x->path_len;
	int count = x->count, r;

	if (depth > MW_MASK_MAX_DEPTH)
		return -ELOOP;
	if (n > x->budget)
		return -EFBIG;
	x->budget -= n;
	if (x->sum)
		saved = *x->sum;
	ws(&t);
	r = value(x, &t, depth, false);
	if (r >= 0) {
		ws(&t);
		if (t.i != n)
			r = -EBADMSG;
	}
	if (r >= 0 && t.changed)
		r = mask_buf_put(out, s + t.copied, n - t.copied);
	if (r < 0) {
		/* not JSON: undo, so the caller can mask it as text */
		out->len = out_len;
		if (out->p)
			out->p[out_len] = '\0';
		x->count = count;
		mask_path_pop(x, path_len);
		if (x->sum)
			*x->sum = saved;
		if (r == -EBADMSG)
			x->budget += n;
		return r;
	}
	return t.changed ? x->count - count : 0;
}
