/* mcpwarden_policy.c: `mcpwarden policy check FILE` and `mcpwarden policy explain ...`.
 * Both read the policy from a file (a config with a "policy" key, which may name a policy
 * file, or a bare policy object) and compile it with the agent's own policy module, so what
 * they say is what the agent would do with the same file. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "config.h"
#include "jsonpos.h"
#include "mcpwarden_policy.h"
#include "policy.h"
#include "util.h"

enum {
	EXIT_ALLOW = 0,
	EXIT_DENY = 1,
	EXIT_USAGE = 2,
};

/* Top-level keys that make a document a config rather than a bare policy. */
static const char *const config_keys[] = {
	"runtime_dir", "state_dir", "bpf_pin_dir", "listen",	"fail",		 "enroll",
	"capture",     "control",   "bypass",	   "limits",	"identity",	 "policy",
	"masking",     "approvals", "journal",	   "upstreams", "control_group",
};

/* clang-format off */
static void print_help(FILE *f)
{
	fprintf(f,
		"Usage: mcpwarden policy check FILE [--json]\n"
		"       mcpwarden policy explain [--config FILE] [REQUEST OPTIONS] [--json]\n"
		"\n"
		"Check a policy, or ask what it decides for a request, on this machine: neither\n"
		"needs the agent to run. FILE is a config with a \"policy\" key (an object, or the\n"
		"absolute path of a file holding one), or a bare policy object {\"rules\": [...]}.\n"
		"\n"
		"check FILE\n"
		"  Compile the policy as the agent would and lint it. Problems are printed as\n"
		"  FILE:LINE:COLUMN: error: KEY: message (the agent refuses such a policy), and\n"
		"  advice as FILE:LINE:COLUMN: warning: KEY: message (unreachable rules, no\n"
		"  catch-all last rule, review without approvers, ...).\n"
		"\n"
		"explain\n"
		"  Evaluate one request against the policy of --config (default %s;\n"
		"  when that file is absent, the built-in default: no rules, everything denied) and\n"
		"  print each rule tried, the first match key that failed and why, and the decision:\n"
		"  the deciding rule, the action, the masking profile and the approvers.\n"
		"\n"
		"Request options (anything not given is unknown, and a rule that matches on it does\n"
		"not match):\n"
		"  --sub SUBJECT        The token's subject (sub claim).\n"
		"  --email EMAIL        The token's email claim (shown, not matched).\n"
		"  --groups A,B         The caller's groups, comma-separated.\n"
		"  --token present|absent\n"
		"                       Whether a verified token came with the request (default:\n"
		"                       present when --sub is given, else absent).\n"
		"  --unit UNIT          The workload's systemd unit (mcp-gateway.service).\n"
		"  --uid N              The workload's uid.\n"
		"  --comm NAME          The workload's command name.\n"
		"  --cgroup PATH        The workload's cgroup path.\n"
		"  --target HOST:PORT   Where the request goes (10.0.0.7:5432, [::1]:443,\n"
		"                       mcp.example:443).\n"
		"  --sni NAME           The TLS server name.\n"
		"  --direction inbound|outbound\n"
		"  --method METHOD      The MCP method (default tools/call when --tool is given).\n"
		"  --tool NAME          The tool called (params.name).\n"
		"  --args JSON          The call's arguments (params.arguments).\n"
		"\n"
		"Options:\n"
		"  --config FILE        The config (or bare policy) to read (explain only).\n"
		"  --json               Print the result as JSON.\n"
		"  -h, --help           Show this help.\n"
		"\n"
		"Rules are tried in order and the first whose match keys all match decides; when\n"
		"none matches, the request is denied (the implicit default).\n"
		"\n"
		"Exit status:\n"
		"  check:    0 the policy loads (warnings may be printed), 2 it has errors.\n"
		"  explain:  0 allow, 1 deny or review, 2 usage or config error.\n"
		"\n"
		"Examples:\n"
		"  mcpwarden policy check /etc/mcpwarden/mcpwarden.json\n"
		"  mcpwarden policy explain --sub alice --groups finance --tool query \\\n"
		"      --args '{\"sql\": \"DELETE FROM invoices\"}'\n"
		"  mcpwarden policy explain --config ./policy.json --unit mcp-gateway.service \\\n"
		"      --target db.internal.example:5432 --direction outbound --json\n",
		MW_CONFIG_PATH_DEFAULT);
}
/* clang-format on */

static int _printf_(1, 2) usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("mcpwarden policy: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'mcpwarden policy --help' for more information.\n", stderr);
	return EXIT_USAGE;
}

