/* Secret fetch by a granted validator (issue 7): the real tether-vault on
 * socketpairs as tetherd starts it (fd 3 supervisor, fd 4 catalog); we
 * store a few secrets, grant them to a job and, holding the validator's
 * end, issue GetCredential -> CredentialValue with 1 and with D requests in
 * flight. Every release is checked against the grant, audited and made
 * durable by the vault's group commit (fsync + signed checkpoint) before
 * the value leaves. Baseline, same run: a raw SEQPACKET echo between two
 * processes with the same packet sizes and the same depth.
 * Usage: bench_fetch [fetches=20000] [depth=16] */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"

#define TIMEOUT_MS 15000
#define NSECRETS 4
#define WARMUP 500
#define MAX_DEPTH 64
#define JOB_ID 7
#define DEST "db.bench.internal:5432"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct figures {
	double p50, p99, per_s;       /* us, us, operations per second */
};

static struct figures summarise(double *lat, size_t n, double elapsed_us)
{
	struct figures f;

	qsort(lat, n, sizeof(*lat), cmp_d);
	f.p50 = lat[n / 2];
	f.p99 = lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1];
	f.per_s = (double)n / (elapsed_us / 1e6);
	return f;
}

static void print_figures(const char *what, struct figures f)
{
	printf("  %-46s p50 %8.1f us  p99 %8.1f us  %8.0f /s\n", what, f.p50, f.p99, f.per_s);
}

static char dir[64];

static void die(const char *what)
{
	fprintf(stderr, "bench_fetch: %s (errno %d); vault stderr in %s/vault.err\n", what,
		errno, dir);
	exit(1);
}

/* ---- the secrets: distinct values, password-sized ---- */

static const char *const values[NSECRETS] = {
	"pg-password-7Q2mX9vLr4",
	"kafka-sasl-secret-0b1e8c2d9f7a4e61",
	"s3-secret-access-key-wJalrXUtnFEMI/K7MDENG/bPxRfiCY",
	"tls-client-key-passphrase-3f5a",
};

/* ---- the real vault on socketpairs (we are tetherd and the catalog) ---- */

static struct ipc_chan vsup, vcat;
static pid_t vault_pid;

static Tether__Envelope *expect(struct ipc_chan *c, Tether__Envelope__BodyCase kind)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	Tether__Envelope *env = NULL;

	if (poll(&p, 1, TIMEOUT_MS) != 1 || ipc_recv(c, &env, NULL) != IPC_RECV_MESSAGE)
		die("no answer from the vault");
	if (env->body_case != kind) {
		if (env->body_case == TETHER__ENVELOPE__BODY_REPLY)
			fprintf(stderr, "vault: %s %s\n", env->reply->sqlstate, env->reply->message);
		die("unexpected answer from the vault");
	}
	if (kind == TETHER__ENVELOPE__BODY_REPLY && !env->reply->ok) {
		fprintf(stderr, "vault: %s %s\n", env->reply->sqlstate, env->reply->message);
		die("vault refused");
	}
	return env;
}

