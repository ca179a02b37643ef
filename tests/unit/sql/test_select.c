/* SELECT on the catalog (SQL.md 8.5) rewritten for SQLite: qualifier
 * stripping, quoting, casts, LIKE, NULL ordering, LIMIT/OFFSET, function
 * allow-list, rejection of SQLite internals. When SQLite is available the
 * rewritten text is also prepared against stand-in views, so it is known
 * to be valid SQLite. */
#include "sql_test.h"

#ifdef HAVE_SQLITE
#include <sqlite3.h>

static sqlite3 *db;

static void fn_text(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	(void)argv;
	sqlite3_result_text(ctx, "x", -1, SQLITE_STATIC);
}

static int setup_db(void **state)
{
	static const char *const fns[] = { "version", "current_user", "session_user",
					   "current_database", "current_schema" };
	(void)state;
	if (sqlite3_open(":memory:", &db) != SQLITE_OK)
		return -1;
	sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DML, 0, (int *)0);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DDL, 0, (int *)0);
	if (sqlite3_exec(db,
			 "CREATE TABLE s(id TEXT, oid INTEGER, schema_id TEXT, name TEXT, owner_id TEXT, privileges TEXT);"
			 "CREATE VIEW mz_secrets AS SELECT * FROM s;"
			 "CREATE VIEW mz_schemas AS SELECT 'u1' AS id, 'public' AS name, 'u1' AS database_id;"
			 "CREATE VIEW mz_connections AS SELECT * FROM s;"
			 "CREATE VIEW mz_comments AS SELECT id, 'secret' AS object_type FROM s;"
			 "CREATE VIEW mz_aws_connections AS SELECT id FROM s;",
			 NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		sqlite3_create_function(db, fns[i], 0, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
					fn_text, NULL, NULL);
	return 0;
}

static int teardown_db(void **state)
{
	(void)state;
	sqlite3_close(db);
	return 0;
}

static void assert_sqlite_accepts(const char *sql)
{
	sqlite3_stmt *stmt = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		print_error("SQLite rejects [%s]: %s\n", sql, sqlite3_errmsg(db));
		fail();
	}
	while (sqlite3_step(stmt) == SQLITE_ROW)
		;
	sqlite3_finalize(stmt);
}
#else
static int setup_db(void **state)
{
	(void)state;
	return 0;
}

static int teardown_db(void **state)
{
	(void)state;
	return 0;
}

static void assert_sqlite_accepts(const char *sql)
{
	(void)sql;
}
#endif

static void expect_select(const char *sql, const char *want)
{
	struct cat_stmt *st = parse_one(sql);

	assert_int_equal(st->kind, CAT_STMT_SELECT);
	if (strcmp(st->select_sql, want) != 0) {
		print_error("for [%s]\n  want %s\n  got  %s\n", sql, want, st->select_sql);
		fail();
	}
	assert_string_equal(cat_stmt_tag(st), "SELECT");
	assert_sqlite_accepts(st->select_sql);
	cat_stmts_free(st, 1);
}

static void test_select_constant(void **state)
{
	(void)state;
	expect_select("SELECT 1", "SELECT 1 AS \"?column?\"");
	expect_select("select 'a' || 'b' AS x, true, NULL",
		      "SELECT ('a' || 'b') AS \"x\", TRUE AS \"bool\", NULL AS \"?column?\"");
	expect_select("SELECT version()", "SELECT version() AS \"version\"");
	expect_select("SELECT current_user", "SELECT current_user() AS \"current_user\"");
}

static void test_select_strips_catalog_qualifiers(void **state)
{
	(void)state;
	expect_select("SELECT name FROM mz_catalog.mz_secrets",
		      "SELECT \"name\" AS \"name\" FROM \"mz_secrets\"");
	expect_select("SELECT mz_secrets.name FROM materialize.mz_catalog.mz_secrets",
		      "SELECT \"mz_secrets\".\"name\" AS \"name\" FROM \"mz_secrets\"");
	expect_select("SELECT mz_catalog.mz_secrets.id FROM mz_catalog.mz_secrets, mz_internal.mz_comments c",
		      "SELECT \"mz_secrets\".\"id\" AS \"id\" FROM \"mz_secrets\", \"mz_comments\" AS \"c\"");
	expect_select("SELECT * FROM materialize.mz_internal.mz_aws_connections",
		      "SELECT * FROM \"mz_aws_connections\"");
	expect_select("SELECT s.* FROM MZ_SECRETS AS s",
		      "SELECT \"s\".* FROM \"mz_secrets\" AS \"s\"");
}

