/* Landlock confinement per role (sandbox/landlock.c), checked in forked
 * children: each role reaches its own directory and nothing of the others,
 * the validator writes nowhere, system libraries stay readable. Skipped when
 * the kernel has no Landlock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox.h"

static char data[256];

static void touch(const char *rel)
{
	char p[512];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", data, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
}

static int setup(void **state)
{
	char p[512];

	(void)state;
	snprintf(data, sizeof(data), "/tmp/tether-ll-XXXXXX");
	if (!mkdtemp(data))
		return -1;
	snprintf(p, sizeof(p), "%s/vault", data);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/catalog", data);
	mkdir(p, 0700);
	touch("vault/master.key");
	touch("catalog/catalog.db");
	touch("outside");
	return 0;
}

static int teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", data);
	return system(cmd) == 0 ? 0 : -1;
}

/* errno of open(rel, flags) after entering `role` (0: it opened). */
enum { CHILD_SKIP = 200 };
struct probe { const char *path; int flags; int want_errno; };

static void run_probes(enum sbx_role role, const struct probe *p, size_t n)
{
	pid_t pid;
	int status;

	if (sbx_landlock_abi() <= 0)
		skip();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (sbx_landlock_enter(role, data, NULL, NULL) <= 0)
			_exit(100);
		for (size_t i = 0; i < n; i++) {
			char path[512];
			int fd, got;

			if (p[i].path[0] == '/')
				snprintf(path, sizeof(path), "%s", p[i].path);
			else
				snprintf(path, sizeof(path), "%s/%s", data, p[i].path);
			fd = open(path, p[i].flags | O_CLOEXEC, 0600);
			got = fd >= 0 ? 0 : errno;
			if (fd >= 0)
				close(fd);
			if (got != p[i].want_errno) {
				fprintf(stderr, "role %s: open %s: errno %d, want %d\n",
					sbx_role_name(role), path, got, p[i].want_errno);
				_exit(1 + (int)i);
			}
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_vault_reaches_only_vault_dir(void **state)
{
	static const struct probe p[] = {
		{ "vault/master.key", O_RDONLY, 0 },
		{ "vault/new.tmp", O_WRONLY | O_CREAT | O_EXCL, 0 },
		{ "catalog/catalog.db", O_RDONLY, EACCES },
		{ "outside", O_RDONLY, EACCES },
		{ "/etc/hostname", O_RDONLY, EACCES },
		{ "/usr/lib/os-release", O_RDONLY, 0 },
	};
	(void)state;
	run_probes(SBX_ROLE_VAULT, p, sizeof(p) / sizeof(p[0]));
}

static void test_catalog_cannot_open_master_key(void **state)
{
	static const struct probe p[] = {
		{ "catalog/catalog.db", O_RDWR, 0 },
		{ "catalog/catalog.db-wal", O_RDWR | O_CREAT, 0 },
		{ "vault/master.key", O_RDONLY, EACCES },
		{ "outside", O_RDONLY, EACCES },
		{ "/etc/passwd", O_RDONLY, 0 },
		{ "/etc/passwd", O_WRONLY, EACCES },
		{ "/etc/hostname", O_RDONLY, EACCES },
	};
	(void)state;
	run_probes(SBX_ROLE_CATALOG, p, sizeof(p) / sizeof(p[0]));
}

static void test_validator_reads_tls_files_writes_nothing(void **state)
{
	static const struct probe p[] = {
		{ "/etc/ssl/certs", O_RDONLY | O_DIRECTORY, 0 },
		{ "/etc/resolv.conf", O_RDONLY, 0 },
		{ "/etc/hosts", O_RDONLY, 0 },
		{ "vault/master.key", O_RDONLY, EACCES },
		{ "catalog/catalog.db", O_RDONLY, EACCES },
		{ "/tmp/tether-ll-validator-write", O_WRONLY | O_CREAT, EACCES },
		{ "/etc/hosts", O_WRONLY, EACCES },
		{ "/etc/hostname", O_RDONLY, EACCES },
	};
	(void)state;
	run_probes(SBX_ROLE_VALIDATOR, p, sizeof(p) / sizeof(p[0]));
}

static void test_abi_reported(void **state)
{
	(void)state;
	/* PEERS.md 8: this VM's kernel has ABI 7; any kernel: >= 0. */
	assert_true(sbx_landlock_abi() >= 0);
	assert_int_equal(sbx_landlock_enter(SBX_ROLE_COUNT, data, NULL, NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_abi_reported),
		cmocka_unit_test(test_vault_reaches_only_vault_dir),
		cmocka_unit_test(test_catalog_cannot_open_master_key),
		cmocka_unit_test(test_validator_reads_tls_files_writes_nothing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
