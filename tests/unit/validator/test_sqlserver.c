/* The SQL SERVER check (FreeTDS db-lib) against tests/fakes/tds_fake.py, a
 * faithful TDS 7.4 PRELOGIN/LOGIN7 peer (plain and TLS inside PRELOGIN),
 * started and ended by each test, plus refused / timeout / DNS against
 * nothing and through the OpenSSH bastion. Fake vault services hold the
 * password. Skips what needs python3 or sshd when they are missing. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "val.h"
#include "vtest.h"

#ifndef TETHER_FAKES_DIR
#define TETHER_FAKES_DIR TETHER_PEERS_DIR "/../fakes"
#endif
#define PYTHON "/usr/bin/python3"
/* Random per run: a fixed literal could be found in /tmp files left by
 * another run of this test, which would fail the secret scan. */
static char PASSWORD[40] = "Fake-Passw0rd-for-tds";

enum { SEC_PASSWORD = 1, SEC_CA, SEC_OTHER_CA, SEC_SELF };

static struct {
	bool have_python, have_sshd, have_tls;
	struct peer sshd;
	struct fake_svc f;
	char dir[64];              /* certificates for the TLS fake */
	time_t since;
} P;

struct tds_fake {
	pid_t pid;
	int in;                    /* its stdin: closing it ends the fake */
	int port;
	char log[128];
};

