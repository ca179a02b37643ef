/* The MYSQL check against a real MariaDB 10.11 started through
 * tests/peers/mariadb_start.sh (TLS required, a password user and a
 * client-certificate user) and OpenSSH's sshd as the bastion, with fake
 * vault services. Config, DNS, refused and timeout cases need no peer.
 * Skips the peer cases when mariadb-server / openssh-server are missing. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
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

enum { SEC_PASSWORD = 1, SEC_CA, SEC_CERT, SEC_KEY, SEC_OTHER_CA, SEC_BAD_KEY, SEC_USER,
       SEC_NOTLS_PASSWORD };

#define NOTLS_PASSWORD "notls-Pa55word-never-on-the-wire"


static struct {
	bool have_db, have_sshd;
	struct peer db, sshd;
	struct fake_svc f;
	time_t since;
	char password[128];
	char key_line[128];
} P;

static const char *db(const char *k)
{
	const char *v = peer_get(&P.db, k);
	assert_non_null(v);
	return v;
}

static void need(bool db_peer, bool sshd_peer)
{
	if ((db_peer && !P.have_db) || (sshd_peer && !P.have_sshd)) {
		print_message("peer not available (mariadb-server / openssh-server): skipped\n");
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

/* Completes TCP handshakes (the kernel does) but never says a word: the
 * blackhole that a MySQL client waits on for the greeting. */
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

