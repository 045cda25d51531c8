/* upstream.c: see upstream.h. */
#include "upstream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "util.h"

struct pctx {
	struct mw_upstream_error *err;
	size_t index;
};

static int perr(struct pctx *x, const char *key, const char *subkey, bool at_key,
		const char *fmt, ...) _printf_(5, 6);
static int perr(struct pctx *x, const char *key, const char *subkey, bool at_key,
		const char *fmt, ...)
{
	va_list ap;

	if (x->err) {
		x->err->index = x->index;
		snprintf(x->err->key, sizeof(x->err->key), "%s", key ? key : "");
		snprintf(x->err->subkey, sizeof(x->err->subkey), "%s", subkey ? subkey : "");
		x->err->at_key = at_key;
		va_start(ap, fmt);
		vsnprintf(x->err->text, sizeof(x->err->text), fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool is_ip(const char *s)
{
	unsigned char b[16];

	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

static bool token_valid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)))
			return false;
	return true;
}

static int copy_str(struct pctx *x, const char *key, const char *subkey, json_t *v, char *dst,
		    size_t size, bool abs_path)
{
	const char *s = json_string_value(v);

	if (!s || !*s)
		return perr(x, key, subkey, false, "expected a non-empty string");
	if (strlen(s) >= size)
		return perr(x, key, subkey, false, "too long (at most %zu bytes)", size - 1);
	if (abs_path && s[0] != '/')
		return perr(x, key, subkey, false, "expected an absolute path");
	snprintf(dst, size, "%s", s);
	return 0;
}

static int parse_match(struct pctx *x, json_t *v, struct mw_upstream *u)
{
	const char *k;
	json_t *e;

	if (!json_is_object(v))
		return perr(x, "match", NULL, false,
			    "expected an object like {\"host\": \"mcp.example\", \"port\": 443}");
	json_object_foreach(v, k, e) {
		if (strcmp(k, "host") == 0) {
			const char *s = json_string_value(e);
			const char *name = s && strncmp(s, "*.", 2) == 0 ? s + 2 : s;

			if (!s || strlen(s) >= sizeof(u->host) ||
			    !(tls_dns_name_valid(name) || (name == s && is_ip(s))))
				return perr(x, "match", "host", false,
					    "expected a host name, \"*.domain\" or an IP address");
			for (size_t i = 0; s[i]; i++)
				u->host[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a'
									       : s[i]);
		} else if (strcmp(k, "port") == 0) {
			json_int_t p = json_integer_value(e);

			if (!json_is_integer(e) || p < 1 || p > 65535)
				return perr(x, "match", "port", false,
					    "expected a port number 1..65535");
			u->port = (uint16_t)p;
		} else {
			return perr(x, "match", k, true, "unknown key (expected 'host', 'port')");
		}
	}
	return 0;
}

/* Whether host (as libcurl's URL parser gives it: IPv6 in brackets) is loopback: exactly
 * "localhost", an IPv4 address in 127.0.0.0/8 or [::1]. */
static bool host_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char v6[INET6_ADDRSTRLEN];
	size_t n = strlen(host);

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (n < 3 || n - 2 >= sizeof(v6) || host[0] != '[' || host[n - 1] != ']')
		return false;
	memcpy(v6, host + 1, n - 2);
	v6[n - 2] = '\0';
	return inet_pton(AF_INET6, v6, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* The token endpoint receives the client secret: https, or plain http only to this host.
 * Parsed by libcurl's own URL parser, the one the fetch uses, so both see the same host.
 * Userinfo is refused: the URL is part of the fetch's error texts. */
static int check_token_endpoint(struct pctx *x, const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *user = NULL, *pass = NULL;
	int r = 0;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		r = perr(x, "credential", "oauth", false, "token_endpoint: not a URL");
	else if (curl_url_get(u, CURLUPART_USER, &user, 0) != CURLUE_NO_USER ||
		 curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) != CURLUE_NO_PASSWORD)
		r = perr(x, "credential", "oauth", false,
			 "token_endpoint: no user or password in the URL (the client "
			 "authenticates with client_secret_file)");
	else if (!(strcasecmp(scheme, "https") == 0 ||
		   (strcasecmp(scheme, "http") == 0 && host_loopback(host))))
		r = perr(x, "credential", "oauth", false,
			 "token_endpoint must be https:// (http:// only to localhost, "
			 "127.0.0.0/8 or [::1])");
	curl_free(scheme);
	curl_free(host);
	if (user)
		explicit_bzero(user, strlen(user));
	curl_free(user);
	if (pass)
		explicit_bzero(pass, strlen(pass));
	curl_free(pass);
	curl_url_cleanup(u);
	return r;
}

