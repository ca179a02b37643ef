/* Validator benchmarks, each beside a baseline measured in the same run:
 *  1. spawn -> grant -> credential in hand: tetherd's job table
 *     (supervisor/validators.c) grants through the real tether-vault (audit
 *     record fsynced), fork+execs the real tether-validator (sandboxed),
 *     which reads its JobSpec, fetches a PASSWORD from the vault (release
 *     audited and fsynced) and connects to a listener of ours: the accept
 *     is "credential in hand". Baseline: fork+exec+wait of /bin/true.
 *  2. vault SshSign round trip (checks, audit record, group commit fsync,
 *     Ed25519) beside a bare crypto_sign_detached.
 * Usage: bench_validator [jobs=1000] [signs=1000] */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ipc.h"
#include "sup.h"

#define TIMEOUT_MS 15000

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

static void report(const char *what, double *v, size_t n, double *p50, double *p99)
{
	qsort(v, n, sizeof(*v), cmp_d);
	*p50 = v[n / 2];
	*p99 = v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1];
	printf("  %-44s p50 %9.1f us   p99 %9.1f us   (n=%zu)\n", what, *p50, *p99, n);
}

static void die(const char *what)
{
	fprintf(stderr, "bench_validator: %s (errno %d)\n", what, errno);
	exit(1);
}

/* ---- the real vault on socketpairs (we are tetherd and the catalog) ---- */

static struct ipc_chan vsup, vcat;
static pid_t vault_pid;
static char dir[64];

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
	return env;
}

static void start_vault(void)
{
	int sup[2], cat[2];
	char vdir[128];

	snprintf(dir, sizeof(dir), "/tmp/tether-bench-val-XXXXXX");
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(vdir, sizeof(vdir), "%s/vault", dir);
	if (mkdir(vdir, 0700) != 0)
		die("mkdir");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sup) != 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, cat) != 0)
		die("socketpair");
	vault_pid = fork();
	if (vault_pid == 0) {
		int s = fcntl(sup[1], F_DUPFD_CLOEXEC, 20), c = fcntl(cat[1], F_DUPFD_CLOEXEC, 20);
		if (s < 0 || c < 0 || dup2(s, 3) != 3 || dup2(c, 4) != 4)
			_exit(99);
		execl(VAULT_PATH, "tether-vault", "--data-dir", dir, (char *)NULL);
		_exit(98);
	}
	close(sup[1]);
	close(cat[1]);
	ipc_chan_init(&vsup, sup[0], IPC_SUP_VAULT, IPC_END_A);
	ipc_chan_init(&vcat, cat[0], IPC_CATALOG_VAULT, IPC_END_A);
	ipc_envelope_free(expect(&vsup, TETHER__ENVELOPE__BODY_HEALTH));

	/* u1 = the password; u2 = an SSH TUNNEL connection's key pairs. */
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__PutSecret ps = TETHER__PUT_SECRET__INIT;
	ps.object_id = 1;
	ps.version = 1;
	ps.total_size = 24;
	ps.chunk.data = (uint8_t *)"bench-password-0123456789";
	ps.chunk.len = 24;
	ps.last = 1;
	ps.object_name = "bench.public.pw";
	ps.role = "bench";
	env.request_id = 1;
	env.body_case = TETHER__ENVELOPE__BODY_PUT_SECRET;
	env.put_secret = &ps;
	if (ipc_send(&vcat, &env, -1) < 0)
		die("put");
	ipc_envelope_free(expect(&vcat, TETHER__ENVELOPE__BODY_REPLY));
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

/* ---- job table ops: tetherd's side, in this process ---- */

static int cat_end = -1;
static int ended;

static int op_grant(void *arg, uint64_t rid, const Tether__Grant *g, int fd)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;

	(void)arg;
	env.request_id = rid;
	env.body_case = TETHER__ENVELOPE__BODY_GRANT;
	env.grant = (Tether__Grant *)g;
	return ipc_send(&vsup, &env, fd);
}

static int op_revoke(void *arg, uint64_t job)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__Revoke r = TETHER__REVOKE__INIT;

	(void)arg;
	r.job_id = job;
	env.body_case = TETHER__ENVELOPE__BODY_REVOKE;
	env.revoke = &r;
	return ipc_send(&vsup, &env, -1);
}

static int op_channel(void *arg, uint64_t job, int fd)
{
	(void)arg;
	(void)job;
	cat_end = fcntl(fd, F_DUPFD_CLOEXEC, 10);
	return 0;
}

static int op_ended(void *arg, const Tether__JobEnded *m)
{
	(void)arg;
	if (!m->started || m->exit_status != 0)
		fprintf(stderr, "job %" PRIu64 " ended: started=%d status=%d signal=%d %s\n",
			m->job_id, m->started, m->exit_status, m->signal,
			m->message ? m->message : "");
	ended++;
	return 0;
}

static const struct sup_jobs_ops ops = { NULL, op_grant, op_revoke, op_channel, op_ended };

