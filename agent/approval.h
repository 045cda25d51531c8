/* approval.h: just-in-time approvals: the registry of calls waiting for a person, and the
 * grants approvers hand out (DESIGN.md: `review`, -32011, -32012, `mcpwarden pending`).
 *
 * Owns: every approval (pending, then approved / denied / expired, kept a while after the
 * decision so a retry can find it), the waiters a held call registers on one, and the grants
 * (approval.c, approval_grants.c).  Promises: ids are 8 characters of Crockford base32
 * (random, unique among the entries held); an approver is eligible only through the rule's
 * approvers (unix users, unix groups, OIDC groups), never for their own request (same unix
 * uid as the requesting workload, or same OIDC subject); a rule asking for two needs two
 * distinct people; an approved call passes once (its waiter, or one retry of the same call),
 * a grant as often as it lasts.  Pure apart from the clock the caller passes in (wall
 * microseconds) and the random ids: no I/O but the grants file, no logging. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define MW_APPROVAL_ID_LEN 8
#define MW_APPROVALS_MAX 4096		/* entries held (pending + recently decided) */
#define MW_APPROVAL_ARGS_MAX 1024	/* bytes of a call's arguments kept for approvers */
#define MW_APPROVAL_FIELD_MAX 512	/* any other string kept (sub, tool, reason, ...) */
#define MW_APPROVAL_LIST_MAX 64		/* approver users / groups copied from a rule */
#define MW_APPROVER_GROUPS_MAX 256	/* an approver's groups considered */
#define MW_APPROVAL_RETAIN_USEC (3600ULL * 1000000ULL) /* decided entries kept this long */
#define MW_GRANTS_MAX 1024
#define MW_GRANTS_FILE_MAX (4 * 1024 * 1024)

enum mw_approval_state {
	MW_APPROVAL_PENDING = 0,
	MW_APPROVAL_APPROVED,
	MW_APPROVAL_DENIED,
	MW_APPROVAL_EXPIRED,
};

const char *approval_state_str(enum mw_approval_state s);

/* Who may decide (a copy of a policy rule's "approvers"). */
struct mw_approval_rule {
	char **users, **groups, **oidc_groups;
	size_t n_users, n_groups, n_oidc_groups;
	unsigned count; /* 1 or 2 */
};

/* What is held, as the checkpoint saw it.  Strings may be NULL ("" kept). */
struct mw_approval_request {
	const char *sub;    /* OIDC subject, NULL without a token */
	const char *groups; /* comma-separated */
	const char *unit, *comm;
	int64_t uid; /* workload uid, -1 unknown */
	const char *target; /* "host:port" */
	const char *method, *tool;
	const json_t *args; /* borrowed; fingerprinted and kept truncated */
	const char *rule;
	const char *justification;
	const char *session;
	const struct mw_approval_rule *approvers; /* copied */
};

/* The approver at the control socket: the peer's unix identity, plus an OIDC identity when
 * a token was presented and verified. */
struct mw_approver {
	int64_t uid; /* -1: none */
	const char *user; /* unix user name, NULL unknown */
	const char *const *groups; /* unix group names */
	size_t n_groups;
	const char *sub; /* OIDC subject, NULL without a token */
	const char *const *oidc_groups;
	size_t n_oidc_groups;
};

struct mw_approval;
struct mw_approvals;

/* A held call waiting on an approval.  fn hears the decision (state APPROVED, DENIED or
 * EXPIRED; the waiter is already detached), or MW_APPROVAL_PENDING once its own deadline
 * (the hold limit) passed (detached too).  Embedded in the holder, which must detach it
 * with approval_wait_cancel() before it goes away. */
struct mw_approval_waiter {
	void (*fn)(struct mw_approval_waiter *w, const struct mw_approval *a,
		   enum mw_approval_state state);
	uint64_t deadline; /* wall usec; 0: none */
	struct mw_approval *a;
	struct mw_approval_waiter *prev, *next;
};

/* One grant: the key a later call must match exactly, and its life. */
struct mw_grant {
	char id[MW_APPROVAL_ID_LEN + 1];
	char *identity; /* approval_identity() of the requester */
	char *tool, *target;
	char *fingerprint; /* "" : any arguments */
	char *rule, *approved_by, *reason;
	uint64_t created, expires; /* wall usec */
};

/* Events the registry reports to its owner (for journald and the webhook). */
enum mw_approval_event {
	MW_APPROVAL_EV_NEW,
	MW_APPROVAL_EV_APPROVED, /* all approvers have approved */
	MW_APPROVAL_EV_PARTIAL,	 /* one of two approvers has approved */
	MW_APPROVAL_EV_DENIED,
	MW_APPROVAL_EV_EXPIRED,
	MW_APPROVAL_EV_REVOKED, /* a grant revoked */
	MW_APPROVAL_EV_GRANT_EXPIRED,
};
const char *approval_event_str(enum mw_approval_event e);
typedef void (*mw_approval_event_fn)(void *userdata, enum mw_approval_event e,
				     const struct mw_approval *a, const struct mw_grant *g);

