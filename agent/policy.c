/* policy.c: see policy.h.  Compilation walks the policy object once with a path (JSON
 * pointer for jsonpos, dotted key for messages) so every error and warning names where it
 * is; evaluation reads only the compiled rules. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "policy.h"

#include <pcre2.h>
#include <stdio.h>

#include "jsonpos.h"
#include "sqlclass.h"

#define POLICY_MAX_WARNINGS 256
#define PC_PTR_MAX 2048
#define PC_DOT_MAX 256

enum {
	K_DIRECTION,
	K_TOKEN,
	K_METHOD,
	K_TOOL,
	K_GROUPS,
	K_SUBJECTS,
	K_UNIT,
	K_UID,
	K_COMM,
	K_CGROUP,
	K_TARGET,
	K_SNI,
	K_ARGS,
	K_MAX,
};

static const char *const key_names[K_MAX] = {
	"direction", "token", "method", "tool", "groups", "subjects", "workload.unit",
	"workload.uid", "workload.comm", "workload.cgroup", "target", "sni", "args",
};

struct str_list {
	char **v;
	unsigned n;
};

struct target_pat {
	char *host;
	uint16_t port; /* 0: any */
};

struct arg_match {
	char *pointer;
	char **tok;
	unsigned n_tok;
	pcre2_code *re;
	char *regex;
	uint32_t sql_mask;
	json_t *equals;
	int exists; /* -1: not given */
};

struct rule {
	char *name;
	enum mw_policy_action action;
	char *mask;
	char *reason;
	struct mw_policy_approvers approvers;
	bool has_approvers;
	uint32_t keys; /* 1 << K_... given */
	struct str_list l[K_MAX]; /* the glob and group lists, by key */
	int64_t uids[POLICY_MAX_LIST];
	unsigned n_uids;
	struct target_pat *targets;
	unsigned n_targets;
	enum mw_policy_direction direction;
	bool token;
	struct arg_match *args;
	unsigned n_args;
};

struct mw_policy {
	int refs;
	struct rule *rules;
	size_t n_rules;
	pcre2_match_context *mctx;
	struct mw_diag *warnings;
	size_t n_warnings;
};

/* --- compile context: where we are ------------------------------------------------------- */

struct pc {
	const char *file, *text;
	size_t len;
	struct mw_diag *diag;
	struct mw_policy *p;
	char ptr[PC_PTR_MAX];
	size_t plen;
	char dot[PC_DOT_MAX];
	size_t dlen;
};

struct mark {
	size_t plen, dlen;
};

static void app(char *buf, size_t size, size_t *len, const char *s, size_t n)
{
	if (*len >= size - 1)
		return;
	if (n > size - 1 - *len)
		n = size - 1 - *len;
	memcpy(buf + *len, s, n);
	*len += n;
	buf[*len] = '\0';
}

static bool is_ident(const char *k)
{
	if (!*k || !(*k == '_' || (*k | 0x20) >= 'a') || (*k | 0x20) > 'z')
		return false;
	for (; *k; k++)
		if (!(*k == '_' || (*k >= '0' && *k <= '9') || ((*k | 0x20) >= 'a' && (*k | 0x20) <= 'z')))
			return false;
	return true;
}

static struct mark pc_key(struct pc *c, const char *k)
{
	struct mark m = { c->plen, c->dlen };

	app(c->ptr, sizeof(c->ptr), &c->plen, "/", 1);
	for (const char *s = k; *s; s++)
		app(c->ptr, sizeof(c->ptr), &c->plen, *s == '~' ? "~0" : *s == '/' ? "~1" : s,
		    (*s == '~' || *s == '/') ? 2 : 1);
	if (is_ident(k)) {
		if (c->dlen)
			app(c->dot, sizeof(c->dot), &c->dlen, ".", 1);
		app(c->dot, sizeof(c->dot), &c->dlen, k, strlen(k));
	} else {
		app(c->dot, sizeof(c->dot), &c->dlen, "[\"", 2);
		app(c->dot, sizeof(c->dot), &c->dlen, k, strlen(k));
		app(c->dot, sizeof(c->dot), &c->dlen, "\"]", 2);
	}
	return m;
}

static struct mark pc_index(struct pc *c, size_t i)
{
	struct mark m = { c->plen, c->dlen };
	char num[32];
	int n = snprintf(num, sizeof(num), "/%zu", i);

	app(c->ptr, sizeof(c->ptr), &c->plen, num, (size_t)n);
	app(c->dot, sizeof(c->dot), &c->dlen, "[", 1);
	app(c->dot, sizeof(c->dot), &c->dlen, num + 1, (size_t)n - 1);
	app(c->dot, sizeof(c->dot), &c->dlen, "]", 1);
	return m;
}

static void pc_pop(struct pc *c, struct mark m)
{
	c->plen = m.plen;
	c->ptr[m.plen] = '\0';
	c->dlen = m.dlen;
	c->dot[m.dlen] = '\0';
}

static void pc_pos(const struct pc *c, bool at_key, int *line, int *column)
{
	struct mw_jsonpos pos;

	*line = *column = 0;
	if (!c->text || jsonpos_find_len(c->text, c->len, c->ptr, c->plen, &pos) < 0)
		return;
	*line = at_key && pos.key_line > 0 ? pos.key_line : pos.line;
	*column = at_key && pos.key_line > 0 ? pos.key_column : pos.column;
}

static int _printf_(3, 4) pc_error(const struct pc *c, bool at_key, const char *fmt, ...)
{
	char msg[sizeof(c->diag->text)];
	int line, column;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pc_pos(c, at_key, &line, &column);
	return mw_diag_set(c->diag, -EINVAL, c->file, line, column, c->dot, "%s", msg);
}

