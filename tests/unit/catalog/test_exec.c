/* The executor against a fake vault on a real SEQPACKET socketpair: values
 * reach the vault and never the catalog file; rows commit only after the
 * vault's reply; a lost vault fails parked statements cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "exec.h"

struct fx {
	char dir[64], path[128];
	struct cat_store st;
	struct cat_select sel;
	struct cat_vault vault;
	struct cat_ctx ctx;
	struct cat_session s, s2;
	struct pgw_buf out, out2;
	struct ipc_chan peer;          /* the fake vault's end */
};

static Tether__Envelope *vault_read(struct fx *f, uint8_t **value, size_t *len);

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	Tether__ReconcileResult rr = TETHER__RECONCILE_RESULT__INIT;
	Tether__Envelope *env;
	struct cat_role role;
	struct err e;
	int sv[2];

	snprintf(f->dir, sizeof(f->dir), "/tmp/tether-cat-exec-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/catalog.db", f->dir);
	assert_int_equal(cat_store_open(&f->st, f->path, &e), 0);
	assert_int_equal(cat_select_open(&f->sel, f->path, &e), 0);
	cat_vault_init(&f->vault);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	ipc_chan_init(&f->peer, sv[1], IPC_CATALOG_VAULT, IPC_END_B);
	assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(cat_vault_attach(&f->vault, sv[0], &f->st, &e), 0);
	assert_int_equal(f->vault.state, CAT_VAULT_RECONCILING);
	env = vault_read(f, NULL, NULL);
	assert_int_equal(env->body_case, TETHER__ENVELOPE__BODY_RECONCILE_BATCH);
	assert_true(env->reconcile_batch->last);
	ipc_envelope_free(env);
	rr.max_object_id = 10;
	rr.max_version = 20;
	cat_vault_reconciled(&f->vault, &rr);
	f->ctx = (struct cat_ctx){ .store = &f->st, .sel = &f->sel, .vault = &f->vault };
	assert_int_equal(cat_ctx_sync_counters(&f->ctx, &e), 0);
	assert_int_equal(f->ctx.next_id, 11);
	assert_int_equal(cat_store_find_role(&f->st, "materialize", &role, &e), 1);
	assert_int_equal(cat_session_init(&f->s, &role, "materialize", "", 1000), 0);
	assert_int_equal(cat_session_init(&f->s2, &role, "materialize", "", 1001), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[160];

	cat_session_free(&f->s);
	cat_session_free(&f->s2);
	pgw_buf_free(&f->out);
	pgw_buf_free(&f->out2);
	cat_vault_close(&f->vault);
	if (f->peer.fd >= 0)
		close(f->peer.fd);
	cat_select_close(&f->sel);
	cat_store_close(&f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	(void)!system(cmd);
	free(f);
	return 0;
}

static enum cat_run query(struct fx *f, struct cat_session *s, struct pgw_buf *out,
			  const char *sql)
{
	return cat_exec_message(&f->ctx, s, out, 'Q', (const uint8_t *)sql, strlen(sql) + 1);
}

/* 1 if `out` holds a message of `type` containing `needle`. */
static int has_msg(const struct pgw_buf *out, char type, const char *needle)
{
	size_t off = 0;

	while (off + 5 <= out->len) {
		uint32_t n = (uint32_t)out->data[off + 1] << 24 | out->data[off + 2] << 16 |
			     out->data[off + 3] << 8 | out->data[off + 4];
		if (out->data[off] == type &&
		    (!needle || memmem(out->data + off + 5, n - 4, needle, strlen(needle))))
			return 1;
		off += 1 + n;
	}
	return 0;
}

/* Reads one whole request from the fake vault's end; for PutSecret the
 * chunks are joined into *value (malloc'd). */
static Tether__Envelope *vault_read(struct fx *f, uint8_t **value, size_t *len)
{
	Tether__Envelope *env;

	if (value) {
		*value = NULL;
		*len = 0;
	}
	for (;;) {
		enum ipc_recv_status st;

		/* The catalog queues what the socket does not take at once. */
		while (assert_int_equal(cat_vault_flush(&f->vault), 0),
		       (st = ipc_recv(&f->peer, &env, NULL)) == IPC_RECV_AGAIN)
			;
		assert_int_equal(st, IPC_RECV_MESSAGE);
		if (env->body_case != TETHER__ENVELOPE__BODY_PUT_SECRET || !value)
			return env;
		Tether__PutSecret *p = env->put_secret;
		assert_int_equal(p->offset, *len);
		*value = realloc(*value, *len + p->chunk.len + 1);
		memcpy(*value + *len, p->chunk.data, p->chunk.len);
		*len += p->chunk.len;
		if (p->last)
			return env;
		ipc_envelope_free(env);
	}
}

static enum cat_run vault_answer(struct fx *f, struct cat_session *s,
				 struct pgw_buf *out, uint64_t rid, int ok)
{
	Tether__Reply r = TETHER__REPLY__INIT;

	r.ok = ok;
	if (!ok) {
		r.sqlstate = "XX000";
		r.message = "internal error: vault: disk full";
	}
	return cat_exec_vault_reply(&f->ctx, s, out, rid, &r);
}

static int file_contains(const char *path, const char *needle)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;
	int found;

	if (!fp)
		return 0;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	n = (long)fread(buf, 1, (size_t)n, fp);
	fclose(fp);
	found = memmem(buf, (size_t)n, needle, strlen(needle)) != NULL;
	free(buf);
	return found;
}

