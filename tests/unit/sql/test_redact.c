/* cat_redact: audit text never carries a string literal (or a comment,
 * which may hold one); text that does not lex is replaced whole. */
#include "sql_test.h"

static void expect_redacted(const char *sql, const char *want)
{
	char *r = cat_redact(sql, strlen(sql));

	assert_non_null(r);
	if (strcmp(r, want) != 0) {
		print_error("redact [%s]\n  want %s\n  got  %s\n", sql, want, r);
		fail();
	}
	free(r);
}

static void test_redact_replaces_string_literals(void **state)
{
	(void)state;
	expect_redacted("CREATE SECRET s AS 'hunter2'", "CREATE SECRET s AS '<REDACTED>'");
	expect_redacted("CREATE SECRET \"S\" AS decode('aGk=', 'base64')",
			"CREATE SECRET \"S\" AS decode('<REDACTED>', '<REDACTED>')");
	expect_redacted("ALTER SECRET s AS 'a'\n'b'", "ALTER SECRET s AS '<REDACTED>'");
	expect_redacted("CREATE SECRET s AS 'it''s'", "CREATE SECRET s AS '<REDACTED>'");
	expect_redacted("DROP SECRET a, b", "DROP SECRET a, b");
}

static void test_redact_drops_comments(void **state)
{
	(void)state;
	expect_redacted("CREATE SECRET s AS 'x' -- the password is hunter2",
			"CREATE SECRET s AS '<REDACTED>'");
	expect_redacted("/* hunter2 */CREATE/* x */SECRET s AS 'x'",
			"CREATE SECRET s AS '<REDACTED>'");
}

static void test_redact_unlexable_text_is_replaced_whole(void **state)
{
	(void)state;
	expect_redacted("CREATE SECRET s AS 'hunter2", "<unparsable statement>");
	expect_redacted("CREATE SECRET s AS E'hunter2'", "<unparsable statement>");
	expect_redacted("CREATE SECRET s AS $$hunter2$$", "<unparsable statement>");
	expect_redacted("CREATE SECRET s AS 'hunter2\xff'", "<unparsable statement>");
	expect_redacted("SELECT 1 /* hunter2", "<unparsable statement>");
}

static void test_redaction_never_leaves_a_literal(void **state)
{
	(void)state;
	static const char *const stmts[] = {
		"CREATE SECRET s AS 'hunter2'",
		"CREATE SECRET s AS ('hun' || 'ter2')::bytea",
		"CREATE SECRET s AS CAST('hunter2' AS bytea); SELECT 'hunter2'",
		"SHOW SECRETS LIKE 'hunter2'",
		"SET x = 'hunter2'",
		"CREATE SECRET s AS 'a'   'hunter2'",
		"CREATE SECRET s AS\n'hunter2'\n'hunter2'",
	};
	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		char *r = cat_redact(stmts[i], strlen(stmts[i]));
		assert_non_null(r);
		assert_null(strstr(r, "hunter2"));
		assert_null(strstr(r, "hun"));
		free(r);
	}
}

static void test_redact_too_long_statement(void **state)
{
	(void)state;
	size_t len = CAT_MAX_STATEMENT + 1;
	char *sql = malloc(len);
	char *r;

	assert_non_null(sql);
	memset(sql, 'a', len);
	r = cat_redact(sql, len);
	assert_string_equal(r, "<statement too long>");
	free(r);
	free(sql);
}

static void test_secret_parse_errors_do_not_echo_literals(void **state)
{
	(void)state;
	struct cat_stmt *st = NULL;
	size_t n = 0;
	struct err e;

	assert_int_equal(cat_parse("CREATE SECRET s 'hunter2'", 25, &st, &n, &e), -1);
	assert_null(strstr(e.message, "hunter2"));
	assert_int_equal(cat_parse("ALTER SECRET s AS 'x' 'hunter2'", 31, &st, &n, &e), -1);
	assert_null(strstr(e.message, "hunter2"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redact_replaces_string_literals),
		cmocka_unit_test(test_redact_drops_comments),
		cmocka_unit_test(test_redact_unlexable_text_is_replaced_whole),
		cmocka_unit_test(test_redaction_never_leaves_a_literal),
		cmocka_unit_test(test_redact_too_long_statement),
		cmocka_unit_test(test_secret_parse_errors_do_not_echo_literals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
