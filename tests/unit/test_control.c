/* test_control.c: the control socket, server and client, end to end.  The server runs in its
 * own sd-event loop on a thread; the tests talk to it with control_call() or raw sockets. */
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "control.h"
#include "util.h"

/* Not in control.h: a shorter per-connection deadline, for tests only. */

#define assert_contains(haystack, needle)                                                          \
	do {                                                                                       \
		const char *_h = (haystack), *_n = (needle);                                       \
		if (!_h || !strstr(_h, _n)) {                                                      \
			print_error("expected '%s' to contain '%s'\n", _h ? _h : "(null)", _n);    \
			fail();                                                                    \
		}                                                                                  \
	} while (0)

#define assert_json_string(obj, key, expected)                                                     \
	assert_string_equal(json_string_value(json_object_get((obj), (key))) ?: "(missing)",       \
			    (expected))

#define assert_json_bool(obj, key, expected)                                                       \
	do {                                                                                       \
		json_t *_v = json_object_get((obj), (key));                                        \
		if (!json_is_boolean(_v) || json_is_true(_v) != (expected)) {                      \
			print_error("expected '%s' to be %s, got %s\n", (key),                     \
				    (expected) ? "true" : "false",                                 \
				    !_v		       ? "(missing)"                               \
				    : json_is_true(_v) ? "true"                                    \
						       : "false");                                 \
			fail();                                                                    \
		}                                                                                  \
	} while (0)

struct server {
	char dir[64];
	char path[96]; /* fits sun_path */
	gid_t group;
	uint64_t timeout_usec; /* 0: the default */
	mode_t umask;	       /* in force while the server creates its socket */
	pthread_t thread;
	bool running;
	int stop_fd;	 /* eventfd: the loop exits when it is written */
	int ready_fd[2]; /* the thread reports control_new()'s result */
	/* Written by the handler (server thread), read after a reply was received. */
	int calls;
	struct ucred last_peer;
};

static int handler(void *userdata, const struct ucred *peer, json_t *request, json_t **ret_reply,
		   char *errbuf, size_t errlen)
{
	struct server *s = userdata;
	const char *cmd = json_string_value(json_object_get(request, "command"));

	s->calls++;
	s->last_peer = *peer;
	if (!strcmp(cmd, "echo")) {
		*ret_reply = json_pack("{s:O}", "echo", request);
		return 0;
	}
	if (!strcmp(cmd, "fail")) {
		snprintf(errbuf, errlen, "it failed");
		return -EPERM;
	}
	if (!strcmp(cmd, "usage")) {
		snprintf(errbuf, errlen, "bad option 'x'");
		return -EINVAL;
	}
	if (!strcmp(cmd, "custom")) {
		*ret_reply = json_pack("{s:b, s:s}", "ok", 0, "error", "set by the handler");
		return 0;
	}
	if (!strcmp(cmd, "big")) {
		size_t n = (size_t)json_integer_value(json_object_get(request, "size"));
		_cleanup_free_ char *blob = malloc(n + 1);

		if (!blob)
			return -ENOMEM;
		memset(blob, 'x', n);
		blob[n] = '\0';
		*ret_reply = json_pack("{s:s}", "blob", blob);
		return 0;
	}
	snprintf(errbuf, errlen, "unknown command '%s'", cmd);
	return -EINVAL;
}

static int on_stop(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	return sd_event_exit(sd_event_source_get_event(src), 0);
}

static void *server_thread(void *arg)
{
	struct server *s = arg;
	struct mw_control *c = NULL;
	sd_event *e = NULL;
	mode_t old;
	int r;

	r = sd_event_new(&e);
	if (r >= 0)
		r = sd_event_add_io(e, NULL, s->stop_fd, EPOLLIN, on_stop, s);
	if (r >= 0) {
		old = umask(s->umask);
		r = control_new(e, s->path, s->group, handler, s, &c);
		umask(old);
	}
	if (r >= 0 && s->timeout_usec)
		r = control_set_timeout(c, s->timeout_usec);
	(void)!write(s->ready_fd[1], &r, sizeof(r));
	if (r >= 0)
		sd_event_loop(e);
	control_free(c);
	sd_event_unref(e);
	return NULL;
}

