/* Connection statements (SQL.md 3, 9): CREATE / ALTER CONNECTION (one
 * SQLite transaction each: item, options, dependency edges, create_sql),
 * RENAME of secrets and connections (dependents' create_sql re-rendered
 * with the new name), VALIDATE CONNECTION (a validation job, jobs.c; CREATE
 * and ALTER that validate commit only once it succeeded),
 * SHOW [REDACTED] CREATE CONNECTION and COMMENT ON. A failed statement
 * changes nothing: every check runs before the transaction opens. */
#include "ddl_conn.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "plan_conn.h"
#include "rbac.h"
#include "jobs.h"
#include "store_conn.h"
#include "sysvars.h"

#define QNAME_MAX (3 * (CAT_IDENT_MAX + 1))
#define COMMENT_MAX 1024

static int oom(struct exec_run *r)
{
	return err_set(r->e, "53200", "out of memory");
}

static void written(const struct cat_name *n, char *buf, size_t size);

static int complete(struct exec_run *r, const char *tag)
{
	/* Every committed CREATE / ALTER CONNECTION ends here: audit it
	 * (names only; option values stay in the catalog, secrets are ids). */
	if (strcmp(tag, "VALIDATE CONNECTION") != 0 && strcmp(tag, "SHOW CREATE CONNECTION") != 0) {
		char name[256] = "";
		const struct cat_stmt *st = r->s->stmts && r->s->next < r->s->nstmts ?
					    &r->s->stmts[r->s->next] : NULL;

		if (st)
			written(&st->name, name, sizeof(name));
		if (r->ctx->vault->state == CAT_VAULT_DOWN ||
		    cat_vault_audit(r->ctx->vault, strcmp(tag, "CREATE CONNECTION") == 0 ?
				    "connection_created" : "connection_altered",
				    r->s->role.name, name, tag) < 0)
			log_warn("audit_not_sent", "event=connection_ddl reason=vault_unavailable");
	}
	return pgw_command_complete(r->out, tag) < 0 ? oom(r) : CAT_RUN_DONE;
}

static void written(const struct cat_name *n, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < n->nparts && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? "." : "", n->parts[i]);
}

static void self_item(const struct cat_schema *sc, const char *name, uint64_t id,
		      int type, struct cat_conn_item *it)
{
	memset(it, 0, sizeof(*it));
	it->id = id;
	it->kind = CAT_OBJ_CONNECTION;
	it->conn_type = type;
	snprintf(it->database, sizeof(it->database), "%s", sc->is_system ? "" : sc->database);
	snprintf(it->schema, sizeof(it->schema), "%s", sc->name);
	snprintf(it->name, sizeof(it->name), "%s", name);
}

/* ---- resolver over the store and the session's names ---- */

static int res_lookup(void *arg, const struct cat_name *n, struct cat_conn_item *out,
		      struct err *e)
{
	struct exec_run *r = arg;
	struct cat_item it;
	struct cat_schema sc;
	int rc = cat_ddl_lookup_item(r, n, &it, &sc);

	if (rc <= 0)
		return rc;
	return cat_store_conn_item(r->ctx->store, it.id, out, e);
}

static int res_by_id(void *arg, uint64_t id, struct cat_conn_item *out, struct err *e)
{
	struct exec_run *r = arg;
	return cat_store_conn_item(r->ctx->store, id, out, e);
}

static int res_options(void *arg, uint64_t id, struct conn_optset *out, struct err *e)
{
	struct exec_run *r = arg;
	return cat_store_conn_load(r->ctx->store, id, out, e);
}

/* PRIV: USAGE on each referenced secret / connection (and its schema). */
static int res_use(void *arg, const struct cat_conn_item *ci, struct err *e)
{
	struct exec_run *r = arg;
	struct cat_item it;
	int rc = cat_store_find_item_by_id(r->ctx->store, ci->id, &it, e);

	if (rc <= 0)
		return rc < 0 ? -1 : err_set(e, "42704", "unknown catalog item '%s'", ci->name);
	return cat_rbac_require_item(r->ctx, r->s, CAT_PRIV_USAGE, &it, e);
}

/* Only as much db.schema. as the session needs (SQL.md 7). */
static void res_display(void *arg, const struct cat_conn_item *it, char *buf, size_t size)
{
	struct exec_run *r = arg;
	char path[1][CAT_IDENT_MAX + 1];
	const char *db = cat_setting_get(r->s, "database");
	int same_db = !it->database[0] || (db && !strcmp(db, it->database));

	if (same_db && cat_search_path(r->s, path, 1) && !strcmp(path[0], it->schema))
		snprintf(buf, size, "%s", it->name);
	else if (same_db)
		snprintf(buf, size, "%s.%s", it->schema, it->name);
	else
		cat_conn_item_qname(it, buf, size);
}

void cat_ddl_display_name(struct exec_run *r, uint64_t id, char *buf, size_t size)
{
	struct cat_conn_item it;
	struct err e;

	if (cat_store_conn_item(r->ctx->store, id, &it, &e) == 1)
		res_display(r, &it, buf, size);
	else
		snprintf(buf, size, "u%" PRIu64, id);
}

static void resolver(struct exec_run *r, struct cat_conn_resolver *res)
{
	res->display = res_display;
	res->arg = r;
	res->lookup = res_lookup;
	res->by_id = res_by_id;
	res->options = res_options;
	res->use = res_use;
}

/* ---- helpers ---- */

static const char *session_db(struct exec_run *r)
{
	return cat_setting_get(r->s, "database");
}

