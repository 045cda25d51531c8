/* test_config.c: config parsing, its diagnostics (file:line:column and key) and jsonpos. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "config.h"
#include "jsonpos.h"

/* The example from DESIGN.md "The config's shape", verbatim. */
static const char design_example[] =
	"{\n"
	"  \"runtime_dir\": \"/run/mcpwarden\",\n"
	"  \"state_dir\": \"/var/lib/mcpwarden\",\n"
	"  \"bpf_pin_dir\": \"/sys/fs/bpf/mcpwarden\",\n"
	"  \"listen\": [\"127.0.0.1:15001\", \"[::1]:15001\"],\n"
	"  \"fail\": \"closed\",\n"
	"  \"enroll\": [{\"unit\": \"mcp-gateway.service\"}, {\"cgroup\": "
	"\"/sys/fs/cgroup/mcp.slice\"}],\n"
	"  \"capture\": {\n"
	"    \"outbound\": [{\"cidrs\": [\"0.0.0.0/0\", \"::/0\"], \"ports\": [443, 8080, "
	"5432]}],\n"
	"    \"inbound\": [{\"port\": 8080}]\n"
	"  },\n"
	"  \"identity\": {\n"
	"    \"require_token\": true,\n"
	"    \"oidc\": [{\"issuer\": \"https://idp.example\", \"audience\": \"urn:mcp:gateway\",\n"
	"              \"jwks_uri\": \"https://idp.example/jwks\", \"groups_claim\": \"groups\"}]\n"
	"  },\n"
	"  \"policy\": {\"rules\": [\n"
	"    {\"name\": \"destructive SQL needs a DBA\",\n"
	"     \"match\": {\"method\": \"tools/call\", \"tool\": \"query\", \"args\": {\"/sql\": "
	"{\"sql_class\": [\"destructive\"]}}},\n"
	"     \"action\": \"review\", \"approvers\": {\"groups\": [\"dba\"]}},\n"
	"    {\"name\": \"finance may query\", \"match\": {\"groups\": [\"finance\"], \"method\": "
	"\"tools/call\", \"tool\": \"query\"},\n"
	"     \"action\": \"allow\", \"mask\": \"pii\"},\n"
	"    {\"name\": \"default\", \"action\": \"deny\"}\n"
	"  ]},\n"
	"  \"masking\": {\"profiles\": {\"pii\": {\"detectors\": [\"credit_card\", \"email\", "
	"\"us_ssn\", \"iban\", \"phone\", \"secret\"],\n"
	"                                   \"style\": \"partial\"}}},\n"
	"  \"approvals\": {\"timeout\": \"10m\", \"webhook\": "
	"\"https://hooks.example/mcpwarden\"},\n"
	"  \"journal\": {\"mode\": \"strict\", \"max_file_size\": \"256MiB\", \"retention\": "
	"\"90d\"},\n"
	"  \"upstreams\": [{\"match\": {\"host\": \"mcp.internal.example\", \"port\": 443}, "
	"\"tls\": "
	"\"intercept\",\n"
	"                 \"credential\": {\"header\": \"Authorization\", \"value_file\": "
	"\"/run/credentials/mcpwarden/mcp\"}}]\n"
	"}\n";

static struct mw_config *parse_ok(const char *text)
{
	struct mw_config *c = NULL;
	struct mw_diag d = {};
	char buf[1024];
	int r;

	r = config_parse("test.json", text, strlen(text), &c, &d);
	if (r < 0)
		print_error("unexpected error: %s\n", mw_diag_format(&d, buf, sizeof(buf)));
	assert_int_equal(r, 0);
	assert_non_null(c);
	return c;
}

static const char *addr_str(const struct mw_sockaddr *sa)
{
	static char buf[MW_SOCKADDR_STR_MAX];

	return mw_sockaddr_str((const struct sockaddr *)&sa->ss, buf, sizeof(buf));
}

static const char *cidr_str(const struct mw_cidr *c)
{
	static char buf[MW_CIDR_STR_MAX];

	return mw_cidr_str(c, buf, sizeof(buf));
}

static void assert_defaults(const struct mw_config *c)
{
	assert_string_equal(c->runtime_dir, MW_RUNTIME_DIR_DEFAULT);
	assert_string_equal(c->state_dir, MW_STATE_DIR_DEFAULT);
	assert_string_equal(c->bpf_pin_dir, MW_BPF_PIN_DIR_DEFAULT);
	assert_string_equal(c->control_socket, "/run/mcpwarden/control.sock");
	assert_string_equal(c->control_group, "");
	assert_int_equal(c->n_listen, 2);
	assert_string_equal(addr_str(&c->listen[0]), "127.0.0.1:15001");
	assert_string_equal(addr_str(&c->listen[1]), "[::1]:15001");
	assert_int_equal(c->listen[0].len, sizeof(struct sockaddr_in));
	assert_int_equal(c->listen[1].len, sizeof(struct sockaddr_in6));
	assert_int_equal(c->fail, MW_FAIL_CLOSED);
	assert_int_equal(c->n_enroll, 0);
	assert_int_equal(c->n_outbound, 0);
	assert_int_equal(c->n_inbound, 0);
	assert_false(c->bypass);
	assert_int_equal(c->limits.max_flows, MW_MAX_FLOWS_DEFAULT);
	assert_int_equal(c->limits.connect_timeout_usec, MW_CONNECT_TIMEOUT_DEFAULT);
	assert_int_equal(c->limits.idle_timeout_usec, MW_IDLE_TIMEOUT_DEFAULT);
	assert_int_equal(c->limits.drain_timeout_usec, MW_DRAIN_TIMEOUT_DEFAULT);
	assert_int_equal(c->limits.relay_buffer, MW_RELAY_BUFFER_DEFAULT);
}

static void test_defaults(void **state)
{
	_cleanup_(config_freep) struct mw_config *c = NULL;
	struct mw_config *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	config_defaults(d);
	assert_defaults(d);
	assert_string_equal(d->path, "");
	assert_null(d->root);
	free(d);

	c = parse_ok("{}");
	assert_defaults(c);
	assert_string_equal(c->path, "test.json");
	assert_non_null(c->root);
	assert_true(json_is_object(c->root));
}

