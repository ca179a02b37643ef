/* Tests of sandbox/: each role's confinement is checked from inside a forked
 * child (which reports by exit status), forbidden syscalls must end the child
 * with SIGSYS, and descriptor closing keeps exactly the kept descriptors. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/epoll.h>
#include <sys/un.h>

#include "sandbox.h"

/* Runs fn(arg) in a forked child; returns the raw wait status. */
static int run_child(int (*fn)(void *), void *arg)
{
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn(arg));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void assert_exited(int status, int code)
{
	if (!WIFEXITED(status))
		fail_msg("child did not exit: signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : -1);
	assert_int_equal(WEXITSTATUS(status), code);
}

static void assert_killed_by_sigsys(int status)
{
	if (!WIFSIGNALED(status))
		fail_msg("child exited %d instead of dying of SIGSYS", WEXITSTATUS(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
}

static int status_has(const char *line)
{
	char buf[8192];
	int fd = open("/proc/self/status", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strstr(buf, line) != NULL;
}

/* Exit codes name the check that failed. */
static int child_enter_and_inspect(void *arg)
{
	enum sbx_role role = *(enum sbx_role *)arg;
	struct rlimit rl;

	sbx_enter(role, NULL, 0);
	if (!status_has("\nSeccomp:\t2\n"))
		return 10;
	if (!status_has("\nNoNewPrivs:\t1\n"))
		return 11;
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		return 12;
	if (getrlimit(RLIMIT_CORE, &rl) != 0 || rl.rlim_cur != 0 || rl.rlim_max != 0)
		return 13;
	return 0;
}

static void test_each_role_is_confined_after_enter(void **state)
{
	(void)state;
	for (int r = 0; r < SBX_ROLE_COUNT; r++) {
		enum sbx_role role = (enum sbx_role)r;

		assert_exited(run_child(child_enter_and_inspect, &role), 0);
	}
}

static void test_role_names(void **state)
{
	(void)state;
	assert_string_equal(sbx_role_name(SBX_ROLE_VAULT), "vault");
	assert_string_equal(sbx_role_name(SBX_ROLE_CATALOG), "catalog");
	assert_string_equal(sbx_role_name(SBX_ROLE_VALIDATOR), "validator");
	assert_string_equal(sbx_role_name((enum sbx_role)42), "?");
}

static void test_policies_never_list_forbidden_calls(void **state)
{
	static const char *const vault_never[] = {
		"socket", "connect", "bind", "listen", "accept", "accept4",
		"execve", "execveat", "ptrace", "fork", "vfork", "clone", "clone3",
		"process_vm_readv", "process_vm_writev", "kill", "tkill",
	};
	static const char *const catalog_never[] = {
		"socket", "connect", "bind", "listen", "execve", "execveat",
		"ptrace", "fork", "vfork", "clone", "clone3",
		"process_vm_readv", "process_vm_writev", "kill",
	};
	static const char *const validator_never[] = {
		"execve", "execveat", "ptrace", "fork", "vfork", "clone3",
		"process_vm_readv", "process_vm_writev", "kill", "unlink",
		"rename", "creat",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(vault_never) / sizeof(*vault_never); i++)
		if (sbx_policy_lists(SBX_ROLE_VAULT, vault_never[i]))
			fail_msg("vault policy allows %s", vault_never[i]);
	for (size_t i = 0; i < sizeof(catalog_never) / sizeof(*catalog_never); i++)
		if (sbx_policy_lists(SBX_ROLE_CATALOG, catalog_never[i]))
			fail_msg("catalog policy allows %s", catalog_never[i]);
	for (size_t i = 0; i < sizeof(validator_never) / sizeof(*validator_never); i++)
		if (sbx_policy_lists(SBX_ROLE_VALIDATOR, validator_never[i]))
			fail_msg("validator policy allows %s", validator_never[i]);
	/* And the ones each role needs are there. */
	assert_true(sbx_policy_lists(SBX_ROLE_VAULT, "fsync"));
	assert_true(sbx_policy_lists(SBX_ROLE_CATALOG, "accept4"));
	assert_true(sbx_policy_lists(SBX_ROLE_VALIDATOR, "connect"));
}

/* A forbidden call in each role: the child must die of SIGSYS. */
static int child_vault_socket(void *arg)
{
	(void)arg;
	sbx_enter(SBX_ROLE_VAULT, NULL, 0);
	socket(AF_UNIX, SOCK_STREAM, 0);
	return 0;
}

static int child_vault_fork(void *arg)
{
	(void)arg;
	sbx_enter(SBX_ROLE_VAULT, NULL, 0);
	pid_t p = fork();
	if (p == 0)
		_exit(0);
	return 0;
}

static int child_vault_ptrace(void *arg)
{
	(void)arg;
	sbx_enter(SBX_ROLE_VAULT, NULL, 0);
	ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	return 0;
}

static int child_vault_exec_memory(void *arg)
{
	(void)arg;
	sbx_enter(SBX_ROLE_VAULT, NULL, 0);
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	(void)p;
	return 0;
}

static int child_catalog_execve(void *arg)
{
	char *argv[] = { "/bin/true", NULL };
	char *envp[] = { NULL };

	(void)arg;
	sbx_enter(SBX_ROLE_CATALOG, NULL, 0);
	execve("/bin/true", argv, envp);
	return 0;
}

static int child_catalog_socket(void *arg)
{
	(void)arg;
	sbx_enter(SBX_ROLE_CATALOG, NULL, 0);
	socket(AF_INET, SOCK_STREAM, 0);
	return 0;
}

static int child_validator_execve(void *arg)
{
	char *argv[] = { "/bin/true", NULL };
	char *envp[] = { NULL };

	(void)arg;
	sbx_enter(SBX_ROLE_VALIDATOR, NULL, 0);
	execve("/bin/true", argv, envp);
	return 0;
}

static int child_validator_packet_socket(void *arg)
{
	(void)arg;
	sbx_enter(SBX_ROLE_VALIDATOR, NULL, 0);
	socket(AF_PACKET, SOCK_RAW, 0);
	return 0;
}

/* abort() still works (tgkill on ourselves), and kill() of another
 * process is forbidden. */
static int child_vault_abort(void *arg)
{
	(void)arg;
	sbx_enter(SBX_ROLE_VAULT, NULL, 0);
	abort();
}

static int child_vault_kill_parent(void *arg)
{
	(void)arg;
	sbx_enter(SBX_ROLE_VAULT, NULL, 0);
	kill(getppid(), 0);
	return 0;
}

static void test_abort_is_sigabrt_but_kill_is_forbidden(void **state)
{
	int st;

	(void)state;
	st = run_child(child_vault_abort, NULL);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGABRT);
	assert_killed_by_sigsys(run_child(child_vault_kill_parent, NULL));
}

#ifdef __x86_64__
/* getpid through the i386 ABI: allowed natively, but another ABI is a
 * way around a filter written for x86_64 syscall numbers. */
static int child_vault_i386_abi(void *arg)
{
	long ret;

	(void)arg;
	sbx_enter(SBX_ROLE_VAULT, NULL, 0);
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
	return ret > 0 ? 0 : 1;
}
#endif

static void test_forbidden_syscalls_kill_with_sigsys(void **state)
{
	int (*const cases[])(void *) = {
		child_vault_socket, child_vault_fork, child_vault_ptrace,
		child_vault_exec_memory, child_catalog_execve,
		child_catalog_socket, child_validator_execve,
		child_validator_packet_socket,
#ifdef __x86_64__
		child_vault_i386_abi,
#endif
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_killed_by_sigsys(run_child(cases[i], NULL));
}

/* The validator may do what its jobs need: network sockets, threads,
 * reading files; opening for writing fails with EACCES, not a kill. */
static void *thread_main(void *arg)
{
	return arg;
}

static int child_validator_allowed(void *arg)
{
	pthread_t t;
	void *ret = NULL;
	int fd;

	(void)arg;
	sbx_enter(SBX_ROLE_VALIDATOR, NULL, 0);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 20;
	close(fd);
	if (pthread_create(&t, NULL, thread_main, (void *)0x1) != 0)
		return 21;
	if (pthread_join(t, &ret) != 0 || ret != (void *)0x1)
		return 22;
	fd = open("/proc/self/status", O_RDONLY);
	if (fd < 0)
		return 23;
	close(fd);
	errno = 0;
	if (open("/tmp/tether-validator-must-not-write", O_WRONLY | O_CREAT, 0600) >= 0 ||
	    errno != EACCES)
		return 24;
	errno = 0;
	if (open("/proc/self/status", O_RDWR) >= 0 || errno != EACCES)
		return 25;
	return 0;
}

static void test_validator_allows_network_threads_and_reads(void **state)
{
	(void)state;
	assert_exited(run_child(child_validator_allowed, NULL), 0);
}

/* The vault keeps working on its files and channels after entering. */
static int child_vault_file_work(void *arg)
{
	const char *dir = arg;
	char path[256], path2[256];
	int fd;

	sbx_enter(SBX_ROLE_VAULT, NULL, 0);
	snprintf(path, sizeof(path), "%s/f.tmp", dir);
	snprintf(path2, sizeof(path2), "%s/f", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return 30;
	if (write(fd, "x", 1) != 1 || fsync(fd) != 0 || fdatasync(fd) != 0)
		return 31;
	close(fd);
	if (rename(path, path2) != 0)
		return 32;
	if (unlink(path2) != 0)
		return 33;
	void *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || mprotect(p, 4096, PROT_NONE) != 0 ||
	    mlock((char *)p + 4096, 4096) != 0 || munmap(p, 8192) != 0)
		return 34;
	return 0;
}

static void test_vault_can_work_on_its_files(void **state)
{
	char dir[] = "/tmp/tether-sbx-XXXXXX";
	char cmd[64];

	(void)state;
	int status;

	assert_non_null(mkdtemp(dir));
	status = run_child(child_vault_file_work, dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	assert_exited(status, 0);
}

/* What the catalog does with SQLite (WAL, synchronous=FULL), checked under
 * the catalog's filter: every syscall SQLite needs must be listed. */
static int child_catalog_sqlite(void *arg)
{
	const char *dir = arg;
	char path[256];
	sqlite3 *db;
	sqlite3_stmt *st;
	int count = -1;

	sbx_enter(SBX_ROLE_CATALOG, NULL, 0);
	snprintf(path, sizeof(path), "%s/catalog.db", dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
		return 60;
	if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			 "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT);"
			 "BEGIN; INSERT INTO t(name) VALUES ('a'),('b'); COMMIT;"
			 "PRAGMA wal_checkpoint(TRUNCATE);"
			 "INSERT INTO t(name) VALUES ('c');", NULL, NULL, NULL) != SQLITE_OK)
		return 61;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, NULL) != SQLITE_OK)
		return 62;
	if (sqlite3_step(st) == SQLITE_ROW)
		count = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (sqlite3_close(db) != SQLITE_OK)
		return 63;
	/* Reopen (recovers the WAL), as after a restart. */
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "SELECT * FROM t", NULL, NULL, NULL) != SQLITE_OK)
		return 64;
	sqlite3_close(db);
	return count == 3 ? 0 : 65;
}

