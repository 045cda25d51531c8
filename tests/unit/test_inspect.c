/* test_inspect.c: the MCP checkpoint on one HTTP/1.1 flow: what is forwarded (byte for byte,
 * whole requests only), what is answered instead (denials, 400/401/501), and the order of
 * the agent's replies among the upstream's responses on a keep-alive connection. */
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

static struct mw_inspect_env *env_new(bool require_token)
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

static void on_report(void *userdata, const struct mw_inspect_event *ev)
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

static void run_start(struct run *t, bool require_token)
{
	struct mw_inspect_env *e = env_new(require_token);

	*t = (struct run){};
	assert_int_equal(inspect_new(e, &flow, on_report, t, &t->in), 0);
	inspect_env_unref(e); /* the flow holds its own reference */
}

static void run_end(struct run *t)
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

static void client_n(struct run *t, const char *p, size_t n)
{
	int r = inspect_client(t->in, (const uint8_t *)p, n, &t->up, &t->cl, &t->close);

	if (r < 0)
		fail_msg("expected inspect_client() to return 0, got %d", r);
}

static void client(struct run *t, const char *s)
{
	client_n(t, s, strlen(s));
}

static void server_n(struct run *t, const char *p, size_t n)
{
	int r = inspect_server(t->in, (const uint8_t *)p, n, &t->cl);

	if (r < 0)
		fail_msg("expected inspect_server() to return 0, got %d", r);
}

static void server(struct run *t, const char *s)
{
	server_n(t, s, strlen(s));
}

/* Printable form for failure messages (static buffers: two per message at most). */
static const char *esc(const void *p, size_t n)
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

static char *post(const char *body, const char *extra)
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

static char *response(const char *body)
{
	char *s;

	if (asprintf(&s,
		     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		     "\r\n%s",
		     strlen(body), body) < 0)
		fail_msg("asprintf");
	return s;
}

static char *cat(const char *a, const char *b)
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

static void parse_reply(const uint8_t *p, size_t n, struct reply *ret)
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

static void reply_clear(struct reply *r)
{
	json_decref(r->body);
	r->body = NULL;
}

/* A -32010 error object for id, naming rule. */
static void check_denial(const json_t *err_resp, json_int_t id, const char *rule)
{
	json_t *e = json_object_get(err_resp, "error"), *data = json_object_get(e, "data");
	json_t *jid = json_object_get(err_resp, "id");

	assert_string_equal(json_string_value(json_object_get(err_resp, "jsonrpc")), "2.0");
	if (!json_is_integer(jid) || json_integer_value(jid) != id)
		fail_msg("expected id %lld, got %s", (long long)id,
			 jid ? json_dumps(jid, JSON_ENCODE_ANY) : "(none)");
	assert_int_equal(json_integer_value(json_object_get(e, "code")), -32010);
	assert_string_equal(json_string_value(json_object_get(data, "rule")), rule);
	assert_non_null(json_string_value(json_object_get(data, "reason")));
}

/* What the agent answers to one request alone (checked to be a reply of status). */
static char *reply_alone(const char *req, size_t *ret_len)
{
	struct run t;
	char *s;

	run_start(&t, false);
	client(&t, req);
	assert_int_equal(t.up.len, 0);
	assert_true(t.cl.len > 0);
	s = malloc(t.cl.len + 1);
	assert_non_null(s);
	memcpy(s, t.cl.data, t.cl.len);
	s[t.cl.len] = 0;
	*ret_len = t.cl.len;
	run_end(&t);
	return s;
}

/* --- allowed and denied ------------------------------------------------------------------ */

static void test_allowed_forwarded(void **state)
{
	char *a = post(CALL_ECHO(1), NULL), *ra = response("{\"jsonrpc\":\"2.0\",\"id\":1,"
							   "\"result\":{\"content\":[]}}");
	struct run t;

	run_start(&t, false);
	client(&t, a);
	assert_bytes_str(&t.up, a);
	assert_int_equal(t.cl.len, 0);
	assert_false(t.close);
	assert_int_equal(inspect_held(t.in), 0);
	server(&t, ra);
	assert_bytes_str(&t.cl, ra); /* the response passes through */
	assert_bytes_str(&t.up, a);
	run_end(&t);
	free(a);
	free(ra);
}

