/* maskbench.c: masking throughput and latency on realistic MCP tool results.
 *
 * Builds replies of 1 KiB, 64 KiB and 1 MiB: {"jsonrpc":"2.0","id":1,"result":{"content":
 * [{"type":"text","text":"<JSON rows>"}]}} where the rows are customers with names, emails,
 * cards, phones, addresses, order ids, UUIDs and timestamps.  Measures, on one thread (one
 * core), mask_message() with every built-in detector on (MB/s of reply text), p50/p99
 * latency for the 64 KiB reply, and, over the same text, a baseline of one PCRE2 regex per
 * detector (JIT) run one after the other, without any validation.
 *
 * maskbench [--min-time SECONDS] [--json] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "mask.h"

/* Throughput is per core: the thread's CPU time, so that other load on the host does not
 * count against it.  Latency is reported both in CPU time and in wall-clock time. */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned long long rng = 0x9e3779b97f4a7c15ULL;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static void card(char *out)
{
	static const char *const prefixes[] = { "4", "51", "55", "37", "6011", "3530" };
	const char *p = prefixes[rnd(ARRAY_SIZE(prefixes))];
	int len = p[0] == '3' && p[1] == '7' ? 15 : 16, n = strlen(p), sum = 0;
	char d[20];

	memcpy(d, p, n);
	for (int i = n; i < len - 1; i++)
		d[i] = '0' + rnd(10);
	for (int i = 0; i < len - 1; i++) {
		int v = d[len - 2 - i] - '0';

		if (i % 2 == 0) {
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
	}
	d[len - 1] = '0' + (10 - sum % 10) % 10;
	d[len] = '\0';
	if (len == 16 && rnd(2))
		sprintf(out, "%.4s %.4s %.4s %.4s", d, d + 4, d + 8, d + 12);
	else
		strcpy(out, d);
}

/* Rows of customers as JSON text, about size bytes (whole rows). */
static char *rows(size_t size)
{
	static const char *const first[] = { "Ann", "Bob", "Chloé", "Dmitri", "Eve", "Farah",
					     "Günter", "Hiro" };
	static const char *const last[] = { "Smith", "Jones", "Müller", "Okafor", "Tanaka",
					    "García", "Novak" };
	static const char *const streets[] = { "Main St", "Rue de Rivoli", "Baker Street",
					       "Hauptstraße", "Elm Avenue" };
	size_t cap = size + 1024, len = 1;
	char *s = malloc(cap);

	strcpy(s, "[");
	for (unsigned id = 1;; id++) {
		char row[1024], c[32];
		const char *f = first[rnd(ARRAY_SIZE(first))], *l = last[rnd(ARRAY_SIZE(last))];
		int n;

		card(c);
		n = snprintf(row, sizeof(row),
			     "%s{\"id\":%u,\"name\":\"%s %s\",\"email\":\"%c.%s%u@example.com\","
			     "\"card\":\"%s\",\"phone\":\"+1 415 555 %04u\",\"address\":\"%u %s, "
			     "Springfield\",\"order_id\":\"ORD-2024-%06u\",\"uuid\":\"%08x-%04x-4%03x-"
			     "a%03x-%012llx\",\"created_at\":\"2024-0%u-1%uT1%u:%02u:%02uZ\","
			     "\"amount\":%u.%02u,\"status\":\"shipped\",\"note\":\"Delivered to the "
			     "front desk, signed by the customer.\"}",
			     id > 1 ? "," : "", id, f, l, f[0] | 0x20, "x", id, c, rnd(10000),
			     1 + rnd(200), streets[rnd(ARRAY_SIZE(streets))], id, rnd(1u << 31),
			     rnd(65536), rnd(4096), rnd(4096),
			     (unsigned long long)rnd(1u << 31) << 16 | rnd(65536), 1 + rnd(9),
			     rnd(10), rnd(10), rnd(60), rnd(60), rnd(1000), rnd(100));
		if (len + n + 1 > size && id > 1)
			break;
		if (len + n + 2 > cap) {
			cap = (len + n) * 2 + 2;
			s = realloc(s, cap);
		}
		memcpy(s + len, row, n);
		len += n;
		s[len] = '\0';
		if (len >= size)
			break;
	}
	strcpy(s + len, "]");
	return s;
}

static const char *loadavg(void)
{
	static char buf[32] = "?";
	FILE *f = fopen("/proc/loadavg", "re");

	if (f) {
		if (fscanf(f, "%31s", buf) != 1)
			strcpy(buf, "?");
		fclose(f);
	}
	return buf;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct result {
	size_t bytes;
	double mask_mbs, text_mbs, pcre_mbs;
	int masked;
	unsigned long pcre_matches;
};

static const char *const baseline_re[] = {
	/* credit_card */ "\\b(?:\\d[ -]?){12,18}\\d\\b",
	/* email */ "[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}",
	/* phone */ "\\+[1-9][0-9 ().-]{5,20}[0-9]|\\(?\\b[2-9][0-9]{2}\\)?[ .-]?[2-9][0-9]{2}[.-][0-9]{4}\\b",
	/* us_ssn */ "\\b[0-9]{3}-[0-9]{2}-[0-9]{4}\\b",
	/* iban */ "\\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\\b",
	/* ipv4 */ "\\b(?:(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\\.){3}(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\\b",
	/* ipv6 */ "\\b(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}\\b|\\b(?:[0-9A-Fa-f]{1,4}:){1,7}:(?:[0-9A-Fa-f]{1,4}\\b)?",
	/* secret */ "AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36}|xox[abprs]-[A-Za-z0-9-]{10,}|"
		     "eyJ[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*|-----BEGIN [A-Z ]*PRIVATE KEY-----|"
		     "[Bb]earer [A-Za-z0-9._~+/-]{16,}",
};

static unsigned long pcre_pass(pcre2_code **re, pcre2_match_data *md, const char *s, size_t n)
{
	unsigned long hits = 0;

	for (size_t k = 0; k < ARRAY_SIZE(baseline_re); k++) {
		size_t off = 0;

		while (off < n && pcre2_jit_match(re[k], (PCRE2_SPTR)s, n, off, 0, md, NULL) > 0) {
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);

			hits++;
			off = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
		}
	}
	return hits;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 1024, 64 * 1024, 1024 * 1024 };
	const uint8_t key[32] = "bench-key-bench-key-bench-key-12";
	struct mw_masker *m = NULL;
	struct mw_diag d;
	const struct mw_mask_profile *p;
	struct result res[ARRAY_SIZE(sizes)];
	pcre2_code *re[ARRAY_SIZE(baseline_re)];
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	double min_time = 1.0, lat_p50 = 0, lat_p99 = 0, lat_max = 0, wall_p50 = 0, wall_p99 = 0;
	bool json = false;
	json_t *cfg;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--min-time") == 0 && i + 1 < argc)
			min_time = atof(argv[++i]);
		else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else {
			fprintf(stderr, "usage: maskbench [--min-time SECONDS] [--json]\n");
			return 2;
		}
	}
	cfg = json_loads("{\"profiles\": {\"all\": {\"style\": \"full\"}}}", 0, NULL);
	if (mask_from_json(cfg, NULL, "bench", NULL, 0, key, sizeof(key), &m, &d) < 0) {
		fprintf(stderr, "config: %s\n", d.text);
		return 1;
	}
	json_decref(cfg);
	p = mask_profile(m, "all");
	for (size_t k = 0; k < ARRAY_SIZE(baseline_re); k++) {
		int code;
		PCRE2_SIZE off;

		re[k] = pcre2_compile((PCRE2_SPTR)baseline_re[k], PCRE2_ZERO_TERMINATED, 0, &code,
				      &off, NULL);
		if (!re[k] || pcre2_jit_compile(re[k], PCRE2_JIT_COMPLETE) < 0) {
			fprintf(stderr, "baseline regex %zu does not compile with JIT\n", k);
			return 1;
		}
	}

	for (size_t si = 0; si < ARRAY_SIZE(sizes); si++) {
		char *text = rows(sizes[si]);
		size_t n = strlen(text), iters = 0, cap = 4096, nlat = 0;
		json_t *msg = json_pack("{s:s,s:i,s:{s:[{s:s,s:s}]}}", "jsonrpc", "2.0", "id", 1,
					"result", "content", "type", "text", "text", text);
		double total = 0, t0, *lat = malloc(cap * sizeof(double)),
		       *wlat = malloc(cap * sizeof(double));
		unsigned long hits = 0;
		int r = 0;

		/* mask_message: a fresh copy each time (the copy is not timed) */
		while (total < min_time || iters < 5) {
			json_t *c = json_deep_copy(msg);
			struct mw_mask_summary s = { 0 };
			double t, w0 = wall();

			t0 = now();
			r = mask_message(p, c, &s);
			t = now() - t0;
			total += t;
			if (nlat == cap) {
				cap *= 2;
				lat = realloc(lat, cap * sizeof(double));
				wlat = realloc(wlat, cap * sizeof(double));
			}
			wlat[nlat] = wall() - w0;
			lat[nlat++] = t;
			json_decref(c);
			iters++;
			if (r < 0) {
				fprintf(stderr, "mask_message: %d\n", r);
				return 1;
			}
		}
		res[si].bytes = n;
		res[si].masked = r;
		res[si].mask_mbs = n * (double)iters / total / 1e6;
		if (sizes[si] == 64 * 1024) {
			qsort(lat, nlat, sizeof(double), cmp_double);
			lat_p50 = lat[nlat / 2] * 1e6;
			lat_p99 = lat[(size_t)(nlat * 0.99)] * 1e6;
			lat_max = lat[nlat - 1] * 1e6;
			qsort(wlat, nlat, sizeof(double), cmp_double);
			wall_p50 = wlat[nlat / 2] * 1e6;
			wall_p99 = wlat[(size_t)(nlat * 0.99)] * 1e6;
		}
		free(lat);
		free(wlat);

		/* mask_text over the same rows (no jansson around it) */
		iters = 0;
		t0 = now();
		do {
			char *out = NULL;
			size_t ol;

			if (mask_text(p, text, n, &out, &ol, NULL) < 0)
				return 1;
			free(out);
			iters++;
		} while (now() - t0 < min_time);
		res[si].text_mbs = n * (double)iters / (now() - t0) / 1e6;

		/* the baseline: one regex per detector, one after the other */
		iters = 0;
		t0 = now();
		do {
			hits = pcre_pass(re, md, text, n);
			iters++;
		} while (now() - t0 < min_time);
		res[si].pcre_mbs = n * (double)iters / (now() - t0) / 1e6;
		res[si].pcre_matches = hits;
		json_decref(msg);
		free(text);
	}

	if (json) {
		printf("{\"sizes\":[");
		for (size_t si = 0; si < ARRAY_SIZE(sizes); si++)
			printf("%s{\"bytes\":%zu,\"masked\":%d,\"mask_message_mbs\":%.1f,"
			       "\"mask_text_mbs\":%.1f,\"pcre_baseline_mbs\":%.1f}",
			       si ? "," : "", res[si].bytes, res[si].masked, res[si].mask_mbs,
			       res[si].text_mbs, res[si].pcre_mbs);
		printf("],\"latency_64k_us\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f,"
		       "\"wall_p50\":%.1f,\"wall_p99\":%.1f}}\n",
		       lat_p50, lat_p99, lat_max, wall_p50, wall_p99);
	} else {
		printf("%-9s %8s %14s %12s %14s %8s\n", "reply", "masked", "mask_message", "mask_text",
		       "pcre baseline", "ratio");
		for (size_t si = 0; si < ARRAY_SIZE(sizes); si++)
			printf("%-9zu %8d %9.0f MB/s %7.0f MB/s %9.0f MB/s %7.1fx\n", res[si].bytes,
			       res[si].masked, res[si].mask_mbs, res[si].text_mbs, res[si].pcre_mbs,
			       res[si].mask_mbs / res[si].pcre_mbs);
		printf("64 KiB reply latency (CPU time): p50 %.0f us, p99 %.0f us, max %.0f us\n",
		       lat_p50, lat_p99, lat_max);
		printf("64 KiB reply latency (wall clock, load %s): p50 %.0f us, p99 %.0f us\n",
		       loadavg(), wall_p50, wall_p99);
	}
	for (size_t k = 0; k < ARRAY_SIZE(baseline_re); k++)
		pcre2_code_free(re[k]);
	pcre2_match_data_free(md);
	mask_free(m);
	return 0;
}
