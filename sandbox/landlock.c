/* Landlock confinement of a child role's file access: the vault reaches
 * only DATA/vault, the catalog only DATA/catalog (and /etc/passwd), a
 * validator writes nothing and reads only the TLS / resolver files; every
 * role can still load its libraries. Applied by tetherd between fork and
 * exec (the domain survives execve), so it covers the dynamic loader too.
 * The kernel's ABI is read at run time; constants above the installed
 * headers' ABI 2 are defined here. */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif

/* include/uapi/linux/landlock.h, as of ABI 6. */
#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_FS_EXECUTE (1ULL << 0)
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)
#define LL_FS_REMOVE_DIR (1ULL << 4)
#define LL_FS_REMOVE_FILE (1ULL << 5)
#define LL_FS_MAKE_CHAR (1ULL << 6)
#define LL_FS_MAKE_DIR (1ULL << 7)
#define LL_FS_MAKE_REG (1ULL << 8)
#define LL_FS_MAKE_SOCK (1ULL << 9)
#define LL_FS_MAKE_FIFO (1ULL << 10)
#define LL_FS_MAKE_BLOCK (1ULL << 11)
#define LL_FS_MAKE_SYM (1ULL << 12)
#define LL_FS_REFER (1ULL << 13)        /* ABI 2 */
#define LL_FS_TRUNCATE (1ULL << 14)     /* ABI 3 */
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)  /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)                /* ABI 6 */

struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;    /* ABI 4 */
	uint64_t scoped;                /* ABI 6 */
};

struct ll_path_beneath_attr {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

/* Rights that apply to a file (not only to a directory). */
#define LL_FILE_RIGHTS (LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_TRUNCATE)
#define R (LL_FS_READ_FILE | LL_FS_READ_DIR)
#define RX (R | LL_FS_EXECUTE)
#define RW (R | LL_FS_WRITE_FILE | LL_FS_REMOVE_DIR | LL_FS_REMOVE_FILE | \
	    LL_FS_MAKE_DIR | LL_FS_MAKE_REG | LL_FS_REFER | LL_FS_TRUNCATE)

/* Where a rule's path is rooted. */
enum ll_base { LL_ABS, LL_DATA, LL_EXE };

struct ll_rule {
	enum ll_base base;
	const char *path;       /* absolute, or relative to DATA */
	uint64_t rights;
};

/* Every role: its libraries (and the loader), its own executable, the
 * time zone, /proc/self (sanitizers read maps; validators reach memfds
 * through /proc/self/fd), /dev/null and /dev/urandom. */
static const struct ll_rule common_rules[] = {
	{ LL_EXE, NULL, RX },
	{ LL_ABS, "/usr", RX },
	{ LL_ABS, "/lib", RX }, { LL_ABS, "/lib64", RX },
	{ LL_ABS, "/etc/ld.so.cache", R },
	{ LL_ABS, "/etc/localtime", R },
	{ LL_ABS, "/proc/self", R },
	{ LL_ABS, "/dev/null", R | LL_FS_WRITE_FILE },
	{ LL_ABS, "/dev/urandom", R },
};

static const struct ll_rule vault_rules[] = {
	{ LL_DATA, "vault", RW },
};

static const struct ll_rule catalog_rules[] = {
	{ LL_DATA, "catalog", RW },
	{ LL_ABS, "/etc/passwd", R },   /* peer auth (catalog/auth.c) */
};

/* Reads only: CA bundles, OpenSSL's configuration, the resolver, NSS. */
static const struct ll_rule validator_rules[] = {
	{ LL_ABS, "/etc/ssl", R },
	{ LL_ABS, "/etc/hosts", R }, { LL_ABS, "/etc/resolv.conf", R },
	{ LL_ABS, "/etc/nsswitch.conf", R }, { LL_ABS, "/etc/gai.conf", R },
	{ LL_ABS, "/etc/host.conf", R }, { LL_ABS, "/etc/services", R },
	{ LL_ABS, "/etc/protocols", R },
	{ LL_ABS, "/etc/passwd", R }, { LL_ABS, "/etc/group", R },
	{ LL_ABS, "/etc/krb5.conf", R }, { LL_ABS, "/etc/gss", R },
};

