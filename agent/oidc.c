/* oidc.c: per-issuer key sets (discovery + JWKS over libcurl, or a file), their refresh
 * policy, and the verified-token cache. See oidc.h for the contract. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "jsonpos.h"
#include "jwk.h" /* mw_b64url_decode_alloc, mw_json_check_depth: the unverified iss peek */
#include "jwt.h"
#include "oidc.h"

#define USEC_PER_SEC 1000000ULL
#define CACHE_PROBE 8	       /* slots searched per lookup/insert */
#define SHOW_MAX 48	       /* token- or server-supplied strings in messages */
#define FIELD_MAX 512	       /* audience, typ, ... */
#define PATH_MAX_CFG 4096      /* jwks_file, ca_file */
#define DISCOVERY_SUFFIX "/.well-known/openid-configuration"

_Static_assert((MW_OIDC_TOKEN_CACHE_MAX & (MW_OIDC_TOKEN_CACHE_MAX - 1)) == 0,
	       "MW_OIDC_TOKEN_CACHE_MAX must be a power of two");

/* A key set shared by the issuer and the verifiers using it; refs changes under the lock. */
struct oidc_keys {
	struct mw_jwks *jwks;
	unsigned refs;
};

struct oidc_issuer {
	/* configuration, immutable */
	char *issuer, *audience, *jwks_uri, *jwks_file, *ca_file, *groups_claim, *typ;
	int pem_alg; /* -1: try the algorithms a PEM key can have */
	uint32_t leeway_sec, refresh_sec;
	/* state, under mw_oidc.lock */
	struct oidc_keys *keys;
	uint64_t fetched, last_attempt, next_due;
	bool attempted, kid_miss, busy;
	uint32_t max_age;
	unsigned failures, gen;
	unsigned char jwks_md[32];
	char last_error[256];
};

struct cache_entry {
	unsigned char md[32];
	uint64_t exp;
	unsigned issuer, gen;
	struct mw_jwt_claims *claims; /* NULL: free slot */
};

struct mw_oidc {
	bool require_token;
	size_t n;
	struct oidc_issuer iss[MW_OIDC_MAX_ISSUERS];
	pthread_mutex_t lock;
	uint64_t (*clock)(void);
	struct cache_entry *cache;
	size_t cache_n;
	uint64_t hits, misses, evictions;
};