/* Starts the fake with extra arguments; the password goes down its stdin. */
static int fake_start(struct tds_fake *t, const char *const *extra)
{
	int in[2], out[2];
	memset(t, 0, sizeof(*t));
	snprintf(t->log, sizeof(t->log), "%s/fake.log", P.dir);
	unlink(t->log);
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
		return -1;
	const char *argv[24] = { PYTHON, TETHER_FAKES_DIR "/tds_fake.py", "--user", "sa",
				 "--database", "app", "--lifetime", "60", "--log", t->log };
	int n = 10;
	for (size_t i = 0; extra && extra[i] && n < 22; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in[0], 0);
		dup2(out[1], 1);
		execv(PYTHON, (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	t->pid = pid;
	t->in = in[1];
	char pw[sizeof(PASSWORD) + 1];
	int pwlen = snprintf(pw, sizeof(pw), "%s\n", PASSWORD);
	if (write(t->in, pw, (size_t)pwlen) != (ssize_t)pwlen)
		return -1;
	char buf[64] = { 0 };
	size_t got = 0;
	while (got < sizeof(buf) - 1 && !strchr(buf, '\n')) {
		ssize_t k = read(out[0], buf + got, sizeof(buf) - 1 - got);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(out[0]);
	if (strncmp(buf, "PORT=", 5) != 0)
		return -1;
	t->port = atoi(buf + 5);
	return t->port > 0 ? 0 : -1;
}

static void fake_stop(struct tds_fake *t)
{
	if (t->in > 0)
		close(t->in);
	if (t->pid > 0) {
		for (int i = 0; i < 100; i++) {
			if (waitpid(t->pid, NULL, WNOHANG) == t->pid) {
				t->pid = 0;
				return;
			}
			usleep(20000);
		}
		kill(t->pid, SIGKILL);
		waitpid(t->pid, NULL, 0);
	}
	t->pid = 0;
}

static bool fake_logged(const struct tds_fake *t, const char *needle)
{
	char buf[4096] = { 0 };
	FILE *f = fopen(t->log, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

static void need(bool python, bool sshd)
{
	if ((python && !P.have_python) || (sshd && !P.have_sshd)) {
		print_message("python3 / openssh-server not available: skipped\n");
		skip();
	}
}

static int closed_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
	close(s);
	return ntohs(sa.sin_port);
}

static int silent_listener(int *port)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s, 8), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
	*port = ntohs(sa.sin_port);
	return s;
}

static void ms_job_db(struct job_builder *b, const char *host, int port, const char *mode,
		      const char *database)
{
	static char portbuf[16];
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	job_init(b, "sql-server", 2000);
	job_text(b, "HOST", host);
	job_text(b, "PORT", portbuf);
	job_text(b, "DATABASE", database);
	job_text(b, "USER", "sa");
	job_secret(b, "PASSWORD", SEC_PASSWORD);
	if (mode)
		job_text(b, "SSL MODE", mode);
}

static void ms_job(struct job_builder *b, const char *host, int port, const char *mode)
{
	ms_job_db(b, host, port, mode, "app");
}

static int run_ms(struct job_builder *b, struct val_result *r)
{
	struct val_services svc = fake_services(&P.f);
	memset(r, 0, sizeof(*r));
	int rc = conn_sqlserver_validate(&svc, job_done(b), r);
	print_message("    sqlserver: rc=%d code=%s sqlstate=%s stage=%s\n      message: %s\n"
		      "      detail: %s\n      hint: %s\n", rc, val_code_name(r->code),
		      r->e.sqlstate, r->stage, r->e.message, r->e.detail, r->e.hint);
	assert_null(strstr(r->e.message, PASSWORD));
	assert_null(strstr(r->e.detail, PASSWORD));
	return rc;
}

static void authorize(bool on)
{
	char line[160];
	FILE *f = fopen(peer_get(&P.sshd, "SSHD_AUTHORIZED_KEYS"), "w");
	assert_non_null(f);
	if (on) {
		fake_key_line(&P.f, 1, line, sizeof(line));
		fprintf(f, "%s\n", line);
	}
	fclose(f);
}

static void tunnel_of(struct job_builder *b)
{
	b->tunnel = (struct val_ssh_tunnel){
		.connection_id = 77, .host = "127.0.0.1",
		.port = (uint16_t)atoi(peer_get(&P.sshd, "SSHD_PORT")),
		.user = peer_get(&P.sshd, "SSHD_USER"), .pinned_host_key = NULL,
	};
	b->job.tunnel = &b->tunnel;
}

/* A CA and a server certificate for localhost/127.0.0.1 (and a CA that
 * signed nothing), made with openssl under P.dir. */
static bool make_certs(void)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "cd %s && { "
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-days 2 -subj /CN=tds-test-ca -addext basicConstraints=critical,CA:TRUE "
		 "-keyout ca.key -out ca.crt && "
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-days 2 -subj /CN=tds-other-ca -addext basicConstraints=critical,CA:TRUE "
		 "-keyout other-ca.key -out other-ca.crt && "
		 "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-subj /CN=localhost -keyout server.key -out server.csr && "
		 "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > server.ext && "
		 "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
		 "-days 2 -extfile server.ext -out server.crt && "
		 /* More leaves from the same CA: <name> <CN> <subjectAltName>. */
		 "leaf() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-subj /CN=$2 -keyout $1.key -out $1.csr && printf 'subjectAltName=%%s\n' $3 "
		 "> $1.ext && openssl x509 -req -in $1.csr -CA ca.crt -CAkey ca.key "
		 "-CAcreateserial -days 2 -extfile $1.ext -out $1.crt; } && "
		 "leaf server2 localhost DNS:localhost,IP:127.0.0.1 && "
		 "leaf other other.example DNS:other.example && "
		 "leaf iponly 127.0.0.1 IP:127.0.0.1 && "
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost "
		 "-keyout self.key -out self.crt; } >/dev/null 2>&1", P.dir);
	return system(cmd) == 0;
}

/* ---- group ---- */