/* --- loading -------------------------------------------------------------------------------- */

struct loaded {
	char *file; /* the file the policy text came from */
	char *text;
	size_t len;
	json_t *root;
	json_t *obj; /* borrowed from root */
	const char *prefix;
	struct mw_policy *policy;
	bool absent; /* the default config is absent: built-in defaults */
};

static void loaded_done(struct loaded *l)
{
	free(l->file);
	free(l->text);
	json_decref(l->root);
	policy_unref(l->policy);
	*l = (struct loaded){};
}

static int read_text(const char *path, char **ret, size_t *ret_len, struct mw_diag *d)
{
	_cleanup_free_ char *buf = NULL;
	FILE *f = fopen(path, "re");
	struct stat st;
	size_t n;

	if (!f)
		return mw_diag_set(d, -errno, path, 0, 0, NULL, "cannot open: %s", strerror(errno));
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > MW_CONFIG_MAX_BYTES) {
		fclose(f);
		return mw_diag_set(d, -EINVAL, path, 0, 0, NULL,
				   "not a regular file of at most %d bytes", MW_CONFIG_MAX_BYTES);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		fclose(f);
		return mw_diag_set(d, -ENOMEM, path, 0, 0, NULL, "out of memory");
	}
	n = fread(buf, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		fclose(f);
		return mw_diag_set(d, -EIO, path, 0, 0, NULL, "cannot read");
	}
	fclose(f);
	buf[n] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = n;
	return 0;
}

static int parse_text(struct loaded *l, struct mw_diag *d)
{
	json_error_t err;
	char key[sizeof(d->key)] = "";

	l->root = json_loadb(l->text, l->len, JSON_REJECT_DUPLICATES, &err);
	if (l->root)
		return 0;
	if (err.position > 0)
		(void)jsonpos_path_at(l->text, l->len, (size_t)err.position, MW_JSONPOS_DOTTED, key,
				      sizeof(key));
	return mw_diag_set(d, -EINVAL, l->file, err.line > 0 ? err.line : 0,
			   err.column > 0 ? err.column : 0, key, "%s", err.text);
}

static bool is_config(json_t *root)
{
	if (!json_is_object(root) || json_object_get(root, "rules"))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(config_keys); i++)
		if (json_object_get(root, config_keys[i]))
			return true;
	return false;
}

/* path: a config or a bare policy.  missing_ok: an absent file is the empty policy. */
static int load(const char *path, bool missing_ok, struct loaded *l, struct mw_diag *d)
{
	json_t *v;
	int r;

	*l = (struct loaded){ .prefix = "" };
	l->file = strdup(path);
	if (!l->file)
		return mw_diag_set(d, -ENOMEM, path, 0, 0, NULL, "out of memory");
	r = read_text(path, &l->text, &l->len, d);
	if (r == -ENOENT && missing_ok) {
		l->text = strdup("{}");
		l->len = 2;
		l->absent = true;
		if (!l->text)
			return mw_diag_set(d, -ENOMEM, path, 0, 0, NULL, "out of memory");
	} else if (r < 0) {
		return r;
	}
	r = parse_text(l, d);
	if (r < 0)
		return r;
	l->obj = l->root;
	if (is_config(l->root)) {
		v = json_object_get(l->root, "policy");
		l->prefix = "/policy";
		l->obj = v;
		if (!v) { /* a config without a policy: no rules */
			json_decref(l->root);
			l->root = l->obj = json_object();
			l->prefix = "";
			free(l->text);
			l->text = NULL;
			l->len = 0;
			if (!l->root)
				return mw_diag_set(d, -ENOMEM, path, 0, 0, NULL, "out of memory");
		} else if (json_is_string(v)) {
			char *file = strdup(json_string_value(v));
			struct mw_jsonpos pos = {};

			if (!file)
				return -ENOMEM;
			if (file[0] != '/') {
				(void)jsonpos_find(l->text, l->len, "/policy", &pos);
				r = mw_diag_set(
				    d, -EINVAL, l->file, pos.line, pos.column, "policy",
				    "expected the absolute path of a policy file, got '%s'", file);
				free(file);
				return r;
			}
			free(l->file);
			free(l->text);
			json_decref(l->root);
			*l = (struct loaded){ .file = file, .prefix = "" };
			r = read_text(file, &l->text, &l->len, d);
			if (r < 0)
				return r;
			r = parse_text(l, d);
			if (r < 0)
				return r;
			l->obj = l->root;
		}
	}
	return policy_compile(l->obj, l->file, l->text, l->len, l->prefix, &l->policy, d);
}

