/* oidc.c: configured issuers, their key sets' refresh policy, the verified-token cache and
 * verification; getting the key bytes (discovery, JWKS over libcurl, files) is oidc_fetch.c.
 * See oidc.h for the contract. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "jsonpos.h"
#include "jwt.h"
#include "oidc.h"
#include "oidc_internal.h"

#define USEC_PER_SEC 1000000ULL
#define CACHE_PROBE 8	       /* slots searched per lookup/insert */
#define FIELD_MAX 512	       /* audience, typ, ... */
#define PATH_MAX_CFG 4096      /* jwks_file, ca_file */

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
	if ((kind == CFG_ISSUER || kind == CFG_URL) &&
	    oidc_url_check(s, kind == CFG_ISSUER, &why) < 0)
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
		return oidc_fail(err, errlen, -ERANGE, "no issuer #%zu", i);
	is = &o->iss[i];
	pthread_mutex_lock(&o->lock);
	if (is->busy) {
		pthread_mutex_unlock(&o->lock);
		return oidc_fail(err, errlen, -EBUSY, "issuer '%s': a refresh is already running",
				 SHOW(is->issuer));
	}
	is->busy = true;
	is->attempted = true;
	is->kid_miss = false;
	is->last_attempt = o->clock();
	pthread_mutex_unlock(&o->lock);

	r = oidc_fetch_keys(&(struct oidc_source){ .issuer = is->issuer,
						   .jwks_uri = is->jwks_uri,
						   .jwks_file = is->jwks_file,
						   .ca_file = is->ca_file,
						   .pem_alg = is->pem_alg },
			    &jwks, md, &max_age, e, sizeof(e));
	if (r == 0 && !(nk = calloc(1, sizeof(*nk)))) {
		jwks_free(jwks);
		r = oidc_fail(e, sizeof(e), -ENOMEM, "out of memory");
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
		return oidc_fail(err, errlen, r, "issuer '%s': %s%s", SHOW(is->issuer), e,
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

/* Which issuer's keys to try: by the token's unverified "iss". The signature and every claim
 * are checked by jwt_verify() afterwards; this only picks the expectations. */
static int pick_issuer(const struct mw_oidc *o, const char *token, size_t len, size_t *ret,
		       char *err, size_t errlen)
{
	char iss[MW_OIDC_MAX_URL + 1];
	int r;

	if (o->n == 1) {
		*ret = 0;
		return 0;
	}
	r = jwt_peek_issuer(token, len, iss, sizeof(iss));
	if (r == -ENOBUFS) /* longer than any issuer the config accepts */
		return oidc_fail(err, errlen, -EACCES, "no issuer is configured for an iss over %d bytes",
				 MW_OIDC_MAX_URL);
	if (r == -ENOMEM)
		return oidc_fail(err, errlen, r, "out of memory");
	if (r < 0)
		return oidc_fail(err, errlen, r, "token is not a compact JWS with a string 'iss'");
	for (size_t i = 0; i < o->n; i++) {
		if (strcmp(iss, o->iss[i].issuer) == 0) {
			*ret = i;
			return 0;
		}
	}
	return oidc_fail(err, errlen, -EACCES, "no issuer '%s' is configured", SHOW(iss));
}

/* The SHA-256 implementation, fetched once (EVP_sha256() looks it up on every call). */
static EVP_MD *md_sha256; /* kept for the process's life */

static void fetch_sha256(void)
{
	md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, fetch_sha256);
	return md_sha256 ? md_sha256 : EVP_sha256();
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
		return oidc_fail(err, errlen, -EINVAL, "invalid arguments");
	if (o->n == 0)
		return oidc_fail(err, errlen, -EACCES, "no OIDC issuer is configured");
	if (len == 0 || len > MW_JWT_MAX_TOKEN_BYTES)
		return oidc_fail(err, errlen, -EBADMSG, "token size %zu out of range (1..%d)", len,
				 MW_JWT_MAX_TOKEN_BYTES);
	if (EVP_Digest(token, len, md, NULL, sha256(), NULL) != 1)
		return oidc_fail(err, errlen, -ENOMEM, "SHA-256 failed");

	pthread_mutex_lock(&o->lock);
	e = cache_find_locked(o, md, now_sec);
	if (e)
		c = jwt_claims_ref(e->claims); /* shared, read-only: see jwt.h */
	*(e ? &o->hits : &o->misses) += 1;
	pthread_mutex_unlock(&o->lock);
	if (e) {
		explicit_bzero(md, sizeof(md));
		*ret_claims = c;
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
		return oidc_fail(err, errlen, -ENOKEY, "no keys for issuer '%s' yet",
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
	if (r == 0)
		copy = jwt_claims_ref(c); /* the cache's reference */

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
