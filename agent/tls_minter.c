/* tls_minter.c: see tls_minter.h. */
#include "tls_minter.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tls_env.h"

struct mint_job {
	struct mw_tls_env *env; /* a reference, dropped on the loop */
	char name[MW_TLS_SNI_MAX + 1];
	struct mint_job *next;
};

struct mw_tls_minter {
	sd_event_source *src;
	int efd;
	void (*ready)(void *userdata);
	void *userdata;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	/* under lock: waiting, the one being minted, finished (for the loop) */
	struct mint_job *todo, *busy, *done;
	unsigned count;
};

static void *minter_main(void *arg)
{
	struct mw_tls_minter *m = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&m->lock);
	for (;;) {
		struct mint_job *j, **tail;
		X509 *cert = NULL;
		EVP_PKEY *key = NULL;

		while (!m->stop && !m->todo)
			pthread_cond_wait(&m->cond, &m->lock);
		if (m->stop)
			break;
		j = m->todo;
		m->todo = j->next;
		j->next = NULL;
		m->busy = j;
		pthread_mutex_unlock(&m->lock);
		/* the leaf goes into the CA's cache; a failure is met again inline */
		if (ca_mint(j->env->ca, j->name, &cert, &key) == 0) {
			X509_free(cert);
			EVP_PKEY_free(key);
		}
		pthread_mutex_lock(&m->lock);
		m->busy = NULL;
		for (tail = &m->done; *tail; tail = &(*tail)->next)
			;
		*tail = j;
		if (write(m->efd, &one, sizeof(one)) < 0) {
			/* the counter cannot overflow at this rate; nothing to do */
		}
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

static void jobs_free(struct mint_job *j)
{
	while (j) {
		struct mint_job *next = j->next;

		tls_env_unref(j->env);
		free(j);
		j = next;
	}
}

static int minter_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct mw_tls_minter *m = userdata;
	struct mint_job *done;
	unsigned n = 0;
	uint64_t v;

	if (read(m->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return 0;
	pthread_mutex_lock(&m->lock);
	done = m->done;
	m->done = NULL;
	for (struct mint_job *j = done; j; j = j->next)
		n++;
	m->count -= n;
	pthread_mutex_unlock(&m->lock);
	jobs_free(done);
	if (n)
		m->ready(m->userdata);
	return 0;
}

int tls_minter_new(sd_event *event, void (*ready)(void *userdata), void *userdata,
		   struct mw_tls_minter **ret)
{
	struct mw_tls_minter *m = calloc(1, sizeof(*m));
	int r;

	if (!m)
		return -ENOMEM;
	m->ready = ready;
	m->userdata = userdata;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	m->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->efd < 0) {
		r = -errno;
		goto fail;
	}
	r = sd_event_add_io(event, &m->src, m->efd, EPOLLIN, minter_io, m);
	if (r < 0)
		goto fail;
	r = -pthread_create(&m->thread, NULL, minter_main, m);
	if (r < 0)
		goto fail;
	m->started = true;
	*ret = m;
	return 0;
fail:
	tls_minter_free(m);
	return r;
}

struct mw_tls_minter *tls_minter_free(struct mw_tls_minter *m)
{
	if (!m)
		return NULL;
	if (m->started) {
		pthread_mutex_lock(&m->lock);
		m->stop = true;
		pthread_cond_signal(&m->cond);
		pthread_mutex_unlock(&m->lock);
		pthread_join(m->thread, NULL);
	}
	jobs_free(m->todo);
	jobs_free(m->busy);
	jobs_free(m->done);
	sd_event_source_disable_unref(m->src);
	if (m->efd >= 0)
		close(m->efd);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	free(m);
	return NULL;
}

static bool job_is(const struct mint_job *j, const struct mw_tls_env *env, const char *name)
{
	return j && j->env->ca == env->ca && strcmp(j->name, name) == 0;
}

/* under lock */
static bool job_listed(const struct mint_job *list, const struct mw_tls_env *env,
		       const char *name)
{
	for (const struct mint_job *j = list; j; j = j->next)
		if (job_is(j, env, name))
			return true;
	return false;
}

static bool pending_locked(struct mw_tls_minter *m, const struct mw_tls_env *env,
			   const char *name)
{
	return job_is(m->busy, env, name) || job_listed(m->todo, env, name);
}

unsigned tls_minter_jobs(struct mw_tls_minter *m)
{
	unsigned n;

	pthread_mutex_lock(&m->lock);
	n = m->count;
	pthread_mutex_unlock(&m->lock);
	return n;
}

bool tls_minter_pending(struct mw_tls_minter *m, const struct mw_tls_env *env, const char *name)
{
	bool r;

	pthread_mutex_lock(&m->lock);
	r = pending_locked(m, env, name);
	pthread_mutex_unlock(&m->lock);
	return r;
}

int tls_minter_submit(struct mw_tls_minter *m, struct mw_tls_env *env, const char *name)
{
	struct mint_job *j, **tail;

	if (!env->ca)
		return -ENOKEY;
	if (strlen(name) > MW_TLS_SNI_MAX)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	if (pending_locked(m, env, name) || job_listed(m->done, env, name)) {
		pthread_mutex_unlock(&m->lock);
		return 0; /* queued, being minted, or minted and not yet collected by the loop */
	}
	if (m->count >= MW_TLS_MINT_QUEUE_MAX) {
		pthread_mutex_unlock(&m->lock);
		return -EBUSY;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		pthread_mutex_unlock(&m->lock);
		return -ENOMEM;
	}
	j->env = tls_env_ref(env);
	snprintf(j->name, sizeof(j->name), "%s", name);
	for (tail = &m->todo; *tail; tail = &(*tail)->next)
		;
	*tail = j;
	m->count++;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
	return 0;
}
