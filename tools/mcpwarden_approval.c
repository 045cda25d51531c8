/* mcpwarden_approval.c: see mcpwarden_approval.h. */
#include "mcpwarden_approval.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

#define APPROVAL_TOKEN_MAX (16 * 1024)
#define APPROVAL_ARGS_WIDTH 60

enum {
	OPT_ALL = 0x200,
	OPT_FOR,
	OPT_REASON,
	OPT_TOKEN,
	OPT_TOKEN_FILE,
	OPT_ANY_ARGS,
};

static int usage(const char *cmd, const char *fmt, ...) _printf_(2, 3);
static int usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mcpwarden %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'mcpwarden --help' for more information.\n", stderr);
	return -EINVAL;
}

static char *read_token_file(const char *path)
{
	char buf[APPROVAL_TOKEN_MAX + 2];
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	if (n > APPROVAL_TOKEN_MAX)
		return NULL;
	buf[n] = 0;
	buf[strcspn(buf, "\r\n")] = 0;
	return strdup(buf);
}

int cli_approval_build(const char *cmd, int argc, char **argv, const struct option *common,
		       size_t n_common, int (*common_fn)(void *cli, int opt), void *cli,
		       json_t **ret_request)
{
	static const struct option own[] = {
		{ "all", no_argument, NULL, OPT_ALL },
		{ "for", required_argument, NULL, OPT_FOR },
		{ "reason", required_argument, NULL, OPT_REASON },
		{ "token", required_argument, NULL, OPT_TOKEN },
		{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
		{ "any-args", no_argument, NULL, OPT_ANY_ARGS },
	};
	struct option opts[32] = {};
	_cleanup_(json_decrefp) json_t *req = json_pack("{s:s}", "command", cmd);
	bool takes_id = strcmp(cmd, "pending") && strcmp(cmd, "grants");
	bool decides = !strcmp(cmd, "approve") || !strcmp(cmd, "deny");
	int opt, r;

	if (!req)
		return -ENOMEM;
	if (n_common + ARRAY_SIZE(own) + 1 > ARRAY_SIZE(opts))
		return -E2BIG;
	memcpy(opts, common, n_common * sizeof(*opts));
	memcpy(opts + n_common, own, sizeof(own));
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		_cleanup_free_ char *tok = NULL;
		const char *key = NULL;

		switch (opt) {
		case OPT_ALL:
			if (strcmp(cmd, "pending"))
				return usage(cmd, "%s", "--all is for 'pending'");
			json_object_set_new(req, "all", json_true());
			continue;
		case OPT_FOR:
		case OPT_ANY_ARGS:
			if (strcmp(cmd, "approve"))
				return usage(cmd, "%s", "--for and --any-args are for 'approve'");
			if (opt == OPT_ANY_ARGS) {
				json_object_set_new(req, "any_args", json_true());
				continue;
			}
			key = "for";
			break;
		case OPT_REASON:
			key = "reason";
			break;
		case OPT_TOKEN:
			key = "token";
			break;
		case OPT_TOKEN_FILE:
			tok = read_token_file(optarg);
			if (!tok)
				return usage(cmd, "cannot read a token from '%s'", optarg);
			optarg = tok;
			key = "token";
			break;
		default:
			r = common_fn(cli, opt);
			if (r <= 0)
				return r < 0 ? r : -EINVAL;
			continue;
		}
		if (!decides)
			return usage(cmd, "--%s is for 'approve' and 'deny'", key);
		if (json_object_set_new(req, key, json_string(optarg)) < 0)
			return usage(cmd, "--%s: not valid UTF-8", key);
	}
	if (takes_id) {
		if (optind >= argc)
			return usage(cmd, "%s", "an approval id is required (see 'mcpwarden pending')");
		json_object_set_new(req, "id", json_string(argv[optind++]));
	}
	if (optind < argc)
		return usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (!strcmp(cmd, "deny") && !json_object_get(req, "reason"))
		return usage(cmd, "%s", "--reason TEXT is required: the caller is told it");
	*ret_request = TAKE_PTR(req);
	return 0;
}

/* Untrusted text (arguments, subjects) never puts a control sequence on the terminal. */
static void put(const char *label, json_t *v)
{
	const char *s = json_string_value(v);
	char buf[64];

	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
		s = buf;
	}
	if (!s || !*s)
		return;
	printf("  %-14s ", label);
	for (; *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
	putchar('\n');
}

static void render_approval(json_t *a)
{
	json_t *by = json_object_get(a, "approved_by"), *v;
	size_t i;

	printf("%s  %s\n", json_string_value(json_object_get(a, "id")),
	       json_string_value(json_object_get(a, "state")));
	put("requester", json_object_get(a, "sub"));
	put("groups", json_object_get(a, "groups"));
	put("unit", json_object_get(a, "unit"));
	put("uid", json_object_get(a, "uid"));
	put("comm", json_object_get(a, "comm"));
	put("target", json_object_get(a, "target"));
	put("tool", json_object_get(a, "tool"));
	put("arguments", json_object_get(a, "arguments"));
	put("justification", json_object_get(a, "justification"));
	put("rule", json_object_get(a, "rule"));
	put("needs", json_object_get(a, "who"));
	json_array_foreach(by, i, v)
		put("approved by", v);
	put("decided by", json_object_get(a, "decided_by"));
	put("reason", json_object_get(a, "reason"));
	put("created", json_object_get(a, "created"));
	put("expires", json_object_get(a, "expires"));
}

static void render_grant(json_t *g)
{
	printf("%s  grant\n", json_string_value(json_object_get(g, "id")));
	put("for", json_object_get(g, "identity"));
	put("tool", json_object_get(g, "tool"));
	put("target", json_object_get(g, "target"));
	put("arguments", json_is_null(json_object_get(g, "fingerprint"))
				 ? json_string("any")
				 : json_object_get(g, "fingerprint"));
	put("rule", json_object_get(g, "rule"));
	put("approved by", json_object_get(g, "approved_by"));
	put("reason", json_object_get(g, "reason"));
	put("expires", json_object_get(g, "expires"));
}

void cli_approval_render(const char *cmd, json_t *reply)
{
	json_t *arr, *v;
	size_t i;

	if (!strcmp(cmd, "pending") || !strcmp(cmd, "grants")) {
		bool p = cmd[0] == 'p';

		arr = json_object_get(reply, p ? "approvals" : "grants");
		if (!json_array_size(arr))
			printf("%s\n", p ? "No approvals pending." : "No grants.");
		json_array_foreach(arr, i, v) {
			if (i)
				putchar('\n');
			if (p)
				render_approval(v);
			else
				render_grant(v);
		}
		return;
	}
	if (!strcmp(cmd, "revoke")) {
		printf("Grant %s revoked.\n", json_string_value(json_object_get(reply, "revoked")));
		return;
	}
	v = json_object_get(reply, "approval");
	if (json_is_object(v)) {
		const char *state = json_string_value(json_object_get(v, "state"));

		if (!strcmp(cmd, "approve") && state && !strcmp(state, "pending"))
			printf("Approval recorded; a second, different approver is still needed.\n");
		render_approval(v);
	}
}
