/* Connection planning (SQL.md 4.2 value kinds, 5 per-type rules, 9.3 ALTER
 * merge) and rendering (8.6). Reads only the AST, the descriptors and the
 * resolver callbacks: no SQLite here, so the unit tests drive it with a
 * fake catalog. */
#include "plan_conn.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql/lexer.h"

#define QNAME_MAX (3 * (2 * CAT_IDENT_MAX + 3))

void cat_conn_plan_free(struct cat_conn_plan *p)
{
	conn_optset_free(&p->set);
	free(p->deps);
	memset(p, 0, sizeof(*p));
}

void cat_conn_item_qname(const struct cat_conn_item *it, char *buf, size_t size)
{
	if (it->database[0])
		snprintf(buf, size, "%s.%s.%s", it->database, it->schema, it->name);
	else
		snprintf(buf, size, "%s.%s", it->schema, it->name);
}

static void written(const struct cat_name *n, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < n->nparts && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? "." : "", n->parts[i]);
}

static int oom(struct err *e)
{
	return err_set(e, "53200", "out of memory");
}

static int invalid(struct err *e, enum conn_opt_id id, const char *reason)
{
	return err_set(e, "22023", "invalid %s: %s", conn_opts[id].name, reason);
}

/* ---- references ---- */

static const char *type_article(enum conn_type t)
{
	switch (t) {
	case CONN_SSH_TUNNEL:
		return "an SSH";
	case CONN_AWS_PRIVATELINK:
		return "an AWS PRIVATELINK";
	case CONN_AWS:
		return "an AWS";
	default:
		return "a";
	}
}

/* Resolves a name that must be an item of `kind` (and, for connections, of
 * type `want` unless CONN_NONE). */
static int resolve(const struct cat_conn_resolver *r, const struct cat_name *n,
		   enum cat_object_kind kind, enum conn_type want,
		   struct cat_conn_item *it, struct err *e)
{
	char w[QNAME_MAX], q[QNAME_MAX];
	int rc = r->lookup(r->arg, n, it, e);

	if (rc < 0)
		return -1;
	if (rc == 0) {
		written(n, w, sizeof(w));
		return err_set(e, "42704", "unknown catalog item '%s'", w);
	}
	cat_conn_item_qname(it, q, sizeof(q));
	if (kind == CAT_OBJ_SECRET && it->kind != CAT_OBJ_SECRET)
		return err_set(e, "42809", "%s is not a secret", q);
	if (kind == CAT_OBJ_CONNECTION && it->kind != CAT_OBJ_CONNECTION)
		return err_set(e, "42809", "\"%s\" is a %s not a connection", q,
			       it->kind == CAT_OBJ_SECRET ? "secret" : "item");
	if (kind == CAT_OBJ_CONNECTION && want != CONN_NONE && it->conn_type != (int)want) {
		if (r->display)
			r->display(r->arg, it, q, sizeof(q));
		return err_set(e, "42809", "%s is not %s connection", q, type_article(want));
	}
	if (r->use && r->use(r->arg, it, e) < 0)
		return -1;
	return 0;
}

/* ---- numbers (SQL.md 4.2) ---- */

static int parse_int(enum conn_opt_id id, const char *text, int64_t lo, int64_t hi,
		     int64_t *out, struct err *e)
{
	const char *p = text;
	char *end;
	long long v;

	if (*p == '-')
		p++;
	if (!*p)
		return invalid(e, id, "invalid numeric value: cannot parse integer from empty string");
	for (const char *q = p; *q; q++)
		if (!isdigit((unsigned char)*q))
			return invalid(e, id, "invalid numeric value: invalid digit found in string");
	if (lo >= 0 && text[0] == '-')
		return invalid(e, id, "invalid numeric value: invalid digit found in string");
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno == ERANGE || v > hi)
		return invalid(e, id, text[0] == '-' ?
			       "invalid numeric value: number too small to fit in target type" :
			       "invalid numeric value: number too large to fit in target type");
	if (v < lo && lo < 0)
		return invalid(e, id, "invalid numeric value: number too small to fit in target type");
	*out = v;
	return 0;
}

