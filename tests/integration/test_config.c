/* tether.conf end to end (docs/CONFIGURATION.md):
 * - tether-catalog started directly (as tetherd starts it: fd 3 the
 *   supervisor channel, fd 5 the listening socket, no vault) with
 *   --set key=value: the AWS principal, PrivateLink principal and region
 *   show in the mz_* relations; a generated instance id survives restarts
 *   and cannot change once connections exist; a dropped setting clears the
 *   derived principal; ALTER SYSTEM values survive restarts; SHOW ALL lists
 *   the system variables.
 * - tetherd started with --set aws.connection_role_arn=...: the principal
 *   shows in mz_internal.mz_aws_connections. Skipped (with a message) while
 *   tetherd does not take --set yet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define ROLE_ARN "arn:aws:iam::123456789012:role/T"

struct catalog {
	char dir[256];
	char log[300];
	pid_t pid;
	int sup_fd;             /* our end of its supervisor channel */
};

static void catalog_path(char *buf, size_t size)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", TETHERD_PATH);
	snprintf(buf, size, "%s/tether-catalog", dirname(tmp));
}

static int listen_socket(const char *dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%.90s/.s.PGSQL.6875", dir) >=
	    sizeof(sa.sun_path)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	unlink(sa.sun_path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0)
		return -1;
	return fd;
}

static PGconn *connect_dir(const char *dir)
{
	char conninfo[400];
	PGconn *c;

	snprintf(conninfo, sizeof(conninfo),
		 "host=%s port=6875 user=materialize dbname=materialize connect_timeout=5", dir);
	c = PQconnectdb(conninfo);
	if (PQstatus(c) != CONNECTION_OK) {
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* Starts tether-catalog --data-dir dir [args]; returns 0 once it accepts a
 * connection, or its exit status (> 0) if it exited, -1 after 20 s. Its
 * vault channel (fd 4) is a socketpair whose other end is closed at once:
 * the catalog sees the vault down, as when tether-vault is restarting. */
static int catalog_start(struct catalog *cat, const char *const *args)
{
	char exe[PATH_MAX];
	int sv[2], vv[2], lfd;
	struct timespec t0, now;

	catalog_path(exe, sizeof(exe));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, vv) != 0)
		return -1;
	lfd = listen_socket(cat->dir);
	if (lfd < 0)
		return -1;
	cat->pid = fork();
	if (cat->pid == 0) {
		const char *argv[24] = { "tether-catalog", "--data-dir", cat->dir };
		size_t n = 3;
		int log = open(cat->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		/* fds 3 (supervisor channel), 4 (vault channel), 5 (listener) */
		int a = fcntl(sv[1], F_DUPFD, 20), b = fcntl(lfd, F_DUPFD, 20);
		int v = fcntl(vv[1], F_DUPFD, 20);

		for (size_t i = 0; args && args[i] && n < 23; i++)
			argv[n++] = args[i];
		argv[n] = NULL;
		dup2(log, 2);
		dup2(a, 3);
		dup2(v, 4);
		dup2(b, 5);
		close_range(6, ~0U, 0);
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	close(sv[1]);
	close(vv[0]);
	close(vv[1]);
	close(lfd);
	cat->sup_fd = sv[0];
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int st;
		PGconn *c;

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > 20)
			break;
		if (waitpid(cat->pid, &st, WNOHANG) == cat->pid) {
			cat->pid = 0;
			close(cat->sup_fd);
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
		}
		if ((c = connect_dir(cat->dir)) != NULL) {
			PQfinish(c);
			return 0;
		}
		th_sleep_ms(20);
	}
	return -1;
}

static void catalog_stop(struct catalog *cat)
{
	if (cat->pid <= 0)
		return;
	kill(cat->pid, SIGTERM);
	waitpid(cat->pid, NULL, 0);
	cat->pid = 0;
	close(cat->sup_fd);
}

static char *value(PGconn *c, const char *sql)
{
	char *v = th_query_value(c, sql);
	if (!v)
		print_error("no value for [%s]: %s\n", sql, PQerrorMessage(c));
	return v;
}

static void expect_value_of(PGconn *c, const char *sql, const char *want)
{
	char *v = value(c, sql);

	assert_non_null(v);
	if (strcmp(v, want) != 0) {
		print_error("[%s]\n  want: %s\n  got:  %s\n", sql, want, v);
		fail();
	}
	free(v);
}

