/* inspect_env.c: what the checkpoint decides with, built from the configuration: the
 * policy (inline, or a file named by "policy") and the OIDC issuers ("identity"). */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>

#include "daemon.h"
#include "inspect.h"
#include "jsonpos.h"
#include "log.h"
#include "mask.h"
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

int inspect_env_set_masker(struct mw_inspect_env *e, struct mw_masker *m, size_t *ret_rule)
{
	bool named = false;

	e->masker = mask_free(e->masker);
	e->masker = m;
	for (size_t i = 0; i < policy_n_rules(e->policy); i++) {
		const char *name = policy_rule_mask(e->policy, i);

		if (!name)
			continue;
		if (!m || !mask_profile(m, name)) {
			*ret_rule = i;
			return -ENOENT;
		}
		named = true;
	}
	if (!named || e->pairs)
		return 0;
	return inspect_pairs_new(0, &e->pairs);
}

/* The host key for the keyed-hash style.  Read (or created) while the configuration is
 * loaded; kept in memory by path, because a reload runs after the agent dropped its
 * privileges and may no longer open a file it created as root.  Returns 0 with the key,
 * -errno when there is none (a hash style is then refused by mask_from_json(), and the
 * journal's default profile falls back to "full"). */
static struct {
	char path[4096];
	uint8_t key[MW_MASK_KEY_SIZE];
	bool have;
} key_cache;

static int host_key_get(const struct mw_config *c, json_t *masking, uint8_t key[MW_MASK_KEY_SIZE])
{
	const char *file = masking ? mask_key_file(masking) : NULL;
	char path[4096];
	int r;

	snprintf(path, sizeof(path), "%s", file ? file : "");
	if (!file && snprintf(path, sizeof(path), "%s/mask.key", c->state_dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	/* the default place: state_dir, made here as start-up would make it (0750) */
	if (!file && mkdir(c->state_dir, 0750) < 0 && errno != EEXIST)
		return -errno;
	if (key_cache.have && strcmp(key_cache.path, path) == 0) {
		memcpy(key, key_cache.key, MW_MASK_KEY_SIZE);
		return 0;
	}
	r = mask_key_load(path, key);
	if (r < 0)
		return r;
	snprintf(key_cache.path, sizeof(key_cache.path), "%s", path);
	memcpy(key_cache.key, key, MW_MASK_KEY_SIZE);
	key_cache.have = true;
	return 0;
}

int daemon_masker_load(const struct mw_config *c, const char *text, size_t len,
		       struct mw_masker **ret, struct mw_diag *diag)
{
	json_t *masking = json_object_get(c->root, "masking");
	json_t *jmask = json_object_get(json_object_get(c->root, "journal"), "mask");
	_cleanup_free_ char *own = NULL;
	uint8_t key[MW_MASK_KEY_SIZE];
	int r, k;

	if (!text && c->path[0])
		text = own = read_text(c->path, &len);
	k = host_key_get(c, masking, key);
	if (k < 0 && masking && mask_key_file(masking))
		/* a key file named but unusable: say so rather than refuse a later "hash" */
		return mw_diag_set(diag, k, c->path, 0, 0, "masking.key_file",
				   "cannot use the host key '%s': %s", mask_key_file(masking),
				   strerror(-k));
	r = mask_from_json(masking, jmask, c->path, text, len, k < 0 ? NULL : key,
			   k < 0 ? 0 : MW_MASK_KEY_SIZE, ret, diag);
	explicit_bzero(key, sizeof(key));
	return r;
}

/* A rule naming a profile that "masking" does not define: file:line:column of its "mask". */
static int unknown_profile(struct mw_inspect_env *e, const char *file,
			   const char *text, size_t len, bool inline_policy, size_t rule,
			   struct mw_diag *diag)
{
	struct mw_jsonpos pos = {};
	char ptr[128], key[96];

	snprintf(ptr, sizeof(ptr), "%s/rules/%zu/mask", inline_policy ? "/policy" : "", rule);
	snprintf(key, sizeof(key), "%srules[%zu].mask", inline_policy ? "policy." : "", rule);
	if (text)
		jsonpos_find(text, len, ptr, &pos);
	return mw_diag_set(diag, -EINVAL, file, pos.line, pos.column, key,
			   "rule '%s' names the masking profile '%s', which \"masking.profiles\" "
			   "does not define",
			   policy_rule_name(e->policy, rule), policy_rule_mask(e->policy, rule));
}

int daemon_inspect_env_load(const struct mw_config *c, struct mw_inspect_env **ret,
			    struct mw_diag *diag)
{
	struct mw_masker *masker = NULL;
	size_t bad_rule = 0;
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
	r = daemon_masker_load(c, text, len, &masker, diag);
	if (r < 0)
		goto fail;
	r = inspect_env_set_masker(e, masker, &bad_rule);
	if (r == -ENOENT)
		r = json_is_string(policy)
			    ? unknown_profile(e, json_string_value(policy), ptext, plen,
					      false, bad_rule, diag)
			    : unknown_profile(e, c->path, text, len, true, bad_rule, diag);
	if (r < 0)
		goto fail;
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
			mw_timespec_in(CLOCK_MONOTONIC, wait, &ts);
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
