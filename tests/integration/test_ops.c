/* Operations end to end (issue 8): the `tether` CLI against a real tetherd
 * (status output, exit codes, audit verify on a good and on tampered logs),
 * and, as root, the privilege drop: children under their own uids, DATA
 * handed to them, the catalog's uid unable to open DATA/vault/master.key.
 * The test creates its own users (unique names) and removes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static char out[65536];

/* Runs the CLI with `args` (a shell word list, already quoted); stdout and
 * stderr into out[]; returns its exit status. */
static int cli(const char *fmt, ...)
{
	char args[2048], cmd[2400];
	va_list ap;
	FILE *p;
	size_t n = 0;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", TETHER_CLI_PATH, args);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (n < sizeof(out) - 1) {
		size_t r = fread(out + n, 1, sizeof(out) - 1 - n, p);
		if (r == 0)
			break;
		n += r;
	}
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_usage_and_connect_exit_codes(void **state)
{
	(void)state;
	assert_int_equal(cli(""), 2);
	assert_int_equal(cli("frobnicate"), 2);
	assert_int_equal(cli("--help"), 0);
	assert_non_null(strstr(out, "Exit codes"));
	assert_int_equal(cli("status --help"), 0);
	assert_int_equal(cli("audit verify --help"), 0);
	assert_int_equal(cli("rotate --help"), 0);
	assert_int_equal(cli("init --help"), 0);
	assert_int_equal(cli("rotate sideways"), 2);
	assert_int_equal(cli("audit verify"), 2);
	assert_int_equal(cli("status --bogus"), 2);
	assert_int_equal(cli("status -D /nonexistent/tether-data"), 3);
	assert_non_null(strstr(out, "cannot connect"));
	assert_int_equal(cli("rotate data-key -D /nonexistent/tether-data"), 3);
}

static void copy_file(const char *from, const char *to)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
	assert_int_equal(system(cmd), 0);
}

/* Rewrites `path` keeping lines for which keep(i) and applying edit. */
static void rewrite_lines(const char *path, int drop_line, int swap_a, int flip_line)
{
	char *lines[4096];
	size_t n = 0;
	char buf[16384];
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	while (n < 4096 && fgets(buf, sizeof(buf), f))
		lines[n++] = strdup(buf);
	fclose(f);
	assert_true(n >= 4);
	if (flip_line > 0) {
		char *eq = strstr(lines[flip_line - 1], "event=");
		assert_non_null(eq);
		eq[6] ^= 0x01;
	}
	if (swap_a > 0) {
		char *t = lines[swap_a - 1];
		lines[swap_a - 1] = lines[swap_a];
		lines[swap_a] = t;
	}
	f = fopen(path, "w");
	assert_non_null(f);
	for (size_t i = 0; i < n; i++) {
		if ((int)i + 1 != drop_line)
			fputs(lines[i], f);
		free(lines[i]);
	}
	fclose(f);
}

