/* policy.h: the "policy" object (DESIGN.md) compiled into an immutable, refcounted rule set,
 * and the decision for one MCP request.
 *
 * Owns: struct mw_policy (rules, compiled PCRE2 patterns, SQL class masks) and the trace a
 * decision may carry.  Promises: policy_compile() either returns a complete policy or a
 * diagnostic naming file, line:column and the key ("policy.rules[2].match.tool");
 * evaluation never allocates except for the explain trace and regex match data, and never
 * changes the policy, so one policy may be evaluated from several threads at once.
 * Pure: no I/O, no logging.
 *
 * Semantics (the tests pin each one):
 *  - Rules are tried in order; the first whose match keys all match decides.  No rule
 *    matching means deny: the implicit default (rule -1, MW_POLICY_RULE_DEFAULT).
 *  - Within a list any element matches.  Strings where a list is expected are a list of one.
 *  - Globs: '*' any run (also across '/'), '?' one byte, '[a-z]', '[!x]', '\' escapes.  Hosts
 *    and SNI compare case-insensitively, everything else exactly.  groups compare exactly
 *    (no globs).
 *  - target "host:port" ("[v6]:port", port a number or '*') matches when the host glob
 *    matches the request's host (an address) or its SNI (a name) and the port matches.
 *  - args: a pointer that does not resolve matches only {"exists": false}.  regex runs on
 *    a string's value, or on the compact JSON of any other value (keys sorted).  sql_class
 *    classifies a string with sqlclass; a classifier error counts as "unparseable" and a
 *    non-string value as "unknown"; any listed class present matches.
 *  - A match key that cannot be evaluated (a value over POLICY_MAX_ARGS_BYTES, a regex over
 *    its match limits, no memory) fails closed: the decision is deny with rule -1,
 *    MW_POLICY_RULE_ERROR and error set.  A deny/review rule must not be skipped, nor an
 *    allow rule taken, on something that could not be read. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Limits on the policy (written by operators) and on what is evaluated per request. */
#define POLICY_MAX_RULES 1024
#define POLICY_MAX_LIST 64		    /* elements of any list (globs, groups, uids...) */
#define POLICY_MAX_ARG_MATCHES 32	    /* pointers under one rule's "args" */
#define POLICY_MAX_NAME 128		    /* bytes in a rule name, a mask profile name */
#define POLICY_MAX_GLOB 256		    /* bytes in a glob, a group, a user */
#define POLICY_MAX_REASON 512		    /* bytes in a reason */
#define POLICY_MAX_REGEX 4096		    /* bytes in a regex pattern */
#define POLICY_MAX_POINTER_DEPTH 32	    /* reference tokens in an args pointer */
#define POLICY_MAX_POINTER 1024		    /* bytes in an args pointer */
#define POLICY_MAX_ARGS_BYTES (1024 * 1024) /* a value (or its JSON) matched by regex/SQL */
#define POLICY_REGEX_MATCH_LIMIT 1000000    /* pcre2_set_match_limit() */
#define POLICY_REGEX_DEPTH_LIMIT 10000	    /* pcre2_set_depth_limit() */
#define POLICY_REGEX_HEAP_LIMIT 8192	    /* KiB, pcre2_set_heap_limit() */
#define POLICY_MAX_GROUPS 1024		    /* caller groups considered; more: the rest ignored */

#define MW_POLICY_RULE_DEFAULT "(implicit default)"
#define MW_POLICY_RULE_ERROR "(evaluation error)"
#define MW_POLICY_WHY_MAX 256

enum mw_policy_action {
	MW_POLICY_DENY = 0,
	MW_POLICY_ALLOW = 1,
	MW_POLICY_REVIEW = 2,
};

enum mw_policy_direction {
	MW_POLICY_DIR_UNKNOWN = 0,
	MW_POLICY_DIR_INBOUND = 1,
	MW_POLICY_DIR_OUTBOUND = 2,
};

