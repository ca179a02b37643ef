/* memfd-backed files for libraries that want a path: write through a shared
 * mapping, seal (no further writes, no resizing), expose /proc/self/fd/N.
 * The mapping is what lets the owner wipe the bytes before closing. */
#include "memfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010   /* Linux 5.1 */
#endif

/* F_SEAL_WRITE refuses to be set while a writable shared mapping exists,
 * and without one the owner could never wipe the bytes. F_SEAL_FUTURE_WRITE
 * (5.1) forbids every new write(2) and writable mmap while our existing
 * mapping keeps working: sealed for everyone else, wipeable by us. */
#define MEMFILE_SEALS (F_SEAL_FUTURE_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

int memfile_create(struct memfile *m, const char *name, const void *data,
		   size_t len, struct err *e)
{
	m->fd = -1;
	m->map = NULL;
	m->len = 0;
	m->path[0] = '\0';

	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return err_set(e, "XX000", "internal error: validator: memfd_create: %s",
			       strerror(errno));
	/* A memfd is created 0777, and libpq (15) stat()s the /proc/self/fd
	 * path and refuses a key with group or world access ("private key
	 * file ... has group or world access"): tested. 0600 passes. */
	if (fchmod(fd, 0600) != 0 || ftruncate(fd, (off_t)len) != 0)
		goto fail;
	void *map = NULL;
	if (len > 0) {
		map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED)
			goto fail;
		memcpy(map, data, len);
	}
	if (fcntl(fd, F_ADD_SEALS, MEMFILE_SEALS) != 0) {
		if (map)
			munmap(map, len);
		goto fail;
	}
	m->fd = fd;
	m->map = map;
	m->len = len;
	snprintf(m->path, sizeof(m->path), "/proc/self/fd/%d", fd);
	return 0;
fail:;
	int saved = errno;
	close(fd);
	return err_set(e, "XX000", "internal error: validator: memfd %s: %s", name,
		       strerror(saved));
}

void memfile_close(struct memfile *m)
{
	if (m->map) {
		explicit_bzero(m->map, m->len);
		munmap(m->map, m->len);
	}
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	m->map = NULL;
	m->len = 0;
	m->path[0] = '\0';
}
