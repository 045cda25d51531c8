/* http1.c: strict, incremental HTTP/1.1 parsing (RFC 9112, RFC 9110 fields).
 *
 * Heads and trailer sections are copied into bounded buffers by a byte scanner that refuses
 * bare CR, bare LF and NUL at the byte where they appear, then parsed in one pass once the
 * empty line arrives; chunk-size lines the same way. Body bytes are never copied. Every
 * decision depends only on the bytes seen, in order, so any chunking gives the same result. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http1.h"
#include "util.h"

enum h1_state {
	ST_START,
	ST_HEAD,
	ST_BODY_CL,
	ST_CHUNK_LINE,
	ST_CHUNK_DATA,
	ST_CHUNK_CR,
	ST_CHUNK_LF,
	ST_TRAILERS,
	ST_UNTIL_CLOSE,
	ST_DONE,
	ST_CLOSED,
	ST_ERROR,
};

struct http1_parser {
	enum http1_kind kind;
	struct http1_limits lim;
	enum h1_state state;
	enum http1_error err;

	/* Section scanner (head, trailers, chunk line). */
	size_t line_len;
	size_t lines;
	bool cr;

	char *head;
	size_t head_len;
	struct http1_header *headers;
	struct http1_head h;

	char *trl;
	size_t trl_len;
	struct http1_header *trailers;
	size_t n_trailers;

	char *cline;
	size_t cline_len;

	uint64_t remaining;
	uint64_t body_bytes;
	size_t pending; /* wire bytes consumed since the last event */
	unsigned done_flags;

	enum http1_method *methods; /* ring of outstanding request methods */
	size_t q_first;
	size_t q_len;
};

/* clang-format off */
static const struct {
	const char *str;
	int status;
	int err;
} error_table[_HTTP1_E_MAX] = {
	[HTTP1_E_NONE] = { "no error", 0, 0 },
#define HTTP1_X_TABLE(name, status, err, str) [HTTP1_E_##name] = { str, status, -(err) },
	HTTP1_ERRORS(HTTP1_X_TABLE)
#undef HTTP1_X_TABLE
};
/* clang-format on */

const char *http1_error_str(enum http1_error e)
{
	if ((unsigned)e >= _HTTP1_E_MAX)
		return "unknown error";
	return error_table[e].str;
}

int http1_error_status(enum http1_kind kind, enum http1_error e)
{
	if (e == HTTP1_E_NONE || (unsigned)e >= _HTTP1_E_MAX)
		return 0;
	return kind == HTTP1_RESPONSE ? 502 : error_table[e].status;
}

static int fail(struct http1_parser *p, enum http1_error e)
{
	p->err = e;
	p->state = ST_ERROR;
	return error_table[e].err;
}

/* RFC 9110 5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c);
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* field-vchar / SP / HTAB; obs-text allowed. */
static bool is_field_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Strict list split for framing fields: empty elements are returned, not skipped. */
static bool list_next_strict(struct http1_str v, size_t *pos, struct http1_str *ret_elem)
{
	size_t i = *pos, start, end;

	if (i > v.len)
		return false;
	while (i < v.len && is_ows(v.p[i]))
		i++;
	start = i;
	while (i < v.len && v.p[i] != ',')
		i++;
	end = i;
	while (end > start && is_ows(v.p[end - 1]))
		end--;
	*ret_elem = (struct http1_str){v.p + start, end - start};
	*pos = i + 1; /* past the comma, or past the end */
	return true;
}

void http1_limits_default(enum http1_kind kind, struct http1_limits *ret_limits)
{
	*ret_limits = (struct http1_limits){
	    .max_head_bytes = HTTP1_MAX_HEAD_BYTES_DEFAULT,
	    .max_headers = HTTP1_MAX_HEADERS_DEFAULT,
	    .max_body = kind == HTTP1_REQUEST ? HTTP1_MAX_REQUEST_BODY_DEFAULT
					      : HTTP1_MAX_RESPONSE_BODY_DEFAULT,
	    .max_chunk_line = HTTP1_MAX_CHUNK_LINE_DEFAULT,
	    .max_trailer_bytes = HTTP1_MAX_TRAILER_BYTES_DEFAULT,
	    .max_pipeline = HTTP1_MAX_PIPELINE_DEFAULT,
	};
}

