/* tetherd as a whole, with stand-in children (standin.c, under the real
 * sandbox): the ready line, confined children with exactly their
 * descriptors, the lock refusal, restarts with NewPeerChannel to the
 * surviving peer, and a clean SIGTERM shutdown. The real vault and catalog
 * are exercised by tests/integration. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sup.h"

static char root[64];           /* temp dir: bin/ and data/ */
static char bin_dir[128], data_dir[128], log_path[128], tetherd_path[160];
static pid_t tetherd_pid;
static int out_fd = -1;
static int all_passed;          /* else teardown shows tetherd's log */

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int copy_file(const char *src, const char *dst)
{
	char buf[65536];
	ssize_t n;
	int in = open(src, O_RDONLY), out;

	if (in < 0)
		return -1;
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			n = -1;
	close(in);
	close(out);
	return n < 0 ? -1 : 0;
}

static int read_ppid(pid_t pid)
{
	char path[64], buf[512];
	int fd, ppid = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (p && sscanf(p + 2, "%*c %d", &ppid) == 1)
		return ppid;
	return -1;
}

/* The live (non-zombie) child of tetherd whose comm is `comm`. */
static pid_t child_pid(const char *comm)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = -1;

	while (d && (de = readdir(d))) {
		char path[300], name[64] = "";
		pid_t pid = (pid_t)atoi(de->d_name);
		int fd;
		ssize_t n;

		if (pid <= 0 || read_ppid(pid) != tetherd_pid)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, name, sizeof(name) - 1);
		close(fd);
		if (n > 0)
			name[strcspn(name, "\n")] = '\0';
		if (strcmp(name, comm) == 0) {
			found = pid;
			break;
		}
	}
	if (d)
		closedir(d);
	return found;
}

static int file_contains(const char *path, const char *needle)
{
	static char buf[1 << 20];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	/* memmem: /proc/<pid>/environ is NUL-separated. */
	return memmem(buf, (size_t)n, needle, strlen(needle)) != NULL;
}

static int wait_log(const char *needle, int ms)
{
	for (int t = 0; t < ms; t += 20, sleep_ms(20))
		if (file_contains(log_path, needle))
			return 1;
	return 0;
}

static pid_t wait_new_child(const char *comm, pid_t old, int ms)
{
	for (int t = 0; t < ms; t += 20, sleep_ms(20)) {
		pid_t p = child_pid(comm);

		if (p > 0 && p != old)
			return p;
	}
	return -1;
}

