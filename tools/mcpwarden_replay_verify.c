/* mcpwarden_replay_verify.c: `mcpwarden-replay verify`: framing, the hash chain within and
 * across files, record numbering, per-session order, seals and the durable point (HEAD). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "journal_index.h"
#include "mcpwarden_replay.h"
#include "util.h"

struct vstate {
	bool json;
	json_t *problems;
	unsigned n_problems;
	bool have_key;
	uint8_t key[32];
	uint64_t key_epoch;
	bool have_prev_file;
	uint8_t prev_head[MW_JOURNAL_HASH];
	uint64_t prev_file_seq, last_jseq;
	bool have_seal;
	uint64_t next_epoch;
	json_t *seqs;  /* session -> last seq */
	json_t *skips; /* sequence skips, resolved at the end against gap records */
	json_t *gaps;  /* session -> [[first, last], ...] */
	uint64_t records, seals, sealed_ok;
};

static void problem(struct vstate *v, const char *file, size_t off, const struct mw_jrec *r,
		    const char *fmt, ...) _printf_(5, 6);

static void problem(struct vstate *v, const char *file, size_t off, const struct mw_jrec *r,
		    const char *fmt, ...)
{
	char what[512], sid[17] = "";
	va_list ap;
	json_t *p;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	v->n_problems++;
	if (r)
		journal_session_name(r->session, sid);
	p = json_pack("{s:s, s:I, s:s}", "file", file, "offset", (json_int_t)off, "problem", what);
	if (r) {
		json_object_set_new(p, "jseq", json_integer((json_int_t)r->jseq));
		json_object_set_new(p, "session", json_string(sid));
		json_object_set_new(p, "seq", json_integer((json_int_t)r->seq));
		json_object_set_new(p, "type", json_string(journal_type_name(r->type)));
	}
	json_array_append_new(v->problems, p);
	if (v->json)
		return;
	if (r)
		printf("FAIL %s offset %zu record jseq %" PRIu64 " (session %s seq %" PRIu64
		       ", %s): %s\n",
		       file, off, r->jseq, sid, r->seq, journal_type_name(r->type), what);
	else
		printf("FAIL %s offset %zu: %s\n", file, off, what);
}

static uint64_t meta_u64(const struct mw_jrec *r, const char *key, bool *ok)
{
	json_t *m = json_loadb(r->meta, r->meta_len, 0, NULL);
	json_t *x = json_object_get(m, key);
	uint64_t v = 0;

	*ok = json_is_integer(x) && json_integer_value(x) >= 0;
	if (*ok)
		v = (uint64_t)json_integer_value(x);
	json_decref(m);
	return v;
}

static void check_seal(struct vstate *v, const struct replay_seg *s, size_t off,
		       const struct mw_jrec *r, const uint8_t head[MW_JOURNAL_HASH])
{
	bool ok;
	uint64_t epoch = meta_u64(r, "epoch", &ok);
	uint8_t key[32], mac[32];

	v->seals++;
	if (!ok || r->payload_len != 32 || r->session != 0) {
		problem(v, s->name, off, r, "malformed seal record");
		return;
	}
	if (v->have_seal && epoch != v->next_epoch)
		problem(v, s->name, off, r,
			"seal epoch %" PRIu64 " where epoch %" PRIu64
			" was due (a seal replayed, removed or from another journal)",
			epoch, v->next_epoch);
	v->have_seal = true;
	v->next_epoch = epoch + 1;
	if (!v->have_key)
		return;
	if (epoch < v->key_epoch) {
		problem(v, s->name, off, r,
			"seal epoch %" PRIu64 " is older than the key's epoch %" PRIu64, epoch,
			v->key_epoch);
		return;
	}
	memcpy(key, v->key, 32);
	for (uint64_t e = v->key_epoch; e < epoch; e++)
		journal_key_evolve(key);
	journal_seal_mac(key, head, mac);
	explicit_bzero(key, sizeof(key));
	if (memcmp(mac, r->payload, 32) != 0)
		problem(v, s->name, off, r,
			"seal does not verify under the key of epoch %" PRIu64
			" (forged, made with a key from another epoch, or the records before it "
			"were rewritten)",
			epoch);
	else
		v->sealed_ok++;
}

