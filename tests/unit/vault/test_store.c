/* The secret store through the vault API: put / replace / commit /
 * delete / reconcile, recovery from torn tails, compaction, AD binding,
 * and that no plaintext ever reaches a file. */
#include "vtest.h"

#include <sodium.h>

#include "err.h"
#include "keymem.h"
#include "vault.h"

static const struct vault_actor who = { "materialize", "materialize.public.pw" };

static void open_vault(struct vtest *t, struct vault *v)
{
	struct err e = { 0 };

	if (vault_open(v, t->dir, &e) < 0)
		fail_msg("vault_open: %s", e.message);
}

static void put(struct vault *v, uint64_t id, uint64_t ver, const char *value)
{
	struct err e = { 0 };

	if (vault_secret_put(v, id, ver, (const unsigned char *)value, strlen(value),
			     0, &who, &e) < 0)
		fail_msg("put u%llu v%llu: %s", (unsigned long long)id,
			 (unsigned long long)ver, e.message);
}

static void sync_ok(struct vault *v)
{
	struct err e = { 0 };

	if (vault_sync(v, &e) < 0)
		fail_msg("sync: %s", e.message);
}

static void assert_value(struct vault *v, uint64_t id, uint64_t ver, const char *want)
{
	struct err e = { 0 };
	unsigned char *pt;
	size_t len;

	if (vault_secret_decrypt(v, id, ver, &pt, &len, &e) < 0)
		fail_msg("decrypt u%llu v%llu: %s", (unsigned long long)id,
			 (unsigned long long)ver, e.message);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(pt, want, len);
	vault_secbuf_free(pt);
}

static void assert_absent(struct vault *v, uint64_t id, uint64_t ver)
{
	struct err e = { 0 };
	unsigned char *pt = NULL;
	size_t len;

	assert_int_equal(vault_secret_decrypt(v, id, ver, &pt, &len, &e), -1);
	assert_null(pt);
}

static void test_put_replace_commit_delete(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct err e = { 0 };

	open_vault(t, &v);
	put(&v, 1, 1, "first value");
	put(&v, 2, 2, "other");
	sync_ok(&v);
	assert_value(&v, 1, 1, "first value");

	/* ALTER SECRET: the new version lives next to the old until commit. */
	assert_int_equal(vault_secret_put(&v, 1, 3, (const unsigned char *)"second", 6, 1,
					  &who, &e), 0);
	sync_ok(&v);
	assert_value(&v, 1, 1, "first value");
	assert_value(&v, 1, 3, "second");
	assert_int_equal(vault_secret_commit(&v, 1, 3, &e), 0);
	sync_ok(&v);
	assert_absent(&v, 1, 1);
	assert_value(&v, 1, 3, "second");

	assert_int_equal(vault_secret_delete(&v, 2, &who, &e), 0);
	sync_ok(&v);
	assert_absent(&v, 2, 2);
	assert_int_equal(vault_verify_all(&v, &e), 0);
	vault_close(&v);

	/* Everything above survives a restart. */
	open_vault(t, &v);
	assert_int_equal(v.store.count, 1);
	assert_absent(&v, 1, 1);
	assert_absent(&v, 2, 2);
	assert_value(&v, 1, 3, "second");
	assert_int_equal(v.store.max_object_id, 2);
	assert_int_equal(v.store.max_version, 3);
	vault_close(&v);
}

static void test_version_never_reused(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct err e = { 0 };

	open_vault(t, &v);
	put(&v, 1, 5, "a");
	assert_int_equal(vault_secret_put(&v, 1, 5, (const unsigned char *)"b", 1, 0,
					  &who, &e), -1);
	assert_string_equal(e.sqlstate, "XX000");
	assert_int_equal(vault_secret_put(&v, 2, 4, (const unsigned char *)"b", 1, 0,
					  &who, &e), -1);
	/* Deleted versions stay burnt, also across a restart. */
	assert_int_equal(vault_secret_delete(&v, 1, &who, &e), 0);
	sync_ok(&v);
	vault_close(&v);
	open_vault(t, &v);
	assert_int_equal(vault_secret_put(&v, 1, 5, (const unsigned char *)"b", 1, 0,
					  &who, &e), -1);
	put(&v, 1, 6, "c");
	vault_close(&v);
}

static void test_size_limit_and_empty_value(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct err e = { 0 };
	unsigned char *big = calloc(1, 512 * 1024 + 1), *pt;
	size_t len;

	open_vault(t, &v);
	assert_int_equal(vault_secret_put(&v, 1, 1, big, 512 * 1024 + 1, 0, &who, &e), -1);
	assert_string_equal(e.sqlstate, "54000");
	assert_string_equal(e.message, "secrets can not be bigger than 512KiB");
	memset(big, 'x', 512 * 1024);
	assert_int_equal(vault_secret_put(&v, 1, 2, big, 512 * 1024, 0, &who, &e), 0);
	put(&v, 2, 3, "");
	sync_ok(&v);
	assert_int_equal(vault_secret_decrypt(&v, 1, 2, &pt, &len, &e), 0);
	assert_int_equal(len, 512 * 1024);
	assert_memory_equal(pt, big, len);
	vault_secbuf_free(pt);
	assert_value(&v, 2, 3, "");
	vault_close(&v);
	free(big);
}

