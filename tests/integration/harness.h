/* Integration-test harness: starts a real tetherd on a fresh temp data dir,
 * connects real libpq clients to it, and stops or kills it. Every wait is
 * bounded in time. */
#ifndef TETHER_TEST_HARNESS_H
#define TETHER_TEST_HARNESS_H

#include <libpq-fe.h>
#include <sys/types.h>

struct tetherd {
	char dir[256];          /* temp dir holding data/ and logs */
	char data_dir[300];
	char log_path[300];     /* tetherd's stderr (all processes' logs) */
	char out_path[300];     /* tetherd's stdout */
	pid_t pid;              /* also the process group of its children */
	const char *const *args;/* more tetherd arguments (th_start_args) */
};

/* Creates a temp dir (under $TMPDIR or /tmp) and starts tetherd on it.
 * Returns 0 once the socket accepts a libpq connection, -1 on timeout. */
int th_start(struct tetherd *t);
/* The same with more tetherd arguments (NULL-terminated, at most 16; kept
 * for th_restart, so they must outlive t). */
int th_start_args(struct tetherd *t, const char *const *args);
/* Restarts tetherd on the same data dir (after th_kill or th_stop). */
int th_restart(struct tetherd *t);
/* SIGTERM and wait (bounded); returns tetherd's exit status or -1. */
int th_stop(struct tetherd *t);
/* SIGKILL the whole process group and reap tetherd. */
void th_kill(struct tetherd *t);
/* Removes the temp dir (after stop/kill). */
void th_cleanup(struct tetherd *t);

/* A libpq connection as role materialize; NULL (and a message on stderr)
 * on failure. */
PGconn *th_connect(const struct tetherd *t);
PGconn *th_connect_as(const struct tetherd *t, const char *role, const char *db);

/* Runs `sql`; returns 1 if the result status is a success. */
int th_exec_ok(PGconn *c, const char *sql);
/* Runs `sql` and returns its SQLSTATE ("" on success) in a static buffer;
 * the primary message goes to *message if non-NULL (static buffer too). */
const char *th_exec_sqlstate(PGconn *c, const char *sql, const char **message);
/* First column of the first row of `sql` as a malloc'd string, or NULL. */
char *th_query_value(PGconn *c, const char *sql);

/* pids of the children of tetherd whose /proc/<pid>/comm is `comm`. */
pid_t th_child_pid(const struct tetherd *t, const char *comm);
/* Waits until a child `comm` with a pid other than `old` exists. */
pid_t th_wait_child_restart(const struct tetherd *t, const char *comm, pid_t old,
			    int timeout_ms);
/* 1 if the file/tree under `path` contains `needle` (binary search of bytes). */
int th_tree_contains(const char *path, const void *needle, size_t len);
/* Milliseconds sleep. */
void th_sleep_ms(int ms);

#endif
