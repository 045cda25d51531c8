/* sqlclass.c: SQL classification by a PostgreSQL-compatible tokenizer.  See sqlclass.h.
 *
 * Tokens are never stored: a token is lexed from any token boundary on demand, so the
 * classifier can rescan a statement (and a parenthesised sub-statement) without memory
 * proportional to the input.  Rescans are bounded by the nesting depth. */
#include "sqlclass.h"

#include "util.h"

enum tok_type {
	TOK_EOF,
	TOK_WORD,   /* unquoted identifier or keyword */
	TOK_QIDENT, /* "quoted identifier" */
	TOK_UIDENT, /* U&"quoted identifier" with possible escapes */
	TOK_STRING, /* '', E'', B'', X'', N'', U&'', $tag$...$tag$ */
	TOK_NUMBER,
	TOK_PARAM, /* $1 */
	TOK_OP,	   /* any other single byte */
	TOK_LPAREN,
	TOK_RPAREN,
	TOK_SEMI,
	TOK_ERROR, /* unterminated quote, comment or dollar quote, or NUL: runs to the end */
};

struct tok {
	size_t off;
	size_t len;
	enum tok_type type;
};

struct lexer {
	const char *s;
	size_t len;
	bool backslash_strings; /* read '...' as standard_conforming_strings=off does */
	bool saw_backslash;	/* a '...' string held a backslash */
	size_t work;		/* tokens lexed by scans, against SQLCLASS_WORK_PER_BYTE */
	size_t budget;
	bool exhausted;
};

/* PostgreSQL's scan.l: space is [ \t\n\r\f\v]; identifiers take any byte >= 0x80. */
static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool is_ident_cont(unsigned char c)
{
	return is_ident_start(c) || is_digit(c) || c == '$';
}

static char ascii_upper(char c)
{
	return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

/* Locale-independent: the server folds only ASCII letters of unquoted identifiers. */
static bool ascii_eq(const char *a, size_t n, const char *b)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] == '\0' || ascii_upper(a[i]) != ascii_upper(b[i]))
			return false;
	return b[n] == '\0';
}

/* From the opening quote at pos; true and *ret_end past the closing quote if terminated. */
static bool lex_quoted(const struct lexer *lx, size_t pos, char q, bool backslash, size_t *ret_end)
{
	size_t i;

	for (i = pos + 1; i < lx->len; i++) {
		char c = lx->s[i];

		if (backslash && c == '\\') {
			i++;
			continue;
		}
		if (c != q)
			continue;
		if (i + 1 < lx->len && lx->s[i + 1] == q) {
			i++;
			continue;
		}
		*ret_end = i + 1;
		return true;
	}
	return false;
}

/* $tag$ ... $tag$; pos is the first '$'.  0 if this is no dollar quote opener, else 1 and
 * *ret_end (or -1: unterminated). */
static int lex_dollar(const struct lexer *lx, size_t pos, size_t *ret_end)
{
	size_t j = pos + 1, taglen;
	const char *close;

	if (j < lx->len && is_ident_start(lx->s[j]))
		for (j++; j < lx->len && is_ident_cont(lx->s[j]) && lx->s[j] != '$'; j++)
			;
	if (j >= lx->len || lx->s[j] != '$')
		return 0;
	taglen = j + 1 - pos;
	close = memmem(lx->s + j + 1, lx->len - j - 1, lx->s + pos, taglen);
	if (!close)
		return -1;
	*ret_end = (size_t)(close - lx->s) + taglen;
	return 1;
}

static void tok_set(struct tok *t, size_t off, size_t end, enum tok_type type)
{
	t->off = off;
	t->len = end - off;
	t->type = type;
}

