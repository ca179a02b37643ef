/* The statement loop and the query sub-protocols: simple Query (several
 * statements, stop at the first error; protocol 55.2.2) and the extended
 * protocol Parse/Bind/Describe/Execute/Sync/Close/Flush (55.2.3), with
 * transaction-block state for ReadyForQuery and catalog-only SELECT. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddl_conn.h"
#include "sysvars.h"
#include "exec_int.h"
#include "log.h"

struct cat_prepared {
	struct cat_prepared *next;
	char *name;
	struct cat_stmt *stmts;     /* 0 or 1 statement from cat_parse */
	size_t nstmts;
	uint32_t *types;            /* parameter type OIDs (0 = unspecified) */
	size_t ntypes;
	int consumed;               /* held a secret value, now with the vault */
};

struct cat_portal {
	struct cat_portal *next;
	char *name;
	struct cat_prepared *prep;
	char **values;              /* text parameters ($1..$n) */
	size_t nvalues;
};

int cat_ctx_sync_counters(struct cat_ctx *ctx, struct err *e)
{
	uint64_t id, version;

	if (cat_store_counters(ctx->store, &id, &version, e) < 0)
		return -1;
	if (id > ctx->next_id)
		ctx->next_id = id;
	if (version > ctx->next_version)
		ctx->next_version = version;
	if (ctx->vault->max_object_id >= ctx->next_id)
		ctx->next_id = ctx->vault->max_object_id + 1;
	if (ctx->vault->max_version >= ctx->next_version)
		ctx->next_version = ctx->vault->max_version + 1;
	return 0;
}

int cat_exec_notice(struct exec_run *r, const char *sqlstate, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (pgw_notice(r->out, "NOTICE", sqlstate, msg, NULL, NULL) < 0)
		return err_set(r->e, "53200", "out of memory");
	return 0;
}

static int oom(struct exec_run *r)
{
	return err_set(r->e, "53200", "out of memory");
}

void cat_exec_select_session(const struct cat_session *s,
			     struct cat_select_session *ss, char *schema,
			     size_t size)
{
	char path[1][CAT_IDENT_MAX + 1];

	snprintf(schema, size, "%s", cat_search_path(s, path, 1) ? path[0] : "");
	ss->user = s->role.name;
	ss->session_user = s->login_role.name;
	ss->database = cat_setting_get(s, "database");
	ss->schema = schema[0] ? schema : NULL;
	ss->backend_pid = s->backend_pid;
}

int cat_exec_run_named_select(struct exec_run *r, const char *sql,
			      const char *const *names, const char *const *values,
			      size_t n)
{
	struct cat_select_session ss;
	char schema[CAT_IDENT_MAX + 1], tag[64];
	sqlite3_stmt *st;

	cat_exec_select_session(r->s, &ss, schema, sizeof(schema));
	if (cat_select_prepare(r->ctx->sel, &ss, sql, &st, r->e) < 0)
		return EXEC_ERROR;
	for (size_t i = 0; i < n; i++) {
		int idx = sqlite3_bind_parameter_index(st, names[i]);
		if (idx && sqlite3_bind_text(st, idx, values[i], -1, SQLITE_TRANSIENT) != SQLITE_OK) {
			sqlite3_finalize(st);
			return oom(r);
		}
	}
	if (cat_select_run(r->ctx->sel, &ss, st, r->out, r->send_rowdesc, tag,
			   sizeof(tag), r->e) < 0)
		return EXEC_ERROR;
	return pgw_command_complete(r->out, tag) < 0 ? oom(r) : CAT_RUN_DONE;
}

/* ---- statement handlers that live here ---- */

/* SQL.md 2: an unqualified relation of mz_internal (or another schema not
 * searched implicitly) is found only if search_path names its schema. */
static int check_hidden_relations(struct exec_run *r, const struct cat_stmt *st)
{
	char path[8][CAT_IDENT_MAX + 1];
	size_t n = cat_search_path(r->s, path, 8);

	for (size_t i = 0; i < st->nselect_hidden; i++) {
		size_t k = 0;
		while (k < n && strcmp(path[k], st->select_hidden[i].schema) != 0)
			k++;
		if (k == n)
			return err_set(r->e, "42704", "unknown catalog item '%s'",
				       st->select_hidden[i].name);
	}
	return 0;
}

