/* Role, privilege and namespace statements (SQL.md 3, 7, 9.6, 9.7):
 * CREATE/ALTER/DROP ROLE, GRANT/REVOKE privileges and roles, ALTER ...
 * OWNER TO, CREATE/DROP DATABASE|SCHEMA, SET/RESET ROLE. Each statement is
 * one catalog transaction; DROP ... CASCADE goes through ddl.c's drop path
 * so that dropped secrets are shredded by the vault. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rbac_int.h"
#include "scram.h"
#include "sysvars.h"

#define QNAME_MAX (3 * (CAT_IDENT_MAX + 1))

/* A name as written, parts joined by dots (for messages). */
static void name_text(const struct cat_name *n, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < n->nparts && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? "." : "",
					n->parts[i]);
}

static int oom(struct exec_run *r)
{
	return err_set(r->e, "53200", "out of memory");
}

static int complete(struct exec_run *r, const struct cat_stmt *st)
{
	return pgw_command_complete(r->out, cat_stmt_tag(st)) < 0 ? oom(r) : CAT_RUN_DONE;
}

/* Audit of a committed change: to the vault's chain when it is up, else
 * only logged (as ddl.c does for RENAME). */
static void audit(struct exec_run *r, const char *event, const char *object_id,
		  const char *detail)
{
	if (r->ctx->vault->state == CAT_VAULT_DOWN ||
	    cat_vault_audit(r->ctx->vault, event, r->s->role.name, object_id, detail) < 0)
		log_warn("audit_not_sent", "event=%s id=%s reason=vault_unavailable",
			 event, object_id);
	log_info(event, "id=%s role=%s", object_id, r->s->role.name);
}

static sqlite3_stmt *prep(struct exec_run *r, const char *sql)
{
	sqlite3_stmt *q = NULL;

	if (sqlite3_prepare_v2(r->ctx->store->db, sql, -1, &q, NULL) != SQLITE_OK) {
		err_set(r->e, "XX000", "internal error: catalog: prepare: %s",
			sqlite3_errmsg(r->ctx->store->db));
		return NULL;
	}
	return q;
}

/* Steps a write to completion and finalizes. */
static int run_write(struct exec_run *r, sqlite3_stmt *q)
{
	int rc = sqlite3_step(q);

	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return err_set(r->e, "XX000", "internal error: catalog: %s",
			       sqlite3_errmsg(r->ctx->store->db));
	return 0;
}

/* One integer from a query with up to two text parameters; -1 on error. */
static long count_of(struct exec_run *r, const char *sql, const char *a, const char *b)
{
	sqlite3_stmt *q = prep(r, sql);
	long n = -1;

	if (!q)
		return -1;
	if (a)
		sqlite3_bind_text(q, 1, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(q, 2, b, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(q, 0);
	else
		err_set(r->e, "XX000", "internal error: catalog: %s",
			sqlite3_errmsg(r->ctx->store->db));
	sqlite3_finalize(q);
	return n;
}

/* Takes the next value of a counter (inside the caller's transaction). */
static int take_counter(struct exec_run *r, const char *name, int64_t *out)
{
	sqlite3_stmt *q = prep(r, "UPDATE counters SET value = value + 1 WHERE name = ?1"
				  " RETURNING value - 1");
	int rc;

	if (!q)
		return -1;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW)
		return err_set(r->e, "XX000", "internal error: catalog: counter %s", name);
	return 0;
}

int cat_ns_check_object_limit(struct exec_run *r, const struct cat_schema *sc,
			      const char *kind)
{
	/* item_counts: kept by triggers (store.c, migration 8) */
	long n = count_of(r, "SELECT coalesce(sum(n), 0) FROM item_counts WHERE schema_id = ?1",
			  sc->id, NULL);

	if (n < 0)
		return EXEC_ERROR;
	return cat_limit_check(r, kind, "max_objects_per_schema", n);
}

/* SQL.md 2: mz_..., pg_... and public are reserved role names. */
static int check_role_name(struct exec_run *r, const char *name)
{
	if (!strncmp(name, "mz_", 3) || !strncmp(name, "pg_", 3) ||
	    !strcmp(name, "public"))
		return err_set(r->e, "42939", "role name \"%s\" is reserved", name);
	return 0;
}

static int find_role(struct exec_run *r, const char *name, struct cat_role_info *ri)
{
	int rc = cat_rbac_find_role(r->ctx->store, name, ri, r->e);

	if (rc == 0)
		return err_set(r->e, "42704", "unknown role '%s'", name);
	return rc < 0 ? EXEC_ERROR : 0;
}

/* PASSWORD 'p' (for the TCP listener; the Unix socket uses peer
 * authentication): only its SCRAM-SHA-256 verifier is kept (catalog/
 * scram.c); a text that already is a verifier is stored as given, like
 * PostgreSQL. The text is wiped here, first thing. verifier "" = NULL
 * (PASSWORD NULL, or an empty password, which PostgreSQL also clears). */
static int take_password(struct exec_run *r, struct cat_rbac_stmt *rs, char *verifier,
			 size_t size)
{
	int rc = 0;

	verifier[0] = '\0';
	if (rs->password != 1)
		return 0;
	if (!rs->password_text)
		return err_set(r->e, "0A000",
			       "a prepared statement that held a password can be executed only once");
	if (rs->password_len == 0)
		rc = cat_exec_notice(r, "00000", "empty string is not a valid password, clearing password");
	else if (cat_scram_verifier_parse(rs->password_text, NULL) == 0 &&
		 rs->password_len < size)
		memcpy(verifier, rs->password_text, rs->password_len + 1);
	else
		rc = cat_scram_verifier_make(rs->password_text, rs->password_len,
					     CAT_SCRAM_ITERATIONS, NULL, 0, verifier, size, r->e);
	explicit_bzero(rs->password_text, rs->password_len);
	free(rs->password_text);
	rs->password_text = NULL;
	rs->password_len = 0;
	return rc < 0 ? EXEC_ERROR : 0;
}

/* Attribute changes only a superuser may make (PostgreSQL's rules). */
static int check_attr_rights(struct exec_run *r, const struct cat_rbac_stmt *rs,
			     const char *what, int target_is_super)
{
	if (cat_rbac_is_superuser(r->ctx, r->s))
		return 0;
	if ((rs->attr_set & CAT_RATTR_SUPERUSER) || target_is_super) {
		err_set(r->e, "42501", "permission denied to %s role", what);
		err_detail(r->e, "Only roles with the SUPERUSER attribute may %s roles with the SUPERUSER attribute.",
			   what);
		return EXEC_ERROR;
	}
	if ((rs->attr_set & rs->attr_on & CAT_RATTR_CREATEDB) &&
	    cat_rbac_require_system(r->ctx, r->s, CAT_PRIV_CREATEDB, r->e) < 0)
		return EXEC_ERROR;
	return 0;
}

/* ---- CREATE / ALTER / DROP ROLE ---- */

static int attr(const struct cat_rbac_stmt *rs, unsigned a, int dflt)
{
	return (rs->attr_set & a) ? !!(rs->attr_on & a) : dflt;
}

int cat_role_create(struct exec_run *r, struct cat_stmt *st)
{
	const struct cat_rbac_stmt *rs = st->rbac;
	struct cat_role_info ri;
	char id[CAT_ID_MAX], verifier[CAT_SCRAM_VERIFIER_MAX];
	int64_t n, oid;
	long count;
	sqlite3_stmt *q;
	int rc;

	if (take_password(r, st->rbac, verifier, sizeof(verifier)) < 0 ||
	    check_role_name(r, rs->role) < 0 ||
	    cat_rbac_require_system(r->ctx, r->s, CAT_PRIV_CREATEROLE, r->e) < 0 ||
	    check_attr_rights(r, rs, "create", 0) < 0)
		return EXEC_ERROR;
	if (cat_store_begin(r->ctx->store, r->e) < 0)
		return EXEC_ERROR;
	rc = cat_rbac_find_role(r->ctx->store, rs->role, &ri, r->e);
	if (rc != 0) {
		if (rc == 1)
			err_set(r->e, "42710", "role \"%s\" already exists", rs->role);
		goto fail;
	}
	count = count_of(r, "SELECT count(*) FROM roles WHERE id LIKE 'u%'", NULL, NULL);
	if (count < 0 || cat_limit_check(r, "role", "max_roles", count) < 0 ||
	    take_counter(r, "next_role_id", &n) < 0 || take_counter(r, "next_oid", &oid) < 0)
		goto fail;
	snprintf(id, sizeof(id), "u%" PRId64, n);
	q = prep(r, "INSERT INTO roles (id, oid, name, inherit, rolcanlogin, rolsuper,"
		    " rolcreaterole, rolcreatedb, password_hash)"
		    " VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8)");
	if (!q)
		goto fail;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, oid);
	sqlite3_bind_text(q, 3, rs->role, -1, SQLITE_STATIC);
	/* PostgreSQL's CREATE ROLE defaults: NOLOGIN, no attributes. */
	sqlite3_bind_int(q, 4, attr(rs, CAT_RATTR_LOGIN, 0));
	sqlite3_bind_int(q, 5, attr(rs, CAT_RATTR_SUPERUSER, 0));
	sqlite3_bind_int(q, 6, attr(rs, CAT_RATTR_CREATEROLE, 0));
	sqlite3_bind_int(q, 7, attr(rs, CAT_RATTR_CREATEDB, 0));
	if (verifier[0])
		sqlite3_bind_text(q, 8, verifier, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 8);
	if (run_write(r, q) < 0 || cat_store_commit(r->ctx->store, r->e) < 0)
		goto fail;
	{
		char detail[CAT_IDENT_MAX + 32];

		snprintf(detail, sizeof(detail), "%s%s", rs->role,
			 verifier[0] ? " password=set" : "");
		audit(r, "role_created", id, detail);
	}
	return complete(r, st);
fail:
	cat_store_rollback(r->ctx->store);
	return EXEC_ERROR;
}

