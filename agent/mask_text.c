/* mask_text.c: from matches to masked text.  Finds the matches of a profile in a text (the
 * built-in scanner, then the custom patterns, overlaps merged), renders each in its style,
 * and masks JSON carried as text (MCP tool results put rows there) by walking the text
 * itself: strings are masked where they stand, everything else is copied, so the formatting
 * survives and nothing is re-serialized.  Text that turns out not to be JSON is masked as
 * text. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>

#include "mask_internal.h"

/* --- small containers --------------------------------------------------------------------- */

int mask_matches_add(struct mask_matches *m, size_t start, size_t end, enum mw_mask_kind kind,
		     int pattern)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct mask_match *v = realloc(m->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		m->v = v;
		m->cap = cap;
	}
	m->v[m->n++] = (struct mask_match){ start, end, kind, pattern };
	return 0;
}

int mask_buf_put(struct mask_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *q;

		while (cap < b->len + n + 1)
			cap *= 2;
		q = realloc(b->p, cap);
		if (!q)
			return -ENOMEM;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int mask_buf_reserve(struct mask_buf *b, size_t n)
{
	char *q;

	if (b->cap >= b->len + n + 1)
		return 0;
	q = realloc(b->p, b->len + n + 1);
	if (!q)
		return -ENOMEM;
	b->p = q;
	b->cap = b->len + n + 1;
	return 0;
}

static int buf_puts(struct mask_buf *b, const char *s)
{
	return mask_buf_put(b, s, strlen(s));
}

/* --- context, paths, summary -------------------------------------------------------------- */

void mask_ctx_init(struct mask_ctx *x, const struct mw_mask_profile *p,
		   struct mw_mask_summary *sum, const char *path)
{
	x->p = p;
	x->sum = sum;
	x->budget = MW_MASK_MAX_INPUT;
	x->count = 0;
	x->path_len = 0;
	x->m = (struct mask_matches){ 0 };
	x->md = NULL;
	x->scratch = (struct mask_buf){ 0 };
	snprintf(x->base, sizeof(x->base), "%s", path ? path : "");
}

void mask_ctx_done(struct mask_ctx *x)
{
	free(x->scratch.p);
	x->scratch = (struct mask_buf){ 0 };
	free(x->m.v);
	x->m = (struct mask_matches){ 0 };
	if (x->md)
		pcre2_match_data_free(x->md);
	x->md = NULL;
}

size_t mask_path_push(struct mask_ctx *x, const char *k, size_t n)
{
	size_t old = x->path_len;

	if (x->path_len < MASK_MAX_SEGS)
		x->seg[x->path_len] = (struct mask_seg){ k ? k : "", n };
	x->path_len++;
	return old;
}

size_t mask_path_push_index(struct mask_ctx *x, size_t i)
{
	size_t old = x->path_len;

	if (x->path_len < MASK_MAX_SEGS)
		x->seg[x->path_len] = (struct mask_seg){ NULL, i };
	x->path_len++;
	return old;
}

void mask_path_pop(struct mask_ctx *x, size_t old)
{
	x->path_len = old;
}

/* The current path as a JSON pointer, cut to size. */
static void path_build(const struct mask_ctx *x, char *buf, size_t size)
{
	size_t len = 0, nseg = x->path_len < MASK_MAX_SEGS ? x->path_len : MASK_MAX_SEGS;

	buf[0] = '\0';
	mw_str_append(buf, size, &len, x->base, strlen(x->base));
	for (size_t i = 0; i < nseg && len + 2 < size; i++) {
		const struct mask_seg *g = &x->seg[i];

		buf[len++] = '/';
		if (!g->k) {
			len += snprintf(buf + len, size - len, "%zu", g->n);
			if (len >= size)
				len = size - 1;
			continue;
		}
		for (size_t j = 0; j < g->n && len + 3 < size; j++) {
			char c = g->k[j];

			if (c == '~' || c == '/') {
				buf[len++] = '~';
				buf[len++] = c == '~' ? '0' : '1';
			} else {
				buf[len++] = c;
			}
		}
	}
	buf[len] = '\0';
}

void mask_note(struct mask_ctx *x, enum mw_mask_kind kind)
{
	struct mw_mask_summary *s = x->sum;
	char path[MW_MASK_MAX_PATH];

	x->count++;
	if (!s)
		return;
	s->counts[kind]++;
	if (s->paths_truncated)
		return; /* full: no need to look for the path among those kept */
	path_build(x, path, sizeof(path));
	for (unsigned i = s->n_paths; i > 0; i--)
		if (strcmp(s->paths[i - 1], path) == 0)
			return;
	if (s->n_paths == MW_MASK_MAX_PATHS) {
		s->paths_truncated = true;
		return;
	}
	memcpy(s->paths[s->n_paths++], path, sizeof(path));
}

/* --- key-name rules ----------------------------------------------------------------------- */

static const char *const secret_keys[] = {
	"password",   "passwd",	      "pwd",	      "secret",	   "token",
	"apikey",     "accesstoken",  "refreshtoken", "idtoken",   "clientsecret",
	"privatekey", "awssecretaccesskey", "secretkey", "authorization",
};
static const uint8_t secret_keys_len[] = { 8, 6, 3, 6, 5, 6, 11, 12, 7, 12, 10, 18, 9, 13 };
_Static_assert(ARRAY_SIZE(secret_keys) == ARRAY_SIZE(secret_keys_len), "secret key lengths");

/* Lower case, without '_' and '-': "Card-Number", "card_number" and "cardNumber" agree. */
static size_t key_norm(const char *k, size_t n, char *buf, size_t size)
{
	size_t l = 0;

	for (size_t i = 0; i < n; i++) {
		char c = k[i];

		if (c == '_' || c == '-')
			continue;
		if (l + 1 >= size)
			return 0;
		buf[l++] = c >= 'A' && c <= 'Z' ? c + 'a' - 'A' : c;
	}
	buf[l] = '\0';
	return l;
}

static void index_rule(struct mw_mask_profile *p, const char *norm)
{
	size_t l = strlen(norm);

	if (l == 0 || l >= 64)
		return;
	p->rule_first[l] |= 1u << ((unsigned char)norm[0] & 31);
	p->rule_last[l] |= 1u << ((unsigned char)norm[l - 1] & 31);
}

void mask_profile_index_rules(struct mw_mask_profile *p)
{
	memset(p->rule_first, 0, sizeof(p->rule_first));
	memset(p->rule_last, 0, sizeof(p->rule_last));
	for (size_t i = 0; i < p->n_fields; i++)
		index_rule(p, p->fields[i]);
	if (p->detectors & (1u << MW_MASK_SECRET))
		for (size_t i = 0; i < ARRAY_SIZE(secret_keys); i++)
			index_rule(p, secret_keys[i]);
}

enum mw_mask_kind mask_key_rule(const struct mw_mask_profile *p, const char *k, size_t n)
{
	char norm[MW_MASK_MAX_NAME];
	size_t l = 0;
	int first = -1, last = -1;

	if (n == 0 || n >= 2 * MW_MASK_MAX_NAME)
		return MW_MASK__MAX;
	for (size_t i = 0; i < n; i++)
		if (k[i] != '_' && k[i] != '-') {
			if (first < 0)
				first = (unsigned char)k[i];
			last = (unsigned char)k[i];
			l++;
		}
	/* names are compared in lower case: 'A' & 31 == 'a' & 31 */
	if (first < 0 || l >= 64 || !(p->rule_first[l] & (1u << (first & 31))) ||
	    !(p->rule_last[l] & (1u << (last & 31))))
		return MW_MASK__MAX;
	l = key_norm(k, n, norm, sizeof(norm));
	if (!l)
		return MW_MASK__MAX;
	for (size_t i = 0; i < p->n_fields; i++)
		if (p->fields[i][0] == norm[0] && strcmp(p->fields[i], norm) == 0)
			return MW_MASK_FIELD;
	if (p->detectors & (1u << MW_MASK_SECRET))
		for (size_t i = 0; i < ARRAY_SIZE(secret_keys); i++)
			if (secret_keys_len[i] == l && secret_keys[i][0] == norm[0] &&
			    memcmp(secret_keys[i], norm, l) == 0)
				return MW_MASK_SECRET;
	return MW_MASK__MAX;
}

/* --- rendering ---------------------------------------------------------------------------- */

#define PARTIAL_KEEP 4
#define PARTIAL_MIN 8 /* alphanumerics a value needs before partial shows any of them */
#define HASH_HEX 16
#define HASH_NORM_MAX 512

static bool alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* The bytes the keyed hash covers: numbers without their separators, emails in lower case,
 * so the same value written two ways joins. */
static const char *hash_input(enum mw_mask_kind kind, const char *s, size_t n, char *buf,
			      size_t *ret_n)
{
	size_t l = 0;

	if (n > HASH_NORM_MAX)
		goto raw;
	switch (kind) {
	case MW_MASK_CREDIT_CARD:
	case MW_MASK_PHONE:
	case MW_MASK_US_SSN:
	case MW_MASK_IBAN:
		for (size_t i = 0; i < n; i++)
			if (alnum(s[i]))
				buf[l++] = s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i];
		break;
	case MW_MASK_EMAIL:
		for (size_t i = 0; i < n; i++)
			buf[l++] = s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i];
		break;
	default:
		goto raw;
	}
	*ret_n = l;
	return buf;