static int group_setup(void **state)
{
	(void)state;
	fake_init(&P.f);
	fake_keys(&P.f);
	{
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(PASSWORD, sizeof(PASSWORD), "Fake-Pw-%08lx%08lx",
			 (unsigned long)ts.tv_nsec ^ (unsigned long)getpid(),
			 (unsigned long)ts.tv_sec);
	}
	fake_secret_set(&P.f, SEC_PASSWORD, PASSWORD, strlen(PASSWORD));
	snprintf(P.dir, sizeof(P.dir), "/tmp/tether-tds.XXXXXX");
	if (!mkdtemp(P.dir))
		return -1;
	P.have_python = access(PYTHON, X_OK) == 0;
	P.have_tls = P.have_python && make_certs();
	if (P.have_tls) {
		char path[128];
		snprintf(path, sizeof(path), "%s/ca.crt", P.dir);
		if (fake_secret_file(&P.f, SEC_CA, path) != 0)
			return -1;
		snprintf(path, sizeof(path), "%s/other-ca.crt", P.dir);
		if (fake_secret_file(&P.f, SEC_OTHER_CA, path) != 0)
			return -1;
		snprintf(path, sizeof(path), "%s/self.crt", P.dir);
		if (fake_secret_file(&P.f, SEC_SELF, path) != 0)
			return -1;
	}
	int rc = peer_start(&P.sshd, "sshd_start.sh", "sshd_stop.sh", NULL);
	if (rc < 0)
		return -1;
	P.have_sshd = rc == 0;
	P.since = time(NULL) - 1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	peer_stop(&P.sshd);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", P.dir);
	if (system(cmd) != 0) {
	}
	for (int i = 0; i < 100 && waitpid(-1, NULL, WNOHANG) >= 0; i++)
		usleep(10000);
	fake_free(&P.f);
	return 0;
}

/* ---- no peer ---- */

static void test_sqlserver_config_errors(void **state)
{
	(void)state;
	struct job_builder b;
	struct val_result r;

	ms_job(&b, "127.0.0.1", 1433, "verify_full");
	assert_int_equal(run_ms(&b, &r), -1);
	assert_string_equal(r.e.sqlstate, "22023");
	assert_non_null(strstr(r.e.message, "unknown SSL MODE \"verify_full\""));

	ms_job(&b, "127.0.0.1", 1433, "verify_ca");
	assert_int_equal(run_ms(&b, &r), -1);
	assert_non_null(strstr(r.e.message,
			       "SSL MODE 'verify_ca' requires SSL CERTIFICATE AUTHORITY"));

	/* A HOST that would inject freetds.conf lines. */
	ms_job(&b, "127.0.0.1\n\tport = 1", 1433, NULL);
	assert_int_equal(run_ms(&b, &r), -1);
	assert_int_equal(r.code, VAL_CONFIG);
	assert_non_null(strstr(r.e.message, "invalid HOST"));

	job_init(&b, "sql-server", 700);
	job_text(&b, "HOST", "127.0.0.1");
	job_text(&b, "DATABASE", "app");
	job_text(&b, "USER", "sa");
	assert_int_equal(run_ms(&b, &r), -1);
	assert_non_null(strstr(r.e.message, "PASSWORD option is required"));

	ms_job(&b, "127.0.0.1", 1433, NULL);
	job_text(&b, "AWS PRIVATELINK", "9");
	assert_int_equal(run_ms(&b, &r), -1);
	assert_string_equal(r.e.sqlstate, "0A000");
	assert_string_equal(r.e.message, "AWS PrivateLink connections are unsupported");
}

static void test_sqlserver_dns_refused_timeout(void **state)
{
	(void)state;
	struct job_builder b;
	struct val_result r;
	char want[64];

	ms_job(&b, "no-such-host.invalid", 1433, NULL);
	assert_int_equal(run_ms(&b, &r), -1);
	assert_int_equal(r.code, VAL_DNS);
	assert_non_null(strstr(r.e.message, "failed to resolve no-such-host.invalid: "));

	int p = closed_port();
	ms_job(&b, "127.0.0.1", p, NULL);
	assert_int_equal(run_ms(&b, &r), -1);
	assert_int_equal(r.code, VAL_REFUSED);
	assert_string_equal(r.e.sqlstate, "08001");
	snprintf(want, sizeof(want), "failed to connect to 127.0.0.1:%d: ", p);
	assert_non_null(strstr(r.e.message, want));
	assert_true(r.e.hint[0] != '\0');

	int s = silent_listener(&p);
	ms_job(&b, "127.0.0.1", p, NULL);
	int64_t t0 = val_now_ms();
	assert_int_equal(run_ms(&b, &r), -1);
	int64_t took = val_now_ms() - t0;
	close(s);
	assert_int_equal(r.code, VAL_TIMEOUT);
	assert_string_equal(r.e.sqlstate, "08001");
	assert_true(took >= 1500 && took < 8000);
}

