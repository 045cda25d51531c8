/* journal.c: see journal.h.  The event loop appends; one writer thread writes. */
#include "journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>

#include "journal_index.h"
#include "journal_internal.h"
#include "mask.h"

const char *journal_mode_name(enum mw_journal_mode m)
{
	return m == MW_JOURNAL_STRICT ? "strict" : m == MW_JOURNAL_BEST_EFFORT ? "best-effort" : "off";
}

static int cfg_size(json_t *o, const char *key, uint64_t *v, struct mw_diag *d)
{
	json_t *x = json_object_get(o, key);

	if (!x)
		return 0;
	if (json_is_integer(x) && json_integer_value(x) >= 0) {
		*v = (uint64_t)json_integer_value(x);
		return 0;
	}
	if (!json_is_string(x) || mw_parse_size(json_string_value(x), v) < 0)
		return mw_diag_set(d, -EINVAL, "", 0, 0, key, "a size like \"256MiB\" expected");
	return 0;
}

static int cfg_dur(json_t *o, const char *key, uint64_t *v, struct mw_diag *d)
{
	json_t *x = json_object_get(o, key);

	if (!x)
		return 0;
	if (!json_is_string(x) || mw_parse_duration(json_string_value(x), v) < 0)
		return mw_diag_set(d, -EINVAL, "", 0, 0, key, "a duration like \"90d\" expected");
	return 0;
}

int journal_config_parse(json_t *obj, const char *state_dir, struct mw_journal_config *ret,
			 struct mw_diag *d)
{
	static const char *const keys[] = { "dir",	      "mode",	       "max_file_size",
					    "rotate_interval", "retention",   "max_total_size",
					    "group",	      "seal_interval", "flush_interval",
					    "queue_max",      "mask" };
	struct mw_journal_config c = {
		.mode = MW_JOURNAL_BEST_EFFORT,
		.max_file_size = MW_JOURNAL_MAX_FILE_DEFAULT,
		.rotate_interval = MW_JOURNAL_ROTATE_DEFAULT,
		.retention = MW_JOURNAL_RETENTION_DEFAULT,
		.max_total_size = MW_JOURNAL_MAX_TOTAL_DEFAULT,
		.seal_interval = MW_JOURNAL_SEAL_DEFAULT,
		.flush_interval = MW_JOURNAL_FLUSH_DEFAULT,
		.queue_max = MW_JOURNAL_QUEUE_DEFAULT,
		.group = (gid_t)-1,
	};
	const char *k;
	json_t *v;
	int r;

	snprintf(c.dir, sizeof(c.dir), "%s/journal", state_dir);
	if (obj && !json_is_object(obj))
		return mw_diag_set(d, -EINVAL, "", 0, 0, "journal", "an object expected");
	json_object_foreach(obj, k, v) {
		bool known = false;

		for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
			known |= strcmp(k, keys[i]) == 0;
		if (!known)
			return mw_diag_set(d, -EINVAL, "", 0, 0, k, "unknown key in \"journal\"");
	}
	v = json_object_get(obj, "dir");
	if (v) {
		if (!json_is_string(v) || json_string_value(v)[0] != '/')
			return mw_diag_set(d, -EINVAL, "", 0, 0, "journal.dir",
					   "an absolute path expected");
		snprintf(c.dir, sizeof(c.dir), "%s", json_string_value(v));
	}
	v = json_object_get(obj, "mode");
	if (v) {
		const char *m = json_string_value(v);

		if (m && strcmp(m, "strict") == 0)
			c.mode = MW_JOURNAL_STRICT;
		else if (m && strcmp(m, "best-effort") == 0)
			c.mode = MW_JOURNAL_BEST_EFFORT;
		else if (m && strcmp(m, "off") == 0)
			c.mode = MW_JOURNAL_OFF;
		else
			return mw_diag_set(d, -EINVAL, "", 0, 0, "journal.mode",
					   "\"strict\", \"best-effort\" or \"off\" expected");
	}
	if ((r = cfg_size(obj, "max_file_size", &c.max_file_size, d)) < 0 ||
	    (r = cfg_size(obj, "max_total_size", &c.max_total_size, d)) < 0 ||
	    (r = cfg_size(obj, "queue_max", &c.queue_max, d)) < 0 ||
	    (r = cfg_dur(obj, "rotate_interval", &c.rotate_interval, d)) < 0 ||
	    (r = cfg_dur(obj, "retention", &c.retention, d)) < 0 ||
	    (r = cfg_dur(obj, "seal_interval", &c.seal_interval, d)) < 0 ||
	    (r = cfg_dur(obj, "flush_interval", &c.flush_interval, d)) < 0)
		return r;
	if (c.max_file_size < 64 * 1024)
		return mw_diag_set(d, -EINVAL, "", 0, 0, "journal.max_file_size",
				   "at least 64KiB");
	v = json_object_get(obj, "group");
	if (v) {
		struct group *g = json_is_string(v) ? getgrnam(json_string_value(v)) : NULL;

		if (!g)
			return mw_diag_set(d, -EINVAL, "", 0, 0, "journal.group",
					   "an existing group name expected");
		c.group = g->gr_gid;
		snprintf(c.group_name, sizeof(c.group_name), "%s", g->gr_name);
	}
	v = json_object_get(obj, "mask");
	if (v) {
		if (!json_is_string(v))
			return mw_diag_set(d, -EINVAL, "", 0, 0, "journal.mask",
					   "a masking profile name expected");
		snprintf(c.mask, sizeof(c.mask), "%s", json_string_value(v));
	}
	*ret = c;
	return 0;
}

