/* mcpwarden: the operators' command line.  Sends one request to mcpwardend's control socket
 * (agent/control.h) and prints the reply, as a human rendering or, with --json, unchanged.
 * Exit status: 0 success, 1 failure (refused, failed, unreachable), 2 usage error. */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>

#include "control.h"
#include "mcpwarden_approval.h"
#include "mcpwarden_ca.h"
#include "mcpwarden_policy.h"
#include "util.h"

#ifndef MW_VERSION
#define MW_VERSION "0.1.0"
#endif

#define CLI_SOCKET_DEFAULT "/run/mcpwarden/control.sock"
#define CLI_SOCKET_ENV "MCPWARDEN_SOCKET"
#define CLI_TIMEOUT_USEC (10 * 1000000ULL)
/* Display widths of columns that can grow without bound. */
#define CLI_ENROLLED_WIDTH 56
#define CLI_CGROUP_WIDTH 32
#define CLI_COMM_WIDTH 16

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
};

enum {
	OPT_SOCKET = 0x100,
	OPT_JSON,
	OPT_VERSION,
	OPT_CGROUP,
	OPT_UNIT,
	OPT_SLICE,
	OPT_PID,
};

struct cli {
	const char *socket;
	bool json;
	const char *command;
};

/* --- help ----------------------------------------------------------------------------------- */

/* The help reads as it prints. */
/* clang-format off */
static void print_help(FILE *f)
{
	fprintf(f,
		"Usage: mcpwarden [--socket PATH] COMMAND [ARGS] [--json]\n"
		"\n"
		"Query and steer mcpwardend, the agent that puts enrolled MCP gateway services\n"
		"behind an identity-aware checkpoint on this host.\n"
		"\n"
		"Commands:\n"
		"  status              Show the agent, the enrolled cgroups, the capture rules and\n"
		"                      the flow counters.\n"
		"  flows [--all]       List the flows being relayed now; --all adds those closed\n"
		"                      recently.\n"
		"  enroll SELECTOR     Capture the sockets the selected cgroup creates from now on.\n"
		"  unenroll SELECTOR   Stop capturing the selected cgroup's new sockets.\n"
		"  pending [--all]     Calls held for approval (--all: decided ones too).\n"
		"  approve ID [--for DURATION] [--any-args] [--reason TEXT] [--token JWT]\n"
		"                      Approve a held call; --for also grants the same call\n"
		"                      (same caller, tool, target and arguments; --any-args: any\n"
		"                      arguments) for DURATION.\n"
		"  deny ID --reason TEXT [--token JWT]\n"
		"                      Refuse a held call; the caller gets -32011 and the reason.\n"
		"  grants              The grants in force.\n"
		"  revoke ID           End a grant now.\n"
		"  policy check FILE   Lint a policy (or a config holding one): file:line:col.\n"
		"  policy explain ...  Which rule decides a request, and why (see\n"
		"                      'mcpwarden policy explain --help').\n"
		"  ca init|show        Create the local CA, or print its certificate (see\n"
		"                      'mcpwarden ca --help').\n"
		"  help                Show this help.\n"
		"\n"
		"Selectors (exactly one):\n"
		"  --cgroup PATH       A cgroup v2 directory (e.g. /sys/fs/cgroup/mcp.slice).\n"
		"  --unit NAME         The cgroup of a systemd unit (e.g. mcp-gateway.service).\n"
		"  --slice NAME        The cgroup of a systemd slice (e.g. mcp.slice).\n"
		"  --pid N             The cgroup process N belongs to.\n"
		"\n"
		"Options (before or after COMMAND):\n"
		"  --socket PATH       The agent's control socket (default: $%s, else\n"
		"                      %s).\n"
		"  --json              Print the agent's reply as JSON, unchanged.\n"
		"  -h, --help          Show this help and exit.\n"
		"  --version           Show the version and exit.\n"
		"\n"
		"Enrollment applies to sockets created after it: the kernel fixes a socket's\n"
		"cgroup when the socket is created, so connections a service already holds are not\n"
		"captured until it reconnects or restarts. enroll says how many there are.\n"
		"\n"
		"Exit status:\n"
		"  0   Success.\n"
		"  1   Failure: the agent refused or failed the request, or could not be reached.\n"
		"  2   Usage error: bad arguments, or a request the agent rejected as malformed.\n"
		"\n"
		"Environment:\n"
		"  %-18s  Control socket used when --socket is not given.\n"
		"\n"
		"Files:\n"
		"  %s\n"
		"      The control socket: mode 0600 (root only), or 0660 with the group set\n"
		"      in the agent's config.\n"
		"\n"
		"Examples:\n"
		"  mcpwarden status\n"
		"  mcpwarden flows --all\n"
		"  mcpwarden enroll --unit mcp-gateway.service\n"
		"  mcpwarden approve 7K3QX9ZD --for 1h --reason 'INC-4711 cleanup'\n"
		"  mcpwarden unenroll --cgroup /sys/fs/cgroup/mcp.slice\n"
		"  mcpwarden --socket /tmp/mw/control.sock status --json\n",
		CLI_SOCKET_ENV, CLI_SOCKET_DEFAULT, CLI_SOCKET_ENV, CLI_SOCKET_DEFAULT);
}
/* clang-format on */

