/* Secret values (SQL.md 3.1): accepted forms, decode() formats, every
 * error with its SQLSTATE, the 512 KiB limit. */
#include "sql_test.h"

static void expect_secret(const char *sql, const void *bytes, size_t len)
{
	struct cat_stmt *st = parse_one(sql);

	if (st->value.len != len || (len && memcmp(st->value.bytes, bytes, len))) {
		print_error("value of [%s]: got %zu bytes\n", sql, st->value.len);
		fail();
	}
	assert_non_null(st->value.bytes);   /* even when empty */
	cat_stmts_free(st, 1);
}

static void test_create_secret_text_literal(void **state)
{
	(void)state;
	expect_secret("CREATE SECRET s AS 'pa''ss\\w'", "pa'ss\\w", 7);
	expect_secret("CREATE SECRET s AS 'héllo'", "h\xc3\xa9llo", 6);
	expect_secret("CREATE SECRET s AS ''", "", 0);
	expect_secret("CREATE SECRET s AS 'ab'\n'cd'", "abcd", 4);
}

static void test_create_secret_cast_to_bytea(void **state)
{
	(void)state;
	expect_secret("CREATE SECRET s AS 'x'::bytea", "x", 1);
	expect_secret("CREATE SECRET s AS 'x'::BYTEA::bytea", "x", 1);
	expect_secret("CREATE SECRET s AS CAST('abc' AS bytea)", "abc", 3);
	expect_secret("CREATE SECRET s AS 'x'::pg_catalog.bytea", "x", 1);
	expect_secret("CREATE SECRET s AS ('x')", "x", 1);
}

static void test_create_secret_concatenation_cast_to_bytea(void **state)
{
	(void)state;
	expect_secret("CREATE SECRET s AS ('a' || 'b')::bytea", "ab", 2);
	expect_secret("CREATE SECRET s AS ('a' || 'b' || 'c')::bytea", "abc", 3);
	expect_secret("CREATE SECRET s AS CAST('user:' || 'pw' AS bytea)", "user:pw", 7);
	/* bytea || unknown is bytea */
	expect_secret("CREATE SECRET s AS 'a'::bytea || 'b'", "ab", 2);
}

static void test_create_secret_decode_base64(void **state)
{
	(void)state;
	expect_secret("CREATE SECRET s AS decode('aGVsbG8=', 'base64')", "hello", 5);
	expect_secret("CREATE SECRET s AS decode('aGVs bG8h\n', 'BASE64')", "hello!", 6);
	expect_secret("CREATE SECRET s AS decode('aGk=', 'base64')", "hi", 2);
	expect_secret("CREATE SECRET s AS decode('', 'base64')", "", 0);
	expect_secret("CREATE SECRET s AS pg_catalog.decode('AP8=', 'base64')", "\x00\xff", 2);
}

static void test_create_secret_decode_hex(void **state)
{
	(void)state;
	expect_secret("CREATE SECRET s AS decode('00ff10Ab', 'hex')", "\x00\xff\x10\xab", 4);
	expect_secret("CREATE SECRET s AS decode('00 ff\n10', 'hex')", "\x00\xff\x10", 3);
	expect_secret("CREATE SECRET s AS decode('00', 'hex')::bytea", "\x00", 1);
}

static void test_create_secret_decode_escape(void **state)
{
	(void)state;
	expect_secret("CREATE SECRET s AS decode('a\\\\b\\000\\377', 'escape')", "a\\b\x00\xff", 5);
	expect_secret("CREATE SECRET s AS decode('plain', 'escape')", "plain", 5);
}

static void test_create_secret_decode_errors(void **state)
{
	(void)state;
	expect_error("CREATE SECRET s AS decode('0g', 'hex')", "22023",
		     "invalid hexadecimal digit: \"g\"", 0);
	expect_error("CREATE SECRET s AS decode('0é', 'hex')", "22023",
		     "invalid hexadecimal digit: \"é\"", 0);
	expect_error("CREATE SECRET s AS decode('abc', 'hex')", "22023",
		     "invalid hexadecimal data: odd number of digits", 0);
	expect_error("CREATE SECRET s AS decode('aGVsbG8', 'base64')", "22023",
		     "invalid base64 end sequence", 0);
	expect_error("CREATE SECRET s AS decode('aGV*', 'base64')", "22023",
		     "invalid symbol \"*\" found while decoding base64 sequence", 0);
	expect_error("CREATE SECRET s AS decode('a===', 'base64')", "22023",
		     "unexpected \"=\" while decoding base64 sequence", 0);
	expect_error("CREATE SECRET s AS decode('a\\q', 'escape')", "22P02",
		     "invalid input syntax for type bytea", 0);
	expect_error("CREATE SECRET s AS decode('x', 'rot13')", "22023",
		     "unrecognized encoding: \"rot13\"", 0);
	expect_error("CREATE SECRET s AS decode('x')", "42883",
		     "function decode(unknown) does not exist", 0);
	expect_error("CREATE SECRET s AS decode(1, 'hex')", "42883",
		     "function decode(integer, unknown) does not exist", 0);
}

static void test_create_secret_uncast_concatenation_is_text(void **state)
{
	(void)state;
	expect_error("CREATE SECRET s AS 'a' || 'b'", "42804",
		     "AS must have type bytea, not type text", 0);
	expect_error("CREATE SECRET s AS 'a'::text", "42804",
		     "AS must have type bytea, not type text", 0);
	expect_error("CREATE SECRET s AS 'a'::varchar", "42804",
		     "AS must have type bytea, not type character varying", 0);
	expect_error("CREATE SECRET s AS decode('00', 'hex')::text", "42804",
		     "AS must have type bytea, not type text", 0);
}

