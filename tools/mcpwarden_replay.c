/* mcpwarden_replay.c: mcpwarden-replay, the auditors' tool: list, show, play, verify,
 * export, search and keygen over the session journal (docs/journal.md). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "journal.h"
#include "journal_index.h"
#include "mcpwarden_replay.h"
#include "util.h"

static const char usage_main[] =
	"Usage: mcpwarden-replay [--dir PATH] [--json] COMMAND [ARGS]\n"
	"\n"
	"Query, replay and verify mcpwarden session journals (docs/journal.md).\n"
	"\n"
	"Commands:\n"
	"  list [FILTERS]            sessions, one a line (newest last)\n"
	"  show SESSION              a session's timeline: who, when, which unit and process,\n"
	"                            which tool with which arguments, the decision and rule,\n"
	"                            approvals, what was masked, what came back; SESSION may\n"
	"                            be an MCP session id (Mcp-Session-Id): all its flows\n"
	"  play SESSION [--speed N]  the same timeline at the original pace, N times faster\n"
	"  verify [--key FILE] [PATH...]\n"
	"                            check framing, hash chain, numbering, seals and the\n"
	"                            durable point; names file, offset and record of each fault\n"
	"  export --format jsonl [FILTERS]\n"
	"                            every record as one JSON object a line, for a SIEM\n"
	"  search TEXT               records whose payload or metadata contain TEXT\n"
	"  keygen --out FILE         a new initial seal key (epoch 0) for the auditor to keep\n"
	"\n"
	"Filters (list, export):\n"
	"  --user SUB  --group NAME  --tool NAME  --decision allow|deny|review|...\n"
	"  --target TEXT (substring of host:port)  --since TIME  --until TIME\n"
	"  --mcp-session ID (the flows of one MCP session)\n"
	"  TIME is 2026-12-05, 2026-12-05T10:00:00 (UTC), or a duration back from now (2h, 7d).\n"
	"\n"
	"Options:\n"
	"  --dir PATH   the journal directory (default " MW_STATE_DIR_DEFAULT "/journal)\n"
	"  --json       machine-readable output for every command\n"
	"  -h, --help   this text; `mcpwarden-replay COMMAND --help` for one command\n"
	"\n"
	"SESSION is the 16-hex-digit id `list` prints (a unique prefix is enough), or an MCP\n"
	"session id (the Mcp-Session-Id `list` groups flows by).\n"
	"Exit status: 0 success, 1 failure (a broken chain, a session not found),\n"
	"2 usage error or an unreadable journal.\n";

static const struct {
	const char *cmd, *help;
} usage_cmds[] = {
	{ "list", "Usage: mcpwarden-replay [--dir PATH] list [--user SUB] [--group NAME] [--tool NAME]\n"
		  "       [--decision D] [--target TEXT] [--since TIME] [--until TIME]\n"
		  "       [--mcp-session ID] [--json]\n\n"
		  "One line per journal session (one flow): id, start (UTC), state (open, closed,\n"
		  "abandoned), user, unit and process, target, tools called, decisions, records.\n"
		  "The flows of one MCP session (one Mcp-Session-Id, spread by HTTP clients over\n"
		  "several connections) are listed together under an \"MCP session ID\" line, in\n"
		  "the order of the session's first flow; flows without one stand alone.  --json:\n"
		  "the sessions in that order, each with mcp_session.  Reads the segments'\n"
		  "indexes; a segment without a finished index is scanned.\n" },
	{ "show", "Usage: mcpwarden-replay [--dir PATH] show SESSION|MCP-SESSION [--json]\n\n"
		  "The session's records in order: the open record (flow, unit, pid, comm, uid,\n"
		  "target), decisions (user, groups, decision, rule, reason), requests (JSON-RPC\n"
		  "method, tool and arguments), approval events, masking summaries, responses\n"
		  "(HTTP status, the JSON-RPC result or error; the agent's own replies marked)\n"
		  "and the close (or abandoned) record.  Given an MCP session id, the records of\n"
		  "all its flows merged in time order, each line naming its flow.  --json prints\n"
		  "the records as export does.\n" },
	{ "play", "Usage: mcpwarden-replay [--dir PATH] play SESSION [--speed N]\n\n"
		  "show, paced: waits between records as long as they were apart, divided by N\n"
		  "(default 1; --speed 10 plays ten times faster).\n" },
	{ "verify", "Usage: mcpwarden-replay [--dir PATH] verify [--key FILE] [PATH...] [--json]\n\n"
		    "Checks every segment (or the files named, in order): header, frame checksums\n"
		    "and decoding, the SHA-256 chain within and across files, journal-wide record\n"
		    "numbers, each session's sequence (gaps only where a gap record says so),\n"
		    "seal epochs and, with --key (the initial key from keygen), each seal's HMAC;\n"
		    "and the durable point recorded in HEAD.  Each fault is printed with file,\n"
		    "byte offset of its frame, record number, session and sequence.  Exit 1 on any.\n" },
	{ "export", "Usage: mcpwarden-replay [--dir PATH] export --format jsonl [FILTERS]\n\n"
		    "Every record of the matching sessions as one JSON object a line: file, offset,\n"
		    "jseq, session, flow, seq, type (open, request, response, decision, approval,\n"
		    "mask, gap, close, abandoned, seal), dir, time, mono, meta, payload (text, or\n"
		    "base64 with payload_encoding), hash.\n" },
	{ "search", "Usage: mcpwarden-replay [--dir PATH] search TEXT [--json]\n\n"
		    "Records whose payload or metadata contain TEXT (bytes, case-sensitive).\n" },
	{ "keygen", "Usage: mcpwarden-replay keygen --out FILE\n\n"
		    "Writes a new random seal key, epoch 0 (mode 0600, never overwrites).  Keep it\n"
		    "offline for `verify --key`; install a copy as STATE_DIR/journal/seal.key,\n"
		    "owned by the agent's user, before the agent starts.  The agent evolves its\n"
		    "copy one way at every seal and erases the old key, so a later intruder\n"
		    "cannot forge past seals.\n" },
};

static bool arg_json;

static int usage_cmd(const char *cmd, FILE *to, int code)
{
	for (size_t i = 0; i < ARRAY_SIZE(usage_cmds); i++)
		if (strcmp(usage_cmds[i].cmd, cmd) == 0) {
			fputs(usage_cmds[i].help, to);
			return code;
		}
	fputs(usage_main, to);
	return code;
}

/* ---- sessions (list) -------------------------------------------------------------------- */

