/* test_journal.c: the journal codec (round trip, chain, seals, key evolution, strict reader)
 * and the writer on real files (group commit, durability tickets, rotation, recovery of a
 * torn tail with abandoned records, best-effort gaps). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "journal.h"
#include "journal_index.h"
#include "journal_internal.h"
#include "mask.h"

static void rec_fill(struct mw_jrec *r, uint64_t jseq, uint64_t sess, uint64_t seq,
		     const char *meta, const char *payload)
{
	memset(r, 0, sizeof(*r));
	r->type = MW_JREC_REQUEST;
	r->dir = MW_JDIR_UP;
	r->jseq = jseq;
	r->session = sess;
	r->seq = seq;
	r->wall = 1700000000000000ULL + jseq;
	r->mono = 1000 + jseq;
	r->flow = 7;
	r->meta = meta;
	r->meta_len = (uint32_t)strlen(meta);
	r->payload = (const uint8_t *)payload;
	r->payload_len = (uint32_t)strlen(payload);
}

/* A file: header + one frame of n records; returns the size. */
static size_t build_file(uint8_t **ret, unsigned n, uint8_t last_hash[32])
{
	struct mw_jheader h = { .file_seq = 1, .first_jseq = 1, .created_wall = 5 };
	uint8_t hdr[MW_JOURNAL_HEADER_SIZE], head[32];
	struct mw_bytes raw = {}, out = {};
	struct mw_jrec r;

	snprintf(h.host, sizeof(h.host), "testhost");
	journal_header_encode(&h, hdr);
	journal_chain_start(hdr, head);
	for (unsigned i = 0; i < n; i++) {
		char p[64];

		snprintf(p, sizeof(p), "{\"jsonrpc\":\"2.0\",\"id\":%u}", i);
		rec_fill(&r, i + 1, 0xabc, i + 1, "{\"tool\":\"echo\"}", p);
		assert_int_equal(journal_record_encode(&r, head, &raw, head), 0);
	}
	assert_int_equal(bytes_append(&out, hdr, sizeof(hdr)), 0);
	assert_int_equal(journal_frame_encode(raw.data, raw.len, 3, &out), 0);
	bytes_free(&raw);
	if (last_hash)
		memcpy(last_hash, head, 32);
	*ret = out.data;
	return out.len;
}

static void test_round_trip(void **state)
{
	uint8_t *f, last[32], head[32];
	size_t n = build_file(&f, 100, last);
	struct mw_jreader rd;
	struct mw_jrec r;
	unsigned got = 0;

	assert_int_equal(journal_reader_init(&rd, f, n), 0);
	assert_string_equal(rd.header.host, "testhost");
	journal_chain_start(f, head);
	while (journal_reader_next(&rd, &r) == 1) {
		char p[64];
		uint8_t h[32];

		got++;
		snprintf(p, sizeof(p), "{\"jsonrpc\":\"2.0\",\"id\":%u}", got - 1);
		assert_int_equal(r.jseq, got);
		assert_int_equal(r.seq, got);
		assert_int_equal(r.session, 0xabc);
		assert_int_equal(r.payload_len, strlen(p));
		assert_memory_equal(r.payload, p, strlen(p));
		assert_int_equal(r.meta_len, strlen("{\"tool\":\"echo\"}"));
		journal_record_hash(head, r.body, r.body_len, h);
		assert_memory_equal(h, r.hash, 32);
		memcpy(head, h, 32);
	}
	assert_int_equal(got, 100);
	assert_memory_equal(head, last, 32);
	assert_string_equal(rd.err, "");
	journal_reader_done(&rd);
	free(f);
}

