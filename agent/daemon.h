/* daemon.h: the running agent's state, shared by main.c (lifecycle: start-up, signals,
 * reload, drain) and ops.c (what the control socket and the flow callbacks do with it). */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "approval.h"
#include "approval_webhook.h"
#include "config.h"
#include "control.h"
#include "flow.h"
#include "journal.h"
#include "loader.h"
#include "priv.h"
#include "tls_env.h"

#define MW_VERSION "0.1.0"
#define MW_CGROUP_CACHE 128

enum mw_enroll_source {
	MW_SRC_CONFIG = 0,  /* from the config's "enroll" */
	MW_SRC_CONTROL = 1, /* `mcpwarden enroll` at run time */
	MW_SRC_PINNED = 2,  /* found pinned by a previous agent */
};

struct mw_enrolled_cg {
	uint64_t id;
	char path[PATH_MAX];
	char unit[256];
	enum mw_enroll_source source;
	uint64_t since_wall;
};

struct mw_cg_cache {
	uint64_t id;
	char path[PATH_MAX];
	char unit[256];
};

/* "approvals" in the config. */
#define MW_APPROVAL_TIMEOUT_DEFAULT (600ULL * 1000000ULL) /* "timeout": a pending approval */
#define MW_APPROVAL_HOLD_DEFAULT (50ULL * 1000000ULL)	  /* "hold": a connection waits */
#define MW_APPROVAL_KEEPALIVE_DEFAULT (15ULL * 1000000ULL) /* "keepalive": SSE comments */
#define MW_APPROVAL_KEEPALIVE_MIN (1000000ULL)
#define MW_APPROVAL_TICK_USEC 250000ULL
struct mw_approvals_config {
	uint64_t timeout_usec, hold_usec, keepalive_usec;
	char webhook[MW_WEBHOOK_URL_MAX];
	char justification_arg[128];
};

struct mw_daemon {
	struct mw_config *config;
	const char *config_arg; /* --config as given, NULL for the default */
	sd_event *event;
	struct mw_loader *loader;
	struct mw_priv priv;
	struct mw_flows *flows;
	struct mw_control *control;
	char cg_mount[PATH_MAX];
	char self_cg[PATH_MAX];
	uint64_t self_cg_id;
	uint32_t generation;
	uint64_t start_mono, start_wall;
	uint64_t drain_start; /* when SIGTERM began the drain */
	struct mw_enrolled_cg enrolled[MW_ENROLLED_MAX];
	unsigned n_enrolled;
	struct mw_cg_cache cg_cache[MW_CGROUP_CACHE];
	unsigned cg_cache_next;
	char inbound_err[MW_MAX_INBOUND][128]; /* why an inbound port is not served, "" if it is */
	struct mw_inspect_env *inspect_env; /* NULL: no policy, no checkpoint */
	struct mw_tls_env *tls_env;	    /* CA, upstream rules, credentials (tls_env.h) */
	struct mw_journal_config journal_config;
	struct mw_journal *journal; /* NULL: "journal": {"mode": "off"} */
	/* the journal's masker ("journal"."mask"), loaded with the config, handed to the
	 * journal when it opens (it owns it from then on) */
	struct mw_masker *journal_masker;
	struct mw_approvals *approvals;	    /* held calls and grants (approval_ops.c) */
	struct mw_approvals_config approvals_cfg;
	struct mw_webhook *webhook;
	sd_event_source *approval_timer;
	char grants_path[PATH_MAX];
	bool draining;
	int exit_code;
};

/* ops.c */
int daemon_control(void *userdata, const struct ucred *peer, json_t *request, json_t **ret_reply,
		   char *errbuf, size_t errlen);
extern const struct mw_flows_ops daemon_flow_ops;
/* Enroll what a config entry names; logs the outcome once. */
int daemon_enroll_spec(struct mw_daemon *d, const struct mw_enroll_spec *spec,
		       enum mw_enroll_source source, char *errbuf, size_t errlen);
int daemon_unenroll_path(struct mw_daemon *d, const char *path, char *errbuf, size_t errlen);
void daemon_cgroup_describe(struct mw_daemon *d, uint64_t id, const char **ret_path,
			    const char **ret_unit);
struct mw_enrolled_cg *daemon_enrolled_find(struct mw_daemon *d, uint64_t id);
void daemon_enrolled_add(struct mw_daemon *d, uint64_t id, const char *path,
			 enum mw_enroll_source source);

/* The journal's eventfd: move what became durable, report failures and gaps. */
int daemon_journal_event(sd_event_source *s, int fd, uint32_t revents, void *userdata);
/* A reload's "journal" object: rotation, retention, seal and batching settings apply at
 * once; dir, mode, group and mask after a restart (logged); a bad object keeps them all. */
void daemon_journal_reload(struct mw_daemon *d, const struct mw_config *c);

/* inspect_env.c */
int daemon_inspect_env_load(const struct mw_config *c, struct mw_inspect_env **ret,
			    struct mw_diag *diag);
int daemon_inspect_env_start(struct mw_inspect_env *e);
/* The masker from "masking" and "journal"."mask", with the host key (see inspect_env.c);
 * text/len: the config's raw text for diagnostics (may be NULL). */
struct mw_masker;
int daemon_masker_load(const struct mw_config *c, const char *text, size_t len,
		       struct mw_masker **ret, struct mw_diag *diag);
void daemon_inspect_env_stop(struct mw_inspect_env *e);

/* approval_ops.c: just-in-time approvals in the running agent */
int daemon_approvals_config(const struct mw_config *c, struct mw_approvals_config *ret,
			    struct mw_diag *diag);
int daemon_approvals_start(struct mw_daemon *d);
/* The settings and the webhook of a (re)loaded config; env (may be NULL) gets the registry. */
void daemon_approvals_apply(struct mw_daemon *d, const struct mw_approvals_config *cfg,
			    struct mw_inspect_env *env);
/* Held calls are answered -32012 (the agent is stopping); grants stay on disk. */
void daemon_approvals_release(struct mw_daemon *d);
void daemon_approvals_stop(struct mw_daemon *d);
int daemon_approvals_control(struct mw_daemon *d, const char *cmd, const struct ucred *peer,
			     json_t *request, json_t **ret_reply, char *errbuf, size_t errlen);

/* main.c */
/* Translate the config's capture section into kernel rules; fills errbuf on failure. */
int daemon_capture_rules(const struct mw_config *c, struct mw_capture_entry *rules, unsigned *n,
			 char *errbuf, size_t errlen);
