/* The connection planner against a fake catalog (plan_conn.c): value
 * kinds, the per-type rules of SQL.md 5 with their exact messages, ALTER
 * merging (SQL.md 9.3), rendering (SQL.md 8.6), the storage codec, and a
 * property test: random ALTER sequences on valid connections only ever
 * yield sets that re-plan, round-trip through storage and re-parse from
 * their own create_sql to the same set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_conn.h"
#include "sql/ast.h"

/* ---- a fake catalog ---- */

struct fake_item {
	struct cat_conn_item it;
	const char *azs;            /* PrivateLink zones, comma separated */
};

static struct fake_item items[] = {
	{ { 1, CAT_OBJ_SECRET, CONN_NONE, "materialize", "public", "s1" }, NULL },
	{ { 2, CAT_OBJ_SECRET, CONN_NONE, "materialize", "public", "s2" }, NULL },
	{ { 3, CAT_OBJ_SECRET, CONN_NONE, "materialize", "public", "pw" }, NULL },
	{ { 10, CAT_OBJ_CONNECTION, CONN_SSH_TUNNEL, "materialize", "public", "ssh" }, NULL },
	{ { 11, CAT_OBJ_CONNECTION, CONN_AWS_PRIVATELINK, "materialize", "public", "pl" }, "use1-az1,use1-az4" },
	{ { 12, CAT_OBJ_CONNECTION, CONN_AWS, "materialize", "public", "aws" }, NULL },
	{ { 13, CAT_OBJ_CONNECTION, CONN_POSTGRES, "materialize", "public", "pg" }, NULL },
	{ { 14, CAT_OBJ_CONNECTION, CONN_SSH_TUNNEL, "other", "x", "Odd \"Name\"" }, NULL },
};
#define NITEMS (sizeof(items) / sizeof(items[0]))

static int f_lookup(void *arg, const struct cat_name *n, struct cat_conn_item *out, struct err *e)
{
	(void)arg; (void)e;
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
	(void)arg; (void)e;
	for (size_t i = 0; i < NITEMS; i++)
		if (items[i].it.id == id) {
			*out = items[i].it;
			return 1;
		}
	return 0;
}

static int f_options(void *arg, uint64_t id, struct conn_optset *out, struct err *e)
{
	(void)arg; (void)e;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < NITEMS; i++) {
		if (items[i].it.id != id || !items[i].azs)
			continue;
		char buf[128], *save = NULL;
		struct conn_value v = { .form = CONN_VF_LIST };
		snprintf(buf, sizeof(buf), "%s", items[i].azs);
		v.list = calloc(8, sizeof(char *));
		for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
			v.list[v.nlist++] = strdup(t);
		out->type = CONN_AWS_PRIVATELINK;
		conn_optset_put(out, CONN_O_AVAILABILITY_ZONES, &v);
		return 1;
	}
	return 0;
}

static const struct cat_conn_resolver res = { NULL, f_lookup, f_by_id, f_options, NULL, NULL };
static const struct conn_settings cfg = { "inst", "us-east-1", NULL, 0 };

static struct cat_stmt *parse1(const char *sql)
{
	struct cat_stmt *st = NULL;
	size_t n = 0;
	struct err e;

	if (cat_parse(sql, strlen(sql), &st, &n, &e) != 0) {
		print_error("parse error for [%s]: %s %s\n", sql, e.sqlstate, e.message);
		fail();
	}
	assert_int_equal(n, 1);
	return st;
}

/* Plans a CREATE; returns 0/-1 (e set). */
static int plan(const char *sql, struct cat_conn_plan *p, struct err *e)
{
	struct cat_stmt *st = parse1(sql);
	int rc;

	assert_int_equal(st->kind, CAT_STMT_CREATE_CONNECTION);
	err_clear(e);
	rc = cat_conn_plan_create(st->conn, &res, &cfg, p, e);
	cat_stmts_free(st, 1);
	return rc;
}

static const struct cat_conn_item self = { 99, CAT_OBJ_CONNECTION, 0, "materialize", "public", "c" };

static char *render(const struct conn_optset *s, enum cat_render_mode m, int redact)
{
	struct err e;
	char *t = cat_conn_render(s, &self, m, redact, &res, &e);
	assert_non_null(t);
	return t;
}

static void expect_ok(const char *sql, const char *show)
{
	struct cat_conn_plan p;
	struct err e;

	if (plan(sql, &p, &e) != 0) {
		print_error("unexpected error for [%s]: %s %s\n", sql, e.sqlstate, e.message);
		fail();
	}
	if (show) {
		char *t = render(&p.set, CAT_RENDER_SHOW, 0);
		if (strcmp(t, show)) {
			print_error("render of [%s]\n  want %s\n  got  %s\n", sql, show, t);
			fail();
		}
		free(t);
	}
	cat_conn_plan_free(&p);
}