static void test_status_and_audit_verify(void **state)
{
	struct tetherd t;
	PGconn *c;
	char log[400], copy[400];
	struct stat sb;

	(void)state;
	assert_int_equal(th_start(&t), 0);
	c = th_connect(&t);
	assert_non_null(c);
	assert_true(th_exec_ok(c, "CREATE SECRET ops_s1 AS 'v1'"));
	assert_true(th_exec_ok(c, "CREATE SECRET ops_s2 AS 'v2'"));
	assert_true(th_exec_ok(c, "ALTER SECRET ops_s2 AS 'v3'"));
	PQfinish(c);

	assert_int_equal(cli("status -D '%s'", t.data_dir), 0);
	assert_non_null(strstr(out, "supervisor"));
	assert_non_null(strstr(out, "vault"));
	assert_non_null(strstr(out, "catalog"));
	assert_non_null(strstr(out, "filter"));         /* seccomp mode 2 */
	assert_non_null(strstr(out, "data-key term 1"));
	assert_non_null(strstr(out, "audit:  last seq"));
	assert_non_null(strstr(out, "secrets:      2"));
	assert_non_null(strstr(out, "roles:        1"));

	/* A restarted child shows its restart count. */
	pid_t vpid = th_child_pid(&t, "tether-vault");
	assert_true(vpid > 0);
	kill(vpid, SIGKILL);
	assert_true(th_wait_child_restart(&t, "tether-vault", vpid, 10000) > 0);
	int rc = -1;
	for (int i = 0; i < 50; i++) {
		rc = cli("status -D '%s'", t.data_dir);
		if (rc == 0 && strstr(out, "signal 9"))
			break;
		th_sleep_ms(100);
	}
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "last exit: signal 9"));

	/* Rotation follows the progress view to the end. */
	assert_int_equal(cli("rotate data-key -D '%s' --timeout 60", t.data_dir), 0);
	assert_non_null(strstr(out, "term 2: done"));
	assert_int_equal(cli("rotate master-key -D '%s'", t.data_dir), 0);
	/* The vault's counters are polled: the new term shows within ~1 s. */
	for (int i = 0; i < 30; i++) {
		assert_int_equal(cli("status -D '%s'", t.data_dir), 0);
		if (strstr(out, "data-key term 2"))
			break;
		th_sleep_ms(100);
	}
	assert_non_null(strstr(out, "data-key term 2"));

	assert_int_equal(th_stop(&t), 0);
	assert_int_equal(cli("status -D '%s'", t.data_dir), 3);

	/* The live log and a directory argument verify. */
	snprintf(log, sizeof(log), "%s/vault/audit.log", t.data_dir);
	assert_int_equal(cli("audit verify '%s/vault'", t.data_dir), 0);
	assert_non_null(strstr(out, "OK: "));
	snprintf(copy, sizeof(copy), "%s/vault/audit.pub", t.data_dir);
	if (stat(copy, &sb) == 0) {
		assert_int_equal(cli("audit verify --pubkey '%s' '%s'", copy, log), 0);
		assert_non_null(strstr(out, "verified with the given key"));
	}
	assert_int_equal(cli("audit verify --pubkey not-a-key '%s'", log), 2);

	snprintf(copy, sizeof(copy), "%s/audit.copy", t.dir);
	/* A flipped byte in record 3. */
	copy_file(log, copy);
	rewrite_lines(copy, 0, 0, 3);
	assert_int_equal(cli("audit verify '%s'", copy), 1);
	assert_non_null(strstr(out, "record 3"));
	/* Record 2 deleted. */
	copy_file(log, copy);
	rewrite_lines(copy, 2, 0, 0);
	assert_int_equal(cli("audit verify '%s'", copy), 1);
	assert_non_null(strstr(out, "record 2"));
	/* Records 3 and 4 swapped. */
	copy_file(log, copy);
	rewrite_lines(copy, 0, 3, 0);
	assert_int_equal(cli("audit verify '%s'", copy), 1);
	assert_non_null(strstr(out, "record 3"));
	/* Cut in the middle of the last record. */
	copy_file(log, copy);
	assert_int_equal(stat(copy, &sb), 0);
	assert_int_equal(truncate(copy, sb.st_size - 10), 0);
	assert_int_equal(cli("audit verify '%s'", copy), 1);
	assert_non_null(strstr(out, "TAMPERED"));
	/* A missing file is a failure, not a usage error. */
	assert_int_equal(cli("audit verify '%s/nope.log'", t.dir), 1);
	th_cleanup(&t);
}

/* ---- as root: the privilege drop ---- */

static int proc_uid(pid_t pid)
{
	char path[64], line[256];
	FILE *f;
	int uid = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Uid:", 4)) {
			int r, e, s, fs;
			if (sscanf(line + 4, "%d %d %d %d", &r, &e, &s, &fs) == 4 &&
			    r == e && e == s && s == fs)
				uid = r;
			break;
		}
	fclose(f);
	return uid;
}

/* errno of opening `path` as uid/gid (0 if it opened). */
static int open_as(uid_t uid, gid_t gid, const char *path)
{
	int st;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) || setresgid(gid, gid, gid) || setresuid(uid, uid, uid))
			_exit(255);
		int fd = open(path, O_RDONLY);
		_exit(fd >= 0 ? 0 : errno);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 254;
}

