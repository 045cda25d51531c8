/* loader.c: see loader.h. */
#include "loader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "capture.skel.h"
#include "splice.skel.h"
#include "cgroup.h"
#include "util.h"

/* The programs attached to each enrolled cgroup, with their pin names. */
#define GW_PROGS 7

struct enrolled {
	uint64_t id;
	struct bpf_link *links[GW_PROGS];
};

struct mw_loader {
	struct capture_bpf *skel;
	char pin_dir[PATH_MAX];
	struct bpf_link *self_link;
	struct splice_bpf *splice;
	struct bpf_link *splice_link;
	struct enrolled enrolled[MW_ENROLLED_MAX];
	unsigned n_enrolled;
};

static struct bpf_program *gw_prog(struct mw_loader *l, int i)
{
	struct bpf_program *progs[GW_PROGS] = {
		l->skel->progs.mw_connect4,	l->skel->progs.mw_connect6,
		l->skel->progs.mw_sockops,	l->skel->progs.mw_getpeername4,
		l->skel->progs.mw_getpeername6, l->skel->progs.mw_bind4,
		l->skel->progs.mw_bind6,
	};
	return progs[i];
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* bpffs must be mounted where the pins go (nothing mounts it at boot on some hosts). */
static int ensure_bpffs(const char *pin_dir)
{
	char parent[PATH_MAX];
	struct statfs sf;
	char *slash;

	if (statfs(pin_dir, &sf) == 0)
		return sf.f_type == BPF_FS_MAGIC ? 0 : -ENOTSUP;
	snprintf(parent, sizeof(parent), "%s", pin_dir);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return -EINVAL;
	*slash = 0;
	if (statfs(parent, &sf) < 0)
		return -errno;
	if (sf.f_type != BPF_FS_MAGIC && mount("bpf", parent, "bpf", 0, "mode=0700") < 0)
		return -errno;
	return mkdir_p(pin_dir, 0700);
}

int loader_open(const char *pin_dir, struct mw_loader **ret)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	char maps_dir[PATH_MAX + 8];
	struct mw_loader *l;
	int r;

	r = ensure_bpffs(pin_dir);
	if (r < 0)
		return r;
	snprintf(maps_dir, sizeof(maps_dir), "%s/maps", pin_dir);
	r = mkdir_p(maps_dir, 0700);
	if (r < 0)
		return r;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	snprintf(l->pin_dir, sizeof(l->pin_dir), "%s", pin_dir);
	opts.pin_root_path = maps_dir;
	l->skel = capture_bpf__open_opts(&opts);
	if (!l->skel) {
		r = -errno;
		free(l);
		return r;
	}
	r = capture_bpf__load(l->skel);
	if (r < 0) {
		capture_bpf__destroy(l->skel);
		free(l);
		return r;
	}
	*ret = l;
	return 0;
}

struct mw_loader *loader_free(struct mw_loader *l)
{
	if (!l)
		return NULL;
	/* links stay pinned: closing our fds does not detach them */
	loader_forget_links(l);
	bpf_link__destroy(l->self_link);
	bpf_link__destroy(l->splice_link);
	splice_bpf__destroy(l->splice);
	capture_bpf__destroy(l->skel);
	free(l);
	return NULL;
}

int loader_settings_get(struct mw_loader *l, struct mw_settings *ret)
{
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(l->skel->maps.mw_settings), &zero, ret) < 0)
		return -errno;
	return 0;
}

int loader_settings_set(struct mw_loader *l, const struct mw_settings *s)
{
	uint32_t zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.mw_settings), &zero, s, BPF_ANY) < 0)
		return -errno;
	return 0;
}

int loader_rules_set(struct mw_loader *l, const struct mw_capture_entry *rules, unsigned n)
{
	int fd = bpf_map__fd(l->skel->maps.mw_rules);
	struct mw_settings s;
	uint32_t bank;
	int r;

	if (n > MW_CAPTURE_RULES_MAX)
		return -E2BIG;
	r = loader_settings_get(l, &s);
	if (r < 0)
		return r;
	/* write the idle bank, then flip: connects see the old set or the new one */
	bank = (s.rules_sel >> 16) ? 0 : 1;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t key = bank * MW_CAPTURE_RULES_MAX + i;

		if (bpf_map_update_elem(fd, &key, &rules[i], BPF_ANY) < 0)
			return -errno;
	}
	s.rules_sel = MW_RULES_SEL(bank, n);
	return loader_settings_set(l, &s);
}

int loader_inbound_get(struct mw_loader *l, uint16_t port, struct mw_inbound *ret)
{
	uint32_t key = port;

	if (bpf_map_lookup_elem(bpf_map__fd(l->skel->maps.mw_inbound), &key, ret) < 0)
		return -errno;
	return 0;
}

