/* One client's session after login: settings, transaction block state,
 * prepared statements and portals, and the statements of the query being
 * run. Statements that need the vault park the session until the vault
 * answers, so the server keeps serving other clients meanwhile. */
#ifndef TETHER_CAT_EXEC_H
#define TETHER_CAT_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "pgwire.h"
#include "select.h"
#include "sql/ast.h"
#include "store.h"
#include "vaultc.h"

/* Shared by all sessions of the process. */
struct cat_ctx {
	struct cat_store *store;
	struct cat_select *sel;
	struct cat_vault *vault;
	uint64_t next_id;        /* in memory, above catalog's and vault's maxima */
	uint64_t next_version;
	size_t max_secret_size;  /* limits.max_secret_size; 0 = 512 KiB */
	const struct tcfg *config;   /* tether.conf keys from --set (main.c); may be NULL */
	struct cat_jobs *jobs;       /* validation jobs (jobs.c; set by server.c) */
};

/* Loads the stored counters into ctx (and raises them above the vault's). */
int cat_ctx_sync_counters(struct cat_ctx *ctx, struct err *e);

enum cat_run {
	CAT_RUN_DONE = 0,        /* answered; read the next message */
	CAT_RUN_PARKED = 1,      /* waiting for the vault */
	CAT_RUN_CLOSE = -1,      /* protocol violation: error written, close */
};

enum cat_pending_kind {
	CAT_PEND_NONE,
	CAT_PEND_READY,          /* waiting for the vault's reconciliation */
	CAT_PEND_CREATE,
	CAT_PEND_ALTER,
	CAT_PEND_DROP,
	CAT_PEND_CONN,           /* ddl_conn.c: SSH keys for CREATE / ROTATE KEYS */
	CAT_PEND_JOB,            /* ddl_conn.c: a validation job (request_id = job id) */
	CAT_PEND_KEYS,           /* ddl_keys.c: ALTER SYSTEM ROTATE ... KEY */
};

struct cat_setting;
struct cat_prepared;
struct tcfg;
struct cat_portal;

struct cat_session {
	struct cat_role role;                /* current role (SET ROLE changes it) */
	struct cat_role login_role;          /* session user (rbac.c) */
	uint32_t backend_pid;
	char txn;                            /* 'I', 'T', 'E' */
	struct cat_setting *settings;        /* overrides of the defaults */
	struct cat_prepared *prepared;
	struct cat_portal *portals;
	int discard_until_sync;              /* extended protocol error */

	/* The statements being run (a simple Query, or one Execute). */
	struct cat_stmt *stmts;
	size_t nstmts, next;
	int owns_stmts;                      /* free stmts when done */
	int extended;                        /* from Execute: no RowDescription,
						no ReadyForQuery */
	struct cat_prepared *running;        /* prepared statement executing */
	char *const *params;
	size_t nparams;

	struct {
		enum cat_pending_kind kind;
		uint64_t request_id;
		uint64_t id, version;
		struct cat_schema schema;
		char name[CAT_IDENT_MAX + 1];
		uint64_t *drop_requests;     /* DeleteSecret ids awaited */
		size_t ndrop, ndrop_done;
		struct err drop_error;
		void *conn;                  /* ddl_conn.c's parked statement */
	} pending;
};

int cat_session_init(struct cat_session *s, const struct cat_role *role,
		     const char *database, const char *application_name,
		     uint32_t backend_pid);
void cat_session_free(struct cat_session *s);
/* The ParameterStatus messages sent after AuthenticationOk. */
int cat_session_report_all(const struct cat_session *s, struct pgw_buf *out);

/* One frontend message after startup ('Q', 'P', 'B', 'D', 'E', 'S', 'C',
 * 'H'; 'X' is the server's). The body may be wiped once this returns. */
enum cat_run cat_exec_message(struct cat_ctx *ctx, struct cat_session *s,
			      struct pgw_buf *out, char type,
			      const uint8_t *body, size_t len);

/* Vault events for a parked session. */
int cat_session_waits_on(const struct cat_session *s, uint64_t request_id);
enum cat_run cat_exec_vault_reply(struct cat_ctx *ctx, struct cat_session *s,
				  struct pgw_buf *out, uint64_t request_id,
				  const Tether__Reply *reply);
enum cat_run cat_exec_vault_lost(struct cat_ctx *ctx, struct cat_session *s,
				 struct pgw_buf *out);
enum cat_run cat_exec_vault_ready(struct cat_ctx *ctx, struct cat_session *s,
				  struct pgw_buf *out);

/* Validation job events for a parked session (jobs.c via server.c). */
struct cat_job_result;
int cat_session_waits_on_job(const struct cat_session *s, uint64_t job_id);
enum cat_run cat_exec_job_done(struct cat_ctx *ctx, struct cat_session *s,
			       struct pgw_buf *out, uint64_t job_id,
			       const struct cat_job_result *res);
/* CancelRequest: the job is cancelled, the statement fails with 57014. */
enum cat_run cat_exec_job_cancel(struct cat_ctx *ctx, struct cat_session *s,
				 struct pgw_buf *out);

#endif
