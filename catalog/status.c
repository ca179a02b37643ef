/* Run-time status for `tether status`: the last ChildrenStatus from tetherd
 * and the last VaultStatus from the vault, kept in memory (never in
 * catalog.db) and shown as two read-only relations of the SELECT
 * connection, tether_internal.tether_processes and tether_status, built as
 * eponymous SQLite virtual tables over this file's snapshot. */
#include "status.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"

#define ST_MAX_CHILDREN 8
#define ST_TEXT 64
/* How often the vault is asked for its counters. */
#define ST_VAULT_POLL_MS 500

struct st_child {
	char role[16];
	int32_t pid, uid, gid, seccomp;
	int no_new_privs, up;
	uint64_t started_unix_ms;
	uint32_t restarts;
	char landlock[32];
	int32_t last_exit_status, last_exit_signal;
};

static struct {
	int have_children;
	struct st_child kids[ST_MAX_CHILDREN];
	size_t nkids;
	uint32_t validators_running;
	uint64_t sup_pid, sup_started_unix_ms;
	int32_t sup_uid;

	int have_vault;
	uint32_t current_term, terms;
	uint64_t audit_last_seq, audit_bytes;
	uint64_t vault_at_ms;           /* CLOCK_MONOTONIC of the answer */
	uint64_t vault_asked_ms;
	uint64_t vault_request_id;
	uint64_t wanted_ms;             /* last read of tether_status */
} st;

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void cat_status_on_children(const Tether__ChildrenStatus *m)
{
	st.nkids = 0;
	for (size_t i = 0; i < m->n_children && st.nkids < ST_MAX_CHILDREN; i++) {
		const Tether__ChildStatus *c = m->children[i];
		struct st_child *k = &st.kids[st.nkids++];

		snprintf(k->role, sizeof(k->role), "%s", c->role ? c->role : "?");
		k->pid = c->pid;
		k->uid = c->uid;
		k->gid = c->gid;
		k->seccomp = c->seccomp;
		k->no_new_privs = c->no_new_privs;
		k->up = c->up;
		k->started_unix_ms = c->started_unix_ms;
		k->restarts = c->restarts;
		snprintf(k->landlock, sizeof(k->landlock), "%s", c->landlock ? c->landlock : "");
		k->last_exit_status = c->last_exit_status;
		k->last_exit_signal = c->last_exit_signal;
	}
	st.validators_running = m->validators_running;
	st.sup_pid = m->supervisor_pid;
	st.sup_started_unix_ms = m->supervisor_started_unix_ms;
	st.sup_uid = m->supervisor_uid;
	st.have_children = 1;
}

void cat_status_on_vault(uint64_t request_id, const Tether__VaultStatus *m)
{
	(void)request_id;
	st.current_term = m->current_term;
	st.terms = m->terms;
	st.audit_last_seq = m->audit_last_seq;
	st.audit_bytes = m->audit_bytes;
	st.vault_at_ms = mono_ms();
	st.have_vault = 1;
}

void cat_status_tick(struct cat_vault *v)
{
	uint64_t now = mono_ms();

	/* Nobody looked lately: let the vault sleep. */
	if (!st.wanted_ms || now - st.wanted_ms > 60000)
		return;
	if (v->state != CAT_VAULT_READY || now - st.vault_asked_ms < ST_VAULT_POLL_MS)
		return;
	st.vault_asked_ms = now;
	if (cat_vault_request_status(v, &st.vault_request_id) < 0)
		log_debug("vault_status_request_failed", NULL);
}

void cat_status_vault_lost(void)
{
	st.vault_asked_ms = 0;          /* ask the next vault at once */
}

/* ---- the two relations ---- */

enum st_kind { ST_NULL, ST_INT, ST_STR };
struct st_val {
	enum st_kind kind;
	sqlite3_int64 i;
	char s[ST_TEXT];
};

#define ST_MAX_COLS 16
#define ST_MAX_ROWS (ST_MAX_CHILDREN + 1)

struct st_rows {
	size_t nrows, ncols;
	struct st_val v[ST_MAX_ROWS][ST_MAX_COLS];
};

static void put_int(struct st_val *v, sqlite3_int64 i)
{
	v->kind = ST_INT;
	v->i = i;
}

static void put_str(struct st_val *v, const char *s)
{
	v->kind = s ? ST_STR : ST_NULL;
	if (s)
		snprintf(v->s, sizeof(v->s), "%s", s);
}

