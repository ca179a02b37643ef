/* Property test for ALTER CONNECTION (SQL.md 9.3): random sequences of
 * SET / RESET / DROP actions, with valid and invalid values drawn from each
 * type's option table (SQL.md 5), against one real tetherd. After every
 * statement:
 *   - a failed ALTER left create_sql (stored and SHOW CREATE) unchanged;
 *   - the current option set is one the planner accepts: SHOW CREATE's
 *     create_sql, replayed as a CREATE under a new name (WITH (VALIDATE =
 *     false)), succeeds, and the replay stores the same create_sql (modulo
 *     the name). The same holds for the stored (quoted) create_sql.
 * Bounded: TETHER_PROPERTY_STEPS statements (default 300); the seed is
 * printed and can be fixed with TETHER_PROPERTY_SEED for reproduction. */
#include "harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct opt {
	const char *name;
	const char *values[8];   /* SQL texts; NULL-terminated */
};

struct conn_type {
	const char *conn;        /* connection name */
	const char *create;      /* valid CREATE ... (without WITH) */
	struct opt opts[20];
};

/* Shared objects referenced by the pools: secrets s1, s2; SSH tunnels t1,
 * t2; PrivateLink pl; AWS connections aws_r (role) and aws_k (keys). */
static const char *setup_sql[] = {
	"CREATE SECRET s1 AS 'one'",
	"CREATE SECRET s2 AS 'two'",
	"CREATE CONNECTION t1 TO SSH TUNNEL (HOST 'b1', USER 'u')",
	"CREATE CONNECTION t2 TO SSH TUNNEL (HOST 'b2', USER 'u', PORT 2222)",
	"CREATE CONNECTION pl TO AWS PRIVATELINK (SERVICE NAME 'svc', AVAILABILITY ZONES ('use1-az1', 'use1-az2'))",
	"CREATE CONNECTION aws_r TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::000000000000:role/R')",
	"CREATE CONNECTION aws_k TO AWS (ACCESS KEY ID = 'AKIA', SECRET ACCESS KEY = SECRET s2)",
};

#define TLS_OPTS \
	{ "SSL CERTIFICATE AUTHORITY", { "'ca-pem'", "SECRET s1", "'a' || SECRET s1", NULL } }, \
	{ "SSL CERTIFICATE", { "'cert-pem'", "SECRET s2", NULL } }, \
	{ "SSL KEY", { "SECRET s1", "'plain-key'", NULL } }
#define TUNNEL_OPTS \
	{ "SSH TUNNEL", { "t1", "t2", "pl", "s1", "nope", "'t1'", NULL } }, \
	{ "AWS PRIVATELINK", { "pl", "pl (PORT 1234)", "t1", NULL } }

