/* test_approval.c: the approvals registry and grants (agent/approval.c, approval_grants.c):
 * ids, eligibility, self-approval, two approvers, waiters and hold limits, expiry, the one
 * pass an approval gives, grants (matching, expiry, revocation) and the grants file. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "approval.h"

#define SEC 1000000ULL
#define T0 (1700000000ULL * SEC)

struct events {
	int n[8];
	char last_id[16];
};

static void on_event(void *ud, enum mw_approval_event e, const struct mw_approval *a,
		     const struct mw_grant *g)
{
	struct events *ev = ud;

	ev->n[e]++;
	snprintf(ev->last_id, sizeof(ev->last_id), "%s", a ? approval_id(a) : g->id);
}

static char *dba_groups[] = { "dba" };
static char *sre_groups[] = { "sre" };
static char *dave[] = { "dave" };

static const struct mw_approval_rule rule1 = {
	.groups = dba_groups, .n_groups = 1, .users = dave, .n_users = 1,
	.oidc_groups = sre_groups, .n_oidc_groups = 1, .count = 1,
};
static const struct mw_approval_rule rule2 = { .groups = dba_groups, .n_groups = 1, .count = 2 };

static struct mw_approval_request request(const json_t *args, const struct mw_approval_rule *who)
{
	return (struct mw_approval_request){
		.sub = "alice", .groups = "finance", .unit = "gw.service", .comm = "node",
		.uid = 1000, .target = "127.0.0.1:8080", .method = "tools/call",
		.tool = "execute_sql", .args = args, .rule = "destructive", .approvers = who,
	};
}

static const char *const g_dba[] = { "users", "dba" };
static const char *const g_none[] = { "users" };

static struct mw_approver unix_approver(int64_t uid, const char *user, bool dba)
{
	return (struct mw_approver){ .uid = uid, .user = user, .groups = dba ? g_dba : g_none,
				     .n_groups = dba ? 2 : 1 };
}

struct waiter {
	struct mw_approval_waiter w; /* first */
	int calls;
	enum mw_approval_state state;
};

static void on_wait(struct mw_approval_waiter *w, const struct mw_approval *a,
		    enum mw_approval_state state)
{
	struct waiter *x = (struct waiter *)w;

	x->calls++;
	x->state = state;
}

static size_t list_size(json_t *l)
{
	size_t n = json_array_size(l);

	json_decref(l);
	return n;
}

static void test_ids(void **state)
{
	struct mw_approvals *reg;
	json_t *args = json_pack("{s:s}", "sql", "DELETE FROM t");
	char ids[64][MW_APPROVAL_ID_LEN + 1], lower[MW_APPROVAL_ID_LEN + 1];

	assert_int_equal(approvals_new(600 * SEC, NULL, NULL, &reg), 0);
	for (int i = 0; i < 64; i++) {
		struct mw_approval_request rq = request(args, &rule1);
		struct mw_approval *a;
		char tool[16];

		snprintf(tool, sizeof(tool), "tool%d", i);
		rq.tool = tool; /* a different call each time: a new approval */
		assert_int_equal(approvals_submit(reg, &rq, T0, &a), 0);
		snprintf(ids[i], sizeof(ids[i]), "%s", approval_id(a));
		assert_int_equal(strlen(ids[i]), MW_APPROVAL_ID_LEN);
		assert_int_equal(strspn(ids[i], "0123456789ABCDEFGHJKMNPQRSTVWXYZ"), 8);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(ids[i], ids[j]);
		/* found as typed: lower case, with a dash, O for 0 and I/L for 1 */
		for (int k = 0; k < 8; k++)
			lower[k] = (char)(ids[i][k] >= 'A' ? ids[i][k] - 'A' + 'a' : ids[i][k]);
		lower[8] = 0;
		assert_ptr_equal(approvals_find(reg, lower), a);
	}
	{
		char typed[16];
		struct mw_approval *a = approvals_find(reg, ids[0]);

		snprintf(typed, sizeof(typed), "%.4s-%s", ids[0], ids[0] + 4);
		for (char *p = typed; *p; p++)
			*p = *p == '0' ? 'O' : *p == '1' ? 'l' : *p;
		assert_ptr_equal(approvals_find(reg, typed), a);
	}
	assert_null(approvals_find(reg, "UUUUUUUU")); /* U is not Crockford */
	assert_null(approvals_find(reg, "ABC"));
	{
		json_t *l = approvals_list(reg, false);

		assert_int_equal(json_array_size(l), 64);
		json_decref(l);
	}
	approvals_free(reg);
	json_decref(args);
}