/* Skip whitespace and comments from pos, then lex one token into *t. */
static void lex_next(struct lexer *lx, size_t pos, struct tok *t)
{
	const char *s = lx->s;
	size_t n = lx->len, end, start;
	unsigned char c;
	int r;

	while (pos < n) {
		if (is_space(s[pos])) {
			pos++;
		} else if (s[pos] == '-' && pos + 1 < n && s[pos + 1] == '-') {
			while (pos < n && s[pos] != '\n' && s[pos] != '\r')
				pos++;
		} else if (s[pos] == '/' && pos + 1 < n && s[pos + 1] == '*') {
			size_t depth = 1, open = pos;

			for (pos += 2; pos < n && depth > 0;) {
				if (s[pos] == '/' && pos + 1 < n && s[pos + 1] == '*') {
					depth++;
					pos += 2;
				} else if (s[pos] == '*' && pos + 1 < n && s[pos + 1] == '/') {
					depth--;
					pos += 2;
				} else {
					pos++;
				}
			}
			if (depth > 0)
				return tok_set(t, open, n, TOK_ERROR);
		} else {
			break;
		}
	}
	if (pos >= n)
		return tok_set(t, n, n, TOK_EOF);

	start = pos;
	c = s[pos];
	switch (c) {
	case '\0':
		return tok_set(t, start, n, TOK_ERROR);
	case ';':
		return tok_set(t, start, pos + 1, TOK_SEMI);
	case '(':
		return tok_set(t, start, pos + 1, TOK_LPAREN);
	case ')':
		return tok_set(t, start, pos + 1, TOK_RPAREN);
	case '\'':
		if (!lex_quoted(lx, pos, '\'', lx->backslash_strings, &end))
			return tok_set(t, start, n, TOK_ERROR);
		if (memchr(s + pos, '\\', end - pos))
			lx->saw_backslash = true;
		return tok_set(t, start, end, TOK_STRING);
	case '"':
		if (!lex_quoted(lx, pos, '"', false, &end))
			return tok_set(t, start, n, TOK_ERROR);
		return tok_set(t, start, end, TOK_QIDENT);
	case '$':
		if (pos + 1 < n && is_digit(s[pos + 1])) {
			for (pos++; pos < n && is_digit(s[pos]); pos++)
				;
			return tok_set(t, start, pos, TOK_PARAM);
		}
		r = lex_dollar(lx, pos, &end);
		if (r < 0)
			return tok_set(t, start, n, TOK_ERROR);
		if (r > 0)
			return tok_set(t, start, end, TOK_STRING);
		return tok_set(t, start, pos + 1, TOK_OP);
	}

	if (is_ident_start(c)) {
		char u = ascii_upper(c);
		char next = pos + 1 < n ? s[pos + 1] : '\0';

		/* E'...' takes backslash escapes whatever the setting; B'', X'' never do; N''
		 * behaves like a plain string. */
		if (next == '\'' && (u == 'E' || u == 'B' || u == 'X' || u == 'N')) {
			bool bs = u == 'E' || (u == 'N' && lx->backslash_strings);

			if (!lex_quoted(lx, pos + 1, '\'', bs, &end))
				return tok_set(t, start, n, TOK_ERROR);
			if (u == 'N' && memchr(s + pos, '\\', end - pos))
				lx->saw_backslash = true;
			return tok_set(t, start, end, TOK_STRING);
		}
		if (u == 'U' && next == '&' && pos + 2 < n &&
		    (s[pos + 2] == '\'' || s[pos + 2] == '"')) {
			char q = s[pos + 2];

			if (!lex_quoted(lx, pos + 2, q, false, &end))
				return tok_set(t, start, n, TOK_ERROR);
			return tok_set(t, start, end, q == '"' ? TOK_UIDENT : TOK_STRING);
		}
		for (pos++; pos < n && is_ident_cont(s[pos]); pos++)
			;
		return tok_set(t, start, pos, TOK_WORD);
	}
	if (is_digit(c) || (c == '.' && pos + 1 < n && is_digit(s[pos + 1]))) {
		/* digits [. digits] [e [+-] digits] and no more: "1E'..'" is 1 then an E''
		 * string to PostgreSQL 14 (15 and later reject it). */
		for (; pos < n && is_digit(s[pos]); pos++)
			;
		if (pos < n && s[pos] == '.' && !(pos + 1 < n && s[pos + 1] == '.'))
			for (pos++; pos < n && is_digit(s[pos]); pos++)
				;
		if (pos + 1 < n && ascii_upper(s[pos]) == 'E') {
			end = pos + 1;
			if (end + 1 < n && (s[end] == '+' || s[end] == '-'))
				end++;
			if (is_digit(s[end]))
				for (pos = end; pos < n && is_digit(s[pos]); pos++)
					;
		}
		return tok_set(t, start, pos, TOK_NUMBER);
	}
	return tok_set(t, start, pos + 1, TOK_OP);
}

