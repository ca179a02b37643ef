/* Secret write path benchmarks, each against a baseline measured in the same
 * run on the same machine:
 *  1. audited, acknowledged CREATE/ALTER SECRET through libpq with 1, 8 and 32
 *     clients  vs  a bare SQLite insert + fsync loop (WAL, synchronous=FULL);
 *  2. one vault round trip (PutSecret -> Reply) over its real SEQPACKET
 *     channel  vs  a raw SEQPACKET echo between two processes.
 * Prints p50/p99 latencies, throughput and the ratios. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "ipc.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct figures {
	double p50_ms, p99_ms, per_s;
};

static struct figures summarise(double *lat, int n, double elapsed)
{
	struct figures f;
	qsort(lat, (size_t)n, sizeof(double), cmp_double);
	f.p50_ms = lat[n / 2] * 1e3;
	f.p99_ms = lat[(int)(n * 0.99)] * 1e3;
	f.per_s = n / elapsed;
	return f;
}

static void print_figures(const char *what, struct figures f)
{
	printf("%-44s p50 %8.3f ms  p99 %8.3f ms  %9.0f /s\n", what, f.p50_ms,
	       f.p99_ms, f.per_s);
}

/* Baseline 1: what one durable row costs in SQLite on this disk. */
static struct figures bench_sqlite_fsync(const char *dir, int n)
{
	char path[512];
	sqlite3 *db;
	sqlite3_stmt *st;
	double *lat = calloc((size_t)n, sizeof(double));

	snprintf(path, sizeof(path), "%s/baseline.db", dir);
	sqlite3_open(path, &db);
	sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
		     "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v BLOB)",
		     NULL, NULL, NULL);
	sqlite3_prepare_v2(db, "INSERT INTO t(name, v) VALUES (?, ?)", -1, &st, NULL);
	double start = now_s();
	for (int i = 0; i < n; i++) {
		char name[32];
		double t0 = now_s();
		snprintf(name, sizeof(name), "s%d", i);
		sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_blob(st, 2, name, 16, SQLITE_TRANSIENT);
		sqlite3_step(st);
		sqlite3_reset(st);
		lat[i] = now_s() - t0;
	}
	struct figures f = summarise(lat, n, now_s() - start);
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(lat);
	return f;
}

/* tether: `clients` connections each alternating ALTER SECRET on its own
 * secret, pipelined one statement in flight per connection. */
static struct figures bench_tether_writes(struct tetherd *t, int clients, int per_client)
{
	PGconn **c = calloc((size_t)clients, sizeof(PGconn *));
	double *sent = calloc((size_t)clients, sizeof(double));
	int *done = calloc((size_t)clients, sizeof(int));
	int total = clients * per_client, nlat = 0;
	double *lat = calloc((size_t)total, sizeof(double));
	char sql[128];

	for (int i = 0; i < clients; i++) {
		c[i] = th_connect(t);
		if (!c[i]) {
			fprintf(stderr, "bench: connect failed\n");
			exit(1);
		}
		snprintf(sql, sizeof(sql), "CREATE SECRET IF NOT EXISTS bench_%d AS 'v'", i);
		th_exec_ok(c[i], sql);
	}
	double start = now_s();
	for (int i = 0; i < clients; i++) {
		snprintf(sql, sizeof(sql), "ALTER SECRET bench_%d AS 'value-%d'", i, 0);
		sent[i] = now_s();
		PQsendQuery(c[i], sql);
	}
	int active = clients;
	while (active > 0) {
		struct pollfd *p = calloc((size_t)clients, sizeof(*p));
		for (int i = 0; i < clients; i++) {
			p[i].fd = done[i] < per_client ? PQsocket(c[i]) : -1;
			p[i].events = POLLIN;
		}
		poll(p, (nfds_t)clients, 1000);
		for (int i = 0; i < clients; i++) {
			if (p[i].fd < 0 || !(p[i].revents & POLLIN))
				continue;
			PQconsumeInput(c[i]);
			while (!PQisBusy(c[i])) {
				PGresult *r = PQgetResult(c[i]);
				if (r) {
					if (PQresultStatus(r) != PGRES_COMMAND_OK)
						fprintf(stderr, "bench: %s", PQresultErrorMessage(r));
					PQclear(r);
					continue;
				}
				lat[nlat++] = now_s() - sent[i];
				if (++done[i] == per_client) {
					active--;
					break;
				}
				snprintf(sql, sizeof(sql), "ALTER SECRET bench_%d AS 'value-%d'", i, done[i]);
				sent[i] = now_s();
				PQsendQuery(c[i], sql);
				break;
			}
		}
		free(p);
	}
	struct figures f = summarise(lat, nlat, now_s() - start);
	for (int i = 0; i < clients; i++)
		PQfinish(c[i]);
	free(c);
	free(sent);
	free(done);
	free(lat);
	return f;
}

/* Baseline 2: raw SEQPACKET echo between two processes. */
static struct figures bench_seqpacket_echo(int n)
{
	int sv[2];
	char buf[256];
	double *lat = calloc((size_t)n, sizeof(double));

	socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		ssize_t r;
		while ((r = read(sv[1], buf, sizeof(buf))) > 0)
			if (write(sv[1], buf, (size_t)r) != r)
				break;
		_exit(0);
	}
	close(sv[1]);
	memset(buf, 'x', 64);
	double start = now_s();
	for (int i = 0; i < n; i++) {
		double t0 = now_s();
		if (write(sv[0], buf, 64) != 64 || read(sv[0], buf, sizeof(buf)) <= 0)
			break;
		lat[i] = now_s() - t0;
	}
	struct figures f = summarise(lat, n, now_s() - start);
	close(sv[0]);
	waitpid(pid, NULL, 0);
	free(lat);
	return f;
}

/* The vault on its real channel: PutSecret (one chunk) -> Reply, durable. */
static struct figures bench_vault_roundtrip(const char *dir, int n)
{
	int sup[2], peer[2];
	char data[512], vault_dir[600];
	double *lat = calloc((size_t)n, sizeof(double));

	snprintf(data, sizeof(data), "%s/vaultbench", dir);
	mkdir(data, 0700);
	snprintf(vault_dir, sizeof(vault_dir), "%s/vault", data);
	mkdir(vault_dir, 0700);
	socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sup);
	socketpair(AF_UNIX, SOCK_SEQPACKET, 0, peer);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(sup[1], 3);
		dup2(peer[1], 4);
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 2);
		execl(VAULT_PATH, "tether-vault", "--data-dir", data, (char *)NULL);
		_exit(127);
	}
	close(sup[1]);
	close(peer[1]);
	struct ipc_chan chan;
	ipc_chan_init(&chan, peer[0], IPC_CATALOG_VAULT, IPC_END_A);

	/* An empty reconcile first, as the catalog does. */
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__ReconcileBatch rb = TETHER__RECONCILE_BATCH__INIT;
	rb.last = 1;
	env.request_id = 1;
	env.body_case = TETHER__ENVELOPE__BODY_RECONCILE_BATCH;
	env.reconcile_batch = &rb;
	ipc_send(&chan, &env, -1);
	Tether__Envelope *in = NULL;
	if (ipc_recv(&chan, &in, NULL) != IPC_RECV_MESSAGE) {
		fprintf(stderr, "bench: vault did not answer the reconcile\n");
		exit(1);
	}
	ipc_envelope_free(in);

	uint8_t value[32];
	memset(value, 'v', sizeof(value));
	double start = now_s();
	for (int i = 0; i < n; i++) {
		Tether__Envelope e = TETHER__ENVELOPE__INIT;
		Tether__PutSecret put = TETHER__PUT_SECRET__INIT;
		put.object_id = 1 + (uint64_t)(i % 50);
		put.version = 1000 + (uint64_t)i;
		put.total_size = sizeof(value);
		put.chunk.data = value;
		put.chunk.len = sizeof(value);
		put.last = 1;
		put.object_name = "bench";
		put.role = "bench";
		e.request_id = 100 + (uint64_t)i;
		e.body_case = TETHER__ENVELOPE__BODY_PUT_SECRET;
		e.put_secret = &put;
		double t0 = now_s();
		ipc_send(&chan, &e, -1);
		if (ipc_recv(&chan, &in, NULL) != IPC_RECV_MESSAGE) {
			fprintf(stderr, "bench: vault channel failed\n");
			exit(1);
		}
		lat[i] = now_s() - t0;
		if (in->body_case != TETHER__ENVELOPE__BODY_REPLY || !in->reply->ok)
			fprintf(stderr, "bench: vault refused a put\n");
		ipc_envelope_free(in);
	}
	struct figures f = summarise(lat, n, now_s() - start);
	close(peer[0]);
	close(sup[0]);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	free(lat);
	return f;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 400;
	struct tetherd t;

	signal(SIGPIPE, SIG_IGN);
	if (n < 50)
		n = 50;
	if (th_start(&t) != 0)
		return 1;
	printf("tether secret benchmarks (%d operations each; %ld cores)\n\n", n,
	       sysconf(_SC_NPROCESSORS_ONLN));

	struct figures base = bench_sqlite_fsync(t.dir, n);
	print_figures("baseline: SQLite insert + fsync (WAL, FULL)", base);
	int clients[] = { 1, 8, 32 };
	for (size_t i = 0; i < sizeof(clients) / sizeof(clients[0]); i++) {
		char what[64];
		int per = n / clients[i] > 10 ? n / clients[i] : 10;
		struct figures f = bench_tether_writes(&t, clients[i], per);
		snprintf(what, sizeof(what), "tether ALTER SECRET via libpq, %d client%s",
			 clients[i], clients[i] > 1 ? "s" : "");
		print_figures(what, f);
		printf("%-44s throughput ratio tether/baseline = %.2f\n", "",
		       f.per_s / base.per_s);
	}
	th_stop(&t);

	printf("\n");
	struct figures echo = bench_seqpacket_echo(n * 10);
	print_figures("baseline: raw SEQPACKET echo", echo);
	struct figures vault = bench_vault_roundtrip(t.dir, n);
	print_figures("vault PutSecret round trip (durable)", vault);
	printf("%-44s p50 ratio vault/echo = %.1f\n", "", vault.p50_ms / echo.p50_ms);
	th_cleanup(&t);
	return 0;
}