static void start_vault(void)
{
	int sup[2], cat[2];
	char path[128];

	snprintf(dir, sizeof(dir), "/tmp/tether-bench-fetch-XXXXXX");
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(path, sizeof(path), "%s/vault", dir);
	if (mkdir(path, 0700) != 0)
		die("mkdir");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sup) != 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, cat) != 0)
		die("socketpair");
	snprintf(path, sizeof(path), "%s/vault.err", dir);
	vault_pid = fork();
	if (vault_pid < 0)
		die("fork");
	if (vault_pid == 0) {
		int s = fcntl(sup[1], F_DUPFD_CLOEXEC, 20), c = fcntl(cat[1], F_DUPFD_CLOEXEC, 20);
		int errfd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (s < 0 || c < 0 || errfd < 0 || dup2(s, 3) != 3 || dup2(c, 4) != 4 ||
		    dup2(errfd, 2) != 2)
			_exit(99);
		execl(VAULT_PATH, "tether-vault", "--data-dir", dir, (char *)NULL);
		_exit(98);
	}
	close(sup[1]);
	close(cat[1]);
	ipc_chan_init(&vsup, sup[0], IPC_SUP_VAULT, IPC_END_A);
	ipc_chan_init(&vcat, cat[0], IPC_CATALOG_VAULT, IPC_END_A);
	ipc_envelope_free(expect(&vsup, TETHER__ENVELOPE__BODY_HEALTH));

	/* An empty reconcile first, as the catalog does on a new channel. */
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__ReconcileBatch rb = TETHER__RECONCILE_BATCH__INIT;
	rb.last = 1;
	env.request_id = 1;
	env.body_case = TETHER__ENVELOPE__BODY_RECONCILE_BATCH;
	env.reconcile_batch = &rb;
	if (ipc_send(&vcat, &env, -1) < 0)
		die("reconcile");
	ipc_envelope_free(expect(&vcat, TETHER__ENVELOPE__BODY_RECONCILE_RESULT));

	/* u1..u4 at versions 1..4 (versions are unique per vault), committed. */
	for (int i = 0; i < NSECRETS; i++) {
		Tether__Envelope pe = TETHER__ENVELOPE__INIT, ce = TETHER__ENVELOPE__INIT;
		Tether__PutSecret ps = TETHER__PUT_SECRET__INIT;
		Tether__CommitSecret cs = TETHER__COMMIT_SECRET__INIT;
		char name[32];

		snprintf(name, sizeof(name), "bench.public.s%d", i + 1);
		ps.object_id = (uint64_t)i + 1;
		ps.version = (uint64_t)i + 1;
		ps.total_size = (uint32_t)strlen(values[i]);
		ps.chunk.data = (uint8_t *)values[i];
		ps.chunk.len = strlen(values[i]);
		ps.last = 1;
		ps.object_name = name;
		ps.role = "bench";
		pe.request_id = 10 + (uint64_t)i;
		pe.body_case = TETHER__ENVELOPE__BODY_PUT_SECRET;
		pe.put_secret = &ps;
		if (ipc_send(&vcat, &pe, -1) < 0)
			die("put");
		ipc_envelope_free(expect(&vcat, TETHER__ENVELOPE__BODY_REPLY));
		cs.object_id = ps.object_id;
		cs.version = ps.version;
		ce.body_case = TETHER__ENVELOPE__BODY_COMMIT_SECRET;
		ce.commit_secret = &cs;
		if (ipc_send(&vcat, &ce, -1) < 0)
			die("commit");
	}
}

