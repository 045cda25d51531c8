/* test_inspect_mask.c: masking in the checkpoint: a response masked with the profile of the
 * rule that allowed its request (JSON body and SSE event, Content-Length recomputed), a
 * rule without a profile leaves it clear, a response on the standing GET stream masked with
 * the profile of the POST request it answers on another connection (pairing by session and
 * id), an unpaired one with the journal's profile, an unmaskable reply answered with an
 * error, and a rule naming an unknown profile refused. */
#include "inspect_fixtures.h"
#include "mask.h"

static const char mask_policy[] =
	"{\"rules\": [\n"
	"  {\"name\": \"finance\", \"match\": {\"method\": \"tools/call\", \"tool\": \"query\"}, "
	"\"action\": \"allow\", \"mask\": \"pii\"},\n"
	"  {\"name\": \"dba\", \"match\": {\"method\": \"tools/call\", \"tool\": \"echo\"}, "
	"\"action\": \"allow\", \"reason\": \"clear\"},\n"
	"  {\"name\": \"plumbing\", \"match\": {\"method\": [\"initialize\", \"ping\", "
	"\"notifications/*\"]}, \"action\": \"allow\"},\n"
	"  {\"name\": \"rest\", \"action\": \"deny\"}\n"
	"]}\n";

static const char masking[] = "{\"profiles\": {\"pii\": {\"style\": \"partial\"}}}";

static struct mw_inspect_env *mask_env(const char *policy, const char *profiles, int *ret_set)
{
	struct mw_inspect_env *e = calloc(1, sizeof(*e));
	json_t *root = json_loads(policy, 0, NULL), *m = json_loads(profiles, 0, NULL);
	struct mw_masker *masker;
	struct mw_diag d;
	size_t rule = 99;

	assert_non_null(e);
	assert_non_null(root);
	assert_non_null(m);
	e->refs = 1;
	if (policy_compile(root, "t.json", policy, strlen(policy), "", &e->policy, &d) < 0)
		fail_msg("policy: %s", d.text);
	if (mask_from_json(m, NULL, "t.json", NULL, 0, NULL, 0, &masker, &d) < 0)
		fail_msg("masking: %s", d.text);
	*ret_set = inspect_env_set_masker(e, masker, &rule);
	if (*ret_set == -ENOENT)
		*ret_set = -(int)(1000 + rule);
	json_decref(root);
	json_decref(m);
	return e;
}

static void flow_start(struct run *t, struct mw_inspect_env *e)
{
	*t = (struct run){};
	assert_int_equal(inspect_new(e, &flow, on_report, t, &t->in), 0);
}

#define CALL(id, tool)                                                                             \
	"{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"method\":\"tools/call\",\"params\":{\"name\":"      \
	"\"" tool "\",\"arguments\":{}}}"
#define ROWS(id)                                                                                   \
	"{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"result\":{\"content\":[{\"type\":\"text\",\"text\":" \
	"\"[{\\\"name\\\":\\\"Ann\\\",\\\"card\\\":\\\"4111 1111 1111 1111\\\"}]\"}]}}"
#define ROWS_PARTIAL(id)                                                                           \
	"{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"result\":{\"content\":[{\"type\":\"text\",\"text\":" \
	"\"[{\\\"name\\\":\\\"Ann\\\",\\\"card\\\":\\\"[MASKED:credit_card:\xe2\x80\xa6" "1111]\\\"}]\"}]}}"

static void post_call(struct run *t, const char *session, const char *body)
{
	char req[2048];

	snprintf(req, sizeof(req),
		 "POST /mcp HTTP/1.1\r\nHost: mcp.example\r\nContent-Type: application/json\r\n"
		 "Accept: application/json, text/event-stream\r\nMcp-Session-Id: %s\r\n"
		 "Content-Length: %zu\r\n\r\n%s",
		 session, strlen(body), body);
	client(t, req);
}

static char *json_reply(const char *body)
{
	char *s;

	assert_true(asprintf(&s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				 "Content-Length: %zu\r\n\r\n%s",
			     strlen(body), body) > 0);
	return s;
}

static size_t count_decision(const struct run *t, const char *d)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n_ev; i++)
		n += strcmp(t->ev[i].decision, d) == 0;
	return n;
}

/* finance's rule masks its JSON reply (partial); dba's reply stays clear. */
static void test_json_masked_by_rule(void **state)
{
	struct mw_inspect_env *e;
	struct run t;
	char *in, *exp;
	int set;

	(void)state;
	e = mask_env(mask_policy, masking, &set);
	assert_int_equal(set, 0);
	assert_non_null(e->pairs);
	flow_start(&t, e);
	post_call(&t, "s1", CALL(1, "query"));
	in = json_reply(ROWS(1));
	server(&t, in);
	exp = json_reply(ROWS_PARTIAL(1));
	assert_bytes_str(&t.cl, exp);
	assert_int_equal(count_decision(&t, "masked"), 1);
	free(in);
	free(exp);
	t.cl.len = 0;
	post_call(&t, "s1", CALL(2, "echo"));
	in = json_reply(ROWS(2));
	server(&t, in);
	assert_bytes_str(&t.cl, in);
	assert_int_equal(count_decision(&t, "masked"), 1);
	free(in);
	run_end(&t);
	inspect_env_unref(e);
}

