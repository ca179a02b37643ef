/* Secret statements (CREATE / ALTER ... AS / RENAME / DROP), name
 * resolution (SQL.md 2) and SHOW SECRETS|CONNECTIONS (SQL.md 8.3). A value
 * goes to the vault first and is wiped here at once; the catalog row is
 * committed only when the vault answers that the ciphertext is durable. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_int.h"
#include "log.h"
#include "rbac.h"
#include "sysvars.h"

#define QNAME_MAX (3 * (CAT_IDENT_MAX + 1))

static const char *const system_schemas[] = { "mz_catalog", "pg_catalog" };

static void written_name(const struct cat_name *n, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < n->nparts && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? "." : "",
					n->parts[i]);
}

static int vault_unavailable(struct exec_run *r)
{
	err_set(r->e, "XX000", "internal error: vault: unavailable (restarting)");
	err_hint(r->e, "retry in a moment");
	return EXEC_ERROR;
}

static int vault_lost_error(struct err *e, int dropped)
{
	if (dropped) {
		err_set(e, "XX000", "internal error: vault: connection lost; the object was dropped; its ciphertext will be removed when the vault restarts");
		err_detail(e, "The DROP is committed in the catalog; start-up reconciliation shreds the ciphertext.");
	} else {
		err_set(e, "XX000", "internal error: vault: connection lost; the statement was not applied");
	}
	err_hint(e, "retry in a moment");
	return EXEC_ERROR;
}

static int oom(struct exec_run *r)
{
	return err_set(r->e, "53200", "out of memory");
}

static const char *session_db(struct exec_run *r)
{
	return cat_setting_get(r->s, "database");
}

/* Schema `schema` of database `db` (system schemas belong to every
 * database). 1 found, -1 with 3D000/3F000 set. */
static int resolve_schema(struct exec_run *r, const char *db, const char *schema,
			  int db_explicit, struct cat_schema *sc)
{
	char dbid[CAT_ID_MAX];
	int rc;

	if (db_explicit || strcmp(db, "materialize") != 0) {
		rc = cat_store_find_database(r->ctx->store, db, dbid, r->e);
		if (rc < 0)
			return EXEC_ERROR;
		if (rc == 0)
			return err_set(r->e, "3D000", "unknown database '%s'", db);
	}
	rc = cat_store_find_schema(r->ctx->store, db, schema, sc, r->e);
	if (rc < 0)
		return EXEC_ERROR;
	if (rc == 0) {
		rc = cat_store_find_database(r->ctx->store, db, dbid, r->e);
		if (rc == 0)
			return err_set(r->e, "3D000", "unknown database '%s'", db);
		return rc < 0 ? EXEC_ERROR :
		       err_set(r->e, "3F000", "unknown schema '%s'", schema);
	}
	return 1;
}

static int check_parts(struct exec_run *r, const struct cat_name *n)
{
	char w[QNAME_MAX];

	if (n->nparts >= 1 && n->nparts <= 3)
		return 0;
	written_name(n, w, sizeof(w));
	return err_set(r->e, "42601",
		       "qualified name did not have between 1 and 3 components: %s", w);
}

/* An existing item: 1 found (it, sc set), 0 unknown, -1 error. Unqualified
 * names try mz_catalog, pg_catalog, then search_path (SQL.md 2). */
static int lookup_item(struct exec_run *r, const struct cat_name *n,
		       struct cat_item *it, struct cat_schema *sc)
{
	const char *item = n->parts[n->nparts - 1];
	int rc;

	if (check_parts(r, n) < 0)
		return EXEC_ERROR;
	if (n->nparts == 1) {
		char path[8][CAT_IDENT_MAX + 1];
		size_t npath = cat_search_path(r->s, path, 8);
		const char *db = session_db(r);

		for (size_t i = 0; i < 2 + npath; i++) {
			const char *schema = i < 2 ? system_schemas[i] : path[i - 2];

			rc = cat_store_find_schema(r->ctx->store, db, schema, sc, r->e);
			if (rc < 0)
				return EXEC_ERROR;
			if (rc == 0)
				continue;
			rc = cat_store_find_item(r->ctx->store, sc->id, item, it, r->e);
			if (rc != 0)
				return rc;
		}
		return 0;
	}
	if (resolve_schema(r, n->nparts == 3 ? n->parts[0] : session_db(r),
			   n->parts[n->nparts - 2], n->nparts == 3, sc) < 0)
		return EXEC_ERROR;
	return cat_store_find_item(r->ctx->store, sc->id, item, it, r->e);
}

