/* test_jwt.c: JWT verification: RFC 7520 and RFC 8037 vectors, tokens minted here with fresh
 * keys for every algorithm, and the RFC 8725 attacks, each refused with the errno jwt.h
 * promises.  Key set parsing is in test_jwk.c. */
#include <openssl/hmac.h>

#include "jwt_fixtures.h"

static const char rfc7520_n[] =
    "n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_"
    "AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7"
    "Tpe-OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_"
    "vniUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw";
static const char rfc7520_payload[] =
    "SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb2"
    "50byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcg"
    "d2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4";
static const char rfc7520_41[] =
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9.%s."
    "MRjdkly7_-oTPTS3AXP41iQIGKa80A0ZmTuV5MEaHoxnW2e5CZ5NlKtainoFmKZopdHM1O2U4mwzJdQx996ivp83xug"
    "lII7PNDi84wnB-BDkoBwA78185hX-Es4JIwmDLJK3lfWRa-XtL0RnltuYv746iYTh_qHRD68BNt1uSNCrUCTJDt5aAE6"
    "x8wW1Kt9eRo4QPocSadnHXFxnt8Is9UzpERV0ePPQdLuW3IS_de3xyIrDaLGdjluPxUAhb6L2aXic1U12podGU0KLUQ"
    "SE_oI-ZnmKJ3F4uOZDnd6QZWJushZ41Axf_fcIe8u9ipH84ogoree7vjbU5y18kDquDg";
static const char rfc7520_42[] =
    "eyJhbGciOiJQUzM4NCIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9.%s."
    "cu22eBqkYDKgIlTpzDXGvaFfz6WGoz7fUDcfT0kkOy42miAh2qyBzk1xEsnk2IpN6-tPid6VrklHkqsGqDqHCdP6O8T"
    "TB5dDDItllVo6_1OLPpcbUrhiUSMxbbXUvdvWXzg-UD8biiReQFlfz28zGWVsdiNAUf8ZnyPEgVFn442ZdNqiVJRmBqr"
    "YRXe8P_ijQ7p8Vdz0TTrxUeT3lm8d9shnr2lfJT8ImUjvAA2Xez2Mlp8cBE5awDzT0qI0n6uiP1aCN_2_jLAeQTlqRHt"
    "fa64QQSUmFAAjVKPbByi7xho0uTOcbH510a6GYmJUAfmWjwZ6oD4ifKo8DYM-X72Eaw";
static const char rfc7520_44[] =
    "eyJhbGciOiJIUzI1NiIsImtpZCI6IjAxOGMwYWU1LTRkOWItNDcxYi1iZmQ2LWVlZjMxNGJjNzAzNyJ9.%s."
    "s0h6KThzkfBBBkLspW1h84VsJZFTsPPqMDA7g1Md7p0";
static const char rfc8037_a4[] = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
				 "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5"
				 "BhVsPt9g7sVvpAr_MuM0KAg";
/* The signature was accepted: what failed is the (non-JSON) RFC example payload. */
#define SIG_OK_PAYLOAD_NOT_JSON "payload is not base64url JSON object"

/* --- RFC vectors -------------------------------------------------------------------------- */

static char *rfc_token(const char *fmt)
{
	const char *at = strstr(fmt, "%s");
	char *t;

	assert_true(asprintf(&t, "%.*s%s%s", (int)(at - fmt), fmt, rfc7520_payload, at + 2) > 0);
	return t;
}

static void test_rfc7520_rs256(void **state)
{
	struct mw_jwks *s;
	char json[1024], *t = rfc_token(rfc7520_41);

	snprintf(json, sizeof(json),
		 "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"bilbo.baggins@hobbiton.example\","
		 "\"use\":\"sig\",\"n\":\"%s\",\"e\":\"AQAB\"}]}",
		 rfc7520_n);
	s = jwks_of(json, NULL);
	expect_verify(-EBADMSG, t, s, &base);
	assert_string_equal(last_err, SIG_OK_PAYLOAD_NOT_JSON);
	t[strlen(t) - 2] ^= 1; /* one bit of the signature */
	expect_verify(-EKEYREJECTED, t, s, &base);
	jwks_free(s);
	free(t);
}

static void test_rfc7520_ps384(void **state)
{
	char json[1024], *t = rfc_token(rfc7520_42);
	struct mw_jwks *s;

	/* RSA JWK without alg: PS* only when configured. */
	snprintf(json, sizeof(json),
		 "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"bilbo.baggins@hobbiton.example\","
		 "\"n\":\"%s\",\"e\":\"AQAB\"}]}",
		 rfc7520_n);
	s = jwks_of(json, NULL);
	expect_verify(-EKEYREJECTED, t, s, &base);
	assert_non_null(strstr(last_err, "alg PS384 not allowed"));
	jwks_free(s);
	s = jwks_of(json, &(struct mw_jwks_opts){ MW_JWT_ALGS_PS });
	expect_verify(-EBADMSG, t, s, &base);
	assert_string_equal(last_err, SIG_OK_PAYLOAD_NOT_JSON);
	jwks_free(s);
	/* With "alg": "PS384" on the key. */
	snprintf(json, sizeof(json),
		 "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"bilbo.baggins@hobbiton.example\","
		 "\"alg\":\"PS384\",\"n\":\"%s\",\"e\":\"AQAB\"}]}",
		 rfc7520_n);
	s = jwks_of(json, NULL);
	expect_verify(-EBADMSG, t, s, &base);
	assert_string_equal(last_err, SIG_OK_PAYLOAD_NOT_JSON);
	free(t);
	/* The 4.1 RS256 token against the PS384-only key: alg switching refused. */
	t = rfc_token(rfc7520_41);
	expect_verify(-EKEYREJECTED, t, s, &base);
	jwks_free(s);
	free(t);
}

