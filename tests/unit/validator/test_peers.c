/* The PostgreSQL and SSH TUNNEL checks against real peers started through
 * tests/peers (PostgreSQL 15 with TLS + SCRAM + client certificates, OpenSSH
 * sshd), with fake vault services: the test holds the secrets and the SSH
 * key pairs, as the vault would. Skips when the peer packages are missing. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "val.h"
#include "vtest.h"

enum { SEC_PASSWORD = 1, SEC_CA, SEC_CERT, SEC_KEY, SEC_USER };

static struct {
	bool have_pg, have_sshd;
	struct peer pg, sshd;
	struct fake_svc f;
	time_t since;
	char password[128];
	char key_line[128];      /* a line of the client key's PEM body */
} P;

/* ---- helpers ---- */

static const char *pg(const char *k)
{
	const char *v = peer_get(&P.pg, k);
	assert_non_null(v);
	return v;
}

static const char *sshd(const char *k)
{
	const char *v = peer_get(&P.sshd, k);
	assert_non_null(v);
	return v;
}

static void need(bool pg_peer, bool sshd_peer)
{
	if ((pg_peer && !P.have_pg) || (sshd_peer && !P.have_sshd)) {
		print_message("peer not available (postgresql-15 / openssh-server): skipped\n");
		skip();
	}
}

