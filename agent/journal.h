/* journal.h: the session journal writer (format: journal_codec.h, docs/journal.md).
 *
 * Owns state_dir/journal/: segment files, their indexes, HEAD (the durable point) and the
 * seal key state.  A writer thread takes whatever the event loop queued, chains it, writes
 * it as one zstd frame and makes it durable with one fdatasync (group commit), then signals
 * an eventfd.  Promises: records reach the file in append order; in strict mode a ticket
 * is durable only once its record is on disk, appends never drop, and an I/O error fails
 * the journal (appends return -EIO until a retry makes a new segment durable); in best-effort mode a full queue drops
 * records and the drop is written as a gap record as soon as there is room.  Opening
 * recovers a crashed journal: a torn tail is cut at the last whole frame and sessions left
 * open get an abandoned record.  Never logs: journal_poll() tells the caller what to. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "journal_codec.h"
#include "util.h"

#define MW_JOURNAL_MAX_FILE_DEFAULT (256ULL << 20)
#define MW_JOURNAL_ROTATE_DEFAULT (24ULL * 3600 * 1000000)   /* usec */
#define MW_JOURNAL_RETENTION_DEFAULT (90ULL * 86400 * 1000000) /* usec */
#define MW_JOURNAL_MAX_TOTAL_DEFAULT (0ULL)		       /* 0: no size bound */
#define MW_JOURNAL_SEAL_DEFAULT (60ULL * 1000000)	       /* usec */
#define MW_JOURNAL_FLUSH_DEFAULT (20ULL * 1000)	       /* usec, best-effort window */
#define MW_JOURNAL_QUEUE_DEFAULT (16ULL << 20) /* best-effort: queued bytes before dropping */
#define MW_JOURNAL_RECORD_CHUNK (256u << 10)   /* raw bytes per record */
#define MW_JOURNAL_ZSTD_LEVEL 3
#define MW_JOURNAL_RETRY_USEC (10ULL * 1000000) /* strict: a failed journal retries this often */
#define MW_JOURNAL_KEY_NAME "seal.key"

enum mw_journal_mode {
	MW_JOURNAL_OFF = 0,
	MW_JOURNAL_BEST_EFFORT = 1,
	MW_JOURNAL_STRICT = 2,
};

struct mw_journal_config {
	char dir[4096];
	enum mw_journal_mode mode;
	uint64_t max_file_size, rotate_interval, retention, max_total_size;
	uint64_t seal_interval, flush_interval, queue_max;
	gid_t group; /* (gid_t)-1: the agent's own group */
	char group_name[64];
	char mask[64]; /* "journal.mask": masking profile for payloads ("" none) */
};

/* From the config's "journal" object (NULL: defaults); dir defaults to state_dir/journal. */
int journal_config_parse(json_t *obj, const char *state_dir, struct mw_journal_config *ret,
			 struct mw_diag *ret_diag);
const char *journal_mode_name(enum mw_journal_mode m);

struct mw_journal;

/* What journal_open() found and did, for the caller to report. */
struct mw_journal_recovery {
	uint64_t truncated_bytes; /* torn tail cut from the last segment */
	char truncated_file[256];
	unsigned abandoned; /* sessions closed by an abandoned record */
	bool damaged;	    /* the last segment is damaged before its end (not a torn tail) */
	bool sealing;	    /* a seal key was found */
};

int journal_open(const struct mw_journal_config *c, struct mw_journal **ret,
		 struct mw_journal_recovery *ret_rec, char *errbuf, size_t errlen);
/* Writes what is queued (a last seal included) and stops the thread. */
struct mw_journal *journal_close(struct mw_journal *j);

enum mw_journal_mode journal_mode(const struct mw_journal *j);
uint64_t journal_session_new(struct mw_journal *j);

/* Queue a record (jseq, wall and mono are set here; r->seq is the caller's).  *ret_ticket
 * (may be NULL) is what journal_durable() waits for.  -EIO: the journal has failed (strict);
 * -ENOBUFS: best-effort queue full, the record is dropped and a gap will say so. */
int journal_append(struct mw_journal *j, const struct mw_jrec *r, uint64_t *ret_ticket);
bool journal_durable(struct mw_journal *j, uint64_t ticket);
/* Strict mode and failed: new sessions must be refused, live ones ended.  A failed journal
 * tries a new segment every MW_JOURNAL_RETRY_USEC; once it is durable (with an abandoned
 * record for every session the failure cut) the journal accepts appends again and
 * journal_poll() says so. */
bool journal_failed(struct mw_journal *j);

/* The eventfd the writer signals after each durable batch (poll for EPOLLIN). */
int journal_fd(struct mw_journal *j);
/* Read the eventfd and report what the caller must log: a failure (once; *ret_err and
 * errbuf) and dropped records since the last call. */
struct mw_journal_news {
	int failed_err; /* 0, or -errno of the failure first seen now */
	char failed_what[160];
	uint64_t dropped; /* records dropped since the last poll (best-effort) */
	uint64_t gaps;	  /* gap records written since the last poll */
	bool recovered;	  /* strict: a failed journal writes again (in recovered_what) */
	char recovered_what[160];
	unsigned recovered_abandoned; /* sessions the failure cut, closed by abandoned records */
};
void journal_poll(struct mw_journal *j, struct mw_journal_news *ret);

/* The journal's masker ("journal"."mask", see mask.h; owned from now on, the previous one
 * is freed once no append uses it).  NULL: payloads are not masked (credentials in HTTP
 * heads are still cut). */
struct mw_masker;
void journal_set_masker(struct mw_journal *j, struct mw_masker *m);

/* The one place payloads are filtered before they are encoded: credentials in HTTP heads
 * are cut, then the journal's masking profile applies (journal_mask.c: JSON-RPC payloads as
 * messages, flags & MW_JFLAG_RAW bytes as text, what cannot be masked as a digest).  Returns
 * the bytes to record, p itself when nothing changes, or a malloc'd copy the caller frees
 * (*ret_owned); *ret_len 0 with p: fail closed, nothing recorded.  ret_masked (may be NULL,
 * size bytes): the summary ("credit_card=2"), "" when nothing was masked. */
const uint8_t *journal_payload_filter(struct mw_journal *j, uint16_t flags, const uint8_t *p,
				      size_t n, size_t *ret_len, uint8_t **ret_owned,
				      char *ret_masked, size_t size);

/* A reload: the settings that are safe to change while running (max_file_size,
 * rotate_interval, retention, max_total_size, seal_interval, flush_interval, queue_max) are
 * taken by the writer at its next wake-up, and retention is applied once then.  Keys that
 * differ but need a restart (dir, mode, group, mask) are named, quoted and comma-separated,
 * in restart (empty when none); they keep their running values. */
void journal_reconfigure(struct mw_journal *j, const struct mw_journal_config *c, char *restart,
			 size_t restart_len);

/* Segment file names (NNNNNNNN-YYYYmmddTHHMMSSZ.mwj) in dirfd, sorted oldest first. */
int journal_list_segments(int dirfd, char ***ret, size_t *ret_n);