static pid_t start_tetherd(const char *dir, int *stdout_fd)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);

		dup2(p[1], STDOUT_FILENO);
		dup2(log, STDERR_FILENO);
		execl(tetherd_path, "tetherd", "--data-dir", dir, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	*stdout_fd = p[0];
	return pid;
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/tether-tetherd-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	snprintf(bin_dir, sizeof(bin_dir), "%s/bin", root);
	snprintf(data_dir, sizeof(data_dir), "%s/data", root);
	snprintf(log_path, sizeof(log_path), "%s/tetherd.log", root);
	snprintf(tetherd_path, sizeof(tetherd_path), "%s/tetherd", bin_dir);
	if (mkdir(bin_dir, 0700) != 0)
		return -1;
	/* Children are found next to tetherd's own executable. */
	char p1[200], p2[200];
	snprintf(p1, sizeof(p1), "%s/tether-vault", bin_dir);
	snprintf(p2, sizeof(p2), "%s/tether-catalog", bin_dir);
	if (copy_file(TETHERD_PATH, tetherd_path) != 0 ||
	    copy_file(STANDIN_PATH, p1) != 0 || copy_file(STANDIN_PATH, p2) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[256];

	(void)state;
	if (!all_passed) {
		snprintf(cmd, sizeof(cmd), "cat '%s' >&2", log_path);
		if (system(cmd) != 0)
			fprintf(stderr, "(no tetherd log)\n");
	}
	if (tetherd_pid > 0) {
		kill(tetherd_pid, SIGKILL);
		waitpid(tetherd_pid, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_ready_line_and_confined_children(void **state)
{
	char line[512] = "", want[512], path[300];
	struct pollfd p;
	size_t n = 0;

	(void)state;
	tetherd_pid = start_tetherd(data_dir, &out_fd);
	assert_true(tetherd_pid > 0);
	/* One line on stdout, within 10 s. */
	while (n < sizeof(line) - 1 && !strchr(line, '\n')) {
		p.fd = out_fd;
		p.events = POLLIN;
		assert_int_equal(poll(&p, 1, 10000), 1);
		ssize_t r = read(out_fd, line + n, sizeof(line) - 1 - n);
		assert_true(r > 0);
		n += (size_t)r;
		line[n] = '\0';
	}
	snprintf(want, sizeof(want), "tetherd ready; connect with: psql \"host=%s port=6875 "
		 "user=materialize dbname=materialize\"\n", data_dir);
	assert_string_equal(line, want);
	assert_true(file_contains(log_path, "event=ready"));

	snprintf(path, sizeof(path), "%s/.s.PGSQL.6875", data_dir);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);

	static const struct { const char *comm; int nfds; } kids[] = {
		{ "tether-vault", 5 }, { "tether-catalog", 6 },
	};
	for (size_t i = 0; i < 2; i++) {
		pid_t c = child_pid(kids[i].comm);
		char fdpath[300];

		assert_true(c > 0);
		snprintf(path, sizeof(path), "/proc/%d/status", (int)c);
		assert_true(file_contains(path, "\nSeccomp:\t2\n"));
		assert_true(file_contains(path, "\nNoNewPrivs:\t1\n"));
		/* Exactly 0..nfds-1 open, once start-up is over: a sanitizer
		 * runtime may hold a file open for a moment while it starts. */
		int bad_fd = -1;
		for (int attempt = 0; attempt < 200; attempt++) {
			bad_fd = -1;
			for (int fd = 0; fd < 16 && bad_fd < 0; fd++) {
				snprintf(fdpath, sizeof(fdpath), "/proc/%d/fd/%d", (int)c, fd);
				if ((access(fdpath, F_OK) == 0) != (fd < kids[i].nfds))
					bad_fd = fd;
			}
			if (bad_fd < 0)
				break;
			usleep(10000);
		}
		if (bad_fd >= 0)
			fail_msg("%s: descriptor %d open=%d, want %d", kids[i].comm, bad_fd,
				 bad_fd >= kids[i].nfds, bad_fd < kids[i].nfds);
		snprintf(path, sizeof(path), "/proc/%d/environ", (int)c);
		assert_true(file_contains(path, "PATH=/usr/bin:/bin"));
		assert_false(file_contains(path, "HOME="));
	}
}

static void test_second_tetherd_is_refused(void **state)
{
	char want[256];
	int fd, status;
	pid_t pid;

	(void)state;
	assert_true(tetherd_pid > 0);
	pid = start_tetherd(data_dir, &fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(fd);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	snprintf(want, sizeof(want),
		 "tetherd: data directory %s is in use by another tetherd (pid %d)\n",
		 data_dir, (int)tetherd_pid);
	assert_true(file_contains(log_path, want));
}

static void test_restarts_hand_new_peer_channels(void **state)
{
	pid_t vault, catalog, v2, c2;

	(void)state;
	vault = child_pid("tether-vault");
	catalog = child_pid("tether-catalog");
	assert_true(vault > 0 && catalog > 0);

	kill(vault, SIGKILL);
	v2 = wait_new_child("tether-vault", vault, 5000);
	assert_true(v2 > 0);
	assert_true(wait_log("event=child_exited role=vault", 2000));
	assert_true(wait_log("signal=9", 2000));
	/* The surviving catalog got the other end of the new pair. */
	assert_true(wait_log("proc=catalog", 2000));
	assert_true(wait_log("event=standin_new_peer peer=vault generation=2", 3000));
	assert_int_equal(child_pid("tether-catalog"), catalog);

	kill(catalog, SIGKILL);
	c2 = wait_new_child("tether-catalog", catalog, 5000);
	assert_true(c2 > 0);
	assert_true(wait_log("event=standin_new_peer peer=catalog generation=3", 3000));
	assert_int_equal(child_pid("tether-vault"), v2);
}

static void test_sigterm_shuts_down_cleanly(void **state)
{
	char path[300];
	struct err e;
	int status = -1, lock_fd;

	(void)state;
	assert_true(tetherd_pid > 0);
	assert_int_equal(kill(tetherd_pid, SIGTERM), 0);
	for (int t = 0; t < 8000 && waitpid(tetherd_pid, &status, WNOHANG) == 0; t += 20)
		sleep_ms(20);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	tetherd_pid = 0;
	assert_true(file_contains(log_path, "event=shutdown signal=TERM"));
	assert_true(file_contains(log_path, "event=stopped"));
	snprintf(path, sizeof(path), "%s/.s.PGSQL.6875", data_dir);
	assert_int_equal(access(path, F_OK), -1);
	/* The lock is free again. */
	assert_int_equal(sup_lock_acquire(data_dir, &lock_fd, &e), 0);
	close(lock_fd);
	close(out_fd);
	all_passed = 1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_line_and_confined_children),
		cmocka_unit_test(test_second_tetherd_is_refused),
		cmocka_unit_test(test_restarts_hand_new_peer_channels),
		cmocka_unit_test(test_sigterm_shuts_down_cleanly),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
