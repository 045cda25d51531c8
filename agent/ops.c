/* ops.c: what the running agent does for the control socket (status, flows, enroll,
 * unenroll) and with flow events (journald entries).  The dispatch layer: it logs. */
#include <arpa/inet.h>
#include <stdio.h>
#include <time.h>

#include "cgroup.h"
#include "daemon.h"
#include "journal_index.h"
#include "log.h"
#include "oidc.h"
#include "unit.h"

static const char *source_name(enum mw_enroll_source s)
{
	static const char *const names[] = { "config", "control", "pinned" };

	return s < ARRAY_SIZE(names) ? names[s] : "?";
}

static const char *iso_time(uint64_t wall_usec, char *buf, size_t size)
{
	time_t t = (time_t)(wall_usec / 1000000ULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

struct mw_enrolled_cg *daemon_enrolled_find(struct mw_daemon *d, uint64_t id)
{
	for (unsigned i = 0; i < d->n_enrolled; i++)
		if (d->enrolled[i].id == id)
			return &d->enrolled[i];
	return NULL;
}

void daemon_enrolled_add(struct mw_daemon *d, uint64_t id, const char *path,
			 enum mw_enroll_source source)
{
	struct mw_enrolled_cg *e = daemon_enrolled_find(d, id);

	if (!e) {
		if (d->n_enrolled >= MW_ENROLLED_MAX)
			return;
		e = &d->enrolled[d->n_enrolled++];
		e->since_wall = mw_now_wall_usec();
	}
	e->id = id;
	e->source = source;
	snprintf(e->path, sizeof(e->path), "%s", path);
	cgroup_unit_name(path, e->unit, sizeof(e->unit));
}

static void enrolled_remove(struct mw_daemon *d, uint64_t id)
{
	struct mw_enrolled_cg *e = daemon_enrolled_find(d, id);

	if (e)
		*e = d->enrolled[--d->n_enrolled];
}

/* cgroup id -> path and unit, cached: searched first below the enrolled cgroups (a flow
 * comes from one of them or a child), then the whole hierarchy. */
void daemon_cgroup_describe(struct mw_daemon *d, uint64_t id, const char **ret_path,
			    const char **ret_unit)
{
	struct mw_cg_cache *c;
	char path[PATH_MAX];
	int r = -ENOENT;

	*ret_path = *ret_unit = "";
	if (!id)
		return;
	for (unsigned i = 0; i < MW_CGROUP_CACHE; i++)
		if (d->cg_cache[i].id == id) { /* a miss is cached too (path ""): no rewalk */
			*ret_path = d->cg_cache[i].path;
			*ret_unit = d->cg_cache[i].unit;
			return;
		}
	for (unsigned i = 0; i < d->n_enrolled && r < 0; i++)
		r = cgroup_path_of_id(d->enrolled[i].path, id, path, sizeof(path));
	if (r < 0)
		r = cgroup_path_of_id(d->cg_mount, id, path, sizeof(path));
	if (r < 0)
		path[0] = 0;
	c = &d->cg_cache[d->cg_cache_next];
	d->cg_cache_next = (d->cg_cache_next + 1) % MW_CGROUP_CACHE;
	c->id = id;
	snprintf(c->path, sizeof(c->path), "%s", path);
	cgroup_unit_name(path, c->unit, sizeof(c->unit));
	*ret_path = c->path;
	*ret_unit = c->unit;
}

/* ---- flows ------------------------------------------------------------------------------ */

static const char *sa_str(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	if (ss->ss_family != AF_INET && ss->ss_family != AF_INET6)
		return "-";
	return mw_sockaddr_str((const struct sockaddr *)ss, buf, size);
}

static void flow_fields(struct mw_daemon *d, const struct mw_flow *f, struct mw_log_fields *lf)
{
	char a[128];
	const char *path, *unit;

	daemon_cgroup_describe(d, f->origin.cgroup_id, &path, &unit);
	log_fields_add(lf, "MCPW_SESSION", "%s", f->name);
	log_fields_add(lf, "MCPW_FLOW", "%s", f->name);
	log_fields_add(lf, "MCPW_DIRECTION", "%s", flow_dir_name(f->dir));
	if (f->dir == MW_FLOW_OUTBOUND && f->have_origin) {
		log_fields_add(lf, "MCPW_PID", "%u", f->origin.tgid);
		log_fields_add(lf, "MCPW_UID", "%u", f->origin.uid);
		log_fields_add(lf, "MCPW_COMM", "%.16s", f->origin.comm);
	}
	log_fields_add(lf, "MCPW_UNIT", "%s", unit);
	log_fields_add(lf, "MCPW_CGROUP", "%s", path);
	log_fields_add(lf, "MCPW_TARGET", "%s", sa_str(&f->target, a, sizeof(a)));
	log_fields_add(lf, "MCPW_PEER", "%s", sa_str(&f->peer, a, sizeof(a)));
}

/* ---- session journal ------------------------------------------------------------------ */

/* A record whose metadata is a JSON object (stolen). */
static void journal_json(const struct mw_flow *f, uint8_t type, uint8_t dir, uint16_t flags,
			 json_t *meta, const void *payload, size_t len)
{
	char *m = meta ? json_dumps(meta, JSON_COMPACT) : NULL;

	json_decref(meta);
	flow_journal_append(f, type, dir, flags, m, payload, len);
	free(m);
}

static void journal_session_log(struct mw_daemon *d, const struct mw_flow *f, bool open)
{
	struct mw_log_fields lf = {};
	char sid[17];

	if (!d->journal || !f->jsession)
		return;
	journal_session_name(f->jsession, sid);
	flow_fields(d, f, &lf);
	log_fields_add(&lf, "MCPW_JSESSION", "%s", sid);
	log_event(LOG_INFO, open ? MW_MID_SESSION_OPEN : MW_MID_SESSION_CLOSE, &lf,
		  "journal session %s %s (flow %s)", sid, open ? "opened" : "closed", f->name);
}

static void journal_open_record(struct mw_daemon *d, const struct mw_flow *f)
{
	char t[128], p[128];
	const char *path, *unit;
	json_t *m;

	if (!d->journal || !f->jsession)
		return;
	daemon_cgroup_describe(d, f->origin.cgroup_id, &path, &unit);
	m = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "flow", f->name, "direction",
		      flow_dir_name(f->dir), "target", sa_str(&f->target, t, sizeof(t)), "peer",
		      sa_str(&f->peer, p, sizeof(p)), "unit", unit ? unit : "", "cgroup",
		      path ? path : "");
	if (m && f->dir == MW_FLOW_OUTBOUND && f->have_origin) {
		char comm[MW_COMM_LEN + 1] = "";

		memcpy(comm, f->origin.comm, MW_COMM_LEN);
		json_object_set_new(m, "pid", json_integer(f->origin.tgid));
		json_object_set_new(m, "uid", json_integer(f->origin.uid));
		json_object_set_new(m, "comm", json_string(comm));
	}
	journal_json(f, MW_JREC_OPEN, MW_JDIR_NONE, 0, m, NULL, 0);
	journal_session_log(d, f, true);
}

/* The checkpoint's payloads, as forwarded (already masked). */
static void on_record(void *userdata, const struct mw_inspect_record *rec)
{
	struct mw_flow *f = userdata; /* inspect_new was given the flow */
	struct mw_daemon *d = flows_userdata(f);
	uint8_t dir = rec->to_client ? MW_JDIR_DOWN : MW_JDIR_UP;
	json_t *m;

	if (!d->journal || !f->jsession)
		return;
	if (rec->to_client)
		f->jstruct_down++;
	else
		f->jstruct_up++;
	m = json_pack("{s:s, s:s, s:s}", "mcp_session", rec->session, "method", rec->method,
		      "tool", rec->tool);
	if (m && rec->status)
		json_object_set_new(m, "status", json_integer(rec->status));
	journal_json(f, rec->to_client ? MW_JREC_RESPONSE : MW_JREC_REQUEST, dir,
		     rec->own ? MW_JFLAG_OWN : 0, m, rec->payload, rec->len);
	if (rec->masked && rec->masked[0])
		journal_json(f, MW_JREC_MASK, dir, 0,
			     json_pack("{s:s, s:s}", "mcp_session", rec->session, "summary",
				       rec->masked),
			     NULL, 0);
}

int daemon_journal_event(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct mw_daemon *d = userdata;
	struct mw_journal_news news;
	struct mw_log_fields lf = {};

	journal_poll(d->journal, &news);
	if (news.failed_err) {
		log_fields_add(&lf, "MCPW_JOURNAL_MODE", "%s", journal_mode_name(journal_mode(d->journal)));
		log_fields_add(&lf, "MCPW_REASON", "%s: %s", news.failed_what,
			       strerror(-news.failed_err));
		log_event(LOG_ALERT, MW_MID_JOURNAL_FAILED, &lf,
			  "session journal failed: %s: %s; %s", news.failed_what,
			  strerror(-news.failed_err),
			  journal_failed(d->journal)
				  ? "strict mode: live sessions end, new connections are refused"
				  : "best-effort mode: traffic goes on, the loss is written as gaps");
	}
	if (news.recovered) {
		struct mw_log_fields lr = {};

		log_fields_add(&lr, "MCPW_JOURNAL_MODE", "%s",
			       journal_mode_name(journal_mode(d->journal)));
		log_event(LOG_NOTICE, MW_MID_JOURNAL_RECOVERED, &lr,
			  "session journal recovered: writing to %s again, new connections are "
			  "accepted; %u sessions cut by the failure closed by abandoned records",
			  news.recovered_what, news.recovered_abandoned);
	}
	if (news.dropped) {
		struct mw_log_fields lg = {};

		log_fields_add(&lg, "MCPW_DROPPED", "%llu", (unsigned long long)news.dropped);
		log_event(LOG_WARNING, MW_MID_JOURNAL_GAP, &lg,
			  "session journal dropped %llu records (best-effort mode)",
			  (unsigned long long)news.dropped);
	}
	flows_journal_progress(d->flows);
	return 0;
}

void daemon_journal_reload(struct mw_daemon *d, const struct mw_config *c)
{
	struct mw_journal_config jc;
	struct mw_diag diag = {};
	char restart[160], buf[1024];

	if (journal_config_parse(json_object_get(c->root, "journal"), c->state_dir, &jc, &diag) <
	    0) {
		log_error("'journal' in the new configuration: %s; the journal keeps its "
			  "settings",
			  mw_diag_format(&diag, buf, sizeof(buf)));
		return;
	}
	if (!d->journal) {
		if (jc.mode != MW_JOURNAL_OFF)
			log_warning("'journal.mode' changed: the journal starts after a restart, "
				    "ignoring");
		return;
	}
	journal_reconfigure(d->journal, &jc, restart, sizeof(restart));
	if (restart[0])
		log_warning("%s changed: %s after a restart, ignoring", restart,
			    strchr(restart, ',') ? "they take effect" : "it takes effect");
	log_info("session journal: rotation (max_file_size, rotate_interval), retention "
		 "(retention, max_total_size), seal_interval, flush_interval and queue_max "
		 "applied from the new configuration");
}

static void tls_fields(const struct mw_flow *f, struct mw_log_fields *lf)
{
	const struct mw_flow_tls_info *ti = &f->tlsi;

	if (f->tls_mode == MW_FLOW_TLS_NONE) {
		if (ti->cred[0])
			log_fields_add(lf, "MCPW_CREDENTIAL", "%s", ti->cred);
		return;
	}
	log_fields_add(lf, "MCPW_TLS", "%s", flow_tls_name(f->tls_mode));
	log_fields_add(lf, "MCPW_SNI", "%s", ti->sni);
	log_fields_add(lf, "MCPW_ALPN", "%s", ti->alpn);
	log_fields_add(lf, "MCPW_TLS_OFFERED", "%s", ti->offered);
	log_fields_add(lf, "MCPW_TLS_VERSION", "%s", ti->version);
	log_fields_add(lf, "MCPW_TLS_CIPHER", "%s", ti->cipher);
	log_fields_add(lf, "MCPW_TLS_SUBJECT", "%s", ti->subject);
	log_fields_add(lf, "MCPW_TLS_FINGERPRINT", "%s", ti->fingerprint);
	log_fields_add(lf, "MCPW_TLS_CERT_SOURCE", "%s", ti->cert_source);
	if (ti->cert_verify[0])
		log_fields_add(lf, "MCPW_TLS_CERT_VERIFY", "%s", ti->cert_verify);
	log_fields_add(lf, "MCPW_RULE", "%s", ti->rule);
	log_fields_add(lf, "MCPW_CREDENTIAL", "%s", ti->cred);
	if (ti->error[0])
		log_fields_add(lf, "MCPW_TLS_ERROR", "%s", ti->error);
}

static json_t *tls_json(const struct mw_flow *f)
{
	const struct mw_flow_tls_info *ti = &f->tlsi;

	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, "
			 "s:b, s:s}",
			 "mode", flow_tls_name(f->tls_mode), "sni", ti->sni, "alpn", ti->alpn,
			 "offered", ti->offered, "version", ti->version, "cipher", ti->cipher,
			 "server_alpn", ti->server_alpn, "subject", ti->subject, "fingerprint",
			 ti->fingerprint, "cert_source", ti->cert_source, "cert_verify",
			 ti->cert_verify, "rule", ti->rule, "credential", ti->cred,
			 "resumed_client", ti->resumed_client, "resumed_upstream",
			 ti->resumed_upstream, "error", ti->error);
}