/* The schema a CREATE puts a new item into (SQL.md 2). */
static int schema_for_create(struct exec_run *r, const struct cat_name *n,
			     struct cat_schema *sc)
{
	if (n->nparts == 1) {
		char path[8][CAT_IDENT_MAX + 1];
		size_t npath = cat_search_path(r->s, path, 8);
		int found = 0;

		for (size_t i = 0; i < npath && !found; i++) {
			int rc = cat_store_find_schema(r->ctx->store, session_db(r), path[i], sc,
						       r->e);
			if (rc < 0)
				return EXEC_ERROR;
			found = rc;
		}
		if (!found)
			return err_set(r->e, "3F000", "no schema has been selected to create in");
	} else {
		struct cat_name sn = { .nparts = n->nparts - 1 };
		for (int i = 0; i < n->nparts - 1; i++)
			memcpy(sn.parts[i], n->parts[i], sizeof(sn.parts[i]));
		if (cat_ddl_resolve_schema(r, &sn, sc) < 0)
			return EXEC_ERROR;
	}
	if (sc->is_system)
		return err_set(r->e, "42501", "system schema '%s' cannot be modified", sc->name);
	return 0;
}

/* Validation is the validator issue's; until then a statement that would
 * validate fails rather than succeed silently (issue 4, item 3). */
static int validation_unsupported(struct exec_run *r, const struct conn_type_def *t, int hint)
{
	err_set(r->e, "0A000", "validation of %s connections is not supported yet", t->keyword);
	if (hint)
		err_hint(r->e, "use WITH (VALIDATE = false)");
	return EXEC_ERROR;
}

static int wants_validation(const struct cat_conn_stmt *cs, const struct conn_type_def *t)
{
	return cs->has_validate ? cs->validate : t->validates_by_default;
}

/* Renders and stores create_sql / redacted_create_sql of connection id. */
static int rerender(struct exec_run *r, const struct cat_conn_resolver *res, uint64_t id)
{
	struct conn_optset set;
	struct cat_conn_item self;
	char *sql = NULL, *red = NULL;
	int rc = cat_store_conn_load(r->ctx->store, id, &set, r->e);

	if (rc <= 0)
		return rc;     /* not a connection: nothing to render */
	if (cat_store_conn_item(r->ctx->store, id, &self, r->e) != 1 ||
	    !(sql = cat_conn_render(&set, &self, CAT_RENDER_STORED, 0, res, r->e)) ||
	    !(red = cat_conn_render(&set, &self, CAT_RENDER_STORED, 1, res, r->e)) ||
	    cat_store_conn_set_sql(r->ctx->store, id, sql, red, r->e) < 0)
		rc = EXEC_ERROR;
	free(sql);
	free(red);
	conn_optset_free(&set);
	if (rc < 0 && !err_is_set(r->e))
		err_set(r->e, "XX000", "internal error: catalog: cannot render u%" PRIu64, id);
	return rc < 0 ? EXEC_ERROR : 0;
}

/* Writes a planned set for connection `self` (inside a transaction). */
static int write_plan(struct exec_run *r, const struct cat_conn_resolver *res,
		      const struct cat_conn_plan *plan, const struct cat_conn_item *self,
		      const struct cat_conn_cfg *cfg)
{
	char *sql = cat_conn_render(&plan->set, self, CAT_RENDER_STORED, 0, res, r->e);
	char *red = sql ? cat_conn_render(&plan->set, self, CAT_RENDER_STORED, 1, res, r->e) : NULL;
	int rc = -1;

	if (sql && red)
		rc = cat_store_conn_write(r->ctx->store, self->id, &plan->set, plan->deps,
					  plan->ndeps, cfg, sql, red, r->e);
	free(sql);
	free(red);
	return rc;
}

/* An existing item for ALTER / VALIDATE / SHOW / COMMENT: 1 found, 0
 * missing with IF EXISTS (notice sent), -1. */
static int find_target(struct exec_run *r, const struct cat_stmt *st, const char *kind_word,
		       struct cat_item *it, struct cat_schema *sc, char *q, size_t qsize)
{
	char w[QNAME_MAX];
	int rc = cat_ddl_lookup_item(r, &st->name, it, sc);

	if (rc < 0)
		return EXEC_ERROR;
	written(&st->name, w, sizeof(w));
	if (rc == 0) {
		if (!st->if_exists)
			return err_set(r->e, "42704", "unknown catalog item '%s'", w);
		if (cat_exec_notice(r, "00000", "%s \"%s\" does not exist, skipping", kind_word, w) < 0)
			return EXEC_ERROR;
		return 0;
	}
	cat_ddl_qualify(sc, it->name, q, qsize);
	return 1;
}

static int check_kind(struct exec_run *r, const struct cat_item *it,
		      enum cat_object_kind want, const char *q)
{
	if (it->kind == want)
		return 0;
	return err_set(r->e, "42809", "%s is a %s not a %s", q, cat_kind_name(it->kind),
		       cat_kind_name(want));
}

/* ---- SSH TUNNEL keys: the statement parks on the vault ---- */

/* A CREATE CONNECTION ... TO SSH TUNNEL (or ROTATE KEYS) waiting for the
 * vault's SshPublicKeys; committed only once the keys are durable there,
 * like CREATE SECRET. */
struct conn_pending {
	int rotate;
	int op;                         /* CP_*: what a validation job's success commits */
	int validate;                   /* SSH TUNNEL CREATE: validate once the keys exist */
	struct cat_vault_ssh_keys keys; /* ... with these keys */
	struct cat_conn_plan plan;
	struct cat_conn_cfg cfg;
	struct cat_schema sc;
	struct cat_conn_item self;
	char qname[QNAME_MAX];
};

void cat_ddl_conn_pending_free(void *p)
{
	struct conn_pending *cp = p;

	if (!cp)
		return;
	cat_conn_plan_free(&cp->plan);
	free(cp);
}