/* ---- the fake ---- */

static void test_sqlserver_login_ok_and_failed(void **state)
{
	(void)state;
	need(true, false);
	struct tds_fake t;
	struct job_builder b;
	struct val_result r;
	assert_int_equal(fake_start(&t, (const char *const[]){ "--encrypt", "none", NULL }), 0);

	ms_job(&b, "127.0.0.1", t.port, NULL);   /* D disabled */
	assert_int_equal(run_ms(&b, &r), 0);
	assert_int_equal(r.code, VAL_OK);

	/* Wrong password: 18456 -> auth, the server's words. */
	fake_secret_set(&P.f, SEC_PASSWORD, "Wrong-Passw0rd-xyz", 18);
	ms_job(&b, "localhost", t.port, "disabled");
	int rc = run_ms(&b, &r);
	fake_secret_set(&P.f, SEC_PASSWORD, PASSWORD, strlen(PASSWORD));
	assert_int_equal(rc, -1);
	assert_int_equal(r.code, VAL_AUTH);
	assert_string_equal(r.e.sqlstate, "08004");
	assert_string_equal(r.stage, "target_auth");
	assert_non_null(strstr(r.e.message, "authentication to SQL SERVER server localhost "
					    "failed: Login failed for user 'sa'."));
	assert_null(strstr(r.e.message, "Wrong-Passw0rd-xyz"));
	assert_null(strstr(r.e.detail, "Wrong-Passw0rd-xyz"));

	/* Unknown database: 4060 -> permission. */
	ms_job_db(&b, "127.0.0.1", t.port, NULL, "nosuchdb");
	assert_int_equal(run_ms(&b, &r), -1);
	assert_int_equal(r.code, VAL_PERMISSION);
	assert_non_null(strstr(r.e.message, "Cannot open database \"nosuchdb\""));

	/* The server cannot encrypt but the connection requires it. */
	ms_job(&b, "127.0.0.1", t.port, "required");
	assert_int_equal(run_ms(&b, &r), -1);
	assert_int_equal(r.code, VAL_TLS);

	fake_stop(&t);
	assert_true(fake_logged(&t, "sa ok db=app tls=no"));
	assert_true(fake_logged(&t, "sa login failed"));
}

static void test_sqlserver_malformed_reply_is_protocol(void **state)
{
	(void)state;
	need(true, false);
	struct tds_fake t;
	struct job_builder b;
	struct val_result r;
	assert_int_equal(fake_start(&t, (const char *const[]){ "--mode", "garbage", NULL }), 0);
	ms_job(&b, "127.0.0.1", t.port, NULL);
	assert_int_equal(run_ms(&b, &r), -1);
	assert_true(r.code == VAL_PROTOCOL || r.code == VAL_TIMEOUT);
	fake_stop(&t);
}

