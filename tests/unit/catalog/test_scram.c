/* catalog/scram.c: the RFC 7677 test vector through the server's two steps
 * (and the client helper), verifier format and parsing, strict base64,
 * the mock exchange, channel binding (PLUS, downgrade, mismatch) and
 * malformed messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "scram.h"

/* RFC 7677 section 3. */
#define V_CLIENT_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define V_SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define V_SERVER_FIRST "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define V_FINAL_NOPROOF "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define V_CLIENT_FINAL V_FINAL_NOPROOF ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define V_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static const uint8_t mock_key[32] = { 1, 2, 3 };

static void vector_verifier(char *out, size_t size)
{
	uint8_t salt[16];
	struct err e;

	assert_int_equal(cat_b64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, salt, sizeof(salt)), 16);
	assert_int_equal(cat_scram_verifier_make("pencil", 6, 4096, salt, 16, out, size, &e), 0);
}

static enum cat_scram_step step(struct cat_scram *s, const char *mech, const char *msg,
				char *out, struct err *e)
{
	size_t n;

	return cat_scram_step(s, mech, (const uint8_t *)msg, strlen(msg), out, 4200, &n, e);
}

static void test_rfc7677_vector(void **state)
{
	char v[CAT_SCRAM_VERIFIER_MAX], out[4200];
	struct cat_scram s;
	struct err e;

	(void)state;
	vector_verifier(v, sizeof(v));
	cat_scram_begin(&s, v, "user", mock_key, NULL, 0);
	cat_scram_set_nonce(&s, V_SNONCE);
	assert_int_equal(step(&s, CAT_SCRAM_MECH, V_CLIENT_FIRST, out, &e), CAT_SCRAM_NEXT);
	assert_string_equal(out, V_SERVER_FIRST);
	assert_int_equal(step(&s, NULL, V_CLIENT_FINAL, out, &e), CAT_SCRAM_SUCCESS);
	assert_string_equal(out, V_SERVER_FINAL);
	cat_scram_end(&s);
}

static void test_client_helper_matches_vector(void **state)
{
	char out[1024];
	uint8_t sig[32];
	char sig64[64];

	(void)state;
	assert_int_equal(cat_scram_client_final("pencil", "n=user,r=rOprNGfwEbeRWgbNEkqO",
						V_SERVER_FIRST, V_FINAL_NOPROOF, out, sizeof(out),
						sig), 0);
	assert_string_equal(out, V_CLIENT_FINAL);
	cat_b64_encode(sig, 32, sig64, sizeof(sig64));
	assert_string_equal(sig64, V_SERVER_FINAL + 2);
}

static void test_wrong_proof_fails(void **state)
{
	char v[CAT_SCRAM_VERIFIER_MAX], out[4200];
	struct cat_scram s;
	struct err e;

	(void)state;
	vector_verifier(v, sizeof(v));
	cat_scram_begin(&s, v, "user", mock_key, NULL, 0);
	cat_scram_set_nonce(&s, V_SNONCE);
	assert_int_equal(step(&s, CAT_SCRAM_MECH, V_CLIENT_FIRST, out, &e), CAT_SCRAM_NEXT);
	assert_int_equal(step(&s, NULL, V_FINAL_NOPROOF ",p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
			      out, &e), CAT_SCRAM_FAILED);
	/* A third message is a protocol error. */
	assert_int_equal(step(&s, NULL, V_CLIENT_FINAL, out, &e), CAT_SCRAM_ERROR);
	cat_scram_end(&s);
}

static void test_mock_exchange_fails_and_salt_is_stable(void **state)
{
	char out1[4200], out2[4200];
	struct cat_scram s;
	struct err e;

	(void)state;
	cat_scram_begin(&s, NULL, "nobody", mock_key, NULL, 0);
	cat_scram_set_nonce(&s, V_SNONCE);
	assert_int_equal(step(&s, CAT_SCRAM_MECH, V_CLIENT_FIRST, out1, &e), CAT_SCRAM_NEXT);
	assert_non_null(strstr(out1, ",i=4096"));
	assert_int_equal(step(&s, NULL, V_CLIENT_FINAL, out2, &e), CAT_SCRAM_FAILED);
	cat_scram_end(&s);
	/* Same user, same salt; a malformed verifier is a mock too. */
	cat_scram_begin(&s, "SCRAM-SHA-256$garbage", "nobody", mock_key, NULL, 0);
	cat_scram_set_nonce(&s, V_SNONCE);
	assert_int_equal(step(&s, CAT_SCRAM_MECH, V_CLIENT_FIRST, out2, &e), CAT_SCRAM_NEXT);
	assert_string_equal(out1, out2);
	assert_true(s.doomed);
	cat_scram_end(&s);
}

