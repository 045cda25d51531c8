/* tls_minter.h: leaves minted off the event loop.  A new name's leaf (ca_mint(): an EC
 * P-256 key generation and a signature, ~0.3 ms) is made by one worker thread into the CA's
 * cache, so the loop relaying every other flow never waits for it; the flow that asked
 * holds its ClientHello meanwhile and is woken through ready() when a mint ends.
 *
 * At most MW_TLS_MINT_QUEUE_MAX names queued or minting (a name asked twice is queued
 * once); each job keeps a reference to the TLS environment whose CA it mints with until
 * the loop has seen it finish.  Everything but the mint itself runs on the loop.  Never
 * logs. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#define MW_TLS_MINT_QUEUE_MAX 64

struct mw_tls_env;
struct mw_tls_minter;

/* ready(userdata) is called on the loop after one or more mints ended (leaves in the cache,
 * or failed: the caller mints inline then and gets the error). */
int tls_minter_new(sd_event *event, void (*ready)(void *userdata), void *userdata,
		   struct mw_tls_minter **ret);
/* Stops the thread (after the mint in progress); queued names are dropped. */
struct mw_tls_minter *tls_minter_free(struct mw_tls_minter *m);

/* Queue name for env's CA: 0 queued (now or already), -EBUSY the queue is full,
 * -ENOKEY env has no CA. */
int tls_minter_submit(struct mw_tls_minter *m, struct mw_tls_env *env, const char *name);
/* Jobs submitted and not yet collected by the loop (queued, being minted or minted). */
unsigned tls_minter_jobs(struct mw_tls_minter *m);
/* Whether name is queued or being minted for env's CA. */
bool tls_minter_pending(struct mw_tls_minter *m, const struct mw_tls_env *env, const char *name);
