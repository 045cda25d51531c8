/* policy_internal.h: the compiled policy, shared by policy.c (compile, lint) and
 * policy_eval.c (evaluation).  Not part of the API: see policy.h. */
#pragma once

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "policy.h"

enum {
	K_DIRECTION,
	K_TOKEN,
	K_METHOD,
	K_TOOL,
	K_GROUPS,
	K_SUBJECTS,
	K_UNIT,
	K_UID,
	K_COMM,
	K_CGROUP,
	K_TARGET,
	K_SNI,
	K_ARGS,
	K_MAX,
};

struct str_list {
	char **v;
	unsigned n;
};

struct target_pat {
	char *host;
	uint16_t port; /* 0: any */
};

struct arg_match {
	char *pointer;
	char **tok;
	unsigned n_tok;
	pcre2_code *re;
	char *regex;
	uint32_t sql_mask;
	json_t *equals;
	int exists; /* -1: not given */
};

struct rule {
	char *name;
	enum mw_policy_action action;
	char *mask;
	char *reason;
	struct mw_policy_approvers approvers;
	bool has_approvers;
	uint32_t keys;		  /* 1 << K_... given */
	struct str_list l[K_MAX]; /* the glob and group lists, by key */
	int64_t uids[POLICY_MAX_LIST];
	unsigned n_uids;
	struct target_pat *targets;
	unsigned n_targets;
	enum mw_policy_direction direction;
	bool token;
	struct arg_match *args;
	unsigned n_args;
};

struct mw_policy {
	int refs;
	struct rule *rules;
	size_t n_rules;
	pcre2_match_context *mctx;
	struct mw_diag *warnings;
	size_t n_warnings, cap_warnings;
};

/* Globs: see policy.h.  NULL if g is well-formed, else why not. */
const char *policy_glob_check(const char *g);
/* f: compare ASCII letters case-insensitively. */
bool policy_glob_match(const char *p, const char *s, bool f);
/* Append n bytes of s to buf (size, *len), cut at size - 1, always NUL-terminated. */
void policy_str_append(char *buf, size_t size, size_t *len, const char *s, size_t n);

/* Frees whatever a partly compiled policy holds. */
void policy_free(struct mw_policy *p);