static void check_seq(struct vstate *v, const struct replay_seg *s, size_t off,
		      const struct mw_jrec *r)
{
	char sid[17];
	json_t *last;

	if (r->session == 0)
		return;
	journal_session_name(r->session, sid);
	last = json_object_get(v->seqs, sid);
	if (r->type == MW_JREC_GAP) {
		bool ok, ok2;
		uint64_t l = meta_u64(r, "last_seq", &ok), f = meta_u64(r, "first_seq", &ok2);
		json_t *a = json_object_get(v->gaps, sid);

		if (!ok || !ok2)
			return;
		if (!a) {
			a = json_array();
			json_object_set_new(v->gaps, sid, a);
		}
		json_array_append_new(a, json_pack("[I, I]", (json_int_t)f, (json_int_t)l));
		if (!last || l > (uint64_t)json_integer_value(last))
			json_object_set_new(v->seqs, sid, json_integer((json_int_t)l));
		return;
	}
	if (last && r->seq <= (uint64_t)json_integer_value(last))
		problem(v, s->name, off, r,
			"session sequence goes back (seq %" PRIu64 " after %" PRIu64
			"): records reordered or inserted",
			r->seq, (uint64_t)json_integer_value(last));
	else if (last && r->seq != (uint64_t)json_integer_value(last) + 1)
		/* dropped records (best-effort) are explained by a gap record, which the writer
		 * may only get to write later */
		json_array_append_new(v->skips,
				      json_pack("{s:s, s:I, s:I, s:s, s:I, s:I, s:i}", "session", sid,
						"from", (json_int_t)json_integer_value(last) + 1, "to",
						(json_int_t)r->seq - 1, "file", s->name, "offset",
						(json_int_t)off, "jseq", (json_int_t)r->jseq, "type",
						r->type));
	json_object_set_new(v->seqs, sid, json_integer((json_int_t)r->seq));
}

/* The durable point the writer last recorded (HEAD: file, size, jseq, chain head). */
static void check_head(struct vstate *v, struct replay_archive *a, const char *last_file,
		       size_t last_size, uint64_t last_jseq)
{
	char path[4200], line[512], file[256], hex[80];
	unsigned long long size, jseq;
	FILE *f;

	snprintf(path, sizeof(path), "%s/HEAD", a->dir);
	f = fopen(path, "re");
	if (!f)
		return;
	if (!fgets(line, sizeof(line), f) ||
	    sscanf(line, "%255s %llu %llu %79s", file, &size, &jseq, hex) != 4) {
		fclose(f);
		return;
	}
	fclose(f);
	if (strcmp(file, last_file) != 0) {
		bool found = false;

		for (size_t i = 0; i < a->n; i++)
			found |= strcmp(a->segs[i].name, file) == 0;
		if (!found)
			problem(v, file, size, NULL,
				"the durable point (HEAD) names a segment that is missing");
		return;
	}
	if (last_size < size || last_jseq < jseq)
		problem(v, last_file, last_size, NULL,
			"truncated behind the durable point: HEAD says %llu bytes and record %llu "
			"were durable, the file ends at %zu bytes after record %" PRIu64,
			size, jseq, last_size, last_jseq);
}

