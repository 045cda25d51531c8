/* inspect_pairs.c: which profile masks a response that arrives on another connection than
 * its request (see inspect.h, "Pairing across connections"). */
#include <pthread.h>
#include <stdio.h>

#include "inspect.h"
#include "mcp.h"
#include "util.h"

struct pair_session {
	char key[MW_INSPECT_PAIR_KEY];
	uint64_t hash, used;
	struct mcp_pending *t; /* NULL: free slot */
};

struct mw_inspect_pairs {
	pthread_mutex_t lock;
	size_t max;
	uint64_t clock; /* use counter, for least recently used */
	struct pair_session *s;
};

static uint64_t key_hash(const char *k)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *k; k++)
		h = (h ^ (uint8_t)*k) * 1099511628211ULL;
	return h;
}

int inspect_pairs_new(size_t max_sessions, struct mw_inspect_pairs **ret)
{
	struct mw_inspect_pairs *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->max = max_sessions ? max_sessions : MW_INSPECT_PAIR_SESSIONS;
	t->s = calloc(t->max, sizeof(*t->s));
	if (!t->s) {
		free(t);
		return -ENOMEM;
	}
	pthread_mutex_init(&t->lock, NULL);
	*ret = t;
	return 0;
}

struct mw_inspect_pairs *inspect_pairs_free(struct mw_inspect_pairs *t)
{
	if (!t)
		return NULL;
	for (size_t i = 0; i < t->max; i++)
		mcp_pending_free(t->s[i].t);
	pthread_mutex_destroy(&t->lock);
	free(t->s);
	free(t);
	return NULL;
}

/* The session's table; with create, a new one (evicting the least recently used). */
static struct mcp_pending *session_get(struct mw_inspect_pairs *t, const char *key, bool create)
{
	uint64_t h = key_hash(key);
	struct pair_session *victim = NULL;

	for (size_t i = 0; i < t->max; i++) {
		struct pair_session *p = &t->s[i];

		if (p->t && p->hash == h && strcmp(p->key, key) == 0) {
			p->used = ++t->clock;
			return p->t;
		}
		if (!p->t) { /* a free slot is taken before any used one */
			if (!victim || victim->t)
				victim = p;
		} else if (!victim || (victim->t && p->used < victim->used)) {
			victim = p;
		}
	}
	if (!create || !victim)
		return NULL;
	victim->t = mcp_pending_free(victim->t);
	if (mcp_pending_new(MW_INSPECT_PAIR_PENDING, &victim->t) < 0)
		return NULL;
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	victim->hash = h;
	victim->used = ++t->clock;
	return victim->t;
}

int inspect_pairs_add(struct mw_inspect_pairs *t, const char *key, const struct mcp_message *m,
		      const char *profile)
{
	struct mcp_pending *p;
	int r = -ENOMEM;

	pthread_mutex_lock(&t->lock);
	p = session_get(t, key, true);
	if (p)
		r = mcp_pending_add(p, MCP_FROM_CLIENT, m, (uint64_t)(uintptr_t)profile);
	pthread_mutex_unlock(&t->lock);
	return r < 0 ? r : 0;
}

int inspect_pairs_match(struct mw_inspect_pairs *t, const char *key, const struct mcp_message *m,
			const char **ret_profile)
{
	struct mcp_pair pair;
	struct mcp_pending *p;
	int r = -ENOENT;

	pthread_mutex_lock(&t->lock);
	p = session_get(t, key, false);
	if (p)
		r = mcp_pending_match(p, MCP_FROM_SERVER, m, &pair);
	pthread_mutex_unlock(&t->lock);
	if (r < 0)
		return r == -EINVAL ? -ENOENT : r;
	*ret_profile = (const char *)(uintptr_t)pair.cookie;
	mcp_pair_clear(&pair);
	return 0;
}