static int run_select(struct exec_run *r, struct cat_stmt *st)
{
	struct cat_select_session ss;
	char schema[CAT_IDENT_MAX + 1], tag[64];
	sqlite3_stmt *sq;

	cat_exec_select_session(r->s, &ss, schema, sizeof(schema));
	if (!st->select_sql)
		return err_set(r->e, "0A000", "this SELECT is not supported");
	if (check_hidden_relations(r, st) < 0 ||
	    cat_select_prepare(r->ctx->sel, &ss, st->select_sql, &sq, r->e) < 0)
		return EXEC_ERROR;
	if (cat_select_bind(sq, r->s->params, r->s->nparams, r->e) < 0) {
		sqlite3_finalize(sq);
		return EXEC_ERROR;
	}
	if (cat_select_run(r->ctx->sel, &ss, sq, r->out, r->send_rowdesc, tag,
			   sizeof(tag), r->e) < 0)
		return EXEC_ERROR;
	return pgw_command_complete(r->out, tag) < 0 ? oom(r) : CAT_RUN_DONE;
}

static int describe_select(struct exec_run *r, const struct cat_stmt *st)
{
	struct cat_select_session ss;
	char schema[CAT_IDENT_MAX + 1];
	sqlite3_stmt *sq;
	int rc;

	cat_exec_select_session(r->s, &ss, schema, sizeof(schema));
	if (!st->select_sql)
		return err_set(r->e, "0A000", "this SELECT is not supported");
	if (check_hidden_relations(r, st) < 0 ||
	    cat_select_prepare(r->ctx->sel, &ss, st->select_sql, &sq, r->e) < 0)
		return EXEC_ERROR;
	rc = cat_select_describe(sq, r->out);
	sqlite3_finalize(sq);
	return rc < 0 ? oom(r) : 0;
}

static int warn(struct exec_run *r, const char *sqlstate, const char *msg)
{
	return pgw_notice(r->out, "WARNING", sqlstate, msg, NULL, NULL) < 0 ? oom(r) : 0;
}

static int run_begin(struct exec_run *r, struct cat_stmt *st)
{
	if (r->s->txn != 'I' && warn(r, "25001", "there is already a transaction in progress") < 0)
		return EXEC_ERROR;
	r->s->txn = 'T';
	return pgw_command_complete(r->out, cat_stmt_tag(st)) < 0 ? oom(r) : CAT_RUN_DONE;
}

static int run_commit(struct exec_run *r, struct cat_stmt *st)
{
	/* COMMIT of a failed block reports ROLLBACK, like PostgreSQL. */
	const char *tag = r->s->txn == 'E' ? "ROLLBACK" : cat_stmt_tag(st);

	if (r->s->txn == 'I' && warn(r, "25P01", "there is no transaction in progress") < 0)
		return EXEC_ERROR;
	r->s->txn = 'I';
	return pgw_command_complete(r->out, tag) < 0 ? oom(r) : CAT_RUN_DONE;
}

static int run_discard(struct exec_run *r, struct cat_stmt *st)
{
	(void)st;
	return cat_settings_discard(r);
}

static int run_empty(struct exec_run *r, struct cat_stmt *st)
{
	(void)st;
	/* Only reached through Execute; simple Query skips empty statements. */
	return pgw_empty_query(r->out) < 0 ? oom(r) : CAT_RUN_DONE;
}

