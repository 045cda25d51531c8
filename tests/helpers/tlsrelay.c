/* tlsrelay: the interception engine between two TCP sockets on loopback, for tests.
 *
 *   tlsrelay --listen PORT --upstream HOST:PORT --ca-dir DIR [--ca-file PEM] [--pin PIN]
 *
 * Accepts one connection at a time, reads the ClientHello (tls_hello), mints the leaf for its
 * SNI (ca), connects to the upstream and runs the engine (tls) between them, passing
 * plaintext through unchanged.  Prints one line per connection on stdout:
 *   "intercepted SNI upstream=VERSION resumed=0|1 subject=... fingerprint=..."
 * or "refused SNI: REASON". */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ca.h"
#include "tls.h"
#include "tls_hello.h"

static int flush(int fd, struct mw_bytes *b)
{
	while (b->len) {
		ssize_t n = send(fd, b->data, b->len, MSG_NOSIGNAL);

		if (n <= 0)
			return -1;
		bytes_consume(b, (size_t)n);
	}
	return 0;
}

static void serve(int c, struct mw_tls_ctx *ctx, const struct sockaddr_in *up,
		  const struct mw_tls_verify *v)
{
	uint8_t buf[65536];
	size_t have = 0;
	struct mw_tls_hello h;
	struct mw_tls *t = NULL;
	struct mw_bytes to_c = {}, to_u = {}, plain = {};
	int u = -1, r;
	const char *name;

	for (;;) {
		ssize_t n = read(c, buf + have, sizeof(buf) - have);

		if (n <= 0)
			goto out;
		have += (size_t)n;
		r = tls_hello_parse(buf, have, &h);
		if (r == 0)
			break;
		if (r != -EAGAIN) {
			printf("refused: not a ClientHello (%s)\n", strerror(-r));
			goto out;
		}
	}
	name = h.has_sni ? h.sni : "127.0.0.1";
	r = tls_intercept_new(ctx, name, ntohs(up->sin_port), v, &t);
	if (r < 0) {
		printf("refused %s: %s\n", name, strerror(-r));
		goto out;
	}
	u = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(u, (const struct sockaddr *)up, sizeof(*up)) < 0) {
		printf("refused %s: upstream connect: %m\n", name);
		goto out;
	}
	r = tls_upstream_start(t, &to_u);
	if (r == 0)
		r = tls_client_in(t, buf, have, &plain, &to_c);
	for (bool logged = false; r == 0;) {
		struct pollfd p[2] = { { c, POLLIN, 0 }, { u, POLLIN, 0 } };
		ssize_t n;

		if (flush(c, &to_c) < 0 || flush(u, &to_u) < 0)
			break;
		if (!logged && tls_client_ready(t) && tls_upstream_ready(t)) {
			printf("intercepted %s upstream=%s resumed=%d subject=%s fingerprint=%s\n",
			       name, tls_upstream_version(t), tls_upstream_resumed(t),
			       tls_upstream_subject(t), tls_upstream_fingerprint(t));
			fflush(stdout);
			logged = true;
		}
		if (poll(p, 2, 10000) <= 0)
			break;
		if (p[0].revents) {
			n = read(c, buf, sizeof(buf));
			if (n <= 0)
				break;
			r = tls_client_in(t, buf, (size_t)n, &plain, &to_c);
			if (r == 0 && plain.len) {
				r = tls_upstream_out(t, plain.data, plain.len, &to_u);
				bytes_consume(&plain, plain.len);
			}
		}
		if (r == 0 && p[1].revents) {
			n = read(u, buf, sizeof(buf));
			if (n <= 0) {
				tls_client_close(t, &to_c);
				flush(c, &to_c);
				break;
			}
			r = tls_upstream_in(t, buf, (size_t)n, &plain, &to_u);
			if (r == 0 && plain.len) {
				r = tls_client_out(t, plain.data, plain.len, &to_c);
				bytes_consume(&plain, plain.len);
			}
		}
	}
	if (t && tls_error(t)[0]) {
		flush(c, &to_c); /* the alert, when the client leg failed */
		printf("refused %s: %s\n", name, tls_error(t));
	}
out:
	fflush(stdout);
	tls_free(t);
	bytes_free(&to_c);
	bytes_free(&to_u);
	bytes_free(&plain);
	if (u >= 0)
		close(u);
	close(c);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' }, { "upstream", required_argument, NULL, 'u' },
		{ "ca-dir", required_argument, NULL, 'd' }, { "ca-file", required_argument, NULL, 'f' },
		{ "pin", required_argument, NULL, 'p' },    {},
	};
	struct sockaddr_in la = { .sin_family = AF_INET }, ua = { .sin_family = AF_INET };
	struct mw_tls_verify v = {};
	const char *dir = NULL;
	struct mw_tls_ctx *ctx;
	struct mw_ca *ca;
	int opt, l, one = 1;
	char *colon;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		switch (opt) {
		case 'l':
			la.sin_port = htons((uint16_t)atoi(optarg));
			break;
		case 'u':
			colon = strrchr(optarg, ':');
			if (!colon)
				return 2;
			*colon = '\0';
			inet_pton(AF_INET, optarg, &ua.sin_addr);
			ua.sin_port = htons((uint16_t)atoi(colon + 1));
			break;
		case 'd':
			dir = optarg;
			break;
		case 'f':
			v.ca_file = optarg;
			break;
		case 'p':
			if (tls_pin_parse(optarg, v.pin) < 0)
				return 2;
			v.has_pin = true;
			break;
		default:
			return 2;
		}
	}
	if (!dir || !la.sin_port || !ua.sin_port)
		return 2;
	if (ca_load(dir, &ca) < 0 || tls_ctx_new(ca, &ctx) < 0) {
		fprintf(stderr, "tlsrelay: no CA in '%s'\n", dir);
		return 1;
	}
	la.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&la, sizeof(la)) < 0 || listen(l, 16) < 0) {
		perror("tlsrelay: listen");
		return 1;
	}
	for (;;) {
		int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);

		if (c >= 0)
			serve(c, ctx, &ua, &v);
	}
}
