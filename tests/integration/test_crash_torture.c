/* kill -9 torture: a stream of CREATE / ALTER / DROP SECRET against a real
 * tetherd whose whole process group is SIGKILLed at a random moment, then
 * restarted, many times. After each restart every acknowledged change must
 * be there; periodically (and at the end) the daemon is stopped and the
 * vault's files are opened directly to check that every catalog secret
 * decrypts to the value last acknowledged, that no ciphertext outlived
 * reconciliation, and that the audit chain verifies.
 *
 * TETHER_TORTURE_ITERATIONS sets the number of kill points (default 200);
 * tests/torture.sh runs 10,000. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "err.h"
#include "harness.h"
#include "keymem.h"
#include "log.h"
#include "vault.h"

#define NAMES 16

#define MAX_CANDIDATES 32

/* What the model knows of one secret. An operation in flight at a kill (or
 * failed because the vault went away) may or may not have happened: for
 * presence the next catalog check decides, for an ALTER's value the next
 * vault check does, so until then the value is one of several candidates. */
struct model_secret {
	int present;
	char values[MAX_CANDIDATES][40];   /* possible current values */
	int nvalues;
	int ambiguous;                    /* presence undecided */
	int alt_present;
	char alt_value[40];               /* the in-flight statement's value */
};

static struct model_secret model[NAMES];
static unsigned long op_seq;
static int failures;

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

#define CHECK(cond, ...) do { if (!(cond)) { \
	fprintf(stderr, "torture: check failed: " __VA_ARGS__); \
	fprintf(stderr, "\n"); failures++; } } while (0)

/* Picks and renders the next statement; fills the outcome it would have. */
static void next_op(char *sql, size_t size, int *idx, struct model_secret *after)
{
	int i = rand() % NAMES;
	struct model_secret *m = &model[i];

	*idx = i;
	memset(after, 0, sizeof(*after));
	op_seq++;
	if (!m->present) {
		after->present = 1;
		after->nvalues = 1;
		snprintf(after->values[0], sizeof(after->values[0]), "tv-%lu-%d", op_seq, rand());
		snprintf(sql, size, "CREATE SECRET t_%d AS '%s'", i, after->values[0]);
	} else if (rand() % 5 == 0) {
		snprintf(sql, size, "DROP SECRET t_%d", i);
	} else {
		after->present = 1;
		after->nvalues = 1;
		snprintf(after->values[0], sizeof(after->values[0]), "tv-%lu-%d", op_seq, rand());
		snprintf(sql, size, "ALTER SECRET t_%d AS '%s'", i, after->values[0]);
	}
}

/* The statement that would lead from *m to *after may have happened. */
static void mark_maybe(struct model_secret *m, const struct model_secret *after)
{
	if (after->present != m->present) {
		m->ambiguous = 1;
		m->alt_present = after->present;
		snprintf(m->alt_value, sizeof(m->alt_value), "%s",
			 after->nvalues ? after->values[0] : "");
	} else if (after->nvalues && m->nvalues < MAX_CANDIDATES) {
		snprintf(m->values[m->nvalues++], sizeof(m->values[0]), "%s",
			 after->values[0]);
	}
}

/* Runs statements until `kill_at`; then SIGKILLs the daemon's group. */
static void run_until_kill(struct tetherd *t, long kill_at)
{
	PGconn *c = th_connect(t);
	int in_flight = 0, idx = -1;
	struct model_secret after;
	char sql[256];

	if (!c) {
		CHECK(0, "cannot connect after restart");
		th_kill(t);
		return;
	}
	while (now_ms() < kill_at) {
		if (!in_flight) {
			next_op(sql, sizeof(sql), &idx, &after);
			if (!PQsendQuery(c, sql))
				break;
			in_flight = 1;
		}
		struct pollfd p = { .fd = PQsocket(c), .events = POLLIN };
		long wait = kill_at - now_ms();
		if (poll(&p, 1, wait > 0 ? (int)wait : 0) <= 0)
			continue;
		PQconsumeInput(c);
		if (PQisBusy(c))
			continue;
		PGresult *r;
		int ok = 0;
		const char *state = "";
		char st[8] = "";
		while ((r = PQgetResult(c))) {
			ok = PQresultStatus(r) == PGRES_COMMAND_OK;
			state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
			if (state)
				snprintf(st, sizeof(st), "%s", state);
			PQclear(r);
		}
		in_flight = 0;
		if (ok)
			model[idx] = after;
		else if (!strcmp(st, "XX000"))
			mark_maybe(&model[idx], &after);  /* the vault went away */
		else
			CHECK(0, "%s failed with %s", sql, st);
	}
	if (in_flight)
		mark_maybe(&model[idx], &after);
	th_kill(t);
	PQfinish(c);
}

static int name_index(const char *name)
{
	int i;
	if (sscanf(name, "t_%d", &i) == 1 && i >= 0 && i < NAMES)
		return i;
	return -1;
}

/* Compares the catalog's names with the model, resolving ambiguity by what
 * is present. Fills ids[] (0 when absent). */
static void check_catalog(PGconn *c, uint64_t ids[NAMES])
{
	int seen[NAMES] = { 0 };
	PGresult *r = PQexec(c, "SELECT name, id FROM mz_secrets WHERE name LIKE 't\\_%'");

	memset(ids, 0, sizeof(uint64_t) * NAMES);
	CHECK(PQresultStatus(r) == PGRES_TUPLES_OK, "select mz_secrets: %s",
	      PQresultErrorMessage(r));
	for (int row = 0; row < PQntuples(r); row++) {
		int i = name_index(PQgetvalue(r, row, 0));
		if (i < 0)
			continue;
		seen[i] = 1;
		ids[i] = strtoull(PQgetvalue(r, row, 1) + 1, NULL, 10);
	}
	PQclear(r);
	for (int i = 0; i < NAMES; i++) {
		struct model_secret *m = &model[i];
		if (m->ambiguous && seen[i] != m->present && seen[i] == m->alt_present) {
			/* The in-flight statement took effect. */
			m->present = m->alt_present;
			m->nvalues = m->present;
			memcpy(m->values[0], m->alt_value, sizeof(m->values[0]));
		}
		m->ambiguous = 0;
		CHECK(seen[i] == m->present, "t_%d present=%d, expected %d", i, seen[i],
		      m->present);
	}
}

