/* test_util.c: duration and size parsing, diagnostics.
 *
 * Parsers: every suffix, the exact overflow boundary (UINT64_MAX itself parses, one more does
 * not), junk, and that the output is written only on success. */
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util.h"

#define POISON 0xdeadbeefcafef00dULL
#define USEC_PER_SEC UINT64_C(1000000)

typedef int (*parse_fn)(const char *s, uint64_t *ret);

static void check_parse(const char *fn_name, parse_fn fn, const char *in, int want_r, uint64_t want,
			const char *file, int line)
{
	uint64_t got = POISON;
	int r = fn(in, &got);

	if (r == want_r && (r < 0 ? got == POISON : got == want))
		return;
	if (r != want_r)
		print_error("%s(%s%s%s): expected return %d (%s), got %d (%s)\n", fn_name,
			    in ? "'" : "", in ? in : "NULL", in ? "'" : "", want_r,
			    want_r ? strerror(-want_r) : "ok", r, r ? strerror(-r) : "ok");
	else if (r < 0)
		print_error("%s('%s') failed with %d but wrote the output: %" PRIu64 "\n", fn_name,
			    in, r, got);
	else
		print_error("%s('%s'): expected %" PRIu64 ", got %" PRIu64 "\n", fn_name, in, want,
			    got);
	_fail(file, line);
}

#define assert_duration(in, want)                                                                  \
	check_parse("mw_parse_duration", mw_parse_duration, in, 0, want, __FILE__, __LINE__)
#define assert_duration_err(in, err)                                                               \
	check_parse("mw_parse_duration", mw_parse_duration, in, err, 0, __FILE__, __LINE__)
#define assert_size(in, want)                                                                      \
	check_parse("mw_parse_size", mw_parse_size, in, 0, want, __FILE__, __LINE__)
#define assert_size_err(in, err)                                                                   \
	check_parse("mw_parse_size", mw_parse_size, in, err, 0, __FILE__, __LINE__)

/* --- durations --------------------------------------------------------------------------- */

static void test_duration_suffixes(void **state)
{
	assert_duration("15", 15 * USEC_PER_SEC); /* bare number: seconds */
	assert_duration("0", 0);
	assert_duration("7us", 7);
	assert_duration("250ms", 250000);
	assert_duration("90s", 90 * USEC_PER_SEC);
	assert_duration("90sec", 90 * USEC_PER_SEC);
	assert_duration("10m", 600 * USEC_PER_SEC);
	assert_duration("10min", 600 * USEC_PER_SEC);
	assert_duration("2h", 7200 * USEC_PER_SEC);
	assert_duration("30d", 30 * 86400 * USEC_PER_SEC);
	assert_duration("3w", 3 * 7 * 86400 * USEC_PER_SEC);
	assert_duration("0d", 0);
	assert_duration("007s", 7 * USEC_PER_SEC);
}

static void test_duration_spaces(void **state)
{
	/* spaces between number and unit are accepted, as systemd does ("10 m") */
	assert_duration("10 m", 600 * USEC_PER_SEC);
	assert_duration("5  ms", 5000);
	assert_duration("15 ", 15 * USEC_PER_SEC);
	/* but nothing before the number, nothing after the unit */
	assert_duration_err(" 10m", -EINVAL);
	assert_duration_err("\t10m", -EINVAL);
	assert_duration_err("10m ", -EINVAL);
	assert_duration_err("10\tm", -EINVAL);
	assert_duration_err("10m\n", -EINVAL);
}

static void test_duration_junk(void **state)
{
	static const char *const junk[] = {
		"",    "s",    "ms",	 "-5s",	  "+5s",     "1.5h",  "10x",
		"10M", "10S",  "10mm",	 "10hr",  "10 h x",  "1h30m", "0x10",
		"abc", "10e3", "10mins", "1 000", "10 sec ", "∞",
	};

	for (size_t i = 0; i < ARRAY_SIZE(junk); i++)
		assert_duration_err(junk[i], -EINVAL);
	assert_duration_err(NULL, -EINVAL);
}

