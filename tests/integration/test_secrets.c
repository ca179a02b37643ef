/* End to end: a real tetherd (supervisor, sandboxed vault and catalog) driven
 * by real libpq clients. Covers the SECRET statements, errors with their
 * SQLSTATEs, the extended protocol, concurrency, bad input, child crashes,
 * and secret hygiene on disk and in logs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static struct tetherd daemon_;

/* Every secret value a test stores; none may appear in clear on disk or in
 * the logs. */
static const char *const used_values[] = {
	"it-value-alpha-5b1f0c2e", "it-value-beta-99d3e0aa",
	"it-value-gamma-1c7e4f10", "it-value-delta-e8a2b6c4",
	"it-value-kill-vault-3f9d", "it-value-kill-catalog-77a1",
	"it-value-concurrent-", "it-value-params-0d4c",
};

static int group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	return th_start(&daemon_);
}

static int group_teardown(void **state)
{
	(void)state;
	th_stop(&daemon_);
	th_cleanup(&daemon_);
	return 0;
}

static PGconn *connect_or_fail(void)
{
	PGconn *c = th_connect(&daemon_);
	assert_non_null(c);
	return c;
}

static void assert_sqlstate(PGconn *c, const char *sql, const char *want,
			    const char *want_message)
{
	const char *msg;
	const char *got = th_exec_sqlstate(c, sql, &msg);
	if (strcmp(got, want) != 0 || (want_message && strcmp(msg, want_message) != 0)) {
		fprintf(stderr, "sql: %.200s\n got %s \"%s\"\n want %s \"%s\"\n", sql,
			got, msg, want, want_message ? want_message : "*");
		fail();
	}
}

static int count_rows(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int n = PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r) : -1;
	PQclear(r);
	return n;
}

static void test_create_alter_rename_drop_secret(void **state)
{
	(void)state;
	PGconn *c = connect_or_fail();

	assert_true(th_exec_ok(c, "CREATE SECRET s_alpha AS 'it-value-alpha-5b1f0c2e'"));
	assert_int_equal(count_rows(c, "SHOW SECRETS LIKE 's_alpha'"), 1);
	char *id = th_query_value(c, "SELECT id FROM mz_secrets WHERE name = 's_alpha'");
	assert_non_null(id);
	assert_int_equal(id[0], 'u');
	assert_true(th_exec_ok(c, "ALTER SECRET s_alpha AS decode('aXQtdmFsdWUtYmV0YS05OWQzZTBhYQ==', 'base64')"));
	assert_true(th_exec_ok(c, "ALTER SECRET s_alpha RENAME TO s_alpha2"));
	char *id2 = th_query_value(c, "SELECT id FROM mz_catalog.mz_secrets WHERE name = 's_alpha2'");
	assert_non_null(id2);
	assert_string_equal(id, id2);     /* rename keeps the id */
	assert_int_equal(count_rows(c, "SELECT * FROM mz_secrets WHERE name = 's_alpha'"), 0);
	assert_true(th_exec_ok(c, "DROP SECRET s_alpha2"));
	assert_int_equal(count_rows(c, "SHOW SECRETS WHERE name = 's_alpha2'"), 0);
	free(id);
	free(id2);
	PQfinish(c);
}

static void test_show_secrets_columns_and_order(void **state)
{
	(void)state;
	PGconn *c = connect_or_fail();
	assert_true(th_exec_ok(c, "CREATE SECRET show_b AS 'x'; CREATE SECRET show_a AS 'y'"));
	PGresult *r = PQexec(c, "SHOW SECRETS LIKE 'show_%'");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_int_equal(PQnfields(r), 2);
	assert_string_equal(PQfname(r, 0), "name");
	assert_string_equal(PQfname(r, 1), "comment");
	assert_int_equal(PQntuples(r), 2);
	assert_string_equal(PQgetvalue(r, 0, 0), "show_a");
	assert_string_equal(PQgetvalue(r, 1, 0), "show_b");
	PQclear(r);
	assert_true(th_exec_ok(c, "DROP SECRET show_a, show_b"));
	PQfinish(c);
}

