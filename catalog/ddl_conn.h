/* Connection statements for the executor's dispatch table (exec.c):
 * CREATE / ALTER / VALIDATE CONNECTION, SHOW [REDACTED] CREATE CONNECTION,
 * COMMENT ON, and RENAME of secrets and connections (re-renders every
 * dependent's create_sql). */
#ifndef TETHER_CAT_DDL_CONN_H
#define TETHER_CAT_DDL_CONN_H

#include "exec_int.h"

int cat_ddl_create_connection(struct exec_run *r, struct cat_stmt *st);
int cat_ddl_alter_connection(struct exec_run *r, struct cat_stmt *st);
int cat_ddl_rename_item(struct exec_run *r, struct cat_stmt *st);
int cat_ddl_validate_connection(struct exec_run *r, struct cat_stmt *st);
int cat_ddl_show_create_connection(struct exec_run *r, struct cat_stmt *st);
int cat_ddl_describe_show_create(struct exec_run *r, const struct cat_stmt *st);
int cat_ddl_comment(struct exec_run *r, struct cat_stmt *st);

#endif
