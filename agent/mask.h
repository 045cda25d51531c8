/* mask.h: masking sensitive values (cards, emails, phones, SSNs, IBANs, IP addresses, secrets,
 * named fields, operator patterns) in MCP messages before they leave the agent or reach a
 * journal.  See docs/masking.md for the config, the styles and what each detector accepts.
 *
 * Owns: struct mw_masker (compiled profiles and the host key: immutable once built, shared by
 * threads without locking) and struct mw_mask_profile.  Promises: output stays valid JSON and
 * valid UTF-8 (a match is replaced byte for byte, built-in matches are ASCII, custom patterns
 * match whole characters); input beyond MW_MASK_MAX_INPUT bytes or nested deeper than
 * MW_MASK_MAX_DEPTH is an error (-EFBIG, -ELOOP) the caller turns into a refusal, never a
 * reason to pass a value raw.  On any error the message may be partly masked: do not forward
 * it.  Pure: no logging; mask_key_load() is the one function that touches a file. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define MW_MASK_MAX_PATHS 16	       /* JSON paths kept in a summary */
#define MW_MASK_MAX_PATH 128	       /* bytes of one path (longer ones are cut) */
#define MW_MASK_MAX_DEPTH 64	       /* JSON nesting, counting JSON inside text strings */
#define MW_MASK_MAX_INPUT (64u << 20)  /* string bytes examined per call */
#define MW_MASK_MAX_PROFILES 64	       /* profiles in "masking" */
#define MW_MASK_MAX_FIELDS 128	       /* key-name rules per profile */
#define MW_MASK_MAX_PATTERNS 32	       /* custom patterns per profile */
#define MW_MASK_MAX_NAME 64	       /* bytes in a profile, field or pattern name */
#define MW_MASK_MAX_REGEX 1024	       /* bytes in a custom pattern */
#define MW_MASK_REGEX_MATCH_LIMIT 100000 /* PCRE2 match limit per match attempt */
#define MW_MASK_REGEX_DEPTH_LIMIT 1000	 /* PCRE2 backtracking depth */
#define MW_MASK_REGEX_HEAP_LIMIT 4096	 /* PCRE2 heap, KiB */
#define MW_MASK_KEY_SIZE 32		 /* bytes of the host key */

struct mw_masker;
struct mw_mask_profile;

enum mw_mask_kind {
	MW_MASK_CREDIT_CARD,
	MW_MASK_EMAIL,
	MW_MASK_PHONE,
	MW_MASK_US_SSN,
	MW_MASK_IBAN,
	MW_MASK_IPV4,
	MW_MASK_IPV6,
	MW_MASK_SECRET,
	MW_MASK_FIELD,
	MW_MASK_CUSTOM,
	MW_MASK__MAX
};

enum mw_mask_style {
	MW_MASK_STYLE_FULL,    /* [MASKED:credit_card] */
	MW_MASK_STYLE_PARTIAL, /* [MASKED:credit_card:…1111] */
	MW_MASK_STYLE_HASH,    /* [MASKED:credit_card:hmac:0123456789abcdef] */
	MW_MASK_STYLE__MAX
};

/* What was masked: counts per kind and the JSON pointers of the values touched.  The mask_*()
 * calls add to it (zero it first), so one summary can cover every event of a stream. */
struct mw_mask_summary {
	unsigned counts[MW_MASK__MAX];
	unsigned n_paths;
	char paths[MW_MASK_MAX_PATHS][MW_MASK_MAX_PATH];
	bool paths_truncated;
};

/* Compile the config's "masking" object (NULL: no profiles) and the journal's profile from
 * "journal"."mask" (NULL: every built-in detector in style "hash", or "full" without a key;
 * a string: a profile's name; an object: a profile inline).  file/text/len locate errors
 * (file:line:column, key "masking.profiles.pii.style"); text may be NULL.  key/key_len: the
 * host key for the hash style (NULL when none: a profile asking for "hash" is then an
 * error).  *ret set only on success. */
int mask_from_json(json_t *masking, json_t *journal_mask, const char *file, const char *text,
		   size_t len, const uint8_t *key, size_t key_len, struct mw_masker **ret,
		   struct mw_diag *diag);
struct mw_masker *mask_free(struct mw_masker *m);
static inline void mask_freep(struct mw_masker **m)
{
	mask_free(*m);
}

/* "masking"."key_file" if set (validated by mask_from_json), else NULL. */
const char *mask_key_file(json_t *masking);

const struct mw_mask_profile *mask_profile(const struct mw_masker *m, const char *name);
const struct mw_mask_profile *mask_journal_profile(const struct mw_masker *m);
const char *mask_profile_name(const struct mw_mask_profile *p);

/* A JSON-RPC message (or a batch) in place: its "result", "error" ("message" and "data") and,
 * for messages with a "method" (server-to-client requests and notifications), "params";
 * never "jsonrpc", "id", "method".  Summary paths are JSON pointers ("/result/content/0/text",
 * and inside JSON carried in a string, that string's path followed by the inner pointer).
 * Returns the number of values masked, or -errno (-EFBIG, -ELOOP, -ENOMEM, -ERANGE when a
 * custom pattern hit its match limit, -EINVAL). */
int mask_message(const struct mw_mask_profile *p, json_t *msg, struct mw_mask_summary *sum);
/* Any JSON value in place, paths prefixed with path ("" or NULL for none). */
int mask_json(const struct mw_mask_profile *p, json_t *v, const char *path,
	      struct mw_mask_summary *sum);
/* Plain text: *ret (malloc'd, NUL-terminated) and *ret_len set only when something was masked
 * (return > 0).  Text that parses as a JSON object or array is masked as JSON (key-name
 * rules apply, formatting is kept). */
int mask_text(const struct mw_mask_profile *p, const char *s, size_t n, char **ret,
	      size_t *ret_len, struct mw_mask_summary *sum);

/* "credit_card=2 email=1", "" when nothing was masked; cut to size. */
void mask_summary_format(const struct mw_mask_summary *s, char *buf, size_t size);
/* Adds b into a (counts and paths). */
void mask_summary_merge(struct mw_mask_summary *a, const struct mw_mask_summary *b);
unsigned mask_summary_total(const struct mw_mask_summary *s);
const char *mask_kind_str(enum mw_mask_kind k);
const char *mask_style_str(enum mw_mask_style s);

/* The host key for keyed hashes: read from path (exactly 32 bytes, a regular file not
 * readable by group or others), created (32 random bytes, mode 0600, O_EXCL) when missing.
 * -EBADMSG for a wrong size, -EPERM for a key others can read. */
int mask_key_load(const char *path, uint8_t key[MW_MASK_KEY_SIZE]);
