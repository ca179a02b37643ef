/* Issue 8 vault tests: signed audit checkpoints and their verifier
 * (tampering, rotation by size, wrong key), fail-closed audit writes,
 * data-key rotation (everything re-encrypted, old terms destroyed,
 * kill -9 at random points) and master-key rotation kill points. */

#include "vtest.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include <sodium.h>

#include "audit.h"
#include "err.h"
#include "keyring.h"
#include "ssh.h"
#include "vault.h"

static void open_vault(struct vtest *t, struct vault *v)
{
	struct err e = { 0 };

	if (vault_open(v, t->dir, &e) < 0)
		fail_msg("vault_open: %s", e.message);
}

static void put(struct vault *v, uint64_t id, uint64_t ver, const char *val)
{
	struct err e = { 0 };
	struct vault_actor who = { "materialize", "s" };

	if (vault_secret_put(v, id, ver, (const unsigned char *)val, strlen(val), 0, &who, &e) < 0)
		fail_msg("put: %s", e.message);
}

static void sync_ok(struct vault *v)
{
	struct err e = { 0 };

	if (vault_sync(v, &e) < 0)
		fail_msg("sync: %s", e.message);
}

static void expect_secret(struct vault *v, uint64_t id, uint64_t ver, const char *val)
{
	struct err e = { 0 };
	unsigned char *pt;
	size_t len;

	if (vault_secret_decrypt(v, id, ver, &pt, &len, &e) < 0)
		fail_msg("decrypt u%llu: %s", (unsigned long long)id, e.message);
	assert_int_equal(len, strlen(val));
	assert_memory_equal(pt, val, len);
	vault_secbuf_free(pt);
}

/* A log with a few records, closed cleanly (ends with a checkpoint). */
static void make_log(struct vtest *t, int n, unsigned char pk[32])
{
	struct vault v;

	open_vault(t, &v);
	for (int i = 1; i <= n; i++) {
		char val[32];
		snprintf(val, sizeof(val), "v%d", i);
		put(&v, (uint64_t)i, (uint64_t)i, val);
		sync_ok(&v);
	}
	memcpy(pk, v.audit.pk, 32);
	vault_close(&v);
}

static int verify(struct vtest *t, const unsigned char *pk, struct audit_verify_report *r)
{
	char path[512];
	const char *paths[1] = { path };
	struct err e = { 0 };

	vtest_path(path, sizeof(path), t, "audit.log");
	return audit_verify_files(paths, 1, pk, r, &e);
}

/* Lines of the log as offsets: line i starts at off[i]. */
static size_t line_offsets(const unsigned char *buf, size_t len, size_t *off, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n < max; i++)
		if (i == 0 || buf[i - 1] == '\n')
			off[n++] = i;
	return n;
}

static void test_clean_log_verifies(void **state)
{
	struct vtest *t = *state;
	unsigned char pk[32], pk2[32];
	struct audit_verify_report r;
	char path[512];
	struct err e = { 0 };

	make_log(t, 5, pk);
	assert_int_equal(verify(t, pk, &r), 0);
	assert_true(r.checkpoints >= 1);
	assert_int_equal(r.unsealed, 0);      /* shutdown checkpoint */
	assert_true(r.signatures_checked);
	assert_true(r.anchored);
	/* audit.pub is what an auditor gets. */
	vtest_path(path, sizeof(path), t, "audit.pub");
	assert_true(vtest_file_contains_str(path, "ssh-ed25519 "));
	assert_int_equal(audit_pubkey_parse(path, pk2, &e), 0);
	assert_memory_equal(pk, pk2, 32);
}

static void tamper_expect(struct vtest *t, const unsigned char *pk,
			  void (*edit)(unsigned char *buf, size_t *len, const size_t *off, size_t n),
			  uint64_t want_record, const char *want_word)
{
	char path[512];
	size_t len, off[256], n;
	unsigned char *buf;
	struct audit_verify_report r;

	vtest_path(path, sizeof(path), t, "audit.log");
	buf = vtest_read(path, &len);
	n = line_offsets(buf, len, off, 256);
	assert_true(n >= 6);
	edit(buf, &len, off, n);
	vtest_write(path, buf, len);
	free(buf);
	assert_int_equal(verify(t, pk, &r), -1);
	assert_false(r.ok);
	if (want_record)
		assert_int_equal(r.bad_record, want_record);
	if (want_word && !strstr(r.problem, want_word))
		fail_msg("problem \"%s\" lacks \"%s\"", r.problem, want_word);
}

