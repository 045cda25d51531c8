/* mask_internal.h: what the masking files share (mask_config.c builds profiles, mask_detect.c
 * finds built-in matches, mask_csv.c finds ruled CSV columns, mask_text.c renders matches,
 * mask_jtext.c walks JSON text, mask_json.c walks jansson values).  Not for other modules. */
#pragma once

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "mask.h"

#define MASK_BUILTIN_ALL                                                                           \
	((1u << MW_MASK_CREDIT_CARD) | (1u << MW_MASK_EMAIL) | (1u << MW_MASK_PHONE) |             \
	 (1u << MW_MASK_US_SSN) | (1u << MW_MASK_IBAN) | (1u << MW_MASK_IPV4) |                    \
	 (1u << MW_MASK_IPV6) | (1u << MW_MASK_SECRET))

struct mask_pattern {
	char name[MW_MASK_MAX_NAME];
	pcre2_code *re;
};

struct mw_mask_profile {
	char name[MW_MASK_MAX_NAME];
	const struct mw_masker *masker;
	unsigned detectors; /* bit per built-in kind */
	enum mw_mask_style style[MW_MASK__MAX];
	char (*fields)[MW_MASK_MAX_NAME]; /* normalized: lower case, no '_' or '-' */
	size_t n_fields;
	/* a quick reject for key-name rules: per normalized length, the first and last
	 * characters in use (bit c & 31) */
	uint32_t rule_first[64], rule_last[64];
	struct mask_pattern *patterns;
	size_t n_patterns;
	pcre2_match_context *mctx;
};

struct mw_masker {
	struct mw_mask_profile *profiles;
	size_t n_profiles;
	struct mw_mask_profile *journal; /* points into profiles or to journal_own */
	struct mw_mask_profile journal_own;
	bool has_journal_own;
	pcre2_match_context *mctx; /* the match limits, shared by every profile */
	uint8_t key[MW_MASK_KEY_SIZE];
	size_t key_len;
};

struct mask_match {
	size_t start, end;
	enum mw_mask_kind kind;
	int pattern; /* custom: index into the profile's patterns, else one of: */
#define MASK_PATTERN_BUILTIN (-1)
#define MASK_PATTERN_CSV (-2) /* a CSV cell under a ruled header */
};

struct mask_matches {
	struct mask_match *v;
	size_t n, cap;
};

int mask_matches_add(struct mask_matches *m, size_t start, size_t end, enum mw_mask_kind kind,
		     int pattern);

/* Built-in detectors over s[0..n): matches appended in order, never overlapping. */
int mask_detect(unsigned detectors, const char *s, size_t n, struct mask_matches *m);

/* CSV text with a header naming ruled columns: their cells appended as matches (unsorted). */
int mask_csv_matches(const struct mw_mask_profile *p, const char *s, size_t n,
		     struct mask_matches *m);

/* A growable output buffer. */
struct mask_buf {
	char *p;
	size_t len, cap;
};
int mask_buf_put(struct mask_buf *b, const void *p, size_t n);
int mask_buf_reserve(struct mask_buf *b, size_t n);

#define MASK_MAX_SEGS (2 * MW_MASK_MAX_DEPTH + 8)

/* One masking call's state: the profile, the summary, the byte budget, the current path. */
struct mask_ctx {
	const struct mw_mask_profile *p;
	struct mw_mask_summary *sum;
	size_t budget;
	int count;
	char base[MW_MASK_MAX_PATH]; /* the caller's prefix */
	struct mask_seg {
		const char *k; /* NULL: an array index */
		size_t n;      /* key length, or the index */
	} seg[MASK_MAX_SEGS];	     /* built into a path only when something is masked */
	size_t path_len;	     /* segments in use (may exceed MASK_MAX_SEGS: cut) */
	struct mask_matches m;
	pcre2_match_data *md;
	struct mask_buf scratch; /* for strings that are not JSON (no recursion through it) */
};

void mask_ctx_init(struct mask_ctx *x, const struct mw_mask_profile *p,
		   struct mw_mask_summary *sum, const char *path);
void mask_ctx_done(struct mask_ctx *x);
/* Push a key (k[0..n) must stay valid until the pop) or an index on the path; returns what
 * mask_path_pop() restores. */
size_t mask_path_push(struct mask_ctx *x, const char *k, size_t n);
size_t mask_path_push_index(struct mask_ctx *x, size_t i);
void mask_path_pop(struct mask_ctx *x, size_t old);
/* Count one masked value of kind at the current path. */
void mask_note(struct mask_ctx *x, enum mw_mask_kind kind);

/* The key-name rule for a key: MW_MASK_FIELD, MW_MASK_SECRET (password-like, when the
 * secret detector is on) or MW_MASK__MAX for none. */
enum mw_mask_kind mask_key_rule(const struct mw_mask_profile *p, const char *k, size_t n);
/* Fill rule_lens and rule_firsts once the profile's fields and detectors are known. */
void mask_profile_index_rules(struct mw_mask_profile *p);

/* The replacement for value s[0..n) of kind (label: a custom pattern's name or NULL). */
int mask_render_one(struct mask_ctx *x, enum mw_mask_kind kind, const char *label,
		    const char *s, size_t n, struct mask_buf *out);

/* Mask text s[0..n) (no JSON interpretation); on matches (return > 0) the masked text is
 * appended to out. */
int mask_span(struct mask_ctx *x, const char *s, size_t n, struct mask_buf *out);
/* Mask s[0..n) as JSON text (object or array): > 0 and out filled when something was masked,
 * 0 when nothing was, -EBADMSG when it is not JSON. */
int mask_jtext(struct mask_ctx *x, const char *s, size_t n, int depth, struct mask_buf *out);
/* A string's value: JSON inside it when it looks like JSON, else text. */
int mask_string(struct mask_ctx *x, const char *s, size_t n, int depth, struct mask_buf *out);

static inline bool mask_looks_json(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i < n && (s[i] == '{' || s[i] == '[');
}
