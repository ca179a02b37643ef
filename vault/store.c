/* secrets.log: format, recovery, append, compaction. Little endian.
 *   header (40): "TSECLOG1" | u64 max_object_id | u64 max_version |
 *                BLAKE2b-128 of the first 24 bytes
 *   frame: u32 body_len | BLAKE2b-256(body_len || body) | body
 *   PUT body: u8 1 | u64 object_id | u64 version | u32 term | nonce[24] |
 *             XChaCha20-Poly1305 ciphertext (plaintext + 16)
 *   DEL body: u8 2 | u64 object_id | u64 version (0 = every version)
 *   REPUT body: u8 4 | as PUT: the same (object_id, version) re-encrypted
 *             under a newer term by a data-key rotation; it replaces the
 *             indexed frame of that version (the old frame is dead bytes,
 *             gone at the next compaction)
 *   RAW body: u8 3 | u64 object_id | u64 version | u32 term | payload
 *             (raw kinds only, e.g. sshkeys.log with magic "TSSHLOG1": the
 *             caller sealed the payload; the record replaces every older
 *             record of its object)
 * AEAD AD = "tether-secret-v1" || u64 object_id || u64 version || u32 term,
 * so a ciphertext moved to another id, version or term does not decrypt. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "fsutil.h"
#include "ipc.h"
#include "keyring.h"
#include "log.h"

#define ST_HEADER 40u
#define ST_FRAME_HDR (4u + 32u)
#define ST_PUT 1
#define ST_DEL 2
#define ST_RAW 3
#define ST_REPUT 4
#define ST_RAW_FIXED (1u + 8u + 8u + 4u)
#define ST_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define ST_TAG crypto_aead_xchacha20poly1305_ietf_ABYTES
#define ST_PUT_FIXED (1u + 8u + 8u + 4u + ST_NONCE)
#define ST_DEL_BODY (1u + 8u + 8u)
#define ST_MAX_BODY (ST_PUT_FIXED + IPC_MAX_SECRET + ST_TAG)
#define ST_AD "tether-secret-v1"
#define ST_AD_LEN (sizeof(ST_AD) - 1 + 8 + 8 + 4)

const struct vault_store_kind vault_store_secrets = {
	VAULT_STORE_FILE, "TSECLOG1", 0 };
const struct vault_store_kind vault_store_ssh = {
	VAULT_SSH_STORE_FILE, "TSSHLOG1", 1 };

static void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void secret_ad(unsigned char ad[ST_AD_LEN], uint64_t object_id,
		      uint64_t version, uint32_t term)
{
	memcpy(ad, ST_AD, sizeof(ST_AD) - 1);
	put_u64(ad + sizeof(ST_AD) - 1, object_id);
	put_u64(ad + sizeof(ST_AD) - 1 + 8, version);
	put_u32(ad + sizeof(ST_AD) - 1 + 16, term);
}

/* Checksum over the length prefix and the body: a torn or zero-filled
 * tail never passes. */
static void frame_checksum(const unsigned char len4[4], const unsigned char *body,
			   size_t body_len, unsigned char out[32])
{
	crypto_generichash_state s;

	crypto_generichash_init(&s, NULL, 0, 32);
	crypto_generichash_update(&s, len4, 4);
	crypto_generichash_update(&s, body, body_len);
	crypto_generichash_final(&s, out, 32);
}

static void header_build(unsigned char h[ST_HEADER], const char *magic,
			 uint64_t max_obj, uint64_t max_ver)
{
	memcpy(h, magic, 8);
	put_u64(h + 8, max_obj);
	put_u64(h + 16, max_ver);
	crypto_generichash(h + 24, 16, h, 24, NULL, 0);
}

/* ---- index ---- */

static int entry_cmp(uint64_t oa, uint64_t va, uint64_t ob, uint64_t vb)
{
	if (oa != ob)
		return oa < ob ? -1 : 1;
	if (va != vb)
		return va < vb ? -1 : 1;
	return 0;
}