/* Start the server; returns control_new()'s result. */
static int server_start(struct server *s)
{
	int r = -EIO;

	s->stop_fd = eventfd(0, EFD_CLOEXEC);
	assert_true(s->stop_fd >= 0);
	assert_int_equal(pipe2(s->ready_fd, O_CLOEXEC), 0);
	assert_int_equal(pthread_create(&s->thread, NULL, server_thread, s), 0);
	assert_int_equal(read(s->ready_fd[0], &r, sizeof(r)), sizeof(r));
	s->running = true;
	return r;
}

static void server_stop(struct server *s)
{
	uint64_t one = 1;

	if (!s->running)
		return;
	assert_int_equal(write(s->stop_fd, &one, sizeof(one)), sizeof(one));
	pthread_join(s->thread, NULL);
	close(s->stop_fd);
	close(s->ready_fd[0]);
	close(s->ready_fd[1]);
	s->running = false;
}

static int setup(void **state)
{
	struct server *s = calloc(1, sizeof(*s));

	if (!s)
		return -1;
	snprintf(s->dir, sizeof(s->dir), "/tmp/mw-test-control-XXXXXX");
	if (!mkdtemp(s->dir))
		return -1;
	snprintf(s->path, sizeof(s->path), "%s/control.sock", s->dir);
	s->group = (gid_t)-1;
	s->umask = 022;
	*state = s;
	return 0;
}

/* Most tests: a server with the defaults, already running. */
static int setup_running(void **state)
{
	if (setup(state) < 0)
		return -1;
	return server_start(*state) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	struct server *s = *state;

	server_stop(s);
	unlink(s->path);
	rmdir(s->dir);
	free(s);
	return 0;
}

/* --- raw client helpers ------------------------------------------------------------------- */

static int raw_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		print_error("connect('%s'): %s\n", path, strerror(errno));
		fail();
	}
	return fd;
}

static void raw_send(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n < 0)
			return; /* the server may have answered and closed already */
		data += n;
		len -= (size_t)n;
	}
}

/* Read until EOF (the server closes after its reply) and parse the first line. */
static json_t *raw_reply(int fd, int timeout_ms)
{
	static char buf[256 * 1024];
	size_t len = 0;
	json_error_t jerr;
	char *nl;
	json_t *j;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, timeout_ms) != 1) {
			print_error("no reply within %d ms (got %zu bytes)\n", timeout_ms, len);
			fail();
		}
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n < 0 && errno == ECONNRESET && len > 0)
			break;
		if (n < 0) {
			print_error("recv: %s\n", strerror(errno));
			fail();
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	nl = strchr(buf, '\n');
	if (!nl) {
		print_error("expected a reply ending in '\\n', got '%s'\n", buf);
		fail();
	}
	j = json_loadb(buf, (size_t)(nl - buf), 0, &jerr);
	if (!j) {
		print_error("expected a JSON reply, got '%s' (%s)\n", buf, jerr.text);
		fail();
	}
	return j;
}

static json_t *raw_exchange(const char *path, const char *data, size_t len)
{
	int fd = raw_connect(path);
	json_t *j;

	raw_send(fd, data, len);
	j = raw_reply(fd, 3000);
	close(fd);
	return j;
}

static json_t *call(struct server *s, json_t *request)
{
	char errbuf[256] = "";
	json_t *reply = NULL;
	int r;

	r = control_call(s->path, request, 3000000, &reply, errbuf, sizeof(errbuf));
	json_decref(request);
	if (r < 0) {
		print_error("control_call: %d (%s)\n", r, errbuf);
		fail();
	}
	return reply;
}

/* --- tests -------------------------------------------------------------------------------- */

static void test_roundtrip(void **state)
{
	struct server *s = *state;
	json_auto_t *reply = call(s, json_pack("{s:s, s:i}", "command", "echo", "n", 42));
	json_t *echo = json_object_get(reply, "echo");

	assert_json_bool(reply, "ok", true);
	assert_json_string(echo, "command", "echo");
	assert_int_equal(json_integer_value(json_object_get(echo, "n")), 42);
	assert_int_equal(s->calls, 1);
	assert_int_equal(s->last_peer.uid, getuid());
	assert_int_equal(s->last_peer.pid, getpid());
}

static void test_handler_errors(void **state)
{
	struct server *s = *state;
	json_auto_t *fail_reply = call(s, json_pack("{s:s}", "command", "fail"));
	json_auto_t *usage_reply = call(s, json_pack("{s:s}", "command", "usage"));
	json_auto_t *custom = call(s, json_pack("{s:s}", "command", "custom"));

	assert_json_bool(fail_reply, "ok", false);
	assert_json_string(fail_reply, "error", "it failed");
	assert_json_bool(fail_reply, "usage", false);
	assert_json_bool(usage_reply, "ok", false);
	assert_json_string(usage_reply, "error", "bad option 'x'");
	assert_json_bool(usage_reply, "usage", true);
	/* "ok" set by the handler is kept. */
	assert_json_bool(custom, "ok", false);
	assert_json_string(custom, "error", "set by the handler");
}

