/* Small file helpers for the vault's durable files: complete reads and
 * writes, directory fsync, and the write-temp/fsync/rename/fsync-dir dance
 * that makes a file replacement atomic across a crash. */
#ifndef TETHER_VAULT_FSUTIL_H
#define TETHER_VAULT_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

struct err;

/* Each returns 0, or -1 with errno set (EIO for a short read at EOF). */
int vault_write_all(int fd, const void *buf, size_t len);
int vault_pwrite_all(int fd, const void *buf, size_t len, off_t off);
int vault_pread_all(int fd, void *buf, size_t len, off_t off);
int vault_fsync_dir(const char *dir);

/* dir/name from its parts; -1 (ENAMETOOLONG) if it does not fit. */
int vault_path(char *out, size_t size, const char *dir, const char *name);

/* Replaces dir/name with `len` bytes: writes dir/name.tmp (mode `mode`),
 * fsyncs it, renames it over dir/name and fsyncs dir. Fills `e` on error. */
int vault_write_file_atomic(const char *dir, const char *name,
			    const void *buf, size_t len, mode_t mode,
			    struct err *e);

#endif