static void test_design_example(void **state)
{
	_cleanup_(config_freep) struct mw_config *c = NULL;
	const struct mw_capture_rule *o;
	struct mw_config *tmp;
	struct mw_diag d = {};

	assert_int_equal(
		config_parse("example.json", design_example, strlen(design_example), &tmp, &d), 0);
	c = tmp;
	/* the example spells out the default directories, listeners and fail mode */
	assert_string_equal(c->runtime_dir, MW_RUNTIME_DIR_DEFAULT);
	assert_string_equal(c->state_dir, MW_STATE_DIR_DEFAULT);
	assert_string_equal(c->bpf_pin_dir, MW_BPF_PIN_DIR_DEFAULT);
	assert_string_equal(c->control_socket, "/run/mcpwarden/control.sock");
	assert_int_equal(c->n_listen, 2);
	assert_string_equal(addr_str(&c->listen[0]), "127.0.0.1:15001");
	assert_string_equal(addr_str(&c->listen[1]), "[::1]:15001");
	assert_int_equal(c->fail, MW_FAIL_CLOSED);
	assert_string_equal(c->path, "example.json");

	assert_int_equal(c->n_enroll, 2);
	assert_int_equal(c->enroll[0].kind, MW_ENROLL_UNIT);
	assert_string_equal(c->enroll[0].value, "mcp-gateway.service");
	assert_int_equal(c->enroll[1].kind, MW_ENROLL_CGROUP);
	assert_string_equal(c->enroll[1].value, "/sys/fs/cgroup/mcp.slice");

	assert_int_equal(c->n_outbound, 1);
	o = &c->outbound[0];
	assert_false(o->exclude);
	assert_int_equal(o->n_cidrs, 2);
	assert_string_equal(cidr_str(&o->cidrs[0]), "0.0.0.0/0");
	assert_int_equal(o->cidrs[0].prefixlen, 96);
	assert_int_equal(o->cidrs[0].addr[10], 0xff);
	assert_int_equal(o->cidrs[0].addr[11], 0xff);
	assert_string_equal(cidr_str(&o->cidrs[1]), "::/0");
	assert_int_equal(o->cidrs[1].prefixlen, 0);
	assert_int_equal(o->n_ports, 3);
	assert_int_equal(o->ports[0].lo, 443);
	assert_int_equal(o->ports[0].hi, 443);
	assert_int_equal(o->ports[1].lo, 8080);
	assert_int_equal(o->ports[2].hi, 5432);

	assert_int_equal(c->n_inbound, 1);
	assert_int_equal(c->inbound[0].port, 8080);
	assert_int_equal(c->inbound[0].backend_port, 18080);

	/* kept as JSON for later modules */
	assert_true(json_is_object(json_object_get(c->root, "policy")));
	assert_true(json_is_object(json_object_get(c->root, "identity")));
	assert_true(json_is_array(json_object_get(c->root, "upstreams")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(c->root, "journal"),
							      "max_file_size")),
			    "256MiB");
}

static void test_overrides(void **state)
{
	_cleanup_(config_freep) struct mw_config *c =
		parse_ok("{\"runtime_dir\": \"/tmp/mw/run/\", \"state_dir\": \"/tmp/mw/state\",\n"
			 " \"bpf_pin_dir\": \"/sys/fs/bpf/mw-test\", \"listen\": "
			 "[\"[::ffff:127.0.0.1]:2000\"],\n"
			 " \"fail\": \"open\", \"bypass\": true,\n"
			 " \"enroll\": [{\"slice\": \"mcp\"}, {\"slice\": \"gw.slice\"}, "
			 "{\"unit\": \"a@1.service\"},\n"
			 "            {\"cgroup\": \"/mcp.slice/gw\"}],\n"
			 " \"capture\": {\"outbound\": [{\"cidrs\": [\"10.0.0.0/8\"], \"ports\": "
			 "[\"8000-8100\", "
			 "\"22\"], \"exclude\": true}, {}],\n"
			 "             \"inbound\": [{\"port\": 9000, \"backend_port\": 9001}, "
			 "{\"port\": 443}]},\n"
			 " \"control\": {\"group\": \"mcpwarden-admin\"},\n"
			 " \"limits\": {\"max_flows\": 10, \"connect_timeout\": \"250ms\", "
			 "\"idle_timeout\": "
			 "\"10m\",\n"
			 "            \"drain_timeout\": \"0\", \"relay_buffer\": \"1MiB\"},\n"
			 " \"policy\": \"/etc/mcpwarden/policy.json\"}");

	assert_string_equal(c->runtime_dir, "/tmp/mw/run");
	/* control_socket follows an overridden runtime_dir */
	assert_string_equal(c->control_socket, "/tmp/mw/run/control.sock");
	assert_string_equal(c->state_dir, "/tmp/mw/state");
	assert_string_equal(c->bpf_pin_dir, "/sys/fs/bpf/mw-test");
	assert_int_equal(c->n_listen, 1);
	assert_string_equal(addr_str(&c->listen[0]), "[::ffff:127.0.0.1]:2000");
	assert_int_equal(c->fail, MW_FAIL_OPEN);
	assert_true(c->bypass);
	assert_int_equal(c->n_enroll, 4);
	assert_int_equal(c->enroll[0].kind, MW_ENROLL_UNIT);
	assert_string_equal(c->enroll[0].value, "mcp.slice");
	assert_string_equal(c->enroll[1].value, "gw.slice");
	assert_string_equal(c->enroll[2].value, "a@1.service");
	assert_int_equal(c->enroll[3].kind, MW_ENROLL_CGROUP);
	assert_string_equal(c->enroll[3].value, "/mcp.slice/gw");
	assert_int_equal(c->n_outbound, 2);
	assert_true(c->outbound[0].exclude);
	assert_int_equal(c->outbound[0].ports[0].lo, 8000);
	assert_int_equal(c->outbound[0].ports[0].hi, 8100);
	assert_int_equal(c->outbound[0].ports[1].lo, 22);
	assert_int_equal(c->outbound[0].ports[1].hi, 22);
	assert_int_equal(c->outbound[1].n_cidrs, 0); /* every address */
	assert_int_equal(c->outbound[1].n_ports, 0); /* every port */
	assert_int_equal(c->inbound[0].backend_port, 9001);
	assert_int_equal(c->inbound[1].backend_port, 10443);
	assert_string_equal(c->control_group, "mcpwarden-admin");
	assert_int_equal(c->limits.max_flows, 10);
	assert_int_equal(c->limits.connect_timeout_usec, 250000);
	assert_int_equal(c->limits.idle_timeout_usec, 600000000ULL);
	assert_int_equal(c->limits.drain_timeout_usec, 0);
	assert_int_equal(c->limits.relay_buffer, 1024 * 1024);
}

