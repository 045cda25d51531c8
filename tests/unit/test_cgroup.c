/* test_cgroup.c: naming cgroups (pure) and finding them on the live cgroup2 mount.
 *
 * The live half runs as root on a host with cgroup2: it creates mw-test-<pid>/inner under the
 * mount found from mountinfo, moves a forked child (holding one listening TCP socket) into
 * inner, and removes both in the group teardown. Without root or cgroup2 those tests are
 * skipped, saying why. */
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/magic.h>

#include "cgroup.h"
#include "util.h"

struct live {
	char skip_reason[PATH_MAX];
	char mount[PATH_MAX / 2];
	char top[PATH_MAX / 2 + 32];   /* <mount>/mw-test-<pid> */
	char inner[PATH_MAX / 2 + 64]; /* <top>/inner */
	uint64_t top_id, inner_id;
	pid_t child;
	int child_release; /* write end: closing it lets the child exit */
};

static struct live live = { .child = -1, .child_release = -1 };

/* --- pure: unit names -------------------------------------------------------------------- */

static void check_unit(const char *path, size_t size, const char *want, const char *file, int line)
{
	char got[256];

	memset(got, 'X', sizeof(got));
	assert_true(size <= sizeof(got));
	cgroup_unit_name(path, got, size);
	if (strcmp(got, want) == 0)
		return;
	print_error("cgroup_unit_name('%s', size %zu): expected '%s', got '%s'\n", path, size, want,
		    got);
	_fail(file, line);
}

#define assert_unit(path, want) check_unit(path, 256, want, __FILE__, __LINE__)

static void test_unit_name(void **state)
{
	assert_unit("/sys/fs/cgroup/system.slice/mcp-gateway.service", "mcp-gateway.service");
	assert_unit("/sys/fs/cgroup/app.slice/x.service/worker", "x.service");
	assert_unit("/sys/fs/cgroup/app.slice/x.service/a/b/c", "x.service");
	assert_unit("/sys/fs/cgroup/mcp.slice", "mcp.slice");
	assert_unit("/sys/fs/cgroup/system.slice/mcp-gateway.service/", "mcp-gateway.service");
	assert_unit("/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/"
		    "app-gnome-code-4242.scope",
		    "app-gnome-code-4242.scope");
	assert_unit("/sys/fs/cgroup/unified/init.scope", "init.scope");
	assert_unit("/sys/fs/cgroup/system.slice/docker-0123abcd.scope/inner",
		    "docker-0123abcd.scope");
	assert_unit("x.service", "x.service");
}

static void test_unit_name_none(void **state)
{
	assert_unit("/sys/fs/cgroup", "");
	assert_unit("/sys/fs/cgroup/", "");
	assert_unit("/sys/fs/cgroup/mw-test/inner", "");
	assert_unit("/", "");
	assert_unit("", "");
	/* a bare suffix is not a unit name; near misses are not either */
	assert_unit("/sys/fs/cgroup/.service", "");
	assert_unit("/sys/fs/cgroup/x.services", "");
	assert_unit("/sys/fs/cgroup/x.service.d", "");
	assert_unit("/sys/fs/cgroup/xservice", "");
	assert_unit("/sys/fs/cgroup/x.SERVICE", "");
	/* a bare suffix below a real unit: the unit above it */
	assert_unit("/sys/fs/cgroup/a.slice/.scope", "a.slice");
}

static void test_unit_name_small_buffer(void **state)
{
	const char *p = "/sys/fs/cgroup/system.slice/mcp-gateway.service";

	check_unit(p, 20, "mcp-gateway.service", __FILE__, __LINE__); /* exactly fits */
	/* does not fit: no name rather than the enclosing slice's */
	check_unit(p, 19, "", __FILE__, __LINE__);
	check_unit(p, 13, "", __FILE__, __LINE__);
	check_unit(p, 1, "", __FILE__, __LINE__);
}

/* --- pure: ancestry ---------------------------------------------------------------------- */

static void check_ancestor(const char *a, const char *b, int want, const char *file, int line)
{
	int got = cgroup_is_ancestor(a, b);

	if (!!got == want)
		return;
	print_error("cgroup_is_ancestor('%s', '%s'): expected %d, got %d\n", a, b, want, got);
	_fail(file, line);
}

#define assert_ancestor(a, b, want) check_ancestor(a, b, want, __FILE__, __LINE__)

