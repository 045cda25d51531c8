/* inspect_env.c: what the checkpoint decides with, built from the configuration: the
 * policy (inline, or a file named by "policy") and the OIDC issuers ("identity"). */
#include <fcntl.h>
#include <pthread.h>
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

/* Key refresh runs on a thread of its own: fetching blocks (seconds, at worst), the relay
 * must not.  It sleeps until an issuer is due, or until a token names an unknown kid. */
struct refresher {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop, kick;
	struct mw_inspect_env *env;
};

static void refresh_due(struct mw_inspect_env *e, bool all)
{
	char err[512];

	for (size_t i = 0; i < oidc_n_issuers(e->oidc); i++)
		if ((all || oidc_refresh_due(e->oidc, i)) &&
		    oidc_refresh(e->oidc, i, err, sizeof(err)) < 0)
			log_error("Identity provider %zu: %s", i, err);
}

static void *refresher_main(void *arg)
{
	struct refresher *rf = arg;

	pthread_mutex_lock(&rf->lock);
	while (!rf->stop) {
		uint64_t due = oidc_next_due(rf->env->oidc), now = mw_now_mono_usec();

		if (!rf->kick && due > now) {
			struct timespec ts;
			uint64_t wait = due - now;

			if (wait > 3600000000ULL)
				wait = 3600000000ULL;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += (time_t)(wait / 1000000ULL);
			ts.tv_nsec += (long)(wait % 1000000ULL) * 1000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&rf->wake, &rf->lock, &ts);
			continue;
		}
		rf->kick = false;
		pthread_mutex_unlock(&rf->lock);
		refresh_due(rf->env, false);
		pthread_mutex_lock(&rf->lock);
	}
	pthread_mutex_unlock(&rf->lock);
	return NULL;
}

static void keys_wanted(struct mw_inspect_env *e)
{
	struct refresher *rf = e->refresher;

	pthread_mutex_lock(&rf->lock);
	rf->kick = true;
	pthread_cond_signal(&rf->wake);
	pthread_mutex_unlock(&rf->lock);
}

/* Fetch every issuer's keys now (blocking), then keep them fresh on the refresher. */
int daemon_inspect_env_start(struct mw_inspect_env *e)
{
	struct refresher *rf;
	pthread_condattr_t ca;

	if (!e || !e->oidc)
		return 0;
	refresh_due(e, true);
	rf = calloc(1, sizeof(*rf));
	if (!rf)
		return -ENOMEM;
	rf->env = e;
	pthread_mutex_init(&rf->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rf->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&rf->thread, NULL, refresher_main, rf) != 0) {
		free(rf);
		return -EAGAIN;
	}
	e->refresher = rf;
	e->keys_wanted = keys_wanted;
	return 0;
}

/* Stop the refresher (before the environment is replaced or freed). */
void daemon_inspect_env_stop(struct mw_inspect_env *e)
{
	struct refresher *rf = e ? e->refresher : NULL;

	if (!rf)
		return;
	pthread_mutex_lock(&rf->lock);
	rf->stop = true;
	pthread_cond_signal(&rf->wake);
	pthread_mutex_unlock(&rf->lock);
	pthread_join(rf->thread, NULL);
	e->keys_wanted = NULL;
	e->refresher = NULL;
	pthread_cond_destroy(&rf->wake);
	pthread_mutex_destroy(&rf->lock);
	free(rf);
}
