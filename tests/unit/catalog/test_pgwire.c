/* pgwire framing, decoding and encoding without sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pgwire.h"

static size_t put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
	return 4;
}

static void test_frame_message_needs_whole_message(void **state)
{
	uint8_t buf[16] = { 'Q' };
	size_t body, total;
	char type;
	(void)state;

	put32(buf + 1, 9);
	memcpy(buf + 5, "abcd", 4);
	assert_int_equal(pgw_frame_message(buf, 4, &type, &body, &total), PGW_FRAME_NEED_MORE);
	assert_int_equal(pgw_frame_message(buf, 8, &type, &body, &total), PGW_FRAME_NEED_MORE);
	assert_int_equal(pgw_frame_message(buf, 10, &type, &body, &total), PGW_FRAME_OK);
	assert_int_equal(type, 'Q');
	assert_int_equal(body, 5);
	assert_int_equal(total, 10);
}

static void test_frame_message_lying_lengths(void **state)
{
	uint8_t buf[8] = { 'Q' };
	size_t body, total;
	char type;
	(void)state;

	put32(buf + 1, 3);
	assert_int_equal(pgw_frame_message(buf, 5, &type, &body, &total), PGW_FRAME_BAD_LENGTH);
	put32(buf + 1, 0xffffffffu);
	assert_int_equal(pgw_frame_message(buf, 5, &type, &body, &total), PGW_FRAME_BAD_LENGTH);
	put32(buf + 1, PGW_MAX_MESSAGE + 1);
	/* Reported from the header alone, before 2 MiB arrive. */
	assert_int_equal(pgw_frame_message(buf, 5, &type, &body, &total), PGW_FRAME_TOO_LARGE);
	put32(buf + 1, 4);
	assert_int_equal(pgw_frame_message(buf, 5, &type, &body, &total), PGW_FRAME_OK);
	assert_int_equal(body, 0);
}

static void test_frame_startup_limits(void **state)
{
	uint8_t buf[8];
	size_t body, total;
	(void)state;

	put32(buf, 7);
	assert_int_equal(pgw_frame_startup(buf, 4, &body, &total), PGW_FRAME_BAD_LENGTH);
	put32(buf, PGW_MAX_STARTUP + 1);
	assert_int_equal(pgw_frame_startup(buf, 4, &body, &total), PGW_FRAME_TOO_LARGE);
	put32(buf, 8);
	assert_int_equal(pgw_frame_startup(buf, 7, &body, &total), PGW_FRAME_NEED_MORE);
	assert_int_equal(pgw_frame_startup(buf, 8, &body, &total), PGW_FRAME_OK);
	assert_int_equal(body, 4);
}

static size_t startup_body(uint8_t *p, uint32_t code, const char *pairs, size_t plen)
{
	size_t n = put32(p, code);
	memcpy(p + n, pairs, plen);
	return n + plen;
}

static void test_startup_v3_user_database(void **state)
{
	static const char pairs[] = "user\0alice\0database\0materialize\0application_name\0psql\0";
	uint8_t body[128];
	size_t len = startup_body(body, PGW_PROTOCOL_V3, pairs, sizeof(pairs));
	struct pgw_startup st;
	struct err e;
	(void)state;

	assert_int_equal(pgw_parse_startup(body, len, &st, &e), 0);
	assert_string_equal(st.user, "alice");
	assert_string_equal(st.database, "materialize");
	assert_string_equal(st.application_name, "psql");
}

static void test_startup_database_defaults_to_user(void **state)
{
	static const char pairs[] = "user\0bob\0";
	uint8_t body[64];
	size_t len = startup_body(body, PGW_PROTOCOL_V3, pairs, sizeof(pairs));
	struct pgw_startup st;
	struct err e;
	(void)state;

	assert_int_equal(pgw_parse_startup(body, len, &st, &e), 0);
	assert_string_equal(st.database, "bob");
}