/* A pending CREATE or ALTER that commits `plan` (taken over) as planned
 * with `cfg`; NULL if out of memory, the plan then still the caller's. */
static struct conn_pending *pending_with_plan(const struct cat_conn_plan *plan,
					      const struct cat_conn_cfg *cfg,
					      const struct cat_schema *sc,
					      const struct cat_conn_item *self, const char *q)
{
	struct conn_pending *cp = calloc(1, sizeof(*cp));

	if (!cp)
		return NULL;
	cp->plan = *plan;
	cp->cfg = *cfg;
	/* cfg.s points into cfg: re-point the copy */
	cp->cfg.s.instance_id = cp->cfg.instance_id;
	cp->cfg.s.region = cp->cfg.region;
	cp->sc = *sc;
	cp->self = *self;
	snprintf(cp->qname, sizeof(cp->qname), "%s", q);
	return cp;
}

static int vault_error(struct exec_run *r, const Tether__Reply *reply)
{
	if (reply && reply->message && *reply->message) {
		err_set(r->e, reply->sqlstate && *reply->sqlstate ? reply->sqlstate : "XX000",
			"%s", reply->message);
		if (reply->detail && *reply->detail)
			err_detail(r->e, "%s", reply->detail);
		if (reply->hint && *reply->hint)
			err_hint(r->e, "%s", reply->hint);
		return EXEC_ERROR;
	}
	err_set(r->e, "XX000", "internal error: vault: connection lost; the statement was not applied");
	err_hint(r->e, "retry in a moment");
	return EXEC_ERROR;
}

/* 0 go on, PARKED (reconciling: the statement re-runs), or -1. */
static int vault_gate(struct exec_run *r)
{
	switch (r->ctx->vault->state) {
	case CAT_VAULT_DOWN:
		err_set(r->e, "XX000", "internal error: vault: unavailable (restarting)");
		err_hint(r->e, "retry in a moment");
		return EXEC_ERROR;
	case CAT_VAULT_RECONCILING:
		r->s->pending.kind = CAT_PEND_READY;
		return CAT_RUN_PARKED;
	case CAT_VAULT_READY:
		break;
	}
	return 0;
}

static int park(struct exec_run *r, struct conn_pending *cp, uint64_t rid)
{
	r->s->pending.kind = CAT_PEND_CONN;
	r->s->pending.request_id = rid;
	r->s->pending.id = cp->self.id;
	r->s->pending.conn = cp;
	return CAT_RUN_PARKED;
}

static int finish_ssh(struct exec_run *r, struct conn_pending *cp,
		      const struct cat_vault_ssh_keys *keys)
{
	struct cat_ctx *ctx = r->ctx;
	struct cat_conn_resolver res;
	struct cat_item it;
	int rc;

	resolver(r, &res);
	res.use = NULL;   /* checked before parking */
	if (cat_store_begin(ctx->store, r->e) < 0)
		return EXEC_ERROR;
	if (!cp->rotate) {
		/* Another session may have taken the name meanwhile. */
		rc = cat_store_find_item(ctx->store, cp->sc.id, cp->self.name, &it, r->e);
		if (rc == 1)
			err_set(r->e, "42710", "%s \"%s\" already exists", cat_kind_name(it.kind),
				cp->qname);
		if (rc != 0 ||
		    cat_store_conn_insert_item(ctx->store, cp->self.id, cp->sc.id, cp->self.name,
					       r->s->role.id, CONN_SSH_TUNNEL, r->e) < 0 ||
		    write_plan(r, &res, &cp->plan, &cp->self, &cp->cfg) < 0)
			goto fail;
	} else if (cat_store_conn_item(ctx->store, cp->self.id, &cp->self, r->e) != 1) {
		if (!err_is_set(r->e))
			err_set(r->e, "42704", "unknown catalog item '%s'", cp->qname);
		goto fail;
	}
	if (cat_store_conn_set_keys(ctx->store, cp->self.id, keys->public_key_1,
				    keys->public_key_2, r->e) < 0 ||
	    cat_store_commit(ctx->store, r->e) < 0)
		goto fail;
	log_info(cp->rotate ? "ssh_keys_rotated" : "connection_created",
		 "id=u%" PRIu64 " type=ssh-tunnel role=%s", cp->self.id, r->s->role.name);
	if (cp->plan.notice[0] && cat_exec_notice(r, "00000", "%s", cp->plan.notice) < 0)
		return EXEC_ERROR;
	return complete(r, cp->rotate ? "ALTER CONNECTION" : "CREATE CONNECTION");
fail:
	cat_store_rollback(ctx->store);
	/* Not committed: the new keys have no owner (reconciliation would
	 * shred them too). A failed rotation leaves the vault ahead of the
	 * catalog; the next start repairs the row from the vault. */
	if (!cp->rotate)
		cat_vault_delete_ssh_keys(ctx->vault, cp->self.id, cp->qname, r->s->role.name, NULL);
	return EXEC_ERROR;
}

/* ---- validation jobs (jobs.c): the statement parks until the result ---- */

enum { CP_SSH_KEYS, CP_CREATE, CP_ALTER, CP_VALIDATE, CP_SSH_CREATE };

/* Session setting in milliseconds (settings.c checks the text). */
static uint32_t setting_ms(struct exec_run *r, const char *name, uint32_t def)
{
	const char *v = cat_setting_get(r->s, name);
	long long n = v ? atoll(v) : 0;

	return n > 0 && n <= 600000 ? (uint32_t)n : def;
}

/* Builds the job from `set` and parks the session on it; cp belongs to
 * the session's pending state from here on, whatever happens. */
