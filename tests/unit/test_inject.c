/* test_inject.c: credentials and the request-head rewrite, on heads parsed by the real
 * HTTP/1.1 parser: the gateway's credential fields are gone, the held one is there once, the
 * rest of the head is unchanged; keep_caller_token keeps Authorization; a secret that cannot
 * be loaded yields an errno and nothing that contains it. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http1.h"
#include "inject.h"
#include "inject_oauth.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#define SECRET "s3cr3t-upstream-token-7f1c"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_inject.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void write_file(const char *name, const char *content, char *path, size_t size)
{
	FILE *f;

	snprintf(path, size, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static const char request[] = "POST /mcp HTTP/1.1\r\n"
			      "Host: mcp.internal.example\r\n"
			      "Authorization: Bearer gateway-token\r\n"
			      "Content-Type: application/json\r\n"
			      "proxy-authorization: Basic Z2F0ZXdheQ==\r\n"
			      "X-Api-Key: gateway-key\r\n"
			      "Content-Length: 2\r\n"
			      "\r\n";

/* Parse the request head and rewrite it with c; the result NUL-terminated in out. */
static int rewrite(struct mw_cred *c, char *out, size_t size)
{
	struct http1_parser *p = NULL;
	struct http1_event ev;
	struct mw_bytes b = {};
	int r;

	assert_int_equal(http1_parser_new(HTTP1_REQUEST, NULL, &p), 0);
	assert_int_equal(http1_parse(p, request, strlen(request), &ev), 0);
	assert_int_equal(ev.type, HTTP1_EV_HEAD);
	assert_int_equal(bytes_append(&b, "queued", 6), 0); /* what the output held before */
	r = inject_rewrite_head(c, http1_parser_head(p), &b);
	if (r < 0) /* nothing appended on an error: no partial head can go upstream */
		assert_int_equal(b.len, 6);
	if (r == 0) {
		assert_memory_equal(b.data, "queued", 6);
		bytes_consume(&b, 6);
		assert_true(b.len < size);
		memcpy(out, b.data, b.len);
		out[b.len] = '\0';
	}
	bytes_free(&b);
	http1_parser_free(p);
	return r;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *s = strstr(hay, needle); s; s = strstr(s + 1, needle))
		n++;
	return n;
}

static void test_bearer_file(void **state)
{
	struct mw_cred_spec spec = { .kind = MW_CRED_BEARER_FILE, .bearer = true };
	struct mw_cred *c;
	char out[2048];

	write_file("token", SECRET "\n", spec.path, sizeof(spec.path));
	snprintf(spec.name, sizeof(spec.name), "mcp-token");
	assert_int_equal(cred_load(&spec, &c), 0);
	assert_string_equal(cred_name(c), "mcp-token");
	assert_int_equal(rewrite(c, out, sizeof(out)), 0);
	assert_int_equal(count(out, "Authorization: Bearer " SECRET "\r\n"), 1);
	assert_null(strstr(out, "gateway-token"));
	assert_null(strcasestr(out, "proxy-authorization"));
	assert_non_null(strstr(out, "POST /mcp HTTP/1.1\r\nHost: mcp.internal.example\r\n"));
	assert_non_null(strstr(out, "Content-Type: application/json\r\n"));
	assert_non_null(strstr(out, "X-Api-Key: gateway-key\r\n"));
	assert_non_null(strstr(out, "Content-Length: 2\r\n"));
	assert_int_equal(strcmp(out + strlen(out) - 4, "\r\n\r\n"), 0);
	cred_free(c);
}

static void test_header_keep_caller(void **state)
{
	struct mw_cred_spec spec = { .kind = MW_CRED_VALUE_FILE, .keep_caller_token = true };
	struct mw_cred *c;
	char out[2048];

	write_file("key", SECRET, spec.path, sizeof(spec.path));
	snprintf(spec.header, sizeof(spec.header), "X-Api-Key");
	assert_int_equal(cred_load(&spec, &c), 0);
	assert_int_equal(rewrite(c, out, sizeof(out)), 0);
	assert_int_equal(count(out, "X-Api-Key: " SECRET "\r\n"), 1);
	assert_null(strstr(out, "gateway-key"));
	assert_non_null(strstr(out, "Authorization: Bearer gateway-token\r\n"));
	assert_null(strcasestr(out, "proxy-authorization"));
	cred_free(c);
}

