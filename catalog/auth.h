/* Peer authentication on the Unix socket (PostgreSQL's "peer" method): the
 * daemon's own OS user and root may log in as any role; anyone else only as
 * the role named like their OS user. Database must be `materialize`. On the
 * TCP listener: the role's SCRAM verifier (server.c runs the exchange). */
#ifndef TETHER_CAT_AUTH_H
#define TETHER_CAT_AUTH_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"
#include "store.h"

/* Name of `uid` from a passwd-format file (fopen/fgets, not getpwuid: NSS
 * could open sockets the seccomp policy forbids). 0 found, -1 not. */
int cat_auth_os_user(const char *passwd_path, uid_t uid, char *name, size_t size);

/* Decides a login; fills *role. -1 with a FATAL-worthy error (28000,
 * 3D000) otherwise. */
int cat_auth_login(struct cat_store *store, const char *passwd_path,
		   uid_t peer_uid, uid_t self_uid, const char *user,
		   const char *database, struct cat_role *role, struct err *e);

/* The checks after authentication (peer or password): the role exists and
 * has LOGIN (28000), the database exists (3D000). Fills *role. */
int cat_auth_login_checked(struct cat_store *store, const char *user,
			   const char *database, struct cat_role *role, struct err *e);

/* Password authentication (TCP): the SCRAM-SHA-256 verifier of role
 * `user`. 1 found (out filled; the caller wipes it), 0 no such role or no
 * password, -1 error (e set). */
int cat_auth_password_verifier(struct cat_store *store, const char *user, char *out,
			       size_t size, struct err *e);

#endif
