/* Roles and privileges (catalog/rbac.c): ACL text parse/render/grant/revoke,
 * ownership transfer, and the checks executors call, against a real SQLite
 * store with roles, memberships and ACLs; peer login of non-bootstrap
 * roles. */
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
#include "rbac_int.h"

/* ---- ACL text ---- */

static void test_acl_roundtrip(void **state)
{
	static const char *const texts[] = {
		"{}", "{u1=U/u1}", "{=U/u1,u1=UC/u1}", "{u2=RB/u1}", "{u10=UCRB/s1,=C/u3}",
	};
	struct cat_acl acl;
	char buf[CAT_ACL_TEXT_MAX];
	struct err e;

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		assert_int_equal(cat_acl_parse(texts[i], &acl, &e), 0);
		cat_acl_render(&acl, buf, sizeof(buf));
		assert_string_equal(buf, texts[i]);
	}
}

static void test_acl_malformed_rejected(void **state)
{
	static const char *const bad[] = {
		"", "{", "}", "u1=U/u1", "{u1=U/u1", "{u1=X/u1}", "{u1=U}", "{u1=U/}",
		"{U1=U/u1}", "{u1=U/u1,}", "{u1=U/u1}x", "{u1=U/u1;u2=U/u1}", "{u1 =U/u1}",
	};
	struct cat_acl acl;
	struct err e;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_clear(&e);
		assert_int_equal(cat_acl_parse(bad[i], &acl, &e), -1);
		assert_string_equal(e.sqlstate, "XX000");
	}
	assert_int_equal(cat_acl_parse(NULL, &acl, &e), -1);
}

static void test_acl_grant_merges_and_revoke_removes(void **state)
{
	struct cat_acl acl;
	char buf[CAT_ACL_TEXT_MAX];
	struct err e;

	(void)state;
	assert_int_equal(cat_acl_parse("{u1=U/u1}", &acl, &e), 0);
	assert_int_equal(cat_acl_grant(&acl, "u2", "u1", CAT_PRIV_USAGE, &e), 0);
	assert_int_equal(cat_acl_grant(&acl, "u2", "u1", CAT_PRIV_CREATE, &e), 0);
	assert_int_equal(cat_acl_grant(&acl, "", "u1", CAT_PRIV_USAGE, &e), 0);
	cat_acl_render(&acl, buf, sizeof(buf));
	assert_string_equal(buf, "{u1=U/u1,u2=UC/u1,=U/u1}");
	cat_acl_revoke(&acl, "u2", CAT_PRIV_USAGE);
	cat_acl_render(&acl, buf, sizeof(buf));
	assert_string_equal(buf, "{u1=U/u1,u2=C/u1,=U/u1}");
	cat_acl_revoke(&acl, "u2", CAT_PRIV_CREATE | CAT_PRIV_USAGE);
	cat_acl_revoke(&acl, "", CAT_PRIV_USAGE);
	cat_acl_revoke(&acl, "u9", CAT_PRIV_USAGE);      /* not there: no-op */
	cat_acl_render(&acl, buf, sizeof(buf));
	assert_string_equal(buf, "{u1=U/u1}");
	/* Granting nothing changes nothing. */
	assert_int_equal(cat_acl_grant(&acl, "u3", "u1", 0, &e), 0);
	assert_int_equal(acl.n, 1);
}

static void test_acl_full_is_an_error(void **state)
{
	struct cat_acl acl = { .n = 0 };
	struct err e;
	char id[CAT_ID_MAX];

	(void)state;
	for (int i = 0; i < CAT_ACL_MAX_ITEMS; i++) {
		snprintf(id, sizeof(id), "u%d", i + 10);
		assert_int_equal(cat_acl_grant(&acl, id, "u1", CAT_PRIV_USAGE, &e), 0);
	}
	assert_int_equal(cat_acl_grant(&acl, "u999", "u1", CAT_PRIV_USAGE, &e), -1);
	assert_string_equal(e.sqlstate, "54000");
	/* An existing grantee still merges. */
	assert_int_equal(cat_acl_grant(&acl, "u10", "u1", CAT_PRIV_CREATE, &e), 0);
}