static _printf_(4, 5) int fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* At most max printable ASCII characters of s, for messages. */
static const char *show(const char *s, size_t max, char *buf, size_t size)
{
	size_t n = 0;

	for (; s && *s && n + 4 < size; s++) {
		if (n >= max) {
			memcpy(buf + n, "...", 3);
			n += 3;
			break;
		}
		buf[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	}
	buf[n] = '\0';
	return buf;
}

#define SHOW(s) show((s), SHOW_MAX, (char[SHOW_MAX + 8]){ 0 }, SHOW_MAX + 8)

static void wipe_free(void *p, size_t n)
{
	if (!p)
		return;
	explicit_bzero(p, n);
	free(p);
}

/* --- configuration ------------------------------------------------------------------------ */

struct oidc_ctx {
	const char *file, *text;
	size_t len;
	struct mw_diag *diag;
};

/* "/" + key with "~" and "/" escaped (RFC 6901). */
static void ptr_append(char *buf, size_t size, const char *k)
{
	size_t n = strlen(buf);

	if (n + 1 < size)
		buf[n++] = '/';
	for (; *k && n + 2 < size; k++) {
		if (*k == '~' || *k == '/') {
			buf[n++] = '~';
			buf[n++] = *k == '~' ? '0' : '1';
		} else {
			buf[n++] = *k;
		}
	}
	buf[n] = '\0';
}

/* The error at identity[.k1][[idx]][.k2] (the key's position if at_key, else the value's). */
static _printf_(6, 7) int cfg_err(const struct oidc_ctx *x, const char *k1, long idx,
				  const char *k2, bool at_key, const char *fmt, ...)
{
	char ptr[1024] = "/identity", key[256], msg[sizeof(x->diag->text)], num[32];
	struct mw_jsonpos pos;
	int line = 0, column = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	snprintf(num, sizeof(num), "%ld", idx);
	if (k1)
		ptr_append(ptr, sizeof(ptr), k1);
	if (idx >= 0)
		ptr_append(ptr, sizeof(ptr), num);
	if (k2)
		ptr_append(ptr, sizeof(ptr), k2);
	snprintf(key, sizeof(key), "identity%s%s%s%s%s%s", k1 ? "." : "", k1 ? SHOW(k1) : "",
		 idx >= 0 ? "[" : "", idx >= 0 ? num : "", idx >= 0 ? "]" : "",
		 k2 ? "." : "");
	if (k2)
		snprintf(key + strlen(key), sizeof(key) - strlen(key), "%s", SHOW(k2));
	if (x->text && jsonpos_find(x->text, x->len, ptr, &pos) >= 0) {
		line = at_key && pos.key_line > 0 ? pos.key_line : pos.line;
		column = at_key && pos.key_line > 0 ? pos.key_column : pos.column;
	}
	return mw_diag_set(x->diag, -EINVAL, x->file, line, column, key, "%s", msg);
}

static bool host_is_loopback(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;
	char buf[64];
	size_t n = strlen(host);

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (n > 2 && n < sizeof(buf) && host[0] == '[' && host[n - 1] == ']') {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		return inet_pton(AF_INET6, buf, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
	}
	return false;
}

/* https, or http to a loopback host; an issuer also has no query or fragment.
 * Returns 0 or -EINVAL with why set. */
static int url_check(const char *url, bool issuer, const char **why)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *query = NULL, *frag = NULL;
	int r = -EINVAL;

	*why = "not an absolute http(s) URL";
	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	if (issuer && (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
		       curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK)) {
		*why = "an issuer has no query or fragment";
		goto out;
	}
	if (strcasecmp(scheme, "https") == 0)
		r = 0;
	else if (strcasecmp(scheme, "http") == 0 && host_is_loopback(host))
		r = 0;
	else if (strcasecmp(scheme, "http") == 0)
		*why = "plain http is allowed only to a loopback host (127.0.0.0/8, ::1, localhost); "
		       "use https";
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(query);
	curl_free(frag);
	curl_url_cleanup(u);
	return r;
}

enum cfg_kind { CFG_TEXT, CFG_ISSUER, CFG_URL, CFG_PATH };

/* A non-empty string without NUL, checked as kind says, copied. */
static int cfg_str(const struct oidc_ctx *x, long idx, const char *k, json_t *v,
		   enum cfg_kind kind, size_t max, char **ret)
{
	const char *s = json_string_value(v), *why;

	if (!s || json_string_length(v) == 0 || strlen(s) != json_string_length(v))
		return cfg_err(x, "oidc", idx, k, false, "expected a non-empty string");
	if (strlen(s) > max)
		return cfg_err(x, "oidc", idx, k, false, "longer than %zu bytes", max);
	if ((kind == CFG_ISSUER || kind == CFG_URL) && url_check(s, kind == CFG_ISSUER, &why) < 0)
		return cfg_err(x, "oidc", idx, k, false, "'%s': %s", SHOW(s), why);
	if (kind == CFG_PATH && s[0] != '/')
		return cfg_err(x, "oidc", idx, k, false, "expected an absolute path, got '%s'",
			       SHOW(s));
	*ret = strdup(s);
	return *ret ? 0 : mw_diag_set(x->diag, -ENOMEM, x->file, 0, 0, NULL, "out of memory");
}

static int cfg_seconds(const struct oidc_ctx *x, long idx, const char *k, json_t *v, uint32_t lo,
		       uint32_t hi, uint32_t *ret)
{
	const char *s = json_string_value(v);
	uint64_t usec;

	if (!s || mw_parse_duration(s, &usec) < 0)
		return cfg_err(x, "oidc", idx, k, false,
			       "expected a duration string like \"30s\" or \"10m\"");
	if (usec / USEC_PER_SEC < lo || usec / USEC_PER_SEC > hi)
		return cfg_err(x, "oidc", idx, k, false, "'%s' is out of range (%us..%us)",
			       SHOW(s), lo, hi);
	*ret = (uint32_t)(usec / USEC_PER_SEC);
	return 0;
}

static int parse_issuer(const struct oidc_ctx *x, long idx, json_t *v, struct oidc_issuer *is)
{
	static const char keys[] = "'issuer', 'audience', 'jwks_uri', 'jwks_file', 'ca_file', "
				   "'groups_claim', 'typ', 'leeway', 'refresh', 'alg'";
	const char *k;
	json_t *e;
	int r = 0;

	if (!json_is_object(v))
		return cfg_err(x, "oidc", idx, NULL, false, "expected an object with 'issuer' and "
			       "'audience'");
	is->pem_alg = -1;
	is->leeway_sec = MW_OIDC_LEEWAY_DEFAULT_SEC;
	is->refresh_sec = MW_OIDC_REFRESH_DEFAULT_SEC;
	json_object_foreach(v, k, e) {
		if (strcmp(k, "issuer") == 0)
			r = cfg_str(x, idx, k, e, CFG_ISSUER, MW_OIDC_MAX_URL, &is->issuer);
		else if (strcmp(k, "audience") == 0)
			r = cfg_str(x, idx, k, e, CFG_TEXT, FIELD_MAX, &is->audience);
		else if (strcmp(k, "jwks_uri") == 0)
			r = cfg_str(x, idx, k, e, CFG_URL, MW_OIDC_MAX_URL, &is->jwks_uri);
		else if (strcmp(k, "jwks_file") == 0)
			r = cfg_str(x, idx, k, e, CFG_PATH, PATH_MAX_CFG, &is->jwks_file);
		else if (strcmp(k, "ca_file") == 0)
			r = cfg_str(x, idx, k, e, CFG_PATH, PATH_MAX_CFG, &is->ca_file);
		else if (strcmp(k, "groups_claim") == 0)
			r = cfg_str(x, idx, k, e, CFG_TEXT, MW_JWT_MAX_CLAIM_PATH,
				    &is->groups_claim);
		else if (strcmp(k, "typ") == 0)
			r = cfg_str(x, idx, k, e, CFG_TEXT, FIELD_MAX, &is->typ);
		else if (strcmp(k, "leeway") == 0)
			r = cfg_seconds(x, idx, k, e, 0, MW_JWT_MAX_LEEWAY_SEC, &is->leeway_sec);
		else if (strcmp(k, "refresh") == 0)
			r = cfg_seconds(x, idx, k, e, MW_OIDC_REFRESH_MIN_SEC,
					MW_OIDC_REFRESH_MAX_SEC, &is->refresh_sec);
		else if (strcmp(k, "alg") == 0) {
			is->pem_alg = json_is_string(e) ? jwt_alg_from_string(json_string_value(e))
							: -1;
			if (is->pem_alg < 0)
				r = cfg_err(x, "oidc", idx, k, false,
					    "expected a JWS algorithm like \"RS256\" or \"ES256\"");
		} else
			r = cfg_err(x, "oidc", idx, k, true, "unknown key '%s' (expected one of %s)",
				    SHOW(k), keys);
		if (r < 0)
			return r;
	}
	if (!is->issuer)
		return cfg_err(x, "oidc", idx, NULL, false, "missing required key 'issuer'");
	if (!is->audience)
		return cfg_err(x, "oidc", idx, NULL, false, "missing required key 'audience'");
	if (is->jwks_uri && is->jwks_file)
		return cfg_err(x, "oidc", idx, "jwks_file", true,
			       "'jwks_uri' and 'jwks_file' exclude each other");
	if (is->ca_file && is->jwks_file)
		return cfg_err(x, "oidc", idx, "ca_file", true,
			       "'ca_file' is for fetching; this issuer reads 'jwks_file'");
	if (is->pem_alg >= 0 && !is->jwks_file)
		return cfg_err(x, "oidc", idx, "alg", true, "'alg' applies to a PEM 'jwks_file' only");
	if (!is->groups_claim && !(is->groups_claim = strdup(MW_OIDC_GROUPS_CLAIM_DEFAULT)))
		return mw_diag_set(x->diag, -ENOMEM, x->file, 0, 0, NULL, "out of memory");
	return 0;
}

static int parse_identity(const struct oidc_ctx *x, json_t *identity, struct mw_oidc *o)
{
	const char *k;
	json_t *e, *a;
	size_t i;
	int r;

	if (!json_is_object(identity))
		return cfg_err(x, NULL, -1, NULL, false, "expected an object");
	json_object_foreach(identity, k, e) {
		if (strcmp(k, "require_token") == 0) {
			if (!json_is_boolean(e))
				return cfg_err(x, k, -1, NULL, false, "expected true or false");
			o->require_token = json_is_true(e);
		} else if (strcmp(k, "oidc") != 0) {
			return cfg_err(x, k, -1, NULL, true,
				       "unknown key '%s' (expected one of 'require_token', 'oidc')",
				       SHOW(k));
		}
	}
	a = json_object_get(identity, "oidc");
	if (a && !json_is_array(a))
		return cfg_err(x, "oidc", -1, NULL, false, "expected an array of issuers");
	if (a && json_array_size(a) > MW_OIDC_MAX_ISSUERS)
		return cfg_err(x, "oidc", -1, NULL, false, "at most %d issuers",
			       MW_OIDC_MAX_ISSUERS);
	json_array_foreach(a, i, e) {
		r = parse_issuer(x, (long)i, e, &o->iss[i]);
		o->n = i + 1; /* so that oidc_free() frees what was parsed */
		if (r < 0)
			return r;
		for (size_t j = 0; j < i; j++)
			if (strcmp(o->iss[j].issuer, o->iss[i].issuer) == 0)
				return cfg_err(x, "oidc", (long)i, "issuer", false,
					       "issuer '%s' is already configured at oidc[%zu]",
					       SHOW(o->iss[i].issuer), j);
	}
	if (o->require_token && o->n == 0)
		return cfg_err(x, "require_token", -1, NULL, false,
			       "require_token needs at least one issuer under 'oidc'");
	return 0;
}

int oidc_from_json(json_t *identity, const char *file, const char *text, size_t len,
		   struct mw_oidc **ret_oidc, struct mw_diag *diag)
{
	struct oidc_ctx x = { .file = file, .text = text, .len = len, .diag = diag };
	struct mw_oidc *o;
	int r;

	if (!ret_oidc)
		return mw_diag_set(diag, -EINVAL, file, 0, 0, NULL, "invalid arguments");
	o = calloc(1, sizeof(*o));
	if (o)
		o->cache = calloc(MW_OIDC_TOKEN_CACHE_MAX, sizeof(*o->cache));
	if (!o || !o->cache) {
		free(o);
		return mw_diag_set(diag, -ENOMEM, file, 0, 0, NULL, "out of memory");
	}
	pthread_mutex_init(&o->lock, NULL);
	o->clock = mw_now_mono_usec;
	if (identity) {
		r = parse_identity(&x, identity, o);
		if (r < 0) {
			oidc_free(o);
			return r;
		}
	}
	*ret_oidc = o;
	return 0;
}

/* --- key sets and the token cache (callers hold the lock) --------------------------------- */

/* Drop one reference; returns the key set to free (outside the lock) when it was the last. */
static struct oidc_keys *keys_unref_locked(struct oidc_keys *k)
{
	if (!k || --k->refs > 0)
		return NULL;
	return k;
}

static void keys_free(struct oidc_keys *k)
{
	if (!k)
		return;
	jwks_free(k->jwks);
	free(k);
}

static void cache_clear_slot(struct cache_entry *e, size_t *n)
{
	if (!e->claims)
		return;
	jwt_claims_free(e->claims);
	explicit_bzero(e, sizeof(*e));
	(*n)--;
}

static size_t cache_slot(const unsigned char *md, unsigned k)
{
	uint32_t h;

	memcpy(&h, md, sizeof(h));
	return (h + k) & (MW_OIDC_TOKEN_CACHE_MAX - 1);
}

static bool cache_live(const struct mw_oidc *o, const struct cache_entry *e, uint64_t now)
{
	return e->claims && now < e->exp && e->issuer < o->n && e->gen == o->iss[e->issuer].gen;
}

static struct cache_entry *cache_find_locked(struct mw_oidc *o, const unsigned char *md,
					     uint64_t now)
{
	for (unsigned k = 0; k < CACHE_PROBE; k++) {
		struct cache_entry *e = &o->cache[cache_slot(md, k)];

		if (!e->claims || memcmp(e->md, md, sizeof(e->md)) != 0)
			continue;
		if (cache_live(o, e, now))
			return e;
		cache_clear_slot(e, &o->cache_n);
	}
	return NULL;
}

/* Takes claims; the entry closest to its expiry makes room when the probe window is full. */
static void cache_insert_locked(struct mw_oidc *o, const unsigned char *md, unsigned issuer,
				unsigned gen, struct mw_jwt_claims *claims, uint64_t now)
{
	struct cache_entry *victim = NULL;

	for (unsigned k = 0; k < CACHE_PROBE; k++) {
		struct cache_entry *e = &o->cache[cache_slot(md, k)];

		if (e->claims && (!cache_live(o, e, now) || memcmp(e->md, md, 32) == 0))
			cache_clear_slot(e, &o->cache_n);
		if (!e->claims) {
			victim = e;
			break;
		}
		if (!victim || e->exp < victim->exp)
			victim = e;
	}
	if (victim->claims)
		o->evictions++;
	cache_clear_slot(victim, &o->cache_n);
	memcpy(victim->md, md, sizeof(victim->md));
	victim->exp = claims->exp;
	victim->issuer = issuer;
	victim->gen = gen;
	victim->claims = claims;
	o->cache_n++;
}

static struct mw_jwt_claims *claims_dup(const struct mw_jwt_claims *c)
{
	struct mw_jwt_claims *d = malloc(sizeof(*d));

	if (!d)
		return NULL;
	memcpy(d, c, sizeof(*d));
	d->groups = NULL;
	d->n_groups = 0;
	d->payload = c->payload ? json_deep_copy(c->payload) : NULL;
	if (c->payload && !d->payload)
		return jwt_claims_free(d);
	if (c->n_groups == 0)
		return d;
	d->groups = calloc(c->n_groups, sizeof(*d->groups));
	if (!d->groups)
		return jwt_claims_free(d);
	for (; d->n_groups < c->n_groups; d->n_groups++) {
		d->groups[d->n_groups] = strdup(c->groups[d->n_groups]);
		if (!d->groups[d->n_groups])
			return jwt_claims_free(d);
	}
	return d;
}

void oidc_cache_stats(struct mw_oidc *o, struct mw_oidc_cache_stats *ret_stats)
{
	pthread_mutex_lock(&o->lock);
	*ret_stats = (struct mw_oidc_cache_stats){ o->cache_n, o->hits, o->misses, o->evictions };
	pthread_mutex_unlock(&o->lock);
}

struct mw_oidc *oidc_free(struct mw_oidc *o)
{
	if (!o)
		return NULL;
	for (size_t i = 0; i < MW_OIDC_TOKEN_CACHE_MAX; i++)
		cache_clear_slot(&o->cache[i], &o->cache_n);
	free(o->cache);
	for (size_t i = 0; i < o->n; i++) {
		struct oidc_issuer *is = &o->iss[i];

		keys_free(keys_unref_locked(is->keys));
		free(is->issuer);
		free(is->audience);
		free(is->jwks_uri);
		free(is->jwks_file);
		free(is->ca_file);
		free(is->groups_claim);
		free(is->typ);
	}
	pthread_mutex_destroy(&o->lock);
	free(o);
	return NULL;
}

bool oidc_require_token(const struct mw_oidc *o)
{
	return o && o->require_token;
}

size_t oidc_n_issuers(const struct mw_oidc *o)
{
	return o ? o->n : 0;
}

void oidc_set_clock(struct mw_oidc *o, uint64_t (*now_mono_usec)(void))
{
	o->clock = now_mono_usec ? now_mono_usec : mw_now_mono_usec;
}

int oidc_get_status(struct mw_oidc *o, size_t i, struct mw_oidc_status *ret_status)
{
	struct oidc_issuer *is;

	if (!o || !ret_status || i >= o->n)
		return -ERANGE;
	is = &o->iss[i];
	pthread_mutex_lock(&o->lock);
	memset(ret_status, 0, sizeof(*ret_status));
	ret_status->issuer = is->issuer;
	ret_status->have_keys = is->keys != NULL;
	if (is->keys)
		jwks_get_info(is->keys->jwks, &ret_status->info);
	ret_status->fetched_usec = is->fetched;
	ret_status->next_due_usec = is->next_due;
	ret_status->max_age_sec = is->max_age;
	ret_status->failures = is->failures;
	snprintf(ret_status->last_error, sizeof(ret_status->last_error), "%s", is->last_error);
	pthread_mutex_unlock(&o->lock);
	return 0;
}

/* --- fetching ----------------------------------------------------------------------------- */

uint32_t oidc_parse_max_age(const char *cc)
{
	unsigned long long v = 0;
	uint32_t max_age = 0;

	for (const char *p = cc; p && *p; p += strcspn(p, ",")) {
		size_t n;
		int end = 0;

		p += strspn(p, " \t,");
		n = strcspn(p, ", \t");
		if (n == 8 && (strncasecmp(p, "no-store", 8) == 0 || strncasecmp(p, "no-cache", 8) == 0))
			return 0;
		if (n <= 8 || strncasecmp(p, "max-age=", 8) != 0)
			continue;
		if (p[8] < '0' || p[8] > '9' || sscanf(p + 8, "%llu%n", &v, &end) != 1 ||
		    (size_t)end != n - 8)
			return 0; /* malformed: ignore the header */
		max_age = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
	}
	return max_age;
}

struct fetch {
	char *buf;
	size_t len, max;
	bool too_big;
	uint32_t max_age;
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct fetch *f = arg;
	size_t n = size * nmemb;
	char *nb;

	if (n > f->max - f->len) {
		f->too_big = true;
		return 0;
	}
	nb = realloc(f->buf, f->len + n + 1);
	if (!nb)
		return 0;
	f->buf = nb;
	memcpy(f->buf + f->len, p, n);
	f->len += n;
	f->buf[f->len] = '\0';
	return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct fetch *f = arg;
	size_t n = size * nmemb;
	char line[512];

	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0)
		f->max_age = 0; /* a new response (after a redirect or 100) */
	else if (n > 14 && n < sizeof(line) && strncasecmp(p, "cache-control:", 14) == 0) {
		memcpy(line, p + 14, n - 14);
		line[n - 14] = '\0';
		line[strcspn(line, "\r\n")] = '\0';
		f->max_age = oidc_parse_max_age(line);
	}
	return n;
}

