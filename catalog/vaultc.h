/* The catalog's end of the catalog<->vault channel: a non-blocking queue of
 * packed envelopes (one per SEQPACKET packet), request ids, and the
 * reconciliation that opens every new channel. Nothing the vault sends back
 * ever holds a secret value (proto/ipc.c permit table). */
#ifndef TETHER_CAT_VAULTC_H
#define TETHER_CAT_VAULTC_H

#include <stddef.h>
#include <stdint.h>

#include "ipc.h"
#include "store.h"

enum cat_vault_state {
	CAT_VAULT_DOWN,         /* no channel: vault-backed statements fail */
	CAT_VAULT_RECONCILING,  /* channel up, ReconcileResult not yet in */
	CAT_VAULT_READY,
};

struct cat_vault_pkt;

struct cat_vault {
	struct ipc_chan chan;
	enum cat_vault_state state;
	uint64_t next_request_id;
	uint64_t reconcile_request_id;
	struct cat_vault_pkt *head, *tail;      /* packets not yet sent */
	size_t queued;
	/* From the last ReconcileResult: counters must stay above these. */
	uint64_t max_object_id, max_version;
};

void cat_vault_init(struct cat_vault *v);

/* Adopts a (new) channel fd: closes the old one, makes it non-blocking and
 * queues the reconciliation batches (the committed secrets in `store`). */
int cat_vault_attach(struct cat_vault *v, int fd, struct cat_store *store,
		     struct err *e);
/* Closes the channel and drops unsent packets (wiped). */
void cat_vault_close(struct cat_vault *v);

/* Sends what the socket takes. -1 if the channel broke. */
int cat_vault_flush(struct cat_vault *v);
int cat_vault_wants_write(const struct cat_vault *v);

/* Queues a value as PutSecret chunks (IPC_CHUNK_SIZE). The caller wipes its
 * copy of the value afterwards; the queued packets are wiped once sent. */
int cat_vault_put_secret(struct cat_vault *v, uint64_t id, uint64_t version,
			 const uint8_t *value, size_t len, const char *name,
			 const char *role, int replace, uint64_t *request_id);
int cat_vault_delete_secret(struct cat_vault *v, uint64_t id, const char *name,
			    const char *role, uint64_t *request_id);
int cat_vault_commit_secret(struct cat_vault *v, uint64_t id, uint64_t version);
int cat_vault_audit(struct cat_vault *v, const char *event, const char *role,
		    const char *object_id, const char *detail);

/* Applies a ReconcileResult: logs shredded and missing ids, records the
 * maxima, and makes the channel READY. */
void cat_vault_reconciled(struct cat_vault *v, const Tether__ReconcileResult *r);

#endif
