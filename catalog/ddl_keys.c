/* ALTER SYSTEM ROTATE DATA KEY / ROTATE MASTER KEY: superuser only, sent
 * to the vault (RotateKey), acknowledged once the vault's first step is
 * durable and audited there; and the progress the vault reports, upserted
 * into key_rotations for tether_internal.tether_key_rotation. */
#include "ddl_keys.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "err.h"
#include "exec_int.h"
#include "log.h"
#include "pgwire.h"
#include "rbac.h"
#include "store.h"
#include "vaultc.h"

int cat_ddl_rotate_key(struct exec_run *r, struct cat_stmt *st)
{
	const char *kind = st->var_name;
	uint64_t rid;

	/* Like ALTER SYSTEM SET: rbac::UnauthorizedError::Superuser. */
	if (!cat_rbac_is_superuser(r->ctx, r->s)) {
		err_set(r->e, "42501", "permission denied to alter system");
		err_detail(r->e, "You must be a superuser to rotate keys");
		return EXEC_ERROR;
	}
	if (r->ctx->vault->state != CAT_VAULT_READY) {
		err_set(r->e, "55000", "cannot rotate the %s key: the vault is not available", kind);
		err_hint(r->e, "Try again once tetherd has restarted the vault.");
		return EXEC_ERROR;
	}
	if (cat_vault_rotate_key(r->ctx->vault, kind, r->s->role.name, &rid) < 0)
		return err_set(r->e, "XX000", "internal error: vault: cannot queue the request");
	log_info("rotate_key_requested", "kind=%s role=%s request_id=%" PRIu64, kind,
		 r->s->role.name, rid);
	r->s->pending.kind = CAT_PEND_KEYS;
	r->s->pending.request_id = rid;
	snprintf(r->s->pending.name, sizeof(r->s->pending.name), "%s", kind);
	return CAT_RUN_PARKED;
}

int cat_ddl_keys_vault_reply(struct exec_run *r, const Tether__Reply *reply)
{
	if (!reply->ok) {
		err_set(r->e, reply->sqlstate && *reply->sqlstate ? reply->sqlstate : "XX000",
			"%s", reply->message && *reply->message ? reply->message :
			"internal error: vault: key rotation failed");
		if (reply->detail && *reply->detail)
			err_detail(r->e, "%s", reply->detail);
		if (reply->hint && *reply->hint)
			err_hint(r->e, "%s", reply->hint);
		return EXEC_ERROR;
	}
	log_info("rotate_key_done", "kind=%s role=%s", r->s->pending.name, r->s->role.name);
	return pgw_command_complete(r->out, "ALTER SYSTEM") < 0 ?
	       err_set(r->e, "53200", "out of memory") : CAT_RUN_DONE;
}

static void fmt_ms(char out[40], int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	n = strftime(out, 40, "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(out + n, 40 - n, ".%03d+00", (int)(ms % 1000));
}

void cat_keys_progress(struct cat_ctx *ctx, const Tether__KeyRotationProgress *p)
{
	sqlite3_stmt *q = NULL;
	char started[40], finished[40];
	int rc;

	if (!p->kind || !p->state || p->started_at_ms <= 0)
		return;
	fmt_ms(started, p->started_at_ms);
	if (p->finished_at_ms > 0)
		fmt_ms(finished, p->finished_at_ms);
	rc = sqlite3_prepare_v2(ctx->store->db,
				"INSERT OR REPLACE INTO key_rotations(kind, term, state, records_total,"
				" records_done, started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
				-1, &q, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(q, 1, p->kind, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, p->term);
		sqlite3_bind_text(q, 3, p->state, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 4, (sqlite3_int64)p->records_total);
		sqlite3_bind_int64(q, 5, (sqlite3_int64)p->records_done);
		sqlite3_bind_text(q, 6, started, -1, SQLITE_STATIC);
		if (p->finished_at_ms > 0)
			sqlite3_bind_text(q, 7, finished, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(q, 7);
		rc = sqlite3_step(q);
	}
	sqlite3_finalize(q);
	/* A rotation resumed after a vault restart reports a new start: the
	 * row of the interrupted run says so instead of "running" forever. */
	if (rc == SQLITE_DONE &&
	    sqlite3_prepare_v2(ctx->store->db,
			       "UPDATE key_rotations SET state = 'interrupted' WHERE kind = ?"
			       " AND term = ? AND state = 'running' AND started_at <> ?",
			       -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_text(q, 1, p->kind, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, p->term);
		sqlite3_bind_text(q, 3, started, -1, SQLITE_STATIC);
		rc = sqlite3_step(q);
		sqlite3_finalize(q);
	}
	if (rc != SQLITE_DONE)
		log_warn("key_rotation_progress_not_stored", "error=\"%s\"",
			 sqlite3_errmsg(ctx->store->db));
	log_info("key_rotation_progress", "kind=%s term=%u state=%s done=%" PRIu64
		 " total=%" PRIu64, p->kind, p->term, p->state, p->records_done,
		 p->records_total);
}
