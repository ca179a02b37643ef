/* The SQLite store: bootstrap rows, views with exactly SQL.md's columns,
 * secret rows without values, counters, reopening. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "select.h"
#include "store.h"

struct fx {
	char dir[64], path[128];
	struct cat_store st;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct err e;

	snprintf(f->dir, sizeof(f->dir), "/tmp/tether-cat-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/catalog.db", f->dir);
	assert_int_equal(cat_store_open(&f->st, f->path, &e), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[160];

	cat_store_close(&f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	(void)!system(cmd);
	free(f);
	return 0;
}

static void test_bootstrap_rows(void **state)
{
	struct fx *f = *state;
	struct cat_role role;
	struct cat_schema sc;
	char id[CAT_ID_MAX];
	struct err e;
	uint64_t next_id, next_version;

	assert_int_equal(cat_store_find_role(&f->st, "materialize", &role, &e), 1);
	assert_string_equal(role.id, "u1");
	assert_true(role.superuser);
	assert_int_equal(cat_store_find_database(&f->st, "materialize", id, &e), 1);
	assert_string_equal(id, "u1");
	assert_int_equal(cat_store_find_schema(&f->st, "materialize", "public", &sc, &e), 1);
	assert_string_equal(sc.id, "u3");
	assert_false(sc.is_system);
	for (const char *const *n = (const char *const[]){ "mz_catalog", "mz_internal",
			"pg_catalog", "tether_internal", NULL }; *n; n++) {
		assert_int_equal(cat_store_find_schema(&f->st, "materialize", *n, &sc, &e), 1);
		assert_true(sc.is_system);
	}
	assert_int_equal(cat_store_find_database(&f->st, "other", id, &e), 0);
	assert_int_equal(cat_store_counters(&f->st, &next_id, &next_version, &e), 0);
	assert_int_equal(next_id, 1);
	assert_int_equal(next_version, 1);
}

static void expect_columns(struct cat_select *sel, const char *view,
			   const char *const *cols, const uint32_t *oids, int n)
{
	char sql[128];
	sqlite3_stmt *st;
	struct err e;

	snprintf(sql, sizeof(sql), "SELECT * FROM %s", view);
	assert_int_equal(cat_select_prepare(sel, NULL, sql, &st, &e), 0);
	assert_int_equal(sqlite3_column_count(st), n);
	for (int i = 0; i < n; i++) {
		assert_string_equal(sqlite3_column_name(st, i), cols[i]);
		assert_int_equal(cat_select_column_oid(st, i), oids[i]);
	}
	sqlite3_finalize(st);
}

static void test_views_have_sql_md_columns(void **state)
{
	struct fx *f = *state;
	struct cat_select sel;
	struct err e;
	enum { T = PGW_OID_TEXT, O = PGW_OID_OID, B = PGW_OID_BOOL, A = PGW_OID_TEXT_ARRAY,
	       I4 = PGW_OID_INT4 };

	assert_int_equal(cat_select_open(&sel, f->path, &e), 0);
	expect_columns(&sel, "mz_secrets",
		       (const char *const[]){ "id", "oid", "schema_id", "name", "owner_id", "privileges" },
		       (const uint32_t[]){ T, O, T, T, T, A }, 6);
	expect_columns(&sel, "mz_connections",
		       (const char *const[]){ "id", "oid", "schema_id", "name", "type", "owner_id",
					      "privileges", "create_sql", "redacted_create_sql" },
		       (const uint32_t[]){ T, O, T, T, T, T, A, T, T }, 9);
	expect_columns(&sel, "mz_databases",
		       (const char *const[]){ "id", "oid", "name", "owner_id", "privileges" },
		       (const uint32_t[]){ T, O, T, T, A }, 5);
	expect_columns(&sel, "mz_schemas",
		       (const char *const[]){ "id", "oid", "database_id", "name", "owner_id", "privileges" },
		       (const uint32_t[]){ T, O, T, T, T, A }, 6);
	expect_columns(&sel, "mz_roles",
		       (const char *const[]){ "id", "oid", "name", "inherit", "rolcanlogin", "rolsuper" },
		       (const uint32_t[]){ T, O, T, B, B, B }, 6);
	expect_columns(&sel, "mz_object_dependencies",
		       (const char *const[]){ "object_id", "referenced_object_id" },
		       (const uint32_t[]){ T, T }, 2);
	expect_columns(&sel, "mz_comments",
		       (const char *const[]){ "id", "object_type", "object_sub_id", "comment" },
		       (const uint32_t[]){ T, T, I4, T }, 4);
	cat_select_close(&sel);
}

static void test_secret_lifecycle(void **state)
{
	struct fx *f = *state;
	struct cat_schema sc;
	struct cat_item it;
	struct err e;
	uint64_t next_id, next_version;
	sqlite3_stmt *q;

	assert_int_equal(cat_store_find_schema(&f->st, "materialize", "public", &sc, &e), 1);
	assert_int_equal(cat_store_begin(&f->st, &e), 0);
	assert_int_equal(cat_store_insert_secret(&f->st, 7, &sc, "pw", "u1", 3, &e), 0);
	assert_int_equal(cat_store_commit(&f->st, &e), 0);
	assert_int_equal(cat_store_counters(&f->st, &next_id, &next_version, &e), 0);
	assert_int_equal(next_id, 8);
	assert_int_equal(next_version, 4);

	assert_int_equal(cat_store_find_item(&f->st, "u3", "pw", &it, &e), 1);
	assert_int_equal(it.id, 7);
	assert_int_equal(it.kind, CAT_OBJ_SECRET);
	assert_int_equal(it.vault_version, 3);
	/* create_sql names the secret, never a value. */
	assert_int_equal(sqlite3_prepare_v2(f->st.db, "SELECT create_sql FROM items WHERE id = 7", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(q, 0),
			    "CREATE SECRET \"materialize\".\"public\".\"pw\" AS '********'");
	sqlite3_finalize(q);

	/* Versions only grow. */
	assert_int_equal(cat_store_begin(&f->st, &e), 0);
	assert_int_equal(cat_store_set_secret_version(&f->st, 7, 5, &e), 1);
	assert_int_equal(cat_store_set_secret_version(&f->st, 7, 4, &e), 0);
	assert_int_equal(cat_store_rename_item(&f->st, 7, &sc, "pw2", &e), 0);
	assert_int_equal(cat_store_commit(&f->st, &e), 0);
	assert_int_equal(cat_store_find_item(&f->st, "u3", "pw", &it, &e), 0);
	assert_int_equal(cat_store_find_item(&f->st, "u3", "pw2", &it, &e), 1);
	assert_int_equal(it.vault_version, 5);
	assert_int_equal(cat_store_count_items(&f->st, CAT_OBJ_SECRET, &e), 1);

	assert_int_equal(cat_store_begin(&f->st, &e), 0);
	assert_int_equal(cat_store_delete_item(&f->st, 7, &e), 0);
	assert_int_equal(cat_store_commit(&f->st, &e), 0);
	assert_int_equal(cat_store_find_item_by_id(&f->st, 7, &it, &e), 0);
	/* Ids are never handed out again. */
	assert_int_equal(cat_store_counters(&f->st, &next_id, &next_version, &e), 0);
	assert_int_equal(next_id, 8);
}

