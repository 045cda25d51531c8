/* mcp.c: JSON-RPC 2.0 bodies, MCP fields, pairing and tool tables; see mcp.h. */
#include "mcp.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "util.h"

/* --- Methods ------------------------------------------------------------------------------ */

enum sender {
	SENT_BY_ANY,
	SENT_BY_CLIENT,
	SENT_BY_SERVER,
};

static const struct {
	const char *name;
	enum mcp_method mid;
	enum sender by;
} methods[] = {
	{ "initialize", MCP_M_INITIALIZE, SENT_BY_CLIENT },
	{ "notifications/initialized", MCP_M_INITIALIZED, SENT_BY_CLIENT },
	{ "ping", MCP_M_PING, SENT_BY_ANY },
	{ "server/discover", MCP_M_SERVER_DISCOVER, SENT_BY_CLIENT },
	{ "tools/list", MCP_M_TOOLS_LIST, SENT_BY_CLIENT },
	{ "tools/call", MCP_M_TOOLS_CALL, SENT_BY_CLIENT },
	{ "resources/list", MCP_M_RESOURCES_LIST, SENT_BY_CLIENT },
	{ "resources/templates/list", MCP_M_RESOURCES_TEMPLATES_LIST, SENT_BY_CLIENT },
	{ "resources/read", MCP_M_RESOURCES_READ, SENT_BY_CLIENT },
	{ "resources/subscribe", MCP_M_RESOURCES_SUBSCRIBE, SENT_BY_CLIENT },
	{ "resources/unsubscribe", MCP_M_RESOURCES_UNSUBSCRIBE, SENT_BY_CLIENT },
	{ "prompts/list", MCP_M_PROMPTS_LIST, SENT_BY_CLIENT },
	{ "prompts/get", MCP_M_PROMPTS_GET, SENT_BY_CLIENT },
	{ "completion/complete", MCP_M_COMPLETION_COMPLETE, SENT_BY_CLIENT },
	{ "logging/setLevel", MCP_M_LOGGING_SET_LEVEL, SENT_BY_CLIENT },
	{ "sampling/createMessage", MCP_M_SAMPLING_CREATE_MESSAGE, SENT_BY_SERVER },
	{ "elicitation/create", MCP_M_ELICITATION_CREATE, SENT_BY_SERVER },
	{ "roots/list", MCP_M_ROOTS_LIST, SENT_BY_SERVER },
	{ "notifications/progress", MCP_M_PROGRESS, SENT_BY_ANY },
	{ "notifications/cancelled", MCP_M_CANCELLED, SENT_BY_ANY },
};

enum mcp_method mcp_method_from_name(const char *name)
{
	if (!name)
		return MCP_M_OTHER;
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++)
		if (strcmp(methods[i].name, name) == 0)
			return methods[i].mid;
	return MCP_M_OTHER;
}

static enum sender method_sender(enum mcp_method mid)
{
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++)
		if (methods[i].mid == mid)
			return methods[i].by;
	return SENT_BY_ANY;
}

bool mcp_id_equal(const struct mcp_id *a, const struct mcp_id *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case MCP_ID_INT:
		return a->num == b->num;
	case MCP_ID_STR:
		return strcmp(a->str, b->str) == 0;
	default:
		return true;
	}
}

/* --- Parsing ------------------------------------------------------------------------------ */

static int perr(struct mcp_parse_error *e, enum mcp_perr kind, int code, long index,
		const char *fmt, ...) _printf_(5, 6);
static int perr(struct mcp_parse_error *e, enum mcp_perr kind, int code, long index,
		const char *fmt, ...)
{
	va_list ap;

	e->kind = kind;
	e->code = code;
	e->index = index;
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
	/* jansson quotes input bytes ("near '...'"): keep the text printable ASCII so that it
	 * can go into a log line or a JSON-RPC error message as it is. */
	for (char *c = e->text; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
	if (kind == MCP_PERR_NOMEM)
		return -ENOMEM;
	if (kind == MCP_PERR_TOO_BIG)
		return -EMSGSIZE;
	return -EBADMSG;
}

/* Exact for any text jansson accepts, which is all that matters: jansson refuses the rest. */
static bool depth_exceeds(const char *s, size_t len, unsigned max)
{
	unsigned depth = 0;
	bool str = false, esc = false;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				str = false;
			continue;
		}
		if (c == '"') {
			str = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max)
				return true;
		} else if ((c == ']' || c == '}') && depth) {
			depth--;
		}
	}
	return false;
}

