/* main.c: mcpwardend, the daemon: configuration, start-up, signals, reload, drain.
 *
 * Start-up does everything that needs privileges first (load and pin the capture
 * programs, attach them, bind the listeners), forks the privileged helper that enrolls
 * cgroups at run time, then drops every capability before it reads a byte from a flow. */
#include <getopt.h>
#include <inttypes.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <sys/capability.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "cgroup.h"
#include "daemon.h"
#include "log.h"
#include "mask.h"

#define DRAIN_POLL_USEC 100000ULL
#define LISTEN_BACKLOG 4096

static const char *arg_config;
static bool arg_check;
static bool arg_remove_pins;
static bool arg_stderr;
static int arg_level = LOG_INFO;

static void help(void)
{
	printf("Usage: mcpwardend [OPTIONS]\n"
	       "\n"
	       "The mcpwarden agent: captures the sockets of enrolled cgroups with eBPF and\n"
	       "relays them, attributed, through this process.  Runs in the foreground\n"
	       "(systemd Type=notify).\n"
	       "\n"
	       "Options:\n"
	       "  -c, --config FILE   configuration (default %s; a missing default file\n"
	       "                      means built-in defaults, a missing named file is an error)\n"
	       "      --check-config  validate the configuration and exit\n"
	       "      --remove-pins   remove every BPF pin (capture stops everywhere) and exit\n"
	       "      --stderr        log to stderr even when journald is available\n"
	       "      --debug         log debug messages\n"
	       "  -h, --help          show this help\n"
	       "      --version       show the version\n"
	       "\n"
	       "Signals: SIGTERM/SIGINT drain and stop, SIGHUP reloads the configuration (a bad\n"
	       "one is reported and the running one kept).\n"
	       "Exit status: 0 success, 1 failure, 2 usage or configuration error.\n",
	       MW_CONFIG_PATH_DEFAULT);
}

static int parse_args(int argc, char **argv)
{
	enum { OPT_CHECK = 256, OPT_REMOVE_PINS, OPT_STDERR, OPT_DEBUG, OPT_VERSION };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, OPT_CHECK },
		{ "remove-pins", no_argument, NULL, OPT_REMOVE_PINS },
		{ "stderr", no_argument, NULL, OPT_STDERR },
		{ "debug", no_argument, NULL, OPT_DEBUG },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{},
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			arg_config = optarg;
			break;
		case OPT_CHECK:
			arg_check = true;
			break;
		case OPT_REMOVE_PINS:
			arg_remove_pins = true;
			break;
		case OPT_STDERR:
			arg_stderr = true;
			break;
		case OPT_DEBUG:
			arg_level = LOG_DEBUG;
			break;
		case 'h':
			help();
			exit(0);
		case OPT_VERSION:
			printf("mcpwardend %s\n", MW_VERSION);
			exit(0);
		default:
			fprintf(stderr, "Try 'mcpwardend --help' for more information.\n");
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mcpwardend: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

int daemon_capture_rules(const struct mw_config *c, struct mw_capture_entry *rules, unsigned *n,
			 char *errbuf, size_t errlen)
{
	static const struct mw_cidr any = { .prefixlen = 0 };
	static const struct mw_port_range all = { .lo = 0, .hi = 65535 };

	*n = 0;
	for (unsigned i = 0; i < c->n_outbound; i++) {
		const struct mw_capture_rule *r = &c->outbound[i];
		unsigned nc = r->n_cidrs ? r->n_cidrs : 1, np = r->n_ports ? r->n_ports : 1;

		for (unsigned a = 0; a < nc; a++)
			for (unsigned p = 0; p < np; p++) {
				const struct mw_cidr *cidr = r->n_cidrs ? &r->cidrs[a] : &any;
				const struct mw_port_range *pr = r->n_ports ? &r->ports[p] : &all;
				struct mw_capture_entry *e;

				if (*n >= MW_CAPTURE_RULES_MAX) {
					snprintf(errbuf, errlen,
						 "capture.outbound expands to more than %d "
						 "(CIDR x port range) entries",
						 MW_CAPTURE_RULES_MAX);
					return -E2BIG;
				}
				e = &rules[(*n)++];
				memset(e, 0, sizeof(*e));
				memcpy(e->addr, cidr->addr, 16);
				e->prefixlen = cidr->prefixlen;
				e->action = r->exclude ? MW_RULE_EXCLUDE : MW_RULE_CAPTURE;
				e->port_lo = pr->lo;
				e->port_hi = pr->hi;
			}
	}
	return 0;
}