static const struct stmt_def {
	int (*run)(struct exec_run *r, struct cat_stmt *st);
	/* RowDescription for Describe; NULL = NoData. */
	int (*describe)(struct exec_run *r, const struct cat_stmt *st);
	int no_txn_block;           /* DDL: 25001 inside BEGIN ... COMMIT */
	int holds_secret;           /* carries a value: prepared copy is single-use */
} stmt_defs[] = {
	[CAT_STMT_EMPTY] = { run_empty, NULL, 0, 0 },
	[CAT_STMT_CREATE_SECRET] = { cat_ddl_create_secret, NULL, 1, 1 },
	[CAT_STMT_ALTER_SECRET_VALUE] = { cat_ddl_alter_secret_value, NULL, 1, 1 },
	[CAT_STMT_ALTER_SECRET_RENAME] = { cat_ddl_rename_item, NULL, 1, 0 },
	[CAT_STMT_DROP_OBJECTS] = { cat_ddl_drop, NULL, 1, 0 },
	[CAT_STMT_SHOW_OBJECTS] = { cat_ddl_show_objects, cat_ddl_describe_show_objects, 0, 0 },
	[CAT_STMT_SELECT] = { run_select, describe_select, 0, 0 },
	[CAT_STMT_SET_VAR] = { cat_settings_set, NULL, 0, 0 },
	[CAT_STMT_SHOW_VAR] = { cat_settings_show, cat_settings_describe_show, 0, 0 },
	[CAT_STMT_BEGIN] = { run_begin, NULL, 0, 0 },
	[CAT_STMT_COMMIT] = { run_commit, NULL, 0, 0 },
	[CAT_STMT_ROLLBACK] = { run_commit, NULL, 0, 0 },
	[CAT_STMT_DISCARD] = { run_discard, NULL, 1, 0 },
	[CAT_STMT_CREATE_ROLE] = { cat_role_create, NULL, 1, 0 },
	[CAT_STMT_ALTER_ROLE] = { cat_role_alter, NULL, 1, 0 },
	[CAT_STMT_DROP_ROLE] = { cat_role_drop, NULL, 1, 0 },
	[CAT_STMT_GRANT_PRIV] = { cat_role_grant_priv, NULL, 1, 0 },
	[CAT_STMT_REVOKE_PRIV] = { cat_role_grant_priv, NULL, 1, 0 },
	[CAT_STMT_GRANT_ROLE] = { cat_role_grant_role, NULL, 1, 0 },
	[CAT_STMT_REVOKE_ROLE] = { cat_role_grant_role, NULL, 1, 0 },
	[CAT_STMT_ALTER_OWNER] = { cat_role_alter_owner, NULL, 1, 0 },
	[CAT_STMT_CREATE_DATABASE] = { cat_ns_create_database, NULL, 1, 0 },
	[CAT_STMT_CREATE_SCHEMA] = { cat_ns_create_schema, NULL, 1, 0 },
	[CAT_STMT_DROP_DATABASE] = { cat_ns_drop, NULL, 1, 0 },
	[CAT_STMT_DROP_SCHEMA] = { cat_ns_drop, NULL, 1, 0 },
	[CAT_STMT_SET_ROLE] = { cat_role_set_role, NULL, 0, 0 },
	[CAT_STMT_CREATE_CONNECTION] = { cat_ddl_create_connection, NULL, 1, 0 },
	[CAT_STMT_ALTER_CONNECTION] = { cat_ddl_alter_connection, NULL, 1, 0 },
	[CAT_STMT_VALIDATE_CONNECTION] = { cat_ddl_validate_connection, NULL, 0, 0 },
	[CAT_STMT_SHOW_CREATE_CONNECTION] = { cat_ddl_show_create_connection,
					      cat_ddl_describe_show_create, 0, 0 },
	[CAT_STMT_COMMENT] = { cat_ddl_comment, NULL, 1, 0 },
	[CAT_STMT_ALTER_SYSTEM] = { cat_sysvar_alter, NULL, 1, 0 },
	[CAT_STMT_ALTER_SYSTEM_ROTATE] = { cat_ddl_rotate_key, NULL, 1, 0 },
};
#define NDEFS (sizeof(stmt_defs) / sizeof(stmt_defs[0]))

static const struct stmt_def *stmt_def(const struct cat_stmt *st)
{
	if ((size_t)st->kind >= NDEFS || !stmt_defs[st->kind].run)
		return NULL;
	return &stmt_defs[st->kind];
}

static int run_one(struct exec_run *r, struct cat_stmt *st)
{
	const struct stmt_def *d = stmt_def(st);

	if (!d)
		return err_set(r->e, "0A000", "%s is not supported", cat_stmt_name(st));
	if (r->s->txn == 'E' && st->kind != CAT_STMT_COMMIT &&
	    st->kind != CAT_STMT_ROLLBACK)
		return err_set(r->e, "25P02", "current transaction is aborted, commands ignored until end of transaction block");
	if (r->s->txn == 'T' && d->no_txn_block)
		return err_set(r->e, "25001", "%s cannot be run inside a transaction block",
			       cat_stmt_name(st));
	return d->run(r, st);
}

