/* test_policy.c: compiling policies (with exact diagnostics), lint, refcounting, and
 * deciding requests, down to the explain trace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "policy.h"
#include "policy_internal.h"
#include "sqlclass.h"

/* The policy of DESIGN.md's example config, inside a config. */
static const char design_config[] =
	"{\n"
	"  \"listen\": [\"127.0.0.1:15001\"],\n"
	"  \"policy\": {\"rules\": [\n"
	"    {\"name\": \"destructive SQL needs a DBA\",\n"
	"     \"match\": {\"method\": \"tools/call\", \"tool\": \"query\", \"args\": {\"/sql\": "
	"{\"sql_class\": [\"destructive\"]}}},\n"
	"     \"action\": \"review\", \"approvers\": {\"groups\": [\"dba\"]}},\n"
	"    {\"name\": \"finance may query\", \"match\": {\"groups\": [\"finance\"], \"method\": "
	"\"tools/call\", \"tool\": \"query\"},\n"
	"     \"action\": \"allow\", \"mask\": \"pii\"},\n"
	"    {\"name\": \"default\", \"action\": \"deny\"}\n"
	"  ]}\n"
	"}\n";

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		const char *_h = (hay), *_n = (needle);                                            \
		if (!_h || !strstr(_h, _n))                                                        \
			fail_msg("expected '%s' to contain '%s'", _h ? _h : "(null)", _n);         \
	} while (0)

static struct mw_policy *compile_at(const char *text, const char *prefix)
{
	struct mw_policy *p = NULL;
	json_error_t err;
	struct mw_diag d;
	json_t *root, *obj;
	int r;

	root = json_loads(text, JSON_REJECT_DUPLICATES, &err);
	if (!root)
		fail_msg("test policy is not JSON: %d:%d: %s", err.line, err.column, err.text);
	obj = *prefix ? json_object_get(root, prefix + 1) : root;
	r = policy_compile(obj, "test.json", text, strlen(text), prefix, &p, &d);
	if (r < 0)
		fail_msg("expected the policy to compile, got %d: %s:%d:%d: %s: %s", r, d.file,
			 d.line, d.column, d.key, d.text);
	json_decref(root);
	return p;
}

static struct mw_policy *compile(const char *text)
{
	return compile_at(text, "");
}

/* Compile a broken policy and check where and what. */
static void check_error(const char *text, int line, int column, const char *key,
			const char *msg)
{
	struct mw_policy *p = NULL;
	json_error_t err;
	struct mw_diag d;
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &err);
	int r;

	if (!root)
		fail_msg("test policy is not JSON: %d:%d: %s", err.line, err.column, err.text);
	r = policy_compile(root, "bad.json", text, strlen(text), "", &p, &d);
	json_decref(root);
	if (r != -EINVAL)
		fail_msg("expected -EINVAL for %s, got %d", key, r);
	assert_null(p);
	assert_string_equal(d.file, "bad.json");
	assert_string_equal(d.key, key);
	if (d.line != line || d.column != column)
		fail_msg("%s: expected %d:%d, got %d:%d (%s)", key, line, column, d.line, d.column,
			 d.text);
	assert_contains(d.text, msg);
}

/* A request with everything unknown. */
static struct mw_policy_request req(void)
{
	return (struct mw_policy_request){ .workload.uid = -1 };
}

static void expect(const struct mw_policy *p, const struct mw_policy_request *q,
		   enum mw_policy_action action, int rule)
{
	struct mw_policy_decision d;

	assert_int_equal(policy_eval(p, q, &d), 0);
	if (d.action != action || d.rule != rule)
		fail_msg("expected %s by rule %d, got %s by rule %d ('%s')",
			 policy_action_str(action), rule, policy_action_str(d.action), d.rule,
			 d.rule_name);
}

static json_t *args(const char *text)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);

	assert_non_null(v);
	return v;
}

/* --- the DESIGN.md example ------------------------------------------------------------ */