static void test_create_secret_commits_after_vault_reply(void **state)
{
	struct fx *f = *state;
	struct cat_item it;
	Tether__Envelope *env;
	uint8_t *value;
	size_t len;
	uint64_t rid;
	struct err e;
	char wal[160];

	assert_int_equal(query(f, &f->s, &f->out, "CREATE SECRET pw AS 'topsecret-41'"), CAT_RUN_PARKED);
	env = vault_read(f, &value, &len);
	assert_int_equal(env->body_case, TETHER__ENVELOPE__BODY_PUT_SECRET);
	assert_int_equal(env->put_secret->object_id, 11);
	assert_int_equal(env->put_secret->version, 20 + 1);
	assert_false(env->put_secret->replace);
	assert_memory_equal(value, "topsecret-41", len);
	rid = env->request_id;
	ipc_envelope_free(env);
	free(value);
	/* Not committed before the vault has it on disk. */
	assert_int_equal(cat_store_find_item(&f->st, "u3", "pw", &it, &e), 0);
	assert_int_equal(vault_answer(f, &f->s, &f->out, rid, 1), CAT_RUN_DONE);
	assert_true(has_msg(&f->out, 'C', "CREATE SECRET"));
	assert_true(has_msg(&f->out, 'Z', NULL));
	assert_int_equal(cat_store_find_item(&f->st, "u3", "pw", &it, &e), 1);
	assert_int_equal(it.id, 11);
	assert_int_equal(it.vault_version, 21);
	env = vault_read(f, NULL, NULL);
	assert_int_equal(env->body_case, TETHER__ENVELOPE__BODY_COMMIT_SECRET);
	assert_int_equal(env->commit_secret->version, 21);
	ipc_envelope_free(env);
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_false(file_contains(f->path, "topsecret-41"));
	assert_false(file_contains(wal, "topsecret-41"));
}

static void test_vault_error_applies_nothing(void **state)
{
	struct fx *f = *state;
	Tether__Envelope *env;
	struct cat_item it;
	uint8_t *value;
	size_t len;
	struct err e;

	assert_int_equal(query(f, &f->s, &f->out, "CREATE SECRET pw AS 'x'"), CAT_RUN_PARKED);
	env = vault_read(f, &value, &len);
	free(value);
	assert_int_equal(vault_answer(f, &f->s, &f->out, env->request_id, 0), CAT_RUN_DONE);
	ipc_envelope_free(env);
	assert_true(has_msg(&f->out, 'E', "disk full"));
	assert_int_equal(cat_store_find_item(&f->st, "u3", "pw", &it, &e), 0);
}