static void test_systemd_credential(void **state)
{
	struct mw_cred_spec spec = { .kind = MW_CRED_SYSTEMD };
	struct mw_cred *c;
	char out[2048], path[256];

	write_file("mcpcred", "Basic " SECRET, path, sizeof(path));
	snprintf(spec.path, sizeof(spec.path), "mcpcred");
	unsetenv("CREDENTIALS_DIRECTORY");
	assert_int_equal(cred_load(&spec, &c), -ENOENT);
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	assert_int_equal(cred_load(&spec, &c), 0);
	assert_int_equal(rewrite(c, out, sizeof(out)), 0);
	assert_int_equal(count(out, "Authorization: Basic " SECRET "\r\n"), 1);
	cred_free(c);
	unsetenv("CREDENTIALS_DIRECTORY");
}

/* Bad secrets: the error is an errno only; the oauth holder waits for its token. */
static void test_refusals(void **state)
{
	struct mw_cred_spec spec = { .kind = MW_CRED_VALUE_FILE };
	struct mw_cred *c = NULL;
	char out[2048];

	write_file("crlf", SECRET "\r\nX-Evil: 1", spec.path, sizeof(spec.path));
	assert_int_equal(cred_load(&spec, &c), -EINVAL);
	assert_null(c);
	write_file("empty", "", spec.path, sizeof(spec.path));
	assert_int_equal(cred_load(&spec, &c), -EINVAL);
	snprintf(spec.path, sizeof(spec.path), "%s/missing", dir);
	assert_int_equal(cred_load(&spec, &c), -ENOENT);

	/* oauth: the client secret is read at load, with the same refusals */
	spec.kind = MW_CRED_OAUTH;
	spec.bearer = true;
	snprintf(spec.oauth.client_secret_file, sizeof(spec.oauth.client_secret_file), "%s/missing",
		 dir);
	assert_int_equal(cred_load(&spec, &c), -ENOENT);
	write_file("oauth-crlf", "cs\r\nx", spec.oauth.client_secret_file,
		   sizeof(spec.oauth.client_secret_file));
	assert_int_equal(cred_load(&spec, &c), -EINVAL);
	write_file("oauth-secret", "cs-1\n", spec.oauth.client_secret_file,
		   sizeof(spec.oauth.client_secret_file));
	assert_int_equal(cred_load(&spec, &c), 0);
	assert_string_equal(cred_client_secret(c), "cs-1");
	assert_false(cred_ready(c));
	assert_int_equal(rewrite(c, out, sizeof(out)), -EAGAIN);
	assert_int_equal(cred_set_secret(c, "a\nb", 3), -EINVAL);
	assert_int_equal(cred_set_secret(c, SECRET, strlen(SECRET)), 0);
	assert_int_equal(rewrite(c, out, sizeof(out)), 0);
	assert_int_equal(count(out, "Authorization: Bearer " SECRET "\r\n"), 1);
	cred_free(c);
}

/* --- a token endpoint on loopback: answers each POST with a numbered token --------------- */

#define CLIENT_SECRET "client-secret-9d2e"

struct idp {
	int fd;
	uint16_t port;
	int served;
	int status; /* the status to answer */
	char last_body[1024];
	char last_auth[256]; /* the Authorization field's value, "" without one */
	pthread_t thread;
};