int cat_ddl_lookup_item(struct exec_run *r, const struct cat_name *n,
			struct cat_item *it, struct cat_schema *sc)
{
	return lookup_item(r, n, it, sc);
}

int cat_ddl_resolve_schema(struct exec_run *r, const struct cat_name *n,
			   struct cat_schema *sc)
{
	if (n->nparts < 1 || n->nparts > 2)
		return err_set(r->e, "42601", "schema name must have 1 or 2 components");
	return resolve_schema(r, n->nparts == 2 ? n->parts[0] : session_db(r),
			      n->parts[n->nparts - 1], n->nparts == 2, sc);
}

/* The schema a CREATE puts a new item into. */
static int schema_for_create(struct exec_run *r, const struct cat_name *n,
			     struct cat_schema *sc)
{
	if (check_parts(r, n) < 0)
		return EXEC_ERROR;
	if (n->nparts == 1) {
		char path[8][CAT_IDENT_MAX + 1];
		size_t npath = cat_search_path(r->s, path, 8);
		int found = 0;

		for (size_t i = 0; i < npath && !found; i++) {
			int rc = cat_store_find_schema(r->ctx->store, session_db(r),
						       path[i], sc, r->e);
			if (rc < 0)
				return EXEC_ERROR;
			found = rc;
		}
		if (!found)
			return err_set(r->e, "3F000", "no schema has been selected to create in");
	} else if (resolve_schema(r, n->nparts == 3 ? n->parts[0] : session_db(r),
				  n->parts[n->nparts - 2], n->nparts == 3, sc) < 0) {
		return EXEC_ERROR;
	}
	if (sc->is_system)
		return err_set(r->e, "42501", "system schema '%s' cannot be modified",
			       sc->name);
	return 0;
}

void cat_ddl_qualify(const struct cat_schema *sc, const char *name, char *buf, size_t size)
{
	if (sc->is_system)
		snprintf(buf, size, "%s.%s", sc->name, name);
	else
		snprintf(buf, size, "%s.%s.%s", sc->database, sc->name, name);
}

int cat_ddl_item_exists(struct exec_run *r, const struct cat_item *it, const char *qname,
			int if_not_exists)
{
	if (!if_not_exists)
		return err_set(r->e, "42710", "%s \"%s\" already exists",
			       cat_kind_name(it->kind), qname);
	if (cat_exec_notice(r, "42710", "%s \"%s\" already exists, skipping",
			    cat_kind_name(it->kind), qname) < 0)
		return EXEC_ERROR;
	return 0;
}

/* SQL.md 9.7: `must be owner of SECRET <qname>` (rbac.c). */
static int check_owner(struct exec_run *r, const struct cat_item *it,
		       const char *qname)
{
	(void)qname;
	return cat_rbac_require_owner(r->ctx, r->s, it, r->e);
}

static int check_kind(struct exec_run *r, const struct cat_item *it,
		      enum cat_object_kind want, const char *qname)
{
	if (it->kind == want)
		return 0;
	return err_set(r->e, "42809", "%s is a %s not a %s", qname,
		       cat_kind_name(it->kind), cat_kind_name(want));
}

static int complete(struct exec_run *r, const struct cat_stmt *st)
{
	return pgw_command_complete(r->out, cat_stmt_tag(st)) < 0 ? oom(r) : CAT_RUN_DONE;
}

/* ALTER of a secret that does not exist: 42704, or with IF EXISTS a
 * notice and the statement completes. */
static int secret_missing(struct exec_run *r, const struct cat_stmt *st, const char *written)
{
	if (!st->if_exists)
		return err_set(r->e, "42704", "unknown catalog item '%s'", written);
	if (cat_exec_notice(r, "00000", "secret \"%s\" does not exist, skipping", written) < 0)
		return EXEC_ERROR;
	return complete(r, st);
}

