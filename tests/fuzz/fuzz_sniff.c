/* fuzz_sniff.c: the protocol sniffer on arbitrary bytes, whole and at every prefix.
 *
 * The relay classifies a growing buffer and stops at the first decided answer, so a decision
 * taken on a prefix must be the decision on the whole. Each prefix is classified from its own
 * exactly-sized heap copy, so ASan catches a read past len that the whole input would hide.
 * Invariants: the result is a valid enum value with a name; a prefix that is not UNKNOWN gives
 * the whole input's answer; once decided, every longer prefix agrees; UNKNOWN never survives
 * MW_SNIFF_NEED bytes. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sniff.h"

/* Beyond this many bytes the answer can no longer change; don't spend time past it. */
#define PREFIX_MAX (4 * MW_SNIFF_NEED)

static enum mw_proto classify_copy(const uint8_t *data, size_t len)
{
	enum mw_proto p;
	uint8_t *copy;

	copy = malloc(len ? len : 1);
	assert(copy);
	if (len)
		memcpy(copy, data, len);
	p = sniff_classify(len ? copy : NULL, len);
	free(copy);
	return p;
}

static void check_valid(enum mw_proto p, size_t len)
{
	const char *name = sniff_proto_name(p);

	assert(p >= MW_PROTO_UNKNOWN && p <= MW_PROTO_OTHER);
	assert(name && *name);
	assert((p == MW_PROTO_UNKNOWN) == (strcmp(name, "unknown") == 0));
	assert(p != MW_PROTO_UNKNOWN || len < MW_SNIFF_NEED);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum mw_proto whole, decided = MW_PROTO_UNKNOWN;
	size_t limit = size < PREFIX_MAX ? size : PREFIX_MAX;

	whole = sniff_classify(data, size);
	check_valid(whole, size);
	for (size_t i = 0; i <= limit; i++) {
		enum mw_proto p = classify_copy(data, i);

		check_valid(p, i);
		if (p == MW_PROTO_UNKNOWN) {
			assert(decided == MW_PROTO_UNKNOWN);
			continue;
		}
		assert(p == whole);
		assert(decided == MW_PROTO_UNKNOWN || decided == p);
		decided = p;
	}
	return 0;
}