static void test_control_socket(void **state)
{
	_cleanup_(config_freep) struct mw_config *a = NULL, *b = NULL, *r = NULL;

	/* explicit socket wins, whatever the order of keys */
	a = parse_ok("{\"control\": {\"socket\": \"/tmp/c.sock\"}, \"runtime_dir\": \"/tmp/r\"}");
	assert_string_equal(a->control_socket, "/tmp/c.sock");
	assert_string_equal(a->runtime_dir, "/tmp/r");
	b = parse_ok("{\"runtime_dir\": \"/tmp/r\", \"control\": {}}");
	assert_string_equal(b->control_socket, "/tmp/r/control.sock");
	r = parse_ok("{\"runtime_dir\": \"/\"}");
	assert_string_equal(r->control_socket, "/control.sock");
}

/* A reload compares settings bytewise: equal settings must be equal bytes. */
static void test_canonical(void **state)
{
	_cleanup_(config_freep) struct mw_config *a = NULL, *b = NULL;
	char expect[sizeof(a->runtime_dir)] = "/r";

	a = parse_ok("{\"runtime_dir\": \"/r//\"}");
	b = parse_ok(
		"{\"runtime_dir\": \"/r\", \"listen\": [\"127.0.0.1:15001\", \"[::1]:15001\"]}");
	assert_memory_equal(a->runtime_dir, expect, sizeof(expect));
	assert_memory_equal(a->runtime_dir, b->runtime_dir, sizeof(a->runtime_dir));
	assert_memory_equal(a->control_socket, b->control_socket, sizeof(a->control_socket));
	assert_memory_equal(a->listen, b->listen, sizeof(a->listen));
	assert_int_equal(a->n_listen, b->n_listen);
}

struct error_case {
	const char *text;
	int line, column;
	const char *key;
	const char *message;
};

