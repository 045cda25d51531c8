/* tlsstub.c: the HTTPS upstream of the TLS benchmark (tests/bench/tls.sh).  OpenSSL, a pool of
 * threads each blocking in accept(), one connection per thread at a time, keep-alive.  It
 * answers POST (any path) with a JSON-RPC result carrying the request's id, only when the
 * request's Authorization is "Bearer <--token-file>" (else 401), and GET /stats with its
 * counters: handshakes, how many of them resumed a session (so the benchmark can say whether a
 * proxy resumes its upstream leg), requests, unauthorized requests.  TLS 1.2..1.3, session
 * tickets and a server session cache: a client that offers a session gets it resumed.
 *
 *   tlsstub HOST:PORT --cert FILE --key FILE [--token-file FILE] [--threads N] */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench_http.h"

#define STUB_THREADS_MAX 256
#define STUB_REQ_MAX (64 * 1024) /* request head + body */
#define STUB_TOKEN_MAX 4096

static SSL_CTX *stub_ctx;
static int stub_fd = -1;
static char stub_token[STUB_TOKEN_MAX];
static atomic_ulong n_handshakes, n_resumed, n_requests, n_unauthorized, n_failed;

static int stub_reply(SSL *ssl, int status, const char *body)
{
	char out[1024];
	int n = snprintf(out, sizeof(out),
			 "HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
			 "content-length: %zu\r\n\r\n%s",
			 status, status == 200 ? "OK" : status == 401 ? "Unauthorized" : "Bad Request",
			 strlen(body), body);

	if (n < 0 || (size_t)n >= sizeof(out))
		return -EINVAL;
	return SSL_write(ssl, out, n) == n ? 0 : -EIO;
}

/* The value of header field name in head (NUL-terminated, CRLF lines), or NULL. */
static const char *stub_field(const char *head, const char *name, size_t *ret_len)
{
	size_t nl = strlen(name);

	for (const char *p = strstr(head, "\r\n"); p; p = strstr(p, "\r\n")) {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1, *e;

			while (*v == ' ')
				v++;
			e = strstr(v, "\r\n");
			*ret_len = e ? (size_t)(e - v) : strlen(v);
			return v;
		}
	}
	return NULL;
}

/* One request (head and body in buf), answered. */
static int stub_answer(SSL *ssl, char *buf, const char *body)
{
	const char *auth, *id;
	char out[512];
	size_t alen;

	if (strncmp(buf, "GET /stats ", 11) == 0) {
		snprintf(out, sizeof(out),
			 "{\"handshakes\": %lu, \"resumed\": %lu, \"requests\": %lu, "
			 "\"unauthorized\": %lu, \"failed\": %lu}",
			 atomic_load(&n_handshakes), atomic_load(&n_resumed), atomic_load(&n_requests),
			 atomic_load(&n_unauthorized), atomic_load(&n_failed));
		return stub_reply(ssl, 200, out);
	}
	atomic_fetch_add(&n_requests, 1);
	if (stub_token[0]) {
		auth = stub_field(buf, "authorization", &alen);
		if (!auth || alen != strlen(stub_token) + 7 || strncmp(auth, "Bearer ", 7) != 0 ||
		    strncmp(auth + 7, stub_token, alen - 7) != 0) {
			atomic_fetch_add(&n_unauthorized, 1);
			return stub_reply(ssl, 401, "{\"error\": \"no or wrong token\"}");
		}
	}
	id = strstr(body, "\"id\":");
	snprintf(out, sizeof(out),
		 "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"result\":{\"content\":[{\"type\":\"text\","
		 "\"text\":\"upstream got tools/call\"}]}}",
		 id ? strtol(id + 5, NULL, 10) : 0L);
	return stub_reply(ssl, 200, out);
}

