/* journalgen: writes a small journal through the real writer (journal_open/journal_append)
 * holding one session with the record types the agent's checkpoint has no traffic for yet in
 * tests: a call held for review, its approval events (pending, approved), then the call and
 * its result, and the close.  Usage: journalgen DIR.  Prints the session id. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "journal_index.h"

static int add(struct mw_journal *j, uint64_t sid, uint64_t *seq, uint8_t type, uint8_t dir,
	       const char *meta, const char *payload)
{
	struct mw_jrec r = { .type = type, .dir = dir, .session = sid, .flow = 1, .seq = ++*seq,
			     .meta = meta, .meta_len = (uint32_t)strlen(meta),
			     .payload = (const uint8_t *)payload,
			     .payload_len = payload ? (uint32_t)strlen(payload) : 0 };

	return journal_append(j, &r, NULL);
}

int main(int argc, char **argv)
{
	struct mw_journal_config c;
	struct mw_journal *j;
	char err[256], name[17];
	uint64_t sid, seq = 0;
	int r = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: journalgen DIR\n");
		return 2;
	}
	if (journal_config_parse(NULL, argv[1], &c, NULL) < 0)
		return 1;
	c.mode = MW_JOURNAL_STRICT;
	if (journal_open(&c, &j, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "journalgen: %s\n", err);
		return 1;
	}
	sid = journal_session_new(j);
	r |= add(j, sid, &seq, MW_JREC_OPEN, MW_JDIR_NONE,
		 "{\"flow\":\"f1\",\"direction\":\"outbound\",\"target\":\"10.0.0.5:5432\","
		 "\"unit\":\"mcp-gateway.service\",\"cgroup\":\"/mcp.slice\",\"pid\":4242,"
		 "\"uid\":1000,\"comm\":\"dbhub\"}",
		 NULL);
	r |= add(j, sid, &seq, MW_JREC_DECISION, MW_JDIR_UP,
		 "{\"sub\":\"alice\",\"groups\":\"finance\",\"method\":\"tools/call\","
		 "\"tool\":\"query\",\"decision\":\"review\",\"rule\":\"destructive SQL needs a "
		 "DBA\",\"reason\":\"\",\"mcp_session\":\"s-77\",\"approval_id\":\"7KQ2M9XA\"}",
		 NULL);
	r |= add(j, sid, &seq, MW_JREC_APPROVAL, MW_JDIR_NONE,
		 "{\"approval_id\":\"7KQ2M9XA\",\"state\":\"pending\",\"rule\":\"destructive SQL "
		 "needs a DBA\",\"method\":\"tools/call\",\"tool\":\"query\","
		 "\"approvers\":[\"dba\"],\"mcp_session\":\"s-77\"}",
		 NULL);
	r |= add(j, sid, &seq, MW_JREC_APPROVAL, MW_JDIR_NONE,
		 "{\"approval_id\":\"7KQ2M9XA\",\"state\":\"approved\",\"by\":\"carol\","
		 "\"for\":\"1h\",\"reason\":\"ticket OPS-12\",\"mcp_session\":\"s-77\"}",
		 NULL);
	r |= add(j, sid, &seq, MW_JREC_REQUEST, MW_JDIR_UP,
		 "{\"mcp_session\":\"s-77\",\"method\":\"tools/call\",\"tool\":\"query\"}",
		 "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":"
		 "\"query\",\"arguments\":{\"sql\":\"DELETE FROM staging\"}}}");
	r |= add(j, sid, &seq, MW_JREC_RESPONSE, MW_JDIR_DOWN,
		 "{\"mcp_session\":\"s-77\",\"method\":\"tools/call\",\"tool\":\"query\","
		 "\"status\":200}",
		 "{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{\"content\":[{\"type\":\"text\","
		 "\"text\":\"DELETE 3\"}]}}");
	r |= add(j, sid, &seq, MW_JREC_CLOSE, MW_JDIR_NONE,
		 "{\"reason\":\"closed\",\"proto\":\"http1\",\"bytes_up\":1,\"bytes_down\":1}", NULL);
	journal_close(j);
	if (r)
		return 1;
	journal_session_name(sid, name);
	printf("%s\n", name);
	return 0;
}
