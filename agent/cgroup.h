/* cgroup.h: finding cgroup2 and naming cgroups.
 *
 * The cgroup2 mount is discovered from /proc/self/mountinfo, never assumed (it is
 * /sys/fs/cgroup on unified hosts, /sys/fs/cgroup/unified on hybrid ones).  A cgroup is
 * named by its path relative to that mount ("/system.slice/x.service"); its id is the
 * inode number of its directory, the value bpf_get_current_cgroup_id() returns. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The cgroup2 mount point, e.g. "/sys/fs/cgroup/unified". */
int cgroup_find_mount(char *ret_path, size_t size);

/* Resolve a user-given cgroup (absolute path under the mount, or relative to it) to its
 * absolute directory path and id. -ENOENT if there is no such cgroup, -EXDEV if the path
 * is outside the cgroup2 mount. */
int cgroup_resolve(const char *mount, const char *spec, char *ret_abs, size_t size,
		   uint64_t *ret_id);

/* The cgroup of a process, as an absolute directory path. */
int cgroup_of_pid(const char *mount, pid_t pid, char *ret_abs, size_t size);

/* Find the cgroup directory whose id is id, searching below root (depth-limited). */
int cgroup_path_of_id(const char *root, uint64_t id, char *ret_abs, size_t size);

/* The cgroup's id (inode of its directory). */
int cgroup_id_of_path(const char *abs, uint64_t *ret_id);

/* Is a an ancestor of (or the same cgroup as) b?  Both absolute paths. */
int cgroup_is_ancestor(const char *a, const char *b);

/* The systemd unit a cgroup path belongs to: the last path component ending in .service,
 * .scope or .slice ("" if none). */
void cgroup_unit_name(const char *abs, char *ret_unit, size_t size);

/* Count the TCP sockets held by the processes of a cgroup subtree (they were created
 * before enrollment and are not captured). */
int cgroup_count_sockets(const char *abs, unsigned *ret_count);