static void test_reader_rejects(void **state)
{
	uint8_t *f;
	size_t n = build_file(&f, 10, NULL);
	struct mw_jreader rd;
	struct mw_jrec r;
	int k;

	/* foreign file */
	assert_int_equal(journal_reader_init(&rd, (const uint8_t *)"hello world", 11), -EBADMSG);
	assert_non_null(strstr(rd.err, "not an mcpwarden journal"));
	/* torn tail: the frame cut short is reported as torn, at the frame's offset */
	assert_int_equal(journal_reader_init(&rd, f, n - 5), 0);
	while ((k = journal_reader_next(&rd, &r)) == 1)
		;
	assert_int_equal(k, -EBADMSG);
	assert_true(rd.torn);
	assert_int_equal(rd.err_off, MW_JOURNAL_HEADER_SIZE);
	assert_int_equal(rd.good_end, MW_JOURNAL_HEADER_SIZE);
	journal_reader_done(&rd);
	/* a flipped byte inside the compressed frame: checksum, not torn */
	f[n - 3] ^= 0x40;
	assert_int_equal(journal_reader_init(&rd, f, n), 0);
	k = journal_reader_next(&rd, &r);
	assert_int_equal(k, -EBADMSG);
	assert_false(rd.torn);
	assert_non_null(strstr(rd.err, "checksum"));
	journal_reader_done(&rd);
	free(f);
}

static void test_seal_and_evolve(void **state)
{
	uint8_t k0[32], k[32], k2[32], head[32], mac[32], mac2[32], enc[MW_JOURNAL_KEY_FILE_SIZE];
	uint64_t epoch;

	for (int i = 0; i < 32; i++) {
		k0[i] = (uint8_t)i;
		head[i] = (uint8_t)(0xff - i);
	}
	memcpy(k, k0, 32);
	journal_seal_mac(k, head, mac);
	journal_key_evolve(k);
	assert_memory_not_equal(k, k0, 32);
	journal_seal_mac(k, head, mac2);
	assert_memory_not_equal(mac, mac2, 32); /* another epoch, another MAC */
	/* evolution is deterministic: an auditor derives epoch 3 from epoch 0 */
	memcpy(k2, k0, 32);
	for (int i = 0; i < 3; i++)
		journal_key_evolve(k2);
	journal_key_evolve(k);
	journal_key_evolve(k);
	assert_memory_equal(k, k2, 32);
	journal_key_encode(3, k2, enc);
	assert_int_equal(journal_key_decode(enc, sizeof(enc), &epoch, k), 0);
	assert_int_equal(epoch, 3);
	assert_memory_equal(k, k2, 32);
	enc[0] = 'X';
	assert_int_equal(journal_key_decode(enc, sizeof(enc), &epoch, k), -EBADMSG);
}

/* ---- the writer on real files ---------------------------------------------------------- */

static char tmpdir[256];

static int setup_dir(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_journal.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown_dir(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd);
}

static void config_for(struct mw_journal_config *c, enum mw_journal_mode mode)
{
	assert_int_equal(journal_config_parse(NULL, tmpdir, c, NULL), 0);
	c->mode = mode;
	c->seal_interval = 1; /* every batch */
}

static void write_key(void)
{
	uint8_t k[32], enc[MW_JOURNAL_KEY_FILE_SIZE];
	char path[300];
	FILE *f;

	memset(k, 0x42, sizeof(k));
	journal_key_encode(0, k, enc);
	mkdir(tmpdir, 0700);
	snprintf(path, sizeof(path), "%s/journal", tmpdir);
	mkdir(path, 0750);
	snprintf(path, sizeof(path), "%s/journal/seal.key", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(enc, 1, sizeof(enc), f), sizeof(enc));
	fclose(f);
}

/* Read every record of every segment; check the chain across files; count types. */
static void scan_all(unsigned counts[MW_JREC_TYPE_MAX + 1], uint64_t *ret_epoch_seals)
{
	char path[512];
	int dfd;
	char **names;
	size_t n;
	uint8_t prev[32] = {};
	uint64_t jseq = 0;

	memset(counts, 0, sizeof(unsigned) * (MW_JREC_TYPE_MAX + 1));
	*ret_epoch_seals = 0;
	snprintf(path, sizeof(path), "%s/journal", tmpdir);
	dfd = open(path, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	assert_int_equal(journal_list_segments(dfd, &names, &n), 0);
	assert_true(n >= 1);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		int fd = openat(dfd, names[i], O_RDONLY);
		uint8_t *data, head[32];
		struct mw_jreader rd;
		struct mw_jrec r;
		int k;

		assert_true(fd >= 0);
		fstat(fd, &st);
		data = malloc((size_t)st.st_size);
		assert_int_equal(read(fd, data, (size_t)st.st_size), st.st_size);
		close(fd);
		assert_int_equal(journal_reader_init(&rd, data, (size_t)st.st_size), 0);
		assert_memory_equal(rd.header.prev_hash, prev, 32);
		journal_chain_start(data, head);
		while ((k = journal_reader_next(&rd, &r)) == 1) {
			uint8_t h[32];

			journal_record_hash(head, r.body, r.body_len, h);
			assert_memory_equal(h, r.hash, 32);
			memcpy(head, h, 32);
			assert_int_equal(r.jseq, jseq + 1);
			jseq = r.jseq;
			counts[r.type]++;
			if (r.type == MW_JREC_SEAL)
				(*ret_epoch_seals)++;
		}
		assert_int_equal(k, 0);
		memcpy(prev, head, 32);
		journal_reader_done(&rd);
		free(data);
		free(names[i]);
	}
	free(names);
	close(dfd);
}