static int parse_port(enum conn_opt_id id, const char *text, int64_t *out, struct err *e)
{
	if (parse_int(id, text, 0, 65535, out, e) < 0)
		return -1;
	if (*out == 0)
		return invalid(e, id, "PORT must be between 1 and 65535");
	return 0;
}

/* ---- value kinds (SQL.md 4.2) ---- */

static int dup_text(const char *s, char **out, struct err *e)
{
	if (!(*out = strdup(s)))
		return oom(e);
	return 0;
}

/* Text from a string or a one-part identifier. */
static int to_text(enum conn_opt_id id, const struct cat_conn_value *cv, struct conn_value *v,
		   struct err *e)
{
	switch (cv->kind) {
	case CAT_CV_STRING:
		v->form = CONN_VF_TEXT;
		return dup_text(cv->text, &v->text, e);
	case CAT_CV_NAME:
		if (cv->name.nparts > 1)
			return invalid(e, id, "incompatible value types: cannot convert object names to text");
		v->form = CONN_VF_IDENT;
		return dup_text(cv->name.parts[0], &v->text, e);
	case CAT_CV_SECRET:
		return invalid(e, id, "incompatible value types: cannot convert secrets to text");
	case CAT_CV_NONE:
		return invalid(e, id, "must provide a string value");
	default:
		return invalid(e, id, "cannot use value as string");
	}
}

static int to_chain(enum conn_opt_id id, const struct cat_conn_value *cv, int secrets_ok,
		    const struct cat_conn_resolver *r, struct conn_value *v, struct err *e)
{
	int any_secret = 0;

	for (size_t i = 0; i < cv->nitems; i++)
		any_secret |= cv->items[i].kind == CAT_CV_SECRET;
	if (any_secret && !secrets_ok)
		return invalid(e, id, "incompatible value types: cannot convert secrets to text");
	if (!any_secret) {
		/* Literals only: folded into one string. */
		size_t len = 0;
		for (size_t i = 0; i < cv->nitems; i++)
			len += strlen(cv->items[i].text);
		if (!(v->text = malloc(len + 1)))
			return oom(e);
		v->text[0] = '\0';
		for (size_t i = 0; i < cv->nitems; i++)
			strcat(v->text, cv->items[i].text);
		v->form = CONN_VF_TEXT;
		return 0;
	}
	v->form = CONN_VF_CHAIN;
	if (!(v->parts = calloc(cv->nitems, sizeof(*v->parts))))
		return oom(e);
	v->nparts = cv->nitems;
	for (size_t i = 0; i < cv->nitems; i++) {
		if (cv->items[i].kind == CAT_CV_SECRET) {
			struct cat_conn_item it;
			if (resolve(r, &cv->items[i].name, CAT_OBJ_SECRET, CONN_NONE, &it, e) < 0)
				return -1;
			v->parts[i].is_secret = 1;
			v->parts[i].id = it.id;
		} else if (dup_text(cv->items[i].text, &v->parts[i].text, e) < 0)
			return -1;
	}
	return 0;
}

static int to_secret(enum conn_opt_id id, const struct cat_conn_value *cv,
		     const struct cat_conn_resolver *r, struct conn_value *v, struct err *e)
{
	struct cat_conn_item it;

	if (cv->kind == CAT_CV_CHAIN)
		return invalid(e, id, "|| is not allowed here");
	if (cv->kind != CAT_CV_SECRET)
		return invalid(e, id, "must provide a secret value");
	if (resolve(r, &cv->name, CAT_OBJ_SECRET, CONN_NONE, &it, e) < 0)
		return -1;
	v->form = CONN_VF_SECRET;
	v->id = it.id;
	return 0;
}

