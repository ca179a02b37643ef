/* Peer authentication: passwd lookup and the login rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "auth.h"

struct fx {
	char dir[64], db[128], passwd[128];
	struct cat_store st;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct err e;
	FILE *p;

	snprintf(f->dir, sizeof(f->dir), "/tmp/tether-cat-auth-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/catalog.db", f->dir);
	snprintf(f->passwd, sizeof(f->passwd), "%s/passwd", f->dir);
	p = fopen(f->passwd, "w");
	assert_non_null(p);
	fputs("root:x:0:0:root:/root:/bin/bash\nbroken line\n"
	      "materialize:x:1500:1500::/home/m:/bin/sh\nalice:x:1501:1501::/:/bin/sh\n", p);
	fclose(p);
	assert_int_equal(cat_store_open(&f->st, f->db, &e), 0);
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

static void test_os_user_lookup(void **state)
{
	struct fx *f = *state;
	char name[64];

	assert_int_equal(cat_auth_os_user(f->passwd, 1501, name, sizeof(name)), 0);
	assert_string_equal(name, "alice");
	assert_int_equal(cat_auth_os_user(f->passwd, 4242, name, sizeof(name)), -1);
	assert_int_equal(cat_auth_os_user("/nonexistent", 0, name, sizeof(name)), -1);
}

static void test_own_uid_and_root_may_be_any_role(void **state)
{
	struct fx *f = *state;
	struct cat_role role;
	struct err e;

	assert_int_equal(cat_auth_login(&f->st, f->passwd, 1000, 1000, "materialize",
					"materialize", &role, &e), 0);
	assert_string_equal(role.id, "u1");
	assert_int_equal(cat_auth_login(&f->st, f->passwd, 0, 1000, "materialize",
					"materialize", &role, &e), 0);
}

static void test_other_uid_only_as_own_name(void **state)
{
	struct fx *f = *state;
	struct cat_role role;
	struct err e;

	/* alice may not pose as materialize. */
	assert_int_equal(cat_auth_login(&f->st, f->passwd, 1501, 1000, "materialize",
					"materialize", &role, &e), -1);
	assert_string_equal(e.sqlstate, "28000");
	/* OS user materialize maps to the role materialize. */
	assert_int_equal(cat_auth_login(&f->st, f->passwd, 1500, 1000, "materialize",
					"materialize", &role, &e), 0);
}

static void test_unknown_role_and_database(void **state)
{
	struct fx *f = *state;
	struct cat_role role;
	struct err e;

	assert_int_equal(cat_auth_login(&f->st, f->passwd, 0, 0, "bob", "materialize",
					&role, &e), -1);
	assert_string_equal(e.sqlstate, "28000");
	assert_string_equal(e.message, "role \"bob\" does not exist");
	assert_int_equal(cat_auth_login(&f->st, f->passwd, 0, 0, "materialize", "other",
					&role, &e), -1);
	assert_string_equal(e.sqlstate, "3D000");
	assert_string_equal(e.message, "database \"other\" does not exist");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_os_user_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_uid_and_root_may_be_any_role, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_uid_only_as_own_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_role_and_database, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