static void test_design_example(void **state)
{
	struct mw_policy *p = compile_at(design_config, "/policy");
	const char *finance[] = { "finance", "staff" }, *eng[] = { "eng" }, *dba[] = { "dba" };
	struct mw_policy_request q = req();
	struct mw_policy_decision d;
	json_t *a;

	assert_int_equal(policy_n_rules(p), 3);
	assert_string_equal(policy_rule_name(p, 1), "finance may query");
	assert_null(policy_rule_name(p, 3));

	q.sub = "alice";
	q.groups = finance;
	q.n_groups = 2;
	q.method = "tools/call";
	q.tool = "query";
	q.args = a = args("{\"sql\": \"SELECT * FROM invoices WHERE id = 1\"}");
	assert_int_equal(policy_eval(p, &q, &d), 0);
	assert_int_equal(d.action, MW_POLICY_ALLOW);
	assert_int_equal(d.rule, 1);
	assert_string_equal(d.rule_name, "finance may query");
	assert_string_equal(d.mask, "pii");
	assert_null(d.approvers);
	assert_null(d.trace);
	json_decref(a);

	static const char *const destructive[] = {
		"DROP TABLE invoices", "DELETE FROM invoices", "TRUNCATE invoices",
		"UPDATE invoices SET paid = true", "select 1; drop table x",
		"SELECT 1 /* ; */ ; DROP TABLE invoices", "ALTER TABLE t DROP COLUMN c",
	};
	for (size_t i = 0; i < ARRAY_SIZE(destructive); i++) {
		q.args = a = json_pack("{ss}", "sql", destructive[i]);
		assert_int_equal(policy_eval(p, &q, &d), 0);
		if (d.action != MW_POLICY_REVIEW || d.rule != 0)
			fail_msg("'%s': expected review by rule 0, got %s by %d", destructive[i],
				 policy_action_str(d.action), d.rule);
		assert_non_null(d.approvers);
		assert_int_equal(d.approvers->n_groups, 1);
		assert_string_equal(d.approvers->groups[0], "dba");
		assert_int_equal(d.approvers->count, 1);
		json_decref(a);
	}

	/* the same destructive statement from someone else: still review */
	q.groups = dba;
	q.n_groups = 1;
	q.args = a = args("{\"sql\": \"DROP TABLE x\"}");
	expect(p, &q, MW_POLICY_REVIEW, 0);
	json_decref(a);
	/* eng may not query at all */
	q.groups = eng;
	q.args = a = args("{\"sql\": \"SELECT 1\"}");
	expect(p, &q, MW_POLICY_DENY, 2);
	q.groups = NULL;
	q.n_groups = 0;
	expect(p, &q, MW_POLICY_DENY, 2);
	/* finance, another tool or method */
	q.groups = finance;
	q.n_groups = 2;
	q.tool = "drop_everything";
	expect(p, &q, MW_POLICY_DENY, 2);
	q.tool = "query";
	q.method = "tools/list";
	expect(p, &q, MW_POLICY_DENY, 2);
	q.method = "tools/call";
	json_decref(a);
	/* no /sql at all: the SQL rule does not match, finance's does */
	q.args = a = args("{\"query\": \"DROP TABLE x\"}");
	expect(p, &q, MW_POLICY_ALLOW, 1);
	json_decref(a);
	/* a non-string is "unknown", not destructive: finance's rule decides (lint warns) */
	q.args = a = args("{\"sql\": [\"DROP TABLE x\"]}");
	expect(p, &q, MW_POLICY_ALLOW, 1);
	json_decref(a);
	q.args = NULL;
	expect(p, &q, MW_POLICY_ALLOW, 1);
	policy_unref(p);
}

/* --- match keys ------------------------------------------------------------------------ */

static void test_match_identity(void **state)
{
	struct mw_policy *p = compile("{\"rules\": ["
				      "{\"name\": \"g\", \"match\": {\"groups\": [\"a\", \"b\"]}, "
				      "\"action\": \"allow\"},"
				      "{\"name\": \"s\", \"match\": {\"subjects\": \"svc-*\"}, "
				      "\"action\": \"review\", \"approvers\": {\"users\": [\"x\"]}},"
				      "{\"name\": \"t\", \"match\": {\"token\": \"absent\"}, "
				      "\"action\": \"deny\", \"reason\": \"no token\"},"
				      "{\"name\": \"tp\", \"match\": {\"token\": \"present\"}, "
				      "\"action\": \"allow\", \"mask\": \"m\"}]}");
	const char *b[] = { "x", "b" }, *c[] = { "c", "A" };
	struct mw_policy_request q = req();
	struct mw_policy_decision d;

	q.groups = b;
	q.n_groups = 2;
	expect(p, &q, MW_POLICY_ALLOW, 0);
	q.groups = c; /* groups compare exactly: "A" is not "a" */
	q.sub = "svc-billing";
	expect(p, &q, MW_POLICY_REVIEW, 1);
	q.sub = "alice";
	assert_int_equal(policy_eval(p, &q, &d), 0);
	assert_int_equal(d.rule, 2);
	assert_string_equal(d.reason, "no token");
	assert_null(d.mask);
	q.token_present = true;
	assert_int_equal(policy_eval(p, &q, &d), 0);
	assert_int_equal(d.rule, 3);
	assert_string_equal(d.mask, "m");
	q.sub = NULL; /* unknown subject: the subjects rule does not match */
	expect(p, &q, MW_POLICY_ALLOW, 3);
	policy_unref(p);
}

