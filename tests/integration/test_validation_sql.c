/* MYSQL and SQL SERVER validation end to end: a real tetherd (validators
 * under seccomp in TETHER_SECCOMP_DEBUG mode, so that a blocked syscall is
 * named in the log) against a real MariaDB with TLS required
 * (tests/peers/mariadb_start.sh) and the TDS login fake
 * (tests/fakes/tds_fake.py), driven over libpq: MySQL verify_identity with
 * the CA and password from the vault, a wrong password (08004), a refused
 * port (08001), an AWS CONNECTION (RDS IAM: the signed token is refused by a
 * server account that is not IAM-enabled: 08004, naming the cause);
 * SQL Server login and 18456 (08004). A failed CREATE commits nothing; no
 * secret value reaches the data dir or the logs. The MariaDB cases skip
 * without mariadb-server, the SQL Server ones without python3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define VALIDATOR_COMM "tether-validato"    /* comm is 15 characters */
#define PYTHON "/usr/bin/python3"

static struct tetherd daemon_;
static char dir[64];
static int have_db, have_tds;
static struct {
	char port[16], password[128], ca[256];
} db;
static struct {
	pid_t pid;
	int in;
	int port;
} tds = { .in = -1 };
static char tds_password[40];

static int env_get(const char *file, const char *key, char *out, size_t size)
{
	char line[1024];
	size_t klen = strlen(key);
	FILE *f = fopen(file, "r");
	int found = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == '=') {
			line[strcspn(line, "\n")] = '\0';
			snprintf(out, size, "%s", line + klen + 1);
			found = 1;
		}
	fclose(f);
	return found ? 0 : -1;
}