raw:
	*ret_n = n;
	return s;
}

int mask_render_one(struct mask_ctx *x, enum mw_mask_kind kind, const char *label,
		    const char *s, size_t n, struct mask_buf *out)
{
	const struct mw_mask_profile *p = x->p;
	enum mw_mask_style style = p->style[kind];
	char tail[PARTIAL_KEEP + 1], buf[64 + MW_MASK_MAX_NAME];
	size_t total = 0, k = PARTIAL_KEEP;

	if (!label)
		label = mask_kind_str(kind);
	if (style == MW_MASK_STYLE_HASH && p->masker->key_len == 0)
		style = MW_MASK_STYLE_FULL;
	if (style == MW_MASK_STYLE_PARTIAL && kind != MW_MASK_SECRET) {
		tail[k] = '\0';
		for (size_t i = n; i > 0; i--)
			if (alnum(s[i - 1])) {
				if (k > 0)
					tail[--k] = s[i - 1];
				total++;
			}
		if (total >= PARTIAL_MIN) {
			snprintf(buf, sizeof(buf), "[MASKED:%s:\u2026%s]", label, tail);
			return buf_puts(out, buf);
		}
	} else if (style == MW_MASK_STYLE_HASH) {
		unsigned char md[EVP_MAX_MD_SIZE];
		char norm[HASH_NORM_MAX], hex[HASH_HEX + 1];
		unsigned mdlen = 0;
		size_t nn;
		const char *in = hash_input(kind, s, n, norm, &nn);

		if (!HMAC(EVP_sha256(), p->masker->key, p->masker->key_len,
			  (const unsigned char *)in, nn, md, &mdlen))
			return -ENOMEM;
		for (int i = 0; i < HASH_HEX / 2; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		snprintf(buf, sizeof(buf), "[MASKED:%s:hmac:%s]", label, hex);
		return buf_puts(out, buf);
	}
	{
		size_t ll = strlen(label);
		int r = mask_buf_put(out, "[MASKED:", 8);

		if (r >= 0)
			r = mask_buf_put(out, label, ll);
		return r < 0 ? r : mask_buf_put(out, "]", 1);
	}
}

/* --- text --------------------------------------------------------------------------------- */

static int cmp_match(const void *a, const void *b)
{
	const struct mask_match *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->pattern < y->pattern ? -1 : x->pattern > y->pattern;
}

static bool utf8_cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

static int find_custom(struct mask_ctx *x, const char *s, size_t n)
{
	const struct mw_mask_profile *p = x->p;
	int r;

	for (size_t k = 0; k < p->n_patterns; k++) {
		size_t off = 0;

		if (!x->md) {
			x->md = pcre2_match_data_create(1, NULL);
			if (!x->md)
				return -ENOMEM;
		}
		while (off <= n) {
			PCRE2_SIZE *ov;
			size_t a, b;

			r = pcre2_match(p->patterns[k].re, (PCRE2_SPTR)s, n, off, 0, x->md,
					p->mctx);
			if (r == PCRE2_ERROR_NOMATCH)
				break;
			if (r < 0)
				return -ERANGE; /* a limit: fail closed rather than pass raw */
			ov = pcre2_get_ovector_pointer(x->md);
			a = ov[0];
			b = ov[1];
			if (b <= a) {
				off = a + 1;
				continue;
			}
			while (a > 0 && utf8_cont(s[a]))
				a--;
			while (b < n && utf8_cont(s[b]))
				b++;
			r = mask_matches_add(&x->m, a, b, MW_MASK_CUSTOM, (int)k);
			if (r < 0)
				return r;
			off = b;
		}
	}
	return 0;
}

/* Sort, then merge overlaps into one match (the first one's kind): everything any finder
 * matched is masked. */
static void merge_matches(struct mask_matches *m)
{
	size_t w = 0;

	qsort(m->v, m->n, sizeof(*m->v), cmp_match);
	for (size_t i = 1; i < m->n; i++) {
		if (m->v[i].start < m->v[w].end) {
			if (m->v[i].end > m->v[w].end)
				m->v[w].end = m->v[i].end;
			continue;
		}
		m->v[++w] = m->v[i];
	}
	m->n = w + 1;
}

int mask_span(struct mask_ctx *x, const char *s, size_t n, struct mask_buf *out)
{
	size_t last = 0, builtin;
	int r;

	if (n > x->budget)
		return -EFBIG;
	x->budget -= n;
	x->m.n = 0;
	r = mask_detect(x->p->detectors, s, n, &x->m);
	if (r < 0)
		return r;
	builtin = x->m.n;
	if (x->p->n_patterns) {
		r = find_custom(x, s, n);
		if (r < 0)
			return r;
	}
	if ((x->p->n_fields || (x->p->detectors & (1u << MW_MASK_SECRET))) && n > 0 &&
	    memchr(s, '\n', n)) {
		r = mask_csv_matches(x->p, s, n, &x->m);
		if (r < 0)
			return r;
	}
	if (x->m.n > builtin)
		merge_matches(&x->m);
	if (x->m.n == 0)
		return 0;
	r = mask_buf_reserve(out, n + 64);
	if (r < 0)
		return r;
	for (size_t i = 0; i < x->m.n; i++) {
		const struct mask_match *m = &x->m.v[i];
		const char *label = m->pattern >= 0 ? x->p->patterns[m->pattern].name : NULL;

		r = mask_buf_put(out, s + last, m->start - last);
		if (r < 0)
			return r;
		r = mask_render_one(x, m->kind, label, s + m->start, m->end - m->start, out);
		if (r < 0)
			return r;
		mask_note(x, m->kind);
		last = m->end;
	}
	r = mask_buf_put(out, s + last, n - last);
	return r < 0 ? r : (int)x->m.n;
}

int mask_string(struct mask_ctx *x, const char *s, size_t n, int depth, struct mask_buf *out)
{
	if (mask_looks_json(s, n)) {
		int r = mask_jtext(x, s, n, depth, out);

		if (r != -EBADMSG)
			return r;
	}
	return mask_span(x, s, n, out);
}

int mask_text(const struct mw_mask_profile *p, const char *s, size_t n, char **ret,
	      size_t *ret_len, struct mw_mask_summary *sum)
{
	struct mask_buf out = { 0 };
	struct mask_ctx x;
	int r;

	if (!p || (!s && n) || !ret || !ret_len)
		return -EINVAL;
	if (n > MW_MASK_MAX_INPUT)
		return -EFBIG;
	mask_ctx_init(&x, p, sum, NULL);
	r = mask_string(&x, s ? s : "", n, 0, &out);
	mask_ctx_done(&x);
	if (r <= 0) {
		free(out.p);
		return r;
	}
	*ret = out.p;
	*ret_len = out.len;
	return x.count;
}