static void test_is_ancestor(void **state)
{
	assert_ancestor("/a/b", "/a/b", 1);   /* the same cgroup */
	assert_ancestor("/a/b", "/a/b/c", 1); /* parent */
	assert_ancestor("/a", "/a/b/c/d", 1); /* grandparent */
	assert_ancestor("/a/b", "/a/bc", 0);  /* sibling sharing a prefix */
	assert_ancestor("/a/b", "/a/bc/d", 0);
	assert_ancestor("/a/bc", "/a/b", 0);
	assert_ancestor("/a/b/c", "/a/b", 0); /* child is not an ancestor */
	assert_ancestor("/a/b", "/a/x", 0);
	assert_ancestor("/a/b/", "/a/b", 1); /* trailing slash on either side */
	assert_ancestor("/a/b/", "/a/b/c", 1);
	assert_ancestor("/a/b//", "/a/b/c", 1);
	assert_ancestor("/a/b", "/a/b/", 1);
	assert_ancestor("/a/b/", "/a/bc", 0);
	assert_ancestor("/", "/a/b", 1); /* the root holds everything */
	assert_ancestor("/", "/", 1);
	assert_ancestor("/sys/fs/cgroup", "/sys/fs/cgroup/system.slice/x.service", 1);
	assert_ancestor("/sys/fs/cgroup/system.slice/x.service", "/sys/fs/cgroup", 0);
}

/* --- live cgroup2 ------------------------------------------------------------------------ */

static int wait_exit(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return status;
}