/* A forward scan over [pos, end) that knows each token's parenthesis depth relative to
 * where it started. */
struct cur {
	struct lexer *lx;
	size_t pos;
	size_t end;
	int depth;
	int pending;
	struct tok t;
};

static void cur_init(struct cur *c, struct lexer *lx, size_t pos, size_t end)
{
	*c = (struct cur){ .lx = lx, .pos = pos, .end = end };
}

static bool cur_next(struct cur *c)
{
	if (c->pos >= c->end)
		return false;
	if (++c->lx->work > c->lx->budget) {
		c->lx->exhausted = true;
		c->pos = c->end;
		return false;
	}
	lex_next(c->lx, c->pos, &c->t);
	if (c->t.type == TOK_EOF || c->t.type == TOK_ERROR || c->t.off >= c->end) {
		c->pos = c->end;
		return false;
	}
	c->pos = c->t.off + c->t.len;
	c->depth += c->pending;
	c->pending = 0;
	if (c->t.type == TOK_LPAREN)
		c->pending = 1;
	else if (c->t.type == TOK_RPAREN)
		c->depth--;
	return true;
}

/* The closing parenthesis of the group the scan started in, or a ';' at its level. */
static bool cur_group_end(const struct cur *c)
{
	return c->depth < 0 || (c->t.type == TOK_SEMI && c->depth == 0);
}

/* The token after the current one, without moving. */
static void cur_peek(const struct cur *c, struct tok *t)
{
	lex_next(c->lx, c->pos, t);
	if (t->off >= c->end)
		t->type = TOK_EOF;
}

static bool tok_kw(const struct lexer *lx, const struct tok *t, const char *kw)
{
	return t->type == TOK_WORD && ascii_eq(lx->s + t->off, t->len, kw);
}

static bool cur_kw(const struct cur *c, const char *kw)
{
	return tok_kw(c->lx, &c->t, kw);
}

static bool tok_is_op(const struct lexer *lx, const struct tok *t, char op)
{
	return t->type == TOK_OP && lx->s[t->off] == op;
}

/* Could this identifier token name `name`?  Quoted names are compared without case too
 * (setting names ignore case; a false match only adds a class).  U&"..." may spell any
 * name with escapes, so it always could. */
static bool tok_name(const struct lexer *lx, const struct tok *t, const char *name)
{
	if (t->type == TOK_WORD)
		return ascii_eq(lx->s + t->off, t->len, name);
	if (t->type == TOK_QIDENT)
		return ascii_eq(lx->s + t->off + 1, t->len - 2, name);
	return t->type == TOK_UIDENT;
}

/* Could this string literal's value be `value`?  Escapes or prefixes other than E: maybe. */
static bool string_maybe(const struct lexer *lx, const struct tok *t, const char *value)
{
	const char *p = lx->s + t->off;
	size_t n = t->len, skip;

	if (p[0] == '$') {
		skip = (size_t)((const char *)memchr(p + 1, '$', n - 1) - p) + 1;
		return ascii_eq(p + skip, n - 2 * skip, value);
	}
	if (p[0] == '\'')
		skip = 1;
	else if (ascii_upper(p[0]) == 'E')
		skip = 2;
	else
		return true;
	if (memchr(p + skip, '\\', n - skip - 1) || memchr(p + skip, '\'', n - skip - 1))
		return true;
	return ascii_eq(p + skip, n - skip - 1, value);
}

static bool cur_kw_any(const struct cur *c, const char *const *kws)
{
	for (; *kws; kws++)
		if (cur_kw(c, *kws))
			return true;
	return false;
}

/* clang-format off */
static const char *const kw_main[] = { "SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "VALUES",
				       "TABLE", NULL };
