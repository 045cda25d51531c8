/* tls_probe.h: the certificate of a TLS server that a passed flow does not show in clear (TLS
 * 1.3 encrypts it; a resumed TLS 1.2 handshake sends none).  The agent makes its own TLS
 * connection to the same address and port with the flow's SNI and ALPN, reads the server's
 * leaf (subject, SHA-256 fingerprint), records whether it verifies against the system trust
 * store and the SNI (or the IP literal without SNI), sends close_notify and closes; it sends
 * no application data and never refuses anything on the result.
 *
 * Runs on the caller's sd-event loop, non-blocking: at most MW_TLS_PROBE_INFLIGHT_MAX probes
 * at once, each at most MW_TLS_PROBE_TIMEOUT_USEC.  Results are cached per (address, port,
 * SNI): MW_TLS_PROBE_CACHE_MAX entries, least recently used evicted, kept
 * MW_TLS_PROBE_TTL_USEC (failures MW_TLS_PROBE_FAIL_TTL_USEC), so a destination is probed at
 * most once per TTL however many flows go there.  Writes to its sockets with write(): the
 * process ignores SIGPIPE (mcpwardend does).  Never logs. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>

#include "tls_server.h" /* MW_TLS_SUBJECT_MAX, MW_TLS_FINGERPRINT_MAX */

#define MW_TLS_PROBE_TIMEOUT_USEC (3 * 1000000ULL)   /* connect + handshake */
#define MW_TLS_PROBE_TTL_USEC (10 * 60 * 1000000ULL) /* a certificate is reused this long */
#define MW_TLS_PROBE_FAIL_TTL_USEC (60 * 1000000ULL) /* a failed probe is not retried sooner */
#define MW_TLS_PROBE_CACHE_MAX 512
#define MW_TLS_PROBE_INFLIGHT_MAX 16
#define MW_TLS_PROBE_ALPN_MAX 255 /* the ALPN list sent, wire format */
#define MW_TLS_PROBE_TEXT_MAX 96

struct mw_tls_probe_result {
	int error; /* 0: the leaf below; else why there is none (-ETIMEDOUT, -ECONNREFUSED, ..) */
	char why[MW_TLS_PROBE_TEXT_MAX]; /* the failure in words, "" on success */
	char subject[MW_TLS_SUBJECT_MAX];
	char fingerprint[MW_TLS_FINGERPRINT_MAX]; /* "AB:CD:..." SHA-256 of the leaf's DER */
	char verify[MW_TLS_PROBE_TEXT_MAX]; /* "ok", or OpenSSL's reason ("self-signed ...") */
	char version[16];		    /* what the probe negotiated ("TLSv1.3") */
};

struct mw_tls_probe;
struct mw_tls_probe_wait;

int tls_probe_new(sd_event *event, struct mw_tls_probe **ret);
/* Ends running probes; waits still registered are dropped without being called. */
struct mw_tls_probe *tls_probe_free(struct mw_tls_probe *p);

/* The certificate at addr (address and port) for sni ("": none sent), offering alpn (names,
 * comma-separated; "": none).
 *   0            *ret is the cached result (a success or a failure).
 *   -EINPROGRESS a probe runs (started now or by an earlier call); done(userdata, result) is
 *                called once, from the event loop, when it ends, unless *ret_wait is
 *                cancelled first (tls_probe_cancel()).
 *   -EBUSY       MW_TLS_PROBE_INFLIGHT_MAX probes run already: nothing started.
 *   other <0     nothing started (-EAFNOSUPPORT, -ENOMEM, ...). */
int tls_probe_get(struct mw_tls_probe *p, const struct sockaddr_storage *addr, const char *sni,
		  const char *alpn,
		  void (*done)(void *userdata, const struct mw_tls_probe_result *r),
		  void *userdata, struct mw_tls_probe_result *ret,
		  struct mw_tls_probe_wait **ret_wait);
/* The waiter is not called; the probe goes on and its result is cached. */
void tls_probe_cancel(struct mw_tls_probe_wait *w);

/* Probes started since tls_probe_new() (not answered from the cache). */
uint64_t tls_probe_count(const struct mw_tls_probe *p);
