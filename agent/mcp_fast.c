/* mcp_fast.c: the request envelope without a JSON tree (see mcp.h, "Fast path").
 *
 * The scanner accepts a strict subset of what mcp_parse() accepts and says "unsure" for the
 * rest, so it never needs to know why a body is wrong: mcp_parse() reads every body the
 * scanner does not take, and refuses exactly what it refused before.  The subset: one JSON
 * object (no batch) written by the client, every string printable ASCII (values may hold the
 * escapes \" \\ \/ \b \f \n \r \t; keys, method, tool and string ids none), integers of at
 * most MCP_FAST_MAX_DIGITS digits and no other numbers, nesting at most MCP_FAST_MAX_DEPTH,
 * at most MCP_FAST_MAX_KEYS members per object (so duplicate keys are found without
 * allocating), the members jsonrpc ("2.0"), id (integer or string), method and params (an
 * object without _meta), and a method whose params mcp_parse() reads no more of than
 * tools/call's name and arguments (see fast_method()). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mcp.h"
#include "util.h"

#define MCP_FAST_MAX_DEPTH 16
#define MCP_FAST_MAX_KEYS 32
#define MCP_FAST_MAX_DIGITS 18 /* always fits int64_t */
#define MCP_FAST_MAX_METHOD 64

#define UNSURE (-EAGAIN)

struct span {
	const char *p;
	size_t n;
};

struct scanner {
	const char *p, *end;
	unsigned max_depth;
	struct span keys[MCP_FAST_MAX_DEPTH][MCP_FAST_MAX_KEYS];
	unsigned n_keys[MCP_FAST_MAX_DEPTH];
};

static void skip_ws(struct scanner *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* A string at s->p ('"'); raw: no escapes allowed.  *ret spans the bytes between quotes. */
static int scan_string(struct scanner *s, bool raw, struct span *ret)
{
	const char *start;

	if (s->p >= s->end || *s->p != '"')
		return UNSURE;
	start = ++s->p;
	while (s->p < s->end) {
		unsigned char c = (unsigned char)*s->p;

		if (c == '"') {
			ret->p = start;
			ret->n = (size_t)(s->p - start);
			s->p++;
			return 0;
		}
		if (c < 0x20 || c >= 0x7f)
			return UNSURE;
		if (c == '\\') {
			if (raw || s->p + 1 >= s->end || !s->p[1] || !strchr("\"\\/bfnrt", s->p[1]))
				return UNSURE;
			s->p++;
		}
		s->p++;
	}
	return UNSURE;
}

/* An integer of at most MCP_FAST_MAX_DIGITS digits, not followed by '.', 'e' or 'E'. */
static int scan_int(struct scanner *s, int64_t *ret)
{
	bool neg = false;
	int64_t v = 0;
	unsigned digits = 0;

	if (s->p < s->end && *s->p == '-') {
		neg = true;
		s->p++;
	}
	if (s->p >= s->end || *s->p < '0' || *s->p > '9')
		return UNSURE;
	if (*s->p == '0') {
		s->p++;
		digits = 1;
	} else {
		while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
			if (++digits > MCP_FAST_MAX_DIGITS)
				return UNSURE;
			v = v * 10 + (*s->p++ - '0');
		}
	}
	if (s->p < s->end && (*s->p == '.' || *s->p == 'e' || *s->p == 'E' ||
			      (*s->p >= '0' && *s->p <= '9')))
		return UNSURE;
	*ret = neg ? -v : v;
	return 0;
}

static int scan_literal(struct scanner *s, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
		return UNSURE;
	s->p += n;
	return 0;
}

static int scan_value(struct scanner *s, unsigned depth);

/* A key of the object at depth, checked against the keys before it. */
static int scan_key(struct scanner *s, unsigned depth, struct span *ret)
{
	unsigned *n = &s->n_keys[depth - 1];
	int r;

	r = scan_string(s, true, ret);
	if (r < 0)
		return r;
	if (*n >= MCP_FAST_MAX_KEYS)
		return UNSURE;
	for (unsigned i = 0; i < *n; i++)
		if (s->keys[depth - 1][i].n == ret->n &&
		    memcmp(s->keys[depth - 1][i].p, ret->p, ret->n) == 0)
			return UNSURE; /* a duplicate: mcp_parse() says so */
	s->keys[depth - 1][(*n)++] = *ret;
	skip_ws(s);
	if (s->p >= s->end || *s->p != ':')
		return UNSURE;
	s->p++;
	skip_ws(s);
	return 0;
}