static int to_ref(enum conn_opt_id id, const struct cat_conn_value *cv,
		  const struct cat_conn_resolver *r, struct conn_value *v, struct err *e)
{
	struct cat_conn_item it;

	if (cv->kind == CAT_CV_CHAIN)
		return invalid(e, id, "|| is not allowed here");
	if (cv->kind == CAT_CV_NONE)
		return invalid(e, id, "must provide a connection name");
	if (cv->kind != CAT_CV_NAME && cv->kind != CAT_CV_PRIVATELINK)
		return invalid(e, id, "cannot use value as connection name");
	if (resolve(r, &cv->name, CAT_OBJ_CONNECTION, conn_opts[id].ref_type, &it, e) < 0)
		return -1;
	v->form = CONN_VF_REF;
	v->id = it.id;
	if (cv->port) {
		v->has_port = 1;
		if (parse_port(id, cv->port, &v->port, e) < 0)
			return -1;
	}
	return 0;
}

static int to_broker(const struct cat_conn_value *cv, const struct cat_conn_resolver *r,
		     struct conn_broker *b, struct err *e)
{
	struct cat_conn_item it;

	if (dup_text(cv->text, &b->addr, e) < 0)
		return -1;
	if (cv->tunnel == CAT_TUNNEL_NONE)
		return 0;
	if (resolve(r, &cv->name, CAT_OBJ_CONNECTION,
		    cv->tunnel == CAT_TUNNEL_SSH ? CONN_SSH_TUNNEL : CONN_AWS_PRIVATELINK, &it, e) < 0)
		return -1;
	b->tunnel = cv->tunnel == CAT_TUNNEL_SSH ? CONN_TUNNEL_SSH : CONN_TUNNEL_PRIVATELINK;
	b->tunnel_id = it.id;
	if (cv->az && dup_text(cv->az, &b->az, e) < 0)
		return -1;
	if (cv->port) {
		b->has_port = 1;
		if (parse_port(CONN_O_PORT, cv->port, &b->port, e) < 0)
			return -1;
	}
	return 0;
}