static void test_catalog_runs_sqlite_wal(void **state)
{
	char dir[] = "/tmp/tether-sbx-XXXXXX";
	char cmd[64];

	(void)state;
	int status;

	assert_non_null(mkdtemp(dir));
	status = run_child(child_catalog_sqlite, dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	assert_exited(status, 0);
}

/* The catalog serves clients on an inherited listener: accept4,
 * SO_PEERCRED, epoll, non-blocking I/O. */
static int listen_fd_for_test = -1;

static int child_catalog_serves(void *arg)
{
	const int keep[] = { listen_fd_for_test };
	struct epoll_event ev = { .events = EPOLLIN }, out;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char buf[8];
	int ep, c;

	(void)arg;
	sbx_enter(SBX_ROLE_CATALOG, keep, 1);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return 70;
	ev.data.fd = listen_fd_for_test;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd_for_test, &ev) != 0 ||
	    epoll_wait(ep, &out, 1, 5000) != 1)
		return 71;
	c = accept4(listen_fd_for_test, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c < 0)
		return 72;
	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
	    cred.uid != getuid())
		return 73;
	struct pollfd p = { .fd = c, .events = POLLIN };
	if (poll(&p, 1, 5000) != 1 || recv(c, buf, sizeof(buf), 0) != 4 ||
	    send(c, "pong", 4, MSG_NOSIGNAL) != 4)
		return 74;
	shutdown(c, SHUT_RDWR);
	close(c);
	return 0;
}