static void test_rfc7520_hmac_refused(void **state)
{
	static const char oct[] =
	    "{\"keys\":[{\"kty\":\"oct\",\"kid\":"
	    "\"018c0ae5-4d9b-471b-bfd6-eef314bc7037\",\"use\":\"sig\","
	    "\"alg\":\"HS256\",\"k\":\"hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg\"}]}";
	char json[2048], *t = rfc_token(rfc7520_44), *ej = jwk_of(ec256, "e", NULL);
	struct mw_jwks *s = NULL;
	struct mw_jwks_info info;

	/* A set of only symmetric keys has nothing usable. */
	assert_int_equal(jwks_parse(oct, strlen(oct), NULL, &s, last_err, sizeof(last_err)),
			 -ENOKEY);
	assert_null(s);
	snprintf(json, sizeof(json), "{\"keys\":[%.*s,%s]}", (int)strlen(oct) - 11, oct + 9, ej);
	s = jwks_of(json, NULL);
	jwks_get_info(s, &info);
	assert_int_equal(info.n_keys, 1);
	assert_int_equal(info.n_unsupported, 1);
	assert_int_equal(info.n_private, 1);
	expect_verify(-EKEYREJECTED, t, s, &base);
	assert_non_null(strstr(last_err, "HMAC"));
	jwks_free(s);
	free(ej);
	free(t);
}

static void test_rfc8037_ed25519(void **state)
{
	char json[256];
	struct mw_jwks *s;
	char *t = strdup(rfc8037_a4);

	snprintf(json, sizeof(json),
		 "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}]}", rfc8037_x);
	s = jwks_of(json, NULL);
	expect_verify(-EBADMSG, t, s, &base);
	assert_string_equal(last_err, SIG_OK_PAYLOAD_NOT_JSON);
	t[strlen(t) - 3] = t[strlen(t) - 3] == 'A' ? 'B' : 'A';
	expect_verify(-EKEYREJECTED, t, s, &base);
	jwks_free(s);
	free(t);
}

/* --- every algorithm, fresh keys --------------------------------------------------------- */

static void test_all_algorithms(void **state)
{
	static const struct {
		const char *alg, *kid;
		EVP_PKEY **k;
	} cases[] = {
		{ "RS256", "rsa", &rsa },     { "RS384", "rsa", &rsa },
		{ "RS512", "rsa", &rsa },     { "RS512", "rsa2", &rsa2 },
		{ "ES256", "ec256", &ec256 }, { "ES384", "ec384", &ec384 },
		{ "EdDSA", "ed", &ed },	      { "PS256", "rsa", &rsa },
		{ "PS384", "rsa", &rsa },     { "PS512", "rsa", &rsa },
	};
	struct mw_jwks *pss;
	char *all, *j = jwk_of(rsa, "rsa", NULL);

	assert_true(asprintf(&all, "{\"keys\":[%s]}", j) > 0);
	pss = jwks_of(all, &(struct mw_jwks_opts){ MW_JWT_ALGS_PS | MW_JWT_ALGS_RS });
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mw_jwt_claims *c = NULL;
		char hdr[128], *t, hex[65];
		unsigned char md[32];
		bool ps = cases[i].alg[0] == 'P';

		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"at+jwt\"}",
			 cases[i].alg, cases[i].kid);
		t = mint(*cases[i].k, cases[i].alg, hdr, P(""));
		print_message("# %s kid %s\n", cases[i].alg, cases[i].kid);
		/* PS* only where the RSA key allows it. */
		if (ps)
			expect_verify(-EKEYREJECTED, t, keys, &base);
		assert_int_equal(verify_with(t, ps ? pss : keys, &base, &c), 0);
		assert_string_equal(c->alg, cases[i].alg);
		assert_string_equal(c->kid, cases[i].kid);
		assert_string_equal(c->sub, "alice");
		assert_string_equal(c->iss, ISS);
		assert_int_equal(c->exp, NOW + 300);
		assert_int_equal(c->iat, NOW - 10);
		assert_int_equal(c->nbf, 0);
		EVP_Digest(t, strlen(t), md, NULL, EVP_sha256(), NULL);
		for (int b = 0; b < 32; b++)
			snprintf(hex + 2 * b, 3, "%02x", md[b]);
		assert_string_equal(c->token_sha256, hex);
		jwt_claims_free(c);
		free(t);
	}
	/* rsa2 allows only RS512 (its JWK alg). */
	expect_mint(-EKEYREJECTED, rsa2, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa2\"}", P(""));
	jwks_free(pss);
	free(all);
	free(j);
}

/* --- RFC 8725 attacks ---------------------------------------------------------------------- */

static void test_alg_none(void **state)
{
	static const char *const algs[] = { "none", "None", "NONE", "nOnE" };
	char *good = mint(rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa\"}", P(""));
	const char *sig = strrchr(good, '.');

	for (size_t i = 0; i < 4; i++) {
		char hdr[64], *h, *p, *t, *t2;

		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\"}", algs[i]);
		h = b64url(hdr, strlen(hdr));
		p = b64url(P(""), strlen(P("")));
		assert_true(asprintf(&t, "%s.%s.", h, p) > 0);
		expect_verify(-EKEYREJECTED, t, keys, &base); /* unsecured: no signature at all */
		assert_non_null(strstr(last_err, "none"));
		t2 = cat(t, "", sig + 1); /* with some other token's signature */
		expect_verify(-EKEYREJECTED, t2, keys, &base);
		assert_non_null(strstr(last_err, "none"));
		free(h);
		free(p);
		free(t);
		free(t2);
	}
	/* The alg gate comes before everything else in the header and the signature part. */
	{
		static const char *const hdrs[] = {
			"{\"alg\":\"none\",\"crit\":[\"b64\"]}",
			"{\"alg\":\"none\",\"kid\":7}",
			"{\"alg\":\"HS256\",\"kid\":\"rsa\"}",
			"{\"alg\":\"ES512\"}",
		};

		for (size_t i = 0; i < ARRAY_SIZE(hdrs); i++) {
			char *h = b64url(hdrs[i], strlen(hdrs[i])), *p = b64url(P(""), strlen(P("")));
			char *t, *t2;

			assert_true(asprintf(&t, "%s.%s.", h, p) > 0);
			expect_verify(-EKEYREJECTED, t, keys, &base);
			t2 = cat(t, "", "!!");
			expect_verify(-EKEYREJECTED, t2, keys, &base);
			free(h);
			free(p);
			free(t);
			free(t2);
		}
	}
	/* A supported alg with an empty signature part is malformed. */
	{
		char *t = strdup(good);

		strrchr(t, '.')[1] = '\0';
		expect_verify(-EBADMSG, t, keys, &base);
		assert_non_null(strstr(last_err, "signature"));
		free(t);
	}
	free(good);
}

