/* The HTTP-based checks (CONFLUENT SCHEMA REGISTRY, ICEBERG CATALOG, AWS,
 * AWS PRIVATELINK) against the fakes of tests/fakes/http_fakes.py (real
 * HTTP/1.1, TLS, OAuth2, SigV4 verified by the fake), a silent listener
 * (timeout), a closed port (refused), and sshd (tests/peers) as the
 * bastion for the Schema Registry through an SSH tunnel. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
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
#include <cmocka.h>

#include <sodium.h>

#include "val.h"
#include "vtest.h"

#ifndef TETHER_FAKES_DIR
#error TETHER_FAKES_DIR must name tests/fakes
#endif

enum { SEC_CSR_PASSWORD = 1, SEC_CA, SEC_CLIENT_CERT, SEC_CLIENT_KEY, SEC_WRONG_CA,
       SEC_ICE_SECRET, SEC_AWS_SECRET, SEC_AWS_TOKEN, SEC_TETHER_SECRET, SEC_BAD,
       SEC_TETHER_COMBINED, SEC_TETHER_MALFORMED };

/* Secret values, unique per run (concurrent runs scan the same /tmp). */
static char secret_vals[5][48];
#define CSR_PASSWORD (secret_vals[0])
#define ICE_SECRET (secret_vals[1])
#define AWS_SECRET (secret_vals[2])
#define AWS_TOKEN (secret_vals[3])
#define TETHER_SECRET (secret_vals[4])
#define PRINCIPAL "arn:aws:iam::111122223333:role/TetherConnections"
#define CUSTOMER "arn:aws:iam::444455556666:role/Customer"
#define INSECURE "arn:aws:iam::444455556666:role/Insecure"
#define UNTRUSTING "arn:aws:iam::444455556666:role/Untrusting"
#define EXTERNAL_ID "mz_00000000-0000-0000-0000-000000000000_u42"
#define S3_ARN "arn:aws:s3tables:us-west-2:111122223333:bucket/b1"

static struct {
	bool have_certs, have_sshd;
	char dir[256];           /* certificates and fake configs */
	int nconf;
	struct peer sshd;
	struct fake_svc f;
	time_t since;
} G;

/* ---- fakes ---- */

struct hfake {
	pid_t pid;
	int in;                  /* closing it ends the fake */
	int port;
	char url[160];           /* "http(s)://host:port" */
};

static const char *cert(const char *name)
{
	static char buf[8][320];
	static int i;
	char *b = buf[i++ % 8];
	snprintf(b, 320, "%s/%s", G.dir, name);
	return b;
}

