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

struct vault {
	char vdir[4096];                /* DIR/vault */
	struct vault_keyring kr;
	struct vault_store store;
	struct vault_store ssh;         /* sshkeys.log: SSH key pairs (ssh.h) */
	struct audit_log audit;
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

/* Plaintext in a vault_secbuf_alloc'd buffer; free with vault_secbuf_free. */
int vault_secret_decrypt(struct vault *v, uint64_t object_id, uint64_t version,
			 unsigned char **out, size_t *len, struct err *e);
/* Decrypts every stored record (and wipes it). */
int vault_verify_all(struct vault *v, struct err *e);

#endif