struct http1_parser *http1_parser_free(struct http1_parser *p)
{
	if (!p)
		return NULL;
	free(p->head);
	free(p->headers);
	free(p->trl);
	free(p->trailers);
	free(p->cline);
	free(p->methods);
	free(p);
	return NULL;
}

void http1_parser_freep(struct http1_parser **p)
{
	http1_parser_free(*p);
}

int http1_parser_new(enum http1_kind kind, const struct http1_limits *limits,
		     struct http1_parser **ret_parser)
{
	_cleanup_(http1_parser_freep) struct http1_parser *p = NULL;
	struct http1_limits lim;

	if (kind != HTTP1_REQUEST && kind != HTTP1_RESPONSE)
		return -EINVAL;
	if (limits)
		lim = *limits;
	else
		http1_limits_default(kind, &lim);
	if (lim.max_head_bytes < 16 || lim.max_head_bytes > HTTP1_MAX_HEAD_BYTES_CEILING ||
	    lim.max_headers == 0 || lim.max_headers > HTTP1_MAX_HEADERS_CEILING ||
	    lim.max_chunk_line < 3 || lim.max_chunk_line > HTTP1_MAX_CHUNK_LINE_CEILING ||
	    lim.max_trailer_bytes < 2 || lim.max_trailer_bytes > HTTP1_MAX_TRAILER_BYTES_CEILING ||
	    lim.max_pipeline == 0 || lim.max_pipeline > HTTP1_MAX_PIPELINE_CEILING)
		return -EINVAL;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->kind = kind;
	p->lim = lim;
	p->head = malloc(lim.max_head_bytes);
	p->headers = calloc(lim.max_headers, sizeof(*p->headers));
	p->trl = malloc(lim.max_trailer_bytes);
	p->trailers = calloc(lim.max_headers, sizeof(*p->trailers));
	p->cline = malloc(lim.max_chunk_line);
	p->methods = calloc(lim.max_pipeline, sizeof(*p->methods));
	if (!p->head || !p->headers || !p->trl || !p->trailers || !p->cline || !p->methods)
		return -ENOMEM;
	p->state = ST_START;
	*ret_parser = TAKE_PTR(p);
	return 0;
}

int http1_parser_push_request(struct http1_parser *p, enum http1_method method)
{
	if (p->kind != HTTP1_RESPONSE)
		return -EINVAL;
	if (p->q_len >= p->lim.max_pipeline)
		return -ENOBUFS;
	p->methods[(p->q_first + p->q_len) % p->lim.max_pipeline] = method;
	p->q_len++;
	return 0;
}

const struct http1_head *http1_parser_head(const struct http1_parser *p)
{
	return &p->h;
}

const struct http1_header *http1_parser_trailers(const struct http1_parser *p, size_t *ret_n)
{
	*ret_n = p->n_trailers;
	return p->trailers;
}

uint64_t http1_parser_body_bytes(const struct http1_parser *p)
{
	return p->body_bytes;
}

enum http1_error http1_parser_error(const struct http1_parser *p)
{
	return p->err;
}

enum section {
	SEC_HEAD,
	SEC_CHUNK_LINE,
	SEC_TRAILERS,
};

/* Copy the bytes of a head, a chunk-size line or a trailer section into its buffer until it
 * ends (the empty line; a chunk line at its CRLF), refusing bare CR, bare LF and NUL at the
 * byte where they occur. 1: complete, 0: input ran out. */