static const struct {
	unsigned attr;
	const char *column;
} attr_columns[] = {
	{ CAT_RATTR_SUPERUSER, "rolsuper" },
	{ CAT_RATTR_LOGIN, "rolcanlogin" },
	{ CAT_RATTR_INHERIT, "inherit" },
	{ CAT_RATTR_CREATEROLE, "rolcreaterole" },
	{ CAT_RATTR_CREATEDB, "rolcreatedb" },
};

int cat_role_alter(struct exec_run *r, struct cat_stmt *st)
{
	const struct cat_rbac_stmt *rs = st->rbac;
	struct cat_role_info ri;
	char verifier[CAT_SCRAM_VERIFIER_MAX];
	int own_password;

	if (take_password(r, st->rbac, verifier, sizeof(verifier)) < 0 ||
	    find_role(r, rs->role, &ri) < 0)
		return EXEC_ERROR;
	/* PostgreSQL: any role may change its own password. */
	own_password = rs->password && !rs->attr_set && !strcmp(r->s->role.id, ri.id);
	if (!own_password &&
	    (cat_rbac_require_system(r->ctx, r->s, CAT_PRIV_CREATEROLE, r->e) < 0 ||
	     check_attr_rights(r, rs, "alter", ri.superuser) < 0))
		return EXEC_ERROR;
	/* The bootstrap role keeps SUPERUSER: someone must be able to undo. */
	if (!strcmp(ri.id, "u1") && (rs->attr_set & ~rs->attr_on & CAT_RATTR_SUPERUSER)) {
		err_set(r->e, "42501", "permission denied to alter role");
		err_detail(r->e, "The bootstrap role \"%s\" must keep the SUPERUSER attribute.",
			   ri.name);
		return EXEC_ERROR;
	}
	if (cat_store_begin(r->ctx->store, r->e) < 0)
		return EXEC_ERROR;
	for (size_t i = 0; i < sizeof(attr_columns) / sizeof(attr_columns[0]); i++) {
		char sql[128];
		sqlite3_stmt *q;

		if (!(rs->attr_set & attr_columns[i].attr))
			continue;
		snprintf(sql, sizeof(sql), "UPDATE roles SET %s = ?2 WHERE id = ?1",
			 attr_columns[i].column);
		if (!(q = prep(r, sql)))
			goto fail;
		sqlite3_bind_text(q, 1, ri.id, -1, SQLITE_STATIC);
		sqlite3_bind_int(q, 2, !!(rs->attr_on & attr_columns[i].attr));
		if (run_write(r, q) < 0)
			goto fail;
	}
	if (rs->password) {
		sqlite3_stmt *q = prep(r, "UPDATE roles SET password_hash = ?2 WHERE id = ?1");

		if (!q)
			goto fail;
		sqlite3_bind_text(q, 1, ri.id, -1, SQLITE_STATIC);
		if (verifier[0])
			sqlite3_bind_text(q, 2, verifier, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(q, 2);
		if (run_write(r, q) < 0)
			goto fail;
	}
	if (cat_store_commit(r->ctx->store, r->e) < 0)
		goto fail;
	/* The session's copy (is_superuser, login) follows its own role. */
	if (!strcmp(r->s->role.id, ri.id) && cat_rbac_find_role_by_id(r->ctx->store, ri.id, &ri, r->e) == 1) {
		r->s->role.superuser = ri.superuser;
		r->s->role.can_login = ri.login;
		if (pgw_parameter_status(r->out, "is_superuser", ri.superuser ? "on" : "off") < 0)
			return oom(r);
	}
	{
		char detail[CAT_IDENT_MAX + 32];

		snprintf(detail, sizeof(detail), "%s%s", rs->role,
			 !rs->password ? "" : verifier[0] ? " password=set" : " password=cleared");
		audit(r, "role_altered", ri.id, detail);
	}
	return complete(r, st);
fail:
	cat_store_rollback(r->ctx->store);
	return EXEC_ERROR;
}

/* What keeps a role from being dropped: objects it owns and privileges it
 * holds or granted. Appends up to a few lines to `detail`; returns how
 * many objects there are, or -1. */
static long role_dependents(struct exec_run *r, const struct cat_role_info *ri,
			    char *detail, size_t size)
{
	static const char *const sql =
		"SELECT 'SECRET', i.kind, i.owner_id, i.privileges, s.id, s.name, coalesce(d.name, ''), i.name"
		"  FROM items i JOIN schemas s ON s.id = i.schema_id LEFT JOIN databases d ON d.id = s.database_id"
		" UNION ALL SELECT 'SCHEMA', 'schema', s.owner_id, s.privileges, s.id, s.name, coalesce(d.name, ''), NULL"
		"  FROM schemas s LEFT JOIN databases d ON d.id = s.database_id"
		" UNION ALL SELECT 'DATABASE', 'database', d.owner_id, d.privileges, d.id, d.name, '', NULL"
		"  FROM databases d"
		" UNION ALL SELECT 'SYSTEM', 'system', '', p.privileges, '', '', '', NULL"
		"  FROM system_privileges p";
	sqlite3_stmt *q = prep(r, sql);
	size_t off = strlen(detail);
	long n = 0;
	int rc;

	if (!q)
		return -1;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(q, 1);
		const char *owner = (const char *)sqlite3_column_text(q, 2);
		const char *privs = (const char *)sqlite3_column_text(q, 3);
		const char *schema = (const char *)sqlite3_column_text(q, 5);
		const char *db = (const char *)sqlite3_column_text(q, 6);
		const char *item = (const char *)sqlite3_column_text(q, 7);
		char name[QNAME_MAX];
		struct cat_acl acl;
		struct err pe;
		int owns = owner && !strcmp(owner, ri->id);
		int has_acl = cat_acl_parse(privs, &acl, &pe) == 0 && cat_acl_mentions(&acl, ri->id);

		if (!owns && !has_acl)
			continue;
		if (!strcmp(kind, "database"))
			snprintf(name, sizeof(name), " %s", schema);
		else if (!strcmp(kind, "system"))
			name[0] = '\0';
		else if (!strcmp(kind, "schema"))
			snprintf(name, sizeof(name), " %s%s%s", db, *db ? "." : "", schema);
		else
			snprintf(name, sizeof(name), " %s%s%s.%s", db, *db ? "." : "", schema, item);
		if (n < 5 && off < size)
			off += (size_t)snprintf(detail + off, size - off, "%s%s %s%s",
						off ? "\n" : "", owns ? "owner of" : "privileges for",
						kind, name);
		n++;
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return err_set(r->e, "XX000", "internal error: catalog: %s",
			       sqlite3_errmsg(r->ctx->store->db));
	if (n > 5 && off < size)
		snprintf(detail + off, size - off, "\nand %ld other objects", n - 5);
	return n;
}

int cat_role_drop(struct exec_run *r, struct cat_stmt *st)
{
	const struct cat_rbac_stmt *rs = st->rbac;
	struct cat_role_info *roles = calloc(rs->nroles + 1, sizeof(*roles));
	size_t n = 0;
	int ret = EXEC_ERROR;

	if (!roles)
		return oom(r);
	if (cat_rbac_require_system(r->ctx, r->s, CAT_PRIV_CREATEROLE, r->e) < 0)
		goto out;
	for (size_t i = 0; i < rs->nroles; i++) {
		struct cat_role_info *ri = &roles[n];
		char detail[1024] = "";
		long deps;
		int rc = cat_rbac_find_role(r->ctx->store, rs->roles[i], ri, r->e);

		if (rc < 0)
			goto out;
		if (rc == 0) {
			if (!st->if_exists) {
				err_set(r->e, "42704", "unknown role '%s'", rs->roles[i]);
				goto out;
			}
			if (cat_exec_notice(r, "00000", "role \"%s\" does not exist, skipping",
					    rs->roles[i]) < 0)
				goto out;
			continue;
		}
		if (!strcmp(ri->id, r->s->role.id)) {
			err_set(r->e, "55006", "current role cannot be dropped");
			goto out;
		}
		if (!strcmp(ri->id, r->s->login_role.id)) {
			err_set(r->e, "55006", "session role cannot be dropped");
			goto out;
		}
		if (ri->superuser && !cat_rbac_is_superuser(r->ctx, r->s)) {
			err_set(r->e, "42501", "permission denied to drop role");
			err_detail(r->e, "Only roles with the SUPERUSER attribute may drop roles with the SUPERUSER attribute.");
			goto out;
		}
		deps = role_dependents(r, ri, detail, sizeof(detail));
		if (deps < 0)
			goto out;
		if (deps > 0) {
			err_set(r->e, "2BP01", "role \"%s\" cannot be dropped because some objects depend on it",
				ri->name);
			err_detail(r->e, "%s", detail);
			err_hint(r->e, "Change their owner (ALTER ... OWNER TO) and REVOKE the privileges first.");
			goto out;
		}
		n++;
	}
	if (cat_store_begin(r->ctx->store, r->e) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *q = prep(r, "DELETE FROM roles WHERE id = ?1");

		if (!q) {
			cat_store_rollback(r->ctx->store);
			goto out;
		}
		sqlite3_bind_text(q, 1, roles[i].id, -1, SQLITE_STATIC);
		/* role_members rows go with it (ON DELETE CASCADE); an item,
		 * schema or database still naming it fails the foreign key. */
		if (run_write(r, q) < 0) {
			cat_store_rollback(r->ctx->store);
			goto out;
		}
	}
	if (cat_store_commit(r->ctx->store, r->e) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		audit(r, "role_dropped", roles[i].id, roles[i].name);
	ret = complete(r, st);
out:
	free(roles);
	return ret;
}

/* ---- GRANT / REVOKE role ---- */

int cat_role_grant_role(struct exec_run *r, struct cat_stmt *st)
{
	const struct cat_rbac_stmt *rs = st->rbac;
	int grant = st->kind == CAT_STMT_GRANT_ROLE;
	int super = cat_rbac_is_superuser(r->ctx, r->s);

	if (cat_rbac_require_system(r->ctx, r->s, CAT_PRIV_CREATEROLE, r->e) < 0)
		return EXEC_ERROR;
	if (cat_store_begin(r->ctx->store, r->e) < 0)
		return EXEC_ERROR;
	for (size_t i = 0; i < rs->nroles; i++) {
		struct cat_role_info role;

		if (check_role_name(r, rs->roles[i]) < 0 || find_role(r, rs->roles[i], &role) < 0)
			goto fail;
		/* Membership lets a role SET ROLE: granting a superuser role
		 * is for superusers only. */
		if (role.superuser && !super) {
			err_set(r->e, "42501", "permission denied to %s role \"%s\"",
				grant ? "grant" : "revoke", role.name);
			err_detail(r->e, "Only roles with the SUPERUSER attribute may grant or revoke roles with the SUPERUSER attribute.");
			goto fail;
		}
		for (size_t k = 0; k < rs->ngrantees; k++) {
			struct cat_role_info member;
			sqlite3_stmt *q;
			int rc;

			if (check_role_name(r, rs->grantees[k]) < 0 ||
			    find_role(r, rs->grantees[k], &member) < 0)
				goto fail;
			rc = count_of(r, "SELECT count(*) FROM role_members WHERE role_id = ?1 AND member_id = ?2",
				      role.id, member.id);
			if (rc < 0)
				goto fail;
			if (grant && rc > 0) {
				if (cat_exec_notice(r, "00000", "role \"%s\" is already a member of role \"%s\"",
						    member.name, role.name) < 0)
					goto fail;
				continue;
			}
			if (!grant && rc == 0) {
				if (cat_exec_notice(r, "00000", "role \"%s\" is not a member of role \"%s\"",
						    member.name, role.name) < 0)
					goto fail;
				continue;
			}
			if (grant) {
				/* No cycles: role must not already be (a member of)
				 * the new member. */
				rc = cat_rbac_is_member(r->ctx, role.id, member.id, r->e);
				if (rc < 0)
					goto fail;
				if (rc) {
					err_set(r->e, "0LP01", "granting role \"%s\" to role \"%s\" would create a membership cycle",
						role.name, member.name);
					goto fail;
				}
				q = prep(r, "INSERT INTO role_members (role_id, member_id, grantor_id)"
					    " VALUES (?1, ?2, ?3)");
			} else {
				q = prep(r, "DELETE FROM role_members WHERE role_id = ?1 AND member_id = ?2");
			}
			if (!q)
				goto fail;
			sqlite3_bind_text(q, 1, role.id, -1, SQLITE_STATIC);
			sqlite3_bind_text(q, 2, member.id, -1, SQLITE_STATIC);
			if (grant)
				sqlite3_bind_text(q, 3, r->s->role.id, -1, SQLITE_STATIC);
			if (run_write(r, q) < 0)
				goto fail;
		}
	}
	if (cat_store_commit(r->ctx->store, r->e) < 0)
		goto fail;
	audit(r, grant ? "role_granted" : "role_revoked", rs->nroles ? rs->roles[0] : "",
	      rs->ngrantees ? rs->grantees[0] : "");
	return complete(r, st);
fail:
	cat_store_rollback(r->ctx->store);
	return EXEC_ERROR;
}

/* ---- GRANT / REVOKE privileges ---- */

struct grant_ctx {
	struct exec_run *r;
	int grant;
	unsigned privs;
	char (*grantees)[CAT_ID_MAX];       /* "" = PUBLIC */
	size_t ngrantees;
};

/* Applies the grant to one ACL row; grantor = the object's owner (as
 * PostgreSQL records a superuser's grant). */
static int apply_acl(struct grant_ctx *g, const char *table, const char *id,
		     const char *owner)
{
	struct cat_acl acl;
	int rc = cat_rbac_load_acl(g->r->ctx->store, table, id, &acl, g->r->e);

	if (rc <= 0)
		return rc < 0 ? -1 : err_set(g->r->e, "XX000", "internal error: catalog: %s %s vanished",
					     table, id);
	for (size_t i = 0; i < g->ngrantees; i++) {
		if (g->grant) {
			if (cat_acl_grant(&acl, g->grantees[i], owner, g->privs, g->r->e) < 0)
				return -1;
		} else {
			cat_acl_revoke(&acl, g->grantees[i], g->privs);
		}
	}
	return cat_rbac_store_acl(g->r->ctx->store, table, id, &acl, g->r->e);
}

static int grant_item(struct grant_ctx *g, const struct cat_item *it,
		      enum cat_object_kind want)
{
	char id[CAT_ID_MAX], q[QNAME_MAX];

	if (cat_store_qualified_name(g->r->ctx->store, it, q, sizeof(q), g->r->e) < 0)
		return -1;
	if (it->kind != want)
		return err_set(g->r->e, "42809", "%s is a %s not a %s", q,
			       cat_kind_name(it->kind), cat_kind_name(want));
	if (cat_rbac_require_owner(g->r->ctx, g->r->s, it, g->r->e) < 0)
		return -1;
	snprintf(id, sizeof(id), "%" PRIu64, it->id);
	return apply_acl(g, "items", id, it->owner_id);
}

static int schema_row_owner(struct exec_run *r, const char *table, const char *id,
			    char owner[CAT_ID_MAX])
{
	char sql[96];
	sqlite3_stmt *q;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT owner_id FROM %s WHERE id = ?1", table);
	if (!(q = prep(r, sql)))
		return -1;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(q, 0);
		snprintf(owner, CAT_ID_MAX, "%s", t ? (const char *)t : "");
	}
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 0 : err_set(r->e, "XX000", "internal error: catalog: %s %s missing",
					      table, id);
}

static int database_id(struct exec_run *r, const char *name, char id[CAT_ID_MAX])
{
	int rc = cat_store_find_database(r->ctx->store, name, id, r->e);

	if (rc == 0)
		return err_set(r->e, "3D000", "unknown database '%s'", name);
	return rc < 0 ? -1 : 0;
}

static int system_schema_error(struct exec_run *r, const struct cat_schema *sc)
{
	return err_set(r->e, "42501", "system schema '%s' cannot be modified", sc->name);
}

/* ALL SECRETS|CONNECTIONS [IN SCHEMA ... | IN DATABASE ...]: every such
 * item that exists now (no default privileges). */
static int grant_all_items(struct grant_ctx *g, const struct cat_rbac_stmt *rs,
			   enum cat_object_kind kind)
{
	struct exec_run *r = g->r;
	char (*scopes)[CAT_ID_MAX] = calloc(rs->nobjects + 1, sizeof(*scopes));
	size_t nscopes = 0;
	int by_schema = rs->scope == 1, ret = -1;

	if (!scopes)
		return oom(r);
	if (rs->scope == 0) {
		if (database_id(r, cat_setting_get(r->s, "database"), scopes[0]) < 0)
			goto out;
		nscopes = 1;
	}
	for (size_t i = 0; i < rs->nobjects; i++) {
		if (by_schema) {
			struct cat_schema sc;
			if (cat_ddl_resolve_schema(r, &rs->objects[i], &sc) < 0)
				goto out;
			snprintf(scopes[nscopes++], CAT_ID_MAX, "%s", sc.id);
		} else if (database_id(r, rs->objects[i].parts[0], scopes[nscopes++]) < 0) {
			goto out;
		}
	}
	for (size_t i = 0; i < nscopes; i++) {
		sqlite3_stmt *q = prep(r, by_schema ?
			"SELECT i.id FROM items i WHERE i.kind = ?1 AND i.schema_id = ?2 ORDER BY i.id" :
			"SELECT i.id FROM items i JOIN schemas s ON s.id = i.schema_id"
			" WHERE i.kind = ?1 AND s.database_id = ?2 ORDER BY i.id");
		uint64_t *ids = NULL;
		size_t n = 0;
		int rc;

		if (!q)
			goto out;
		sqlite3_bind_text(q, 1, cat_kind_name(kind), -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, scopes[i], -1, SQLITE_STATIC);
		while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			uint64_t *p = realloc(ids, (n + 1) * sizeof(*ids));
			if (!p) {
				free(ids);
				sqlite3_finalize(q);
				oom(r);
				goto out;
			}
			ids = p;
			ids[n++] = (uint64_t)sqlite3_column_int64(q, 0);
		}
		sqlite3_finalize(q);
		for (size_t k = 0; k < n; k++) {
			struct cat_item it;
			if (cat_store_find_item_by_id(r->ctx->store, ids[k], &it, r->e) != 1 ||
			    grant_item(g, &it, kind) < 0) {
				if (!err_is_set(r->e))
					err_set(r->e, "XX000", "internal error: catalog: item vanished");
				free(ids);
				goto out;
			}
		}
		free(ids);
	}
	ret = 0;
out:
	free(scopes);
	return ret;
}