static void test_partial_request_held(void **state)
{
	char *a = post(CALL_ECHO(1), NULL);
	size_t n = strlen(a);
	struct run t;

	run_start(&t, false);
	client_n(&t, a, n - 1);
	assert_int_equal(t.up.len, 0);
	assert_int_equal(t.cl.len, 0);
	assert_int_equal(inspect_held(t.in), n - 1);
	client_n(&t, a + n - 1, 1);
	assert_bytes_str(&t.up, a);
	assert_int_equal(inspect_held(t.in), 0);
	run_end(&t);
	free(a);
}

static void test_denied_json(void **state)
{
	char *b = post(CALL_RM(7), "Accept: application/json\r\n");
	struct reply rp;
	struct run t;

	run_start(&t, false);
	client(&t, b);
	assert_int_equal(t.up.len, 0);
	assert_false(t.close);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_int_equal(rp.status, 200);
	assert_int_equal(rp.wire, t.cl.len);
	assert_contains(rp.head, "Content-Type: application/json\r\n");
	assert_non_null(rp.body);
	check_denial(rp.body, 7, "no other tools");
	assert_string_equal(
	    json_string_value(json_object_get(
		json_object_get(json_object_get(rp.body, "error"), "data"), "reason")),
	    "tool not allowed");
	reply_clear(&rp);
	run_end(&t);
	free(b);
}

static void test_denied_sse(void **state)
{
	char *b = post(CALL_RM(8), "Accept: text/event-stream, application/json;q=0\r\n"
				   "Mcp-Session-Id: abc123\r\n");
	struct reply rp;
	struct run t;

	run_start(&t, false);
	client(&t, b);
	assert_int_equal(t.up.len, 0);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_int_equal(rp.status, 200);
	assert_contains(rp.head, "Content-Type: text/event-stream\r\n");
	assert_contains(rp.head, "Mcp-Session-Id: abc123\r\n");
	assert_non_null(rp.body);
	check_denial(rp.body, 8, "no other tools");
	reply_clear(&rp);
	run_end(&t);
	free(b);
}

static void test_denied_by_args(void **state)
{
	char *q = post("{\"jsonrpc\":\"2.0\",\"id\":\"q1\",\"method\":\"tools/call\",\"params\":"
		       "{\"name\":\"query\",\"arguments\":{\"sql\":\"DROP TABLE users\"}}}",
		       NULL);
	char *ok = post("{\"jsonrpc\":\"2.0\",\"id\":\"q2\",\"method\":\"tools/call\",\"params\":"
			"{\"name\":\"query\",\"arguments\":{\"sql\":\"SELECT 1\"}}}",
			NULL);
	struct reply rp;
	struct run t;

	run_start(&t, false);
	client(&t, q);
	assert_int_equal(t.up.len, 0);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_string_equal(json_string_value(json_object_get(rp.body, "id")), "q1");
	assert_string_equal(
	    json_string_value(json_object_get(
		json_object_get(json_object_get(rp.body, "error"), "data"), "rule")),
	    "no destructive SQL");
	reply_clear(&rp);
	bytes_consume(&t.cl, t.cl.len);
	client(&t, ok);
	assert_bytes_str(&t.up, ok);
	assert_int_equal(t.cl.len, 0);
	run_end(&t);
	free(q);
	free(ok);
}

/* tools/call whose arguments are not an object: the SQL cannot be read, so the rule that
 * would deny it cannot be applied; it must not fall through to the allow rule. */
static void test_invalid_params_refused(void **state)
{
	char *q = post("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":"
		       "{\"name\":\"query\",\"arguments\":[\"DROP TABLE users\"]}}",
		       NULL);
	struct reply rp;
	struct run t;

	run_start(&t, false);
	client(&t, q);
	assert_int_equal(t.up.len, 0);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_int_not_equal(rp.status, 200);
	assert_true(rp.status >= 400);
	reply_clear(&rp);
	assert_int_equal(t.n_ev, 1);
	assert_string_equal(t.ev[0].decision, "malformed");
	run_end(&t);
	free(q);
}

/* --- order on a keep-alive connection ---------------------------------------------------- */

struct abc {
	char *a, *b, *c, *ra, *rc, *reply_b;
	size_t reply_b_len;
};

static void abc_init(struct abc *x)
{
	struct reply rp;

	x->a = post(CALL_ECHO(1), NULL);
	x->b = post(CALL_RM(2), NULL);
	x->c = post(PING(3), NULL);
	x->ra = response("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[]}}");
	x->rc = response("{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}");
	x->reply_b = reply_alone(x->b, &x->reply_b_len);
	parse_reply((const uint8_t *)x->reply_b, x->reply_b_len, &rp);
	assert_int_equal(rp.status, 200);
	check_denial(rp.body, 2, "no other tools");
	reply_clear(&rp);
}