static void test_reconcile_shreds_orphans_and_reports_missing(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct err e = { 0 };
	struct vault_reconcile_result r;
	struct vault_ref keep[] = { { 3, 3 }, { 1, 4 }, { 9, 9 } };
	char path[512];

	open_vault(t, &v);
	put(&v, 1, 1, "old");
	put(&v, 2, 2, "orphan");
	put(&v, 3, 3, "kept");
	put(&v, 1, 4, "new");
	sync_ok(&v);
	assert_int_equal(vault_reconcile(&v, keep, 3, &r, &e), 0);
	sync_ok(&v);
	assert_int_equal(r.shredded, 2);             /* u1 v1 and u2 v2 */
	assert_int_equal(r.nmissing, 1);
	assert_int_equal(r.missing[0], 9);
	assert_int_equal(r.max_object_id, 3);
	assert_int_equal(r.max_version, 4);
	vault_reconcile_result_free(&r);
	assert_absent(&v, 1, 1);
	assert_absent(&v, 2, 2);
	assert_value(&v, 1, 4, "new");
	assert_value(&v, 3, 3, "kept");
	vault_close(&v);
	vtest_path(path, sizeof(path), t, "audit.log");
	assert_true(vtest_file_contains_str(path, "event=secret_shred object=u2 version=2 reason=reconcile"));
	assert_true(vtest_file_contains_str(path, "event=reconcile named=3 shredded=2 missing=1"));
}

static void test_torn_tail_truncated_earlier_records_intact(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	char path[512];
	off_t good;

	open_vault(t, &v);
	put(&v, 1, 1, "one");
	put(&v, 2, 2, "two");
	sync_ok(&v);
	good = (off_t)v.store.end;
	put(&v, 3, 3, "three");
	sync_ok(&v);
	vault_close(&v);
	vtest_path(path, sizeof(path), t, "secrets.log");

	/* Garbage after the last record (a torn append). */
	vtest_append(path, "\x07\x00\x00\x00garbage-not-a-frame", 23);
	open_vault(t, &v);
	assert_int_equal(v.store.truncated_bytes, 23);
	assert_int_equal(v.store.count, 3);
	assert_value(&v, 3, 3, "three");
	vault_close(&v);

	/* The last record cut in half. */
	assert_int_equal(truncate(path, vtest_size(path) - 10), 0);
	open_vault(t, &v);
	assert_int_equal(vtest_size(path), good);
	assert_int_equal(v.store.count, 2);
	assert_value(&v, 1, 1, "one");
	assert_value(&v, 2, 2, "two");
	assert_absent(&v, 3, 3);
	/* And appends continue cleanly after the cut. */
	put(&v, 4, 4, "four");
	sync_ok(&v);
	vault_close(&v);
	open_vault(t, &v);
	assert_int_equal(v.store.truncated_bytes, 0);
	assert_value(&v, 4, 4, "four");
	vault_close(&v);
}

static void test_zero_filled_tail_truncated(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	char path[512];
	unsigned char zeros[4096] = { 0 };

	open_vault(t, &v);
	put(&v, 1, 1, "one");
	sync_ok(&v);
	vault_close(&v);
	vtest_path(path, sizeof(path), t, "secrets.log");
	vtest_append(path, zeros, sizeof(zeros));
	open_vault(t, &v);
	assert_int_equal(v.store.truncated_bytes, sizeof(zeros));
	assert_value(&v, 1, 1, "one");
	vault_close(&v);
}

static void test_compaction_keeps_live_data(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct err e = { 0 };
	char path[512], val[64];
	off_t before;

	open_vault(t, &v);
	v.store.compact_min_dead = UINT64_MAX;  /* no compaction while filling */
	for (uint64_t i = 1; i <= 50; i++) {
		snprintf(val, sizeof(val), "value-%llu", (unsigned long long)i);
		put(&v, i, i, val);
	}
	sync_ok(&v);
	for (uint64_t i = 1; i <= 45; i++)
		assert_int_equal(vault_secret_delete(&v, i, &who, &e), 0);
	vtest_path(path, sizeof(path), t, "secrets.log");
	before = vtest_size(path);
	v.store.compact_min_dead = 1;
	sync_ok(&v);                                 /* compacts */
	assert_int_equal(v.store.compactions, 1);
	assert_true(vtest_size(path) < before);
	assert_int_equal((uint64_t)vtest_size(path), v.store.end);
	for (uint64_t i = 46; i <= 50; i++) {
		snprintf(val, sizeof(val), "value-%llu", (unsigned long long)i);
		assert_value(&v, i, i, val);
	}
	/* Appends after compaction go to the new file. */
	put(&v, 51, 51, "after");
	sync_ok(&v);
	vault_close(&v);

	open_vault(t, &v);
	assert_int_equal(v.store.count, 6);
	assert_value(&v, 48, 48, "value-48");
	assert_value(&v, 51, 51, "after");
	assert_absent(&v, 3, 3);
	/* The high-water marks survive the dropped DEL records. */
	assert_int_equal(v.store.max_version, 51);
	assert_int_equal(vault_secret_put(&v, 3, 3, (const unsigned char *)"x", 1, 0,
					  &who, &e), -1);
	assert_int_equal(vault_verify_all(&v, &e), 0);
	vault_close(&v);
	vtest_path(path, sizeof(path), t, "secrets.log.tmp");
	assert_int_not_equal(access(path, F_OK), 0);
}