/* Starts tests/fakes/http_fakes.py with the JSON config; 0 or -1. */
static int hfake_start(struct hfake *f, const char *kind, bool tls, const char *fmt, ...)
{
	char path[320], body[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/cfg-%d.json", G.dir, ++G.nconf);
	FILE *fp = fopen(path, "w");
	if (!fp)
		return -1;
	fputs(body, fp);
	fclose(fp);

	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
		return -1;
	f->pid = fork();
	if (f->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execl("/usr/bin/python3", "python3", TETHER_FAKES_DIR "/http_fakes.py", "--kind", kind,
		      "--config", path, "--lifetime", "120", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	f->in = in[1];
	char line[64] = "";
	size_t n = 0;
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
		print_error("fake %s did not start: '%s'\n", kind, line);
		return -1;
	}
	snprintf(f->url, sizeof(f->url), "%s://%s:%d", tls ? "https" : "http",
		 tls ? "localhost" : "127.0.0.1", f->port);
	return 0;
}

static void hfake_stop(struct hfake *f)
{
	if (f->pid <= 0)
		return;
	close(f->in);
	kill(f->pid, SIGTERM);
	waitpid(f->pid, NULL, 0);
	f->pid = 0;
}

/* A port where nothing listens (refused). */
static int closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* A listener that never accepts nor answers (timeout). */
static int silent_listener(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void need_certs(void)
{
	if (!G.have_certs) {
		print_message("openssl or python3 not available: skipped\n");
		skip();
	}
}

/* ---- running checks ---- */

static int run(val_check_fn fn, struct job_builder *b, struct val_result *r)
{
	struct val_services svc = fake_services(&G.f);
	memset(r, 0, sizeof(*r));
	int rc = fn(&svc, job_done(b), r);
	print_message("    %s: rc=%d code=%s sqlstate=%s stage=%s\n      message: %s\n"
		      "      detail: %s\n      hint: %s\n", b->job.type, rc, val_code_name(r->code),
		      r->e.sqlstate, r->stage, r->e.message, r->e.detail, r->e.hint);
	return rc;
}

static void assert_no_secrets(const struct val_result *r)
{
	const char *const s[] = { CSR_PASSWORD, ICE_SECRET, AWS_SECRET, AWS_TOKEN, TETHER_SECRET };
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		assert_null(strstr(r->e.message, s[i]));
		assert_null(strstr(r->e.detail, s[i]));
		assert_null(strstr(r->e.hint, s[i]));
	}
}

static void expect(val_check_fn fn, struct job_builder *b, enum val_code code,
		   const char *sqlstate, const char *needle)
{
	struct val_result r;
	int rc = run(fn, b, &r);
	assert_int_equal(rc, code == VAL_OK ? 0 : -1);
	assert_string_equal(val_code_name(r.code), val_code_name(code));
	if (sqlstate)
		assert_string_equal(r.e.sqlstate, sqlstate);
	if (needle && !strstr(r.e.message, needle)) {
		print_error("message lacks '%s'\n", needle);
		fail();
	}
	assert_no_secrets(&r);
}

/* ---- group ---- */

static int group_setup(void **state)
{
	(void)state;
	fake_init(&G.f);
	fake_keys(&G.f);
	static const char *const stem[] = { "csr-pass-", "ice-secret-", "aws/Secret+Key-",
					    "aws-session-token-", "tether/base+secret-" };
	for (int i = 0; i < 5; i++)
		snprintf(secret_vals[i], sizeof(secret_vals[i]), "%s%08x%08x", stem[i],
			 randombytes_random(), randombytes_random());
	snprintf(G.dir, sizeof(G.dir), "/tmp/tether-http.XXXXXX");
	if (!mkdtemp(G.dir))
		return -1;
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "bash %s/http_certs.sh %s/tls >%s/certs.log 2>&1",
		 TETHER_FAKES_DIR, G.dir, G.dir);
	int st = system(cmd);
	G.have_certs = WIFEXITED(st) && WEXITSTATUS(st) == 0 && access("/usr/bin/python3", X_OK) == 0;
	snprintf(G.dir + strlen(G.dir), sizeof(G.dir) - strlen(G.dir), "/tls");
	if (G.have_certs) {
		fake_secret_file(&G.f, SEC_CA, cert("ca.crt"));
		fake_secret_file(&G.f, SEC_WRONG_CA, cert("other-ca.crt"));
		fake_secret_file(&G.f, SEC_CLIENT_CERT, cert("client.crt"));
		fake_secret_file(&G.f, SEC_CLIENT_KEY, cert("client.key"));
	}
	fake_secret_set(&G.f, SEC_CSR_PASSWORD, CSR_PASSWORD, strlen(CSR_PASSWORD));
	fake_secret_set(&G.f, SEC_ICE_SECRET, ICE_SECRET, strlen(ICE_SECRET));
	fake_secret_set(&G.f, SEC_AWS_SECRET, AWS_SECRET, strlen(AWS_SECRET));
	fake_secret_set(&G.f, SEC_AWS_TOKEN, AWS_TOKEN, strlen(AWS_TOKEN));
	fake_secret_set(&G.f, SEC_TETHER_SECRET, TETHER_SECRET, strlen(TETHER_SECRET));
	fake_secret_set(&G.f, SEC_BAD, "not-the-right-one", 17);
	/* aws.principal_credentials_secret's form: AKID:SECRET[:TOKEN]. */
	char combined[128];
	snprintf(combined, sizeof(combined), "AKIDTETHER:%s\n", TETHER_SECRET);
	fake_secret_set(&G.f, SEC_TETHER_COMBINED, combined, strlen(combined));
	snprintf(combined, sizeof(combined), "AKIDTETHER%s", TETHER_SECRET);
	fake_secret_set(&G.f, SEC_TETHER_MALFORMED, combined, strlen(combined));
	int rc = peer_start(&G.sshd, "sshd_start.sh", "sshd_stop.sh", NULL);
	G.have_sshd = rc == 0;
	G.since = time(NULL) - 1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (G.have_sshd)
		peer_stop(&G.sshd);
	for (int i = 0; i < 100 && waitpid(-1, NULL, WNOHANG) >= 0; i++)
		usleep(10000);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%.*s'", (int)(strlen(G.dir) - 4), G.dir);
	if (system(cmd) != 0) {
	}
	fake_free(&G.f);
	return 0;
}

/* ---- CONFLUENT SCHEMA REGISTRY ---- */

static struct hfake csr_fake(const char *extra_csr, const char *behaviour, bool mtls)
{
	struct hfake f;
	assert_int_equal(hfake_start(&f, "csr", true,
				     "{\"tls\": {\"cert\": \"%s\", \"key\": \"%s\"%s%s%s},"
				     " \"behaviour\": \"%s\","
				     " \"csr\": {\"users\": {\"reader\": \"%s\"}, \"forbidden\": [\"nobody\"]%s}}",
				     cert("server.crt"), cert("server.key"),
				     mtls ? ", \"client_ca\": \"" : "", mtls ? cert("ca.crt") : "",
				     mtls ? "\"" : "", behaviour ? behaviour : "normal", CSR_PASSWORD,
				     extra_csr ? extra_csr : ""), 0);
	return f;
}

static void csr_job(struct job_builder *b, const char *url, const char *user, uint64_t pw,
		    uint64_t ca)
{
	job_init(b, "confluent-schema-registry", 1000);
	job_text(b, "URL", url);
	if (user)
		job_text(b, "USERNAME", user);
	if (pw)
		job_secret(b, "PASSWORD", pw);
	if (ca)
		job_secret(b, "SSL CERTIFICATE AUTHORITY", ca);
}

static void test_csr_basic_auth_over_tls_ok(void **state)
{
	(void)state;
	need_certs();
	struct hfake f = csr_fake(NULL, NULL, false);
	struct job_builder b;
	csr_job(&b, f.url, "reader", SEC_CSR_PASSWORD, SEC_CA);
	expect(conn_csr_validate, &b, VAL_OK, NULL, NULL);
	/* Secrets were fetched for the registry's host:port. */
	char dest[64];
	snprintf(dest, sizeof(dest), "localhost:%d", f.port);
	assert_string_equal(G.f.last_destination, dest);
	hfake_stop(&f);
}

static void test_csr_wrong_password_is_auth(void **state)
{
	(void)state;
	need_certs();
	struct hfake f = csr_fake(NULL, NULL, false);
	struct job_builder b;
	csr_job(&b, f.url, "reader", SEC_BAD, SEC_CA);
	expect(conn_csr_validate, &b, VAL_AUTH, "08004",
	       "authentication to CONFLUENT SCHEMA REGISTRY server localhost failed");
	csr_job(&b, f.url, NULL, 0, SEC_CA);     /* no credentials at all */
	expect(conn_csr_validate, &b, VAL_AUTH, "08004", NULL);
	hfake_stop(&f);
}

static void test_csr_forbidden_is_permission(void **state)
{
	(void)state;
	need_certs();
	struct hfake f;
	assert_int_equal(hfake_start(&f, "csr", true,
				     "{\"tls\": {\"cert\": \"%s\", \"key\": \"%s\"},"
				     " \"csr\": {\"users\": {\"nobody\": \"%s\"}, \"forbidden\": [\"nobody\"]}}",
				     cert("server.crt"), cert("server.key"), CSR_PASSWORD), 0);
	struct job_builder b;
	csr_job(&b, f.url, "nobody", SEC_CSR_PASSWORD, SEC_CA);
	expect(conn_csr_validate, &b, VAL_PERMISSION, "08004", "denied access");
	hfake_stop(&f);
}

static void test_csr_404_and_5xx_are_protocol(void **state)
{
	(void)state;
	need_certs();
	const char *cases[] = { "status:404", "status:500", "status:503", "status:302" };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hfake f = csr_fake(NULL, cases[i], false);
		struct job_builder b;
		csr_job(&b, f.url, "reader", SEC_CSR_PASSWORD, SEC_CA);
		expect(conn_csr_validate, &b, VAL_PROTOCOL, "08P01", "unexpected response from");
		hfake_stop(&f);
	}
}

static void test_csr_refused(void **state)
{
	(void)state;
	struct job_builder b;
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
	csr_job(&b, url, "reader", SEC_CSR_PASSWORD, 0);
	expect(conn_csr_validate, &b, VAL_REFUSED, "08001", "failed to connect to 127.0.0.1:");
}

static void test_csr_timeout(void **state)
{
	(void)state;
	int port;
	int fd = silent_listener(&port);
	struct job_builder b;
	char url[64];
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
	csr_job(&b, url, NULL, 0, 0);
	int64_t t0 = val_now_ms();
	expect(conn_csr_validate, &b, VAL_TIMEOUT, "08001", "failed to connect to");
	assert_true(val_now_ms() - t0 < 5000);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);   /* no TLS: no HTTP answer */
	csr_job(&b, url, NULL, 0, 0);
	expect(conn_csr_validate, &b, VAL_TIMEOUT, "08001", NULL);
	close(fd);
}

static void test_csr_dns(void **state)
{
	(void)state;
	struct job_builder b;
	csr_job(&b, "https://no-such-host.invalid:8081", NULL, 0, 0);
	expect(conn_csr_validate, &b, VAL_DNS, "08001", "failed to resolve no-such-host.invalid");
}

