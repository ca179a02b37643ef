/* Scale benchmark: a fresh tetherd per size N loads N secrets and N
 * connections (POSTGRES, each referencing one of the secrets, WITH
 * (VALIDATE = false)) through libpq pipelines over several connections,
 * then measures what a large catalog costs:
 *   load time and time per object (secrets, connections), daemon RSS
 *   (tetherd + children, from /proc), data dir size, start-up (SIGTERM,
 *   restart, until the first vault-backed statement succeeds), and p50/p99
 *   over 100 runs of SHOW SECRETS and of
 *   SELECT ... FROM mz_connections WHERE name = '...'.
 * The same figures for each N end with the ratios of time per object
 * between consecutive sizes (10k/1k, 100k/10k): ~1 is linear, ~10 would be
 * quadratic growth.
 * Usage: bench_scale [N[,N...]]   (default 1000,10000; e.g. 1000,10000,100000) */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define CLIENTS 4
#define DEPTH 64          /* statements in flight per connection */
#define RUNS 100
#define MAX_SIZES 8

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

/* ---- loading through pipelines ---- */

enum kind { SECRETS, CONNECTIONS };

struct loader {
	const struct tetherd *t;
	enum kind kind;
	long from, to;          /* object numbers [from, to) */
	long failed;
	char first_error[256];
};

static void stmt_text(enum kind k, long i, char *buf, size_t size)
{
	if (k == SECRETS)
		snprintf(buf, size, "CREATE SECRET s_%ld AS 'value-%ld-0123456789abcdef'", i, i);
	else
		snprintf(buf, size,
			 "CREATE CONNECTION c_%ld TO POSTGRES (HOST 'db%ld.example', PORT 5432,"
			 " DATABASE 'd', USER 'u', PASSWORD SECRET s_%ld) WITH (VALIDATE = false)",
			 i, i % 97, i);
}

/* Reads the answers up to the pipeline's sync: one result per statement
 * (each followed by a NULL), then PGRES_PIPELINE_SYNC. */
static void read_results(PGconn *c, struct loader *l)
{
	for (;;) {
		PGresult *r = PQgetResult(c);

		if (!r) {
			if (PQstatus(c) == CONNECTION_BAD) {
				l->failed++;
				snprintf(l->first_error, sizeof(l->first_error), "%s", PQerrorMessage(c));
				return;
			}
			continue;
		}
		ExecStatusType st = PQresultStatus(r);
		if (st == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			return;
		}
		if (st != PGRES_COMMAND_OK && !l->failed++)
			snprintf(l->first_error, sizeof(l->first_error), "%s",
				 st == PGRES_PIPELINE_ABORTED ? "pipeline aborted\n" :
				 PQresultErrorMessage(r));
		PQclear(r);
	}
}

static void *load_thread(void *arg)
{
	struct loader *l = arg;
	PGconn *c = th_connect(l->t);
	char sql[512];

	if (!c || PQenterPipelineMode(c) != 1) {
		l->failed = l->to - l->from;
		snprintf(l->first_error, sizeof(l->first_error), "no pipeline connection");
		return NULL;
	}
	for (long i = l->from; i < l->to;) {
		long inflight = 0;

		for (; i < l->to && inflight < DEPTH; i++, inflight++) {
			stmt_text(l->kind, i, sql, sizeof(sql));
			if (PQsendQueryParams(c, sql, 0, NULL, NULL, NULL, NULL, 0) != 1) {
				snprintf(l->first_error, sizeof(l->first_error), "%s", PQerrorMessage(c));
				l->failed += l->to - i;
				PQfinish(c);
				return NULL;
			}
		}
		PQpipelineSync(c);
		read_results(c, l);
	}
	PQexitPipelineMode(c);
	PQfinish(c);
	return NULL;
}

