/* journal_index.h: per-session summaries, the content of a segment's index (NAME.idx).
 *
 * A summary is a JSON object (docs/journal.md "Index"): session, mcp_session, file, offset,
 * open, end, state, user, groups, tools, decisions, rules, target, unit, cgroup, pid, uid,
 * comm, records, last_seq.  Built record by record from the records themselves, so the
 * writer, recovery and mcpwarden-replay (for a segment whose index is missing) agree.
 * Pure: no I/O. */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "journal_codec.h"

#define MW_JINDEX_MAX_LIST 64 /* distinct values kept per list of a session (users, tools, ...) */

/* Fold one record into sessions (an object keyed by the session's hex id); file and offset
 * name where the record's frame starts.  Returns the summary touched (borrowed), or NULL
 * for the journal's own records. */
json_t *journal_index_add(json_t *sessions, const struct mw_jrec *r, const char *file,
			  uint64_t offset);
void journal_session_name(uint64_t session, char out[17]);
int journal_session_parse(const char *s, uint64_t *ret);