static void put_time(struct st_val *v, uint64_t unix_ms)
{
	time_t t = (time_t)(unix_ms / 1000);
	struct tm tm;

	if (!unix_ms || !gmtime_r(&t, &tm)) {
		v->kind = ST_NULL;
		return;
	}
	v->kind = ST_STR;
	strftime(v->s, sizeof(v->s), "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void put_user(struct st_val *v, int32_t uid)
{
	char name[ST_TEXT];

	if (uid < 0)
		v->kind = ST_NULL;
	else if (cat_auth_os_user("/etc/passwd", (uid_t)uid, name, sizeof(name)) == 0)
		put_str(v, name);
	else
		put_str(v, "?");
}

static const char *seccomp_name(int32_t mode)
{
	return mode == 2 ? "filter" : mode == 1 ? "strict" : mode == 0 ? "off" : NULL;
}

/* role, pid, up, started_at, uptime_s, restarts, uid, user, gid, seccomp,
 * no_new_privs, landlock, last_exit */
static const char processes_schema[] =
	"CREATE TABLE x(role TEXT, pid INTEGER, up INTEGER, started_at TEXT,"
	" uptime_s INTEGER, restarts INTEGER, uid INTEGER, \"user\" TEXT, gid INTEGER,"
	" seccomp TEXT, no_new_privs INTEGER, landlock TEXT, last_exit TEXT)";

static void fill_processes(struct st_rows *r)
{
	uint64_t now = wall_ms();

	r->ncols = 13;
	r->nrows = 0;
	if (!st.have_children)
		return;
	{
		struct st_val *v = r->v[r->nrows++];

		put_str(&v[0], "supervisor");
		put_int(&v[1], (sqlite3_int64)st.sup_pid);
		put_int(&v[2], 1);
		put_time(&v[3], st.sup_started_unix_ms);
		put_int(&v[4], (sqlite3_int64)((now - st.sup_started_unix_ms) / 1000));
		put_int(&v[5], 0);
		put_int(&v[6], st.sup_uid);
		put_user(&v[7], st.sup_uid);
		v[8].kind = v[9].kind = v[10].kind = v[11].kind = v[12].kind = ST_NULL;
	}
	for (size_t i = 0; i < st.nkids; i++) {
		const struct st_child *k = &st.kids[i];
		struct st_val *v = r->v[r->nrows++];
		char exit_desc[ST_TEXT];

		put_str(&v[0], k->role);
		if (k->pid > 0)
			put_int(&v[1], k->pid);
		else
			v[1].kind = ST_NULL;
		put_int(&v[2], k->up);
		put_time(&v[3], k->started_unix_ms);
		if (k->pid > 0 && k->started_unix_ms && now >= k->started_unix_ms)
			put_int(&v[4], (sqlite3_int64)((now - k->started_unix_ms) / 1000));
		else
			v[4].kind = ST_NULL;
		put_int(&v[5], k->restarts);
		if (k->uid >= 0)
			put_int(&v[6], k->uid);
		else
			v[6].kind = ST_NULL;
		put_user(&v[7], k->uid);
		if (k->gid >= 0)
			put_int(&v[8], k->gid);
		else
			v[8].kind = ST_NULL;
		put_str(&v[9], seccomp_name(k->seccomp));
		put_int(&v[10], k->no_new_privs);
		put_str(&v[11], k->landlock[0] ? k->landlock : NULL);
		if (k->restarts == 0)
			v[12].kind = ST_NULL;
		else {
			if (k->last_exit_signal)
				snprintf(exit_desc, sizeof(exit_desc), "signal %d", k->last_exit_signal);
			else
				snprintf(exit_desc, sizeof(exit_desc), "status %d", k->last_exit_status);
			put_str(&v[12], exit_desc);
		}
	}
}

static const char status_schema[] =
	"CREATE TABLE x(validators_running INTEGER, current_key_term INTEGER,"
	" key_terms INTEGER, audit_last_seq INTEGER, audit_bytes INTEGER,"
	" vault_status_age_ms INTEGER)";

static void fill_status(struct st_rows *r)
{
	struct st_val *v = r->v[0];

	r->ncols = 6;
	r->nrows = 1;
	st.wanted_ms = mono_ms();
	if (st.have_children)
		put_int(&v[0], st.validators_running);
	else
		v[0].kind = ST_NULL;
	if (!st.have_vault) {
		for (int i = 1; i < 6; i++)
			v[i].kind = ST_NULL;
		return;
	}
	put_int(&v[1], st.current_term);
	put_int(&v[2], st.terms);
	put_int(&v[3], (sqlite3_int64)st.audit_last_seq);
	put_int(&v[4], (sqlite3_int64)st.audit_bytes);
	put_int(&v[5], (sqlite3_int64)(mono_ms() - st.vault_at_ms));
}

/* ---- eponymous virtual table plumbing ---- */

struct st_table {
	sqlite3_vtab base;
	void (*fill)(struct st_rows *r);
};

struct st_cursor {
	sqlite3_vtab_cursor base;
	struct st_rows *rows;
	size_t at;
};

static int st_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
		      sqlite3_vtab **out, char **err)
{
	const char *schema = aux == (void *)fill_processes ? processes_schema : status_schema;
	struct st_table *t;

	(void)argc;
	(void)argv;
	if (sqlite3_declare_vtab(db, schema) != SQLITE_OK) {
		*err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
		return SQLITE_ERROR;
	}
	sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
	t = sqlite3_malloc(sizeof(*t));
	if (!t)
		return SQLITE_NOMEM;
	memset(t, 0, sizeof(*t));
	t->fill = (void (*)(struct st_rows *))aux;
	*out = &t->base;
	return SQLITE_OK;
}

static int st_disconnect(sqlite3_vtab *vt)
{
	sqlite3_free(vt);
	return SQLITE_OK;
}

static int st_best_index(sqlite3_vtab *vt, sqlite3_index_info *info)
{
	(void)vt;
	info->estimatedCost = 10;
	info->estimatedRows = ST_MAX_ROWS;
	return SQLITE_OK;
}

static int st_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out)
{
	struct st_cursor *c = sqlite3_malloc(sizeof(*c));

	(void)vt;
	if (!c)
		return SQLITE_NOMEM;
	memset(c, 0, sizeof(*c));
	c->rows = sqlite3_malloc(sizeof(*c->rows));
	if (!c->rows) {
		sqlite3_free(c);
		return SQLITE_NOMEM;
	}
	memset(c->rows, 0, sizeof(*c->rows));
	*out = &c->base;
	return SQLITE_OK;
}

