/* Statements (SQL.md 3): secrets DDL, DROP, SHOW, SET/RESET/SHOW var,
 * transactions, splitting, all-or-nothing, errors with positions, limits,
 * tags. */
#include "sql_test.h"

static void test_create_secret_plain(void **state)
{
	(void)state;
	struct cat_stmt *st = parse_one("CREATE SECRET pw AS 'hunter2'");
	assert_int_equal(st->kind, CAT_STMT_CREATE_SECRET);
	assert_int_equal(st->name.nparts, 1);
	assert_string_equal(st->name.parts[0], "pw");
	assert_false(st->if_not_exists);
	assert_int_equal(st->value.len, 7);
	assert_memory_equal(st->value.bytes, "hunter2", 7);
	assert_int_equal(st->start, 0);
	assert_int_equal(st->end, strlen("CREATE SECRET pw AS 'hunter2'"));
	assert_string_equal(cat_stmt_tag(st), "CREATE SECRET");
	assert_string_equal(cat_stmt_name(st), "CREATE SECRET");
	cat_stmts_free(st, 1);
}

static void test_create_secret_if_not_exists_qualified(void **state)
{
	(void)state;
	struct cat_stmt *st = parse_one("create secret if not exists Materialize.\"Public\".S1 as 'x'");
	assert_true(st->if_not_exists);
	assert_int_equal(st->name.nparts, 3);
	assert_string_equal(st->name.parts[0], "materialize");
	assert_string_equal(st->name.parts[1], "Public");
	assert_string_equal(st->name.parts[2], "s1");
	cat_stmts_free(st, 1);
}

static void test_create_secret_name_with_four_parts_fails(void **state)
{
	(void)state;
	expect_error("CREATE SECRET a.b.c.d AS 'x'", "42601",
		     "qualified name did not have between 1 and 3 components: a.b.c.d", 15);
	expect_error("DROP SECRET a.\"B\".c.d", "42601",
		     "qualified name did not have between 1 and 3 components: a.\"B\".c.d", 13);
}

static void test_create_secret_syntax_errors(void **state)
{
	(void)state;
	/* strings in secret statements print without their contents */
	expect_error("CREATE SECRET s 'hunter2'", "42601", "Expected AS, found string literal", 17);
	expect_error("CREATE SECRET AS 'x'", "42601", "Expected identifier, found AS", 15);
	expect_error("CREATE SECRET s AS", "42601", "Expected an expression, found EOF", 19);
	expect_error("CREATE SECRET s AS;", "42601", "Expected an expression, found semicolon", 19);
	expect_error("CREATE SECRET s AS 'x' 'y'", "42601",
		     "Expected end of statement, found string literal", 24);
	expect_error("CREATE SECRET IF EXISTS s AS 'x'", "42601", "Expected AS, found EXISTS", 18);
	expect_error("CREATE TABLE t", "42601",
		     "Expected one of SECRET or CONNECTION or ROLE or DATABASE or SCHEMA, found identifier \"table\"", 8);
	expect_error("CREATE CONNECTION c TO KAFKA BROKER 'x'", "42601",
		     "Expected left parenthesis, found BROKER", 30);
}

static void test_create_secret_parameter_is_not_supported(void **state)
{
	(void)state;
	expect_error("CREATE SECRET s AS $1", "0A000",
		     "parameters in DDL statements are not supported", 20);
}

static void test_alter_secret_value(void **state)
{
	(void)state;
	struct cat_stmt *st = parse_one("ALTER SECRET IF EXISTS db.sch.s AS 'new'");
	assert_int_equal(st->kind, CAT_STMT_ALTER_SECRET_VALUE);
	assert_true(st->if_exists);
	assert_int_equal(st->name.nparts, 3);
	assert_int_equal(st->value.len, 3);
	assert_string_equal(cat_stmt_tag(st), "ALTER SECRET");
	cat_stmt_wipe_value(st);
	assert_null(st->value.bytes);
	assert_int_equal(st->value.len, 0);
	cat_stmts_free(st, 1);
}

static void test_alter_secret_rename(void **state)
{
	(void)state;
	struct cat_stmt *st = parse_one("ALTER SECRET s RENAME TO \"New\"");
	assert_int_equal(st->kind, CAT_STMT_ALTER_SECRET_RENAME);
	assert_string_equal(st->new_name, "New");
	assert_string_equal(cat_stmt_tag(st), "ALTER SECRET");
	cat_stmts_free(st, 1);
}

