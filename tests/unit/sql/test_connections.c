/* Connection statements (SQL.md 3, 4, 5; parser_conn.c): CREATE with every
 * seed form (optional commas, optional =, longest option names, lists,
 * chains, brokers with tunnels), ALTER actions, VALIDATE, SHOW [REDACTED]
 * CREATE, COMMENT ON, and the exact parse errors of SQL.md 7 and 10. */
#include "sql_test.h"

static const struct cat_conn_option *opt(const struct cat_stmt *st, size_t i)
{
	assert_non_null(st->conn);
	assert_true(i < st->conn->nopts);
	return &st->conn->opts[i];
}

static void test_create_kafka_ssl_without_comma(void **state)
{
	(void)state;
	/* seed quirk 1: no comma after SECURITY PROTOCOL = 'SSL' */
	struct cat_stmt *st = parse_one(
		"CREATE CONNECTION kafka_connection TO KAFKA (\n"
		"    BROKER 'rp-f00000bar.cloud.redpanda.com:30365',\n"
		"    SECURITY PROTOCOL = 'SSL'\n"
		"    SSL CERTIFICATE = SECRET kafka_ssl_cert,\n"
		"    SSL KEY = SECRET kafka_ssl_key,\n"
		"    -- comment\n"
		"    SSL CERTIFICATE AUTHORITY = SECRET ca_cert\n"
		");");
	assert_int_equal(st->kind, CAT_STMT_CREATE_CONNECTION);
	assert_string_equal(st->conn->type_kw, "KAFKA");
	assert_int_equal(st->conn->nopts, 5);
	assert_string_equal(opt(st, 0)->name, "BROKER");
	assert_int_equal(opt(st, 0)->value.kind, CAT_CV_BROKER);
	assert_string_equal(opt(st, 0)->value.text, "rp-f00000bar.cloud.redpanda.com:30365");
	assert_string_equal(opt(st, 1)->name, "SECURITY PROTOCOL");
	assert_string_equal(opt(st, 2)->name, "SSL CERTIFICATE");
	assert_int_equal(opt(st, 2)->value.kind, CAT_CV_SECRET);
	assert_string_equal(opt(st, 2)->value.name.parts[0], "kafka_ssl_cert");
	assert_string_equal(opt(st, 4)->name, "SSL CERTIFICATE AUTHORITY");
	assert_false(st->conn->has_validate);
	assert_string_equal(cat_stmt_tag(st), "CREATE CONNECTION");
	cat_stmts_free(st, 1);
}

static void test_create_brokers_with_tunnels(void **state)
{
	(void)state;
	struct cat_stmt *st = parse_one(
		"CREATE CONNECTION kafka_connection TO KAFKA (\n"
		"    BROKERS (\n"
		"        'broker1:9092' USING AWS PRIVATELINK privatelink_svc,\n"
		"        'broker2:9092' USING AWS PRIVATELINK privatelink_svc (PORT 9093),\n"
		"        'broker3:9092' USING AWS PRIVATELINK pl (AVAILABILITY ZONE = 'use1-az1', PORT = 1),\n"
		"        'broker4:9092' USING SSH TUNNEL ssh1\n"
		"    )\n"
		"    SSH TUNNEL ssh_1\n"
		")");
	const struct cat_conn_value *b = &opt(st, 0)->value;
	assert_int_equal(b->kind, CAT_CV_LIST);
	assert_int_equal(b->nitems, 4);
	assert_int_equal(b->items[0].tunnel, CAT_TUNNEL_PRIVATELINK);
	assert_null(b->items[0].port);
	assert_string_equal(b->items[1].port, "9093");
	assert_string_equal(b->items[2].az, "use1-az1");
	assert_int_equal(b->items[3].tunnel, CAT_TUNNEL_SSH);
	assert_string_equal(b->items[3].name.parts[0], "ssh1");
	assert_string_equal(opt(st, 1)->name, "SSH TUNNEL");
	assert_string_equal(opt(st, 1)->value.name.parts[0], "ssh_1");
	cat_stmts_free(st, 1);
}

