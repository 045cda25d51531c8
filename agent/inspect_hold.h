/* inspect_hold.h: a request the policy sends to review, held in the checkpoint until an
 * approver decides (approval.h), the approval expires, or the hold limit passes.
 *
 * Owns the held request (its wire bytes, parsed body and reply framing) and its waiter on
 * the approval.  The checkpoint keeps one in the slot of its reply queue, stops reading the
 * connection's later requests while it is held (HTTP/1.1 answers in order), and, once
 * settled, forwards the bytes (approved) or answers -32011 (denied) / -32012 (expired, or
 * held past approvals.hold: the client retries the same call once approved). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "approval.h"
#include "inspect.h"
#include "jwt.h"
#include "mcp.h"
#include "policy.h"

struct mw_hold;

struct mw_hold_call {
	const struct mw_jwt_claims *claims; /* NULL without a token */
	const struct mw_inspect_flow *flow;
	const char *target; /* "host:port" */
	const struct mcp_message *msg;
	const struct mw_policy_decision *d;
	const char *session;
};

/* 1: a grant, or an approval of this very call not yet used, lets it through now
 * (*ret_pass_id names it); 0: held, *ret_hold set, settled(ud) is called once a decision
 * (or the hold limit) arrives; -ENOTSUP: the agent has no approvals (answer as before);
 * other -errno. */
int hold_begin(struct mw_inspect_env *env, const struct mw_hold_call *c,
	       void (*settled)(void *ud), void *ud, struct mw_hold **ret_hold,
	       char ret_pass_id[MW_APPROVAL_ID_LEN + 1]);
/* Hand the hold what it forwards or answers with: the body (owned from now), copies of the
 * request's wire bytes and of its payload (recorded once forwarded), and the reply framing. */
int hold_keep(struct mw_hold *h, struct mcp_body *body, const uint8_t *bytes, size_t len,
	      const uint8_t *payload, size_t payload_len, int http_method, const char *accept,
	      const char *session);
const char *hold_id(const struct mw_hold *h);
bool hold_settled(const struct mw_hold *h);
bool hold_approved(const struct mw_hold *h);
int hold_http_method(const struct mw_hold *h);
const struct mw_bytes *hold_bytes(const struct mw_hold *h);
const struct mw_bytes *hold_payload(const struct mw_hold *h);
/* The answer when not approved: -32011 with the approver's reason, -32012 with the id, in
 * the client's framing; ret_json (may be NULL) gets the bare JSON-RPC reply, for records
 * (*ret_json_len 0 when it could not be written). */
int hold_error_reply(struct mw_hold *h, char **ret_buf, size_t *ret_len, char **ret_json,
		     size_t *ret_json_len);
/* For the decision log: "approved", "denied", "expired", "held" (hold limit). */
const char *hold_outcome(const struct mw_hold *h);
/* For the session journal: "approved", "denied", "expired", "hold_limit". */
const char *hold_event(const struct mw_hold *h);
const char *hold_rule(const struct mw_hold *h);
struct mw_hold *hold_free(struct mw_hold *h);