static void test_csr_wrong_ca_is_tls(void **state)
{
	(void)state;
	need_certs();
	struct hfake f = csr_fake(NULL, NULL, false);
	struct job_builder b;
	csr_job(&b, f.url, "reader", SEC_CSR_PASSWORD, SEC_WRONG_CA);
	expect(conn_csr_validate, &b, VAL_TLS, "08001", "TLS handshake with localhost failed");
	/* No CA: the system roots do not know the test CA either. */
	csr_job(&b, f.url, "reader", SEC_CSR_PASSWORD, 0);
	expect(conn_csr_validate, &b, VAL_TLS, "08001", NULL);
	/* The certificate is for localhost/127.0.0.1, not for 127.0.0.2. */
	char url[64];
	snprintf(url, sizeof(url), "https://127.0.0.2:%d", f.port);
	csr_job(&b, url, "reader", SEC_CSR_PASSWORD, SEC_CA);
	struct val_result r;
	int rc = run(conn_csr_validate, &b, &r);
	/* (the fake listens on 127.0.0.1 only: refused is also acceptable) */
	assert_int_equal(rc, -1);
	assert_true(r.code == VAL_TLS || r.code == VAL_REFUSED);
	hfake_stop(&f);
}

static void test_csr_client_certificate(void **state)
{
	(void)state;
	need_certs();
	struct hfake f = csr_fake(NULL, NULL, true);
	struct job_builder b;
	/* With the client certificate and key (from memory): fine. */
	csr_job(&b, f.url, "reader", SEC_CSR_PASSWORD, SEC_CA);
	job_secret(&b, "SSL CERTIFICATE", SEC_CLIENT_CERT);
	job_secret(&b, "SSL KEY", SEC_CLIENT_KEY);
	expect(conn_csr_validate, &b, VAL_OK, NULL, NULL);
	/* Without: the server's TLS alert. */
	csr_job(&b, f.url, "reader", SEC_CSR_PASSWORD, SEC_CA);
	expect(conn_csr_validate, &b, VAL_TLS, "08001", NULL);
	/* A key that is no key: our configuration, said so. */
	csr_job(&b, f.url, "reader", SEC_CSR_PASSWORD, SEC_CA);
	job_secret(&b, "SSL CERTIFICATE", SEC_CLIENT_CERT);
	job_secret(&b, "SSL KEY", SEC_BAD);
	expect(conn_csr_validate, &b, VAL_CONFIG, "22023", "invalid connection configuration");
	hfake_stop(&f);
}

static void test_csr_hostile_replies_are_protocol(void **state)
{
	(void)state;
	need_certs();
	const char *cases[] = { "garbage", "huge", "huge-length", "badjson", "deepjson", "close" };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("  behaviour %s\n", cases[i]);
		struct hfake f = csr_fake(NULL, cases[i], false);
		struct job_builder b;
		csr_job(&b, f.url, "reader", SEC_CSR_PASSWORD, SEC_CA);
		expect(conn_csr_validate, &b, VAL_PROTOCOL, "08P01", NULL);
		hfake_stop(&f);
	}
	/* A JSON object instead of the array of subjects. */
	struct hfake f = csr_fake(", \"subjects\": {\"not\": \"a list\"}", NULL, false);
	struct job_builder b;
	csr_job(&b, f.url, "reader", SEC_CSR_PASSWORD, SEC_CA);
	expect(conn_csr_validate, &b, VAL_PROTOCOL, "08P01", "JSON array");
	hfake_stop(&f);
}

static void test_csr_config_errors(void **state)
{
	(void)state;
	struct job_builder b;
	csr_job(&b, "https://registry.example.com/some/path", NULL, 0, 0);
	expect(conn_csr_validate, &b, VAL_CONFIG, "22023", "URL must have an empty path");
	csr_job(&b, "ftp://registry.example.com", NULL, 0, 0);
	expect(conn_csr_validate, &b, VAL_CONFIG, "22023", "parsing schema registry url");
	csr_job(&b, "https://registry.example.com", NULL, SEC_CSR_PASSWORD, 0);
	expect(conn_csr_validate, &b, VAL_CONFIG, "22023", "PASSWORD requires USERNAME");
	csr_job(&b, "https://registry.example.com", NULL, 0, 0);
	job_secret(&b, "SSL CERTIFICATE", SEC_CLIENT_CERT);
	expect(conn_csr_validate, &b, VAL_CONFIG, "22023", "requires both SSL KEY and SSL CERTIFICATE");
	job_init(&b, "confluent-schema-registry", 1000);
	expect(conn_csr_validate, &b, VAL_CONFIG, "22023", "must specify URL");
}

static void authorize_slot1(void)
{
	char line[160];
	FILE *fp = fopen(peer_get(&G.sshd, "SSHD_AUTHORIZED_KEYS"), "w");
	assert_non_null(fp);
	fake_key_line(&G.f, 1, line, sizeof(line));
	fprintf(fp, "%s\n", line);
	fclose(fp);
}

/* An SSH handshake plus TLS through it can take longer than the 1 s the
 * other cases allow when the sanitizer build runs beside other tests. */
#define TUNNEL_TIMEOUT_MS 10000

static void test_csr_through_ssh_tunnel(void **state)
{
	(void)state;
	need_certs();
	if (!G.have_sshd) {
		print_message("sshd not available: skipped\n");
		skip();
	}
	authorize_slot1();
	struct hfake f = csr_fake(NULL, NULL, true);
	struct job_builder b;
	csr_job(&b, f.url, "reader", SEC_CSR_PASSWORD, SEC_CA);
	job_secret(&b, "SSL CERTIFICATE", SEC_CLIENT_CERT);
	job_secret(&b, "SSL KEY", SEC_CLIENT_KEY);
	b.tunnel = (struct val_ssh_tunnel){
		.connection_id = 77, .host = "127.0.0.1",
		.port = (uint16_t)atoi(peer_get(&G.sshd, "SSHD_PORT")),
		.user = peer_get(&G.sshd, "SSHD_USER"),
		.pinned_host_key = peer_get(&G.sshd, "SSHD_HOST_KEY"),
	};
	const struct val_ssh_tunnel tun = b.tunnel;
	b.job.tunnel = &b.tunnel;
	b.job.connect_timeout_ms = TUNNEL_TIMEOUT_MS;
	int signs = G.f.signs[1];
	/* TLS through the tunnel still verifies "localhost" with the CA. */
	expect(conn_csr_validate, &b, VAL_OK, NULL, NULL);
	assert_true(G.f.signs[1] > signs);
	/* End-to-end TLS: a wrong CA fails at the target, named as such. */
	csr_job(&b, f.url, "reader", SEC_CSR_PASSWORD, SEC_WRONG_CA);
	b.tunnel = tun;
	b.job.tunnel = &b.tunnel;
	b.job.connect_timeout_ms = TUNNEL_TIMEOUT_MS;
	expect(conn_csr_validate, &b, VAL_TLS, "08001", "through SSH bastion");
	/* Wrong password through the tunnel: auth at the target. */
	csr_job(&b, f.url, "reader", SEC_BAD, SEC_CA);
	job_secret(&b, "SSL CERTIFICATE", SEC_CLIENT_CERT);
	job_secret(&b, "SSL KEY", SEC_CLIENT_KEY);
	b.tunnel = tun;
	b.job.tunnel = &b.tunnel;
	b.job.connect_timeout_ms = TUNNEL_TIMEOUT_MS;
	expect(conn_csr_validate, &b, VAL_AUTH, "08004", "through SSH bastion");
	hfake_stop(&f);
	/* The registry behind the bastion is down: the forward fails. */
	char url[64];
	snprintf(url, sizeof(url), "http://localhost:%d", closed_port());
	csr_job(&b, url, NULL, 0, 0);
	b.tunnel = tun;
	b.job.tunnel = &b.tunnel;
	b.job.connect_timeout_ms = TUNNEL_TIMEOUT_MS;
	struct val_result r;
	assert_int_equal(run(conn_csr_validate, &b, &r), -1);
	assert_int_equal(r.code, VAL_REFUSED);
	assert_string_equal(r.stage, "forward");
}