static void on_flow_opened(void *userdata, const struct mw_flow *f)
{
	struct mw_daemon *d = userdata;
	struct mw_log_fields lf = {};
	char t[128];

	flow_fields(d, f, &lf);
	log_event(LOG_INFO, MW_MID_FLOW_OPEN, &lf, "flow %s %s to %s opened", f->name,
		  flow_dir_name(f->dir), sa_str(&f->target, t, sizeof(t)));
	journal_open_record(d, f);
}

static void on_flow_closed(void *userdata, const struct mw_flow *f)
{
	struct mw_daemon *d = userdata;
	struct mw_log_fields lf = {};
	char t[128];

	flow_fields(d, f, &lf);
	log_fields_add(&lf, "MCPW_PROTO", "%s", sniff_proto_name(f->proto));
	log_fields_add(&lf, "MCPW_BYTES_UP", "%llu", (unsigned long long)f->bytes_up);
	log_fields_add(&lf, "MCPW_BYTES_DOWN", "%llu", (unsigned long long)f->bytes_down);
	log_fields_add(&lf, "MCPW_REASON", "%s", f->reason);
	tls_fields(f, &lf);
	log_event(LOG_INFO, MW_MID_FLOW_CLOSE, &lf, "flow %s to %s closed (%s): %llu bytes up, %llu down%s%s",
		  f->name, sa_str(&f->target, t, sizeof(t)), f->reason,
		  (unsigned long long)f->bytes_up, (unsigned long long)f->bytes_down,
		  f->tlsi.sni[0] ? ", SNI " : "", f->tlsi.sni);
	if (d->journal && f->jsession && f->jseq) { /* opened: its upstream connected */
		json_t *m = json_pack("{s:s, s:s, s:I, s:I}", "reason", f->reason, "proto",
				      sniff_proto_name(f->proto), "bytes_up",
				      (json_int_t)f->bytes_up, "bytes_down",
				      (json_int_t)f->bytes_down);

		if (m && f->tls_mode != MW_FLOW_TLS_NONE)
			json_object_set_new(m, "tls", tls_json(f));
		else if (m && f->tlsi.cred[0])
			json_object_set_new(m, "credential", json_string(f->tlsi.cred));
		journal_json(f, MW_JREC_CLOSE, MW_JDIR_NONE, 0, m, NULL, 0);
		journal_session_log(d, f, false);
	}
}