static void my_job(struct job_builder *b, const char *host, const char *port,
		   const char *mode, bool with_ca)
{
	job_init(b, "mysql", 5000);
	job_text(b, "HOST", host);
	job_text(b, "PORT", port ? port : db("MARIADB_PORT"));
	job_text(b, "USER", "tether");
	job_secret(b, "PASSWORD", SEC_PASSWORD);
	if (mode)
		job_text(b, "SSL MODE", mode);
	if (with_ca)
		job_secret(b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
}

static int run_my(struct job_builder *b, struct val_result *r)
{
	struct val_services svc = fake_services(&P.f);
	memset(r, 0, sizeof(*r));
	int rc = conn_mysql_validate(&svc, job_done(b), r);
	print_message("    mysql: rc=%d code=%s sqlstate=%s stage=%s\n      message: %s\n"
		      "      detail: %s\n      hint: %s\n", rc, val_code_name(r->code),
		      r->e.sqlstate, r->stage, r->e.message, r->e.detail, r->e.hint);
	return rc;
}

static void assert_no_password(const struct val_result *r)
{
	if (!P.password[0])
		return;
	assert_null(strstr(r->e.message, P.password));
	assert_null(strstr(r->e.detail, P.password));
	assert_null(strstr(r->e.hint, P.password));
}

static void authorize(bool slot1, bool slot2)
{
	char line[160];
	FILE *f = fopen(peer_get(&P.sshd, "SSHD_AUTHORIZED_KEYS"), "w");
	assert_non_null(f);
	for (int s = 1; s <= 2; s++)
		if (s == 1 ? slot1 : slot2) {
			fake_key_line(&P.f, s, line, sizeof(line));
			fprintf(f, "%s\n", line);
		}
	fclose(f);
}

static void tunnel_of(struct job_builder *b, const char *pinned)
{
	b->tunnel = (struct val_ssh_tunnel){
		.connection_id = 77, .host = "127.0.0.1",
		.port = (uint16_t)atoi(peer_get(&P.sshd, "SSHD_PORT")),
		.user = peer_get(&P.sshd, "SSHD_USER"), .pinned_host_key = pinned,
	};
	b->job.tunnel = &b->tunnel;
}

/* ---- group ---- */

static int group_setup(void **state)
{
	(void)state;
	fake_init(&P.f);
	fake_keys(&P.f);
	int rc = peer_start(&P.db, "mariadb_start.sh", "mariadb_stop.sh", NULL);
	if (rc < 0)
		return -1;
	P.have_db = rc == 0;
	rc = peer_start(&P.sshd, "sshd_start.sh", "sshd_stop.sh", NULL);
	if (rc < 0)
		return -1;
	P.have_sshd = rc == 0;
	if (P.have_db) {
		snprintf(P.password, sizeof(P.password), "%s", db("MARIADB_PASSWORD"));
		fake_secret_set(&P.f, SEC_PASSWORD, P.password, strlen(P.password));
		if (fake_secret_file(&P.f, SEC_CA, db("MARIADB_CA")) != 0 ||
		    fake_secret_file(&P.f, SEC_OTHER_CA, db("MARIADB_OTHER_CA")) != 0 ||
		    fake_secret_file(&P.f, SEC_CERT, db("MARIADB_CLIENT_CERT")) != 0 ||
		    fake_secret_file(&P.f, SEC_KEY, db("MARIADB_CLIENT_KEY")) != 0)
			return -1;
		FILE *kf = fopen(db("MARIADB_CLIENT_KEY"), "r");
		char line[128];
		while (kf && fgets(line, sizeof(line), kf))
			if (line[0] != '-') {
				line[strcspn(line, "\n")] = '\0';
				snprintf(P.key_line, sizeof(P.key_line), "%s", line);
				break;
			}
		if (kf)
			fclose(kf);
	}
	fake_secret_set(&P.f, SEC_BAD_KEY, "-----BEGIN PRIVATE KEY-----\nnot a key\n"
			"-----END PRIVATE KEY-----\n", 62);
	fake_secret_set(&P.f, SEC_NOTLS_PASSWORD, NOTLS_PASSWORD, strlen(NOTLS_PASSWORD));
	P.since = time(NULL) - 1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	peer_stop(&P.sshd);
	peer_stop(&P.db);
	for (int i = 0; i < 100 && waitpid(-1, NULL, WNOHANG) >= 0; i++)
		usleep(10000);
	fake_free(&P.f);
	return 0;
}

/* ---- no peer needed ---- */

static void test_mysql_config_errors(void **state)
{
	(void)state;
	struct job_builder b;
	struct val_result r;
	static const struct {
		const char *name, *value;
		const char *want;
	} cases[] = {
		{ "SSL MODE", "preferred", "unknown SSL MODE \"preferred\"" },
		{ "HOST", "a,b", "invalid HOST" },
		{ "PORT", "0", "invalid PORT" },
		{ "SSL CERTIFICATE", "x", "both SSL KEY and SSL CERTIFICATE are required" },
	};
	fake_secret_set(&P.f, SEC_PASSWORD, "pw-unused", 9);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		job_init(&b, "mysql", 700);
		if (strcmp(cases[i].name, "HOST") != 0)
			job_text(&b, "HOST", "127.0.0.1");
		job_text(&b, "USER", "u");
		job_text(&b, cases[i].name, cases[i].value);
		assert_int_equal(run_my(&b, &r), -1);
		assert_int_equal(r.code, VAL_CONFIG);
		assert_string_equal(r.e.sqlstate, "22023");
		assert_non_null(strstr(r.e.message, cases[i].want));
	}
	/* USER missing. */
	job_init(&b, "mysql", 700);
	job_text(&b, "HOST", "127.0.0.1");
	assert_int_equal(run_my(&b, &r), -1);
	assert_non_null(strstr(r.e.message, "USER option is required"));

	/* PrivateLink: not here (SQL.md 6). */
	job_init(&b, "mysql", 700);
	job_text(&b, "HOST", "127.0.0.1");
	job_text(&b, "USER", "u");
	job_text(&b, "AWS PRIVATELINK", "12");
	assert_int_equal(run_my(&b, &r), -1);
	assert_string_equal(r.e.sqlstate, "0A000");
	assert_string_equal(r.e.message, "AWS PrivateLink connections are unsupported");
	if (P.have_db)
		fake_secret_set(&P.f, SEC_PASSWORD, P.password, strlen(P.password));
}