/* SQL.md 2: a relation is reachable only as written: mz_catalog (and
 * pg_catalog) implicitly, mz_internal spelled out or through search_path
 * (checked by the executor from the recorded names). */
static void test_select_relation_must_be_reachable_as_written(void **state)
{
	struct cat_stmt *st;
	size_t n;
	struct err e;

	(void)state;
	expect_error("SELECT * FROM mz_catalog.mz_aws_connections", "42704",
		     "unknown catalog item 'mz_catalog.mz_aws_connections'", 15);
	expect_error("SELECT * FROM mz_internal.mz_secrets", "42704",
		     "unknown catalog item 'mz_internal.mz_secrets'", 15);
	expect_error("SELECT * FROM pg_catalog.mz_secrets", "42704",
		     "unknown catalog item 'pg_catalog.mz_secrets'", 15);
	expect_error("SELECT * FROM tether_internal.mz_secrets", "42704",
		     "unknown catalog item 'tether_internal.mz_secrets'", 15);
	expect_error("SELECT mz_catalog.mz_comments.id FROM mz_internal.mz_comments", "42704",
		     "unknown catalog item 'mz_catalog.mz_comments'", 8);
	assert_int_equal(cat_parse("SELECT * FROM mz_secrets s JOIN mz_aws_connections a USING (id)"
				   " JOIN mz_object_dependencies d ON d.object_id = a.id", 115,
				   &st, &n, &e), 0);
	assert_int_equal(st[0].nselect_hidden, 1);
	assert_string_equal(st[0].select_hidden[0].schema, "mz_internal");
	assert_string_equal(st[0].select_hidden[0].name, "mz_aws_connections");
	cat_stmts_free(st, n);
	assert_int_equal(cat_parse("SELECT * FROM mz_internal.mz_aws_connections", 44, &st, &n, &e), 0);
	assert_int_equal(st[0].nselect_hidden, 0);
	cat_stmts_free(st, n);
}

static void test_select_unknown_schema_or_sqlite_internals_fail(void **state)
{
	(void)state;
	expect_error("SELECT * FROM public.t", "42704", "unknown catalog item 'public.t'", 15);
	expect_error("SELECT * FROM other.mz_catalog.mz_secrets", "42704",
		     "unknown catalog item 'other.mz_catalog.mz_secrets'", 15);
	expect_error("SELECT * FROM sqlite_master", "42704", "unknown catalog item 'sqlite_master'", 15);
	expect_error("SELECT * FROM \"SQLITE_SCHEMA\"", "42704",
		     "unknown catalog item '\"SQLITE_SCHEMA\"'", 15);
	expect_error("SELECT * FROM pragma_table_info", "42704",
		     "unknown catalog item 'pragma_table_info'", 15);
	expect_error("SELECT * FROM pragma_table_info('x')", "0A000",
		     "table functions are not supported", 15);
	expect_error("SELECT load_extension('x')", "0A000", "function load_extension is not supported", 8);
	expect_error("SELECT zeroblob(1000000000)", "0A000", "function zeroblob is not supported", 8);
	expect_error("SELECT x.y.z.w FROM mz_secrets", "42704", "unknown catalog item 'x.y.z'", 8);
}

static void test_select_parameters_are_kept(void **state)
{
	(void)state;
	struct cat_stmt *st = parse_one("SELECT name FROM mz_secrets WHERE name = $2 OR id = $1");
	assert_int_equal(st->nparams, 2);
	assert_string_equal(st->select_sql,
			    "SELECT \"name\" AS \"name\" FROM \"mz_secrets\" WHERE ((\"name\" = $2) OR (\"id\" = $1))");
	assert_sqlite_accepts(st->select_sql);
	cat_stmts_free(st, 1);
}

