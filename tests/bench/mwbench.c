/* mwbench.c: the TCP benchmark `make bench` runs to compare a direct connection, one relayed by
 * mcpwardend and one with the sockmap bypass.  One binary is both ends: `serve` answers each
 * connection according to the 16-byte header the client sends first (echo, count or send bytes);
 * `pingpong`, `bulk` and `download` measure latency and throughput against it.  Every client loop
 * is bounded by a count and the whole client run by a BENCH_ALARM_SEC alarm. */
#include "util.h"
#include "bench_stats.h"

#include <arpa/inet.h>
#include <endian.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>

#define BENCH_MAGIC 0x4d574231u /* "MWB1" */
#define BENCH_BUF_SIZE (256u * 1024u)
#define BENCH_MAX_MSG (16u << 20)
#define BENCH_MAX_COUNT 10000000ULL
#define BENCH_DEFAULT_WARMUP 100ULL
#define BENCH_DEFAULT_CONNECT_USEC (5ULL * 1000000ULL)
#define BENCH_ALARM_SEC 120
/* Longer than any client run, so the server only gives up on peers that vanished. */
#define BENCH_SERVE_IDLE_SEC (BENCH_ALARM_SEC + 10)
#define BENCH_MAX_CONNS 1024
#define BENCH_BACKLOG 1024
#define BENCH_THREAD_STACK (256u * 1024u)

#define STR_(x) #x
#define STR(x) STR_(x)

enum bench_mode {
	BENCH_PINGPONG = 1,
	BENCH_SINK = 2,
	BENCH_SOURCE = 3,
};

/* On the wire in network byte order.  PINGPONG: arg is the message size; SINK: arg unused;
 * SOURCE: arg is the number of bytes the server sends before closing. */
struct bench_hdr {
	uint32_t magic;
	uint32_t mode;
	uint64_t arg;
};
_Static_assert(sizeof(struct bench_hdr) == 16, "bench header is 16 bytes on the wire");

enum bench_cmd {
	CMD_SERVE,
	CMD_PINGPONG,
	CMD_BULK,
	CMD_DOWNLOAD,
};

struct bench_args {
	enum bench_cmd cmd;
	const char *cmd_name;
	const char *addr;
	struct sockaddr_storage sa;
	socklen_t sa_len;
	uint64_t size;
	uint64_t count;
	uint64_t warmup;
	uint64_t bytes;
	uint64_t connect_usec;
	bool json;
};

struct bench_stats {
	uint64_t min, max, p50, p90, p99, p999;
	double mean;
};

static atomic_int serve_nconns;

static void log_va(int err, const char *fmt, va_list ap) _printf_(2, 0);
static void log_va(int err, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (err < 0) {
		errno = -err;
		fprintf(stderr, "mwbench: %s: %m\n", msg);
	} else {
		fprintf(stderr, "mwbench: %s\n", msg);
	}
}

/* "mwbench: <message>: <strerror(-err)>"; returns err. */
static int log_errno(int err, const char *fmt, ...) _printf_(2, 3);
static int log_errno(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_va(err, fmt, ap);
	va_end(ap);
	return err;
}

/* "mwbench: <message>" for failures errno does not describe; returns err. */
static int log_fail(int err, const char *fmt, ...) _printf_(2, 3);
static int log_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_va(0, fmt, ap);
	va_end(ap);
	return err;
}

static void bench_on_alarm(_unused_ int sig)
{
	static const char msg[] = "mwbench: gave up after " STR(BENCH_ALARM_SEC) " s\n";
	ssize_t n;

	n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)n;
	_exit(EXIT_FAILURE);
}

static uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Returns the bytes read, fewer than len only at EOF, or -errno. */
static ssize_t bench_read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = recv(fd, (char *)buf + done, len - done, 0);

		if (n < 0) {
			struct pollfd p = { .fd = fd, .events = POLLIN };

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			/* A sockmapped socket (the bypass) can return EAGAIN from a blocking
			 * recv when woken without data (tcp_bpf_recvmsg); wait and retry, and
			 * call it a timeout only when nothing comes within the idle limit. */
			if (poll(&p, 1, BENCH_SERVE_IDLE_SEC * 1000) <= 0)
				return -ETIMEDOUT;
			continue;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int bench_write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(fd, (const char *)buf + done, len - done, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

/* "127.0.0.1:9000" or "[::1]:9000" (a scope such as "[fe80::1%eth0]:9000" is allowed); numeric
 * only, so a benchmark never waits on a resolver. */
static int bench_parse_addr(const char *s, struct sockaddr_storage *ret_sa, socklen_t *ret_len)
{
	struct addrinfo hints = {
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
		.ai_socktype = SOCK_STREAM,
	};
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 1];
	struct addrinfo *ai = NULL;
	const char *port;
	size_t n;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		n = (size_t)(end - s - 1);
		s++;
		port = end + 2;
		hints.ai_family = AF_INET6;
	} else {
		const char *colon = strchr(s, ':');

		/* A second colon means an unbracketed IPv6 address. */
		if (!colon || strchr(colon + 1, ':'))
			return -EINVAL;
		n = (size_t)(colon - s);
		port = colon + 1;
		hints.ai_family = AF_INET;
	}
	if (n == 0 || n >= sizeof(host) || !*port)
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai)
		return -EINVAL;
	if (ai->ai_addrlen > sizeof(*ret_sa)) {
		freeaddrinfo(ai);
		return -EINVAL;
	}
	memcpy(ret_sa, ai->ai_addr, ai->ai_addrlen);
	*ret_len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static int bench_parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -errno;
	if (*end)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* ---- server -------------------------------------------------------------------------------- */

static int serve_pingpong(int fd, uint64_t size)
{
	_cleanup_free_ char *buf = NULL;

	if (size == 0 || size > BENCH_MAX_MSG)
		return -EMSGSIZE;
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = bench_read_full(fd, buf, size);
		int r;

		if (n == 0)
			return 0;
		if (n < 0)
			return (int)n;
		if ((uint64_t)n < size)
			return -EPROTO; /* EOF in the middle of a message */
		r = bench_write_full(fd, buf, size);
		if (r < 0)
			return r;
	}
}

static int serve_sink(int fd)
{
	_cleanup_free_ char *buf = malloc(BENCH_BUF_SIZE);
	uint64_t total = 0, be;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = recv(fd, buf, BENCH_BUF_SIZE, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
	}
	be = htobe64(total);
	return bench_write_full(fd, &be, sizeof(be));
}

static int serve_source(int fd, uint64_t bytes)
{
	_cleanup_free_ char *buf = malloc(BENCH_BUF_SIZE);

	if (!buf)
		return -ENOMEM;
	memset(buf, 0x5a, BENCH_BUF_SIZE);
	while (bytes > 0) {
		size_t chunk = bytes < BENCH_BUF_SIZE ? (size_t)bytes : BENCH_BUF_SIZE;
		int r = bench_write_full(fd, buf, chunk);

		if (r < 0)
			return r;
		bytes -= chunk;
	}
	return 0;
}

static int serve_conn_run(int fd)
{
	struct bench_hdr h;
	ssize_t n;

	n = bench_read_full(fd, &h, sizeof(h));
	if (n == 0)
		return 0; /* a bare connect, e.g. a readiness probe */
	if (n < 0)
		return (int)n;
	if ((size_t)n < sizeof(h) || ntohl(h.magic) != BENCH_MAGIC)
		return -EBADMSG;
	switch (ntohl(h.mode)) {
	case BENCH_PINGPONG:
		return serve_pingpong(fd, be64toh(h.arg));
	case BENCH_SINK:
		return serve_sink(fd);
	case BENCH_SOURCE:
		return serve_source(fd, be64toh(h.arg));
	default:
		return -EBADMSG;
	}
}