static void test_secret_errors_carry_sqlstate(void **state)
{
	(void)state;
	PGconn *c = connect_or_fail();

	assert_true(th_exec_ok(c, "CREATE SECRET dup AS 'it-value-gamma-1c7e4f10'"));
	assert_sqlstate(c, "CREATE SECRET dup AS 'z'", "42710", NULL);
	assert_true(th_exec_ok(c, "CREATE SECRET IF NOT EXISTS dup AS 'z'"));
	assert_sqlstate(c, "DROP SECRET nope", "42704", "unknown catalog item 'nope'");
	assert_true(th_exec_ok(c, "DROP SECRET IF EXISTS nope"));
	assert_sqlstate(c, "ALTER SECRET nope AS 'x'", "42704", "unknown catalog item 'nope'");
	assert_sqlstate(c, "CREATE SECRET bad AS 'a' || 'b'", "42804",
			"AS must have type bytea, not type text");
	assert_sqlstate(c, "CREATE SECRET bad AS 5", "42804",
			"AS must have type bytea, not type integer");
	assert_sqlstate(c, "CREATE SECRET bad AS NULL", "22004",
			"secret value can not be null");
	assert_sqlstate(c, "CREATE SECRET a.b.c.d AS 'x'", "42601",
			"qualified name did not have between 1 and 3 components: a.b.c.d");
	assert_sqlstate(c, "CREATE SECRET nodb.public.x AS 'x'", "3D000",
			"unknown database 'nodb'");
	assert_sqlstate(c, "CREATE SECRET noschema.x AS 'x'", "3F000",
			"unknown schema 'noschema'");
	assert_sqlstate(c, "CREATE SECRT x AS 'x'", "42601", NULL);
	assert_sqlstate(c, "DROP CONNECTION dup", "42809", NULL);
	assert_true(th_exec_ok(c, "BEGIN"));
	assert_sqlstate(c, "CREATE SECRET intx AS 'x'", "25001",
			"CREATE SECRET cannot be run inside a transaction block");
	assert_true(th_exec_ok(c, "ROLLBACK"));
	assert_true(th_exec_ok(c, "CREATE SECRET dup2 AS 'x'"));
	assert_sqlstate(c, "ALTER SECRET dup2 RENAME TO dup", "42710",
			"catalog item 'dup' already exists");
	assert_true(th_exec_ok(c, "DROP SECRET dup, dup2"));
	/* The session is still usable after all those errors. */
	char *one = th_query_value(c, "SELECT 1");
	assert_non_null(one);
	assert_string_equal(one, "1");
	free(one);
	PQfinish(c);
}

static char *big_literal_statement(const char *name, size_t value_len)
{
	size_t n = value_len + 128;
	char *sql = malloc(n);
	int off = snprintf(sql, n, "CREATE SECRET %s AS '", name);
	memset(sql + off, 'k', value_len);
	snprintf(sql + off + value_len, n - off - value_len, "'");
	return sql;
}

static void test_secret_size_limit_512kib(void **state)
{
	(void)state;
	PGconn *c = connect_or_fail();
	char *ok = big_literal_statement("big_ok", 512 * 1024);
	char *too_big = big_literal_statement("big_bad", 512 * 1024 + 1);

	assert_true(th_exec_ok(c, ok));
	assert_sqlstate(c, too_big, "54000", "secrets can not be bigger than 512KiB");
	/* Replacing with a value that needs many IPC chunks works too. */
	ok[strlen("CREATE SECRET big_ok AS '") + 100] = 'j';
	memcpy(ok, "ALTER  SECRET", 13);
	assert_true(th_exec_ok(c, ok));
	assert_true(th_exec_ok(c, "DROP SECRET big_ok"));
	free(ok);
	free(too_big);
	PQfinish(c);
}