struct filters {
	const char *user, *group, *tool, *decision, *target, *mcp_session;
	uint64_t since, until;
};

static int parse_time(const char *s, uint64_t *ret)
{
	struct tm tm = {};
	const char *e;
	uint64_t d;

	if (mw_parse_duration(s, &d) == 0) {
		*ret = mw_now_wall_usec() - d;
		return 0;
	}
	e = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!e) {
		memset(&tm, 0, sizeof(tm));
		e = strptime(s, "%Y-%m-%d", &tm);
	}
	if (!e || (*e && strcmp(e, "Z") != 0))
		return -EINVAL;
	*ret = (uint64_t)timegm(&tm) * 1000000ULL;
	return 0;
}

static bool in_list(json_t *s, const char *key, const char *v)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(s, key), i, e) /* an index is untrusted input */
		if (json_is_string(e) && strcmp(json_string_value(e), v) == 0)
			return true;
	return false;
}

static const char *sget(json_t *s, const char *k);
static void join(json_t *s, const char *key, char *buf, size_t size);

/* Every caller of the session ("alice,bob"); indexes written before "users" have "user". */
static const char *users_str(json_t *s, char *buf, size_t size)
{
	if (json_array_size(json_object_get(s, "users")) == 0)
		return sget(s, "user");
	join(s, "users", buf, size);
	return buf;
}

static bool filter_match(const struct filters *f, json_t *s)
{
	const char *u = json_string_value(json_object_get(s, "user"));
	const char *t = json_string_value(json_object_get(s, "target"));
	uint64_t open = (uint64_t)json_integer_value(json_object_get(s, "open"));
	uint64_t end = (uint64_t)json_integer_value(json_object_get(s, "end"));

	if (f->user && !in_list(s, "users", f->user) && (!u || strcmp(u, f->user) != 0))
		return false;
	if (f->group && !in_list(s, "groups", f->group))
		return false;
	if (f->tool && !in_list(s, "tools", f->tool))
		return false;
	if (f->decision && !in_list(s, "decisions", f->decision))
		return false;
	if (f->target && (!t || !strstr(t, f->target)))
		return false;
	if (f->mcp_session && !in_list(s, "mcp_sessions", f->mcp_session) &&
	    strcmp(sget(s, "mcp_session"), f->mcp_session) != 0)
		return false;
	if (f->since && end < f->since)
		return false;
	if (f->until && open > f->until)
		return false;
	return true;
}

