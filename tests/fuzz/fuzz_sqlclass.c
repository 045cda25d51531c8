/* fuzz_sqlclass.c: sqlclass_classify() on arbitrary bytes.  Invariants: no crash, spans
 * inside the input, in order and not overlapping, statement classes inside the overall
 * mask, the same answer twice and from sqlclass_mask(), names that parse back. */
#include <stdio.h>

#include "sqlclass.h"
#include "util.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__);      \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static void check_names(uint32_t mask)
{
	char buf[SQLCLASS_NAMES_MAX], *save = NULL, *name;
	uint32_t back = 0, bit;

	CHECK(sqlclass_names(mask, buf, sizeof(buf)) >= 0);
	for (name = strtok_r(buf, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		CHECK(sqlclass_from_name(name, &bit) == 0);
		back |= bit;
	}
	CHECK(back == mask);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sqlclass_result *a = NULL, *b = NULL;
	size_t i, prev_end = 0;
	uint32_t mask = 0;
	int ra, rb, rm;

	ra = sqlclass_classify((const char *)data, size, &a);
	rb = sqlclass_classify((const char *)data, size, &b);
	rm = sqlclass_mask((const char *)data, size, &mask);
	CHECK(ra == rb && ra == rm);
	if (ra < 0) {
		CHECK(ra == -E2BIG || ra == -ERANGE || ra == -EMSGSIZE || ra == -ENOMEM);
		return 0;
	}
	CHECK(a->classes == b->classes && a->classes == mask);
	CHECK((a->classes & ~(uint32_t)SQLCLASS_ALL) == 0);
	CHECK(a->n_statements == b->n_statements);
	CHECK(a->n_statements <= SQLCLASS_MAX_STATEMENTS);
	if (a->n_statements > 1)
		CHECK(a->classes & SQLCLASS_MULTI_STATEMENT);
	for (i = 0; i < a->n_statements; i++) {
		const struct sqlclass_stmt *s = &a->statements[i];

		CHECK(s->classes == b->statements[i].classes);
		CHECK(s->offset == b->statements[i].offset && s->length == b->statements[i].length);
		CHECK(strcmp(s->keyword, b->statements[i].keyword) == 0);
		CHECK(s->offset >= prev_end && s->length > 0);
		CHECK(s->offset <= size && s->length <= size - s->offset);
		CHECK((s->classes & ~a->classes) == 0);
		CHECK((s->classes & SQLCLASS_MULTI_STATEMENT) == 0);
		CHECK(memchr(s->keyword, '\0', sizeof(s->keyword)) != NULL);
		prev_end = s->offset + s->length;
	}
	check_names(a->classes);
	sqlclass_result_free(a);
	sqlclass_result_free(b);
	return 0;
}
