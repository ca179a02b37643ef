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