/* Publish the agent's settings to the capture programs. */
static int publish_settings(struct mw_daemon *d, enum mw_agent_state state)
{
	struct mw_settings s = {};
	bool have4 = false, have6 = false;
	int r;

	r = loader_settings_get(d->loader, &s);
	if (r < 0)
		return r;
	s.abi_version = MW_ABI_VERSION;
	s.state = state;
	s.fail_open = d->config->fail == MW_FAIL_OPEN;
	s.agent_tgid = (uint32_t)getpid();
	s.agent_cgroup_id = d->self_cg_id;
	s.bypass = d->config->bypass;
	s.generation = d->generation;
	s.port4 = s.port6 = 0;
	for (unsigned i = 0; i < d->config->n_listen; i++) {
		const struct mw_sockaddr *sa = &d->config->listen[i];

		if (sa->ss.ss_family == AF_INET && !have4) {
			mw_addr16(&sa->ss, s.listen4, &s.port4);
			have4 = true;
		} else if (sa->ss.ss_family == AF_INET6 && !have6) {
			mw_addr16(&sa->ss, s.listen6, &s.port6);
			have6 = true;
		}
	}
	return loader_settings_set(d->loader, &s);
}

static int apply_capture(struct mw_daemon *d, const struct mw_config *c)
{
	struct mw_capture_entry rules[MW_CAPTURE_RULES_MAX];
	uint16_t ports[MW_MAX_INBOUND], backends[MW_MAX_INBOUND];
	char err[256];
	unsigned n;
	int r;

	r = daemon_capture_rules(c, rules, &n, err, sizeof(err));
	if (r < 0)
		return log_error_errno(r, "%s", err);
	r = loader_rules_set(d->loader, rules, n);
	if (r < 0)
		return log_error_errno(r, "Failed to publish capture rules");
	for (unsigned i = 0; i < c->n_inbound; i++) {
		ports[i] = c->inbound[i].port;
		backends[i] = c->inbound[i].backend_port;
	}
	r = loader_inbound_set(d->loader, ports, backends, c->n_inbound);
	if (r < 0)
		return log_error_errno(r, "Failed to publish inbound ports");
	return 0;
}

static int bind_listener(const struct sockaddr *sa, socklen_t len, int *ret_fd)
{
	_cleanup_close_ int fd = -1;
	int one = 1;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, sa, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0)
		return -errno;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int open_listeners(struct mw_daemon *d)
{
	char buf[128];
	int fd, r;

	for (unsigned i = 0; i < d->config->n_listen; i++) {
		const struct mw_sockaddr *sa = &d->config->listen[i];

		mw_sockaddr_str((const struct sockaddr *)&sa->ss, buf, sizeof(buf));
		r = bind_listener((const struct sockaddr *)&sa->ss, sa->len, &fd);
		if (r < 0)
			return log_error_errno(r, "Failed to listen on %s", buf);
		r = loader_mark_listener(d->loader, fd, d->generation);
		if (r < 0) {
			close(fd);
			return log_error_errno(r, "Failed to mark the listener for capture");
		}
		r = flows_listen_outbound(d->flows, fd);
		if (r < 0) {
			close(fd);
			return log_error_errno(r, "Failed to serve %s", buf);
		}
	}
	/* inbound: the public ports the gateways' listeners were moved away from */
	for (unsigned i = 0; i < d->config->n_inbound; i++) {
		uint16_t port = d->config->inbound[i].port;
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
		struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };

		r = bind_listener((struct sockaddr *)&sin, sizeof(sin), &fd);
		if (r < 0) {
			snprintf(d->inbound_err[i], sizeof(d->inbound_err[i]),
				 "cannot listen on port %u: %s", port, strerror(-r));
			log_error("Inbound port %u is not served: %s (is a listener that was "
				  "created before enrollment holding it?)",
				  port, strerror(-r));
			continue;
		}
		r = flows_listen_inbound(d->flows, fd, port);
		if (r < 0) {
			close(fd);
			snprintf(d->inbound_err[i], sizeof(d->inbound_err[i]), "cannot serve port %u: %s",
				 port, strerror(-r));
			log_error("Inbound port %u is not served: %s", port, strerror(-r));
			continue;
		}
		if (bind_listener((struct sockaddr *)&sin6, sizeof(sin6), &fd) == 0 &&
		    flows_listen_inbound(d->flows, fd, port) < 0)
			close(fd);
	}
	return 0;
}

