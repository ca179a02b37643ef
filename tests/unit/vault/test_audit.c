/* The audit chain: records verify, continue across restarts, survive a
 * torn tail, and every edit, deletion or reordering is reported at the
 * first record it breaks. */
#include "vtest.h"

#include <sodium.h>

#include "audit.h"
#include "err.h"

static void write_records(struct vtest *t, int n)
{
	struct audit_log a;
	struct err e = { 0 };
	char id[16];

	assert_int_equal(audit_open(&a, t->vdir, &e), 0);
	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "u%d", i + 1);
		struct audit_field f[] = { { "object", id }, { "role", "materialize" } };
		assert_int_equal(audit_append(&a, "secret_put", f, 2, &e), 0);
	}
	assert_int_equal(audit_sync(&a, &e), 0);
	audit_close(&a);
}

/* Splits the file into lines (each keeps its '\n'). */
static size_t split_lines(char *buf, size_t len, char **lines, size_t max)
{
	size_t n = 0;
	char *p = buf, *end = buf + len;

	while (p < end && n < max) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		lines[n++] = p;
		if (!nl)
			break;
		p = nl + 1;
	}
	return n;
}

static void rewrite(const char *path, char **lines, size_t n, char *buf, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	for (size_t i = 0; i < n; i++) {
		char *nl = memchr(lines[i], '\n', (size_t)(buf + len - lines[i]));
		fwrite(lines[i], 1, (size_t)(nl - lines[i]) + 1, f);
	}
	fclose(f);
}

static void assert_bad_at(const char *path, uint64_t want)
{
	struct err e = { 0 };
	uint64_t bad = 0;

	assert_int_equal(audit_verify_file_at(path, &bad, &e), -1);
	if (bad != want)
		fail_msg("expected record %llu, got %llu (%s)", (unsigned long long)want,
			 (unsigned long long)bad, e.message);
	assert_non_null(strstr(e.message, "record"));
}

static void test_chain_verifies(void **state)
{
	struct vtest *t = *state;
	struct err e = { 0 };
	char path[512];

	write_records(t, 5);
	vtest_path(path, sizeof(path), t, "audit.log");
	assert_int_equal(audit_verify_file(path, &e), 5);
	assert_true(vtest_file_contains_str(path, "seq=1 "));
	assert_true(vtest_file_contains_str(path, " event=secret_put object=u3 role=materialize prev="));
	/* Restart continues the chain. */
	write_records(t, 3);
	assert_int_equal(audit_verify_file(path, &e), 8);
	assert_true(vtest_file_contains_str(path, "seq=8 "));
}

static void test_flipped_byte_detected(void **state)
{
	struct vtest *t = *state;
	char path[512], *buf, *lines[16];
	size_t len;

	write_records(t, 5);
	vtest_path(path, sizeof(path), t, "audit.log");
	buf = (char *)vtest_read(path, &len);
	assert_int_equal(split_lines(buf, len, lines, 16), 5);
	char *obj = strstr(lines[2], "object=u3");
	assert_non_null(obj);
	obj[8] = '9';                                /* u3 -> u9 */
	vtest_write(path, buf, len);
	assert_bad_at(path, 3);
	free(buf);
}

static void test_deleted_line_detected(void **state)
{
	struct vtest *t = *state;
	char path[512], *buf, *lines[16];
	size_t len;

	write_records(t, 5);
	vtest_path(path, sizeof(path), t, "audit.log");
	buf = (char *)vtest_read(path, &len);
	assert_int_equal(split_lines(buf, len, lines, 16), 5);
	char *keep[] = { lines[0], lines[2], lines[3], lines[4] };
	rewrite(path, keep, 4, buf, len);
	assert_bad_at(path, 2);
	free(buf);
}

static void test_swapped_lines_detected(void **state)
{
	struct vtest *t = *state;
	char path[512], *buf, *lines[16];
	size_t len;

	write_records(t, 5);
	vtest_path(path, sizeof(path), t, "audit.log");
	buf = (char *)vtest_read(path, &len);
	assert_int_equal(split_lines(buf, len, lines, 16), 5);
	char *swapped[] = { lines[0], lines[1], lines[3], lines[2], lines[4] };
	rewrite(path, swapped, 5, buf, len);
	assert_bad_at(path, 3);
	free(buf);
}

static void test_torn_tail_truncated_on_open(void **state)
{
	struct vtest *t = *state;
	struct audit_log a;
	struct err e = { 0 };
	char path[512];
	off_t good;

	write_records(t, 3);
	vtest_path(path, sizeof(path), t, "audit.log");
	good = vtest_size(path);
	vtest_append(path, "seq=4 ts=2026-01-01T00:00:00.000Z event=secr", 44);
	assert_bad_at(path, 4);                     /* the verifier sees it */
	assert_int_equal(audit_open(&a, t->vdir, &e), 0);
	assert_int_equal(a.truncated_bytes, 44);
	assert_int_equal(a.seq, 3);
	assert_int_equal(vtest_size(path), good);
	struct audit_field f[] = { { "object", "u4" } };
	assert_int_equal(audit_append(&a, "secret_delete", f, 1, &e), 0);
	assert_int_equal(audit_sync(&a, &e), 0);
	audit_close(&a);
	assert_int_equal(audit_verify_file(path, &e), 4);
}

static void test_edited_tail_refused_on_open(void **state)
{
	struct vtest *t = *state;
	struct audit_log a;
	struct err e = { 0 };
	char path[512], *buf, *p;
	size_t len;

	write_records(t, 3);
	vtest_path(path, sizeof(path), t, "audit.log");
	buf = (char *)vtest_read(path, &len);
	p = strstr(buf, "object=u3");
	assert_non_null(p);
	p[8] = '7';
	vtest_write(path, buf, len);
	assert_int_equal(audit_open(&a, t->vdir, &e), -1);
	assert_non_null(strstr(e.message, "does not verify"));
	free(buf);
}

static void test_hostile_values_stay_on_one_line(void **state)
{
	struct vtest *t = *state;
	struct audit_log a;
	struct err e = { 0 };
	char path[512], *buf, *lines[8];
	size_t len;

	assert_int_equal(audit_open(&a, t->vdir, &e), 0);
	struct audit_field f[] = {
		{ "detail", "x\nseq=99 hash=00 prev=11" },
		{ "name", "a b \"c\"" },
	};
	assert_int_equal(audit_append(&a, "ddl", f, 2, &e), 0);
	assert_int_equal(audit_append(&a, "ddl", f, 1, &e), 0);
	assert_int_equal(audit_sync(&a, &e), 0);
	audit_close(&a);
	vtest_path(path, sizeof(path), t, "audit.log");
	buf = (char *)vtest_read(path, &len);
	assert_int_equal(split_lines(buf, len, lines, 8), 2);
	assert_int_equal(audit_verify_file(path, &e), 2);
	assert_int_equal(audit_open(&a, t->vdir, &e), 0);
	assert_int_equal(a.seq, 2);
	audit_close(&a);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_chain_verifies, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_flipped_byte_detected, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_deleted_line_detected, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_swapped_lines_detected, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail_truncated_on_open, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_edited_tail_refused_on_open, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_hostile_values_stay_on_one_line, vtest_setup, vtest_teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
