/* journalgen: writes a small journal through the real writer (journal_open/journal_append)
 * holding what the e2e tests have no live traffic for: a session with a call held for review,
 * its approval events (new, approved; the approvals module's keys), then the call and its result, and the close; and a
 * raw HTTP session (a flow the checkpoint did not read) whose request and chunked SSE response
 * are cut across records mid-message.  Usage: journalgen DIR.  Prints both session ids. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "journal_index.h"

static int add(struct mw_journal *j, uint64_t sid, uint64_t *seq, uint8_t type, uint8_t dir,
	       const char *meta, const char *payload)
{
	struct mw_jrec r = { .type = type, .dir = dir, .session = sid, .flow = sid & 0xffff,
			     .seq = ++*seq, .flags = type == MW_JREC_REQUEST || type == MW_JREC_RESPONSE
							     ? (*meta ? 0 : MW_JFLAG_RAW) : 0,
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
		 "{\"approval\":\"7KQ2M9XA\",\"event\":\"new\",\"sub\":\"alice\",\"rule\":"
		 "\"destructive SQL needs a DBA\",\"method\":\"tools/call\",\"tool\":\"query\","
		 "\"reason\":\"\",\"mcp_session\":\"s-77\"}",
		 NULL);
	r |= add(j, sid, &seq, MW_JREC_APPROVAL, MW_JDIR_NONE,
		 "{\"approval\":\"7KQ2M9XA\",\"event\":\"approved\",\"sub\":\"alice\","
		 "\"method\":\"tools/call\",\"tool\":\"query\",\"rule\":\"destructive SQL needs a "
		 "DBA\",\"reason\":\"approved by carol for 1h: ticket OPS-12\","
		 "\"mcp_session\":\"s-77\"}",
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
	journal_session_name(sid, name);
	printf("%s\n", name);

	/* raw HTTP, cut mid-message */
	sid = journal_session_new(j);
	seq = 0;
	r |= add(j, sid, &seq, MW_JREC_OPEN, MW_JDIR_NONE,
		 "{\"flow\":\"f2\",\"direction\":\"outbound\",\"target\":\"10.0.0.6:80\"}", NULL);
	r |= add(j, sid, &seq, MW_JREC_REQUEST, MW_JDIR_UP, "",
		 "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
		 "Content-Length: 99\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":");
	r |= add(j, sid, &seq, MW_JREC_REQUEST, MW_JDIR_UP, "",
		 "\"tools/call\",\"params\":{\"name\":\"lookup\",\"arguments\":{\"who\":\"bob\"}}}");
	r |= add(j, sid, &seq, MW_JREC_RESPONSE, MW_JDIR_DOWN, "",
		 "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n32\r\nevent: message\r\ndata: {\"jsonrpc\":\"2.0\",");
	r |= add(j, sid, &seq, MW_JREC_RESPONSE, MW_JDIR_DOWN, "",
		 "\"id\":5,\"res\r\n21\r\nult\":{\"found\":\"bob@example\"}}\r\n\r\n\r\n0\r\n\r\n");
	r |= add(j, sid, &seq, MW_JREC_CLOSE, MW_JDIR_NONE,
		 "{\"reason\":\"closed\",\"proto\":\"http1\",\"bytes_up\":1,\"bytes_down\":1}", NULL);
	journal_session_name(sid, name);
	printf("%s\n", name);
	journal_close(j);
	return r ? 1 : 0;
}
