/* tls_env.c: see tls_env.h. */
#include "tls_env.h"

#include <stdio.h>

static const char *cred_kind_key(enum mw_cred_kind k)
{
	switch (k) {
	case MW_CRED_VALUE_FILE:
		return "value_file";
	case MW_CRED_BEARER_FILE:
		return "bearer_file";
	case MW_CRED_SYSTEMD:
		return "credential";
	case MW_CRED_OAUTH:
		return "oauth";
	default:
		return "";
	}
}

int tls_env_load(const struct mw_config *c, struct mw_tls_env **ret, struct mw_diag *diag)
{
	struct mw_tls_env *e = calloc(1, sizeof(*e));
	struct mw_upstream_error uerr = {};
	json_t *v = c->root ? json_object_get(c->root, "upstreams") : NULL;
	char dir[4200], key[160];
	int r;

	if (!e)
		return -ENOMEM;
	e->refs = 1;
	if (v) {
		r = upstreams_parse(v, &e->ups, &uerr);
	} else {
		json_t *none = json_array();

		r = none ? upstreams_parse(none, &e->ups, &uerr) : -ENOMEM;
		json_decref(none);
	}
	if (r < 0) {
		snprintf(key, sizeof(key), "upstreams[%zu]%s%s", uerr.index, uerr.key[0] ? "." : "",
			 uerr.key);
		mw_diag_set(diag, r, c->path, 0, 0, key, "%s", uerr.text);
		goto fail;
	}
	e->cred = calloc(e->ups->n ? e->ups->n : 1, sizeof(*e->cred));
	e->oauth = calloc(e->ups->n ? e->ups->n : 1, sizeof(*e->oauth));
	if (!e->cred || !e->oauth) {
		r = -ENOMEM;
		goto fail;
	}
	snprintf(dir, sizeof(dir), "%s/%s", c->state_dir, MW_CA_DIR_NAME);
	for (unsigned i = 0; i < e->ups->n; i++)
		if (e->ups->rules[i].tls == MW_UPSTREAM_TLS_INTERCEPT)
			e->n_intercept++;
	r = ca_load(dir, &e->ca);
	if (r < 0 && r != -ENOENT) {
		mw_diag_set(diag, r, c->path, 0, 0, "upstreams",
			    "cannot load mcpwarden's CA from '%s' (or $CREDENTIALS_DIRECTORY): %s",
			    dir, strerror(-r));
		goto fail;
	}
	if (r == -ENOENT && e->n_intercept) {
		for (unsigned i = 0; i < e->ups->n; i++)
			if (e->ups->rules[i].tls == MW_UPSTREAM_TLS_INTERCEPT) {
				snprintf(key, sizeof(key), "upstreams[%u].tls", i);
				break;
			}
		r = mw_diag_set(diag, -ENOENT, c->path, 0, 0, key,
				"\"intercept\" needs mcpwarden's CA, and there is none in '%s' "
				"(create it with 'mcpwarden ca init')",
				dir);
		goto fail;
	}
	if (e->ca) {
		r = tls_ctx_new(e->ca, &e->ctx);
		if (r < 0) {
			mw_diag_set(diag, r, c->path, 0, 0, "upstreams",
				    "cannot set up TLS interception: %s", strerror(-r));
			goto fail;
		}
	}
	for (unsigned i = 0; i < e->ups->n; i++) {
		const struct mw_cred_spec *s = &e->ups->rules[i].cred;

		if (s->kind == MW_CRED_NONE)
			continue;
		r = cred_load(s, &e->cred[i]);
		if (r < 0) {
			snprintf(key, sizeof(key), "upstreams[%u].credential.%s", i,
				 cred_kind_key(s->kind));
			/* the path or the credential's name, never its content */
			mw_diag_set(diag, r, c->path, 0, 0, key,
				    "cannot load credential '%s' from '%s': %s", s->name,
				    s->kind == MW_CRED_OAUTH ? s->oauth.client_secret_file
							     : s->path,
				    r == -EINVAL ? "empty, or holds CR, LF or NUL" : strerror(-r));
			goto fail;
		}
		e->n_cred++;
	}
	*ret = e;
	return 0;
fail:
	tls_env_unref(e);
	return r;
}

int tls_env_start(struct mw_tls_env *e,
		  void (*report)(const struct mw_oauth_report *rep, void *userdata), void *userdata,
		  struct mw_diag *diag)
{
	if (!e)
		return 0;
	for (unsigned i = 0; i < e->ups->n; i++) {
		int r;

		if (!e->cred[i] || e->ups->rules[i].cred.kind != MW_CRED_OAUTH || e->oauth[i])
			continue;
		r = oauth_start(e->cred[i], report, userdata, &e->oauth[i]);
		if (r < 0)
			return mw_diag_set(diag, r, NULL, 0, 0, "upstreams",
					   "cannot start the token refresher of '%s': %s",
					   cred_name(e->cred[i]), strerror(-r));
	}
	return 0;
}

struct mw_tls_env *tls_env_ref(struct mw_tls_env *e)
{
	if (e)
		e->refs++;
	return e;
}

struct mw_tls_env *tls_env_unref(struct mw_tls_env *e)
{
	if (!e || --e->refs > 0)
		return NULL;
	if (e->ups) {
		for (unsigned i = 0; i < e->ups->n; i++) {
			if (e->oauth)
				oauth_stop(e->oauth[i]);
			if (e->cred)
				cred_free(e->cred[i]);
		}
	}
	free(e->oauth);
	free(e->cred);
	upstreams_free(e->ups);
	tls_ctx_free(e->ctx);
	ca_free(e->ca);
	free(e);
	return NULL;
}

struct mw_cred *tls_env_cred(const struct mw_tls_env *e, const struct mw_upstream *r)
{
	size_t i;

	if (!e || !r)
		return NULL;
	i = (size_t)(r - e->ups->rules);
	return i < e->ups->n ? e->cred[i] : NULL;
}