/* A response on the standing GET stream (another connection) is masked with the profile of
 * the POST request it answers; one whose request is unknown with the journal's profile
 * (every detector, "full" here); one answering a clear request stays clear. */
static void test_get_stream_paired(void **state)
{
	static const char get[] = "GET /mcp HTTP/1.1\r\nHost: mcp.example\r\n"
				  "Accept: text/event-stream\r\nMcp-Session-Id: s7\r\n\r\n";
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n";
	static const char ev1[] = "id: 1\nevent: message\ndata: " ROWS(5) "\n\n";
	/* a rewritten event keeps its fields; sse_encode() writes event before id */
	static const char ev1_out[] = "event: message\nid: 1\ndata: " ROWS_PARTIAL(5) "\n\n";
	static const char ev2[] = "id: 2\nevent: message\ndata: " ROWS(99) "\n\n";
	static const char ev3[] = "id: 3\nevent: message\ndata: " ROWS(6) "\n\n";
	struct mw_inspect_env *e;
	struct run a, b;
	char in[4096], exp[4096];
	int set;

	(void)state;
	e = mask_env(mask_policy, masking, &set);
	assert_int_equal(set, 0);
	flow_start(&a, e);
	flow_start(&b, e);
	client(&b, get); /* the standing stream, opened first */
	post_call(&a, "s7", CALL(5, "query"));
	post_call(&a, "s7", CALL(6, "echo"));
	snprintf(in, sizeof(in), "%s%zx\r\n%s\r\n", head, strlen(ev1), ev1);
	server(&b, in);
	snprintf(exp, sizeof(exp), "%s%zx\r\n%s\r\n", head, strlen(ev1_out), ev1_out);
	assert_bytes_str(&b.cl, exp);
	assert_int_equal(count_decision(&b, "masked"), 1);
	/* unknown id: the journal's profile */
	b.cl.len = 0;
	snprintf(in, sizeof(in), "%zx\r\n%s\r\n", strlen(ev2), ev2);
	server(&b, in);
	b.cl.data[b.cl.len < 4095 ? b.cl.len : 4095] = 0;
	assert_contains((const char *)b.cl.data, "[MASKED:credit_card]");
	assert_null(strstr((const char *)b.cl.data, "4111"));
	/* the clear request's response */
	b.cl.len = 0;
	snprintf(in, sizeof(in), "%zx\r\n%s\r\n", strlen(ev3), ev3);
	server(&b, in);
	snprintf(exp, sizeof(exp), "%zx\r\n%s\r\n", strlen(ev3), ev3);
	assert_bytes_str(&b.cl, exp);
	/* answered: paired once only; a second response with id 5 is unpaired */
	b.cl.len = 0;
	snprintf(in, sizeof(in), "%zx\r\n%s\r\n", strlen(ev1), ev1);
	server(&b, in);
	b.cl.data[b.cl.len < 4095 ? b.cl.len : 4095] = 0;
	assert_contains((const char *)b.cl.data, "[MASKED:credit_card]");
	run_end(&a);
	run_end(&b);
	inspect_env_unref(e);
}

/* A reply that cannot be masked (nested beyond MW_MASK_MAX_DEPTH) never goes: the client
 * gets a JSON-RPC error with its id. */
static void test_unmaskable(void **state)
{
	char body[4096], *in;
	struct mw_inspect_env *e;
	struct run t;
	size_t n = 0;
	int set;

	(void)state;
	e = mask_env(mask_policy, masking, &set);
	flow_start(&t, e);
	post_call(&t, "s2", CALL(3, "query"));
	/* JSON carried in a text string counts towards the depth: 100 levels in the text */
	n += (size_t)snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":"
				  "{\"content\":[{\"type\":\"text\",\"text\":\"");
	for (int i = 0; i < 100; i++)
		body[n++] = '[';
	n += (size_t)snprintf(body + n, sizeof(body) - n, "\\\"4111 1111 1111 1111\\\"");
	for (int i = 0; i < 100; i++)
		body[n++] = ']';
	snprintf(body + n, sizeof(body) - n, "\"}]}}");
	in = json_reply(body);
	server(&t, in);
	t.cl.data[t.cl.len < 4095 ? t.cl.len : 4095] = 0;
	assert_null(strstr((const char *)t.cl.data, "4111"));
	assert_contains((const char *)t.cl.data, "\"id\":3");
	assert_contains((const char *)t.cl.data, "\"code\":-32603");
	assert_contains((const char *)t.cl.data, "could not be masked");
	assert_int_equal(count_decision(&t, "deny"), 1);
	free(in);
	run_end(&t);
	inspect_env_unref(e);
}

/* A rule naming a profile "masking" does not define: refused, with the rule's index. */
static void test_unknown_profile(void **state)
{
	static const char bad[] =
		"{\"rules\": [{\"name\": \"a\", \"action\": \"allow\", \"mask\": \"pii\"},"
		"{\"name\": \"b\", \"action\": \"allow\", \"mask\": \"nope\"}]}";
	struct mw_inspect_env *e;
	int set;

	(void)state;
	e = mask_env(bad, masking, &set);
	assert_int_equal(set, -1001);
	inspect_env_unref(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_masked_by_rule),
		cmocka_unit_test(test_get_stream_paired),
		cmocka_unit_test(test_unmaskable),
		cmocka_unit_test(test_unknown_profile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
