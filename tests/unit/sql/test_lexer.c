/* Lexer (SQL.md 1): identifiers, literals, operators, comments, UTF-8,
 * token printing and error positions. */
#include "sql_test.h"

#include "lexer.h"

static struct cat_lexed lex_ok(const char *sql)
{
	struct cat_lexed lx;
	struct err e;

	if (cat_lex(sql, strlen(sql), &lx, &e)) {
		print_error("lex [%s]: %s %s\n", sql, e.sqlstate, e.message);
		fail();
	}
	return lx;
}

static void lex_err(const char *sql, size_t len, const char *state, const char *msg, int pos)
{
	struct cat_lexed lx;
	struct err e;

	assert_int_equal(cat_lex(sql, len, &lx, &e), -1);
	assert_null(lx.toks);
	if (strcmp(e.sqlstate, state) || strcmp(e.message, msg) || e.position != pos) {
		print_error("want %s \"%s\" at %d, got %s \"%s\" at %d\n", state, msg, pos,
			    e.sqlstate, e.message, e.position);
		fail();
	}
	/* cat_parse reports the same */
	expect_error_n(sql, len, state, msg, pos);
}

#define LEX_ERR(s, st, m, p) lex_err(s, sizeof(s) - 1, st, m, p)

static void test_lex_unquoted_identifiers_fold_to_lower_case(void **state)
{
	(void)state;
	struct cat_lexed lx = lex_ok("FooBar _x1$ é9");
	assert_int_equal(lx.ntoks, 4);
	assert_int_equal(lx.toks[0].kind, CAT_TOK_IDENT);
	assert_string_equal(lx.toks[0].val, "foobar");
	assert_int_equal(lx.toks[0].start, 0);
	assert_int_equal(lx.toks[0].end, 6);
	assert_string_equal(lx.toks[1].val, "_x1$");
	assert_string_equal(lx.toks[2].val, "é9");   /* non-ASCII starts an identifier */
	assert_int_equal(lx.toks[3].kind, CAT_TOK_EOF);
	cat_lex_free(&lx);
}

static void test_lex_quoted_identifier_keeps_case_and_unescapes(void **state)
{
	(void)state;
	struct cat_lexed lx = lex_ok("\"Foo\"\"Bar\" \"select\"");
	assert_int_equal(lx.toks[0].kind, CAT_TOK_IDENT);
	assert_true(lx.toks[0].flags & CAT_TOKF_QUOTED);
	assert_string_equal(lx.toks[0].val, "Foo\"Bar");
	assert_false(cat_tok_is_kw(&lx.toks[1], "SELECT"));  /* quoted: never a keyword */
	cat_lex_free(&lx);
}

static void test_lex_empty_quoted_identifier_fails(void **state)
{
	(void)state;
	LEX_ERR("SELECT \"\"", "42601", "zero-length delimited identifier", 8);
}

static void test_lex_dot_quoted_identifiers_fail(void **state)
{
	(void)state;
	LEX_ERR("\".\"", "42601", "invalid identifier \".\"", 1);
	LEX_ERR("x \"..\"", "42601", "invalid identifier \"..\"", 3);
}

static void test_lex_identifier_length_limit(void **state)
{
	(void)state;
	char sql[600];
	struct cat_lexed lx;

	memset(sql, 'a', 255);
	sql[255] = '\0';
	lx = lex_ok(sql);
	assert_int_equal(lx.toks[0].vlen, 255);
	cat_lex_free(&lx);
	memset(sql, 'a', 256);
	sql[256] = '\0';
	lex_err(sql, 256, "42622", "identifier length exceeds 255 bytes", 1);
	sql[0] = '"';
	memset(sql + 1, 'B', 256);
	sql[257] = '"';
	sql[258] = '\0';
	lex_err(sql, 258, "42622", "identifier length exceeds 255 bytes", 1);
	sql[256] = '"';   /* 255 bytes quoted: fine */
	sql[257] = '\0';
	lx = lex_ok(sql);
	assert_int_equal(lx.toks[0].vlen, 255);
	cat_lex_free(&lx);
}

static void test_lex_string_doubled_quote_and_backslash(void **state)
{
	(void)state;
	struct cat_lexed lx = lex_ok("'it''s' 'a\\nb' ''");
	assert_int_equal(lx.toks[0].kind, CAT_TOK_STRING);
	assert_string_equal(lx.toks[0].val, "it's");
	assert_string_equal(lx.toks[1].val, "a\\nb");   /* standard_conforming_strings */
	assert_int_equal(lx.toks[2].vlen, 0);
	cat_lex_free(&lx);
}

static void test_lex_strings_concatenate_only_across_newline(void **state)
{
	(void)state;
	struct cat_lexed lx = lex_ok("'a'\n  'b' \t\r\n'c' 'd'");
	assert_int_equal(lx.ntoks, 3);
	assert_string_equal(lx.toks[0].val, "abc");
	assert_int_equal(lx.toks[0].start, 0);
	assert_string_equal(lx.toks[1].val, "d");   /* same line: two tokens */
	cat_lex_free(&lx);
}

