/* The vault's public operations: the keyring, the secret store and the
 * audit chain bound together, so every change to a secret is audited in
 * the same group commit (vault_sync) that makes it durable. Nothing here
 * returns a secret value across the IPC boundary; vault_secret_decrypt is
 * for grants (later), start-up checks and tests. */
#ifndef TETHER_VAULT_H
#define TETHER_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "keyring.h"
#include "store.h"

struct err;

/* A data-key rotation (rotate.c): re-encryption of every record under
 * an older term, in bounded steps between request batches. */
struct vault_rotation {
	int active;                     /* records may still be under old terms */
	uint32_t term;                  /* the term everything moves to */
	uint64_t total, done;           /* records to re-encrypt / done */
	int64_t started_at, finished_at;  /* unix ms; 0 = not yet */
	const char *state;              /* "idle", "running", "done", "failed" */
	uint64_t cur_obj, cur_ver;      /* secrets.log: done up to this key */
	uint64_t cur_ssh;               /* sshkeys.log: done up to this object */
	uint64_t logged;                /* done at the last progress log line */
	int changed;                    /* progress not yet reported */
};

struct vault {
	char vdir[4096];                /* DIR/vault */
	struct vault_keyring kr;
	struct vault_store store;
	struct vault_store ssh;         /* sshkeys.log: SSH key pairs (ssh.h) */
	struct audit_log audit;
	struct vault_rotation rot;
};

/* Who asked, for the audit record (strings may be NULL or empty). */
struct vault_actor {
	const char *role;
	const char *name;               /* object name, never the value */
};

struct vault_ref {
	uint64_t object_id;
	uint64_t version;
};

struct vault_reconcile_result {
	uint32_t shredded;
	uint64_t *missing;              /* object ids without a ciphertext */
	size_t nmissing;
	uint64_t max_object_id;
	uint64_t max_version;
};

/* Opens DIR/vault (which must exist, mode 0700): master key (created on a
 * first start), keyring, store, audit log; appends and syncs vault_start. */
int vault_open(struct vault *v, const char *data_dir, struct err *e);
void vault_close(struct vault *v);

/* Stores a value (replace = ALTER SECRET ... AS) and audits it. */
int vault_secret_put(struct vault *v, uint64_t object_id, uint64_t version,
		     const unsigned char *value, size_t len, int replace,
		     const struct vault_actor *who, struct err *e);
/* The catalog committed `version`: shred older versions (audited). */
int vault_secret_commit(struct vault *v, uint64_t object_id, uint64_t version,
			struct err *e);
/* Destroys every version (audited). Deleting nothing is not an error. */
int vault_secret_delete(struct vault *v, uint64_t object_id,
			const struct vault_actor *who, struct err *e);
/* Shreds every stored version not named in keep[] (sorted in place) and
 * reports named pairs that have no ciphertext. Free r with
 * vault_reconcile_result_free. */
int vault_reconcile(struct vault *v, struct vault_ref *keep, size_t n,
		    struct vault_reconcile_result *r, struct err *e);
void vault_reconcile_result_free(struct vault_reconcile_result *r);
/* Any other audit record (ddl, request_denied, ...). */
int vault_audit(struct vault *v, const char *event,
		const struct audit_field *fields, size_t n, struct err *e);

/* Group commit: fsync the store, then the audit log, then compact if
 * worthwhile. On failure the vault is broken (see vault_broken). */
int vault_sync(struct vault *v, struct err *e);
int vault_broken(const struct vault *v);

/* Key rotation (rotate.c). Data key: a new term becomes current
 * (durable, audited) and the rotation is active; vault_rotate_step then
 * re-encrypts up to `max` records per call (call it between request
 * batches, then vault_sync) and, once nothing uses an older term, compacts
 * both stores and destroys the old terms. A rotation cut by a crash
 * resumes at vault_open (the keyring still holds old terms). Returns 1
 * while work remains, 0 when idle, -1 on error (55006 when one is already
 * running). Master key: re-wraps the keyring under a new master key
 * (keyring.c's crash-safe protocol) and audits it. */
int vault_rotate_data_key(struct vault *v, const struct vault_actor *who,
			  struct err *e);
int vault_rotate_step(struct vault *v, size_t max, struct err *e);
int vault_rotate_master_key(struct vault *v, const struct vault_actor *who,
			    struct err *e);
/* Called by vault_open: an interrupted rotation becomes active again. */
int vault_rotate_resume(struct vault *v, struct err *e);
/* Records still under a term other than the current one. */
uint64_t vault_rotate_count_old(const struct vault *v);

/* Plaintext in a vault_secbuf_alloc'd buffer; free with vault_secbuf_free. */
int vault_secret_decrypt(struct vault *v, uint64_t object_id, uint64_t version,
			 unsigned char **out, size_t *len, struct err *e);
/* Decrypts every stored record (and wipes it). */
int vault_verify_all(struct vault *v, struct err *e);

#endif
