/* control.c: see control.h.
 *
 * Each connection is a small state machine: READING (bytes accumulate in one bounded,
 * growable buffer until '\n' or EOF), then WRITING (one reply, sent non-blocking, EPOLLOUT
 * when the socket is full), then closed.  One timer per connection bounds both phases, so a
 * peer that neither sends nor reads cannot hold one of the MW_CONTROL_MAX_CLIENTS slots. */
#include "control.h"

#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "util.h"

/* The first read buffer; it doubles up to MW_CONTROL_MAX_REQUEST + 1 (the '\n'). */
#define CONTROL_BUFFER_INITIAL 4096
/* A client refuses a reply larger than this (a status or flow list is far smaller). */
#define CONTROL_MAX_REPLY (16 * 1024 * 1024)
/* Connections accepted per wakeup, so a flood cannot starve the rest of the loop. */
#define CONTROL_ACCEPT_BURST 16
/* After accept() fails for lack of fds, wait this long before trying again. */
#define CONTROL_ACCEPT_RETRY_USEC (100 * 1000ULL)
/* Supplementary groups read from the kernel (NGROUPS_MAX is 65536). */
#define CONTROL_MAX_GROUPS 1024

enum control_conn_state {
	CONN_READING,
	CONN_WRITING,
};

struct control_conn {
	struct mw_control *control;
	struct control_conn *prev, *next;
	int fd;
	enum control_conn_state state;
	struct ucred peer;
	sd_event_source *io;
	sd_event_source *timer;
	char *buf; /* READING: the request so far; WRITING: the reply */
	size_t len;
	size_t cap;
	size_t sent; /* WRITING: bytes of buf already written */
};

struct mw_control {
	sd_event *event;
	sd_event_source *listen_io;
	sd_event_source *retry_timer;
	int fd;
	char *path;
	dev_t dev; /* the socket file we created, so we never unlink someone else's */
	ino_t ino;
	gid_t group;
	mw_control_handler_t handler;
	void *userdata;
	uint64_t timeout_usec;
	struct control_conn *conns;
	unsigned n_conns;
	/* Problems with peers are answered to them and counted here, never logged. */
	uint64_t n_accepted;
	uint64_t n_refused_busy;
	uint64_t n_refused_perm;
	uint64_t n_timeouts;
	uint64_t n_bad_requests;
};

static struct control_conn *conn_free(struct control_conn *conn)
{
	if (!conn)
		return NULL;
	if (conn->control) {
		if (conn->prev)
			conn->prev->next = conn->next;
		else
			conn->control->conns = conn->next;
		if (conn->next)
			conn->next->prev = conn->prev;
		conn->control->n_conns--;
	}
	sd_event_source_disable_unref(conn->io);
	sd_event_source_disable_unref(conn->timer);
	if (conn->fd >= 0)
		close(conn->fd);
	free(conn->buf);
	free(conn);
	return NULL;
}

/* Serialize a reply, always ending in '\n'.  Returns NULL only on allocation failure. */
static char *reply_dump(json_t *reply, size_t *ret_len)
{
	char *s, *line;
	size_t n;

	s = json_dumps(reply, JSON_COMPACT);
	if (!s)
		return NULL;
	n = strlen(s);
	line = realloc(s, n + 2);
	if (!line) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	*ret_len = n + 1;
	return line;
}

static json_t *error_reply(const char *text, bool usage)
{
	return json_pack("{s:b, s:s, s:b}", "ok", 0, "error", text, "usage", usage);
}

/* For peers we will not serve (too many, not allowed, timed out): one non-blocking write of
 * a short error.  A full socket buffer just loses the courtesy, never blocks the loop. */