static const struct conn_type types[] = {
	{ "c_ssh", "CREATE CONNECTION c_ssh TO SSH TUNNEL (HOST 'h', USER 'u')", {
		{ "HOST", { "'h2'", "'bastion.example.com'", "5", "SECRET s1", "a.b", NULL } },
		{ "PORT", { "22", "2222", "0", "'22'", "70000", "-1", NULL } },
		{ "USER", { "'u2'", "SECRET s1", "TRUE", NULL } },
		{ "PUBLIC KEY 1", { "'ssh-ed25519 AAAA x'", NULL } },
		{ "DATABASE", { "'d'", NULL } },
	} },
	{ "c_pg", "CREATE CONNECTION c_pg TO POSTGRES (HOST 'h', DATABASE 'd', USER 'u')", {
		{ "HOST", { "'h2'", "'db' || '.example.com'", "7", NULL } },
		{ "PORT", { "5433", "'x'", "0", NULL } },
		{ "DATABASE", { "'d2'", "postgres", NULL } },
		{ "USER", { "'u2'", "SECRET s1", "'app-' || SECRET s2", NULL } },
		{ "PASSWORD", { "SECRET s1", "SECRET s2", "'p'", "SECRET t1", NULL } },
		{ "SSL MODE", { "'disable'", "'require'", "'verify-ca'", "'verify_full'", "'prefer'", "'VERIFY-FULL'", NULL } },
		TLS_OPTS, TUNNEL_OPTS,
		{ "BROKER", { "'k:9092'", NULL } },
	} },
	{ "c_mysql", "CREATE CONNECTION c_mysql TO MYSQL (HOST 'h', USER 'u')", {
		{ "HOST", { "'h2'", NULL } },
		{ "PORT", { "3307", "99999", NULL } },
		{ "USER", { "'root'", "SECRET s1", NULL } },
		{ "PASSWORD", { "SECRET s1", "'p'", NULL } },
		{ "SSL MODE", { "'disabled'", "'required'", "'verify_ca'", "'verify-identity'", "'preferred'", NULL } },
		{ "AWS CONNECTION", { "aws_r", "t1", NULL } },
		TLS_OPTS, TUNNEL_OPTS,
		{ "DATABASE", { "'d'", NULL } },
	} },
	{ "c_sqlserver", "CREATE CONNECTION c_sqlserver TO SQL SERVER (HOST 'h', DATABASE 'd', USER 'u', PASSWORD SECRET s1)", {
		{ "HOST", { "'h2'", NULL } },
		{ "PORT", { "1434", NULL } },
		{ "DATABASE", { "'d2'", NULL } },
		{ "USER", { "'sa'", "SECRET s2", NULL } },
		{ "PASSWORD", { "SECRET s2", "'p'", NULL } },
		{ "SSL MODE", { "'disabled'", "'required'", "'verify'", "'verify_ca'", "'bogus'", NULL } },
		{ "SSL CERTIFICATE AUTHORITY", { "'ca-pem'", "SECRET s1", NULL } },
		{ "SSL KEY", { "SECRET s1", NULL } },
		TUNNEL_OPTS,
	} },
	{ "c_kafka", "CREATE CONNECTION c_kafka TO KAFKA (BROKER 'b:9092', SECURITY PROTOCOL 'PLAINTEXT')", {
		{ "BROKER", { "'b1:9092'", "'b2:9093'", "'a:1,b:2'", "'a:notaport'", NULL } },
		{ "BROKERS", { "('b1:9092', 'b2:9092')", "('b1:9092' USING SSH TUNNEL t1)",
			       "('b1:9092' USING AWS PRIVATELINK pl (PORT 9000), 'b2:9092' USING AWS PRIVATELINK pl (AVAILABILITY ZONE 'use1-az2'))",
			       "['b3:9092']", "'b1:9092'", NULL } },
		{ "AWS PRIVATELINK", { "pl", "pl (PORT 9093)", "t1", NULL } },
		{ "SSH TUNNEL", { "t1", "t2", "pl", NULL } },
		{ "SECURITY PROTOCOL", { "'PLAINTEXT'", "'ssl'", "'SASL_PLAINTEXT'", "'SASL_SSL'", "'bogus'", "plaintext", NULL } },
		{ "SASL MECHANISMS", { "'PLAIN'", "'scram-sha-256'", "'GSSAPI'", NULL } },
		{ "SASL USERNAME", { "'u'", "SECRET s1", NULL } },
		{ "SASL PASSWORD", { "SECRET s2", "'p'", NULL } },
		{ "AWS CONNECTION", { "aws_r", "t1", NULL } },
		{ "PROGRESS TOPIC", { "'topic'", NULL } },
		{ "PROGRESS TOPIC REPLICATION FACTOR", { "3", NULL } },
		TLS_OPTS,
	} },
	{ "c_csr", "CREATE CONNECTION c_csr TO CONFLUENT SCHEMA REGISTRY (URL 'https://csr.example.com')", {
		{ "URL", { "'http://csr:8081'", "'https://csr.example.com/'", "'https://x/path'", "'not a url'", NULL } },
		{ "USERNAME", { "'u'", "SECRET s1", NULL } },
		{ "USER", { "'u2'", NULL } },
		{ "PASSWORD", { "SECRET s2", "'p'", NULL } },
		{ "PORT", { "8081", NULL } },
		TLS_OPTS, TUNNEL_OPTS,
	} },
	{ "c_ice", "CREATE CONNECTION c_ice TO ICEBERG CATALOG (CATALOG TYPE 'rest', URL 'https://cat.example.com/api', CREDENTIAL 'id:secret')", {
		{ "CATALOG TYPE", { "'rest'", "'s3tablesrest'", "'REST'", "'glue'", NULL } },
		{ "URL", { "'https://s3tables.us-east-1.amazonaws.com/iceberg'", "'not a url'", NULL } },
		{ "CREDENTIAL", { "'a:b'", "SECRET s1", "'client-id:' || SECRET s2", NULL } },
		{ "WAREHOUSE", { "'w'", "'arn:aws:s3tables:us-east-1:0:bucket/b'", NULL } },
		{ "SCOPE", { "'PRINCIPAL_ROLE:ALL'", NULL } },
		{ "AWS CONNECTION", { "aws_r", "aws_k", "t1", NULL } },
	} },
	{ "c_aws", "CREATE CONNECTION c_aws TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::000000000000:role/X')", {
		{ "ACCESS KEY ID", { "'AKIA'", "SECRET s1", NULL } },
		{ "SECRET ACCESS KEY", { "SECRET s2", "'x'", NULL } },
		{ "SESSION TOKEN", { "'tok'", "SECRET s1", NULL } },
		{ "ASSUME ROLE ARN", { "'arn:aws:iam::000000000000:role/Y'", NULL } },
		{ "ASSUME ROLE SESSION NAME", { "'sess'", NULL } },
		{ "ENDPOINT", { "'https://storage.googleapis.com'", "''", NULL } },
		{ "REGION", { "'us-east-1'", "1", NULL } },
	} },
	{ "c_pl", "CREATE CONNECTION c_pl TO AWS PRIVATELINK (SERVICE NAME 'svc', AVAILABILITY ZONES ('use1-az1'))", {
		{ "SERVICE NAME", { "'com.amazonaws.vpce.us-east-1.vpce-svc-0'", NULL } },
		{ "AVAILABILITY ZONES", { "('use1-az1')", "('use1-az1', 'use1-az4')", "'use1-az1'", NULL } },
		{ "PORT", { "443", NULL } },
	} },
};
#define N_TYPES (sizeof(types) / sizeof(types[0]))