static void pg_job(struct job_builder *b, const char *host, const char *port,
		   const char *mode, bool with_ca)
{
	job_init(b, "postgres", 5000);
	job_text(b, "HOST", host);
	job_text(b, "PORT", port ? port : pg("PGPORT"));
	job_text(b, "DATABASE", "app");
	job_text(b, "USER", "tether");
	job_secret(b, "PASSWORD", SEC_PASSWORD);
	if (mode)
		job_text(b, "SSL MODE", mode);
	if (with_ca)
		job_secret(b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
}

static int run_pg(struct job_builder *b, struct val_result *r)
{
	struct val_services svc = fake_services(&P.f);
	memset(r, 0, sizeof(*r));
	int rc = conn_postgres_validate(&svc, job_done(b), r);
	print_message("    pg: rc=%d code=%s stage=%s\n      message: %s\n      detail: %s\n"
		      "      hint: %s\n", rc, val_code_name(r->code), r->stage, r->e.message,
		      r->e.detail, r->e.hint);
	return rc;
}

static int run_ssh(struct job_builder *b, struct val_result *r)
{
	struct val_services svc = fake_services(&P.f);
	memset(r, 0, sizeof(*r));
	int rc = conn_ssh_tunnel_validate(&svc, job_done(b), r);
	print_message("    ssh: rc=%d code=%s stage=%s slot=%d key=%s\n      message: %s\n"
		      "      detail: %s\n      hint: %s\n", rc, val_code_name(r->code), r->stage,
		      r->ssh_key_slot, r->host_key, r->e.message, r->e.detail, r->e.hint);
	return rc;
}

static void assert_no_password(const struct val_result *r)
{
	assert_null(strstr(r->e.message, P.password));
	assert_null(strstr(r->e.detail, P.password));
	assert_null(strstr(r->e.hint, P.password));
}

/* authorized_keys of the sshd peer: which of the fake key slots it holds. */
static void authorize(struct peer *d, bool slot1, bool slot2)
{
	char path[300], line[160];
	snprintf(path, sizeof(path), "%s", peer_get(d, "SSHD_AUTHORIZED_KEYS"));
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (int s = 1; s <= 2; s++)
		if (s == 1 ? slot1 : slot2) {
			fake_key_line(&P.f, s, line, sizeof(line));
			fprintf(f, "%s\n", line);
		}
	fclose(f);
}

static void tunnel_of(struct job_builder *b, struct peer *d, const char *port,
		      const char *pinned)
{
	b->tunnel = (struct val_ssh_tunnel){
		.connection_id = 77, .host = "127.0.0.1",
		.port = (uint16_t)atoi(port ? port : peer_get(d, "SSHD_PORT")),
		.user = peer_get(d, "SSHD_USER"), .pinned_host_key = pinned,
	};
	b->job.tunnel = &b->tunnel;
}

static void ssh_job(struct job_builder *b, const char *pinned)
{
	job_init(b, "ssh-tunnel", 5000);
	b->job.connection_id = 77;
	tunnel_of(b, &P.sshd, NULL, pinned);
}

/* ---- group ---- */

static int group_setup(void **state)
{
	(void)state;
	fake_init(&P.f);
	fake_keys(&P.f);
	int rc = peer_start(&P.pg, "pg_start.sh", "pg_stop.sh", NULL);
	if (rc < 0)
		return -1;
	P.have_pg = rc == 0;
	rc = peer_start(&P.sshd, "sshd_start.sh", "sshd_stop.sh", NULL);
	if (rc < 0)
		return -1;
	P.have_sshd = rc == 0;
	if (P.have_pg) {
		snprintf(P.password, sizeof(P.password), "%s", peer_get(&P.pg, "PG_PASSWORD"));
		fake_secret_set(&P.f, SEC_PASSWORD, P.password, strlen(P.password));
		if (fake_secret_file(&P.f, SEC_CA, peer_get(&P.pg, "PG_CA")) != 0 ||
		    fake_secret_file(&P.f, SEC_CERT, peer_get(&P.pg, "PG_CLIENT_CERT")) != 0 ||
		    fake_secret_file(&P.f, SEC_KEY, peer_get(&P.pg, "PG_CLIENT_KEY")) != 0)
			return -1;
		FILE *kf = fopen(peer_get(&P.pg, "PG_CLIENT_KEY"), "r");
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
	/* Files written from here on are the validator's doing. */
	P.since = time(NULL) - 1;
	return 0;
}

/* The peers' daemons are reparented to us (subreaper): reap them. */
static void reap_children(void)
{
	for (int i = 0; i < 100 && waitpid(-1, NULL, WNOHANG) >= 0; i++)
		usleep(10000);
}

static int group_teardown(void **state)
{
	(void)state;
	peer_stop(&P.sshd);
	peer_stop(&P.pg);
	reap_children();
	fake_free(&P.f);
	return 0;
}

/* ---- PostgreSQL ---- */

static void test_pg_password_verify_full_ok(void **state)
{
	(void)state;
	need(true, false);
	struct job_builder b;
	struct val_result r;
	pg_job(&b, "localhost", NULL, "verify-full", true);
	assert_int_equal(run_pg(&b, &r), 0);
	assert_int_equal(r.code, VAL_OK);
	/* The password and the CA were fetched with the destination. */
	char want[64];
	snprintf(want, sizeof(want), "localhost:%s", pg("PGPORT"));
	assert_string_equal(P.f.last_destination, want);
}

static void test_pg_require_without_ca_ok(void **state)
{
	(void)state;
	need(true, false);
	struct job_builder b;
	struct val_result r;
	pg_job(&b, "127.0.0.1", NULL, "REQUIRED", false);   /* alias, any case */
	assert_int_equal(run_pg(&b, &r), 0);
}

static void test_pg_wrong_password_is_auth(void **state)
{
	(void)state;
	need(true, false);
	struct job_builder b;
	struct val_result r;
	fake_secret_set(&P.f, SEC_PASSWORD, "wrong-password-123", 18);
	pg_job(&b, "127.0.0.1", NULL, "require", false);
	int rc = run_pg(&b, &r);
	fake_secret_set(&P.f, SEC_PASSWORD, P.password, strlen(P.password));
	assert_int_equal(rc, -1);
	assert_int_equal(r.code, VAL_AUTH);
	assert_string_equal(r.e.sqlstate, "08004");
	assert_string_equal(r.stage, "target_auth");
	assert_non_null(strstr(r.e.message, "authentication to POSTGRES server 127.0.0.1 failed: "
					    "password authentication failed for user \"tether\""));
	assert_null(strstr(r.e.message, "28P01"));
	assert_null(strstr(r.e.detail, "LOCATION"));
	assert_null(strstr(r.e.detail, "wrong-password-123"));
	assert_true(r.e.hint[0] != '\0');

	/* ALTER SECRET takes effect at once: the next check uses the new value. */
	assert_int_equal(run_pg(&b, &r), 0);
}

static void test_pg_wrong_port_is_refused(void **state)
{
	(void)state;
	need(true, false);
	struct job_builder b;
	struct val_result r;
	char port[16];
	snprintf(port, sizeof(port), "%d", atoi(pg("PGPORT")) == 65535 ? 65534 : atoi(pg("PGPORT")) + 1);
	pg_job(&b, "127.0.0.1", port, "require", false);
	assert_int_equal(run_pg(&b, &r), -1);
	assert_int_equal(r.code, VAL_REFUSED);
	assert_no_password(&r);
}

static void test_pg_verify_full_other_name_is_tls(void **state)
{
	(void)state;
	need(true, false);
	struct job_builder b;
	struct val_result r;
	/* The server's certificate names localhost and 127.0.0.1, not 127.0.0.2
	 * (where it listens too). */
	pg_job(&b, "127.0.0.2", NULL, "verify-full", true);
	assert_int_equal(run_pg(&b, &r), -1);
	assert_int_equal(r.code, VAL_TLS);
	assert_string_equal(r.e.sqlstate, "08001");
	assert_non_null(strstr(r.e.message, "TLS handshake with 127.0.0.2 failed: "));
	assert_non_null(strstr(r.e.message, "does not match host name \"127.0.0.2\""));

	/* verify-ca checks the chain only: the same server passes. */
	pg_job(&b, "127.0.0.2", NULL, "verify_ca", true);
	assert_int_equal(run_pg(&b, &r), 0);
}

static void test_pg_verify_ca_with_wrong_ca_is_tls(void **state)
{
	(void)state;
	need(true, false);
	struct job_builder b;
	struct val_result r;
	/* A CA that did not sign the server's certificate: the client cert
	 * (issued by the real CA, not a CA itself) stands in. */
	pg_job(&b, "localhost", NULL, "verify-ca", false);
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_CERT);
	assert_int_equal(run_pg(&b, &r), -1);
	assert_int_equal(r.code, VAL_TLS);
	assert_string_equal(r.stage, "target_tls");
}

static void test_pg_no_tls_rejected_by_hba_is_auth(void **state)
{
	(void)state;
	need(true, false);
	struct job_builder b;
	struct val_result r;
	pg_job(&b, "127.0.0.1", NULL, "disable", false);
	assert_int_equal(run_pg(&b, &r), -1);
	assert_int_equal(r.code, VAL_AUTH);
	assert_non_null(strstr(r.e.message, "pg_hba.conf rejects connection"));
	assert_non_null(strstr(r.e.message, "no encryption"));
}

static void test_pg_client_certificate_from_memfd(void **state)
{
	(void)state;
	need(true, false);
	struct job_builder b;
	struct val_result r;
	job_init(&b, "postgres", 5000);
	job_text(&b, "HOST", "localhost");
	job_text(&b, "PORT", pg("PGPORT"));
	job_text(&b, "DATABASE", "app");
	job_secret(&b, "USER", SEC_USER);
	job_text(&b, "SSL MODE", "verify-full");
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
	job_secret(&b, "SSL CERTIFICATE", SEC_CERT);
	job_secret(&b, "SSL KEY", SEC_KEY);
	fake_secret_set(&P.f, SEC_USER, "certuser", 8);
	assert_int_equal(run_pg(&b, &r), 0);

	/* Without the certificate the cert user cannot log in. */
	job_init(&b, "postgres", 5000);
	job_text(&b, "HOST", "localhost");
	job_text(&b, "PORT", pg("PGPORT"));
	job_text(&b, "DATABASE", "app");
	job_text(&b, "USER", "certuser");
	job_text(&b, "SSL MODE", "verify-full");
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
	assert_int_equal(run_pg(&b, &r), -1);
	assert_int_equal(r.code, VAL_AUTH);

	/* A key that is not PEM: the configuration, not the server. */
	fake_secret_set(&P.f, 99, "not a key", 9);
	job_init(&b, "postgres", 5000);
	job_text(&b, "HOST", "localhost");
	job_text(&b, "PORT", pg("PGPORT"));
	job_text(&b, "DATABASE", "app");
	job_text(&b, "USER", "certuser");
	job_text(&b, "SSL MODE", "verify-full");
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
	job_secret(&b, "SSL CERTIFICATE", SEC_CERT);
	job_secret(&b, "SSL KEY", 99);
	assert_int_equal(run_pg(&b, &r), -1);
	assert_int_equal(r.code, VAL_CONFIG);
}

static void test_pg_missing_database_is_permission(void **state)
{
	(void)state;
	need(true, false);
	struct job_builder b;
	struct val_result r;
	job_init(&b, "postgres", 5000);
	job_text(&b, "HOST", "127.0.0.1");
	job_text(&b, "PORT", pg("PGPORT"));
	job_text(&b, "DATABASE", "nosuchdb");
	job_text(&b, "USER", "tether");
	job_secret(&b, "PASSWORD", SEC_PASSWORD);
	job_text(&b, "SSL MODE", "require");
	assert_int_equal(run_pg(&b, &r), -1);
	assert_int_equal(r.code, VAL_PERMISSION);
	assert_non_null(strstr(r.e.message, "database \"nosuchdb\" does not exist"));
}

/* ---- SSH TUNNEL ---- */

static void test_ssh_key_slot_1(void **state)
{
	(void)state;
	need(false, true);
	struct job_builder b;
	struct val_result r;
	authorize(&P.sshd, true, false);
	ssh_job(&b, NULL);
	assert_int_equal(run_ssh(&b, &r), 0);
	assert_int_equal(r.ssh_key_slot, 1);
	/* The seen key, to pin: exactly what ssh-keygen -lf prints. */
	assert_string_equal(r.host_key, sshd("SSHD_HOST_KEY"));
	assert_true(P.f.signs[1] >= 1);

	/* Pinned and matching: still fine. */
	ssh_job(&b, sshd("SSHD_HOST_KEY"));
	assert_int_equal(run_ssh(&b, &r), 0);
}

static void test_ssh_only_slot_2_authorized(void **state)
{
	(void)state;
	need(false, true);
	struct job_builder b;
	struct val_result r;
	authorize(&P.sshd, false, true);
	int before = P.f.signs[1];
	ssh_job(&b, sshd("SSHD_HOST_KEY"));
	assert_int_equal(run_ssh(&b, &r), 0);
	assert_int_equal(r.ssh_key_slot, 2);
	/* sshd refuses key 1 at the query: the vault is not asked to sign. */
	assert_int_equal(P.f.signs[1], before);
}

static void test_ssh_no_key_authorized_is_auth(void **state)
{
	(void)state;
	need(false, true);
	struct job_builder b;
	struct val_result r;
	char k1[128], k2[128];
	authorize(&P.sshd, false, false);
	ssh_job(&b, NULL);
	assert_int_equal(run_ssh(&b, &r), -1);
	assert_int_equal(r.code, VAL_AUTH);
	assert_string_equal(r.e.sqlstate, "08004");
	assert_string_equal(r.stage, "bastion_auth");
	assert_non_null(strstr(r.e.message, "authentication to SSH server 127.0.0.1:"));
	fake_key_line(&P.f, 1, k1, sizeof(k1));
	fake_key_line(&P.f, 2, k2, sizeof(k2));
	k1[strlen(k1) - strlen(" tether-test")] = '\0';
	k2[strlen(k2) - strlen(" tether-test")] = '\0';
	assert_non_null(strstr(r.e.detail, k1));
	assert_non_null(strstr(r.e.detail, k2));
	assert_non_null(strstr(r.e.hint, "SELECT public_key_1, public_key_2 FROM mz_ssh_tunnel_connections"));
}

static void test_ssh_pinned_key_mismatch(void **state)
{
	(void)state;
	need(false, true);
	struct job_builder b;
	struct val_result r;
	const char *old = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	authorize(&P.sshd, true, true);
	int signs = P.f.signs[1] + P.f.signs[2];
	ssh_job(&b, old);
	assert_int_equal(run_ssh(&b, &r), -1);
	assert_int_equal(r.code, VAL_HOST_KEY);
	assert_string_equal(r.e.sqlstate, "08004");
	assert_string_equal(r.e.message, "SSH host key for 127.0.0.1 does not match the pinned key");
	assert_non_null(strstr(r.e.detail, old));
	assert_non_null(strstr(r.e.detail, sshd("SSHD_HOST_KEY")));
	/* Nothing was signed for an impostor. */
	assert_int_equal(P.f.signs[1] + P.f.signs[2], signs);
}

/* ---- PostgreSQL through the bastion ---- */

static void test_pg_through_tunnel(void **state)
{
	(void)state;
	need(true, true);
	struct job_builder b;
	struct val_result r;
	authorize(&P.sshd, true, true);

	pg_job(&b, "localhost", NULL, "verify-full", true);
	tunnel_of(&b, &P.sshd, NULL, sshd("SSHD_HOST_KEY"));
	assert_int_equal(run_pg(&b, &r), 0);

	/* verify-full checks the real target name, not the tunnel's local end
	 * (127.0.0.1, which the certificate does name). */
	pg_job(&b, "127.0.0.2", NULL, "verify-full", true);
	tunnel_of(&b, &P.sshd, NULL, sshd("SSHD_HOST_KEY"));
	assert_int_equal(run_pg(&b, &r), -1);
	assert_int_equal(r.code, VAL_TLS);
	assert_non_null(strstr(r.e.message, "through SSH bastion 127.0.0.1:"));
	assert_non_null(strstr(r.e.message, "TLS handshake with 127.0.0.2 failed"));

	/* Authentication at the target, named as such. */
	fake_secret_set(&P.f, SEC_PASSWORD, "wrong-password-123", 18);
	pg_job(&b, "127.0.0.1", NULL, "require", false);
	tunnel_of(&b, &P.sshd, NULL, NULL);
	int rc = run_pg(&b, &r);
	fake_secret_set(&P.f, SEC_PASSWORD, P.password, strlen(P.password));
	assert_int_equal(rc, -1);
	assert_int_equal(r.code, VAL_AUTH);
	assert_string_equal(r.stage, "target_auth");
	assert_non_null(strstr(r.e.message, "through SSH bastion"));
}

static void test_pg_through_tunnel_stage_errors(void **state)
{
	(void)state;
	need(true, true);
	struct job_builder b;
	struct val_result r;
	char closed[16];

	/* The bastion cannot reach the target port. */
	authorize(&P.sshd, true, false);
	snprintf(closed, sizeof(closed), "%d", atoi(pg("PGPORT")) + 1);
	pg_job(&b, "127.0.0.1", closed, "require", false);
	tunnel_of(&b, &P.sshd, NULL, NULL);
	assert_int_equal(run_pg(&b, &r), -1);
	assert_int_equal(r.code, VAL_REFUSED);
	assert_string_equal(r.stage, "forward");
	assert_non_null(strstr(r.e.message, "could not open a connection to 127.0.0.1:"));

	/* The bastion refuses our keys. */
	authorize(&P.sshd, false, false);
	pg_job(&b, "127.0.0.1", NULL, "require", false);
	tunnel_of(&b, &P.sshd, NULL, NULL);
	assert_int_equal(run_pg(&b, &r), -1);
	assert_int_equal(r.code, VAL_AUTH);
	assert_string_equal(r.stage, "bastion_auth");
	assert_non_null(strstr(r.e.message, "SSH bastion"));

	/* The bastion's key changed. */
	authorize(&P.sshd, true, false);
	pg_job(&b, "127.0.0.1", NULL, "require", false);
	tunnel_of(&b, &P.sshd, NULL, "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	assert_int_equal(run_pg(&b, &r), -1);
	assert_int_equal(r.code, VAL_HOST_KEY);
	assert_string_equal(r.stage, "bastion_host_key");

	/* The bastion is down. */
	pg_job(&b, "127.0.0.1", NULL, "require", false);
	tunnel_of(&b, &P.sshd, closed, NULL);
	assert_int_equal(run_pg(&b, &r), -1);
	assert_int_equal(r.code, VAL_REFUSED);
	assert_string_equal(r.stage, "bastion");
	assert_non_null(strstr(r.e.message, "failed to connect to SSH bastion 127.0.0.1:"));
}

/* ---- the tunnel itself: bytes both ways, in volume ---- */

static void *echo_server(void *arg)
{
	int ls = *(int *)arg;
	int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	char buf[8192];
	ssize_t n;
	if (c < 0)
		return NULL;
	while ((n = read(c, buf, sizeof(buf))) > 0)
		for (ssize_t off = 0; off < n;) {
			ssize_t w = send(c, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
			if (w <= 0)
				goto out;
			off += w;
		}
out:
	close(c);
	return NULL;
}

static void test_tunnel_moves_a_megabyte_both_ways(void **state)
{
	(void)state;
	need(false, true);
	authorize(&P.sshd, true, false);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 1), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
	pthread_t echo;
	assert_int_equal(pthread_create(&echo, NULL, echo_server, &ls), 0);

	struct job_builder b;
	struct val_result r = { 0 };
	struct val_tunnel *tun = NULL;
	uint16_t lport = 0;
	ssh_job(&b, NULL);
	struct val_services svc = fake_services(&P.f);
	assert_int_equal(val_ssh_tunnel_open(&svc, job_done(&b), &b.tunnel, "127.0.0.1",
					     ntohs(sa.sin_port), &tun, &lport, &r), 0);
	assert_int_equal(r.ssh_key_slot, 1);

	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in la = { .sin_family = AF_INET, .sin_port = htons(lport),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(connect(c, (struct sockaddr *)&la, sizeof(la)), 0);
	const size_t total = 1 << 20;
	unsigned char *out = malloc(total), *in = malloc(total);
	for (size_t i = 0; i < total; i++)
		out[i] = (unsigned char)(i * 7 + (i >> 9));
	size_t sent = 0, got = 0;
	int64_t deadline = val_now_ms() + 20000;
	while (got < total && val_now_ms() < deadline) {
		struct pollfd p = { c, (short)(POLLIN | (sent < total ? POLLOUT : 0)), 0 };
		assert_true(poll(&p, 1, 1000) >= 0);
		if ((p.revents & POLLOUT) && sent < total) {
			ssize_t w = send(c, out + sent, total - sent > 32768 ? 32768 : total - sent,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w > 0)
				sent += (size_t)w;
		}
		if (p.revents & POLLIN) {
			ssize_t n = recv(c, in + got, total - got, MSG_DONTWAIT);
			assert_true(n > 0 || (n < 0 && errno == EAGAIN));
			if (n > 0)
				got += (size_t)n;
		}
	}
	assert_int_equal(got, total);
	assert_memory_equal(in, out, total);
	close(c);
	val_ssh_tunnel_close(tun);
	pthread_join(echo, NULL);
	close(ls);
	free(out);
	free(in);

	/* Nobody connects: close still returns at once. */
	ssh_job(&b, NULL);
	assert_int_equal(val_ssh_tunnel_open(&svc, job_done(&b), &b.tunnel, "127.0.0.1",
					     (uint16_t)atoi(pg("PGPORT")), &tun, &lport, &r), 0);
	int64_t t0 = val_now_ms();
	val_ssh_tunnel_close(tun);
	assert_true(val_now_ms() - t0 < 2000);
}

/* ---- PostgreSQL reachable only through the bastion ----
 * PostgreSQL and sshd run in their own network namespace; the test reaches
 * that sshd through a forwarder thread (its listener is in our namespace,
 * its connections are made from inside the other), so the only way to
 * PostgreSQL is the bastion's direct-tcpip. */

struct netns {
	pid_t holder;
	int hold_pipe;           /* closing it ends the holder */
	int nsfd;
	int listen_fd, stop[2];
	uint16_t port;           /* forwarder, in our namespace */
	uint16_t sshd_port;      /* sshd, in the other */
	pthread_t thread;
};

static int lo_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) != 0)
		return -1;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	int rc = ioctl(s, SIOCSIFFLAGS, &ifr);
	close(s);
	return rc;
}

