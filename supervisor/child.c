/* The table of child roles and how one child is started: fork, wire its
 * channels to descriptors 3, 4, 5, scrub everything else, exec. */
#include "sup.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Vault first: the catalog reconciles with it as soon as it starts. */
const struct sup_role sup_roles[SUP_CHILD_COUNT] = {
	[SUP_CHILD_VAULT] = {
		.name = "vault", .exe = "tether-vault", .sandbox = SBX_ROLE_VAULT,
		.channel = IPC_SUP_VAULT, .restart = SUP_RESTART_ALWAYS,
		.gets_listener = 0,
	},
	[SUP_CHILD_CATALOG] = {
		.name = "catalog", .exe = "tether-catalog", .sandbox = SBX_ROLE_CATALOG,
		.channel = IPC_SUP_CATALOG, .restart = SUP_RESTART_ALWAYS,
		.gets_listener = 1,
	},
};

/* Variables a child may inherit; everything else is dropped. */
static const char *const env_passthrough[] = {
	"TETHER_SECCOMP_DEBUG", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
};

size_t sup_child_env(char *const *env, const char **out, size_t max)
{
	size_t n = 0;

	if (max == 0)
		return 0;
	if (n + 1 < max)
		out[n++] = "PATH=/usr/bin:/bin";
	for (size_t i = 0; i < sizeof(env_passthrough) / sizeof(env_passthrough[0]); i++) {
		size_t len = strlen(env_passthrough[i]);

		for (char *const *p = env; p && *p && n + 1 < max; p++)
			if (strncmp(*p, env_passthrough[i], len) == 0 && (*p)[len] == '=') {
				out[n++] = *p;
				break;
			}
	}
	out[n] = NULL;
	return n;
}

uint64_t sup_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int sup_self_dir(char *buf, size_t size, struct err *e)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return err_set(e, "58030", "cannot read /proc/self/exe: %s", strerror(errno));
	exe[n] = '\0';
	if (snprintf(buf, size, "%s", dirname(exe)) >= (int)size)
		return err_set(e, "58030", "executable path too long");
	return 0;
}

/* In the child between fork and exec. Only async-signal-safe calls; any
 * failure is reported as an errno through the status pipe. */
static void child_exec(const char *path, char *const argv[], const char *const envp[],
		       const int *fds, size_t nfds, int status_fd, pid_t parent,
		       const struct sup_confine *cf)
{
	int moved[8];
	int keep[8];
	sigset_t none;
	int err;

	/* A change of credentials clears the parent-death signal: drop first. */
	if (cf && sup_drop_privileges(cf->creds) != 0)
		goto fail;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
		goto fail;
	if (getppid() != parent)        /* tetherd died before the prctl */
		_exit(1);
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) != 0)
		goto fail;
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);     /* fails harmlessly for KILL/STOP etc. */
	/* Move the sources (and the status pipe) out of 3..3+nfds first so
	 * that dup2 cannot clobber one of them. */
	status_fd = fcntl(status_fd, F_DUPFD_CLOEXEC, 16);
	if (status_fd < 0)
		_exit(127);
	for (size_t i = 0; i < nfds; i++) {
		moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 16);
		if (moved[i] < 0)
			goto fail;
	}
	for (size_t i = 0; i < nfds; i++) {
		if (dup2(moved[i], 3 + (int)i) != 3 + (int)i)   /* clears CLOEXEC */
			goto fail;
		keep[i] = 3 + (int)i;
	}
	keep[nfds] = status_fd;
	if (sbx_close_fds_except(keep, nfds + 1) != 0)
		goto fail;
	int devnull = open("/dev/null", O_RDONLY);
	if (devnull < 0 || dup2(devnull, STDIN_FILENO) != STDIN_FILENO)
		goto fail;
	if (devnull != STDIN_FILENO)
		close(devnull);
	if (cf && cf->landlock && sbx_landlock_enter(cf->role, cf->data_dir, path, cf->extra_ro) < 0)
		goto fail;
	execve(path, argv, (char *const *)envp);
fail:
	err = errno;
	ssize_t w = write(status_fd, &err, sizeof(err));
	(void)w;
	_exit(127);
}

pid_t sup_spawn(const char *path, char *const argv[], const char *const envp[],
		const int *fds, size_t nfds, struct err *e)
{
	return sup_spawn_ex(path, argv, envp, fds, nfds, NULL, e);
}

pid_t sup_spawn_ex(const char *path, char *const argv[], const char *const envp[],
		   const int *fds, size_t nfds, const struct sup_confine *cf, struct err *e)
{
	int status_pipe[2];
	pid_t parent = getpid();
	pid_t pid;
	int child_errno = 0;
	ssize_t n;

	err_clear(e);
	if (nfds > 6)
		return err_set(e, "XX000", "too many descriptors for a child");
	if (pipe2(status_pipe, O_CLOEXEC) != 0)
		return err_set(e, "58030", "pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0) {
		int saved = errno;

		close(status_pipe[0]);
		close(status_pipe[1]);
		return err_set(e, "58030", "fork: %s", strerror(saved));
	}
	if (pid == 0)
		child_exec(path, argv, envp, fds, nfds, status_pipe[1], parent, cf);
	close(status_pipe[1]);
	/* EOF means the exec happened (the pipe is close-on-exec). */
	do {
		n = read(status_pipe[0], &child_errno, sizeof(child_errno));
	} while (n < 0 && errno == EINTR);
	close(status_pipe[0]);
	if (n == (ssize_t)sizeof(child_errno)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return err_set(e, "58030", "cannot start %.200s: %s", path,
			       strerror(child_errno));
	}
	return pid;
}
