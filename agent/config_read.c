/* config_read.c: see config_read.h. */
#include "config_read.h"

#include <limits.h>
#include <stdio.h>

#include "jsonpos.h"

/* "capture.outbound[0].ports[1]" for messages, "/capture/outbound/0/ports/1" for jsonpos. */
char *cfg_path_format(const struct cfg_path *p, char *dotted, size_t size)
{
	const struct cfg_path *seg[CFG_MAX_PATH_DEPTH];
	size_t n = 0, dlen = 0, plen = 0, cap = 1;
	char *ptr;

	dotted[0] = '\0';
	for (; p && n < ARRAY_SIZE(seg); p = p->parent)
		seg[n++] = p;
	for (size_t k = 0; k < n; k++)
		cap += 1 + (seg[k]->key ? 2 * strlen(seg[k]->key) : 20);
	ptr = malloc(cap);
	if (ptr)
		ptr[0] = '\0';

	while (n-- > 0) {
		const struct cfg_path *s = seg[n];
		char num[32];

		if (s->key) {
			if (dlen > 0)
				mw_str_append(dotted, size, &dlen, ".", 1);
			mw_str_append(dotted, size, &dlen, s->key, strlen(s->key));
			if (!ptr)
				continue;
			ptr[plen++] = '/';
			for (const char *c = s->key; *c; c++) {
				if (*c == '~' || *c == '/') {
					ptr[plen++] = '~';
					ptr[plen++] = *c == '~' ? '0' : '1';
				} else {
					ptr[plen++] = *c;
				}
			}
		} else {
			int m = snprintf(num, sizeof(num), "%zu", s->index);

			mw_str_append(dotted, size, &dlen, "[", 1);
			mw_str_append(dotted, size, &dlen, num, (size_t)m);
			mw_str_append(dotted, size, &dlen, "]", 1);
			if (!ptr)
				continue;
			ptr[plen++] = '/';
			memcpy(ptr + plen, num, (size_t)m);
			plen += (size_t)m;
		}
		if (ptr)
			ptr[plen] = '\0';
	}
	return ptr;
}

/* Fill the diagnostic for the value at p (or its key, if at_key) and return -EINVAL. */
int _printf_(4, 5) cfg_error(const struct cfg_ctx *x, const struct cfg_path *p, bool at_key,
				    const char *fmt, ...)
{
	_cleanup_free_ char *ptr = NULL;
	struct mw_jsonpos pos;
	char msg[sizeof(x->diag->text)], key[sizeof(x->diag->key)];
	int line = 0, column = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	ptr = cfg_path_format(p, key, sizeof(key));
	if (ptr && x->text && jsonpos_find(x->text, x->len, ptr, &pos) >= 0) {
		if (at_key && pos.key_line > 0) {
			line = pos.key_line;
			column = pos.key_column;
		} else {
			line = pos.line;
			column = pos.column;
		}
	}
	return mw_diag_set(x->diag, -EINVAL, x->name, line, column, key, "%s", msg);
}

/* 'text' for messages: at most CFG_SHOW_MAX bytes, control characters replaced. */
static const char *quote(const char *s, size_t n, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	mw_str_append(buf, size, &len, "'", 1);
	for (size_t i = 0; i < n && i < CFG_SHOW_MAX; i++) {
		char c = s[i];

		/* stop before a multibyte character that might not fit */
		if (i + 4 > CFG_SHOW_MAX && ((unsigned char)c & 0xc0) == 0xc0)
			break;
		if ((unsigned char)c < 0x20 || c == 0x7f)
			c = '?';
		mw_str_append(buf, size, &len, &c, 1);
	}
	mw_str_append(buf, size, &len, n > CFG_SHOW_MAX ? "...'" : "'", n > CFG_SHOW_MAX ? 4 : 1);
	return buf;
}

