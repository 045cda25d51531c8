// SPDX-License-Identifier: GPL-2.0
/* capture.bpf.c: sends the sockets of enrolled cgroups to mcpwardend.
 *
 * On the enrolled cgroups: connect4/6 rewrite captured destinations to the agent's listener
 * and keep the origin in SK_STORAGE (or refuse, fail closed, when no agent serves);
 * sockops keys the origin by 4-tuple when the connection starts; getpeername4/6 show the
 * gateway the peer it asked for; bind4/6 move listeners of inbound ports to loopback.
 * On the agent's own cgroup: getsockopt answers SO_ORIGINAL_DST. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "mcpwarden/abi.h"
#include "maps.h"
#include "flowkey.h"

#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define IPPROTO_TCP 6
#define ECONNREFUSED 111

char LICENSE[] SEC("license") = "GPL";

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&mw_stats, &idx);

	if (v)
		*v += 1;
}

static __always_inline struct mw_settings *settings_get(void)
{
	__u32 zero = 0;
	struct mw_settings *s = bpf_map_lookup_elem(&mw_settings, &zero);

	if (!s || s->abi_version != MW_ABI_VERSION)
		return NULL;
	return s;
}

static __always_inline bool addr_is_v4mapped(const __u8 a[16])
{
	__u64 hi;
	__u32 mid;

	__builtin_memcpy(&hi, a, 8);
	__builtin_memcpy(&mid, a + 8, 4);
	return hi == 0 && mid == bpf_htonl(0x0000ffff);
}

static __always_inline __u32 addr_word(const __u8 a[16], int i)
{
	__u32 w;

	__builtin_memcpy(&w, a + 4 * i, 4);
	return w;
}

/* Does addr fall in rule's prefix?  Compared word by word in network order. */
static __always_inline bool prefix_match(const __u8 addr[16], const struct mw_capture_entry *r)
{
	int left = r->prefixlen;

	for (int i = 0; i < 4; i++) {
		__u32 mask;

		if (left <= 0)
			return true;
		mask = left >= 32 ? 0xffffffffU : ~(0xffffffffU >> left);
		if ((bpf_ntohl(addr_word(addr, i)) & mask) != (bpf_ntohl(addr_word(r->addr, i)) & mask))
			return false;
		left -= 32;
	}
	return true;
}

static __always_inline int rules_match(const struct mw_settings *s, const __u8 addr[16], __u16 port)
{
	__u32 sel = *(volatile const __u32 *)&s->rules_sel; /* read once: bank and count agree */
	__u32 base = (sel >> 16) ? MW_CAPTURE_RULES_MAX : 0, n = sel & 0xffff;

	for (__u32 i = 0; i < MW_CAPTURE_RULES_MAX; i++) {
		struct mw_capture_entry *r;
		__u32 key = base + i;

		if (i >= n)
			break;
		r = bpf_map_lookup_elem(&mw_rules, &key);
		if (!r)
			break;
		if (port < r->port_lo || port > r->port_hi)
			continue;
		if (prefix_match(addr, r))
			return r->action;
	}
	return MW_RULE_NONE;
}

/* Is an agent of this generation listening on its address in the caller's netns?  Its
 * listening socket carries a mark only the agent can set, so a squatter does not count. */
