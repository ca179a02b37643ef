/* Validation end to end (issue 5): a real tetherd validating against real
 * peers started by tests/peers/ (PostgreSQL 15 with TLS, OpenSSH sshd):
 * good / wrong password, refused port, SSH TUNNEL with the vault-held keys
 * written into authorized_keys, ROTATE KEYS, PostgreSQL through the
 * tunnel, ALTER SECRET taking effect at once, a hanging peer killed at a
 * short deadline, CancelRequest during a validation (57014), Seccomp: 2
 * in a running validator, no validator left behind, and no secret value
 * in clear in the data dir or the logs. Skips when the peers cannot start
 * (no postgresql-15 / openssh-server). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define VALIDATOR_COMM "tether-validato"    /* comm is 15 characters */

static struct tetherd daemon_;
static char peers_dir[256];
static int have_peers;

/* Peer settings read from the scripts' env files. */
static struct {
	char pg_port[16], pg_password[128], pg_ca[300];
	char ssh_port[16], ssh_user[64], ssh_host_key[128], ssh_keys[300];
} peer;

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

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

static int start_peers(void)
{
	char cmd[1024], env[400];

	snprintf(cmd, sizeof(cmd), "%s/pg_start.sh %s/pg >%s/pg_start.log 2>&1", TETHER_PEERS_DIR,
		 peers_dir, peers_dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(env, sizeof(env), "%s/pg/env", peers_dir);
	if (env_get(env, "PGPORT", peer.pg_port, sizeof(peer.pg_port)) < 0 ||
	    env_get(env, "PG_PASSWORD", peer.pg_password, sizeof(peer.pg_password)) < 0 ||
	    env_get(env, "PG_CA", peer.pg_ca, sizeof(peer.pg_ca)) < 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "%s/sshd_start.sh %s/ssh >%s/sshd_start.log 2>&1",
		 TETHER_PEERS_DIR, peers_dir, peers_dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(env, sizeof(env), "%s/ssh/env", peers_dir);
	if (env_get(env, "SSHD_PORT", peer.ssh_port, sizeof(peer.ssh_port)) < 0 ||
	    env_get(env, "SSHD_USER", peer.ssh_user, sizeof(peer.ssh_user)) < 0 ||
	    env_get(env, "SSHD_HOST_KEY", peer.ssh_host_key, sizeof(peer.ssh_host_key)) < 0 ||
	    env_get(env, "SSHD_AUTHORIZED_KEYS", peer.ssh_keys, sizeof(peer.ssh_keys)) < 0)
		return -1;
	return 0;
}

static void stop_peers(void)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "%s/pg_stop.sh %s/pg >/dev/null 2>&1; %s/sshd_stop.sh %s/ssh "
		 ">/dev/null 2>&1", TETHER_PEERS_DIR, peers_dir, TETHER_PEERS_DIR, peers_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "stopping the peers failed\n");
}

static int group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	snprintf(peers_dir, sizeof(peers_dir), "/tmp/tether-peers-XXXXXX");
	if (!mkdtemp(peers_dir))
		return -1;
	have_peers = start_peers() == 0;
	if (!have_peers)
		fprintf(stderr, "peers did not start (logs in %s): validation tests skip\n", peers_dir);
	return th_start(&daemon_);
}