static void test_create_values(void **state)
{
	(void)state;
	struct cat_stmt *st = parse_one(
		"CREATE CONNECTION IF NOT EXISTS db.sc.c TO POSTGRES (HOST = 'h', PORT -5,"
		" DATABASE postgres, USERNAME \"Bob\", PASSWORD SECRET a.b.pw,"
		" SSL MODE verify_full) WITH (VALIDATE = false)");
	assert_true(st->if_not_exists);
	assert_int_equal(st->name.nparts, 3);
	assert_string_equal(opt(st, 1)->value.text, "-5");
	assert_int_equal(opt(st, 2)->value.kind, CAT_CV_NAME);
	assert_string_equal(opt(st, 3)->name, "USER");
	assert_true(opt(st, 3)->value.quoted);
	assert_string_equal(opt(st, 3)->value.name.parts[0], "Bob");
	assert_int_equal(opt(st, 4)->value.name.nparts, 3);
	assert_true(st->conn->has_validate);
	assert_false(st->conn->validate);
	cat_stmts_free(st, 1);

	st = parse_one("CREATE CONNECTION c TO AWS PRIVATELINK (SERVICE NAME 'x',"
		       " AVAILABILITY ZONES ['use1-az1', 'use1-az4']) WITH (VALIDATE)");
	assert_string_equal(st->conn->type_kw, "AWS PRIVATELINK");
	assert_int_equal(opt(st, 1)->value.kind, CAT_CV_LIST);
	assert_int_equal(opt(st, 1)->value.nitems, 2);
	assert_true(st->conn->validate);
	cat_stmts_free(st, 1);
}

static void test_create_chain(void **state)
{
	(void)state;
	struct cat_stmt *st = parse_one(
		"CREATE CONNECTION polaris_catalog TO ICEBERG CATALOG (\n"
		"    CATALOG TYPE = 'REST',\n"
		"    URL = 'https://polaris.example.com/api/catalog',\n"
		"    CREDENTIAL = 'client-id:' || SECRET iceberg_oauth_secret,\n"
		"    WAREHOUSE = 'analytics',\n"
		"    SCOPE = 'PRINCIPAL_ROLE:ALL'\n"
		");");
	const struct cat_conn_value *v = &opt(st, 2)->value;
	assert_int_equal(v->kind, CAT_CV_CHAIN);
	assert_int_equal(v->nitems, 2);
	assert_int_equal(v->items[0].kind, CAT_CV_STRING);
	assert_int_equal(v->items[1].kind, CAT_CV_SECRET);
	cat_stmts_free(st, 1);
	expect_error("CREATE CONNECTION c TO ICEBERG CATALOG (CREDENTIAL = 'a' || 'b' || 'c' || 'd'"
		     " || 'e' || 'f' || 'g' || 'h' || 'i')", "54000",
		     "|| chains can have at most 8 terms", -1);
	expect_error("CREATE CONNECTION c TO ICEBERG CATALOG (CREDENTIAL = 'a' || 5)", "42601",
		     "Expected string literal or SECRET, found number \"5\"", -1);
}

static void test_option_separator_rules(void **state)
{
	(void)state;
	/* SQL.md 1.1: the token after an option name is always its value */
	expect_error("CREATE CONNECTION c TO POSTGRES (HOST PORT 5432)", "42601",
		     "Expected option name or right parenthesis, found number \"5432\"", -1);
	struct cat_stmt *st = parse_one("CREATE CONNECTION c TO POSTGRES (HOST PORT, PORT 5432)");
	assert_int_equal(opt(st, 0)->value.kind, CAT_CV_NAME);
	assert_string_equal(opt(st, 0)->value.name.parts[0], "port");
	cat_stmts_free(st, 1);
	/* a value-less option */
	st = parse_one("CREATE CONNECTION c TO POSTGRES (HOST, PORT = 1)");
	assert_int_equal(opt(st, 0)->value.kind, CAT_CV_NONE);
	cat_stmts_free(st, 1);
}