static void test_startup_errors(void **state)
{
	static const char no_user[] = "database\0x\0";
	static const char unterminated[] = { 'u', 's', 'e', 'r', 0, 'a' };
	uint8_t body[64];
	struct pgw_startup st;
	struct err e;
	size_t len;
	(void)state;

	len = startup_body(body, PGW_PROTOCOL_V3, no_user, sizeof(no_user));
	assert_int_equal(pgw_parse_startup(body, len, &st, &e), -1);
	assert_string_equal(e.sqlstate, "28000");
	len = startup_body(body, PGW_PROTOCOL_V3, unterminated, sizeof(unterminated));
	assert_int_equal(pgw_parse_startup(body, len, &st, &e), -1);
	assert_string_equal(e.sqlstate, "08P01");
	len = startup_body(body, 2u << 16, no_user, sizeof(no_user));
	assert_int_equal(pgw_parse_startup(body, len, &st, &e), -1);
	assert_string_equal(e.sqlstate, "0A000");
}

static void test_startup_requests(void **state)
{
	uint8_t body[16];
	struct pgw_startup st;
	struct err e;
	(void)state;

	put32(body, PGW_SSL_REQUEST);
	assert_int_equal(pgw_parse_startup(body, 4, &st, &e), 0);
	assert_int_equal(st.code, PGW_SSL_REQUEST);
	put32(body, PGW_CANCEL_REQUEST);
	put32(body + 4, 1234);
	put32(body + 8, 0xdeadbeef);
	assert_int_equal(pgw_parse_startup(body, 12, &st, &e), 0);
	assert_int_equal(st.cancel_pid, 1234);
	assert_int_equal(st.cancel_key, 0xdeadbeef);
	/* Truncated cancel request. */
	assert_int_equal(pgw_parse_startup(body, 8, &st, &e), -1);
}

static void test_bind_text_params(void **state)
{
	/* portal "", stmt "s", 0 formats, 2 params ("ab", NULL), 0 results */
	static const uint8_t body[] = { 0, 's', 0, 0, 0, 0, 2, 0, 0, 0, 2, 'a', 'b',
					0xff, 0xff, 0xff, 0xff, 0, 0 };
	struct pgw_bind_msg m;
	struct err e;
	(void)state;

	assert_int_equal(pgw_parse_bind(body, sizeof(body), &m, &e), 0);
	assert_int_equal(m.nparams, 2);
	assert_string_equal(m.values[0], "ab");
	assert_null(m.values[1]);
	assert_string_equal(m.stmt, "s");
	pgw_bind_free(&m);
}

static void test_bind_binary_and_lying_lengths(void **state)
{
	static const uint8_t binary[] = { 0, 0, 0, 1, 0, 1, 0, 0, 0, 0 };
	static const uint8_t lying[] = { 0, 0, 0, 0, 0, 1, 0, 0, 0x10, 0, 'x', 0, 0 };
	struct pgw_bind_msg m;
	struct err e;
	(void)state;

	assert_int_equal(pgw_parse_bind(binary, sizeof(binary), &m, &e), -1);
	assert_string_equal(e.sqlstate, "0A000");
	assert_int_equal(pgw_parse_bind(lying, sizeof(lying), &m, &e), -1);
	assert_string_equal(e.sqlstate, "08P01");
}

static void test_parse_message(void **state)
{
	static const uint8_t body[] = { 'p', 0, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', 0,
					0, 1, 0, 0, 0, 25 };
	struct pgw_parse_msg m;
	struct err e;
	(void)state;

	assert_int_equal(pgw_parse_parse(body, sizeof(body), &m, &e), 0);
	assert_string_equal(m.stmt, "p");
	assert_string_equal(m.query, "SELECT 1");
	assert_int_equal(m.ntypes, 1);
	assert_int_equal(m.types[0], 25);
	free(m.types);
	assert_int_equal(pgw_parse_parse(body, sizeof(body) - 1, &m, &e), -1);
}

