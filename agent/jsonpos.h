/* jsonpos.h: where is a value in a JSON text?  A small scanner that follows a JSON pointer
 * (RFC 6901, "/capture/outbound/0/ports/1") through the raw text and reports the 1-based
 * line and column of the value it names, and of its key when the value is an object member.
 *
 * Used after jansson has accepted (and lost the positions of) a document, so that semantic
 * errors can still name file:line:column.  Lines are counted on '\n' only and columns in
 * characters (UTF-8 lead bytes), as jansson counts them.  Pure: no allocation, no I/O.
 * Bounded: nesting deeper than MW_JSONPOS_MAX_DEPTH is refused, malformed text or pointers
 * give an error, never a crash or an unbounded walk.  When keys repeat, the first wins. */
#pragma once

#include <stddef.h>

/* As deep as jansson's own parser goes (JSON_PARSER_MAX_DEPTH), so every document jansson
 * accepts can be scanned. */
#define MW_JSONPOS_MAX_DEPTH 2048

struct mw_jsonpos {
	int line, column;	  /* of the value's first character */
	size_t offset;		  /* byte offset of the same */
	int key_line, key_column; /* of the member's key (its opening quote); 0 for the root and
				   * for array elements */
	size_t key_offset;
};

/* Find pointer (NUL-terminated; "" is the whole document) in text[0..len).
 * Returns 0 and fills *ret_pos, -ENOENT if the pointer names nothing in the text, -EINVAL
 * for a malformed pointer or text, -ELOOP for nesting beyond MW_JSONPOS_MAX_DEPTH,
 * -EFBIG for a text longer than INT_MAX. */
int jsonpos_find(const char *text, size_t len, const char *pointer, struct mw_jsonpos *ret_pos);
/* The same with an explicit pointer length (the pointer may then hold any bytes). */
int jsonpos_find_len(const char *text, size_t len, const char *pointer, size_t pointer_len,
		     struct mw_jsonpos *ret_pos);

/* The other way round: the path of the innermost member or element being written at byte
 * offset (e.g. where jansson stopped with a syntax error), as a JSON pointer
 * ("/capture/outbound/0") or dotted ("capture.outbound[0]", keys unescaped as they are).
 * Tokens that start before offset are taken into account (a closing bracket only when it
 * ends before offset).  buf is always NUL-terminated, truncated when too small.  Returns 0,
 * -ELOOP when nesting there is deeper than MW_JSONPOS_PATH_MAX, -EINVAL on bad arguments. */
#define MW_JSONPOS_PATH_MAX 64

enum mw_jsonpos_style {
	MW_JSONPOS_POINTER,
	MW_JSONPOS_DOTTED,
};

int jsonpos_path_at(const char *text, size_t len, size_t offset, enum mw_jsonpos_style style,
		    char *buf, size_t size);
