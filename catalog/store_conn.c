/* SQLite side of connections: the encoded option set, dependency edges,
 * the attributes the mz_aws_* / mz_kafka_connections views pivot, create_sql
 * updates, comments and tether_settings. Bound parameters only. */
#include "store_conn.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int db_error(struct cat_store *s, struct err *e, const char *what)
{
	return err_set(e, "XX000", "internal error: catalog: %s: %s", what,
		       sqlite3_errmsg(s->db));
}

static sqlite3_stmt *prep(struct cat_store *s, const char *sql, struct err *e)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		db_error(s, e, "prepare");
		return NULL;
	}
	return st;
}

static int done(struct cat_store *s, sqlite3_stmt *st, struct err *e, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_error(s, e, what);
}

static void col(char *dst, size_t size, sqlite3_stmt *st, int c)
{
	const unsigned char *t = sqlite3_column_text(st, c);
	snprintf(dst, size, "%s", t ? (const char *)t : "");
}

int cat_conn_cfg_load(struct cat_store *s, struct cat_conn_cfg *c, struct err *e)
{
	sqlite3_stmt *st = prep(s, "SELECT name, value FROM tether_settings", e);
	int rc;

	memset(c, 0, sizeof(*c));
	snprintf(c->instance_id, sizeof(c->instance_id), "00000000-0000-0000-0000-000000000000");
	snprintf(c->region, sizeof(c->region), "us-east-1");
	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *n = (const char *)sqlite3_column_text(st, 0);
		if (!n || sqlite3_column_type(st, 1) == SQLITE_NULL)
			continue;
		if (!strcmp(n, "instance_id"))
			col(c->instance_id, sizeof(c->instance_id), st, 1);
		else if (!strcmp(n, "aws_external_id_prefix"))
			col(c->prefix, sizeof(c->prefix), st, 1);
		else if (!strcmp(n, "aws_connection_role_arn"))
			col(c->role_arn, sizeof(c->role_arn), st, 1);
		else if (!strcmp(n, "aws_privatelink_account_id"))
			col(c->pl_account, sizeof(c->pl_account), st, 1);
		else if (!strcmp(n, "region"))
			col(c->region, sizeof(c->region), st, 1);
		else if (!strcmp(n, "aws_privatelink_availability_zones"))
			col(c->azbuf, sizeof(c->azbuf), st, 1);
		else if (!strcmp(n, "aws_principal_credentials_secret"))
			col(c->cred_secret, sizeof(c->cred_secret), st, 1);
		else if (!strcmp(n, "aws_sts_endpoint"))
			col(c->sts_endpoint, sizeof(c->sts_endpoint), st, 1);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_error(s, e, "settings");
	if (!c->prefix[0])
		snprintf(c->prefix, sizeof(c->prefix), "%s", c->instance_id);
	c->s.instance_id = c->instance_id;
	c->s.region = c->region;
	if (c->azbuf[0]) {
		char *save = NULL;
		for (char *tok = strtok_r(c->azbuf, ", ", &save); tok && c->s.naz_ids < 32;
		     tok = strtok_r(NULL, ", ", &save))
			c->azs[c->s.naz_ids++] = tok;
		c->s.az_ids = c->azs;
	}
	return 0;
}

int cat_store_conn_item(struct cat_store *s, uint64_t id, struct cat_conn_item *out,
			struct err *e)
{
	sqlite3_stmt *st = prep(s, "SELECT i.kind, coalesce(i.conn_type, ''), coalesce(d.name, ''),"
				   " sc.name, i.name FROM items i JOIN schemas sc ON sc.id = i.schema_id"
				   " LEFT JOIN databases d ON d.id = sc.database_id WHERE i.id = ?1", e);
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		char kind[32], ct[64];
		const struct conn_type_def *t;
		memset(out, 0, sizeof(*out));
		out->id = id;
		col(kind, sizeof(kind), st, 0);
		col(ct, sizeof(ct), st, 1);
		out->kind = !strcmp(kind, "connection") ? CAT_OBJ_CONNECTION : CAT_OBJ_SECRET;
		t = conn_type_by_catalog_name(ct);
		out->conn_type = t ? (int)t->type : CONN_NONE;
		col(out->database, sizeof(out->database), st, 2);
		col(out->schema, sizeof(out->schema), st, 3);
		col(out->name, sizeof(out->name), st, 4);
		sqlite3_finalize(st);
		return 1;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_error(s, e, "lookup");
}

int cat_store_conn_load(struct cat_store *s, uint64_t id, struct conn_optset *out,
			struct err *e)
{
	sqlite3_stmt *st = prep(s, "SELECT options FROM connections WHERE object_id = ?1", e);
	int rc;