/* The qualified name of GRANT's first target, for the 0LP01 message
 * (name resolution errors come first, as in Materialize). */
static int first_target_name(struct exec_run *r, const struct cat_rbac_stmt *rs,
			     char *buf, size_t size)
{
	struct cat_item it;
	struct cat_schema sc;
	int rc;

	if (rs->target == CAT_GRANT_SCHEMA) {
		if (cat_ddl_resolve_schema(r, &rs->objects[0], &sc) < 0)
			return -1;
		cat_rbac_schema_display(&sc, buf, size);
		return 0;
	}
	if (rs->target == CAT_GRANT_DATABASE) {
		char id[CAT_ID_MAX];
		snprintf(buf, size, "%s", rs->objects[0].parts[0]);
		return database_id(r, buf, id);
	}
	rc = cat_ddl_lookup_item(r, &rs->objects[0], &it, &sc);

	if (rc == 0) {
		name_text(&rs->objects[0], buf, size);
		return err_set(r->e, "42704", "unknown catalog item '%s'", buf);
	}
	if (rc < 0)
		return -1;
	return cat_store_qualified_name(r->ctx->store, &it, buf, size, r->e);
}

int cat_role_grant_priv(struct exec_run *r, struct cat_stmt *st)
{
	const struct cat_rbac_stmt *rs = st->rbac;
	struct grant_ctx g = { .r = r, .grant = st->kind == CAT_STMT_GRANT_PRIV };
	unsigned allowed = cat_priv_grantable(rs->target);
	const char *type = cat_rbac_target_name(rs->target);
	int ret = EXEC_ERROR;

	g.privs = rs->all_privs ? allowed : rs->privs;
	if (g.privs & ~allowed) {
		char names[64], w[QNAME_MAX];

		cat_priv_names(g.privs & ~allowed, names, sizeof(names));
		if (rs->target == CAT_GRANT_SYSTEM || rs->target == CAT_GRANT_ALL_SECRETS ||
		    rs->target == CAT_GRANT_ALL_CONNECTIONS || rs->nobjects == 0)
			return err_set(r->e, "0LP01", "invalid privilege types %s for %s", names, type);
		if (first_target_name(r, rs, w, sizeof(w)) < 0)
			return EXEC_ERROR;
		return err_set(r->e, "0LP01", "invalid privilege types %s for %s \"%s\"",
			       names, type, w);
	}
	g.grantees = calloc(rs->ngrantees + 1, sizeof(*g.grantees));
	if (!g.grantees)
		return oom(r);
	for (size_t i = 0; i < rs->ngrantees; i++) {
		struct cat_role_info ri;

		if (!strcmp(rs->grantees[i], "public")) {
			g.grantees[g.ngrantees++][0] = '\0';
			continue;
		}
		if (check_role_name(r, rs->grantees[i]) < 0 || find_role(r, rs->grantees[i], &ri) < 0)
			goto out;
		snprintf(g.grantees[g.ngrantees++], CAT_ID_MAX, "%s", ri.id);
	}
	if (rs->target == CAT_GRANT_SYSTEM && !cat_rbac_is_superuser(r->ctx, r->s)) {
		err_set(r->e, "42501", "permission denied for SYSTEM");
		err_detail(r->e, "Only roles with the SUPERUSER attribute may grant or revoke privileges on SYSTEM.");
		goto out;
	}
	if (cat_store_begin(r->ctx->store, r->e) < 0)
		goto out;
	switch (rs->target) {
	case CAT_GRANT_SECRET:
	case CAT_GRANT_CONNECTION:
		for (size_t i = 0; i < rs->nobjects; i++) {
			struct cat_item it;
			struct cat_schema sc;
			char w[QNAME_MAX];
			int rc = cat_ddl_lookup_item(r, &rs->objects[i], &it, &sc);

			if (rc == 0) {
				name_text(&rs->objects[i], w, sizeof(w));
				err_set(r->e, "42704", "unknown catalog item '%s'", w);
			}
			if (rc <= 0 || grant_item(&g, &it, rs->target == CAT_GRANT_SECRET ?
						  CAT_OBJ_SECRET : CAT_OBJ_CONNECTION) < 0)
				goto fail;
		}
		break;
	case CAT_GRANT_SCHEMA:
		for (size_t i = 0; i < rs->nobjects; i++) {
			struct cat_schema sc;
			char owner[CAT_ID_MAX], name[QNAME_MAX];

			if (cat_ddl_resolve_schema(r, &rs->objects[i], &sc) < 0)
				goto fail;
			if (sc.is_system) {
				system_schema_error(r, &sc);
				goto fail;
			}
			cat_rbac_schema_display(&sc, name, sizeof(name));
			if (schema_row_owner(r, "schemas", sc.id, owner) < 0 ||
			    cat_rbac_require_owner_id(r->ctx, r->s, owner, "SCHEMA", name, r->e) < 0 ||
			    apply_acl(&g, "schemas", sc.id, owner) < 0)
				goto fail;
		}
		break;
	case CAT_GRANT_DATABASE:
		for (size_t i = 0; i < rs->nobjects; i++) {
			char id[CAT_ID_MAX], owner[CAT_ID_MAX];
			const char *name = rs->objects[i].parts[0];

			if (database_id(r, name, id) < 0 ||
			    schema_row_owner(r, "databases", id, owner) < 0 ||
			    cat_rbac_require_owner_id(r->ctx, r->s, owner, "DATABASE", name, r->e) < 0 ||
			    apply_acl(&g, "databases", id, owner) < 0)
				goto fail;
		}
		break;
	case CAT_GRANT_SYSTEM:
		if (apply_acl(&g, "system_privileges", "1", r->s->role.id) < 0)
			goto fail;
		break;
	case CAT_GRANT_ALL_SECRETS:
	case CAT_GRANT_ALL_CONNECTIONS:
		if (grant_all_items(&g, rs, rs->target == CAT_GRANT_ALL_SECRETS ?
				    CAT_OBJ_SECRET : CAT_OBJ_CONNECTION) < 0)
			goto fail;
		break;
	}
	if (cat_store_commit(r->ctx->store, r->e) < 0)
		goto fail;
	audit(r, g.grant ? "privileges_granted" : "privileges_revoked", type,
	      rs->ngrantees ? rs->grantees[0] : "");
	ret = complete(r, st);
	goto out;
fail:
	cat_store_rollback(r->ctx->store);
out:
	free(g.grantees);
	return ret;
}

