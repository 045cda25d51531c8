/* jsonpos.c: see jsonpos.h.  A forward-only scanner: it never builds a tree, keeps no stack
 * (nesting is skipped by counting brackets) and reads every byte at most once per call. */
#include "jsonpos.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

struct scan {
	const unsigned char *s;
	size_t len;
	size_t i;
	int line;
	int col;
};

/* One pointer reference token, still RFC 6901-escaped ("~0" is '~', "~1" is '/'). */
struct token {
	const char *p;
	const char *end;
};

static int peek(const struct scan *sc)
{
	return sc->i < sc->len ? sc->s[sc->i] : -1;
}

static void advance(struct scan *sc)
{
	unsigned char b;

	if (sc->i >= sc->len)
		return;
	b = sc->s[sc->i++];
	if (b == '\n') {
		sc->line++;
		sc->col = 1;
	} else if ((b & 0xc0) != 0x80) {
		/* columns count characters: UTF-8 continuation bytes do not move them */
		sc->col++;
	}
}

static void skip_ws(struct scan *sc)
{
	for (;;) {
		int c = peek(sc);

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			return;
		advance(sc);
	}
}

static bool is_delim(int c)
{
	return c < 0 || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ':' ||
	       c == '[' || c == ']' || c == '{' || c == '}' || c == '"';
}

/* At the opening quote: move past the closing one. */
static int skip_string(struct scan *sc)
{
	advance(sc);
	for (;;) {
		int c = peek(sc);

		if (c < 0)
			return -EINVAL;
		advance(sc);
		if (c == '"')
			return 0;
		if (c == '\\') {
			if (peek(sc) < 0)
				return -EINVAL;
			advance(sc);
		}
	}
}

/* Skip one value of any kind.  budget is how many more levels of nesting are allowed. */
static int skip_value(struct scan *sc, unsigned budget)
{
	unsigned depth = 0;
	int c = peek(sc);

	if (c == '"')
		return skip_string(sc);
	if (c != '{' && c != '[') {
		if (is_delim(c))
			return -EINVAL;
		while (!is_delim(peek(sc)))
			advance(sc);
		return 0;
	}
	for (;;) {
		int r;

		c = peek(sc);
		switch (c) {
		case -1:
			return -EINVAL;
		case '"':
			r = skip_string(sc);
			if (r < 0)
				return r;
			continue;
		case '{':
		case '[':
			if (++depth > budget)
				return -ELOOP;
			break;
		case '}':
		case ']':
			advance(sc);
			if (--depth == 0)
				return 0;
			continue;
		default:
			break;
		}
		advance(sc);
	}
}

static int hex4(const unsigned char *p)
{
	int v = 0;

	for (int k = 0; k < 4; k++) {
		int c = p[k], d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	return v;
}

static int utf8_encode(uint32_t cp, unsigned char out[4])
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | (cp >> 6));
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | (cp >> 12));
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | (cp >> 18));
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Inside a string: decode the next character into out.  Returns its length in bytes, 0 after
 * consuming the closing quote, -EINVAL on a broken string. */
