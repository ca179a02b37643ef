/* cmocka tests of proto/config.c: the tether.conf grammar (comments, blank
 * lines, quotes), every key's value checks and canonical forms, defaults,
 * --set overrides, and FILE:LINE in every error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

static struct tcfg cfg;

static int load(const char *text, struct err *e)
{
	tcfg_init(&cfg);
	err_clear(e);
	return tcfg_load_text(&cfg, "t.conf", text, strlen(text), e);
}

static void expect_load_error(const char *text, const char *message)
{
	struct err e;

	assert_int_equal(load(text, &e), -1);
	assert_string_equal(e.sqlstate, "F0000");
	if (strcmp(e.message, message) != 0) {
		print_error("for [%s]\n  want: %s\n  got:  %s\n", text, message, e.message);
		fail();
	}
}

static void want_value(const char *text, enum tcfg_key k, const char *value)
{
	struct err e;

	if (load(text, &e) != 0) {
		print_error("for [%s]: %s\n", text, e.message);
		fail();
	}
	assert_true(cfg.set[k]);
	assert_string_equal(tcfg_get(&cfg, k), value);
}

static void test_config_defaults_apply_when_unset(void **state)
{
	struct err e;

	(void)state;
	assert_int_equal(load("", &e), 0);
	assert_string_equal(tcfg_get(&cfg, TCFG_REGION), "us-east-1");
	assert_string_equal(tcfg_get(&cfg, TCFG_LOG_LEVEL), "info");
	assert_null(tcfg_get(&cfg, TCFG_AWS_ROLE_ARN));
	assert_null(tcfg_get(&cfg, TCFG_PL_ACCOUNT));
	assert_null(tcfg_get(&cfg, TCFG_PL_AZS));
	/* unset: the catalog uses https://sts.<deployment.region>.amazonaws.com */
	assert_null(tcfg_get(&cfg, TCFG_AWS_STS_ENDPOINT));
	assert_null(tcfg_get(&cfg, TCFG_INSTANCE_ID));
	assert_null(tcfg_get(&cfg, TCFG_DATA_DIR));
	assert_int_equal(tcfg_get_long(&cfg, TCFG_VALIDATION_TIMEOUT), 30000);
	assert_int_equal(tcfg_get_long(&cfg, TCFG_VALIDATION_CONNECT_TIMEOUT), 10000);
	assert_false(tcfg_get_bool(&cfg, TCFG_VALIDATION_DENY_PRIVATE));
	assert_int_equal(tcfg_get_long(&cfg, TCFG_MAX_SECRET_SIZE), 524288);
	for (int k = 0; k < TCFG_NKEYS; k++)
		assert_false(cfg.set[k]);
}

static void test_config_comments_blank_lines_and_quotes(void **state)
{
	struct err e;
	const char *text =
		"# tether.conf\n"
		"\n"
		"   \t\n"
		"data_dir = \"/var/lib/tether # not a comment\"   # a comment\n"
		"log_level=debug\r\n"
		"  deployment.region   =   eu-west-1   # trailing comment\n"
		"aws.connection_role_arn = 'arn:aws:iam::123456789012:role/T'\n"
		"aws.privatelink_availability_zones = use1-az1 ,use1-az4,  use1-az6\n"
		"validation.deny_private_addresses = yes";     /* no final newline */

	(void)state;
	assert_int_equal(load(text, &e), 0);
	assert_string_equal(tcfg_get(&cfg, TCFG_DATA_DIR), "/var/lib/tether # not a comment");
	assert_string_equal(tcfg_get(&cfg, TCFG_LOG_LEVEL), "debug");
	assert_string_equal(tcfg_get(&cfg, TCFG_REGION), "eu-west-1");
	assert_string_equal(tcfg_get(&cfg, TCFG_AWS_ROLE_ARN), "arn:aws:iam::123456789012:role/T");
	assert_string_equal(tcfg_get(&cfg, TCFG_PL_AZS), "use1-az1,use1-az4,use1-az6");
	assert_true(tcfg_get_bool(&cfg, TCFG_VALIDATION_DENY_PRIVATE));
	assert_string_equal(cfg.where[TCFG_REGION], "t.conf:6");
	assert_string_equal(cfg.where[TCFG_PL_AZS], "t.conf:8");
}

