/* oidccheck: verify tokens the way the agent does, for the identity end-to-end test.
 *
 *   oidccheck CONFIG TOKEN... ("-" reads one token from stdin)
 *
 * CONFIG is an mcpwarden config file; only its "identity" object is used. Every issuer is
 * refreshed first (discovery + JWKS, or jwks_file); then each token is verified (an unknown
 * kid triggers one refresh when the policy allows it) and one JSON line is printed per token:
 *   {"ok":true,"issuer":N,"sub":...,"groups":[...],"email":...,"alg":...,"kid":...,...}
 *   {"ok":false,"errno":"EKEYEXPIRED","error":"..."}
 * Refresh results go to stderr, one JSON line per issuer. Never prints a token, only the
 * first 16 hex digits of its SHA-256. Exit 0 when every token verified, 1 otherwise, 2 for
 * usage or config errors. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "oidc.h"
#include "util.h"

static const char *errno_name(int r)
{
	switch (-r) {
	case EINVAL: return "EINVAL";
	case EBADMSG: return "EBADMSG";
	case EKEYREJECTED: return "EKEYREJECTED";
	case ENOKEY: return "ENOKEY";
	case EKEYEXPIRED: return "EKEYEXPIRED";
	case ETIME: return "ETIME";
	case EACCES: return "EACCES";
	case ENOMEM: return "ENOMEM";
	default: return "other";
	}
}

static void print_json(json_t *o, FILE *f)
{
	char *s = json_dumps(o, JSON_COMPACT);

	fprintf(f, "%s\n", s ? s : "{}");
	fflush(f);
	free(s);
	json_decref(o);
}

static void refresh_all(struct mw_oidc *o, bool only_due)
{
	for (size_t i = 0; i < oidc_n_issuers(o); i++) {
		struct mw_oidc_status st;
		char err[512] = "";
		int r;

		if (only_due && !oidc_refresh_due(o, i))
			continue;
		r = oidc_refresh(o, i, err, sizeof(err));
		oidc_get_status(o, i, &st);
		print_json(json_pack("{s:s, s:b, s:I, s:s?, s:I}", "refresh", st.issuer, "ok", r == 0,
				     "n_keys", (json_int_t)st.info.n_keys, "error",
				     r < 0 ? err : NULL, "max_age", (json_int_t)st.max_age_sec),
			   stderr);
	}
}

static char *read_stdin_token(void)
{
	static char buf[MW_JWT_MAX_TOKEN_BYTES + 2];
	size_t n = fread(buf, 1, sizeof(buf) - 1, stdin);

	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf;
}

int main(int argc, char **argv)
{
	_cleanup_(oidc_freep) struct mw_oidc *o = NULL;
	struct mw_diag diag = { 0 };
	json_error_t jerr;
	json_t *root;
	char *text = NULL, dbuf[1024];
	size_t len = 0;
	FILE *f;
	int r, failed = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: oidccheck CONFIG TOKEN...\n");
		return 2;
	}
	f = fopen(argv[1], "re");
	if (!f) {
		fprintf(stderr, "oidccheck: cannot open '%s': %s\n", argv[1], strerror(errno));
		return 2;
	}
	text = calloc(1, 1024 * 1024);
	len = text ? fread(text, 1, 1024 * 1024 - 1, f) : 0;
	fclose(f);
	root = text ? json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
	if (!root) {
		fprintf(stderr, "oidccheck: %s:%d:%d: %s\n", argv[1], jerr.line, jerr.column,
			jerr.text);
		return 2;
	}
	r = oidc_from_json(json_object_get(root, "identity"), argv[1], text, len, &o, &diag);
	json_decref(root);
	free(text);
	if (r < 0) {
		fprintf(stderr, "oidccheck: %s\n", mw_diag_format(&diag, dbuf, sizeof(dbuf)));
		return 2;
	}
	refresh_all(o, false);

	for (int a = 2; a < argc; a++) {
		const char *tok = strcmp(argv[a], "-") == 0 ? read_stdin_token() : argv[a];
		struct mw_jwt_claims *c = NULL;
		char err[512] = "";
		json_t *groups;

		r = oidc_verify(o, tok, strlen(tok), (uint64_t)time(NULL), &c, err, sizeof(err));
		if (r == -ENOKEY) {
			refresh_all(o, true);
			r = oidc_verify(o, tok, strlen(tok), (uint64_t)time(NULL), &c, err,
					sizeof(err));
		}
		if (r < 0) {
			failed++;
			print_json(json_pack("{s:b, s:s, s:s}", "ok", 0, "errno", errno_name(r),
					     "error", err),
				   stdout);
			continue;
		}
		groups = json_array();
		for (size_t g = 0; g < c->n_groups; g++)
			json_array_append_new(groups, json_string(c->groups[g]));
		print_json(json_pack("{s:b, s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:s, s:s, s:s%}", "ok",
				     1, "sub", c->sub, "iss", c->iss, "email", c->email,
				     "client_id", c->client_id, "scope", c->scope, "groups", groups,
				     "exp", (json_int_t)c->exp, "alg", c->alg, "kid", c->kid,
				     "sha256_prefix", c->token_sha256, (size_t)16),
			   stdout);
		jwt_claims_free(c);
	}
	return failed ? 1 : 0;
}