/* After a member or element: ',' (1, more follow) or the closing byte (0). */
static int scan_next(struct scanner *s, char close)
{
	skip_ws(s);
	if (s->p >= s->end)
		return UNSURE;
	if (*s->p == ',') {
		s->p++;
		skip_ws(s);
		return 1;
	}
	if (*s->p == close) {
		s->p++;
		return 0;
	}
	return UNSURE;
}

/* '{' or '[' at s->p opens depth: 1 when close follows at once (the empty container is
 * consumed), 0 when members or elements follow. */
static int scan_open(struct scanner *s, unsigned depth, char close)
{
	if (depth > s->max_depth)
		return UNSURE;
	s->n_keys[depth - 1] = 0;
	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		return 1;
	}
	return 0;
}

/* An object (close '}': members) or an array (close ']': elements) at depth. */
static int scan_container(struct scanner *s, unsigned depth, char close)
{
	struct span k;
	int r;

	r = scan_open(s, depth, close);
	if (r != 0)
		return r < 0 ? r : 0;
	do {
		if (close == '}') {
			r = scan_key(s, depth, &k);
			if (r < 0)
				return r;
		}
		r = scan_value(s, depth);
		if (r < 0)
			return r;
	} while ((r = scan_next(s, close)) == 1);
	return r;
}

/* Any value inside a container at depth. */
static int scan_value(struct scanner *s, unsigned depth)
{
	struct span str;
	int64_t v;

	if (s->p >= s->end)
		return UNSURE;
	switch (*s->p) {
	case '{':
		return scan_container(s, depth + 1, '}');
	case '[':
		return scan_container(s, depth + 1, ']');
	case '"':
		return scan_string(s, false, &str);
	case 't':
		return scan_literal(s, "true");
	case 'f':
		return scan_literal(s, "false");
	case 'n':
		return scan_literal(s, "null");
	default:
		return scan_int(s, &v);
	}
}

static bool span_is(const struct span *a, const char *lit)
{
	return a->n == strlen(lit) && memcmp(a->p, lit, a->n) == 0;
}

/* params (an object at depth 2): name and arguments noted, _meta unsure. */
static int scan_params(struct scanner *s, struct mcp_scan *sc)
{
	struct span k;
	int r;

	if (s->p >= s->end || *s->p != '{')
		return UNSURE;
	r = scan_open(s, 2, '}');
	if (r != 0)
		return r < 0 ? r : 0;
	do {
		r = scan_key(s, 2, &k);
		if (r < 0)
			return r;
		if (span_is(&k, "_meta")) {
			return UNSURE; /* progress tokens, protocol versions: mcp_parse() reads them */
		} else if (span_is(&k, "name") && s->p < s->end && *s->p == '"') {
			struct span v;

			r = scan_string(s, true, &v);
			if (r < 0)
				return r;
			sc->name = v.p;
			sc->name_len = v.n;
			continue;
		} else if (span_is(&k, "arguments")) {
			if (s->p >= s->end || *s->p != '{')
				return UNSURE;
			sc->has_arguments = true;
		}
		r = scan_value(s, 2);
		if (r < 0)
			return r;
	} while ((r = scan_next(s, '}')) == 1);
	return r;
}

/* Methods whose params mcp_parse() reads no further than the scanner does, sent by the client
 * (or either side). */
static bool fast_method(enum mcp_method mid)
{
	switch (mid) {
	case MCP_M_OTHER:
	case MCP_M_INITIALIZED:
	case MCP_M_PING:
	case MCP_M_TOOLS_LIST:
	case MCP_M_TOOLS_CALL:
	case MCP_M_RESOURCES_LIST:
	case MCP_M_RESOURCES_TEMPLATES_LIST:
	case MCP_M_PROMPTS_LIST:
	case MCP_M_COMPLETION_COMPLETE:
	case MCP_M_LOGGING_SET_LEVEL:
		return true;
	default:
		return false;
	}
}

