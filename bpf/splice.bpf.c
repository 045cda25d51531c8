// SPDX-License-Identifier: GPL-2.0
/* splice.bpf.c: the optional sockmap bypass of the gateway<->agent loopback hop.
 *
 * Off by default ("bypass": true turns it on).  The gateway's captured socket enters
 * mw_sockhash when it is established (capture.bpf.c's sockops); the agent's accepted end
 * enters it here (sockops on the agent's cgroup).  An sk_msg program on both hands each
 * message straight to the other end's receive queue, skipping the loopback TCP stack; the
 * agent still reads and writes every byte, so inspection and accounting are unchanged.
 * When the other end is not in the map the message takes the normal TCP path (SK_PASS). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "mcpwarden/abi.h"
#include "maps.h"
#include "flowkey.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline bool is_agent_listener(const struct mw_settings *s,
					      const struct bpf_sock_ops *ctx)
{
	__u32 port = ctx->local_port;

	if (ctx->family == 2)
		return s->port4 && port == s->port4;
	return s->port6 && port == s->port6;
}

SEC("sockops")
int mw_splice_sockops(struct bpf_sock_ops *ctx)
{
	struct mw_flow_key key = {};
	struct mw_settings *s;
	__u32 zero = 0;

	if (ctx->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	s = bpf_map_lookup_elem(&mw_settings, &zero);
	if (!s || s->abi_version != MW_ABI_VERSION || !s->bypass || !is_agent_listener(s, ctx))
		return 1;
	KEY_FROM_CTX(&key, ctx);
	key.netns_cookie = bpf_get_netns_cookie(ctx);
	bpf_sock_hash_update(ctx, &mw_sockhash, &key, BPF_NOEXIST);
	return 1;
}

SEC("sk_msg")
int mw_splice_msg(struct sk_msg_md *msg)
{
	struct mw_flow_key peer = {};

	KEY_OF_PEER(&peer, msg);
	peer.netns_cookie = bpf_get_netns_cookie(msg);
	bpf_msg_redirect_hash(msg, &mw_sockhash, &peer, BPF_F_INGRESS);
	return SK_PASS; /* redirected if the peer is there, else the normal path */
}
