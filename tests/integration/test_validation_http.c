/* CONFLUENT SCHEMA REGISTRY, ICEBERG CATALOG (rest, s3tablesrest), AWS and
 * AWS PRIVATELINK validation end to end: a real tetherd (validators under
 * seccomp in TETHER_SECCOMP_DEBUG mode, so that a blocked syscall is named
 * in the log) against the HTTP(S) fakes of tests/fakes/http_fakes.py (TLS
 * from tests/fakes/http_certs.sh, basic auth, OAuth2 client credentials,
 * SigV4 checked by the fake, STS AssumeRole with external IDs), driven over
 * libpq. tetherd runs with tether's own AWS identity configured by --set
 * (aws.connection_role_arn, aws.principal_credentials_secret, and
 * aws.sts_endpoint: the STS fake tether's own calls go to; a role-based
 * connection's ENDPOINT never receives them, checked with a recording
 * listener). A failed
 * CREATE commits nothing; no secret value reaches the data dir or the logs.
 * Skips when python3 or openssl is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
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
#define PRINCIPAL "arn:aws:iam::111122223333:role/TetherConnections"
#define CUSTOMER "arn:aws:iam::444455556666:role/Customer"
#define INSECURE "arn:aws:iam::444455556666:role/Insecure"
#define UNTRUSTING "arn:aws:iam::444455556666:role/Untrusting"
#define TETHER_USER_ARN "arn:aws:iam::111122223333:user/tether-base"
#define S3_ARN "arn:aws:s3tables:us-west-2:111122223333:bucket/b1"

/* A fake: stdin is our pipe (closing it ends the fake), PORT <n> its
 * first line. */
struct fake {
	pid_t pid;
	int in;
	int port;
};

static struct tetherd daemon_;
static char dir[64];
static int have_fakes;
static struct fake csr, ice, s3t, sts;
/* Values unique to this run (a scan of the data dir must not find them). */
static char csr_pw[40], ice_secret[40], aws_secret[40], tether_secret[40], s3_secret[40];
/* aws.sts_endpoint=http://127.0.0.1:<port>/ (plain http is accepted for
 * loopback only): the STS fake tether signs its own calls for. */
static char sts_endpoint_arg[96];
static const char *const daemon_args[] = {
	"--set", "aws.connection_role_arn=" PRINCIPAL,
	"--set", "aws.principal_credentials_secret=materialize.public.tether_aws",
	"--set", sts_endpoint_arg,
	NULL,
};

static void random_value(char *out, size_t size, const char *stem)
{
	unsigned char b[8];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		memset(b, 0x5a, sizeof(b));
	snprintf(out, size, "%s%02x%02x%02x%02x%02x%02x%02x%02x", stem, b[0], b[1], b[2], b[3],
		 b[4], b[5], b[6], b[7]);
}