static const char *const kw_nested[] = { "INSERT", "UPDATE", "DELETE", "MERGE", "WITH", NULL };
static const char *const kw_role[] = { "ROLE", "USER", "GROUP", NULL };
static const char *const kw_lock[] = { "UPDATE", "SHARE", "NO", "KEY", NULL };
/* parse_bool() spellings of false, as EXPLAIN (ANALYZE x) accepts them. */
static const char *const kw_false[] = { "F", "FA", "FAL", "FALS", "FALSE", "N", "NO", "OF", "OFF",
					"0", NULL };

/* Leading words whose class does not depend on what follows. */
static const struct {
	const char *kw;
	uint32_t classes;
} simple[] = {
	{ "INSERT", SQLCLASS_WRITE }, { "UPSERT", SQLCLASS_WRITE }, { "MERGE", SQLCLASS_WRITE },
	{ "CALL", SQLCLASS_WRITE }, { "DO", SQLCLASS_WRITE }, { "EXECUTE", SQLCLASS_WRITE },
	{ "LOCK", SQLCLASS_WRITE }, { "TRUNCATE", SQLCLASS_WRITE | SQLCLASS_DESTRUCTIVE },
	{ "GRANT", SQLCLASS_PRIVILEGE }, { "REVOKE", SQLCLASS_PRIVILEGE },
	{ "REASSIGN", SQLCLASS_DDL | SQLCLASS_PRIVILEGE },
	{ "SHOW", SQLCLASS_READ }, { "FETCH", SQLCLASS_READ }, { "VACUUM", SQLCLASS_DDL },
	{ "ANALYZE", SQLCLASS_DDL }, { "ANALYSE", SQLCLASS_DDL }, { "REINDEX", SQLCLASS_DDL },
	{ "CLUSTER", SQLCLASS_DDL }, { "COMMENT", SQLCLASS_DDL }, { "SECURITY", SQLCLASS_DDL },
	{ "REFRESH", SQLCLASS_DDL }, { "IMPORT", SQLCLASS_DDL }, { "CHECKPOINT", SQLCLASS_DDL },
	{ "LOAD", SQLCLASS_DDL | SQLCLASS_DANGEROUS_FUNCTION },
	{ "BEGIN", 0 }, { "START", 0 }, { "COMMIT", 0 }, { "END", 0 }, { "ROLLBACK", 0 },
	{ "ABORT", 0 }, { "SAVEPOINT", 0 }, { "RELEASE", 0 }, { "RESET", 0 },
	{ "DISCARD", 0 }, { "DEALLOCATE", 0 }, { "LISTEN", 0 }, { "UNLISTEN", 0 },
	{ "NOTIFY", 0 }, { "MOVE", 0 }, { "CLOSE", 0 },
};

/* Functions that reach the server's files, processes, connections or run SQL text. */
static const char *const dangerous_functions[] = {
	"pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "pg_ls_logdir",
	"pg_ls_waldir", "pg_ls_tmpdir", "pg_ls_archive_statusdir", "lo_import", "lo_export",
	"pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile",
	"pg_promote", "pg_switch_wal", "pg_file_write", "pg_file_rename", "pg_file_unlink",
	"pg_logdir_ls", "dblink", "dblink_exec", "dblink_connect", "dblink_connect_u",
	"dblink_send_query", "query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema",
	"pg_execute_server_program", NULL,
};
/* clang-format on */

/* `name(` at the token after the name. */
static uint32_t classify_call(struct lexer *lx, const struct tok *name, size_t args, size_t end)
{
	const char *const *f;
	struct tok a, b;

	for (f = dangerous_functions; *f; f++)
		if (tok_name(lx, name, *f))
			return SQLCLASS_DANGEROUS_FUNCTION;
	if (!tok_name(lx, name, "set_config"))
		return 0;
	/* set_config('role', ...) is SET ROLE; only a lone literal naming another setting
	 * is harmless. */
	lex_next(lx, args, &a);
	if (a.type != TOK_STRING || a.off >= end)
		return SQLCLASS_PRIVILEGE;
	lex_next(lx, a.off + a.len, &b);
	if (b.off >= end || !tok_is_op(lx, &b, ',') || string_maybe(lx, &a, "role") ||
	    string_maybe(lx, &a, "session_authorization"))
		return SQLCLASS_PRIVILEGE;
	return 0;
}

