/* master.key and the keyring file. Keyring format (little endian):
 *   "TKR1" | u32 format (1 or 2) | u32 current term | u32 count
 *   count x { u32 term | nonce[24] | XChaCha20-Poly1305(data key)[48] }
 *   format 2 only: nonce[24] | XChaCha20-Poly1305(audit signing seed)[48]
 *   mac[32] = keyed BLAKE2b-256 of everything before (key derived from the
 *             master key), so a dropped or reordered term is detected.
 * Each wrap's AD is "tether-keyring-v1" || u32 term; the audit seed's is
 * "tether-keyring-v1" || u32 0 (term 0 is never a data key). A format 1
 * keyring is upgraded (an audit key generated) on open.
 * Master-key rotation (vault_keyring_rotate_master) and its recovery are
 * at the end of this file. */
#include "keyring.h"

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
#include "log.h"

void (*vault_keyring_test_hook)(int step);

static void test_point(int step)
{
	if (vault_keyring_test_hook)
		vault_keyring_test_hook(step);
}

#define KR_MAGIC "TKR1"
#define KR_FORMAT 2u
#define KR_AUDIT (KR_NONCE + KR_WRAPPED)
#define KR_HEADER 16u
#define KR_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define KR_WRAPPED (VAULT_KEY_BYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define KR_ENTRY (4u + KR_NONCE + KR_WRAPPED)
#define KR_MAC 32u
#define KR_AD "tether-keyring-v1"

static void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void keyring_ad(unsigned char ad[sizeof(KR_AD) - 1 + 4], uint32_t term)
{
	memcpy(ad, KR_AD, sizeof(KR_AD) - 1);
	put_u32(ad + sizeof(KR_AD) - 1, term);
}

/* The MAC key is derived, so the master key itself only ever wraps. */
static void keyring_mac(const struct vault_key *master, const unsigned char *buf,
			size_t len, unsigned char mac[KR_MAC])
{
	unsigned char sub[crypto_generichash_KEYBYTES];

	crypto_kdf_derive_from_key(sub, sizeof(sub), 1, "tkeyring",
				   vault_key_open(master));
	vault_key_close(master);
	crypto_generichash(mac, KR_MAC, buf, len, sub, sizeof(sub));
	sodium_memzero(sub, sizeof(sub));
}

static int master_key_create(const char *vdir, const char *path, struct err *e)
{
	char tmp[4096];
	struct vault_key k;
	int fd, rc;

	if (vault_path(tmp, sizeof(tmp), vdir, VAULT_MASTER_KEY_FILE ".tmp") < 0)
		return err_set(e, "XX000", "vault: path too long: %s", vdir);
	if (unlink(tmp) < 0 && errno != ENOENT)
		return err_set(e, "XX000", "vault: unlink %s: %s", tmp, strerror(errno));
	if (vault_key_generate(&k, e) < 0)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0400);
	if (fd < 0) {
		vault_key_free(&k);
		return err_set(e, "XX000", "vault: create %s: %s", tmp, strerror(errno));
	}
	rc = vault_write_all(fd, vault_key_open(&k), VAULT_KEY_BYTES);
	vault_key_close(&k);
	vault_key_free(&k);
	if (rc < 0 || fsync(fd) < 0) {
		int saved = errno;
		close(fd);
		unlink(tmp);
		return err_set(e, "XX000", "vault: write %s: %s", tmp, strerror(saved));
	}
	close(fd);
	/* Publish without ever replacing an existing key (O_EXCL semantics for
	 * the final name, but the file is complete before it has that name). */
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) < 0) {
		int saved = errno;
		unlink(tmp);
		return err_set(e, "XX000", "vault: cannot create %s: %s", path,
			       strerror(saved));
	}
	if (vault_fsync_dir(vdir) < 0)
		return err_set(e, "XX000", "vault: fsync %s: %s", vdir, strerror(errno));
	log_info("master_key_created", "mode=0400");
	return 0;
}

int vault_master_key_load(struct vault_key *k, const char *vdir, int create,
			  struct err *e)
{
	char path[4096];
	struct stat st;
	int fd;

