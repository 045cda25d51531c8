/* fuzz_config.c: arbitrary bytes into config_parse() and jsonpos.
 *
 * Beyond "no crash": whenever jansson accepts the bytes, every value it found (up to a
 * bound) must be found again by jsonpos_find() at a character that starts a value of the
 * same type, so diagnostics can never point at the wrong place. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "jsonpos.h"

#define FUZZ_MAX_NODES 256
#define FUZZ_MAX_DEPTH 32

struct walk {
	const char *text;
	size_t len;
	unsigned nodes;
};

static char type_char(const json_t *v, char first)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return '{';
	case JSON_ARRAY:
		return '[';
	case JSON_STRING:
		return '"';
	case JSON_TRUE:
		return 't';
	case JSON_FALSE:
		return 'f';
	case JSON_NULL:
		return 'n';
	default:
		/* a number: a sign or a digit */
		return (first == '-' || (first >= '0' && first <= '9')) ? first : '#';
	}
}

static void check_at(struct walk *w, const json_t *v, const char *ptr, size_t plen, bool member)
{
	struct mw_jsonpos pos;
	int r;

	r = jsonpos_find_len(w->text, w->len, ptr, plen, &pos);
	if (r < 0) {
		fprintf(stderr, "jsonpos_find('%.*s') = %d on a document jansson accepted\n",
			(int)plen, ptr, r);
		abort();
	}
	if (pos.offset >= w->len || w->text[pos.offset] != type_char(v, w->text[pos.offset]) ||
	    pos.line < 1 || pos.column < 1) {
		fprintf(stderr, "jsonpos_find('%.*s') points at offset %zu, not at the value\n",
			(int)plen, ptr, pos.offset);
		abort();
	}
	if (member &&
	    (pos.key_line < 1 || pos.key_offset >= pos.offset || w->text[pos.key_offset] != '"')) {
		fprintf(stderr, "jsonpos_find('%.*s') has no key position\n", (int)plen, ptr);
		abort();
	}
}

/* ptr holds plen bytes and has room for more; it is restored before returning. */
static void walk(struct walk *w, const json_t *v, char *ptr, size_t plen, size_t cap,
		 unsigned depth, bool member)
{
	if (w->nodes++ >= FUZZ_MAX_NODES)
		return;
	check_at(w, v, ptr, plen, member);
	if (depth >= FUZZ_MAX_DEPTH)
		return;

	if (json_is_object(v)) {
		const char *k;
		json_t *e;

		json_object_foreach((json_t *)v, k, e) {
			size_t n = plen;

			if (n + 1 + 2 * strlen(k) >= cap)
				continue;
			ptr[n++] = '/';
			for (const char *c = k; *c; c++) {
				if (*c == '~' || *c == '/') {
					ptr[n++] = '~';
					ptr[n++] = *c == '~' ? '0' : '1';
				} else {
					ptr[n++] = *c;
				}
			}
			walk(w, e, ptr, n, cap, depth + 1, true);
		}
	} else if (json_is_array(v)) {
		json_t *e;
		size_t i;

		json_array_foreach((json_t *)v, i, e) {
			int m;

			if (plen + 24 >= cap)
				break;
			m = snprintf(ptr + plen, cap - plen, "/%zu", i);
			walk(w, e, ptr, plen + (size_t)m, cap, depth + 1, false);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *pointers[] = { "", "/capture/outbound/0/ports/1", "/listen/0",
					  "/a~0/b~1", "/0/0/0/0" };
	const char *text = (const char *)data;
	struct mw_config *c = NULL;
	struct mw_diag d;
	struct mw_jsonpos pos;
	json_error_t err;
	json_t *root;
	char buf[512];

	/* the parser, as the daemon uses it */
	if (config_parse("fuzz.json", text, size, &c, &d) == 0) {
		if (c->n_listen < 1 || c->n_listen > MW_MAX_LISTEN || c->n_enroll > MW_MAX_ENROLL ||
		    c->n_outbound > MW_MAX_CAPTURE_RULES || c->n_inbound > MW_MAX_INBOUND ||
		    c->control_socket[0] != '/' || !c->root)
			abort();
		for (unsigned i = 0; i < c->n_listen; i++)
			mw_sockaddr_str((const struct sockaddr *)&c->listen[i].ss, buf,
					sizeof(buf));
		for (unsigned i = 0; i < c->n_outbound; i++)
			for (unsigned j = 0; j < c->outbound[i].n_cidrs; j++)
				mw_cidr_str(&c->outbound[i].cidrs[j], buf, sizeof(buf));
		c = config_free(c);
	} else {
		if (c || memchr(d.text, '\0', sizeof(d.text)) == NULL ||
		    memchr(d.key, '\0', sizeof(d.key)) == NULL)
			abort();
		mw_diag_format(&d, buf, sizeof(buf));
	}

	/* jsonpos on its own: fixed pointers, and a pointer taken from the input */
	for (size_t i = 0; i < sizeof(pointers) / sizeof(pointers[0]); i++)
		(void)jsonpos_find(text, size, pointers[i], &pos);
	if (size > 0) {
		size_t plen = data[0] % 48;

		if (plen > size - 1)
			plen = size - 1;
		(void)jsonpos_find_len(text + 1 + plen, size - 1 - plen, text + 1, plen, &pos);
	}
	(void)jsonpos_path_at(text, size, size, MW_JSONPOS_POINTER, buf, sizeof(buf));
	(void)jsonpos_path_at(text, size, size / 2, MW_JSONPOS_DOTTED, buf, sizeof(buf));
	(void)jsonpos_path_at(text, size, size / 3, MW_JSONPOS_DOTTED, buf, 5);

	/* the oracle: what jansson found, jsonpos finds */
	root = json_loadb(text, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
	if (root) {
		struct walk w = { .text = text, .len = size };
		char ptr[4096];

		ptr[0] = '\0';
		walk(&w, root, ptr, 0, sizeof(ptr), 0, false);
		json_decref(root);
	}
	return 0;
}
