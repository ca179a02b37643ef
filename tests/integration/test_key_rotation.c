/* Key rotation through pgwire (issue 8): ALTER SYSTEM ROTATE DATA KEY with
 * 200 secrets while another client keeps writing (no errors; progress view
 * reaches done; every ciphertext decrypts under the single remaining
 * term), ALTER SYSTEM ROTATE MASTER KEY then a restart of tetherd, the
 * superuser check, and the audit log verifying under audit.pub. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include <libpq-fe.h>

#include "audit.h"
#include "err.h"
#include "harness.h"
#include "keymem.h"
#include "vault.h"

#define NSECRETS 200

static void exec_ok(PGconn *c, const char *sql)
{
	const char *msg = NULL;
	const char *st = th_exec_sqlstate(c, sql, &msg);

	if (*st)
		fail_msg("%s: %s %s", sql, st, msg ? msg : "");
}

static void test_rotation(void **state)
{
	struct tetherd t;
	PGconn *a, *b;
	char sql[256];
	int writes = 0;

	(void)state;
	assert_int_equal(th_start(&t), 0);
	a = th_connect(&t);
	b = th_connect(&t);
	assert_non_null(a);
	assert_non_null(b);
	exec_ok(a, "ALTER SYSTEM SET max_secrets = 1000");
	exec_ok(a, "ALTER SYSTEM SET max_objects_per_schema = 2000");
	for (int i = 0; i < NSECRETS; i++) {
		snprintf(sql, sizeof(sql), "CREATE SECRET s%d AS 'value-%d'", i, i);
		exec_ok(a, sql);
	}
	/* Not a superuser: refused. */
	exec_ok(a, "CREATE ROLE plain LOGIN");
	{
		PGconn *p = th_connect_as(&t, "plain", "materialize");
		assert_non_null(p);
		assert_string_equal(th_exec_sqlstate(p, "ALTER SYSTEM ROTATE DATA KEY", NULL), "42501");
		assert_string_equal(th_exec_sqlstate(p, "ALTER SYSTEM ROTATE MASTER KEY", NULL), "42501");
		PQfinish(p);
	}
	/* The rotation is requested on `b` while `a` keeps writing. */
	assert_int_equal(PQsendQuery(b, "ALTER SYSTEM ROTATE DATA KEY"), 1);
	for (int round = 0; round < 400; round++) {
		char *state_v;

		snprintf(sql, sizeof(sql), "ALTER SECRET s%d AS 'value-%d'", round % NSECRETS,
			 round % NSECRETS);
		exec_ok(a, sql);
		writes++;
		if (round == 5) {
			PGresult *r;
			while ((r = PQgetResult(b))) {
				if (PQresultStatus(r) != PGRES_COMMAND_OK)
					fail_msg("rotate: %s", PQresultErrorMessage(r));
				PQclear(r);
			}
		}
		if (round < 5)
			continue;
		state_v = th_query_value(a, "SELECT state FROM tether_internal.tether_key_rotation"
					    " WHERE kind = 'data' ORDER BY started_at DESC LIMIT 1");
		if (state_v && strcmp(state_v, "done") == 0 && round > 50) {
			free(state_v);
			break;
		}
		free(state_v);
	}
	{
		char *v = th_query_value(a, "SELECT records_done || '/' || records_total || ' ' || state"
					    " FROM tether_internal.tether_key_rotation WHERE kind = 'data'");
		assert_non_null(v);
		fprintf(stderr, "data key rotation: %s after %d concurrent writes\n", v, writes);
		assert_non_null(strstr(v, "done"));
		free(v);
	}
	/* A second rotation right after works too. */
	exec_ok(a, "ALTER SYSTEM ROTATE DATA KEY");
	exec_ok(a, "ALTER SYSTEM ROTATE MASTER KEY");
	{
		char *v = th_query_value(a, "SELECT state FROM tether_internal.tether_key_rotation"
					    " WHERE kind = 'master'");
		assert_non_null(v);
		assert_string_equal(v, "done");
		free(v);
	}
	PQfinish(a);
	PQfinish(b);
	/* Restart: the keyring opens under the new master key. */
	assert_int_equal(th_stop(&t), 0);
	assert_int_equal(th_restart(&t), 0);
	a = th_connect(&t);
	assert_non_null(a);
	exec_ok(a, "ALTER SECRET s1 AS 'value-1'");
	exec_ok(a, "CREATE SECRET after_restart AS 'x'");
	for (int i = 0; i < 200; i++) {
		char *v = th_query_value(a, "SELECT state FROM tether_internal.tether_key_rotation"
					    " WHERE kind = 'data' ORDER BY started_at DESC LIMIT 1");
		int done = v && strcmp(v, "done") == 0;
		free(v);
		if (done)
			break;
		th_sleep_ms(20);
	}
	PQfinish(a);
	assert_int_equal(th_stop(&t), 0);
	/* Offline: one term, every record decrypts, the log verifies. */
	{
		struct vault v;
		struct err e = { 0 };
		char path[512], pub[512];
		const char *paths[1] = { path };
		unsigned char pk[32];
		struct audit_verify_report r;

		if (vault_open(&v, t.data_dir, &e) < 0)
			fail_msg("vault_open: %s", e.message);
		assert_int_equal(v.kr.count, 1);
		assert_int_equal(vault_rotate_count_old(&v), 0);
		assert_int_equal(v.store.count, NSECRETS + 1);
		if (vault_verify_all(&v, &e) < 0)
			fail_msg("verify_all: %s", e.message);
		vault_close(&v);
		snprintf(path, sizeof(path), "%s/vault/audit.log", t.data_dir);
		snprintf(pub, sizeof(pub), "%s/vault/audit.pub", t.data_dir);
		assert_int_equal(audit_pubkey_parse(pub, pk, &e), 0);
		if (audit_verify_files(paths, 1, pk, &r, &e) < 0)
			fail_msg("audit verify: %s", e.message);
		assert_true(r.checkpoints > 0);
		assert_int_equal(r.unsealed, 0);
		assert_true(th_tree_contains(path, "event=child_started", 19));
		assert_true(th_tree_contains(path, "event=master_key_rotated", 24));
		assert_true(th_tree_contains(path, "event=data_key_rotation_finished", 32));
	}
	th_cleanup(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rotation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