/* ---- ICEBERG CATALOG (REST) ---- */

static struct hfake ice_fake(const char *extra, const char *behaviour)
{
	struct hfake f;
	assert_int_equal(hfake_start(&f, "iceberg", false,
				     "{\"behaviour\": \"%s\", \"iceberg\": {\"base\": \"/api/catalog\","
				     " \"client_id\": \"client-1\", \"client_secret\": \"%s\","
				     " \"scope\": \"PRINCIPAL_ROLE:ALL\", \"token\": \"tok-abc123\","
				     " \"warehouses\": [\"analytics\", \"secret-wh\"],"
				     " \"forbidden_warehouses\": [\"secret-wh\"], \"prefix\": \"pfx\"%s}}",
				     behaviour ? behaviour : "normal", ICE_SECRET, extra ? extra : ""), 0);
	return f;
}

static char ice_url[200];

static void ice_job(struct job_builder *b, const struct hfake *f, const char *warehouse,
		    uint64_t secret, const char *scope)
{
	snprintf(ice_url, sizeof(ice_url), "%s/api/catalog/", f->url);
	job_init(b, "iceberg-catalog", 1000);
	job_text(b, "CATALOG TYPE", "REST");
	job_text(b, "URL", ice_url);
	/* CREDENTIAL = 'client-1:' || SECRET s */
	job_text(b, "CREDENTIAL", "client-1:");
	job_secret(b, "CREDENTIAL", secret);
	if (warehouse)
		job_text(b, "WAREHOUSE", warehouse);
	if (scope)
		job_text(b, "SCOPE", scope);
}

static void test_iceberg_rest_ok(void **state)
{
	(void)state;
	struct hfake f = ice_fake(NULL, NULL);
	struct job_builder b;
	ice_job(&b, &f, "analytics", SEC_ICE_SECRET, NULL);     /* default scope */
	expect(conn_iceberg_validate, &b, VAL_OK, NULL, NULL);
	ice_job(&b, &f, NULL, SEC_ICE_SECRET, "PRINCIPAL_ROLE:ALL");   /* no warehouse */
	expect(conn_iceberg_validate, &b, VAL_OK, NULL, NULL);
	hfake_stop(&f);
	/* No prefix in the config: /v1/namespaces. */
	f = ice_fake(", \"prefix\": null", NULL);
	ice_job(&b, &f, "analytics", SEC_ICE_SECRET, NULL);
	expect(conn_iceberg_validate, &b, VAL_OK, NULL, NULL);
	hfake_stop(&f);
}

static void test_iceberg_wrong_secret_is_auth(void **state)
{
	(void)state;
	struct hfake f = ice_fake(NULL, NULL);
	struct job_builder b;
	ice_job(&b, &f, "analytics", SEC_BAD, NULL);
	expect(conn_iceberg_validate, &b, VAL_AUTH, "08004",
	       "authentication to ICEBERG CATALOG server 127.0.0.1 failed");
	/* A scope the principal may not have: permission. */
	ice_job(&b, &f, "analytics", SEC_ICE_SECRET, "PRINCIPAL_ROLE:admin");
	expect(conn_iceberg_validate, &b, VAL_PERMISSION, "08004", "invalid_scope");
	hfake_stop(&f);
	/* The catalog rejects the token it issued: auth at /v1/config. */
	f = ice_fake(", \"token\": \"\"", NULL);
	ice_job(&b, &f, "analytics", SEC_ICE_SECRET, NULL);
	expect(conn_iceberg_validate, &b, VAL_PROTOCOL, "08P01", NULL);   /* empty token */
	hfake_stop(&f);
}

static void test_iceberg_warehouse_errors(void **state)
{
	(void)state;
	struct hfake f = ice_fake(NULL, NULL);
	struct job_builder b;
	ice_job(&b, &f, "secret-wh", SEC_ICE_SECRET, NULL);
	expect(conn_iceberg_validate, &b, VAL_PERMISSION, "08004", "denied access");
	ice_job(&b, &f, "nope", SEC_ICE_SECRET, NULL);
	expect(conn_iceberg_validate, &b, VAL_PROTOCOL, "08P01", "NoSuchWarehouseException");
	hfake_stop(&f);
	f = ice_fake(NULL, "status:503");
	ice_job(&b, &f, "analytics", SEC_ICE_SECRET, NULL);
	expect(conn_iceberg_validate, &b, VAL_PROTOCOL, "08P01", "HTTP 503");
	hfake_stop(&f);
}

static void test_iceberg_hostile_replies_are_protocol(void **state)
{
	(void)state;
	const char *cases[] = { "garbage", "huge", "huge-length", "badjson", "deepjson", "close" };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int where = 0; where < 2; where++) {
			print_message("  %s behaviour %s\n", where ? "token" : "config", cases[i]);
			char extra[128];
			snprintf(extra, sizeof(extra), ", \"token_behaviour\": \"%s\"",
				 where ? cases[i] : "normal");
			struct hfake f = ice_fake(extra, where ? NULL : cases[i]);
			struct job_builder b;
			ice_job(&b, &f, "analytics", SEC_ICE_SECRET, NULL);
			expect(conn_iceberg_validate, &b, VAL_PROTOCOL, "08P01", NULL);
			hfake_stop(&f);
		}
	}
	/* A prefix that would escape the path. */
	struct hfake f = ice_fake(", \"prefix\": \"../../admin\"", NULL);
	struct job_builder b;
	ice_job(&b, &f, "analytics", SEC_ICE_SECRET, NULL);
	expect(conn_iceberg_validate, &b, VAL_PROTOCOL, "08P01", NULL);
	hfake_stop(&f);
}

static void test_iceberg_refused_timeout_tls(void **state)
{
	(void)state;
	struct job_builder b;
	struct hfake nf = { .port = closed_port() };
	snprintf(nf.url, sizeof(nf.url), "http://127.0.0.1:%d", nf.port);
	ice_job(&b, &nf, "analytics", SEC_ICE_SECRET, NULL);
	expect(conn_iceberg_validate, &b, VAL_REFUSED, "08001", "failed to connect");
	int fd = silent_listener(&nf.port);
	snprintf(nf.url, sizeof(nf.url), "http://127.0.0.1:%d", nf.port);
	ice_job(&b, &nf, "analytics", SEC_ICE_SECRET, NULL);
	expect(conn_iceberg_validate, &b, VAL_TIMEOUT, "08001", NULL);
	close(fd);
	if (!G.have_certs)
		return;
	/* HTTPS with a certificate from a CA the system does not trust. */
	struct hfake f;
	assert_int_equal(hfake_start(&f, "iceberg", true,
				     "{\"tls\": {\"cert\": \"%s\", \"key\": \"%s\"}, \"iceberg\": {}}",
				     cert("server.crt"), cert("server.key")), 0);
	ice_job(&b, &f, "analytics", SEC_ICE_SECRET, NULL);
	expect(conn_iceberg_validate, &b, VAL_TLS, "08001", "TLS handshake with localhost");
	hfake_stop(&f);
}

