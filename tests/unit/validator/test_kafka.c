/* The KAFKA check against real peers: librdkafka's mock cluster in its own
 * process (tests/fakes/kafka_mock), the TLS / SASL front in front of it
 * (tests/fakes/kafka_front.py: TLS, client certificates, SASL PLAIN and
 * SCRAM-SHA-256/512 framed as Kafka does, OAUTHBEARER with Amazon MSK IAM
 * tokens whose SigV4 signature it recomputes), OpenSSH's sshd as the bastion, and
 * a network namespace where the brokers are reachable only through it.
 * Fake vault services hold the secrets. */
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
#include <strings.h>
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

#include <sodium.h>

#include "val.h"
#include "vtest.h"

#ifndef TETHER_KAFKA_MOCK
#error TETHER_KAFKA_MOCK must name the kafka_mock executable
#endif
#ifndef TETHER_FAKES_DIR
#error TETHER_FAKES_DIR must name tests/fakes
#endif

enum { SEC_PASSWORD = 1, SEC_CA, SEC_OTHER_CA, SEC_CERT, SEC_KEY, SEC_USER, SEC_BAD_PASSWORD,
       SEC_GARBAGE, SEC_AWS_SECRET = 20, SEC_AWS_TOKEN, SEC_AWS_WRONG };

/* The MSK IAM identity the front knows (test values, not real keys). */
#define AWS_AKID "AKIDTETHERKAFKA0001"
#define AWS_SECRET "kafka-iam-secret/ZXCVbnmASDFghjkQWERtyuiop12"
#define AWS_TOKEN "kafka-iam-session-token+/=FwoGZXIvYXdzEXAMPLE"
#define AWS_REGION "eu-west-1"

#define TIMEOUT_MS 5000

/* A helper process: stdin is our pipe (closing it ends the process),
 * the first stdout line is its answer. */
struct proc {
	pid_t pid;
	int in_fd;
	char line[512];
};

static struct {
	struct fake_svc f;
	char dir[64];            /* PKI */
	struct proc mock, deny_mock, front;
	char bootstraps[256];
	char broker1[64];        /* first mock broker "127.0.0.1:P" */
	char deny_broker[64];
	char tls[32], mtls[32], sasl[32], sasl_ssl[32];   /* "127.0.0.1:P" */
	char password[64];
	char key_line[128];
	bool have_python, have_sshd;
	struct peer sshd;
	time_t since;
} K;

/* ---- processes ---- */

