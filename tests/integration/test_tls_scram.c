/* The optional TCP listener end to end: tetherd with listen.tcp, a
 * self-signed certificate, roles with and without a SCRAM-SHA-256
 * password. libpq and the real psql: sslmode=require + right password
 * logs in (with and without channel binding); a wrong password, a role
 * without password and an unknown role all get the same 28P01 message;
 * sslmode=disable is refused; NOLOGIN still applies; ALTER ROLE changes
 * and clears the password; the Unix socket keeps peer authentication; no
 * password text is anywhere in the data dir or the logs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define PW_ALICE "alice-pw-7c1e9d"
#define PW_ALICE2 "alice-new-pw-42b0"
#define PW_CAROL "carol-pw-19fa3"

static struct tetherd t;
static int port;
static char listen_arg[64], cert_arg[512], key_arg[512];
static const char *args[8];

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		return -1;
	p = ntohs(sa.sin_port);
	close(fd);
	return p;
}

static PGconn *tcp_connect(const char *user, const char *pw, const char *extra)
{
	char ci[512];

	snprintf(ci, sizeof(ci),
		 "host=127.0.0.1 port=%d user=%s dbname=materialize password=%s connect_timeout=10 %s",
		 port, user, pw, extra);
	return PQconnectdb(ci);
}

/* The connection error of a refused login, with the role name replaced by
 * X (so that messages for different roles can be compared). */
static const char *refusal(const char *user, const char *pw, const char *extra)
{
	static char msg[512];
	PGconn *c = tcp_connect(user, pw, extra);
	char *p;

	assert_int_not_equal(PQstatus(c), CONNECTION_OK);
	snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
	PQfinish(c);
	p = strstr(msg, user);
	if (p && strstr(msg, "password authentication failed")) {
		memmove(p + 1, p + strlen(user), strlen(p + strlen(user)) + 1);
		*p = 'X';
	}
	return msg;
}