static void test_hmac_with_public_key(void **state)
{
	static const char *const algs[] = { "HS256", "HS384", "HS512" };
	char *pem = pem_of(rsa);

	for (size_t i = 0; i < 3; i++) {
		char hdr[64], *h, *p, *in, *t;
		unsigned char mac[64];
		unsigned int n;

		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"rsa\"}", algs[i]);
		h = b64url(hdr, strlen(hdr));
		p = b64url(P(""), strlen(P("")));
		in = cat(h, ".", p);
		/* The secret is the public key, as a confused verifier would use it. */
		HMAC(i == 0   ? EVP_sha256()
		     : i == 1 ? EVP_sha384()
			      : EVP_sha512(),
		     pem, (int)strlen(pem), (unsigned char *)in, strlen(in), mac, &n);
		{
			char *m = b64url(mac, n);

			t = cat(in, ".", m);
			free(m);
		}
		expect_verify(-EKEYREJECTED, t, keys, &base);
		assert_non_null(strstr(last_err, "HMAC"));
		free(h);
		free(p);
		free(in);
		free(t);
	}
	free(pem);
}

static void test_alg_switching(void **state)
{
	/* RS -> PS with the same RSA key (the key has no alg: RS* only by default). */
	expect_mint(-EKEYREJECTED, rsa, "PS256", "{\"alg\":\"PS256\",\"kid\":\"rsa\"}", P(""));
	/* RS -> ES naming the RSA key's kid: the key allows no ES*. */
	expect_mint(-EKEYREJECTED, ec256, "ES256", "{\"alg\":\"ES256\",\"kid\":\"rsa\"}", P(""));
	/* ES384 key named for ES256. */
	expect_mint(-EKEYREJECTED, ec384, "ES256", "{\"alg\":\"ES256\",\"kid\":\"ec384\"}", P(""));
	/* EdDSA header on the EC key's kid. */
	expect_mint(-EKEYREJECTED, ed, "EdDSA", "{\"alg\":\"EdDSA\",\"kid\":\"ec256\"}", P(""));
	/* Unsupported algorithms never reach a key. */
	expect_mint(-EKEYREJECTED, rsa, "RS256", "{\"alg\":\"ES512\",\"kid\":\"rsa\"}", P(""));
	expect_mint(-EKEYREJECTED, rsa, "RS256", "{\"alg\":\"rs256\",\"kid\":\"rsa\"}", P(""));
	expect_mint(-EBADMSG, rsa, "RS256", "{\"alg\":256,\"kid\":\"rsa\"}", P(""));
	expect_mint(-EBADMSG, rsa, "RS256", "{\"kid\":\"rsa\"}", P(""));
}

static void test_kid_tricks(void **state)
{
	static const char *const kids[] = {
		"../../../../../../dev/null",
		"/etc/passwd",
		"' OR '1'='1",
		"rsa' --",
		"rsa ",
		"RSA",
		"x; DROP TABLE keys",
		"|cat /etc/shadow",
		"",
	};
	char hdr[512], big[200];

	for (size_t i = 0; i < sizeof(kids) / sizeof(kids[0]); i++) {
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"kid\":\"%s\"}", kids[i]);
		expect_mint(-ENOKEY, rsa, "RS256", hdr, P(""));
	}
	/* kid with control characters: refused and not echoed raw. */
	expect_mint(-ENOKEY, rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"a\\nb\\u001b[31m\"}",
		    P(""));
	assert_non_null(strstr(last_err, "'a?b?[31m'"));
	expect_mint(-EBADMSG, rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa\\u0000x\"}", P(""));
	expect_mint(-EBADMSG, rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":7}", P(""));
	memset(big, 'k', 128);
	big[128] = 0;
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"kid\":\"%s\"}", big);
	expect_mint(-EBADMSG, rsa, "RS256", hdr, P(""));
	/* No kid: only keys whose algorithms fit are tried. */
	expect_mint(0, rsa, "RS256", "{\"alg\":\"RS256\"}", P(""));
	expect_mint(0, ec384, "ES384", "{\"alg\":\"ES384\"}", P(""));
	expect_mint(-EKEYREJECTED, evil, "RS256", "{\"alg\":\"RS256\"}", P(""));
	/* A kid naming a key of another type (kid of the Ed25519 key, RSA alg). */
	expect_mint(-EKEYREJECTED, rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"ed\"}", P(""));
}