/* The packed JobSpec: postgres to 127.0.0.1:port with PASSWORD = u1. */
static size_t job_spec(uint64_t job, int port, uint8_t *buf)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__JobSpec s = TETHER__JOB_SPEC__INIT;
	Tether__JobOption o[5], *op[5];
	Tether__JobValuePart p[5], *pp[5];
	static const char *names[5] = { "HOST", "PORT", "DATABASE", "USER", "PASSWORD" };
	char portbuf[16], dest[64], *dests[1] = { dest };

	snprintf(portbuf, sizeof(portbuf), "%d", port);
	snprintf(dest, sizeof(dest), "127.0.0.1:%d", port);
	const char *vals[5] = { "127.0.0.1", portbuf, "app", "bench", NULL };
	for (int i = 0; i < 5; i++) {
		tether__job_option__init(&o[i]);
		tether__job_value_part__init(&p[i]);
		o[i].name = (char *)names[i];
		if (vals[i]) {
			p[i].text = (char *)vals[i];
		} else {
			p[i].is_secret = 1;
			p[i].secret_id = 1;
		}
		pp[i] = &p[i];
		o[i].n_parts = 1;
		o[i].parts = &pp[i];
		op[i] = &o[i];
	}
	s.job_id = job;
	s.connection_id = 5;
	s.type = "postgres";
	s.n_options = 5;
	s.options = op;
	s.connect_timeout_ms = 5000;
	s.n_destinations = 1;
	s.destinations = dests;
	env.body_case = TETHER__ENVELOPE__BODY_JOB_SPEC;
	env.job_spec = &s;
	return tether__envelope__pack(&env, buf);
}

static int listener(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		die("listener");
	*port = ntohs(sa.sin_port);
	return fd;
}

static void bench_spawn(size_t n)
{
	static const char *const envp[] = { "PATH=/usr/bin:/bin", NULL };
	struct sup_jobs jobs;
	double *tv = calloc(n, sizeof(double)), *bv = calloc(n, sizeof(double));
	double p50, p99, b50, b99;
	int port, lfd = listener(&port);
	uint8_t spec[4096];

	sup_jobs_init(&jobs, VALIDATOR_PATH, envp, &ops);
	for (size_t i = 0; i < n; i++) {
		/* Baseline: fork + exec + wait of /bin/true. */
		double t0 = now_us();
		pid_t p = fork();
		if (p == 0) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		waitpid(p, NULL, 0);
		bv[i] = now_us() - t0;

		Tether__SpawnValidator m = TETHER__SPAWN_VALIDATOR__INIT;
		Tether__SecretGrant sg = TETHER__SECRET_GRANT__INIT, *sgp[1] = { &sg };
		char dest[64], *dests[1] = { dest };
		uint64_t job = i + 1;

		snprintf(dest, sizeof(dest), "127.0.0.1:%d", port);
		sg.object_id = 1;
		sg.version = 1;
		m.job_id = job;
		m.connection_id = 5;
		m.n_secrets = 1;
		m.secrets = sgp;
		m.n_destinations = 1;
		m.destinations = dests;
		m.deadline_ms = 10000;
		cat_end = -1;
		t0 = now_us();
		sup_jobs_spawn(&jobs, &m);
		Tether__Envelope *r = expect(&vsup, TETHER__ENVELOPE__BODY_REPLY);
		sup_jobs_grant_reply(&jobs, r->request_id, r->reply);
		ipc_envelope_free(r);
		if (cat_end < 0)
			die("no validator channel");
		size_t len = job_spec(job, port, spec);
		if (send(cat_end, spec, len, MSG_NOSIGNAL) != (ssize_t)len)
			die("send job spec");
		struct pollfd pl = { .fd = lfd, .events = POLLIN };
		if (poll(&pl, 1, TIMEOUT_MS) != 1)
			die("validator never connected");
		int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		tv[i] = now_us() - t0;
		/* Close at once: libpq fails, the validator reports and exits. */
		close(c);
		int st;
		pid_t vp = -1;
		for (size_t k = 0; k < SUP_MAX_VALIDATORS; k++)
			if (jobs.jobs[k].state == SUP_JOB_RUNNING)
				vp = jobs.jobs[k].pid;
		if (vp > 0 && waitpid(vp, &st, 0) == vp)
			sup_jobs_reaped(&jobs, vp, st);
		close(cat_end);
	}
	printf("validator spawn -> grant -> credential in hand (real vault + validator):\n");
	report("fork+exec+wait /bin/true (baseline)", bv, n, &b50, &b99);
	report("spawn -> grant -> credential in hand", tv, n, &p50, &p99);
	printf("  ratio vs baseline: p50 %.1fx, p99 %.1fx\n", p50 / b50, p99 / b99);
	close(lfd);
	free(tv);
	free(bv);
}

/* ---- SshSign ---- */

static size_t userauth(unsigned char *out, const unsigned char *blob)
{
	size_t n = 0;
	unsigned char sid[32];
#define PUT32(x) do { uint32_t _v = (x); out[n++] = _v >> 24; out[n++] = _v >> 16; \
		      out[n++] = _v >> 8; out[n++] = _v; } while (0)
