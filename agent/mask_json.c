/* mask_json.c: masking jansson values in place (a JSON-RPC message, any value), and the
 * summary's helpers.  Strings go through mask_string() (JSON inside text, or text), values
 * under a key-name rule are replaced whole by a string, integers that hold a card or a phone
 * number become strings. */
#include <stdio.h>

#include "mask_internal.h"

static const char *const kind_names[MW_MASK__MAX] = {
	[MW_MASK_CREDIT_CARD] = "credit_card", [MW_MASK_EMAIL] = "email",
	[MW_MASK_PHONE] = "phone",	       [MW_MASK_US_SSN] = "us_ssn",
	[MW_MASK_IBAN] = "iban",	       [MW_MASK_IPV4] = "ipv4",
	[MW_MASK_IPV6] = "ipv6",	       [MW_MASK_SECRET] = "secret",
	[MW_MASK_FIELD] = "field",	       [MW_MASK_CUSTOM] = "custom",
};

const char *mask_kind_str(enum mw_mask_kind k)
{
	return (unsigned)k < MW_MASK__MAX ? kind_names[k] : NULL;
}

const char *mask_style_str(enum mw_mask_style s)
{
	static const char *const names[] = { "full", "partial", "hash" };

	return (unsigned)s < ARRAY_SIZE(names) ? names[s] : NULL;
}

void mask_summary_format(const struct mw_mask_summary *s, char *buf, size_t size)
{
	size_t len = 0;

	if (!buf || size == 0)
		return;
	buf[0] = '\0';
	if (!s)
		return;
	for (int k = 0; k < MW_MASK__MAX; k++) {
		char item[48];
		int n;

		if (!s->counts[k])
			continue;
		n = snprintf(item, sizeof(item), "%s%s=%u", len ? " " : "", kind_names[k],
			     s->counts[k]);
		mw_str_append(buf, size, &len, item, n);
	}
}

unsigned mask_summary_total(const struct mw_mask_summary *s)
{
	unsigned t = 0;

	for (int k = 0; s && k < MW_MASK__MAX; k++)
		t += s->counts[k];
	return t;
}

void mask_summary_merge(struct mw_mask_summary *a, const struct mw_mask_summary *b)
{
	for (int k = 0; k < MW_MASK__MAX; k++)
		a->counts[k] += b->counts[k];
	for (unsigned i = 0; i < b->n_paths; i++) {
		bool dup = false;

		for (unsigned j = 0; j < a->n_paths && !dup; j++)
			dup = strcmp(a->paths[j], b->paths[i]) == 0;
		if (dup)
			continue;
		if (a->n_paths == MW_MASK_MAX_PATHS) {
			a->paths_truncated = true;
			break;
		}
		memcpy(a->paths[a->n_paths++], b->paths[i], MW_MASK_MAX_PATH);
	}
	a->paths_truncated |= b->paths_truncated;
}

/* --- the walk ----------------------------------------------------------------------------- */

#define INT_MIN_MASKABLE 1000000 /* integers below have too few digits for a card or phone */

/* The replacement of a whole value under a key-name rule. */
static int ruled(struct mask_ctx *x, json_t *v, enum mw_mask_kind kind, json_t **ret)
{
	struct mask_buf rep = { 0 };
	char *dump = NULL;
	int r;

	if (json_is_string(v)) {
		r = mask_render_one(x, kind, NULL, json_string_value(v), json_string_length(v),
				    &rep);
	} else {
		dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!dump)
			return -ENOMEM;
		r = mask_render_one(x, kind, NULL, dump, strlen(dump), &rep);
	}
	free(dump);
	if (r >= 0) {
		*ret = json_stringn(rep.p, rep.len);
		r = *ret ? 0 : -ENOMEM;
	}
	if (r >= 0)
		mask_note(x, kind);
	free(rep.p);
	return r;
}

/* Mask v in place; *ret is set to a new value when v must be replaced (an integer that was a
 * card number becomes a string). */
