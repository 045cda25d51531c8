/* fuzz_mask.c: the masking engine on arbitrary bytes.
 *
 * Byte 0 picks a profile (full, partial, hash; with key-name rules and a custom pattern).
 * Invariants: mask_text never crashes and keeps valid UTF-8 valid; text that jansson accepts
 * as a JSON object or array stays JSON after mask_text; a JSON value through mask_json and
 * mask_message still serializes and parses back (valid JSON, valid UTF-8). */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mask.h"

static struct mw_masker *masker;

static const char config[] =
	"{\"profiles\": {"
	"\"full\": {\"fields\": [\"ssn\"], \"patterns\": [{\"name\": \"emp\", \"regex\": \"EMP-[0-9]{3}\"}]},"
	"\"partial\": {\"style\": \"partial\", \"fields\": [\"card\"]},"
	"\"hash\": {\"style\": \"hash\", \"patterns\": [{\"name\": \"dot\", \"regex\": \"x.\"}]}}}";

static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t k;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3, cp = c & 0x07;
		else
			return false;
		for (size_t j = 1; j <= k; j++) {
			if (i + j >= n || (s[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		i += k + 1;
	}
	return true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const uint8_t key[32] = "fuzz-key-fuzz-key-fuzz-key-fuzz";
	json_t *cfg = json_loads(config, 0, NULL);
	struct mw_diag d;

	assert(cfg);
	assert(mask_from_json(cfg, NULL, "fuzz", NULL, 0, key, sizeof(key), &masker, &d) == 0);
	json_decref(cfg);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "full", "partial", "hash" };
	const struct mw_mask_profile *p;
	const char *s = (const char *)data + 1;
	size_t n, out_len = 0;
	struct mw_mask_summary sum = { 0 };
	char *out = NULL, buf[512];
	json_t *v;
	int r;

	if (size < 1)
		return 0;
	p = mask_profile(masker, names[data[0] % 3]);
	if (data[0] & 0x80)
		p = mask_journal_profile(masker);
	assert(p);
	n = size - 1;

	r = mask_text(p, s, n, &out, &out_len, &sum);
	assert(r >= 0 || r == -ELOOP || r == -ERANGE);
	if (r > 0) {
		assert(out && strlen(out) <= out_len);
		if (utf8_valid(data + 1, n))
			assert(utf8_valid((const unsigned char *)out, out_len));
		v = json_loadb(s, n, 0, NULL);
		if (v) {
			json_t *w = json_loadb(out, out_len, 0, NULL);

			assert(w);
			json_decref(w);
			json_decref(v);
		}
	} else {
		assert(!out);
	}
	free(out);
	mask_summary_format(&sum, buf, sizeof(buf));

	v = json_loadb(s, n, JSON_DECODE_ANY, NULL);
	if (v) {
		char *dump;
		json_t *w;

		r = json_is_object(v) || json_is_array(v) ? mask_message(p, v, &sum)
							   : mask_json(p, v, "/x", &sum);
		assert(r >= 0 || r == -ELOOP || r == -ERANGE || r == -EMEDIUMTYPE || r == -EINVAL);
		if (json_is_array(v) || json_is_object(v))
			r = mask_json(p, v, "", &sum);
		dump = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		assert(dump);
		w = json_loads(dump, JSON_DECODE_ANY, NULL);
		assert(w);
		json_decref(w);
		free(dump);
		json_decref(v);
	}
	return 0;
}