static void abc_free(struct abc *x)
{
	free(x->a);
	free(x->b);
	free(x->c);
	free(x->ra);
	free(x->rc);
	free(x->reply_b);
}

static void expect_cl(struct run *t, const char *const *parts)
{
	char buf[8192];
	size_t n = 0;

	for (; *parts; parts++) {
		size_t k = strlen(*parts);

		assert_true(n + k < sizeof(buf));
		memcpy(buf + n, *parts, k);
		n += k;
	}
	assert_bytes(&t->cl, buf, n);
}

static void test_order_keepalive(void **state)
{
	struct abc x;
	struct run t;
	size_t na;

	abc_init(&x);
	na = strlen(x.ra);
	run_start(&t, false);
	client(&t, x.a);
	assert_bytes_str(&t.up, x.a);
	client(&t, x.b);
	assert_bytes_str(&t.up, x.a);
	assert_int_equal(t.cl.len, 0); /* B's reply waits for A's response */
	client(&t, x.c);
	{
		char *ac = cat(x.a, x.c);

		assert_bytes_str(&t.up, ac);
		free(ac);
	}
	assert_int_equal(t.cl.len, 0);
	server_n(&t, x.ra, na - 1); /* all but A's last byte: still not B's turn */
	assert_bytes(&t.cl, x.ra, na - 1);
	server_n(&t, x.ra + na - 1, 1);
	expect_cl(&t, (const char *const[]){ x.ra, x.reply_b, NULL });
	server(&t, x.rc);
	expect_cl(&t, (const char *const[]){ x.ra, x.reply_b, x.rc, NULL });
	assert_false(t.close);
	run_end(&t);
	abc_free(&x);
}

static void test_order_pipelined(void **state)
{
	struct abc x;
	struct run t;
	char *abc, *ac, *rarc;

	abc_init(&x);
	abc = cat(x.a, x.b);
	{
		char *tmp = cat(abc, x.c);

		free(abc);
		abc = tmp;
	}
	ac = cat(x.a, x.c);
	rarc = cat(x.ra, x.rc);
	run_start(&t, false);
	client(&t, abc);
	assert_bytes_str(&t.up, ac);
	assert_int_equal(t.cl.len, 0);
	server(&t, rarc);
	expect_cl(&t, (const char *const[]){ x.ra, x.reply_b, x.rc, NULL });
	assert_int_equal(t.n_ev, 3);
	assert_string_equal(t.ev[0].decision, "allow");
	assert_string_equal(t.ev[1].decision, "deny");
	assert_string_equal(t.ev[2].decision, "allow");
	run_end(&t);
	free(abc);
	free(ac);
	free(rarc);
	abc_free(&x);
}

/* A denied request first: its reply goes out at once; responses follow. */
static void test_order_denied_first(void **state)
{
	struct abc x;
	struct run t;

	abc_init(&x);
	run_start(&t, false);
	client(&t, x.b);
	assert_bytes(&t.cl, x.reply_b, x.reply_b_len);
	client(&t, x.a);
	client(&t, x.b);
	assert_bytes(&t.cl, x.reply_b, x.reply_b_len);
	server(&t, x.ra);
	expect_cl(&t, (const char *const[]){ x.reply_b, x.ra, x.reply_b, NULL });
	run_end(&t);
	abc_free(&x);
}

/* An upstream we cannot follow: our replies can no longer be ordered, so none may wait for
 * a response that will never be counted. */
static void test_order_upstream_broken(void **state)
{
	struct abc x;
	struct run t;
	char *d = post(CALL_RM(2), NULL);

	abc_init(&x);
	run_start(&t, false);
	client(&t, x.a);
	client(&t, x.b);
	client(&t, x.c);
	client(&t, d);
	assert_int_equal(t.cl.len, 0);
	server(&t, "garbage\r\n\r\n");
	expect_cl(&t, (const char *const[]){ x.reply_b, x.reply_b, "garbage\r\n\r\n", NULL });
	client(&t, x.b); /* later denials go out at once */
	expect_cl(
	    &t, (const char *const[]){ x.reply_b, x.reply_b, "garbage\r\n\r\n", x.reply_b, NULL });
	run_end(&t);
	free(d);
	abc_free(&x);
}

