/* Building a validation job from a connection's option set: options as
 * parts (text or secret id, SQL.md 4.3 chains kept as parts), the SSH
 * tunnels it goes through (HOST/PORT/USER, public key blobs and pinned host
 * key: the default one, and KAFKA's per-broker ones), a referenced AWS
 * CONNECTION's options nested under "AWS CONNECTION/" with the derived
 * external ID and tether's own AWS identity and STS endpoint (validator/val.h:
 * a role-based connection's ENDPOINT never receives a request signed with
 * tether's credentials, so it is not a destination either), and the grant
 * (secrets with their committed vault version, key owners, destinations
 * "host:port"). No secret value is ever read here. */
#include "jobspec.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ipc.h"
#include "log.h"
#include "store_conn.h"

/* Types that have a check in validator/ (validator/main.c's table). The
 * connection descriptors (conn/descriptor.c) say which types validate by
 * default; this says which can be validated at all. */
static const int validator_available[CONN_NTYPES] = {
	[CONN_POSTGRES] = 1,
	[CONN_SSH_TUNNEL] = 1,
	[CONN_MYSQL] = 1,
	[CONN_SQL_SERVER] = 1,
	[CONN_KAFKA] = 1,
	[CONN_CSR] = 1,
	[CONN_ICEBERG] = 1,
	[CONN_AWS] = 1,
	[CONN_AWS_PRIVATELINK] = 1,
};

int cat_jobspec_type_validates(enum conn_type t)
{
	return (unsigned)t < CONN_NTYPES && validator_available[t];
}

/* ---- public key lines -> blobs ---- */

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* "ssh-ed25519 <base64 of the 51-byte blob> comment" -> blob. */
static int key_blob(const char *line, uint8_t blob[51])
{
	const char *p;
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;

	if (!line || strncmp(line, "ssh-ed25519 ", 12) != 0)
		return -1;
	for (p = line + 12; *p && *p != ' ' && *p != '='; p++) {
		int v = b64val((unsigned char)*p);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == 51)
				return -1;
			blob[n++] = (uint8_t)(acc >> bits);
		}
	}
	return n == 51 && memcmp(blob, "\0\0\0\x0bssh-ed25519\0\0\0\x20", 19) == 0 ? 0 : -1;
}

static int stored_keys(struct cat_store *st, uint64_t id, char k1[128], char k2[128],
		       struct err *e)
{
	sqlite3_stmt *q = NULL;
	int rc;

	k1[0] = k2[0] = '\0';
	if (sqlite3_prepare_v2(st->db, "SELECT public_key_1, public_key_2 FROM connections "
			       "WHERE object_id = ?1", -1, &q, NULL) != SQLITE_OK)
		return err_set(e, "XX000", "internal error: catalog: %s", sqlite3_errmsg(st->db));
	sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		snprintf(k1, 128, "%s", (const char *)(sqlite3_column_text(q, 0) ?
						       sqlite3_column_text(q, 0) : (const uint8_t *)""));
		snprintf(k2, 128, "%s", (const char *)(sqlite3_column_text(q, 1) ?
						       sqlite3_column_text(q, 1) : (const uint8_t *)""));
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return err_set(e, "XX000", "internal error: catalog: %s", sqlite3_errmsg(st->db));
	return rc == SQLITE_ROW ? 1 : 0;
}

/* ---- pinned host keys ---- */