int replay_cmd_verify(struct replay_archive *a, const char *key_path, bool json)
{
	struct vstate v = { .json = json };
	size_t last_size = 0;
	const char *last_name = "";
	int exit_code;

	v.problems = json_array();
	v.seqs = json_object();
	v.skips = json_array();
	v.gaps = json_object();
	if (key_path) {
		uint8_t buf[MW_JOURNAL_KEY_FILE_SIZE + 1];
		int fd = open(key_path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;

		if (fd >= 0)
			close(fd);
		if (n < 0 || journal_key_decode(buf, (size_t)n, &v.key_epoch, v.key) < 0) {
			fprintf(stderr, "mcpwarden-replay: '%s': %s\n", key_path,
				n < 0 ? strerror(errno) : "not a seal key file (MWJKEY01)");
			explicit_bzero(buf, sizeof(buf));
			return REPLAY_EXIT_USAGE;
		}
		explicit_bzero(buf, sizeof(buf));
		v.have_key = true;
	}
	for (size_t i = 0; i < a->n; i++) {
		struct replay_seg *s = &a->segs[i];
		struct mw_jreader rd;
		struct mw_jrec r;
		uint8_t head[MW_JOURNAL_HASH];
		uint64_t n = 0;
		int k;

		if (journal_reader_init(&rd, s->data, s->size) < 0) {
			problem(&v, s->name, rd.err_off, NULL, "%s", rd.err);
			v.have_prev_file = false;
			continue;
		}
		if (v.have_prev_file) {
			if (rd.header.file_seq != v.prev_file_seq + 1)
				problem(&v, s->name, 0, NULL,
					"file number %" PRIu64 " follows %" PRIu64
					": a segment is missing or out of place",
					rd.header.file_seq, v.prev_file_seq);
			if (memcmp(rd.header.prev_hash, v.prev_head, MW_JOURNAL_HASH) != 0)
				problem(&v, s->name, 0, NULL,
					"the file does not continue the previous file's chain "
					"(previous file truncated, replaced, or this file is foreign)");
			if (rd.header.first_jseq != v.last_jseq + 1)
				problem(&v, s->name, 0, NULL,
					"first record number %" PRIu64 " where %" PRIu64 " was due",
					rd.header.first_jseq, v.last_jseq + 1);
		}
		v.last_jseq = rd.header.first_jseq ? rd.header.first_jseq - 1 : 0;
		journal_chain_start(s->data, head);
		while ((k = journal_reader_next(&rd, &r)) > 0) {
			uint8_t h[MW_JOURNAL_HASH];

			n++;
			v.records++;
			journal_record_hash(head, r.body, r.body_len, h);
			if (memcmp(h, r.hash, sizeof(h)) != 0) {
				problem(&v, s->name, rd.frame_off, &r,
					"hash chain broken: the record was changed, inserted, "
					"moved or spliced from another file, or one before it was "
					"removed");
				memcpy(h, r.hash, sizeof(h)); /* resynchronise on what is there */
			}
			if (r.jseq != v.last_jseq + 1)
				problem(&v, s->name, rd.frame_off, &r,
					"record number %" PRIu64 " where %" PRIu64
					" was due (records removed, reordered or inserted)",
					r.jseq, v.last_jseq + 1);
			v.last_jseq = r.jseq;
			if (r.type == MW_JREC_SEAL)
				check_seal(&v, s, rd.frame_off, &r, head);
			else
				check_seq(&v, s, rd.frame_off, &r);
			memcpy(head, h, sizeof(h));
		}
		if (k < 0)
			problem(&v, s->name, rd.err_off, NULL, "%s%s", rd.err,
				rd.torn ? " (a torn tail: the writer stopped inside this frame)"
					: "");
		journal_reader_done(&rd);
		memcpy(v.prev_head, head, sizeof(head));
		v.prev_file_seq = rd.header.file_seq;
		v.have_prev_file = true;
		last_name = s->name;
		last_size = s->size;
		if (!json)
			printf("%s %s: %" PRIu64 " records\n", k < 0 ? "..." : "ok  ", s->name, n);
	}
	{
		size_t i, k;
		json_t *sk, *g;

		json_array_foreach(v.skips, i, sk) {
			const char *sid = json_string_value(json_object_get(sk, "session"));
			json_int_t from = json_integer_value(json_object_get(sk, "from"));
			json_int_t to = json_integer_value(json_object_get(sk, "to"));
			bool covered = false;
			struct mw_jrec fake = {
				.jseq = (uint64_t)json_integer_value(json_object_get(sk, "jseq")),
				.seq = (uint64_t)to + 1,
				.type = (uint8_t)json_integer_value(json_object_get(sk, "type")),
			};

			json_array_foreach(json_object_get(v.gaps, sid), k, g)
				covered |= json_integer_value(json_array_get(g, 0)) <= from &&
					   json_integer_value(json_array_get(g, 1)) >= to;
			if (covered)
				continue;
			journal_session_parse(sid, &fake.session);
			problem(&v, json_string_value(json_object_get(sk, "file")),
				(size_t)json_integer_value(json_object_get(sk, "offset")), &fake,
				"session sequence skips %lld..%lld without a gap record: records "
				"removed",
				(long long)from, (long long)to);
		}
	}
	if (a->dir[0] && a->n)
		check_head(&v, a, last_name, last_size, v.last_jseq);
	explicit_bzero(v.key, sizeof(v.key));
	exit_code = v.n_problems ? REPLAY_EXIT_FAIL : REPLAY_EXIT_OK;
	if (json) {
		json_t *o = json_pack("{s:b, s:I, s:I, s:I, s:I, s:b, s:O}", "ok", !v.n_problems,
				      "files", (json_int_t)a->n, "records", (json_int_t)v.records,
				      "seals", (json_int_t)v.seals, "seals_verified",
				      (json_int_t)v.sealed_ok, "key", v.have_key, "problems",
				      v.problems);
		json_dumpf(o, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(o);
	} else {
		printf("%s: %zu files, %" PRIu64 " records, %" PRIu64 " seals (%s), %u problems\n",
		       v.n_problems ? "FAILED" : "verified", a->n, v.records, v.seals,
		       v.have_key ? "each checked against the key" : "epochs checked; no --key",
		       v.n_problems);
	}
	json_decref(v.problems);
	json_decref(v.seqs);
	json_decref(v.skips);
	json_decref(v.gaps);
	return exit_code;
}