	k->bytes = NULL;
	if (vault_path(path, sizeof(path), vdir, VAULT_MASTER_KEY_FILE) < 0)
		return err_set(e, "XX000", "vault: path too long: %s", vdir);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		if (master_key_create(vdir, path, e) < 0)
			return -1;
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return err_set(e, "XX000", "vault: cannot open master key %s: %s",
			       path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		int saved = errno;
		close(fd);
		return err_set(e, "XX000", "vault: stat %s: %s", path, strerror(saved));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, "XX000", "vault: master key %s is not a regular file",
			       path);
	}
	if (st.st_mode & 077) {
		close(fd);
		err_set(e, "XX000",
			"vault: master key %s has group/other permissions (mode %04o); refusing to start",
			path, (unsigned)(st.st_mode & 07777));
		err_hint(e, "chmod 0400 %s", path);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		close(fd);
		return err_set(e, "XX000",
			       "vault: master key %s is owned by uid %u, not %u; refusing to start",
			       path, (unsigned)st.st_uid, (unsigned)geteuid());
	}
	if (st.st_size != VAULT_KEY_BYTES) {
		close(fd);
		return err_set(e, "XX000",
			       "vault: master key %s has %lld bytes, expected %d; refusing to start",
			       path, (long long)st.st_size, VAULT_KEY_BYTES);
	}
	if (vault_key_alloc(k, e) < 0) {
		close(fd);
		return -1;
	}
	if (vault_pread_all(fd, k->bytes, VAULT_KEY_BYTES, 0) < 0) {
		int saved = errno;
		close(fd);
		vault_key_free(k);
		return err_set(e, "XX000", "vault: read %s: %s", path, strerror(saved));
	}
	close(fd);
	vault_key_close(k);
	return 0;
}

const struct vault_key *vault_keyring_key(const struct vault_keyring *kr,
					  uint32_t term)
{
	for (size_t i = 0; i < kr->count; i++)
		if (kr->terms[i].term == term)
			return &kr->terms[i].key;
	return NULL;
}

/* The file image of kr with every key wrapped under `master`. */
static unsigned char *keyring_build(const struct vault_keyring *kr,
				    const struct vault_key *master, size_t *len_out,
				    struct err *e)
{
	size_t len = KR_HEADER + kr->count * KR_ENTRY + KR_AUDIT + KR_MAC;
	unsigned char *buf = calloc(1, len), *p;
	unsigned char ad[sizeof(KR_AD) - 1 + 4];
	const unsigned char *mk;

	if (!buf) {
		err_set(e, "XX000", "internal error: vault: out of memory");
		return NULL;
	}
	if (!kr->audit_seed.bytes) {
		free(buf);
		err_set(e, "XX000", "internal error: vault: keyring without an audit key");
		return NULL;
	}
	memcpy(buf, KR_MAGIC, 4);
	put_u32(buf + 4, KR_FORMAT);
	put_u32(buf + 8, kr->current);
	put_u32(buf + 12, (uint32_t)kr->count);
	p = buf + KR_HEADER;
	mk = vault_key_open(master);
	for (size_t i = 0; i < kr->count; i++, p += KR_ENTRY) {
		const struct vault_key *dk = &kr->terms[i].key;

		put_u32(p, kr->terms[i].term);
		randombytes_buf(p + 4, KR_NONCE);
		keyring_ad(ad, kr->terms[i].term);
		crypto_aead_xchacha20poly1305_ietf_encrypt(
			p + 4 + KR_NONCE, NULL, vault_key_open(dk), VAULT_KEY_BYTES,
			ad, sizeof(ad), NULL, p + 4, mk);
		vault_key_close(dk);
	}
	randombytes_buf(p, KR_NONCE);
	keyring_ad(ad, 0);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
		p + KR_NONCE, NULL, vault_key_open(&kr->audit_seed), VAULT_KEY_BYTES,
		ad, sizeof(ad), NULL, p, mk);
	vault_key_close(&kr->audit_seed);
	vault_key_close(master);
	keyring_mac(master, buf, len - KR_MAC, buf + len - KR_MAC);
	*len_out = len;
	return buf;
}

static int keyring_write(const struct vault_keyring *kr, const struct vault_key *master,
			 const char *vdir, const char *name, struct err *e)
{
	size_t len;
	unsigned char *buf = keyring_build(kr, master, &len, e);
	int rc;

	if (!buf)
		return -1;
	rc = vault_write_file_atomic(vdir, name, buf, len, 0600, e);
	free(buf);
	return rc;
}