int cat_hostkey_get(struct cat_store *st, uint64_t tunnel_id, const char *hostport,
		    char key[CAT_JOB_HOST_KEY_MAX], struct err *e)
{
	sqlite3_stmt *q = NULL;
	int rc, found = 0;

	key[0] = '\0';
	if (sqlite3_prepare_v2(st->db, "SELECT host_key FROM ssh_host_keys "
			       "WHERE object_id = ?1 AND host = ?2", -1, &q, NULL) != SQLITE_OK)
		return err_set(e, "XX000", "internal error: catalog: %s", sqlite3_errmsg(st->db));
	sqlite3_bind_int64(q, 1, (sqlite3_int64)tunnel_id);
	sqlite3_bind_text(q, 2, hostport, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW && sqlite3_column_text(q, 0)) {
		snprintf(key, CAT_JOB_HOST_KEY_MAX, "%s", (const char *)sqlite3_column_text(q, 0));
		found = 1;
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return err_set(e, "XX000", "internal error: catalog: %s", sqlite3_errmsg(st->db));
	return found;
}

int cat_hostkey_pin(struct cat_store *st, uint64_t tunnel_id, const char *hostport,
		    const char *key, struct err *e)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (sqlite3_prepare_v2(st->db, "INSERT INTO ssh_host_keys(object_id, host, host_key, "
			       "pinned_at) VALUES (?1, ?2, ?3, strftime('%Y-%m-%d %H:%M:%f+00', 'now')) "
			       "ON CONFLICT(object_id) DO UPDATE SET host = excluded.host, "
			       "host_key = excluded.host_key, pinned_at = excluded.pinned_at",
			       -1, &q, NULL) != SQLITE_OK)
		return err_set(e, "XX000", "internal error: catalog: %s", sqlite3_errmsg(st->db));
	sqlite3_bind_int64(q, 1, (sqlite3_int64)tunnel_id);
	sqlite3_bind_text(q, 2, hostport, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		/* The tunnel was dropped meanwhile (foreign key): nothing to pin. */
		if (sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
			return 0;
		return err_set(e, "XX000", "internal error: catalog: %s", sqlite3_errmsg(st->db));
	}
	return 0;
}

/* ---- building ---- */

/* Owns every string and array the JobSpec points to until it is packed.
 * nums and names are per option (by its index). */
struct builder {
	Tether__JobOption *opts;
	Tether__JobOption **optp;
	Tether__JobValuePart *parts;
	Tether__JobValuePart **partp;
	char (*nums)[32];
	char (*names)[48];
	size_t nopts, nparts;
	/* derived AWS values the options point to (one AWS connection per job:
	 * the connection itself or the one it references) */
	char ext_id[200], session[200], region[64], sts_url[1100];
};

static void builder_free(struct builder *b)
{
	free(b->opts);
	free(b->optp);
	free(b->parts);
	free(b->partp);
	free(b->nums);
	free(b->names);
}

/* One tunnel of the job and the storage its JobTunnel points into. */
struct tunnel_buf {
	Tether__JobTunnel t;
	uint8_t blobs[2][51];
	char hostport[CAT_JOB_DEST_MAX];
	char pinned[CAT_JOB_HOST_KEY_MAX];
	struct conn_optset opts;        /* loaded from the store (not for self) */
};

static int add_dest(struct cat_jobspec *js, const char *d, struct err *e)
{
	for (size_t i = 0; i < js->ndests; i++)
		if (strcmp(js->dests[i], d) == 0)
			return 0;
	if (js->ndests == CAT_JOB_MAX_DESTS)
		return err_set(e, "54000", "a validation can reach at most %d addresses",
			       CAT_JOB_MAX_DESTS);
	snprintf(js->dests[js->ndests++], CAT_JOB_DEST_MAX, "%s", d);
	return 0;
}

static int add_ssh_owner(struct cat_jobspec *js, uint64_t id, struct err *e)
{
	for (size_t i = 0; i < js->nssh_owners; i++)
		if (js->ssh_owners[i] == id)
			return 0;
	if (js->nssh_owners == CAT_JOB_MAX_TUNNELS)
		return err_set(e, "54000", "a validation can go through at most %d SSH tunnels",
			       CAT_JOB_MAX_TUNNELS);
	js->ssh_owners[js->nssh_owners++] = id;
	return 0;
}

static int add_secret(struct cat_store *st, struct cat_jobspec *js, uint64_t id, struct err *e)
{
	struct cat_item it;
	int rc;

	for (size_t i = 0; i < js->nsecrets; i++)
		if (js->secrets[i].id == id)
			return 0;
	if (js->nsecrets == CAT_JOB_MAX_SECRETS)
		return err_set(e, "54000", "a connection may reference at most %d secrets",
			       CAT_JOB_MAX_SECRETS);
	rc = cat_store_find_item_by_id(st, id, &it, e);
	if (rc < 0)
		return -1;
	if (rc == 0 || it.kind != CAT_OBJ_SECRET)
		return err_set(e, "42704", "unknown catalog item 'u%" PRIu64 "'", id);
	js->secrets[js->nsecrets].id = id;
	js->secrets[js->nsecrets].version = it.vault_version;
	js->nsecrets++;
	return 0;
}

static Tether__JobValuePart *new_part(struct builder *b, Tether__JobOption *o)
{
	Tether__JobValuePart *p = &b->parts[b->nparts];

	tether__job_value_part__init(p);
	b->partp[b->nparts++] = p;
	o->n_parts++;
	return p;
}

/* One option of the set as a JobOption named `prefix` + its name (prefix
 * NULL: the name alone); 0 when it has no validator form (brokers and
 * references: handled separately). A list (AVAILABILITY ZONES) is one
 * text part per entry. */
static int add_option(struct cat_store *st, struct cat_jobspec *js, struct builder *b,
		      const struct conn_opt *co, const char *prefix, struct err *e)
{
	const struct conn_value *v = &co->v;
	Tether__JobOption *o = &b->opts[b->nopts];
	Tether__JobValuePart *p;

	if (co->id == CONN_O_PUBLIC_KEY_1 || co->id == CONN_O_PUBLIC_KEY_2)
		return 0;
	tether__job_option__init(o);
	if (prefix) {
		snprintf(b->names[b->nopts], sizeof(b->names[0]), "%s%s", prefix,
			 conn_opts[co->id].name);
		o->name = b->names[b->nopts];
	} else {
		o->name = (char *)conn_opts[co->id].name;
	}
	o->parts = &b->partp[b->nparts];
	switch (v->form) {
	case CONN_VF_TEXT:
	case CONN_VF_IDENT:
		new_part(b, o)->text = v->text ? v->text : "";
		break;
	case CONN_VF_INT:
		p = new_part(b, o);
		snprintf(b->nums[b->nopts], sizeof(b->nums[0]), "%lld", (long long)v->num);
		p->text = b->nums[b->nopts];
		break;
	case CONN_VF_BOOL:
		new_part(b, o)->text = v->num ? "true" : "false";
		break;
	case CONN_VF_SECRET:
		p = new_part(b, o);
		p->is_secret = 1;
		p->secret_id = v->id;
		if (add_secret(st, js, v->id, e) < 0)
			return -1;
		break;
	case CONN_VF_CHAIN:
		for (size_t i = 0; i < v->nparts; i++) {
			p = new_part(b, o);
			if (v->parts[i].is_secret) {
				p->is_secret = 1;
				p->secret_id = v->parts[i].id;
				if (add_secret(st, js, v->parts[i].id, e) < 0)
					return -1;
			} else {
				p->text = v->parts[i].text ? v->parts[i].text : "";
			}
		}
		break;
	case CONN_VF_LIST:
		for (size_t i = 0; i < v->nlist; i++)
			new_part(b, o)->text = v->list[i] ? v->list[i] : "";
		break;
	default:
		return 0;
	}
	b->optp[b->nopts++] = o;
	return 0;
}

/* Parts an option takes in the job (add_option; an upper bound). */
static size_t option_parts(const struct conn_opt *co)
{
	if (co->v.form == CONN_VF_CHAIN)
		return co->v.nparts;
	if (co->v.form == CONN_VF_LIST)
		return co->v.nlist;
	return 1;
}

/* "host:port" of a set, with the type's default port. */
static int hostport(const struct conn_optset *set, enum conn_type type, char *buf,
		    size_t size, struct err *e)
{
	const char *host = conn_optset_text(set, CONN_O_HOST);
	const struct conn_opt *port = conn_optset_get(set, CONN_O_PORT);
	const struct conn_type_opt *def = conn_type_opt(&conn_types[type], CONN_O_PORT);
	long long p;

	if (!host || !*host)
		return err_set(e, "22023", "HOST option is required");
	if (port && port->v.form == CONN_VF_INT)
		p = port->v.num;
	else
		p = def && def->def ? atoll(def->def) : 0;
	if (p < 1 || p > 65535)
		return err_set(e, "22023", "invalid PORT: %lld", p);
	snprintf(buf, size, "%s:%lld", host, p);
	return 0;
}

/* Fills tb for SSH tunnel `tunnel_id` with options tset; grants its keys
 * and its bastion as a destination. */
static int fill_tunnel(struct cat_store *st, struct cat_jobspec *js, uint64_t tunnel_id,
		       const struct conn_optset *tset, const char *const keys[2],
		       struct tunnel_buf *tb, struct err *e)
{
	char k1[128], k2[128];
	const struct conn_opt *port = conn_optset_get(tset, CONN_O_PORT);
	Tether__JobTunnel *t = &tb->t;

	tether__job_tunnel__init(t);
	t->connection_id = tunnel_id;
	t->host = (char *)conn_optset_text(tset, CONN_O_HOST);
	t->user = (char *)conn_optset_text(tset, CONN_O_USER);
	t->port = port && port->v.form == CONN_VF_INT ? (uint32_t)port->v.num : 22;
	if (!t->host || !t->user)
		return err_set(e, "22023", "invalid connection configuration: the SSH tunnel needs "
			       "HOST and USER");
	if (hostport(tset, CONN_SSH_TUNNEL, tb->hostport, sizeof(tb->hostport), e) < 0)
		return -1;
	if (keys) {
		snprintf(k1, sizeof(k1), "%s", keys[0] ? keys[0] : "");
		snprintf(k2, sizeof(k2), "%s", keys[1] ? keys[1] : "");
	} else if (stored_keys(st, tunnel_id, k1, k2, e) < 0) {
		return -1;
	}
	if (key_blob(k1, tb->blobs[0]) < 0 || key_blob(k2, tb->blobs[1]) < 0)
		return err_set(e, "XX000", "internal error: catalog: SSH tunnel u%" PRIu64
			       " has no public keys", tunnel_id);
	t->public_key_1.data = tb->blobs[0];
	t->public_key_1.len = 51;
	t->public_key_2.data = tb->blobs[1];
	t->public_key_2.len = 51;
	if (cat_hostkey_get(st, tunnel_id, tb->hostport, tb->pinned, e) < 0)
		return -1;
	t->pinned_host_key = tb->pinned;
	if (add_ssh_owner(js, tunnel_id, e) < 0 || add_dest(js, tb->hostport, e) < 0)
		return -1;
	return 0;
}

/* Loads SSH TUNNEL connection `id` from the store into tb. */
static int load_tunnel(struct cat_store *st, struct cat_jobspec *js, uint64_t id,
		       struct tunnel_buf *tb, struct err *e)
{
	int r = cat_store_conn_load(st, id, &tb->opts, e);

	if (r <= 0) {
		if (r == 0)
			err_set(e, "42704", "unknown catalog item 'u%" PRIu64 "'", id);
		return -1;
	}
	return fill_tunnel(st, js, id, &tb->opts, NULL, tb, e);
}

/* The result's host key is pinned for this tunnel. */
static void pin_tunnel(struct cat_jobspec *js, const struct tunnel_buf *tb)
{
	js->tunnel_id = tb->t.connection_id;
	snprintf(js->tunnel_hostport, sizeof(js->tunnel_hostport), "%s", tb->hostport);
	snprintf(js->pinned, sizeof(js->pinned), "%s", tb->pinned);
}

/* ---- KAFKA (validator/val.h, conn_kafka.c: the job encoding) ---- */

static Tether__JobOption *text_option(struct builder *b, const char *name, const char *text)
{
	Tether__JobOption *o = &b->opts[b->nopts];

	tether__job_option__init(o);
	snprintf(b->names[b->nopts], sizeof(b->names[0]), "%s", name);
	o->name = b->names[b->nopts];
	o->parts = &b->partp[b->nparts];
	new_part(b, o)->text = (char *)text;
	b->optp[b->nopts++] = o;
	return o;
}

/* An option whose value is a catalog id, as decimal text. */
static void id_option(struct builder *b, const char *name, uint64_t id)
{
	snprintf(b->nums[b->nopts], sizeof(b->nums[0]), "%" PRIu64, id);
	text_option(b, name, b->nums[b->nopts]);
}

/* A broker as the check names it ("host:port", "[v6]:port", port 9092 by
 * default): the first one is the destination secrets are released for.
 * A form the check rejects is kept verbatim (it fails before any secret). */
static void kafka_broker_dest(const char *addr, char *out, size_t size)
{
	const char *colon = NULL, *h = addr;
	size_t hl;
	long port = 9092;

	if (addr[0] == '[') {
		const char *rb = strchr(addr, ']');
		if (!rb)
			goto verbatim;
		h = addr + 1;
		hl = (size_t)(rb - h);
		if (rb[1] == ':')
			colon = rb + 1;
		else if (rb[1])
			goto verbatim;
	} else {
		colon = strrchr(addr, ':');
		if (colon && strchr(addr, ':') != colon)
			goto verbatim;
		hl = colon ? (size_t)(colon - addr) : strlen(addr);
	}
	if (hl == 0 || hl >= 256)
		goto verbatim;
	if (colon) {
		char *end = NULL;
		port = strtol(colon + 1, &end, 10);
		if (!colon[1] || *end || port < 1 || port > 65535)
			goto verbatim;
	}
	snprintf(out, size, memchr(h, ':', hl) ? "[%.*s]:%ld" : "%.*s:%ld", (int)hl, h, port);
	return;
verbatim:
	snprintf(out, size, "%s", addr);
}

static size_t kafka_nbrokers(const struct conn_optset *set)
{
	size_t n = 0;

	for (size_t i = 0; i < set->n; i++)
		if (set->opts[i].v.form == CONN_VF_BROKERS)
			n += set->opts[i].v.nbrokers;
	return n;
}

/* BROKER <n> [SSH TUNNEL | AWS PRIVATELINK] and AWS PRIVATELINK (AWS
 * CONNECTION is every type's: aws_options); the first broker is the target
 * (dests[0]). */
static int kafka_options(struct cat_jobspec *js, struct builder *b,
			 const struct conn_optset *set, struct err *e)
{
	size_t n = 0;
	char name[40];

	for (size_t i = 0; i < set->n; i++) {
		const struct conn_opt *co = &set->opts[i];

		if (co->v.form == CONN_VF_REF && co->id == CONN_O_AWS_PRIVATELINK)
			id_option(b, conn_opts[co->id].name, co->v.id);
		if (co->v.form != CONN_VF_BROKERS)
			continue;
		for (size_t k = 0; k < co->v.nbrokers; k++) {
			const struct conn_broker *br = &co->v.brokers[k];

			n++;
			snprintf(name, sizeof(name), "BROKER %zu", n);
			text_option(b, name, br->addr ? br->addr : "");
			if (n == 1) {
				char d[CAT_JOB_DEST_MAX];
				kafka_broker_dest(br->addr ? br->addr : "", d, sizeof(d));
				if (add_dest(js, d, e) < 0)
					return -1;
			}
			if (br->tunnel == CONN_TUNNEL_NONE)
				continue;
			snprintf(name, sizeof(name), "BROKER %zu %s", n,
				 br->tunnel == CONN_TUNNEL_SSH ? "SSH TUNNEL" : "AWS PRIVATELINK");
			id_option(b, name, br->tunnel_id);
		}
	}
	return 0;
}

/* The per-broker SSH tunnels other than the default (tbs[0] when
 * `deflt`), each once, into tbs[1...]; returns their number or -1. */
static long kafka_tunnels(struct cat_store *st, struct cat_jobspec *js,
			  const struct conn_optset *set, int deflt, struct tunnel_buf *tbs,
			  Tether__JobTunnel **out, struct err *e)
{
	size_t n = 0;

	for (size_t i = 0; i < set->n; i++) {
		const struct conn_value *v = &set->opts[i].v;

		if (v->form != CONN_VF_BROKERS)
			continue;
		for (size_t k = 0; k < v->nbrokers; k++) {
			uint64_t id = v->brokers[k].tunnel_id;
			int seen = deflt && tbs[0].t.connection_id == id;

			if (v->brokers[k].tunnel != CONN_TUNNEL_SSH)
				continue;
			for (size_t j = 0; j < n && !seen; j++)
				seen = tbs[1 + j].t.connection_id == id;
			if (seen)
				continue;
			if (n == CAT_JOB_MAX_TUNNELS)
				return err_set(e, "54000", "a validation can go through at most %d "
					       "SSH tunnels", CAT_JOB_MAX_TUNNELS);
			if (load_tunnel(st, js, id, &tbs[1 + n], e) < 0)
				return -1;
			out[n] = &tbs[1 + n].t;
			n++;
		}
	}
	return (long)n;
}

/* ---- URL-based types and AWS (validator/val.h: the job encoding) ---- */

/* validator/val.h's names, which the catalog does not include. */
#define JS_AWS_REF_PREFIX "AWS CONNECTION/"
#define JS_AWS_EXTERNAL_ID "EXTERNAL ID"
#define JS_TETHER_ROLE_ARN "TETHER/AWS CONNECTION ROLE ARN"
#define JS_TETHER_CREDENTIALS "TETHER/AWS CREDENTIALS"
#define JS_TETHER_REGION "TETHER/REGION"
#define JS_TETHER_STS_ENDPOINT "TETHER/STS ENDPOINT"

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "host:port" of an http(s) URL as the validator names it (val_url_parse,
 * libcurl's URL parser): the scheme's default port (443 / 80), user info
 * skipped, %XX in the host decoded, a numeric IPv4 host in dotted-quad form,
 * an IPv6 host in brackets without its zone id. Anything else (another
 * scheme, no host, a bad port) is kept verbatim: the check refuses such a
 * URL before it fetches any secret. */
static void url_dest(const char *url, char *out, size_t size)
{
	const char *auth, *end, *h, *hend, *colon = NULL, *at;
	char host[256];
	size_t hl = 0;
	long port;
	int v6 = 0;

	if (!strncasecmp(url, "https://", 8)) {
		port = 443;
		auth = url + 8;
	} else if (!strncasecmp(url, "http://", 7)) {
		port = 80;
		auth = url + 7;
	} else {
		goto verbatim;
	}
	end = auth + strcspn(auth, "/?#");
	at = memchr(auth, '@', (size_t)(end - auth));
	h = at ? at + 1 : auth;
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(end - h));
		if (!rb || (rb + 1 < end && rb[1] != ':'))
			goto verbatim;
		v6 = 1;
		h++;
		hend = memchr(h, '%', (size_t)(rb - h));   /* zone id: dropped */
		if (!hend)
			hend = rb;
		colon = rb + 1 < end ? rb + 1 : NULL;
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
		hend = colon ? colon : end;
	}
	for (const char *p = h; p < hend; p++) {
		int c = (unsigned char)*p;
		if (c == '%' && !v6 && p + 2 < hend && hexval(p[1]) >= 0 &&
		    hexval(p[2]) >= 0) {
			c = hexval(p[1]) * 16 + hexval(p[2]);
			p += 2;
		}
		if (hl + 1 >= sizeof(host) || c == 0)
			goto verbatim;
		host[hl++] = (char)c;
	}
	host[hl] = '\0';
	if (hl == 0)
		goto verbatim;
	if (colon && colon + 1 < end) {
		port = 0;
		for (const char *p = colon + 1; p < end; p++) {
			if (*p < '0' || *p > '9' || (port = port * 10 + (*p - '0')) > 65535)
				goto verbatim;
		}
		if (port == 0)
			goto verbatim;
	}
	if (!v6 && strspn(host, "0123456789abcdefABCDEFxX.") == hl) {
		struct in_addr a;
		char dq[INET_ADDRSTRLEN];
		if (inet_aton(host, &a) && inet_ntop(AF_INET, &a, dq, sizeof(dq)))
			snprintf(host, sizeof(host), "%s", dq);
	}
	snprintf(out, size, v6 ? "[%s]:%ld" : "%s:%ld", host, port);
	return;
verbatim:
	snprintf(out, size, "%s", url);
}