static void test_config_double_quotes_take_two_escapes(void **state)
{
	(void)state;
	want_value("data_dir = \"/a \\\"b\\\" \\\\c\"\n", TCFG_DATA_DIR, "/a \"b\" \\c");
	want_value("data_dir = '/a \\n'\n", TCFG_DATA_DIR, "/a \\n");
	expect_load_error("data_dir = \"/a\\n\"\n",
			  "t.conf:1: unknown escape in quoted value (only \\\" and \\\\)");
	expect_load_error("data_dir = \"/a\n", "t.conf:1: unterminated quoted value");
	expect_load_error("data_dir = '/a' x\n",
			  "t.conf:1: unexpected text after the quoted value of 'data_dir'");
}

static void test_config_unknown_key_names_file_and_line(void **state)
{
	(void)state;
	expect_load_error("# c\nlog_level = info\nmax_widgets = 3\n",
			  "t.conf:3: unknown key 'max_widgets'");
	expect_load_error("Log_Level = info\n",
			  "t.conf:1: expected a key (lower-case letters, digits, _ and .)");
	expect_load_error("log_level info\n", "t.conf:1: expected '=' after key 'log_level'");
	expect_load_error("log_level =\n",
			  "t.conf:1: missing value for 'log_level' (leave the key out for its default)");
	expect_load_error("log_level = # nothing\n",
			  "t.conf:1: missing value for 'log_level' (leave the key out for its default)");
	expect_load_error("log_level = info\nlog_level = warn\n",
			  "t.conf:2: key 'log_level' given twice (first on line 1)");
	expect_load_error("= x\n", "t.conf:1: expected a key (lower-case letters, digits, _ and .)");
}

static void test_config_bad_values_name_the_key(void **state)
{
	(void)state;
	expect_load_error("log_level = loud\n",
			  "t.conf:1: invalid value for log_level: must be debug, info, warn or error");
	expect_load_error("validation.timeout_ms = 0\n",
			  "t.conf:1: invalid value for validation.timeout_ms: must be an integer from 1 to 3600000");
	expect_load_error("validation.timeout_ms = 10s\n",
			  "t.conf:1: invalid value for validation.timeout_ms: must be an integer from 1 to 3600000");
	expect_load_error("validation.connect_timeout_ms = -5\n",
			  "t.conf:1: invalid value for validation.connect_timeout_ms: must be an integer from 1 to 600000");
	expect_load_error("limits.max_secret_size = 524289\n",
			  "t.conf:1: invalid value for limits.max_secret_size: must be an integer from 1 to 524288");
	expect_load_error("validation.deny_private_addresses = maybe\n",
			  "t.conf:1: invalid value for validation.deny_private_addresses: must be true or false");
	expect_load_error("deployment.instance_id = 1234\n",
			  "t.conf:1: invalid value for deployment.instance_id: must be a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, hex digits)");
	expect_load_error("deployment.region = US East\n",
			  "t.conf:1: invalid value for deployment.region: must be an AWS region name such as us-east-1");
	expect_load_error("aws.privatelink_account_id = 12345\n",
			  "t.conf:1: invalid value for aws.privatelink_account_id: must be a 12-digit AWS account id");
	expect_load_error("aws.connection_role_arn = arn:aws:iam::123:role/T\n",
			  "t.conf:1: invalid value for aws.connection_role_arn: must be an IAM role ARN such as arn:aws:iam::123456789012:role/Name");
	expect_load_error("aws.connection_role_arn = arn:aws:iam::123456789012:user/T\n",
			  "t.conf:1: invalid value for aws.connection_role_arn: must be an IAM role ARN such as arn:aws:iam::123456789012:role/Name");
	expect_load_error("aws.privatelink_availability_zones = us-east-1a\n",
			  "t.conf:1: invalid value for aws.privatelink_availability_zones: must be a comma-separated list of availability zone ids such as use1-az1");
	expect_load_error("aws.privatelink_availability_zones = use1-az1,,use1-az2\n",
			  "t.conf:1: invalid value for aws.privatelink_availability_zones: must be a comma-separated list of availability zone ids such as use1-az1");
	expect_load_error("aws.privatelink_availability_zones = use1-az1, use1-az1\n",
			  "t.conf:1: invalid value for aws.privatelink_availability_zones: lists an availability zone id twice");
	expect_load_error("data_dir = \"\"\n", "t.conf:1: invalid value for data_dir: must not be empty");
	expect_load_error("aws.principal_credentials_secret = tether_aws\n",
			  "t.conf:1: invalid value for aws.principal_credentials_secret: must be a qualified secret name such as materialize.public.tether_aws");
	expect_load_error("aws.principal_credentials_secret = materialize.public.Tether\n",
			  "t.conf:1: invalid value for aws.principal_credentials_secret: must be a qualified secret name such as materialize.public.tether_aws");
	expect_load_error("aws.principal_credentials_secret = a.b.c.d\n",
			  "t.conf:1: invalid value for aws.principal_credentials_secret: must be a qualified secret name such as materialize.public.tether_aws");
	/* aws.sts_endpoint: https, or plain http to loopback only (tether's
	 * credentials sign these requests). */
	static const char *const bad_sts[] = {
		"http://sts.us-east-1.amazonaws.com", "http://10.0.0.1:4566/", "http://127.0.0.1.evil.example/",
		"ftp://127.0.0.1/", "sts.us-east-1.amazonaws.com", "https://user:pw@sts.example/",
		"https://sts.example/?x=1", "https://sts.example/#f", "https://sts.example:0/",
		"https://sts.example:99999/", "https://STS.example/", "https://[::2/", "https://",
		"http://[::2]:80/",
	};
	for (size_t i = 0; i < sizeof(bad_sts) / sizeof(bad_sts[0]); i++) {
		char text[200];
		snprintf(text, sizeof(text), "aws.sts_endpoint = '%s'\n", bad_sts[i]);
		expect_load_error(text, "t.conf:1: invalid value for aws.sts_endpoint: must be an "
				  "https:// URL (http:// only for a loopback address), without user "
				  "information, query or fragment");
	}
}

