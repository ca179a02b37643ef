/* SELECT on the system catalog: a second, read-only SQLite connection whose
 * authorizer allows reading only the mz_* views (and base tables only through
 * them) and a short list of functions. Rows go out as text (PostgreSQL
 * protocol 55.2.2 simple query / 55.2.3 extended query). */
#ifndef TETHER_CAT_SELECT_H
#define TETHER_CAT_SELECT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "err.h"
#include "pgwire.h"

/* What the session functions (current_user(), ...) answer. */
struct cat_select_session {
	const char *user;
	const char *database;
	const char *schema;
	uint32_t backend_pid;
	const char *session_user;   /* login role (SET ROLE changes only user);
				     * NULL: same as user */
};

struct cat_select {
	sqlite3 *db;
	const struct cat_select_session *session;   /* set around each query */
	char denied[128];       /* last object the authorizer refused */
	int budget;             /* progress callbacks left for this query */
};

int cat_select_open(struct cat_select *s, const char *path, struct err *e);
void cat_select_close(struct cat_select *s);

/* Compiles one SELECT. Errors map SQLite's wording to PostgreSQL's codes:
 * 42704 unknown catalog item, 42703 unknown column, 42601 syntax, 0A000. */
int cat_select_prepare(struct cat_select *s, const struct cat_select_session *ss,
		       const char *sql, sqlite3_stmt **out, struct err *e);

/* Binds text values to $1..$n (values[i] NULL = SQL NULL). */
int cat_select_bind(sqlite3_stmt *st, char *const *values, size_t n,
		    struct err *e);

/* RowDescription for a compiled statement (no rows are read). */
int cat_select_describe(sqlite3_stmt *st, struct pgw_buf *out);

/* Runs it: [RowDescription], DataRow*, and on success "SELECT <n>" is
 * written to tag. The statement is finalized in all cases. */
int cat_select_run(struct cat_select *s, const struct cat_select_session *ss,
		   sqlite3_stmt *st, struct pgw_buf *out, int send_rowdesc,
		   char *tag, size_t tagsize, struct err *e);

/* The PostgreSQL type of a result column (from its declared type). */
uint32_t cat_select_column_oid(sqlite3_stmt *st, int col);

#endif
