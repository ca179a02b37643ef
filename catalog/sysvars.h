/* System variables (SQL.md 9.6): the limits a superuser changes with ALTER
 * SYSTEM, stored durably in the catalog's system_vars table (migration 4),
 * shown by SHOW <name> / SHOW ALL, and the one limit check every CREATE
 * path calls. */
#ifndef TETHER_CAT_SYSVARS_H
#define TETHER_CAT_SYSVARS_H

#include <stddef.h>

#include "exec_int.h"

/* Number of system variables, and the i-th one's name, built-in default
 * and description (for SHOW ALL); i < cat_sysvar_count(). */
size_t cat_sysvar_count(void);
const char *cat_sysvar_name(size_t i);
long cat_sysvar_default(size_t i);
const char *cat_sysvar_description(size_t i);
/* Index of a variable by (lower-case) name, or -1. */
long cat_sysvar_find(const char *name);

/* Current value of variable `name` (the stored one, else the default).
 * -1 with e set on a storage error or an unknown name (42704). */
long cat_sysvar_get(struct cat_store *st, const char *name, struct err *e);

/* The 53400 check of SQL.md 9.6 before creating one more `kind` ("secret",
 * "role", "KAFKA connection", ...) where `current` exist:
 *   creating <kind> would violate <var> limit (desired: <current+1>,
 *   limit: <value of var>, current: <current>)
 * 0 if within the limit, else -1 (EXEC_ERROR) with r->e set. */
int cat_limit_check(struct exec_run *r, const char *kind, const char *var, long current);

/* ALTER SYSTEM SET / RESET (superuser only, audited). */
int cat_sysvar_alter(struct exec_run *r, struct cat_stmt *st);

#endif
