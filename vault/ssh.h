/* SSH key pairs of SSH TUNNEL connections: two Ed25519 pairs per
 * connection (slot 1 = primary, slot 2 = secondary), generated here, kept
 * sealed in sshkeys.log, never returned: only public keys, fingerprints
 * and signatures over SSH userauth requests leave the vault. */
#ifndef TETHER_VAULT_SSH_H
#define TETHER_VAULT_SSH_H

#include <stddef.h>
#include <stdint.h>

struct err;
struct vault;
struct vault_actor;

#define VAULT_SSH_SLOTS 2
#define VAULT_SSH_PK_BYTES 32
#define VAULT_SSH_SIG_BYTES 64
/* u32 11 | "ssh-ed25519" | u32 32 | pk */
#define VAULT_SSH_BLOB_BYTES 51
/* "ssh-ed25519 " + base64(blob) (68) + " tether" + NUL */
#define VAULT_SSH_LINE_MAX 96
/* "SHA256:" + unpadded base64 of 32 bytes (43) + NUL */
#define VAULT_SSH_FP_MAX 56
#define VAULT_SSH_COMMENT "tether"

struct vault_ssh_pubkeys {
	uint64_t object_id;
	uint64_t generation;            /* of the record; grows on rotation */
	unsigned char pk[VAULT_SSH_SLOTS][VAULT_SSH_PK_BYTES];  /* [0] = slot 1 */
};

/* Two fresh pairs for object_id (which must have none), sealed and
 * appended with the audit record "ssh_keys_generated"; durable after
 * vault_sync(). */
int vault_ssh_generate(struct vault *v, uint64_t object_id,
		       const struct vault_actor *who,
		       struct vault_ssh_pubkeys *out, struct err *e);
/* Slot 2 becomes slot 1, a fresh pair becomes slot 2, the old slot 1 is
 * gone: one record ("ssh_keys_rotated"). The object must have keys. */
int vault_ssh_rotate(struct vault *v, uint64_t object_id,
		     const struct vault_actor *who,
		     struct vault_ssh_pubkeys *out, struct err *e);
/* Destroys both pairs ("ssh_keys_deleted"); deleting nothing is not an
 * error (it is audited all the same). */
int vault_ssh_delete(struct vault *v, uint64_t object_id,
		     const struct vault_actor *who, struct err *e);
/* Data-key rotation: seals both pairs of object_id again under the
 * current term (same keys, new generation, one frame, not audited per
 * object; the rotation is). Not durable until vault_sync(). */
int vault_ssh_reseal(struct vault *v, uint64_t object_id, struct err *e);
/* Public keys of object_id: 1, 0 when it has none, -1 on error. */
int vault_ssh_public_keys(struct vault *v, uint64_t object_id,
			  struct vault_ssh_pubkeys *out, struct err *e);

struct vault_ssh_reconcile_result {
	uint32_t shredded;
	uint64_t *missing;              /* named owners without key pairs */
	size_t nmissing;
	uint64_t max_object_id;         /* highest object id sshkeys.log saw */
};
/* Shreds the pairs of every object not in owners[] (sorted in place) and
 * reports owners without pairs. Free r with vault_ssh_reconcile_free. */
int vault_ssh_reconcile(struct vault *v, uint64_t *owners, size_t n,
			struct vault_ssh_reconcile_result *r, struct err *e);
void vault_ssh_reconcile_free(struct vault_ssh_reconcile_result *r);

/* An SSH_MSG_USERAUTH_REQUEST "publickey" signing input (RFC 4252 7):
 *   string session_id | byte 50 | string user | string "ssh-connection" |
 *   string "publickey" | bool TRUE | string "ssh-ed25519" | string blob
 * Pointers are into the parsed buffer. */
struct vault_ssh_userauth {
	const unsigned char *session_id;
	size_t session_id_len;
	const char *user;               /* not NUL-terminated */
	size_t user_len;
	const unsigned char *blob;      /* VAULT_SSH_BLOB_BYTES, well-formed */
	const unsigned char *pk;        /* the key inside blob */
};
#define VAULT_SSH_SESSION_ID_MIN 20  /* SHA-1 exchange hash */
#define VAULT_SSH_SESSION_ID_MAX 64  /* SHA-512 */
#define VAULT_SSH_USER_MAX 256
/* 0 if `data` is exactly such a request with an ssh-ed25519 key blob
 * (nothing before, nothing after), else -1. Pure: no vault state, so
 * fuzz targets call it directly. */
int vault_ssh_parse_userauth(const unsigned char *data, size_t len,
			     struct vault_ssh_userauth *out);

/* Signs `data` with the private key of `slot` (1 or 2) of object_id, only
 * if `data` parses as a userauth request whose key blob is that slot's
 * public key: the vault is no general signing oracle. sig gets the raw
 * 64-byte Ed25519 signature (what libssh2's sign callback returns). The
 * caller audits the release (it knows the grant, job and destination). */
int vault_ssh_sign(struct vault *v, uint64_t object_id, int slot,
		   const unsigned char *data, size_t len,
		   unsigned char sig[VAULT_SSH_SIG_BYTES], struct err *e);

/* Formatting (public material only). */
void vault_ssh_blob(const unsigned char pk[VAULT_SSH_PK_BYTES],
		    unsigned char blob[VAULT_SSH_BLOB_BYTES]);
/* "ssh-ed25519 AAAA... tether" */
void vault_ssh_authorized_key(const unsigned char pk[VAULT_SSH_PK_BYTES],
			      char out[VAULT_SSH_LINE_MAX]);
/* "SHA256:..." as ssh-keygen -l prints it. */
void vault_ssh_fingerprint(const unsigned char pk[VAULT_SSH_PK_BYTES],
			   char out[VAULT_SSH_FP_MAX]);

#endif