/* Every split of the client bytes, and of the server bytes, gives the same outputs and the
 * same decisions as the whole. */
struct outputs {
	struct mw_bytes up, cl;
	bool close;
	size_t n_ev;
	char decisions[256];
};

static void run_split(const char *cli, size_t ncli, size_t csplit, const char *srv, size_t nsrv,
		      size_t ssplit, struct outputs *o)
{
	struct run t;

	run_start(&t, false);
	client_n(&t, cli, csplit);
	client_n(&t, cli + csplit, ncli - csplit);
	server_n(&t, srv, ssplit);
	server_n(&t, srv + ssplit, nsrv - ssplit);
	*o = (struct outputs){ .close = t.close, .n_ev = t.n_ev };
	assert_int_equal(bytes_append(&o->up, t.up.data, t.up.len), 0);
	assert_int_equal(bytes_append(&o->cl, t.cl.data, t.cl.len), 0);
	for (size_t i = 0; i < t.n_ev; i++) {
		strncat(o->decisions, t.ev[i].decision,
			sizeof(o->decisions) - strlen(o->decisions) - 1);
		strncat(o->decisions, ",", sizeof(o->decisions) - strlen(o->decisions) - 1);
	}
	run_end(&t);
}

static void outputs_free(struct outputs *o)
{
	bytes_free(&o->up);
	bytes_free(&o->cl);
}