static void test_embedded_keys_ignored(void **state)
{
	char *ej = jwk_of(evil, NULL, "RS256"), hdr[2048];

	/* Signed by the attacker, pointing at the attacker's key in every way. */
	snprintf(hdr, sizeof(hdr),
		 "{\"alg\":\"RS256\",\"jwk\":%s,\"jku\":\"https://evil.example/jwks\","
		 "\"x5u\":\"https://evil.example/cert.pem\",\"x5c\":[\"MIIB\"]}",
		 ej);
	expect_mint(-EKEYREJECTED, evil, "RS256", hdr, P(""));
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"kid\":\"evil\",\"jwk\":%s}", ej);
	expect_mint(-ENOKEY, evil, "RS256", hdr, P(""));
	/* The same headers on a token our key signed are ignored. */
	snprintf(hdr, sizeof(hdr),
		 "{\"alg\":\"RS256\",\"kid\":\"rsa\",\"jwk\":%s,\"jku\":\"https://evil.example/\","
		 "\"x5u\":\"https://evil.example/\"}",
		 ej);
	expect_mint(0, rsa, "RS256", hdr, P(""));
	/* crit is refused whatever it names. */
	expect_mint(-EBADMSG, rsa, "RS256",
		    "{\"alg\":\"RS256\",\"kid\":\"rsa\",\"crit\":[\"exp\"],\"exp\":1}", P(""));
	expect_mint(-EBADMSG, rsa, "RS256",
		    "{\"alg\":\"RS256\",\"kid\":\"rsa\",\"crit\":[\"b64\"],\"b64\":false}", P(""));
	expect_mint(-EBADMSG, rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa\",\"crit\":[]}",
		    P(""));
	free(ej);
}

static void test_ecdsa_psychic_signatures(void **state)
{
	static const unsigned char n256[32] = {
		0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
		0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
	};
	unsigned char sig[96] = { 0 }, der[128];
	char *good = mint(ec256, "ES256", "{\"alg\":\"ES256\",\"kid\":\"ec256\"}", P("")), *t;
	char *good384 = mint(ec384, "ES384", "{\"alg\":\"ES384\",\"kid\":\"ec384\"}", P(""));
	size_t n;

	expect_verify(0, good, keys, &base);
	/* r = s = 0 (CVE-2022-21449). */
	t = resign(good, sig, 64);
	expect_verify(-EKEYREJECTED, t, keys, &base);
	free(t);
	t = resign(good384, sig, 96);
	expect_verify(-EKEYREJECTED, t, keys, &base);
	free(t);
	/* r = n, s = n: zero modulo the order. */
	memcpy(sig, n256, 32);
	memcpy(sig + 32, n256, 32);
	t = resign(good, sig, 64);
	expect_verify(-EKEYREJECTED, t, keys, &base);
	free(t);
	/* Right r and s, wrong lengths: truncated, one byte more, and the DER form. */
	assert_int_equal(mw_b64url_decode(strrchr(good, '.') + 1, strlen(strrchr(good, '.') + 1),
					  sig, sizeof(sig), &n),
			 0);
	assert_int_equal(n, 64);
	t = resign(good, sig, 63);
	expect_verify(-EKEYREJECTED, t, keys, &base);
	free(t);
	sig[64] = 0;
	t = resign(good, sig, 65);
	expect_verify(-EKEYREJECTED, t, keys, &base);
	free(t);
	{
		ECDSA_SIG *es = ECDSA_SIG_new();
		unsigned char *q = der;
		int dl;

		ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
		dl = i2d_ECDSA_SIG(es, &q);
		ECDSA_SIG_free(es);
		t = resign(good, der, (size_t)dl);
		expect_verify(-EKEYREJECTED, t, keys, &base);
		free(t);
	}
	free(good);
	free(good384);
}

static void test_signature_sizes(void **state)
{
	unsigned char sig[1100] = { 1 };
	char *good = mint(rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa\"}", P("")), *t;
	char *ged = mint(ed, "EdDSA", "{\"alg\":\"EdDSA\",\"kid\":\"ed\"}", P(""));
	size_t n;

	assert_int_equal(mw_b64url_decode(strrchr(good, '.') + 1, strlen(strrchr(good, '.') + 1),
					  sig, sizeof(sig), &n),
			 0);
	assert_int_equal(n, 256);
	t = resign(good, sig, 255);
	expect_verify(-EKEYREJECTED, t, keys, &base);
	free(t);
	t = resign(good, sig, 257);
	expect_verify(-EKEYREJECTED, t, keys, &base);
	free(t);
	memmove(sig + 1, sig, 256); /* a leading zero byte: same number, wrong length */
	sig[0] = 0;
	t = resign(good, sig, 257);
	expect_verify(-EKEYREJECTED, t, keys, &base);
	free(t);
	t = resign(good, sig, 1025); /* larger than any key allows */
	expect_verify(-EBADMSG, t, keys, &base);
	free(t);
	t = resign(ged, sig, 63);
	expect_verify(-EKEYREJECTED, t, keys, &base);
	free(t);
	free(good);
	free(ged);
}

/* --- encoding and JSON strictness ---------------------------------------------------------- */