static void test_same_call_same_approval(void **state)
{
	struct mw_approvals *reg;
	json_t *a1 = json_pack("{s:s, s:i}", "sql", "DELETE", "n", 1);
	json_t *a2 = json_pack("{s:i, s:s}", "n", 1, "sql", "DELETE"); /* same, other order */
	json_t *a3 = json_pack("{s:s, s:i}", "sql", "DELETE", "n", 2);
	struct mw_approval_request r1 = request(a1, &rule1), r2 = request(a2, &rule1),
				   r3 = request(a3, &rule1);
	struct mw_approval *x, *y, *z;
	char f1[65], f2[65];

	assert_int_equal(approval_fingerprint(a1, f1), 0);
	assert_int_equal(approval_fingerprint(a2, f2), 0);
	assert_string_equal(f1, f2);
	assert_int_equal(approvals_new(600 * SEC, NULL, NULL, &reg), 0);
	assert_int_equal(approvals_submit(reg, &r1, T0, &x), 0);
	assert_int_equal(approvals_submit(reg, &r2, T0 + SEC, &y), 0);
	assert_int_equal(approvals_submit(reg, &r3, T0 + SEC, &z), 0);
	assert_ptr_equal(x, y); /* a retry waits on the same approval */
	assert_ptr_not_equal(x, z);
	approvals_free(reg);
	json_decref(a1);
	json_decref(a2);
	json_decref(a3);
}

static void test_who_may_approve(void **state)
{
	struct mw_approvals *reg;
	struct events ev = {};
	json_t *args = json_pack("{s:s}", "sql", "DELETE FROM t");
	struct mw_approval_request rq = request(args, &rule1);
	struct mw_approval *a;
	struct mw_approver outsider = unix_approver(1002, "bob", false);
	struct mw_approver self = unix_approver(1000, "alice", true); /* the workload's uid */
	struct mw_approver by_name = unix_approver(1003, "dave", false);
	static const char *const sre[] = { "sre" };
	struct mw_approver oidc_self = { .uid = 0, .user = "root", .sub = "alice",
					 .oidc_groups = sre, .n_oidc_groups = 1 };
	struct mw_approver oidc_other = { .uid = 0, .user = "root", .sub = "erin",
					  .oidc_groups = sre, .n_oidc_groups = 1 };
	char why[512];

	assert_int_equal(approvals_new(600 * SEC, on_event, &ev, &reg), 0);
	assert_int_equal(approvals_submit(reg, &rq, T0, &a), 0);
	assert_int_equal(ev.n[MW_APPROVAL_EV_NEW], 1);
	assert_int_equal(approvals_decide(reg, approval_id(a), &outsider, true, NULL, 0, false,
					  T0, why, sizeof(why)),
			 -EPERM);
	assert_non_null(strstr(why, "not an approver of rule 'destructive'"));
	assert_non_null(strstr(why, "users dave; groups dba; OIDC groups sre"));
	assert_int_equal(approvals_decide(reg, approval_id(a), &self, true, NULL, 0, false, T0,
					  why, sizeof(why)),
			 -EPERM);
	assert_non_null(strstr(why, "own request (same unix uid"));
	assert_int_equal(approvals_decide(reg, approval_id(a), &oidc_self, true, NULL, 0, false,
					  T0, why, sizeof(why)),
			 -EPERM);
	assert_non_null(strstr(why, "same OIDC subject"));
	assert_int_equal(approval_state(a), MW_APPROVAL_PENDING);
	/* a user named in the rule, and an OIDC group, each qualify */
	assert_int_equal(approvals_decide(reg, approval_id(a), &by_name, true, "ok", 0, false, T0,
					  why, sizeof(why)),
			 0);
	assert_int_equal(approval_state(a), MW_APPROVAL_APPROVED);
	assert_int_equal(ev.n[MW_APPROVAL_EV_APPROVED], 1);
	assert_int_equal(approvals_decide(reg, approval_id(a), &oidc_other, true, NULL, 0, false,
					  T0, why, sizeof(why)),
			 -EALREADY);
	assert_int_equal(approvals_decide(reg, "ZZZZZZZZ", &oidc_other, true, NULL, 0, false, T0,
					  why, sizeof(why)),
			 -ENOENT);
	approvals_free(reg);
	json_decref(args);
}

