/* test_jwk.c: JWK sets and PEM keys: which keys a set keeps, skips or counts, whole-document
 * errors that never echo the input, and PEM keys bound to one algorithm. */
#include "jwt_fixtures.h"

/* --- key sets ----------------------------------------------------------------------------- */

static void test_jwks_parse(void **state)
{
	char *r1024 = jwk_of(rsa1024, "weak", NULL), *ra = jwk_of(rsa, "dup", "RS256");
	char *rb = jwk_of(rsa2, "dup", "RS512"), *e = jwk_of(ec256, "e", NULL);
	char *priv, json[16384], *t;
	struct mw_jwks *s = NULL;
	struct mw_jwks_info info;
	EVP_PKEY *gen = NULL;
	BIGNUM *d = NULL;

	/* A private JWK: d is ignored, counted. */
	assert_int_equal(EVP_PKEY_get_bn_param(ec256, OSSL_PKEY_PARAM_PRIV_KEY, &d), 1);
	priv = b64url_bn(d, 32);
	snprintf(
	    json, sizeof(json),
	    "{\"keys\":[%s,%s,%s,%.*s,\"d\":\"%s\"},"
	    "{\"kty\":\"RSA\",\"kid\":\"enc\",\"use\":\"enc\",\"n\":\"AQAB\",\"e\":\"AQAB\"},"
	    "{\"kty\":\"OKP\",\"kid\":\"ops\",\"crv\":\"Ed25519\",\"key_ops\":[\"sign\"],"
	    "\"x\":\"%s\"},"
	    "{\"kty\":\"EC\",\"kid\":\"p521\",\"crv\":\"P-521\",\"x\":\"AA\",\"y\":\"AA\"},"
	    "{\"kty\":\"EC\",\"kid\":\"short\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"},"
	    "{\"kty\":\"EC\",\"kid\":\"offcurve\",\"crv\":\"P-256\","
	    "\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
	    "\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\"},"
	    "{\"kty\":\"OKP\",\"kid\":\"mismatch\",\"crv\":\"Ed25519\",\"alg\":\"ES256\","
	    "\"x\":\"%s\"},"
	    "{\"kty\":\"XYZ\"},{\"kid\":\"nokty\"},7]}",
	    r1024, ra, rb, (int)strlen(e) - 1, e, priv, rfc8037_x, rfc8037_x);
	s = jwks_of(json, NULL);
	jwks_get_info(s, &info);
	assert_int_equal(info.n_keys, 2);	   /* dup (the first, RS256) and e */
	assert_int_equal(info.n_duplicate_kid, 1); /* the second dup */
	assert_int_equal(info.n_unsupported, 4);   /* enc, ops, p521, XYZ */
	assert_int_equal(info.n_invalid, 6);	   /* weak, short, offcurve, mismatch, nokty, 7 */
	assert_int_equal(info.n_private, 1);
	/* A skipped key's kid refuses its tokens rather than asking for a refresh. */
	t = mint(rsa1024, "RS256", "{\"alg\":\"RS256\",\"kid\":\"weak\"}", P(""));
	expect_verify(-EKEYREJECTED, t, s, &base);
	assert_non_null(strstr(last_err, "RSA modulus"));
	free(t);
	/* Duplicate kid: the first key wins, deterministically. */
	t = mint(rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"dup\"}", P(""));
	expect_verify(0, t, s, &base);
	free(t);
	t = mint(rsa2, "RS512", "{\"alg\":\"RS512\",\"kid\":\"dup\"}", P(""));
	expect_verify(-EKEYREJECTED, t, s, &base);
	free(t);
	t = mint(ec256, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e\"}", P(""));
	expect_verify(0, t, s, &base);
	free(t);
	t = mint(ec256, "ES256", "{\"alg\":\"ES256\",\"kid\":\"unknown\"}", P(""));
	expect_verify(-ENOKEY, t, s, &base);
	free(t);
	jwks_free(s);

	/* Whole-document errors. */
#define BAD(want, text)                                                                            \
	do {                                                                                       \
		s = NULL;                                                                          \
		assert_int_equal(                                                                  \
		    jwks_parse((text), strlen(text), NULL, &s, last_err, sizeof(last_err)),        \
		    (want));                                                                       \
		assert_null(s);                                                                    \
	} while (0)
	BAD(-EBADMSG, "");
	BAD(-EBADMSG, "not json");
	BAD(-EBADMSG, "{}");
	BAD(-EBADMSG, "{\"keys\":{}}");
	BAD(-EBADMSG, "{\"keys\":[],\"keys\":[]}");
	BAD(-EBADMSG, "{\"keys\":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]}");
	BAD(-ENOKEY, "{\"keys\":[]}");
	BAD(-ENOKEY, "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}");
	strcpy(json, "{\"keys\":[");
	for (int i = 0; i <= MW_JWKS_MAX_KEYS; i++)
		strcat(json, i ? ",{}" : "{}");
	strcat(json, "]}");
	BAD(-EBADMSG, json);
