/* File helpers shared by the keyring, the secret store and the audit log.
 * Every write that must survive a crash goes through here, so the fsync
 * discipline lives in one place. */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"

int vault_write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int vault_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

int vault_pread_all(int fd, void *buf, size_t len, off_t off)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

int vault_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc, saved;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

int vault_path(char *out, size_t size, const char *dir, const char *name)
{
	int n = snprintf(out, size, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int vault_write_file_atomic(const char *dir, const char *name,
			    const void *buf, size_t len, mode_t mode,
			    struct err *e)
{
	char path[4096], tmp[4096], tmpname[256];
	int fd;

	if (snprintf(tmpname, sizeof(tmpname), "%s.tmp", name) >= (int)sizeof(tmpname) ||
	    vault_path(path, sizeof(path), dir, name) < 0 ||
	    vault_path(tmp, sizeof(tmp), dir, tmpname) < 0)
		return err_set(e, "XX000", "internal error: vault: path too long: %s", dir);
	/* A stale temp file is a crash leftover; it never holds the truth. */
	if (unlink(tmp) < 0 && errno != ENOENT)
		return err_set(e, "XX000", "internal error: vault: unlink %s: %s",
			       tmp, strerror(errno));
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return err_set(e, "XX000", "internal error: vault: create %s: %s",
			       tmp, strerror(errno));
	if (vault_write_all(fd, buf, len) < 0 || fsync(fd) < 0) {
		int saved = errno;
		close(fd);
		unlink(tmp);
		return err_set(e, "XX000", "internal error: vault: write %s: %s",
			       tmp, strerror(saved));
	}
	if (close(fd) < 0) {
		int saved = errno;
		unlink(tmp);
		return err_set(e, "XX000", "internal error: vault: close %s: %s",
			       tmp, strerror(saved));
	}
	if (rename(tmp, path) < 0) {
		int saved = errno;
		unlink(tmp);
		return err_set(e, "XX000", "internal error: vault: rename %s: %s",
			       path, strerror(saved));
	}
	if (vault_fsync_dir(dir) < 0)
		return err_set(e, "XX000", "internal error: vault: fsync %s: %s",
			       dir, strerror(errno));
	return 0;
}
