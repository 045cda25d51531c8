/* test_tls_minter.c: leaves minted by the worker thread into a real CA's cache (ca.h), the
 * loop told through its callback; a name asked twice minted once; a name that cannot be
 * minted ends without a leaf; the queue's bound; the environment kept alive by its jobs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tls_env.h"
#include "tls_minter.h"

static int ready_calls;

static void ready(void *userdata)
{
	ready_calls++;
}

static struct mw_tls_env *env_new(char *dir)
{
	struct mw_tls_env *e = calloc(1, sizeof(*e));
	char path[128];

	assert_non_null(e);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ca", dir);
	assert_int_equal(ca_init(path, &e->ca), 0);
	e->refs = 1;
	return e;
}

static void rm_dir(const char *dir)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void run_while_pending(sd_event *ev, struct mw_tls_minter *m, struct mw_tls_env *e,
			      const char *name)
{
	for (int i = 0; i < 200 && tls_minter_pending(m, e, name); i++)
		assert_true(sd_event_run(ev, 10000) >= 0);
	assert_false(tls_minter_pending(m, e, name));
	for (int i = 0; i < 5; i++) /* the completion on the loop */
		assert_true(sd_event_run(ev, 1000) >= 0);
}

static void test_minted_off_the_loop(void **state)
{
	char dir[] = "/tmp/mw-minter.XXXXXX";
	struct mw_tls_env *e = env_new(dir);
	struct mw_tls_minter *m = NULL;
	sd_event *ev = NULL;
	size_t before;

	assert_int_equal(sd_event_new(&ev), 0);
	assert_int_equal(tls_minter_new(ev, ready, NULL, &m), 0);
	ready_calls = 0;
	assert_false(ca_cached(e->ca, "a.minter.test"));
	assert_int_equal(tls_minter_submit(m, e, "a.minter.test"), 0);
	assert_int_equal(tls_minter_submit(m, e, "a.minter.test"), 0); /* queued once */
	assert_int_equal(tls_minter_submit(m, e, "10.1.2.3"), 0);
	assert_int_equal(tls_minter_jobs(m), 2); /* the loop has not run: nothing collected */
	run_while_pending(ev, m, e, "a.minter.test");
	run_while_pending(ev, m, e, "10.1.2.3");
	assert_true(ready_calls >= 1);
	assert_true(ca_cached(e->ca, "a.minter.test"));
	assert_true(ca_cached(e->ca, "10.1.2.3"));
	assert_int_equal(ca_cache_size(e->ca), 2);
	/* the leaf is the cache's: ca_mint() answers from it */
	before = ca_cache_hits(e->ca);
	{
		X509 *c;
		EVP_PKEY *k;

		assert_int_equal(ca_mint(e->ca, "a.minter.test", &c, &k), 0);
		X509_free(c);
		EVP_PKEY_free(k);
	}
	assert_int_equal(ca_cache_hits(e->ca), before + 1);

	/* not a name: the job ends, no leaf (the flow then mints inline and gets the error) */
	ready_calls = 0;
	assert_int_equal(tls_minter_submit(m, e, "not a name!"), 0);
	run_while_pending(ev, m, e, "not a name!");
	assert_true(ready_calls >= 1);
	assert_false(ca_cached(e->ca, "not a name!"));
	tls_minter_free(m);
	tls_env_unref(e);
	sd_event_unref(ev);
	rm_dir(dir);
}

static void test_bounded_and_refs(void **state)
{
	char dir[] = "/tmp/mw-minter.XXXXXX";
	struct mw_tls_env *e = env_new(dir);
	struct mw_tls_minter *m = NULL;
	sd_event *ev = NULL;
	char name[64];
	int busy = 0, queued = 0;

	assert_int_equal(sd_event_new(&ev), 0);
	assert_int_equal(tls_minter_new(ev, ready, NULL, &m), 0);
	/* the loop does not run: finished jobs are not collected, so the bound is reached */
	for (int i = 0; i < 2 * MW_TLS_MINT_QUEUE_MAX; i++) {
		int r;

		snprintf(name, sizeof(name), "n%d.minter.test", i);
		r = tls_minter_submit(m, e, name);
		assert_true(r == 0 || r == -EBUSY);
		busy += r == -EBUSY;
		queued += r == 0;
	}
	assert_int_equal(queued, MW_TLS_MINT_QUEUE_MAX);
	assert_int_equal(busy, MW_TLS_MINT_QUEUE_MAX);
	/* each job holds the environment */
	assert_int_equal(e->refs, 1 + MW_TLS_MINT_QUEUE_MAX);
	tls_minter_free(m); /* joins the worker, drops the jobs and their references */
	assert_int_equal(e->refs, 1);
	tls_env_unref(e);
	sd_event_unref(ev);
	rm_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minted_off_the_loop),
		cmocka_unit_test(test_bounded_and_refs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