static int convert(enum conn_opt_id id, const struct cat_conn_value *cv,
		   const struct cat_conn_resolver *r, struct conn_value *v, struct err *e)
{
	const struct conn_opt_def *d = &conn_opts[id];

	memset(v, 0, sizeof(*v));
	switch (d->kind) {
	case CONN_K_TEXT:
		if (cv->kind == CAT_CV_CHAIN)
			return to_chain(id, cv, 0, r, v, e);
		return to_text(id, cv, v, e);
	case CONN_K_TEXT_OR_SECRET:
		if (cv->kind == CAT_CV_CHAIN)
			return to_chain(id, cv, 1, r, v, e);
		if (cv->kind == CAT_CV_SECRET)
			return to_secret(id, cv, r, v, e);
		return to_text(id, cv, v, e);
	case CONN_K_PORT:
	case CONN_K_I32:
		if (cv->kind == CAT_CV_CHAIN)
			return invalid(e, id, "|| is not allowed here");
		if (cv->kind == CAT_CV_NONE)
			return invalid(e, id, "must provide an integer value");
		if (cv->kind != CAT_CV_NUMBER)
			return invalid(e, id, "cannot use value as number");
		v->form = CONN_VF_INT;
		return d->kind == CONN_K_PORT ? parse_port(id, cv->text, &v->num, e) :
		       parse_int(id, cv->text, INT32_MIN, INT32_MAX, &v->num, e);
	case CONN_K_BOOL:
		if (cv->kind == CAT_CV_NONE) {
			v->form = CONN_VF_BOOL;
			v->num = 1;
			return 0;
		}
		if (cv->kind != CAT_CV_BOOL)
			return invalid(e, id, "cannot use value as boolean");
		v->form = CONN_VF_BOOL;
		v->num = cv->boolval;
		return 0;
	case CONN_K_SECRET:
		return to_secret(id, cv, r, v, e);
	case CONN_K_REF:
		return to_ref(id, cv, r, v, e);
	case CONN_K_TEXT_LIST:
		if (cv->kind == CAT_CV_CHAIN)
			return invalid(e, id, "|| is not allowed here");
		if (cv->kind != CAT_CV_LIST)
			return invalid(e, id, "cannot use value as array");
		v->form = CONN_VF_LIST;
		if (cv->nitems && !(v->list = calloc(cv->nitems, sizeof(char *))))
			return oom(e);
		v->nlist = cv->nitems;
		for (size_t i = 0; i < cv->nitems; i++) {
			const struct cat_conn_value *it = &cv->items[i];
			if (it->kind == CAT_CV_STRING) {
				if (dup_text(it->text, &v->list[i], e) < 0)
					return -1;
			} else if (it->kind == CAT_CV_NAME && it->name.nparts == 1) {
				if (dup_text(it->name.parts[0], &v->list[i], e) < 0)
					return -1;
			} else
				return invalid(e, id, "cannot use value in array");
		}
		return 0;
	case CONN_K_BROKER:
		if (cv->kind == CAT_CV_NONE)
			return invalid(e, id, "must provide a string value");
		if (cv->kind != CAT_CV_BROKER)
			return invalid(e, id, "cannot use value as string");
		v->form = CONN_VF_BROKERS;
		if (!(v->brokers = calloc(1, sizeof(*v->brokers))))
			return oom(e);
		v->nbrokers = 1;
		return to_broker(cv, r, &v->brokers[0], e);
	case CONN_K_BROKERS:
		if (cv->kind != CAT_CV_LIST)
			return invalid(e, id, "cannot use value as array");
		v->form = CONN_VF_BROKERS;
		if (cv->nitems && !(v->brokers = calloc(cv->nitems, sizeof(*v->brokers))))
			return oom(e);
		v->nbrokers = cv->nitems;
		for (size_t i = 0; i < cv->nitems; i++) {
			if (cv->items[i].kind != CAT_CV_BROKER)
				return invalid(e, id, "cannot use value in array");
			if (to_broker(&cv->items[i], r, &v->brokers[i], e) < 0)
				return -1;
		}
		return 0;
	}
	return invalid(e, id, "unsupported value");
}

/* ---- phases ---- */

static enum conn_opt_id opt_id(const struct cat_conn_option *o)
{
	return conn_opt_by_name(o->name);
}

/* `<OPT> specified more than once` (42601) within one list. */
static int check_duplicates(const struct cat_conn_option *opts, size_t n, struct err *e)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < i; k++)
			if (opt_id(&opts[i]) == opt_id(&opts[k]))
				return err_set(e, "42601", "%s specified more than once",
					       conn_opts[opt_id(&opts[i])].name);
	return 0;
}

/* `<TYPE> connections do not support <OPT>[, <OPT>] values` (22023). */
static int check_supported(const struct conn_type_def *t, const enum conn_opt_id *ids,
			   size_t n, struct err *e)
{
	char list[400];
	size_t off = 0;

	list[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int seen = 0;
		if (conn_type_opt(t, ids[i]))
			continue;
		for (size_t k = 0; k < i; k++)
			seen |= ids[k] == ids[i];
		if (!seen && off < sizeof(list))
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
						off ? ", " : "", conn_opts[ids[i]].name);
	}
	if (!list[0])
		return 0;
	return err_set(e, "22023", "%s connections do not support %s values", t->keyword, list);
}