int mcp_scan_request(const void *buf, size_t len, enum mcp_dir dir,
		     const struct mcp_limits *limits, struct mcp_scan *ret_scan)
{
	size_t max_body = limits && limits->max_body ? limits->max_body : MCP_MAX_BODY_DEFAULT;
	unsigned max_depth =
	    limits && limits->max_depth ? limits->max_depth : MCP_MAX_DEPTH_DEFAULT;
	struct scanner s = {
		.p = buf,
		.end = (const char *)buf + len,
		.max_depth = max_depth < MCP_FAST_MAX_DEPTH ? max_depth : MCP_FAST_MAX_DEPTH,
	};
	struct mcp_scan sc = { .id.type = MCP_ID_NONE };
	bool have_version = false, have_method = false;
	char method[MCP_FAST_MAX_METHOD + 1];
	struct span k, v;
	int r;

	if (!buf || dir != MCP_FROM_CLIENT || len > max_body)
		return UNSURE;
	skip_ws(&s);
	if (s.p >= s.end || *s.p != '{')
		return UNSURE;
	r = scan_open(&s, 1, '}');
	if (r != 0)
		return UNSURE; /* too deep, or {} (no jsonrpc) */
	do {
		r = scan_key(&s, 1, &k);
		if (r < 0)
			return r;
		if (span_is(&k, "jsonrpc")) {
			r = scan_string(&s, true, &v);
			if (r < 0 || !span_is(&v, "2.0"))
				return UNSURE;
			have_version = true;
		} else if (span_is(&k, "id")) {
			if (s.p < s.end && *s.p == '"') {
				r = scan_string(&s, true, &v);
				if (r < 0 || v.n > MCP_ID_MAX_LEN)
					return UNSURE;
				sc.id.type = MCP_ID_STR;
				sc.id_str = v.p;
				sc.id_len = v.n;
			} else {
				r = scan_int(&s, &sc.id.num);
				if (r < 0)
					return r;
				sc.id.type = MCP_ID_INT;
			}
		} else if (span_is(&k, "method")) {
			r = scan_string(&s, true, &v);
			if (r < 0 || v.n > MCP_FAST_MAX_METHOD)
				return UNSURE;
			sc.method = v.p;
			sc.method_len = v.n;
			have_method = true;
		} else if (span_is(&k, "params")) {
			r = scan_params(&s, &sc);
			if (r < 0)
				return r;
		} else {
			return UNSURE;
		}
	} while ((r = scan_next(&s, '}')) == 1);
	if (r < 0)
		return r;
	skip_ws(&s);
	if (s.p != s.end || !have_version || !have_method)
		return UNSURE;

	memcpy(method, sc.method, sc.method_len);
	method[sc.method_len] = 0;
	sc.mid = mcp_method_from_name(method);
	if (!fast_method(sc.mid))
		return UNSURE;
	if (sc.mid == MCP_M_TOOLS_CALL && !sc.name)
		return UNSURE; /* invalid: mcp_parse() says why */
	if (sc.mid != MCP_M_TOOLS_CALL) {
		sc.name = NULL;
		sc.name_len = 0;
		sc.has_arguments = false;
	}
	sc.kind = sc.id.type == MCP_ID_NONE ? MCP_NOTIFICATION : MCP_REQUEST;
	*ret_scan = sc;
	return 0;
}

int mcp_parse_lazy(const void *buf, size_t len, enum mcp_dir dir, const struct mcp_limits *limits,
		   mcp_args_needed_fn need_args, void *userdata, struct mcp_body **ret_body,
		   struct mcp_parse_error *ret_err)
{
	struct mcp_scan sc;
	struct mcp_body *b;
	struct mcp_message *m;
	char *str;

	if (mcp_scan_request(buf, len, dir, limits, &sc) < 0)
		return mcp_parse(buf, len, dir, limits, ret_body, ret_err);

	b = calloc(1, sizeof(*b));
	if (!b)
		return mcp_parse(buf, len, dir, limits, ret_body, ret_err); /* says -ENOMEM */
	/* the message, then its strings: method, tool, id */
	b->msgs = calloc(1, sizeof(*m) + sc.method_len + sc.name_len + sc.id_len + 3);
	if (!b->msgs) {
		free(b);
		return mcp_parse(buf, len, dir, limits, ret_body, ret_err);
	}
	m = b->msgs;
	str = (char *)(m + 1);
	b->n = 1;
	b->partial = true;
	m->kind = sc.kind;
	m->id = sc.id;
	m->mid = sc.mid;
	m->method = memcpy(str, sc.method, sc.method_len);
	str += sc.method_len + 1;
	if (sc.name) {
		m->tool = memcpy(str, sc.name, sc.name_len);
		str += sc.name_len + 1;
	}
	if (sc.id.type == MCP_ID_STR)
		m->id.str = memcpy(str, sc.id_str, sc.id_len);

	if (sc.has_arguments && need_args && need_args(userdata, m->method, m->tool)) {
		/* policy reads the arguments: the whole tree after all */
		mcp_body_free(b);
		return mcp_parse(buf, len, dir, limits, ret_body, ret_err);
	}
	if (ret_err) {
		memset(ret_err, 0, sizeof(*ret_err));
		ret_err->index = -1;
	}
	*ret_body = b;
	return 0;
}
