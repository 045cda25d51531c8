/* fuzz_inspect.c: the MCP checkpoint on arbitrary client and server bytes, fed in chunks.
 *
 * Byte 0: bit 0 require_token, bits 1-7 seed the chunk sizes. Bytes 1-2: where the client
 * bytes end (little endian, modulo what is left; 0xffff: the exact half). The rest: client
 * bytes, then server bytes. Client and server chunks are fed alternately.
 * Invariants: to_upstream is the same as when the client bytes come in one piece (it never
 * depends on chunking or on the server); every forwarded byte is in the client input, in
 * order; to_upstream parses as whole, well-formed requests ending between messages; every
 * payload record is readable and well formed; nothing crashes or leaks.  The server side
 * (JSON bodies held, SSE events, server-to-client requests decided) runs on the server
 * bytes; the seeds include SSE streams carrying sampling requests (denied by the policy's
 * default) and pings (allowed). */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http1.h"
#include "inspect.h"
#include "policy.h"

static const char policy_text[] =
    "{\"rules\": ["
    "{\"name\": \"no DDL\", \"match\": {\"method\": \"tools/call\", \"tool\": \"query\", "
    "\"args\": {\"/sql\": {\"sql_class\": [\"destructive\"]}}}, \"action\": \"deny\"},"
    "{\"name\": \"echo\", \"match\": {\"method\": \"tools/call\", \"tool\": [\"echo\", "
    "\"query\"]}, \"action\": \"allow\"},"
    "{\"name\": \"cancel\", \"match\": {\"method\": \"notifications/cancelled\"}, "
    "\"action\": \"deny\"},"
    "{\"name\": \"plumbing\", \"match\": {\"method\": [\"initialize\", \"ping\", "
    "\"tools/list\", \"notifications/*\"]}, \"action\": \"allow\"},"
    "{\"name\": \"default\", \"action\": \"deny\"}]}";

static const struct mw_inspect_flow flow = {
	.unit = "app.service",
	.comm = "node",
	.uid = 1000,
	.host = "127.0.0.1",
	.port = 8080,
	.direction = MW_POLICY_DIR_OUTBOUND,
};

static struct mw_policy *policy;

static struct mw_inspect_env *env_new(bool require_token)
{
	struct mw_inspect_env *e = calloc(1, sizeof(*e));

	assert(e);
	e->refs = 1;
	e->policy = policy_ref(policy);
	e->require_token = require_token;
	return e;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	json_t *root = json_loads(policy_text, 0, NULL);
	struct mw_diag d;

	assert(root);
	if (policy_compile(root, "fuzz", policy_text, strlen(policy_text), "", &policy, &d) < 0)
		abort();
	json_decref(root);
	return 0;
}

static void on_report(void *userdata, const struct mw_inspect_event *ev)
{
	/* touch every string: they must be valid */
	size_t *n = userdata;

	*n += strlen(ev->sub) + strlen(ev->groups) + strlen(ev->token_sha256) + strlen(ev->method) +
	      strlen(ev->tool) + strlen(ev->decision) + strlen(ev->rule) + strlen(ev->reason);
}

/* Every record's bytes are readable; records to the upstream are never the agent's own. */
static void on_record(void *userdata, const struct mw_inspect_record *rec)
{
	volatile uint8_t sink = 0;

	(void)userdata;
	for (size_t i = 0; i < rec->len; i++)
		sink ^= rec->payload[i];
	assert(rec->to_client || (!rec->own && rec->status == 0));
	assert(!rec->to_client || (rec->status >= 100 && rec->status <= 599));
	assert(strlen(rec->session) + strlen(rec->method) + strlen(rec->tool) < 4096);
	assert(rec->masked && !rec->masked[0]);
	(void)sink;
}

struct out {
	struct mw_bytes up, cl;
	bool close, failed; /* an error ends the flow (the relay resets it) */
};