/* A reply far larger than a socket buffer: the server must finish it with EPOLLOUT. */
static void test_big_reply(void **state)
{
	struct server *s = *state;
	const size_t size = 4 * 1024 * 1024;
	json_auto_t *reply =
	    call(s, json_pack("{s:s, s:I}", "command", "big", "size", (json_int_t)size));

	assert_json_bool(reply, "ok", true);
	assert_int_equal(json_string_length(json_object_get(reply, "blob")), size);
}

static void test_malformed_json(void **state)
{
	struct server *s = *state;
	static const char bad[] = "{\"command\": \"status\",}\n";
	json_auto_t *reply = raw_exchange(s->path, bad, strlen(bad));
	const char *err = json_string_value(json_object_get(reply, "error"));

	assert_json_bool(reply, "ok", false);
	assert_json_bool(reply, "usage", true);
	assert_contains(err, "malformed request: ");
	assert_contains(err, " at line 1 column ");
	assert_int_equal(s->calls, 0);
}

static void test_missing_command(void **state)
{
	struct server *s = *state;
	static const struct {
		const char *request;
		const char *error;
	} cases[] = {
	    {"{}\n", "malformed request: no 'command'"},
	    {"{\"command\": 5}\n", "malformed request: 'command' is not a string"},
	    {"[\"status\"]\n", "malformed request: not a JSON object"},
	    {"\"status\"\n", "malformed request: not a JSON object"},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		json_auto_t *reply =
		    raw_exchange(s->path, cases[i].request, strlen(cases[i].request));

		assert_json_bool(reply, "ok", false);
		assert_json_bool(reply, "usage", true);
		assert_json_string(reply, "error", cases[i].error);
	}
	assert_int_equal(s->calls, 0);
}

static void test_oversize(void **state)
{
	struct server *s = *state;
	size_t len = MW_CONTROL_MAX_REQUEST + 4096;
	_cleanup_free_ char *big = malloc(len);
	json_auto_t *reply = NULL;

	assert_non_null(big);
	memset(big, ' ', len); /* whitespace: it would parse, were it allowed */
	reply = raw_exchange(s->path, big, len);
	assert_json_bool(reply, "ok", false);
	assert_json_bool(reply, "usage", true);
	assert_json_string(reply, "error", "request too large (limit 65536 bytes)");
	assert_int_equal(s->calls, 0);
}

/* Exactly MW_CONTROL_MAX_REQUEST bytes before the '\n' is still a request. */
static void test_max_size_accepted(void **state)
{
	struct server *s = *state;
	static const char req[] = "{\"command\": \"echo\"}";
	size_t len = MW_CONTROL_MAX_REQUEST + 1;
	_cleanup_free_ char *buf = malloc(len);
	json_auto_t *reply = NULL;

	assert_non_null(buf);
	memset(buf, ' ', len);
	memcpy(buf + MW_CONTROL_MAX_REQUEST - strlen(req), req, strlen(req));
	buf[len - 1] = '\n';
	reply = raw_exchange(s->path, buf, len);
	assert_json_bool(reply, "ok", true);
	assert_int_equal(s->calls, 1);
}

static void test_split_request(void **state)
{
	struct server *s = *state;
	static const char *parts[] = {"{\"comm", "and\": \"ec", "ho\", \"x\"", ": [1, 2]}", "\n"};
	struct timespec pause = {.tv_nsec = 30 * 1000000};
	int fd = raw_connect(s->path);
	json_auto_t *reply = NULL;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(parts); i++) {
		raw_send(fd, parts[i], strlen(parts[i]));
		nanosleep(&pause, NULL);
	}
	reply = raw_reply(fd, 3000);
	close(fd);
	assert_json_bool(reply, "ok", true);
	assert_int_equal(json_array_size(json_object_get(json_object_get(reply, "echo"), "x")), 2);
}

/* A client may end its request with shutdown(SHUT_WR) instead of '\n'. */
static void test_request_ended_by_eof(void **state)
{
	struct server *s = *state;
	static const char req[] = "{\"command\": \"echo\"}";
	int fd = raw_connect(s->path);
	json_auto_t *reply = NULL;

	raw_send(fd, req, strlen(req));
	shutdown(fd, SHUT_WR);
	reply = raw_reply(fd, 3000);
	close(fd);
	assert_json_bool(reply, "ok", true);
}