int vault_keyring_save(const struct vault_keyring *kr, const char *vdir,
		       struct err *e)
{
	return keyring_write(kr, &kr->master, vdir, VAULT_KEYRING_FILE, e);
}

static int keyring_push(struct vault_keyring *kr, uint32_t term,
			struct vault_key *key, struct err *e)
{
	struct vault_keyring_term *t;

	if (kr->count >= VAULT_KEYRING_MAX_TERMS)
		return err_set(e, "XX000", "internal error: vault: too many key terms");
	t = realloc(kr->terms, (kr->count + 1) * sizeof(*t));
	if (!t)
		return err_set(e, "XX000", "internal error: vault: out of memory");
	kr->terms = t;
	kr->terms[kr->count].term = term;
	kr->terms[kr->count].key = *key;
	key->bytes = NULL;
	kr->count++;
	return 0;
}

static int keyring_parse(struct vault_keyring *kr, const unsigned char *buf,
			 size_t len, struct err *e)
{
	unsigned char mac[KR_MAC];
	uint32_t count, format;
	const unsigned char *p;
	const unsigned char *mk;
	size_t audit_len;
	int rc = 0;

	if (len < KR_HEADER + KR_MAC || memcmp(buf, KR_MAGIC, 4) != 0 ||
	    ((format = get_u32(buf + 4)) != 1 && format != KR_FORMAT))
		return err_set(e, "XX000", "vault: keyring is not a tether keyring (format 1 or 2)");
	audit_len = format == KR_FORMAT ? KR_AUDIT : 0;
	count = get_u32(buf + 12);
	if (count == 0 || count > VAULT_KEYRING_MAX_TERMS ||
	    len != KR_HEADER + (size_t)count * KR_ENTRY + audit_len + KR_MAC)
		return err_set(e, "XX000", "vault: keyring has a bad length");
	keyring_mac(&kr->master, buf, len - KR_MAC, mac);
	if (sodium_memcmp(mac, buf + len - KR_MAC, KR_MAC) != 0)
		return err_set(e, "XX000",
			       "vault: keyring does not authenticate under this master key");
	kr->current = get_u32(buf + 8);
	p = buf + KR_HEADER;
	mk = vault_key_open(&kr->master);
	for (uint32_t i = 0; i < count && rc == 0; i++, p += KR_ENTRY) {
		unsigned char ad[sizeof(KR_AD) - 1 + 4];
		struct vault_key dk;
		uint32_t term = get_u32(p);

		if (term == 0 || (kr->count > 0 && term <= kr->terms[kr->count - 1].term)) {
			rc = err_set(e, "XX000", "vault: keyring terms out of order");
			break;
		}
		if (vault_key_alloc(&dk, e) < 0) {
			rc = -1;
			break;
		}
		keyring_ad(ad, term);
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(
			    dk.bytes, NULL, NULL, p + 4 + KR_NONCE, KR_WRAPPED, ad,
			    sizeof(ad), p + 4, mk) != 0) {
			vault_key_free(&dk);
			rc = err_set(e, "XX000", "vault: keyring term %u does not decrypt", term);
			break;
		}
		vault_key_close(&dk);
		if (keyring_push(kr, term, &dk, e) < 0) {
			vault_key_free(&dk);
			rc = -1;
		}
	}
	if (rc == 0 && audit_len) {
		unsigned char ad[sizeof(KR_AD) - 1 + 4];

		keyring_ad(ad, 0);
		if (vault_key_alloc(&kr->audit_seed, e) < 0) {
			rc = -1;
		} else if (crypto_aead_xchacha20poly1305_ietf_decrypt(
				   kr->audit_seed.bytes, NULL, NULL, p + KR_NONCE, KR_WRAPPED,
				   ad, sizeof(ad), p, mk) != 0) {
			vault_key_free(&kr->audit_seed);
			rc = err_set(e, "XX000", "vault: keyring audit key does not decrypt");
		} else {
			vault_key_close(&kr->audit_seed);
		}
	}
	vault_key_close(&kr->master);
	if (rc == 0 && !vault_keyring_key(kr, kr->current))
		rc = err_set(e, "XX000", "vault: keyring's current term %u is missing",
			     kr->current);
	return rc;
}