static void expect_err(const char *sql, const char *sqlstate, const char *msg)
{
	struct cat_conn_plan p;
	struct err e;

	if (plan(sql, &p, &e) == 0) {
		print_error("expected %s for [%s], got success\n", sqlstate, sql);
		cat_conn_plan_free(&p);
		fail();
	}
	if (strcmp(e.sqlstate, sqlstate) || strcmp(e.message, msg)) {
		print_error("for [%s]\n  want %s \"%s\"\n  got  %s \"%s\"\n", sql, sqlstate, msg,
			    e.sqlstate, e.message);
		fail();
	}
}

/* ---- tests ---- */

static void test_render_forms(void **state)
{
	(void)state;
	expect_ok("CREATE CONNECTION c TO KAFKA (BROKER 'k:9092', SECURITY PROTOCOL = plaintext)",
		  "CREATE CONNECTION materialize.public.c TO KAFKA (BROKER = 'k:9092', SECURITY PROTOCOL = plaintext);");
	expect_ok("CREATE CONNECTION c TO POSTGRES (HOST 'h', PORT 5432, DATABASE postgres, USER postgres,"
		  " PASSWORD SECRET pw, AWS PRIVATELINK pl)",
		  "CREATE CONNECTION materialize.public.c TO POSTGRES (HOST = 'h', PORT = 5432, DATABASE = postgres, USER = postgres, PASSWORD = SECRET materialize.public.pw, AWS PRIVATELINK = materialize.public.pl);");
	expect_ok("CREATE CONNECTION c TO ICEBERG CATALOG (CATALOG TYPE = 'REST', URL = 'https://p/api',"
		  " CREDENTIAL = 'client-id:' || SECRET s1)",
		  "CREATE CONNECTION materialize.public.c TO ICEBERG CATALOG (CATALOG TYPE = 'REST', URL = 'https://p/api', CREDENTIAL = 'client-id:' || SECRET materialize.public.s1);");
	expect_ok("CREATE CONNECTION c TO KAFKA (BROKERS ('a:1' USING SSH TUNNEL ssh,"
		  " 'b:2' USING AWS PRIVATELINK pl (AVAILABILITY ZONE 'use1-az4', PORT 9093)))",
		  "CREATE CONNECTION materialize.public.c TO KAFKA (BROKERS = ('a:1' USING SSH TUNNEL materialize.public.ssh, 'b:2' USING AWS PRIVATELINK materialize.public.pl (AVAILABILITY ZONE = 'use1-az4', PORT = 9093)));");
	/* text chains of literals fold */
	expect_ok("CREATE CONNECTION c TO SSH TUNNEL (HOST 'a' || 'b', USER u)",
		  "CREATE CONNECTION materialize.public.c TO SSH TUNNEL (HOST = 'ab', USER = u);");

	struct cat_conn_plan p;
	struct err e;
	assert_int_equal(plan("CREATE CONNECTION c TO POSTGRES (HOST 'it''s', PORT 1, DATABASE \"DB\","
			      " USER SECRET s1, SSH TUNNEL other.x.\"Odd \"\"Name\"\"\")", &p, &e), 0);
	char *t = render(&p.set, CAT_RENDER_STORED, 0);
	assert_string_equal(t, "CREATE CONNECTION \"materialize\".\"public\".\"c\" TO POSTGRES (HOST = 'it''s', PORT = 1, DATABASE = \"DB\", USER = SECRET \"materialize\".\"public\".\"s1\", SSH TUNNEL = \"other\".\"x\".\"Odd \"\"Name\"\"\")");
	free(t);
	t = render(&p.set, CAT_RENDER_STORED, 1);
	assert_string_equal(t, "CREATE CONNECTION \"materialize\".\"public\".\"c\" TO POSTGRES (HOST = '<REDACTED>', PORT = '<REDACTED>', DATABASE = \"DB\", USER = SECRET \"materialize\".\"public\".\"s1\", SSH TUNNEL = \"other\".\"x\".\"Odd \"\"Name\"\"\")");
	free(t);
	assert_int_equal(p.ndeps, 2);
	assert_int_equal(p.deps[0], 1);
	assert_int_equal(p.deps[1], 14);
	cat_conn_plan_free(&p);
}

