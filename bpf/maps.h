/* maps.h: the capture programs' maps, pinned by name under the agent's bpf_pin_dir so they
 * outlive the agent (a restarted agent finds the same settings, rules and flows). */
#pragma once

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mw_settings);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mw_settings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * MW_CAPTURE_RULES_MAX);
	__type(key, __u32);
	__type(value, struct mw_capture_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mw_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MW_INBOUND_MAX);
	__type(key, __u32);
	__type(value, struct mw_inbound);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mw_inbound SEC(".maps");

/* The origin of each captured socket; dies with the socket. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mw_origin);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mw_origins SEC(".maps");

/* The agent marks its listening sockets here (from userspace, by fd). */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mw_listener);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mw_listeners SEC(".maps");

/* Origins by 4-tuple, from connect until the agent accepts (it deletes the entry); LRU so
 * that connections the agent never sees cannot fill it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MW_FLOWS_MAX);
	__type(key, struct mw_flow_key);
	__type(value, struct mw_origin);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mw_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MW_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mw_stats SEC(".maps");

/* The bypass (splice.bpf.c): both ends of each gateway<->agent loopback hop, keyed by
 * (netns, local, remote) as each socket sees itself, so an sk_msg program can hand a
 * message straight to the other end's receive queue. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, MW_FLOWS_MAX);
	__type(key, struct mw_flow_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mw_sockhash SEC(".maps");
