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

/* Public keys from an SshPublicKeys answer (authorized_keys lines), kept
 * until the session that asked takes them. */
#define CAT_VAULT_SSH_LINE_MAX 128
#define CAT_VAULT_SSH_STASH 16
struct cat_vault_ssh_keys {
	uint64_t request_id;            /* 0 = free stash slot */
	uint64_t object_id;
	char public_key_1[CAT_VAULT_SSH_LINE_MAX];
	char public_key_2[CAT_VAULT_SSH_LINE_MAX];
};

struct cat_vault {
	struct ipc_chan chan;
	enum cat_vault_state state;
	uint64_t next_request_id;
	uint64_t reconcile_request_id;
	struct cat_vault_pkt *head, *tail;      /* packets not yet sent */
	size_t queued;
	/* From the last ReconcileResult: counters must stay above these. */
	uint64_t max_object_id, max_version;
	struct cat_vault_ssh_keys ssh_stash[CAT_VAULT_SSH_STASH];
	size_t ssh_stash_next;                  /* ring position */
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
/* ALTER SYSTEM ROTATE {DATA | MASTER} KEY: kind "data" | "master";
 * answered by a Reply (request_id). */
int cat_vault_rotate_key(struct cat_vault *v, const char *kind, const char *role,
			 uint64_t *request_id);

/* SSH key pairs of an SSH TUNNEL connection (the vault generates, keeps and
 * signs with the private halves; only public keys come back).
 * - generate (CREATE CONNECTION ... TO SSH TUNNEL, before the catalog row
 *   is committed, like PutSecret) and rotate (ALTER ... ROTATE KEYS) are
 *   answered with SshPublicKeys, or with a Reply{ok=false} on failure.
 *   server.c stashes SshPublicKeys (cat_vault_ssh_keys_arrived) and resumes
 *   the parked session exactly as for a Reply{ok=true} with that
 *   request_id; the session then calls cat_vault_take_ssh_keys(request_id)
 *   to get the two lines for its catalog row.
 * - delete (after DROP committed, like DeleteSecret) answers a Reply.
 * - get answers SshPublicKeys (or Reply 42704): the vault's current public
 *   keys, e.g. to repair a row after a crash between a vault rotation and
 *   the catalog commit.
 * A CREATE that fails after its generate must delete the keys (or leave
 * them to the next reconciliation, which shreds keys of uncommitted ids).
 * request_id (may be NULL) gets the id to wait on. */
int cat_vault_generate_ssh_keys(struct cat_vault *v, uint64_t id, const char *name,
				const char *role, uint64_t *request_id);
int cat_vault_rotate_ssh_keys(struct cat_vault *v, uint64_t id, const char *name,
			      const char *role, uint64_t *request_id);
int cat_vault_delete_ssh_keys(struct cat_vault *v, uint64_t id, const char *name,
			      const char *role, uint64_t *request_id);
int cat_vault_get_ssh_public_keys(struct cat_vault *v, uint64_t id,
				  uint64_t *request_id);
/* Stashes an SshPublicKeys answer (the oldest unclaimed one is dropped
 * when the stash is full). Returns 0, or -1 (logged, not stashed) when the
 * lines are not well-formed ssh-ed25519 authorized_keys lines. */
int cat_vault_ssh_keys_arrived(struct cat_vault *v, uint64_t request_id,
			       const Tether__SshPublicKeys *k);
/* Takes (and forgets) the keys that answered request_id: 1, or 0 if none. */
int cat_vault_take_ssh_keys(struct cat_vault *v, uint64_t request_id,
			    struct cat_vault_ssh_keys *out);

/* Applies a ReconcileResult: logs shredded and missing ids, records the
 * maxima, and makes the channel READY. */
void cat_vault_reconciled(struct cat_vault *v, const Tether__ReconcileResult *r);
/* VaultStatusRequest (status.c): answered by VaultStatus, no Reply. */
int cat_vault_request_status(struct cat_vault *v, uint64_t *request_id);

#endif