static int usage_error(const char *fmt, ...) _printf_(1, 2);
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("mcpwarden: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'mcpwarden --help' for more information.\n", stderr);
	return -EINVAL;
}

/* --- formatting helpers --------------------------------------------------------------------- */

/* Strings in a reply come partly from untrusted processes (comm, cgroup names): never let
 * one put a control sequence on the operator's terminal. */
static char *sanitize(const char *s)
{
	char *out = strdup(s ? s : "-");
	char *p;

	if (!out)
		return NULL;
	for (p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = '?';
	return out;
}

/* Display width of a UTF-8 string (one column per code point is close enough here). */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

/* Shorten from the left to at most width columns: "…/system.slice/x.service". */
static char *shorten_left(const char *s, size_t width)
{
	size_t w = text_width(s);
	char *out;

	if (w <= width || width < 2)
		return strdup(s);
	for (; w > width - 1; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w--;
	while (((unsigned char)*s & 0xc0) == 0x80)
		s++;
	if (asprintf(&out, "…%s", s) < 0)
		return NULL;
	return out;
}

/* Any JSON scalar as text; missing or null is "-". */
static const char *fmt_json(json_t *v, char *buf, size_t size)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v))
		snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, size, "%g", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, size, "%s", json_is_true(v) ? "yes" : "no");
	else
		snprintf(buf, size, "-");
	return buf;
}

static const char *fmt_field(json_t *obj, const char *key, char *buf, size_t size)
{
	return fmt_json(json_object_get(obj, key), buf, size);
}

/* 1023 -> "1023", 1229 -> "1.2K", 3565158 -> "3.4M", 123456789 -> "118M". */
static const char *fmt_bytes(json_t *v, char *buf, size_t size)
{
	static const char units[] = "KMGTPE";
	double d;
	int i = -1;

	if (!json_is_number(v) || json_number_value(v) < 0)
		return fmt_json(v, buf, size);
	d = json_number_value(v);
	if (d < 1024) {
		snprintf(buf, size, "%.0f", d);
		return buf;
	}
	while (d >= 1024 && i < (int)sizeof(units) - 2) {
		d /= 1024;
		i++;
	}
	if (d < 9.95)
		snprintf(buf, size, "%.1f%c", d, units[i]);
	else
		snprintf(buf, size, "%.0f%c", d, units[i]);
	return buf;
}