static void send_error_now(int fd, const char *text, bool usage)
{
	_cleanup_(json_decrefp) json_t *reply = error_reply(text, usage);
	_cleanup_free_ char *line = NULL;
	size_t len;

	if (!reply)
		return;
	line = reply_dump(reply, &len);
	if (line)
		(void)!send(fd, line, len, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static int conn_write(struct control_conn *conn)
{
	while (conn->sent < conn->len) {
		ssize_t n = send(conn->fd, conn->buf + conn->sent, conn->len - conn->sent,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return sd_event_source_set_io_events(conn->io, EPOLLOUT);
			return -errno;
		}
		conn->sent += (size_t)n;
	}
	return 1; /* all written */
}

/* Switch to WRITING with reply as the connection's only output.  Returns < 0 if the
 * connection should be dropped now, 0 if it lives on. */
static int conn_start_reply(struct control_conn *conn, json_t *reply)
{
	char *line;
	size_t len;
	int r;

	line = reply_dump(reply, &len);
	if (!line)
		return -ENOMEM;
	free(conn->buf);
	conn->buf = line;
	conn->len = len;
	conn->cap = len;
	conn->sent = 0;
	conn->state = CONN_WRITING;

	/* A fresh deadline for the write: the request phase may have used most of it. */
	r = sd_event_source_set_time_relative(conn->timer, conn->control->timeout_usec);
	if (r < 0)
		return r;
	r = sd_event_source_set_enabled(conn->timer, SD_EVENT_ONESHOT);
	if (r < 0)
		return r;

	r = conn_write(conn);
	if (r < 0)
		return r;
	return r > 0 ? -ECANCELED : 0; /* done: close */
}

static int conn_reply_error(struct control_conn *conn, const char *text, bool usage)
{
	_cleanup_(json_decrefp) json_t *reply = error_reply(text, usage);

	if (!reply)
		return -ENOMEM;
	return conn_start_reply(conn, reply);
}

/* Parse the request in buf[0..len) and answer it. */
static int conn_handle_request(struct control_conn *conn, size_t len)
{
	struct mw_control *c = conn->control;
	_cleanup_(json_decrefp) json_t *request = NULL;
	_cleanup_(json_decrefp) json_t *reply = NULL;
	json_error_t jerr;
	json_t *command;
	char errbuf[512];
	int r;

	request = json_loadb(conn->buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!request) {
		c->n_bad_requests++;
		snprintf(errbuf, sizeof(errbuf), "malformed request: %s at line %d column %d",
			 jerr.text, jerr.line, jerr.column);
		return conn_reply_error(conn, errbuf, true);
	}
	if (!json_is_object(request)) {
		c->n_bad_requests++;
		return conn_reply_error(conn, "malformed request: not a JSON object", true);
	}
	command = json_object_get(request, "command");
	if (!json_is_string(command)) {
		c->n_bad_requests++;
		return conn_reply_error(conn,
					command ? "malformed request: 'command' is not a string"
						: "malformed request: no 'command'",
					true);
	}

	errbuf[0] = '\0';
	r = c->handler(c->userdata, &conn->peer, request, &reply, errbuf, sizeof(errbuf));
	if (r < 0) {
		json_decref(TAKE_PTR(reply)); /* a handler should not, but may, leave one */
		if (!errbuf[0])
			snprintf(errbuf, sizeof(errbuf), "%s", strerror(-r));
		return conn_reply_error(conn, errbuf, r == -EINVAL);
	}
	if (!json_is_object(reply))
		return conn_reply_error(conn, "internal error: the handler returned no reply",
					false);
	if (!json_object_get(reply, "ok") && json_object_set_new(reply, "ok", json_true()) < 0)
		return -ENOMEM;
	return conn_start_reply(conn, reply);
}

static int conn_grow(struct control_conn *conn)
{
	size_t limit = MW_CONTROL_MAX_REQUEST + 1; /* the request and its '\n' */
	size_t cap;
	char *p;

	if (conn->cap >= limit)
		return -E2BIG;
	cap = conn->cap ? conn->cap * 2 : CONTROL_BUFFER_INITIAL;
	if (cap > limit)
		cap = limit;
	p = realloc(conn->buf, cap);
	if (!p)
		return -ENOMEM;
	conn->buf = p;
	conn->cap = cap;
	return 0;
}

/* Returns < 0 to drop the connection, 0 to keep it. */
static int conn_read(struct control_conn *conn)
{
	char text[128];

	for (;;) {
		size_t scanned = conn->len;
		char *nl;
		ssize_t n;
		int r;

		if (conn->len == conn->cap) {
			r = conn_grow(conn);
			if (r == -E2BIG) {
				conn->control->n_bad_requests++;
				snprintf(text, sizeof(text), "request too large (limit %d bytes)",
					 MW_CONTROL_MAX_REQUEST);
				return conn_reply_error(conn, text, true);
			}
			if (r < 0)
				return r;
		}
		n = recv(conn->fd, conn->buf + conn->len, conn->cap - conn->len, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -errno;
		}
		if (n == 0) {
			/* EOF: a client may shut down its side instead of sending '\n'. */
			if (conn->len == 0)
				return -ECONNRESET;
			if (conn->len > MW_CONTROL_MAX_REQUEST) {
				conn->control->n_bad_requests++;
				snprintf(text, sizeof(text), "request too large (limit %d bytes)",
					 MW_CONTROL_MAX_REQUEST);
				return conn_reply_error(conn, text, true);
			}
			return conn_handle_request(conn, conn->len);
		}
		conn->len += (size_t)n;
		nl = memchr(conn->buf + scanned, '\n', conn->len - scanned);
		if (nl) {
			/* Anything after the '\n' is ignored: one request per connection. */
			if ((size_t)(nl - conn->buf) > MW_CONTROL_MAX_REQUEST) {
				conn->control->n_bad_requests++;
				snprintf(text, sizeof(text), "request too large (limit %d bytes)",
					 MW_CONTROL_MAX_REQUEST);
				return conn_reply_error(conn, text, true);
			}
			return conn_handle_request(conn, (size_t)(nl - conn->buf));
		}
	}
}

static int on_conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct control_conn *conn = userdata;
	int r;

	if (conn->state == CONN_READING) {
		r = conn_read(conn);
		/* READING turned into WRITING with everything already written is also < 0. */
	} else {
		r = conn_write(conn);
		if (r > 0)
			r = -ECANCELED;
		else if (r == 0 && (revents & (EPOLLERR | EPOLLHUP)))
			r = -ECONNRESET;
	}
	if (r < 0)
		conn_free(conn);
	return 0;
}

static int on_conn_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct control_conn *conn = userdata;
	char text[128];

	conn->control->n_timeouts++;
	if (conn->state == CONN_READING) {
		snprintf(text, sizeof(text), "timed out waiting for the request (%" PRIu64 " ms)",
			 conn->control->timeout_usec / 1000);
		send_error_now(conn->fd, text, false);
	}
	conn_free(conn);
	return 0;
}