static void test_two_approvers(void **state)
{
	struct mw_approvals *reg;
	struct events ev = {};
	json_t *args = json_pack("{s:s}", "sql", "DROP TABLE t");
	struct mw_approval_request rq = request(args, &rule2);
	struct mw_approval *a;
	struct waiter w = { .w.fn = on_wait };
	struct mw_approver c1 = unix_approver(1001, "carol", true);
	struct mw_approver c1_again = unix_approver(1001, "carol", true);
	struct mw_approver d2 = unix_approver(1004, "dan", true);
	char why[512];

	assert_int_equal(approvals_new(600 * SEC, on_event, &ev, &reg), 0);
	assert_int_equal(approvals_submit(reg, &rq, T0, &a), 0);
	approval_who(a, why, sizeof(why));
	assert_string_equal(why, "2 distinct of: groups dba");
	approval_wait(a, &w.w);
	assert_int_equal(approvals_decide(reg, approval_id(a), &c1, true, NULL, 0, false, T0, why,
					  sizeof(why)),
			 0);
	assert_int_equal(approval_state(a), MW_APPROVAL_PENDING);
	assert_int_equal(ev.n[MW_APPROVAL_EV_PARTIAL], 1);
	assert_int_equal(w.calls, 0);
	assert_int_equal(approvals_decide(reg, approval_id(a), &c1_again, true, NULL, 0, false, T0,
					  why, sizeof(why)),
			 -EEXIST);
	assert_int_equal(approval_state(a), MW_APPROVAL_PENDING);
	assert_int_equal(approvals_decide(reg, approval_id(a), &d2, true, NULL, 0, false, T0, why,
					  sizeof(why)),
			 0);
	assert_int_equal(approval_state(a), MW_APPROVAL_APPROVED);
	assert_int_equal(w.calls, 1);
	assert_int_equal(w.state, MW_APPROVAL_APPROVED);
	assert_null(w.w.a); /* detached */
	{
		json_t *j = approval_to_json(a);

		assert_int_equal(json_array_size(json_object_get(j, "approved_by")), 2);
		assert_string_equal(json_string_value(json_object_get(j, "decided_by")),
				    "carol, dan");
		json_decref(j);
	}
	approvals_free(reg);
	json_decref(args);
}

static void test_deny_expire_hold(void **state)
{
	struct mw_approvals *reg;
	struct events ev = {};
	json_t *args = json_pack("{s:s}", "sql", "DELETE FROM t");
	json_t *args2 = json_pack("{s:s}", "sql", "DELETE FROM u");
	struct mw_approval_request rq = request(args, &rule1), rq2 = request(args2, &rule1);
	struct mw_approval *a, *b;
	struct waiter w1 = { .w.fn = on_wait, .w.deadline = T0 + 30 * SEC };
	struct waiter w2 = { .w.fn = on_wait };
	struct mw_approver c = unix_approver(1001, "carol", true);
	char why[512];

	assert_int_equal(approvals_new(60 * SEC, on_event, &ev, &reg), 0);
	assert_int_equal(approvals_submit(reg, &rq, T0, &a), 0);
	assert_int_equal(approvals_submit(reg, &rq2, T0, &b), 0);
	approval_wait(a, &w1.w);
	approval_wait(b, &w2.w);
	assert_int_equal(approvals_next_due(reg), T0 + 30 * SEC);
	/* the hold limit: the waiter is released, the approval stays pending */
	approvals_tick(reg, T0 + 29 * SEC);
	assert_int_equal(w1.calls, 0);
	approvals_tick(reg, T0 + 30 * SEC);
	assert_int_equal(w1.calls, 1);
	assert_int_equal(w1.state, MW_APPROVAL_PENDING);
	assert_int_equal(approval_state(a), MW_APPROVAL_PENDING);
	/* denied with a reason */
	assert_int_equal(approvals_decide(reg, approval_id(b), &c, false, "not now", 0, false,
					  T0 + 31 * SEC, why, sizeof(why)),
			 0);
	assert_int_equal(w2.state, MW_APPROVAL_DENIED);
	assert_string_equal(approval_reason(b), "not now");
	assert_int_equal(ev.n[MW_APPROVAL_EV_DENIED], 1);
	/* expiry at timeout */
	approvals_tick(reg, T0 + 59 * SEC);
	assert_int_equal(approval_state(a), MW_APPROVAL_PENDING);
	approvals_tick(reg, T0 + 60 * SEC);
	assert_int_equal(approval_state(a), MW_APPROVAL_EXPIRED);
	assert_int_equal(ev.n[MW_APPROVAL_EV_EXPIRED], 1);
	assert_int_equal(approvals_decide(reg, approval_id(a), &c, true, NULL, 0, false,
					  T0 + 61 * SEC, why, sizeof(why)),
			 -EALREADY);
	assert_non_null(strstr(why, "already expired"));
	/* decided entries are forgotten after a while */
	{
		char idb[MW_APPROVAL_ID_LEN + 1];

		snprintf(idb, sizeof(idb), "%s", approval_id(b));
		approvals_tick(reg, T0 + 61 * SEC + MW_APPROVAL_RETAIN_USEC);
		assert_null(approvals_find(reg, idb));
	}
	approvals_free(reg);
	json_decref(args);
	json_decref(args2);
}

