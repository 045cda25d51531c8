/* inject_oauth.c: see inject_oauth.h. */
#include "inject_oauth.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "util.h"

struct reply {
	char *data;
	size_t len;
	bool too_big;
};

static size_t on_data(char *p, size_t size, size_t n, void *userdata)
{
	struct reply *r = userdata;
	size_t add = size * n;

	if (r->len + add > MW_OAUTH_REPLY_MAX) {
		r->too_big = true;
		return 0;
	}
	/* the largest reply at once, never grown: realloc would leave unwiped copies of the
	 * token in freed memory */
	if (!r->data) {
		r->data = malloc(MW_OAUTH_REPLY_MAX + 1);
		if (!r->data)
			return 0;
	}
	memcpy(r->data + r->len, p, add);
	r->len += add;
	r->data[r->len] = '\0';
	return add;
}

static void reply_wipe(struct reply *r)
{
	if (r->data)
		explicit_bzero(r->data, r->len);
	free(r->data);
	r->data = NULL;
}

/* v percent-encoded, appended to buf (*len bytes used of size). */
static int form_value(CURL *curl, char *buf, size_t size, size_t *len, const char *v)
{
	char *e = curl_easy_escape(curl, v, 0);
	int n;

	if (!e)
		return -ENOMEM;
	n = snprintf(buf + *len, size - *len, "%s", e);
	explicit_bzero(e, strlen(e));
	curl_free(e);
	if (n < 0 || (size_t)n >= size - *len)
		return -E2BIG;
	*len += (size_t)n;
	return 0;
}

/* "&k=v" (no "&" first), nothing when v is empty. */
static int form_add(CURL *curl, char *form, size_t size, size_t *len, const char *k, const char *v)
{
	int n;

	if (!v || !*v)
		return 0;
	n = snprintf(form + *len, size - *len, "%s%s=", *len ? "&" : "", k);
	if (n < 0 || (size_t)n >= size - *len)
		return -E2BIG;
	*len += (size_t)n;
	return form_value(curl, form, size, len, v);
}

/* client_secret_basic (RFC 6749 2.3.1): id and secret form-encoded, then HTTP Basic; user
 * and pass (MW_OAUTH_FORM_MAX / 2 each) hold them for curl until the request is done. */
static int basic_auth(CURL *curl, const char *id, const char *secret, char *user, char *pass)
{
	size_t ulen = 0, plen = 0;
	int r;

	r = form_value(curl, user, MW_OAUTH_FORM_MAX / 2, &ulen, id);
	if (r == 0)
		r = form_value(curl, pass, MW_OAUTH_FORM_MAX / 2, &plen, secret);
	if (r < 0)
		return r;
	curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	curl_easy_setopt(curl, CURLOPT_USERNAME, user);
	curl_easy_setopt(curl, CURLOPT_PASSWORD, pass);
	return 0;
}

/* The transfer on the refresher's multi handle: oauth_stop() sets *stop and wakes
 * curl_multi_poll(), so a fetch in flight (connecting, or waiting for an IdP that does not
 * answer) is given up at once instead of after MW_OAUTH_TIMEOUT_SEC. */
static CURLcode perform_stoppable(CURL *curl, CURLM *multi, const atomic_bool *stop)
{
	CURLcode cc = CURLE_ABORTED_BY_CALLBACK;
	CURLMsg *msg;
	int running = 1, left;

	if (curl_multi_add_handle(multi, curl) != CURLM_OK)
		return CURLE_FAILED_INIT;
	while (running && !atomic_load(stop)) {
		if (curl_multi_perform(multi, &running) != CURLM_OK) {
			cc = CURLE_FAILED_INIT;
			break;
		}
		if (running && !atomic_load(stop) &&
		    curl_multi_poll(multi, NULL, 0, MW_OAUTH_POLL_MSEC, NULL) != CURLM_OK) {
			cc = CURLE_FAILED_INIT;
			break;
		}
	}
	while ((msg = curl_multi_info_read(multi, &left)))
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == curl)
			cc = msg->data.result;
	curl_multi_remove_handle(multi, curl);
	return cc;
}

