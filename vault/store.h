/* The secret store: DIR/vault/secrets.log, an append-only log of
 * checksummed records (PUT ciphertext, DEL) with an in-memory index
 * object id -> versions -> file offset. No SQL engine: the format is small
 * enough to read in full at start-up and to audit by eye. The same framing,
 * recovery and compaction serve DIR/vault/sshkeys.log (vault_store_ssh):
 * RAW records sealed by the caller, one live generation per object. */
#ifndef TETHER_VAULT_STORE_H
#define TETHER_VAULT_STORE_H

#include <stddef.h>
#include <stdint.h>

struct err;
struct vault_keyring;

#define VAULT_STORE_FILE "secrets.log"
#define VAULT_SSH_STORE_FILE "sshkeys.log"
/* Compact once dead bytes exceed live bytes and this many bytes. */
#define VAULT_STORE_COMPACT_MIN (4u * 1024 * 1024)

struct vault_store_entry {
	uint64_t object_id;
	uint64_t version;
	uint32_t term;          /* data key term of the ciphertext */
	uint32_t size;          /* plaintext bytes */
	uint64_t offset;        /* file offset of the PUT frame */
	uint32_t frame_len;     /* bytes of the whole frame */
};

/* Which log a store is: file name, header magic (8 bytes) and record
 * kind. A secrets log holds PUT records (encrypted here, every version
 * kept until deleted); a raw log holds RAW records whose payload the caller
 * sealed, and a RAW record replaces every older record of its object in
 * the index (one frame = one atomic change of the object). */
struct vault_store_kind {
	const char *file;
	const char *magic;
	int raw;
};
extern const struct vault_store_kind vault_store_secrets;
extern const struct vault_store_kind vault_store_ssh;

struct vault_store {
	int fd;
	const struct vault_store_kind *kind;
	char vdir[4096];
	uint64_t end;                   /* append offset == file size */
	uint64_t live_bytes;            /* frames of indexed PUTs */
	uint64_t max_object_id;         /* high-water marks, never lowered */
	uint64_t max_version;
	uint64_t compact_min_dead;      /* VAULT_STORE_COMPACT_MIN; tests lower it */
	uint64_t truncated_bytes;       /* torn tail dropped by the last open */
	uint64_t compactions;
	struct vault_store_entry *entries;  /* sorted by (object_id, version) */
	size_t count, cap;
	int dirty;                      /* appended since the last sync */
	int broken;                     /* durability unknown: refuse writes */
};

/* Opens (creating if absent) vdir/secrets.log, drops a torn tail (logged)
 * and builds the index. A record that checksums but makes no sense is
 * corruption, not a torn write: that fails. */
int vault_store_open(struct vault_store *st, const char *vdir, struct err *e);
/* The same for any kind (vault_store_open is the secrets kind). */
int vault_store_open_kind(struct vault_store *st, const char *vdir,
			  const struct vault_store_kind *kind, struct err *e);
void vault_store_close(struct vault_store *st);

/* Encrypts `len` bytes under the keyring's current term and appends a PUT.
 * `version` must be above every version the store has seen. Not durable
 * until vault_store_sync(). */
int vault_store_put(struct vault_store *st, const struct vault_keyring *kr,
		    uint64_t object_id, uint64_t version,
		    const unsigned char *value, size_t len, struct err *e);
/* Appends DEL(object_id, version) and drops that version from the index;
 * version 0 means every version. *removed (may be NULL) gets the count.
 * Nothing is written when nothing matches. */
int vault_store_delete(struct vault_store *st, uint64_t object_id,
		       uint64_t version, size_t *removed, struct err *e);
/* fsync if anything was appended. A failure marks the store broken. */
int vault_store_sync(struct vault_store *st, struct err *e);
/* Rewrites the live records to a new file if dead bytes warrant it (or
 * always with `force`), crash-safe at every step. */
int vault_store_compact(struct vault_store *st, int force, struct err *e);

/* Decrypts into a vault_secbuf_alloc'd buffer the caller frees with
 * vault_secbuf_free. */
int vault_store_decrypt(const struct vault_store *st,
			const struct vault_keyring *kr, uint64_t object_id,
			uint64_t version, unsigned char **out, size_t *len,
			struct err *e);

/* Data-key rotation: re-encrypts (object_id, version) under the current
 * term as a REPUT frame that replaces the indexed one (no-op when it is
 * already under the current term). Not durable until vault_store_sync();
 * a crash before that leaves the old frame in force. */
int vault_store_reput(struct vault_store *st, const struct vault_keyring *kr,
		      uint64_t object_id, uint64_t version, struct err *e);

/* Raw stores: appends RAW(object_id, version, term, payload) and makes it
 * the object's only live record (older ones leave the index in the same
 * frame). `version` must be above every version seen. Not durable until
 * vault_store_sync(). */
int vault_store_put_raw(struct vault_store *st, uint64_t object_id,
			uint64_t version, uint32_t term,
			const unsigned char *payload, size_t len, struct err *e);
/* The live RAW record of object_id: its payload in a malloc'd buffer (free
 * with vault_store_raw_free, which wipes), its version and term. Returns 1,
 * 0 when the object has none, -1 on error. */
int vault_store_read_raw(const struct vault_store *st, uint64_t object_id,
			 unsigned char **payload, size_t *len, uint64_t *version,
			 uint32_t *term, struct err *e);
void vault_store_raw_free(unsigned char *payload, size_t len);

/* Index lookups. */
const struct vault_store_entry *vault_store_find(const struct vault_store *st,
						 uint64_t object_id,
						 uint64_t version);
/* Index of the first entry with object_id > after. */
size_t vault_store_first_after(const struct vault_store *st, uint64_t after);

#endif
