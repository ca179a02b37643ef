/* Confinement of a child process: process hardening (no_new_privs, not
 * dumpable, no core), closing inherited descriptors, and loading the role's
 * seccomp allowlist from policy.c. sbx_enter() fails closed. */
#include "sandbox_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"

#define SBX_MAX_KEEP 64

/* Set once the filter is in place: the sanitizers' leak check at exit
 * needs clone + ptrace, which no policy allows. */
static volatile sig_atomic_t sbx_seccomp_loaded;

const char *sbx_role_name(enum sbx_role role)
{
	return (unsigned)role < SBX_ROLE_COUNT ? sbx_policies[role].name : "?";
}

int sbx_harden_process(void)
{
	const struct rlimit no_core = { 0, 0 };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return -1;
	if (setrlimit(RLIMIT_CORE, &no_core) != 0)
		return -1;
	return 0;
}

/* Sorted, de-duplicated keep list that always holds 0, 1 and 2. */
static int keep_list(const int *keep_fds, size_t nkeep, int *out, size_t *nout)
{
	size_t n = 0;

	if (nkeep > SBX_MAX_KEEP) {
		errno = EINVAL;
		return -1;
	}
	for (int fd = 0; fd <= 2; fd++)
		out[n++] = fd;
	for (size_t i = 0; i < nkeep; i++)
		if (keep_fds[i] > 2)
			out[n++] = keep_fds[i];
	for (size_t i = 1; i < n; i++)          /* insertion sort: n is tiny */
		for (size_t j = i; j > 0 && out[j - 1] > out[j]; j--) {
			int t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	size_t u = 0;
	for (size_t i = 0; i < n; i++)
		if (u == 0 || out[u - 1] != out[i])
			out[u++] = out[i];
	*nout = u;
	return 0;
}

static int is_kept(const int *keep, size_t n, int fd)
{
	for (size_t i = 0; i < n; i++)
		if (keep[i] == fd)
			return 1;
	return 0;
}

/* Without close_range (kernel < 5.9): list /proc/self/fd, then close. */
static int close_fds_by_listing(const int *keep, size_t n)
{
	int fds[1024];
	size_t nfds;
	int more;

	do {
		DIR *d = opendir("/proc/self/fd");
		struct dirent *de;

		if (!d)
			return -1;
		nfds = 0;
		more = 0;
		while ((de = readdir(d)) != NULL) {
			char *end;
			long fd = strtol(de->d_name, &end, 10);

			if (*end || end == de->d_name || fd == dirfd(d) ||
			    is_kept(keep, n, (int)fd))
				continue;
			if (nfds == sizeof(fds) / sizeof(fds[0])) {
				more = 1;
				break;
			}
			fds[nfds++] = (int)fd;
		}
		closedir(d);
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
	} while (more);
	return 0;
}

int sbx_close_fds_except(const int *keep_fds, size_t nkeep)
{
	int keep[SBX_MAX_KEEP + 3];
	size_t n;

	if (keep_list(keep_fds, nkeep, keep, &n) != 0)
		return -1;
	/* Close each gap between kept descriptors, then everything above. */
	for (size_t i = 0; i < n; i++) {
		unsigned int lo = (unsigned int)keep[i] + 1;
		unsigned int hi = i + 1 < n ? (unsigned int)keep[i + 1] - 1 : ~0U;

		if (lo > hi)
			continue;
		if (close_range(lo, hi, 0) != 0) {
			if (errno == ENOSYS || errno == EINVAL)
				return close_fds_by_listing(keep, n);
			return -1;
		}
	}
	return 0;
}

/* TETHER_SECCOMP_DEBUG=1: trap instead of kill, name the syscall, then exit.
 * Still fail closed: the process never returns from the blocked call. */
static char sbx_sys_names[512][24];

static void sbx_sigsys_handler(int sig, siginfo_t *si, void *uctx)
{
	char line[96];
	size_t n = 0;
	int nr = si->si_syscall;
	char digits[12];
	int nd = 0;
	unsigned int u = nr < 0 ? 0 : (unsigned int)nr;
	static const char prefix[] = "seccomp: blocked syscall ";

	(void)sig;
	(void)uctx;
	memcpy(line, prefix, sizeof(prefix) - 1);
	n = sizeof(prefix) - 1;
	do {
		digits[nd++] = (char)('0' + u % 10);
		u /= 10;
	} while (u && nd < (int)sizeof(digits));
	while (nd)
		line[n++] = digits[--nd];
	if (nr >= 0 && (size_t)nr < sizeof(sbx_sys_names) / sizeof(sbx_sys_names[0]) &&
	    sbx_sys_names[nr][0]) {
		const char *name = sbx_sys_names[nr];

		line[n++] = ' ';
		line[n++] = '(';
		for (size_t i = 0; name[i] && n < sizeof(line) - 3; i++)
			line[n++] = name[i];
		line[n++] = ')';
	}
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w;
	_exit(SBX_EXIT_FAILED);
}

static int sbx_install_debug_trap(void)
{
	struct sigaction sa;
	sigset_t set;

	/* Names resolved now: the handler may not allocate. */
	for (int i = 0; i < (int)(sizeof(sbx_sys_names) / sizeof(sbx_sys_names[0])); i++) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, i);

		if (name) {
			snprintf(sbx_sys_names[i], sizeof(sbx_sys_names[i]), "%s", name);
			free(name);
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sbx_sigsys_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) != 0)
		return -1;
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	return sigprocmask(SIG_UNBLOCK, &set, NULL);
}