static int proc_start(struct proc *p, int nsfd, char *const argv[], const char *input,
		      int timeout_ms)
{
	int in[2], out[2];
	memset(p, 0, sizeof(*p));
	p->in_fd = -1;
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
		return -1;
	p->pid = fork();
	if (p->pid < 0)
		return -1;
	if (p->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) != 0)
			_exit(126);
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
	size_t n = 0;
	int64_t deadline = val_now_ms() + timeout_ms;
	while (n < sizeof(p->line) - 1 && !memchr(p->line, '\n', n)) {
		struct pollfd pf = { .fd = out[0], .events = POLLIN };
		int64_t left = deadline - val_now_ms();
		if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
			break;
		ssize_t r = read(out[0], p->line + n, sizeof(p->line) - 1 - n);
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

/* "k1=v1 k2=v2" -> value of key, or NULL. */
static const char *field(const char *line, const char *key, char *out, size_t size)
{
	size_t kl = strlen(key);
	for (const char *p = line; (p = strstr(p, key)) != NULL; p += kl) {
		if ((p != line && p[-1] != ' ') || p[kl] != '=')
			continue;
		size_t n = strcspn(p + kl + 1, " ");
		snprintf(out, size, "%.*s", (int)n, p + kl + 1);
		return out;
	}
	return NULL;
}

static int mock_start(struct proc *p, int nsfd, const char *brokers, const char *deny,
		      char *bootstraps, size_t size)
{
	char *argv[10] = { (char *)TETHER_KAFKA_MOCK, "--brokers", (char *)brokers, "--topic",
			   "tether-test", "--lifetime", "300", NULL, NULL, NULL };
	if (deny) {
		argv[7] = "--deny-topic";
		argv[8] = (char *)deny;
	}
	if (proc_start(p, nsfd, argv, NULL, 10000) != 0 ||
	    strncmp(p->line, "KAFKA_BOOTSTRAPS=", 17) != 0)
		return -1;
	snprintf(bootstraps, size, "%s", p->line + 17);
	return 0;
}

/* ---- fake services, jobs ---- */

static int run(struct job_builder *b, struct val_result *r)
{
	struct val_services svc = fake_services(&K.f);
	memset(r, 0, sizeof(*r));
	int64_t t0 = val_now_ms();
	int rc = conn_kafka_validate(&svc, job_done(b), r);
	print_message("    kafka: rc=%d code=%s sqlstate=%s stage=%s host=%s (%lld ms)\n"
		      "      message: %s\n      detail: %s\n      hint: %s\n", rc,
		      val_code_name(r->code), r->e.sqlstate, r->stage, r->host,
		      (long long)(val_now_ms() - t0), r->e.message, r->e.detail, r->e.hint);
	assert_null(strstr(r->e.message, K.password));
	assert_null(strstr(r->e.detail, K.password));
	assert_null(strstr(r->e.hint, K.password));
	if (rc == 0)
		assert_int_equal(r->code, VAL_OK);
	else
		assert_int_not_equal(r->code, VAL_OK);
	return rc;
}

static void kjob(struct job_builder *b, const char *broker, const char *protocol)
{
	job_init(b, "kafka", TIMEOUT_MS);
	job_text(b, "BROKER 1", broker);
	if (protocol)
		job_text(b, "SECURITY PROTOCOL", protocol);
}

static void need_python(void)
{
	if (!K.have_python) {
		print_message("python3 or the TLS/SASL front not available: skipped\n");
		skip();
	}
}

static void assert_msg(const struct val_result *r, const char *needle)
{
	if (!strstr(r->e.message, needle))
		print_error("message \"%s\" lacks \"%s\"\n", r->e.message, needle);
	assert_non_null(strstr(r->e.message, needle));
}

/* ---- group ---- */

static int group_setup(void **state)
{
	(void)state;
	char cmd[512], path[128];
	fake_init(&K.f);
	fake_keys(&K.f);
	snprintf(K.dir, sizeof(K.dir), "/tmp/tether-kafka.XXXXXX");
	if (!mkdtemp(K.dir))
		return -1;
	snprintf(cmd, sizeof(cmd), "bash %s/kafka_certs.sh %s", TETHER_FAKES_DIR, K.dir);
	if (system(cmd) != 0)
		return -1;
	static const struct { int id; const char *file; } files[] = {
		{ SEC_CA, "ca.pem" }, { SEC_OTHER_CA, "other_ca.pem" },
		{ SEC_CERT, "client.pem" }, { SEC_KEY, "client.key" },
	};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", K.dir, files[i].file);
		if (fake_secret_file(&K.f, files[i].id, path) != 0)
			return -1;
	}
	snprintf(path, sizeof(path), "%s/client.key", K.dir);
	FILE *kf = fopen(path, "r");
	char line[128];
	while (kf && fgets(line, sizeof(line), kf))
		if (line[0] != '-') {
			line[strcspn(line, "\n")] = '\0';
			snprintf(K.key_line, sizeof(K.key_line), "%s", line);
			break;
		}
	if (kf)
		fclose(kf);

	unsigned char rnd[12];
	randombytes_buf(rnd, sizeof(rnd));
	snprintf(K.password, sizeof(K.password), "kpw-");
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(K.password + strlen(K.password), 3, "%02x", rnd[i]);
	fake_secret_set(&K.f, SEC_PASSWORD, K.password, strlen(K.password));
	fake_secret_set(&K.f, SEC_BAD_PASSWORD, "not-the-password", 16);
	fake_secret_set(&K.f, SEC_USER, "tether", 6);
	static const char garbage[] = "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n";
	fake_secret_set(&K.f, SEC_GARBAGE, garbage, strlen(garbage));
	fake_secret_set(&K.f, SEC_AWS_SECRET, AWS_SECRET, strlen(AWS_SECRET));
	fake_secret_set(&K.f, SEC_AWS_TOKEN, AWS_TOKEN, strlen(AWS_TOKEN));
	fake_secret_set(&K.f, SEC_AWS_WRONG, "kafka-iam-secret-WRONG", 22);

	if (mock_start(&K.mock, -1, "3", NULL, K.bootstraps, sizeof(K.bootstraps)) != 0)
		return -1;
	snprintf(K.broker1, sizeof(K.broker1), "%.*s", (int)strcspn(K.bootstraps, ","),
		 K.bootstraps);
	char deny_bs[256];
	if (mock_start(&K.deny_mock, -1, "1", "secret-topic", deny_bs, sizeof(deny_bs)) != 0)
		return -1;
	snprintf(K.deny_broker, sizeof(K.deny_broker), "%.*s", (int)strcspn(deny_bs, ","),
		 deny_bs);

	if (access("/usr/bin/python3", X_OK) == 0) {
		char input[1400], v[16];
		char front[200];
		snprintf(front, sizeof(front), "%s/kafka_front.py", TETHER_FAKES_DIR);
		char *argv[] = { "/usr/bin/python3", front, NULL };
		snprintf(input, sizeof(input),
			 "{\"upstream\": \"%s\", \"cert\": \"%s/server.pem\", \"key\": "
			 "\"%s/server.key\", \"client_ca\": \"%s/ca.pem\", \"user\": \"tether\", "
			 "\"password\": \"%s\", \"listeners\": [\"tls\", \"mtls\", "
			 "\"sasl_plaintext\", \"sasl_ssl\"], \"lifetime\": 300, \"aws\": "
			 "{\"access_key_id\": \"" AWS_AKID "\", \"secret_access_key\": \""
			 AWS_SECRET "\", \"session_token\": \"" AWS_TOKEN "\", \"region\": \""
			 AWS_REGION "\"}}\n",
			 K.broker1, K.dir, K.dir, K.dir, K.password);
		if (proc_start(&K.front, -1, argv, input, 10000) == 0 &&
		    strncmp(K.front.line, "READY ", 6) == 0) {
			K.have_python = true;
			static const struct { const char *key; char *out; } ls[] = {
				{ "tls", K.tls }, { "mtls", K.mtls }, { "sasl_plaintext", K.sasl },
				{ "sasl_ssl", K.sasl_ssl },
			};
			for (size_t i = 0; i < sizeof(ls) / sizeof(ls[0]); i++) {
				if (!field(K.front.line, ls[i].key, v, sizeof(v)))
					return -1;
				snprintf(ls[i].out, 32, "127.0.0.1:%s", v);
			}
		}
		explicit_bzero(input, sizeof(input));
	}
	int rc = peer_start(&K.sshd, "sshd_start.sh", "sshd_stop.sh", NULL);
	if (rc < 0)
		return -1;
	K.have_sshd = rc == 0;
	K.since = time(NULL) - 1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	char cmd[128];
	proc_stop(&K.front);
	proc_stop(&K.mock);
	proc_stop(&K.deny_mock);
	if (K.have_sshd)
		peer_stop(&K.sshd);
	for (int i = 0; i < 100 && waitpid(-1, NULL, WNOHANG) > 0; i++) {
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", K.dir);
	if (system(cmd) != 0) {
	}
	fake_free(&K.f);
	return 0;
}

/* ---- PLAINTEXT ---- */

static void test_plaintext_ok(void **state)
{
	(void)state;
	struct job_builder b;
	struct val_result r;
	kjob(&b, K.broker1, "plaintext");
	assert_int_equal(run(&b, &r), 0);
	assert_string_equal(r.stage, "done");
	assert_string_equal(r.host, K.broker1);
}

static void test_plaintext_all_brokers_listed_ok(void **state)
{
	(void)state;
	struct job_builder b;
	struct val_result r;
	char a[3][64];
	const char *p = K.bootstraps;
	for (int i = 0; i < 3; i++) {
		size_t n = strcspn(p, ",");
		snprintf(a[i], sizeof(a[i]), "%.*s", (int)n, p);
		p += n + (p[n] ? 1 : 0);
	}
	job_init(&b, "kafka", TIMEOUT_MS);
	job_text(&b, "BROKER 1", a[2]);
	job_text(&b, "BROKER 2", a[0]);
	job_text(&b, "BROKER 3", a[1]);
	job_text(&b, "SECURITY PROTOCOL", "PLAINTEXT");
	job_text(&b, "PROGRESS TOPIC", "_tether-progress");
	job_text(&b, "PROGRESS TOPIC REPLICATION FACTOR", "3");
	assert_int_equal(run(&b, &r), 0);
}

static int closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
	close(s);
	return ntohs(sa.sin_port);
}

