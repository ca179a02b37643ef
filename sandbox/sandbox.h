/* Confinement of tether's child processes. Every child calls sbx_enter()
 * once, early in main(), after opening the files it needs at start-up.
 * It fails closed: if any step cannot be applied the process exits. */
#ifndef TETHER_SANDBOX_H
#define TETHER_SANDBOX_H

#include <stddef.h>

enum sbx_role {
	SBX_ROLE_VAULT,
	SBX_ROLE_CATALOG,
	SBX_ROLE_VALIDATOR,
	SBX_ROLE_COUNT
};

/* Descriptors every child inherits from tetherd (set up before exec). */
enum sbx_fd {
	SBX_FD_SUPERVISOR = 3,  /* channel to tetherd (SEQPACKET) */
	SBX_FD_PEER = 4,        /* catalog<->vault channel (SEQPACKET) */
	SBX_FD_LISTENER = 5,    /* catalog only: the pgwire listening socket */
	SBX_FD_TCP_LISTENER = 6,/* catalog only, if listen.tcp is set: TCP */
	/* A validator (tether-validator, one per job) keeps the same numbering
	 * so that every role finds "its vault" at 4: fd 3 is /dev/null (it has
	 * nothing to say to tetherd; its end is watched through the pid), fd 4
	 * its validator<->vault channel, fd 5 its validator<->catalog channel. */
	SBX_FD_VALIDATOR_NULL = 3,
	SBX_FD_VALIDATOR_VAULT = 4,
	SBX_FD_VALIDATOR_CATALOG = 5,
};

/* Exit status of a child that could not confine itself; tetherd logs it. */
#define SBX_EXIT_FAILED 70

const char *sbx_role_name(enum sbx_role role);

/* PR_SET_NO_NEW_PRIVS, PR_SET_DUMPABLE 0, RLIMIT_CORE 0, closes every
 * descriptor except 0-2 and keep_fds, then loads the role's seccomp
 * allowlist (default action: kill the process). Exits with SBX_EXIT_FAILED
 * on any failure. */
void sbx_enter(enum sbx_role role, const int *keep_fds, size_t nkeep);

/* The steps of sbx_enter() without the final seccomp load, for unit tests
 * and for sbx_enter itself; return 0 or -1 (errno set). */
int sbx_harden_process(void);
int sbx_close_fds_except(const int *keep_fds, size_t nkeep);
int sbx_load_seccomp(enum sbx_role role);

/* Landlock (landlock.c). The kernel's Landlock ABI version, 0 when it has
 * none (or it is disabled). */
int sbx_landlock_abi(void);
/* Confines the calling process's file access to what `role` needs:
 * data_dir/<role dir> read-write (vault, catalog), read-only system files,
 * execute of `exe` and the libraries, plus the read-only files named in
 * the NULL-terminated `extra_ro` (may be NULL: e.g. the catalog's TLS
 * certificate and key from tether.conf). Sets no_new_privs. The domain is
 * inherited across execve, so tetherd calls it between fork and exec.
 * Returns the ABI enforced (> 0), 0 when the kernel has no Landlock
 * (nothing done), -1 with errno on failure. Allocates nothing. */
int sbx_landlock_enter(enum sbx_role role, const char *data_dir, const char *exe,
		       const char *const *extra_ro);

/* 1 if the role's policy allows `syscall` (by name) under some arguments:
 * lets tests check what a policy must never contain. */
int sbx_policy_lists(enum sbx_role role, const char *syscall);

#endif