/* Seconds as "3.2s", "42s", "5m07s", "2h05m", "3d04h". */
static const char *fmt_duration(json_t *v, char *buf, size_t size)
{
	double d;
	uint64_t s;

	if (!json_is_number(v) || json_number_value(v) < 0)
		return fmt_json(v, buf, size);
	d = json_number_value(v);
	s = (uint64_t)d;
	if (d < 10 && json_is_real(v))
		snprintf(buf, size, "%.1fs", d);
	else if (s < 60)
		snprintf(buf, size, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(buf, size, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, size, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, size, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s % 86400 / 3600);
	return buf;
}

/* A JSON array of scalars as "a,b,c"; empty or missing is dflt. */
static const char *fmt_list(json_t *arr, const char *dflt, char *buf, size_t size)
{
	size_t i, n = 0;
	json_t *v;

	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return json_is_array(arr) || !arr ? dflt : fmt_json(arr, buf, size);
	buf[0] = '\0';
	json_array_foreach(arr, i, v)
	{
		char one[64];
		int w;

		w = snprintf(buf + n, size - n, "%s%s", i ? "," : "",
			     fmt_json(v, one, sizeof(one)));
		if (w < 0 || (size_t)w >= size - n)
			break;
		n += (size_t)w;
	}
	return buf;
}

/* --- tables --------------------------------------------------------------------------------- */

#define TABLE_MAX_COLS 16

struct table {
	size_t ncols;
	const char *headers[TABLE_MAX_COLS];
	unsigned right; /* bit per column: right-aligned (numbers) */
	char **cells;	/* row-major */
	size_t ncells;
	size_t cap;
	bool failed;
};

static void table_done(struct table *t)
{
	size_t i;

	for (i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
}

/* Add the next cell (row-major); the text is copied and sanitized. */
static void table_add(struct table *t, const char *text)
{
	if (t->failed)
		return;
	if (t->ncells == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16 * t->ncols;
		char **p = realloc(t->cells, cap * sizeof(*p));

		if (!p) {
			t->failed = true;
			return;
		}
		t->cells = p;
		t->cap = cap;
	}
	t->cells[t->ncells] = sanitize(text);
	if (!t->cells[t->ncells]) {
		t->failed = true;
		return;
	}
	t->ncells++;
}

static void table_print(struct table *t)
{
	size_t width[TABLE_MAX_COLS];
	size_t rows = t->ncells / t->ncols, r, c;

	for (c = 0; c < t->ncols; c++)
		width[c] = text_width(t->headers[c]);
	for (r = 0; r < rows; r++)
		for (c = 0; c < t->ncols; c++) {
			size_t w = text_width(t->cells[r * t->ncols + c]);

			if (w > width[c])
				width[c] = w;
		}
	for (r = 0; r <= rows; r++) {
		for (c = 0; c < t->ncols; c++) {
			const char *s = r == 0 ? t->headers[c] : t->cells[(r - 1) * t->ncols + c];
			size_t pad = width[c] - text_width(s);
			bool last = c + 1 == t->ncols;

			if (c)
				fputs("  ", stdout);
			if (t->right & (1u << c))
				printf("%*s%s", (int)pad, "", s);
			else
				printf("%s%*s", s, last ? 0 : (int)pad, "");
		}
		putchar('\n');
	}
}

/* --- rendering ------------------------------------------------------------------------------ */

static void print_kv(const char *key, const char *value, int keywidth)
{
	_cleanup_free_ char *v = sanitize(value);

	printf("%-*s %s\n", keywidth, key, v ? v : "?");
}

static void render_agent(json_t *agent)
{
	char b[256], b2[64];
	json_t *listen = json_object_get(agent, "listen");
	json_t *bypass = json_object_get(agent, "bypass");

	print_kv("version:", fmt_field(agent, "version", b, sizeof(b)), 12);
	print_kv("pid:", fmt_field(agent, "pid", b, sizeof(b)), 12);
	print_kv("uptime:", fmt_duration(json_object_get(agent, "uptime_sec"), b, sizeof(b)), 12);
	print_kv("serving:", fmt_field(agent, "serving", b, sizeof(b)), 12);
	print_kv("fail:", fmt_field(agent, "fail", b, sizeof(b)), 12);
	print_kv("listen:", fmt_list(listen, "-", b, sizeof(b)), 12);
	print_kv("bpf pins:", fmt_field(agent, "bpf_pin_dir", b, sizeof(b)), 12);
	print_kv("bypass:",
		 json_is_boolean(bypass) ? (json_is_true(bypass) ? "on" : "off")
					 : fmt_json(bypass, b2, sizeof(b2)),
		 12);
}

static void render_enrolled(json_t *enrolled)
{
	struct table t = {
	    .ncols = 5, .headers = {"CGROUP", "ID", "SOURCE", "UNIT", "SINCE"}, .right = 1u << 1};
	json_t *e;
	size_t i;

	printf("\nENROLLED\n");
	if (!json_is_array(enrolled) || json_array_size(enrolled) == 0) {
		printf("none\n");
		return;
	}
	json_array_foreach(enrolled, i, e)
	{
		_cleanup_free_ char *cg = NULL;
		char b[128];

		cg = shorten_left(fmt_field(e, "cgroup", b, sizeof(b)), CLI_ENROLLED_WIDTH);
		table_add(&t, cg);
		table_add(&t, fmt_field(e, "id", b, sizeof(b)));
		table_add(&t, fmt_field(e, "source", b, sizeof(b)));
		table_add(&t, fmt_field(e, "unit", b, sizeof(b)));
		table_add(&t, fmt_field(e, "since", b, sizeof(b)));
	}
	if (!t.failed)
		table_print(&t);
	table_done(&t);
}

static void render_capture(json_t *capture)
{
	json_t *out = json_object_get(capture, "outbound");
	json_t *in = json_object_get(capture, "inbound");
	size_t i, n = 0;
	json_t *r;

	printf("\nCAPTURE\n");
	json_array_foreach(out, i, r)
	{
		_cleanup_free_ char *cidrs = NULL, *ports = NULL;
		char b[512];

		cidrs =
		    sanitize(fmt_list(json_object_get(r, "cidrs"), "any address", b, sizeof(b)));
		ports = sanitize(fmt_list(json_object_get(r, "ports"), "all", b, sizeof(b)));
		printf("outbound  %s%s ports %s\n",
		       json_is_true(json_object_get(r, "exclude")) ? "exclude " : "",
		       cidrs ? cidrs : "?", ports ? ports : "?");
		n++;
	}
	json_array_foreach(in, i, r)
	{
		json_t *backend = json_object_get(r, "backend_port");
		char b[64], b2[64];

		printf("inbound   port %s", fmt_field(r, "port", b, sizeof(b)));
		if (backend)
			printf(", gateway moved to port %s", fmt_json(backend, b2, sizeof(b2)));
		putchar('\n');
		n++;
	}
	if (!n)
		printf("none\n");
}

static void render_counters(json_t *counters)
{
	const char *key;
	json_t *v;
	size_t w = 0;

	printf("\nCOUNTERS\n");
	if (!json_is_object(counters) || json_object_size(counters) == 0) {
		printf("none\n");
		return;
	}
	json_object_foreach(counters, key, v) if (strlen(key) > w) w = strlen(key);
	json_object_foreach(counters, key, v)
	{
		_cleanup_free_ char *label = sanitize(key);
		char b[64], hb[32];
		char *p;

		if (!label)
			continue;
		for (p = label; *p; p++)
			if (*p == '_')
				*p = ' ';
		printf("%-*s  %s", (int)w, label, fmt_json(v, b, sizeof(b)));
		if (!strncmp(key, "bytes", 5) && json_is_number(v) && json_number_value(v) >= 1024)
			printf(" (%s)", fmt_bytes(v, hb, sizeof(hb)));
		putchar('\n');
	}
}

static void render_status(json_t *reply)
{
	render_agent(json_object_get(reply, "agent"));
	render_enrolled(json_object_get(reply, "enrolled"));
	render_capture(json_object_get(reply, "capture"));
	render_counters(json_object_get(reply, "counters"));
}

static void render_flows(json_t *reply)
{
	struct table t = {.ncols = 12,
			  .headers = {"ID", "DIR", "PID", "COMM", "UID", "UNIT/CGROUP", "ORIGIN",
				      "PROTO", "UP", "DOWN", "STATE", "AGE"},
			  .right = 1u << 2 | 1u << 4 | 1u << 8 | 1u << 9 | 1u << 11};
	json_t *flows = json_object_get(reply, "flows");
	json_t *f;
	size_t i;

	if (!json_is_array(flows) || json_array_size(flows) == 0) {
		printf("no flows\n");
		return;
	}
	json_array_foreach(flows, i, f)
	{
		_cleanup_free_ char *who = NULL, *comm = NULL, *state = NULL;
		const char *dir = json_string_value(json_object_get(f, "direction"));
		json_t *unit = json_object_get(f, "unit");
		json_t *reason = json_object_get(f, "closed_reason");
		char b[256];

		table_add(&t, fmt_field(f, "id", b, sizeof(b)));
		table_add(&t, !dir			 ? "-"
			      : !strcmp(dir, "outbound") ? "out"
			      : !strcmp(dir, "inbound")	 ? "in"
							 : dir);
		table_add(&t, fmt_field(f, "pid", b, sizeof(b)));
		comm = shorten_left(fmt_field(f, "comm", b, sizeof(b)), CLI_COMM_WIDTH);
		table_add(&t, comm);
		table_add(&t, fmt_field(f, "uid", b, sizeof(b)));
		if (json_is_string(unit))
			who = shorten_left(json_string_value(unit), CLI_CGROUP_WIDTH);
		else
			who = shorten_left(fmt_field(f, "cgroup", b, sizeof(b)), CLI_CGROUP_WIDTH);
		table_add(&t, who);
		table_add(&t, fmt_field(f, "origin", b, sizeof(b)));
		table_add(&t, fmt_field(f, "protocol", b, sizeof(b)));
		table_add(&t, fmt_bytes(json_object_get(f, "bytes_up"), b, sizeof(b)));
		table_add(&t, fmt_bytes(json_object_get(f, "bytes_down"), b, sizeof(b)));
		if (json_is_string(reason) &&
		    asprintf(&state, "%s (%s)", fmt_field(f, "state", b, sizeof(b)),
			     json_string_value(reason)) < 0)
			state = NULL;
		table_add(&t, state ? state : fmt_field(f, "state", b, sizeof(b)));
		table_add(&t, fmt_duration(json_object_get(f, "age_sec"), b, sizeof(b)));
	}
	if (!t.failed)
		table_print(&t);
	table_done(&t);
}

static void render_enrollment(json_t *reply, const char *verb, const char *key)
{
	json_t *e = json_object_get(reply, key);
	_cleanup_free_ char *cg = NULL;
	char b[64];

	if (!e)
		e = json_object_get(reply, "enrolled");
	cg = sanitize(json_string_value(json_object_get(e, "cgroup")));
	printf("%s %s (cgroup id %s)\n", verb, cg ? cg : "?", fmt_field(e, "id", b, sizeof(b)));
}

static void render_enroll(json_t *reply)
{
	render_enrollment(reply, "enrolled", "enrolled");
}

static void render_unenroll(json_t *reply)
{
	render_enrollment(reply, "unenrolled", "unenrolled");
}

/* --- commands ------------------------------------------------------------------------------- */

/* Options every command accepts after its name, as well as before. */
/* clang-format off */
#define COMMON_LONG_OPTIONS							\
	{ "socket", required_argument, NULL, OPT_SOCKET },			\
	{ "json", no_argument, NULL, OPT_JSON },				\
	{ "help", no_argument, NULL, 'h' },					\
	{ "version", no_argument, NULL, OPT_VERSION }
/* clang-format on */

/* Returns 1 when the option was a common one, 0 when not, < 0 to stop (help, version). */
static int common_option(struct cli *cli, int opt)
{
	switch (opt) {
	case OPT_SOCKET:
		cli->socket = optarg;
		return 1;
	case OPT_JSON:
		cli->json = true;
		return 1;
	case 'h':
		print_help(stdout);
		return -ECANCELED;
	case OPT_VERSION:
		printf("mcpwarden %s\n", MW_VERSION);
		return -ECANCELED;
	case '?': /* getopt has said what was wrong */
		fputs("Try 'mcpwarden --help' for more information.\n", stderr);
		return -EINVAL;
	default:
		return 0;
	}
}

static int no_extra_args(int argc, char **argv, const char *command)
{
	if (optind < argc)
		return usage_error("unexpected argument '%s' for '%s'", argv[optind], command);
	return 0;
}

static int build_status(struct cli *cli, int argc, char **argv, json_t **ret)
{
	static const struct option opts[] = {COMMON_LONG_OPTIONS, {}};
	int opt, r;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		r = common_option(cli, opt);
		if (r <= 0)
			return r < 0 ? r : -EINVAL;
	}
	r = no_extra_args(argc, argv, "status");
	if (r < 0)
		return r;
	*ret = json_pack("{s:s}", "command", "status");
	return *ret ? 0 : -ENOMEM;
}

static int build_flows(struct cli *cli, int argc, char **argv, json_t **ret)
{
	static const struct option opts[] = {
	    COMMON_LONG_OPTIONS, {"all", no_argument, NULL, 'a'}, {}};
	bool all = false;
	int opt, r;

	while ((opt = getopt_long(argc, argv, "ha", opts, NULL)) >= 0) {
		if (opt == 'a') {
			all = true;
			continue;
		}
		r = common_option(cli, opt);
		if (r <= 0)
			return r < 0 ? r : -EINVAL;
	}
	r = no_extra_args(argc, argv, "flows");
	if (r < 0)
		return r;
	*ret = json_pack("{s:s, s:b}", "command", "flows", "all", all);
	return *ret ? 0 : -ENOMEM;
}

static int parse_pid(const char *s, json_int_t *ret_pid)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v <= 0 || v > INT_MAX)
		return -EINVAL;
	*ret_pid = v;
	return 0;
}

