/* Internal interface between the executor's files: exec.c (protocol
 * messages, statement loop, transaction blocks, SELECT), ddl.c (secret
 * statements, name resolution, SHOW SECRETS) and settings.c (SET/SHOW). */
#ifndef TETHER_CAT_EXEC_INT_H
#define TETHER_CAT_EXEC_INT_H

#include "exec.h"

/* Everything one statement's handler needs. */
struct exec_run {
	struct cat_ctx *ctx;
	struct cat_session *s;
	struct pgw_buf *out;
	struct err *e;
	int send_rowdesc;        /* simple Query: yes; Execute: no */
};

/* Handler results: CAT_RUN_DONE / CAT_RUN_PARKED, or -1 with e set. */
#define EXEC_ERROR (-1)

/* ddl.c */
int cat_ddl_create_secret(struct exec_run *r, struct cat_stmt *st);
int cat_ddl_alter_secret_value(struct exec_run *r, struct cat_stmt *st);
int cat_ddl_rename(struct exec_run *r, struct cat_stmt *st);
int cat_ddl_drop(struct exec_run *r, struct cat_stmt *st);
int cat_ddl_show_objects(struct exec_run *r, struct cat_stmt *st);
int cat_ddl_describe_show_objects(struct exec_run *r, const struct cat_stmt *st);
/* Completes a parked statement with the vault's reply: DONE or -1. */
int cat_ddl_vault_reply(struct exec_run *r, uint64_t request_id,
			const Tether__Reply *reply, int *finished);
int cat_ddl_vault_lost(struct exec_run *r);
void cat_ddl_pending_clear(struct cat_session *s);
/* ddl_conn.c: a parked CREATE CONNECTION / ROTATE KEYS answered by the
 * vault (DONE or -1), and freeing its state (NULL is fine). */
int cat_ddl_conn_vault_reply(struct exec_run *r, uint64_t request_id,
			     const Tether__Reply *reply);
void cat_ddl_conn_pending_free(void *p);
/* ddl_conn.c: a parked statement's validation job ended (DONE or -1). */
struct cat_job_result;
int cat_ddl_conn_job_done(struct exec_run *r, const struct cat_job_result *res);
/* DROP: inside its transaction, remembers which of `ids` are SSH TUNNEL
 * connections (0 / -1); after commit, asks the vault to shred their key
 * pairs (start-up reconciliation covers a crash in between). */
int cat_ddl_conn_collect_ssh(struct exec_run *r, const uint64_t *ids, size_t n);
/* An item's name with only as much db.schema. as the session needs. */
void cat_ddl_display_name(struct exec_run *r, uint64_t id, char *buf, size_t size);
void cat_ddl_conn_shred_ssh(struct exec_run *r);
/* Drops items `ids` (with cascade, their transitive dependents; else 2BP01
 * if any) in one transaction, after checking ownership of all of them;
 * in_txn (may be NULL) runs inside that transaction after the deletes
 * (DROP SCHEMA removes its rows there). Dropped secrets are shredded by the
 * vault after commit (parks); the tag is st's. DONE, PARKED or -1. */
int cat_ddl_drop_ids(struct exec_run *r, struct cat_stmt *st, const uint64_t *ids,
		     size_t n, int cascade,
		     int (*in_txn)(struct exec_run *r, void *arg), void *arg);

/* Name resolution (SQL.md 2): an item, 1 found / 0 unknown / -1; a
 * schema of 1-2 parts, 1 found / -1 (3D000, 3F000). */
int cat_ddl_lookup_item(struct exec_run *r, const struct cat_name *n,
			struct cat_item *it, struct cat_schema *sc);
int cat_ddl_resolve_schema(struct exec_run *r, const struct cat_name *n,
			   struct cat_schema *sc);

/* A name in `sc` as messages show it: schema.name in a system schema,
 * else database.schema.name. */
void cat_ddl_qualify(const struct cat_schema *sc, const char *name, char *buf, size_t size);
/* CREATE of a name that is taken (by `it`): 42710, or with IF NOT EXISTS a
 * 42710 notice and 0, the caller then completing the statement. */
int cat_ddl_item_exists(struct exec_run *r, const struct cat_item *it, const char *qname,
			int if_not_exists);

/* ddl_keys.c: ALTER SYSTEM ROTATE {DATA | MASTER} KEY (superuser; parks
 * on the vault's Reply) and the vault's progress reports. */
int cat_ddl_rotate_key(struct exec_run *r, struct cat_stmt *st);
int cat_ddl_keys_vault_reply(struct exec_run *r, const Tether__Reply *reply);

/* ddl_role.c: roles, GRANT/REVOKE, OWNER TO, databases, schemas, SET ROLE */
int cat_role_create(struct exec_run *r, struct cat_stmt *st);
int cat_role_alter(struct exec_run *r, struct cat_stmt *st);
int cat_role_drop(struct exec_run *r, struct cat_stmt *st);
int cat_role_grant_priv(struct exec_run *r, struct cat_stmt *st);   /* and REVOKE */
int cat_role_grant_role(struct exec_run *r, struct cat_stmt *st);   /* and REVOKE */
int cat_role_alter_owner(struct exec_run *r, struct cat_stmt *st);
int cat_role_set_role(struct exec_run *r, struct cat_stmt *st);
int cat_ns_create_database(struct exec_run *r, struct cat_stmt *st);
int cat_ns_create_schema(struct exec_run *r, struct cat_stmt *st);
int cat_ns_drop(struct exec_run *r, struct cat_stmt *st);          /* DATABASE / SCHEMA */
/* max_objects_per_schema (SQL.md 9.6) before creating an item of `kind`
 * ("secret", "connection") in sc: 53400 past the limit. */
int cat_ns_check_object_limit(struct exec_run *r, const struct cat_schema *sc,
			      const char *kind);

/* settings.c */
struct cat_setting {
	struct cat_setting *next;
	char *name;              /* canonical lower-case name */
	char *value;
};
const char *cat_setting_get(const struct cat_session *s, const char *name);
int cat_settings_set(struct exec_run *r, struct cat_stmt *st);
int cat_settings_show(struct exec_run *r, struct cat_stmt *st);
int cat_settings_describe_show(struct exec_run *r, const struct cat_stmt *st);
int cat_settings_discard(struct exec_run *r);
void cat_settings_free(struct cat_session *s);
/* First existing-or-not schema names of search_path, in order. */
size_t cat_search_path(const struct cat_session *s,
		       char names[][CAT_IDENT_MAX + 1], size_t max);

/* exec.c */
int cat_exec_notice(struct exec_run *r, const char *sqlstate, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* For SHOW and session functions. */
void cat_exec_select_session(const struct cat_session *s,
			     struct cat_select_session *ss, char *schema,
			     size_t size);
/* Runs a SELECT built by the executor on the read-only connection, binding
 * values to the named parameters. */
int cat_exec_run_named_select(struct exec_run *r, const char *sql,
			      const char *const *names, const char *const *values,
			      size_t n);

#endif