static void stop_vault(void)
{
	char cmd[128];

	close(vsup.fd);
	close(vcat.fd);
	waitpid(vault_pid, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

/* tetherd's part: a Grant naming the secrets, one destination, a deadline
 * 10 minutes away, with the validator's end of a fresh channel. Returns
 * our (the validator's) end. */
static void grant(struct ipc_chan *vch)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__Grant g = TETHER__GRANT__INIT;
	Tether__SecretGrant sg[NSECRETS], *sgp[NSECRETS];
	char *dests[1] = { DEST };
	struct timespec ts;
	int pair[2];

	for (int i = 0; i < NSECRETS; i++) {
		tether__secret_grant__init(&sg[i]);
		sg[i].object_id = (uint64_t)i + 1;
		sg[i].version = (uint64_t)i + 1;
		sgp[i] = &sg[i];
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	g.job_id = JOB_ID;
	g.connection_id = 100;
	g.n_secrets = NSECRETS;
	g.secrets = sgp;
	g.n_destinations = 1;
	g.destinations = dests;
	g.deadline_monotonic_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 +
				  600000;
	env.request_id = 50;
	env.body_case = TETHER__ENVELOPE__BODY_GRANT;
	env.grant = &g;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0 ||
	    ipc_send(&vsup, &env, pair[1]) != 0)
		die("grant");
	close(pair[1]);
	ipc_envelope_free(expect(&vsup, TETHER__ENVELOPE__BODY_REPLY));
	ipc_chan_init(vch, pair[0], IPC_VALIDATOR_VAULT, IPC_END_A);
}

/* ---- packet sizes of the real exchange, for the echo ---- */

static size_t req_size[NSECRETS], resp_size[NSECRETS];

static void measure_sizes(void)
{
	for (int i = 0; i < NSECRETS; i++) {
		Tether__Envelope a = TETHER__ENVELOPE__INIT, b = TETHER__ENVELOPE__INIT;
		Tether__GetCredential gc = TETHER__GET_CREDENTIAL__INIT;
		Tether__CredentialValue cv = TETHER__CREDENTIAL_VALUE__INIT;

		gc.secret_id = (uint64_t)i + 1;
		gc.destination = DEST;
		a.request_id = 10000;
		a.body_case = TETHER__ENVELOPE__BODY_GET_CREDENTIAL;
		a.get_credential = &gc;
		cv.secret_id = gc.secret_id;
		cv.total_size = (uint32_t)strlen(values[i]);
		cv.chunk.data = (uint8_t *)values[i];
		cv.chunk.len = strlen(values[i]);
		cv.last = 1;
		b.request_id = 10000;
		b.body_case = TETHER__ENVELOPE__BODY_CREDENTIAL_VALUE;
		b.credential_value = &cv;
		req_size[i] = tether__envelope__get_packed_size(&a);
		resp_size[i] = tether__envelope__get_packed_size(&b);
	}
}

/* ---- baseline: raw SEQPACKET echo, same sizes, `depth` in flight ---- */

static struct figures bench_echo(size_t n, size_t depth)
{
	double *lat = calloc(n, sizeof(double)), sent[MAX_DEPTH], start = 0;
	unsigned char buf[512];
	size_t total = n + WARMUP, issued = 0, done = 0;
	int sv[2];

	if (!lat || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		die("echo setup");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		/* Answers each request with the reply size of its secret. */
		size_t j = 0;

		close(sv[0]);
		memset(buf, 'r', sizeof(buf));
		while (read(sv[1], buf, sizeof(buf)) > 0) {
			size_t r = resp_size[j++ % NSECRETS];
			if (write(sv[1], buf, r) != (ssize_t)r)
				break;
		}
		_exit(0);
	}
	close(sv[1]);
	memset(buf, 'q', sizeof(buf));
	while (done < total) {
		while (issued < total && issued - done < depth) {
			size_t q = req_size[issued % NSECRETS];
			sent[issued % depth] = now_us();
			if (write(sv[0], buf, q) != (ssize_t)q)
				die("echo write");
			issued++;
		}
		ssize_t r = read(sv[0], buf, sizeof(buf));
		if (r != (ssize_t)resp_size[done % NSECRETS])
			die("echo read");
		double t = now_us();
		if (done == WARMUP)
			start = sent[done % depth];
		if (done >= WARMUP)
			lat[done - WARMUP] = t - sent[done % depth];
		done++;
	}
	struct figures f = summarise(lat, n, now_us() - start);
	close(sv[0]);
	waitpid(pid, NULL, 0);
	free(lat);
	return f;
}

/* ---- tether: GetCredential -> CredentialValue, `depth` in flight ---- */

static uint64_t next_rid = 1000;

static struct figures bench_vault_fetch(struct ipc_chan *vch, size_t n, size_t depth)
{
	double *lat = calloc(n, sizeof(double)), sent[MAX_DEPTH], start = 0;
	size_t total = n + WARMUP, issued = 0, done = 0;
	uint64_t base = next_rid;

	if (!lat)
		die("calloc");
	while (done < total) {
		while (issued < total && issued - done < depth) {
			Tether__Envelope env = TETHER__ENVELOPE__INIT;
			Tether__GetCredential gc = TETHER__GET_CREDENTIAL__INIT;

			gc.secret_id = issued % NSECRETS + 1;
			gc.destination = DEST;
			env.request_id = base + issued;
			env.body_case = TETHER__ENVELOPE__BODY_GET_CREDENTIAL;
			env.get_credential = &gc;
			sent[issued % depth] = now_us();
			if (ipc_send(vch, &env, -1) < 0)
				die("get credential");
			issued++;
		}
		Tether__Envelope *r = expect(vch, TETHER__ENVELOPE__BODY_CREDENTIAL_VALUE);
		double t = now_us();
		const Tether__CredentialValue *cv = r->credential_value;
		const char *want = values[done % NSECRETS];

		/* In order, complete, and the right value. */
		if (r->request_id != base + done || cv->secret_id != done % NSECRETS + 1 ||
		    !cv->last || cv->offset != 0 || cv->chunk.len != strlen(want) ||
		    memcmp(cv->chunk.data, want, cv->chunk.len) != 0)
			die("wrong credential value");
		ipc_envelope_free(r);
		if (done == WARMUP)
			start = sent[done % depth];
		if (done >= WARMUP)
			lat[done - WARMUP] = t - sent[done % depth];
		done++;
	}
	struct figures f = summarise(lat, n, now_us() - start);
	next_rid += total;
	free(lat);
	return f;
}

/* credential_release records and checkpoints (one per group commit that
 * holds a release) in the audit log so far. */
static void audit_counts(size_t *releases, size_t *checkpoints)
{
	char path[128], line[8192];
	FILE *f;

	*releases = *checkpoints = 0;
	snprintf(path, sizeof(path), "%s/vault/audit.log", dir);
	f = fopen(path, "r");
	if (!f)
		die("open audit.log");
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, " event=credential_release "))
			(*releases)++;
		else if (strstr(line, " event=checkpoint "))
			(*checkpoints)++;
	}
	fclose(f);
}

