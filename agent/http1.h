/* http1.h: strict, incremental, bounded HTTP/1.1 message parser (RFC 9112) for requests and
 * responses on one direction of a connection.
 *
 * Owns: one parser per direction, its bounded head buffer (headers are slices into it), a small
 * chunk-line buffer, a trailer buffer and, for responses, the queue of request methods still
 * waiting for an answer. Promises: pure (no I/O, no logging); any chunking of the same bytes
 * gives the same events and the same result; nothing grows beyond the limits; every byte
 * consumed is covered by exactly one event (the "wire" count) so a relay can hold or forward
 * exactly the bytes of a head, a body chunk or the end of a message; the body is never
 * buffered: body events point into the caller's input.
 *
 * Error convention: functions return 0 or a negative errno. A rejected message returns
 * -EBADMSG (malformed), -E2BIG (a limit) or -EPROTONOSUPPORT (HTTP version, transfer coding,
 * expectation); http1_parser_error() then names the exact reason and http1_error_status() the
 * status a proxy answers. Errors are sticky: the connection must be closed.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Default limits (struct http1_limits overrides each one). */
#define HTTP1_MAX_HEAD_BYTES_DEFAULT (16u * 1024)   /* start line + fields + CRLFs */
#define HTTP1_MAX_HEADERS_DEFAULT 100u		    /* field lines per head or trailer section */
#define HTTP1_MAX_REQUEST_BODY_DEFAULT (8ull << 20) /* 8 MiB, decoded payload bytes */
/* Responses carry long-lived SSE streams and the parser never buffers body bytes, so the
 * default is no limit; whoever buffers a response body (the JSON layer) bounds it there. */
#define HTTP1_MAX_RESPONSE_BODY_DEFAULT UINT64_MAX
#define HTTP1_MAX_CHUNK_LINE_DEFAULT 1024u	    /* chunk-size [extensions] CRLF */
#define HTTP1_MAX_TRAILER_BYTES_DEFAULT (8u * 1024) /* trailer section incl. final CRLF */
#define HTTP1_MAX_PIPELINE_DEFAULT 32u		    /* requests awaiting a response */
/* Ceilings a caller may not exceed (they size allocations). */
#define HTTP1_MAX_HEAD_BYTES_CEILING (1u << 20)
#define HTTP1_MAX_HEADERS_CEILING 4096u
#define HTTP1_MAX_CHUNK_LINE_CEILING (64u * 1024)
#define HTTP1_MAX_TRAILER_BYTES_CEILING (1u << 20)
#define HTTP1_MAX_PIPELINE_CEILING 1024u

enum http1_kind {
	HTTP1_REQUEST,
	HTTP1_RESPONSE,
};

enum http1_method {
	HTTP1_M_OTHER,
	HTTP1_M_GET,
	HTTP1_M_HEAD,
	HTTP1_M_POST,
	HTTP1_M_PUT,
	HTTP1_M_DELETE,
	HTTP1_M_CONNECT,
	HTTP1_M_OPTIONS,
	HTTP1_M_TRACE,
	HTTP1_M_PATCH,
};

/* Every reason a message is refused: name, the status a proxy answers a request with, the
 * errno, the reason. One list for the enum here and the table in http1.c. */
