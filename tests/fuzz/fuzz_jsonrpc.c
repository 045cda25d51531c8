/* fuzz_jsonrpc.c: the JSON-RPC/MCP layer on arbitrary bytes.
 *
 * Byte 0: bit 0 the body's writer (client/server), bit 1 small limits (depth 4, batch 3,
 * 256 bytes), bit 2 chunked replies, bit 3 SSE replies. The rest is the body.
 * Invariants: a refused body has a JSON-RPC code and a readable reason, and its error reply
 * parses back as an error response; an accepted body survives pairing, tools/list filtering
 * and hashing, re-serialises to JSON that parses again into as many messages, and every reply
 * the agent would send (error object or array, JSON or SSE framing, 401) carries JSON that
 * parses again. The Accept-header chooser and the header check run on the same bytes. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcp.h"
#include "sse.h"

static bool allow_even(void *ud, const char *tool)
{
	(void)ud;
	return strlen(tool) % 2 == 0;
}

static void seen(void *ud, const char *tool, enum mcp_tool_state state,
		 const uint8_t hash[MCP_TOOL_HASH_LEN])
{
	(*(size_t *)ud)++;
	assert(tool && state >= MCP_TOOL_ADDED && state <= MCP_TOOL_CHANGED && hash);
}

/* The HTTP reply's payload must be JSON (for SSE: one event whose data is JSON). */
static void check_http(const char *buf, size_t len, bool sse, bool chunked)
{
	const char *body = memmem(buf, len, "\r\n\r\n", 4);
	size_t n;
	json_t *j;

	assert(body && strncmp(buf, "HTTP/1.1 ", 9) == 0);
	body += 4;
	n = len - (size_t)(body - buf);
	if (chunked) {
		char *end;
		unsigned long sz = strtoul(body, &end, 16);

		assert(end[0] == '\r' && end[1] == '\n');
		assert(len >= 5 && memcmp(buf + len - 5, "0\r\n\r\n", 5) == 0);
		if (sz == 0)
			return;
		body = end + 2;
		n = sz;
	}
	if (sse) {
		struct sse_parser *p = NULL;
		struct sse_event ev;

		assert(sse_parser_new(NULL, &p) == 0);
		assert(sse_parse(p, body, n, &ev) == 1 && (ev.flags & SSE_EV_DISPATCH));
		assert(ev.consumed == n && ev.type_len == 7 && !memcmp(ev.type, "message", 7));
		j = json_loadb(ev.msg.data, ev.msg.data_len, JSON_REJECT_DUPLICATES, NULL);
		sse_parser_free(p);
	} else {
		j = json_loadb(body, n, JSON_REJECT_DUPLICATES, NULL);
	}
	assert(j);
	json_decref(j);
}

static void reply(const json_t *r, unsigned flags)
{
	struct mcp_http_opts o = { .framing = (flags & 8) ? MCP_FRAMING_SSE : MCP_FRAMING_JSON,
				   .chunked = flags & 4,
				   .session_id = "sess-1",
				   .sse_id = "7" };
	char *buf;
	size_t len;

	assert(mcp_http_reply(r, &o, &buf, &len) == 0);
	if (r)
		check_http(buf, len, o.framing == MCP_FRAMING_SSE, o.chunked);
	free(buf);
}

static void refused(const struct mcp_parse_error *e, unsigned flags)
{
	struct mcp_body *b = NULL;
	json_t *r;
	char *s;
	size_t n;

	assert(e->kind != MCP_PERR_NONE);
	assert(e->code == MCP_ERR_PARSE || e->code == MCP_ERR_INVALID_REQUEST ||
	       e->code == MCP_ERR_INTERNAL);
	assert(memchr(e->text, 0, sizeof(e->text)) && e->text[0]);
	for (const char *c = e->text; *c; c++)
		assert(*c >= 0x20 && *c <= 0x7e);
	r = mcp_error_response(&e->id, e->code, e->text, NULL);
	assert(r);
	assert(mcp_json_dump(r, &s, &n) == 0);
	assert(mcp_parse(s, n, MCP_FROM_SERVER, NULL, &b, NULL) == 0);
	assert(b->n == 1 && b->msgs[0].kind == MCP_ERROR && b->msgs[0].error_code == e->code);
	reply(r, flags);
	mcp_body_free(b);
	free(s);
	json_decref(r);
}