/* The STS endpoint a key-based AWS connection's check calls with the
 * connection's own keys (conn_aws.c): ENDPOINT when set and not '', else
 * sts.<REGION or the deployment's region>. */
static void aws_sts_dest(const struct conn_optset *aws, const struct cat_conn_cfg *cfg,
			 char *out, size_t size)
{
	const char *ep = conn_optset_text(aws, CONN_O_ENDPOINT);
	const char *region = conn_optset_text(aws, CONN_O_REGION);

	if (ep && ep[0]) {
		url_dest(ep, out, size);
		return;
	}
	snprintf(out, size, "sts.%s.amazonaws.com:443", region && region[0] ? region : cfg->region);
}

/* tether's own STS endpoint, for every call signed with tether's
 * credentials (and the role credentials they obtain): aws.sts_endpoint,
 * else https://sts.<deployment region>.amazonaws.com. Never ENDPOINT. */
static void tether_sts_url(const struct cat_conn_cfg *cfg, char *out, size_t size)
{
	if (cfg->sts_endpoint[0])
		snprintf(out, size, "%s", cfg->sts_endpoint);
	else
		snprintf(out, size, "https://sts.%s.amazonaws.com", cfg->region);
}

/* The SECRET named by aws.principal_credentials_secret ("db.schema.name"):
 * 1 and its id, 0 when there is no such secret, -1. */
