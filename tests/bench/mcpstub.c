/* mcpstub.c: the MCP server of the checkpoint benchmark (tests/bench/mcp.sh).  One thread, epoll,
 * HTTP/1.1 keep-alive on any number of connections: every request whose body is whole is
 * answered "200 OK", application/json, Content-Length, with a JSON-RPC result of exactly
 * STUB_REPLY_BYTES that echoes the request's id.  Requests on one connection are answered in
 * order (pipelining works).  Nothing but the framing and the id is looked at: it stands for a
 * server whose own cost is negligible, so the benchmark measures what sits in front of it.
 *
 *   mcpstub 127.0.0.1:9000 [--reply BYTES]
 *
 * It runs until killed; "listening" on stdout says it is ready. */
#include "util.h"
#include "bench_http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define STUB_REPLY_BYTES 4096
#define STUB_MAX_REPLY (1u << 20)
#define STUB_MAX_HEAD 16384	    /* request line and headers */
#define STUB_MAX_BODY (1u << 20)    /* a larger Content-Length closes the connection */
#define STUB_IN_CAP (STUB_MAX_HEAD + STUB_MAX_BODY)
#define STUB_MAX_ID 64		    /* the id token copied into the reply */
#define STUB_MAX_EVENTS 64
#define STUB_BACKLOG 1024

struct stub_conn {
	int fd;
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_len, out_off, out_cap;
	bool want_out;
};

static const char *reply_fill; /* STUB_MAX_REPLY bytes of 'x' */
static size_t reply_bytes = STUB_REPLY_BYTES;

static void stub_conn_free(int ep, struct stub_conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

static int stub_out_reserve(struct stub_conn *c, size_t more)
{
	size_t need = c->out_len + more;
	char *p;

	if (need <= c->out_cap)
		return 0;
	if (c->out_off > 0) { /* compact first */
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
		need = c->out_len + more;
		if (need <= c->out_cap)
			return 0;
	}
	p = realloc(c->out, need * 2);
	if (!p)
		return -ENOMEM;
	c->out = p;
	c->out_cap = need * 2;
	return 0;
}

/* The value of the top-level "id" member, as its JSON text (number or simple string), or
 * "null".  A benchmark body is small and flat; no full JSON parse is needed to echo it. */
static void stub_find_id(const char *body, size_t len, char *ret_id, size_t id_cap)
{
	const char *p = memmem(body, len, "\"id\"", 4), *end = body + len, *s;

	snprintf(ret_id, id_cap, "null");
	if (!p)
		return;
	p += 4;
	while (p < end && (*p == ' ' || *p == ':'))
		p++;
	s = p;
	if (p < end && *p == '"') {
		for (p++; p < end && *p != '"' && *p != '\\'; p++)
			;
		if (p >= end || *p != '"')
			return;
		p++;
	} else {
		while (p < end && (isdigit((unsigned char)*p) || *p == '-'))
			p++;
	}
	if (p > s && (size_t)(p - s) < id_cap) {
		memcpy(ret_id, s, (size_t)(p - s));
		ret_id[p - s] = '\0';
	}
}

static int stub_answer(struct stub_conn *c, const char *body, size_t len)
{
	static const char pre[] = "{\"jsonrpc\":\"2.0\",\"id\":";
	static const char mid[] = ",\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"";
	static const char post[] = "\"}],\"isError\":false}}";
	char id[STUB_MAX_ID], head[256];
	size_t fixed, fill;
	int hl, r;

	stub_find_id(body, len, id, sizeof(id));
	fixed = sizeof(pre) - 1 + strlen(id) + sizeof(mid) - 1 + sizeof(post) - 1;
	fill = reply_bytes > fixed ? reply_bytes - fixed : 0;
	hl = snprintf(head, sizeof(head),
		      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		      "Content-Length: %zu\r\n\r\n",
		      fixed + fill);
	r = stub_out_reserve(c, (size_t)hl + fixed + fill);
	if (r < 0)
		return r;
#define PUT(p, n)                                                                                 \
	do {                                                                                      \
		memcpy(c->out + c->out_len, (p), (n));                                            \
		c->out_len += (n);                                                                \
	} while (0)
	PUT(head, (size_t)hl);
	PUT(pre, sizeof(pre) - 1);
	PUT(id, strlen(id));
	PUT(mid, sizeof(mid) - 1);
	PUT(reply_fill, fill);
	PUT(post, sizeof(post) - 1);
#undef PUT
	return 0;
}

/* Answers every whole request in the input; keeps a partial one. */
static int stub_parse(struct stub_conn *c)
{
	size_t off = 0;
	int r;

	for (;;) {
		const char *head = c->in + off, *hend;
		size_t avail = c->in_len - off, body_len, head_len;

		hend = memmem(head, avail, "\r\n\r\n", 4);
		if (!hend) {
			if (avail > STUB_MAX_HEAD)
				return -EBADMSG;
			break;
		}
		head_len = (size_t)(hend - head) + 4;
		r = bench_content_length(head, head_len, STUB_MAX_BODY, &body_len);
		if (r == -ENOENT)
			body_len = 0;
		else if (r < 0)
			return r;
		if (avail < head_len + body_len)
			break;
		r = stub_answer(c, head + head_len, body_len);
		if (r < 0)
			return r;
		off += head_len + body_len;
	}
	if (off > 0) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	return 0;
}

/* Writes what is queued; returns 0 (all out or EAGAIN) or -errno. */
static int stub_flush(int ep, struct stub_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			break;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	bool want = c->out_len > 0;
	if (want != c->want_out) {
		struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c };

		if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
			return -errno;
		c->want_out = want;
	}
	return 0;
}