static void test_sqlserver_tls(void **state)
{
	(void)state;
	need(true, false);
	if (!P.have_tls)
		skip();
	char cert[128], key[128];
	snprintf(cert, sizeof(cert), "%s/server.crt", P.dir);
	snprintf(key, sizeof(key), "%s/server.key", P.dir);
	struct tds_fake t;
	struct job_builder b;
	struct val_result r;
	assert_int_equal(fake_start(&t, (const char *const[]){ "--encrypt", "on", "--cert", cert,
								"--key", key, NULL }), 0);

	/* required: encrypted, any certificate. */
	ms_job(&b, "127.0.0.1", t.port, "required");
	assert_int_equal(run_ms(&b, &r), 0);

	/* verify_ca with the right CA and a name the certificate holds. */
	ms_job(&b, "localhost", t.port, "verify_ca");
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
	assert_int_equal(run_ms(&b, &r), 0);

	/* The wrong CA. */
	ms_job(&b, "localhost", t.port, "verify_ca");
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_OTHER_CA);
	assert_int_equal(run_ms(&b, &r), -1);
	assert_int_equal(r.code, VAL_TLS);
	assert_string_equal(r.stage, "target_tls");

	/* verify: the system's roots do not know the test CA. */
	ms_job(&b, "localhost", t.port, "verify");
	assert_int_equal(run_ms(&b, &r), -1);
	assert_int_equal(r.code, VAL_TLS);

	/* Encryption off against a server that requires it. */
	ms_job(&b, "127.0.0.1", t.port, "disabled");
	assert_int_equal(run_ms(&b, &r), -1);
	assert_true(r.code == VAL_PROTOCOL || r.code == VAL_TLS);

	/* Wrong password inside TLS: still the server's 18456. */
	fake_secret_set(&P.f, SEC_PASSWORD, "Wrong-Passw0rd-xyz", 18);
	ms_job(&b, "127.0.0.1", t.port, "required");
	int rc = run_ms(&b, &r);
	fake_secret_set(&P.f, SEC_PASSWORD, PASSWORD, strlen(PASSWORD));
	assert_int_equal(rc, -1);
	assert_int_equal(r.code, VAL_AUTH);

	fake_stop(&t);
	assert_true(fake_logged(&t, "sa ok db=app tls=yes"));
}

static void test_sqlserver_verify_name_mismatch_is_tls(void **state)
{
	(void)state;
	need(true, false);
	if (!P.have_tls)
		skip();
	char cert[128], key[128];
	snprintf(cert, sizeof(cert), "%s/server.crt", P.dir);
	snprintf(key, sizeof(key), "%s/server.key", P.dir);
	struct tds_fake t;
	struct job_builder b;
	struct val_result r;
	assert_int_equal(fake_start(&t, (const char *const[]){ "--encrypt", "on", "--cert", cert,
								"--key", key, "--listen",
								"127.0.0.2", NULL }), 0);
	/* The certificate names localhost and 127.0.0.1, not 127.0.0.2. */
	ms_job(&b, "127.0.0.2", t.port, "verify_ca");
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
	assert_int_equal(run_ms(&b, &r), -1);
	assert_int_equal(r.code, VAL_TLS);
	assert_non_null(strstr(r.e.message, "TLS handshake with 127.0.0.2 failed"));

	/* required does not check names. */
	ms_job(&b, "127.0.0.2", t.port, "required");
	assert_int_equal(run_ms(&b, &r), 0);
	fake_stop(&t);
}

static void test_sqlserver_through_tunnel(void **state)
{
	(void)state;
	need(true, true);
	struct tds_fake t;
	struct job_builder b;
	struct val_result r;
	assert_int_equal(fake_start(&t, (const char *const[]){ "--encrypt", "none", NULL }), 0);
	authorize(true);

	ms_job(&b, "127.0.0.1", t.port, NULL);
	tunnel_of(&b);
	assert_int_equal(run_ms(&b, &r), 0);

	fake_secret_set(&P.f, SEC_PASSWORD, "Wrong-Passw0rd-xyz", 18);
	ms_job(&b, "127.0.0.1", t.port, NULL);
	tunnel_of(&b);
	int rc = run_ms(&b, &r);
	fake_secret_set(&P.f, SEC_PASSWORD, PASSWORD, strlen(PASSWORD));
	assert_int_equal(rc, -1);
	assert_int_equal(r.code, VAL_AUTH);
	assert_non_null(strstr(r.e.message, "through SSH bastion 127.0.0.1:"));

	/* The bastion cannot reach the target. */
	ms_job(&b, "127.0.0.1", closed_port(), NULL);
	tunnel_of(&b);
	assert_int_equal(run_ms(&b, &r), -1);
	assert_int_equal(r.code, VAL_REFUSED);
	assert_string_equal(r.stage, "forward");
	fake_stop(&t);
}

/* Starts the TLS fake presenting <name>.crt (and <alt>.crt on every second
 * connection when alt is not NULL). */
