/* flow_tls.c: the relay's TLS flows (tls_env.h): the ClientHello read and the decision
 * (intercept, pass, block) per upstream rule; pass-through facts from the server's first
 * flight; intercepted flows' layer between the sockets and the checkpoint (tls.h), a
 * refused upstream answered 502; the upstream rule and credential of plain HTTP flows and
 * the wait for an OAuth credential's first token. */
#include "flow_priv.h"

#include <arpa/inet.h>
#include <stdio.h>

#include "tls_env.h"
#include "tls_minter.h"
#include "util.h"

static void report_tls(struct mw_flow *f, const char *what)
{
	if (f->owner->ops.tls)
		f->owner->ops.tls(f->owner->userdata, f, what);
}

static const char *tls_version_name(uint16_t v)
{
	switch (v) {
	case 0x0304:
		return "TLSv1.3";
	case 0x0303:
		return "TLSv1.2";
	case 0x0302:
		return "TLSv1.1";
	case 0x0301:
		return "TLSv1";
	default:
		return "unknown";
	}
}

/* The destination's IP literal (no brackets) and port. */
static uint16_t target_ip(const struct mw_flow *f, char *buf, size_t size)
{
	buf[0] = 0;
	if (f->target.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&f->target;

		inet_ntop(AF_INET, &sin->sin_addr, buf, (socklen_t)size);
		return ntohs(sin->sin_port);
	}
	if (f->target.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)&f->target;

		inet_ntop(AF_INET6, &sin6->sin6_addr, buf, (socklen_t)size);
		return ntohs(sin6->sin6_port);
	}
	return 0;
}

static void rule_name(struct mw_flow *f)
{
	if (f->urule)
		snprintf(f->tlsi.rule, sizeof(f->tlsi.rule), "upstreams[%u]",
			 (unsigned)(f->urule - f->tenv->ups->rules));
}

/* A plain HTTP flow meets its upstream's rule for the credential it injects. */
void flow_upstream_rule_plain(struct mw_flow *f)
{
	char ip[INET6_ADDRSTRLEN];
	uint16_t port = target_ip(f, ip, sizeof(ip));

	if (!f->tenv || f->urule)
		return;
	f->urule = upstreams_match(f->tenv->ups, ip, port);
	f->cred = tls_env_cred(f->tenv, f->urule);
	rule_name(f);
	if (f->cred)
		snprintf(f->tlsi.cred, sizeof(f->tlsi.cred), "%s", cred_name(f->cred));
}

/* A leaf was minted (or failed): the flows waiting for one decide again. */
static void minted(void *userdata)
{
	struct mw_flows *fl = userdata;
	struct mw_flow *f, *next;

	for (f = fl->head; f; f = next) {
		next = f->next;
		if (f->mint_wait)
			flow_pump(f, false, false);
	}
}

/* A name without a leaf yet: minted by the worker (tls_minter.h) while this flow holds its
 * ClientHello and the loop serves the others.  true: wait.  Without a worker, with its
 * queue full, or after it failed, the leaf is minted inline (tls_intercept_new()). */
static bool mint_wait(struct mw_flow *f, const char *name)
{
	struct mw_flows *fl = f->owner;
	bool waiting = f->mint_wait;

	f->mint_wait = false;
	if (!f->tenv->ca || ca_cached(f->tenv->ca, name))
		return false;
	if (waiting)
		f->mint_wait = fl->minter && tls_minter_pending(fl->minter, f->tenv, name);
	else if ((fl->minter || tls_minter_new(fl->event, minted, fl, &fl->minter) == 0) &&
		 tls_minter_submit(fl->minter, f->tenv, name) == 0)
		f->mint_wait = true;
	return f->mint_wait;
}

/* The ClientHello is in f->up (or not yet): decide what the flow is.  0: go on; 1: keep
 * holding the client's bytes; -1: the flow has ended. */