static void test_catalog_accepts_with_peercred(void **state)
{
	char dir[] = "/tmp/tether-sbx-XXXXXX";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[8] = "";
	int status, c;
	pid_t pid;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/s", dir);
	listen_fd_for_test = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(listen_fd_for_test, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(listen_fd_for_test, 8), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_catalog_serves(NULL));
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(send(c, "ping", 4, 0), 4);
	assert_int_equal(recv(c, buf, 4, MSG_WAITALL), 4);
	assert_memory_equal(buf, "pong", 4);
	close(c);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_exited(status, 0);
	close(listen_fd_for_test);
	unlink(sa.sun_path);
	rmdir(dir);
}

/* The vault's key arena: libsodium's guarded, locked allocations. */
static int child_vault_sodium(void *arg)
{
	unsigned char *key;
	unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	unsigned char ct[64 + crypto_aead_xchacha20poly1305_ietf_ABYTES];
	unsigned long long ctlen;

	(void)arg;
	sbx_enter(SBX_ROLE_VAULT, NULL, 0);
	if (sodium_init() < 0)
		return 80;
	key = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
	if (!key)
		return 81;
	randombytes_buf(key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
	randombytes_buf(nonce, sizeof(nonce));
	if (sodium_mprotect_noaccess(key) != 0 || sodium_mprotect_readonly(key) != 0)
		return 82;
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &ctlen, (const unsigned char *)"v", 1,
						       NULL, 0, NULL, nonce, key) != 0)
		return 83;
	if (sodium_mlock(ct, sizeof(ct)) != 0 || sodium_munlock(ct, sizeof(ct)) != 0)
		return 84;
	sodium_free(key);
	return 0;
}