/* ---- ALTER SECRET|CONNECTION ... OWNER TO ---- */

int cat_role_alter_owner(struct exec_run *r, struct cat_stmt *st)
{
	const struct cat_rbac_stmt *rs = st->rbac;
	struct cat_role_info owner;
	struct cat_role new_role;
	struct cat_schema sc;
	struct cat_item it;
	struct cat_acl acl;
	char q[QNAME_MAX], w[QNAME_MAX], id[CAT_ID_MAX];
	sqlite3_stmt *u;
	int rc = cat_ddl_lookup_item(r, &st->name, &it, &sc);

	if (rc < 0)
		return EXEC_ERROR;
	name_text(&st->name, w, sizeof(w));
	if (rc == 0) {
		if (!st->if_exists)
			return err_set(r->e, "42704", "unknown catalog item '%s'", w);
		if (cat_exec_notice(r, "00000", "%s \"%s\" does not exist, skipping",
				    cat_kind_name(st->object_kind), w) < 0)
			return EXEC_ERROR;
		return complete(r, st);
	}
	if (cat_store_qualified_name(r->ctx->store, &it, q, sizeof(q), r->e) < 0)
		return EXEC_ERROR;
	if (it.kind != st->object_kind)
		return err_set(r->e, "42809", "%s is a %s not a %s", q,
			       cat_kind_name(it.kind), cat_kind_name(st->object_kind));
	if (find_role(r, rs->role, &owner) < 0 ||
	    cat_rbac_require_owner(r->ctx, r->s, &it, r->e) < 0)
		return EXEC_ERROR;
	/* Superusers skip these, as in PostgreSQL's ALTER ... OWNER. */
	if (!cat_rbac_is_superuser(r->ctx, r->s)) {
		rc = cat_rbac_is_member(r->ctx, r->s->role.id, owner.id, r->e);
		if (rc < 0)
			return EXEC_ERROR;
		if (!rc)
			return err_set(r->e, "42501", "must be a member of \"%s\"", owner.name);
		/* The new owner must be able to create in the schema
		 * (PostgreSQL checks the new owning role). */
		memset(&new_role, 0, sizeof(new_role));
		snprintf(new_role.id, sizeof(new_role.id), "%s", owner.id);
		snprintf(new_role.name, sizeof(new_role.name), "%s", owner.name);
		if (cat_rbac_require_schema_as(r->ctx, &new_role, CAT_PRIV_CREATE, &sc, r->e) < 0)
			return EXEC_ERROR;
	}
	if (!strcmp(owner.id, it.owner_id))
		return complete(r, st);
	snprintf(id, sizeof(id), "%" PRIu64, it.id);
	if (cat_store_begin(r->ctx->store, r->e) < 0)
		return EXEC_ERROR;
	if (cat_rbac_load_acl(r->ctx->store, "items", id, &acl, r->e) < 0)
		goto fail;
	cat_acl_new_owner(&acl, it.owner_id, owner.id);
	if (!(u = prep(r, "UPDATE items SET owner_id = ?2 WHERE id = ?1")))
		goto fail;
	sqlite3_bind_int64(u, 1, (sqlite3_int64)it.id);
	sqlite3_bind_text(u, 2, owner.id, -1, SQLITE_STATIC);
	if (run_write(r, u) < 0 || cat_rbac_store_acl(r->ctx->store, "items", id, &acl, r->e) < 0 ||
	    cat_store_commit(r->ctx->store, r->e) < 0)
		goto fail;
	snprintf(w, sizeof(w), "u%" PRIu64, it.id);
	audit(r, "owner_changed", w, owner.name);
	return complete(r, st);
fail:
	cat_store_rollback(r->ctx->store);
	return EXEC_ERROR;
}