static int group_teardown(void **state)
{
	char cmd[400];

	(void)state;
	th_stop(&daemon_);
	th_cleanup(&daemon_);
	if (have_peers)
		stop_peers();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", peers_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static PGconn *conn(void)
{
	PGconn *c = th_connect(&daemon_);

	assert_non_null(c);
	return c;
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

static char *read_text(const char *path)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static void no_validator_left(void)
{
	for (int i = 0; i < 100 && th_child_pid(&daemon_, VALIDATOR_COMM) > 0; i++)
		th_sleep_ms(20);
	assert_true(th_child_pid(&daemon_, VALIDATOR_COMM) <= 0);
}

#define NEED_PEERS() do { if (!have_peers) skip(); } while (0)

static void test_postgres_good_and_wrong_password_and_refused(void **state)
{
	PGconn *c;
	const char *m;

	(void)state;
	NEED_PEERS();
	c = conn();
	exec_ok(c, sqlf("CREATE SECRET pg_pass AS '%s'", peer.pg_password));
	exec_ok(c, "CREATE SECRET pg_wrong AS 'it-wrong-password-81fe'");
	/* POSTGRES validates by default: CREATE connects. */
	exec_ok(c, sqlf("CREATE CONNECTION pg TO POSTGRES (HOST '127.0.0.1', PORT %s, "
			"DATABASE 'app', USER 'tether', PASSWORD SECRET pg_pass, "
			"SSL MODE 'require')", peer.pg_port));
	exec_ok(c, "VALIDATE CONNECTION pg");
	/* Wrong password: 08004, names the host; nothing committed. */
	m = exec_fails(c, sqlf("CREATE CONNECTION pg_bad TO POSTGRES (HOST '127.0.0.1', PORT %s, "
			       "DATABASE 'app', USER 'tether', PASSWORD SECRET pg_wrong, "
			       "SSL MODE 'require')", peer.pg_port), "08004");
	assert_non_null(strstr(m, "127.0.0.1"));
	assert_int_equal(th_exec_ok(c, "SHOW CREATE CONNECTION pg_bad"), 0);
	/* VALIDATE = false skips; the stored connection then fails VALIDATE. */
	exec_ok(c, sqlf("CREATE CONNECTION pg_bad TO POSTGRES (HOST '127.0.0.1', PORT %s, "
			"DATABASE 'app', USER 'tether', PASSWORD SECRET pg_wrong, "
			"SSL MODE 'require') WITH (VALIDATE = false)", peer.pg_port));
	exec_fails(c, "VALIDATE CONNECTION pg_bad", "08004");
	/* ALTER SECRET takes effect at the next validation. */
	exec_ok(c, sqlf("ALTER SECRET pg_wrong AS '%s'", peer.pg_password));
	exec_ok(c, "VALIDATE CONNECTION pg_bad");
	/* A port nobody listens on: 08001. */
	m = exec_fails(c, "CREATE CONNECTION pg_refused TO POSTGRES (HOST '127.0.0.1', PORT 1, "
		       "DATABASE 'app', USER 'tether', PASSWORD SECRET pg_pass)", "08001");
	assert_non_null(strstr(m, "127.0.0.1:1"));
	/* ALTER that fails validation changes nothing. */
	exec_fails(c, "ALTER CONNECTION pg SET (PORT = 1)", "08001");
	exec_ok(c, "VALIDATE CONNECTION pg");
	PQfinish(c);
	no_validator_left();
}

static void write_authorized_keys(PGconn *c, int both)
{
	char *k1 = th_query_value(c, "SELECT public_key_1 FROM mz_ssh_tunnel_connections");
	char *k2 = th_query_value(c, "SELECT public_key_2 FROM mz_ssh_tunnel_connections");
	FILE *f = fopen(peer.ssh_keys, "w");

	assert_non_null(k1);
	assert_non_null(k2);
	assert_non_null(f);
	assert_true(strncmp(k1, "ssh-ed25519 AAAA", 16) == 0);
	fprintf(f, "%s\n", k1);
	if (both)
		fprintf(f, "%s\n", k2);
	fclose(f);
	free(k1);
	free(k2);
}

static void test_ssh_tunnel_keys_pinning_and_rotation(void **state)
{
	PGconn *c;
	char *v;

	(void)state;
	NEED_PEERS();
	c = conn();
	/* SSH TUNNEL does not validate by default. */
	exec_ok(c, sqlf("CREATE CONNECTION bastion TO SSH TUNNEL (HOST '127.0.0.1', PORT %s, "
			"USER '%s')", peer.ssh_port, peer.ssh_user));
	/* Keys not authorized yet: authentication fails. */
	exec_fails(c, "VALIDATE CONNECTION bastion", "08004");
	write_authorized_keys(c, 1);
	exec_ok(c, "VALIDATE CONNECTION bastion");
	/* The bastion's host key is pinned, as ssh-keygen -l prints it. */
	v = th_query_value(c, "SELECT host_key FROM mz_internal.mz_ssh_tunnel_host_keys");
	assert_non_null(v);
	assert_string_equal(v, peer.ssh_host_key);
	free(v);

	/* ROTATE KEYS: old key 2 becomes key 1; it is still authorized. */
	exec_ok(c, "ALTER CONNECTION bastion ROTATE KEYS");
	exec_ok(c, "VALIDATE CONNECTION bastion");
	/* Only the new keys on the bastion: the old primary is gone. */
	write_authorized_keys(c, 1);
	exec_ok(c, "VALIDATE CONNECTION bastion");

	/* PostgreSQL through the bastion, TLS verify-full against the real
	 * target name. */
	exec_ok(c, sqlf("CREATE CONNECTION pg_via_ssh TO POSTGRES (HOST 'localhost', PORT %s, "
			"DATABASE 'app', USER 'tether', PASSWORD SECRET pg_pass, "
			"SSL MODE 'verify-full', SSL CERTIFICATE AUTHORITY '%s', "
			"SSH TUNNEL bastion)", peer.pg_port, read_text(peer.pg_ca)));
	exec_ok(c, "VALIDATE CONNECTION pg_via_ssh");
	/* The bastion refuses the keys now: the tunnel's stage fails, 08004. */
	FILE *f = fopen(peer.ssh_keys, "w");
	assert_non_null(f);
	fclose(f);
	exec_fails(c, "VALIDATE CONNECTION pg_via_ssh", "08004");
	write_authorized_keys(c, 1);
	PQfinish(c);
	no_validator_left();
}

/* A TCP listener that never answers (the kernel completes the handshake;
 * nobody reads). */
static int black_hole(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void test_hanging_validation_killed_at_deadline(void **state)
{
	PGconn *c;
	int port, hole = black_hole(&port);
	long t0;
	const char *m;

	(void)state;
	NEED_PEERS();
	c = conn();
	exec_ok(c, "SET validation_timeout = 1000");
	exec_ok(c, "SET validation_connect_timeout = 60000");
	t0 = now_ms();
	m = exec_fails(c, sqlf("CREATE CONNECTION pg_hang TO POSTGRES (HOST '127.0.0.1', "
			       "PORT %d, DATABASE 'app', USER 'tether', PASSWORD SECRET pg_pass, "
			       "SSL MODE 'require')", port), "08001");
	assert_non_null(strstr(m, "timed out after 1000 ms"));
	assert_true(now_ms() - t0 < 5000);
	no_validator_left();
	assert_int_equal(th_exec_ok(c, "SHOW CREATE CONNECTION pg_hang"), 0);
	PQfinish(c);
	close(hole);
}

static int status_has(pid_t pid, const char *needle)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	char line[256];
	int found = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			found = 1;
	fclose(f);
	return found;
}

static void test_cancel_request_kills_the_validator(void **state)
{
	PGconn *c;
	int port, hole = black_hole(&port);
	pid_t vpid = -1;
	char errbuf[256];

	(void)state;
	NEED_PEERS();
	c = conn();
	exec_ok(c, sqlf("CREATE CONNECTION pg_hang2 TO POSTGRES (HOST '127.0.0.1', PORT %d, "
			"DATABASE 'app', USER 'tether', PASSWORD SECRET pg_pass, "
			"SSL MODE 'require') WITH (VALIDATE = false)", port));
	assert_int_equal(PQsendQuery(c, "VALIDATE CONNECTION pg_hang2"), 1);
	for (int i = 0; i < 250 && vpid <= 0; i++) {
		vpid = th_child_pid(&daemon_, VALIDATOR_COMM);
		if (vpid <= 0)
			th_sleep_ms(20);
	}
	assert_true(vpid > 0);
	/* A running validator is confined. */
	th_sleep_ms(100);
	assert_true(status_has(vpid, "Seccomp:\t2"));
	assert_true(status_has(vpid, "NoNewPrivs:\t1"));

	long t0 = now_ms();
	PGcancel *cancel = PQgetCancel(c);
	assert_non_null(cancel);
	assert_int_equal(PQcancel(cancel, errbuf, sizeof(errbuf)), 1);
	PQfreeCancel(cancel);
	PGresult *r = PQgetResult(c);
	assert_non_null(r);
	assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "57014");
	PQclear(r);
	while ((r = PQgetResult(c)))
		PQclear(r);
	assert_true(now_ms() - t0 < 3000);
	no_validator_left();
	/* The session goes on. */
	exec_ok(c, "SELECT 1");
	/* DROP is never blocked by a validation: start one, drop meanwhile. */
	assert_int_equal(PQsendQuery(c, "VALIDATE CONNECTION pg_hang2"), 1);
	PGconn *c2 = conn();
	exec_ok(c2, "DROP CONNECTION pg_hang2");
	PQfinish(c2);
	cancel = PQgetCancel(c);
	PQcancel(cancel, errbuf, sizeof(errbuf));
	PQfreeCancel(cancel);
	while ((r = PQgetResult(c)))
		PQclear(r);
	PQfinish(c);
	close(hole);
	no_validator_left();
}

/* A hostile "SSH server": a 1 MiB banner line, then garbage packets. */
static pid_t hostile_server(int *port)
{
	int lfd = black_hole(port);
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		static char junk[65536];

		memset(junk, 'A', sizeof(junk));
		for (;;) {
			int c = accept(lfd, NULL, NULL);
			if (c < 0)
				continue;
			(void)!write(c, "SSH-2.0-", 8);
			for (int i = 0; i < 16; i++)
				(void)!write(c, junk, sizeof(junk));
			(void)!write(c, "\r\n", 2);
			for (int i = 0; i < 64; i++) {
				junk[i] = (char)(i * 37);
				(void)!write(c, junk, 4096);
			}
			close(c);
		}
	}
	close(lfd);
	return pid;
}