static void test_pass_once_and_cancel(void **state)
{
	struct mw_approvals *reg;
	json_t *args = json_pack("{s:s}", "sql", "DELETE FROM t");
	struct mw_approval_request rq = request(args, &rule1);
	struct mw_approval *a;
	struct waiter w = { .w.fn = on_wait };
	struct mw_approver c = unix_approver(1001, "carol", true);
	char why[512], fp[65], id[MW_APPROVAL_ID_LEN + 1];

	assert_int_equal(approval_fingerprint(args, fp), 0);
	assert_int_equal(approvals_new(60 * SEC, NULL, NULL, &reg), 0);
	assert_int_equal(approvals_submit(reg, &rq, T0, &a), 0);
	approval_wait(a, &w.w);
	approval_wait_cancel(&w.w); /* the client went away */
	assert_int_equal(approvals_decide(reg, approval_id(a), &c, true, NULL, 0, false, T0, why,
					  sizeof(why)),
			 0);
	assert_int_equal(w.calls, 0);
	/* the retry of the same call passes once; other callers, tools, arguments do not */
	assert_int_equal(approvals_check(reg, "sub:bob", "execute_sql", "127.0.0.1:8080", fp,
					 T0 + SEC, id),
			 0);
	assert_int_equal(approvals_check(reg, "sub:alice", "other", "127.0.0.1:8080", fp,
					 T0 + SEC, id),
			 0);
	assert_int_equal(approvals_check(reg, "sub:alice", "execute_sql", "127.0.0.1:8080",
					 "00", T0 + SEC, id),
			 0);
	assert_int_equal(approvals_check(reg, "sub:alice", "execute_sql", "127.0.0.1:8080", fp,
					 T0 + SEC, id),
			 1);
	assert_string_equal(id, approval_id(a));
	assert_int_equal(approvals_check(reg, "sub:alice", "execute_sql", "127.0.0.1:8080", fp,
					 T0 + 2 * SEC, id),
			 0);
	approvals_free(reg);
	json_decref(args);
}