static int keyring_read(const char *path, unsigned char **out, size_t *len,
			struct err *e)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	size_t max = KR_HEADER + (size_t)VAULT_KEYRING_MAX_TERMS * KR_ENTRY + KR_MAC;

	*out = NULL;
	if (fd < 0)
		return -1;      /* errno tells the caller whether it is absent */
	if (fstat(fd, &st) < 0 || st.st_size < 0 || (size_t)st.st_size > max) {
		close(fd);
		return err_set(e, "XX000", "vault: keyring %s has a bad size", path);
	}
	*len = (size_t)st.st_size;
	*out = malloc(*len ? *len : 1);
	if (!*out || vault_pread_all(fd, *out, *len, 0) < 0) {
		int saved = errno;
		close(fd);
		free(*out);
		*out = NULL;
		return err_set(e, "XX000", "vault: read %s: %s", path, strerror(saved));
	}
	close(fd);
	return 0;
}

int vault_keyring_open(struct vault_keyring *kr, const char *vdir, int create,
		       struct err *e)
{
	char path[4096];
	unsigned char *buf;
	size_t len = 0;
	int have_keyring;

	memset(kr, 0, sizeof(*kr));
	err_clear(e);
	if (vault_path(path, sizeof(path), vdir, VAULT_KEYRING_FILE) < 0)
		return err_set(e, "XX000", "vault: path too long: %s", vdir);
	/* A master-key rotation cut short is finished or undone first. */
	if (vault_keyring_recover(vdir, e) < 0)
		return -1;
	have_keyring = access(path, F_OK) == 0;
	/* A new master key next to an existing keyring would orphan every
	 * secret: only create one when there is nothing it must unwrap. */
	if (vault_master_key_load(&kr->master, vdir, create && !have_keyring, e) < 0)
		return -1;
	if (keyring_read(path, &buf, &len, e) < 0) {
		if (err_is_set(e) || errno != ENOENT || !create) {
			if (!err_is_set(e))
				err_set(e, "XX000", "vault: cannot open keyring %s: %s",
					path, strerror(errno));
			vault_keyring_close(kr);
			return -1;
		}
		struct vault_key dk;
		if (vault_key_generate(&dk, e) < 0 || keyring_push(kr, 1, &dk, e) < 0 ||
		    vault_key_generate(&kr->audit_seed, e) < 0) {
			vault_key_free(&dk);
			vault_keyring_close(kr);
			return -1;
		}
		kr->current = 1;
		if (vault_keyring_save(kr, vdir, e) < 0) {
			vault_keyring_close(kr);
			return -1;
		}
		log_info("keyring_created", "term=1 audit_key=generated");
		return 0;
	}
	if (keyring_parse(kr, buf, len, e) < 0) {
		free(buf);
		vault_keyring_close(kr);
		return -1;
	}
	free(buf);
	if (!kr->audit_seed.bytes) {
		/* Format 1 (before signed checkpoints): add the audit key. */
		if (vault_key_generate(&kr->audit_seed, e) < 0 ||
		    vault_keyring_save(kr, vdir, e) < 0) {
			vault_keyring_close(kr);
			return -1;
		}
		log_info("keyring_upgraded", "format=2 audit_key=generated");
	}
	return 0;
}

int vault_keyring_drop_old_terms(struct vault_keyring *kr, const char *vdir,
				 size_t *dropped, struct err *e)
{
	struct vault_keyring keep = *kr;
	struct vault_keyring_term cur = { 0 };
	size_t n = 0;

	if (dropped)
		*dropped = 0;
	for (size_t i = 0; i < kr->count; i++)
		if (kr->terms[i].term == kr->current)
			cur = kr->terms[i];
	if (kr->count <= 1)
		return 0;
	/* Save a view holding only the current term; only once that is
	 * durable are the old keys wiped from memory. */
	keep.terms = &cur;
	keep.count = 1;
	if (vault_keyring_save(&keep, vdir, e) < 0)
		return -1;
	for (size_t i = 0; i < kr->count; i++) {
		if (kr->terms[i].term == kr->current)
			continue;
		log_info("keyring_term_destroyed", "term=%u", kr->terms[i].term);
		vault_key_free(&kr->terms[i].key);
		n++;
	}
	kr->terms[0] = cur;
	kr->count = 1;
	if (dropped)
		*dropped = n;
	return 0;
}