	memset(out, 0, sizeof(*out));
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		rc = conn_optset_decode(text ? text : "", out, e);
		sqlite3_finalize(st);
		return rc < 0 ? -1 : 1;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_error(s, e, "load connection");
}

int cat_store_conn_insert_item(struct cat_store *s, uint64_t id, const char *schema_id,
			       const char *name, const char *owner_id,
			       enum conn_type type, struct err *e)
{
	char acl[2 * CAT_ID_MAX + 8];
	sqlite3_stmt *st;
	int64_t oid;
	int rc;

	st = prep(s, "UPDATE counters SET value = value + 1 WHERE name = 'next_oid'"
		     " RETURNING value - 1", e);
	if (!st)
		return -1;
	rc = sqlite3_step(st);
	oid = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return db_error(s, e, "oid");
	snprintf(acl, sizeof(acl), "{%s=U/%s}", owner_id, owner_id);
	st = prep(s, "INSERT INTO items (id, oid, kind, conn_type, schema_id, name, owner_id,"
		     " privileges, create_sql, redacted_create_sql)"
		     " VALUES (?1, ?2, 'connection', ?3, ?4, ?5, ?6, ?7, '', '')", e);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_int64(st, 2, oid);
	sqlite3_bind_text(st, 3, conn_types[type].catalog_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, schema_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, owner_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, acl, -1, SQLITE_STATIC);
	if (done(s, st, e, "insert connection") < 0)
		return -1;
	return cat_store_bump_counters(s, id + 1, 0, e);
}

/* ---- derived attributes (SQL.md 8.2, 8.4) ---- */

struct attr {
	const char *name;
	char *value;            /* malloc'd; NULL = SQL NULL */
};

static char *dupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dupf(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

/* JSON string literal of s (no control characters are expected). */
static char *json_str(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(2 * n + 3), *p = out;

	if (!out)
		return NULL;
	*p++ = '"';
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			*p++ = '\\';
		*p++ = *s;
	}
	*p++ = '"';
	*p = '\0';
	return out;
}

/* Text of an option written as text, and the secret id if written as one. */
static void text_or_secret(const struct conn_optset *set, enum conn_opt_id id,
			   char **text, char **secret_id)
{
	const struct conn_opt *o = conn_optset_get(set, id);

	*text = *secret_id = NULL;
	if (!o)
		return;
	if (o->v.form == CONN_VF_TEXT || o->v.form == CONN_VF_IDENT)
		*text = strdup(o->v.text);
	else if (o->v.form == CONN_VF_SECRET)
		*secret_id = dupf("u%" PRIu64, o->v.id);
}

/* PostgreSQL array text of the brokers: {a,"b c"}. */
static char *brokers_array(const struct conn_optset *set)
{
	const struct conn_opt *o = conn_optset_get(set, CONN_O_BROKERS);
	size_t len = 3;
	char *out, *p;

	if (!o)
		o = conn_optset_get(set, CONN_O_BROKER);
	if (!o)
		return strdup("{}");
	for (size_t i = 0; i < o->v.nbrokers; i++)
		len += 2 * strlen(o->v.brokers[i].addr) + 3;
	if (!(out = malloc(len)))
		return NULL;
	p = out;
	*p++ = '{';
	for (size_t i = 0; i < o->v.nbrokers; i++) {
		const char *a = o->v.brokers[i].addr;
		/* array_out quotes only elements that need it */
		int quote = !*a || strpbrk(a, ",{}\"\\ \t\n") != NULL ||
			    !strcasecmp(a, "NULL");
		if (i)
			*p++ = ',';
		if (quote)
			*p++ = '"';
		for (; *a; a++) {
			if (quote && (*a == '"' || *a == '\\'))
				*p++ = '\\';
			*p++ = *a;
		}
		if (quote)
			*p++ = '"';
	}
	*p++ = '}';
	*p = '\0';
	return out;
}

