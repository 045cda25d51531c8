/* inspect_fixtures.h: what test_inspect.c and test_inspect_refuse.c share: a compiled test
 * policy, one flow with what it produced (bytes each way, events), requests and responses
 * to feed it, the agent's replies parsed, and byte-exact assertions. */
#ifndef MW_TESTS_INSPECT_FIXTURES_H
#define MW_TESTS_INSPECT_FIXTURES_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "inspect.h"
#include "policy.h"

static const char policy_text[] =
    "{\"rules\": [\n"
    "  {\"name\": \"no destructive SQL\", \"match\": {\"method\": \"tools/call\", "
    "\"tool\": \"query\", \"args\": {\"/sql\": {\"sql_class\": [\"destructive\"]}}}, "
    "\"action\": \"deny\", \"reason\": \"no DDL\"},\n"
    "  {\"name\": \"echo for the app\", \"match\": {\"method\": \"tools/call\", \"tool\": "
    "\"echo\", \"workload\": {\"unit\": \"app.service\"}}, \"action\": \"allow\"},\n"
    "  {\"name\": \"query\", \"match\": {\"method\": \"tools/call\", \"tool\": \"query\"}, "
    "\"action\": \"allow\"},\n"
    "  {\"name\": \"no cancelling\", \"match\": {\"method\": \"notifications/cancelled\"}, "
    "\"action\": \"deny\"},\n"
    "  {\"name\": \"plumbing\", \"match\": {\"method\": [\"initialize\", \"ping\", "
    "\"tools/list\", \"notifications/*\"]}, \"action\": \"allow\"},\n"
    "  {\"name\": \"no other tools\", \"action\": \"deny\", \"reason\": \"tool not allowed\"}\n"
    "]}\n";

static const struct mw_inspect_flow flow = {
	.unit = "app.service",
	.comm = "node",
	.cgroup = "/system.slice/app.service",
	.uid = 1000,
	.host = "127.0.0.1",
	.port = 8080,
	.direction = MW_POLICY_DIR_OUTBOUND,
};

static inline struct mw_inspect_env *env_new(bool require_token)
{
	struct mw_inspect_env *e = calloc(1, sizeof(*e));
	json_error_t jerr;
	struct mw_diag d;
	json_t *root;
	int r;

	assert_non_null(e);
	root = json_loads(policy_text, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		fail_msg("test policy is not JSON: %d:%d: %s", jerr.line, jerr.column, jerr.text);
	r = policy_compile(root, "test.json", policy_text, strlen(policy_text), "", &e->policy, &d);
	json_decref(root);
	if (r < 0)
		fail_msg("expected the policy to compile, got %d: %s:%d:%d: %s: %s", r, d.file,
			 d.line, d.column, d.key, d.text);
	e->refs = 1;
	e->oidc = NULL;
	e->require_token = require_token;
	return e;
}

/* --- one flow, with what it produced ----------------------------------------------------- */

#define MAX_EVENTS 16

struct event {
	char *method, *tool, *decision, *rule, *reason, *sub;
};

struct run {
	struct mw_inspect *in;
	struct mw_bytes up, cl;
	bool close;
	struct event ev[MAX_EVENTS];
	size_t n_ev;
};

static inline void on_report(void *userdata, const struct mw_inspect_event *ev)
{
	struct run *t = userdata;
	struct event *e;

	if (t->n_ev >= MAX_EVENTS)
		fail_msg("more than %d events", MAX_EVENTS);
	e = &t->ev[t->n_ev++];
	e->method = strdup(ev->method);
	e->tool = strdup(ev->tool);
	e->decision = strdup(ev->decision);
	e->rule = strdup(ev->rule);
	e->reason = strdup(ev->reason);
	e->sub = strdup(ev->sub);
}

static inline void run_start(struct run *t, bool require_token)
{
	struct mw_inspect_env *e = env_new(require_token);

	*t = (struct run){};
	assert_int_equal(inspect_new(e, &flow, on_report, t, &t->in), 0);
	inspect_env_unref(e); /* the flow holds its own reference */
}

static inline void run_end(struct run *t)
{
	inspect_free(t->in);
	bytes_free(&t->up);
	bytes_free(&t->cl);
	for (size_t i = 0; i < t->n_ev; i++) {
		free(t->ev[i].method);
		free(t->ev[i].tool);
		free(t->ev[i].decision);
		free(t->ev[i].rule);
		free(t->ev[i].reason);
		free(t->ev[i].sub);
	}
	*t = (struct run){};
}

static inline void client_n(struct run *t, const char *p, size_t n)
{
	int r = inspect_client(t->in, (const uint8_t *)p, n, &t->up, &t->cl, &t->close);

	if (r < 0)
		fail_msg("expected inspect_client() to return 0, got %d", r);
}

static inline void client(struct run *t, const char *s)
{
	client_n(t, s, strlen(s));
}

static inline void server_n(struct run *t, const char *p, size_t n)
{
	int r = inspect_server(t->in, (const uint8_t *)p, n, &t->cl);

	if (r < 0)
		fail_msg("expected inspect_server() to return 0, got %d", r);
}

static inline void server(struct run *t, const char *s)
{
	server_n(t, s, strlen(s));
}

/* Printable form for failure messages (static buffers: two per message at most). */
static inline const char *esc(const void *p, size_t n)
{
	static char bufs[2][8192];
	static int which;
	char *o = bufs[which ^= 1];
	const unsigned char *s = p;
	size_t k = 0;

	for (size_t i = 0; i < n && k + 8 < sizeof(bufs[0]); i++) {
		if (s[i] == '\r')
			k += (size_t)sprintf(o + k, "\\r");
		else if (s[i] == '\n')
			k += (size_t)sprintf(o + k, "\\n");
		else if (s[i] < 0x20 || s[i] > 0x7e)
			k += (size_t)sprintf(o + k, "\\x%02x", s[i]);
		else
			o[k++] = (char)s[i];
	}
	o[k] = 0;
	return o;
}

#define assert_bytes(b, exp, exp_len)                                                              \
	do {                                                                                       \
		const struct mw_bytes *_b = (b);                                                   \
		const void *_e = (exp);                                                            \
		size_t _n = (exp_len);                                                             \
		if (_b->len != _n || (_n && memcmp(_b->data, _e, _n) != 0))                        \
			fail_msg("%s: expected (%zu bytes) '%s', got (%zu bytes) '%s'", #b, _n,    \
				 esc(_e, _n), _b->len, esc(_b->data, _b->len));                    \
	} while (0)

#define assert_bytes_str(b, exp) assert_bytes(b, exp, strlen(exp))

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		const char *_h = (hay), *_n = (needle);                                            \
		if (!_h || !strstr(_h, _n))                                                        \
			fail_msg("expected '%s' to contain '%s'",                                  \
				 _h ? esc(_h, strlen(_h)) : "(null)", _n);                         \
	} while (0)

