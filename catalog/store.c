/* SQLite catalog: schema, bootstrap rows, migrations, views and the few
 * statements the executor runs. Every statement is prepared with bound
 * parameters; no SQL text is ever built from user input here. */
#include "store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Column types carry the PostgreSQL type the views report
 * (select.c maps decltypes to OIDs): OID, BOOL, INT4, TEXT_ARRAY. */
static const char schema_v1[] =
	"CREATE TABLE counters("
	"  name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
	"CREATE TABLE roles("
	"  id TEXT PRIMARY KEY, oid OID NOT NULL UNIQUE, name TEXT NOT NULL UNIQUE,"
	"  inherit BOOL NOT NULL DEFAULT 1, rolcanlogin BOOL NOT NULL DEFAULT 1,"
	"  rolsuper BOOL NOT NULL DEFAULT 0);"
	"CREATE TABLE databases("
	"  id TEXT PRIMARY KEY, oid OID NOT NULL UNIQUE, name TEXT NOT NULL UNIQUE,"
	"  owner_id TEXT NOT NULL REFERENCES roles(id),"
	"  privileges TEXT_ARRAY NOT NULL);"
	"CREATE TABLE schemas("
	"  id TEXT PRIMARY KEY, oid OID NOT NULL UNIQUE,"
	"  database_id TEXT REFERENCES databases(id), name TEXT NOT NULL,"
	"  owner_id TEXT NOT NULL REFERENCES roles(id),"
	"  privileges TEXT_ARRAY NOT NULL, UNIQUE(database_id, name));"
	"CREATE TABLE items("
	"  id INTEGER PRIMARY KEY, oid OID NOT NULL UNIQUE,"
	"  kind TEXT NOT NULL CHECK (kind IN ('secret', 'connection')),"
	"  conn_type TEXT,"
	"  schema_id TEXT NOT NULL REFERENCES schemas(id), name TEXT NOT NULL,"
	"  owner_id TEXT NOT NULL REFERENCES roles(id),"
	"  privileges TEXT_ARRAY NOT NULL,"
	"  create_sql TEXT NOT NULL, redacted_create_sql TEXT NOT NULL,"
	"  vault_version INTEGER,"
	"  UNIQUE(schema_id, name));"
	"CREATE TABLE dependencies("
	"  object_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,"
	"  referenced_object_id INTEGER NOT NULL REFERENCES items(id),"
	"  PRIMARY KEY(object_id, referenced_object_id));"
	"CREATE TABLE comments("
	"  object_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,"
	"  object_type TEXT NOT NULL, object_sub_id INT4, comment TEXT NOT NULL,"
	"  UNIQUE(object_id, object_sub_id));"
	/* SQL.md 8.1 / 8.2: exactly these columns. */
	"CREATE VIEW mz_secrets AS SELECT 'u' || i.id AS id, i.oid AS oid,"
	"  i.schema_id AS schema_id, i.name AS name, i.owner_id AS owner_id,"
	"  i.privileges AS privileges FROM items i WHERE i.kind = 'secret';"
	"CREATE VIEW mz_connections AS SELECT 'u' || i.id AS id, i.oid AS oid,"
	"  i.schema_id AS schema_id, i.name AS name, i.conn_type AS type,"
	"  i.owner_id AS owner_id, i.privileges AS privileges,"
	"  i.create_sql AS create_sql, i.redacted_create_sql AS redacted_create_sql"
	"  FROM items i WHERE i.kind = 'connection';"
	"CREATE VIEW mz_databases AS SELECT d.id AS id, d.oid AS oid, d.name AS name,"
	"  d.owner_id AS owner_id, d.privileges AS privileges FROM databases d;"
	"CREATE VIEW mz_schemas AS SELECT s.id AS id, s.oid AS oid,"
	"  s.database_id AS database_id, s.name AS name, s.owner_id AS owner_id,"
	"  s.privileges AS privileges FROM schemas s;"
	"CREATE VIEW mz_roles AS SELECT r.id AS id, r.oid AS oid, r.name AS name,"
	"  r.inherit AS inherit, r.rolcanlogin AS rolcanlogin,"
	"  r.rolsuper AS rolsuper FROM roles r;"
	"CREATE VIEW mz_object_dependencies AS SELECT 'u' || d.object_id AS object_id,"
	"  'u' || d.referenced_object_id AS referenced_object_id FROM dependencies d;"
	"CREATE VIEW mz_comments AS SELECT 'u' || c.object_id AS id,"
	"  c.object_type AS object_type, c.object_sub_id AS object_sub_id,"
	"  c.comment AS comment FROM comments c;"
	/* Bootstrap (SQL.md 2): role u1, database u1, schema public u3,
	 * system schemas s<n>, user oids from 20000. */
	"INSERT INTO roles VALUES ('u1', 20000, 'materialize', 1, 1, 1);"
	"INSERT INTO databases VALUES ('u1', 20001, 'materialize', 'u1',"
	"  '{=U/u1,u1=UC/u1}');"
	"INSERT INTO schemas VALUES ('s1', 16384, NULL, 'mz_catalog', 'u1', '{=U/u1}');"
	"INSERT INTO schemas VALUES ('s2', 11, NULL, 'pg_catalog', 'u1', '{=U/u1}');"
	"INSERT INTO schemas VALUES ('s4', 16385, NULL, 'mz_internal', 'u1', '{=U/u1}');"
	"INSERT INTO schemas VALUES ('s5', 16386, NULL, 'tether_internal', 'u1', '{=U/u1}');"
	"INSERT INTO schemas VALUES ('u3', 20002, 'u1', 'public', 'u1',"
	"  '{=U/u1,u1=UC/u1}');"
	"INSERT INTO counters VALUES ('next_item_id', 1), ('next_version', 1),"
	"  ('next_oid', 20003), ('next_database_id', 2), ('next_schema_id', 4),"
	"  ('next_role_id', 2);";