/* The agent must sit in a cgroup of its own: its getsockopt program is attached there. */
static int setup_own_cgroup(struct mw_daemon *d)
{
	char procs[PATH_MAX + 32];
	FILE *f;
	int r;

	r = cgroup_find_mount(d->cg_mount, sizeof(d->cg_mount));
	if (r < 0)
		return log_error_errno(r, "No cgroup2 mount found in /proc/self/mountinfo");
	r = cgroup_of_pid(d->cg_mount, getpid(), d->self_cg, sizeof(d->self_cg));
	if (r < 0)
		return log_error_errno(r, "Cannot find the agent's own cgroup");
	if (strcmp(d->self_cg, d->cg_mount) == 0) {
		/* started from the root cgroup (no systemd): make one */
		snprintf(d->self_cg, sizeof(d->self_cg), "%s/mcpwarden.agent", d->cg_mount);
		if (mkdir(d->self_cg, 0755) < 0 && errno != EEXIST)
			return log_error_errno(-errno, "Cannot create cgroup '%s'", d->self_cg);
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", d->self_cg);
		f = fopen(procs, "we");
		if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0)
			return log_error_errno(-errno, "Cannot move the agent into '%s'", d->self_cg);
		log_info("Agent moved into cgroup '%s'", d->self_cg);
	}
	return cgroup_id_of_path(d->self_cg, &d->self_cg_id);
}

