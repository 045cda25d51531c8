/* approval_webhook.h: approval events POSTed to a webhook, off the data path.
 *
 * One thread of its own with a bounded queue (MW_WEBHOOK_QUEUE events; when full the oldest
 * waiting event is dropped and counted): each event is a JSON POST with a Slack-compatible
 * "text" field and the structured fields beside it, retried with exponential backoff
 * (MW_WEBHOOK_RETRIES attempts, from MW_WEBHOOK_BACKOFF_USEC, doubling) on a transport error
 * or a non-2xx status.  Never logs; failures are counted (webhook_stats). */
#pragma once

#include <jansson.h>
#include <stdint.h>

#define MW_WEBHOOK_QUEUE 256
#define MW_WEBHOOK_RETRIES 5
#define MW_WEBHOOK_BACKOFF_USEC 500000ULL
#define MW_WEBHOOK_TIMEOUT_MS 5000L
#define MW_WEBHOOK_STOP_TIMEOUT_MS 1000L /* an attempt while the agent stops */
#define MW_WEBHOOK_FLUSH_ON_STOP 16	  /* events still sent while it stops; the rest dropped */
#define MW_WEBHOOK_URL_MAX 2048

struct mw_webhook;

struct mw_webhook_stats {
	uint64_t sent, failed, dropped, retries;
};

int webhook_start(const char *url, struct mw_webhook **ret);
/* Queue one event (the object is stolen); never blocks on the network. */
void webhook_post(struct mw_webhook *w, json_t *event);
/* Stop: the first MW_WEBHOOK_FLUSH_ON_STOP events still queued get one attempt of at most
 * MW_WEBHOOK_STOP_TIMEOUT_MS each, the rest are dropped, then the thread ends.  Accepts NULL,
 * returns NULL. */
struct mw_webhook *webhook_stop(struct mw_webhook *w);
void webhook_stats(struct mw_webhook *w, struct mw_webhook_stats *ret);
const char *webhook_url(const struct mw_webhook *w);