/* Same scheme, host and port? */
static bool same_origin(const char *a, const char *b)
{
	static const CURLUPart parts[] = { CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT };
	CURLU *ua = curl_url(), *ub = curl_url();
	bool same = ua && ub && curl_url_set(ua, CURLUPART_URL, a, 0) == CURLUE_OK &&
		    curl_url_set(ub, CURLUPART_URL, b, 0) == CURLUE_OK;

	for (size_t i = 0; same && i < ARRAY_SIZE(parts); i++) {
		char *x = NULL, *y = NULL;

		same = curl_url_get(ua, parts[i], &x, CURLU_DEFAULT_PORT) == CURLUE_OK &&
		       curl_url_get(ub, parts[i], &y, CURLU_DEFAULT_PORT) == CURLUE_OK &&
		       strcasecmp(x, y) == 0;
		curl_free(x);
		curl_free(y);
	}
	curl_url_cleanup(ua);
	curl_url_cleanup(ub);
	return same;
}

static int curl_errno(CURLcode c)
{
	if (c == CURLE_OPERATION_TIMEDOUT)
		return -ETIMEDOUT;
	if (c == CURLE_COULDNT_RESOLVE_HOST || c == CURLE_COULDNT_CONNECT)
		return -ECONNREFUSED;
	if (c == CURLE_PEER_FAILED_VERIFICATION || c == CURLE_SSL_CONNECT_ERROR ||
	    c == CURLE_SSL_CACERT_BADFILE)
		return -EPROTO;
	return c == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* GET url (following same-origin redirects only) into a new NUL-terminated buffer. */
static int http_get(const struct oidc_issuer *is, const char *url, size_t max, char **ret_body,
		    size_t *ret_len, uint32_t *ret_max_age, char *err, size_t errlen)
{
	char cur[MW_OIDC_MAX_URL + 1], cerr[CURL_ERROR_SIZE];
	struct fetch f = { .max = max };
	CURL *c;
	int r = 0;

	pthread_once(&curl_once, curl_init_once);
	if (strlen(url) > MW_OIDC_MAX_URL)
		return fail(err, errlen, -ENAMETOOLONG, "URL longer than %d bytes", MW_OIDC_MAX_URL);
	snprintf(cur, sizeof(cur), "%s", url);
	c = curl_easy_init();
	if (!c)
		return fail(err, errlen, -ENOMEM, "cannot create a curl handle");
	for (unsigned hops = 0;; hops++) {
		const char *why;
		char *loc = NULL;
		long status = 0;
		CURLcode cc;

		if (url_check(cur, false, &why) < 0) {
			r = fail(err, errlen, -EPERM, "GET '%s' refused: %s", SHOW(cur), why);
			break;
		}
		wipe_free(f.buf, f.len);
		f.buf = NULL;
		f.len = 0;
		f.too_big = false;
		f.max_age = 0;
		cerr[0] = '\0';
		curl_easy_reset(c);
		curl_easy_setopt(c, CURLOPT_URL, cur);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_PROXY, ""); /* no proxy from the environment */
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)MW_OIDC_CONNECT_TIMEOUT_MS);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)MW_OIDC_TIMEOUT_MS);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
		if (is->ca_file)
			curl_easy_setopt(c, CURLOPT_CAINFO, is->ca_file);
		curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, &f);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
		curl_easy_setopt(c, CURLOPT_USERAGENT, "mcpwarden");
		cc = curl_easy_perform(c);
		if (f.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
			r = fail(err, errlen, -EFBIG, "GET '%s': response larger than %zu bytes",
				 SHOW(cur), max);
			break;
		}
		if (cc != CURLE_OK) {
			r = fail(err, errlen, curl_errno(cc), "GET '%s': %s%s%s", SHOW(cur),
				 curl_easy_strerror(cc), cerr[0] ? ": " : "", cerr);
			break;
		}
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 300 && status < 400 &&
		    curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc) {
			if (hops >= MW_OIDC_MAX_REDIRECTS) {
				r = fail(err, errlen, -ELOOP, "GET '%s': more than %d redirects",
					 SHOW(url), MW_OIDC_MAX_REDIRECTS);
				break;
			}
			if (strlen(loc) > MW_OIDC_MAX_URL || !same_origin(cur, loc)) {
				r = fail(err, errlen, -EPERM,
					 "GET '%s': redirect to another host refused", SHOW(cur));
				break;
			}
			snprintf(cur, sizeof(cur), "%s", loc);
			continue;
		}
		if (status != 200)
			r = fail(err, errlen, -EIO, "GET '%s': HTTP status %ld", SHOW(cur), status);
		break;
	}
	curl_easy_cleanup(c);
	if (r < 0) {
		wipe_free(f.buf, f.len);
		return r;
	}
	if (!f.buf && !(f.buf = calloc(1, 1)))
		return fail(err, errlen, -ENOMEM, "out of memory");
	*ret_body = f.buf;
	*ret_len = f.len;
	*ret_max_age = f.max_age;
	return 0;
}

