/* approval.c: the approvals registry; see approval.h. */
#include "approval.h"
#include "approval_internal.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>

struct mw_approval {
	struct mw_approvals *reg;
	struct mw_approval *prev, *next; /* oldest first */
	char id[MW_APPROVAL_ID_LEN + 1];
	enum mw_approval_state state;
	char *identity, *sub, *groups, *unit, *comm, *target, *method, *tool, *args, *rule;
	char *justification, *session;
	char fingerprint[65];
	int64_t uid;
	struct mw_approval_rule who;
	uint64_t created, expires, decided;
	/* approvals so far (two-approver rules): who, by unix uid and OIDC subject */
	char *approved_by[2];
	int64_t approved_uid[2];
	char *approved_sub[2];
	unsigned n_approved;
	char *decided_by, *reason;
	bool used; /* an approved call let through once */
	struct mw_approval_waiter *waiters;
};


static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

const char *approval_state_str(enum mw_approval_state s)
{
	static const char *const names[] = { "pending", "approved", "denied", "expired" };

	return s < ARRAY_SIZE(names) ? names[s] : "?";
}

const char *approval_event_str(enum mw_approval_event e)
{
	static const char *const names[] = { "new",	"approved", "partially_approved",
					     "denied",	"expired",  "revoked",
					     "grant_expired" };

	return e < ARRAY_SIZE(names) ? names[e] : "?";
}

int approvals_new(uint64_t timeout_usec, mw_approval_event_fn fn, void *userdata,
		  struct mw_approvals **ret)
{
	struct mw_approvals *reg = calloc(1, sizeof(*reg));

	if (!reg)
		return -ENOMEM;
	reg->timeout = timeout_usec;
	reg->fn = fn;
	reg->userdata = userdata;
	*ret = reg;
	return 0;
}

void approvals_set_timeout(struct mw_approvals *reg, uint64_t timeout_usec)
{
	reg->timeout = timeout_usec;
}

void approvals_emit(struct mw_approvals *reg, enum mw_approval_event e, const struct mw_approval *a,
		    const struct mw_grant *g)
{
	if (reg->fn)
		reg->fn(reg->userdata, e, a, g);
}

static void list_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void approval_free(struct mw_approval *a)
{
	while (a->waiters)
		approval_wait_cancel(a->waiters);
	free(a->identity);
	free(a->sub);
	free(a->groups);
	free(a->unit);
	free(a->comm);
	free(a->target);
	free(a->method);
	free(a->tool);
	free(a->args);
	free(a->rule);
	free(a->justification);
	free(a->session);
	list_free(a->who.users, a->who.n_users);
	list_free(a->who.groups, a->who.n_groups);
	list_free(a->who.oidc_groups, a->who.n_oidc_groups);
	for (unsigned i = 0; i < 2; i++) {
		free(a->approved_by[i]);
		free(a->approved_sub[i]);
	}
	free(a->decided_by);
	free(a->reason);
	free(a);
}

static void unlink_approval(struct mw_approvals *reg, struct mw_approval *a)
{
	if (a->prev)
		a->prev->next = a->next;
	else
		reg->head = a->next;
	if (a->next)
		a->next->prev = a->prev;
	else
		reg->tail = a->prev;
	reg->n--;
}

struct mw_approvals *approvals_free(struct mw_approvals *reg)
{
	if (!reg)
		return NULL;
	while (reg->head) {
		struct mw_approval *a = reg->head;

		unlink_approval(reg, a);
		approval_free(a);
	}
	grants_clear(reg);
	free(reg);
	return NULL;
}

/* A copy bounded to MW_APPROVAL_FIELD_MAX bytes (cut on a UTF-8 boundary). */
static char *field(const char *s, size_t max)
{
	size_t n;

	if (!s)
		s = "";
	n = strnlen(s, max + 1);
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	return strndup(s, n);
}