static void test_alter_secret_rename_to_qualified_name_fails(void **state)
{
	(void)state;
	expect_error("ALTER SECRET s RENAME TO a.b", "42601", "Expected end of statement, found dot", 27);
	expect_error("ALTER SECRET s RENAME a", "42601", "Expected TO, found identifier \"a\"", 23);
	/* OWNER TO parses (catalog/sql/parser_rbac.c; tests/unit/catalog/test_rbac.c). */
	expect_error("ALTER SECRET s OWNER r", "42601", "Expected TO, found identifier \"r\"", 22);
	expect_error("ALTER SECRET s SET 'x'", "42601",
		     "Expected one of AS or RENAME or OWNER, found SET", 16);
}

static void test_drop_secrets_list_cascade(void **state)
{
	(void)state;
	struct cat_stmt *st = parse_one("DROP SECRET IF EXISTS a, s.b, d.s.c CASCADE");
	assert_int_equal(st->kind, CAT_STMT_DROP_OBJECTS);
	assert_int_equal(st->object_kind, CAT_OBJ_SECRET);
	assert_true(st->if_exists);
	assert_true(st->cascade);
	assert_int_equal(st->nnames, 3);
	assert_string_equal(st->names[0].parts[0], "a");
	assert_int_equal(st->names[1].nparts, 2);
	assert_string_equal(st->names[2].parts[2], "c");
	assert_string_equal(cat_stmt_tag(st), "DROP SECRET");
	cat_stmts_free(st, 1);
}

static void test_drop_connection_restrict_is_default(void **state)
{
	(void)state;
	struct cat_stmt *st = parse_one("DROP CONNECTION k");
	assert_int_equal(st->object_kind, CAT_OBJ_CONNECTION);
	assert_false(st->cascade);
	assert_false(st->if_exists);
	assert_string_equal(cat_stmt_tag(st), "DROP CONNECTION");
	cat_stmts_free(st, 1);
	st = parse_one("DROP CONNECTION k RESTRICT");
	assert_false(st->cascade);
	cat_stmts_free(st, 1);
	expect_error("DROP SECRET a,", "42601", "Expected identifier, found EOF", 15);
	expect_error("DROP SECRET a b", "42601", "Expected end of statement, found identifier \"b\"", 15);
}

static void test_show_secrets_from_like(void **state)
{
	(void)state;
	struct cat_stmt *st = parse_one("SHOW SECRETS FROM db.sch LIKE 'a%'");
	assert_int_equal(st->kind, CAT_STMT_SHOW_OBJECTS);
	assert_int_equal(st->object_kind, CAT_OBJ_SECRET);
	assert_true(st->has_from);
	assert_int_equal(st->from_schema.nparts, 2);
	assert_string_equal(st->like_pattern, "a%");
	assert_null(st->where_sql);
	assert_string_equal(cat_stmt_tag(st), "SHOW");
	assert_string_equal(cat_stmt_name(st), "SHOW SECRETS");
	cat_stmts_free(st, 1);
}

static void test_show_connections_where(void **state)
{
	(void)state;
	struct cat_stmt *st = parse_one("SHOW CONNECTIONS WHERE name = 'k' AND Type <> 'x'");
	assert_int_equal(st->object_kind, CAT_OBJ_CONNECTION);
	assert_false(st->has_from);
	assert_null(st->like_pattern);
	assert_string_equal(st->where_sql, "((\"name\" = 'k') AND (\"type\" <> 'x'))");
	cat_stmts_free(st, 1);
	expect_error("SHOW SECRETS FROM a.b.c", "42601",
		     "qualified name did not have between 1 and 2 components: a.b.c", 19);
	expect_error("SHOW SECRETS LIKE x", "42601",
		     "Expected literal string, found identifier \"x\"", 19);
	expect_error("SHOW SECRETS LIKE 'a' WHERE true", "42601",
		     "Expected end of statement, found WHERE", 23);
}