static void stub_serve(int fd)
{
	char *buf = malloc(STUB_REQ_MAX + 1);
	SSL *ssl = SSL_new(stub_ctx);
	size_t len = 0;

	if (!buf || !ssl || SSL_set_fd(ssl, fd) != 1)
		goto out;
	if (SSL_accept(ssl) != 1) {
		atomic_fetch_add(&n_failed, 1);
		goto out;
	}
	atomic_fetch_add(&n_handshakes, 1);
	if (SSL_session_reused(ssl))
		atomic_fetch_add(&n_resumed, 1);
	for (;;) {
		char *end;
		size_t clen = 0, hlen;
		int r;

		buf[len] = 0;
		end = strstr(buf, "\r\n\r\n");
		if (end) {
			hlen = (size_t)(end - buf) + 4;
			r = bench_content_length(buf, hlen, STUB_REQ_MAX - hlen, &clen);
			if (r == -EBADMSG)
				break;
			if (len >= hlen + clen) {
				char save = buf[hlen + clen];

				buf[hlen + clen] = 0;
				buf[hlen - 2] = 0; /* the head ends with one CRLF */
				if (stub_answer(ssl, buf, buf + hlen) < 0)
					break;
				buf[hlen + clen] = save;
				memmove(buf, buf + hlen + clen, len - hlen - clen);
				len -= hlen + clen;
				continue;
			}
		}
		if (len >= STUB_REQ_MAX)
			break;
		r = SSL_read(ssl, buf + len, (int)(STUB_REQ_MAX - len));
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	SSL_shutdown(ssl);
out:
	SSL_free(ssl);
	free(buf);
	close(fd);
	ERR_clear_error();
}

static void *stub_thread(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept4(stub_fd, NULL, NULL, SOCK_CLOEXEC), one = 1;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("tlsstub: accept");
			exit(1);
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		stub_serve(fd);
	}
	return NULL;
}

static int stub_listen(const char *hostport)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char host[64];
	const char *colon = strrchr(hostport, ':');
	int fd, one = 1;

	if (!colon || (size_t)(colon - hostport) >= sizeof(host))
		return -EINVAL;
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = 0;
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1024) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "token-file", required_argument, NULL, 't' },
		{ "threads", required_argument, NULL, 'n' },
		{},
	};
	const char *cert = NULL, *key = NULL, *token_file = NULL;
	int threads = 8, o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 't':
			token_file = optarg;
			break;
		case 'n':
			threads = atoi(optarg);
			break;
		default: return 2;
		}
	}
	if (optind != argc - 1 || !cert || !key || threads < 1 || threads > STUB_THREADS_MAX) {
		fprintf(stderr, "usage: tlsstub HOST:PORT --cert FILE --key FILE "
				"[--token-file FILE] [--threads N]\n");
		return 2;
	}
	if (token_file) {
		FILE *f = fopen(token_file, "re");

		if (!f || !fgets(stub_token, sizeof(stub_token), f)) {
			fprintf(stderr, "tlsstub: cannot read %s\n", token_file);
			return 1;
		}
		fclose(f);
		stub_token[strcspn(stub_token, "\r\n")] = 0;
	}
	signal(SIGPIPE, SIG_IGN);
	stub_ctx = SSL_CTX_new(TLS_server_method());
	if (!stub_ctx || SSL_CTX_set_min_proto_version(stub_ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_use_certificate_chain_file(stub_ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(stub_ctx, key, SSL_FILETYPE_PEM) != 1) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	SSL_CTX_set_session_id_context(stub_ctx, (const unsigned char *)"tlsstub", 7);
	SSL_CTX_set_session_cache_mode(stub_ctx, SSL_SESS_CACHE_SERVER);
	stub_fd = stub_listen(argv[optind]);
	if (stub_fd < 0) {
		fprintf(stderr, "tlsstub: cannot listen on %s: %s\n", argv[optind], strerror(-stub_fd));
		return 1;
	}
	for (int i = 1; i < threads; i++) {
		pthread_t t;

		if (pthread_create(&t, NULL, stub_thread, NULL) != 0)
			return 1;
	}
	printf("ready\n");
	fflush(stdout);
	stub_thread(NULL);
	return 0;
}