/* SQL.md 9.6: 512 KiB, or less if limits.max_secret_size says so. */
static int check_value_size(struct exec_run *r, const struct cat_stmt *st)
{
	size_t max = r->ctx->max_secret_size;

	if (!max || max > IPC_MAX_SECRET)
		max = IPC_MAX_SECRET;
	if (st->value.len <= max)
		return 0;
	if (max % 1024 == 0)
		return err_set(r->e, "54000", "secrets can not be bigger than %zuKiB", max / 1024);
	return err_set(r->e, "54000", "secrets can not be bigger than %zu bytes", max);
}

/* Vault-backed statements wait for the reconciliation of a new channel
 * (ids must be above the vault's maxima); without a channel they fail. */
static int vault_gate(struct exec_run *r)
{
	switch (r->ctx->vault->state) {
	case CAT_VAULT_DOWN:
		return vault_unavailable(r);
	case CAT_VAULT_RECONCILING:
		r->s->pending.kind = CAT_PEND_READY;
		return CAT_RUN_PARKED;
	case CAT_VAULT_READY:
		break;
	}
	return 0;
}

void cat_ddl_pending_clear(struct cat_session *s)
{
	cat_ddl_conn_pending_free(s->pending.conn);
	free(s->pending.drop_requests);
	memset(&s->pending, 0, sizeof(s->pending));
}

int cat_ddl_create_secret(struct exec_run *r, struct cat_stmt *st)
{
	struct cat_ctx *ctx = r->ctx;
	struct cat_schema sc;
	struct cat_item it;
	char q[QNAME_MAX];
	long count;
	int rc;

	if ((rc = vault_gate(r)) != 0)
		return rc;
	if (schema_for_create(r, &st->name, &sc) < 0)
		return EXEC_ERROR;
	const char *name = st->name.parts[st->name.nparts - 1];
	rc = cat_store_find_item(ctx->store, sc.id, name, &it, r->e);
	if (rc < 0)
		return EXEC_ERROR;
	cat_ddl_qualify(&sc, name, q, sizeof(q));
	if (rc == 1) {
		if (cat_ddl_item_exists(r, &it, q, st->if_not_exists) < 0)
			return EXEC_ERROR;
		return complete(r, st);
	}
	if (cat_rbac_require_schema(ctx, r->s, CAT_PRIV_CREATE, &sc, r->e) < 0 ||
	    cat_ns_check_object_limit(r, &sc, "secret") < 0)
		return EXEC_ERROR;
	if (check_value_size(r, st) < 0)
		return EXEC_ERROR;
	count = cat_store_count_items(ctx->store, CAT_OBJ_SECRET, r->e);
	if (count < 0 || cat_limit_check(r, "secret", "max_secrets", count) < 0)
		return EXEC_ERROR;

	uint64_t id = ctx->next_id++, version = ctx->next_version++, rid;
	rc = cat_vault_put_secret(ctx->vault, id, version, st->value.bytes,
				  st->value.len, q, r->s->role.name, 0, &rid);
	cat_stmt_wipe_value(st);
	if (rc < 0)
		return vault_lost_error(r->e, 0);
	r->s->pending.kind = CAT_PEND_CREATE;
	r->s->pending.request_id = rid;
	r->s->pending.id = id;
	r->s->pending.version = version;
	r->s->pending.schema = sc;
	snprintf(r->s->pending.name, sizeof(r->s->pending.name), "%s", name);
	log_info("secret_create_sent", "id=u%" PRIu64 " version=%" PRIu64, id, version);
	return CAT_RUN_PARKED;
}