static int take_lock(const struct mw_config *c)
{
	char path[PATH_MAX + 32];
	int fd;

	if (mkdir(c->runtime_dir, 0755) < 0 && errno != EEXIST)
		return log_error_errno(-errno, "Cannot create '%s'", c->runtime_dir);
	if (mkdir(c->state_dir, 0750) < 0 && errno != EEXIST)
		return log_error_errno(-errno, "Cannot create '%s'", c->state_dir);
	snprintf(path, sizeof(path), "%s/mcpwardend.lock", c->runtime_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return log_error_errno(-errno, "Cannot open '%s'", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		log_error("Another mcpwardend holds '%s'", path);
		return -EBUSY;
	}
	return fd; /* held for the life of the process */
}

/* Leave uid 0: without capabilities root still owns /proc/sys, /etc and the pins. The
 * daemon keeps what it opened as root (listeners, control socket, map fds); its runtime
 * and state directories become the user's. */
static int become_user(struct mw_daemon *d)
{
	const struct passwd *pw = getpwnam(d->config->user);
	uid_t uid = 65534;
	gid_t gid = 65534;

	if (pw) {
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	} else if (strcmp(d->config->user, MW_USER_DEFAULT) == 0) {
		log_warning("No user '%s' on this host: running as nobody (65534); create a "
			    "system user '%s' for the agent",
			    MW_USER_DEFAULT, MW_USER_DEFAULT);
	} else {
		log_error("user: no user '%s' on this host", d->config->user);
		return -ENOENT;
	}
	if (uid == 0)
		return 0; /* explicitly configured to stay root: capabilities still go */
	if (chown(d->config->runtime_dir, uid, gid) < 0 || chown(d->config->state_dir, uid, gid) < 0)
		return log_error_errno(-errno, "Cannot hand the agent's directories to '%s'",
				       d->config->user);
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return log_error_errno(-errno, "Cannot become user '%s'", d->config->user);
	return 0;
}

/* The session journal, opened as the agent's user so its files are the user's. */
static int start_journal(struct mw_daemon *d)
{
	struct mw_journal_recovery rec;
	struct mw_log_fields lf = {};
	char err[512];
	int r;

	if (d->journal_config.mode == MW_JOURNAL_OFF)
		return 0;
	r = journal_open(&d->journal_config, &d->journal, &rec, err, sizeof(err));
	if (r < 0)
		return log_error_errno(r, "Failed to open the session journal: %s", err);
	r = sd_event_add_io(d->event, NULL, journal_fd(d->journal), EPOLLIN, daemon_journal_event,
			    d);
	if (r < 0)
		return log_error_errno(r, "Failed to watch the session journal");
	flows_set_journal(d->flows, d->journal);
	journal_set_masker(d->journal, TAKE_PTR(d->journal_masker));
	if (rec.truncated_bytes || rec.abandoned || rec.damaged) {
		log_fields_add(&lf, "MCPW_TRUNCATED", "%llu",
			       (unsigned long long)rec.truncated_bytes);
		log_fields_add(&lf, "MCPW_ABANDONED", "%u", rec.abandoned);
		log_event(rec.damaged ? LOG_ALERT : LOG_WARNING, MW_MID_JOURNAL_RECOVERED, &lf,
			  "session journal recovered: %llu bytes of a torn tail cut%s%s, %u open "
			  "sessions abandoned%s",
			  (unsigned long long)rec.truncated_bytes, rec.truncated_file[0] ? " from " : "",
			  rec.truncated_file, rec.abandoned,
			  rec.damaged ? "; the last segment is damaged before its end (run "
					"'mcpwarden-replay verify')"
				      : "");
	}
	log_info("session journal: %s mode in '%s'%s", journal_mode_name(d->journal_config.mode),
		 d->journal_config.dir, rec.sealing ? ", sealed" : ", no seal key (unsealed)");
	return 0;
}

static void adopt_enrolled(struct mw_daemon *d)
{
	uint64_t ids[MW_ENROLLED_MAX];
	unsigned n = loader_enrolled(d->loader, ids, MW_ENROLLED_MAX);
	char path[PATH_MAX];

	for (unsigned i = 0; i < n; i++)
		if (cgroup_path_of_id(d->cg_mount, ids[i], path, sizeof(path)) == 0)
			daemon_enrolled_add(d, ids[i], path, MW_SRC_PINNED);
}

static void enroll_from_config(struct mw_daemon *d, const struct mw_config *c)
{
	char err[512];

	for (unsigned i = 0; i < c->n_enroll; i++)
		if (daemon_enroll_spec(d, &c->enroll[i], MW_SRC_CONFIG, err, sizeof(err)) < 0)
			log_error("Cannot enroll %s '%s' from the configuration: %s",
				  c->enroll[i].kind == MW_ENROLL_UNIT ? "unit" : "cgroup",
				  c->enroll[i].value, err);
}

static void notify_status(struct mw_daemon *d)
{
	sd_notifyf(false, "STATUS=serving: %u cgroups enrolled, %u flows", d->n_enrolled,
		   flows_active(d->flows));
}

static void finish(struct mw_daemon *d, int code)
{
	struct mw_log_fields lf = {};

	log_fields_add(&lf, "MCPW_FLOWS_TOTAL", "%llu",
		       (unsigned long long)flows_counters(d->flows)->total);
	log_event(LOG_NOTICE, MW_MID_AGENT_STOP, &lf, "mcpwarden agent stopped");
	d->exit_code = code;
	sd_event_exit(d->event, code);
}

static int drain_check(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct mw_daemon *d = userdata;
	uint64_t waited = mw_now_mono_usec() - d->drain_start;

	if (flows_active(d->flows) == 0) {
		finish(d, 0);
		return 0;
	}
	if (waited >= d->config->limits.drain_timeout_usec) {
		log_warning("Drain timeout: closing %u flows", flows_active(d->flows));
		flows_close_all(d->flows, "agent stopping (drain timeout)");
		finish(d, 0);
		return 0;
	}
	sd_event_source_set_time_relative(s, DRAIN_POLL_USEC);
	sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return 0;
}

static int on_term(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct mw_daemon *d = userdata;

	daemon_approvals_release(d); /* held calls are answered -32012 before the flows end */
	if (d->draining) {
		flows_close_all(d->flows, "agent stopping");
		finish(d, 0);
		return 0;
	}
	d->draining = true;
	sd_notify(false, "STOPPING=1\nSTATUS=draining");
	/* new connects now meet the fail mode; flows in progress may finish */
	publish_settings(d, MW_AGENT_DRAINING);
	flows_stop_accepting(d->flows);
	log_notice("Draining %u flows (at most %llus)", flows_active(d->flows),
		   (unsigned long long)(d->config->limits.drain_timeout_usec / 1000000ULL));
	d->drain_start = mw_now_mono_usec();
	return sd_event_add_time_relative(d->event, NULL, CLOCK_MONOTONIC, 0, 0, drain_check, d);
}

/* Settings that need a restart stay as they are; say so. */
static void keep_restart_only(const struct mw_config *old, struct mw_config *c)
{
	static const struct {
		const char *key;
		size_t off, len;
	} fields[] = {
#define F(k, m) { k, offsetof(struct mw_config, m), sizeof(((struct mw_config *)0)->m) }
		F("runtime_dir", runtime_dir),	 F("state_dir", state_dir),
		F("bpf_pin_dir", bpf_pin_dir),	 F("control", control_socket),
		F("control.group", control_group), F("listen", listen),
		F("listen", n_listen),		 F("capture.inbound", inbound),
		F("capture.inbound", n_inbound), F("bypass", bypass), F("user", user),
#undef F
	};

	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		char *dst = (char *)c + fields[i].off;
		const char *src = (const char *)old + fields[i].off;

		if (memcmp(dst, src, fields[i].len) == 0)
			continue;
		log_warning("'%s' changed: it takes effect after a restart, ignoring",
			    fields[i].key);
		memcpy(dst, src, fields[i].len);
	}
}