static void test_duration_overflow(void **state)
{
	char buf[64];

	/* UINT64_MAX microseconds is representable; one more is not */
	assert_duration("18446744073709551615us", UINT64_MAX);
	assert_duration_err("18446744073709551616us", -ERANGE);
	assert_duration_err("99999999999999999999999999", -ERANGE);
	/* the multiplication overflows exactly past UINT64_MAX / unit */
	snprintf(buf, sizeof(buf), "%" PRIu64 "s", UINT64_MAX / USEC_PER_SEC);
	assert_duration(buf, UINT64_MAX / USEC_PER_SEC * USEC_PER_SEC);
	snprintf(buf, sizeof(buf), "%" PRIu64 "s", UINT64_MAX / USEC_PER_SEC + 1);
	assert_duration_err(buf, -ERANGE);
	/* a bare number is seconds */
	snprintf(buf, sizeof(buf), "%" PRIu64, UINT64_MAX / USEC_PER_SEC + 1);
	assert_duration_err(buf, -ERANGE);
	snprintf(buf, sizeof(buf), "%" PRIu64 "w", UINT64_MAX / UINT64_C(604800000000) + 1);
	assert_duration_err(buf, -ERANGE);
	assert_duration_err("999999999999d", -ERANGE);
	/* a range error wins over a junk suffix only when the number itself overflows */
	assert_duration_err("18446744073709551616xyz", -ERANGE);
	assert_duration_err("5xyz", -EINVAL);
}

/* --- sizes ------------------------------------------------------------------------------- */

static void test_size_suffixes(void **state)
{
	assert_size("4096", 4096);
	assert_size("0", 0);
	assert_size("17B", 17);
	assert_size("64k", 64 << 10);
	assert_size("64K", 64 << 10);
	assert_size("64KiB", 64 << 10);
	assert_size("256M", 256ULL << 20);
	assert_size("256MiB", 256ULL << 20);
	assert_size("1G", 1ULL << 30);
	assert_size("3GiB", 3ULL << 30);
	assert_size("2T", 2ULL << 40);
	assert_size("2TiB", 2ULL << 40);
	assert_size("10 MiB", 10ULL << 20);
}

static void test_size_junk(void **state)
{
	static const char *const junk[] = {
		"",	"K",	"-1", "+1", "1.5G", "64kb",  "64KB", "64m",   "1g",  "1Gi",
		"1KIB", "1PiB", "1P", "1E", "0x40", "64 k ", " 64k", "64k\n", "1 0", "one",
	};

	for (size_t i = 0; i < ARRAY_SIZE(junk); i++)
		assert_size_err(junk[i], -EINVAL);
	assert_size_err(NULL, -EINVAL);
}

static void test_size_overflow(void **state)
{
	char buf[64];

	assert_size("18446744073709551615", UINT64_MAX);
	assert_size("18446744073709551615B", UINT64_MAX);
	assert_size_err("18446744073709551616", -ERANGE);
	assert_size("16777215T", 16777215ULL << 40); /* (2^24 - 1) TiB fits */
	assert_size_err("16777216T", -ERANGE);	     /* 2^64 does not */
	snprintf(buf, sizeof(buf), "%" PRIu64 "K", UINT64_MAX >> 10);
	assert_size(buf, (UINT64_MAX >> 10) << 10);
	snprintf(buf, sizeof(buf), "%" PRIu64 "KiB", (UINT64_MAX >> 10) + 1);
	assert_size_err(buf, -ERANGE);
	assert_size_err("17179869184G", -ERANGE);
	assert_size_err("100000000000000000000000000000000000000", -ERANGE);
}

/* --- diagnostics ------------------------------------------------------------------------- */

static void test_diag_set(void **state)
{
	struct mw_diag d;

	memset(&d, 0x55, sizeof(d));
	assert_int_equal(mw_diag_set(&d, -EINVAL, "/etc/mcpwarden.json", 3, 14, "port",
				     "expected %s, got %d", "1..65535", 70000),
			 -EINVAL);
	assert_string_equal(d.file, "/etc/mcpwarden.json");
	assert_int_equal(d.line, 3);
	assert_int_equal(d.column, 14);
	assert_string_equal(d.key, "port");
	assert_string_equal(d.text, "expected 1..65535, got 70000");

	/* NULL file and key leave them empty (and clear what was there before) */
	assert_int_equal(mw_diag_set(&d, -ENOENT, NULL, 0, 0, NULL, "no such thing"), -ENOENT);
	assert_string_equal(d.file, "");
	assert_string_equal(d.key, "");
	assert_int_equal(d.line, 0);
	assert_string_equal(d.text, "no such thing");

	/* no diagnostic wanted: still returns the error */
	assert_int_equal(mw_diag_set(NULL, -E2BIG, "f", 1, 2, "k", "x"), -E2BIG);
	assert_int_equal(mw_diag_set(&d, 0, NULL, 0, 0, NULL, "%s", ""), 0);
}

