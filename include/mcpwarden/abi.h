/* abi.h: the one definition of every struct and constant that bpf/ and agent/ share.
 *
 * Fixed-width fields, explicit padding, sizes asserted.  Addresses are always 16 bytes:
 * IPv4 is stored IPv4-mapped (::ffff:a.b.c.d) so one key shape serves both families and a
 * v4-mapped connect6 matches the v4 rules.  Ports are host order unless a name says _be.
 * Bump MW_ABI_VERSION when a layout changes: pinned maps of another version are not reused. */
#ifndef MCPWARDEN_ABI_H
#define MCPWARDEN_ABI_H

#ifdef __MW_BPF__
/* vmlinux.h supplies __u8 .. __u64 */
#else
#include <linux/types.h>
#endif

#define MW_ABI_VERSION 1

#define MW_CAPTURE_RULES_MAX 64
#define MW_RULES_SEL(bank, n) (((__u32)(bank) << 16) | (__u32)(n))
#define MW_INBOUND_MAX 64
#define MW_FLOWS_MAX 65536
#define MW_COMM_LEN 16

/* getsockopt(fd, SOL_IP, SO_ORIGINAL_DST) / (SOL_IPV6, IP6T_SO_ORIGINAL_DST): both 80. */
#define MW_SO_ORIGINAL_DST 80
#define MW_SOL_IP 0
#define MW_SOL_IPV6 41

/* mw_settings.state */
enum mw_agent_state {
	MW_AGENT_STOPPED = 0,  /* no agent: fail mode applies */
	MW_AGENT_SERVING = 1,  /* capture to the agent's listeners */
	MW_AGENT_DRAINING = 2, /* shutting down: new connects get the fail mode */
};

/* mw_capture_rule.action */
enum mw_rule_action {
	MW_RULE_NONE = 0,
	MW_RULE_CAPTURE = 1,
	MW_RULE_EXCLUDE = 2,
};

/* mw_origin.flags */
#define MW_ORIGIN_CAPTURED (1U << 0) /* destination rewritten to the agent */
#define MW_ORIGIN_REFUSED (1U << 1)  /* refused: no agent and fail closed */
#define MW_ORIGIN_PASSED (1U << 2)   /* no agent, fail open: went direct */
#define MW_ORIGIN_V6_SOCKET (1U << 3) /* the gateway's socket is AF_INET6 */

/* mw_listener.kind, the mark the agent puts on its own listening sockets (SK_STORAGE,
 * set from userspace by socket fd) so a squatter on the port is never taken for it. */
#define MW_LISTENER_MAGIC 0x6d77616cU /* "mwal" */

/* The agent's settings, one entry (key 0) of mw_settings; written by the agent at run time. */
struct mw_settings {
	__u32 abi_version;
	__u32 state;	 /* enum mw_agent_state */
	__u32 fail_open; /* 0 = closed (refuse), 1 = open (go direct) */
	__u32 rules_sel; /* bank << 16 | count: which half of mw_rules is live, and how much */
	__u8 listen4[16]; /* the agent's IPv4 listener, v4-mapped; port 0 = none */
	__u8 listen6[16]; /* the agent's IPv6 listener; port 0 = none */
	__u16 port4;
	__u16 port6;
	__u32 agent_tgid;      /* informational: the programs exempt the agent by cgroup */
	__u64 agent_cgroup_id; /* the agent and its helper: never captured */
	__u32 bypass;	       /* sockmap splice for uninspected flows */
	__u32 generation;      /* bumped by each agent start; matches mw_listener.generation */
};

/* One capture rule: CIDR (on 128 bits) x port range.  Rules are ordered; first match wins.
 * mw_rules holds two banks of MW_CAPTURE_RULES_MAX: a new rule set is written to the idle
 * bank and made live by one aligned word (mw_settings.rules_sel), so a connect never sees
 * half of each. */
struct mw_capture_entry {
	__u8 addr[16];
	__u8 prefixlen; /* 0..128; v4 CIDRs are 96 + n */
	__u8 action;	/* enum mw_rule_action */
	__u16 port_lo;
	__u16 port_hi;
	__u16 _pad;
};

/* Where a captured socket wanted to go, and who asked.  Kept in SK_STORAGE on the
 * gateway's socket from connect() on, and copied into mw_flows by 4-tuple when the
 * connection starts so the agent can find it from its accepted socket. */
struct mw_origin {
	__u8 dst[16];	   /* original destination, v4-mapped for IPv4 */
	__u16 dst_port;	   /* host order */
	__u16 family;	   /* AF_INET or AF_INET6 as the gateway saw it */
	__u32 flags;	   /* MW_ORIGIN_* */
	__u32 pid;	   /* thread id */
	__u32 tgid;	   /* process id */
	__u32 uid;
	__u32 gid;
	__u64 cgroup_id;
	__u64 netns_cookie;
	__u64 time_ns; /* bpf_ktime_get_ns() at connect: CLOCK_MONOTONIC */
	char comm[MW_COMM_LEN];
};

/* A flow as seen from the gateway's side: its local address, the agent's address. */
struct mw_flow_key {
	__u64 netns_cookie;
	__u8 saddr[16]; /* the gateway's socket */
	__u8 daddr[16]; /* the agent's listener */
	__u16 sport;
	__u16 dport;
	__u32 _pad;
};

/* capture.inbound: key is the public port (__u32, host order). */
struct mw_inbound {
	__u16 backend_port; /* where the gateway's listener is moved (loopback) */
	__u16 bound;	    /* MW_INBOUND_BOUND4 | MW_INBOUND_BOUND6 once the gateway bound */
	__u32 _pad;
	__u64 cgroup_id; /* the cgroup whose bind was moved */
};
#define MW_INBOUND_BOUND4 1
#define MW_INBOUND_BOUND6 2

struct mw_listener {
	__u32 magic; /* MW_LISTENER_MAGIC */
	__u32 generation;
};

/* Per-CPU counters, index = enum mw_stat. */
enum mw_stat {
	MW_STAT_CONNECT_SEEN = 0,
	MW_STAT_CAPTURED,
	MW_STAT_REFUSED,
	MW_STAT_PASSED_OPEN,
	MW_STAT_EXCLUDED,
	MW_STAT_FLOW_KEYED,
	MW_STAT_ORIGDST_ANSWERED,
	MW_STAT_PEERNAME_REWRITTEN,
	MW_STAT_BIND_MOVED,
	MW_STAT_SPLICED,
	MW_STAT_MAX,
};

#ifndef __MW_BPF__
_Static_assert(sizeof(struct mw_settings) == 72, "mw_settings layout");
_Static_assert(sizeof(struct mw_capture_entry) == 24, "mw_capture_rule layout");
_Static_assert(sizeof(struct mw_origin) == 80, "mw_origin layout");
_Static_assert(sizeof(struct mw_flow_key) == 48, "mw_flow_key layout");
_Static_assert(sizeof(struct mw_inbound) == 16, "mw_inbound layout");
_Static_assert(sizeof(struct mw_listener) == 8, "mw_listener layout");
#endif

#endif /* MCPWARDEN_ABI_H */