static int finish_create(struct exec_run *r)
{
	struct cat_ctx *ctx = r->ctx;
	struct cat_session *s = r->s;
	struct cat_item it;
	char q[QNAME_MAX];
	int rc;

	cat_ddl_qualify(&s->pending.schema, s->pending.name, q, sizeof(q));
	if (cat_store_begin(ctx->store, r->e) < 0)
		goto orphan;
	/* Another session may have taken the name while the vault worked. */
	rc = cat_store_find_item(ctx->store, s->pending.schema.id, s->pending.name,
				 &it, r->e);
	if (rc != 0) {
		cat_store_rollback(ctx->store);
		if (rc == 1)
			err_set(r->e, "42710", "%s \"%s\" already exists",
				cat_kind_name(it.kind), q);
		goto orphan;
	}
	/* Concurrent CREATEs all passed the first check; recount. */
	long count = cat_store_count_items(ctx->store, CAT_OBJ_SECRET, r->e);
	if (count < 0 || cat_limit_check(r, "secret", "max_secrets", count) < 0) {
		cat_store_rollback(ctx->store);
		goto orphan;
	}
	if (cat_store_insert_secret(ctx->store, s->pending.id, &s->pending.schema,
				    s->pending.name, s->role.id, s->pending.version,
				    r->e) < 0) {
		cat_store_rollback(ctx->store);
		goto orphan;
	}
	if (cat_store_commit(ctx->store, r->e) < 0)
		goto orphan;
	cat_vault_commit_secret(ctx->vault, s->pending.id, s->pending.version);
	log_info("secret_created", "id=u%" PRIu64 " version=%" PRIu64 " role=%s",
		 s->pending.id, s->pending.version, s->role.name);
	return pgw_command_complete(r->out, "CREATE SECRET") < 0 ? oom(r) : CAT_RUN_DONE;
orphan:
	/* Not committed: the ciphertext has no owner; shred it now (and
	 * reconciliation would anyway). */
	cat_vault_delete_secret(ctx->vault, s->pending.id, q, s->role.name, NULL);
	return EXEC_ERROR;
}

int cat_ddl_alter_secret_value(struct exec_run *r, struct cat_stmt *st)
{
	struct cat_ctx *ctx = r->ctx;
	struct cat_schema sc;
	struct cat_item it;
	char q[QNAME_MAX], w[QNAME_MAX];
	int rc;

	if ((rc = vault_gate(r)) != 0)
		return rc;
	rc = lookup_item(r, &st->name, &it, &sc);
	if (rc < 0)
		return EXEC_ERROR;
	written_name(&st->name, w, sizeof(w));
	if (rc == 0)
		return secret_missing(r, st, w);
	cat_ddl_qualify(&sc, it.name, q, sizeof(q));
	if (check_kind(r, &it, CAT_OBJ_SECRET, q) < 0 || check_owner(r, &it, q) < 0 ||
	    check_value_size(r, st) < 0)
		return EXEC_ERROR;

	uint64_t version = ctx->next_version++, rid;
	rc = cat_vault_put_secret(ctx->vault, it.id, version, st->value.bytes,
				  st->value.len, q, r->s->role.name, 1, &rid);
	cat_stmt_wipe_value(st);
	if (rc < 0)
		return vault_lost_error(r->e, 0);
	r->s->pending.kind = CAT_PEND_ALTER;
	r->s->pending.request_id = rid;
	r->s->pending.id = it.id;
	r->s->pending.version = version;
	r->s->pending.schema = sc;
	snprintf(r->s->pending.name, sizeof(r->s->pending.name), "%s", it.name);
	return CAT_RUN_PARKED;
}

static int finish_alter(struct exec_run *r)
{
	struct cat_ctx *ctx = r->ctx;
	struct cat_session *s = r->s;
	struct cat_item it;
	uint64_t *deps = NULL;
	long ndeps;
	int rc;

	if (cat_store_begin(ctx->store, r->e) < 0)
		return EXEC_ERROR;
	rc = cat_store_set_secret_version(ctx->store, s->pending.id,
					  s->pending.version, r->e);
	if (rc == 0) {
		/* Dropped meanwhile, or a later ALTER already committed. */
		rc = cat_store_find_item_by_id(ctx->store, s->pending.id, &it, r->e);
		if (rc == 0)
			err_set(r->e, "42704", "unknown catalog item '%s'", s->pending.name);
		if (rc <= 0) {
			cat_store_rollback(ctx->store);
			return EXEC_ERROR;
		}
	} else if (rc < 0) {
		cat_store_rollback(ctx->store);
		return EXEC_ERROR;
	}
	if (cat_store_commit(ctx->store, r->e) < 0)
		return EXEC_ERROR;
	cat_vault_commit_secret(ctx->vault, s->pending.id, s->pending.version);
	log_info("secret_altered", "id=u%" PRIu64 " version=%" PRIu64 " role=%s",
		 s->pending.id, s->pending.version, s->role.name);
	ndeps = cat_store_dependents(ctx->store, s->pending.id, &deps, r->e);
	free(deps);
	if (ndeps > 0 &&
	    cat_exec_notice(r, "00000", "secret is used by %ld connection(s); run VALIDATE CONNECTION to check them",
			    ndeps) < 0)
		return EXEC_ERROR;
	return pgw_command_complete(r->out, "ALTER SECRET") < 0 ? oom(r) : CAT_RUN_DONE;
}

