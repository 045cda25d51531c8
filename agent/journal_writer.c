/* journal_writer.c: the writer thread, segment files, seals, index lines, retention and
 * recovery after a crash.  See journal.h and docs/journal.md. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <zstd.h>

#include "journal_index.h"
#include "journal_internal.h"

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t k = write(fd, b, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EIO;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

static void set_group(struct mw_journal *j, int fd)
{
	if (j->cfg.group != (gid_t)-1 && fchown(fd, (uid_t)-1, j->cfg.group) < 0)
		return; /* the mode still keeps others out */
}

static int key_load(struct mw_journal *j)
{
	uint8_t buf[MW_JOURNAL_KEY_FILE_SIZE + 1];
	int fd = openat(j->dirfd, MW_JOURNAL_KEY_NAME, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	int r;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	r = n < 0 ? -errno : journal_key_decode(buf, (size_t)n, &j->epoch, j->key);
	explicit_bzero(buf, sizeof(buf));
	if (r < 0)
		return r;
	j->have_key = true;
	return 0;
}

/* The evolved key replaces the old one on disk atomically; the old one is gone. */
static int key_store(struct mw_journal *j)
{
	uint8_t buf[MW_JOURNAL_KEY_FILE_SIZE];
	static const char tmp[] = MW_JOURNAL_KEY_NAME ".new";
	int fd, r;

	journal_key_encode(j->epoch, j->key, buf);
	fd = openat(j->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		explicit_bzero(buf, sizeof(buf));
		return -errno;
	}
	r = write_all(fd, buf, sizeof(buf));
	explicit_bzero(buf, sizeof(buf));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && renameat(j->dirfd, tmp, j->dirfd, MW_JOURNAL_KEY_NAME) < 0)
		r = -errno;
	if (r == 0)
		fsync(j->dirfd);
	return r;
}

int journal_dir_setup(struct mw_journal *j, char *errbuf, size_t errlen)
{
	char path[4096];
	int r;

	/* mkdir -p, the last level 0750 */
	snprintf(path, sizeof(path), "%s", j->cfg.dir);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			r = -errno;
			snprintf(errbuf, errlen, "mkdir '%s': %s", path, strerror(-r));
			return r;
		}
		*p = '/';
	}
	if (mkdir(path, 0750) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(errbuf, errlen, "mkdir '%s': %s", path, strerror(-r));
		return r;
	}
	j->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd < 0) {
		r = -errno;
		snprintf(errbuf, errlen, "open '%s': %s", path, strerror(-r));
		return r;
	}
	set_group(j, j->dirfd);
	r = key_load(j);
	if (r < 0) {
		snprintf(errbuf, errlen, "seal key '%s/%s': %s", path, MW_JOURNAL_KEY_NAME,
			 r == -EBADMSG ? "not a key file" : strerror(-r));
		return r;
	}
	j->headfd = openat(j->dirfd, MW_JOURNAL_HEAD_NAME, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (j->headfd < 0) {
		r = -errno;
		snprintf(errbuf, errlen, "'%s/HEAD': %s", path, strerror(-r));
		return r;
	}
	set_group(j, j->headfd);
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Segment file names, sorted (they start with the zero-padded file number). */
int journal_list_segments(int dirfd, char ***ret, size_t *ret_n)
{
	DIR *d;
	struct dirent *de;
	char **v = NULL;
	size_t n = 0;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		char **nv;

		if (l <= 4 || strcmp(de->d_name + l - 4, MW_JOURNAL_SEG_EXT) != 0)
			continue;
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv)
			break;
		v = nv;
		v[n] = strdup(de->d_name);
		if (v[n])
			n++;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), name_cmp);
	*ret = v;
	*ret_n = n;
	return 0;
}

static void names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void idx_name(const char *seg, char *out, size_t size)
{
	snprintf(out, size, "%.*s%s", (int)(strlen(seg) - 4), seg, MW_JOURNAL_IDX_EXT);
}

/* One JSON line appended to an index. */
static int idx_line(int fd, json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	int r;

	if (!s)
		return -ENOMEM;
	r = write_all(fd, s, strlen(s));
	if (r == 0)
		r = write_all(fd, "\n", 1);
	free(s);
	return r;
}