static void test_every_split(void **state)
{
	static const char chunked[] =
	    "POST /mcp HTTP/1.1\r\nHost: mcp.example\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "1a\r\n{\"jsonrpc\":\"2.0\",\"id\":4,\"m\r\n"
	    "1a;ext=1\r\nethod\":\"ping\",\"params\":{}}\r\n"
	    "0\r\nX-Trailer: yes\r\n\r\n";
	static const char get[] =
	    "GET /mcp HTTP/1.1\r\nHost: mcp.example\r\nAccept: text/event-stream\r\n\r\n";
	static const char r4[] =
	    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"
	    "2f\r\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":4}\n\n\r\n"
	    "0\r\n\r\n";
	static const char rget[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n5\r\n: hi\n\r\n";
	struct abc x;
	char cli[8192], srv[4096];
	size_t ncli, nsrv;
	struct outputs whole, part;

	abc_init(&x);
	ncli = (size_t)snprintf(cli, sizeof(cli), "%s%s%s%s%s", x.a, x.b, chunked, x.c, get);
	nsrv = (size_t)snprintf(srv, sizeof(srv), "%s%s%s%s", x.ra, r4, x.rc, rget);
	assert_true(ncli < sizeof(cli) && nsrv < sizeof(srv));
	run_split(cli, ncli, ncli, srv, nsrv, nsrv, &whole);
	{
		char up[8192];
		int n = snprintf(up, sizeof(up), "%s%s%s%s", x.a, chunked, x.c, get);

		assert_bytes(&whole.up, up, (size_t)n);
	}
	expect_cl(&(struct run){ .cl = whole.cl },
		  (const char *const[]){ x.ra, x.reply_b, r4, x.rc, rget, NULL });
	assert_string_equal(whole.decisions, "allow,deny,allow,allow,");
	for (size_t i = 0; i <= ncli; i++) {
		run_split(cli, ncli, i, srv, nsrv, nsrv, &part);
		if (part.up.len != whole.up.len ||
		    memcmp(part.up.data, whole.up.data, part.up.len) ||
		    part.cl.len != whole.cl.len || memcmp(part.cl.data, whole.cl.data, part.cl.len))
			fail_msg(
			    "client split at %zu: expected %zu/%zu bytes up/client, got %zu/%zu", i,
			    whole.up.len, whole.cl.len, part.up.len, part.cl.len);
		assert_string_equal(part.decisions, whole.decisions);
		assert_int_equal(part.close, whole.close);
		outputs_free(&part);
	}
	for (size_t i = 0; i <= nsrv; i++) {
		run_split(cli, ncli, ncli, srv, nsrv, i, &part);
		if (part.cl.len != whole.cl.len || memcmp(part.cl.data, whole.cl.data, part.cl.len))
			fail_msg("server split at %zu: expected '%s', got '%s'", i,
				 esc(whole.cl.data, whole.cl.len), esc(part.cl.data, part.cl.len));
		outputs_free(&part);
	}
	/* one byte at a time, both ways, interleaved */
	{
		struct run t;

		run_start(&t, false);
		for (size_t i = 0; i < ncli || i < nsrv; i++) {
			if (i < ncli)
				client_n(&t, cli + i, 1);
			if (i < nsrv && t.up.len > 0)
				server_n(&t, srv + i, 1);
		}
		assert_bytes(&t.up, whole.up.data, whole.up.len);
		run_end(&t);
	}
	outputs_free(&whole);
	abc_free(&x);
}

/* --- framing ----------------------------------------------------------------------------- */

static void test_chunked_body(void **state)
{
	/* the denied tools/call is split across chunks: the body is decoded before deciding */
	static const char req[] =
	    "POST /mcp HTTP/1.1\r\nHost: mcp.example\r\nAccept: application/json\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"
	    "10\r\n{\"jsonrpc\":\"2.0\"\r\n"
	    "35\r\n,\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":\"rm\"}}\r\n"
	    "0\r\n\r\n";
	static const char ok[] = "POST /mcp HTTP/1.1\r\nHost: mcp.example\r\n"
				 "Transfer-Encoding: chunked\r\n\r\n"
				 "5\r\n[{\"js\r\n"
				 "25\r\nonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]\r\n"
				 "0\r\n\r\n";
	struct reply rp;
	struct run t;

	run_start(&t, false);
	client(&t, req);
	assert_int_equal(t.up.len, 0);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_int_equal(rp.status, 200);
	check_denial(rp.body, 9, "no other tools");
	reply_clear(&rp);
	bytes_consume(&t.cl, t.cl.len);
	client(&t, ok);
	assert_bytes_str(&t.up, ok);
	assert_int_equal(t.cl.len, 0);
	assert_int_equal(t.n_ev, 2);
	assert_string_equal(t.ev[1].method, "ping");
	assert_string_equal(t.ev[1].rule, "plumbing");
	run_end(&t);
}

static void test_expect_continue(void **state)
{
	static const char body[] = CALL_ECHO(5);
	char head[512], *a = post(CALL_ECHO(1), NULL), *ra = response("{}");
	struct run t;
	int n;

	n = snprintf(head, sizeof(head),
		     "POST /mcp HTTP/1.1\r\nHost: mcp.example\r\nExpect: 100-continue\r\n"
		     "Content-Length: %zu\r\n\r\n",
		     strlen(body));
	run_start(&t, false);
	client_n(&t, head, (size_t)n);
	assert_bytes_str(&t.cl, "HTTP/1.1 100 Continue\r\n\r\n");
	assert_int_equal(t.up.len, 0);
	assert_int_equal(inspect_held(t.in), (size_t)n);
	client(&t, body);
	{
		char *whole = cat(head, body);

		assert_bytes_str(&t.up, whole);
		free(whole);
	}
	assert_bytes_str(&t.cl, "HTTP/1.1 100 Continue\r\n\r\n");
	run_end(&t);

	/* while a response is outstanding no interim reply may slip in before it */
	run_start(&t, false);
	client(&t, a);
	client_n(&t, head, (size_t)n);
	assert_int_equal(t.cl.len, 0);
	client(&t, body);
	server(&t, ra);
	assert_bytes_str(&t.cl, ra);
	run_end(&t);
	free(a);
	free(ra);
}

static void check_refused(const char *req, int status, const char *why)
{
	char *a = post(CALL_ECHO(1), NULL), *ra = response("{}"), *both = cat(a, req);
	struct reply rp;
	struct run t;

	run_start(&t, false);
	client(&t, req);
	if (t.up.len)
		fail_msg("expected nothing upstream for '%s', got '%s'", esc(req, strlen(req)),
			 esc(t.up.data, t.up.len));
	assert_true(t.close);
	parse_reply(t.cl.data, t.cl.len, &rp);
	if (rp.status != status)
		fail_msg("expected %d for '%s', got %d", status, esc(req, strlen(req)), rp.status);
	assert_contains(rp.head, "Connection: close\r\n");
	assert_int_equal(rp.wire, t.cl.len);
	{
		char *text = strndup((const char *)t.cl.data, t.cl.len);

		assert_contains(text, why);
		free(text);
	}
	reply_clear(&rp);
	/* more bytes after the refusal are ignored */
	client(&t, a);
	assert_int_equal(t.up.len, 0);
	run_end(&t);

	/* behind an allowed request: that one alone goes up, the refusal waits its turn */
	run_start(&t, false);
	client(&t, both);
	assert_bytes_str(&t.up, a);
	assert_false(t.close); /* not before the refusal is out: A's response comes first */
	assert_int_equal(t.cl.len, 0);
	server(&t, ra);
	assert_true(inspect_closing(t.in));
	assert_true(t.cl.len > strlen(ra));
	assert_memory_equal(t.cl.data, ra, strlen(ra));
	parse_reply(t.cl.data + strlen(ra), t.cl.len - strlen(ra), &rp);
	assert_int_equal(rp.status, status);
	reply_clear(&rp);
	run_end(&t);
	free(a);
	free(ra);
	free(both);
}

static void test_upgrade(void **state)
{
	check_refused("GET /mcp HTTP/1.1\r\nHost: mcp.example\r\nConnection: Upgrade\r\n"
		      "Upgrade: websocket\r\n\r\n",
		      501, "upgrade");
}

static void test_smuggling(void **state)
{
	check_refused("POST /mcp HTTP/1.1\r\nHost: mcp.example\r\nContent-Length: 4\r\n"
		      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		      400, "Transfer-Encoding");
	check_refused("POST /mcp HTTP/1.1\r\nHost: mcp.example\r\nContent-Length: 2\r\n"
		      "Content-Length: 2\r\n\r\n{}",
		      400, "Content-Length");
	check_refused("POST /mcp HTTP/1.1\r\nHost: mcp.example\r\nContent-Length: 2\r\n"
		      "Content-Length: 40\r\n\r\n{}",
		      400, "Content-Length");
	check_refused("POST /mcp HTTP/1.1\nHost: mcp.example\r\nContent-Length: 2\r\n\r\n{}", 400,
		      "bare LF");
	check_refused("POST /mcp HTTP/1.1\r\nHost: mcp.example\r\nTransfer-Encoding: gzip, "
		      "chunked\r\n\r\n0\r\n\r\n",
		      501, "transfer coding");
	check_refused("POST /mcp HTTP/1.1\r\nHost: mcp.example\r\nContent-Length : 2\r\n\r\n{}",
		      400, "whitespace");
}

static void test_not_json(void **state)
{
	char *bad = post("{\"jsonrpc\":\"2.0\",\"id\":1,", NULL);
	char *norpc = post("{\"id\":1,\"method\":\"tools/call\"}", NULL);

	check_refused(bad, 400, "");
	check_refused(norpc, 400, "");
	free(bad);
	free(norpc);
}

static void test_get_stream(void **state)
{
	static const char get[] = "GET /mcp HTTP/1.1\r\nHost: mcp.example\r\n"
				  "Accept: text/event-stream\r\nMcp-Session-Id: s1\r\n\r\n";
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n";
	static const char ev[] = "3f\r\nevent: message\ndata: "
				 "{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":0}\n\n\r\n";
	char *b = post(CALL_RM(2), NULL);
	struct run t;

	run_start(&t, false);
	client(&t, get);
	assert_bytes_str(&t.up, get);
	assert_int_equal(t.cl.len, 0);
	assert_int_equal(t.n_ev, 0);
	server(&t, resp);
	server(&t, ev);
	{
		char *both = cat(resp, ev);

		assert_bytes_str(&t.cl, both);
		free(both);
	}
	/* a denial pipelined behind the standing stream waits for it to end */
	client(&t, b);
	assert_int_equal(t.up.len, strlen(get));
	assert_int_equal(t.cl.len, strlen(resp) + strlen(ev));
	server(&t, "0\r\n\r\n");
	assert_true(t.cl.len > strlen(resp) + strlen(ev) + 5);
	assert_memory_equal(t.cl.data + strlen(resp) + strlen(ev), "0\r\n\r\nHTTP/1.1 200 ", 18);
	run_end(&t);
	free(b);
}