/* Roles and privileges (SQL.md 9.7; catalog/rbac.c): role attributes,
 * memberships, SYSTEM privileges. Password hashes stay NULL (peer auth). */
static const char schema_v3[] =
	"ALTER TABLE roles ADD COLUMN rolcreaterole BOOL NOT NULL DEFAULT 0;"
	"ALTER TABLE roles ADD COLUMN rolcreatedb BOOL NOT NULL DEFAULT 0;"
	"ALTER TABLE roles ADD COLUMN password_hash TEXT;"
	"UPDATE roles SET rolcreaterole = 1, rolcreatedb = 1 WHERE rolsuper;"
	"CREATE TABLE role_members("
	"  role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,"
	"  member_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,"
	"  grantor_id TEXT NOT NULL, PRIMARY KEY(role_id, member_id));"
	"CREATE TABLE system_privileges("
	"  id INTEGER PRIMARY KEY CHECK (id = 1), privileges TEXT_ARRAY NOT NULL);"
	"INSERT INTO system_privileges VALUES (1, '{}');"
	"CREATE VIEW mz_role_members AS SELECT m.role_id AS role_id,"
	"  m.member_id AS member, m.grantor_id AS grantor FROM role_members m;"
	"CREATE VIEW mz_system_privileges AS SELECT p.privileges AS privileges"
	"  FROM system_privileges p;";

/* Connections (SQL.md 8; catalog/store_conn.c): the encoded option set
 * (conn/optset.c) with referenced ids, derived attributes for the views,
 * SSH public keys (filled by the vault's key generation), deployment
 * settings with their documented defaults (store_conn.c), PrivateLink
 * status history (empty until a cloud integration writes it). */
