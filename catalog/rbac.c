/* Privilege checks (SQL.md 9.7) and the ACL text they read: who the
 * session acts as, which roles it inherits from, what an object's ACL
 * grants. Every check reads the catalog as it is now; nothing is cached in
 * the session except the current role's id and name. */
#include "rbac_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- ACL text ---- */

static const struct {
	char letter;
	unsigned priv;
	const char *name;
} priv_table[] = {
	{ 'U', CAT_PRIV_USAGE, "USAGE" },
	{ 'C', CAT_PRIV_CREATE, "CREATE" },
	{ 'R', CAT_PRIV_CREATEROLE, "CREATEROLE" },
	{ 'B', CAT_PRIV_CREATEDB, "CREATEDB" },
};
#define NPRIVS (sizeof(priv_table) / sizeof(priv_table[0]))

static int bad_acl(struct err *e, const char *text)
{
	return err_set(e, "XX000", "internal error: catalog: malformed privileges \"%.64s\"",
		       text);
}

/* Copies an id ([a-z0-9]*) from *pp up to `stop`; -1 if malformed. */
static int take_id(const char **pp, char stop, char out[CAT_ID_MAX])
{
	const char *p = *pp;
	size_t n = 0;

	while (*p && *p != stop) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')) ||
		    n + 1 >= CAT_ID_MAX)
			return -1;
		out[n++] = *p++;
	}
	if (*p != stop)
		return -1;
	out[n] = '\0';
	*pp = p + 1;
	return 0;
}

int cat_acl_parse(const char *text, struct cat_acl *acl, struct err *e)
{
	const char *p = text;

	acl->n = 0;
	if (!p || *p++ != '{')
		return bad_acl(e, text ? text : "(null)");
	if (*p == '}')
		return p[1] ? bad_acl(e, text) : 0;
	for (;;) {
		struct cat_aclitem it = { .privs = 0 };

		if (acl->n == CAT_ACL_MAX_ITEMS || take_id(&p, '=', it.grantee) < 0)
			return bad_acl(e, text);
		while (*p && *p != '/') {
			size_t i;
			for (i = 0; i < NPRIVS && priv_table[i].letter != *p; i++)
				;
			if (i == NPRIVS)
				return bad_acl(e, text);
			it.privs |= priv_table[i].priv;
			p++;
		}
		if (*p != '/')
			return bad_acl(e, text);
		p++;
		/* The grantor ends at ',' or '}'. */
		const char *end = p;
		while (*end && *end != ',' && *end != '}')
			end++;
		if (!*end)
			return bad_acl(e, text);
		char stop = *end;
		if (take_id(&p, stop, it.grantor) < 0 || !it.grantor[0])
			return bad_acl(e, text);
		acl->items[acl->n++] = it;
		if (stop == '}')
			return *p ? bad_acl(e, text) : 0;
	}
}

void cat_acl_render(const struct cat_acl *acl, char *buf, size_t size)
{
	size_t off = 0;

	if (size == 0)
		return;
	off += (size_t)snprintf(buf + off, size - off, "{");
	for (size_t i = 0; i < acl->n && off < size; i++) {
		char letters[NPRIVS + 1];
		size_t k = 0;

		for (size_t j = 0; j < NPRIVS; j++)
			if (acl->items[i].privs & priv_table[j].priv)
				letters[k++] = priv_table[j].letter;
		letters[k] = '\0';
		off += (size_t)snprintf(buf + off, size - off, "%s%s=%s/%s", i ? "," : "",
					acl->items[i].grantee, letters,
					acl->items[i].grantor);
	}
	if (off < size)
		snprintf(buf + off, size - off, "}");
}