static void edit_flip(unsigned char *buf, size_t *len, const size_t *off, size_t n)
{
	(void)len;
	(void)n;
	buf[off[2] + 10] ^= 0x01;       /* inside record 3's timestamp */
}

static void edit_delete(unsigned char *buf, size_t *len, const size_t *off, size_t n)
{
	(void)n;
	memmove(buf + off[2], buf + off[3], *len - off[3]);
	*len -= off[3] - off[2];
}

static void edit_swap(unsigned char *buf, size_t *len, const size_t *off, size_t n)
{
	size_t a = off[3] - off[2], b = off[4] - off[3];
	unsigned char *tmp = malloc(a + b);

	(void)len;
	(void)n;
	memcpy(tmp, buf + off[3], b);
	memcpy(tmp + b, buf + off[2], a);
	memcpy(buf + off[2], tmp, a + b);
	free(tmp);
}

static void edit_truncate(unsigned char *buf, size_t *len, const size_t *off, size_t n)
{
	(void)buf;
	*len = off[n - 1] + 20;         /* cut in the middle of the last record */
}

static void test_tamper_flip(void **state)
{
	unsigned char pk[32];
	make_log(*state, 5, pk);
	tamper_expect(*state, pk, edit_flip, 3, "edited");
}

static void test_tamper_delete(void **state)
{
	unsigned char pk[32];
	make_log(*state, 5, pk);
	tamper_expect(*state, pk, edit_delete, 3, "deleted");
}

static void test_tamper_swap(void **state)
{
	unsigned char pk[32];
	make_log(*state, 5, pk);
	tamper_expect(*state, pk, edit_swap, 3, "out of order");
}

static void test_tamper_truncate(void **state)
{
	unsigned char pk[32];
	make_log(*state, 5, pk);
	tamper_expect(*state, pk, edit_truncate, 0, "truncated");
}

/* A clean cut at a record boundary before the final checkpoint: the
 * chain verifies, but the records after the last checkpoint are unsealed. */
static void test_cut_before_checkpoint_unsealed(void **state)
{
	struct vtest *t = *state;
	unsigned char pk[32], *buf;
	char path[512];
	size_t len, off[256], n;
	struct audit_verify_report r;

	make_log(t, 5, pk);
	vtest_path(path, sizeof(path), t, "audit.log");
	buf = vtest_read(path, &len);
	n = line_offsets(buf, len, off, 256);
	vtest_write(path, buf, off[n - 1]);     /* drop the shutdown checkpoint */
	free(buf);
	assert_int_equal(verify(t, pk, &r), 0);
	assert_true(r.unsealed >= 1);
}

static void test_wrong_public_key(void **state)
{
	struct vtest *t = *state;
	unsigned char pk[32], other[32], sk[64];
	struct audit_verify_report r;

	make_log(t, 3, pk);
	crypto_sign_keypair(other, sk);
	assert_int_equal(verify(t, other, &r), -1);
	assert_non_null(strstr(r.problem, "another key"));
	assert_int_equal(verify(t, NULL, &r), 0);     /* chain alone is intact */
	assert_false(r.signatures_checked);
}

/* A forged tail: records re-hashed after an edit pass the chain check
 * but not the checkpoint signature. */
