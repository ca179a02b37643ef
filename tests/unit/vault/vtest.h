/* Shared helpers for the vault unit tests: a fresh data dir under /tmp
 * (DIR and DIR/vault, 0700) per test, removed afterwards, and file
 * helpers for tampering with what the vault wrote. */
#ifndef TETHER_VTEST_H
#define TETHER_VTEST_H


#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

struct vtest {
	char dir[256];          /* data dir */
	char vdir[300];         /* data dir/vault */
};

static inline int vtest_rm(const char *path, const struct stat *sb, int flag,
			   struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline int vtest_setup(void **state)
{
	struct vtest *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/tether-vault-test.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->vdir, sizeof(t->vdir), "%s/vault", t->dir);
	assert_int_equal(mkdir(t->vdir, 0700), 0);
	*state = t;
	return 0;
}

static inline int vtest_teardown(void **state)
{
	struct vtest *t = *state;

	/* Key files are 0400: removal only needs the directory writable. */
	nftw(t->dir, vtest_rm, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

static inline void vtest_path(char *out, size_t size, const struct vtest *t,
			      const char *name)
{
	snprintf(out, size, "%s/%s", t->vdir, name);
}

/* Whole file into a malloc'd buffer (read to EOF, so /proc works too);
 * *len gets its size. */
static inline unsigned char *vtest_read(const char *path, size_t *len)
{
	size_t cap = 4096, n = 0;
	unsigned char *buf = malloc(cap + 1);
	int fd = open(path, O_RDONLY);
	ssize_t r;

	assert_true(fd >= 0);
	assert_non_null(buf);
	while ((r = read(fd, buf + n, cap - n)) > 0) {
		n += (size_t)r;
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
	}
	assert_true(r == 0);
	close(fd);
	buf[n] = 0;
	*len = n;
	return buf;
}

static inline void vtest_write(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static inline void vtest_append(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static inline off_t vtest_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* 1 if `needle` occurs anywhere in the file's bytes. */
static inline int vtest_file_contains(const char *path, const void *needle,
				      size_t nlen)
{
	size_t len;
	unsigned char *buf = vtest_read(path, &len);
	int found = memmem(buf, len, needle, nlen) != NULL;

	free(buf);
	return found;
}

static inline int vtest_file_contains_str(const char *path, const char *s)
{
	return vtest_file_contains(path, s, strlen(s));
}

#endif