/* Classify the statement starting at pos and running to the end of its parenthesis group,
 * a ';' at its level, or end.  *ret_kw gets the leading word (if still TOK_EOF);
 * *ret_inert is set when nothing in the statement executes (plain EXPLAIN). */
static uint32_t classify_at(struct lexer *lx, size_t pos, size_t end, struct tok *ret_kw,
			    bool *ret_inert)
{
	struct cur c;
	struct tok prev, next;
	uint32_t m = 0;
	size_t i;
	int kd;

	cur_init(&c, lx, pos, end);
	if (!cur_next(&c))
		return 0;
lead:
	while (c.t.type == TOK_LPAREN)
		if (!cur_next(&c))
			return m | SQLCLASS_UNKNOWN;
dispatch:
	if (c.t.type != TOK_WORD)
		return m | SQLCLASS_UNKNOWN;
	if (ret_kw && ret_kw->type == TOK_EOF)
		*ret_kw = c.t;
	kd = c.depth;

	for (i = 0; i < ARRAY_SIZE(simple); i++)
		if (cur_kw(&c, simple[i].kw))
			return m | simple[i].classes;

	if (cur_kw(&c, "SELECT") || cur_kw(&c, "VALUES") || cur_kw(&c, "TABLE")) {
		/* INTO anywhere creates a table; FOR UPDATE/SHARE anywhere locks rows. */
		m |= SQLCLASS_READ;
		while (cur_next(&c) && !cur_group_end(&c)) {
			if (cur_kw(&c, "INTO")) {
				m |= SQLCLASS_WRITE | SQLCLASS_DDL;
			} else if (cur_kw(&c, "FOR")) {
				cur_peek(&c, &next);
				for (i = 0; kw_lock[i]; i++)
					if (tok_kw(lx, &next, kw_lock[i]))
						m |= SQLCLASS_WRITE;
			}
		}
		return m;
	}
	if (cur_kw(&c, "UPDATE") || cur_kw(&c, "DELETE")) {
		bool where = false;

		while (cur_next(&c) && !cur_group_end(&c))
			if (c.depth == kd && cur_kw(&c, "WHERE"))
				where = true;
		return m | SQLCLASS_WRITE | (where ? 0 : SQLCLASS_DESTRUCTIVE);
	}
	if (cur_kw(&c, "WITH")) {
		/* Skip the CTE list (bodies are classified by classify_stmt()) to the main
		 * statement: a main keyword at this level not in a CTE name's place. */
		prev = c.t;
		while (cur_next(&c) && !cur_group_end(&c)) {
			if (c.depth == kd && cur_kw_any(&c, kw_main) &&
			    !tok_kw(lx, &prev, "WITH") && !tok_kw(lx, &prev, "RECURSIVE") &&
			    !tok_is_op(lx, &prev, ','))
				goto dispatch;
			if (c.depth == kd && c.t.type == TOK_LPAREN && prev.type == TOK_RPAREN)
				goto lead;
			prev = c.t;
		}
		return m | SQLCLASS_UNKNOWN;
	}
	if (cur_kw(&c, "EXPLAIN")) {
		bool analyze = false;

		if (!cur_next(&c))
			return m | SQLCLASS_READ;
		if (c.t.type == TOK_LPAREN) {
			int od = c.depth;

			while (cur_next(&c) && c.depth > od) {
				if (c.depth != od + 1 ||
				    !(cur_kw(&c, "ANALYZE") || cur_kw(&c, "ANALYSE")))
					continue;
				cur_peek(&c, &next);
				analyze = true;
				for (i = 0; kw_false[i]; i++)
					if ((next.type == TOK_WORD || next.type == TOK_NUMBER) &&
					    ascii_eq(lx->s + next.off, next.len, kw_false[i]))
						analyze = false;
			}
			if (!cur_next(&c))
				return m | SQLCLASS_READ;
		} else {
			while (cur_kw(&c, "ANALYZE") || cur_kw(&c, "ANALYSE") ||
			       cur_kw(&c, "VERBOSE")) {
				analyze |= !cur_kw(&c, "VERBOSE");
				if (!cur_next(&c))
					return m | SQLCLASS_READ;
			}
		}
		if (analyze)
			goto lead;
		if (ret_inert)
			*ret_inert = true;
		return m | SQLCLASS_READ;
	}
	if (cur_kw(&c, "PREPARE") || cur_kw(&c, "DECLARE")) {
		/* PREPARE name AS stmt, DECLARE name ... FOR query: classify what it will run. */
		bool prepare = cur_kw(&c, "PREPARE");
		const char *sep = prepare ? "AS" : "FOR";

		if (!cur_next(&c))
			return m | SQLCLASS_UNKNOWN;
		cur_peek(&c, &next);
		if (prepare && cur_kw(&c, "TRANSACTION") && next.type == TOK_STRING)
			return m; /* two-phase commit */
		do {
			if (c.depth == kd && cur_kw(&c, sep)) {
				if (!cur_next(&c))
					break;
				goto lead;
			}
		} while (cur_next(&c) && !cur_group_end(&c));
		return m | SQLCLASS_UNKNOWN;
	}
	if (cur_kw(&c, "CREATE")) {
		bool table = false;

		m |= SQLCLASS_DDL;
		while (cur_next(&c) &&
		       (cur_kw(&c, "OR") || cur_kw(&c, "REPLACE") || cur_kw(&c, "TEMP") ||
			cur_kw(&c, "TEMPORARY") || cur_kw(&c, "UNLOGGED") || cur_kw(&c, "GLOBAL") ||
			cur_kw(&c, "LOCAL")))
			;
		if (cur_kw_any(&c, kw_role))
			m |= SQLCLASS_PRIVILEGE;
		table = cur_kw(&c, "TABLE") || cur_kw(&c, "MATERIALIZED");
		while (cur_next(&c) && !cur_group_end(&c)) {
			if (c.depth == kd && cur_kw(&c, "GRANT"))
				m |= SQLCLASS_PRIVILEGE;
			if (c.depth == kd && table && cur_kw(&c, "AS"))
				m |= SQLCLASS_WRITE;
		}
		return m;
	}
	if (cur_kw(&c, "ALTER")) {
		m |= SQLCLASS_DDL;
		if (!cur_next(&c))
			return m;
		if (cur_kw_any(&c, kw_role) || cur_kw(&c, "DEFAULT") || cur_kw(&c, "SYSTEM"))
			m |= SQLCLASS_PRIVILEGE;
		do {
			if (c.depth != kd)
				continue;
			if (cur_kw(&c, "DROP"))
				m |= SQLCLASS_DESTRUCTIVE;
			if (cur_kw(&c, "OWNER")) {
				cur_peek(&c, &next);
				if (tok_kw(lx, &next, "TO"))
					m |= SQLCLASS_PRIVILEGE;
			}
		} while (cur_next(&c) && !cur_group_end(&c));
		return m;
	}
	if (cur_kw(&c, "DROP")) {
		m |= SQLCLASS_DDL | SQLCLASS_DESTRUCTIVE;
		if (cur_next(&c) && (cur_kw_any(&c, kw_role) || cur_kw(&c, "OWNED")))
			m |= SQLCLASS_PRIVILEGE;
		return m;
	}
	if (cur_kw(&c, "SET")) {
		while (cur_next(&c)) {
			if (cur_kw(&c, "SESSION")) {
				cur_peek(&c, &next);
				if (tok_kw(lx, &next, "AUTHORIZATION"))
					return m | SQLCLASS_PRIVILEGE;
				continue;
			}
			if (cur_kw(&c, "LOCAL"))
				continue;
			if (tok_name(lx, &c.t, "role") ||
			    tok_name(lx, &c.t, "session_authorization"))
				return m | SQLCLASS_PRIVILEGE;
			break;
		}
		return m;
	}
	if (cur_kw(&c, "COPY")) {
		/* The first FROM/TO at the statement's level: a query's own FROM is nested. */
		while (cur_next(&c) && !cur_group_end(&c)) {
			bool from = cur_kw(&c, "FROM");

			if (c.depth != kd || !(from || cur_kw(&c, "TO")))
				continue;
			m |= from ? SQLCLASS_WRITE : SQLCLASS_READ;
			if (!cur_next(&c))
				return m;
			if (cur_kw(&c, "PROGRAM"))
				m |= SQLCLASS_COPY_PROGRAM;
			else if (c.t.type == TOK_STRING)
				m |= SQLCLASS_DANGEROUS_FUNCTION; /* a server-side file */
			return m;
		}
		return m | SQLCLASS_UNKNOWN;
	}
	return m | SQLCLASS_UNKNOWN;
}

