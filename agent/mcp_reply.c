/* mcp_reply.c: the bytes the agent answers with instead of forwarding; see mcp.h. */
#include "mcp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sse.h"
#include "util.h"

const char *mcp_error_text(int code)
{
	switch (code) {
	case MCP_ERR_DENIED_POLICY:
		return "Denied by policy";
	case MCP_ERR_DENIED_APPROVER:
		return "Denied by approver";
	case MCP_ERR_APPROVAL_TIMEOUT:
		return "Approval timed out";
	case MCP_ERR_PARSE:
		return "Parse error";
	case MCP_ERR_INVALID_REQUEST:
		return "Invalid Request";
	case MCP_ERR_METHOD_NOT_FOUND:
		return "Method not found";
	case MCP_ERR_INVALID_PARAMS:
		return "Invalid params";
	case MCP_ERR_INTERNAL:
		return "Internal error";
	default:
		return "Error";
	}
}

static json_t *id_json(const struct mcp_id *id)
{
	if (!id)
		return json_null();
	switch (id->type) {
	case MCP_ID_INT:
		return json_integer(id->num);
	case MCP_ID_STR:
		return json_string(id->str);
	default:
		return json_null();
	}
}

/* json_object_set_new() that remembers a failure (NULL value included). */
static void set(json_t *obj, const char *key, json_t *v, bool *ok)
{
	if (!v || json_object_set_new(obj, key, v) < 0)
		*ok = false;
}

json_t *mcp_error_response(const struct mcp_id *id, int code, const char *message, json_t *data)
{
	_cleanup_(json_decrefp) json_t *r = json_object();
	_cleanup_(json_decrefp) json_t *err = json_object();
	bool ok = r && err;

	if (!message)
		message = mcp_error_text(code);
	if (ok) {
		set(r, "jsonrpc", json_string("2.0"), &ok);
		set(r, "id", id_json(id), &ok);
		set(err, "code", json_integer(code), &ok);
		set(err, "message", json_string(message), &ok);
		if (data)
			set(err, "data", TAKE_PTR(data), &ok);
		set(r, "error", TAKE_PTR(err), &ok);
	}
	json_decref(data);
	if (!ok) {
		errno = EINVAL;
		return NULL;
	}
	return TAKE_PTR(r);
}

json_t *mcp_denial_data(const struct mcp_denial *d, const char *message)
{
	_cleanup_(json_decrefp) json_t *o = json_object();
	bool ok = o;

	if (ok) {
		set(o, "rule", d->rule ? json_string(d->rule) : json_null(), &ok);
		if (d->approval_id)
			set(o, "approval_id", json_string(d->approval_id), &ok);
		set(o, "reason", json_string(d->reason ? d->reason : message ? message : ""), &ok);
	}
	if (!ok) {
		errno = EINVAL;
		return NULL;
	}
	return TAKE_PTR(o);
}

static json_t *one_error(const struct mcp_id *id, int code, const char *message,
			 const struct mcp_denial *d)
{
	json_t *data = NULL;

	if (!message)
		message = mcp_error_text(code);
	if (d) {
		data = mcp_denial_data(d, message);
		if (!data)
			return NULL;
	}
	return mcp_error_response(id, code, message, data);
}

int mcp_error_reply(const struct mcp_body *b, int code, const char *message,
		    const struct mcp_denial *d, json_t **ret_reply)
{
	_cleanup_(json_decrefp) json_t *arr = NULL;
	json_t *e;

	if (!b->batch) {
		if (b->msgs[0].kind != MCP_REQUEST) {
			*ret_reply = NULL;
			return 0;
		}
		e = one_error(&b->msgs[0].id, code, message, d);
		if (!e)
			return -errno;
		*ret_reply = e;
		return 0;
	}
	arr = json_array();
	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < b->n; i++) {
		if (b->msgs[i].kind != MCP_REQUEST)
			continue;
		e = one_error(&b->msgs[i].id, code, message, d);
		if (!e)
			return -errno;
		if (json_array_append_new(arr, e) < 0)
			return -ENOMEM;
	}
	*ret_reply = json_array_size(arr) ? TAKE_PTR(arr) : NULL;
	return 0;
}

