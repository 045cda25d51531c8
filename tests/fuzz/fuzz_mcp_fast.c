/* fuzz_mcp_fast.c: the envelope scanner (mcp_scan_request) against mcp_parse on arbitrary bytes.
 *
 * Byte 0: bit 0 small limits (depth 3, 200 bytes), bit 1 the writer is the server. The rest is
 * the body. Invariant: wherever the scanner answers, mcp_parse accepts the same body as one
 * message with the same kind, id, method, mid and tool, arguments present (an object) exactly
 * when the scanner saw them, and no invalid reason; mcp_parse_lazy then gives the same fields
 * whether or not the arguments are wanted. The scanner never reads past the body (ASan). */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcp.h"

static bool span_eq(const char *p, size_t n, const char *s)
{
	return s && strlen(s) == n && memcmp(p, s, n) == 0;
}

static bool want_all(void *ud, const char *method, const char *tool)
{
	(void)ud;
	(void)method;
	(void)tool;
	return true;
}

static void check_same(const struct mcp_message *a, const struct mcp_message *b)
{
	assert(a->kind == b->kind && a->mid == b->mid);
	assert(strcmp(a->method, b->method) == 0);
	assert((!a->tool && !b->tool) || (a->tool && b->tool && !strcmp(a->tool, b->tool)));
	assert(mcp_id_equal(&a->id, &b->id));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mcp_limits small = { .max_body = 200, .max_depth = 3, .max_batch = 3 };
	const struct mcp_limits *lim;
	enum mcp_dir dir;
	struct mcp_scan sc;
	struct mcp_body *full = NULL, *lazy = NULL;
	struct mcp_parse_error e;
	const struct mcp_message *m;
	int r, rf;

	if (size < 1)
		return 0;
	lim = data[0] & 1 ? &small : NULL;
	dir = data[0] & 2 ? MCP_FROM_SERVER : MCP_FROM_CLIENT;
	data++;
	size--;

	r = mcp_scan_request(data, size, dir, lim, &sc);
	rf = mcp_parse(data, size, dir, lim, &full, &e);
	if (r < 0) {
		assert(r == -EAGAIN);
		mcp_body_free(full);
		return 0;
	}
	assert(rf == 0 && full && !full->batch && full->n == 1 && !full->partial);
	m = &full->msgs[0];
	assert(!m->invalid && !m->misdirected && !m->server_request);
	assert(m->kind == sc.kind && m->mid == sc.mid && m->id.type == sc.id.type);
	assert(span_eq(sc.method, sc.method_len, m->method));
	if (sc.id.type == MCP_ID_INT)
		assert(m->id.num == sc.id.num);
	else if (sc.id.type == MCP_ID_STR)
		assert(span_eq(sc.id_str, sc.id_len, m->id.str));
	else
		assert(sc.id.type == MCP_ID_NONE && sc.kind == MCP_NOTIFICATION);
	if (sc.name)
		assert(span_eq(sc.name, sc.name_len, m->tool));
	else
		assert(!m->tool);
	assert(sc.has_arguments == (m->arguments != NULL));
	assert(!m->arguments || json_is_object(m->arguments));
	assert(!m->params || json_is_object(m->params));

	/* the lazy parse, without and with the arguments wanted */
	assert(mcp_parse_lazy(data, size, dir, lim, NULL, NULL, &lazy, &e) == 0);
	assert(lazy->partial && lazy->n == 1 && !lazy->batch && !lazy->root);
	check_same(m, &lazy->msgs[0]);
	assert(!lazy->msgs[0].arguments && !lazy->msgs[0].json);
	lazy = mcp_body_free(lazy);
	assert(mcp_parse_lazy(data, size, dir, lim, want_all, NULL, &lazy, &e) == 0);
	check_same(m, &lazy->msgs[0]);
	assert(lazy->partial == !sc.has_arguments);
	assert(!sc.has_arguments || lazy->msgs[0].arguments);
	mcp_body_free(lazy);
	mcp_body_free(full);
	return 0;
}