/* Ends the current query: error (if any), cleanup, ReadyForQuery for a
 * simple Query or discard-until-Sync for a failed Execute. */
static enum cat_run finish_query(struct cat_session *s, struct pgw_buf *out,
				 const struct err *e)
{
	int rc = 0;

	if (e) {
		log_info("statement_failed", "pid=%u sqlstate=%s", s->backend_pid,
			 e->sqlstate);
		if (s->txn == 'T')
			s->txn = 'E';
		rc |= pgw_error(out, "ERROR", e);
	}
	if (s->running) {
		for (size_t i = 0; i < s->running->nstmts; i++) {
			const struct stmt_def *d = stmt_def(&s->running->stmts[i]);
			if (d && d->holds_secret) {
				cat_stmt_wipe_value(&s->running->stmts[i]);
				s->running->consumed = 1;
			}
		}
	}
	if (s->owns_stmts && s->stmts)
		cat_stmts_free(s->stmts, s->nstmts);
	s->stmts = NULL;
	s->nstmts = s->next = 0;
	s->owns_stmts = 0;
	s->running = NULL;
	s->params = NULL;
	s->nparams = 0;
	if (!s->extended)
		rc |= pgw_ready(out, s->txn);
	else if (e)
		s->discard_until_sync = 1;
	return rc ? CAT_RUN_CLOSE : CAT_RUN_DONE;
}

static enum cat_run run_loop(struct cat_ctx *ctx, struct cat_session *s,
			     struct pgw_buf *out)
{
	while (s->next < s->nstmts) {
		struct cat_stmt *st = &s->stmts[s->next];
		struct err e;
		struct exec_run r = { ctx, s, out, &e, !s->extended };
		int rc;

		err_clear(&e);
		if (st->kind == CAT_STMT_EMPTY && !s->extended) {
			s->next++;
			continue;
		}
		rc = run_one(&r, st);
		if (rc == CAT_RUN_PARKED)
			return CAT_RUN_PARKED;
		if (rc < 0)
			return finish_query(s, out, &e);
		s->next++;
	}
	return finish_query(s, out, NULL);
}

/* A parked statement has finished with rc: end the query on its error,
 * else run the statements after it. */
static enum cat_run resume_after(struct cat_ctx *ctx, struct cat_session *s,
				 struct pgw_buf *out, const struct err *e, int rc)
{
	if (rc < 0)
		return finish_query(s, out, e);
	s->next++;
	return run_loop(ctx, s, out);
}

/* An error outside any statement (bad message, parse error). */
static enum cat_run query_error(struct cat_session *s, struct pgw_buf *out,
				const struct err *e)
{
	s->stmts = NULL;
	s->nstmts = s->next = 0;
	s->owns_stmts = 0;
	return finish_query(s, out, e);
}

static enum cat_run protocol_violation(struct pgw_buf *out, const char *what)
{
	struct err e;

	err_set(&e, "08P01", "invalid %s message", what);
	pgw_error(out, "FATAL", &e);
	return CAT_RUN_CLOSE;
}

/* Checks shared by Query and Parse before the parser sees the text. */
static int check_text(const char *q, size_t len, struct err *e)
{
	if (len > CAT_MAX_STATEMENT)
		return err_set(e, "54000", "statement is too long: %zu bytes (limit %d bytes)",
			       len, CAT_MAX_STATEMENT);
	if (!pgw_utf8_valid(q, len))
		return err_set(e, "22021", "invalid byte sequence for encoding \"UTF8\"");
	return 0;
}

static int all_empty(const struct cat_stmt *st, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (st[i].kind != CAT_STMT_EMPTY)
			return 0;
	return 1;
}

static enum cat_run on_query(struct cat_ctx *ctx, struct cat_session *s,
			     struct pgw_buf *out, const uint8_t *body, size_t len)
{
	const char *q = (const char *)body;
	struct cat_stmt *stmts = NULL;
	size_t n = 0;
	struct err e;

