/* test_ca.c: the local CA.  A minted leaf must verify against the CA with X509_verify_cert for
 * the name it was minted for, carry the SAN, EKU serverAuth, KU digitalSignature, CA:FALSE and
 * a 24 h validity; the cache must hand back the same certificate; init must refuse to
 * overwrite; the CA must load from the directory and from systemd credentials. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <openssl/x509v3.h>

#include "ca.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_ca.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void verify_leaf(struct mw_ca *ca, X509 *leaf, const char *host, const char *ip)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *sc = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *vp;

	X509_STORE_add_cert(store, ca_cert(ca));
	X509_STORE_CTX_init(sc, store, leaf, NULL);
	X509_STORE_CTX_set_purpose(sc, X509_PURPOSE_SSL_SERVER);
	vp = X509_STORE_CTX_get0_param(sc);
	if (host)
		X509_VERIFY_PARAM_set1_host(vp, host, 0);
	if (ip)
		X509_VERIFY_PARAM_set1_ip_asc(vp, ip);
	if (X509_verify_cert(sc) != 1)
		fail_msg("leaf does not verify: %s",
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(sc)));
	X509_STORE_CTX_free(sc);
	X509_STORE_free(store);
}

static void test_init_mint_cache(void **state)
{
	char d[128], p[160];
	struct mw_ca *ca, *again, *loaded;
	X509 *leaf, *leaf2, *ipleaf;
	EVP_PKEY *key, *key2, *ipkey;
	struct stat st;
	int crit = 0;
	const ASN1_TIME *nb, *na;
	int days, secs;

	snprintf(d, sizeof(d), "%s/ca", dir);
	assert_int_equal(ca_init(d, &ca), 0);
	snprintf(p, sizeof(p), "%s/ca.key", d);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(ca_init(d, &again), -EEXIST);
	assert_int_equal(X509_check_ca(ca_cert(ca)), 1);

	assert_int_equal(ca_mint(ca, "mcp.internal.example", &leaf, &key), 0);
	verify_leaf(ca, leaf, "mcp.internal.example", NULL);
	assert_int_equal(X509_check_host(leaf, "other.example", 0, 0, NULL), 0);
	assert_true(X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER);
	assert_int_equal(X509_get_key_usage(leaf), KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_check_ca(leaf), 0);
	{
		GENERAL_NAMES *sans = X509_get_ext_d2i(leaf, NID_subject_alt_name, &crit, NULL);

		assert_non_null(sans);
		assert_int_equal(sk_GENERAL_NAME_num(sans), 1);
		assert_int_equal(sk_GENERAL_NAME_value(sans, 0)->type, GEN_DNS);
		GENERAL_NAMES_free(sans);
	}
	assert_non_null(X509_get0_authority_key_id(leaf));
	assert_non_null(X509_get0_subject_key_id(leaf));
	assert_int_equal(ASN1_INTEGER_get_int64(&(int64_t){ 0 }, X509_get0_serialNumber(leaf)),
			 0); /* 128 bits do not fit in an int64 */
	nb = X509_get0_notBefore(leaf);
	na = X509_get0_notAfter(leaf);
	assert_int_equal(ASN1_TIME_diff(&days, &secs, nb, na), 1);
	assert_int_equal(days * 86400 + secs, MW_CA_LEAF_BACKDATE_SEC + MW_CA_LEAF_LIFETIME_SEC);

	/* a cache hit is the same certificate and key */
	assert_int_equal(ca_mint(ca, "mcp.internal.example", &leaf2, &key2), 0);
	assert_ptr_equal(leaf, leaf2);
	assert_ptr_equal(key, key2);
	assert_int_equal(ca_cache_hits(ca), 1);
	assert_int_equal(ca_cache_size(ca), 1);

	/* an IP literal gets an iPAddress SAN */
	assert_int_equal(ca_mint(ca, "10.1.2.3", &ipleaf, &ipkey), 0);
	verify_leaf(ca, ipleaf, NULL, "10.1.2.3");
	assert_int_equal(ca_mint(ca, "bad name", &leaf2, &key2), -EINVAL);

	/* loaded back from the directory, the same CA signs */
	assert_int_equal(ca_load(d, &loaded), 0);
	assert_int_equal(X509_cmp(ca_cert(loaded), ca_cert(ca)), 0);
	X509_free(leaf2 == leaf ? leaf2 : NULL);
	EVP_PKEY_free(key2 == key ? key2 : NULL);
	X509_free(leaf);
	EVP_PKEY_free(key);
	assert_int_equal(ca_mint(loaded, "x.example", &leaf, &key), 0);
	verify_leaf(ca, leaf, "x.example", NULL);
	X509_free(leaf);
	EVP_PKEY_free(key);
	X509_free(ipleaf);
	EVP_PKEY_free(ipkey);
	ca_free(loaded);
	ca_free(ca);
}

static void test_credentials(void **state)
{
	char d[128], creds[128], cmd[512];
	struct mw_ca *ca, *fromcred;

	snprintf(d, sizeof(d), "%s/src", dir);
	assert_int_equal(ca_init(d, &ca), 0);
	snprintf(creds, sizeof(creds), "%s/creds", dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp %s/ca.key %s/%s && cp %s/ca.crt %s/%s", creds,
		 d, creds, MW_CA_CRED_KEY, d, creds, MW_CA_CRED_CERT);
	assert_int_equal(system(cmd), 0);
	setenv("CREDENTIALS_DIRECTORY", creds, 1);
	/* the directory named is empty: the credential wins */
	snprintf(d, sizeof(d), "%s/empty", dir);
	assert_int_equal(ca_load(d, &fromcred), 0);
	assert_string_equal(ca_source(fromcred), "credential");
	assert_int_equal(X509_cmp(ca_cert(fromcred), ca_cert(ca)), 0);
	ca_free(fromcred);
	unsetenv("CREDENTIALS_DIRECTORY");
	assert_int_equal(ca_load(d, &fromcred), -ENOENT);
	ca_free(ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_mint_cache),
		cmocka_unit_test(test_credentials),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