static void test_select_casts_translate(void **state)
{
	(void)state;
	expect_select("SELECT oid::text FROM mz_secrets",
		      "SELECT CAST(\"oid\" AS TEXT) AS \"oid\" FROM \"mz_secrets\"");
	expect_select("SELECT CAST('5' AS integer), '1'::bigint, 'x'::varchar(10)",
		      "SELECT CAST('5' AS INTEGER) AS \"int4\", CAST('1' AS INTEGER) AS \"int8\", "
		      "CAST('x' AS TEXT) AS \"varchar\"");
	expect_error("SELECT 'x'::regclass", "0A000", "casting to type regclass is not supported", 11);
	expect_error("SELECT 'x'::text[]", "0A000", "casting to type text[] is not supported", 11);
	expect_error("SELECT a[1] FROM mz_secrets", "0A000", "array subscripts are not supported", 9);
}

static void test_select_like_becomes_glob(void **state)
{
	(void)state;
	expect_select("SELECT name FROM mz_secrets WHERE name LIKE 'a%b_c*[\\%'",
		      "SELECT \"name\" AS \"name\" FROM \"mz_secrets\" WHERE (\"name\" GLOB 'a*b?c[*][[]%')");
	expect_select("SELECT name FROM mz_secrets WHERE name NOT ILIKE 'A%'",
		      "SELECT \"name\" AS \"name\" FROM \"mz_secrets\" WHERE (lower(\"name\") NOT LIKE lower('A%') ESCAPE '\\')");
	expect_select("SELECT 1 FROM mz_secrets WHERE name LIKE id",
		      "SELECT 1 AS \"?column?\" FROM \"mz_secrets\" WHERE (\"name\" LIKE \"id\" ESCAPE '\\')");
	expect_error("SELECT 1 WHERE 'a' LIKE 'x\\'", "22025",
		     "LIKE pattern must not end with escape character", 25);
}

static void test_select_order_limit_offset(void **state)
{
	(void)state;
	expect_select("SELECT name FROM mz_secrets ORDER BY name DESC, id OFFSET 2 LIMIT 5",
		      "SELECT \"name\" AS \"name\" FROM \"mz_secrets\" ORDER BY \"name\" DESC NULLS FIRST, "
		      "\"id\" ASC NULLS LAST LIMIT 5 OFFSET 2");
	expect_select("SELECT name FROM mz_secrets ORDER BY 1 NULLS FIRST OFFSET 1 ROWS",
		      "SELECT \"name\" AS \"name\" FROM \"mz_secrets\" ORDER BY 1 ASC NULLS FIRST LIMIT -1 OFFSET 1");
	expect_select("SELECT name FROM mz_secrets LIMIT ALL",
		      "SELECT \"name\" AS \"name\" FROM \"mz_secrets\" LIMIT -1");
}

static void test_select_aggregates_joins_and_predicates(void **state)
{
	(void)state;
	expect_select("SELECT count(*) FROM mz_secrets", "SELECT count(*) AS \"count\" FROM \"mz_secrets\"");
	expect_select("SELECT s.name, sc.name AS schema FROM mz_secrets s JOIN mz_schemas sc ON s.schema_id = sc.id "
		      "WHERE s.name IN ('a', 'b') AND s.owner_id IS NOT NULL AND NOT s.id BETWEEN 'u1' AND 'u9'",
		      "SELECT \"s\".\"name\" AS \"name\", \"sc\".\"name\" AS \"schema\" FROM \"mz_secrets\" AS \"s\" "
		      "JOIN \"mz_schemas\" AS \"sc\" ON (\"s\".\"schema_id\" = \"sc\".\"id\") WHERE "
		      "(((\"s\".\"name\" IN ('a', 'b')) AND (\"s\".\"owner_id\" IS NOT NULL)) AND "
		      "(NOT (\"s\".\"id\" BETWEEN 'u1' AND 'u9')))");
	expect_select("SELECT lower(s.name), coalesce(owner_id, 'none'), coalesce(id) FROM mz_secrets s LEFT OUTER JOIN mz_schemas USING (id)",
		      "SELECT lower(\"s\".\"name\") AS \"lower\", coalesce(\"owner_id\", 'none') AS \"coalesce\", "
		      "\"id\" AS \"coalesce\" FROM \"mz_secrets\" AS \"s\" LEFT JOIN \"mz_schemas\" USING (\"id\")");
	expect_select("SELECT name FROM mz_secrets WHERE id IN (SELECT id FROM mz_schemas) "
		      "UNION ALL SELECT name FROM mz_schemas WHERE EXISTS (SELECT 1)",
		      "SELECT \"name\" AS \"name\" FROM \"mz_secrets\" WHERE (\"id\" IN (SELECT \"id\" AS \"id\" FROM \"mz_schemas\")) "
		      "UNION ALL SELECT \"name\" AS \"name\" FROM \"mz_schemas\" WHERE (EXISTS (SELECT 1 AS \"?column?\"))");
	/* PostgreSQL precedence survives SQLite's: || binds looser than + */
	expect_select("SELECT 'a' || 1 + 2", "SELECT ('a' || (1 + 2)) AS \"?column?\"");
	expect_select("SELECT CASE WHEN 1 != 2 THEN 'y' ELSE 'n' END",
		      "SELECT (CASE WHEN (1 <> 2) THEN 'y' ELSE 'n' END) AS \"case\"");
	expect_select("SELECT count(DISTINCT name) FROM mz_secrets GROUP BY id HAVING count(*) > 1",
		      "SELECT count(DISTINCT \"name\") AS \"count\" FROM \"mz_secrets\" GROUP BY \"id\" HAVING (count(*) > 1)");
}