/* What hides inside a statement: data-modifying statements after '(' (CTE bodies, COPY
 * queries), anything after a ';' inside parentheses, and calls to dangerous functions. */
static uint32_t classify_inside(struct lexer *lx, size_t start, size_t end)
{
	struct tok prev = { .type = TOK_EOF };
	struct cur c;
	uint32_t m = 0;

	cur_init(&c, lx, start, end);
	while (cur_next(&c)) {
		if ((prev.type == TOK_LPAREN && cur_kw_any(&c, kw_nested)) || prev.type == TOK_SEMI)
			m |= classify_at(lx, c.t.off, end, NULL, NULL);
		if (c.t.type == TOK_LPAREN &&
		    (prev.type == TOK_WORD || prev.type == TOK_QIDENT || prev.type == TOK_UIDENT))
			m |= classify_call(lx, &prev, c.pos, end);
		prev = c.t;
	}
	return m;
}

struct split {
	struct sqlclass_result *res; /* NULL: count only */
	size_t n;
	size_t cap;
	uint32_t classes;
};

static int split_add(struct lexer *lx, struct split *sp, size_t start, size_t end, bool bad)
{
	struct tok kw = { .type = TOK_EOF };
	struct sqlclass_stmt *st;
	bool inert = false;
	uint32_t m;
	size_t i;

	if (sp->n >= SQLCLASS_MAX_STATEMENTS)
		return -E2BIG;
	m = classify_at(lx, start, end, &kw, &inert);
	if (!inert)
		m |= classify_inside(lx, start, end);
	if (bad)
		m |= SQLCLASS_UNPARSEABLE;
	sp->classes |= m;
	if (sp->res) {
		if (sp->n == sp->cap) {
			size_t cap = sp->cap ? sp->cap * 2 : 4;

			st = reallocarray(sp->res->statements, cap, sizeof(*st));
			if (!st)
				return -ENOMEM;
			sp->res->statements = st;
			sp->cap = cap;
		}
		st = &sp->res->statements[sp->n];
		memset(st, 0, sizeof(*st)); /* padding too: equal input, equal bytes */
		st->classes = m;
		st->offset = start;
		st->length = end - start;
		for (i = 0; kw.type == TOK_WORD && i < kw.len && i + 1 < SQLCLASS_KEYWORD_MAX; i++)
			st->keyword[i] = ascii_upper(lx->s[kw.off + i]);
		sp->res->n_statements = sp->n + 1;
	}
	sp->n++;
	return 0;
}

