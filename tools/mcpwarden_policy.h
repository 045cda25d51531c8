/* mcpwarden_policy.h: `mcpwarden policy check|explain`, evaluated locally (no agent needed).
 * Called by mcpwarden's dispatcher with argv[0] = "policy"; returns the exit status:
 * check: 0 clean or warnings only, 2 errors; explain: 0 allow, 1 deny or review, 2 usage or
 * config error. */
#pragma once

int cli_policy(int argc, char **argv);
