/* mcpwarden_ca.h: `mcpwarden ca init [--dir DIR]` and `mcpwarden ca show [--dir DIR]`, run
 * locally on the CA files (no agent needed).  Called with argv[0] = "ca"; returns the exit
 * status: 0 success, 1 failure (a CA already there, none to show), 2 usage error. */
#pragma once

int cli_ca(int argc, char **argv);