static void test_match_workload(void **state)
{
	struct mw_policy *p = compile(
		"{\"rules\": ["
		"{\"name\": \"unit\", \"match\": {\"workload\": {\"unit\": \"mcp-*.service\"}}, "
		"\"action\": \"allow\"},"
		"{\"name\": \"uid\", \"match\": {\"workload\": {\"uid\": [0, 1000]}}, "
		"\"action\": \"allow\"},"
		"{\"name\": \"comm\", \"match\": {\"workload\": {\"comm\": [\"node\", \"py*\"]}}, "
		"\"action\": \"allow\"},"
		"{\"name\": \"cg\", \"match\": {\"workload\": {\"cgroup\": \"/mcp.slice/*\", "
		"\"uid\": 7}}, \"action\": \"allow\"}]}");
	struct mw_policy_request q = req();

	q.workload.unit = "mcp-gateway.service";
	expect(p, &q, MW_POLICY_ALLOW, 0);
	q.workload.unit = "other.service";
	expect(p, &q, MW_POLICY_DENY, -1);
	q.workload.uid = 1000;
	expect(p, &q, MW_POLICY_ALLOW, 1);
	q.workload.uid = 7;
	q.workload.comm = "python3";
	expect(p, &q, MW_POLICY_ALLOW, 2);
	q.workload.comm = "bash";
	q.workload.cgroup = "/mcp.slice/gw.service";
	expect(p, &q, MW_POLICY_ALLOW, 3);
	q.workload.uid = 8; /* both cgroup and uid must match */
	expect(p, &q, MW_POLICY_DENY, -1);
	policy_unref(p);
}

static void test_match_network(void **state)
{
	struct mw_policy *p = compile(
		"{\"rules\": ["
		"{\"name\": \"ip\", \"match\": {\"target\": [\"10.0.0.*:5432\"]}, \"action\": "
		"\"allow\"},"
		"{\"name\": \"name\", \"match\": {\"target\": \"*.internal.example:*\", "
		"\"direction\": \"outbound\"}, \"action\": \"allow\"},"
		"{\"name\": \"v6\", \"match\": {\"target\": \"[::1]:443\"}, \"action\": \"allow\"},"
		"{\"name\": \"sni\", \"match\": {\"sni\": [\"API.example.com\"]}, \"action\": "
		"\"allow\"},"
		"{\"name\": \"in\", \"match\": {\"direction\": \"inbound\"}, \"action\": \"review\", "
		"\"approvers\": {\"groups\": \"sec\"}}]}");
	struct mw_policy_request q = req();

	q.host = "10.0.0.7";
	q.port = 5432;
	expect(p, &q, MW_POLICY_ALLOW, 0);
	q.port = 5433;
	expect(p, &q, MW_POLICY_DENY, -1);
	q.sni = "mcp.INTERNAL.example"; /* the host glob also matches the SNI, any case */
	expect(p, &q, MW_POLICY_DENY, -1); /* direction unknown */
	q.direction = MW_POLICY_DIR_OUTBOUND;
	expect(p, &q, MW_POLICY_ALLOW, 1);
	q.sni = NULL;
	q.host = "::1";
	q.port = 443;
	expect(p, &q, MW_POLICY_ALLOW, 2);
	q.host = "192.0.2.1";
	q.sni = "api.example.com";
	expect(p, &q, MW_POLICY_ALLOW, 3);
	q.sni = "api.example.org";
	q.direction = MW_POLICY_DIR_INBOUND;
	expect(p, &q, MW_POLICY_REVIEW, 4);
	policy_unref(p);
}

