/* tlsload.c: the client of the TLS benchmark (tests/bench/tls.sh).  Each call is a new TCP
 * connection, a TLS handshake (OpenSSL, the server verified against --ca with the SNI and host
 * name --sni) and one MCP tools/call (HTTP/1.1 POST, a JSON-RPC body), whose reply must be a
 * 200 with a whole Content-Length body carrying "result"; then close_notify and close.
 *
 *   tlsload HOST:PORT --sni NAME --ca FILE [--resume] [--conns C] [--count N | --duration S]
 *           [--warmup W] [--token-file FILE] [--json]
 *
 * --resume: each connection offers the session of the thread's previous one (the newest
 * ticket, as curl and browsers do) and counts whether the server resumed it.  --conns C
 * threads run closed loops (the next call as soon as the previous one ends); --count N calls
 * per thread, or as many as fit in --duration S seconds.  The first W calls of each thread are
 * not counted (the first session, the proxy's minted leaf and upstream session).  Prints the
 * rate (counted calls, so handshakes, per second of the counted window), how many resumed, the
 * errors, and percentiles in microseconds of the handshake (connect() to the handshake's end)
 * and of the whole call (connect() to the reply's last byte), and the client's own CPU time over
 * the run's wall time ("cpu", 1.0 = one core).  Exit status 1 on any error. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define LOAD_CONNS_MAX 64
#define LOAD_CALLS_MAX 1000000 /* recorded calls per thread */
#define LOAD_REPLY_MAX (64 * 1024)
#define LOAD_TOKEN_MAX 4096

struct load_thread {
	pthread_t thread;
	uint64_t *hs, *call; /* latencies in ns, counted calls only */
	size_t n, resumed, errors;
	uint64_t t_first, t_last; /* the counted window: first counted start, last end */
};

static SSL_CTX *load_ctx;
static struct sockaddr_in load_addr;
static const char *load_sni;
static char load_token[LOAD_TOKEN_MAX];
static bool load_resume;
static long load_count = 0, load_warmup = 1;
static double load_duration = 0;
static uint64_t load_deadline;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Read one HTTP/1.1 reply; 0 when it is a 200 whose body carries "result". */
static int load_read_reply(SSL *ssl)
{
	static _Thread_local char buf[LOAD_REPLY_MAX + 1];
	size_t len = 0, hlen = 0, clen = 0;

	for (;;) {
		char *end;
		int r;

		buf[len] = 0;
		if (!hlen && (end = strstr(buf, "\r\n\r\n"))) {
			const char *cl = strcasestr(buf, "\r\ncontent-length:");

			hlen = (size_t)(end - buf) + 4;
			if (!cl || cl > end)
				return -EPROTO;
			clen = strtoul(cl + 17, NULL, 10);
			if (hlen + clen > LOAD_REPLY_MAX)
				return -E2BIG;
		}
		if (hlen && len >= hlen + clen)
			break;
		if (len >= LOAD_REPLY_MAX)
			return -E2BIG;
		r = SSL_read(ssl, buf + len, (int)(LOAD_REPLY_MAX - len));
		if (r <= 0)
			return -EIO;
		len += (size_t)r;
	}
	if (strncmp(buf, "HTTP/1.1 200 ", 13) != 0 || !strstr(buf + hlen, "\"result\""))
		return -EPROTO;
	return 0;
}

/* One call: connect, handshake (offering *sess), tools/call, close.  *sess is replaced by the
 * newest session when resuming. */