static int start_job(struct exec_run *r, struct conn_pending *cp, int op,
		     const struct conn_optset *set, const char *const *self_keys)
{
	struct cat_jobspec js;
	uint64_t job_id;

	cp->op = op;
	r->s->pending.kind = CAT_PEND_JOB;
	r->s->pending.id = cp->self.id;
	r->s->pending.conn = cp;
	if (!r->ctx->jobs) {
		err_set(r->e, "XX000", "internal error: catalog: validation jobs unavailable");
		goto fail;
	}
	job_id = cat_jobs_next_id(r->ctx->jobs);
	r->s->pending.request_id = job_id;
	if (cat_jobspec_build(r->ctx->store, job_id, cp->self.id, (enum conn_type)cp->self.conn_type,
			      set, self_keys,
			      setting_ms(r, "validation_connect_timeout",
					 CAT_JOB_CONNECT_TIMEOUT_DEFAULT_MS),
			      setting_ms(r, "validation_timeout", CAT_JOB_DEADLINE_DEFAULT_MS),
			      &js, r->e) < 0)
		goto fail;
	if (cat_jobs_start(r->ctx->jobs, &js, cp->qname, r->e) < 0) {
		cat_jobspec_free(&js);
		goto fail;
	}
	return CAT_RUN_PARKED;
fail:
	/* Nothing was started: the statement fails here, unparked (a
	 * CREATE ... TO SSH TUNNEL's fresh keys go at reconciliation). */
	cat_ddl_pending_clear(r->s);
	return EXEC_ERROR;
}

/* The first successful validation through a tunnel pins the bastion's
 * host key (inside the caller's transaction). */
static int pin_host_key(struct exec_run *r, const struct cat_job_result *res)
{
	if (!res->tunnel_id || !res->host_key[0] || !strcmp(res->pinned, res->host_key))
		return 0;
	if (cat_hostkey_pin(r->ctx->store, res->tunnel_id, res->tunnel_hostport, res->host_key,
			    r->e) < 0)
		return -1;
	log_info("ssh_host_key_pinned", "id=u%" PRIu64 " host=%s key=%s", res->tunnel_id,
		 res->tunnel_hostport, res->host_key);
	return 0;
}

static int commit_created(struct exec_run *r, struct conn_pending *cp,
			  const struct cat_job_result *res)
{
	struct cat_ctx *ctx = r->ctx;
	struct cat_conn_resolver rs;
	struct cat_item it;
	int rc;

	resolver(r, &rs);
	rs.use = NULL;   /* checked before parking */
	if (cat_store_begin(ctx->store, r->e) < 0)
		return EXEC_ERROR;
	/* Another session may have taken the name while the job ran. */
	rc = cat_store_find_item(ctx->store, cp->sc.id, cp->self.name, &it, r->e);
	if (rc == 1)
		err_set(r->e, "42710", "%s \"%s\" already exists", cat_kind_name(it.kind), cp->qname);
	if (rc != 0 ||
	    cat_store_conn_insert_item(ctx->store, cp->self.id, cp->sc.id, cp->self.name,
				       r->s->role.id, (enum conn_type)cp->self.conn_type, r->e) < 0 ||
	    write_plan(r, &rs, &cp->plan, &cp->self, &cp->cfg) < 0 || pin_host_key(r, res) < 0 ||
	    cat_store_commit(ctx->store, r->e) < 0) {
		cat_store_rollback(ctx->store);
		return EXEC_ERROR;
	}
	log_info("connection_created", "id=u%" PRIu64 " type=%s role=%s validated=1", cp->self.id,
		 conn_types[cp->self.conn_type].catalog_name, r->s->role.name);
	if (cp->plan.notice[0] && cat_exec_notice(r, "00000", "%s", cp->plan.notice) < 0)
		return EXEC_ERROR;
	return complete(r, "CREATE CONNECTION");
}

static int commit_altered(struct exec_run *r, struct conn_pending *cp,
			  const struct cat_job_result *res)
{
	struct cat_ctx *ctx = r->ctx;
	struct cat_conn_resolver rs;
	struct cat_conn_item now;

	resolver(r, &rs);
	rs.use = NULL;
	if (cat_store_begin(ctx->store, r->e) < 0)
		return EXEC_ERROR;
	/* Dropped while the job ran: nothing to alter. */
	if (cat_store_conn_item(ctx->store, cp->self.id, &now, r->e) != 1) {
		if (!err_is_set(r->e))
			err_set(r->e, "42704", "unknown catalog item '%s'", cp->qname);
		cat_store_rollback(ctx->store);
		return EXEC_ERROR;
	}
	if (write_plan(r, &rs, &cp->plan, &now, &cp->cfg) < 0 || pin_host_key(r, res) < 0 ||
	    cat_store_commit(ctx->store, r->e) < 0) {
		cat_store_rollback(ctx->store);
		return EXEC_ERROR;
	}
	log_info("connection_altered", "id=u%" PRIu64 " role=%s validated=1", cp->self.id,
		 r->s->role.name);
	if (cp->plan.notice[0] && cat_exec_notice(r, "00000", "%s", cp->plan.notice) < 0)
		return EXEC_ERROR;
	return complete(r, "ALTER CONNECTION");
}