static void test_iceberg_config_errors(void **state)
{
	(void)state;
	struct job_builder b;
	job_init(&b, "iceberg-catalog", 1000);
	job_text(&b, "CATALOG TYPE", "hive");
	job_text(&b, "URL", "https://catalog.example.com");
	expect(conn_iceberg_validate, &b, VAL_CONFIG, "22023", "unknown catalog type \"hive\"");
	job_init(&b, "iceberg-catalog", 1000);
	job_text(&b, "CATALOG TYPE", "rest");
	job_text(&b, "URL", "https://catalog.example.com");
	expect(conn_iceberg_validate, &b, VAL_CONFIG, "22023", "require a CREDENTIAL");
	job_init(&b, "iceberg-catalog", 1000);
	job_text(&b, "CATALOG TYPE", "S3TablesREST");
	job_text(&b, "URL", "https://s3tables.us-east-1.amazonaws.com/iceberg");
	expect(conn_iceberg_validate, &b, VAL_CONFIG, "22023", "must specify WAREHOUSE");
}

/* ---- AWS ---- */

static struct hfake sts_fake(const char *behaviour, bool tls)
{
	struct hfake f;
	char tlsconf[800] = "";
	if (tls)
		snprintf(tlsconf, sizeof(tlsconf), "\"tls\": {\"cert\": \"%s\", \"key\": \"%s\"},",
			 cert("server.crt"), cert("server.key"));
	assert_int_equal(hfake_start(&f, "sts", tls,
		"{%s \"behaviour\": \"%s\", \"sts\": {\"region\": \"us-west-2\", \"keys\": {"
		" \"AKIDUSER\": {\"secret\": \"%s\", \"arn\": \"arn:aws:iam::111122223333:user/u\"},"
		" \"ASIATEMP\": {\"secret\": \"%s\", \"token\": \"%s\", \"arn\": \"arn:aws:sts::111122223333:assumed-role/r/s\"},"
		" \"AKIDDENIED\": {\"secret\": \"%s\"},"
		" \"AKIDTETHER\": {\"secret\": \"%s\", \"arn\": \"arn:aws:iam::111122223333:user/tether-base\"}},"
		" \"deny_caller_identity\": [\"AKIDDENIED\"],"
		" \"roles\": {"
		" \"" PRINCIPAL "\": {\"trusts\": [\"arn:aws:iam::111122223333:user/tether-base\"], \"external_id\": null},"
		" \"" CUSTOMER "\": {\"trusts\": [\"" PRINCIPAL "\"], \"external_id\": \"" EXTERNAL_ID "\"},"
		" \"" INSECURE "\": {\"trusts\": [\"" PRINCIPAL "\"], \"external_id\": null},"
		" \"" UNTRUSTING "\": {\"trusts\": [], \"external_id\": \"" EXTERNAL_ID "\"}}}}",
		tlsconf, behaviour ? behaviour : "normal", AWS_SECRET, AWS_SECRET, AWS_TOKEN,
		AWS_SECRET, TETHER_SECRET), 0);
	return f;
}

static void aws_keys_job(struct job_builder *b, const struct hfake *f, const char *akid,
			 uint64_t secret, uint64_t token)
{
	job_init(b, "aws", 1000);
	job_text(b, "ACCESS KEY ID", akid);
	job_secret(b, "SECRET ACCESS KEY", secret);
	if (token)
		job_secret(b, "SESSION TOKEN", token);
	job_text(b, "REGION", "us-west-2");
	job_text(b, "ENDPOINT", f->url);
}

/* A role-based job: tether's STS endpoint (TETHER/STS ENDPOINT, signed
 * for TETHER/REGION) is the fake; the connection's ENDPOINT is `endpoint`
 * (NULL: a closed port), which must never be called. */
static char role_endpoint[160];

static void aws_role_job_ep(struct job_builder *b, const struct hfake *f, const char *role,
			    bool principal, bool tether_keys, const char *endpoint)
{
	if (!endpoint) {
		snprintf(role_endpoint, sizeof(role_endpoint), "http://127.0.0.1:%d/", closed_port());
		endpoint = role_endpoint;
	}
	job_init(b, "aws", 1000);
	job_text(b, "ASSUME ROLE ARN", role);
	job_text(b, "ASSUME ROLE SESSION NAME", "inst-u42");
	job_text(b, "EXTERNAL ID", EXTERNAL_ID);
	job_text(b, "REGION", "eu-central-1");
	job_text(b, "ENDPOINT", endpoint);
	job_text(b, VAL_OPT_TETHER_STS_ENDPOINT, f->url);
	job_text(b, VAL_OPT_TETHER_REGION, "us-west-2");
	if (principal)
		job_text(b, VAL_OPT_TETHER_AWS_ROLE_ARN, PRINCIPAL);
	if (tether_keys) {
		job_text(b, VAL_OPT_TETHER_AWS_ACCESS_KEY_ID, "AKIDTETHER");
		job_secret(b, VAL_OPT_TETHER_AWS_SECRET_ACCESS_KEY, SEC_TETHER_SECRET);
	}
}

static void aws_role_job(struct job_builder *b, const struct hfake *f, const char *role,
			 bool principal, bool tether_keys)
{
	aws_role_job_ep(b, f, role, principal, tether_keys, NULL);
}

static void test_aws_keys(void **state)
{
	(void)state;
	struct hfake f = sts_fake(NULL, false);
	struct job_builder b;
	aws_keys_job(&b, &f, "AKIDUSER", SEC_AWS_SECRET, 0);
	expect(conn_aws_validate, &b, VAL_OK, NULL, NULL);
	char dest[64];
	snprintf(dest, sizeof(dest), "127.0.0.1:%d", f.port);
	assert_string_equal(G.f.last_destination, dest);
	/* SESSION TOKEN travels as X-Amz-Security-Token, signed. */
	aws_keys_job(&b, &f, "ASIATEMP", SEC_AWS_SECRET, SEC_AWS_TOKEN);
	expect(conn_aws_validate, &b, VAL_OK, NULL, NULL);
	aws_keys_job(&b, &f, "ASIATEMP", SEC_AWS_SECRET, 0);
	expect(conn_aws_validate, &b, VAL_AUTH, "08004", "InvalidClientTokenId");
	/* Wrong secret: the fake recomputes the signature. */
	aws_keys_job(&b, &f, "AKIDUSER", SEC_BAD, 0);
	expect(conn_aws_validate, &b, VAL_AUTH, "08004", "SignatureDoesNotMatch");
	aws_keys_job(&b, &f, "AKIDUNKNOWN", SEC_AWS_SECRET, 0);
	expect(conn_aws_validate, &b, VAL_AUTH, "08004", "authentication to AWS server 127.0.0.1");
	aws_keys_job(&b, &f, "AKIDDENIED", SEC_AWS_SECRET, 0);
	expect(conn_aws_validate, &b, VAL_PERMISSION, "08004", "AWS STS 127.0.0.1 denied access");
	/* Signed for another region than the endpoint's. */
	aws_keys_job(&b, &f, "AKIDUSER", SEC_AWS_SECRET, 0);
	b.parts[2].text = "eu-west-1";    /* REGION */
	expect(conn_aws_validate, &b, VAL_AUTH, "08004", NULL);
	hfake_stop(&f);
}