/* enroll and unenroll: exactly one selector. */
static int build_selector(struct cli *cli, int argc, char **argv, const char *command, json_t **ret)
{
	static const struct option opts[] = {COMMON_LONG_OPTIONS,
					     {"cgroup", required_argument, NULL, OPT_CGROUP},
					     {"unit", required_argument, NULL, OPT_UNIT},
					     {"slice", required_argument, NULL, OPT_SLICE},
					     {"pid", required_argument, NULL, OPT_PID},
					     {}};
	_cleanup_(json_decrefp) json_t *req = NULL;
	const char *key = NULL;
	json_t *value = NULL;
	int opt, r;

	req = json_pack("{s:s}", "command", command);
	if (!req)
		return -ENOMEM;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		const char *k = opt == OPT_CGROUP  ? "cgroup"
				: opt == OPT_UNIT  ? "unit"
				: opt == OPT_SLICE ? "slice"
				: opt == OPT_PID   ? "pid"
						   : NULL;
		json_int_t pid;

		if (!k) {
			r = common_option(cli, opt);
			if (r <= 0)
				return r < 0 ? r : -EINVAL;
			continue;
		}
		if (key)
			return usage_error("'%s' takes exactly one of --cgroup, --unit, --slice, "
					   "--pid",
					   command);
		key = k;
		if (opt == OPT_PID) {
			if (parse_pid(optarg, &pid) < 0)
				return usage_error("invalid process id '%s'", optarg);
			value = json_integer(pid);
		} else {
			if (!*optarg)
				return usage_error("'--%s' needs a non-empty value", k);
			value = json_string(optarg);
		}
		if (!value || json_object_set_new(req, key, value) < 0)
			return -ENOMEM;
	}
	r = no_extra_args(argc, argv, command);
	if (r < 0)
		return r;
	if (!key)
		return usage_error("'%s' needs one of --cgroup PATH, --unit NAME, --slice NAME, "
				   "--pid N",
				   command);
	*ret = TAKE_PTR(req);
	return 0;
}

