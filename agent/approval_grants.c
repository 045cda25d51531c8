/* approval_grants.c: grants (an approval turned into a time-boxed pass) and their file. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "approval_internal.h"

static void grant_free_fields(struct mw_grant *g)
{
	free(g->identity);
	free(g->tool);
	free(g->target);
	free(g->fingerprint);
	free(g->rule);
	free(g->approved_by);
	free(g->reason);
	*g = (struct mw_grant){};
}

void grants_clear(struct mw_approvals *reg)
{
	for (size_t i = 0; i < reg->n_grants; i++)
		grant_free_fields(&reg->grants[i]);
	free(reg->grants);
	reg->grants = NULL;
	reg->n_grants = 0;
}

const struct mw_grant *grants_find(const struct mw_approvals *reg, const char *id)
{
	for (size_t i = 0; i < reg->n_grants; i++)
		if (!strcasecmp(reg->grants[i].id, id))
			return &reg->grants[i];
	return NULL;
}

static char *dup0(const char *s)
{
	return strdup(s ? s : "");
}

int grants_add(struct mw_approvals *reg, const struct mw_grant *g)
{
	struct mw_grant n = {}, *v;

	if (grants_find(reg, g->id))
		return -EEXIST;
	if (reg->n_grants >= MW_GRANTS_MAX)
		return -ENOSPC;
	memcpy(n.id, g->id, sizeof(n.id));
	n.identity = dup0(g->identity);
	n.tool = dup0(g->tool);
	n.target = dup0(g->target);
	n.fingerprint = dup0(g->fingerprint);
	n.rule = dup0(g->rule);
	n.approved_by = dup0(g->approved_by);
	n.reason = dup0(g->reason);
	n.created = g->created;
	n.expires = g->expires;
	v = realloc(reg->grants, (reg->n_grants + 1) * sizeof(*v));
	if (!v || !n.identity || !n.tool || !n.target || !n.fingerprint || !n.rule ||
	    !n.approved_by || !n.reason) {
		if (v)
			reg->grants = v;
		grant_free_fields(&n);
		return -ENOMEM;
	}
	reg->grants = v;
	reg->grants[reg->n_grants++] = n;
	return 0;
}

const struct mw_grant *grants_match(struct mw_approvals *reg, const char *identity,
				    const char *tool, const char *target, const char *fingerprint,
				    uint64_t now)
{
	for (size_t i = 0; i < reg->n_grants; i++) {
		const struct mw_grant *g = &reg->grants[i];

		if (now < g->expires && !strcmp(g->identity, identity) &&
		    !strcmp(g->tool, tool ? tool : "") && !strcmp(g->target, target ? target : "") &&
		    (!g->fingerprint[0] || !strcmp(g->fingerprint, fingerprint)))
			return g;
	}
	return NULL;
}

static void grant_remove(struct mw_approvals *reg, size_t i)
{
	grant_free_fields(&reg->grants[i]);
	reg->grants[i] = reg->grants[--reg->n_grants];
}

int grants_revoke(struct mw_approvals *reg, const char *id)
{
	for (size_t i = 0; i < reg->n_grants; i++)
		if (!strcasecmp(reg->grants[i].id, id)) {
			approvals_emit(reg, MW_APPROVAL_EV_REVOKED, NULL, &reg->grants[i]);
			grant_remove(reg, i);
			return 0;
		}
	return -ENOENT;
}

int grants_expire(struct mw_approvals *reg, uint64_t now)
{
	int n = 0;

	for (size_t i = 0; i < reg->n_grants;) {
		if (now >= reg->grants[i].expires) {
			approvals_emit(reg, MW_APPROVAL_EV_GRANT_EXPIRED, NULL, &reg->grants[i]);
			grant_remove(reg, i);
			n++;
		} else {
			i++;
		}
	}
	return n;
}

uint64_t grants_next_expiry(const struct mw_approvals *reg)
{
	uint64_t due = 0;

	for (size_t i = 0; i < reg->n_grants; i++)
		if (!due || reg->grants[i].expires < due)
			due = reg->grants[i].expires;
	return due;
}

json_t *grant_to_json(const struct mw_grant *g)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:o, s:o, s:I, s:I}", "id",
			 g->id, "identity", g->identity, "tool", g->tool, "target", g->target,
			 "fingerprint", g->fingerprint[0] ? json_string(g->fingerprint) : json_null(),
			 "rule", g->rule, "approved_by", g->approved_by, "reason", g->reason,
			 "created", approvals_time_json(g->created), "expires",
			 approvals_time_json(g->expires), "created_usec", (json_int_t)g->created,
			 "expires_usec", (json_int_t)g->expires);
}

json_t *grants_list(struct mw_approvals *reg, uint64_t now)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < reg->n_grants; i++)
		if (now < reg->grants[i].expires)
			json_array_append_new(arr, grant_to_json(&reg->grants[i]));
	return arr;
}

int grants_save(struct mw_approvals *reg, const char *path)
{
	_cleanup_free_ char *tmp = NULL, *text = NULL;
	json_t *doc = json_pack("{s:i, s:o}", "version", 1, "grants", json_array());
	_cleanup_close_ int fd = -1;
	size_t len, off = 0;
	int r = 0;

	if (!doc)
		return -ENOMEM;
	for (size_t i = 0; i < reg->n_grants; i++)
		json_array_append_new(json_object_get(doc, "grants"), grant_to_json(&reg->grants[i]));
	text = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(doc);
	if (!text || asprintf(&tmp, "%s.tmp", path) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	len = strlen(text);
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)n;
	}
	if (r == 0 && (write(fd, "\n", 1) != 1 || fsync(fd) < 0))
		r = -errno ?: -EIO;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

int grants_load(struct mw_approvals *reg, const char *path, uint64_t now, struct mw_diag *diag)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	json_t *doc, *arr, *e;
	json_error_t jerr;
	struct stat st;
	size_t i;
	int r = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : mw_diag_set(diag, -errno, path, 0, 0, "grants", "%s",
							  strerror(errno));
	if (fstat(fd, &st) < 0 || st.st_size > MW_GRANTS_FILE_MAX)
		return mw_diag_set(diag, -EFBIG, path, 0, 0, "grants", "larger than %d bytes",
				   MW_GRANTS_FILE_MAX);
	doc = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		return mw_diag_set(diag, -EINVAL, path, jerr.line, jerr.column, "grants", "%s",
				   jerr.text);
	arr = json_object_get(doc, "grants");
	if (json_integer_value(json_object_get(doc, "version")) != 1 || !json_is_array(arr)) {
		json_decref(doc);
		return mw_diag_set(diag, -EINVAL, path, 0, 0, "grants",
				   "expected {\"version\": 1, \"grants\": [...]}");
	}
	json_array_foreach(arr, i, e) {
		struct mw_grant g = {
			.identity = (char *)jstr(e, "identity"),
			.tool = (char *)jstr(e, "tool"),
			.target = (char *)jstr(e, "target"),
			.fingerprint = (char *)jstr(e, "fingerprint"),
			.rule = (char *)jstr(e, "rule"),
			.approved_by = (char *)jstr(e, "approved_by"),
			.reason = (char *)jstr(e, "reason"),
			.created = (uint64_t)json_integer_value(json_object_get(e, "created_usec")),
			.expires = (uint64_t)json_integer_value(json_object_get(e, "expires_usec")),
		};
		const char *id = jstr(e, "id");

		if (strlen(id) != MW_APPROVAL_ID_LEN || !g.identity[0] || !g.expires) {
			r = mw_diag_set(diag, -EINVAL, path, 0, 0, "grants",
					"grant %zu is incomplete", i);
			break;
		}
		if (g.expires <= now)
			continue;
		memcpy(g.id, id, sizeof(g.id));
		r = grants_add(reg, &g);
		if (r == -EEXIST)
			r = 0;
		if (r < 0) {
			mw_diag_set(diag, r, path, 0, 0, "grants", "grant %zu: %s", i, strerror(-r));
			break;
		}
	}
	json_decref(doc);
	return r;
}