int flow_tls_decide(struct mw_flow *f)
{
	struct mw_flow_tls_info *ti = &f->tlsi;
	struct mw_tls_hello h;
	struct mw_tls_verify v = {};
	char ip[INET6_ADDRSTRLEN];
	const char *name;
	uint16_t port;
	size_t o = 0;
	int r;

	r = tls_hello_parse(f->up.data + f->up.start, buf_len(&f->up), &h);
	if (r == -EAGAIN && !f->eof_down && buf_room(&f->up) > 0)
		return 1;
	if (r < 0) {
		snprintf(ti->error, sizeof(ti->error), "unreadable ClientHello: %s",
			 r == -EAGAIN		 ? "truncated"
			 : r == -E2BIG		 ? "too large"
			 : r == -EPROTONOSUPPORT ? "not a ClientHello"
						 : "malformed");
		report_tls(f, "refused");
		flow_reset(f, ti->error);
		return -1;
	}
	snprintf(ti->sni, sizeof(ti->sni), "%s", h.sni);
	for (unsigned i = 0; i < h.n_alpn && o < sizeof(ti->alpn); i++)
		o += (size_t)snprintf(ti->alpn + o, sizeof(ti->alpn) - o, "%s%s", i ? "," : "",
				      h.alpn[i]);
	snprintf(ti->offered, sizeof(ti->offered), "%s",
		 tls_version_name(tls_hello_max_version(&h)));
	port = target_ip(f, ip, sizeof(ip));
	name = h.has_sni ? h.sni : ip;
	f->urule = upstreams_match(f->tenv->ups, name, port);
	rule_name(f);
	if (!f->urule || f->urule->tls == MW_UPSTREAM_TLS_PASS) {
		f->tls_mode = MW_FLOW_TLS_PASS;
		report_tls(f, "pass");
		return 0;
	}
	if (f->urule->tls == MW_UPSTREAM_TLS_BLOCK) {
		f->tls_mode = MW_FLOW_TLS_BLOCK;
		snprintf(ti->error, sizeof(ti->error), "blocked by %s", ti->rule);
		report_tls(f, "block");
		flow_reset(f, ti->error);
		return -1;
	}
	if (!f->tenv->ctx) {
		r = -ENOKEY;
	} else if (mint_wait(f, name)) {
		return 1;
	} else {
		v.ca_file = f->urule->ca_file[0] ? f->urule->ca_file : NULL;
		v.has_pin = f->urule->has_pin;
		memcpy(v.pin, f->urule->pin, sizeof(v.pin));
		r = tls_intercept_new(f->tenv->ctx, name, port, &v, &f->tls);
		if (r == 0)
			r = tls_upstream_start(f->tls, &f->uwire);
	}
	if (r < 0) {
		snprintf(ti->error, sizeof(ti->error), "cannot intercept: %s",
			 r == -ENOKEY ? "no CA ('mcpwarden ca init')" : strerror(-r));
		report_tls(f, "refused");
		flow_reset(f, ti->error);
		return -1;
	}
	f->cred = tls_env_cred(f->tenv, f->urule);
	if (f->cred)
		snprintf(ti->cred, sizeof(ti->cred), "%s", cred_name(f->cred));
	f->tls_mode = MW_FLOW_TLS_INTERCEPT;
	report_tls(f, "intercept");
	return 0;
}

static void tls_facts(struct mw_flow *f)
{
	struct mw_flow_tls_info *ti = &f->tlsi;

	if (!f->tls)
		return;
	if (tls_upstream_ready(f->tls)) {
		snprintf(ti->version, sizeof(ti->version), "%s", tls_upstream_version(f->tls));
		snprintf(ti->subject, sizeof(ti->subject), "%s", tls_upstream_subject(f->tls));
		snprintf(ti->fingerprint, sizeof(ti->fingerprint), "%s",
			 tls_upstream_fingerprint(f->tls));
		snprintf(ti->cert_source, sizeof(ti->cert_source), "handshake");
		snprintf(ti->cipher, sizeof(ti->cipher), "0x%04x", tls_upstream_cipher(f->tls));
		tls_upstream_alpn(f->tls, ti->server_alpn, sizeof(ti->server_alpn));
		ti->resumed_upstream = tls_upstream_resumed(f->tls);
	}
	if (tls_client_ready(f->tls))
		ti->resumed_client = tls_client_resumed(f->tls);
}