static int scan(struct http1_parser *p, enum section sec, const uint8_t *in, size_t len,
		size_t *used)
{
	static const enum http1_error too_large[] = {
	    [SEC_HEAD] = HTTP1_E_HEAD_TOO_LARGE,
	    [SEC_CHUNK_LINE] = HTTP1_E_CHUNK_LINE_TOO_LONG,
	    [SEC_TRAILERS] = HTTP1_E_TRAILERS_TOO_LARGE,
	};
	char *dst = sec == SEC_HEAD ? p->head : sec == SEC_TRAILERS ? p->trl : p->cline;
	size_t *dst_len = sec == SEC_HEAD	? &p->head_len
			  : sec == SEC_TRAILERS ? &p->trl_len
						: &p->cline_len;
	size_t max = sec == SEC_HEAD	   ? p->lim.max_head_bytes
		     : sec == SEC_TRAILERS ? p->lim.max_trailer_bytes
					   : p->lim.max_chunk_line;

	while (*used < len) {
		uint8_t c = in[(*used)++];

		p->pending++;
		if (*dst_len >= max)
			return fail(p, too_large[sec]);
		dst[(*dst_len)++] = (char)c;
		if (p->cr) {
			if (c != '\n')
				return fail(p, HTTP1_E_BARE_CR);
			p->cr = false;
			if (sec == SEC_CHUNK_LINE)
				return 1;
			if (p->line_len == 0) {
				if (p->lines == 0 && sec == SEC_HEAD)
					return fail(p, HTTP1_E_EMPTY_START);
				return 1;
			}
			p->line_len = 0;
			if (++p->lines > p->lim.max_headers + (sec == SEC_HEAD))
				return fail(p, HTTP1_E_TOO_MANY_HEADERS);
		} else if (c == '\r') {
			p->cr = true;
		} else if (c == '\n') {
			return fail(p, HTTP1_E_BARE_LF);
		} else if (c == 0) {
			return fail(p, HTTP1_E_NUL);
		} else {
			p->line_len++;
		}
	}
	return 0;
}

/* "HTTP/1.x" exactly. */
static enum http1_error parse_version(const char *s, size_t len, int *ret_minor)
{
	if (len != 8 || memcmp(s, "HTTP/", 5) != 0 || s[5] < '0' || s[5] > '9' || s[6] != '.' ||
	    s[7] < '0' || s[7] > '9')
		return HTTP1_E_BAD_VERSION;
	if (s[5] != '1' || (s[7] != '0' && s[7] != '1'))
		return HTTP1_E_VERSION_UNSUPPORTED;
	*ret_minor = s[7] - '0';
	return HTTP1_E_NONE;
}

static bool is_absolute_uri(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (i = 1; i < len; i++) {
		char c = s[i];

		if (c == ':')
			return i + 1 < len;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '-' || c == '.'))
			return false;
	}
	return false;
}

static enum http1_error parse_request_line(struct http1_parser *p, const char *s, size_t len)
{
	size_t i = 0, start;
	enum http1_error e;

	while (i < len && is_tchar((unsigned char)s[i]))
		i++;
	if (i == len || (s[i] != ' ' && i > 0))
		return i == len ? HTTP1_E_BAD_REQUEST_LINE : HTTP1_E_BAD_METHOD;
	if (i == 0)
		return s[0] == ' ' || s[0] == '\t' ? HTTP1_E_BAD_REQUEST_LINE : HTTP1_E_BAD_METHOD;
	p->h.method = (struct http1_str){s, i};
	p->h.method_id = http1_method_from(s, i);

	start = ++i;
	while (i < len && s[i] != ' ') {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f)
			return HTTP1_E_BAD_TARGET;
		i++;
	}
	if (i == start || i == len)
		return HTTP1_E_BAD_REQUEST_LINE;
	p->h.target = (struct http1_str){s + start, i - start};

	i++;
	e = parse_version(s + i, len - i, &p->h.version_minor);
	if (e)
		return e;

	/* RFC 9112 3.2: origin-form, absolute-form, authority-form (CONNECT), asterisk-form. */
	if (p->h.method_id == HTTP1_M_CONNECT) {
		if (p->h.target.p[0] == '/' || p->h.target.p[0] == '*')
			return HTTP1_E_BAD_TARGET;
	} else if (p->h.target.len == 1 && p->h.target.p[0] == '*') {
		if (p->h.method_id != HTTP1_M_OPTIONS)
			return HTTP1_E_BAD_TARGET;
	} else if (p->h.target.p[0] != '/' && !is_absolute_uri(p->h.target.p, p->h.target.len)) {
		return HTTP1_E_BAD_TARGET;
	}
	return HTTP1_E_NONE;
}