static int build_enroll(struct cli *cli, int argc, char **argv, json_t **ret)
{
	return build_selector(cli, argc, argv, "enroll", ret);
}

static int build_unenroll(struct cli *cli, int argc, char **argv, json_t **ret)
{
	return build_selector(cli, argc, argv, "unenroll", ret);
}

static const struct option common_options[] = {COMMON_LONG_OPTIONS};

static int common_option_cb(void *cli, int opt)
{
	return common_option(cli, opt);
}

static int build_approval(struct cli *cli, int argc, char **argv, json_t **ret)
{
	return cli_approval_build(cli->command, argc, argv, common_options,
				  ARRAY_SIZE(common_options), common_option_cb, cli, ret);
}

struct command {
	const char *name;
	int (*build)(struct cli *cli, int argc, char **argv, json_t **ret_request);
	void (*render)(json_t *reply);
};

static const struct command commands[] = {
    {"status", build_status, render_status},
    {"flows", build_flows, render_flows},
    {"enroll", build_enroll, render_enroll},
    {"unenroll", build_unenroll, render_unenroll},
    {"pending", build_approval, NULL},
    {"approve", build_approval, NULL},
    {"deny", build_approval, NULL},
    {"grants", build_approval, NULL},
    {"revoke", build_approval, NULL},
};