static void *idp_run(void *arg)
{
	struct idp *idp = arg;

	for (;;) {
		char req[4096], reply[512], body[128];
		size_t n = 0;
		char *end, *cl;
		int c = accept(idp->fd, NULL, NULL);

		if (c < 0)
			return NULL;
		for (;;) {
			ssize_t r = read(c, req + n, sizeof(req) - 1 - n);

			if (r <= 0)
				break;
			n += (size_t)r;
			req[n] = '\0';
			end = strstr(req, "\r\n\r\n");
			cl = strcasestr(req, "Content-Length:");
			if (end && cl && strlen(end + 4) >= (size_t)atoi(cl + 15))
				break;
		}
		end = strstr(req, "\r\n\r\n");
		snprintf(idp->last_body, sizeof(idp->last_body), "%s", end ? end + 4 : "");
		cl = strcasestr(req, "\r\nAuthorization: ");
		snprintf(idp->last_auth, sizeof(idp->last_auth), "%.*s",
			 cl ? (int)strcspn(cl + 17, "\r") : 0, cl ? cl + 17 : "");
		idp->served++;
		if (idp->status == 200)
			snprintf(body, sizeof(body),
				 "{\"access_token\":\"tok-%d\",\"token_type\":\"Bearer\","
				 "\"expires_in\":2}",
				 idp->served);
		else
			snprintf(body, sizeof(body), "{\"error\":\"invalid_client\"}");
		snprintf(reply, sizeof(reply),
			 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: "
			 "%zu\r\nConnection: close\r\n\r\n%s",
			 idp->status, strlen(body), body);
		if (write(c, reply, strlen(reply)) < 0)
			break;
		close(c);
	}
	return NULL;
}

static void idp_start(struct idp *idp)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);

	idp->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(idp->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(idp->fd, 8), 0);
	getsockname(idp->fd, (struct sockaddr *)&a, &al);
	idp->port = ntohs(a.sin_port);
	idp->status = 200;
	pthread_create(&idp->thread, NULL, idp_run, idp);
}

static void idp_stop(struct idp *idp)
{
	shutdown(idp->fd, SHUT_RDWR);
	close(idp->fd);
	pthread_join(idp->thread, NULL);
}

struct reports {
	pthread_mutex_t lock;
	unsigned ok, failed, first_tokens;
	uint64_t first_token_fetches; /* rep->fetches of the report that said first_token */
	uint64_t last_ttl;
	char name[64];
};

static void on_report(const struct mw_oauth_report *rep, void *userdata)
{
	struct reports *rs = userdata;

	pthread_mutex_lock(&rs->lock);
	if (rep->r == 0)
		rs->ok++;
	else
		rs->failed++;
	if (rep->first_token) {
		rs->first_tokens++;
		rs->first_token_fetches = rep->fetches;
	}
	rs->last_ttl = rep->expires_in;
	snprintf(rs->name, sizeof(rs->name), "%s", rep->name);
	pthread_mutex_unlock(&rs->lock);
}