static void test_mysql_dns_refused_timeout(void **state)
{
	(void)state;
	struct job_builder b;
	struct val_result r;
	char port[16], want[64];

	job_init(&b, "mysql", 700);
	job_text(&b, "HOST", "no-such-host.invalid");
	job_text(&b, "USER", "u");
	assert_int_equal(run_my(&b, &r), -1);
	assert_int_equal(r.code, VAL_DNS);
	assert_string_equal(r.e.sqlstate, "08001");
	assert_non_null(strstr(r.e.message, "failed to resolve no-such-host.invalid: "));

	int p = closed_port();
	snprintf(port, sizeof(port), "%d", p);
	job_init(&b, "mysql", 700);
	job_text(&b, "HOST", "127.0.0.1");
	job_text(&b, "PORT", port);
	job_text(&b, "USER", "u");
	assert_int_equal(run_my(&b, &r), -1);
	assert_int_equal(r.code, VAL_REFUSED);
	snprintf(want, sizeof(want), "failed to connect to 127.0.0.1:%d: ", p);
	assert_non_null(strstr(r.e.message, want));
	assert_non_null(strstr(r.e.message, "refused"));
	assert_true(r.e.hint[0] != '\0');

	/* A blackhole: TCP connects, the greeting never comes. */
	int s = silent_listener(&p);
	snprintf(port, sizeof(port), "%d", p);
	job_init(&b, "mysql", 700);
	job_text(&b, "HOST", "127.0.0.1");
	job_text(&b, "PORT", port);
	job_text(&b, "USER", "u");
	job_text(&b, "SSL MODE", "required");
	int64_t t0 = val_now_ms();
	assert_int_equal(run_my(&b, &r), -1);
	int64_t took = val_now_ms() - t0;
	close(s);
	assert_int_equal(r.code, VAL_TIMEOUT);
	assert_string_equal(r.e.sqlstate, "08001");
	assert_non_null(strstr(r.e.message, "failed to connect to 127.0.0.1:"));
	/* The TLS probe waits the 700 ms itself (libmariadb would round up
	 * to its 1 s unit). */
	assert_true(took >= 600 && took < 4000);
}

/* A MySQL server that does not offer TLS: a protocol-10 greeting WITHOUT
 * the CLIENT_SSL capability, then it records every byte a client sends (a
 * HandshakeResponse carries the user and the password's proof, or with
 * mysql_clear_password the password itself). Counts connections. */
struct notls {
	int ls;
	_Atomic int stop;
	int conns;
	size_t got;
	char buf[4096];
};

static void *notls_server(void *arg)
{
	struct notls *n = arg;
	/* LONG_PASSWORD | PROTOCOL_41 | TRANSACTIONS | SECURE_CONNECTION |
	 * PLUGIN_AUTH; no SSL (0x0800). */
	const unsigned caps = 0x1 | 0x200 | 0x2000 | 0x8000 | 0x80000;
	static const char ver[] = "5.7.44-tether-no-tls";
	unsigned char g[128];
	size_t k = 4;
	g[k++] = 10;
	memcpy(g + k, ver, sizeof(ver));
	k += sizeof(ver);
	memcpy(g + k, "\x07\0\0\0" "abcdefgh" "\0", 13);       /* thread id, scramble 1, filler */
	k += 13;
	g[k++] = caps & 0xff;
	g[k++] = (caps >> 8) & 0xff;
	g[k++] = 45;                                      /* utf8mb4 */
	g[k++] = 2;                                       /* status: autocommit */
	g[k++] = 0;
	g[k++] = (caps >> 16) & 0xff;
	g[k++] = (caps >> 24) & 0xff;
	g[k++] = 21;                                      /* auth data length */
	memset(g + k, 0, 10);
	k += 10;
	memcpy(g + k, "ijklmnopqrst", 13);                /* scramble 2 and its NUL */
	k += 13;
	memcpy(g + k, "mysql_native_password", 22);
	k += 22;
	g[0] = (unsigned char)(k - 4);
	g[1] = g[2] = 0;
	g[3] = 0;                                         /* sequence 0 */
	while (!n->stop) {
		struct pollfd p = { .fd = n->ls, .events = POLLIN };
		if (poll(&p, 1, 50) <= 0)
			continue;
		int c = accept(n->ls, NULL, NULL);
		if (c < 0)
			continue;
		n->conns++;
		struct timeval tv = { .tv_sec = 3 };
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (write(c, g, k) == (ssize_t)k) {
			/* Until the client closes (or sent something). */
			ssize_t r = recv(c, n->buf + n->got, sizeof(n->buf) - 1 - n->got, 0);
			if (r > 0)
				n->got += (size_t)r;
		}
		close(c);
	}
	return NULL;
}

