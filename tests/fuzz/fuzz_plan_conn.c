/* libFuzzer target: the connection planner (catalog/plan_conn.c, the
 * descriptors and option sets of catalog/conn) on statements parsed from
 * the input by cat_parse. CREATE CONNECTION is planned as the executor
 * does; ALTER CONNECTION is planned against the stored option set of the
 * fake catalog's connection it names. For every accepted plan, what the
 * unit tests' property test checks must hold: the stored encoding decodes
 * and re-plans, and the rendered create_sql parses and plans back to the
 * same set. An input starting with 0x01 is a storage record instead
 * (conn_optset_decode), which must round-trip if it decodes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "plan_conn.h"
#include "sql/ast.h"

struct fake_item {
	struct cat_conn_item it;
	const char *create;         /* its options, planned at start-up */
	struct conn_optset set;
};

static struct fake_item items[] = {
	{ { 1, CAT_OBJ_SECRET, CONN_NONE, "materialize", "public", "s1" }, NULL, { 0 } },
	{ { 2, CAT_OBJ_SECRET, CONN_NONE, "materialize", "public", "s2" }, NULL, { 0 } },
	{ { 3, CAT_OBJ_SECRET, CONN_NONE, "materialize", "public", "pw" }, NULL, { 0 } },
	{ { 10, CAT_OBJ_CONNECTION, CONN_SSH_TUNNEL, "materialize", "public", "ssh" },
	  "CREATE CONNECTION ssh TO SSH TUNNEL (HOST 'bastion', USER 'u', PORT 22)", { 0 } },
	{ { 11, CAT_OBJ_CONNECTION, CONN_AWS_PRIVATELINK, "materialize", "public", "pl" },
	  "CREATE CONNECTION pl TO AWS PRIVATELINK (SERVICE NAME 'com.amazonaws.vpce.x',"
	  " AVAILABILITY ZONES ('use1-az1', 'use1-az4'))", { 0 } },
	{ { 12, CAT_OBJ_CONNECTION, CONN_AWS, "materialize", "public", "aws" },
	  "CREATE CONNECTION aws TO AWS (ASSUME ROLE ARN 'arn:aws:iam::1:role/r')", { 0 } },
	{ { 13, CAT_OBJ_CONNECTION, CONN_POSTGRES, "materialize", "public", "pg" },
	  "CREATE CONNECTION pg TO POSTGRES (HOST 'h', DATABASE 'd', USER 'u', PASSWORD SECRET pw)",
	  { 0 } },
	{ { 14, CAT_OBJ_CONNECTION, CONN_KAFKA, "materialize", "public", "kafka" },
	  "CREATE CONNECTION kafka TO KAFKA (BROKER 'k:9092', SECURITY PROTOCOL 'PLAINTEXT')", { 0 } },
	{ { 15, CAT_OBJ_CONNECTION, CONN_ICEBERG, "other", "x", "Odd \"Name\"" },
	  "CREATE CONNECTION i TO ICEBERG CATALOG (CATALOG TYPE 'rest', URL 'http://h',"
	  " CREDENTIAL 'a:' || SECRET s1)", { 0 } },
};
#define NITEMS (sizeof(items) / sizeof(items[0]))

static int f_lookup(void *arg, const struct cat_name *n, struct cat_conn_item *out, struct err *e)
{
	(void)arg;
	(void)e;
	for (size_t i = 0; i < NITEMS; i++)
		if (!strcmp(items[i].it.name, n->parts[n->nparts - 1]) &&
		    (n->nparts < 2 || !strcmp(items[i].it.schema, n->parts[n->nparts - 2]))) {
			*out = items[i].it;
			return 1;
		}
	return 0;
}

static int f_by_id(void *arg, uint64_t id, struct cat_conn_item *out, struct err *e)
{
	(void)arg;
	(void)e;
	for (size_t i = 0; i < NITEMS; i++)
		if (items[i].it.id == id) {
			*out = items[i].it;
			return 1;
		}
	return 0;
}

static int f_options(void *arg, uint64_t id, struct conn_optset *out, struct err *e)
{
	(void)arg;
	for (size_t i = 0; i < NITEMS; i++)
		if (items[i].it.id == id && items[i].create) {
			if (conn_optset_copy(out, &items[i].set) < 0) {
				err_set(e, "53200", "out of memory");
				return -1;
			}
			return 1;
		}
	memset(out, 0, sizeof(*out));
	return 0;
}

static const struct cat_conn_resolver res = { NULL, f_lookup, f_by_id, f_options, NULL, NULL };
static const char *const azs[] = { "use1-az1", "use1-az2", "use1-az4" };
static const struct conn_settings cfg = { "inst", "us-east-1", azs, 3 };
static const struct cat_conn_item self = { 99, CAT_OBJ_CONNECTION, 0, "materialize", "public", "c" };