static void test_base64url_strict(void **state)
{
	unsigned char out[16];
	size_t n;
	char *h = b64url("{\"alg\":\"RS256\",\"kid\":\"rsa\"}", 27),
	     *p = b64url(P(""), strlen(P("")));
	char *in, *t;

	assert_int_equal(mw_b64url_decode("QQ", 2, out, sizeof(out), &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 'A');
	assert_int_equal(mw_b64url_decode("QR", 2, out, sizeof(out), &n), -EBADMSG);
	assert_int_equal(mw_b64url_decode("QQ==", 4, out, sizeof(out), &n), -EBADMSG);
	assert_int_equal(mw_b64url_decode("Q", 1, out, sizeof(out), &n), -EBADMSG);
	assert_int_equal(mw_b64url_decode("QU+/", 4, out, sizeof(out), &n), -EBADMSG);
	assert_int_equal(mw_b64url_decode("QU-_", 4, out, sizeof(out), &n), 0);
	assert_int_equal(mw_b64url_decode("QU J", 4, out, sizeof(out), &n), -EBADMSG);
	assert_int_equal(mw_b64url_decode("QUJD", 4, out, 2, &n), -EMSGSIZE);
	assert_int_equal(mw_b64url_decode("", 0, out, sizeof(out), &n), 0);
	assert_int_equal(n, 0);

	/* Signed over a non-canonical payload encoding: the signature holds, decoding refuses. */
	{
		char *q = strdup(p);
		size_t l = strlen(q);
		const char *alpha =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

		assert_true(l % 4 != 0);
		q[l - 1] = alpha[(strchr(alpha, q[l - 1]) - alpha) | 1];
		in = cat(h, ".", q);
		t = mint_encoded(rsa, "RS256", in);
		expect_verify(-EBADMSG, t, keys, &base);
		free(t);
		free(in);
		/* Padding and the standard alphabet. */
		in = cat(h, ".", p);
		t = mint_encoded(rsa, "RS256", in);
		expect_verify(0, t, keys, &base);
		free(t);
		free(in);
		in = cat(h, "=.", p);
		t = mint_encoded(rsa, "RS256", in);
		expect_verify(-EBADMSG, t, keys, &base);
		free(t);
		free(in);
		free(q);
	}
	/* Part counts and empty parts. */
	t = mint(rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa\"}", P(""));
	in = cat(t, ".", "AAAA");
	expect_verify(-EBADMSG, in, keys, &base);
	free(in);
	*strrchr(t, '.') = 0;
	expect_verify(-EBADMSG, t, keys, &base);
	expect_verify(-EBADMSG, "..", keys, &base);
	expect_verify(-EBADMSG, "", keys, &base);
	expect_verify(-EBADMSG, "a.b.c", keys, &base);
	in = cat(t, ".", "AA=A");
	expect_verify(-EBADMSG, in, keys, &base);
	free(in);
	in = cat(t, ".", "AA\nA");
	expect_verify(-EBADMSG, in, keys, &base);
	free(in);
	free(t);
	free(h);
	free(p);
}

static void test_json_strict(void **state)
{
	char deep[256] = "", hdr[512];
	int i;

	/* Duplicate members: the classic "alg":"none" shadowing and a shadowed iss. */
	expect_mint(-EBADMSG, rsa, "RS256", "{\"alg\":\"none\",\"alg\":\"RS256\",\"kid\":\"rsa\"}",
		    P(""));
	expect_mint(-EBADMSG, rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa\",\"kid\":\"ed\"}",
		    P(""));
	expect_mint(-EBADMSG, rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa\"}",
		    P("\"iss\":\"https://evil.example\""));
	/* Nesting beyond MW_JWT_MAX_JSON_DEPTH in header and payload; depth 16 passes. */
	for (i = 0; i < 17; i++)
		strcat(deep, "[");
	for (i = 0; i < 17; i++)
		strcat(deep, "]");
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"kid\":\"rsa\",\"x\":%s}", deep);
	expect_mint(-EBADMSG, rsa, "RS256", hdr, P(""));
	snprintf(hdr, sizeof(hdr), "\"deep\":%s", deep);
	expect_mint(-EBADMSG, rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa\"}", P(hdr));
	snprintf(hdr, sizeof(hdr), "\"deep\":%.*s%.*s", 15, deep, 15, deep + 17);
	expect_mint(0, rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa\"}", P(hdr));
	/* Brackets inside strings do not count. */
	expect_mint(0, rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa\"}",
		    P("\"x\":\"[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[[[[[[[[[\""));
	/* Not objects, trailing bytes. */
	expect_mint(-EBADMSG, rsa, "RS256", "[\"RS256\"]", P(""));
	expect_mint(-EBADMSG, rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa\"} x", P(""));
	expect_mint(-EBADMSG, rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa\"}", "[1]");
	expect_mint(-EBADMSG, rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa\"}", "{\"a\":1}{}");
	expect_mint(-EBADMSG, rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa\",\"typ\":1}", P(""));
}

/* --- claims ------------------------------------------------------------------------------- */

static void test_time_claims(void **state)
{
	static const char h[] = "{\"alg\":\"ES256\",\"kid\":\"ec256\"}";
	struct mw_jwt_expect x = base;
	char pl[512];
	char *t;

#define PT(fmt, ...)                                                                               \
	(snprintf(pl, sizeof(pl), "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\"," fmt "}",             \
		  __VA_ARGS__),                                                                    \
	 pl)
	expect_mint(-EKEYEXPIRED, ec256, "ES256", h, PT("\"exp\":%d", NOW - 31));
	expect_mint(0, ec256, "ES256", h, PT("\"exp\":%d", NOW - 29)); /* within leeway 30 */
	expect_mint(-EKEYEXPIRED, ec256, "ES256", h, PT("\"exp\":%d", NOW - 30));
	expect_mint(-EKEYEXPIRED, ec256, "ES256", h, PT("\"exp\":%d", 0));
	expect_mint(-ETIME, ec256, "ES256", h, PT("\"exp\":%d,\"nbf\":%d", NOW + 600, NOW + 31));
	expect_mint(0, ec256, "ES256", h, PT("\"exp\":%d,\"nbf\":%d", NOW + 600, NOW + 30));
	expect_mint(-ETIME, ec256, "ES256", h, PT("\"exp\":%d,\"iat\":%d", NOW + 600, NOW + 31));
	expect_mint(0, ec256, "ES256", h, PT("\"exp\":%d,\"iat\":%d", NOW + 600, NOW + 30));
	expect_mint(0, ec256, "ES256", h, PT("\"exp\":%d.75", NOW + 1));
	/* exp is required and must be a non-negative number. */
	expect_mint(-EBADMSG, ec256, "ES256", h, PT("\"sub\":\"%s\"", "x"));
	expect_mint(-EBADMSG, ec256, "ES256", h, PT("\"exp\":\"%d\"", NOW + 60));
	expect_mint(-EBADMSG, ec256, "ES256", h, PT("\"exp\":%d", -1));
	expect_mint(-EBADMSG, ec256, "ES256", h, PT("\"exp\":%s", "1e300"));
	expect_mint(-EBADMSG, ec256, "ES256", h, PT("\"exp\":%s", "null"));
	expect_mint(-EBADMSG, ec256, "ES256", h, PT("\"exp\":%d,\"nbf\":true", NOW + 60));
	/* Leeway is capped at 60 s whatever is asked. */
	x.leeway_sec = 3600;
	t = mint(ec256, "ES256", h, PT("\"exp\":%d", NOW - 61));
	expect_verify(-EKEYEXPIRED, t, keys, &x);
	free(t);
	t = mint(ec256, "ES256", h, PT("\"exp\":%d", NOW - 59));
	expect_verify(0, t, keys, &x);
	free(t);
	t = mint(ec256, "ES256", h, PT("\"exp\":%d,\"nbf\":%d", NOW + 600, NOW + 61));
	expect_verify(-ETIME, t, keys, &x);
	free(t);
	x.leeway_sec = 0;
	t = mint(ec256, "ES256", h, PT("\"exp\":%d", NOW + 1));
	expect_verify(0, t, keys, &x);
	free(t);
	t = mint(ec256, "ES256", h, PT("\"exp\":%d", NOW));
	expect_verify(-EKEYEXPIRED, t, keys, &x);
	free(t);
#undef PT
}