int cat_ddl_rename(struct exec_run *r, struct cat_stmt *st)
{
	struct cat_ctx *ctx = r->ctx;
	struct cat_schema sc;
	struct cat_item it, other;
	char q[QNAME_MAX], w[QNAME_MAX], id[CAT_ID_MAX], detail[2 * QNAME_MAX + 16];
	int rc = lookup_item(r, &st->name, &it, &sc);

	if (rc < 0)
		return EXEC_ERROR;
	written_name(&st->name, w, sizeof(w));
	if (rc == 0)
		return secret_missing(r, st, w);
	cat_ddl_qualify(&sc, it.name, q, sizeof(q));
	if (check_kind(r, &it, CAT_OBJ_SECRET, q) < 0 || check_owner(r, &it, q) < 0)
		return EXEC_ERROR;
	if (cat_store_begin(ctx->store, r->e) < 0)
		return EXEC_ERROR;
	rc = cat_store_find_item(ctx->store, sc.id, st->new_name, &other, r->e);
	if (rc == 1)
		err_set(r->e, "42710", "catalog item '%s' already exists", st->new_name);
	if (rc != 0 || cat_store_rename_item(ctx->store, it.id, &sc, st->new_name, r->e) < 0) {
		cat_store_rollback(ctx->store);
		return EXEC_ERROR;
	}
	if (cat_store_commit(ctx->store, r->e) < 0)
		return EXEC_ERROR;
	snprintf(id, sizeof(id), "u%" PRIu64, it.id);
	snprintf(detail, sizeof(detail), "from=%s to=%s", q, st->new_name);
	if (ctx->vault->state == CAT_VAULT_DOWN ||
	    cat_vault_audit(ctx->vault, "rename_secret", r->s->role.name, id, detail) < 0)
		log_warn("audit_not_sent", "event=rename_secret id=%s reason=vault_unavailable", id);
	log_info("secret_renamed", "id=%s role=%s", id, r->s->role.name);
	return complete(r, st);
}

struct idset {
	uint64_t *ids;
	size_t n, cap;
};

static int idset_add(struct idset *s, uint64_t id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->ids[i] == id)
			return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		uint64_t *p = realloc(s->ids, cap * sizeof(*p));
		if (!p)
			return -1;
		s->ids = p;
		s->cap = cap;
	}
	s->ids[s->n++] = id;
	return 1;
}

/* Adds the transitive dependents of targets (CASCADE), or fails 2BP01 naming
 * the first (RESTRICT). Dependents follow what they depend on in `set`. */
static int close_over_dependents(struct exec_run *r, struct idset *set, int cascade)
{
	for (size_t i = 0; i < set->n; i++) {
		uint64_t *deps;
		long n = cat_store_dependents(r->ctx->store, set->ids[i], &deps, r->e);

		if (n < 0)
			return EXEC_ERROR;
		for (long k = 0; k < n; k++) {
			int known = 0;

			for (size_t j = 0; j < set->n; j++)
				known |= set->ids[j] == deps[k];
			if (known)
				continue;
			if (!cascade) {
				struct cat_item a, b;
				char qa[QNAME_MAX] = "?", qb[QNAME_MAX] = "?";

				/* Names as the session would write them (SQL.md 7). */
				if (cat_store_find_item_by_id(r->ctx->store, set->ids[i], &a, r->e) == 1)
					cat_ddl_display_name(r, a.id, qa, sizeof(qa));
				if (cat_store_find_item_by_id(r->ctx->store, deps[k], &b, r->e) == 1)
					cat_ddl_display_name(r, b.id, qb, sizeof(qb));
				free(deps);
				err_set(r->e, "2BP01", "cannot drop %s \"%s\": still depended upon by %s \"%s\"",
					cat_kind_name(a.kind), qa, cat_kind_name(b.kind), qb);
				err_hint(r->e, "Use DROP ... CASCADE to drop the dependent objects too.");
				return EXEC_ERROR;
			}
			if (idset_add(set, deps[k]) < 0) {
				free(deps);
				return oom(r);
			}
		}
		free(deps);
	}
	return 0;
}