int loader_inbound_set(struct mw_loader *l, const uint16_t *ports, const uint16_t *backends,
		       unsigned n)
{
	int fd = bpf_map__fd(l->skel->maps.mw_inbound);
	uint32_t key, next, stale[MW_INBOUND_MAX];
	unsigned n_stale = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &next) == 0 && n_stale < MW_INBOUND_MAX) {
		bool keep = false;

		for (unsigned i = 0; i < n; i++)
			keep |= ports[i] == next;
		if (!keep)
			stale[n_stale++] = next;
		key = next;
		prev = &key;
	}
	for (unsigned i = 0; i < n_stale; i++)
		bpf_map_delete_elem(fd, &stale[i]);
	for (unsigned i = 0; i < n; i++) {
		struct mw_inbound v = {};

		key = ports[i];
		if (bpf_map_lookup_elem(fd, &key, &v) == 0 && v.backend_port == backends[i])
			continue;
		v = (struct mw_inbound){ .backend_port = backends[i] };
		if (bpf_map_update_elem(fd, &key, &v, BPF_ANY) < 0)
			return -errno;
	}
	return 0;
}

int loader_attach_self(struct mw_loader *l, const char *cgroup_abs)
{
	_cleanup_close_ int fd = open(cgroup_abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	l->self_link = bpf_program__attach_cgroup(l->skel->progs.mw_getsockopt, fd);
	if (!l->self_link)
		return -errno;
	return 0;
}

int loader_enable_bypass(struct mw_loader *l, const char *cgroup_abs)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	char maps_dir[PATH_MAX + 8];
	_cleanup_close_ int fd = -1;
	int r;

	snprintf(maps_dir, sizeof(maps_dir), "%s/maps", l->pin_dir);
	opts.pin_root_path = maps_dir; /* the same pinned maps as the capture programs */
	l->splice = splice_bpf__open_opts(&opts);
	if (!l->splice)
		return -errno;
	r = splice_bpf__load(l->splice);
	if (r < 0)
		return r;
	/* replaces the program a previous agent left on the pinned map */
	if (bpf_prog_attach(bpf_program__fd(l->splice->progs.mw_splice_msg),
			    bpf_map__fd(l->splice->maps.mw_sockhash), BPF_SK_MSG_VERDICT, 0) < 0)
		return -errno;
	fd = open(cgroup_abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	l->splice_link = bpf_program__attach_cgroup(l->splice->progs.mw_splice_sockops, fd);
	if (!l->splice_link)
		return -errno;
	return 0;
}

static struct enrolled *enrolled_find(struct mw_loader *l, uint64_t id)
{
	for (unsigned i = 0; i < l->n_enrolled; i++)
		if (l->enrolled[i].id == id)
			return &l->enrolled[i];
	return NULL;
}

static void link_path(struct mw_loader *l, uint64_t id, int prog, char *buf, size_t size)
{
	if (prog < 0)
		snprintf(buf, size, "%s/links/%llu", l->pin_dir, (unsigned long long)id);
	else
		snprintf(buf, size, "%s/links/%llu/%s", l->pin_dir, (unsigned long long)id,
			 bpf_program__name(gw_prog(l, prog)));
}

/* Close our handles on a cgroup's links and forget it, leaving its pins in place. */
static void enrolled_forget(struct mw_loader *l, struct enrolled *e)
{
	for (int j = 0; j < GW_PROGS; j++)
		bpf_link__destroy(e->links[j]);
	*e = l->enrolled[--l->n_enrolled];
}

static void enrolled_drop(struct mw_loader *l, struct enrolled *e)
{
	char path[PATH_MAX];

	for (int j = 0; j < GW_PROGS; j++) {
		if (e->links[j]) {
			bpf_link__unpin(e->links[j]);
			bpf_link__destroy(e->links[j]);
		}
		link_path(l, e->id, j, path, sizeof(path));
		unlink(path);
	}
	link_path(l, e->id, -1, path, sizeof(path));
	rmdir(path);
	*e = l->enrolled[--l->n_enrolled];
}

int loader_enroll(struct mw_loader *l, int fd, uint64_t id)
{
	char path[PATH_MAX];
	struct enrolled *e;
	int r;

	if (enrolled_find(l, id))
		return -EEXIST;
	if (l->n_enrolled >= MW_ENROLLED_MAX)
		return -ENOSPC;
	link_path(l, id, -1, path, sizeof(path));
	r = mkdir_p(path, 0700);
	if (r < 0)
		return r;
	e = &l->enrolled[l->n_enrolled++];
	memset(e, 0, sizeof(*e));
	e->id = id;
	for (int j = 0; j < GW_PROGS; j++) {
		e->links[j] = bpf_program__attach_cgroup(gw_prog(l, j), fd);
		if (!e->links[j]) {
			r = -errno;
			goto fail;
		}
		link_path(l, id, j, path, sizeof(path));
		unlink(path);
		r = bpf_link__pin(e->links[j], path);
		if (r < 0)
			goto fail;
	}
	return 0;
fail:
	enrolled_drop(l, e);
	return r;
}

int loader_unenroll(struct mw_loader *l, uint64_t id)
{
	struct enrolled *e = enrolled_find(l, id);

	if (!e)
		return -ENOENT;
	enrolled_drop(l, e);
	return 0;
}

/* Adopt one pinned cgroup: open its links and give them this agent's programs. */
static int adopt_one(struct mw_loader *l, uint64_t id)
{
	struct enrolled *e;
	char path[PATH_MAX];
	int r = 0;

	if (l->n_enrolled >= MW_ENROLLED_MAX)
		return -ENOSPC;
	e = &l->enrolled[l->n_enrolled++];
	memset(e, 0, sizeof(*e));
	e->id = id;
	for (int j = 0; j < GW_PROGS; j++) {
		link_path(l, id, j, path, sizeof(path));
		e->links[j] = bpf_link__open(path);
		if (!e->links[j]) {
			r = -errno;
			break;
		}
		r = bpf_link__update_program(e->links[j], gw_prog(l, j));
		if (r < 0)
			break;
	}
	if (r < 0) /* keep the pins: the old programs go on capturing */
		enrolled_forget(l, e);
	return r;
}

int loader_adopt_pinned(struct mw_loader *l)
{
	char dir[PATH_MAX], mount[PATH_MAX], cg[PATH_MAX];
	struct dirent *de;
	int adopted = 0, failed = 0;
	DIR *d;

	if (cgroup_find_mount(mount, sizeof(mount)) < 0)
		return -ENOENT;
	snprintf(dir, sizeof(dir), "%s/links", l->pin_dir);
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		unsigned long long id;
		char *end;

		if (de->d_name[0] == '.')
			continue;
		id = strtoull(de->d_name, &end, 10);
		if (*end || enrolled_find(l, id))
			continue;
		if (cgroup_path_of_id(mount, id, cg, sizeof(cg)) == -ENOENT) {
			/* the cgroup is gone, and its links with it: clear the pins */
			struct enrolled tmp = { .id = id };

			if (l->n_enrolled < MW_ENROLLED_MAX) {
				l->enrolled[l->n_enrolled++] = tmp;
				enrolled_drop(l, &l->enrolled[l->n_enrolled - 1]);
			}
			continue;
		}
		if (adopt_one(l, id) < 0) {
			failed++; /* pins kept: capture goes on with the programs they hold */
			continue;
		}
		adopted++;
	}
	closedir(d);
	return failed ? -failed : adopted;
}