/* --- main ----------------------------------------------------------------------------------- */

static void print_warning(json_t *reply)
{
	json_t *warning = json_object_get(reply, "warning");
	_cleanup_free_ char *text = NULL;

	if (!json_is_string(warning))
		return;
	text = sanitize(json_string_value(warning));
	fprintf(stderr, "mcpwarden: warning: %s\n", text ? text : "?");
}

/* Report the reply's outcome: 0 ok, 1 failure, 2 usage error. */
static int reply_status(json_t *reply)
{
	json_t *ok = json_object_get(reply, "ok");
	const char *error = json_string_value(json_object_get(reply, "error"));
	_cleanup_free_ char *text = NULL;

	if (json_is_true(ok))
		return EXIT_OK;
	if (!json_is_false(ok)) {
		fprintf(stderr, "mcpwarden: malformed reply from the agent: no boolean 'ok'\n");
		return EXIT_FAIL;
	}
	text = sanitize(error ? error : "the agent reported a failure without a message");
	fprintf(stderr, "mcpwarden: %s\n", text ? text : "?");
	if (json_is_true(json_object_get(reply, "usage")))
		return EXIT_USAGE;
	return EXIT_FAIL;
}

static int run(int argc, char **argv)
{
	static const struct option opts[] = {COMMON_LONG_OPTIONS, {}};
	struct cli cli = {.socket = NULL};
	_cleanup_(json_decrefp) json_t *request = NULL;
	_cleanup_(json_decrefp) json_t *reply = NULL;
	const struct command *cmd = NULL;
	_cleanup_free_ char *prog = NULL;
	char errbuf[512];
	size_t i;
	int opt, r, rc;

	/* Global options stop at the command's name ('+'). */
	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) >= 0) {
		r = common_option(&cli, opt);
		if (r == -ECANCELED)
			return EXIT_OK;
		if (r <= 0)
			return EXIT_USAGE;
	}
	if (optind >= argc) {
		usage_error("no command given (status, flows, enroll, unenroll, pending, approve, "
			    "deny, grants, revoke, policy, help)");
		return EXIT_USAGE;
	}
	if (!strcmp(argv[optind], "help")) {
		print_help(stdout);
		return EXIT_OK;
	}
	/* works on files, without the agent */
	if (!strcmp(argv[optind], "policy"))
		return cli_policy(argc - optind, argv + optind);
	if (!strcmp(argv[optind], "ca"))
		return cli_ca(argc - optind, argv + optind);
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(argv[optind], commands[i].name))
			cmd = &commands[i];
	if (!cmd) {
		_cleanup_free_ char *name = sanitize(argv[optind]);

		usage_error("unknown command '%s'", name ? name : "?");
		return EXIT_USAGE;
	}

	argc -= optind;
	argv += optind;
	optind = 0; /* glibc: reinitialize for the command's own options */
	if (asprintf(&prog, "mcpwarden %s", cmd->name) >= 0)
		argv[0] = prog; /* getopt's messages: "mcpwarden flows: unrecognized option" */
	cli.command = cmd->name;
	r = cmd->build(&cli, argc, argv, &request);
	if (r == -ECANCELED)
		return EXIT_OK;
	if (r == -ENOMEM) {
		fprintf(stderr, "mcpwarden: out of memory\n");
		return EXIT_FAIL;
	}
	if (r < 0)
		return EXIT_USAGE;

	if (!cli.socket)
		cli.socket = getenv(CLI_SOCKET_ENV);
	if (!cli.socket || !*cli.socket)
		cli.socket = CLI_SOCKET_DEFAULT;

	r = control_call(cli.socket, request, CLI_TIMEOUT_USEC, &reply, errbuf, sizeof(errbuf));
	if (r < 0) {
		fprintf(stderr, "mcpwarden: %s\n", errbuf);
		return EXIT_FAIL;
	}

	if (cli.json) {
		if (json_dumpf(reply, stdout, JSON_INDENT(2)) < 0)
			return EXIT_FAIL;
		putchar('\n');
		return reply_status(reply);
	}
	rc = reply_status(reply);
	if (rc == EXIT_OK) {
		if (cmd->render)
			cmd->render(reply);
		else
			cli_approval_render(cmd->name, reply);
		fflush(stdout); /* the warning belongs after what it qualifies */
		print_warning(reply);
	}
	return rc;
}

int main(int argc, char **argv)
{
	int rc = run(argc, argv);

	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "mcpwarden: cannot write the output: %s\n", strerror(errno));
		return EXIT_FAIL;
	}
	return rc;
}