static int tether_creds_secret(struct cat_store *st, const char *qname, uint64_t *id,
			       struct err *e)
{
	char parts[3][CAT_IDENT_MAX + 1];
	const char *p = qname;
	struct cat_schema sc;
	struct cat_item it;
	int rc;

	for (int i = 0; i < 3; i++) {
		size_t n = strcspn(p, ".");
		if (n == 0 || n > CAT_IDENT_MAX || (i < 2 && p[n] != '.') || (i == 2 && p[n]))
			return 0;
		snprintf(parts[i], sizeof(parts[i]), "%.*s", (int)n, p);
		p += n + (i < 2);
	}
	rc = cat_store_find_schema(st, parts[0], parts[1], &sc, e);
	if (rc <= 0)
		return rc;
	rc = cat_store_find_item(st, sc.id, parts[2], &it, e);
	if (rc <= 0)
		return rc;
	if (it.kind != CAT_OBJ_SECRET)
		return 0;
	*id = it.id;
	return 1;
}

/* What the check of AWS connection `aws_id` (options `aws`) needs besides
 * its options: under `prefix` (a referencing connection's job) its options
 * themselves; the deployment's region; with keys, the STS endpoint they are
 * sent to (ENDPOINT or sts.<region>) as a destination; for role assumption
 * the derived EXTERNAL ID (mz_<prefix>_u<id>, SQL.md 8.4), the default
 * ASSUME ROLE SESSION NAME and tether's own identity: the principal role,
 * tether's STS endpoint (TETHER/STS ENDPOINT, aws.sts_endpoint) as the only
 * AWS destination, and the secret with its credentials, granted for it (the
 * validator fetches and splits it; its value never passes through here).
 * A role-based connection's ENDPOINT is not a destination: nothing signed
 * by tether may go there. */