static void fetch_round(struct ipc_chan *vch, size_t n, size_t depth)
{
	size_t r0, c0, r1, c1;
	char what[80];

	snprintf(what, sizeof(what), "baseline: raw SEQPACKET echo, %zu in flight", depth);
	struct figures echo = bench_echo(n, depth);
	print_figures(what, echo);
	audit_counts(&r0, &c0);
	struct figures f = bench_vault_fetch(vch, n, depth);
	audit_counts(&r1, &c1);
	snprintf(what, sizeof(what), "vault GetCredential, %zu in flight", depth);
	print_figures(what, f);
	printf("  %-46s p50 %.1fx  p99 %.1fx  throughput %.3f of the echo's\n",
	       "ratio vault / echo", f.p50 / echo.p50, f.p99 / echo.p99, f.per_s / echo.per_s);
	printf("  %-46s %zu releases audited, %zu group commits (%.1f releases per group commit)\n",
	       "", r1 - r0, c1 - c0, c1 > c0 ? (double)(r1 - r0) / (double)(c1 - c0) : 0.0);
	printf("  %-46s %s 5,000 fetches/s\n", "", f.per_s >= 5000 ? "at or above" : "BELOW");
	if (r1 - r0 != n + WARMUP)
		die("audit log does not hold one release per fetch");
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000;
	size_t depth = argc > 2 ? strtoul(argv[2], NULL, 10) : 16;
	struct ipc_chan vch;

	if (n < 100 || depth < 2 || depth > MAX_DEPTH) {
		fprintf(stderr, "usage: bench_fetch [fetches>=100] [depth 2..%d]\n", MAX_DEPTH);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	log_init("bench");
	log_set_level(LOG_WARN);
	measure_sizes();
	start_vault();
	grant(&vch);
	printf("secret fetch by a granted validator (real tether-vault; %zu fetches + %d warm-up "
	       "per row; %ld cores)\n", n, WARMUP, sysconf(_SC_NPROCESSORS_ONLN));
	printf("every release: grant check, credential_release audit record, group commit "
	       "(fsync of audit log + signed checkpoint) before the value is sent\n");
	size_t qmin = SIZE_MAX, qmax = 0, rmin = SIZE_MAX, rmax = 0;
	for (int i = 0; i < NSECRETS; i++) {
		qmin = req_size[i] < qmin ? req_size[i] : qmin;
		qmax = req_size[i] > qmax ? req_size[i] : qmax;
		rmin = resp_size[i] < rmin ? resp_size[i] : rmin;
		rmax = resp_size[i] > rmax ? resp_size[i] : rmax;
	}
	printf("packet sizes: GetCredential %zu-%zu B, CredentialValue %zu-%zu B (the echo "
	       "sends the same)\n\n", qmin, qmax, rmin, rmax);
	fetch_round(&vch, n, 1);
	printf("\n");
	fetch_round(&vch, n, depth);
	close(vch.fd);
	stop_vault();
	return 0;
}