static int parse_oauth(struct pctx *x, json_t *v, struct mw_cred_oauth *o)
{
	const char *k;
	json_t *e;
	int r = 0;

	if (!json_is_object(v))
		return perr(x, "credential", "oauth", false, "expected an object");
	json_object_foreach(v, k, e) {
		if (strcmp(k, "token_endpoint") == 0) {
			r = copy_str(x, "credential", "oauth", e, o->token_endpoint,
				     sizeof(o->token_endpoint), false);
			if (r == 0)
				r = check_token_endpoint(x, o->token_endpoint);
		} else if (strcmp(k, "client_id") == 0) {
			r = copy_str(x, "credential", "oauth", e, o->client_id,
				     sizeof(o->client_id), false);
		} else if (strcmp(k, "client_secret_file") == 0) {
			r = copy_str(x, "credential", "oauth", e, o->client_secret_file,
				     sizeof(o->client_secret_file), true);
		} else if (strcmp(k, "scope") == 0) {
			r = copy_str(x, "credential", "oauth", e, o->scope, sizeof(o->scope),
				     false);
		} else if (strcmp(k, "audience") == 0) {
			r = copy_str(x, "credential", "oauth", e, o->audience,
				     sizeof(o->audience), false);
		} else if (strcmp(k, "resource") == 0) {
			r = copy_str(x, "credential", "oauth", e, o->resource,
				     sizeof(o->resource), false);
		} else if (strcmp(k, "client_auth") == 0) {
			const char *s = json_string_value(e);

			if (s && (strcmp(s, "basic") == 0 || strcmp(s, "post") == 0))
				o->basic = strcmp(s, "basic") == 0;
			else
				r = perr(x, "credential", "oauth", false,
					 "client_auth: expected 'post' (client_secret_post, the "
					 "default) or 'basic' (client_secret_basic)");
		} else {
			r = perr(x, "credential", "oauth", true,
				 "unknown key '%s' (expected 'token_endpoint', 'client_id', "
				 "'client_secret_file', 'scope', 'audience', 'resource', "
				 "'client_auth')",
				 k);
		}
		if (r < 0)
			return r;
	}
	if (!o->token_endpoint[0] || !o->client_id[0] || !o->client_secret_file[0])
		return perr(x, "credential", "oauth", false,
			    "needs 'token_endpoint', 'client_id' and 'client_secret_file'");
	return 0;
}

static int parse_credential(struct pctx *x, json_t *v, const struct mw_upstream *u,
			    struct mw_cred_spec *c)
{
	static const char kinds[] = "one of 'value_file', 'bearer_file', 'credential', 'oauth'";
	const char *k, *base;
	json_t *e;
	int r = 0;

