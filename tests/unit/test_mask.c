/* test_mask.c: the masking engine.  Per detector, a corpus of true positives and look-alikes
 * (tests/unit/data/mask/<detector>.txt, "mask<TAB>value[<TAB>expected]" or "keep<TAB>value",
 * plus the look-alikes of common.txt that every detector must leave alone) is run with that detector alone and, for true positives, with every detector on; each value
 * alone, inside a sentence and inside a JSON document.  False-negative and false-positive
 * rates are printed as TAP comments; a detector fails above MAX_FN_RATE / MAX_FP_RATE.
 * Then styles, keyed-hash determinism, key-name rules, JSON inside text, UTF-8 around
 * matches, limits, messages, summaries, custom patterns, config errors, the key file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <pthread.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "mask.h"

/* Thresholds, in percent of the corpus lines of a detector. */
#define MAX_FN_RATE 2.0
#define MAX_FP_RATE 1.0

static const uint8_t test_key[32] = "0123456789abcdef0123456789abcdef";

#define assert_str(actual, expected)                                                               \
	do {                                                                                       \
		const char *_a = (actual), *_e = (expected);                                       \
		if (!_a || strcmp(_a, _e))                                                         \
			fail_msg("expected '%s', got '%s'", _e, _a ? _a : "(null)");               \
	} while (0)

static struct mw_masker *build_at(const char *text, const uint8_t *key, struct mw_diag *d,
				  int *ret_r)
{
	struct mw_masker *m = NULL;
	json_error_t err;
	json_t *root = json_loads(text, 0, &err);
	int r;

	if (!root)
		fail_msg("test config is not JSON: %d:%d: %s", err.line, err.column, err.text);
	r = mask_from_json(json_object_get(root, "masking"),
			   json_object_get(json_object_get(root, "journal"), "mask"), "test.json",
			   text, strlen(text), key, key ? 32 : 0, &m, d);
	json_decref(root);
	*ret_r = r;
	return m;
}

static struct mw_masker *build(const char *text)
{
	struct mw_diag d = { 0 };
	struct mw_masker *m;
	int r;

	m = build_at(text, test_key, &d, &r);
	if (r < 0)
		fail_msg("expected the config to build, got %d: %d:%d: %s: %s", r, d.line, d.column,
			 d.key, d.text);
	return m;
}

/* Text through a profile: the result (masked or a copy), or NULL with the error in *ret_r. */
static char *masked(const struct mw_mask_profile *p, const char *s, int *ret_r)
{
	char *out = NULL;
	size_t len = 0;
	int r = mask_text(p, s, strlen(s), &out, &len, NULL);

	if (ret_r)
		*ret_r = r;
	if (r < 0)
		return NULL;
	if (r == 0)
		return strdup(s);
	if (strlen(out) != len)
		fail_msg("returned length %zu for '%s'", len, out);
	return out;
}

static void check_text(const struct mw_mask_profile *p, const char *in, const char *expected)
{
	int r;
	char *out = masked(p, in, &r);

	if (!out)
		fail_msg("mask_text('%s') failed: %d", in, r);
	if (strcmp(out, expected))
		fail_msg("mask_text('%s'): expected '%s', got '%s'", in, expected, out);
	free(out);
}

/* --- the corpora -------------------------------------------------------------------------- */

static const char *data_dir(void)
{
	static char dir[4096];
	char exe[4096];
	ssize_t n;
	struct stat st;

	if (getenv("MASK_DATA"))
		return getenv("MASK_DATA");
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		/* BUILD/tests/test_mask -> the source tree is BUILD/.. for the default build */
		for (int up = 0; up < 3; up++) {
			char *s = strrchr(exe, '/');

			if (s)
				*s = '\0';
		}
		snprintf(dir, sizeof(dir), "%s/tests/unit/data/mask", exe);
		if (stat(dir, &st) == 0)
			return dir;
	}
	return "tests/unit/data/mask";
}

