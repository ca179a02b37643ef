/* MYSQL with AWS CONNECTION (RDS IAM database authentication) against
 * tests/fakes/mysql_iam_fake.py, a MySQL server that does what RDS does:
 * TLS, then mysql_clear_password, and the token's SigV4 signature
 * recomputed with the test's secret key. Fake vault services hold the AWS
 * connection's secret key and session token. Skips without python3. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sodium.h>

#include "val.h"
#include "vtest.h"

#ifndef TETHER_FAKES_DIR
#error TETHER_FAKES_DIR must name tests/fakes
#endif

enum { SEC_AWS_SECRET = 1, SEC_AWS_TOKEN, SEC_CA, SEC_WRONG_SECRET };

#define AKID "AKIATETHERTESTIAM01"
/* Random per run (a literal would also sit in every build's binary under
 * /tmp, which the secret scan would find). '/' and '+' as in AWS's. */
#define AWS_SECRET M.secret
#define AWS_TOKEN M.token

/* The fake: stdin is our pipe (closing it ends it), stdout its lines. */
struct fake {
	pid_t pid;
	int in_fd, out_fd;
	char port[8];
	char hostport[32];
};

static struct {
	bool have_python;
	char dir[64];            /* PKI from kafka_certs.sh */
	struct fake tls, plain, strip;
	struct fake_svc f;
	time_t since;
	char secret[48], token[64];
} M;

static void random_text(char *out, size_t n)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char b[64];
	randombytes_buf(b, sizeof(b));
	for (size_t i = 0; i + 1 < n && i < sizeof(b); i++)
		out[i] = alphabet[b[i] & 63];
	out[n - 1] = '\0';
}

