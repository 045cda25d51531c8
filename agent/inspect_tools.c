/* inspect_tools.c: see inspect_tools.h. */
#include "inspect_tools.h"

#include <stdio.h>

#include "inspect.h"
#include "sse.h"
#include "util.h"

struct mw_tool_tables {
	size_t n;
	struct {
		char server[80];
		struct mcp_tools *tools;
	} s[MW_TOOL_SERVERS_MAX];
};

struct mw_tool_tables *tool_tables_free(struct mw_tool_tables *t)
{
	for (size_t i = 0; t && i < t->n; i++)
		mcp_tools_free(t->s[i].tools);
	free(t);
	return NULL;
}

struct mcp_tools *tool_tables_get(struct mw_inspect_env *env, const char *server)
{
	struct mw_tool_tables *t = env->tools;

	if (!t) {
		t = env->tools = calloc(1, sizeof(*t));
		if (!t)
			return NULL;
	}
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->s[i].server, server) == 0)
			return t->s[i].tools;
	if (t->n >= MW_TOOL_SERVERS_MAX || mcp_tools_new(MW_TOOLS_PER_SERVER, &t->s[t->n].tools) < 0)
		return NULL;
	snprintf(t->s[t->n].server, sizeof(t->s[t->n].server), "%s", server);
	return t->s[t->n++].tools;
}

struct rewrite {
	struct mcp_tools *table;
	tools_allowed_fn allowed;
	tools_changed_fn changed;
	void *userdata;
	struct mw_bytes out;
	int err;
};

static void on_seen(void *userdata, const char *tool, enum mcp_tool_state state,
		    const uint8_t hash[MCP_TOOL_HASH_LEN])
{
	struct rewrite *rw = userdata;

	if (state == MCP_TOOL_CHANGED && rw->changed)
		rw->changed(rw->userdata, tool);
}

/* One JSON-RPC body: returns 1 with *ret set when it held a tools/list result. */
static int rewrite_json(struct rewrite *rw, const char *json, size_t len, char **ret,
			size_t *ret_len)
{
	_cleanup_(mcp_body_freep) struct mcp_body *b = NULL;
	struct mcp_parse_error perr;
	bool touched = false;

	if (mcp_parse(json, len, MCP_FROM_SERVER, NULL, &b, &perr) < 0)
		return 0; /* not JSON-RPC: not ours to change */
	for (size_t i = 0; i < b->n; i++) {
		struct mcp_message *m = &b->msgs[i];
		size_t removed = 0;

		if (m->kind != MCP_RESULT || !json_is_array(json_object_get(m->result, "tools")))
			continue;
		if (rw->table)
			mcp_tools_observe_result(rw->table, m, on_seen, rw);
		if (mcp_tools_filter(m, rw->allowed, rw->userdata, &removed) < 0)
			return -ENOMEM;
		touched = true;
	}
	if (!touched)
		return 0;
	return mcp_body_dump(b, ret, ret_len) < 0 ? -ENOMEM : 1;
}

static int on_block(const struct sse_event *ev, void *userdata)
{
	struct rewrite *rw = userdata;
	_cleanup_free_ char *json = NULL, *enc = NULL;
	size_t len, enc_len;
	struct sse_message m;
	ssize_t size;
	int r;

	if (!(ev->flags & SSE_EV_DISPATCH) || !ev->msg.data_len)
		return bytes_append(&rw->out, ev->raw, ev->raw_len);
	r = rewrite_json(rw, ev->msg.data, ev->msg.data_len, &json, &len);
	if (r <= 0)
		return r < 0 ? r : bytes_append(&rw->out, ev->raw, ev->raw_len);
	m = ev->msg;
	m.data = json;
	m.data_len = len;
	m.comment = NULL;
	size = sse_encoded_size(&m);
	if (size < 0)
		return (int)size;
	enc = malloc((size_t)size + 1);
	if (!enc)
		return -ENOMEM;
	r = sse_encode(&m, enc, (size_t)size + 1, &enc_len);
	return r < 0 ? r : bytes_append(&rw->out, enc, enc_len);
}

int tools_rewrite(const char *body, size_t len, bool sse, struct mcp_tools *table,
		  tools_allowed_fn allowed, tools_changed_fn changed, void *userdata,
		  char **ret_body, size_t *ret_len)
{
	struct rewrite rw = { table, allowed, changed, userdata, {}, 0 };
	char *json;
	size_t jlen;
	int r;

	if (!sse) {
		r = rewrite_json(&rw, body, len, &json, &jlen);
		if (r < 0)
			return r;
		if (r == 0) {
			json = malloc(len + 1);
			if (!json)
				return -ENOMEM;
			memcpy(json, body, len);
			jlen = len;
		}
		*ret_body = json;
		*ret_len = jlen;
		return 0;
	} else {
		_cleanup_(sse_parser_freep) struct sse_parser *p = NULL;
		struct sse_event ev;

		r = sse_parser_new(NULL, &p);
		if (r == 0)
			r = sse_parse_all(p, body, len, on_block, &rw);
		while (r >= 0 && sse_finish(p, &ev) == 1)
			r = bytes_append(&rw.out, ev.raw, ev.raw_len);
		if (r < 0) {
			bytes_free(&rw.out);
			return r;
		}
		if (bytes_append(&rw.out, "", 1) < 0) /* a NUL, not counted: never empty */
			return -ENOMEM;
		*ret_body = (char *)rw.out.data;
		*ret_len = rw.out.len - 1;
		return 0;
	}
}