static void *serve_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	int r;

	r = serve_conn_run(fd);
	if (r < 0 && r != -ECONNRESET && r != -EPIPE)
		log_errno(r, "serve: connection, closing");
	close(fd);
	atomic_fetch_sub(&serve_nconns, 1);
	return NULL;
}

static void serve_conn_setup(int fd)
{
	struct timeval tv = { .tv_sec = BENCH_SERVE_IDLE_SEC };
	int one = 1;

	/* Best effort: without these the echo is slower, not wrong. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int cmd_serve(const struct bench_args *a)
{
	_cleanup_close_ int lfd = -1, sfd = -1;
	pthread_attr_t attr;
	sigset_t mask;
	int one = 1, r;

	/* Blocked before any thread exists, so only the signalfd sees SIGINT/SIGTERM. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	r = -pthread_sigmask(SIG_BLOCK, &mask, NULL);
	if (r < 0)
		return log_errno(r, "serve: pthread_sigmask");
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0)
		return log_errno(-errno, "serve: signalfd");

	lfd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (lfd < 0)
		return log_errno(-errno, "serve: socket");
	if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		return log_errno(-errno, "serve: SO_REUSEADDR");
	if (bind(lfd, (const struct sockaddr *)&a->sa, a->sa_len) < 0)
		return log_errno(-errno, "bind %s", a->addr);
	if (listen(lfd, BENCH_BACKLOG) < 0)
		return log_errno(-errno, "listen %s", a->addr);

	r = -pthread_attr_init(&attr);
	if (r < 0)
		return log_errno(r, "serve: pthread_attr_init");
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, BENCH_THREAD_STACK);

	printf("ready\n");
	fflush(stdout);

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = lfd, .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
		};
		pthread_t tid;
		int fd;

		if (poll(pfd, ARRAY_SIZE(pfd), -1) < 0) {
			if (errno == EINTR)
				continue;
			r = log_errno(-errno, "serve: poll");
			break;
		}
		if (pfd[1].revents) {
			r = 0;
			break;
		}
		if (!pfd[0].revents)
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				log_errno(-errno, "serve: accept, backing off");
				usleep(10000);
			}
			continue; /* EINTR, ECONNABORTED and friends: the next poll decides */
		}
		if (atomic_fetch_add(&serve_nconns, 1) >= BENCH_MAX_CONNS) {
			atomic_fetch_sub(&serve_nconns, 1);
			log_fail(0, "serve: more than %d connections, closing the new one",
				 BENCH_MAX_CONNS);
			close(fd);
			continue;
		}
		serve_conn_setup(fd);
		r = -pthread_create(&tid, &attr, serve_conn, (void *)(intptr_t)fd);
		if (r < 0) {
			log_errno(r, "serve: pthread_create, closing the connection");
			atomic_fetch_sub(&serve_nconns, 1);
			close(fd);
		}
	}
	pthread_attr_destroy(&attr);
	return r;
}

/* ---- clients ------------------------------------------------------------------------------- */