static void accepted(struct mcp_body *b, enum mcp_dir dir, unsigned flags)
{
	struct mcp_pending *pend = NULL;
	struct mcp_tools *tools = NULL;
	struct mcp_body *b2 = NULL;
	struct mcp_denial d = { .rule = "fuzz", .approval_id = "a1", .reason = "no" };
	struct mcp_parse_error e;
	json_t *r = NULL;
	size_t n, removed, cbs = 0;
	char *s;

	assert(mcp_pending_new(4, &pend) == 0);
	assert(mcp_tools_new(8, &tools) == 0);
	for (size_t i = 0; i < b->n; i++) {
		struct mcp_message *m = &b->msgs[i];
		struct mcp_pair pair;

		assert(m->json && m->kind >= MCP_REQUEST && m->kind <= MCP_ERROR);
		(void)mcp_message_name(m);
		if (m->kind == MCP_REQUEST) {
			assert(m->method && m->id.type != MCP_ID_NONE && m->id.type != MCP_ID_NULL);
			assert(mcp_pending_add(pend, dir, m, i) >= 0);
			/* The same request seen from the other side, answered by itself. */
			assert(mcp_pending_add(pend, !dir, m, i) >= 0);
		} else if (m->kind == MCP_NOTIFICATION) {
			assert(m->method && m->id.type == MCP_ID_NONE);
		} else {
			if (mcp_pending_match(pend, dir, m, &pair) == 0) {
				assert(pair.method);
				mcp_pair_clear(&pair);
			}
			if (mcp_tools_observe_result(tools, m, seen, &cbs) >= 0)
				assert(mcp_tools_filter(m, allow_even, NULL, &removed) == 0);
		}
	}
	/* Requests answered by their own ids from the other side pair up. */
	for (size_t i = 0; i < b->n; i++) {
		struct mcp_message resp = { .kind = MCP_RESULT, .id = b->msgs[i].id };
		struct mcp_pair pair;

		if (b->msgs[i].kind == MCP_REQUEST &&
		    mcp_pending_match(pend, !dir, &resp, &pair) == 0)
			mcp_pair_clear(&pair);
	}
	(void)mcp_check_headers(b, "tools/call", "x");

	assert(mcp_body_dump(b, &s, &n) == 0);
	assert(mcp_parse(s, n, dir, NULL, &b2, &e) == 0);
	assert(b2->n == b->n && b2->batch == b->batch);
	mcp_body_free(b2);
	free(s);

	assert(mcp_error_reply(b, MCP_ERR_DENIED_POLICY, NULL, &d, &r) == 0);
	reply(r, flags);
	if (r) {
		assert(mcp_json_dump(r, &s, &n) == 0);
		assert(mcp_parse(s, n, MCP_FROM_SERVER, NULL, &b2, &e) == 0);
		for (size_t i = 0; i < b2->n; i++)
			assert(b2->msgs[i].kind == MCP_ERROR &&
			       b2->msgs[i].error_code == MCP_ERR_DENIED_POLICY);
		mcp_body_free(b2);
		free(s);
	}
	json_decref(r);
	mcp_pending_free(pend);
	mcp_tools_free(tools);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mcp_limits small = { .max_body = 256, .max_depth = 4, .max_batch = 3 };
	struct mcp_parse_error e;
	struct mcp_body *b = NULL;
	enum mcp_dir dir;
	unsigned flags;
	char str[96];
	char *buf;
	size_t len;
	int r;

	if (size < 1)
		return 0;
	flags = data[0];
	dir = (flags & 1) ? MCP_FROM_SERVER : MCP_FROM_CLIENT;
	r = mcp_parse(data + 1, size - 1, dir, (flags & 2) ? &small : NULL, &b, &e);
	if (r == 0) {
		assert(b && b->n >= 1);
		accepted(b, dir, flags);
		mcp_body_free(b);
	} else {
		assert(r == -EBADMSG || r == -EMSGSIZE || r == -ENOMEM);
		refused(&e, flags);
	}

	/* The same bytes as header values. */
	len = size - 1 < sizeof(str) - 1 ? size - 1 : sizeof(str) - 1;
	memcpy(str, data + 1, len);
	str[len] = 0;
	r = (int)mcp_framing_for_accept(str);
	assert(r == MCP_FRAMING_JSON || r == MCP_FRAMING_SSE);
	r = mcp_http_unauthorized(str, (flags & 4) ? str : NULL, flags & 8, &buf, &len);
	if (r == 0) {
		check_http(buf, len, false, false);
		assert(memmem(buf, len, "WWW-Authenticate: Bearer error=\"invalid_token\"", 46));
		free(buf);
	} else {
		assert(r == -EINVAL);
	}
	return 0;
}