/* An OAuth refresher's fetch (inject_oauth.h), on its thread: each token fetched, the first
 * failure of a run and every MW_OAUTH_FAILURE_LOG_EVERY-th after, and the end of the held
 * token.  Names the credential and the endpoint's answer, never a secret or a token. */
static void oauth_report(const struct mw_oauth_report *rep, void *userdata)
{
	struct mw_log_fields lf = {};

	log_fields_add(&lf, "MCPW_CREDENTIAL", "%s", rep->name);
	if (rep->r == 0) {
		log_fields_add(&lf, "MCPW_DECISION", "%s", rep->first_token ? "fetched" : "refreshed");
		log_fields_add(&lf, "MCPW_TTL", "%" PRIu64, rep->expires_in);
		log_event(LOG_INFO, MW_MID_CREDENTIAL, &lf,
			  "Upstream credential '%s': token %s, valid %" PRIu64 " s%s", rep->name,
			  rep->first_token ? "fetched" : "refreshed", rep->expires_in,
			  rep->failed_before ? " (after failed fetches)" : "");
		return;
	}
	if (rep->failed_before % MW_OAUTH_FAILURE_LOG_EVERY != 0 && !rep->held_expired)
		return;
	log_fields_add(&lf, "MCPW_DECISION", "%s", rep->held_expired ? "expired" : "failed");
	log_fields_add(&lf, "MCPW_REASON", "%s", rep->error);
	log_event(LOG_ERR, MW_MID_CREDENTIAL, &lf,
		  "Upstream credential '%s': token fetch failed (%u in a row)%s: %s", rep->name,
		  rep->failed_before + 1,
		  rep->held_expired ? ", no valid token held: requests get 503" : "", rep->error);
}