static void unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] == 'n') {
			*w++ = '\n';
			r++;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

static char *replace_all(const char *ctx, const char *v)
{
	char *out = NULL;
	const char *p = strstr(ctx, "%s");

	if (asprintf(&out, "%.*s%s%s", (int)(p - ctx), ctx, v, p + 2) < 0)
		fail_msg("out of memory");
	return out;
}

/* One value in its three settings; true when every result matched. */
static bool run_case(const struct mw_mask_profile *p, const char *v, const char *expected,
		     const char *file, int line)
{
	static const char *const ctxs[] = { "%s", "see %s, thanks", "%s\n" };
	bool ok = true;

	for (size_t c = 0; c < ARRAY_SIZE(ctxs); c++) {
		char *in = replace_all(ctxs[c], v), *want = replace_all(ctxs[c], expected);
		int r;
		char *out = masked(p, in, &r);

		if (!out || strcmp(out, want)) {
			print_message("# %s:%d: '%s': expected '%s', got '%s' (%d)\n", file, line, in,
				      want, out ? out : "(error)", r);
			ok = false;
		}
		free(out);
		free(in);
		free(want);
	}
	{
		/* inside JSON, as a tool result carries it */
		json_t *doc = json_pack("{s:[{s:s}]}", "rows", "note", v);
		const char *got;

		if (mask_json(p, doc, "", NULL) < 0)
			ok = false;
		got = json_string_value(
			json_object_get(json_array_get(json_object_get(doc, "rows"), 0), "note"));
		if (!got || strcmp(got, expected)) {
			print_message("# %s:%d: in JSON '%s': expected '%s', got '%s'\n", file, line,
				      v, expected, got ? got : "(null)");
			ok = false;
		}
		json_decref(doc);
	}
	return ok;
}

static void run_corpus(const char *detector)
{
	char path[4200], cfg[512], line[8192];
	unsigned tp = 0, fn = 0, tn = 0, fp = 0;
	struct mw_masker *m;
	const struct mw_mask_profile *alone, *all;
	FILE *f;
	int ln = 0;

	snprintf(cfg, sizeof(cfg),
		 "{\"masking\": {\"profiles\": {\"alone\": {\"detectors\": [\"%s\"]}, \"all\": {}}}}",
		 detector);
	m = build(cfg);
	alone = mask_profile(m, "alone");
	all = mask_profile(m, "all");
	assert_non_null(alone);
	assert_non_null(all);
	for (int file = 0; file < 2; file++) {
		snprintf(path, sizeof(path), "%s/%s.txt", data_dir(), file ? "common" : detector);
		f = fopen(path, "re");
		if (!f)
			fail_msg("cannot open %s: %m", path);
		ln = 0;
		while (fgets(line, sizeof(line), f)) {
			char *v, *exp, def[64];
			bool masks, ok;

			ln++;
			line[strcspn(line, "\n")] = '\0';
			if (!line[0] || line[0] == '#')
				continue;
			v = strchr(line, '\t');
			if (!v)
				fail_msg("%s:%d: no tab", path, ln);
			*v++ = '\0';
			masks = strcmp(line, "mask") == 0;
			if (!masks && strcmp(line, "keep"))
				fail_msg("%s:%d: expected mask or keep, got '%s'", path, ln, line);
			exp = strchr(v, '\t');
			if (exp)
				*exp++ = '\0';
			unescape(v);
			snprintf(def, sizeof(def), "[MASKED:%s]", detector);
			if (!exp)
				exp = masks ? def : v;
			ok = run_case(alone, v, exp, path, ln);
			if (masks)
				ok = run_case(all, v, exp, path, ln) && ok;
			if (masks)
				ok ? tp++ : fn++;
			else
				ok ? tn++ : fp++;
		}
		fclose(f);
	}
	mask_free(m);
	{
		double fnr = tp + fn ? 100.0 * fn / (tp + fn) : 0, fpr = tn + fp ? 100.0 * fp / (tn + fp) : 0;

		print_message("# %-12s %3u true positives, %3u missed (%.1f%%), %3u look-alikes, "
			      "%3u masked (%.1f%%)\n",
			      detector, tp, fn, fnr, tn, fp, fpr);
		if (tp == 0 || tn == 0)
			fail_msg("%s: the corpus needs both true positives and look-alikes", detector);
		if (fnr > MAX_FN_RATE || fpr > MAX_FP_RATE)
			fail_msg("%s: false negatives %.1f%% (max %.1f%%), false positives %.1f%% "
				 "(max %.1f%%)",
				 detector, fnr, MAX_FN_RATE, fpr, MAX_FP_RATE);
	}
}

static void test_corpus_credit_card(void **state)
{
	run_corpus("credit_card");
}
static void test_corpus_email(void **state)
{
	run_corpus("email");
}
static void test_corpus_phone(void **state)
{
	run_corpus("phone");
}
static void test_corpus_us_ssn(void **state)
{
	run_corpus("us_ssn");
}
static void test_corpus_iban(void **state)
{
	run_corpus("iban");
}
static void test_corpus_ipv4(void **state)
{
	run_corpus("ipv4");
}
static void test_corpus_ipv6(void **state)
{
	run_corpus("ipv6");
}
static void test_corpus_secret(void **state)
{
	run_corpus("secret");
}

/* --- styles ------------------------------------------------------------------------------- */

static const char styles_cfg[] =
	"{\"masking\": {\"profiles\": {\n"
	"  \"full\": {\"style\": \"full\"},\n"
	"  \"partial\": {\"style\": \"partial\"},\n"
	"  \"hash\": {\"style\": \"hash\"},\n"
	"  \"mixed\": {\"detectors\": [\"email\", \"credit_card\"], \"style\": \"partial\",\n"
	"             \"styles\": {\"email\": \"hash\"}}\n"
	"}}}";

static void test_styles(void **state)
{
	struct mw_masker *m = build(styles_cfg);
	const struct mw_mask_profile *full = mask_profile(m, "full"),
				     *partial = mask_profile(m, "partial"),
				     *hash = mask_profile(m, "hash"), *mixed = mask_profile(m, "mixed");
	char *a, *b;

	check_text(full, "card 4111 1111 1111 1111.", "card [MASKED:credit_card].");
	check_text(partial, "card 4111 1111 1111 1234 5", "card 4111 1111 1111 1234 5");
	check_text(partial, "card 5555-5555-5555-4444.", "card [MASKED:credit_card:\u20264444].");
	check_text(partial, "iban DE89 3704 0044 0532 0130 00",
		   "iban [MASKED:iban:\u20263000]");
	/* secrets never show a part, short values neither */
	check_text(partial, "key AKIAIOSFODNN7EXAMPLE", "key [MASKED:secret]");
	check_text(partial, "ip 8.8.8.8", "ip [MASKED:ipv4]");
	/* the hash: HMAC-SHA256(key, normalized value), first 16 hex digits */
	check_text(hash, "ssn 123-45-6789", "ssn [MASKED:us_ssn:hmac:d1be6505f2b72976]");
	a = masked(hash, "to John.Doe@Example.com", NULL);
	b = masked(hash, "to john.doe@example.com", NULL);
	assert_str(a, b); /* joins across case */
	free(a);
	free(b);
	a = masked(hash, "4111 1111 1111 1111", NULL);
	b = masked(hash, "4111-1111-1111-1111", NULL);
	assert_str(a, b); /* and across separators */
	assert_non_null(strstr(a, "[MASKED:credit_card:hmac:"));
	assert_int_equal(strlen(a), strlen("[MASKED:credit_card:hmac:]") + 16);
	free(b);
	b = masked(hash, "4012 8888 8888 1881", NULL);
	assert_string_not_equal(a, b);
	free(a);
	free(b);
	check_text(mixed, "a@b.io 4111111111111111 8.8.8.8",
		   "[MASKED:email:hmac:b2aedf29ab74380f] [MASKED:credit_card:\u20261111] 8.8.8.8");
	mask_free(m);
}

static void test_hash_key(void **state)
{
	uint8_t other[32] = { 0 };
	struct mw_diag d;
	struct mw_masker *m1 = build(styles_cfg), *m2;
	char *a, *b;
	int r;

	m2 = build_at(styles_cfg, other, &d, &r);
	assert_int_equal(r, 0);
	a = masked(mask_profile(m1, "hash"), "a@b.io", NULL);
	b = masked(mask_profile(m2, "hash"), "a@b.io", NULL);
	assert_string_not_equal(a, b); /* another host key, another hash */
	free(b);
	b = masked(mask_profile(m1, "hash"), "a@b.io", NULL);
	assert_str(a, b); /* deterministic */
	free(a);
	free(b);
	mask_free(m1);
	mask_free(m2);
}

/* --- key-name rules, JSON inside text ----------------------------------------------------- */

static const char fields_cfg[] =
	"{\"masking\": {\"profiles\": {\"p\": {\"fields\": [\"ssn\", \"Card_Number\", \"address\"],"
	" \"styles\": {\"field\": \"full\"}}}}}";

static void test_fields(void **state)
{
	struct mw_masker *m = build(fields_cfg);
	const struct mw_mask_profile *p = mask_profile(m, "p");
	json_t *v = json_loads("{\"rows\": [{\"name\": \"Ann\", \"SSN\": \"12\", \"cardNumber\": 42,"
			       " \"card-number\": null, \"address\": {\"street\": \"Main 1\","
			       " \"zip\": 12345}, \"password\": \"hunter2\", \"api_key\": 7,"
			       " \"note\": \"mail ann@example.com\"}]}",
			       0, NULL);
	struct mw_mask_summary s = { 0 };
	char *dump, sum[256];
	int r;

	r = mask_json(p, v, "/x", &s);
	assert_int_equal(r, 6);
	dump = json_dumps(v, JSON_COMPACT);
	assert_str(dump, "{\"rows\":[{\"name\":\"Ann\",\"SSN\":\"[MASKED:field]\",\"cardNumber\":"
			 "\"[MASKED:field]\",\"card-number\":null,\"address\":\"[MASKED:field]\","
			 "\"password\":\"[MASKED:secret]\",\"api_key\":\"[MASKED:secret]\","
			 "\"note\":\"mail [MASKED:email]\"}]}");
	free(dump);
	mask_summary_format(&s, sum, sizeof(sum));
	assert_str(sum, "email=1 secret=2 field=3");
	assert_int_equal(s.n_paths, 6);
	assert_str(s.paths[0], "/x/rows/0/SSN");
	assert_str(s.paths[5], "/x/rows/0/note");
	json_decref(v);
	mask_free(m);
}

static void test_json_in_text(void **state)
{
	struct mw_masker *m = build(fields_cfg);
	const struct mw_mask_profile *p = mask_profile(m, "p");
	json_t *msg = json_pack(
		"{s:s,s:i,s:{s:[{s:s,s:s}]}}", "jsonrpc", "2.0", "id", 1, "result", "content",
		"type", "text", "text",
		"[{\"id\": 1, \"email\": \"bob@example.com\", \"ssn\": \"078-05-1120\",\n"
		"  \"card\": 4111111111111111, \"amount\": 12.5, \"nested\": \"{\\\"e\\\":\\\"x@y.org\\\"}\","
		"  \"pem\": \"-----BEGIN PRIVATE KEY-----\\nMIIB\\n-----END PRIVATE KEY-----\", "
		"\"ok\": true, \"n\": null}]");
	struct mw_mask_summary s = { 0 };
	const char *text;
	json_t *inner;
	int r;

	r = mask_message(p, msg, &s);
	assert_int_equal(r, 5);
	text = json_string_value(json_object_get(
		json_array_get(json_object_get(json_object_get(msg, "result"), "content"), 0),
		"text"));
	/* formatting kept, still JSON */
	assert_str(text,
		   "[{\"id\": 1, \"email\": \"[MASKED:email]\", \"ssn\": \"[MASKED:field]\",\n"
		   "  \"card\": \"[MASKED:credit_card]\", \"amount\": 12.5, \"nested\": "
		   "\"{\\\"e\\\":\\\"[MASKED:email]\\\"}\",  \"pem\": \"[MASKED:secret]\", \"ok\": true,"
		   " \"n\": null}]");
	inner = json_loads(text, 0, NULL);
	assert_non_null(inner);
	json_decref(inner);
	assert_str(s.paths[0], "/result/content/0/text/0/email");
	assert_str(s.paths[2], "/result/content/0/text/0/card");
	/* id and jsonrpc untouched */
	assert_int_equal(json_integer_value(json_object_get(msg, "id")), 1);
	json_decref(msg);

	/* not JSON after all: masked as text */
	check_text(p, "[bob@example.com] {not json", "[[MASKED:email]] {not json");
	check_text(p, "{\"ssn\": 1", "{\"ssn\": 1");
	mask_free(m);
}

static void test_csv(void **state)
{
	struct mw_masker *m = build(fields_cfg);
	const struct mw_mask_profile *p = mask_profile(m, "p");

	check_text(p,
		   "name,email,SSN, Password\nAnn,ann@x.io,078-05-1120,\"hunter2, \"\"really\"\"\"\n"
		   "\"Bob\",\"bob@y.org\",\"12\nline 2\",pw\r\n,,,\nCid,c@d.io",
		   "name,email,SSN, Password\nAnn,[MASKED:email],[MASKED:field],\"[MASKED:secret]\"\n"
		   "\"Bob\",\"[MASKED:email]\",\"[MASKED:field]\",[MASKED:secret]\r\n,,,\nCid,"
		   "[MASKED:email]");
	/* a first line that names no ruled column: text as usual */
	check_text(p, "Hello, world\nssn 078-05-1120", "Hello, world\nssn [MASKED:us_ssn]");
	check_text(p, "id,ssn\n1,2", "id,ssn\n1,[MASKED:field]");
	mask_free(m);
}

static void test_message_parts(void **state)
{
	struct mw_masker *m = build("{\"masking\": {\"profiles\": {\"p\": {}}}}");
	const struct mw_mask_profile *p = mask_profile(m, "p");
	json_t *msg = json_loads(
		"{\"jsonrpc\":\"2.0\",\"id\":\"a@b.io\",\"method\":\"sampling/createMessage\","
		"\"params\":{\"messages\":[{\"content\":{\"text\":\"call +44 20 7946 0958\"}}]}}",
		0, NULL);
	struct mw_mask_summary s = { 0 };
	char *dump;

	assert_int_equal(mask_message(p, msg, &s), 1);
	dump = json_dumps(msg, JSON_COMPACT);
	assert_str(dump, "{\"jsonrpc\":\"2.0\",\"id\":\"a@b.io\",\"method\":\"sampling/createMessage\","
			 "\"params\":{\"messages\":[{\"content\":{\"text\":\"call [MASKED:phone]\"}}]}}");
	free(dump);
	json_decref(msg);

	msg = json_loads("[{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32000,\"message\":"
			 "\"no user 123-45-6789\",\"data\":{\"ip\":\"10.1.2.3\"}}},"
			 "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"structuredContent\":"
			 "{\"phone\":4155552671}}}]",
			 0, NULL);
	memset(&s, 0, sizeof(s));
	assert_int_equal(mask_message(p, msg, &s), 2);
	dump = json_dumps(msg, JSON_COMPACT);
	assert_str(dump, "[{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32000,\"message\":"
			 "\"no user [MASKED:us_ssn]\",\"data\":{\"ip\":\"[MASKED:ipv4]\"}}},"
			 "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"structuredContent\":"
			 "{\"phone\":4155552671}}}]");
	free(dump);
	/* (4155552671 has no separators: not a phone) */
	assert_str(s.paths[0], "/0/error/message");
	assert_str(s.paths[1], "/0/error/data/ip");
	json_decref(msg);
	mask_free(m);
}

static void test_utf8(void **state)
{
	struct mw_masker *m = build("{\"masking\": {\"profiles\": {\"p\": {\"patterns\": "
				    "[{\"name\": \"dots\", \"regex\": \"x.\"}]}}}}");
	const struct mw_mask_profile *p = mask_profile(m, "p");

	check_text(p, "\u00e9l\u00e8ve:j\u00e9r\u00f4me@exemple.fr\u2014\u4e2d4111111111111111\u00e9",
		   "\u00e9l\u00e8ve:[MASKED:email]\u2014\u4e2d[MASKED:credit_card]\u00e9");
	/* a byte pattern never splits a character: x. over "x\u00e9" takes both bytes of é */
	check_text(p, "ax\u00e9b", "a[MASKED:dots]b");
	{
		json_t *v = json_pack("{s:s}", "t", "{\"k\": \"\\u00e9 a@b.io \\ud83d\\ude00\"}");
		const char *t;

		assert_int_equal(mask_json(p, v, NULL, NULL), 1);
		t = json_string_value(json_object_get(v, "t"));
		assert_str(t, "{\"k\": \"\u00e9 [MASKED:email] \U0001F600\"}");
		json_decref(v);
	}
	mask_free(m);
}

static void test_pem_cut(void **state)
{
	struct mw_masker *m = build("{\"masking\": {\"profiles\": {\"p\": {}}}}");
	const struct mw_mask_profile *p = mask_profile(m, "p");

	check_text(p, "key: -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrY\n(cut",
		   "key: [MASKED:secret]");
	check_text(p, "-----BEGIN RSA PRIVATE KEY-----\nA\n-----END RSA PRIVATE KEY-----\nrest",
		   "[MASKED:secret]\nrest");
	mask_free(m);
}

static void test_limits(void **state)
{
	struct mw_masker *m = build("{\"masking\": {\"profiles\": {\"p\": {}}}}");
	const struct mw_mask_profile *p = mask_profile(m, "p");
	char *deep, *out = NULL;
	size_t len, n = 2 * MW_MASK_MAX_DEPTH + 8;
	json_t *v;
	int r;

	/* JSON text nested beyond the limit: an error, not a pass */
	deep = malloc(2 * n + 32);
	memset(deep, '[', n);
	strcpy(deep + n, "\"a@b.io\"");
	memset(deep + n + 8, ']', n);
	deep[2 * n + 8] = '\0';
	r = mask_text(p, deep, strlen(deep), &out, &len, NULL);
	assert_int_equal(r, -ELOOP);
	assert_null(out);
	v = json_pack("{s:s}", "t", deep);
	assert_int_equal(mask_json(p, v, NULL, NULL), -ELOOP);
	json_decref(v);
	free(deep);
	r = mask_text(p, "x", (size_t)MW_MASK_MAX_INPUT + 1, &out, &len, NULL);
	assert_int_equal(r, -EFBIG);
	/* a bare integer cannot become a string in place */
	v = json_integer(4111111111111111LL);
	assert_int_equal(mask_json(p, v, NULL, NULL), -EMEDIUMTYPE);
	json_decref(v);
	/* nothing to mask: nothing returned */
	r = mask_text(p, "plain words", 11, &out, &len, NULL);
	assert_int_equal(r, 0);
	assert_null(out);
	mask_free(m);
}

static void test_summary(void **state)
{
	struct mw_masker *m = build("{\"masking\": {\"profiles\": {\"p\": {}}}}");
	const struct mw_mask_profile *p = mask_profile(m, "p");
	struct mw_mask_summary s = { 0 }, t = { 0 };
	json_t *v = json_array();
	char buf[256];

	mask_summary_format(&s, buf, sizeof(buf));
	assert_str(buf, "");
	for (int i = 0; i < MW_MASK_MAX_PATHS + 4; i++)
		json_array_append_new(v, json_string("a@b.io and c@d.io"));
	assert_int_equal(mask_json(p, v, "", &s), 2 * (MW_MASK_MAX_PATHS + 4));
	assert_int_equal(s.counts[MW_MASK_EMAIL], 2 * (MW_MASK_MAX_PATHS + 4));
	assert_int_equal(s.n_paths, MW_MASK_MAX_PATHS);
	assert_true(s.paths_truncated);
	assert_str(s.paths[3], "/3");
	mask_summary_format(&s, buf, 12);
	assert_str(buf, "email=40");
	mask_summary_merge(&t, &s);
	mask_summary_merge(&t, &s);
	assert_int_equal(t.counts[MW_MASK_EMAIL], 4 * (MW_MASK_MAX_PATHS + 4));
	assert_int_equal(t.n_paths, MW_MASK_MAX_PATHS);
	assert_int_equal(mask_summary_total(&t), 4 * (MW_MASK_MAX_PATHS + 4));
	json_decref(v);
	mask_free(m);
}

static void test_custom(void **state)
{
	struct mw_masker *m = build(
		"{\"masking\": {\"profiles\": {\"p\": {\"detectors\": [\"email\"], \"patterns\": "
		"[{\"name\": \"employee_id\", \"regex\": \"EMP-[0-9]{6}\"},"
		" {\"name\": \"slow\", \"regex\": \"(a+)+$\"}], \"styles\": {\"custom\": \"hash\"}}}}}");
	const struct mw_mask_profile *p = mask_profile(m, "p");
	char *out;
	size_t len;
	int r;

	check_text(p, "EMP-123456 and EMP-12345 by x@example.com",
		   "[MASKED:employee_id:hmac:f332a9609b3b1efe] and EMP-12345 by [MASKED:email]");
	/* catastrophic backtracking hits the match limit: an error, not a pass */
	{
		char evil[64];

		memset(evil, 'a', 40);
		strcpy(evil + 40, "!");
		r = mask_text(p, evil, strlen(evil), &out, &len, NULL);
		assert_int_equal(r, -ERANGE);
	}
	mask_free(m);
}

/* --- one masker, many threads ---------------------------------------------------------- */

struct thread_arg {
	const struct mw_mask_profile *p;
	const char *in, *want;
	int bad;
};

static void *thread_main(void *v)
{
	struct thread_arg *a = v;

	for (int i = 0; i < 300; i++) {
		char *out = masked(a->p, a->in, NULL);

		a->bad += !out || strcmp(out, a->want) != 0;
		free(out);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct mw_masker *m = build("{\"masking\": {\"profiles\": {\"p\": {\"style\": \"hash\", "
				    "\"patterns\": [{\"name\": \"emp\", \"regex\": \"EMP-[0-9]{6}\"}]}}}}");
	const struct mw_mask_profile *p = mask_profile(m, "p");
	const char *in = "[{\"e\": \"a@b.io\", \"c\": \"4111 1111 1111 1111\", \"id\": \"EMP-123456\","
			 " \"ip\": \"fe80::1\", \"password\": \"x\"}]";
	char *want = masked(p, in, NULL);
	struct thread_arg args[4];
	pthread_t t[4];

	assert_string_not_equal(want, in);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct thread_arg){ p, in, want, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, thread_main, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(args[i].bad, 0);
	}
	free(want);
	mask_free(m);
}

/* --- config ------------------------------------------------------------------------------- */

static void check_cfg_error(const char *text, const uint8_t *key, int line, int column,
			    const char *dkey, const char *msg)
{
	struct mw_diag d = { 0 };
	struct mw_masker *m;
	int r;

	m = build_at(text, key, &d, &r);
	if (r >= 0) {
		mask_free(m);
		fail_msg("expected an error for %s", text);
	}
	assert_null(m);
	if (d.line != line || d.column != column || strcmp(d.key, dkey) || !strstr(d.text, msg))
		fail_msg("expected %d:%d %s '%s', got %d:%d %s '%s'", line, column, dkey, msg,
			 d.line, d.column, d.key, d.text);
}

static void test_config_errors(void **state)
{
	check_cfg_error("{\"masking\": {\"profiles\": {\"pii\": {\n"
			"  \"detectors\": [\"email\", \"creditcard\"]}}}}",
			test_key, 2, 26, "masking.profiles.pii.detectors[1]", "unknown detector");
	check_cfg_error("{\"masking\": {\"profiles\": {\"pii\": {\n  \"style\": \"blur\"}}}}",
			test_key, 2, 12, "masking.profiles.pii.style", "expected \"full\"");
	check_cfg_error("{\"masking\": {\"profiles\": {\"pii\": {\"colour\": 1}}}}", test_key, 1,
			35, "masking.profiles.pii.colour", "unknown key 'colour'");
	check_cfg_error("{\"masking\": {\"profiles\": {\"pii\": {}}, \"keyfile\": \"/x\"}}", test_key,
			1, 39, "masking.keyfile", "unknown key");
	check_cfg_error("{\"masking\": {\"profiles\": {\"pii\": {\"styles\": {\"mail\": \"hash\"}}}}}",
			test_key, 1, 46, "masking.profiles.pii.styles.mail", "unknown detector");
	check_cfg_error("{\"masking\": {\"profiles\": {\"pii\": {\"style\": \"hash\"}}}}", NULL, 1,
			44, "masking.profiles.pii.style", "needs the host key");
	check_cfg_error("{\"masking\": {\"profiles\": {\"p\": {\"patterns\": [{\"name\": \"e\", "
			"\"regex\": \"(\"}]}}}}",
			test_key, 1, 69, "masking.profiles.p.patterns[0].regex", "bad regex");
	check_cfg_error("{\"masking\": {\"profiles\": {\"p\": {\"patterns\": [{\"name\": \"E ID\", "
			"\"regex\": \"x\"}]}}}}",
			test_key, 1, 55, "masking.profiles.p.patterns[0].name", "expected a name");
	check_cfg_error("{\"masking\": {\"profiles\": {\"p\": {\"fields\": [\"_\"]}}}}", test_key, 1,
			44, "masking.profiles.p.fields[0]", "expected a key name");
	check_cfg_error("{\"masking\": {\"profiles\": {\"p\": {}}},\n \"journal\": {\"mask\": \"q\"}}",
			test_key, 2, 22, "journal.mask", "no masking profile 'q'");
	check_cfg_error("{\"journal\": {\"mask\": {\"detectors\": \"email\"}}}", test_key, 1, 36,
			"journal.mask.detectors", "expected an array");
	check_cfg_error("{\"masking\": {\"key_file\": \"relative\"}}", test_key, 1, 26,
			"masking.key_file", "absolute path");
}

static void test_config_journal(void **state)
{
	struct mw_masker *m;
	const struct mw_mask_profile *j;
	struct mw_diag d;
	json_t *cfg;
	int r;

	/* default: every built-in detector, hashed */
	m = build("{}");
	j = mask_journal_profile(m);
	assert_non_null(j);
	assert_null(mask_profile(m, "pii"));
	check_text(j, "a@b.io 8.8.8.8 AKIAIOSFODNN7EXAMPLE",
		   "[MASKED:email:hmac:b2aedf29ab74380f] [MASKED:ipv4:hmac:d5d45b3d74deca2d] "
		   "[MASKED:secret]");
	mask_free(m);
	/* without a key: full */
	m = build_at("{}", NULL, &d, &r);
	assert_int_equal(r, 0);
	check_text(mask_journal_profile(m), "a@b.io", "[MASKED:email]");
	mask_free(m);
	/* by name */
	m = build("{\"masking\": {\"profiles\": {\"pii\": {\"detectors\": [\"email\"]}}},"
		  " \"journal\": {\"mask\": \"pii\"}}");
	assert_ptr_equal(mask_journal_profile(m), mask_profile(m, "pii"));
	assert_str(mask_profile_name(mask_journal_profile(m)), "pii");
	mask_free(m);
	/* key_file is the lead's to read */
	cfg = json_loads("{\"key_file\": \"/var/lib/x/mask.key\"}", 0, NULL);
	assert_str(mask_key_file(cfg), "/var/lib/x/mask.key");
	assert_int_equal(mask_from_json(cfg, NULL, "t", NULL, 0, test_key, 32, &m, &d), 0);
	mask_free(m);
	json_decref(cfg);
}

static void test_key_file(void **state)
{
	char dir[] = "/tmp/test_mask.XXXXXX", path[64];
	uint8_t k1[32], k2[32];
	struct stat st;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/mask.key", dir);
	assert_int_equal(mask_key_load(path, k1), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 32);
	assert_int_equal(mask_key_load(path, k2), 0);
	assert_memory_equal(k1, k2, 32);
	chmod(path, 0644);
	assert_int_equal(mask_key_load(path, k2), -EPERM);
	unlink(path);
	f = fopen(path, "we");
	fputs("short", f);
	fclose(f);
	chmod(path, 0600);
	assert_int_equal(mask_key_load(path, k2), -EBADMSG);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_credit_card),
		cmocka_unit_test(test_corpus_email),
		cmocka_unit_test(test_corpus_phone),
		cmocka_unit_test(test_corpus_us_ssn),
		cmocka_unit_test(test_corpus_iban),
		cmocka_unit_test(test_corpus_ipv4),
		cmocka_unit_test(test_corpus_ipv6),
		cmocka_unit_test(test_corpus_secret),
		cmocka_unit_test(test_styles),
		cmocka_unit_test(test_hash_key),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_json_in_text),
		cmocka_unit_test(test_csv),
		cmocka_unit_test(test_message_parts),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_pem_cut),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_custom),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_config_journal),
		cmocka_unit_test(test_key_file),
	};

	return cmocka_run_group_tests_name("mask", tests, NULL, NULL);
}