static void test_lex_unterminated_string_fails(void **state)
{
	(void)state;
	LEX_ERR("SELECT 'abc", "42601", "unterminated quoted string", 8);
	LEX_ERR("SELECT 'a'\n'b", "42601", "unterminated quoted string", 8);
	LEX_ERR("SELECT \"abc", "42601", "unterminated quoted identifier", 8);
}

static void test_lex_unsupported_string_forms(void **state)
{
	(void)state;
	LEX_ERR("SELECT E'x'", "0A000", "E'...' string literals are not supported", 8);
	LEX_ERR("SELECT e'x'", "0A000", "E'...' string literals are not supported", 8);
	LEX_ERR("SELECT X'0a'", "0A000", "X'...' string literals are not supported", 8);
	LEX_ERR("SELECT $$x$$", "0A000", "$$...$$ string literals are not supported", 8);
	LEX_ERR("SELECT $tag$x$tag$", "0A000", "$$...$$ string literals are not supported", 8);
}

static void test_lex_numbers_and_parameters(void **state)
{
	(void)state;
	struct cat_lexed lx = lex_ok("42 1.5 .5 1e10 $1 $65535");
	assert_int_equal(lx.toks[0].kind, CAT_TOK_NUMBER);
	assert_true(lx.toks[0].flags & CAT_TOKF_INTEGER);
	assert_string_equal(lx.toks[0].val, "42");
	assert_false(lx.toks[1].flags & CAT_TOKF_INTEGER);
	assert_string_equal(lx.toks[2].val, ".5");
	assert_string_equal(lx.toks[3].val, "1e10");
	assert_int_equal(lx.toks[4].kind, CAT_TOK_PARAM);
	assert_int_equal(lx.toks[4].param, 1);
	assert_int_equal(lx.toks[5].param, 65535);
	cat_lex_free(&lx);
	LEX_ERR("SELECT $0", "42P02", "there is no parameter $0", 8);
	LEX_ERR("SELECT $99999", "42P02", "parameter number too large", 8);
}

static void test_lex_operators_and_punctuation(void **state)
{
	(void)state;
	static const char *const ops[] = { "||", "<=", ">=", "<>", "!=", "::", "<", ">",
					   "+", "-", "*", "/", "%" };
	struct cat_lexed lx = lex_ok("|| <= >= <> != :: < > + - * / % ( ) [ ] , . ; =");
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		assert_int_equal(lx.toks[i].kind, CAT_TOK_OP);
		assert_string_equal(lx.toks[i].val, ops[i]);
	}
	assert_int_equal(lx.toks[i++].kind, CAT_TOK_LPAREN);
	assert_int_equal(lx.toks[i++].kind, CAT_TOK_RPAREN);
	assert_int_equal(lx.toks[i++].kind, CAT_TOK_LBRACKET);
	assert_int_equal(lx.toks[i++].kind, CAT_TOK_RBRACKET);
	assert_int_equal(lx.toks[i++].kind, CAT_TOK_COMMA);
	assert_int_equal(lx.toks[i++].kind, CAT_TOK_DOT);
	assert_int_equal(lx.toks[i++].kind, CAT_TOK_SEMI);
	assert_int_equal(lx.toks[i++].kind, CAT_TOK_EQ);
	assert_int_equal(lx.toks[i].kind, CAT_TOK_EOF);
	cat_lex_free(&lx);
	LEX_ERR("SELECT 1 ? 2", "42601", "unexpected character in input: ?", 10);
	LEX_ERR("SELECT a | b", "42601", "unexpected character in input: |", 10);
}

static void test_lex_comments_are_skipped(void **state)
{
	(void)state;
	struct cat_lexed lx = lex_ok("a -- comment 'x'\n/* one /* nested */ still */ b--end");
	assert_int_equal(lx.ntoks, 3);
	assert_string_equal(lx.toks[0].val, "a");
	assert_string_equal(lx.toks[1].val, "b");
	cat_lex_free(&lx);
}

static void test_lex_unterminated_comment_fails(void **state)
{
	(void)state;
	LEX_ERR("SELECT 1 /* open", "42601", "unterminated multiline comment", 10);
	LEX_ERR("x /* a /* b */ c", "42601", "unterminated multiline comment", 3);
}