static void test_require_token(void **state)
{
	char *a = post(CALL_ECHO(1), NULL);
	char *bearer = post(CALL_ECHO(1), "Authorization: Bearer abc.def.ghi\r\n");
	struct reply rp;
	struct run t;

	run_start(&t, true);
	client(&t, a);
	assert_int_equal(t.up.len, 0);
	assert_false(t.close);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_int_equal(rp.status, 401);
	assert_contains(rp.head, "\r\nWWW-Authenticate: Bearer ");
	assert_contains(rp.head, "invalid_token");
	reply_clear(&rp);
	assert_int_equal(t.n_ev, 1);
	assert_string_equal(t.ev[0].decision, "unauthenticated");
	assert_string_equal(t.ev[0].sub, "");
	assert_contains(t.ev[0].reason, "token");
	/* a token no issuer can verify is no better */
	bytes_consume(&t.cl, t.cl.len);
	client(&t, bearer);
	assert_int_equal(t.up.len, 0);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_int_equal(rp.status, 401);
	reply_clear(&rp);
	run_end(&t);

	/* without require_token the same request is decided by policy */
	run_start(&t, false);
	client(&t, a);
	assert_bytes_str(&t.up, a);
	run_end(&t);
	free(a);
	free(bearer);
}

/* --- batches and notifications ----------------------------------------------------------- */

