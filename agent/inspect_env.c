/* inspect_env.c: what the checkpoint decides with, built from the configuration: the
 * policy (inline, or a file named by "policy") and the OIDC issuers ("identity"). */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "daemon.h"
#include "inspect.h"
#include "log.h"
#include "oidc.h"

/* The raw text again, for line:column in diagnostics (config.c keeps only the tree). */
static char *read_text(const char *path, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size > MW_CONFIG_MAX_BYTES)
		return NULL;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return NULL;
	n = read(fd, buf, (size_t)st.st_size);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	*ret_len = (size_t)n;
	return buf;
}

int daemon_inspect_env_load(const struct mw_config *c, struct mw_inspect_env **ret,
			    struct mw_diag *diag)
{
	_cleanup_free_ char *text = NULL, *ptext = NULL;
	json_t *policy = json_object_get(c->root, "policy");
	json_t *identity = json_object_get(c->root, "identity");
	struct mw_inspect_env *e;
	size_t len = 0, plen = 0;
	int r;

	*ret = NULL;
	if (!policy)
		return 0; /* no policy: no checkpoint (flows are relayed, attributed) */
	if (c->path[0])
		text = read_text(c->path, &len);
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->refs = 1;
	if (json_is_string(policy)) {
		const char *file = json_string_value(policy);
		_cleanup_(json_decrefp) json_t *obj = NULL;
		json_error_t jerr;

		ptext = read_text(file, &plen);
		obj = ptext ? json_loadb(ptext, plen, JSON_REJECT_DUPLICATES, &jerr) : NULL;
		if (!obj) {
			r = mw_diag_set(diag, ptext ? -EINVAL : -ENOENT, file, ptext ? jerr.line : 0,
					ptext ? jerr.column : 0, "policy", "%s",
					ptext ? jerr.text : "cannot read the policy file");
			goto fail;
		}
		r = policy_compile(obj, file, ptext, plen, "", &e->policy, diag);
	} else {
		r = policy_compile(policy, c->path, text, len, "/policy", &e->policy, diag);
	}
	if (r < 0)
		goto fail;
	if (identity) {
		r = oidc_from_json(identity, c->path, text, len, &e->oidc, diag);
		if (r < 0)
			goto fail;
		e->require_token = oidc_require_token(e->oidc);
	}
	*ret = e;
	return 0;
fail:
	inspect_env_unref(e);
	return r;
}

/* Fetch every issuer's keys now (blocking: at start and on reload only). */
void daemon_inspect_env_refresh(struct mw_inspect_env *e)
{
	char err[512];

	if (!e || !e->oidc)
		return;
	for (size_t i = 0; i < oidc_n_issuers(e->oidc); i++)
		if (oidc_refresh(e->oidc, i, err, sizeof(err)) < 0)
			log_error("Identity provider %zu: %s", i, err);
}