#define PUTS(p, l) do { PUT32(l); memcpy(out + n, p, l); n += l; } while (0)
	randombytes_buf(sid, sizeof(sid));
	PUTS(sid, 32);
	out[n++] = 50;
	PUTS("root", 4);
	PUTS("ssh-connection", 14);
	PUTS("publickey", 9);
	out[n++] = 1;
	PUTS("ssh-ed25519", 11);
	PUTS(blob, 51);
	return n;
#undef PUTS
#undef PUT32
}

static void bench_sign(size_t n)
{
	double *sv = calloc(n, sizeof(double)), *bv = calloc(n, sizeof(double));
	double p50, p99, b50, b99;
	unsigned char blob[64], data[256], sig[64], pk[32], sk[64];
	size_t blen = 0;
	int pair[2];

	/* Keys for u2 from the vault; only the public half comes back. */
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__GenerateSshKeys gk = TETHER__GENERATE_SSH_KEYS__INIT;
	gk.object_id = 2;
	gk.object_name = "bench.public.ssh";
	gk.role = "bench";
	env.request_id = 2;
	env.body_case = TETHER__ENVELOPE__BODY_GENERATE_SSH_KEYS;
	env.generate_ssh_keys = &gk;
	if (ipc_send(&vcat, &env, -1) < 0)
		die("generate");
	Tether__Envelope *k = expect(&vcat, TETHER__ENVELOPE__BODY_SSH_PUBLIC_KEYS);
	const char *b64 = k->ssh_public_keys->public_key_1 + strlen("ssh-ed25519 ");
	if (sodium_base642bin(blob, sizeof(blob), b64, strcspn(b64, " "), NULL, &blen, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 || blen != 51)
		die("public key");
	ipc_envelope_free(k);

	/* A grant for u2's slot 1 and a validator channel held by us. */
	Tether__Grant g = TETHER__GRANT__INIT;
	Tether__SshKeyGrant kg = TETHER__SSH_KEY_GRANT__INIT, *kgp[1] = { &kg };
	uint32_t slot1 = 1;
	char *dests[1] = { "bastion.bench:22" };
	kg.connection_id = 2;
	kg.n_slots = 1;
	kg.slots = &slot1;
	g.job_id = 1000000;
	g.connection_id = 2;
	g.n_ssh_keys = 1;
	g.ssh_keys = kgp;
	g.n_destinations = 1;
	g.destinations = dests;
	g.deadline_monotonic_ms = sup_now_ms() + 600000;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0 ||
	    op_grant(NULL, 99, &g, pair[1]) != 0)
		die("grant");
	close(pair[1]);
	ipc_envelope_free(expect(&vsup, TETHER__ENVELOPE__BODY_REPLY));
	struct ipc_chan vch;
	ipc_chan_init(&vch, pair[0], IPC_VALIDATOR_VAULT, IPC_END_A);

	crypto_sign_keypair(pk, sk);
	for (size_t i = 0; i < n; i++) {
		size_t len = userauth(data, blob);
		double t0 = now_us();
		crypto_sign_detached(sig, NULL, data, len, sk);
		bv[i] = now_us() - t0;

		Tether__Envelope req = TETHER__ENVELOPE__INIT;
		Tether__SshSign ss = TETHER__SSH_SIGN__INIT;
		ss.connection_id = 2;
		ss.slot = 1;
		ss.data.data = data;
		ss.data.len = len;
		ss.destination = "bastion.bench:22";
		req.request_id = i + 1;
		req.body_case = TETHER__ENVELOPE__BODY_SSH_SIGN;
		req.ssh_sign = &ss;
		t0 = now_us();
		if (ipc_send(&vch, &req, -1) < 0)
			die("ssh sign");
		Tether__Envelope *r = expect(&vch, TETHER__ENVELOPE__BODY_SSH_SIGNATURE);
		sv[i] = now_us() - t0;
		if (r->ssh_signature->sig.len != 64 ||
		    crypto_sign_verify_detached(r->ssh_signature->sig.data, data, len, blob + 19) != 0)
			die("bad signature");
		ipc_envelope_free(r);
	}
	sodium_memzero(sk, sizeof(sk));
	printf("vault SshSign (grant check, audit record, fsync, Ed25519):\n");
	report("crypto_sign_detached (baseline)", bv, n, &b50, &b99);
	report("SshSign round trip through the vault", sv, n, &p50, &p99);
	printf("  ratio vs baseline: p50 %.0fx, p99 %.0fx\n", p50 / b50, p99 / b99);
	close(vch.fd);
	free(sv);
	free(bv);
}

int main(int argc, char **argv)
{
	size_t njobs = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
	size_t nsign = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;

	if (sodium_init() < 0 || njobs == 0 || nsign == 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	log_init("bench");
	log_set_level(LOG_WARN);
	start_vault();
	bench_spawn(njobs);
	bench_sign(nsign);
	stop_vault();
	return 0;
}