/* SSL MODE required / verify_ca / verify_identity against a server that
 * offers no TLS: refused as tls by the probe, before any byte of the login
 * is sent (libmariadb 3.3 alone would log in in plaintext). */
static void test_mysql_server_without_tls_is_tls_and_gets_no_password(void **state)
{
	(void)state;
	static const char *const modes[] = { "required", "verify_ca", "verify_identity",
					     "REQUIRE", "verify-identity" };
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		bool verify = strncasecmp(modes[i], "verify", 6) == 0;
		if (verify && !P.have_db) {
			print_message("no CA without the MariaDB peer: %s skipped\n", modes[i]);
			continue;
		}
		struct notls n = { .ls = -1 };
		int p;
		char port[16];
		pthread_t th;
		n.ls = silent_listener(&p);
		assert_int_equal(pthread_create(&th, NULL, notls_server, &n), 0);
		snprintf(port, sizeof(port), "%d", p);

		struct job_builder b;
		struct val_result r;
		job_init(&b, "mysql", 5000);
		job_text(&b, "HOST", "127.0.0.1");
		job_text(&b, "PORT", port);
		job_text(&b, "USER", "tether");
		job_secret(&b, "PASSWORD", SEC_NOTLS_PASSWORD);
		job_text(&b, "SSL MODE", modes[i]);
		if (verify)
			job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
		int rc = run_my(&b, &r);
		/* Let a (wrong) second connection arrive before stopping. */
		usleep(200000);
		n.stop = 1;
		pthread_join(th, NULL);
		close(n.ls);
		n.buf[n.got] = '\0';
		print_message("    fake: %d connection(s), %zu byte(s) received\n", n.conns, n.got);

		assert_int_equal(rc, -1);
		assert_int_equal(r.code, VAL_TLS);
		assert_string_equal(r.e.sqlstate, "08001");
		assert_string_equal(r.stage, "target_tls");
		assert_string_equal(r.e.message, "TLS handshake with 127.0.0.1 failed: the server "
				    "does not support TLS");
		assert_non_null(strstr(r.e.hint, "needs a server that supports TLS"));
		assert_non_null(strcasestr(r.e.hint, verify ? (strstr(modes[i], "identity") ?
				    "verify_identity" : "verify_ca") : "required"));
		assert_null(strstr(r.e.message, NOTLS_PASSWORD));
		assert_null(strstr(r.e.detail, NOTLS_PASSWORD));
		/* The probe only: it read the greeting and hung up, nothing sent. */
		assert_int_equal(n.conns, 1);
		assert_int_equal(n.got, 0);
		assert_null(memmem(n.buf, n.got, "tether", 6));
	}
}

/* A hostile peer: a greeting header that promises 16 MiB, a few bytes of
 * junk, then close. Only this check fails, as protocol. (A thread, not a
 * fork: a forked child of a sanitizer build can hang on a runtime lock.) */