/* Plans the one CREATE CONNECTION in `sql`: 0, or -1 with e set. */
static int plan_text(const char *sql, size_t len, struct cat_conn_plan *p, struct err *e)
{
	struct cat_stmt *st = NULL;
	size_t n = 0;
	int rc = -1;

	if (cat_parse(sql, len, &st, &n, e) != 0)
		return -1;
	if (n == 1 && st[0].kind == CAT_STMT_CREATE_CONNECTION)
		rc = cat_conn_plan_create(st[0].conn, &res, &cfg, p, e);
	else
		err_set(e, "XX000", "not one CREATE CONNECTION");
	cat_stmts_free(st, n);
	return rc;
}

static void fail(const char *what, const char *a, const char *b, const struct err *e)
{
	fprintf(stderr, "fuzz_plan_conn: %s\n%s\n---\n%s\n%s %s\n", what, a ? a : "",
		b ? b : "", e ? e->sqlstate : "", e ? e->message : "");
	abort();
}

/* What must hold of an accepted set (as tests/unit/catalog/test_plan_conn.c). */
static void check_plan(const struct cat_conn_plan *p)
{
	struct cat_conn_plan again;
	struct conn_optset d;
	struct err e;
	char *enc, *enc2, *sql, *t;

	enc = conn_optset_encode(&p->set);
	if (!enc)
		return;
	memset(&again, 0, sizeof(again));
	if (conn_optset_decode(enc, &d, &e) != 0)
		fail("stored set does not decode", enc, NULL, &e);
	again.set = d;
	if (cat_conn_plan_check(&again, &res, &cfg, &e) != 0)
		fail("stored set does not re-plan", enc, NULL, &e);
	cat_conn_plan_free(&again);
	/* every rendering works; redacted text never carries a literal */
	for (int mode = 0; mode < 2; mode++)
		for (int redact = 0; redact < 2; redact++) {
			t = cat_conn_render(&p->set, &self, (enum cat_render_mode)mode, redact, &res, &e);
			if (!t)
				fail("render failed", enc, NULL, &e);
			free(t);
		}
	sql = cat_conn_render(&p->set, &self, CAT_RENDER_STORED, 0, &res, &e);
	if (!sql)
		fail("render failed", enc, NULL, &e);
	memset(&again, 0, sizeof(again));
	if (plan_text(sql, strlen(sql), &again, &e) != 0)
		fail("create_sql does not re-plan", sql, enc, &e);
	enc2 = conn_optset_encode(&again.set);
	if (enc2 && strcmp(enc, enc2))
		fail("create_sql round trip differs", enc, enc2, NULL);
	free(enc);
	free(enc2);
	free(sql);
	cat_conn_plan_free(&again);
}

static void fuzz_record(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct conn_optset d, d2;
	struct err e;

	if (!text)
		return;
	memcpy(text, data, size);
	text[size] = 0;
	if (conn_optset_decode(text, &d, &e) == 0) {
		char *enc = conn_optset_encode(&d);
		if (enc) {
			if (conn_optset_decode(enc, &d2, &e) != 0)
				fail("re-encoded record does not decode", enc, NULL, &e);
			char *enc2 = conn_optset_encode(&d2);
			if (enc2 && strcmp(enc, enc2))
				fail("record round trip differs", enc, enc2, NULL);
			free(enc2);
			conn_optset_free(&d2);
			free(enc);
		}
		conn_optset_free(&d);
	}
	free(text);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level((enum log_level)(LOG_ERROR + 1));
	for (size_t i = 0; i < NITEMS; i++) {
		struct cat_conn_plan p;
		struct err e;

		if (!items[i].create)
			continue;
		memset(&p, 0, sizeof(p));
		if (plan_text(items[i].create, strlen(items[i].create), &p, &e) != 0)
			fail("fake catalog item does not plan", items[i].create, NULL, &e);
		items[i].set = p.set;
		memset(&p.set, 0, sizeof(p.set));
		cat_conn_plan_free(&p);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cat_stmt *st = NULL;
	size_t n = 0;
	struct err e;

	if (size > 0 && data[0] == 0x01) {
		fuzz_record(data + 1, size - 1);
		return 0;
	}
	if (cat_parse((const char *)data, size, &st, &n, &e) != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		struct cat_conn_plan p;
		int rc = -1;

		memset(&p, 0, sizeof(p));
		err_clear(&e);
		if (st[i].kind == CAT_STMT_CREATE_CONNECTION) {
			rc = cat_conn_plan_create(st[i].conn, &res, &cfg, &p, &e);
		} else if (st[i].kind == CAT_STMT_ALTER_CONNECTION && !st[i].conn->rename) {
			struct cat_conn_item it;
			if (f_lookup(NULL, &st[i].name, &it, &e) == 1 && it.kind == CAT_OBJ_CONNECTION)
				for (size_t k = 0; k < NITEMS; k++)
					if (items[k].it.id == it.id)
						rc = cat_conn_plan_alter(&items[k].set, st[i].conn, &res,
									 &cfg, &p, &e);
		} else {
			continue;
		}
		if (rc == 0)
			check_plan(&p);
		else if (!err_is_set(&e) && rc < 0 && st[i].kind == CAT_STMT_CREATE_CONNECTION)
			fail("planner failed without an error", NULL, NULL, &e);
		cat_conn_plan_free(&p);
	}
	cat_stmts_free(st, n);
	return 0;
}
