/* tetherd's testable parts: argument parsing, data directory and lock,
 * the listening socket, restart backoff, the child role table and the
 * fork+exec of a child with its channels on known descriptors. */
#ifndef TETHER_SUP_H
#define TETHER_SUP_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "ipc.h"
#include "log.h"
#include "sandbox.h"

#define SUP_DEFAULT_DATA_DIR "./data"
#define SUP_LOCK_NAME "tetherd.lock"
#define SUP_SOCKET_PORT 6875
#define SUP_SOCKET_NAME ".s.PGSQL.6875"
#define SUP_LISTEN_BACKLOG 128
#define SUP_SHUTDOWN_GRACE_MS 5000

/* ---- arguments ---- */
struct sup_args {
	char data_dir[PATH_MAX];
	enum log_level log_level;
	int help;
};

/* Parses argv (argv[0] is skipped). Returns 0, or -1 with e set. */
int sup_args_parse(int argc, char *const argv[], struct sup_args *a, struct err *e);
const char *sup_usage(void);

/* ---- data directory ---- */
/* Creates `dir` (and missing parents) and dir/catalog, dir/vault, all 0700.
 * An existing directory with group/other permission bits is chmod'ed to
 * 0700 with a warning; one owned by another user is refused. Writes the
 * absolute path of `dir` into abs. */
int sup_datadir_init(const char *dir, char *abs, size_t abs_size, struct err *e);

/* Takes dir/tetherd.lock (flock, exclusive, non-blocking) and writes our
 * pid into it. If another process holds it: -1 with a message naming its
 * pid. The lock lives as long as *fd_out stays open. */
int sup_lock_acquire(const char *dir, int *fd_out, struct err *e);

/* Binds dir/.s.PGSQL.6875 (mode 0600, a stale socket file is removed:
 * the caller holds the lock) and listens. */
int sup_listener_open(const char *dir, int *fd_out, struct err *e);
void sup_listener_path(const char *dir, char *buf, size_t size);

/* ---- restart backoff ---- */
#define SUP_BACKOFF_MIN_MS 100u
#define SUP_BACKOFF_MAX_MS 10000u
#define SUP_BACKOFF_RESET_MS 30000u

struct sup_backoff {
	unsigned int next_ms;
};

void sup_backoff_init(struct sup_backoff *b);
/* Delay before restarting a child that ran for ran_ms: 100 ms doubling to
 * 10 s; a child that ran 30 s or more starts again at 100 ms. */
unsigned int sup_backoff_next(struct sup_backoff *b, uint64_t ran_ms);

/* ---- children ---- */
enum sup_child {
	SUP_CHILD_VAULT,        /* started first: the catalog reconciles with it */
	SUP_CHILD_CATALOG,
	SUP_CHILD_COUNT
};

enum sup_restart {
	SUP_RESTART_ALWAYS,     /* restart with backoff whatever the exit */
};

struct sup_role {
	const char *name;               /* "vault": logs, NewPeerChannel */
	const char *exe;                /* found next to tetherd */
	enum sbx_role sandbox;
	enum ipc_channel channel;       /* its channel to tetherd (we are end A) */
	enum sup_restart restart;
	int gets_listener;              /* fd SBX_FD_LISTENER at exec */
};

extern const struct sup_role sup_roles[SUP_CHILD_COUNT];

/* Fills out[] with the child's environment: PATH=/usr/bin:/bin plus the
 * entries of env named in the pass-through table (TETHER_SECCOMP_DEBUG and
 * the sanitizer options); NULL-terminated. Returns the count. */
size_t sup_child_env(char *const *env, const char **out, size_t max);

/* ---- privilege drop and confinement (privdrop.c; ops) ---- */
struct tcfg;
struct sup_creds {
	int drop;                       /* 0: run as tetherd's own user */
	uid_t uid;
	gid_t gid;
	char user[64];
};

/* As root: looks up the users of users.vault, users.catalog and
 * users.validator. A
 * missing user is fatal with users.required=true, else logged at error
 * level and nobody drops (all drop=0). Not root: all drop=0. Distinct,
 * non-zero uids are required. */
int sup_creds_resolve(const struct tcfg *cfg, struct sup_creds creds[SBX_ROLE_COUNT],
		      struct err *e);
/* With dropping in force: DATA becomes 0711 (traversable, not listable),
 * DATA/vault and DATA/catalog (recursively, symlinks not followed) are
 * given to their role's user and group, mode 0700. */
int sup_datadir_assign(const char *dir, const struct sup_creds creds[SBX_ROLE_COUNT],
		       struct err *e);
/* In a forked child: setgroups(0), setresgid, setresuid, then checks that
 * neither uid 0 nor a supplementary group can come back. 0 or -1. */
int sup_drop_privileges(const struct sup_creds *c);

/* What sup_spawn_ex applies in the child before exec. */
struct sup_confine {
	const struct sup_creds *creds;  /* NULL: keep tetherd's uid */
	int landlock;                   /* apply sbx_landlock_enter(role, ...) */
	enum sbx_role role;
	const char *data_dir;
	const char *extra_ro[4];        /* more read-only files, NULL-terminated */
};

