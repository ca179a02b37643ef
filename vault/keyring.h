/* The vault's key hierarchy: DIR/vault/master.key (32 random bytes, 0400)
 * wraps the data keys in DIR/vault/keyring, one per term. New secrets are
 * written under the current term; older terms stay readable so that data-key
 * rotation can add a term and re-wrap records online, and master-key
 * rotation only has to re-wrap this small file. */
#ifndef TETHER_VAULT_KEYRING_H
#define TETHER_VAULT_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include "keymem.h"

struct err;

#define VAULT_MASTER_KEY_FILE "master.key"
#define VAULT_KEYRING_FILE "keyring"
#define VAULT_KEYRING_MAX_TERMS 1024

struct vault_keyring_term {
	uint32_t term;
	struct vault_key key;
};

struct vault_keyring {
	struct vault_key master;
	struct vault_key audit_seed;       /* Ed25519 seed of the audit key */
	uint32_t current;                  /* term for new writes */
	size_t count;
	struct vault_keyring_term *terms;  /* ascending by term */
};

/* Reads vdir/master.key, creating it if absent and `create` is set.
 * Refuses a key file with group/other permission bits, another owner, or
 * a size other than 32 bytes. */
int vault_master_key_load(struct vault_key *k, const char *vdir, int create,
			  struct err *e);

/* Loads the master key and the keyring under vdir. With `create`, a
 * missing master key and/or keyring is initialised (term 1); without it,
 * a missing keyring is an error (secrets exist that need it). */
int vault_keyring_open(struct vault_keyring *kr, const char *vdir, int create,
		       struct err *e);
/* Writes the keyring atomically, wrapping every data key with kr->master. */
int vault_keyring_save(const struct vault_keyring *kr, const char *vdir,
		       struct err *e);
/* Data-key rotation, step one: a fresh data key under term current+1,
 * saved before it becomes current. */
int vault_keyring_add_term(struct vault_keyring *kr, const char *vdir,
			   struct err *e);
/* Data-key rotation, last step: once no record uses an older term, the
 * keyring is saved with the current term only, then the old keys are
 * wiped. *dropped (may be NULL) gets how many went. */
int vault_keyring_drop_old_terms(struct vault_keyring *kr, const char *vdir,
				 size_t *dropped, struct err *e);
uint32_t vault_keyring_oldest_term(const struct vault_keyring *kr);
/* Master-key rotation: a new master key re-wraps the keyring (data keys
 * and the audit key); crash-safe at every step, see keyring.c for the
 * protocol. vault_keyring_recover finishes or undoes a rotation that was
 * cut short (vault_keyring_open calls it first). */
int vault_keyring_rotate_master(struct vault_keyring *kr, const char *vdir,
				struct err *e);
int vault_keyring_recover(const char *vdir, struct err *e);
/* Tests only: called after step 1..4 of a master rotation (a hook that
 * _exit()s simulates a crash there). NULL in production. */
extern void (*vault_keyring_test_hook)(int step);
/* The data key of `term`, or NULL. */
const struct vault_key *vault_keyring_key(const struct vault_keyring *kr,
					  uint32_t term);
void vault_keyring_close(struct vault_keyring *kr);

#endif