/* A short, printable rendering of a value for "got ..." in messages. */
const char *cfg_describe(const json_t *v, char *buf, size_t size)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_TRUE:
		return "true";
	case JSON_FALSE:
		return "false";
	case JSON_NULL:
		return "null";
	case JSON_INTEGER:
		snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	case JSON_REAL:
		snprintf(buf, size, "%g", json_real_value(v));
		return buf;
	case JSON_STRING:
		break;
	}
	return quote(json_string_value(v), json_string_length(v), buf, size);
}


int cfg_unknown_key(const struct cfg_ctx *x, const struct cfg_path *p, const char *expected)
{
	char shown[CFG_SHOW_MAX + 16];

	quote(p->key, strlen(p->key), shown, sizeof(shown));
	if (!expected)
		return cfg_error(x, p, true, "unknown key %s", shown);
	return cfg_error(x, p, true, "unknown key %s (expected one of %s)", shown, expected);
}

int cfg_object(const struct cfg_ctx *x, const struct cfg_path *p, json_t *v)
{
	if (!json_is_object(v))
		return cfg_error(x, p, false, "expected an object, got %s", GOT(v));
	return 0;
}

int cfg_array(const struct cfg_ctx *x, const struct cfg_path *p, json_t *v, size_t min,
		     size_t max, const char *what)
{
	size_t n;

	if (!json_is_array(v))
		return cfg_error(x, p, false, "expected an array of %s, got %s", what, GOT(v));
	n = json_array_size(v);
	if (n < min)
		return cfg_error(x, p, false,
				 "expected a non-empty array of %s, got an empty array", what);
	if (n > max)
		return cfg_error(x, p, false, "expected at most %zu %s, got %zu", max, what, n);
	return 0;
}

int cfg_bool(const struct cfg_ctx *x, const struct cfg_path *p, json_t *v, bool *ret)
{
	if (!json_is_boolean(v))
		return cfg_error(x, p, false, "expected true or false, got %s", GOT(v));
	*ret = json_is_true(v);
	return 0;
}

int cfg_port(const struct cfg_ctx *x, const struct cfg_path *p, json_t *v, uint16_t *ret)
{
	json_int_t n;

	if (!json_is_integer(v))
		return cfg_error(x, p, false, "expected a port number 1..65535, got %s", GOT(v));
	n = json_integer_value(v);
	if (n < 1 || n > 65535)
		return cfg_error(x, p, false,
				 "expected a port number 1..65535, got %" JSON_INTEGER_FORMAT, n);
	*ret = (uint16_t)n;
	return 0;
}

static void strip_trailing_slashes(char *s)
{
	size_t n = strlen(s);

	while (n > 1 && s[n - 1] == '/')
		s[--n] = '\0';
}

int cfg_abs_path(const struct cfg_ctx *x, const struct cfg_path *p, json_t *v, char *dst,
			size_t size)
{
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return cfg_error(x, p, false, "expected an absolute path, got %s", GOT(v));
	s = json_string_value(v);
	n = strlen(s);
	if (s[0] != '/')
		return cfg_error(x, p, false, "expected an absolute path, got %s", GOT(v));
	if (n >= size)
		return cfg_error(x, p, false, "path is too long (%zu bytes, at most %zu)", n,
				 size - 1);
	/* zero the tail too: equal settings must be equal bytes (a reload compares them) */
	memset(dst, 0, size);
	memcpy(dst, s, n);
	strip_trailing_slashes(dst);
	return 0;
}

int cfg_duration(const struct cfg_ctx *x, const struct cfg_path *p, json_t *v, uint64_t min,
			uint64_t *ret)
{
	uint64_t usec;

	if (!json_is_string(v) || mw_parse_duration(json_string_value(v), &usec) < 0)
		return cfg_error(
			x, p, false,
			"expected a duration like \"250ms\", \"10s\", \"5m\", \"2h\", got %s",
			GOT(v));
	if (usec < min || usec > MW_TIMEOUT_MAX_USEC)
		return cfg_error(x, p, false, "duration %s is out of range (%s..366d)", GOT(v),
				 min ? "1ms" : "0");
	*ret = usec;
	return 0;
}
