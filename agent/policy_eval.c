/* policy_eval.c: a compiled policy's lifetime, globs, and deciding one request (see policy.h). */
#include <stdio.h>

#include "policy_internal.h"
#include "sqlclass.h"

static const char *const key_names[K_MAX] = {
	"direction", "token",	      "method",	      "tool",	       "groups",
	"subjects",  "workload.unit", "workload.uid", "workload.comm", "workload.cgroup",
	"target",    "sni",	      "args",
};

/* --- lifetime ---------------------------------------------------------------------------- */

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
	list_free(r->approvers.oidc_groups, r->approvers.n_oidc_groups);
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

void policy_free(struct mw_policy *p)
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

/* --- globs ----------------------------------------------------------------------------------- */

const char *policy_glob_check(const char *g)
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
bool policy_glob_match(const char *p, const char *s, bool f)
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
	policy_str_append(buf, size, &len, "[", 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			policy_str_append(buf, size, &len, ", ", 2);
		if (len + strlen(v[i]) + 5 >= size) {
			policy_str_append(buf, size, &len, "...", 3);
			break;
		}
		policy_str_append(buf, size, &len, v[i], strlen(v[i]));
	}
	policy_str_append(buf, size, &len, "]", 1);
	return buf;
}

static bool list_glob(const struct str_list *l, const char *s, bool f)
{
	for (unsigned i = 0; s && i < l->n; i++)
		if (policy_glob_match(l->v[i], s, f))
			return true;
	return false;
}

static int match_glob_key(const struct rule *r, int key, const char *s, struct why *w)
{
	char b[128];

	if (!s)
		return why_set(
		    w, 0, key_names[key], "request has no %s, rule wants %s", key_names[key],
		    fmt_list(b, sizeof(b), (const char *const *)r->l[key].v, r->l[key].n));
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
			       r == -EMSGSIZE ? "is larger than the 1 MiB evaluated"
			       : r == -ENOMEM ? "out of memory"
					      : "cannot be serialised");
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
	if ((r->keys & 1u << K_UNIT) && (ret = match_glob_key(r, K_UNIT, q->workload.unit, w)) <= 0)
		return ret;
	if (r->keys & 1u << K_UID) {
		bool hit = false;

		for (unsigned i = 0; !hit && i < r->n_uids; i++)
			hit = q->workload.uid == r->uids[i];
		if (!hit)
			return why_set(w, 0, "workload.uid", "uid %lld is not among the rule's %u",
				       (long long)q->workload.uid, r->n_uids);
	}
	if ((r->keys & 1u << K_COMM) && (ret = match_glob_key(r, K_COMM, q->workload.comm, w)) <= 0)
		return ret;
	if ((r->keys & 1u << K_CGROUP) &&
	    (ret = match_glob_key(r, K_CGROUP, q->workload.cgroup, w)) <= 0)
		return ret;
	if (r->keys & 1u << K_TARGET) {
		bool hit = false;

		for (unsigned i = 0; !hit && i < r->n_targets; i++) {
			const struct target_pat *t = &r->targets[i];

			hit = (!t->port || t->port == q->port) &&
			      ((q->host && policy_glob_match(t->host, q->host, true)) ||
			       (q->sni && policy_glob_match(t->host, q->sni, true)));
		}
		if (!hit)
			return why_set(w, 0, "target",
				       "%s:%u (sni %s) matches none of the rule's "
				       "%u targets (first '%s')",
				       q->host ? q->host : "?", q->port, q->sni ? q->sni : "-",
				       r->n_targets, r->targets[0].host);
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
	*d = (struct mw_policy_decision){ .action = MW_POLICY_DENY,
					  .rule = -1,
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
					 r->keys ? "every match key matches"
						 : "matches every request");
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