static unsigned long g_rng;

static unsigned rnd(unsigned n)
{
	/* xorshift64*: reproducible across libcs, unlike rand() */
	g_rng ^= g_rng >> 12;
	g_rng ^= g_rng << 25;
	g_rng ^= g_rng >> 27;
	return (unsigned)((g_rng * 2685821657736338717UL) >> 33) % n;
}

static int n_opts(const struct conn_type *t)
{
	int n = 0;
	while (n < 20 && t->opts[n].name)
		n++;
	return n;
}

static int n_values(const struct opt *o)
{
	int n = 0;
	while (n < 8 && o->values[n])
		n++;
	return n;
}

static long g_failures;

static void failure(long step, const char *fmt, ...)
{
	va_list ap;
	printf("FAIL step %ld: ", step);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	g_failures++;
}

/* Runs sql; returns 1 on success, 0 on error (message in *msg, static). */
static int run(PGconn *c, const char *sql, const char **msg)
{
	const char *state = th_exec_sqlstate(c, sql, msg);
	return state[0] == '\0';
}

static void quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static char *query1(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	char *v = NULL;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && PQnfields(r) > 0 &&
	    !PQgetisnull(r, 0, PQnfields(r) - 1))
		v = strdup(PQgetvalue(r, 0, PQnfields(r) - 1));
	PQclear(r);
	return v;
}

static char *stored_sql(PGconn *c, const char *name)
{
	char q[256];
	snprintf(q, sizeof(q), "SELECT create_sql FROM mz_connections WHERE name = '%s'", name);
	return query1(c, q);
}

static char *show_sql(PGconn *c, const char *name)
{
	char q[256];
	snprintf(q, sizeof(q), "SHOW CREATE CONNECTION %s", name);
	return query1(c, q);
}