static int fake_start(struct fake *p, bool tls, bool strip)
{
	int in[2], out[2];
	char cfg[1024], line[128];
	size_t n = 0;

	memset(p, 0, sizeof(*p));
	p->in_fd = p->out_fd = -1;
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
		return -1;
	p->pid = fork();
	if (p->pid < 0)
		return -1;
	if (p->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in[0], 0);
		dup2(out[1], 1);
		execl("/usr/bin/python3", "python3", TETHER_FAKES_DIR "/mysql_iam_fake.py",
		      (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	p->in_fd = in[1];
	p->out_fd = out[0];
	/* Secrets through stdin, never argv. */
	snprintf(cfg, sizeof(cfg),
		 "{\"cert\": \"%s/server.pem\", \"key\": \"%s/server.key\", \"tls\": %s, "
		 "\"host\": \"127.0.0.1\", \"user\": \"iam_user\", \"access_key_id\": \"" AKID "\", "
		 "\"secret_access_key\": \"%s\", \"session_token\": \"%s\", "
		 "\"region\": \"eu-west-1\", \"lifetime\": 120, \"strip_tls_after_first\": %s}\n",
		 M.dir, M.dir, tls ? "true" : "false", AWS_SECRET, AWS_TOKEN,
		 strip ? "true" : "false");
	if (write(p->in_fd, cfg, strlen(cfg)) != (ssize_t)strlen(cfg))
		return -1;
	int64_t deadline = val_now_ms() + 10000;
	while (n < sizeof(line) - 1 && !memchr(line, '\n', n)) {
		struct pollfd pf = { .fd = p->out_fd, .events = POLLIN };
		int64_t left = deadline - val_now_ms();
		if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
			return -1;
		ssize_t r = read(p->out_fd, line + n, 1);   /* this line only */
		if (r <= 0)
			return -1;
		n += (size_t)r;
	}
	line[n] = '\0';
	if (sscanf(line, "READY port=%7[0-9]", p->port) != 1)
		return -1;
	snprintf(p->hostport, sizeof(p->hostport), "127.0.0.1:%s", p->port);
	return 0;
}

/* What the fake said since the last call (waits up to `ms` for a line). */
static void fake_lines(struct fake *p, char *out, size_t size, int ms)
{
	size_t n = 0;
	out[0] = '\0';
	int64_t deadline = val_now_ms() + ms;
	for (;;) {
		struct pollfd pf = { .fd = p->out_fd, .events = POLLIN };
		int64_t left = deadline - val_now_ms();
		if (poll(&pf, 1, n ? 50 : (left > 0 ? (int)left : 0)) <= 0)
			break;
		ssize_t r = read(p->out_fd, out + n, size - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		out[n] = '\0';
		if (n + 1 >= size)
			break;
	}
}

static void fake_stop(struct fake *p)
{
	if (p->in_fd >= 0)
		close(p->in_fd);
	if (p->out_fd >= 0)
		close(p->out_fd);
	p->in_fd = p->out_fd = -1;
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

static int group_setup(void **state)
{
	(void)state;
	fake_init(&M.f);
	M.since = time(NULL) - 1;
	if (sodium_init() < 0)
		return -1;
	random_text(M.secret, 41);
	random_text(M.token, 60);
	if (access("/usr/bin/python3", X_OK) != 0)
		return 0;
	snprintf(M.dir, sizeof(M.dir), "/tmp/tether-myiam-XXXXXX");
	if (!mkdtemp(M.dir))
		return -1;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "bash %s/kafka_certs.sh %s", TETHER_FAKES_DIR, M.dir);
	if (system(cmd) != 0)
		return -1;
	if (fake_start(&M.tls, true, false) != 0 || fake_start(&M.plain, false, false) != 0 ||
	    fake_start(&M.strip, true, true) != 0)
		return -1;
	char ca[300];
	snprintf(ca, sizeof(ca), "%s/ca.pem", M.dir);
	if (fake_secret_file(&M.f, SEC_CA, ca) != 0)
		return -1;
	fake_secret_set(&M.f, SEC_AWS_SECRET, AWS_SECRET, strlen(AWS_SECRET));
	fake_secret_set(&M.f, SEC_AWS_TOKEN, AWS_TOKEN, strlen(AWS_TOKEN));
	fake_secret_set(&M.f, SEC_WRONG_SECRET, "wrong/secret/key/for/the/test/000000000",
			strlen("wrong/secret/key/for/the/test/000000000"));
	M.have_python = true;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	fake_stop(&M.tls);
	fake_stop(&M.plain);
	fake_stop(&M.strip);
	if (M.dir[0]) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", M.dir);
		if (system(cmd) != 0)
			return -1;
	}
	fake_free(&M.f);
	return 0;
}

static void need_python(void)
{
	if (!M.have_python) {
		print_message("python3 not available: skipped\n");
		skip();
	}
}

/* HOST 127.0.0.1, PORT of `f`, USER, the AWS connection's keys nested. */
static void iam_job(struct job_builder *b, const struct fake *f, const char *mode,
		    uint64_t secret_id, bool region)
{
	job_init(b, "mysql", 5000);
	job_text(b, "HOST", "127.0.0.1");
	job_text(b, "PORT", f->port);
	job_text(b, "USER", "iam_user");
	if (mode)
		job_text(b, "SSL MODE", mode);
	job_text(b, "AWS CONNECTION", "77");
	job_text(b, VAL_AWS_REF_PREFIX "ACCESS KEY ID", AKID);
	job_secret(b, VAL_AWS_REF_PREFIX "SECRET ACCESS KEY", secret_id);
	job_secret(b, VAL_AWS_REF_PREFIX "SESSION TOKEN", SEC_AWS_TOKEN);
	if (region)
		job_text(b, VAL_AWS_REF_PREFIX "REGION", "eu-west-1");
	job_text(b, VAL_OPT_TETHER_REGION, region ? "us-east-1" : "eu-west-1");
}

static int run_my(struct job_builder *b, struct val_result *r)
{
	struct val_services svc = fake_services(&M.f);
	memset(r, 0, sizeof(*r));
	int rc = conn_mysql_validate(&svc, job_done(b), r);
	print_message("    mysql iam: rc=%d code=%s sqlstate=%s stage=%s\n      message: %s\n"
		      "      detail: %s\n      hint: %s\n", rc, val_code_name(r->code),
		      r->e.sqlstate, r->stage, r->e.message, r->e.detail, r->e.hint);
	const char *const never[] = { AWS_SECRET, AWS_TOKEN, "X-Amz-Signature",
				      "X-Amz-Credential" };
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
		assert_null(strstr(r->e.message, never[i]));
		assert_null(strstr(r->e.detail, never[i]));
		assert_null(strstr(r->e.hint, never[i]));
	}
	return rc;
}

static void test_iam_token_accepted(void **state)
{
	(void)state;
	need_python();
	struct job_builder b;
	struct val_result r;
	char lines[512];

	/* REGION on the AWS connection; keys fetched for the MySQL host. */
	iam_job(&b, &M.tls, "required", SEC_AWS_SECRET, true);
	assert_int_equal(run_my(&b, &r), 0);
	assert_int_equal(r.code, VAL_OK);
	assert_string_equal(r.host, M.tls.hostport);
	assert_string_equal(M.f.last_destination, M.tls.hostport);
	fake_lines(&M.tls, lines, sizeof(lines), 2000);
	assert_non_null(strstr(lines, "AUTH ok user=iam_user"));

	/* No REGION: the deployment's; verify_ca with the fake's CA. */
	iam_job(&b, &M.tls, "verify_ca", SEC_AWS_SECRET, false);
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
	assert_int_equal(run_my(&b, &r), 0);
	fake_lines(&M.tls, lines, sizeof(lines), 2000);
	assert_non_null(strstr(lines, "AUTH ok user=iam_user"));
}

static void test_iam_wrong_key_is_auth(void **state)
{
	(void)state;
	need_python();
	struct job_builder b;
	struct val_result r;
	char lines[512];

	iam_job(&b, &M.tls, "required", SEC_WRONG_SECRET, true);
	assert_int_equal(run_my(&b, &r), -1);
	assert_int_equal(r.code, VAL_AUTH);
	assert_string_equal(r.e.sqlstate, "08004");
	assert_string_equal(r.stage, "target_auth");
	assert_non_null(strstr(r.e.message, "authentication to MYSQL server 127.0.0.1 failed"));
	assert_non_null(strstr(r.e.hint, "AWS CONNECTION"));
	fake_lines(&M.tls, lines, sizeof(lines), 2000);
	assert_non_null(strstr(lines, "AUTH fail reason=signature_mismatch"));

	/* Signed for another region than the server's. */
	iam_job(&b, &M.tls, "required", SEC_AWS_SECRET, false);
	b.nopts--;                               /* drop TETHER/REGION eu-west-1 */
	job_text(&b, VAL_OPT_TETHER_REGION, "ap-south-1");
	assert_int_equal(run_my(&b, &r), -1);
	assert_int_equal(r.code, VAL_AUTH);
	fake_lines(&M.tls, lines, sizeof(lines), 2000);
	assert_non_null(strstr(lines, "AUTH fail reason=wrong_region_ap-south-1"));
}

/* The token never travels without TLS: refused before connecting when
 * SSL MODE is disabled or absent, and libmariadb refuses a server that
 * does not offer TLS before sending anything. */
static void test_iam_never_without_tls(void **state)
{
	(void)state;
	need_python();
	struct job_builder b;
	struct val_result r;
	char lines[512];

	static const char *const modes[] = { "disabled", NULL };
	for (size_t i = 0; i < 2; i++) {
		iam_job(&b, &M.plain, modes[i], SEC_AWS_SECRET, true);
		assert_int_equal(run_my(&b, &r), -1);
		assert_int_equal(r.code, VAL_CONFIG);
		assert_string_equal(r.e.sqlstate, "22023");
		assert_string_equal(r.e.message, "invalid connection configuration: AWS IAM "
				    "authentication requires SSL to be enabled");
	}
	fake_lines(&M.plain, lines, sizeof(lines), 300);
	assert_string_equal(lines, "");          /* not even connected */

	iam_job(&b, &M.plain, "required", SEC_AWS_SECRET, true);
	assert_int_equal(run_my(&b, &r), -1);
	assert_int_equal(r.code, VAL_TLS);
	assert_string_equal(r.stage, "target_tls");
	fake_lines(&M.plain, lines, sizeof(lines), 1000);
	assert_null(strstr(lines, "AUTH"));
	assert_null(strstr(lines, "PLAINTEXT-RESPONSE"));

	/* TLS offered to the probe, stripped for the real connection: the
	 * pinned certificate makes libmariadb refuse before sending. */
	iam_job(&b, &M.strip, "required", SEC_AWS_SECRET, true);
	assert_int_equal(run_my(&b, &r), -1);
	assert_int_equal(r.code, VAL_TLS);
	fake_lines(&M.strip, lines, sizeof(lines), 1000);
	assert_null(strstr(lines, "AUTH"));
	assert_null(strstr(lines, "PLAINTEXT-RESPONSE"));
}

static void test_iam_config_errors(void **state)
{
	(void)state;
	struct job_builder b;
	struct val_result r;
	struct fake none = { .port = "3306" };

	/* PASSWORD alongside AWS CONNECTION (SQL.md 5.6). */
	iam_job(&b, &none, "required", SEC_AWS_SECRET, true);
	job_text(&b, "PASSWORD", "pw");
	assert_int_equal(run_my(&b, &r), -1);
	assert_int_equal(r.code, VAL_CONFIG);
	assert_string_equal(r.e.message, "invalid connection configuration: AWS IAM "
			    "authentication is not supported with password");

	/* An AWS connection with neither keys nor role. */
	job_init(&b, "mysql", 700);
	job_text(&b, "HOST", "127.0.0.1");
	job_text(&b, "USER", "iam_user");
	job_text(&b, "SSL MODE", "required");
	job_text(&b, "AWS CONNECTION", "77");
	assert_int_equal(run_my(&b, &r), -1);
	assert_int_equal(r.code, VAL_CONFIG);
	assert_non_null(strstr(r.e.message, "must specify either ASSUME ROLE ARN or ACCESS KEY ID"));

	/* A role but no tether principal configured: 0A000 (SQL.md 6). */
	job_init(&b, "mysql", 700);
	job_text(&b, "HOST", "127.0.0.1");
	job_text(&b, "USER", "iam_user");
	job_text(&b, "SSL MODE", "required");
	job_text(&b, "AWS CONNECTION", "77");
	job_text(&b, VAL_AWS_REF_PREFIX "ASSUME ROLE ARN", "arn:aws:iam::000000000000:role/rds");
	job_text(&b, VAL_AWS_REF_PREFIX "EXTERNAL ID", "mz_x_u77");
	assert_int_equal(run_my(&b, &r), -1);
	assert_string_equal(r.e.sqlstate, "0A000");
	assert_string_equal(r.e.message, "internal error: no AWS connection role configured");
}

static void test_iam_no_secret_in_argv_env_or_tmp(void **state)
{
	(void)state;
	need_python();
	const char *skip_dirs[] = { M.dir };
	char where[512];
	const char *const secrets[] = { AWS_SECRET, AWS_TOKEN };
	for (size_t i = 0; i < 2; i++) {
		const char *hit = secret_scan(M.since, skip_dirs, 1, secrets[i],
					      strlen(secrets[i]), where, sizeof(where));
		if (hit)
			print_error("AWS secret %zu found in %s\n", i, hit);
		assert_null(hit);
	}
}

int main(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iam_token_accepted),
		cmocka_unit_test(test_iam_wrong_key_is_auth),
		cmocka_unit_test(test_iam_never_without_tls),
		cmocka_unit_test(test_iam_config_errors),
		cmocka_unit_test(test_iam_no_secret_in_argv_env_or_tmp),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
