/* cmocka tests of supervisor/config_args.c: --config / --set taken out of
 * argv, the file found in the data directory, precedence (command line >
 * --set > file > defaults), and the argv each child gets. */
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

#include "config_args.h"

static struct tcfg cfg;
static struct sup_child_argv ca;
static char dir[] = "/tmp/tether-cfgargs-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/%s", dir, SUP_CONFIG_NAME);
	unlink(path);
	snprintf(path, sizeof(path), "%s/other.conf", dir);
	unlink(path);
	rmdir(dir);
	return 0;
}

static void write_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, 0600);
}

static void remove_file(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

/* Runs the two steps as tetherd does: take, parse the rest, load. */
static int run(char **argv, int argc, struct sup_args *a, struct err *e)
{
	struct sup_config_opts o;

	if (sup_config_take_args(&argc, argv, &o, e) < 0)
		return -1;
	if (sup_args_parse(argc, argv, a, e) < 0)
		return -1;
	return sup_config_load(&o, a, &cfg, e);
}

static void test_take_args_removes_config_options_only(void **state)
{
	char *argv[] = { "tetherd", "--set", "deployment.region=eu-west-1", "-D", "--set",
			 "--config=/etc/t.conf", "--log-level", "warn",
			 "--set=log_level=debug", NULL };
	int argc = 9;
	struct sup_config_opts o;
	struct err e;

	(void)state;
	assert_int_equal(sup_config_take_args(&argc, argv, &o, &e), 0);
	/* "-D --set": --set is -D's value (a directory), not an option */
	assert_int_equal(argc, 5);
	assert_string_equal(argv[1], "-D");
	assert_string_equal(argv[2], "--set");
	assert_string_equal(argv[3], "--log-level");
	assert_string_equal(argv[4], "warn");
	assert_null(argv[5]);
	assert_string_equal(o.config_path, "/etc/t.conf");
	assert_int_equal(o.nsets, 2);
	assert_string_equal(o.sets[0], "deployment.region=eu-west-1");
	assert_string_equal(o.sets[1], "log_level=debug");
	assert_true(o.data_dir_given);
	assert_true(o.log_level_given);
}

static void test_take_args_needs_values(void **state)
{
	char *argv[] = { "tetherd", "--set", NULL };
	char *argv2[] = { "tetherd", "--config=", NULL };
	int argc = 2;
	struct sup_config_opts o;
	struct err e;

	(void)state;
	assert_int_equal(sup_config_take_args(&argc, argv, &o, &e), -1);
	assert_string_equal(e.message, "--set needs a value");
	argc = 2;
	assert_int_equal(sup_config_take_args(&argc, argv2, &o, &e), -1);
	assert_string_equal(e.message, "--config needs a file name");
}

static void test_data_dir_file_is_read_when_present(void **state)
{
	char *argv[] = { "tetherd", "--data-dir", dir, NULL };
	struct sup_args a;
	struct err e;

	(void)state;
	assert_int_equal(run(argv, 3, &a, &e), 0);
	assert_false(cfg.set[TCFG_AWS_ROLE_ARN]);
	write_file(SUP_CONFIG_NAME, "aws.connection_role_arn = arn:aws:iam::123456789012:role/T\n"
				    "log_level = warn\n");
	assert_int_equal(run(argv, 3, &a, &e), 0);
	assert_string_equal(tcfg_get(&cfg, TCFG_AWS_ROLE_ARN), "arn:aws:iam::123456789012:role/T");
	assert_int_equal(a.log_level, LOG_WARN);
	remove_file(SUP_CONFIG_NAME);
}

static void test_bad_file_stops_with_file_and_line(void **state)
{
	char *argv[] = { "tetherd", "--data-dir", dir, NULL };
	struct sup_args a;
	struct err e;
	char want[160];

	(void)state;
	write_file(SUP_CONFIG_NAME, "# x\nvalidation.timeout_ms = soon\n");
	assert_int_equal(run(argv, 3, &a, &e), -1);
	snprintf(want, sizeof(want),
		 "%s/%s:2: invalid value for validation.timeout_ms: must be an integer from 1 to 3600000",
		 dir, SUP_CONFIG_NAME);
	assert_string_equal(e.message, want);
	remove_file(SUP_CONFIG_NAME);
}

static void test_precedence_command_line_set_file(void **state)
{
	char conf[128];
	char *argv[] = { "tetherd", "--config", conf, "--set", "deployment.region=ap-south-1",
			 "--log-level", "error", NULL };
	char *argv2[] = { "tetherd", "--config", conf, NULL };
	struct sup_args a;
	struct err e;

	(void)state;
	snprintf(conf, sizeof(conf), "%s/other.conf", dir);
	write_file("other.conf", "data_dir = /srv/tether\n"
				 "deployment.region = eu-west-1\n"
				 "log_level = debug\n");
	assert_int_equal(run(argv, 7, &a, &e), 0);
	assert_string_equal(a.data_dir, "/srv/tether");        /* from the file */
	assert_string_equal(tcfg_get(&cfg, TCFG_REGION), "ap-south-1");   /* --set */
	assert_int_equal(a.log_level, LOG_ERROR);                /* command line */
	assert_string_equal(tcfg_get(&cfg, TCFG_LOG_LEVEL), "error");     /* for children */
	assert_int_equal(run(argv2, 3, &a, &e), 0);
	assert_int_equal(a.log_level, LOG_DEBUG);
	remove_file("other.conf");
	/* --config names a file that must exist (argv was compacted: again) */
	argv2[1] = "--config";
	argv2[2] = conf;
	assert_int_equal(run(argv2, 3, &a, &e), -1);
	assert_non_null(strstr(e.message, "cannot open"));
}

static void test_set_errors_come_first(void **state)
{
	char *argv[] = { "tetherd", "--data-dir", dir, "--set", "bogus=1", NULL };
	struct sup_args a;
	struct err e;

	(void)state;
	assert_int_equal(run(argv, 5, &a, &e), -1);
	assert_string_equal(e.message, "--set: unknown key 'bogus'");
}

static void test_data_dir_in_data_dir_file_must_match(void **state)
{
	char *argv[] = { "tetherd", "--data-dir", dir, NULL };
	char text[160];
	struct sup_args a;
	struct err e;

	(void)state;
	snprintf(text, sizeof(text), "data_dir = %s/.\n", dir);
	write_file(SUP_CONFIG_NAME, text);
	assert_int_equal(run(argv, 3, &a, &e), 0);
	write_file(SUP_CONFIG_NAME, "data_dir = /elsewhere\n");
	assert_int_equal(run(argv, 3, &a, &e), -1);
	assert_non_null(strstr(e.message, "use --config to keep the file elsewhere"));
	remove_file(SUP_CONFIG_NAME);
}

static void test_child_argv_catalog_gets_its_keys(void **state)
{
	struct err e;

	(void)state;
	tcfg_init(&cfg);
	assert_int_equal(tcfg_set_arg(&cfg, "aws.connection_role_arn=arn:aws:iam::123456789012:role/T", &e), 0);
	assert_int_equal(tcfg_set_arg(&cfg, "data_dir=/x", &e), 0);
	assert_int_equal(tcfg_set_arg(&cfg, "limits.max_secret_size=1024", &e), 0);
	sup_config_child_argv(&cfg, SUP_CHILD_CATALOG, "tether-catalog", "/d", &ca);
	assert_string_equal(ca.argv[0], "tether-catalog");
	assert_string_equal(ca.argv[1], "--data-dir");
	assert_string_equal(ca.argv[2], "/d");
	assert_string_equal(ca.argv[3], "--set");
	assert_string_equal(ca.argv[4], "aws.connection_role_arn=arn:aws:iam::123456789012:role/T");
	assert_string_equal(ca.argv[5], "--set");
	assert_string_equal(ca.argv[6], "limits.max_secret_size=1024");
	assert_null(ca.argv[7]);        /* data_dir is tetherd's, unset keys stay out */
	sup_config_child_argv(&cfg, SUP_CHILD_VAULT, "tether-vault", "/d", &ca);
	assert_string_equal(ca.argv[0], "tether-vault");
	assert_null(ca.argv[3]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_take_args_removes_config_options_only),
		cmocka_unit_test(test_take_args_needs_values),
		cmocka_unit_test(test_data_dir_file_is_read_when_present),
		cmocka_unit_test(test_bad_file_stops_with_file_and_line),
		cmocka_unit_test(test_precedence_command_line_set_file),
		cmocka_unit_test(test_set_errors_come_first),
		cmocka_unit_test(test_data_dir_in_data_dir_file_must_match),
		cmocka_unit_test(test_child_argv_catalog_gets_its_keys),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