static void test_show_variable_forms(void **state)
{
	(void)state;
	static const struct { const char *sql, *var; } cases[] = {
		{ "SHOW server_version", "server_version" },
		{ "show ALL", "all" },
		{ "SHOW TIME ZONE", "timezone" },
		{ "SHOW TRANSACTION ISOLATION LEVEL", "transaction_isolation" },
		{ "SHOW \"DateStyle\"", "DateStyle" },
		{ "SHOW myapp.setting", "myapp.setting" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cat_stmt *st = parse_one(cases[i].sql);
		assert_int_equal(st->kind, CAT_STMT_SHOW_VAR);
		assert_string_equal(st->var_name, cases[i].var);
		assert_string_equal(cat_stmt_tag(st), "SHOW");
		cat_stmts_free(st, 1);
	}
	expect_error("SHOW CREATE SECRET c", "42601", "Expected CONNECTION, found SECRET", 13);
}

static void test_set_variable_forms(void **state)
{
	(void)state;
	static const struct {
		const char *sql, *var, *value;
		int local;
	} cases[] = {
		{ "SET extra_float_digits = 3", "extra_float_digits", "3", 0 },
		{ "SET application_name TO 'psql'", "application_name", "psql", 0 },
		{ "SET SESSION DateStyle = ISO", "datestyle", "iso", 0 },
		{ "SET LOCAL statement_timeout = -5", "statement_timeout", "-5", 1 },
		{ "SET search_path = public, \"My\"", "search_path", "public, \"My\"", 0 },
		{ "SET search_path TO DEFAULT", "search_path", NULL, 0 },
		{ "SET TIME ZONE 'UTC'", "timezone", "UTC", 0 },
		{ "SET TIME ZONE LOCAL", "timezone", NULL, 0 },
		{ "SET NAMES 'UTF8'", "client_encoding", "UTF8", 0 },
		{ "SET client_min_messages = on", "client_min_messages", "on", 0 },
		{ "SET SCHEMA 'public'", "search_path", "public", 0 },
		{ "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED",
		  "default_transaction_isolation", "read committed", 0 },
		{ "SET TRANSACTION READ ONLY", "transaction_read_only", "on", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cat_stmt *st = parse_one(cases[i].sql);
		assert_int_equal(st->kind, CAT_STMT_SET_VAR);
		assert_string_equal(st->var_name, cases[i].var);
		if (cases[i].value)
			assert_string_equal(st->var_value, cases[i].value);
		else
			assert_null(st->var_value);
		assert_int_equal(st->var_is_local, cases[i].local);
		assert_false(st->var_is_reset);
		assert_string_equal(cat_stmt_tag(st), "SET");
		cat_stmts_free(st, 1);
	}
	expect_error("SET x 1", "42601", "Expected equals sign or TO, found number \"1\"", 7);
	expect_error("SET x = ", "42601", "Expected variable value, found EOF", 9);
	expect_error("SET x = (1)", "42601", "Expected variable value, found left parenthesis", 9);
}

static void test_reset_forms(void **state)
{
	(void)state;
	struct cat_stmt *st = parse_one("RESET ALL");
	assert_int_equal(st->kind, CAT_STMT_SET_VAR);
	assert_true(st->var_is_reset);
	assert_string_equal(st->var_name, "all");
	assert_null(st->var_value);
	assert_string_equal(cat_stmt_tag(st), "RESET");
	cat_stmts_free(st, 1);
	st = parse_one("reset Search_Path");
	assert_string_equal(st->var_name, "search_path");
	cat_stmts_free(st, 1);
	st = parse_one("RESET TIME ZONE");
	assert_string_equal(st->var_name, "timezone");
	cat_stmts_free(st, 1);
}

static void test_transaction_statements(void **state)
{
	(void)state;
	static const struct {
		const char *sql;
		enum cat_stmt_kind kind;
		const char *tag;
	} cases[] = {
		{ "BEGIN", CAT_STMT_BEGIN, "BEGIN" },
		{ "begin work", CAT_STMT_BEGIN, "BEGIN" },
		{ "BEGIN TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY", CAT_STMT_BEGIN, "BEGIN" },
		{ "BEGIN READ WRITE NOT DEFERRABLE", CAT_STMT_BEGIN, "BEGIN" },
		{ "START TRANSACTION ISOLATION LEVEL REPEATABLE READ", CAT_STMT_BEGIN, "START TRANSACTION" },
		{ "COMMIT", CAT_STMT_COMMIT, "COMMIT" },
		{ "COMMIT WORK AND NO CHAIN", CAT_STMT_COMMIT, "COMMIT" },
		{ "END TRANSACTION", CAT_STMT_COMMIT, "COMMIT" },
		{ "ROLLBACK", CAT_STMT_ROLLBACK, "ROLLBACK" },
		{ "ABORT WORK", CAT_STMT_ROLLBACK, "ROLLBACK" },
		{ "DISCARD ALL", CAT_STMT_DISCARD, "DISCARD ALL" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cat_stmt *st = parse_one(cases[i].sql);
		assert_int_equal(st->kind, cases[i].kind);
		assert_string_equal(cat_stmt_tag(st), cases[i].tag);
		cat_stmts_free(st, 1);
	}
	expect_error("BEGIN ISOLATION LEVEL SOMETIMES", "42601",
		     "Expected one of SERIALIZABLE or REPEATABLE READ or READ COMMITTED or READ UNCOMMITTED, found identifier \"sometimes\"", 23);
	expect_error("DISCARD PLANS", "42601", "Expected ALL, found identifier \"plans\"", 9);
	expect_error("START", "42601", "Expected TRANSACTION, found EOF", 6);
	expect_error("COMMIT AND CHAIN", "0A000", "COMMIT AND CHAIN is not supported", 8);
	expect_error("ROLLBACK TO SAVEPOINT a", "0A000", "ROLLBACK TO SAVEPOINT is not supported", 10);
}

static void test_empty_query_gives_one_empty_statement(void **state)
{
	(void)state;
	static const char *const empties[] = { "", ";", "  -- only a comment", ";;/* c */;", "\n" };
	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		size_t n = 0;
		struct cat_stmt *st = parse_ok_n(empties[i], strlen(empties[i]), &n);
		assert_int_equal(n, 1);
		assert_int_equal(st->kind, CAT_STMT_EMPTY);
		assert_string_equal(cat_stmt_tag(st), "");
		cat_stmts_free(st, n);
	}
}

static void test_multiple_statements_split_on_semicolons(void **state)
{
	(void)state;
	const char *sql = "SET a = 1;; CREATE SECRET s AS 'x;y' ; SELECT 1;";
	size_t n = 0;
	struct cat_stmt *st = parse_ok_n(sql, strlen(sql), &n);

	assert_int_equal(n, 3);
	assert_int_equal(st[0].kind, CAT_STMT_SET_VAR);
	assert_int_equal(st[1].kind, CAT_STMT_CREATE_SECRET);
	assert_int_equal(st[1].value.len, 3);
	assert_memory_equal(st[1].value.bytes, "x;y", 3);
	assert_int_equal(st[1].start, 12);
	assert_int_equal(st[1].end, 36);
	assert_int_equal(st[2].kind, CAT_STMT_SELECT);
	cat_stmts_free(st, n);
}

static void test_late_syntax_error_fails_everything(void **state)
{
	(void)state;
	expect_error("CREATE SECRET a AS 'x'; CREATE SECRET b AS 'y'; DROP SECRET", "42601",
		     "Expected identifier, found EOF", 60);
	/* a value error late in the string also returns nothing */
	expect_error("CREATE SECRET a AS 'x'; CREATE SECRET b AS 5", "42804",
		     "AS must have type bytea, not type integer", 0);
	/* a syntax error wins over an earlier value error: all parse first */
	expect_error("CREATE SECRET a AS 5; SELEC", "42601",
		     "Expected a keyword at the beginning of a statement, found identifier \"selec\"", 23);
}

static void test_unknown_statement_start(void **state)
{
	(void)state;
	expect_error("foo bar", "42601",
		     "Expected a keyword at the beginning of a statement, found identifier \"foo\"", 1);
	expect_error("  (SELECT 1)", "42601",
		     "Expected a keyword at the beginning of a statement, found left parenthesis", 3);
	expect_error("INSERT INTO t VALUES (1)", "0A000", "INSERT is not supported", 1);
	expect_error("WITH x AS (SELECT 1) SELECT * FROM x", "0A000", "WITH is not supported", 1);
	expect_error("ATTACH DATABASE 'x' AS y", "0A000", "ATTACH is not supported", 1);
	expect_error("PRAGMA table_info(x)", "0A000", "PRAGMA is not supported", 1);
}

static void test_error_position_in_second_statement(void **state)
{
	(void)state;
	/* position counts characters of the whole query string */
	expect_error("SELECT 'é'; DROP SECRET ,", "42601", "Expected identifier, found comma", 25);
}

static void test_statement_too_long(void **state)
{
	(void)state;
	size_t len = CAT_MAX_STATEMENT + 1;
	char *sql = malloc(len);

	assert_non_null(sql);
	memset(sql, ' ', len);
	memcpy(sql, "SELECT 1", 8);
	expect_error_n(sql, len, "54000", "statement is too long", 0);
	/* exactly the limit is fine */
	{
		size_t n = 0;
		struct cat_stmt *st = parse_ok_n(sql, len - 1, &n);
		assert_int_equal(n, 1);
		cat_stmts_free(st, n);
	}
	free(sql);
}

static void test_deeply_nested_parentheses_fail_cleanly(void **state)
{
	(void)state;
	const size_t depth = 10000;
	const char *prefixes[] = { "SELECT ", "CREATE SECRET s AS ", "SHOW SECRETS WHERE " };

	for (size_t k = 0; k < 3; k++) {
		size_t pl = strlen(prefixes[k]);
		char *sql = malloc(pl + 2 * depth + 2);
		assert_non_null(sql);
		memcpy(sql, prefixes[k], pl);
		memset(sql + pl, '(', depth);
		sql[pl + depth] = '1';
		memset(sql + pl + depth + 1, ')', depth);
		sql[pl + 2 * depth + 1] = '\0';
		expect_error(sql, "54001", "statement is too deeply nested", -1);
		free(sql);
	}
}

static void test_deep_unary_and_not_chains_fail_cleanly(void **state)
{
	(void)state;
	const size_t n = 20000;
	char *sql = malloc(7 + 4 * n + 2);   /* also holds "- " * n */
	size_t off;

	assert_non_null(sql);
	memcpy(sql, "SELECT ", 7);
	off = 7;
	for (size_t i = 0; i < n; i++) {
		memcpy(sql + off, "NOT ", 4);
		off += 4;
	}
	memcpy(sql + off, "1", 2);
	expect_error(sql, "54001", "statement is too deeply nested", -1);
	off = 7;
	for (size_t i = 0; i < n; i++) {   /* "--" would be a comment */
		sql[off++] = '-';
		sql[off++] = ' ';
	}
	memcpy(sql + off, "1", 2);
	expect_error(sql, "54001", "statement is too deeply nested", -1);
	free(sql);
}

static void test_moderate_nesting_is_fine(void **state)
{
	(void)state;
	char sql[512];
	size_t off = (size_t)snprintf(sql, sizeof(sql), "SELECT ");

	for (int i = 0; i < 50; i++)
		sql[off++] = '(';
	sql[off++] = '1';
	for (int i = 0; i < 50; i++)
		sql[off++] = ')';
	sql[off] = '\0';
	cat_stmts_free(parse_one(sql), 1);
}

static void test_reserved_word_needs_quotes_as_name(void **state)
{
	(void)state;
	struct cat_stmt *st;

	expect_error("CREATE SECRET select AS 'x'", "42601", "Expected identifier, found SELECT", 15);
	st = parse_one("CREATE SECRET \"select\" AS 'x'");
	assert_string_equal(st->name.parts[0], "select");
	cat_stmts_free(st, 1);
	/* non-reserved keywords are fine names (the seed names one tunnel) */
	st = parse_one("CREATE SECRET tunnel AS 'x'");
	assert_string_equal(st->name.parts[0], "tunnel");
	cat_stmts_free(st, 1);
}

static void test_statement_name_for_transaction_message(void **state)
{
	(void)state;
	struct cat_stmt *st = parse_one("DROP SECRET x");
	assert_string_equal(cat_stmt_name(st), "DROP SECRET");
	cat_stmts_free(st, 1);
	st = parse_one("SHOW CONNECTIONS");
	assert_string_equal(cat_stmt_name(st), "SHOW CONNECTIONS");
	cat_stmts_free(st, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_secret_plain),
		cmocka_unit_test(test_create_secret_if_not_exists_qualified),
		cmocka_unit_test(test_create_secret_name_with_four_parts_fails),
		cmocka_unit_test(test_create_secret_syntax_errors),
		cmocka_unit_test(test_create_secret_parameter_is_not_supported),
		cmocka_unit_test(test_alter_secret_value),
		cmocka_unit_test(test_alter_secret_rename),
		cmocka_unit_test(test_alter_secret_rename_to_qualified_name_fails),
		cmocka_unit_test(test_drop_secrets_list_cascade),
		cmocka_unit_test(test_drop_connection_restrict_is_default),
		cmocka_unit_test(test_show_secrets_from_like),
		cmocka_unit_test(test_show_connections_where),
		cmocka_unit_test(test_show_variable_forms),
		cmocka_unit_test(test_set_variable_forms),
		cmocka_unit_test(test_reset_forms),
		cmocka_unit_test(test_transaction_statements),
		cmocka_unit_test(test_empty_query_gives_one_empty_statement),
		cmocka_unit_test(test_multiple_statements_split_on_semicolons),
		cmocka_unit_test(test_late_syntax_error_fails_everything),
		cmocka_unit_test(test_unknown_statement_start),
		cmocka_unit_test(test_error_position_in_second_statement),
		cmocka_unit_test(test_statement_too_long),
		cmocka_unit_test(test_deeply_nested_parentheses_fail_cleanly),
		cmocka_unit_test(test_deep_unary_and_not_chains_fail_cleanly),
		cmocka_unit_test(test_moderate_nesting_is_fine),
		cmocka_unit_test(test_reserved_word_needs_quotes_as_name),
		cmocka_unit_test(test_statement_name_for_transaction_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
