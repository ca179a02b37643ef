/* Every example of seed/create-connection.md, verbatim, against a real
 * tetherd (issue 4 item 2): secrets and connections an example refers to
 * are created first, `WITH (VALIDATE = false)` is appended only to CREATE
 * CONNECTION statements of types that validate by default (their hosts,
 * e.g. *.redpanda.com, are not reachable from a test; validation itself is
 * tested in test_validation*.c), and each example must create exactly the
 * objects it describes. The
 * seed's quirks (SQL.md 10) fail with their exact errors. Placeholders the
 * seed leaves unfilled (PORT <SSH_BASTION_PORT>) are filled with 22 after
 * checking that the verbatim text is a syntax error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static struct tetherd daemon_;
static PGconn *conn_;

static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static int group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	if (th_start(&daemon_) < 0)
		return -1;
	conn_ = th_connect(&daemon_);
	if (conn_)
		PQsetNoticeProcessor(conn_, quiet, NULL);
	return conn_ ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	if (conn_)
		PQfinish(conn_);
	th_stop(&daemon_);
	th_cleanup(&daemon_);
	return 0;
}

/* Types whose CREATE validates by default (SQL.md 6). */
static const char *const validating[] = {
	" TO KAFKA", " TO CONFLUENT SCHEMA REGISTRY", " TO MYSQL", " TO POSTGRES",
	" TO SQL SERVER", " TO ICEBERG CATALOG",
};

static int needs_validate_false(const char *stmt)
{
	while (!strncmp(stmt, "--", 2)) {      /* leading comment lines */
		const char *nl = strchr(stmt, '\n');
		if (!nl)
			return 0;
		stmt = nl + 1;
	}
	if (strncmp(stmt, "CREATE CONNECTION", 17) != 0)
		return 0;
	for (size_t i = 0; i < sizeof(validating) / sizeof(validating[0]); i++) {
		const char *p = strstr(stmt, validating[i]);
		if (p && (p[strlen(validating[i])] == ' ' || p[strlen(validating[i])] == '\n' ||
			  p[strlen(validating[i])] == '('))
			return 1;
	}
	return 0;
}

/* Runs the statements of `text` (split after ";\n" or a final ";") one by
 * one. Returns the index of the first failing statement (its SQLSTATE and
 * message in *state / *msg), or -1 when all succeeded. */
static int run_example(const char *text, const char **sqlstate, const char **msg)
{
	char *copy = strdup(text), *p = copy;
	int idx = 0;

	assert_non_null(copy);
	while (*p) {
		char *end = strstr(p, ";\n");
		char stmt[8192];
		size_t len;

		while (*p == '\n' || *p == ' ')
			p++;
		if (!*p)
			break;
		if (!end)
			end = p + strlen(p) - (p[strlen(p) - 1] == ';');
		len = (size_t)(end - p);
		assert_true(len + 64 < sizeof(stmt));
		memcpy(stmt, p, len);
		stmt[len] = '\0';
		if (needs_validate_false(stmt))
			strcat(stmt, " WITH (VALIDATE = false)");
		strcat(stmt, ";");
		*sqlstate = th_exec_sqlstate(conn_, stmt, msg);
		if ((*sqlstate)[0]) {
			free(copy);
			return idx;
		}
		idx++;
		p = *end ? end + 1 : end;
	}
	free(copy);
	return -1;
}

static void exec_ok(const char *sql)
{
	const char *msg;
	const char *st = th_exec_sqlstate(conn_, sql, &msg);
	if (st[0]) {
		fprintf(stderr, "sql: %s\n  failed: %s %s\n", sql, st, msg);
		fail();
	}
}

/* Drops every connection and secret: each example starts from nothing. */
static void reset_catalog(void)
{
	for (int round = 0; round < 2; round++) {
		const char *rel = round == 0 ? "mz_connections" : "mz_secrets";
		const char *kind = round == 0 ? "CONNECTION" : "SECRET";
		char q[128];
		PGresult *r;

		snprintf(q, sizeof(q), "SELECT name FROM %s", rel);
		r = PQexec(conn_, q);
		assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
		for (int i = 0; i < PQntuples(r); i++) {
			char d[512];
			snprintf(d, sizeof(d), "DROP %s IF EXISTS \"%s\" CASCADE", kind,
				 PQgetvalue(r, i, 0));
			exec_ok(d);
		}
		PQclear(r);
	}
}

static char *value(const char *sql)
{
	char *v = th_query_value(conn_, sql);
	if (!v) {
		fprintf(stderr, "no value for %s\n", sql);
		fail();
	}
	return v;
}

static void expect_query_value(const char *sql, const char *want)
{
	char *v = value(sql);
	if (strcmp(v, want)) {
		fprintf(stderr, "%s\n  want %s\n  got  %s\n", sql, want, v);
		free(v);
		fail();
	}
	free(v);
}

struct example {
	const char *title;
	const char *setup;          /* what it refers to, created first */
	const char *text;           /* verbatim from the seed */
	const char *objects;        /* "name:type,..." it must create */
	int fails_at;               /* -1: all statements succeed */
	const char *sqlstate, *message;
};

#define SSH_CONNECTION "CREATE CONNECTION ssh_connection TO SSH TUNNEL (HOST 'bastion-host', PORT 22, USER 'materialize');"