static int aws_options(struct cat_store *st, struct cat_jobspec *js, struct builder *b,
		       uint64_t aws_id, const struct conn_optset *aws, const char *prefix,
		       const struct cat_conn_cfg *cfg, struct err *e)
{
	char name[64], dest[CAT_JOB_DEST_MAX];
	uint64_t cred_id = 0;
	int rc;

	for (size_t i = 0; prefix && i < aws->n; i++)
		if (add_option(st, js, b, &aws->opts[i], prefix, e) < 0)
			return -1;
	snprintf(b->region, sizeof(b->region), "%s", cfg->region);
	text_option(b, JS_TETHER_REGION, b->region);
	if (!conn_optset_get(aws, CONN_O_ASSUME_ROLE_ARN)) {
		aws_sts_dest(aws, cfg, dest, sizeof(dest));
		return add_dest(js, dest, e);
	}
	tether_sts_url(cfg, b->sts_url, sizeof(b->sts_url));
	text_option(b, JS_TETHER_STS_ENDPOINT, b->sts_url);
	url_dest(b->sts_url, dest, sizeof(dest));
	if (add_dest(js, dest, e) < 0)
		return -1;
	snprintf(b->ext_id, sizeof(b->ext_id), "mz_%s_u%" PRIu64, cfg->prefix, aws_id);
	snprintf(name, sizeof(name), "%s%s", prefix ? prefix : "", JS_AWS_EXTERNAL_ID);
	text_option(b, name, b->ext_id);
	if (!conn_optset_get(aws, CONN_O_ASSUME_ROLE_SESSION_NAME)) {
		conn_render_default(conn_type_opt(&conn_types[CONN_AWS],
						  CONN_O_ASSUME_ROLE_SESSION_NAME),
				    &cfg->s, aws_id, b->session, sizeof(b->session));
		snprintf(name, sizeof(name), "%s%s", prefix ? prefix : "",
			 conn_opts[CONN_O_ASSUME_ROLE_SESSION_NAME].name);
		text_option(b, name, b->session);
	}
	if (cfg->role_arn[0])
		text_option(b, JS_TETHER_ROLE_ARN, cfg->role_arn);
	if (!cfg->cred_secret[0])
		return 0;
	rc = tether_creds_secret(st, cfg->cred_secret, &cred_id, e);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		/* The check says the principal has no credentials (0A000). */
		log_warn("aws_principal_credentials_missing", "secret=%s", cfg->cred_secret);
		return 0;
	}
	if (add_secret(st, js, cred_id, e) < 0)
		return -1;
	Tether__JobOption *o = text_option(b, JS_TETHER_CREDENTIALS, "");
	o->parts[0]->is_secret = 1;
	o->parts[0]->secret_id = cred_id;
	return 0;
}

