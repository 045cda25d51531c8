/* fuzz_journal.c: the journal reader on arbitrary bytes must never crash.
 *
 * Input starting with 'M' (the magic) is a segment file as found on disk.  Otherwise the
 * input after one byte is the decompressed content of one frame: it is wrapped in a valid
 * header and frame (zstd, checksum) so the fuzzer reaches the record parser.  Every record
 * read is hashed, folded into an index summary and its metadata parsed, as the tools do. */
#include <assert.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "journal_codec.h"
#include "journal_index.h"

static void read_all(const uint8_t *data, size_t size)
{
	struct mw_jreader rd;
	struct mw_jrec r;
	uint8_t head[MW_JOURNAL_HASH], h[MW_JOURNAL_HASH];
	json_t *sessions = json_object();
	int k;

	if (journal_reader_init(&rd, data, size) < 0) {
		assert(rd.err[0]);
		json_decref(sessions);
		return;
	}
	journal_chain_start(data, head);
	while ((k = journal_reader_next(&rd, &r)) > 0) {
		assert(r.body + r.body_len <= rd.raw + rd.raw_len);
		assert((size_t)r.meta_len + r.payload_len + MW_JOURNAL_REC_FIXED == r.body_len);
		journal_record_hash(head, r.body, r.body_len, h);
		memcpy(head, r.hash, sizeof(head));
		journal_index_add(sessions, &r, "fuzz", rd.frame_off);
	}
	assert(k == 0 || rd.err[0]);
	assert(rd.good_end <= size);
	journal_reader_done(&rd);
	json_decref(sessions);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mw_jheader hd = { .file_seq = 1, .first_jseq = 1 };
	struct mw_bytes out = {};
	uint8_t hdr[MW_JOURNAL_HEADER_SIZE];
	uint64_t epoch;
	uint8_t key[32];

	if (size >= 1 && data[0] == 'M') {
		read_all(data, size);
		journal_key_decode(data, size, &epoch, key);
		return 0;
	}
	if (size < 2)
		return 0;
	journal_header_encode(&hd, hdr);
	if (bytes_append(&out, hdr, sizeof(hdr)) < 0 ||
	    journal_frame_encode(data + 1, size - 1, 1, &out) < 0) {
		bytes_free(&out);
		return 0;
	}
	read_all(out.data, out.len);
	bytes_free(&out);
	return 0;
}