static void test_rehashed_forgery_caught_by_signature(void **state)
{
	struct vtest *t = *state;
	unsigned char pk[32];
	struct audit_verify_report r;
	struct audit_log a;
	struct err e = { 0 };
	char path[512];
	size_t len, off[256], n;
	unsigned char *buf;

	make_log(t, 3, pk);
	/* Rewrite the log from scratch (same number of records, re-hashed,
	 * so the chain itself verifies), ending with the original
	 * checkpoint's fields: its signature covers another chain. */
	vtest_path(path, sizeof(path), t, "audit.log");
	buf = vtest_read(path, &len);
	n = line_offsets(buf, len, off, 256);
	char *cp = strndup((char *)buf + off[n - 1], len - off[n - 1]);
	free(buf);
	char rec[32], key[32], sig[160];
	assert_int_equal(sscanf(strstr(cp, " records="), " records=%31s", rec), 1);
	assert_int_equal(sscanf(strstr(cp, " key="), " key=%31s", key), 1);
	assert_int_equal(sscanf(strstr(cp, " sig="), " sig=%159s", sig), 1);
	free(cp);
	unlink(path);
	assert_int_equal(audit_open(&a, t->vdir, &e), 0);
	for (size_t i = 0; i + 1 < n; i++) {
		struct audit_field f[] = { { "forged", "yes" } };
		assert_int_equal(audit_append(&a, "secret_put", f, 1, &e), 0);
	}
	struct audit_field cf[] = { { "records", rec }, { "reason", "shutdown" },
				    { "key", key }, { "sig", sig } };
	assert_int_equal(audit_append(&a, "checkpoint", cf, 4, &e), 0);
	assert_int_equal(audit_sync(&a, &e), 0);
	audit_close(&a);
	assert_int_equal(verify(t, NULL, &r), 0);      /* the chain alone passes */
	assert_int_equal(verify(t, pk, &r), -1);       /* the signature does not */
	assert_int_equal(r.bad_record, n);
	assert_non_null(strstr(r.problem, "forged"));
}

static void test_rotation_by_size_keeps_chain(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	char paths[16][512];
	const char *pp[16];
	size_t np = 0;
	struct audit_verify_report r;
	struct err e = { 0 };
	unsigned char pk[32];

	open_vault(t, &v);
	v.audit.rotate_bytes = 2000;
	for (int i = 1; i <= 40; i++) {
		put(&v, (uint64_t)i, (uint64_t)i, "x");
		sync_ok(&v);
	}
	memcpy(pk, v.audit.pk, 32);
	assert_true(v.audit.rotated >= 2);
	uint32_t rotated = v.audit.rotated;
	vault_close(&v);
	for (uint32_t k = 1; k <= rotated && np < 15; k++) {
		snprintf(paths[np], sizeof(paths[np]), "%s/audit.log.%u", t->vdir, k);
		pp[np] = paths[np];
		np++;
	}
	snprintf(paths[np], sizeof(paths[np]), "%s/audit.log", t->vdir);
	pp[np] = paths[np];
	np++;
	if (audit_verify_files(pp, np, pk, &r, &e) < 0)
		fail_msg("verify: %s", e.message);
	assert_true(r.anchored);
	assert_int_equal(r.unsealed, 0);
	/* Reopen continues the chain. */
	open_vault(t, &v);
	vault_close(&v);
	assert_int_equal(audit_verify_files(pp, np, pk, &r, &e), 0);
	/* A file missing from the middle is detected at the next file's link. */
	if (np >= 3) {
		const char *gap[16];
		size_t ng = 0;
		for (size_t i = 0; i < np; i++)
			if (i != 1)
				gap[ng++] = pp[i];
		assert_int_equal(audit_verify_files(gap, ng, pk, &r, &e), -1);
		assert_int_equal(r.bad_file, 1);
		assert_int_equal(r.bad_record, 1);
	}
	/* A file cut before its closing checkpoint. */
	{
		size_t len, off[512], n;
		unsigned char *buf = vtest_read(pp[0], &len);
		n = line_offsets(buf, len, off, 512);
		vtest_write(pp[0], buf, off[n - 1]);
		free(buf);
		assert_int_equal(audit_verify_files(pp, np, pk, &r, &e), -1);
		assert_int_equal(r.bad_file, 1);
	}
}

/* Fail closed: an audit log that cannot be written refuses the change. */
static void test_audit_unwritable_refuses(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct err e = { 0 };
	char path[512];
	struct vault_actor who = { "r", "n" };

	open_vault(t, &v);
	vtest_path(path, sizeof(path), t, "audit.log");
	close(v.audit.fd);
	v.audit.fd = open(path, O_RDONLY);    /* read-only reopen: writes fail */
	assert_true(v.audit.fd >= 0);
	assert_int_equal(vault_secret_put(&v, 1, 1, (const unsigned char *)"x", 1, 0, &who, &e), -1);
	assert_int_equal(vault_audit(&v, "credential_release", NULL, 0, &e), -1);
	vault_close(&v);
}

/* ---- data-key rotation ---- */

