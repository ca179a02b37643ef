/* Master key file and keyring: creation modes, refusals, round trip,
 * term rotation, tamper detection, and that key pages are PROT_NONE
 * outside use. */
#include "vtest.h"

#include <linux/capability.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <sodium.h>

#include "err.h"
#include "keyring.h"
#include "vault.h"

static void test_master_key_created_with_mode_0400(void **state)
{
	struct vtest *t = *state;
	struct vault_keyring kr;
	struct err e = { 0 };
	char path[512];
	struct stat st;

	assert_int_equal(vault_keyring_open(&kr, t->vdir, 1, &e), 0);
	vtest_path(path, sizeof(path), t, "master.key");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0400);
	assert_int_equal(st.st_size, 32);
	vtest_path(path, sizeof(path), t, "keyring");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 077, 0);
	assert_int_equal(kr.current, 1);
	assert_int_equal(kr.count, 1);
	vault_keyring_close(&kr);
	/* No temp files left behind. */
	vtest_path(path, sizeof(path), t, "master.key.tmp");
	assert_int_not_equal(access(path, F_OK), 0);
	vtest_path(path, sizeof(path), t, "keyring.tmp");
	assert_int_not_equal(access(path, F_OK), 0);
}

static void test_master_key_0644_refused(void **state)
{
	struct vtest *t = *state;
	struct vault_keyring kr;
	struct vault v;
	struct err e = { 0 };
	char path[512];

	assert_int_equal(vault_keyring_open(&kr, t->vdir, 1, &e), 0);
	vault_keyring_close(&kr);
	vtest_path(path, sizeof(path), t, "master.key");
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(vault_keyring_open(&kr, t->vdir, 1, &e), -1);
	assert_non_null(strstr(e.message, "group/other permissions"));
	assert_non_null(strstr(e.message, "refusing to start"));
	assert_int_equal(vault_open(&v, t->dir, &e), -1);
	/* The key was not replaced by a new one. */
	assert_int_equal(vtest_size(path), 32);
}

static void test_master_key_wrong_size_refused(void **state)
{
	struct vtest *t = *state;
	struct vault_key k;
	struct err e = { 0 };
	char path[512];
	unsigned char junk[31] = { 1 };
	int fd;

	vtest_path(path, sizeof(path), t, "master.key");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0400);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	assert_int_equal(vault_master_key_load(&k, t->vdir, 1, &e), -1);
	assert_non_null(strstr(e.message, "expected 32"));
	assert_null(k.bytes);
}

static void test_keyring_round_trip(void **state)
{
	struct vtest *t = *state;
	struct vault_keyring kr;
	struct err e = { 0 };
	unsigned char dk1[32], again[32];

	assert_int_equal(vault_keyring_open(&kr, t->vdir, 1, &e), 0);
	memcpy(dk1, vault_key_open(vault_keyring_key(&kr, 1)), 32);
	vault_key_close(vault_keyring_key(&kr, 1));
	vault_keyring_close(&kr);

	assert_int_equal(vault_keyring_open(&kr, t->vdir, 0, &e), 0);
	assert_int_equal(kr.current, 1);
	assert_non_null(vault_keyring_key(&kr, 1));
	assert_null(vault_keyring_key(&kr, 2));
	memcpy(again, vault_key_open(vault_keyring_key(&kr, 1)), 32);
	vault_key_close(vault_keyring_key(&kr, 1));
	assert_memory_equal(dk1, again, 32);
	vault_keyring_close(&kr);
	sodium_memzero(dk1, 32);
	sodium_memzero(again, 32);
}

static void test_keyring_add_term_persists(void **state)
{
	struct vtest *t = *state;
	struct vault_keyring kr;
	struct err e = { 0 };
	unsigned char dk2[32], again[32];

	assert_int_equal(vault_keyring_open(&kr, t->vdir, 1, &e), 0);
	assert_int_equal(vault_keyring_add_term(&kr, t->vdir, &e), 0);
	assert_int_equal(kr.current, 2);
	memcpy(dk2, vault_key_open(vault_keyring_key(&kr, 2)), 32);
	vault_key_close(vault_keyring_key(&kr, 2));
	vault_keyring_close(&kr);

	assert_int_equal(vault_keyring_open(&kr, t->vdir, 0, &e), 0);
	assert_int_equal(kr.current, 2);
	assert_int_equal(kr.count, 2);
	assert_non_null(vault_keyring_key(&kr, 1));
	memcpy(again, vault_key_open(vault_keyring_key(&kr, 2)), 32);
	vault_key_close(vault_keyring_key(&kr, 2));
	assert_memory_equal(dk2, again, 32);
	vault_keyring_close(&kr);
}

