/* tlsmint.c: what minting costs the event loop: the wall time of ca_mint() for a new name
 * (an EC P-256 key generation and a signature) and for a cached one, and of
 * tls_intercept_new() (a mint, or a cache hit, plus both legs' SSL objects), each over N
 * distinct names; prints p50/p99/max in microseconds.  Usage: tlsmint [N] (default 1000, at most
 * MW_CA_CACHE_MAX). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca.h"
#include "tls.h"
#include "util.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *t, size_t n)
{
	qsort(t, n, sizeof(*t), cmp_u64);
	printf("%-42s n=%zu p50=%" PRIu64 "us p99=%" PRIu64 "us max=%" PRIu64 "us\n", what, n,
	       t[n / 2], t[n * 99 / 100], t[n - 1]);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
	char dir[] = "/tmp/mw-tlsmint.XXXXXX", name[64], path[128];
	struct mw_ca *ca = NULL;
	struct mw_tls_ctx *ctx = NULL;
	uint64_t *t;
	int r;

	if (n < 10 || n > MW_CA_CACHE_MAX || !mkdtemp(dir))
		return 2;
	snprintf(path, sizeof(path), "%s/ca", dir);
	r = ca_init(path, &ca);
	if (r == 0)
		r = tls_ctx_new(ca, &ctx);
	t = calloc(n, sizeof(*t));
	if (r < 0 || !t) {
		fprintf(stderr, "tlsmint: %s\n", strerror(r < 0 ? -r : ENOMEM));
		return 1;
	}
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			X509 *c;
			EVP_PKEY *k;
			uint64_t t0;

			snprintf(name, sizeof(name), "n%zu.mint.test", i);
			t0 = mw_now_mono_usec();
			if (ca_mint(ca, name, &c, &k) < 0)
				return 1;
			t[i] = mw_now_mono_usec() - t0;
			X509_free(c);
			EVP_PKEY_free(k);
		}
		report(pass ? "ca_mint, cached name" : "ca_mint, new name (EC P-256 key + sign)", t,
		       n);
	}
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n / 2; i++) {
			struct mw_tls *tls = NULL;
			uint64_t t0;

			snprintf(name, sizeof(name), "n%zu.engine.test", i);
			t0 = mw_now_mono_usec();
			if (tls_intercept_new(ctx, name, 443, NULL, &tls) < 0)
				return 1;
			t[i] = mw_now_mono_usec() - t0;
			tls_free(tls);
		}
		report(pass ? "tls_intercept_new, cached leaf" : "tls_intercept_new, new name", t, n / 2);
	}
	free(t);
	tls_ctx_free(ctx);
	ca_free(ca);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	return system(path) == 0 ? 0 : 1;
}
