/* The seccomp allowlist of every process role, as tables: a role is a list
 * of rule sets, a rule set a list of syscalls (optionally argument-checked,
 * optionally answered with an errno instead of killing). Nothing that is not
 * listed here is allowed: the default action kills the whole process. */
#include "sandbox_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/sockios.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>

#define A_EQ(n, v)       { .arg = (n), .op = SCMP_CMP_EQ, .datum_a = (v) }
#define A_MASK(n, m, v)  { .arg = (n), .op = SCMP_CMP_MASKED_EQ, .datum_a = (m), .datum_b = (v) }
#define ALLOW(name)      { name, 0, 0, 0, { { 0 } } }
#define ALLOW1(name, a)  { name, 0, 0, 1, { a } }
#define ALLOW2(name, a, b) { name, 0, 0, 2, { a, b } }
#define DENY(name, e)    { name, e, 0, 0, { { 0 } } }
#define DENY1(name, e, a) { name, e, 0, 1, { a } }
#define SET(r)           { r, sizeof(r) / sizeof((r)[0]) }

/* Every role: memory, time, its own descriptors, signals for exit. */
static const struct sbx_rule rules_base[] = {
	ALLOW("read"), ALLOW("write"), ALLOW("readv"), ALLOW("writev"),
	ALLOW("pread64"), ALLOW("pwrite64"), ALLOW("close"), ALLOW("close_range"),
	ALLOW("dup"), ALLOW("dup2"), ALLOW("dup3"),
	ALLOW("fstat"), ALLOW("newfstatat"), ALLOW("stat"), ALLOW("lstat"),
	ALLOW("statx"), ALLOW("lseek"), ALLOW("fcntl"), ALLOW("getdents64"),
	ALLOW("brk"), ALLOW("munmap"), ALLOW("mremap"), ALLOW("madvise"),
	ALLOW("mlock"), ALLOW("mlock2"), ALLOW("munlock"),
	ALLOW("getrandom"),
	ALLOW("clock_gettime"), ALLOW("clock_getres"), ALLOW("clock_nanosleep"),
	ALLOW("nanosleep"), ALLOW("gettimeofday"), ALLOW("time"),
	ALLOW("getpid"), ALLOW("gettid"), ALLOW("getppid"),
	ALLOW("getuid"), ALLOW("geteuid"), ALLOW("getgid"), ALLOW("getegid"),
	ALLOW("exit"), ALLOW("exit_group"), ALLOW("restart_syscall"),
	ALLOW("rt_sigreturn"), ALLOW("rt_sigprocmask"), ALLOW("rt_sigaction"),
	ALLOW("getrlimit"), ALLOW("uname"), ALLOW("futex"), ALLOW("sched_yield"),
	ALLOW("recvmsg"), ALLOW("sendmsg"), ALLOW("poll"), ALLOW("ppoll"),
	/* Query-only prlimit: the process may read its limits, never raise them. */
	ALLOW2("prlimit64", A_EQ(0, 0), A_EQ(2, 0)),
	ALLOW1("prctl", A_EQ(0, PR_GET_DUMPABLE)),
	ALLOW1("prctl", A_EQ(0, PR_GET_NO_NEW_PRIVS)),
	ALLOW1("prctl", A_EQ(0, PR_GET_SECCOMP)),
	ALLOW1("prctl", A_EQ(0, PR_SET_NAME)),
	ALLOW1("prctl", A_EQ(0, PR_GET_NAME)),
	/* stdio asks whether stderr is a terminal: "no". */
	DENY1("ioctl", ENOTTY, A_EQ(1, TCGETS)),
	/* glibc tries clone3 first and falls back to clone (filterable). */
	DENY("clone3", ENOSYS),
	/* abort() and raise(): signals to this process only (arg 0 = our
	 * tgid), so that a broken invariant dies of SIGABRT, not SIGSYS. */
	{ "tgkill", 0, SBX_RULE_SELF_PID_A0, 0, { { 0 } } },
};

/* W^X for roles that load no code after start. */
static const struct sbx_rule rules_mem_noexec[] = {
	ALLOW1("mmap", A_MASK(2, PROT_EXEC, 0)),
	ALLOW1("mprotect", A_MASK(2, PROT_EXEC, 0)),
};

