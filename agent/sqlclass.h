/* sqlclass.h: classifies SQL text (PostgreSQL dialect) into classes that policy can match.
 *
 * Owns: a PostgreSQL-compatible tokenizer (comments, nested block comments, '' strings,
 * E'' strings, dollar quoting, quoted identifiers) and a small statement classifier on top
 * of it.  Promises: the same bytes always give the same answer; every byte span lies inside
 * the input; limits below are enforced; pure (no I/O, no logging).  Where unsure it adds
 * classes rather than dropping them; what it cannot read is "unparseable" (bad lexing) or
 * "unknown" (unrecognised leading word), both of which policy must treat as dangerous.  A
 * statement with no class (mask 0) is neutral.  Decisions (the tests pin each one):
 *
 *  - DELETE/UPDATE are destructive when no WHERE appears at the statement's own nesting
 *    level.  WHERE presence, not selectivity, is the criterion: "DELETE FROM t WHERE true"
 *    is write only.  A WHERE inside a subquery does not count.
 *  - Data-modifying statements inside parentheses (WITH d AS (DELETE ...), COPY (DELETE
 *    ... RETURNING *) TO STDOUT) are classified as if they stood alone.  A ';' inside
 *    parentheses does not end the statement, but what follows it is classified too.
 *  - EXPLAIN without ANALYZE is read (nothing inside is looked at); EXPLAIN ANALYZE (or
 *    (ANALYZE [value]) unless the value is false/off/no/0) takes the inner statement's
 *    classes.  The statement's keyword stays "EXPLAIN".
 *  - MERGE is write, even with WHEN MATCHED THEN DELETE: its ON clause plays WHERE's part.
 *    INSERT ... SELECT and WITH ... INSERT are write (no read bit for the source).
 *  - SELECT ... INTO is write+ddl; SELECT ... FOR UPDATE/SHARE (row locks) and LOCK are
 *    write.  CALL, DO and EXECUTE run code this text does not show: write.  PREPARE takes
 *    its inner statement's classes.  Transaction control, SET (other than role changes),
 *    RESET, DISCARD, LISTEN/NOTIFY, DEALLOCATE, MOVE, CLOSE: no class (mask 0).
 *  - ALTER ... DROP (any DROP at the statement level: COLUMN, CONSTRAINT, but also DEFAULT
 *    and NOT NULL) is destructive.  TRUNCATE is write+destructive; DROP is ddl+destructive.
 *  - privilege: GRANT, REVOKE, CREATE/ALTER/DROP ROLE|USER|GROUP (USER MAPPING too),
 *    ALTER DEFAULT PRIVILEGES, ALTER SYSTEM, ALTER ... OWNER TO, REASSIGN/DROP OWNED,
 *    CREATE SCHEMA ... GRANT, SET [SESSION|LOCAL] ROLE, SET SESSION AUTHORIZATION,
 *    SET "role" = ..., and set_config() unless its first argument is a plain literal
 *    naming another setting.
 *  - dangerous_function: a call to a server-side file, process or connection function
 *    (pg_read_file, lo_import, pg_terminate_backend, dblink, query_to_xml, ...), any call
 *    through a U&"..." identifier (escapes could spell any name), COPY to or from a server
 *    file, and LOAD.  A SELECT calling user-defined functions may still write: only these
 *    names are known.
 *  - A NUL byte anywhere makes the input unparseable; so do unbalanced parentheses.
 *  - Strings are read as PostgreSQL does with standard_conforming_strings=on (backslash
 *    is literal in '...').  When a '...' string holds a backslash, the text is read a second
 *    time as if the setting were off and those classes are added to the overall mask (not
 *    to any statement), so a session with the setting off cannot hide a statement.
 *  - multi_statement only appears in the overall mask.  Statements after a "BEGIN ATOMIC"
 *    function body's ';' are split like any other (over-approximation). */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Limits on untrusted input. */
#define SQLCLASS_MAX_INPUT (1024 * 1024) /* bytes; longer: -EMSGSIZE */
#define SQLCLASS_MAX_STATEMENTS 1024	 /* non-empty statements; more: -E2BIG */
#define SQLCLASS_MAX_DEPTH 64		 /* parenthesis nesting; deeper: -ERANGE */
/* Nested statements are rescanned; tokens lexed by all scans together are bounded by
 * SQLCLASS_WORK_PER_BYTE * length + SQLCLASS_WORK_MIN (more: -ERANGE).  Ordinary SQL
 * needs under a tenth of it; a crafted 1 MiB input stays near 0.2 s. */
#define SQLCLASS_WORK_PER_BYTE 8
#define SQLCLASS_WORK_MIN 4096
#define SQLCLASS_KEYWORD_MAX 24 /* keyword buffer, NUL included (longer: cut) */
#define SQLCLASS_NAMES_MAX 128	/* enough for sqlclass_names() of every class */

enum {
	SQLCLASS_READ = 1u << 0,
	SQLCLASS_WRITE = 1u << 1,
	SQLCLASS_DDL = 1u << 2,
	SQLCLASS_DESTRUCTIVE = 1u << 3,
	SQLCLASS_PRIVILEGE = 1u << 4,
	SQLCLASS_COPY_PROGRAM = 1u << 5,
	SQLCLASS_MULTI_STATEMENT = 1u << 6,
	SQLCLASS_DANGEROUS_FUNCTION = 1u << 7,
	SQLCLASS_UNPARSEABLE = 1u << 8, /* unterminated quote/comment, NUL, unbalanced () */
	SQLCLASS_UNKNOWN = 1u << 9,	/* a statement whose leading word is not known */
	SQLCLASS_ALL = (1u << 10) - 1,
};

struct sqlclass_stmt {
	uint32_t classes;
	size_t offset; /* span [offset, offset + length): first to last token, no ';' */
	size_t length;
	char keyword[SQLCLASS_KEYWORD_MAX]; /* leading word upper-cased; "" if none */
};

struct sqlclass_result {
	uint32_t classes; /* union of the statements' classes, plus multi_statement, plus
			     the second reading and NUL (see above) */
	size_t n_statements;
	struct sqlclass_stmt *statements;
};

/* Classify len bytes of sql (need not be NUL-terminated).  0 and *ret_result (free with
 * sqlclass_result_free()) or -EINVAL, -EMSGSIZE (too long), -E2BIG (too many statements),
 * -ERANGE (too deep or too much work), -ENOMEM.  Policy must treat any error as
 * unparseable. */
int sqlclass_classify(const char *sql, size_t len, struct sqlclass_result **ret_result);

/* The overall mask only (what policy matches on), without allocating.  Same errors. */
int sqlclass_mask(const char *sql, size_t len, uint32_t *ret_mask);

struct sqlclass_result *sqlclass_result_free(struct sqlclass_result *r);

/* "read,write,destructive" (bit order), "" for 0.  Returns the length, -EINVAL for bits
 * outside SQLCLASS_ALL, -ENOBUFS if size is too small (buf then holds ""). */
int sqlclass_names(uint32_t mask, char *buf, size_t size);

/* One class name, exactly as sqlclass_names() spells it -> its bit; -EINVAL otherwise. */
int sqlclass_from_name(const char *name, uint32_t *ret_class);