	err_clear(&e);
	if (len == 0 || body[len - 1] != '\0' || strlen(q) != len - 1)
		return protocol_violation(out, "Query");
	s->extended = 0;
	if (check_text(q, len - 1, &e) < 0 || cat_parse(q, len - 1, &stmts, &n, &e) < 0) {
		/* Never log the text of a statement that failed to parse. */
		return query_error(s, out, &e);
	}
	if (all_empty(stmts, n)) {
		cat_stmts_free(stmts, n);
		if (pgw_empty_query(out) < 0 || pgw_ready(out, s->txn) < 0)
			return CAT_RUN_CLOSE;
		return CAT_RUN_DONE;
	}
	s->stmts = stmts;
	s->nstmts = n;
	s->next = 0;
	s->owns_stmts = 1;
	s->params = NULL;
	s->nparams = 0;
	return run_loop(ctx, s, out);
}

/* ---- extended protocol ---- */

static struct cat_prepared *find_prepared(struct cat_session *s, const char *name)
{
	for (struct cat_prepared *p = s->prepared; p; p = p->next)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

static struct cat_portal *find_portal(struct cat_session *s, const char *name)
{
	for (struct cat_portal *p = s->portals; p; p = p->next)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

static void portal_free(struct cat_portal *p)
{
	for (size_t i = 0; i < p->nvalues; i++) {
		if (p->values[i]) {
			explicit_bzero(p->values[i], strlen(p->values[i]));
			free(p->values[i]);
		}
	}
	free(p->values);
	free(p->name);
	free(p);
}

static void remove_portal(struct cat_session *s, struct cat_portal *target)
{
	for (struct cat_portal **pp = &s->portals; *pp; pp = &(*pp)->next) {
		if (*pp == target) {
			*pp = target->next;
			portal_free(target);
			return;
		}
	}
}

static void remove_prepared(struct cat_session *s, struct cat_prepared *target)
{
	struct cat_portal *p = s->portals;

	/* Portals built on it go with it. */
	while (p) {
		struct cat_portal *next = p->next;
		if (p->prep == target)
			remove_portal(s, p);
		p = next;
	}
	for (struct cat_prepared **pp = &s->prepared; *pp; pp = &(*pp)->next) {
		if (*pp == target) {
			*pp = target->next;
			cat_stmts_free(target->stmts, target->nstmts);
			free(target->types);
			free(target->name);
			free(target);
			return;
		}
	}
}

static size_t prepared_nparams(const struct cat_prepared *p)
{
	size_t n = p->ntypes;

	if (p->nstmts && (size_t)p->stmts[0].nparams > n)
		n = (size_t)p->stmts[0].nparams;
	return n;
}

static enum cat_run ext_error(struct cat_session *s, struct pgw_buf *out,
			      const struct err *e)
{
	s->extended = 1;
	return query_error(s, out, e);
}

static enum cat_run on_parse(struct cat_session *s, struct pgw_buf *out,
			     const uint8_t *body, size_t len)
{
	struct pgw_parse_msg m;
	struct cat_prepared *p, *old;
	struct cat_stmt *stmts = NULL;
	size_t n = 0;
	struct err e;

	err_clear(&e);
	if (pgw_parse_parse(body, len, &m, &e) < 0)
		return !strcmp(e.sqlstate, "08P01") ? protocol_violation(out, "Parse") :
		       ext_error(s, out, &e);
	old = find_prepared(s, m.stmt);
	if (old && m.stmt[0]) {
		free(m.types);
		err_set(&e, "42P05", "prepared statement \"%s\" already exists", m.stmt);
		return ext_error(s, out, &e);
	}
	if (check_text(m.query, m.query_len, &e) < 0 ||
	    cat_parse(m.query, m.query_len, &stmts, &n, &e) < 0) {
		free(m.types);
		return ext_error(s, out, &e);
	}
	if (n > 1) {
		/* Only one statement; a trailing empty one is fine. */
		size_t real = 0;
		for (size_t i = 0; i < n; i++)
			real += stmts[i].kind != CAT_STMT_EMPTY;
		if (real > 1) {
			cat_stmts_free(stmts, n);
			free(m.types);
			err_set(&e, "42601", "cannot insert multiple commands into a prepared statement");
			return ext_error(s, out, &e);
		}
	}
	if (old)
		remove_prepared(s, old);
	p = calloc(1, sizeof(*p));
	if (!p || !(p->name = strdup(m.stmt))) {
		free(p);
		cat_stmts_free(stmts, n);
		free(m.types);
		err_set(&e, "53200", "out of memory");
		return ext_error(s, out, &e);
	}
	/* Keep the one real statement (or one empty). */
	if (n > 1) {
		size_t keep = 0;
		for (size_t i = 0; i < n; i++)
			if (stmts[i].kind != CAT_STMT_EMPTY)
				keep = i;
		if (keep != 0) {
			struct cat_stmt tmp = stmts[0];
			stmts[0] = stmts[keep];
			stmts[keep] = tmp;
		}
	}
	p->stmts = stmts;
	p->nstmts = n;
	p->types = m.types;
	p->ntypes = m.ntypes;
	p->next = s->prepared;
	s->prepared = p;
	/* Only stmts[0] runs; the rest are empty and freed with it. */
	return pgw_parse_complete(out) < 0 ? CAT_RUN_CLOSE : CAT_RUN_DONE;
}

static enum cat_run on_bind(struct cat_session *s, struct pgw_buf *out,
			    const uint8_t *body, size_t len)
{
	struct pgw_bind_msg m;
	struct cat_prepared *prep;
	struct cat_portal *portal, *old;
	struct err e;
	size_t want;

	err_clear(&e);
	if (pgw_parse_bind(body, len, &m, &e) < 0)
		return !strcmp(e.sqlstate, "08P01") ? protocol_violation(out, "Bind") :
		       ext_error(s, out, &e);
	prep = find_prepared(s, m.stmt);
	if (!prep)
		err_set(&e, "26000", "prepared statement \"%s\" does not exist", m.stmt);
	else if (prep->consumed)
		err_set(&e, "0A000", "prepared statement \"%s\" held a secret value and can be executed only once",
			m.stmt);
	else if ((want = prepared_nparams(prep)) != m.nparams)
		err_set(&e, "08P01", "bind message supplies %u parameters, but prepared statement \"%s\" requires %zu",
			m.nparams, m.stmt, want);
	else if ((old = find_portal(s, m.portal)) && m.portal[0])
		err_set(&e, "42P03", "portal \"%s\" already exists", m.portal);
	if (err_is_set(&e)) {
		pgw_bind_free(&m);
		return ext_error(s, out, &e);
	}
	old = find_portal(s, m.portal);
	if (old)
		remove_portal(s, old);
	portal = calloc(1, sizeof(*portal));
	if (!portal || !(portal->name = strdup(m.portal))) {
		free(portal);
		pgw_bind_free(&m);
		err_set(&e, "53200", "out of memory");
		return ext_error(s, out, &e);
	}
	portal->prep = prep;
	portal->values = m.values;
	portal->nvalues = m.nparams;
	portal->next = s->portals;
	s->portals = portal;
	return pgw_bind_complete(out) < 0 ? CAT_RUN_CLOSE : CAT_RUN_DONE;
}

static int describe_stmt(struct exec_run *r, const struct cat_prepared *p)
{
	const struct stmt_def *d = p->nstmts ? stmt_def(&p->stmts[0]) : NULL;

	if (d && d->describe)
		return d->describe(r, &p->stmts[0]) < 0 ? EXEC_ERROR : 0;
	return pgw_no_data(r->out) < 0 ? oom(r) : 0;
}

static enum cat_run on_describe(struct cat_ctx *ctx, struct cat_session *s,
				struct pgw_buf *out, const uint8_t *body, size_t len)
{
	struct pgw_reader rd;
	struct err e;
	struct exec_run r = { ctx, s, out, &e, 1 };
	const struct cat_prepared *prep;
	uint8_t what;
	const char *name;

