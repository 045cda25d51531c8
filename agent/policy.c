/* policy.c: see policy.h.  Compilation walks the policy object once with a path (JSON
 * pointer for jsonpos, dotted key for messages) so every error and warning names where it
 * is; evaluation reads only the compiled rules. */
#include <stdio.h>

#include "jsonpos.h"
#include "policy_internal.h"
#include "sqlclass.h"

#define POLICY_MAX_WARNINGS 256
#define PC_PTR_MAX 2048
#define PC_DOT_MAX 256

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

void policy_str_append(char *buf, size_t size, size_t *len, const char *s, size_t n)
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
	if (!*k || (*k >= '0' && *k <= '9'))
		return false;
	for (; *k; k++)
		if (!(*k == '_' || (*k >= '0' && *k <= '9') || (*k >= 'a' && *k <= 'z') ||
		      (*k >= 'A' && *k <= 'Z')))
			return false;
	return true;
}

static struct mark pc_key(struct pc *c, const char *k)
{
	struct mark m = { c->plen, c->dlen };

	policy_str_append(c->ptr, sizeof(c->ptr), &c->plen, "/", 1);
	for (const char *s = k; *s; s++)
		policy_str_append(c->ptr, sizeof(c->ptr), &c->plen,
				  *s == '~'   ? "~0"
				  : *s == '/' ? "~1"
					      : s,
				  (*s == '~' || *s == '/') ? 2 : 1);
	if (is_ident(k)) {
		if (c->dlen)
			policy_str_append(c->dot, sizeof(c->dot), &c->dlen, ".", 1);
		policy_str_append(c->dot, sizeof(c->dot), &c->dlen, k, strlen(k));
	} else {
		policy_str_append(c->dot, sizeof(c->dot), &c->dlen, "[\"", 2);
		policy_str_append(c->dot, sizeof(c->dot), &c->dlen, k, strlen(k));
		policy_str_append(c->dot, sizeof(c->dot), &c->dlen, "\"]", 2);
	}
	return m;
}

static struct mark pc_index(struct pc *c, size_t i)
{
	struct mark m = { c->plen, c->dlen };
	char num[32];
	int n = snprintf(num, sizeof(num), "/%zu", i);