enum mw_journal_mode journal_mode(const struct mw_journal *j)
{
	return j->cfg.mode;
}

uint64_t journal_session_new(struct mw_journal *j)
{
	return j->instance << 32 | ++j->next_session;
}

int journal_fd(struct mw_journal *j)
{
	return j->evfd;
}

bool journal_durable(struct mw_journal *j, uint64_t ticket)
{
	return ticket <= atomic_load(&j->durable);
}

bool journal_failed(struct mw_journal *j)
{
	return j->cfg.mode == MW_JOURNAL_STRICT && atomic_load(&j->failed) != 0;
}

/* Header fields whose values are credentials: never journaled (a token is journaled as
 * its claims and hash, in the decision record). */
static const char *const secret_fields[] = { "authorization:", "proxy-authorization:", "cookie:",
					     "set-cookie:", "x-api-key:" };

static size_t secret_field_at(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < ARRAY_SIZE(secret_fields); i++) {
		size_t l = strlen(secret_fields[i]);

		if (n >= l && strncasecmp((const char *)p, secret_fields[i], l) == 0)
			return l;
	}
	return 0;
}

void journal_set_masker(struct mw_journal *j, struct mw_masker *m)
{
	struct mw_masker *old;

	pthread_rwlock_wrlock(&j->mask_lock);
	old = j->masker;
	j->masker = m;
	pthread_rwlock_unlock(&j->mask_lock);
	mask_free(old);
}

/* Credentials in HTTP heads: "Authorization: [redacted]". */
static const uint8_t *cut_credentials(const uint8_t *p, size_t n, size_t *ret_len,
				      uint8_t **ret_owned)
{
	static const char redacted[] = " [redacted]";
	uint8_t *out = NULL;
	size_t o = 0, from = 0, cap = 0;

	*ret_owned = NULL;
	*ret_len = n;
	for (size_t i = 0; i < n; i++)
		if ((i == 0 || p[i - 1] == '\n') && secret_field_at(p + i, n - i))
			cap += sizeof(redacted);
	if (!cap)
		return p;
	cap += n;
	out = malloc(cap);
	if (!out) {
		*ret_len = 0; /* fail closed: no credential reaches the journal */
		return p;
	}
	for (size_t i = 0; i < n; i++) {
		size_t l, end;

		if ((i > 0 && p[i - 1] != '\n') || !(l = secret_field_at(p + i, n - i)))
			continue;
		end = i + l;
		while (end < n && p[end] != '\r' && p[end] != '\n')
			end++;
		memcpy(out + o, p + from, i + l - from);
		o += i + l - from;
		memcpy(out + o, redacted, sizeof(redacted) - 1);
		o += sizeof(redacted) - 1;
		from = end;
		i = end;
	}
	memcpy(out + o, p + from, n - from);
	o += n - from;
	*ret_owned = out;
	*ret_len = o;
	return out;
}

const uint8_t *journal_payload_filter(struct mw_journal *j, uint16_t flags, const uint8_t *p,
				      size_t n, size_t *ret_len, uint8_t **ret_owned,
				      char *ret_masked, size_t size)
{
	struct mw_mask_summary sum = {};
	const uint8_t *q = cut_credentials(p, n, ret_len, ret_owned);
	uint8_t *m = NULL;
	size_t mlen = 0;
	int r = 0;

	if (ret_masked && size)
		ret_masked[0] = 0;
	if (*ret_len == 0)
		return q; /* nothing to record (or failed closed) */
	pthread_rwlock_rdlock(&j->mask_lock);
	if (j->masker)
		r = journal_mask_payload(mask_journal_profile(j->masker), flags & MW_JFLAG_RAW, q,
					 *ret_len, &m, &mlen, &sum);
	pthread_rwlock_unlock(&j->mask_lock);
	if (r < 0) {
		free(*ret_owned);
		*ret_owned = NULL;
		*ret_len = 0; /* fail closed: nothing unmasked reaches the journal */
		return p;
	}
	if (r == 0)
		return q;
	free(*ret_owned);
	*ret_owned = m;
	*ret_len = mlen;
	if (ret_masked && size)
		mask_summary_format(&sum, ret_masked, size);
	return m;
}