/* Pass: the certificate the flow did not show, from the agent's own probe (tls_probe.h). */
static void probe_attach(struct mw_flow *f, const struct mw_tls_probe_result *r)
{
	struct mw_flow_tls_info *ti = &f->tlsi;
	size_t n = strlen(ti->subject);

	if (r->error) {
		snprintf(ti->subject + n, sizeof(ti->subject) - n, "; probe: %s", r->why);
		return;
	}
	snprintf(ti->subject, sizeof(ti->subject), "%s", r->subject);
	snprintf(ti->fingerprint, sizeof(ti->fingerprint), "%s", r->fingerprint);
	snprintf(ti->cert_source, sizeof(ti->cert_source), "probe");
	snprintf(ti->cert_verify, sizeof(ti->cert_verify), "%s", r->verify);
}

static void probe_done(void *userdata, const struct mw_tls_probe_result *r)
{
	struct mw_flow *f = userdata;

	f->probe_wait = NULL;
	probe_attach(f, r);
	if (f->close_deferred)
		flow_close_report(f);
}

/* The relay goes on meanwhile; the facts are attached when the probe ends (at once from the
 * cache), before the flow's close is reported. */
static void probe_start(struct mw_flow *f)
{
	struct mw_flows *fl = f->owner;
	struct mw_tls_probe_result r;
	size_t n = strlen(f->tlsi.subject);
	int k;

	if (!fl->probe) {
		k = tls_probe_new(fl->event, &fl->probe);
		if (k < 0)
			goto fail;
	}
	k = tls_probe_get(fl->probe, &f->target, f->tlsi.sni, f->tlsi.alpn, probe_done, f, &r,
			  &f->probe_wait);
	if (k == 0)
		probe_attach(f, &r);
	if (k == 0 || k == -EINPROGRESS)
		return;
fail:
	snprintf(f->tlsi.subject + n, sizeof(f->tlsi.subject) - n, "; probe: %s",
		 k == -EBUSY ? "too many running" : strerror(-k));
}

/* Pass: the server's first flight, read without consuming it (the relay sends it on). */
void flow_tls_server_feed(struct mw_flow *f, const uint8_t *p, size_t n)
{
	struct mw_tls_server_hello sh;
	struct mw_flow_tls_info *ti = &f->tlsi;
	size_t room = MW_TLS_SERVER_FLIGHT_MAX - f->shello.len;
	int r;

	if (f->shello_done || !n)
		return;
	if (bytes_append(&f->shello, p, n < room ? n : room) < 0) {
		f->shello_done = true;
		return;
	}
	r = tls_server_parse(f->shello.data, f->shello.len, &sh);
	if (r == -EAGAIN && f->shello.len < MW_TLS_SERVER_FLIGHT_MAX)
		return;
	f->shello_done = true;
	bytes_free(&f->shello);
	if (r < 0) {
		snprintf(ti->subject, sizeof(ti->subject), "unreadable server flight");
		return;
	}
	snprintf(ti->version, sizeof(ti->version), "%s", tls_version_name(sh.version));
	snprintf(ti->cipher, sizeof(ti->cipher), "0x%04x", sh.cipher_suite);
	snprintf(ti->server_alpn, sizeof(ti->server_alpn), "%s", sh.alpn);
	if (sh.has_cert) {
		snprintf(ti->subject, sizeof(ti->subject), "%s", sh.subject);
		snprintf(ti->fingerprint, sizeof(ti->fingerprint), "%s", sh.fingerprint);
		snprintf(ti->cert_source, sizeof(ti->cert_source), "handshake");
	} else {
		snprintf(ti->subject, sizeof(ti->subject), "not visible (%s)",
			 sh.version >= MW_TLS_VERSION_1_3 ? "TLS 1.3" : "resumed");
		probe_start(f);
	}
}