static void rmdir_retry(const char *path)
{
	/* the kernel may still hold a just-reaped child's css for a moment */
	for (int i = 0; i < 100; i++) {
		if (rmdir(path) == 0 || errno == ENOENT)
			return;
		if (errno != EBUSY)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
	fprintf(stderr, "test_cgroup: cannot remove '%s': %m\n", path);
}

/* A child that listens on one TCP socket and waits for the pipe to close. */
static pid_t spawn_child(int *ret_release)
{
	int ready[2], release[2];
	char c;
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(release, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		struct sockaddr_in sin = { .sin_family = AF_INET,
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		close(ready[0]);
		close(release[1]);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
		    listen(fd, 1) < 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		while (read(release[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(ready[1]);
	close(release[0]);
	if (read(ready[0], &c, 1) != 1) {
		close(ready[0]);
		close(release[1]);
		wait_exit(pid);
		return -ECHILD;
	}
	close(ready[0]);
	*ret_release = release[1];
	return pid;
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	if (n < 0)
		n = -errno;
	close(fd);
	return n < 0 ? (int)n : 0;
}

static int live_setup(void **state)
{
	struct statfs sfs;
	char procs[PATH_MAX + 16], pid[32];
	int r;

	if (geteuid() != 0) {
		snprintf(live.skip_reason, sizeof(live.skip_reason), "not root (euid %u)",
			 (unsigned)geteuid());
		return 0;
	}
	r = cgroup_find_mount(live.mount, sizeof(live.mount));
	if (r < 0) {
		snprintf(live.skip_reason, sizeof(live.skip_reason),
			 "no cgroup2 mount in /proc/self/mountinfo: %s", strerror(-r));
		return 0;
	}
	if (statfs(live.mount, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		snprintf(live.skip_reason, sizeof(live.skip_reason),
			 "'%s' is listed as cgroup2 but is not one", live.mount);
		return 0;
	}
	snprintf(live.top, sizeof(live.top), "%s/mw-test-%d", live.mount, (int)getpid());
	snprintf(live.inner, sizeof(live.inner), "%s/inner", live.top);
	if (mkdir(live.top, 0755) < 0 || mkdir(live.inner, 0755) < 0) {
		snprintf(live.skip_reason, sizeof(live.skip_reason), "cannot create '%s': %m",
			 live.inner);
		rmdir(live.top);
		return 0;
	}
	if (cgroup_id_of_path(live.top, &live.top_id) < 0 ||
	    cgroup_id_of_path(live.inner, &live.inner_id) < 0)
		return -1;
	live.child = spawn_child(&live.child_release);
	if (live.child < 0) {
		fprintf(stderr, "test_cgroup: cannot start the child: %s\n", strerror(-live.child));
		return -1;
	}
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", live.inner);
	snprintf(pid, sizeof(pid), "%d", (int)live.child);
	r = write_str(procs, pid);
	if (r < 0) {
		fprintf(stderr, "test_cgroup: cannot move %s into '%s': %s\n", pid, live.inner,
			strerror(-r));
		return -1;
	}
	return 0;
}

static int live_teardown(void **state)
{
	if (live.child > 0) {
		close(live.child_release);
		wait_exit(live.child);
		live.child = -1;
	}
	if (live.inner[0])
		rmdir_retry(live.inner);
	if (live.top[0])
		rmdir_retry(live.top);
	return 0;
}

#define require_live()                                                                             \
	do {                                                                                       \
		if (live.skip_reason[0]) {                                                         \
			print_message("skipped: %s\n", live.skip_reason);                          \
			skip();                                                                    \
		}                                                                                  \
	} while (0)

static void test_find_mount(void **state)
{
	struct statfs sfs;
	char small[4];

	require_live();
	assert_int_equal(live.mount[0], '/');
	assert_int_equal(statfs(live.mount, &sfs), 0);
	assert_int_equal(sfs.f_type, CGROUP2_SUPER_MAGIC);
	assert_int_equal(cgroup_find_mount(small, sizeof(small)), -ENAMETOOLONG);
}

static void check_resolve(const char *spec, int want_r, const char *want_path, uint64_t want_id,
			  const char *file, int line)
{
	char got[PATH_MAX] = "untouched";
	uint64_t id = 4242;
	int r = cgroup_resolve(live.mount, spec, got, sizeof(got), &id);

	if (r == want_r && (r < 0 ? strcmp(got, "untouched") == 0 && id == 4242
				  : strcmp(got, want_path) == 0 && id == want_id))
		return;
	print_error("cgroup_resolve('%s', '%s'): expected %d (%s) '%s' id %llu, got %d (%s) "
		    "'%s' id %llu\n",
		    live.mount, spec, want_r, want_r ? strerror(-want_r) : "ok",
		    want_r ? "untouched" : want_path, (unsigned long long)(want_r ? 4242 : want_id),
		    r, r ? strerror(-r) : "ok", got, (unsigned long long)id);
	_fail(file, line);
}

#define assert_resolve(spec, want_path, want_id)                                                   \
	check_resolve(spec, 0, want_path, want_id, __FILE__, __LINE__)
#define assert_resolve_err(spec, err) check_resolve(spec, err, NULL, 0, __FILE__, __LINE__)

static void test_resolve(void **state)
{
	char spec[PATH_MAX + 64], rel[64];
	uint64_t root_id;

	require_live();
	snprintf(rel, sizeof(rel), "mw-test-%d", (int)getpid());
	/* absolute, relative to the mount with and without a leading slash, messy */
	assert_resolve(live.top, live.top, live.top_id);
	assert_resolve(live.inner, live.inner, live.inner_id);
	assert_resolve(rel, live.top, live.top_id);
	snprintf(spec, sizeof(spec), "/%s/inner", rel);
	assert_resolve(spec, live.inner, live.inner_id);
	snprintf(spec, sizeof(spec), "%s//inner/", rel);
	assert_resolve(spec, live.inner, live.inner_id);
	snprintf(spec, sizeof(spec), "%s/inner/../inner/.", live.top);
	assert_resolve(spec, live.inner, live.inner_id);
	/* the mount itself is the root cgroup */
	assert_int_equal(cgroup_id_of_path(live.mount, &root_id), 0);
	assert_resolve(live.mount, live.mount, root_id);
	assert_resolve("/", live.mount, root_id);
	/* ret_id is optional */
	assert_int_equal(cgroup_resolve(live.mount, rel, spec, sizeof(spec), NULL), 0);
	assert_string_equal(spec, live.top);
}

static void test_resolve_errors(void **state)
{
	char spec[PATH_MAX + 64], small[8];

	require_live();
	snprintf(spec, sizeof(spec), "%s/missing", live.top);
	assert_resolve_err(spec, -ENOENT);
	assert_resolve_err("mw-test-no-such-cgroup", -ENOENT);
	/* an absolute path that is not under the mount is read as relative to it */
	assert_resolve_err("/etc", -ENOENT);
	/* paths that lead outside the mount */
	assert_resolve_err("..", -EXDEV);
	assert_resolve_err("../../../../../../../../etc", -EXDEV); /* ".." stops at "/" */
	snprintf(spec, sizeof(spec), "%s/../../../../../../../../../etc", live.inner);
	assert_resolve_err(spec, -EXDEV);
	/* a file inside a cgroup is not a cgroup */
	snprintf(spec, sizeof(spec), "%s/cgroup.procs", live.inner);
	assert_resolve_err(spec, -ENOTDIR);
	assert_resolve_err("", -EINVAL);
	assert_int_equal(cgroup_resolve(live.mount, NULL, spec, sizeof(spec), NULL), -EINVAL);
	assert_int_equal(cgroup_resolve(live.mount, live.inner, small, sizeof(small), NULL),
			 -ENAMETOOLONG);
}

static void test_of_pid(void **state)
{
	char got[PATH_MAX], want[PATH_MAX + 8], line[PATH_MAX];
	FILE *f;

	require_live();
	/* ourselves: whatever /proc/self/cgroup says, joined to the mount */
	f = fopen("/proc/self/cgroup", "re");
	assert_non_null(f);
	want[0] = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (strncmp(line, "0::", 3) == 0)
			snprintf(want, sizeof(want), "%s%s", live.mount,
				 strcmp(line + 3, "/") ? line + 3 : "");
	}
	fclose(f);
	assert_int_equal(cgroup_of_pid(live.mount, getpid(), got, sizeof(got)), 0);
	assert_string_equal(got, want);
	assert_true(cgroup_is_ancestor(live.mount, got));
	/* the child we moved */
	assert_int_equal(cgroup_of_pid(live.mount, live.child, got, sizeof(got)), 0);
	assert_string_equal(got, live.inner);
	assert_int_equal(cgroup_of_pid(live.mount, live.child, got, 8), -ENAMETOOLONG);
	assert_int_equal(cgroup_of_pid(live.mount, 0x7ffffff0, got, sizeof(got)), -ENOENT);
}

static void test_path_of_id(void **state)
{
	char got[PATH_MAX];
	uint64_t root_id;

	require_live();
	assert_int_equal(cgroup_path_of_id(live.mount, live.top_id, got, sizeof(got)), 0);
	assert_string_equal(got, live.top);
	assert_int_equal(cgroup_path_of_id(live.mount, live.inner_id, got, sizeof(got)), 0);
	assert_string_equal(got, live.inner);
	assert_int_equal(cgroup_path_of_id(live.top, live.inner_id, got, sizeof(got)), 0);
	assert_string_equal(got, live.inner);
	assert_int_equal(cgroup_id_of_path(live.mount, &root_id), 0);
	assert_int_equal(cgroup_path_of_id(live.mount, root_id, got, sizeof(got)), 0);
	assert_string_equal(got, live.mount);
	/* not below the given root */
	assert_int_equal(cgroup_path_of_id(live.inner, live.top_id, got, sizeof(got)), -ENOENT);
	assert_int_equal(cgroup_path_of_id(live.top, UINT64_MAX, got, sizeof(got)), -ENOENT);
}

/* The id is the directory's inode and the one the kernel hands out as the cgroup id (the
 * kernfs file handle is what bpf_get_current_cgroup_id() returns). */
static void test_id_of_path(void **state)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + sizeof(uint64_t)];
	} h = { .fh.handle_bytes = sizeof(uint64_t) };
	uint64_t handle_id;
	char procs[PATH_MAX + 16];
	struct stat st;
	uint64_t id;
	int mnt;

	require_live();
	assert_int_equal(cgroup_id_of_path(live.inner, &id), 0);
	assert_int_equal(stat(live.inner, &st), 0);
	assert_int_equal(id, st.st_ino);
	if (name_to_handle_at(AT_FDCWD, live.inner, &h.fh, &mnt, 0) == 0) {
		assert_int_equal(h.fh.handle_bytes, sizeof(uint64_t));
		memcpy(&handle_id, h.fh.f_handle, sizeof(handle_id));
		assert_int_equal(handle_id, id);
	} else {
		print_message("name_to_handle_at('%s'): %m; file-handle check skipped\n",
			      live.inner);
	}
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", live.inner);
	assert_int_equal(cgroup_id_of_path(procs, &id), -ENOTDIR);
	assert_int_equal(cgroup_id_of_path("/nonexistent/cgroup", &id), -ENOENT);
}

static void test_count_sockets(void **state)
{
	unsigned n = 4242;

	require_live();
	/* the child listens on one TCP socket; our own are not in the subtree */
	assert_int_equal(cgroup_count_sockets(live.inner, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(cgroup_count_sockets(live.top, &n), 0);
	assert_int_equal(n, 1);
}

int main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_unit_name),
		cmocka_unit_test(test_unit_name_none),
		cmocka_unit_test(test_unit_name_small_buffer),
		cmocka_unit_test(test_is_ancestor),
	};
	const struct CMUnitTest host[] = {
		cmocka_unit_test(test_find_mount),     cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_resolve_errors), cmocka_unit_test(test_of_pid),
		cmocka_unit_test(test_path_of_id),     cmocka_unit_test(test_id_of_path),
		cmocka_unit_test(test_count_sockets),
	};
	int failed;

	failed = cmocka_run_group_tests_name("cgroup names", pure, NULL, NULL);
	failed += cmocka_run_group_tests_name("cgroup2 host", host, live_setup, live_teardown);
	return failed;
}