/* ---- SET ROLE / RESET ROLE ---- */

int cat_role_set_role(struct exec_run *r, struct cat_stmt *st)
{
	const struct cat_rbac_stmt *rs = st->rbac;
	struct cat_role_info ri;
	struct cat_session *s = r->s;

	if (!rs->role[0]) {
		/* Back to the session user, as it is now. */
		s->role = s->login_role;
		if (cat_rbac_find_role_by_id(r->ctx->store, s->role.id, &ri, r->e) == 1) {
			s->role.superuser = ri.superuser;
			s->role.can_login = ri.login;
		}
	} else {
		if (find_role(r, rs->role, &ri) < 0)
			return EXEC_ERROR;
		/* The session user decides, not the current role (PostgreSQL). */
		struct cat_role_info login;
		int rc = cat_rbac_find_role_by_id(r->ctx->store, s->login_role.id, &login, r->e);

		if (rc < 0)
			return EXEC_ERROR;
		if (!(rc == 1 && login.superuser)) {
			rc = cat_rbac_is_member(r->ctx, s->login_role.id, ri.id, r->e);
			if (rc < 0)
				return EXEC_ERROR;
			if (!rc)
				return err_set(r->e, "42501", "permission denied to set role \"%s\"",
					       ri.name);
		}
		memset(&s->role, 0, sizeof(s->role));
		snprintf(s->role.id, sizeof(s->role.id), "%s", ri.id);
		snprintf(s->role.name, sizeof(s->role.name), "%s", ri.name);
		s->role.superuser = ri.superuser;
		s->role.can_login = ri.login;
	}
	log_info("role_set", "pid=%u role=%s session_user=%s", s->backend_pid,
		 s->role.name, s->login_role.name);
	if (pgw_parameter_status(r->out, "is_superuser", s->role.superuser ? "on" : "off") < 0)
		return oom(r);
	return complete(r, st);
}

