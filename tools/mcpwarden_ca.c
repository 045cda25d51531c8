/* mcpwarden_ca.c: see mcpwarden_ca.h.  The default directory is the configured state_dir's
 * ca/ (/var/lib/mcpwarden/ca); --config names another config file to take state_dir from. */
#include "mcpwarden_ca.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/pem.h>

#include "ca.h"
#include "config.h"
#include "util.h"

static void ca_help(FILE *f)
{
	fputs("Usage: mcpwarden ca init [--dir DIR] [--config FILE]\n"
	      "       mcpwarden ca show [--dir DIR] [--config FILE]\n"
	      "\n"
	      "init  Create the local CA that signs the certificates shown to intercepted\n"
	      "      clients: an EC P-256 key (DIR/ca.key, mode 0600) and a self-signed\n"
	      "      certificate (DIR/ca.crt). An existing CA is never overwritten.\n"
	      "show  Print the CA certificate (PEM) on stdout, to install in the trust\n"
	      "      stores of the gateways, and its SHA-256 fingerprint on stderr.\n"
	      "\n"
	      "DIR defaults to STATE_DIR/ca (state_dir from the config, default\n"
	      "/var/lib/mcpwarden). With $CREDENTIALS_DIRECTORY holding mcpwarden-ca.key and\n"
	      "mcpwarden-ca.crt, show prints the credential's certificate.\n",
	      f);
}

static int default_dir(const char *config, char *buf, size_t size)
{
	_cleanup_(config_freep) struct mw_config *c = NULL;
	struct mw_diag diag = {};
	char msg[1024];
	int r;

	r = config_load(config, false, &c, &diag);
	if (r < 0) {
		fprintf(stderr, "mcpwarden: %s\n", mw_diag_format(&diag, msg, sizeof(msg)));
		return r;
	}
	snprintf(buf, size, "%s/%s", c->state_dir, MW_CA_DIR_NAME);
	return 0;
}

int cli_ca(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_(ca_freep) struct mw_ca *ca = NULL;
	const char *dir = NULL, *config = NULL, *verb;
	char dirbuf[PATH_MAX], fp[MW_CA_FINGERPRINT_MAX];
	int opt, r;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		ca_help(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	verb = argv[1];
	optind = 2;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (opt) {
		case 'd':
			dir = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'h':
			ca_help(stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mcpwarden ca: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!dir) {
		if (default_dir(config, dirbuf, sizeof(dirbuf)) < 0)
			return 2;
		dir = dirbuf;
	}
	if (!strcmp(verb, "init")) {
		r = ca_init(dir, &ca);
		if (r == -EEXIST) {
			fprintf(stderr, "mcpwarden: a CA already exists in '%s', leaving it\n", dir);
			return 1;
		}
		if (r < 0) {
			fprintf(stderr, "mcpwarden: cannot create a CA in '%s': %s\n", dir,
				strerror(-r));
			return 1;
		}
	} else if (!strcmp(verb, "show")) {
		r = ca_load(dir, &ca);
		if (r < 0) {
			fprintf(stderr, "mcpwarden: cannot load the CA from '%s': %s%s\n", dir,
				strerror(-r), r == -ENOENT ? " (run 'mcpwarden ca init')" : "");
			return 1;
		}
	} else {
		fprintf(stderr, "mcpwarden ca: unknown command '%s' (init, show)\n", verb);
		return 2;
	}
	if (ca_fingerprint(ca_cert(ca), fp, sizeof(fp)) < 0)
		return 1;
	if (!strcmp(verb, "show"))
		PEM_write_X509(stdout, ca_cert(ca));
	else
		fprintf(stderr, "mcpwarden: created a CA in '%s'\n", dir);
	fprintf(stderr, "SHA-256 fingerprint: %s\n", fp);
	return 0;
}
