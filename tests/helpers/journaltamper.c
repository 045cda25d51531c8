/* journaltamper: rewrites a journal segment the way an intruder would, for the tamper
 * tests (tests/e2e/journal.sh).  The records are re-framed (valid zstd, valid checksums),
 * so only the journal's own integrity checks can catch the change.
 *
 *   journaltamper flip N FILE          change a byte of record N, hashes kept
 *   journaltamper drop N FILE          remove record N
 *   journaltamper swap A B FILE        exchange records A and B
 *   journaltamper dup N FILE           insert a copy of record N after it
 *   journaltamper splice OTHER K FILE  put record K of segment OTHER in place of record 2
 *   journaltamper oldseal OTHER FILE   replace the last seal with OTHER's first seal and
 *                                      rewrite the chain after it
 *   journaltamper rechain N FILE       change record N and rewrite every hash after it
 *   journaltamper lastframe FILE       cut the last frame off (whole)
 * Records are numbered from 0 in file order. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal_codec.h"

struct trec {
	uint8_t *body;
	size_t len;
	uint8_t hash[32];
	uint8_t type;
};

struct tfile {
	uint8_t *data;
	size_t size;
	struct trec *r;
	size_t n;
	size_t last_frame_off;
};

static int load(const char *path, struct tfile *t)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	struct mw_jreader rd;
	struct mw_jrec r;

	memset(t, 0, sizeof(*t));
	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	t->size = (size_t)st.st_size;
	t->data = malloc(t->size);
	if (!t->data || read(fd, t->data, t->size) != (ssize_t)t->size)
		return -EIO;
	close(fd);
	if (journal_reader_init(&rd, t->data, t->size) < 0) {
		fprintf(stderr, "%s: %s\n", path, rd.err);
		return -EBADMSG;
	}
	while (journal_reader_next(&rd, &r) == 1) {
		t->r = realloc(t->r, (t->n + 1) * sizeof(*t->r));
		t->r[t->n].body = malloc(r.body_len);
		memcpy(t->r[t->n].body, r.body, r.body_len);
		t->r[t->n].len = r.body_len;
		t->r[t->n].type = r.type;
		memcpy(t->r[t->n].hash, r.hash, 32);
		t->last_frame_off = rd.frame_off;
		t->n++;
	}
	if (rd.err[0]) {
		fprintf(stderr, "%s offset %zu: %s\n", path, rd.err_off, rd.err);
		return -EBADMSG;
	}
	journal_reader_done(&rd);
	return 0;
}

static void rechain_from(struct tfile *t, size_t from)
{
	uint8_t head[32];

	if (from == 0)
		journal_chain_start(t->data, head);
	else
		memcpy(head, t->r[from - 1].hash, 32);
	for (size_t i = from; i < t->n; i++) {
		journal_record_hash(head, t->r[i].body, t->r[i].len, t->r[i].hash);
		memcpy(head, t->r[i].hash, 32);
	}
}

static int store(const char *path, struct tfile *t)
{
	struct mw_bytes raw = {}, out = {};
	int fd;

	for (size_t i = 0; i < t->n; i++) {
		uint8_t l[4];
		uint32_t len = (uint32_t)(t->r[i].len + 32);

		for (int k = 0; k < 4; k++)
			l[k] = (uint8_t)(len >> (8 * k));
		bytes_append(&raw, l, 4);
		bytes_append(&raw, t->r[i].body, t->r[i].len);
		bytes_append(&raw, t->r[i].hash, 32);
	}
	bytes_append(&out, t->data, MW_JOURNAL_HEADER_SIZE);
	if (raw.len && journal_frame_encode(raw.data, raw.len, 3, &out) < 0)
		return -EIO;
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0 || write(fd, out.data, out.len) != (ssize_t)out.len)
		return -errno;
	close(fd);
	return 0;
}

static int need(struct tfile *t, size_t i)
{
	if (i >= t->n) {
		fprintf(stderr, "record %zu: the file has %zu\n", i, t->n);
		exit(2);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct tfile t, o;
	const char *op = argc > 1 ? argv[1] : "", *path = argv[argc - 1];
	size_t a, b;

	if (argc < 3 || load(path, &t) < 0)
		return 2;
	if (strcmp(op, "flip") == 0) {
		need(&t, a = strtoul(argv[2], NULL, 10));
		t.r[a].body[t.r[a].len - 1] ^= 0x20; /* the last payload (or meta) byte */
	} else if (strcmp(op, "drop") == 0) {
		need(&t, a = strtoul(argv[2], NULL, 10));
		memmove(&t.r[a], &t.r[a + 1], (t.n - a - 1) * sizeof(t.r[0]));
		t.n--;
	} else if (strcmp(op, "swap") == 0) {
		struct trec x;

		need(&t, a = strtoul(argv[2], NULL, 10));
		need(&t, b = strtoul(argv[3], NULL, 10));
		x = t.r[a];
		t.r[a] = t.r[b];
		t.r[b] = x;
	} else if (strcmp(op, "dup") == 0) {
		need(&t, a = strtoul(argv[2], NULL, 10));
		t.r = realloc(t.r, (t.n + 1) * sizeof(t.r[0]));
		memmove(&t.r[a + 1], &t.r[a], (t.n - a) * sizeof(t.r[0]));
		t.n++;
	} else if (strcmp(op, "splice") == 0) {
		if (load(argv[2], &o) < 0)
			return 2;
		need(&o, b = strtoul(argv[3], NULL, 10));
		need(&t, 2);
		t.r[2] = o.r[b];
	} else if (strcmp(op, "oldseal") == 0) {
		size_t first = SIZE_MAX, last = SIZE_MAX;

		if (load(argv[2], &o) < 0)
			return 2;
		for (size_t i = 0; i < o.n && first == SIZE_MAX; i++)
			if (o.r[i].type == MW_JREC_SEAL)
				first = i;
		for (size_t i = 0; i < t.n; i++)
			if (t.r[i].type == MW_JREC_SEAL)
				last = i;
		if (first == SIZE_MAX || last == SIZE_MAX) {
			fprintf(stderr, "no seal to replay\n");
			return 2;
		}
		t.r[last] = o.r[first];
		rechain_from(&t, last);
	} else if (strcmp(op, "rechain") == 0) {
		need(&t, a = strtoul(argv[2], NULL, 10));
		t.r[a].body[t.r[a].len - 1] ^= 0x20;
		rechain_from(&t, a);
	} else if (strcmp(op, "lastframe") == 0) {
		if (truncate(path, (off_t)t.last_frame_off) < 0)
			return 1;
		return 0;
	} else {
		fprintf(stderr, "unknown operation '%s'\n", op);
		return 2;
	}
	return store(path, &t) < 0 ? 1 : 0;
}