/* Returns 1 to keep the connection, 0 on EOF, -errno on error. */
static int stub_on_readable(struct stub_conn *c)
{
	for (;;) {
		ssize_t n;

		if (c->in_len == c->in_cap) {
			size_t cap = c->in_cap ? c->in_cap * 2 : 8192;
			char *p;

			if (cap > STUB_IN_CAP)
				return -EMSGSIZE;
			p = realloc(c->in, cap);
			if (!p)
				return -ENOMEM;
			c->in = p;
			c->in_cap = cap;
		}
		n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 1 : -errno;
		}
		if (n == 0)
			return 0;
		c->in_len += (size_t)n;
		int r = stub_parse(c);
		if (r < 0)
			return r;
	}
}

static int stub_accept(int ep, int lfd)
{
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN };
		struct stub_conn *c;
		int fd, one = 1;

		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return errno == EAGAIN || errno == ECONNABORTED ? 0 : -errno;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			return -ENOMEM;
		}
		c->fd = fd;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			return -errno;
		}
	}
}

static int stub_listen(const char *addr)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char host[INET_ADDRSTRLEN];
	const char *colon = strrchr(addr, ':');
	long port;
	int fd, one = 1;

	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		return -EINVAL;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	port = strtol(colon + 1, NULL, 10);
	if (port <= 0 || port > 65535 || inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		return -EINVAL;
	sin.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, STUB_BACKLOG) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct epoll_event evs[STUB_MAX_EVENTS], ev = { .events = EPOLLIN };
	_cleanup_close_ int lfd = -1, ep = -1;
	char *fill;

	if (argc == 4 && strcmp(argv[2], "--reply") == 0) {
		long v = strtol(argv[3], NULL, 10);

		if (v < 128 || v > (long)STUB_MAX_REPLY) {
			fprintf(stderr, "mcpstub: --reply takes 128..%u\n", STUB_MAX_REPLY);
			return 2;
		}
		reply_bytes = (size_t)v;
	} else if (argc != 2) {
		fprintf(stderr, "usage: mcpstub HOST:PORT [--reply BYTES]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	fill = malloc(STUB_MAX_REPLY);
	if (!fill)
		return 1;
	memset(fill, 'x', STUB_MAX_REPLY);
	reply_fill = fill;
	lfd = stub_listen(argv[1]);
	if (lfd < 0) {
		errno = -lfd;
		fprintf(stderr, "mcpstub: listen on '%s': %m\n", argv[1]);
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.data.ptr = NULL;
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
		fprintf(stderr, "mcpstub: epoll: %m\n");
		return 1;
	}
	printf("listening on %s, %zu-byte replies\n", argv[1], reply_bytes);
	fflush(stdout);
	for (;;) {
		int n = epoll_wait(ep, evs, STUB_MAX_EVENTS, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "mcpstub: epoll_wait: %m\n");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			struct stub_conn *c = evs[i].data.ptr;
			int r = 1;

			if (!c) {
				r = stub_accept(ep, lfd);
				if (r < 0)
					fprintf(stderr, "mcpstub: accept: %s\n", strerror(-r));
				continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				r = stub_on_readable(c);
			if (r > 0)
				r = stub_flush(ep, c) < 0 ? -EPIPE : 1;
			if (r <= 0)
				stub_conn_free(ep, c);
		}
	}
}