/* Caller holds the lock. */
static void queue_push(struct mw_journal *j, struct jq_item *it)
{
	it->ticket = ++j->next_ticket;
	it->next = NULL;
	if (j->q_tail)
		j->q_tail->next = it;
	else
		j->q_head = it;
	j->q_tail = it;
	j->q_bytes += it->size;
}

static struct jq_item *item_new(const struct mw_jrec *r, const uint8_t *payload, size_t plen)
{
	struct jq_item *it = malloc(sizeof(*it) + r->meta_len + plen);

	if (!it)
		return NULL;
	it->r = *r;
	memcpy(it->data, r->meta, r->meta_len);
	if (plen)
		memcpy(it->data + r->meta_len, payload, plen);
	it->r.meta = (const char *)it->data;
	it->r.payload = it->data + r->meta_len;
	it->r.payload_len = (uint32_t)plen;
	it->size = sizeof(*it) + r->meta_len + plen;
	return it;
}

static void gap_add_locked(struct mw_journal *j, const struct jgap *d)
{
	struct jgap *g = NULL;

	for (unsigned i = 0; i < j->n_gaps; i++)
		if (j->gaps[i].session == d->session)
			g = &j->gaps[i];
	if (!g && j->n_gaps < MW_JOURNAL_GAPS_MAX) {
		j->gaps[j->n_gaps++] = *d;
		return;
	}
	if (!g)
		g = &j->gap_other; /* zeroed by gaps_flush() */
	if (!g->records) {
		*g = *d;
		return;
	}
	/* one range: a failed batch is noted after later records were dropped already */
	if (d->first_seq < g->first_seq)
		g->first_seq = d->first_seq;
	if (d->last_seq > g->last_seq)
		g->last_seq = d->last_seq;
	g->records += d->records;
	g->bytes += d->bytes;
}

/* Best-effort drops are remembered per session and written as gap records; a gap record that
 * could not be written is noted again with its whole range. */
void gap_note_locked(struct mw_journal *j, const struct mw_jrec *r)
{
	struct jgap d = { .session = r->session, .flow = r->flow, .first_seq = r->seq,
			  .last_seq = r->seq, .records = 1, .bytes = r->payload_len };

	if (r->type == MW_JREC_GAP) { /* its metadata is gaps_flush()'s, copied to end in NUL */
		unsigned long long first, dropped, bytes;
		char meta[256];

		snprintf(meta, sizeof(meta), "%.*s", (int)r->meta_len, r->meta ? r->meta : "");
		if (sscanf(meta, "{\"dropped\":%llu,\"bytes\":%llu,\"first_seq\":%llu", &dropped,
			   &bytes, &first) == 3) {
			d.first_seq = first;
			d.records = dropped;
			d.bytes = bytes;
		}
	} else {
		j->dropped_total++;
	}
	gap_add_locked(j, &d);
}

static void gaps_flush(struct mw_journal *j, uint64_t wall, uint64_t mono)
{
	struct jgap all[MW_JOURNAL_GAPS_MAX + 1];
	unsigned n = j->n_gaps;

	memcpy(all, j->gaps, n * sizeof(all[0]));
	if (j->gap_other.records)
		all[n++] = j->gap_other;
	j->n_gaps = 0;
	j->gap_other = (struct jgap){};
	for (unsigned i = 0; i < n; i++) {
		char meta[256];
		struct mw_jrec r = { .type = MW_JREC_GAP, .session = all[i].session,
				     .flow = all[i].flow, .seq = all[i].last_seq, .wall = wall,
				     .mono = mono };
		struct jq_item *it;
		int len = snprintf(meta, sizeof(meta),
				   "{\"dropped\":%" PRIu64 ",\"bytes\":%" PRIu64
				   ",\"first_seq\":%" PRIu64 ",\"last_seq\":%" PRIu64
				   ",\"reason\":\"queue full\"}",
				   all[i].records, all[i].bytes, all[i].first_seq, all[i].last_seq);

		r.meta = meta;
		r.meta_len = (uint32_t)len;
		it = item_new(&r, NULL, 0);
		if (!it)
			continue;
		queue_push(j, it);
		j->gaps_written++;
	}
}

