/* approval_ops.c: just-in-time approvals in the running agent: the "approvals" settings,
 * the registry's clock, its events (journald, the webhook, the grants file) and the
 * approvers' control commands (pending, approve, deny, grants, revoke).  The dispatch
 * layer: it logs. */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <time.h>

#include "daemon.h"
#include "log.h"
#include "oidc.h"

#define APPROVER_NAME_MAX 256

int daemon_approvals_config(const struct mw_config *c, struct mw_approvals_config *ret,
			    struct mw_diag *diag)
{
	json_t *o = json_object_get(c->root, "approvals"), *v;
	struct mw_approvals_config cfg = { .timeout_usec = MW_APPROVAL_TIMEOUT_DEFAULT,
					   .hold_usec = MW_APPROVAL_HOLD_DEFAULT };
	const char *k;

	json_object_foreach(o, k, v) {
		const char *s = json_string_value(v);
		char key[64];

		snprintf(key, sizeof(key), "approvals.%s", k);
		if (!s)
			return mw_diag_set(diag, -EINVAL, c->path, 0, 0, key, "expected a string");
		if (!strcmp(k, "timeout") || !strcmp(k, "hold")) {
			uint64_t *dst = k[0] == 't' ? &cfg.timeout_usec : &cfg.hold_usec;

			if (mw_parse_duration(s, dst) < 0 || (*dst == 0 && k[0] == 't') ||
			    *dst > MW_TIMEOUT_MAX_USEC)
				return mw_diag_set(diag, -EINVAL, c->path, 0, 0, key,
						   "expected a duration (\"10m\", \"50s\")%s",
						   k[0] == 't' ? " above zero" : "");
		} else if (!strcmp(k, "webhook")) {
			if (strlen(s) >= sizeof(cfg.webhook) ||
			    (strncmp(s, "http://", 7) && strncmp(s, "https://", 8)))
				return mw_diag_set(diag, -EINVAL, c->path, 0, 0, key,
						   "expected an http:// or https:// URL");
			snprintf(cfg.webhook, sizeof(cfg.webhook), "%s", s);
		} else if (!strcmp(k, "justification_argument")) {
			if (!*s || strlen(s) >= sizeof(cfg.justification_arg))
				return mw_diag_set(diag, -EINVAL, c->path, 0, 0, key,
						   "expected an argument name");
			snprintf(cfg.justification_arg, sizeof(cfg.justification_arg), "%s", s);
		} else {
			return mw_diag_set(diag, -EINVAL, c->path, 0, 0, key,
					   "unknown key (timeout, hold, webhook, "
					   "justification_argument)");
		}
	}
	if (cfg.hold_usec > cfg.timeout_usec)
		cfg.hold_usec = cfg.timeout_usec; /* nothing to hold for past the expiry */
	*ret = cfg;
	return 0;
}

/* ---- events ----------------------------------------------------------------------------- */

static const char *event_mid(enum mw_approval_event e)
{
	switch (e) {
	case MW_APPROVAL_EV_NEW:
		return MW_MID_APPROVAL_NEW;
	case MW_APPROVAL_EV_APPROVED:
	case MW_APPROVAL_EV_PARTIAL:
		return MW_MID_APPROVAL_APPROVED;
	case MW_APPROVAL_EV_DENIED:
		return MW_MID_APPROVAL_DENIED;
	case MW_APPROVAL_EV_EXPIRED:
		return MW_MID_APPROVAL_EXPIRED;
	default:
		return MW_MID_APPROVAL_GRANT;
	}
}