static int on_hup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct mw_daemon *d = userdata;
	struct mw_config *c = NULL;
	struct mw_flows_limits lim;
	struct mw_capture_entry rules[MW_CAPTURE_RULES_MAX];
	struct mw_inspect_env *env = NULL;
	struct mw_masker *jmask = NULL;
	struct mw_tls_env *tenv = NULL;
	struct mw_approvals_config acfg;
	struct mw_log_fields lf = {};
	struct mw_diag diag;
	char buf[1024];
	unsigned n;
	int r;

	if (d->draining)
		return 0;
	sd_notify(false, "RELOADING=1");
	r = config_load(d->config_arg, d->config_arg == NULL, &c, &diag);
	if (r == 0 && daemon_capture_rules(c, rules, &n, diag.text, sizeof(diag.text)) < 0) {
		r = -EINVAL;
		diag.file[0] = 0;
		diag.key[0] = 0;
	}
	if (r == 0)
		r = daemon_approvals_config(c, &acfg, &diag);
	if (r == 0)
		r = daemon_inspect_env_load(c, &env, &diag);
	if (r == 0) {
		r = daemon_masker_load(c, NULL, 0, &jmask, &diag);
		if (r < 0) {
			daemon_inspect_env_stop(env);
			env = inspect_env_unref(env);
		}
	}
	if (r == 0) /* the CA and secret files must be readable by the agent's user now */
		r = tls_env_load(c, &tenv, &diag);
	if (r == 0)
		r = tls_env_start(tenv, oauth_report, NULL, &diag);
	if (r < 0) {
		inspect_env_unref(env);
		tls_env_unref(tenv);
		log_fields_add(&lf, "MCPW_DECISION", "kept");
		log_event(LOG_ERR, MW_MID_CONFIG, &lf,
			  "Reload failed, keeping the running configuration: %s",
			  mw_diag_format(&diag, buf, sizeof(buf)));
		config_free(c);
		sd_notify(false, "READY=1");
		return 0;
	}
	if (daemon_inspect_env_start(env) < 0)
		log_error("Cannot start the key refresher: identity keys are fetched only on reload");
	/* flows in progress keep the policy they started with (they hold a reference) */
	daemon_inspect_env_stop(d->inspect_env);
	inspect_env_unref(d->inspect_env);
	d->inspect_env = env;
	daemon_approvals_apply(d, &acfg, env);
	flows_set_inspecting(d->flows, env != NULL);
	if (d->journal)
		journal_set_masker(d->journal, TAKE_PTR(jmask));
	mask_free(jmask);
	/* flows in progress keep their rules and credentials too */
	flows_set_tls(d->flows, tenv);
	tls_env_unref(d->tls_env);
	d->tls_env = tenv;
	keep_restart_only(d->config, c);
	daemon_journal_reload(d, c);
	config_free(d->config);
	d->config = c;
	apply_capture(d, c);
	publish_settings(d, MW_AGENT_SERVING);
	lim = (struct mw_flows_limits){ c->limits.max_flows, c->limits.connect_timeout_usec,
					c->limits.idle_timeout_usec, c->limits.relay_buffer };
	flows_set_limits(d->flows, &lim);
	enroll_from_config(d, c);
	log_fields_add(&lf, "MCPW_DECISION", "applied");
	log_event(LOG_NOTICE, MW_MID_CONFIG, &lf, "Configuration reloaded from %s",
		  c->path[0] ? c->path : "built-in defaults");
	sd_notify(false, "READY=1");
	notify_status(d);
	return 0;
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	notify_status(userdata);
	sd_event_source_set_time_relative(s, 10 * 1000000ULL);
	return 0;
}