static void test_writer_strict(void **state)
{
	struct mw_journal_config c;
	struct mw_journal *j;
	struct mw_journal_recovery rec;
	char err[256];
	uint64_t sid, t = 0, seals;
	unsigned counts[MW_JREC_TYPE_MAX + 1];
	struct mw_jrec r = { .type = MW_JREC_OPEN, .meta = "{\"flow\":\"f1\"}", .meta_len = 13 };

	write_key();
	config_for(&c, MW_JOURNAL_STRICT);
	assert_int_equal(journal_open(&c, &j, &rec, err, sizeof(err)), 0);
	assert_true(rec.sealing);
	sid = journal_session_new(j);
	r.session = sid;
	r.seq = 1;
	assert_int_equal(journal_append(j, &r, &t), 0);
	for (int i = 0; i < 50; i++) {
		struct mw_jrec q = { .type = MW_JREC_REQUEST, .dir = MW_JDIR_UP, .session = sid,
				     .seq = (uint64_t)i + 2, .payload = (const uint8_t *)"abc",
				     .payload_len = 3 };

		assert_int_equal(journal_append(j, &q, &t), 0);
	}
	/* the ticket becomes durable: the writer signals */
	for (int i = 0; i < 500 && !journal_durable(j, t); i++)
		usleep(2000);
	assert_true(journal_durable(j, t));
	assert_false(journal_failed(j));
	journal_close(j);
	scan_all(counts, &seals);
	assert_int_equal(counts[MW_JREC_OPEN], 1);
	assert_int_equal(counts[MW_JREC_REQUEST], 50);
	assert_true(seals >= 1);
}

static void test_recovery(void **state)
{
	struct mw_journal_config c;
	struct mw_journal *j;
	struct mw_journal_recovery rec;
	char err[256], path[512];
	uint64_t sid, t = 0, seals;
	unsigned counts[MW_JREC_TYPE_MAX + 1];
	struct mw_jrec r = { .type = MW_JREC_OPEN, .meta = "{}", .meta_len = 2, .seq = 1 };
	char **names;
	size_t n;
	int dfd, fd;

	config_for(&c, MW_JOURNAL_STRICT);
	assert_int_equal(journal_open(&c, &j, &rec, err, sizeof(err)), 0);
	sid = journal_session_new(j);
	r.session = sid;
	assert_int_equal(journal_append(j, &r, &t), 0);
	for (int i = 0; i < 500 && !journal_durable(j, t); i++)
		usleep(2000);
	/* the session stays open: close the writer as a crash would leave it, then tear a
	 * partial frame onto the end */
	journal_close(j);
	snprintf(path, sizeof(path), "%s/journal", tmpdir);
	dfd = open(path, O_RDONLY | O_DIRECTORY);
	assert_int_equal(journal_list_segments(dfd, &names, &n), 0);
	fd = openat(dfd, names[n - 1], O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "MWJF\x10\0\0\0garbage", 15), 15);
	close(fd);
	close(dfd);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);

	assert_int_equal(journal_open(&c, &j, &rec, err, sizeof(err)), 0);
	assert_int_equal(rec.truncated_bytes, 15);
	assert_int_equal(rec.abandoned, 1);
	assert_false(rec.damaged);
	journal_close(j);
	scan_all(counts, &seals);
	assert_int_equal(counts[MW_JREC_ABANDONED], 1);
}

