/* The catalog's connection rows (migration 2 in store.c): option sets with
 * referenced ids, dependency edges, derived attributes the mz_* views show,
 * comments, and the deployment settings (tether_settings). */
#ifndef TETHER_CAT_STORE_CONN_H
#define TETHER_CAT_STORE_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "descriptor.h"
#include "optset.h"
#include "plan_conn.h"
#include "store.h"

/* Deployment settings, rows of tether_settings (defaults in store.c
 * migration 2; catalog/deploy.c sets them at start from tether.conf's
 * deployment.* and aws.* keys, docs/CONFIGURATION.md):
 *   instance_id                        '00000000-0000-0000-0000-000000000000'
 *   aws_external_id_prefix             NULL = instance_id (external ID
 *                                      mz_<prefix>_<connection id>)
 *   aws_connection_role_arn            NULL = no principal (AWS principal)
 *   aws_privatelink_account_id         NULL = no mz_aws_privatelink_connections
 *                                      rows; else arn:aws:iam::<acct>:role/
 *                                      mz_<instance_id>_<connection id>
 *   region                             'us-east-1' (AWS REGION default)
 *   aws_privatelink_availability_zones NULL = unchecked; else AZ ids, comma
 *                                      separated
 *   aws_principal_credentials_secret   NULL = none; else the qualified name
 *                                      of the SECRET with tether's own AWS
 *                                      keys (catalog/jobspec.c grants it to
 *                                      jobs that assume a role)
 *   aws_sts_endpoint                   NULL = https://sts.<region>.amazonaws.com;
 *                                      where tether's own STS calls go */
struct cat_conn_cfg {
	char instance_id[128];
	char prefix[128];
	char role_arn[512];
	char pl_account[64];
	char region[64];
	char azbuf[1024];
	char cred_secret[800];          /* "db.schema.name" or "" */
	char sts_endpoint[1024];        /* aws.sts_endpoint or "" (jobspec.c) */
	const char *azs[32];
	struct conn_settings s;
};

int cat_conn_cfg_load(struct cat_store *st, struct cat_conn_cfg *c, struct err *e);

/* An item with its schema's names and connection type: 1 / 0 / -1. */
int cat_store_conn_item(struct cat_store *st, uint64_t id, struct cat_conn_item *out,
			struct err *e);
/* A connection's stored option set: 1 / 0 (not a connection) / -1. */
int cat_store_conn_load(struct cat_store *st, uint64_t id, struct conn_optset *out,
			struct err *e);

/* Inside a transaction. Inserts the item row of a new connection. */
int cat_store_conn_insert_item(struct cat_store *st, uint64_t id, const char *schema_id,
			       const char *name, const char *owner_id,
			       enum conn_type type, struct err *e);
/* Writes options, derived attributes, dependency edges and create_sql of
 * connection `id` (replacing what was there). */
int cat_store_conn_write(struct cat_store *st, uint64_t id, const struct conn_optset *set,
			 const uint64_t *deps, size_t ndeps, const struct cat_conn_cfg *cfg,
			 const char *create_sql, const char *redacted_sql, struct err *e);
int cat_store_conn_set_sql(struct cat_store *st, uint64_t id, const char *create_sql,
			   const char *redacted_sql, struct err *e);
/* Inside a transaction: re-derives every connection's attributes (AWS
 * principal, trust policy, PrivateLink principal, region default) from
 * cfg, after the deployment settings changed (catalog/deploy.c). */
int cat_store_conn_refresh_attrs(struct cat_store *st, const struct cat_conn_cfg *cfg,
				 struct err *e);

/* The vault's public keys of an SSH TUNNEL connection (authorized_keys). */
int cat_store_conn_set_keys(struct cat_store *st, uint64_t id, const char *key1,
			    const char *key2, struct err *e);

/* Connections of a catalog type (limits). -1 on error. */
long cat_store_conn_count(struct cat_store *st, const char *catalog_type, struct err *e);
long cat_store_items_in_schema(struct cat_store *st, const char *schema_id, struct err *e);

/* COMMENT ON: comment NULL removes it. */
int cat_store_set_comment(struct cat_store *st, uint64_t id, const char *object_type,
			  const char *comment, struct err *e);

#endif