int cat_ddl_drop(struct exec_run *r, struct cat_stmt *st)
{
	struct cat_ctx *ctx = r->ctx;
	struct idset set = { 0 };
	int ret = EXEC_ERROR;

	for (size_t i = 0; i < st->nnames; i++) {
		struct cat_schema sc;
		struct cat_item it;
		char q[QNAME_MAX], w[QNAME_MAX];
		int rc = lookup_item(r, &st->names[i], &it, &sc);

		if (rc < 0)
			goto out;
		written_name(&st->names[i], w, sizeof(w));
		if (rc == 0) {
			if (!st->if_exists) {
				err_set(r->e, "42704", "unknown catalog item '%s'", w);
				goto out;
			}
			if (cat_exec_notice(r, "00000", "%s \"%s\" does not exist, skipping",
					    cat_kind_name(st->object_kind), w) < 0)
				goto out;
			continue;
		}
		cat_ddl_qualify(&sc, it.name, q, sizeof(q));
		if (check_kind(r, &it, st->object_kind, q) < 0 ||
		    check_owner(r, &it, q) < 0 ||
		    cat_rbac_require_schema(ctx, r->s, CAT_PRIV_USAGE, &sc, r->e) < 0)
			goto out;
		if (idset_add(&set, it.id) < 0) {
			oom(r);
			goto out;
		}
	}
	if (set.n == 0) {
		ret = complete(r, st);
		goto out;
	}
	ret = cat_ddl_drop_ids(r, st, set.ids, set.n, st->cascade, NULL, NULL);
out:
	free(set.ids);
	return ret;
}

int cat_ddl_drop_ids(struct exec_run *r, struct cat_stmt *st, const uint64_t *ids,
		     size_t n, int cascade,
		     int (*in_txn)(struct exec_run *r, void *arg), void *arg)
{
	struct cat_ctx *ctx = r->ctx;
	struct idset set = { 0 };
	struct cat_item *items = NULL;
	char (*qnames)[QNAME_MAX] = NULL;
	size_t nsecrets = 0;
	int ret = EXEC_ERROR;

	for (size_t i = 0; i < n; i++)
		if (idset_add(&set, ids[i]) < 0) {
			oom(r);
			goto out;
		}
	if (close_over_dependents(r, &set, cascade) < 0)
		goto out;
	items = calloc(set.n + 1, sizeof(*items));
	qnames = calloc(set.n + 1, sizeof(*qnames));
	if (!items || !qnames) {
		oom(r);
		goto out;
	}
	/* CASCADE: ownership of everything dropped [tether, SQL.md 9.7]. */
	for (size_t i = 0; i < set.n; i++) {
		if (cat_store_find_item_by_id(ctx->store, set.ids[i], &items[i], r->e) != 1) {
			if (!err_is_set(r->e))
				err_set(r->e, "42704", "unknown catalog item 'u%" PRIu64 "'", set.ids[i]);
			goto out;
		}
		if (cat_rbac_require_owner(ctx, r->s, &items[i], r->e) < 0)
			goto out;
	}
	if (cat_store_begin(ctx->store, r->e) < 0)
		goto out;
	/* SSH TUNNEL connections: their key pairs go too (ddl_conn.c). */
	if (cat_ddl_conn_collect_ssh(r, set.ids, set.n) < 0) {
		cat_store_rollback(ctx->store);
		goto out;
	}
	/* Dependents last in `set`: delete them first. */
	for (size_t i = set.n; i-- > 0;) {
		if (cat_store_find_item_by_id(ctx->store, set.ids[i], &items[i], r->e) != 1 ||
		    cat_store_qualified_name(ctx->store, &items[i], qnames[i],
					     sizeof(qnames[i]), r->e) < 0 ||
		    cat_store_delete_item(ctx->store, set.ids[i], r->e) < 0) {
			if (!err_is_set(r->e))
				err_set(r->e, "42704", "unknown catalog item 'u%" PRIu64 "'", set.ids[i]);
			cat_store_rollback(ctx->store);
			goto out;
		}
		if (items[i].kind == CAT_OBJ_SECRET)
			nsecrets++;
	}
	if (in_txn && in_txn(r, arg) < 0) {
		cat_store_rollback(ctx->store);
		goto out;
	}
	if (cat_store_commit(ctx->store, r->e) < 0)
		goto out;
	for (size_t i = 0; i < set.n; i++) {
		char oid[32];

		log_info("item_dropped", "id=u%" PRIu64 " kind=%s role=%s", items[i].id,
			 cat_kind_name(items[i].kind), r->s->role.name);
		/* Secrets are audited by the vault's delete; the rest here. */
		snprintf(oid, sizeof(oid), "u%" PRIu64, items[i].id);
		if (items[i].kind != CAT_OBJ_SECRET &&
		    (ctx->vault->state == CAT_VAULT_DOWN ||
		     cat_vault_audit(ctx->vault, "item_dropped", r->s->role.name, oid,
				     cat_kind_name(items[i].kind)) < 0))
			log_warn("audit_not_sent", "event=item_dropped id=%s reason=vault_unavailable", oid);
	}
	cat_ddl_conn_shred_ssh(r);
	if (nsecrets == 0) {
		ret = complete(r, st);
		goto out;
	}
	/* Committed: from here on the DROP stands whatever the vault says. */
	if (ctx->vault->state == CAT_VAULT_DOWN) {
		err_set(r->e, "XX000", "internal error: vault: unavailable (restarting); the object was dropped; its ciphertext will be removed when the vault restarts");
		err_detail(r->e, "The DROP is committed in the catalog; start-up reconciliation shreds the ciphertext.");
		goto out;
	}
	r->s->pending.drop_requests = calloc(nsecrets, sizeof(uint64_t));
	if (!r->s->pending.drop_requests) {
		oom(r);
		goto out;
	}
	for (size_t i = 0; i < set.n; i++) {
		uint64_t rid;

		if (items[i].kind != CAT_OBJ_SECRET)
			continue;
		if (cat_vault_delete_secret(ctx->vault, items[i].id, qnames[i],
					    r->s->role.name, &rid) < 0) {
			cat_ddl_pending_clear(r->s);
			vault_lost_error(r->e, 1);
			goto out;
		}
		r->s->pending.drop_requests[r->s->pending.ndrop++] = rid;
	}
	r->s->pending.kind = CAT_PEND_DROP;
	ret = CAT_RUN_PARKED;
out:
	free(set.ids);
	free(items);
	free(qnames);
	return ret;
}