	err_clear(&e);
	pgw_reader_init(&rd, body, len);
	what = pgw_get_u8(&rd);
	name = pgw_get_str(&rd);
	if (rd.bad || rd.off != len || (what != 'S' && what != 'P'))
		return protocol_violation(out, "Describe");
	if (what == 'S') {
		struct cat_prepared *p = find_prepared(s, name);
		uint32_t *oids;
		size_t n;

		if (!p) {
			err_set(&e, "26000", "prepared statement \"%s\" does not exist", name);
			return ext_error(s, out, &e);
		}
		n = prepared_nparams(p);
		oids = calloc(n + 1, sizeof(uint32_t));
		if (!oids)
			return CAT_RUN_CLOSE;
		for (size_t i = 0; i < n; i++)
			oids[i] = i < p->ntypes && p->types[i] ? p->types[i] : PGW_OID_TEXT;
		if (pgw_parameter_description(out, n, oids) < 0) {
			free(oids);
			return CAT_RUN_CLOSE;
		}
		free(oids);
		prep = p;
	} else {
		struct cat_portal *portal = find_portal(s, name);

		if (!portal) {
			err_set(&e, "34000", "portal \"%s\" does not exist", name);
			return ext_error(s, out, &e);
		}
		prep = portal->prep;
	}
	if (describe_stmt(&r, prep) < 0)
		return ext_error(s, out, &e);
	return CAT_RUN_DONE;
}

static enum cat_run on_execute(struct cat_ctx *ctx, struct cat_session *s,
			       struct pgw_buf *out, const uint8_t *body, size_t len)
{
	struct pgw_reader rd;
	struct cat_portal *portal;
	const char *name;
	struct err e;