int cat_acl_grant(struct cat_acl *acl, const char *grantee, const char *grantor,
		  unsigned privs, struct err *e)
{
	if (!privs)
		return 0;
	for (size_t i = 0; i < acl->n; i++) {
		if (!strcmp(acl->items[i].grantee, grantee) &&
		    !strcmp(acl->items[i].grantor, grantor)) {
			acl->items[i].privs |= privs;
			return 0;
		}
	}
	if (acl->n == CAT_ACL_MAX_ITEMS)
		return err_set(e, "54000", "too many privilege grants on one object (limit %d)",
			       CAT_ACL_MAX_ITEMS);
	snprintf(acl->items[acl->n].grantee, CAT_ID_MAX, "%s", grantee);
	snprintf(acl->items[acl->n].grantor, CAT_ID_MAX, "%s", grantor);
	acl->items[acl->n].privs = privs;
	acl->n++;
	return 0;
}

static void acl_compact(struct cat_acl *acl)
{
	size_t k = 0;

	for (size_t i = 0; i < acl->n; i++)
		if (acl->items[i].privs)
			acl->items[k++] = acl->items[i];
	acl->n = k;
}

void cat_acl_revoke(struct cat_acl *acl, const char *grantee, unsigned privs)
{
	for (size_t i = 0; i < acl->n; i++)
		if (!strcmp(acl->items[i].grantee, grantee))
			acl->items[i].privs &= ~privs;
	acl_compact(acl);
}

unsigned cat_acl_privs_of(const struct cat_acl *acl, const char *const *roles,
			  size_t n)
{
	unsigned privs = 0;

	for (size_t i = 0; i < acl->n; i++) {
		const char *g = acl->items[i].grantee;
		int hit = g[0] == '\0';

		for (size_t k = 0; k < n && !hit; k++)
			hit = !strcmp(g, roles[k]);
		if (hit)
			privs |= acl->items[i].privs;
	}
	return privs;
}

int cat_acl_mentions(const struct cat_acl *acl, const char *role_id)
{
	for (size_t i = 0; i < acl->n; i++)
		if (!strcmp(acl->items[i].grantee, role_id) ||
		    !strcmp(acl->items[i].grantor, role_id))
			return 1;
	return 0;
}

void cat_acl_new_owner(struct cat_acl *acl, const char *old_owner,
		       const char *new_owner)
{
	for (size_t i = 0; i < acl->n; i++) {
		if (!strcmp(acl->items[i].grantee, old_owner))
			snprintf(acl->items[i].grantee, CAT_ID_MAX, "%s", new_owner);
		if (!strcmp(acl->items[i].grantor, old_owner))
			snprintf(acl->items[i].grantor, CAT_ID_MAX, "%s", new_owner);
	}
	/* Merge items that now have the same grantee and grantor. */
	for (size_t i = 0; i < acl->n; i++)
		for (size_t j = i + 1; j < acl->n; j++)
			if (acl->items[j].privs &&
			    !strcmp(acl->items[i].grantee, acl->items[j].grantee) &&
			    !strcmp(acl->items[i].grantor, acl->items[j].grantor)) {
				acl->items[i].privs |= acl->items[j].privs;
				acl->items[j].privs = 0;
			}
	acl_compact(acl);
}

void cat_priv_names(unsigned privs, char *buf, size_t size)
{
	size_t off = 0;

	if (size == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < NPRIVS && off < size; i++)
		if (privs & priv_table[i].priv)
			off += (size_t)snprintf(buf + off, size - off, "%s%s",
						off ? ", " : "", priv_table[i].name);
}

unsigned cat_priv_grantable(enum cat_grant_target kind)
{
	switch (kind) {
	case CAT_GRANT_SECRET:
	case CAT_GRANT_CONNECTION:
	case CAT_GRANT_ALL_SECRETS:
	case CAT_GRANT_ALL_CONNECTIONS:
		return CAT_PRIV_USAGE;
	case CAT_GRANT_SCHEMA:
	case CAT_GRANT_DATABASE:
		return CAT_PRIV_USAGE | CAT_PRIV_CREATE;
	case CAT_GRANT_SYSTEM:
		return CAT_PRIV_CREATEROLE | CAT_PRIV_CREATEDB;
	}
	return 0;
}

