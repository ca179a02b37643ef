/* KAFKA validation end to end: a real tetherd (its validators under seccomp
 * in TETHER_SECCOMP_DEBUG mode, so that a blocked syscall is named in the
 * log) against librdkafka's mock cluster (tests/fakes/kafka_mock), the
 * SASL front (tests/fakes/kafka_front.py) and OpenSSH's sshd as bastion
 * (tests/peers/sshd_start.sh): CREATE validates by default, a dead broker
 * fails 08001 naming it, SASL SCRAM with a vault-held password (and a wrong
 * one: 08004), the default SSH TUNNEL, per-broker tunnels through two SSH
 * TUNNEL connections (two key grants in one job), and a per-broker tunnel
 * whose keys the bastion refuses. The SASL and SSH cases skip when python3
 * or sshd is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define VALIDATOR_COMM "tether-validato"    /* comm is 15 characters */
#define KAFKA_PASSWORD "it-kafka-pw-5d1c9e"

/* A helper process: stdin is our pipe (closing it ends the process), the
 * first stdout line is its answer. */
struct proc {
	pid_t pid;
	int in_fd;
	char line[512];
};

static struct tetherd daemon_;
static char dir[64];
static struct proc mock, front;
static int have_front, have_sshd;
static char brokers[3][64];            /* the mock's "127.0.0.1:P" */
static char sasl_broker[64], sasl_ssl_broker[64];
static struct {
	char port[16], user[64], host_key[128], keys[300];
} ssh;

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int proc_start(struct proc *p, char *const argv[], const char *input, int timeout_ms)
{
	int in[2], out[2];
	size_t n = 0;
	long deadline = now_ms() + timeout_ms;

	memset(p, 0, sizeof(*p));
	p->in_fd = -1;
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
		return -1;
	p->pid = fork();
	if (p->pid < 0)
		return -1;
	if (p->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in[0], 0);
		dup2(out[1], 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	p->in_fd = in[1];
	if (input && write(p->in_fd, input, strlen(input)) != (ssize_t)strlen(input)) {
		close(out[0]);
		return -1;
	}
	while (n < sizeof(p->line) - 1 && !memchr(p->line, '\n', n)) {
		struct pollfd pf = { .fd = out[0], .events = POLLIN };
		long left = deadline - now_ms();
		ssize_t r;

		if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
			break;
		r = read(out[0], p->line + n, sizeof(p->line) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(out[0]);
	p->line[n] = '\0';
	p->line[strcspn(p->line, "\n")] = '\0';
	return p->line[0] ? 0 : -1;
}

static void proc_stop(struct proc *p)
{
	if (p->in_fd >= 0)
		close(p->in_fd);
	p->in_fd = -1;
	if (p->pid <= 0)
		return;
	for (int i = 0; i < 300; i++) {
		if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
			p->pid = 0;
			return;
		}
		usleep(10000);
	}
	kill(p->pid, SIGKILL);
	waitpid(p->pid, NULL, 0);
	p->pid = 0;
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

/* "k1=v1 k2=v2": the value of key. */
static int field(const char *line, const char *key, char *out, size_t size)
{
	size_t kl = strlen(key);

	for (const char *p = line; (p = strstr(p, key)) != NULL; p += kl) {
		if ((p != line && p[-1] != ' ') || p[kl] != '=')
			continue;
		snprintf(out, size, "%.*s", (int)strcspn(p + kl + 1, " "), p + kl + 1);
		return 0;
	}
	return -1;
}

static int start_front(void)
{
	char input[1024], path[200], cmd[400], v[16];
	char *argv[] = { "/usr/bin/python3", path, NULL };

	if (access("/usr/bin/python3", X_OK) != 0)
		return -1;
	/* Test PKI: ca.pem signs server.pem (127.0.0.1, localhost). */
	snprintf(cmd, sizeof(cmd), "bash %s/kafka_certs.sh %s >/dev/null 2>&1", TETHER_FAKES_DIR,
		 dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/kafka_front.py", TETHER_FAKES_DIR);
	snprintf(input, sizeof(input),
		 "{\"upstream\": \"%s\", \"cert\": \"%s/server.pem\", \"key\": \"%s/server.key\", "
		 "\"client_ca\": \"%s/ca.pem\", \"user\": \"tether\", \"password\": \"%s\", "
		 "\"listeners\": [\"sasl_plaintext\", \"sasl_ssl\"], \"lifetime\": 300}\n",
		 brokers[0], dir, dir, dir, KAFKA_PASSWORD);
	if (proc_start(&front, argv, input, 10000) != 0 || strncmp(front.line, "READY ", 6) != 0 ||
	    field(front.line, "sasl_plaintext", v, sizeof(v)) != 0)
		return -1;
	snprintf(sasl_broker, sizeof(sasl_broker), "127.0.0.1:%s", v);
	if (field(front.line, "sasl_ssl", v, sizeof(v)) != 0)
		return -1;
	snprintf(sasl_ssl_broker, sizeof(sasl_ssl_broker), "127.0.0.1:%s", v);
	return 0;
}

static int start_sshd(void)
{
	char cmd[512], env[200];

	snprintf(cmd, sizeof(cmd), "%s/sshd_start.sh %s/ssh >%s/sshd_start.log 2>&1",
		 TETHER_PEERS_DIR, dir, dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(env, sizeof(env), "%s/ssh/env", dir);
	if (env_get(env, "SSHD_PORT", ssh.port, sizeof(ssh.port)) < 0 ||
	    env_get(env, "SSHD_USER", ssh.user, sizeof(ssh.user)) < 0 ||
	    env_get(env, "SSHD_HOST_KEY", ssh.host_key, sizeof(ssh.host_key)) < 0 ||
	    env_get(env, "SSHD_AUTHORIZED_KEYS", ssh.keys, sizeof(ssh.keys)) < 0)
		return -1;
	return 0;
}

static int group_setup(void **state)
{
	char *argv[] = { (char *)TETHER_KAFKA_MOCK, "--brokers", "3", "--topic", "tether-test",
			 "--lifetime", "300", NULL };
	const char *p;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/tether-itkafka-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	if (proc_start(&mock, argv, NULL, 10000) != 0 ||
	    strncmp(mock.line, "KAFKA_BOOTSTRAPS=", 17) != 0) {
		fprintf(stderr, "kafka_mock did not start\n");
		return -1;
	}
	p = mock.line + 17;
	for (int i = 0; i < 3; i++) {
		size_t n = strcspn(p, ",");
		snprintf(brokers[i], sizeof(brokers[i]), "%.*s", (int)n, p);
		p += n + (p[n] ? 1 : 0);
	}
	have_front = start_front() == 0;
	if (!have_front)
		fprintf(stderr, "kafka_front.py did not start: SASL cases skip\n");
	have_sshd = start_sshd() == 0;
	if (!have_sshd)
		fprintf(stderr, "sshd did not start (logs in %s): SSH cases skip\n", dir);
	/* Blocked syscalls are named in the log instead of killing silently. */
	setenv("TETHER_SECCOMP_DEBUG", "1", 1);
	return th_start(&daemon_);
}

static int group_teardown(void **state)
{
	char cmd[400];

	(void)state;
	th_stop(&daemon_);
	th_cleanup(&daemon_);
	proc_stop(&front);
	proc_stop(&mock);
	if (have_sshd) {
		snprintf(cmd, sizeof(cmd), "%s/sshd_stop.sh %s/ssh >/dev/null 2>&1",
			 TETHER_PEERS_DIR, dir);
		if (system(cmd) != 0)
			fprintf(stderr, "stopping sshd failed\n");
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

static void assert_count(PGconn *c, const char *sql, const char *want)
{
	char *v = th_query_value(c, sql);

	assert_non_null(v);
	if (strcmp(v, want) != 0)
		fail_msg("%s\n  -> %s, expected %s", sql, v, want);
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

static void test_plaintext_validates_by_default(void **state)
{
	PGconn *c = conn();

	(void)state;
	/* KAFKA validates by default: CREATE fetches the cluster's metadata. */
	exec_ok(c, sqlf("CREATE CONNECTION k TO KAFKA (BROKER '%s', SECURITY PROTOCOL PLAINTEXT)",
			brokers[0]));
	exec_ok(c, "VALIDATE CONNECTION k");
	/* Every broker listed, in another order, and a progress topic
	 * replication factor the three brokers satisfy. */
	exec_ok(c, sqlf("CREATE CONNECTION k3 TO KAFKA (BROKERS ('%s', '%s', '%s'), "
			"SECURITY PROTOCOL PLAINTEXT, PROGRESS TOPIC REPLICATION FACTOR 3)",
			brokers[2], brokers[0], brokers[1]));
	/* ALTER validates the result; a failure changes nothing. */
	exec_fails(c, sqlf("ALTER CONNECTION k SET (BROKER = '127.0.0.1:%d')", closed_port()),
		   "08001");
	exec_ok(c, "VALIDATE CONNECTION k");
	exec_ok(c, "DROP CONNECTION k3");
	PQfinish(c);
	no_validator_left();
}

static void test_dead_broker_fails_naming_it(void **state)
{
	PGconn *c = conn();
	char addr[64];
	const char *m;
	long t0 = now_ms();

	(void)state;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", closed_port());
	m = exec_fails(c, sqlf("CREATE CONNECTION k_dead TO KAFKA (BROKER '%s', "
			       "SECURITY PROTOCOL PLAINTEXT)", addr), "08001");
	assert_non_null(strstr(m, addr));
	assert_true(now_ms() - t0 < 5000);     /* every broker down ends the wait */
	assert_count(c, "SELECT count(*) FROM mz_connections WHERE name = 'k_dead'", "0");
	/* Stored without validation, VALIDATE says the same. */
	exec_ok(c, sqlf("CREATE CONNECTION k_dead TO KAFKA (BROKER '%s', "
			"SECURITY PROTOCOL PLAINTEXT) WITH (VALIDATE = false)", addr));
	m = exec_fails(c, "VALIDATE CONNECTION k_dead", "08001");
	assert_non_null(strstr(m, addr));
	exec_ok(c, "DROP CONNECTION k_dead");
	PQfinish(c);
	no_validator_left();
}

static void test_sasl_scram_with_vault_password(void **state)
{
	PGconn *c;
	const char *m;

	(void)state;
	if (!have_front)
		skip();
	c = conn();
	exec_ok(c, "CREATE SECRET kafka_pw AS '" KAFKA_PASSWORD "'");
	exec_ok(c, "CREATE SECRET kafka_wrong AS 'it-kafka-wrong-77a0'");
	exec_ok(c, sqlf("CREATE CONNECTION k_sasl TO KAFKA (BROKER '%s', SECURITY PROTOCOL "
			"SASL_PLAINTEXT, SASL MECHANISMS 'SCRAM-SHA-256', SASL USERNAME 'tether', "
			"SASL PASSWORD SECRET kafka_pw)", sasl_broker));
	/* The username may be a secret too (a chain of parts). */
	exec_ok(c, "CREATE SECRET kafka_user AS 'teth'");
	exec_ok(c, sqlf("CREATE CONNECTION k_sasl2 TO KAFKA (BROKER '%s', SECURITY PROTOCOL "
			"SASL_PLAINTEXT, SASL MECHANISMS 'PLAIN', SASL USERNAME SECRET kafka_user "
			"|| 'er', SASL PASSWORD SECRET kafka_pw)", sasl_broker));
	m = exec_fails(c, sqlf("CREATE CONNECTION k_sasl_bad TO KAFKA (BROKER '%s', "
			       "SECURITY PROTOCOL SASL_PLAINTEXT, SASL MECHANISMS 'SCRAM-SHA-512', "
			       "SASL USERNAME 'tether', SASL PASSWORD SECRET kafka_wrong)",
			       sasl_broker), "08004");
	assert_non_null(strstr(m, sasl_broker));
	assert_null(strstr(m, "it-kafka-wrong"));
	/* SASL_SSL: the CA as a secret (PEM from the vault, in memory). */
	{
		char path[200], pem[4096];
		FILE *f;
		size_t n;

		snprintf(path, sizeof(path), "%s/ca.pem", dir);
		f = fopen(path, "r");
		assert_non_null(f);
		n = fread(pem, 1, sizeof(pem) - 1, f);
		fclose(f);
		pem[n] = '\0';
		exec_ok(c, sqlf("CREATE SECRET kafka_ca AS '%s'", pem));
		snprintf(path, sizeof(path), "%s/other_ca.pem", dir);
		f = fopen(path, "r");
		assert_non_null(f);
		n = fread(pem, 1, sizeof(pem) - 1, f);
		fclose(f);
		pem[n] = '\0';
		exec_ok(c, sqlf("CREATE SECRET kafka_other_ca AS '%s'", pem));
	}
	exec_ok(c, sqlf("CREATE CONNECTION k_sasl_ssl TO KAFKA (BROKER '%s', SASL MECHANISMS "
			"'SCRAM-SHA-512', SASL USERNAME 'tether', SASL PASSWORD SECRET kafka_pw, "
			"SSL CERTIFICATE AUTHORITY SECRET kafka_ca)", sasl_ssl_broker));
	/* A CA that did not sign the broker's certificate: 08001 (tls). */
	m = exec_fails(c, sqlf("CREATE CONNECTION k_sasl_ssl_bad TO KAFKA (BROKER '%s', SASL "
			       "MECHANISMS 'PLAIN', SASL USERNAME 'tether', SASL PASSWORD SECRET "
			       "kafka_pw, SSL CERTIFICATE AUTHORITY SECRET kafka_other_ca)",
			       sasl_ssl_broker), "08001");
	assert_non_null(strstr(m, sasl_ssl_broker));
	/* ALTER SECRET takes effect at the next validation. */
	exec_ok(c, "ALTER SECRET kafka_pw AS 'it-kafka-changed-0b1'");
	exec_fails(c, "VALIDATE CONNECTION k_sasl", "08004");
	exec_ok(c, "ALTER SECRET kafka_pw AS '" KAFKA_PASSWORD "'");
	exec_ok(c, "VALIDATE CONNECTION k_sasl");
	PQfinish(c);
	no_validator_left();
	assert_int_equal(th_tree_contains(daemon_.dir, KAFKA_PASSWORD, strlen(KAFKA_PASSWORD)), 0);
}

/* authorized_keys: public key 1 of each named SSH TUNNEL connection. */
static void authorize(PGconn *c, const char *const *names, size_t n)
{
	FILE *f = fopen(ssh.keys, "w");

	assert_non_null(f);
	for (size_t i = 0; i < n; i++) {
		char *k = th_query_value(c, sqlf("SELECT t.public_key_1 FROM mz_ssh_tunnel_connections t "
						 "JOIN mz_connections USING (id) WHERE name = '%s'",
						 names[i]));
		assert_non_null(k);
		assert_true(strncmp(k, "ssh-ed25519 AAAA", 16) == 0);
		fprintf(f, "%s\n", k);
		free(k);
	}
	fclose(f);
}

static void test_through_ssh_tunnels(void **state)
{
	PGconn *c;
	const char *m;
	char *v;

	(void)state;
	if (!have_sshd)
		skip();
	c = conn();
	exec_ok(c, sqlf("CREATE CONNECTION bastion TO SSH TUNNEL (HOST '127.0.0.1', PORT %s, "
			"USER '%s')", ssh.port, ssh.user));
	exec_ok(c, sqlf("CREATE CONNECTION bastion2 TO SSH TUNNEL (HOST 'localhost', PORT %s, "
			"USER '%s')", ssh.port, ssh.user));
	/* Keys not authorized: the tunnel's authentication fails, 08004. */
	exec_fails(c, sqlf("CREATE CONNECTION k_ssh TO KAFKA (BROKER '%s', SECURITY PROTOCOL "
			   "PLAINTEXT, SSH TUNNEL bastion)", brokers[0]), "08004");
	authorize(c, (const char *const[]){ "bastion" }, 1);
	/* The default tunnel: the listed broker and those the cluster
	 * advertises go through the bastion; its host key is pinned. */
	exec_ok(c, sqlf("CREATE CONNECTION k_ssh TO KAFKA (BROKER '%s', SECURITY PROTOCOL "
			"PLAINTEXT, SSH TUNNEL bastion)", brokers[0]));
	v = th_query_value(c, "SELECT k.host_key FROM mz_internal.mz_ssh_tunnel_host_keys k "
			   "JOIN mz_connections c USING (id) WHERE c.name = 'bastion'");
	assert_non_null(v);
	assert_string_equal(v, ssh.host_key);
	free(v);
	/* One broker through its own tunnel (no default). */
	exec_ok(c, sqlf("CREATE CONNECTION k_ssh1 TO KAFKA (BROKERS ('%s' USING SSH TUNNEL bastion), "
			"SECURITY PROTOCOL PLAINTEXT)", brokers[1]));
	/* Two per-broker tunnels in one job (two key grants): the second's
	 * keys are refused by the bastion until authorized. */
	const char *two = sqlf("CREATE CONNECTION k_ssh2 TO KAFKA (BROKERS ('%s' USING SSH TUNNEL "
			       "bastion, '%s' USING SSH TUNNEL bastion2), SECURITY PROTOCOL "
			       "PLAINTEXT)", brokers[0], brokers[1]);
	char sql[1024];
	snprintf(sql, sizeof(sql), "%s", two);
	m = exec_fails(c, sql, "08004");
	assert_non_null(strstr(m, "localhost"));
	authorize(c, (const char *const[]){ "bastion", "bastion2" }, 2);
	exec_ok(c, sql);
	/* ... and with a default tunnel for the third, advertised broker. */
	exec_ok(c, sqlf("CREATE CONNECTION k_ssh3 TO KAFKA (BROKERS ('%s' USING SSH TUNNEL "
			"bastion2, '%s'), SECURITY PROTOCOL PLAINTEXT, SSH TUNNEL bastion)",
			brokers[0], brokers[1]));
	/* The bastion refuses every key now: VALIDATE fails, 08004. */
	authorize(c, NULL, 0);
	exec_fails(c, "VALIDATE CONNECTION k_ssh2", "08004");
	exec_fails(c, "VALIDATE CONNECTION k_ssh", "08004");
	authorize(c, (const char *const[]){ "bastion", "bastion2" }, 2);
	exec_ok(c, "VALIDATE CONNECTION k_ssh");
	PQfinish(c);
	no_validator_left();
}

/* Every validator of this file ran under TETHER_SECCOMP_DEBUG=1: a syscall
 * outside the validator's allowlist would be named in the log. */
static void test_no_blocked_syscall(void **state)
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
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plaintext_validates_by_default),
		cmocka_unit_test(test_dead_broker_fails_naming_it),
		cmocka_unit_test(test_sasl_scram_with_vault_password),
		cmocka_unit_test(test_through_ssh_tunnels),
		cmocka_unit_test(test_no_blocked_syscall),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