int cat_jobspec_build(struct cat_store *st, uint64_t job_id, uint64_t conn_id,
		      enum conn_type type, const struct conn_optset *set,
		      const char *const self_keys[2], uint32_t connect_timeout_ms,
		      uint32_t deadline_ms, struct cat_jobspec *js, struct err *e)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__JobSpec spec = TETHER__JOB_SPEC__INIT;
	struct builder b = { 0 };
	/* [0] the default tunnel, then KAFKA's per-broker ones */
	struct tunnel_buf *tbs = NULL;
	Tether__JobTunnel *tptr[CAT_JOB_MAX_TUNNELS];
	char *dptr[CAT_JOB_MAX_DESTS];
	size_t nparts = 0, nopts;
	/* A referenced AWS CONNECTION (its stored options) and the deployment
	 * settings that AWS jobs read. */
	const struct conn_opt *awsc = conn_optset_get(set, CONN_O_AWS_CONNECTION);
	struct conn_optset aws_ref = { 0 };
	struct cat_conn_cfg cfg;
	int rc = -1;

	memset(js, 0, sizeof(*js));
	js->job_id = job_id;
	js->connection_id = conn_id;
	js->deadline_ms = deadline_ms;
	if (!cat_jobspec_type_validates(type))
		return err_set(e, "0A000", "validation of %s connections is not supported yet",
			       conn_types[type].keyword);
	snprintf(js->type, sizeof(js->type), "%s", conn_types[type].catalog_name);
	if (awsc && awsc->v.form != CONN_VF_REF)
		awsc = NULL;
	if ((type == CONN_AWS || awsc) && cat_conn_cfg_load(st, &cfg, e) < 0)
		return -1;
	if (awsc) {
		int r = cat_store_conn_load(st, awsc->v.id, &aws_ref, e);
		if (r <= 0)
			return r < 0 ? -1 : err_set(e, "42704", "unknown catalog item 'u%" PRIu64 "'",
						    awsc->v.id);
	}
	for (size_t i = 0; i < set->n; i++)
		nparts += option_parts(&set->opts[i]);
	for (size_t i = 0; i < aws_ref.n; i++)
		nparts += option_parts(&aws_ref.opts[i]);
	/* KAFKA: BROKER <n> and its tunnel per broker; AWS: the referenced
	 * connection's options, AWS CONNECTION, EXTERNAL ID, the session name
	 * and the TETHER/ ones. One part each. */
	nopts = set->n + 1 + (type == CONN_KAFKA ? 2 * kafka_nbrokers(set) : 0) + aws_ref.n + 9;
	nparts += nopts;
	b.opts = calloc(nopts, sizeof(*b.opts));
	b.optp = calloc(nopts, sizeof(*b.optp));
	b.parts = calloc(nparts + 1, sizeof(*b.parts));
	b.partp = calloc(nparts + 1, sizeof(*b.partp));
	b.nums = calloc(nopts, sizeof(*b.nums));
	b.names = calloc(nopts, sizeof(*b.names));
	tbs = calloc(CAT_JOB_MAX_TUNNELS + 1, sizeof(*tbs));
	if (!b.opts || !b.optp || !b.parts || !b.partp || !b.nums || !b.names || !tbs) {
		err_set(e, "53200", "out of memory");
		goto out;
	}
	for (size_t i = 0; i < set->n; i++)
		if (add_option(st, js, &b, &set->opts[i], NULL, e) < 0)
			goto out;
	/* The target first: secrets are audited with it as destination. */
	if (type == CONN_KAFKA) {
		/* Brokers, not HOST; a default AWS PRIVATELINK has none (the
		 * check answers 0A000 before it needs a destination). */
		if (kafka_options(js, &b, set, e) < 0)
			goto out;
	} else if (type == CONN_CSR || type == CONN_ICEBERG) {
		url_dest(conn_optset_text(set, CONN_O_URL) ? conn_optset_text(set, CONN_O_URL) : "",
			 js->dests[0], sizeof(js->dests[0]));
		js->ndests = 1;
	} else if (type == CONN_AWS) {
		/* The STS endpoint (aws_options). */
		if (aws_options(st, js, &b, conn_id, set, NULL, &cfg, e) < 0)
			goto out;
	} else if (type != CONN_AWS_PRIVATELINK) {
		/* (PrivateLink reaches nothing and has no secrets.) */
		if (hostport(set, type, js->dests[0], sizeof(js->dests[0]), e) < 0)
			goto out;
		js->ndests = 1;
	}
	if (awsc) {
		/* Its options nested, its STS endpoint after the target. */
		id_option(&b, conn_opts[CONN_O_AWS_CONNECTION].name, awsc->v.id);
		if (aws_options(st, js, &b, awsc->v.id, &aws_ref, JS_AWS_REF_PREFIX, &cfg, e) < 0)
			goto out;
	}

	spec.tunnel = NULL;
	if (type == CONN_SSH_TUNNEL) {
		/* The tunnel itself is the target: its keys, its pin. */
		js->ndests = 0;
		if (fill_tunnel(st, js, conn_id, set, self_keys, &tbs[0], e) < 0)
			goto out;
		pin_tunnel(js, &tbs[0]);
		spec.tunnel = &tbs[0].t;
	} else {
		const struct conn_opt *ref = conn_optset_get(set, CONN_O_SSH_TUNNEL);

		if (type != CONN_KAFKA && conn_optset_get(set, CONN_O_AWS_PRIVATELINK)) {
			/* SQL.md 6: no cloud support here [MZ wording]. (KAFKA's
			 * check says so itself, per broker or for the default.) */
			err_set(e, "0A000", "AWS PrivateLink connections are unsupported");
			goto out;
		}
		if (ref && ref->v.form == CONN_VF_REF) {
			if (load_tunnel(st, js, ref->v.id, &tbs[0], e) < 0)
				goto out;
			pin_tunnel(js, &tbs[0]);
			spec.tunnel = &tbs[0].t;
		}
		if (type == CONN_KAFKA) {
			long n = kafka_tunnels(st, js, set, spec.tunnel != NULL, tbs, tptr, e);

			if (n < 0)
				goto out;
			spec.n_tunnels = (size_t)n;
			spec.tunnels = tptr;
			/* One host key comes back: pin it only when it can be
			 * only one tunnel's. */
			if (n == 1 && !spec.tunnel)
				pin_tunnel(js, &tbs[1]);
			else if (n > 0) {
				js->tunnel_id = 0;
				js->tunnel_hostport[0] = js->pinned[0] = '\0';
			}
		}
	}

	spec.job_id = job_id;
	spec.connection_id = conn_id;
	spec.type = js->type;
	spec.n_options = b.nopts;
	spec.options = b.optp;
	spec.connect_timeout_ms = connect_timeout_ms;
	for (size_t i = 0; i < js->ndests; i++)
		dptr[i] = js->dests[i];
	spec.n_destinations = js->ndests;
	spec.destinations = dptr;
	env.body_case = TETHER__ENVELOPE__BODY_JOB_SPEC;
	env.job_spec = &spec;
	js->packed_len = tether__envelope__get_packed_size(&env);
	if (js->packed_len > IPC_MAX_PACKET) {
		err_set(e, "54000", "the connection's options are too large to validate (%zu bytes; "
			"the limit is %d)", js->packed_len, IPC_MAX_PACKET);
		goto out;
	}
	js->packed = malloc(js->packed_len ? js->packed_len : 1);
	if (!js->packed) {
		err_set(e, "53200", "out of memory");
		goto out;
	}
	tether__envelope__pack(&env, js->packed);
	rc = 0;
out:
	conn_optset_free(&aws_ref);
	for (size_t i = 0; tbs && i < CAT_JOB_MAX_TUNNELS + 1; i++)
		conn_optset_free(&tbs[i].opts);
	free(tbs);
	builder_free(&b);
	if (rc < 0)
		cat_jobspec_free(js);
	return rc;
}

void cat_jobspec_free(struct cat_jobspec *js)
{
	free(js->packed);
	js->packed = NULL;
	js->packed_len = 0;
}
