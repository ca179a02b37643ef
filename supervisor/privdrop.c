/* Privilege separation by uid: when tetherd runs as root each role runs as
 * its own unprivileged user (users.* in tether.conf). Resolving the users
 * at start, handing DATA/vault and DATA/catalog to their owners, and the
 * drop itself, done in the child between fork and exec. */
#include "sup.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

static const enum tcfg_key user_keys[SBX_ROLE_COUNT] = {
	[SBX_ROLE_VAULT] = TCFG_USER_VAULT,
	[SBX_ROLE_CATALOG] = TCFG_USER_CATALOG,
	[SBX_ROLE_VALIDATOR] = TCFG_USER_VALIDATOR,
};

int sup_creds_resolve(const struct tcfg *cfg, struct sup_creds creds[SBX_ROLE_COUNT],
		      struct err *e)
{
	const char *missing = NULL;

	err_clear(e);
	memset(creds, 0, sizeof(*creds) * SBX_ROLE_COUNT);
	if (geteuid() != 0)
		return 0;               /* already unprivileged: nothing to drop */
	for (int r = 0; r < SBX_ROLE_COUNT; r++) {
		const char *name = tcfg_get(cfg, user_keys[r]);
		struct passwd *pw = name ? getpwnam(name) : NULL;

		snprintf(creds[r].user, sizeof(creds[r].user), "%s", name ? name : "");
		if (!pw) {
			if (!missing)
				missing = creds[r].user;
			continue;
		}
		if (pw->pw_uid == 0 || pw->pw_gid == 0)
			return err_set(e, "F0000", "user %s (%s) has uid or gid 0: each role "
				       "needs an unprivileged user of its own", name,
				       tcfg_name(user_keys[r]));
		creds[r].uid = pw->pw_uid;
		creds[r].gid = pw->pw_gid;
	}
	if (missing) {
		if (tcfg_get_bool(cfg, TCFG_USERS_REQUIRED)) {
			err_set(e, "F0000", "running as root, but user %s does not exist; "
				"create the service users with `tether init --create-users` "
				"(or set users.vault/users.catalog/users.validator)", missing);
			return -1;
		}
		log_error("privilege_drop_skipped", "user=%s reason=\"user does not exist\" "
			  "effect=\"every role runs as root\" hint=\"tether init --create-users; "
			  "users.required=true makes this fatal\"", missing);
		memset(creds, 0, sizeof(*creds) * SBX_ROLE_COUNT);
		return 0;
	}
	for (int a = 0; a < SBX_ROLE_COUNT; a++)
		for (int b = a + 1; b < SBX_ROLE_COUNT; b++)
			if (creds[a].uid == creds[b].uid)
				return err_set(e, "F0000", "%s and %s are the same user (uid %u): "
					       "each role needs its own", tcfg_name(user_keys[a]),
					       tcfg_name(user_keys[b]), (unsigned)creds[a].uid);
	for (int r = 0; r < SBX_ROLE_COUNT; r++) {
		creds[r].drop = 1;
		log_info("role_user", "role=%s user=%s uid=%u gid=%u", sbx_role_name((enum sbx_role)r),
			 creds[r].user, (unsigned)creds[r].uid, (unsigned)creds[r].gid);
	}
	return 0;
}

/* nftw has no user argument: the owner being applied. */
static uid_t chown_uid;
static gid_t chown_gid;

static int chown_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)f;
	if (st->st_uid == chown_uid && st->st_gid == chown_gid)
		return 0;
	(void)flag;     /* lchown: a symlink itself, never its target */
	return lchown(path, chown_uid, chown_gid) == 0 ? 0 : -1;
}

int sup_datadir_assign(const char *dir, const struct sup_creds creds[SBX_ROLE_COUNT],
		       struct err *e)
{
	static const struct { const char *sub; enum sbx_role role; } owned[] = {
		{ "vault", SBX_ROLE_VAULT }, { "catalog", SBX_ROLE_CATALOG },
	};
	char path[PATH_MAX];

	err_clear(e);
	if (!creds[SBX_ROLE_VAULT].drop)
		return 0;
	/* Every directory above DATA must let the role users pass. */
	snprintf(path, sizeof(path), "%s", dir);
	for (char *slash = strrchr(path, '/'); slash && slash != path; slash = strrchr(path, '/')) {
		struct stat st;

		*slash = '\0';
		if (stat(path, &st) != 0)
			return err_set(e, "58030", "cannot stat %.200s: %s", path, strerror(errno));
		if (!(st.st_mode & S_IXOTH))
			return err_set(e, "58030", "the role users (%s, %s) cannot reach the data "
				       "directory: %.200s is mode %04o; chmod o+x it or move the data "
				       "directory", creds[SBX_ROLE_VAULT].user,
				       creds[SBX_ROLE_CATALOG].user, path,
				       (unsigned)(st.st_mode & 07777));
	}
	/* The roles must traverse DATA to reach their directory; nobody may
	 * list it. The socket (0600) and the lock stay root's. */
	if (chmod(dir, 0711) != 0)
		return err_set(e, "58030", "cannot chmod 0711 %.200s: %s", dir, strerror(errno));
	for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
		const struct sup_creds *c = &creds[owned[i].role];

		snprintf(path, sizeof(path), "%s/%s", dir, owned[i].sub);
		chown_uid = c->uid;
		chown_gid = c->gid;
		/* FTW_PHYS: never follow a symlink out of the directory. */
		if (nftw(path, chown_one, 16, FTW_PHYS | FTW_MOUNT) != 0)
			return err_set(e, "58030", "cannot give %.200s to %s: %s", path, c->user,
				       strerror(errno));
		if (chmod(path, 0700) != 0)
			return err_set(e, "58030", "cannot chmod 0700 %.200s: %s", path,
				       strerror(errno));
	}
	return 0;
}

int sup_drop_privileges(const struct sup_creds *c)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (!c || !c->drop)
		return 0;
	if (setgroups(0, NULL) != 0 || setresgid(c->gid, c->gid, c->gid) != 0 ||
	    setresuid(c->uid, c->uid, c->uid) != 0)
		return -1;
	/* Verify, do not trust: no way back to root, no stray group. */
	if (getresuid(&ru, &eu, &su) != 0 || ru != c->uid || eu != c->uid || su != c->uid ||
	    getresgid(&rg, &eg, &sg) != 0 || rg != c->gid || eg != c->gid || sg != c->gid ||
	    getgroups(0, NULL) != 0 || setuid(0) == 0 || seteuid(0) == 0) {
		errno = EPERM;
		return -1;
	}
	return 0;
}