static int client_connect(const struct bench_args *a, int *ret_fd)
{
	_cleanup_close_ int fd = -1;
	int flags;

	fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&a->sa, a->sa_len) < 0) {
		uint64_t deadline = bench_now_ns() + a->connect_usec * 1000ULL;
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		socklen_t len = sizeof(int);
		int err = 0;

		if (errno != EINPROGRESS)
			return -errno;
		for (;;) {
			uint64_t now = bench_now_ns();
			int r;

			if (now >= deadline)
				return -ETIMEDOUT;
			r = poll(&pfd, 1, (int)((deadline - now + 999999ULL) / 1000000ULL));
			if (r > 0)
				break;
			if (r < 0 && errno != EINTR)
				return -errno;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			return -errno;
		if (err)
			return -err;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
		return -errno;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* Connects and sends the header; logs its own failures. */
static int client_open(const struct bench_args *a, enum bench_mode mode, uint64_t arg,
		       int *ret_fd)
{
	_cleanup_close_ int fd = -1;
	struct bench_hdr h = {
		.magic = htonl(BENCH_MAGIC),
		.mode = htonl(mode),
		.arg = htobe64(arg),
	};
	int one = 1, r;

	r = client_connect(a, &fd);
	if (r < 0)
		return log_errno(r, "connect %s", a->addr);
	if (mode == BENCH_PINGPONG &&
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		return log_errno(-errno, "%s %s: TCP_NODELAY", a->cmd_name, a->addr);
	r = bench_write_full(fd, &h, sizeof(h));
	if (r < 0)
		return log_errno(r, "%s %s: send header", a->cmd_name, a->addr);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static void stats_compute(uint64_t *samples, size_t n, struct bench_stats *ret)
{
	uint64_t sum = 0;

	bench_sort_u64(samples, n);
	for (size_t i = 0; i < n; i++)
		sum += samples[i];
	*ret = (struct bench_stats){
		.min = samples[0],
		.max = samples[n - 1],
		.p50 = bench_rank(samples, n, 500),
		.p90 = bench_rank(samples, n, 900),
		.p99 = bench_rank(samples, n, 990),
		.p999 = bench_rank(samples, n, 999),
		.mean = (double)sum / (double)n,
	};
}

static double ns_to_us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

static int cmd_pingpong(const struct bench_args *a)
{
	_cleanup_free_ uint64_t *samples = NULL;
	_cleanup_free_ char *wbuf = NULL, *rbuf = NULL;
	_cleanup_close_ int fd = -1;
	uint64_t total = a->warmup + a->count;
	struct bench_stats st;
	int r;

	samples = calloc(a->count, sizeof(*samples));
	wbuf = malloc(a->size);
	rbuf = malloc(a->size);
	if (!samples || !wbuf || !rbuf)
		return log_errno(-ENOMEM, "pingpong: allocating %" PRIu64 " samples", a->count);
	memset(wbuf, 'x', a->size);

	r = client_open(a, BENCH_PINGPONG, a->size, &fd);
	if (r < 0)
		return r;

	for (uint64_t i = 0; i < total; i++) {
		uint64_t t0, t1;
		ssize_t n;

		/* Vary the ends of each message so a stale or misrouted echo is caught. */
		wbuf[0] = (char)i;
		wbuf[a->size - 1] = (char)~i;
		t0 = bench_now_ns();
		r = bench_write_full(fd, wbuf, a->size);
		if (r < 0)
			return log_errno(r, "pingpong %s: send, round trip %" PRIu64, a->addr, i);
		n = bench_read_full(fd, rbuf, a->size);
		t1 = bench_now_ns();
		if (n < 0)
			return log_errno((int)n, "pingpong %s: recv, round trip %" PRIu64, a->addr,
					 i);
		if ((uint64_t)n < a->size)
			return log_fail(-EPROTO, "pingpong %s: server closed, round trip %" PRIu64,
					a->addr, i);
		if (memcmp(wbuf, rbuf, a->size) != 0)
			return log_fail(-EPROTO, "pingpong %s: wrong echo, round trip %" PRIu64,
					a->addr, i);
		if (i >= a->warmup)
			samples[i - a->warmup] = t1 - t0;
	}

	stats_compute(samples, a->count, &st);
	if (a->json) {
		printf("{\"mode\":\"pingpong\",\"size\":%" PRIu64 ",\"count\":%" PRIu64
		       ",\"p50_us\":%.3f,\"p90_us\":%.3f,\"p99_us\":%.3f,\"p999_us\":%.3f"
		       ",\"mean_us\":%.3f,\"min_us\":%.3f,\"max_us\":%.3f}\n",
		       a->size, a->count, ns_to_us(st.p50), ns_to_us(st.p90), ns_to_us(st.p99),
		       ns_to_us(st.p999), st.mean / 1000.0, ns_to_us(st.min), ns_to_us(st.max));
	} else {
		printf("pingpong %s: %" PRIu64 " round trips of %" PRIu64 " bytes (%" PRIu64
		       " warmup)\n",
		       a->addr, a->count, a->size, a->warmup);
		printf("  %-6s %12s\n", "", "us");
		printf("  %-6s %12.3f\n", "min", ns_to_us(st.min));
		printf("  %-6s %12.3f\n", "p50", ns_to_us(st.p50));
		printf("  %-6s %12.3f\n", "p90", ns_to_us(st.p90));
		printf("  %-6s %12.3f\n", "p99", ns_to_us(st.p99));
		printf("  %-6s %12.3f\n", "p99.9", ns_to_us(st.p999));
		printf("  %-6s %12.3f\n", "mean", st.mean / 1000.0);
		printf("  %-6s %12.3f\n", "max", ns_to_us(st.max));
	}
	return 0;
}

static void print_throughput(const struct bench_args *a, uint64_t bytes, uint64_t ns)
{
	double secs = (double)(ns ? ns : 1) / 1e9;
	double mbps = (double)bytes / secs / 1e6;

	if (a->json)
		printf("{\"mode\":\"%s\",\"bytes\":%" PRIu64 ",\"seconds\":%.6f,\"mbps\":%.1f}\n",
		       a->cmd_name, bytes, secs, mbps);
	else
		printf("%s %s: %" PRIu64 " bytes in %.3f s: %.1f MB/s, %.2f Gbit/s\n", a->cmd_name,
		       a->addr, bytes, secs, mbps, mbps * 8.0 / 1000.0);
}

static int cmd_bulk(const struct bench_args *a)
{
	_cleanup_free_ char *buf = malloc(BENCH_BUF_SIZE);
	_cleanup_close_ int fd = -1;
	uint64_t left = a->bytes, t0, t1, count;
	ssize_t n;
	int r;

	if (!buf)
		return log_errno(-ENOMEM, "bulk: allocating the buffer");
	memset(buf, 0xa5, BENCH_BUF_SIZE);

	r = client_open(a, BENCH_SINK, 0, &fd);
	if (r < 0)
		return r;
	t0 = bench_now_ns(); /* throughput, not connect time */
	while (left > 0) {
		size_t chunk = left < BENCH_BUF_SIZE ? (size_t)left : BENCH_BUF_SIZE;

		r = bench_write_full(fd, buf, chunk);
		if (r < 0)
			return log_errno(r, "bulk %s: send after %" PRIu64 " bytes", a->addr,
					 a->bytes - left);
		left -= chunk;
	}
	if (shutdown(fd, SHUT_WR) < 0)
		return log_errno(-errno, "bulk %s: shutdown", a->addr);
	n = bench_read_full(fd, &count, sizeof(count));
	t1 = bench_now_ns();
	if (n < 0)
		return log_errno((int)n, "bulk %s: reading the server's count", a->addr);
	if ((size_t)n < sizeof(count))
		return log_fail(-EPROTO, "bulk %s: connection closed before the server's count",
				a->addr);
	count = be64toh(count);
	if (count != a->bytes)
		return log_fail(-EPROTO, "bulk %s: server counted %" PRIu64 " bytes, sent %" PRIu64,
				a->addr, count, a->bytes);
	print_throughput(a, a->bytes, t1 - t0);
	return 0;
}

static int cmd_download(const struct bench_args *a)
{
	_cleanup_free_ char *buf = malloc(BENCH_BUF_SIZE);
	_cleanup_close_ int fd = -1;
	uint64_t total = 0, t0, t1;
	int r;

	if (!buf)
		return log_errno(-ENOMEM, "download: allocating the buffer");
	r = client_open(a, BENCH_SOURCE, a->bytes, &fd);
	if (r < 0)
		return r;
	t0 = bench_now_ns();
	/* Ends at EOF, on an error, or as soon as the server sends more than asked. */
	while (total <= a->bytes) {
		ssize_t n = recv(fd, buf, BENCH_BUF_SIZE, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return log_errno(-errno, "download %s: recv after %" PRIu64 " bytes",
					 a->addr, total);
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
	}
	t1 = bench_now_ns();
	if (total != a->bytes)
		return log_fail(-EPROTO, "download %s: got %s%" PRIu64 " bytes, expected %" PRIu64,
				a->addr, total > a->bytes ? "at least " : "", total, a->bytes);
	print_throughput(a, total, t1 - t0);
	return 0;
}

/* ---- command line -------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("Usage: mwbench serve ADDR:PORT\n"
	      "       mwbench pingpong ADDR:PORT --size N --count C [--warmup W] [--json]\n"
	      "       mwbench bulk ADDR:PORT --bytes B [--json]\n"
	      "       mwbench download ADDR:PORT --bytes B [--json]\n"
	      "\n"
	      "TCP benchmark comparing a direct connection, one relayed by mcpwardend and one\n"
	      "with the sockmap bypass. ADDR:PORT is numeric IPv4 (127.0.0.1:9000) or\n"
	      "bracketed IPv6 ([::1]:9000).\n"
	      "\n"
	      "Modes:\n"
	      "  serve     accept connections and answer each as its header asks: echo for\n"
	      "            pingpong, count for bulk, send for download. Prints \"ready\" once\n"
	      "            listening; runs until SIGINT or SIGTERM.\n"
	      "  pingpong  C round trips of N-byte messages on one TCP_NODELAY connection;\n"
	      "            prints min, p50, p90, p99, p99.9, mean and max in microseconds.\n"
	      "  bulk      send B bytes, half-close, check the server counted B; prints\n"
	      "            throughput in MB/s (10^6 bytes) and Gbit/s.\n"
	      "  download  receive B bytes from the server; prints throughput.\n"
	      "\n"
	      "Options:\n"
	      "  -s, --size N             message size, 1 to 16MiB (suffixes k, M: binary)\n"
	      "  -c, --count C            measured round trips, 1 to 10000000\n"
	      "  -w, --warmup W           unmeasured round trips first (default 100)\n"
	      "  -b, --bytes B            bytes to transfer, e.g. 1073741824 or 1G\n"
	      "  -t, --connect-timeout T  connect timeout, e.g. 5, 500ms, 2s (default 5s)\n"
	      "  -j, --json               print one JSON object instead of a table\n"
	      "  -h, --help               show this help\n"
	      "\n"
	      "Every client run ends within " STR(BENCH_ALARM_SEC) " s.\n"
	      "Exit status: 0 success, 1 failure, 2 usage error.\n",
	      f);
}

static int usage_error(const char *fmt, ...) _printf_(1, 2);
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("mwbench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'mwbench --help'.\n", stderr);
	return 2;
}

static const char *parse_option_name(const struct option *opts, int c)
{
	for (; opts->name; opts++)
		if (opts->val == c)
			return opts->name;
	return "?";
}

/* Returns 0 to run, 1 when help was printed, or 2 on a usage error (already reported). */
static int parse_args(int argc, char **argv, struct bench_args *a)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'c' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "bytes", required_argument, NULL, 'b' },
		{ "connect-timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	static const struct {
		const char *name;
		enum bench_cmd cmd;
		const char *allowed; /* short options this mode accepts */
	} cmds[] = {
		{ "serve", CMD_SERVE, "h" },
		{ "pingpong", CMD_PINGPONG, "scwtjh" },
		{ "bulk", CMD_BULK, "btjh" },
		{ "download", CMD_DOWNLOAD, "btjh" },
	};
	bool have_size = false, have_count = false, have_bytes = false;
	const char *allowed = NULL;
	int c, r;

	if (argc < 2)
		return usage_error("missing mode");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		if (strcmp(argv[1], cmds[i].name) == 0) {
			a->cmd = cmds[i].cmd;
			a->cmd_name = cmds[i].name;
			allowed = cmds[i].allowed;
		}
	if (!allowed)
		return usage_error("unknown mode '%s'", argv[1]);

	a->warmup = BENCH_DEFAULT_WARMUP;
	a->connect_usec = BENCH_DEFAULT_CONNECT_USEC;
	opterr = 0;
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, ":s:c:w:b:t:jh", opts, NULL)) != -1) {
		if (c == '?')
			return usage_error("unrecognized option '%s'", argv[optind - 1]);
		if (c == ':')
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		if (!strchr(allowed, c))
			return usage_error("option '--%s' does not apply to %s",
					   parse_option_name(opts, c), a->cmd_name);
		switch (c) {
		case 's':
			r = mw_parse_size(optarg, &a->size);
			if (r < 0 || a->size == 0 || a->size > BENCH_MAX_MSG)
				return usage_error("--size '%s': expected 1 to %u bytes", optarg,
						   BENCH_MAX_MSG);
			have_size = true;
			break;
		case 'c':
			r = bench_parse_u64(optarg, &a->count);
			if (r < 0 || a->count == 0 || a->count > BENCH_MAX_COUNT)
				return usage_error("--count '%s': expected 1 to %llu", optarg,
						   BENCH_MAX_COUNT);
			have_count = true;
			break;
		case 'w':
			r = bench_parse_u64(optarg, &a->warmup);
			if (r < 0 || a->warmup > BENCH_MAX_COUNT)
				return usage_error("--warmup '%s': expected 0 to %llu", optarg,
						   BENCH_MAX_COUNT);
			break;
		case 'b':
			r = mw_parse_size(optarg, &a->bytes);
			if (r < 0 || a->bytes == 0)
				return usage_error("--bytes '%s': expected a positive size",
						   optarg);
			have_bytes = true;
			break;
		case 't':
			r = mw_parse_duration(optarg, &a->connect_usec);
			if (r < 0 || a->connect_usec < 1000 ||
			    a->connect_usec > BENCH_ALARM_SEC * 1000000ULL)
				return usage_error("--connect-timeout '%s': expected 1ms to %d s",
						   optarg, BENCH_ALARM_SEC);
			break;
		case 'j':
			a->json = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		}
	}
	if (optind >= argc)
		return usage_error("%s: missing ADDR:PORT", a->cmd_name);
	if (optind + 1 < argc)
		return usage_error("%s: unexpected argument '%s'", a->cmd_name, argv[optind + 1]);
	a->addr = argv[optind];
	if (bench_parse_addr(a->addr, &a->sa, &a->sa_len) < 0)
		return usage_error("invalid address '%s': expected IPv4:PORT or [IPv6]:PORT",
				   a->addr);
	if (a->cmd == CMD_PINGPONG && (!have_size || !have_count))
		return usage_error("pingpong needs --size and --count");
	if ((a->cmd == CMD_BULK || a->cmd == CMD_DOWNLOAD) && !have_bytes)
		return usage_error("%s needs --bytes", a->cmd_name);
	return 0;
}

int main(int argc, char **argv)
{
	struct bench_args a = {};
	struct sigaction sa = { .sa_handler = SIG_IGN };
	int r;

	r = parse_args(argc, argv, &a);
	if (r == 1)
		return 0;
	if (r != 0)
		return 2;

	/* Every write uses MSG_NOSIGNAL; this also covers anything that does not. */
	sigaction(SIGPIPE, &sa, NULL);

	if (a.cmd == CMD_SERVE)
		return cmd_serve(&a) < 0 ? 1 : 0;

	sa.sa_handler = bench_on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	alarm(BENCH_ALARM_SEC);

	switch (a.cmd) {
	case CMD_PINGPONG:
		r = cmd_pingpong(&a);
		break;
	case CMD_BULK:
		r = cmd_bulk(&a);
		break;
	case CMD_DOWNLOAD:
		r = cmd_download(&a);
		break;
	default:
		r = -EINVAL;
		break;
	}
	if (fflush(stdout) != 0)
		return 1;
	return r < 0 ? 1 : 0;
}