static const struct {
	const struct ll_rule *rules;
	size_t count;
} role_rules[SBX_ROLE_COUNT] = {
	[SBX_ROLE_VAULT] = { vault_rules, sizeof(vault_rules) / sizeof(vault_rules[0]) },
	[SBX_ROLE_CATALOG] = { catalog_rules, sizeof(catalog_rules) / sizeof(catalog_rules[0]) },
	[SBX_ROLE_VALIDATOR] = { validator_rules,
				 sizeof(validator_rules) / sizeof(validator_rules[0]) },
};

int sbx_landlock_abi(void)
{
	long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);

	return abi < 0 ? 0 : (int)abi;
}

static uint64_t handled_fs(int abi)
{
	uint64_t h = (LL_FS_MAKE_SYM << 1) - 1;         /* ABI 1 */

	if (abi >= 2)
		h |= LL_FS_REFER;
	if (abi >= 3)
		h |= LL_FS_TRUNCATE;
	return h;
}

/* A missing path is skipped (not every system has /lib64 or gai.conf). */
static int add_rule(int ruleset, const char *path, uint64_t rights, uint64_t handled)
{
	struct ll_path_beneath_attr pb;
	struct stat st;
	int fd = open(path, O_PATH | O_CLOEXEC);
	long rc;

	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR || errno == EACCES ? 0 : -1;
	if (fstat(fd, &st) != 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	pb.allowed_access = rights & handled;
	if (!S_ISDIR(st.st_mode))
		pb.allowed_access &= LL_FILE_RIGHTS;
	pb.parent_fd = fd;
	rc = syscall(__NR_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &pb, 0);
	close(fd);
	return rc == 0 ? 0 : -1;
}

static int add_rules(int ruleset, const struct ll_rule *rules, size_t n,
		     const char *data_dir, const char *exe, uint64_t handled)
{
	char path[4096];

	for (size_t i = 0; i < n; i++) {
		const char *p = rules[i].path;

		if (rules[i].base == LL_EXE) {
			if (!exe)
				continue;
			p = exe;
		} else if (rules[i].base == LL_DATA) {
			if (!data_dir)
				continue;
			if (snprintf(path, sizeof(path), "%s/%s", data_dir, p) >= (int)sizeof(path)) {
				errno = ENAMETOOLONG;
				return -1;
			}
			p = path;
		}
		if (add_rule(ruleset, p, rules[i].rights, handled) != 0)
			return -1;
	}
	return 0;
}

int sbx_landlock_enter(enum sbx_role role, const char *data_dir, const char *exe,
		       const char *const *extra_ro)
{
	struct ll_ruleset_attr attr;
	size_t attr_size;
	int abi = sbx_landlock_abi();
	int ruleset, rc;

	if ((unsigned)role >= SBX_ROLE_COUNT) {
		errno = EINVAL;
		return -1;
	}
	if (abi <= 0)
		return 0;
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = handled_fs(abi);
	attr_size = sizeof(attr.handled_access_fs);
	if (abi >= 6) {
		/* No signals to, and no abstract sockets of, processes outside
		 * the domain (tetherd, other roles). */
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL;
		attr_size = sizeof(attr);
	}
	ruleset = (int)syscall(__NR_landlock_create_ruleset, &attr, attr_size, 0);
	if (ruleset < 0)
		return -1;
	rc = add_rules(ruleset, common_rules, sizeof(common_rules) / sizeof(common_rules[0]),
		       data_dir, exe, attr.handled_access_fs);
	if (rc == 0)
		rc = add_rules(ruleset, role_rules[role].rules, role_rules[role].count,
			       data_dir, exe, attr.handled_access_fs);
	for (size_t i = 0; rc == 0 && extra_ro && extra_ro[i]; i++) {
		struct ll_rule extra = { LL_ABS, extra_ro[i], R };

		rc = add_rules(ruleset, &extra, 1, data_dir, exe, attr.handled_access_fs);
	}
	if (rc == 0)
		rc = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	if (rc == 0)
		rc = (int)syscall(__NR_landlock_restrict_self, ruleset, 0);
	int saved = errno;
	close(ruleset);
	errno = saved;
	return rc == 0 ? abi : -1;
}
