/* inspect_tools.h: tools/list results, for the checkpoint's server side (inspect_resp.c).
 *
 * Each tool definition's hash is checked against what the server listed before (a
 * definition that changes is a "rug pull": flagged, and calls to it are denied), and tools
 * the caller could never call are removed.  The message comes parsed from the response
 * pipeline (a JSON body or one SSE event), which re-frames what changed.  Private to the
 * checkpoint. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "inspect.h"
#include "mcp.h"

#define MW_TOOL_SERVERS_MAX 64	 /* servers remembered per policy generation */
#define MW_TOOLS_PER_SERVER 4096 /* tool names remembered per server */

struct mw_tool_tables;
struct mw_tool_tables *tool_tables_free(struct mw_tool_tables *t);

/* The table of one server, created on first use (NULL: out of room or memory). */
struct mcp_tools *tool_tables_get(struct mw_inspect_env *env, const char *server);

/* Keep a tool in the list? (the caller could call it under the policy) */
typedef bool (*tools_allowed_fn)(void *userdata, const char *tool);
/* A definition changed since the server first listed it. */
typedef void (*tools_changed_fn)(void *userdata, const char *tool);

/* Every tools/list result in a parsed server body: flag changed definitions (changed) and
 * drop tools not allowed (allowed), in place.  Returns how many results it rewrote (the body
 * must then be dumped again; 0: untouched), or -ENOMEM. */
int tools_rewrite_body(struct mcp_body *b, struct mcp_tools *table, tools_allowed_fn allowed,
		       tools_changed_fn changed, void *userdata);
