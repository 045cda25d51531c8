/* journal_bench.c: the session journal's writer measured on real files.
 *
 *   journal_bench append DIR MODE N [PAYLOAD_FILE...]
 *       N records (payloads taken in turn from the files, else 1 KiB of JSON) in MODE
 *       (strict | best-effort); prints JSON: records/s, MB/s, CPU us per record (both
 *       threads), raw and on-disk bytes, compression ratio.
 *   journal_bench latency DIR N
 *       strict: append one record, wait until it is durable, N times: p50/p99 in us.
 *   journal_bench archive DIR SESSIONS RECORDS
 *       a realistic archive: SESSIONS sessions (10 users, 4 groups, 8 tools, 3 decisions)
 *       with RECORDS records in all, for timing `mcpwarden-replay list`. */
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static struct mw_journal *open_j(const char *dir, enum mw_journal_mode mode)
{
	struct mw_journal_config c;
	struct mw_journal *j;
	char err[256];

	journal_config_parse(NULL, "/nonexistent", &c, NULL);
	snprintf(c.dir, sizeof(c.dir), "%s", dir);
	c.mode = mode;
	c.queue_max = 1ULL << 30;
	c.max_file_size = 64ULL << 20;
	if (journal_open(&c, &j, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "journal_open: %s\n", err);
		exit(1);
	}
	return j;
}

static uint64_t dir_bytes(const char *dir, const char *ext)
{
	char cmd[4200];
	FILE *p;
	unsigned long long n = 0;

	snprintf(cmd, sizeof(cmd), "cat '%s'/*%s 2>/dev/null | wc -c", dir, ext);
	p = popen(cmd, "r");
	if (p && fscanf(p, "%llu", &n) != 1)
		n = 0;
	if (p)
		pclose(p);
	return n;
}

static void wait_durable(struct mw_journal *j, uint64_t t)
{
	while (!journal_durable(j, t))
		usleep(50);
}