static enum http1_error parse_status_line(struct http1_parser *p, const char *s, size_t len)
{
	enum http1_error e;

	if (len < 8)
		return HTTP1_E_BAD_STATUS_LINE;
	e = parse_version(s, 8, &p->h.version_minor);
	if (e)
		return e == HTTP1_E_BAD_VERSION ? HTTP1_E_BAD_STATUS_LINE : e;
	if (len < 12 || s[8] != ' ')
		return HTTP1_E_BAD_STATUS_LINE;
	for (size_t i = 9; i < 12; i++)
		if (s[i] < '0' || s[i] > '9')
			return HTTP1_E_BAD_STATUS_LINE;
	p->h.status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	if (p->h.status < 100 || p->h.status > 599)
		return HTTP1_E_BAD_STATUS_LINE;
	/* The SP before an empty reason is required by RFC 9112 but often omitted; it cannot
	 * change framing, so "HTTP/1.1 200" is accepted. */
	if (len == 12) {
		p->h.reason = (struct http1_str){s + 12, 0};
		return HTTP1_E_NONE;
	}
	if (s[12] != ' ')
		return HTTP1_E_BAD_STATUS_LINE;
	for (size_t i = 13; i < len; i++)
		if (!is_field_char((unsigned char)s[i]))
			return HTTP1_E_BAD_STATUS_LINE;
	p->h.reason = (struct http1_str){s + 13, len - 13};
	return HTTP1_E_NONE;
}

static enum http1_error parse_field_line(const char *s, size_t len, struct http1_header *ret)
{
	size_t i = 0, vs, ve;

	if (is_ows(s[0]))
		return HTTP1_E_OBS_FOLD;
	while (i < len && is_tchar((unsigned char)s[i]))
		i++;
	if (i == len)
		return HTTP1_E_NO_COLON;
	if (s[i] != ':') {
		if (i == 0 || !is_ows(s[i]))
			return HTTP1_E_BAD_HEADER_NAME;
		while (i < len && is_ows(s[i]))
			i++;
		return i < len && s[i] == ':' ? HTTP1_E_WS_BEFORE_COLON : HTTP1_E_BAD_HEADER_NAME;
	}
	if (i == 0)
		return HTTP1_E_BAD_HEADER_NAME;
	ret->name = (struct http1_str){s, i};
	vs = i + 1;
	ve = len;
	for (size_t j = vs; j < ve; j++)
		if (!is_field_char((unsigned char)s[j]))
			return HTTP1_E_BAD_HEADER_VALUE;
	while (vs < ve && is_ows(s[vs]))
		vs++;
	while (ve > vs && is_ows(s[ve - 1]))
		ve--;
	ret->value = (struct http1_str){s + vs, ve - vs};
	return HTTP1_E_NONE;
}

/* Parse the field lines of a validated section (every CR is followed by LF). */
static enum http1_error parse_fields(const char *s, const char *end, struct http1_header *out,
				     size_t max, size_t *ret_n)
{
	size_t n = 0;

	while (s < end) {
		const char *eol = memchr(s, '\r', (size_t)(end - s));
		enum http1_error e;

		if (!eol || eol == s)
			break;
		if (n >= max)
			return HTTP1_E_TOO_MANY_HEADERS;
		e = parse_field_line(s, (size_t)(eol - s), &out[n]);
		if (e)
			return e;
		n++;
		s = eol + 2;
	}
	*ret_n = n;
	return HTTP1_E_NONE;
}