static const char *jget(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static void on_approval_event(void *userdata, enum mw_approval_event e, const struct mw_approval *a,
			      const struct mw_grant *g)
{
	struct mw_daemon *d = userdata;
	struct mw_log_fields lf = {};
	json_t *j = a ? approval_to_json(a) : grant_to_json(g), *ev;
	const char *kind = approval_event_str(e);
	char text[1024];

	if (!j)
		return;
	if (a) {
		const char *sub = jget(j, "sub"), *who = sub[0] ? sub : jget(j, "unit");

		log_fields_add(&lf, "MCPW_APPROVAL", "%s", jget(j, "id"));
		log_fields_add(&lf, "MCPW_SUB", "%s", sub);
		log_fields_add(&lf, "MCPW_GROUPS", "%s", jget(j, "groups"));
		log_fields_add(&lf, "MCPW_UNIT", "%s", jget(j, "unit"));
		log_fields_add(&lf, "MCPW_TARGET", "%s", jget(j, "target"));
		log_fields_add(&lf, "MCPW_METHOD", "%s", jget(j, "method"));
		log_fields_add(&lf, "MCPW_TOOL", "%s", jget(j, "tool"));
		log_fields_add(&lf, "MCPW_RULE", "%s", jget(j, "rule"));
		log_fields_add(&lf, "MCPW_SESSION", "%s", jget(j, "session"));
		log_fields_add(&lf, "MCPW_DECISION", "%s", kind);
		log_fields_add(&lf, "MCPW_APPROVER", "%s", jget(j, "decided_by"));
		log_fields_add(&lf, "MCPW_REASON", "%s", jget(j, "reason"));
		if (e == MW_APPROVAL_EV_NEW)
			snprintf(text, sizeof(text),
				 "Approval %s: %s wants to call %s on %s (rule '%s'); needs %s. "
				 "Approve: mcpwarden approve %s",
				 jget(j, "id"), who, jget(j, "tool"), jget(j, "target"),
				 jget(j, "rule"), jget(j, "who"), jget(j, "id"));
		else
			snprintf(text, sizeof(text), "Approval %s (%s calling %s on %s): %s%s%s%s%s",
				 jget(j, "id"), who, jget(j, "tool"), jget(j, "target"),
				 kind, jget(j, "decided_by")[0] ? " by " : "", jget(j, "decided_by"),
				 jget(j, "reason")[0] ? ": " : "", jget(j, "reason"));
	} else {
		log_fields_add(&lf, "MCPW_APPROVAL", "%s", jget(j, "id"));
		log_fields_add(&lf, "MCPW_TOOL", "%s", jget(j, "tool"));
		log_fields_add(&lf, "MCPW_TARGET", "%s", jget(j, "target"));
		log_fields_add(&lf, "MCPW_DECISION", "%s", kind);
		snprintf(text, sizeof(text), "Grant %s (%s, %s on %s): %s", jget(j, "id"),
			 jget(j, "identity"), jget(j, "tool"), jget(j, "target"),
			 e == MW_APPROVAL_EV_REVOKED ? "revoked" : "expired");
	}
	log_event(e == MW_APPROVAL_EV_NEW || e == MW_APPROVAL_EV_DENIED ? LOG_WARNING : LOG_NOTICE,
		  event_mid(e), &lf, "%s", text);
	ev = json_pack("{s:s, s:s, s:o}", "text", text, "event", kind, a ? "approval" : "grant", j);
	if (ev)
		webhook_post(d->webhook, ev);
	else
		json_decref(j);
}

static void grants_persist(struct mw_daemon *d)
{
	int r = grants_save(d->approvals, d->grants_path);

	if (r < 0)
		log_error_errno(r, "Cannot write the grants file '%s'; grants made now last only "
				   "until the agent stops",
				d->grants_path);
}

static int on_approval_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct mw_daemon *d = userdata;

	if (approvals_tick(d->approvals, mw_now_wall_usec()) > 0)
		grants_persist(d);
	sd_event_source_set_time_relative(s, MW_APPROVAL_TICK_USEC);
	return 0;
}

static void flow_wake_cb(void *userdata)
{
	flow_wake(userdata); /* inspect_new's userdata is the flow (ops.c) */
}

int daemon_approvals_start(struct mw_daemon *d)
{
	struct mw_diag diag = {};
	char buf[1024];
	int r;

	snprintf(d->grants_path, sizeof(d->grants_path), "%s/grants", d->config->state_dir);
	r = approvals_new(d->approvals_cfg.timeout_usec, on_approval_event, d, &d->approvals);
	if (r < 0)
		return log_error_errno(r, "Cannot set up approvals");
	r = grants_load(d->approvals, d->grants_path, mw_now_wall_usec(), &diag);
	if (r < 0)
		log_error("Grants not restored: %s", mw_diag_format(&diag, buf, sizeof(buf)));
	r = sd_event_add_time_relative(d->event, &d->approval_timer, CLOCK_MONOTONIC,
				       MW_APPROVAL_TICK_USEC, 0, on_approval_tick, d);
	if (r < 0)
		return log_error_errno(r, "Cannot start the approvals clock");
	sd_event_source_set_enabled(d->approval_timer, SD_EVENT_ON);
	daemon_approvals_apply(d, &d->approvals_cfg, d->inspect_env);
	return 0;
}