static const struct {
	const char *sql, *sqlstate, *msg;
} error_rows[] = {
	/* options per type, duplicates, value kinds (SQL.md 4.2, 7) */
	{ "CREATE CONNECTION c TO KAFKA (BROKER 'a', HOST 'x', PORT 1)", "22023",
	  "KAFKA connections do not support HOST, PORT values" },
	{ "CREATE CONNECTION c TO SQL SERVER (HOST 'h', DATABASE 'd', USER 'u', PASSWORD SECRET pw, SSL KEY SECRET s1)",
	  "22023", "SQL SERVER connections do not support SSL KEY values" },
	{ "CREATE CONNECTION c TO POSTGRES (HOST 'a', HOST 'b')", "42601", "HOST specified more than once" },
	{ "CREATE CONNECTION c TO POSTGRES (USER 'a', USERNAME 'b')", "42601", "USER specified more than once" },
	{ "CREATE CONNECTION c TO POSTGRES (HOST 5)", "22023", "invalid HOST: cannot use value as string" },
	{ "CREATE CONNECTION c TO POSTGRES (HOST a.b)", "22023",
	  "invalid HOST: incompatible value types: cannot convert object names to text" },
	{ "CREATE CONNECTION c TO POSTGRES (HOST SECRET s1)", "22023",
	  "invalid HOST: incompatible value types: cannot convert secrets to text" },
	{ "CREATE CONNECTION c TO POSTGRES (HOST)", "22023", "invalid HOST: must provide a string value" },
	{ "CREATE CONNECTION c TO POSTGRES (PORT 'x')", "22023", "invalid PORT: cannot use value as number" },
	{ "CREATE CONNECTION c TO POSTGRES (PORT)", "22023", "invalid PORT: must provide an integer value" },
	{ "CREATE CONNECTION c TO POSTGRES (PORT 0)", "22023", "invalid PORT: PORT must be between 1 and 65535" },
	{ "CREATE CONNECTION c TO POSTGRES (PORT 65536)", "22023",
	  "invalid PORT: invalid numeric value: number too large to fit in target type" },
	{ "CREATE CONNECTION c TO POSTGRES (PORT -1)", "22023",
	  "invalid PORT: invalid numeric value: invalid digit found in string" },
	{ "CREATE CONNECTION c TO POSTGRES (PASSWORD 'x')", "22023", "invalid PASSWORD: must provide a secret value" },
	{ "CREATE CONNECTION c TO POSTGRES (PASSWORD 'a' || SECRET s1)", "22023", "invalid PASSWORD: || is not allowed here" },
	{ "CREATE CONNECTION c TO POSTGRES (PASSWORD SECRET ssh)", "42809", "materialize.public.ssh is not a secret" },
	{ "CREATE CONNECTION c TO POSTGRES (PASSWORD SECRET nope)", "42704", "unknown catalog item 'nope'" },
	{ "CREATE CONNECTION c TO POSTGRES (SSH TUNNEL s1)", "42809",
	  "\"materialize.public.s1\" is a secret not a connection" },
	{ "CREATE CONNECTION c TO POSTGRES (SSH TUNNEL pg)", "42809", "materialize.public.pg is not an SSH connection" },
	{ "CREATE CONNECTION c TO POSTGRES (AWS PRIVATELINK ssh)", "42809",
	  "materialize.public.ssh is not an AWS PRIVATELINK connection" },
	{ "CREATE CONNECTION c TO MYSQL (AWS CONNECTION pl)", "42809", "materialize.public.pl is not an AWS connection" },
	{ "CREATE CONNECTION c TO AWS PRIVATELINK (SERVICE NAME 'x', AVAILABILITY ZONES 'a')", "22023",
	  "invalid AVAILABILITY ZONES: cannot use value as array" },
	{ "CREATE CONNECTION c TO AWS PRIVATELINK (SERVICE NAME 'x', AVAILABILITY ZONES (1))", "22023",
	  "invalid AVAILABILITY ZONES: cannot use value in array" },
	{ "CREATE CONNECTION c TO KAFKA (PROGRESS TOPIC REPLICATION FACTOR 3000000000, BROKER 'a')", "22023",
	  "invalid PROGRESS TOPIC REPLICATION FACTOR: invalid numeric value: number too large to fit in target type" },
	/* 5.1 AWS */
	{ "CREATE CONNECTION c TO AWS (REGION 'x')", "22023",
	  "must specify either ASSUME ROLE ARN or ACCESS KEY ID and SECRET ACCESS KEY" },
	{ "CREATE CONNECTION c TO AWS (ACCESS KEY ID 'x')", "22023",
	  "must specify both ACCESS KEY ID and SECRET ACCESS KEY with optional SESSION TOKEN" },
	{ "CREATE CONNECTION c TO AWS (ASSUME ROLE SESSION NAME 'x')", "22023",
	  "must specify ASSUME ROLE ARN with optional ASSUME ROLE SESSION NAME" },
	{ "CREATE CONNECTION c TO AWS (ACCESS KEY ID 'x', SECRET ACCESS KEY SECRET s1, ASSUME ROLE ARN 'a')", "42601",
	  "cannot specify both ACCESS KEY ID and ASSUME ROLE ARN" },
	/* 5.2 PrivateLink */
	{ "CREATE CONNECTION c TO AWS PRIVATELINK (AVAILABILITY ZONES ('a'))", "22023", "SERVICE NAME option is required" },
	{ "CREATE CONNECTION c TO AWS PRIVATELINK (SERVICE NAME 'x')", "22023", "AVAILABILITY ZONES option is required" },
	{ "CREATE CONNECTION c TO AWS PRIVATELINK (SERVICE NAME 'x', AVAILABILITY ZONES ('a', 'a'))", "22023",
	  "connection cannot contain duplicate availability zones" },
	/* 5.3 CSR */
	{ "CREATE CONNECTION c TO CONFLUENT SCHEMA REGISTRY (USER 'x')", "22023", "invalid CONNECTION: must specify URL" },
	{ "CREATE CONNECTION c TO CONFLUENT SCHEMA REGISTRY (URL 'nope')", "22023",
	  "parsing schema registry url: relative URL without a base" },
	{ "CREATE CONNECTION c TO CONFLUENT SCHEMA REGISTRY (URL 'http://h:1/x')", "22023",
	  "invalid CONNECTION: URL must have an empty path" },
	{ "CREATE CONNECTION c TO CONFLUENT SCHEMA REGISTRY (URL 'http://h', PASSWORD SECRET pw)", "22023",
	  "invalid CONNECTION: PASSWORD requires USERNAME" },
	{ "CREATE CONNECTION c TO CONFLUENT SCHEMA REGISTRY (URL 'http://h', SSL KEY SECRET pw)", "22023",
	  "invalid CONNECTION: reading from SSL-auth Confluent Schema Registry requires both SSL KEY and SSL CERTIFICATE" },
	{ "CREATE CONNECTION c TO CONFLUENT SCHEMA REGISTRY (URL 'http://h', AWS PRIVATELINK pl (PORT 1))", "22023",
	  "invalid CONNECTION: CONFLUENT SCHEMA REGISTRY does not support PORT for AWS PRIVATELINK" },
	{ "CREATE CONNECTION c TO CONFLUENT SCHEMA REGISTRY (URL 'http://h', AWS PRIVATELINK pl, SSH TUNNEL ssh)", "42601",
	  "cannot specify both SSH TUNNEL and AWS PRIVATELINK" },
	/* 5.4 Iceberg */
	{ "CREATE CONNECTION c TO ICEBERG CATALOG (URL 'http://h')", "22023",
	  "invalid CONNECTION: ICEBERG connections must specify CATALOG TYPE" },
	{ "CREATE CONNECTION c TO ICEBERG CATALOG (CATALOG TYPE 'hive', URL 'http://h')", "22023",
	  "invalid CATALOG TYPE: unknown catalog type \"hive\"" },
	{ "CREATE CONNECTION c TO ICEBERG CATALOG (CATALOG TYPE 'rest', URL 'http://h')", "22023",
	  "invalid CONNECTION: ICEBERG rest connections require a CREDENTIAL" },
	{ "CREATE CONNECTION c TO ICEBERG CATALOG (CATALOG TYPE 'rest', URL 'http://h', CREDENTIAL 'a', AWS CONNECTION aws)", "22023",
	  "ICEBERG rest connections do not support AWS CONNECTION values" },
	{ "CREATE CONNECTION c TO ICEBERG CATALOG (CATALOG TYPE 'S3TablesRest', URL 'http://h', AWS CONNECTION aws)", "22023",
	  "invalid CONNECTION: ICEBERG s3tablesrest connections must specify WAREHOUSE" },
	{ "CREATE CONNECTION c TO ICEBERG CATALOG (CATALOG TYPE 's3tablesrest', URL 'http://h', WAREHOUSE 'w')", "22023",
	  "invalid CONNECTION: ICEBERG s3tablesrest connections require an AWS connection" },
	/* 5.5 Kafka */
	{ "CREATE CONNECTION c TO KAFKA (SECURITY PROTOCOL 'SSL')", "22023",
	  "invalid CONNECTION: must set one of BROKER, BROKERS, or AWS PRIVATELINK" },
	{ "CREATE CONNECTION c TO KAFKA (BROKER 'a', BROKERS ('b'))", "42601",
	  "invalid CONNECTION: can only set one of BROKER, BROKERS, or AWS PRIVATELINK" },
	{ "CREATE CONNECTION c TO KAFKA (BROKER 'a:1,b:2')", "22023",
	  "invalid CONNECTION: cannot specify multiple Kafka broker addresses in one string." },
	{ "CREATE CONNECTION c TO KAFKA (BROKER 'a:x')", "22023", "invalid BROKER: invalid port" },
	{ "CREATE CONNECTION c TO KAFKA (BROKER 'a', SECURITY PROTOCOL 'tls')", "22023", "unknown security protocol: TLS" },
	{ "CREATE CONNECTION c TO KAFKA (BROKER 'a', SASL MECHANISMS 'MD5', SASL USERNAME 'u', SASL PASSWORD SECRET pw)", "22023",
	  "invalid SASL MECHANISMS: unknown mechanism \"MD5\"" },
	{ "CREATE CONNECTION c TO KAFKA (BROKER 'a', SECURITY PROTOCOL 'SASL_SSL')", "22023", "SASL MECHANISMS must be specified" },
	{ "CREATE CONNECTION c TO KAFKA (BROKER 'a', SECURITY PROTOCOL 'SASL_SSL', SASL MECHANISMS 'PLAIN')", "22023",
	  "SASL USERNAME must be specified" },
	{ "CREATE CONNECTION c TO KAFKA (BROKER 'a', SECURITY PROTOCOL 'PLAINTEXT', SSL CERTIFICATE AUTHORITY 'x')", "22023",
	  "option SSL CERTIFICATE AUTHORITY not supported with this configuration" },
	{ "CREATE CONNECTION c TO KAFKA (BROKER 'a', SSL CERTIFICATE 'x')", "22023", "SSL KEY must be specified with SSL CERTIFICATE" },
	{ "CREATE CONNECTION c TO KAFKA (BROKER 'a', SSL KEY SECRET pw)", "22023", "option SSL KEY not supported with this configuration" },
	{ "CREATE CONNECTION c TO KAFKA (BROKER 'a', AWS CONNECTION aws, SASL MECHANISMS 'PLAIN')", "22023",
	  "option SASL MECHANISMS not supported with this configuration" },
	{ "CREATE CONNECTION c TO KAFKA (AWS PRIVATELINK pl, SSH TUNNEL ssh)", "42601",
	  "cannot specify both SSH TUNNEL and AWS PRIVATELINK" },
	{ "CREATE CONNECTION c TO KAFKA (BROKER 'a', PROGRESS TOPIC REPLICATION FACTOR 0)", "22023",
	  "invalid CONNECTION: PROGRESS TOPIC REPLICATION FACTOR must be greater than 0" },
	{ "CREATE CONNECTION c TO KAFKA (BROKER 'a' USING AWS PRIVATELINK pl (AVAILABILITY ZONE 'use1-az9'))", "22023",
	  "AWS PrivateLink availability zone \"use1-az9\" does not match any of the availability zones on the AWS PrivateLink connection \"materialize.public.pl\"" },
	{ "CREATE CONNECTION c TO KAFKA (BROKER 'a' USING SSH TUNNEL pl)", "42809",
	  "materialize.public.pl is not an SSH connection" },
	/* 5.6 MySQL (Materialize's check order) */
	{ "CREATE CONNECTION c TO MYSQL (AWS CONNECTION aws, PASSWORD SECRET pw)", "22023",
	  "invalid CONNECTION: AWS IAM authentication is not supported with password" },
	{ "CREATE CONNECTION c TO MYSQL (SSL KEY SECRET pw)", "22023",
	  "invalid CONNECTION: both SSL KEY and SSL CERTIFICATE are required" },
	{ "CREATE CONNECTION c TO MYSQL (SSL MODE 'preferred')", "22023", "invalid CONNECTION: unknown SSL MODE \"preferred\"" },
	{ "CREATE CONNECTION c TO MYSQL (AWS CONNECTION aws, HOST 'h', USER 'u')", "22023",
	  "invalid CONNECTION: AWS IAM authentication requires SSL to be enabled" },
	{ "CREATE CONNECTION c TO MYSQL (AWS PRIVATELINK pl (PORT 1))", "22023",
	  "invalid CONNECTION: MYSQL does not support PORT for AWS PRIVATELINK" },
	{ "CREATE CONNECTION c TO MYSQL (PORT 1)", "22023", "HOST option is required" },
	{ "CREATE CONNECTION c TO MYSQL (HOST 'h', SSH TUNNEL ssh)", "22023", "USER option is required" },
	/* 5.7 Postgres */
	{ "CREATE CONNECTION c TO POSTGRES (HOST 'h', PORT 5432, SSH TUNNEL ssh, DATABASE 'postgres')", "22023",
	  "USER option is required" },
	{ "CREATE CONNECTION c TO POSTGRES (HOST 'h', USER 'u')", "22023", "DATABASE option is required" },
	{ "CREATE CONNECTION c TO POSTGRES (HOST 'h', USER 'u', DATABASE 'd', SSL MODE 'prefer')", "22023",
	  "invalid CONNECTION: unknown SSL MODE \"prefer\"" },
	/* 5.8 SQL Server */
	{ "CREATE CONNECTION c TO SQL SERVER (HOST 'h', DATABASE 'd', USER 'u')", "22023", "PASSWORD option is required" },
	{ "CREATE CONNECTION c TO SQL SERVER (HOST 'h', DATABASE 'd', USER 'u', PASSWORD SECRET pw, SSL MODE 'verify_ca')", "22023",
	  "invalid CONNECTION: SSL MODE 'verify_ca' requires SSL CERTIFICATE AUTHORITY" },
	/* 5.9 SSH */
	{ "CREATE CONNECTION c TO SSH TUNNEL (HOST 'h', USER SECRET s1)", "22023",
	  "SSH connections do not support supplying USER value as SECRET" },
	{ "CREATE CONNECTION c TO SSH TUNNEL (HOST 'h', USER 'u', PUBLIC KEY 1 'x')", "22023",
	  "PUBLIC KEY options are set by tether and cannot be specified" },
	{ "CREATE CONNECTION c TO SSH TUNNEL (USER 'u')", "22023", "HOST option is required" },
};

