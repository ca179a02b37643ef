/* Helpers shared by the tether_sql unit tests: parse and expect success,
 * or expect one exact error (SQLSTATE, message, position). */
#ifndef TETHER_SQL_TEST_H
#define TETHER_SQL_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ast.h"

static inline struct cat_stmt *parse_ok_n(const char *sql, size_t len, size_t *count)
{
	struct cat_stmt *st = NULL;
	struct err e;

	if (cat_parse(sql, len, &st, count, &e) != 0) {
		print_error("unexpected error for [%.200s]: %s %s (position %d)\n", sql,
			    e.sqlstate, e.message, e.position);
		fail();
	}
	assert_non_null(st);
	return st;
}

/* Parses one statement (the string must hold exactly one). */
static inline struct cat_stmt *parse_one(const char *sql)
{
	size_t n = 0;
	struct cat_stmt *st = parse_ok_n(sql, strlen(sql), &n);

	assert_int_equal(n, 1);
	return st;
}

/* position -1: not checked; 0: must have none. */
static inline void expect_error_n(const char *sql, size_t len, const char *sqlstate,
				  const char *message, int position)
{
	struct cat_stmt *st = (struct cat_stmt *)0x1;
	size_t n = 99;
	struct err e;

	if (cat_parse(sql, len, &st, &n, &e) == 0) {
		print_error("expected error %s for [%.200s], got success\n", sqlstate, sql);
		cat_stmts_free(st, n);
		fail();
	}
	assert_null(st);
	assert_int_equal(n, 0);
	if (strcmp(e.sqlstate, sqlstate) || strcmp(e.message, message) ||
	    (position >= 0 && e.position != position)) {
		print_error("for [%.200s]\n  want %s \"%s\" at %d\n  got  %s \"%s\" at %d\n",
			    sql, sqlstate, message, position, e.sqlstate, e.message, e.position);
		fail();
	}
}

static inline void expect_error(const char *sql, const char *sqlstate, const char *message,
				int position)
{
	expect_error_n(sql, strlen(sql), sqlstate, message, position);
}

#endif
