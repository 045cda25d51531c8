/* cgroup.c: see cgroup.h. */
#include "cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "util.h"

#define CGROUP_WALK_MAX_DEPTH 64
#define CGROUP_MAX_SOCKETS 65536

int cgroup_find_mount(char *ret_path, size_t size)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	FILE *f;
	int r = -ENOENT;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		/* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
		char root[PATH_MAX], mnt[PATH_MAX], fstype[64];
		const char *dash = strstr(line, " - ");

		if (!dash || sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2)
			continue;
		if (sscanf(dash + 3, "%63s", fstype) != 1 || strcmp(fstype, "cgroup2") != 0)
			continue;
		if ((size_t)snprintf(ret_path, size, "%s", mnt) >= size) {
			r = -ENAMETOOLONG;
			break;
		}
		r = 0;
		break;
	}
	fclose(f);
	return r;
}

int cgroup_id_of_path(const char *abs, uint64_t *ret_id)
{
	struct stat st;

	if (stat(abs, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	*ret_id = (uint64_t)st.st_ino;
	return 0;
}

int cgroup_resolve(const char *mount, const char *spec, char *ret_abs, size_t size,
		   uint64_t *ret_id)
{
	char joined[PATH_MAX], real[PATH_MAX], procs[PATH_MAX + 16];
	size_t mlen = strlen(mount);
	uint64_t id = 0;
	int r;

	if (!spec || !*spec)
		return -EINVAL;
	if (strncmp(spec, mount, mlen) == 0 && (spec[mlen] == '/' || spec[mlen] == 0))
		r = snprintf(joined, sizeof(joined), "%s", spec);
	else
		r = snprintf(joined, sizeof(joined), "%s/%s", mount, spec[0] == '/' ? spec + 1 : spec);
	if (r < 0 || (size_t)r >= sizeof(joined))
		return -ENAMETOOLONG;
	if (!realpath(joined, real))
		return -errno;
	if (strncmp(real, mount, mlen) != 0 || (real[mlen] != '/' && real[mlen] != 0))
		return -EXDEV;
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", real);
	if (access(procs, F_OK) < 0)
		return -ENOTDIR;
	r = cgroup_id_of_path(real, &id);
	if (r < 0)
		return r;
	if ((size_t)snprintf(ret_abs, size, "%s", real) >= size)
		return -ENAMETOOLONG;
	if (ret_id)
		*ret_id = id;
	return 0;
}

int cgroup_of_pid(const char *mount, pid_t pid, char *ret_abs, size_t size)
{
	_cleanup_free_ char *line = NULL;
	char path[64];
	size_t cap = 0;
	FILE *f;
	int r = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = 0;
		if (strncmp(line, "0::", 3) != 0)
			continue;
		r = snprintf(ret_abs, size, "%s%s", mount, strcmp(line + 3, "/") ? line + 3 : "");
		r = (r < 0 || (size_t)r >= size) ? -ENAMETOOLONG : 0;
		break;
	}
	fclose(f);
	return r;
}

static int walk_for_id(char *path, size_t size, size_t len, uint64_t id, int depth)
{
	DIR *d;
	struct dirent *de;
	int r = -ENOENT;

	if (depth > CGROUP_WALK_MAX_DEPTH)
		return -ENOENT;
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		size_t n;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		n = strlen(de->d_name);
		if (len + 1 + n + 1 > size)
			continue;
		path[len] = '/';
		memcpy(path + len + 1, de->d_name, n + 1);
		if ((uint64_t)de->d_ino == id) {
			r = 0;
			break;
		}
		r = walk_for_id(path, size, len + 1 + n, id, depth + 1);
		if (r == 0)
			break;
	}
	if (r < 0)
		path[len] = 0;
	closedir(d);
	return r;
}

int cgroup_path_of_id(const char *root, uint64_t id, char *ret_abs, size_t size)
{
	char path[PATH_MAX];
	uint64_t rid = 0;
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s", root) >= sizeof(path))
		return -ENAMETOOLONG;
	if (cgroup_id_of_path(root, &rid) == 0 && rid == id)
		r = 0;
	else
		r = walk_for_id(path, sizeof(path), strlen(path), id, 0);
	if (r < 0)
		return r;
	if ((size_t)snprintf(ret_abs, size, "%s", path) >= size)
		return -ENAMETOOLONG;
	return 0;
}

int cgroup_is_ancestor(const char *a, const char *b)
{
	size_t n = strlen(a);

	while (n > 0 && a[n - 1] == '/') /* "/" itself trims to "", the ancestor of all */
		n--;
	return strncmp(a, b, n) == 0 && (b[n] == '/' || b[n] == 0);
}