static const struct error_case error_cases[] = {
	/* wrong values, found again in the text */
	{ "{\n"
	  "  \"listen\": [\"127.0.0.1:15001\"],\n"
	  "  \"capture\": {\n"
	  "    \"outbound\": [\n"
	  "      {\"cidrs\": [\"10.0.0.0/8\"], \"ports\": [443, 70000]}\n"
	  "    ]\n"
	  "  }\n"
	  "}\n",
	  5, 48, "capture.outbound[0].ports[1]", "expected a port number 1..65535, got 70000" },
	{ "{\"capture\": {\"outbound\": [{\"ports\": [0]}]}}", 1, 38,
	  "capture.outbound[0].ports[0]", "expected a port number 1..65535, got 0" },
	{ "{\"capture\": {\"outbound\": [{\"ports\": [44.3]}]}}", 1, 38,
	  "capture.outbound[0].ports[0]",
	  "expected a port number 1..65535 or a range like \"8000-8100\", got 44.3" },
	{ "{\"capture\": {\"outbound\": [{\"ports\": [\"9000-8000\"]}]}}", 1, 38,
	  "capture.outbound[0].ports[0]", "port range '9000-8000' is reversed (low > high)" },
	{ "{\"capture\": {\"outbound\": [{\"ports\": [\"80-x\"]}]}}", 1, 38,
	  "capture.outbound[0].ports[0]",
	  "expected a port number 1..65535 or a range like \"8000-8100\", got '80-x'" },
	{ "{\"capture\": {\"outbound\": [{\"ports\": [\"1-65536\"]}]}}", 1, 38,
	  "capture.outbound[0].ports[0]", "port in '1-65536' is out of range 1..65535" },
	/* unknown keys, reported at the key */
	{ "{\n  \"runtime_dir\": \"/run/x\",\n  \"typo_key\": 1\n}", 3, 3, "typo_key",
	  "unknown key 'typo_key'" },
	{ "{\n  \"capture\": {\n    \"outbound\": [{\"prots\": [443]}]\n  }\n}", 3, 19,
	  "capture.outbound[0].prots",
	  "unknown key 'prots' (expected one of 'cidrs', 'ports', 'exclude')" },
	{ "{\"limits\": {\"max_flow\": 1}}", 1, 13, "limits.max_flow",
	  "unknown key 'max_flow' (expected one of 'max_flows', 'connect_timeout', "
	  "'idle_timeout', 'drain_timeout', 'relay_buffer')" },
	{ "{\"control\": {\"sock\": \"/x\"}}", 1, 14, "control.sock",
	  "unknown key 'sock' (expected one of 'socket', 'group')" },
	{ "{\"capture\": {\"outbund\": []}}", 1, 14, "capture.outbund",
	  "unknown key 'outbund' (expected one of 'outbound', 'inbound')" },
	{ "{\"capture\": {\"inbound\": [{\"port\": 1, \"backend\": 2}]}}", 1, 38,
	  "capture.inbound[0].backend",
	  "unknown key 'backend' (expected one of 'port', 'backend_port')" },
	/* a key escaped in the text is still found */
	{ "{\"caf\\u00e9\": 1}", 1, 2, "caf\xc3\xa9", "unknown key 'caf\xc3\xa9'" },
	{ "{\"a/b~c\": 1}", 1, 2, "a/b~c", "unknown key 'a/b~c'" },
	/* wrong types */
	{ "{\"bypass\": \"yes\"}", 1, 12, "bypass", "expected true or false, got 'yes'" },
	{ "{\"capture\": {\"outbound\": [{\"exclude\": 1}]}}", 1, 39, "capture.outbound[0].exclude",
	  "expected true or false, got 1" },
	{ "{\"capture\": {\"outbound\": {}}}", 1, 26, "capture.outbound",
	  "expected an array of capture rules, got an object" },
	{ "{\"capture\": []}", 1, 13, "capture", "expected an object, got an array" },
	{ "{\"identity\": []}", 1, 14, "identity", "expected an object, got an array" },
	{ "{\"journal\": \"strict\"}", 1, 13, "journal", "expected an object, got 'strict'" },
	{ "{\"upstreams\": {}}", 1, 15, "upstreams",
	  "expected an array of upstreams, got an object" },
	{ "{\"upstreams\": [{\"match\": {\"host\": \"a.test\"}, \"tls\": \"intercept\", "
	  "\"credential\": {\"bearer_file\": \"/t\"}}]}",
	  1, 66, "upstreams[0].credential",
	  "a credential is injected by the checkpoint, which needs a policy: add a 'policy' "
	  "section" },
	{ "{\"policy\": 3}", 1, 12, "policy",
	  "expected an object or the absolute path of a policy file, got 3" },
	{ "{\"policy\": \"policy.json\"}", 1, 12, "policy",
	  "expected an absolute path, got 'policy.json'" },
	/* CIDRs */
	{ "{\"capture\": {\"outbound\": [{\"cidrs\": [\"10.0.0.0/8\", \"banana\"]}]}}", 1, 52,
	  "capture.outbound[0].cidrs[1]",
	  "expected a CIDR like \"10.0.0.0/8\" or \"fd00::/8\", got 'banana'" },
	{ "{\"capture\": {\"outbound\": [{\"cidrs\": [\"10.1.2.3/16\"]}]}}", 1, 38,
	  "capture.outbound[0].cidrs[0]",
	  "'10.1.2.3/16' has bits set beyond its prefix length (did you mean \"10.1.0.0/16\"?)" },
	{ "{\"capture\": {\"outbound\": [{\"cidrs\": [\"fd00::1/8\"]}]}}", 1, 38,
	  "capture.outbound[0].cidrs[0]",
	  "'fd00::1/8' has bits set beyond its prefix length (did you mean \"fd00::/8\"?)" },
	{ "{\"capture\": {\"outbound\": [{\"cidrs\": [\"10.0.0.0/33\"]}]}}", 1, 38,
	  "capture.outbound[0].cidrs[0]",
	  "prefix length in '10.0.0.0/33' is out of range (IPv4: 0..32, IPv6: 0..128)" },
	{ "{\"capture\": {\"outbound\": [{\"cidrs\": []}]}}", 1, 37, "capture.outbound[0].cidrs",
	  "expected a non-empty array of CIDRs, got an empty array" },
	/* paths, enums, addresses */
	{ "{\"state_dir\": \"var/lib/x\"}", 1, 15, "state_dir",
	  "expected an absolute path, got 'var/lib/x'" },
	{ "{\"fail\": \"maybe\"}", 1, 10, "fail", "expected \"closed\" or \"open\", got 'maybe'" },
	{ "{\"listen\": [\"localhost:15001\"]}", 1, 13, "listen[0]",
	  "expected an address like \"127.0.0.1:15001\" or \"[::1]:15001\", got "
	  "'localhost:15001'" },
	{ "{\"listen\": [\"::1:15001\"]}", 1, 13, "listen[0]",
	  "expected an address like \"127.0.0.1:15001\" or \"[::1]:15001\", got '::1:15001'" },
	{ "{\"listen\": [\"[::1]:0\"]}", 1, 13, "listen[0]",
	  "port in '[::1]:0' is out of range 1..65535" },
	{ "{\"listen\": []}", 1, 12, "listen",
	  "expected a non-empty array of listen addresses, got an empty array" },
	{ "{\"listen\": [\"127.0.0.1:15001\", \"127.0.0.1:15001\"]}", 1, 32, "listen[1]",
	  "duplicate listen address '127.0.0.1:15001'" },
	{ "{\"control\": {\"group\": \"bad group\"}}", 1, 23, "control.group",
	  "expected a group name, got 'bad group'" },
	{ "{\"control\": {\"socket\": \"/run/"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaa.sock\"}}",
	  1, 24, "control.socket", "path is too long for a Unix socket (at most 107 bytes)" },
	{ "{\"listen\": [\"127.0.0.1:1\", \"127.0.0.1:2\", \"127.0.0.1:3\", \"127.0.0.1:4\",\n"
	  "  \"127.0.0.1:5\", \"127.0.0.1:6\", \"127.0.0.1:7\", \"127.0.0.1:8\", \"127.0.0.1:9\"]}",
	  1, 12, "listen", "expected at most 8 listen addresses, got 9" },
	{ "{\"listen\": \"127.0.0.1:15001\"}", 1, 12, "listen",
	  "expected an array of listen addresses, got '127.0.0.1:15001'" },
	{ "{\"limits\": []}", 1, 12, "limits", "expected an object, got an array" },
	/* enroll */
	{ "{\"enroll\": [{\"unit\": \"a.service\", \"cgroup\": \"/x\"}]}", 1, 35,
	  "enroll[0].cgroup", "only one of 'unit', 'slice', 'cgroup' per entry" },
	{ "{\"enroll\": [{\"pid\": 1}]}", 1, 14, "enroll[0].pid",
	  "unknown key 'pid' (expected one of 'unit', 'slice', 'cgroup')" },
	{ "{\"enroll\": [{}]}", 1, 13, "enroll[0]",
	  "expected an object with one of 'unit', 'slice', 'cgroup', like {\"unit\": "
	  "\"mcp-gateway.service\"}, got an object" },
	{ "{\"enroll\": [{\"unit\": \"nosuffix\"}]}", 1, 22, "enroll[0].unit",
	  "expected a unit name like \"mcp-gateway.service\", got 'nosuffix'" },
	{ "{\"enroll\": [{\"slice\": \"a.service\"}]}", 1, 23, "enroll[0].slice",
	  "expected a slice name like \"mcp.slice\", got 'a.service'" },
	{ "{\"enroll\": [{\"cgroup\": \"/a/../b\"}]}", 1, 24, "enroll[0].cgroup",
	  "cgroup path must not contain '..', got '/a/../b'" },
	{ "{\"enroll\": [{\"cgroup\": \"mcp.slice\"}]}", 1, 24, "enroll[0].cgroup",
	  "expected an absolute path, got 'mcp.slice'" },
	/* inbound */
	{ "{\"capture\": {\"inbound\": [{\"port\": 60000}]}}", 1, 35, "capture.inbound[0].port",
	  "the default backend_port (port + 10000 = 70000) exceeds 65535; set backend_port" },
	{ "{\"capture\": {\"inbound\": [{\"port\": 8080, \"backend_port\": 15001}]}}", 1, 57,
	  "capture.inbound[0].backend_port",
	  "backend_port 15001 is also the agent's listen address '127.0.0.1:15001'" },
	{ "{\"capture\": {\"inbound\": [{\"port\": 8080}, {\"port\": 18080}]}}", 1, 35,
	  "capture.inbound[0].port", "backend_port 18080 is the port of capture.inbound[1]" },
	{ "{\"capture\": {\"inbound\": [{\"port\": 80}, {\"port\": 80}]}}", 1, 49,
	  "capture.inbound[1].port", "port 80 is already captured by capture.inbound[0]" },
	{ "{\"capture\": {\"inbound\": [{\"port\": 80, \"backend_port\": 80}]}}", 1, 55,
	  "capture.inbound[0].backend_port", "backend_port 80 must differ from port" },
	{ "{\"capture\": {\"inbound\": [{\"port\": 15001}]}}", 1, 35, "capture.inbound[0].port",
	  "port 15001 is also the agent's listen address '127.0.0.1:15001'" },
	{ "{\"capture\": {\"inbound\": [{\"backend_port\": 9000}]}}", 1, 26, "capture.inbound[0]",
	  "missing required key 'port'" },
	/* limits */
	{ "{\"limits\": {\"idle_timeout\": \"forever\"}}", 1, 29, "limits.idle_timeout",
	  "expected a duration like \"250ms\", \"10s\", \"5m\", \"2h\", got 'forever'" },
	{ "{\"limits\": {\"connect_timeout\": 10}}", 1, 32, "limits.connect_timeout",
	  "expected a duration like \"250ms\", \"10s\", \"5m\", \"2h\", got 10" },
	{ "{\"limits\": {\"connect_timeout\": \"0s\"}}", 1, 32, "limits.connect_timeout",
	  "duration '0s' is out of range (1ms..366d)" },
	{ "{\"limits\": {\"drain_timeout\": \"400d\"}}", 1, 30, "limits.drain_timeout",
	  "duration '400d' is out of range (0..366d)" },
	{ "{\"limits\": {\"relay_buffer\": \"1KiB\"}}", 1, 29, "limits.relay_buffer",
	  "size '1KiB' is out of range (4KiB..64MiB)" },
	{ "{\"limits\": {\"relay_buffer\": \"lots\"}}", 1, 29, "limits.relay_buffer",
	  "expected a size like \"256KiB\" or \"1MiB\", got 'lots'" },
	{ "{\"limits\": {\"max_flows\": 0}}", 1, 26, "limits.max_flows",
	  "expected a number of flows 1..1048576, got 0" },
	/* syntax: jansson's position, and the key it stopped in */
	{ "{\n  \"fail\": \"open\",\n  \"fail\": \"closed\"\n}", 3, 8, "fail",
	  "duplicate object key near '\"fail\"'" },
	{ "{\"capture\": {\"outbound\": [{\"ports\": [1], \"ports\": [2]}]}}", 1, 48,
	  "capture.outbound[0].ports", "duplicate object key near '\"ports\"'" },
	{ "{\"fail\": \"open\"}\n{\"fail\": \"closed\"}", 2, 1, "",
	  "end of file expected near '{'" },
	{ "{\"fail\": \"open\"} x", 1, 18, "", "end of file expected near 'x'" },
	{ "{\"capture\": {\"outbound\": [{\"ports\": [443,}]}}", 1, 42,
	  "capture.outbound[0].ports[1]", "unexpected token near '}'" },
	{ "{\"a\": tru}", 1, 9, "a", "invalid token near 'tru'" },
	{ "", 1, 0, "", "'[' or '{' expected near end of file" },
	{ "[]", 1, 1, "", "expected an object at the top level, got an array" },
};

