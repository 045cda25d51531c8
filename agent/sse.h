/* sse.h: incremental text/event-stream parser and encoder (WHATWG HTML, "Server-sent events",
 * 9.2.6 "Interpreting an event stream").
 *
 * Owns: one parser per stream, holding the bytes of the block being received (bounded by
 * max_event_bytes), the joined data of the last block and the last event ID.
 * Promises: pure (no I/O, no logging); any chunking of the same bytes gives the same blocks;
 * every input byte belongs to exactly one reported block (its span), so a relay can hold a
 * block's bytes and then forward them as they were or replace them with sse_encode() output.
 *
 * A "block" is everything up to and including a blank line. Every block is reported, even
 * those the spec does not dispatch (only an id or retry, only comments, a lone blank line):
 * SSE_EV_DISPATCH says whether a browser would fire an event for it. Bytes are not checked as
 * UTF-8 (the JSON layer does that); a leading UTF-8 BOM is skipped; a block cut by the end of
 * the stream is not dispatched (sse_finish() reports its bytes).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Largest block, in wire bytes (fields, comments, line ends, blank line). */
#define SSE_MAX_EVENT_BYTES_DEFAULT (1u << 20)
#define SSE_MAX_EVENT_BYTES_CEILING (64u << 20)

struct sse_limits {
	size_t max_event_bytes;
};

/* An event's fields. Parsing fills it from one block; sse_encode() writes one from it.
 * Pointers are NULL when the field is absent. */
struct sse_message {
	const char *event; /* the event field's value ("" if present but empty) */
	size_t event_len;
	const char *data; /* data lines joined with '\n' (parsing: trailing '\n' removed) */
	size_t data_len;
	const char *id; /* the id field of this block, if it had a valid one (no NUL) */
	size_t id_len;
	int64_t retry;	     /* milliseconds; -1 when absent or not all digits */
	const char *comment; /* encoder only: one comment line (parsing leaves it NULL) */
	size_t comment_len;
};

#define SSE_EV_DISPATCH (1u << 0)    /* the block had data: an event is dispatched */
#define SSE_EV_HAS_ID (1u << 1)	     /* an id field set the last event ID */
#define SSE_EV_HAS_RETRY (1u << 2)   /* a valid retry field */
#define SSE_EV_HAS_COMMENT (1u << 3) /* at least one comment line (":...") */
#define SSE_EV_INCOMPLETE (1u << 4)  /* from sse_finish(): no blank line before the end */

struct sse_event {
	/* Input bytes this call consumed; the caller advances by this much. */
	size_t consumed;
	/* Input bytes this block covers: everything consumed since the previous block, in this
	 * call and earlier ones (a skipped BOM, or the LF of a CRLF whose CR ended the previous
	 * block, count here). Summed over blocks it equals the bytes consumed. */
	size_t span;
	unsigned flags;
	/* The block as received, without a BOM or a leading LF counted in span. */
	const uint8_t *raw;
	size_t raw_len;
	/* The event type a listener sees: the event field, or "message". */
	const char *type;
	size_t type_len;
	struct sse_message msg;
	/* The stream's last event ID after this block ("" until one is set). */
	const char *last_event_id;
	size_t last_event_id_len;
};

struct sse_parser;

/* limits may be NULL (defaults). -EINVAL if max_event_bytes is 0 or above the ceiling. */
int sse_parser_new(const struct sse_limits *limits, struct sse_parser **ret_parser);
struct sse_parser *sse_parser_free(struct sse_parser *p);
void sse_parser_freep(struct sse_parser **p);

/* Parse from buf until one block is complete. Returns 1 with a block in *ret_ev, 0 when all
 * input was consumed without completing one (ret_ev->consumed == len), -E2BIG when a block
 * exceeds max_event_bytes (sticky: the stream must be dropped). Pointers in *ret_ev are valid
 * until the next call. */
int sse_parse(struct sse_parser *p, const void *buf, size_t len, struct sse_event *ret_ev);

/* Callback form: calls cb for every complete block in buf; stops at the first negative cb
 * return and passes it on. */
typedef int (*sse_event_cb)(const struct sse_event *ev, void *userdata);
int sse_parse_all(struct sse_parser *p, const void *buf, size_t len, sse_event_cb cb,
		  void *userdata);

/* End of stream: returns 1 with an SSE_EV_INCOMPLETE block covering the bytes of an
 * unterminated block (never dispatched), 0 if there are none. A block that ends with CRLF is
 * reported at its CR (no waiting for the next byte); the LF is counted in the next block's
 * span, so a stream ending in CRLF leaves one LF that comes here as a block with no flags,
 * no raw bytes and span 1. */
int sse_finish(struct sse_parser *p, struct sse_event *ret_ev);

/* Bytes sse_encode() writes for m, or -EINVAL if m cannot be encoded (CR or LF in event, id
 * or comment; NUL in id; retry below -1). */
ssize_t sse_encoded_size(const struct sse_message *m);
/* Write m as one block: comment, event, id, retry, then one "data:" line per line of data
 * (split at CRLF, CR or LF), then a blank line. Lines end with LF. -ENOBUFS if size is too
 * small. Parsing the output gives back m (data line ends normalised to LF). */
int sse_encode(const struct sse_message *m, char *buf, size_t size, size_t *ret_len);
/* The same into a new buffer (the caller's to free). */
int sse_encode_alloc(const struct sse_message *m, char **ret_buf, size_t *ret_len);
