/* Tests of supervisor/ (tether_supervisor): argument parsing, data directory
 * creation and permission fixing, the one-tetherd-per-directory lock, the
 * listening socket, the restart backoff sequence and the child spawn. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sup.h"

static char tmpdir[64];

static int make_tmpdir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tether-sup-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* ---- arguments ---- */
static int parse(struct sup_args *a, struct err *e, ...)
{
	char *argv[16] = { "tetherd" };
	int argc = 1;
	va_list ap;

	va_start(ap, e);
	for (char *s; (s = va_arg(ap, char *)) != NULL && argc < 15; )
		argv[argc++] = s;
	va_end(ap);
	return sup_args_parse(argc, argv, a, e);
}

static void test_args_defaults(void **state)
{
	struct sup_args a;
	struct err e;

	(void)state;
	assert_int_equal(parse(&a, &e, NULL), 0);
	assert_string_equal(a.data_dir, "./data");
	assert_int_equal(a.log_level, LOG_INFO);
	assert_false(a.help);
}

static void test_args_all_forms(void **state)
{
	struct sup_args a;
	struct err e;

	(void)state;
	assert_int_equal(parse(&a, &e, "--data-dir", "/srv/t", NULL), 0);
	assert_string_equal(a.data_dir, "/srv/t");
	assert_int_equal(parse(&a, &e, "--data-dir=/srv/u", "--log-level=debug", NULL), 0);
	assert_string_equal(a.data_dir, "/srv/u");
	assert_int_equal(a.log_level, LOG_DEBUG);
	assert_int_equal(parse(&a, &e, "-D", "d1", "--log-level", "error", NULL), 0);
	assert_string_equal(a.data_dir, "d1");
	assert_int_equal(a.log_level, LOG_ERROR);
	assert_int_equal(parse(&a, &e, "-Dd2", NULL), 0);
	assert_string_equal(a.data_dir, "d2");
	assert_int_equal(parse(&a, &e, "--help", NULL), 0);
	assert_true(a.help);
	assert_int_equal(parse(&a, &e, "-h", NULL), 0);
	assert_true(a.help);
}

static void test_args_errors(void **state)
{
	struct sup_args a;
	struct err e;

	(void)state;
	assert_int_equal(parse(&a, &e, "--data-dir", NULL), -1);
	assert_string_equal(e.message, "--data-dir needs a value");
	assert_int_equal(parse(&a, &e, "--log-level", "loud", NULL), -1);
	assert_non_null(strstr(e.message, "invalid --log-level 'loud'"));
	assert_int_equal(parse(&a, &e, "--bogus", NULL), -1);
	assert_string_equal(e.message, "unknown argument '--bogus'");
	assert_int_equal(parse(&a, &e, "extra", NULL), -1);
	assert_int_equal(parse(&a, &e, "--data-dirx", "y", NULL), -1);
	assert_int_equal(parse(&a, &e, "--help=yes", NULL), -1);
	assert_int_equal(parse(&a, &e, "--data-dir=", NULL), -1);
	assert_non_null(strstr(sup_usage(), "--data-dir"));
}

/* ---- data directory ---- */
static void test_datadir_created_private(void **state)
{
	char dir[PATH_MAX], abs[PATH_MAX], sub[PATH_MAX + 16];
	struct err e;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/a/b/data", tmpdir);
	umask(022);
	assert_int_equal(sup_datadir_init(dir, abs, sizeof(abs), &e), 0);
	assert_string_equal(abs, dir);          /* tmpdir is absolute already */
	assert_int_equal(mode_of(dir), 0700);
	snprintf(sub, sizeof(sub), "%s/catalog", dir);
	assert_int_equal(mode_of(sub), 0700);
	snprintf(sub, sizeof(sub), "%s/vault", dir);
	assert_int_equal(mode_of(sub), 0700);
	/* A second init of the same directory is fine. */
	assert_int_equal(sup_datadir_init(dir, abs, sizeof(abs), &e), 0);
}

static void test_datadir_loose_modes_are_tightened(void **state)
{
	char dir[PATH_MAX], abs[PATH_MAX], sub[PATH_MAX + 16];
	struct err e;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/loose", tmpdir);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(sub, sizeof(sub), "%s/vault", dir);
	assert_int_equal(mkdir(sub, 0777), 0);
	assert_int_equal(chmod(sub, 0777), 0);
	assert_int_equal(sup_datadir_init(dir, abs, sizeof(abs), &e), 0);
	assert_int_equal(mode_of(dir), 0700);
	assert_int_equal(mode_of(sub), 0700);
}