/* A TLS flow decided or refused: one journald entry and one journal record.  The names,
 * versions and certificate facts only: a credential by its name, never its value. */
static void on_flow_tls(void *userdata, const struct mw_flow *f, const char *what)
{
	struct mw_daemon *d = userdata;
	struct mw_log_fields lf = {};
	bool bad = !strcmp(what, "refused") || !strcmp(what, "block");
	char t[128];

	flow_fields(d, f, &lf);
	log_fields_add(&lf, "MCPW_DECISION", "%s", what);
	tls_fields(f, &lf);
	if (bad)
		log_event(LOG_WARNING, MW_MID_FLOW_REFUSED, &lf, "flow %s to %s (SNI '%s') refused: %s",
			  f->name, sa_str(&f->target, t, sizeof(t)), f->tlsi.sni, f->tlsi.error);
	else
		log_event(LOG_INFO, MW_MID_DECISION, &lf, "flow %s to %s: TLS %s (SNI '%s'%s%s%s)",
			  f->name, sa_str(&f->target, t, sizeof(t)), what, f->tlsi.sni,
			  f->tlsi.rule[0] ? ", rule " : "", f->tlsi.rule,
			  f->tlsi.cred[0] ? ", credential injected" : "");
	if (d->journal) {
		json_t *m = tls_json(f);

		if (m)
			json_object_set_new(m, "decision", json_string(what));
		journal_json(f, MW_JREC_DECISION, MW_JDIR_UP, 0, m, NULL, 0);
	}
}