static void test_lex_invalid_utf8_fails(void **state)
{
	(void)state;
	LEX_ERR("SELECT '\xff'", "22021", "invalid byte sequence for encoding \"UTF8\": 0xff", 9);
	LEX_ERR("ab\xc3\x28", "22021", "invalid byte sequence for encoding \"UTF8\": 0xc3 0x28", 3);
	LEX_ERR("x\xe2\x82", "22021", "invalid byte sequence for encoding \"UTF8\": 0xe2 0x82", 2);
	/* overlong '/' and a UTF-16 surrogate are not UTF-8 */
	LEX_ERR("\xc0\xaf", "22021", "invalid byte sequence for encoding \"UTF8\": 0xc0 0xaf", 1);
	LEX_ERR("\xed\xa0\x80", "22021",
		"invalid byte sequence for encoding \"UTF8\": 0xed 0xa0 0x80", 1);
	/* position counts characters: é is one */
	LEX_ERR("é\xff", "22021", "invalid byte sequence for encoding \"UTF8\": 0xff", 2);
}

static void test_lex_nul_byte_is_rejected(void **state)
{
	(void)state;
	LEX_ERR("SELECT '\0'", "22021", "invalid byte sequence for encoding \"UTF8\": 0x00", 9);
}

static void test_lex_error_position_counts_characters_not_bytes(void **state)
{
	(void)state;
	/* 'ééé' is 3 characters, 6 bytes */
	LEX_ERR("'ééé' /*", "42601", "unterminated multiline comment", 7);
}

static void test_token_descriptions(void **state)
{
	(void)state;
	struct cat_lexed lx = lex_ok("foo SELECT \"Q\" 'lit' 5 $2 || ( ) [ ] , . ; = secret");
	static const char *const want[] = {
		"identifier \"foo\"", "SELECT", "identifier \"Q\"", "string literal \"lit\"",
		"number \"5\"", "parameter \"$2\"", "operator \"||\"", "left parenthesis",
		"right parenthesis", "left square bracket", "right square bracket", "comma",
		"dot", "semicolon", "equals sign", "SECRET", "EOF",
	};
	char buf[200];

	assert_int_equal(lx.ntoks, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < lx.ntoks; i++) {
		cat_tok_describe(&lx.toks[i], 0, buf, sizeof(buf));
		assert_string_equal(buf, want[i]);
	}
	cat_tok_describe(&lx.toks[3], 1, buf, sizeof(buf));
	assert_string_equal(buf, "string literal");
	cat_lex_free(&lx);
}

static void test_token_description_is_cut_on_character_boundary(void **state)
{
	(void)state;
	char sql[400], buf[200];
	struct cat_lexed lx;
	size_t n = 0;

	sql[n++] = '\'';
	for (int i = 0; i < 100; i++) {
		memcpy(sql + n, "é", 2);
		n += 2;
	}
	sql[n++] = '\'';
	sql[n] = '\0';
	lx = lex_ok(sql);
	cat_tok_describe(&lx.toks[0], 0, buf, sizeof(buf));
	assert_int_equal(strncmp(buf, "string literal \"éé", 19), 0);
	assert_non_null(strstr(buf, "...\""));
	assert_int_equal(cat_utf8_check(buf, strlen(buf), &(struct err){ 0 }), 0);
	cat_lex_free(&lx);
}

static void test_utf8_trim_drops_partial_character(void **state)
{
	(void)state;
	char s[] = "ab\xc3\xa9\xe2\x82";
	cat_utf8_trim(s);
	assert_string_equal(s, "ab\xc3\xa9");
}

static void test_reserved_words(void **state)
{
	(void)state;
	assert_true(cat_is_reserved("select"));
	assert_true(cat_is_reserved("AS"));
	assert_false(cat_is_reserved("tunnel"));
	assert_true(cat_is_keyword("tunnel"));
	assert_false(cat_is_keyword("foo"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lex_unquoted_identifiers_fold_to_lower_case),
		cmocka_unit_test(test_lex_quoted_identifier_keeps_case_and_unescapes),
		cmocka_unit_test(test_lex_empty_quoted_identifier_fails),
		cmocka_unit_test(test_lex_dot_quoted_identifiers_fail),
		cmocka_unit_test(test_lex_identifier_length_limit),
		cmocka_unit_test(test_lex_string_doubled_quote_and_backslash),
		cmocka_unit_test(test_lex_strings_concatenate_only_across_newline),
		cmocka_unit_test(test_lex_unterminated_string_fails),
		cmocka_unit_test(test_lex_unsupported_string_forms),
		cmocka_unit_test(test_lex_numbers_and_parameters),
		cmocka_unit_test(test_lex_operators_and_punctuation),
		cmocka_unit_test(test_lex_comments_are_skipped),
		cmocka_unit_test(test_lex_unterminated_comment_fails),
		cmocka_unit_test(test_lex_invalid_utf8_fails),
		cmocka_unit_test(test_lex_nul_byte_is_rejected),
		cmocka_unit_test(test_lex_error_position_counts_characters_not_bytes),
		cmocka_unit_test(test_token_descriptions),
		cmocka_unit_test(test_token_description_is_cut_on_character_boundary),
		cmocka_unit_test(test_utf8_trim_drops_partial_character),
		cmocka_unit_test(test_reserved_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