static void test_oauth(void **state)
{
	struct reports rs = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct mw_cred_spec spec = { .kind = MW_CRED_OAUTH, .bearer = true };
	struct idp idp = {};
	struct mw_cred *c;
	struct mw_oauth *o;
	char out[2048], err[256];
	uint64_t expires = 0, fetches = 0;

	idp_start(&idp);
	snprintf(spec.header, sizeof(spec.header), "Authorization");
	snprintf(spec.name, sizeof(spec.name), "oauth:mw");
	snprintf(spec.oauth.token_endpoint, sizeof(spec.oauth.token_endpoint),
		 "http://127.0.0.1:%u/token", idp.port);
	snprintf(spec.oauth.client_id, sizeof(spec.oauth.client_id), "mw");
	snprintf(spec.oauth.scope, sizeof(spec.oauth.scope), "mcp tools");
	snprintf(spec.oauth.resource, sizeof(spec.oauth.resource), "urn:mcp:upstream");
	write_file("client_secret", CLIENT_SECRET "\n", spec.oauth.client_secret_file,
		   sizeof(spec.oauth.client_secret_file));
	assert_int_equal(cred_load(&spec, &c), 0);
	assert_int_equal(oauth_fetch(c, &expires, err, sizeof(err)), 0);
	assert_int_equal(expires, 2);
	assert_string_equal(idp.last_body, "grant_type=client_credentials&client_id=mw&"
					   "client_secret=" CLIENT_SECRET "&scope=mcp%20tools&"
					   "resource=urn%3Amcp%3Aupstream");
	assert_int_equal(rewrite(c, out, sizeof(out)), 0);
	assert_int_equal(count(out, "Authorization: Bearer tok-1\r\n"), 1);
	assert_true(cred_ready(c));

	/* a token past its end is not injected: the request is answered 503 instead */
	assert_int_equal(cred_set_token(c, "tok-old", 7, mw_now_mono_usec() - 1), 0);
	assert_false(cred_ready(c));
	assert_int_equal(rewrite(c, out, sizeof(out)), -EAGAIN);
	assert_int_equal(cred_set_token(c, "tok-new", 7, mw_now_mono_usec() + 60000000ULL), 0);
	assert_true(cred_ready(c));
	assert_int_equal(rewrite(c, out, sizeof(out)), 0);
	assert_int_equal(count(out, "Authorization: Bearer tok-new\r\n"), 1);

	/* refreshed half-way through a 2 s lifetime */
	assert_int_equal(oauth_start(c, on_report, &rs, &o), 0);
	for (int i = 0; i < 50 && fetches < 2; i++) {
		usleep(100 * 1000);
		oauth_status(o, err, sizeof(err), &fetches);
	}
	assert_true(fetches >= 2);
	assert_string_equal(err, "");
	assert_int_equal(rewrite(c, out, sizeof(out)), 0);
	assert_null(strstr(out, "tok-1\r\n"));
	assert_int_equal(count(out, "Authorization: Bearer tok-"), 1);
	oauth_stop(o);
	/* each fetch reported to the owner, by the credential's name */
	assert_true(rs.ok >= 2);
	assert_int_equal(rs.failed, 0);
	assert_int_equal(rs.last_ttl, 2);
	assert_string_equal(rs.name, "oauth:mw");
	assert_int_equal(rs.first_tokens, 1);
	assert_int_equal(rs.first_token_fetches, 1);

	/* a refusal says why without the secret */
	idp.status = 401;
	assert_int_equal(oauth_fetch(c, &expires, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "401: invalid_client"));
	assert_null(strstr(err, CLIENT_SECRET));
	cred_free(c);
	idp_stop(&idp);
}

/* An IdP that refuses the first fetch: the first token after it is still the first one
 * (logged "fetched"), the next ones are refreshes. */
static void test_oauth_first_fails(void **state)
{
	struct reports rs = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct mw_cred_spec spec = { .kind = MW_CRED_OAUTH, .bearer = true };
	struct idp idp = {};
	struct mw_cred *c;
	struct mw_oauth *o;
	unsigned ok = 0, failed = 0;

	idp_start(&idp);
	idp.status = 401;
	snprintf(spec.header, sizeof(spec.header), "Authorization");
	snprintf(spec.oauth.token_endpoint, sizeof(spec.oauth.token_endpoint),
		 "http://127.0.0.1:%u/token", idp.port);
	snprintf(spec.oauth.client_id, sizeof(spec.oauth.client_id), "mw");
	write_file("client_secret", CLIENT_SECRET "\n", spec.oauth.client_secret_file,
		   sizeof(spec.oauth.client_secret_file));
	assert_int_equal(cred_load(&spec, &c), 0);
	assert_int_equal(oauth_start(c, on_report, &rs, &o), 0);
	for (int i = 0; i < 50 && failed == 0; i++) {
		usleep(100 * 1000);
		pthread_mutex_lock(&rs.lock);
		failed = rs.failed;
		pthread_mutex_unlock(&rs.lock);
	}
	assert_int_equal(failed, 1);
	idp.status = 200;
	/* the retry comes MW_OAUTH_RETRY_SEC later, then a refresh half-way through 2 s */
	for (int i = 0; i < (MW_OAUTH_RETRY_SEC + 5) * 10 && ok < 2; i++) {
		usleep(100 * 1000);
		pthread_mutex_lock(&rs.lock);
		ok = rs.ok;
		pthread_mutex_unlock(&rs.lock);
	}
	oauth_stop(o);
	assert_true(rs.ok >= 2);
	assert_int_equal(rs.failed, 1);
	assert_int_equal(rs.first_tokens, 1);
	assert_int_equal(rs.first_token_fetches, 2);
	assert_true(cred_ready(c));
	cred_free(c);
	idp_stop(&idp);
}