/* Per-broker AVAILABILITY ZONE must be one of the PrivateLink's zones. */
static int check_broker_zones(const struct conn_optset *s, const struct cat_conn_resolver *r,
			      struct err *e)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct conn_value *v = &s->opts[i].v;
		for (size_t k = 0; k < v->nbrokers; k++) {
			const struct conn_broker *b = &v->brokers[k];
			struct conn_optset pl;
			const struct conn_opt *azs;
			int ok = 0, rc;

			if (b->tunnel != CONN_TUNNEL_PRIVATELINK || !b->az || !r->options)
				continue;
			rc = r->options(r->arg, b->tunnel_id, &pl, e);
			if (rc < 0)
				return -1;
			if (rc == 0)
				continue;
			azs = conn_optset_get(&pl, CONN_O_AVAILABILITY_ZONES);
			for (size_t z = 0; azs && z < azs->v.nlist; z++)
				ok |= !strcmp(azs->v.list[z], b->az);
			conn_optset_free(&pl);
			if (!ok) {
				struct cat_conn_item it;
				char q[QNAME_MAX] = "?";
				if (r->by_id(r->arg, b->tunnel_id, &it, e) == 1)
					cat_conn_item_qname(&it, q, sizeof(q));
				return err_set(e, "22023",
					       "AWS PrivateLink availability zone \"%s\" does not match any of the availability zones on the AWS PrivateLink connection \"%s\"",
					       b->az, q);
			}
		}
	}
	return 0;
}

int cat_conn_plan_check(struct cat_conn_plan *out, const struct cat_conn_resolver *r,
			const struct conn_settings *cfg, struct err *e)
{
	const struct conn_type_def *t = &conn_types[out->set.type];
	enum conn_opt_id ids[64];
	size_t n = out->set.n < 64 ? out->set.n : 64;
	long nd;

	for (size_t i = 0; i < n; i++)
		ids[i] = out->set.opts[i].id;
	if (check_supported(t, ids, n, e) < 0)
		return -1;
	out->notice[0] = '\0';
	if (t->check(&out->set, cfg, out->notice, sizeof(out->notice), e) < 0)
		return -1;
	if (check_broker_zones(&out->set, r, e) < 0)
		return -1;
	free(out->deps);
	out->deps = NULL;
	nd = conn_optset_refs(&out->set, &out->deps);
	if (nd < 0)
		return oom(e);
	out->ndeps = (size_t)nd;
	return 0;
}

/* Converts a list of written options and puts them into `set`. */
static int convert_all(const struct cat_conn_option *opts, size_t n,
		       const struct cat_conn_resolver *r, struct conn_optset *set, struct err *e)
{
	for (size_t i = 0; i < n; i++) {
		struct conn_value v;
		enum conn_opt_id id = opt_id(&opts[i]);

		if (id == CONN_O_NONE)
			return err_set(e, "XX000", "internal error: unknown option %s", opts[i].name);
		if (convert(id, &opts[i].value, r, &v, e) < 0) {
			conn_value_free(&v);
			return -1;
		}
		if (conn_optset_put(set, id, &v) < 0) {
			conn_value_free(&v);
			return oom(e);
		}
	}
	return 0;
}

int cat_conn_plan_create(const struct cat_conn_stmt *cs, const struct cat_conn_resolver *r,
			 const struct conn_settings *cfg, struct cat_conn_plan *out,
			 struct err *e)
{
	const struct conn_type_def *t = conn_type_by_keyword(cs->type_kw);

	memset(out, 0, sizeof(*out));
	if (!t)
		return err_set(e, "0A000", "connection type %s is not supported", cs->type_kw);
	out->set.type = t->type;
	if (check_duplicates(cs->opts, cs->nopts, e) < 0 ||
	    convert_all(cs->opts, cs->nopts, r, &out->set, e) < 0 ||
	    cat_conn_plan_check(out, r, cfg, e) < 0) {
		cat_conn_plan_free(out);
		return -1;
	}
	return 0;
}

