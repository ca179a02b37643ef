/* The data directory on disk: its creation and permissions, the lock that
 * makes one tetherd per directory, and the pgwire listening socket. */
#include "sup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static const char *const sup_subdirs[] = { "catalog", "vault" };

/* mkdir -p for the parents of `path` (not path itself). */
static int make_parents(const char *path, struct err *e)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return err_set(e, "58030", "path too long: %.200s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return err_set(e, "58030", "cannot create directory %.200s: %s",
				       buf, strerror(errno));
		*p = '/';
	}
	return 0;
}

/* A directory only we can enter. Looser modes are tightened, not refused:
 * a fresh `mkdir data` under umask 022 should not stop a first start. */
static int ensure_private_dir(const char *path, struct err *e)
{
	struct stat st;

	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return err_set(e, "58030", "cannot create directory %.200s: %s",
			       path, strerror(errno));
	if (stat(path, &st) != 0)
		return err_set(e, "58030", "cannot stat %.200s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return err_set(e, "58030", "%.200s exists and is not a directory", path);
	/* Root hands DATA/vault and DATA/catalog to the roles' users and
	 * leaves DATA traversable (0711) for them (privdrop.c). */
	if (st.st_uid != geteuid() && geteuid() != 0)
		return err_set(e, "58030", "%.200s is owned by uid %u, not by uid %u",
			       path, (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & 077 & ~(geteuid() == 0 ? 011u : 0u)) {
		char q[PATH_MAX + 8];

		if (chmod(path, 0700) != 0)
			return err_set(e, "58030", "cannot chmod 0700 %.200s: %s",
				       path, strerror(errno));
		log_warn("datadir_permissions_fixed", "path=%s old_mode=%04o new_mode=0700",
			 log_quote(q, sizeof(q), path), (unsigned)(st.st_mode & 07777));
	}
	return 0;
}

int sup_datadir_init(const char *dir, char *abs, size_t abs_size, struct err *e)
{
	char real[PATH_MAX];
	char sub[PATH_MAX];

	err_clear(e);
	if (!dir || !*dir)
		return err_set(e, "22023", "empty data directory");
	if (make_parents(dir, e) != 0 || ensure_private_dir(dir, e) != 0)
		return -1;
	if (!realpath(dir, real))
		return err_set(e, "58030", "cannot resolve %.200s: %s", dir, strerror(errno));
	if (strlen(real) >= abs_size)
		return err_set(e, "58030", "data directory path too long");
	for (size_t i = 0; i < sizeof(sup_subdirs) / sizeof(sup_subdirs[0]); i++) {
		if (snprintf(sub, sizeof(sub), "%s/%s", real, sup_subdirs[i]) >= (int)sizeof(sub))
			return err_set(e, "58030", "data directory path too long");
		if (ensure_private_dir(sub, e) != 0)
			return -1;
	}
	snprintf(abs, abs_size, "%s", real);
	return 0;
}

int sup_lock_acquire(const char *dir, int *fd_out, struct err *e)
{
	char path[PATH_MAX];
	char pidbuf[32];
	int fd, n;

	err_clear(e);
	*fd_out = -1;
	if (snprintf(path, sizeof(path), "%s/%s", dir, SUP_LOCK_NAME) >= (int)sizeof(path))
		return err_set(e, "58030", "data directory path too long");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return err_set(e, "58030", "cannot open lock file %.200s: %s",
			       path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int saved = errno;
		ssize_t r = pread(fd, pidbuf, sizeof(pidbuf) - 1, 0);
		long pid = 0;

		close(fd);
		if (saved != EWOULDBLOCK)
			return err_set(e, "58030", "cannot lock %.200s: %s", path,
				       strerror(saved));
		if (r > 0) {
			pidbuf[r] = '\0';
			pid = strtol(pidbuf, NULL, 10);
		}
		if (pid > 0)
			return err_set(e, "55006",
				       "data directory %.200s is in use by another tetherd (pid %ld)",
				       dir, pid);
		return err_set(e, "55006",
			       "data directory %.200s is in use by another tetherd (pid unknown)",
			       dir);
	}
	n = snprintf(pidbuf, sizeof(pidbuf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pidbuf, (size_t)n, 0) != n) {
		int saved = errno;

		close(fd);
		return err_set(e, "58030", "cannot write lock file %.200s: %s", path,
			       strerror(saved));
	}
	*fd_out = fd;
	return 0;
}

void sup_listener_path(const char *dir, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", dir, SUP_SOCKET_NAME);
}

int sup_listener_open(const char *dir, int *fd_out, struct err *e)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old_mask;
	int fd, rc;

	err_clear(e);
	*fd_out = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, SUP_SOCKET_NAME) >=
	    (int)sizeof(sa.sun_path))
		return err_set(e, "58030",
			       "socket path %.200s/%s is longer than %zu bytes; use a shorter --data-dir",
			       dir, SUP_SOCKET_NAME, sizeof(sa.sun_path) - 1);
	/* We hold the lock, so whatever socket is there is stale. */
	if (lstat(sa.sun_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return err_set(e, "58030", "%.200s exists and is not a socket",
				       sa.sun_path);
		if (unlink(sa.sun_path) != 0)
			return err_set(e, "58030", "cannot remove stale socket %.200s: %s",
				       sa.sun_path, strerror(errno));
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, "58030", "socket: %s", strerror(errno));
	old_mask = umask(0177);         /* born 0600: no window before chmod */
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_mask);
	if (rc != 0 || chmod(sa.sun_path, 0600) != 0 ||
	    listen(fd, SUP_LISTEN_BACKLOG) != 0) {
		int saved = errno;

		close(fd);
		return err_set(e, "58030", "cannot listen on %.200s: %s", sa.sun_path,
			       strerror(saved));
	}
	*fd_out = fd;
	return 0;
}