static const char schema_v2[] =
	"CREATE TABLE tether_settings(name TEXT PRIMARY KEY, value TEXT);"
	"INSERT INTO tether_settings VALUES"
	"  ('instance_id', '00000000-0000-0000-0000-000000000000'),"
	"  ('aws_external_id_prefix', NULL), ('aws_connection_role_arn', NULL),"
	"  ('aws_privatelink_account_id', NULL), ('region', 'us-east-1'),"
	"  ('aws_privatelink_availability_zones', NULL);"
	"CREATE TABLE connections("
	"  object_id INTEGER PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE,"
	"  options TEXT NOT NULL, brokers TEXT_ARRAY, example_trust_policy JSONB,"
	"  public_key_1 TEXT, public_key_2 TEXT);"
	"CREATE TABLE connection_attrs("
	"  object_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL, value TEXT, PRIMARY KEY(object_id, name));"
	"CREATE TABLE privatelink_status_history("
	"  occurred_at TIMESTAMPTZ NOT NULL, connection_id TEXT NOT NULL, status TEXT NOT NULL);"
	/* Every view ends in LIMIT -1: SQLite then never flattens it into the
	 * outer query (count(*), joins), so the SELECT authorizer always sees
	 * base-table reads attributed to the view. v1's two views get the
	 * same treatment. */
	"DROP VIEW mz_object_dependencies;"
	"CREATE VIEW mz_object_dependencies AS SELECT 'u' || d.object_id AS object_id,"
	"  'u' || d.referenced_object_id AS referenced_object_id FROM dependencies d LIMIT -1;"
	"DROP VIEW mz_comments;"
	"CREATE VIEW mz_comments AS SELECT 'u' || c.object_id AS id,"
	"  c.object_type AS object_type, c.object_sub_id AS object_sub_id,"
	"  c.comment AS comment FROM comments c LIMIT -1;"
	"CREATE VIEW mz_ssh_tunnel_connections AS SELECT 'u' || c.object_id AS id,"
	"  c.public_key_1 AS public_key_1, c.public_key_2 AS public_key_2"
	"  FROM connections c JOIN items i ON i.id = c.object_id"
	"  WHERE i.conn_type = 'ssh-tunnel' LIMIT -1;"
	"CREATE VIEW mz_aws_connections AS SELECT 'u' || i.id AS id,"
	"  (SELECT a.value FROM connection_attrs a WHERE a.object_id = i.id AND a.name = 'endpoint') AS endpoint,"
	"  (SELECT a.value FROM connection_attrs a WHERE a.object_id = i.id AND a.name = 'region') AS region,"
	"  (SELECT a.value FROM connection_attrs a WHERE a.object_id = i.id AND a.name = 'access_key_id') AS access_key_id,"
	"  (SELECT a.value FROM connection_attrs a WHERE a.object_id = i.id AND a.name = 'access_key_id_secret_id') AS access_key_id_secret_id,"
	"  (SELECT a.value FROM connection_attrs a WHERE a.object_id = i.id AND a.name = 'secret_access_key_secret_id') AS secret_access_key_secret_id,"
	"  (SELECT a.value FROM connection_attrs a WHERE a.object_id = i.id AND a.name = 'session_token') AS session_token,"
	"  (SELECT a.value FROM connection_attrs a WHERE a.object_id = i.id AND a.name = 'session_token_secret_id') AS session_token_secret_id,"
	"  (SELECT a.value FROM connection_attrs a WHERE a.object_id = i.id AND a.name = 'assume_role_arn') AS assume_role_arn,"
	"  (SELECT a.value FROM connection_attrs a WHERE a.object_id = i.id AND a.name = 'assume_role_session_name') AS assume_role_session_name,"
	"  (SELECT a.value FROM connection_attrs a WHERE a.object_id = i.id AND a.name = 'principal') AS principal,"
	"  (SELECT a.value FROM connection_attrs a WHERE a.object_id = i.id AND a.name = 'external_id') AS external_id,"
	"  c.example_trust_policy AS example_trust_policy"
	"  FROM items i JOIN connections c ON c.object_id = i.id WHERE i.conn_type = 'aws' LIMIT -1;"
	"CREATE VIEW mz_aws_privatelink_connections AS SELECT 'u' || i.id AS id,"
	"  a.value AS principal FROM items i JOIN connection_attrs a"
	"  ON a.object_id = i.id AND a.name = 'principal'"
	"  WHERE i.conn_type = 'aws-privatelink' AND a.value IS NOT NULL LIMIT -1;"
	"CREATE VIEW mz_kafka_connections AS SELECT 'u' || c.object_id AS id,"
	"  c.brokers AS brokers,"
	"  (SELECT a.value FROM connection_attrs a WHERE a.object_id = c.object_id AND a.name = 'sink_progress_topic') AS sink_progress_topic"
	"  FROM connections c JOIN items i ON i.id = c.object_id WHERE i.conn_type = 'kafka' LIMIT -1;"
	"CREATE VIEW mz_aws_privatelink_connection_status_history AS SELECT"
	"  h.occurred_at AS occurred_at, h.connection_id AS connection_id, h.status AS status"
	"  FROM privatelink_status_history h LIMIT -1;"
	"CREATE VIEW mz_aws_privatelink_connection_statuses AS SELECT"
	"  h.connection_id AS id, i.name AS name, h.occurred_at AS last_status_change_at,"
	"  h.status AS status FROM privatelink_status_history h"
	"  JOIN items i ON 'u' || i.id = h.connection_id"
	"  WHERE h.occurred_at = (SELECT max(h2.occurred_at) FROM privatelink_status_history h2"
	"    WHERE h2.connection_id = h.connection_id) LIMIT -1;";