static void test_refused(void **state)
{
	(void)state;
	struct job_builder b;
	struct val_result r;
	char addr[64], want[96];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", closed_port());
	kjob(&b, addr, "PLAINTEXT");
	int64_t t0 = val_now_ms();
	assert_int_equal(run(&b, &r), -1);
	assert_true(val_now_ms() - t0 < 3000);   /* all brokers down ends the wait */
	assert_int_equal(r.code, VAL_REFUSED);
	assert_string_equal(r.e.sqlstate, "08001");
	snprintf(want, sizeof(want), "failed to connect to %s: ", addr);
	assert_msg(&r, want);
	assert_msg(&r, "refused");
	assert_true(r.e.hint[0] != '\0');
}

static void test_dns(void **state)
{
	(void)state;
	struct job_builder b;
	struct val_result r;
	kjob(&b, "no-such-broker.invalid:9092", "PLAINTEXT");
	assert_int_equal(run(&b, &r), -1);
	assert_int_equal(r.code, VAL_DNS);
	assert_msg(&r, "failed to resolve no-such-broker.invalid");
}

/* Accepts TCP, never answers a Kafka request. */
static void test_silent_broker_times_out(void **state)
{
	(void)state;
	struct job_builder b;
	struct val_result r;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	char addr[64];
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s, 8), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(sa.sin_port));
	kjob(&b, addr, "PLAINTEXT");
	b.job.connect_timeout_ms = 1500;
	int64_t t0 = val_now_ms();
	assert_int_equal(run(&b, &r), -1);
	int64_t took = val_now_ms() - t0;
	assert_int_equal(r.code, VAL_TIMEOUT);
	assert_string_equal(r.e.sqlstate, "08001");
	assert_msg(&r, "failed to connect to 127.0.0.1:");
	assert_true(took >= 1400 && took < 4000);
	close(s);
}

/* TCP handshakes that never complete: a listener whose accept queue is
 * full drops further SYNs (a blackhole, without touching the network). */
static void test_blackhole_times_out(void **state)
{
	(void)state;
	struct job_builder b;
	struct val_result r;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	char addr[64];
	int fill[4];
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s, 0), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
	for (int i = 0; i < 4; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (connect(fill[i], (struct sockaddr *)&sa, sizeof(sa)) != 0)
			assert_int_equal(errno, EINPROGRESS);
	}
	usleep(100000);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(sa.sin_port));
	kjob(&b, addr, "PLAINTEXT");
	b.job.connect_timeout_ms = 1500;
	int64_t t0 = val_now_ms();
	assert_int_equal(run(&b, &r), -1);
	int64_t took = val_now_ms() - t0;
	assert_int_equal(r.code, VAL_TIMEOUT);
	assert_msg(&r, "failed to connect to 127.0.0.1:");
	assert_true(took >= 1400 && took < 4000);
	for (int i = 0; i < 4; i++)
		close(fill[i]);
	close(s);
}

/* A hostile peer: answers the first request with a huge length and
 * garbage. Only this validation fails; nothing crashes. */