static void test_verifier_format_and_parse(void **state)
{
	char v[CAT_SCRAM_VERIFIER_MAX], v2[CAT_SCRAM_VERIFIER_MAX];
	struct cat_scram_verifier pv;
	struct err e;

	(void)state;
	vector_verifier(v, sizeof(v));
	assert_int_equal(strncmp(v, "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$", 44), 0);
	assert_null(strstr(v, "pencil"));
	assert_int_equal(cat_scram_verifier_parse(v, &pv), 0);
	assert_int_equal(pv.iterations, 4096);
	assert_int_equal(pv.salt_len, 16);
	/* Random salts differ. */
	assert_int_equal(cat_scram_verifier_make("pencil", 6, CAT_SCRAM_ITERATIONS, NULL, 0, v,
						 sizeof(v), &e), 0);
	assert_int_equal(cat_scram_verifier_make("pencil", 6, CAT_SCRAM_ITERATIONS, NULL, 0, v2,
						 sizeof(v2), &e), 0);
	assert_string_not_equal(v, v2);
	assert_int_equal(cat_scram_verifier_parse(v, NULL), 0);
	static const char *const bad[] = {
		"", "pencil", "md5abcdef", "SCRAM-SHA-256$", "SCRAM-SHA-256$0:AAAA$AAAA:AAAA",
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$abc:def",
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==",
		"SCRAM-SHA-256$-1:W22ZaJ0SNY7soEsUEjb6gQ==$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"SCRAM-SHA-256$4096:$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cat_scram_verifier_parse(bad[i], NULL), -1);
	assert_int_equal(cat_scram_verifier_parse(
		"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		NULL), 0);
}

static void test_base64_strict(void **state)
{
	uint8_t b[16];
	char s[16];

	(void)state;
	assert_int_equal(cat_b64_decode("Zm9v", 4, b, sizeof(b)), 3);
	assert_int_equal(cat_b64_decode("Zm8=", 4, b, sizeof(b)), 2);
	assert_int_equal(cat_b64_decode("Zg==", 4, b, sizeof(b)), 1);
	assert_int_equal(cat_b64_decode("Zh==", 4, b, sizeof(b)), -1);   /* stray bits */
	assert_int_equal(cat_b64_decode("Zm9", 3, b, sizeof(b)), -1);
	assert_int_equal(cat_b64_decode("Z=9v", 4, b, sizeof(b)), -1);
	assert_int_equal(cat_b64_decode("Zm 9", 4, b, sizeof(b)), -1);
	assert_int_equal(cat_b64_decode("AB=C", 4, b, sizeof(b)), -1);
	assert_int_equal(cat_b64_encode((const uint8_t *)"fo", 2, s, sizeof(s)), 4);
	assert_string_equal(s, "Zm8=");
}

static void test_channel_binding(void **state)
{
	const uint8_t cb[32] = { 9, 8, 7 };
	uint8_t hdr[64];
	char out[4200], msg[512], c64[128], final[1024];
	char v[CAT_SCRAM_VERIFIER_MAX];
	const char *mechs[2];
	uint8_t sig[32];
	struct cat_scram s;
	struct err e;

	(void)state;
	vector_verifier(v, sizeof(v));
	/* PLUS offered and used: c= carries the header and the hash. */
	cat_scram_begin(&s, v, "user", mock_key, cb, sizeof(cb));
	assert_int_equal(cat_scram_mechanisms(&s, mechs), 2);
	assert_string_equal(mechs[0], CAT_SCRAM_MECH_PLUS);
	assert_int_equal(step(&s, CAT_SCRAM_MECH_PLUS, "p=tls-server-end-point,,n=,r=abc", out, &e),
			 CAT_SCRAM_NEXT);
	memcpy(hdr, "p=tls-server-end-point,,", 24);
	memcpy(hdr + 24, cb, sizeof(cb));
	cat_b64_encode(hdr, 24 + sizeof(cb), c64, sizeof(c64));
	snprintf(msg, sizeof(msg), "c=%s,%.*s", c64, (int)(strchr(out, ',') - out), out);
	assert_int_equal(cat_scram_client_final("pencil", "n=,r=abc", out, msg, final,
						sizeof(final), sig), 0);
	assert_int_equal(step(&s, NULL, final, out, &e), CAT_SCRAM_SUCCESS);
	cat_scram_end(&s);

	/* A different hash: 28000. */
	cat_scram_begin(&s, v, "user", mock_key, cb, sizeof(cb));
	assert_int_equal(step(&s, CAT_SCRAM_MECH_PLUS, "p=tls-server-end-point,,n=,r=abc", out, &e),
			 CAT_SCRAM_NEXT);
	hdr[30] ^= 1;
	cat_b64_encode(hdr, 24 + sizeof(cb), c64, sizeof(c64));
	snprintf(msg, sizeof(msg), "c=%s,%.*s", c64, (int)(strchr(out, ',') - out), out);
	assert_int_equal(cat_scram_client_final("pencil", "n=,r=abc", out, msg, final,
						sizeof(final), sig), 0);
	assert_int_equal(step(&s, NULL, final, out, &e), CAT_SCRAM_ERROR);
	assert_string_equal(e.sqlstate, "28000");
	cat_scram_end(&s);

	/* 'y' while the server can bind: downgrade refused. */
	cat_scram_begin(&s, v, "user", mock_key, cb, sizeof(cb));
	assert_int_equal(step(&s, CAT_SCRAM_MECH, "y,,n=,r=abc", out, &e), CAT_SCRAM_ERROR);
	assert_non_null(strstr(e.message, "channel binding negotiation"));
	cat_scram_end(&s);
	/* Without TLS: no PLUS, and 'y' is fine. */
	cat_scram_begin(&s, v, "user", mock_key, NULL, 0);
	assert_int_equal(cat_scram_mechanisms(&s, mechs), 1);
	assert_int_equal(step(&s, CAT_SCRAM_MECH_PLUS, "p=tls-server-end-point,,n=,r=abc", out, &e),
			 CAT_SCRAM_ERROR);
	cat_scram_end(&s);
	cat_scram_begin(&s, v, "user", mock_key, NULL, 0);
	assert_int_equal(step(&s, CAT_SCRAM_MECH, "y,,n=,r=abc", out, &e), CAT_SCRAM_NEXT);
	cat_scram_end(&s);
}

static void test_malformed_first_messages(void **state)
{
	static const char *const bad[] = {
		"", "n", "x,,n=,r=abc", "n,a=bob,n=,r=abc", "n,,r=abc", "n,,n=,r=",
		"n,,n=,r=a,b", "n,,m=ext,n=,r=abc", "p=tls-unique,,n=,r=abc",
	};
	char out[4200];
	struct cat_scram s;
	struct err e;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cat_scram_begin(&s, NULL, "u", mock_key, NULL, 0);
		assert_int_equal(step(&s, CAT_SCRAM_MECH, bad[i], out, &e), CAT_SCRAM_ERROR);
		cat_scram_end(&s);
	}
	cat_scram_begin(&s, NULL, "u", mock_key, NULL, 0);
	assert_int_equal(step(&s, "PLAIN", "n,,n=,r=abc", out, &e), CAT_SCRAM_ERROR);
	cat_scram_end(&s);
}

static void test_final_nonce_mismatch(void **state)
{
	char v[CAT_SCRAM_VERIFIER_MAX], out[4200];
	struct cat_scram s;
	struct err e;

	(void)state;
	vector_verifier(v, sizeof(v));
	cat_scram_begin(&s, v, "user", mock_key, NULL, 0);
	cat_scram_set_nonce(&s, V_SNONCE);
	assert_int_equal(step(&s, CAT_SCRAM_MECH, V_CLIENT_FIRST, out, &e), CAT_SCRAM_NEXT);
	assert_int_equal(step(&s, NULL, "c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			      out, &e), CAT_SCRAM_ERROR);
	cat_scram_end(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7677_vector),
		cmocka_unit_test(test_client_helper_matches_vector),
		cmocka_unit_test(test_wrong_proof_fails),
		cmocka_unit_test(test_mock_exchange_fails_and_salt_is_stable),
		cmocka_unit_test(test_verifier_format_and_parse),
		cmocka_unit_test(test_base64_strict),
		cmocka_unit_test(test_channel_binding),
		cmocka_unit_test(test_malformed_first_messages),
		cmocka_unit_test(test_final_nonce_mismatch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