/* The engine failed.  The gateway's leg failing, or anything but a refused upstream, resets
 * the flow; a refused upstream is answered 502 (below) once the gateway's leg is up.
 * -1: the flow has ended. */
static int tls_fail(struct mw_flow *f, int r, bool client_leg)
{
	const char *why = tls_error(f->tls);

	if (!f->tlsi.error[0])
		snprintf(f->tlsi.error, sizeof(f->tlsi.error), "%s",
			 why && why[0] ? why : strerror(-r));
	tls_facts(f);
	if (client_leg || r != -EPROTO) {
		report_tls(f, "refused");
		flow_reset(f, f->tlsi.error);
		return -1;
	}
	if (!f->tls_failed) {
		f->tls_failed = true;
		report_tls(f, "refused");
		set_abortive(f->fd_up);
		shutdown(f->fd_up, SHUT_RDWR);
		f->eof_up = f->shut_up = true;
		bytes_wipe(&f->uout);
		bytes_wipe(&f->uplain);
		bytes_free(&f->uwire);
		f->down.start = f->down.end = 0;
	}
	return 0;
}

/* After a refused upstream: finish the gateway's handshake, then answer the first request
 * 502 with the reason, then close. */
void flow_tls_refused_pump(struct mw_flow *f)
{
	int r = 0;

	if (buf_len(&f->up)) {
		r = tls_client_in(f->tls, f->up.data + f->up.start, buf_len(&f->up), &f->cplain,
				  &f->cwire);
		f->up.start = f->up.end = 0;
	}
	if (r < 0)
		return flow_reset(f, f->tlsi.error);
	/* once a request has begun (now, or earlier: it may be queued already) */
	if (!f->tls_replied && tls_client_ready(f->tls) &&
	    (f->cplain.len || f->tls_plain_seen || f->eof_down)) {
		char body[400], *resp = NULL;
		int n;

		snprintf(body, sizeof(body), "mcpwarden refused the upstream: %s\n", f->tlsi.error);
		n = asprintf(&resp,
			     "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\n"
			     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			     strlen(body), body);
		if (n < 0)
			return flow_reset(f, f->tlsi.error);
		r = tls_client_out(f->tls, (const uint8_t *)resp, (size_t)n, &f->cwire);
		free(resp);
		if (r == 0)
			r = tls_client_close(f->tls, &f->cwire);
		if (r < 0)
			return flow_reset(f, f->tlsi.error);
		f->tls_replied = true;
	}
	bytes_wipe(&f->cplain);
	if (!f->tls_replied && f->eof_down)
		return flow_reset(f, f->tlsi.error);
	r = flow_bytes_write(f->fd_down, &f->cwire);
	if (r < 0)
		return flow_reset(f, f->tlsi.error);
	if (f->tls_replied && f->cwire.len == 0)
		return flow_close(f, f->tlsi.error);
	flow_update_events(f);
}

static int cred_timer_fire(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct mw_flow *f = userdata;

	f->cred_timer = sd_event_source_disable_unref(f->cred_timer);
	flow_pump(f, false, false);
	return 0;
}

/* An OAuth credential without its first token: the request waits (bounded), then goes to
 * the checkpoint, which answers 503 if there is still none.  true: hold. */
bool flow_cred_wait(struct mw_flow *f)
{
	uint64_t now;

	if (!f->cred || cred_ready(f->cred)) {
		f->cred_wait_start = 0;
		return false;
	}
	now = mw_now_mono_usec();
	if (!f->cred_wait_start)
		f->cred_wait_start = now;
	if (now - f->cred_wait_start >= MW_FLOW_CRED_WAIT_USEC)
		return false;
	if (!f->cred_timer &&
	    sd_event_add_time_relative(f->owner->event, &f->cred_timer, CLOCK_MONOTONIC,
				       MW_FLOW_CRED_POLL_USEC, 0, cred_timer_fire, f) < 0)
		return false;
	f->holding = true;
	return true;
}