static int sbx_debug_requested(void)
{
	const char *v = getenv("TETHER_SECCOMP_DEBUG");

	return v && strcmp(v, "1") == 0;
}

static int sbx_add_rule(scmp_filter_ctx ctx, const struct sbx_rule *r)
{
	struct scmp_arg_cmp args[3];
	unsigned int argc = r->argc;
	uint32_t action = r->errno_val ? SCMP_ACT_ERRNO((uint32_t)r->errno_val)
				       : SCMP_ACT_ALLOW;
	int nr = seccomp_syscall_resolve_name(r->syscall);

	if (nr == __NR_SCMP_ERROR) {
		log_debug("seccomp_unknown_syscall", "name=%s", r->syscall);
		return 0;       /* not on this architecture */
	}
	memcpy(args, r->args, sizeof(r->args));
	if (r->flags & SBX_RULE_SELF_PID_A0)
		args[argc++] = (struct scmp_arg_cmp){
			.arg = 0, .op = SCMP_CMP_EQ, .datum_a = (scmp_datum_t)getpid() };
	int rc = seccomp_rule_add_array(ctx, action, nr, argc, args);
	if (rc != 0) {
		log_error("seccomp_rule_failed", "name=%s rc=%d", r->syscall, rc);
		errno = -rc;
		return -1;
	}
	return 0;
}

int sbx_load_seccomp(enum sbx_role role)
{
	const struct sbx_policy *p;
	scmp_filter_ctx ctx;
	int debug = sbx_debug_requested();
	int rc;

	if ((unsigned)role >= SBX_ROLE_COUNT) {
		errno = EINVAL;
		return -1;
	}
	p = &sbx_policies[role];
	if (debug) {
		if (sbx_install_debug_trap() != 0)
			return -1;
		log_warn("seccomp_debug_mode", "role=%s action=trap", p->name);
	}
	ctx = seccomp_init(debug ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS);
	if (!ctx) {
		errno = ENOMEM;
		return -1;
	}
	/* Set explicitly even though sbx_harden_process() did it. Other
	 * ABIs (i386 via int 0x80, x32) end the whole process too. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
	if (rc == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
				      debug ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS);
	for (size_t s = 0; rc == 0 && s < SBX_MAX_SETS; s++)
		for (size_t i = 0; rc == 0 && i < p->sets[s].count; i++)
			rc = sbx_add_rule(ctx, &p->sets[s].rules[i]) ? -errno : 0;
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc != 0) {
		errno = rc < 0 ? -rc : EINVAL;
		return -1;
	}
	sbx_seccomp_loaded = 1;
	return 0;
}

int sbx_policy_lists(enum sbx_role role, const char *syscall)
{
	const struct sbx_policy *p;

	if ((unsigned)role >= SBX_ROLE_COUNT)
		return 0;
	p = &sbx_policies[role];
	for (size_t s = 0; s < SBX_MAX_SETS; s++)
		for (size_t i = 0; i < p->sets[s].count; i++)
			if (p->sets[s].rules[i].errno_val == 0 &&
			    strcmp(p->sets[s].rules[i].syscall, syscall) == 0)
				return 1;
	return 0;
}

/* Reads a "Key:\tvalue" line of /proc/self/status. */
static int status_field_is(const char *key, const char *want)
{
	char buf[4096];
	ssize_t n;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	size_t klen = strlen(key);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	for (char *line = buf; line && *line; ) {
		char *nl = strchr(line, '\n');

		if (nl)
			*nl = '\0';
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			const char *v = line + klen + 1;

			while (*v == '\t' || *v == ' ')
				v++;
			return strcmp(v, want) == 0;
		}
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

static void sbx_fail(const char *step, int saved_errno)
{
	log_error("sandbox_failed", "step=%s errno=%d", step, saved_errno);
	_exit(SBX_EXIT_FAILED);
}

void sbx_enter(enum sbx_role role, const int *keep_fds, size_t nkeep)
{
	if (sbx_harden_process() != 0)
		sbx_fail("harden", errno);
	if (sbx_close_fds_except(keep_fds, nkeep) != 0)
		sbx_fail("close_fds", errno);
	if (sbx_load_seccomp(role) != 0)
		sbx_fail("seccomp", errno);
	/* Trust, but verify: the kernel must report filter mode. */
	if (!status_field_is("Seccomp", "2") || !status_field_is("NoNewPrivs", "1"))
		sbx_fail("verify", 0);
	log_debug("sandbox_entered", "role=%s", sbx_role_name(role));
}

#ifdef TETHER_SANITIZE
/* LeakSanitizer's exit-time check stops the world with clone + ptrace,
 * which the filter forbids; skip it in confined processes only. */
__attribute__((visibility("default"))) int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
	return sbx_seccomp_loaded;
}
#endif