static void test_aws_role_assumption(void **state)
{
	(void)state;
	struct hfake f = sts_fake(NULL, false);
	struct job_builder b;
	aws_role_job(&b, &f, CUSTOMER, true, true);
	expect(conn_aws_validate, &b, VAL_OK, NULL, NULL);

	/* The role trusts the principal without the external ID condition. */
	struct val_result r;
	aws_role_job(&b, &f, INSECURE, true, true);
	assert_int_equal(run(conn_aws_validate, &b, &r), -1);
	assert_string_equal(r.e.sqlstate, "08004");
	assert_string_equal(r.e.message, "role trust policy does not require an external ID");
	assert_string_equal(r.e.detail, "The trust policy for the connection's role (" INSECURE
			    ") is insecure and allows any Materialize customer to assume the role.");
	/* The hint names the link, the external ID to require and where the
	 * example policy is. */
	assert_true(strncmp(r.e.hint, "See: https://materialize.com/s/aws-connection-role-trust-policy ",
			    64) == 0);
	assert_non_null(strstr(r.e.hint, "must require sts:ExternalId \""));
	assert_non_null(strstr(r.e.hint, "example_trust_policy of mz_internal.mz_aws_connections."));

	/* The role does not trust the principal at all. */
	aws_role_job(&b, &f, UNTRUSTING, true, true);
	expect(conn_aws_validate, &b, VAL_PERMISSION, "08004", "AccessDenied");

	/* tether's keys as one secret (catalog/jobspec.c sends this form). */
	job_init(&b, "aws", 1000);
	job_text(&b, "ASSUME ROLE ARN", CUSTOMER);
	job_text(&b, "EXTERNAL ID", EXTERNAL_ID);
	job_text(&b, "REGION", "us-west-2");
	job_text(&b, VAL_OPT_TETHER_STS_ENDPOINT, f.url);
	job_text(&b, VAL_OPT_TETHER_REGION, "us-west-2");
	job_text(&b, VAL_OPT_TETHER_AWS_ROLE_ARN, PRINCIPAL);
	job_secret(&b, VAL_OPT_TETHER_AWS_CREDENTIALS, SEC_TETHER_COMBINED);
	expect(conn_aws_validate, &b, VAL_OK, NULL, NULL);
	job_init(&b, "aws", 1000);
	job_text(&b, "ASSUME ROLE ARN", CUSTOMER);
	job_text(&b, "EXTERNAL ID", EXTERNAL_ID);
	job_text(&b, "REGION", "us-west-2");
	job_text(&b, VAL_OPT_TETHER_STS_ENDPOINT, f.url);
	job_text(&b, VAL_OPT_TETHER_REGION, "us-west-2");
	job_text(&b, VAL_OPT_TETHER_AWS_ROLE_ARN, PRINCIPAL);
	job_secret(&b, VAL_OPT_TETHER_AWS_CREDENTIALS, SEC_TETHER_MALFORMED);
	assert_int_equal(run(conn_aws_validate, &b, &r), -1);
	assert_string_equal(r.e.sqlstate, "0A000");
	assert_string_equal(r.e.message, "internal error: no AWS connection role configured");
	assert_null(strstr(r.e.detail, TETHER_SECRET));

	/* No principal configured: 0A000 (SQL.md 6). */
	aws_role_job(&b, &f, CUSTOMER, false, true);
	assert_int_equal(run(conn_aws_validate, &b, &r), -1);
	assert_string_equal(r.e.sqlstate, "0A000");
	assert_string_equal(r.e.message, "internal error: no AWS connection role configured");
	aws_role_job(&b, &f, CUSTOMER, true, false);
	assert_int_equal(run(conn_aws_validate, &b, &r), -1);
	assert_string_equal(r.e.sqlstate, "0A000");
	hfake_stop(&f);
}

static void test_aws_refused_timeout_tls_hostile(void **state)
{
	(void)state;
	struct job_builder b;
	struct hfake nf = { .port = closed_port() };
	snprintf(nf.url, sizeof(nf.url), "http://127.0.0.1:%d", nf.port);
	aws_keys_job(&b, &nf, "AKIDUSER", SEC_AWS_SECRET, 0);
	expect(conn_aws_validate, &b, VAL_REFUSED, "08001", "failed to connect");
	int fd = silent_listener(&nf.port);
	snprintf(nf.url, sizeof(nf.url), "http://127.0.0.1:%d", nf.port);
	aws_keys_job(&b, &nf, "AKIDUSER", SEC_AWS_SECRET, 0);
	expect(conn_aws_validate, &b, VAL_TIMEOUT, "08001", NULL);
	close(fd);
	if (G.have_certs) {
		struct hfake f = sts_fake(NULL, true);
		aws_keys_job(&b, &f, "AKIDUSER", SEC_AWS_SECRET, 0);
		expect(conn_aws_validate, &b, VAL_TLS, "08001", "TLS handshake with localhost");
		hfake_stop(&f);
	}
	const char *cases[] = { "garbage", "huge", "dtd", "xmlgarbage", "status:500", "close" };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("  behaviour %s\n", cases[i]);
		struct hfake f = sts_fake(cases[i], false);
		aws_keys_job(&b, &f, "AKIDUSER", SEC_AWS_SECRET, 0);
		expect(conn_aws_validate, &b, VAL_PROTOCOL, "08P01", NULL);
		hfake_stop(&f);
	}
}

/* ---- ICEBERG S3TABLESREST (SigV4 with the AWS CONNECTION) ---- */

/* S3 Tables with SigV4 (service s3tables, us-west-2); at /sts/ the same
 * process is AWS STS, whose temporary credentials the catalog accepts. */
static struct hfake s3t_fake(void)
{
	struct hfake f;
	assert_int_equal(hfake_start(&f, "iceberg", false,
		"{\"iceberg\": {\"base\": \"/iceberg\", \"warehouses\": [\"" S3_ARN "\"],"
		" \"prefix\": \"arn%%3Aaws%%3As3tables%%3Aus-west-2%%3A111122223333%%3Abucket%%2Fb1\","
		" \"sigv4\": {\"region\": \"us-west-2\", \"service\": \"s3tables\", \"keys\": {"
		" \"AKIDUSER\": {\"secret\": \"%s\"}}}},"
		" \"sts\": {\"region\": \"us-west-2\", \"keys\": {"
		" \"AKIDTETHER\": {\"secret\": \"%s\", \"arn\": \"arn:aws:iam::111122223333:user/tether-base\"}},"
		" \"roles\": {"
		" \"" PRINCIPAL "\": {\"trusts\": [\"arn:aws:iam::111122223333:user/tether-base\"], \"external_id\": null},"
		" \"" CUSTOMER "\": {\"trusts\": [\"" PRINCIPAL "\"], \"external_id\": \"" EXTERNAL_ID "\"}}}}",
		AWS_SECRET, TETHER_SECRET), 0);
	return f;
}

