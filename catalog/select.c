/* Read-only SELECT over the catalog views. Three fences: the connection is
 * opened read-only with query_only set, the authorizer admits only reads of
 * the views (base tables only when a view reaches them) and whitelisted
 * functions, and a progress handler bounds the work of one statement. */
#include "select.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "status.h"

/* Relations SELECT may name (SQL.md 8). */
static const char *const allowed_views[] = {
	"mz_secrets", "mz_connections", "mz_databases", "mz_schemas", "mz_roles",
	"mz_object_dependencies", "mz_comments",
	"mz_role_members", "mz_system_privileges",
	"mz_ssh_tunnel_connections", "mz_aws_connections", "mz_aws_privatelink_connections",
	"mz_kafka_connections", "mz_aws_privatelink_connection_statuses",
	"mz_aws_privatelink_connection_status_history",
	"mz_ssh_tunnel_host_keys",
	"tether_key_rotation",                   /* ddl_keys.c */
	"tether_processes", "tether_status",     /* status.c: run-time, in memory */
};

/* SQL.md 8.5 plus the harmless aggregates and string helpers. */
static const char *const allowed_functions[] = {
	"lower", "upper", "length", "coalesce", "ifnull", "nullif", "count",
	"like", "glob", "min", "max", "sum", "avg", "total", "abs", "substr", "substring",
	"trim", "ltrim", "rtrim", "replace", "instr", "iif", "round",
	"version", "current_user", "session_user", "current_database",
	"current_schema", "pg_backend_pid",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
/* Progress callbacks (every 1000 VM steps) one statement may use. */
#define SELECT_MAX_PROGRESS 20000

static int in_list(const char *name, const char *const *list, size_t n)
{
	if (!name)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(name, list[i]))
			return 1;
	return 0;
}

static int authorize(void *arg, int action, const char *a3, const char *a4,
		     const char *dbname, const char *view)
{
	struct cat_select *s = arg;

	switch (action) {
	case SQLITE_SELECT:
		return SQLITE_OK;
	case SQLITE_READ:
		if (dbname && strcmp(dbname, "main") != 0)
			break;
		if (in_list(a3, allowed_views, NELEM(allowed_views)) ||
		    in_list(view, allowed_views, NELEM(allowed_views)))
			return SQLITE_OK;
		/* "Table referenced, no column extracted" (sqlite3_set_authorizer):
		 * SQLite 3.40 sends it without the view's name for a view's join
		 * table when the query uses none of its columns (SELECT principal
		 * FROM mz_aws_connections). No value is read; and the rewriter
		 * (sql/select.c) only ever names catalog views. */
		if (a4 && !a4[0])
			return SQLITE_OK;
		break;
	case SQLITE_FUNCTION:
		if (in_list(a4, allowed_functions, NELEM(allowed_functions)))
			return SQLITE_OK;
		snprintf(s->denied, sizeof(s->denied), "function %s", a4 ? a4 : "?");
		return SQLITE_DENY;
	default:
		break;
	}
	if (!s->denied[0])
		snprintf(s->denied, sizeof(s->denied), "%s",
			 action == SQLITE_READ && a3 ? a3 : "");
	return SQLITE_DENY;
}

static int progress(void *arg)
{
	struct cat_select *s = arg;
	return --s->budget <= 0;
}

/* ---- session functions ---- */

