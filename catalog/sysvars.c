/* System variables (SQL.md 9.6): the table of limits with their defaults
 * (the per-type connection limits come from the connection descriptors),
 * ALTER SYSTEM SET / RESET over the system_vars table, and cat_limit_check,
 * the one 53400 check that every CREATE path calls. */
#include "sysvars.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "descriptor.h"
#include "log.h"
#include "rbac.h"

/* Limits that are not per connection type. Materialize's variables are
 * u32; values outside 0..SYSVAR_MAX are refused. */
#define SYSVAR_MAX 4294967295L

static const struct sysvar_def {
	const char *name;
	long def;
	const char *description;
} fixed_vars[] = {
	{ "max_secrets", 100, "The maximum number of secrets in the region, across all schemas." },
	{ "max_objects_per_schema", 1000, "The maximum number of objects in a schema." },
	{ "max_schemas_per_database", 1000, "The maximum number of schemas in a database." },
	{ "max_databases", 1000, "The maximum number of databases in the region." },
	{ "max_roles", 1000, "The maximum number of roles in the region." },
};
#define NFIXED (sizeof(fixed_vars) / sizeof(fixed_vars[0]))

size_t cat_sysvar_count(void)
{
	return NFIXED + CONN_NTYPES;
}

const char *cat_sysvar_name(size_t i)
{
	return i < NFIXED ? fixed_vars[i].name : conn_types[i - NFIXED].limit_var;
}

long cat_sysvar_default(size_t i)
{
	return i < NFIXED ? fixed_vars[i].def : conn_types[i - NFIXED].limit_default;
}

const char *cat_sysvar_description(size_t i)
{
	static char conn_desc[CONN_NTYPES][96];
	char *d;

	if (i < NFIXED)
		return fixed_vars[i].description;
	d = conn_desc[i - NFIXED];
	if (!d[0])
		snprintf(conn_desc[i - NFIXED], sizeof(conn_desc[0]),
			 "The maximum number of %s connections in the region, across all schemas.",
			 conn_types[i - NFIXED].keyword);
	return d;
}

long cat_sysvar_find(const char *name)
{
	for (size_t i = 0; i < cat_sysvar_count(); i++)
		if (!strcmp(cat_sysvar_name(i), name))
			return (long)i;
	return -1;
}

static int db_error(struct cat_store *st, struct err *e, const char *what)
{
	return err_set(e, "XX000", "internal error: catalog: %s: %s", what,
		       sqlite3_errmsg(st->db));
}

/* A value as ALTER SYSTEM takes it: decimal digits, 0..SYSVAR_MAX. */
static int parse_value(const char *text, long *out)
{
	char *end;
	long v;

	if (!text[0] || text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || *end || v < 0 || v > SYSVAR_MAX)
		return -1;
	*out = v;
	return 0;
}

long cat_sysvar_get(struct cat_store *st, const char *name, struct err *e)
{
	long i = cat_sysvar_find(name), v;
	sqlite3_stmt *q = NULL;
	int rc;

	if (i < 0)
		return err_set(e, "42704", "unrecognized configuration parameter \"%s\"", name);
	v = cat_sysvar_default((size_t)i);
	if (sqlite3_prepare_v2(st->db, "SELECT value FROM system_vars WHERE name = ?1", -1,
			       &q, NULL) != SQLITE_OK)
		return db_error(st, e, "system_vars");
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(q, 0);
		/* Only ALTER SYSTEM writes the table, after parse_value. */
		if (!t || parse_value(t, &v) < 0) {
			sqlite3_finalize(q);
			return err_set(e, "XX000", "internal error: catalog: system_vars.%s is corrupt",
				       name);
		}
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(st, e, "system_vars");
	return v;
}

int cat_limit_check(struct exec_run *r, const char *kind, const char *var, long current)
{
	long limit = cat_sysvar_get(r->ctx->store, var, r->e);

	if (limit < 0)
		return EXEC_ERROR;
	if (current + 1 <= limit)
		return 0;
	return err_set(r->e, "53400",
		       "creating %s would violate %s limit (desired: %ld, limit: %ld, current: %ld)",
		       kind, var, current + 1, limit, current);
}

/* One write in its own transaction: name NULL = every row (RESET ALL),
 * value NULL = back to the default. */
static int store_var(struct exec_run *r, const char *name, const char *value)
{
	struct cat_store *st = r->ctx->store;
	sqlite3_stmt *q = NULL;
	const char *sql = !name ? "DELETE FROM system_vars" :
			  !value ? "DELETE FROM system_vars WHERE name = ?1" :
			  "INSERT INTO system_vars VALUES (?1, ?2)"
			  " ON CONFLICT(name) DO UPDATE SET value = excluded.value";
	int rc;

	if (cat_store_begin(st, r->e) < 0)
		return -1;
	if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) {
		db_error(st, r->e, "system_vars");
		cat_store_rollback(st);
		return -1;
	}
	if (name)
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	if (value)
		sqlite3_bind_text(q, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		db_error(st, r->e, "system_vars");
		cat_store_rollback(st);
		return -1;
	}
	return cat_store_commit(st, r->e);
}

int cat_sysvar_alter(struct exec_run *r, struct cat_stmt *st)
{
	const int all = !strcmp(st->var_name, "all") && st->var_is_reset;
	char value[32], detail[64 + CAT_IDENT_MAX];
	long v;

	/* Materialize: rbac::UnauthorizedError::Superuser. */
	if (!cat_rbac_is_superuser(r->ctx, r->s)) {
		err_set(r->e, "42501", "permission denied to alter system");
		err_detail(r->e, "You must be a superuser to alter system");
		return EXEC_ERROR;
	}
	if (!all && cat_sysvar_find(st->var_name) < 0) {
		if (cat_setting_get(r->s, st->var_name))
			return err_set(r->e, "55P02",
				       "parameter \"%s\" is a session variable and cannot be changed with ALTER SYSTEM",
				       st->var_name);
		return err_set(r->e, "42704", "unrecognized configuration parameter \"%s\"",
			       st->var_name);
	}
	if (st->var_value) {
		if (parse_value(st->var_value, &v) < 0)
			return err_set(r->e, "22023",
				       "parameter \"%s\" requires a \"unsigned integer\" value",
				       st->var_name);
		snprintf(value, sizeof(value), "%ld", v);
	}
	if (store_var(r, all ? NULL : st->var_name, st->var_value ? value : NULL) < 0)
		return EXEC_ERROR;
	if (all)
		snprintf(detail, sizeof(detail), "reset=all");
	else if (st->var_value)
		snprintf(detail, sizeof(detail), "name=%s value=%s", st->var_name, value);
	else
		snprintf(detail, sizeof(detail), "name=%s value=default", st->var_name);
	/* Committed: audit it (as ddl_role.c does for its statements). */
	if (r->ctx->vault->state == CAT_VAULT_DOWN ||
	    cat_vault_audit(r->ctx->vault, "alter_system", r->s->role.name,
			    all ? "system" : st->var_name, detail) < 0)
		log_warn("audit_not_sent", "event=alter_system reason=vault_unavailable");
	log_info("alter_system", "role=%s %s", r->s->role.name, detail);
	return pgw_command_complete(r->out, "ALTER SYSTEM") < 0 ?
	       err_set(r->e, "53200", "out of memory") : CAT_RUN_DONE;
}