void daemon_approvals_apply(struct mw_daemon *d, const struct mw_approvals_config *cfg,
			    struct mw_inspect_env *env)
{
	if (cfg != &d->approvals_cfg)
		d->approvals_cfg = *cfg;
	if (!d->approvals)
		return; /* not started yet: daemon_approvals_start() applies it */
	approvals_set_timeout(d->approvals, cfg->timeout_usec);
	if (!d->webhook || strcmp(webhook_url(d->webhook), cfg->webhook)) {
		d->webhook = webhook_stop(d->webhook);
		if (cfg->webhook[0] && webhook_start(cfg->webhook, &d->webhook) < 0)
			log_error("Cannot start the approvals webhook: events go to the journal only");
	}
	if (env) {
		env->approvals = d->approvals;
		env->hold_usec = cfg->hold_usec;
		free(env->justification_arg);
		env->justification_arg =
			cfg->justification_arg[0] ? strdup(cfg->justification_arg) : NULL;
		env->wake = flow_wake_cb;
	}
}

void daemon_approvals_release(struct mw_daemon *d)
{
	if (d->approvals)
		approvals_release_all(d->approvals);
}

void daemon_approvals_stop(struct mw_daemon *d)
{
	d->approval_timer = sd_event_source_disable_unref(d->approval_timer);
	d->approvals = approvals_free(d->approvals);
	d->webhook = webhook_stop(d->webhook);
}

/* ---- who is at the control socket ------------------------------------------------------- */

struct approver_id {
	struct mw_approver who;
	char user[APPROVER_NAME_MAX];
	char *groups[MW_APPROVER_GROUPS_MAX];
	struct mw_jwt_claims *claims;
};

static void approver_id_clear(struct approver_id *id)
{
	for (size_t i = 0; i < id->who.n_groups; i++)
		free(id->groups[i]);
	jwt_claims_free(id->claims);
}

/* SO_PEERCRED uid -> user name and its groups (getgrouplist), plus an OIDC token's
 * subject and groups when one is presented. */
static int approver_identify(struct mw_daemon *d, const struct ucred *peer, json_t *req,
			     struct approver_id *id, char *errbuf, size_t errlen)
{
	const char *token = json_string_value(json_object_get(req, "token"));
	struct passwd pw, *pwp = NULL;
	gid_t gids[MW_APPROVER_GROUPS_MAX];
	int ng = MW_APPROVER_GROUPS_MAX;
	char buf[16384];

	id->who.uid = peer->uid;
	if (getpwuid_r(peer->uid, &pw, buf, sizeof(buf), &pwp) == 0 && pwp) {
		snprintf(id->user, sizeof(id->user), "%s", pw.pw_name);
		id->who.user = id->user;
		if (getgrouplist(pw.pw_name, pw.pw_gid, gids, &ng) < 0)
			ng = MW_APPROVER_GROUPS_MAX; /* more than we consider: the first ones */
		for (int i = 0; i < ng; i++) {
			struct group gr, *grp = NULL;

			if (getgrgid_r(gids[i], &gr, buf, sizeof(buf), &grp) == 0 && grp) {
				id->groups[id->who.n_groups] = strdup(gr.gr_name);
				if (id->groups[id->who.n_groups])
					id->who.n_groups++;
			}
		}
		id->who.groups = (const char *const *)id->groups;
	}
	if (token) {
		struct mw_oidc *o = d->inspect_env ? d->inspect_env->oidc : NULL;
		char why[256];

		if (!o) {
			snprintf(errbuf, errlen, "--token: no identity provider is configured");
			return -EPERM;
		}
		if (oidc_verify(o, token, strlen(token), (uint64_t)time(NULL), &id->claims, why,
				sizeof(why)) < 0) {
			snprintf(errbuf, errlen, "--token: %s", why);
			return -EPERM;
		}
		id->who.sub = id->claims->sub;
		id->who.oidc_groups = (const char *const *)id->claims->groups;
		id->who.n_oidc_groups = id->claims->n_groups;
	}
	return 0;
}

/* ---- commands --------------------------------------------------------------------------- */

static const char *req_id(json_t *req, char *errbuf, size_t errlen)
{
	const char *id = json_string_value(json_object_get(req, "id"));

	if (!id || !*id || strlen(id) > 32)
		snprintf(errbuf, errlen, "an approval id is required");
	return id && *id && strlen(id) <= 32 ? id : NULL;
}