/* ---- CREATE DATABASE / SCHEMA ---- */

static int insert_schema(struct exec_run *r, const char *db_id, const char *name,
			 char id[CAT_ID_MAX])
{
	char acl[CAT_ACL_TEXT_MAX];
	int64_t n, oid;
	sqlite3_stmt *q;

	if (take_counter(r, "next_schema_id", &n) < 0 || take_counter(r, "next_oid", &oid) < 0)
		return -1;
	snprintf(id, CAT_ID_MAX, "u%" PRId64, n);
	cat_rbac_owner_acl(CAT_GRANT_SCHEMA, r->s->role.id, acl, sizeof(acl));
	if (!(q = prep(r, "INSERT INTO schemas (id, oid, database_id, name, owner_id, privileges)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, ?6)")))
		return -1;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 2, oid);
	sqlite3_bind_text(q, 3, db_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, r->s->role.id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, acl, -1, SQLITE_STATIC);
	return run_write(r, q);
}

int cat_ns_create_database(struct exec_run *r, struct cat_stmt *st)
{
	const char *name = st->name.parts[0];
	char id[CAT_ID_MAX], schema_id[CAT_ID_MAX], acl[CAT_ACL_TEXT_MAX];
	int64_t n, oid;
	sqlite3_stmt *q;
	long count;
	int rc;

	if (cat_rbac_require_system(r->ctx, r->s, CAT_PRIV_CREATEDB, r->e) < 0)
		return EXEC_ERROR;
	if (cat_store_begin(r->ctx->store, r->e) < 0)
		return EXEC_ERROR;
	rc = cat_store_find_database(r->ctx->store, name, id, r->e);
	if (rc < 0)
		goto fail;
	if (rc == 1) {
		cat_store_rollback(r->ctx->store);
		if (!st->if_not_exists)
			return err_set(r->e, "42P04", "database '%s' already exists", name);
		if (cat_exec_notice(r, "42P04", "database \"%s\" already exists, skipping", name) < 0)
			return EXEC_ERROR;
		return complete(r, st);
	}
	count = count_of(r, "SELECT count(*) FROM databases", NULL, NULL);
	if (count < 0 || cat_limit_check(r, "database", "max_databases", count) < 0 ||
	    take_counter(r, "next_database_id", &n) < 0 || take_counter(r, "next_oid", &oid) < 0)
		goto fail;
	snprintf(id, sizeof(id), "u%" PRId64, n);
	cat_rbac_owner_acl(CAT_GRANT_DATABASE, r->s->role.id, acl, sizeof(acl));
	if (!(q = prep(r, "INSERT INTO databases (id, oid, name, owner_id, privileges)"
			  " VALUES (?1, ?2, ?3, ?4, ?5)")))
		goto fail;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, oid);
	sqlite3_bind_text(q, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, r->s->role.id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, acl, -1, SQLITE_STATIC);
	/* Every database starts with a public schema (Materialize). */
	if (run_write(r, q) < 0 || insert_schema(r, id, "public", schema_id) < 0 ||
	    cat_store_commit(r->ctx->store, r->e) < 0)
		goto fail;
	audit(r, "database_created", id, name);
	return complete(r, st);