	if (!json_is_object(v))
		return perr(x, "credential", NULL, false, "expected an object with %s", kinds);
	json_object_foreach(v, k, e) {
		enum mw_cred_kind kind = MW_CRED_NONE;

		if (strcmp(k, "value_file") == 0)
			kind = MW_CRED_VALUE_FILE;
		else if (strcmp(k, "bearer_file") == 0)
			kind = MW_CRED_BEARER_FILE;
		else if (strcmp(k, "credential") == 0)
			kind = MW_CRED_SYSTEMD;
		else if (strcmp(k, "oauth") == 0)
			kind = MW_CRED_OAUTH;
		if (kind != MW_CRED_NONE && c->kind != MW_CRED_NONE)
			return perr(x, "credential", k, true, "only %s", kinds);
		if (kind == MW_CRED_VALUE_FILE || kind == MW_CRED_BEARER_FILE) {
			r = copy_str(x, "credential", k, e, c->path, sizeof(c->path), true);
		} else if (kind == MW_CRED_SYSTEMD) {
			r = copy_str(x, "credential", k, e, c->path, sizeof(c->path), false);
			if (r == 0 && (strchr(c->path, '/') || c->path[0] == '.'))
				r = perr(x, "credential", k, false,
					 "expected a credential name, not a path");
		} else if (kind == MW_CRED_OAUTH) {
			r = parse_oauth(x, e, &c->oauth);
		} else if (strcmp(k, "header") == 0) {
			r = copy_str(x, "credential", k, e, c->header, sizeof(c->header), false);
			if (r == 0 && !token_valid(c->header))
				r = perr(x, "credential", k, false, "not a valid header name");
		} else if (strcmp(k, "name") == 0) {
			r = copy_str(x, "credential", k, e, c->name, sizeof(c->name), false);
		} else if (strcmp(k, "bearer") == 0 || strcmp(k, "keep_caller_token") == 0) {
			if (!json_is_boolean(e))
				return perr(x, "credential", k, false, "expected true or false");
			if (k[0] == 'b')
				c->bearer = json_is_true(e);
			else
				c->keep_caller_token = json_is_true(e);
		} else {
			return perr(x, "credential", k, true,
				    "unknown key (expected %s, 'header', 'name', 'bearer', "
				    "'keep_caller_token')",
				    kinds);
		}
		if (r < 0)
			return r;
		if (kind != MW_CRED_NONE)
			c->kind = kind;
	}
	if (c->kind == MW_CRED_NONE)
		return perr(x, "credential", NULL, false, "needs %s", kinds);
	if (c->kind == MW_CRED_BEARER_FILE || c->kind == MW_CRED_OAUTH) {
		if (c->header[0] && strcasecmp(c->header, "Authorization") != 0)
			return perr(x, "credential", "header", false,
				    "a bearer token goes in Authorization");
		c->bearer = true;
	}
	if (!c->header[0])
		snprintf(c->header, sizeof(c->header), "Authorization");
	if (!c->name[0]) {
		/* the journal names it: the systemd credential's name, a file's base name, or
		 * the upstream */
		base = c->kind == MW_CRED_SYSTEMD ? c->path : strrchr(c->path, '/');
		if (c->kind == MW_CRED_OAUTH)
			snprintf(c->name, sizeof(c->name), "oauth:%.56s", c->oauth.client_id);
		else if (base && base[0] == '/' && base[1])
			snprintf(c->name, sizeof(c->name), "%s", base + 1);
		else if (base && base[0] != '/')
			snprintf(c->name, sizeof(c->name), "%s", base);
		else
			snprintf(c->name, sizeof(c->name), "%s", u->host[0] ? u->host : "upstream");
	}
	return 0;
}