static int start(struct mw_daemon *d)
{
	struct mw_flows_limits lim = { d->config->limits.max_flows,
				       d->config->limits.connect_timeout_usec,
				       d->config->limits.idle_timeout_usec,
				       d->config->limits.relay_buffer };
	struct mw_settings old = {};
	struct mw_log_fields lf = {};
	gid_t group = (gid_t)-1;
	sigset_t mask;
	int r, adopted;

	r = take_lock(d->config);
	if (r < 0)
		return r;
	r = setup_own_cgroup(d);
	if (r < 0)
		return r;
	r = loader_open(d->config->bpf_pin_dir, &d->loader);
	if (r < 0)
		return log_error_errno(r, "Failed to load the capture programs (pins under '%s'; "
					  "'mcpwardend --remove-pins' clears pins of another version)",
				       d->config->bpf_pin_dir);
	if (loader_settings_get(d->loader, &old) == 0 && old.abi_version == MW_ABI_VERSION)
		d->generation = old.generation + 1;
	else
		d->generation = 1;
	r = publish_settings(d, MW_AGENT_STOPPED);
	if (r < 0)
		return log_error_errno(r, "Failed to write the capture settings");
	r = apply_capture(d, d->config);
	if (r < 0)
		return r;
	r = loader_attach_self(d->loader, d->self_cg);
	if (r < 0)
		return log_error_errno(r, "Failed to attach getsockopt to '%s'", d->self_cg);
	if (d->config->bypass) {
		r = loader_enable_bypass(d->loader, d->self_cg);
		if (r < 0)
			return log_error_errno(r, "Failed to set up the sockmap bypass");
	}
	adopted = loader_adopt_pinned(d->loader);
	if (adopted < 0)
		log_error("%d pinned enrollments could not be adopted; their pins stay and go on "
			  "capturing with the previous programs ('mcpwarden unenroll' or "
			  "'mcpwardend --remove-pins' clears them)",
			  -adopted);
	adopt_enrolled(d);

	r = priv_start(d->loader, d->cg_mount, d->self_cg, &d->priv);
	if (r < 0)
		return log_error_errno(r, "Failed to start the privileged helper");
	loader_forget_links(d->loader);

	r = sd_event_default(&d->event);
	if (r < 0)
		return log_error_errno(r, "Failed to create the event loop");
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sd_event_add_signal(d->event, NULL, SIGTERM, on_term, d);
	sd_event_add_signal(d->event, NULL, SIGINT, on_term, d);
	sd_event_add_signal(d->event, NULL, SIGHUP, on_hup, d);

	r = flows_new(d->event, d->loader, &lim, &daemon_flow_ops, d, &d->flows);
	if (r < 0)
		return log_error_errno(r, "Failed to set up flows");
	flows_set_inspecting(d->flows, d->inspect_env != NULL);
	flows_set_tls(d->flows, d->tls_env);
	r = open_listeners(d);
	if (r < 0)
		return r;
	if (d->config->control_group[0]) {
		struct group *g = getgrnam(d->config->control_group);

		if (!g) {
			log_error("control.group: no group '%s'", d->config->control_group);
			return -ENOENT;
		}
		group = g->gr_gid;
	}
	r = control_new(d->event, d->config->control_socket, group, daemon_control, d,
			&d->control);
	if (r < 0)
		return log_error_errno(r, "Failed to open the control socket '%s'",
				       d->config->control_socket);
	enroll_from_config(d, d->config);
	r = publish_settings(d, MW_AGENT_SERVING);
	if (r < 0)
		return log_error_errno(r, "Failed to publish the agent as serving");

	r = caps_drop_bounding();
	if (r < 0)
		return log_error_errno(r, "Failed to empty the capability bounding set");
	r = become_user(d);
	if (r < 0)
		return r;
	r = caps_drop_except(NULL, 0);
	if (r < 0)
		return log_error_errno(r, "Failed to drop capabilities");
	r = start_journal(d);
	if (r < 0)
		return r;
	r = daemon_approvals_start(d); /* grants restored from the state dir */
	if (r < 0)
		return r;
	r = daemon_inspect_env_start(d->inspect_env); /* the IdPs' keys, fetched unprivileged */
	if (r < 0)
		return log_error_errno(r, "Failed to start the key refresher");
	{
		struct mw_diag diag = {};
		char buf[1024];

		r = tls_env_start(d->tls_env, oauth_report, NULL, &diag); /* OAuth tokens, fetched unprivileged */
		if (r < 0)
			return log_error_errno(r, "%s", mw_diag_format(&diag, buf, sizeof(buf)));
	}
	sd_event_set_watchdog(d->event, true);
	sd_event_add_time_relative(d->event, NULL, CLOCK_MONOTONIC, 10 * 1000000ULL, 0,
				   on_status_timer, d);
	d->start_mono = mw_now_mono_usec();
	d->start_wall = mw_now_wall_usec();
	log_fields_add(&lf, "MCPW_PID", "%d", (int)getpid());
	log_fields_add(&lf, "MCPW_CGROUP", "%s", d->self_cg);
	log_event(LOG_NOTICE, MW_MID_AGENT_START, &lf,
		  "mcpwarden agent %s serving: %u cgroups enrolled (%d adopted from pins), "
		  "fail %s, config %s",
		  MW_VERSION, d->n_enrolled, adopted < 0 ? 0 : adopted,
		  d->config->fail == MW_FAIL_OPEN ? "open" : "closed",
		  d->config->path[0] ? d->config->path : "built-in defaults");
	sd_notify(false, "READY=1");
	notify_status(d);
	return 0;
}

