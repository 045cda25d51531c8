/* http1_fields.c: helpers on header values (see http1.h): case-insensitive comparison,
 * method names, finding a header, walking comma-separated lists. */
#include "http1.h"

#include <string.h>

#include "util.h"

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

bool http1_str_eq_ci(struct http1_str s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len == n && strncasecmp(s.p, lit, n) == 0;
}

enum http1_method http1_method_from(const char *s, size_t len)
{
	static const struct {
		const char *name;
		enum http1_method m;
	} methods[] = {
	    {"GET", HTTP1_M_GET},	  {"HEAD", HTTP1_M_HEAD},     {"POST", HTTP1_M_POST},
	    {"PUT", HTTP1_M_PUT},	  {"DELETE", HTTP1_M_DELETE}, {"CONNECT", HTTP1_M_CONNECT},
	    {"OPTIONS", HTTP1_M_OPTIONS}, {"TRACE", HTTP1_M_TRACE},   {"PATCH", HTTP1_M_PATCH},
	};

	/* Methods are case-sensitive (RFC 9110 9.1). */
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++)
		if (strlen(methods[i].name) == len && memcmp(methods[i].name, s, len) == 0)
			return methods[i].m;
	return HTTP1_M_OTHER;
}

const struct http1_header *http1_find(const struct http1_header *headers, size_t n,
				      const char *name, size_t *iter)
{
	for (size_t i = iter ? *iter : 0; i < n; i++)
		if (http1_str_eq_ci(headers[i].name, name)) {
			if (iter)
				*iter = i + 1;
			return &headers[i];
		}
	if (iter)
		*iter = n;
	return NULL;
}

bool http1_list_next(struct http1_str v, size_t *pos, struct http1_str *ret_elem)
{
	size_t i = *pos, start, end;
	bool quoted = false;

	while (i < v.len && (is_ows(v.p[i]) || v.p[i] == ','))
		i++;
	if (i >= v.len) {
		*pos = v.len;
		return false;
	}
	start = i;
	for (; i < v.len; i++) {
		char c = v.p[i];

		if (quoted) {
			if (c == '\\' && i + 1 < v.len)
				i++;
			else if (c == '"')
				quoted = false;
		} else if (c == '"') {
			quoted = true;
		} else if (c == ',') {
			break;
		}
	}
	end = i;
	while (end > start && is_ows(v.p[end - 1]))
		end--;
	*pos = i;
	*ret_elem = (struct http1_str){v.p + start, end - start};
	return true;
}

bool http1_list_has(struct http1_str value, const char *token)
{
	struct http1_str e;
	size_t pos = 0;

	while (http1_list_next(value, &pos, &e))
		if (http1_str_eq_ci(e, token))
			return true;
	return false;
}