int approvals_new(uint64_t timeout_usec, mw_approval_event_fn fn, void *userdata,
		  struct mw_approvals **ret);
struct mw_approvals *approvals_free(struct mw_approvals *reg);
void approvals_set_timeout(struct mw_approvals *reg, uint64_t timeout_usec);

/* "sub:alice", or "workload:UNIT:UID" without a token: what a grant and a retry key on. */
int approval_identity(const char *sub, const char *unit, int64_t uid, char **ret);
/* Lowercase hex SHA-256 of the compact, key-sorted JSON of args (null: of "null"). */
int approval_fingerprint(const json_t *args, char ret[65]);

/* A call that review holds: does something already let it through?  A grant matching
 * (identity, tool, target, fingerprint or any), or an approved entry for the same call not
 * yet used (used up by this call).  Returns 1 with *ret_id (the grant or approval id) when it
 * passes, 0 when not. */
int approvals_check(struct mw_approvals *reg, const char *identity, const char *tool,
		    const char *target, const char *fingerprint, uint64_t now,
		    char ret_id[MW_APPROVAL_ID_LEN + 1]);

/* A new pending approval for req, or the pending one of the same call (same identity, tool,
 * target, fingerprint: a retry waits on the same id).  -ENOSPC when the registry is full. */
int approvals_submit(struct mw_approvals *reg, const struct mw_approval_request *req, uint64_t now,
		     struct mw_approval **ret);

void approval_wait(struct mw_approval *a, struct mw_approval_waiter *w);
void approval_wait_cancel(struct mw_approval_waiter *w);

struct mw_approval *approvals_find(struct mw_approvals *reg, const char *id);

/* Decide as approver.  approve: with for_usec > 0 a grant is made too (bound to the call's
 * arguments unless any_args).  Returns 0 (decided, or one of two approvals recorded),
 * -ENOENT (no such id), -EALREADY (not pending), -EPERM (not an approver of this rule; why
 * says so), -EEXIST (this approver already approved), -ENOSPC (grants full).  Waiters hear
 * the outcome before this returns. */
int approvals_decide(struct mw_approvals *reg, const char *id, const struct mw_approver *who,
		     bool approve, const char *reason, uint64_t for_usec, bool any_args,
		     uint64_t now, char *why, size_t whylen);

/* Expire pending approvals and grants past their time, forget old decided entries, and
 * release waiters past their hold deadline.  Returns the number of grants that expired (the
 * caller saves the file when > 0). */
int approvals_tick(struct mw_approvals *reg, uint64_t now);
/* Every waiter is told EXPIRED (the agent is stopping). */
void approvals_release_all(struct mw_approvals *reg);
/* The next time approvals_tick() has work: the earliest expiry or deadline (0: none). */
uint64_t approvals_next_due(const struct mw_approvals *reg);

/* Accessors for the listing and the replies. */
const char *approval_id(const struct mw_approval *a);
enum mw_approval_state approval_state(const struct mw_approval *a);
const char *approval_rule(const struct mw_approval *a);
const char *approval_reason(const struct mw_approval *a);
/* {"id", "state", "sub", "groups", "unit", "uid", "comm", "target", "method", "tool",
 * "arguments", "fingerprint", "rule", "justification", "session", "created", "expires",
 * "approvers_needed", "approved_by", "decided_by", "reason", "eligible"}; times in ISO 8601. */
json_t *approval_to_json(const struct mw_approval *a);
/* Who must approve, for people: "2 of: users alice; groups dba; OIDC groups sre". */
void approval_who(const struct mw_approval *a, char *buf, size_t size);

/* Pending approvals, oldest first, as a JSON array; all: decided ones too. */
json_t *approvals_list(struct mw_approvals *reg, bool all);

/* Grants (approval_grants.c). */
json_t *grants_list(struct mw_approvals *reg, uint64_t now);
json_t *grant_to_json(const struct mw_grant *g);
/* Remove a grant by id: 0, or -ENOENT. */
int grants_revoke(struct mw_approvals *reg, const char *id);
/* Add (used by approvals_decide and the loader); takes ownership of nothing. */
int grants_add(struct mw_approvals *reg, const struct mw_grant *g);
const struct mw_grant *grants_match(struct mw_approvals *reg, const char *identity,
				    const char *tool, const char *target, const char *fingerprint,
				    uint64_t now);
/* Remove expired grants, reporting each; returns how many. */
int grants_expire(struct mw_approvals *reg, uint64_t now);
uint64_t grants_next_expiry(const struct mw_approvals *reg);
/* The grants file: {"version": 1, "grants": [...]}, written to a temp file, fsynced and
 * renamed over path, mode 0600.  load: expired entries are dropped; a missing file is no
 * grant. */
int grants_save(struct mw_approvals *reg, const char *path);
int grants_load(struct mw_approvals *reg, const char *path, uint64_t now, struct mw_diag *diag);

/* Internal to approval*.c. */
void approvals_emit(struct mw_approvals *reg, enum mw_approval_event e, const struct mw_approval *a,
		    const struct mw_grant *g);