static void fn_text(sqlite3_context *ctx, const char *v)
{
	if (v)
		sqlite3_result_text(ctx, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_result_null(ctx);
}

static const struct cat_select_session *fn_session(sqlite3_context *ctx)
{
	struct cat_select *s = sqlite3_user_data(ctx);
	return s->session;
}

static void fn_version(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc; (void)argv;
	fn_text(ctx, "PostgreSQL 15.0 (tether 0.1.0)");
}

static void fn_current_user(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const struct cat_select_session *ss = fn_session(ctx);
	(void)argc; (void)argv;
	fn_text(ctx, ss ? ss->user : NULL);
}

static void fn_session_user(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const struct cat_select_session *ss = fn_session(ctx);
	(void)argc; (void)argv;
	fn_text(ctx, !ss ? NULL : ss->session_user ? ss->session_user : ss->user);
}

static void fn_current_database(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const struct cat_select_session *ss = fn_session(ctx);
	(void)argc; (void)argv;
	fn_text(ctx, ss ? ss->database : NULL);
}

static void fn_current_schema(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const struct cat_select_session *ss = fn_session(ctx);
	(void)argc; (void)argv;
	fn_text(ctx, ss ? ss->schema : NULL);
}

static void fn_backend_pid(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const struct cat_select_session *ss = fn_session(ctx);
	(void)argc; (void)argv;
	sqlite3_result_int64(ctx, ss ? ss->backend_pid : 0);
}

static const struct {
	const char *name;
	void (*fn)(sqlite3_context *, int, sqlite3_value **);
} session_functions[] = {
	{ "version", fn_version },
	{ "current_user", fn_current_user },
	{ "session_user", fn_session_user },
	{ "current_database", fn_current_database },
	{ "current_schema", fn_current_schema },
	{ "pg_backend_pid", fn_backend_pid },
};

int cat_select_open(struct cat_select *s, const char *path, struct err *e)
{
	memset(s, 0, sizeof(*s));
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		err_set(e, "XX000", "internal error: catalog: cannot open %s read-only: %s",
			path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
		cat_select_close(s);
		return -1;
	}
	sqlite3_busy_timeout(s->db, 5000);
	/* Set before the authorizer exists, which would refuse PRAGMA. */
	if (sqlite3_exec(s->db, "PRAGMA query_only=1; PRAGMA case_sensitive_like=ON;"
			 "PRAGMA trusted_schema=OFF; PRAGMA temp_store=MEMORY",
			 NULL, NULL, NULL) != SQLITE_OK) {
		err_set(e, "XX000", "internal error: catalog: %s", sqlite3_errmsg(s->db));
		cat_select_close(s);
		return -1;
	}
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	/* The parser double-quotes identifiers: an unknown column must be an
	 * error, not a string literal. */
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_DQS_DML, 0, NULL);
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_DQS_DDL, 0, NULL);
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
	sqlite3_limit(s->db, SQLITE_LIMIT_ATTACHED, 0);
	sqlite3_limit(s->db, SQLITE_LIMIT_LENGTH, 4 * 1024 * 1024);
	sqlite3_limit(s->db, SQLITE_LIMIT_SQL_LENGTH, 2 * 1024 * 1024);
	for (size_t i = 0; i < NELEM(session_functions); i++)
		sqlite3_create_function(s->db, session_functions[i].name, 0,
					SQLITE_UTF8, s, session_functions[i].fn,
					NULL, NULL);
	if (cat_status_register(s->db) != 0) {
		err_set(e, "XX000", "internal error: catalog: cannot register status tables");
		cat_select_close(s);
		return -1;
	}
	sqlite3_set_authorizer(s->db, authorize, s);
	sqlite3_progress_handler(s->db, 1000, progress, s);
	return 0;
}

void cat_select_close(struct cat_select *s)
{
	if (s->db)
		sqlite3_close_v2(s->db);
	s->db = NULL;
}

/* Copies the word after `prefix` in SQLite's message ("no such table: x"). */
static const char *after(const char *msg, const char *prefix)
{
	const char *p = strstr(msg, prefix);
	return p ? p + strlen(prefix) : NULL;
}

static int map_error(struct cat_select *s, struct err *e)
{
	const char *msg = sqlite3_errmsg(s->db), *w;
	int code = sqlite3_errcode(s->db);

	if (s->denied[0] && !strncmp(s->denied, "function ", 9))
		return err_set(e, "0A000", "%s is not supported", s->denied);
	if (code == SQLITE_AUTH)
		return s->denied[0] ?
		       err_set(e, "42704", "unknown catalog item '%s'", s->denied) :
		       err_set(e, "0A000", "this form of SELECT is not supported");
	if (code == SQLITE_INTERRUPT)
		return err_set(e, "57014", "canceling statement: it exceeded the work limit of a catalog query");
	if ((w = after(msg, "no such table: ")))
		return err_set(e, "42704", "unknown catalog item '%s'", w);
	if ((w = after(msg, "no such column: ")))
		return err_set(e, "42703", "column \"%s\" does not exist", w);
	if ((w = after(msg, "no such function: ")))
		return err_set(e, "42883", "function %s does not exist", w);
	if (strstr(msg, "syntax error") || strstr(msg, "incomplete input"))
		return err_set(e, "42601", "syntax error in SELECT: %s", msg);
	if (code == SQLITE_TOOBIG)
		return err_set(e, "54000", "result value too large");
	return err_set(e, "42601", "cannot run this SELECT: %s", msg);
}

int cat_select_prepare(struct cat_select *s, const struct cat_select_session *ss,
		       const char *sql, sqlite3_stmt **out, struct err *e)
{
	const char *tail = NULL;
	int rc;

	*out = NULL;
	s->denied[0] = '\0';
	s->session = ss;
	rc = sqlite3_prepare_v3(s->db, sql, -1, 0, out, &tail);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(*out);
		*out = NULL;
		return map_error(s, e);
	}
	if (!*out)
		return err_set(e, "42601", "empty SELECT");
	while (tail && (isspace((unsigned char)*tail) || *tail == ';'))
		tail++;
	if ((tail && *tail) || !sqlite3_stmt_readonly(*out)) {
		sqlite3_finalize(*out);
		*out = NULL;
		return err_set(e, "0A000", "only one read-only SELECT is supported here");
	}
	return 0;
}