/* System variables set by ALTER SYSTEM (SQL.md 9.6; catalog/sysvars.c):
 * only values that differ from the built-in defaults have a row. */
static const char schema_v4[] =
	"CREATE TABLE system_vars(name TEXT PRIMARY KEY, value TEXT NOT NULL);";

/* SSH host keys pinned by the first successful validation of a tunnel
 * (catalog/jobspec.c): one row per SSH TUNNEL connection, for the
 * "host:port" it was pinned at (a new HOST or PORT means no pin). */
static const char schema_v5[] =
	"CREATE TABLE ssh_host_keys("
	"  object_id INTEGER PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE,"
	"  host TEXT NOT NULL, host_key TEXT NOT NULL, pinned_at TEXT NOT NULL);"
	"CREATE VIEW mz_ssh_tunnel_host_keys AS SELECT 'u' || k.object_id AS id,"
	"  k.host AS host, k.host_key AS host_key, k.pinned_at AS pinned_at"
	"  FROM ssh_host_keys k LIMIT -1;";

/* Key rotations as the vault reports them (catalog/ddl_keys.c): the
 * latest state per (kind, term), kept as history. */
static const char schema_v6[] =
	"CREATE TABLE key_rotations("
	"  kind TEXT NOT NULL, term INTEGER NOT NULL, state TEXT NOT NULL,"
	"  records_total INTEGER NOT NULL, records_done INTEGER NOT NULL,"
	"  started_at TEXT, finished_at TEXT, PRIMARY KEY (kind, term, started_at));"
	"CREATE VIEW tether_key_rotation AS SELECT kind, term, state,"
	"  records_total, records_done, started_at, finished_at"
	"  FROM key_rotations ORDER BY started_at LIMIT -1;";

/* Indexes for catalogs of 10^4..10^5 objects (bench/bench_scale.c): the
 * per-statement limit checks count items by kind / connection type, DROP
 * looks up dependents, and `WHERE name = ...` on mz_secrets/mz_connections
 * filters by name; without these each is a scan of every item, so loading
 * N objects cost O(N^2). */
static const char schema_v7[] =
	"CREATE INDEX items_kind_type ON items(kind, conn_type);"
	"CREATE INDEX items_name ON items(name);"
	"CREATE INDEX dependencies_referenced ON dependencies(referenced_object_id);";

/* Item counts per (kind, connection type, schema), kept by triggers, so
 * that the limit checks of every CREATE (max_secrets, max_<type>_connections,
 * max_objects_per_schema) read a few rows instead of counting every item:
 * with count(*) each statement was O(N), a load of N objects O(N^2)
 * (bench/bench_scale.c). */
static const char schema_v8[] =
	"CREATE TABLE item_counts(kind TEXT NOT NULL, conn_type TEXT NOT NULL,"
	"  schema_id TEXT NOT NULL, n INTEGER NOT NULL,"
	"  PRIMARY KEY(kind, conn_type, schema_id)) WITHOUT ROWID;"
	"CREATE INDEX item_counts_schema ON item_counts(schema_id);"
	"INSERT INTO item_counts SELECT kind, coalesce(conn_type, ''), schema_id, count(*)"
	"  FROM items GROUP BY 1, 2, 3;"
	"CREATE TRIGGER items_count_insert AFTER INSERT ON items BEGIN"
	"  INSERT INTO item_counts VALUES (new.kind, coalesce(new.conn_type, ''), new.schema_id, 1)"
	"    ON CONFLICT(kind, conn_type, schema_id) DO UPDATE SET n = n + 1;"
	"END;"
	"CREATE TRIGGER items_count_delete AFTER DELETE ON items BEGIN"
	"  UPDATE item_counts SET n = n - 1 WHERE kind = old.kind"
	"    AND conn_type = coalesce(old.conn_type, '') AND schema_id = old.schema_id;"
	"END;"
	"CREATE TRIGGER items_count_update AFTER UPDATE OF kind, conn_type, schema_id ON items BEGIN"
	"  UPDATE item_counts SET n = n - 1 WHERE kind = old.kind"
	"    AND conn_type = coalesce(old.conn_type, '') AND schema_id = old.schema_id;"
	"  INSERT INTO item_counts VALUES (new.kind, coalesce(new.conn_type, ''), new.schema_id, 1)"
	"    ON CONFLICT(kind, conn_type, schema_id) DO UPDATE SET n = n + 1;"
	"END;";

