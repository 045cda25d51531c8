/* mcpwarden_replay_archive.c: mcpwarden-replay's view of a journal directory: the
 * segments mapped read-only, records iterated across segments, a record as JSON. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "journal_index.h"
#include "mcpwarden_replay.h"
#include "util.h"

static int seg_map(struct replay_seg *s, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	const char *slash = strrchr(path, '/');

	snprintf(s->path, sizeof(s->path), "%s", path);
	snprintf(s->name, sizeof(s->name), "%s", slash ? slash + 1 : path);
	if (fd < 0 || fstat(fd, &st) < 0) {
		int r = -errno;

		if (fd >= 0)
			close(fd);
		return r;
	}
	s->size = (size_t)st.st_size;
	s->data = s->size ? mmap(NULL, s->size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
	close(fd);
	if (s->data == MAP_FAILED) {
		s->data = NULL;
		return -errno;
	}
	return 0;
}

int replay_archive_open(const char *dir, struct replay_archive *a)
{
	char **names = NULL;
	size_t n = 0;
	int dfd, r;

	memset(a, 0, sizeof(*a));
	snprintf(a->dir, sizeof(a->dir), "%s", dir);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		fprintf(stderr, "mcpwarden-replay: journal directory '%s': %s\n", dir,
			strerror(errno));
		return -errno;
	}
	r = journal_list_segments(dfd, &names, &n);
	close(dfd);
	if (r < 0) {
		fprintf(stderr, "mcpwarden-replay: '%s': %s\n", dir, strerror(-r));
		return r;
	}
	a->segs = calloc(n ? n : 1, sizeof(*a->segs));
	for (size_t i = 0; a->segs && i < n; i++) {
		char path[4400];

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (seg_map(&a->segs[a->n], path) == 0)
			a->n++;
		else
			fprintf(stderr, "mcpwarden-replay: '%s': %s, skipped\n", path,
				strerror(errno));
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return a->segs ? 0 : -ENOMEM;
}

int replay_archive_files(char **paths, int n, struct replay_archive *a)
{
	memset(a, 0, sizeof(*a));
	a->segs = calloc((size_t)n, sizeof(*a->segs));
	if (!a->segs)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		int r = seg_map(&a->segs[a->n], paths[i]);

		if (r < 0) {
			fprintf(stderr, "mcpwarden-replay: '%s': %s\n", paths[i], strerror(-r));
			return r;
		}
		a->n++;
	}
	return 0;
}

void replay_archive_close(struct replay_archive *a)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->segs[i].data)
			munmap(a->segs[i].data, a->segs[i].size);
	free(a->segs);
	a->segs = NULL;
	a->n = 0;
}

int replay_foreach(struct replay_archive *a, size_t seg, size_t offset, replay_rec_fn cb, void *ud)
{
	for (size_t i = seg; i < a->n; i++) {
		struct replay_seg *s = &a->segs[i];
		struct mw_jreader rd;
		struct mw_jrec r;
		int k, c = 0;

		if (journal_reader_init(&rd, s->data, s->size) < 0) {
			fprintf(stderr, "mcpwarden-replay: %s: %s\n", s->name, rd.err);
			continue;
		}
		if (i == seg && offset >= MW_JOURNAL_HEADER_SIZE && offset < s->size)
			rd.off = offset;
		while ((k = journal_reader_next(&rd, &r)) > 0) {
			c = cb(ud, s, rd.frame_off, &r);
			if (c != 0)
				break;
		}
		if (k < 0)
			fprintf(stderr, "mcpwarden-replay: %s offset %zu: %s%s\n", s->name,
				rd.err_off, rd.err, rd.torn ? " (torn tail)" : "");
		journal_reader_done(&rd);
		if (c != 0)
			return c < 0 ? c : 0;
	}
	return 0;
}

void replay_time(uint64_t wall, char *buf, size_t size)
{
	time_t t = (time_t)(wall / 1000000);
	struct tm tm;
	char b[32];

	gmtime_r(&t, &tm);
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03uZ", b, (unsigned)(wall % 1000000 / 1000));
}

static bool is_text(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 && p[i] != '\n' && p[i] != '\r' && p[i] != '\t')
			return false;
	return true;
}

json_t *replay_record_json(const struct replay_seg *seg, size_t frame_off, const struct mw_jrec *r)
{
	char sid[17], t[40], hex[2 * MW_JOURNAL_HASH + 1];
	json_t *o, *meta = NULL;
	static const char *const dirs[] = { "none", "to_upstream", "to_client" };

	journal_session_name(r->session, sid);
	replay_time(r->wall, t, sizeof(t));
	journal_hex(r->hash, MW_JOURNAL_HASH, hex);
	if (r->meta_len)
		meta = json_loadb(r->meta, r->meta_len, 0, NULL);
	o = json_pack("{s:s, s:I, s:I, s:s, s:I, s:I, s:s, s:s, s:s, s:I, s:o, s:s}", "file",
		      seg->name, "offset", (json_int_t)frame_off, "jseq", (json_int_t)r->jseq,
		      "session", sid, "flow", (json_int_t)r->flow, "seq", (json_int_t)r->seq,
		      "type", journal_type_name(r->type), "dir", r->dir < 3 ? dirs[r->dir] : "?",
		      "time", t, "mono", (json_int_t)r->mono, "meta",
		      meta ? meta : json_object(), "hash", hex);
	if (!o)
		return NULL;
	if (r->flags & MW_JFLAG_RAW)
		json_object_set_new(o, "raw", json_true());
	if (r->flags & MW_JFLAG_OWN)
		json_object_set_new(o, "own", json_true());
	if (r->payload_len && r->type != MW_JREC_SEAL && is_text(r->payload, r->payload_len)) {
		json_t *s = json_stringn((const char *)r->payload, r->payload_len);

		if (s) {
			json_object_set_new(o, "payload", s);
			return o;
		}
	}
	if (r->payload_len) {
		size_t cap = 4 * ((r->payload_len + 2) / 3) + 1;
		char *b64 = malloc(cap);

		if (b64) {
			EVP_EncodeBlock((unsigned char *)b64, r->payload, (int)r->payload_len);
			json_object_set_new(o, "payload", json_string(b64));
			json_object_set_new(o, "payload_encoding", json_string("base64"));
			free(b64);
		}
	}
	return o;
}