static void test_error_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(error_rows) / sizeof(error_rows[0]); i++)
		expect_err(error_rows[i].sql, error_rows[i].sqlstate, error_rows[i].msg);
}

static void test_accepts_variants(void **state)
{
	(void)state;
	expect_ok("CREATE CONNECTION c TO KAFKA (AWS PRIVATELINK pl (PORT 30292), SECURITY PROTOCOL = 'SASL_PLAINTEXT',"
		  " SASL MECHANISMS = 'SCRAM-SHA-256', SASL USERNAME = 'foo', SASL PASSWORD = SECRET pw)", NULL);
	expect_ok("CREATE CONNECTION c TO KAFKA (BROKER '[::1]:9092')", NULL);
	expect_ok("CREATE CONNECTION c TO KAFKA (BROKER 'msk:9092', SECURITY PROTOCOL = 'SASL_SSL', AWS CONNECTION = aws)", NULL);
	expect_ok("CREATE CONNECTION c TO KAFKA (BROKERS ('a:1', 'b:2'), SSH TUNNEL ssh)", NULL);
	expect_ok("CREATE CONNECTION c TO MYSQL (HOST 'h', USER 'root', AWS CONNECTION aws, SSL MODE 'verify-identity')", NULL);
	expect_ok("CREATE CONNECTION c TO POSTGRES (HOST 'h', USER 'u', DATABASE 'd', SSL MODE 'VERIFY_FULL')", NULL);
	expect_ok("CREATE CONNECTION c TO ICEBERG CATALOG (CATALOG TYPE = 'S3TABLESREST', URL = 'https://s3tables.us-east-1.amazonaws.com/iceberg',"
		  " WAREHOUSE = 'arn:aws:s3tables:us-east-1:123456789012:bucket/my-table-bucket', AWS CONNECTION = aws)", NULL);

	struct cat_conn_plan p;
	struct err e;
	assert_int_equal(plan("CREATE CONNECTION c TO AWS PRIVATELINK (SERVICE NAME 'x', AVAILABILITY ZONES ('a'), PORT 1)",
			      &p, &e), 0);
	assert_string_equal(p.notice, "PORT has no effect on AWS PRIVATELINK connections");
	cat_conn_plan_free(&p);
}