static enum http1_error parse_content_length(struct http1_parser *p, struct http1_str v, bool *seen,
					     uint64_t *cl)
{
	struct http1_str e;
	size_t pos = 0;

	while (list_next_strict(v, &pos, &e)) {
		uint64_t n = 0;

		if (e.len == 0)
			return HTTP1_E_CL_INVALID;
		for (size_t i = 0; i < e.len; i++) {
			unsigned d = (unsigned char)e.p[i] - '0';

			if (d > 9)
				return HTTP1_E_CL_INVALID;
			if (n > (UINT64_MAX - d) / 10)
				return HTTP1_E_CL_OVERFLOW;
			n = n * 10 + d;
		}
		if (*seen) {
			if (n != *cl)
				return HTTP1_E_CL_CONFLICT;
			if (!p->lim.allow_identical_content_length)
				return HTTP1_E_CL_DUPLICATE;
		}
		*seen = true;
		*cl = n;
	}
	return HTTP1_E_NONE;
}

static enum http1_error parse_transfer_encoding(struct http1_str v, bool *chunked)
{
	struct http1_str e;
	size_t pos = 0;

	while (list_next_strict(v, &pos, &e)) {
		if (e.len == 0)
			return HTTP1_E_TE_EMPTY;
		if (!http1_str_eq_ci(e, "chunked"))
			return HTTP1_E_TE_UNKNOWN;
		if (*chunked)
			return HTTP1_E_TE_CHUNKED_TWICE;
		*chunked = true;
	}
	return HTTP1_E_NONE;
}

/* Framing and connection semantics (RFC 9112 6, 9; RFC 9110 7.2, 10.1.1). */
static enum http1_error head_semantics(struct http1_parser *p)
{
	struct http1_head *h = &p->h;
	bool has_cl = false, has_te = false, cl_seen = false, chunked = false, conn_close = false,
	     conn_keep = false, conn_upgrade = false;
	const struct http1_header *up = NULL;
	size_t n_host = 0;
	uint64_t cl = 0;
	enum http1_error e;

	for (size_t i = 0; i < h->n_headers; i++) {
		const struct http1_header *f = &h->headers[i];

		if (http1_str_eq_ci(f->name, "content-length"))
			has_cl = true;
		else if (http1_str_eq_ci(f->name, "transfer-encoding"))
			has_te = true;
	}
	if (has_cl && has_te)
		return HTTP1_E_CL_AND_TE;
	if (has_te && h->version_minor == 0)
		return HTTP1_E_TE_HTTP10;

	for (size_t i = 0; i < h->n_headers; i++) {
		const struct http1_header *f = &h->headers[i];

		if (http1_str_eq_ci(f->name, "content-length")) {
			e = parse_content_length(p, f->value, &cl_seen, &cl);
			if (e)
				return e;
		} else if (http1_str_eq_ci(f->name, "transfer-encoding")) {
			e = parse_transfer_encoding(f->value, &chunked);
			if (e)
				return e;
		} else if (http1_str_eq_ci(f->name, "host")) {
			n_host++;
		} else if (http1_str_eq_ci(f->name, "connection")) {
			conn_close |= http1_list_has(f->value, "close");
			conn_keep |= http1_list_has(f->value, "keep-alive");
			conn_upgrade |= http1_list_has(f->value, "upgrade");
		} else if (http1_str_eq_ci(f->name, "upgrade")) {
			up = f;
		} else if (http1_str_eq_ci(f->name, "expect") && p->kind == HTTP1_REQUEST) {
			if (!http1_str_eq_ci(f->value, "100-continue"))
				return HTTP1_E_EXPECT_UNKNOWN;
			h->flags |= HTTP1_HEAD_EXPECT_CONTINUE;
		}
	}
	if (has_te && !chunked)
		return HTTP1_E_TE_EMPTY;

	if (p->kind == HTTP1_REQUEST) {
		if (n_host > 1)
			return HTTP1_E_HOST_DUPLICATE;
		if (n_host == 0 && h->version_minor == 1)
			return HTTP1_E_HOST_MISSING;
	}

