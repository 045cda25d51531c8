/* fuzz_policy.c: arbitrary JSON text as a policy (bare, and under a config's "policy" key)
 * into policy_compile(); whatever compiles is linted and asked a few fixed requests, plus
 * one whose arguments are the input document itself.
 *
 * Invariants beyond "no crash": a failed compile leaves no policy and a NUL-terminated
 * diagnostic; a decision's rule index is -1 or within the policy, its action one of the
 * three, its name never NULL; the explain trace agrees with the decision. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

static void check_decision(const struct mw_policy *p, const struct mw_policy_request *q)
{
	struct mw_policy_decision d, e;
	size_t n = policy_n_rules(p);

	if (policy_eval(p, q, &d) != 0 || policy_explain(p, q, &e) != 0)
		abort();
	if (d.rule < -1 || (d.rule >= 0 && (size_t)d.rule >= n) || !d.rule_name ||
	    d.action > MW_POLICY_REVIEW || (d.rule == -1 && d.action != MW_POLICY_DENY) ||
	    (d.approvers && d.action != MW_POLICY_REVIEW) || (d.error && d.rule != -1))
		abort();
	if (e.rule != d.rule || e.action != d.action || e.n_trace > n)
		abort();
	if (e.trace && d.rule >= 0 &&
	    (e.n_trace != (size_t)d.rule + 1 || !e.trace[d.rule].matched))
		abort();
	if (d.rule >= 0 && strcmp(d.rule_name, policy_rule_name(p, (size_t)d.rule)))
		abort();
	policy_decision_clear(&e);
}

static void try_policy(json_t *obj, const char *text, size_t size, const char *prefix,
		       json_t *root)
{
	static const char *const groups[] = { "finance", "dba", "eng" };
	struct mw_policy *p = NULL;
	struct mw_diag d, *w = NULL;
	struct mw_policy_request q = {
		.sub = "alice",
		.groups = groups,
		.n_groups = 3,
		.token_present = true,
		.workload = { .unit = "mcp-gateway.service", .uid = 1000, .comm = "node",
			      .cgroup = "/mcp.slice/mcp-gateway.service" },
		.host = "10.0.0.7",
		.port = 5432,
		.sni = "db.internal.example",
		.direction = MW_POLICY_DIR_OUTBOUND,
		.method = "tools/call",
		.tool = "query",
	};
	json_t *a;
	int n;

	if (policy_compile(obj, "fuzz.json", text, size, prefix, &p, &d) < 0) {
		if (p || !memchr(d.text, '\0', sizeof(d.text)) || !memchr(d.key, '\0', sizeof(d.key)))
			abort();
		return;
	}
	n = policy_lint(p, &w);
	if (n < 0 || (n > 0 && !w))
		abort();
	free(w);

	a = json_pack("{ss s{si} s[ss]}", "sql", "DELETE FROM t", "o", "n", 42, "path", "/etc",
		      "x");
	q.args = a;
	check_decision(p, &q);
	json_decref(a);
	q.args = root;
	check_decision(p, &q);
	memset(&q, 0, sizeof(q));
	q.workload.uid = -1;
	check_decision(policy_ref(p), &q);
	policy_unref(p);
	policy_unref(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	json_error_t err;
	json_t *root, *inner;

	root = json_loadb(text, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
	if (!root)
		return 0;
	try_policy(root, text, size, "", root);
	inner = json_is_object(root) ? json_object_get(root, "policy") : NULL;
	if (inner)
		try_policy(inner, text, size, "/policy", root);
	json_decref(root);
	return 0;
}