static void test_configured_availability_zones(void **state)
{
	(void)state;
	static const char *const azs[] = { "use1-az1", "use1-az2" };
	const struct conn_settings c2 = { "inst", "us-east-1", azs, 2 };
	struct cat_stmt *st = parse1("CREATE CONNECTION c TO AWS PRIVATELINK (SERVICE NAME 'x', AVAILABILITY ZONES ('us-east-1a'))");
	struct cat_conn_plan p;
	struct err e;

	assert_int_equal(cat_conn_plan_create(st->conn, &res, &c2, &p, &e), -1);
	assert_string_equal(e.message, "invalid AWS PrivateLink availability zone \"us-east-1a\"");
	assert_string_equal(e.hint, "Did you supply an availability zone name instead of an ID? Known availability zone IDs: use1-az1, use1-az2");
	cat_stmts_free(st, 1);
}

/* ALTER on `base`; returns 0 with *out, or -1 with e. */
static int alter(const struct conn_optset *base, const char *sql, struct cat_conn_plan *out,
		 struct err *e)
{
	struct cat_stmt *st = parse1(sql);
	int rc;

	assert_int_equal(st->kind, CAT_STMT_ALTER_CONNECTION);
	err_clear(e);
	rc = cat_conn_plan_alter(base, st->conn, &res, &cfg, out, e);
	cat_stmts_free(st, 1);
	return rc;
}