void cgroup_unit_name(const char *abs, char *ret_unit, size_t size)
{
	static const char *const suffixes[] = { ".service", ".scope", ".slice" };
	const char *end = abs + strlen(abs);

	ret_unit[0] = 0;
	while (end > abs) {
		const char *start = end;
		size_t n;

		while (start > abs && start[-1] != '/')
			start--;
		n = (size_t)(end - start);
		for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
			size_t sl = strlen(suffixes[i]);

			if (n <= sl || memcmp(end - sl, suffixes[i], sl) != 0)
				continue;
			if (n < size) { /* else "": an ancestor's name would be the wrong unit */
				memcpy(ret_unit, start, n);
				ret_unit[n] = 0;
			}
			return;
		}
		end = start > abs ? start - 1 : abs;
	}
}

/* Socket inodes of one process's fds, appended to inodes[]. */
static void pid_socket_inodes(const char *pid, uint64_t *inodes, unsigned *n)
{
	char path[64], link[64];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d)) && *n < CGROUP_MAX_SOCKETS) {
		unsigned long long ino;
		ssize_t l;

		if (de->d_name[0] == '.')
			continue;
		l = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (l <= 0)
			continue;
		link[l] = 0;
		if (sscanf(link, "socket:[%llu]", &ino) == 1)
			inodes[(*n)++] = ino;
	}
	closedir(d);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* How many of the (sorted, unique) inodes are TCP sockets in the netns of pid. */
static unsigned count_tcp(const char *pid, const uint64_t *inodes, unsigned n)
{
	static const char *const tables[] = { "tcp", "tcp6" };
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	unsigned count = 0;

	for (size_t t = 0; t < ARRAY_SIZE(tables); t++) {
		char path[64];
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%s/net/%s", pid, tables[t]);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (getline(&line, &cap, f) > 0) {
			unsigned long long ino;
			uint64_t key;

			if (sscanf(line, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %llu", &ino) != 1)
				continue;
			key = ino;
			if (ino && bsearch(&key, inodes, n, sizeof(*inodes), cmp_u64))
				count++;
		}
		fclose(f);
	}
	return count;
}

/* Collect the socket inodes of every process in the subtree; remember one pid for its
 * netns (processes of one cgroup share it in practice). */
static void collect_subtree(const char *abs, int depth, uint64_t *inodes, unsigned *n,
			    char *first_pid, size_t pid_size)
{
	_cleanup_free_ char *line = NULL;
	char path[PATH_MAX];
	struct dirent *de;
	size_t cap = 0;
	DIR *d;
	FILE *f;

	if (depth > CGROUP_WALK_MAX_DEPTH)
		return;
	snprintf(path, sizeof(path), "%s/cgroup.procs", abs);
	f = fopen(path, "re");
	if (!f)
		return;
	while (getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = 0;
		if (!first_pid[0])
			snprintf(first_pid, pid_size, "%s", line);
		pid_socket_inodes(line, inodes, n);
	}
	fclose(f);
	d = opendir(abs);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", abs, de->d_name);
		collect_subtree(path, depth + 1, inodes, n, first_pid, pid_size);
	}
	closedir(d);
}

int cgroup_count_sockets(const char *abs, unsigned *ret_count)
{
	_cleanup_free_ uint64_t *inodes = calloc(CGROUP_MAX_SOCKETS, sizeof(*inodes));
	char first_pid[32] = "";
	unsigned n = 0, u = 0;

	if (!inodes)
		return -ENOMEM;
	collect_subtree(abs, 0, inodes, &n, first_pid, sizeof(first_pid));
	qsort(inodes, n, sizeof(*inodes), cmp_u64);
	for (unsigned i = 0; i < n; i++) /* a socket shared by parent and child counts once */
		if (u == 0 || inodes[u - 1] != inodes[i])
			inodes[u++] = inodes[i];
	*ret_count = u ? count_tcp(first_pid, inodes, u) : 0;
	return 0;
}