static void test_vault_uses_sodium_arena(void **state)
{
	(void)state;
	assert_exited(run_child(child_vault_sodium, NULL), 0);
}

/* Descriptors 3..20 open; keep 5, 9 and 20 (and 0-2). */
static int child_close_fds(void *arg)
{
	const int keep[] = { 20, 5, 9, 5, -1 };

	(void)arg;
	for (int fd = 3; fd <= 20; fd++)
		if (dup2(STDERR_FILENO, fd) != fd)
			return 40;
	if (sbx_close_fds_except(keep, sizeof(keep) / sizeof(keep[0])) != 0)
		return 41;
	for (int fd = 0; fd <= 25; fd++) {
		int open_now = fcntl(fd, F_GETFD) >= 0;
		int want = fd <= 2 || fd == 5 || fd == 9 || fd == 20;

		if (open_now != want)
			return 50 + fd;
	}
	return 0;
}

static void test_close_fds_keeps_only_listed(void **state)
{
	(void)state;
	assert_exited(run_child(child_close_fds, NULL), 0);
}

static int child_enter_closes_fds(void *arg)
{
	const int keep[] = { 4 };

	(void)arg;
	for (int fd = 3; fd <= 6; fd++)
		if (dup2(STDERR_FILENO, fd) != fd)
			return 40;
	sbx_enter(SBX_ROLE_VAULT, keep, 1);
	if (fcntl(3, F_GETFD) >= 0 || fcntl(5, F_GETFD) >= 0 || fcntl(6, F_GETFD) >= 0)
		return 41;
	if (fcntl(4, F_GETFD) < 0)
		return 42;
	return 0;
}

static void test_enter_closes_unlisted_fds(void **state)
{
	(void)state;
	assert_exited(run_child(child_enter_closes_fds, NULL), 0);
}

static void test_close_fds_rejects_huge_keep_list(void **state)
{
	static int keep[100];

	(void)state;
	errno = 0;
	assert_int_equal(sbx_close_fds_except(keep, 100), -1);
	assert_int_equal(errno, EINVAL);
}

/* Fail closed: an impossible policy exits with SBX_EXIT_FAILED. */
static int child_enter_bad_role(void *arg)
{
	(void)arg;
	sbx_enter((enum sbx_role)99, NULL, 0);
	return 0;
}

static void test_enter_fails_closed(void **state)
{
	(void)state;
	assert_exited(run_child(child_enter_bad_role, NULL), SBX_EXIT_FAILED);
}

/* TETHER_SECCOMP_DEBUG=1: the blocked call is named on stderr and the
 * process exits with SBX_EXIT_FAILED. */
static int debug_pipe[2];

static int child_debug_socket(void *arg)
{
	(void)arg;
	dup2(debug_pipe[1], STDERR_FILENO);
	close(debug_pipe[0]);
	close(debug_pipe[1]);
	setenv("TETHER_SECCOMP_DEBUG", "1", 1);
	sbx_enter(SBX_ROLE_VAULT, NULL, 0);
	socket(AF_UNIX, SOCK_STREAM, 0);
	return 0;
}

static void test_debug_mode_names_blocked_syscall(void **state)
{
	char buf[512];
	size_t len = 0;
	ssize_t n;
	int status;

	(void)state;
	assert_int_equal(pipe(debug_pipe), 0);
	status = run_child(child_debug_socket, NULL);
	close(debug_pipe[1]);
	while (len < sizeof(buf) - 1 &&
	       (n = read(debug_pipe[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(debug_pipe[0]);
	buf[len] = '\0';
	assert_exited(status, SBX_EXIT_FAILED);
	assert_non_null(strstr(buf, "seccomp: blocked syscall 41 (socket)\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_role_names),
		cmocka_unit_test(test_policies_never_list_forbidden_calls),
		cmocka_unit_test(test_each_role_is_confined_after_enter),
		cmocka_unit_test(test_forbidden_syscalls_kill_with_sigsys),
		cmocka_unit_test(test_abort_is_sigabrt_but_kill_is_forbidden),
		cmocka_unit_test(test_validator_allows_network_threads_and_reads),
		cmocka_unit_test(test_vault_can_work_on_its_files),
		cmocka_unit_test(test_vault_uses_sodium_arena),
		cmocka_unit_test(test_catalog_runs_sqlite_wal),
		cmocka_unit_test(test_catalog_accepts_with_peercred),
		cmocka_unit_test(test_close_fds_keeps_only_listed),
		cmocka_unit_test(test_enter_closes_unlisted_fds),
		cmocka_unit_test(test_close_fds_rejects_huge_keep_list),
		cmocka_unit_test(test_enter_fails_closed),
		cmocka_unit_test(test_debug_mode_names_blocked_syscall),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