static void on_flow_refused(void *userdata, const struct mw_flow *f)
{
	struct mw_daemon *d = userdata;
	struct mw_log_fields lf = {};

	flow_fields(d, f, &lf);
	log_fields_add(&lf, "MCPW_DECISION", "refused");
	log_fields_add(&lf, "MCPW_REASON", "%s", f->reason);
	log_event(LOG_WARNING, MW_MID_FLOW_REFUSED, &lf, "flow %s refused: %s", f->name,
		  f->reason);
}

static void on_decision(void *userdata, const struct mw_inspect_event *ev)
{
	const struct mw_flow *f = userdata;
	struct mw_daemon *d = flows_userdata(f);
	struct mw_log_fields lf = {};

	flow_fields(d, f, &lf);
	log_fields_add(&lf, "MCPW_SUB", "%s", ev->sub);
	log_fields_add(&lf, "MCPW_GROUPS", "%s", ev->groups);
	log_fields_add(&lf, "MCPW_TOKEN_SHA256", "%s", ev->token_sha256);
	log_fields_add(&lf, "MCPW_METHOD", "%s", ev->method);
	log_fields_add(&lf, "MCPW_TOOL", "%s", ev->tool);
	if (!strcmp(ev->decision, "masked")) {
		log_fields_add(&lf, "MCPW_MASKED", "%s", ev->masked ? ev->masked : "");
		/* a response masked: journald only (its payload record carries the summary) */
		log_fields_add(&lf, "MCPW_MCP_SESSION", "%s", ev->session ? ev->session : "");
		log_fields_add(&lf, "MCPW_MASKED_PATHS", "%s",
			       ev->masked_paths ? ev->masked_paths : "");
		log_event(LOG_INFO, MW_MID_MASKED, &lf, "%s %s%s%s for '%s' masked: %s", f->name,
			  ev->method[0] ? ev->method : "reply", ev->tool[0] ? " " : "", ev->tool,
			  ev->sub[0] ? ev->sub : "(no token)", ev->masked);
		return;
	}
	log_fields_add(&lf, "MCPW_DECISION", "%s", ev->decision);
	log_fields_add(&lf, "MCPW_RULE", "%s", ev->rule);
	log_fields_add(&lf, "MCPW_REASON", "%s", ev->reason);
	log_fields_add(&lf, "MCPW_MASKED", "%s", ev->masked ? ev->masked : "");
	log_event(strcmp(ev->decision, "allow") ? LOG_WARNING : LOG_INFO, MW_MID_DECISION, &lf,
		  "%s %s%s%s by '%s': %s", f->name, ev->method[0] ? ev->method : "request",
		  ev->tool[0] ? " " : "", ev->tool, ev->sub[0] ? ev->sub : "(no token)",
		  ev->decision);
	if (d->journal)
		journal_json(f, MW_JREC_DECISION, MW_JDIR_UP, 0,
			     json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "sub",
				       ev->sub, "groups", ev->groups, "token_sha256",
				       ev->token_sha256 ? ev->token_sha256 : "", "method", ev->method,
				       "tool", ev->tool, "decision", ev->decision, "rule", ev->rule,
				       "reason", ev->reason, "mcp_session",
				       ev->session ? ev->session : "", "masked",
				       ev->masked ? ev->masked : ""),
			     NULL, 0);
	if (d->journal && ev->approval && ev->approval[0])
		journal_json(f, MW_JREC_APPROVAL, MW_JDIR_UP, 0,
			     json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "approval",
				       ev->approval, "event", ev->approval_event, "sub", ev->sub,
				       "method", ev->method, "tool", ev->tool, "rule", ev->rule,
				       "reason", ev->reason, "mcp_session",
				       ev->session ? ev->session : ""),
			     NULL, 0);
}