/* Discovery: the JWKS URL, after checking the document names exactly our issuer. */
static int discover(const struct oidc_issuer *is, char **ret_jwks_uri, char *err, size_t errlen)
{
	size_t n = strlen(is->issuer), len;
	char url[MW_OIDC_MAX_URL + sizeof(DISCOVERY_SUFFIX)], *body = NULL;
	const char *why, *iss, *uri;
	uint32_t max_age;
	json_t *doc;
	int r;

	if (n > 0 && is->issuer[n - 1] == '/') /* OIDC Discovery 1.0, 4 */
		n--;
	snprintf(url, sizeof(url), "%.*s%s", (int)n, is->issuer, DISCOVERY_SUFFIX);
	r = http_get(is, url, MW_OIDC_DISCOVERY_MAX_BYTES, &body, &len, &max_age, err, errlen);
	if (r < 0)
		return r;
	doc = mw_json_check_depth(body, len, MW_JWT_MAX_JSON_DEPTH) < 0
		      ? NULL
		      : json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	free(body);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return fail(err, errlen, -EBADMSG, "discovery '%s': not a JSON object",
			    SHOW(url));
	}
	iss = json_string_value(json_object_get(doc, "issuer"));
	uri = json_string_value(json_object_get(doc, "jwks_uri"));
	if (!iss || strcmp(iss, is->issuer) != 0)
		r = fail(err, errlen, -EACCES, "discovery names issuer '%s', not the configured one",
			 iss ? SHOW(iss) : "");
	else if (!uri || strlen(uri) > MW_OIDC_MAX_URL)
		r = fail(err, errlen, -EBADMSG, "discovery has no usable 'jwks_uri'");
	else if (url_check(uri, false, &why) < 0)
		r = fail(err, errlen, -EPERM, "discovery's jwks_uri '%s': %s", SHOW(uri), why);
	else if (!(*ret_jwks_uri = strdup(uri)))
		r = fail(err, errlen, -ENOMEM, "out of memory");
	json_decref(doc);
	return r;
}

