/* The catalog's durable state: one SQLite database (WAL, synchronous=FULL,
 * foreign keys) holding databases, schemas, roles, items, dependencies,
 * comments and id counters, plus the read-only mz_* views that SELECT sees.
 * Secret values never enter this file; only their vault version does. */
#ifndef TETHER_CAT_STORE_H
#define TETHER_CAT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "err.h"
#include "sql/ast.h"

#define CAT_ID_MAX 24           /* "u18446744073709551615" */

struct cat_store {
	sqlite3 *db;
};

struct cat_role {
	char id[CAT_ID_MAX];
	char name[CAT_IDENT_MAX + 1];
	int superuser;
	int can_login;
};

struct cat_schema {
	char id[CAT_ID_MAX];
	char name[CAT_IDENT_MAX + 1];
	char database[CAT_IDENT_MAX + 1];   /* "" for system schemas */
	int is_system;
};

struct cat_item {
	uint64_t id;                        /* numeric part of "u<n>" */
	enum cat_object_kind kind;
	char schema_id[CAT_ID_MAX];
	char name[CAT_IDENT_MAX + 1];
	char owner_id[CAT_ID_MAX];
	uint64_t vault_version;             /* secrets only */
};

/* Schema version this code writes; migrations bring older files up. */
#define CAT_STORE_SCHEMA_VERSION 8

/* Opens (creating and bootstrapping on first use) the catalog at `path`. */
int cat_store_open(struct cat_store *s, const char *path, struct err *e);
void cat_store_close(struct cat_store *s);

/* Transactions: BEGIN IMMEDIATE (takes the write lock up front). */
int cat_store_begin(struct cat_store *s, struct err *e);
int cat_store_commit(struct cat_store *s, struct err *e);
void cat_store_rollback(struct cat_store *s);

/* Lookups return 1 found, 0 not found, -1 error (e set). */
int cat_store_find_role(struct cat_store *s, const char *name,
			struct cat_role *out, struct err *e);
int cat_store_find_database(struct cat_store *s, const char *name,
			    char id[CAT_ID_MAX], struct err *e);
/* A schema by name: a system schema (any database) or one of database `db`. */
int cat_store_find_schema(struct cat_store *s, const char *db, const char *name,
			  struct cat_schema *out, struct err *e);
int cat_store_find_schema_by_id(struct cat_store *s, const char *id,
				struct cat_schema *out, struct err *e);
int cat_store_find_item(struct cat_store *s, const char *schema_id,
			const char *name, struct cat_item *out, struct err *e);
int cat_store_find_item_by_id(struct cat_store *s, uint64_t id,
			      struct cat_item *out, struct err *e);

/* Number of items of a kind (for max_secrets). -1 on error. */
long cat_store_count_items(struct cat_store *s, enum cat_object_kind kind,
			   struct err *e);

/* Stored counters: next item id and next vault version. */
int cat_store_counters(struct cat_store *s, uint64_t *next_id,
		       uint64_t *next_version, struct err *e);
/* Raises the stored counters to at least these values (inside a txn). */
int cat_store_bump_counters(struct cat_store *s, uint64_t next_id,
			    uint64_t next_version, struct err *e);

/* Inserts a secret row (inside a txn). create_sql is built here from the
 * qualified name; it never contains the value. */
int cat_store_insert_secret(struct cat_store *s, uint64_t id,
			    const struct cat_schema *schema, const char *name,
			    const char *owner_id, uint64_t version, struct err *e);
/* Sets vault_version if it only grows; returns rows changed (0/1) or -1. */
int cat_store_set_secret_version(struct cat_store *s, uint64_t id,
				 uint64_t version, struct err *e);
int cat_store_rename_item(struct cat_store *s, uint64_t id,
			  const struct cat_schema *schema, const char *new_name,
			  struct err *e);
int cat_store_delete_item(struct cat_store *s, uint64_t id, struct err *e);

/* Ids of the items that depend on `id` (malloc'd array; caller frees).
 * Returns the count or -1. */
long cat_store_dependents(struct cat_store *s, uint64_t id, uint64_t **out,
			  struct err *e);
/* Steps `st` (finalizing it) and collects its first column as ids into a
 * malloc'd array; returns the count, or -1 with e set (`what` names the
 * query in the error). For the store's own modules. */
long cat_store_collect_ids(struct cat_store *s, sqlite3_stmt *st, uint64_t **out,
			   const char *what, struct err *e);

/* Calls fn for every committed secret (id, vault_version), in id order. */
int cat_store_each_secret(struct cat_store *s,
			  int (*fn)(void *arg, uint64_t id, uint64_t version),
			  void *arg, struct err *e);
/* Calls fn for every committed connection that owns SSH key pairs in the
 * vault (items.conn_type = 'ssh-tunnel'), in id order. */
int cat_store_each_ssh_key_owner(struct cat_store *s,
				 int (*fn)(void *arg, uint64_t id), void *arg,
				 struct err *e);

/* "materialize.public.x" for an item (database omitted for system
 * schemas). */
int cat_store_qualified_name(struct cat_store *s, const struct cat_item *it,
			     char *buf, size_t size, struct err *e);

const char *cat_kind_name(enum cat_object_kind kind);   /* "secret" */

#endif
