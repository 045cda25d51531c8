/* config_read.h: reading a jansson tree for config.c, with diagnostics that name
 * file:line:column (found again in the raw text by jsonpos) and the key as a dotted path.
 * Private to the configuration module. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"

#define CFG_MAX_PATH_DEPTH 16 /* the deepest key config.c parses is 5 levels down */
#define CFG_SHOW_MAX 64	      /* bytes of a user string quoted in a message */

/* Where the value being parsed sits: a chain of keys and indices, built on the stack. */
struct cfg_path {
	const struct cfg_path *parent;
	const char *key; /* NULL for an array element */
	size_t index;
};

struct cfg_ctx {
	const char *name;
	const char *text;
	size_t len;
	struct mw_diag *diag;
	bool have_control_socket;
	bool have_backend_port[MW_MAX_INBOUND];
};

#define PATH_KEY(p, k) ((struct cfg_path){ .parent = (p), .key = (k) })
#define PATH_INDEX(p, i) ((struct cfg_path){ .parent = (p), .index = (i) })

/* "capture.outbound[0].ports[1]" for a path. */
char *cfg_path_format(const struct cfg_path *p, char *dotted, size_t size);
/* Fill x->diag for the value at p (or its key, at_key) and return -EINVAL. */
int _printf_(4, 5) cfg_error(const struct cfg_ctx *x, const struct cfg_path *p, bool at_key,
			     const char *fmt, ...);
int cfg_unknown_key(const struct cfg_ctx *x, const struct cfg_path *p, const char *expected);
/* A JSON value as an error message shows it (strings quoted and cut at CFG_SHOW_MAX). */
const char *cfg_describe(const json_t *v, char *buf, size_t size);

/* Typed reads: each checks the value at p and reports where it is wrong. */
int cfg_object(const struct cfg_ctx *x, const struct cfg_path *p, json_t *v);
int cfg_array(const struct cfg_ctx *x, const struct cfg_path *p, json_t *v, size_t min,
	      size_t max, const char *what);
int cfg_bool(const struct cfg_ctx *x, const struct cfg_path *p, json_t *v, bool *ret);
int cfg_port(const struct cfg_ctx *x, const struct cfg_path *p, json_t *v, uint16_t *ret);
int cfg_abs_path(const struct cfg_ctx *x, const struct cfg_path *p, json_t *v, char *dst,
		 size_t size);
int cfg_duration(const struct cfg_ctx *x, const struct cfg_path *p, json_t *v, uint64_t min,
		 uint64_t *ret);

#define GOT(v) cfg_describe((v), (char[CFG_SHOW_MAX + 16]){ 0 }, CFG_SHOW_MAX + 16)