static void test_errors(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(error_cases); i++) {
		const struct error_case *t = &error_cases[i];
		struct mw_config *c = NULL;
		struct mw_diag d;
		int r;

		memset(&d, 0x55, sizeof(d));
		r = config_parse("bad.json", t->text, strlen(t->text), &c, &d);
		print_message("case %zu: %s:%d:%d: key '%s': %s\n", i, d.file, d.line, d.column,
			      d.key, d.text);
		assert_int_equal(r, -EINVAL);
		assert_null(c);
		assert_string_equal(d.file, "bad.json");
		assert_string_equal(d.text, t->message);
		assert_string_equal(d.key, t->key);
		assert_int_equal(d.line, t->line);
		assert_int_equal(d.column, t->column);
	}
}

static void test_error_keeps_ret_untouched(void **state)
{
	struct mw_config *sentinel = (struct mw_config *)(uintptr_t)0x1234;
	struct mw_config *c = sentinel;

	assert_int_equal(config_parse("x", "{\"fail\": 1}", 11, &c, NULL), -EINVAL);
	assert_ptr_equal(c, sentinel);
	assert_int_equal(config_parse("x", "{\"fail\": 1", 10, &c, NULL), -EINVAL);
	assert_ptr_equal(c, sentinel);
}

static void test_durations_sizes(void **state)
{
	static const struct {
		const char *s;
		int r;
		uint64_t usec;
	} durations[] = {
		{ "90s", 0, 90000000ULL },
		{ "10m", 0, 600000000ULL },
		{ "2h", 0, 7200000000ULL },
		{ "30d", 0, 2592000000000ULL },
		{ "250ms", 0, 250000ULL },
		{ "15", 0, 15000000ULL },
		{ "7us", 0, 7ULL },
		{ "1w", 0, 604800000000ULL },
		{ "5min", 0, 300000000ULL },
		{ "0", 0, 0 },
		{ "", -EINVAL, 0 },
		{ "s", -EINVAL, 0 },
		{ "-1s", -EINVAL, 0 },
		{ "1.5s", -EINVAL, 0 },
		{ "10x", -EINVAL, 0 },
		{ "99999999999999999999s", -ERANGE, 0 },
		{ "18446744073709551615us", 0, UINT64_MAX },
		{ "18446744073709551616us", -ERANGE, 0 },
		{ "300000000d", -ERANGE, 0 },
	};
	static const struct {
		const char *s;
		int r;
		uint64_t bytes;
	} sizes[] = {
		{ "256MiB", 0, 256ULL << 20 }, { "1G", 0, 1ULL << 30 }, { "4096", 0, 4096 },
		{ "64k", 0, 64 << 10 },	       { "2KiB", 0, 2048 },	{ "3B", 0, 3 },
		{ "1TiB", 0, 1ULL << 40 },     { "1.5M", -EINVAL, 0 },	{ "MiB", -EINVAL, 0 },
		{ "1 PiB", -EINVAL, 0 },       { "", -EINVAL, 0 },	{ "99999999T", -ERANGE, 0 },
	};
	_cleanup_(config_freep) struct mw_config *c = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(durations); i++) {
		uint64_t v = 0xdead;
		int r = mw_parse_duration(durations[i].s, &v);

		print_message("duration '%s'\n", durations[i].s);
		assert_int_equal(r, durations[i].r);
		assert_int_equal(v, r == 0 ? durations[i].usec : 0xdead);
	}
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		uint64_t v = 0xdead;
		int r = mw_parse_size(sizes[i].s, &v);

		print_message("size '%s'\n", sizes[i].s);
		assert_int_equal(r, sizes[i].r);
		assert_int_equal(v, r == 0 ? sizes[i].bytes : 0xdead);
	}
	assert_int_equal(mw_parse_duration(NULL, &(uint64_t){ 0 }), -EINVAL);

	c = parse_ok("{\"limits\": {\"relay_buffer\": 65536, \"idle_timeout\": \"366d\"}}");
	assert_int_equal(c->limits.relay_buffer, 65536);
	assert_int_equal(c->limits.idle_timeout_usec, MW_TIMEOUT_MAX_USEC);
}