int journal_append(struct mw_journal *j, const struct mw_jrec *rec, uint64_t *ret_ticket)
{
	struct mw_jrec r = *rec;
	_cleanup_free_ uint8_t *owned = NULL;
	_cleanup_free_ char *meta = NULL;
	char masked[256];
	int n;
	const uint8_t *p;
	size_t plen;
	struct jq_item *it;
	int ret = 0;

	if (r.payload_len > MW_JOURNAL_MAX_PAYLOAD || r.meta_len > MW_JOURNAL_MAX_META)
		return -E2BIG;
	r.wall = mw_now_wall_usec();
	r.mono = mw_now_mono_usec();
	p = journal_payload_filter(j, r.flags, r.payload, r.payload_len, &plen, &owned, masked,
				   sizeof(masked));
	if (plen > MW_JOURNAL_MAX_PAYLOAD)
		return -E2BIG;
	if (masked[0]) {
		/* the summary goes into the record's metadata: {"masked": "..."} added */
		size_t ml = r.meta_len;
		const char *mm = r.meta;

		while (ml > 0 && (mm[ml - 1] == ' ' || mm[ml - 1] == '\n'))
			ml--;
		if (ml >= 2 && mm[0] == '{' && mm[ml - 1] == '}')
			n = asprintf(&meta, "%.*s%s\"masked\":\"%s\"}", (int)(ml - 1), mm,
				     ml > 2 ? "," : "", masked);
		else
			n = asprintf(&meta, "{\"masked\":\"%s\"}", masked);
		if (n < 0 || (size_t)n > MW_JOURNAL_MAX_META) {
			if (n >= 0)
				free(TAKE_PTR(meta));
		} else {
			r.meta = meta;
			r.meta_len = (uint32_t)n;
		}
	}
	pthread_mutex_lock(&j->lock);
	if (atomic_load(&j->failed) && j->cfg.mode == MW_JOURNAL_STRICT) {
		ret = -EIO;
		goto out;
	}
	if (j->cfg.mode == MW_JOURNAL_BEST_EFFORT &&
	    (j->q_bytes + plen + r.meta_len > j->cfg.queue_max || atomic_load(&j->failed))) {
		gap_note_locked(j, &r);
		ret = -ENOBUFS;
		goto out;
	}
	if (j->n_gaps || j->gap_other.records)
		gaps_flush(j, r.wall, r.mono);
	it = item_new(&r, p, plen);
	if (!it) {
		if (j->cfg.mode == MW_JOURNAL_BEST_EFFORT)
			gap_note_locked(j, &r);
		ret = -ENOMEM;
		goto out;
	}
	queue_push(j, it);
	if (ret_ticket)
		*ret_ticket = it->ticket;
	pthread_cond_signal(&j->cond);
out:
	pthread_mutex_unlock(&j->lock);
	return ret;
}