int cat_ddl_conn_job_done(struct exec_run *r, const struct cat_job_result *res)
{
	struct conn_pending *cp = r->s->pending.conn;
	int rc;

	if (!cp)
		return err_set(r->e, "XX000", "internal error: catalog: lost parked statement");
	if (!res->ok) {
		*r->e = res->e;
		/* A CREATE ... TO SSH TUNNEL that failed its validation leaves
		 * keys nobody owns: shred them now (reconciliation would). */
		if (cp->op == CP_SSH_CREATE && r->ctx->vault->state == CAT_VAULT_READY)
			cat_vault_delete_ssh_keys(r->ctx->vault, cp->self.id, cp->qname,
						  r->s->role.name, NULL);
		return EXEC_ERROR;
	}
	switch (cp->op) {
	case CP_CREATE:
		return commit_created(r, cp, res);
	case CP_ALTER:
		return commit_altered(r, cp, res);
	case CP_SSH_CREATE:
		rc = finish_ssh(r, cp, &cp->keys);
		if (rc >= 0 && pin_host_key(r, res) < 0)
			log_warn("ssh_host_key_not_pinned", "id=u%" PRIu64, cp->self.id);
		return rc;
	default:        /* CP_VALIDATE */
		if (cat_store_begin(r->ctx->store, r->e) < 0)
			return EXEC_ERROR;
		if (pin_host_key(r, res) < 0 || cat_store_commit(r->ctx->store, r->e) < 0) {
			cat_store_rollback(r->ctx->store);
			return EXEC_ERROR;
		}
		return complete(r, "VALIDATE CONNECTION");
	}
}

int cat_ddl_conn_vault_reply(struct exec_run *r, uint64_t request_id,
			     const Tether__Reply *reply)
{
	struct conn_pending *cp = r->s->pending.conn;
	struct cat_vault_ssh_keys keys;

	if (!cp)
		return err_set(r->e, "XX000", "internal error: catalog: lost parked statement");
	if (!reply->ok)
		return vault_error(r, reply);
	if (cat_vault_take_ssh_keys(r->ctx->vault, request_id, &keys) != 1)
		return err_set(r->e, "XX000", "internal error: vault: no SSH public keys in the answer");
	if (cp->validate && !cp->rotate) {
		/* WITH (VALIDATE = true): validate with the new keys first,
		 * commit after (cat_ddl_conn_job_done); parks again. */
		const char *self_keys[2] = { keys.public_key_1, keys.public_key_2 };

		cp->keys = keys;
		return start_job(r, cp, CP_SSH_CREATE, &cp->plan.set, self_keys);
	}
	return finish_ssh(r, cp, &keys);
}


/* ---- CREATE CONNECTION ---- */

int cat_ddl_create_connection(struct exec_run *r, struct cat_stmt *st)
{
	struct cat_ctx *ctx = r->ctx;
	const struct cat_conn_stmt *cs = st->conn;
	struct cat_conn_resolver res;
	struct cat_conn_cfg cfg;
	struct cat_conn_plan plan;
	struct cat_conn_item self;
	struct cat_schema sc;
	struct cat_item it;
	const struct conn_type_def *t = conn_type_by_keyword(cs->type_kw);
	const char *name = st->name.parts[st->name.nparts - 1];
	char q[QNAME_MAX];
	char kind[64];
	long count;
	int rc;

	if (!t)
		return err_set(r->e, "0A000", "connection type %s is not supported", cs->type_kw);
	if (t->type == CONN_SSH_TUNNEL && (rc = vault_gate(r)) != 0)
		return rc;
	if (schema_for_create(r, &st->name, &sc) < 0)
		return EXEC_ERROR;
	rc = cat_store_find_item(ctx->store, sc.id, name, &it, r->e);
	if (rc < 0)
		return EXEC_ERROR;
	cat_ddl_qualify(&sc, name, q, sizeof(q));
	if (rc == 1) {
		/* Secrets and connections share a namespace (SQL.md 2). */
		if (cat_ddl_item_exists(r, &it, q, st->if_not_exists) < 0)
			return EXEC_ERROR;
		return complete(r, "CREATE CONNECTION");
	}
	/* PRIV: CREATE on the schema; USAGE on each referenced object (res_use). */
	if (cat_rbac_require_schema(ctx, r->s, CAT_PRIV_CREATE, &sc, r->e) < 0)
		return EXEC_ERROR;
	if (cat_conn_cfg_load(ctx->store, &cfg, r->e) < 0)
		return EXEC_ERROR;
	resolver(r, &res);
	if (cat_conn_plan_create(cs, &res, &cfg.s, &plan, r->e) < 0)
		return EXEC_ERROR;
	int validate = wants_validation(cs, t);
	if (validate && !cat_jobspec_type_validates(t->type)) {
		cat_conn_plan_free(&plan);
		return validation_unsupported(r, t, 1);
	}
	/* Limits (SQL.md 9.6). */
	count = cat_store_conn_count(ctx->store, t->catalog_name, r->e);
	snprintf(kind, sizeof(kind), "%s connection", t->keyword);
	if (count < 0 || cat_ns_check_object_limit(r, &sc, "connection") < 0 ||
	    cat_limit_check(r, kind, t->limit_var, count) < 0) {
		cat_conn_plan_free(&plan);
		return EXEC_ERROR;
	}

	uint64_t id = ctx->next_id++;
	self_item(&sc, name, id, t->type, &self);
	if (t->type == CONN_SSH_TUNNEL) {
		/* Two Ed25519 key pairs from the vault first; the row commits when
		 * they are durable there (cat_ddl_conn_vault_reply). */
		struct conn_pending *cp = pending_with_plan(&plan, &cfg, &sc, &self, q);
		uint64_t rid;

		if (!cp) {
			cat_conn_plan_free(&plan);
			return oom(r);
		}
		cp->validate = validate;
		if (cat_vault_generate_ssh_keys(ctx->vault, id, q, r->s->role.name, &rid) < 0) {
			cat_ddl_conn_pending_free(cp);
			return vault_error(r, NULL);
		}
		return park(r, cp, rid);
	}
	if (validate) {
		/* Commit once the job succeeded (commit_created). */
		struct conn_pending *cp = pending_with_plan(&plan, &cfg, &sc, &self, q);

		if (!cp) {
			cat_conn_plan_free(&plan);
			return oom(r);
		}
		return start_job(r, cp, CP_CREATE, &cp->plan.set, NULL);
	}
	if (cat_store_begin(ctx->store, r->e) < 0) {
		cat_conn_plan_free(&plan);
		return EXEC_ERROR;
	}
	if (cat_store_conn_insert_item(ctx->store, id, sc.id, name, r->s->role.id, t->type,
				       r->e) < 0 ||
	    write_plan(r, &res, &plan, &self, &cfg) < 0) {
		cat_store_rollback(ctx->store);
		cat_conn_plan_free(&plan);
		return EXEC_ERROR;
	}
	if (cat_store_commit(ctx->store, r->e) < 0) {
		cat_conn_plan_free(&plan);
		return EXEC_ERROR;
	}
	log_info("connection_created", "id=u%" PRIu64 " type=%s role=%s", id, t->catalog_name,
		 r->s->role.name);
	if (plan.notice[0] && cat_exec_notice(r, "00000", "%s", plan.notice) < 0) {
		cat_conn_plan_free(&plan);
		return EXEC_ERROR;
	}
	cat_conn_plan_free(&plan);
	return complete(r, "CREATE CONNECTION");
}