static void *junk_server(void *arg)
{
	int s = *(int *)arg;
	int c = accept(s, NULL, NULL);
	static const unsigned char junk[] = { 0xff, 0xff, 0xff, 0x00, 0x0a, 'x', 'y', 0 };
	if (c >= 0) {
		if (write(c, junk, sizeof(junk)) == (ssize_t)sizeof(junk))
			shutdown(c, SHUT_RDWR);
		close(c);
	}
	return NULL;
}

static void test_mysql_malformed_greeting_is_protocol(void **state)
{
	(void)state;
	struct job_builder b;
	struct val_result r;
	char port[16];
	int p;
	int s = silent_listener(&p);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, junk_server, &s), 0);
	snprintf(port, sizeof(port), "%d", p);
	job_init(&b, "mysql", 5000);
	job_text(&b, "HOST", "127.0.0.1");
	job_text(&b, "PORT", port);
	job_text(&b, "USER", "u");
	assert_int_equal(run_my(&b, &r), -1);
	pthread_join(th, NULL);
	close(s);
	assert_int_equal(r.code, VAL_PROTOCOL);
	assert_string_equal(r.e.sqlstate, "08P01");
	assert_non_null(strstr(r.e.message, "unexpected response from 127.0.0.1:"));
}

/* ---- MariaDB ---- */

static void test_mysql_verify_identity_ok(void **state)
{
	(void)state;
	need(true, false);
	struct job_builder b;
	struct val_result r;
	my_job(&b, "localhost", NULL, "verify_identity", true);
	assert_int_equal(run_my(&b, &r), 0);
	assert_int_equal(r.code, VAL_OK);
	char want[64];
	snprintf(want, sizeof(want), "localhost:%s", db("MARIADB_PORT"));
	assert_string_equal(P.f.last_destination, want);

	/* The alias, any case; by IP address (the certificate names it). */
	my_job(&b, "127.0.0.1", NULL, "VERIFY-IDENTITY", true);
	assert_int_equal(run_my(&b, &r), 0);
}

static void test_mysql_required_without_ca_ok(void **state)
{
	(void)state;
	need(true, false);
	struct job_builder b;
	struct val_result r;
	my_job(&b, "127.0.0.1", NULL, "Require", false);
	assert_int_equal(run_my(&b, &r), 0);
}

static void test_mysql_disabled_against_required_tls(void **state)
{
	(void)state;
	need(true, false);
	struct job_builder b;
	struct val_result r;
	my_job(&b, "127.0.0.1", NULL, NULL, false);   /* D disabled */
	assert_int_equal(run_my(&b, &r), -1);
	assert_no_password(&r);
	/* MariaDB refuses the login (require_secure_transport); the message
	 * says why. */
	assert_true(r.code == VAL_TLS || r.code == VAL_AUTH || r.code == VAL_PERMISSION);
	assert_non_null(strstr(r.e.message, "127.0.0.1"));
}

static void test_mysql_wrong_password_is_auth(void **state)
{
	(void)state;
	need(true, false);
	struct job_builder b;
	struct val_result r;
	fake_secret_set(&P.f, SEC_PASSWORD, "wrong-password-123", 18);
	my_job(&b, "127.0.0.1", NULL, "required", false);
	int rc = run_my(&b, &r);
	fake_secret_set(&P.f, SEC_PASSWORD, P.password, strlen(P.password));
	assert_int_equal(rc, -1);
	assert_int_equal(r.code, VAL_AUTH);
	assert_string_equal(r.e.sqlstate, "08004");
	assert_string_equal(r.stage, "target_auth");
	assert_non_null(strstr(r.e.message, "authentication to MYSQL server 127.0.0.1 failed: "
					    "Access denied for user 'tether'"));
	assert_null(strstr(r.e.message, "wrong-password-123"));
	assert_null(strstr(r.e.detail, "wrong-password-123"));
	assert_true(r.e.hint[0] != '\0');

	/* The new secret value counts at once. */
	assert_int_equal(run_my(&b, &r), 0);
}