static void tls_fake_start(struct tds_fake *t, const char *name, const char *alt)
{
	static char cert[128], key[128], acert[128], akey[128];
	snprintf(cert, sizeof(cert), "%s/%s.crt", P.dir, name);
	snprintf(key, sizeof(key), "%s/%s.key", P.dir, name);
	snprintf(acert, sizeof(acert), "%s/%s.crt", P.dir, alt ? alt : name);
	snprintf(akey, sizeof(akey), "%s/%s.key", P.dir, alt ? alt : name);
	const char *const with_alt[] = { "--encrypt", "on", "--cert", cert, "--key", key,
					 "--alt-cert", acert, "--alt-key", akey, NULL };
	const char *const plain[] = { "--encrypt", "on", "--cert", cert, "--key", key, NULL };
	assert_int_equal(fake_start(t, alt ? with_alt : plain), 0);
}

/* verify / verify_ca through the bastion: our own handshake (TLS inside
 * PRELOGIN) checks the chain and the REAL HOST, then FreeTDS is pinned to
 * that very certificate on a second tunnel connection. */
static void test_sqlserver_verify_through_tunnel(void **state)
{
	(void)state;
	need(true, true);
	if (!P.have_tls)
		skip();
	struct tds_fake t;
	struct job_builder b;
	struct val_result r;
	authorize(true);
	tls_fake_start(&t, "server", NULL);

	/* The real name (localhost) and an IP literal, the given CA. */
	ms_job(&b, "localhost", t.port, "verify_ca");
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
	tunnel_of(&b);
	assert_int_equal(run_ms(&b, &r), 0);
	assert_int_equal(r.code, VAL_OK);
	ms_job(&b, "127.0.0.1", t.port, "VERIFY_CA");
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
	tunnel_of(&b);
	assert_int_equal(run_ms(&b, &r), 0);

	/* The wrong CA: refused by the probe, before any login. */
	ms_job(&b, "localhost", t.port, "verify_ca");
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_OTHER_CA);
	tunnel_of(&b);
	assert_int_equal(run_ms(&b, &r), -1);
	assert_int_equal(r.code, VAL_TLS);
	assert_string_equal(r.stage, "target_tls");
	assert_non_null(strstr(r.e.message, "through SSH bastion 127.0.0.1:"));
	assert_non_null(strstr(r.e.message, "TLS handshake with localhost failed"));

	/* verify: the system's roots do not know the test CA. */
	ms_job(&b, "localhost", t.port, "verify");
	tunnel_of(&b);
	assert_int_equal(run_ms(&b, &r), -1);
	assert_int_equal(r.code, VAL_TLS);
	assert_string_equal(r.stage, "target_tls");

	/* Verified and pinned, then the server's 18456 over FreeTDS's TLS. */
	fake_secret_set(&P.f, SEC_PASSWORD, "Wrong-Passw0rd-xyz", 18);
	ms_job(&b, "localhost", t.port, "verify_ca");
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
	tunnel_of(&b);
	int rc = run_ms(&b, &r);
	fake_secret_set(&P.f, SEC_PASSWORD, PASSWORD, strlen(PASSWORD));
	assert_int_equal(rc, -1);
	assert_int_equal(r.code, VAL_AUTH);
	fake_stop(&t);
	assert_true(fake_logged(&t, "sa ok db=app tls=yes"));
	assert_true(fake_logged(&t, "sa login failed"));

	/* A self-signed server certificate given as the CA. */
	tls_fake_start(&t, "self", NULL);
	ms_job(&b, "localhost", t.port, "verify_ca");
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_SELF);
	tunnel_of(&b);
	assert_int_equal(run_ms(&b, &r), 0);
	fake_stop(&t);
	assert_true(fake_logged(&t, "sa ok db=app tls=yes"));
}

/* The name checked through the tunnel is the real HOST, not the tunnel's
 * 127.0.0.1; a mismatch never reaches LOGIN7. */
