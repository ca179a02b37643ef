/* Validator helpers and the checks' failure paths that need no real peer:
 * codes and SQLSTATEs, option values with secret parts, scrubbing, memfd
 * files (sealed, 0600, wiped), config errors, DNS, refused and timeout
 * against loopback sockets that refuse or never answer. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "memfile.h"
#include "val.h"
#include "vtest.h"

static void test_code_names_and_sqlstates(void **state)
{
	(void)state;
	static const struct { enum val_code c; const char *name, *state; } want[] = {
		{ VAL_OK, "ok", "00000" }, { VAL_DNS, "dns", "08001" },
		{ VAL_REFUSED, "refused", "08001" }, { VAL_TIMEOUT, "timeout", "08001" },
		{ VAL_TLS, "tls", "08001" }, { VAL_AUTH, "auth", "08004" },
		{ VAL_HOST_KEY, "host_key", "08004" }, { VAL_PERMISSION, "permission", "08004" },
		{ VAL_PROTOCOL, "protocol", "08P01" }, { VAL_CONFIG, "config", "22023" },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_string_equal(val_code_name(want[i].c), want[i].name);
		assert_string_equal(val_code_sqlstate(want[i].c), want[i].state);
	}
	struct val_result r = { 0 };
	val_fail(&r, VAL_AUTH, "db:5432", "authentication to POSTGRES server %s failed: %s", "db", "x");
	assert_int_equal(r.code, VAL_AUTH);
	assert_string_equal(r.host, "db:5432");
	assert_string_equal(r.e.sqlstate, "08004");
	assert_string_equal(r.e.message, "authentication to POSTGRES server db failed: x");
}

static void test_option_value_concatenates_text_and_secrets(void **state)
{
	(void)state;
	struct fake_svc f;
	struct job_builder b;
	struct val_result r = { 0 };
	fake_init(&f);
	fake_secret_set(&f, 7, "s3cr3t", 6);
	job_init(&b, "postgres", 1000);
	job_text(&b, "PASSWORD", "pre-");
	job_secret(&b, "PASSWORD", 7);
	job_text(&b, "PASSWORD", "-post");
	const struct val_job *job = job_done(&b);
	struct val_services svc = fake_services(&f);

	const struct val_option *o = val_job_option(job, "password");
	assert_non_null(o);
	assert_null(val_job_option(job, "HOST"));
	char *v;
	size_t len;
	assert_int_equal(val_option_value(&svc, job, o, "db:5432", &v, &len, &r), 0);
	assert_string_equal(v, "pre-s3cr3t-post");
	assert_int_equal(len, 15);
	assert_string_equal(f.last_destination, "db:5432");
	assert_int_equal(f.fetches, 1);
	assert_int_equal(f.releases, 1);
	val_value_free(v, len);

	/* A secret outside the grant: config, with the vault's reason. */
	job_init(&b, "postgres", 1000);
	job_secret(&b, "PASSWORD", 99);
	job = job_done(&b);
	assert_int_equal(val_option_value(&svc, job, &job->options[0], "db:5432", &v, &len, &r), -1);
	assert_int_equal(r.code, VAL_CONFIG);
	assert_string_equal(r.e.sqlstate, "22023");
	assert_non_null(strstr(r.e.detail, "not in the grant"));
	fake_free(&f);
}

static void test_option_value_rejects_nul(void **state)
{
	(void)state;
	struct fake_svc f;
	struct job_builder b;
	struct val_result r = { 0 };
	fake_init(&f);
	fake_secret_set(&f, 1, "ab\0cd", 5);
	job_init(&b, "postgres", 1000);
	job_secret(&b, "PASSWORD", 1);
	const struct val_job *job = job_done(&b);
	struct val_services svc = fake_services(&f);
	char *v;
	size_t len;
	assert_int_equal(val_option_value(&svc, job, &job->options[0], NULL, &v, &len, &r), -1);
	assert_int_equal(r.code, VAL_CONFIG);
	assert_non_null(strstr(r.e.message, "NUL"));
	fake_free(&f);
}

static void test_scrub_replaces_every_occurrence(void **state)
{
	(void)state;
	char s[64] = "pw=hunter2, again hunter2.";
	val_scrub(s, sizeof(s), "hunter2", 7);
	assert_string_equal(s, "pw=<redacted>, again <redacted>.");
	char t[16] = "aaaa hunter2";
	val_scrub(t, sizeof(t), "hunter2", 7);   /* truncated, still terminated */
	assert_string_equal(t, "aaaa <redacted>");
	char u[16] = "abc";
	val_scrub(u, sizeof(u), "b", 1);         /* too short to scrub */
	assert_string_equal(u, "abc");
}