static int parse_one(struct pctx *x, json_t *v, struct mw_upstream *u)
{
	const char *k;
	json_t *e;
	int r = 0;

	if (!json_is_object(v))
		return perr(x, NULL, NULL, false,
			    "expected an object like {\"match\": {...}, \"tls\": \"intercept\"}");
	u->tls = MW_UPSTREAM_TLS_INTERCEPT; /* a listed upstream is inspected unless it says */
	json_object_foreach(v, k, e) {
		if (strcmp(k, "match") == 0) {
			r = parse_match(x, e, u);
		} else if (strcmp(k, "tls") == 0) {
			const char *s = json_string_value(e);

			if (s && strcmp(s, "intercept") == 0)
				u->tls = MW_UPSTREAM_TLS_INTERCEPT;
			else if (s && strcmp(s, "pass") == 0)
				u->tls = MW_UPSTREAM_TLS_PASS;
			else if (s && strcmp(s, "block") == 0)
				u->tls = MW_UPSTREAM_TLS_BLOCK;
			else
				r = perr(x, k, NULL, false,
					 "expected \"intercept\", \"pass\" or \"block\"");
		} else if (strcmp(k, "ca_file") == 0) {
			r = copy_str(x, k, NULL, e, u->ca_file, sizeof(u->ca_file), true);
		} else if (strcmp(k, "pin") == 0) {
			const char *s = json_string_value(e);

			if (!s || tls_pin_parse(s, u->pin) < 0)
				r = perr(x, k, NULL, false,
					 "expected a SHA-256 of a public key: 'sha256/BASE64' "
					 "or 64 hex digits");
			u->has_pin = r == 0;
		} else if (strcmp(k, "credential") == 0) {
			r = parse_credential(x, e, u, &u->cred);
		} else {
			r = perr(x, k, NULL, true,
				 "unknown key (expected 'match', 'tls', 'ca_file', 'pin', "
				 "'credential')");
		}
		if (r < 0)
			return r;
	}
	if (!json_object_get(v, "match"))
		return perr(x, NULL, NULL, false, "needs 'match'");
	if (u->tls != MW_UPSTREAM_TLS_INTERCEPT &&
	    (u->cred.kind != MW_CRED_NONE || u->ca_file[0] || u->has_pin))
		return perr(x, "tls", NULL, false,
			    "'credential', 'ca_file' and 'pin' need \"tls\": \"intercept\"");
	return 0;
}

int upstreams_parse(json_t *v, struct mw_upstreams **ret, struct mw_upstream_error *ret_err)
{
	struct mw_upstreams *u;
	struct pctx x = { .err = ret_err };
	json_t *e;
	size_t i;
	int r;

	if (!json_is_array(v))
		return perr(&x, NULL, NULL, false, "expected an array of upstreams");
	if (json_array_size(v) > MW_UPSTREAMS_MAX)
		return perr(&x, NULL, NULL, false, "at most %d upstreams", MW_UPSTREAMS_MAX);
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	json_array_foreach(v, i, e) {
		x.index = i;
		r = parse_one(&x, e, &u->rules[i]);
		if (r < 0) {
			upstreams_free(u);
			return r;
		}
		u->n = (unsigned)i + 1;
	}
	*ret = u;
	return 0;
}

struct mw_upstreams *upstreams_free(struct mw_upstreams *u)
{
	free(u);
	return NULL;
}

static bool host_matches(const char *pattern, const char *name)
{
	size_t pn, nn;

	if (!pattern[0])
		return true;
	if (strncmp(pattern, "*.", 2) != 0)
		return strcasecmp(pattern, name) == 0;
	pn = strlen(pattern + 1); /* ".suffix" */
	nn = strlen(name);
	return nn > pn && strcasecmp(name + nn - pn, pattern + 1) == 0;
}

const struct mw_upstream *upstreams_match(const struct mw_upstreams *u, const char *name,
					  uint16_t port)
{
	for (unsigned i = 0; u && i < u->n; i++) {
		const struct mw_upstream *r = &u->rules[i];

		if ((r->port == 0 || r->port == port) && host_matches(r->host, name ? name : ""))
			return r;
	}
	return NULL;
}

const char *upstream_tls_name(enum mw_upstream_tls t)
{
	switch (t) {
	case MW_UPSTREAM_TLS_INTERCEPT:
		return "intercept";
	case MW_UPSTREAM_TLS_BLOCK:
		return "block";
	default:
		return "pass";
	}
}