/* Intercepted flows: client ciphertext (in f->up) into the engine. */
int flow_tls_client_step(struct mw_flow *f)
{
	int r = 0;

	if (buf_len(&f->up)) {
		r = tls_client_in(f->tls, f->up.data + f->up.start, buf_len(&f->up), &f->cplain,
				  &f->cwire);
		f->up.start = f->up.end = 0;
	}
	if (f->cplain.len)
		f->tls_plain_seen = true;
	if (r == 0 && tls_client_eof(f->tls))
		f->eof_down = true; /* close_notify: the gateway is done */
	return r < 0 ? tls_fail(f, r, true) : 0;
}

int flow_tls_upstream_step(struct mw_flow *f)
{
	int r = 0;

	if (buf_len(&f->down)) {
		r = tls_upstream_in(f->tls, f->down.data + f->down.start, buf_len(&f->down),
				    &f->uplain, &f->uwire);
		f->down.start = f->down.end = 0;
	}
	if (r == 0 && tls_upstream_eof(f->tls))
		f->eof_up = true;
	if (r == 0 && !f->tlsi.version[0] && tls_upstream_ready(f->tls))
		tls_facts(f);
	return r < 0 ? tls_fail(f, r, false) : 0;
}

/* Intercepted flows: the checkpoint's queues, encrypted once the journal allows, and the
 * ciphertext written. */
int flow_tls_write_up(struct mw_flow *f)
{
	int r;

	if (f->uout.len && flow_journal_gate(f, false)) {
		r = tls_upstream_out(f->tls, f->uout.data, f->uout.len, &f->uwire);
		bytes_consume(&f->uout, f->uout.len);
		if (r < 0)
			return tls_fail(f, r, false);
	}
	if (f->eof_down && !f->tls_closed_up && !f->uout.len && !f->cplain.len &&
	    !f->holding) {
		f->tls_closed_up = true;
		tls_upstream_close(f->tls, &f->uwire); /* a failed close still ends the flow */
	}
	r = flow_bytes_write(f->fd_up, &f->uwire);
	if (r < 0) {
		flow_err(f, "upstream write", r);
		return -1;
	}
	return 0;
}

int flow_tls_write_down(struct mw_flow *f)
{
	int r;

	if (f->cout.len && flow_journal_gate(f, true)) {
		r = tls_client_out(f->tls, f->cout.data, f->cout.len, &f->cwire);
		bytes_consume(&f->cout, f->cout.len);
		if (r < 0)
			return tls_fail(f, r, true);
	}
	/* an upstream that ends while a request is held is not the gateway's end (below) */
	if (f->eof_up && !f->tls_closed_down && !f->cout.len && !f->uplain.len &&
	    !(f->insp && inspect_holding(f->insp))) {
		f->tls_closed_down = true;
		tls_client_close(f->tls, &f->cwire);
	}
	r = flow_bytes_write(f->fd_down, &f->cwire);
	if (r < 0) {
		flow_err(f, "client write", r);
		return -1;
	}
	return 0;
}

/* The upstream closed while a request was held, and the request is released now: a new TCP
 * connection (the caller's) and a new upstream handshake, resumed from the cached session
 * when the upstream allows it and verified as the first was; the gateway's leg goes on. */
int flow_tls_reconnect(struct mw_flow *f)
{
	bytes_free(&f->uwire);
	bytes_wipe(&f->uplain);
	f->tls_closed_up = false;
	f->tlsi.version[0] = 0; /* the new handshake's facts, once it is done */
	return tls_upstream_restart(f->tls, &f->uwire);
}