/* Split at ';' outside parentheses and classify each non-empty statement. */
static int classify_text(struct lexer *lx, struct split *sp)
{
	size_t pos = 0, start = 0, last = 0;
	bool have = false, bad = false;
	int depth = 0, r;
	struct tok t;

	for (;;) {
		lex_next(lx, pos, &t);
		if (t.type == TOK_ERROR) {
			if (!have)
				start = t.off;
			have = bad = true;
			last = t.off + t.len;
		}
		if (t.type == TOK_EOF || t.type == TOK_ERROR ||
		    (t.type == TOK_SEMI && depth == 0)) {
			if (have) {
				r = split_add(lx, sp, start, last, bad || depth != 0);
				if (r < 0)
					return r;
			}
			if (t.type != TOK_SEMI)
				break;
			have = bad = false;
			pos = t.off + t.len;
			continue;
		}
		if (!have) {
			start = t.off;
			have = true;
		}
		if (t.type == TOK_LPAREN && ++depth > SQLCLASS_MAX_DEPTH)
			return -ERANGE;
		if (t.type == TOK_RPAREN) {
			if (depth == 0)
				bad = true;
			else
				depth--;
		}
		last = pos = t.off + t.len;
	}
	if (lx->exhausted)
		return -ERANGE;
	if (sp->n > 1)
		sp->classes |= SQLCLASS_MULTI_STATEMENT;
	return 0;
}

