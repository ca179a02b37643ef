/* The job encodings of catalog/jobspec.c (validator/val.h documents
 * them). KAFKA: BROKER <n> in written order, per-broker SSH TUNNEL / AWS
 * PRIVATELINK and top-level AWS PRIVATELINK / AWS CONNECTION as decimal
 * ids, no HOST needed, the first broker as the secrets' destination
 * ("host:port" with the 9092 default, IPv6 in brackets), the default SSH
 * TUNNEL as `tunnel` and the other per-broker tunnels in `tunnels` with
 * their keys and bastions granted, a host key pinned only when one tunnel
 * is involved, and the grant's limits. URL types: the destination from
 * URL. AWS: the STS endpoint, the external ID and session name derived,
 * tether's identity (role, credentials secret by id), a referenced AWS
 * CONNECTION nested once. PrivateLink: zones as parts, no destination.
 * Against a real SQLite store. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ipc.h"
#include "jobspec.h"
#include "store.h"

#define KEY1 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB k1"
#define KEY2 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIC k2"

struct fx {
	char dir[64], path[128];
	struct cat_store st;
	struct conn_optset set;
	struct cat_jobspec js;
	Tether__Envelope *env;
};

static int rm_cb(const char *p, const struct stat *sb, int f, struct FTW *w)
{
	(void)sb;
	(void)f;
	(void)w;
	return remove(p);
}

static void exec_sql(struct fx *f, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(f->st.db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg ? msg : "?");
}

static void add_item(struct fx *f, long id, const char *kind, const char *type, long version)
{
	char sql[512];

	snprintf(sql, sizeof(sql),
		 "INSERT INTO items(id, oid, kind, conn_type, schema_id, name, owner_id,"
		 " privileges, create_sql, redacted_create_sql, vault_version) VALUES"
		 " (%ld, %ld, '%s', %s%s%s, 'u3', 'n%ld', 'u1', '{}', 'x', 'x', %ld)",
		 id, 30000 + id, kind, type ? "'" : "", type ? type : "NULL",
		 type ? "'" : "", id, version);
	exec_sql(f, sql);
}

static void put_text(struct conn_optset *s, enum conn_opt_id id, const char *text)
{
	struct conn_value v = { .form = CONN_VF_TEXT, .text = strdup(text) };

	assert_int_equal(conn_optset_put(s, id, &v), 0);
}

static void put_int(struct conn_optset *s, enum conn_opt_id id, int64_t n)
{
	struct conn_value v = { .form = CONN_VF_INT, .num = n };

	assert_int_equal(conn_optset_put(s, id, &v), 0);
}

static void put_ref(struct conn_optset *s, enum conn_opt_id id, enum conn_vform form,
		    uint64_t ref)
{
	struct conn_value v = { .form = form, .id = ref };

	assert_int_equal(conn_optset_put(s, id, &v), 0);
}

/* An SSH TUNNEL connection `id` at host:port with both public keys. */
static void add_tunnel(struct fx *f, long id, const char *host, int port)
{
	struct conn_optset t = { .type = CONN_SSH_TUNNEL };
	char *enc, *sql;

	add_item(f, id, "connection", "ssh-tunnel", 0);
	put_text(&t, CONN_O_HOST, host);
	put_int(&t, CONN_O_PORT, port);
	put_text(&t, CONN_O_USER, "u");
	enc = conn_optset_encode(&t);
	assert_non_null(enc);
	sql = sqlite3_mprintf("INSERT INTO connections(object_id, options, public_key_1, "
			      "public_key_2) VALUES (%ld, %Q, %Q, %Q)", id, enc, KEY1, KEY2);
	exec_sql(f, sql);
	sqlite3_free(sql);
	free(enc);
	conn_optset_free(&t);
}

/* A connection `id` of catalog type `type` with stored options `set`. */
static void add_conn(struct fx *f, long id, const char *type, const struct conn_optset *set)
{
	char *enc, *sql;

	add_item(f, id, "connection", type, 0);
	enc = conn_optset_encode(set);
	assert_non_null(enc);
	sql = sqlite3_mprintf("INSERT INTO connections(object_id, options) VALUES (%ld, %Q)",
			      id, enc);
	exec_sql(f, sql);
	sqlite3_free(sql);
	free(enc);
}

