/* test_upstream.c: the "upstreams" config key: parsing, refusals that name the key, and
 * first-match lookup by name and port. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "upstream.h"

static int parse(const char *text, struct mw_upstreams **ret, struct mw_upstream_error *err)
{
	json_error_t je;
	json_t *v = json_loads(text, 0, &je);
	int r;

	assert_non_null(v);
	r = upstreams_parse(v, ret, err);
	json_decref(v);
	return r;
}

static void test_parse_and_match(void **state)
{
	struct mw_upstreams *u = NULL;
	struct mw_upstream_error err = {};
	const struct mw_upstream *m;

	assert_int_equal(
		parse("[{\"match\": {\"host\": \"MCP.internal.example\", \"port\": 443},"
		      "  \"tls\": \"intercept\", \"ca_file\": \"/etc/ssl/int.pem\","
		      "  \"credential\": {\"header\": \"Authorization\", \"value_file\": \"/run/c/mcp\"}},"
		      " {\"match\": {\"host\": \"*.corp.example\"}, \"tls\": \"block\"},"
		      " {\"match\": {\"host\": \"api.example\"},"
		      "  \"credential\": {\"bearer_file\": \"/run/c/api-token\", \"keep_caller_token\": true}},"
		      " {\"match\": {\"host\": \"db.example\"},"
		      "  \"credential\": {\"credential\": \"dbtoken\", \"name\": \"db\"}},"
		      " {\"match\": {\"host\": \"o.example\"}, \"credential\": {\"oauth\": {"
		      "   \"token_endpoint\": \"https://idp.example/token\", \"client_id\": \"mw\","
		      "   \"client_secret_file\": \"/run/c/secret\", \"scope\": \"mcp\","
		      "   \"resource\": \"urn:mcp:upstream\", \"client_auth\": \"basic\"}}},"
		      " {\"match\": {\"port\": 8443}, \"tls\": \"pass\"}]",
		      &u, &err),
		0);
	assert_int_equal(u->n, 6);
	m = upstreams_match(u, "mcp.internal.example", 443);
	assert_ptr_equal(m, &u->rules[0]);
	assert_int_equal(m->tls, MW_UPSTREAM_TLS_INTERCEPT);
	assert_string_equal(m->ca_file, "/etc/ssl/int.pem");
	assert_int_equal(m->cred.kind, MW_CRED_VALUE_FILE);
	assert_string_equal(m->cred.name, "mcp");
	assert_false(m->cred.bearer);
	assert_null(upstreams_match(u, "mcp.internal.example", 444));
	assert_int_equal(upstreams_match(u, "a.b.corp.example", 1)->tls, MW_UPSTREAM_TLS_BLOCK);
	assert_null(upstreams_match(u, "corp.example", 1));
	m = upstreams_match(u, "api.example", 443);
	assert_int_equal(m->cred.kind, MW_CRED_BEARER_FILE);
	assert_true(m->cred.bearer && m->cred.keep_caller_token);
	assert_string_equal(m->cred.name, "api-token");
	assert_string_equal(upstreams_match(u, "db.example", 5432)->cred.name, "db");
	m = upstreams_match(u, "o.example", 443);
	assert_int_equal(m->cred.kind, MW_CRED_OAUTH);
	assert_string_equal(m->cred.oauth.scope, "mcp");
	assert_string_equal(m->cred.oauth.resource, "urn:mcp:upstream");
	assert_true(m->cred.oauth.basic);
	assert_int_equal(upstreams_match(u, "", 8443)->tls, MW_UPSTREAM_TLS_PASS);
	assert_null(upstreams_match(u, "", 443));
	upstreams_free(u);
}

static void refused(const char *text, size_t index, const char *key, const char *subkey,
		    const char *want)
{
	struct mw_upstreams *u = NULL;
	struct mw_upstream_error err = {};

	assert_int_equal(parse(text, &u, &err), -EINVAL);
	assert_null(u);
	assert_int_equal(err.index, index);
	assert_string_equal(err.key, key ? key : "");
	if (subkey)
		assert_string_equal(err.subkey, subkey);
	if (!strstr(err.text, want))
		fail_msg("'%s' does not say '%s'", err.text, want);
}

static void test_refusals(void **state)
{
	refused("[{\"match\": {}}, {\"match\": {\"host\": \"a b\"}}]", 1, "match", "host",
		"host name");
	refused("[{\"match\": {}, \"tls\": \"maybe\"}]", 0, "tls", NULL, "intercept");
	refused("[{\"match\": {}, \"pin\": \"abc\"}]", 0, "pin", NULL, "SHA-256");
	refused("[{\"match\": {}, \"tls\": \"pass\", \"credential\": {\"bearer_file\": \"/x\"}}]",
		0, "tls", NULL, "need");
	refused("[{\"match\": {}, \"credential\": {\"value_file\": \"rel\"}}]", 0, "credential",
		"value_file", "absolute");
	refused("[{\"match\": {}, \"credential\": {\"credential\": \"../x\"}}]", 0, "credential",
		"credential", "not a path");
	refused("[{\"match\": {}, \"credential\": {\"bearer_file\": \"/a\", \"value_file\": \"/b\"}}]",
		0, "credential", "value_file", "only one");
	refused("[{\"match\": {}, \"credential\": {\"header\": \"X Y\", \"value_file\": \"/b\"}}]",
		0, "credential", "header", "header name");
	refused("[{\"match\": {}, \"credential\": {\"oauth\": {\"token_endpoint\": "
		"\"http://idp.example/t\", \"client_id\": \"a\", \"client_secret_file\": \"/s\"}}}]",
		0, "credential", "oauth", "https");
	refused("[{\"match\": {}, \"credential\": {\"oauth\": {\"token_endpoint\": "
		"\"https://idp.example/t\", \"client_id\": \"a\", \"client_secret_file\": \"/s\", "
		"\"client_auth\": \"jwt\"}}}]",
		0, "credential", "oauth", "client_auth: expected 'post'");
	refused("[{\"tls\": \"pass\"}]", 0, NULL, NULL, "needs 'match'");
	refused("[{\"match\": {}, \"bogus\": 1}]", 0, "bogus", NULL, "unknown key");
}

/* The config names file:line:column and the dotted key. */
static void test_config_diagnostic(void **state)
{
	static const char text[] = "{\"upstreams\": [\n"
				   "  {\"match\": {\"host\": \"ok.example\"}},\n"
				   "  {\"match\": {\"port\": 70000}}\n"
				   "]}\n";
	struct mw_config *c = NULL;
	struct mw_diag d = {};

	assert_int_equal(config_parse("t.json", text, strlen(text), &c, &d), -EINVAL);
	assert_string_equal(d.key, "upstreams[1].match.port");
	assert_int_equal(d.line, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_match),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_config_diagnostic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