static int psql_tcp(const char *user, const char *pw, const char *sslmode, const char *sql,
		    char *out, size_t size)
{
	char cmd[1024], path[400];
	FILE *f;
	int st;

	snprintf(path, sizeof(path), "%s/psql.out", t.dir);
	snprintf(cmd, sizeof(cmd),
		 "PGPASSWORD='%s' PGCONNECT_TIMEOUT=10 timeout 30 psql -X -At "
		 "\"host=127.0.0.1 port=%d user=%s dbname=materialize sslmode=%s\" -c \"%s\" > %s 2>&1",
		 pw, port, user, sslmode, sql, path);
	st = system(cmd);
	out[0] = '\0';
	if ((f = fopen(path, "r"))) {
		size_t n = fread(out, 1, size - 1, f);
		out[n] = '\0';
		fclose(f);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Lines of the logs that name event `ev` with sqlstate `state`. */
static int log_count(const char *needle)
{
	char line[4096];
	FILE *f = fopen(t.log_path, "r");
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

static int setup(void **state)
{
	char cmd[2048], dir[400];
	PGconn *c;

	(void)state;
	if (th_start(&t) != 0)
		return -1;
	c = th_connect(&t);
	if (!c || !th_exec_ok(c, "CREATE ROLE alice WITH LOGIN PASSWORD '" PW_ALICE "'") ||
	    !th_exec_ok(c, "CREATE ROLE bob LOGIN") ||
	    !th_exec_ok(c, "CREATE ROLE carol NOLOGIN PASSWORD '" PW_CAROL "'"))
		return -1;
	PQfinish(c);
	if (th_stop(&t) != 0)
		return -1;
	/* Outside the data dir, as an operator would keep them: tetherd adds
	 * the configured TLS files to the catalog's Landlock rules. */
	snprintf(dir, sizeof(dir), "%s/tls", t.dir);
	snprintf(cmd, sizeof(cmd),
		 "mkdir -m 700 %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
		 "-nodes -days 2 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 "
		 "-keyout %s/server.key -out %s/server.crt 2>/dev/null && chmod 600 %s/server.key",
		 dir, dir, dir, dir);
	if (system(cmd) != 0)
		return -1;
	port = free_port();
	snprintf(listen_arg, sizeof(listen_arg), "listen.tcp=127.0.0.1:%d", port);
	snprintf(cert_arg, sizeof(cert_arg), "tls.certificate=%s/server.crt", dir);
	snprintf(key_arg, sizeof(key_arg), "tls.key=%s/server.key", dir);
	args[0] = "--set"; args[1] = listen_arg;
	args[2] = "--set"; args[3] = cert_arg;
	args[4] = "--set"; args[5] = key_arg;
	args[6] = NULL;
	t.args = args;
	return th_restart(&t);
}

static int teardown(void **state)
{
	(void)state;
	th_stop(&t);
	th_cleanup(&t);
	return 0;
}

static void test_libpq_tls_scram_login(void **state)
{
	PGconn *c;
	char *v;

	(void)state;
	c = tcp_connect("alice", PW_ALICE, "sslmode=require");
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_int_equal(PQsslInUse(c), 1);
	v = th_query_value(c, "SELECT current_user");
	assert_non_null(v);
	assert_string_equal(v, "alice");
	free(v);
	PQfinish(c);
	/* SCRAM-SHA-256-PLUS (tls-server-end-point) and plain SCRAM. */
	c = tcp_connect("alice", PW_ALICE, "sslmode=require channel_binding=require");
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	PQfinish(c);
	c = tcp_connect("alice", PW_ALICE, "sslmode=require channel_binding=disable");
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	PQfinish(c);
}

static void test_wrong_password_no_password_unknown_role_look_alike(void **state)
{
	char wrong[512], nopw[512], unknown[512];
	int before = log_count("sqlstate=28P01");

	(void)state;
	snprintf(wrong, sizeof(wrong), "%s", refusal("alice", "not-it", "sslmode=require"));
	snprintf(nopw, sizeof(nopw), "%s", refusal("bob", "anything", "sslmode=require"));
	snprintf(unknown, sizeof(unknown), "%s", refusal("nobody", "anything", "sslmode=require"));
	assert_non_null(strstr(wrong, "FATAL:  password authentication failed for user \"X\""));
	assert_string_equal(wrong, nopw);
	assert_string_equal(wrong, unknown);
	th_sleep_ms(200);
	assert_int_equal(log_count("sqlstate=28P01") - before, 3);
}

static void test_plaintext_tcp_refused(void **state)
{
	const char *m;

	(void)state;
	m = refusal("alice", PW_ALICE, "sslmode=disable");
	assert_non_null(strstr(m, "SSL required"));
}

static void test_nologin_role_refused_after_password(void **state)
{
	const char *m;

	(void)state;
	m = refusal("carol", PW_CAROL, "sslmode=require");
	assert_non_null(strstr(m, "role \"carol\" is not permitted to log in"));
	m = refusal("carol", "wrong", "sslmode=require");
	assert_non_null(strstr(m, "password authentication failed"));
}

static void test_psql_binary(void **state)
{
	char out[2048];

	(void)state;
	assert_int_equal(psql_tcp("alice", PW_ALICE, "require", "SELECT current_user", out,
				  sizeof(out)), 0);
	assert_string_equal(out, "alice\n");
	assert_int_equal(psql_tcp("alice", "wrong", "require", "SELECT 1", out, sizeof(out)), 2);
	assert_non_null(strstr(out, "password authentication failed for user \"alice\""));
	assert_int_equal(psql_tcp("bob", "x", "require", "SELECT 1", out, sizeof(out)), 2);
	assert_non_null(strstr(out, "password authentication failed for user \"bob\""));
	assert_int_equal(psql_tcp("alice", PW_ALICE, "disable", "SELECT 1", out, sizeof(out)), 2);
	assert_non_null(strstr(out, "SSL required"));
}

static void test_unix_socket_peer_auth_unchanged(void **state)
{
	PGconn *c;
	char *v;

	(void)state;
	c = th_connect_as(&t, "alice", "materialize");
	assert_non_null(c);
	v = th_query_value(c, "SELECT current_user");
	assert_string_equal(v, "alice");
	free(v);
	PQfinish(c);
}

static void test_mz_roles_hides_verifier(void **state)
{
	PGconn *c = th_connect(&t);
	PGresult *r;

	(void)state;
	r = PQexec(c, "SELECT * FROM mz_roles WHERE name = 'alice'");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	for (int i = 0; i < PQnfields(r); i++) {
		assert_null(strstr(PQfname(r, i), "password"));
		for (int row = 0; row < PQntuples(r); row++)
			assert_null(strstr(PQgetvalue(r, row, i), "SCRAM"));
	}
	PQclear(r);
	assert_string_not_equal(th_exec_sqlstate(c, "SELECT password_hash FROM mz_roles", NULL),
				"");
	PQfinish(c);
}

static void test_alter_role_password_and_null(void **state)
{
	PGconn *su = th_connect(&t), *c;

	(void)state;
	assert_true(th_exec_ok(su, "ALTER ROLE alice PASSWORD '" PW_ALICE2 "'"));
	assert_non_null(strstr(refusal("alice", PW_ALICE, "sslmode=require"),
			       "password authentication failed"));
	c = tcp_connect("alice", PW_ALICE2, "sslmode=require");
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	/* Any role may change its own password (PostgreSQL). */
	assert_true(th_exec_ok(c, "ALTER ROLE alice PASSWORD '" PW_ALICE "'"));
	PQfinish(c);
	c = tcp_connect("alice", PW_ALICE, "sslmode=require");
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	/* But not someone else's. */
	assert_string_equal(th_exec_sqlstate(c, "ALTER ROLE bob PASSWORD 'x-bob-pw'", NULL),
			    "42501");
	PQfinish(c);
	assert_true(th_exec_ok(su, "ALTER ROLE alice WITH PASSWORD NULL"));
	assert_non_null(strstr(refusal("alice", PW_ALICE, "sslmode=require"),
			       "password authentication failed"));
	assert_true(th_exec_ok(su, "ALTER ROLE alice PASSWORD '" PW_ALICE "'"));
	PQfinish(su);
}

static int raw_connect(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static const uint8_t ssl_request[8] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f };

/* A client that stops in the middle of the TLS handshake holds up nobody. */
static void test_stalled_tls_client_blocks_nobody(void **state)
{
	int stalled[4];
	char ch;
	PGconn *c;

	(void)state;
	for (int i = 0; i < 4; i++) {
		stalled[i] = raw_connect();
		assert_int_equal(write(stalled[i], ssl_request, 8), 8);
		assert_int_equal(read(stalled[i], &ch, 1), 1);
		assert_int_equal(ch, 'S');
		if (i % 2)      /* half a ClientHello record header */
			assert_int_equal(write(stalled[i], "\x16\x03\x01", 3), 3);
	}
	c = tcp_connect("alice", PW_ALICE, "sslmode=require");
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	PQfinish(c);
	for (int i = 0; i < 4; i++)
		close(stalled[i]);
}

/* Bytes sent in the clear right after SSLRequest are refused
 * (CVE-2021-23214): 'S', then an ErrorResponse, then close. */
static void test_plaintext_after_ssl_request_refused(void **state)
{
	uint8_t req[8 + 8], buf[512];
	ssize_t n, got = 0;
	int fd = raw_connect();

	(void)state;
	memcpy(req, ssl_request, 8);
	memcpy(req + 8, "\0\0\0\x08\0\x03\0\0", 8);
	assert_int_equal(write(fd, req, sizeof(req)), (ssize_t)sizeof(req));
	while ((n = read(fd, buf + got, sizeof(buf) - (size_t)got)) > 0)
		got += n;
	close(fd);
	assert_true(got > 2);
	assert_int_equal(buf[0], 'S');
	assert_int_equal(buf[1], 'E');
	buf[got - 1] = 0;
	assert_non_null(memmem(buf, (size_t)got, "unencrypted data after SSL request", 34));
}

static void test_password_never_stored_or_logged(void **state)
{
	static const char *const pws[] = { PW_ALICE, PW_ALICE2, PW_CAROL, "x-bob-pw" };

	(void)state;
	for (size_t i = 0; i < sizeof(pws) / sizeof(pws[0]); i++)
		assert_int_equal(th_tree_contains(t.dir, pws[i], strlen(pws[i])), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_libpq_tls_scram_login),
		cmocka_unit_test(test_wrong_password_no_password_unknown_role_look_alike),
		cmocka_unit_test(test_plaintext_tcp_refused),
		cmocka_unit_test(test_nologin_role_refused_after_password),
		cmocka_unit_test(test_psql_binary),
		cmocka_unit_test(test_unix_socket_peer_auth_unchanged),
		cmocka_unit_test(test_mz_roles_hides_verifier),
		cmocka_unit_test(test_alter_role_password_and_null),
		cmocka_unit_test(test_stalled_tls_client_blocks_nobody),
		cmocka_unit_test(test_plaintext_after_ssl_request_refused),
		cmocka_unit_test(test_password_never_stored_or_logged),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