#define HTTP1_ERRORS(X)                                                                            \
	X(NUL, 400, EBADMSG, "NUL byte in head, chunk line or trailers")                           \
	X(BARE_LF, 400, EBADMSG, "bare LF (line feed without carriage return)")                    \
	X(BARE_CR, 400, EBADMSG, "bare CR (carriage return without line feed)")                    \
	X(EMPTY_START, 400, EBADMSG, "empty line before start line")                               \
	X(HEAD_TOO_LARGE, 431, E2BIG, "message head too large")                                    \
	X(TOO_MANY_HEADERS, 431, E2BIG, "too many header fields")                                  \
	X(BAD_REQUEST_LINE, 400, EBADMSG, "malformed request line")                                \
	X(BAD_METHOD, 400, EBADMSG, "invalid character in method")                                 \
	X(BAD_TARGET, 400, EBADMSG, "invalid request target")                                      \
	X(BAD_VERSION, 400, EBADMSG, "malformed HTTP version")                                     \
	X(VERSION_UNSUPPORTED, 505, EPROTONOSUPPORT, "HTTP version not 1.0 or 1.1")                \
	X(BAD_STATUS_LINE, 400, EBADMSG, "malformed status line")                                  \
	X(OBS_FOLD, 400, EBADMSG, "obsolete line folding")                                         \
	X(WS_BEFORE_COLON, 400, EBADMSG, "whitespace between field name and colon")                \
	X(BAD_HEADER_NAME, 400, EBADMSG, "invalid character in field name")                        \
	X(NO_COLON, 400, EBADMSG, "field line without colon")                                      \
	X(BAD_HEADER_VALUE, 400, EBADMSG, "invalid character in field value")                      \
	X(HOST_MISSING, 400, EBADMSG, "HTTP/1.1 request without Host")                             \
	X(HOST_DUPLICATE, 400, EBADMSG, "more than one Host field")                                \
	X(CL_AND_TE, 400, EBADMSG, "both Content-Length and Transfer-Encoding")                    \
	X(CL_INVALID, 400, EBADMSG, "malformed Content-Length")                                    \
	X(CL_OVERFLOW, 400, EBADMSG, "Content-Length overflows")                                   \
	X(CL_DUPLICATE, 400, EBADMSG, "duplicate Content-Length")                                  \
	X(CL_CONFLICT, 400, EBADMSG, "conflicting Content-Length values")                          \
	X(TE_UNKNOWN, 501, EPROTONOSUPPORT, "transfer coding other than chunked")                  \
	X(TE_CHUNKED_TWICE, 400, EBADMSG, "chunked applied more than once")                        \
	X(TE_EMPTY, 400, EBADMSG, "empty Transfer-Encoding element")                               \
	X(TE_HTTP10, 400, EBADMSG, "Transfer-Encoding in an HTTP/1.0 message")                     \
	X(EXPECT_UNKNOWN, 417, EPROTONOSUPPORT, "expectation other than 100-continue")             \
	X(BODY_TOO_LARGE, 413, E2BIG, "body too large")                                            \
	X(CHUNK_SIZE_INVALID, 400, EBADMSG, "malformed chunk size")                                \
	X(CHUNK_SIZE_OVERFLOW, 400, EBADMSG, "chunk size overflows")                               \
	X(CHUNK_EXT_INVALID, 400, EBADMSG, "malformed chunk extension")                            \
	X(CHUNK_LINE_TOO_LONG, 400, E2BIG, "chunk-size line too long")                             \
	X(CHUNK_MISSING_CRLF, 400, EBADMSG, "chunk data not followed by CRLF")                     \
	X(TRAILERS_TOO_LARGE, 431, E2BIG, "trailer section too large")                             \
	X(TRAILER_FORBIDDEN, 400, EBADMSG, "framing or routing field in trailers")                 \
	X(UNSOLICITED_RESPONSE, 400, EBADMSG, "response without a request")                        \
	X(DATA_AFTER_CLOSE, 400, EBADMSG, "data after the last message")                           \
	X(TRUNCATED, 400, EBADMSG, "end of stream inside a message")

enum http1_error {
	HTTP1_E_NONE,
#define HTTP1_X_ENUM(name, status, err, str) HTTP1_E_##name,
	HTTP1_ERRORS(HTTP1_X_ENUM)
#undef HTTP1_X_ENUM
	    _HTTP1_E_MAX,
};

/* A byte slice; never NUL-terminated. */
struct http1_str {
	const char *p;
	size_t len;
};

struct http1_header {
	struct http1_str name;	/* as received; compare case-insensitively */
	struct http1_str value; /* leading and trailing OWS removed */
};

/* Head flags. */
#define HTTP1_HEAD_KEEP_ALIVE (1u << 0)	     /* the connection may carry another message */
#define HTTP1_HEAD_CHUNKED (1u << 1)	     /* body framed by chunked coding */
#define HTTP1_HEAD_CONTENT_LENGTH (1u << 2)  /* body framed by content_length */
#define HTTP1_HEAD_UNTIL_CLOSE (1u << 3)     /* response body runs to end of stream */
#define HTTP1_HEAD_NO_BODY (1u << 4)	     /* HEAD/1xx/204/304/CONNECT 2xx, or no framing */
#define HTTP1_HEAD_EXPECT_CONTINUE (1u << 5) /* request: Expect: 100-continue */
#define HTTP1_HEAD_UPGRADE (1u << 6)	     /* request: Upgrade + Connection: upgrade; 101 */
#define HTTP1_HEAD_INTERIM (1u << 7)	     /* response: 1xx other than 101 */
#define HTTP1_HEAD_TUNNEL (1u << 8)	     /* response: 2xx to CONNECT */

struct http1_head {
	enum http1_kind kind;
	int version_minor; /* 0 or 1 */
	/* Requests. */
	struct http1_str method;
	enum http1_method method_id;
	struct http1_str target;
	/* Responses: status, reason and the request method they answer. */
	int status;
	struct http1_str reason;
	enum http1_method request_method;
	const struct http1_header *headers;
	size_t n_headers;
	unsigned flags;
	uint64_t content_length;  /* valid with HTTP1_HEAD_CONTENT_LENGTH */
	struct http1_str upgrade; /* Upgrade field value, with HTTP1_HEAD_UPGRADE */
	size_t head_bytes;	  /* wire bytes of the head, final CRLF included */
};