/* oauth_fetch(), on multi (NULL: curl_easy_perform()) and given up once *stop is set. */
static int fetch(struct mw_cred *c, CURLM *multi, const atomic_bool *stop,
		 uint64_t *ret_expires_in, char *err, size_t err_size)
{
	const struct mw_cred_oauth *o = &cred_spec(c)->oauth;
	const char *secret = cred_client_secret(c);
	char form[MW_OAUTH_FORM_MAX], user[MW_OAUTH_FORM_MAX / 2], pass[MW_OAUTH_FORM_MAX / 2];
	struct reply rep = {};
	size_t flen = 0;
	json_t *root = NULL;
	const char *tok, *type;
	uint64_t t0 = mw_now_mono_usec();
	json_int_t expires;
	uint64_t expires_at = 0;
	long status = 0;
	CURL *curl;
	CURLcode cc;
	int r;

	if (!secret)
		return -EINVAL;
	curl = curl_easy_init();
	if (!curl)
		return -ENOMEM;
	r = form_add(curl, form, sizeof(form), &flen, "grant_type", "client_credentials");
	if (r == 0 && o->basic)
		r = basic_auth(curl, o->client_id, secret, user, pass);
	if (r == 0 && !o->basic)
		r = form_add(curl, form, sizeof(form), &flen, "client_id", o->client_id);
	if (r == 0 && !o->basic)
		r = form_add(curl, form, sizeof(form), &flen, "client_secret", secret);
	if (r == 0)
		r = form_add(curl, form, sizeof(form), &flen, "scope", o->scope);
	if (r == 0)
		r = form_add(curl, form, sizeof(form), &flen, "audience", o->audience);
	if (r == 0)
		r = form_add(curl, form, sizeof(form), &flen, "resource", o->resource);
	if (r < 0) {
		explicit_bzero(form, sizeof(form));
		explicit_bzero(pass, sizeof(pass));
		snprintf(err, err_size, "token request too large");
		goto out;
	}
	curl_easy_setopt(curl, CURLOPT_URL, o->token_endpoint);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, form);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)flen);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &rep);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)MW_OAUTH_TIMEOUT_SEC);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	/* straight to the endpoint: no proxy the agent's environment names sees the secret */
	curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
	cc = multi ? perform_stoppable(curl, multi, stop) : curl_easy_perform(curl);
	explicit_bzero(form, sizeof(form));
	explicit_bzero(pass, sizeof(pass));
	if (cc != CURLE_OK) {
		snprintf(err, err_size, "token endpoint '%s': %s", o->token_endpoint,
			 rep.too_big ? "reply too large" : curl_easy_strerror(cc));
		r = -EIO;
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	root = rep.data ? json_loads(rep.data, JSON_REJECT_DUPLICATES, NULL) : NULL;
	if (status != 200) {
		const char *e = json_string_value(json_object_get(root, "error"));

		/* "error" is a registered code (RFC 6749 5.2), not a secret; shown when short */
		snprintf(err, err_size, "token endpoint '%s' answered %ld%s%.40s", o->token_endpoint,
			 status, e ? ": " : "", e ? e : "");
		r = -EACCES;
		goto out;
	}
	tok = json_string_value(json_object_get(root, "access_token"));
	type = json_string_value(json_object_get(root, "token_type"));
	if (!tok || (type && strcasecmp(type, "bearer") != 0)) {
		snprintf(err, err_size, "token endpoint '%s': no bearer access_token in the reply",
			 o->token_endpoint);
		r = -EBADMSG;
		goto out;
	}
	expires = json_integer_value(json_object_get(root, "expires_in"));
	if (!json_is_integer(json_object_get(root, "expires_in")) || expires <= 0 ||
	    expires > MW_OAUTH_LIFETIME_MAX_SEC)
		expires = 0;
	/* the lifetime counts from the request, not the reply: never later than the IdP's; less
	 * a margin */
	if (expires) {
		uint64_t life = (uint64_t)expires * 1000000ULL;
		uint64_t margin = MW_OAUTH_EXPIRY_MARGIN_SEC * 1000000ULL;

		expires_at = t0 + life - (margin < life / 5 ? margin : life / 5);
	}
	r = cred_set_token(c, tok, strlen(tok), expires_at);
	if (r < 0) {
		snprintf(err, err_size, "token endpoint '%s': unusable access_token",
			 o->token_endpoint);
		goto out;
	}
	*ret_expires_in = (uint64_t)expires;
	err[0] = '\0';
out:
	if (root) {
		/* jansson keeps its own copy of the token: wipe it before the free */
		json_t *t = json_object_get(root, "access_token");

		if (json_is_string(t))
			explicit_bzero((char *)json_string_value(t), json_string_length(t));
		json_decref(root);
	}
	reply_wipe(&rep);
	curl_easy_cleanup(curl);
	return r;
}

int oauth_fetch(struct mw_cred *c, uint64_t *ret_expires_in, char *err, size_t err_size)
{
	return fetch(c, NULL, NULL, ret_expires_in, err, err_size);
}

struct mw_oauth {
	struct mw_cred *cred;
	void (*report)(const struct mw_oauth_report *rep, void *userdata);
	void *userdata;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	atomic_bool abort; /* stop, read lock-free by the fetch in flight */
	CURLM *multi;	   /* the fetch's, woken by oauth_stop() */
	char error[MW_OAUTH_ERROR_MAX];
	uint64_t fetches;
};

