/* The audit chain: DIR/vault/audit.log, one text line per record,
 *   seq=N ts=ISO8601 event=E key=value ... prev=<hex> hash=<hex>
 * where hash is BLAKE2b-256 of the line up to (excluding) " hash=" and prev
 * is the previous line's hash (64 zeros for the very first). Editing,
 * deleting or reordering a line breaks the chain at that record. Values
 * never carry secret material (names and ids only).
 * Signed checkpoints: a record
 *   event=checkpoint records=N reason=R key=<key id> sig=<128 hex>
 * whose sig is Ed25519 (the vault's audit key) over
 *   "tether-audit-checkpoint-v1" || u64 seq || prev[32]
 * (little endian; seq = the checkpoint's own, prev = hash of the record
 * before it), so it seals every record before it. Rotation by size: the
 * file ends with a checkpoint, is renamed audit.log.K (K = 1, 2, ...,
 * oldest first) and the new audit.log's first record (event=log_continued)
 * carries the next seq and links to the last hash of audit.log.K. */
#ifndef TETHER_VAULT_AUDIT_H
#define TETHER_VAULT_AUDIT_H

#include <stddef.h>
#include <stdint.h>

struct err;
struct vault_key;

#define VAULT_AUDIT_FILE "audit.log"
#define VAULT_AUDIT_PUB_FILE "audit.pub"
#define AUDIT_HASH_BYTES 32
#define AUDIT_PK_BYTES 32
#define AUDIT_MAX_LINE 8192
#define AUDIT_MAX_VALUE 1024     /* longer values are cut (they are labels) */
/* Checkpoint policy (audit_sync): after this many records, at every group
 * commit holding a release/signature/key operation (one checkpoint per
 * commit at most: one Ed25519 signature and ~300 bytes in the same fsync),
 * before a rotation and at clean shutdown. */
#define AUDIT_CHECKPOINT_EVERY 1000
#define AUDIT_ROTATE_BYTES (64ull * 1024 * 1024)
#define AUDIT_MAX_FILES 100000

struct audit_field {
	const char *key;        /* [a-z_]+, from code */
	const char *value;      /* quoted when needed; may be NULL (skipped) */
};

struct audit_log {
	int fd;
	char vdir[4096];
	uint64_t seq;                           /* of the last record */
	unsigned char prev[AUDIT_HASH_BYTES];   /* hash of the last record */
	uint64_t end;
	uint64_t truncated_bytes;               /* torn tail dropped at open */
	uint32_t rotated;                       /* audit.log.1 .. .rotated exist */
	uint64_t since_checkpoint;              /* records after the last one */
	uint64_t checkpoint_every;              /* AUDIT_CHECKPOINT_EVERY */
	uint64_t rotate_bytes;                  /* AUDIT_ROTATE_BYTES; tests lower it */
	int want_checkpoint;                    /* a release etc. since the last */
	const struct vault_key *seed;           /* signer (NULL: no checkpoints) */
	unsigned char pk[AUDIT_PK_BYTES];
	int dirty;
	int broken;
};

/* Opens (creating if absent) vdir/audit.log, drops a torn last line
 * (logged) and checks that the last complete line verifies, then continues
 * the chain from it (from the newest audit.log.K when audit.log is empty or
 * missing after a rotation cut short). */
int audit_open(struct audit_log *a, const char *vdir, struct err *e);
/* The signing key for checkpoints: an Ed25519 seed in locked memory (the
 * keyring's audit key, which outlives the log). pk is derived. */
void audit_set_signer(struct audit_log *a, const struct vault_key *seed);
void audit_close(struct audit_log *a);
/* Appends one record; durable after audit_sync(). */
int audit_append(struct audit_log *a, const char *event,
		 const struct audit_field *fields, size_t nfields, struct err *e);
/* Appends a signed checkpoint now (reason: "interval", "release",
 * "shutdown", "rotate", ...). No-op without a signer or when the last
 * record is already a checkpoint. */
int audit_checkpoint(struct audit_log *a, const char *reason, struct err *e);
/* Group commit of the log: the checkpoint the policy asks for, fsync, and
 * a rotation when the file passed rotate_bytes. */
int audit_sync(struct audit_log *a, struct err *e);

/* vdir/audit.pub: "ssh-ed25519 <base64 blob> tether-audit\n" (rewritten
 * atomically when it differs). */
int audit_export_pubkey(const struct audit_log *a, const char *vdir, struct err *e);
/* Parses a public key: an OpenSSH "ssh-ed25519 AAAA... [comment]" line,
 * the plain base64 of the 32 bytes, or 64 hex digits; the contents of a
 * file when `text` names one that exists. 0 or -1 (e set). */
int audit_pubkey_parse(const char *text, unsigned char pk[AUDIT_PK_BYTES], struct err *e);
/* 16 hex digits naming a key (BLAKE2b of pk), as checkpoints carry it. */
void audit_key_id(const unsigned char pk[AUDIT_PK_BYTES], char out[17]);

/* Offline verification of one or more files of one chain, oldest first
 * (audit.log.1 ... audit.log). */
struct audit_verify_report {
	uint64_t records;               /* records read and verified */
	uint64_t first_seq, last_seq;
	uint64_t checkpoints;           /* checkpoints seen (signature checked
					   when a key was given) */
	uint64_t last_checkpoint_seq;   /* 0 = none */
	uint64_t unsealed;              /* records after the last checkpoint */
	int signatures_checked;         /* a public key was given */
	int anchored;                   /* the chain starts at seq 1 */
	/* On failure: */
	int ok;
	size_t bad_file;                /* index into paths */
	uint64_t bad_record;            /* 1-based line number in that file */
	uint64_t bad_seq;               /* seq the record should have had */
	char problem[256];
};
/* Returns 0 when every record verifies (unsealed records are not an
 * error: they are counted), -1 with `out` and `e` naming the first bad
 * record ("<path>: record N (seq S): <problem>"). Detects: an edited
 * record (hash), a deleted, inserted or moved record (seq / prev), a torn
 * or truncated record, a file missing, reordered or cut before its closing
 * checkpoint (the next file's link, or the missing checkpoint), and, with
 * a public key, a checkpoint that does not verify under it. */
int audit_verify_files(const char *const *paths, size_t n,
		       const unsigned char *pubkey32_or_NULL,
		       struct audit_verify_report *out, struct err *e);

/* Walks the whole chain of one file (no signatures). Returns the number
 * of records, or -1 with `e` naming the first bad record ("record N:
 * ..."); *bad_record (may be NULL) gets N (1-based), 0 when the file
 * itself cannot be read. */
int64_t audit_verify_file_at(const char *path, uint64_t *bad_record, struct err *e);
int64_t audit_verify_file(const char *path, struct err *e);

#endif