static void test_acl_privs_of_counts_public_and_roles(void **state)
{
	struct cat_acl acl;
	struct err e;
	const char *alice[] = { "u2" }, *bob_in_team[] = { "u3", "u4" }, *none[] = { "u9" };

	(void)state;
	assert_int_equal(cat_acl_parse("{=U/u1,u2=C/u1,u4=UC/u1}", &acl, &e), 0);
	assert_int_equal(cat_acl_privs_of(&acl, alice, 1), CAT_PRIV_USAGE | CAT_PRIV_CREATE);
	assert_int_equal(cat_acl_privs_of(&acl, bob_in_team, 2), CAT_PRIV_USAGE | CAT_PRIV_CREATE);
	assert_int_equal(cat_acl_privs_of(&acl, none, 1), CAT_PRIV_USAGE);
	assert_int_equal(cat_acl_privs_of(&acl, NULL, 0), CAT_PRIV_USAGE);
	assert_true(cat_acl_mentions(&acl, "u4"));
	assert_true(cat_acl_mentions(&acl, "u1"));     /* as grantor */
	assert_false(cat_acl_mentions(&acl, "u3"));
}

static void test_acl_new_owner_rewrites_and_merges(void **state)
{
	struct cat_acl acl;
	char buf[CAT_ACL_TEXT_MAX];
	struct err e;

	(void)state;
	/* PostgreSQL's aclnewowner: the old owner's entries become the new
	 * owner's, merged with what the new owner already had. */
	assert_int_equal(cat_acl_parse("{u1=U/u1,u2=U/u1,u3=U/u1}", &acl, &e), 0);
	cat_acl_new_owner(&acl, "u1", "u3");
	cat_acl_render(&acl, buf, sizeof(buf));
	assert_string_equal(buf, "{u3=U/u3,u2=U/u3}");
	/* Others' grants by third parties keep their grantor. */
	assert_int_equal(cat_acl_parse("{u1=U/u1,u5=U/u9}", &acl, &e), 0);
	cat_acl_new_owner(&acl, "u1", "u3");
	cat_acl_render(&acl, buf, sizeof(buf));
	assert_string_equal(buf, "{u3=U/u3,u5=U/u9}");
	assert_int_equal(cat_acl_parse("{u1=U/u1,u3=U/u1}", &acl, &e), 0);
	cat_acl_new_owner(&acl, "u1", "u3");
	cat_acl_render(&acl, buf, sizeof(buf));
	assert_string_equal(buf, "{u3=U/u3}");
}

static void test_priv_names_and_grantable(void **state)
{
	char buf[64], acl[CAT_ACL_TEXT_MAX];

	(void)state;
	cat_priv_names(CAT_PRIV_CREATE | CAT_PRIV_USAGE, buf, sizeof(buf));
	assert_string_equal(buf, "USAGE, CREATE");
	cat_priv_names(CAT_PRIV_CREATEDB, buf, sizeof(buf));
	assert_string_equal(buf, "CREATEDB");
	assert_int_equal(cat_priv_grantable(CAT_GRANT_SECRET), CAT_PRIV_USAGE);
	assert_int_equal(cat_priv_grantable(CAT_GRANT_ALL_CONNECTIONS), CAT_PRIV_USAGE);
	assert_int_equal(cat_priv_grantable(CAT_GRANT_SCHEMA), CAT_PRIV_USAGE | CAT_PRIV_CREATE);
	assert_int_equal(cat_priv_grantable(CAT_GRANT_DATABASE), CAT_PRIV_USAGE | CAT_PRIV_CREATE);
	assert_int_equal(cat_priv_grantable(CAT_GRANT_SYSTEM),
			 CAT_PRIV_CREATEROLE | CAT_PRIV_CREATEDB);
	/* SQL.md 9.7: a new object's ACL is <owner>=U/<owner>. */
	cat_rbac_owner_acl(CAT_GRANT_SECRET, "u7", acl, sizeof(acl));
	assert_string_equal(acl, "{u7=U/u7}");
	cat_rbac_owner_acl(CAT_GRANT_SCHEMA, "u7", acl, sizeof(acl));
	assert_string_equal(acl, "{u7=UC/u7}");
}

/* ---- parser (catalog/sql/parser_rbac.c) ---- */

static struct cat_stmt *parse1(const char *sql)
{
	struct cat_stmt *st = NULL;
	size_t n = 0;
	struct err e;