/* Opens the vault files directly (daemon stopped) and checks each catalog
 * secret's value, that nothing else is stored, and the audit chain. */
static void check_vault(struct tetherd *t, uint64_t ids[NAMES], uint64_t probe_id)
{
	struct vault v;
	struct err e;
	char path[600];

	if (vault_open(&v, t->data_dir, &e) != 0) {
		CHECK(0, "vault_open: %s", e.message);
		return;
	}
	size_t catalog_count = 0;
	for (int i = 0; i < NAMES; i++) {
		if (!ids[i])
			continue;
		catalog_count++;
		size_t at = vault_store_first_after(&v.store, ids[i] - 1);
		if (at >= v.store.count || v.store.entries[at].object_id != ids[i]) {
			CHECK(0, "t_%d (u%llu) has no ciphertext", i, (unsigned long long)ids[i]);
			continue;
		}
		const struct vault_store_entry *en = &v.store.entries[at];
		CHECK(at + 1 >= v.store.count || v.store.entries[at + 1].object_id != ids[i],
		      "t_%d has more than one stored version after reconcile", i);
		unsigned char *plain;
		size_t len;
		if (vault_secret_decrypt(&v, en->object_id, en->version, &plain, &len, &e) != 0) {
			CHECK(0, "t_%d does not decrypt: %s", i, e.message);
			continue;
		}
		struct model_secret *m = &model[i];
		int match = -1;
		for (int k = 0; k < m->nvalues && match < 0; k++)
			if (len == strlen(m->values[k]) && !memcmp(plain, m->values[k], len))
				match = k;
		CHECK(match >= 0, "t_%d decrypts to an unexpected value", i);
		if (match >= 0) {
			if (match)
				memcpy(m->values[0], m->values[match], sizeof(m->values[0]));
			m->nvalues = 1;
		}
		vault_secbuf_free(plain);
	}
	/* Everything stored belongs to a catalog secret: the t_ ones and the
	 * probe (reconciliation shredded the rest). */
	size_t objects = 0;
	for (size_t k = 0; k < v.store.count; k++)
		if (k == 0 || v.store.entries[k].object_id != v.store.entries[k - 1].object_id)
			objects++;
	CHECK(objects == catalog_count + (probe_id ? 1 : 0),
	      "vault holds %zu objects, catalog %zu", objects, catalog_count + 1);
	CHECK(vault_verify_all(&v, &e) == 0, "vault_verify_all: %s", e.message);
	vault_close(&v);
	snprintf(path, sizeof(path), "%s/vault/audit.log", t->data_dir);
	CHECK(audit_verify_file(path, &e) >= 0, "audit chain: %s", e.message);
}

/* A vault round trip that queues behind the start-up reconciliation, so
 * that once it returns, reconciliation is done. */
static uint64_t sync_with_vault(PGconn *c)
{
	const char *st = "";
	for (int i = 0; i < 100; i++) {
		st = th_exec_sqlstate(c, "ALTER SECRET torture_probe AS 'probe'", NULL);
		if (!st[0])
			break;
		th_sleep_ms(50);
	}
	CHECK(!st[0], "probe ALTER failed: %s", st);
	char *id = th_query_value(c, "SELECT id FROM mz_secrets WHERE name = 'torture_probe'");
	uint64_t n = id ? strtoull(id + 1, NULL, 10) : 0;
	free(id);
	return n;
}

int main(void)
{
	const char *env = getenv("TETHER_TORTURE_ITERATIONS");
	int iterations = env ? atoi(env) : 200;
	int check_every = iterations > 500 ? 100 : 20;
	struct tetherd t;
	uint64_t ids[NAMES];
	long started = now_ms();

	signal(SIGPIPE, SIG_IGN);
	log_init("torture");
	log_set_level(LOG_WARN);
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	if (th_start(&t) != 0)
		return 1;
	PGconn *c = th_connect(&t);
	if (!c || !th_exec_ok(c, "CREATE SECRET torture_probe AS 'probe'"))
		return 1;
	PQfinish(c);

	int survived = 0;
	for (int it = 1; it <= iterations; it++) {
		run_until_kill(&t, now_ms() + 5 + rand() % 120);
		if (th_restart(&t) != 0) {
			CHECK(0, "restart %d failed", it);
			break;
		}
		c = th_connect(&t);
		if (!c) {
			CHECK(0, "connect after restart %d failed", it);
			break;
		}
		uint64_t probe = sync_with_vault(c);
		check_catalog(c, ids);
		PQfinish(c);
		if (it % check_every == 0 || it == iterations) {
			if (th_stop(&t) != 0)
				CHECK(0, "clean stop failed at iteration %d", it);
			check_vault(&t, ids, probe);
			if (it != iterations && th_restart(&t) != 0) {
				CHECK(0, "restart after check failed");
				break;
			}
		}
		if (failures)
			break;
		survived++;
	}
	th_kill(&t);
	printf("torture: %d of %d kill points survived, %lu statements, %.1f s\n",
	       survived, iterations, op_seq, (now_ms() - started) / 1000.0);
	if (failures)
		printf("torture: data dir kept at %s\n", t.dir);
	else
		th_cleanup(&t);
	return failures ? 1 : 0;
}