static void test_unknown_option_word(void **state)
{
	(void)state;
	expect_error("CREATE CONNECTION c TO KAFKA (FOO 'x')", "42601",
		     "Expected one of ACCESS or ASSUME or AVAILABILITY or AWS or BROKER or BROKERS or CATALOG or CREDENTIAL or DATABASE or ENDPOINT or HOST or PASSWORD or PORT or PROGRESS or PUBLIC or REGION or SASL or SCOPE or SECRET or SECURITY or SERVICE or SESSION or SSH or SSL or URL or USER or USERNAME or WAREHOUSE, found identifier \"foo\"",
		     31);
	expect_error("CREATE CONNECTION c TO KAFKA (SSL FOO 'x')", "42601",
		     "Expected one of CERTIFICATE or KEY or MODE, found identifier \"foo\"", 35);
	expect_error("CREATE CONNECTION c TO KAFKA (AWS 'x')", "42601",
		     "Expected one of CONNECTION or PRIVATELINK, found string literal \"x\"", -1);
	/* seed quirk 4: the literal "..." */
	expect_error("CREATE CONNECTION ssh1 TO SSH TUNNEL (HOST 'ssh1', ...);", "42601",
		     "Expected one of ACCESS or ASSUME or AVAILABILITY or AWS or BROKER or BROKERS or CATALOG or CREDENTIAL or DATABASE or ENDPOINT or HOST or PASSWORD or PORT or PROGRESS or PUBLIC or REGION or SASL or SCOPE or SECRET or SECURITY or SERVICE or SESSION or SSH or SSL or URL or USER or USERNAME or WAREHOUSE, found dot",
		     -1);
}

static void test_privatelink_needs_name(void **state)
{
	(void)state;
	/* seed quirk 3 */
	expect_error("CREATE CONNECTION kafka_connection TO KAFKA (\n"
		     "    AWS PRIVATELINK (PORT 30292)\n"
		     "    SECURITY PROTOCOL = 'SASL_PLAINTEXT',\n"
		     "    SASL MECHANISMS = 'SCRAM-SHA-256',\n"
		     "    SASL USERNAME = 'foo',\n"
		     "    SASL PASSWORD = SECRET red_panda_password\n"
		     ");", "42601",
		     "AWS PRIVATELINK requires a connection name, e.g. AWS PRIVATELINK privatelink_svc (PORT 30292)",
		     67);
	struct cat_stmt *st = parse_one("CREATE CONNECTION k TO KAFKA (AWS PRIVATELINK pl (PORT 30292),"
					" SECURITY PROTOCOL = 'SASL_PLAINTEXT')");
	assert_int_equal(opt(st, 0)->value.kind, CAT_CV_PRIVATELINK);
	assert_string_equal(opt(st, 0)->value.port, "30292");
	cat_stmts_free(st, 1);
}

static void test_create_type_errors(void **state)
{
	(void)state;
	expect_error("CREATE CONNECTION c TO REDIS (HOST 'x')", "42601",
		     "Expected one of AWS or AWS PRIVATELINK or CONFLUENT SCHEMA REGISTRY or ICEBERG CATALOG or KAFKA or MYSQL or POSTGRES or SQL SERVER or SSH TUNNEL, found identifier \"redis\"",
		     24);
	expect_error("CREATE CONNECTION c TO GCP (X 'y')", "0A000",
		     "connection type GCP is not supported", 24);
	expect_error("CREATE CONNECTION c FOR KAFKA BROKER 'x'", "42601",
		     "Expected TO, found FOR", 21);
	expect_error("CREATE CONNECTION c TO KAFKA (BROKER 'x') WITH (VALIDATE = 'yes')", "22023",
		     "invalid VALIDATE: cannot use value as boolean", -1);
	expect_error("CREATE CONNECTION c TO KAFKA (BROKER 'x') WITH (TIMEOUT = 1)", "42601",
		     "Expected VALIDATE, found identifier \"timeout\"", -1);
}