/* Seconds until the next fetch: MW_OAUTH_REFRESH_MARGIN_SEC before the token ends (half-way
 * through short lifetimes); after a failure MW_OAUTH_RETRY_SEC. */
static uint64_t next_fetch_sec(int r, uint64_t expires)
{
	if (r < 0)
		return MW_OAUTH_RETRY_SEC;
	if (expires == 0)
		return MW_OAUTH_NO_LIFETIME_REFRESH_SEC;
	if (expires > 2 * MW_OAUTH_REFRESH_MARGIN_SEC)
		return expires - MW_OAUTH_REFRESH_MARGIN_SEC;
	return expires / 2 ? expires / 2 : 1;
}

static void *refresher(void *arg)
{
	struct mw_oauth *o = arg;
	unsigned failed = 0;
	bool had_token = false;
	uint64_t valid_until = 0; /* CLOCK_MONOTONIC usec of the held token's end, 0: none */

	pthread_mutex_lock(&o->lock);
	while (!o->stop) {
		char err[MW_OAUTH_ERROR_MAX] = "";
		struct mw_oauth_report rep = { .name = cred_name(o->cred), .error = err };
		uint64_t expires = 0, now;
		struct timespec ts;
		int r;

		pthread_mutex_unlock(&o->lock);
		now = mw_now_mono_usec();
		r = fetch(o->cred, o->multi, &o->abort, &expires, err, sizeof(err));
		if (atomic_load(&o->abort)) {
			pthread_mutex_lock(&o->lock);
			break; /* stopped: whatever the fetch did is no news to the owner */
		}
		rep.r = r;
		rep.expires_in = expires;
		rep.failed_before = failed;
		if (r == 0) {
			valid_until = expires ? now + expires * 1000000ULL : 0;
			failed = 0;
			rep.first_token = !had_token;
			had_token = true;
		} else {
			failed++;
			/* the held token (if any) stays in use until it ends; cred_ready() knows */
			rep.held_expired = valid_until && mw_now_mono_usec() >= valid_until;
			if (rep.held_expired)
				valid_until = 0; /* said once */
		}
		pthread_mutex_lock(&o->lock);
		snprintf(o->error, sizeof(o->error), "%s", r < 0 ? err : "");
		rep.fetches = ++o->fetches;
		if (o->report) {
			pthread_mutex_unlock(&o->lock);
			o->report(&rep, o->userdata);
			pthread_mutex_lock(&o->lock);
		}
		/* monotonic like the token's end: a wall clock step cannot postpone the refresh */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)next_fetch_sec(r, expires);
		while (!o->stop && pthread_cond_timedwait(&o->cond, &o->lock, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&o->lock);
	return NULL;
}

int oauth_start(struct mw_cred *c, void (*report)(const struct mw_oauth_report *rep, void *userdata),
		void *userdata, struct mw_oauth **ret)
{
	pthread_condattr_t ca;
	struct mw_oauth *o;
	int r;

	if (cred_spec(c)->kind != MW_CRED_OAUTH)
		return -EINVAL;
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	atomic_init(&o->abort, false);
	o->cred = c;
	o->report = report;
	o->userdata = userdata;
	o->multi = curl_multi_init();
	if (!o->multi) {
		free(o);
		return -ENOMEM;
	}
	pthread_mutex_init(&o->lock, NULL);
	r = pthread_condattr_init(&ca);
	if (r == 0) {
		r = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		if (r == 0)
			r = pthread_cond_init(&o->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (r) {
		pthread_mutex_destroy(&o->lock);
		curl_multi_cleanup(o->multi);
		free(o);
		return -r;
	}
	r = pthread_create(&o->thread, NULL, refresher, o);
	if (r) {
		pthread_cond_destroy(&o->cond);
		pthread_mutex_destroy(&o->lock);
		curl_multi_cleanup(o->multi);
		free(o);
		return -r;
	}
	*ret = o;
	return 0;
}

struct mw_oauth *oauth_stop(struct mw_oauth *o)
{
	if (!o)
		return NULL;
	atomic_store(&o->abort, true);
	curl_multi_wakeup(o->multi);
	pthread_mutex_lock(&o->lock);
	o->stop = true;
	pthread_cond_signal(&o->cond);
	pthread_mutex_unlock(&o->lock);
	pthread_join(o->thread, NULL);
	curl_multi_cleanup(o->multi);
	pthread_cond_destroy(&o->cond);
	pthread_mutex_destroy(&o->lock);
	free(o);
	return NULL;
}

void oauth_status(struct mw_oauth *o, char *err, size_t err_size, uint64_t *ret_fetches)
{
	pthread_mutex_lock(&o->lock);
	snprintf(err, err_size, "%s", o->error);
	*ret_fetches = o->fetches;
	pthread_mutex_unlock(&o->lock);
}
