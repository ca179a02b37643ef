/* Peer authentication: SO_PEERCRED's uid (taken by server.c at accept)
 * against the role asked for in the startup packet. */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cat_auth_os_user(const char *passwd_path, uid_t uid, char *name, size_t size)
{
	char line[1024];
	FILE *f = fopen(passwd_path, "re");
	int found = -1;

	if (!f)
		return -1;
	/* name:password:uid:gid:gecos:home:shell */
	while (found < 0 && fgets(line, sizeof(line), f)) {
		char *user = line, *p, *end;
		unsigned long v;

		p = strchr(user, ':');
		if (!p)
			continue;
		*p++ = '\0';
		p = strchr(p, ':');
		if (!p)
			continue;
		p++;
		v = strtoul(p, &end, 10);
		if (end == p || *end != ':' || v != (unsigned long)uid)
			continue;
		if (strlen(user) < size) {
			memcpy(name, user, strlen(user) + 1);
			found = 0;
		}
	}
	fclose(f);
	return found;
}

int cat_auth_login(struct cat_store *store, const char *passwd_path,
		   uid_t peer_uid, uid_t self_uid, const char *user,
		   const char *database, struct cat_role *role, struct err *e)
{
	if (peer_uid != 0 && peer_uid != self_uid) {
		char os_user[256];

		if (cat_auth_os_user(passwd_path, peer_uid, os_user, sizeof(os_user)) < 0 ||
		    strcmp(os_user, user) != 0) {
			err_set(e, "28000", "peer authentication failed for user \"%s\"", user);
			err_detail(e, "Connections from OS user id %u may log in only as the role of that OS user's name.",
				   (unsigned)peer_uid);
			return -1;
		}
	}
	return cat_auth_login_checked(store, user, database, role, e);
}

int cat_auth_login_checked(struct cat_store *store, const char *user,
			   const char *database, struct cat_role *role, struct err *e)
{
	char dbid[CAT_ID_MAX];
	int rc;

	rc = cat_store_find_role(store, user, role, e);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return err_set(e, "28000", "role \"%s\" does not exist", user);
	if (!role->can_login)
		return err_set(e, "28000", "role \"%s\" is not permitted to log in", user);
	rc = cat_store_find_database(store, database, dbid, e);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return err_set(e, "3D000", "database \"%s\" does not exist", database);
	return 0;
}

int cat_auth_password_verifier(struct cat_store *store, const char *user, char *out,
			       size_t size, struct err *e)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(store->db, "SELECT password_hash FROM roles WHERE name = ?1",
			       -1, &q, NULL) != SQLITE_OK)
		return err_set(e, "XX000", "internal error: catalog: %s", sqlite3_errmsg(store->db));
	sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(q, 0);
		size_t n = v ? strlen(v) : 0;

		rc = 0;
		if (n && n < size) {
			memcpy(out, v, n + 1);
			rc = 1;
		}
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		err_set(e, "XX000", "internal error: catalog: %s", sqlite3_errmsg(store->db));
		rc = -1;
	}
	sqlite3_finalize(q);
	return rc;
}