static char s3t_url[200];

static void s3t_job(struct job_builder *b, const struct hfake *f)
{
	snprintf(s3t_url, sizeof(s3t_url), "%s/iceberg", f->url);
	job_init(b, "iceberg-catalog", 1000);
	job_text(b, "CATALOG TYPE", "s3tablesrest");
	job_text(b, "URL", s3t_url);
	job_text(b, "WAREHOUSE", S3_ARN);
}

static void test_iceberg_s3tables_sigv4(void **state)
{
	(void)state;
	struct hfake f = s3t_fake();
	struct job_builder b;
	s3t_job(&b, &f);
	job_text(&b, VAL_AWS_REF_PREFIX "ACCESS KEY ID", "AKIDUSER");
	job_secret(&b, VAL_AWS_REF_PREFIX "SECRET ACCESS KEY", SEC_AWS_SECRET);
	/* No REGION on the AWS connection: the warehouse ARN's (us-west-2). */
	expect(conn_iceberg_validate, &b, VAL_OK, NULL, NULL);
	s3t_job(&b, &f);
	job_text(&b, VAL_AWS_REF_PREFIX "ACCESS KEY ID", "AKIDUSER");
	job_secret(&b, VAL_AWS_REF_PREFIX "SECRET ACCESS KEY", SEC_BAD);
	expect(conn_iceberg_validate, &b, VAL_AUTH, "08004", "InvalidSignatureException");
	s3t_job(&b, &f);
	expect(conn_iceberg_validate, &b, VAL_CONFIG, "22023", "ACCESS KEY ID");
	hfake_stop(&f);
}

static void test_iceberg_s3tables_with_role(void **state)
{
	(void)state;
	struct hfake f = s3t_fake();
	char sts_url[200];
	snprintf(sts_url, sizeof(sts_url), "%s/sts/", f.url);
	struct job_builder b;
	s3t_job(&b, &f);
	job_text(&b, VAL_AWS_REF_PREFIX "ASSUME ROLE ARN", CUSTOMER);
	job_text(&b, VAL_AWS_REF_PREFIX "EXTERNAL ID", EXTERNAL_ID);
	job_text(&b, VAL_AWS_REF_PREFIX "REGION", "us-west-2");
	job_text(&b, VAL_OPT_TETHER_STS_ENDPOINT, sts_url);
	job_text(&b, VAL_OPT_TETHER_REGION, "us-west-2");
	job_text(&b, VAL_OPT_TETHER_AWS_ROLE_ARN, PRINCIPAL);
	job_text(&b, VAL_OPT_TETHER_AWS_ACCESS_KEY_ID, "AKIDTETHER");
	job_secret(&b, VAL_OPT_TETHER_AWS_SECRET_ACCESS_KEY, SEC_TETHER_SECRET);
	/* tether -> principal -> customer role; the catalog calls are signed
	 * with the role's temporary credentials and session token. */
	expect(conn_iceberg_validate, &b, VAL_OK, NULL, NULL);
	/* Without tether's principal: the AWS connection's own 0A000. */
	s3t_job(&b, &f);
	job_text(&b, VAL_AWS_REF_PREFIX "ASSUME ROLE ARN", CUSTOMER);
	job_text(&b, VAL_AWS_REF_PREFIX "EXTERNAL ID", EXTERNAL_ID);
	job_text(&b, VAL_AWS_REF_PREFIX "ENDPOINT", sts_url);
	struct val_result r;
	assert_int_equal(run(conn_iceberg_validate, &b, &r), -1);
	assert_string_equal(r.e.sqlstate, "0A000");
	hfake_stop(&f);
}

/* A plain listener that records what reaches it: connections wait in its
 * backlog and are read after the check. Counts connections and requests
 * carrying an Authorization or X-Amz-Security-Token header. */
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

/* Regression: tether's own STS calls (signed with its credentials, and with
 * the role credentials they obtain) never go to a role-based connection's
 * ENDPOINT, which is user-controlled; they go to TETHER/STS ENDPOINT. */
static void test_aws_role_endpoint_never_gets_tether_calls(void **state)
{
	(void)state;
	struct hfake f = sts_fake(NULL, false);
	struct job_builder b;
	struct val_result r;
	int rec_port, rec = silent_listener(&rec_port), nconn = 0, nauth = 0;
	char rec_url[64], dest[64];
	snprintf(rec_url, sizeof(rec_url), "http://127.0.0.1:%d/", rec_port);
	assert_int_equal(fcntl(rec, F_SETFL, O_NONBLOCK), 0);

	aws_role_job_ep(&b, &f, CUSTOMER, true, true, rec_url);
	expect(conn_aws_validate, &b, VAL_OK, NULL, NULL);
	/* tether's credentials were fetched for tether's endpoint. */
	snprintf(dest, sizeof(dest), "127.0.0.1:%d", f.port);
	assert_string_equal(G.f.last_destination, dest);
	aws_role_job_ep(&b, &f, INSECURE, true, true, rec_url);
	expect(conn_aws_validate, &b, VAL_PERMISSION, "08004", "does not require an external ID");
	aws_role_job_ep(&b, &f, UNTRUSTING, true, true, rec_url);
	expect(conn_aws_validate, &b, VAL_PERMISSION, "08004", "AccessDenied");
	/* No TETHER/STS ENDPOINT: the default (sts.<TETHER/REGION>), never
	 * ENDPOINT, whatever becomes of the call here. */
	aws_role_job_ep(&b, &f, CUSTOMER, true, true, rec_url);
	for (size_t i = 0; i < b.nopts; i++)
		if (!strcmp(b.opts[i].name, VAL_OPT_TETHER_STS_ENDPOINT))
			b.opts[i].name = "TETHER/UNUSED";
	assert_int_equal(run(conn_aws_validate, &b, &r), -1);
	assert_no_secrets(&r);
	/* A referenced role-based AWS CONNECTION (val_aws_credentials). */
	struct hfake s3 = s3t_fake();
	char sts_url[200];
	snprintf(sts_url, sizeof(sts_url), "%s/sts/", s3.url);
	s3t_job(&b, &s3);
	job_text(&b, VAL_AWS_REF_PREFIX "ASSUME ROLE ARN", CUSTOMER);
	job_text(&b, VAL_AWS_REF_PREFIX "EXTERNAL ID", EXTERNAL_ID);
	job_text(&b, VAL_AWS_REF_PREFIX "REGION", "us-west-2");
	job_text(&b, VAL_AWS_REF_PREFIX "ENDPOINT", rec_url);
	job_text(&b, VAL_OPT_TETHER_STS_ENDPOINT, sts_url);
	job_text(&b, VAL_OPT_TETHER_REGION, "us-west-2");
	job_text(&b, VAL_OPT_TETHER_AWS_ROLE_ARN, PRINCIPAL);
	job_text(&b, VAL_OPT_TETHER_AWS_ACCESS_KEY_ID, "AKIDTETHER");
	job_secret(&b, VAL_OPT_TETHER_AWS_SECRET_ACCESS_KEY, SEC_TETHER_SECRET);
	expect(conn_iceberg_validate, &b, VAL_OK, NULL, NULL);
	hfake_stop(&s3);

	recorder_drain(rec, &nconn, &nauth);
	assert_int_equal(nauth, 0);
	assert_int_equal(nconn, 0);
	close(rec);
	hfake_stop(&f);
}

