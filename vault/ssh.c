/* SSH key pairs in the vault: generation, rotation, deletion and
 * reconciliation of the per-connection Ed25519 pairs, the userauth-only
 * signer, and OpenSSH formatting of public keys. One RAW record in
 * sshkeys.log per connection holds both slots, so a rotation is one frame:
 *   payload: u8 1 | 2 x (u8 slot | pk[32] | nonce[24] |
 *                        XChaCha20-Poly1305(seed[32]) (48))
 *   AD = "tether-ssh-v1" || u64 object_id || u8 slot || u64 generation ||
 *        u32 term || pk[32]
 * Generations come from the log's version counter and are never reused. */
#include "ssh.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "keymem.h"
#include "log.h"
#include "vault.h"

#define SSH_FORMAT 1
#define SSH_AD "tether-ssh-v1"
#define SSH_AD_LEN (sizeof(SSH_AD) - 1 + 8 + 1 + 8 + 4 + VAULT_SSH_PK_BYTES)
#define SSH_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SSH_TAG crypto_aead_xchacha20poly1305_ietf_ABYTES
#define SSH_SEED crypto_sign_SEEDBYTES
#define SSH_SLOT_BYTES (1u + VAULT_SSH_PK_BYTES + SSH_NONCE + SSH_SEED + SSH_TAG)
#define SSH_PAYLOAD (1u + VAULT_SSH_SLOTS * SSH_SLOT_BYTES)
#define SSH_KEYTYPE "ssh-ed25519"
#define ID_BUF 24

/* Plaintext halves of one record, in one locked buffer. */
struct ssh_seeds {
	unsigned char *seed;    /* VAULT_SSH_SLOTS * SSH_SEED, vault_secbuf */
	unsigned char pk[VAULT_SSH_SLOTS][VAULT_SSH_PK_BYTES];
};