/* An HTTP/1.1 flow meets the checkpoint when a policy is configured. */
static int on_flow_inspect(void *userdata, const struct mw_flow *f, struct mw_inspect **ret)
{
	struct mw_daemon *d = userdata;
	struct mw_inspect_flow fl = { .uid = -1 };
	const char *path, *unit;
	char host[64] = "", comm[MW_COMM_LEN + 1] = "";
	uint16_t port = 0;
	int r;

	*ret = NULL;
	if (!d->inspect_env)
		return 0;
	daemon_cgroup_describe(d, f->origin.cgroup_id, &path, &unit);
	if (f->target.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&f->target;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		port = ntohs(sin->sin_port);
	} else if (f->target.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)&f->target;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		port = ntohs(sin6->sin6_port);
	}
	if (f->dir == MW_FLOW_OUTBOUND && f->have_origin) {
		memcpy(comm, f->origin.comm, MW_COMM_LEN);
		fl.uid = f->origin.uid;
	}
	fl.unit = unit;
	fl.comm = comm;
	fl.cgroup = path;
	/* an intercepted flow is about the name the gateway asked for */
	fl.host = f->tlsi.sni[0] ? f->tlsi.sni : host;
	fl.port = port;
	fl.cred = f->cred;
	fl.direction = f->dir == MW_FLOW_INBOUND ? MW_POLICY_DIR_INBOUND : MW_POLICY_DIR_OUTBOUND;
	r = inspect_new(d->inspect_env, &fl, on_decision, (void *)f, ret);
	if (r == 0 && d->journal)
		inspect_set_recorder(*ret, on_record);
	return r;
}

const struct mw_flows_ops daemon_flow_ops = {
	.opened = on_flow_opened,
	.closed = on_flow_closed,
	.refused = on_flow_refused,
	.inspect = on_flow_inspect,
	.tls = on_flow_tls,
};

struct flows_ctx {
	struct mw_daemon *d;
	json_t *array;
};

static void flow_to_json(void *ud, const struct mw_flow *f)
{
	struct flows_ctx *ctx = ud;
	const char *path, *unit;
	char a[128];
	uint64_t end = f->state == MW_FLOW_CLOSED ? f->end_mono : mw_now_mono_usec();
	json_t *o;

	daemon_cgroup_describe(ctx->d, f->origin.cgroup_id, &path, &unit);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:f}", "id", f->name, "direction",
		      flow_dir_name(f->dir), "state", flow_state_name(f->state), "origin",
		      sa_str(&f->target, a, sizeof(a)), "protocol", sniff_proto_name(f->proto),
		      "cgroup", path, "bytes_up", (json_int_t)f->bytes_up, "bytes_down",
		      (json_int_t)f->bytes_down, "age_sec", (double)(end - f->start_mono) / 1e6);
	if (!o)
		return;
	json_object_set_new(o, "peer", json_string(sa_str(&f->peer, a, sizeof(a))));
	json_object_set_new(o, "unit", unit[0] ? json_string(unit) : json_null());
	json_object_set_new(o, "cgroup_id", json_integer((json_int_t)f->origin.cgroup_id));
	if (f->dir == MW_FLOW_OUTBOUND && f->have_origin) {
		char comm[MW_COMM_LEN + 1];

		memcpy(comm, f->origin.comm, MW_COMM_LEN);
		comm[MW_COMM_LEN] = 0;
		json_object_set_new(o, "pid", json_integer(f->origin.tgid));
		json_object_set_new(o, "tid", json_integer(f->origin.pid));
		json_object_set_new(o, "uid", json_integer(f->origin.uid));
		json_object_set_new(o, "gid", json_integer(f->origin.gid));
		json_object_set_new(o, "comm", json_string(comm));
	}
	if (f->tls_mode != MW_FLOW_TLS_NONE)
		json_object_set_new(o, "tls", tls_json(f));
	else if (f->tlsi.cred[0])
		json_object_set_new(o, "credential", json_string(f->tlsi.cred));
	json_object_set_new(o, "started",
			    json_string(iso_time(f->start_wall, a, sizeof(a))));
	json_object_set_new(o, "closed_reason",
			    f->state == MW_FLOW_CLOSED ? json_string(f->reason) : json_null());
	json_array_append_new(ctx->array, o);
}