const char *cat_rbac_target_name(enum cat_grant_target t)
{
	switch (t) {
	case CAT_GRANT_SECRET:
	case CAT_GRANT_ALL_SECRETS:
		return "SECRET";
	case CAT_GRANT_CONNECTION:
	case CAT_GRANT_ALL_CONNECTIONS:
		return "CONNECTION";
	case CAT_GRANT_SCHEMA:
		return "SCHEMA";
	case CAT_GRANT_DATABASE:
		return "DATABASE";
	case CAT_GRANT_SYSTEM:
		return "SYSTEM";
	}
	return "?";
}

void cat_rbac_owner_acl(enum cat_grant_target kind, const char *owner_id,
			char *buf, size_t size)
{
	struct cat_acl acl = { .n = 1 };
	unsigned privs = cat_priv_grantable(kind);

	snprintf(acl.items[0].grantee, CAT_ID_MAX, "%s", owner_id);
	snprintf(acl.items[0].grantor, CAT_ID_MAX, "%s", owner_id);
	acl.items[0].privs = privs;
	cat_acl_render(&acl, buf, size);
}

/* ---- catalog reads ---- */

static sqlite3_stmt *prep(struct cat_store *st, const char *sql, struct err *e)
{
	sqlite3_stmt *q = NULL;

	if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) {
		err_set(e, "XX000", "internal error: catalog: prepare: %s",
			sqlite3_errmsg(st->db));
		return NULL;
	}
	return q;
}

static int db_fail(struct cat_store *st, sqlite3_stmt *q, struct err *e)
{
	err_set(e, "XX000", "internal error: catalog: %s", sqlite3_errmsg(st->db));
	sqlite3_finalize(q);
	return -1;
}

static void col(char *dst, size_t size, sqlite3_stmt *q, int c)
{
	const unsigned char *t = sqlite3_column_text(q, c);
	snprintf(dst, size, "%s", t ? (const char *)t : "");
}

static int find_role(struct cat_store *st, const char *where, const char *key,
		     struct cat_role_info *out, struct err *e)
{
	char sql[256];
	sqlite3_stmt *q;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT id, name, rolsuper, rolcanlogin, inherit,"
		 " rolcreaterole, rolcreatedb FROM roles WHERE %s = ?1", where);
	if (!(q = prep(st, sql, e)))
		return -1;
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(q);
		return 0;
	}
	if (rc != SQLITE_ROW)
		return db_fail(st, q, e);
	col(out->id, sizeof(out->id), q, 0);
	col(out->name, sizeof(out->name), q, 1);
	out->superuser = sqlite3_column_int(q, 2);
	out->login = sqlite3_column_int(q, 3);
	out->inherit = sqlite3_column_int(q, 4);
	out->createrole = sqlite3_column_int(q, 5);
	out->createdb = sqlite3_column_int(q, 6);
	sqlite3_finalize(q);
	return 1;
}

int cat_rbac_find_role(struct cat_store *st, const char *name,
		       struct cat_role_info *out, struct err *e)
{
	return find_role(st, "name", name, out, e);
}

int cat_rbac_find_role_by_id(struct cat_store *st, const char *id,
			     struct cat_role_info *out, struct err *e)
{
	return find_role(st, "id", id, out, e);
}

long cat_rbac_effective_roles(struct cat_store *st, const char *role_id,
			      int all_members, char (*out)[CAT_ID_MAX], size_t max,
			      struct err *e)
{
	/* UNION (not UNION ALL) ends the recursion on membership cycles. */
	sqlite3_stmt *q = prep(st,
		"WITH RECURSIVE r(id) AS (SELECT ?1 UNION"
		"  SELECT m.role_id FROM role_members m JOIN r ON m.member_id = r.id"
		"  JOIN roles x ON x.id = r.id WHERE x.inherit OR ?2)"
		" SELECT id FROM r", e);
	long n = 0;
	int rc;