uint32_t vault_keyring_oldest_term(const struct vault_keyring *kr)
{
	return kr->count ? kr->terms[0].term : 0;
}

int vault_keyring_add_term(struct vault_keyring *kr, const char *vdir,
			   struct err *e)
{
	struct vault_key dk;
	uint32_t prev = kr->current;
	uint32_t term = kr->terms[kr->count - 1].term + 1;

	if (vault_key_generate(&dk, e) < 0)
		return -1;
	if (keyring_push(kr, term, &dk, e) < 0) {
		vault_key_free(&dk);
		return -1;
	}
	kr->current = term;
	if (vault_keyring_save(kr, vdir, e) < 0) {
		/* Not durable: forget the new term. */
		kr->count--;
		vault_key_free(&kr->terms[kr->count].key);
		kr->current = prev;
		return -1;
	}
	log_info("keyring_term_added", "term=%u", term);
	return 0;
}

void vault_keyring_close(struct vault_keyring *kr)
{
	for (size_t i = 0; i < kr->count; i++)
		vault_key_free(&kr->terms[i].key);
	free(kr->terms);
	vault_key_free(&kr->master);
	vault_key_free(&kr->audit_seed);
	memset(kr, 0, sizeof(*kr));
}

/* ---- master-key rotation ----
 * Files: master.key (M1), keyring (under M1). Steps:
 *   1  master.key.new  <- M2 (0400), fsynced (write tmp + rename + fsync dir)
 *   2  keyring.new     <- the same keys wrapped under M2, fsynced
 *   3  rename keyring.new -> keyring, fsync dir      (keyring now under M2)
 *   4  rename master.key.new -> master.key, fsync dir (done)
 * Recovery (vault_keyring_recover, at every open) when master.key.new
 * exists: if keyring authenticates under master.key, the rotation never
 * reached step 3: delete keyring.new and master.key.new (roll back). Else
 * if it authenticates under master.key.new, step 3 happened: rename
 * master.key.new over master.key (roll forward). A keyring.new without a
 * master.key.new is a leftover of an undone rotation: deleted. Neither key
 * ever leaves locked memory, and at every instant one of the two on-disk
 * master keys unwraps the on-disk keyring. */

static int file_exists(const char *vdir, const char *name)
{
	char path[4096];

	return vault_path(path, sizeof(path), vdir, name) == 0 && access(path, F_OK) == 0;
}

static int remove_file(const char *vdir, const char *name, struct err *e)
{
	char path[4096];

	if (vault_path(path, sizeof(path), vdir, name) < 0)
		return err_set(e, "XX000", "vault: path too long: %s", vdir);
	if (unlink(path) < 0 && errno != ENOENT)
		return err_set(e, "XX000", "vault: unlink %s: %s", path, strerror(errno));
	return 0;
}

static int rename_file(const char *vdir, const char *from, const char *to,
		       struct err *e)
{
	char a[4096], b[4096];

	if (vault_path(a, sizeof(a), vdir, from) < 0 || vault_path(b, sizeof(b), vdir, to) < 0)
		return err_set(e, "XX000", "vault: path too long: %s", vdir);
	if (rename(a, b) < 0)
		return err_set(e, "XX000", "vault: rename %s: %s", a, strerror(errno));
	if (vault_fsync_dir(vdir) < 0)
		return err_set(e, "XX000", "vault: fsync %s: %s", vdir, strerror(errno));
	return 0;
}

/* A key file's 32 bytes into locked memory (no permission checks: the
 * .new file is ours and only read during recovery). */
static int key_file_read(const char *vdir, const char *name, struct vault_key *k)
{
	char path[4096];
	struct stat st;
	struct err e = { 0 };
	int fd;

	k->bytes = NULL;
	if (vault_path(path, sizeof(path), vdir, name) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || st.st_size != VAULT_KEY_BYTES ||
	    vault_key_alloc(k, &e) < 0) {
		close(fd);
		return -1;
	}
	if (vault_pread_all(fd, k->bytes, VAULT_KEY_BYTES, 0) < 0) {
		close(fd);
		vault_key_free(k);
		return -1;
	}
	close(fd);
	vault_key_close(k);
	return 0;
}