static void fill(struct vault *v, int n)
{
	struct err e = { 0 };
	struct vault_actor who = { "r", "c" };
	struct vault_ssh_pubkeys k;

	for (int i = 1; i <= n; i++) {
		char val[32];
		snprintf(val, sizeof(val), "value-%d", i);
		put(v, (uint64_t)i, (uint64_t)i, val);
	}
	for (int i = 0; i < 3; i++)
		if (vault_ssh_generate(v, 1000 + (uint64_t)i, &who, &k, &e) < 0)
			fail_msg("ssh: %s", e.message);
	sync_ok(v);
}

static void check_all(struct vault *v, int n)
{
	struct err e = { 0 };
	struct vault_ssh_pubkeys k;
	unsigned char sig[64], data[200];

	for (int i = 1; i <= n; i++) {
		char val[32];
		snprintf(val, sizeof(val), "value-%d", i);
		expect_secret(v, (uint64_t)i, (uint64_t)i, val);
	}
	for (int i = 0; i < 3; i++) {
		assert_int_equal(vault_ssh_public_keys(v, 1000 + (uint64_t)i, &k, &e), 1);
		/* A signature needs the opened seed: build a userauth request. */
		size_t o = 0;
		unsigned char blob[VAULT_SSH_BLOB_BYTES];
		vault_ssh_blob(k.pk[0], blob);
#define PUT_STR(s, l) do { data[o++] = 0; data[o++] = 0; data[o++] = 0; data[o++] = (unsigned char)(l); memcpy(data + o, s, l); o += (l); } while (0)
		PUT_STR("0123456789abcdef0123", 20);
		data[o++] = 50;
		PUT_STR("user", 4);
		PUT_STR("ssh-connection", 14);
		PUT_STR("publickey", 9);
		data[o++] = 1;
		PUT_STR("ssh-ed25519", 11);
		PUT_STR(blob, VAULT_SSH_BLOB_BYTES);
#undef PUT_STR
		if (vault_ssh_sign(v, 1000 + (uint64_t)i, 1, data, o, sig, &e) < 0)
			fail_msg("sign: %s", e.message);
		assert_int_equal(crypto_sign_verify_detached(sig, data, o, k.pk[0]), 0);
	}
}

static void test_data_rotation_reencrypts_everything(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct err e = { 0 };
	struct vault_actor who = { "materialize", NULL };
	int rc, steps = 0;

	open_vault(t, &v);
	fill(&v, 150);
	assert_int_equal(v.kr.current, 1);
	assert_int_equal(vault_rotate_data_key(&v, &who, &e), 0);
	sync_ok(&v);
	assert_int_equal(v.kr.current, 2);
	assert_int_equal(v.rot.total, 153);
	/* A second request while one runs is refused. */
	assert_int_equal(vault_rotate_data_key(&v, &who, &e), -1);
	assert_string_equal(e.sqlstate, "55006");
	/* New writes during the rotation use the new term. */
	put(&v, 500, 500, "value-new");
	while ((rc = vault_rotate_step(&v, 16, &e)) == 1) {
		sync_ok(&v);
		steps++;
	}
	assert_int_equal(rc, 0);
	assert_true(steps >= 9);
	assert_string_equal(v.rot.state, "done");
	assert_int_equal(v.rot.done, 153);
	assert_int_equal(vault_rotate_count_old(&v), 0);
	assert_int_equal(v.kr.count, 1);        /* term 1 destroyed */
	check_all(&v, 150);
	expect_secret(&v, 500, 500, "value-new");
	vault_close(&v);
	/* After a restart: one term, everything decrypts, audit intact. */
	open_vault(t, &v);
	assert_int_equal(v.kr.count, 1);
	assert_false(v.rot.active);
	check_all(&v, 150);
	assert_int_equal(vault_verify_all(&v, &e), 0);
	vault_close(&v);
	char path[512];
	vtest_path(path, sizeof(path), t, "audit.log");
	assert_true(vtest_file_contains_str(path, "event=data_key_rotation_started"));
	assert_true(vtest_file_contains_str(path, "event=data_key_term_destroyed"));
	assert_true(vtest_file_contains_str(path, "event=data_key_rotation_finished"));
	assert_true(audit_verify_file(path, &e) > 0);
}

/* The child rotates (or resumes) and steps until killed. A new rotation is
 * started only when none is in progress: one that an earlier round began
 * may still be unfinished (vault_rotate_data_key then answers 55006). */