	if (!q)
		return -1;
	sqlite3_bind_text(q, 1, role_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 2, all_members);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		if ((size_t)n < max)
			col(out[n++], CAT_ID_MAX, q, 0);
	if (rc != SQLITE_DONE)
		return db_fail(st, q, e);
	sqlite3_finalize(q);
	return n;
}

static const char *const acl_tables[] = {
	"items", "schemas", "databases", "system_privileges",
};

static int acl_table_ok(const char *table)
{
	for (size_t i = 0; i < sizeof(acl_tables) / sizeof(acl_tables[0]); i++)
		if (!strcmp(table, acl_tables[i]))
			return 1;
	return 0;
}

int cat_rbac_load_acl(struct cat_store *st, const char *table, const char *id,
		      struct cat_acl *acl, struct err *e)
{
	char sql[128];
	sqlite3_stmt *q;
	int rc;

	if (!acl_table_ok(table))
		return err_set(e, "XX000", "internal error: catalog: no ACL in %s", table);
	snprintf(sql, sizeof(sql), "SELECT privileges FROM %s WHERE id = ?1", table);
	if (!(q = prep(st, sql, e)))
		return -1;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(q);
		acl->n = 0;
		return 0;
	}
	if (rc != SQLITE_ROW)
		return db_fail(st, q, e);
	rc = cat_acl_parse((const char *)sqlite3_column_text(q, 0), acl, e);
	sqlite3_finalize(q);
	return rc < 0 ? -1 : 1;
}

int cat_rbac_store_acl(struct cat_store *st, const char *table, const char *id,
		       const struct cat_acl *acl, struct err *e)
{
	char sql[128], text[CAT_ACL_TEXT_MAX];
	sqlite3_stmt *q;

	if (!acl_table_ok(table))
		return err_set(e, "XX000", "internal error: catalog: no ACL in %s", table);
	cat_acl_render(acl, text, sizeof(text));
	snprintf(sql, sizeof(sql), "UPDATE %s SET privileges = ?2 WHERE id = ?1", table);
	if (!(q = prep(st, sql, e)))
		return -1;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, text, -1, SQLITE_STATIC);
	if (sqlite3_step(q) != SQLITE_DONE)
		return db_fail(st, q, e);
	sqlite3_finalize(q);
	return 0;
}

/* ---- checks ----
 * The static versions act as any role (OWNER TO checks the new owner);
 * the exported ones as the session's current role. */

/* A role's effective role ids as a pointer array. */
struct effective {
	char ids[CAT_RBAC_MAX_ROLES][CAT_ID_MAX];
	const char *ptrs[CAT_RBAC_MAX_ROLES];
	size_t n;
};

static int load_effective(struct cat_ctx *ctx, const struct cat_role *role,
			  struct effective *ef, struct err *e)
{
	long n = cat_rbac_effective_roles(ctx->store, role->id, 0, ef->ids,
					  CAT_RBAC_MAX_ROLES, e);

	if (n < 0)
		return -1;
	ef->n = (size_t)n;
	for (size_t i = 0; i < ef->n; i++)
		ef->ptrs[i] = ef->ids[i];
	return 0;
}

static int holds(const struct effective *ef, const char *role_id)
{
	for (size_t i = 0; i < ef->n; i++)
		if (!strcmp(ef->ids[i], role_id))
			return 1;
	return 0;
}

static int is_superuser(struct cat_ctx *ctx, const struct cat_role *role)
{
	struct cat_role_info ri;
	struct err e;

	return cat_rbac_find_role_by_id(ctx->store, role->id, &ri, &e) == 1 &&
	       ri.superuser;
}