/* A token endpoint that accepts the connection and never answers (the kernel completes the
 * handshake into the backlog): stopping the refresher aborts the fetch in flight instead of
 * waiting out MW_OAUTH_TIMEOUT_SEC, and reports nothing about it. */
static void test_oauth_stop_in_flight(void **state)
{
	struct reports rs = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct mw_cred_spec spec = { .kind = MW_CRED_OAUTH, .bearer = true };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	struct mw_cred *c;
	struct mw_oauth *o;
	uint64_t t0, took;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 8), 0);
	getsockname(fd, (struct sockaddr *)&a, &al);
	snprintf(spec.header, sizeof(spec.header), "Authorization");
	snprintf(spec.oauth.token_endpoint, sizeof(spec.oauth.token_endpoint),
		 "http://127.0.0.1:%u/token", ntohs(a.sin_port));
	snprintf(spec.oauth.client_id, sizeof(spec.oauth.client_id), "mw");
	write_file("client_secret", CLIENT_SECRET "\n", spec.oauth.client_secret_file,
		   sizeof(spec.oauth.client_secret_file));
	assert_int_equal(cred_load(&spec, &c), 0);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(oauth_start(c, on_report, &rs, &o), 0);
		usleep((useconds_t)(300 + 700 * round) * 1000); /* connected, waiting for the reply */
		t0 = mw_now_mono_usec();
		oauth_stop(o);
		took = mw_now_mono_usec() - t0;
		print_message("oauth_stop with a fetch in flight: %" PRIu64 " us\n", took);
		if (took > 500 * 1000)
			fail_msg("oauth_stop took %" PRIu64 " us", took);
	}
	assert_int_equal(rs.ok + rs.failed, 0);
	assert_false(cred_ready(c));
	cred_free(c);
	close(fd);
}

/* client_secret_basic: id and secret in HTTP Basic, neither in the body */
static void test_oauth_basic(void **state)
{
	struct mw_cred_spec spec = { .kind = MW_CRED_OAUTH, .bearer = true };
	struct idp idp = {};
	struct mw_cred *c;
	char err[256];
	uint64_t expires = 0;

	idp_start(&idp);
	snprintf(spec.header, sizeof(spec.header), "Authorization");
	snprintf(spec.oauth.token_endpoint, sizeof(spec.oauth.token_endpoint),
		 "http://127.0.0.1:%u/token", idp.port);
	snprintf(spec.oauth.client_id, sizeof(spec.oauth.client_id), "mw agent");
	spec.oauth.basic = true;
	write_file("client_secret", "s3:cr/t\n", spec.oauth.client_secret_file,
		   sizeof(spec.oauth.client_secret_file));
	assert_int_equal(cred_load(&spec, &c), 0);
	assert_int_equal(oauth_fetch(c, &expires, err, sizeof(err)), 0);
	/* base64("mw%20agent:s3%3Acr%2Ft"): each part form-encoded first (RFC 6749 2.3.1) */
	assert_string_equal(idp.last_auth, "Basic bXclMjBhZ2VudDpzMyUzQWNyJTJGdA==");
	assert_string_equal(idp.last_body, "grant_type=client_credentials");
	cred_free(c);
	idp_stop(&idp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bearer_file),
		cmocka_unit_test(test_header_keep_caller),
		cmocka_unit_test(test_systemd_credential),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_oauth),
		cmocka_unit_test(test_oauth_first_fails),
		cmocka_unit_test(test_oauth_stop_in_flight),
		cmocka_unit_test(test_oauth_basic),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