static const struct example examples[] = {
	{ "AWS role assumption", NULL,
	  "CREATE CONNECTION aws_role_assumption TO AWS (\n"
	  "    ASSUME ROLE ARN = 'arn:aws:iam::000000000000:role/WarehouseExport',\n"
	  "    REGION = 'us-east-1'\n"
	  ");",
	  "aws_role_assumption:aws", -1, NULL, NULL },
	{ "AWS credentials", NULL,
	  "CREATE SECRET aws_secret_access_key AS '...';\n"
	  "CREATE CONNECTION aws_credentials TO AWS (\n"
	  "    ACCESS KEY ID = 'ASIAV2KIV5LPTG6HGXG6',\n"
	  "    SECRET ACCESS KEY = SECRET aws_secret_access_key\n"
	  ");",
	  "aws_credentials:aws", -1, NULL, NULL },
	{ "S3 compatible object storage", NULL,
	  "CREATE SECRET secret_access_key AS '...';\n"
	  "CREATE CONNECTION gcs_connection TO AWS (\n"
	  "    ACCESS KEY ID = 'ASIAV2KIV5LPTG6HGXG6',\n"
	  "    SECRET ACCESS KEY = SECRET secret_access_key,\n"
	  "    ENDPOINT = 'https://storage.googleapis.com',\n"
	  "    REGION = 'us'\n"
	  ");",
	  "gcs_connection:aws", -1, NULL, NULL },
	{ "Kafka BROKERS", NULL,
	  "CREATE CONNECTION kafka_connection TO KAFKA (\n"
	  "    BROKERS ('broker1:9092', 'broker2:9092')\n"
	  ");",
	  "kafka_connection:kafka", -1, NULL, NULL },
	{ "Kafka PLAINTEXT", SSH_CONNECTION,
	  "CREATE CONNECTION kafka_connection TO KAFKA (\n"
	  "    BROKER 'unique-jellyfish-0000.prd.cloud.redpanda.com:9092',\n"
	  "    SECURITY PROTOCOL = 'PLAINTEXT',\n"
	  "    SSH TUNNEL ssh_connection\n"
	  ");",
	  "kafka_connection:kafka", -1, NULL, NULL },
	{ "Kafka SSL (quirk 1: no comma)", NULL,
	  "CREATE SECRET kafka_ssl_cert AS '-----BEGIN CERTIFICATE----- ...';\n"
	  "CREATE SECRET kafka_ssl_key AS '-----BEGIN PRIVATE KEY----- ...';\n"
	  "CREATE SECRET ca_cert AS '-----BEGIN CERTIFICATE----- ...';\n"
	  "\n"
	  "CREATE CONNECTION kafka_connection TO KAFKA (\n"
	  "    BROKER 'rp-f00000bar.cloud.redpanda.com:30365',\n"
	  "    SECURITY PROTOCOL = 'SSL'\n"
	  "    SSL CERTIFICATE = SECRET kafka_ssl_cert,\n"
	  "    SSL KEY = SECRET kafka_ssl_key,\n"
	  "    -- Specifying a certificate authority is only required if your cluster's\n"
	  "    -- certificates are not issued by a CA trusted by the Mozilla root store.\n"
	  "    SSL CERTIFICATE AUTHORITY = SECRET ca_cert\n"
	  ");",
	  "kafka_connection:kafka", -1, NULL, NULL },
	{ "Kafka SSL, encryption only", SSH_CONNECTION,
	  "CREATE SECRET ca_cert AS '-----BEGIN CERTIFICATE----- ...';\n"
	  "\n"
	  "CREATE CONNECTION kafka_connection TO KAFKA (\n"
	  "    BROKER = 'rp-f00000bar.cloud.redpanda.com:30365',\n"
	  "    SECURITY PROTOCOL = 'SSL',\n"
	  "    SSH TUNNEL ssh_connection,\n"
	  "    -- Specifying a certificate authority is only required if your cluster's\n"
	  "    -- certificates are not issued by a CA trusted by the Mozilla root store.\n"
	  "    SSL CERTIFICATE AUTHORITY = SECRET ca_cert\n"
	  ");",
	  "kafka_connection:kafka", -1, NULL, NULL },
	{ "Kafka SASL_PLAINTEXT", SSH_CONNECTION,
	  "CREATE SECRET kafka_password AS '...';\n"
	  "\n"
	  "CREATE CONNECTION kafka_connection TO KAFKA (\n"
	  "    BROKER 'unique-jellyfish-0000.us-east-1.aws.confluent.cloud:9092',\n"
	  "    SECURITY PROTOCOL = 'SASL_PLAINTEXT',\n"
	  "    SASL MECHANISMS = 'SCRAM-SHA-256', -- or `PLAIN` or `SCRAM-SHA-512`\n"
	  "    SASL USERNAME = 'foo',\n"
	  "    SASL PASSWORD = SECRET kafka_password,\n"
	  "    SSH TUNNEL ssh_connection\n"
	  ");",
	  "kafka_connection:kafka", -1, NULL, NULL },
	{ "Kafka SASL_SSL", NULL,
	  "CREATE SECRET kafka_password AS '...';\n"
	  "CREATE SECRET ca_cert AS '-----BEGIN CERTIFICATE----- ...';\n"
	  "\n"
	  "CREATE CONNECTION kafka_connection TO KAFKA (\n"
	  "    BROKER 'unique-jellyfish-0000.us-east-1.aws.confluent.cloud:9092',\n"
	  "    SECURITY PROTOCOL = 'SASL_SSL',\n"
	  "    SASL MECHANISMS = 'SCRAM-SHA-256', -- or `PLAIN` or `SCRAM-SHA-512`\n"
	  "    SASL USERNAME = 'foo',\n"
	  "    SASL PASSWORD = SECRET kafka_password,\n"
	  "    -- Specifying a certificate authority is only required if your cluster's\n"
	  "    -- certificates are not issued by a CA trusted by the Mozilla root store.\n"
	  "    SSL CERTIFICATE AUTHORITY = SECRET ca_cert\n"
	  ");",
	  "kafka_connection:kafka", -1, NULL, NULL },
	{ "Kafka AWS IAM", NULL,
	  "CREATE CONNECTION aws_msk TO AWS (\n"
	  "    ASSUME ROLE ARN = 'arn:aws:iam::000000000000:role/MaterializeMSK',\n"
	  "    REGION = 'us-east-1'\n"
	  ");\n"
	  "\n"
	  "CREATE CONNECTION kafka_msk TO KAFKA (\n"
	  "    BROKER 'msk.mycorp.com:9092',\n"
	  "    SECURITY PROTOCOL = 'SASL_SSL',\n"
	  "    AWS CONNECTION = aws_msk\n"
	  ");",
	  "aws_msk:aws,kafka_msk:kafka", -1, NULL, NULL },
	{ "Kafka PrivateLink per broker", NULL,
	  "CREATE CONNECTION privatelink_svc TO AWS PRIVATELINK (\n"
	  "    SERVICE NAME 'com.amazonaws.vpce.us-east-1.vpce-svc-0e123abc123198abc',\n"
	  "    AVAILABILITY ZONES ('use1-az1', 'use1-az4')\n"
	  ");\n"
	  "\n"
	  "CREATE CONNECTION kafka_connection TO KAFKA (\n"
	  "    BROKERS (\n"
	  "        'broker1:9092' USING AWS PRIVATELINK privatelink_svc,\n"
	  "        'broker2:9092' USING AWS PRIVATELINK privatelink_svc (PORT 9093)\n"
	  "    )\n"
	  ");",
	  "privatelink_svc:aws-privatelink,kafka_connection:kafka", -1, NULL, NULL },
	{ "Kafka default PrivateLink (quirk 3: no name)", NULL,
	  "CREATE CONNECTION privatelink_svc TO AWS PRIVATELINK (\n"
	  "    SERVICE NAME 'com.amazonaws.vpce.us-east-1.vpce-svc-0e123abc123198abc',\n"
	  "    AVAILABILITY ZONES ('use1-az1')\n"
	  ");\n"
	  "\n"
	  "CREATE CONNECTION kafka_connection TO KAFKA (\n"
	  "    AWS PRIVATELINK (PORT 30292)\n"
	  "    SECURITY PROTOCOL = 'SASL_PLAINTEXT',\n"
	  "    SASL MECHANISMS = 'SCRAM-SHA-256',\n"
	  "    SASL USERNAME = 'foo',\n"
	  "    SASL PASSWORD = SECRET red_panda_password\n"
	  ");",
	  "privatelink_svc:aws-privatelink", 1, "42601",
	  "AWS PRIVATELINK requires a connection name, e.g. AWS PRIVATELINK privatelink_svc (PORT 30292)" },
	{ "Kafka default PrivateLink, as intended", "CREATE SECRET red_panda_password AS 'x';",
	  "CREATE CONNECTION privatelink_svc TO AWS PRIVATELINK (\n"
	  "    SERVICE NAME 'com.amazonaws.vpce.us-east-1.vpce-svc-0e123abc123198abc',\n"
	  "    AVAILABILITY ZONES ('use1-az1')\n"
	  ");\n"
	  "\n"
	  "CREATE CONNECTION kafka_connection TO KAFKA (\n"
	  "    AWS PRIVATELINK privatelink_svc (PORT 30292),\n"
	  "    SECURITY PROTOCOL = 'SASL_PLAINTEXT',\n"
	  "    SASL MECHANISMS = 'SCRAM-SHA-256',\n"
	  "    SASL USERNAME = 'foo',\n"
	  "    SASL PASSWORD = SECRET red_panda_password\n"
	  ");",
	  "privatelink_svc:aws-privatelink,kafka_connection:kafka", -1, NULL, NULL },
	{ "Kafka default SSH tunnel (placeholder port verbatim)", NULL,
	  "CREATE CONNECTION ssh_connection TO SSH TUNNEL (\n"
	  "    HOST '<SSH_BASTION_HOST>',\n"
	  "    USER '<SSH_BASTION_USER>',\n"
	  "    PORT <SSH_BASTION_PORT>\n"
	  ");",
	  "", 0, "42601", "Expected option value, found operator \"<\"" },
	{ "Kafka default SSH tunnel", NULL,
	  "CREATE CONNECTION ssh_connection TO SSH TUNNEL (\n"
	  "    HOST '<SSH_BASTION_HOST>',\n"
	  "    USER '<SSH_BASTION_USER>',\n"
	  "    PORT 22\n"
	  ");\n"
	  "\n"
	  "CREATE CONNECTION kafka_connection TO KAFKA (\n"
	  "    BROKER 'broker1:9092',\n"
	  "    SSH TUNNEL ssh_connection\n"
	  ");",
	  "ssh_connection:ssh-tunnel,kafka_connection:kafka", -1, NULL, NULL },
	{ "Kafka per-broker SSH tunnels (quirk 4: ...)", NULL,
	  "CREATE CONNECTION ssh1 TO SSH TUNNEL (HOST 'ssh1', ...);",
	  "", 0, "42601",
	  "Expected one of ACCESS or ASSUME or AVAILABILITY or AWS or BROKER or BROKERS or CATALOG or CREDENTIAL or DATABASE or ENDPOINT or HOST or PASSWORD or PORT or PROGRESS or PUBLIC or REGION or SASL or SCOPE or SECRET or SECURITY or SERVICE or SESSION or SSH or SSL or URL or USER or USERNAME or WAREHOUSE, found dot" },
	{ "Kafka per-broker SSH tunnels (quirk 4: ssh_1)",
	  "CREATE CONNECTION ssh1 TO SSH TUNNEL (HOST 'ssh1', USER 'u');"
	  "CREATE CONNECTION ssh2 TO SSH TUNNEL (HOST 'ssh2', USER 'u');",
	  "CREATE CONNECTION kafka_connection TO KAFKA (\n"
	  "BROKERS (\n"
	  "    'broker1:9092' USING SSH TUNNEL ssh1,\n"
	  "    'broker2:9092' USING SSH TUNNEL ssh2\n"
	  "    )\n"
	  "    SSH TUNNEL ssh_1\n"
	  ");",
	  "", 0, "42704", "unknown catalog item 'ssh_1'" },
	{ "CSR basic auth (quirk 2: no comma)", NULL,
	  "CREATE SECRET csr_password AS '...';\n"
	  "CREATE SECRET ca_cert AS '-----BEGIN CERTIFICATE----- ...';\n"
	  "\n"
	  "CREATE CONNECTION csr_basic TO CONFLUENT SCHEMA REGISTRY (\n"
	  "    URL 'https://rp-f00000bar.cloud.redpanda.com:30993',\n"
	  "    USERNAME = 'foo',\n"
	  "    PASSWORD = SECRET csr_password\n"
	  "    -- Specifying a certificate authority is only required if your cluster's\n"
	  "    -- certificates are not issued by a CA trusted by the Mozilla root store.\n"
	  "    SSL CERTIFICATE AUTHORITY = SECRET ca_cert\n"
	  ");",
	  "csr_basic:confluent-schema-registry", -1, NULL, NULL },
	{ "CSR TLS", NULL,
	  "CREATE SECRET csr_ssl_cert AS '-----BEGIN CERTIFICATE----- ...';\n"
	  "CREATE SECRET csr_ssl_key AS '-----BEGIN PRIVATE KEY----- ...';\n"
	  "CREATE SECRET ca_cert AS '-----BEGIN CERTIFICATE----- ...';\n"
	  "\n"
	  "CREATE CONNECTION csr_ssl TO CONFLUENT SCHEMA REGISTRY (\n"
	  "    URL 'https://rp-f00000bar.cloud.redpanda.com:30993',\n"
	  "    SSL CERTIFICATE = SECRET csr_ssl_cert,\n"
	  "    SSL KEY = SECRET csr_ssl_key,\n"
	  "    -- Specifying a certificate authority is only required if your cluster's\n"
	  "    -- certificates are not issued by a CA trusted by the Mozilla root store.\n"
	  "    SSL CERTIFICATE AUTHORITY = SECRET ca_cert\n"
	  ");",
	  "csr_ssl:confluent-schema-registry", -1, NULL, NULL },
	{ "CSR PrivateLink", NULL,
	  "CREATE CONNECTION privatelink_svc TO AWS PRIVATELINK (\n"
	  "    SERVICE NAME 'com.amazonaws.vpce.us-east-1.vpce-svc-0e123abc123198abc',\n"
	  "    AVAILABILITY ZONES ('use1-az1', 'use1-az4')\n"
	  ");\n"
	  "\n"
	  "CREATE CONNECTION csr_privatelink TO CONFLUENT SCHEMA REGISTRY (\n"
	  "    URL 'http://my-confluent-schema-registry:8081',\n"
	  "    AWS PRIVATELINK privatelink_svc\n"
	  ");",
	  "privatelink_svc:aws-privatelink,csr_privatelink:confluent-schema-registry", -1, NULL, NULL },
	{ "CSR SSH tunnel", SSH_CONNECTION,
	  "CREATE CONNECTION csr_ssh TO CONFLUENT SCHEMA REGISTRY (\n"
	  "    URL 'http://my-confluent-schema-registry:8081',\n"
	  "    SSH TUNNEL ssh_connection\n"
	  ");",
	  "csr_ssh:confluent-schema-registry", -1, NULL, NULL },
	{ "Iceberg REST (quirk 10: ||)", NULL,
	  "CREATE SECRET iceberg_oauth_secret AS '<CLIENT_SECRET>';\n"
	  "\n"
	  "CREATE CONNECTION polaris_catalog TO ICEBERG CATALOG (\n"
	  "    CATALOG TYPE = 'REST',\n"
	  "    URL = 'https://polaris.example.com/api/catalog',\n"
	  "    CREDENTIAL = 'client-id:' || SECRET iceberg_oauth_secret,\n"
	  "    WAREHOUSE = 'analytics',\n"
	  "    SCOPE = 'PRINCIPAL_ROLE:ALL'\n"
	  ");",
	  "polaris_catalog:iceberg-catalog", -1, NULL, NULL },
	{ "Iceberg S3 Tables", NULL,
	  "CREATE SECRET aws_secret AS '<AWS_SECRET_ACCESS_KEY>';\n"
	  "\n"
	  "CREATE CONNECTION aws_conn TO AWS (\n"
	  "    ACCESS KEY ID = '<AWS_ACCESS_KEY_ID>',\n"
	  "    SECRET ACCESS KEY = SECRET aws_secret,\n"
	  "    REGION = 'us-east-1'\n"
	  ");\n"
	  "\n"
	  "CREATE CONNECTION s3_tables_catalog TO ICEBERG CATALOG (\n"
	  "    CATALOG TYPE = 'S3TABLESREST',\n"
	  "    URL = 'https://s3tables.us-east-1.amazonaws.com',\n"
	  "    AWS CONNECTION = aws_conn,\n"
	  "    WAREHOUSE = 'my-s3-table-bucket'\n"
	  ");",
	  "aws_conn:aws,s3_tables_catalog:iceberg-catalog", -1, NULL, NULL },
	{ "MySQL", NULL,
	  "CREATE SECRET mysqlpass AS '<POSTGRES_PASSWORD>';\n"
	  "\n"
	  "CREATE CONNECTION mysql_connection TO MYSQL (\n"
	  "    HOST 'instance.foo000.us-west-1.rds.amazonaws.com',\n"
	  "    PORT 3306,\n"
	  "    USER 'root',\n"
	  "    PASSWORD SECRET mysqlpass\n"
	  ");",
	  "mysql_connection:mysql", -1, NULL, NULL },
	{ "MySQL PrivateLink", "CREATE SECRET mysqlpass AS 'x';",
	  "CREATE CONNECTION privatelink_svc TO AWS PRIVATELINK (\n"
	  "   SERVICE NAME 'com.amazonaws.vpce.us-east-1.vpce-svc-0e123abc123198abc',\n"
	  "   AVAILABILITY ZONES ('use1-az1', 'use1-az4')\n"
	  ");\n"
	  "\n"
	  "CREATE CONNECTION mysql_connection TO MYSQL (\n"
	  "    HOST 'instance.foo000.us-west-1.rds.amazonaws.com',\n"
	  "    PORT 3306,\n"
	  "    USER 'root',\n"
	  "    PASSWORD SECRET mysqlpass,\n"
	  "    AWS PRIVATELINK privatelink_svc\n"
	  ");",
	  "privatelink_svc:aws-privatelink,mysql_connection:mysql", -1, NULL, NULL },
	{ "MySQL SSH (quirk 5: ssh_connection)", NULL,
	  "CREATE CONNECTION tunnel TO SSH TUNNEL (\n"
	  "    HOST 'bastion-host',\n"
	  "    PORT 22,\n"
	  "    USER 'materialize'\n"
	  ");\n"
	  "\n"
	  "CREATE CONNECTION mysql_connection TO MYSQL (\n"
	  "    HOST 'instance.foo000.us-west-1.rds.amazonaws.com',\n"
	  "    SSH TUNNEL ssh_connection\n"
	  ");",
	  "tunnel:ssh-tunnel", 1, "42704", "unknown catalog item 'ssh_connection'" },
	{ "MySQL SSH (quirk 5: no USER)", SSH_CONNECTION,
	  "CREATE CONNECTION mysql_connection TO MYSQL (\n"
	  "    HOST 'instance.foo000.us-west-1.rds.amazonaws.com',\n"
	  "    SSH TUNNEL ssh_connection\n"
	  ");",
	  "", 0, "22023", "USER option is required" },
	{ "MySQL AWS IAM", NULL,
	  "CREATE CONNECTION aws_rds_mysql TO AWS (\n"
	  "    ASSUME ROLE ARN = 'arn:aws:iam::000000000000:role/MaterializeRDS',\n"
	  "    REGION = 'us-west-1'\n"
	  ");\n"
	  "\n"
	  "CREATE CONNECTION mysql_connection TO MYSQL (\n"
	  "    HOST 'instance.foo000.us-west-1.rds.amazonaws.com',\n"
	  "    PORT 3306,\n"
	  "    USER 'root',\n"
	  "    AWS CONNECTION aws_rds_mysql,\n"
	  "    SSL MODE 'verify_identity'\n"
	  ");",
	  "aws_rds_mysql:aws,mysql_connection:mysql", -1, NULL, NULL },
	{ "PostgreSQL", NULL,
	  "CREATE SECRET pgpass AS '<POSTGRES_PASSWORD>';\n"
	  "\n"
	  "CREATE CONNECTION pg_connection TO POSTGRES (\n"
	  "    HOST 'instance.foo000.us-west-1.rds.amazonaws.com',\n"
	  "    PORT 5432,\n"
	  "    USER 'postgres',\n"
	  "    PASSWORD SECRET pgpass,\n"
	  "    SSL MODE 'require',\n"
	  "    DATABASE 'postgres'\n"
	  ");",
	  "pg_connection:postgres", -1, NULL, NULL },
	{ "PostgreSQL PrivateLink (quirk 7: identifiers)", "CREATE SECRET pgpass AS 'x';",
	  "CREATE CONNECTION privatelink_svc TO AWS PRIVATELINK (\n"
	  "   SERVICE NAME 'com.amazonaws.vpce.us-east-1.vpce-svc-0e123abc123198abc',\n"
	  "   AVAILABILITY ZONES ('use1-az1', 'use1-az4')\n"
	  ");\n"
	  "\n"
	  "CREATE CONNECTION pg_connection TO POSTGRES (\n"
	  "    HOST 'instance.foo000.us-west-1.rds.amazonaws.com',\n"
	  "    PORT 5432,\n"
	  "    DATABASE postgres,\n"
	  "    USER postgres,\n"
	  "    PASSWORD SECRET pgpass,\n"
	  "    AWS PRIVATELINK privatelink_svc\n"
	  ");",
	  "privatelink_svc:aws-privatelink,pg_connection:postgres", -1, NULL, NULL },
	{ "PostgreSQL SSH (quirk 6: no USER)", NULL,
	  "CREATE CONNECTION tunnel TO SSH TUNNEL (\n"
	  "    HOST 'bastion-host',\n"
	  "    PORT 22,\n"
	  "    USER 'materialize'\n"
	  ");\n"
	  "\n"
	  "CREATE CONNECTION pg_connection TO POSTGRES (\n"
	  "    HOST 'instance.foo000.us-west-1.rds.amazonaws.com',\n"
	  "    PORT 5432,\n"
	  "    SSH TUNNEL tunnel,\n"
	  "    DATABASE 'postgres'\n"
	  ");",
	  "tunnel:ssh-tunnel", 1, "22023", "USER option is required" },
	{ "SQL Server", NULL,
	  "CREATE SECRET sqlserver_pass AS '<SQL_SERVER_PASSWORD>';\n"
	  "\n"
	  "CREATE CONNECTION sqlserver_connection TO SQL SERVER (\n"
	  "    HOST 'instance.foo000.us-west-1.rds.amazonaws.com',\n"
	  "    PORT 1433,\n"
	  "    USER 'SA',\n"
	  "    PASSWORD SECRET sqlserver_pass,\n"
	  "    DATABASE 'my_db'\n"
	  ");",
	  "sqlserver_connection:sql-server", -1, NULL, NULL },
	{ "Iceberg Catalog (second section)", NULL,
	  "-- First, create an AWS connection for authentication\n"
	  "CREATE CONNECTION aws_connection\n"
	  "  TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::123456789012:role/MaterializeIceberg');\n"
	  "\n"
	  "-- Create the Iceberg catalog connection\n"
	  "CREATE CONNECTION iceberg_catalog TO ICEBERG CATALOG (\n"
	  "    CATALOG TYPE = 's3tablesrest',\n"
	  "    URL = 'https://s3tables.us-east-1.amazonaws.com/iceberg',\n"
	  "    WAREHOUSE = 'arn:aws:s3tables:us-east-1:123456789012:bucket/my-table-bucket',\n"
	  "    AWS CONNECTION = aws_connection\n"
	  ");",
	  "aws_connection:aws,iceberg_catalog:iceberg-catalog", -1, NULL, NULL },
	{ "AWS PrivateLink", NULL,
	  "CREATE CONNECTION privatelink_svc TO AWS PRIVATELINK (\n"
	  "    SERVICE NAME 'com.amazonaws.vpce.us-east-1.vpce-svc-0e123abc123198abc',\n"
	  "    AVAILABILITY ZONES ('use1-az1', 'use1-az4')\n"
	  ");",
	  "privatelink_svc:aws-privatelink", -1, NULL, NULL },
	{ "SSH tunnel", NULL,
	  "CREATE CONNECTION ssh_connection TO SSH TUNNEL (\n"
	  "    HOST 'bastion-host',\n"
	  "    PORT 22,\n"
	  "    USER 'materialize'\n"
	  ");",
	  "ssh_connection:ssh-tunnel", -1, NULL, NULL },
};