static void test_vault_lost_while_parked(void **state)
{
	struct fx *f = *state;
	struct cat_item it;
	struct err e;

	assert_int_equal(query(f, &f->s, &f->out, "CREATE SECRET pw AS 'x'"), CAT_RUN_PARKED);
	cat_vault_close(&f->vault);
	assert_int_equal(cat_exec_vault_lost(&f->ctx, &f->s, &f->out), CAT_RUN_DONE);
	assert_true(has_msg(&f->out, 'E', "connection lost; the statement was not applied"));
	assert_int_equal(cat_store_find_item(&f->st, "u3", "pw", &it, &e), 0);
	pgw_buf_consume(&f->out, f->out.len);
	/* The session goes on; without a vault, new secrets wait for it. */
	assert_int_equal(query(f, &f->s, &f->out, "CREATE SECRET pw AS 'x'"), CAT_RUN_DONE);
	assert_true(has_msg(&f->out, 'E', "unavailable (restarting)"));
	assert_true(has_msg(&f->out, 'E', "retry in a moment"));
	assert_int_equal(query(f, &f->s, &f->out, "SELECT 1"), CAT_RUN_DONE);
	assert_true(has_msg(&f->out, 'C', "SELECT 1"));
}

static void test_ddl_inside_transaction_block_fails(void **state)
{
	struct fx *f = *state;

	assert_int_equal(query(f, &f->s, &f->out, "BEGIN; CREATE SECRET pw AS 'x'"), CAT_RUN_DONE);
	assert_true(has_msg(&f->out, 'E', "CREATE SECRET cannot be run inside a transaction block"));
	assert_int_equal(f->s.txn, 'E');
	assert_int_equal(f->out.data[f->out.len - 1], 'E');
	assert_int_equal(query(f, &f->s, &f->out, "ROLLBACK"), CAT_RUN_DONE);
	assert_int_equal(f->out.data[f->out.len - 1], 'I');
}

static uint64_t create(struct fx *f, const char *sql)
{
	Tether__Envelope *env;
	uint8_t *value;
	size_t len;
	uint64_t id;

	assert_int_equal(query(f, &f->s, &f->out, sql), CAT_RUN_PARKED);
	env = vault_read(f, &value, &len);
	free(value);
	id = env->put_secret->object_id;
	assert_int_equal(vault_answer(f, &f->s, &f->out, env->request_id, 1), CAT_RUN_DONE);
	ipc_envelope_free(env);
	ipc_envelope_free(vault_read(f, NULL, NULL));    /* CommitSecret */
	return id;
}

static void test_drop_commits_then_waits_for_vault(void **state)
{
	struct fx *f = *state;
	Tether__Envelope *env;
	struct cat_item it;
	struct err e;
	uint64_t id = create(f, "CREATE SECRET pw AS 'x'");

	pgw_buf_consume(&f->out, f->out.len);
	assert_int_equal(query(f, &f->s, &f->out, "DROP SECRET pw"), CAT_RUN_PARKED);
	assert_int_equal(cat_store_find_item(&f->st, "u3", "pw", &it, &e), 0);
	env = vault_read(f, NULL, NULL);
	assert_int_equal(env->body_case, TETHER__ENVELOPE__BODY_DELETE_SECRET);
	assert_int_equal(env->delete_secret->object_id, id);
	assert_false(has_msg(&f->out, 'C', NULL));
	assert_int_equal(vault_answer(f, &f->s, &f->out, env->request_id, 1), CAT_RUN_DONE);
	ipc_envelope_free(env);
	assert_true(has_msg(&f->out, 'C', "DROP SECRET"));
}

static void test_large_value_travels_in_chunks(void **state)
{
	struct fx *f = *state;
	size_t n = 300 * 1024;
	char *sql = malloc(n + 64);
	Tether__Envelope *env;
	uint8_t *value;
	size_t len;

	strcpy(sql, "CREATE SECRET big AS '");
	memset(sql + strlen(sql), 'v', n);
	strcpy(sql + 22 + n, "'");
	assert_int_equal(query(f, &f->s, &f->out, sql), CAT_RUN_PARKED);
	env = vault_read(f, &value, &len);
	assert_int_equal(len, n);
	assert_int_equal(env->put_secret->total_size, n);
	assert_int_equal(value[n - 1], 'v');
	assert_int_equal(vault_answer(f, &f->s, &f->out, env->request_id, 1), CAT_RUN_DONE);
	ipc_envelope_free(env);
	free(value);
	free(sql);
	assert_true(has_msg(&f->out, 'C', "CREATE SECRET"));
}