/* Position of (object_id, version), or where it would be inserted. */
static size_t index_lower_bound(const struct vault_store *st, uint64_t object_id,
				uint64_t version)
{
	size_t lo = 0, hi = st->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct vault_store_entry *m = &st->entries[mid];
		if (entry_cmp(m->object_id, m->version, object_id, version) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct vault_store_entry *vault_store_find(const struct vault_store *st,
						 uint64_t object_id,
						 uint64_t version)
{
	size_t i = index_lower_bound(st, object_id, version);

	if (i < st->count && st->entries[i].object_id == object_id &&
	    st->entries[i].version == version)
		return &st->entries[i];
	return NULL;
}

size_t vault_store_first_after(const struct vault_store *st, uint64_t after)
{
	if (after == UINT64_MAX)
		return st->count;
	return index_lower_bound(st, after + 1, 0);
}

static int index_insert(struct vault_store *st, const struct vault_store_entry *ent,
			struct err *e)
{
	size_t i = index_lower_bound(st, ent->object_id, ent->version);

	if (i < st->count && st->entries[i].object_id == ent->object_id &&
	    st->entries[i].version == ent->version)
		return err_set(e, "XX000",
			       "internal error: vault: u%llu version %llu stored twice",
			       (unsigned long long)ent->object_id,
			       (unsigned long long)ent->version);
	if (st->count == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 64;
		struct vault_store_entry *n = realloc(st->entries, cap * sizeof(*n));
		if (!n)
			return err_set(e, "XX000", "internal error: vault: out of memory");
		st->entries = n;
		st->cap = cap;
	}
	memmove(&st->entries[i + 1], &st->entries[i],
		(st->count - i) * sizeof(*ent));
	st->entries[i] = *ent;
	st->count++;
	st->live_bytes += ent->frame_len;
	return 0;
}

/* Removes (object_id, version) or, with version 0, every version. */
static size_t index_remove(struct vault_store *st, uint64_t object_id,
			   uint64_t version)
{
	size_t i = index_lower_bound(st, object_id, version ? version : 0);
	size_t j = i;

	while (j < st->count && st->entries[j].object_id == object_id &&
	       (version == 0 || st->entries[j].version == version)) {
		st->live_bytes -= st->entries[j].frame_len;
		j++;
	}
	if (j == i)
		return 0;       /* nothing (and entries may still be NULL) */
	memmove(&st->entries[i], &st->entries[j], (st->count - j) * sizeof(st->entries[0]));
	st->count -= j - i;
	return j - i;
}

static void note_ids(struct vault_store *st, uint64_t object_id, uint64_t version)
{
	if (object_id > st->max_object_id)
		st->max_object_id = object_id;
	if (version > st->max_version)
		st->max_version = version;
}

/* ---- open and recovery ---- */

static int store_create(const char *vdir, const struct vault_store_kind *kind,
			struct err *e)
{
	unsigned char h[ST_HEADER];

	header_build(h, kind->magic, 0, 0);
	return vault_write_file_atomic(vdir, kind->file, h, sizeof(h), 0600, e);
}

/* Applies one checksummed frame body to the index. */
static int store_apply(struct vault_store *st, const unsigned char *body,
		       uint32_t body_len, uint64_t offset, struct err *e)
{
	struct vault_store_entry ent;

	if (body[0] == ST_PUT && !st->kind->raw && body_len >= ST_PUT_FIXED + ST_TAG) {
		ent.object_id = get_u64(body + 1);
		ent.version = get_u64(body + 9);
		ent.term = get_u32(body + 17);
		ent.size = body_len - ST_PUT_FIXED - ST_TAG;
		ent.offset = offset;
		ent.frame_len = ST_FRAME_HDR + body_len;
		note_ids(st, ent.object_id, ent.version);
		return index_insert(st, &ent, e);
	}
	if (body[0] == ST_REPUT && !st->kind->raw && body_len >= ST_PUT_FIXED + ST_TAG) {
		ent.object_id = get_u64(body + 1);
		ent.version = get_u64(body + 9);
		ent.term = get_u32(body + 17);
		ent.size = body_len - ST_PUT_FIXED - ST_TAG;
		ent.offset = offset;
		ent.frame_len = ST_FRAME_HDR + body_len;
		note_ids(st, ent.object_id, ent.version);
		index_remove(st, ent.object_id, ent.version);
		return index_insert(st, &ent, e);
	}
	if (body[0] == ST_RAW && st->kind->raw && body_len > ST_RAW_FIXED) {
		ent.object_id = get_u64(body + 1);
		ent.version = get_u64(body + 9);
		ent.term = get_u32(body + 17);
		ent.size = body_len - ST_RAW_FIXED;
		ent.offset = offset;
		ent.frame_len = ST_FRAME_HDR + body_len;
		note_ids(st, ent.object_id, ent.version);
		index_remove(st, ent.object_id, 0);
		return index_insert(st, &ent, e);
	}
	if (body[0] == ST_DEL && body_len == ST_DEL_BODY) {
		uint64_t object_id = get_u64(body + 1), version = get_u64(body + 9);
		note_ids(st, object_id, version);
		index_remove(st, object_id, version);
		return 0;
	}
	return err_set(e, "XX000",
		       "vault: %s: record at offset %llu is malformed (type %u, %u bytes); refusing to start",
		       st->kind->file, (unsigned long long)offset, body[0], body_len);
}

static int store_truncate(struct vault_store *st, uint64_t at, const char *why,
			  struct err *e)
{
	log_warn("store_torn_tail", "file=%s offset=%llu dropped_bytes=%llu reason=%s",
		 st->kind->file, (unsigned long long)at,
		 (unsigned long long)(st->end - at), why);
	if (ftruncate(st->fd, (off_t)at) < 0 || fsync(st->fd) < 0)
		return err_set(e, "XX000", "vault: cannot truncate %s: %s",
			       st->kind->file, strerror(errno));
	st->truncated_bytes = st->end - at;
	st->end = at;
	return 0;
}

static int store_scan(struct vault_store *st, struct err *e)
{
	unsigned char hdr[ST_HEADER], fh[ST_FRAME_HDR], sum[32];
	unsigned char *body = malloc(ST_MAX_BODY);
	uint64_t off = ST_HEADER;
	int rc = 0;

	if (!body)
		return err_set(e, "XX000", "internal error: vault: out of memory");
	if (st->end < ST_HEADER || vault_pread_all(st->fd, hdr, ST_HEADER, 0) < 0) {
		free(body);
		return err_set(e, "XX000", "vault: %s has no header; refusing to start",
			       st->kind->file);
	}
	crypto_generichash(sum, 16, hdr, 24, NULL, 0);
	if (memcmp(hdr, st->kind->magic, 8) != 0 || sodium_memcmp(sum, hdr + 24, 16) != 0) {
		free(body);
		return err_set(e, "XX000", "vault: %s has a bad header; refusing to start",
			       st->kind->file);
	}
	st->max_object_id = get_u64(hdr + 8);
	st->max_version = get_u64(hdr + 16);
	while (off < st->end) {
		uint32_t body_len;
		const char *torn = NULL;

		if (st->end - off < ST_FRAME_HDR) {
			torn = "short_frame_header";
		} else if (vault_pread_all(st->fd, fh, ST_FRAME_HDR, (off_t)off) < 0) {
			rc = err_set(e, "XX000", "vault: read %s: %s", st->kind->file,
				     strerror(errno));
			break;
		} else if ((body_len = get_u32(fh)) < ST_DEL_BODY || body_len > ST_MAX_BODY) {
			torn = "bad_length";
		} else if (st->end - off - ST_FRAME_HDR < body_len) {
			torn = "short_body";
		} else if (vault_pread_all(st->fd, body, body_len, (off_t)(off + ST_FRAME_HDR)) < 0) {
			rc = err_set(e, "XX000", "vault: read %s: %s", st->kind->file,
				     strerror(errno));
			break;
		} else {
			frame_checksum(fh, body, body_len, sum);
			if (sodium_memcmp(sum, fh + 4, 32) != 0)
				torn = "checksum";
		}
		if (torn) {
			/* Appends are the only writes, so a bad frame is where the
			 * last unacknowledged batch was cut: drop it and all after. */
			rc = store_truncate(st, off, torn, e);
			break;
		}
		if (store_apply(st, body, body_len, off, e) < 0) {
			rc = -1;
			break;
		}
		off += ST_FRAME_HDR + body_len;
	}
	explicit_bzero(body, ST_MAX_BODY);
	free(body);
	return rc;
}

/* dir/<file> and dir/<file>.tmp of the store's kind. */
static int store_paths(const struct vault_store *st, char path[4096], char tmp[4096])
{
	char name[256];

	if (snprintf(name, sizeof(name), "%s.tmp", st->kind->file) >= (int)sizeof(name) ||
	    vault_path(path, 4096, st->vdir, st->kind->file) < 0 ||
	    vault_path(tmp, 4096, st->vdir, name) < 0)
		return -1;
	return 0;
}

int vault_store_open(struct vault_store *st, const char *vdir, struct err *e)
{
	return vault_store_open_kind(st, vdir, &vault_store_secrets, e);
}

int vault_store_open_kind(struct vault_store *st, const char *vdir,
			  const struct vault_store_kind *kind, struct err *e)
{
	char path[4096], tmp[4096];
	struct stat sb;

	memset(st, 0, sizeof(*st));
	st->fd = -1;
	st->kind = kind;
	st->compact_min_dead = VAULT_STORE_COMPACT_MIN;
	if (snprintf(st->vdir, sizeof(st->vdir), "%s", vdir) >= (int)sizeof(st->vdir) ||
	    store_paths(st, path, tmp) < 0)
		return err_set(e, "XX000", "vault: path too long: %s", vdir);
	/* A compaction that crashed before its rename left only garbage. */
	if (unlink(tmp) < 0 && errno != ENOENT)
		return err_set(e, "XX000", "vault: unlink %s: %s", tmp, strerror(errno));
	st->fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (st->fd < 0 && errno == ENOENT) {
		if (store_create(vdir, kind, e) < 0)
			return -1;
		st->fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	}
	if (st->fd < 0)
		return err_set(e, "XX000", "vault: cannot open %s: %s", path, strerror(errno));
	if (fstat(st->fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		vault_store_close(st);
		return err_set(e, "XX000", "vault: %s is not a regular file", path);
	}
	st->end = (uint64_t)sb.st_size;
	if (store_scan(st, e) < 0) {
		vault_store_close(st);
		return -1;
	}
	return 0;
}

void vault_store_close(struct vault_store *st)
{
	if (st->fd >= 0)
		close(st->fd);
	free(st->entries);
	st->entries = NULL;
	st->count = st->cap = 0;
	st->fd = -1;
}

/* ---- writing ---- */

static int store_append(struct vault_store *st, unsigned char *frame, size_t len,
			struct err *e)
{
	if (st->broken)
		return err_set(e, "XX000",
			       "internal error: vault: secret store is not writable after an I/O error");
	if (vault_pwrite_all(st->fd, frame, len, (off_t)st->end) < 0) {
		int saved = errno;
		/* Cut the partial frame so that later appends stay readable. */
		if (ftruncate(st->fd, (off_t)st->end) < 0)
			st->broken = 1;
		log_error("store_write_failed", "errno=%d broken=%d", saved, st->broken);
		return err_set(e, "XX000", "internal error: vault: cannot write secret store: %s",
			       strerror(saved));
	}
	st->end += len;
	st->dirty = 1;
	return 0;
}

static void frame_seal(unsigned char *frame, uint32_t body_len)
{
	put_u32(frame, body_len);
	frame_checksum(frame, frame + ST_FRAME_HDR, body_len, frame + 4);
}

/* A PUT or REPUT frame: `value` encrypted under data key `dk` of `term`,
 * the AD binding object id, version and term. NULL (e set) if out of memory. */
static unsigned char *put_frame_seal(unsigned char type, const struct vault_key *dk,
				     uint32_t term, uint64_t object_id, uint64_t version,
				     const unsigned char *value, size_t len,
				     size_t *frame_len, struct err *e)
{
	uint32_t body_len = (uint32_t)(ST_PUT_FIXED + len + ST_TAG);
	unsigned char ad[ST_AD_LEN], *frame, *body;

	*frame_len = ST_FRAME_HDR + body_len;
	frame = malloc(*frame_len);
	if (!frame) {
		err_set(e, "XX000", "internal error: vault: out of memory");
		return NULL;
	}
	body = frame + ST_FRAME_HDR;
	body[0] = type;
	put_u64(body + 1, object_id);
	put_u64(body + 9, version);
	put_u32(body + 17, term);
	randombytes_buf(body + 21, ST_NONCE);
	secret_ad(ad, object_id, version, term);
	crypto_aead_xchacha20poly1305_ietf_encrypt(body + ST_PUT_FIXED, NULL, value, len,
						   ad, sizeof(ad), NULL, body + 21,
						   vault_key_open(dk));
	vault_key_close(dk);
	frame_seal(frame, body_len);
	return frame;
}

/* Appends a sealed PUT/REPUT frame (freed here) and describes it in *ent
 * for the index. */
static int put_frame_append(struct vault_store *st, unsigned char *frame, size_t frame_len,
			    uint32_t term, uint64_t object_id, uint64_t version, size_t len,
			    struct vault_store_entry *ent, struct err *e)
{
	ent->object_id = object_id;
	ent->version = version;
	ent->term = term;
	ent->size = (uint32_t)len;
	ent->offset = st->end;
	ent->frame_len = (uint32_t)frame_len;
	if (store_append(st, frame, frame_len, e) < 0) {
		free(frame);
		return -1;
	}
	free(frame);
	return 0;
}

int vault_store_put(struct vault_store *st, const struct vault_keyring *kr,
		    uint64_t object_id, uint64_t version,
		    const unsigned char *value, size_t len, struct err *e)
{
	const struct vault_key *dk = vault_keyring_key(kr, kr->current);
	struct vault_store_entry ent;
	unsigned char *frame;
	size_t frame_len;

	if (len > IPC_MAX_SECRET)
		return err_set(e, "54000", "secrets can not be bigger than 512KiB");
	if (st->kind->raw)
		return err_set(e, "XX000", "internal error: vault: PUT into raw store %s",
			       st->kind->file);
	if (object_id == 0 || version == 0)
		return err_set(e, "XX000", "internal error: vault: object id and version must be positive");
	if (version <= st->max_version) {
		err_set(e, "XX000", "internal error: vault: version %llu is not above the highest stored version %llu",
			(unsigned long long)version, (unsigned long long)st->max_version);
		err_detail(e, "A version is never reused; reconcile to learn the high-water mark.");
		return -1;
	}
	if (!dk)
		return err_set(e, "XX000", "internal error: vault: no data key for term %u",
			       kr->current);
	frame = put_frame_seal(ST_PUT, dk, kr->current, object_id, version, value, len,
			       &frame_len, e);
	if (!frame)
		return -1;
	if (put_frame_append(st, frame, frame_len, kr->current, object_id, version, len,
			     &ent, e) < 0)
		return -1;
	note_ids(st, object_id, version);
	if (index_insert(st, &ent, e) < 0) {
		st->broken = 1;     /* on disk but not indexed: invariant broken */
		return -1;
	}
	return 0;
}

int vault_store_delete(struct vault_store *st, uint64_t object_id,
		       uint64_t version, size_t *removed, struct err *e)
{
	unsigned char frame[ST_FRAME_HDR + ST_DEL_BODY];
	unsigned char *body = frame + ST_FRAME_HDR;
	size_t i = index_lower_bound(st, object_id, version);

	if (removed)
		*removed = 0;
	if (i >= st->count || st->entries[i].object_id != object_id ||
	    (version != 0 && st->entries[i].version != version))
		return 0;
	body[0] = ST_DEL;
	put_u64(body + 1, object_id);
	put_u64(body + 9, version);
	frame_seal(frame, ST_DEL_BODY);
	if (store_append(st, frame, sizeof(frame), e) < 0)
		return -1;
	note_ids(st, object_id, version);
	size_t n = index_remove(st, object_id, version);
	if (removed)
		*removed = n;
	return 0;
}

int vault_store_sync(struct vault_store *st, struct err *e)
{
	if (st->broken)
		return err_set(e, "XX000",
			       "internal error: vault: secret store is not writable after an I/O error");
	if (!st->dirty)
		return 0;
	if (fsync(st->fd) < 0) {
		/* After a failed fsync the page cache state is unknown
		 * (PostgreSQL's "fsyncgate"): never retry, stop writing. */
		st->broken = 1;
		log_error("store_fsync_failed", "errno=%d", errno);
		return err_set(e, "XX000", "internal error: vault: cannot fsync secret store: %s",
			       strerror(errno));
	}
	st->dirty = 0;
	return 0;
}

/* ---- compaction ---- */

int vault_store_compact(struct vault_store *st, int force, struct err *e)
{
	char path[4096], tmp[4096];
	unsigned char hdr[ST_HEADER];
	uint64_t dead = st->end - ST_HEADER - st->live_bytes;
	uint64_t *offsets = NULL, off = ST_HEADER;
	unsigned char *buf = NULL;
	int fd = -1;

	if (!force && (dead <= st->live_bytes || dead < st->compact_min_dead))
		return 0;
	if (st->broken || st->dirty)
		return err_set(e, "XX000", "internal error: vault: compaction of an unsynced store");
	if (store_paths(st, path, tmp) < 0)
		return err_set(e, "XX000", "vault: path too long");
	offsets = calloc(st->count ? st->count : 1, sizeof(*offsets));
	buf = malloc(ST_FRAME_HDR + ST_MAX_BODY);
	if (!offsets || !buf) {
		err_set(e, "XX000", "internal error: vault: out of memory");
		goto fail;
	}
	unlink(tmp);
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		err_set(e, "XX000", "internal error: vault: create %s: %s", tmp, strerror(errno));
		goto fail;
	}
	/* The high-water marks survive the DEL records that compaction drops. */
	header_build(hdr, st->kind->magic, st->max_object_id, st->max_version);
	if (vault_write_all(fd, hdr, sizeof(hdr)) < 0)
		goto io_fail;
	for (size_t i = 0; i < st->count; i++) {
		const struct vault_store_entry *ent = &st->entries[i];
		if (vault_pread_all(st->fd, buf, ent->frame_len, (off_t)ent->offset) < 0 ||
		    vault_write_all(fd, buf, ent->frame_len) < 0)
			goto io_fail;
		offsets[i] = off;
		off += ent->frame_len;
	}
	if (fsync(fd) < 0)
		goto io_fail;
	/* Until this rename the old file is the truth; after it the new one
	 * is, complete and synced. Either survives a crash. */
	if (rename(tmp, path) < 0)
		goto io_fail;
	if (vault_fsync_dir(st->vdir) < 0) {
		/* Appends now go to the new file but its name may not be durable:
		 * a crash could bring the old one back. Stop writing. */
		st->broken = 1;
		err_set(e, "XX000", "internal error: vault: fsync %s: %s", st->vdir,
			strerror(errno));
		close(st->fd);
		st->fd = fd;
		free(offsets);
		free(buf);
		return -1;
	}
	close(st->fd);
	st->fd = fd;
	for (size_t i = 0; i < st->count; i++)
		st->entries[i].offset = offsets[i];
	log_info("store_compacted", "file=%s live_records=%zu dropped_bytes=%llu size=%llu",
		 st->kind->file, st->count, (unsigned long long)(st->end - off), (unsigned long long)off);
	st->end = off;
	st->compactions++;
	free(offsets);
	explicit_bzero(buf, ST_FRAME_HDR + ST_MAX_BODY);
	free(buf);
	return 0;
io_fail:
	err_set(e, "XX000", "internal error: vault: compaction failed: %s", strerror(errno));
fail:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	free(offsets);
	free(buf);
	return -1;
}

/* ---- reading ---- */

int vault_store_decrypt(const struct vault_store *st,
			const struct vault_keyring *kr, uint64_t object_id,
			uint64_t version, unsigned char **out, size_t *len,
			struct err *e)
{
	const struct vault_store_entry *ent = vault_store_find(st, object_id, version);
	const struct vault_key *dk;
	unsigned char *frame, *body, *pt, ad[ST_AD_LEN], sum[32];
	uint32_t body_len;
	int rc;

	*out = NULL;
	*len = 0;
	if (!ent)
		return err_set(e, "XX000", "internal error: vault: no ciphertext for u%llu version %llu",
			       (unsigned long long)object_id, (unsigned long long)version);
	dk = vault_keyring_key(kr, ent->term);
	if (!dk)
		return err_set(e, "XX000", "internal error: vault: no data key for term %u",
			       ent->term);
	frame = malloc(ent->frame_len);
	if (!frame)
		return err_set(e, "XX000", "internal error: vault: out of memory");
	if (vault_pread_all(st->fd, frame, ent->frame_len, (off_t)ent->offset) < 0) {
		free(frame);
		return err_set(e, "XX000", "internal error: vault: read secret store: %s",
			       strerror(errno));
	}
	body = frame + ST_FRAME_HDR;
	body_len = get_u32(frame);
	frame_checksum(frame, body, ent->frame_len - ST_FRAME_HDR, sum);
	if (body_len != ent->frame_len - ST_FRAME_HDR || sodium_memcmp(sum, frame + 4, 32) != 0 ||
	    (body[0] != ST_PUT && body[0] != ST_REPUT) || get_u64(body + 1) != object_id ||
	    get_u64(body + 9) != version) {
		free(frame);
		return err_set(e, "XX000", "internal error: vault: record for u%llu changed on disk",
			       (unsigned long long)object_id);
	}
	pt = vault_secbuf_alloc(ent->size);
	if (!pt) {
		free(frame);
		return err_set(e, "XX000", "internal error: vault: out of memory");
	}
	secret_ad(ad, object_id, version, ent->term);
	rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
		pt, NULL, NULL, body + ST_PUT_FIXED, (unsigned long long)ent->size + ST_TAG,
		ad, sizeof(ad), body + 21, vault_key_open(dk));
	vault_key_close(dk);
	free(frame);
	if (rc != 0) {
		vault_secbuf_free(pt);
		return err_set(e, "XX000",
			       "internal error: vault: ciphertext of u%llu version %llu does not authenticate",
			       (unsigned long long)object_id, (unsigned long long)version);
	}
	*out = pt;
	*len = ent->size;
	return 0;
}

/* ---- re-encryption (data-key rotation) ---- */

int vault_store_reput(struct vault_store *st, const struct vault_keyring *kr,
		      uint64_t object_id, uint64_t version, struct err *e)
{
	const struct vault_store_entry *old = vault_store_find(st, object_id, version);
	const struct vault_key *dk = vault_keyring_key(kr, kr->current);
	struct vault_store_entry ent;
	unsigned char *frame, *pt = NULL;
	size_t len, frame_len;

	if (!old || st->kind->raw)
		return err_set(e, "XX000", "internal error: vault: re-encrypt of u%llu version %llu which is not stored",
			       (unsigned long long)object_id, (unsigned long long)version);
	if (old->term == kr->current)
		return 0;
	if (!dk)
		return err_set(e, "XX000", "internal error: vault: no data key for term %u",
			       kr->current);
	if (vault_store_decrypt(st, kr, object_id, version, &pt, &len, e) < 0)
		return -1;
	frame = put_frame_seal(ST_REPUT, dk, kr->current, object_id, version, pt, len,
			       &frame_len, e);
	vault_secbuf_free(pt);
	if (!frame)
		return -1;
	if (put_frame_append(st, frame, frame_len, kr->current, object_id, version, len,
			     &ent, e) < 0)
		return -1;
	/* The same rule as recovery (store_apply): the newer frame wins. */
	index_remove(st, object_id, version);
	if (index_insert(st, &ent, e) < 0) {
		st->broken = 1;
		return -1;
	}
	return 0;
}

/* ---- raw records (sealed by the caller) ---- */

int vault_store_put_raw(struct vault_store *st, uint64_t object_id,
			uint64_t version, uint32_t term,
			const unsigned char *payload, size_t len, struct err *e)
{
	struct vault_store_entry ent;
	unsigned char *frame, *body;
	uint32_t body_len;
	size_t frame_len;

	if (!st->kind->raw)
		return err_set(e, "XX000", "internal error: vault: RAW record in %s",
			       st->kind->file);
	if (object_id == 0 || version == 0 || len == 0 ||
	    len > ST_MAX_BODY - ST_RAW_FIXED)
		return err_set(e, "XX000", "internal error: vault: bad RAW record");
	if (version <= st->max_version)
		return err_set(e, "XX000", "internal error: vault: %s: version %llu is not above %llu",
			       st->kind->file, (unsigned long long)version,
			       (unsigned long long)st->max_version);
	body_len = (uint32_t)(ST_RAW_FIXED + len);
	frame_len = ST_FRAME_HDR + body_len;
	frame = malloc(frame_len);
	if (!frame)
		return err_set(e, "XX000", "internal error: vault: out of memory");
	body = frame + ST_FRAME_HDR;
	body[0] = ST_RAW;
	put_u64(body + 1, object_id);
	put_u64(body + 9, version);
	put_u32(body + 17, term);
	memcpy(body + ST_RAW_FIXED, payload, len);
	frame_seal(frame, body_len);
	ent.object_id = object_id;
	ent.version = version;
	ent.term = term;
	ent.size = (uint32_t)len;
	ent.offset = st->end;
	ent.frame_len = (uint32_t)frame_len;
	if (store_append(st, frame, frame_len, e) < 0) {
		explicit_bzero(frame, frame_len);
		free(frame);
		return -1;
	}
	explicit_bzero(frame, frame_len);
	free(frame);
	note_ids(st, object_id, version);
	/* The same rule as recovery (store_apply): the frame replaces. */
	index_remove(st, object_id, 0);
	if (index_insert(st, &ent, e) < 0) {
		st->broken = 1;
		return -1;
	}
	return 0;
}

int vault_store_read_raw(const struct vault_store *st, uint64_t object_id,
			 unsigned char **payload, size_t *len, uint64_t *version,
			 uint32_t *term, struct err *e)
{
	size_t i = vault_store_first_after(st, object_id - 1);
	const struct vault_store_entry *ent;
	unsigned char *frame, *body, sum[32];
	unsigned char *out;

	*payload = NULL;
	*len = 0;
	if (object_id == 0 || !st->kind->raw || i >= st->count ||
	    st->entries[i].object_id != object_id)
		return 0;
	ent = &st->entries[i];
	frame = malloc(ent->frame_len);
	if (!frame)
		return err_set(e, "XX000", "internal error: vault: out of memory");
	if (vault_pread_all(st->fd, frame, ent->frame_len, (off_t)ent->offset) < 0) {
		free(frame);
		return err_set(e, "XX000", "internal error: vault: read %s: %s",
			       st->kind->file, strerror(errno));
	}
	body = frame + ST_FRAME_HDR;
	frame_checksum(frame, body, ent->frame_len - ST_FRAME_HDR, sum);
	if (get_u32(frame) != ent->frame_len - ST_FRAME_HDR ||
	    sodium_memcmp(sum, frame + 4, 32) != 0 || body[0] != ST_RAW ||
	    get_u64(body + 1) != object_id || get_u64(body + 9) != ent->version ||
	    get_u32(body + 17) != ent->term) {
		explicit_bzero(frame, ent->frame_len);
		free(frame);
		return err_set(e, "XX000", "internal error: vault: record for u%llu changed on disk",
			       (unsigned long long)object_id);
	}
	out = malloc(ent->size);
	if (!out) {
		explicit_bzero(frame, ent->frame_len);
		free(frame);
		return err_set(e, "XX000", "internal error: vault: out of memory");
	}
	memcpy(out, body + ST_RAW_FIXED, ent->size);
	explicit_bzero(frame, ent->frame_len);
	free(frame);
	*payload = out;
	*len = ent->size;
	if (version)
		*version = ent->version;
	if (term)
		*term = ent->term;
	return 1;
}

void vault_store_raw_free(unsigned char *payload, size_t len)
{
	if (!payload)
		return;
	explicit_bzero(payload, len);
	free(payload);
}