static void _printf_(3, 4) pc_warn(struct pc *c, bool at_key, const char *fmt, ...)
{
	struct mw_policy *p = c->p;
	struct mw_diag *w;
	char msg[sizeof(w->text)];
	int line, column;
	va_list ap;

	if (p->n_warnings >= POLICY_MAX_WARNINGS)
		return;
	if (!p->warnings) {
		p->warnings = calloc(POLICY_MAX_WARNINGS, sizeof(*p->warnings));
		if (!p->warnings)
			return; /* warnings are advice: losing them under OOM is acceptable */
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pc_pos(c, at_key, &line, &column);
	w = &p->warnings[p->n_warnings++];
	mw_diag_set(w, 0, c->file, line, column, c->dot, "%s", msg);
}

static const char *got(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
		return "true";
	case JSON_FALSE:
		return "false";
	default:
		return "null";
	}
}

/* --- globs ----------------------------------------------------------------------------------- */

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static const char *glob_check(const char *g)
{
	for (const char *s = g; *s; s++) {
		if (*s == '\\') {
			if (!*++s)
				return "ends with a lone '\\'";
		} else if (*s == '[') {
			const char *e = s + 1;

			if (*e == '!' || *e == '^')
				e++;
			if (*e == ']')
				e++;
			while (*e && *e != ']')
				e++;
			if (!*e)
				return "has a '[' without its ']'";
			s = e;
		}
	}
	return NULL;
}

static unsigned char fold(unsigned char ch, bool f)
{
	return f && ch >= 'A' && ch <= 'Z' ? ch | 0x20 : ch;
}

/* *pp is just past '['; moves it past ']'. */
static bool class_match(const char **pp, unsigned char ch, bool f)
{
	const char *p = *pp;
	bool neg = false, hit = false;

	if (*p == '!' || *p == '^') {
		neg = true;
		p++;
	}
	ch = fold(ch, f);
	for (bool first = true; *p && (first || *p != ']'); first = false) {
		unsigned char lo = fold((unsigned char)*p++, f), hi = lo;

		if (*p == '-' && p[1] && p[1] != ']') {
			hi = fold((unsigned char)p[1], f);
			p += 2;
		}
		if (ch >= lo && ch <= hi)
			hit = true;
	}
	*pp = *p ? p + 1 : p;
	return hit != neg;
}

