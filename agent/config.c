/* config.c: see config.h.  jansson parses; this file walks the tree it returns, and when a
 * value is wrong, jsonpos finds it again in the raw text so the diagnostic can name
 * file:line:column and the key. */
#include "config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "config_read.h"
#include "jsonpos.h"
#include "upstream.h"

#define CFG_UNIT_NAME_MAX 255 /* systemd's UNIT_NAME_MAX - 1 */

static const char control_sock_name[] = "/control.sock";

static uint16_t sockaddr_port(const struct mw_sockaddr *sa)
{
	if (sa->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&sa->ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)&sa->ss)->sin6_port);
}

static bool sockaddr_equal(const struct mw_sockaddr *a, const struct mw_sockaddr *b)
{
	return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

/* --- typed values ------------------------------------------------------------------------- */

/* --- sections ----------------------------------------------------------------------------- */

static int parse_runtime_dir(struct cfg_ctx *x, const struct cfg_path *p, json_t *v,
			     struct mw_config *c)
{
	return cfg_abs_path(x, p, v, c->runtime_dir, sizeof(c->runtime_dir));
}

static int parse_state_dir(struct cfg_ctx *x, const struct cfg_path *p, json_t *v,
			   struct mw_config *c)
{
	return cfg_abs_path(x, p, v, c->state_dir, sizeof(c->state_dir));
}

static int parse_bpf_pin_dir(struct cfg_ctx *x, const struct cfg_path *p, json_t *v,
			     struct mw_config *c)
{
	return cfg_abs_path(x, p, v, c->bpf_pin_dir, sizeof(c->bpf_pin_dir));
}

static int parse_listen(struct cfg_ctx *x, const struct cfg_path *p, json_t *v, struct mw_config *c)
{
	json_t *e;
	size_t i;
	int r;

	r = cfg_array(x, p, v, 1, MW_MAX_LISTEN, "listen addresses");
	if (r < 0)
		return r;
	c->n_listen = 0;
	json_array_foreach(v, i, e) {
		struct cfg_path ep = PATH_INDEX(p, i);
		struct mw_sockaddr *sa = &c->listen[i];

		if (!json_is_string(e))
			return cfg_error(x, &ep, false,
					 "expected an address like \"127.0.0.1:15001\" or "
					 "\"[::1]:15001\", got %s",
					 GOT(e));
		r = mw_sockaddr_parse(json_string_value(e), sa);
		if (r == -ERANGE)
			return cfg_error(x, &ep, false, "port in %s is out of range 1..65535",
					 GOT(e));
		if (r < 0)
			return cfg_error(x, &ep, false,
					 "expected an address like \"127.0.0.1:15001\" or "
					 "\"[::1]:15001\", got %s",
					 GOT(e));
		for (size_t j = 0; j < i; j++)
			if (sockaddr_equal(&c->listen[j], sa))
				return cfg_error(x, &ep, false, "duplicate listen address %s",
						 GOT(e));
		c->n_listen = (unsigned)i + 1;
	}
	return 0;
}

static int parse_fail(struct cfg_ctx *x, const struct cfg_path *p, json_t *v, struct mw_config *c)
{
	const char *s = json_string_value(v);

	if (s && strcmp(s, "closed") == 0)
		c->fail = MW_FAIL_CLOSED;
	else if (s && strcmp(s, "open") == 0)
		c->fail = MW_FAIL_OPEN;
	else
		return cfg_error(x, p, false, "expected \"closed\" or \"open\", got %s", GOT(v));
	return 0;
}

static bool unit_name_valid(const char *s, bool allow_at)
{
	size_t n = strlen(s);
	const char *dot = strrchr(s, '.');

	if (n == 0 || n > CFG_UNIT_NAME_MAX || !dot || dot == s || dot[1] == '\0')
		return false;
	for (const char *c = s; *c; c++) {
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9'))
			continue;
		if (strchr(":-_.\\", *c) || (allow_at && *c == '@'))
			continue;
		return false;
	}
	return true;
}

static int parse_enroll_entry(struct cfg_ctx *x, const struct cfg_path *p, json_t *v,
			      struct mw_enroll_spec *spec)
{
	static const char expected[] = "'unit', 'slice', 'cgroup'";
	const char *k;
	json_t *e;
	bool seen = false;
	int r;

	if (!json_is_object(v) || json_object_size(v) == 0)
		return cfg_error(x, p, false,
				 "expected an object with one of %s, like {\"unit\": "
				 "\"mcp-gateway.service\"}, got %s",
				 expected, GOT(v));
	json_object_foreach(v, k, e) {
		struct cfg_path kp = PATH_KEY(p, k);
		const char *s = json_string_value(e);

		if (strcmp(k, "unit") != 0 && strcmp(k, "slice") != 0 && strcmp(k, "cgroup") != 0)
			return cfg_unknown_key(x, &kp, expected);
		if (seen)
			return cfg_error(x, &kp, true, "only one of %s per entry", expected);
		seen = true;

		if (strcmp(k, "cgroup") == 0) {
			r = cfg_abs_path(x, &kp, e, spec->value, sizeof(spec->value));
			if (r < 0)
				return r;
			if (strstr(spec->value, "/../") || strcmp(spec->value, "/..") == 0 ||
			    (strlen(spec->value) >= 3 &&
			     strcmp(spec->value + strlen(spec->value) - 3, "/..") == 0))
				return cfg_error(x, &kp, false,
						 "cgroup path must not contain '..', got %s",
						 GOT(e));
			spec->kind = MW_ENROLL_CGROUP;
		} else if (strcmp(k, "unit") == 0) {
			if (!s || !unit_name_valid(s, true))
				return cfg_error(x, &kp, false,
						 "expected a unit name like "
						 "\"mcp-gateway.service\", got %s",
						 GOT(e));
			snprintf(spec->value, sizeof(spec->value), "%s", s);
			spec->kind = MW_ENROLL_UNIT;
		} else {
			char name[CFG_UNIT_NAME_MAX + 8];
			size_t n = s ? strlen(s) : 0;

			/* "mcp" and "mcp.slice" name the same slice */
			if (s && n > 0 && n <= CFG_UNIT_NAME_MAX && !strchr(s, '.'))
				snprintf(name, sizeof(name), "%s.slice", s);
			else
				snprintf(name, sizeof(name), "%s", s ? s : "");
			n = strlen(name);
			if (!s || !unit_name_valid(name, false) || n < 7 ||
			    strcmp(name + n - 6, ".slice") != 0)
				return cfg_error(x, &kp, false,
						 "expected a slice name like \"mcp.slice\", got %s",
						 GOT(e));
			snprintf(spec->value, sizeof(spec->value), "%s", name);
			spec->kind = MW_ENROLL_UNIT;
		}
	}
	return 0;
}

static int parse_enroll(struct cfg_ctx *x, const struct cfg_path *p, json_t *v, struct mw_config *c)
{
	json_t *e;
	size_t i;
	int r;

	r = cfg_array(x, p, v, 0, MW_MAX_ENROLL, "enrollment entries");
	if (r < 0)
		return r;
	c->n_enroll = 0;
	json_array_foreach(v, i, e) {
		struct cfg_path ep = PATH_INDEX(p, i);

		r = parse_enroll_entry(x, &ep, e, &c->enroll[i]);
		if (r < 0)
			return r;
		c->n_enroll = (unsigned)i + 1;
	}
	return 0;
}

static int parse_cidrs(struct cfg_ctx *x, const struct cfg_path *p, json_t *v,
		       struct mw_capture_rule *rule)
{
	json_t *e;
	size_t i;
	int r;

	r = cfg_array(x, p, v, 1, ARRAY_SIZE(rule->cidrs), "CIDRs");
	if (r < 0)
		return r;
	json_array_foreach(v, i, e) {
		struct cfg_path ep = PATH_INDEX(p, i);
		char net[MW_CIDR_STR_MAX];
		bool host_bits;

		if (!json_is_string(e))
			return cfg_error(
				x, &ep, false,
				"expected a CIDR like \"10.0.0.0/8\" or \"fd00::/8\", got %s",
				GOT(e));
		r = mw_cidr_parse_bits(json_string_value(e), &rule->cidrs[i], &host_bits);
		if (r == -ERANGE)
			return cfg_error(x, &ep, false,
					 "prefix length in %s is out of range (IPv4: 0..32, IPv6: "
					 "0..128)",
					 GOT(e));
		if (r < 0)
			return cfg_error(
				x, &ep, false,
				"expected a CIDR like \"10.0.0.0/8\" or \"fd00::/8\", got %s",
				GOT(e));
		if (host_bits)
			return cfg_error(x, &ep, false,
					 "%s has bits set beyond its prefix length (did you mean "
					 "\"%s\"?)",
					 GOT(e), mw_cidr_str(&rule->cidrs[i], net, sizeof(net)));
		rule->n_cidrs = (unsigned)i + 1;
	}
	return 0;
}

static int parse_ports(struct cfg_ctx *x, const struct cfg_path *p, json_t *v,
		       struct mw_capture_rule *rule)
{
	json_t *e;
	size_t i;
	int r;

	r = cfg_array(x, p, v, 1, ARRAY_SIZE(rule->ports), "ports");
	if (r < 0)
		return r;
	json_array_foreach(v, i, e) {
		struct cfg_path ep = PATH_INDEX(p, i);
		struct mw_port_range *pr = &rule->ports[i];

		if (json_is_integer(e)) {
			uint16_t port = 0;

			r = cfg_port(x, &ep, e, &port);
			if (r < 0)
				return r;
			pr->lo = pr->hi = port;
		} else if (json_is_string(e)) {
			const char *s = json_string_value(e), *dash = strchr(s, '-');
			size_t n = strlen(s);
			int r2;

			if (dash) {
				r = mw_port_parse(s, (size_t)(dash - s), &pr->lo);
				r2 = mw_port_parse(dash + 1, n - (size_t)(dash - s) - 1, &pr->hi);
			} else {
				r = r2 = mw_port_parse(s, n, &pr->lo);
				pr->hi = pr->lo;
			}
			if (r == -EINVAL || r2 == -EINVAL)
				return cfg_error(x, &ep, false,
						 "expected a port number 1..65535 or a range like "
						 "\"8000-8100\", got %s",
						 GOT(e));
			if (r < 0 || r2 < 0)
				return cfg_error(x, &ep, false,
						 "port in %s is out of range 1..65535", GOT(e));
			if (pr->lo > pr->hi)
				return cfg_error(x, &ep, false,
						 "port range %s is reversed (low > high)", GOT(e));
		} else {
			return cfg_error(x, &ep, false,
					 "expected a port number 1..65535 or a range like "
					 "\"8000-8100\", got %s",
					 GOT(e));
		}
		rule->n_ports = (unsigned)i + 1;
	}
	return 0;
}

static int parse_outbound_rule(struct cfg_ctx *x, const struct cfg_path *p, json_t *v,
			       struct mw_capture_rule *rule)
{
	const char *k;
	json_t *e;
	int r;

	r = cfg_object(x, p, v);
	if (r < 0)
		return r;
	memset(rule, 0, sizeof(*rule));
	json_object_foreach(v, k, e) {
		struct cfg_path kp = PATH_KEY(p, k);

		if (strcmp(k, "cidrs") == 0)
			r = parse_cidrs(x, &kp, e, rule);
		else if (strcmp(k, "ports") == 0)
			r = parse_ports(x, &kp, e, rule);
		else if (strcmp(k, "exclude") == 0)
			r = cfg_bool(x, &kp, e, &rule->exclude);
		else
			r = cfg_unknown_key(x, &kp, "'cidrs', 'ports', 'exclude'");
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_inbound_rule(struct cfg_ctx *x, const struct cfg_path *p, json_t *v, size_t idx,
			      struct mw_inbound_rule *rule)
{
	struct cfg_path pp = PATH_KEY(p, "port");
	const char *k;
	json_t *e;
	bool have_port = false;
	int r;

	r = cfg_object(x, p, v);
	if (r < 0)
		return r;
	x->have_backend_port[idx] = false;
	json_object_foreach(v, k, e) {
		struct cfg_path kp = PATH_KEY(p, k);

		if (strcmp(k, "port") == 0) {
			r = cfg_port(x, &kp, e, &rule->port);
			have_port = true;
		} else if (strcmp(k, "backend_port") == 0) {
			r = cfg_port(x, &kp, e, &rule->backend_port);
			x->have_backend_port[idx] = true;
		} else {
			r = cfg_unknown_key(x, &kp, "'port', 'backend_port'");
		}
		if (r < 0)
			return r;
	}
	if (!have_port)
		return cfg_error(x, p, false, "missing required key 'port'");
	if (!x->have_backend_port[idx]) {
		if (rule->port + 10000u > 65535u)
			return cfg_error(x, &pp, false,
					 "the default backend_port (port + 10000 = %u) exceeds "
					 "65535; set backend_port",
					 rule->port + 10000u);
		rule->backend_port = (uint16_t)(rule->port + 10000u);
	}
	return 0;
}

static int parse_capture(struct cfg_ctx *x, const struct cfg_path *p, json_t *v,
			 struct mw_config *c)
{
	const char *k;
	json_t *e, *r_e;
	size_t i;
	int r;

	r = cfg_object(x, p, v);
	if (r < 0)
		return r;
	json_object_foreach(v, k, e) {
		struct cfg_path kp = PATH_KEY(p, k);

		if (strcmp(k, "outbound") == 0) {
			r = cfg_array(x, &kp, e, 0, MW_MAX_CAPTURE_RULES, "capture rules");
			if (r < 0)
				return r;
			c->n_outbound = 0;
			json_array_foreach(e, i, r_e) {
				struct cfg_path ep = PATH_INDEX(&kp, i);

				r = parse_outbound_rule(x, &ep, r_e, &c->outbound[i]);
				if (r < 0)
					return r;
				c->n_outbound = (unsigned)i + 1;
			}
		} else if (strcmp(k, "inbound") == 0) {
			r = cfg_array(x, &kp, e, 0, MW_MAX_INBOUND, "inbound rules");
			if (r < 0)
				return r;
			c->n_inbound = 0;
			json_array_foreach(e, i, r_e) {
				struct cfg_path ep = PATH_INDEX(&kp, i);

				r = parse_inbound_rule(x, &ep, r_e, i, &c->inbound[i]);
				if (r < 0)
					return r;
				c->n_inbound = (unsigned)i + 1;
			}
		} else {
			r = cfg_unknown_key(x, &kp, "'outbound', 'inbound'");
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static bool group_name_valid(const char *s)
{
	if (s[0] == '-')
		return false;
	for (const char *c = s; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' || *c == '.'))
			return false;
	return true;
}

static int parse_control(struct cfg_ctx *x, const struct cfg_path *p, json_t *v,
			 struct mw_config *c)
{
	const char *k;
	json_t *e;
	int r;

	r = cfg_object(x, p, v);
	if (r < 0)
		return r;
	json_object_foreach(v, k, e) {
		struct cfg_path kp = PATH_KEY(p, k);

		if (strcmp(k, "socket") == 0) {
			r = cfg_abs_path(x, &kp, e, c->control_socket, sizeof(c->control_socket));
			if (r < 0)
				return r;
			if (strlen(c->control_socket) >=
			    sizeof(((struct sockaddr_un *)0)->sun_path))
				return cfg_error(x, &kp, false,
						 "path is too long for a Unix socket (at most %zu "
						 "bytes)",
						 sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
			x->have_control_socket = true;
		} else if (strcmp(k, "group") == 0) {
			const char *s = json_string_value(e);

			if (!s || strlen(s) >= sizeof(c->control_group) || !group_name_valid(s))
				return cfg_error(x, &kp, false, "expected a group name, got %s",
						 GOT(e));
			snprintf(c->control_group, sizeof(c->control_group), "%s", s);
		} else {
			return cfg_unknown_key(x, &kp, "'socket', 'group'");
		}
	}
	return 0;
}

static int parse_user(struct cfg_ctx *x, const struct cfg_path *p, json_t *v, struct mw_config *c)
{
	const char *s = json_string_value(v);

	if (!s || !*s || strlen(s) >= sizeof(c->user) || !group_name_valid(s))
		return cfg_error(x, p, false, "expected a user name, got %s", GOT(v));
	memset(c->user, 0, sizeof(c->user));
	snprintf(c->user, sizeof(c->user), "%s", s);
	return 0;
}

static int parse_bypass(struct cfg_ctx *x, const struct cfg_path *p, json_t *v, struct mw_config *c)
{
	return cfg_bool(x, p, v, &c->bypass);
}

static int parse_limits(struct cfg_ctx *x, const struct cfg_path *p, json_t *v, struct mw_config *c)
{
	const char *k;
	json_t *e;
	int r;

	r = cfg_object(x, p, v);
	if (r < 0)
		return r;
	json_object_foreach(v, k, e) {
		struct cfg_path kp = PATH_KEY(p, k);

		if (strcmp(k, "max_flows") == 0) {
			json_int_t n = json_integer_value(e);

			if (!json_is_integer(e) || n < 1 || n > MW_MAX_FLOWS_MAX)
				return cfg_error(x, &kp, false,
						 "expected a number of flows 1..%d, got %s",
						 MW_MAX_FLOWS_MAX, GOT(e));
			c->limits.max_flows = (uint32_t)n;
		} else if (strcmp(k, "connect_timeout") == 0) {
			r = cfg_duration(x, &kp, e, 1000, &c->limits.connect_timeout_usec);
		} else if (strcmp(k, "idle_timeout") == 0) {
			r = cfg_duration(x, &kp, e, 1000, &c->limits.idle_timeout_usec);
		} else if (strcmp(k, "drain_timeout") == 0) {
			r = cfg_duration(x, &kp, e, 0, &c->limits.drain_timeout_usec);
		} else if (strcmp(k, "relay_buffer") == 0) {
			uint64_t size = 0;

			if (json_is_integer(e) && json_integer_value(e) >= 0)
				size = (uint64_t)json_integer_value(e);
			else if (!json_is_string(e) ||
				 mw_parse_size(json_string_value(e), &size) < 0)
				return cfg_error(
					x, &kp, false,
					"expected a size like \"256KiB\" or \"1MiB\", got %s",
					GOT(e));
			if (size < MW_RELAY_BUFFER_MIN || size > MW_RELAY_BUFFER_MAX)
				return cfg_error(x, &kp, false,
						 "size %s is out of range (4KiB..64MiB)", GOT(e));
			c->limits.relay_buffer = (uint32_t)size;
		} else {
			r = cfg_unknown_key(x, &kp,
					    "'max_flows', 'connect_timeout', 'idle_timeout', "
					    "'drain_timeout', 'relay_buffer'");
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* Kept as JSON for the modules to come: only the top-level type is checked here. */
static int parse_kept_object(struct cfg_ctx *x, const struct cfg_path *p, json_t *v,
			     struct mw_config *c)
{
	return cfg_object(x, p, v);
}

static int parse_policy(struct cfg_ctx *x, const struct cfg_path *p, json_t *v, struct mw_config *c)
{
	const char *s = json_string_value(v);

	if (json_is_object(v))
		return 0;
	if (!s)
		return cfg_error(x, p, false,
				 "expected an object or the absolute path of a policy file, got %s",
				 GOT(v));
	if (s[0] != '/')
		return cfg_error(x, p, false, "expected an absolute path, got %s", GOT(v));
	return 0;
}

static int parse_upstreams(struct cfg_ctx *x, const struct cfg_path *p, json_t *v,
			   struct mw_config *c)
{
	struct mw_upstream_error err = {};
	struct mw_upstreams *u = NULL;
	struct cfg_path ip, kp, sp;
	int r;

	/* validated here, built again from c->root by the daemon (upstream.h) */
	r = upstreams_parse(v, &u, &err);
	upstreams_free(u);
	if (r != -EINVAL)
		return r;
	if (!json_is_array(v))
		return cfg_error(x, p, false, "%s, got %s", err.text, GOT(v));
	ip = PATH_INDEX(p, err.index);
	kp = PATH_KEY(&ip, err.key);
	sp = PATH_KEY(&kp, err.subkey);
	return cfg_error(x, err.subkey[0] ? &sp : err.key[0] ? &kp : &ip, err.at_key, "%s",
			 err.text);
}

static const struct {
	const char *key;
	int (*parse)(struct cfg_ctx *x, const struct cfg_path *p, json_t *v, struct mw_config *c);
} top_keys[] = {
	{ "runtime_dir", parse_runtime_dir },
	{ "state_dir", parse_state_dir },
	{ "bpf_pin_dir", parse_bpf_pin_dir },
	{ "listen", parse_listen },
	{ "fail", parse_fail },
	{ "enroll", parse_enroll },
	{ "capture", parse_capture },
	{ "control", parse_control },
	{ "bypass", parse_bypass },
	{ "user", parse_user },
	{ "limits", parse_limits },
	{ "identity", parse_kept_object },
	{ "policy", parse_policy },
	{ "masking", parse_kept_object },
	{ "approvals", parse_kept_object },
	{ "journal", parse_kept_object },
	{ "upstreams", parse_upstreams },
};

/* Checks across sections, once every key is known. */
static int validate(struct cfg_ctx *x, struct mw_config *c)
{
	struct cfg_path cap = PATH_KEY(NULL, "capture"), inb = PATH_KEY(&cap, "inbound");
	size_t sun_max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;

	if (!x->have_control_socket) {
		struct cfg_path rp = PATH_KEY(NULL, "runtime_dir");
		size_t n = strlen(c->runtime_dir);

		if (strcmp(c->runtime_dir, "/") == 0)
			n = 0;
		if (n + strlen(control_sock_name) > sun_max)
			return cfg_error(x, &rp, false,
					 "too long for the control socket path inside it (at most "
					 "%zu bytes); set control.socket",
					 sun_max - strlen(control_sock_name));
		memset(c->control_socket, 0, sizeof(c->control_socket));
		memcpy(c->control_socket, c->runtime_dir, n);
		memcpy(c->control_socket + n, control_sock_name, sizeof(control_sock_name));
	}

	/* a credential is injected by the checkpoint, which runs only with a policy: refuse a
	 * configuration that would relay the gateway's requests without it */
	if (!json_object_get(c->root, "policy")) {
		json_t *ups = json_object_get(c->root, "upstreams"), *u;
		struct cfg_path up = PATH_KEY(NULL, "upstreams");
		size_t i;

		json_array_foreach(ups, i, u) {
			struct cfg_path ip = PATH_INDEX(&up, i), cp = PATH_KEY(&ip, "credential");

			if (json_object_get(u, "credential"))
				return cfg_error(x, &cp, true,
						 "a credential is injected by the checkpoint, which "
						 "needs a policy: add a 'policy' section");
		}
	}

	for (unsigned i = 0; i < c->n_inbound; i++) {
		const struct mw_inbound_rule *ir = &c->inbound[i];
		struct cfg_path ip = PATH_INDEX(&inb, i), pp = PATH_KEY(&ip, "port"),
				bp = PATH_KEY(&ip,
					      x->have_backend_port[i] ? "backend_port" : "port");

		for (unsigned l = 0; l < c->n_listen; l++) {
			char buf[MW_SOCKADDR_STR_MAX];
			const char *a = mw_sockaddr_str((const struct sockaddr *)&c->listen[l].ss,
							buf, sizeof(buf));

			if (sockaddr_port(&c->listen[l]) == ir->port)
				return cfg_error(x, &pp, false,
						 "port %u is also the agent's listen address '%s'",
						 ir->port, a);
			if (sockaddr_port(&c->listen[l]) == ir->backend_port)
				return cfg_error(
					x, &bp, false,
					"backend_port %u is also the agent's listen address "
					"'%s'",
					ir->backend_port, a);
		}
		if (ir->backend_port == ir->port)
			return cfg_error(x, &bp, false, "backend_port %u must differ from port",
					 ir->backend_port);
		for (unsigned j = 0; j < c->n_inbound; j++) {
			const struct mw_inbound_rule *o = &c->inbound[j];

			if (j < i && o->port == ir->port)
				return cfg_error(x, &pp, false,
						 "port %u is already captured by "
						 "capture.inbound[%u]",
						 ir->port, j);
			if (j != i && o->port == ir->backend_port)
				return cfg_error(
					x, &bp, false,
					"backend_port %u is the port of capture.inbound[%u]",
					ir->backend_port, j);
			if (j < i && o->backend_port == ir->backend_port)
				return cfg_error(x, &bp, false,
						 "backend_port %u is already the backend_port of "
						 "capture.inbound[%u]",
						 ir->backend_port, j);
		}
	}
	return 0;
}

void config_defaults(struct mw_config *c)
{
	struct sockaddr_in *in;
	struct sockaddr_in6 *in6;

	memset(c, 0, sizeof(*c));
	snprintf(c->runtime_dir, sizeof(c->runtime_dir), "%s", MW_RUNTIME_DIR_DEFAULT);
	snprintf(c->state_dir, sizeof(c->state_dir), "%s", MW_STATE_DIR_DEFAULT);
	snprintf(c->bpf_pin_dir, sizeof(c->bpf_pin_dir), "%s", MW_BPF_PIN_DIR_DEFAULT);
	snprintf(c->user, sizeof(c->user), "%s", MW_USER_DEFAULT);
	snprintf(c->control_socket, sizeof(c->control_socket), "%s%s", MW_RUNTIME_DIR_DEFAULT,
		 control_sock_name);

	in = (struct sockaddr_in *)&c->listen[0].ss;
	in->sin_family = AF_INET;
	in->sin_port = htons(MW_LISTEN_PORT_DEFAULT);
	in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->listen[0].len = sizeof(*in);
	in6 = (struct sockaddr_in6 *)&c->listen[1].ss;
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(MW_LISTEN_PORT_DEFAULT);
	in6->sin6_addr = in6addr_loopback;
	c->listen[1].len = sizeof(*in6);
	c->n_listen = 2;

	c->fail = MW_FAIL_CLOSED;
	c->limits.max_flows = MW_MAX_FLOWS_DEFAULT;
	c->limits.connect_timeout_usec = MW_CONNECT_TIMEOUT_DEFAULT;
	c->limits.idle_timeout_usec = MW_IDLE_TIMEOUT_DEFAULT;
	c->limits.drain_timeout_usec = MW_DRAIN_TIMEOUT_DEFAULT;
	c->limits.relay_buffer = MW_RELAY_BUFFER_DEFAULT;
}

struct mw_config *config_free(struct mw_config *c)
{
	if (!c)
		return NULL;
	json_decref(c->root);
	free(c);
	return NULL;
}

int config_parse(const char *name, const char *text, size_t len, struct mw_config **ret_config,
		 struct mw_diag *ret_diag)
{
	_cleanup_(config_freep) struct mw_config *c = NULL;
	struct cfg_ctx x = {
		.name = name ? name : "",
		.text = text,
		.len = len,
		.diag = ret_diag,
	};
	const char *k;
	json_error_t err;
	json_t *v;
	int r;

	if ((!text && len) || !ret_config)
		return mw_diag_set(ret_diag, -EINVAL, x.name, 0, 0, NULL, "invalid arguments");
	if (len > MW_CONFIG_MAX_BYTES)
		return mw_diag_set(ret_diag, -EFBIG, x.name, 0, 0, NULL,
				   "config is %zu bytes, more than the limit of %d", len,
				   MW_CONFIG_MAX_BYTES);

	c = calloc(1, sizeof(*c));
	if (!c)
		return mw_diag_set(ret_diag, -ENOMEM, x.name, 0, 0, NULL, "out of memory");
	config_defaults(c);
	snprintf(c->path, sizeof(c->path), "%s", x.name);

	c->root = json_loadb(text ? text : "", len, JSON_REJECT_DUPLICATES, &err);
	if (!c->root) {
		char key[sizeof(ret_diag->key)] = "";

		/* jansson says where, not in which key: find that from where it stopped */
		if (err.position > 0)
			(void)jsonpos_path_at(text, len, (size_t)err.position, MW_JSONPOS_DOTTED,
					      key, sizeof(key));
		return mw_diag_set(ret_diag, -EINVAL, x.name, err.line > 0 ? err.line : 0,
				   err.column > 0 ? err.column : 0, key, "%s", err.text);
	}
	if (!json_is_object(c->root))
		return cfg_error(&x, NULL, false, "expected an object at the top level, got %s",
				 GOT(c->root));

	json_object_foreach(c->root, k, v) {
		struct cfg_path kp = PATH_KEY(NULL, k);
		size_t i;

		for (i = 0; i < ARRAY_SIZE(top_keys); i++)
			if (strcmp(k, top_keys[i].key) == 0)
				break;
		if (i == ARRAY_SIZE(top_keys))
			return cfg_unknown_key(&x, &kp, NULL);
		r = top_keys[i].parse(&x, &kp, v, c);
		if (r < 0)
			return r;
	}
	r = validate(&x, c);
	if (r < 0)
		return r;

	*ret_config = TAKE_PTR(c);
	return 0;
}

static int read_all(int fd, size_t hint, char **ret_buf, size_t *ret_len)
{
	_cleanup_free_ char *buf = NULL;
	size_t cap = hint < 4096 ? 4096 : hint + 1, len = 0;

	if (cap > MW_CONFIG_MAX_BYTES + 1)
		cap = MW_CONFIG_MAX_BYTES + 1;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb;

			if (cap > MW_CONFIG_MAX_BYTES)
				return -EFBIG;
			cap = cap * 2 > MW_CONFIG_MAX_BYTES + 1 ? MW_CONFIG_MAX_BYTES + 1 : cap * 2;
			nb = realloc(buf, cap);
			if (!nb)
				return -ENOMEM;
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > MW_CONFIG_MAX_BYTES)
		return -EFBIG;
	*ret_buf = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

int config_load(const char *path, bool allow_missing, struct mw_config **ret_config,
		struct mw_diag *ret_diag)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	size_t len = 0;
	char eb[128];
	int r;

	if (!ret_config)
		return mw_diag_set(ret_diag, -EINVAL, path, 0, 0, NULL, "invalid arguments");
	if (!path || strcmp(path, MW_CONFIG_PATH_DEFAULT) == 0) {
		path = MW_CONFIG_PATH_DEFAULT;
		allow_missing = true;
	}

	fd = open(path,
		  O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK); /* a FIFO must not block us */
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT && allow_missing) {
			struct mw_config *c = calloc(1, sizeof(*c));

			if (!c)
				return mw_diag_set(ret_diag, -ENOMEM, path, 0, 0, NULL,
						   "out of memory");
			config_defaults(c);
			*ret_config = c;
			return 0;
		}
		return mw_diag_set(ret_diag, r, path, 0, 0, NULL, "cannot open config file: %s",
				   strerror_r(-r, eb, sizeof(eb)));
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		return mw_diag_set(ret_diag, r, path, 0, 0, NULL, "cannot stat config file: %s",
				   strerror_r(-r, eb, sizeof(eb)));
	}
	if (!S_ISREG(st.st_mode))
		return mw_diag_set(ret_diag, -EINVAL, path, 0, 0, NULL,
				   "config file is not a regular file");
	if (st.st_size > MW_CONFIG_MAX_BYTES)
		return mw_diag_set(ret_diag, -EFBIG, path, 0, 0, NULL,
				   "config file is %jd bytes, more than the limit of %d",
				   (intmax_t)st.st_size, MW_CONFIG_MAX_BYTES);
	r = read_all(fd, (size_t)st.st_size, &buf, &len);
	if (r == -EFBIG)
		return mw_diag_set(ret_diag, r, path, 0, 0, NULL,
				   "config file is more than the limit of %d bytes",
				   MW_CONFIG_MAX_BYTES);
	if (r < 0)
		return mw_diag_set(ret_diag, r, path, 0, 0, NULL, "cannot read config file: %s",
				   strerror_r(-r, eb, sizeof(eb)));
	return config_parse(path, buf, len, ret_config, ret_diag);
}
