/* Privilege drop (supervisor/privdrop.c): resolving the role users, handing
 * the data directory to them, and the drop in a forked child. The drop and
 * chown tests need root (CI runs as root) and skip otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "sup.h"

static void need_root(void)
{
	if (geteuid() != 0)
		skip();
}

static void test_drop_cannot_regain_root(void **state)
{
	struct sup_creds c = { .drop = 1, .uid = 65534, .gid = 65534, .user = "nobody" };
	pid_t pid;
	int status;

	(void)state;
	need_root();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (sup_drop_privileges(&c) != 0)
			_exit(1);
		if (getuid() != 65534 || geteuid() != 65534 || getgid() != 65534)
			_exit(2);
		if (setuid(0) == 0 || setgid(0) == 0 || setgroups(0, NULL) == 0)
			_exit(3);
		if (getgroups(0, NULL) != 0)
			_exit(4);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_no_drop_requested_is_noop(void **state)
{
	struct sup_creds c = { .drop = 0 };

	(void)state;
	assert_int_equal(sup_drop_privileges(&c), 0);
	assert_int_equal(sup_drop_privileges(NULL), 0);
}

static void set(struct tcfg *cfg, enum tcfg_key k, const char *v)
{
	struct err e;

	assert_int_equal(tcfg_set(cfg, k, v, "test", &e), 0);
}

static void test_missing_user_falls_back_or_refuses(void **state)
{
	struct sup_creds creds[SBX_ROLE_COUNT];
	struct tcfg cfg;
	struct err e;

	(void)state;
	need_root();
	tcfg_init(&cfg);
	set(&cfg, TCFG_USER_VAULT, "tether-no-such-user-x");
	assert_int_equal(sup_creds_resolve(&cfg, creds, &e), 0);
	for (int r = 0; r < SBX_ROLE_COUNT; r++)
		assert_int_equal(creds[r].drop, 0);
	set(&cfg, TCFG_USERS_REQUIRED, "true");
	assert_int_equal(sup_creds_resolve(&cfg, creds, &e), -1);
	assert_non_null(strstr(e.message, "tether init --create-users"));
	assert_non_null(strstr(e.message, "tether-no-such-user-x"));
}

static void test_roles_sharing_a_user_refused(void **state)
{
	struct sup_creds creds[SBX_ROLE_COUNT];
	struct tcfg cfg;
	struct err e;

	(void)state;
	need_root();
	tcfg_init(&cfg);
	set(&cfg, TCFG_USER_VAULT, "nobody");
	set(&cfg, TCFG_USER_CATALOG, "nobody");
	set(&cfg, TCFG_USER_VALIDATOR, "daemon");
	assert_int_equal(sup_creds_resolve(&cfg, creds, &e), -1);
	assert_non_null(strstr(e.message, "same user"));
	set(&cfg, TCFG_USER_CATALOG, "root");
	assert_int_equal(sup_creds_resolve(&cfg, creds, &e), -1);
	assert_non_null(strstr(e.message, "uid or gid 0"));
}

static void test_user_names_checked(void **state)
{
	struct tcfg cfg;
	struct err e;

	(void)state;
	tcfg_init(&cfg);
	assert_int_equal(tcfg_set(&cfg, TCFG_USER_VAULT, "Root;rm", "test", &e), -1);
	assert_int_equal(tcfg_set(&cfg, TCFG_USER_VAULT, "tether-vault_2", "test", &e), 0);
	assert_string_equal(tcfg_get(&cfg, TCFG_USER_CATALOG), "tether-catalog");
	assert_string_equal(tcfg_get(&cfg, TCFG_USER_VALIDATOR), "tether-validator");
}

static void test_datadir_given_to_role_users(void **state)
{
	struct sup_creds creds[SBX_ROLE_COUNT] = {
		[SBX_ROLE_VAULT] = { 1, 65534, 65534, "nobody" },
		[SBX_ROLE_CATALOG] = { 1, 1, 1, "daemon" },
		[SBX_ROLE_VALIDATOR] = { 1, 2, 2, "bin" },
	};
	char top[] = "/tmp/tether-pd-XXXXXX", data[64], p[128], cmd[128];
	struct stat st;
	struct err e;
	int fd;

	(void)state;
	need_root();
	assert_non_null(mkdtemp(top));
	snprintf(data, sizeof(data), "%s/data", top);
	/* A parent the users cannot pass is named in the error. */
	assert_int_equal(mkdir(data, 0700), 0);
	assert_int_equal(chmod(top, 0700), 0);
	assert_int_equal(sup_datadir_assign(data, creds, &e), -1);
	assert_non_null(strstr(e.message, "chmod o+x"));
	assert_int_equal(chmod(top, 0711), 0);
	snprintf(p, sizeof(p), "%s/vault", data);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/catalog", data);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/vault/master.key", data);
	fd = open(p, O_WRONLY | O_CREAT, 0400);
	assert_true(fd >= 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/vault/evil", data);
	assert_int_equal(symlink("/etc/passwd", p), 0);

	assert_int_equal(sup_datadir_assign(data, creds, &e), 0);
	assert_int_equal(stat(data, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0711);
	assert_int_equal(st.st_uid, 0);
	snprintf(p, sizeof(p), "%s/vault/master.key", data);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_mode & 07777, 0400);
	snprintf(p, sizeof(p), "%s/catalog", data);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_uid, 1);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* The symlink itself changed owner, not its target. */
	assert_int_equal(stat("/etc/passwd", &st), 0);
	assert_int_equal(st.st_uid, 0);

	/* Without dropping nothing is touched. */
	creds[SBX_ROLE_VAULT].drop = 0;
	assert_int_equal(chmod(data, 0700), 0);
	assert_int_equal(sup_datadir_assign(data, creds, &e), 0);
	assert_int_equal(stat(data, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drop_cannot_regain_root),
		cmocka_unit_test(test_no_drop_requested_is_noop),
		cmocka_unit_test(test_missing_user_falls_back_or_refuses),
		cmocka_unit_test(test_roles_sharing_a_user_refused),
		cmocka_unit_test(test_user_names_checked),
		cmocka_unit_test(test_datadir_given_to_role_users),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