static void test_match_mcp(void **state)
{
	struct mw_policy *p = compile(
		"{\"rules\": ["
		"{\"name\": \"res\", \"match\": {\"method\": \"resources/*\"}, \"action\": \"allow\"},"
		"{\"name\": \"fs\", \"match\": {\"method\": \"tools/call\", \"tool\": [\"read_*\", "
		"\"list_?\"]}, \"action\": \"allow\"},"
		"{\"name\": \"no tool\", \"match\": {\"tool\": \"*\"}, \"action\": \"review\", "
		"\"approvers\": {\"users\": [\"root\"]}}]}");
	struct mw_policy_request q = req();

	q.method = "resources/read";
	expect(p, &q, MW_POLICY_ALLOW, 0);
	q.method = "resources";
	expect(p, &q, MW_POLICY_DENY, -1);
	q.method = "tools/call";
	q.tool = "read_file";
	expect(p, &q, MW_POLICY_ALLOW, 1);
	q.tool = "list_x";
	expect(p, &q, MW_POLICY_ALLOW, 1);
	q.tool = "list_xy";
	expect(p, &q, MW_POLICY_REVIEW, 2);
	q.tool = NULL; /* "*" still needs a tool */
	expect(p, &q, MW_POLICY_DENY, -1);
	policy_unref(p);
}

static void test_match_args(void **state)
{
	struct mw_policy *p = compile(
		"{\"rules\": ["
		"{\"name\": \"rx\", \"match\": {\"args\": {\"/path\": {\"regex\": \"^/etc/\"}}}, "
		"\"action\": \"deny\"},"
		"{\"name\": \"num\", \"match\": {\"args\": {\"/n\": {\"regex\": \"^4[0-9]$\"}}}, "
		"\"action\": \"deny\"},"
		"{\"name\": \"obj\", \"match\": {\"args\": {\"/o\": {\"regex\": "
		"\"^\\\\{\\\"a\\\":1,\\\"b\\\":2\\\\}$\"}}}, \"action\": \"deny\"},"
		"{\"name\": \"eq\", \"match\": {\"args\": {\"/opts/mode\": {\"equals\": [1, "
		"\"x\"]}}}, \"action\": \"deny\"},"
		"{\"name\": \"ex\", \"match\": {\"args\": {\"/a~1b/0\": {\"exists\": true}}}, "
		"\"action\": \"deny\"},"
		"{\"name\": \"sql\", \"match\": {\"args\": {\"/q\": {\"sql_class\": [\"privilege\", "
		"\"unparseable\"]}, \"/q2\": {\"exists\": false}}}, \"action\": \"deny\"},"
		"{\"name\": \"all\", \"match\": {\"args\": {\"\": {\"regex\": \"secret\"}}}, "
		"\"action\": \"deny\"},"
		"{\"name\": \"default\", \"action\": \"allow\"}]}");
	static const struct {
		const char *args;
		int rule;
	} cases[] = {
		{ "{\"path\": \"/etc/passwd\"}", 0 },
		{ "{\"path\": \"/home/etc/x\"}", 7 },
		{ "{\"path\": 5}", 7 },
		{ "{\"n\": 42}", 1 },
		{ "{\"n\": \"42\"}", 1 },
		{ "{\"n\": 420}", 7 },
		{ "{\"o\": {\"b\": 2, \"a\": 1}}", 2 }, /* serialised compact, keys sorted */
		{ "{\"opts\": {\"mode\": [1, \"x\"]}}", 3 },
		{ "{\"opts\": {\"mode\": [1, \"y\"]}}", 7 },
		{ "{\"a/b\": [0]}", 4 },
		{ "{\"a/b\": []}", 7 },
		{ "{\"q\": \"GRANT ALL ON t TO bob\"}", 5 },
		{ "{\"q\": \"SELECT 'oops\"}", 5 },
		{ "{\"q\": \"SELECT 1\"}", 7 },
		{ "{\"q\": \"GRANT ALL ON t TO bob\", \"q2\": 1}", 7 },
		{ "{\"x\": [\"my secret\"]}", 6 },
		{ "[0, 1]", 7 },
		{ "\"not an object\"", 7 },
	};
	struct mw_policy_request q = req();

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct mw_policy_decision d;

		q.args = args(cases[i].args);
		assert_int_equal(policy_eval(p, &q, &d), 0);
		if (d.rule != cases[i].rule)
			fail_msg("args %s: expected rule %d, got %d (%s)", cases[i].args,
				 cases[i].rule, d.rule, d.rule_name);
		json_decref((json_t *)q.args);
	}
	policy_unref(p);
}