static int start_db(void)
{
	char cmd[512], env[200];

	snprintf(cmd, sizeof(cmd), "bash %s/mariadb_start.sh %s/db >%s/mariadb_start.log 2>&1",
		 TETHER_PEERS_DIR, dir, dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(env, sizeof(env), "%s/db/env", dir);
	if (env_get(env, "MARIADB_PORT", db.port, sizeof(db.port)) < 0 ||
	    env_get(env, "MARIADB_PASSWORD", db.password, sizeof(db.password)) < 0 ||
	    env_get(env, "MARIADB_CA", db.ca, sizeof(db.ca)) < 0)
		return -1;
	return 0;
}

/* tds_fake.py: user sa, database app, no TLS; the password on its stdin. */
static int start_tds(void)
{
	int in[2], out[2];
	char buf[64] = { 0 }, pw[48];
	size_t got = 0;
	unsigned char r[6];

	if (access(PYTHON, X_OK) != 0)
		return -1;
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		memset(r, 0x3c, sizeof(r));
	snprintf(tds_password, sizeof(tds_password), "It-Tds-Pw-%02x%02x%02x%02x%02x%02x", r[0],
		 r[1], r[2], r[3], r[4], r[5]);
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
		return -1;
	tds.pid = fork();
	if (tds.pid < 0)
		return -1;
	if (tds.pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in[0], 0);
		dup2(out[1], 1);
		execl(PYTHON, "python3", TETHER_FAKES_DIR "/tds_fake.py", "--user", "sa",
		      "--database", "app", "--lifetime", "300", "--encrypt", "none", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	tds.in = in[1];
	snprintf(pw, sizeof(pw), "%s\n", tds_password);
	if (write(tds.in, pw, strlen(pw)) != (ssize_t)strlen(pw)) {
		close(out[0]);
		return -1;
	}
	while (got < sizeof(buf) - 1 && !strchr(buf, '\n')) {
		ssize_t k = read(out[0], buf + got, sizeof(buf) - 1 - got);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(out[0]);
	if (strncmp(buf, "PORT=", 5) != 0)
		return -1;
	tds.port = atoi(buf + 5);
	return tds.port > 0 ? 0 : -1;
}

static void stop_tds(void)
{
	if (tds.in >= 0)
		close(tds.in);
	tds.in = -1;
	if (tds.pid <= 0)
		return;
	for (int i = 0; i < 200; i++) {
		if (waitpid(tds.pid, NULL, WNOHANG) == tds.pid) {
			tds.pid = 0;
			return;
		}
		usleep(10000);
	}
	kill(tds.pid, SIGKILL);
	waitpid(tds.pid, NULL, 0);
	tds.pid = 0;
}

static int group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/tether-itsql-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	have_db = start_db() == 0;
	if (!have_db)
		fprintf(stderr, "MariaDB did not start (logs in %s): MYSQL cases skip\n", dir);
	have_tds = start_tds() == 0;
	if (!have_tds)
		fprintf(stderr, "tds_fake.py did not start: SQL SERVER cases skip\n");
	setenv("TETHER_SECCOMP_DEBUG", "1", 1);
	return th_start(&daemon_);
}

static int group_teardown(void **state)
{
	char cmd[400];

	(void)state;
	th_stop(&daemon_);
	th_cleanup(&daemon_);
	stop_tds();
	if (have_db) {
		snprintf(cmd, sizeof(cmd), "bash %s/mariadb_stop.sh %s/db >/dev/null 2>&1",
			 TETHER_PEERS_DIR, dir);
		if (system(cmd) != 0)
			fprintf(stderr, "stopping MariaDB failed\n");
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static PGconn *conn(void)
{
	PGconn *c = th_connect(&daemon_);

	assert_non_null(c);
	return c;
}

static char *sqlf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sqlf(const char *fmt, ...)
{
	static char buf[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

static void exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("%s\n  -> %s %s", sql, PQresultErrorField(r, PG_DIAG_SQLSTATE),
			 PQresultErrorMessage(r));
	PQclear(r);
}

/* Runs sql, expects sqlstate; returns the primary message (static). */
static const char *exec_fails(PGconn *c, const char *sql, const char *sqlstate)
{
	static char msg[1024];
	PGresult *r = PQexec(c, sql);
	const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	if (!st || strcmp(st, sqlstate) != 0)
		fail_msg("%s\n  -> expected %s, got %s %s", sql, sqlstate, st ? st : "success",
			 PQresultErrorMessage(r));
	snprintf(msg, sizeof(msg), "%s", PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
	PQclear(r);
	return msg;
}

static void assert_absent(PGconn *c, const char *name)
{
	char *v = th_query_value(c, sqlf("SELECT count(*) FROM mz_connections WHERE name = '%s'",
					 name));

	assert_non_null(v);
	assert_string_equal(v, "0");
	free(v);
}

static void no_validator_left(void)
{
	for (int i = 0; i < 100 && th_child_pid(&daemon_, VALIDATOR_COMM) > 0; i++)
		th_sleep_ms(20);
	assert_true(th_child_pid(&daemon_, VALIDATOR_COMM) <= 0);
}

static int closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
	close(s);
	return ntohs(sa.sin_port);
}

static void test_mysql(void **state)
{
	PGconn *c;
	char pem[4096];
	const char *m;
	FILE *f;
	size_t n;
	int port;

	(void)state;
	if (!have_db)
		skip();
	c = conn();
	f = fopen(db.ca, "r");
	assert_non_null(f);
	n = fread(pem, 1, sizeof(pem) - 1, f);
	fclose(f);
	pem[n] = '\0';
	exec_ok(c, sqlf("CREATE SECRET my_ca AS '%s'", pem));
	exec_ok(c, sqlf("CREATE SECRET my_pw AS '%s'", db.password));
	exec_ok(c, "CREATE SECRET my_wrong AS 'it-mysql-wrong-6d2f'");
	/* Validates by default: TLS verifying the CA and the host name. */
	exec_ok(c, sqlf("CREATE CONNECTION my_ok TO MYSQL (HOST 'localhost', PORT %s, USER "
			"'tether', PASSWORD SECRET my_pw, SSL MODE 'verify_identity', SSL "
			"CERTIFICATE AUTHORITY SECRET my_ca)", db.port));
	exec_ok(c, "VALIDATE CONNECTION my_ok");
	m = exec_fails(c, sqlf("CREATE CONNECTION my_bad TO MYSQL (HOST 'localhost', PORT %s, USER "
			       "'tether', PASSWORD SECRET my_wrong, SSL MODE 'verify_identity', SSL "
			       "CERTIFICATE AUTHORITY SECRET my_ca)", db.port), "08004");
	assert_non_null(strstr(m, "localhost"));
	assert_null(strstr(m, "it-mysql-wrong"));
	assert_absent(c, "my_bad");
	port = closed_port();
	m = exec_fails(c, sqlf("CREATE CONNECTION my_bad TO MYSQL (HOST '127.0.0.1', PORT %d, USER "
			       "'tether', PASSWORD SECRET my_pw, SSL MODE 'required')", port),
		       "08001");
	assert_non_null(strstr(m, "127.0.0.1"));
	assert_absent(c, "my_bad");
	/* RDS IAM authentication (AWS CONNECTION): the signed token is offered
	 * with mysql_clear_password inside TLS; this MariaDB's user wants
	 * mysql_native_password, which IAM mode does not allow. Nothing of
	 * the token reaches the message. */
	exec_ok(c, "CREATE CONNECTION my_aws TO AWS (ACCESS KEY ID 'AKIDMYSQL', SECRET ACCESS KEY "
		   "SECRET my_wrong)");
	m = exec_fails(c, sqlf("CREATE CONNECTION my_iam TO MYSQL (HOST 'localhost', PORT %s, USER "
			       "'tether', SSL MODE 'verify_identity', SSL CERTIFICATE AUTHORITY "
			       "SECRET my_ca, AWS CONNECTION my_aws)", db.port), "08004");
	assert_string_equal(m, "authentication to MYSQL server localhost failed: the server asked "
			    "for another authentication method than mysql_clear_password (is USER "
			    "identified with AWS IAM authentication?)");
	assert_null(strstr(m, "X-Amz"));
	assert_absent(c, "my_iam");
	/* ALTER validates; a failure changes nothing. */
	exec_fails(c, "ALTER CONNECTION my_ok SET (PASSWORD = SECRET my_wrong)", "08004");
	exec_ok(c, "VALIDATE CONNECTION my_ok");
	PQfinish(c);
	no_validator_left();
}

static void test_sqlserver(void **state)
{
	PGconn *c;
	const char *m;

	(void)state;
	if (!have_tds)
		skip();
	c = conn();
	exec_ok(c, sqlf("CREATE SECRET ss_pw AS '%s'", tds_password));
	exec_ok(c, "CREATE SECRET ss_wrong AS 'It-Tds-Wrong-8e1'");
	exec_ok(c, sqlf("CREATE CONNECTION ss_ok TO SQL SERVER (HOST '127.0.0.1', PORT %d, DATABASE "
			"'app', USER 'sa', PASSWORD SECRET ss_pw)", tds.port));
	exec_ok(c, "VALIDATE CONNECTION ss_ok");
	/* Error 18456 from the server: 08004 with its words. */
	m = exec_fails(c, sqlf("CREATE CONNECTION ss_bad TO SQL SERVER (HOST '127.0.0.1', PORT %d, "
			       "DATABASE 'app', USER 'sa', PASSWORD SECRET ss_wrong)", tds.port),
		       "08004");
	assert_non_null(strstr(m, "Login failed for user 'sa'."));
	assert_null(strstr(m, "It-Tds-Wrong"));
	assert_absent(c, "ss_bad");
	exec_fails(c, sqlf("CREATE CONNECTION ss_bad TO SQL SERVER (HOST '127.0.0.1', PORT %d, "
			   "DATABASE 'app', USER 'sa', PASSWORD SECRET ss_pw)", closed_port()),
		   "08001");
	assert_absent(c, "ss_bad");
	PQfinish(c);
	no_validator_left();
}

/* Every validator ran under TETHER_SECCOMP_DEBUG=1: a syscall outside the
 * validator's allowlist would be named in the log. No secret value is in
 * the data dir or the logs. */
static void test_no_blocked_syscall_no_secret_leak(void **state)
{
	char cmd[400];

	(void)state;
	snprintf(cmd, sizeof(cmd), "grep -q 'seccomp: blocked syscall' %s", daemon_.log_path);
	if (system(cmd) == 0) {
		snprintf(cmd, sizeof(cmd), "grep 'seccomp: blocked syscall' %s >&2",
			 daemon_.log_path);
		(void)!system(cmd);
		fail_msg("a validator was stopped by seccomp (see above)");
	}
	if (have_db)
		assert_int_equal(th_tree_contains(daemon_.dir, db.password, strlen(db.password)), 0);
	if (have_tds)
		assert_int_equal(th_tree_contains(daemon_.dir, tds_password, strlen(tds_password)),
				 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mysql),
		cmocka_unit_test(test_sqlserver),
		cmocka_unit_test(test_no_blocked_syscall_no_secret_leak),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