static int op_decide(struct mw_daemon *d, bool approve, const struct ucred *peer, json_t *req,
		     json_t **ret, char *errbuf, size_t errlen)
{
	const char *id = req_id(req, errbuf, errlen);
	const char *reason = json_string_value(json_object_get(req, "reason"));
	const char *dur = json_string_value(json_object_get(req, "for"));
	bool any_args = json_is_true(json_object_get(req, "any_args"));
	struct approver_id who = { .who = { .uid = -1 } };
	struct mw_approval *a;
	uint64_t for_usec = 0;
	int r;

	if (!id)
		return -EINVAL;
	if (reason && strlen(reason) > MW_APPROVAL_FIELD_MAX) {
		snprintf(errbuf, errlen, "--reason: at most %d bytes", MW_APPROVAL_FIELD_MAX);
		return -EINVAL;
	}
	if (!approve && (!reason || !*reason)) {
		snprintf(errbuf, errlen, "deny needs --reason (the caller is told it)");
		return -EINVAL;
	}
	if (dur && (mw_parse_duration(dur, &for_usec) < 0 || !for_usec ||
		    for_usec > MW_TIMEOUT_MAX_USEC)) {
		snprintf(errbuf, errlen, "--for: expected a duration (\"15m\", \"8h\", \"7d\")");
		return -EINVAL;
	}
	r = approver_identify(d, peer, req, &who, errbuf, errlen);
	if (r == 0)
		r = approvals_decide(d->approvals, id, &who.who, approve, reason, for_usec,
				     any_args, mw_now_wall_usec(), errbuf, errlen);
	approver_id_clear(&who);
	if (r < 0) {
		struct mw_log_fields lf = {};

		log_fields_add(&lf, "MCPW_APPROVAL", "%.32s", id);
		log_fields_add(&lf, "MCPW_UID", "%u", (unsigned)peer->uid);
		log_fields_add(&lf, "MCPW_DECISION", "refused");
		log_fields_add(&lf, "MCPW_REASON", "%s", errbuf);
		log_event(LOG_WARNING, NULL, &lf, "%s of approval '%.32s' by uid %u refused: %s",
			  approve ? "Approval" : "Denial", id, (unsigned)peer->uid, errbuf);
		return r == -EINVAL ? -EPERM : r; /* -EINVAL reads as a usage error */
	}
	if (for_usec && approve)
		grants_persist(d);
	a = approvals_find(d->approvals, id);
	*ret = json_pack("{s:o}", "approval", a ? approval_to_json(a) : json_null());
	return *ret ? 0 : -ENOMEM;
}

int daemon_approvals_control(struct mw_daemon *d, const char *cmd, const struct ucred *peer,
			     json_t *request, json_t **ret_reply, char *errbuf, size_t errlen)
{
	if (!d->approvals) {
		snprintf(errbuf, errlen, "approvals are not running");
		return -EIO;
	}
	if (!strcmp(cmd, "pending")) {
		bool all = json_is_true(json_object_get(request, "all"));

		*ret_reply = json_pack("{s:o}", "approvals", approvals_list(d->approvals, all));
		return *ret_reply ? 0 : -ENOMEM;
	}
	if (!strcmp(cmd, "approve") || !strcmp(cmd, "deny"))
		return op_decide(d, cmd[0] == 'a', peer, request, ret_reply, errbuf, errlen);
	if (!strcmp(cmd, "grants")) {
		*ret_reply = json_pack("{s:o}", "grants",
				       grants_list(d->approvals, mw_now_wall_usec()));
		return *ret_reply ? 0 : -ENOMEM;
	}
	if (!strcmp(cmd, "revoke")) {
		const char *id = req_id(request, errbuf, errlen);
		int r;

		if (!id)
			return -EINVAL;
		/* revoking takes away, it never lets anything through: root and the
		 * control group (who reach this socket) may */
		r = grants_revoke(d->approvals, id);
		if (r < 0) {
			snprintf(errbuf, errlen, "no grant '%s'", id);
			return r;
		}
		grants_persist(d);
		*ret_reply = json_pack("{s:s}", "revoked", id);
		return *ret_reply ? 0 : -ENOMEM;
	}
	snprintf(errbuf, errlen, "unknown command '%s'", cmd);
	return -EINVAL;
}
