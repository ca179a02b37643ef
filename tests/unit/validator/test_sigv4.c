/* validator/sigv4.c against AWS's published SigV4 example for a presigned
 * URL (Amazon S3 API Reference, "Authenticating Requests: Using Query
 * Parameters", the GET examplebucket/test.txt example), plus the token
 * shapes RDS IAM and MSK IAM use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sigv4.h"

static void test_aws_s3_presigned_get_vector(void **state)
{
	(void)state;
	struct sigv4_presign p = {
		.method = "GET", .host = "examplebucket.s3.amazonaws.com", .path = "/test.txt",
		.service = "s3", .region = "us-east-1",
		.access_key_id = "AKIAIOSFODNN7EXAMPLE",
		.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		.amz_date = "20130524T000000Z", .expires = 86400,
		.payload_hash = "UNSIGNED-PAYLOAD",
	};
	char *url = NULL, sig[65];
	size_t len = 0;
	assert_int_equal(sigv4_presign(&p, &url, &len, sig), 0);
	assert_string_equal(sig, "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
	assert_string_equal(url,
		"examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
		"&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
		"&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
		"&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
	assert_int_equal(len, strlen(url));
	sigv4_free(url, len);
}

/* RDS IAM: host:port/?Action=connect&DBUser=..., the parameters sorted in
 * with the X-Amz ones, the session token included in what is signed. */
static void test_rds_token_shape(void **state)
{
	(void)state;
	const char *params[] = { "DBUser", "app user", "Action", "connect" };
	struct sigv4_presign p = {
		.method = "GET", .host = "db.example.com:3306", .path = "/",
		.params = params, .nparams = 2, .service = "rds-db", .region = "eu-west-1",
		.access_key_id = "AKIDEXAMPLE", .secret_access_key = "secret",
		.session_token = "tok/en+=", .amz_date = "20240101T120000Z", .expires = 900,
	};
	char *url = NULL, sig[65], sig2[65];
	size_t len = 0;
	assert_int_equal(sigv4_presign(&p, &url, &len, sig), 0);
	const char *want_prefix =
		"db.example.com:3306/?Action=connect&DBUser=app%20user"
		"&X-Amz-Algorithm=AWS4-HMAC-SHA256"
		"&X-Amz-Credential=AKIDEXAMPLE%2F20240101%2Feu-west-1%2Frds-db%2Faws4_request"
		"&X-Amz-Date=20240101T120000Z&X-Amz-Expires=900"
		"&X-Amz-Security-Token=tok%2Fen%2B%3D&X-Amz-SignedHeaders=host&X-Amz-Signature=";
	assert_int_equal(strncmp(url, want_prefix, strlen(want_prefix)), 0);
	assert_string_equal(url + strlen(want_prefix), sig);
	sigv4_free(url, len);
	/* Another token, another signature. */
	p.session_token = "other";
	assert_int_equal(sigv4_presign(&p, &url, &len, sig2), 0);
	assert_string_not_equal(sig, sig2);
	sigv4_free(url, len);
}

static void test_bad_input(void **state)
{
	(void)state;
	struct sigv4_presign p = {
		.method = "GET", .host = "h", .path = "/", .service = "s", .region = "r",
		.access_key_id = "a", .secret_access_key = "b", .amz_date = "2013-05-24",
	};
	char *url = (char *)"x";
	size_t len = 1;
	assert_int_equal(sigv4_presign(&p, &url, &len, NULL), -1);
	assert_null(url);
	p.amz_date = NULL;
	p.path = "nope";
	assert_int_equal(sigv4_presign(&p, &url, &len, NULL), -1);
	p.path = "/";
	assert_int_equal(sigv4_presign(&p, &url, &len, NULL), 0);    /* now */
	assert_non_null(strstr(url, "X-Amz-Date=2"));
	sigv4_free(url, len);
}

static void test_base64url(void **state)
{
	(void)state;
	size_t n = 0;
	char *b = sigv4_base64url("\xfb\xff\xbf?", 4, &n);
	assert_string_equal(b, "-_-_Pw");     /* "+/+/Pw==" */
	assert_int_equal(n, 6);
	free(b);
	b = sigv4_base64url("", 0, &n);
	assert_string_equal(b, "");
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aws_s3_presigned_get_vector),
		cmocka_unit_test(test_rds_token_shape),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_base64url),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