fail:
	cat_store_rollback(r->ctx->store);
	return EXEC_ERROR;
}

int cat_ns_create_schema(struct exec_run *r, struct cat_stmt *st)
{
	const char *name = st->name.parts[st->name.nparts - 1];
	const char *db = st->name.nparts == 2 ? st->name.parts[0] :
			 cat_setting_get(r->s, "database");
	char db_id[CAT_ID_MAX], id[CAT_ID_MAX];
	struct cat_schema sc;
	long count;
	int rc;

	if (!strncmp(name, "mz_", 3) || !strncmp(name, "pg_", 3))
		return err_set(r->e, "42939", "unacceptable schema name '%s'", name);
	if (database_id(r, db, db_id) < 0 ||
	    cat_rbac_require_database(r->ctx, r->s, CAT_PRIV_CREATE, db, r->e) < 0)
		return EXEC_ERROR;
	if (cat_store_begin(r->ctx->store, r->e) < 0)
		return EXEC_ERROR;
	rc = cat_store_find_schema(r->ctx->store, db, name, &sc, r->e);
	if (rc < 0)
		goto fail;
	if (rc == 1) {
		cat_store_rollback(r->ctx->store);
		if (!st->if_not_exists)
			return err_set(r->e, "42P06", "schema '%s' already exists", name);
		if (cat_exec_notice(r, "42P06", "schema \"%s\" already exists, skipping", name) < 0)
			return EXEC_ERROR;
		return complete(r, st);
	}
	count = count_of(r, "SELECT count(*) FROM schemas WHERE database_id = ?1", db_id, NULL);
	if (count < 0 ||
	    cat_limit_check(r, "schema", "max_schemas_per_database", count) < 0 ||
	    insert_schema(r, db_id, name, id) < 0 || cat_store_commit(r->ctx->store, r->e) < 0)
		goto fail;
	audit(r, "schema_created", id, name);
	return complete(r, st);
fail:
	cat_store_rollback(r->ctx->store);
	return EXEC_ERROR;
}

/* ---- DROP DATABASE / SCHEMA ---- */

struct ns_drop {
	char (*schemas)[CAT_ID_MAX];
	size_t nschemas;
	char (*databases)[CAT_ID_MAX];
	size_t ndatabases;
	uint64_t *items;
	size_t nitems;
};

static int add_id(struct exec_run *r, char (**arr)[CAT_ID_MAX], size_t *n, const char *id)
{
	char (*p)[CAT_ID_MAX] = realloc(*arr, (*n + 1) * sizeof(**arr));

	if (!p)
		return oom(r);
	*arr = p;
	snprintf(p[(*n)++], CAT_ID_MAX, "%s", id);
	return 0;
}