/* Is gid among the peer's supplementary groups?  SO_PEERGROUPS gives the groups as they
 * were at connect(), which cannot be raced; /proc/PID/status is the fallback for kernels
 * before 4.13 (the pid could in theory be reused by then, hence second choice). */
static int peer_in_group_sockopt(int fd, gid_t group)
{
	gid_t groups[CONTROL_MAX_GROUPS];
	socklen_t len = sizeof(groups);
	size_t i;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return -errno;
	for (i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == group)
			return 1;
	return 0;
}

static int peer_in_group_proc(pid_t pid, gid_t group)
{
	char path[64], line[4096];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *p, *end;

		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		for (p = line + 7;; p = end) {
			unsigned long v;

			errno = 0;
			v = strtoul(p, &end, 10);
			if (end == p || errno)
				break;
			if ((gid_t)v == group && v <= UINT_MAX) {
				found = 1;
				break;
			}
		}
		break;
	}
	fclose(f);
	return found;
}

static bool peer_allowed(struct mw_control *c, int fd, const struct ucred *peer)
{
	int r;

	if (peer->uid == 0)
		return true;
	if (c->group == (gid_t)-1)
		return false;
	if (peer->gid == c->group)
		return true;
	r = peer_in_group_sockopt(fd, c->group);
	if (r == -ENOPROTOOPT)
		r = peer_in_group_proc(peer->pid, c->group);
	return r > 0;
}