static int op_flows(struct mw_daemon *d, json_t *req, json_t **ret)
{
	struct flows_ctx ctx = { .d = d, .array = json_array() };
	bool all = json_is_true(json_object_get(req, "all"));

	flows_foreach(d->flows, all, flow_to_json, &ctx);
	*ret = json_pack("{s:o}", "flows", ctx.array);
	return *ret ? 0 : -ENOMEM;
}

/* ---- status ----------------------------------------------------------------------------- */

static json_t *capture_json(struct mw_daemon *d)
{
	const struct mw_config *c = d->config;
	json_t *out = json_array(), *in = json_array();
	char buf[128];

	for (unsigned i = 0; i < c->n_outbound; i++) {
		const struct mw_capture_rule *r = &c->outbound[i];
		json_t *cidrs = json_array(), *ports = json_array();

		for (unsigned j = 0; j < r->n_cidrs; j++)
			json_array_append_new(cidrs, json_string(mw_cidr_str(&r->cidrs[j], buf,
									       sizeof(buf))));
		for (unsigned j = 0; j < r->n_ports; j++) {
			if (r->ports[j].lo == r->ports[j].hi)
				snprintf(buf, sizeof(buf), "%u", r->ports[j].lo);
			else
				snprintf(buf, sizeof(buf), "%u-%u", r->ports[j].lo, r->ports[j].hi);
			json_array_append_new(ports, json_string(buf));
		}
		json_array_append_new(out, json_pack("{s:o, s:o, s:b}", "cidrs", cidrs, "ports",
						     ports, "exclude", r->exclude));
	}
	for (unsigned i = 0; i < c->n_inbound; i++) {
		json_t *o = json_pack("{s:i, s:i}", "port", c->inbound[i].port, "backend_port",
				      c->inbound[i].backend_port);

		json_object_set_new(o, "error",
				    d->inbound_err[i][0] ? json_string(d->inbound_err[i]) : json_null());
		json_array_append_new(in, o);
	}
	return json_pack("{s:o, s:o}", "outbound", out, "inbound", in);
}

static int op_status(struct mw_daemon *d, json_t **ret)
{
	const struct mw_flow_counters *fc = flows_counters(d->flows);
	json_t *listen = json_array(), *enrolled = json_array(), *agent, *counters, *bpf;
	uint64_t stats[MW_STAT_MAX] = {};
	static const char *const stat_names[MW_STAT_MAX] = {
		"connect_seen",	      "captured",	"refused",
		"passed_open",	      "excluded",	"flow_keyed",
		"origdst_answered",   "peername_rewritten", "bind_moved",
		"spliced",
	};
	char buf[128];

	for (unsigned i = 0; i < d->config->n_listen; i++)
		json_array_append_new(listen, json_string(mw_sockaddr_str(
						      (const struct sockaddr *)&d->config->listen[i].ss,
						      buf, sizeof(buf))));
	agent = json_pack("{s:s, s:i, s:I, s:s, s:b, s:o, s:s, s:b, s:s, s:s}", "version",
			  MW_VERSION, "pid", (int)getpid(), "uptime_sec",
			  (json_int_t)((mw_now_mono_usec() - d->start_mono) / 1000000ULL), "fail",
			  d->config->fail == MW_FAIL_OPEN ? "open" : "closed", "serving",
			  !d->draining, "listen", listen, "bpf_pin_dir", d->config->bpf_pin_dir,
			  "bypass", d->config->bypass, "config",
			  d->config->path[0] ? d->config->path : "(built-in defaults)", "cgroup",
			  d->self_cg);
	for (unsigned i = 0; i < d->n_enrolled; i++) {
		const struct mw_enrolled_cg *e = &d->enrolled[i];

		json_array_append_new(
			enrolled,
			json_pack("{s:s, s:I, s:s, s:o, s:s}", "cgroup", e->path, "id",
				  (json_int_t)e->id, "source", source_name(e->source), "unit",
				  e->unit[0] ? json_string(e->unit) : json_null(), "since",
				  iso_time(e->since_wall, buf, sizeof(buf))));
	}
	counters = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "flows_active",
			     (json_int_t)fc->active, "flows_total", (json_int_t)fc->total,
			     "flows_refused", (json_int_t)fc->refused, "flows_failed",
			     (json_int_t)fc->failed, "bytes_up", (json_int_t)fc->bytes_up,
			     "bytes_down", (json_int_t)fc->bytes_down, "origin_missing",
			     (json_int_t)fc->origin_missing);
	if (counters && d->inspect_env && d->inspect_env->oidc) {
		struct mw_oidc_cache_stats cs;

		oidc_cache_stats(d->inspect_env->oidc, &cs);
		json_object_set_new(counters, "token_cache_entries",
				    json_integer((json_int_t)cs.entries));
		json_object_set_new(counters, "token_cache_hits", json_integer((json_int_t)cs.hits));
		json_object_set_new(counters, "token_cache_misses",
				    json_integer((json_int_t)cs.misses));
		json_object_set_new(counters, "token_cache_evictions",
				    json_integer((json_int_t)cs.evictions));
	}
	bpf = json_object();
	loader_stats(d->loader, stats);
	for (unsigned i = 0; i < MW_STAT_MAX; i++)
		json_object_set_new(bpf, stat_names[i], json_integer((json_int_t)stats[i]));
	*ret = json_pack("{s:o, s:o, s:o, s:o, s:o}", "agent", agent, "enrolled", enrolled,
			 "capture", capture_json(d), "counters", counters, "bpf", bpf);
	return *ret ? 0 : -ENOMEM;
}

