/* The audit chain: DIR/vault/audit.log, one text line per record,
 *   seq=N ts=ISO8601 event=E key=value ... prev=<hex> hash=<hex>
 * where hash is BLAKE2b-256 of the line up to (excluding) " hash=" and prev
 * is the previous line's hash (64 zeros for the first). Editing, deleting
 * or reordering a line breaks the chain at that record. Values never carry
 * secret material (names and ids only). */
#ifndef TETHER_VAULT_AUDIT_H
#define TETHER_VAULT_AUDIT_H

#include <stddef.h>
#include <stdint.h>

struct err;

#define VAULT_AUDIT_FILE "audit.log"
#define AUDIT_HASH_BYTES 32
#define AUDIT_MAX_LINE 8192
#define AUDIT_MAX_VALUE 1024     /* longer values are cut (they are labels) */

struct audit_field {
	const char *key;        /* [a-z_]+, from code */
	const char *value;      /* quoted when needed; may be NULL (skipped) */
};

struct audit_log {
	int fd;
	uint64_t seq;                           /* of the last record */
	unsigned char prev[AUDIT_HASH_BYTES];   /* hash of the last record */
	uint64_t end;
	uint64_t truncated_bytes;               /* torn tail dropped at open */
	int dirty;
	int broken;
};

/* Opens (creating if absent) vdir/audit.log, drops a torn last line
 * (logged) and checks that the last complete line verifies, then continues
 * the chain from it. */
int audit_open(struct audit_log *a, const char *vdir, struct err *e);
void audit_close(struct audit_log *a);
/* Appends one record; durable after audit_sync(). */
int audit_append(struct audit_log *a, const char *event,
		 const struct audit_field *fields, size_t nfields, struct err *e);
int audit_sync(struct audit_log *a, struct err *e);

/* Walks the whole chain of `path`. Returns the number of records, or -1
 * with `e` naming the first bad record ("record N: ..."); *bad_record (may
 * be NULL) gets N (1-based), 0 when the file itself cannot be read. */
int64_t audit_verify_file_at(const char *path, uint64_t *bad_record, struct err *e);
int64_t audit_verify_file(const char *path, struct err *e);

#endif
