/* mcpwarden_approval.h: the approvers' commands, `mcpwarden pending|approve|deny|grants|
 * revoke`, sent to the agent's control socket like the others.  The dispatcher hands over
 * argv (argv[0] is the command, getopt reset), its common long options and a callback that
 * handles them (returns 1 when it took the option, 0 when not, < 0 to stop). */
#pragma once

#include <getopt.h>
#include <jansson.h>
#include <stddef.h>

int cli_approval_build(const char *cmd, int argc, char **argv, const struct option *common,
		       size_t n_common, int (*common_fn)(void *cli, int opt), void *cli,
		       json_t **ret_request);
void cli_approval_render(const char *cmd, json_t *reply);