static int st_close(sqlite3_vtab_cursor *cur)
{
	struct st_cursor *c = (struct st_cursor *)cur;

	sqlite3_free(c->rows);
	sqlite3_free(c);
	return SQLITE_OK;
}

static int st_filter(sqlite3_vtab_cursor *cur, int idx, const char *idxs, int argc,
		     sqlite3_value **argv)
{
	struct st_cursor *c = (struct st_cursor *)cur;
	struct st_table *t = (struct st_table *)cur->pVtab;

	(void)idx;
	(void)idxs;
	(void)argc;
	(void)argv;
	memset(c->rows, 0, sizeof(*c->rows));
	t->fill(c->rows);
	c->at = 0;
	return SQLITE_OK;
}

static int st_next(sqlite3_vtab_cursor *cur)
{
	((struct st_cursor *)cur)->at++;
	return SQLITE_OK;
}

static int st_eof(sqlite3_vtab_cursor *cur)
{
	struct st_cursor *c = (struct st_cursor *)cur;

	return c->at >= c->rows->nrows;
}

static int st_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col)
{
	struct st_cursor *c = (struct st_cursor *)cur;
	const struct st_val *v;

	if (col < 0 || (size_t)col >= c->rows->ncols) {
		sqlite3_result_null(ctx);
		return SQLITE_OK;
	}
	v = &c->rows->v[c->at][col];
	if (v->kind == ST_INT)
		sqlite3_result_int64(ctx, v->i);
	else if (v->kind == ST_STR)
		sqlite3_result_text(ctx, v->s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_result_null(ctx);
	return SQLITE_OK;
}

static int st_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid)
{
	*rowid = (sqlite3_int64)((struct st_cursor *)cur)->at + 1;
	return SQLITE_OK;
}

/* Eponymous-only (xCreate NULL): no CREATE VIRTUAL TABLE, no writes. */
static const sqlite3_module st_module = {
	.iVersion = 0,
	.xCreate = NULL,
	.xConnect = st_connect,
	.xBestIndex = st_best_index,
	.xDisconnect = st_disconnect,
	.xDestroy = st_disconnect,
	.xOpen = st_open,
	.xClose = st_close,
	.xFilter = st_filter,
	.xNext = st_next,
	.xEof = st_eof,
	.xColumn = st_column,
	.xRowid = st_rowid,
};

int cat_status_register(sqlite3 *db)
{
	if (sqlite3_create_module(db, "tether_processes", &st_module,
				  (void *)fill_processes) != SQLITE_OK ||
	    sqlite3_create_module(db, "tether_status", &st_module,
				  (void *)fill_status) != SQLITE_OK)
		return -1;
	/* Connect both now, before select.c installs its authorizer (which
	 * would refuse the CREATE TABLE inside sqlite3_declare_vtab); an
	 * eponymous table stays connected for the life of the connection. */
	if (sqlite3_exec(db, "SELECT * FROM tether_processes WHERE 0;"
			 "SELECT * FROM tether_status WHERE 0", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	st.wanted_ms = 0;
	return 0;
}
