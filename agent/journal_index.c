/* journal_index.c: see journal_index.h. */
#include "journal_index.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

void journal_session_name(uint64_t session, char out[17])
{
	snprintf(out, 17, "%016" PRIx64, session);
}

int journal_session_parse(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || strlen(s) > 16)
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 16);
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

static void list_add(json_t *o, const char *key, const char *v)
{
	json_t *a = json_object_get(o, key);
	size_t i;
	json_t *e;

	if (!v || !*v)
		return;
	if (!a) {
		a = json_array();
		json_object_set_new(o, key, a);
	}
	json_array_foreach(a, i, e)
		if (strcmp(json_string_value(e), v) == 0)
			return;
	if (json_array_size(a) < MW_JINDEX_MAX_LIST)
		json_array_append_new(a, json_string(v));
}

static void copy_str(json_t *dst, const char *dkey, json_t *src, const char *skey)
{
	json_t *v = json_object_get(src, skey);

	if (v && (json_is_string(v) || json_is_integer(v)) && !json_object_get(dst, dkey))
		json_object_set(dst, dkey, v);
}

json_t *journal_index_add(json_t *sessions, const struct mw_jrec *r, const char *file,
			  uint64_t offset)
{
	char name[17];
	json_t *s, *meta = NULL;

	if (r->session == 0)
		return NULL;
	journal_session_name(r->session, name);
	s = json_object_get(sessions, name);
	if (!s) {
		s = json_pack("{s:s, s:s, s:I, s:I, s:s, s:I}", "session", name, "file", file,
			      "offset", (json_int_t)offset, "open", (json_int_t)r->wall, "state",
			      "open", "records", (json_int_t)0);
		if (!s)
			return NULL;
		json_object_set_new(sessions, name, s);
	}
	json_object_set_new(s, "records",
			    json_integer(json_integer_value(json_object_get(s, "records")) + 1));
	json_object_set_new(s, "last_seq", json_integer((json_int_t)r->seq));
	json_object_set_new(s, "end", json_integer((json_int_t)r->wall));
	if (r->meta_len && r->type != MW_JREC_SEAL)
		meta = json_loadb(r->meta, r->meta_len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(meta)) {
		json_decref(meta);
		meta = NULL;
	}
	switch (r->type) {
	case MW_JREC_OPEN:
		json_object_set_new(s, "open", json_integer((json_int_t)r->wall));
		if (meta) {
			copy_str(s, "target", meta, "target");
			copy_str(s, "unit", meta, "unit");
			copy_str(s, "cgroup", meta, "cgroup");
			copy_str(s, "pid", meta, "pid");
			copy_str(s, "uid", meta, "uid");
			copy_str(s, "comm", meta, "comm");
			copy_str(s, "direction", meta, "direction");
			copy_str(s, "flow", meta, "flow");
		}
		break;
	case MW_JREC_DECISION:
		if (meta) {
			json_t *g = json_object_get(meta, "groups");

			copy_str(s, "user", meta, "sub"); /* the first caller */
			/* every caller: a gateway may carry several people's calls on one flow */
			list_add(s, "users", json_string_value(json_object_get(meta, "sub")));
			list_add(s, "decisions", json_string_value(json_object_get(meta, "decision")));
			list_add(s, "rules", json_string_value(json_object_get(meta, "rule")));
			list_add(s, "tools", json_string_value(json_object_get(meta, "tool")));
			list_add(s, "methods", json_string_value(json_object_get(meta, "method")));
			if (json_is_string(g)) {
				char buf[512], *save = NULL, *t;

				snprintf(buf, sizeof(buf), "%s", json_string_value(g));
				for (t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
					list_add(s, "groups", t);
			}
		}
		break;
	case MW_JREC_CLOSE:
	case MW_JREC_ABANDONED:
		json_object_set_new(s, "state",
				    json_string(r->type == MW_JREC_CLOSE ? "closed" : "abandoned"));
		break;
	case MW_JREC_APPROVAL:
		if (meta) {
			json_t *id = json_object_get(meta, "approval") ?: json_object_get(meta, "approval_id");
			json_t *st = json_object_get(meta, "event") ?: json_object_get(meta, "state");

			if (json_is_string(id) && json_is_string(st)) {
				char buf[160];

				snprintf(buf, sizeof(buf), "%s:%s", json_string_value(id),
					 json_string_value(st));
				list_add(s, "approvals", buf);
			}
		}
		break;
	default:
		break;
	}
	if (meta) {
		const char *ms = json_string_value(json_object_get(meta, "mcp_session"));

		/* the first MCP session the flow carried names it; all are listed */
		if (ms && *ms) {
			copy_str(s, "mcp_session", meta, "mcp_session");
			list_add(s, "mcp_sessions", ms);
		}
		if (r->type == MW_JREC_REQUEST)
			list_add(s, "tools", json_string_value(json_object_get(meta, "tool")));
		json_decref(meta);
	}
	return s;
}
