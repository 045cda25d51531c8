/* mcpwarden_replay_show.c: one record of a session's timeline as readable text (show, play).
 *
 * Checkpoint records are read through their structured metadata (method, tool, status, MCP
 * session, own reply) and their payload, which is one JSON-RPC body or one SSE event's data.
 * Raw records (flows the checkpoint did not read, or bytes it passed without a payload
 * record: a GET, a 202, an HTTP error) hold the bytes as relayed, cut wherever the relay's
 * reads cut them: each direction of a flow is read as one HTTP/1.1 stream (agent/http1.h,
 * bodies de-chunked, event streams through agent/sse.h), so a message spread over records
 * is shown whole where it ends.  A stream that is not HTTP (or that the parser refuses) falls
 * back to picking the start line, chunk-size lines and "data:" lines out of each record. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "http1.h"
#include "inspect.h"
#include "mcpwarden_replay.h"
#include "sniff.h"
#include "sse.h"

#define SHOW_TEXT_MAX 600	      /* characters of a result or argument list printed */
#define SHOW_BODY_MAX (1u << 20)      /* body bytes of one raw message kept to show */
#define SHOW_STREAMS_MAX (2 * 4096u)  /* raw streams read at once (two per flow) */

struct raw_stream {
	uint64_t session;
	uint8_t dir;
	bool broken; /* not HTTP, or refused: the per-record fallback */
	bool started; /* its first bytes were seen (and looked like HTTP/1.x) */
	bool in_msg;  /* a message is being read (responses: its request is pushed) */
	bool sse, json;
	struct http1_parser *http;
	struct sse_parser *events;
	struct mw_bytes body;
};

static const char *mget(json_t *m, const char *k)
{
	const char *v = json_string_value(json_object_get(m, k));

	return v && *v ? v : NULL;
}

static const char *mdash(json_t *m, const char *k)
{
	return mget(m, k) ?: "-";
}

static void print_cut(const char *indent, const char *what, const char *txt)
{
	size_t n = txt ? strlen(txt) : 0;

	printf("%s%s%.*s%s\n", indent, what, (int)(n > SHOW_TEXT_MAX ? SHOW_TEXT_MAX : n),
	       txt ? txt : "", n > SHOW_TEXT_MAX ? " ..." : "");
}

static void print_jsonrpc(json_t *m, const char *indent)
{
	json_t *params = json_object_get(m, "params");
	const char *method = json_string_value(json_object_get(m, "method"));
	json_t *id = json_object_get(m, "id");
	char head[256], *txt;

	if (!json_is_object(m))
		return;
	if (method && strcmp(method, "tools/call") == 0) {
		txt = json_dumps(json_object_get(params, "arguments"), JSON_COMPACT);
		snprintf(head, sizeof(head), "tools/call %s ",
			 json_string_value(json_object_get(params, "name")) ?: "?");
	} else if (method) {
		txt = params ? json_dumps(params, JSON_COMPACT) : NULL;
		snprintf(head, sizeof(head), "%s%s ", method, id ? "" : " (notification)");
	} else if (json_object_get(m, "result") || json_object_get(m, "error")) {
		bool err = json_object_get(m, "error") != NULL;

		txt = json_dumps(json_object_get(m, err ? "error" : "result"), JSON_COMPACT);
		snprintf(head, sizeof(head), "%s (id %lld): ", err ? "error" : "result",
			 (long long)json_integer_value(id));
	} else {
		return;
	}
	print_cut(indent, head, txt);
	free(txt);
}

static bool print_json_text(const char *p, size_t n, const char *indent)
{
	json_t *m = json_loadb(p, n, JSON_DISABLE_EOF_CHECK, NULL);
	size_t k;
	json_t *e;

	if (!m)
		return false;
	if (json_is_array(m))
		json_array_foreach(m, k, e)
			print_jsonrpc(e, indent);
	else
		print_jsonrpc(m, indent);
	json_decref(m);
	return true;
}

/* Lines "data: {...}" of an event stream, wherever the relay's reads cut it. */
static bool print_data_lines(const char *p, size_t n)
{
	bool any = false;

	for (const char *e = p + n; p < e;) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(e - p);

		if (len > 5 && memcmp(p, "data:", 5) == 0)
			any |= print_json_text(p + 5, len - 5, "      ");
		p += len + 1;
	}
	return any;
}