static void test_iss_aud_typ(void **state)
{
	static const char h[] = "{\"alg\":\"EdDSA\",\"kid\":\"ed\"}";
	struct mw_jwt_expect x = base;
	char pl[512], *t;

#define PA(fmt, ...) (snprintf(pl, sizeof(pl), "{\"exp\":%d," fmt "}", NOW + 60, __VA_ARGS__), pl)
	expect_mint(-EACCES, ed, "EdDSA", h, PA("\"iss\":\"%s\",\"aud\":\"" AUD "\"", ISS "/"));
	expect_mint(-EACCES, ed, "EdDSA", h,
		    PA("\"iss\":\"%s\",\"aud\":\"" AUD "\"", "HTTPS://idp.example"));
	assert_null(strstr(last_err, "HTTPS")); /* the token's iss is not echoed */
	expect_mint(-EACCES, ed, "EdDSA", h, PA("\"iss\":%d,\"aud\":\"" AUD "\"", 1));
	expect_mint(-EACCES, ed, "EdDSA", h, PA("\"aud\":\"%s\"", AUD));
	expect_mint(-EACCES, ed, "EdDSA", h, PA("\"iss\":\"" ISS "\",\"aud\":\"%s\"", "urn:other"));
	expect_mint(-EACCES, ed, "EdDSA", h,
		    PA("\"iss\":\"" ISS "\",\"aud\":[\"%s\"]", "urn:other"));
	expect_mint(-EACCES, ed, "EdDSA", h, PA("\"iss\":\"" ISS "\",\"aud\":[%s]", ""));
	expect_mint(-EACCES, ed, "EdDSA", h, PA("\"iss\":\"" ISS "\",\"x\":%d", 1));
	expect_mint(0, ed, "EdDSA", h, PA("\"iss\":\"" ISS "\",\"aud\":[\"a\",\"%s\"]", AUD));
	expect_mint(-EBADMSG, ed, "EdDSA", h, PA("\"iss\":\"" ISS "\",\"aud\":[1,\"%s\"]", AUD));
	expect_mint(-EBADMSG, ed, "EdDSA", h,
		    PA("\"iss\":\"" ISS "\",\"aud\":{\"a\":\"%s\"}", AUD));
	/* typ, when expected: case-insensitive, "application/" optional on either side. */
	x.typ = "at+jwt";
	{
		static const struct {
			const char *typ;
			int want;
		} cases[] = {
			{ "\"at+jwt\"", 0 },
			{ "\"AT+JWT\"", 0 },
			{ "\"application/at+jwt\"", 0 },
			{ "\"Application/At+Jwt\"", 0 },
			{ "\"JWT\"", -EACCES },
			{ "\"at+jwt \"", -EACCES },
			{ "\"application/jwt\"", -EACCES },
			{ NULL, -EACCES },
		};
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			char hdr[128];

			snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"kid\":\"ed\"%s%s}",
				 cases[i].typ ? ",\"typ\":" : "", cases[i].typ ? cases[i].typ : "");
			t = mint(ed, "EdDSA", hdr, P(""));
			expect_verify(cases[i].want, t, keys, &x);
			free(t);
		}
	}
	x.typ = "application/at+jwt";
	t = mint(ed, "EdDSA", "{\"alg\":\"EdDSA\",\"kid\":\"ed\",\"typ\":\"at+JWT\"}", P(""));
	expect_verify(0, t, keys, &x);
	free(t);
#undef PA
}