static void test_error_response_fields(void **state)
{
	struct pgw_buf b = { 0 };
	struct err e;
	const char *p;
	(void)state;

	err_set(&e, "42710", "secret \"x\" already exists");
	err_hint(&e, "try another");
	e.position = 7;
	assert_int_equal(pgw_error(&b, "ERROR", &e), 0);
	assert_int_equal(b.data[0], 'E');
	assert_int_equal(((uint32_t)b.data[1] << 24 | b.data[2] << 16 | b.data[3] << 8 | b.data[4]) + 1,
			 b.len);
	p = memmem(b.data, b.len, "C42710", 7);
	assert_non_null(p);
	assert_non_null(memmem(b.data, b.len, "Htry another", 13));
	assert_non_null(memmem(b.data, b.len, "P7", 3));
	assert_null(memmem(b.data, b.len, "D", 2));
	assert_int_equal(b.data[b.len - 1], 0);
	pgw_buf_free(&b);
}

static void test_row_description_and_data_row(void **state)
{
	struct pgw_buf b = { 0 };
	const char *names[] = { "name", "n" };
	const uint32_t oids[] = { PGW_OID_TEXT, PGW_OID_INT8 };
	const char *vals[] = { "abc", NULL };
	const int lens[] = { 3, -1 };
	(void)state;

	assert_int_equal(pgw_row_description(&b, 2, names, oids), 0);
	assert_int_equal(b.data[0], 'T');
	assert_int_equal(b.data[5], 0);
	assert_int_equal(b.data[6], 2);
	size_t off = b.len;
	assert_int_equal(pgw_data_row(&b, 2, vals, lens), 0);
	assert_int_equal(b.data[off], 'D');
	/* count 2, len 3 "abc", len -1 */
	static const uint8_t want[] = { 0, 2, 0, 0, 0, 3, 'a', 'b', 'c', 0xff, 0xff, 0xff, 0xff };
	assert_memory_equal(b.data + off + 5, want, sizeof(want));
	pgw_buf_free(&b);
}

static void test_buf_consume_wipes_tail(void **state)
{
	struct pgw_buf b = { 0 };
	(void)state;

	assert_int_equal(pgw_buf_append(&b, "SECRETxyz", 9), 0);
	pgw_buf_consume(&b, 6);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "xyz", 3);
	for (size_t i = 3; i < 9; i++)
		assert_int_equal(b.data[i], 0);
	pgw_buf_free(&b);
}

static void test_utf8_validation(void **state)
{
	(void)state;
	assert_true(pgw_utf8_valid("abc", 3));
	assert_true(pgw_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
	assert_false(pgw_utf8_valid("\xff", 1));
	assert_false(pgw_utf8_valid("\xc0\xaf", 2));          /* overlong */
	assert_false(pgw_utf8_valid("\xed\xa0\x80", 3));      /* surrogate */
	assert_false(pgw_utf8_valid("\xe2\x82", 2));          /* truncated */
	assert_false(pgw_utf8_valid("\xf4\x90\x80\x80", 4));  /* > U+10FFFF */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_message_needs_whole_message),
		cmocka_unit_test(test_frame_message_lying_lengths),
		cmocka_unit_test(test_frame_startup_limits),
		cmocka_unit_test(test_startup_v3_user_database),
		cmocka_unit_test(test_startup_database_defaults_to_user),
		cmocka_unit_test(test_startup_errors),
		cmocka_unit_test(test_startup_requests),
		cmocka_unit_test(test_bind_text_params),
		cmocka_unit_test(test_bind_binary_and_lying_lengths),
		cmocka_unit_test(test_parse_message),
		cmocka_unit_test(test_error_response_fields),
		cmocka_unit_test(test_row_description_and_data_row),
		cmocka_unit_test(test_buf_consume_wipes_tail),
		cmocka_unit_test(test_utf8_validation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
