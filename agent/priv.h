/* priv.h: the privileged helper, apart from the code that parses untrusted bytes.
 *
 * After start-up the daemon drops every capability.  What still needs them at run time
 * (attaching the capture programs to a newly enrolled cgroup, pinning, detaching, and
 * counting the sockets a cgroup already holds) runs in a small child process that keeps
 * only CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH and
 * answers fixed-size, size-checked messages over a SOCK_SEQPACKET pair.  It re-checks
 * every path it is given (inside the cgroup2 mount, not the agent's own cgroup). */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "loader.h"

enum mw_priv_op {
	MW_PRIV_ENROLL = 1,
	MW_PRIV_UNENROLL = 2,
};

struct mw_priv_req {
	uint32_t op;
	uint32_t seq; /* echoed in the reply: a late answer is never taken for the next one */
	char path[4096]; /* an absolute cgroup directory */
};

struct mw_priv_reply {
	int32_t err; /* 0 or -errno */
	uint32_t existing_sockets;
	uint32_t seq;
	uint32_t _pad;
	uint64_t id;
	char path[4096]; /* the resolved cgroup directory */
	char msg[256];	 /* why, when err < 0 */
};

struct mw_priv {
	pid_t pid;
	int fd;
	uint32_t seq;
};

/* Fork the helper. It owns loader's links from now on; the caller keeps the maps. */
int priv_start(struct mw_loader *loader, const char *cg_mount, const char *agent_cgroup,
	       struct mw_priv *ret);
int priv_call(struct mw_priv *p, enum mw_priv_op op, const char *path, struct mw_priv_reply *ret);
void priv_stop(struct mw_priv *p);

/* Drop every capability of the calling process for good (bounding set too), with
 * no_new_privs.  keep: a list of capabilities to keep in the permitted/effective sets. */
int caps_drop_except(const int *keep, unsigned n_keep);
/* Empty the bounding set only (needs CAP_SETPCAP: do it before leaving uid 0). */
int caps_drop_bounding(void);