static void control_accept_one(struct mw_control *c, int fd)
{
	_cleanup_close_ int cfd = fd;
	struct control_conn *conn;
	struct ucred peer;
	socklen_t len = sizeof(peer);
	char text[160];
	int r;

	if (c->n_conns >= MW_CONTROL_MAX_CLIENTS) {
		c->n_refused_busy++;
		snprintf(text, sizeof(text), "too many control connections (limit %d), try again",
			 MW_CONTROL_MAX_CLIENTS);
		send_error_now(cfd, text, false);
		return;
	}
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0 || len != sizeof(peer)) {
		c->n_refused_perm++;
		return;
	}
	if (!peer_allowed(c, cfd, &peer)) {
		c->n_refused_perm++;
		snprintf(text, sizeof(text),
			 "permission denied: uid %u is neither root nor a member of the control "
			 "group",
			 (unsigned)peer.uid);
		send_error_now(cfd, text, false);
		return;
	}

	conn = calloc(1, sizeof(*conn));
	if (!conn)
		return;
	conn->fd = TAKE_FD(cfd);
	conn->peer = peer;
	conn->state = CONN_READING;
	r = sd_event_add_io(c->event, &conn->io, conn->fd, EPOLLIN, on_conn_io, conn);
	if (r >= 0)
		r = sd_event_add_time_relative(c->event, &conn->timer, CLOCK_MONOTONIC,
					       c->timeout_usec, 0, on_conn_timeout, conn);
	if (r < 0) {
		conn_free(conn);
		return;
	}
	conn->control = c;
	conn->next = c->conns;
	if (c->conns)
		c->conns->prev = conn;
	c->conns = conn;
	c->n_conns++;
	c->n_accepted++;
}

static int on_accept_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct mw_control *c = userdata;

	c->retry_timer = sd_event_source_disable_unref(c->retry_timer);
	(void)sd_event_source_set_enabled(c->listen_io, SD_EVENT_ON);
	return 0;
}

static int on_listen_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct mw_control *c = userdata;
	int i;

	for (i = 0; i < CONTROL_ACCEPT_BURST; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (cfd >= 0) {
			control_accept_one(c, cfd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			/* The pending connection stays queued and the fd stays readable: pause
			 * instead of spinning. */
			if (!c->retry_timer &&
			    sd_event_add_time_relative(c->event, &c->retry_timer, CLOCK_MONOTONIC,
						       CONTROL_ACCEPT_RETRY_USEC, 0,
						       on_accept_retry, c) >= 0)
				(void)sd_event_source_set_enabled(c->listen_io, SD_EVENT_OFF);
		}
		break; /* EAGAIN, or nothing better to do */
	}
	return 0;
}

/* A socket file at path: stale (nobody listening) is removed; a live one means another
 * instance owns it; anything that is not a socket is left alone. */
static int control_remove_stale(const char *path, const struct sockaddr_un *sa, socklen_t salen)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, salen) == 0 || errno == EAGAIN)
		return -EADDRINUSE; /* EAGAIN: alive, its backlog is just full */
	if (errno != ECONNREFUSED && errno != ENOENT)
		return -errno;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int control_new(sd_event *event, const char *path, gid_t group, mw_control_handler_t handler,
		void *userdata, struct mw_control **ret)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t salen;
	struct mw_control *c;
	struct stat st;
	mode_t old_umask;
	int r;

	if (!event || !path || !handler || !ret)
		return -EINVAL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	salen = offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = -1;
	c->group = group;
	c->handler = handler;
	c->userdata = userdata;
	c->timeout_usec = MW_CONTROL_TIMEOUT_USEC;
	c->event = sd_event_ref(event);

	r = control_remove_stale(path, &sa, salen);
	if (r < 0)
		goto fail;

	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		r = -errno;
		goto fail;
	}
	/* The file never has wider permissions than 0600, whatever the caller's umask; the
	 * exact mode and group are set before listen(), so no peer can connect in between.
	 * umask() is process-wide: this runs at start-up, before any thread exists. */
	old_umask = umask(0177);
	r = bind(c->fd, (struct sockaddr *)&sa, salen) < 0 ? -errno : 0;
	umask(old_umask);
	if (r < 0)
		goto fail;
	c->path = strdup(path);
	if (!c->path) {
		unlink(path);
		r = -ENOMEM;
		goto fail;
	}
	if (lstat(path, &st) < 0) {
		r = -errno;
		goto fail;
	}
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	if (group != (gid_t)-1 && lchown(path, (uid_t)-1, group) < 0) {
		r = -errno;
		goto fail;
	}
	if (chmod(path, group != (gid_t)-1 ? 0660 : 0600) < 0) {
		r = -errno;
		goto fail;
	}
	if (listen(c->fd, SOMAXCONN) < 0) {
		r = -errno;
		goto fail;
	}
	r = sd_event_add_io(event, &c->listen_io, c->fd, EPOLLIN, on_listen_io, c);
	if (r < 0)
		goto fail;

	*ret = c;
	return 0;