/* Migration n brings the schema from version n-1 to n. */
static const char *const migrations[] = {
	[1] = schema_v1,
	[2] = schema_v2,        /* connections (store_conn.c) */
	[3] = schema_v3,
	[4] = schema_v4,        /* system variables (sysvars.c) */
	[5] = schema_v5,        /* pinned SSH host keys (jobspec.c) */
	[6] = schema_v6,        /* key rotations (ddl_keys.c) */
	[7] = schema_v7,        /* indexes for scale (bench_scale) */
	[8] = schema_v8,        /* item counts for the limit checks */
};
#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

static int db_error(struct cat_store *s, struct err *e, const char *what)
{
	return err_set(e, "XX000", "internal error: catalog: %s: %s", what,
		       sqlite3_errmsg(s->db));
}

static int exec_sql(struct cat_store *s, const char *sql, struct err *e)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		err_set(e, "XX000", "internal error: catalog: %s",
			msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
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

static int migrate(struct cat_store *s, struct err *e)
{
	sqlite3_stmt *st;
	int version = 0;

	if (exec_sql(s, "CREATE TABLE IF NOT EXISTS migrations("
			"version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)", e) < 0)
		return -1;
	st = prep(s, "SELECT coalesce(max(version), 0) FROM migrations", e);
	if (!st)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > CAT_STORE_SCHEMA_VERSION)
		return err_set(e, "XX000",
			       "internal error: catalog: catalog.db has schema version %d, this tether-catalog knows %d",
			       version, CAT_STORE_SCHEMA_VERSION);
	for (int v = version + 1; v < (int)NMIGRATIONS; v++) {
		char sql[128];

		if (exec_sql(s, "BEGIN IMMEDIATE", e) < 0)
			return -1;
		snprintf(sql, sizeof(sql),
			 "INSERT INTO migrations VALUES (%d, datetime('now'))", v);
		if (exec_sql(s, migrations[v], e) < 0 || exec_sql(s, sql, e) < 0 ||
		    exec_sql(s, "COMMIT", e) < 0) {
			cat_store_rollback(s);
			return -1;
		}
		log_info("catalog_migrated", "version=%d", v);
	}
	return 0;
}

int cat_store_open(struct cat_store *s, const char *path, struct err *e)
{
	s->db = NULL;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		err_set(e, "XX000", "internal error: catalog: cannot open %s: %s",
			path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
		cat_store_close(s);
		return -1;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, 5000);
	/* temp_store=MEMORY: statement journals (triggers, migration 8) and
	 * large sorts stay in memory; the sandbox lets the catalog open no
	 * temp file, so a spill failed with "unable to open database file". */
	if (exec_sql(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			"PRAGMA foreign_keys=ON; PRAGMA trusted_schema=OFF;"
			"PRAGMA temp_store=MEMORY", e) < 0 ||
	    migrate(s, e) < 0) {
		cat_store_close(s);
		return -1;
	}
	return 0;
}

void cat_store_close(struct cat_store *s)
{
	if (s->db)
		sqlite3_close_v2(s->db);
	s->db = NULL;
}

int cat_store_begin(struct cat_store *s, struct err *e)
{
	return exec_sql(s, "BEGIN IMMEDIATE", e);
}

int cat_store_commit(struct cat_store *s, struct err *e)
{
	if (exec_sql(s, "COMMIT", e) < 0) {
		cat_store_rollback(s);
		return -1;
	}
	return 0;
}

void cat_store_rollback(struct cat_store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static void copy_col(char *dst, size_t size, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(dst, size, "%s", t ? (const char *)t : "");
}

/* Steps a one-row lookup: 1 row, 0 none, -1 error. */
static int step_one(struct cat_store *s, sqlite3_stmt *st, struct err *e)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_error(s, e, "lookup");
}

int cat_store_find_role(struct cat_store *s, const char *name,
			struct cat_role *out, struct err *e)
{
	sqlite3_stmt *st = prep(s, "SELECT id, name, rolsuper, rolcanlogin "
				   "FROM roles WHERE name = ?1", e);
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = step_one(s, st, e);
	if (rc == 1) {
		copy_col(out->id, sizeof(out->id), st, 0);
		copy_col(out->name, sizeof(out->name), st, 1);
		out->superuser = sqlite3_column_int(st, 2);
		out->can_login = sqlite3_column_int(st, 3);
	}
	sqlite3_finalize(st);
	return rc;
}