static void test_cidrs(void **state)
{
	struct mw_cidr a, b;
	char buf[MW_CIDR_STR_MAX];
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };

	assert_int_equal(mw_cidr_parse("10.0.0.0/8", &a), 0);
	assert_int_equal(a.prefixlen, 104);
	assert_int_equal(a.addr[10], 0xff);
	assert_int_equal(a.addr[11], 0xff);
	assert_int_equal(a.addr[12], 10);
	assert_string_equal(mw_cidr_str(&a, buf, sizeof(buf)), "10.0.0.0/8");

	/* the v4-mapped spelling is the same network */
	assert_int_equal(mw_cidr_parse("::ffff:10.0.0.0/104", &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(mw_cidr_parse("::ffff:a00:0/104", &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));

	assert_int_equal(mw_cidr_parse("2001:db8::/32", &a), 0);
	assert_int_equal(a.prefixlen, 32);
	assert_memory_equal(a.addr, v6, 16);
	assert_string_equal(mw_cidr_str(&a, buf, sizeof(buf)), "2001:db8::/32");

	assert_int_equal(mw_cidr_parse("192.168.1.7", &a), 0); /* a host */
	assert_int_equal(a.prefixlen, 128);
	assert_string_equal(mw_cidr_str(&a, buf, sizeof(buf)), "192.168.1.7/32");
	assert_int_equal(mw_cidr_parse("::1", &a), 0);
	assert_string_equal(mw_cidr_str(&a, buf, sizeof(buf)), "::1/128");
	assert_int_equal(mw_cidr_parse("0.0.0.0/0", &a), 0);
	assert_int_equal(a.prefixlen, 96);
	assert_int_equal(mw_cidr_parse("::/0", &a), 0);
	assert_int_equal(a.prefixlen, 0);
	/* a v4-mapped network shorter than /96 is printed as IPv6 */
	assert_int_equal(mw_cidr_parse("::ffff:0:0/96", &a), 0);
	assert_string_equal(mw_cidr_str(&a, buf, sizeof(buf)), "0.0.0.0/0");
	assert_int_equal(mw_cidr_parse("::/80", &a), 0);
	assert_string_equal(mw_cidr_str(&a, buf, sizeof(buf)), "::/80");
	assert_int_equal(mw_cidr_parse("::ffff:0:0/80", &a), -EDOM);

	memset(&a, 0x77, sizeof(a));
	b = a;
	assert_int_equal(mw_cidr_parse("10.0.0.1/8", &a), -EDOM);
	assert_int_equal(mw_cidr_parse("10.0.0.0/33", &a), -ERANGE);
	assert_int_equal(mw_cidr_parse("::/129", &a), -ERANGE);
	assert_int_equal(mw_cidr_parse("10.0.0.0/", &a), -EINVAL);
	assert_int_equal(mw_cidr_parse("10.0.0.0/+8", &a), -EINVAL);
	assert_int_equal(mw_cidr_parse("10.0.0.0/8/8", &a), -EINVAL);
	assert_int_equal(mw_cidr_parse("10.0.0/8", &a), -EINVAL);
	assert_int_equal(mw_cidr_parse("010.0.0.0/8", &a), -EINVAL);
	assert_int_equal(mw_cidr_parse("fe80::1%eth0/64", &a), -EINVAL);
	assert_int_equal(mw_cidr_parse("/8", &a), -EINVAL);
	assert_int_equal(mw_cidr_parse("", &a), -EINVAL);
	assert_int_equal(mw_cidr_parse(NULL, &a), -EINVAL);
	assert_memory_equal(&a, &b, sizeof(a)); /* untouched on failure */
}

static void test_sockaddr(void **state)
{
	static const char *good[] = { "127.0.0.1:15001", "[::1]:15001", "0.0.0.0:1",
				      "[::ffff:10.1.2.3]:65535", "[2001:db8::1]:443" };
	static const char *bad[] = {
		"127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:80x",
		"::1:80",    "[::1]80",	   "[::1]:",	  "[127.0.0.1]:80",  "localhost:80",
		":80",	     "[]:80",	   "1.2.3.4:+80", "1.2.3.4:0080000", "[::1:80"
	};
	struct mw_sockaddr sa, before;
	char buf[MW_SOCKADDR_STR_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		assert_int_equal(mw_sockaddr_parse(good[i], &sa), 0);
		assert_string_equal(mw_sockaddr_str((struct sockaddr *)&sa.ss, buf, sizeof(buf)),
				    good[i]);
	}
	assert_int_equal(mw_sockaddr_parse("127.0.0.1:8080", &sa), 0);
	assert_int_equal(sa.ss.ss_family, AF_INET);
	assert_int_equal(sa.len, sizeof(struct sockaddr_in));
	assert_int_equal(ntohs(((struct sockaddr_in *)&sa.ss)->sin_port), 8080);

	memset(&before, 0x33, sizeof(before));
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		sa = before;
		print_message("sockaddr '%s'\n", bad[i]);
		assert_true(mw_sockaddr_parse(bad[i], &sa) < 0);
		assert_memory_equal(&sa, &before, sizeof(sa));
	}
	assert_int_equal(mw_sockaddr_parse("127.0.0.1:0", &sa), -ERANGE);
	assert_int_equal(mw_sockaddr_parse("127.0.0.1:x", &sa), -EINVAL);

	/* truncation keeps the string terminated */
	assert_int_equal(mw_sockaddr_parse("[2001:db8::1]:443", &sa), 0);
	assert_string_equal(mw_sockaddr_str((struct sockaddr *)&sa.ss, buf, 6), "[2001");
	sa.ss.ss_family = AF_UNIX;
	assert_string_equal(mw_sockaddr_str((struct sockaddr *)&sa.ss, buf, sizeof(buf)),
			    "(address family 1)");
}