int cat_conn_plan_alter(const struct conn_optset *current, const struct cat_conn_stmt *cs,
			const struct cat_conn_resolver *r, const struct conn_settings *cfg,
			struct cat_conn_plan *out, struct err *e)
{
	const struct conn_type_def *t = &conn_types[current->type];
	struct cat_conn_option *sets = NULL;
	enum conn_opt_id names[128] = { 0 }, resets[64] = { 0 };
	size_t nsets = 0, nnames = 0, nresets = 0;
	int touches_brokers = 0;

	memset(out, 0, sizeof(*out));
	/* 1. names against the type, and the fixed set */
	for (size_t a = 0; a < cs->nactions; a++)
		for (size_t i = 0; i < cs->actions[a].nopts && nnames < 128; i++)
			names[nnames++] = opt_id(&cs->actions[a].opts[i]);
	if (check_supported(t, names, nnames, e) < 0)
		return -1;
	for (size_t i = 0; i < nnames; i++) {
		const struct conn_type_opt *o = conn_type_opt(t, names[i]);
		if (o->flags & CONN_TF_FIXED)
			return err_set(e, "0A000", "cannot ALTER %s option %s", t->keyword,
				       conn_opts[names[i]].name);
	}
	/* 2. SET vs RESET/DROP */
	for (size_t a = 0; a < cs->nactions; a++) {
		const struct cat_conn_action *ac = &cs->actions[a];
		if (ac->kind == CAT_CA_RESET)
			for (size_t i = 0; i < ac->nopts && nresets < 64; i++)
				resets[nresets++] = opt_id(&ac->opts[i]);
		if (ac->kind == CAT_CA_SET)
			nsets += ac->nopts;
		if (ac->kind == CAT_CA_ROTATE_KEYS)
			return err_set(e, "XX000", "internal error: ROTATE KEYS is not an option change");
	}
	if (nsets) {
		size_t k = 0;
		if (!(sets = calloc(nsets, sizeof(*sets))))
			return oom(e);
		for (size_t a = 0; a < cs->nactions; a++)
			if (cs->actions[a].kind == CAT_CA_SET)
				for (size_t i = 0; i < cs->actions[a].nopts; i++)
					sets[k++] = cs->actions[a].opts[i];   /* shallow view */
	}
	{
		char both[256];
		size_t off = 0;
		int bset = 0, bsset = 0, breset = 0, bsreset = 0;
		both[0] = '\0';
		for (size_t i = 0; i < nsets; i++) {
			enum conn_opt_id id = opt_id(&sets[i]);
			bset |= id == CONN_O_BROKER;
			bsset |= id == CONN_O_BROKERS;
			for (size_t k = 0; k < nresets; k++)
				if (resets[k] == id && off < sizeof(both))
					off += (size_t)snprintf(both + off, sizeof(both) - off, "%s%s",
								off ? ", " : "", conn_opts[id].name);
		}
		for (size_t k = 0; k < nresets; k++) {
			breset |= resets[k] == CONN_O_BROKER;
			bsreset |= resets[k] == CONN_O_BROKERS;
		}
		if (both[0]) {
			free(sets);
			return err_set(e, "42601", "cannot both SET and DROP/RESET options %s", both);
		}
		if ((bset && bsreset) || (bsset && breset)) {
			free(sets);
			return err_set(e, "42601", "cannot both SET and DROP/RESET mutually exclusive %s options BROKER, BROKERS",
				       t->keyword);
		}
		touches_brokers = bset || bsset;
	}
	if (check_duplicates(sets, nsets, e) < 0) {
		free(sets);
		return -1;
	}
	/* 3. merge: current minus RESET, BROKER/BROKERS cleared together, SET
	 * values replace in place or append. */
	if (conn_optset_copy(&out->set, current) < 0) {
		free(sets);
		return oom(e);
	}
	for (size_t k = 0; k < nresets; k++)
		conn_optset_remove(&out->set, resets[k]);
	{
		/* Kafka: setting BROKER or BROKERS clears both [MZ]; the new one
		 * takes the old one's place in the written order. */
		size_t slot = (size_t)-1;
		if (touches_brokers) {
			for (size_t i = 0; i < out->set.n && slot == (size_t)-1; i++)
				if (out->set.opts[i].id == CONN_O_BROKER ||
				    out->set.opts[i].id == CONN_O_BROKERS)
					slot = i;
			conn_optset_remove(&out->set, CONN_O_BROKER);
			conn_optset_remove(&out->set, CONN_O_BROKERS);
		}
		if (convert_all(sets, nsets, r, &out->set, e) < 0) {
			free(sets);
			cat_conn_plan_free(out);
			return -1;
		}
		free(sets);
		if (slot != (size_t)-1) {
			for (size_t j = slot; j < out->set.n; j++) {
				if (out->set.opts[j].id != CONN_O_BROKER &&
				    out->set.opts[j].id != CONN_O_BROKERS)
					continue;
				struct conn_opt moved = out->set.opts[j];
				memmove(&out->set.opts[slot + 1], &out->set.opts[slot],
					(j - slot) * sizeof(moved));
				out->set.opts[slot] = moved;
				break;
			}
		}
	}
	/* 4. re-plan like a CREATE */
	if (cat_conn_plan_check(out, r, cfg, e) < 0) {
		cat_conn_plan_free(out);
		return -1;
	}
	return 0;
}