	if (cat_parse(sql, strlen(sql), &st, &n, &e) != 0) {
		fprintf(stderr, "parse failed: %s: %s %s\n", sql, e.sqlstate, e.message);
		fail();
	}
	assert_int_equal(n, 1);
	return st;
}

static void parse_fails(const char *sql, const char *state, const char *message)
{
	struct cat_stmt *st = NULL;
	size_t n = 0;
	struct err e;

	assert_int_equal(cat_parse(sql, strlen(sql), &st, &n, &e), -1);
	if (strcmp(e.sqlstate, state) || (message && strcmp(e.message, message)))
		fprintf(stderr, "%s: got %s %s\n", sql, e.sqlstate, e.message);
	assert_string_equal(e.sqlstate, state);
	if (message)
		assert_string_equal(e.message, message);
}

static void test_parse_role_statements(void **state)
{
	struct cat_stmt *st;

	(void)state;
	st = parse1("CREATE ROLE Alice WITH LOGIN CREATEDB NOCREATEROLE");
	assert_int_equal(st->kind, CAT_STMT_CREATE_ROLE);
	assert_string_equal(st->rbac->role, "alice");
	assert_int_equal(st->rbac->attr_set, CAT_RATTR_LOGIN | CAT_RATTR_CREATEDB | CAT_RATTR_CREATEROLE);
	assert_int_equal(st->rbac->attr_on, CAT_RATTR_LOGIN | CAT_RATTR_CREATEDB);
	assert_string_equal(cat_stmt_tag(st), "CREATE ROLE");
	cat_stmts_free(st, 1);
	st = parse1("ALTER ROLE \"Bob\" NOSUPERUSER PASSWORD NULL");
	assert_int_equal(st->kind, CAT_STMT_ALTER_ROLE);
	assert_string_equal(st->rbac->role, "Bob");
	assert_int_equal(st->rbac->password, 2);
	cat_stmts_free(st, 1);
	st = parse1("DROP ROLE IF EXISTS a, b");
	assert_int_equal(st->kind, CAT_STMT_DROP_ROLE);
	assert_true(st->if_exists);
	assert_int_equal(st->rbac->nroles, 2);
	assert_string_equal(st->rbac->roles[1], "b");
	cat_stmts_free(st, 1);
	parse_fails("CREATE ROLE a SUPERUSER NOSUPERUSER", "42601", "conflicting or redundant options");
	parse_fails("CREATE ROLE a NOINHERIT", "0A000", "NOINHERIT is not supported");
	parse_fails("CREATE ROLE a PASSWORD 5", "42601", NULL);
	/* A password never reaches a message. */
	{
		struct cat_stmt *x = NULL;
		size_t n = 0;
		struct err e;
		assert_int_equal(cat_parse("CREATE ROLE a PASSWORD 'hunter2' 'hunter3'", 41, &x, &n, &e), -1);
		assert_null(strstr(e.message, "hunter"));
	}
}