static size_t build_attrs(const struct conn_optset *set, uint64_t id,
			  const struct cat_conn_cfg *cfg, struct attr *a)
{
	size_t n = 0;

	switch (set->type) {
	case CONN_AWS: {
		const char *arn = conn_optset_text(set, CONN_O_ASSUME_ROLE_ARN);
		const char *v;
		char *t, *sid;
		v = conn_optset_text(set, CONN_O_ENDPOINT);
		a[n].name = "endpoint", a[n++].value = v && v[0] ? strdup(v) : NULL;
		v = conn_optset_text(set, CONN_O_REGION);
		a[n].name = "region", a[n++].value = strdup(v ? v : cfg->region);
		text_or_secret(set, CONN_O_ACCESS_KEY_ID, &t, &sid);
		a[n].name = "access_key_id", a[n++].value = t;
		a[n].name = "access_key_id_secret_id", a[n++].value = sid;
		text_or_secret(set, CONN_O_SECRET_ACCESS_KEY, &t, &sid);
		free(t);
		a[n].name = "secret_access_key_secret_id", a[n++].value = sid;
		text_or_secret(set, CONN_O_SESSION_TOKEN, &t, &sid);
		a[n].name = "session_token", a[n++].value = t;
		a[n].name = "session_token_secret_id", a[n++].value = sid;
		a[n].name = "assume_role_arn", a[n++].value = arn ? strdup(arn) : NULL;
		if (arn) {
			const char *sn = conn_optset_text(set, CONN_O_ASSUME_ROLE_SESSION_NAME);
			char *ext = dupf("mz_%s_u%" PRIu64, cfg->prefix, id);
			char *jp = cfg->role_arn[0] ? json_str(cfg->role_arn) : strdup("null");
			char *je = ext ? json_str(ext) : NULL;
			a[n].name = "assume_role_session_name";
			a[n++].value = sn ? strdup(sn) : dupf("%s-u%" PRIu64, cfg->instance_id, id);
			a[n].name = "principal", a[n++].value = cfg->role_arn[0] ? strdup(cfg->role_arn) : NULL;
			a[n].name = "external_id", a[n++].value = ext;
			a[n].name = "example_trust_policy";
			a[n++].value = jp && je ? dupf("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":%s},\"Action\":\"sts:AssumeRole\",\"Condition\":{\"StringEquals\":{\"sts:ExternalId\":%s}}}]}",
							 jp, je) : NULL;
			free(jp);
			free(je);
		}
		break;
	}
	case CONN_AWS_PRIVATELINK:
		if (cfg->pl_account[0]) {
			a[n].name = "principal";
			a[n++].value = dupf("arn:aws:iam::%s:role/mz_%s_u%" PRIu64, cfg->pl_account,
					    cfg->instance_id, id);
		}
		break;
	case CONN_KAFKA: {
		const char *t = conn_optset_text(set, CONN_O_PROGRESS_TOPIC);
		a[n].name = "sink_progress_topic";
		a[n++].value = t ? strdup(t) : dupf("_materialize-progress-%s-u%" PRIu64,
						    cfg->instance_id, id);
		a[n].name = "security_protocol";
		a[n++].value = strdup(conn_kafka_security_protocol(set));
		break;
	}
	default:
		break;
	}
	return n;
}

/* Replaces the derived attributes of connection `id` (and the JSONB
 * example_trust_policy column built from them). */
static int write_attrs(struct cat_store *s, uint64_t id, const struct conn_optset *set,
		       const struct cat_conn_cfg *cfg, struct err *e)
{
	struct attr attrs[24];
	size_t nattrs = 0;
	sqlite3_stmt *st;
	int rc = -1;

	memset(attrs, 0, sizeof(attrs));
	if (!(st = prep(s, "DELETE FROM connection_attrs WHERE object_id = ?1", e)))
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	if (done(s, st, e, "attrs") < 0)
		goto out;
	nattrs = build_attrs(set, id, cfg, attrs);
	for (size_t i = 0; i < nattrs; i++) {
		if (!(st = prep(s, "INSERT INTO connection_attrs VALUES (?1, ?2, ?3)", e)))
			goto out;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
		sqlite3_bind_text(st, 2, attrs[i].name, -1, SQLITE_STATIC);
		if (attrs[i].value)
			sqlite3_bind_text(st, 3, attrs[i].value, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 3);
		if (done(s, st, e, "attrs") < 0)
			goto out;
	}
	/* example_trust_policy is a JSONB column (its type shows in
	 * RowDescription), the other derived values are attributes. */
	if (!(st = prep(s, "UPDATE connections SET example_trust_policy ="
			   " (SELECT value FROM connection_attrs WHERE object_id = ?1"
			   "  AND name = 'example_trust_policy') WHERE object_id = ?1", e)))
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	rc = done(s, st, e, "trust policy");
out:
	for (size_t i = 0; i < nattrs; i++)
		free(attrs[i].value);
	return rc;
}

int cat_store_conn_refresh_attrs(struct cat_store *s, const struct cat_conn_cfg *cfg,
				 struct err *e)
{
	sqlite3_stmt *st = prep(s, "SELECT id FROM items WHERE kind = 'connection'"
				   " ORDER BY id", e);
	uint64_t *ids = NULL;
	int rc;

	if (!st)
		return -1;
	long count = cat_store_collect_ids(s, st, &ids, "list connections", e);
	if (count < 0)
		return -1;
	size_t n = (size_t)count;
	rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct conn_optset set;
		int found = cat_store_conn_load(s, ids[i], &set, e);