static int cmd_append(const char *dir, const char *mode, long n, char **files, int nfiles)
{
	enum mw_journal_mode m = strcmp(mode, "strict") == 0 ? MW_JOURNAL_STRICT : MW_JOURNAL_BEST_EFFORT;
	struct mw_journal *j;
	uint8_t **pl = calloc((size_t)(nfiles ? nfiles : 1), sizeof(*pl));
	size_t *plen = calloc((size_t)(nfiles ? nfiles : 1), sizeof(*plen));
	int np = 0;
	uint64_t raw = 0, t = 0, sid;
	double t0, c0, el, cpu;

	for (int i = 0; i < nfiles; i++) {
		FILE *f = fopen(files[i], "rb");
		struct stat st;

		if (!f || fstat(fileno(f), &st) < 0 || st.st_size <= 0 || st.st_size > (1 << 20)) {
			if (f)
				fclose(f);
			continue;
		}
		pl[np] = malloc((size_t)st.st_size);
		plen[np] = fread(pl[np], 1, (size_t)st.st_size, f);
		fclose(f);
		np++;
	}
	if (!np) {
		static char def[1024];

		for (size_t i = 0; i < sizeof(def); i++)
			def[i] = "{\"jsonrpc\":\"2.0\",\"method\":\"tools/call\",\"params\":{}} "[i % 52];
		pl[0] = (uint8_t *)def;
		plen[0] = sizeof(def);
		np = 1;
	}
	j = open_j(dir, m);
	sid = journal_session_new(j);
	t0 = now_s();
	c0 = cpu_s();
	for (long i = 0; i < n; i++) {
		struct mw_jrec r = { .type = (i & 1) ? MW_JREC_RESPONSE : MW_JREC_REQUEST,
				     .dir = (i & 1) ? MW_JDIR_DOWN : MW_JDIR_UP, .flags = MW_JFLAG_RAW,
				     .session = sid, .seq = (uint64_t)i + 1,
				     .payload = pl[i % np], .payload_len = (uint32_t)plen[i % np] };
		int k;

		while ((k = journal_append(j, &r, &t)) == -ENOBUFS)
			usleep(100);
		if (k < 0)
			return 1;
		raw += plen[i % np];
	}
	wait_durable(j, t);
	el = now_s() - t0;
	cpu = cpu_s() - c0;
	journal_close(j);
	{
		uint64_t disk = dir_bytes(dir, ".mwj");

		printf("{\"mode\":\"%s\",\"records\":%ld,\"seconds\":%.3f,\"records_per_s\":%.0f,"
		       "\"mb_per_s\":%.1f,\"cpu_us_per_record\":%.2f,\"payload_bytes\":%" PRIu64
		       ",\"disk_bytes\":%" PRIu64 ",\"ratio\":%.2f}\n",
		       mode, n, el, (double)n / el, (double)raw / el / 1e6, cpu * 1e6 / (double)n, raw,
		       disk, disk ? (double)raw / (double)disk : 0);
	}
	return 0;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmd_latency(const char *dir, long n)
{
	struct mw_journal *j = open_j(dir, MW_JOURNAL_STRICT);
	double *lat = calloc((size_t)n, sizeof(*lat));
	uint64_t sid = journal_session_new(j), t;
	static const char p[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
				"\"params\":{\"name\":\"echo\",\"arguments\":{\"message\":\"hi\"}}}";

	for (long i = 0; i < n; i++) {
		struct mw_jrec r = { .type = MW_JREC_REQUEST, .session = sid, .seq = (uint64_t)i + 1,
				     .payload = (const uint8_t *)p, .payload_len = sizeof(p) - 1 };
		double t0 = now_s();

		journal_append(j, &r, &t);
		wait_durable(j, t);
		lat[i] = (now_s() - t0) * 1e6;
	}
	journal_close(j);
	qsort(lat, (size_t)n, sizeof(*lat), cmp_d);
	printf("{\"records\":%ld,\"p50_us\":%.0f,\"p99_us\":%.0f,\"max_us\":%.0f}\n", n,
	       lat[n / 2], lat[(size_t)((double)n * 0.99)], lat[n - 1]);
	return 0;
}

static int cmd_archive(const char *dir, long sessions, long records)
{
	static const char *const users[] = { "alice", "bob", "carol", "dave", "erin",
					     "frank", "grace", "heidi", "ivan", "judy" };
	static const char *const tools[] = { "query", "echo", "search", "fetch",
					     "write_file", "read_file", "list", "deploy" };
	static const char *const decisions[] = { "allow", "deny", "review" };
	struct mw_journal *j = open_j(dir, MW_JOURNAL_BEST_EFFORT);
	long per = records / sessions;
	uint64_t t = 0;

	for (long s = 0; s < sessions; s++) {
		uint64_t sid = journal_session_new(j), seq = 0;
		char meta[512], payload[600];
		const char *u = users[s % 10], *tool = tools[(s / 10) % 8];
		struct mw_jrec r = { .session = sid, .flow = (uint64_t)s + 1 };

		r.type = MW_JREC_OPEN;
		r.seq = ++seq;
		snprintf(meta, sizeof(meta),
			 "{\"flow\":\"f%lx\",\"direction\":\"outbound\",\"target\":\"10.0.%ld.%ld:443\","
			 "\"unit\":\"mcp-gateway.service\",\"pid\":%ld,\"uid\":998,\"comm\":\"node\"}",
			 s + 1, (s / 250) % 250, s % 250, 1000 + s % 5000);
		r.meta = meta;
		r.meta_len = (uint32_t)strlen(meta);
		journal_append(j, &r, &t);
		for (long i = 0; i < per - 2; i++) {
			struct mw_jrec q = { .session = sid, .flow = (uint64_t)s + 1, .seq = ++seq };

			if (i % 3 == 0) {
				q.type = MW_JREC_DECISION;
				snprintf(meta, sizeof(meta),
					 "{\"sub\":\"%s\",\"groups\":\"g%ld,staff\",\"method\":"
					 "\"tools/call\",\"tool\":\"%s\",\"decision\":\"%s\",\"rule\":"
					 "\"r%ld\",\"mcp_session\":\"m%ld\"}",
					 u, s % 4, tool, decisions[(s + i) % 3], s % 7, s);
				q.meta = meta;
				q.meta_len = (uint32_t)strlen(meta);
			} else {
				q.type = i % 3 == 1 ? MW_JREC_REQUEST : MW_JREC_RESPONSE;
				snprintf(payload, sizeof(payload),
					 "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"%s\":{\"name\":\"%s\","
					 "\"arguments\":{\"sql\":\"SELECT * FROM accounts WHERE id = %ld\","
					 "\"note\":\"session %ld record %ld\"}}}",
					 i, q.type == MW_JREC_REQUEST ? "params" : "result", tool,
					 s * 31 + i, s, i);
				q.payload = (const uint8_t *)payload;
				q.payload_len = (uint32_t)strlen(payload);
			}
			while (journal_append(j, &q, &t) == -ENOBUFS)
				usleep(200);
		}
		r = (struct mw_jrec){ .type = MW_JREC_CLOSE, .session = sid, .seq = ++seq,
				      .meta = "{\"reason\":\"closed\"}", .meta_len = 19 };
		journal_append(j, &r, &t);
	}
	wait_durable(j, t);
	journal_close(j);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && strcmp(argv[1], "append") == 0)
		return cmd_append(argv[2], argv[3], atol(argv[4]), argv + 5, argc - 5);
	if (argc == 4 && strcmp(argv[1], "latency") == 0)
		return cmd_latency(argv[2], atol(argv[3]));
	if (argc == 5 && strcmp(argv[1], "archive") == 0)
		return cmd_archive(argv[2], atol(argv[3]), atol(argv[4]));
	fprintf(stderr, "usage: journal_bench append DIR MODE N [FILES] | latency DIR N | "
			"archive DIR SESSIONS RECORDS\n");
	return 2;
}