/* Loads objects [0, n) of a kind; returns seconds, -1 on failure. */
static double load(const struct tetherd *t, enum kind k, long n)
{
	struct loader ls[CLIENTS];
	pthread_t th[CLIENTS];
	double start = now_s();
	long failed = 0;

	for (int i = 0; i < CLIENTS; i++) {
		ls[i] = (struct loader){ t, k, n * i / CLIENTS, n * (i + 1) / CLIENTS, 0, "" };
		pthread_create(&th[i], NULL, load_thread, &ls[i]);
	}
	for (int i = 0; i < CLIENTS; i++) {
		pthread_join(th[i], NULL);
		if (ls[i].failed && !failed)
			fprintf(stderr, "load: %s", ls[i].first_error);
		failed += ls[i].failed;
	}
	if (failed) {
		fprintf(stderr, "load: %ld of %ld statements failed\n", failed, n);
		return -1;
	}
	return now_s() - start;
}

/* ---- process and disk figures ---- */

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* tetherd and every process whose parent it is. */
static long daemon_rss_kb(pid_t tetherd)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	long total = rss_kb(tetherd);

	while (d && (de = readdir(d))) {
		char path[300], line[256];
		int pid = atoi(de->d_name), ppid = -1;
		FILE *f;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/status", pid);
		if (!(f = fopen(path, "r")))
			continue;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "PPid: %d", &ppid) == 1)
				break;
		fclose(f);
		if (ppid == tetherd)
			total += rss_kb(pid);
	}
	if (d)
		closedir(d);
	return total;
}

static long long tree_bytes(const char *path)
{
	struct stat st;
	long long total = 0;
	DIR *d;
	struct dirent *de;

	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISDIR(st.st_mode))
		return S_ISREG(st.st_mode) ? (long long)st.st_size : 0;
	if (!(d = opendir(path)))
		return 0;
	while ((de = readdir(d))) {
		char sub[1024];
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		total += tree_bytes(sub);
	}
	closedir(d);
	return total;
}

/* ---- latencies ---- */

struct lat {
	double p50_ms, p99_ms;
};

static struct lat latency(PGconn *c, const char *what, long n, int by_name)
{
	double v[RUNS];
	char sql[256];
	struct lat l = { -1, -1 };

	for (int i = 0; i < RUNS; i++) {
		if (by_name)
			snprintf(sql, sizeof(sql),
				 "SELECT id, name, type FROM mz_connections WHERE name = 'c_%ld'",
				 (long)((unsigned long)i * 7919u % (unsigned long)n));
		else
			snprintf(sql, sizeof(sql), "%s", what);
		double t0 = now_s();
		PGresult *r = PQexec(c, sql);
		v[i] = now_s() - t0;
		int ok = PQresultStatus(r) == PGRES_TUPLES_OK &&
			 PQntuples(r) == (by_name ? 1 : (int)n);
		if (!ok) {
			fprintf(stderr, "%s: %s (%d rows)\n", sql, PQresultErrorMessage(r),
				PQntuples(r));
			PQclear(r);
			return l;
		}
		PQclear(r);
	}
	qsort(v, RUNS, sizeof(double), cmp_double);
	l.p50_ms = v[RUNS / 2] * 1e3;
	l.p99_ms = v[RUNS * 99 / 100] * 1e3;
	return l;
}

struct figures {
	long n;
	double secrets_s, conns_s, startup_s;
	long rss_kb;
	long long disk;
	struct lat show, filter;
};