static __always_inline bool agent_alive(struct bpf_sock_addr *ctx, const struct mw_settings *s,
					bool v4)
{
	struct bpf_sock_tuple t = {};
	struct mw_listener *l;
	struct bpf_sock *sk;
	bool ok;

	if (s->state != MW_AGENT_SERVING)
		return false;
	if (v4) {
		if (!s->port4)
			return false;
		t.ipv4.daddr = addr_word(s->listen4, 3);
		t.ipv4.dport = bpf_htons(s->port4);
		sk = bpf_sk_lookup_tcp(ctx, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	} else {
		if (!s->port6)
			return false;
		__builtin_memcpy(t.ipv6.daddr, s->listen6, 16);
		t.ipv6.dport = bpf_htons(s->port6);
		sk = bpf_sk_lookup_tcp(ctx, &t, sizeof(t.ipv6), BPF_F_CURRENT_NETNS, 0);
	}
	if (!sk)
		return false;
	l = bpf_sk_storage_get(&mw_listeners, sk, 0, 0);
	ok = l && l->magic == MW_LISTENER_MAGIC && l->generation == s->generation;
	bpf_sk_release(sk);
	return ok;
}

enum verdict {
	V_PASS = 0,	/* leave the connect alone */
	V_REFUSE,	/* fail closed */
	V_TO_AGENT4,	/* rewrite to the agent's IPv4 listener */
	V_TO_AGENT6,	/* rewrite to the agent's IPv6 listener */
};

/* The decision shared by connect4 and connect6; the ctx writes stay in the callers. */
static __always_inline enum verdict connect_decide(struct bpf_sock_addr *ctx, const __u8 dst[16],
						   __u16 port, __u16 family, bool sock6)
{
	struct mw_settings *s;
	struct mw_origin *o;
	__u64 id;
	bool dst_v4, alive;
	int action;

	if (ctx->type != SOCK_STREAM || ctx->protocol != IPPROTO_TCP)
		return V_PASS;
	s = settings_get();
	if (!s)
		return V_REFUSE; /* attached without settings of this ABI: nothing is known */
	stat_inc(MW_STAT_CONNECT_SEEN);
	/* the agent (and its helper) live in their own cgroup, never enrolled; a pid test
	 * would outlive the agent and could match a later process */
	if (s->agent_cgroup_id && bpf_get_current_cgroup_id() == s->agent_cgroup_id)
		return V_PASS;

	action = rules_match(s, dst, port);
	if (action != MW_RULE_CAPTURE) {
		if (action == MW_RULE_EXCLUDE)
			stat_inc(MW_STAT_EXCLUDED);
		return V_PASS;
	}
	dst_v4 = addr_is_v4mapped(dst);
	/* a connect straight to the agent is not a flow to capture */
	if (dst_v4 && port == s->port4 && addr_word(dst, 3) == addr_word(s->listen4, 3))
		return V_PASS;

	o = bpf_sk_storage_get(&mw_origins, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!o) {
		/* no room for the origin (socket option memory can be exhausted by the caller
		 * itself): never a way around capture */
		stat_inc(s->fail_open ? MW_STAT_PASSED_OPEN : MW_STAT_REFUSED);
		return s->fail_open ? V_PASS : V_REFUSE;
	}
	__builtin_memcpy(o->dst, dst, 16);
	o->dst_port = port;
	o->family = family;
	id = bpf_get_current_pid_tgid();
	o->pid = (__u32)id;
	o->tgid = id >> 32;
	id = bpf_get_current_uid_gid();
	o->uid = (__u32)id;
	o->gid = id >> 32;
	o->cgroup_id = bpf_get_current_cgroup_id();
	o->netns_cookie = bpf_get_netns_cookie(ctx);
	o->time_ns = bpf_ktime_get_ns();
	bpf_get_current_comm(o->comm, sizeof(o->comm));
	o->flags = sock6 ? MW_ORIGIN_V6_SOCKET : 0;

	alive = agent_alive(ctx, s, dst_v4);
	if (!alive) {
		if (s->fail_open) {
			o->flags |= MW_ORIGIN_PASSED;
			stat_inc(MW_STAT_PASSED_OPEN);
			return V_PASS;
		}
		o->flags |= MW_ORIGIN_REFUSED;
		stat_inc(MW_STAT_REFUSED);
		return V_REFUSE;
	}
	o->flags |= MW_ORIGIN_CAPTURED;
	stat_inc(MW_STAT_CAPTURED);
	return dst_v4 ? V_TO_AGENT4 : V_TO_AGENT6;
}

SEC("cgroup/connect4")
int mw_connect4(struct bpf_sock_addr *ctx)
{
	struct mw_settings *s;
	__u8 dst[16];
	enum verdict v;

	key_addr4(dst, ctx->user_ip4);
	v = connect_decide(ctx, dst, bpf_ntohs(ctx->user_port), AF_INET, false);
	if (v == V_REFUSE) {
		bpf_set_retval(-ECONNREFUSED);
		return 0;
	}
	if (v != V_TO_AGENT4)
		return 1;
	s = settings_get();
	if (!s)
		return 1;
	ctx->user_ip4 = addr_word(s->listen4, 3);
	ctx->user_port = bpf_htons(s->port4);
	return 1;
}

SEC("cgroup/connect6")
int mw_connect6(struct bpf_sock_addr *ctx)
{
	struct mw_settings *s;
	__u8 dst[16];
	enum verdict v;
	__u32 w3;

	key_addr6(dst, ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3]);
	v = connect_decide(ctx, dst, bpf_ntohs(ctx->user_port), AF_INET6, true);
	if (v == V_REFUSE) {
		bpf_set_retval(-ECONNREFUSED);
		return 0;
	}
	if (v == V_PASS)
		return 1;
	s = settings_get();
	if (!s)
		return 1;
	if (v == V_TO_AGENT4) {
		/* a v4-mapped destination goes to the v4 listener, still v4-mapped */
		w3 = addr_word(s->listen4, 3);
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = bpf_htonl(0x0000ffff);
		ctx->user_ip6[3] = w3;
		ctx->user_port = bpf_htons(s->port4);
	} else {
		ctx->user_ip6[0] = addr_word(s->listen6, 0);
		ctx->user_ip6[1] = addr_word(s->listen6, 1);
		ctx->user_ip6[2] = addr_word(s->listen6, 2);
		ctx->user_ip6[3] = addr_word(s->listen6, 3);
		ctx->user_port = bpf_htons(s->port6);
	}
	return 1;
}

