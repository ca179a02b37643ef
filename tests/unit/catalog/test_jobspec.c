/* The KAFKA job encoding of catalog/jobspec.c (validator/val.h documents
 * it): BROKER <n> in written order, per-broker SSH TUNNEL / AWS PRIVATELINK
 * and top-level AWS PRIVATELINK / AWS CONNECTION as decimal ids, no HOST
 * needed, the first broker as the secrets' destination ("host:port" with
 * the 9092 default, IPv6 in brackets), the default SSH TUNNEL as `tunnel`
 * and the other per-broker tunnels in `tunnels` with their keys and
 * bastions granted, a host key pinned only when one tunnel is involved,
 * and the grant's limits. Against a real SQLite store. */
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

/* Builds the job of f->set; the JobSpec unpacked in f->env. */
static int build(struct fx *f, struct err *e)
{
	err_clear(e);
	if (cat_jobspec_build(&f->st, 9, 100, CONN_KAFKA, &f->set, NULL, 5000, 30000, &f->js,
			      e) < 0)
		return -1;
	f->env = tether__envelope__unpack(NULL, f->js.packed_len, f->js.packed);
	assert_non_null(f->env);
	assert_int_equal(f->env->body_case, TETHER__ENVELOPE__BODY_JOB_SPEC);
	return 0;
}

/* The option's single text part, or NULL if absent. */
static const char *opt(const struct fx *f, const char *name)
{
	const Tether__JobSpec *s = f->env->job_spec;

	for (size_t i = 0; i < s->n_options; i++)
		if (strcmp(s->options[i]->name, name) == 0) {
			assert_int_equal(s->options[i]->n_parts, 1);
			assert_false(s->options[i]->parts[0]->is_secret);
			return s->options[i]->parts[0]->text;
		}
	return NULL;
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

	add_item(f, 70, "connection", "aws-privatelink", 0);
	add_item(f, 71, "connection", "aws", 0);
	put_brokers(&f->set, CONN_O_BROKERS, b, 1);
	put_ref(&f->set, CONN_O_AWS_CONNECTION, CONN_VF_REF, 71);
	assert_int_equal(build(f, &e), 0);
	assert_string_equal(opt(f, "BROKER 1 AWS PRIVATELINK"), "70");
	assert_string_equal(opt(f, "AWS CONNECTION"), "71");
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