static void *garbage_server(void *arg)
{
	int ls = *(int *)arg;
	unsigned char junk[65536];
	memset(junk, 0xff, sizeof(junk));
	for (int i = 0; i < 3; i++) {
		struct pollfd p = { .fd = ls, .events = POLLIN };
		if (poll(&p, 1, 3000) <= 0)
			break;
		int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			break;
		char buf[4096];
		if (read(c, buf, sizeof(buf)) > 0 &&
		    send(c, junk, sizeof(junk), MSG_NOSIGNAL) < 0) {
		}
		close(c);
	}
	return NULL;
}

static void test_garbage_reply_is_protocol(void **state)
{
	(void)state;
	struct job_builder b;
	struct val_result r;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	char addr[64];
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s, 8), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, garbage_server, &s), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(sa.sin_port));
	kjob(&b, addr, "PLAINTEXT");
	b.job.connect_timeout_ms = 2000;
	assert_int_equal(run(&b, &r), -1);
	assert_int_equal(r.code, VAL_PROTOCOL);
	assert_string_equal(r.e.sqlstate, "08P01");
	shutdown(s, SHUT_RDWR);
	pthread_join(t, NULL);
	close(s);
}

static void test_topic_authorization_is_permission(void **state)
{
	(void)state;
	struct job_builder b;
	struct val_result r;
	kjob(&b, K.deny_broker, "PLAINTEXT");
	assert_int_equal(run(&b, &r), -1);
	assert_int_equal(r.code, VAL_PERMISSION);
	assert_string_equal(r.e.sqlstate, "08004");
	assert_msg(&r, "denied access");
	assert_non_null(strstr(r.e.detail, "secret-topic"));
}

static void test_replication_factor_above_brokers(void **state)
{
	(void)state;
	struct job_builder b;
	struct val_result r;
	kjob(&b, K.broker1, "PLAINTEXT");       /* three brokers */
	job_text(&b, "PROGRESS TOPIC REPLICATION FACTOR", "4");
	assert_int_equal(run(&b, &r), -1);
	assert_int_equal(r.code, VAL_CONFIG);
	assert_msg(&r, "REPLICATION FACTOR");
}

/* ---- TLS ---- */

static void test_ssl_ok(void **state)
{
	(void)state;
	need_python();
	struct job_builder b;
	struct val_result r;
	kjob(&b, K.tls, "SSL");
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
	assert_int_equal(run(&b, &r), 0);
	/* SSL is the default without SASL options. */
	kjob(&b, K.tls, NULL);
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
	assert_int_equal(run(&b, &r), 0);
}

static void test_ssl_wrong_ca_is_tls(void **state)
{
	(void)state;
	need_python();
	struct job_builder b;
	struct val_result r;
	kjob(&b, K.tls, "ssl");
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_OTHER_CA);
	assert_int_equal(run(&b, &r), -1);
	assert_int_equal(r.code, VAL_TLS);
	assert_string_equal(r.stage, "target_tls");
	assert_msg(&r, "TLS handshake with 127.0.0.1:");
	assert_msg(&r, "certificate verify failed");
}

static void test_ssl_against_plaintext_is_tls(void **state)
{
	(void)state;
	struct job_builder b;
	struct val_result r;
	kjob(&b, K.broker1, "SSL");
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
	assert_int_equal(run(&b, &r), -1);
	assert_int_equal(r.code, VAL_TLS);
}

static void test_mtls_client_certificate(void **state)
{
	(void)state;
	need_python();
	struct job_builder b;
	struct val_result r;
	kjob(&b, K.mtls, "SSL");
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
	job_secret(&b, "SSL CERTIFICATE", SEC_CERT);
	job_secret(&b, "SSL KEY", SEC_KEY);
	assert_int_equal(run(&b, &r), 0);
	/* Without a client certificate the broker ends the handshake. */
	kjob(&b, K.mtls, "SSL");
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
	assert_int_equal(run(&b, &r), -1);
	assert_true(r.code == VAL_TLS || r.code == VAL_PROTOCOL);
}

/* ---- SASL ---- */