	if (!conn_close && (h->version_minor == 1 || conn_keep))
		h->flags |= HTTP1_HEAD_KEEP_ALIVE;
	if (up && conn_upgrade) {
		h->flags |= HTTP1_HEAD_UPGRADE;
		h->upgrade = up->value;
	}

	if (p->kind == HTTP1_RESPONSE) {
		h->request_method = p->methods[p->q_first];
		if (h->status == 101) {
			h->flags |= HTTP1_HEAD_UPGRADE | HTTP1_HEAD_NO_BODY;
			h->upgrade = up ? up->value : (struct http1_str){"", 0};
			return HTTP1_E_NONE;
		}
		if (h->status < 200) {
			h->flags |= HTTP1_HEAD_INTERIM | HTTP1_HEAD_NO_BODY;
			h->flags &= ~HTTP1_HEAD_UPGRADE;
			return HTTP1_E_NONE;
		}
		h->flags &= ~HTTP1_HEAD_UPGRADE;
		if (h->request_method == HTTP1_M_CONNECT && h->status < 300) {
			h->flags |= HTTP1_HEAD_TUNNEL | HTTP1_HEAD_NO_BODY;
			return HTTP1_E_NONE;
		}
		if (h->request_method == HTTP1_M_HEAD || h->status == 204 || h->status == 304) {
			h->flags |= HTTP1_HEAD_NO_BODY;
			return HTTP1_E_NONE;
		}
	}

	if (chunked) {
		h->flags |= HTTP1_HEAD_CHUNKED;
	} else if (has_cl) {
		if (cl > p->lim.max_body)
			return HTTP1_E_BODY_TOO_LARGE;
		h->flags |= HTTP1_HEAD_CONTENT_LENGTH;
		h->content_length = cl;
		if (cl == 0)
			h->flags |= HTTP1_HEAD_NO_BODY;
	} else if (p->kind == HTTP1_RESPONSE) {
		h->flags |= HTTP1_HEAD_UNTIL_CLOSE;
		h->flags &= ~HTTP1_HEAD_KEEP_ALIVE;
	} else {
		h->flags |= HTTP1_HEAD_NO_BODY;
	}
	return HTTP1_E_NONE;
}

static int head_complete(struct http1_parser *p)
{
	struct http1_head *h = &p->h;
	const char *s = p->head, *end = p->head + p->head_len;
	const char *eol = memchr(s, '\r', p->head_len);
	enum http1_error e;

	h->kind = p->kind;
	h->head_bytes = p->head_len;
	h->headers = p->headers;
	if (p->kind == HTTP1_REQUEST)
		e = parse_request_line(p, s, (size_t)(eol - s));
	else
		e = parse_status_line(p, s, (size_t)(eol - s));
	if (e)
		return fail(p, e);
	e = parse_fields(eol + 2, end, p->headers, p->lim.max_headers, &h->n_headers);
	if (e)
		return fail(p, e);
	e = head_semantics(p);
	if (e)
		return fail(p, e);

	p->done_flags = 0;
	if (h->flags & HTTP1_HEAD_INTERIM) {
		p->done_flags = HTTP1_DONE_INTERIM;
	} else {
		if (p->kind == HTTP1_RESPONSE) {
			p->q_first = (p->q_first + 1) % p->lim.max_pipeline;
			p->q_len--;
		}
		/* A request asking to upgrade goes on as HTTP until a 101 says otherwise. */
		if (p->kind == HTTP1_RESPONSE &&
		    (h->flags & (HTTP1_HEAD_TUNNEL | HTTP1_HEAD_UPGRADE)))
			p->done_flags |= HTTP1_DONE_UPGRADE;
		if (!(h->flags & HTTP1_HEAD_KEEP_ALIVE))
			p->done_flags |= HTTP1_DONE_CLOSE;
	}

	if (h->flags & HTTP1_HEAD_NO_BODY)
		p->state = ST_DONE;
	else if (h->flags & HTTP1_HEAD_CHUNKED)
		p->state = ST_CHUNK_LINE;
	else if (h->flags & HTTP1_HEAD_CONTENT_LENGTH)
		p->state = ST_BODY_CL;
	else
		p->state = ST_UNTIL_CLOSE;
	p->remaining = h->content_length;
	p->cline_len = 0;
	p->cr = false;
	return 0;
}