/* TETHER/STS ENDPOINT must be https, or http to a loopback address; a bad
 * one is the operator's problem (XX000), found before any secret is read. */
static void test_aws_tether_sts_endpoint_rules(void **state)
{
	(void)state;
	struct hfake f = { .port = 1 };
	static const char *const bad[] = {
		"http://sts.example.com/", "http://10.0.0.1:8080/", "ftp://127.0.0.1/",
		"https://user:pw@sts.example.com/", "https://sts.example.com/?a=b", "not a url",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct job_builder b;
		struct val_result r;
		snprintf(f.url, sizeof(f.url), "%s", bad[i]);
		aws_role_job(&b, &f, CUSTOMER, true, true);
		G.f.last_destination[0] = '\0';
		assert_int_equal(run(conn_aws_validate, &b, &r), -1);
		assert_string_equal(r.e.sqlstate, "XX000");
		assert_string_equal(r.e.message, "internal error: invalid aws.sts_endpoint");
		assert_string_equal(G.f.last_destination, "");
	}
}

/* ---- AWS PRIVATELINK ---- */

static void pl_job(struct job_builder *b, const char *service, const char *az1, const char *az2)
{
	job_init(b, "aws-privatelink", 1000);
	if (service)
		job_text(b, "SERVICE NAME", service);
	if (az1)
		job_text(b, "AVAILABILITY ZONES", az1);
	if (az2)
		job_text(b, "AVAILABILITY ZONES", az2);
}

static void test_privatelink_never_fakes_success(void **state)
{
	(void)state;
	struct job_builder b;
	struct val_result r;
	pl_job(&b, "com.amazonaws.vpce.us-east-1.vpce-svc-0e123abc123198abc", "use1-az1", "use1-az4");
	assert_int_equal(run(conn_aws_privatelink_validate, &b, &r), -1);
	assert_string_equal(r.e.sqlstate, "0A000");
	assert_string_equal(r.e.message, "AWS PrivateLink connections are unsupported");
	assert_non_null(strstr(r.e.detail, "Not checked"));
	pl_job(&b, "com.amazonaws.vpce.us-east-1.vpce-svc-0e123abc123198abc", "us-east-1a", NULL);
	expect(conn_aws_privatelink_validate, &b, VAL_CONFIG, "22023",
	       "invalid AWS PrivateLink availability zone \"us-east-1a\"");
	pl_job(&b, "com.amazonaws.vpce.eu-west-1.vpce-svc-0e123abc123198abc", "use1-az1", NULL);
	expect(conn_aws_privatelink_validate, &b, VAL_CONFIG, "22023", "not in region eu-west-1");
	pl_job(&b, "com.amazonaws.vpce.ap-northeast-2.vpce-svc-0e123abc123198abc", "apne2-az1", NULL);
	assert_int_equal(run(conn_aws_privatelink_validate, &b, &r), -1);
	assert_string_equal(r.e.sqlstate, "0A000");
	pl_job(&b, NULL, "use1-az1", NULL);
	expect(conn_aws_privatelink_validate, &b, VAL_CONFIG, "22023", "SERVICE NAME option is required");
	pl_job(&b, "Bad Name!", "use1-az1", NULL);
	expect(conn_aws_privatelink_validate, &b, VAL_CONFIG, "22023", "invalid SERVICE NAME");
}

/* ---- nothing leaked ---- */

static void test_no_secret_in_argv_env_or_tmp(void **state)
{
	(void)state;
	/* The fakes' configs (in G.dir) hold the expected secrets: skipped. */
	char dir[256];
	snprintf(dir, sizeof(dir), "%.*s", (int)(strlen(G.dir) - 4), G.dir);
	const char *skip_dirs[] = { dir, G.sshd.dir };
	const char *const s[] = { CSR_PASSWORD, ICE_SECRET, AWS_SECRET, AWS_TOKEN, TETHER_SECRET };
	char where[512];
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		const char *hit = secret_scan(G.since, skip_dirs, G.have_sshd ? 2 : 1, s[i],
					      strlen(s[i]), where, sizeof(where));
		if (hit)
			print_error("secret %zu found in %s\n", i, hit);
		assert_null(hit);
	}
}

int main(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	/* The checks must not take a proxy or .netrc from the environment. */
	setenv("http_proxy", "http://127.0.0.1:9", 1);
	setenv("https_proxy", "http://127.0.0.1:9", 1);
	setenv("ALL_PROXY", "http://127.0.0.1:9", 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csr_basic_auth_over_tls_ok),
		cmocka_unit_test(test_csr_wrong_password_is_auth),
		cmocka_unit_test(test_csr_forbidden_is_permission),
		cmocka_unit_test(test_csr_404_and_5xx_are_protocol),
		cmocka_unit_test(test_csr_refused),
		cmocka_unit_test(test_csr_timeout),
		cmocka_unit_test(test_csr_dns),
		cmocka_unit_test(test_csr_wrong_ca_is_tls),
		cmocka_unit_test(test_csr_client_certificate),
		cmocka_unit_test(test_csr_hostile_replies_are_protocol),
		cmocka_unit_test(test_csr_config_errors),
		cmocka_unit_test(test_csr_through_ssh_tunnel),
		cmocka_unit_test(test_iceberg_rest_ok),
		cmocka_unit_test(test_iceberg_wrong_secret_is_auth),
		cmocka_unit_test(test_iceberg_warehouse_errors),
		cmocka_unit_test(test_iceberg_hostile_replies_are_protocol),
		cmocka_unit_test(test_iceberg_refused_timeout_tls),
		cmocka_unit_test(test_iceberg_config_errors),
		cmocka_unit_test(test_aws_keys),
		cmocka_unit_test(test_aws_role_assumption),
		cmocka_unit_test(test_aws_role_endpoint_never_gets_tether_calls),
		cmocka_unit_test(test_aws_tether_sts_endpoint_rules),
		cmocka_unit_test(test_aws_refused_timeout_tls_hostile),
		cmocka_unit_test(test_iceberg_s3tables_sigv4),
		cmocka_unit_test(test_iceberg_s3tables_with_role),
		cmocka_unit_test(test_privatelink_never_fakes_success),
		cmocka_unit_test(test_no_secret_in_argv_env_or_tmp),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