void loader_forget_links(struct mw_loader *l)
{
	for (unsigned i = 0; i < l->n_enrolled; i++)
		for (int j = 0; j < GW_PROGS; j++) {
			/* destroy only closes our fd (detach_fd); the pin keeps the link */
			bpf_link__destroy(l->enrolled[i].links[j]);
			l->enrolled[i].links[j] = NULL;
		}
	l->n_enrolled = 0;
}

unsigned loader_enrolled(struct mw_loader *l, uint64_t *ret_ids, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < l->n_enrolled && n < max; i++)
		ret_ids[n++] = l->enrolled[i].id;
	return n;
}

int loader_mark_listener(struct mw_loader *l, int fd, uint32_t generation)
{
	struct mw_listener v = { .magic = MW_LISTENER_MAGIC, .generation = generation };

	if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.mw_listeners), &fd, &v, BPF_ANY) < 0)
		return -errno;
	return 0;
}

int loader_origin_take(struct mw_loader *l, const struct mw_flow_key *key, struct mw_origin *ret)
{
	int fd = bpf_map__fd(l->skel->maps.mw_flows);

	if (bpf_map_lookup_and_delete_elem(fd, key, ret) == 0)
		return 0;
	/* older kernels lack lookup-and-delete on hash maps */
	if (bpf_map_lookup_elem(fd, key, ret) < 0)
		return -errno;
	bpf_map_delete_elem(fd, key);
	return 0;
}

int loader_stats(struct mw_loader *l, uint64_t ret[MW_STAT_MAX])
{
	int fd = bpf_map__fd(l->skel->maps.mw_stats);
	int ncpu = libbpf_num_possible_cpus();
	_cleanup_free_ uint64_t *vals = NULL;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (uint32_t i = 0; i < MW_STAT_MAX; i++) {
		ret[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, vals) < 0)
			continue;
		for (int c = 0; c < ncpu; c++)
			ret[i] += vals[c];
	}
	return 0;
}

static int remove_tree(const char *path, int depth)
{
	struct dirent *de;
	DIR *d;

	if (depth > 4)
		return -ELOOP;
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		char sub[PATH_MAX];

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		if (de->d_type == DT_DIR)
			remove_tree(sub, depth + 1);
		else
			unlink(sub);
	}
	closedir(d);
	if (rmdir(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int loader_remove_pins(const char *pin_dir)
{
	struct statfs sf;

	if (statfs(pin_dir, &sf) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (sf.f_type != BPF_FS_MAGIC)
		return -ENOTSUP; /* never rm -r outside bpffs */
	return remove_tree(pin_dir, 0);
}