struct scan_ctx {
	json_t *sessions;
	size_t seg;
};

static int scan_cb(void *ud, const struct replay_seg *seg, size_t off, const struct mw_jrec *r)
{
	struct scan_ctx *c = ud;

	journal_index_add(c->sessions, r, seg->name, off);
	return 0;
}

/* Lines of NAME.idx into all; false when the index is missing or unfinished. */
static bool index_load(struct replay_archive *a, size_t i, json_t *all, json_t **ret_open)
{
	char path[4400];
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	bool finished = false;

	snprintf(path, sizeof(path), "%.*s.idx", (int)(strlen(a->segs[i].path) - 4),
		 a->segs[i].path);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (getline(&line, &cap, f) > 0) {
		json_t *o = json_loads(line, 0, NULL);
		const char *sid = json_string_value(json_object_get(o, "session"));

		if (json_is_true(json_object_get(o, "end"))) {
			finished = true;
			json_decref(*ret_open);
			*ret_open = json_incref(json_object_get(o, "open"));
		} else if (sid) {
			json_object_set(all, sid, o);
		}
		json_decref(o);
	}
	free(line);
	fclose(f);
	return finished;
}

/* Every session of the archive, keyed by id. */
static json_t *sessions_load(struct replay_archive *a)
{
	json_t *all = json_object(), *open = NULL;

	for (size_t i = 0; i < a->n; i++) {
		json_t *prev_open = json_incref(open);

		if (index_load(a, i, all, &open)) {
			json_decref(prev_open);
			continue;
		}
		/* unfinished (the live segment) or missing: scan it, starting from the
		 * sessions the previous segment left open */
		struct scan_ctx c = { .sessions = json_is_object(prev_open)
							  ? json_deep_copy(prev_open)
							  : json_object(),
				      .seg = i };
		const char *k;
		json_t *s;

		json_decref(prev_open);
		replay_foreach(&(struct replay_archive){ .segs = &a->segs[i], .n = 1 }, 0, 0,
			       scan_cb, &c);
		json_object_foreach(c.sessions, k, s)
			json_object_set(all, k, s);
		json_decref(open);
		open = json_object();
		json_object_foreach(c.sessions, k, s)
			if (strcmp(json_string_value(json_object_get(s, "state")), "open") == 0)
				json_object_set(open, k, s);
		json_decref(c.sessions);
	}
	/* sessions still open at the end are listed from the open-lists they were last in */
	if (json_is_object(open)) {
		const char *k;
		json_t *s;

		json_object_foreach(open, k, s)
			if (!json_object_get(all, k))
				json_object_set(all, k, s);
	}
	json_decref(open);
	return all;
}

/* Sessions in list order: the flows of one MCP session together, groups (and flows without
 * one) by their first flow's start. */
struct sorted {
	json_t *s;
	const char *group; /* the MCP session, or the flow-session's own id */
	json_int_t group_open, open;
};

static int cmp_sorted(const void *x, const void *y)
{
	const struct sorted *a = x, *b = y;
	int c;

	if (a->group_open != b->group_open)
		return a->group_open < b->group_open ? -1 : 1;
	c = strcmp(a->group, b->group);
	if (c)
		return c;
	return a->open < b->open ? -1 : a->open > b->open;
}

static const char *group_key(json_t *s)
{
	const char *m = json_string_value(json_object_get(s, "mcp_session"));

	return m && *m ? m : json_string_value(json_object_get(s, "session")) ?: "";
}

static size_t sessions_sorted(json_t *all, const struct filters *f, json_t ***ret)
{
	struct sorted *v = calloc(json_object_size(all) + 1, sizeof(*v));
	json_t **out = calloc(json_object_size(all) + 1, sizeof(*out));
	json_t *first = json_object(); /* group -> earliest open */
	const char *k;
	json_t *s;
	size_t n = 0;

	json_object_foreach(all, k, s) {
		json_int_t open = json_integer_value(json_object_get(s, "open"));
		json_t *g = json_object_get(first, group_key(s));

		if (!g || json_integer_value(g) > open)
			json_object_set_new(first, group_key(s), json_integer(open));
	}
	json_object_foreach(all, k, s)
		if (!f || filter_match(f, s))
			v[n++] = (struct sorted){
				.s = s,
				.group = group_key(s),
				.group_open = json_integer_value(json_object_get(first, group_key(s))),
				.open = json_integer_value(json_object_get(s, "open")),
			};
	qsort(v, n, sizeof(*v), cmp_sorted);
	for (size_t i = 0; i < n; i++)
		out[i] = v[i].s;
	free(v);
	json_decref(first);
	*ret = out;
	return n;
}

