/* journal_codec.h: the session journal's on-disk format (docs/journal.md), pure.
 *
 * Owns the byte layout of a segment file (header, frames, records), the SHA-256 hash
 * chain, the forward-secure seal (HMAC-SHA256 under a key that evolves one way) and a
 * bounded, strict reader.  Promises: every length read from a file is checked against the
 * named limits below before use; a reader error names the byte offset and the record; no
 * I/O, no logging, no clock. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inspect.h" /* struct mw_bytes */

#define MW_JOURNAL_MAGIC "MWJRNL\0\1"
#define MW_JOURNAL_VERSION 1
#define MW_JOURNAL_HEADER_SIZE 160
#define MW_JOURNAL_FRAME_MAGIC 0x464a574dU /* "MWJF" little-endian */
#define MW_JOURNAL_FRAME_HEADER 16
#define MW_JOURNAL_REC_FIXED 60		      /* type..payload_len */
#define MW_JOURNAL_HASH 32
#define MW_JOURNAL_MAX_FRAME_RAW (64u << 20)  /* decompressed bytes of one frame */
#define MW_JOURNAL_MAX_META (64u << 10)	      /* JSON metadata of one record */
#define MW_JOURNAL_MAX_PAYLOAD (1u << 20)     /* payload bytes of one record */
#define MW_JOURNAL_HOST_MAX 64
#define MW_JOURNAL_KEY_MAGIC "MWJKEY01"
#define MW_JOURNAL_KEY_FILE_SIZE 48 /* magic, epoch, key */

enum mw_jrec_type {
	MW_JREC_OPEN = 1,
	MW_JREC_REQUEST = 2,  /* bytes (or one payload) towards the upstream */
	MW_JREC_RESPONSE = 3, /* bytes (or one payload) towards the client */
	MW_JREC_DECISION = 4,
	MW_JREC_APPROVAL = 5, /* reserved for approvals */
	MW_JREC_MASK = 6,
	MW_JREC_GAP = 7,
	MW_JREC_CLOSE = 8,
	MW_JREC_ABANDONED = 9,
	MW_JREC_SEAL = 10,
	MW_JREC_TYPE_MAX = 10,
};

enum mw_jrec_dir {
	MW_JDIR_NONE = 0,
	MW_JDIR_UP = 1,	  /* client -> upstream */
	MW_JDIR_DOWN = 2, /* upstream -> client */
};

/* record flags */
#define MW_JFLAG_RAW 0x1 /* payload: the bytes as relayed (HTTP framing included) */
#define MW_JFLAG_OWN 0x2 /* payload: a reply the agent wrote itself (a denial) */

struct mw_jheader {
	uint64_t file_seq;
	uint64_t created_wall;
	uint64_t first_jseq;
	uint64_t seal_epoch; /* the epoch of the next seal made in this file */
	uint8_t boot_id[16];
	char host[MW_JOURNAL_HOST_MAX + 1];
	uint8_t prev_hash[MW_JOURNAL_HASH]; /* chain head at the end of the previous file */
};

/* One record; pointers refer to the caller's (encode) or the reader's (decode) memory. */
struct mw_jrec {
	uint8_t type, dir;
	uint16_t flags;
	uint64_t jseq;	  /* journal-wide record number */
	uint64_t seq;	  /* per-session sequence number */
	uint64_t wall;	  /* usec since the epoch */
	uint64_t mono;	  /* usec, CLOCK_MONOTONIC of the writing host */
	uint64_t session; /* 0: the journal's own records (seal, gap of unknown sessions) */
	uint64_t flow;
	const char *meta; /* JSON object text, not NUL-terminated */
	uint32_t meta_len;
	const uint8_t *payload;
	uint32_t payload_len;
	/* decode only */
	const uint8_t *body; /* the hashed bytes (type..payload) */
	size_t body_len;
	uint8_t hash[MW_JOURNAL_HASH];
};

const char *journal_type_name(unsigned type);
int journal_type_from_name(const char *name);

void journal_header_encode(const struct mw_jheader *h, uint8_t out[MW_JOURNAL_HEADER_SIZE]);
/* -EBADMSG with why in errbuf: foreign file, other version, bad field. */
int journal_header_decode(const uint8_t *buf, size_t len, struct mw_jheader *ret, char *errbuf,
			  size_t errlen);
/* The chain's starting value for a file: SHA-256("mcpwarden-journal-v1" || header). */
void journal_chain_start(const uint8_t header[MW_JOURNAL_HEADER_SIZE],
			 uint8_t ret[MW_JOURNAL_HASH]);

/* Append r (its hash field ignored) to out and write its hash, chained to prev. */
int journal_record_encode(const struct mw_jrec *r, const uint8_t prev[MW_JOURNAL_HASH],
			  struct mw_bytes *out, uint8_t ret_hash[MW_JOURNAL_HASH]);
/* The hash a record body must carry after prev. */
void journal_record_hash(const uint8_t prev[MW_JOURNAL_HASH], const uint8_t *body, size_t len,
			 uint8_t ret[MW_JOURNAL_HASH]);

/* One frame (header + zstd frame) of raw record bytes appended to out; cctx (a ZSTD_CCtx,
 * kept by a writer to avoid an allocation per frame) may be NULL. */
int journal_frame_encode(const uint8_t *raw, size_t len, int level, struct mw_bytes *out);
int journal_frame_encode_ctx(void *cctx, const uint8_t *raw, size_t len, int level,
			     struct mw_bytes *out);

/* Seals.  A seal record's payload is HMAC-SHA256(k_epoch, chain head before the seal);
 * then k_{epoch+1} = SHA-256("mcpwarden-evolve" || k_epoch). */
void journal_seal_mac(const uint8_t key[32], const uint8_t head[MW_JOURNAL_HASH],
		      uint8_t ret[32]);
void journal_key_evolve(uint8_t key[32]);
/* Key file: "MWJKEY01", u64 epoch, 32 key bytes. */
void journal_key_encode(uint64_t epoch, const uint8_t key[32],
			uint8_t out[MW_JOURNAL_KEY_FILE_SIZE]);
int journal_key_decode(const uint8_t *buf, size_t len, uint64_t *ret_epoch, uint8_t ret_key[32]);

/* A strict reader over one segment file in memory. */
struct mw_jreader {
	const uint8_t *data;
	size_t size;
	struct mw_jheader header;
	size_t off;	  /* next frame's offset */
	size_t frame_off; /* offset of the frame the current record came from */
	uint8_t *raw;	  /* decompressed frame */
	size_t raw_len, raw_pos, raw_cap;
	uint64_t index; /* records returned so far */
	size_t good_end; /* end of the last frame read whole */
	bool torn;	 /* the error is an incomplete last frame (a crash), not damage */
	char err[256];
	size_t err_off;
};

/* 0, or -EBADMSG (not a journal, or a damaged header) with r->err set. */
int journal_reader_init(struct mw_jreader *r, const uint8_t *data, size_t size);
/* 1 and *ret filled (valid until the next call), 0 at a clean end, -EBADMSG with r->err,
 * r->err_off (and r->torn for an incomplete tail). The hash is not checked here. */
int journal_reader_next(struct mw_jreader *r, struct mw_jrec *ret);
void journal_reader_done(struct mw_jreader *r);

/* Hex helpers. */
void journal_hex(const uint8_t *p, size_t n, char *out);
int journal_unhex(const char *s, uint8_t *out, size_t n);
