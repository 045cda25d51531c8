/* journal_internal.h: the writer's state, shared by journal.c (event-loop side) and
 * journal_writer.c (the writer thread, segment files, recovery).  Private. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>

#include "journal.h"

#define MW_JOURNAL_GAPS_MAX 64 /* sessions with drops remembered between two gap flushes */
#define MW_JOURNAL_SEG_EXT ".mwj"
#define MW_JOURNAL_IDX_EXT ".idx"
#define MW_JOURNAL_HEAD_NAME "HEAD"
#define MW_JOURNAL_WAKE_USEC 1000000ULL
#define MW_JOURNAL_FRAME_TARGET (256u << 10) /* raw bytes per frame: bounds the writer's buffers */ /* the writer checks seals and rotation this often */

struct jq_item {
	struct jq_item *next;
	uint64_t ticket; /* append order; r.jseq is given when the record is written */
	uint64_t off;	 /* the offset of the frame it was written in */
	struct mw_jrec r;
	size_t size;
	uint8_t data[];
};

struct jgap {
	uint64_t session, flow, first_seq, last_seq, records, bytes;
};

struct mw_journal {
	struct mw_journal_config cfg;
	uint64_t instance, next_session; /* event loop only */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* "journal.mask" (journal_set_masker()); readers hold mask_lock shared */
	pthread_rwlock_t mask_lock;
	struct mw_masker *masker;
	struct jq_item *q_head, *q_tail; /* under lock */
	size_t q_bytes;
	uint64_t next_ticket;
	struct jgap gaps[MW_JOURNAL_GAPS_MAX], gap_other;
	unsigned n_gaps;
	uint64_t dropped_total, dropped_reported, gaps_written, gaps_reported;
	bool stop, failure_reported;
	bool recovered; /* under lock: set by the writer, reported by journal_poll */
	char recovered_what[160];
	unsigned recovered_abandoned;
	int failed_err;
	char failed_what[160];
	struct mw_journal_config cfg_next; /* a reload's settings, taken by the writer */
	bool cfg_pending;
	_Atomic uint64_t durable;
	_Atomic int failed;

	pthread_t thread;
	bool thread_running;
	int evfd;

	/* writer thread only (and journal_open before the thread starts) */
	int dirfd, segfd, idxfd, headfd;
	char segname[64];
	uint64_t w_jseq; /* the last record number written */
	uint64_t file_seq, seg_size, seg_created_wall, seg_created_mono;
	uint8_t head[MW_JOURNAL_HASH];
	bool idx_broken; /* an index line could not be written */
	bool retrying;	 /* a strict retry's own failure is not reported again */
	uint64_t retry_mono;
	bool have_key;
	uint8_t key[32];
	uint64_t epoch;
	uint64_t last_seal_mono, since_seal;
	json_t *sessions; /* summaries of sessions open, keyed by hex id */
	struct mw_bytes raw, frame;
	void *cctx; /* ZSTD_CCtx, kept */
};

int journal_dir_setup(struct mw_journal *j, char *errbuf, size_t errlen);
int journal_recover(struct mw_journal *j, struct mw_journal_recovery *rec, json_t **ret_open,
		    char *errbuf, size_t errlen);
int journal_segment_new(struct mw_journal *j, char *errbuf, size_t errlen);
void journal_segment_finish(struct mw_journal *j);
void *journal_writer_main(void *arg);
/* journal.c; caller holds j->lock */
void gap_note_locked(struct mw_journal *j, const struct mw_jrec *r);

/* journal_mask.c: mask one payload with the journal's profile.  raw: relayed bytes (text),
 * else a JSON-RPC payload.  Returns 1 with *ret (malloc'd) when the payload is replaced
 * (masked, or a digest placeholder for bytes that cannot be masked), 0 when it is recorded
 * as it is, -ENOMEM. */
struct mw_mask_profile;
struct mw_mask_summary;
int journal_mask_payload(const struct mw_mask_profile *prof, bool raw, const uint8_t *p, size_t n,
			 uint8_t **ret, size_t *ret_len, struct mw_mask_summary *sum);