static void test_memfile_sealed_private_and_wiped(void **state)
{
	(void)state;
	struct memfile m = MEMFILE_INIT;
	struct err e = { 0 };
	const char data[] = "-----BEGIN PRIVATE KEY-----\nsecret\n";
	assert_int_equal(memfile_create(&m, "test", data, sizeof(data) - 1, &e), 0);
	assert_non_null(strstr(m.path, "/proc/self/fd/"));

	struct stat st;
	assert_int_equal(stat(m.path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);

	int rd = open(m.path, O_RDONLY | O_CLOEXEC);
	assert_true(rd >= 0);
	char buf[64] = { 0 };
	assert_int_equal(pread(rd, buf, sizeof(buf), 0), sizeof(data) - 1);
	assert_memory_equal(buf, data, sizeof(data) - 1);

	/* Sealed: no writes, no growth, no shrinking, through any descriptor. */
	assert_int_equal(write(m.fd, "x", 1), -1);
	assert_int_equal(errno, EPERM);
	int wr = open(m.path, O_WRONLY | O_CLOEXEC);
	if (wr >= 0) {
		assert_int_equal(pwrite(wr, "x", 1, 0), -1);
		close(wr);
	}
	assert_int_equal(ftruncate(m.fd, 0), -1);
	assert_int_equal(ftruncate(m.fd, 4096), -1);

	/* Closing wipes the bytes (seen through a descriptor that outlives it). */
	memfile_close(&m);
	assert_int_equal(m.fd, -1);
	memset(buf, 'z', sizeof(buf));
	assert_int_equal(pread(rd, buf, sizeof(buf), 0), sizeof(data) - 1);
	for (size_t i = 0; i < sizeof(data) - 1; i++)
		assert_int_equal(buf[i], 0);
	close(rd);
	memfile_close(&m);   /* twice is harmless */
}

/* ---- config errors ---- */

static void run_pg(struct job_builder *b, struct fake_svc *f, struct val_result *r, int want)
{
	struct val_services svc = fake_services(f);
	memset(r, 0, sizeof(*r));
	int rc = conn_postgres_validate(&svc, job_done(b), r);
	if (rc != want || (want == 0 && r->code != VAL_OK))
		print_error("rc=%d code=%s stage=%s msg=%s detail=%s\n", rc,
			    val_code_name(r->code), r->stage, r->e.message, r->e.detail);
	assert_int_equal(rc, want);
}

static void test_pg_config_errors(void **state)
{
	(void)state;
	struct fake_svc f;
	struct job_builder b;
	struct val_result r;
	fake_init(&f);

	job_init(&b, "postgres", 1000);
	job_text(&b, "DATABASE", "d");
	job_text(&b, "USER", "u");
	run_pg(&b, &f, &r, -1);
	assert_int_equal(r.code, VAL_CONFIG);
	assert_string_equal(r.e.message, "invalid connection configuration: HOST option is required");

	job_init(&b, "postgres", 1000);
	job_text(&b, "HOST", "127.0.0.1");
	job_text(&b, "DATABASE", "d");
	job_text(&b, "USER", "u");
	job_text(&b, "SSL MODE", "prefer");
	run_pg(&b, &f, &r, -1);
	assert_int_equal(r.code, VAL_CONFIG);
	assert_string_equal(r.e.message, "invalid connection configuration: unknown SSL MODE \"prefer\"");

	job_init(&b, "postgres", 1000);
	job_text(&b, "HOST", "127.0.0.1");
	job_text(&b, "DATABASE", "d");
	job_text(&b, "USER", "u");
	job_text(&b, "SSL CERTIFICATE", "x");
	run_pg(&b, &f, &r, -1);
	assert_int_equal(r.code, VAL_CONFIG);
	assert_non_null(strstr(r.e.message, "both SSL KEY and SSL CERTIFICATE are required"));

	job_init(&b, "postgres", 1000);
	job_text(&b, "HOST", "127.0.0.1");
	job_text(&b, "PORT", "99999");
	job_text(&b, "DATABASE", "d");
	job_text(&b, "USER", "u");
	run_pg(&b, &f, &r, -1);
	assert_int_equal(r.code, VAL_CONFIG);
	fake_free(&f);
}

/* ---- network failures on loopback ---- */

/* A port with nothing listening: bind, note the port, close. */
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

/* A socket that completes TCP handshakes (the kernel does) but never
 * accepts or answers. */
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

static void pg_job(struct job_builder *b, const char *host, int port, const char *mode)
{
	static char portbuf[16];
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	job_init(b, "postgres", 700);
	job_text(b, "HOST", host);
	job_text(b, "PORT", portbuf);
	job_text(b, "DATABASE", "d");
	job_text(b, "USER", "u");
	job_secret(b, "PASSWORD", 1);
	if (mode)
		job_text(b, "SSL MODE", mode);
}

static void test_pg_dns_failure(void **state)
{
	(void)state;
	struct fake_svc f;
	struct job_builder b;
	struct val_result r;
	fake_init(&f);
	fake_secret_set(&f, 1, "pw-unused", 9);
	pg_job(&b, "no-such-host.invalid", 5432, NULL);
	run_pg(&b, &f, &r, -1);
	assert_int_equal(r.code, VAL_DNS);
	assert_string_equal(r.e.sqlstate, "08001");
	assert_non_null(strstr(r.e.message, "failed to resolve no-such-host.invalid: "));
	fake_free(&f);
}

static void test_pg_refused(void **state)
{
	(void)state;
	struct fake_svc f;
	struct job_builder b;
	struct val_result r;
	char want[64];
	fake_init(&f);
	fake_secret_set(&f, 1, "pw-unused", 9);
	int port = closed_port();
	pg_job(&b, "127.0.0.1", port, "require");
	run_pg(&b, &f, &r, -1);
	assert_int_equal(r.code, VAL_REFUSED);
	snprintf(want, sizeof(want), "failed to connect to 127.0.0.1:%d: ", port);
	assert_non_null(strstr(r.e.message, want));
	assert_non_null(strstr(r.e.message, "refused"));
	assert_string_equal(r.e.sqlstate, "08001");
	assert_true(r.e.hint[0] != '\0');
	fake_free(&f);
}

static void test_pg_silent_peer_times_out(void **state)
{
	(void)state;
	struct fake_svc f;
	struct job_builder b;
	struct val_result r;
	int port;
	fake_init(&f);
	fake_secret_set(&f, 1, "pw-unused", 9);
	int s = silent_listener(&port);
	pg_job(&b, "127.0.0.1", port, "require");
	int64_t t0 = val_now_ms();
	run_pg(&b, &f, &r, -1);
	int64_t took = val_now_ms() - t0;
	assert_int_equal(r.code, VAL_TIMEOUT);
	assert_string_equal(r.e.sqlstate, "08001");
	assert_non_null(strstr(r.e.message, "failed to connect to 127.0.0.1:"));
	assert_true(took >= 600 && took < 3000);
	close(s);
	fake_free(&f);
}

static void run_ssh(struct job_builder *b, struct fake_svc *f, struct val_result *r, int want)
{
	struct val_services svc = fake_services(f);
	memset(r, 0, sizeof(*r));
	int rc = conn_ssh_tunnel_validate(&svc, job_done(b), r);
	if (rc != want)
		print_error("rc=%d code=%s stage=%s msg=%s detail=%s\n", rc,
			    val_code_name(r->code), r->stage, r->e.message, r->e.detail);
	assert_int_equal(rc, want);
}

static void test_ssh_refused_and_silent(void **state)
{
	(void)state;
	struct fake_svc f;
	struct job_builder b;
	struct val_result r;
	char portbuf[16];
	fake_init(&f);
	fake_keys(&f);

	snprintf(portbuf, sizeof(portbuf), "%d", closed_port());
	job_init(&b, "ssh-tunnel", 700);
	job_text(&b, "HOST", "127.0.0.1");
	job_text(&b, "PORT", portbuf);
	job_text(&b, "USER", "root");
	run_ssh(&b, &f, &r, -1);
	assert_int_equal(r.code, VAL_REFUSED);
	assert_string_equal(r.stage, "bastion");
	assert_non_null(strstr(r.e.message, "failed to connect to 127.0.0.1:"));

	int port;
	int s = silent_listener(&port);
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	job_init(&b, "ssh-tunnel", 700);
	job_text(&b, "HOST", "127.0.0.1");
	job_text(&b, "PORT", portbuf);
	job_text(&b, "USER", "root");
	int64_t t0 = val_now_ms();
	run_ssh(&b, &f, &r, -1);
	assert_int_equal(r.code, VAL_TIMEOUT);
	assert_true(val_now_ms() - t0 < 3000);
	close(s);
	fake_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_code_names_and_sqlstates),
		cmocka_unit_test(test_option_value_concatenates_text_and_secrets),
		cmocka_unit_test(test_option_value_rejects_nul),
		cmocka_unit_test(test_scrub_replaces_every_occurrence),
		cmocka_unit_test(test_memfile_sealed_private_and_wiped),
		cmocka_unit_test(test_pg_config_errors),
		cmocka_unit_test(test_pg_dns_failure),
		cmocka_unit_test(test_pg_refused),
		cmocka_unit_test(test_pg_silent_peer_times_out),
		cmocka_unit_test(test_ssh_refused_and_silent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