/* ---- enroll / unenroll ------------------------------------------------------------------ */

static void log_enrollment(const char *mid, const char *verb, const struct mw_priv_reply *rep,
			   const char *source)
{
	struct mw_log_fields lf = {};
	char unit[256];

	cgroup_unit_name(rep->path, unit, sizeof(unit));
	log_fields_add(&lf, "MCPW_CGROUP", "%s", rep->path);
	log_fields_add(&lf, "MCPW_CGROUP_ID", "%llu", (unsigned long long)rep->id);
	log_fields_add(&lf, "MCPW_UNIT", "%s", unit);
	log_fields_add(&lf, "MCPW_SOURCE", "%s", source);
	log_event(LOG_NOTICE, mid, &lf, "%s '%s' (cgroup id %llu)", verb, rep->path,
		  (unsigned long long)rep->id);
}

/* Turn a selector into a cgroup path (not yet checked: the helper does that). */
static int selector_path(struct mw_daemon *d, enum mw_enroll_kind kind, const char *value,
			 pid_t pid, char *path, size_t size, char *errbuf, size_t errlen)
{
	char rel[PATH_MAX];
	int r;

	if (pid > 0) {
		r = cgroup_of_pid(d->cg_mount, pid, path, size);
		if (r < 0)
			snprintf(errbuf, errlen, "no process with pid %d: %s", (int)pid,
				 strerror(-r));
		return r;
	}
	if (kind == MW_ENROLL_UNIT) {
		r = unit_cgroup(value, rel, sizeof(rel), errbuf, errlen);
		if (r < 0)
			return r;
		snprintf(path, size, "%s%s", d->cg_mount, rel);
		return 0;
	}
	snprintf(path, size, "%s", value);
	return 0;
}

static int enroll_path(struct mw_daemon *d, const char *path, enum mw_enroll_source source,
		       struct mw_priv_reply *rep, char *errbuf, size_t errlen)
{
	int r = priv_call(&d->priv, MW_PRIV_ENROLL, path, rep);

	if (r < 0) {
		snprintf(errbuf, errlen, "the privileged helper did not answer: %s", strerror(-r));
		return r;
	}
	if (rep->err == -EEXIST && daemon_enrolled_find(d, rep->id))
		return -EEXIST;
	if (rep->err < 0) {
		snprintf(errbuf, errlen, "%s", rep->msg);
		return rep->err;
	}
	daemon_enrolled_add(d, rep->id, rep->path, source);
	log_enrollment(MW_MID_ENROLL, "enrolled", rep, source_name(source));
	if (rep->existing_sockets)
		log_warning("'%s' already holds %u TCP sockets; they are not captured (cgroup "
			    "membership is fixed at socket creation)",
			    rep->path, rep->existing_sockets);
	return 0;
}

int daemon_enroll_spec(struct mw_daemon *d, const struct mw_enroll_spec *spec,
		       enum mw_enroll_source source, char *errbuf, size_t errlen)
{
	struct mw_priv_reply rep;
	char path[PATH_MAX];
	int r;

	r = selector_path(d, spec->kind, spec->value, 0, path, sizeof(path), errbuf, errlen);
	if (r < 0)
		return r;
	r = enroll_path(d, path, source, &rep, errbuf, errlen);
	if (r == -EEXIST) {
		daemon_enrolled_find(d, rep.id)->source = source;
		return 0;
	}
	return r;
}

int daemon_unenroll_path(struct mw_daemon *d, const char *path, char *errbuf, size_t errlen)
{
	struct mw_priv_reply rep;
	int r = priv_call(&d->priv, MW_PRIV_UNENROLL, path, &rep);

	if (r < 0) {
		snprintf(errbuf, errlen, "the privileged helper did not answer: %s", strerror(-r));
		return r;
	}
	if (rep.err < 0) {
		snprintf(errbuf, errlen, "%s", rep.msg);
		return rep.err;
	}
	enrolled_remove(d, rep.id);
	log_enrollment(MW_MID_UNENROLL, "unenrolled", &rep, "control");
	return 0;
}