/* ---- RENAME (secrets and connections) ---- */

int cat_ddl_rename_item(struct exec_run *r, struct cat_stmt *st)
{
	struct cat_ctx *ctx = r->ctx;
	enum cat_object_kind want = st->kind == CAT_STMT_ALTER_CONNECTION ? CAT_OBJ_CONNECTION :
				    CAT_OBJ_SECRET;
	const char *tag = want == CAT_OBJ_CONNECTION ? "ALTER CONNECTION" : "ALTER SECRET";
	struct cat_conn_resolver res;
	struct cat_schema sc;
	struct cat_item it, other;
	char q[QNAME_MAX];
	uint64_t *deps = NULL;
	long ndeps;
	int rc = find_target(r, st, cat_kind_name(want), &it, &sc, q, sizeof(q));

	if (rc <= 0)
		return rc < 0 ? EXEC_ERROR : complete(r, tag);
	/* PRIV: ownership */
	if (check_kind(r, &it, want, q) < 0 || cat_rbac_require_owner(ctx, r->s, &it, r->e) < 0)
		return EXEC_ERROR;
	resolver(r, &res);
	if (cat_store_begin(ctx->store, r->e) < 0)
		return EXEC_ERROR;
	rc = cat_store_find_item(ctx->store, sc.id, st->new_name, &other, r->e);
	if (rc == 1)
		err_set(r->e, "42710", "catalog item '%s' already exists", st->new_name);
	if (rc != 0 || cat_store_rename_item(ctx->store, it.id, &sc, st->new_name, r->e) < 0 ||
	    rerender(r, &res, it.id) < 0)
		goto fail;
	/* References are stored by id: every dependent re-renders with the
	 * new name (SQL.md 8.6). */
	ndeps = cat_store_dependents(ctx->store, it.id, &deps, r->e);
	if (ndeps < 0)
		goto fail;
	for (long i = 0; i < ndeps; i++)
		if (rerender(r, &res, deps[i]) < 0)
			goto fail;
	free(deps);
	deps = NULL;
	if (cat_store_commit(ctx->store, r->e) < 0)
		return EXEC_ERROR;
	log_info("item_renamed", "id=u%" PRIu64 " kind=%s role=%s", it.id, cat_kind_name(it.kind),
		 r->s->role.name);
	return complete(r, tag);
fail:
	free(deps);
	cat_store_rollback(ctx->store);
	return EXEC_ERROR;
}

/* ---- ALTER CONNECTION ---- */

