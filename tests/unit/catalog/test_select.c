/* The SELECT fences: read-only connection, authorizer, function list. */
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
	struct cat_select sel;
	struct cat_select_session ss;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct cat_schema sc;
	struct err e;

	snprintf(f->dir, sizeof(f->dir), "/tmp/tether-cat-select-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/catalog.db", f->dir);
	assert_int_equal(cat_store_open(&f->st, f->path, &e), 0);
	assert_int_equal(cat_store_find_schema(&f->st, "materialize", "public", &sc, &e), 1);
	assert_int_equal(cat_store_begin(&f->st, &e), 0);
	assert_int_equal(cat_store_insert_secret(&f->st, 1, &sc, "s_one", "u1", 1, &e), 0);
	assert_int_equal(cat_store_insert_secret(&f->st, 2, &sc, "other", "u1", 2, &e), 0);
	assert_int_equal(cat_store_commit(&f->st, &e), 0);
	assert_int_equal(cat_select_open(&f->sel, f->path, &e), 0);
	f->ss = (struct cat_select_session){ "materialize", "materialize", "public", 1234, NULL };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[160];

	cat_select_close(&f->sel);
	cat_store_close(&f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	(void)!system(cmd);
	free(f);
	return 0;
}

/* Runs sql; returns 0 and the DataRow count, or -1 with e. */
static int run(struct fx *f, const char *sql, struct pgw_buf *out, char *tag,
	       struct err *e)
{
	sqlite3_stmt *st;

	err_clear(e);
	if (cat_select_prepare(&f->sel, &f->ss, sql, &st, e) < 0)
		return -1;
	return cat_select_run(&f->sel, &f->ss, st, out, 1, tag, 64, e);
}

static void expect_denied(struct fx *f, const char *sql, const char *sqlstate)
{
	struct pgw_buf out = { 0 };
	struct err e;
	char tag[64];

	assert_int_equal(run(f, sql, &out, tag, &e), -1);
	if (sqlstate)
		assert_string_equal(e.sqlstate, sqlstate);
	pgw_buf_free(&out);
}

static void test_select_secrets_like(void **state)
{
	struct fx *f = *state;
	struct pgw_buf out = { 0 };
	struct err e;
	char tag[64];

	assert_int_equal(run(f, "SELECT name FROM mz_secrets WHERE name LIKE 's%'", &out, tag, &e), 0);
	assert_string_equal(tag, "SELECT 1");
	assert_non_null(memmem(out.data, out.len, "s_one", 5));
	assert_null(memmem(out.data, out.len, "other", 5));
	pgw_buf_free(&out);
	/* LIKE is case-sensitive, as in PostgreSQL. */
	assert_int_equal(run(f, "SELECT name FROM mz_secrets WHERE name LIKE 'S%'", &out, tag, &e), 0);
	assert_string_equal(tag, "SELECT 0");
	pgw_buf_free(&out);
}

static void test_session_functions(void **state)
{
	struct fx *f = *state;
	struct pgw_buf out = { 0 };
	struct err e;
	char tag[64];

	assert_int_equal(run(f, "SELECT version(), current_user(), current_database(), "
			     "current_schema(), pg_backend_pid()", &out, tag, &e), 0);
	assert_non_null(memmem(out.data, out.len, "PostgreSQL 15.0", 15));
	assert_non_null(memmem(out.data, out.len, "materialize", 11));
	assert_non_null(memmem(out.data, out.len, "1234", 4));
	pgw_buf_free(&out);
}

static void test_bool_and_count_types(void **state)
{
	struct fx *f = *state;
	sqlite3_stmt *st;
	struct pgw_buf out = { 0 };
	struct err e;
	char tag[64];

	assert_int_equal(cat_select_prepare(&f->sel, &f->ss, "SELECT count(*) FROM mz_secrets", &st, &e), 0);
	assert_int_equal(cat_select_column_oid(st, 0), PGW_OID_INT8);
	sqlite3_finalize(st);
	assert_int_equal(run(f, "SELECT rolsuper FROM mz_roles", &out, tag, &e), 0);
	/* DataRow: 1 column, length 1, 't' */
	assert_non_null(memmem(out.data, out.len, "\0\1\0\0\0\1t", 7));
	pgw_buf_free(&out);
}