void journal_reconfigure(struct mw_journal *j, const struct mw_journal_config *c, char *restart,
			 size_t restart_len)
{
	struct mw_journal_config n = {};
	size_t len = 0;

	restart[0] = 0;
#define RESTART_IF(cond, key)                                                                     \
	do {                                                                                      \
		if (cond)                                                                         \
			mw_str_append(restart, restart_len, &len, len ? ", " key : key,           \
				      strlen(len ? ", " key : key));                              \
	} while (0)
	RESTART_IF(strcmp(c->dir, j->cfg.dir) != 0, "'journal.dir'");
	RESTART_IF(c->mode != j->cfg.mode, "'journal.mode'");
	RESTART_IF(c->group != j->cfg.group, "'journal.group'");
	RESTART_IF(strcmp(c->mask, j->cfg.mask) != 0, "'journal.mask'");
#undef RESTART_IF
	n.max_file_size = c->max_file_size;
	n.rotate_interval = c->rotate_interval;
	n.retention = c->retention;
	n.max_total_size = c->max_total_size;
	n.seal_interval = c->seal_interval;
	n.flush_interval = c->flush_interval;
	n.queue_max = c->queue_max;
	pthread_mutex_lock(&j->lock);
	j->cfg_next = n;
	j->cfg_pending = true;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

void journal_poll(struct mw_journal *j, struct mw_journal_news *ret)
{
	uint64_t v;

	memset(ret, 0, sizeof(*ret));
	while (read(j->evfd, &v, sizeof(v)) == sizeof(v))
		;
	pthread_mutex_lock(&j->lock);
	if (atomic_load(&j->failed) && !j->failure_reported) {
		j->failure_reported = true;
		ret->failed_err = j->failed_err;
		snprintf(ret->failed_what, sizeof(ret->failed_what), "%s", j->failed_what);
	}
	ret->dropped = j->dropped_total - j->dropped_reported;
	j->dropped_reported = j->dropped_total;
	ret->gaps = j->gaps_written - j->gaps_reported;
	j->gaps_reported = j->gaps_written;
	if (j->recovered) {
		j->recovered = false;
		ret->recovered = true;
		ret->recovered_abandoned = j->recovered_abandoned;
		snprintf(ret->recovered_what, sizeof(ret->recovered_what), "%s",
			 j->recovered_what);
	}
	pthread_mutex_unlock(&j->lock);
}

int journal_open(const struct mw_journal_config *c, struct mw_journal **ret,
		 struct mw_journal_recovery *ret_rec, char *errbuf, size_t errlen)
{
	struct mw_journal *j = calloc(1, sizeof(*j));
	struct mw_journal_recovery rec = {};
	json_t *open_sessions = NULL;
	int r;

	if (!j)
		return -ENOMEM;
	j->cfg = *c;
	j->dirfd = j->segfd = j->idxfd = j->headfd = -1;
	pthread_mutex_init(&j->lock, NULL);
	pthread_rwlock_init(&j->mask_lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	j->sessions = json_object();
	RAND_bytes((uint8_t *)&j->instance, sizeof(j->instance));
	j->instance &= 0x7fffffffU;
	if (!j->instance)
		j->instance = 1;
	j->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (j->evfd < 0 || !j->sessions) {
		r = -errno ?: -ENOMEM;
		snprintf(errbuf, errlen, "eventfd: %s", strerror(-r));
		goto fail;
	}
	r = journal_dir_setup(j, errbuf, errlen);
	if (r < 0)
		goto fail;
	r = journal_recover(j, &rec, &open_sessions, errbuf, errlen);
	if (r < 0)
		goto fail;
	r = journal_segment_new(j, errbuf, errlen);
	if (r < 0)
		goto fail;
	/* the sessions a crash left open end here, before anything new */
	{
		const char *k;
		json_t *s;

		json_object_foreach(open_sessions, k, s) {
			uint64_t sid;
			struct mw_jrec a = { .type = MW_JREC_ABANDONED };
			static const char meta[] = "{\"reason\":\"the agent stopped without closing "
						   "the session (found on restart)\"}";

			if (journal_session_parse(k, &sid) < 0)
				continue;
			a.session = sid;
			a.flow = (uint64_t)json_integer_value(json_object_get(s, "flow"));
			a.seq = (uint64_t)json_integer_value(json_object_get(s, "last_seq")) + 1;
			a.meta = meta;
			a.meta_len = sizeof(meta) - 1;
			/* carried as open so the index line names where it began */
			json_object_set(j->sessions, k, s);
			if (journal_append(j, &a, NULL) == 0)
				rec.abandoned++;
		}
		json_decref(open_sessions);
		open_sessions = NULL;
	}
	r = pthread_create(&j->thread, NULL, journal_writer_main, j);
	if (r) {
		r = -r;
		snprintf(errbuf, errlen, "writer thread: %s", strerror(r));
		goto fail;
	}
	j->thread_running = true;
	rec.sealing = j->have_key;
	if (ret_rec)
		*ret_rec = rec;
	*ret = j;
	return 0;
fail:
	json_decref(open_sessions);
	journal_close(j);
	return r;
}

struct mw_journal *journal_close(struct mw_journal *j)
{
	if (!j)
		return NULL;
	if (j->thread_running) {
		pthread_mutex_lock(&j->lock);
		j->stop = true;
		pthread_cond_signal(&j->cond);
		pthread_mutex_unlock(&j->lock);
		pthread_join(j->thread, NULL);
	}
	journal_segment_finish(j);
	while (j->q_head) {
		struct jq_item *it = j->q_head;

		j->q_head = it->next;
		free(it);
	}
	if (j->evfd >= 0)
		close(j->evfd);
	if (j->headfd >= 0)
		close(j->headfd);
	if (j->dirfd >= 0)
		close(j->dirfd);
	explicit_bzero(j->key, sizeof(j->key));
	json_decref(j->sessions);
	pthread_mutex_destroy(&j->lock);
	pthread_cond_destroy(&j->cond);
	mask_free(j->masker);
	pthread_rwlock_destroy(&j->mask_lock);
	free(j);
	return NULL;
}