	policy_str_append(c->ptr, sizeof(c->ptr), &c->plen, num, (size_t)n);
	policy_str_append(c->dot, sizeof(c->dot), &c->dlen, "[", 1);
	policy_str_append(c->dot, sizeof(c->dot), &c->dlen, num + 1, (size_t)n - 1);
	policy_str_append(c->dot, sizeof(c->dot), &c->dlen, "]", 1);
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
	if (p->n_warnings == p->cap_warnings) {
		size_t cap = p->cap_warnings ? 2 * p->cap_warnings : 4;

		w = reallocarray(p->warnings, cap, sizeof(*w));
		if (!w)
			return; /* warnings are advice: losing them under OOM is acceptable */
		p->warnings = w;
		p->cap_warnings = cap;
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

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
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
	if (kind == L_GLOB && (why = policy_glob_check(s)))
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
		return pc_error(c, false, "expected a string or an array of strings, got %s",
				got(v));
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
		struct mark m =
		    json_is_array(v) ? pc_index(c, i) : (struct mark){ c->plen, c->dlen };
		json_int_t u;

		e = json_is_array(v) ? json_array_get(v, i) : one[0];
		if (!json_is_integer(e))
			return pc_error(c, false, "expected a uid (an integer), got %s", got(e));
		u = json_integer_value(e);
		if (u < 0 || u > 4294967294LL)
			return pc_error(c, false, "uid %lld out of range (0..4294967294)",
					(long long)u);
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
		struct mark m =
		    json_is_array(v) ? pc_index(c, i) : (struct mark){ c->plen, c->dlen };
		char *s = l.v[i], *colon, *host = s;
		const char *why = NULL;
		unsigned long port = 0;

		if (*s == '[') {
			host = s + 1;
			colon = strchr(s, ']');
			if (!colon || colon[1] != ':') {
				ret = pc_error(c, false,
					       "bad target '%s': expected '[address]:port'", s);
				goto out;
			}
			*colon++ = '\0';
		} else {
			colon = strrchr(s, ':');
			if (colon && memchr(s, ':', (size_t)(colon - s))) {
				ret = pc_error(
				    c, false,
				    "bad target '%s': an IPv6 address needs brackets, as in "
				    "'[::1]:443'",
				    s);
				goto out;
			}
		}
		if (!colon || colon == s) {
			ret = pc_error(c, false,
				       "bad target '%s': expected 'host:port' (port a number "
				       "or '*')",
				       s);
			goto out;
		}
		*colon++ = '\0';
		if (strcmp(colon, "*")) {
			char *end;

			port = strtoul(colon, &end, 10);
			if (*colon < '0' || *colon > '9' || *end || port < 1 || port > 65535) {
				ret = pc_error(c, false,
					       "bad port '%s' in target: expected 1..65535 or "
					       "'*'",
					       colon);
				goto out;
			}
		}
		if (!*host || (why = policy_glob_check(host))) {
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
		return pc_error(c, true,
				"bad JSON pointer '%s': must start with '/' (or be \"\" for "
				"all arguments)",
				k);
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
					return pc_error(c, true,
							"bad JSON pointer '%s': '~' must be "
							"followed by 0 or 1",
							k);
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
		struct mark m =
		    json_is_array(v) ? pc_index(c, i) : (struct mark){ c->plen, c->dlen };
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
		return pc_error(c, false,
				"expected an object with regex, sql_class, equals or "
				"exists, got %s",
				json_is_object(v) ? "an empty one" : got(v));
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
				return pc_error(c, false, "expected true or false, got %s",
						got(av));
			a->exists = json_is_true(av);
		} else {
			return pc_error(c, true,
					"unknown key '%s' (expected regex, sql_class, "
					"equals, exists)",
					ak);
		}
		if (r < 0)
			return r;
		pc_pop(c, m);
	}
	if (a->exists == 0 && (a->re || a->sql_mask || a->equals))
		return pc_error(c, false,
				"\"exists\": false cannot be combined with regex, "
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
		int key = !strcmp(k, "unit")	 ? K_UNIT
			  : !strcmp(k, "comm")	 ? K_COMM
			  : !strcmp(k, "cgroup") ? K_CGROUP
			  : !strcmp(k, "uid")	 ? K_UID
						 : -1;

		if (key < 0)
			return pc_error(c, true,
					"unknown key '%s' (expected unit, uid, comm, cgroup)", k);
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
		{ "groups", K_GROUPS }, { "subjects", K_SUBJECTS }, { "workload", K_UNIT },
		{ "target", K_TARGET }, { "sni", K_SNI },	    { "direction", K_DIRECTION },
		{ "method", K_METHOD }, { "tool", K_TOOL },	    { "token", K_TOKEN },
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
			return pc_error(
			    c, true,
			    "unknown match key '%s' (expected groups, subjects, "
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
		return pc_error(c, false,
				"expected an object (users, groups, oidc_groups, count), got %s",
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
		} else if (!strcmp(k, "groups") || !strcmp(k, "users") ||
			   !strcmp(k, "oidc_groups")) {
			l = (struct str_list){};
			ret = parse_list(c, e, L_NAME, &l);
			if (k[0] == 'g') {
				r->approvers.groups = l.v;
				r->approvers.n_groups = l.n;
			} else if (k[0] == 'o') {
				r->approvers.oidc_groups = l.v;
				r->approvers.n_oidc_groups = l.n;
			} else {
				r->approvers.users = l.v;
				r->approvers.n_users = l.n;
			}
			if (ret < 0)
				return ret;
		} else {
			return pc_error(c, true,
					"unknown key '%s' (expected users, groups, oidc_groups, "
					"count)",
					k);
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
		return pc_error(c, false, "expected 1 to %zu bytes without control characters",
				max);
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
					ret = pc_error(c, false,
						       "duplicate rule name '%s' (also "
						       "rules[%zu])",
						       r->name, i);
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
				ret = pc_error(c, false,
					       "expected \"allow\", \"deny\" or \"review\", "
					       "got %s%s%s%s",
					       got(e), s ? " '" : "", s ? s : "", s ? "'" : "");
		} else if (!strcmp(k, "mask")) {
			ret = parse_string(c, e, POLICY_MAX_NAME, &r->mask);
		} else if (!strcmp(k, "reason")) {
			ret = parse_string(c, e, POLICY_MAX_REASON, &r->reason);
		} else if (!strcmp(k, "approvers")) {
			ret = parse_approvers(c, e, r);
		} else {
			return pc_error(c, true,
					"unknown key '%s' (expected name, match, action, "
					"mask, approvers, reason)",
					k);
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

	if (r->action == MW_POLICY_REVIEW &&
	    (!r->has_approvers || (!r->approvers.n_groups && !r->approvers.n_users &&
				!r->approvers.n_oidc_groups))) {
		m = pc_key(c, "action");
		pc_warn(c, false,
			"rule '%s' asks for review but names no approvers (groups or "
			"users): nobody can approve it",
			r->name);
		pc_pop(c, m);
	}
	if (r->has_approvers && r->action != MW_POLICY_REVIEW) {
		m = pc_key(c, "approvers");
		pc_warn(c, true, "approvers are ignored: rule '%s' does not ask for review",
			r->name);
		pc_pop(c, m);
	} else if (r->has_approvers && r->approvers.count == 2 && !r->approvers.n_groups &&
		   !r->approvers.n_oidc_groups &&
		   r->approvers.n_users < 2) {
		m = pc_key(c, "approvers");
		pc_warn(c, true, "rule '%s' wants 2 approvers but names at most one person",
			r->name);
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
		pc_warn(c, false,
			"SQL the classifier cannot read (classes unparseable, unknown) "
			"does not match this %s rule and falls through to later rules; list them "
			"too to fail closed",
			policy_action_str(r->action));
		pc_pop(c, m);
	}
	(void)v;
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
			pc_warn(c, false,
				"rule '%s' is unreachable: rule '%s' (rules[%zd]) before "
				"it matches every request",
				p->rules[i].name, p->rules[catch_all].name, catch_all);
		else if (!p->rules[i].keys)
			catch_all = (ssize_t)i;
		pc_pop(c, m);
	}
	if (catch_all < 0)
		pc_warn(c, false,
			"no catch-all rule at the end: a request no rule matches is denied "
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