static void test_parse_grant_revoke(void **state)
{
	struct cat_stmt *st;

	(void)state;
	st = parse1("GRANT USAGE, CREATE ON SCHEMA s, d.s2 TO a, PUBLIC");
	assert_int_equal(st->kind, CAT_STMT_GRANT_PRIV);
	assert_int_equal(st->rbac->privs, CAT_PRIV_USAGE | CAT_PRIV_CREATE);
	assert_int_equal(st->rbac->target, CAT_GRANT_SCHEMA);
	assert_int_equal(st->rbac->nobjects, 2);
	assert_int_equal(st->rbac->objects[1].nparts, 2);
	assert_int_equal(st->rbac->ngrantees, 2);
	assert_string_equal(st->rbac->grantees[1], "public");
	assert_string_equal(cat_stmt_tag(st), "GRANT");
	cat_stmts_free(st, 1);
	st = parse1("GRANT ALL PRIVILEGES ON ALL SECRETS IN SCHEMA x, y TO r");
	assert_true(st->rbac->all_privs);
	assert_int_equal(st->rbac->target, CAT_GRANT_ALL_SECRETS);
	assert_int_equal(st->rbac->scope, 1);
	assert_int_equal(st->rbac->nobjects, 2);
	cat_stmts_free(st, 1);
	st = parse1("REVOKE CREATEROLE, CREATEDB ON SYSTEM FROM r");
	assert_int_equal(st->kind, CAT_STMT_REVOKE_PRIV);
	assert_int_equal(st->rbac->target, CAT_GRANT_SYSTEM);
	assert_int_equal(st->rbac->privs, CAT_PRIV_CREATEROLE | CAT_PRIV_CREATEDB);
	assert_string_equal(cat_stmt_tag(st), "REVOKE");
	cat_stmts_free(st, 1);
	st = parse1("GRANT USAGE ON CONNECTION db.sc.c TO r");
	assert_int_equal(st->rbac->target, CAT_GRANT_CONNECTION);
	assert_int_equal(st->rbac->objects[0].nparts, 3);
	cat_stmts_free(st, 1);
	st = parse1("REVOKE ALL ON ALL CONNECTIONS IN DATABASE d FROM r");
	assert_int_equal(st->rbac->target, CAT_GRANT_ALL_CONNECTIONS);
	assert_int_equal(st->rbac->scope, 2);
	cat_stmts_free(st, 1);
	st = parse1("GRANT a, b TO c");
	assert_int_equal(st->kind, CAT_STMT_GRANT_ROLE);
	assert_int_equal(st->rbac->nroles, 2);
	assert_string_equal(st->rbac->grantees[0], "c");
	assert_string_equal(cat_stmt_tag(st), "GRANT ROLE");
	cat_stmts_free(st, 1);
	st = parse1("REVOKE a FROM b");
	assert_int_equal(st->kind, CAT_STMT_REVOKE_ROLE);
	cat_stmts_free(st, 1);
	parse_fails("GRANT USAGE ON TABLE t TO r", "42601",
		    "Expected one of SECRET or CONNECTION or SCHEMA or DATABASE or SYSTEM or ALL, found identifier \"table\"");
	parse_fails("GRANT USAGE ON SECRET s FROM r", "42601", "Expected TO, found FROM");
	parse_fails("REVOKE USAGE ON SECRET s TO r", "42601", "Expected FROM, found TO");
	parse_fails("GRANT USAGE, SELECT ON SECRET s TO r", "42601", NULL);
	parse_fails("GRANT USAGE ON SCHEMA a.b.c TO r", "42601",
		    "qualified name did not have between 1 and 2 components: a.b.c");
	parse_fails("GRANT ALL ON ALL SECRETS IN TABLE x TO r", "42601", NULL);
}

static void test_parse_owner_namespaces_set_role(void **state)
{
	struct cat_stmt *st;

	(void)state;
	st = parse1("ALTER SECRET IF EXISTS d.s.x OWNER TO r");
	assert_int_equal(st->kind, CAT_STMT_ALTER_OWNER);
	assert_int_equal(st->object_kind, CAT_OBJ_SECRET);
	assert_true(st->if_exists);
	assert_string_equal(st->rbac->role, "r");
	assert_string_equal(cat_stmt_tag(st), "ALTER SECRET");
	cat_stmts_free(st, 1);
	st = parse1("CREATE DATABASE IF NOT EXISTS d");
	assert_int_equal(st->kind, CAT_STMT_CREATE_DATABASE);
	assert_true(st->if_not_exists);
	cat_stmts_free(st, 1);
	st = parse1("CREATE SCHEMA d.s");
	assert_int_equal(st->kind, CAT_STMT_CREATE_SCHEMA);
	assert_int_equal(st->name.nparts, 2);
	cat_stmts_free(st, 1);
	st = parse1("DROP SCHEMA IF EXISTS a, d.b CASCADE");
	assert_int_equal(st->kind, CAT_STMT_DROP_SCHEMA);
	assert_int_equal(st->nnames, 2);
	assert_true(st->cascade);
	assert_string_equal(cat_stmt_tag(st), "DROP SCHEMA");
	cat_stmts_free(st, 1);
	st = parse1("DROP DATABASE d RESTRICT");
	assert_int_equal(st->kind, CAT_STMT_DROP_DATABASE);
	assert_false(st->cascade);
	cat_stmts_free(st, 1);
	parse_fails("CREATE DATABASE a.b", "42601",
		    "qualified name did not have between 1 and 1 components: a.b");
	st = parse1("SET ROLE alice");
	assert_int_equal(st->kind, CAT_STMT_SET_ROLE);
	assert_string_equal(st->rbac->role, "alice");
	assert_string_equal(cat_stmt_tag(st), "SET");
	cat_stmts_free(st, 1);
	st = parse1("SET role TO 'Alice'");
	assert_string_equal(st->rbac->role, "Alice");
	cat_stmts_free(st, 1);
	st = parse1("SET ROLE NONE");
	assert_string_equal(st->rbac->role, "");
	cat_stmts_free(st, 1);
	st = parse1("RESET ROLE");
	assert_int_equal(st->kind, CAT_STMT_SET_ROLE);
	assert_string_equal(st->rbac->role, "");
	assert_string_equal(cat_stmt_tag(st), "RESET");
	cat_stmts_free(st, 1);
	parse_fails("SET ROLE ''", "22023", NULL);
}