static void test_mysql_wrong_port_is_refused(void **state)
{
	(void)state;
	need(true, false);
	struct job_builder b;
	struct val_result r;
	char port[16];
	snprintf(port, sizeof(port), "%d", closed_port());
	my_job(&b, "127.0.0.1", port, "required", false);
	assert_int_equal(run_my(&b, &r), -1);
	assert_int_equal(r.code, VAL_REFUSED);
	assert_no_password(&r);
}

static void test_mysql_wrong_ca_is_tls(void **state)
{
	(void)state;
	need(true, false);
	struct job_builder b;
	struct val_result r;
	my_job(&b, "localhost", NULL, "verify_ca", false);
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_OTHER_CA);
	assert_int_equal(run_my(&b, &r), -1);
	assert_int_equal(r.code, VAL_TLS);
	assert_string_equal(r.e.sqlstate, "08001");
	assert_string_equal(r.stage, "target_tls");
	assert_non_null(strstr(r.e.message, "TLS handshake with localhost failed: "));
	assert_no_password(&r);
}

static void test_mysql_verify_identity_name_mismatch_is_tls(void **state)
{
	(void)state;
	need(true, false);
	struct job_builder b;
	struct val_result r;
	/* The server listens on 127.0.0.2 too; its certificate does not name it. */
	my_job(&b, "127.0.0.2", NULL, "verify_identity", true);
	assert_int_equal(run_my(&b, &r), -1);
	assert_int_equal(r.code, VAL_TLS);
	assert_non_null(strstr(r.e.message, "TLS handshake with 127.0.0.2 failed: "));

	/* verify_ca checks the chain only: the same server passes. */
	my_job(&b, "127.0.0.2", NULL, "verify_ca", true);
	assert_int_equal(run_my(&b, &r), 0);
}

static void test_mysql_client_certificate_from_memfd(void **state)
{
	(void)state;
	need(true, false);
	struct job_builder b;
	struct val_result r;
	job_init(&b, "mysql", 5000);
	job_text(&b, "HOST", "localhost");
	job_text(&b, "PORT", db("MARIADB_PORT"));
	job_secret(&b, "USER", SEC_USER);
	job_text(&b, "SSL MODE", "verify_identity");
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
	job_secret(&b, "SSL CERTIFICATE", SEC_CERT);
	job_secret(&b, "SSL KEY", SEC_KEY);
	fake_secret_set(&P.f, SEC_USER, "certuser", 8);
	assert_int_equal(run_my(&b, &r), 0);

	/* REQUIRE X509 without a certificate: refused as authentication. */
	job_init(&b, "mysql", 5000);
	job_text(&b, "HOST", "localhost");
	job_text(&b, "PORT", db("MARIADB_PORT"));
	job_text(&b, "USER", "certuser");
	job_text(&b, "SSL MODE", "verify_identity");
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
	assert_int_equal(run_my(&b, &r), -1);
	assert_int_equal(r.code, VAL_AUTH);

	/* A key that is not a key: the configuration, not the server. */
	job_init(&b, "mysql", 5000);
	job_text(&b, "HOST", "localhost");
	job_text(&b, "PORT", db("MARIADB_PORT"));
	job_text(&b, "USER", "certuser");
	job_text(&b, "SSL MODE", "required");
	job_secret(&b, "SSL CERTIFICATE", SEC_CERT);
	job_secret(&b, "SSL KEY", SEC_BAD_KEY);
	assert_int_equal(run_my(&b, &r), -1);
	assert_int_equal(r.code, VAL_CONFIG);
	assert_string_equal(r.e.sqlstate, "22023");
}

/* ---- through the bastion ---- */