static void test_notification_batch_denied(void **state)
{
	char *n = post("[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
		       "{\"requestId\":1}},{\"jsonrpc\":\"2.0\",\"method\":"
		       "\"notifications/cancelled\",\"params\":{\"requestId\":2}}]",
		       NULL);
	char *single = post("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
			    "\"params\":{\"requestId\":1}}",
			    NULL);
	struct reply rp;
	struct run t;

	run_start(&t, false);
	client(&t, n);
	assert_int_equal(t.up.len, 0);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_int_equal(rp.status, 202); /* nothing to answer a notification with */
	assert_int_equal(rp.wire, t.cl.len);
	assert_null(rp.body);
	reply_clear(&rp);
	assert_int_equal(t.n_ev, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(t.ev[i].decision, "deny");
		assert_string_equal(t.ev[i].rule, "no cancelling");
		assert_string_equal(t.ev[i].method, "notifications/cancelled");
	}
	bytes_consume(&t.cl, t.cl.len);
	client(&t, single);
	assert_int_equal(t.up.len, 0);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_int_equal(rp.status, 202);
	reply_clear(&rp);
	run_end(&t);
	free(n);
	free(single);
}

static void test_batch_one_denied(void **state)
{
	char *b = post("[" CALL_ECHO(1) "," CALL_RM(
			   2) ","
			      "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}]",
		       "Accept: application/json\r\n");
	struct reply rp;
	struct run t;

	run_start(&t, false);
	client(&t, b);
	assert_int_equal(t.up.len, 0);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_int_equal(rp.status, 200);
	assert_true(json_is_array(rp.body));
	assert_int_equal(json_array_size(rp.body), 2); /* one error per request */
	check_denial(json_array_get(rp.body, 0), 1, "no other tools");
	check_denial(json_array_get(rp.body, 1), 2, "no other tools");
	reply_clear(&rp);
	assert_int_equal(t.n_ev, 3);
	run_end(&t);
	free(b);
}

static void test_report_events(void **state)
{
	char *b = post("[" CALL_ECHO(1) "," CALL_RM(
			   2) ","
			      "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"},"
			      "{\"jsonrpc\":\"2.0\",\"id\":99,\"result\":{}}]",
		       NULL);
	static const struct {
		const char *method, *tool, *decision, *rule, *reason;
	} want[] = {
		{ "tools/call", "echo", "allow", "echo for the app", "" },
		{ "tools/call", "rm", "deny", "no other tools", "tool not allowed" },
		{ "notifications/initialized", "", "allow", "plumbing", "" },
		{ "", "", "malformed", "", NULL },
	};
	struct run t;

	run_start(&t, false);
	client(&t, b); /* the response member gets no event: it is not asked for */
	client(&t, "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n{[}");
	assert_int_equal(t.n_ev, 4);
	for (size_t i = 0; i < 4; i++) {
		if (strcmp(t.ev[i].method, want[i].method) || strcmp(t.ev[i].tool, want[i].tool) ||
		    strcmp(t.ev[i].decision, want[i].decision) ||
		    strcmp(t.ev[i].rule, want[i].rule))
			fail_msg("event %zu: expected %s/%s %s by '%s', got %s/%s %s by '%s'", i,
				 want[i].method, want[i].tool, want[i].decision, want[i].rule,
				 t.ev[i].method, t.ev[i].tool, t.ev[i].decision, t.ev[i].rule);
		if (want[i].reason)
			assert_string_equal(t.ev[i].reason, want[i].reason);
		assert_string_equal(t.ev[i].sub, "");
	}
	assert_true(t.ev[3].reason[0] != 0);
	run_end(&t);
	free(b);
}

/* A tools/list response is held and re-framed; a reason phrase longer than the agent's
 * status line buffer (fuzz reproducer crash-long-reason-capture) must not be read past. */