	err_clear(&e);
	pgw_reader_init(&rd, body, len);
	name = pgw_get_str(&rd);
	(void)pgw_get_u32(&rd);     /* max rows: all rows are always sent */
	if (rd.bad || rd.off != len)
		return protocol_violation(out, "Execute");
	portal = find_portal(s, name);
	if (!portal) {
		err_set(&e, "34000", "portal \"%s\" does not exist", name);
		return ext_error(s, out, &e);
	}
	if (portal->prep->consumed) {
		err_set(&e, "0A000", "prepared statement \"%s\" held a secret value and can be executed only once",
			portal->prep->name);
		return ext_error(s, out, &e);
	}
	s->extended = 1;
	if (portal->prep->nstmts == 0)
		return pgw_empty_query(out) < 0 ? CAT_RUN_CLOSE : CAT_RUN_DONE;
	s->stmts = portal->prep->stmts;
	s->nstmts = 1;
	s->next = 0;
	s->owns_stmts = 0;
	s->running = portal->prep;
	s->params = portal->values;
	s->nparams = portal->nvalues;
	return run_loop(ctx, s, out);
}

static enum cat_run on_close(struct cat_session *s, struct pgw_buf *out,
			     const uint8_t *body, size_t len)
{
	struct pgw_reader rd;
	uint8_t what;
	const char *name;

	pgw_reader_init(&rd, body, len);
	what = pgw_get_u8(&rd);
	name = pgw_get_str(&rd);
	if (rd.bad || rd.off != len || (what != 'S' && what != 'P'))
		return protocol_violation(out, "Close");
	if (what == 'S') {
		struct cat_prepared *p = find_prepared(s, name);
		if (p)
			remove_prepared(s, p);
	} else {
		struct cat_portal *p = find_portal(s, name);
		if (p)
			remove_portal(s, p);
	}
	return pgw_close_complete(out) < 0 ? CAT_RUN_CLOSE : CAT_RUN_DONE;
}

enum cat_run cat_exec_message(struct cat_ctx *ctx, struct cat_session *s,
			      struct pgw_buf *out, char type,
			      const uint8_t *body, size_t len)
{
	/* 55.2.3: after an error, discard until Sync. */
	if (s->discard_until_sync && type != 'S')
		return CAT_RUN_DONE;
	switch (type) {
	case 'Q':
		return on_query(ctx, s, out, body, len);
	case 'P':
		return on_parse(s, out, body, len);
	case 'B':
		return on_bind(s, out, body, len);
	case 'D':
		return on_describe(ctx, s, out, body, len);
	case 'E':
		return on_execute(ctx, s, out, body, len);
	case 'C':
		return on_close(s, out, body, len);
	case 'H':
		return CAT_RUN_DONE;        /* Flush: output always flushes */
	case 'S':
		s->discard_until_sync = 0;
		s->extended = 0;
		return pgw_ready(out, s->txn) < 0 ? CAT_RUN_CLOSE : CAT_RUN_DONE;
	default: {
		struct err e;
		err_set(&e, "08P01", "invalid frontend message type %d", (unsigned char)type);
		pgw_error(out, "FATAL", &e);
		return CAT_RUN_CLOSE;
	}
	}
}

/* ---- vault events ---- */

int cat_session_waits_on(const struct cat_session *s, uint64_t request_id)
{
	switch (s->pending.kind) {
	case CAT_PEND_CREATE:
	case CAT_PEND_ALTER:
	case CAT_PEND_CONN:
	case CAT_PEND_KEYS:
		return s->pending.request_id == request_id;
	case CAT_PEND_DROP:
		for (size_t i = 0; i < s->pending.ndrop; i++)
			if (s->pending.drop_requests[i] == request_id)
				return 1;
		return 0;
	default:
		return 0;
	}
}

enum cat_run cat_exec_vault_reply(struct cat_ctx *ctx, struct cat_session *s,
				  struct pgw_buf *out, uint64_t request_id,
				  const Tether__Reply *reply)
{
	struct err e;
	struct exec_run r = { ctx, s, out, &e, !s->extended };
	int finished, rc;

	err_clear(&e);
	rc = cat_ddl_vault_reply(&r, request_id, reply, &finished);
	if (!finished)
		return CAT_RUN_PARKED;
	return resume_after(ctx, s, out, &e, rc);
}

enum cat_run cat_exec_vault_lost(struct cat_ctx *ctx, struct cat_session *s,
				 struct pgw_buf *out)
{
	struct err e;
	struct exec_run r = { ctx, s, out, &e, !s->extended };