/* ---- checks against a real store ---- */

struct fx {
	char dir[64], path[128], passwd[128];
	struct cat_store st;
	struct cat_ctx ctx;
	struct cat_session s;
};

static void sql(struct fx *f, const char *text)
{
	char *msg = NULL;

	if (sqlite3_exec(f->st.db, text, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "sql failed: %s: %s\n", text, msg ? msg : "?");
		sqlite3_free(msg);
		fail();
	}
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct err e;
	FILE *pw;

	snprintf(f->dir, sizeof(f->dir), "/tmp/tether-cat-rbac-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/catalog.db", f->dir);
	snprintf(f->passwd, sizeof(f->passwd), "%s/passwd", f->dir);
	assert_int_equal(cat_store_open(&f->st, f->path, &e), 0);
	pw = fopen(f->passwd, "w");
	assert_non_null(pw);
	fputs("root:x:0:0:root:/root:/bin/sh\nalice:x:1501:1501::/home/alice:/bin/sh\n"
	      "bob:x:1502:1502::/home/bob:/bin/sh\n", pw);
	fclose(pw);
	f->ctx.store = &f->st;
	/* u2 alice (login), u3 bob, u4 team (bob is a member), u5 admin
	 * (CREATEROLE attribute). A secret u1 owned by alice in public, one
	 * u2 owned by team. */
	sql(f, "INSERT INTO roles (id, oid, name, inherit, rolcanlogin, rolsuper,"
	       " rolcreaterole, rolcreatedb) VALUES"
	       " ('u2', 30002, 'alice', 1, 1, 0, 0, 0), ('u3', 30003, 'bob', 1, 0, 0, 0, 0),"
	       " ('u4', 30004, 'team', 1, 0, 0, 0, 0), ('u5', 30005, 'admin', 1, 1, 0, 1, 0);"
	       "INSERT INTO role_members VALUES ('u4', 'u3', 'u1');"
	       "INSERT INTO items (id, oid, kind, schema_id, name, owner_id, privileges,"
	       " create_sql, redacted_create_sql, vault_version) VALUES"
	       " (1, 30010, 'secret', 'u3', 'a_s', 'u2', '{u2=U/u2}', 'x', 'x', 1),"
	       " (2, 30011, 'secret', 'u3', 'team_s', 'u4', '{u4=U/u4}', 'x', 'x', 1);");
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

static void act_as(struct fx *f, const char *id, const char *name)
{
	memset(&f->s.role, 0, sizeof(f->s.role));
	snprintf(f->s.role.id, sizeof(f->s.role.id), "%s", id);
	snprintf(f->s.role.name, sizeof(f->s.role.name), "%s", name);
}

static void item(struct fx *f, uint64_t id, struct cat_item *it)
{
	struct err e;
	assert_int_equal(cat_store_find_item_by_id(&f->st, id, it, &e), 1);
}

static void public_schema(struct fx *f, struct cat_schema *sc)
{
	struct err e;
	assert_int_equal(cat_store_find_schema(&f->st, "materialize", "public", sc, &e), 1);
}

static void test_superuser_passes_everything(void **state)
{
	struct fx *f = *state;
	struct cat_item it;
	struct cat_schema sc;
	struct err e;

	act_as(f, "u1", "materialize");
	item(f, 1, &it);
	public_schema(f, &sc);
	assert_true(cat_rbac_is_superuser(&f->ctx, &f->s));
	assert_int_equal(cat_rbac_require_owner(&f->ctx, &f->s, &it, &e), 0);
	assert_int_equal(cat_rbac_require_item(&f->ctx, &f->s, CAT_PRIV_USAGE, &it, &e), 0);
	assert_int_equal(cat_rbac_require_schema(&f->ctx, &f->s, CAT_PRIV_CREATE, &sc, &e), 0);
	assert_int_equal(cat_rbac_require_system(&f->ctx, &f->s, CAT_PRIV_CREATEDB, &e), 0);
	assert_int_equal(cat_rbac_require_database(&f->ctx, &f->s, CAT_PRIV_CREATE, "materialize", &e), 0);
}

static void test_owner_holds_all_and_others_do_not(void **state)
{
	struct fx *f = *state;
	struct cat_item it;
	struct err e;

	item(f, 1, &it);
	act_as(f, "u2", "alice");
	assert_false(cat_rbac_is_superuser(&f->ctx, &f->s));
	assert_int_equal(cat_rbac_require_owner(&f->ctx, &f->s, &it, &e), 0);
	assert_int_equal(cat_rbac_require_item(&f->ctx, &f->s, CAT_PRIV_USAGE, &it, &e), 0);
	act_as(f, "u3", "bob");
	assert_int_equal(cat_rbac_require_owner(&f->ctx, &f->s, &it, &e), -1);
	assert_string_equal(e.sqlstate, "42501");
	assert_string_equal(e.message, "must be owner of SECRET materialize.public.a_s");
	assert_int_equal(cat_rbac_require_item(&f->ctx, &f->s, CAT_PRIV_USAGE, &it, &e), -1);
	assert_string_equal(e.sqlstate, "42501");
	assert_string_equal(e.message, "permission denied for SECRET \"materialize.public.a_s\"");
	assert_string_equal(e.detail,
			    "The 'bob' role needs USAGE privileges on SECRET \"materialize.public.a_s\"");
}

static void test_grant_to_role_inherited_by_member(void **state)
{
	struct fx *f = *state;
	struct cat_item it, team_s;
	struct err e;

	item(f, 1, &it);
	item(f, 2, &team_s);
	/* bob is a member of team: team's secret is bob's to alter. */
	act_as(f, "u3", "bob");
	assert_int_equal(cat_rbac_require_owner(&f->ctx, &f->s, &team_s, &e), 0);
	/* USAGE granted to team reaches bob. */
	sql(f, "UPDATE items SET privileges = '{u2=U/u2,u4=U/u2}' WHERE id = 1");
	assert_int_equal(cat_rbac_require_item(&f->ctx, &f->s, CAT_PRIV_USAGE, &it, &e), 0);
	/* ... and not alice's ownership. */
	assert_int_equal(cat_rbac_require_owner(&f->ctx, &f->s, &it, &e), -1);
	/* Revoked membership: gone. */
	sql(f, "DELETE FROM role_members");
	assert_int_equal(cat_rbac_require_item(&f->ctx, &f->s, CAT_PRIV_USAGE, &it, &e), -1);
	/* PUBLIC reaches everyone. */
	sql(f, "UPDATE items SET privileges = '{u2=U/u2,=U/u2}' WHERE id = 1");
	assert_int_equal(cat_rbac_require_item(&f->ctx, &f->s, CAT_PRIV_USAGE, &it, &e), 0);
}

static void test_item_needs_schema_usage(void **state)
{
	struct fx *f = *state;
	struct cat_item it;
	struct err e;

	item(f, 1, &it);
	sql(f, "UPDATE items SET privileges = '{u2=U/u2,u3=U/u2}' WHERE id = 1");
	/* Take PUBLIC's USAGE off the public schema. */
	sql(f, "UPDATE schemas SET privileges = '{u1=UC/u1}' WHERE id = 'u3'");
	act_as(f, "u3", "bob");
	assert_int_equal(cat_rbac_require_item(&f->ctx, &f->s, CAT_PRIV_USAGE, &it, &e), -1);
	assert_string_equal(e.message, "permission denied for SCHEMA \"materialize.public\"");
	assert_string_equal(e.detail,
			    "The 'bob' role needs USAGE privileges on SCHEMA \"materialize.public\"");
	sql(f, "UPDATE schemas SET privileges = '{u1=UC/u1,u3=U/u1}' WHERE id = 'u3'");
	assert_int_equal(cat_rbac_require_item(&f->ctx, &f->s, CAT_PRIV_USAGE, &it, &e), 0);
}

static void test_schema_create_and_system_schemas(void **state)
{
	struct fx *f = *state;
	struct cat_schema sc, sys;
	struct err e;

	public_schema(f, &sc);
	assert_int_equal(cat_store_find_schema(&f->st, "materialize", "mz_catalog", &sys, &e), 1);
	act_as(f, "u2", "alice");
	assert_int_equal(cat_rbac_require_schema(&f->ctx, &f->s, CAT_PRIV_USAGE, &sc, &e), 0);
	assert_int_equal(cat_rbac_require_schema(&f->ctx, &f->s, CAT_PRIV_CREATE, &sc, &e), -1);
	assert_string_equal(e.message, "permission denied for SCHEMA \"materialize.public\"");
	assert_string_equal(e.detail,
			    "The 'alice' role needs CREATE privileges on SCHEMA \"materialize.public\"");
	sql(f, "UPDATE schemas SET privileges = '{=U/u1,u1=UC/u1,u2=C/u1}' WHERE id = 'u3'");
	assert_int_equal(cat_rbac_require_schema(&f->ctx, &f->s, CAT_PRIV_CREATE, &sc, &e), 0);
	/* System schemas: USAGE for all, CREATE for nobody but superusers. */
	assert_int_equal(cat_rbac_require_schema(&f->ctx, &f->s, CAT_PRIV_USAGE, &sys, &e), 0);
	assert_int_equal(cat_rbac_require_schema(&f->ctx, &f->s, CAT_PRIV_CREATE, &sys, &e), -1);
	assert_string_equal(e.message, "permission denied for SCHEMA \"mz_catalog\"");
	/* The schema's owner holds CREATE without an ACL entry. */
	sql(f, "UPDATE schemas SET owner_id = 'u3', privileges = '{}' WHERE id = 'u3'");
	act_as(f, "u3", "bob");
	assert_int_equal(cat_rbac_require_schema(&f->ctx, &f->s, CAT_PRIV_CREATE, &sc, &e), 0);
}

static void test_system_privileges_by_attribute_or_grant(void **state)
{
	struct fx *f = *state;
	struct err e;

	act_as(f, "u5", "admin");
	assert_int_equal(cat_rbac_require_system(&f->ctx, &f->s, CAT_PRIV_CREATEROLE, &e), 0);
	assert_int_equal(cat_rbac_require_system(&f->ctx, &f->s, CAT_PRIV_CREATEDB, &e), -1);
	assert_string_equal(e.sqlstate, "42501");
	assert_string_equal(e.message, "permission denied for SYSTEM");
	assert_string_equal(e.detail, "The 'admin' role needs CREATEDB privileges on SYSTEM");
	act_as(f, "u3", "bob");
	assert_int_equal(cat_rbac_require_system(&f->ctx, &f->s, CAT_PRIV_CREATEROLE, &e), -1);
	/* Granted on SYSTEM to team, inherited by bob. */
	sql(f, "UPDATE system_privileges SET privileges = '{u4=R/u1}'");
	assert_int_equal(cat_rbac_require_system(&f->ctx, &f->s, CAT_PRIV_CREATEROLE, &e), 0);
	assert_int_equal(cat_rbac_require_system(&f->ctx, &f->s, CAT_PRIV_CREATEDB, &e), -1);
}

static void test_database_privileges(void **state)
{
	struct fx *f = *state;
	struct err e;

	act_as(f, "u2", "alice");
	assert_int_equal(cat_rbac_require_database(&f->ctx, &f->s, CAT_PRIV_USAGE, "materialize", &e), 0);
	assert_int_equal(cat_rbac_require_database(&f->ctx, &f->s, CAT_PRIV_CREATE, "materialize", &e), -1);
	assert_string_equal(e.message, "permission denied for DATABASE \"materialize\"");
	assert_int_equal(cat_rbac_require_database(&f->ctx, &f->s, CAT_PRIV_CREATE, "nope", &e), -1);
	assert_string_equal(e.sqlstate, "3D000");
}

static void test_membership_transitive_and_cycle_safe(void **state)
{
	struct fx *f = *state;
	struct err e;

	/* alice in bob in team; and a cycle team -> alice must not loop. */
	sql(f, "INSERT INTO role_members VALUES ('u3', 'u2', 'u1'), ('u2', 'u4', 'u1')");
	assert_int_equal(cat_rbac_is_member(&f->ctx, "u2", "u4", &e), 1);
	assert_int_equal(cat_rbac_is_member(&f->ctx, "u2", "u2", &e), 1);
	assert_int_equal(cat_rbac_is_member(&f->ctx, "u4", "u3", &e), 1);
	assert_int_equal(cat_rbac_is_member(&f->ctx, "u5", "u4", &e), 0);
	assert_int_equal(cat_rbac_is_member(&f->ctx, "u2", "u1", &e), 0);
}

static void test_dropped_role_has_no_privileges(void **state)
{
	struct fx *f = *state;
	struct cat_item it;
	struct err e;

	item(f, 1, &it);
	act_as(f, "u99", "ghost");
	assert_false(cat_rbac_is_superuser(&f->ctx, &f->s));
	assert_int_equal(cat_rbac_require_owner(&f->ctx, &f->s, &it, &e), -1);
	assert_int_equal(cat_rbac_require_system(&f->ctx, &f->s, CAT_PRIV_CREATEROLE, &e), -1);
}

static void test_acl_load_store_roundtrip(void **state)
{
	struct fx *f = *state;
	struct cat_acl acl;
	struct err e;

	assert_int_equal(cat_rbac_load_acl(&f->st, "items", "1", &acl, &e), 1);
	assert_int_equal(acl.n, 1);
	assert_int_equal(cat_acl_grant(&acl, "", "u2", CAT_PRIV_USAGE, &e), 0);
	assert_int_equal(cat_rbac_store_acl(&f->st, "items", "1", &acl, &e), 0);
	assert_int_equal(cat_rbac_load_acl(&f->st, "items", "1", &acl, &e), 1);
	assert_int_equal(acl.n, 2);
	assert_int_equal(cat_rbac_load_acl(&f->st, "items", "77", &acl, &e), 0);
	/* Only the ACL tables. */
	assert_int_equal(cat_rbac_load_acl(&f->st, "roles", "u1", &acl, &e), -1);
	assert_int_equal(cat_rbac_store_acl(&f->st, "items; DROP TABLE x", "1", &acl, &e), -1);
}

static void test_non_bootstrap_login_role(void **state)
{
	struct fx *f = *state;
	struct cat_role role;
	struct err e;

	/* OS user alice (uid 1501) logs in as role alice, which has LOGIN. */
	assert_int_equal(cat_auth_login(&f->st, f->passwd, 1501, 1000, "alice",
					"materialize", &role, &e), 0);
	assert_string_equal(role.id, "u2");
	assert_false(role.superuser);
	/* OS user bob maps to role bob, which has NOLOGIN. */
	assert_int_equal(cat_auth_login(&f->st, f->passwd, 1502, 1000, "bob",
					"materialize", &role, &e), -1);
	assert_string_equal(e.sqlstate, "28000");
	assert_string_equal(e.message, "role \"bob\" is not permitted to log in");
	/* alice may not log in as admin. */
	assert_int_equal(cat_auth_login(&f->st, f->passwd, 1501, 1000, "admin",
					"materialize", &role, &e), -1);
	assert_string_equal(e.sqlstate, "28000");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_acl_roundtrip),
		cmocka_unit_test(test_acl_malformed_rejected),
		cmocka_unit_test(test_acl_grant_merges_and_revoke_removes),
		cmocka_unit_test(test_acl_full_is_an_error),
		cmocka_unit_test(test_acl_privs_of_counts_public_and_roles),
		cmocka_unit_test(test_acl_new_owner_rewrites_and_merges),
		cmocka_unit_test(test_priv_names_and_grantable),
		cmocka_unit_test(test_parse_role_statements),
		cmocka_unit_test(test_parse_grant_revoke),
		cmocka_unit_test(test_parse_owner_namespaces_set_role),
		cmocka_unit_test_setup_teardown(test_superuser_passes_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner_holds_all_and_others_do_not, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grant_to_role_inherited_by_member, setup, teardown),
		cmocka_unit_test_setup_teardown(test_item_needs_schema_usage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_create_and_system_schemas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_system_privileges_by_attribute_or_grant, setup, teardown),
		cmocka_unit_test_setup_teardown(test_database_privileges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_membership_transitive_and_cycle_safe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dropped_role_has_no_privileges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acl_load_store_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_non_bootstrap_login_role, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