static void test_hostile_peer_kills_only_its_validator(void **state)
{
	PGconn *c;
	int port;
	pid_t hs = hostile_server(&port);
	pid_t vault = th_child_pid(&daemon_, "tether-vault");
	pid_t catalog = th_child_pid(&daemon_, "tether-catalog");
	PGresult *r;

	(void)state;
	NEED_PEERS();
	c = conn();
	exec_ok(c, "SET validation_timeout = 5000");
	exec_ok(c, sqlf("CREATE CONNECTION hostile TO SSH TUNNEL (HOST '127.0.0.1', PORT %d, "
			"USER 'root')", port));
	r = PQexec(c, "VALIDATE CONNECTION hostile");
	const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	assert_non_null(st);
	/* A connection-class error (protocol / timeout), never a success. */
	assert_true(strncmp(st, "08", 2) == 0 || strcmp(st, "XX000") == 0);
	PQclear(r);
	/* Nobody else was hurt. */
	assert_int_equal(th_child_pid(&daemon_, "tether-vault"), vault);
	assert_int_equal(th_child_pid(&daemon_, "tether-catalog"), catalog);
	exec_ok(c, "VALIDATE CONNECTION pg");
	no_validator_left();
	kill(hs, SIGKILL);
	waitpid(hs, NULL, 0);
	PQfinish(c);
}

static void test_no_secret_in_clear(void **state)
{
	(void)state;
	NEED_PEERS();
	assert_int_equal(th_tree_contains(daemon_.dir, peer.pg_password, strlen(peer.pg_password)),
			 0);
	assert_int_equal(th_tree_contains(daemon_.dir, "it-wrong-password-81fe", 22), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_postgres_good_and_wrong_password_and_refused),
		cmocka_unit_test(test_ssh_tunnel_keys_pinning_and_rotation),
		cmocka_unit_test(test_hanging_validation_killed_at_deadline),
		cmocka_unit_test(test_cancel_request_kills_the_validator),
		cmocka_unit_test(test_hostile_peer_kills_only_its_validator),
		cmocka_unit_test(test_no_secret_in_clear),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