static void join(json_t *s, const char *key, char *buf, size_t size)
{
	size_t i, len = 0;
	json_t *e;

	buf[0] = 0;
	json_array_foreach(json_object_get(s, key), i, e) {
		if (!json_is_string(e))
			continue;
		if (len)
			mw_str_append(buf, size, &len, ",", 1);
		mw_str_append(buf, size, &len, json_string_value(e), strlen(json_string_value(e)));
	}
	if (!buf[0])
		snprintf(buf, size, "-");
}

static const char *sget(json_t *s, const char *k)
{
	const char *v = json_string_value(json_object_get(s, k));

	return v && *v ? v : "-";
}

static int cmd_list(struct replay_archive *a, const struct filters *f)
{
	json_t *all = sessions_load(a), **v;
	size_t n = sessions_sorted(all, f, &v);

	if (arg_json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append(arr, v[i]);
		json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(arr);
	} else {
		printf("%-16s  %-24s  %-9s  %-12s  %-24s  %-22s  %-16s  %-10s  %s\n", "SESSION",
		       "START", "STATE", "USER", "UNIT/COMM[PID]", "TARGET", "TOOLS",
		       "DECISIONS", "RECORDS");
		for (size_t i = 0; i < n; i++) {
			char t[40], who[128], tools[128], dec[64], users[128];
			json_t *s = v[i];
			const char *ms = json_string_value(json_object_get(s, "mcp_session"));

			if (ms && *ms &&
			    (i == 0 || !json_equal(json_object_get(v[i - 1], "mcp_session"),
						   json_object_get(s, "mcp_session"))))
				printf("MCP session %s\n", ms);
			else if ((!ms || !*ms) && i > 0 &&
				 *sget(v[i - 1], "mcp_session") != '-')
				printf("(no MCP session)\n");

			replay_time((uint64_t)json_integer_value(json_object_get(s, "open")), t,
				    sizeof(t));
			snprintf(who, sizeof(who), "%s/%s[%lld]", sget(s, "unit"), sget(s, "comm"),
				 (long long)json_integer_value(json_object_get(s, "pid")));
			join(s, "tools", tools, sizeof(tools));
			join(s, "decisions", dec, sizeof(dec));
			printf("%-16s  %-24s  %-9s  %-12s  %-24s  %-22s  %-16s  %-10s  %lld\n",
			       sget(s, "session"), t, sget(s, "state"),
			       users_str(s, users, sizeof(users)), who,
			       sget(s, "target"), tools, dec,
			       (long long)json_integer_value(json_object_get(s, "records")));
		}
	}
	free(v);
	json_decref(all);
	return REPLAY_EXIT_OK;
}

/* A session by id or unique prefix. */
static json_t *session_find(json_t *all, const char *id)
{
	const char *k;
	json_t *s, *found = NULL;
	size_t l = strlen(id);

	json_object_foreach(all, k, s)
		if (strncmp(k, id, l) == 0) {
			if (found)
				return NULL;
			found = s;
		}
	return found;
}

/* ---- show, play, export, search -------------------------------------------------------- */

#define SHOW_FLOWS_MAX 4096 /* flow-sessions of one MCP session shown together */

struct show_ctx {
	uint64_t *sessions_shown; /* show: the flow-sessions, sorted */
	size_t n_shown, n_done;
	bool json;
	double speed; /* 0: no pacing */
	uint64_t prev_wall;
	struct replay_timeline tl;
	json_t *arr;
	const struct replay_seg *done_seg;
	const struct filters *f;
	json_t *sessions; /* export: matching sessions */
	const char *needle;
	uint64_t hits;
};

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static int show_cb(void *ud, const struct replay_seg *seg, size_t off, const struct mw_jrec *r)
{
	struct show_ctx *c = ud;

	/* after the last close, only the rest of its segment: a gap record may follow it */
	if (c->n_done >= c->n_shown && seg != c->done_seg)
		return 1;
	if (!bsearch(&r->session, c->sessions_shown, c->n_shown, sizeof(uint64_t), cmp_u64))
		return 0;
	if (c->speed > 0 && c->prev_wall && r->wall > c->prev_wall) {
		uint64_t us = (uint64_t)((double)(r->wall - c->prev_wall) / c->speed);

		fflush(stdout);
		usleep((useconds_t)(us > 60000000 ? 60000000 : us));
	}
	c->prev_wall = r->wall;
	if (c->json)
		json_array_append_new(c->arr, replay_record_json(seg, off, r));
	else
		replay_print_record(&c->tl, r);
	if (r->type == MW_JREC_CLOSE || r->type == MW_JREC_ABANDONED) {
		c->n_done++;
		c->done_seg = seg;
	}
	return 0;
}