/* Feed client and server alternately, chunk sizes from seed (0: each side whole). */
static void run(bool require_token, unsigned seed, const uint8_t *cli, size_t ncli,
		const uint8_t *srv, size_t nsrv, struct out *o)
{
	static const size_t sizes[] = { 1, 2, 3, 7, 16, 64, 200, 4096 };
	struct mw_inspect_env *e = env_new(require_token);
	struct mw_inspect *in = NULL;
	size_t ci = 0, si = 0, events = 0;
	unsigned k = seed;
	bool failed = false;

	assert(inspect_new(e, &flow, on_report, &events, &in) == 0);
	inspect_env_unref(e);
	inspect_set_recorder(in, on_record);
	while (!failed && (ci < ncli || si < nsrv)) {
		size_t c = seed ? sizes[k++ % 8] : ncli - ci;
		size_t s = seed ? sizes[(k = k * 5 + 3) % 8] : nsrv - si;

		if (c > ncli - ci)
			c = ncli - ci;
		if (s > nsrv - si)
			s = nsrv - si;
		if (c || ci == ncli) {
			bool cl = false;

			if (inspect_client(in, cli + ci, c, &o->up, &o->cl, &cl) < 0)
				failed = true;
			assert(!o->close || cl); /* once closing, always closing */
			o->close = cl;
			ci += c;
		}
		if (!failed && (s || si == nsrv)) {
			if (inspect_server(in, srv + si, s, &o->cl) < 0)
				failed = true;
			si += s;
		}
		assert(inspect_held(in) <= MW_INSPECT_MAX_REQUEST);
	}
	o->failed = failed;
	inspect_free(in);
}

/* Every forwarded byte is in the client input, in order. */
static void check_subsequence(const uint8_t *up, size_t nup, const uint8_t *cli, size_t ncli)
{
	size_t j = 0;

	for (size_t i = 0; i < nup; i++) {
		while (j < ncli && cli[j] != up[i])
			j++;
		assert(j < ncli);
		j++;
	}
}

/* What went up is whole, well-formed requests. */
static void check_whole(const uint8_t *up, size_t nup)
{
	struct http1_parser *p = NULL;
	bool inside = false;
	size_t off = 0;

	assert(http1_parser_new(HTTP1_REQUEST, NULL, &p) == 0);
	if (!up)
		up = (const uint8_t *)"";
	for (;;) {
		struct http1_event ev;

		assert(http1_parse(p, up + off, nup - off, &ev) == 0);
		off += ev.consumed;
		if (ev.type == HTTP1_EV_DONE)
			inside = false;
		else if (ev.consumed)
			inside = true;
		if (ev.type == HTTP1_EV_NONE)
			break;
		if (ev.type == HTTP1_EV_DONE && (ev.flags & HTTP1_DONE_CLOSE))
			break;
	}
	assert(off == nup);
	assert(!inside);
	http1_parser_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct out whole = {}, split = {};
	const uint8_t *cli, *srv;
	size_t ncli, nsrv, rest, cut;
	bool require_token;
	unsigned seed;

	if (size < 3)
		return 0;
	require_token = data[0] & 1;
	seed = data[0] >> 1;
	cut = (size_t)data[1] | (size_t)data[2] << 8;
	data += 3;
	rest = size - 3;
	ncli = cut == 0xffff ? rest / 2 : cut % (rest + 1);
	cli = data;
	srv = data + ncli;
	nsrv = rest - ncli;

	run(require_token, seed, cli, ncli, srv, nsrv, &split);
	run(require_token, 0, cli, ncli, srv, nsrv, &whole);
	if (split.failed || whole.failed) {
		/* how far a flow got before its error can depend on the server's pace */
		size_t n = split.up.len < whole.up.len ? split.up.len : whole.up.len;

		assert(!n || !memcmp(split.up.data, whole.up.data, n));
	} else {
		assert(split.up.len == whole.up.len &&
		       (!whole.up.len || !memcmp(split.up.data, whole.up.data, whole.up.len)));
	}
	check_subsequence(split.up.data, split.up.len, cli, ncli);
	check_whole(split.up.data, split.up.len);
	bytes_free(&whole.up);
	bytes_free(&whole.cl);
	bytes_free(&split.up);
	bytes_free(&split.cl);
	return 0;
}