/* What is known about one request.  Every pointer may be NULL (unknown); a rule that
 * matches on an unknown field does not match. */
struct mw_policy_request {
	const char *sub;
	const char *email;
	const char *const *groups;
	size_t n_groups;
	bool token_present;
	struct {
		const char *unit;
		int64_t uid; /* -1: unknown */
		const char *comm;
		const char *cgroup; /* cgroup2 path */
	} workload;
	const char *host; /* target address or name */
	uint16_t port;	  /* 0: unknown */
	const char *sni;
	enum mw_policy_direction direction;
	const char *method; /* "tools/call" */
	const char *tool;   /* params.name of tools/call */
	const json_t *args; /* params.arguments; borrowed */
};

struct mw_policy_approvers {
	char **groups;
	size_t n_groups;
	char **users;
	size_t n_users;
	char **oidc_groups; /* groups in an approver's token (mcpwarden approve --token) */
	size_t n_oidc_groups;
	unsigned count; /* 1 or 2 distinct approvers */
};

/* One rule considered: matched, or the first match key that failed and why. */
struct mw_policy_trace {
	int rule;
	const char *name;
	bool matched;
	char key[64]; /* "groups", "workload.unit", "args /sql" */
	char why[MW_POLICY_WHY_MAX];
};

/* Strings point into the policy: valid while the caller holds a reference to it. */
struct mw_policy_decision {
	enum mw_policy_action action;
	int rule; /* index of the deciding rule; -1: implicit default or error */
	const char *rule_name;
	const char *mask;   /* masking profile or NULL */
	const char *reason; /* the rule's reason, or the error's; NULL if none */
	const struct mw_policy_approvers *approvers; /* review only, NULL otherwise */
	int error;				     /* 0, or -errno when evaluation failed */
	char error_text[MW_POLICY_WHY_MAX];
	struct mw_policy_trace *trace; /* policy_explain() only; free with _clear() */
	size_t n_trace;
};

struct mw_policy;

/* Compile policy_obj.  file, text and len (the raw JSON it came from; text may be NULL) are
 * for diagnostics only; pointer_prefix is where the object sits in that text ("/policy"
 * inside a config, "" for a policy file) and also prefixes the keys diagnostics name.
 * Returns 0 and *ret_policy (one reference), or -EINVAL with *ret_diag filled, -ENOMEM. */
int policy_compile(json_t *policy_obj, const char *file, const char *text, size_t len,
		   const char *pointer_prefix, struct mw_policy **ret_policy,
		   struct mw_diag *ret_diag);

struct mw_policy *policy_ref(struct mw_policy *p);
/* Drops a reference; frees on the last.  Accepts NULL, returns NULL. */
struct mw_policy *policy_unref(struct mw_policy *p);
static inline void policy_unrefp(struct mw_policy **p)
{
	policy_unref(*p);
}

size_t policy_n_rules(const struct mw_policy *p);
const char *policy_rule_name(const struct mw_policy *p, size_t i);

/* Warnings that do not stop the policy from loading (unreachable rules, no catch-all last
 * rule, review without approvers, ...), each with file:line:column and key.  Returns the
 * number (*ret_warnings: an array to free(), NULL when none) or -ENOMEM. */
int policy_lint(const struct mw_policy *p, struct mw_diag **ret_warnings);

/* Decide.  Always fills *ret (deny on evaluation errors, see above) and returns 0, or
 * -EINVAL for NULL arguments.  policy_explain() adds the trace (one entry per rule tried,
 * the deciding one last) and needs policy_decision_clear(); on -ENOMEM for the trace the
 * decision is still filled, without a trace. */
int policy_eval(const struct mw_policy *p, const struct mw_policy_request *req,
		struct mw_policy_decision *ret);
int policy_explain(const struct mw_policy *p, const struct mw_policy_request *req,
		   struct mw_policy_decision *ret);
void policy_decision_clear(struct mw_policy_decision *d);

const char *policy_action_str(enum mw_policy_action a);