int cat_rbac_is_superuser(struct cat_ctx *ctx, const struct cat_session *s)
{
	return is_superuser(ctx, &s->role);
}

int cat_rbac_is_member(struct cat_ctx *ctx, const char *member_id,
		       const char *role_id, struct err *e)
{
	char ids[CAT_RBAC_MAX_ROLES][CAT_ID_MAX];
	long n = cat_rbac_effective_roles(ctx->store, member_id, 1, ids,
					  CAT_RBAC_MAX_ROLES, e);

	if (n < 0)
		return -1;
	for (long i = 0; i < n; i++)
		if (!strcmp(ids[i], role_id))
			return 1;
	return 0;
}

static int denied(struct err *e, const struct cat_role *role, unsigned priv,
		  const char *type, const char *name)
{
	char names[64];

	cat_priv_names(priv, names, sizeof(names));
	if (name) {
		err_set(e, "42501", "permission denied for %s \"%s\"", type, name);
		err_detail(e, "The '%s' role needs %s privileges on %s \"%s\"",
			   role->name, names, type, name);
	} else {
		err_set(e, "42501", "permission denied for %s", type);
		err_detail(e, "The '%s' role needs %s privileges on %s", role->name,
			   names, type);
	}
	return -1;
}

int cat_rbac_require_owner_id(struct cat_ctx *ctx, const struct cat_session *s,
			      const char *owner_id, const char *type,
			      const char *name, struct err *e)
{
	struct effective ef;

	if (is_superuser(ctx, &s->role))
		return 0;
	if (load_effective(ctx, &s->role, &ef, e) < 0)
		return -1;
	if (holds(&ef, owner_id))
		return 0;
	return err_set(e, "42501", "must be owner of %s %s", type, name);
}

static const char *item_type(const struct cat_item *it)
{
	return it->kind == CAT_OBJ_SECRET ? "SECRET" : "CONNECTION";
}

int cat_rbac_require_owner(struct cat_ctx *ctx, const struct cat_session *s,
			   const struct cat_item *it, struct err *e)
{
	char q[3 * (CAT_IDENT_MAX + 1)];

	if (cat_store_qualified_name(ctx->store, it, q, sizeof(q), e) < 0)
		return -1;
	return cat_rbac_require_owner_id(ctx, s, it->owner_id, item_type(it), q, e);
}

void cat_rbac_schema_display(const struct cat_schema *sc, char *buf, size_t size)
{
	if (sc->is_system)
		snprintf(buf, size, "%s", sc->name);
	else
		snprintf(buf, size, "%s.%s", sc->database, sc->name);
}

/* priv on an object whose owner (NULL: none counts) and ACL are known. */
static int check_acl(struct cat_ctx *ctx, const struct cat_role *role,
		     unsigned priv, const char *owner_id, const char *table,
		     const char *id, const char *type, const char *name,
		     struct err *e)
{
	struct effective ef;
	struct cat_acl acl;
	int rc;

	if (load_effective(ctx, role, &ef, e) < 0)
		return -1;
	if (owner_id && holds(&ef, owner_id))
		return 0;
	rc = cat_rbac_load_acl(ctx->store, table, id, &acl, e);
	if (rc < 0)
		return -1;
	if ((cat_acl_privs_of(&acl, ef.ptrs, ef.n) & priv) == priv)
		return 0;
	return denied(e, role, priv, type, name);
}