/* 1 when vdir/keyring authenticates under `master`. */
static int keyring_authenticates(const char *vdir, const struct vault_key *master)
{
	char path[4096];
	unsigned char *buf, mac[KR_MAC];
	size_t len;
	struct err e = { 0 };
	int ok;

	if (vault_path(path, sizeof(path), vdir, VAULT_KEYRING_FILE) < 0 ||
	    keyring_read(path, &buf, &len, &e) < 0)
		return 0;
	ok = len > KR_HEADER + KR_MAC;
	if (ok) {
		keyring_mac(master, buf, len - KR_MAC, mac);
		ok = sodium_memcmp(mac, buf + len - KR_MAC, KR_MAC) == 0;
	}
	free(buf);
	return ok;
}

int vault_keyring_recover(const char *vdir, struct err *e)
{
	struct vault_key old, neu;
	int old_ok = 0, new_ok = 0;

	if (!file_exists(vdir, VAULT_MASTER_KEY_FILE ".new")) {
		if (file_exists(vdir, VAULT_KEYRING_FILE ".new")) {
			log_warn("master_rotation_leftover", "file=keyring.new action=deleted");
			return remove_file(vdir, VAULT_KEYRING_FILE ".new", e);
		}
		return 0;
	}
	if (key_file_read(vdir, VAULT_MASTER_KEY_FILE, &old) == 0) {
		old_ok = keyring_authenticates(vdir, &old);
		vault_key_free(&old);
	}
	if (!old_ok && key_file_read(vdir, VAULT_MASTER_KEY_FILE ".new", &neu) == 0) {
		new_ok = keyring_authenticates(vdir, &neu);
		vault_key_free(&neu);
	}
	if (old_ok) {
		log_warn("master_rotation_recovered", "action=rolled_back");
		if (remove_file(vdir, VAULT_KEYRING_FILE ".new", e) < 0 ||
		    remove_file(vdir, VAULT_MASTER_KEY_FILE ".new", e) < 0)
			return -1;
		return vault_fsync_dir(vdir) < 0 ?
		       err_set(e, "XX000", "vault: fsync %s: %s", vdir, strerror(errno)) : 0;
	}
	if (new_ok) {
		log_warn("master_rotation_recovered", "action=rolled_forward");
		return rename_file(vdir, VAULT_MASTER_KEY_FILE ".new", VAULT_MASTER_KEY_FILE, e);
	}
	err_set(e, "XX000", "vault: master-key rotation left master.key.new, and the keyring authenticates under neither key; refusing to start");
	err_hint(e, "Keep a copy of %s before changing anything in it.", vdir);
	return -1;
}

int vault_keyring_rotate_master(struct vault_keyring *kr, const char *vdir,
				struct err *e)
{
	struct vault_key m2;
	int rc;

	if (vault_keyring_recover(vdir, e) < 0)
		return -1;
	if (vault_key_generate(&m2, e) < 0)
		return -1;
	rc = vault_write_file_atomic(vdir, VAULT_MASTER_KEY_FILE ".new",
				     vault_key_open(&m2), VAULT_KEY_BYTES, 0400, e);
	vault_key_close(&m2);
	if (rc < 0)
		goto fail;
	test_point(1);
	if (keyring_write(kr, &m2, vdir, VAULT_KEYRING_FILE ".new", e) < 0)
		goto fail;
	test_point(2);
	if (rename_file(vdir, VAULT_KEYRING_FILE ".new", VAULT_KEYRING_FILE, e) < 0)
		goto fail;
	test_point(3);
	/* From here the new key is the only one that opens the keyring. */
	vault_key_free(&kr->master);
	kr->master = m2;
	if (rename_file(vdir, VAULT_MASTER_KEY_FILE ".new", VAULT_MASTER_KEY_FILE, e) < 0)
		return -1;      /* recovery rolls forward at the next start */
	test_point(4);
	log_info("master_key_rotated", "terms=%zu", kr->count);
	return 0;
fail:
	vault_key_free(&m2);
	/* Undo what can be undone now; recovery does the same after a crash. */
	{
		struct err e2 = { 0 };
		if (vault_keyring_recover(vdir, &e2) < 0)
			log_error("master_rotation_undo_failed", NULL);
	}
	return -1;
}