#undef BAD
	/* A parse error gives position and reason, never the input around it (jansson's text
	 * quotes it: "near '...'"), since a misconfigured URL may serve anything. */
	{
		static const char *const docs[] = {
			"{\"keys\":[{\"kty\":\"RSA\",\"d\":SECRET_d0c5a1f}]}",
			"{\"keys\":[],\n \"SECRET_d0c5a1f\":1,\"SECRET_d0c5a1f\":2}",
			"{\"keys\":[]} SECRET_d0c5a1f",
			"{\"keys\":[\"SECRET_d0c5a1f",
			"{\"keys\":[\"\\u0000SECRET_d0c5a1f\"]}",
		};

		for (size_t i = 0; i < ARRAY_SIZE(docs); i++) {
			s = NULL;
			last_err[0] = '\0';
			assert_int_equal(jwks_parse(docs[i], strlen(docs[i]), NULL, &s, last_err,
						    sizeof(last_err)),
					 -EBADMSG);
			assert_null(s);
			if (strstr(last_err, "SECRET") || !strstr(last_err, "line "))
				fail_msg("docs[%zu]: error '%s' echoes the input or has no position",
					 i, last_err);
		}
		s = NULL;
		assert_int_equal(jwks_parse(docs[1], strlen(docs[1]), NULL, &s, last_err,
					    sizeof(last_err)),
				 -EBADMSG);
		assert_string_equal(last_err, "JWKS is not JSON: line 2, column 36: duplicate member");
	}
	assert_int_equal(jwks_parse("{}", 2, &(struct mw_jwks_opts){ MW_JWT_ALG_BIT(MW_JWT_ES256) },
				    &s, NULL, 0),
			 -EINVAL);
	assert_null(jwks_free(NULL));
	BN_free(d);
	EVP_PKEY_free(gen);
	free(priv);
	free(r1024);
	free(ra);
	free(rb);
	free(e);
}

static void test_pem_keys(void **state)
{
	char *prsa = pem_of(rsa), *pec = pem_of(ec384), *ped = pem_of(ed), *pweak = pem_of(rsa1024);
	struct mw_jwks *s = NULL;
	char *t;

	assert_int_equal(
	    jwks_parse_pem(prsa, strlen(prsa), MW_JWT_RS256, NULL, &s, last_err, sizeof(last_err)),
	    0);
	/* No kid on the PEM key: it serves tokens with any kid, for its one algorithm. */
	t = mint(rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"whatever\"}", P(""));
	expect_verify(0, t, s, &base);
	free(t);
	/* Another signer: without a kid a bad signature, with an unknown kid still -ENOKEY
	 * (a refreshed key set could hold it). */
	t = mint(evil, "RS256", "{\"alg\":\"RS256\"}", P(""));
	expect_verify(-EKEYREJECTED, t, s, &base);
	free(t);
	t = mint(evil, "RS256", "{\"alg\":\"RS256\",\"kid\":\"whatever\"}", P(""));
	expect_verify(-ENOKEY, t, s, &base);
	free(t);
	t = mint(rsa, "RS384", "{\"alg\":\"RS384\"}", P(""));
	expect_verify(-ENOKEY, t, s, &base);
	free(t);
	t = mint(rsa, "PS256", "{\"alg\":\"PS256\"}", P(""));
	expect_verify(-ENOKEY, t, s, &base);
	free(t);
	s = jwks_free(s);
	assert_int_equal(jwks_parse_pem(pec, strlen(pec), MW_JWT_ES384, "k1", &s, NULL, 0), 0);
	t = mint(ec384, "ES384", "{\"alg\":\"ES384\",\"kid\":\"k1\"}", P(""));
	expect_verify(0, t, s, &base);
	free(t);
	t = mint(ec384, "ES384", "{\"alg\":\"ES384\",\"kid\":\"k2\"}", P(""));
	expect_verify(-ENOKEY, t, s, &base);
	free(t);
	s = jwks_free(s);
	assert_int_equal(jwks_parse_pem(ped, strlen(ped), MW_JWT_EDDSA, NULL, &s, NULL, 0), 0);
	s = jwks_free(s);
	/* The algorithm must fit the key; weak and garbage keys refused. */
	assert_int_equal(jwks_parse_pem(prsa, strlen(prsa), MW_JWT_ES256, NULL, &s, NULL, 0),
			 -EINVAL);
	assert_int_equal(jwks_parse_pem(pec, strlen(pec), MW_JWT_ES256, NULL, &s, NULL, 0),
			 -EINVAL);
	assert_int_equal(jwks_parse_pem(ped, strlen(ped), MW_JWT_RS256, NULL, &s, NULL, 0),
			 -EINVAL);
	assert_int_equal(jwks_parse_pem(pweak, strlen(pweak), MW_JWT_RS256, NULL, &s, NULL, 0),
			 -EINVAL);
	assert_int_equal(jwks_parse_pem("junk", 4, MW_JWT_RS256, NULL, &s, NULL, 0), -EBADMSG);
	assert_null(s);
	free(prsa);
	free(pec);
	free(ped);
	free(pweak);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jwks_parse),
		cmocka_unit_test(test_pem_keys),
	};

	return cmocka_run_group_tests_name("jwk", tests, setup, teardown);
}