/* --- HTTP --------------------------------------------------------------------------------- */

static const char *status_text(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 406:
		return "Not Acceptable";
	case 408:
		return "Request Timeout";
	case 413:
		return "Content Too Large";
	case 415:
		return "Unsupported Media Type";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Status";
	}
}

/* A header value we echo must not end the line or the head: visible ASCII only. */
static bool visible_ascii(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			return false;
	return true;
}

/* RFC 9110 qvalue: "0" ["." 0*3DIGIT] / "1" ["." 0*3"0"], as thousandths; a malformed one
 * counts as 1 (the parameter is ignored). */
static int parse_qvalue(const char *v, const char *end)
{
	int q, scale = 100;

	if (v >= end || (*v != '0' && *v != '1'))
		return 1000;
	q = (*v++ - '0') * 1000;
	if (v < end && *v == '.') {
		for (v++; v < end && *v >= '0' && *v <= '9' && scale; v++, scale /= 10)
			q += (*v - '0') * scale;
	}
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	if ((v < end && *v != ';') || q > 1000)
		return 1000;
	return q;
}

/* Accept: media-range [; q=x] , ...  Returns the q (0..1000) given to type, -1 if absent. */
static int accept_q(const char *accept, const char *type, const char *wild)
{
	const char *p = accept;
	int best = -1;

	while (*p) {
		const char *end = strchr(p, ','), *semi, *q;
		size_t n, tl;
		int qv = 1000;

		if (!end)
			end = p + strlen(p);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		semi = memchr(p, ';', (size_t)(end - p));
		n = (size_t)((semi ? semi : end) - p);
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		for (q = semi; q && q < end; q = memchr(q + 1, ';', (size_t)(end - q - 1))) {
			const char *v = q + 1;

			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			if (end - v >= 2 && (v[0] == 'q' || v[0] == 'Q') && v[1] == '=')
				qv = parse_qvalue(v + 2, end);
		}
		tl = strlen(type);
		if ((n == tl && strncasecmp(p, type, n) == 0) ||
		    (n == strlen(wild) && strncasecmp(p, wild, n) == 0) ||
		    (n == 3 && strncmp(p, "*/*", 3) == 0))
			if (qv > best)
				best = qv;
		p = *end ? end + 1 : end;
	}
	return best;
}

enum mcp_framing mcp_framing_for_accept(const char *accept)
{
	int json, sse;

	if (!accept || !*accept)
		return MCP_FRAMING_JSON;
	json = accept_q(accept, "application/json", "application/*");
	sse = accept_q(accept, "text/event-stream", "text/*");
	if (json > 0)
		return MCP_FRAMING_JSON;
	if (sse > 0)
		return MCP_FRAMING_SSE;
	return MCP_FRAMING_JSON;
}

/* A growable buffer; on allocation failure it stays failed and finish() says so. */
struct out {
	char *buf;
	size_t len, cap;
	bool failed;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->failed || !n)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = (o->len + n + 1) * 2;
		char *nb = realloc(o->buf, cap);

		if (!nb) {
			o->failed = true;
			return;
		}
		o->buf = nb;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = 0;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void putf(struct out *o, const char *fmt, ...) _printf_(2, 3);
static void putf(struct out *o, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		o->failed = true;
	else
		put(o, tmp, (size_t)n);
}

static int finish(struct out *o, char **ret_buf, size_t *ret_len)
{
	if (o->failed) {
		free(o->buf);
		return -ENOMEM;
	}
	*ret_buf = o->buf;
	*ret_len = o->len;
	return 0;
}

