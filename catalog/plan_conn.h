/* The connection planner (SQL.md 4, 5, 8.6, 9.3): turns a parsed CREATE or
 * ALTER CONNECTION into a checked, normalised option set (references
 * resolved to ids through a callback, so it needs no SQLite), its
 * dependency list, and renders create_sql / redacted_create_sql / SHOW
 * CREATE text from a set with the current names of what it references. */
#ifndef TETHER_CAT_PLAN_CONN_H
#define TETHER_CAT_PLAN_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "descriptor.h"
#include "err.h"
#include "optset.h"
#include "sql/ast.h"

/* An item as the resolver reports it. */
struct cat_conn_item {
	uint64_t id;
	enum cat_object_kind kind;
	int conn_type;                        /* enum conn_type (connections) */
	char database[CAT_IDENT_MAX + 1];     /* "" for system schemas */
	char schema[CAT_IDENT_MAX + 1];
	char name[CAT_IDENT_MAX + 1];
};

/* Name resolution and catalog reads, supplied by the executor (or a test).
 * Each returns 1 found, 0 unknown, -1 with e set. */
struct cat_conn_resolver {
	void *arg;
	int (*lookup)(void *arg, const struct cat_name *n, struct cat_conn_item *out,
		      struct err *e);
	int (*by_id)(void *arg, uint64_t id, struct cat_conn_item *out, struct err *e);
	/* The stored options of connection `id` (PrivateLink zones). */
	int (*options)(void *arg, uint64_t id, struct conn_optset *out, struct err *e);
	/* Optional: every item a statement refers to passes through here
	 * (privilege checks: USAGE on it and its schema). 0 or -1. */
	int (*use)(void *arg, const struct cat_conn_item *it, struct err *e);
	/* Optional: the name as the session would write it (only as much
	 * db.schema. as it needs, SQL.md 7); NULL: fully qualified. */
	void (*display)(void *arg, const struct cat_conn_item *it, char *buf, size_t size);
};

struct cat_conn_plan {
	struct conn_optset set;
	uint64_t *deps;                       /* referenced ids, deduplicated */
	size_t ndeps;
	char notice[256];                     /* "" or a NOTICE to send */
};

void cat_conn_plan_free(struct cat_conn_plan *p);

/* CREATE CONNECTION: duplicates and value kinds, options per type, the
 * type's rules, per-broker zones, dependencies (SQL.md 5 order). */
int cat_conn_plan_create(const struct cat_conn_stmt *cs, const struct cat_conn_resolver *r,
			 const struct conn_settings *cfg, struct cat_conn_plan *out,
			 struct err *e);

/* ALTER CONNECTION SET/RESET/DROP on `current` (SQL.md 9.3): name checks,
 * fixed options (0A000), SET vs RESET conflicts (42601), merge (SET
 * replaces in place or appends; Kafka BROKER/BROKERS clear each other),
 * then the result is planned like a CREATE. */
int cat_conn_plan_alter(const struct conn_optset *current, const struct cat_conn_stmt *cs,
			const struct cat_conn_resolver *r, const struct conn_settings *cfg,
			struct cat_conn_plan *out, struct err *e);

/* Re-plans out->set as it is (the rules, zones, dependencies). */
int cat_conn_plan_check(struct cat_conn_plan *out, const struct cat_conn_resolver *r,
			const struct conn_settings *cfg, struct err *e);

/* Text of a connection (SQL.md 8.6). CAT_RENDER_STORED: create_sql with
 * every identifier quoted; CAT_RENDER_SHOW: SHOW CREATE's text (names bare
 * where possible, trailing ';'). redact: literals become '<REDACTED>'.
 * Returns malloc'd text or NULL with e set. */
enum cat_render_mode { CAT_RENDER_STORED, CAT_RENDER_SHOW };
char *cat_conn_render(const struct conn_optset *set, const struct cat_conn_item *self,
		      enum cat_render_mode mode, int redact,
		      const struct cat_conn_resolver *r, struct err *e);

/* "db.schema.name" (or "schema.name" for system schemas). */
void cat_conn_item_qname(const struct cat_conn_item *it, char *buf, size_t size);

#endif
