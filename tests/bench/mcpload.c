/* mcpload.c: the load generator of the checkpoint benchmark (tests/bench/mcp.sh).  One thread,
 * epoll, N keep-alive HTTP/1.1 connections sending MCP tools/call requests (a JSON-RPC body of
 * exactly --size bytes, an "Authorization: Bearer" header) and checking every reply: status
 * 200, a whole Content-Length body carrying "result" and the request's id.
 *
 *   mcpload open   HOST:PORT --rate R [--conns N] [--duration S] [--warmup S] ...
 *   mcpload closed HOST:PORT [--conns N] [--duration S] [--warmup S] ...
 *       common: --token-file FILE  --size BYTES (1024)  --tool NAME (echo)  --json
 *
 * open: open loop at a fixed rate.  Each connection has its own schedule (R/N per second,
 * the connections' schedules staggered evenly); a request is due at its intended time and
 * sent then if its connection is free, or as soon as the previous reply is in.  Latency is
 * counted from the intended time, so a stall shows as the latency of every request it
 * delayed (no coordinated omission).  closed: every connection sends its next request as
 * soon as the reply is in; the result is the throughput.  Requests due (open) or sent
 * (closed) during the warm-up are not counted.  Prints the achieved rate (good replies to
 * counted requests per second of the counted window), the errors (bad replies, connections
 * lost with a request out, and requests due but unanswered LOAD_DRAIN_NS after the end) and
 * p50/p90/p99/p99.9/max in microseconds.  Exit status 1 when there was any error. */
#include "util.h"
#include "bench_http.h"
#include "bench_stats.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>

#define LOAD_MAX_CONNS 1024
#define LOAD_MAX_RATE 1000000.0
#define LOAD_MAX_DURATION_SEC 600.0
#define LOAD_MIN_SIZE 128
#define LOAD_MAX_SIZE (1u << 20)
#define LOAD_MAX_TOKEN 16384
#define LOAD_MAX_REPLY_HEAD 16384
#define LOAD_MAX_REPLY_BODY (4u << 20)
#define LOAD_DRAIN_NS 2000000000ULL /* after the run, how long replies are waited for */
#define LOAD_MAX_EVENTS 64
#define LOAD_NS 1000000000ULL

enum load_mode { LOAD_OPEN, LOAD_CLOSED };

struct load_conn {
	int fd;
	bool busy;	      /* a request is out, its reply not whole yet */
	uint64_t id;	      /* of the request out */
	uint64_t intended_ns; /* open: when it was due; closed: when it was sent */
	uint64_t next_due_ns; /* open: when the next request is due */
	char *out;
	size_t out_len, out_off;
	char *in;
	size_t in_len, in_cap;
};

struct load_args {
	enum load_mode mode;
	struct sockaddr_in sa;
	const char *addr;
	double rate, duration, warmup;
	unsigned conns;
	size_t size;
	const char *tool;
	char *token;
	bool json;
};

struct load_run {
	struct load_args a;
	struct load_conn *c;
	int ep, tfd;
	uint64_t t0, t_meas, t_end; /* start, start of measurement, end of sending */
	uint64_t next_id;
	uint64_t sent, ok, errors, reconnects;
	uint64_t *lat; /* ns, of the counted replies */
	size_t n_lat, cap_lat;
	char *req_fill;
};

static uint64_t load_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * LOAD_NS + (uint64_t)ts.tv_nsec;
}