static void test_best_effort_gap(void **state)
{
	struct mw_journal_config c;
	struct mw_journal *j;
	char err[256];
	uint64_t sid, seals;
	unsigned counts[MW_JREC_TYPE_MAX + 1], dropped = 0;
	static uint8_t big[64 * 1024];

	config_for(&c, MW_JOURNAL_BEST_EFFORT);
	c.queue_max = 100 * 1024;
	c.flush_interval = 200000; /* a long window: the queue fills */
	assert_int_equal(journal_open(&c, &j, NULL, err, sizeof(err)), 0);
	sid = journal_session_new(j);
	for (int i = 0; i < 10; i++) {
		struct mw_jrec q = { .type = MW_JREC_RESPONSE, .dir = MW_JDIR_DOWN, .session = sid,
				     .seq = (uint64_t)i + 1, .payload = big,
				     .payload_len = sizeof(big) };

		if (journal_append(j, &q, NULL) == -ENOBUFS)
			dropped++;
	}
	assert_true(dropped > 0);
	usleep(300000);
	{
		struct mw_jrec q = { .type = MW_JREC_CLOSE, .session = sid, .seq = 11 };

		assert_int_equal(journal_append(j, &q, NULL), 0);
	}
	journal_close(j);
	scan_all(counts, &seals);
	assert_true(counts[MW_JREC_GAP] >= 1);
	assert_int_equal(counts[MW_JREC_RESPONSE] + dropped, 10);
}

static void test_rotation(void **state)
{
	struct mw_journal_config c;
	struct mw_journal *j;
	char err[256], path[512];
	uint64_t sid, t = 0, seals;
	unsigned counts[MW_JREC_TYPE_MAX + 1];
	static uint8_t payload[32 * 1024];
	int dfd;
	char **names;
	size_t n;

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(rand() & 0xff); /* incompressible */
	config_for(&c, MW_JOURNAL_STRICT);
	c.max_file_size = 64 * 1024;
	assert_int_equal(journal_open(&c, &j, NULL, err, sizeof(err)), 0);
	sid = journal_session_new(j);
	for (int i = 0; i < 12; i++) {
		struct mw_jrec q = { .type = MW_JREC_REQUEST, .session = sid, .seq = (uint64_t)i + 1,
				     .payload = payload, .payload_len = sizeof(payload) };

		assert_int_equal(journal_append(j, &q, &t), 0);
		for (int k = 0; k < 500 && !journal_durable(j, t); k++)
			usleep(1000);
	}
	journal_close(j);
	snprintf(path, sizeof(path), "%s/journal", tmpdir);
	dfd = open(path, O_RDONLY | O_DIRECTORY);
	assert_int_equal(journal_list_segments(dfd, &names, &n), 0);
	assert_true(n >= 4); /* several segments, chained (scan_all checks prev_hash) */
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	close(dfd);
	scan_all(counts, &seals);
	assert_int_equal(counts[MW_JREC_REQUEST], 12);
}

/* The index: a flow's MCP sessions (the first non-empty names it) and its approvals. */
static void test_index_mcp_approvals(void **state)
{
	static const char *const metas[] = {
		"{\"mcp_session\":\"\",\"method\":\"initialize\",\"tool\":\"\"}",
		"{\"mcp_session\":\"abc\",\"method\":\"initialize\",\"tool\":\"\",\"status\":200}",
		"{\"mcp_session\":\"def\",\"method\":\"tools/call\",\"tool\":\"query\"}",
		"{\"approval\":\"7KQ2M9XA\",\"event\":\"new\",\"rule\":\"dba\"}",
		"{\"approval_id\":\"7KQ2M9XA\",\"state\":\"approved\",\"by\":\"carol\"}",
	};
	static const uint8_t types[] = { MW_JREC_REQUEST, MW_JREC_RESPONSE, MW_JREC_REQUEST,
					 MW_JREC_APPROVAL, MW_JREC_APPROVAL };
	json_t *all = json_object(), *s = NULL, *l;

	(void)state;
	for (unsigned i = 0; i < 5; i++) {
		struct mw_jrec r;

		rec_fill(&r, i + 1, 0x42, i + 1, metas[i], "{}");
		r.type = types[i];
		s = journal_index_add(all, &r, "seg", 160);
	}
	assert_non_null(s);
	assert_string_equal(json_string_value(json_object_get(s, "mcp_session")), "abc");
	l = json_object_get(s, "mcp_sessions");
	assert_int_equal(json_array_size(l), 2);
	assert_string_equal(json_string_value(json_array_get(l, 0)), "abc");
	assert_string_equal(json_string_value(json_array_get(l, 1)), "def");
	l = json_object_get(s, "approvals");
	assert_int_equal(json_array_size(l), 2);
	assert_string_equal(json_string_value(json_array_get(l, 0)), "7KQ2M9XA:new");
	assert_string_equal(json_string_value(json_array_get(l, 1)), "7KQ2M9XA:approved");
	assert_string_equal(json_string_value(json_array_get(json_object_get(s, "tools"), 0)),
			    "query");
	json_decref(all);
}