static void test_extended_protocol_parameters(void **state)
{
	(void)state;
	PGconn *c = connect_or_fail();
	const char *params[1] = { "p_one" };

	assert_true(th_exec_ok(c, "CREATE SECRET p_one AS 'it-value-params-0d4c'"));
	PGresult *r = PQexecParams(c, "SELECT name, id FROM mz_secrets WHERE name = $1",
				   1, NULL, params, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(r), 1);
	assert_string_equal(PQgetvalue(r, 0, 0), "p_one");
	PQclear(r);
	/* Prepare + execute of a DDL statement without parameters. */
	r = PQprepare(c, "drop_p", "DROP SECRET p_one", 0, NULL);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	r = PQexecPrepared(c, "drop_p", 0, NULL, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	PQfinish(c);
}

/* 64 clients at once, each with a statement in flight. */
static void test_many_concurrent_clients(void **state)
{
	(void)state;
	enum { N = 64 };
	PGconn *conns[N];
	char sql[128];

	for (int i = 0; i < N; i++) {
		conns[i] = connect_or_fail();
		snprintf(sql, sizeof(sql), "CREATE SECRET conc_%d AS 'it-value-concurrent-%d'", i, i);
		assert_int_equal(PQsendQuery(conns[i], sql), 1);
	}
	for (int i = 0; i < N; i++) {
		PGresult *r;
		int ok = 0;
		while ((r = PQgetResult(conns[i]))) {
			ok |= PQresultStatus(r) == PGRES_COMMAND_OK;
			PQclear(r);
		}
		assert_true(ok);
	}
	assert_int_equal(count_rows(conns[0], "SELECT name FROM mz_secrets WHERE name LIKE 'conc_%'"), N);
	for (int i = 0; i < N; i++) {
		snprintf(sql, sizeof(sql), "DROP SECRET conc_%d", i);
		assert_true(th_exec_ok(conns[i], sql));
		PQfinish(conns[i]);
	}
}

static int raw_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%.90s/.s.PGSQL.6875",
			     daemon_.data_dir) >= sizeof(sa.sun_path)) {
		close(fd);
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads until the server closes (or 5 s pass); returns bytes read. */
static ssize_t drain_until_close(int fd)
{
	char buf[4096];
	ssize_t total = 0, n;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	while (poll(&p, 1, 5000) > 0 && (n = read(fd, buf, sizeof(buf))) > 0)
		total += n;
	return total;
}

static void test_bad_input_keeps_daemon_serving(void **state)
{
	(void)state;
	PGconn *c = connect_or_fail();

	/* Invalid UTF-8. */
	assert_sqlstate(c, "SELECT '\xff\xfe'", "22021", NULL);
	/* Empty statement and lone semicolons. */
	assert_true(th_exec_ok(c, ""));
	assert_true(th_exec_ok(c, ";;"));
	/* A 10 MB query: an error or a closed connection, never a hang. */
	size_t big = 10u * 1024 * 1024;
	char *q = malloc(big + 1);
	memset(q, ' ', big);
	memcpy(q, "SELECT 1", 8);
	q[big] = '\0';
	PGresult *r = PQexec(c, q);
	assert_true(PQresultStatus(r) == PGRES_FATAL_ERROR);
	PQclear(r);
	free(q);
	PQfinish(c);

	/* A startup packet with a lying length. */
	int fd = raw_connect();
	assert_true(fd >= 0);
	unsigned char lie[8] = { 0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0 };
	assert_int_equal(write(fd, lie, sizeof(lie)), (ssize_t)sizeof(lie));
	drain_until_close(fd);
	close(fd);

	/* A client that disconnects in the middle of a message. */
	fd = raw_connect();
	assert_true(fd >= 0);
	unsigned char half[6] = { 0, 0, 0, 80, 0, 3 };
	assert_int_equal(write(fd, half, sizeof(half)), (ssize_t)sizeof(half));
	close(fd);

	/* Garbage after a valid startup: a query message with length 2. */
	c = connect_or_fail();
	char *one = th_query_value(c, "SELECT 1");
	assert_non_null(one);
	free(one);
	PQfinish(c);
}

static void assert_sandboxed(pid_t pid)
{
	char path[64], line[256];
	int seccomp = -1, nnp = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "Seccomp: %d", &seccomp);
		sscanf(line, "NoNewPrivs: %d", &nnp);
	}
	fclose(f);
	assert_int_equal(seccomp, 2);
	assert_int_equal(nnp, 1);
}