struct http1_limits {
	size_t max_head_bytes;
	size_t max_headers;
	uint64_t max_body;
	size_t max_chunk_line;
	size_t max_trailer_bytes;
	size_t max_pipeline;
	/* RFC 9112 6.3 lets a recipient accept "Content-Length: 5, 5" or a repeated identical
	 * field. Off by default: the next hop may not, and nginx refuses them too. Differing
	 * values are always refused. */
	bool allow_identical_content_length;
};

enum http1_event_type {
	HTTP1_EV_NONE, /* all input consumed, no event: feed more */
	HTTP1_EV_HEAD, /* a head is complete: http1_parser_head() */
	HTTP1_EV_BODY, /* payload bytes: data/len, a slice of the caller's input */
	HTTP1_EV_DONE, /* the message is complete (trailers: http1_parser_trailers()) */
};

/* DONE flags. */
#define HTTP1_DONE_CLOSE (1u << 0)   /* no further message on this connection */
#define HTTP1_DONE_UPGRADE (1u << 1) /* response 101 or CONNECT 2xx: what follows is not HTTP */
#define HTTP1_DONE_INTERIM (1u << 2) /* a 1xx interim response; the final one follows */

struct http1_event {
	enum http1_event_type type;
	/* Input bytes this call consumed. The caller advances by this much; unconsumed input
	 * (after an event) is to be fed again. */
	size_t consumed;
	/* Wire bytes of the message this event covers: everything consumed since the previous
	 * event, including earlier calls that returned NONE. For HEAD it is the whole head; for
	 * BODY the payload plus any chunk framing before it; for DONE the remaining framing
	 * (last chunk, trailers, final CRLF), often 0. Summed over events it equals the bytes
	 * consumed. */
	size_t wire;
	const uint8_t *data; /* BODY only */
	size_t len;
	unsigned flags; /* DONE only */
};

struct http1_parser;

void http1_limits_default(enum http1_kind kind, struct http1_limits *ret_limits);

/* limits may be NULL (defaults for kind). -EINVAL if a limit is 0 or above its ceiling. */
int http1_parser_new(enum http1_kind kind, const struct http1_limits *limits,
		     struct http1_parser **ret_parser);
struct http1_parser *http1_parser_free(struct http1_parser *p);
void http1_parser_freep(struct http1_parser **p);

/* Response parsers only: record that a request with this method was sent, in order, so the
 * parser knows whether its response has a body (HEAD, CONNECT). -ENOBUFS when max_pipeline
 * requests are outstanding, -EINVAL on a request parser. */
int http1_parser_push_request(struct http1_parser *p, enum http1_method method);

/* Parse from buf. At most one event per call; loop until the event is NONE. Body events point
 * into buf. ret_ev is written only on success. len 0 is allowed (it can complete a message
 * without a body). */
int http1_parse(struct http1_parser *p, const void *buf, size_t len, struct http1_event *ret_ev);

/* The peer closed its side. A response read until close ends with DONE; between messages the
 * result is NONE; inside any other message it is -EBADMSG (HTTP1_E_TRUNCATED). */
int http1_parse_eof(struct http1_parser *p, struct http1_event *ret_ev);

/* The current head: valid from its HEAD event until the next http1_parse() after DONE. */
const struct http1_head *http1_parser_head(const struct http1_parser *p);
/* Trailer fields of the last chunked message: valid from DONE until the next call. */
const struct http1_header *http1_parser_trailers(const struct http1_parser *p, size_t *ret_n);
/* Body payload bytes seen so far in the current message. */
uint64_t http1_parser_body_bytes(const struct http1_parser *p);
enum http1_error http1_parser_error(const struct http1_parser *p);

const char *http1_error_str(enum http1_error e);
/* The status a proxy answers: for a request, 400/413/417/431/501/505; for a response the
 * upstream failed, so 502. 0 for HTTP1_E_NONE. */
int http1_error_status(enum http1_kind kind, enum http1_error e);

enum http1_method http1_method_from(const char *s, size_t len);

/* The n-th (from *iter, which starts at 0) field named name, case-insensitively; NULL when
 * there are no more. */
const struct http1_header *http1_find(const struct http1_header *headers, size_t n,
				      const char *name, size_t *iter);
/* Next element of a comma-separated list (RFC 9110 5.6.1): OWS trimmed, empty elements
 * skipped, commas inside quoted strings kept. *pos starts at 0. false at the end. */
bool http1_list_next(struct http1_str value, size_t *pos, struct http1_str *ret_elem);
/* Whether the list holds token, case-insensitively (the whole element must match). */
bool http1_list_has(struct http1_str value, const char *token);
bool http1_str_eq_ci(struct http1_str s, const char *lit);