static void test_stale_compaction_temp_ignored(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	char path[512];

	open_vault(t, &v);
	put(&v, 1, 1, "one");
	sync_ok(&v);
	vault_close(&v);
	/* A compaction that crashed before its rename. */
	vtest_path(path, sizeof(path), t, "secrets.log.tmp");
	vtest_write(path, "half a compaction", 17);
	open_vault(t, &v);
	assert_value(&v, 1, 1, "one");
	assert_int_not_equal(access(path, F_OK), 0);
	vault_close(&v);
}

/* Frame layout (store.c): u32 len | sum[32] | body; PUT body:
 * type | u64 id | u64 version | u32 term | nonce[24] | ct. */
static void reseal(unsigned char *frame)
{
	uint32_t len = (uint32_t)frame[0] | (uint32_t)frame[1] << 8 |
		       (uint32_t)frame[2] << 16 | (uint32_t)frame[3] << 24;
	crypto_generichash_state s;

	crypto_generichash_init(&s, NULL, 0, 32);
	crypto_generichash_update(&s, frame, 4);
	crypto_generichash_update(&s, frame + 36, len);
	crypto_generichash_final(&s, frame + 4, 32);
}

static void test_ciphertext_bound_to_object_id(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct err e = { 0 };
	char path[512];
	unsigned char *file, *frame;
	unsigned char *pt = NULL;
	size_t len, flen;

	open_vault(t, &v);
	put(&v, 1, 1, "bound to u1");
	sync_ok(&v);
	flen = v.store.entries[0].frame_len;
	vault_close(&v);

	vtest_path(path, sizeof(path), t, "secrets.log");
	file = vtest_read(path, &len);
	frame = malloc(flen);
	memcpy(frame, file + 40, flen);
	/* Same ciphertext, claimed for object u2 version 2, with a valid
	 * (unkeyed) frame checksum: only the AEAD's AD can catch it. */
	frame[36 + 1] = 2;
	frame[36 + 9] = 2;
	reseal(frame);
	vtest_append(path, frame, flen);
	open_vault(t, &v);
	assert_int_equal(v.store.count, 2);
	assert_int_equal(vault_secret_decrypt(&v, 2, 2, &pt, &len, &e), -1);
	assert_null(pt);
	assert_non_null(strstr(e.message, "does not authenticate"));
	assert_value(&v, 1, 1, "bound to u1");
	assert_int_equal(vault_verify_all(&v, &e), -1);
	vault_close(&v);
	free(frame);
	free(file);
}

static void test_plaintext_never_in_files(void **state)
{
	struct vtest *t = *state;
	static const char *files[] = { "secrets.log", "audit.log", "keyring", "master.key" };
	const char *canary = "hunter2-TETHER-CANARY-2f9c1";
	struct vault v;
	struct err e = { 0 };
	struct vault_ref keep[] = { { 1, 2 } };
	struct vault_reconcile_result r;
	unsigned char *big = malloc(100000);
	char path[512];

	for (size_t i = 0; i < 100000; i++)
		big[i] = (unsigned char)('A' + (i * 7) % 26);
	memcpy(big + 5000, canary, strlen(canary));
	open_vault(t, &v);
	v.store.compact_min_dead = 1;
	put(&v, 1, 1, canary);
	assert_int_equal(vault_secret_put(&v, 1, 2, big, 100000, 1, &who, &e), 0);
	put(&v, 3, 3, canary);
	sync_ok(&v);
	assert_int_equal(vault_secret_commit(&v, 1, 2, &e), 0);
	assert_int_equal(vault_reconcile(&v, keep, 1, &r, &e), 0);
	vault_reconcile_result_free(&r);
	sync_ok(&v);
	vault_close(&v);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		vtest_path(path, sizeof(path), t, files[i]);
		assert_false(vtest_file_contains_str(path, canary));
		assert_false(vtest_file_contains(path, big + 20000, 64));
	}
	/* The object name is fine to audit; the size of the value is not. */
	vtest_path(path, sizeof(path), t, "audit.log");
	assert_true(vtest_file_contains_str(path, "name=materialize.public.pw"));
	assert_false(vtest_file_contains_str(path, "100000"));
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_replace_commit_delete, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_version_never_reused, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_size_limit_and_empty_value, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_reconcile_shreds_orphans_and_reports_missing, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail_truncated_earlier_records_intact, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_zero_filled_tail_truncated, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_compaction_keeps_live_data, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_stale_compaction_temp_ignored, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_ciphertext_bound_to_object_id, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_plaintext_never_in_files, vtest_setup, vtest_teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