static int classify(const char *sql, size_t len, struct sqlclass_result *res, uint32_t *ret_mask)
{
	size_t budget = len * SQLCLASS_WORK_PER_BYTE + SQLCLASS_WORK_MIN;
	struct lexer lx = { .s = sql, .len = len, .budget = budget };
	struct split sp = { .res = res };
	int r;

	if (!sql && len > 0)
		return -EINVAL;
	if (len > SQLCLASS_MAX_INPUT)
		return -EMSGSIZE;
	r = classify_text(&lx, &sp);
	if (r < 0)
		return r;
	if (lx.saw_backslash) {
		/* The same text as a server with standard_conforming_strings=off reads it.
		 * Unterminated there means a syntax error there: nothing would run. */
		struct lexer alt = {
			.s = sql, .len = len, .backslash_strings = true, .budget = budget
		};
		struct split asp = { .res = NULL };

		r = classify_text(&alt, &asp);
		if (r < 0)
			return r;
		sp.classes |= asp.classes & ~SQLCLASS_UNPARSEABLE;
	}
	if (len > 0 && memchr(sql, '\0', len))
		sp.classes |= SQLCLASS_UNPARSEABLE;
	*ret_mask = sp.classes;
	return 0;
}

int sqlclass_classify(const char *sql, size_t len, struct sqlclass_result **ret_result)
{
	struct sqlclass_result *res;
	uint32_t mask;
	int r;

	if (!ret_result)
		return -EINVAL;
	res = calloc(1, sizeof(*res));
	if (!res)
		return -ENOMEM;
	r = classify(sql, len, res, &mask);
	if (r < 0) {
		sqlclass_result_free(res);
		return r;
	}
	res->classes = mask;
	*ret_result = res;
	return 0;
}

int sqlclass_mask(const char *sql, size_t len, uint32_t *ret_mask)
{
	uint32_t mask;
	int r;

	if (!ret_mask)
		return -EINVAL;
	r = classify(sql, len, NULL, &mask);
	if (r < 0)
		return r;
	*ret_mask = mask;
	return 0;
}

struct sqlclass_result *sqlclass_result_free(struct sqlclass_result *r)
{
	if (r) {
		free(r->statements);
		free(r);
	}
	return NULL;
}

/* clang-format off */
static const char *const class_names[] = {
	"read", "write", "ddl", "destructive", "privilege", "copy_program", "multi_statement",
	"dangerous_function", "unparseable", "unknown",
};
/* clang-format on */

_Static_assert(ARRAY_SIZE(class_names) == 10 && SQLCLASS_ALL == (1u << 10) - 1,
	       "one name per class bit");

int sqlclass_names(uint32_t mask, char *buf, size_t size)
{
	size_t len = 0, i, n;

	if (!buf || size == 0 || (mask & ~(uint32_t)SQLCLASS_ALL))
		return -EINVAL;
	buf[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(class_names); i++) {
		if (!(mask & (1u << i)))
			continue;
		n = strlen(class_names[i]);
		if (len + (len > 0) + n + 1 > size) {
			buf[0] = '\0';
			return -ENOBUFS;
		}
		if (len > 0)
			buf[len++] = ',';
		memcpy(buf + len, class_names[i], n + 1);
		len += n;
	}
	return (int)len;
}

int sqlclass_from_name(const char *name, uint32_t *ret_class)
{
	size_t i;

	if (!name || !ret_class)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(class_names); i++)
		if (strcmp(name, class_names[i]) == 0) {
			*ret_class = 1u << i;
			return 0;
		}
	return -EINVAL;
}