static void test_select_unsupported_features(void **state)
{
	(void)state;
	expect_error("SELECT DISTINCT ON (a) a FROM mz_secrets", "0A000", "DISTINCT ON is not supported", 17);
	expect_error("SELECT 1 FROM mz_secrets NATURAL JOIN mz_schemas", "0A000",
		     "NATURAL JOIN is not supported", 26);
	expect_error("SELECT 1 FOR UPDATE", "0A000", "SELECT ... FOR is not supported", 10);
	expect_error("SELECT 1 INTERSECT ALL SELECT 2", "0A000", "INTERSECT ALL is not supported", 20);
	expect_error("SELECT FROM", "42601", "Expected an expression, found FROM", 8);
	expect_error("SELECT 1 FROM mz_secrets JOIN mz_schemas", "42601",
		     "Expected one of ON or USING, found EOF", 41);
	expect_error("SELECT lower(1, 2)", "42883", "function lower does not take 2 arguments", 8);
	expect_error("SELECT 1 INTO x", "42601", "Expected end of statement, found identifier \"into\"", 10);
}

static void test_select_long_and_chain_fails_cleanly(void **state)
{
	(void)state;
	const size_t n = 5000;
	char *sql = malloc(32 + n * 9);
	size_t off;

	assert_non_null(sql);
	off = (size_t)sprintf(sql, "SELECT 1 WHERE 1=1");
	for (size_t i = 0; i < n; i++)
		off += (size_t)sprintf(sql + off, " AND 1=1");
	expect_error(sql, "54001", "statement is too deeply nested", -1);
	free(sql);
}

static void test_show_where_is_rewritten(void **state)
{
	(void)state;
	struct cat_stmt *st = parse_one("SHOW SECRETS WHERE \"Name\" LIKE 'x%' AND mz_catalog.mz_secrets.c = $1");
	assert_string_equal(st->where_sql, "((\"Name\" GLOB 'x*') AND (\"mz_secrets\".\"c\" = $1))");
	assert_int_equal(st->nparams, 1);
	cat_stmts_free(st, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_select_constant),
		cmocka_unit_test(test_select_strips_catalog_qualifiers),
		cmocka_unit_test(test_select_relation_must_be_reachable_as_written),
		cmocka_unit_test(test_select_unknown_schema_or_sqlite_internals_fail),
		cmocka_unit_test(test_select_parameters_are_kept),
		cmocka_unit_test(test_select_casts_translate),
		cmocka_unit_test(test_select_like_becomes_glob),
		cmocka_unit_test(test_select_order_limit_offset),
		cmocka_unit_test(test_select_aggregates_joins_and_predicates),
		cmocka_unit_test(test_select_unsupported_features),
		cmocka_unit_test(test_select_long_and_chain_fails_cleanly),
		cmocka_unit_test(test_show_where_is_rewritten),
	};
	return cmocka_run_group_tests(tests, setup_db, teardown_db);
}