static void test_config_values_are_canonical(void **state)
{
	(void)state;
	want_value("deployment.instance_id = 0A1B2C3D-0000-4000-8000-00000000ABCD\n",
		     TCFG_INSTANCE_ID, "0a1b2c3d-0000-4000-8000-00000000abcd");
	want_value("validation.timeout_ms = 0005000\n", TCFG_VALIDATION_TIMEOUT, "5000");
	want_value("validation.deny_private_addresses = off\n",
		     TCFG_VALIDATION_DENY_PRIVATE, "false");
	want_value("aws.connection_role_arn = arn:aws-us-gov:iam::123456789012:role/path/Tether+x@y\n",
		     TCFG_AWS_ROLE_ARN, "arn:aws-us-gov:iam::123456789012:role/path/Tether+x@y");
	want_value("aws.privatelink_account_id = 000000000000\n", TCFG_PL_ACCOUNT, "000000000000");
	want_value("limits.max_secret_size = 1\n", TCFG_MAX_SECRET_SIZE, "1");
	want_value("aws.principal_credentials_secret = materialize.public.tether_aws\n",
		   TCFG_AWS_PRINCIPAL_CREDS, "materialize.public.tether_aws");
	want_value("aws.sts_endpoint = https://sts.eu-west-1.amazonaws.com\n",
		   TCFG_AWS_STS_ENDPOINT, "https://sts.eu-west-1.amazonaws.com");
	want_value("aws.sts_endpoint = https://[2001:db8::1]:8443/sts\n",
		   TCFG_AWS_STS_ENDPOINT, "https://[2001:db8::1]:8443/sts");
	want_value("aws.sts_endpoint = http://127.0.0.1:4566/\n", TCFG_AWS_STS_ENDPOINT,
		   "http://127.0.0.1:4566/");
	want_value("aws.sts_endpoint = http://[::1]:4566\n", TCFG_AWS_STS_ENDPOINT,
		   "http://[::1]:4566");
	want_value("aws.sts_endpoint = http://localhost:4566\n", TCFG_AWS_STS_ENDPOINT,
		   "http://localhost:4566");
}