static void test_catalog_applies_deployment_settings(void **state)
{
	static const char *const first[] = {
		"--set", "aws.connection_role_arn=" ROLE_ARN,
		"--set", "aws.privatelink_account_id=123456789012",
		"--set", "deployment.region=eu-west-1",
		"--set=log_level=debug", NULL };
	static const char *const second[] = {
		"--set", "aws.privatelink_account_id=123456789012", NULL };
	static const char *const other_id[] = {
		"--set", "deployment.instance_id=11111111-2222-4333-8444-555555555555", NULL };
	static const char *const not_catalogs[] = { "--set", "data_dir=/x", NULL };
	static const char *const bad[] = { "--set", "aws.connection_role_arn=nope", NULL };
	struct catalog cat = { 0 };
	char *instance, *ext, want[256], sub[300];
	PGconn *c;

	(void)state;
	snprintf(cat.dir, sizeof(cat.dir), "/tmp/tether-cfg-XXXXXX");
	assert_non_null(mkdtemp(cat.dir));
	snprintf(cat.log, sizeof(cat.log), "%s/catalog.log", cat.dir);
	snprintf(sub, sizeof(sub), "%s/catalog", cat.dir);
	assert_int_equal(mkdir(sub, 0700), 0);

	/* Bad or foreign keys stop it before it opens anything (exit 2). */
	assert_int_equal(catalog_start(&cat, bad), 2);
	assert_int_equal(catalog_start(&cat, not_catalogs), 2);

	assert_int_equal(catalog_start(&cat, first), 0);
	c = connect_dir(cat.dir);
	assert_non_null(c);
	assert_true(th_exec_ok(c, "CREATE CONNECTION aws1 TO AWS (ASSUME ROLE ARN = "
				  "'arn:aws:iam::000000000000:role/X')"));
	assert_true(th_exec_ok(c, "CREATE CONNECTION pl TO AWS PRIVATELINK (SERVICE NAME 's', "
				  "AVAILABILITY ZONES ('use1-az1'))"));
	expect_value_of(c, "SELECT principal FROM mz_internal.mz_aws_connections", ROLE_ARN);
	expect_value_of(c, "SELECT region FROM mz_internal.mz_aws_connections", "eu-west-1");
	/* external ID mz_<instance id>_<id>: a generated version-4 UUID */
	ext = value(c, "SELECT external_id FROM mz_internal.mz_aws_connections");
	assert_non_null(ext);
	assert_int_equal(strlen(ext), strlen("mz__u1") + 36);
	assert_int_equal(ext[3 + 14], '4');
	instance = strndup(ext + 3, 36);
	assert_string_not_equal(instance, "00000000-0000-0000-0000-000000000000");
	snprintf(want, sizeof(want), "arn:aws:iam::123456789012:role/mz_%s_u2", instance);
	expect_value_of(c, "SELECT principal FROM mz_catalog.mz_aws_privatelink_connections", want);
	/* ALTER SYSTEM, then a restart */
	assert_true(th_exec_ok(c, "ALTER SYSTEM SET max_secrets = 7"));
	expect_value_of(c, "SHOW max_secrets", "7");
	PQfinish(c);
	catalog_stop(&cat);

	/* Without the role ARN the principal is gone (re-derived at start);
	 * the instance id and the ALTER SYSTEM value stay. */
	assert_int_equal(catalog_start(&cat, second), 0);
	c = connect_dir(cat.dir);
	assert_non_null(c);
	expect_value_of(c, "SELECT coalesce(principal, 'NULL') FROM mz_internal.mz_aws_connections",
			"NULL");
	expect_value_of(c, "SELECT region FROM mz_internal.mz_aws_connections", "us-east-1");
	expect_value_of(c, "SELECT external_id FROM mz_internal.mz_aws_connections", ext);
	expect_value_of(c, "SHOW max_secrets", "7");
	{
		PGresult *r = PQexec(c, "SHOW ALL");
		int found = 0;

		assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
		assert_int_equal(PQnfields(r), 3);
		for (int i = 0; i < PQntuples(r); i++)
			if (!strcmp(PQgetvalue(r, i, 0), "max_secrets"))
				found = !strcmp(PQgetvalue(r, i, 1), "7");
			else if (!strcmp(PQgetvalue(r, i, 0), "max_aws_privatelink_connections"))
				assert_string_equal(PQgetvalue(r, i, 1), "100");
		assert_true(found);
		PQclear(r);
	}
	PQfinish(c);
	catalog_stop(&cat);

	/* The instance id cannot change under existing connections. */
	assert_int_equal(catalog_start(&cat, other_id), 1);
	{
		char needle[] = "it cannot change once connections exist";
		assert_true(th_tree_contains(cat.log, needle, strlen(needle)));
	}
	free(instance);
	free(ext);
	snprintf(sub, sizeof(sub), "rm -rf '%s'", cat.dir);
	assert_int_equal(system(sub), 0);
}

/* Needs tetherd to take --set (wired by the lead; see the report). */
static void test_tetherd_set_shows_principal(void **state)
{
	static const char *const args[] = {
		"--set", "aws.connection_role_arn=" ROLE_ARN,
		"--set", "limits.max_secret_size=1024", NULL };
	struct tetherd t;
	PGconn *c;

	(void)state;
	if (th_start_args(&t, args) != 0) {
		static const char needle[] = "unknown argument '--set'";
		int unwired = th_tree_contains(t.log_path, needle, sizeof(needle) - 1);

		th_kill(&t);
		th_cleanup(&t);
		if (unwired) {
			print_message("SKIPPED: tetherd does not take --set yet "
				      "(supervisor/config_args.h is not wired into tetherd.c)\n");
			skip();
		}
		fail_msg("tetherd with --set did not start");
	}
	c = th_connect(&t);
	assert_non_null(c);
	assert_true(th_exec_ok(c, "CREATE CONNECTION aws1 TO AWS (ASSUME ROLE ARN = "
				  "'arn:aws:iam::000000000000:role/X')"));
	expect_value_of(c, "SELECT principal FROM mz_internal.mz_aws_connections", ROLE_ARN);
	/* limits.max_secret_size reaches the catalog too */
	{
		char sql[1200];
		const char *msg = NULL;

		snprintf(sql, sizeof(sql), "CREATE SECRET big AS '%01025d'", 0);
		assert_string_equal(th_exec_sqlstate(c, sql, &msg), "54000");
		assert_string_equal(msg, "secrets can not be bigger than 1KiB");
		snprintf(sql, sizeof(sql), "CREATE SECRET small AS '%01024d'", 0);
		assert_string_equal(th_exec_sqlstate(c, sql, NULL), "");
	}
	PQfinish(c);
	th_stop(&t);
	th_cleanup(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_catalog_applies_deployment_settings),
		cmocka_unit_test(test_tetherd_set_shows_principal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