static void test_grants(void **state)
{
	struct mw_approvals *reg, *reg2;
	struct events ev = {};
	json_t *args = json_pack("{s:s}", "sql", "DELETE FROM t");
	json_t *other = json_pack("{s:s}", "sql", "DELETE FROM u");
	struct mw_approval_request rq = request(args, &rule1), rq2 = request(other, &rule1);
	struct mw_approval *a, *b;
	struct mw_approver c = unix_approver(1001, "carol", true);
	char why[512], fp[65], fp2[65], id[MW_APPROVAL_ID_LEN + 1], path[] = "/tmp/mwgrantsXXXXXX";
	struct mw_diag diag;
	struct stat st;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(approval_fingerprint(args, fp), 0);
	assert_int_equal(approval_fingerprint(other, fp2), 0);
	assert_int_equal(approvals_new(60 * SEC, on_event, &ev, &reg), 0);
	assert_int_equal(approvals_submit(reg, &rq, T0, &a), 0);
	assert_int_equal(approvals_decide(reg, approval_id(a), &c, true, "window", 3600 * SEC,
					  false, T0, why, sizeof(why)),
			 0);
	assert_int_equal(approvals_submit(reg, &rq2, T0, &b), 0);
	assert_int_equal(approvals_decide(reg, approval_id(b), &c, true, NULL, 60 * SEC, true, T0,
					  why, sizeof(why)),
			 0);
	/* bound to the arguments: many times, while it lasts */
	for (int i = 0; i < 3; i++)
		assert_int_equal(approvals_check(reg, "sub:alice", "execute_sql", "127.0.0.1:8080",
						 fp, T0 + 120 * SEC, id),
				 1);
	assert_string_equal(id, approval_id(a));
	/* the any-arguments grant covered other arguments until it expired at +60 s */
	assert_int_equal(approvals_check(reg, "sub:alice", "execute_sql", "127.0.0.1:8080", "ff",
					 T0 + 59 * SEC, id),
			 1);
	assert_int_equal(approvals_check(reg, "sub:alice", "execute_sql", "127.0.0.1:9090", fp,
					 T0 + 59 * SEC, id),
			 0); /* another target */
	assert_int_equal(list_size(grants_list(reg, T0)), 2);
	/* persisted, mode 0600, restored after a "restart" */
	assert_int_equal(grants_save(reg, path), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(approvals_new(60 * SEC, NULL, NULL, &reg2), 0);
	assert_int_equal(grants_load(reg2, path, T0 + 30 * SEC, &diag), 0);
	assert_int_equal(list_size(grants_list(reg2, T0 + 30 * SEC)), 2);
	assert_int_equal(approvals_check(reg2, "sub:alice", "execute_sql", "127.0.0.1:8080", fp,
					 T0 + 30 * SEC, id),
			 1);
	approvals_free(reg2);
	/* a grant expired by load time is not restored */
	assert_int_equal(approvals_new(60 * SEC, NULL, NULL, &reg2), 0);
	assert_int_equal(grants_load(reg2, path, T0 + 61 * SEC, &diag), 0);
	assert_int_equal(list_size(grants_list(reg2, T0 + 61 * SEC)), 1);
	approvals_free(reg2);
	/* expiry on time, reported; revocation */
	assert_int_equal(approvals_tick(reg, T0 + 59 * SEC), 0);
	assert_int_equal(approvals_tick(reg, T0 + 60 * SEC), 1);
	assert_int_equal(ev.n[MW_APPROVAL_EV_GRANT_EXPIRED], 1);
	assert_int_equal(grants_revoke(reg, approval_id(a)), 0);
	assert_int_equal(ev.n[MW_APPROVAL_EV_REVOKED], 1);
	assert_int_equal(grants_revoke(reg, approval_id(a)), -ENOENT);
	assert_int_equal(approvals_check(reg, "sub:alice", "execute_sql", "127.0.0.1:8080", fp,
					 T0 + 70 * SEC, id),
			 0);
	/* a broken file names itself */
	{
		FILE *f = fopen(path, "we");

		fputs("{\"version\": 1, \"grants\": [{\"id\": 5}]}", f);
		fclose(f);
		assert_int_equal(approvals_new(60 * SEC, NULL, NULL, &reg2), 0);
		assert_int_equal(grants_load(reg2, path, T0, &diag), -EINVAL);
		assert_string_equal(diag.file, path);
		approvals_free(reg2);
	}
	unlink(path);
	approvals_free(reg);
	json_decref(args);
	json_decref(other);
}

static void test_release_all(void **state)
{
	struct mw_approvals *reg;
	json_t *args = json_pack("{s:s}", "sql", "DELETE FROM t");
	struct mw_approval_request rq = request(args, &rule1);
	struct mw_approval *a;
	struct waiter w = { .w.fn = on_wait };

	assert_int_equal(approvals_new(60 * SEC, NULL, NULL, &reg), 0);
	assert_int_equal(approvals_submit(reg, &rq, T0, &a), 0);
	approval_wait(a, &w.w);
	approvals_release_all(reg);
	assert_int_equal(w.calls, 1);
	assert_int_equal(w.state, MW_APPROVAL_EXPIRED);
	assert_string_equal(approval_reason(a), "was not decided before the agent stopped");
	approvals_free(reg);
	json_decref(args);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_same_call_same_approval),
		cmocka_unit_test(test_who_may_approve),
		cmocka_unit_test(test_two_approvers),
		cmocka_unit_test(test_deny_expire_hold),
		cmocka_unit_test(test_pass_once_and_cancel),
		cmocka_unit_test(test_grants),
		cmocka_unit_test(test_release_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