static void test_groups(void **state)
{
	static const char h[] = "{\"alg\":\"RS256\",\"kid\":\"rsa\"}";
	struct mw_jwt_expect x = base;
	struct mw_jwt_claims *c;
	char *t, big[8192];

#define GROUPS(claim, extra, want_r, ...)                                                          \
	do {                                                                                       \
		const char *_w[] = { __VA_ARGS__ };                                                \
		x.groups_claim = (claim);                                                          \
		t = mint(rsa, "RS256", h, P(extra));                                               \
		assert_int_equal(verify_with(t, keys, &x, &c), (want_r));                          \
		if (c) {                                                                           \
			assert_int_equal(c->n_groups, sizeof(_w) / sizeof(_w[0]) - 1);             \
			for (size_t _i = 0; _i < c->n_groups; _i++)                                \
				assert_string_equal(c->groups[_i], _w[_i + 1]);                    \
		}                                                                                  \
		jwt_claims_free(c);                                                                \
		free(t);                                                                           \
	} while (0)

	GROUPS("groups", "\"groups\":[\"finance\",\"dba\"]", 0, "", "finance", "dba");
	GROUPS("groups", "\"groups\":\"finance  dba \"", 0, "", "finance", "dba");
	GROUPS("groups", "\"groups\":[]", 0, "");
	GROUPS("groups", "\"other\":1", 0, "");
	GROUPS(NULL, "\"groups\":[\"finance\"]", 0, "");
	GROUPS("realm_access.roles", "\"realm_access\":{\"roles\":[\"admin\",\"user\"]}", 0, "",
	       "admin", "user");
	GROUPS("resource_access.mcp.roles",
	       "\"resource_access\":{\"mcp\":{\"roles\":\"tools:call tools:list\"}}", 0, "",
	       "tools:call", "tools:list");
	GROUPS("realm_access.roles", "\"realm_access\":[{\"roles\":[\"admin\"]}]", 0, "");
	GROUPS("realm_access..roles", "\"realm_access\":{\"roles\":[\"admin\"]}", 0, "");
	/* A claim whose name has dots wins over the path. */
	GROUPS("https://x.example/roles", "\"https://x.example/roles\":[\"r1\"]", 0, "", "r1");
	GROUPS("a.b", "\"a.b\":[\"flat\"],\"a\":{\"b\":[\"nested\"]}", 0, "", "flat");
	/* Malformed groups refuse the token. */
	GROUPS("groups", "\"groups\":[\"a\",1]", -EBADMSG, "");
	GROUPS("groups", "\"groups\":{\"a\":1}", -EBADMSG, "");
	GROUPS("groups", "\"groups\":true", -EBADMSG, "");
	memset(big, 0, sizeof(big));
	strcpy(big, "\"groups\":\"");
	for (int i = 0; i <= MW_JWT_MAX_GROUPS; i++)
		strcat(big, "g ");
	strcat(big, "\"");
	GROUPS("groups", big, -EBADMSG, "");
	snprintf(big, sizeof(big), "\"groups\":[\"%0*d\"]", MW_JWT_MAX_GROUP_BYTES + 1, 7);
	GROUPS("groups", big, -EBADMSG, "");
#undef GROUPS
}

static void test_claims_extracted(void **state)
{
	static const char h[] = "{\"alg\":\"ES384\",\"kid\":\"ec384\"}";
	struct mw_jwt_claims *c;
	char *t, big[600];

	t = mint(ec384, "ES384", h,
		 P("\"email\":\"alice@example.com\",\"client_id\":\"cli\",\"azp\":\"other\","
		   "\"scope\":\"openid tools\",\"nbf\":1699999000,\"custom\":{\"tenant\":\"t1\"}"));
	assert_int_equal(verify_with(t, keys, &base, &c), 0);
	assert_string_equal(c->email, "alice@example.com");
	assert_string_equal(c->client_id, "cli");
	assert_string_equal(c->scope, "openid tools");
	assert_int_equal(c->nbf, 1699999000);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(c->payload, "custom"), "tenant")),
	    "t1");
	jwt_claims_free(c);
	free(t);
	/* azp and scp stand in for client_id and scope. */
	t = mint(ec384, "ES384", h, P("\"azp\":\"app\",\"scp\":[\"a\",\"b\",\"c\"]"));
	assert_int_equal(verify_with(t, keys, &base, &c), 0);
	assert_string_equal(c->client_id, "app");
	assert_string_equal(c->scope, "a b c");
	assert_string_equal(c->email, "");
	jwt_claims_free(c);
	free(t);
	/* Too long for its field: refused, never cut. */
	snprintf(big, sizeof(big), "\"email\":\"%0256d\"", 1);
	expect_mint(-EBADMSG, ec384, "ES384", h, P(big));
	snprintf(big, sizeof(big), "\"sub\":\"%0256d\"", 1);
	expect_mint(
	    -EBADMSG, ec384, "ES384", "{\"alg\":\"ES384\",\"kid\":\"ec384\"}",
	    "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1700000100,"
	    "\"sub\":"
	    "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxx\"}");
	expect_mint(-EBADMSG, ec384, "ES384", h, P("\"email\":7"));
	expect_mint(-EBADMSG, ec384, "ES384", h, P("\"scp\":[\"a\",2]"));
	expect_mint(-EBADMSG, ec384, "ES384", h, P("\"client_id\":[\"a\"]"));
}