static const struct sbx_rule rules_mem_exec[] = {
	ALLOW("mmap"), ALLOW("mprotect"),
};

/* Reading and writing files under the role's own directory (vault store,
 * SQLite database with its journal, WAL and shm). */
static const struct sbx_rule rules_files_rw[] = {
	ALLOW("open"), ALLOW("openat"), ALLOW("fsync"), ALLOW("fdatasync"),
	ALLOW("ftruncate"), ALLOW("fallocate"), ALLOW("rename"), ALLOW("renameat"),
	ALLOW("renameat2"), ALLOW("unlink"), ALLOW("unlinkat"), ALLOW("flock"),
	ALLOW("fchmod"), ALLOW("access"), ALLOW("faccessat"), ALLOW("faccessat2"),
	ALLOW("readlink"), ALLOW("readlinkat"), ALLOW("getcwd"),
	/* SQLite running as root chowns its journal/WAL to the database
	 * file's owner and ignores failure: refuse, never kill. */
	DENY("fchown", EPERM),
};

/* Serving clients on the inherited listening socket (catalog). */
static const struct sbx_rule rules_server[] = {
	ALLOW("accept"), ALLOW("accept4"), ALLOW("getsockopt"),
	ALLOW("setsockopt"), ALLOW("shutdown"), ALLOW("recvfrom"),
	ALLOW("sendto"), ALLOW("getsockname"), ALLOW("getpeername"),
	ALLOW("epoll_create1"), ALLOW("epoll_ctl"), ALLOW("epoll_wait"),
	ALLOW("epoll_pwait"), ALLOW("eventfd2"), ALLOW("timerfd_create"),
	ALLOW("timerfd_settime"), ALLOW("timerfd_gettime"),
	ALLOW1("ioctl", A_EQ(1, FIONBIO)), ALLOW1("ioctl", A_EQ(1, FIONREAD)),
};

/* Outgoing connections (validator). Only IP and Unix sockets, plus the
 * rtnetlink socket that getaddrinfo(AI_ADDRCONFIG) opens. */
static const struct sbx_rule rules_network[] = {
	ALLOW1("socket", A_EQ(0, AF_UNIX)), ALLOW1("socket", A_EQ(0, AF_INET)),
	ALLOW1("socket", A_EQ(0, AF_INET6)),
	ALLOW2("socket", A_EQ(0, AF_NETLINK), A_EQ(2, NETLINK_ROUTE)),
	ALLOW("connect"), ALLOW("bind"), ALLOW("getsockopt"), ALLOW("setsockopt"),
	ALLOW("getsockname"), ALLOW("getpeername"), ALLOW("sendto"),
	ALLOW("recvfrom"), ALLOW("sendmmsg"), ALLOW("recvmmsg"), ALLOW("shutdown"),
	ALLOW("epoll_create1"), ALLOW("epoll_ctl"), ALLOW("epoll_wait"),
	ALLOW("epoll_pwait"), ALLOW("eventfd2"), ALLOW("pipe"), ALLOW("pipe2"),
	ALLOW1("ioctl", A_EQ(1, FIONBIO)), ALLOW1("ioctl", A_EQ(1, FIONREAD)),
};

/* Threads only: clone must carry CLONE_THREAD (no fork through clone). */
static const struct sbx_rule rules_threads[] = {
	ALLOW1("clone", A_MASK(0, CLONE_THREAD, CLONE_THREAD)),
	ALLOW("set_robust_list"), ALLOW("rseq"), ALLOW("sched_getaffinity"),
	ALLOW("membarrier"),
};

/* Read-only file access: opening for writing answers EACCES rather than
 * killing, so libraries that probe (e.g. a cache file) fail gracefully. */