static void test_keyring_tampered_refused(void **state)
{
	struct vtest *t = *state;
	struct vault_keyring kr;
	struct err e = { 0 };
	char path[512];
	unsigned char *buf;
	size_t len;

	assert_int_equal(vault_keyring_open(&kr, t->vdir, 1, &e), 0);
	assert_int_equal(vault_keyring_add_term(&kr, t->vdir, &e), 0);
	vault_keyring_close(&kr);
	vtest_path(path, sizeof(path), t, "keyring");
	buf = vtest_read(path, &len);
	/* Claim term 1 is current: the file MAC catches it. */
	buf[8] = 1;
	vtest_write(path, buf, len);
	assert_int_equal(vault_keyring_open(&kr, t->vdir, 0, &e), -1);
	assert_non_null(strstr(e.message, "does not authenticate"));
	/* Drop the last term entirely (count and length consistent). */
	buf[8] = 1;
	buf[12] = 1;
	vtest_write(path, buf, len - 76);
	assert_int_equal(vault_keyring_open(&kr, t->vdir, 0, &e), -1);
	free(buf);
}

static void test_missing_master_key_not_recreated_over_keyring(void **state)
{
	struct vtest *t = *state;
	struct vault_keyring kr;
	struct err e = { 0 };
	char path[512];

	assert_int_equal(vault_keyring_open(&kr, t->vdir, 1, &e), 0);
	vault_keyring_close(&kr);
	vtest_path(path, sizeof(path), t, "master.key");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(vault_keyring_open(&kr, t->vdir, 1, &e), -1);
	assert_int_not_equal(access(path, F_OK), 0);
}

static void test_missing_keyring_with_secrets_refused(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct err e = { 0 };
	char path[512];

	assert_int_equal(vault_open(&v, t->dir, &e), 0);
	vault_close(&v);
	vtest_path(path, sizeof(path), t, "keyring");
	assert_int_equal(unlink(path), 0);
	/* secrets.log exists, so a fresh keyring would orphan it. */
	assert_int_equal(vault_open(&v, t->dir, &e), -1);
	assert_int_not_equal(access(path, F_OK), 0);
}

static void test_vault_dir_with_group_access_refused(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct err e = { 0 };

	assert_int_equal(chmod(t->vdir, 0750), 0);
	assert_int_equal(vault_open(&v, t->dir, &e), -1);
	assert_non_null(strstr(e.message, "0700"));
}

static void test_key_pages_inaccessible_outside_use(void **state)
{
	struct vtest *t = *state;
	struct vault_keyring kr;
	struct err e = { 0 };
	int status;
	pid_t pid;

	assert_int_equal(vault_keyring_open(&kr, t->vdir, 1, &e), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Reading a closed key must fault, not return bytes. */
		signal(SIGSEGV, SIG_DFL);
		volatile unsigned char x = kr.master.bytes[0];
		(void)x;
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	vault_keyring_close(&kr);
}

static void test_key_memory_lock_failure_reported(void **state)
{
	int status;
	pid_t pid;

	(void)state;
#ifdef TETHER_SANITIZE
	/* ASan intercepts mlock() as a no-op that succeeds. */
	skip();
#endif
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* No CAP_IPC_LOCK and no locked-memory budget: locking must
		 * fail, and fail loudly rather than leave keys swappable. */
		struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct data[2];
		struct rlimit rl = { 0, 0 };
		struct vault_key k;
		struct err e = { 0 };

		if (syscall(SYS_capget, &hdr, data) == 0) {
			data[0].effective &= ~(1u << CAP_IPC_LOCK);
			data[0].permitted &= ~(1u << CAP_IPC_LOCK);
			if (syscall(SYS_capset, &hdr, data) != 0)
				_exit(3);
		}
		if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
			_exit(4);
		if (vault_key_alloc(&k, &e) != -1)
			_exit(5);
		if (!strstr(e.message, "vault: cannot lock key memory (RLIMIT_MEMLOCK too low?): "))
			_exit(6);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_master_key_created_with_mode_0400, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_master_key_0644_refused, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_master_key_wrong_size_refused, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_keyring_round_trip, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_keyring_add_term_persists, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_keyring_tampered_refused, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_missing_master_key_not_recreated_over_keyring, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_missing_keyring_with_secrets_refused, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_vault_dir_with_group_access_refused, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_key_pages_inaccessible_outside_use, vtest_setup, vtest_teardown),
		cmocka_unit_test(test_key_memory_lock_failure_reported),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