static int reply_error(struct err *e, const Tether__Reply *reply)
{
	err_set(e, reply->sqlstate && *reply->sqlstate ? reply->sqlstate : "XX000",
		"%s", reply->message && *reply->message ? reply->message :
		"internal error: vault: request failed");
	if (reply->detail && *reply->detail)
		err_detail(e, "%s", reply->detail);
	if (reply->hint && *reply->hint)
		err_hint(e, "%s", reply->hint);
	return EXEC_ERROR;
}

int cat_ddl_vault_reply(struct exec_run *r, uint64_t request_id,
			const Tether__Reply *reply, int *finished)
{
	struct cat_session *s = r->s;
	int rc;

	*finished = 0;
	switch (s->pending.kind) {
	case CAT_PEND_CREATE:
	case CAT_PEND_ALTER:
		if (request_id != s->pending.request_id)
			return CAT_RUN_PARKED;
		*finished = 1;
		if (!reply->ok)
			rc = reply_error(r->e, reply);
		else
			rc = s->pending.kind == CAT_PEND_CREATE ? finish_create(r) :
			     finish_alter(r);
		cat_ddl_pending_clear(s);
		return rc;
	case CAT_PEND_CONN:
		if (request_id != s->pending.request_id)
			return CAT_RUN_PARKED;
		*finished = 1;
		rc = cat_ddl_conn_vault_reply(r, request_id, reply);
		if (rc == CAT_RUN_PARKED) {     /* parked again, on a validation job */
			*finished = 0;
			return rc;
		}
		cat_ddl_pending_clear(s);
		return rc;
	case CAT_PEND_KEYS:
		if (request_id != s->pending.request_id)
			return CAT_RUN_PARKED;
		*finished = 1;
		rc = cat_ddl_keys_vault_reply(r, reply);
		cat_ddl_pending_clear(s);
		return rc;
	case CAT_PEND_DROP:
		for (size_t i = 0; i < s->pending.ndrop; i++) {
			if (s->pending.drop_requests[i] != request_id)
				continue;
			s->pending.drop_requests[i] = 0;
			s->pending.ndrop_done++;
			if (!reply->ok && !err_is_set(&s->pending.drop_error))
				reply_error(&s->pending.drop_error, reply);
		}
		if (s->pending.ndrop_done < s->pending.ndrop)
			return CAT_RUN_PARKED;
		*finished = 1;
		if (err_is_set(&s->pending.drop_error)) {
			*r->e = s->pending.drop_error;
			err_detail(r->e, "The DROP is committed in the catalog; start-up reconciliation shreds the ciphertext.");
			rc = EXEC_ERROR;
		} else {
			/* The parked statement: DROP SECRET, DROP SCHEMA, ... */
			rc = pgw_command_complete(r->out, cat_stmt_tag(&s->stmts[s->next])) < 0 ?
			     oom(r) : CAT_RUN_DONE;
		}
		cat_ddl_pending_clear(s);
		return rc;
	default:
		return CAT_RUN_PARKED;
	}
}