/* Status line and headers up to the blank line; payload framing follows. */
static void head(struct out *o, int status, const char *ctype, bool sse, size_t len, bool chunked,
		 const char *session_id, bool close, const char *extra)
{
	putf(o, "HTTP/1.1 %d %s\r\n", status, status_text(status));
	if (ctype)
		putf(o, "Content-Type: %s\r\n", ctype);
	if (sse)
		puts_(o, "Cache-Control: no-cache\r\n");
	if (extra)
		puts_(o, extra);
	if (session_id) {
		puts_(o, "Mcp-Session-Id: ");
		puts_(o, session_id);
		puts_(o, "\r\n");
	}
	if (chunked)
		puts_(o, "Transfer-Encoding: chunked\r\n");
	else
		putf(o, "Content-Length: %zu\r\n", len);
	if (close)
		puts_(o, "Connection: close\r\n");
	puts_(o, "\r\n");
}

static void payload(struct out *o, const char *p, size_t n, bool chunked)
{
	if (chunked && n) {
		putf(o, "%zx\r\n", n);
		put(o, p, n);
		puts_(o, "\r\n");
	} else {
		put(o, p, n);
	}
	if (chunked)
		puts_(o, "0\r\n\r\n");
}

int mcp_http_reply(const json_t *body, const struct mcp_http_opts *opts, char **ret_buf,
		   size_t *ret_len)
{
	static const struct mcp_http_opts defaults = { 0 };
	const struct mcp_http_opts *o = opts ? opts : &defaults;
	_cleanup_free_ char *json = NULL, *ev = NULL;
	const char *p = NULL, *ctype = NULL;
	struct out out = { 0 };
	size_t n = 0, jlen = 0;
	int status = o->status ? o->status : body ? 200 : 202;
	bool sse = body && o->framing == MCP_FRAMING_SSE;
	int r;

	if (status < 200 || status > 599)
		return -EINVAL;
	if (o->session_id && !visible_ascii(o->session_id))
		return -EINVAL;
	if (body) {
		r = mcp_json_dump(body, &json, &jlen);
		if (r < 0)
			return r;
		p = json;
		n = jlen;
		ctype = "application/json";
	}
	if (sse) {
		struct sse_message m = { .event = "message",
					 .event_len = 7,
					 .data = json,
					 .data_len = jlen,
					 .id = o->sse_id,
					 .id_len = o->sse_id ? strlen(o->sse_id) : 0,
					 .retry = -1 };

		r = sse_encode_alloc(&m, &ev, &n);
		if (r < 0)
			return r;
		p = ev;
		ctype = "text/event-stream";
	}
	head(&out, status, ctype, sse, n, o->chunked, o->session_id, o->close, NULL);
	payload(&out, p, n, o->chunked);
	return finish(&out, ret_buf, ret_len);
}

int mcp_http_unauthorized(const char *description, const char *resource_metadata, bool close,
			  char **ret_buf, size_t *ret_len)
{
	_cleanup_(json_decrefp) json_t *body = NULL;
	_cleanup_free_ char *json = NULL, *hdr = NULL, *desc = NULL;
	struct out out = { 0 }, h = { 0 };
	size_t jlen, hlen;
	int r;

	if (!description)
		description = "";
	if (resource_metadata &&
	    (!visible_ascii(resource_metadata) || strpbrk(resource_metadata, "\"\\")))
		return -EINVAL;
	desc = strdup(description);
	if (!desc)
		return -ENOMEM;
	for (char *c = desc; *c; c++)
		if (*c < 0x20 || *c > 0x7e || *c == '"' || *c == '\\')
			*c = '?';
	body = json_pack("{s:s,s:s}", "error", "invalid_token", "error_description", description);
	if (!body)
		return -EINVAL;
	r = mcp_json_dump(body, &json, &jlen);
	if (r < 0)
		return r;
	puts_(&h, "WWW-Authenticate: Bearer error=\"invalid_token\", error_description=\"");
	puts_(&h, desc);
	puts_(&h, "\"");
	if (resource_metadata) {
		puts_(&h, ", resource_metadata=\"");
		puts_(&h, resource_metadata);
		puts_(&h, "\"");
	}
	puts_(&h, "\r\n");
	r = finish(&h, &hdr, &hlen);
	if (r < 0)
		return r;
	head(&out, 401, "application/json", false, jlen, false, NULL, close, hdr);
	put(&out, json, jlen);
	return finish(&out, ret_buf, ret_len);
}