fail:
	control_free(c);
	return r;
}

struct mw_control *control_free(struct mw_control *c)
{
	struct stat st;

	if (!c)
		return NULL;
	while (c->conns)
		conn_free(c->conns);
	sd_event_source_disable_unref(c->listen_io);
	sd_event_source_disable_unref(c->retry_timer);
	if (c->fd >= 0)
		close(c->fd);
	/* Only our own file: a newer instance may already have replaced it. */
	if (c->path && lstat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
		unlink(c->path);
	free(c->path);
	sd_event_unref(c->event);
	free(c);
	return NULL;
}

/* For tests: a shorter per-connection deadline (applies to connections accepted later). */
int control_set_timeout(struct mw_control *c, uint64_t timeout_usec)
{
	if (!c || timeout_usec == 0)
		return -EINVAL;
	c->timeout_usec = timeout_usec;
	return 0;
}

/* --- client side ------------------------------------------------------------------------- */

static int fmt_error(char *errbuf, size_t errlen, int err, const char *fmt, ...) _printf_(4, 5);
static int fmt_error(char *errbuf, size_t errlen, int err, const char *fmt, ...)
{
	va_list ap;

	if (errbuf && errlen) {
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* Wait for events on fd until deadline (CLOCK_MONOTONIC usec). */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		uint64_t now = mw_now_mono_usec();
		int ms, n;

		if (now >= deadline)
			return -ETIMEDOUT;
		ms = (int)((deadline - now + 999) / 1000);
		n = poll(&p, 1, ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n > 0)
			return 0;
	}
}

static const char *connect_hint(int err)
{
	switch (err) {
	case ENOENT:
	case ECONNREFUSED:
		return " (is mcpwardend running?)";
	case EACCES:
	case EPERM:
		return " (run as root or as a member of the control socket's group)";
	default:
		return "";
	}
}

int control_call(const char *path, json_t *request, uint64_t timeout_usec, json_t **ret_reply,
		 char *errbuf, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *out = NULL;
	_cleanup_free_ char *in = NULL;
	size_t out_len, out_sent = 0, in_len = 0, in_cap = 0;
	struct timeval tv;
	uint64_t deadline;
	json_error_t jerr;
	json_t *reply;
	bool eof = false;
	char *nl = NULL;
	int r;

	if (!path || !request || !ret_reply)
		return fmt_error(errbuf, errlen, -EINVAL, "invalid arguments");
	if (timeout_usec == 0)
		timeout_usec = MW_CONTROL_TIMEOUT_USEC;
	deadline = mw_now_mono_usec() + timeout_usec;
	if (strlen(path) >= sizeof(sa.sun_path))
		return fmt_error(errbuf, errlen, -ENAMETOOLONG, "cannot connect to '%s': %s", path,
				 strerror(ENAMETOOLONG));
	memcpy(sa.sun_path, path, strlen(path) + 1);

	out = json_dumps(request, JSON_COMPACT);
	if (!out)
		return fmt_error(errbuf, errlen, -ENOMEM, "cannot serialize the request");
	out_len = strlen(out);
	if (out_len > MW_CONTROL_MAX_REQUEST)
		return fmt_error(errbuf, errlen, -E2BIG, "request too large (limit %d bytes)",
				 MW_CONTROL_MAX_REQUEST);
	out[out_len++] = '\n'; /* replaces the terminating NUL; out is not a string any more */

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fmt_error(errbuf, errlen, -errno, "cannot create a socket: %s",
				 strerror(errno));
	/* A blocking connect() on a Unix socket waits only while the backlog is full, and
	 * SO_SNDTIMEO bounds that wait. */
	tv.tv_sec = (time_t)(timeout_usec / 1000000);
	tv.tv_usec = (suseconds_t)(timeout_usec % 1000000);
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno == EINPROGRESS || errno == EAGAIN ? ETIMEDOUT : errno;

		return fmt_error(errbuf, errlen, -err, "cannot connect to '%s': %s%s", path,
				 strerror(err), connect_hint(err));
	}