static void sasl_job(struct job_builder *b, const char *broker, const char *protocol,
		     const char *mech, int password_id)
{
	kjob(b, broker, protocol);
	job_text(b, "SASL MECHANISMS", mech);
	job_secret(b, "SASL USERNAME", SEC_USER);
	job_secret(b, "SASL PASSWORD", password_id);
	if (protocol && strcmp(protocol, "SASL_SSL") == 0)
		job_secret(b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
}

static void test_sasl_plain_ok_and_wrong_password(void **state)
{
	(void)state;
	need_python();
	struct job_builder b;
	struct val_result r;
	sasl_job(&b, K.sasl, "SASL_PLAINTEXT", "PLAIN", SEC_PASSWORD);
	assert_int_equal(run(&b, &r), 0);
	sasl_job(&b, K.sasl, "SASL_PLAINTEXT", "plain", SEC_BAD_PASSWORD);
	assert_int_equal(run(&b, &r), -1);
	assert_int_equal(r.code, VAL_AUTH);
	assert_string_equal(r.e.sqlstate, "08004");
	assert_string_equal(r.stage, "target_auth");
	assert_msg(&r, "authentication to KAFKA server 127.0.0.1:");
	assert_null(strstr(r.e.detail, "not-the-password"));
}

static void test_sasl_scram(void **state)
{
	(void)state;
	need_python();
	struct job_builder b;
	struct val_result r;
	sasl_job(&b, K.sasl, "SASL_PLAINTEXT", "SCRAM-SHA-256", SEC_PASSWORD);
	assert_int_equal(run(&b, &r), 0);
	sasl_job(&b, K.sasl, "SASL_PLAINTEXT", "SCRAM-SHA-512", SEC_PASSWORD);
	assert_int_equal(run(&b, &r), 0);
	sasl_job(&b, K.sasl, "SASL_PLAINTEXT", "SCRAM-SHA-512", SEC_BAD_PASSWORD);
	assert_int_equal(run(&b, &r), -1);
	assert_int_equal(r.code, VAL_AUTH);
}

static void test_sasl_ssl_ok(void **state)
{
	(void)state;
	need_python();
	struct job_builder b;
	struct val_result r;
	sasl_job(&b, K.sasl_ssl, "SASL_SSL", "SCRAM-SHA-256", SEC_PASSWORD);
	assert_int_equal(run(&b, &r), 0);
	/* SASL_SSL is the default with SASL options. */
	sasl_job(&b, K.sasl_ssl, NULL, "PLAIN", SEC_PASSWORD);
	job_secret(&b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
	assert_int_equal(run(&b, &r), 0);
}

static void test_sasl_against_plain_mock(void **state)
{
	(void)state;
	struct job_builder b;
	struct val_result r;
	sasl_job(&b, K.broker1, "SASL_PLAINTEXT", "PLAIN", SEC_PASSWORD);
	assert_int_equal(run(&b, &r), -1);
	assert_true(r.code == VAL_PROTOCOL || r.code == VAL_AUTH);
}

/* ---- Amazon MSK IAM (AWS CONNECTION) ---- */

/* A KAFKA job with AWS CONNECTION 77 (keys and session token nested, as
 * catalog/jobspec.c sends them); REGION on the AWS connection or not. */
static void msk_job(struct job_builder *b, const char *protocol, const char *region,
		    const char *deployment_region, uint64_t secret_id)
{
	kjob(b, K.sasl_ssl, protocol);
	if (!protocol || strcasecmp(protocol, "SASL_SSL") == 0)
		job_secret(b, "SSL CERTIFICATE AUTHORITY", SEC_CA);
	job_text(b, "AWS CONNECTION", "77");
	job_text(b, VAL_AWS_REF_PREFIX "ACCESS KEY ID", AWS_AKID);
	job_secret(b, VAL_AWS_REF_PREFIX "SECRET ACCESS KEY", secret_id);
	job_secret(b, VAL_AWS_REF_PREFIX "SESSION TOKEN", SEC_AWS_TOKEN);
	if (region)
		job_text(b, VAL_AWS_REF_PREFIX "REGION", region);
	job_text(b, VAL_OPT_TETHER_REGION, deployment_region);
}

static int run_msk(struct job_builder *b, struct val_result *r)
{
	int rc = run(b, r);
	static const char *const never[] = { AWS_SECRET, AWS_TOKEN, "X-Amz-Signature",
					     "X-Amz-Credential", "kafka-iam-secret" };
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
		assert_null(strstr(r->e.message, never[i]));
		assert_null(strstr(r->e.detail, never[i]));
		assert_null(strstr(r->e.hint, never[i]));
	}
	return rc;
}

static void test_msk_iam_ok(void **state)
{
	(void)state;
	need_python();
	struct job_builder b;
	struct val_result r;
	/* REGION on the AWS connection; SASL_SSL is the default with it. */
	msk_job(&b, NULL, AWS_REGION, "us-east-1", SEC_AWS_SECRET);
	assert_int_equal(run_msk(&b, &r), 0);
	assert_string_equal(r.stage, "done");
	assert_string_equal(r.host, K.sasl_ssl);
	/* The keys were fetched for the first broker. */
	assert_string_equal(K.f.last_destination, K.sasl_ssl);
	/* No REGION: the deployment's. */
	msk_job(&b, "sasl_ssl", NULL, AWS_REGION, SEC_AWS_SECRET);
	assert_int_equal(run_msk(&b, &r), 0);
}

static void test_msk_iam_wrong_secret_is_auth(void **state)
{
	(void)state;
	need_python();
	struct job_builder b;
	struct val_result r;
	msk_job(&b, "SASL_SSL", AWS_REGION, "us-east-1", SEC_AWS_WRONG);
	assert_int_equal(run_msk(&b, &r), -1);
	assert_int_equal(r.code, VAL_AUTH);
	assert_string_equal(r.e.sqlstate, "08004");
	assert_string_equal(r.stage, "target_auth");
	assert_msg(&r, "authentication to KAFKA server 127.0.0.1:");
	assert_non_null(strstr(r.e.detail, "signature mismatch"));
	assert_non_null(strstr(r.e.hint, "kafka-cluster:Connect"));
	assert_non_null(strstr(r.e.hint, "AWS CONNECTION"));

	/* Signed for the deployment's region, not the cluster's. */
	msk_job(&b, NULL, NULL, "us-east-1", SEC_AWS_SECRET);
	assert_int_equal(run_msk(&b, &r), -1);
	assert_int_equal(r.code, VAL_AUTH);
	assert_non_null(strstr(r.e.detail, "kafka.us-east-1.amazonaws.com"));
}

/* The token is a bearer credential: never without TLS (checked before the
 * AWS keys are even fetched). */
static void test_msk_iam_needs_tls(void **state)
{
	(void)state;
	struct job_builder b;
	struct val_result r;
	static const struct { const char *protocol, *want; } cases[] = {
		{ "PLAINTEXT", "option AWS CONNECTION not supported with this configuration" },
		{ "SSL", "option AWS CONNECTION not supported with this configuration" },
		{ "SASL_PLAINTEXT", "invalid connection configuration: AWS IAM authentication "
				    "requires TLS" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		msk_job(&b, cases[i].protocol, AWS_REGION, "us-east-1", SEC_AWS_SECRET);
		K.f.last_destination[0] = '\0';
		assert_int_equal(run_msk(&b, &r), -1);
		assert_int_equal(r.code, VAL_CONFIG);
		assert_string_equal(r.e.sqlstate, "22023");
		assert_string_equal(r.stage, "config");
		assert_msg(&r, cases[i].want);
		assert_string_equal(K.f.last_destination, "");
	}
}

/* ---- configuration ---- */

static void test_config_errors(void **state)
{
	(void)state;
	static const struct {
		const char *opts[6][2];   /* name, text ("#n": secret n) */
		const char *want;
		const char *sqlstate;
	} cases[] = {
		{ { { "SECURITY PROTOCOL", "PLAINTEXT" } },
		  "must set one of BROKER, BROKERS, or AWS PRIVATELINK", "22023" },
		{ { { "BROKER 1", "127.0.0.1:9092" }, { "SECURITY PROTOCOL", "tls" } },
		  "unknown security protocol: TLS", "22023" },
		{ { { "BROKER 1", "127.0.0.1:99999" } }, "invalid BROKER", "22023" },
		{ { { "BROKER 1", "a:1,b:2" } }, "invalid BROKER", "22023" },
		{ { { "BROKER 1", "127.0.0.1:9092" }, { "SECURITY PROTOCOL", "SASL_PLAINTEXT" },
		    { "SASL MECHANISMS", "PLAIN" }, { "SASL USERNAME", "u" } },
		  "SASL PASSWORD must be specified", "22023" },
		{ { { "BROKER 1", "127.0.0.1:9092" }, { "SASL MECHANISMS", "GSSAPI" },
		    { "SASL USERNAME", "u" }, { "SASL PASSWORD", "#1" } },
		  "invalid SASL MECHANISMS: unknown mechanism \"GSSAPI\"", "22023" },
		{ { { "BROKER 1", "127.0.0.1:9092" }, { "SECURITY PROTOCOL", "PLAINTEXT" },
		    { "SSL CERTIFICATE AUTHORITY", "#2" } },
		  "option SSL CERTIFICATE AUTHORITY not supported with this configuration", "22023" },
		{ { { "BROKER 1", "127.0.0.1:9092" }, { "SECURITY PROTOCOL", "SSL" },
		    { "SASL USERNAME", "u" } },
		  "option SASL USERNAME not supported", "22023" },
		{ { { "BROKER 1", "127.0.0.1:9092" }, { "SSL CERTIFICATE", "#4" } },
		  "SSL KEY must be specified with SSL CERTIFICATE", "22023" },
		{ { { "BROKER 1", "127.0.0.1:9092" }, { "PROGRESS TOPIC REPLICATION FACTOR", "0" } },
		  "PROGRESS TOPIC REPLICATION FACTOR must be greater than 0", "22023" },
		{ { { "BROKER 1", "127.0.0.1:9092" }, { "SSL CERTIFICATE AUTHORITY", "#99" } },
		  "the secret for SSL CERTIFICATE AUTHORITY is not available", "22023" },
		{ { { "BROKER 1", "127.0.0.1:9092" }, { "SSL CERTIFICATE AUTHORITY", "#8" } },
		  "invalid connection configuration", "22023" },
		{ { { "BROKER 1", "127.0.0.1:9092" }, { "AWS CONNECTION", "12" } },
		  "must specify either ASSUME ROLE ARN or ACCESS KEY ID and SECRET ACCESS KEY",
		  "22023" },
		{ { { "BROKER 1", "127.0.0.1:9092" }, { "AWS CONNECTION", "12" },
		    { "SASL MECHANISMS", "PLAIN" } },
		  "option SASL MECHANISMS not supported with this configuration", "22023" },
		{ { { "BROKER 1", "127.0.0.1:9092" }, { "AWS CONNECTION", "12" },
		    { "SASL PASSWORD", "#1" } },
		  "option SASL PASSWORD not supported with this configuration", "22023" },
		{ { { "BROKER 1", "127.0.0.1:9092" }, { "AWS PRIVATELINK", "13" } },
		  "AWS PrivateLink connections are unsupported", "0A000" },
		{ { { "BROKER 1", "127.0.0.1:9092" }, { "BROKER 1 AWS PRIVATELINK", "13" } },
		  "AWS PrivateLink connections are unsupported", "0A000" },
		{ { { "BROKER 1", "127.0.0.1:9092" }, { "BROKER 1 SSH TUNNEL", "555" } },
		  "no SSH tunnel for BROKER 127.0.0.1:9092", "22023" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct job_builder b;
		struct val_result r;
		job_init(&b, "kafka", TIMEOUT_MS);
		for (size_t k = 0; k < 6 && cases[i].opts[k][0]; k++) {
			const char *v = cases[i].opts[k][1];
			if (v[0] == '#')
				job_secret(&b, cases[i].opts[k][0], (uint64_t)atoi(v + 1));
			else
				job_text(&b, cases[i].opts[k][0], v);
		}
		print_message("  case %zu\n", i);
		assert_int_equal(run(&b, &r), -1);
		assert_int_equal(r.code, VAL_CONFIG);
		assert_msg(&r, cases[i].want);
		assert_string_equal(r.e.sqlstate, cases[i].sqlstate);
	}
}

/* ---- SSH tunnels ---- */

static void authorize(struct peer *d, bool slot1)
{
	char line[160];
	FILE *f = fopen(peer_get(d, "SSHD_AUTHORIZED_KEYS"), "w");
	assert_non_null(f);
	if (slot1) {
		fake_key_line(&K.f, 1, line, sizeof(line));
		fprintf(f, "%s\n", line);
	}
	fclose(f);
}

static void tunnel_of(struct val_ssh_tunnel *t, struct peer *d, uint16_t port, uint64_t id)
{
	*t = (struct val_ssh_tunnel){
		.connection_id = id, .host = "127.0.0.1",
		.port = port ? port : (uint16_t)atoi(peer_get(d, "SSHD_PORT")),
		.user = peer_get(d, "SSHD_USER"), .pinned_host_key = NULL,
	};
}

static void test_tunnel_to_reachable_mock(void **state)
{
	(void)state;
	if (!K.have_sshd) {
		print_message("openssh-server not available: skipped\n");
		skip();
	}
	struct job_builder b;
	struct val_result r;
	authorize(&K.sshd, true);
	kjob(&b, K.broker1, "PLAINTEXT");
	tunnel_of(&b.tunnel, &K.sshd, 0, 77);
	b.job.tunnel = &b.tunnel;
	assert_int_equal(run(&b, &r), 0);
	assert_int_equal(r.ssh_key_slot, 1);
	assert_string_equal(r.host_key, peer_get(&K.sshd, "SSHD_HOST_KEY"));

	/* The bastion refuses our key: its stage, not a broker failure. */
	authorize(&K.sshd, false);
	assert_int_equal(run(&b, &r), -1);
	assert_int_equal(r.code, VAL_AUTH);
	assert_string_equal(r.stage, "bastion_auth");
	authorize(&K.sshd, true);

	/* The bastion cannot reach the broker. */
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", closed_port());
	kjob(&b, addr, "PLAINTEXT");
	tunnel_of(&b.tunnel, &K.sshd, 0, 77);
	b.job.tunnel = &b.tunnel;
	assert_int_equal(run(&b, &r), -1);
	assert_int_equal(r.code, VAL_REFUSED);
	assert_string_equal(r.stage, "forward");
	assert_msg(&r, "could not open a connection to");
}

/* The cluster in its own network namespace with the bastion: the only way
 * in is sshd's direct-tcpip; the test reaches sshd through a forwarder
 * thread whose connections are made from inside the namespace. */
struct netns {
	pid_t holder;
	int hold_pipe, nsfd, listen_fd, stop[2];
	uint16_t port, sshd_port;
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

struct fwd_conn {
	int a, b, stop;
};

static void *fwd_pump(void *arg)
{
	struct fwd_conn *fc = arg;
	char buf[16384];
	for (;;) {
		struct pollfd p[3] = { { fc->a, POLLIN, 0 }, { fc->b, POLLIN, 0 },
				       { fc->stop, POLLIN, 0 } };
		if (poll(p, 3, 10000) <= 0 || (p[2].revents & POLLIN))
			break;
		bool done = false;
		for (int i = 0; i < 2 && !done; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(p[i].fd, buf, sizeof(buf));
			if (n <= 0) {
				done = true;
				break;
			}
			int to = i == 0 ? fc->b : fc->a;
			for (ssize_t off = 0; off < n;) {
				ssize_t w = send(to, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
				if (w <= 0) {
					done = true;
					break;
				}
				off += w;
			}
		}
		if (done)
			break;
	}
	close(fc->a);
	close(fc->b);
	free(fc);
	return NULL;
}

/* Several SSH sessions at once (one per broker connection): one pump
 * thread each, detached; they end when either side closes. */
static void *forwarder(void *arg)
{
	struct netns *n = arg;
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
		if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
			if (s >= 0)
				close(s);
			close(c);
			continue;
		}
		struct fwd_conn *fc = malloc(sizeof(*fc));
		*fc = (struct fwd_conn){ .a = c, .b = s, .stop = n->stop[0] };
		pthread_t t;
		if (pthread_create(&t, NULL, fwd_pump, fc) == 0)
			pthread_detach(t);
	}
}

static void test_cluster_reachable_only_through_bastion(void **state)
{
	(void)state;
	if (!K.have_sshd) {
		print_message("openssh-server not available: skipped\n");
		skip();
	}
	struct netns n = { .hold_pipe = -1, .nsfd = -1, .listen_fd = -1, .stop = { -1, -1 } };
	if (netns_create(&n) != 0) {
		netns_destroy(&n);
		print_message("no network namespace here (unshare(CLONE_NEWNET) failed): skipped\n");
		skip();
	}
	char prefix[96], bs[256], first[64];
	struct peer sshx;
	struct proc mx;
	snprintf(prefix, sizeof(prefix), "nsenter --net=/proc/%d/ns/net", n.holder);
	assert_int_equal(peer_start(&sshx, "sshd_start.sh", "sshd_stop.sh", prefix), 0);
	assert_int_equal(mock_start(&mx, n.nsfd, "3", NULL, bs, sizeof(bs)), 0);
	snprintf(first, sizeof(first), "%.*s", (int)strcspn(bs, ","), bs);
	print_message("    cluster in the namespace: %s\n", bs);
	n.sshd_port = (uint16_t)atoi(peer_get(&sshx, "SSHD_PORT"));

	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	n.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(n.listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(n.listen_fd, 16), 0);
	assert_int_equal(getsockname(n.listen_fd, (struct sockaddr *)&sa, &sl), 0);
	n.port = ntohs(sa.sin_port);
	assert_int_equal(pipe2(n.stop, O_CLOEXEC), 0);
	assert_int_equal(pthread_create(&n.thread, NULL, forwarder, &n), 0);
	authorize(&sshx, true);

	struct job_builder b;
	struct val_result r;
	struct val_ssh_tunnel own;

	/* Directly: nothing there. */
	kjob(&b, first, "PLAINTEXT");
	b.job.connect_timeout_ms = 2000;
	int direct = run(&b, &r);
	enum val_code direct_code = r.code;

	/* Default SSH TUNNEL: the listed broker and the two the metadata
	 * advertises all go through the bastion. */
	kjob(&b, first, "PLAINTEXT");
	tunnel_of(&b.tunnel, &sshx, n.port, 77);
	b.job.tunnel = &b.tunnel;
	int via_default = run(&b, &r);
	char host_key[128];
	snprintf(host_key, sizeof(host_key), "%s", r.host_key);

	/* Only a per-broker tunnel, no default: the advertised brokers are
	 * tried directly, which cannot work here — and the check says so. */
	kjob(&b, first, "PLAINTEXT");
	job_text(&b, "BROKER 1 SSH TUNNEL", "78");
	tunnel_of(&own, &sshx, n.port, 78);
	b.job.tunnels = &own;
	b.job.ntunnels = 1;
	b.job.connect_timeout_ms = 3000;
	int per_broker_only = run(&b, &r);
	struct val_result r_pb = r;

	/* Per-broker tunnel plus the default for the rest. */
	tunnel_of(&b.tunnel, &sshx, n.port, 77);
	b.job.tunnel = &b.tunnel;
	int per_broker_and_default = run(&b, &r);

	char x = 1;
	assert_int_equal(write(n.stop[1], &x, 1), 1);
	pthread_join(n.thread, NULL);
	close(n.listen_fd);
	proc_stop(&mx);
	peer_stop(&sshx);
	usleep(200000);
	close(n.stop[0]);
	close(n.stop[1]);
	netns_destroy(&n);

	assert_int_equal(direct, -1);
	assert_true(direct_code == VAL_REFUSED || direct_code == VAL_TIMEOUT);
	assert_int_equal(via_default, 0);
	assert_string_equal(host_key, peer_get(&sshx, "SSHD_HOST_KEY"));
	assert_int_equal(per_broker_only, -1);
	assert_non_null(strstr(r_pb.e.detail, "advertises broker"));
	assert_int_equal(per_broker_and_default, 0);
}

/* ---- nothing leaked ---- */

static void test_no_secret_in_argv_env_or_tmp(void **state)
{
	(void)state;
	const char *skip_dirs[] = { K.dir, K.sshd.dir };
	char where[512];
	const char *hit = secret_scan(K.since, skip_dirs, K.have_sshd ? 2 : 1, K.password,
				      strlen(K.password), where, sizeof(where));
	if (hit)
		print_error("SASL password found in %s\n", hit);
	assert_null(hit);
	if (K.key_line[0]) {
		hit = secret_scan(K.since, skip_dirs, K.have_sshd ? 2 : 1, K.key_line,
				  strlen(K.key_line), where, sizeof(where));
		if (hit)
			print_error("client key found in %s\n", hit);
		assert_null(hit);
	}
}

int main(void)
{
	/* The sshd peer daemonises under us: be its reaper. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plaintext_ok),
		cmocka_unit_test(test_plaintext_all_brokers_listed_ok),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_dns),
		cmocka_unit_test(test_silent_broker_times_out),
		cmocka_unit_test(test_blackhole_times_out),
		cmocka_unit_test(test_garbage_reply_is_protocol),
		cmocka_unit_test(test_topic_authorization_is_permission),
		cmocka_unit_test(test_replication_factor_above_brokers),
		cmocka_unit_test(test_ssl_ok),
		cmocka_unit_test(test_ssl_wrong_ca_is_tls),
		cmocka_unit_test(test_ssl_against_plaintext_is_tls),
		cmocka_unit_test(test_mtls_client_certificate),
		cmocka_unit_test(test_sasl_plain_ok_and_wrong_password),
		cmocka_unit_test(test_sasl_scram),
		cmocka_unit_test(test_sasl_ssl_ok),
		cmocka_unit_test(test_sasl_against_plain_mock),
		cmocka_unit_test(test_msk_iam_ok),
		cmocka_unit_test(test_msk_iam_wrong_secret_is_auth),
		cmocka_unit_test(test_msk_iam_needs_tls),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_tunnel_to_reachable_mock),
		cmocka_unit_test(test_cluster_reachable_only_through_bastion),
		cmocka_unit_test(test_no_secret_in_argv_env_or_tmp),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