/* --- check ---------------------------------------------------------------------------------- */

static json_t *diag_json(const struct mw_diag *d)
{
	return json_pack("{ss si si ss ss}", "file", d->file, "line", d->line, "column", d->column,
			 "key", d->key, "message", d->text);
}

static void diag_print(const struct mw_diag *d, const char *level)
{
	if (d->line > 0)
		printf("%s:%d:%d: %s: ", d->file, d->line, d->column, level);
	else
		printf("%s: %s: ", d->file, level);
	if (d->key[0])
		printf("%s: ", d->key);
	printf("%s\n", d->text);
}

static int cmd_check(const char *file, bool json)
{
	_cleanup_free_ struct mw_diag *w = NULL;
	struct loaded l;
	struct mw_diag d;
	json_t *out, *arr;
	int r, n = 0;

	r = load(file, false, &l, &d);
	if (r >= 0)
		n = policy_lint(l.policy, &w);
	if (n < 0)
		r = mw_diag_set(&d, n, file, 0, 0, NULL, "out of memory");
	if (json) {
		out = json_pack("{ss sb si s[] s[]}", "file", file, "ok", r >= 0, "rules",
				r >= 0 ? (int)policy_n_rules(l.policy) : 0, "errors", "warnings");
		if (out && r < 0)
			json_array_append_new(json_object_get(out, "errors"), diag_json(&d));
		arr = out ? json_object_get(out, "warnings") : NULL;
		for (int i = 0; arr && i < n; i++)
			json_array_append_new(arr, diag_json(&w[i]));
		if (out)
			json_dumpf(out, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(out);
	} else {
		if (r < 0)
			diag_print(&d, "error");
		for (int i = 0; i < n; i++)
			diag_print(&w[i], "warning");
		if (r >= 0)
			printf("%s: %zu rule%s, %d warning%s\n", file, policy_n_rules(l.policy),
			       policy_n_rules(l.policy) == 1 ? "" : "s", n, n == 1 ? "" : "s");
	}
	loaded_done(&l);
	return r < 0 ? EXIT_USAGE : EXIT_ALLOW;
}

/* --- explain -------------------------------------------------------------------------------- */

enum {
	OPT_CONFIG = 0x100,
	OPT_SUB,
	OPT_EMAIL,
	OPT_GROUPS,
	OPT_TOKEN,
	OPT_UNIT,
	OPT_UID,
	OPT_COMM,
	OPT_CGROUP,
	OPT_TARGET,
	OPT_SNI,
	OPT_DIRECTION,
	OPT_METHOD,
	OPT_TOOL,
	OPT_ARGS,
	OPT_JSON,
};

struct explain_args {
	const char *config;
	bool json, token_given;
	char *groups_buf;
	const char *groups[POLICY_MAX_GROUPS];
	char host[256];
	json_t *args;
	struct mw_policy_request q;
};

static int parse_target(const char *s, struct explain_args *a)
{
	const char *colon, *host = s;
	size_t hlen;
	char *end;
	unsigned long port;

	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || (rb[1] && rb[1] != ':'))
			return -EINVAL;
		host = s + 1;
		hlen = (size_t)(rb - host);
		colon = rb[1] ? rb + 1 : NULL;
	} else {
		colon = strrchr(s, ':');
		if (colon && memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL; /* bare IPv6: brackets needed */
		hlen = colon ? (size_t)(colon - s) : strlen(s);
	}
	if (!hlen || hlen >= sizeof(a->host))
		return -EINVAL;
	memcpy(a->host, host, hlen);
	a->host[hlen] = '\0';
	a->q.host = a->host;
	if (!colon)
		return 0;
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end || port < 1 || port > 65535)
		return -ERANGE;
	a->q.port = (uint16_t)port;
	return 0;
}