static int walk(struct mask_ctx *x, json_t *v, int depth, json_t **ret)
{
	int r;

	*ret = NULL;
	if (depth > MW_MASK_MAX_DEPTH)
		return -ELOOP;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *c;
		void *it;

		for (it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
			size_t kl, old;
			enum mw_mask_kind rule;
			json_t *rep = NULL;

			k = json_object_iter_key(it);
			kl = json_object_iter_key_len(it);
			c = json_object_iter_value(it);
			old = mask_path_push(x, k, kl);
			rule = mask_key_rule(x->p, k, kl);
			if (rule != MW_MASK__MAX && !json_is_null(c))
				r = ruled(x, c, rule, &rep);
			else
				r = walk(x, c, depth + 1, &rep);
			mask_path_pop(x, old);
			if (r < 0)
				return r;
			if (rep && json_object_iter_set_new(v, it, rep) < 0)
				return -ENOMEM;
		}
		return 0;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *c;

		json_array_foreach(v, i, c) {
			size_t old = mask_path_push_index(x, i);
			json_t *rep = NULL;

			r = walk(x, c, depth + 1, &rep);
			mask_path_pop(x, old);
			if (r < 0)
				return r;
			if (rep && json_array_set_new(v, i, rep) < 0)
				return -ENOMEM;
		}
		return 0;
	}
	case JSON_STRING: {
		struct mask_buf out = { 0 };

		r = mask_string(x, json_string_value(v), json_string_length(v), depth, &out);
		/* valid UTF-8 in gives valid UTF-8 out (mask.h), so no second check of every byte;
		 * the fuzz target holds the engine to it */
		if (r > 0 && json_string_setn_nocheck(v, out.p, out.len) < 0)
			r = -ENOMEM;
		free(out.p);
		return r < 0 ? r : 0;
	}
	case JSON_INTEGER: {
		json_int_t n = json_integer_value(v);
		struct mask_buf out = { 0 };
		char num[32];

		if (n < INT_MIN_MASKABLE)
			return 0;
		r = mask_span(x, num, snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, n),
			      &out);
		if (r > 0) {
			*ret = json_stringn(out.p, out.len);
			r = *ret ? 0 : -ENOMEM;
		}
		free(out.p);
		return r < 0 ? r : 0;
	}
	default:
		return 0;
	}
}

static int walk_member(struct mask_ctx *x, json_t *obj, const char *key)
{
	json_t *c = json_object_get(obj, key), *rep = NULL;
	size_t old;
	int r;

	if (!c)
		return 0;
	old = mask_path_push(x, key, strlen(key));
	r = walk(x, c, 1, &rep);
	mask_path_pop(x, old);
	if (r >= 0 && rep && json_object_set_new(obj, key, rep) < 0)
		r = -ENOMEM;
	return r;
}

static int message(struct mask_ctx *x, json_t *msg)
{
	json_t *err;
	int r;

	if (!json_is_object(msg))
		return -EINVAL;
	r = walk_member(x, msg, "result");
	if (r < 0)
		return r;
	err = json_object_get(msg, "error");
	if (json_is_object(err)) {
		size_t old = mask_path_push(x, "error", 5);

		r = walk_member(x, err, "message");
		if (r >= 0)
			r = walk_member(x, err, "data");
		mask_path_pop(x, old);
		if (r < 0)
			return r;
	} else if (err) {
		r = walk_member(x, msg, "error");
		if (r < 0)
			return r;
	}
	if (json_object_get(msg, "method"))
		return walk_member(x, msg, "params");
	return 0;
}

int mask_message(const struct mw_mask_profile *p, json_t *msg, struct mw_mask_summary *sum)
{
	struct mask_ctx x;
	int r = 0;

	if (!p || !msg)
		return -EINVAL;
	mask_ctx_init(&x, p, sum, NULL);
	if (json_is_array(msg)) {
		size_t i;
		json_t *m;

		json_array_foreach(msg, i, m) {
			size_t old = mask_path_push_index(&x, i);

			r = message(&x, m);
			mask_path_pop(&x, old);
			if (r < 0)
				break;
		}
	} else {
		r = message(&x, msg);
	}
	mask_ctx_done(&x);
	return r < 0 ? r : x.count;
}

int mask_json(const struct mw_mask_profile *p, json_t *v, const char *path,
	      struct mw_mask_summary *sum)
{
	struct mask_ctx x;
	json_t *rep = NULL;
	int r;

	if (!p || !v)
		return -EINVAL;
	mask_ctx_init(&x, p, sum, path);
	r = walk(&x, v, 0, &rep);
	mask_ctx_done(&x);
	if (rep) {
		/* a bare integer cannot change type in place: refuse rather than pass it */
		json_decref(rep);
		return -EMEDIUMTYPE;
	}
	return r < 0 ? r : x.count;
}