static int netns_create(struct netns *n)
{
	int ready[2], hold[2];
	if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(hold, O_CLOEXEC) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		char c = (unshare(CLONE_NEWNET) == 0 && lo_up() == 0) ? 'R' : 'F';
		if (write(ready[1], &c, 1) != 1 || c != 'R')
			_exit(1);
		char x;
		while (read(hold[0], &x, 1) > 0) {
		}
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	char c = 'F';
	if (read(ready[0], &c, 1) != 1)
		c = 'F';
	close(ready[0]);
	n->holder = pid;
	n->hold_pipe = hold[1];
	if (c != 'R')
		return -1;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	n->nsfd = open(path, O_RDONLY | O_CLOEXEC);
	return n->nsfd >= 0 ? 0 : -1;
}

static void netns_destroy(struct netns *n)
{
	if (n->hold_pipe >= 0)
		close(n->hold_pipe);
	if (n->nsfd >= 0)
		close(n->nsfd);
	if (n->holder > 0) {
		kill(n->holder, SIGKILL);
		waitpid(n->holder, NULL, 0);
	}
}

static void pump_pair(int a, int b, int stop)
{
	char buf[16384];
	for (;;) {
		struct pollfd p[3] = { { a, POLLIN, 0 }, { b, POLLIN, 0 }, { stop, POLLIN, 0 } };
		if (poll(p, 3, 10000) <= 0 || (p[2].revents & POLLIN))
			return;
		for (int i = 0; i < 2; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(p[i].fd, buf, sizeof(buf));
			if (n <= 0)
				return;
			int to = i == 0 ? b : a;
			for (ssize_t off = 0; off < n;) {
				ssize_t w = send(to, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
				if (w <= 0)
					return;
				off += w;
			}
		}
	}
}

static void *forwarder(void *arg)
{
	struct netns *n = arg;
	/* Only this thread moves into the other namespace. */
	if (setns(n->nsfd, CLONE_NEWNET) != 0)
		return NULL;
	for (;;) {
		struct pollfd p[2] = { { n->listen_fd, POLLIN, 0 }, { n->stop[0], POLLIN, 0 } };
		if (poll(p, 2, -1) <= 0 || (p[1].revents & POLLIN))
			return NULL;
		int c = accept4(n->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(n->sshd_port),
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			pump_pair(c, s, n->stop[0]);
		if (s >= 0)
			close(s);
		close(c);
	}
}

static void test_pg_reachable_only_through_bastion(void **state)
{
	(void)state;
	need(true, true);
	struct netns n = { .hold_pipe = -1, .nsfd = -1, .listen_fd = -1, .stop = { -1, -1 } };
	if (netns_create(&n) != 0) {
		netns_destroy(&n);
		print_message("no network namespace here (unshare(CLONE_NEWNET) failed): skipped\n");
		skip();
	}
	char prefix[96];
	struct peer pgx, sshx;
	snprintf(prefix, sizeof(prefix), "PG_LISTEN=127.0.0.1 nsenter --net=/proc/%d/ns/net",
		 n.holder);
	assert_int_equal(peer_start(&pgx, "pg_start.sh", "pg_stop.sh", prefix), 0);
	assert_int_equal(peer_start(&sshx, "sshd_start.sh", "sshd_stop.sh", prefix), 0);
	n.sshd_port = (uint16_t)atoi(peer_get(&sshx, "SSHD_PORT"));

	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	n.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(n.listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(n.listen_fd, 4), 0);
	assert_int_equal(getsockname(n.listen_fd, (struct sockaddr *)&sa, &sl), 0);
	n.port = ntohs(sa.sin_port);
	assert_int_equal(pipe2(n.stop, O_CLOEXEC), 0);
	assert_int_equal(pthread_create(&n.thread, NULL, forwarder, &n), 0);

	fake_secret_set(&P.f, 50, peer_get(&pgx, "PG_PASSWORD"), strlen(peer_get(&pgx, "PG_PASSWORD")));
	fake_secret_set(&P.f, 51, "", 0);
	fake_secret_file(&P.f, 51, peer_get(&pgx, "PG_CA"));
	authorize(&sshx, true, false);

	struct job_builder b;
	struct val_result r;
	char fport[16];
	snprintf(fport, sizeof(fport), "%u", n.port);
	job_init(&b, "postgres", 5000);
	job_text(&b, "HOST", "localhost");
	job_text(&b, "PORT", peer_get(&pgx, "PGPORT"));
	job_text(&b, "DATABASE", "app");
	job_text(&b, "USER", "tether");
	job_secret(&b, "PASSWORD", 50);
	job_text(&b, "SSL MODE", "verify-full");
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", 51);

	/* Directly: nothing there. */
	int direct = run_pg(&b, &r);
	/* Through the bastion: fine. */
	tunnel_of(&b, &sshx, fport, peer_get(&sshx, "SSHD_HOST_KEY"));
	int via = run_pg(&b, &r);

	char x = 1;
	assert_int_equal(write(n.stop[1], &x, 1), 1);
	pthread_join(n.thread, NULL);
	close(n.listen_fd);
	close(n.stop[0]);
	close(n.stop[1]);
	peer_stop(&sshx);
	peer_stop(&pgx);
	netns_destroy(&n);
	assert_int_equal(direct, -1);
	assert_int_equal(via, 0);
}

/* ---- nothing leaked ---- */

static void test_no_secret_in_argv_env_or_tmp(void **state)
{
	(void)state;
	need(true, false);
	const char *skip_dirs[] = { P.pg.dir, P.sshd.dir };
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
		cmocka_unit_test(test_pg_password_verify_full_ok),
		cmocka_unit_test(test_pg_require_without_ca_ok),
		cmocka_unit_test(test_pg_wrong_password_is_auth),
		cmocka_unit_test(test_pg_wrong_port_is_refused),
		cmocka_unit_test(test_pg_verify_full_other_name_is_tls),
		cmocka_unit_test(test_pg_verify_ca_with_wrong_ca_is_tls),
		cmocka_unit_test(test_pg_no_tls_rejected_by_hba_is_auth),
		cmocka_unit_test(test_pg_client_certificate_from_memfd),
		cmocka_unit_test(test_pg_missing_database_is_permission),
		cmocka_unit_test(test_ssh_key_slot_1),
		cmocka_unit_test(test_ssh_only_slot_2_authorized),
		cmocka_unit_test(test_ssh_no_key_authorized_is_auth),
		cmocka_unit_test(test_ssh_pinned_key_mismatch),
		cmocka_unit_test(test_pg_through_tunnel),
		cmocka_unit_test(test_pg_through_tunnel_stage_errors),
		cmocka_unit_test(test_tunnel_moves_a_megabyte_both_ways),
		cmocka_unit_test(test_pg_reachable_only_through_bastion),
		cmocka_unit_test(test_no_secret_in_argv_env_or_tmp),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