/* The objects an example must leave: exactly `list` ("name:type,...")
 * among the connections, beyond those of its setup. */
static void check_objects(const struct example *ex)
{
	char list[512], *save = NULL;

	snprintf(list, sizeof(list), "%s", ex->objects);
	for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':'), q[512];
		assert_non_null(colon);
		*colon = '\0';
		snprintf(q, sizeof(q), "SELECT type FROM mz_connections WHERE name = '%s'", tok);
		expect_query_value(q, colon + 1);
	}
}

static void test_every_seed_example(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
		const struct example *ex = &examples[i];
		const char *sqlstate = "", *msg = "";
		int at;

		reset_catalog();
		if (ex->setup)
			exec_ok(ex->setup);
		at = run_example(ex->text, &sqlstate, &msg);
		if (at != ex->fails_at ||
		    (ex->fails_at >= 0 && (strcmp(sqlstate, ex->sqlstate) || strcmp(msg, ex->message)))) {
			fprintf(stderr, "example \"%s\": statement %d failed with %s \"%s\"; want %d %s \"%s\"\n",
				ex->title, at, sqlstate, msg, ex->fails_at,
				ex->sqlstate ? ex->sqlstate : "", ex->message ? ex->message : "");
			fail();
		}
		check_objects(ex);
	}
	reset_catalog();
}

