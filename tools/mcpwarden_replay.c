/* mcpwarden_replay.c: mcpwarden-replay, the auditors' tool: list, show, play, verify,
 * export, search and keygen over the session journal (docs/journal.md). */
#include <ctype.h>
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
	"                            what was masked, what came back\n"
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
	"  TIME is 2026-12-05, 2026-12-05T10:00:00 (UTC), or a duration back from now (2h, 7d).\n"
	"\n"
	"Options:\n"
	"  --dir PATH   the journal directory (default " MW_STATE_DIR_DEFAULT "/journal)\n"
	"  --json       machine-readable output for every command\n"
	"  -h, --help   this text; `mcpwarden-replay COMMAND --help` for one command\n"
	"\n"
	"SESSION is the 16-hex-digit id `list` prints (a unique prefix is enough).\n"
	"Exit status: 0 success, 1 failure (a broken chain, a session not found),\n"
	"2 usage error or an unreadable journal.\n";

static const struct {
	const char *cmd, *help;
} usage_cmds[] = {
	{ "list", "Usage: mcpwarden-replay [--dir PATH] list [--user SUB] [--group NAME] [--tool NAME]\n"
		  "       [--decision D] [--target TEXT] [--since TIME] [--until TIME] [--json]\n\n"
		  "One line per session: id, start (UTC), state (open, closed, abandoned), user,\n"
		  "unit and process, target, tools called, decisions, records.  Reads the\n"
		  "segments' indexes; a segment without a finished index is scanned.\n" },
	{ "show", "Usage: mcpwarden-replay [--dir PATH] show SESSION [--json]\n\n"
		  "The session's records in order: the open record (flow, unit, pid, comm, uid,\n"
		  "target), requests (JSON-RPC method, tool and arguments), decisions (user,\n"
		  "groups, decision, rule, reason), masking summaries, responses and the close\n"
		  "(or abandoned) record.  --json prints the records as export does.\n" },
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
		    "jseq, session, flow, seq, type, dir, time, mono, meta, payload (text, or\n"
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
	const char *user, *group, *tool, *decision, *target;
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

	json_array_foreach(json_object_get(s, key), i, e)
		if (strcmp(json_string_value(e), v) == 0)
			return true;
	return false;
}