static int run_size(long n, struct figures *f)
{
	struct tetherd t;
	PGconn *c;
	char sql[256];
	double t0;
	int ok = -1;

	memset(f, 0, sizeof(*f));
	f->n = n;
	if (th_start(&t) < 0) {
		fprintf(stderr, "tetherd did not start\n");
		return -1;
	}
	if (!(c = th_connect(&t)))
		goto out;
	static const char *const limits[] = { "max_secrets", "max_objects_per_schema",
					      "max_postgres_connections" };
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		snprintf(sql, sizeof(sql), "ALTER SYSTEM SET %s = %ld", limits[i], 2 * n + 100);
		if (!th_exec_ok(c, sql)) {
			fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
			goto out;
		}
	}
	if ((f->secrets_s = load(&t, SECRETS, n)) < 0 ||
	    (f->conns_s = load(&t, CONNECTIONS, n)) < 0)
		goto out;
	f->rss_kb = daemon_rss_kb(t.pid);
	f->show = latency(c, "SHOW SECRETS", n, 0);
	f->filter = latency(c, NULL, n, 1);
	PQfinish(c);
	c = NULL;
	/* Start-up: a clean stop, then until a vault-backed statement works
	 * (the catalog has reconciled with the vault). */
	if (th_stop(&t) != 0)
		fprintf(stderr, "tetherd did not stop cleanly\n");
	f->disk = tree_bytes(t.data_dir);
	t0 = now_s();
	if (th_restart(&t) < 0 || !(c = th_connect(&t)))
		goto out;
	for (;;) {
		PGresult *r = PQexec(c, "CREATE SECRET startup_probe AS 'x'");
		int done = PQresultStatus(r) == PGRES_COMMAND_OK;
		if (!done && now_s() - t0 > 120) {
			fprintf(stderr, "start-up probe failed: %s", PQresultErrorMessage(r));
			PQclear(r);
			goto out;
		}
		PQclear(r);
		if (done)
			break;
		th_sleep_ms(5);
	}
	f->startup_s = now_s() - t0;
	ok = 0;
out:
	if (c)
		PQfinish(c);
	th_stop(&t);
	th_cleanup(&t);
	return ok;
}

static void print_figures(const struct figures *f)
{
	printf("N=%-7ld secrets: %7.2f s (%7.1f us/obj)  connections: %7.2f s (%7.1f us/obj)\n",
	       f->n, f->secrets_s, f->secrets_s * 1e6 / (double)f->n, f->conns_s,
	       f->conns_s * 1e6 / (double)f->n);
	printf("          RSS %.1f MiB  data dir %.1f MiB  start-up %.3f s\n",
	       (double)f->rss_kb / 1024, (double)f->disk / 1048576, f->startup_s);
	printf("          SHOW SECRETS p50 %.2f ms p99 %.2f ms;"
	       " mz_connections WHERE name p50 %.3f ms p99 %.3f ms\n",
	       f->show.p50_ms, f->show.p99_ms, f->filter.p50_ms, f->filter.p99_ms);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *spec = argc > 1 ? argv[1] : "1000,10000";
	struct figures f[MAX_SIZES];
	int count = 0;
	char *copy = strdup(spec), *save = NULL;

	printf("bench_scale: %d libpq pipelines of depth %d; latencies over %d runs\n",
	       CLIENTS, DEPTH, RUNS);
	for (char *tok = strtok_r(copy, ",", &save); tok && count < MAX_SIZES;
	     tok = strtok_r(NULL, ",", &save)) {
		long n = atol(tok);
		if (n <= 0)
			continue;
		if (run_size(n, &f[count]) < 0) {
			fprintf(stderr, "N=%ld failed\n", n);
			return 1;
		}
		print_figures(&f[count]);
		count++;
	}
	free(copy);
	if (count > 1)
		printf("\nratios of time per object (1.0 = linear; 10x more objects -> ~10 would be quadratic):\n");
	for (int i = 1; i < count; i++) {
		const struct figures *a = &f[i - 1], *b = &f[i];
		double sa = a->secrets_s / (double)a->n, sb = b->secrets_s / (double)b->n;
		double ca = a->conns_s / (double)a->n, cb = b->conns_s / (double)b->n;
		printf("  %ld/%ld: secret load %.2f  connection load %.2f  SHOW SECRETS per row %.2f"
		       "  start-up per object %.2f  RSS per object %.2f  filtered SELECT %.2f\n",
		       b->n, a->n, sb / sa, cb / ca,
		       (b->show.p50_ms / (double)b->n) / (a->show.p50_ms / (double)a->n),
		       (b->startup_s / (double)b->n) / (a->startup_s / (double)a->n),
		       ((double)b->rss_kb / (double)b->n) / ((double)a->rss_kb / (double)a->n),
		       b->filter.p50_ms / a->filter.p50_ms);
	}
	return 0;
}