/* ---- rendering (SQL.md 8.6) ---- */

struct rbuf {
	char *s;
	size_t len, cap;
	int bad;
};

static void rput(struct rbuf *b, const char *s, size_t n)
{
	if (b->bad)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->s, cap);
		if (!p) {
			b->bad = 1;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void rputs(struct rbuf *b, const char *s)
{
	rput(b, s, strlen(s));
}

struct render {
	struct rbuf b;
	enum cat_render_mode mode;
	int redact;
	const struct cat_conn_resolver *r;
	struct err *e;
	int failed;
};

static void r_ident(struct render *x, const char *id)
{
	if (x->mode == CAT_RENDER_STORED) {
		/* Every identifier double-quoted, "" doubled (SQL.md 8.6). */
		rputs(&x->b, "\"");
		for (const char *p = id; *p; p++)
			rputs(&x->b, *p == '"' ? "\"\"" : (char[]){ *p, 0 });
		rputs(&x->b, "\"");
	} else {
		char q[2 * CAT_IDENT_MAX + 3];
		cat_quote_ident(id, q, sizeof(q));
		rputs(&x->b, q);
	}
}

static void r_item_name(struct render *x, const struct cat_conn_item *it)
{
	if (it->database[0]) {
		r_ident(x, it->database);
		rputs(&x->b, ".");
	}
	r_ident(x, it->schema);
	rputs(&x->b, ".");
	r_ident(x, it->name);
}

static void r_ref(struct render *x, uint64_t id)
{
	struct cat_conn_item it;
	int rc;

	if (x->failed)
		return;
	rc = x->r->by_id(x->r->arg, id, &it, x->e);
	if (rc <= 0) {
		if (rc == 0)
			err_set(x->e, "XX000", "internal error: catalog: referenced item u%" PRIu64 " is missing", id);
		x->failed = 1;
		return;
	}
	r_item_name(x, &it);
}

static void r_string(struct render *x, const char *s)
{
	if (x->redact) {
		rputs(&x->b, "'<REDACTED>'");
		return;
	}
	rputs(&x->b, "'");
	for (const char *p = s; *p; p++) {
		if (*p == '\'')
			rputs(&x->b, "''");
		else
			rput(&x->b, p, 1);
	}
	rputs(&x->b, "'");
}

static void r_number(struct render *x, int64_t v)
{
	char n[32];

	if (x->redact) {
		rputs(&x->b, "'<REDACTED>'");
		return;
	}
	snprintf(n, sizeof(n), "%" PRId64, v);
	rputs(&x->b, n);
}

static void r_broker(struct render *x, const struct conn_broker *k)
{
	r_string(x, k->addr);
	if (k->tunnel == CONN_TUNNEL_SSH) {
		rputs(&x->b, " USING SSH TUNNEL ");
		r_ref(x, k->tunnel_id);
	} else if (k->tunnel == CONN_TUNNEL_PRIVATELINK) {
		rputs(&x->b, " USING AWS PRIVATELINK ");
		r_ref(x, k->tunnel_id);
		if (k->az || k->has_port) {
			rputs(&x->b, " (");
			if (k->az) {
				rputs(&x->b, "AVAILABILITY ZONE = ");
				r_string(x, k->az);
			}
			if (k->has_port) {
				rputs(&x->b, k->az ? ", PORT = " : "PORT = ");
				r_number(x, k->port);
			}
			rputs(&x->b, ")");
		}
	}
}

static void r_value(struct render *x, enum conn_opt_id id, const struct conn_value *v)
{
	switch (v->form) {
	case CONN_VF_TEXT:
		r_string(x, v->text);
		break;
	case CONN_VF_IDENT:
		r_ident(x, v->text);
		break;
	case CONN_VF_INT:
		r_number(x, v->num);
		break;
	case CONN_VF_BOOL:
		rputs(&x->b, v->num ? "TRUE" : "FALSE");
		break;
	case CONN_VF_SECRET:
		rputs(&x->b, "SECRET ");
		r_ref(x, v->id);
		break;
	case CONN_VF_REF:
		r_ref(x, v->id);
		if (v->has_port) {
			rputs(&x->b, " (PORT = ");
			r_number(x, v->port);
			rputs(&x->b, ")");
		}
		break;
	case CONN_VF_CHAIN:
		for (size_t i = 0; i < v->nparts; i++) {
			if (i)
				rputs(&x->b, " || ");
			if (v->parts[i].is_secret) {
				rputs(&x->b, "SECRET ");
				r_ref(x, v->parts[i].id);
			} else
				r_string(x, v->parts[i].text);
		}
		break;
	case CONN_VF_LIST:
		rputs(&x->b, "(");
		for (size_t i = 0; i < v->nlist; i++) {
			if (i)
				rputs(&x->b, ", ");
			r_string(x, v->list[i]);
		}
		rputs(&x->b, ")");
		break;
	case CONN_VF_BROKERS:
		if (id == CONN_O_BROKER && v->nbrokers == 1) {
			r_broker(x, &v->brokers[0]);
			break;
		}
		rputs(&x->b, "(");
		for (size_t i = 0; i < v->nbrokers; i++) {
			if (i)
				rputs(&x->b, ", ");
			r_broker(x, &v->brokers[i]);
		}
		rputs(&x->b, ")");
		break;
	}
}

char *cat_conn_render(const struct conn_optset *set, const struct cat_conn_item *self,
		      enum cat_render_mode mode, int redact,
		      const struct cat_conn_resolver *r, struct err *e)
{
	struct render x = { { 0 }, mode, redact, r, e, 0 };

	rputs(&x.b, "CREATE CONNECTION ");
	r_item_name(&x, self);
	rputs(&x.b, " TO ");
	rputs(&x.b, conn_types[set->type].keyword);
	rputs(&x.b, " (");
	for (size_t i = 0; i < set->n; i++) {
		if (i)
			rputs(&x.b, ", ");
		rputs(&x.b, conn_opts[set->opts[i].id].name);
		rputs(&x.b, " = ");
		r_value(&x, set->opts[i].id, &set->opts[i].v);
	}
	rputs(&x.b, ")");
	if (mode == CAT_RENDER_SHOW)
		rputs(&x.b, ";");
	if (x.failed || x.b.bad) {
		if (!x.failed)
			oom(e);
		free(x.b.s);
		return NULL;
	}
	return x.b.s;
}