/* Collects the items of a schema; 0 ok, -1 error. */
static int add_schema_items(struct exec_run *r, struct ns_drop *d, const char *schema_id)
{
	sqlite3_stmt *q = prep(r, "SELECT id FROM items WHERE schema_id = ?1 ORDER BY id");
	int rc;

	if (!q)
		return -1;
	sqlite3_bind_text(q, 1, schema_id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		uint64_t *p = realloc(d->items, (d->nitems + 1) * sizeof(*p));
		if (!p) {
			sqlite3_finalize(q);
			return oom(r);
		}
		d->items = p;
		d->items[d->nitems++] = (uint64_t)sqlite3_column_int64(q, 0);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : err_set(r->e, "XX000", "internal error: catalog: %s",
					       sqlite3_errmsg(r->ctx->store->db));
}

/* Inside the drop transaction, after the items went. */
static int delete_ns_rows(struct exec_run *r, void *arg)
{
	struct ns_drop *d = arg;

	for (size_t i = 0; i < d->nschemas; i++) {
		sqlite3_stmt *q = prep(r, "DELETE FROM schemas WHERE id = ?1");
		if (!q)
			return -1;
		sqlite3_bind_text(q, 1, d->schemas[i], -1, SQLITE_STATIC);
		if (run_write(r, q) < 0)
			return -1;
	}
	for (size_t i = 0; i < d->ndatabases; i++) {
		sqlite3_stmt *q = prep(r, "DELETE FROM databases WHERE id = ?1");
		if (!q)
			return -1;
		sqlite3_bind_text(q, 1, d->databases[i], -1, SQLITE_STATIC);
		if (run_write(r, q) < 0)
			return -1;
	}
	for (size_t i = 0; i < d->nschemas; i++)
		log_info("schema_dropped", "id=%s role=%s", d->schemas[i], r->s->role.name);
	for (size_t i = 0; i < d->ndatabases; i++)
		log_info("database_dropped", "id=%s role=%s", d->databases[i], r->s->role.name);
	return 0;
}

static int drop_one_schema(struct exec_run *r, struct cat_stmt *st, struct ns_drop *d,
			   const struct cat_schema *sc)
{
	char owner[CAT_ID_MAX], name[QNAME_MAX];
	size_t before = d->nitems;

	if (sc->is_system)
		return system_schema_error(r, sc);
	cat_rbac_schema_display(sc, name, sizeof(name));
	if (schema_row_owner(r, "schemas", sc->id, owner) < 0 ||
	    cat_rbac_require_owner_id(r->ctx, r->s, owner, "SCHEMA", name, r->e) < 0 ||
	    add_schema_items(r, d, sc->id) < 0)
		return -1;
	if (d->nitems > before && !st->cascade)
		return err_set(r->e, "2BP01", "schema '%s' cannot be dropped without CASCADE while it contains objects",
			       name);
	return add_id(r, &d->schemas, &d->nschemas, sc->id);
}

static int drop_one_database(struct exec_run *r, struct cat_stmt *st, struct ns_drop *d,
			     const char *name, const char *id)
{
	char owner[CAT_ID_MAX];
	sqlite3_stmt *q;
	int rc;

	if (schema_row_owner(r, "databases", id, owner) < 0 ||
	    cat_rbac_require_owner_id(r->ctx, r->s, owner, "DATABASE", name, r->e) < 0)
		return -1;
	if (!(q = prep(r, "SELECT s.id, s.name, d.name FROM schemas s JOIN databases d"
			  " ON d.id = s.database_id WHERE s.database_id = ?1 ORDER BY s.id")))
		return -1;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW && !st->cascade) {
		sqlite3_finalize(q);
		return err_set(r->e, "2BP01", "database '%s' cannot be dropped with RESTRICT while it contains schemas",
			       name);
	}
	while (rc == SQLITE_ROW) {
		struct cat_schema sc = { .is_system = 0 };

		snprintf(sc.id, sizeof(sc.id), "%s", (const char *)sqlite3_column_text(q, 0));
		snprintf(sc.name, sizeof(sc.name), "%s", (const char *)sqlite3_column_text(q, 1));
		snprintf(sc.database, sizeof(sc.database), "%s", (const char *)sqlite3_column_text(q, 2));
		if (drop_one_schema(r, st, d, &sc) < 0) {
			sqlite3_finalize(q);
			return -1;
		}
		rc = sqlite3_step(q);
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return err_set(r->e, "XX000", "internal error: catalog: %s",
			       sqlite3_errmsg(r->ctx->store->db));
	return add_id(r, &d->databases, &d->ndatabases, id);
}

int cat_ns_drop(struct exec_run *r, struct cat_stmt *st)
{
	int is_db = st->kind == CAT_STMT_DROP_DATABASE;
	struct ns_drop d = { 0 };
	int ret = EXEC_ERROR;

	for (size_t i = 0; i < st->nnames; i++) {
		const struct cat_name *n = &st->names[i];
		char w[QNAME_MAX];

		name_text(n, w, sizeof(w));
		if (is_db) {
			char id[CAT_ID_MAX];
			int rc = cat_store_find_database(r->ctx->store, n->parts[0], id, r->e);

			if (rc < 0)
				goto out;
			if (rc == 0) {
				if (!st->if_exists) {
					err_set(r->e, "3D000", "unknown database '%s'", n->parts[0]);
					goto out;
				}
				if (cat_exec_notice(r, "00000", "database \"%s\" does not exist, skipping",
						    n->parts[0]) < 0)
					goto out;
				continue;
			}
			if (drop_one_database(r, st, &d, n->parts[0], id) < 0)
				goto out;
		} else {
			struct cat_schema sc;

			if (cat_ddl_resolve_schema(r, n, &sc) < 0) {
				if (!st->if_exists || strcmp(r->e->sqlstate, "3F000") != 0)
					goto out;
				err_clear(r->e);
				if (cat_exec_notice(r, "00000", "schema \"%s\" does not exist, skipping", w) < 0)
					goto out;
				continue;
			}
			if (drop_one_schema(r, st, &d, &sc) < 0)
				goto out;
		}
	}
	if (d.nschemas == 0 && d.ndatabases == 0) {
		ret = complete(r, st);
		goto out;
	}
	/* Items of the dropped schemas (and, CASCADE, whatever depends on
	 * them elsewhere) go through ddl.c's drop: ownership of all, one
	 * transaction, vault shredding after commit. */
	ret = cat_ddl_drop_ids(r, st, d.items, d.nitems, 1, delete_ns_rows, &d);
	if (ret >= 0) {
		for (size_t i = 0; i < d.nschemas; i++)
			audit(r, "schema_dropped", d.schemas[i], "");
		for (size_t i = 0; i < d.ndatabases; i++)
			audit(r, "database_dropped", d.databases[i], "");
	}
out:
	free(d.schemas);
	free(d.databases);
	free(d.items);
	return ret;
}
