/* Applies tether.conf's deployment keys to tether_settings at start and
 * owns the instance id: generated once (random UUID), then fixed for as
 * long as connections exist, because external IDs, session names, Kafka
 * progress topics and PrivateLink principals embed it (SQL.md 8.4). */
#include "deploy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"
#include "store_conn.h"

#define PLACEHOLDER_ID "00000000-0000-0000-0000-000000000000"

/* tether.conf key -> tether_settings row (store_conn.h). */
static const struct {
	enum tcfg_key key;
	const char *row;
} settings_rows[] = {
	{ TCFG_REGION, "region" },
	{ TCFG_AWS_ROLE_ARN, "aws_connection_role_arn" },
	{ TCFG_PL_ACCOUNT, "aws_privatelink_account_id" },
	{ TCFG_PL_AZS, "aws_privatelink_availability_zones" },
	{ TCFG_AWS_PRINCIPAL_CREDS, "aws_principal_credentials_secret" },
	{ TCFG_AWS_STS_ENDPOINT, "aws_sts_endpoint" },
};

int cat_deploy_uuid(char out[37], struct err *e)
{
	unsigned char b[16];
	size_t got = 0;

	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return err_set(e, "XX000", "internal error: catalog: getrandom: %s",
				       strerror(errno));
		got += (size_t)n;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);     /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);     /* RFC 4122 variant */
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		 b[12], b[13], b[14], b[15]);
	return 0;
}

static int db_error(struct cat_store *st, struct err *e, const char *what)
{
	return err_set(e, "XX000", "internal error: catalog: %s: %s", what,
		       sqlite3_errmsg(st->db));
}

/* A tether_settings value: 1 (copied, "" never occurs), 0 NULL or no row,
 * -1 error. */
static int get_row(struct cat_store *st, const char *row, char *out, size_t size,
		   struct err *e)
{
	sqlite3_stmt *q = NULL;
	int rc;

	out[0] = '\0';
	if (sqlite3_prepare_v2(st->db, "SELECT value FROM tether_settings WHERE name = ?1",
			       -1, &q, NULL) != SQLITE_OK)
		return db_error(st, e, "tether_settings");
	sqlite3_bind_text(q, 1, row, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL) {
		snprintf(out, size, "%s", (const char *)sqlite3_column_text(q, 0));
		sqlite3_finalize(q);
		return 1;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_error(st, e, "tether_settings");
}

/* Sets a row (value NULL = SQL NULL); *changed |= it differed. */
static int put_row(struct cat_store *st, const char *row, const char *value, int *changed,
		   struct err *e)
{
	char old[TCFG_VALUE_MAX];
	sqlite3_stmt *q = NULL;
	int had = get_row(st, row, old, sizeof(old), e), rc;

	if (had < 0)
		return -1;
	if ((!had && !value) || (had && value && !strcmp(old, value)))
		return 0;
	*changed = 1;
	if (sqlite3_prepare_v2(st->db, "INSERT INTO tether_settings VALUES (?1, ?2)"
				       " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
			       -1, &q, NULL) != SQLITE_OK)
		return db_error(st, e, "tether_settings");
	sqlite3_bind_text(q, 1, row, -1, SQLITE_STATIC);
	if (value)
		sqlite3_bind_text(q, 2, value, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 2);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : db_error(st, e, "tether_settings");
}

static long count_connections(struct cat_store *st, struct err *e)
{
	sqlite3_stmt *q = NULL;
	long n = -1;

	if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM items WHERE kind = 'connection'",
			       -1, &q, NULL) != SQLITE_OK)
		return db_error(st, e, "count connections");
	if (sqlite3_step(q) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(q, 0);
	else
		db_error(st, e, "count connections");
	sqlite3_finalize(q);
	return n;
}

/* The instance id to keep or set (see deploy.h). */
static int apply_instance_id(struct cat_store *st, const struct tcfg *cfg, long nconn,
			     int *changed, struct err *e)
{
	const char *want = cfg->set[TCFG_INSTANCE_ID] ? tcfg_get(cfg, TCFG_INSTANCE_ID) : NULL;
	char stored[TCFG_VALUE_MAX], fresh[37];
	int have = get_row(st, "instance_id", stored, sizeof(stored), e);

	if (have < 0)
		return -1;
	if (!have)
		stored[0] = '\0';
	if (want) {
		if (!strcmp(stored, want))
			return 0;
		if (nconn > 0)
			return err_set(e, "F0000",
				       "deployment.instance_id is %s but this catalog's instance id is %s: it cannot change once connections exist (their external IDs and derived names embed it)",
				       want, stored[0] ? stored : "unset");
		return put_row(st, "instance_id", want, changed, e);
	}
	if (stored[0] && strcmp(stored, PLACEHOLDER_ID) != 0)
		return 0;
	if (nconn > 0) {
		/* A catalog from before instance ids were generated: keep it. */
		log_warn("instance_id_placeholder", "instance_id=%s connections=%ld",
			 stored[0] ? stored : "unset", nconn);
		return 0;
	}
	if (cat_deploy_uuid(fresh, e) < 0)
		return -1;
	log_info("instance_id_generated", "instance_id=%s", fresh);
	return put_row(st, "instance_id", fresh, changed, e);
}

int cat_deploy_apply(struct cat_store *st, const struct tcfg *cfg, struct err *e)
{
	struct cat_conn_cfg cc;
	int changed = 0;
	long nconn;

	if (cat_store_begin(st, e) < 0)
		return -1;
	nconn = count_connections(st, e);
	if (nconn < 0 || apply_instance_id(st, cfg, nconn, &changed, e) < 0)
		goto fail;
	for (size_t i = 0; i < sizeof(settings_rows) / sizeof(settings_rows[0]); i++)
		if (put_row(st, settings_rows[i].row, tcfg_get(cfg, settings_rows[i].key),
			    &changed, e) < 0)
			goto fail;
	/* Derived attributes follow the settings (the principal of every AWS
	 * connection is the configured role, SQL.md 8.4). */
	if (changed && nconn > 0 &&
	    (cat_conn_cfg_load(st, &cc, e) < 0 || cat_store_conn_refresh_attrs(st, &cc, e) < 0))
		goto fail;
	if (cat_store_commit(st, e) < 0)
		return -1;
	if (cat_conn_cfg_load(st, &cc, e) < 0)
		return -1;
	log_info("deployment_settings", "instance_id=%s region=%s aws_principal=%s privatelink_account=%s changed=%d",
		 cc.instance_id, cc.region, cc.role_arn[0] ? "set" : "unset",
		 cc.pl_account[0] ? "set" : "unset", changed);
	return 0;
fail:
	cat_store_rollback(st);
	return -1;
}