int cat_ddl_alter_connection(struct exec_run *r, struct cat_stmt *st)
{
	struct cat_ctx *ctx = r->ctx;
	const struct cat_conn_stmt *cs = st->conn;
	struct cat_conn_resolver res;
	struct cat_conn_cfg cfg;
	struct cat_conn_plan plan;
	struct cat_conn_item self;
	struct conn_optset cur;
	struct cat_schema sc;
	struct cat_item it;
	const struct conn_type_def *t;
	char q[QNAME_MAX];
	int rc;

	if (cs->rename)
		return cat_ddl_rename_item(r, st);
	rc = find_target(r, st, "connection", &it, &sc, q, sizeof(q));
	if (rc <= 0)
		return rc < 0 ? EXEC_ERROR : complete(r, "ALTER CONNECTION");
	/* PRIV: ownership; USAGE on each referenced object of the result (res_use). */
	if (check_kind(r, &it, CAT_OBJ_CONNECTION, q) < 0 ||
	    cat_rbac_require_owner(ctx, r->s, &it, r->e) < 0)
		return EXEC_ERROR;
	if (cat_store_conn_item(ctx->store, it.id, &self, r->e) != 1)
		return err_is_set(r->e) ? EXEC_ERROR :
		       err_set(r->e, "XX000", "internal error: catalog: connection %s has no options", q);
	t = &conn_types[self.conn_type];
	if (cs->nactions == 1 && cs->actions[0].kind == CAT_CA_ROTATE_KEYS) {
		if (t->type != CONN_SSH_TUNNEL)
			return err_set(r->e, "42809", "%s is not an SSH connection", q);
		/* SQL.md 9.5: the vault rotates; the catalog records the new
		 * public keys once the vault answers. No validation runs. */
		struct conn_pending *cp;
		uint64_t rid;

		if ((rc = vault_gate(r)) != 0)
			return rc;
		if (!(cp = calloc(1, sizeof(*cp))))
			return oom(r);
		cp->rotate = 1;
		cp->self = self;
		snprintf(cp->qname, sizeof(cp->qname), "%s", q);
		if (cat_vault_rotate_ssh_keys(ctx->vault, it.id, q, r->s->role.name, &rid) < 0) {
			cat_ddl_conn_pending_free(cp);
			return vault_error(r, NULL);
		}
		return park(r, cp, rid);
	}
	if (cat_conn_cfg_load(ctx->store, &cfg, r->e) < 0)
		return EXEC_ERROR;
	rc = cat_store_conn_load(ctx->store, it.id, &cur, r->e);
	if (rc <= 0)
		return rc < 0 ? EXEC_ERROR :
		       err_set(r->e, "XX000", "internal error: catalog: connection %s has no options", q);
	resolver(r, &res);
	rc = cat_conn_plan_alter(&cur, cs, &res, &cfg.s, &plan, r->e);
	conn_optset_free(&cur);
	if (rc < 0)
		return EXEC_ERROR;
	/* PRIV: USAGE on every object the resulting set refers to, not only
	 * the ones this ALTER names (SQL.md 9.7). */
	for (size_t i = 0; i < plan.ndeps; i++) {
		struct cat_conn_item ci;
		if (cat_store_conn_item(ctx->store, plan.deps[i], &ci, r->e) != 1 ||
		    res_use(r, &ci, r->e) < 0) {
			cat_conn_plan_free(&plan);
			if (!err_is_set(r->e))
				err_set(r->e, "42704", "unknown catalog item 'u%" PRIu64 "'", plan.deps[i]);
			return EXEC_ERROR;
		}
	}
	if (wants_validation(cs, t)) {
		struct conn_pending *cp;

		if (!cat_jobspec_type_validates(t->type)) {
			cat_conn_plan_free(&plan);
			return validation_unsupported(r, t, 1);
		}
		/* Validate the resulting options; commit only on success
		 * (commit_altered), SQL.md 9.3 step 4. */
		if (!(cp = pending_with_plan(&plan, &cfg, &sc, &self, q))) {
			cat_conn_plan_free(&plan);
			return oom(r);
		}
		return start_job(r, cp, CP_ALTER, &cp->plan.set, NULL);
	}
	if (cat_store_begin(ctx->store, r->e) < 0) {
		cat_conn_plan_free(&plan);
		return EXEC_ERROR;
	}
	if (write_plan(r, &res, &plan, &self, &cfg) < 0) {
		cat_store_rollback(ctx->store);
		cat_conn_plan_free(&plan);
		return EXEC_ERROR;
	}
	if (cat_store_commit(ctx->store, r->e) < 0) {
		cat_conn_plan_free(&plan);
		return EXEC_ERROR;
	}
	log_info("connection_altered", "id=u%" PRIu64 " role=%s", it.id, r->s->role.name);
	if (plan.notice[0] && cat_exec_notice(r, "00000", "%s", plan.notice) < 0) {
		cat_conn_plan_free(&plan);
		return EXEC_ERROR;
	}
	cat_conn_plan_free(&plan);
	return complete(r, "ALTER CONNECTION");
}

/* ---- VALIDATE CONNECTION ---- */

int cat_ddl_validate_connection(struct exec_run *r, struct cat_stmt *st)
{
	struct cat_schema sc;
	struct cat_item it;
	struct cat_conn_item ci;
	char q[QNAME_MAX];
	int rc = find_target(r, st, "connection", &it, &sc, q, sizeof(q));

	if (rc <= 0)
		return EXEC_ERROR;
	if (it.kind != CAT_OBJ_CONNECTION)
		return err_set(r->e, "42809", "cannot validate %s '%s'", cat_kind_name(it.kind), q);
	/* PRIV: USAGE on the connection */
	if (cat_rbac_require_item(r->ctx, r->s, CAT_PRIV_USAGE, &it, r->e) < 0)
		return EXEC_ERROR;
	if (cat_store_conn_item(r->ctx->store, it.id, &ci, r->e) != 1 || ci.conn_type < 0)
		return err_is_set(r->e) ? EXEC_ERROR :
		       err_set(r->e, "XX000", "internal error: catalog: connection %s has no type", q);
	if (!cat_jobspec_type_validates((enum conn_type)ci.conn_type))
		return validation_unsupported(r, &conn_types[ci.conn_type], 0);
	/* The stored options with the current values of what they reference
	 * (SQL.md 6): the job spec is built now, the secrets fetched by the
	 * validator from the vault at their committed versions. */
	struct conn_optset set;
	struct conn_pending *cp;
	int jrc;

	rc = cat_store_conn_load(r->ctx->store, it.id, &set, r->e);
	if (rc <= 0)
		return rc < 0 ? EXEC_ERROR :
		       err_set(r->e, "XX000", "internal error: catalog: connection %s has no options", q);
	if (!(cp = calloc(1, sizeof(*cp)))) {
		conn_optset_free(&set);
		return oom(r);
	}
	cp->self = ci;
	cp->sc = sc;
	snprintf(cp->qname, sizeof(cp->qname), "%s", q);
	jrc = start_job(r, cp, CP_VALIDATE, &set, NULL);
	conn_optset_free(&set);
	return jrc;
}

/* ---- SHOW [REDACTED] CREATE CONNECTION ---- */

static const char *const show_create_cols[] = { "name", "create_sql" };
static const uint32_t show_create_oids[] = { PGW_OID_TEXT, PGW_OID_TEXT };

