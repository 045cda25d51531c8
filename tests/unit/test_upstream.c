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

static int parse_endpoint(const char *url, struct mw_upstream_error *err)
{
	struct mw_upstreams *u = NULL;
	char text[1024];
	int r;

	snprintf(text, sizeof(text),
		 "[{\"match\": {}, \"credential\": {\"oauth\": {\"token_endpoint\": \"%s\", "
		 "\"client_id\": \"a\", \"client_secret_file\": \"/s\"}}}]",
		 url);
	r = parse(text, &u, err);
	if (r == 0)
		assert_string_equal(u->rules[0].cred.oauth.token_endpoint, url);
	upstreams_free(u);
	return r;
}

/* The client secret goes to the token endpoint: https, or http to this host only, decided on
 * the host libcurl connects to, not on a prefix of the text. */
static void token_endpoint_refusals(void)
{
	static const char *const remote[] = {
		"http://idp.example/t",
		"http://localhost@evil.example/token",
		"http://localhost.evil.example/",
		"http://127.attacker.example/",
		"http://127.0.0.1.evil.example/t",
		"http://[::1].evil.example/t",
		"http://[::2]/t",
		"http://[::ffff:10.0.0.1]/t",
		"http://128.0.0.1/t",
		"http://evil.example#@127.0.0.1/t",
		"http://evil.example\\\\@127.0.0.1/t",
		"ftp://127.0.0.1/t",
		"file:///etc/passwd",
		"127.0.0.1/t",
	};
	static const char *const userinfo[] = {
		"https://user:pw@idp.example/t",
		"https://user@idp.example/t",
		"http://localhost:pw@127.0.0.1/t",
	};
	static const char *const good[] = {
		"https://idp.example/t",
		"https://idp.example:8443/oauth2/token?x=1",
		"HTTPS://IDP.example/t",
		"http://localhost/t",
		"http://LocalHost:8080/t",
		"http://127.0.0.1:18960/token",
		"http://127.8.9.10/t",
		"http://[::1]:9000/t",
	};
	struct mw_upstream_error err;

	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++) {
		err = (struct mw_upstream_error){};
		if (parse_endpoint(remote[i], &err) != -EINVAL)
			fail_msg("'%s' accepted", remote[i]);
		if (!strstr(err.text, "https://") && !strstr(err.text, "not a URL") &&
		    !strstr(err.text, "no user or password"))
			fail_msg("'%s': %s", remote[i], err.text);
		assert_string_equal(err.subkey, "oauth");
	}
	for (size_t i = 0; i < sizeof(userinfo) / sizeof(userinfo[0]); i++) {
		err = (struct mw_upstream_error){};
		if (parse_endpoint(userinfo[i], &err) != -EINVAL)
			fail_msg("'%s' accepted", userinfo[i]);
		if (!strstr(err.text, "no user or password"))
			fail_msg("'%s': %s", userinfo[i], err.text);
		assert_null(strstr(err.text, "pw"));
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		err = (struct mw_upstream_error){};
		if (parse_endpoint(good[i], &err) != 0)
			fail_msg("'%s' refused: %s", good[i], err.text);
	}
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
	token_endpoint_refusals();
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