static void test_alter_connection(void **state)
{
	(void)state;
	struct cat_stmt *st = parse_one("ALTER CONNECTION IF EXISTS c SET (HOST = 'a', PORT 5433),"
					" RESET (SSL MODE, USER), DROP (PASSWORD) WITH (VALIDATE = false)");
	assert_int_equal(st->kind, CAT_STMT_ALTER_CONNECTION);
	assert_true(st->if_exists);
	assert_int_equal(st->conn->nactions, 3);
	assert_int_equal(st->conn->actions[0].kind, CAT_CA_SET);
	assert_int_equal(st->conn->actions[0].nopts, 2);
	assert_int_equal(st->conn->actions[1].kind, CAT_CA_RESET);
	assert_string_equal(st->conn->actions[1].opts[0].name, "SSL MODE");
	assert_int_equal(st->conn->actions[2].kind, CAT_CA_RESET);
	assert_true(st->conn->has_validate);
	assert_string_equal(cat_stmt_tag(st), "ALTER CONNECTION");
	cat_stmts_free(st, 1);

	st = parse_one("ALTER CONNECTION c ROTATE KEYS");
	assert_int_equal(st->conn->actions[0].kind, CAT_CA_ROTATE_KEYS);
	cat_stmts_free(st, 1);
	st = parse_one("ALTER CONNECTION c RENAME TO d");
	assert_true(st->conn->rename);
	assert_string_equal(st->new_name, "d");
	cat_stmts_free(st, 1);

	expect_error("ALTER CONNECTION c ROTATE KEYS, SET (HOST 'x')", "42601",
		     "cannot specify any other actions alongside ALTER CONNECTION...ROTATE KEYS", 20);
	expect_error("ALTER CONNECTION c ROTATE KEYS WITH (VALIDATE = true)", "42601",
		     "ALTER CONNECTION...ROTATE KEYS does not support WITH (VALIDATE = true)", 20);
	expect_error("ALTER CONNECTION c RENAME TO a.b", "42601",
		     "Expected end of statement, found dot", 31);
	expect_error("ALTER CONNECTION c FOO", "42601",
		     "Expected one of SET or RESET or DROP or ROTATE KEYS or RENAME or OWNER, found identifier \"foo\"", 20);
	expect_error("ALTER CONNECTION c RESET (HOST = 'x')", "42601",
		     "Expected right parenthesis, found equals sign", 32);
}

static void test_validate_show_comment(void **state)
{
	(void)state;
	struct cat_stmt *st = parse_one("VALIDATE CONNECTION a.b");
	assert_int_equal(st->kind, CAT_STMT_VALIDATE_CONNECTION);
	assert_int_equal(st->name.nparts, 2);
	cat_stmts_free(st, 1);
	st = parse_one("SHOW REDACTED CREATE CONNECTION c");
	assert_int_equal(st->kind, CAT_STMT_SHOW_CREATE_CONNECTION);
	assert_true(st->conn->redacted);
	cat_stmts_free(st, 1);
	st = parse_one("SHOW CREATE CONNECTION c");
	assert_false(st->conn->redacted);
	cat_stmts_free(st, 1);
	st = parse_one("COMMENT ON SECRET s IS 'hello'");
	assert_int_equal(st->kind, CAT_STMT_COMMENT);
	assert_int_equal(st->object_kind, CAT_OBJ_SECRET);
	assert_string_equal(st->conn->comment, "hello");
	cat_stmts_free(st, 1);
	st = parse_one("COMMENT ON CONNECTION c IS NULL");
	assert_null(st->conn->comment);
	cat_stmts_free(st, 1);
	expect_error("SHOW CREATE TABLE t", "42601", "Expected CONNECTION, found identifier \"table\"", 13);
	expect_error("COMMENT ON TABLE t IS 'x'", "42601",
		     "Expected one of CONNECTION or SECRET, found identifier \"table\"", 12);
	expect_error("VALIDATE SECRET s", "42601", "Expected CONNECTION, found SECRET", 10);
}

