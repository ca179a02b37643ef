/* Memory-backed files (memfd) that hand certificates and keys to libraries
 * which only take a path (libpq's sslrootcert/sslcert/sslkey): the bytes
 * never touch a disk, the file is sealed against further writes, and the
 * owner wipes it through its own mapping before closing. */
#ifndef TETHER_MEMFILE_H
#define TETHER_MEMFILE_H

#include <stddef.h>

#include "err.h"

struct memfile {
	int fd;                  /* -1 when closed */
	void *map;               /* our writable mapping, kept to wipe on close */
	size_t len;
	char path[32];           /* "/proc/self/fd/<fd>" */
};

/* Creates a sealed 0600 memfd holding `data`. 0, or -1 with e set (XX000). */
int memfile_create(struct memfile *m, const char *name, const void *data,
		   size_t len, struct err *e);
#define MEMFILE_INIT { .fd = -1, .map = NULL, .len = 0, .path = "" }

/* Wipes the contents, unmaps and closes; safe on MEMFILE_INIT or a closed one. */
void memfile_close(struct memfile *m);

#endif