/* {"cgroup": P} | {"unit": N} | {"slice": N} | {"pid": N} -> a cgroup path. */
static int request_selector(struct mw_daemon *d, json_t *req, char *path, size_t size,
			    char *errbuf, size_t errlen)
{
	static const char *const keys[] = { "cgroup", "unit", "slice", "pid" };
	const char *key = NULL;
	json_t *v = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		json_t *x = json_object_get(req, keys[i]);

		if (!x)
			continue;
		if (key) {
			snprintf(errbuf, errlen, "give exactly one of cgroup, unit, slice, pid");
			return -EINVAL;
		}
		key = keys[i];
		v = x;
	}
	if (!key) {
		snprintf(errbuf, errlen, "missing selector: cgroup, unit, slice or pid");
		return -EINVAL;
	}
	if (!strcmp(key, "pid")) {
		if (!json_is_integer(v) || json_integer_value(v) <= 0 ||
		    json_integer_value(v) > INT32_MAX) {
			snprintf(errbuf, errlen, "'pid' must be a positive integer");
			return -EINVAL;
		}
		return selector_path(d, MW_ENROLL_CGROUP, NULL, (pid_t)json_integer_value(v), path,
				     size, errbuf, errlen);
	}
	if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) >= size) {
		snprintf(errbuf, errlen, "'%s' must be a non-empty string", key);
		return -EINVAL;
	}
	return selector_path(d, strcmp(key, "cgroup") ? MW_ENROLL_UNIT : MW_ENROLL_CGROUP,
			     json_string_value(v), 0, path, size, errbuf, errlen);
}

static int op_enroll(struct mw_daemon *d, json_t *req, json_t **ret, char *errbuf, size_t errlen)
{
	struct mw_priv_reply rep;
	char path[PATH_MAX];
	int r;

	r = request_selector(d, req, path, sizeof(path), errbuf, errlen);
	if (r < 0)
		return r;
	r = enroll_path(d, path, MW_SRC_CONTROL, &rep, errbuf, errlen);
	if (r == -EEXIST) {
		snprintf(errbuf, errlen, "'%s' is already enrolled", rep.path);
		return -EEXIST;
	}
	if (r < 0)
		return r == -EINVAL ? -EIO : r; /* -EINVAL would read as a usage error */
	*ret = json_pack("{s:{s:s, s:I, s:i}}", "enrolled", "cgroup", rep.path, "id",
			 (json_int_t)rep.id, "existing_sockets", (int)rep.existing_sockets);
	if (*ret && rep.existing_sockets) {
		char w[256];

		snprintf(w, sizeof(w),
			 "%u %s opened before enrollment %s not captured (the kernel fixes "
			 "cgroup membership at socket creation)",
			 rep.existing_sockets, rep.existing_sockets == 1 ? "socket" : "sockets",
			 rep.existing_sockets == 1 ? "is" : "are");
		json_object_set_new(*ret, "warning", json_string(w));
	}
	return *ret ? 0 : -ENOMEM;
}

static int op_unenroll(struct mw_daemon *d, json_t *req, json_t **ret, char *errbuf,
		       size_t errlen)
{
	char path[PATH_MAX];
	uint64_t id = 0;
	int r;

	r = request_selector(d, req, path, sizeof(path), errbuf, errlen);
	if (r < 0)
		return r;
	r = daemon_unenroll_path(d, path, errbuf, errlen);
	if (r < 0)
		return r == -EINVAL ? -EIO : r;
	cgroup_id_of_path(path, &id);
	*ret = json_pack("{s:{s:s, s:I}}", "unenrolled", "cgroup", path, "id", (json_int_t)id);
	return *ret ? 0 : -ENOMEM;
}

int daemon_control(void *userdata, const struct ucred *peer, json_t *request, json_t **ret_reply,
		   char *errbuf, size_t errlen)
{
	struct mw_daemon *d = userdata;
	const char *cmd = json_string_value(json_object_get(request, "command"));

	if (!strcmp(cmd, "status"))
		return op_status(d, ret_reply);
	if (!strcmp(cmd, "flows"))
		return op_flows(d, request, ret_reply);
	if (!strcmp(cmd, "enroll"))
		return op_enroll(d, request, ret_reply, errbuf, errlen);
	if (!strcmp(cmd, "unenroll"))
		return op_unenroll(d, request, ret_reply, errbuf, errlen);
	if (!strcmp(cmd, "pending") || !strcmp(cmd, "approve") || !strcmp(cmd, "deny") ||
	    !strcmp(cmd, "grants") || !strcmp(cmd, "revoke"))
		return daemon_approvals_control(d, cmd, peer, request, ret_reply, errbuf, errlen);
	snprintf(errbuf, errlen,
		 "unknown command '%s' (status, flows, enroll, unenroll, pending, approve, deny, "
		 "grants, revoke)",
		 cmd);
	return -EINVAL;
}