/* Every CREATE CONNECTION of the seed (verbatim but for the placeholders
 * <SSH_BASTION_PORT> and the quirks tested above) parses. */
static void test_seed_statements_parse(void **state)
{
	(void)state;
	static const char *const seeds[] = {
		"CREATE CONNECTION aws_role_assumption TO AWS (\n    ASSUME ROLE ARN = 'arn:aws:iam::000000000000:role/WarehouseExport',\n    REGION = 'us-east-1'\n);",
		"CREATE CONNECTION aws_credentials TO AWS (\n    ACCESS KEY ID = 'ASIAV2KIV5LPTG6HGXG6',\n    SECRET ACCESS KEY = SECRET aws_secret_access_key\n);",
		"CREATE CONNECTION kafka_connection TO KAFKA (\n    BROKERS ('broker1:9092', 'broker2:9092')\n);",
		"CREATE CONNECTION kafka_msk TO KAFKA (\n    BROKER 'msk.mycorp.com:9092',\n    SECURITY PROTOCOL = 'SASL_SSL',\n    AWS CONNECTION = aws_msk\n);",
		"CREATE CONNECTION csr_basic TO CONFLUENT SCHEMA REGISTRY (\n    URL 'https://rp-f00000bar.cloud.redpanda.com:30993',\n    USERNAME = 'foo',\n    PASSWORD = SECRET csr_password\n    -- Specifying a certificate authority is only required if your cluster's\n    SSL CERTIFICATE AUTHORITY = SECRET ca_cert\n);",
		"CREATE CONNECTION mysql_connection TO MYSQL (\n    HOST 'instance.foo000.us-west-1.rds.amazonaws.com',\n    PORT 3306,\n    USER 'root',\n    AWS CONNECTION aws_rds_mysql,\n    SSL MODE 'verify_identity'\n);",
		"CREATE CONNECTION s3_tables_catalog TO ICEBERG CATALOG (\n    CATALOG TYPE = 'S3TABLESREST',\n    URL = 'https://s3tables.us-east-1.amazonaws.com',\n    AWS CONNECTION = aws_conn,\n    WAREHOUSE = 'my-s3-table-bucket'\n);",
		"CREATE CONNECTION sqlserver_connection TO SQL SERVER (\n    HOST 'instance.foo000.us-west-1.rds.amazonaws.com',\n    PORT 1433,\n    USER 'SA',\n    PASSWORD SECRET sqlserver_pass,\n    DATABASE 'my_db'\n);",
		"CREATE CONNECTION aws_connection\n  TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::123456789012:role/MaterializeIceberg');",
	};
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		struct cat_stmt *st = parse_one(seeds[i]);
		assert_int_equal(st->kind, CAT_STMT_CREATE_CONNECTION);
		cat_stmts_free(st, 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_kafka_ssl_without_comma),
		cmocka_unit_test(test_create_brokers_with_tunnels),
		cmocka_unit_test(test_create_values),
		cmocka_unit_test(test_create_chain),
		cmocka_unit_test(test_option_separator_rules),
		cmocka_unit_test(test_unknown_option_word),
		cmocka_unit_test(test_privatelink_needs_name),
		cmocka_unit_test(test_create_type_errors),
		cmocka_unit_test(test_alter_connection),
		cmocka_unit_test(test_validate_show_comment),
		cmocka_unit_test(test_seed_statements_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