static void put_u32be(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get_u32be(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* ---- formatting ---- */

void vault_ssh_blob(const unsigned char pk[VAULT_SSH_PK_BYTES],
		    unsigned char blob[VAULT_SSH_BLOB_BYTES])
{
	put_u32be(blob, sizeof(SSH_KEYTYPE) - 1);
	memcpy(blob + 4, SSH_KEYTYPE, sizeof(SSH_KEYTYPE) - 1);
	put_u32be(blob + 15, VAULT_SSH_PK_BYTES);
	memcpy(blob + 19, pk, VAULT_SSH_PK_BYTES);
}

void vault_ssh_authorized_key(const unsigned char pk[VAULT_SSH_PK_BYTES],
			      char out[VAULT_SSH_LINE_MAX])
{
	unsigned char blob[VAULT_SSH_BLOB_BYTES];
	char b64[sodium_base64_ENCODED_LEN(VAULT_SSH_BLOB_BYTES,
					   sodium_base64_VARIANT_ORIGINAL)];

	vault_ssh_blob(pk, blob);
	sodium_bin2base64(b64, sizeof(b64), blob, sizeof(blob),
			  sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, VAULT_SSH_LINE_MAX, SSH_KEYTYPE " %s " VAULT_SSH_COMMENT, b64);
}

void vault_ssh_fingerprint(const unsigned char pk[VAULT_SSH_PK_BYTES],
			   char out[VAULT_SSH_FP_MAX])
{
	unsigned char blob[VAULT_SSH_BLOB_BYTES], h[crypto_hash_sha256_BYTES];
	char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES,
					   sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];

	vault_ssh_blob(pk, blob);
	crypto_hash_sha256(h, blob, sizeof(blob));
	sodium_bin2base64(b64, sizeof(b64), h, sizeof(h),
			  sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	snprintf(out, VAULT_SSH_FP_MAX, "SHA256:%s", b64);
}

/* ---- the userauth parser ---- */

struct rd {
	const unsigned char *p;
	size_t left;
};

static int rd_string(struct rd *r, const unsigned char **s, size_t *len)
{
	uint32_t n;

	if (r->left < 4)
		return -1;
	n = get_u32be(r->p);
	if (n > r->left - 4)
		return -1;
	*s = r->p + 4;
	*len = n;
	r->p += 4 + (size_t)n;
	r->left -= 4 + (size_t)n;
	return 0;
}

static int rd_byte(struct rd *r, unsigned char *b)
{
	if (r->left < 1)
		return -1;
	*b = *r->p++;
	r->left--;
	return 0;
}

static int rd_expect(struct rd *r, const char *want)
{
	const unsigned char *s;
	size_t len;

	return rd_string(r, &s, &len) < 0 || len != strlen(want) ||
	       memcmp(s, want, len) != 0 ? -1 : 0;
}

int vault_ssh_parse_userauth(const unsigned char *data, size_t len,
			     struct vault_ssh_userauth *out)
{
	struct rd r = { data, len };
	const unsigned char *s, *blob;
	size_t slen, blen;
	unsigned char b;

	memset(out, 0, sizeof(*out));
	if (!data)
		return -1;
	/* session identifier: an exchange hash (SHA-1 .. SHA-512) */
	if (rd_string(&r, &s, &slen) < 0 || slen < VAULT_SSH_SESSION_ID_MIN ||
	    slen > VAULT_SSH_SESSION_ID_MAX)
		return -1;
	out->session_id = s;
	out->session_id_len = slen;
	if (rd_byte(&r, &b) < 0 || b != 50)            /* SSH_MSG_USERAUTH_REQUEST */
		return -1;
	if (rd_string(&r, &s, &slen) < 0 || slen == 0 || slen > VAULT_SSH_USER_MAX ||
	    memchr(s, 0, slen))
		return -1;
	out->user = (const char *)s;
	out->user_len = slen;
	if (rd_expect(&r, "ssh-connection") < 0 || rd_expect(&r, "publickey") < 0)
		return -1;
	if (rd_byte(&r, &b) < 0 || b != 1)             /* has signature: TRUE */
		return -1;
	if (rd_expect(&r, SSH_KEYTYPE) < 0)
		return -1;
	if (rd_string(&r, &blob, &blen) < 0 || blen != VAULT_SSH_BLOB_BYTES || r.left != 0)
		return -1;
	/* The blob itself: string "ssh-ed25519" | string pk[32], nothing else. */
	struct rd br = { blob, blen };
	if (rd_expect(&br, SSH_KEYTYPE) < 0 || rd_string(&br, &s, &slen) < 0 ||
	    slen != VAULT_SSH_PK_BYTES || br.left != 0)
		return -1;
	out->blob = blob;
	out->pk = s;
	return 0;
}

/* ---- sealing ---- */

static void ssh_ad(unsigned char ad[SSH_AD_LEN], uint64_t object_id, int slot,
		   uint64_t generation, uint32_t term,
		   const unsigned char pk[VAULT_SSH_PK_BYTES])
{
	size_t o = sizeof(SSH_AD) - 1;

	memcpy(ad, SSH_AD, o);
	put_le(ad + o, object_id, 8);
	ad[o + 8] = (unsigned char)slot;
	put_le(ad + o + 9, generation, 8);
	put_le(ad + o + 17, term, 4);
	memcpy(ad + o + 21, pk, VAULT_SSH_PK_BYTES);
}

static void seeds_free(struct ssh_seeds *k)
{
	vault_secbuf_free(k->seed);     /* wipes */
	k->seed = NULL;
}

static int seeds_alloc(struct ssh_seeds *k, struct err *e)
{
	memset(k, 0, sizeof(*k));
	k->seed = vault_secbuf_alloc(VAULT_SSH_SLOTS * SSH_SEED);
	if (!k->seed)
		return err_set(e, "XX000", "internal error: vault: out of locked memory");
	return 0;
}

/* A fresh pair into slot index i (0-based). */
static int seeds_generate(struct ssh_seeds *k, int i, struct err *e)
{
	unsigned char *sk = vault_secbuf_alloc(crypto_sign_SECRETKEYBYTES);

	if (!sk)
		return err_set(e, "XX000", "internal error: vault: out of locked memory");
	crypto_sign_keypair(k->pk[i], sk);
	crypto_sign_ed25519_sk_to_seed(k->seed + (size_t)i * SSH_SEED, sk);
	vault_secbuf_free(sk);
	return 0;
}

/* Seals both slots under the current data key and appends one record. */
static int record_write(struct vault *v, uint64_t object_id,
			const struct ssh_seeds *k, uint64_t *generation,
			struct err *e)
{
	const struct vault_key *dk = vault_keyring_key(&v->kr, v->kr.current);
	uint64_t gen = v->ssh.max_version + 1;
	unsigned char payload[SSH_PAYLOAD], ad[SSH_AD_LEN];
	int rc;

	if (!dk)
		return err_set(e, "XX000", "internal error: vault: no data key for term %u",
			       v->kr.current);
	payload[0] = SSH_FORMAT;
	for (int i = 0; i < VAULT_SSH_SLOTS; i++) {
		unsigned char *s = payload + 1 + (size_t)i * SSH_SLOT_BYTES;
		s[0] = (unsigned char)(i + 1);
		memcpy(s + 1, k->pk[i], VAULT_SSH_PK_BYTES);
		randombytes_buf(s + 1 + VAULT_SSH_PK_BYTES, SSH_NONCE);
		ssh_ad(ad, object_id, i + 1, gen, v->kr.current, k->pk[i]);
		crypto_aead_xchacha20poly1305_ietf_encrypt(
			s + 1 + VAULT_SSH_PK_BYTES + SSH_NONCE, NULL,
			k->seed + (size_t)i * SSH_SEED, SSH_SEED, ad, sizeof(ad), NULL,
			s + 1 + VAULT_SSH_PK_BYTES, vault_key_open(dk));
		vault_key_close(dk);
	}
	rc = vault_store_put_raw(&v->ssh, object_id, gen, v->kr.current, payload,
				 sizeof(payload), e);
	if (rc == 0)
		*generation = gen;
	return rc;
}

/* The stored record: public keys (no decryption) and, when `want_seed`
 * names slots (bit 0 = slot 1, bit 1 = slot 2), their opened seeds in
 * k->seed (which the caller allocated). Returns 1, 0 (no keys), -1. */
static int record_read(struct vault *v, uint64_t object_id, struct ssh_seeds *k,
		       unsigned want_seed, uint64_t *generation, struct err *e)
{
	unsigned char *payload, ad[SSH_AD_LEN];
	uint64_t gen;
	uint32_t term;
	size_t len;
	int rc = vault_store_read_raw(&v->ssh, object_id, &payload, &len, &gen, &term, e);

	if (rc <= 0)
		return rc;
	if (len != SSH_PAYLOAD || payload[0] != SSH_FORMAT) {
		vault_store_raw_free(payload, len);
		return err_set(e, "XX000", "internal error: vault: SSH key record of u%" PRIu64
			       " is malformed", object_id);
	}
	for (int i = 0; i < VAULT_SSH_SLOTS; i++) {
		const unsigned char *s = payload + 1 + (size_t)i * SSH_SLOT_BYTES;
		const struct vault_key *dk;

		if (s[0] != i + 1) {
			vault_store_raw_free(payload, len);
			return err_set(e, "XX000", "internal error: vault: SSH key record of u%"
				       PRIu64 " is malformed", object_id);
		}
		memcpy(k->pk[i], s + 1, VAULT_SSH_PK_BYTES);
		if (!(want_seed & (1u << i)))
			continue;
		dk = vault_keyring_key(&v->kr, term);
		if (!dk) {
			vault_store_raw_free(payload, len);
			return err_set(e, "XX000", "internal error: vault: no data key for term %u",
				       term);
		}
		ssh_ad(ad, object_id, i + 1, gen, term, k->pk[i]);
		rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
			k->seed + (size_t)i * SSH_SEED, NULL, NULL,
			s + 1 + VAULT_SSH_PK_BYTES + SSH_NONCE, SSH_SEED + SSH_TAG,
			ad, sizeof(ad), s + 1 + VAULT_SSH_PK_BYTES, vault_key_open(dk));
		vault_key_close(dk);
		if (rc != 0) {
			vault_store_raw_free(payload, len);
			return err_set(e, "XX000", "internal error: vault: SSH key %d of u%" PRIu64
				       " does not authenticate", i + 1, object_id);
		}
	}
	vault_store_raw_free(payload, len);
	if (generation)
		*generation = gen;
	return 1;
}

/* ---- audit ---- */

static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

static int audit_keys(struct vault *v, const char *event, uint64_t object_id,
		      const unsigned char (*pk)[VAULT_SSH_PK_BYTES],
		      const unsigned char *destroyed, uint64_t generation,
		      const struct vault_actor *who, const char *reason,
		      struct err *e)
{
	char obj[ID_BUF], gen[ID_BUF], fp1[VAULT_SSH_FP_MAX], fp2[VAULT_SSH_FP_MAX],
	     fpd[VAULT_SSH_FP_MAX];

	snprintf(obj, sizeof(obj), "u%" PRIu64, object_id);
	snprintf(gen, sizeof(gen), "%" PRIu64, generation);
	if (pk) {
		vault_ssh_fingerprint(pk[0], fp1);
		vault_ssh_fingerprint(pk[1], fp2);
	}
	if (destroyed)
		vault_ssh_fingerprint(destroyed, fpd);
	/* Public fingerprints, ids and names only: never key material. */
	struct audit_field f[] = {
		{ "object", obj },
		{ "generation", generation ? gen : NULL },
		{ "key_1", pk ? fp1 : NULL },
		{ "key_2", pk ? fp2 : NULL },
		{ "destroyed", destroyed ? fpd : NULL },
		{ "reason", reason },
		{ "role", nonempty(who ? who->role : NULL) },
		{ "name", nonempty(who ? who->name : NULL) },
	};
	return vault_audit(v, event, f, sizeof(f) / sizeof(f[0]), e);
}

static void fill_out(struct vault_ssh_pubkeys *out, uint64_t object_id,
		     uint64_t generation, const struct ssh_seeds *k)
{
	if (!out)
		return;
	out->object_id = object_id;
	out->generation = generation;
	memcpy(out->pk, k->pk, sizeof(out->pk));
}

/* ---- operations ---- */

/* Appends the record, audits `event` and reports the public keys: the
 * last steps of generate and rotate. `destroyed`: the key that left, or NULL. */
static int record_commit(struct vault *v, uint64_t object_id, const struct ssh_seeds *k,
			 const char *event, const unsigned char *destroyed,
			 const struct vault_actor *who, struct vault_ssh_pubkeys *out,
			 struct err *e)
{
	uint64_t gen = 0;

	if (record_write(v, object_id, k, &gen, e) != 0 ||
	    audit_keys(v, event, object_id,
		       (const unsigned char (*)[VAULT_SSH_PK_BYTES])k->pk, destroyed, gen,
		       who, NULL, e) != 0)
		return -1;
	fill_out(out, object_id, gen, k);
	return 0;
}

static int has_keys(const struct vault *v, uint64_t object_id)
{
	size_t i = vault_store_first_after(&v->ssh, object_id - 1);

	return i < v->ssh.count && v->ssh.entries[i].object_id == object_id;
}

int vault_ssh_generate(struct vault *v, uint64_t object_id,
		       const struct vault_actor *who,
		       struct vault_ssh_pubkeys *out, struct err *e)
{
	struct ssh_seeds k;
	int rc = -1;

	if (object_id == 0)
		return err_set(e, "XX000", "internal error: vault: SSH keys for object id 0");
	/* Catalog ids are never reused: a second generation is a bug. */
	if (has_keys(v, object_id))
		return err_set(e, "XX000", "internal error: vault: u%" PRIu64
			       " already has SSH keys", object_id);
	if (seeds_alloc(&k, e) < 0)
		return -1;
	if (seeds_generate(&k, 0, e) == 0 && seeds_generate(&k, 1, e) == 0 &&
	    record_commit(v, object_id, &k, "ssh_keys_generated", NULL, who, out, e) == 0)
		rc = 0;
	seeds_free(&k);
	return rc;
}

int vault_ssh_rotate(struct vault *v, uint64_t object_id,
		     const struct vault_actor *who,
		     struct vault_ssh_pubkeys *out, struct err *e)
{
	unsigned char old1[VAULT_SSH_PK_BYTES];
	struct ssh_seeds k;
	int rc;

	if (seeds_alloc(&k, e) < 0)
		return -1;
	/* Only the secondary's seed is needed: it moves to slot 1. */
	rc = record_read(v, object_id, &k, 2u, NULL, e);
	if (rc <= 0) {
		seeds_free(&k);
		return rc < 0 ? -1 : err_set(e, "XX000", "internal error: vault: u%" PRIu64
					     " has no SSH keys to rotate", object_id);
	}
	memcpy(old1, k.pk[0], sizeof(old1));
	memcpy(k.pk[0], k.pk[1], VAULT_SSH_PK_BYTES);
	memcpy(k.seed, k.seed + SSH_SEED, SSH_SEED);
	rc = -1;
	/* One frame replaces the record: the old primary leaves the index in
	 * the same write that adds the new secondary (compaction erases its
	 * ciphertext from the file). */
	if (seeds_generate(&k, 1, e) == 0 &&
	    record_commit(v, object_id, &k, "ssh_keys_rotated", old1, who, out, e) == 0)
		rc = 0;
	seeds_free(&k);
	return rc;
}

int vault_ssh_reseal(struct vault *v, uint64_t object_id, struct err *e)
{
	struct ssh_seeds k;
	uint64_t gen = 0;
	int rc;

	if (seeds_alloc(&k, e) < 0)
		return -1;
	/* Both seeds, opened under their old term, sealed again under the
	 * current one in one frame (a new generation; the keys are the same). */
	rc = record_read(v, object_id, &k, 3u, NULL, e);
	if (rc > 0)
		rc = record_write(v, object_id, &k, &gen, e) == 0 ? 1 : -1;
	seeds_free(&k);
	return rc < 0 ? -1 : 0;
}

int vault_ssh_delete(struct vault *v, uint64_t object_id,
		     const struct vault_actor *who, struct err *e)
{
	struct ssh_seeds k;
	int rc;

	memset(&k, 0, sizeof(k));
	rc = record_read(v, object_id, &k, 0, NULL, e);
	if (rc < 0)
		return -1;
	if (rc > 0 && vault_store_delete(&v->ssh, object_id, 0, NULL, e) < 0)
		return -1;
	return audit_keys(v, "ssh_keys_deleted", object_id,
			  rc > 0 ? (const unsigned char (*)[VAULT_SSH_PK_BYTES])k.pk : NULL,
			  NULL, 0, who, rc > 0 ? NULL : "none_stored", e);
}

int vault_ssh_public_keys(struct vault *v, uint64_t object_id,
			  struct vault_ssh_pubkeys *out, struct err *e)
{
	struct ssh_seeds k;
	uint64_t gen = 0;
	int rc;

	memset(&k, 0, sizeof(k));
	rc = record_read(v, object_id, &k, 0, &gen, e);
	if (rc > 0)
		fill_out(out, object_id, gen, &k);
	return rc;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int vault_ssh_reconcile(struct vault *v, uint64_t *owners, size_t n,
			struct vault_ssh_reconcile_result *r, struct err *e)
{
	char n1[ID_BUF], n2[ID_BUF], n3[ID_BUF];
	size_t i = 0;

	memset(r, 0, sizeof(*r));
	if (n)
		qsort(owners, n, sizeof(*owners), u64_cmp);
	while (i < v->ssh.count) {
		uint64_t id = v->ssh.entries[i].object_id;
		struct ssh_seeds k;

		if (n && bsearch(&id, owners, n, sizeof(*owners), u64_cmp)) {
			i++;
			continue;
		}
		/* Fingerprints for the record; an unreadable record is
		 * shredded all the same. */
		memset(&k, 0, sizeof(k));
		int have = record_read(v, id, &k, 0, NULL, e) > 0;
		err_clear(e);
		if (vault_store_delete(&v->ssh, id, 0, NULL, e) < 0 ||
		    audit_keys(v, "ssh_keys_shredded", id,
			       have ? (const unsigned char (*)[VAULT_SSH_PK_BYTES])k.pk : NULL,
			       NULL, 0, NULL, "reconcile", e) < 0)
			return -1;
		r->shredded++;
	}
	for (size_t j = 0; j < n; j++) {
		if ((j > 0 && owners[j] == owners[j - 1]) || has_keys(v, owners[j]))
			continue;
		uint64_t *m = realloc(r->missing, (r->nmissing + 1) * sizeof(*m));
		if (!m) {
			vault_ssh_reconcile_free(r);
			return err_set(e, "XX000", "internal error: vault: out of memory");
		}
		r->missing = m;
		r->missing[r->nmissing++] = owners[j];
		log_error("ssh_keys_missing", "object=u%" PRIu64, owners[j]);
	}
	r->max_object_id = v->ssh.max_object_id;
	snprintf(n1, sizeof(n1), "%zu", n);
	snprintf(n2, sizeof(n2), "%" PRIu32, r->shredded);
	snprintf(n3, sizeof(n3), "%zu", r->nmissing);
	struct audit_field f[] = {
		{ "named", n1 }, { "shredded", n2 }, { "missing", n3 },
	};
	if (vault_audit(v, "ssh_reconcile", f, 3, e) < 0) {
		vault_ssh_reconcile_free(r);
		return -1;
	}
	return 0;
}

void vault_ssh_reconcile_free(struct vault_ssh_reconcile_result *r)
{
	free(r->missing);
	r->missing = NULL;
	r->nmissing = 0;
}

/* ---- signing ---- */

int vault_ssh_sign(struct vault *v, uint64_t object_id, int slot,
		   const unsigned char *data, size_t len,
		   unsigned char sig[VAULT_SSH_SIG_BYTES], struct err *e)
{
	struct vault_ssh_userauth ua;
	unsigned char pk[VAULT_SSH_PK_BYTES], *sk;
	struct ssh_seeds k;
	int rc;

	memset(sig, 0, VAULT_SSH_SIG_BYTES);
	if (slot < 1 || slot > VAULT_SSH_SLOTS)
		return err_set(e, "22023", "vault: SSH key slot %d does not exist", slot);
	if (vault_ssh_parse_userauth(data, len, &ua) < 0)
		return err_set(e, "42501", "vault: refusing to sign: not an SSH publickey "
			       "authentication request for an ssh-ed25519 key");
	if (seeds_alloc(&k, e) < 0)
		return -1;
	/* Public keys first (no decryption), then only the slot asked for. */
	rc = record_read(v, object_id, &k, 0, NULL, e);
	if (rc == 0)
		rc = err_set(e, "42704", "vault: u%" PRIu64 " has no SSH keys", object_id);
	if (rc < 0)
		goto out;
	if (sodium_memcmp(ua.pk, k.pk[slot - 1], VAULT_SSH_PK_BYTES) != 0) {
		rc = err_set(e, "42501", "vault: refusing to sign: the request names "
			     "another key than key %d of u%" PRIu64, slot, object_id);
		goto out;
	}
	rc = record_read(v, object_id, &k, 1u << (slot - 1), NULL, e);
	if (rc == 0)    /* gone in between: cannot happen single-threaded */
		rc = err_set(e, "42704", "vault: u%" PRIu64 " has no SSH keys", object_id);
	if (rc < 0)
		goto out;
	sk = vault_secbuf_alloc(crypto_sign_SECRETKEYBYTES);
	if (!sk) {
		rc = err_set(e, "XX000", "internal error: vault: out of locked memory");
		goto out;
	}
	crypto_sign_seed_keypair(pk, sk, k.seed + (size_t)(slot - 1) * SSH_SEED);
	if (sodium_memcmp(pk, k.pk[slot - 1], VAULT_SSH_PK_BYTES) != 0) {
		vault_secbuf_free(sk);
		rc = err_set(e, "XX000", "internal error: vault: SSH key %d of u%" PRIu64
			     " does not match its public key", slot, object_id);
		goto out;
	}
	crypto_sign_detached(sig, NULL, data, len, sk);
	vault_secbuf_free(sk);
	rc = 0;
out:
	seeds_free(&k);
	return rc < 0 ? -1 : 0;
}