static void test_datadir_relative_path_becomes_absolute(void **state)
{
	char cwd[PATH_MAX], abs[PATH_MAX], want[PATH_MAX + 16];
	struct err e;

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	assert_int_equal(sup_datadir_init("./rel", abs, sizeof(abs), &e), 0);
	assert_int_equal(chdir(cwd), 0);
	snprintf(want, sizeof(want), "%s/rel", tmpdir);
	assert_string_equal(abs, want);
}

static void test_datadir_refuses_a_file(void **state)
{
	char path[PATH_MAX], abs[PATH_MAX];
	struct err e;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/plainfile", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(sup_datadir_init(path, abs, sizeof(abs), &e), -1);
	assert_non_null(strstr(e.message, "is not a directory"));
}

/* ---- lock ---- */
static void test_second_lock_is_refused_with_pid(void **state)
{
	char dir[PATH_MAX], abs[PATH_MAX], want[PATH_MAX + 128];
	char buf[32] = "";
	struct err e;
	int fd1, fd2, lf;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/locked", tmpdir);
	assert_int_equal(sup_datadir_init(dir, abs, sizeof(abs), &e), 0);
	assert_int_equal(sup_lock_acquire(abs, &fd1, &e), 0);
	assert_true(fd1 >= 0);
	/* Our pid is in the file. */
	snprintf(want, sizeof(want), "%s/tetherd.lock", abs);
	lf = open(want, O_RDONLY);
	assert_true(lf >= 0);
	assert_true(read(lf, buf, sizeof(buf) - 1) > 0);
	close(lf);
	assert_int_equal(atoi(buf), (int)getpid());
	assert_int_equal(mode_of(want) & 077, 0);
	/* flock is per open file: a second open in the same process fails. */
	assert_int_equal(sup_lock_acquire(abs, &fd2, &e), -1);
	assert_int_equal(fd2, -1);
	snprintf(want, sizeof(want),
		 "data directory %s is in use by another tetherd (pid %d)", abs, (int)getpid());
	assert_string_equal(e.message, want);
	/* Released with the descriptor; then it can be taken again. */
	close(fd1);
	assert_int_equal(sup_lock_acquire(abs, &fd2, &e), 0);
	close(fd2);
}

/* ---- listening socket ---- */
static void test_listener_replaces_stale_socket_mode_0600(void **state)
{
	char dir[PATH_MAX], abs[PATH_MAX], path[PATH_MAX + 32];
	struct err e;
	int fd1, fd2, c;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/sock", tmpdir);
	assert_int_equal(sup_datadir_init(dir, abs, sizeof(abs), &e), 0);
	assert_int_equal(sup_listener_open(abs, &fd1, &e), 0);
	sup_listener_path(abs, path, sizeof(path));
	assert_int_equal(mode_of(path), 0600);
	/* A stale socket file (as left by a killed tetherd) is replaced. */
	close(fd1);
	assert_int_equal(sup_listener_open(abs, &fd2, &e), 0);
	/* It accepts connections. */
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	sup_listener_path(abs, sa.sun_path, sizeof(sa.sun_path));
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(c);
	close(fd2);
}