static void test_diag_truncation(void **state)
{
	char longer[2048];
	struct mw_diag d;

	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = 0;
	mw_diag_set(&d, -EINVAL, longer, 1, 1, longer, "%s", longer);
	assert_int_equal(strlen(d.file), sizeof(d.file) - 1);
	assert_int_equal(strlen(d.key), sizeof(d.key) - 1);
	assert_int_equal(strlen(d.text), sizeof(d.text) - 1);
}

static void test_diag_format(void **state)
{
	struct mw_diag d;
	char buf[1024];

	mw_diag_set(&d, -EINVAL, "policy.json", 12, 5, "tools.allow", "unknown tool '%s'", "rm");
	assert_string_equal(mw_diag_format(&d, buf, sizeof(buf)),
			    "policy.json:12:5: key 'tools.allow': unknown tool 'rm'");
	assert_ptr_equal(mw_diag_format(&d, buf, sizeof(buf)), buf);

	mw_diag_set(&d, -EINVAL, "policy.json", 1, 1, NULL, "trailing garbage");
	assert_string_equal(mw_diag_format(&d, buf, sizeof(buf)),
			    "policy.json:1:1: trailing garbage");

	mw_diag_set(&d, -EINVAL, NULL, 0, 0, "listen", "address in use");
	assert_string_equal(mw_diag_format(&d, buf, sizeof(buf)), "key 'listen': address in use");

	mw_diag_set(&d, -EINVAL, NULL, 0, 0, NULL, "out of memory");
	assert_string_equal(mw_diag_format(&d, buf, sizeof(buf)), "out of memory");
}

static void test_diag_format_small_buffer(void **state)
{
	struct mw_diag d;
	char buf[32];

	mw_diag_set(&d, -EINVAL, "policy.json", 12, 5, "tools.allow", "unknown tool");
	/* the location alone overflows: cut there, still terminated */
	memset(buf, 'X', sizeof(buf));
	assert_string_equal(mw_diag_format(&d, buf, 10), "policy.js");
	assert_string_equal(mw_diag_format(&d, buf, 18), "policy.json:12:5:");
	/* the location fits, key and text are cut */
	memset(buf, 'X', sizeof(buf));
	assert_string_equal(mw_diag_format(&d, buf, sizeof(buf)),
			    "policy.json:12:5: key 'tools.al");
	mw_diag_set(&d, -EINVAL, NULL, 0, 0, "k", "some long text here");
	assert_string_equal(mw_diag_format(&d, buf, 16), "key 'k': some l");
	/* a zero-sized buffer is not touched */
	buf[0] = 'Z';
	mw_diag_format(&d, buf, 0);
	assert_int_equal(buf[0], 'Z');
	mw_diag_set(&d, -EINVAL, "f", 1, 1, NULL, "x");
	mw_diag_format(&d, buf, 0);
	assert_int_equal(buf[0], 'Z');
}

static void test_clocks(void **state)
{
	uint64_t a = mw_now_mono_usec(), b = mw_now_mono_usec();

	assert_true(b >= a);
	/* after 2020-01-01 */
	assert_true(mw_now_wall_usec() > 1577836800ULL * USEC_PER_SEC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_suffixes),
		cmocka_unit_test(test_duration_spaces),
		cmocka_unit_test(test_duration_junk),
		cmocka_unit_test(test_duration_overflow),
		cmocka_unit_test(test_size_suffixes),
		cmocka_unit_test(test_size_junk),
		cmocka_unit_test(test_size_overflow),
		cmocka_unit_test(test_diag_set),
		cmocka_unit_test(test_diag_truncation),
		cmocka_unit_test(test_diag_format),
		cmocka_unit_test(test_diag_format_small_buffer),
		cmocka_unit_test(test_clocks),
	};

	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