static void test_sqlserver_verify_through_tunnel_wrong_name(void **state)
{
	(void)state;
	need(true, true);
	if (!P.have_tls)
		skip();
	struct tds_fake t;
	struct job_builder b;
	struct val_result r;
	authorize(true);

	/* A certificate for another name. */
	tls_fake_start(&t, "other", NULL);
	ms_job(&b, "localhost", t.port, "verify_ca");
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
	tunnel_of(&b);
	assert_int_equal(run_ms(&b, &r), -1);
	assert_int_equal(r.code, VAL_TLS);
	assert_string_equal(r.stage, "target_tls");
	assert_non_null(strstr(r.e.message, "TLS handshake with localhost failed"));
	fake_stop(&t);
	assert_false(fake_logged(&t, "sa "));

	/* A certificate for 127.0.0.1 only: right for the tunnel's local
	 * end, wrong for HOST localhost. */
	tls_fake_start(&t, "iponly", NULL);
	ms_job(&b, "localhost", t.port, "verify_ca");
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
	tunnel_of(&b);
	assert_int_equal(run_ms(&b, &r), -1);
	assert_int_equal(r.code, VAL_TLS);
	ms_job(&b, "127.0.0.1", t.port, "verify_ca");
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
	tunnel_of(&b);
	assert_int_equal(run_ms(&b, &r), 0);
	fake_stop(&t);
	assert_true(fake_logged(&t, "sa ok db=app tls=yes"));
}

/* FreeTDS accepts exactly the certificate the probe verified: a server
 * whose certificate changes between probe and login (the second one also
 * valid for HOST and from the same CA) fails as tls, before LOGIN7. */
static void test_sqlserver_verify_through_tunnel_pin(void **state)
{
	(void)state;
	need(true, true);
	if (!P.have_tls)
		skip();
	struct tds_fake t;
	struct job_builder b;
	struct val_result r;
	authorize(true);
	tls_fake_start(&t, "server", "server2");
	ms_job(&b, "localhost", t.port, "verify_ca");
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
	tunnel_of(&b);
	assert_int_equal(run_ms(&b, &r), -1);
	assert_int_equal(r.code, VAL_TLS);
	assert_string_equal(r.stage, "target_tls");
	fake_stop(&t);
	assert_true(fake_logged(&t, "tls failed"));   /* FreeTDS refused server2 */
	assert_false(fake_logged(&t, "sa "));

	/* A server that cannot encrypt: refused before anything is sent. */
	assert_int_equal(fake_start(&t, (const char *const[]){ "--encrypt", "none", NULL }), 0);
	ms_job(&b, "localhost", t.port, "verify_ca");
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
	tunnel_of(&b);
	assert_int_equal(run_ms(&b, &r), -1);
	assert_int_equal(r.code, VAL_TLS);
	assert_non_null(strstr(r.e.message, "the server does not support encryption"));
	fake_stop(&t);
	assert_false(fake_logged(&t, "sa "));
}

static void test_sqlserver_no_secret_in_argv_env_or_tmp(void **state)
{
	(void)state;
	const char *skip_dirs[] = { P.sshd.dir };
	char where[512];
	const char *hit = secret_scan(P.since, skip_dirs, 1, PASSWORD, strlen(PASSWORD), where,
				      sizeof(where));
	if (hit)
		print_error("password found in %s\n", hit);
	assert_null(hit);
}

int main(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sqlserver_config_errors),
		cmocka_unit_test(test_sqlserver_dns_refused_timeout),
		cmocka_unit_test(test_sqlserver_login_ok_and_failed),
		cmocka_unit_test(test_sqlserver_malformed_reply_is_protocol),
		cmocka_unit_test(test_sqlserver_tls),
		cmocka_unit_test(test_sqlserver_verify_name_mismatch_is_tls),
		cmocka_unit_test(test_sqlserver_through_tunnel),
		cmocka_unit_test(test_sqlserver_verify_through_tunnel),
		cmocka_unit_test(test_sqlserver_verify_through_tunnel_wrong_name),
		cmocka_unit_test(test_sqlserver_verify_through_tunnel_pin),
		cmocka_unit_test(test_sqlserver_no_secret_in_argv_env_or_tmp),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