/* Replaces the first `from` in `s` by `to` (malloc'd result, NULL if absent). */
static char *replace1(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	if (!p)
		return NULL;
	size_t n = strlen(s) - strlen(from) + strlen(to) + 1;
	char *o = malloc(n);
	snprintf(o, n, "%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
	return o;
}

static int str_eq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* Replays `sql` (a create_sql of connection `name`, quoted = the stored
 * form, else SHOW CREATE's) under the name `name`_r; checks it is accepted
 * and stores the same create_sql as `stored` modulo the name. */
static void check_replay(PGconn *c, long step, const char *name, const char *sql,
			 const char *quoted, const char *stored)
{
	char from[160], to[160], rname[80], drop[128];
	const char *msg;

	snprintf(rname, sizeof(rname), "%s_r", name);
	if (quoted) {
		snprintf(from, sizeof(from), "\"materialize\".\"public\".\"%s\" TO", name);
		snprintf(to, sizeof(to), "\"materialize\".\"public\".\"%s\" TO", rname);
	} else {
		snprintf(from, sizeof(from), "materialize.public.%s TO", name);
		snprintf(to, sizeof(to), "materialize.public.%s TO", rname);
	}
	char *re = replace1(sql, from, to);
	if (!re) {
		failure(step, "%s: create_sql does not name %s: %s", name, from, sql);
		return;
	}
	size_t n = strlen(re);
	while (n && (re[n - 1] == ';' || re[n - 1] == ' '))
		re[--n] = '\0';
	char *full = malloc(n + 40);
	snprintf(full, n + 40, "%s WITH (VALIDATE = false)", re);
	if (!run(c, full, &msg)) {
		failure(step, "replay of %s create_sql rejected: %s\n  sql: %s",
			quoted ? "stored" : "SHOW CREATE", msg, full);
	} else {
		char *rs = stored_sql(c, rname);
		char *back;
		char fromq[160], toq[160];
		snprintf(fromq, sizeof(fromq), "\"materialize\".\"public\".\"%s\" TO", rname);
		snprintf(toq, sizeof(toq), "\"materialize\".\"public\".\"%s\" TO", name);
		back = rs ? replace1(rs, fromq, toq) : NULL;
		if (!str_eq(back, stored))
			failure(step, "replay stored a different create_sql\n  orig:   %s\n  replay: %s",
				stored ? stored : "(null)", rs ? rs : "(null)");
		free(rs);
		free(back);
		snprintf(drop, sizeof(drop), "DROP CONNECTION %s", rname);
		if (!run(c, drop, &msg))
			failure(step, "cannot drop replay %s: %s", rname, msg);
	}
	free(full);
	free(re);
}

static void check_state(PGconn *c, long step, const char *name)
{
	char *stored = stored_sql(c, name), *shown = show_sql(c, name);
	if (!stored || !shown) {
		failure(step, "%s: no create_sql (stored %s, SHOW CREATE %s)", name,
			stored ? "ok" : "missing", shown ? "ok" : "missing");
	} else {
		check_replay(c, step, name, shown, NULL, stored);
		check_replay(c, step, name, stored, "quoted", stored);
	}
	free(stored);
	free(shown);
}

/* Builds one random ALTER for type t into buf. */
static void random_alter(const struct conn_type *t, char *buf, size_t size)
{
	int no = n_opts(t);
	size_t len = (size_t)snprintf(buf, size, "ALTER CONNECTION %s ", t->conn);
	int actions = 1 + (int)rnd(2);

	for (int a = 0; a < actions; a++) {
		int kind = (int)rnd(10);    /* 0-5 SET, 6-8 RESET, 9 DROP */
		int k = 1 + (int)rnd(2);
		if (a)
			len += (size_t)snprintf(buf + len, size - len, ", ");
		len += (size_t)snprintf(buf + len, size - len, "%s (",
					kind < 6 ? "SET" : kind < 9 ? "RESET" : "DROP");
		for (int i = 0; i < k; i++) {
			const struct opt *o = &t->opts[rnd((unsigned)no)];
			if (i)
				len += (size_t)snprintf(buf + len, size - len, rnd(4) ? ", " : " ");
			if (kind < 6)
				len += (size_t)snprintf(buf + len, size - len, "%s%s%s", o->name,
							rnd(2) ? " = " : " ",
							o->values[rnd((unsigned)n_values(o))]);
			else
				len += (size_t)snprintf(buf + len, size - len, "%s", o->name);
		}
		len += (size_t)snprintf(buf + len, size - len, ")");
	}
	snprintf(buf + len, size - len, " WITH (VALIDATE = false)");
}

int main(void)
{
	struct tetherd td;
	const char *env = getenv("TETHER_PROPERTY_SEED");
	const char *steps_env = getenv("TETHER_PROPERTY_STEPS");
	unsigned long seed = env ? strtoul(env, NULL, 0) : 20240611UL;
	long steps = steps_env ? atol(steps_env) : 300, ok = 0, rejected = 0;
	const char *msg;

	/* splitmix the seed so that nearby seeds give unrelated sequences */
	g_rng = seed * 0x9E3779B97F4A7C15UL + 0x632BE59BD9B4E019UL;
	g_rng = (g_rng ^ (g_rng >> 30)) * 0xBF58476D1CE4E5B9UL;
	g_rng = (g_rng ^ (g_rng >> 27)) * 0x94D049BB133111EBUL;
	g_rng ^= g_rng >> 31;
	if (!g_rng)
		g_rng = 1;
	printf("alter_property: seed %lu, %ld statements (TETHER_PROPERTY_SEED / _STEPS to change)\n",
	       seed, steps);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (th_start(&td) < 0) {
		printf("FAIL: tetherd did not start\n");
		return 1;
	}
	PGconn *c = th_connect(&td);
	if (!c) {
		printf("FAIL: cannot connect\n");
		th_kill(&td);
		th_cleanup(&td);
		return 1;
	}
	PQsetNoticeProcessor(c, quiet, NULL);   /* PORT notices etc. */
	for (size_t i = 0; i < sizeof(setup_sql) / sizeof(setup_sql[0]); i++)
		if (!run(c, setup_sql[i], &msg))
			failure(0, "setup: %s: %s", setup_sql[i], msg);
	for (size_t i = 0; i < N_TYPES; i++) {
		char sql[512];
		snprintf(sql, sizeof(sql), "%s WITH (VALIDATE = false)", types[i].create);
		if (!run(c, sql, &msg))
			failure(0, "setup: %s: %s", sql, msg);
		else
			check_state(c, 0, types[i].conn);
	}

	for (long step = 1; step <= steps && g_failures < 50; step++) {
		const struct conn_type *t = &types[rnd(N_TYPES)];
		char sql[2048];
		random_alter(t, sql, sizeof(sql));
		if (getenv("TETHER_PROPERTY_VERBOSE"))
			printf("%ld: %s\n", step, sql);
		char *before = stored_sql(c, t->conn), *before_show = show_sql(c, t->conn);
		if (run(c, sql, &msg)) {
			ok++;
			check_state(c, step, t->conn);
		} else {
			rejected++;
			char *after = stored_sql(c, t->conn), *after_show = show_sql(c, t->conn);
			if (!str_eq(before, after) || !str_eq(before_show, after_show))
				failure(step, "failed ALTER changed create_sql (error: %s)\n  sql:    %s\n  before: %s\n  after:  %s",
					msg, sql, before ? before : "(null)", after ? after : "(null)");
			free(after);
			free(after_show);
		}
		if (PQstatus(c) != CONNECTION_OK) {
			failure(step, "connection lost after: %s", sql);
			PQfinish(c);
			c = th_connect(&td);
			if (!c)
				break;
			PQsetNoticeProcessor(c, quiet, NULL);
		}
		free(before);
		free(before_show);
	}
	printf("alter_property: %ld ALTERs accepted, %ld rejected, %ld failures (seed %lu)\n",
	       ok, rejected, g_failures, seed);
	if (c)
		PQfinish(c);
	if (th_stop(&td) != 0) {
		printf("FAIL: tetherd did not exit cleanly (log %s)\n", td.log_path);
		g_failures++;
	}
	th_cleanup(&td);
	return g_failures ? 1 : 0;
}