	if (s->pending.kind == CAT_PEND_NONE)
		return CAT_RUN_DONE;
	err_clear(&e);
	cat_ddl_vault_lost(&r);
	return finish_query(s, out, &e);
}

int cat_session_waits_on_job(const struct cat_session *s, uint64_t job_id)
{
	return s->pending.kind == CAT_PEND_JOB && s->pending.request_id == job_id;
}

enum cat_run cat_exec_job_done(struct cat_ctx *ctx, struct cat_session *s,
			       struct pgw_buf *out, uint64_t job_id,
			       const struct cat_job_result *res)
{
	struct err e;
	struct exec_run r = { ctx, s, out, &e, !s->extended };
	int rc;

	if (!cat_session_waits_on_job(s, job_id))
		return CAT_RUN_PARKED;
	err_clear(&e);
	rc = cat_ddl_conn_job_done(&r, res);
	if (rc == CAT_RUN_PARKED)
		return CAT_RUN_PARKED;  /* a next step (SSH keys) parks again */
	cat_ddl_pending_clear(s);
	return resume_after(ctx, s, out, &e, rc);
}

enum cat_run cat_exec_job_cancel(struct cat_ctx *ctx, struct cat_session *s,
				 struct pgw_buf *out)
{
	struct err e;

	(void)ctx;
	if (s->pending.kind != CAT_PEND_JOB)
		return CAT_RUN_PARKED;
	cat_ddl_pending_clear(s);
	err_set(&e, "57014", "canceling statement due to user request");
	return finish_query(s, out, &e);
}

enum cat_run cat_exec_vault_ready(struct cat_ctx *ctx, struct cat_session *s,
				  struct pgw_buf *out)
{
	if (s->pending.kind != CAT_PEND_READY)
		return s->pending.kind == CAT_PEND_NONE ? CAT_RUN_DONE : CAT_RUN_PARKED;
	cat_ddl_pending_clear(s);
	return run_loop(ctx, s, out);     /* re-runs the waiting statement */
}

void cat_session_free(struct cat_session *s)
{
	if (s->owns_stmts && s->stmts)
		cat_stmts_free(s->stmts, s->nstmts);
	s->stmts = NULL;
	while (s->portals)
		remove_portal(s, s->portals);
	while (s->prepared)
		remove_prepared(s, s->prepared);
	cat_settings_free(s);
	cat_ddl_pending_clear(s);
}
