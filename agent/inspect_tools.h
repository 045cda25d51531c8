/* inspect_tools.h: tools/list results on the wire, for the checkpoint (inspect.c).
 *
 * A tools/list response is held whole (JSON or SSE body), each tool definition's hash is
 * checked against what the server listed before (a definition that changes is a "rug
 * pull": flagged, and calls to it are denied), tools the caller could never call are
 * removed, and the response is sent on re-framed with a new Content-Length.  Private to the
 * checkpoint. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "inspect.h"
#include "mcp.h"

#define MW_TOOL_SERVERS_MAX 64		   /* servers remembered per policy generation */
#define MW_TOOLS_PER_SERVER 4096	   /* tool names remembered per server */
#define MW_INSPECT_MAX_RESPONSE (8u << 20) /* a tools/list response held whole */

struct mw_tool_tables;
struct mw_tool_tables *tool_tables_free(struct mw_tool_tables *t);

/* The table of one server, created on first use (NULL: out of room or memory). */
struct mcp_tools *tool_tables_get(struct mw_inspect_env *env, const char *server);

/* Keep a tool in the list? (the caller could call it under the policy) */
typedef bool (*tools_allowed_fn)(void *userdata, const char *tool);
/* A definition changed since the server first listed it. */
typedef void (*tools_changed_fn)(void *userdata, const char *tool);

/* Rewrite a held response body: for every tools/list result in it (JSON-RPC body or SSE
 * events), flag changed definitions and drop tools not allowed. *ret_body is a new buffer
 * (the original bytes when nothing was recognised). */
int tools_rewrite(const char *body, size_t len, bool sse, struct mcp_tools *table,
		  tools_allowed_fn allowed, tools_changed_fn changed, void *userdata,
		  char **ret_body, size_t *ret_len);