static void test_mysql_through_tunnel(void **state)
{
	(void)state;
	need(true, true);
	struct job_builder b;
	struct val_result r;
	authorize(true, true);

	my_job(&b, "localhost", NULL, "verify_identity", true);
	tunnel_of(&b, peer_get(&P.sshd, "SSHD_HOST_KEY"));
	assert_int_equal(run_my(&b, &r), 0);

	/* verify_identity checks the real target name, not the tunnel's local
	 * end (127.0.0.1, which the certificate does name). */
	my_job(&b, "127.0.0.2", NULL, "verify_identity", true);
	tunnel_of(&b, NULL);
	assert_int_equal(run_my(&b, &r), -1);
	assert_int_equal(r.code, VAL_TLS);
	assert_string_equal(r.stage, "target_tls");
	assert_non_null(strstr(r.e.message, "through SSH bastion 127.0.0.1:"));
	assert_non_null(strstr(r.e.message, "TLS handshake with 127.0.0.2 failed"));

	/* The wrong CA through the tunnel: also refused. */
	my_job(&b, "localhost", NULL, "verify_identity", false);
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_OTHER_CA);
	tunnel_of(&b, NULL);
	assert_int_equal(run_my(&b, &r), -1);
	assert_int_equal(r.code, VAL_TLS);

	/* verify_ca through the tunnel: chain only, 127.0.0.2 passes. */
	my_job(&b, "127.0.0.2", NULL, "verify_ca", true);
	tunnel_of(&b, NULL);
	assert_int_equal(run_my(&b, &r), 0);

	/* Authentication at the target, named as such. */
	fake_secret_set(&P.f, SEC_PASSWORD, "wrong-password-123", 18);
	my_job(&b, "localhost", NULL, "verify_identity", true);
	tunnel_of(&b, NULL);
	int rc = run_my(&b, &r);
	fake_secret_set(&P.f, SEC_PASSWORD, P.password, strlen(P.password));
	assert_int_equal(rc, -1);
	assert_int_equal(r.code, VAL_AUTH);
	assert_string_equal(r.stage, "target_auth");
	assert_non_null(strstr(r.e.message, "through SSH bastion"));

	/* The bastion refuses our keys: its stage, before any TLS. */
	authorize(false, false);
	my_job(&b, "localhost", NULL, "verify_identity", true);
	tunnel_of(&b, NULL);
	assert_int_equal(run_my(&b, &r), -1);
	assert_int_equal(r.code, VAL_AUTH);
	assert_string_equal(r.stage, "bastion_auth");
	authorize(true, true);
}

static void test_mysql_no_secret_in_argv_env_or_tmp(void **state)
{
	(void)state;
	need(true, false);
	const char *skip_dirs[] = { P.db.dir, P.sshd.dir };
	char where[512];
	const char *hit = secret_scan(P.since, skip_dirs, 2, P.password, strlen(P.password),
				      where, sizeof(where));
	if (hit)
		print_error("password found in %s\n", hit);
	assert_null(hit);
	if (P.key_line[0]) {
		hit = secret_scan(P.since, skip_dirs, 2, P.key_line, strlen(P.key_line), where,
				  sizeof(where));
		if (hit)
			print_error("client key found in %s\n", hit);
		assert_null(hit);
	}
}

int main(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mysql_config_errors),
		cmocka_unit_test(test_mysql_dns_refused_timeout),
		cmocka_unit_test(test_mysql_malformed_greeting_is_protocol),
		cmocka_unit_test(test_mysql_server_without_tls_is_tls_and_gets_no_password),
		cmocka_unit_test(test_mysql_verify_identity_ok),
		cmocka_unit_test(test_mysql_required_without_ca_ok),
		cmocka_unit_test(test_mysql_disabled_against_required_tls),
		cmocka_unit_test(test_mysql_wrong_password_is_auth),
		cmocka_unit_test(test_mysql_wrong_port_is_refused),
		cmocka_unit_test(test_mysql_wrong_ca_is_tls),
		cmocka_unit_test(test_mysql_verify_identity_name_mismatch_is_tls),
		cmocka_unit_test(test_mysql_client_certificate_from_memfd),
		cmocka_unit_test(test_mysql_through_tunnel),
		cmocka_unit_test(test_mysql_no_secret_in_argv_env_or_tmp),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
