/* The catalog's side of vault-held SSH keys (catalog/vaultc.c): the
 * Generate/Rotate/Delete/Get requests, reconciliation listing SSH TUNNEL
 * connections as key owners (ssh_keys_listed only on a complete listing),
 * and the stash that hands SshPublicKeys answers to the waiting session. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "ipc.h"
#include "store.h"
#include "vaultc.h"

struct fx {
	char dir[64], path[128];
	struct cat_store st;
	struct cat_vault v;
	struct ipc_chan vault;          /* the test plays the vault: end B */
};

static int rm_cb(const char *p, const struct stat *sb, int f, struct FTW *w)
{
	(void)sb;
	(void)f;
	(void)w;
	return remove(p);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct err e;

	err_clear(&e);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tether-vaultc-ssh.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/catalog.db", f->dir);
	assert_int_equal(cat_store_open(&f->st, f->path, &e), 0);
	cat_vault_init(&f->v);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	cat_vault_close(&f->v);
	if (f->vault.fd > 0)
		close(f->vault.fd);
	cat_store_close(&f->st);
	nftw(f->dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void add_item(struct fx *f, long id, const char *kind, const char *type,
		     long version)
{
	char sql[512];

	snprintf(sql, sizeof(sql),
		 "INSERT INTO items(id, oid, kind, conn_type, schema_id, name, owner_id,"
		 " privileges, create_sql, redacted_create_sql, vault_version) VALUES"
		 " (%ld, %ld, '%s', %s%s%s, 'u3', 'n%ld', 'u1', '{}', 'x', 'x', %ld)",
		 id, 30000 + id, kind, type ? "'" : "", type ? type : "NULL",
		 type ? "'" : "", id, version);
	assert_int_equal(sqlite3_exec(f->st.db, sql, NULL, NULL, NULL), SQLITE_OK);
}

static void attach(struct fx *f)
{
	int sv[2];
	struct err e;

	err_clear(&e);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	if (cat_vault_attach(&f->v, sv[0], &f->st, &e) < 0)
		fail_msg("attach: %s", e.message);
	ipc_chan_init(&f->vault, sv[1], IPC_CATALOG_VAULT, IPC_END_B);
}

static Tether__Envelope *next(struct fx *f)
{
	Tether__Envelope *env = NULL;
	struct pollfd p = { .fd = f->vault.fd, .events = POLLIN };

	assert_int_equal(cat_vault_flush(&f->v), 0);
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_int_equal(ipc_recv(&f->vault, &env, NULL), IPC_RECV_MESSAGE);
	return env;
}

static void test_reconcile_lists_ssh_owners(void **state)
{
	struct fx *f = *state;
	Tether__Envelope *env;
	Tether__ReconcileBatch *b;

	add_item(f, 1, "secret", NULL, 1);
	add_item(f, 2, "connection", "ssh-tunnel", 0);
	add_item(f, 3, "connection", "postgres", 0);
	add_item(f, 4, "connection", "ssh-tunnel", 0);
	attach(f);
	env = next(f);
	assert_int_equal(env->body_case, TETHER__ENVELOPE__BODY_RECONCILE_BATCH);
	b = env->reconcile_batch;
	assert_true(b->last);
	assert_true(b->ssh_keys_listed);
	assert_int_equal(b->n_items, 1);
	assert_int_equal(b->items[0]->object_id, 1);
	assert_int_equal(b->n_ssh_key_owners, 2);
	assert_int_equal(b->ssh_key_owners[0], 2);
	assert_int_equal(b->ssh_key_owners[1], 4);
	ipc_envelope_free(env);
}

static void test_reconcile_many_owners_batched(void **state)
{
	struct fx *f = *state;
	size_t owners = 0, secrets = 0, batches = 0;
	int last = 0;

	assert_int_equal(sqlite3_exec(f->st.db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	for (long i = 1; i <= 4500; i++)
		add_item(f, i, i % 3 ? "connection" : "secret", i % 3 ? "ssh-tunnel" : NULL, i);
	assert_int_equal(sqlite3_exec(f->st.db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	attach(f);
	while (!last) {
		Tether__Envelope *env = next(f);
		Tether__ReconcileBatch *b = env->reconcile_batch;

		assert_int_equal(env->body_case, TETHER__ENVELOPE__BODY_RECONCILE_BATCH);
		last = b->last;
		/* The flag comes only with the complete listing. */
		assert_int_equal(b->ssh_keys_listed, last);
		owners += b->n_ssh_key_owners;
		secrets += b->n_items;
		batches++;
		ipc_envelope_free(env);
	}
	assert_int_equal(owners, 3000);
	assert_int_equal(secrets, 1500);
	assert_true(batches >= 3);
}

static void test_requests(void **state)
{
	struct fx *f = *state;
	Tether__Envelope *env;
	uint64_t r1, r2, r3, r4;

	attach(f);
	ipc_envelope_free(next(f));     /* the reconciliation */
	assert_int_equal(cat_vault_generate_ssh_keys(&f->v, 9, "db.s.t", "materialize", &r1), 0);
	assert_int_equal(cat_vault_rotate_ssh_keys(&f->v, 9, "db.s.t", "materialize", &r2), 0);
	assert_int_equal(cat_vault_delete_ssh_keys(&f->v, 9, "db.s.t", "materialize", &r3), 0);
	assert_int_equal(cat_vault_get_ssh_public_keys(&f->v, 9, &r4), 0);
	assert_true(r1 < r2 && r2 < r3 && r3 < r4);

	env = next(f);
	assert_int_equal(env->body_case, TETHER__ENVELOPE__BODY_GENERATE_SSH_KEYS);
	assert_int_equal(env->request_id, r1);
	assert_int_equal(env->generate_ssh_keys->object_id, 9);
	assert_string_equal(env->generate_ssh_keys->object_name, "db.s.t");
	assert_string_equal(env->generate_ssh_keys->role, "materialize");
	ipc_envelope_free(env);
	env = next(f);
	assert_int_equal(env->body_case, TETHER__ENVELOPE__BODY_ROTATE_SSH_KEYS);
	assert_int_equal(env->rotate_ssh_keys->object_id, 9);
	ipc_envelope_free(env);
	env = next(f);
	assert_int_equal(env->body_case, TETHER__ENVELOPE__BODY_DELETE_SSH_KEYS);
	assert_int_equal(env->request_id, r3);
	ipc_envelope_free(env);
	env = next(f);
	assert_int_equal(env->body_case, TETHER__ENVELOPE__BODY_GET_SSH_PUBLIC_KEYS);
	assert_int_equal(env->get_ssh_public_keys->object_id, 9);
	ipc_envelope_free(env);
}

#define L1 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBx7cX4KhAIJXSJ8EKDdMcY5bFJEx8n8eUjW3zBZqpcn tether"
#define L2 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKEcsMxyS9o4c6Y6YT8s0Bq3yMwXo1nqzA2yM1s0h0AS tether"

static void test_stash(void **state)
{
	struct fx *f = *state;
	Tether__SshPublicKeys k = TETHER__SSH_PUBLIC_KEYS__INIT;
	struct cat_vault_ssh_keys out;

	k.object_id = 9;
	k.public_key_1 = L1;
	k.public_key_2 = L2;
	assert_int_equal(cat_vault_ssh_keys_arrived(&f->v, 77, &k), 0);
	assert_int_equal(cat_vault_take_ssh_keys(&f->v, 78, &out), 0);
	assert_int_equal(cat_vault_take_ssh_keys(&f->v, 77, &out), 1);
	assert_int_equal(out.object_id, 9);
	assert_string_equal(out.public_key_1, L1);
	assert_string_equal(out.public_key_2, L2);
	assert_int_equal(cat_vault_take_ssh_keys(&f->v, 77, &out), 0);   /* taken */

	/* Anything but a well-formed ssh-ed25519 line is refused. */
	static const char *bad[] = {
		"", "ssh-rsa AAAAB3NzaC1yc2E tether",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBx7cX4 tether",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBx7cX4KhAIJXSJ8EKDdMcY5bFJEx8n8eUjW3zBZqpc! tether",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBx7cX4KhAIJXSJ8EKDdMcY5bFJEx8n8eUjW3zBZqpcn te\nther",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		k.public_key_2 = (char *)bad[i];
		assert_int_equal(cat_vault_ssh_keys_arrived(&f->v, 100 + i, &k), -1);
		assert_int_equal(cat_vault_take_ssh_keys(&f->v, 100 + i, &out), 0);
	}
	/* A full stash drops the oldest unclaimed answer. */
	k.public_key_2 = L2;
	for (uint64_t r = 1; r <= CAT_VAULT_SSH_STASH + 1; r++)
		assert_int_equal(cat_vault_ssh_keys_arrived(&f->v, 200 + r, &k), 0);
	assert_int_equal(cat_vault_take_ssh_keys(&f->v, 201, &out), 0);
	assert_int_equal(cat_vault_take_ssh_keys(&f->v, 200 + CAT_VAULT_SSH_STASH + 1, &out), 1);
	assert_int_equal(cat_vault_take_ssh_keys(&f->v, 202, &out), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reconcile_lists_ssh_owners, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconcile_many_owners_batched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stash, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