static int list_copy(char *const *src, size_t n, char ***ret_v, size_t *ret_n)
{
	char **v;

	if (n > MW_APPROVAL_LIST_MAX)
		n = MW_APPROVAL_LIST_MAX;
	*ret_v = NULL;
	*ret_n = 0;
	if (!n)
		return 0;
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		v[i] = field(src[i], MW_APPROVAL_FIELD_MAX);
		if (!v[i]) {
			list_free(v, i);
			return -ENOMEM;
		}
	}
	*ret_v = v;
	*ret_n = n;
	return 0;
}

int approval_identity(const char *sub, const char *unit, int64_t uid, char **ret)
{
	char *s;
	int n;

	if (sub && *sub)
		n = asprintf(&s, "sub:%s", sub);
	else
		n = asprintf(&s, "workload:%s:%lld", unit ? unit : "", (long long)uid);
	if (n < 0)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int approval_fingerprint(const json_t *args, char ret[65])
{
	uint8_t md[SHA256_DIGEST_LENGTH];
	char *s = args ? json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)
		       : strdup("null");

	if (!s)
		return -ENOMEM;
	SHA256((const unsigned char *)s, strlen(s), md);
	free(s);
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(ret + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* Crockford: case-insensitive, O is 0, I and L are 1; anything else: -1. */
static int crockford_value(char c)
{
	if (c >= 'a' && c <= 'z')
		c = (char)(c - 'a' + 'A');
	if (c == 'O')
		c = '0';
	else if (c == 'I' || c == 'L')
		c = '1';
	for (int i = 0; i < 32; i++)
		if (crockford[i] == c)
			return i;
	return -1;
}

/* The canonical spelling of an id as typed, or -EINVAL. */
static int id_normalize(const char *in, char out[MW_APPROVAL_ID_LEN + 1])
{
	size_t j = 0;

	for (; *in; in++) {
		int v;

		if (*in == '-')
			continue; /* "ABCD-EFGH" reads better aloud */
		v = crockford_value(*in);
		if (v < 0 || j >= MW_APPROVAL_ID_LEN)
			return -EINVAL;
		out[j++] = crockford[v];
	}
	out[j] = 0;
	return j == MW_APPROVAL_ID_LEN ? 0 : -EINVAL;
}

static bool id_taken(struct mw_approvals *reg, const char *id)
{
	for (struct mw_approval *a = reg->head; a; a = a->next)
		if (!strcmp(a->id, id))
			return true;
	return grants_find(reg, id) != NULL;
}

static int id_new(struct mw_approvals *reg, char out[MW_APPROVAL_ID_LEN + 1])
{
	for (int tries = 0; tries < 16; tries++) {
		uint8_t rnd[MW_APPROVAL_ID_LEN];

		if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
			return -errno ?: -EIO;
		for (size_t i = 0; i < MW_APPROVAL_ID_LEN; i++)
			out[i] = crockford[rnd[i] & 31];
		out[MW_APPROVAL_ID_LEN] = 0;
		if (!id_taken(reg, out))
			return 0;
	}
	return -EEXIST;
}

struct mw_approval *approvals_find(struct mw_approvals *reg, const char *id)
{
	char norm[MW_APPROVAL_ID_LEN + 1];

	if (id_normalize(id, norm) < 0)
		return NULL;
	for (struct mw_approval *a = reg->head; a; a = a->next)
		if (!strcmp(a->id, norm))
			return a;
	return NULL;
}

static bool same_call(const struct mw_approval *a, const char *identity, const char *tool,
		      const char *target, const char *fingerprint)
{
	return !strcmp(a->identity, identity) && !strcmp(a->tool, tool ? tool : "") &&
	       !strcmp(a->target, target ? target : "") && !strcmp(a->fingerprint, fingerprint);
}

int approvals_check(struct mw_approvals *reg, const char *identity, const char *tool,
		    const char *target, const char *fingerprint, uint64_t now,
		    char ret_id[MW_APPROVAL_ID_LEN + 1])
{
	const struct mw_grant *g = grants_match(reg, identity, tool, target, fingerprint, now);

	if (g) {
		memcpy(ret_id, g->id, sizeof(g->id));
		return 1;
	}
	for (struct mw_approval *a = reg->head; a; a = a->next) {
		if (a->state != MW_APPROVAL_APPROVED || a->used ||
		    now >= a->decided + reg->timeout ||
		    !same_call(a, identity, tool, target, fingerprint))
			continue;
		a->used = true;
		memcpy(ret_id, a->id, sizeof(a->id));
		return 1;
	}
	return 0;
}

static void forget_oldest_decided(struct mw_approvals *reg)
{
	for (struct mw_approval *a = reg->head; a; a = a->next)
		if (a->state != MW_APPROVAL_PENDING) {
			unlink_approval(reg, a);
			approval_free(a);
			return;
		}
}

int approvals_submit(struct mw_approvals *reg, const struct mw_approval_request *req, uint64_t now,
		     struct mw_approval **ret)
{
	_cleanup_free_ char *identity = NULL, *args = NULL;
	char fp[65];
	struct mw_approval *a;
	int r;

	r = approval_identity(req->sub, req->unit, req->uid, &identity);
	if (r < 0)
		return r;
	r = approval_fingerprint(req->args, fp);
	if (r < 0)
		return r;
	for (a = reg->head; a; a = a->next)
		if (a->state == MW_APPROVAL_PENDING &&
		    same_call(a, identity, req->tool, req->target, fp)) {
			*ret = a;
			return 0;
		}
	if (reg->n >= MW_APPROVALS_MAX)
		forget_oldest_decided(reg);
	if (reg->n >= MW_APPROVALS_MAX)
		return -ENOSPC;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->reg = reg;
	r = id_new(reg, a->id);
	if (r < 0) {
		free(a);
		return r;
	}
	args = req->args ? json_dumps(req->args, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	a->identity = TAKE_PTR(identity);
	memcpy(a->fingerprint, fp, sizeof(fp));
	a->sub = field(req->sub, MW_APPROVAL_FIELD_MAX);
	a->groups = field(req->groups, MW_APPROVAL_FIELD_MAX);
	a->unit = field(req->unit, MW_APPROVAL_FIELD_MAX);
	a->comm = field(req->comm, MW_APPROVAL_FIELD_MAX);
	a->target = field(req->target, MW_APPROVAL_FIELD_MAX);
	a->method = field(req->method, MW_APPROVAL_FIELD_MAX);
	a->tool = field(req->tool, MW_APPROVAL_FIELD_MAX);
	a->args = field(args ? args : "null", MW_APPROVAL_ARGS_MAX);
	a->rule = field(req->rule, MW_APPROVAL_FIELD_MAX);
	a->justification = field(req->justification, MW_APPROVAL_FIELD_MAX);
	a->session = field(req->session, MW_APPROVAL_FIELD_MAX);
	a->uid = req->uid;
	a->created = now;
	a->expires = now + reg->timeout;
	a->who.count = 1;
	r = 0;
	if (req->approvers) {
		a->who.count = req->approvers->count == 2 ? 2 : 1;
		r = list_copy(req->approvers->users, req->approvers->n_users, &a->who.users,
			      &a->who.n_users);
		r = r ?: list_copy(req->approvers->groups, req->approvers->n_groups,
				   &a->who.groups, &a->who.n_groups);
		r = r ?: list_copy(req->approvers->oidc_groups, req->approvers->n_oidc_groups,
				   &a->who.oidc_groups, &a->who.n_oidc_groups);
	}
	if (r < 0 || !a->sub || !a->groups || !a->unit || !a->comm || !a->target || !a->method ||
	    !a->tool || !a->args || !a->rule || !a->justification || !a->session) {
		approval_free(a);
		return -ENOMEM;
	}
	a->prev = reg->tail;
	if (reg->tail)
		reg->tail->next = a;
	else
		reg->head = a;
	reg->tail = a;
	reg->n++;
	approvals_emit(reg, MW_APPROVAL_EV_NEW, a, NULL);
	*ret = a;
	return 0;
}

void approval_wait(struct mw_approval *a, struct mw_approval_waiter *w)
{
	w->a = a;
	w->prev = NULL;
	w->next = a->waiters;
	if (a->waiters)
		a->waiters->prev = w;
	a->waiters = w;
}

void approval_wait_cancel(struct mw_approval_waiter *w)
{
	struct mw_approval *a = w->a;

	if (!a)
		return;
	if (w->prev)
		w->prev->next = w->next;
	else
		a->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->a = NULL;
	w->prev = w->next = NULL;
}

/* Tell every waiter; each is detached before it hears (it may free itself). */
static void notify(struct mw_approval *a, enum mw_approval_state state)
{
	while (a->waiters) {
		struct mw_approval_waiter *w = a->waiters;

		approval_wait_cancel(w);
		if (state == MW_APPROVAL_APPROVED)
			a->used = true;
		w->fn(w, a, state);
	}
}

static bool in_list(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; s && i < n; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}

static bool any_in_list(char *const *v, size_t n, const char *const *s, size_t ns)
{
	if (ns > MW_APPROVER_GROUPS_MAX)
		ns = MW_APPROVER_GROUPS_MAX;
	for (size_t i = 0; i < ns; i++)
		if (in_list(v, n, s[i]))
			return true;
	return false;
}

static bool eligible(const struct mw_approval *a, const struct mw_approver *who)
{
	const struct mw_approval_rule *r = &a->who;

	return in_list(r->users, r->n_users, who->user) ||
	       (who->sub && in_list(r->users, r->n_users, who->sub)) ||
	       any_in_list(r->groups, r->n_groups, who->groups, who->n_groups) ||
	       any_in_list(r->oidc_groups, r->n_oidc_groups, who->oidc_groups,
			   who->n_oidc_groups);
}

static bool self_request(const struct mw_approval *a, const struct mw_approver *who)
{
	if (who->uid >= 0 && a->uid >= 0 && who->uid == a->uid)
		return true;
	return who->sub && a->sub[0] && !strcmp(who->sub, a->sub);
}

static char *approver_name(const struct mw_approver *who)
{
	char *s;
	int n;

	if (who->sub && who->user)
		n = asprintf(&s, "%s (oidc %s)", who->user, who->sub);
	else if (who->sub)
		n = asprintf(&s, "oidc %s", who->sub);
	else if (who->user)
		n = asprintf(&s, "%s", who->user);
	else
		n = asprintf(&s, "uid %lld", (long long)who->uid);
	return n < 0 ? NULL : s;
}

static int make_grant(struct mw_approvals *reg, struct mw_approval *a, uint64_t for_usec,
		      bool any_args, uint64_t now)
{
	struct mw_grant g = {
		.identity = a->identity,
		.tool = a->tool,
		.target = a->target,
		.fingerprint = any_args ? "" : a->fingerprint,
		.rule = a->rule,
		.approved_by = a->decided_by,
		.reason = a->reason,
		.created = now,
		.expires = now + for_usec,
	};

	memcpy(g.id, a->id, sizeof(g.id));
	return grants_add(reg, &g);
}

int approvals_decide(struct mw_approvals *reg, const char *id, const struct mw_approver *who,
		     bool approve, const char *reason, uint64_t for_usec, bool any_args,
		     uint64_t now, char *why, size_t whylen)
{
	struct mw_approval *a = approvals_find(reg, id);
	_cleanup_free_ char *name = NULL;
	int r;

	if (!a) {
		snprintf(why, whylen, "no approval '%s'", id);
		return -ENOENT;
	}
	if (a->state != MW_APPROVAL_PENDING) {
		snprintf(why, whylen, "approval %s is already %s", a->id,
			 approval_state_str(a->state));
		return -EALREADY;
	}
	if (!eligible(a, who)) {
		char need[512];

		approval_who(a, need, sizeof(need));
		snprintf(why, whylen, "not an approver of rule '%s' (it needs %s)", a->rule, need);
		return -EPERM;
	}
	if (approve && self_request(a, who)) {
		snprintf(why, whylen, "nobody approves their own request (%s)",
			 who->uid >= 0 && who->uid == a->uid ? "same unix uid as the workload"
							     : "same OIDC subject");
		return -EPERM;
	}
	name = approver_name(who);
	if (!name)
		return -ENOMEM;
	free(a->reason);
	a->reason = field(reason, MW_APPROVAL_FIELD_MAX);
	if (!a->reason)
		return -ENOMEM;
	if (!approve) {
		a->state = MW_APPROVAL_DENIED;
		a->decided = now;
		a->decided_by = TAKE_PTR(name);
		approvals_emit(reg, MW_APPROVAL_EV_DENIED, a, NULL);
		notify(a, MW_APPROVAL_DENIED);
		return 0;
	}
	for (unsigned i = 0; i < a->n_approved; i++)
		if ((who->uid >= 0 && who->uid == a->approved_uid[i]) ||
		    (who->sub && a->approved_sub[i] && !strcmp(who->sub, a->approved_sub[i]))) {
			snprintf(why, whylen, "%s has already approved %s: a second, different "
				 "approver is needed", name, a->id);
			return -EEXIST;
		}
	a->approved_uid[a->n_approved] = who->uid;
	a->approved_sub[a->n_approved] = who->sub ? strdup(who->sub) : NULL;
	a->approved_by[a->n_approved++] = TAKE_PTR(name);
	if (a->n_approved < a->who.count) {
		approvals_emit(reg, MW_APPROVAL_EV_PARTIAL, a, NULL);
		return 0;
	}
	a->decided_by = a->n_approved == 2 ? NULL : strdup(a->approved_by[0]);
	if (a->n_approved == 2 && asprintf(&a->decided_by, "%s, %s", a->approved_by[0],
					   a->approved_by[1]) < 0)
		a->decided_by = NULL;
	if (!a->decided_by)
		return -ENOMEM;
	if (for_usec) {
		r = make_grant(reg, a, for_usec, any_args, now);
		if (r < 0) {
			snprintf(why, whylen, "cannot make the grant: %s", strerror(-r));
			return r;
		}
	}
	a->state = MW_APPROVAL_APPROVED;
	a->decided = now;
	approvals_emit(reg, MW_APPROVAL_EV_APPROVED, a, NULL);
	notify(a, MW_APPROVAL_APPROVED);
	return 0;
}

int approvals_tick(struct mw_approvals *reg, uint64_t now)
{
	struct mw_approval *a, *next;

	for (a = reg->head; a; a = next) {
		next = a->next;
		if (a->state == MW_APPROVAL_PENDING && now >= a->expires) {
			a->state = MW_APPROVAL_EXPIRED;
			a->decided = now;
			approvals_emit(reg, MW_APPROVAL_EV_EXPIRED, a, NULL);
			notify(a, MW_APPROVAL_EXPIRED);
		} else if (a->state == MW_APPROVAL_PENDING) {
			struct mw_approval_waiter *w, *wn;

			for (w = a->waiters; w; w = wn) {
				wn = w->next;
				if (w->deadline && now >= w->deadline) {
					approval_wait_cancel(w);
					w->fn(w, a, MW_APPROVAL_PENDING);
					wn = a->waiters; /* the list may have changed */
				}
			}
		} else if (now >= a->decided + MW_APPROVAL_RETAIN_USEC && !a->waiters) {
			unlink_approval(reg, a);
			approval_free(a);
		}
	}
	return grants_expire(reg, now);
}

void approvals_release_all(struct mw_approvals *reg)
{
	for (struct mw_approval *a = reg->head; a; a = a->next) {
		if (a->state != MW_APPROVAL_PENDING || !a->waiters)
			continue;
		free(a->reason);
		a->reason = strdup("was not decided before the agent stopped");
		notify(a, MW_APPROVAL_EXPIRED);
	}
}

uint64_t approvals_next_due(const struct mw_approvals *reg)
{
	uint64_t due = grants_next_expiry(reg);

	for (const struct mw_approval *a = reg->head; a; a = a->next) {
		if (a->state != MW_APPROVAL_PENDING)
			continue;
		if (!due || a->expires < due)
			due = a->expires;
		for (const struct mw_approval_waiter *w = a->waiters; w; w = w->next)
			if (w->deadline && (!due || w->deadline < due))
				due = w->deadline;
	}
	return due;
}

const char *approval_id(const struct mw_approval *a)
{
	return a->id;
}

enum mw_approval_state approval_state(const struct mw_approval *a)
{
	return a->state;
}

const char *approval_rule(const struct mw_approval *a)
{
	return a->rule;
}

const char *approval_reason(const struct mw_approval *a)
{
	return a->reason ? a->reason : "";
}

static void append_list(char *buf, size_t size, size_t *len, const char *label, char *const *v,
			size_t n)
{
	if (!n)
		return;
	if (*len && buf[*len - 1] != ' ')
		mw_str_append(buf, size, len, "; ", 2);
	mw_str_append(buf, size, len, label, strlen(label));
	for (size_t i = 0; i < n; i++) {
		mw_str_append(buf, size, len, i ? ", " : " ", i ? 2 : 1);
		mw_str_append(buf, size, len, v[i], strlen(v[i]));
	}
}

void approval_who(const struct mw_approval *a, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = 0;
	if (a->who.count == 2)
		mw_str_append(buf, size, &len, "2 distinct of: ", 15);
	append_list(buf, size, &len, "users", a->who.users, a->who.n_users);
	append_list(buf, size, &len, "groups", a->who.groups, a->who.n_groups);
	append_list(buf, size, &len, "OIDC groups", a->who.oidc_groups, a->who.n_oidc_groups);
	if (!a->who.n_users && !a->who.n_groups && !a->who.n_oidc_groups)
		mw_str_append(buf, size, &len, "nobody (the rule names no approvers)", 36);
}

static json_t *str_list_json(char *const *v, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++)
		json_array_append_new(arr, json_string(v[i]));
	return arr;
}

json_t *approvals_time_json(uint64_t wall_usec)
{
	time_t t = (time_t)(wall_usec / 1000000ULL);
	struct tm tm;
	char buf[32];

	if (!wall_usec)
		return json_null();
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

static json_t *opt_str(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

json_t *approval_to_json(const struct mw_approval *a)
{
	json_t *by = json_array(), *o;
	char who[512];

	for (unsigned i = 0; by && i < a->n_approved; i++)
		json_array_append_new(by, json_string(a->approved_by[i]));
	approval_who(a, who, sizeof(who));
	o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_string(a->id));
	json_object_set_new(o, "state", json_string(approval_state_str(a->state)));
	json_object_set_new(o, "sub", opt_str(a->sub));
	json_object_set_new(o, "groups", json_string(a->groups));
	json_object_set_new(o, "unit", opt_str(a->unit));
	json_object_set_new(o, "uid", a->uid >= 0 ? json_integer(a->uid) : json_null());
	json_object_set_new(o, "comm", opt_str(a->comm));
	json_object_set_new(o, "target", json_string(a->target));
	json_object_set_new(o, "method", json_string(a->method));
	json_object_set_new(o, "tool", json_string(a->tool));
	json_object_set_new(o, "arguments", json_string(a->args));
	json_object_set_new(o, "fingerprint", json_string(a->fingerprint));
	json_object_set_new(o, "rule", json_string(a->rule));
	json_object_set_new(o, "justification", opt_str(a->justification));
	json_object_set_new(o, "session", opt_str(a->session));
	json_object_set_new(o, "created", approvals_time_json(a->created));
	json_object_set_new(o, "expires", approvals_time_json(a->expires));
	json_object_set_new(o, "approvers_needed", json_integer(a->who.count));
	json_object_set_new(o, "approved_by", by);
	json_object_set_new(o, "decided_by", opt_str(a->decided_by));
	json_object_set_new(o, "reason", opt_str(a->reason));
	json_object_set_new(o, "who", json_string(who));
	json_object_set_new(o, "approvers",
			    json_pack("{s:o, s:o, s:o}", "users",
				      str_list_json(a->who.users, a->who.n_users), "groups",
				      str_list_json(a->who.groups, a->who.n_groups), "oidc_groups",
				      str_list_json(a->who.oidc_groups, a->who.n_oidc_groups)));
	return o;
}

json_t *approvals_list(struct mw_approvals *reg, bool all)
{
	json_t *arr = json_array();

	for (struct mw_approval *a = reg->head; arr && a; a = a->next)
		if (all || a->state == MW_APPROVAL_PENDING)
			json_array_append_new(arr, approval_to_json(a));
	return arr;
}