static void test_alter_merge(void **state)
{
	(void)state;
	struct cat_conn_plan p, q;
	struct err e;
	char *t;

	assert_int_equal(plan("CREATE CONNECTION c TO POSTGRES (HOST 'h', PORT 1, DATABASE 'd', USER 'u', SSL MODE 'require')",
			      &p, &e), 0);
	assert_int_equal(alter(&p.set, "ALTER CONNECTION c SET (PORT 2), SET (PASSWORD SECRET pw), RESET (SSL MODE)",
			       &q, &e), 0);
	t = render(&q.set, CAT_RENDER_SHOW, 0);
	assert_string_equal(t, "CREATE CONNECTION materialize.public.c TO POSTGRES (HOST = 'h', PORT = 2, DATABASE = 'd', USER = 'u', PASSWORD = SECRET materialize.public.pw);");
	free(t);
	assert_int_equal(q.ndeps, 1);
	cat_conn_plan_free(&q);
	/* dropping a required option fails at re-planning */
	assert_int_equal(alter(&p.set, "ALTER CONNECTION c DROP (USER)", &q, &e), -1);
	assert_string_equal(e.message, "USER option is required");
	assert_int_equal(alter(&p.set, "ALTER CONNECTION c SET (HOST 'x'), RESET (HOST)", &q, &e), -1);
	assert_string_equal(e.sqlstate, "42601");
	assert_string_equal(e.message, "cannot both SET and DROP/RESET options HOST");
	assert_int_equal(alter(&p.set, "ALTER CONNECTION c SET (BROKER 'x')", &q, &e), -1);
	assert_string_equal(e.message, "POSTGRES connections do not support BROKER values");
	assert_int_equal(alter(&p.set, "ALTER CONNECTION c SET (HOST 'x'), SET (HOST 'y')", &q, &e), -1);
	assert_string_equal(e.message, "HOST specified more than once");
	cat_conn_plan_free(&p);

	assert_int_equal(plan("CREATE CONNECTION c TO KAFKA (BROKERS ('a:1', 'b:2'), SECURITY PROTOCOL plaintext)", &p, &e), 0);
	assert_int_equal(alter(&p.set, "ALTER CONNECTION c SET (BROKER 'z:3')", &q, &e), 0);
	t = render(&q.set, CAT_RENDER_SHOW, 0);
	assert_string_equal(t, "CREATE CONNECTION materialize.public.c TO KAFKA (BROKER = 'z:3', SECURITY PROTOCOL = plaintext);");
	free(t);
	cat_conn_plan_free(&q);
	assert_int_equal(alter(&p.set, "ALTER CONNECTION c SET (BROKER 'z:3'), RESET (BROKERS)", &q, &e), -1);
	assert_string_equal(e.message, "cannot both SET and DROP/RESET mutually exclusive KAFKA options BROKER, BROKERS");
	assert_int_equal(alter(&p.set, "ALTER CONNECTION c SET (PROGRESS TOPIC 't')", &q, &e), -1);
	assert_string_equal(e.sqlstate, "0A000");
	assert_string_equal(e.message, "cannot ALTER KAFKA option PROGRESS TOPIC");
	cat_conn_plan_free(&p);
}