int cat_select_bind(sqlite3_stmt *st, char *const *values, size_t n,
		    struct err *e)
{
	for (size_t i = 0; i < n; i++) {
		char name[32];
		int idx;

		snprintf(name, sizeof(name), "$%zu", i + 1);
		idx = sqlite3_bind_parameter_index(st, name);
		if (!idx)
			continue;       /* $n not referenced */
		if (!values[i])
			sqlite3_bind_null(st, idx);
		else if (sqlite3_bind_text(st, idx, values[i], -1, SQLITE_TRANSIENT) != SQLITE_OK)
			return err_set(e, "53200", "out of memory");
	}
	return 0;
}

static const struct {
	const char *decltype;
	uint32_t oid;
} decltype_oids[] = {
	{ "TEXT", PGW_OID_TEXT }, { "INTEGER", PGW_OID_INT8 },
	{ "INT8", PGW_OID_INT8 }, { "BIGINT", PGW_OID_INT8 },
	{ "INT4", PGW_OID_INT4 }, { "INT", PGW_OID_INT4 },
	{ "OID", PGW_OID_OID }, { "BOOL", PGW_OID_BOOL },
	{ "BOOLEAN", PGW_OID_BOOL }, { "TEXT_ARRAY", PGW_OID_TEXT_ARRAY },
	{ "JSONB", 3802 }, { "TIMESTAMPTZ", 1184 },     /* pg_type.dat */
};

uint32_t cat_select_column_oid(sqlite3_stmt *st, int col)
{
	const char *dt = sqlite3_column_decltype(st, col);
	const char *name = sqlite3_column_name(st, col);

	if (dt) {
		for (size_t i = 0; i < NELEM(decltype_oids); i++)
			if (!strcasecmp(dt, decltype_oids[i].decltype))
				return decltype_oids[i].oid;
		return PGW_OID_TEXT;
	}
	/* Expressions: count(*) is bigint in PostgreSQL, the rest text. */
	if (name && (!strcasecmp(name, "count") || !strncasecmp(name, "count(", 6)))
		return PGW_OID_INT8;
	return PGW_OID_TEXT;
}

int cat_select_describe(sqlite3_stmt *st, struct pgw_buf *out)
{
	int n = sqlite3_column_count(st);
	const char **names = calloc((size_t)n + 1, sizeof(char *));
	uint32_t *oids = calloc((size_t)n + 1, sizeof(uint32_t));
	int rc = -1;

	if (names && oids) {
		for (int i = 0; i < n; i++) {
			names[i] = sqlite3_column_name(st, i);
			if (!names[i])
				names[i] = "?column?";
			oids[i] = cat_select_column_oid(st, i);
		}
		rc = pgw_row_description(out, (size_t)n, names, oids);
	}
	free(names);
	free(oids);
	return rc;
}

int cat_select_run(struct cat_select *s, const struct cat_select_session *ss,
		   sqlite3_stmt *st, struct pgw_buf *out, int send_rowdesc,
		   char *tag, size_t tagsize, struct err *e)
{
	int n = sqlite3_column_count(st), rc;
	const char **vals = calloc((size_t)n + 1, sizeof(char *));
	int *lens = calloc((size_t)n + 1, sizeof(int));
	uint32_t *oids = calloc((size_t)n + 1, sizeof(uint32_t));
	uint64_t rows = 0;
	int ret = -1;

	s->session = ss;
	s->denied[0] = '\0';
	s->budget = SELECT_MAX_PROGRESS;
	if (!vals || !lens || !oids) {
		err_set(e, "53200", "out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++)
		oids[i] = cat_select_column_oid(st, i);
	if (send_rowdesc && cat_select_describe(st, out) < 0) {
		err_set(e, "53200", "out of memory");
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int i = 0; i < n; i++) {
			if (sqlite3_column_type(st, i) == SQLITE_NULL) {
				vals[i] = NULL;
				lens[i] = -1;
			} else if (oids[i] == PGW_OID_BOOL) {
				vals[i] = sqlite3_column_int(st, i) ? "t" : "f";
				lens[i] = 1;
			} else {
				vals[i] = (const char *)sqlite3_column_text(st, i);
				lens[i] = sqlite3_column_bytes(st, i);
				if (!vals[i]) {
					err_set(e, "53200", "out of memory");
					goto out;
				}
			}
		}
		if (pgw_data_row(out, (size_t)n, vals, lens) < 0) {
			err_set(e, "53200", "out of memory");
			goto out;
		}
		rows++;
	}
	if (rc != SQLITE_DONE) {
		map_error(s, e);
		goto out;
	}
	snprintf(tag, tagsize, "SELECT %llu", (unsigned long long)rows);
	ret = 0;
out:
	sqlite3_finalize(st);
	s->session = NULL;
	free(vals);
	free(lens);
	free(oids);
	return ret;
}