static void show_header(json_t *s)
{
	char t[40], groups[256], users[256];
	size_t n = json_array_size(json_object_get(s, "users"));

	replay_time((uint64_t)json_integer_value(json_object_get(s, "open")), t, sizeof(t));
	join(s, "groups", groups, sizeof(groups));
	printf("session %s  %s  user%s %s  groups %s  unit %s  pid %lld  comm %s\n"
	       "target %s  state %s  MCP session %s\n",
	       sget(s, "session"), t, n > 1 ? "s" : "", users_str(s, users, sizeof(users)), groups,
	       sget(s, "unit"),
	       (long long)json_integer_value(json_object_get(s, "pid")), sget(s, "comm"),
	       sget(s, "target"), sget(s, "state"), sget(s, "mcp_session"));
}

/* SESSION: a flow-session (id or unique prefix), else an MCP session id: its flows, merged
 * in journal order (which is time order), starting at the earliest one's first frame. */
static int cmd_show(struct replay_archive *a, const char *id, double speed)
{
	json_t *all = sessions_load(a), *s, **v = NULL;
	struct show_ctx c = { .json = arg_json, .speed = speed };
	struct filters f = { .mcp_session = id };
	size_t seg = 0, off = 0, n;
	bool started = false;
	int r;

	s = session_find(all, id);
	if (s) {
		v = calloc(1, sizeof(*v));
		v[0] = s;
		n = 1;
	} else {
		n = sessions_sorted(all, &f, &v);
	}
	if (!n || n > SHOW_FLOWS_MAX) {
		fprintf(stderr, n ? "mcpwarden-replay: MCP session '%s' has too many flows\n"
				  : "mcpwarden-replay: no session '%s' (neither a session id, a "
				    "unique prefix of one, nor an MCP session id)\n",
			id);
		free(v);
		json_decref(all);
		return REPLAY_EXIT_FAIL;
	}
	c.sessions_shown = calloc(n, sizeof(uint64_t));
	c.n_shown = n;
	c.tl.flows = n > 1;
	for (size_t i = 0; i < n; i++) {
		const char *file = json_string_value(json_object_get(v[i], "file"));
		size_t o = (size_t)json_integer_value(json_object_get(v[i], "offset"));

		journal_session_parse(json_string_value(json_object_get(v[i], "session")),
				      &c.sessions_shown[i]);
		for (size_t k = 0; k < a->n; k++)
			if (file && strcmp(a->segs[k].name, file) == 0 &&
			    (!started || k < seg || (k == seg && o < off))) {
				seg = k;
				off = o;
				started = true;
			}
	}
	qsort(c.sessions_shown, n, sizeof(uint64_t), cmp_u64);
	if (c.json) {
		c.arr = json_array();
	} else {
		if (n > 1)
			printf("MCP session %s: %zu flows\n", id, n);
		for (size_t i = 0; i < n; i++)
			show_header(v[i]);
		putchar('\n');
	}
	r = replay_foreach(a, seg, off, show_cb, &c);
	if (c.json) {
		json_dumpf(c.arr, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(c.arr);
	}
	replay_timeline_done(&c.tl);
	free(c.sessions_shown);
	free(v);
	json_decref(all);
	return r < 0 ? REPLAY_EXIT_FAIL : REPLAY_EXIT_OK;
}

static int export_cb(void *ud, const struct replay_seg *seg, size_t off, const struct mw_jrec *r)
{
	struct show_ctx *c = ud;
	char sid[17];
	json_t *o;

	journal_session_name(r->session, sid);
	if (c->sessions && !json_object_get(c->sessions, sid))
		return 0;
	o = replay_record_json(seg, off, r);
	json_dumpf(o, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(o);
	return 0;
}

static int cmd_export(struct replay_archive *a, const char *format, const struct filters *f,
		      bool filtered)
{
	struct show_ctx c = {};
	json_t *all = NULL;

	if (!format || strcmp(format, "jsonl") != 0) {
		fprintf(stderr, "mcpwarden-replay: export needs --format jsonl\n");
		return REPLAY_EXIT_USAGE;
	}
	if (filtered) {
		json_t **v;
		size_t n;

		all = sessions_load(a);
		n = sessions_sorted(all, f, &v);
		c.sessions = json_object();
		for (size_t i = 0; i < n; i++)
			json_object_set(c.sessions, sget(v[i], "session"), v[i]);
		free(v);
	}
	replay_foreach(a, 0, 0, export_cb, &c);
	json_decref(c.sessions);
	json_decref(all);
	return REPLAY_EXIT_OK;
}

static int search_cb(void *ud, const struct replay_seg *seg, size_t off, const struct mw_jrec *r)
{
	struct show_ctx *c = ud;
	size_t nl = strlen(c->needle);
	const char *hit = NULL;
	char sid[17], t[40];

	if (r->type == MW_JREC_SEAL)
		return 0;
	if (r->payload_len)
		hit = memmem(r->payload, r->payload_len, c->needle, nl);
	if (!hit && r->meta_len)
		hit = memmem(r->meta, r->meta_len, c->needle, nl);
	if (!hit)
		return 0;
	c->hits++;
	if (c->json) {
		json_array_append_new(c->arr, replay_record_json(seg, off, r));
		return 0;
	}
	journal_session_name(r->session, sid);
	replay_time(r->wall, t, sizeof(t));
	printf("%s  %s  #%" PRIu64 " %-9s %s offset %zu\n", sid, t, r->seq,
	       journal_type_name(r->type), seg->name, off);
	return 0;
}

static int cmd_search(struct replay_archive *a, const char *text)
{
	struct show_ctx c = { .needle = text, .json = arg_json };

	if (!text || !*text) {
		fprintf(stderr, "mcpwarden-replay: search needs TEXT\n");
		return REPLAY_EXIT_USAGE;
	}
	if (c.json)
		c.arr = json_array();
	replay_foreach(a, 0, 0, search_cb, &c);
	if (c.json) {
		json_dumpf(c.arr, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(c.arr);
	}
	return c.hits ? REPLAY_EXIT_OK : REPLAY_EXIT_FAIL;
}

static int cmd_keygen(const char *out)
{
	uint8_t key[32], buf[MW_JOURNAL_KEY_FILE_SIZE];
	int fd, r = 0;

	if (!out) {
		fprintf(stderr, "mcpwarden-replay: keygen needs --out FILE\n");
		return REPLAY_EXIT_USAGE;
	}
	if (RAND_bytes(key, sizeof(key)) != 1) {
		fprintf(stderr, "mcpwarden-replay: no randomness for the key\n");
		return REPLAY_EXIT_FAIL;
	}
	journal_key_encode(0, key, buf);
	explicit_bzero(key, sizeof(key));
	fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) || fsync(fd) < 0)
		r = -errno;
	explicit_bzero(buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	if (r < 0) {
		fprintf(stderr, "mcpwarden-replay: '%s': %s\n", out, strerror(-r));
		return REPLAY_EXIT_FAIL;
	}
	if (arg_json)
		printf("{\"key\": \"%s\", \"epoch\": 0}\n", out);
	else
		printf("seal key (epoch 0) written to %s\n"
		       "keep this file offline for `mcpwarden-replay verify --key %s`;\n"
		       "install a copy as STATE_DIR/journal/seal.key (owner: the agent's user, "
		       "mode 0600)\nbefore the agent starts.\n",
		       out, out);
	return REPLAY_EXIT_OK;
}

int main(int argc, char **argv)
{
	enum { O_USER = 256, O_GROUP, O_TOOL, O_DECISION, O_TARGET, O_SINCE, O_UNTIL, O_SPEED,
	       O_FORMAT, O_KEY, O_OUT, O_DIR, O_MCP_SESSION };
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, O_DIR },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "user", required_argument, NULL, O_USER },
		{ "group", required_argument, NULL, O_GROUP },
		{ "tool", required_argument, NULL, O_TOOL },
		{ "decision", required_argument, NULL, O_DECISION },
		{ "target", required_argument, NULL, O_TARGET },
		{ "mcp-session", required_argument, NULL, O_MCP_SESSION },
		{ "since", required_argument, NULL, O_SINCE },
		{ "until", required_argument, NULL, O_UNTIL },
		{ "speed", required_argument, NULL, O_SPEED },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "key", required_argument, NULL, O_KEY },
		{ "out", required_argument, NULL, O_OUT },
		{}
	};
	const char *dir = MW_STATE_DIR_DEFAULT "/journal", *format = NULL, *key = NULL,
		   *out = NULL, *cmd = NULL;
	struct filters f = {};
	bool filtered = false, help = false;
	double speed = 1.0;
	char *pos[64];
	int npos = 0, c, rc;
	struct replay_archive a;

	while ((c = getopt_long(argc, argv, "-jh", opts, NULL)) != -1) {
		switch (c) {
		case 1:
			if (!cmd)
				cmd = optarg;
			else if (npos < (int)ARRAY_SIZE(pos))
				pos[npos++] = optarg;
			break;
		case 'j':
			arg_json = true;
			break;
		case 'h':
			help = true;
			break;
		case O_DIR:
			dir = optarg;
			break;
		case O_USER:
			f.user = optarg, filtered = true;
			break;
		case O_GROUP:
			f.group = optarg, filtered = true;
			break;
		case O_TOOL:
			f.tool = optarg, filtered = true;
			break;
		case O_DECISION:
			f.decision = optarg, filtered = true;
			break;
		case O_TARGET:
			f.target = optarg, filtered = true;
			break;
		case O_MCP_SESSION:
			f.mcp_session = optarg, filtered = true;
			break;
		case O_SINCE:
		case O_UNTIL:
			if (parse_time(optarg, c == O_SINCE ? &f.since : &f.until) < 0) {
				fprintf(stderr, "mcpwarden-replay: --%s: '%s' is not a time\n",
					c == O_SINCE ? "since" : "until", optarg);
				return REPLAY_EXIT_USAGE;
			}
			filtered = true;
			break;
		case O_SPEED:
			speed = strtod(optarg, NULL);
			if (speed <= 0) {
				fprintf(stderr, "mcpwarden-replay: --speed: a positive number\n");
				return REPLAY_EXIT_USAGE;
			}
			break;
		case O_FORMAT:
			format = optarg;
			break;
		case O_KEY:
			key = optarg;
			break;
		case O_OUT:
			out = optarg;
			break;
		default:
			return usage_cmd(cmd ? cmd : "", stderr, REPLAY_EXIT_USAGE);
		}
	}
	if (help)
		return usage_cmd(cmd ? cmd : "", stdout, REPLAY_EXIT_OK);
	if (!cmd)
		return usage_cmd("", stderr, REPLAY_EXIT_USAGE);
	if (strcmp(cmd, "keygen") == 0)
		return cmd_keygen(out);
	if (strcmp(cmd, "verify") == 0 && npos > 0)
		rc = replay_archive_files(pos, npos, &a);
	else if (strcmp(cmd, "list") == 0 || strcmp(cmd, "show") == 0 ||
		 strcmp(cmd, "play") == 0 || strcmp(cmd, "verify") == 0 ||
		 strcmp(cmd, "export") == 0 || strcmp(cmd, "search") == 0)
		rc = replay_archive_open(dir, &a);
	else {
		fprintf(stderr, "mcpwarden-replay: unknown command '%s'\n", cmd);
		return usage_cmd("", stderr, REPLAY_EXIT_USAGE);
	}
	if (rc < 0)
		return REPLAY_EXIT_USAGE;
	if (strcmp(cmd, "list") == 0)
		rc = cmd_list(&a, &f);
	else if (strcmp(cmd, "show") == 0 || strcmp(cmd, "play") == 0)
		rc = npos == 1 ? cmd_show(&a, pos[0], strcmp(cmd, "play") == 0 ? speed : 0)
			       : usage_cmd(cmd, stderr, REPLAY_EXIT_USAGE);
	else if (strcmp(cmd, "verify") == 0)
		rc = replay_cmd_verify(&a, key, arg_json);
	else if (strcmp(cmd, "export") == 0)
		rc = cmd_export(&a, format, &f, filtered);
	else
		rc = cmd_search(&a, npos ? pos[0] : NULL);
	replay_archive_close(&a);
	return rc;
}
