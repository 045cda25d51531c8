/* sockdiag.c: see sockdiag.h. */
#include "sockdiag.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>

#include "util.h"

#define SOCKDIAG_TIMEOUT_MS 1000
#define SOCKDIAG_BUF 16384

struct diag_req {
	struct nlmsghdr nlh;
	struct inet_diag_req_v2 r;
};

static void fill_sockid(struct inet_diag_sockid *id, const struct sockaddr_storage *src,
			const struct sockaddr_storage *dst)
{
	if (src->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)src, *d = (const void *)dst;

		id->idiag_sport = s->sin_port;
		id->idiag_dport = d ? d->sin_port : 0;
		memcpy(id->idiag_src, &s->sin_addr, 4);
		if (d)
			memcpy(id->idiag_dst, &d->sin_addr, 4);
	} else {
		const struct sockaddr_in6 *s = (const void *)src, *d = (const void *)dst;

		id->idiag_sport = s->sin6_port;
		id->idiag_dport = d ? d->sin6_port : 0;
		memcpy(id->idiag_src, &s->sin6_addr, 16);
		if (d)
			memcpy(id->idiag_dst, &d->sin6_addr, 16);
	}
	id->idiag_cookie[0] = id->idiag_cookie[1] = INET_DIAG_NOCOOKIE;
}

static void parse_msg(const struct nlmsghdr *h, struct mw_sockinfo *ret)
{
	const struct inet_diag_msg *m = NLMSG_DATA(h);
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*m));
	const struct rtattr *a = (const struct rtattr *)(m + 1);

	memset(ret, 0, sizeof(*ret));
	ret->uid = m->idiag_uid;
	ret->inode = m->idiag_inode;
	ret->state = m->idiag_state;
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == INET_DIAG_CGROUP_ID && RTA_PAYLOAD(a) >= (int)sizeof(uint64_t))
			memcpy(&ret->cgroup_id, RTA_DATA(a), sizeof(uint64_t));
}

/* Send req and take the first answer for the wanted local address (a dump filters here). */
static int diag_query(struct diag_req *req, const struct inet_diag_sockid *want, bool dump,
		      struct mw_sockinfo *ret)
{
	_cleanup_free_ char *buf = malloc(SOCKDIAG_BUF);
	_cleanup_close_ int fd = -1;
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	int found = -ENOENT;

	if (!buf)
		return -ENOMEM;
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	if (sendto(fd, req, req->nlh.nlmsg_len, 0, (struct sockaddr *)&nl, sizeof(nl)) < 0)
		return -errno;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, SOCKDIAG_TIMEOUT_MS) <= 0)
			return -ETIMEDOUT;
		n = recv(fd, buf, SOCKDIAG_BUF, 0);
		if (n < 0)
			return -errno;
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			const struct inet_diag_msg *m;

			if (h->nlmsg_type == NLMSG_DONE)
				return found;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				return e->error ? e->error : found;
			}
			if (!dump) { /* the kernel matched the exact 4-tuple */
				parse_msg(h, ret);
				return 0;
			}
			m = NLMSG_DATA(h);
			if (found == 0 || m->id.idiag_sport != want->idiag_sport ||
			    memcmp(m->id.idiag_src, want->idiag_src, sizeof(want->idiag_src)) != 0)
				continue;
			parse_msg(h, ret);
			found = 0;
		}
	}
}

int sockdiag_lookup(const struct sockaddr_storage *src, const struct sockaddr_storage *dst,
		    struct mw_sockinfo *ret)
{
	struct diag_req req = {
		.nlh = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST },
		.r = { .sdiag_family = (uint8_t)src->ss_family, .sdiag_protocol = IPPROTO_TCP,
		       .idiag_states = ~0U },
	};

	if (src->ss_family != dst->ss_family ||
	    (src->ss_family != AF_INET && src->ss_family != AF_INET6))
		return -EAFNOSUPPORT;
	fill_sockid(&req.r.id, src, dst);
	return diag_query(&req, &req.r.id, false, ret);
}

int sockdiag_listener(int family, uint16_t port, struct mw_sockinfo *ret)
{
	struct diag_req req = {
		.nlh = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.r = { .sdiag_family = (uint8_t)family, .sdiag_protocol = IPPROTO_TCP,
		       .idiag_states = 1U << TCP_LISTEN },
	};
	struct sockaddr_storage ss = {};

	if (family == AF_INET) {
		struct sockaddr_in *sin = (void *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin->sin_port = htons(port);
	} else {
		struct sockaddr_in6 *sin6 = (void *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		sin6->sin6_port = htons(port);
	}
	fill_sockid(&req.r.id, &ss, NULL);
	return diag_query(&req, &req.r.id, true, ret);
}