static void test_codec_roundtrip(void **state)
{
	(void)state;
	struct cat_conn_plan p;
	struct conn_optset d;
	struct err e;

	assert_int_equal(plan("CREATE CONNECTION c TO KAFKA (BROKERS ('a:1' USING SSH TUNNEL ssh,"
			      " 'b:2' USING AWS PRIVATELINK pl (AVAILABILITY ZONE 'use1-az1', PORT 3), 'x\ny:1=2'),"
			      " SECURITY PROTOCOL 'SASL_SSL', SASL MECHANISMS 'PLAIN', SASL USERNAME 'a' || SECRET s1,"
			      " SASL PASSWORD SECRET pw, PROGRESS TOPIC REPLICATION FACTOR -0)", &p, &e), -1);
	assert_int_equal(plan("CREATE CONNECTION c TO KAFKA (BROKERS ('a:1' USING SSH TUNNEL ssh,"
			      " 'b:2' USING AWS PRIVATELINK pl (AVAILABILITY ZONE 'use1-az1', PORT 3), 'xy:1'),"
			      " SECURITY PROTOCOL 'SASL_SSL', SASL MECHANISMS 'PLAIN', SASL USERNAME 'a=\n' || SECRET s1,"
			      " SASL PASSWORD SECRET pw, PROGRESS TOPIC REPLICATION FACTOR 2)", &p, &e), 0);
	char *enc = conn_optset_encode(&p.set);
	assert_non_null(enc);
	assert_int_equal(conn_optset_decode(enc, &d, &e), 0);
	char *enc2 = conn_optset_encode(&d);
	assert_string_equal(enc, enc2);
	free(enc2);
	conn_optset_free(&d);
	/* corrupt records are refused, never half read */
	for (size_t cut = 0; cut + 1 < strlen(enc); cut++) {
		char *c = strndup(enc, cut);
		if (conn_optset_decode(c, &d, &e) == 0) {
			/* a cut exactly at a record boundary is a valid shorter set */
			assert_true(cut == 0 || c[cut - 1] == '\n');
			conn_optset_free(&d);
		}
		free(c);
	}
	free(enc);
	cat_conn_plan_free(&p);
}

/* ---- property test ---- */

static const char *const base_conns[] = {
	"CREATE CONNECTION c TO POSTGRES (HOST 'h', DATABASE 'd', USER 'u')",
	"CREATE CONNECTION c TO MYSQL (HOST 'h', USER 'u')",
	"CREATE CONNECTION c TO SQL SERVER (HOST 'h', DATABASE 'd', USER 'u', PASSWORD SECRET pw)",
	"CREATE CONNECTION c TO KAFKA (BROKER 'a:1')",
	"CREATE CONNECTION c TO KAFKA (AWS PRIVATELINK pl (PORT 1), SECURITY PROTOCOL 'PLAINTEXT')",
	"CREATE CONNECTION c TO CONFLUENT SCHEMA REGISTRY (URL 'http://h:1')",
	"CREATE CONNECTION c TO ICEBERG CATALOG (CATALOG TYPE 'rest', URL 'http://h', CREDENTIAL 'a')",
	"CREATE CONNECTION c TO AWS (ASSUME ROLE ARN 'arn')",
	"CREATE CONNECTION c TO AWS PRIVATELINK (SERVICE NAME 's', AVAILABILITY ZONES ('a'))",
	"CREATE CONNECTION c TO SSH TUNNEL (HOST 'h', USER 'u')",
};

static const char *const text_vals[] = {
	"'x'", "ident", "'require'", "'verify-full'", "'disabled'", "'verify_ca'", "'SASL_SSL'",
	"'PLAINTEXT'", "'SSL'", "'PLAIN'", "'rest'", "'s3tablesrest'", "'http://h:2'", "'a:1'",
	"5", "SECRET s1", "'a' || 'b'",
};
static const char *const port_vals[] = { "1", "5432", "0", "65536", "'x'" };
static const char *const secret_vals[] = { "SECRET s1", "SECRET pw", "'x'", "SECRET ssh" };
static const char *const tos_vals[] = { "'u'", "SECRET s2", "'a:' || SECRET s1", "u" };
static const char *const ref_vals[] = { "ssh", "pl", "aws", "pg", "s1", "pl (PORT 7)" };
static const char *const list_vals[] = { "('use1-az1')", "('a', 'b')", "('a', 'a')", "'a'" };
static const char *const broker_vals[] = { "'b:2'", "'b:2' USING SSH TUNNEL ssh", "'b:2' USING AWS PRIVATELINK pl (AVAILABILITY ZONE 'use1-az4')", "'b,c'" };
static const char *const brokers_vals[] = { "('a:1', 'b:2')", "('a:1' USING SSH TUNNEL ssh)", "()" };
static const char *const i32_vals[] = { "3", "-1", "0" };

