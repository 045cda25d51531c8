/* config.h: the agent's configuration, parsed from JSON (DESIGN.md "The config's shape").
 *
 * Owns: struct mw_config and everything it points to.  Promises: config_load() either
 * returns a complete, validated config or fills a diagnostic naming file, line:column and
 * the key; a missing file means built-in defaults.  Pure: no logging, no side effects
 * beyond reading the file(s).  Keys this version does not act on yet (identity, policy,
 * masking, approvals, journal, upstreams) are kept as JSON for the modules to come, but
 * their top-level type is checked.  Unknown top-level keys are an error (a typo must not
 * silently disable a protection). */
#pragma once

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "util.h"

#define MW_CONFIG_PATH_DEFAULT "/etc/mcpwarden/mcpwarden.json"
#define MW_RUNTIME_DIR_DEFAULT "/run/mcpwarden"
#define MW_STATE_DIR_DEFAULT "/var/lib/mcpwarden"
#define MW_BPF_PIN_DIR_DEFAULT "/sys/fs/bpf/mcpwarden"
#define MW_LISTEN_PORT_DEFAULT 15001
#define MW_USER_DEFAULT "mcpwarden" /* absent on the host: nobody (65534), with a warning */

/* Limits with their defaults (overridable under "limits"). */
#define MW_MAX_FLOWS_DEFAULT 4096	      /* concurrent flows; beyond: refused */
#define MW_CONNECT_TIMEOUT_DEFAULT 10000000ULL /* usec, upstream connect */
#define MW_IDLE_TIMEOUT_DEFAULT 3600000000ULL  /* usec without a byte either way */
#define MW_DRAIN_TIMEOUT_DEFAULT 30000000ULL   /* usec SIGTERM waits for flows */
#define MW_RELAY_BUFFER_DEFAULT (1024 * 1024)  /* most bytes buffered per direction */
#define MW_CONFIG_MAX_BYTES (4 * 1024 * 1024)  /* a config file larger than this is refused */

/* Bounds on the limits themselves. */
#define MW_MAX_FLOWS_MAX (1024 * 1024)
#define MW_TIMEOUT_MAX_USEC (366ULL * 86400ULL * 1000000ULL) /* any duration: at most 366d */
#define MW_RELAY_BUFFER_MIN (4 * 1024)
#define MW_RELAY_BUFFER_MAX (64 * 1024 * 1024)

#define MW_MAX_LISTEN 8
#define MW_MAX_ENROLL 64
#define MW_MAX_CAPTURE_RULES 64 /* must not exceed MW_CAPTURE_RULES_MAX in abi.h */
#define MW_MAX_INBOUND 16

enum mw_fail_mode {
	MW_FAIL_CLOSED = 0,
	MW_FAIL_OPEN = 1,
};

enum mw_enroll_kind {
	MW_ENROLL_CGROUP = 0, /* a cgroup2 path, absolute or relative to the cgroup2 mount */
	MW_ENROLL_UNIT = 1,   /* a systemd unit or slice name, resolved over D-Bus */
};

struct mw_enroll_spec {
	enum mw_enroll_kind kind;
	char value[4096];
};

/* One address with its port, as listen addresses are written: "127.0.0.1:15001",
 * "[::1]:15001". */
struct mw_sockaddr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* One CIDR, normalised to 16 bytes (IPv4 as ::ffff:a.b.c.d, prefix counted on 128 bits). */
struct mw_cidr {
	uint8_t addr[16];
	uint8_t prefixlen;
};

struct mw_port_range {
	uint16_t lo, hi;
};

/* capture.outbound[i]: { "cidrs": [...], "ports": [443, "8000-8100"], "exclude": false }.
 * Missing cidrs mean every address; missing ports mean every port. */
struct mw_capture_rule {
	struct mw_cidr cidrs[16];
	unsigned n_cidrs;
	struct mw_port_range ports[16];
	unsigned n_ports;
	bool exclude;
};