static void write_file(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

static void test_load(void **state)
{
	char dir[] = "/tmp/test_config.XXXXXX", path[256], missing[256];
	struct mw_config *c = NULL;
	struct mw_diag d = {};
	struct stat st;
	_cleanup_free_ char *big = NULL;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/mcpwarden.json", dir);
	snprintf(missing, sizeof(missing), "%s/absent.json", dir);

	/* a missing file: defaults when allowed, an error when named */
	assert_int_equal(config_load(missing, true, &c, &d), 0);
	assert_defaults(c);
	assert_string_equal(c->path, "");
	assert_null(c->root);
	c = config_free(c);
	assert_int_equal(config_load(missing, false, &c, &d), -ENOENT);
	assert_null(c);
	assert_string_equal(d.file, missing);
	assert_string_equal(d.text, "cannot open config file: No such file or directory");

	/* the default path, when absent on this machine, means defaults */
	if (stat(MW_CONFIG_PATH_DEFAULT, &st) < 0) {
		assert_int_equal(config_load(NULL, false, &c, &d), 0);
		assert_defaults(c);
		c = config_free(c);
		assert_int_equal(config_load(MW_CONFIG_PATH_DEFAULT, false, &c, &d), 0);
		c = config_free(c);
	}

	/* a real file: its path is in the config and in diagnostics */
	write_file(path, "{\"fail\": \"open\"}\n", 17);
	assert_int_equal(config_load(path, false, &c, &d), 0);
	assert_string_equal(c->path, path);
	assert_int_equal(c->fail, MW_FAIL_OPEN);
	c = config_free(c);
	write_file(path, "{\n\"fail\": \"ajar\"}\n", 18);
	assert_int_equal(config_load(path, false, &c, &d), -EINVAL);
	assert_string_equal(d.file, path);
	assert_int_equal(d.line, 2);
	assert_int_equal(d.column, 9);
	assert_string_equal(d.key, "fail");

	/* a directory is not a config */
	assert_int_equal(config_load(dir, false, &c, &d), -EINVAL);
	assert_string_equal(d.text, "config file is not a regular file");

	/* too large, from a file and from memory */
	big = malloc(MW_CONFIG_MAX_BYTES + 2);
	assert_non_null(big);
	memset(big, ' ', MW_CONFIG_MAX_BYTES + 1);
	big[0] = '{';
	big[MW_CONFIG_MAX_BYTES] = '}';
	write_file(path, big, MW_CONFIG_MAX_BYTES + 1);
	assert_int_equal(config_load(path, false, &c, &d), -EFBIG);
	assert_null(c);
	assert_int_equal(config_parse("mem", big, MW_CONFIG_MAX_BYTES + 1, &c, &d), -EFBIG);
	assert_string_equal(d.file, "mem");
	/* exactly at the limit is fine */
	big[MW_CONFIG_MAX_BYTES - 1] = '}';
	write_file(path, big, MW_CONFIG_MAX_BYTES);
	assert_int_equal(config_load(path, false, &c, &d), 0);
	c = config_free(c);

	unlink(path);
	rmdir(dir);
}

static void test_free_null(void **state)
{
	assert_null(config_free(NULL));
}

static void test_jsonpos(void **state)
{
	static const char text[] =
		"{\n"
		"  \"a\": [1, {\"b~/c\": \"x\"}, [true, null]],\n"
		"  \"k\\u00e9\": {\"\\ud83d\\ude00\": 2, \"q\\\"\": \"\xc3\xa9\xc3\xa9\"},\n"
		"  \"\xc3\xa9\": \"v\", \"z\": {}\n"
		"}";
	static const struct {
		const char *ptr;
		int r, line, column, key_line, key_column;
	} cases[] = {
		{ "", 0, 1, 1, 0, 0 },
		{ "/a", 0, 2, 8, 2, 3 },
		{ "/a/0", 0, 2, 9, 0, 0 },
		{ "/a/1", 0, 2, 12, 0, 0 },
		{ "/a/1/b~0~1c", 0, 2, 21, 2, 13 },
		{ "/a/2/1", 0, 2, 34, 0, 0 },
		{ "/k\xc3\xa9", 0, 3, 14, 3, 3 },
		{ "/k\xc3\xa9/\xf0\x9f\x98\x80", 0, 3, 31, 3, 15 },
		{ "/k\xc3\xa9/q\"", 0, 3, 41, 3, 34 },
		{ "/\xc3\xa9", 0, 4, 8, 4, 3 }, /* columns count characters */
		{ "/z", 0, 4, 18, 4, 13 },
		{ "/a/3", -ENOENT, 0, 0, 0, 0 },
		{ "/a/01", -ENOENT, 0, 0, 0, 0 },
		{ "/a/-", -ENOENT, 0, 0, 0, 0 },
		{ "/a/0/x", -ENOENT, 0, 0, 0, 0 },
		{ "/z/x", -ENOENT, 0, 0, 0, 0 },
		{ "/nope", -ENOENT, 0, 0, 0, 0 },
		{ "/a/1/b~/c", -EINVAL, 0, 0, 0, 0 },
		{ "/a/1/b~", -EINVAL, 0, 0, 0, 0 },
		{ "a", -EINVAL, 0, 0, 0, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct mw_jsonpos pos = { .line = -7 };
		int r = jsonpos_find(text, strlen(text), cases[i].ptr, &pos);

		print_message("pointer '%s'\n", cases[i].ptr);
		assert_int_equal(r, cases[i].r);
		if (r < 0) {
			assert_int_equal(pos.line, -7); /* untouched */
			continue;
		}
		assert_int_equal(pos.line, cases[i].line);
		assert_int_equal(pos.column, cases[i].column);
		assert_int_equal(pos.key_line, cases[i].key_line);
		assert_int_equal(pos.key_column, cases[i].key_column);
	}
}

static void test_jsonpos_malformed(void **state)
{
	static const char *texts[] = {
		"",    "   ",	    "{",	  "{\"a\"",    "{\"a\":", "{\"a\" 1}",
		"[1,", "[1 2]",	    "{\"b\":1,}", "{\"b\":\"", "{\"b\\",  "{\"b\\u12",
		"{,}", "{\"b\":[}", "]",	  "\"str",
	};
	char deep[MW_JSONPOS_MAX_DEPTH * 2 + 64];
	char ptr[MW_JSONPOS_MAX_DEPTH * 2 + 64];
	struct mw_jsonpos pos;
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
		print_message("text '%s'\n", texts[i]);
		assert_true(jsonpos_find(texts[i], strlen(texts[i]), "/a/0", &pos) < 0);
		assert_true(jsonpos_find(texts[i], strlen(texts[i]), "/b/a", &pos) < 0);
	}
	assert_int_equal(jsonpos_find(NULL, 0, "", &pos), -EINVAL);
	assert_int_equal(jsonpos_find("{}", 2, NULL, &pos), -EINVAL);
	assert_int_equal(jsonpos_find_len("{\"a\\u0000b\":1}", 14, "/a\0b", 4, &pos), 0);
	assert_int_equal(pos.column, 13);

	/* nesting beyond the limit is refused, not followed */
	deep[n++] = '{';
	deep[n++] = '"';
	deep[n++] = 'x';
	deep[n++] = '"';
	deep[n++] = ':';
	for (size_t i = 0; i < MW_JSONPOS_MAX_DEPTH + 1; i++)
		deep[n++] = '[';
	deep[n] = '\0';
	assert_int_equal(jsonpos_find("{\"y\":1}", 7, "/x", &pos), -ENOENT);
	memcpy(deep + n, "]", 2);
	assert_int_equal(jsonpos_find(deep, strlen(deep), "/z", &pos), -ELOOP);

	n = 0;
	for (size_t i = 0; i < MW_JSONPOS_MAX_DEPTH + 1; i++) {
		ptr[n++] = '/';
		ptr[n++] = '0';
	}
	ptr[n] = '\0';
	assert_int_equal(jsonpos_find(deep + 5, strlen(deep + 5), ptr, &pos), -ELOOP);
}

static void test_jsonpos_path_at(void **state)
{
	static const char text[] = "{\"a\": [1, {\"b/c\": [2, 3]}], \"d\": {\"e\": 4}}";
	static const struct {
		const char *at; /* the offset is where this substring ends */
		const char *pointer, *dotted;
	} cases[] = {
		{ "{", "", "" },
		{ "\"a\"", "/a", "a" },
		{ "[1", "/a/0", "a[0]" },
		{ "\"b/c\"", "/a/1/b~1c", "a[1].b/c" },
		{ "[2, 3", "/a/1/b~1c/1", "a[1].b/c[1]" },
		{ "\"d\"", "/d", "d" },
		{ "\"e\": 4", "/d/e", "d.e" },
		{ "4}", "/d/e", "d.e" },
		{ "4}}", "/d", "d" },
	};
	char buf[64], small[4];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t off = (size_t)(strstr(text, cases[i].at) - text) + strlen(cases[i].at);

		print_message("at offset %zu\n", off);
		assert_int_equal(jsonpos_path_at(text, strlen(text), off, MW_JSONPOS_POINTER, buf,
						 sizeof(buf)),
				 0);
		assert_string_equal(buf, cases[i].pointer);
		assert_int_equal(jsonpos_path_at(text, strlen(text), off, MW_JSONPOS_DOTTED, buf,
						 sizeof(buf)),
				 0);
		assert_string_equal(buf, cases[i].dotted);
	}
	assert_int_equal(
		jsonpos_path_at(text, strlen(text), 20, MW_JSONPOS_DOTTED, small, sizeof(small)),
		0);
	assert_string_equal(small, "a[1");
	assert_int_equal(jsonpos_path_at(text, strlen(text), 5, MW_JSONPOS_DOTTED, NULL, 0),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_design_example),
		cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_control_socket),
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_error_keeps_ret_untouched),
		cmocka_unit_test(test_durations_sizes),
		cmocka_unit_test(test_cidrs),
		cmocka_unit_test(test_sockaddr),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_free_null),
		cmocka_unit_test(test_jsonpos),
		cmocka_unit_test(test_jsonpos_malformed),
		cmocka_unit_test(test_jsonpos_path_at),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