static void test_children_run_sandboxed(void **state)
{
	(void)state;
	pid_t vault = th_child_pid(&daemon_, "tether-vault");
	pid_t catalog = th_child_pid(&daemon_, "tether-catalog");
	assert_true(vault > 0);
	assert_true(catalog > 0);
	assert_sandboxed(vault);
	assert_sandboxed(catalog);
}

static void test_vault_killed_is_restarted(void **state)
{
	(void)state;
	PGconn *c = connect_or_fail();
	pid_t vault = th_child_pid(&daemon_, "tether-vault");
	assert_true(vault > 0);
	kill(vault, SIGKILL);
	/* A statement now fails cleanly or succeeds on the new vault. */
	const char *st = th_exec_sqlstate(c, "CREATE SECRET kv1 AS 'it-value-kill-vault-3f9d'", NULL);
	assert_true(st[0] == '\0' || strcmp(st, "XX000") == 0);
	assert_true(th_wait_child_restart(&daemon_, "tether-vault", vault, 15000) > 0);
	int ok = 0;
	for (int i = 0; i < 100 && !ok; i++) {
		st = th_exec_sqlstate(c, "CREATE SECRET IF NOT EXISTS kv1 AS 'it-value-kill-vault-3f9d'", NULL);
		ok = st[0] == '\0';
		if (!ok)
			th_sleep_ms(100);
	}
	assert_true(ok);
	assert_true(th_exec_ok(c, "DROP SECRET kv1"));
	PQfinish(c);
}

static void test_catalog_killed_is_restarted(void **state)
{
	(void)state;
	PGconn *c = connect_or_fail();
	assert_true(th_exec_ok(c, "CREATE SECRET kc1 AS 'it-value-kill-catalog-77a1'"));
	pid_t cat = th_child_pid(&daemon_, "tether-catalog");
	assert_true(cat > 0);
	kill(cat, SIGKILL);
	PQfinish(c);
	assert_true(th_wait_child_restart(&daemon_, "tether-catalog", cat, 15000) > 0);
	c = NULL;
	for (int i = 0; i < 100 && !c; i++) {
		c = th_connect(&daemon_);
		if (!c)
			th_sleep_ms(100);
	}
	assert_non_null(c);
	assert_int_equal(count_rows(c, "SELECT * FROM mz_secrets WHERE name = 'kc1'"), 1);
	assert_true(th_exec_ok(c, "DROP SECRET kc1"));
	PQfinish(c);
}

static void test_second_tetherd_on_same_dir_refuses(void **state)
{
	(void)state;
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "%s --data-dir %s >/dev/null 2>%s/second.err",
		 TETHERD_PATH, daemon_.data_dir, daemon_.dir);
	int st = system(cmd);
	assert_true(WIFEXITED(st));
	assert_int_not_equal(WEXITSTATUS(st), 0);
	snprintf(cmd, sizeof(cmd), "%s/second.err", daemon_.dir);
	assert_true(th_tree_contains(cmd, "in use", 6));
}

static void test_no_secret_value_in_clear_anywhere(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(used_values) / sizeof(used_values[0]); i++) {
		const char *v = used_values[i];
		if (th_tree_contains(daemon_.dir, v, strlen(v))) {
			fprintf(stderr, "secret value %s found in %s\n", v, daemon_.dir);
			fail();
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_children_run_sandboxed),
		cmocka_unit_test(test_create_alter_rename_drop_secret),
		cmocka_unit_test(test_show_secrets_columns_and_order),
		cmocka_unit_test(test_secret_errors_carry_sqlstate),
		cmocka_unit_test(test_secret_size_limit_512kib),
		cmocka_unit_test(test_extended_protocol_parameters),
		cmocka_unit_test(test_many_concurrent_clients),
		cmocka_unit_test(test_bad_input_keeps_daemon_serving),
		cmocka_unit_test(test_vault_killed_is_restarted),
		cmocka_unit_test(test_catalog_killed_is_restarted),
		cmocka_unit_test(test_second_tetherd_on_same_dir_refuses),
		cmocka_unit_test(test_no_secret_value_in_clear_anywhere),
	};
	return cmocka_run_group_tests_name("integration_secrets", tests,
					   group_setup, group_teardown);
}
