/* flowkey.h: addresses as keys hold them (16 bytes, IPv4 v4-mapped), and keys for mw_flows
 * and mw_sockhash from sockops and sk_msg contexts.
 * In both, remote_port is network order in the upper 16 bits and local_port host order. */
#pragma once

static __always_inline void key_addr4(__u8 out[16], __u32 ip4_be)
{
	__builtin_memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	__builtin_memcpy(out + 12, &ip4_be, 4);
}

static __always_inline void key_addr6(__u8 out[16], __u32 w0, __u32 w1, __u32 w2, __u32 w3)
{
	__builtin_memcpy(out, &w0, 4);
	__builtin_memcpy(out + 4, &w1, 4);
	__builtin_memcpy(out + 8, &w2, 4);
	__builtin_memcpy(out + 12, &w3, 4);
}

/* A socket as it sees itself: saddr/sport local, daddr/dport remote. */
#define KEY_FROM_CTX(key, ctx)                                                                  \
	do {                                                                                    \
		if ((ctx)->family == 2) {                                                       \
			key_addr4((key)->saddr, (ctx)->local_ip4);                              \
			key_addr4((key)->daddr, (ctx)->remote_ip4);                             \
		} else {                                                                        \
			key_addr6((key)->saddr, (ctx)->local_ip6[0], (ctx)->local_ip6[1],       \
				  (ctx)->local_ip6[2], (ctx)->local_ip6[3]);                    \
			key_addr6((key)->daddr, (ctx)->remote_ip6[0], (ctx)->remote_ip6[1],     \
				  (ctx)->remote_ip6[2], (ctx)->remote_ip6[3]);                  \
		}                                                                               \
		(key)->sport = (__u16)(ctx)->local_port;                                        \
		(key)->dport = (__u16)bpf_ntohl((ctx)->remote_port);                            \
	} while (0)

/* The same connection as its other end sees itself. */
#define KEY_OF_PEER(key, ctx)                                                                   \
	do {                                                                                    \
		if ((ctx)->family == 2) {                                                       \
			key_addr4((key)->saddr, (ctx)->remote_ip4);                             \
			key_addr4((key)->daddr, (ctx)->local_ip4);                              \
		} else {                                                                        \
			key_addr6((key)->saddr, (ctx)->remote_ip6[0], (ctx)->remote_ip6[1],     \
				  (ctx)->remote_ip6[2], (ctx)->remote_ip6[3]);                  \
			key_addr6((key)->daddr, (ctx)->local_ip6[0], (ctx)->local_ip6[1],       \
				  (ctx)->local_ip6[2], (ctx)->local_ip6[3]);                    \
		}                                                                               \
		(key)->sport = (__u16)bpf_ntohl((ctx)->remote_port);                            \
		(key)->dport = (__u16)(ctx)->local_port;                                        \
	} while (0)