int cat_ddl_vault_lost(struct exec_run *r)
{
	int dropped = r->s->pending.kind == CAT_PEND_DROP;

	cat_ddl_pending_clear(r->s);
	return vault_lost_error(r->e, dropped);
}

/* ---- SHOW SECRETS | CONNECTIONS ---- */

static const char *const show_secrets_cols[] = { "name", "comment" };
static const char *const show_conns_cols[] = { "name", "type", "comment" };
static const uint32_t text_oids[] = { PGW_OID_TEXT, PGW_OID_TEXT, PGW_OID_TEXT };

int cat_ddl_describe_show_objects(struct exec_run *r, const struct cat_stmt *st)
{
	if (st->object_kind == CAT_OBJ_SECRET)
		return pgw_row_description(r->out, 2, show_secrets_cols, text_oids);
	return pgw_row_description(r->out, 3, show_conns_cols, text_oids);
}

int cat_ddl_show_objects(struct exec_run *r, struct cat_stmt *st)
{
	struct cat_schema sc;
	char *sql;
	const char *values[2];
	int rc;

	if (st->has_from) {
		const struct cat_name *f = &st->from_schema;

		if (f->nparts < 1 || f->nparts > 2)
			return err_set(r->e, "42601", "schema name must have 1 or 2 components");
		if (resolve_schema(r, f->nparts == 2 ? f->parts[0] : session_db(r),
				   f->parts[f->nparts - 1], f->nparts == 2, &sc) < 0)
			return EXEC_ERROR;
	} else {
		struct cat_name n = { .nparts = 1 };
		if (schema_for_create(r, &n, &sc) < 0 && strcmp(r->e->sqlstate, "42501") != 0)
			return EXEC_ERROR;
		err_clear(r->e);
	}
	if (cat_rbac_require_schema(r->ctx, r->s, CAT_PRIV_USAGE, &sc, r->e) < 0)
		return EXEC_ERROR;
	/* The user's WHERE runs inside the read-only, authorized connection. */
	if (asprintf(&sql,
		     "SELECT %s FROM (SELECT o.name AS name,%s"
		     " coalesce(c.comment, '') AS comment FROM %s o"
		     " LEFT JOIN mz_comments c ON c.id = o.id AND c.object_sub_id IS NULL"
		     " WHERE o.schema_id = :tether_schema)"
		     " WHERE name LIKE :tether_like AND (%s) ORDER BY name",
		     st->object_kind == CAT_OBJ_SECRET ? "name, comment" : "name, type, comment",
		     st->object_kind == CAT_OBJ_SECRET ? "" : " o.type AS type,",
		     st->object_kind == CAT_OBJ_SECRET ? "mz_secrets" : "mz_connections",
		     st->where_sql ? st->where_sql : "1") < 0)
		return oom(r);
	values[0] = sc.id;
	values[1] = st->like_pattern ? st->like_pattern : "%";
	rc = cat_exec_run_named_select(r, sql, (const char *const[]){ ":tether_schema", ":tether_like" },
				       values, 2);
	free(sql);
	return rc;
}
