/* approval_internal.h: the registry's state, shared by approval.c and approval_grants.c. */
#pragma once

#include "approval.h"

struct mw_approvals {
	uint64_t timeout; /* a pending approval's life, and an approved call's pass */
	mw_approval_event_fn fn;
	void *userdata;
	struct mw_approval *head, *tail;
	size_t n;
	struct mw_grant *grants;
	size_t n_grants;
};

void grants_clear(struct mw_approvals *reg);
const struct mw_grant *grants_find(const struct mw_approvals *reg, const char *id);
json_t *approvals_time_json(uint64_t wall_usec);