static void test_tools_list_long_reason(void **state)
{
	static const char body[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[]}}";
	char *tl = post("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}", NULL);
	char reason[301], resp[1024], *eol;
	struct reply rp;
	struct run t;

	memset(reason, 'x', 300);
	reason[300] = 0;
	snprintf(resp, sizeof(resp),
		 "HTTP/1.1 200 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		 "\r\n%s",
		 reason, strlen(body), body);
	run_start(&t, false);
	client(&t, tl);
	assert_bytes_str(&t.up, tl);
	server(&t, resp);
	assert_true(t.cl.len > 0);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_int_equal(rp.status, 200);
	assert_int_equal(rp.wire, t.cl.len);
	eol = strstr(rp.head, "\r\n");
	assert_non_null(eol);
	assert_true(eol - rp.head < 256);
	assert_non_null(rp.body);
	assert_true(json_is_array(json_object_get(json_object_get(rp.body, "result"), "tools")));
	reply_clear(&rp);
	run_end(&t);
	free(tl);
}

static void test_env_refcount(void **state)
{
	struct mw_inspect_env *e = env_new(false);
	struct mw_inspect *a, *b;

	assert_int_equal(inspect_new(e, &flow, NULL, NULL, &a), 0);
	assert_int_equal(inspect_new(e, &flow, NULL, NULL, &b), 0);
	assert_int_equal(e->refs, 3);
	inspect_env_unref(e); /* the flows keep it alive */
	inspect_free(a);
	assert_int_equal(e->refs, 1);
	inspect_free(b);
	assert_null(inspect_free(NULL));
}


/* A denied request that asks to close: answered, then the connection ends, in its turn. */
static void test_denied_connection_close(void **state)
{
	char *a = post(CALL_ECHO(1), NULL), *ra = response("{}");
	char *b = post(CALL_RM(2), "Accept: application/json\r\nConnection: close\r\n");
	char *both = cat(a, b);
	struct reply rp;
	struct run t;

	run_start(&t, false);
	client(&t, b);
	assert_int_equal(t.up.len, 0);
	assert_true(t.close);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_int_equal(rp.status, 200);
	reply_clear(&rp);
	run_end(&t);

	run_start(&t, false);
	client(&t, both);
	assert_bytes_str(&t.up, a);
	assert_false(t.close); /* A's response is still to come */
	server(&t, ra);
	assert_true(inspect_closing(t.in));
	assert_memory_equal(t.cl.data, ra, strlen(ra));
	run_end(&t);
	free(a);
	free(ra);
	free(b);
	free(both);
}

/* A session id that cannot be echoed safely does not cost the client its answer. */
static void test_denied_odd_session_id(void **state)
{
	char *b = post(CALL_RM(3), "Accept: application/json\r\nMcp-Session-Id: a b\r\n");
	struct reply rp;
	struct run t;

	run_start(&t, false);
	client(&t, b);
	assert_int_equal(t.up.len, 0);
	parse_reply(t.cl.data, t.cl.len, &rp);
	assert_int_equal(rp.status, 200);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(rp.body, "error"),
							     "code")),
			 -32010);
	reply_clear(&rp);
	run_end(&t);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed_forwarded),
		cmocka_unit_test(test_partial_request_held),
		cmocka_unit_test(test_denied_json),
		cmocka_unit_test(test_denied_sse),
		cmocka_unit_test(test_denied_by_args),
		cmocka_unit_test(test_invalid_params_refused),
		cmocka_unit_test(test_order_keepalive),
		cmocka_unit_test(test_order_pipelined),
		cmocka_unit_test(test_order_denied_first),
		cmocka_unit_test(test_order_upstream_broken),
		cmocka_unit_test(test_every_split),
		cmocka_unit_test(test_chunked_body),
		cmocka_unit_test(test_expect_continue),
		cmocka_unit_test(test_upgrade),
		cmocka_unit_test(test_smuggling),
		cmocka_unit_test(test_not_json),
		cmocka_unit_test(test_get_stream),
		cmocka_unit_test(test_require_token),
		cmocka_unit_test(test_notification_batch_denied),
		cmocka_unit_test(test_batch_one_denied),
		cmocka_unit_test(test_report_events),
		cmocka_unit_test(test_tools_list_long_reason),
		cmocka_unit_test(test_env_refcount),
		cmocka_unit_test(test_denied_connection_close),
		cmocka_unit_test(test_denied_odd_session_id),
	};

	return cmocka_run_group_tests_name("inspect", tests, NULL, NULL);
}