static int read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len, char *err,
		     size_t errlen)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	char *buf;
	size_t len = 0;

	if (fd < 0)
		return fail(err, errlen, -errno, "cannot open '%s': %s", SHOW(path),
			    strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return fail(err, errlen, -EINVAL, "'%s' is not a regular file", SHOW(path));
	if ((uint64_t)st.st_size > max)
		return fail(err, errlen, -EFBIG, "'%s' is larger than %zu bytes", SHOW(path), max);
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return fail(err, errlen, -ENOMEM, "out of memory");
	while (len < (size_t)st.st_size) {
		ssize_t k = read(fd, buf + len, (size_t)st.st_size - len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			wipe_free(buf, (size_t)st.st_size + 1);
			return fail(err, errlen, k < 0 ? -errno : -EIO, "cannot read '%s'",
				    SHOW(path));
		}
		len += (size_t)k;
	}
	buf[len] = '\0';
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

/* A local JWKS document or one PEM public key. */
static int load_file(const struct oidc_issuer *is, char *buf, size_t len, struct mw_jwks **ret,
		     char *err, size_t errlen)
{
	static const enum mw_jwt_alg try[] = { MW_JWT_RS256, MW_JWT_ES256, MW_JWT_ES384,
					       MW_JWT_EDDSA };
	size_t skip = strspn(buf, " \t\r\n");

	if (buf[skip] == '{')
		return jwks_parse(buf, len, NULL, ret, err, errlen);
	if (!strstr(buf, "-----BEGIN PUBLIC KEY-----"))
		return fail(err, errlen, -EBADMSG,
			    "'%s' is neither a JWKS document nor a PEM public key",
			    SHOW(is->jwks_file));
	if (is->pem_alg >= 0)
		return jwks_parse_pem(buf, len, (enum mw_jwt_alg)is->pem_alg, NULL, ret, err,
				      errlen);
	for (size_t i = 0; i < ARRAY_SIZE(try); i++)
		if (jwks_parse_pem(buf, len, try[i], NULL, ret, NULL, 0) == 0)
			return 0;
	return fail(err, errlen, -EBADMSG, "'%s': no usable PEM public key (set 'alg'?)",
		    SHOW(is->jwks_file));
}

/* The network or file part of a refresh; no lock held. */
static int fetch_keys(const struct oidc_issuer *is, struct mw_jwks **ret_jwks,
		      unsigned char md[32], uint32_t *ret_max_age, char *err, size_t errlen)
{
	_cleanup_free_ char *uri = NULL;
	char *body = NULL, e[200] = "";
	size_t len = 0;
	int r;

	*ret_max_age = 0;
	if (is->jwks_file) {
		r = read_file(is->jwks_file, MW_JWKS_MAX_BYTES, &body, &len, err, errlen);
	} else {
		if (!is->jwks_uri) {
			r = discover(is, &uri, err, errlen);
			if (r < 0)
				return r;
		}
		r = http_get(is, is->jwks_uri ? is->jwks_uri : uri, MW_JWKS_MAX_BYTES, &body,
			     &len, ret_max_age, err, errlen);
	}
	if (r < 0)
		return r;
	if (EVP_Digest(body, len, md, NULL, EVP_sha256(), NULL) != 1)
		memset(md, 0xff, 32); /* counts as changed */
	if (is->jwks_file)
		r = load_file(is, body, len, ret_jwks, e, sizeof(e));
	else
		r = jwks_parse(body, len, NULL, ret_jwks, e, sizeof(e));
	wipe_free(body, len);
	if (r < 0)
		return fail(err, errlen, r, "JWKS from '%s': %s",
			    SHOW(is->jwks_file ? is->jwks_file : is->jwks_uri ? is->jwks_uri : uri),
			    e);
	return 0;
}

/* --- refresh policy ----------------------------------------------------------------------- */

static uint64_t interval_usec(const struct oidc_issuer *is)
{
	uint32_t sec = is->refresh_sec;

	if (is->max_age > 0) {
		uint32_t m = is->max_age < MW_OIDC_MAX_AGE_MIN_SEC ? MW_OIDC_MAX_AGE_MIN_SEC
								   : is->max_age;
		if (m < sec)
			sec = m;
	}
	return (uint64_t)sec * USEC_PER_SEC;
}

int oidc_refresh(struct mw_oidc *o, size_t i, char *err, size_t errlen)
{
	struct oidc_issuer *is;
	struct oidc_keys *nk = NULL, *old = NULL;
	struct mw_jwks *jwks = NULL;
	unsigned char md[32];
	uint32_t max_age = 0;
	char e[256] = "";
	uint64_t now;
	bool kept;
	int r;

	if (!o || i >= o->n)
		return fail(err, errlen, -ERANGE, "no issuer #%zu", i);
	is = &o->iss[i];
	pthread_mutex_lock(&o->lock);
	if (is->busy) {
		pthread_mutex_unlock(&o->lock);
		return fail(err, errlen, -EBUSY, "issuer '%s': a refresh is already running",
			    SHOW(is->issuer));
	}
	is->busy = true;
	is->attempted = true;
	is->kid_miss = false;
	is->last_attempt = o->clock();
	pthread_mutex_unlock(&o->lock);

	r = fetch_keys(is, &jwks, md, &max_age, e, sizeof(e));
	if (r == 0 && !(nk = calloc(1, sizeof(*nk)))) {
		jwks_free(jwks);
		r = fail(e, sizeof(e), -ENOMEM, "out of memory");
	}

	pthread_mutex_lock(&o->lock);
	now = o->clock();
	is->busy = false;
	if (r == 0) {
		nk->jwks = jwks;
		nk->refs = 1;
		old = keys_unref_locked(is->keys);
		is->keys = nk;
		if (memcmp(md, is->jwks_md, sizeof(md)) != 0)
			is->gen++; /* the key set changed: cached tokens must be verified again */
		memcpy(is->jwks_md, md, sizeof(md));
		is->fetched = now;
		is->max_age = max_age;
		is->failures = 0;
		is->last_error[0] = '\0';
		is->next_due = now + interval_usec(is);
	} else {
		uint64_t backoff = (uint64_t)MW_OIDC_RETRY_MIN_SEC * USEC_PER_SEC
				   << (is->failures < 10 ? is->failures : 10);

		is->failures++;
		if (backoff > (uint64_t)is->refresh_sec * USEC_PER_SEC)
			backoff = (uint64_t)is->refresh_sec * USEC_PER_SEC;
		is->next_due = now + backoff;
		snprintf(is->last_error, sizeof(is->last_error), "%s", e);
	}
	kept = is->keys != NULL;
	pthread_mutex_unlock(&o->lock);
	keys_free(old);
	if (r < 0)
		return fail(err, errlen, r, "issuer '%s': %s%s", SHOW(is->issuer), e,
			    kept ? " (keeping the previous keys)" : "");
	return 0;
}

/* Callers hold the lock. */
static uint64_t due_at_locked(const struct oidc_issuer *is)
{
	uint64_t t = is->next_due;

	if (is->kid_miss) {
		uint64_t k = is->attempted ? is->last_attempt + (uint64_t)MW_OIDC_KID_REFRESH_MIN_SEC *
									USEC_PER_SEC
					   : 0;
		if (k < t)
			t = k;
	}
	return t;
}

bool oidc_refresh_due(struct mw_oidc *o, size_t i)
{
	bool due;

	if (!o || i >= o->n)
		return false;
	pthread_mutex_lock(&o->lock);
	due = !o->iss[i].busy && o->clock() >= due_at_locked(&o->iss[i]);
	pthread_mutex_unlock(&o->lock);
	return due;
}

uint64_t oidc_next_due(struct mw_oidc *o)
{
	uint64_t t = UINT64_MAX;

	if (!o)
		return t;
	pthread_mutex_lock(&o->lock);
	for (size_t i = 0; i < o->n; i++) {
		uint64_t d = due_at_locked(&o->iss[i]);

		if (d < t)
			t = d;
	}
	pthread_mutex_unlock(&o->lock);
	return t;
}

/* --- verification ------------------------------------------------------------------------- */

/* Which issuer's keys to try: by the unverified payload's "iss". The signature and every
 * claim are checked by jwt_verify() afterwards; this only picks the expectations. */
static int pick_issuer(const struct mw_oidc *o, const char *token, size_t len, size_t *ret,
		       char *err, size_t errlen)
{
	const char *d1 = memchr(token, '.', len), *d2;
	unsigned char *buf = NULL;
	size_t n = 0;
	json_t *p = NULL;
	const char *iss;
	int r = -EBADMSG;

	if (o->n == 1) {
		*ret = 0;
		return 0;
	}
	d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
	if (!d2 || mw_b64url_decode_alloc(d1 + 1, (size_t)(d2 - d1 - 1), MW_JWT_MAX_TOKEN_BYTES,
					  &buf, &n) < 0)
		return fail(err, errlen, r, "token is not a compact JWS");
	if (mw_json_check_depth((char *)buf, n, MW_JWT_MAX_JSON_DEPTH) == 0)
		p = json_loadb((char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
	wipe_free(buf, n + 1);
	iss = json_string_value(json_object_get(p, "iss"));
	if (!iss) {
		json_decref(p);
		return fail(err, errlen, r, "token payload has no 'iss'");
	}
	r = fail(err, errlen, -EACCES, "no issuer '%s' is configured", SHOW(iss));
	for (size_t i = 0; i < o->n; i++) {
		if (strcmp(iss, o->iss[i].issuer) == 0 &&
		    json_string_length(json_object_get(p, "iss")) == strlen(iss)) {
			*ret = i;
			r = 0;
			if (err && errlen)
				err[0] = '\0';
			break;
		}
	}
	json_decref(p);
	return r;
}

int oidc_verify(struct mw_oidc *o, const char *token, size_t len, uint64_t now_sec,
		struct mw_jwt_claims **ret_claims, char *err, size_t errlen)
{
	struct mw_jwt_claims *c = NULL, *copy = NULL;
	struct oidc_keys *keys, *drop;
	struct mw_jwt_expect x;
	struct oidc_issuer *is;
	struct cache_entry *e;
	unsigned char md[32];
	unsigned gen;
	size_t i = 0;
	int r;

	if (!o || !token || !ret_claims || now_sec == 0)
		return fail(err, errlen, -EINVAL, "invalid arguments");
	if (o->n == 0)
		return fail(err, errlen, -EACCES, "no OIDC issuer is configured");
	if (len == 0 || len > MW_JWT_MAX_TOKEN_BYTES)
		return fail(err, errlen, -EBADMSG, "token size %zu out of range (1..%d)", len,
			    MW_JWT_MAX_TOKEN_BYTES);
	if (EVP_Digest(token, len, md, NULL, EVP_sha256(), NULL) != 1)
		return fail(err, errlen, -ENOMEM, "SHA-256 failed");

	pthread_mutex_lock(&o->lock);
	e = cache_find_locked(o, md, now_sec);
	if (e)
		copy = claims_dup(e->claims);
	*(e ? &o->hits : &o->misses) += 1;
	pthread_mutex_unlock(&o->lock);
	if (e) {
		explicit_bzero(md, sizeof(md));
		if (!copy)
			return fail(err, errlen, -ENOMEM, "out of memory");
		*ret_claims = copy;
		return 0;
	}

	r = pick_issuer(o, token, len, &i, err, errlen);
	if (r < 0)
		return r;
	is = &o->iss[i];
	pthread_mutex_lock(&o->lock);
	keys = is->keys;
	gen = is->gen;
	if (keys)
		keys->refs++;
	else
		is->kid_miss = true;
	pthread_mutex_unlock(&o->lock);
	if (!keys)
		return fail(err, errlen, -ENOKEY, "no keys for issuer '%s' yet",
			    SHOW(is->issuer));

	x = (struct mw_jwt_expect){
		.issuer = is->issuer,
		.audience = is->audience,
		.typ = is->typ,
		.groups_claim = is->groups_claim,
		.leeway_sec = is->leeway_sec,
		.now_sec = now_sec,
	};
	r = jwt_verify(token, len, keys->jwks, &x, &c, err, errlen);
	if (r == 0 && !(copy = claims_dup(c))) {
		c = jwt_claims_free(c);
		r = fail(err, errlen, -ENOMEM, "out of memory");
	}

	pthread_mutex_lock(&o->lock);
	drop = keys_unref_locked(keys);
	if (r == -ENOKEY)
		is->kid_miss = true;
	if (r == 0)
		cache_insert_locked(o, md, (unsigned)i, gen, copy, now_sec);
	pthread_mutex_unlock(&o->lock);
	keys_free(drop);
	explicit_bzero(md, sizeof(md));
	if (r < 0)
		return r;
	*ret_claims = c;
	return 0;
}