static void test_listener_refuses_non_socket_and_long_paths(void **state)
{
	char dir[PATH_MAX], abs[PATH_MAX], path[PATH_MAX + 32];
	struct err e;
	int fd;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/notsock", tmpdir);
	assert_int_equal(sup_datadir_init(dir, abs, sizeof(abs), &e), 0);
	sup_listener_path(abs, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	assert_int_equal(sup_listener_open(abs, &fd, &e), -1);
	assert_non_null(strstr(e.message, "is not a socket"));

	char longdir[PATH_MAX];
	memset(longdir, 'x', 120);
	longdir[120] = '\0';
	assert_int_equal(sup_listener_open(longdir, &fd, &e), -1);
	assert_non_null(strstr(e.message, "use a shorter --data-dir"));
}

/* ---- backoff ---- */
static void test_backoff_sequence(void **state)
{
	static const unsigned int want[] = {
		100, 200, 400, 800, 1600, 3200, 6400, 10000, 10000, 10000,
	};
	struct sup_backoff b;

	(void)state;
	sup_backoff_init(&b);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(sup_backoff_next(&b, 50), want[i]);
	/* A child that ran 30 s starts over at 100 ms. */
	assert_int_equal(sup_backoff_next(&b, 30000), 100);
	assert_int_equal(sup_backoff_next(&b, 29999), 200);
	assert_int_equal(sup_backoff_next(&b, 10), 400);
	assert_int_equal(sup_backoff_next(&b, 3600000), 100);
}

/* ---- child table and environment ---- */
static void test_child_table_vault_first(void **state)
{
	(void)state;
	assert_int_equal(SUP_CHILD_VAULT, 0);
	assert_string_equal(sup_roles[SUP_CHILD_VAULT].name, "vault");
	assert_string_equal(sup_roles[SUP_CHILD_VAULT].exe, "tether-vault");
	assert_int_equal(sup_roles[SUP_CHILD_VAULT].sandbox, SBX_ROLE_VAULT);
	assert_int_equal(sup_roles[SUP_CHILD_VAULT].channel, IPC_SUP_VAULT);
	assert_false(sup_roles[SUP_CHILD_VAULT].gets_listener);
	assert_string_equal(sup_roles[SUP_CHILD_CATALOG].exe, "tether-catalog");
	assert_int_equal(sup_roles[SUP_CHILD_CATALOG].channel, IPC_SUP_CATALOG);
	assert_true(sup_roles[SUP_CHILD_CATALOG].gets_listener);
}

static void test_child_env_is_scrubbed(void **state)
{
	char *env[] = {
		"HOME=/root", "PATH=/usr/local/bin:/usr/bin", "TETHER_SECCOMP_DEBUG=1",
		"ASAN_OPTIONS=detect_leaks=1", "SECRET=hunter2", "LSAN_OPTIONS=x",
		"TETHER_SECCOMP_DEBUGX=no", NULL,
	};
	const char *out[8];
	size_t n;

	(void)state;
	n = sup_child_env(env, out, 8);
	assert_int_equal(n, 4);
	assert_string_equal(out[0], "PATH=/usr/bin:/bin");
	assert_string_equal(out[1], "TETHER_SECCOMP_DEBUG=1");
	assert_string_equal(out[2], "ASAN_OPTIONS=detect_leaks=1");
	assert_string_equal(out[3], "LSAN_OPTIONS=x");
	assert_null(out[4]);
	/* Bounded by max, always NULL-terminated. */
	assert_int_equal(sup_child_env(env, out, 2), 1);
	assert_null(out[1]);
}

/* ---- spawn ---- */
static void test_spawn_wires_fds_and_scrubs(void **state)
{
	int a[2], b[2], extra;
	char *argv[] = { "sh", "-c",
		/* fd 3 and 4 open, 5+ closed, stdin /dev/null, env scrubbed */
		"[ -e /proc/self/fd/3 ] && [ -e /proc/self/fd/4 ] && "
		"[ ! -e /proc/self/fd/5 ] && [ ! -e /proc/self/fd/6 ] && "
		"[ \"$(readlink /proc/self/fd/0)\" = /dev/null ] && "
		"[ \"$SECRET\" = \"\" ] && "
		"grep -q '^SigBlk:[[:space:]]*0*$' /proc/self/status && exit 7; exit 1",
		NULL };
	const char *envp[] = { "PATH=/usr/bin:/bin", NULL };
	struct err e;
	int status;
	pid_t pid;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, a), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, b), 0);
	extra = open("/dev/null", O_RDONLY);    /* not CLOEXEC: must still close */
	int fds[] = { b[1], a[1] };     /* crossed on purpose */
	pid = sup_spawn("/bin/sh", argv, envp, fds, 2, &e);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 7);
	close(a[0]); close(a[1]); close(b[0]); close(b[1]); close(extra);
}

static void test_spawn_reports_exec_failure(void **state)
{
	char *argv[] = { "nope", NULL };
	const char *envp[] = { NULL };
	struct err e;

	(void)state;
	assert_int_equal(sup_spawn("/nonexistent/tether-nope", argv, envp, NULL, 0, &e), -1);
	assert_non_null(strstr(e.message, "cannot start /nonexistent/tether-nope"));
	assert_non_null(strstr(e.message, "No such file"));
	/* The failed child was reaped. */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args_defaults),
		cmocka_unit_test(test_args_all_forms),
		cmocka_unit_test(test_args_errors),
		cmocka_unit_test(test_datadir_created_private),
		cmocka_unit_test(test_datadir_loose_modes_are_tightened),
		cmocka_unit_test(test_datadir_relative_path_becomes_absolute),
		cmocka_unit_test(test_datadir_refuses_a_file),
		cmocka_unit_test(test_second_lock_is_refused_with_pid),
		cmocka_unit_test(test_listener_replaces_stale_socket_mode_0600),
		cmocka_unit_test(test_listener_refuses_non_socket_and_long_paths),
		cmocka_unit_test(test_backoff_sequence),
		cmocka_unit_test(test_child_table_vault_first),
		cmocka_unit_test(test_child_env_is_scrubbed),
		cmocka_unit_test(test_spawn_wires_fds_and_scrubs),
		cmocka_unit_test(test_spawn_reports_exec_failure),
	};
	log_set_level(LOG_ERROR);       /* the permission warnings are expected */
	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