static int fake_start(struct fake *f, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fake_start(struct fake *f, const char *kind, const char *fmt, ...)
{
	static int nconf;
	char path[128], body[8192], line[64] = "";
	int in[2], out[2];
	size_t n = 0;
	va_list ap;
	FILE *fp;

	memset(f, 0, sizeof(*f));
	f->in = -1;
	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/fake-%d.json", dir, ++nconf);
	if (!(fp = fopen(path, "w")))
		return -1;
	fputs(body, fp);
	fclose(fp);
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
		return -1;
	f->pid = fork();
	if (f->pid < 0)
		return -1;
	if (f->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in[0], 0);
		dup2(out[1], 1);
		execl(PYTHON, "python3", TETHER_FAKES_DIR "/http_fakes.py", "--kind", kind,
		      "--config", path, "--lifetime", "300", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	f->in = in[1];
	struct pollfd p = { .fd = out[0], .events = POLLIN };
	while (n < sizeof(line) - 1 && poll(&p, 1, 10000) > 0) {
		ssize_t k = read(out[0], line + n, 1);
		if (k <= 0 || line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	close(out[0]);
	if (sscanf(line, "PORT %d", &f->port) != 1) {
		fprintf(stderr, "fake %s did not start: '%s'\n", kind, line);
		return -1;
	}
	return 0;
}

static void fake_stop(struct fake *f)
{
	if (f->in >= 0)
		close(f->in);
	f->in = -1;
	if (f->pid <= 0)
		return;
	for (int i = 0; i < 200; i++) {
		if (waitpid(f->pid, NULL, WNOHANG) == f->pid) {
			f->pid = 0;
			return;
		}
		usleep(10000);
	}
	kill(f->pid, SIGKILL);
	waitpid(f->pid, NULL, 0);
	f->pid = 0;
}

/* The STS fake: AKIDUSER (key auth), tether's own key (AKIDTETHER), the
 * principal role it may assume, and the customer roles the principal may
 * assume: `customer_ext` is the external ID Customer requires (its trust
 * policy condition); Insecure requires none; Untrusting trusts nobody. */
static int start_sts(struct fake *f, const char *customer_ext)
{
	return fake_start(f, "sts",
		"{\"sts\": {\"region\": \"us-east-1\", \"keys\": {"
		" \"AKIDUSER\": {\"secret\": \"%s\", \"arn\": \"arn:aws:iam::111122223333:user/u\"},"
		" \"AKIDTETHER\": {\"secret\": \"%s\", \"arn\": \"" TETHER_USER_ARN "\"}},"
		" \"roles\": {"
		" \"" PRINCIPAL "\": {\"trusts\": [\"" TETHER_USER_ARN "\"], \"external_id\": null},"
		" \"" CUSTOMER "\": {\"trusts\": [\"" PRINCIPAL "\"], \"external_id\": \"%s\"},"
		" \"" INSECURE "\": {\"trusts\": [\"" PRINCIPAL "\"], \"external_id\": null},"
		" \"" UNTRUSTING "\": {\"trusts\": [], \"external_id\": \"%s\"}}}}",
		aws_secret, tether_secret, customer_ext, customer_ext);
}

static int group_setup(void **state)
{
	char cmd[300];

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	random_value(csr_pw, sizeof(csr_pw), "it-csr-pw-");
	random_value(ice_secret, sizeof(ice_secret), "it-ice-secret-");
	random_value(aws_secret, sizeof(aws_secret), "it/aws+secret-");
	random_value(tether_secret, sizeof(tether_secret), "it/tether+base-");
	random_value(s3_secret, sizeof(s3_secret), "it/s3+secret-");
	snprintf(dir, sizeof(dir), "/tmp/tether-ithttp-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cmd, sizeof(cmd), "bash %s/http_certs.sh %s/tls >%s/certs.log 2>&1",
		 TETHER_FAKES_DIR, dir, dir);
	have_fakes = access(PYTHON, X_OK) == 0 && system(cmd) == 0;
	if (have_fakes) {
		have_fakes =
			fake_start(&csr, "csr",
				   "{\"tls\": {\"cert\": \"%s/tls/server.crt\", \"key\": "
				   "\"%s/tls/server.key\"}, \"csr\": {\"users\": {\"tether\": \"%s\"}}}",
				   dir, dir, csr_pw) == 0 &&
			fake_start(&ice, "iceberg",
				   "{\"iceberg\": {\"client_id\": \"client-id\", \"client_secret\": "
				   "\"%s\", \"token\": \"it-token-5f2e\", \"warehouses\": [\"wh\"], "
				   "\"prefix\": \"wh-prefix\"}}", ice_secret) == 0 &&
			fake_start(&s3t, "iceberg",
				   "{\"iceberg\": {\"base\": \"/iceberg\", \"warehouses\": "
				   "[\"" S3_ARN "\"], \"sigv4\": {\"region\": \"us-west-2\", "
				   "\"service\": \"s3tables\", \"keys\": {\"AKIDS3\": {\"secret\": "
				   "\"%s\"}}}}}", s3_secret) == 0 &&
			start_sts(&sts, "unused") == 0;
	}
	if (!have_fakes)
		fprintf(stderr, "python3/openssl or a fake missing: the cases skip\n");
	snprintf(sts_endpoint_arg, sizeof(sts_endpoint_arg), "aws.sts_endpoint=http://127.0.0.1:%d/",
		 have_fakes ? sts.port : 1);
	setenv("TETHER_SECCOMP_DEBUG", "1", 1);
	return th_start_args(&daemon_, daemon_args);
}

static int group_teardown(void **state)
{
	char cmd[200];

	(void)state;
	th_stop(&daemon_);
	th_cleanup(&daemon_);
	fake_stop(&csr);
	fake_stop(&ice);
	fake_stop(&s3t);
	fake_stop(&sts);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static PGconn *conn(void)
{
	PGconn *c;

	if (!have_fakes)
		skip();
	c = th_connect(&daemon_);
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

/* Runs sql, expects sqlstate; keeps the primary message, detail and hint. */
static struct {
	char message[1024], detail[1024], hint[1024];
} last;

static const char *exec_fails(PGconn *c, const char *sql, const char *sqlstate)
{
	PGresult *r = PQexec(c, sql);
	const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *d = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
	const char *h = PQresultErrorField(r, PG_DIAG_MESSAGE_HINT);

	if (!st || strcmp(st, sqlstate) != 0)
		fail_msg("%s\n  -> expected %s, got %s %s", sql, sqlstate, st ? st : "success",
			 PQresultErrorMessage(r));
	snprintf(last.message, sizeof(last.message), "%s",
		 PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
	snprintf(last.detail, sizeof(last.detail), "%s", d ? d : "");
	snprintf(last.hint, sizeof(last.hint), "%s", h ? h : "");
	PQclear(r);
	return last.message;
}

static void assert_value(PGconn *c, const char *sql, const char *want)
{
	char *v = th_query_value(c, sql);

	assert_non_null(v);
	if (strcmp(v, want) != 0)
		fail_msg("%s\n  -> %s, expected %s", sql, v, want);
	free(v);
}

static void assert_absent(PGconn *c, const char *name)
{
	assert_value(c, sqlf("SELECT count(*) FROM mz_connections WHERE name = '%s'", name), "0");
}

static void no_validator_left(void)
{
	for (int i = 0; i < 100 && th_child_pid(&daemon_, VALIDATOR_COMM) > 0; i++)
		th_sleep_ms(20);
	assert_true(th_child_pid(&daemon_, VALIDATOR_COMM) <= 0);
}

static void read_file(const char *path, char *out, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(out, 1, size - 1, f);
	fclose(f);
	out[n] = '\0';
}

static void test_csr(void **state)
{
	PGconn *c = conn();
	char pem[4096], path[128];
	const char *m;

	(void)state;
	snprintf(path, sizeof(path), "%s/tls/ca.crt", dir);
	read_file(path, pem, sizeof(pem));
	exec_ok(c, sqlf("CREATE SECRET csr_ca AS '%s'", pem));
	exec_ok(c, sqlf("CREATE SECRET csr_pw AS '%s'", csr_pw));
	exec_ok(c, "CREATE SECRET csr_wrong AS 'it-csr-wrong-3c9a'");
	/* Validates by default: TLS with the CA from the vault, basic auth,
	 * GET /subjects. */
	exec_ok(c, sqlf("CREATE CONNECTION csr_ok TO CONFLUENT SCHEMA REGISTRY (URL "
			"'https://localhost:%d', USERNAME 'tether', PASSWORD SECRET csr_pw, "
			"SSL CERTIFICATE AUTHORITY SECRET csr_ca)", csr.port));
	exec_ok(c, "VALIDATE CONNECTION csr_ok");
	m = exec_fails(c, sqlf("CREATE CONNECTION csr_bad TO CONFLUENT SCHEMA REGISTRY (URL "
			       "'https://localhost:%d', USERNAME 'tether', PASSWORD SECRET csr_wrong, "
			       "SSL CERTIFICATE AUTHORITY SECRET csr_ca)", csr.port), "08004");
	assert_non_null(strstr(m, "authentication to CONFLUENT SCHEMA REGISTRY server localhost"));
	assert_null(strstr(m, "it-csr-wrong"));
	assert_absent(c, "csr_bad");
	/* Without the CA the registry's certificate is not trusted: 08001. */
	exec_fails(c, sqlf("CREATE CONNECTION csr_bad TO CONFLUENT SCHEMA REGISTRY (URL "
			   "'https://localhost:%d', USERNAME 'tether', PASSWORD SECRET csr_pw)",
			   csr.port), "08001");
	assert_absent(c, "csr_bad");
	/* ALTER validates; a failure changes nothing, VALIDATE still passes. */
	exec_fails(c, "ALTER CONNECTION csr_ok SET (PASSWORD = SECRET csr_wrong)", "08004");
	exec_ok(c, "VALIDATE CONNECTION csr_ok");
	/* The password changes under the connection: the next VALIDATE sees it. */
	exec_ok(c, "ALTER SECRET csr_pw AS 'it-csr-changed-91b2'");
	exec_fails(c, "VALIDATE CONNECTION csr_ok", "08004");
	exec_ok(c, sqlf("ALTER SECRET csr_pw AS '%s'", csr_pw));
	exec_ok(c, "VALIDATE CONNECTION csr_ok");
	PQfinish(c);
	no_validator_left();
}

static void test_iceberg_rest(void **state)
{
	PGconn *c = conn();
	const char *m;

	(void)state;
	exec_ok(c, sqlf("CREATE SECRET ice_s AS '%s'", ice_secret));
	exec_ok(c, "CREATE SECRET ice_wrong AS 'it-ice-wrong-77d1'");
	/* OAuth2 client credentials (CREDENTIAL a chain of text and a secret),
	 * then /v1/config?warehouse= and the namespaces under its prefix. */
	exec_ok(c, sqlf("CREATE CONNECTION ice_ok TO ICEBERG CATALOG (CATALOG TYPE 'rest', URL "
			"'http://127.0.0.1:%d', CREDENTIAL = 'client-id:' || SECRET ice_s, "
			"WAREHOUSE 'wh')", ice.port));
	exec_ok(c, "VALIDATE CONNECTION ice_ok");
	m = exec_fails(c, sqlf("CREATE CONNECTION ice_bad TO ICEBERG CATALOG (CATALOG TYPE 'rest', "
			       "URL 'http://127.0.0.1:%d', CREDENTIAL = 'client-id:' || SECRET "
			       "ice_wrong, WAREHOUSE 'wh')", ice.port), "08004");
	assert_non_null(strstr(m, "127.0.0.1"));
	assert_null(strstr(m, "it-ice-wrong"));
	assert_absent(c, "ice_bad");
	/* An unknown warehouse: the catalog answers 404 (08P01). */
	exec_fails(c, sqlf("CREATE CONNECTION ice_bad TO ICEBERG CATALOG (CATALOG TYPE 'rest', "
			   "URL 'http://127.0.0.1:%d', CREDENTIAL = 'client-id:' || SECRET ice_s, "
			   "WAREHOUSE 'nope')", ice.port), "08P01");
	assert_absent(c, "ice_bad");
	PQfinish(c);
	no_validator_left();
}

/* S3 Tables: SigV4 with the keys of the referenced AWS CONNECTION, whose
 * options travel nested in the ICEBERG job (and are fetched for the
 * catalog's address). */
static void test_iceberg_s3tables(void **state)
{
	PGconn *c = conn();

	(void)state;
	exec_ok(c, sqlf("CREATE SECRET s3_sk AS '%s'", s3_secret));
	exec_ok(c, "CREATE SECRET s3_wrong AS 'it/s3+wrong-0c41'");
	exec_ok(c, "CREATE CONNECTION aws_s3 TO AWS (ACCESS KEY ID 'AKIDS3', SECRET ACCESS KEY "
		   "SECRET s3_sk, REGION 'us-west-2')");
	exec_ok(c, "CREATE CONNECTION aws_s3_bad TO AWS (ACCESS KEY ID 'AKIDS3', SECRET ACCESS KEY "
		   "SECRET s3_wrong, REGION 'us-west-2')");
	exec_ok(c, sqlf("CREATE CONNECTION ice_s3 TO ICEBERG CATALOG (CATALOG TYPE 's3tablesrest', "
			"URL 'http://127.0.0.1:%d/iceberg', WAREHOUSE '" S3_ARN "', AWS CONNECTION "
			"aws_s3)", s3t.port));
	exec_fails(c, sqlf("CREATE CONNECTION ice_s3_bad TO ICEBERG CATALOG (CATALOG TYPE "
			   "'s3tablesrest', URL 'http://127.0.0.1:%d/iceberg', WAREHOUSE '" S3_ARN
			   "', AWS CONNECTION aws_s3_bad)", s3t.port), "08004");
	assert_absent(c, "ice_s3_bad");
	exec_ok(c, "VALIDATE CONNECTION ice_s3");
	PQfinish(c);
	no_validator_left();
}

static void test_aws_keys(void **state)
{
	PGconn *c = conn();
	const char *m;

	(void)state;
	exec_ok(c, sqlf("CREATE SECRET aws_sk AS '%s'", aws_secret));
	exec_ok(c, "CREATE SECRET aws_wrong AS 'it/aws+wrong-5e0b'");
	/* AWS does not validate by default; VALIDATE CONNECTION calls STS
	 * GetCallerIdentity at ENDPOINT, signed with the keys. */
	exec_ok(c, sqlf("CREATE CONNECTION aws_k TO AWS (ACCESS KEY ID 'AKIDUSER', SECRET ACCESS "
			"KEY SECRET aws_wrong, ENDPOINT 'http://127.0.0.1:%d/')", sts.port));
	m = exec_fails(c, "VALIDATE CONNECTION aws_k", "08004");
	assert_non_null(strstr(m, "authentication to AWS server 127.0.0.1"));
	assert_null(strstr(m, "it/aws+wrong"));
	exec_ok(c, "ALTER CONNECTION aws_k SET (SECRET ACCESS KEY = SECRET aws_sk)");
	exec_ok(c, "VALIDATE CONNECTION aws_k");
	/* VALIDATE = true on CREATE: a wrong key commits nothing. */
	exec_fails(c, sqlf("CREATE CONNECTION aws_k_bad TO AWS (ACCESS KEY ID 'AKIDNOBODY', SECRET "
			   "ACCESS KEY SECRET aws_sk, ENDPOINT 'http://127.0.0.1:%d/') WITH "
			   "(VALIDATE = true)", sts.port), "08004");
	assert_absent(c, "aws_k_bad");
	exec_ok(c, sqlf("CREATE CONNECTION aws_k2 TO AWS (ACCESS KEY ID 'AKIDUSER', SECRET ACCESS "
			"KEY SECRET aws_sk, ENDPOINT 'http://127.0.0.1:%d/') WITH (VALIDATE = true)",
			sts.port));
	PQfinish(c);
	no_validator_left();
}

/* A plain listener that records what reaches it (the "ENDPOINT" of a
 * role-based connection): connections queue in its backlog, read after
 * the fact. */
static int recorder_open(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 64), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* Accepts what queued; counts connections and requests that carry an
 * Authorization header (anything signed). */
static void recorder_drain(int fd, int *nconn, int *nauth)
{
	int a;

	while ((a = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		char buf[16384];
		size_t n = 0;
		struct pollfd p = { .fd = a, .events = POLLIN };

		(*nconn)++;
		while (n < sizeof(buf) - 1 && poll(&p, 1, 200) > 0) {
			ssize_t k = read(a, buf + n, sizeof(buf) - 1 - n);
			if (k <= 0)
				break;
			n += (size_t)k;
		}
		buf[n] = '\0';
		if (strcasestr(buf, "\nauthorization:") || strcasestr(buf, "x-amz-security-token"))
			(*nauth)++;
		close(a);
	}
}

/* Role assumption through tether's principal, with the connection's
 * external ID, and the check that the role refuses the principal without
 * it (SQL.md 6). tether's calls go to aws.sts_endpoint; the connections'
 * ENDPOINT (a recording listener) must receive nothing signed. */
static void test_aws_role(void **state)
{
	PGconn *c = conn();
	struct fake roles;
	char *ext, *ext2;
	int rec_port, rec = recorder_open(&rec_port), nconn = 0, nauth = 0;

	(void)state;
	exec_ok(c, "CREATE CONNECTION aws_role TO AWS (ASSUME ROLE ARN '" CUSTOMER "', ENDPOINT "
		   "'http://127.0.0.1:1/')");
	exec_ok(c, "CREATE CONNECTION aws_insecure TO AWS (ASSUME ROLE ARN '" INSECURE "', "
		   "ENDPOINT 'http://127.0.0.1:1/')");
	exec_ok(c, "CREATE CONNECTION aws_untrusting TO AWS (ASSUME ROLE ARN '" UNTRUSTING "', "
		   "ENDPOINT 'http://127.0.0.1:1/')");
	ext = th_query_value(c, "SELECT a.external_id FROM mz_internal.mz_aws_connections a JOIN "
			     "mz_connections c USING (id) WHERE c.name = 'aws_role'");
	assert_non_null(ext);
	assert_true(strncmp(ext, "mz_", 3) == 0);
	assert_value(c, "SELECT a.principal FROM mz_internal.mz_aws_connections a JOIN "
		     "mz_connections c USING (id) WHERE c.name = 'aws_role'", PRINCIPAL);
	ext2 = th_query_value(c, "SELECT a.external_id FROM mz_internal.mz_aws_connections a JOIN "
			      "mz_connections c USING (id) WHERE c.name = 'aws_untrusting'");
	assert_non_null(ext2);
	/* The customer's trust policy requires this connection's external ID:
	 * tetherd restarts with aws.sts_endpoint at that fake. */
	assert_int_equal(start_sts(&roles, ext), 0);
	free(ext);
	free(ext2);
	PQfinish(c);
	snprintf(sts_endpoint_arg, sizeof(sts_endpoint_arg), "aws.sts_endpoint=http://127.0.0.1:%d/",
		 roles.port);
	assert_int_equal(th_stop(&daemon_), 0);
	assert_int_equal(th_restart(&daemon_), 0);
	c = conn();
	/* The connections' ENDPOINT: the recorder, never called by tether. */
	exec_ok(c, sqlf("ALTER CONNECTION aws_role SET (ENDPOINT = 'http://127.0.0.1:%d/')",
			rec_port));
	exec_ok(c, sqlf("ALTER CONNECTION aws_insecure SET (ENDPOINT = 'http://127.0.0.1:%d/')",
			rec_port));
	exec_ok(c, sqlf("ALTER CONNECTION aws_untrusting SET (ENDPOINT = 'http://127.0.0.1:%d/')",
			rec_port));
	/* aws.principal_credentials_secret names a secret that does not exist
	 * yet: tether has no credentials to assume its role with. */
	exec_fails(c, "VALIDATE CONNECTION aws_role", "0A000");
	assert_string_equal(last.message, "internal error: no AWS connection role configured");
	/* tether's own keys, ACCESS_KEY_ID:SECRET_ACCESS_KEY. */
	exec_ok(c, sqlf("CREATE SECRET tether_aws AS 'AKIDTETHER:%s'", tether_secret));
	exec_ok(c, "VALIDATE CONNECTION aws_role");
	/* A role whose trust policy lacks the external-ID condition. */
	exec_fails(c, "VALIDATE CONNECTION aws_insecure", "08004");
	assert_string_equal(last.message, "role trust policy does not require an external ID");
	assert_string_equal(last.detail, "The trust policy for the connection's role (" INSECURE
			    ") is insecure and allows any Materialize customer to assume the role.");
	/* The hint names the link, the external ID to require and where the
	 * example policy is. */
	assert_true(strncmp(last.hint, "See: https://materialize.com/s/aws-connection-role-trust-policy ",
			    64) == 0);
	assert_non_null(strstr(last.hint, "must require sts:ExternalId \""));
	assert_non_null(strstr(last.hint, "example_trust_policy of mz_internal.mz_aws_connections."));
	/* A role that does not trust tether's principal. */
	exec_fails(c, "VALIDATE CONNECTION aws_untrusting", "08004");
	assert_non_null(strstr(last.message, "AccessDenied"));
	/* tether's own keys wrong: the operator's problem, not the user's. */
	exec_ok(c, "ALTER SECRET tether_aws AS 'AKIDTETHER:it/not+the+key-1a'");
	exec_fails(c, "VALIDATE CONNECTION aws_role", "XX000");
	assert_non_null(strstr(last.hint, "aws.connection_role_arn"));
	exec_ok(c, sqlf("ALTER SECRET tether_aws AS 'AKIDTETHER:%s'", tether_secret));
	/* CREATE WITH (VALIDATE = true) of a role the principal may not
	 * assume commits nothing. */
	exec_fails(c, sqlf("CREATE CONNECTION aws_role_bad TO AWS (ASSUME ROLE ARN '" UNTRUSTING
			   "', ENDPOINT 'http://127.0.0.1:%d/') WITH (VALIDATE = true)",
			   rec_port), "08004");
	assert_absent(c, "aws_role_bad");
	exec_ok(c, "VALIDATE CONNECTION aws_role");
	/* Regression: a role-based connection's ENDPOINT received no request
	 * signed with tether's credentials (in fact no connection at all). */
	recorder_drain(rec, &nconn, &nauth);
	assert_int_equal(nauth, 0);
	assert_int_equal(nconn, 0);
	close(rec);
	PQfinish(c);
	no_validator_left();
	fake_stop(&roles);
}

static void test_privatelink(void **state)
{
	PGconn *c = conn();

	(void)state;
	/* Does not validate by default: created. */
	exec_ok(c, "CREATE CONNECTION pl TO AWS PRIVATELINK (SERVICE NAME "
		   "'com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0', AVAILABILITY ZONES "
		   "('use1-az1', 'use1-az4'))");
	/* What needs the cloud is said, never a fake success. */
	exec_fails(c, "VALIDATE CONNECTION pl", "0A000");
	assert_string_equal(last.message, "AWS PrivateLink connections are unsupported");
	assert_non_null(strstr(last.detail, "Checked here: SERVICE NAME and AVAILABILITY ZONES "
				"are well formed and the zones lie in the service's region."));
	assert_non_null(strstr(last.detail, "Not checked"));
	exec_fails(c, "CREATE CONNECTION pl_v TO AWS PRIVATELINK (SERVICE NAME "
		   "'com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0', AVAILABILITY ZONES "
		   "('use1-az1')) WITH (VALIDATE = true)", "0A000");
	assert_absent(c, "pl_v");
	/* A zone outside the service's region is a configuration error. */
	exec_fails(c, "CREATE CONNECTION pl_v TO AWS PRIVATELINK (SERVICE NAME "
		   "'com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0', AVAILABILITY ZONES "
		   "('euw1-az1')) WITH (VALIDATE = true)", "22023");
	assert_absent(c, "pl_v");
	PQfinish(c);
	no_validator_left();
}

/* Every validator ran under TETHER_SECCOMP_DEBUG=1: a syscall outside the
 * validator's allowlist would be named in the log. No secret value is in
 * the data dir or the logs. */
static void test_no_blocked_syscall_no_secret_leak(void **state)
{
	const char *const values[] = { csr_pw, ice_secret, aws_secret, tether_secret, s3_secret };
	char cmd[400];

	(void)state;
	if (!have_fakes)
		skip();
	snprintf(cmd, sizeof(cmd), "grep -q 'seccomp: blocked syscall' %s", daemon_.log_path);
	if (system(cmd) == 0) {
		snprintf(cmd, sizeof(cmd), "grep 'seccomp: blocked syscall' %s >&2",
			 daemon_.log_path);
		(void)!system(cmd);
		fail_msg("a validator was stopped by seccomp (see above)");
	}
	snprintf(cmd, sizeof(cmd), "grep -c 'event=validator_result' %s >/dev/null",
		 daemon_.log_path);
	assert_int_equal(system(cmd), 0);
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		if (th_tree_contains(daemon_.dir, values[i], strlen(values[i])))
			fail_msg("secret value %zu found under %s", i, daemon_.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csr),
		cmocka_unit_test(test_iceberg_rest),
		cmocka_unit_test(test_iceberg_s3tables),
		cmocka_unit_test(test_aws_keys),
		cmocka_unit_test(test_aws_role),
		cmocka_unit_test(test_privatelink),
		cmocka_unit_test(test_no_blocked_syscall_no_secret_leak),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