/* fork + exec of `path` with argv/envp; fds[i] becomes descriptor 3 + i,
 * stdin is /dev/null, every other descriptor is closed, signals unblocked,
 * PR_SET_PDEATHSIG(SIGKILL). Waits until the exec happened: returns the pid,
 * or -1 with e set (exec failure included; that child is reaped). */
pid_t sup_spawn(const char *path, char *const argv[], const char *const envp[],
		const int *fds, size_t nfds, struct err *e);
/* The same, first dropping to cf->creds and entering Landlock (cf may be
 * NULL). A failure to confine is an exec failure (-1, e set). */
pid_t sup_spawn_ex(const char *path, char *const argv[], const char *const envp[],
		   const int *fds, size_t nfds, const struct sup_confine *cf, struct err *e);

/* ---- validators (validators.c): one short-lived process per job ---- */
#define SUP_VALIDATOR_EXE "tether-validator"
#define SUP_MAX_VALIDATORS 16
#define SUP_VALIDATOR_DEADLINE_DEFAULT_MS 30000u   /* SQL.md 6 */
#define SUP_VALIDATOR_DEADLINE_MAX_MS 600000u
/* How long the vault may take to make a grant durable before the job is
 * given up (it counts against the job's own deadline as well). */
#define SUP_GRANT_TIMEOUT_MS 10000u

enum sup_job_state { SUP_JOB_FREE, SUP_JOB_GRANTING, SUP_JOB_RUNNING };

struct sup_job {
	enum sup_job_state state;
	uint64_t job_id, connection_id;
	uint64_t grant_request_id;
	int cat_end;            /* catalog's end of validator<->catalog */
	int val_cat_end;        /* validator's ends, handed over at exec */
	int val_vault_end;
	pid_t pid;
	int pidfd;
	uint64_t requested_ms, started_ms;
	uint64_t deadline_ms;   /* CLOCK_MONOTONIC ms (sup_now_ms) */
	uint64_t killed_ms;     /* when SIGKILL was sent, 0 if not */
	int killed_at_deadline, cancelled, denied;
};

/* How the job table talks to its peers (tetherd.c sends over its channels;
 * tests record). Each returns 0 or -1. fd arguments are only borrowed. */
struct sup_jobs_ops {
	void *arg;
	int (*grant)(void *arg, uint64_t request_id, const Tether__Grant *g, int fd);
	int (*revoke)(void *arg, uint64_t job_id);
	int (*channel)(void *arg, uint64_t job_id, int fd);
	int (*ended)(void *arg, const Tether__JobEnded *m);
};

struct sup_jobs {
	char exe[PATH_MAX];
	const char *const *envp;
	struct sup_jobs_ops ops;
	const struct sup_confine *confine;  /* uid + Landlock of validators, or NULL */
	uint64_t next_request_id;
	struct sup_job jobs[SUP_MAX_VALIDATORS];
};

void sup_jobs_init(struct sup_jobs *j, const char *validator_exe,
		   const char *const *envp, const struct sup_jobs_ops *ops);
/* SpawnValidator from the catalog: grant first (to the vault), exec after
 * its Reply. A refusal (table full, bad request, no vault) is answered at
 * once with JobEnded{started=false}. */
void sup_jobs_spawn(struct sup_jobs *j, const Tether__SpawnValidator *m);
/* The vault's Reply to a Grant: exec the validator, or report why not.
 * Returns 1 if request_id was a grant of ours. */
int sup_jobs_grant_reply(struct sup_jobs *j, uint64_t request_id, const Tether__Reply *r);
/* CancelJob (catalog) or KillValidator (vault, denied=1): SIGKILL now, or
 * never start it. Unknown ids are ignored. */
void sup_jobs_kill(struct sup_jobs *j, uint64_t job_id, int denied, const char *why);
/* A reaped child: 1 if it was a validator (JobEnded + Revoke sent). */
int sup_jobs_reaped(struct sup_jobs *j, pid_t pid, int status);
/* Deadlines: SIGKILL validators whose time is up; give up grants the vault
 * did not answer. */
void sup_jobs_tick(struct sup_jobs *j, uint64_t now);
/* Milliseconds until the next deadline, or -1. */
int sup_jobs_timeout(const struct sup_jobs *j, uint64_t now);
/* The vault went away: grants in flight are lost (their jobs end). */
void sup_jobs_vault_lost(struct sup_jobs *j);
/* The catalog went away or tetherd stops: SIGKILL every validator; jobs
 * not yet started end. */
void sup_jobs_kill_all(struct sup_jobs *j, const char *why);
size_t sup_jobs_active(const struct sup_jobs *j);
/* Validators started and not yet reaped. */
size_t sup_jobs_running(const struct sup_jobs *j);

/* Directory of the running executable (where the children live). */
int sup_self_dir(char *buf, size_t size, struct err *e);

uint64_t sup_now_ms(void);

#endif