/* The open sessions a finished segment's index lists on its last line. */
static json_t *idx_trailer_open(int dirfd, const char *seg)
{
	char name[128];
	struct stat st;
	char *buf, *last;
	json_t *t, *open = NULL;
	int fd;

	idx_name(seg, name, sizeof(name));
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > (64 << 20)) {
		close(fd);
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf || read(fd, buf, (size_t)st.st_size) != st.st_size) {
		free(buf);
		close(fd);
		return NULL;
	}
	close(fd);
	buf[st.st_size] = 0;
	while (st.st_size > 0 && buf[st.st_size - 1] == '\n')
		buf[--st.st_size] = 0;
	last = strrchr(buf, '\n');
	t = json_loads(last ? last + 1 : buf, 0, NULL);
	free(buf);
	if (json_is_true(json_object_get(t, "end")))
		open = json_incref(json_object_get(t, "open"));
	json_decref(t);
	return json_is_object(open) ? open : (json_decref(open), NULL);
}

static void trailer_write(int fd, json_t *open, uint64_t records_end)
{
	json_t *t = json_pack("{s:b, s:O, s:I}", "end", 1, "open", open, "jseq",
			      (json_int_t)records_end);

	if (t)
		idx_line(fd, t);
	json_decref(t);
}

int journal_recover(struct mw_journal *j, struct mw_journal_recovery *rec, json_t **ret_open,
		    char *errbuf, size_t errlen)
{
	char **names = NULL, idx[128];
	size_t n = 0;
	struct mw_jreader rd;
	struct mw_jrec r;
	struct stat st;
	uint8_t *data = NULL;
	uint8_t prev[MW_JOURNAL_HASH];
	json_t *sessions;
	const char *k;
	json_t *s, *tmp;
	int fd = -1, ret = 0, k2, ifd;

	*ret_open = json_object();
	ret = journal_list_segments(j->dirfd, &names, &n);
	if (ret < 0) {
		snprintf(errbuf, errlen, "listing '%s': %s", j->cfg.dir, strerror(-ret));
		return ret;
	}
	if (n == 0)
		goto out;
	j->file_seq = strtoull(names[n - 1], NULL, 10);
	fd = openat(j->dirfd, names[n - 1], O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		ret = -errno;
		snprintf(errbuf, errlen, "'%s/%s': %s", j->cfg.dir, names[n - 1], strerror(-ret));
		goto out;
	}
	if (st.st_size < MW_JOURNAL_HEADER_SIZE) {
		/* created but never written: nothing was in it */
		unlinkat(j->dirfd, names[n - 1], 0);
		rec->truncated_bytes = (uint64_t)st.st_size;
		snprintf(rec->truncated_file, sizeof(rec->truncated_file), "%s", names[n - 1]);
		goto out;
	}
	data = malloc((size_t)st.st_size);
	if (!data || pread(fd, data, (size_t)st.st_size, 0) != st.st_size) {
		ret = -EIO;
		snprintf(errbuf, errlen, "reading '%s/%s' failed", j->cfg.dir, names[n - 1]);
		goto out;
	}
	if (journal_reader_init(&rd, data, (size_t)st.st_size) < 0) {
		ret = -EBADMSG;
		snprintf(errbuf, errlen, "'%s/%s': %s", j->cfg.dir, names[n - 1], rd.err);
		goto out;
	}
	sessions = n > 1 ? idx_trailer_open(j->dirfd, names[n - 2]) : NULL;
	if (!sessions)
		sessions = json_object();
	j->epoch = j->have_key ? j->epoch : rd.header.seal_epoch;
	j->w_jseq = rd.header.first_jseq ? rd.header.first_jseq - 1 : 0;
	journal_chain_start(data, prev);
	while ((k2 = journal_reader_next(&rd, &r)) > 0) {
		uint8_t h[MW_JOURNAL_HASH];

		journal_record_hash(prev, r.body, r.body_len, h);
		if (memcmp(h, r.hash, sizeof(h)) != 0) {
			rec->damaged = true;
			break;
		}
		memcpy(prev, h, sizeof(h));
		j->w_jseq = r.jseq;
		journal_index_add(sessions, &r, names[n - 1], rd.frame_off);
	}
	if (k2 < 0 && rd.torn) {
		rec->truncated_bytes = (uint64_t)st.st_size - rd.good_end;
		snprintf(rec->truncated_file, sizeof(rec->truncated_file), "%s", names[n - 1]);
		if (ftruncate(fd, (off_t)rd.good_end) == 0)
			fdatasync(fd);
	} else if (k2 < 0) {
		rec->damaged = true;
	}
	journal_reader_done(&rd);
	memcpy(j->head, prev, sizeof(prev));
	/* the index of the crashed segment, rebuilt from what it holds */
	idx_name(names[n - 1], idx, sizeof(idx));
	ifd = openat(j->dirfd, idx, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	json_object_foreach_safe(sessions, tmp, k, s) {
		if (strcmp(json_string_value(json_object_get(s, "state")), "open") == 0) {
			json_object_set(*ret_open, k, s);
			json_object_del(sessions, k);
		} else if (ifd >= 0) {
			idx_line(ifd, s);
		}
	}
	if (ifd >= 0) {
		set_group(j, ifd);
		trailer_write(ifd, *ret_open, j->w_jseq);
		fsync(ifd);
		close(ifd);
	}
	json_decref(sessions);
out:
	if (fd >= 0)
		close(fd);
	free(data);
	names_free(names, n);
	return ret;
}

static void head_update(struct mw_journal *j, uint64_t jseq)
{
	char line[256], hex[2 * MW_JOURNAL_HASH + 1];
	int len;

	journal_hex(j->head, MW_JOURNAL_HASH, hex);
	len = snprintf(line, sizeof(line), "%s %" PRIu64 " %" PRIu64 " %s\n", j->segname,
		       j->seg_size, jseq, hex);
	if (pwrite(j->headfd, line, (size_t)len, 0) == len)
		(void)!ftruncate(j->headfd, len);
}

int journal_segment_new(struct mw_journal *j, char *errbuf, size_t errlen)
{
	struct mw_jheader h = { .first_jseq = j->w_jseq + 1, .seal_epoch = j->epoch };
	uint8_t hdr[MW_JOURNAL_HEADER_SIZE];
	char idx[128], ts[32];
	time_t now = time(NULL);
	struct tm tm;
	int fd, r;

	h.file_seq = ++j->file_seq;
	h.created_wall = mw_now_wall_usec();
	memcpy(h.prev_hash, j->head, MW_JOURNAL_HASH);
	gethostname(h.host, sizeof(h.host) - 1);
	fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		char b[40] = "";

		if (read(fd, b, 36) == 36) {
			for (int i = 0, o = 0; i < 36 && o < 16; i++) {
				unsigned v;

				if (b[i] == '-')
					continue;
				if (sscanf(b + i, "%2x", &v) == 1)
					h.boot_id[o++] = (uint8_t)v;
				i++;
			}
		}
		close(fd);
	}
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(j->segname, sizeof(j->segname), "%08" PRIu64 "-%s%s", h.file_seq, ts,
		 MW_JOURNAL_SEG_EXT);
	journal_header_encode(&h, hdr);
	fd = openat(j->dirfd, j->segname, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC,
		    0640);
	if (fd < 0) {
		r = -errno;
		snprintf(errbuf, errlen, "creating '%s/%s': %s", j->cfg.dir, j->segname,
			 strerror(-r));
		j->file_seq--; /* the number goes to the segment made instead */
		return r;
	}
	set_group(j, fd);
	r = write_all(fd, hdr, sizeof(hdr));
	if (r == 0 && fdatasync(fd) < 0)
		r = -errno;
	if (r < 0) {
		snprintf(errbuf, errlen, "writing '%s/%s': %s", j->cfg.dir, j->segname,
			 strerror(-r));
		close(fd);
		unlinkat(j->dirfd, j->segname, 0);
		j->file_seq--;
		return r;
	}
	fsync(j->dirfd);
	idx_name(j->segname, idx, sizeof(idx));
	j->idxfd = openat(j->dirfd, idx, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
	if (j->idxfd >= 0)
		set_group(j, j->idxfd);
	j->segfd = fd;
	j->idx_broken = j->idxfd < 0;
	j->seg_size = sizeof(hdr);
	j->seg_created_wall = h.created_wall;
	j->seg_created_mono = mw_now_mono_usec();
	journal_chain_start(hdr, j->head);
	head_update(j, j->w_jseq);
	return 0;
}

void journal_segment_finish(struct mw_journal *j)
{
	if (j->idxfd >= 0) {
		/* an index missing lines has no trailer: readers scan the segment instead */
		if (!j->idx_broken)
			trailer_write(j->idxfd, j->sessions, j->w_jseq);
		fsync(j->idxfd);
		close(j->idxfd);
		j->idxfd = -1;
	}
	if (j->segfd >= 0) {
		fdatasync(j->segfd);
		close(j->segfd);
		j->segfd = -1;
	}
}

/* Oldest segments go first: past retention, or while the total is over max_total_size. */
static void retention_apply(struct mw_journal *j)
{
	char **names = NULL, idx[128];
	size_t n = 0;
	uint64_t total = 0, now = mw_now_wall_usec();
	struct stat st;

	if (journal_list_segments(j->dirfd, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (fstatat(j->dirfd, names[i], &st, 0) == 0)
			total += (uint64_t)st.st_size;
	for (size_t i = 0; i + 1 < n; i++) {
		uint64_t mtime;

		if (strcmp(names[i], j->segname) == 0 || fstatat(j->dirfd, names[i], &st, 0) < 0)
			continue;
		mtime = (uint64_t)st.st_mtim.tv_sec * 1000000ULL;
		if (!(j->cfg.retention && mtime + j->cfg.retention < now) &&
		    !(j->cfg.max_total_size && total > j->cfg.max_total_size))
			break;
		unlinkat(j->dirfd, names[i], 0);
		idx_name(names[i], idx, sizeof(idx));
		unlinkat(j->dirfd, idx, 0);
		total -= (uint64_t)st.st_size;
	}
	names_free(names, n);
}

/* A seal: HMAC of the chain head under this epoch's key, appended to raw. */
static int seal_add(struct mw_journal *j)
{
	uint8_t mac[32];
	char meta[64];
	struct mw_jrec r = { .type = MW_JREC_SEAL };
	int len, k;

	journal_seal_mac(j->key, j->head, mac);
	len = snprintf(meta, sizeof(meta), "{\"epoch\":%" PRIu64 "}", j->epoch);
	r.meta = meta;
	r.meta_len = (uint32_t)len;
	r.payload = mac;
	r.payload_len = sizeof(mac);
	r.wall = mw_now_wall_usec();
	r.mono = mw_now_mono_usec();
	r.jseq = ++j->w_jseq;
	k = journal_record_encode(&r, j->head, &j->raw, j->head);
	explicit_bzero(mac, sizeof(mac));
	return k;
}

static void fail(struct mw_journal *j, int err, const char *what)
{
	if (j->retrying)
		return; /* still failed, already reported */
	pthread_mutex_lock(&j->lock);
	if (j->cfg.mode == MW_JOURNAL_STRICT)
		atomic_store(&j->failed, 1);
	if (!j->failed_err || j->failure_reported) {
		j->failed_err = err;
		snprintf(j->failed_what, sizeof(j->failed_what), "%s '%s/%s'", what, j->cfg.dir,
			 j->segname);
		j->failure_reported = false;
	}
	pthread_mutex_unlock(&j->lock);
}

static void signal_loop(struct mw_journal *j)
{
	uint64_t one = 1;

	(void)!write(j->evfd, &one, sizeof(one));
}

/* The raw records gathered so far as one frame, written (not yet synced). */
static int frame_flush(struct mw_journal *j)
{
	int r;

	if (!j->raw.len)
		return 0;
	j->frame.len = 0;
	r = journal_frame_encode_ctx(j->cctx, j->raw.data, j->raw.len, MW_JOURNAL_ZSTD_LEVEL,
				     &j->frame);
	if (r == 0)
		r = write_all(j->segfd, j->frame.data, j->frame.len);
	if (r == 0)
		j->seg_size += j->frame.len;
	j->raw.len = 0;
	return r;
}

/* Write one batch (as frames of about MW_JOURNAL_FRAME_TARGET raw bytes) and make it
 * durable with one fdatasync.  Returns 0 or -errno. */
static int batch_write(struct mw_journal *j, struct jq_item *list, bool seal_now)
{
	uint64_t last = 0, size_before = j->seg_size, jseq_before = j->w_jseq;
	uint64_t since_seal_before = j->since_seal;
	uint8_t head_before[MW_JOURNAL_HASH];
	bool sealed = false;
	int r = 0;

	memcpy(head_before, j->head, sizeof(head_before));
	j->raw.len = 0;
	for (struct jq_item *it = list; it; it = it->next) {
		it->r.jseq = ++j->w_jseq;
		it->off = j->seg_size;
		r = journal_record_encode(&it->r, j->head, &j->raw, j->head);
		if (r < 0)
			break;
		last = it->ticket;
		j->since_seal++;
		if (j->raw.len >= MW_JOURNAL_FRAME_TARGET && (r = frame_flush(j)) < 0)
			break;
	}
	if (r == 0 && seal_now && j->have_key && j->since_seal) {
		r = seal_add(j);
		sealed = r == 0;
	}
	if (r == 0)
		r = frame_flush(j);
	if (r == 0 && fdatasync(j->segfd) < 0)
		r = -errno;
	if (r < 0) {
		/* nothing of this batch counts: cut what may have reached the file */
		j->seg_size = size_before;
		j->raw.len = 0;
		(void)!ftruncate(j->segfd, (off_t)j->seg_size);
		memcpy(j->head, head_before, sizeof(head_before));
		j->w_jseq = jseq_before; /* the numbers go to the records written instead */
		j->since_seal = since_seal_before;
		fail(j, r, "writing");
		return r;
	}
	if (sealed) {
		journal_key_evolve(j->key);
		j->epoch++;
		j->since_seal = 0;
		j->last_seal_mono = mw_now_mono_usec();
		if (key_store(j) < 0)
			fail(j, -EIO, "storing the evolved seal key beside");
	}
	/* index: sessions first seen here point at this frame; ended ones get their line */
	for (struct jq_item *it = list; it; it = it->next) {
		json_t *s = journal_index_add(j->sessions, &it->r, j->segname, it->off);

		if (s && (it->r.type == MW_JREC_CLOSE || it->r.type == MW_JREC_ABANDONED)) {
			char name[17];

			if (j->idxfd >= 0 && idx_line(j->idxfd, s) < 0)
				j->idx_broken = true;
			journal_session_name(it->r.session, name);
			json_object_del(j->sessions, name);
		}
	}
	if (last)
		atomic_store(&j->durable, last);
	head_update(j, j->w_jseq);
	return 0;
}

static int rotate(struct mw_journal *j)
{
	char err[256];
	int r;

	if (j->have_key && j->since_seal)
		batch_write(j, NULL, true);
	journal_segment_finish(j);
	r = journal_segment_new(j, err, sizeof(err));
	if (r < 0)
		fail(j, r, "creating a new segment in");
	retention_apply(j);
	return r;
}

/* Strict mode, failed: a new segment, then an abandoned record for every session the
 * failure cut (their flows were ended; their records past the last durable one never
 * reached the file).  Only once that is durable does the journal accept appends again. */
static void strict_retry(struct mw_journal *j)
{
	static const char meta[] = "{\"reason\":\"the session journal failed (strict mode): the "
				   "flow was ended\"}";
	struct jq_item *list = NULL, **tail = &list;
	unsigned n = 0;
	char err[256];
	const char *k;
	json_t *s;
	int r;

	j->retrying = true;
	/* a segment an earlier attempt made and could not write to is tried again, not
	 * left behind empty every MW_JOURNAL_RETRY_USEC */
	if (j->segfd < 0 || j->seg_size > MW_JOURNAL_HEADER_SIZE) {
		journal_segment_finish(j);
		r = journal_segment_new(j, err, sizeof(err));
		if (r < 0)
			goto out;
	}
	json_object_foreach(j->sessions, k, s) {
		struct jq_item *it = calloc(1, sizeof(*it) + sizeof(meta) - 1);
		uint64_t sid;

		if (!it || journal_session_parse(k, &sid) < 0) {
			free(it);
			continue;
		}
		memcpy(it->data, meta, sizeof(meta) - 1);
		it->r = (struct mw_jrec){
			.type = MW_JREC_ABANDONED,
			.session = sid,
			.flow = (uint64_t)json_integer_value(json_object_get(s, "flow")),
			.seq = (uint64_t)json_integer_value(json_object_get(s, "last_seq")) + 1,
			.wall = mw_now_wall_usec(),
			.mono = mw_now_mono_usec(),
			.meta = (const char *)it->data,
			.meta_len = sizeof(meta) - 1,
		};
		*tail = it;
		tail = &it->next;
		n++;
	}
	/* an empty batch still proves the new segment takes a write and a sync */
	r = n ? batch_write(j, list, false) : (fdatasync(j->segfd) < 0 ? -errno : 0);
	while (list) {
		struct jq_item *it = list;

		list = it->next;
		free(it);
	}
	if (r < 0)
		goto out;
	pthread_mutex_lock(&j->lock);
	atomic_store(&j->failed, 0);
	j->failed_err = 0;
	j->failure_reported = false;
	j->recovered = true;
	j->recovered_abandoned = n;
	snprintf(j->recovered_what, sizeof(j->recovered_what), "'%s/%s'", j->cfg.dir,
		 j->segname);
	pthread_mutex_unlock(&j->lock);
	signal_loop(j);
out:
	j->retrying = false;
}

void *journal_writer_main(void *arg)
{
	struct mw_journal *j = arg;

	j->last_seal_mono = mw_now_mono_usec();
	j->cctx = ZSTD_createCCtx();
	for (;;) {
		struct jq_item *list;
		struct timespec ts;
		uint64_t now_mono;
		bool stop, seal_now, reload;

		pthread_mutex_lock(&j->lock);
		if (!j->q_head && !j->stop) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += MW_JOURNAL_WAKE_USEC / 1000000;
			pthread_cond_timedwait(&j->cond, &j->lock, &ts);
		}
		stop = j->stop;
		reload = j->cfg_pending;
		if (reload) { /* the safe settings only: journal_reconfigure() kept the rest */
			j->cfg.max_file_size = j->cfg_next.max_file_size;
			j->cfg.rotate_interval = j->cfg_next.rotate_interval;
			j->cfg.retention = j->cfg_next.retention;
			j->cfg.max_total_size = j->cfg_next.max_total_size;
			j->cfg.seal_interval = j->cfg_next.seal_interval;
			j->cfg.flush_interval = j->cfg_next.flush_interval;
			j->cfg.queue_max = j->cfg_next.queue_max; /* read under the lock */
			j->cfg_pending = false;
		}
		if (j->cfg.mode == MW_JOURNAL_BEST_EFFORT && j->q_head && !stop &&
		    j->cfg.flush_interval) {
			/* the bounded window: gather a batch, then write it */
			pthread_mutex_unlock(&j->lock);
			usleep((useconds_t)j->cfg.flush_interval);
			pthread_mutex_lock(&j->lock);
		}
		list = j->q_head;
		j->q_head = j->q_tail = NULL;
		j->q_bytes = 0;
		pthread_mutex_unlock(&j->lock);

		now_mono = mw_now_mono_usec();
		if (j->segfd >= 0 && (j->seg_size >= j->cfg.max_file_size ||
				      (j->cfg.rotate_interval &&
				       now_mono - j->seg_created_mono >= j->cfg.rotate_interval)))
			rotate(j);
		else if (reload && j->segfd >= 0)
			retention_apply(j);
		seal_now = stop || now_mono - j->last_seal_mono >= j->cfg.seal_interval;
		if (j->segfd >= 0 && (list || (seal_now && j->since_seal))) {
			if (batch_write(j, list, seal_now) < 0 &&
			    j->cfg.mode == MW_JOURNAL_BEST_EFFORT) {
				pthread_mutex_lock(&j->lock);
				for (struct jq_item *it = list; it; it = it->next)
					gap_note_locked(j, &it->r);
				pthread_mutex_unlock(&j->lock);
			}
		} else if (list && j->segfd < 0) {
			fail(j, -EIO, "no segment open in");
		}
		while (list) {
			struct jq_item *it = list;

			list = it->next;
			free(it);
		}
		signal_loop(j);
		if (stop)
			break;
		if (j->cfg.mode == MW_JOURNAL_STRICT && atomic_load(&j->failed)) {
			now_mono = mw_now_mono_usec();
			if (!j->retry_mono)
				j->retry_mono = now_mono;
			else if (now_mono - j->retry_mono >= MW_JOURNAL_RETRY_USEC) {
				j->retry_mono = now_mono;
				strict_retry(j);
			}
		} else {
			j->retry_mono = 0;
		}
	}
	free(j->raw.data);
	free(j->frame.data);
	j->raw = j->frame = (struct mw_bytes){};
	ZSTD_freeCCtx(j->cctx);
	j->cctx = NULL;
	return NULL;
}