/* When a captured connection starts, key its origin by the 4-tuple the agent will see;
 * once established, offer the socket to the bypass when it is on. */
SEC("sockops")
int mw_sockops(struct bpf_sock_ops *ctx)
{
	struct mw_flow_key key = {};
	struct mw_settings *s;
	struct mw_origin *o;
	struct bpf_sock *sk;
	__u32 op = ctx->op;

	if (op != BPF_SOCK_OPS_TCP_CONNECT_CB && op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		return 1;
	sk = ctx->sk;
	if (!sk)
		return 1;
	o = bpf_sk_storage_get(&mw_origins, sk, 0, 0);
	if (!o || !(o->flags & MW_ORIGIN_CAPTURED))
		return 1;
	KEY_FROM_CTX(&key, ctx);
	key.netns_cookie = bpf_get_netns_cookie(ctx);
	if (op == BPF_SOCK_OPS_TCP_CONNECT_CB) {
		if (bpf_map_update_elem(&mw_flows, &key, o, BPF_ANY) == 0)
			stat_inc(MW_STAT_FLOW_KEYED);
		return 1;
	}
	s = settings_get();
	if (s && s->bypass && bpf_sock_hash_update(ctx, &mw_sockhash, &key, BPF_NOEXIST) == 0)
		stat_inc(MW_STAT_SPLICED);
	return 1;
}

/* The agent asks where its accepted socket was going: SO_ORIGINAL_DST, v4 and v6. */
SEC("cgroup/getsockopt")
int mw_getsockopt(struct bpf_sockopt *ctx)
{
	struct mw_flow_key key = {};
	struct mw_origin *o;
	struct bpf_sock *sk;
	int level = ctx->level;

	if (ctx->optname != MW_SO_ORIGINAL_DST || (level != MW_SOL_IP && level != MW_SOL_IPV6))
		return 1;
	sk = ctx->sk;
	if (!sk)
		return 1;
	/* the accepted socket's peer is the gateway's socket: the key's source */
	if (sk->family == AF_INET) {
		key_addr4(key.saddr, sk->dst_ip4);
		key_addr4(key.daddr, sk->src_ip4);
	} else {
		key_addr6(key.saddr, sk->dst_ip6[0], sk->dst_ip6[1], sk->dst_ip6[2], sk->dst_ip6[3]);
		key_addr6(key.daddr, sk->src_ip6[0], sk->src_ip6[1], sk->src_ip6[2], sk->src_ip6[3]);
	}
	key.sport = bpf_ntohs(sk->dst_port);
	key.dport = (__u16)sk->src_port;
	key.netns_cookie = bpf_get_netns_cookie(ctx);
	o = bpf_map_lookup_elem(&mw_flows, &key);
	if (!o)
		return 1;

	if (level == MW_SOL_IP) {
		struct sockaddr_in *sin = ctx->optval;

		if (!addr_is_v4mapped(o->dst) || (void *)(sin + 1) > ctx->optval_end)
			return 1;
		sin->sin_family = AF_INET;
		sin->sin_port = bpf_htons(o->dst_port);
		sin->sin_addr.s_addr = addr_word(o->dst, 3);
		__builtin_memset(sin->__pad, 0, sizeof(sin->__pad));
		ctx->optlen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = ctx->optval;

		if ((void *)(sin6 + 1) > ctx->optval_end)
			return 1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = bpf_htons(o->dst_port);
		sin6->sin6_flowinfo = 0;
		__builtin_memcpy(&sin6->sin6_addr, o->dst, 16);
		sin6->sin6_scope_id = 0;
		ctx->optlen = sizeof(*sin6);
	}
	ctx->retval = 0;
	stat_inc(MW_STAT_ORIGDST_ANSWERED);
	return 1;
}

static __always_inline struct mw_origin *captured_origin(struct bpf_sock_addr *ctx)
{
	struct mw_origin *o = bpf_sk_storage_get(&mw_origins, ctx->sk, 0, 0);

	if (!o || !(o->flags & MW_ORIGIN_CAPTURED))
		return NULL;
	stat_inc(MW_STAT_PEERNAME_REWRITTEN);
	return o;
}

/* The gateway sees the peer it asked for, not the agent. */
SEC("cgroup/getpeername4")
int mw_getpeername4(struct bpf_sock_addr *ctx)
{
	struct mw_origin *o = captured_origin(ctx);

	if (!o)
		return 1;
	ctx->user_ip4 = addr_word(o->dst, 3);
	ctx->user_port = bpf_htons(o->dst_port);
	return 1;
}

SEC("cgroup/getpeername6")
int mw_getpeername6(struct bpf_sock_addr *ctx)
{
	struct mw_origin *o = captured_origin(ctx);

	if (!o)
		return 1;
	ctx->user_ip6[0] = addr_word(o->dst, 0);
	ctx->user_ip6[1] = addr_word(o->dst, 1);
	ctx->user_ip6[2] = addr_word(o->dst, 2);
	ctx->user_ip6[3] = addr_word(o->dst, 3);
	ctx->user_port = bpf_htons(o->dst_port);
	return 1;
}

/* Inbound takeover: a listener on a captured port is moved to loopback:backend_port. */
static __always_inline struct mw_inbound *bind_decide(struct bpf_sock_addr *ctx, __u16 bit)
{
	struct mw_settings *s = settings_get();
	struct mw_inbound *in;
	__u32 port;

	if (!s || ctx->type != SOCK_STREAM || ctx->protocol != IPPROTO_TCP)
		return NULL;
	if (s->agent_cgroup_id && bpf_get_current_cgroup_id() == s->agent_cgroup_id)
		return NULL;
	port = bpf_ntohs(ctx->user_port);
	in = bpf_map_lookup_elem(&mw_inbound, &port);
	if (!in)
		return NULL;
	in->bound |= bit; /* racing binds only ever set bits */
	in->cgroup_id = bpf_get_current_cgroup_id();
	stat_inc(MW_STAT_BIND_MOVED);
	return in;
}

SEC("cgroup/bind4")
int mw_bind4(struct bpf_sock_addr *ctx)
{
	struct mw_inbound *in = bind_decide(ctx, MW_INBOUND_BOUND4);

	if (!in)
		return 1;
	ctx->user_ip4 = bpf_htonl(0x7f000001);
	ctx->user_port = bpf_htons(in->backend_port);
	return 1;
}

SEC("cgroup/bind6")
int mw_bind6(struct bpf_sock_addr *ctx)
{
	struct mw_inbound *in = bind_decide(ctx, MW_INBOUND_BOUND6);

	if (!in)
		return 1;
	ctx->user_ip6[0] = 0;
	ctx->user_ip6[1] = 0;
	ctx->user_ip6[2] = 0;
	ctx->user_ip6[3] = bpf_htonl(1);
	ctx->user_port = bpf_htons(in->backend_port);
	return 1;
}
