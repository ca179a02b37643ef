/* See harness.h. Paths to the built binaries come from CMake
 * (TETHERD_PATH). */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void th_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Reaps what is left of tetherd's process group (the harness is a child
 * subreaper, so orphaned children come to it), waiting at most 5 s. */
static void reap_group(pid_t pgid)
{
	for (long deadline = now_ms() + 5000; now_ms() < deadline;) {
		pid_t r = waitpid(-pgid, NULL, WNOHANG);
		if (r < 0 && errno == ECHILD)
			return;
		if (r <= 0)
			th_sleep_ms(2);
	}
}

static int spawn(struct tetherd *t)
{
	/* Children orphaned by a killed tetherd are reparented to us, so we can
	 * tell when they are really gone. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int out = open(t->out_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		int log = open(t->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (out < 0 || log < 0)
			_exit(127);
		setpgid(0, 0);     /* its own group: th_kill kills them all */
		dup2(out, 1);
		dup2(log, 2);
		const char *argv[20] = { "tetherd", "--data-dir", t->data_dir };
		size_t n = 3;
		for (size_t i = 0; t->args && t->args[i] && n < 19; i++)
			argv[n++] = t->args[i];
		argv[n] = NULL;
		execv(TETHERD_PATH, (char *const *)argv);
		_exit(127);
	}
	setpgid(pid, pid);
	t->pid = pid;
	for (long deadline = now_ms() + 20000; now_ms() < deadline; th_sleep_ms(20)) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			t->pid = 0;
			fprintf(stderr, "harness: tetherd exited early (status %d); log %s\n",
				st, t->log_path);
			return -1;
		}
		PGconn *c = th_connect(t);
		if (c) {
			PQfinish(c);
			return 0;
		}
	}
	fprintf(stderr, "harness: tetherd not ready within 20 s; log %s\n", t->log_path);
	return -1;
}

int th_start(struct tetherd *t)
{
	return th_start_args(t, NULL);
}

int th_start_args(struct tetherd *t, const char *const *args)
{
	const char *tmp = getenv("TMPDIR");

	memset(t, 0, sizeof(*t));
	t->args = args;
	snprintf(t->dir, sizeof(t->dir), "%s/tether-it-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(t->dir))
		return -1;
	snprintf(t->data_dir, sizeof(t->data_dir), "%s/data", t->dir);
	snprintf(t->log_path, sizeof(t->log_path), "%s/tetherd.log", t->dir);
	snprintf(t->out_path, sizeof(t->out_path), "%s/tetherd.out", t->dir);
	return spawn(t);
}

int th_restart(struct tetherd *t)
{
	return spawn(t);
}

int th_stop(struct tetherd *t)
{
	int st;

	if (t->pid <= 0)
		return -1;
	kill(t->pid, SIGTERM);
	for (long deadline = now_ms() + 15000; now_ms() < deadline; th_sleep_ms(10)) {
		if (waitpid(t->pid, &st, WNOHANG) == t->pid) {
			reap_group(t->pid);
			t->pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
	}
	th_kill(t);
	return -1;
}

void th_kill(struct tetherd *t)
{
	if (t->pid <= 0)
		return;
	kill(-t->pid, SIGKILL);
	waitpid(t->pid, NULL, 0);
	reap_group(t->pid);
	t->pid = 0;
}

static int remove_entry(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return -1;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *de;
		char sub[1024];
		if (!d)
			return -1;
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			chmod(sub, 0700);
			remove_entry(sub);
		}
		closedir(d);
		return rmdir(path);
	}
	return unlink(path);
}

void th_cleanup(struct tetherd *t)
{
	if (t->dir[0] && !getenv("TETHER_KEEP_TEST_DIRS"))
		remove_entry(t->dir);
}

PGconn *th_connect_as(const struct tetherd *t, const char *role, const char *db)
{
	char conninfo[600];
	PGconn *c;

	snprintf(conninfo, sizeof(conninfo),
		 "host=%s port=6875 user=%s dbname=%s connect_timeout=5",
		 t->data_dir, role, db);
	c = PQconnectdb(conninfo);
	if (PQstatus(c) != CONNECTION_OK) {
		PQfinish(c);
		return NULL;
	}
	return c;
}

PGconn *th_connect(const struct tetherd *t)
{
	return th_connect_as(t, "materialize", "materialize");
}

int th_exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType s = PQresultStatus(r);
	int ok = (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK || s == PGRES_EMPTY_QUERY);
	if (!ok)
		fprintf(stderr, "harness: %.80s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	return ok;
}

const char *th_exec_sqlstate(PGconn *c, const char *sql, const char **message)
{
	static char state[8], msg[1024];
	PGresult *r = PQexec(c, sql);
	const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);

	snprintf(state, sizeof(state), "%s", s ? s : "");
	snprintf(msg, sizeof(msg), "%s", m ? m : (r ? "" : PQerrorMessage(c)));
	if (!r && !s[0])
		snprintf(state, sizeof(state), "conn");
	PQclear(r);
	if (message)
		*message = msg;
	return state;
}

char *th_query_value(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	char *v = NULL;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 &&
	    !PQgetisnull(r, 0, 0))
		v = strdup(PQgetvalue(r, 0, 0));
	else if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fprintf(stderr, "harness: %.80s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	return v;
}

static pid_t read_ppid(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	int ppid = -1;
	if (p && sscanf(p + 2, "%*c %d", &ppid) == 1)
		return ppid;
	return -1;
}

pid_t th_child_pid(const struct tetherd *t, const char *comm)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = -1;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char path[300], name[64] = "";
		pid_t pid = (pid_t)atoi(de->d_name);
		if (pid <= 0 || read_ppid(pid) != t->pid)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(name, sizeof(name), f))
			name[strcspn(name, "\n")] = '\0';
		fclose(f);
		if (!strcmp(name, comm)) {
			found = pid;
			break;
		}
	}
	closedir(d);
	return found;
}

pid_t th_wait_child_restart(const struct tetherd *t, const char *comm, pid_t old,
			    int timeout_ms)
{
	for (long deadline = now_ms() + timeout_ms; now_ms() < deadline; th_sleep_ms(20)) {
		pid_t p = th_child_pid(t, comm);
		if (p > 0 && p != old)
			return p;
	}
	return -1;
}

static int file_contains(const char *path, const void *needle, size_t len)
{
	FILE *f = fopen(path, "rb");
	static char buf[1 << 16];
	size_t keep = 0, n;
	int hit = 0;

	if (!f)
		return 0;
	/* Sliding window so matches across chunk borders are found. */
	while (!hit && (n = fread(buf + keep, 1, sizeof(buf) - keep, f)) > 0) {
		size_t have = keep + n;
		if (memmem(buf, have, needle, len))
			hit = 1;
		keep = len - 1 < have ? len - 1 : have;
		memmove(buf, buf + have - keep, keep);
	}
	fclose(f);
	return hit;
}

int th_tree_contains(const char *path, const void *needle, size_t len)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return 0;
	if (S_ISREG(st.st_mode))
		return file_contains(path, needle, len);
	if (!S_ISDIR(st.st_mode))
		return 0;
	DIR *d = opendir(path);
	struct dirent *de;
	int hit = 0;
	if (!d)
		return 0;
	while (!hit && (de = readdir(d))) {
		char sub[1024];
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		hit = th_tree_contains(sub, needle, len);
	}
	closedir(d);
	return hit;
}