static void test_limits_and_arguments(void **state)
{
	struct mw_jwt_expect x = base;
	struct mw_jwt_claims *c = NULL;
	char *t, *pad = malloc(MW_JWT_MAX_TOKEN_BYTES);
	char extra[MW_JWT_MAX_TOKEN_BYTES];

	/* Just under and just over 16 KiB. */
	memset(pad, 'p', MW_JWT_MAX_TOKEN_BYTES - 1);
	pad[MW_JWT_MAX_TOKEN_BYTES - 1] = 0;
	snprintf(extra, sizeof(extra), "\"pad\":\"%.*s\"", 11500, pad);
	t = mint(ed, "EdDSA", "{\"alg\":\"EdDSA\",\"kid\":\"ed\"}", P(extra));
	assert_true(strlen(t) <= MW_JWT_MAX_TOKEN_BYTES);
	expect_verify(0, t, keys, &base);
	free(t);
	snprintf(extra, sizeof(extra), "\"pad\":\"%.*s\"", 12300, pad);
	t = mint(ed, "EdDSA", "{\"alg\":\"EdDSA\",\"kid\":\"ed\"}", P(extra));
	assert_true(strlen(t) > MW_JWT_MAX_TOKEN_BYTES);
	expect_verify(-EBADMSG, t, keys, &base);
	free(t);
	free(pad);

	t = mint(ed, "EdDSA", "{\"alg\":\"EdDSA\",\"kid\":\"ed\"}", P(""));
	assert_int_equal(jwt_verify(NULL, 0, keys, &x, &c, NULL, 0), -EINVAL);
	assert_int_equal(jwt_verify(t, strlen(t), NULL, &x, &c, NULL, 0), -EINVAL);
	assert_int_equal(jwt_verify(t, strlen(t), keys, NULL, &c, NULL, 0), -EINVAL);
	assert_int_equal(jwt_verify(t, strlen(t), keys, &x, NULL, NULL, 0), -EINVAL);
	x.issuer = NULL;
	assert_int_equal(jwt_verify(t, strlen(t), keys, &x, &c, NULL, 0), -EINVAL);
	x = base;
	x.audience = "";
	assert_int_equal(jwt_verify(t, strlen(t), keys, &x, &c, NULL, 0), -EINVAL);
	x = base;
	x.now_sec = 0;
	assert_int_equal(jwt_verify(t, strlen(t), keys, &x, &c, NULL, 0), -EINVAL);
	assert_null(c);
	/* The length is honoured: a token followed by garbage in the buffer. */
	assert_int_equal(jwt_verify(t, strlen(t) - 1, keys, &base, &c, NULL, 0), -EBADMSG);
	assert_int_equal(jwt_verify(t, strlen(t), keys, &base, &c, NULL, 0), 0);
	c = jwt_claims_free(c);
	assert_null(c);
	free(t);
	assert_int_equal(jwt_alg_from_string("none"), -1);
	assert_int_equal(jwt_alg_from_string("HS256"), -1);
	assert_int_equal(jwt_alg_from_string("EdDSA"), MW_JWT_EDDSA);
	assert_string_equal(jwt_alg_to_string(MW_JWT_PS384), "PS384");
}

/* jwt_peek_issuer(): the unverified iss, for choosing an issuer only. */
static void test_peek_issuer(void **state)
{
	char buf[64], small[8], *t, *h, *p, *in;

	/* Any signature, or none at all: nothing is verified. */
	t = mint(evil, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa\"}", P(""));
	assert_int_equal(jwt_peek_issuer(t, strlen(t), buf, sizeof(buf)), 0);
	assert_string_equal(buf, ISS);
	strcpy(small, "intact");
	assert_int_equal(jwt_peek_issuer(t, strlen(t), small, sizeof(small)), -ENOBUFS);
	assert_string_equal(small, "intact"); /* written only on success */
	assert_int_equal(jwt_peek_issuer(t, strlen(t), buf, strlen(ISS) + 1), 0);
	assert_int_equal(jwt_peek_issuer(t, strlen(t), buf, strlen(ISS)), -ENOBUFS);
	free(t);
	h = b64url("{\"alg\":\"none\"}", strlen("{\"alg\":\"none\"}"));
	p = b64url("{\"iss\":\"x\"}", 11);
	in = cat(h, ".", p);
	t = cat(in, ".", "");
	assert_int_equal(jwt_peek_issuer(t, strlen(t), buf, sizeof(buf)), 0);
	assert_string_equal(buf, "x");
	free(t);
	free(in);
	free(p);

#define PEEK(want, payload)                                                                        \
	do {                                                                                       \
		p = b64url((payload), strlen(payload));                                            \
		in = cat(h, ".", p);                                                               \
		t = cat(in, ".", "sig");                                                           \
		assert_int_equal(jwt_peek_issuer(t, strlen(t), buf, sizeof(buf)), (want));         \
		free(t);                                                                           \
		free(in);                                                                          \
		free(p);                                                                           \
	} while (0)
	PEEK(-EBADMSG, "{\"aud\":\"x\"}");
	PEEK(-EBADMSG, "{\"iss\":7}");
	PEEK(-EBADMSG, "{\"iss\":\"a\\u0000b\"}");
	PEEK(-EBADMSG, "{\"iss\":\"a\",\"iss\":\"b\"}");
	PEEK(-EBADMSG, "[\"iss\"]");
	PEEK(-EBADMSG, "not json");
	PEEK(-EBADMSG, "{\"a\":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]],\"iss\":\"x\"}");
#undef PEEK
	free(h);
	assert_int_equal(jwt_peek_issuer("a.b.c", 5, buf, sizeof(buf)), -EBADMSG);
	assert_int_equal(jwt_peek_issuer("abc", 3, buf, sizeof(buf)), -EBADMSG);
	assert_int_equal(jwt_peek_issuer("a.b", 3, buf, sizeof(buf)), -EBADMSG);
	assert_int_equal(jwt_peek_issuer("", 0, buf, sizeof(buf)), -EBADMSG);
	assert_int_equal(jwt_peek_issuer(NULL, 0, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(jwt_peek_issuer("a.b.c", 5, NULL, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7520_rs256),
		cmocka_unit_test(test_rfc7520_ps384),
		cmocka_unit_test(test_rfc7520_hmac_refused),
		cmocka_unit_test(test_rfc8037_ed25519),
		cmocka_unit_test(test_all_algorithms),
		cmocka_unit_test(test_alg_none),
		cmocka_unit_test(test_hmac_with_public_key),
		cmocka_unit_test(test_alg_switching),
		cmocka_unit_test(test_kid_tricks),
		cmocka_unit_test(test_embedded_keys_ignored),
		cmocka_unit_test(test_ecdsa_psychic_signatures),
		cmocka_unit_test(test_signature_sizes),
		cmocka_unit_test(test_base64url_strict),
		cmocka_unit_test(test_json_strict),
		cmocka_unit_test(test_time_claims),
		cmocka_unit_test(test_iss_aud_typ),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_claims_extracted),
		cmocka_unit_test(test_limits_and_arguments),
		cmocka_unit_test(test_peek_issuer),
	};

	return cmocka_run_group_tests_name("jwt", tests, setup, teardown);
}