static void test_bound_parameters(void **state)
{
	struct fx *f = *state;
	char *vals[] = { "other" };
	sqlite3_stmt *st;
	struct pgw_buf out = { 0 };
	struct err e;
	char tag[64];

	assert_int_equal(cat_select_prepare(&f->sel, &f->ss, "SELECT id FROM mz_secrets WHERE name = $1", &st, &e), 0);
	assert_int_equal(cat_select_bind(st, vals, 1, &e), 0);
	assert_int_equal(cat_select_run(&f->sel, &f->ss, st, &out, 0, tag, sizeof(tag), &e), 0);
	assert_string_equal(tag, "SELECT 1");
	assert_non_null(memmem(out.data, out.len, "u2", 2));
	pgw_buf_free(&out);
}

static void test_authorizer_denies_base_tables(void **state)
{
	struct fx *f = *state;
	struct pgw_buf out = { 0 };
	struct err e;
	char tag[64];

	assert_int_equal(run(f, "SELECT * FROM items", &out, tag, &e), -1);
	assert_string_equal(e.sqlstate, "42704");
	assert_string_equal(e.message, "unknown catalog item 'items'");
	expect_denied(f, "SELECT * FROM counters", "42704");
	expect_denied(f, "SELECT name FROM sqlite_master", "42704");
	expect_denied(f, "SELECT name FROM sqlite_schema", "42704");
	expect_denied(f, "SELECT * FROM mz_secrets s JOIN roles r ON r.id = s.owner_id", "42704");
	expect_denied(f, "SELECT * FROM nosuch", "42704");
	pgw_buf_free(&out);
}

static void test_authorizer_denies_writes_attach_pragma(void **state)
{
	struct fx *f = *state;
	struct cat_item it;
	struct err e;

	expect_denied(f, "DELETE FROM items", NULL);
	expect_denied(f, "INSERT INTO roles VALUES ('u9', 1, 'x', 1, 1, 1)", NULL);
	expect_denied(f, "UPDATE items SET name = 'x'", NULL);
	expect_denied(f, "DROP VIEW mz_secrets", NULL);
	expect_denied(f, "CREATE TABLE t(x)", NULL);
	expect_denied(f, "ATTACH DATABASE '/tmp/x.db' AS x", NULL);
	expect_denied(f, "PRAGMA query_only=0", NULL);
	expect_denied(f, "PRAGMA table_info(items)", NULL);
	expect_denied(f, "SELECT * FROM pragma_table_info('items')", NULL);
	expect_denied(f, "SELECT 1; DELETE FROM items", NULL);
	/* Nothing changed. */
	assert_int_equal(cat_store_find_item(&f->st, "u3", "s_one", &it, &e), 1);
}

static void test_functions_outside_the_list_are_denied(void **state)
{
	struct fx *f = *state;

	expect_denied(f, "SELECT randomblob(1000000000)", "0A000");
	expect_denied(f, "SELECT load_extension('x')", "0A000");
	expect_denied(f, "SELECT zeroblob(10)", "0A000");
	expect_denied(f, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
			 "SELECT count(*) FROM c", NULL);
}

static void test_unknown_column_message(void **state)
{
	struct fx *f = *state;
	struct pgw_buf out = { 0 };
	struct err e;
	char tag[64];

	assert_int_equal(run(f, "SELECT nosuch FROM mz_secrets", &out, tag, &e), -1);
	assert_string_equal(e.sqlstate, "42703");
	assert_string_equal(e.message, "column \"nosuch\" does not exist");
	pgw_buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_select_secrets_like, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_functions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bool_and_count_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bound_parameters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_authorizer_denies_base_tables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_authorizer_denies_writes_attach_pragma, setup, teardown),
		cmocka_unit_test_setup_teardown(test_functions_outside_the_list_are_denied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_column_message, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