static void test_name_taken_while_vault_worked(void **state)
{
	struct fx *f = *state;
	Tether__Envelope *a, *b, *del;
	uint8_t *value;
	size_t len;

	assert_int_equal(query(f, &f->s, &f->out, "CREATE SECRET same AS 'a'"), CAT_RUN_PARKED);
	assert_int_equal(query(f, &f->s2, &f->out2, "CREATE SECRET same AS 'b'"), CAT_RUN_PARKED);
	a = vault_read(f, &value, &len);
	free(value);
	b = vault_read(f, &value, &len);
	free(value);
	assert_int_not_equal(a->put_secret->object_id, b->put_secret->object_id);
	assert_true(cat_session_waits_on(&f->s, a->request_id));
	assert_false(cat_session_waits_on(&f->s, b->request_id));
	assert_int_equal(vault_answer(f, &f->s, &f->out, a->request_id, 1), CAT_RUN_DONE);
	ipc_envelope_free(vault_read(f, NULL, NULL));    /* CommitSecret */
	assert_int_equal(vault_answer(f, &f->s2, &f->out2, b->request_id, 1), CAT_RUN_DONE);
	assert_true(has_msg(&f->out, 'C', "CREATE SECRET"));
	assert_true(has_msg(&f->out2, 'E', "secret \"materialize.public.same\" already exists"));
	/* The loser's ciphertext is shredded at once. */
	del = vault_read(f, NULL, NULL);
	assert_int_equal(del->body_case, TETHER__ENVELOPE__BODY_DELETE_SECRET);
	assert_int_equal(del->delete_secret->object_id, b->put_secret->object_id);
	ipc_envelope_free(a);
	ipc_envelope_free(b);
	ipc_envelope_free(del);
}

static void test_extended_protocol_select_with_parameter(void **state)
{
	struct fx *f = *state;
	static const uint8_t parse[] = "\0SELECT name FROM mz_secrets WHERE name = $1\0\0\0";
	static const uint8_t bind[] = { 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 'p', 'w', 0, 0 };
	static const uint8_t describe[] = { 'P', 0 };
	static const uint8_t execute[] = { 0, 0, 0, 0, 0 };

	create(f, "CREATE SECRET pw AS 'x'");
	pgw_buf_consume(&f->out, f->out.len);
	assert_int_equal(cat_exec_message(&f->ctx, &f->s, &f->out, 'P', parse, sizeof(parse) - 1), CAT_RUN_DONE);
	assert_int_equal(cat_exec_message(&f->ctx, &f->s, &f->out, 'B', bind, sizeof(bind)), CAT_RUN_DONE);
	assert_int_equal(cat_exec_message(&f->ctx, &f->s, &f->out, 'D', describe, sizeof(describe)), CAT_RUN_DONE);
	assert_int_equal(cat_exec_message(&f->ctx, &f->s, &f->out, 'E', execute, sizeof(execute)), CAT_RUN_DONE);
	assert_int_equal(cat_exec_message(&f->ctx, &f->s, &f->out, 'S', NULL, 0), CAT_RUN_DONE);
	assert_true(has_msg(&f->out, '1', NULL));
	assert_true(has_msg(&f->out, '2', NULL));
	assert_true(has_msg(&f->out, 'T', "name"));
	assert_true(has_msg(&f->out, 'D', "pw"));
	assert_true(has_msg(&f->out, 'C', "SELECT 1"));
	assert_int_equal(f->out.data[f->out.len - 6], 'Z');
}

static void test_extended_error_discards_until_sync(void **state)
{
	struct fx *f = *state;
	static const uint8_t bad[] = "\0SELEC 1\0\0\0";
	static const uint8_t bind[] = { 0, 0, 0, 0, 0, 0, 0, 0 };

	assert_int_equal(cat_exec_message(&f->ctx, &f->s, &f->out, 'P', bad, sizeof(bad) - 1), CAT_RUN_DONE);
	assert_true(has_msg(&f->out, 'E', "42601"));
	pgw_buf_consume(&f->out, f->out.len);
	assert_int_equal(cat_exec_message(&f->ctx, &f->s, &f->out, 'B', bind, sizeof(bind)), CAT_RUN_DONE);
	assert_int_equal(f->out.len, 0);   /* discarded */
	assert_int_equal(cat_exec_message(&f->ctx, &f->s, &f->out, 'S', NULL, 0), CAT_RUN_DONE);
	assert_true(has_msg(&f->out, 'Z', NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_secret_commits_after_vault_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vault_error_applies_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vault_lost_while_parked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ddl_inside_transaction_block_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_commits_then_waits_for_vault, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_value_travels_in_chunks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_taken_while_vault_worked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extended_protocol_select_with_parameter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extended_error_discards_until_sync, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