static void test_privilege_drop_as_root(void **state)
{
	static const char *args[3] = { NULL, NULL, NULL };
	char users[3][32], conf[400], path[600];
	struct passwd *pw[3];
	struct tetherd t;
	struct stat sb;
	PGconn *c;

	(void)state;
	if (geteuid() != 0)
		skip();
	if (access("/usr/sbin/useradd", X_OK) != 0)
		skip();
	snprintf(users[0], sizeof(users[0]), "tt-v%d", (int)getpid());
	snprintf(users[1], sizeof(users[1]), "tt-c%d", (int)getpid());
	snprintf(users[2], sizeof(users[2]), "tt-a%d", (int)getpid());

	/* A first start without users: DATA exists, owned by root. */
	assert_int_equal(th_start_args(&t, args), 0);
	assert_int_equal(th_stop(&t), 0);

	snprintf(conf, sizeof(conf), "%s/ops.conf", t.dir);
	FILE *f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f, "users.vault = %s\nusers.catalog = %s\nusers.validator = %s\n"
		"users.required = true\n", users[0], users[1], users[2]);
	fclose(f);
	args[0] = "--config";
	args[1] = conf;
	/* Required users missing: refused, with the fix named. */
	assert_int_equal(th_restart(&t), -1);
	snprintf(path, sizeof(path), "grep -q 'tether init --create-users' '%s'", t.log_path);
	assert_int_equal(system(path), 0);

	assert_int_equal(cli("init -D '%s' --config '%s' --create-users", t.data_dir, conf), 0);
	for (int i = 0; i < 3; i++) {
		pw[i] = getpwnam(users[i]);
		assert_non_null(pw[i]);
		static struct passwd copy[3];
		copy[i] = *pw[i];
		pw[i] = &copy[i];
	}
	/* The test's temp dir is 0700: tetherd names it. */
	assert_int_equal(chmod(t.dir, 0700), 0);
	assert_int_equal(th_restart(&t), -1);
	snprintf(path, sizeof(path), "grep -q 'chmod o+x' '%s'", t.log_path);
	assert_int_equal(system(path), 0);
	assert_int_equal(chmod(t.dir, 0711), 0);

	assert_int_equal(th_restart(&t), 0);
	pid_t vpid = th_child_pid(&t, "tether-vault"), cpid = th_child_pid(&t, "tether-catalog");
	assert_true(vpid > 0 && cpid > 0);
	assert_int_equal(proc_uid(vpid), (int)pw[0]->pw_uid);
	assert_int_equal(proc_uid(cpid), (int)pw[1]->pw_uid);
	assert_int_not_equal(pw[0]->pw_uid, pw[1]->pw_uid);

	/* DATA's layout. */
	assert_int_equal(stat(t.data_dir, &sb), 0);
	assert_int_equal(sb.st_uid, 0);
	assert_int_equal(sb.st_mode & 07777, 0711);
	snprintf(path, sizeof(path), "%s/vault", t.data_dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_uid, pw[0]->pw_uid);
	assert_int_equal(sb.st_mode & 07777, 0700);
	snprintf(path, sizeof(path), "%s/vault/master.key", t.data_dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_uid, pw[0]->pw_uid);
	/* The catalog's uid cannot read the vault's files; the vault's can. */
	assert_int_equal(open_as(pw[1]->pw_uid, pw[1]->pw_gid, path), EACCES);
	assert_int_equal(open_as(pw[0]->pw_uid, pw[0]->pw_gid, path), 0);
	snprintf(path, sizeof(path), "%s/catalog/catalog.db", t.data_dir);
	assert_int_equal(open_as(pw[0]->pw_uid, pw[0]->pw_gid, path), EACCES);

	/* Everything still works, and status shows the users. */
	c = th_connect(&t);
	assert_non_null(c);
	assert_true(th_exec_ok(c, "CREATE SECRET dropped AS 'x'"));
	char *uid = th_query_value(c, "SELECT uid FROM tether_internal.tether_processes "
				   "WHERE role = 'catalog'");
	assert_non_null(uid);
	assert_int_equal(atoi(uid), (int)pw[1]->pw_uid);
	free(uid);
	PQfinish(c);
	assert_int_equal(cli("status -D '%s'", t.data_dir), 0);
	assert_non_null(strstr(out, users[0]));
	assert_non_null(strstr(out, users[1]));
	assert_int_equal(th_stop(&t), 0);

	th_cleanup(&t);
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "userdel %s 2>/dev/null; groupdel %s 2>/dev/null; true",
			 users[i], users[i]);
		assert_int_equal(system(path), 0);
		assert_null(getpwnam(users[i]));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usage_and_connect_exit_codes),
		cmocka_unit_test(test_status_and_audit_verify),
		cmocka_unit_test(test_privilege_drop_as_root),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