static int parse_groups(const char *s, struct explain_args *a)
{
	char *save = NULL, *t;

	free(a->groups_buf);
	a->groups_buf = strdup(s);
	if (!a->groups_buf)
		return -ENOMEM;
	a->q.n_groups = 0;
	for (t = strtok_r(a->groups_buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (a->q.n_groups >= POLICY_MAX_GROUPS)
			return -E2BIG;
		a->groups[a->q.n_groups++] = t;
	}
	a->q.groups = a->groups;
	return 0;
}

static int explain_option(int opt, const char *v, struct explain_args *a)
{
	json_error_t err;
	char *end;

	switch (opt) {
	case OPT_CONFIG:
		a->config = v;
		return 0;
	case OPT_SUB:
		a->q.sub = v;
		return 0;
	case OPT_EMAIL:
		a->q.email = v;
		return 0;
	case OPT_GROUPS:
		if (parse_groups(v, a) < 0)
			return usage_error("--groups: at most %d groups", POLICY_MAX_GROUPS);
		return 0;
	case OPT_TOKEN:
		if (strcmp(v, "present") && strcmp(v, "absent"))
			return usage_error("--token: expected present or absent, got '%s'", v);
		a->q.token_present = !strcmp(v, "present");
		a->token_given = true;
		return 0;
	case OPT_UNIT:
		a->q.workload.unit = v;
		return 0;
	case OPT_UID:
		errno = 0;
		a->q.workload.uid = strtoll(v, &end, 10);
		if (!*v || *end || errno || a->q.workload.uid < 0 ||
		    a->q.workload.uid > 4294967294LL)
			return usage_error("--uid: expected a uid (0..4294967294), got '%s'", v);
		return 0;
	case OPT_COMM:
		a->q.workload.comm = v;
		return 0;
	case OPT_CGROUP:
		a->q.workload.cgroup = v;
		return 0;
	case OPT_TARGET:
		if (parse_target(v, a) < 0)
			return usage_error("--target: expected HOST:PORT or [ADDRESS]:PORT with a "
					   "port 1..65535, got '%s'",
					   v);
		return 0;
	case OPT_SNI:
		a->q.sni = v;
		return 0;
	case OPT_DIRECTION:
		if (!strcmp(v, "inbound"))
			a->q.direction = MW_POLICY_DIR_INBOUND;
		else if (!strcmp(v, "outbound"))
			a->q.direction = MW_POLICY_DIR_OUTBOUND;
		else
			return usage_error("--direction: expected inbound or outbound, got '%s'",
					   v);
		return 0;
	case OPT_METHOD:
		a->q.method = v;
		return 0;
	case OPT_TOOL:
		a->q.tool = v;
		return 0;
	case OPT_ARGS:
		json_decref(a->args);
		a->args = json_loads(v, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
		if (!a->args)
			return usage_error("--args: not JSON: %s (column %d)", err.text,
					   err.column);
		a->q.args = a->args;
		return 0;
	case OPT_JSON:
		a->json = true;
		return 0;
	}
	return EXIT_USAGE;
}

static const char *list_str(char *buf, size_t size, char **v, size_t n)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && len + 1 < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "", v[i]);
	return n ? buf : "-";
}