		if (found < 0)
			rc = -1;
		else if (found == 1) {
			rc = write_attrs(s, ids[i], &set, cfg, e);
			conn_optset_free(&set);
		}
	}
	free(ids);
	return rc;
}

int cat_store_conn_write(struct cat_store *s, uint64_t id, const struct conn_optset *set,
			 const uint64_t *deps, size_t ndeps, const struct cat_conn_cfg *cfg,
			 const char *create_sql, const char *redacted_sql, struct err *e)
{
	char *enc = conn_optset_encode(set), *brokers = NULL;
	sqlite3_stmt *st;
	int rc = -1;

	if (!enc)
		return err_set(e, "53200", "out of memory");
	if (set->type == CONN_KAFKA && !(brokers = brokers_array(set))) {
		free(enc);
		return err_set(e, "53200", "out of memory");
	}
	/* Public keys survive option changes (ON CONFLICT keeps them). */
	st = prep(s, "INSERT INTO connections (object_id, options, brokers) VALUES (?1, ?2, ?3)"
		     " ON CONFLICT(object_id) DO UPDATE SET options = excluded.options,"
		     " brokers = excluded.brokers", e);
	if (!st)
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_text(st, 2, enc, -1, SQLITE_STATIC);
	if (brokers)
		sqlite3_bind_text(st, 3, brokers, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	if (done(s, st, e, "write connection") < 0 || write_attrs(s, id, set, cfg, e) < 0)
		goto out;
	/* Edges are replaced on ALTER (SQL.md 9.1). */
	if (!(st = prep(s, "DELETE FROM dependencies WHERE object_id = ?1", e)))
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	if (done(s, st, e, "dependencies") < 0)
		goto out;
	for (size_t i = 0; i < ndeps; i++) {
		if (!(st = prep(s, "INSERT INTO dependencies VALUES (?1, ?2)", e)))
			goto out;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)deps[i]);
		if (done(s, st, e, "dependencies") < 0)
			goto out;
	}
	rc = cat_store_conn_set_sql(s, id, create_sql, redacted_sql, e);
out:
	free(enc);
	free(brokers);
	return rc;
}

int cat_store_conn_set_sql(struct cat_store *s, uint64_t id, const char *create_sql,
			   const char *redacted_sql, struct err *e)
{
	sqlite3_stmt *st = prep(s, "UPDATE items SET create_sql = ?2, redacted_create_sql = ?3"
				   " WHERE id = ?1", e);

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_text(st, 2, create_sql, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, redacted_sql, -1, SQLITE_STATIC);
	return done(s, st, e, "create_sql");
}

static long count(struct cat_store *s, const char *sql, const char *arg, struct err *e)
{
	sqlite3_stmt *st = prep(s, sql, e);
	long n = -1;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(st, 0);
	else
		db_error(s, e, "count");
	sqlite3_finalize(st);
	return n;
}

long cat_store_conn_count(struct cat_store *s, const char *catalog_type, struct err *e)
{
	/* item_counts: kept by triggers (store.c, migration 8) */
	return count(s, "SELECT coalesce(sum(n), 0) FROM item_counts"
		     " WHERE kind = 'connection' AND conn_type = ?1", catalog_type, e);
}

long cat_store_items_in_schema(struct cat_store *s, const char *schema_id, struct err *e)
{
	return count(s, "SELECT coalesce(sum(n), 0) FROM item_counts WHERE schema_id = ?1",
		     schema_id, e);
}

int cat_store_set_comment(struct cat_store *s, uint64_t id, const char *object_type,
			  const char *comment, struct err *e)
{
	/* object_sub_id is NULL, which UNIQUE does not collapse: delete first. */
	sqlite3_stmt *st = prep(s, "DELETE FROM comments WHERE object_id = ?1"
				   " AND object_sub_id IS NULL", e);

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	if (done(s, st, e, "comment") < 0)
		return -1;
	if (!comment)
		return 0;
	if (!(st = prep(s, "INSERT INTO comments VALUES (?1, ?2, NULL, ?3)", e)))
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_text(st, 2, object_type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, comment, -1, SQLITE_STATIC);
	return done(s, st, e, "comment");
}

int cat_store_conn_set_keys(struct cat_store *s, uint64_t id, const char *key1,
			    const char *key2, struct err *e)
{
	sqlite3_stmt *st = prep(s, "UPDATE connections SET public_key_1 = ?2, public_key_2 = ?3"
				   " WHERE object_id = ?1", e);

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_text(st, 2, key1, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, key2, -1, SQLITE_STATIC);
	return done(s, st, e, "ssh keys");
}