static void test_create_secret_integer_is_wrong_type(void **state)
{
	(void)state;
	expect_error("CREATE SECRET s AS 5", "42804", "AS must have type bytea, not type integer", 0);
	expect_error("CREATE SECRET s AS -5", "42804", "AS must have type bytea, not type integer", 0);
	expect_error("CREATE SECRET s AS 99999999999", "42804",
		     "AS must have type bytea, not type bigint", 0);
	expect_error("CREATE SECRET s AS 1.5", "42804", "AS must have type bytea, not type numeric", 0);
	expect_error("CREATE SECRET s AS true", "42804", "AS must have type bytea, not type boolean", 0);
	expect_error("CREATE SECRET s AS 5::bytea", "42846", "cannot cast type integer to bytea", 0);
	expect_error("CREATE SECRET s AS 'x'::nosuchtype", "42704", "type \"nosuchtype\" does not exist", 0);
}

static void test_create_secret_null_fails(void **state)
{
	(void)state;
	expect_error("CREATE SECRET s AS NULL", "22004", "secret value can not be null", 0);
	expect_error("CREATE SECRET s AS NULL::bytea", "22004", "secret value can not be null", 0);
	expect_error("CREATE SECRET s AS decode(NULL, 'hex')", "22004", "secret value can not be null", 0);
	expect_error("ALTER SECRET s AS ('a' || NULL)::bytea", "22004", "secret value can not be null", 0);
	/* the type check comes first, as in Materialize */
	expect_error("CREATE SECRET s AS NULL::text", "42804", "AS must have type bytea, not type text", 0);
}

static void test_create_secret_subquery_fails(void **state)
{
	(void)state;
	expect_error("CREATE SECRET s AS (SELECT 'x')", "0A000", "AS does not allow subqueries", 0);
	expect_error("CREATE SECRET s AS decode((SELECT 'x'), 'hex')", "0A000",
		     "AS does not allow subqueries", 0);
	expect_error("CREATE SECRET s AS 'a' IN (SELECT 'b')", "0A000", "AS does not allow subqueries", 0);
}

static void test_create_secret_other_expressions_fail(void **state)
{
	(void)state;
	static const char *const others[] = {
		"CREATE SECRET s AS x", "CREATE SECRET s AS lower('x')", "CREATE SECRET s AS 1 + 1",
		"CREATE SECRET s AS 'a' = 'b'", "CREATE SECRET s AS current_user",
		"CREATE SECRET s AS CASE WHEN true THEN 'a' END",
		"CREATE SECRET s AS other.decode('x', 'hex')",
	};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		expect_error(others[i], "0A000",
			     "secret values must be a literal, a cast to bytea or decode()", 0);
}

static char *big_literal_stmt(const char *prefix, size_t n, const char *suffix)
{
	size_t pl = strlen(prefix), sl = strlen(suffix);
	char *sql = malloc(pl + n + sl + 1);

	assert_non_null(sql);
	memcpy(sql, prefix, pl);
	memset(sql + pl, 'k', n);
	memcpy(sql + pl + n, suffix, sl + 1);
	return sql;
}

static void test_create_secret_512kib_accepted_and_one_more_byte_rejected(void **state)
{
	(void)state;
	const size_t max = 512 * 1024;
	char *sql = big_literal_stmt("CREATE SECRET s AS '", max, "'");
	struct cat_stmt *st = parse_one(sql);

	assert_int_equal(st->value.len, max);
	assert_int_equal(st->value.bytes[max - 1], 'k');
	cat_stmts_free(st, 1);
	free(sql);
	sql = big_literal_stmt("CREATE SECRET s AS '", max + 1, "'");
	expect_error(sql, "54000", "secrets can not be bigger than 512KiB", 0);
	free(sql);
	/* the limit applies to the decoded bytes: base64 of 512 KiB + 3 */
	{
		size_t raw = max + 3, enc = raw / 3 * 4;
		sql = big_literal_stmt("CREATE SECRET s AS decode('", enc, "', 'base64')");
		expect_error(sql, "54000", "secrets can not be bigger than 512KiB", 0);
		free(sql);
		sql = big_literal_stmt("CREATE SECRET s AS decode('", max / 3 * 4, "', 'base64')");
		st = parse_one(sql);
		assert_int_equal(st->value.len, max / 3 * 3);
		cat_stmts_free(st, 1);
		free(sql);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_secret_text_literal),
		cmocka_unit_test(test_create_secret_cast_to_bytea),
		cmocka_unit_test(test_create_secret_concatenation_cast_to_bytea),
		cmocka_unit_test(test_create_secret_decode_base64),
		cmocka_unit_test(test_create_secret_decode_hex),
		cmocka_unit_test(test_create_secret_decode_escape),
		cmocka_unit_test(test_create_secret_decode_errors),
		cmocka_unit_test(test_create_secret_uncast_concatenation_is_text),
		cmocka_unit_test(test_create_secret_integer_is_wrong_type),
		cmocka_unit_test(test_create_secret_null_fails),
		cmocka_unit_test(test_create_secret_subquery_fails),
		cmocka_unit_test(test_create_secret_other_expressions_fail),
		cmocka_unit_test(test_create_secret_512kib_accepted_and_one_more_byte_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