static bool filter_match(const struct filters *f, json_t *s)
{
	const char *u = json_string_value(json_object_get(s, "user"));
	const char *t = json_string_value(json_object_get(s, "target"));
	uint64_t open = (uint64_t)json_integer_value(json_object_get(s, "open"));
	uint64_t end = (uint64_t)json_integer_value(json_object_get(s, "end"));

	if (f->user && (!u || strcmp(u, f->user) != 0))
		return false;
	if (f->group && !in_list(s, "groups", f->group))
		return false;
	if (f->tool && !in_list(s, "tools", f->tool))
		return false;
	if (f->decision && !in_list(s, "decisions", f->decision))
		return false;
	if (f->target && (!t || !strstr(t, f->target)))
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

static int cmp_open(const void *x, const void *y)
{
	json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
	json_int_t u = json_integer_value(json_object_get(a, "open"));
	json_int_t v = json_integer_value(json_object_get(b, "open"));

	return u < v ? -1 : u > v;
}

static size_t sessions_sorted(json_t *all, const struct filters *f, json_t ***ret)
{
	json_t **v = calloc(json_object_size(all) + 1, sizeof(*v));
	const char *k;
	json_t *s;
	size_t n = 0;

	json_object_foreach(all, k, s)
		if (!f || filter_match(f, s))
			v[n++] = s;
	qsort(v, n, sizeof(*v), cmp_open);
	*ret = v;
	return n;
}

static void join(json_t *s, const char *key, char *buf, size_t size)
{
	size_t i, len = 0;
	json_t *e;

	buf[0] = 0;
	json_array_foreach(json_object_get(s, key), i, e) {
		if (i)
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
			char t[40], who[128], tools[128], dec[64];
			json_t *s = v[i];

			replay_time((uint64_t)json_integer_value(json_object_get(s, "open")), t,
				    sizeof(t));
			snprintf(who, sizeof(who), "%s/%s[%lld]", sget(s, "unit"), sget(s, "comm"),
				 (long long)json_integer_value(json_object_get(s, "pid")));
			join(s, "tools", tools, sizeof(tools));
			join(s, "decisions", dec, sizeof(dec));
			printf("%-16s  %-24s  %-9s  %-12s  %-24s  %-22s  %-16s  %-10s  %lld\n",
			       sget(s, "session"), t, sget(s, "state"), sget(s, "user"), who,
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

struct show_ctx {
	uint64_t session;
	bool json;
	double speed; /* 0: no pacing */
	uint64_t first_wall, prev_wall;
	json_t *arr;
	bool done;
	const struct replay_seg *done_seg;
	const struct filters *f;
	json_t *sessions; /* export: matching sessions */
	const char *needle;
	uint64_t hits;
};

static void print_jsonrpc(json_t *m, const char *indent)
{
	json_t *params = json_object_get(m, "params");
	const char *method = json_string_value(json_object_get(m, "method"));
	json_t *id = json_object_get(m, "id");
	char *txt;

	if (method && strcmp(method, "tools/call") == 0) {
		txt = json_dumps(json_object_get(params, "arguments"), JSON_COMPACT);
		printf("%sJSON-RPC tools/call %s %s\n", indent,
		       json_string_value(json_object_get(params, "name")) ?: "?", txt ? txt : "");
		free(txt);
	} else if (method) {
		txt = json_dumps(params, JSON_COMPACT);
		printf("%sJSON-RPC %s %s\n", indent, method, txt ? txt : "");
		free(txt);
	} else if (json_object_get(m, "result") || json_object_get(m, "error")) {
		txt = json_dumps(json_object_get(m, "result") ?: json_object_get(m, "error"),
				 JSON_COMPACT);
		printf("%sJSON-RPC %s (id %lld): %.600s%s\n", indent,
		       json_object_get(m, "error") ? "error" : "result",
		       (long long)json_integer_value(id), txt ? txt : "",
		       txt && strlen(txt) > 600 ? " ..." : "");
		free(txt);
	}
}

/* Lines "data: {...}" of an event stream, wherever the relay's reads cut it. */
static bool print_data_lines(const char *p, size_t n)
{
	bool any = false;

	for (const char *e = p + n; p < e;) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(e - p);

		if (len > 5 && memcmp(p, "data:", 5) == 0) {
			json_t *m = json_loadb(p + 5, len - 5, 0, NULL);

			if (m) {
				print_jsonrpc(m, "      ");
				any = true;
			}
			json_decref(m);
		}
		p += len + 1;
	}
	return any;
}

/* The payload: JSON-RPC when it is one (a body, or event-stream data lines), else the start
 * of its text.  Raw records hold the bytes as relayed: an HTTP head, chunk-size lines. */
static void print_payload(const struct mw_jrec *r)
{
	const char *p = (const char *)r->payload, *body = p, *hdr_end;
	size_t n = r->payload_len, blen = n, i = 0;
	json_t *m;

	if (!n)
		return;
	hdr_end = memmem(p, n, "\r\n\r\n", 4);
	if ((r->flags & MW_JFLAG_RAW) && hdr_end && (memcmp(p, "HTTP/", 5) == 0 ||
						      memchr(p, ' ', (size_t)(hdr_end - p)))) {
		const char *eol = memchr(p, '\r', n);

		printf("      %.*s\n", (int)(eol - p), p);
		body = hdr_end + 4;
		blen = n - (size_t)(body - p);
	}
	/* a chunk-size line first: skip it, and the chunk's end */
	while (i < blen && i < 8 && isxdigit((unsigned char)body[i]))
		i++;
	if (i && i + 1 < blen && body[i] == '\r' && body[i + 1] == '\n') {
		body += i + 2;
		blen -= i + 2;
	}
	m = json_loadb(body, blen, JSON_DISABLE_EOF_CHECK, NULL);
	if (m) {
		print_jsonrpc(m, "      ");
		if (json_is_array(m)) {
			size_t k;
			json_t *e;

			json_array_foreach(m, k, e)
				print_jsonrpc(e, "      ");
		}
		json_decref(m);
		return;
	}
	if (print_data_lines(body, blen))
		return;
	if (blen)
		printf("      %zu bytes: %.*s%s\n", blen, (int)(blen > 160 ? 160 : blen), body,
		       blen > 160 ? " ..." : "");
}

static void print_record(struct show_ctx *c, const struct mw_jrec *r)
{
	json_t *m = r->meta_len ? json_loadb(r->meta, r->meta_len, 0, NULL) : NULL;
	char t[40];

	replay_time(r->wall, t, sizeof(t));
	if (!c->first_wall)
		c->first_wall = r->wall;
	printf("%s +%8.3fs  #%-4" PRIu64 " %-9s ", t, (double)(r->wall - c->first_wall) / 1e6,
	       r->seq, journal_type_name(r->type));
	switch (r->type) {
	case MW_JREC_OPEN:
		printf("flow %s %s from unit %s, cgroup %s, pid %lld comm %s uid %lld -> %s\n",
		       sget(m, "flow"), sget(m, "direction"), sget(m, "unit"), sget(m, "cgroup"),
		       (long long)json_integer_value(json_object_get(m, "pid")), sget(m, "comm"),
		       (long long)json_integer_value(json_object_get(m, "uid")), sget(m, "target"));
		break;
	case MW_JREC_DECISION:
		printf("%s by '%s' (groups %s) on %s %s: rule '%s'%s%s%s%s\n", sget(m, "decision"),
		       sget(m, "sub"), sget(m, "groups"), sget(m, "method"), sget(m, "tool"),
		       sget(m, "rule"), json_string_value(json_object_get(m, "reason")) ? ", " : "",
		       json_string_value(json_object_get(m, "reason")) ?: "",
		       *sget(m, "masked") != '-' ? ", masked " : "",
		       *sget(m, "masked") != '-' ? sget(m, "masked") : "");
		break;
	case MW_JREC_APPROVAL:
		printf("approval %s %s: '%s' on %s %s, rule '%s'%s%s\n", sget(m, "approval"),
		       sget(m, "event"), sget(m, "sub"), sget(m, "method"), sget(m, "tool"),
		       sget(m, "rule"), *sget(m, "reason") != '-' ? ", " : "",
		       *sget(m, "reason") != '-' ? sget(m, "reason") : "");
		break;
	case MW_JREC_REQUEST:
	case MW_JREC_RESPONSE:
		printf("%s %u bytes%s%s%s\n", r->type == MW_JREC_REQUEST ? "to upstream" : "to client",
		       r->payload_len, r->flags & MW_JFLAG_OWN ? " (the agent's own reply)" : "",
		       json_object_get(m, "mcp_session") && *sget(m, "mcp_session") != '-'
			       ? ", MCP session "
			       : "",
		       json_object_get(m, "mcp_session") && *sget(m, "mcp_session") != '-'
			       ? sget(m, "mcp_session")
			       : "");
		print_payload(r);
		break;
	case MW_JREC_MASK:
		printf("masked: %s\n", sget(m, "summary"));
		break;
	case MW_JREC_GAP:
		printf("GAP: %lld records (%lld bytes) not recorded: %s\n",
		       (long long)json_integer_value(json_object_get(m, "dropped")),
		       (long long)json_integer_value(json_object_get(m, "bytes")), sget(m, "reason"));
		break;
	case MW_JREC_CLOSE:
		printf("%s (%s), %lld bytes up, %lld down\n", sget(m, "reason"), sget(m, "proto"),
		       (long long)json_integer_value(json_object_get(m, "bytes_up")),
		       (long long)json_integer_value(json_object_get(m, "bytes_down")));
		break;
	default:
		printf("%.*s\n", (int)r->meta_len, r->meta);
	}
	json_decref(m);
}

static int show_cb(void *ud, const struct replay_seg *seg, size_t off, const struct mw_jrec *r)
{
	struct show_ctx *c = ud;

	/* after the close, only the rest of its segment: a gap record may follow it */
	if (c->done && seg != c->done_seg)
		return 1;
	if (r->session != c->session)
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
		print_record(c, r);
	if (r->type == MW_JREC_CLOSE || r->type == MW_JREC_ABANDONED) {
		c->done = true;
		c->done_seg = seg;
	}
	return 0;
}

static int cmd_show(struct replay_archive *a, const char *id, double speed)
{
	json_t *all = sessions_load(a), *s;
	struct show_ctx c = { .json = arg_json, .speed = speed };
	const char *file;
	size_t seg = 0;
	int r;

	s = session_find(all, id);
	if (!s) {
		fprintf(stderr, "mcpwarden-replay: no session '%s' (or the prefix is not unique)\n",
			id);
		json_decref(all);
		return REPLAY_EXIT_FAIL;
	}
	journal_session_parse(json_string_value(json_object_get(s, "session")), &c.session);
	file = json_string_value(json_object_get(s, "file"));
	for (size_t i = 0; i < a->n; i++)
		if (file && strcmp(a->segs[i].name, file) == 0)
			seg = i;
	if (c.json) {
		c.arr = json_array();
	} else {
		char t[40];

		replay_time((uint64_t)json_integer_value(json_object_get(s, "open")), t, sizeof(t));
		printf("session %s  %s  user %s  groups %s  unit %s  pid %lld  comm %s\n"
		       "target %s  state %s  MCP session %s\n\n",
		       sget(s, "session"), t, sget(s, "user"),
		       json_array_size(json_object_get(s, "groups")) ? "" : "-", sget(s, "unit"),
		       (long long)json_integer_value(json_object_get(s, "pid")), sget(s, "comm"),
		       sget(s, "target"), sget(s, "state"), sget(s, "mcp_session"));
	}
	r = replay_foreach(a, seg, (size_t)json_integer_value(json_object_get(s, "offset")),
			   show_cb, &c);
	if (c.json) {
		json_dumpf(c.arr, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(c.arr);
	}
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
	       O_FORMAT, O_KEY, O_OUT, O_DIR };
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, O_DIR },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "user", required_argument, NULL, O_USER },
		{ "group", required_argument, NULL, O_GROUP },
		{ "tool", required_argument, NULL, O_TOOL },
		{ "decision", required_argument, NULL, O_DECISION },
		{ "target", required_argument, NULL, O_TARGET },
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
