/* Roles and privileges (SQL.md 9.7): who the session is acting as, role
 * membership with inheritance, ACLs on items, schemas, databases and SYSTEM,
 * ownership. Other executors call the cat_rbac_require_* checks below before
 * they change anything; each returns 0 (allowed) or -1 with `e` set to the
 * SQL.md 7 error (42501, or XX000 if the catalog could not be read). */
#ifndef TETHER_CAT_RBAC_H
#define TETHER_CAT_RBAC_H

#include <stddef.h>

#include "err.h"
#include "exec.h"
#include "sql/ast.h"
#include "store.h"

/* ---- checks for executors (superusers pass them all) ----
 *
 * All of them read the catalog as it is now (a role's attributes or
 * memberships may have changed since the session started) and act as the
 * session's current role (s->role, which SET ROLE changes). */

/* 1 if the session's current role is a superuser, else 0 (also when the
 * role no longer exists). */
int cat_rbac_is_superuser(struct cat_ctx *ctx, const struct cat_session *s);

/* Ownership of an item (ALTER, RENAME, DROP, COMMENT ON, ROTATE KEYS, GRANT
 * on it): the current role or a role it inherits from owns `it`.
 * `must be owner of SECRET|CONNECTION <db.schema.name>` (42501). */
int cat_rbac_require_owner(struct cat_ctx *ctx, const struct cat_session *s,
			   const struct cat_item *it, struct err *e);

/* `priv` (CAT_PRIV_USAGE) on an item, and USAGE on the item's schema
 * (referring to an object needs both). Owners hold every privilege.
 * `permission denied for SECRET "<db.schema.name>"` + detail
 * `The '<role>' role needs USAGE privileges on SECRET "<db.schema.name>"`. */
int cat_rbac_require_item(struct cat_ctx *ctx, const struct cat_session *s,
			  enum cat_priv priv, const struct cat_item *it,
			  struct err *e);

/* `priv` (CAT_PRIV_USAGE or CAT_PRIV_CREATE) on a schema; system schemas
 * grant USAGE to PUBLIC and CREATE to nobody. CREATE SECRET/CONNECTION:
 * CAT_PRIV_CREATE; SHOW ... / DROP: CAT_PRIV_USAGE. */
int cat_rbac_require_schema(struct cat_ctx *ctx, const struct cat_session *s,
			    enum cat_priv priv, const struct cat_schema *sc,
			    struct err *e);

/* `priv` on a database by name (CREATE SCHEMA: CAT_PRIV_CREATE). */
int cat_rbac_require_database(struct cat_ctx *ctx, const struct cat_session *s,
			      enum cat_priv priv, const char *database,
			      struct err *e);

/* CAT_PRIV_CREATEROLE or CAT_PRIV_CREATEDB on SYSTEM (granted on SYSTEM
 * or as the role attribute). `permission denied for SYSTEM`. */
int cat_rbac_require_system(struct cat_ctx *ctx, const struct cat_session *s,
			    enum cat_priv priv, struct err *e);

/* 1 if `member_id` is `role_id` or a direct or indirect member of it
 * (regardless of INHERIT, as for SET ROLE and OWNER TO), 0 if not, -1 with
 * e set on error. Role ids are "u<n>"/"s<n>". */
int cat_rbac_is_member(struct cat_ctx *ctx, const char *member_id,
		       const char *role_id, struct err *e);

/* The ACL of a new object owned by `owner_id`: "{<owner>=U/<owner>}" for
 * items, "{<owner>=UC/<owner>}" for schemas and databases (owners hold
 * every privilege anyway; this is what mz_* shows). */
void cat_rbac_owner_acl(enum cat_grant_target kind, const char *owner_id,
			char *buf, size_t size);

/* ---- ACL text (the privileges columns; pure, unit-tested) ----
 *
 * PostgreSQL aclitem[] text: "{grantee=privs/grantor,...}", grantee ""
 * = PUBLIC, letters U usage, C create, R createrole, B createdb. */
#define CAT_ACL_MAX_ITEMS 64
#define CAT_ACL_TEXT_MAX (CAT_ACL_MAX_ITEMS * (2 * CAT_ID_MAX + 8) + 4)

struct cat_aclitem {
	char grantee[CAT_ID_MAX];           /* "" = PUBLIC */
	char grantor[CAT_ID_MAX];
	unsigned privs;                     /* CAT_PRIV_* bits */
};

struct cat_acl {
	struct cat_aclitem items[CAT_ACL_MAX_ITEMS];
	size_t n;
};

/* 0, or -1 if `text` is not a well-formed ACL (XX000 in e). */
int cat_acl_parse(const char *text, struct cat_acl *acl, struct err *e);
/* Renders into buf (at least CAT_ACL_TEXT_MAX bytes). */
void cat_acl_render(const struct cat_acl *acl, char *buf, size_t size);
/* Adds privs for grantee (merging with an existing grantee/grantor item).
 * 0, or -1 if the ACL is full (54000 in e). */
int cat_acl_grant(struct cat_acl *acl, const char *grantee, const char *grantor,
		  unsigned privs, struct err *e);
/* Removes privs from every item of grantee; items left empty go. */
void cat_acl_revoke(struct cat_acl *acl, const char *grantee, unsigned privs);
/* Privileges the ACL gives to any of roles[0..n) or PUBLIC. */
unsigned cat_acl_privs_of(const struct cat_acl *acl, const char *const *roles,
			  size_t n);
/* 1 if any item names role_id as grantee or grantor. */
int cat_acl_mentions(const struct cat_acl *acl, const char *role_id);
/* Ownership change: items of old_owner become new_owner's (merged). */
void cat_acl_new_owner(struct cat_acl *acl, const char *old_owner,
		       const char *new_owner);
/* "USAGE", "CREATE", "CREATEROLE", "CREATEDB" joined with ", ". */
void cat_priv_names(unsigned privs, char *buf, size_t size);
/* Privileges that may be granted on a kind of object (SQL.md 9.7). */
unsigned cat_priv_grantable(enum cat_grant_target kind);

#endif
