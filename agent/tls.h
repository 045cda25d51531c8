/* tls.h: the TLS interception engine for one flow, bytes in and bytes out.
 *
 * Toward the gateway (the "client" leg) it is a TLS server showing a leaf minted by the local
 * CA for the name the gateway asked for (SNI, else the destination's IP literal), chained to
 * the CA, offering only the ALPN the checkpoint reads (http/1.1), TLS 1.2..1.3, with session
 * tickets.  Toward the real destination (the "upstream" leg) it is a TLS client with full
 * verification: the system trust store or the upstream's ca_file, SNI, the host name checked
 * against the certificate, and an optional SHA-256 pin on a public key of the verified chain;
 * sessions are cached per name:port (several TLS 1.3 tickets each, one per flow) and resumed.
 * Both legs run on memory BIOs: the relay hands in ciphertext read from a socket and gets back
 * the ciphertext to write and the plaintext for the checkpoint, as agent/inspect.h does with
 * plaintext.
 *
 * Plaintext handed to a leg before its handshake is complete is held and sent once it is.  A
 * failed upstream verification fails the upstream leg for good (its functions return -EPROTO)
 * with the OpenSSL reason as text ("certificate has expired", "hostname mismatch", "unable to
 * get local issuer certificate", "public key pin mismatch"); the gateway's leg keeps working,
 * so the relay can answer it (a 502 naming the reason) before closing.  Nothing secret is ever
 * in that text.  No I/O, no logging. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inspect.h" /* struct mw_bytes */

struct mw_ca;

#define MW_TLS_ALPN_INSPECTED "http/1.1"
#define MW_TLS_SESSION_CACHE_MAX 1024 /* upstreams (name:port) whose sessions are kept */
#define MW_TLS_SESSION_TICKETS_MAX 8  /* sessions (TLS 1.3 tickets) kept per upstream */
#define MW_TLS_CLIENT_CTX_MAX 64      /* distinct upstream trust settings (ca_file) */
#define MW_TLS_PIN_LEN 32	      /* SHA-256 of a DER SubjectPublicKeyInfo */
#define MW_TLS_ERROR_MAX 256
#define MW_TLS_NAME_MAX 255 /* a DNS name or an IP literal */
#define MW_TLS_PENDING_MAX (8u * 1024 * 1024 + 64 * 1024) /* plaintext held before a handshake */

/* Shared by every flow: the server context with the CA, the client contexts, the session
 * cache.  Thread-safe. */
struct mw_tls_ctx;

int tls_ctx_new(struct mw_ca *ca, struct mw_tls_ctx **ret_ctx);
struct mw_tls_ctx *tls_ctx_free(struct mw_tls_ctx *ctx);

/* How the upstream leg verifies. */
struct mw_tls_verify {
	const char *ca_file;	 /* PEM bundle; NULL: the system trust store */
	bool has_pin;
	uint8_t pin[MW_TLS_PIN_LEN]; /* SHA-256 of a SubjectPublicKeyInfo in the chain */
};

struct mw_tls;

/* name: the SNI the gateway sent, or the destination's IP literal when it sent none; the leaf
 * is minted for it and the upstream is checked against it.  port keys session resumption.
 * verify may be NULL (system trust store, no pin). */
int tls_intercept_new(struct mw_tls_ctx *ctx, const char *name, uint16_t port,
		      const struct mw_tls_verify *verify, struct mw_tls **ret);
struct mw_tls *tls_free(struct mw_tls *t);
static inline void tls_freep(struct mw_tls **t)
{
	tls_free(*t);
}

/* Start the upstream handshake: its ClientHello is appended to to_upstream.  Call once, as
 * soon as the engine exists (the upstream leg need not wait for the client leg). */
int tls_upstream_start(struct mw_tls *t, struct mw_bytes *to_upstream);

/* The upstream connection ended (while a request was held) and a new one is being made: a
 * new upstream leg, same name, port and verification, offering the cached session; its
 * ClientHello is appended to to_upstream.  Plaintext given to it before its handshake is
 * complete is held as at the start.  The gateway's leg is untouched.  -EPROTO once the
 * upstream leg has failed. */
int tls_upstream_restart(struct mw_tls *t, struct mw_bytes *to_upstream);

/* Ciphertext read from the gateway: handshake replies go to to_client, decrypted bytes to
 * plain (the checkpoint's input). */
int tls_client_in(struct mw_tls *t, const uint8_t *buf, size_t len, struct mw_bytes *plain,
		  struct mw_bytes *to_client);
/* Ciphertext read from the upstream: handshake messages go to to_upstream (and plaintext
 * held for the upstream is sent once the handshake completes), decrypted bytes to plain. */
int tls_upstream_in(struct mw_tls *t, const uint8_t *buf, size_t len, struct mw_bytes *plain,
		    struct mw_bytes *to_upstream);
/* Plaintext to send: encrypted onto to_client / to_upstream, or held until that leg's
 * handshake is complete.  -ENOBUFS beyond MW_TLS_PENDING_MAX held bytes. */
int tls_client_out(struct mw_tls *t, const uint8_t *plain, size_t len, struct mw_bytes *to_client);
int tls_upstream_out(struct mw_tls *t, const uint8_t *plain, size_t len,
		     struct mw_bytes *to_upstream);
/* A close_notify toward either side (the flow ends cleanly). */
int tls_client_close(struct mw_tls *t, struct mw_bytes *to_client);
int tls_upstream_close(struct mw_tls *t, struct mw_bytes *to_upstream);

/* State. */
bool tls_client_ready(const struct mw_tls *t);	 /* client handshake complete */
bool tls_upstream_ready(const struct mw_tls *t); /* upstream handshake complete and verified */
bool tls_client_eof(const struct mw_tls *t);	 /* the gateway sent close_notify */
bool tls_upstream_eof(const struct mw_tls *t);	 /* the upstream sent close_notify */
bool tls_client_resumed(const struct mw_tls *t);
bool tls_upstream_resumed(const struct mw_tls *t);
/* Why the engine failed first ("upstream certificate: certificate has expired"), "" when it
 * has not.  The functions of the leg that failed return -EPROTO from then on. */
const char *tls_error(const struct mw_tls *t);
/* Facts for the journal: negotiated versions ("TLSv1.3"), the upstream leaf's subject and
 * SHA-256 fingerprint (empty before the upstream handshake). */
const char *tls_client_version(const struct mw_tls *t);
const char *tls_upstream_version(const struct mw_tls *t);
const char *tls_upstream_subject(const struct mw_tls *t);
/* The upstream leg's suite as its IANA number (0x1301), 0 before the handshake; the ALPN
 * protocol the upstream chose, "" when none. */
uint16_t tls_upstream_cipher(const struct mw_tls *t);
void tls_upstream_alpn(const struct mw_tls *t, char *buf, size_t size);
const char *tls_upstream_fingerprint(const struct mw_tls *t);

/* "AB:CD:.." (32 bytes) from hex with or without colons, or "sha256/BASE64" (HPKP style). */
int tls_pin_parse(const char *s, uint8_t ret_pin[MW_TLS_PIN_LEN]);