static int load_call(SSL_SESSION **sess, long id, uint64_t *ret_hs, bool *ret_resumed)
{
	static const char body_fmt[] = "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":\"tools/call\","
				       "\"params\":{\"name\":\"echo\",\"arguments\":{\"text\":\"hi\"}}}";
	char body[256], req[LOAD_TOKEN_MAX + 1024], auth[LOAD_TOKEN_MAX + 32] = "";
	uint64_t t0 = now_ns();
	int fd, one = 1, n, r = -EIO;
	SSL *ssl = NULL;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&load_addr, sizeof(load_addr)) < 0)
		goto out;
	ssl = SSL_new(load_ctx);
	if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_set_tlsext_host_name(ssl, load_sni) != 1 ||
	    SSL_set1_host(ssl, load_sni) != 1)
		goto out;
	if (load_resume && *sess)
		SSL_set_session(ssl, *sess);
	if (SSL_connect(ssl) != 1)
		goto out;
	*ret_hs = now_ns() - t0;
	*ret_resumed = SSL_session_reused(ssl);
	snprintf(body, sizeof(body), body_fmt, id);
	if (load_token[0])
		snprintf(auth, sizeof(auth), "authorization: Bearer %s\r\n", load_token);
	n = snprintf(req, sizeof(req),
		     "POST /mcp HTTP/1.1\r\nhost: %s\r\ncontent-type: application/json\r\n"
		     "accept: application/json, text/event-stream\r\n%scontent-length: %zu\r\n\r\n%s",
		     load_sni, auth, strlen(body), body);
	if (n < 0 || (size_t)n >= sizeof(req) || SSL_write(ssl, req, n) != n)
		goto out;
	r = load_read_reply(ssl);
	if (r == 0 && load_resume) {
		SSL_SESSION *s = SSL_get1_session(ssl); /* TLS 1.3: the tickets came before the reply */

		if (s && SSL_SESSION_is_resumable(s)) {
			SSL_SESSION_free(*sess);
			*sess = s;
		} else {
			SSL_SESSION_free(s);
		}
	}
	SSL_shutdown(ssl);
out:
	SSL_free(ssl);
	close(fd);
	ERR_clear_error();
	return r;
}

