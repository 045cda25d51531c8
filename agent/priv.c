/* priv.c: see priv.h. */
#include "priv.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <poll.h>

#include "cgroup.h"
#include "util.h"

#define PRIV_CALL_TIMEOUT_MS 10000

int caps_drop_bounding(void)
{
	for (int c = 0; c <= CAP_LAST_CAP; c++)
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1 && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 &&
		    errno != EINVAL)
			return -errno;
	return 0;
}

int caps_drop_except(const int *keep, unsigned n_keep)
{
	cap_t caps;
	int r = 0;

	for (int c = 0; c <= CAP_LAST_CAP; c++) {
		bool kept = false;

		for (unsigned i = 0; i < n_keep; i++)
			kept |= keep[i] == c;
		/* already gone (dropped before leaving uid 0) needs no CAP_SETPCAP */
		if (kept || prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	}
	caps = cap_init();
	if (!caps)
		return -errno;
	if (n_keep && (cap_set_flag(caps, CAP_PERMITTED, (int)n_keep, keep, CAP_SET) < 0 ||
		       cap_set_flag(caps, CAP_EFFECTIVE, (int)n_keep, keep, CAP_SET) < 0))
		r = -errno;
	if (r == 0 && cap_set_proc(caps) < 0)
		r = -errno;
	cap_free(caps);
	if (r < 0)
		return r;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

static _printf_(3, 4) void reply_err(struct mw_priv_reply *rep, int err, const char *fmt, ...)
{
	va_list ap;

	rep->err = err;
	va_start(ap, fmt);
	vsnprintf(rep->msg, sizeof(rep->msg), fmt, ap);
	va_end(ap);
}

/* The open directory is still the cgroup that was checked: same id, inside the mount,
 * not the agent's own or an ancestor of it. */
static int fd_is_cgroup(int fd, const char *mount, const char *self_cg, uint64_t id)
{
	char link[64], real[PATH_MAX];
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_ino != id)
		return -ESTALE;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, real, sizeof(real) - 1);
	if (n < 0)
		return -errno;
	real[n] = 0;
	if (!cgroup_is_ancestor(mount, real) || cgroup_is_ancestor(real, self_cg))
		return -ESTALE;
	return 0;
}

static void handle(struct mw_loader *loader, const char *mount, const char *self_cg,
		   const struct mw_priv_req *req, struct mw_priv_reply *rep)
{
	_cleanup_close_ int fd = -1;
	char path[PATH_MAX];
	uint64_t id;
	int r;

	memset(rep, 0, sizeof(*rep));
	rep->seq = req->seq;
	r = cgroup_resolve(mount, req->path, path, sizeof(path), &id);
	if (r < 0) {
		if (r == -EXDEV)
			return reply_err(rep, r, "'%s' is not inside the cgroup2 mount (%s)",
					 req->path, mount);
		return reply_err(rep, r, "no cgroup '%s': %s", req->path, strerror(-r));
	}
	snprintf(rep->path, sizeof(rep->path), "%s", path);
	rep->id = id;
	switch (req->op) {
	case MW_PRIV_ENROLL:
		if (cgroup_is_ancestor(path, self_cg)) {
			rep->err = -ELOOP;
			snprintf(rep->msg, sizeof(rep->msg),
				 "'%s' contains the agent itself; enroll the gateway's own cgroup",
				 path);
			return;
		}
		/* attach to the directory we checked, not to whatever the path names later */
		fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return reply_err(rep, -errno, "cannot open '%s': %s", path, strerror(errno));
		r = fd_is_cgroup(fd, mount, self_cg, id);
		if (r < 0)
			return reply_err(rep, r, "'%s' changed while it was being enrolled", path);
		r = loader_enroll(loader, fd, id);
		if (r == -EEXIST)
			return reply_err(rep, r, "'%s' is already enrolled", path);
		if (r < 0)
			return reply_err(rep, r, "cannot attach to '%s': %s", path, strerror(-r));
		cgroup_count_sockets(path, &rep->existing_sockets);
		return;
	case MW_PRIV_UNENROLL:
		r = loader_unenroll(loader, id);
		if (r == -ENOENT)
			return reply_err(rep, r, "'%s' is not enrolled", path);
		if (r < 0)
			return reply_err(rep, r, "cannot detach from '%s': %s", path, strerror(-r));
		return;
	}
	reply_err(rep, -EINVAL, "unknown request %u", req->op);
}

static _Noreturn void priv_main(int fd, pid_t parent, struct mw_loader *loader,
				const char *mount, const char *self_cg)
{
	static const int keep[] = { CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_SYS_PTRACE,
				    CAP_DAC_READ_SEARCH };
	struct mw_priv_req req;
	struct mw_priv_reply rep;

	prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	prctl(PR_SET_NAME, "mcpwardend-priv", 0, 0, 0);
	if (getppid() != parent) /* the daemon died before PDEATHSIG was set */
		_exit(0);
	if (caps_drop_except(keep, ARRAY_SIZE(keep)) < 0)
		_exit(1);
	for (;;) {
		ssize_t n = recv(fd, &req, sizeof(req), 0);

		if (n == 0)
			_exit(0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		if ((size_t)n != sizeof(req) || memchr(req.path, 0, sizeof(req.path)) == NULL) {
			memset(&rep, 0, sizeof(rep));
			reply_err(&rep, -EBADMSG, "malformed request");
		} else {
			handle(loader, mount, self_cg, &req, &rep);
		}
		if (send(fd, &rep, sizeof(rep), MSG_NOSIGNAL) < 0)
			_exit(1);
	}
}

int priv_start(struct mw_loader *loader, const char *cg_mount, const char *agent_cgroup,
	       struct mw_priv *ret)
{
	pid_t parent = getpid(), pid;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int r = -errno;

		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (pid == 0) {
		close(sv[0]);
		priv_main(sv[1], parent, loader, cg_mount, agent_cgroup);
	}
	close(sv[1]);
	ret->pid = pid;
	ret->fd = sv[0];
	return 0;
}

int priv_call(struct mw_priv *p, enum mw_priv_op op, const char *path, struct mw_priv_reply *ret)
{
	struct mw_priv_req req = { .op = op, .seq = ++p->seq };
	struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
	ssize_t n;

	if (p->fd < 0)
		return -ENOTCONN;
	if (strlen(path) >= sizeof(req.path))
		return -ENAMETOOLONG;
	strcpy(req.path, path);
	if (send(p->fd, &req, sizeof(req), MSG_NOSIGNAL) != (ssize_t)sizeof(req))
		return -EPIPE;
	do { /* skip answers to earlier calls that timed out */
		n = poll(&pfd, 1, PRIV_CALL_TIMEOUT_MS);
		if (n <= 0)
			return n == 0 ? -ETIMEDOUT : -errno;
		n = recv(p->fd, ret, sizeof(*ret), 0);
		if (n != (ssize_t)sizeof(*ret))
			return -EBADMSG;
	} while (ret->seq != req.seq);
	ret->msg[sizeof(ret->msg) - 1] = 0;
	ret->path[sizeof(ret->path) - 1] = 0;
	return 0;
}

void priv_stop(struct mw_priv *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	if (p->pid > 0) {
		kill(p->pid, SIGTERM);
		waitpid(p->pid, NULL, 0);
	}
	p->pid = 0;
}