static void test_socket_mode(void **state)
{
	struct server *s = *state;
	struct stat st;

	s->umask = 0; /* the socket must not inherit a permissive umask */
	assert_int_equal(server_start(s), 0);
	assert_int_equal(lstat(s->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
}

static void test_socket_mode_group(void **state)
{
	struct server *s = *state;
	struct stat st;

	if (geteuid() != 0)
		skip(); /* chown to another group needs root */
	s->group = 4242;
	s->umask = 0;
	assert_int_equal(server_start(s), 0);
	assert_int_equal(lstat(s->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_gid, 4242);
}

static void test_stale_socket_replaced(void **state)
{
	struct server *s = *state;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	json_auto_t *reply = NULL;
	struct stat st;

	/* A socket file nobody listens on: what a crashed daemon leaves behind. */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(lstat(s->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));

	assert_int_equal(server_start(s), 0);
	reply = call(s, json_pack("{s:s}", "command", "echo"));
	assert_json_bool(reply, "ok", true);
}

/* A live server's socket is not stolen, and a file that is not a socket is not removed. */
static void test_live_socket_and_file_kept(void **state)
{
	struct server *s = *state;
	struct mw_control *c = NULL;
	sd_event *e = NULL;
	char other[160];
	int fd;

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(control_new(e, s->path, (gid_t)-1, handler, s, &c), -EADDRINUSE);
	assert_null(c);

	snprintf(other, sizeof(other), "%s/not-a-socket", s->dir);
	fd = open(other, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(control_new(e, other, (gid_t)-1, handler, s, &c), -EEXIST);
	assert_int_equal(access(other, F_OK), 0);
	unlink(other);
	sd_event_unref(e);

	/* And the running server still answers. */
	json_auto_t *reply = call(s, json_pack("{s:s}", "command", "echo"));
	assert_json_bool(reply, "ok", true);
}

static void test_slow_client_timed_out(void **state)
{
	struct server *s = *state;
	static const char partial[] = "{\"command\": \"ec";
	json_auto_t *reply = NULL;
	uint64_t start, elapsed;
	int fd;

	s->timeout_usec = 200 * 1000;
	assert_int_equal(server_start(s), 0);
	fd = raw_connect(s->path);
	start = mw_now_mono_usec();
	raw_send(fd, partial, strlen(partial));
	reply = raw_reply(fd, 3000);
	elapsed = mw_now_mono_usec() - start;
	close(fd);
	assert_json_bool(reply, "ok", false);
	assert_contains(json_string_value(json_object_get(reply, "error")),
			"timed out waiting for the request");
	if (elapsed < 150000 || elapsed > 1500000) {
		print_error("expected the close after ~200 ms, got %llu ms\n",
			    (unsigned long long)(elapsed / 1000));
		fail();
	}
	assert_int_equal(s->calls, 0);
}

static void test_max_clients(void **state)
{
	struct server *s = *state;
	int fds[MW_CONTROL_MAX_CLIENTS];
	json_auto_t *busy = NULL;
	json_auto_t *after = NULL;
	size_t i;
	int fd;

	for (i = 0; i < ARRAY_SIZE(fds); i++)
		fds[i] = raw_connect(s->path);
	fd = raw_connect(s->path);
	busy = raw_reply(fd, 3000);
	close(fd);
	assert_json_bool(busy, "ok", false);
	assert_contains(json_string_value(json_object_get(busy, "error")),
			"too many control connections (limit 32)");

	/* Idle clients leaving free their slots. */
	for (i = 0; i < ARRAY_SIZE(fds); i++)
		close(fds[i]);
	for (i = 0; i < 50; i++) {
		char errbuf[256];
		json_t *request = json_pack("{s:s}", "command", "echo");

		assert_int_equal(
		    control_call(s->path, request, 3000000, &after, errbuf, sizeof(errbuf)), 0);
		json_decref(request);
		if (json_is_true(json_object_get(after, "ok")))
			break;
		json_decref(TAKE_PTR(after));
		usleep(10000);
	}
	assert_non_null(after);
	assert_json_bool(after, "ok", true);
}

/* Run fn in a child with the given credentials; returns the child's exit status. */
static int as_user(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups,
		   int (*fn)(struct server *), struct server *s)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgroups(ngroups, groups) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
			_exit(100);
		_exit(fn(s));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* Child: 0 served, 1 refused with "permission denied", 2 anything else. */
static int child_call(struct server *s)
{
	json_t *request = json_pack("{s:s}", "command", "echo");
	json_t *reply = NULL;
	char errbuf[256];
	const char *err;

	if (control_call(s->path, request, 3000000, &reply, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "child: %s\n", errbuf);
		return 2;
	}
	if (json_is_true(json_object_get(reply, "ok")))
		return 0;
	err = json_string_value(json_object_get(reply, "error"));
	if (err && strstr(err, "permission denied: uid 65534"))
		return 1;
	fprintf(stderr, "child: unexpected reply error '%s'\n", err ? err : "(none)");
	return 2;
}

/* SO_PEERCRED is the real gate; the file mode is opened up here to reach it. */
static void test_peer_credentials(void **state)
{
	struct server *s = *state;
	const gid_t supplementary[] = {1000, 4242};

	if (geteuid() != 0)
		skip();
	s->group = 4242;
	assert_int_equal(server_start(s), 0);
	assert_int_equal(chmod(s->dir, 0711), 0);
	assert_int_equal(chmod(s->path, 0666), 0);

	/* Not root, not in the group. */
	assert_int_equal(as_user(65534, 65534, NULL, 0, child_call, s), 1);
	/* The group as primary gid. */
	assert_int_equal(as_user(65534, 4242, NULL, 0, child_call, s), 0);
	/* The group as a supplementary one. */
	assert_int_equal(as_user(65534, 65534, supplementary, 2, child_call, s), 0);
	assert_int_equal(s->last_peer.uid, 65534);
}

static void test_peer_credentials_no_group(void **state)
{
	struct server *s = *state;
	const gid_t supplementary[] = {4242};

	if (geteuid() != 0)
		skip();
	assert_int_equal(server_start(s), 0);
	assert_int_equal(chmod(s->dir, 0711), 0);
	assert_int_equal(chmod(s->path, 0666), 0);
	/* Without a configured group, only root. */
	assert_int_equal(as_user(65534, 4242, supplementary, 1, child_call, s), 1);
}

static void test_call_errors(void **state)
{
	struct server *s = *state;
	json_auto_t *request = json_pack("{s:s}", "command", "echo");
	json_t *reply = NULL;
	char errbuf[256];
	char expected[512];
	int r;

	r = control_call(s->path, request, 1000000, &reply, errbuf, sizeof(errbuf));
	assert_int_equal(r, -ENOENT);
	assert_null(reply);
	snprintf(expected, sizeof(expected),
		 "cannot connect to '%s': No such file or directory (is mcpwardend running?)",
		 s->path);
	assert_string_equal(errbuf, expected);
}

/* A server that accepts but never answers: the client gives up on time. */
static void test_call_timeout(void **state)
{
	struct server *s = *state;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	json_auto_t *request = json_pack("{s:s}", "command", "echo");
	json_t *reply = NULL;
	char errbuf[256];
	uint64_t start, elapsed;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int r;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	start = mw_now_mono_usec();
	r = control_call(s->path, request, 200000, &reply, errbuf, sizeof(errbuf));
	elapsed = mw_now_mono_usec() - start;
	close(fd);
	assert_int_equal(r, -ETIMEDOUT);
	assert_contains(errbuf, "timed out after 200 ms waiting for a reply");
	assert_true(elapsed >= 190000 && elapsed < 1000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_roundtrip, setup_running, teardown),
	    cmocka_unit_test_setup_teardown(test_handler_errors, setup_running, teardown),
	    cmocka_unit_test_setup_teardown(test_big_reply, setup_running, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_json, setup_running, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_command, setup_running, teardown),
	    cmocka_unit_test_setup_teardown(test_oversize, setup_running, teardown),
	    cmocka_unit_test_setup_teardown(test_max_size_accepted, setup_running, teardown),
	    cmocka_unit_test_setup_teardown(test_split_request, setup_running, teardown),
	    cmocka_unit_test_setup_teardown(test_request_ended_by_eof, setup_running, teardown),
	    cmocka_unit_test_setup_teardown(test_socket_mode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_socket_mode_group, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_socket_replaced, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_live_socket_and_file_kept, setup_running,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_slow_client_timed_out, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_max_clients, setup_running, teardown),
	    cmocka_unit_test_setup_teardown(test_peer_credentials, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_peer_credentials_no_group, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_call_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_call_timeout, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