static json_t *str_array(char **v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static void print_explain(const struct loaded *l, const struct mw_policy_decision *d)
{
	char b1[512], b2[512];

	printf("policy: %s (%s%zu rule%s)\n", l->file,
	       l->absent ? "absent, built-in default: " : "", policy_n_rules(l->policy),
	       policy_n_rules(l->policy) == 1 ? "" : "s");
	for (size_t i = 0; i < d->n_trace; i++) {
		const struct mw_policy_trace *t = &d->trace[i];

		if (t->matched)
			printf("  [%d] '%s': matches (%s)\n", t->rule, t->name, t->why);
		else if (d->error && i + 1 == d->n_trace)
			printf("  [%d] '%s': cannot be evaluated: %s: %s\n", t->rule, t->name,
			       t->key, t->why);
		else
			printf("  [%d] '%s': no match: %s: %s\n", t->rule, t->name, t->key, t->why);
	}
	printf("decision: %s\n", policy_action_str(d->action));
	if (d->error)
		printf("rule: none: %s, so the request is denied\n", d->error_text);
	else if (d->rule < 0)
		printf("rule: none matched: the implicit default denies\n");
	else
		printf("rule: [%d] '%s'\n", d->rule, d->rule_name);
	if (d->mask)
		printf("mask: %s\n", d->mask);
	if (d->approvers)
		printf("approvers: groups %s; users %s; %u needed\n",
		       list_str(b1, sizeof(b1), d->approvers->groups, d->approvers->n_groups),
		       list_str(b2, sizeof(b2), d->approvers->users, d->approvers->n_users),
		       d->approvers->count);
	if (d->reason && !d->error)
		printf("reason: %s\n", d->reason);
}

static json_t *explain_json(const struct loaded *l, const struct mw_policy_decision *d)
{
	json_t *o, *trace;

	o = json_pack(
	    "{ss ss so* ss so* so* so* so*}", "file", l->file, "action",
	    policy_action_str(d->action), "rule",
	    d->rule >= 0 ? json_integer(d->rule) : json_null(), "rule_name", d->rule_name, "mask",
	    d->mask ? json_string(d->mask) : json_null(), "reason",
	    d->reason ? json_string(d->reason) : json_null(), "error",
	    d->error ? json_string(d->error_text) : json_null(), "approvers",
	    d->approvers ? json_pack("{so* so* si}", "groups",
				     str_array(d->approvers->groups, d->approvers->n_groups),
				     "users", str_array(d->approvers->users, d->approvers->n_users),
				     "count", (int)d->approvers->count)
			 : json_null());
	trace = json_array();
	for (size_t i = 0; o && trace && i < d->n_trace; i++) {
		const struct mw_policy_trace *t = &d->trace[i];

		json_array_append_new(trace, json_pack("{si ss sb ss ss}", "rule", t->rule, "name",
						       t->name, "matched", t->matched, "key",
						       t->key, "why", t->why));
	}
	if (o)
		json_object_set_new(o, "trace", trace);
	else
		json_decref(trace);
	return o;
}

static int cmd_explain(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "sub", required_argument, NULL, OPT_SUB },
		{ "email", required_argument, NULL, OPT_EMAIL },
		{ "groups", required_argument, NULL, OPT_GROUPS },
		{ "token", required_argument, NULL, OPT_TOKEN },
		{ "unit", required_argument, NULL, OPT_UNIT },
		{ "uid", required_argument, NULL, OPT_UID },
		{ "comm", required_argument, NULL, OPT_COMM },
		{ "cgroup", required_argument, NULL, OPT_CGROUP },
		{ "target", required_argument, NULL, OPT_TARGET },
		{ "sni", required_argument, NULL, OPT_SNI },
		{ "direction", required_argument, NULL, OPT_DIRECTION },
		{ "method", required_argument, NULL, OPT_METHOD },
		{ "tool", required_argument, NULL, OPT_TOOL },
		{ "args", required_argument, NULL, OPT_ARGS },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct explain_args a = { .q.workload.uid = -1 };
	struct mw_policy_decision d = {};
	struct loaded l = {};
	struct mw_diag diag;
	int opt, rc = EXIT_USAGE;
	json_t *out;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		if (opt == 'h') {
			print_help(stdout);
			rc = EXIT_ALLOW;
			goto out;
		}
		if (opt == '?') {
			usage_error("explain: unknown option or missing value: '%s'",
				    argv[optind - 1]);
			goto out;
		}
		if (explain_option(opt, optarg, &a) != 0)
			goto out;
	}
	if (optind < argc) {
		usage_error("explain: unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (!a.token_given)
		a.q.token_present = a.q.sub != NULL;
	if (a.q.tool && !a.q.method)
		a.q.method = "tools/call";

	if (load(a.config ? a.config : MW_CONFIG_PATH_DEFAULT, !a.config, &l, &diag) < 0) {
		diag_print(&diag, "error");
		goto out;
	}
	if (policy_explain(l.policy, &a.q, &d) < 0) {
		fprintf(stderr, "mcpwarden policy: cannot evaluate\n");
		goto out;
	}
	if (a.json) {
		out = explain_json(&l, &d);
		if (out)
			json_dumpf(out, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(out);
	} else {
		print_explain(&l, &d);
	}
	rc = d.action == MW_POLICY_ALLOW ? EXIT_ALLOW : EXIT_DENY;
out:
	policy_decision_clear(&d);
	loaded_done(&l);
	json_decref(a.args);
	free(a.groups_buf);
	return rc;
}

int cli_policy(int argc, char **argv)
{
	bool json = false;
	const char *file = NULL;

	if (argc < 2)
		return usage_error("expected a subcommand (check, explain)");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		print_help(stdout);
		return EXIT_ALLOW;
	}
	if (!strcmp(argv[1], "explain"))
		return cmd_explain(argc - 1, argv + 1);
	if (strcmp(argv[1], "check"))
		return usage_error("unknown subcommand '%s' (check, explain)", argv[1]);
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			print_help(stdout);
			return EXIT_ALLOW;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return usage_error("check: unknown option '%s'", argv[i]);
		} else if (file) {
			return usage_error("check: expected one FILE, got '%s' too", argv[i]);
		} else {
			file = argv[i];
		}
	}
	if (!file)
		return usage_error("check: expected a FILE");
	return cmd_check(file, json);
}
