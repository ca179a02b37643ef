/* Internals shared by rbac.c (checks, ACL text) and ddl_role.c (the role,
 * GRANT/REVOKE, OWNER TO, database and schema statements). */
#ifndef TETHER_CAT_RBAC_INT_H
#define TETHER_CAT_RBAC_INT_H

#include "exec_int.h"
#include "rbac.h"

struct cat_role_info {
	char id[CAT_ID_MAX];
	char name[CAT_IDENT_MAX + 1];
	int superuser, login, inherit, createrole, createdb;
};

/* 1 found, 0 not, -1 error (e set). */
int cat_rbac_find_role(struct cat_store *st, const char *name,
		       struct cat_role_info *out, struct err *e);
int cat_rbac_find_role_by_id(struct cat_store *st, const char *id,
			     struct cat_role_info *out, struct err *e);

/* The role ids whose privileges role_id holds: itself, then (following
 * INHERIT) every role it is a member of. With all_members, memberships
 * count whatever INHERIT says. Returns the count (<= max) or -1. */
long cat_rbac_effective_roles(struct cat_store *st, const char *role_id,
			      int all_members, char (*out)[CAT_ID_MAX], size_t max,
			      struct err *e);
#define CAT_RBAC_MAX_ROLES 256

/* ACL column access. `table` is "items", "schemas" or "databases"; `id`
 * the row's id in text form ("17" for items, "u3" for schemas). The
 * SYSTEM ACL is table "system_privileges", id "1". 1 / 0 / -1. */
int cat_rbac_load_acl(struct cat_store *st, const char *table, const char *id,
		      struct cat_acl *acl, struct err *e);
int cat_rbac_store_acl(struct cat_store *st, const char *table, const char *id,
		       const struct cat_acl *acl, struct err *e);

/* "SECRET", "CONNECTION", "SCHEMA", "DATABASE", "SYSTEM". */
const char *cat_rbac_target_name(enum cat_grant_target t);

/* `must be owner of <TYPE> <name>` unless the current role (or one it
 * inherits) is owner_id or a superuser. */
int cat_rbac_require_owner_id(struct cat_ctx *ctx, const struct cat_session *s,
			      const char *owner_id, const char *type,
			      const char *name, struct err *e);

/* cat_rbac_require_schema acting as `role` (OWNER TO: the new owner). */
int cat_rbac_require_schema_as(struct cat_ctx *ctx, const struct cat_role *role,
			       enum cat_priv priv, const struct cat_schema *sc,
			       struct err *e);
/* "db.schema", or "schema" for system schemas. */
void cat_rbac_schema_display(const struct cat_schema *sc, char *buf, size_t size);

#endif