	while (out_sent < out_len) {
		ssize_t n;

		r = wait_fd(fd, POLLOUT, deadline);
		if (r < 0)
			return fmt_error(errbuf, errlen, r, "timed out sending the request to '%s'",
					 path);
		n = send(fd, out + out_sent, out_len - out_sent, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			/* The server may have answered (an error) and closed: read it. */
			if (errno == EPIPE || errno == ECONNRESET)
				break;
			return fmt_error(errbuf, errlen, -errno, "cannot send to '%s': %s", path,
					 strerror(errno));
		}
		out_sent += (size_t)n;
	}

	while (!nl && !eof) {
		ssize_t n;

		if (in_len == in_cap) {
			size_t cap = in_cap ? in_cap * 2 : 4096;
			char *p;

			if (in_cap >= CONTROL_MAX_REPLY)
				return fmt_error(errbuf, errlen, -E2BIG,
						 "reply from '%s' too large (limit %d bytes)", path,
						 CONTROL_MAX_REPLY);
			if (cap > CONTROL_MAX_REPLY)
				cap = CONTROL_MAX_REPLY;
			p = realloc(in, cap);
			if (!p)
				return fmt_error(errbuf, errlen, -ENOMEM, "out of memory");
			in = p;
			in_cap = cap;
		}
		r = wait_fd(fd, POLLIN, deadline);
		if (r == -ETIMEDOUT)
			return fmt_error(errbuf, errlen, r,
					 "timed out after %" PRIu64
					 " ms waiting for a reply from '%s'",
					 timeout_usec / 1000, path);
		if (r < 0)
			return fmt_error(errbuf, errlen, r, "cannot read from '%s': %s", path,
					 strerror(-r));
		n = recv(fd, in + in_len, in_cap - in_len, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			/* A server that closes with our request partly unread makes the kernel
			 * report ECONNRESET after its reply: treat it as the end. */
			if (errno == ECONNRESET && in_len > 0) {
				eof = true;
				break;
			}
			return fmt_error(errbuf, errlen, -errno, "cannot read from '%s': %s", path,
					 strerror(errno));
		}
		if (n == 0) {
			eof = true;
			break;
		}
		nl = memchr(in + in_len, '\n', (size_t)n);
		in_len += (size_t)n;
	}
	if (nl)
		in_len = (size_t)(nl - in);
	if (in_len == 0)
		return fmt_error(errbuf, errlen, -ECONNRESET,
				 "'%s' closed the connection without a reply", path);

	reply = json_loadb(in, in_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!reply)
		return fmt_error(errbuf, errlen, -EBADMSG,
				 "malformed reply from '%s': %s at line %d column %d", path,
				 jerr.text, jerr.line, jerr.column);
	if (!json_is_object(reply)) {
		json_decref(reply);
		return fmt_error(errbuf, errlen, -EBADMSG,
				 "malformed reply from '%s': not a JSON object", path);
	}
	*ret_reply = reply;
	return 0;
}