/* A raw record: its HTTP start line when it begins a message, then JSON-RPC if there is
 * any, else the start of its text. */
static void print_raw(const struct mw_jrec *r)
{
	const char *p = (const char *)r->payload, *body = p, *hdr_end;
	size_t n = r->payload_len, blen = n, i = 0;

	hdr_end = memmem(p, n, "\r\n\r\n", 4);
	if (hdr_end && (memcmp(p, "HTTP/", 5) == 0 || memchr(p, ' ', (size_t)(hdr_end - p)))) {
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
	while (blen && isspace((unsigned char)body[blen - 1]))
		blen--; /* line and chunk ends, a final 0 chunk: nothing to show */
	if (blen == 1 && body[0] == '0')
		blen = 0;
	if (!blen || print_json_text(body, blen, "      ") || print_data_lines(body, blen))
		return;
	printf("      %zu bytes: %.*s%s\n", blen, (int)(blen > 160 ? 160 : blen), body,
	       blen > 160 ? " ..." : "");
}

static struct raw_stream *stream_get(struct replay_timeline *t, uint64_t session, uint8_t dir)
{
	struct raw_stream *n;

	for (size_t i = 0; i < t->n_streams; i++)
		if (t->streams[i].session == session && t->streams[i].dir == dir)
			return &t->streams[i];
	if (t->n_streams >= SHOW_STREAMS_MAX)
		return NULL;
	n = realloc(t->streams, (t->n_streams + 1) * sizeof(*n));
	if (!n)
		return NULL;
	t->streams = n;
	n = &t->streams[t->n_streams];
	*n = (struct raw_stream){ .session = session, .dir = dir };
	if (http1_parser_new(dir == MW_JDIR_UP ? HTTP1_REQUEST : HTTP1_RESPONSE, NULL, &n->http) < 0)
		n->broken = true;
	t->n_streams++;
	return n;
}

static void header_print(const struct http1_head *h, const char *name)
{
	const struct http1_header *f = http1_find(h->headers, h->n_headers, name, NULL);

	if (f)
		printf("      %.*s: %.*s\n", (int)f->name.len, f->name.p,
		       (int)(f->value.len > 200 ? 200 : f->value.len), f->value.p);
}

static int sse_show(const struct sse_event *ev, void *userdata)
{
	(void)userdata;
	if ((ev->flags & SSE_EV_DISPATCH) && ev->msg.data_len)
		print_json_text(ev->msg.data, ev->msg.data_len, "      ");
	return 0;
}

/* A raw record's bytes through its direction's HTTP stream; false: not readable as HTTP. */
static bool raw_http(struct replay_timeline *t, const struct mw_jrec *r)
{
	struct raw_stream *st = stream_get(t, r->session, r->dir);
	const uint8_t *p = r->payload;
	size_t n = r->payload_len;

	if (!st || st->broken)
		return false;
	if (!st->started) { /* the agent's sniffer decides, as it did for the flow */
		st->started = true;
		if (r->dir == MW_JDIR_UP ? sniff_classify(p, n) != MW_PROTO_HTTP1
					 : n < 7 || memcmp(p, "HTTP/1.", 7) != 0)
			st->broken = true;
		if (st->broken)
			return false;
	}
	for (;;) {
		struct http1_event ev;
		const struct http1_head *h;

		/* A response starts: the request it answers may have been recorded structured
		 * (not in this stream), so it is taken as answering a request with a body. */
		if (r->dir == MW_JDIR_DOWN && !st->in_msg && n) {
			if (http1_parser_push_request(st->http, HTTP1_M_GET) < 0) {
				st->broken = true;
				return false;
			}
			st->in_msg = true;
		}
		if (http1_parse(st->http, p, n, &ev) < 0) {
			st->broken = true;
			return false;
		}
		p += ev.consumed;
		n -= ev.consumed;
		switch (ev.type) {
		case HTTP1_EV_NONE:
			return true;
		case HTTP1_EV_HEAD:
			h = http1_parser_head(st->http);
			if (h->kind == HTTP1_REQUEST) {
				printf("      %.*s %.*s\n", (int)h->method.len, h->method.p,
				       (int)(h->target.len > 200 ? 200 : h->target.len), h->target.p);
			} else {
				printf("      HTTP %d %.*s\n", h->status,
				       (int)(h->reason.len > 100 ? 100 : h->reason.len), h->reason.p);
			}
			header_print(h, "content-type");
			header_print(h, "mcp-session-id");
			st->sse = false;
			st->json = false;
			st->body.len = 0;
			st->events = sse_parser_free(st->events);
			{
				const struct http1_header *ct =
					http1_find(h->headers, h->n_headers, "content-type", NULL);

				if (ct && memmem(ct->value.p, ct->value.len, "event-stream", 12))
					st->sse = sse_parser_new(NULL, &st->events) == 0;
				else if (ct && memmem(ct->value.p, ct->value.len, "json", 4))
					st->json = true;
			}
			break;
		case HTTP1_EV_BODY:
			if (st->sse) {
				if (sse_parse_all(st->events, ev.data, ev.len, sse_show, NULL) < 0)
					st->sse = false;
			} else if (st->json && st->body.len + ev.len <= SHOW_BODY_MAX) {
				if (bytes_append(&st->body, ev.data, ev.len) < 0)
					st->json = false;
			}
			break;
		case HTTP1_EV_DONE:
			st->in_msg = ev.flags & HTTP1_DONE_INTERIM; /* the final one follows */
			if (st->json && st->body.len &&
			    !print_json_text((const char *)st->body.data, st->body.len, "      "))
				printf("      %zu bytes of JSON that does not parse\n", st->body.len);
			st->body.len = 0;
			st->json = st->sse = false;
			break;
		}
	}
}

void replay_timeline_done(struct replay_timeline *t)
{
	for (size_t i = 0; i < t->n_streams; i++) {
		http1_parser_free(t->streams[i].http);
		sse_parser_free(t->streams[i].events);
		bytes_free(&t->streams[i].body);
	}
	free(t->streams);
	t->streams = NULL;
	t->n_streams = 0;
}

/* request / response: structured (the checkpoint's payload records) or raw */
static void print_payload_record(struct replay_timeline *t, const struct mw_jrec *r, json_t *m)
{
	bool up = r->type == MW_JREC_REQUEST;
	const char *method = mget(m, "method"), *tool = mget(m, "tool");
	json_int_t status = json_integer_value(json_object_get(m, "status"));

	if (r->flags & MW_JFLAG_RAW) {
		printf("%s, %u bytes as relayed\n", up ? "to upstream" : "to client",
		       r->payload_len);
		if (r->payload_len && !raw_http(t, r))
			print_raw(r);
		return;
	}
	printf("%s", up ? "to upstream" : "to client");
	if (status)
		printf(" HTTP %lld", (long long)status);
	if (method)
		printf(", %s%s%s%s", up ? "" : "answering ", method, tool ? " " : "", tool ? tool : "");
	printf("%s\n", r->flags & MW_JFLAG_OWN ? " (the agent's own reply)" : "");
	if (!r->payload_len)
		return;
	if (!print_json_text((const char *)r->payload, r->payload_len, "      "))
		printf("      %u bytes: %.*s%s\n", r->payload_len,
		       (int)(r->payload_len > 160 ? 160 : r->payload_len), r->payload,
		       r->payload_len > 160 ? " ..." : "");
}

/* Approval events (written by the approvals module): metadata approval (the id), event
 * (new, approved, denied, expired, hold_limit), sub (the caller), method, tool, rule, reason,
 * mcp_session; "approval_id", "state", "by", "approvers" and "for" are read too.  Keys not
 * named here are printed as they are. */
static void print_approval(json_t *m)
{
	static const char *const known[] = { "approval", "approval_id", "event", "state", "sub",
					     "by", "approvers", "for", "reason", "rule",
					     "method", "tool", "mcp_session" };
	json_t *by = json_object_get(m, "by"), *who = json_object_get(m, "approvers"), *v;
	char *txt = NULL;
	const char *k;

	if (json_is_array(by) || json_is_object(by))
		txt = json_dumps(by, JSON_COMPACT);
	printf("approval %s %s", mget(m, "approval") ?: mdash(m, "approval_id"),
	       mget(m, "event") ?: mdash(m, "state"));
	if (mget(m, "method"))
		printf(" on %s%s%s", mget(m, "method"), mget(m, "tool") ? " " : "",
		       mget(m, "tool") ?: "");
	if (mget(m, "sub"))
		printf(" asked by '%s'", mget(m, "sub"));
	if (mget(m, "rule"))
		printf(", rule '%s'", mget(m, "rule"));
	if (txt || mget(m, "by"))
		printf(", by %s", txt ? txt : mget(m, "by"));
	if (mget(m, "for"))
		printf(", for %s", mget(m, "for"));
	if (who) {
		char *w = json_dumps(who, JSON_COMPACT | JSON_ENCODE_ANY);

		printf(", approvers %s", w ? w : "?");
		free(w);
	}
	if (mget(m, "reason"))
		printf(": %s", mget(m, "reason"));
	free(txt);
	json_object_foreach(m, k, v) {
		bool seen = false;

		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			seen |= strcmp(k, known[i]) == 0;
		if (seen)
			continue;
		txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		printf(", %s %s", k, txt ? txt : "?");
		free(txt);
	}
	putchar('\n');
}

void replay_print_record(struct replay_timeline *t, const struct mw_jrec *r)
{
	json_t *m = r->meta_len ? json_loadb(r->meta, r->meta_len, 0, NULL) : NULL;
	char ts[40], flow[24] = "";

	if (!json_is_object(m)) {
		json_decref(m);
		m = json_object();
	}
	replay_time(r->wall, ts, sizeof(ts));
	if (!t->first_wall)
		t->first_wall = r->wall;
	if (t->flows)
		snprintf(flow, sizeof(flow), "f%-5" PRIu64 " ", r->flow);
	printf("%s +%8.3fs  %s#%-4" PRIu64 " %-9s ", ts,
	       (double)(int64_t)(r->wall - t->first_wall) / 1e6, flow, r->seq,
	       journal_type_name(r->type));
	switch (r->type) {
	case MW_JREC_OPEN:
		printf("flow %s %s from unit %s, cgroup %s", mdash(m, "flow"),
		       mdash(m, "direction"), mdash(m, "unit"), mdash(m, "cgroup"));
		if (json_object_get(m, "pid"))
			printf(", pid %lld comm %s uid %lld",
			       (long long)json_integer_value(json_object_get(m, "pid")),
			       mdash(m, "comm"),
			       (long long)json_integer_value(json_object_get(m, "uid")));
		printf(" -> %s\n", mdash(m, "target"));
		break;
	case MW_JREC_DECISION:
		printf("%s by '%s' (groups %s) on %s %s: rule '%s'", mdash(m, "decision"),
		       mget(m, "sub") ?: "(no token)", mdash(m, "groups"), mdash(m, "method"),
		       mget(m, "tool") ?: "", mdash(m, "rule"));
		if (mget(m, "reason"))
			printf(", %s", mget(m, "reason"));
		if (mget(m, "approval_id"))
			printf(", approval %s", mget(m, "approval_id"));
		if (mget(m, "masked"))
			printf(", masked %s", mget(m, "masked"));
		putchar('\n');
		break;
	case MW_JREC_REQUEST:
	case MW_JREC_RESPONSE:
		print_payload_record(t, r, m);
		break;
	case MW_JREC_APPROVAL:
		print_approval(m);
		break;
	case MW_JREC_MASK:
		printf("masked %s: %s\n", r->dir == MW_JDIR_UP ? "towards upstream" : "towards client",
		       mdash(m, "summary"));
		break;
	case MW_JREC_GAP:
		printf("GAP: %lld records (%lld bytes) not recorded: %s\n",
		       (long long)json_integer_value(json_object_get(m, "dropped")),
		       (long long)json_integer_value(json_object_get(m, "bytes")),
		       mdash(m, "reason"));
		break;
	case MW_JREC_CLOSE:
		printf("%s (%s), %lld bytes up, %lld down\n", mdash(m, "reason"), mdash(m, "proto"),
		       (long long)json_integer_value(json_object_get(m, "bytes_up")),
		       (long long)json_integer_value(json_object_get(m, "bytes_down")));
		break;
	case MW_JREC_ABANDONED:
		printf("%s\n", mdash(m, "reason"));
		break;
	default:
		printf("%.*s\n", (int)r->meta_len, r->meta);
	}
	json_decref(m);
}