/* capture.inbound[i]: { "port": 8080, "backend_port": 18080 }: the gateway's listener on
 * port is moved to loopback:backend_port (default port + 10000) and the agent serves port. */
struct mw_inbound_rule {
	uint16_t port;
	uint16_t backend_port;
};

struct mw_config {
	char path[4096]; /* the file it came from, "" for built-in defaults */
	char runtime_dir[4096];
	char state_dir[4096];
	char bpf_pin_dir[4096];
	char control_socket[4096]; /* default runtime_dir/control.sock */
	char control_group[64];	   /* "" = root only */
	char user[64];		   /* who the daemon becomes once set up */
	struct mw_sockaddr listen[MW_MAX_LISTEN];
	unsigned n_listen;
	enum mw_fail_mode fail;
	struct mw_enroll_spec enroll[MW_MAX_ENROLL];
	unsigned n_enroll;
	struct mw_capture_rule outbound[MW_MAX_CAPTURE_RULES];
	unsigned n_outbound;
	struct mw_inbound_rule inbound[MW_MAX_INBOUND];
	unsigned n_inbound;
	bool bypass; /* "bypass": sockmap splice for flows that need no inspection */
	struct {
		uint32_t max_flows;
		uint64_t connect_timeout_usec;
		uint64_t idle_timeout_usec;
		uint64_t drain_timeout_usec;
		uint32_t relay_buffer;
	} limits;
	json_t *root; /* the whole parsed document, for later modules; owned */
};

/* Load path (NULL = MW_CONFIG_PATH_DEFAULT). A path that does not exist yields the
 * defaults only when it is the default path or allow_missing is set; an explicitly named
 * missing file is an error. */
int config_load(const char *path, bool allow_missing, struct mw_config **ret_config,
		struct mw_diag *ret_diag);
/* Parse from memory; name is used in diagnostics. */
int config_parse(const char *name, const char *text, size_t len, struct mw_config **ret_config,
		 struct mw_diag *ret_diag);
void config_defaults(struct mw_config *c);
struct mw_config *config_free(struct mw_config *c);
static inline void config_freep(struct mw_config **c)
{
	config_free(*c);
}

/* Helpers the rest of the agent uses for printing. */
#define MW_SOCKADDR_STR_MAX (INET6_ADDRSTRLEN + 8) /* "[" addr "]:" port NUL */
/* "127.0.0.1:15001", "[::1]:15001" (v4-mapped: "[::ffff:1.2.3.4]:15001"); always
 * NUL-terminated, truncated if size is too small. Returns buf. */
const char *mw_sockaddr_str(const struct sockaddr *sa, char *buf, size_t size);
/* The same notation back; the port must be 1..65535. -EINVAL for a malformed string, -ERANGE
 * for a port out of range. */
int mw_sockaddr_parse(const char *s, struct mw_sockaddr *ret);

#define MW_CIDR_STR_MAX (INET6_ADDRSTRLEN + 4)
/* "10.0.0.0/8", "2001:db8::/32", "::ffff:10.0.0.0/104" (same as 10.0.0.0/8); a bare address
 * is a host route.  -EINVAL: malformed, -ERANGE: prefix longer than the family's, -EDOM: bits
 * set below the prefix ("10.0.0.1/8"). */
int mw_cidr_parse(const char *s, struct mw_cidr *ret);
/* An address as the capture programs hold it: 16 bytes, IPv4 v4-mapped; port host order. */
void mw_addr16(const struct sockaddr_storage *ss, uint8_t out[16], uint16_t *ret_port);
/* A decimal port 1..65535 of exactly n bytes. */
int mw_port_parse(const char *s, size_t n, uint16_t *ret);
/* The same, reporting host bits set below the prefix instead of failing on them. */
int mw_cidr_parse_bits(const char *s, struct mw_cidr *ret, bool *ret_host_bits);
/* IPv4 (v4-mapped with prefixlen >= 96) prints as "a.b.c.d/n", the rest as IPv6. Returns buf. */
const char *mw_cidr_str(const struct mw_cidr *cidr, char *buf, size_t size);