/* The index: one flow carrying several callers' decisions (a gateway multiplexing people on
 * one upstream connection) lists every caller; "user" stays the first. */
static void test_index_users(void **state)
{
	static const char *const metas[] = {
		"{\"sub\":\"alice\",\"groups\":\"finance\",\"decision\":\"allow\"}",
		"{\"sub\":\"bob\",\"groups\":\"eng\",\"decision\":\"deny\"}",
		"{\"sub\":\"alice\",\"groups\":\"finance\",\"decision\":\"allow\"}",
	};
	json_t *all = json_object(), *s = NULL, *l;

	(void)state;
	for (unsigned i = 0; i < 3; i++) {
		struct mw_jrec r;

		rec_fill(&r, i + 1, 0x43, i + 1, metas[i], "{}");
		r.type = MW_JREC_DECISION;
		s = journal_index_add(all, &r, "seg", 160);
	}
	assert_non_null(s);
	assert_string_equal(json_string_value(json_object_get(s, "user")), "alice");
	l = json_object_get(s, "users");
	assert_int_equal(json_array_size(l), 2);
	assert_string_equal(json_string_value(json_array_get(l, 0)), "alice");
	assert_string_equal(json_string_value(json_array_get(l, 1)), "bob");
	assert_int_equal(json_array_size(json_object_get(s, "groups")), 2);
	json_decref(all);
}

/* Best-effort gaps: records dropped while the disk is full (9, 10), then the batch the writer
 * failed to write (7, 8), then that gap record failing too: one range 7..10, 4 records. */
static void test_gap_ranges(void **state)
{
	struct mw_journal *j = calloc(1, sizeof(*j));
	static const uint64_t seqs[] = { 9, 10, 7, 8 };
	struct mw_jrec r = { .type = MW_JREC_REQUEST, .session = 0x44, .flow = 1 };
	char meta[256];

	(void)state;
	assert_non_null(j);
	for (unsigned i = 0; i < 4; i++) {
		r.seq = seqs[i];
		r.payload_len = 10;
		gap_note_locked(j, &r);
	}
	assert_int_equal(j->n_gaps, 1);
	assert_int_equal(j->gaps[0].first_seq, 7);
	assert_int_equal(j->gaps[0].last_seq, 10);
	assert_int_equal(j->gaps[0].records, 4);
	assert_int_equal(j->dropped_total, 4);
	/* the gap record for 7..10 is written and fails: noted again whole, not as seq 10 alone */
	j->n_gaps = 0;
	snprintf(meta, sizeof(meta),
		 "{\"dropped\":4,\"bytes\":40,\"first_seq\":7,\"last_seq\":10,\"reason\":\"queue full\"}");
	r = (struct mw_jrec){ .type = MW_JREC_GAP, .session = 0x44, .flow = 1, .seq = 10,
			      .meta = meta, .meta_len = (uint32_t)strlen(meta) };
	gap_note_locked(j, &r);
	r = (struct mw_jrec){ .type = MW_JREC_REQUEST, .session = 0x44, .flow = 1, .seq = 11 };
	gap_note_locked(j, &r);
	assert_int_equal(j->n_gaps, 1);
	assert_int_equal(j->gaps[0].first_seq, 7);
	assert_int_equal(j->gaps[0].last_seq, 11);
	assert_int_equal(j->gaps[0].records, 5);
	assert_int_equal(j->gaps[0].bytes, 40);
	assert_int_equal(j->dropped_total, 5);
	free(j);
}

