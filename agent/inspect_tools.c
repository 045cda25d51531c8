/* inspect_tools.c: see inspect_tools.h. */
#include "inspect_tools.h"

#include <stdio.h>

#include "inspect.h"
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
	if (t->n >= MW_TOOL_SERVERS_MAX ||
	    mcp_tools_new(MW_TOOLS_PER_SERVER, &t->s[t->n].tools) < 0)
		return NULL;
	snprintf(t->s[t->n].server, sizeof(t->s[t->n].server), "%s", server);
	return t->s[t->n++].tools;
}

struct rewrite {
	tools_changed_fn changed;
	void *userdata;
};

static void on_seen(void *userdata, const char *tool, enum mcp_tool_state state,
		    const uint8_t hash[MCP_TOOL_HASH_LEN])
{
	struct rewrite *rw = userdata;

	if (state == MCP_TOOL_CHANGED && rw->changed)
		rw->changed(rw->userdata, tool);
}

int tools_rewrite_body(struct mcp_body *b, struct mcp_tools *table, tools_allowed_fn allowed,
		       tools_changed_fn changed, void *userdata)
{
	struct rewrite rw = { changed, userdata };
	int touched = 0;

	for (size_t i = 0; i < b->n; i++) {
		struct mcp_message *m = &b->msgs[i];
		size_t removed = 0;

		if (m->kind != MCP_RESULT || !json_is_array(json_object_get(m->result, "tools")))
			continue;
		if (table)
			mcp_tools_observe_result(table, m, on_seen, &rw);
		if (mcp_tools_filter(m, allowed, userdata, &removed) < 0)
			return -ENOMEM;
		touched++;
	}
	return touched;
}