#define PICK(a) a[(size_t)rand() % (sizeof(a) / sizeof(a[0]))]

static const char *random_value(enum conn_opt_id id)
{
	switch (conn_opts[id].kind) {
	case CONN_K_TEXT: return PICK(text_vals);
	case CONN_K_PORT: return PICK(port_vals);
	case CONN_K_I32: return PICK(i32_vals);
	case CONN_K_SECRET: return PICK(secret_vals);
	case CONN_K_TEXT_OR_SECRET: return PICK(tos_vals);
	case CONN_K_REF: return PICK(ref_vals);
	case CONN_K_TEXT_LIST: return PICK(list_vals);
	case CONN_K_BROKER: return PICK(broker_vals);
	case CONN_K_BROKERS: return PICK(brokers_vals);
	default: return "'x'";
	}
}

/* Everything that must hold of an accepted set. */
static void check_invariants(const struct cat_conn_plan *p)
{
	struct cat_conn_plan again;
	struct conn_optset d;
	struct err e;
	char *enc, *enc2, *sql;

	/* re-planning the stored set succeeds */
	memset(&again, 0, sizeof(again));
	enc = conn_optset_encode(&p->set);
	assert_non_null(enc);
	assert_int_equal(conn_optset_decode(enc, &d, &e), 0);
	again.set = d;
	if (cat_conn_plan_check(&again, &res, &cfg, &e) != 0) {
		print_error("stored set re-plan failed: %s %s\n%s\n", e.sqlstate, e.message, enc);
		fail();
	}
	cat_conn_plan_free(&again);
	/* its own create_sql parses and plans back to the same set */
	sql = render(&p->set, CAT_RENDER_STORED, 0);
	if (plan(sql, &again, &e) != 0) {
		print_error("create_sql does not re-plan: %s %s\n%s\n", e.sqlstate, e.message, sql);
		fail();
	}
	enc2 = conn_optset_encode(&again.set);
	if (strcmp(enc, enc2)) {
		print_error("create_sql round trip differs\n%s\n---\n%s\n---\n%s\n", sql, enc, enc2);
		fail();
	}
	free(enc);
	free(enc2);
	free(sql);
	cat_conn_plan_free(&again);
}

static void test_property_random_alters(void **state)
{
	(void)state;
	size_t accepted = 0, rejected = 0;

	srand(4242);
	for (int round = 0; round < 300; round++) {
		struct cat_conn_plan cur;
		struct err e;
		const char *base = PICK(base_conns);
		const struct conn_type_def *t;

		assert_int_equal(plan(base, &cur, &e), 0);
		check_invariants(&cur);
		t = &conn_types[cur.set.type];
		for (int step = 0; step < 25; step++) {
			char sql[1024];
			size_t off = (size_t)snprintf(sql, sizeof(sql), "ALTER CONNECTION c ");
			int nact = 1 + rand() % 3;
			struct cat_conn_plan next;

			for (int a = 0; a < nact; a++) {
				/* mostly the type's options, sometimes any */
				enum conn_opt_id id = rand() % 5 ? t->opts[(size_t)rand() % t->nopts].opt :
							(enum conn_opt_id)(rand() % CONN_NOPTS);
				if (rand() % 3)
					off += (size_t)snprintf(sql + off, sizeof(sql) - off, "%sSET (%s = %s)",
								a ? ", " : "", conn_opts[id].name, random_value(id));
				else
					off += (size_t)snprintf(sql + off, sizeof(sql) - off, "%sRESET (%s)",
								a ? ", " : "", conn_opts[id].name);
			}
			struct cat_stmt *st = NULL;
			size_t n = 0;
			int rc = -1;
			if (cat_parse(sql, strlen(sql), &st, &n, &e) == 0) {
				rc = cat_conn_plan_alter(&cur.set, st->conn, &res, &cfg, &next, &e);
				cat_stmts_free(st, n);
			}
			if (rc == 0) {
				accepted++;
				check_invariants(&next);
				cat_conn_plan_free(&cur);
				cur = next;
			} else {
				rejected++;
				assert_true(strlen(e.sqlstate) == 5);
			}
		}
		cat_conn_plan_free(&cur);
	}
	print_message("property: %zu ALTERs accepted, %zu rejected\n", accepted, rejected);
	assert_true(accepted > 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_forms),
		cmocka_unit_test(test_error_rows),
		cmocka_unit_test(test_accepts_variants),
		cmocka_unit_test(test_configured_availability_zones),
		cmocka_unit_test(test_alter_merge),
		cmocka_unit_test(test_codec_roundtrip),
		cmocka_unit_test(test_property_random_alters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