/* A reload: rotation settings apply to the running writer; dir and mode are named as
 * needing a restart and keep their values. */
static void test_reconfigure(void **state)
{
	struct mw_journal_config c, c2;
	struct mw_journal *j;
	char err[256], restart[160], path[512];
	static uint8_t payload[32 * 1024];
	uint64_t sid, t = 0;
	char **names;
	size_t n;
	int dfd;

	(void)state;
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(rand() & 0xff);
	config_for(&c, MW_JOURNAL_STRICT);
	assert_int_equal(journal_open(&c, &j, NULL, err, sizeof(err)), 0);
	c2 = c;
	c2.max_file_size = 64 * 1024;
	c2.mode = MW_JOURNAL_BEST_EFFORT;
	snprintf(c2.dir, sizeof(c2.dir), "/elsewhere");
	journal_reconfigure(j, &c2, restart, sizeof(restart));
	assert_string_equal(restart, "'journal.dir', 'journal.mode'");
	assert_int_equal(journal_mode(j), MW_JOURNAL_STRICT);
	journal_reconfigure(j, &c, restart, sizeof(restart));
	assert_string_equal(restart, "");
	journal_reconfigure(j, &c2, restart, sizeof(restart));
	sid = journal_session_new(j);
	for (int i = 0; i < 8; i++) {
		struct mw_jrec q = { .type = MW_JREC_REQUEST, .session = sid, .seq = (uint64_t)i + 1,
				     .payload = payload, .payload_len = sizeof(payload) };

		assert_int_equal(journal_append(j, &q, &t), 0); /* strict still: never dropped */
		for (int k = 0; k < 500 && !journal_durable(j, t); k++)
			usleep(1000);
		assert_true(journal_durable(j, t));
	}
	journal_close(j);
	snprintf(path, sizeof(path), "%s/journal", tmpdir);
	dfd = open(path, O_RDONLY | O_DIRECTORY);
	assert_int_equal(journal_list_segments(dfd, &names, &n), 0);
	assert_true(n >= 3); /* 256 KiB of records in 64 KiB segments: the new size applied */
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	close(dfd);
}

static void test_config(void **state)
{
	struct mw_journal_config c;
	struct mw_diag d = {};
	json_t *o = json_loads("{\"mode\":\"strict\",\"max_file_size\":\"1MiB\","
			       "\"retention\":\"30d\",\"seal_interval\":\"10s\"}",
			       0, NULL);

	assert_int_equal(journal_config_parse(o, "/var/lib/x", &c, &d), 0);
	assert_int_equal(c.mode, MW_JOURNAL_STRICT);
	assert_int_equal(c.max_file_size, 1 << 20);
	assert_int_equal(c.retention, 30ULL * 86400 * 1000000);
	assert_int_equal(c.seal_interval, 10000000);
	assert_string_equal(c.dir, "/var/lib/x/journal");
	json_decref(o);
	o = json_loads("{\"mode\":\"sometimes\"}", 0, NULL);
	assert_int_equal(journal_config_parse(o, "/x", &c, &d), -EINVAL);
	assert_string_equal(d.key, "journal.mode");
	json_decref(o);
	o = json_loads("{\"modes\":\"strict\"}", 0, NULL);
	assert_int_equal(journal_config_parse(o, "/x", &c, &d), -EINVAL);
	json_decref(o);
}

static void test_credentials_cut(void **state)
{
	struct mw_journal_config c;
	struct mw_journal *j;
	char err[256];
	static const char req[] = "POST /mcp HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer eyJsecret.token\r\n"
				  "cookie: sid=abc\r\nContent-Length: 2\r\n\r\n{}";
	static const char want[] = "POST /mcp HTTP/1.1\r\nHost: x\r\nAuthorization: [redacted]\r\n"
				   "cookie: [redacted]\r\nContent-Length: 2\r\n\r\n{}";
	const uint8_t *out;
	uint8_t *owned;
	size_t len;

	config_for(&c, MW_JOURNAL_BEST_EFFORT);
	assert_int_equal(journal_open(&c, &j, NULL, err, sizeof(err)), 0);
	out = journal_payload_filter(j, MW_JFLAG_RAW, (const uint8_t *)req, sizeof(req) - 1, &len,
				     &owned, NULL, 0);
	assert_non_null(owned);
	assert_int_equal(len, sizeof(want) - 1);
	assert_memory_equal(out, want, len);
	free(owned);
	/* nothing to cut: the bytes themselves */
	out = journal_payload_filter(j, 0, (const uint8_t *)"{\"authorization:\":1}", 20, &len,
				     &owned, NULL, 0);
	assert_null(owned);
	assert_int_equal(len, 20);
	journal_close(j);
}