/* An id or progress token: string (bounded) or integer. 0, or a static reason. */
static const char *read_id(const json_t *j, struct mcp_id *ret)
{
	if (json_is_string(j)) {
		if (json_string_length(j) > MCP_ID_MAX_LEN)
			return "longer than MCP_ID_MAX_LEN bytes";
		*ret = (struct mcp_id){ .type = MCP_ID_STR, .str = json_string_value(j) };
		return NULL;
	}
	if (json_is_integer(j)) {
		*ret = (struct mcp_id){ .type = MCP_ID_INT, .num = json_integer_value(j) };
		return NULL;
	}
	if (json_is_real(j))
		return "a number with a fraction or exponent";
	return "neither a string nor an integer";
}

static const char *string_member(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static void read_meta(struct mcp_message *m, json_t *meta)
{
	json_t *tok, *info;
	const char *why, *pv;

	if (!meta)
		return;
	if (!json_is_object(meta)) {
		m->invalid = "params._meta is not an object";
		return;
	}
	tok = json_object_get(meta, "progressToken");
	if (tok && (why = read_id(tok, &m->progress_token)))
		m->invalid = "_meta.progressToken is not a string or integer (or is too long)";
	pv = string_member(meta, MCP_META_PROTOCOL_VERSION);
	if (pv) {
		m->protocol_version = pv;
		m->proto_src = MCP_PROTO_META;
		m->stateless = true;
	}
	info = json_object_get(meta, MCP_META_CLIENT_INFO);
	if (json_is_object(info)) {
		m->client_name = string_member(info, "name");
		m->client_version = string_member(info, "version");
	}
}

/* MCP fields of a request or notification; problems go to m->invalid, never fail. */
static void read_mcp_params(struct mcp_message *m)
{
	json_t *p = m->params, *v, *info;
	bool obj = json_is_object(p);

	if (obj)
		read_meta(m, json_object_get(p, "_meta"));
	if (m->mid == MCP_M_SERVER_DISCOVER)
		m->stateless = true;

	switch (m->mid) {
	case MCP_M_TOOLS_CALL:
		m->tool = obj ? string_member(p, "name") : NULL;
		v = obj ? json_object_get(p, "arguments") : NULL;
		if (!m->tool)
			m->invalid = "tools/call without a string params.name";
		else if (v && !json_is_object(v))
			m->invalid = "tools/call params.arguments is not an object";
		else
			m->arguments = v;
		break;
	case MCP_M_RESOURCES_READ:
	case MCP_M_RESOURCES_SUBSCRIBE:
	case MCP_M_RESOURCES_UNSUBSCRIBE:
		m->uri = obj ? string_member(p, "uri") : NULL;
		if (!m->uri)
			m->invalid = "resources request without a string params.uri";
		break;
	case MCP_M_PROMPTS_GET:
		m->prompt = obj ? string_member(p, "name") : NULL;
		if (!m->prompt)
			m->invalid = "prompts/get without a string params.name";
		break;
	case MCP_M_INITIALIZE:
		v = obj ? json_object_get(p, "protocolVersion") : NULL;
		if (!json_is_string(v)) {
			m->invalid = "initialize without a string params.protocolVersion";
			break;
		}
		m->protocol_version = json_string_value(v);
		m->proto_src = MCP_PROTO_INITIALIZE;
		info = json_object_get(p, "clientInfo");
		if (json_is_object(info)) {
			m->client_name = string_member(info, "name");
			m->client_version = string_member(info, "version");
		}
		break;
	case MCP_M_PROGRESS:
		v = obj ? json_object_get(p, "progressToken") : NULL;
		if (!v || read_id(v, &m->progress_token))
			m->invalid = "notifications/progress without a valid params.progressToken";
		break;
	case MCP_M_CANCELLED:
		v = obj ? json_object_get(p, "requestId") : NULL;
		if (v && read_id(v, &m->cancel_id))
			m->invalid = "notifications/cancelled params.requestId is not a valid id";
		break;
	default:
		if (p && !obj && m->mid != MCP_M_OTHER)
			m->invalid = "MCP params must be an object";
		break;
	}
}

static void read_result(struct mcp_message *m)
{
	const char *pv;

	if (!json_is_object(m->result))
		return;
	m->result_type = string_member(m->result, "resultType");
	pv = string_member(m->result, "protocolVersion");
	if (pv) {
		m->protocol_version = pv;
		m->proto_src = MCP_PROTO_RESULT;
	}
}

static int parse_message(json_t *j, enum mcp_dir dir, long idx, struct mcp_message *m,
			 struct mcp_parse_error *e)
{
	const int IR = MCP_ERR_INVALID_REQUEST;
	json_t *id, *method, *params, *result, *error, *code, *msg;
	const char *key, *why;
	json_t *val;

	if (!json_is_object(j))
		return perr(e, MCP_PERR_NOT_OBJECT, IR, idx, "a message must be an object");
	*m = (struct mcp_message){ .json = j };

	id = json_object_get(j, "id");
	if (id && json_is_null(id)) {
		m->id.type = MCP_ID_NULL;
	} else if (id) {
		why = read_id(id, &m->id);
		if (why)
			return perr(e, MCP_PERR_ID, IR, idx, "id is %s", why);
		e->id = m->id;
		if (m->id.type == MCP_ID_STR) {
			snprintf(e->id_buf, sizeof(e->id_buf), "%s", m->id.str);
			e->id.str = e->id_buf;
		}
	}

	json_object_foreach(j, key, val) {
		if (strcmp(key, "jsonrpc") && strcmp(key, "id") && strcmp(key, "method") &&
		    strcmp(key, "params") && strcmp(key, "result") && strcmp(key, "error"))
			return perr(e, MCP_PERR_MEMBER, IR, idx, "unknown member '%.64s'", key);
	}
	if (!json_is_string(json_object_get(j, "jsonrpc")) ||
	    strcmp(string_member(j, "jsonrpc"), "2.0") != 0)
		return perr(e, MCP_PERR_VERSION, IR, idx, "jsonrpc must be the string \"2.0\"");

	method = json_object_get(j, "method");
	params = json_object_get(j, "params");
	result = json_object_get(j, "result");
	error = json_object_get(j, "error");

	if (method) {
		if (result || error)
			return perr(e, MCP_PERR_SHAPE, IR, idx,
				    "a message with a method has no result or error");
		if (!json_is_string(method))
			return perr(e, MCP_PERR_METHOD, IR, idx, "method must be a string");
		if (params && !json_is_object(params) && !json_is_array(params))
			return perr(e, MCP_PERR_PARAMS, IR, idx,
				    "params must be an object or an array");
		if (m->id.type == MCP_ID_NULL)
			return perr(e, MCP_PERR_ID, IR, idx, "a request id must not be null");
		m->kind = id ? MCP_REQUEST : MCP_NOTIFICATION;
		m->method = json_string_value(method);
		m->mid = mcp_method_from_name(m->method);
		m->params = params;
		if (m->kind == MCP_REQUEST) {
			enum sender by = method_sender(m->mid);

			m->server_request = dir == MCP_FROM_SERVER;
			m->misdirected = (dir == MCP_FROM_SERVER && by == SENT_BY_CLIENT) ||
					 (dir == MCP_FROM_CLIENT && by == SENT_BY_SERVER);
		}
		read_mcp_params(m);
		return 0;
	}

	if (params)
		return perr(e, MCP_PERR_SHAPE, IR, idx, "params without a method");
	if (result && error)
		return perr(e, MCP_PERR_SHAPE, IR, idx, "a result and an error");
	if (!result && !error)
		return perr(e, MCP_PERR_SHAPE, IR, idx,
			    "neither a method nor a result nor an error");
	if (!id)
		return perr(e, MCP_PERR_ID, IR, idx, "a response without an id");
	if (result) {
		if (m->id.type == MCP_ID_NULL)
			return perr(e, MCP_PERR_ID, IR, idx, "a result's id must not be null");
		m->kind = MCP_RESULT;
		m->result = result;
		read_result(m);
		return 0;
	}
	code = json_object_get(error, "code");
	msg = json_object_get(error, "message");
	if (!json_is_object(error) || !json_is_integer(code) || !json_is_string(msg))
		return perr(e, MCP_PERR_ERROR_OBJECT, IR, idx,
			    "error must be an object with an integer code and a string message");
	m->kind = MCP_ERROR;
	m->error_code = json_integer_value(code);
	m->error_message = json_string_value(msg);
	m->error_data = json_object_get(error, "data");
	return 0;
}

static int json_failure(const json_error_t *je, struct mcp_parse_error *e)
{
	enum mcp_perr kind = MCP_PERR_SYNTAX;
	int code = MCP_ERR_PARSE, r;

	switch (json_error_code(je)) {
	case json_error_out_of_memory:
		kind = MCP_PERR_NOMEM;
		break;
	case json_error_duplicate_key:
		kind = MCP_PERR_DUP_KEY;
		code = MCP_ERR_INVALID_REQUEST;
		break;
	case json_error_numeric_overflow:
		kind = MCP_PERR_NUMBER;
		code = MCP_ERR_INVALID_REQUEST;
		break;
	case json_error_null_character:
	case json_error_null_byte_in_key:
		kind = MCP_PERR_NUL;
		code = MCP_ERR_INVALID_REQUEST;
		break;
	case json_error_stack_overflow:
		kind = MCP_PERR_DEPTH;
		code = MCP_ERR_INVALID_REQUEST;
		break;
	default:
		break;
	}
	r = perr(e, kind, code, -1, "%s", je->text);
	e->line = je->line;
	e->column = je->column;
	return r;
}

int mcp_parse(const void *buf, size_t len, enum mcp_dir dir, const struct mcp_limits *limits,
	      struct mcp_body **ret_body, struct mcp_parse_error *ret_err)
{
	const int IR = MCP_ERR_INVALID_REQUEST;
	size_t max_body = limits && limits->max_body ? limits->max_body : MCP_MAX_BODY_DEFAULT;
	unsigned max_depth =
	    limits && limits->max_depth ? limits->max_depth : MCP_MAX_DEPTH_DEFAULT;
	size_t max_batch = limits && limits->max_batch ? limits->max_batch : MCP_MAX_BATCH_DEFAULT;
	struct mcp_parse_error scratch;
	struct mcp_parse_error *e = ret_err ? ret_err : &scratch;
	struct mcp_body *b = NULL;
	_cleanup_(json_decrefp) json_t *root = NULL;
	json_error_t je;
	int r;

	memset(e, 0, sizeof(*e));
	e->index = -1;
	if (!buf && len)
		return perr(e, MCP_PERR_SYNTAX, MCP_ERR_PARSE, -1, "no body");
	if (len > max_body)
		return perr(e, MCP_PERR_TOO_BIG, IR, -1, "body of %zu bytes exceeds %zu", len,
			    max_body);
	if (depth_exceeds(buf, len, max_depth))
		return perr(e, MCP_PERR_DEPTH, IR, -1, "JSON nested deeper than %u", max_depth);
	root = json_loadb(buf ? buf : "", len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (!root)
		return json_failure(&je, e);
	if (!json_is_object(root) && !json_is_array(root))
		return perr(e, MCP_PERR_NOT_OBJECT, IR, -1, "body is not an object or array");
	if (json_is_array(root) && json_array_size(root) == 0)
		return perr(e, MCP_PERR_EMPTY_BATCH, IR, -1, "empty batch");
	if (json_is_array(root) && json_array_size(root) > max_batch)
		return perr(e, MCP_PERR_BATCH_SIZE, IR, -1, "batch of %zu messages exceeds %zu",
			    json_array_size(root), max_batch);

	b = calloc(1, sizeof(*b));
	if (!b)
		return perr(e, MCP_PERR_NOMEM, MCP_ERR_INTERNAL, -1, "out of memory");
	b->batch = json_is_array(root);
	b->n = b->batch ? json_array_size(root) : 1;
	b->msgs = calloc(b->n, sizeof(*b->msgs));
	if (!b->msgs) {
		free(b);
		return perr(e, MCP_PERR_NOMEM, MCP_ERR_INTERNAL, -1, "out of memory");
	}
	for (size_t i = 0; i < b->n; i++) {
		json_t *j = b->batch ? json_array_get(root, i) : root;

		memset(&e->id, 0, sizeof(e->id));
		r = parse_message(j, dir, b->batch ? (long)i : -1, &b->msgs[i], e);
		if (r < 0) {
			free(b->msgs);
			free(b);
			return r;
		}
	}
	memset(e, 0, sizeof(*e));
	e->index = -1;
	b->root = TAKE_PTR(root);
	*ret_body = b;
	return 0;
}

struct mcp_body *mcp_body_free(struct mcp_body *b)
{
	if (!b)
		return NULL;
	json_decref(b->root);
	free(b->msgs);
	free(b);
	return NULL;
}

void mcp_body_freep(struct mcp_body **b)
{
	*b = mcp_body_free(*b);
}

const char *mcp_message_name(const struct mcp_message *m)
{
	if (m->tool)
		return m->tool;
	if (m->uri)
		return m->uri;
	return m->prompt;
}

int mcp_check_headers(const struct mcp_body *b, const char *mcp_method, const char *mcp_name)
{
	const struct mcp_message *m;
	const char *name;

	if (!mcp_method && !mcp_name)
		return 0;
	if (b->batch)
		return -EINVAL;
	m = &b->msgs[0];
	if (mcp_method && (!m->method || strcmp(m->method, mcp_method) != 0))
		return -EBADMSG;
	name = mcp_message_name(m);
	if (mcp_name && (!name || strcmp(name, mcp_name) != 0))
		return -EBADMSG;
	return 0;
}

int mcp_json_dump(const json_t *j, char **ret_json, size_t *ret_len)
{
	char *s;

	s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s)
		return -ENOMEM;
	*ret_len = strlen(s);
	*ret_json = s;
	return 0;
}

int mcp_body_dump(const struct mcp_body *b, char **ret_json, size_t *ret_len)
{
	return mcp_json_dump(b->root, ret_json, ret_len);
}

/* --- Pairing ------------------------------------------------------------------------------ */

struct pending_entry {
	enum mcp_dir dir;
	enum mcp_id_type type;
	int64_t num;
	char *str;
	enum mcp_method mid;
	char *method;
	char *tool;
	uint64_t cookie;
};

struct mcp_pending {
	size_t max, n, cap;
	struct pending_entry *e; /* oldest first */
	struct mcp_pending_stats st;
};

int mcp_pending_new(size_t max, struct mcp_pending **ret_table)
{
	struct mcp_pending *t;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->max = max ? max : MCP_PENDING_MAX_DEFAULT;
	*ret_table = t;
	return 0;
}

static void entry_free(struct pending_entry *e)
{
	free(e->str);
	free(e->method);
	free(e->tool);
}

/* Drop entry i, keeping the order. */
static void entry_remove(struct mcp_pending *t, size_t i)
{
	entry_free(&t->e[i]);
	memmove(&t->e[i], &t->e[i + 1], (t->n - i - 1) * sizeof(*t->e));
	t->n--;
}

struct mcp_pending *mcp_pending_free(struct mcp_pending *t)
{
	if (!t)
		return NULL;
	for (size_t i = 0; i < t->n; i++)
		entry_free(&t->e[i]);
	free(t->e);
	free(t);
	return NULL;
}

void mcp_pending_freep(struct mcp_pending **t)
{
	*t = mcp_pending_free(*t);
}

static bool entry_is(const struct pending_entry *e, enum mcp_dir dir, const struct mcp_id *id)
{
	if (e->dir != dir || e->type != id->type)
		return false;
	return id->type == MCP_ID_INT ? e->num == id->num : strcmp(e->str, id->str) == 0;
}

static long entry_find(const struct mcp_pending *t, enum mcp_dir dir, const struct mcp_id *id)
{
	for (size_t i = 0; i < t->n; i++)
		if (entry_is(&t->e[i], dir, id))
			return (long)i;
	return -1;
}

int mcp_pending_add(struct mcp_pending *t, enum mcp_dir dir, const struct mcp_message *m,
		    uint64_t cookie)
{
	struct pending_entry e = {
		.dir = dir, .type = m->id.type, .num = m->id.num, .mid = m->mid, .cookie = cookie
	};
	long old;
	int r = 0;

	if (m->kind != MCP_REQUEST || (m->id.type != MCP_ID_INT && m->id.type != MCP_ID_STR))
		return -EINVAL;
	e.method = strdup(m->method);
	e.str = m->id.type == MCP_ID_STR ? strdup(m->id.str) : NULL;
	e.tool = m->tool ? strdup(m->tool) : NULL;
	if (!e.method || (m->id.type == MCP_ID_STR && !e.str) || (m->tool && !e.tool)) {
		entry_free(&e);
		return -ENOMEM;
	}
	old = entry_find(t, dir, &m->id);
	if (old >= 0) {
		entry_remove(t, (size_t)old);
		t->st.replaced++;
		r = 1;
	} else if (t->n == t->max) {
		entry_remove(t, 0);
		t->st.evicted++;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		struct pending_entry *ne;

		if (cap > t->max)
			cap = t->max;
		ne = realloc(t->e, cap * sizeof(*ne));
		if (!ne) {
			entry_free(&e);
			return -ENOMEM;
		}
		t->e = ne;
		t->cap = cap;
	}
	t->e[t->n++] = e;
	t->st.added++;
	return r;
}

int mcp_pending_match(struct mcp_pending *t, enum mcp_dir dir, const struct mcp_message *m,
		      struct mcp_pair *ret_pair)
{
	enum mcp_dir req_dir = dir == MCP_FROM_CLIENT ? MCP_FROM_SERVER : MCP_FROM_CLIENT;
	struct pending_entry *e;
	long i;

	if (m->kind != MCP_RESULT && m->kind != MCP_ERROR)
		return -EINVAL;
	i = m->id.type == MCP_ID_INT || m->id.type == MCP_ID_STR ? entry_find(t, req_dir, &m->id)
								 : -1;
	if (i < 0) {
		t->st.unmatched++;
		return -ENOENT;
	}
	e = &t->e[i];
	*ret_pair = (struct mcp_pair){ .mid = e->mid,
				       .method = TAKE_PTR(e->method),
				       .tool = TAKE_PTR(e->tool),
				       .cookie = e->cookie };
	entry_remove(t, (size_t)i);
	t->st.matched++;
	return 0;
}

void mcp_pair_clear(struct mcp_pair *p)
{
	free(p->method);
	free(p->tool);
	memset(p, 0, sizeof(*p));
}

void mcp_pending_stats(const struct mcp_pending *t, struct mcp_pending_stats *ret_stats)
{
	*ret_stats = t->st;
	ret_stats->count = t->n;
}

/* --- tools/list --------------------------------------------------------------------------- */

static json_t *tools_array(const struct mcp_message *m)
{
	json_t *tools;

	if (m->kind != MCP_RESULT || !json_is_object(m->result))
		return NULL;
	tools = json_object_get(m->result, "tools");
	return json_is_array(tools) ? tools : NULL;
}

int mcp_tools_filter(struct mcp_message *m, mcp_tool_allowed_fn allowed, void *userdata,
		     size_t *ret_removed)
{
	json_t *tools = tools_array(m);
	size_t i = 0, removed = 0;

	if (!tools)
		return -EINVAL;
	while (i < json_array_size(tools)) {
		const char *name = string_member(json_array_get(tools, i), "name");

		if (name && allowed(userdata, name)) {
			i++;
			continue;
		}
		if (json_array_remove(tools, i) < 0)
			return -ENOMEM;
		removed++;
	}
	if (ret_removed)
		*ret_removed = removed;
	return 0;
}

int mcp_tool_hash(const json_t *tool, uint8_t ret_hash[MCP_TOOL_HASH_LEN])
{
	_cleanup_free_ char *s = NULL;
	unsigned int n = 0;

	s = json_dumps(tool, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s)
		return -ENOMEM;
	if (!EVP_Digest(s, strlen(s), ret_hash, &n, EVP_sha256(), NULL) || n != MCP_TOOL_HASH_LEN)
		return -EIO;
	return 0;
}

char *mcp_hash_hex(const uint8_t hash[MCP_TOOL_HASH_LEN], char buf[2 * MCP_TOOL_HASH_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < MCP_TOOL_HASH_LEN; i++) {
		buf[2 * i] = hex[hash[i] >> 4];
		buf[2 * i + 1] = hex[hash[i] & 15];
	}
	buf[2 * MCP_TOOL_HASH_LEN] = 0;
	return buf;
}

/* name -> [pinned hash hex, state of the last observation] */
struct mcp_tools {
	json_t *map;
	size_t max;
	uint64_t overflows;
};

int mcp_tools_new(size_t max, struct mcp_tools **ret_table)
{
	struct mcp_tools *t;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->map = json_object();
	if (!t->map) {
		free(t);
		return -ENOMEM;
	}
	t->max = max ? max : MCP_TOOLS_MAX_DEFAULT;
	*ret_table = t;
	return 0;
}

struct mcp_tools *mcp_tools_free(struct mcp_tools *t)
{
	if (!t)
		return NULL;
	json_decref(t->map);
	free(t);
	return NULL;
}

void mcp_tools_freep(struct mcp_tools **t)
{
	*t = mcp_tools_free(*t);
}

int mcp_tools_observe(struct mcp_tools *t, const char *name, const uint8_t hash[MCP_TOOL_HASH_LEN])
{
	char hex[2 * MCP_TOOL_HASH_LEN + 1];
	json_t *slot;
	int state;

	if (!name)
		return -EINVAL;
	mcp_hash_hex(hash, hex);
	slot = json_object_get(t->map, name);
	if (!slot) {
		if (json_object_size(t->map) >= t->max) {
			t->overflows++;
			return -ENOSPC;
		}
		slot = json_pack("[si]", hex, (int)MCP_TOOL_ADDED);
		if (!slot || json_object_set_new(t->map, name, slot) < 0)
			return -ENOMEM;
		return MCP_TOOL_ADDED;
	}
	state = strcmp(json_string_value(json_array_get(slot, 0)), hex) == 0 ? MCP_TOOL_UNCHANGED
									     : MCP_TOOL_CHANGED;
	if (json_array_set_new(slot, 1, json_integer(state)) < 0)
		return -ENOMEM;
	return state;
}

enum mcp_tool_state mcp_tools_state(const struct mcp_tools *t, const char *name)
{
	json_t *slot = name ? json_object_get(t->map, name) : NULL;

	return slot ? (enum mcp_tool_state)json_integer_value(json_array_get(slot, 1))
		    : MCP_TOOL_UNKNOWN;
}

void mcp_tools_forget(struct mcp_tools *t, const char *name)
{
	if (name)
		json_object_del(t->map, name);
}

size_t mcp_tools_count(const struct mcp_tools *t)
{
	return json_object_size(t->map);
}

uint64_t mcp_tools_overflows(const struct mcp_tools *t)
{
	return t->overflows;
}

int mcp_tools_observe_result(struct mcp_tools *t, const struct mcp_message *m, mcp_tool_seen_fn cb,
			     void *userdata)
{
	json_t *tools = tools_array(m), *tool;
	uint8_t hash[MCP_TOOL_HASH_LEN];
	int changed = 0, first_err = 0, r;
	size_t i;

	if (!tools)
		return -EINVAL;
	json_array_foreach(tools, i, tool) {
		const char *name = string_member(tool, "name");

		if (!name)
			continue;
		r = mcp_tool_hash(tool, hash);
		if (r >= 0)
			r = mcp_tools_observe(t, name, hash);
		if (r < 0) {
			if (!first_err)
				first_err = r;
			continue;
		}
		if (r == MCP_TOOL_CHANGED)
			changed++;
		if (cb)
			cb(userdata, name, (enum mcp_tool_state)r, hash);
	}
	return first_err ? first_err : changed;
}