static void test_config_set_arg_overrides_file(void **state)
{
	struct err e;

	(void)state;
	assert_int_equal(load("deployment.region = eu-west-1\n", &e), 0);
	assert_int_equal(tcfg_set_arg(&cfg, "deployment.region=ap-south-1", &e), 0);
	assert_string_equal(tcfg_get(&cfg, TCFG_REGION), "ap-south-1");
	assert_string_equal(cfg.where[TCFG_REGION], "--set");
	/* the value may contain '=' */
	assert_int_equal(tcfg_set_arg(&cfg, "data_dir=/tmp/a=b", &e), 0);
	assert_string_equal(tcfg_get(&cfg, TCFG_DATA_DIR), "/tmp/a=b");
	assert_int_equal(tcfg_set_arg(&cfg, "nope=1", &e), -1);
	assert_string_equal(e.message, "--set: unknown key 'nope'");
	assert_int_equal(tcfg_set_arg(&cfg, "log_level", &e), -1);
	assert_string_equal(e.message, "--set log_level: expected key=value");
	assert_int_equal(tcfg_set_arg(&cfg, "log_level=", &e), -1);
	assert_string_equal(e.message, "--set: invalid value for log_level: must be debug, info, warn or error");
	tcfg_unset(&cfg, TCFG_REGION);
	assert_string_equal(tcfg_get(&cfg, TCFG_REGION), "us-east-1");
}

static void test_config_key_table(void **state)
{
	(void)state;
	for (int k = 0; k < TCFG_NKEYS; k++) {
		assert_non_null(tcfg_name((enum tcfg_key)k));
		assert_int_equal(tcfg_find(tcfg_name((enum tcfg_key)k)), k);
		assert_true(tcfg_users((enum tcfg_key)k) != 0);
	}
	assert_int_equal(tcfg_find("nope"), -1);
	assert_true(tcfg_users(TCFG_AWS_ROLE_ARN) & TCFG_FOR_CATALOG);
	assert_true(tcfg_users(TCFG_AWS_STS_ENDPOINT) & TCFG_FOR_CATALOG);
	assert_false(tcfg_users(TCFG_DATA_DIR) & TCFG_FOR_CATALOG);
}

static void test_config_file_checks(void **state)
{
	char dir[] = "/tmp/tether-config-XXXXXX", path[64];
	struct err e;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/tether.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("deployment.region = us-west-2\nbogus = 1\n", f);
	fclose(f);
	chmod(path, 0600);
	tcfg_init(&cfg);
	assert_int_equal(tcfg_load_file(&cfg, path, &e), -1);
	{
		char want[128];
		snprintf(want, sizeof(want), "%s:2: unknown key 'bogus'", path);
		assert_string_equal(e.message, want);
	}
	f = fopen(path, "w");
	fputs("deployment.region = us-west-2\n", f);
	fclose(f);
	tcfg_init(&cfg);
	assert_int_equal(tcfg_load_file(&cfg, path, &e), 0);
	assert_string_equal(tcfg_get(&cfg, TCFG_REGION), "us-west-2");
	chmod(path, 0602);
	assert_int_equal(tcfg_load_file(&cfg, path, &e), -1);
	assert_non_null(strstr(e.message, "writable by other users"));
	assert_int_equal(tcfg_load_file(&cfg, dir, &e), -1);
	assert_non_null(strstr(e.message, "not a regular file"));
	unlink(path);
	assert_int_equal(tcfg_load_file(&cfg, path, &e), -1);
	assert_non_null(strstr(e.message, "cannot open"));
	rmdir(dir);
	/* a NUL byte is not text */
	tcfg_init(&cfg);
	assert_int_equal(tcfg_load_text(&cfg, "t.conf", "log_level = info\0x", 18, &e), -1);
	assert_string_equal(e.message, "t.conf: file contains a NUL byte");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_defaults_apply_when_unset),
		cmocka_unit_test(test_config_comments_blank_lines_and_quotes),
		cmocka_unit_test(test_config_double_quotes_take_two_escapes),
		cmocka_unit_test(test_config_unknown_key_names_file_and_line),
		cmocka_unit_test(test_config_bad_values_name_the_key),
		cmocka_unit_test(test_config_values_are_canonical),
		cmocka_unit_test(test_config_set_arg_overrides_file),
		cmocka_unit_test(test_config_key_table),
		cmocka_unit_test(test_config_file_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