static void *load_thread_run(void *arg)
{
	struct load_thread *t = arg;
	SSL_SESSION *sess = NULL;

	for (long i = 0;; i++) {
		uint64_t start = now_ns(), hs = 0;
		bool resumed = false, counted = i >= load_warmup;
		int r;

		if (load_count ? i >= load_count + load_warmup
			       : counted && start >= load_deadline)
			break;
		if (counted && !t->t_first)
			t->t_first = start;
		r = load_call(&sess, i + 1, &hs, &resumed);
		if (!counted)
			continue;
		t->t_last = now_ns();
		if (r < 0) {
			t->errors++;
			continue;
		}
		if (t->n < LOAD_CALLS_MAX) {
			t->hs[t->n] = hs;
			t->call[t->n] = t->t_last - start;
			t->n++;
		}
		t->resumed += resumed;
	}
	SSL_SESSION_free(sess);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct_us(const uint64_t *v, size_t n, double q)
{
	size_t i;

	if (!n)
		return 0;
	i = (size_t)(q * (double)(n - 1) + 0.5);
	return (double)v[i] / 1000.0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sni", required_argument, NULL, 's' },
		{ "ca", required_argument, NULL, 'a' },
		{ "resume", no_argument, NULL, 'r' },
		{ "conns", required_argument, NULL, 'c' },
		{ "count", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "token-file", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{},
	};
	static struct load_thread th[LOAD_CONNS_MAX];
	const char *ca = NULL, *token_file = NULL;
	char host[64];
	const char *colon;
	uint64_t *hs, *call, first = 0, last = 0;
	size_t n = 0, resumed = 0, errors = 0, cap;
	int conns = 1, o;
	bool json = false;
	double secs, rate, cpu, wall;
	struct rusage ru;
	uint64_t t_start = now_ns();

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			load_sni = optarg;
			break;
		case 'a':
			ca = optarg;
			break;
		case 'r':
			load_resume = true;
			break;
		case 'c':
			conns = atoi(optarg);
			break;
		case 'n':
			load_count = atol(optarg);
			break;
		case 'd':
			load_duration = atof(optarg);
			break;
		case 'w':
			load_warmup = atol(optarg);
			break;
		case 't':
			token_file = optarg;
			break;
		case 'j':
			json = true;
			break;
		default: return 2;
		}
	}
	colon = optind == argc - 1 ? strrchr(argv[optind], ':') : NULL;
	if (!colon || !load_sni || !ca || conns < 1 || conns > LOAD_CONNS_MAX ||
	    (load_count <= 0) == (load_duration <= 0) || load_count > LOAD_CALLS_MAX ||
	    load_warmup < 0 || (size_t)(colon - argv[optind]) >= sizeof(host)) {
		fprintf(stderr, "usage: tlsload HOST:PORT --sni NAME --ca FILE [--resume] [--conns C] "
				"(--count N | --duration S) [--warmup W] [--token-file FILE] [--json]\n");
		return 2;
	}
	memcpy(host, argv[optind], (size_t)(colon - argv[optind]));
	host[colon - argv[optind]] = 0;
	load_addr.sin_family = AF_INET;
	load_addr.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &load_addr.sin_addr) != 1) {
		fprintf(stderr, "tlsload: %s: not an IPv4 address\n", host);
		return 2;
	}
	if (token_file) {
		FILE *f = fopen(token_file, "re");

		if (!f || !fgets(load_token, sizeof(load_token), f)) {
			fprintf(stderr, "tlsload: cannot read %s\n", token_file);
			return 1;
		}
		fclose(f);
		load_token[strcspn(load_token, "\r\n")] = 0;
	}
	signal(SIGPIPE, SIG_IGN);
	load_ctx = SSL_CTX_new(TLS_client_method());
	if (!load_ctx || SSL_CTX_load_verify_locations(load_ctx, ca, NULL) != 1) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	SSL_CTX_set_min_proto_version(load_ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(load_ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_alpn_protos(load_ctx, (const unsigned char *)"\x08http/1.1", 9);
	cap = load_count ? (size_t)load_count : LOAD_CALLS_MAX;
	if (load_count && cap > LOAD_CALLS_MAX)
		cap = LOAD_CALLS_MAX;
	load_deadline = now_ns() + (uint64_t)(load_duration * 1e9);
	for (int i = 0; i < conns; i++) {
		th[i].hs = calloc(cap, sizeof(uint64_t));
		th[i].call = calloc(cap, sizeof(uint64_t));
		if (!th[i].hs || !th[i].call ||
		    pthread_create(&th[i].thread, NULL, load_thread_run, &th[i]) != 0)
			return 1;
	}
	for (int i = 0; i < conns; i++) {
		pthread_join(th[i].thread, NULL);
		n += th[i].n;
		resumed += th[i].resumed;
		errors += th[i].errors;
		if (th[i].t_first && (!first || th[i].t_first < first))
			first = th[i].t_first;
		if (th[i].t_last > last)
			last = th[i].t_last;
	}
	wall = (double)(now_ns() - t_start) / 1e9;
	getrusage(RUSAGE_SELF, &ru);
	cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	      (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	cpu = wall > 0 ? cpu / wall : 0;
	hs = calloc(n ? n : 1, sizeof(uint64_t));
	call = calloc(n ? n : 1, sizeof(uint64_t));
	if (!hs || !call)
		return 1;
	for (int i = 0, k = 0; i < conns; i++)
		for (size_t j = 0; j < th[i].n; j++, k++) {
			hs[k] = th[i].hs[j];
			call[k] = th[i].call[j];
		}
	qsort(hs, n, sizeof(uint64_t), cmp_u64);
	qsort(call, n, sizeof(uint64_t), cmp_u64);
	secs = last > first ? (double)(last - first) / 1e9 : 0;
	rate = secs > 0 ? (double)n / secs : 0;
	if (json)
		printf("{\"calls\": %zu, \"errors\": %zu, \"resumed\": %zu, \"conns\": %d, "
		       "\"seconds\": %.3f, \"rate\": %.1f, \"cpu\": %.3f, "
		       "\"hs_p50_us\": %.1f, \"hs_p90_us\": %.1f, \"hs_p99_us\": %.1f, "
		       "\"p50_us\": %.1f, \"p90_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f}\n",
		       n, errors, resumed, conns, secs, rate, cpu, pct_us(hs, n, 0.5),
		       pct_us(hs, n, 0.9), pct_us(hs, n, 0.99), pct_us(call, n, 0.5),
		       pct_us(call, n, 0.9), pct_us(call, n, 0.99),
		       n ? (double)call[n - 1] / 1000.0 : 0);
	else
		printf("%zu calls (%zu resumed, %zu errors) in %.2f s on %d connections: %.1f/s; "
		       "handshake p50 %.0f p90 %.0f p99 %.0f us; call p50 %.0f p90 %.0f p99 %.0f us\n",
		       n, resumed, errors, secs, conns, rate, pct_us(hs, n, 0.5), pct_us(hs, n, 0.9),
		       pct_us(hs, n, 0.99), pct_us(call, n, 0.5), pct_us(call, n, 0.9),
		       pct_us(call, n, 0.99));
	return errors ? 1 : 0;
}