int cat_ddl_describe_show_create(struct exec_run *r, const struct cat_stmt *st)
{
	(void)st;
	return pgw_row_description(r->out, 2, show_create_cols, show_create_oids);
}

int cat_ddl_show_create_connection(struct exec_run *r, struct cat_stmt *st)
{
	struct cat_conn_resolver res;
	struct conn_optset set;
	struct cat_conn_item self;
	struct cat_schema sc;
	struct cat_item it;
	char q[QNAME_MAX], *sql;
	const char *vals[2];
	int rc = find_target(r, st, "connection", &it, &sc, q, sizeof(q));

	if (rc <= 0)
		return EXEC_ERROR;
	if (it.kind != CAT_OBJ_CONNECTION)
		return err_set(r->e, "42809", "'%s' is not a connection", q);
	/* PRIV: USAGE on the schema */
	if (cat_rbac_require_schema(r->ctx, r->s, CAT_PRIV_USAGE, &sc, r->e) < 0)
		return EXEC_ERROR;
	rc = cat_store_conn_load(r->ctx->store, it.id, &set, r->e);
	if (rc <= 0)
		return rc < 0 ? EXEC_ERROR :
		       err_set(r->e, "XX000", "internal error: catalog: connection %s has no options", q);
	resolver(r, &res);
	res.use = NULL;
	if (cat_store_conn_item(r->ctx->store, it.id, &self, r->e) != 1) {
		conn_optset_free(&set);
		return EXEC_ERROR;
	}
	sql = cat_conn_render(&set, &self, CAT_RENDER_SHOW, st->conn && st->conn->redacted, &res,
			      r->e);
	conn_optset_free(&set);
	if (!sql)
		return EXEC_ERROR;
	vals[0] = q;
	vals[1] = sql;
	int lens[2] = { (int)strlen(q), (int)strlen(sql) };
	if ((r->send_rowdesc && cat_ddl_describe_show_create(r, st) < 0) ||
	    pgw_data_row(r->out, 2, vals, lens) < 0) {
		free(sql);
		return oom(r);
	}
	free(sql);
	return complete(r, "SHOW CREATE CONNECTION");
}

/* ---- COMMENT ON ---- */

int cat_ddl_comment(struct exec_run *r, struct cat_stmt *st)
{
	struct cat_ctx *ctx = r->ctx;
	const char *comment = st->conn ? st->conn->comment : NULL;
	struct cat_schema sc;
	struct cat_item it;
	char q[QNAME_MAX];
	int rc;

	if (comment && strlen(comment) > COMMENT_MAX)
		return err_set(r->e, "22023", "provided comment was %zu bytes long, max size is %d bytes",
			       strlen(comment), COMMENT_MAX);
	rc = find_target(r, st, cat_kind_name(st->object_kind), &it, &sc, q, sizeof(q));
	if (rc <= 0)
		return EXEC_ERROR;
	/* PRIV: ownership */
	if (check_kind(r, &it, st->object_kind, q) < 0 ||
	    cat_rbac_require_owner(ctx, r->s, &it, r->e) < 0)
		return EXEC_ERROR;
	if (cat_store_begin(ctx->store, r->e) < 0)
		return EXEC_ERROR;
	if (cat_store_set_comment(ctx->store, it.id, cat_kind_name(it.kind), comment, r->e) < 0) {
		cat_store_rollback(ctx->store);
		return EXEC_ERROR;
	}
	if (cat_store_commit(ctx->store, r->e) < 0)
		return EXEC_ERROR;
	return complete(r, "COMMENT");
}

/* ---- DROP: SSH key pairs of dropped SSH TUNNEL connections ---- */

/* The catalog process runs one statement at a time: collect and shred
 * are called by the same DROP, in this order. */
static struct {
	uint64_t *ids;
	char (*names)[QNAME_MAX];
	size_t n;
} dropped_ssh;

int cat_ddl_conn_collect_ssh(struct exec_run *r, const uint64_t *ids, size_t n)
{
	free(dropped_ssh.ids);
	free(dropped_ssh.names);
	memset(&dropped_ssh, 0, sizeof(dropped_ssh));
	if (!n)
		return 0;
	dropped_ssh.ids = calloc(n, sizeof(*dropped_ssh.ids));
	dropped_ssh.names = calloc(n, sizeof(*dropped_ssh.names));
	if (!dropped_ssh.ids || !dropped_ssh.names)
		return oom(r);
	for (size_t i = 0; i < n; i++) {
		struct cat_conn_item ci;
		int rc = cat_store_conn_item(r->ctx->store, ids[i], &ci, r->e);

		if (rc < 0)
			return EXEC_ERROR;
		if (rc == 0 || ci.kind != CAT_OBJ_CONNECTION || ci.conn_type != CONN_SSH_TUNNEL)
			continue;
		dropped_ssh.ids[dropped_ssh.n] = ids[i];
		cat_conn_item_qname(&ci, dropped_ssh.names[dropped_ssh.n], QNAME_MAX);
		dropped_ssh.n++;
	}
	return 0;
}

void cat_ddl_conn_shred_ssh(struct exec_run *r)
{
	for (size_t i = 0; i < dropped_ssh.n; i++) {
		if (r->ctx->vault->state != CAT_VAULT_READY ||
		    cat_vault_delete_ssh_keys(r->ctx->vault, dropped_ssh.ids[i], dropped_ssh.names[i],
					      r->s->role.name, NULL) < 0)
			log_warn("ssh_keys_not_shredded", "id=u%" PRIu64 " reason=vault_unavailable",
				 dropped_ssh.ids[i]);
	}
	free(dropped_ssh.ids);
	free(dropped_ssh.names);
	memset(&dropped_ssh, 0, sizeof(dropped_ssh));
}