static int string_next(struct scan *sc, unsigned char out[4])
{
	int c = peek(sc), v;
	uint32_t cp;

	if (c < 0)
		return -EINVAL;
	advance(sc);
	if (c == '"')
		return 0;
	if (c != '\\') {
		out[0] = (unsigned char)c;
		return 1;
	}
	c = peek(sc);
	if (c < 0)
		return -EINVAL;
	advance(sc);
	switch (c) {
	case '"':
	case '\\':
	case '/':
		out[0] = (unsigned char)c;
		return 1;
	case 'b':
		out[0] = '\b';
		return 1;
	case 'f':
		out[0] = '\f';
		return 1;
	case 'n':
		out[0] = '\n';
		return 1;
	case 'r':
		out[0] = '\r';
		return 1;
	case 't':
		out[0] = '\t';
		return 1;
	case 'u':
		break;
	default:
		return -EINVAL;
	}
	if (sc->len - sc->i < 4)
		return -EINVAL;
	v = hex4(sc->s + sc->i);
	if (v < 0)
		return -EINVAL;
	for (int k = 0; k < 4; k++)
		advance(sc);
	cp = (uint32_t)v;
	if (cp >= 0xd800 && cp <= 0xdbff && sc->len - sc->i >= 6 && sc->s[sc->i] == '\\' &&
	    sc->s[sc->i + 1] == 'u') {
		int lo = hex4(sc->s + sc->i + 2);

		if (lo >= 0xdc00 && lo <= 0xdfff) {
			cp = 0x10000 + ((cp - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
			for (int k = 0; k < 6; k++)
				advance(sc);
		}
	}
	/* a lone surrogate (jansson refuses those) is encoded as is and simply never matches */
	return utf8_encode(cp, out);
}

static int token_next(struct token *t)
{
	char c;

	if (t->p >= t->end)
		return -1;
	c = *t->p++;
	if (c == '~') {
		/* validated beforehand: a digit 0 or 1 follows */
		c = *t->p++ == '0' ? '~' : '/';
	}
	return (unsigned char)c;
}

/* Just past a key's opening quote: consume the key, tell whether it equals the token. */
static int key_matches(struct scan *sc, const struct token *tok, bool *ret_match)
{
	struct token t = *tok;
	bool match = true;

	for (;;) {
		unsigned char buf[4];
		int n = string_next(sc, buf);

		if (n < 0)
			return n;
		if (n == 0)
			break;
		for (int k = 0; k < n && match; k++)
			if (token_next(&t) != buf[k])
				match = false;
	}
	if (match && token_next(&t) != -1)
		match = false;
	*ret_match = match;
	return 0;
}

/* An array index token: "0" or a decimal without leading zeros.  "-" and anything else
 * name no element. */
static int token_index(const struct token *t, size_t *ret_index)
{
	size_t n = (size_t)(t->end - t->p), v = 0;

	if (n == 0 || n > 18 || (n > 1 && t->p[0] == '0'))
		return -ENOENT;
	for (size_t k = 0; k < n; k++) {
		if (t->p[k] < '0' || t->p[k] > '9')
			return -ENOENT;
		v = v * 10 + (size_t)(t->p[k] - '0');
	}
	*ret_index = v;
	return 0;
}

static void pos_value(const struct scan *sc, struct mw_jsonpos *pos)
{
	pos->line = sc->line;
	pos->column = sc->col;
	pos->offset = sc->i;
}

/* Past a value that is not the one looked for: 0 at the next member or element, -ENOENT at
 * close (the container ends without it), -EINVAL at anything else. */
static int skip_to_next(struct scan *sc, unsigned depth, int close)
{
	int c, r;

	r = skip_value(sc, MW_JSONPOS_MAX_DEPTH - depth);
	if (r < 0)
		return r;
	skip_ws(sc);
	c = peek(sc);
	if (c == close)
		return -ENOENT;
	if (c != ',')
		return -EINVAL;
	advance(sc);
	skip_ws(sc);
	return 0;
}

/* At '{': move to the value of the member named by tok. */
static int enter_member(struct scan *sc, const struct token *tok, unsigned depth,
			struct mw_jsonpos *pos)
{
	advance(sc);
	skip_ws(sc);
	if (peek(sc) == '}')
		return -ENOENT;
	for (;;) {
		int kline = sc->line, kcol = sc->col, r;
		size_t koff = sc->i;
		bool match;

		if (peek(sc) != '"')
			return -EINVAL;
		advance(sc);
		r = key_matches(sc, tok, &match);
		if (r < 0)
			return r;
		skip_ws(sc);
		if (peek(sc) != ':')
			return -EINVAL;
		advance(sc);
		skip_ws(sc);
		if (peek(sc) < 0)
			return -EINVAL;
		if (match) {
			pos_value(sc, pos);
			pos->key_line = kline;
			pos->key_column = kcol;
			pos->key_offset = koff;
			return 0;
		}
		r = skip_to_next(sc, depth, '}');
		if (r < 0)
			return r;
	}
}

/* At '[': move to the element named by tok. */
static int enter_element(struct scan *sc, const struct token *tok, unsigned depth,
			 struct mw_jsonpos *pos)
{
	size_t index;
	int r;

	r = token_index(tok, &index);
	if (r < 0)
		return r;
	advance(sc);
	skip_ws(sc);
	if (peek(sc) == ']')
		return -ENOENT;
	for (size_t i = 0;; i++) {
		if (peek(sc) < 0)
			return -EINVAL;
		if (i == index) {
			pos_value(sc, pos);
			pos->key_line = pos->key_column = 0;
			pos->key_offset = 0;
			return 0;
		}
		r = skip_to_next(sc, depth, ']');
		if (r < 0)
			return r;
	}
}

static int pointer_validate(const char *p, size_t n)
{
	if (n > 0 && p[0] != '/')
		return -EINVAL;
	for (size_t k = 0; k < n; k++)
		if (p[k] == '~' && (k + 1 >= n || (p[k + 1] != '0' && p[k + 1] != '1')))
			return -EINVAL;
	return 0;
}

int jsonpos_find_len(const char *text, size_t len, const char *pointer, size_t pointer_len,
		     struct mw_jsonpos *ret_pos)
{
	struct scan sc = { .s = (const unsigned char *)text, .len = len, .line = 1, .col = 1 };
	struct mw_jsonpos pos = {};
	const char *p, *end;
	unsigned depth = 0;
	int r;

	if ((!text && len) || (!pointer && pointer_len) || !ret_pos)
		return -EINVAL;
	if (len >= INT_MAX)
		return -EFBIG;
	r = pointer_validate(pointer, pointer_len);
	if (r < 0)
		return r;

	skip_ws(&sc);
	if (peek(&sc) < 0)
		return -EINVAL;
	pos_value(&sc, &pos);

	p = pointer;
	end = pointer ? pointer + pointer_len : NULL;
	while (p < end) {
		struct token tok = { .p = p + 1 };
		int c;

		tok.end = memchr(tok.p, '/', (size_t)(end - tok.p));
		if (!tok.end)
			tok.end = end;
		p = tok.end;

		if (++depth > MW_JSONPOS_MAX_DEPTH)
			return -ELOOP;
		c = peek(&sc);
		if (c == '{')
			r = enter_member(&sc, &tok, depth, &pos);
		else if (c == '[')
			r = enter_element(&sc, &tok, depth, &pos);
		else
			r = -ENOENT; /* a scalar has no members */
		if (r < 0)
			return r;
	}
	*ret_pos = pos;
	return 0;
}

int jsonpos_find(const char *text, size_t len, const char *pointer, struct mw_jsonpos *ret_pos)
{
	if (!pointer)
		return -EINVAL;
	return jsonpos_find_len(text, len, pointer, strlen(pointer), ret_pos);
}

struct frame {
	char kind;	 /* '{' or '[' */
	bool expect_key; /* in an object, before a member's key */
	bool have_key;
	size_t key_off; /* the key's opening quote */
	size_t index;
};

static void put_key(const struct scan *whole, size_t key_off, enum mw_jsonpos_style style,
		    char *buf, size_t size, size_t *len)
{
	struct scan sc = *whole;

	sc.i = key_off + 1; /* line and column do not matter here */
	for (;;) {
		unsigned char ch[4];
		int n = string_next(&sc, ch);

		if (n <= 0)
			return;
		if (style == MW_JSONPOS_POINTER && n == 1 && (ch[0] == '~' || ch[0] == '/'))
			mw_str_append(buf, size, len, ch[0] == '~' ? "~0" : "~1", 2);
		else
			mw_str_append(buf, size, len, (const char *)ch, (size_t)n);
	}
}

int jsonpos_path_at(const char *text, size_t len, size_t offset, enum mw_jsonpos_style style,
		    char *buf, size_t size)
{
	struct scan sc = { .s = (const unsigned char *)text, .len = len, .line = 1, .col = 1 };
	struct frame frames[MW_JSONPOS_PATH_MAX];
	size_t n = 0, out = 0;

	if ((!text && len) || !buf || size == 0)
		return -EINVAL;
	if (offset > len)
		offset = len;

	for (;;) {
		struct frame *top = n > 0 ? &frames[n - 1] : NULL;
		int c;

		skip_ws(&sc);
		if (sc.i >= offset)
			break;
		c = peek(&sc);
		if (c == '{' || c == '[') {
			if (n == sizeof(frames) / sizeof(frames[0]))
				return -ELOOP;
			frames[n++] = (struct frame){ .kind = (char)c, .expect_key = c == '{' };
			advance(&sc);
		} else if (c == '}' || c == ']') {
			if (sc.i + 1 >= offset)
				break;
			if (n > 0)
				n--;
			advance(&sc);
		} else if (c == ',') {
			if (top && top->kind == '[') {
				top->index++;
			} else if (top) {
				top->expect_key = true;
				top->have_key = false;
			}
			advance(&sc);
		} else if (c == ':') {
			advance(&sc);
		} else if (c == '"') {
			if (top && top->kind == '{' && top->expect_key) {
				top->expect_key = false;
				top->have_key = true;
				top->key_off = sc.i;
			}
			if (skip_string(&sc) < 0)
				break;
		} else {
			/* a scalar, or a stray byte: step over it */
			advance(&sc);
			while (!is_delim(peek(&sc)))
				advance(&sc);
		}
	}

	buf[0] = '\0';
	for (size_t k = 0; k < n; k++) {
		const struct frame *f = &frames[k];
		char num[32];
		int m;

		if (f->kind == '[') {
			m = snprintf(num, sizeof(num),
				     style == MW_JSONPOS_POINTER ? "/%zu" : "[%zu]", f->index);
			mw_str_append(buf, size, &out, num, (size_t)m);
			continue;
		}
		if (!f->have_key)
			break;
		if (style == MW_JSONPOS_POINTER)
			mw_str_append(buf, size, &out, "/", 1);
		else if (out > 0)
			mw_str_append(buf, size, &out, ".", 1);
		put_key(&sc, f->key_off, style, buf, size, &out);
	}
	return 0;
}