static void test_globs(void **state)
{
	static const struct {
		const char *pat, *s;
		bool fold, want;
	} cases[] = {
		{ "*", "", false, true },	       { "*", "anything/at/all", false, true },
		{ "a*b", "ab", false, true },	       { "a*b", "axxbxb", false, true },
		{ "a*b", "axxbx", false, false },      { "?", "", false, false },
		{ "?x", "yx", false, true },	       { "[a-c]1", "b1", false, true },
		{ "[a-c]1", "d1", false, false },      { "[!a-c]1", "d1", false, true },
		{ "[]]", "]", false, true },	       { "\\*", "*", false, true },
		{ "\\*", "x", false, false },	       { "A.EXAMPLE", "a.example", true, true },
		{ "A.EXAMPLE", "a.example", false, false },
		{ "*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false,
		  false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		if (policy_glob_match(cases[i].pat, cases[i].s, cases[i].fold) != cases[i].want)
			fail_msg("glob '%s' on '%s': expected %d", cases[i].pat, cases[i].s,
				 cases[i].want);
	assert_null(policy_glob_check("a[b]c\\*"));
	assert_non_null(policy_glob_check("a[bc"));
	assert_non_null(policy_glob_check("abc\\"));
}

static void test_first_match(void **state)
{
	struct mw_policy *p = compile("{\"rules\": ["
				      "{\"name\": \"deny eve\", \"match\": {\"subjects\": \"eve\"}, "
				      "\"action\": \"deny\"},"
				      "{\"name\": \"all\", \"action\": \"allow\"},"
				      "{\"name\": \"never\", \"match\": {\"subjects\": \"alice\"}, "
				      "\"action\": \"deny\"}]}");
	struct mw_policy_request q = req();

	q.sub = "eve";
	expect(p, &q, MW_POLICY_DENY, 0);
	q.sub = "alice";
	expect(p, &q, MW_POLICY_ALLOW, 1);
	policy_unref(p);

	/* no rules at all: the implicit default */
	p = compile("{}");
	expect(p, &q, MW_POLICY_DENY, -1);
	policy_unref(p);
}

/* --- evaluation errors fail closed ---------------------------------------------------- */

static void test_eval_errors(void **state)
{
	struct mw_policy *p = compile("{\"rules\": ["
				      "{\"name\": \"bt\", \"match\": {\"args\": {\"/s\": {\"regex\": "
				      "\"^(a|a)*$\"}}}, \"action\": \"deny\"},"
				      "{\"name\": \"big\", \"match\": {\"args\": {\"/b\": {\"regex\": "
				      "\"x\"}}}, \"action\": \"deny\"},"
				      "{\"name\": \"default\", \"action\": \"allow\"}]}");
	struct mw_policy_request q = req();
	struct mw_policy_decision d;
	char *big = malloc(POLICY_MAX_ARGS_BYTES + 2), *s = malloc(64);

	assert_non_null(big);
	memset(big, 'y', POLICY_MAX_ARGS_BYTES + 1);
	big[POLICY_MAX_ARGS_BYTES + 1] = '\0';
	q.args = json_pack("{ss}", "b", big);
	assert_int_equal(policy_eval(p, &q, &d), 0);
	assert_int_equal(d.action, MW_POLICY_DENY);
	assert_int_equal(d.rule, -1);
	assert_int_equal(d.error, -EMSGSIZE);
	assert_string_equal(d.rule_name, MW_POLICY_RULE_ERROR);
	assert_contains(d.reason, "rule 'big': args /b");
	json_decref((json_t *)q.args);

	/* exactly at the limit is evaluated */
	big[POLICY_MAX_ARGS_BYTES] = '\0';
	q.args = json_pack("{ss}", "b", big);
	expect(p, &q, MW_POLICY_ALLOW, 2);
	json_decref((json_t *)q.args);
	free(big);

	/* catastrophic backtracking stops at the match limit, and denies */
	memset(s, 'a', 40);
	strcpy(s + 40, "b");
	q.args = json_pack("{ss}", "s", s);
	assert_int_equal(policy_eval(p, &q, &d), 0);
	assert_int_equal(d.action, MW_POLICY_DENY);
	assert_int_equal(d.rule, -1);
	assert_true(d.error < 0);
	assert_contains(d.error_text, "cannot be evaluated");
	json_decref((json_t *)q.args);
	free(s);
	assert_int_equal(policy_eval(NULL, &q, &d), -EINVAL);
	policy_unref(p);
}

/* --- diagnostics -------------------------------------------------------------------------- */

static void test_diagnostics(void **state)
{
	/* each rule on its own line: line 2 is rules[0] */
#define RULE(s) "{\"rules\": [\n" s "\n]}"
	check_error(RULE("{\"name\": \"a\", \"action\": \"allow\", \"match\": {\"tool\": \"[ab\"}}"),
		    2, 52, "rules[0].match.tool", "bad glob '[ab': has a '[' without its ']'");
	check_error(RULE("{\"name\": \"a\", \"action\": \"allow\",\n \"match\": {\"tools\": \"x\"}}"),
		    3, 12, "rules[0].match.tools", "unknown match key 'tools'");
	check_error(RULE("{\"name\": \"a\", \"action\": \"permit\"}"), 2, 25, "rules[0].action",
		    "expected \"allow\", \"deny\" or \"review\", got a string 'permit'");
	check_error(RULE("{\"action\": \"allow\"}"), 2, 1, "rules[0]", "missing key 'name'");
	check_error(RULE("{\"name\": \"a\"}"), 2, 1, "rules[0]", "missing key 'action'");
	check_error(RULE("{\"name\": \"a\", \"action\": \"deny\"},\n{\"name\": \"a\", \"action\": "
			 "\"deny\"}"),
		    3, 10, "rules[1].name", "duplicate rule name 'a' (also rules[0])");
	check_error(RULE("{\"name\": \"a\", \"action\": \"deny\", \"match\": {\"args\": {\"/sql\": "
			 "{\"regex\": \"a(b\"}}}}"),
		    2, 70, "rules[0].match.args[\"/sql\"].regex",
		    "bad regex at offset 3: missing closing parenthesis");
	check_error(RULE("{\"name\": \"a\", \"action\": \"deny\", \"match\": {\"args\": {\"/sql\": "
			 "{\"sql_class\": [\"read\", \"nuke\"]}}}}"),
		    2, 83, "rules[0].match.args[\"/sql\"].sql_class[1]",
		    "unknown SQL class 'nuke' (valid: read,write,ddl,destructive,privilege,"
		    "copy_program,multi_statement,dangerous_function,unparseable,unknown)");
	check_error(RULE("{\"name\": \"a\", \"action\": \"deny\", \"match\": {\"args\": {\"sql\": "
			 "{\"exists\": true}}}}"),
		    2, 52, "rules[0].match.args.sql", "must start with '/'");
	check_error(RULE("{\"name\": \"a\", \"action\": \"deny\", \"match\": {\"target\": [\"h:1\", "
			 "\"::1:443\"]}}"),
		    2, 61, "rules[0].match.target[1]", "an IPv6 address needs brackets");
	check_error(RULE("{\"name\": \"a\", \"action\": \"deny\", \"match\": {\"target\": "
			 "\"h:70000\"}}"),
		    2, 53, "rules[0].match.target", "bad port '70000'");
	check_error(RULE("{\"name\": \"a\", \"action\": \"deny\", \"match\": {\"workload\": "
			 "{\"uid\": [1, -2]}}}"),
		    2, 67, "rules[0].match.workload.uid[1]", "uid -2 out of range");
	check_error(RULE("{\"name\": \"a\", \"action\": \"deny\", \"match\": {\"groups\": []}}"), 2, 53,
		    "rules[0].match.groups", "an empty list matches nothing");
	check_error(RULE("{\"name\": \"a\", \"action\": \"review\", \"approvers\": {\"count\": 3}}"),
		    2, 58, "rules[0].approvers.count", "expected 1 or 2 approvers");
	check_error(RULE("{\"name\": \"a\", \"action\": \"deny\", \"match\": {\"direction\": "
			 "\"sideways\"}}"),
		    2, 56, "rules[0].match.direction", "expected \"inbound\" or \"outbound\"");
	check_error(RULE("{\"name\": \"a\", \"action\": \"deny\", \"match\": {\"args\": {\"/x\": "
			 "{\"exists\": false, \"equals\": 1}}}}"),
		    2, 58, "rules[0].match.args[\"/x\"]", "cannot be combined");
	check_error(RULE("{\"name\": \"a\", \"action\": \"deny\", \"colour\": \"red\"}"), 2, 33,
		    "rules[0].colour", "unknown key 'colour'");
	check_error("{\"rule\": []}", 1, 2, "rule", "unknown key 'rule' (expected rules)");
	check_error("{\"rules\": {}}", 1, 11, "rules", "expected an array of rules, got an object");
	check_error("[1]", 1, 1, "", "expected a policy object");
#undef RULE
}

static void test_diagnostics_in_config(void **state)
{
	static const char text[] = "{\"listen\": [],\n"
				   " \"policy\": {\"rules\": [\n"
				   "   {\"name\": \"x\", \"action\": \"allow\", \"match\": {\"tool\": 1}}]}}";
	struct mw_policy *p = NULL;
	json_t *root = json_loads(text, 0, NULL);
	struct mw_diag d;
	char buf[1024];

	assert_int_equal(policy_compile(json_object_get(root, "policy"), "mw.json", text,
					strlen(text), "/policy", &p, &d),
			 -EINVAL);
	assert_int_equal(d.line, 3);
	assert_int_equal(d.column, 55);
	assert_string_equal(d.key, "policy.rules[0].match.tool");
	assert_string_equal(mw_diag_format(&d, buf, sizeof(buf)),
			    "mw.json:3:55: key 'policy.rules[0].match.tool': expected a string or an "
			    "array of strings, got a number");
	/* no text: no position, still the key */
	assert_int_equal(policy_compile(json_object_get(root, "policy"), "mw.json", NULL, 0,
					"/policy", &p, &d),
			 -EINVAL);
	assert_int_equal(d.line, 0);
	assert_string_equal(d.key, "policy.rules[0].match.tool");
	json_decref(root);
}

/* --- lint ---------------------------------------------------------------------------------- */

static void test_lint(void **state)
{
	static const char text[] =
		"{\"rules\": [\n"
		"{\"name\": \"r\", \"match\": {\"tool\": \"t\"}, \"action\": \"review\"},\n"
		"{\"name\": \"a\", \"match\": {\"tool\": \"u\"}, \"action\": \"allow\", "
		"\"approvers\": {\"users\": [\"u\"]}},\n"
		"{\"name\": \"d\", \"action\": \"deny\", \"mask\": \"pii\", \"match\": {\"args\": "
		"{\"/q\": {\"sql_class\": \"write\"}}}},\n"
		"{\"name\": \"all\", \"action\": \"deny\"},\n"
		"{\"name\": \"late\", \"action\": \"allow\", \"match\": {\"tool\": \"x\"}}\n"
		"]}";
	struct mw_policy *p = compile(text);
	struct mw_diag *w = NULL;
	int n = policy_lint(p, &w);

	if (n != 5) {
		for (int i = 0; i < n; i++)
			print_message("%d:%d %s: %s\n", w[i].line, w[i].column, w[i].key, w[i].text);
		fail_msg("expected 5 warnings, got %d", n);
	}
	assert_string_equal(w[0].key, "rules[0].action");
	assert_int_equal(w[0].line, 2);
	assert_int_equal(w[0].column, 49);
	assert_contains(w[0].text, "names no approvers");
	assert_string_equal(w[1].key, "rules[1].approvers");
	assert_int_equal(w[1].column, 58);
	assert_contains(w[1].text, "approvers are ignored");
	assert_string_equal(w[2].key, "rules[2].mask");
	assert_contains(w[2].text, "mask is ignored");
	assert_string_equal(w[3].key, "rules[2].match.args[\"/q\"].sql_class");
	assert_contains(w[3].text, "cannot read");
	assert_string_equal(w[4].key, "rules[4]");
	assert_int_equal(w[4].line, 6);
	assert_int_equal(w[4].column, 1);
	assert_contains(w[4].text, "rule 'late' is unreachable: rule 'all' (rules[3])");
	free(w);
	policy_unref(p);

	p = compile("{\"rules\": [{\"name\": \"x\", \"action\": \"allow\", \"match\": {\"tool\": "
		    "\"q\"}}]}");
	n = policy_lint(p, &w);
	assert_int_equal(n, 1);
	assert_string_equal(w[0].key, "rules");
	assert_int_equal(w[0].column, 11);
	assert_contains(w[0].text, "no catch-all rule at the end");
	free(w);
	policy_unref(p);

	p = compile_at(design_config, "/policy");
	n = policy_lint(p, &w);
	assert_int_equal(n, 1); /* the unreadable-SQL advice */
	assert_string_equal(w[0].key, "policy.rules[0].match.args[\"/sql\"].sql_class");
	assert_int_equal(w[0].line, 5);
	free(w);
	policy_unref(p);
}

/* --- refcounting and explain ----------------------------------------------------------- */

static void test_refcount(void **state)
{
	struct mw_policy *p = compile("{\"rules\": [{\"name\": \"all\", \"action\": \"allow\"}]}");
	struct mw_policy *held = policy_ref(p);
	struct mw_policy_request q = req();
	struct mw_policy_decision d;

	assert_ptr_equal(held, p);
	/* a reload drops the daemon's reference; the request in flight still holds one */
	assert_null(policy_unref(p));
	assert_int_equal(policy_eval(held, &q, &d), 0);
	assert_string_equal(d.rule_name, "all");
	assert_null(policy_unref(held));
	assert_null(policy_unref(NULL));
	assert_null(policy_ref(NULL));
}

static void test_explain(void **state)
{
	struct mw_policy *p = compile_at(design_config, "/policy");
	const char *eng[] = { "eng" };
	struct mw_policy_request q = req();
	struct mw_policy_decision d;

	q.groups = eng;
	q.n_groups = 1;
	q.method = "tools/call";
	q.tool = "query";
	q.args = args("{\"sql\": \"SELECT 1\"}");
	assert_int_equal(policy_explain(p, &q, &d), 0);
	assert_int_equal(d.rule, 2);
	assert_int_equal(d.n_trace, 3);
	assert_false(d.trace[0].matched);
	assert_string_equal(d.trace[0].name, "destructive SQL needs a DBA");
	assert_string_equal(d.trace[0].key, "args /sql");
	assert_string_equal(d.trace[0].why, "sql_class read does not include destructive");
	assert_string_equal(d.trace[1].key, "groups");
	assert_string_equal(d.trace[1].why, "caller has [eng], rule wants [finance]");
	assert_true(d.trace[2].matched);
	assert_string_equal(d.trace[2].why, "matches every request");
	policy_decision_clear(&d);
	assert_null(d.trace);
	json_decref((json_t *)q.args);

	q.args = NULL;
	q.tool = "other";
	assert_int_equal(policy_explain(p, &q, &d), 0);
	assert_string_equal(d.trace[0].key, "tool");
	assert_string_equal(d.trace[0].why, "'other' does not match [query]");
	policy_decision_clear(&d);
	q.tool = "query";
	assert_int_equal(policy_explain(p, &q, &d), 0);
	assert_string_equal(d.trace[0].why, "does not resolve");
	policy_decision_clear(&d);
	q.tool = NULL;
	assert_int_equal(policy_explain(p, &q, &d), 0);
	assert_string_equal(d.trace[0].why, "request has no tool, rule wants [query]");
	policy_decision_clear(&d);
	policy_unref(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_design_example),
		cmocka_unit_test(test_match_identity),
		cmocka_unit_test(test_match_workload),
		cmocka_unit_test(test_match_network),
		cmocka_unit_test(test_match_mcp),
		cmocka_unit_test(test_match_args),
		cmocka_unit_test(test_globs),
		cmocka_unit_test(test_first_match),
		cmocka_unit_test(test_eval_errors),
		cmocka_unit_test(test_diagnostics),
		cmocka_unit_test(test_diagnostics_in_config),
		cmocka_unit_test(test_lint),
		cmocka_unit_test(test_refcount),
		cmocka_unit_test(test_explain),
	};

	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