static void test_duplicate_name_rejected_by_schema(void **state)
{
	struct fx *f = *state;
	struct cat_schema sc;
	struct err e;

	assert_int_equal(cat_store_find_schema(&f->st, "materialize", "public", &sc, &e), 1);
	assert_int_equal(cat_store_begin(&f->st, &e), 0);
	assert_int_equal(cat_store_insert_secret(&f->st, 1, &sc, "a", "u1", 1, &e), 0);
	assert_int_equal(cat_store_insert_secret(&f->st, 2, &sc, "a", "u1", 2, &e), -1);
	assert_string_equal(e.sqlstate, "XX000");
	cat_store_rollback(&f->st);
}

static void test_reopen_keeps_data_and_settings(void **state)
{
	struct fx *f = *state;
	struct cat_schema sc;
	struct cat_item it;
	struct err e;
	sqlite3_stmt *q;

	assert_int_equal(cat_store_find_schema(&f->st, "materialize", "public", &sc, &e), 1);
	assert_int_equal(cat_store_begin(&f->st, &e), 0);
	assert_int_equal(cat_store_insert_secret(&f->st, 3, &sc, "keep", "u1", 9, &e), 0);
	assert_int_equal(cat_store_commit(&f->st, &e), 0);
	cat_store_close(&f->st);
	assert_int_equal(cat_store_open(&f->st, f->path, &e), 0);
	assert_int_equal(cat_store_find_item(&f->st, "u3", "keep", &it, &e), 1);
	assert_int_equal(sqlite3_prepare_v2(f->st.db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
	sqlite3_finalize(q);
	assert_int_equal(sqlite3_prepare_v2(f->st.db, "SELECT count(*) FROM migrations", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), CAT_STORE_SCHEMA_VERSION);
	sqlite3_finalize(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bootstrap_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_views_have_sql_md_columns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_name_rejected_by_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_data_and_settings, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