static void setting(struct fx *f, const char *name, const char *value)
{
	char *sql = sqlite3_mprintf("INSERT INTO tether_settings VALUES (%Q, %Q) ON CONFLICT(name) "
				    "DO UPDATE SET value = excluded.value", name, value);
	exec_sql(f, sql);
	sqlite3_free(sql);
}

/* brokers: "addr" or "addr@<tunnel id>" (SSH) or "addr!<privatelink id>". */
static void put_brokers(struct conn_optset *s, enum conn_opt_id id, const char *const *list,
			size_t n)
{
	struct conn_value v = { .form = CONN_VF_BROKERS, .nbrokers = n };

	v.brokers = calloc(n, sizeof(*v.brokers));
	assert_non_null(v.brokers);
	for (size_t i = 0; i < n; i++) {
		char *a = strdup(list[i]), *at = strpbrk(a, "@!");
		if (at) {
			v.brokers[i].tunnel = *at == '@' ? CONN_TUNNEL_SSH : CONN_TUNNEL_PRIVATELINK;
			v.brokers[i].tunnel_id = strtoull(at + 1, NULL, 10);
			*at = '\0';
		}
		v.brokers[i].addr = a;
	}
	assert_int_equal(conn_optset_put(s, id, &v), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct err e;

	err_clear(&e);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tether-jobspec.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/catalog.db", f->dir);
	assert_int_equal(cat_store_open(&f->st, f->path, &e), 0);
	f->set.type = CONN_KAFKA;
	add_item(f, 100, "connection", "kafka", 0);
	add_item(f, 50, "secret", NULL, 7);
	add_tunnel(f, 60, "bastion-a", 22);
	add_tunnel(f, 61, "bastion-b", 2222);
	*state = f;
	return 0;
}

static void env_free(struct fx *f)
{
	if (f->env)
		tether__envelope__free_unpacked(f->env, NULL);
	f->env = NULL;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	env_free(f);
	cat_jobspec_free(&f->js);
	conn_optset_free(&f->set);
	cat_store_close(&f->st);
	nftw(f->dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Builds the job of f->set (type f->set.type); the JobSpec unpacked in
 * f->env. */
static int build(struct fx *f, struct err *e)
{
	err_clear(e);
	if (cat_jobspec_build(&f->st, 9, 100, f->set.type, &f->set, NULL, 5000, 30000, &f->js,
			      e) < 0)
		return -1;
	f->env = tether__envelope__unpack(NULL, f->js.packed_len, f->js.packed);
	assert_non_null(f->env);
	assert_int_equal(f->env->body_case, TETHER__ENVELOPE__BODY_JOB_SPEC);
	return 0;
}

/* The option (at most once in the job), or NULL if absent. */
static const Tether__JobOption *opt_any(const struct fx *f, const char *name)
{
	const Tether__JobSpec *s = f->env->job_spec;
	const Tether__JobOption *found = NULL;

	for (size_t i = 0; i < s->n_options; i++)
		if (strcmp(s->options[i]->name, name) == 0) {
			if (found)
				fail_msg("option %s twice in the job", name);
			found = s->options[i];
		}
	return found;
}

/* The option's single text part, or NULL if absent. */
static const char *opt(const struct fx *f, const char *name)
{
	const Tether__JobOption *o = opt_any(f, name);

	if (!o)
		return NULL;
	assert_int_equal(o->n_parts, 1);
	assert_false(o->parts[0]->is_secret);
	return o->parts[0]->text;
}

/* The option's single secret part's id (the option must exist). */
static uint64_t opt_secret(const struct fx *f, const char *name)
{
	const Tether__JobOption *o = opt_any(f, name);

	if (!o)
		fail_msg("option %s missing", name);
	assert_int_equal(o->n_parts, 1);
	assert_true(o->parts[0]->is_secret);
	return o->parts[0]->secret_id;
}

static void rebuild_reset(struct fx *f, enum conn_type type)
{
	env_free(f);
	cat_jobspec_free(&f->js);
	conn_optset_free(&f->set);
	f->set.type = type;
}

static void test_brokers_in_order_no_host(void **state)
{
	struct fx *f = *state;
	struct err e;
	static const char *const b[] = { "k1.example:9093", "k2.example", "[2001:db8::1]:9094" };

	put_brokers(&f->set, CONN_O_BROKERS, b, 3);
	put_text(&f->set, CONN_O_SECURITY_PROTOCOL, "SASL_SSL");
	put_text(&f->set, CONN_O_SASL_MECHANISMS, "PLAIN");
	put_text(&f->set, CONN_O_SASL_USERNAME, "u");
	put_ref(&f->set, CONN_O_SASL_PASSWORD, CONN_VF_SECRET, 50);
	if (build(f, &e) < 0)
		fail_msg("build: %s %s", e.sqlstate, e.message);
	assert_string_equal(f->env->job_spec->type, "kafka");
	assert_string_equal(opt(f, "BROKER 1"), "k1.example:9093");
	assert_string_equal(opt(f, "BROKER 2"), "k2.example");
	assert_string_equal(opt(f, "BROKER 3"), "[2001:db8::1]:9094");
	assert_null(opt(f, "BROKER 4"));
	assert_null(opt(f, "BROKER 1 SSH TUNNEL"));
	assert_string_equal(opt(f, "SECURITY PROTOCOL"), "SASL_SSL");
	assert_null(opt(f, "BROKERS"));
	/* The first broker is the target; the password is granted. */
	assert_int_equal(f->js.ndests, 1);
	assert_string_equal(f->js.dests[0], "k1.example:9093");
	assert_int_equal(f->js.nsecrets, 1);
	assert_int_equal(f->js.secrets[0].id, 50);
	assert_int_equal(f->js.secrets[0].version, 7);
	assert_int_equal(f->js.nssh_owners, 0);
	assert_null(f->env->job_spec->tunnel);
	assert_int_equal(f->env->job_spec->n_tunnels, 0);
}

static void test_destination_defaults(void **state)
{
	struct fx *f = *state;
	struct err e;
	static const char *const v4[] = { "k2.example" }, *const v6[] = { "[::1]" },
			       *const named[] = { "[broker]:9095" };

	put_brokers(&f->set, CONN_O_BROKER, v4, 1);
	assert_int_equal(build(f, &e), 0);
	assert_string_equal(f->js.dests[0], "k2.example:9092");
	cat_jobspec_free(&f->js);
	env_free(f);
	f->env = NULL;
	put_brokers(&f->set, CONN_O_BROKER, v6, 1);
	assert_int_equal(build(f, &e), 0);
	assert_string_equal(f->js.dests[0], "[::1]:9092");
	cat_jobspec_free(&f->js);
	env_free(f);
	f->env = NULL;
	put_brokers(&f->set, CONN_O_BROKER, named, 1);
	assert_int_equal(build(f, &e), 0);
	assert_string_equal(f->js.dests[0], "broker:9095");   /* as conn_kafka.c names it */
}

static void test_default_tunnel_pins(void **state)
{
	struct fx *f = *state;
	struct err e;
	static const char *const b[] = { "k1:9092", "k2:9092@60" };

	put_brokers(&f->set, CONN_O_BROKERS, b, 2);
	put_ref(&f->set, CONN_O_SSH_TUNNEL, CONN_VF_REF, 60);
	assert_int_equal(build(f, &e), 0);
	const Tether__JobSpec *s = f->env->job_spec;
	assert_non_null(s->tunnel);
	assert_int_equal(s->tunnel->connection_id, 60);
	assert_string_equal(s->tunnel->host, "bastion-a");
	assert_int_equal(s->tunnel->port, 22);
	assert_int_equal(s->tunnel->public_key_1.len, 51);
	/* The broker's own tunnel is the default one: not repeated. */
	assert_string_equal(opt(f, "BROKER 2 SSH TUNNEL"), "60");
	assert_int_equal(s->n_tunnels, 0);
	assert_int_equal(f->js.nssh_owners, 1);
	assert_int_equal(f->js.ndests, 2);
	assert_string_equal(f->js.dests[1], "bastion-a:22");
	assert_int_equal(f->js.tunnel_id, 60);
	assert_string_equal(f->js.tunnel_hostport, "bastion-a:22");
}

static void test_per_broker_tunnels(void **state)
{
	struct fx *f = *state;
	struct err e;
	static const char *const b[] = { "k1:9092@61", "k2:9092@60", "k3:9092@61" };

	put_brokers(&f->set, CONN_O_BROKERS, b, 3);
	assert_int_equal(build(f, &e), 0);
	const Tether__JobSpec *s = f->env->job_spec;
	assert_null(s->tunnel);
	assert_int_equal(s->n_tunnels, 2);
	assert_int_equal(s->tunnels[0]->connection_id, 61);
	assert_string_equal(s->tunnels[0]->host, "bastion-b");
	assert_int_equal(s->tunnels[0]->port, 2222);
	assert_int_equal(s->tunnels[1]->connection_id, 60);
	assert_string_equal(opt(f, "BROKER 1 SSH TUNNEL"), "61");
	assert_string_equal(opt(f, "BROKER 3 SSH TUNNEL"), "61");
	/* Both key owners and both bastions granted, no pin (whose key?). */
	assert_int_equal(f->js.nssh_owners, 2);
	assert_int_equal(f->js.ndests, 3);
	assert_string_equal(f->js.dests[0], "k1:9092");
	assert_string_equal(f->js.dests[1], "bastion-b:2222");
	assert_string_equal(f->js.dests[2], "bastion-a:22");
	assert_int_equal(f->js.tunnel_id, 0);
	assert_string_equal(f->js.tunnel_hostport, "");
	assert_int_equal(s->n_destinations, 3);
}

static void test_single_per_broker_tunnel_pins(void **state)
{
	struct fx *f = *state;
	struct err e;
	static const char *const b[] = { "k1:9092@61", "k2:9092" };

	put_brokers(&f->set, CONN_O_BROKERS, b, 2);
	assert_int_equal(build(f, &e), 0);
	assert_int_equal(f->env->job_spec->n_tunnels, 1);
	assert_int_equal(f->js.tunnel_id, 61);
	assert_string_equal(f->js.tunnel_hostport, "bastion-b:2222");
}

static void test_privatelink_and_aws_ids(void **state)
{
	struct fx *f = *state;
	struct err e;
	static const char *const b[] = { "k1:9092!70" };

	struct conn_optset aws = { .type = CONN_AWS };

	add_item(f, 70, "connection", "aws-privatelink", 0);
	put_text(&aws, CONN_O_ACCESS_KEY_ID, "AKIDX");
	put_ref(&aws, CONN_O_SECRET_ACCESS_KEY, CONN_VF_SECRET, 50);
	add_conn(f, 71, "aws", &aws);
	conn_optset_free(&aws);
	put_brokers(&f->set, CONN_O_BROKERS, b, 1);
	put_ref(&f->set, CONN_O_AWS_CONNECTION, CONN_VF_REF, 71);
	assert_int_equal(build(f, &e), 0);
	assert_string_equal(opt(f, "BROKER 1 AWS PRIVATELINK"), "70");
	/* Once (opt_any), with the AWS connection's options nested. */
	assert_string_equal(opt(f, "AWS CONNECTION"), "71");
	assert_string_equal(opt(f, "AWS CONNECTION/ACCESS KEY ID"), "AKIDX");
	assert_int_equal(opt_secret(f, "AWS CONNECTION/SECRET ACCESS KEY"), 50);
	assert_null(opt(f, "AWS CONNECTION/EXTERNAL ID"));     /* keys, no role */
	assert_int_equal(f->js.nsecrets, 1);
	assert_string_equal(f->js.dests[0], "k1:9092");
	assert_string_equal(f->js.dests[1], "sts.us-east-1.amazonaws.com:443");
	env_free(f);
	f->env = NULL;
	cat_jobspec_free(&f->js);
	conn_optset_free(&f->set);
	f->set.type = CONN_KAFKA;
	/* A default PrivateLink, no broker: the check answers 0A000 itself. */
	put_ref(&f->set, CONN_O_AWS_PRIVATELINK, CONN_VF_REF, 70);
	assert_int_equal(build(f, &e), 0);
	assert_string_equal(opt(f, "AWS PRIVATELINK"), "70");
	assert_null(opt(f, "BROKER 1"));
	assert_int_equal(f->js.ndests, 0);
}

static void test_too_many_tunnels(void **state)
{
	struct fx *f = *state;
	struct err e;
	const char *b[CAT_JOB_MAX_TUNNELS + 1];
	char addrs[CAT_JOB_MAX_TUNNELS + 1][32], host[32];

	for (int i = 0; i <= CAT_JOB_MAX_TUNNELS; i++) {
		snprintf(host, sizeof(host), "bastion-%d", i);
		add_tunnel(f, 200 + i, host, 22);
		snprintf(addrs[i], sizeof(addrs[i]), "k%d:9092@%d", i, 200 + i);
		b[i] = addrs[i];
	}
	put_brokers(&f->set, CONN_O_BROKERS, b, CAT_JOB_MAX_TUNNELS);
	assert_int_equal(build(f, &e), 0);
	assert_int_equal(f->js.nssh_owners, CAT_JOB_MAX_TUNNELS);
	env_free(f);
	f->env = NULL;
	cat_jobspec_free(&f->js);
	put_brokers(&f->set, CONN_O_BROKERS, b, CAT_JOB_MAX_TUNNELS + 1);
	assert_int_equal(build(f, &e), -1);
	assert_string_equal(e.sqlstate, "54000");
}

static void test_url_destinations(void **state)
{
	struct fx *f = *state;
	struct err e;
	static const struct { const char *url, *dest; } cases[] = {
		{ "https://registry.example", "registry.example:443" },
		{ "http://registry.example", "registry.example:80" },
		{ "HTTPS://Reg.Example:8443/", "Reg.Example:8443" },
		{ "http://127.0.0.1:8081", "127.0.0.1:8081" },
		{ "http://127.1:8081", "127.0.0.1:8081" },
		{ "https://[::1]:9443", "[::1]:9443" },
		{ "https://[fe80::1%25eth0]/", "[fe80::1]:443" },
		{ "http://u:p@h:81", "h:81" },
		{ "http://h:/x", "h:80" },
		{ "http://h%41st:0082", "hAst:82" },
		{ "ftp://h", "ftp://h" },           /* refused by the check itself */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rebuild_reset(f, CONN_CSR);
		put_text(&f->set, CONN_O_URL, cases[i].url);
		put_text(&f->set, CONN_O_USER, "u");
		put_ref(&f->set, CONN_O_PASSWORD, CONN_VF_SECRET, 50);
		if (build(f, &e) < 0)
			fail_msg("build: %s %s", e.sqlstate, e.message);
		assert_string_equal(f->env->job_spec->type, "confluent-schema-registry");
		assert_int_equal(f->js.ndests, 1);
		assert_string_equal(f->js.dests[0], cases[i].dest);
		assert_int_equal(opt_secret(f, "PASSWORD"), 50);
	}
	/* ICEBERG: CREDENTIAL as a chain of parts. */
	rebuild_reset(f, CONN_ICEBERG);
	put_text(&f->set, CONN_O_CATALOG_TYPE, "rest");
	put_text(&f->set, CONN_O_URL, "https://cat.example/api/catalog");
	{
		struct conn_value v = { .form = CONN_VF_CHAIN, .nparts = 2 };
		v.parts = calloc(2, sizeof(*v.parts));
		v.parts[0].text = strdup("client:");
		v.parts[1].is_secret = 1;
		v.parts[1].id = 50;
		assert_int_equal(conn_optset_put(&f->set, CONN_O_CREDENTIAL, &v), 0);
	}
	assert_int_equal(build(f, &e), 0);
	assert_string_equal(f->js.dests[0], "cat.example:443");
	const Tether__JobOption *o = opt_any(f, "CREDENTIAL");
	assert_non_null(o);
	assert_int_equal(o->n_parts, 2);
	assert_string_equal(o->parts[0]->text, "client:");
	assert_true(o->parts[1]->is_secret);
}

static void test_aws_role_job(void **state)
{
	struct fx *f = *state;
	struct err e;

	setting(f, "instance_id", "11111111-2222-3333-4444-555555555555");
	setting(f, "aws_connection_role_arn", "arn:aws:iam::123456789012:role/Tether");
	setting(f, "region", "eu-west-1");
	rebuild_reset(f, CONN_AWS);
	put_text(&f->set, CONN_O_ASSUME_ROLE_ARN, "arn:aws:iam::210987654321:role/Customer");
	/* No credentials secret configured: role and region only; tether's STS
	 * endpoint defaults to the deployment region's. */
	assert_int_equal(build(f, &e), 0);
	assert_string_equal(f->env->job_spec->type, "aws");
	assert_int_equal(f->js.ndests, 1);
	assert_string_equal(f->js.dests[0], "sts.eu-west-1.amazonaws.com:443");
	assert_string_equal(opt(f, "TETHER/STS ENDPOINT"), "https://sts.eu-west-1.amazonaws.com");
	assert_string_equal(opt(f, "EXTERNAL ID"), "mz_11111111-2222-3333-4444-555555555555_u100");
	assert_string_equal(opt(f, "ASSUME ROLE SESSION NAME"),
			    "11111111-2222-3333-4444-555555555555-u100");
	assert_string_equal(opt(f, "TETHER/AWS CONNECTION ROLE ARN"),
			    "arn:aws:iam::123456789012:role/Tether");
	assert_string_equal(opt(f, "TETHER/REGION"), "eu-west-1");
	assert_null(opt_any(f, "TETHER/AWS CREDENTIALS"));
	assert_int_equal(f->js.nsecrets, 0);
	/* The credentials secret by name: granted, passed by id. A name that
	 * matches nothing is left out (the check reports 0A000). */
	setting(f, "aws_principal_credentials_secret", "materialize.public.nope");
	rebuild_reset(f, CONN_AWS);
	put_text(&f->set, CONN_O_ASSUME_ROLE_ARN, "arn:aws:iam::210987654321:role/Customer");
	assert_int_equal(build(f, &e), 0);
	assert_null(opt_any(f, "TETHER/AWS CREDENTIALS"));
	setting(f, "aws_principal_credentials_secret", "materialize.public.n50");
	rebuild_reset(f, CONN_AWS);
	put_text(&f->set, CONN_O_ASSUME_ROLE_ARN, "arn:aws:iam::210987654321:role/Customer");
	put_text(&f->set, CONN_O_ASSUME_ROLE_SESSION_NAME, "mine");
	put_text(&f->set, CONN_O_ENDPOINT, "http://127.0.0.1:4566/");
	assert_int_equal(build(f, &e), 0);
	assert_int_equal(opt_secret(f, "TETHER/AWS CREDENTIALS"), 50);
	assert_int_equal(f->js.nsecrets, 1);
	assert_int_equal(f->js.secrets[0].version, 7);
	/* A role-based connection's ENDPOINT is user-controlled: tether's
	 * credentials are granted for tether's STS endpoint only. */
	assert_int_equal(f->js.ndests, 1);
	assert_string_equal(f->js.dests[0], "sts.eu-west-1.amazonaws.com:443");
	assert_string_equal(opt(f, "ENDPOINT"), "http://127.0.0.1:4566/");
	assert_string_equal(opt(f, "ASSUME ROLE SESSION NAME"), "mine");
	/* aws.sts_endpoint (the operator's) decides where they go. */
	setting(f, "aws_sts_endpoint", "http://127.0.0.1:4567");
	rebuild_reset(f, CONN_AWS);
	put_text(&f->set, CONN_O_ASSUME_ROLE_ARN, "arn:aws:iam::210987654321:role/Customer");
	put_text(&f->set, CONN_O_ENDPOINT, "https://attacker.example/");
	assert_int_equal(build(f, &e), 0);
	assert_string_equal(opt(f, "TETHER/STS ENDPOINT"), "http://127.0.0.1:4567");
	assert_int_equal(f->js.ndests, 1);
	assert_string_equal(f->js.dests[0], "127.0.0.1:4567");
	exec_sql(f, "DELETE FROM tether_settings WHERE name = 'aws_sts_endpoint'");
	/* Referenced by an ICEBERG s3tablesrest: nested, the STS endpoint
	 * after the catalog's URL. */
	{
		struct conn_optset aws = { .type = CONN_AWS };
		put_text(&aws, CONN_O_ASSUME_ROLE_ARN, "arn:aws:iam::210987654321:role/Customer");
		put_text(&aws, CONN_O_REGION, "us-west-2");
		add_conn(f, 72, "aws", &aws);
		conn_optset_free(&aws);
	}
	rebuild_reset(f, CONN_ICEBERG);
	put_text(&f->set, CONN_O_CATALOG_TYPE, "s3tablesrest");
	put_text(&f->set, CONN_O_URL, "https://s3tables.us-west-2.amazonaws.com/iceberg");
	put_text(&f->set, CONN_O_WAREHOUSE, "arn:aws:s3tables:us-west-2:210987654321:bucket/b");
	put_ref(&f->set, CONN_O_AWS_CONNECTION, CONN_VF_REF, 72);
	assert_int_equal(build(f, &e), 0);
	assert_string_equal(opt(f, "AWS CONNECTION"), "72");
	assert_string_equal(opt(f, "AWS CONNECTION/ASSUME ROLE ARN"),
			    "arn:aws:iam::210987654321:role/Customer");
	assert_string_equal(opt(f, "AWS CONNECTION/REGION"), "us-west-2");
	assert_string_equal(opt(f, "AWS CONNECTION/EXTERNAL ID"),
			    "mz_11111111-2222-3333-4444-555555555555_u72");
	assert_string_equal(opt(f, "AWS CONNECTION/ASSUME ROLE SESSION NAME"),
			    "11111111-2222-3333-4444-555555555555-u72");
	assert_int_equal(opt_secret(f, "TETHER/AWS CREDENTIALS"), 50);
	assert_int_equal(f->js.ndests, 2);
	assert_string_equal(f->js.dests[0], "s3tables.us-west-2.amazonaws.com:443");
	/* tether's STS endpoint (the deployment region's), not the role's REGION. */
	assert_string_equal(f->js.dests[1], "sts.eu-west-1.amazonaws.com:443");
	assert_string_equal(opt(f, "TETHER/STS ENDPOINT"), "https://sts.eu-west-1.amazonaws.com");
	/* MYSQL with an AWS CONNECTION: passed (the check answers 0A000). */
	rebuild_reset(f, CONN_MYSQL);
	put_text(&f->set, CONN_O_HOST, "db.example");
	put_text(&f->set, CONN_O_USER, "u");
	put_ref(&f->set, CONN_O_AWS_CONNECTION, CONN_VF_REF, 72);
	assert_int_equal(build(f, &e), 0);
	assert_string_equal(opt(f, "AWS CONNECTION"), "72");
	assert_string_equal(f->js.dests[0], "db.example:3306");
	/* A reference to a connection that is gone. */
	rebuild_reset(f, CONN_MYSQL);
	put_text(&f->set, CONN_O_HOST, "db.example");
	put_text(&f->set, CONN_O_USER, "u");
	put_ref(&f->set, CONN_O_AWS_CONNECTION, CONN_VF_REF, 99);
	assert_int_equal(build(f, &e), -1);
	assert_string_equal(e.sqlstate, "42704");
}

static void test_aws_keys_and_privatelink(void **state)
{
	struct fx *f = *state;
	struct err e;

	rebuild_reset(f, CONN_AWS);
	put_text(&f->set, CONN_O_ACCESS_KEY_ID, "AKID");
	put_ref(&f->set, CONN_O_SECRET_ACCESS_KEY, CONN_VF_SECRET, 50);
	put_text(&f->set, CONN_O_REGION, "ap-south-1");
	assert_int_equal(build(f, &e), 0);
	assert_string_equal(f->js.dests[0], "sts.ap-south-1.amazonaws.com:443");
	assert_null(opt(f, "EXTERNAL ID"));
	assert_null(opt(f, "TETHER/AWS CONNECTION ROLE ARN"));
	assert_string_equal(opt(f, "TETHER/REGION"), "us-east-1");
	/* ENDPOINT '' is unset. */
	put_text(&f->set, CONN_O_ENDPOINT, "");
	rebuild_reset(f, CONN_AWS);
	put_text(&f->set, CONN_O_ACCESS_KEY_ID, "AKID");
	put_ref(&f->set, CONN_O_SECRET_ACCESS_KEY, CONN_VF_SECRET, 50);
	put_text(&f->set, CONN_O_ENDPOINT, "");
	assert_int_equal(build(f, &e), 0);
	assert_string_equal(f->js.dests[0], "sts.us-east-1.amazonaws.com:443");

	rebuild_reset(f, CONN_AWS_PRIVATELINK);
	put_text(&f->set, CONN_O_SERVICE_NAME, "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0");
	{
		struct conn_value v = { .form = CONN_VF_LIST, .nlist = 2 };
		v.list = calloc(2, sizeof(*v.list));
		v.list[0] = strdup("use1-az1");
		v.list[1] = strdup("use1-az4");
		assert_int_equal(conn_optset_put(&f->set, CONN_O_AVAILABILITY_ZONES, &v), 0);
	}
	assert_int_equal(build(f, &e), 0);
	assert_string_equal(f->env->job_spec->type, "aws-privatelink");
	const Tether__JobOption *o = opt_any(f, "AVAILABILITY ZONES");
	assert_non_null(o);
	assert_int_equal(o->n_parts, 2);
	assert_string_equal(o->parts[0]->text, "use1-az1");
	assert_string_equal(o->parts[1]->text, "use1-az4");
	assert_int_equal(f->js.ndests, 0);
	assert_int_equal(f->js.nsecrets, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_brokers_in_order_no_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destination_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_tunnel_pins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_per_broker_tunnels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_per_broker_tunnel_pins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_privatelink_and_aws_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_tunnels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_url_destinations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aws_role_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aws_keys_and_privatelink, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
