/* sockdiag.h: who holds a TCP socket, asked of the kernel (NETLINK_SOCK_DIAG) in the
 * agent's network namespace.  Used to check, before relaying, that the socket on the other
 * end of a captured connection really is the enrolled gateway's (and not a local process
 * that claimed a stale origin or squats a moved listener's port).  No privileges needed. */
#pragma once

#include <stdint.h>
#include <sys/socket.h>

struct mw_sockinfo {
	uint32_t uid;
	uint64_t cgroup_id; /* 0 when the kernel did not report it */
	uint64_t inode;
	uint8_t state;	    /* TCP_ESTABLISHED, TCP_LISTEN, ... */
};

/* The socket whose local address is src and remote address dst (both AF_INET or both
 * AF_INET6). -ENOENT when there is none. */
int sockdiag_lookup(const struct sockaddr_storage *src, const struct sockaddr_storage *dst,
		    struct mw_sockinfo *ret);

/* The TCP listener on loopback (127.0.0.1 or ::1, per family) port. -ENOENT if none. */
int sockdiag_listener(int family, uint16_t port, struct mw_sockinfo *ret);