/* Iterative, backtracking only to the last '*': O(len(p) * len(s)) at worst. */
static bool glob_match(const char *p, const char *s, bool f)
{
	const char *star_p = NULL, *star_s = NULL;

	while (*s) {
		const char *np = p + 1;
		bool ok;

		if (*p == '*') {
			while (*p == '*')
				p++;
			if (!*p)
				return true;
			star_p = p;
			star_s = s;
			continue;
		}
		if (*p == '?') {
			ok = true;
		} else if (*p == '[') {
			ok = class_match(&np, (unsigned char)*s, f);
		} else if (*p == '\\') {
			ok = fold((unsigned char)p[1], f) == fold((unsigned char)*s, f);
			np = p + 2;
		} else {
			ok = *p && fold((unsigned char)*p, f) == fold((unsigned char)*s, f);
		}
		if (ok) {
			p = np;
			s++;
		} else if (star_p) {
			p = star_p;
			s = ++star_s;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return !*p;
}

/* --- compile: lists ---------------------------------------------------------------------- */

enum list_kind {
	L_GLOB,
	L_EXACT,
	L_NAME, /* exact, no glob check: users, approver groups */
};

static int str_elem(struct pc *c, json_t *e, enum list_kind kind, size_t max, char **ret)
{
	const char *s = json_string_value(e), *why;

	if (!s)
		return pc_error(c, false, "expected a string, got %s", got(e));
	if (!*s)
		return pc_error(c, false, "an empty string matches nothing");
	if (json_string_length(e) > max)
		return pc_error(c, false, "longer than %zu bytes", max);
	if (strlen(s) != json_string_length(e) || has_ctl(s))
		return pc_error(c, false, "holds a control character");
	if (kind == L_GLOB && (why = glob_check(s)))
		return pc_error(c, false, "bad glob '%s': %s", s, why);
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

/* A string, or a non-empty array of strings. */
static int parse_list(struct pc *c, json_t *v, enum list_kind kind, struct str_list *l)
{
	json_t *e;
	size_t i;
	int r;

	if (json_is_string(v)) {
		l->v = calloc(1, sizeof(char *));
		if (!l->v)
			return -ENOMEM;
		r = str_elem(c, v, kind, POLICY_MAX_GLOB, &l->v[0]);
		l->n = r < 0 ? 0 : 1;
		return r;
	}
	if (!json_is_array(v))
		return pc_error(c, false, "expected a string or an array of strings, got %s", got(v));
	if (json_array_size(v) == 0)
		return pc_error(c, false, "an empty list matches nothing");
	if (json_array_size(v) > POLICY_MAX_LIST)
		return pc_error(c, false, "%zu elements, more than the limit of %d",
				json_array_size(v), POLICY_MAX_LIST);
	l->v = calloc(json_array_size(v), sizeof(char *));
	if (!l->v)
		return -ENOMEM;
	json_array_foreach(v, i, e) {
		struct mark m = pc_index(c, i);

		r = str_elem(c, e, kind, POLICY_MAX_GLOB, &l->v[i]);
		if (r < 0)
			return r;
		l->n++;
		pc_pop(c, m);
	}
	return 0;
}

static int parse_uids(struct pc *c, json_t *v, struct rule *r)
{
	json_t *one[1] = { v }, *e;
	size_t n = json_is_array(v) ? json_array_size(v) : 1;

	if (json_is_array(v) && n == 0)
		return pc_error(c, false, "an empty list matches nothing");
	if (n > POLICY_MAX_LIST)
		return pc_error(c, false, "%zu elements, more than the limit of %d", n,
				POLICY_MAX_LIST);
	for (size_t i = 0; i < n; i++) {
		struct mark m = json_is_array(v) ? pc_index(c, i) : (struct mark){ c->plen, c->dlen };
		json_int_t u;

		e = json_is_array(v) ? json_array_get(v, i) : one[0];
		if (!json_is_integer(e))
			return pc_error(c, false, "expected a uid (an integer), got %s", got(e));
		u = json_integer_value(e);
		if (u < 0 || u > 4294967294LL)
			return pc_error(c, false, "uid %lld out of range (0..4294967294)", (long long)u);
		r->uids[r->n_uids++] = u;
		pc_pop(c, m);
	}
	return 0;
}

static int parse_targets(struct pc *c, json_t *v, struct rule *r)
{
	struct str_list l = {};
	int ret = parse_list(c, v, L_EXACT, &l);

	if (ret < 0)
		goto out;
	r->targets = calloc(l.n, sizeof(*r->targets));
	if (!r->targets) {
		ret = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < l.n; i++) {
		struct mark m = json_is_array(v) ? pc_index(c, i) : (struct mark){ c->plen, c->dlen };
		char *s = l.v[i], *colon, *host = s, *why;
		unsigned long port = 0;

		if (*s == '[') {
			host = s + 1;
			colon = strchr(s, ']');
			if (!colon || colon[1] != ':') {
				ret = pc_error(c, false, "bad target '%s': expected '[address]:port'", s);
				goto out;
			}
			*colon++ = '\0';
		} else {
			colon = strrchr(s, ':');
			if (colon && memchr(s, ':', (size_t)(colon - s))) {
				ret = pc_error(c, false,
					       "bad target '%s': an IPv6 address needs brackets, as in "
					       "'[::1]:443'", s);
				goto out;
			}
		}
		if (!colon || colon == s) {
			ret = pc_error(c, false, "bad target '%s': expected 'host:port' (port a number "
				       "or '*')", s);
			goto out;
		}
		*colon++ = '\0';
		if (strcmp(colon, "*")) {
			char *end;

			port = strtoul(colon, &end, 10);
			if (*colon < '0' || *colon > '9' || *end || port < 1 || port > 65535) {
				ret = pc_error(c, false, "bad port '%s' in target: expected 1..65535 or "
					       "'*'", colon);
				goto out;
			}
		}
		if (!*host || (why = (char *)glob_check(host))) {
			ret = pc_error(c, false, "bad host glob '%s' in target: %s", host,
				       *host ? why : "empty");
			goto out;
		}
		r->targets[i].host = strdup(host);
		if (!r->targets[i].host) {
			ret = -ENOMEM;
			goto out;
		}
		r->targets[i].port = (uint16_t)port;
		r->n_targets++;
		pc_pop(c, m);
	}
out:
	for (unsigned i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	return ret;
}

static int parse_enum(struct pc *c, json_t *v, const char *a, const char *b)
{
	const char *s = json_string_value(v);

	if (s && !strcmp(s, a))
		return 1;
	if (s && !strcmp(s, b))
		return 2;
	return pc_error(c, false, "expected \"%s\" or \"%s\", got %s%s%s%s", a, b, got(v),
			s ? " '" : "", s ? s : "", s ? "'" : "");
}

/* --- compile: args ---------------------------------------------------------------------- */

static int parse_pointer(struct pc *c, const char *k, struct arg_match *a)
{
	size_t n = 0;

	if (*k && *k != '/')
		return pc_error(c, true, "bad JSON pointer '%s': must start with '/' (or be \"\" for "
				"all arguments)", k);
	if (strlen(k) > POLICY_MAX_POINTER)
		return pc_error(c, true, "JSON pointer longer than %d bytes", POLICY_MAX_POINTER);
	for (const char *s = k; *s; s++)
		if (*s == '/')
			n++;
	if (n > POLICY_MAX_POINTER_DEPTH)
		return pc_error(c, true, "JSON pointer '%s' is %zu levels deep, more than %d", k, n,
				POLICY_MAX_POINTER_DEPTH);
	a->pointer = strdup(k);
	a->tok = calloc(n ? n : 1, sizeof(char *));
	if (!a->pointer || !a->tok)
		return -ENOMEM;
	for (const char *s = k; *s;) {
		const char *e = strchr(s + 1, '/');
		size_t len = e ? (size_t)(e - s - 1) : strlen(s + 1), o = 0;
		char *t = malloc(len + 1);

		if (!t)
			return -ENOMEM;
		a->tok[a->n_tok++] = t;
		for (size_t i = 1; i <= len; i++) {
			if (s[i] == '~') {
				if (i == len || (s[i + 1] != '0' && s[i + 1] != '1'))
					return pc_error(c, true, "bad JSON pointer '%s': '~' must be "
							"followed by 0 or 1", k);
				t[o++] = s[++i] == '0' ? '~' : '/';
			} else {
				t[o++] = s[i];
			}
		}
		t[o] = '\0';
		s += len + 1;
	}
	return 0;
}

static int parse_sql_class(struct pc *c, json_t *v, uint32_t *mask)
{
	struct str_list l = {};
	int r = parse_list(c, v, L_NAME, &l);

	for (unsigned i = 0; r >= 0 && i < l.n; i++) {
		struct mark m = json_is_array(v) ? pc_index(c, i) : (struct mark){ c->plen, c->dlen };
		uint32_t bit;

		if (sqlclass_from_name(l.v[i], &bit) < 0) {
			char names[SQLCLASS_NAMES_MAX];

			sqlclass_names(SQLCLASS_ALL, names, sizeof(names));
			r = pc_error(c, false, "unknown SQL class '%s' (valid: %s)", l.v[i], names);
			break;
		}
		*mask |= bit;
		pc_pop(c, m);
	}
	for (unsigned i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	return r;
}

static int parse_regex(struct pc *c, json_t *v, struct arg_match *a)
{
	const char *s = json_string_value(v);
	PCRE2_SIZE off;
	int code;

	if (!s)
		return pc_error(c, false, "expected a regex (a string), got %s", got(v));
	if (json_string_length(v) > POLICY_MAX_REGEX)
		return pc_error(c, false, "regex longer than %d bytes", POLICY_MAX_REGEX);
	a->re = pcre2_compile((PCRE2_SPTR)s, json_string_length(v),
			      PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C, &code, &off, NULL);
	if (!a->re) {
		PCRE2_UCHAR msg[256];

		if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "error %d", code);
		return pc_error(c, false, "bad regex at offset %zu: %s", (size_t)off, (char *)msg);
	}
	(void)pcre2_jit_compile(a->re, PCRE2_JIT_COMPLETE); /* no JIT: the interpreter */
	a->regex = strdup(s);
	return a->regex ? 0 : -ENOMEM;
}

static int parse_arg(struct pc *c, const char *k, json_t *v, struct arg_match *a)
{
	const char *ak;
	json_t *av;
	int r;

	a->exists = -1;
	r = parse_pointer(c, k, a);
	if (r < 0)
		return r;
	if (!json_is_object(v) || json_object_size(v) == 0)
		return pc_error(c, false, "expected an object with regex, sql_class, equals or "
				"exists, got %s%s", json_is_object(v) ? "an empty one" : got(v), "");
	json_object_foreach(v, ak, av) {
		struct mark m = pc_key(c, ak);

		if (!strcmp(ak, "regex")) {
			r = parse_regex(c, av, a);
		} else if (!strcmp(ak, "sql_class")) {
			r = parse_sql_class(c, av, &a->sql_mask);
		} else if (!strcmp(ak, "equals")) {
			a->equals = json_deep_copy(av);
			r = a->equals ? 0 : -ENOMEM;
		} else if (!strcmp(ak, "exists")) {
			if (!json_is_boolean(av))
				return pc_error(c, false, "expected true or false, got %s", got(av));
			a->exists = json_is_true(av);
		} else {
			return pc_error(c, true, "unknown key '%s' (expected regex, sql_class, "
					"equals, exists)", ak);
		}
		if (r < 0)
			return r;
		pc_pop(c, m);
	}
	if (a->exists == 0 && (a->re || a->sql_mask || a->equals))
		return pc_error(c, false, "\"exists\": false cannot be combined with regex, "
				"sql_class or equals");
	return 0;
}

static int parse_args(struct pc *c, json_t *v, struct rule *r)
{
	const char *k;
	json_t *av;
	int ret;

	if (!json_is_object(v) || json_object_size(v) == 0)
		return pc_error(c, false, "expected an object of JSON pointers, got %s",
				json_is_object(v) ? "an empty one" : got(v));
	if (json_object_size(v) > POLICY_MAX_ARG_MATCHES)
		return pc_error(c, false, "%zu pointers, more than the limit of %d",
				json_object_size(v), POLICY_MAX_ARG_MATCHES);
	r->args = calloc(json_object_size(v), sizeof(*r->args));
	if (!r->args)
		return -ENOMEM;
	json_object_foreach(v, k, av) {
		struct mark m = pc_key(c, k);

		ret = parse_arg(c, k, av, &r->args[r->n_args++]);
		if (ret < 0)
			return ret;
		pc_pop(c, m);
	}
	return 0;
}

/* --- compile: rules --------------------------------------------------------------------- */

static int parse_workload(struct pc *c, json_t *v, struct rule *r)
{
	const char *k;
	json_t *e;
	int ret;

	if (!json_is_object(v))
		return pc_error(c, false, "expected an object (unit, uid, comm, cgroup), got %s",
				got(v));
	json_object_foreach(v, k, e) {
		struct mark m = pc_key(c, k);
		int key = !strcmp(k, "unit") ? K_UNIT : !strcmp(k, "comm") ? K_COMM :
			  !strcmp(k, "cgroup") ? K_CGROUP : !strcmp(k, "uid") ? K_UID : -1;

		if (key < 0)
			return pc_error(c, true, "unknown key '%s' (expected unit, uid, comm, cgroup)",
					k);
		ret = key == K_UID ? parse_uids(c, e, r) : parse_list(c, e, L_GLOB, &r->l[key]);
		if (ret < 0)
			return ret;
		r->keys |= 1u << key;
		pc_pop(c, m);
	}
	return 0;
}

static int parse_match(struct pc *c, json_t *v, struct rule *r)
{
	static const struct {
		const char *name;
		int key;
	} keys[] = {
		{ "groups", K_GROUPS },	  { "subjects", K_SUBJECTS }, { "workload", K_UNIT },
		{ "target", K_TARGET },	  { "sni", K_SNI },	      { "direction", K_DIRECTION },
		{ "method", K_METHOD },	  { "tool", K_TOOL },	      { "token", K_TOKEN },
		{ "args", K_ARGS },
	};
	const char *k;
	json_t *e;
	int ret;

	if (!json_is_object(v))
		return pc_error(c, false, "expected an object, got %s", got(v));
	json_object_foreach(v, k, e) {
		struct mark m = pc_key(c, k);
		int key = -1;

		for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
			if (!strcmp(k, keys[i].name))
				key = keys[i].key;
		switch (key) {
		case K_GROUPS:
			ret = parse_list(c, e, L_EXACT, &r->l[key]);
			break;
		case K_SUBJECTS:
		case K_SNI:
		case K_METHOD:
		case K_TOOL:
			ret = parse_list(c, e, L_GLOB, &r->l[key]);
			break;
		case K_UNIT:
			ret = parse_workload(c, e, r);
			key = -2;
			break;
		case K_TARGET:
			ret = parse_targets(c, e, r);
			break;
		case K_DIRECTION:
			ret = parse_enum(c, e, "inbound", "outbound");
			r->direction = ret == 1 ? MW_POLICY_DIR_INBOUND : MW_POLICY_DIR_OUTBOUND;
			break;
		case K_TOKEN:
			ret = parse_enum(c, e, "present", "absent");
			r->token = ret == 1;
			break;
		case K_ARGS:
			ret = parse_args(c, e, r);
			break;
		default:
			return pc_error(c, true, "unknown match key '%s' (expected groups, subjects, "
					"workload, target, sni, direction, method, tool, token, args)",
					k);
		}
		if (ret < 0)
			return ret;
		if (key >= 0)
			r->keys |= 1u << key;
		pc_pop(c, m);
	}
	return 0;
}

static int parse_approvers(struct pc *c, json_t *v, struct rule *r)
{
	struct str_list l;
	const char *k;
	json_t *e;
	int ret;

	if (!json_is_object(v))
		return pc_error(c, false, "expected an object (groups, users, count), got %s",
				got(v));
	r->has_approvers = true;
	r->approvers.count = 1;
	json_object_foreach(v, k, e) {
		struct mark m = pc_key(c, k);

		if (!strcmp(k, "count")) {
			if (!json_is_integer(e) || json_integer_value(e) < 1 ||
			    json_integer_value(e) > 2)
				return pc_error(c, false, "expected 1 or 2 approvers");
			r->approvers.count = (unsigned)json_integer_value(e);
		} else if (!strcmp(k, "groups") || !strcmp(k, "users")) {
			l = (struct str_list){};
			ret = parse_list(c, e, L_NAME, &l);
			if (k[0] == 'g') {
				r->approvers.groups = l.v;
				r->approvers.n_groups = l.n;
			} else {
				r->approvers.users = l.v;
				r->approvers.n_users = l.n;
			}
			if (ret < 0)
				return ret;
		} else {
			return pc_error(c, true, "unknown key '%s' (expected groups, users, count)", k);
		}
		pc_pop(c, m);
	}
	return 0;
}

static int parse_string(struct pc *c, json_t *v, size_t max, char **ret)
{
	const char *s = json_string_value(v);

	if (!s)
		return pc_error(c, false, "expected a string, got %s", got(v));
	if (!*s || json_string_length(v) > max || strlen(s) != json_string_length(v) || has_ctl(s))
		return pc_error(c, false, "expected 1 to %zu bytes without control characters", max);
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

static int parse_rule(struct pc *c, json_t *v, struct rule *r, size_t idx)
{
	const char *k;
	json_t *e;
	int ret = 0;

	if (!json_is_object(v))
		return pc_error(c, false, "expected a rule (an object), got %s", got(v));
	json_object_foreach(v, k, e) {
		struct mark m = pc_key(c, k);

		if (!strcmp(k, "name")) {
			ret = parse_string(c, e, POLICY_MAX_NAME, &r->name);
			for (size_t i = 0; ret >= 0 && i < idx; i++)
				if (!strcmp(c->p->rules[i].name, r->name))
					ret = pc_error(c, false, "duplicate rule name '%s' (also "
						       "rules[%zu])", r->name, i);
		} else if (!strcmp(k, "match")) {
			ret = parse_match(c, e, r);
		} else if (!strcmp(k, "action")) {
			const char *s = json_string_value(e);

			if (s && !strcmp(s, "allow"))
				r->action = MW_POLICY_ALLOW;
			else if (s && !strcmp(s, "deny"))
				r->action = MW_POLICY_DENY;
			else if (s && !strcmp(s, "review"))
				r->action = MW_POLICY_REVIEW;
			else
				ret = pc_error(c, false, "expected \"allow\", \"deny\" or \"review\", "
					       "got %s%s%s%s", got(e), s ? " '" : "", s ? s : "",
					       s ? "'" : "");
		} else if (!strcmp(k, "mask")) {
			ret = parse_string(c, e, POLICY_MAX_NAME, &r->mask);
		} else if (!strcmp(k, "reason")) {
			ret = parse_string(c, e, POLICY_MAX_REASON, &r->reason);
		} else if (!strcmp(k, "approvers")) {
			ret = parse_approvers(c, e, r);
		} else {
			return pc_error(c, true, "unknown key '%s' (expected name, match, action, "
					"mask, approvers, reason)", k);
		}
		if (ret < 0)
			return ret;
		pc_pop(c, m);
	}
	if (!r->name)
		return pc_error(c, false, "missing key 'name'");
	if (!json_object_get(v, "action"))
		return pc_error(c, false, "rule '%s': missing key 'action' (allow, deny or review)",
				r->name);
	return 0;
}

static void lint_rule(struct pc *c, json_t *v, const struct rule *r)
{
	struct mark m;

	if (r->action == MW_POLICY_REVIEW && (!r->has_approvers ||
					      (!r->approvers.n_groups && !r->approvers.n_users))) {
		m = pc_key(c, "action");
		pc_warn(c, false, "rule '%s' asks for review but names no approvers (groups or "
			"users): nobody can approve it", r->name);
		pc_pop(c, m);
	}
	if (r->has_approvers && r->action != MW_POLICY_REVIEW) {
		m = pc_key(c, "approvers");
		pc_warn(c, true, "approvers are ignored: rule '%s' does not ask for review", r->name);
		pc_pop(c, m);
	} else if (r->has_approvers && r->approvers.count == 2 && !r->approvers.n_groups &&
		   r->approvers.n_users < 2) {
		m = pc_key(c, "approvers");
		pc_warn(c, true, "count is 2 but at most one person can approve", r->name[0] ? "" : "");
		pc_pop(c, m);
	}
	if (r->mask && r->action == MW_POLICY_DENY) {
		m = pc_key(c, "mask");
		pc_warn(c, false, "mask is ignored: rule '%s' denies", r->name);
		pc_pop(c, m);
	}
	if (r->action == MW_POLICY_ALLOW)
		return;
	for (unsigned i = 0; i < r->n_args; i++) {
		const uint32_t unread = SQLCLASS_UNPARSEABLE | SQLCLASS_UNKNOWN;

		if (!r->args[i].sql_mask || (r->args[i].sql_mask & unread) == unread)
			continue;
		m = pc_key(c, "match");
		pc_key(c, "args");
		pc_key(c, r->args[i].pointer);
		pc_key(c, "sql_class");
		pc_warn(c, false, "SQL the classifier cannot read (classes unparseable, unknown) "
			"does not match this %s rule and falls through to later rules; list them "
			"too to fail closed", policy_action_str(r->action));
		pc_pop(c, m);
	}
	(void)v;
}

/* --- free ---------------------------------------------------------------------------- */

static void list_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void rule_free(struct rule *r)
{
	free(r->name);
	free(r->mask);
	free(r->reason);
	list_free(r->approvers.groups, r->approvers.n_groups);
	list_free(r->approvers.users, r->approvers.n_users);
	for (int k = 0; k < K_MAX; k++)
		list_free(r->l[k].v, r->l[k].n);
	for (unsigned i = 0; i < r->n_targets; i++)
		free(r->targets[i].host);
	free(r->targets);
	for (unsigned i = 0; i < r->n_args; i++) {
		struct arg_match *a = &r->args[i];

		free(a->pointer);
		list_free(a->tok, a->n_tok);
		pcre2_code_free(a->re);
		free(a->regex);
		json_decref(a->equals);
	}
	free(r->args);
}

static void policy_free(struct mw_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_rules; i++)
		rule_free(&p->rules[i]);
	free(p->rules);
	pcre2_match_context_free(p->mctx);
	free(p->warnings);
	free(p);
}

struct mw_policy *policy_ref(struct mw_policy *p)
{
	if (p)
		__atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
	return p;
}

struct mw_policy *policy_unref(struct mw_policy *p)
{
	if (p && __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) == 0)
		policy_free(p);
	return NULL;
}

size_t policy_n_rules(const struct mw_policy *p)
{
	return p ? p->n_rules : 0;
}

const char *policy_rule_name(const struct mw_policy *p, size_t i)
{
	return p && i < p->n_rules ? p->rules[i].name : NULL;
}

const char *policy_action_str(enum mw_policy_action a)
{
	return a == MW_POLICY_ALLOW ? "allow" : a == MW_POLICY_REVIEW ? "review" : "deny";
}

/* --- compile: the whole policy --------------------------------------------------------- */

static int compile(struct pc *c, json_t *obj)
{
	struct mw_policy *p = c->p;
	json_t *rules, *e;
	const char *k;
	ssize_t catch_all = -1;
	size_t i;
	int r;

	if (!json_is_object(obj))
		return pc_error(c, false, "expected a policy object ({\"rules\": [...]}), got %s",
				got(obj));
	json_object_foreach(obj, k, e)
		if (strcmp(k, "rules")) {
			pc_key(c, k);
			return pc_error(c, true, "unknown key '%s' (expected rules)", k);
		}
	p->mctx = pcre2_match_context_create(NULL);
	if (!p->mctx)
		return -ENOMEM;
	pcre2_set_match_limit(p->mctx, POLICY_REGEX_MATCH_LIMIT);
	pcre2_set_depth_limit(p->mctx, POLICY_REGEX_DEPTH_LIMIT);
	pcre2_set_heap_limit(p->mctx, POLICY_REGEX_HEAP_LIMIT);

	rules = json_object_get(obj, "rules");
	if (!rules) {
		pc_warn(c, false, "no rules: every request is denied (the implicit default)");
		return 0;
	}
	pc_key(c, "rules");
	if (!json_is_array(rules))
		return pc_error(c, false, "expected an array of rules, got %s", got(rules));
	if (json_array_size(rules) > POLICY_MAX_RULES)
		return pc_error(c, false, "%zu rules, more than the limit of %d",
				json_array_size(rules), POLICY_MAX_RULES);
	p->rules = calloc(json_array_size(rules) ? json_array_size(rules) : 1, sizeof(*p->rules));
	if (!p->rules)
		return -ENOMEM;
	json_array_foreach(rules, i, e) {
		struct mark m = pc_index(c, i);

		p->n_rules++;
		r = parse_rule(c, e, &p->rules[i], i);
		if (r < 0)
			return r;
		pc_pop(c, m);
	}

	/* Lint: what loads but probably is not what was meant. */
	json_array_foreach(rules, i, e) {
		struct mark m = pc_index(c, i);

		lint_rule(c, e, &p->rules[i]);
		if (catch_all >= 0)
			pc_warn(c, false, "rule '%s' is unreachable: rule '%s' (rules[%zd]) before "
				"it matches every request", p->rules[i].name,
				p->rules[catch_all].name, catch_all);
		else if (!p->rules[i].keys)
			catch_all = (ssize_t)i;
		pc_pop(c, m);
	}
	if (catch_all < 0)
		pc_warn(c, false, "no catch-all rule at the end: a request no rule matches is denied "
			"(the implicit default); end with {\"name\": \"default\", \"action\": "
			"\"deny\"} to say so");
	return 0;
}

int policy_compile(json_t *policy_obj, const char *file, const char *text, size_t len,
		   const char *pointer_prefix, struct mw_policy **ret_policy,
		   struct mw_diag *ret_diag)
{
	struct pc c = { .file = file, .text = text, .len = len, .diag = ret_diag };
	const char *pre = pointer_prefix ? pointer_prefix : "";
	int r;

	if (!policy_obj || !ret_policy || (!text && len))
		return mw_diag_set(ret_diag, -EINVAL, file, 0, 0, NULL, "invalid arguments");
	/* the prefix, once as a pointer and once as a dotted key */
	for (const char *s = pre; *s == '/';) {
		const char *e = strchr(s + 1, '/');
		size_t n = e ? (size_t)(e - s - 1) : strlen(s + 1);
		char seg[PC_DOT_MAX], *o = seg;

		if (n >= sizeof(seg))
			break;
		for (size_t i = 1; i <= n; i++)
			*o++ = s[i] == '~' && i < n ? (s[++i] == '0' ? '~' : '/') : s[i];
		*o = '\0';
		pc_key(&c, seg);
		s += n + 1;
	}
	c.p = calloc(1, sizeof(*c.p));
	if (!c.p)
		return mw_diag_set(ret_diag, -ENOMEM, file, 0, 0, NULL, "out of memory");
	c.p->refs = 1;
	r = compile(&c, policy_obj);
	if (r < 0) {
		if (r == -ENOMEM)
			mw_diag_set(ret_diag, -ENOMEM, file, 0, 0, c.dot, "out of memory");
		policy_free(c.p);
		return r;
	}
	*ret_policy = c.p;
	return 0;
}

int policy_lint(const struct mw_policy *p, struct mw_diag **ret_warnings)
{
	if (!p || !ret_warnings)
		return -EINVAL;
	*ret_warnings = NULL;
	if (!p->n_warnings)
		return 0;
	*ret_warnings = malloc(p->n_warnings * sizeof(**ret_warnings));
	if (!*ret_warnings)
		return -ENOMEM;
	memcpy(*ret_warnings, p->warnings, p->n_warnings * sizeof(**ret_warnings));
	return (int)p->n_warnings;
}

/* --- evaluation ----------------------------------------------------------------------- */

struct why {
	bool explain;
	char key[64];
	char text[MW_POLICY_WHY_MAX];
};

static int _printf_(4, 5) why_set(struct why *w, int ret, const char *key, const char *fmt, ...)
{
	va_list ap;

	snprintf(w->key, sizeof(w->key), "%s", key);
	if (!w->explain && ret >= 0)
		return ret;
	va_start(ap, fmt);
	vsnprintf(w->text, sizeof(w->text), fmt, ap);
	va_end(ap);
	return ret;
}

/* "[a, b, c]", cut with "..." */
static const char *fmt_list(char *buf, size_t size, const char *const *v, size_t n)
{
	size_t len = 0;

	buf[0] = '\0';
	app(buf, size, &len, "[", 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			app(buf, size, &len, ", ", 2);
		if (len + strlen(v[i]) + 5 >= size) {
			app(buf, size, &len, "...", 3);
			break;
		}
		app(buf, size, &len, v[i], strlen(v[i]));
	}
	app(buf, size, &len, "]", 1);
	return buf;
}

static bool list_glob(const struct str_list *l, const char *s, bool f)
{
	for (unsigned i = 0; s && i < l->n; i++)
		if (glob_match(l->v[i], s, f))
			return true;
	return false;
}

static int match_glob_key(const struct rule *r, int key, const char *s, struct why *w)
{
	char b[128];

	if (!s)
		return why_set(w, 0, key_names[key], "request has no %s, rule wants %s",
			       key_names[key], fmt_list(b, sizeof(b), (const char *const *)r->l[key].v,
							r->l[key].n));
	if (list_glob(&r->l[key], s, key == K_SNI))
		return 1;
	return why_set(w, 0, key_names[key], "'%s' does not match %s", s,
		       fmt_list(b, sizeof(b), (const char *const *)r->l[key].v, r->l[key].n));
}

static const json_t *resolve(const json_t *v, const struct arg_match *a)
{
	for (unsigned i = 0; v && i < a->n_tok; i++) {
		const char *t = a->tok[i];

		if (json_is_object(v)) {
			v = json_object_get(v, t);
		} else if (json_is_array(v)) {
			char *end;
			unsigned long idx;

			if (*t < '0' || *t > '9' || (*t == '0' && t[1]))
				return NULL;
			idx = strtoul(t, &end, 10);
			if (*end)
				return NULL;
			v = json_array_get(v, idx);
		} else {
			return NULL;
		}
	}
	return v;
}

/* The bytes regex and sql_class read: a string's value, else compact JSON (*ret_buf). */
static int subject_of(const json_t *v, const char **ret, size_t *ret_len, char **ret_buf)
{
	const size_t flags = JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY;
	size_t n;

	if (json_is_string(v)) {
		*ret = json_string_value(v);
		*ret_len = json_string_length(v);
		return *ret_len > POLICY_MAX_ARGS_BYTES ? -EMSGSIZE : 0;
	}
	n = json_dumpb(v, NULL, 0, flags);
	if (n == 0)
		return -EINVAL;
	if (n > POLICY_MAX_ARGS_BYTES)
		return -EMSGSIZE;
	*ret_buf = malloc(n);
	if (!*ret_buf)
		return -ENOMEM;
	*ret_len = json_dumpb(v, *ret_buf, n, flags);
	*ret = *ret_buf;
	return 0;
}

static int match_arg(const struct mw_policy *p, const struct arg_match *a, const json_t *args,
		     struct why *w)
{
	_cleanup_free_ char *buf = NULL;
	char key[64], names[SQLCLASS_NAMES_MAX], want[SQLCLASS_NAMES_MAX];
	const json_t *v = args ? resolve(args, a) : NULL;
	const char *s = NULL;
	size_t len = 0;
	int r;

	snprintf(key, sizeof(key), "args %s", a->pointer);
	if (!v)
		return a->exists == 0 ? 1 : why_set(w, 0, key, "%s", "does not resolve");
	if (a->exists == 0)
		return why_set(w, 0, key, "%s", "resolves, rule wants it absent");
	if (a->equals && !json_equal((json_t *)v, a->equals))
		return why_set(w, 0, key, "%s", "value does not equal the rule's");
	if (!a->re && !a->sql_mask)
		return 1;
	r = subject_of(v, &s, &len, &buf);
	if (r < 0)
		return why_set(w, r, key, "value%s %s", json_is_string(v) ? "" : " as JSON",
			       r == -EMSGSIZE ? "larger than " "POLICY_MAX_ARGS_BYTES" :
			       r == -ENOMEM ? "out of memory" : "cannot be serialised");
	if (a->re) {
		pcre2_match_data *md = pcre2_match_data_create(1, NULL);

		if (!md)
			return why_set(w, -ENOMEM, key, "%s", "out of memory for regex");
		r = pcre2_match(a->re, (PCRE2_SPTR)s, len, 0, 0, md, p->mctx);
		pcre2_match_data_free(md);
		if (r == PCRE2_ERROR_NOMATCH)
			return why_set(w, 0, key, "regex '%s' does not match", a->regex);
		if (r < 0) {
			PCRE2_UCHAR msg[128];

			pcre2_get_error_message(r, msg, sizeof(msg));
			return why_set(w, -ERANGE, key, "regex '%s' cannot be evaluated: %s",
				       a->regex, (char *)msg);
		}
	}
	if (a->sql_mask) {
		uint32_t mask;

		if (!json_is_string(v))
			mask = SQLCLASS_UNKNOWN;
		else if (sqlclass_mask(s, len, &mask) < 0)
			mask = SQLCLASS_UNPARSEABLE;
		if (!(mask & a->sql_mask)) {
			if (!w->explain)
				return 0;
			sqlclass_names(mask, names, sizeof(names));
			sqlclass_names(a->sql_mask, want, sizeof(want));
			return why_set(w, 0, key, "sql_class %s does not include %s",
				       *names ? names : "(none)", want);
		}
	}
	return 1;
}

/* 1: all given keys match; 0: one does not (*w says which); <0: cannot be evaluated. */
static int rule_match(const struct mw_policy *p, const struct rule *r,
		      const struct mw_policy_request *q, struct why *w)
{
	static const char *const dirs[] = { "unknown", "inbound", "outbound" };
	char b1[128], b2[128];
	int ret;

	if ((r->keys & 1u << K_DIRECTION) && q->direction != r->direction)
		return why_set(w, 0, "direction", "request is %s, rule wants %s",
			       dirs[q->direction <= 2 ? q->direction : 0], dirs[r->direction]);
	if ((r->keys & 1u << K_TOKEN) && q->token_present != r->token)
		return why_set(w, 0, "token", "token is %s, rule wants it %s",
			       q->token_present ? "present" : "absent",
			       r->token ? "present" : "absent");
	if ((r->keys & 1u << K_METHOD) && (ret = match_glob_key(r, K_METHOD, q->method, w)) <= 0)
		return ret;
	if ((r->keys & 1u << K_TOOL) && (ret = match_glob_key(r, K_TOOL, q->tool, w)) <= 0)
		return ret;
	if (r->keys & 1u << K_GROUPS) {
		const struct str_list *l = &r->l[K_GROUPS];
		size_t n = q->n_groups < POLICY_MAX_GROUPS ? q->n_groups : POLICY_MAX_GROUPS;
		bool hit = false;

		for (size_t i = 0; !hit && i < n; i++)
			for (unsigned j = 0; !hit && j < l->n; j++)
				hit = q->groups[i] && !strcmp(q->groups[i], l->v[j]);
		if (!hit)
			return why_set(w, 0, "groups", "caller has %s, rule wants %s",
				       fmt_list(b1, sizeof(b1), q->groups, n),
				       fmt_list(b2, sizeof(b2), (const char *const *)l->v, l->n));
	}
	if ((r->keys & 1u << K_SUBJECTS) && (ret = match_glob_key(r, K_SUBJECTS, q->sub, w)) <= 0)
		return ret;
	if ((r->keys & 1u << K_UNIT) &&
	    (ret = match_glob_key(r, K_UNIT, q->workload.unit, w)) <= 0)
		return ret;
	if (r->keys & 1u << K_UID) {
		bool hit = false;

		for (unsigned i = 0; !hit && i < r->n_uids; i++)
			hit = q->workload.uid == r->uids[i];
		if (!hit)
			return why_set(w, 0, "workload.uid", "uid %lld is not among the rule's %u",
				       (long long)q->workload.uid, r->n_uids);
	}
	if ((r->keys & 1u << K_COMM) &&
	    (ret = match_glob_key(r, K_COMM, q->workload.comm, w)) <= 0)
		return ret;
	if ((r->keys & 1u << K_CGROUP) &&
	    (ret = match_glob_key(r, K_CGROUP, q->workload.cgroup, w)) <= 0)
		return ret;
	if (r->keys & 1u << K_TARGET) {
		bool hit = false;

		for (unsigned i = 0; !hit && i < r->n_targets; i++) {
			const struct target_pat *t = &r->targets[i];

			hit = (!t->port || t->port == q->port) &&
			      ((q->host && glob_match(t->host, q->host, true)) ||
			       (q->sni && glob_match(t->host, q->sni, true)));
		}
		if (!hit)
			return why_set(w, 0, "target", "%s:%u (sni %s) matches none of the rule's "
				       "%u targets (first '%s')", q->host ? q->host : "?", q->port,
				       q->sni ? q->sni : "-", r->n_targets, r->targets[0].host);
	}
	if ((r->keys & 1u << K_SNI) && (ret = match_glob_key(r, K_SNI, q->sni, w)) <= 0)
		return ret;
	for (unsigned i = 0; i < r->n_args; i++)
		if ((ret = match_arg(p, &r->args[i], q->args, w)) <= 0)
			return ret;
	return 1;
}

static int eval(const struct mw_policy *p, const struct mw_policy_request *q,
		struct mw_policy_decision *d, bool explain)
{
	struct why w = { .explain = explain };

	if (!p || !q || !d)
		return -EINVAL;
	*d = (struct mw_policy_decision){ .action = MW_POLICY_DENY, .rule = -1,
					  .rule_name = MW_POLICY_RULE_DEFAULT };
	if (explain && p->n_rules)
		d->trace = calloc(p->n_rules, sizeof(*d->trace)); /* NULL: no trace */
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct rule *r = &p->rules[i];
		struct mw_policy_trace *t = d->trace ? &d->trace[d->n_trace++] : NULL;
		int m;

		w.key[0] = w.text[0] = '\0';
		m = rule_match(p, r, q, &w);
		if (t) {
			t->rule = (int)i;
			t->name = r->name;
			t->matched = m > 0;
			snprintf(t->key, sizeof(t->key), "%s", m > 0 ? "" : w.key);
			if (m > 0)
				snprintf(t->why, sizeof(t->why), "%s",
					 r->keys ? "every match key matches" : "matches every request");
			else
				snprintf(t->why, sizeof(t->why), "%s", w.text);
		}
		if (m < 0) {
			d->rule_name = MW_POLICY_RULE_ERROR;
			d->error = m;
			snprintf(d->error_text, sizeof(d->error_text), "rule '%s': %s: %s", r->name,
				 w.key, w.text);
			d->reason = d->error_text;
			return 0;
		}
		if (m > 0) {
			d->action = r->action;
			d->rule = (int)i;
			d->rule_name = r->name;
			d->mask = r->action == MW_POLICY_DENY ? NULL : r->mask;
			d->reason = r->reason;
			d->approvers = r->action == MW_POLICY_REVIEW ? &r->approvers : NULL;
			return 0;
		}
	}
	return 0;
}

int policy_eval(const struct mw_policy *p, const struct mw_policy_request *req,
		struct mw_policy_decision *ret)
{
	return eval(p, req, ret, false);
}

int policy_explain(const struct mw_policy *p, const struct mw_policy_request *req,
		   struct mw_policy_decision *ret)
{
	return eval(p, req, ret, true);
}

void policy_decision_clear(struct mw_policy_decision *d)
{
	if (!d)
		return;
	free(d->trace);
	d->trace = NULL;
	d->n_trace = 0;
}
