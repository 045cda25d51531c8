/* mcp_fixtures.h: what test_mcp.c and test_mcp_reply.c share: parsing a message that must
 * parse, failing with the parser's own reason when it does not. */
#ifndef MW_TESTS_MCP_FIXTURES_H
#define MW_TESTS_MCP_FIXTURES_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mcp.h"

static inline struct mcp_body *parse_ok_dir(const char *json, enum mcp_dir dir)
{
	struct mcp_parse_error e;
	struct mcp_body *b = NULL;
	int r;

	r = mcp_parse(json, strlen(json), dir, NULL, &b, &e);
	if (r < 0)
		fail_msg("expected '%s' to parse, got %d: %s (index %ld)", json, r, e.text,
			 e.index);
	assert_non_null(b);
	return b;
}

static inline struct mcp_body *parse_ok(const char *json)
{
	return parse_ok_dir(json, MCP_FROM_CLIENT);
}

static inline struct mcp_body *parse_srv(const char *json)
{
	return parse_ok_dir(json, MCP_FROM_SERVER);
}

#endif /* MW_TESTS_MCP_FIXTURES_H */