static int schema_owner(struct cat_ctx *ctx, const char *schema_id,
			char owner[CAT_ID_MAX], struct err *e)
{
	sqlite3_stmt *q = prep(ctx->store, "SELECT owner_id FROM schemas WHERE id = ?1", e);
	int rc;

	if (!q)
		return -1;
	sqlite3_bind_text(q, 1, schema_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		col(owner, CAT_ID_MAX, q, 0);
	else if (rc == SQLITE_DONE)
		owner[0] = '\0';
	else
		return db_fail(ctx->store, q, e);
	sqlite3_finalize(q);
	return 0;
}

int cat_rbac_require_schema_as(struct cat_ctx *ctx, const struct cat_role *role,
			       enum cat_priv priv, const struct cat_schema *sc,
			       struct err *e)
{
	char owner[CAT_ID_MAX], name[2 * (CAT_IDENT_MAX + 1)];

	if (is_superuser(ctx, role))
		return 0;
	cat_rbac_schema_display(sc, name, sizeof(name));
	/* Nobody but a superuser creates in a system schema, its owner
	 * included. */
	if (sc->is_system && (priv & ~CAT_PRIV_USAGE))
		return denied(e, role, priv, "SCHEMA", name);
	if (schema_owner(ctx, sc->id, owner, e) < 0)
		return -1;
	return check_acl(ctx, role, priv, sc->is_system ? NULL : owner, "schemas",
			 sc->id, "SCHEMA", name, e);
}

int cat_rbac_require_schema(struct cat_ctx *ctx, const struct cat_session *s,
			    enum cat_priv priv, const struct cat_schema *sc,
			    struct err *e)
{
	return cat_rbac_require_schema_as(ctx, &s->role, priv, sc, e);
}

int cat_rbac_require_item(struct cat_ctx *ctx, const struct cat_session *s,
			  enum cat_priv priv, const struct cat_item *it,
			  struct err *e)
{
	struct cat_schema sc;
	char q[3 * (CAT_IDENT_MAX + 1)], id[CAT_ID_MAX];
	int rc;

	if (is_superuser(ctx, &s->role))
		return 0;
	rc = cat_store_find_schema_by_id(ctx->store, it->schema_id, &sc, e);
	if (rc <= 0)
		return rc < 0 ? -1 : err_set(e, "XX000", "internal error: catalog: schema %s missing",
					     it->schema_id);
	if (cat_rbac_require_schema(ctx, s, CAT_PRIV_USAGE, &sc, e) < 0)
		return -1;
	if (cat_store_qualified_name(ctx->store, it, q, sizeof(q), e) < 0)
		return -1;
	snprintf(id, sizeof(id), "%" PRIu64, it->id);
	return check_acl(ctx, &s->role, priv, it->owner_id, "items", id,
			 item_type(it), q, e);
}

int cat_rbac_require_database(struct cat_ctx *ctx, const struct cat_session *s,
			      enum cat_priv priv, const char *database,
			      struct err *e)
{
	sqlite3_stmt *q;
	char id[CAT_ID_MAX], owner[CAT_ID_MAX];
	int rc;

	if (is_superuser(ctx, &s->role))
		return 0;
	if (!(q = prep(ctx->store, "SELECT id, owner_id FROM databases WHERE name = ?1", e)))
		return -1;
	sqlite3_bind_text(q, 1, database, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(q);
		return err_set(e, "3D000", "unknown database '%s'", database);
	}
	if (rc != SQLITE_ROW)
		return db_fail(ctx->store, q, e);
	col(id, sizeof(id), q, 0);
	col(owner, sizeof(owner), q, 1);
	sqlite3_finalize(q);
	return check_acl(ctx, &s->role, priv, owner, "databases", id, "DATABASE",
			 database, e);
}

int cat_rbac_require_system(struct cat_ctx *ctx, const struct cat_session *s,
			    enum cat_priv priv, struct err *e)
{
	struct cat_role_info ri;
	int rc = cat_rbac_find_role_by_id(ctx->store, s->role.id, &ri, e);

	if (rc < 0)
		return -1;
	if (rc == 1 && (ri.superuser ||
			(priv == CAT_PRIV_CREATEROLE && ri.createrole) ||
			(priv == CAT_PRIV_CREATEDB && ri.createdb)))
		return 0;
	return check_acl(ctx, &s->role, priv, NULL, "system_privileges", "1",
			 "SYSTEM", NULL, e);
}
