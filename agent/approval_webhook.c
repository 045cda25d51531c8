/* approval_webhook.c: see approval_webhook.h. */
#include "approval_webhook.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "util.h"

struct mw_webhook {
	char *url;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	json_t *queue[MW_WEBHOOK_QUEUE];
	size_t head, n;
	bool stop;
	struct mw_webhook_stats stats;
};

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
	return size * n;
}

/* One attempt: 0 on a 2xx answer. */
static int post_once(CURL *curl, const char *url, const char *body, long timeout_ms)
{
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	long status = 0;
	CURLcode c;

	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	c = curl_easy_perform(curl);
	curl_slist_free_all(h);
	if (c != CURLE_OK)
		return -EIO;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	return status >= 200 && status < 300 ? 0 : -EPROTO;
}

/* Sleep usec unless stopping; returns true when stopping. */
static bool pause_for(struct mw_webhook *w, uint64_t usec)
{
	struct timespec ts;
	bool stop;

	mw_timespec_in(CLOCK_REALTIME, usec, &ts);
	pthread_mutex_lock(&w->lock);
	if (!w->stop)
		pthread_cond_timedwait(&w->cond, &w->lock, &ts);
	stop = w->stop;
	pthread_mutex_unlock(&w->lock);
	return stop;
}

static void *webhook_main(void *arg)
{
	struct mw_webhook *w = arg;
	CURL *curl = curl_easy_init();
	unsigned flushed = 0;

	for (;;) {
		_cleanup_free_ char *body = NULL;
		uint64_t backoff = MW_WEBHOOK_BACKOFF_USEC;
		json_t *ev;
		bool stopping;
		int r = -EIO;

		pthread_mutex_lock(&w->lock);
		while (!w->n && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (!w->n) {
			pthread_mutex_unlock(&w->lock);
			break;
		}
		ev = w->queue[w->head];
		w->head = (w->head + 1) % MW_WEBHOOK_QUEUE;
		w->n--;
		stopping = w->stop;
		pthread_mutex_unlock(&w->lock);
		body = json_dumps(ev, JSON_COMPACT);
		json_decref(ev);
		if (stopping && ++flushed > MW_WEBHOOK_FLUSH_ON_STOP) {
			__atomic_add_fetch(&w->stats.dropped, 1, __ATOMIC_RELAXED);
			continue;
		}
		for (int i = 0; body && curl && i < MW_WEBHOOK_RETRIES; i++) {
			r = post_once(curl, w->url, body,
				      stopping ? MW_WEBHOOK_STOP_TIMEOUT_MS : MW_WEBHOOK_TIMEOUT_MS);
			if (r == 0 || stopping)
				break;
			__atomic_add_fetch(&w->stats.retries, 1, __ATOMIC_RELAXED);
			stopping = pause_for(w, backoff);
			backoff *= 2;
		}
		__atomic_add_fetch(r == 0 ? &w->stats.sent : &w->stats.failed, 1, __ATOMIC_RELAXED);
	}
	if (curl)
		curl_easy_cleanup(curl);
	return NULL;
}

int webhook_start(const char *url, struct mw_webhook **ret)
{
	struct mw_webhook *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->url = strdup(url);
	if (!w->url) {
		free(w);
		return -ENOMEM;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	r = pthread_create(&w->thread, NULL, webhook_main, w);
	if (r) {
		free(w->url);
		free(w);
		return -r;
	}
	*ret = w;
	return 0;
}

void webhook_post(struct mw_webhook *w, json_t *event)
{
	if (!w || !event) {
		json_decref(event);
		return;
	}
	pthread_mutex_lock(&w->lock);
	if (w->n == MW_WEBHOOK_QUEUE) { /* full: the oldest goes */
		json_decref(w->queue[w->head]);
		w->head = (w->head + 1) % MW_WEBHOOK_QUEUE;
		w->n--;
		w->stats.dropped++;
	}
	w->queue[(w->head + w->n) % MW_WEBHOOK_QUEUE] = event;
	w->n++;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

struct mw_webhook *webhook_stop(struct mw_webhook *w)
{
	if (!w)
		return NULL;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	while (w->n) {
		json_decref(w->queue[w->head]);
		w->head = (w->head + 1) % MW_WEBHOOK_QUEUE;
		w->n--;
	}
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w->url);
	free(w);
	return NULL;
}

void webhook_stats(struct mw_webhook *w, struct mw_webhook_stats *ret)
{
	pthread_mutex_lock(&w->lock);
	*ret = w->stats;
	pthread_mutex_unlock(&w->lock);
}

const char *webhook_url(const struct mw_webhook *w)
{
	return w->url;
}