#define WRITE_FLAGS (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)
static const struct sbx_rule rules_files_ro[] = {
	ALLOW1("openat", A_MASK(2, WRITE_FLAGS, 0)),
	DENY1("openat", EACCES, A_MASK(2, O_WRONLY, O_WRONLY)),
	DENY1("openat", EACCES, A_MASK(2, O_RDWR, O_RDWR)),
	DENY1("openat", EACCES, A_MASK(2, O_CREAT, O_CREAT)),
	DENY1("openat", EACCES, A_MASK(2, O_TRUNC, O_TRUNC)),
	DENY1("openat", EACCES, A_MASK(2, O_APPEND, O_APPEND)),
	ALLOW1("open", A_MASK(1, WRITE_FLAGS, 0)),
	DENY1("open", EACCES, A_MASK(1, O_WRONLY, O_WRONLY)),
	DENY1("open", EACCES, A_MASK(1, O_RDWR, O_RDWR)),
	DENY1("open", EACCES, A_MASK(1, O_CREAT, O_CREAT)),
	DENY1("open", EACCES, A_MASK(1, O_TRUNC, O_TRUNC)),
	DENY1("open", EACCES, A_MASK(1, O_APPEND, O_APPEND)),
	DENY("creat", EACCES),
	ALLOW("access"), ALLOW("faccessat"), ALLOW("faccessat2"),
	ALLOW("readlink"), ALLOW("readlinkat"), ALLOW("getcwd"), ALLOW("fstatfs"),
	ALLOW("sysinfo"),
	/* Certificates and keys travel as sealed memfds. */
	ALLOW("memfd_create"), ALLOW("ftruncate"),
};

/* Validator only (found with strace / TETHER_SECCOMP_DEBUG on the real
 * binary against PostgreSQL and sshd peers, see docs/ARCHITECTURE.md):
 * - fchmod(fd, 0600): validator/memfile.c narrows a fresh memfd (created
 *   0777) because libpq refuses a key file readable by others. Only mode
 *   0600 is allowed; a validator runs as its own uid in production, so it
 *   cannot chmod files it does not own.
 * - listen/accept: the SSH tunnel serves libpq on a loopback port.
 * - socketpair(AF_UNIX): libcurl's wake-up pair for its multi interface
 *   (CSR, Iceberg and AWS checks).
 * - ioctl SIOCGIFCONF: FreeTDS reads the host's MAC address for the TDS
 *   login packet (tds_getmac). Listing interfaces is allowed (on failure
 *   FreeTDS would walk an uninitialised buffer); reading their flags and
 *   hardware address is refused, so the MAC sent stays all zeros. */
static const struct sbx_rule rules_validator[] = {
	ALLOW1("fchmod", A_EQ(1, 0600)),
	ALLOW("listen"), ALLOW("accept"), ALLOW("accept4"),
	ALLOW1("socketpair", A_EQ(0, AF_UNIX)),
	ALLOW1("ioctl", A_EQ(1, SIOCGIFCONF)),
	DENY1("ioctl", EPERM, A_EQ(1, SIOCGIFFLAGS)),
	DENY1("ioctl", EPERM, A_EQ(1, SIOCGIFHWADDR)),
};

#ifdef TETHER_SANITIZE
/* What the ASan/UBSan runtimes call at run time and at exit (found with
 * strace on the real binaries). Never in a production build. */
static const struct sbx_rule rules_sanitize[] = {
	ALLOW("sigaltstack"), ALLOW("sched_getaffinity"), ALLOW("mincore"),
	ALLOW("readlink"), ALLOW("readlinkat"), ALLOW("pipe"), ALLOW("pipe2"),
	ALLOW("prctl"), ALLOW("prlimit64"), ALLOW("setrlimit"),
};
#define SANITIZE_SET SET(rules_sanitize),
#else
#define SANITIZE_SET
#endif

const struct sbx_policy sbx_policies[SBX_ROLE_COUNT] = {
	[SBX_ROLE_VAULT] = { "vault", {
		SET(rules_base), SET(rules_mem_noexec), SET(rules_files_rw),
		SANITIZE_SET } },
	[SBX_ROLE_CATALOG] = { "catalog", {
		SET(rules_base), SET(rules_mem_noexec), SET(rules_files_rw),
		SET(rules_server), SANITIZE_SET } },
	[SBX_ROLE_VALIDATOR] = { "validator", {
		SET(rules_base), SET(rules_mem_exec), SET(rules_files_ro),
		SET(rules_network), SET(rules_threads), SET(rules_validator),
		SANITIZE_SET } },
};