/* journal.mask: every payload is masked with the journal's profile (here the default:
 * every built-in detector, "full" without a host key), JSON-RPC as messages, raw bytes as
 * text, binary as a digest; the summary comes back for the metadata. */
static void test_payload_masked(void **state)
{
	static const char rpc[] = "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"content\":[{\"type\":"
				  "\"text\",\"text\":\"[{\\\"card\\\":\\\"4111 1111 1111 1111\\\",\\\"n\\\":1}]\"}]}}";
	static const char raw[] = "HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\nmail bob@example.com please";
	static const uint8_t bin[] = { 0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe, 'x', 0x80, 0x81 };
	struct mw_journal_config c;
	struct mw_masker *m;
	struct mw_journal *j;
	struct mw_diag d;
	char err[256], masked[128];
	const uint8_t *out;
	uint8_t *owned;
	size_t len;

	(void)state;
	config_for(&c, MW_JOURNAL_BEST_EFFORT);
	assert_int_equal(journal_open(&c, &j, NULL, err, sizeof(err)), 0);
	assert_int_equal(mask_from_json(NULL, NULL, "t.json", NULL, 0, NULL, 0, &m, &d), 0);
	journal_set_masker(j, m);

	out = journal_payload_filter(j, 0, (const uint8_t *)rpc, sizeof(rpc) - 1, &len, &owned,
				     masked, sizeof(masked));
	assert_non_null(owned);
	assert_string_equal(masked, "credit_card=1");
	assert_null(memmem(out, len, "4111", 4));
	assert_non_null(memmem(out, len, "[MASKED:credit_card]", 20));
	assert_non_null(memmem(out, len, "\"id\":7", 6));
	free(owned);

	out = journal_payload_filter(j, MW_JFLAG_RAW, (const uint8_t *)raw, sizeof(raw) - 1, &len,
				     &owned, masked, sizeof(masked));
	assert_non_null(owned);
	assert_string_equal(masked, "email=1");
	assert_null(memmem(out, len, "bob@", 4));
	assert_non_null(memmem(out, len, "HTTP/1.1 200 OK", 15));
	free(owned);

	/* a UTF-8 character cut by a read at either end is fine; binary is a digest */
	out = journal_payload_filter(j, MW_JFLAG_RAW, (const uint8_t *)"\xa9 ok \xc3", 6, &len, &owned,
				     masked, sizeof(masked));
	assert_null(owned);
	assert_int_equal(len, 6);
	out = journal_payload_filter(j, MW_JFLAG_RAW, bin, sizeof(bin), &len, &owned, masked,
				     sizeof(masked));
	assert_non_null(owned);
	assert_true(len > 40);
	assert_memory_equal(out, "[unmasked binary payload: 9 bytes, sha256 ", 42);
	assert_string_equal(masked, "");
	free(owned);

	/* nothing sensitive: the bytes themselves */
	out = journal_payload_filter(j, 0, (const uint8_t *)"{\"id\":1,\"result\":{}}", 20, &len,
				     &owned, masked, sizeof(masked));
	assert_null(owned);
	assert_int_equal(len, 20);
	journal_close(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_payload_masked),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_reader_rejects),
		cmocka_unit_test(test_seal_and_evolve),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_index_mcp_approvals),
		cmocka_unit_test(test_index_users),
		cmocka_unit_test(test_gap_ranges),
		cmocka_unit_test_setup_teardown(test_reconfigure, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_writer_strict, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_recovery, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_best_effort_gap, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_rotation, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_credentials_cut, setup_dir, teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