static void rotation_child(struct vtest *t, int start)
{
	struct vault v;
	struct err e = { 0 };
	struct vault_actor who = { "materialize", NULL };

	if (vault_open(&v, t->dir, &e) < 0)
		_exit(3);
	if (start && !v.rot.active && vault_rotate_data_key(&v, &who, &e) < 0)
		_exit(4);
	if (vault_sync(&v, &e) < 0)
		_exit(5);
	for (;;) {
		int rc = vault_rotate_step(&v, 4, &e);
		if (rc < 0 || vault_sync(&v, &e) < 0)
			_exit(6);
		if (rc == 0)
			break;
	}
	_exit(0);
}

static void test_data_rotation_kill9(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct err e = { 0 };
	int killed = 0;

	open_vault(t, &v);
	fill(&v, 300);
	vault_close(&v);
	srand((unsigned)time(NULL));
	for (int round = 0; round < 12; round++) {
		pid_t pid = fork();
		int status;

		assert_true(pid >= 0);
		if (pid == 0)
			rotation_child(t, round == 0 || round == 6);
		usleep((useconds_t)(rand() % 40000));
		if (kill(pid, SIGKILL) == 0)
			killed++;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
			fail_msg("child exited %d", WEXITSTATUS(status));
		/* Whatever point it died at, everything still decrypts. */
		open_vault(t, &v);
		check_all(&v, 300);
		vault_close(&v);
	}
	/* Finish whatever is left; then nothing is under an old term. */
	open_vault(t, &v);
	while (v.rot.active) {
		int rc = vault_rotate_step(&v, 64, &e);
		assert_true(rc >= 0);
		sync_ok(&v);
	}
	assert_int_equal(vault_rotate_count_old(&v), 0);
	assert_int_equal(v.kr.count, 1);
	check_all(&v, 300);
	vault_close(&v);
	assert_true(killed > 0);
}

/* ---- master-key rotation ---- */

static int exit_at_step;

static void exit_hook(int step)
{
	if (step == exit_at_step)
		_exit(0);
}

static void test_master_rotation_kill_points(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct err e = { 0 };
	struct vault_actor who = { "materialize", NULL };
	unsigned char before[32], after[32];
	char mk[512];
	size_t len;
	unsigned char *b;

	open_vault(t, &v);
	fill(&v, 20);
	vault_close(&v);
	vtest_path(mk, sizeof(mk), t, "master.key");
	for (int step = 1; step <= 4; step++) {
		pid_t pid;
		int status;

		b = vtest_read(mk, &len);
		memcpy(before, b, 32);
		free(b);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			exit_at_step = step;
			vault_keyring_test_hook = exit_hook;
			if (vault_open(&v, t->dir, &e) < 0)
				_exit(3);
			vault_rotate_master_key(&v, &who, &e);
			_exit(4);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		/* Recovery at open rolls back (steps 1-2) or forward (3-4). */
		open_vault(t, &v);
		check_all(&v, 20);
		vault_close(&v);
		b = vtest_read(mk, &len);
		memcpy(after, b, 32);
		free(b);
		if (step <= 2)
			assert_memory_equal(before, after, 32);
		else
			assert_memory_not_equal(before, after, 32);
		char p2[512];
		vtest_path(p2, sizeof(p2), t, "master.key.new");
		assert_int_equal(access(p2, F_OK), -1);
		vtest_path(p2, sizeof(p2), t, "keyring.new");
		assert_int_equal(access(p2, F_OK), -1);
	}
	/* An uninterrupted rotation, in process. */
	open_vault(t, &v);
	assert_int_equal(vault_rotate_master_key(&v, &who, &e), 0);
	sync_ok(&v);
	vault_close(&v);
	open_vault(t, &v);
	check_all(&v, 20);
	vault_close(&v);
	vtest_path(mk, sizeof(mk), t, "audit.log");
	assert_true(vtest_file_contains_str(mk, "event=master_key_rotated"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clean_log_verifies, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_tamper_flip, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_tamper_delete, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_tamper_swap, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_tamper_truncate, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_cut_before_checkpoint_unsealed, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_wrong_public_key, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_rehashed_forgery_caught_by_signature, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_rotation_by_size_keeps_chain, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_audit_unwritable_refuses, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_data_rotation_reencrypts_everything, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_data_rotation_kill9, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_master_rotation_kill_points, vtest_setup, vtest_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