int cat_store_find_database(struct cat_store *s, const char *name,
			    char id[CAT_ID_MAX], struct err *e)
{
	sqlite3_stmt *st = prep(s, "SELECT id FROM databases WHERE name = ?1", e);
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = step_one(s, st, e);
	if (rc == 1)
		copy_col(id, CAT_ID_MAX, st, 0);
	sqlite3_finalize(st);
	return rc;
}

static const char schema_cols[] =
	"SELECT s.id, s.name, coalesce(d.name, ''), s.database_id IS NULL "
	"FROM schemas s LEFT JOIN databases d ON d.id = s.database_id ";

static void read_schema(sqlite3_stmt *st, struct cat_schema *out)
{
	copy_col(out->id, sizeof(out->id), st, 0);
	copy_col(out->name, sizeof(out->name), st, 1);
	copy_col(out->database, sizeof(out->database), st, 2);
	out->is_system = sqlite3_column_int(st, 3);
}

int cat_store_find_schema(struct cat_store *s, const char *db, const char *name,
			  struct cat_schema *out, struct err *e)
{
	char sql[256];
	sqlite3_stmt *st;
	int rc;

	snprintf(sql, sizeof(sql), "%s WHERE s.name = ?2 AND "
		 "(s.database_id IS NULL OR d.name = ?1)", schema_cols);
	st = prep(s, sql, e);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, db, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	rc = step_one(s, st, e);
	if (rc == 1)
		read_schema(st, out);
	sqlite3_finalize(st);
	return rc;
}

int cat_store_find_schema_by_id(struct cat_store *s, const char *id,
				struct cat_schema *out, struct err *e)
{
	char sql[256];
	sqlite3_stmt *st;
	int rc;

	snprintf(sql, sizeof(sql), "%s WHERE s.id = ?1", schema_cols);
	st = prep(s, sql, e);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = step_one(s, st, e);
	if (rc == 1)
		read_schema(st, out);
	sqlite3_finalize(st);
	return rc;
}

static const char item_cols[] =
	"SELECT id, kind, schema_id, name, owner_id, coalesce(vault_version, 0) "
	"FROM items ";

static void read_item(sqlite3_stmt *st, struct cat_item *out)
{
	const unsigned char *kind = sqlite3_column_text(st, 1);

	out->id = (uint64_t)sqlite3_column_int64(st, 0);
	out->kind = kind && !strcmp((const char *)kind, "connection") ?
		    CAT_OBJ_CONNECTION : CAT_OBJ_SECRET;
	copy_col(out->schema_id, sizeof(out->schema_id), st, 2);
	copy_col(out->name, sizeof(out->name), st, 3);
	copy_col(out->owner_id, sizeof(out->owner_id), st, 4);
	out->vault_version = (uint64_t)sqlite3_column_int64(st, 5);
}

int cat_store_find_item(struct cat_store *s, const char *schema_id,
			const char *name, struct cat_item *out, struct err *e)
{
	char sql[256];
	sqlite3_stmt *st;
	int rc;

	snprintf(sql, sizeof(sql), "%s WHERE schema_id = ?1 AND name = ?2", item_cols);
	st = prep(s, sql, e);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, schema_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	rc = step_one(s, st, e);
	if (rc == 1)
		read_item(st, out);
	sqlite3_finalize(st);
	return rc;
}

int cat_store_find_item_by_id(struct cat_store *s, uint64_t id,
			      struct cat_item *out, struct err *e)
{
	char sql[256];
	sqlite3_stmt *st;
	int rc;

	snprintf(sql, sizeof(sql), "%s WHERE id = ?1", item_cols);
	st = prep(s, sql, e);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	rc = step_one(s, st, e);
	if (rc == 1)
		read_item(st, out);
	sqlite3_finalize(st);
	return rc;
}

const char *cat_kind_name(enum cat_object_kind kind)
{
	return kind == CAT_OBJ_CONNECTION ? "connection" : "secret";
}

long cat_store_count_items(struct cat_store *s, enum cat_object_kind kind,
			   struct err *e)
{
	sqlite3_stmt *st = prep(s, "SELECT coalesce(sum(n), 0) FROM item_counts WHERE kind = ?1", e);
	long n = -1;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, cat_kind_name(kind), -1, SQLITE_STATIC);
	if (step_one(s, st, e) == 1)
		n = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static int read_counter(struct cat_store *s, const char *name, uint64_t *out,
			struct err *e)
{
	sqlite3_stmt *st = prep(s, "SELECT value FROM counters WHERE name = ?1", e);
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = step_one(s, st, e);
	if (rc == 1)
		*out = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc == 0)
		return err_set(e, "XX000", "internal error: catalog: counter %s missing",
			       name);
	return rc < 0 ? -1 : 0;
}