int main(int argc, char **argv)
{
	struct mw_daemon d = { .priv = { .fd = -1 } };
	struct mw_capture_entry rules[MW_CAPTURE_RULES_MAX];
	struct mw_diag diag;
	char buf[1024];
	unsigned n;
	int r;

	if (parse_args(argc, argv) < 0)
		return 2;
	log_setup(arg_stderr || arg_check, arg_level);
	d.config_arg = arg_config;
	r = config_load(arg_config, arg_config == NULL, &d.config, &diag);
	if (r == 0 && daemon_capture_rules(d.config, rules, &n, buf, sizeof(buf)) < 0) {
		mw_diag_set(&diag, -EINVAL, d.config->path, 0, 0, "capture.outbound", "%s", buf);
		r = -EINVAL;
	}
	if (r < 0) {
		log_error("Bad configuration: %s", mw_diag_format(&diag, buf, sizeof(buf)));
		return 2;
	}
	if (r == 0)
		r = journal_config_parse(json_object_get(d.config->root, "journal"),
					 d.config->state_dir, &d.journal_config, &diag);
	if (r == 0)
		r = daemon_approvals_config(d.config, &d.approvals_cfg, &diag);
	if (r < 0 && !diag.file[0])
		snprintf(diag.file, sizeof(diag.file), "%s", d.config->path);
	if (r == 0)
		r = daemon_inspect_env_load(d.config, &d.inspect_env, &diag);
	if (r == 0)
		r = daemon_masker_load(d.config, NULL, 0, &d.journal_masker, &diag);
	if (r == 0) /* the CA key and the secrets, read while privileged */
		r = tls_env_load(d.config, &d.tls_env, &diag);
	if (r < 0) {
		log_error("Bad configuration: %s", mw_diag_format(&diag, buf, sizeof(buf)));
		config_free(d.config);
		return 2;
	}
	if (arg_check) {
		printf("%s: configuration OK\n",
		       d.config->path[0] ? d.config->path : "(built-in defaults)");
		config_free(d.config);
		return 0;
	}
	if (arg_remove_pins) {
		r = loader_remove_pins(d.config->bpf_pin_dir);
		if (r < 0) {
			log_error_errno(r, "Failed to remove the pins under '%s'",
					d.config->bpf_pin_dir);
			return 1;
		}
		printf("removed every pin under %s: capture is off\n", d.config->bpf_pin_dir);
		return 0;
	}

	r = start(&d);
	if (r >= 0)
		r = sd_event_loop(d.event);
	else
		d.exit_code = 1;
	control_free(d.control);
	flows_free(d.flows);
	daemon_approvals_stop(&d); /* after the flows: their holds leave the registry first */
	journal_close(d.journal); /* after the flows and approvals: their records go first */
	priv_stop(&d.priv);
	loader_free(d.loader);
	daemon_inspect_env_stop(d.inspect_env);
	inspect_env_unref(d.inspect_env);
	mask_free(d.journal_masker);
	tls_env_unref(d.tls_env);
	sd_event_unref(d.event);
	config_free(d.config);
	return r < 0 ? 1 : d.exit_code;
}