/* --- requests and responses ------------------------------------------------------------- */

#define CALL_ECHO(id)                                                                              \
	"{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"method\":\"tools/call\",\"params\":{\"name\":"      \
	"\"echo\",\"arguments\":{\"text\":\"hi\"}}}"
#define CALL_RM(id)                                                                                \
	"{\"jsonrpc\":\"2.0\",\"id\":" #id                                                         \
	",\"method\":\"tools/call\",\"params\":{\"name\":\"rm\","                                  \
	"\"arguments\":{\"path\":\"/\"}}}"
/* not tools/list: its responses are rewritten (tested on their own) */
#define PING(id) "{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"method\":\"ping\"}"

static inline char *post(const char *body, const char *extra)
{
	char *s;

	if (asprintf(&s,
		     "POST /mcp HTTP/1.1\r\nHost: mcp.example\r\nContent-Type: application/json\r\n"
		     "%sContent-Length: %zu\r\n\r\n%s",
		     extra ? extra : "Accept: application/json, text/event-stream\r\n",
		     strlen(body), body) < 0)
		fail_msg("asprintf");
	return s;
}

static inline char *response(const char *body)
{
	char *s;

	if (asprintf(&s,
		     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		     "\r\n%s",
		     strlen(body), body) < 0)
		fail_msg("asprintf");
	return s;
}

static inline char *cat(const char *a, const char *b)
{
	char *s;

	if (asprintf(&s, "%s%s", a, b) < 0)
		fail_msg("asprintf");
	return s;
}

/* A reply of the agent's: status, then the parsed head and body. */
struct reply {
	int status;
	char head[2048];
	json_t *body;
	size_t wire; /* bytes the whole reply took */
};

static inline void parse_reply(const uint8_t *p, size_t n, struct reply *ret)
{
	const char *end = memmem(p, n, "\r\n\r\n", 4), *cl;
	size_t hlen, blen = 0;

	*ret = (struct reply){};
	if (!end)
		fail_msg("expected an HTTP head in '%s'", esc(p, n));
	hlen = (size_t)(end - (const char *)p) + 4;
	if (hlen >= sizeof(ret->head))
		fail_msg("head too long: %zu", hlen);
	memcpy(ret->head, p, hlen);
	if (sscanf(ret->head, "HTTP/1.1 %d ", &ret->status) != 1)
		fail_msg("expected a status line, got '%s'", esc(p, hlen));
	cl = strcasestr(ret->head, "\r\nContent-Length: ");
	if (!cl)
		fail_msg("expected a Content-Length in '%s'", esc(ret->head, hlen));
	blen = strtoul(cl + 18, NULL, 10);
	if (hlen + blen > n)
		fail_msg("expected %zu body bytes, have %zu", blen, n - hlen);
	ret->wire = hlen + blen;
	if (!blen)
		return;
	if (strstr(ret->head, "Content-Type: text/event-stream")) {
		/* one SSE event: "event: message\ndata: JSON\n\n" */
		const char *b = (const char *)p + hlen, *d;
		char tmp[4096];

		if (blen >= sizeof(tmp))
			fail_msg("SSE body too long: %zu", blen);
		memcpy(tmp, b, blen);
		tmp[blen] = 0;
		if (strncmp(tmp, "event: message\n", 15) != 0)
			fail_msg("expected an SSE message event, got '%s'", esc(tmp, blen));
		d = strstr(tmp, "\ndata: ");
		if (!d || blen < 2 || strcmp(tmp + blen - 2, "\n\n") != 0)
			fail_msg("expected one SSE data line, got '%s'", esc(tmp, blen));
		ret->body = json_loadb(d + 7, (size_t)(tmp + blen - 2 - (d + 7)), 0, NULL);
	} else if (strstr(ret->head, "Content-Type: application/json")) {
		ret->body = json_loadb((const char *)p + hlen, blen, 0, NULL);
	}
}

static inline void reply_clear(struct reply *r)
{
	json_decref(r->body);
	r->body = NULL;
}

#endif /* MW_TESTS_INSPECT_FIXTURES_H */