int cat_store_counters(struct cat_store *s, uint64_t *next_id,
		       uint64_t *next_version, struct err *e)
{
	if (read_counter(s, "next_item_id", next_id, e) < 0 ||
	    read_counter(s, "next_version", next_version, e) < 0)
		return -1;
	return 0;
}

/* Runs a prepared write to completion. */
static int step_done(struct cat_store *s, sqlite3_stmt *st, struct err *e,
		     const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_error(s, e, what);
	return 0;
}

static int bump(struct cat_store *s, const char *name, uint64_t value,
		struct err *e)
{
	sqlite3_stmt *st = prep(s, "UPDATE counters SET value = max(value, ?2) "
				   "WHERE name = ?1", e);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)value);
	return step_done(s, st, e, "counter");
}

int cat_store_bump_counters(struct cat_store *s, uint64_t next_id,
			    uint64_t next_version, struct err *e)
{
	if (bump(s, "next_item_id", next_id, e) < 0 ||
	    bump(s, "next_version", next_version, e) < 0)
		return -1;
	return 0;
}

/* Next oid, taken and advanced inside the caller's transaction. */
static int next_oid(struct cat_store *s, int64_t *oid, struct err *e)
{
	uint64_t v;

	if (read_counter(s, "next_oid", &v, e) < 0 || bump(s, "next_oid", v + 1, e) < 0)
		return -1;
	*oid = (int64_t)v;
	return 0;
}

/* Every identifier double-quoted with "" doubled (SQL.md 8.6). */
static void quote_ident(char *dst, size_t size, const char *s)
{
	size_t n = 0;

	if (size < 3)
		return;
	dst[n++] = '"';
	for (; *s && n + 3 < size; s++) {
		if (*s == '"')
			dst[n++] = '"';
		dst[n++] = *s;
	}
	dst[n++] = '"';
	dst[n] = '\0';
}

static void secret_create_sql(char *buf, size_t size,
			      const struct cat_schema *schema, const char *name)
{
	char qd[2 * CAT_IDENT_MAX + 3], qs[2 * CAT_IDENT_MAX + 3],
	     qn[2 * CAT_IDENT_MAX + 3];

	quote_ident(qd, sizeof(qd), schema->database);
	quote_ident(qs, sizeof(qs), schema->name);
	quote_ident(qn, sizeof(qn), name);
	if (schema->is_system)
		snprintf(buf, size, "CREATE SECRET %s.%s AS '********'", qs, qn);
	else
		snprintf(buf, size, "CREATE SECRET %s.%s.%s AS '********'", qd, qs, qn);
}

int cat_store_insert_secret(struct cat_store *s, uint64_t id,
			    const struct cat_schema *schema, const char *name,
			    const char *owner_id, uint64_t version, struct err *e)
{
	char create_sql[8 * CAT_IDENT_MAX + 64], acl[2 * CAT_ID_MAX + 8];
	sqlite3_stmt *st;
	int64_t oid;

	if (next_oid(s, &oid, e) < 0)
		return -1;
	secret_create_sql(create_sql, sizeof(create_sql), schema, name);
	snprintf(acl, sizeof(acl), "{%s=U/%s}", owner_id, owner_id);
	st = prep(s, "INSERT INTO items (id, oid, kind, schema_id, name, owner_id,"
		     " privileges, create_sql, redacted_create_sql, vault_version)"
		     " VALUES (?1, ?2, 'secret', ?3, ?4, ?5, ?6, ?7, ?7, ?8)", e);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_int64(st, 2, oid);
	sqlite3_bind_text(st, 3, schema->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, owner_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, acl, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, create_sql, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)version);
	if (step_done(s, st, e, "insert secret") < 0)
		return -1;
	return cat_store_bump_counters(s, id + 1, version + 1, e);
}

int cat_store_set_secret_version(struct cat_store *s, uint64_t id,
				 uint64_t version, struct err *e)
{
	sqlite3_stmt *st = prep(s, "UPDATE items SET vault_version = ?2 WHERE id = ?1"
				   " AND kind = 'secret' AND vault_version < ?2", e);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)version);
	int changed;

	if (step_done(s, st, e, "update secret") < 0)
		return -1;
	changed = sqlite3_changes(s->db) ? 1 : 0;
	if (cat_store_bump_counters(s, 0, version + 1, e) < 0)
		return -1;
	return changed;
}