static size_t skip_ows(const char *s, size_t i, size_t len)
{
	while (i < len && is_ows(s[i]))
		i++;
	return i;
}

static size_t skip_token(const char *s, size_t i, size_t len)
{
	while (i < len && is_tchar((unsigned char)s[i]))
		i++;
	return i;
}

/* chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ) */
static bool chunk_ext_valid(const char *s, size_t len)
{
	size_t i = 0, j;

	for (;;) {
		if (i == len)
			return true;
		i = skip_ows(s, i, len); /* BWS only before a ';' */
		if (i == len || s[i] != ';')
			return false;
		i = skip_ows(s, i + 1, len);
		j = skip_token(s, i, len);
		if (j == i)
			return false;
		i = skip_ows(s, j, len);
		if (i == len || s[i] != '=') {
			i = j;
			continue;
		}
		i = skip_ows(s, i + 1, len);
		if (i < len && s[i] == '"') {
			for (i++; i < len && s[i] != '"'; i++) {
				if (s[i] == '\\' && ++i == len)
					return false;
				if (!is_field_char((unsigned char)s[i]))
					return false;
			}
			if (i++ == len)
				return false;
		} else {
			j = skip_token(s, i, len);
			if (j == i)
				return false;
			i = j;
		}
	}
}

static int chunk_line_complete(struct http1_parser *p)
{
	const char *s = p->cline;
	size_t len = p->cline_len - 2, i = 0;
	uint64_t size = 0;

	for (; i < len; i++) {
		char c = s[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			break;
		if (size > (UINT64_MAX >> 4))
			return fail(p, HTTP1_E_CHUNK_SIZE_OVERFLOW);
		size = (size << 4) | d;
	}
	if (i == 0 || (i < len && s[i] != ';' && !is_ows(s[i])))
		return fail(p, HTTP1_E_CHUNK_SIZE_INVALID);
	if (!chunk_ext_valid(s + i, len - i))
		return fail(p, HTTP1_E_CHUNK_EXT_INVALID);
	if (size > p->lim.max_body - p->body_bytes)
		return fail(p, HTTP1_E_BODY_TOO_LARGE);
	p->cline_len = 0;
	if (size == 0) {
		p->state = ST_TRAILERS;
		p->trl_len = 0;
		p->line_len = 0;
		p->lines = 0;
		p->cr = false;
	} else {
		p->state = ST_CHUNK_DATA;
		p->remaining = size;
	}
	return 0;
}

static int trailers_complete(struct http1_parser *p)
{
	static const char *const forbidden[] = {
	    "content-length", "transfer-encoding", "host",
	    "connection",     "upgrade",	   "expect",
	    "trailer",	      "content-encoding",  "content-type",
	    "authorization",
	};
	enum http1_error e;

	e = parse_fields(p->trl, p->trl + p->trl_len, p->trailers, p->lim.max_headers,
			 &p->n_trailers);
	if (e)
		return fail(p, e);
	for (size_t i = 0; i < p->n_trailers; i++)
		for (size_t j = 0; j < ARRAY_SIZE(forbidden); j++)
			if (http1_str_eq_ci(p->trailers[i].name, forbidden[j]))
				return fail(p, HTTP1_E_TRAILER_FORBIDDEN);
	p->state = ST_DONE;
	return 0;
}

static void start_message(struct http1_parser *p)
{
	memset(&p->h, 0, sizeof(p->h));
	p->head_len = 0;
	p->line_len = 0;
	p->lines = 0;
	p->cr = false;
	p->body_bytes = 0;
	p->n_trailers = 0;
	p->state = ST_HEAD;
}

/* Payload slice of at most max bytes, as an event. */
static void body_event(struct http1_parser *p, const uint8_t *in, size_t n, size_t *used,
		       struct http1_event *ev)
{
	ev->type = HTTP1_EV_BODY;
	ev->data = in + *used;
	ev->len = n;
	*used += n;
	p->pending += n;
	p->body_bytes += n;
}

int http1_parse(struct http1_parser *p, const void *buf, size_t len, struct http1_event *ret_ev)
{
	const uint8_t *in = buf;
	struct http1_event ev = {};
	size_t used = 0, n;
	int r;

	for (;;) {
		switch (p->state) {
		case ST_ERROR:
			return error_table[p->err].err;
		case ST_CLOSED:
			if (used < len)
				return fail(p, HTTP1_E_DATA_AFTER_CLOSE);
			goto out;
		case ST_START:
			if (used == len)
				goto out;
			if (p->kind == HTTP1_RESPONSE && p->q_len == 0)
				return fail(p, HTTP1_E_UNSOLICITED_RESPONSE);
			start_message(p);
			continue;
		case ST_HEAD:
		case ST_CHUNK_LINE:
		case ST_TRAILERS:
			r = scan(p,
				 p->state == ST_HEAD	   ? SEC_HEAD
				 : p->state == ST_TRAILERS ? SEC_TRAILERS
							   : SEC_CHUNK_LINE,
				 in, len, &used);
			if (r <= 0) {
				if (r < 0)
					return r;
				goto out;
			}
			if (p->state == ST_HEAD) {
				r = head_complete(p);
				if (r < 0)
					return r;
				ev.type = HTTP1_EV_HEAD;
				goto event;
			}
			r = p->state == ST_TRAILERS ? trailers_complete(p) : chunk_line_complete(p);
			if (r < 0)
				return r;
			continue;
		case ST_BODY_CL:
		case ST_CHUNK_DATA:
			if (used == len)
				goto out;
			n = len - used < p->remaining ? len - used : (size_t)p->remaining;
			body_event(p, in, n, &used, &ev);
			p->remaining -= n;
			if (p->remaining == 0)
				p->state = p->state == ST_BODY_CL ? ST_DONE : ST_CHUNK_CR;
			goto event;
		case ST_UNTIL_CLOSE:
			if (used == len)
				goto out;
			n = len - used;
			if (n > p->lim.max_body - p->body_bytes)
				n = (size_t)(p->lim.max_body - p->body_bytes);
			if (n == 0)
				return fail(p, HTTP1_E_BODY_TOO_LARGE);
			body_event(p, in, n, &used, &ev);
			goto event;
		case ST_CHUNK_CR:
		case ST_CHUNK_LF:
			if (used == len)
				goto out;
			if (in[used] != (p->state == ST_CHUNK_CR ? '\r' : '\n'))
				return fail(p, HTTP1_E_CHUNK_MISSING_CRLF);
			used++;
			p->pending++;
			p->state = p->state == ST_CHUNK_CR ? ST_CHUNK_LF : ST_CHUNK_LINE;
			continue;
		case ST_DONE:
			ev.type = HTTP1_EV_DONE;
			ev.flags = p->done_flags;
			p->state = p->done_flags & (HTTP1_DONE_CLOSE | HTTP1_DONE_UPGRADE)
				       ? ST_CLOSED
				       : ST_START;
			goto event;
		}
	}
event:
	ev.wire = p->pending;
	p->pending = 0;
out:
	ev.consumed = used;
	*ret_ev = ev;
	return 0;
}

int http1_parse_eof(struct http1_parser *p, struct http1_event *ret_ev)
{
	switch (p->state) {
	case ST_START:
	case ST_CLOSED:
		p->state = ST_CLOSED;
		*ret_ev = (struct http1_event){};
		return 0;
	case ST_UNTIL_CLOSE:
		p->done_flags |= HTTP1_DONE_CLOSE;
		p->state = ST_DONE;
		/* fall through */
	case ST_DONE:
	case ST_ERROR:
		return http1_parse(p, NULL, 0, ret_ev);
	default:
		return fail(p, HTTP1_E_TRUNCATED);
	}
}