static int load_connect(struct load_run *run, struct load_conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* blocking connect (loopback), then non-blocking I/O */
	if (connect(fd, (struct sockaddr *)&run->a.sa, sizeof(run->a.sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if (epoll_ctl(run->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	c->fd = fd;
	c->in_len = 0;
	c->out_len = c->out_off = 0;
	c->busy = false;
	return 0;
}

/* The request for id: headers, then a tools/call body of exactly a.size bytes. */
static int load_build(struct load_run *run, struct load_conn *c, uint64_t id)
{
	char pre[128], head[512];
	static const char mid[] = "\"}}}";
	size_t fixed, fill, total;
	int pl, hl;

	pl = snprintf(pre, sizeof(pre),
		      "{\"jsonrpc\":\"2.0\",\"id\":%" PRIu64 ",\"method\":\"tools/call\","
		      "\"params\":{\"name\":\"%s\",\"arguments\":{\"message\":\"",
		      id, run->a.tool);
	if (pl < 0 || (size_t)pl >= sizeof(pre))
		return -EINVAL;
	fixed = (size_t)pl + sizeof(mid) - 1;
	fill = run->a.size > fixed ? run->a.size - fixed : 0;
	hl = snprintf(head, sizeof(head),
		      "POST /mcp HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
		      "Accept: application/json, text/event-stream\r\n"
		      "MCP-Protocol-Version: 2025-11-25\r\nContent-Length: %zu\r\n"
		      "Authorization: Bearer ",
		      run->a.addr, fixed + fill);
	if (hl < 0 || (size_t)hl >= sizeof(head))
		return -EINVAL;
	total = (size_t)hl + strlen(run->a.token) + 4 + fixed + fill;
	free(c->out);
	c->out = malloc(total);
	if (!c->out)
		return -ENOMEM;
	c->out_len = 0;
#define PUT(p, n)                                                                                 \
	do {                                                                                      \
		memcpy(c->out + c->out_len, (p), (n));                                            \
		c->out_len += (n);                                                                \
	} while (0)
	PUT(head, (size_t)hl);
	PUT(run->a.token, strlen(run->a.token));
	PUT("\r\n\r\n", 4);
	PUT(pre, (size_t)pl);
	PUT(run->req_fill, fill);
	PUT(mid, sizeof(mid) - 1);
#undef PUT
	c->out_off = 0;
	return 0;
}

static int load_set_epoll(struct load_run *run, struct load_conn *c, bool want_out)
{
	struct epoll_event ev = { .events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c };

	return epoll_ctl(run->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0 ? -errno : 0;
}

static int load_flush(struct load_run *run, struct load_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			return load_set_epoll(run, c, true);
		}
		c->out_off += (size_t)n;
	}
	return 0;
}

static int load_send(struct load_run *run, struct load_conn *c, uint64_t intended_ns)
{
	int r;

	c->id = ++run->next_id;
	r = load_build(run, c, c->id);
	if (r < 0)
		return r;
	c->busy = true;
	c->intended_ns = intended_ns;
	run->sent++;
	return load_flush(run, c);
}

static void load_record(struct load_run *run, uint64_t lat_ns)
{
	if (run->n_lat == run->cap_lat) {
		size_t cap = run->cap_lat ? run->cap_lat * 2 : 65536;
		uint64_t *p = realloc(run->lat, cap * sizeof(*p));

		if (!p)
			return; /* counted as ok, not in the percentiles */
		run->lat = p;
		run->cap_lat = cap;
	}
	run->lat[run->n_lat++] = lat_ns;
}

/* 1: a whole reply was consumed, 0: not yet, -EBADMSG: not a good reply. */
static int load_take_reply(struct load_conn *c)
{
	const char *he;
	size_t head_len, body_len;
	char want[40];
	int wl;

	he = memmem(c->in, c->in_len, "\r\n\r\n", 4);
	if (!he)
		return c->in_len > LOAD_MAX_REPLY_HEAD ? -EBADMSG : 0;
	head_len = (size_t)(he - c->in) + 4;
	if (c->in_len < 12 || memcmp(c->in, "HTTP/1.1 200", 12) != 0)
		return -EBADMSG;
	/* none (chunked or close-delimited: not what the stub sends) or a bad one */
	if (bench_content_length(c->in, head_len, LOAD_MAX_REPLY_BODY, &body_len) < 0)
		return -EBADMSG;
	if (c->in_len < head_len + body_len)
		return 0;
	wl = snprintf(want, sizeof(want), "\"id\":%" PRIu64 ",", c->id);
	if (!memmem(c->in + head_len, body_len, want, (size_t)wl) ||
	    !memmem(c->in + head_len, body_len, "\"result\"", 8))
		return -EBADMSG;
	memmove(c->in, c->in + head_len + body_len, c->in_len - head_len - body_len);
	c->in_len -= head_len + body_len;
	return 1;
}

static void load_conn_reset(struct load_run *run, struct load_conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(run->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	if (c->busy)
		run->errors++;
	c->busy = false;
	if (load_connect(run, c) == 0)
		run->reconnects++;
}

/* The next request of a free connection, if its time has come (open) or at once (closed). */
static int load_maybe_send(struct load_run *run, struct load_conn *c, uint64_t now)
{
	if (c->busy || c->fd < 0)
		return 0;
	if (run->a.mode == LOAD_CLOSED)
		return now < run->t_end ? load_send(run, c, now) : 0;
	/* open: what fell due before the end is still sent, late, and its lateness counted */
	if (now < c->next_due_ns || c->next_due_ns >= run->t_end)
		return 0;
	uint64_t due = c->next_due_ns;

	c->next_due_ns += (uint64_t)((double)run->a.conns * (double)LOAD_NS / run->a.rate);
	return load_send(run, c, due);
}

static void load_on_io(struct load_run *run, struct load_conn *c, uint32_t events)
{
	uint64_t now;
	int r;

	if (events & EPOLLOUT) {
		r = load_flush(run, c);
		if (r == 0 && c->out_off == c->out_len)
			r = load_set_epoll(run, c, false);
		if (r < 0) {
			load_conn_reset(run, c);
			return;
		}
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		ssize_t n;

		if (c->in_len == c->in_cap) {
			size_t cap = c->in_cap ? c->in_cap * 2 : 16384;
			char *p;

			if (cap > LOAD_MAX_REPLY_HEAD + LOAD_MAX_REPLY_BODY) {
				load_conn_reset(run, c);
				return;
			}
			p = realloc(c->in, cap);
			if (!p) {
				load_conn_reset(run, c);
				return;
			}
			c->in = p;
			c->in_cap = cap;
		}
		n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			load_conn_reset(run, c);
			return;
		}
		c->in_len += (size_t)n;
	}
	for (;;) {
		if (!c->busy) {
			if (c->in_len > 0) /* bytes nobody asked for */
				load_conn_reset(run, c);
			return;
		}
		r = load_take_reply(c);
		if (r == 0)
			return;
		if (r < 0) {
			load_conn_reset(run, c);
			return;
		}
		now = load_now_ns();
		c->busy = false;
		if (c->intended_ns >= run->t_meas) {
			run->ok++;
			load_record(run, now - c->intended_ns);
		}
		r = load_maybe_send(run, c, now);
		if (r < 0) {
			load_conn_reset(run, c);
			return;
		}
	}
}

/* Arms the timer for the earliest due request of a free connection (open mode). */
static void load_arm(struct load_run *run, uint64_t now)
{
	struct itimerspec its = {};
	uint64_t t = UINT64_MAX;

	for (unsigned i = 0; i < run->a.conns; i++) {
		struct load_conn *c = &run->c[i];

		if (!c->busy && c->fd >= 0 && c->next_due_ns < t && c->next_due_ns < run->t_end)
			t = c->next_due_ns;
	}
	if (t == UINT64_MAX && now < run->t_end)
		t = run->t_end;
	if (t == UINT64_MAX) { /* draining: nothing left to send, replies wake the loop */
		timerfd_settime(run->tfd, 0, &its, NULL);
		return;
	}
	its.it_value.tv_sec = (time_t)(t / LOAD_NS);
	its.it_value.tv_nsec = (long)(t % LOAD_NS);
	timerfd_settime(run->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static int load_loop(struct load_run *run)
{
	struct epoll_event evs[LOAD_MAX_EVENTS];
	uint64_t now;

	for (;;) {
		int n;

		now = load_now_ns();
		for (unsigned i = 0; i < run->a.conns; i++)
			if (load_maybe_send(run, &run->c[i], now) < 0)
				load_conn_reset(run, &run->c[i]);
		if (now >= run->t_end) {
			bool any = false;

			for (unsigned i = 0; i < run->a.conns; i++)
				any |= run->c[i].busy;
			if (!any || now >= run->t_end + LOAD_DRAIN_NS)
				break;
		}
		if (run->a.mode == LOAD_OPEN)
			load_arm(run, now);
		n = epoll_wait(run->ep, evs, LOAD_MAX_EVENTS, now >= run->t_end ? 100 : 1000);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			if (!evs[i].data.ptr) {
				uint64_t exp;

				if (read(run->tfd, &exp, sizeof(exp)) < 0 && errno != EAGAIN)
					return -errno;
				continue;
			}
			load_on_io(run, evs[i].data.ptr, evs[i].events);
		}
	}
	for (unsigned i = 0; i < run->a.conns; i++) {
		struct load_conn *c = &run->c[i];

		if (c->busy)
			run->errors++; /* no reply within the drain time */
		if (run->a.mode == LOAD_OPEN) { /* due, never sent: as many errors */
			uint64_t iv = (uint64_t)((double)run->a.conns * (double)LOAD_NS / run->a.rate);

			for (uint64_t t = c->next_due_ns; t < run->t_end; t += iv)
				run->errors++;
		}
	}
	return 0;
}

/* The permille-th percentile of the sorted latencies in microseconds (0 with none). */
static double load_pct(const struct load_run *run, uint64_t permille)
{
	if (run->n_lat == 0)
		return 0;
	return (double)bench_rank(run->lat, run->n_lat, permille) / 1000.0;
}

static void load_report(struct load_run *run)
{
	double window = run->a.duration - run->a.warmup, mean = 0, achieved, wall, cpu = 0;
	struct rusage ru;

	/* the client's own CPU share over the whole run: is the load generator the limit? */
	wall = (double)(load_now_ns() - run->t0) / (double)LOAD_NS;
	if (getrusage(RUSAGE_SELF, &ru) == 0 && wall > 0)
		cpu = ((double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6) / wall;

	bench_sort_u64(run->lat, run->n_lat);
	for (size_t i = 0; i < run->n_lat; i++)
		mean += (double)run->lat[i];
	mean = run->n_lat ? mean / (double)run->n_lat / 1000.0 : 0;
	achieved = window > 0 ? (double)run->ok / window : 0;
	if (run->a.json) {
		printf("{\"mode\":\"%s\",\"target_rate\":%.0f,\"conns\":%u,\"duration_s\":%.1f,"
		       "\"rate\":%.1f,\"sent\":%" PRIu64 ",\"ok\":%" PRIu64 ",\"errors\":%" PRIu64
		       ",\"reconnects\":%" PRIu64 ",\"mean_us\":%.1f,\"p50_us\":%.1f,"
		       "\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
		       "\"client_cpu\":%.3f}\n",
		       run->a.mode == LOAD_OPEN ? "open" : "closed",
		       run->a.mode == LOAD_OPEN ? run->a.rate : 0, run->a.conns, window, achieved,
		       run->sent, run->ok, run->errors, run->reconnects, mean,
		       load_pct(run, 500), load_pct(run, 900), load_pct(run, 990),
		       load_pct(run, 999), load_pct(run, 1000), cpu);
		return;
	}
	printf("%s loop, %u connections, %.1f s counted: %.1f calls/s",
	       run->a.mode == LOAD_OPEN ? "open" : "closed", run->a.conns, window, achieved);
	if (run->a.mode == LOAD_OPEN)
		printf(" (target %.0f/s)", run->a.rate);
	printf(", %" PRIu64 " ok, %" PRIu64 " errors, client CPU %.0f%%\n", run->ok, run->errors,
	       cpu * 100);
	printf("latency us: mean %.1f p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f max %.1f\n", mean,
	       load_pct(run, 500), load_pct(run, 900), load_pct(run, 990), load_pct(run, 999),
	       load_pct(run, 1000));
}

static int load_read_token(const char *path, char **ret)
{
	_cleanup_free_ char *buf = NULL;
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -errno;
	buf = malloc(LOAD_MAX_TOKEN + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, LOAD_MAX_TOKEN + 1, f);
	fclose(f);
	if (n > LOAD_MAX_TOKEN)
		return -E2BIG;
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		n--;
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)buf[i]))
			return -EBADMSG;
	*ret = TAKE_PTR(buf);
	return 0;
}

static int load_parse_addr(const char *s, struct sockaddr_in *ret)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char host[INET_ADDRSTRLEN];
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || port <= 0 || port > 65535 || inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		return -EINVAL;
	sin.sin_port = htons((uint16_t)port);
	*ret = sin;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: mcpload open HOST:PORT --rate R [--conns N] [--duration S] [--warmup S]\n"
		   "       mcpload closed HOST:PORT [--conns N] [--duration S] [--warmup S]\n"
		   "  common: --token-file FILE --size BYTES (1024) --tool NAME (echo) --json\n");
}

static int load_parse_args(int argc, char **argv, struct load_args *a)
{
	static const struct option opts[] = {
		{ "rate", required_argument, NULL, 'r' },
		{ "conns", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "token-file", required_argument, NULL, 't' },
		{ "size", required_argument, NULL, 's' },
		{ "tool", required_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *token_file = NULL;
	long v;
	int o, r;

	*a = (struct load_args){ .conns = 8, .duration = 10, .warmup = 1, .size = 1024,
				 .tool = "echo" };
	if (argc < 3)
		return -EINVAL;
	if (strcmp(argv[1], "open") == 0)
		a->mode = LOAD_OPEN;
	else if (strcmp(argv[1], "closed") == 0)
		a->mode = LOAD_CLOSED;
	else
		return -EINVAL;
	a->addr = argv[2];
	if (load_parse_addr(a->addr, &a->sa) < 0)
		return -EINVAL;
	optind = 3;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		switch (o) {
		case 'r':
			a->rate = strtod(optarg, NULL);
			break;
		case 'c':
			v = strtol(optarg, NULL, 10);
			if (v < 1 || v > LOAD_MAX_CONNS)
				return -EINVAL;
			a->conns = (unsigned)v;
			break;
		case 'd':
			a->duration = strtod(optarg, NULL);
			break;
		case 'w':
			a->warmup = strtod(optarg, NULL);
			break;
		case 't':
			token_file = optarg;
			break;
		case 's':
			v = strtol(optarg, NULL, 10);
			if (v < LOAD_MIN_SIZE || v > (long)LOAD_MAX_SIZE)
				return -EINVAL;
			a->size = (size_t)v;
			break;
		case 'T':
			if (strlen(optarg) > 64 || strpbrk(optarg, "\"\\"))
				return -EINVAL;
			a->tool = optarg;
			break;
		case 'j':
			a->json = true;
			break;
		default:
			return -EINVAL;
		}
	}
	if (optind != argc)
		return -EINVAL;
	if (!(a->duration > 0 && a->duration <= LOAD_MAX_DURATION_SEC) ||
	    !(a->warmup >= 0 && a->warmup < a->duration))
		return -EINVAL;
	if (a->mode == LOAD_OPEN && !(a->rate > 0 && a->rate <= LOAD_MAX_RATE))
		return -EINVAL;
	if (!token_file) {
		a->token = strdup("");
		return a->token ? 0 : -ENOMEM;
	}
	r = load_read_token(token_file, &a->token);
	if (r < 0) {
		errno = -r;
		fprintf(stderr, "mcpload: token file '%s': %m\n", token_file);
		return r;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	struct load_run run = {};
	uint64_t step;
	int r;

	if (load_parse_args(argc, argv, &run.a) < 0) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	run.req_fill = malloc(run.a.size);
	run.c = calloc(run.a.conns, sizeof(*run.c));
	run.ep = epoll_create1(EPOLL_CLOEXEC);
	run.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (!run.req_fill || !run.c || run.ep < 0 || run.tfd < 0 ||
	    epoll_ctl(run.ep, EPOLL_CTL_ADD, run.tfd, &ev) < 0) {
		fprintf(stderr, "mcpload: setup: %m\n");
		return 1;
	}
	memset(run.req_fill, 'a', run.a.size);
	for (unsigned i = 0; i < run.a.conns; i++) {
		run.c[i].fd = -1;
		r = load_connect(&run, &run.c[i]);
		if (r < 0) {
			errno = -r;
			fprintf(stderr, "mcpload: connect to %s: %m\n", run.a.addr);
			return 1;
		}
	}
	run.t0 = load_now_ns();
	run.t_meas = run.t0 + (uint64_t)(run.a.warmup * (double)LOAD_NS);
	run.t_end = run.t0 + (uint64_t)(run.a.duration * (double)LOAD_NS);
	step = run.a.mode == LOAD_OPEN ? (uint64_t)((double)LOAD_NS / run.a.rate) : 0;
	for (unsigned i = 0; i < run.a.conns; i++)
		run.c[i].next_due_ns = run.t0 + step * i; /* staggered schedules */
	r = load_loop(&run);
	if (r < 0) {
		errno = -r;
		fprintf(stderr, "mcpload: %m\n");
		return 1;
	}
	load_report(&run);
	return run.errors > 0 || run.ok == 0 ? 1 : 0;
}