int cat_store_rename_item(struct cat_store *s, uint64_t id,
			  const struct cat_schema *schema, const char *new_name,
			  struct err *e)
{
	char create_sql[8 * CAT_IDENT_MAX + 64];
	struct cat_item it;
	sqlite3_stmt *st;
	int rc = cat_store_find_item_by_id(s, id, &it, e);

	if (rc <= 0)
		return rc < 0 ? -1 : err_set(e, "XX000", "internal error: catalog: item u%" PRIu64 " vanished", id);
	if (it.kind == CAT_OBJ_SECRET) {
		secret_create_sql(create_sql, sizeof(create_sql), schema, new_name);
		st = prep(s, "UPDATE items SET name = ?2, create_sql = ?3,"
			     " redacted_create_sql = ?3 WHERE id = ?1", e);
	} else {
		/* Connections re-render their create_sql when they land. */
		st = prep(s, "UPDATE items SET name = ?2 WHERE id = ?1", e);
	}
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_text(st, 2, new_name, -1, SQLITE_STATIC);
	if (it.kind == CAT_OBJ_SECRET)
		sqlite3_bind_text(st, 3, create_sql, -1, SQLITE_STATIC);
	return step_done(s, st, e, "rename");
}

int cat_store_delete_item(struct cat_store *s, uint64_t id, struct err *e)
{
	sqlite3_stmt *st = prep(s, "DELETE FROM items WHERE id = ?1", e);

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	return step_done(s, st, e, "delete");
}

long cat_store_dependents(struct cat_store *s, uint64_t id, uint64_t **out,
			  struct err *e)
{
	sqlite3_stmt *st = prep(s, "SELECT object_id FROM dependencies WHERE "
				   "referenced_object_id = ?1 ORDER BY object_id", e);

	*out = NULL;
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	return cat_store_collect_ids(s, st, out, "dependents", e);
}

long cat_store_collect_ids(struct cat_store *s, sqlite3_stmt *st, uint64_t **out,
			   const char *what, struct err *e)
{
	uint64_t *ids = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*out = NULL;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			uint64_t *p = realloc(ids, (cap ? cap * 2 : 8) * sizeof(*ids));
			if (!p) {
				free(ids);
				sqlite3_finalize(st);
				return err_set(e, "53200", "out of memory");
			}
			ids = p;
			cap = cap ? cap * 2 : 8;
		}
		ids[n++] = (uint64_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(ids);
		return db_error(s, e, what);
	}
	*out = ids;
	return (long)n;
}

int cat_store_each_secret(struct cat_store *s,
			  int (*fn)(void *arg, uint64_t id, uint64_t version),
			  void *arg, struct err *e)
{
	sqlite3_stmt *st = prep(s, "SELECT id, vault_version FROM items WHERE "
				   "kind = 'secret' ORDER BY id", e);
	int rc;

	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (fn(arg, (uint64_t)sqlite3_column_int64(st, 0),
		       (uint64_t)sqlite3_column_int64(st, 1)) < 0) {
			sqlite3_finalize(st);
			return err_set(e, "XX000", "internal error: catalog: reconcile aborted");
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_error(s, e, "list secrets");
	return 0;
}

int cat_store_each_ssh_key_owner(struct cat_store *s,
				 int (*fn)(void *arg, uint64_t id), void *arg,
				 struct err *e)
{
	sqlite3_stmt *st = prep(s, "SELECT id FROM items WHERE kind = 'connection'"
				   " AND conn_type = 'ssh-tunnel' ORDER BY id", e);
	int rc;

	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (fn(arg, (uint64_t)sqlite3_column_int64(st, 0)) < 0) {
			sqlite3_finalize(st);
			return err_set(e, "XX000", "internal error: catalog: reconcile aborted");
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_error(s, e, "list SSH connections");
	return 0;
}

int cat_store_qualified_name(struct cat_store *s, const struct cat_item *it,
			     char *buf, size_t size, struct err *e)
{
	struct cat_schema sc;
	int rc = cat_store_find_schema_by_id(s, it->schema_id, &sc, e);

	if (rc <= 0)
		return rc < 0 ? -1 : err_set(e, "XX000", "internal error: catalog: schema %s missing", it->schema_id);
	if (sc.is_system)
		snprintf(buf, size, "%s.%s", sc.name, it->name);
	else
		snprintf(buf, size, "%s.%s.%s", sc.database, sc.name, it->name);
	return 0;
}
