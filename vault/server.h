/* tether-vault's request loop: the supervisor channel (fd 3), the
 * catalog channel (fd 4) and one channel per granted validator job, one
 * handler table per channel, group commit (drain what is readable, apply,
 * one fsync of store and audit log, then every reply). */
#ifndef TETHER_VAULT_SERVER_H
#define TETHER_VAULT_SERVER_H

#include <signal.h>
#include <stdint.h>

#include "grants.h"
#include "ipc.h"
#include "vault.h"

/* Most packets applied between two fsyncs. */
#define VAULT_BATCH_MAX 256
/* Most (object_id, version) pairs one reconciliation may name. */
#define VAULT_RECONCILE_MAX (1u << 20)
/* Most missing ids reported in one ReconcileResult (packet size bound). */
#define VAULT_MISSING_REPORT_MAX 4096
#define VAULT_META_PAGE_DEFAULT 500
#define VAULT_META_PAGE_MAX 1000
/* Data-key rotation: records re-encrypted per step between request
 * batches (each step is one group commit), and progress report spacing. */
#define VAULT_ROTATE_BATCH 64
#define VAULT_ROTATE_REPORT_MS 250

struct vault_pending;
struct vault_vpending;

struct vault_server {
	struct vault *v;
	struct ipc_chan sup;
	struct ipc_chan cat;
	uint64_t cat_generation;        /* channels seen, for logs */
	int64_t rot_reported_ms;        /* last KeyRotationProgress sent */

	struct {                        /* chunked PutSecret being assembled */
		int active;
		uint64_t request_id, object_id, version;
		uint32_t total, received;
		int replace;
		char *name, *role;
		unsigned char *buf;     /* vault_secbuf_alloc(total) */
	} put;
	int put_failed;                 /* discard chunks of failed_request_id */
	uint64_t failed_request_id;

	struct vault_ref *keep;         /* ReconcileBatch items so far */
	size_t nkeep, capkeep;
	uint64_t *ssh_keep;             /* ReconcileBatch ssh_key_owners so far */
	size_t nssh_keep, capssh_keep;
	int ssh_listed;                 /* some batch set ssh_keys_listed */

	struct vault_pending *pending;  /* replies waiting for the fsync */
	size_t npending, cappending;

	struct vault_grants grants;     /* validator jobs (grants.c) */
	struct vault_vpending *vpending;  /* validator answers waiting for the fsync */
	size_t nvpending, capvpending;
};

void vault_server_init(struct vault_server *s, struct vault *v, int sup_fd,
		       int cat_fd);
/* Serves until the supervisor channel closes or *stop is set (checked
 * between batches; signals are only delivered inside ppoll with
 * `poll_mask`). Returns 0 for a clean exit, -1 when the vault must exit
 * with a failure (durability lost, broken invariant). */
int vault_server_run(struct vault_server *s, const sigset_t *poll_mask,
		     volatile sig_atomic_t *stop);
void vault_server_free(struct vault_server *s);

#endif