static void test_seed_selects_and_show_create(void **state)
{
	(void)state;
	PGresult *r;

	reset_catalog();
	exec_ok("CREATE CONNECTION aws_role_assumption TO AWS (\n"
		"    ASSUME ROLE ARN = 'arn:aws:iam::000000000000:role/WarehouseExport',\n"
		"    REGION = 'us-east-1'\n);");
	/* SELECT id, external_id, example_trust_policy FROM mz_internal.mz_aws_connections */
	r = PQexec(conn_, "SELECT id, external_id, example_trust_policy FROM mz_internal.mz_aws_connections;");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(r), 1);
	{
		/* mz_<instance id>_<id>: the instance id is a UUID generated at
		 * the catalog's first start (docs/CONFIGURATION.md) */
		const char *ext = PQgetvalue(r, 0, 1), *id = PQgetvalue(r, 0, 0);
		char want[512];
		assert_int_equal(strlen(ext), 3 + 36 + 1 + strlen(id));
		assert_memory_equal(ext, "mz_", 3);
		assert_int_equal(ext[3 + 8], '-');
		assert_int_equal(ext[3 + 36], '_');
		assert_string_equal(ext + 3 + 37, id);
		snprintf(want, sizeof(want), "\"sts:ExternalId\":\"%s\"", ext);
		assert_non_null(strstr(PQgetvalue(r, 0, 2), want));
	}
	PQclear(r);
	/* no PrivateLink account configured: no principal rows */
	exec_ok("CREATE CONNECTION privatelink_svc TO AWS PRIVATELINK (\n"
		"    SERVICE NAME 'com.amazonaws.vpce.us-east-1.vpce-svc-0e123abc123198abc',\n"
		"    AVAILABILITY ZONES ('use1-az1', 'use1-az4')\n);");
	r = PQexec(conn_, "SELECT * FROM mz_aws_privatelink_connections;");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(r), 0);
	PQclear(r);
	/* the public-key query of the SSH section runs (keys: the vault's) */
	exec_ok("CREATE CONNECTION ssh_connection TO SSH TUNNEL (\n    HOST 'bastion-host',\n    PORT 22,\n    USER 'materialize'\n);");
	r = PQexec(conn_, "SELECT\n    mz_connections.name,\n    mz_ssh_tunnel_connections.*\nFROM\n    mz_connections\nJOIN\n"
		   "    mz_ssh_tunnel_connections USING(id)\nWHERE\n    mz_connections.name = 'ssh_connection';");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(r), 1);
	assert_int_equal(PQnfields(r), 4);
	/* public keys from the vault, as authorized_keys lines */
	assert_int_equal(strncmp(PQgetvalue(r, 0, 2), "ssh-ed25519 AAAA", 16), 0);
	assert_int_equal(strncmp(PQgetvalue(r, 0, 3), "ssh-ed25519 AAAA", 16), 0);
	{
		char *old2 = strdup(PQgetvalue(r, 0, 3));
		PGresult *k;
		PQclear(r);
		/* SQL.md 9.5: key 2 becomes key 1, a new key 2 */
		exec_ok("ALTER CONNECTION ssh_connection ROTATE KEYS");
		k = PQexec(conn_, "SELECT public_key_1, public_key_2 FROM mz_ssh_tunnel_connections"
			   " JOIN mz_connections USING (id) WHERE name = 'ssh_connection'");
		assert_int_equal(PQntuples(k), 1);
		assert_string_equal(PQgetvalue(k, 0, 0), old2);
		assert_string_not_equal(PQgetvalue(k, 0, 1), old2);
		PQclear(k);
		free(old2);
	}

	/* SHOW CREATE with current names; a rename re-renders dependents */
	exec_ok("CREATE SECRET pgpass AS 'x'");
	exec_ok("CREATE CONNECTION pg_connection TO POSTGRES (HOST 'h', PORT 5432, DATABASE postgres,"
		" USER postgres, PASSWORD SECRET pgpass, AWS PRIVATELINK privatelink_svc) WITH (VALIDATE = false)");
	r = PQexec(conn_, "SHOW CREATE CONNECTION pg_connection");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(r), 1);
	assert_string_equal(PQgetvalue(r, 0, 0), "materialize.public.pg_connection");
	assert_string_equal(PQgetvalue(r, 0, 1),
			    "CREATE CONNECTION materialize.public.pg_connection TO POSTGRES (HOST = 'h', PORT = 5432, DATABASE = postgres, USER = postgres, PASSWORD = SECRET materialize.public.pgpass, AWS PRIVATELINK = materialize.public.privatelink_svc);");
	PQclear(r);
	exec_ok("ALTER SECRET pgpass RENAME TO pgpw");
	exec_ok("ALTER CONNECTION privatelink_svc RENAME TO pl2");
	expect_query_value("SELECT create_sql FROM mz_connections WHERE name = 'pg_connection'",
		     "CREATE CONNECTION \"materialize\".\"public\".\"pg_connection\" TO POSTGRES (HOST = 'h', PORT = 5432, DATABASE = \"postgres\", USER = \"postgres\", PASSWORD = SECRET \"materialize\".\"public\".\"pgpw\", AWS PRIVATELINK = \"materialize\".\"public\".\"pl2\")");
	expect_query_value("SELECT redacted_create_sql FROM mz_connections WHERE name = 'pg_connection'",
		     "CREATE CONNECTION \"materialize\".\"public\".\"pg_connection\" TO POSTGRES (HOST = '<REDACTED>', PORT = '<REDACTED>', DATABASE = \"postgres\", USER = \"postgres\", PASSWORD = SECRET \"materialize\".\"public\".\"pgpw\", AWS PRIVATELINK = \"materialize\".\"public\".\"pl2\")");
	r = PQexec(conn_, "SHOW REDACTED CREATE CONNECTION pg_connection");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(r, 0, 1),
			    "CREATE CONNECTION materialize.public.pg_connection TO POSTGRES (HOST = '<REDACTED>', PORT = '<REDACTED>', DATABASE = postgres, USER = postgres, PASSWORD = SECRET materialize.public.pgpw, AWS PRIVATELINK = materialize.public.pl2);");
	PQclear(r);
	expect_query_value("SELECT count(*) FROM mz_internal.mz_object_dependencies d JOIN mz_connections c ON c.id = d.object_id"
		     " WHERE c.name = 'pg_connection'", "2");

	/* errors of SQL.md 7 end to end */
	{
		const char *msg, *st;
		st = th_exec_sqlstate(conn_, "CREATE CONNECTION pgpw TO SSH TUNNEL (HOST 'h', USER 'u')", &msg);
		assert_string_equal(st, "42710");
		assert_string_equal(msg, "secret \"materialize.public.pgpw\" already exists");
		st = th_exec_sqlstate(conn_, "DROP SECRET pgpw", &msg);
		assert_string_equal(st, "2BP01");
		assert_string_equal(msg, "cannot drop secret \"pgpw\": still depended upon by connection \"pg_connection\"");
		/* KAFKA validates by default (issue 6): 'a' does not resolve,
		 * and nothing is created. */
		st = th_exec_sqlstate(conn_, "CREATE CONNECTION k TO KAFKA (BROKER 'a:1')", &msg);
		assert_string_equal(st, "08001");
		assert_non_null(strstr(msg, "failed to resolve a"));
		expect_query_value("SELECT count(*) FROM mz_connections WHERE name = 'k'", "0");
		/* A real validation now (issue 5): 'bastion-host' does not resolve. */
		st = th_exec_sqlstate(conn_, "VALIDATE CONNECTION ssh_connection", &msg);
		assert_string_equal(st, "08001");
		assert_non_null(strstr(msg, "bastion-host"));
		/* AWS and AWS PRIVATELINK validate on demand (issue 6): role
		 * assumption needs tether's own principal, not configured here;
		 * PrivateLink needs the cloud. */
		st = th_exec_sqlstate(conn_, "VALIDATE CONNECTION aws_role_assumption", &msg);
		assert_string_equal(st, "0A000");
		assert_string_equal(msg, "internal error: no AWS connection role configured");
		st = th_exec_sqlstate(conn_, "VALIDATE CONNECTION pl2", &msg);
		assert_string_equal(st, "0A000");
		assert_string_equal(msg, "AWS PrivateLink connections are unsupported");
		st = th_exec_sqlstate(conn_, "VALIDATE CONNECTION pgpw", &msg);
		assert_string_equal(st, "42809");
		assert_string_equal(msg, "cannot validate secret 'materialize.public.pgpw'");
		st = th_exec_sqlstate(conn_, "SHOW CREATE CONNECTION pgpw", &msg);
		assert_string_equal(st, "42809");
		assert_string_equal(msg, "'materialize.public.pgpw' is not a connection");
		st = th_exec_sqlstate(conn_, "ALTER CONNECTION pg_connection DROP (USER)", &msg);
		assert_string_equal(st, "22023");
		assert_string_equal(msg, "USER option is required");
		/* POSTGRES validates on ALTER; through AWS PRIVATELINK it cannot
		 * here (SQL.md 6), and nothing changes. */
		st = th_exec_sqlstate(conn_, "ALTER CONNECTION pg_connection SET (PORT 5433)", &msg);
		assert_string_equal(st, "0A000");
		assert_string_equal(msg, "AWS PrivateLink connections are unsupported");
		st = th_exec_sqlstate(conn_, "ALTER CONNECTION ssh_connection SET (PORT 2222), SET (HOST 'b')", &msg);
		assert_string_equal(st, "");
		st = th_exec_sqlstate(conn_, "ALTER CONNECTION pg_connection ROTATE KEYS", &msg);
		assert_string_equal(st, "42809");
		assert_string_equal(msg, "materialize.public.pg_connection is not an SSH connection");
		char big[1100];
		memset(big, 'x', 1025);
		big[1025] = '\0';
		char sql[1200];
		snprintf(sql, sizeof(sql), "COMMENT ON CONNECTION pg_connection IS '%s'", big);
		st = th_exec_sqlstate(conn_, sql, &msg);
		assert_string_equal(st, "22023");
		assert_string_equal(msg, "provided comment was 1025 bytes long, max size is 1024 bytes");
	}
	/* a failed statement changed nothing */
	expect_query_value("SELECT create_sql FROM mz_connections WHERE name = 'pg_connection'",
		     "CREATE CONNECTION \"materialize\".\"public\".\"pg_connection\" TO POSTGRES (HOST = 'h', PORT = 5432, DATABASE = \"postgres\", USER = \"postgres\", PASSWORD = SECRET \"materialize\".\"public\".\"pgpw\", AWS PRIVATELINK = \"materialize\".\"public\".\"pl2\")");
	exec_ok("ALTER CONNECTION pg_connection SET (PORT 5433) WITH (VALIDATE = false)");
	exec_ok("COMMENT ON CONNECTION pg_connection IS 'primary db'");
	expect_query_value("SELECT comment FROM (SELECT c.name, m.comment FROM mz_connections c JOIN mz_internal.mz_comments m ON m.id = c.id) x"
		     " WHERE name = 'pg_connection'", "primary db");
	/* CASCADE drops the dependent connection too */
	exec_ok("DROP SECRET pgpw CASCADE");
	expect_query_value("SELECT count(*) FROM mz_connections WHERE name = 'pg_connection'", "0");
	reset_catalog();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_seed_example),
		cmocka_unit_test(test_seed_selects_and_show_create),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
