/* SSH key pairs in the vault: generate / rotate / delete / reconcile
 * through the library and through the real tether-vault over IPC, torn
 * tails and compaction of sshkeys.log, the userauth-only signer (signatures
 * verify; anything but a matching userauth request is refused), no private
 * bytes in any file, the audit chain. With TETHER_HAVE_LIBSSH2 and an
 * sshd on the machine: real public-key login against OpenSSH with a
 * libssh2 sign callback that calls vault_ssh_sign. */
#include "vtest.h"

#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include <sodium.h>

#include "err.h"
#include "ipc.h"
#include "keymem.h"
#include "ssh.h"
#include "vault.h"

static const struct vault_actor who = { "materialize", "materialize.public.ssh" };

static void open_vault(struct vtest *t, struct vault *v)
{
	struct err e = { 0 };

	if (vault_open(v, t->dir, &e) < 0)
		fail_msg("vault_open: %s", e.message);
}

static void sync_ok(struct vault *v)
{
	struct err e = { 0 };

	if (vault_sync(v, &e) < 0)
		fail_msg("sync: %s", e.message);
}

static void generate(struct vault *v, uint64_t id, struct vault_ssh_pubkeys *k)
{
	struct err e = { 0 };

	if (vault_ssh_generate(v, id, &who, k, &e) < 0)
		fail_msg("generate u%llu: %s", (unsigned long long)id, e.message);
}

static void rotate(struct vault *v, uint64_t id, struct vault_ssh_pubkeys *k)
{
	struct err e = { 0 };

	if (vault_ssh_rotate(v, id, &who, k, &e) < 0)
		fail_msg("rotate u%llu: %s", (unsigned long long)id, e.message);
}

static void assert_keys(struct vault *v, uint64_t id, const struct vault_ssh_pubkeys *want)
{
	struct vault_ssh_pubkeys got;
	struct err e = { 0 };

	assert_int_equal(vault_ssh_public_keys(v, id, &got, &e), 1);
	assert_int_equal(got.object_id, id);
	assert_memory_equal(got.pk, want->pk, sizeof(got.pk));
	assert_int_equal(got.generation, want->generation);
}

static void assert_no_keys(struct vault *v, uint64_t id)
{
	struct vault_ssh_pubkeys got;
	struct err e = { 0 };

	assert_int_equal(vault_ssh_public_keys(v, id, &got, &e), 0);
}

/* ---- userauth requests as libssh2 builds them ---- */

struct ua_spec {
	size_t sid_len;
	unsigned char msg;
	const char *user, *service, *method, *alg;
	unsigned char has_sig;
	const unsigned char *blob;
	size_t blob_len;
	size_t trailing;
};

static size_t put_str(unsigned char *p, const void *s, size_t n)
{
	p[0] = (unsigned char)(n >> 24);
	p[1] = (unsigned char)(n >> 16);
	p[2] = (unsigned char)(n >> 8);
	p[3] = (unsigned char)n;
	memcpy(p + 4, s, n);
	return 4 + n;
}

static void ua_default(struct ua_spec *u, const unsigned char blob[VAULT_SSH_BLOB_BYTES])
{
	*u = (struct ua_spec){ 32, 50, "root", "ssh-connection", "publickey",
			       "ssh-ed25519", 1, blob, VAULT_SSH_BLOB_BYTES, 0 };
}

static size_t ua_build(unsigned char *buf, const struct ua_spec *u)
{
	unsigned char sid[128];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(sid); i++)
		sid[i] = (unsigned char)(i * 7 + 3);
	n += put_str(buf + n, sid, u->sid_len);
	buf[n++] = u->msg;
	n += put_str(buf + n, u->user, strlen(u->user));
	n += put_str(buf + n, u->service, strlen(u->service));
	n += put_str(buf + n, u->method, strlen(u->method));
	buf[n++] = u->has_sig;
	n += put_str(buf + n, u->alg, strlen(u->alg));
	n += put_str(buf + n, u->blob, u->blob_len);
	memset(buf + n, 0, u->trailing);
	return n + u->trailing;
}

static size_t ua_for(unsigned char *buf, const unsigned char pk[VAULT_SSH_PK_BYTES])
{
	unsigned char blob[VAULT_SSH_BLOB_BYTES];
	struct ua_spec u;

	vault_ssh_blob(pk, blob);
	ua_default(&u, blob);
	return ua_build(buf, &u);
}

static void sign_ok(struct vault *v, uint64_t id, int slot,
		    const unsigned char pk[VAULT_SSH_PK_BYTES])
{
	unsigned char data[512], sig[VAULT_SSH_SIG_BYTES];
	size_t len = ua_for(data, pk);
	struct err e = { 0 };

	if (vault_ssh_sign(v, id, slot, data, len, sig, &e) < 0)
		fail_msg("sign u%llu slot %d: %s", (unsigned long long)id, slot, e.message);
	assert_int_equal(crypto_sign_verify_detached(sig, data, len, pk), 0);
	/* A different message does not verify with that signature. */
	data[40] ^= 1;
	assert_int_not_equal(crypto_sign_verify_detached(sig, data, len, pk), 0);
}

static void sign_refused(struct vault *v, uint64_t id, int slot,
			 const unsigned char *data, size_t len, const char *sqlstate)
{
	unsigned char sig[VAULT_SSH_SIG_BYTES];
	static const unsigned char zero[VAULT_SSH_SIG_BYTES];
	struct err e = { 0 };

	memset(sig, 0xAA, sizeof(sig));
	assert_int_equal(vault_ssh_sign(v, id, slot, data, len, sig, &e), -1);
	assert_string_equal(e.sqlstate, sqlstate);
	assert_memory_equal(sig, zero, sizeof(sig));
}

/* ---- test-only decryption of a record (the format of ssh.c's header) to
 * learn the private halves, so that files can be searched for them ---- */

#define T_SLOT (1 + 32 + 24 + 48)

static void record_seeds(struct vault *v, uint64_t id,
			 unsigned char seeds[2][32], unsigned char sks[2][64])
{
	unsigned char *payload, ad[13 + 8 + 1 + 8 + 4 + 32];
	uint64_t gen;
	uint32_t term;
	size_t len;
	struct err e = { 0 };

	assert_int_equal(vault_store_read_raw(&v->ssh, id, &payload, &len, &gen, &term, &e), 1);
	assert_int_equal(len, 1 + 2 * T_SLOT);
	for (int i = 0; i < 2; i++) {
		const unsigned char *s = payload + 1 + i * T_SLOT;
		unsigned char pk[32];
		const struct vault_key *dk = vault_keyring_key(&v->kr, term);

		assert_non_null(dk);
		memcpy(ad, "tether-ssh-v1", 13);
		for (int b = 0; b < 8; b++)
			ad[13 + b] = (unsigned char)(id >> (8 * b));
		ad[21] = (unsigned char)(i + 1);
		for (int b = 0; b < 8; b++)
			ad[22 + b] = (unsigned char)(gen >> (8 * b));
		for (int b = 0; b < 4; b++)
			ad[30 + b] = (unsigned char)(term >> (8 * b));
		memcpy(ad + 34, s + 1, 32);
		assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(
			seeds[i], NULL, NULL, s + 1 + 32 + 24, 48, ad, sizeof(ad),
			s + 1 + 32, vault_key_open(dk)), 0);
		vault_key_close(dk);
		crypto_sign_seed_keypair(pk, sks[i], seeds[i]);
		assert_memory_equal(pk, s + 1, 32);
	}
	vault_store_raw_free(payload, len);
}

static void assert_not_in_vault_files(struct vtest *t, const void *needle, size_t n)
{
	static const char *files[] = { "sshkeys.log", "secrets.log", "audit.log",
				       "keyring", "master.key" };
	char path[512];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		vtest_path(path, sizeof(path), t, files[i]);
		if (access(path, F_OK) == 0 && vtest_file_contains(path, needle, n))
			fail_msg("private key bytes found in %s", files[i]);
	}
}

static void assert_audit_ok(struct vtest *t)
{
	char path[512];
	struct err e = { 0 };

	vtest_path(path, sizeof(path), t, "audit.log");
	if (audit_verify_file(path, &e) < 0)
		fail_msg("audit chain: %s", e.message);
}

static int audit_has(struct vtest *t, const char *s)
{
	char path[512];

	vtest_path(path, sizeof(path), t, "audit.log");
	return vtest_file_contains_str(path, s);
}

/* ---- tests ---- */

static void test_format(void **state)
{
	(void)state;
	unsigned char pk[32], blob[VAULT_SSH_BLOB_BYTES];
	char line[VAULT_SSH_LINE_MAX], fp[VAULT_SSH_FP_MAX];

	memset(pk, 0, sizeof(pk));
	vault_ssh_blob(pk, blob);
	assert_memory_equal(blob, "\0\0\0\x0bssh-ed25519\0\0\0\x20", 19);
	vault_ssh_authorized_key(pk, line);
	/* The well-known prefix of every ed25519 authorized_keys line. */
	assert_memory_equal(line, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI", 37);
	assert_int_equal(strlen(line), strlen("ssh-ed25519 ") + 68 + strlen(" tether"));
	assert_string_equal(line + strlen(line) - 7, " tether");
	vault_ssh_fingerprint(pk, fp);
	assert_memory_equal(fp, "SHA256:", 7);
	assert_int_equal(strlen(fp), 7 + 43);
}

static void test_generate(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct vault_ssh_pubkeys k, k2;
	struct err e = { 0 };
	char fp[VAULT_SSH_FP_MAX], want[160];

	open_vault(t, &v);
	generate(&v, 7, &k);
	sync_ok(&v);
	assert_int_equal(k.object_id, 7);
	assert_true(k.generation > 0);
	assert_memory_not_equal(k.pk[0], k.pk[1], 32);
	assert_keys(&v, 7, &k);
	sign_ok(&v, 7, 1, k.pk[0]);
	sign_ok(&v, 7, 2, k.pk[1]);

	/* One generation per object: a second one is refused. */
	assert_int_equal(vault_ssh_generate(&v, 7, &who, &k2, &e), -1);
	assert_string_equal(e.sqlstate, "XX000");
	vault_close(&v);

	open_vault(t, &v);
	assert_keys(&v, 7, &k);
	sign_ok(&v, 7, 1, k.pk[0]);
	vault_close(&v);

	vault_ssh_fingerprint(k.pk[0], fp);
	snprintf(want, sizeof(want), "event=ssh_keys_generated object=u7 generation=%" PRIu64
		 " key_1=%s", k.generation, fp);
	assert_true(audit_has(t, want));
	assert_true(audit_has(t, "role=materialize name=materialize.public.ssh"));
	assert_audit_ok(t);
}

static void test_rotate(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct vault_ssh_pubkeys k, r, r2;
	unsigned char data[512], old_seeds[2][32], old_sks[2][64], seeds[2][32], sks[2][64];
	struct err e = { 0 };
	char fp[VAULT_SSH_FP_MAX], want[200];
	size_t len;

	open_vault(t, &v);
	generate(&v, 3, &k);
	sync_ok(&v);
	record_seeds(&v, 3, old_seeds, old_sks);
	rotate(&v, 3, &r);
	sync_ok(&v);
	assert_memory_equal(r.pk[0], k.pk[1], 32);         /* key 2 -> key 1 */
	assert_memory_not_equal(r.pk[1], k.pk[0], 32);
	assert_memory_not_equal(r.pk[1], k.pk[1], 32);     /* fresh key 2 */
	assert_true(r.generation > k.generation);
	record_seeds(&v, 3, seeds, sks);
	assert_memory_equal(seeds[0], old_seeds[1], 32);    /* same private key moved */
	vault_close(&v);

	open_vault(t, &v);
	assert_keys(&v, 3, &r);
	sign_ok(&v, 3, 1, r.pk[0]);
	sign_ok(&v, 3, 2, r.pk[1]);
	/* The old primary is gone: no slot signs for it. */
	len = ua_for(data, k.pk[0]);
	sign_refused(&v, 3, 1, data, len, "42501");
	sign_refused(&v, 3, 2, data, len, "42501");

	/* A second rotation; rotating an object without keys fails. */
	rotate(&v, 3, &r2);
	sync_ok(&v);
	assert_memory_equal(r2.pk[0], r.pk[1], 32);
	assert_int_equal(vault_ssh_rotate(&v, 99, &who, &r2, &e), -1);
	vault_close(&v);

	vault_ssh_fingerprint(k.pk[0], fp);
	snprintf(want, sizeof(want), "destroyed=%s", fp);
	assert_true(audit_has(t, "event=ssh_keys_rotated object=u3"));
	assert_true(audit_has(t, want));
	assert_audit_ok(t);
	(void)old_sks;
}

static void test_delete(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct vault_ssh_pubkeys k, other;
	unsigned char data[512];
	struct err e = { 0 };
	size_t len;

	open_vault(t, &v);
	generate(&v, 4, &k);
	generate(&v, 5, &other);
	sync_ok(&v);
	assert_int_equal(vault_ssh_delete(&v, 4, &who, &e), 0);
	assert_int_equal(vault_ssh_delete(&v, 4, &who, &e), 0);   /* nothing: fine */
	sync_ok(&v);
	assert_no_keys(&v, 4);
	len = ua_for(data, k.pk[0]);
	sign_refused(&v, 4, 1, data, len, "42704");
	vault_close(&v);

	open_vault(t, &v);
	assert_no_keys(&v, 4);
	assert_keys(&v, 5, &other);
	vault_close(&v);
	assert_true(audit_has(t, "event=ssh_keys_deleted object=u4 key_1=SHA256:"));
	assert_true(audit_has(t, "event=ssh_keys_deleted object=u4 reason=none_stored"));
	assert_audit_ok(t);
}

static void test_reconcile(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct vault_ssh_pubkeys k1, k2, k3;
	struct vault_ssh_reconcile_result r;
	uint64_t owners[] = { 12, 10, 40 };
	struct err e = { 0 };

	open_vault(t, &v);
	generate(&v, 10, &k1);
	generate(&v, 11, &k2);
	generate(&v, 12, &k3);
	sync_ok(&v);
	assert_int_equal(vault_ssh_reconcile(&v, owners, 3, &r, &e), 0);
	sync_ok(&v);
	assert_int_equal(r.shredded, 1);
	assert_int_equal(r.nmissing, 1);
	assert_int_equal(r.missing[0], 40);
	assert_int_equal(r.max_object_id, 12);
	vault_ssh_reconcile_free(&r);
	vault_close(&v);

	open_vault(t, &v);
	assert_keys(&v, 10, &k1);
	assert_no_keys(&v, 11);
	assert_keys(&v, 12, &k3);
	/* An empty owner list shreds everything. */
	assert_int_equal(vault_ssh_reconcile(&v, NULL, 0, &r, &e), 0);
	assert_int_equal(r.shredded, 2);
	vault_ssh_reconcile_free(&r);
	sync_ok(&v);
	vault_close(&v);
	assert_true(audit_has(t, "event=ssh_keys_shredded object=u11 key_1=SHA256:"));
	assert_true(audit_has(t, "reason=reconcile"));
	assert_true(audit_has(t, "event=ssh_reconcile named=3 shredded=1 missing=1"));
	assert_audit_ok(t);
}

static void test_torn_tail(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct vault_ssh_pubkeys a, b, ra;
	char path[512];
	off_t before;

	open_vault(t, &v);
	generate(&v, 1, &a);
	sync_ok(&v);
	vtest_path(path, sizeof(path), t, "sshkeys.log");
	before = vtest_size(path);
	generate(&v, 2, &b);
	sync_ok(&v);
	vault_close(&v);
	/* Cut the second record in half: it was never acknowledged. */
	assert_int_equal(truncate(path, before + (vtest_size(path) - before) / 2), 0);
	open_vault(t, &v);
	assert_true(v.ssh.truncated_bytes > 0);
	assert_keys(&v, 1, &a);
	assert_no_keys(&v, 2);
	assert_int_equal(vtest_size(path), before);

	/* A torn rotation leaves the old pair, never a mix. */
	rotate(&v, 1, &ra);
	sync_ok(&v);
	vault_close(&v);
	assert_int_equal(truncate(path, vtest_size(path) - 7), 0);
	open_vault(t, &v);
	assert_keys(&v, 1, &a);
	sign_ok(&v, 1, 1, a.pk[0]);
	/* Zero-filled tail (a crash after the size grew). */
	vault_close(&v);
	{
		unsigned char zeros[300] = { 0 };
		vtest_append(path, zeros, sizeof(zeros));
	}
	open_vault(t, &v);
	assert_keys(&v, 1, &a);
	generate(&v, 2, &b);        /* the store stays writable after recovery */
	sync_ok(&v);
	vault_close(&v);
	open_vault(t, &v);
	assert_keys(&v, 2, &b);
	vault_close(&v);
	assert_audit_ok(t);
}

static void test_compaction_erases_destroyed_keys(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct vault_ssh_pubkeys k, r;
	unsigned char seeds[2][32], sks[2][64], *old;
	char path[512];
	size_t oldlen;
	struct err e = { 0 };

	open_vault(t, &v);
	v.ssh.compact_min_dead = 0;
	generate(&v, 8, &k);
	sync_ok(&v);
	record_seeds(&v, 8, seeds, sks);
	assert_int_equal(vault_store_read_raw(&v.ssh, 8, &old, &oldlen, NULL, NULL, &e), 1);
	rotate(&v, 8, &r);
	rotate(&v, 8, &r);
	sync_ok(&v);                /* dead > live: compacted here */
	assert_true(v.ssh.compactions >= 1);
	vault_close(&v);
	vtest_path(path, sizeof(path), t, "sshkeys.log");
	/* The sealed old primary (nonce + ciphertext) is no longer in the file. */
	assert_false(vtest_file_contains(path, old + 1 + 1 + 32, 24 + 48));
	vault_store_raw_free(old, oldlen);
	open_vault(t, &v);
	assert_keys(&v, 8, &r);
	sign_ok(&v, 8, 1, r.pk[0]);
	vault_close(&v);
}

static void test_sign_refusals(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct vault_ssh_pubkeys k;
	unsigned char blob[VAULT_SSH_BLOB_BYTES], blob2[VAULT_SSH_BLOB_BYTES], bad[64];
	unsigned char data[1024];
	struct ua_spec u;
	size_t len;

	open_vault(t, &v);
	generate(&v, 6, &k);
	sync_ok(&v);
	vault_ssh_blob(k.pk[0], blob);
	vault_ssh_blob(k.pk[1], blob2);

	/* Not a userauth request at all. */
	sign_refused(&v, 6, 1, (const unsigned char *)"hello", 5, "42501");
	sign_refused(&v, 6, 1, NULL, 0, "42501");
	memset(data, 0x41, 300);
	sign_refused(&v, 6, 1, data, 300, "42501");
	/* Each field wrong in turn. */
	ua_default(&u, blob); u.msg = 51;
	len = ua_build(data, &u); sign_refused(&v, 6, 1, data, len, "42501");
	ua_default(&u, blob); u.sid_len = 8;
	len = ua_build(data, &u); sign_refused(&v, 6, 1, data, len, "42501");
	ua_default(&u, blob); u.sid_len = 100;
	len = ua_build(data, &u); sign_refused(&v, 6, 1, data, len, "42501");
	ua_default(&u, blob); u.user = "";
	len = ua_build(data, &u); sign_refused(&v, 6, 1, data, len, "42501");
	ua_default(&u, blob); u.service = "ssh-userauth";
	len = ua_build(data, &u); sign_refused(&v, 6, 1, data, len, "42501");
	ua_default(&u, blob); u.method = "password";
	len = ua_build(data, &u); sign_refused(&v, 6, 1, data, len, "42501");
	ua_default(&u, blob); u.has_sig = 0;
	len = ua_build(data, &u); sign_refused(&v, 6, 1, data, len, "42501");
	ua_default(&u, blob); u.has_sig = 2;
	len = ua_build(data, &u); sign_refused(&v, 6, 1, data, len, "42501");
	ua_default(&u, blob); u.alg = "rsa-sha2-256";
	len = ua_build(data, &u); sign_refused(&v, 6, 1, data, len, "42501");
	ua_default(&u, blob); u.trailing = 1;
	len = ua_build(data, &u); sign_refused(&v, 6, 1, data, len, "42501");
	ua_default(&u, blob); u.blob_len = 50;
	len = ua_build(data, &u); sign_refused(&v, 6, 1, data, len, "42501");
	memcpy(bad, blob, sizeof(blob));
	bad[6] = 'X';               /* "ssX-ed25519" inside the blob */
	ua_default(&u, bad);
	len = ua_build(data, &u); sign_refused(&v, 6, 1, data, len, "42501");
	/* Truncated anywhere. */
	ua_default(&u, blob);
	len = ua_build(data, &u);
	for (size_t cut = 0; cut < len; cut += 7)
		sign_refused(&v, 6, 1, data, cut, "42501");
	/* A well-formed request for the other slot's key, an unknown key, an
	 * unknown object, a slot that does not exist. */
	ua_default(&u, blob2);
	len = ua_build(data, &u);
	sign_refused(&v, 6, 1, data, len, "42501");
	sign_ok(&v, 6, 2, k.pk[1]);
	{
		unsigned char pk[32], sk[64], b[VAULT_SSH_BLOB_BYTES];
		crypto_sign_keypair(pk, sk);
		vault_ssh_blob(pk, b);
		ua_default(&u, b);
		len = ua_build(data, &u);
		sign_refused(&v, 6, 1, data, len, "42501");
	}
	ua_default(&u, blob);
	len = ua_build(data, &u);
	sign_refused(&v, 77, 1, data, len, "42704");
	sign_refused(&v, 6, 0, data, len, "22023");
	sign_refused(&v, 6, 3, data, len, "22023");
	/* Other session id lengths are accepted (SHA-1 .. SHA-512 exchanges). */
	{
		unsigned char sig[64];
		struct err e = { 0 };
		static const size_t ok_lens[] = { 20, 32, 48, 64 };
		for (size_t i = 0; i < 4; i++) {
			ua_default(&u, blob);
			u.sid_len = ok_lens[i];
			len = ua_build(data, &u);
			assert_int_equal(vault_ssh_sign(&v, 6, 1, data, len, sig, &e), 0);
			assert_int_equal(crypto_sign_verify_detached(sig, data, len, k.pk[0]), 0);
		}
	}
	vault_close(&v);
}

static void test_no_private_bytes_in_files(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct vault_ssh_pubkeys k, r;
	unsigned char seeds[3][2][32], sks[3][2][64];

	open_vault(t, &v);
	v.ssh.compact_min_dead = 0;
	generate(&v, 20, &k);
	sync_ok(&v);
	record_seeds(&v, 20, seeds[0], sks[0]);
	rotate(&v, 20, &r);
	sync_ok(&v);
	record_seeds(&v, 20, seeds[1], sks[1]);
	generate(&v, 21, &k);
	sync_ok(&v);
	record_seeds(&v, 21, seeds[2], sks[2]);
	sign_ok(&v, 21, 1, k.pk[0]);
	vault_close(&v);
	for (int i = 0; i < 3; i++)
		for (int s = 0; s < 2; s++) {
			assert_not_in_vault_files(t, seeds[i][s], 32);
			assert_not_in_vault_files(t, sks[i][s], 64);
		}
	/* The public halves are on disk (in the record), the audit log has
	 * only fingerprints. */
	char path[512];
	vtest_path(path, sizeof(path), t, "audit.log");
	assert_false(vtest_file_contains(path, k.pk[0], 32));
	assert_false(vtest_file_contains_str(path, "AAAAC3NzaC1lZDI1NTE5"));
	assert_audit_ok(t);
}

/* Rewrites, in the file, the live record whose payload is `old` with
 * `repl` (same length) and re-seals the frame checksum (store.c's format),
 * as an attacker with write access to the vault directory could. */
static void patch_record(struct vtest *t, const unsigned char *old,
			 const unsigned char *repl, size_t len)
{
	char path[512];
	size_t flen;
	unsigned char *file, *at, *body, *frame;
	crypto_generichash_state h;

	vtest_path(path, sizeof(path), t, "sshkeys.log");
	file = vtest_read(path, &flen);
	at = memmem(file, flen, old, len);
	assert_non_null(at);
	memcpy(at, repl, len);
	body = at - 21;                 /* u8 type | u64 id | u64 version | u32 term */
	frame = body - 36;              /* u32 len | checksum[32] */
	assert_int_equal(body[0], 3);
	crypto_generichash_init(&h, NULL, 0, 32);
	crypto_generichash_update(&h, frame, 4);
	crypto_generichash_update(&h, body, 21 + len);
	crypto_generichash_final(&h, frame + 4, 32);
	vtest_write(path, file, flen);
	free(file);
}

static void test_ad_binds_object_and_slot(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct vault_ssh_pubkeys a, b;
	unsigned char *pa, *pb, *mod, data[512], sig[64];
	size_t la, lb, len;
	struct err e = { 0 };

	open_vault(t, &v);
	generate(&v, 30, &a);
	generate(&v, 31, &b);
	sync_ok(&v);
	assert_int_equal(vault_store_read_raw(&v.ssh, 30, &pa, &la, NULL, NULL, &e), 1);
	assert_int_equal(vault_store_read_raw(&v.ssh, 31, &pb, &lb, NULL, NULL, &e), 1);
	vault_close(&v);

	/* u30's sealed key 1 moved into u31's record: it does not open there. */
	mod = malloc(lb);
	memcpy(mod, pb, lb);
	memcpy(mod + 1, pa + 1, T_SLOT);
	patch_record(t, pb, mod, lb);
	/* u30's two sealed slots swapped (slot tags kept): neither opens. */
	memcpy(mod, pa, la);
	memcpy(mod + 1 + 1, pa + 1 + T_SLOT + 1, T_SLOT - 1);
	memcpy(mod + 1 + T_SLOT + 1, pa + 1 + 1, T_SLOT - 1);
	patch_record(t, pa, mod, la);
	free(mod);

	open_vault(t, &v);
	assert_int_equal(v.ssh.truncated_bytes, 0);  /* checksums are fine */
	len = ua_for(data, a.pk[0]);
	assert_int_equal(vault_ssh_sign(&v, 31, 1, data, len, sig, &e), -1);
	assert_string_equal(e.sqlstate, "XX000");
	assert_non_null(strstr(e.message, "does not authenticate"));
	len = ua_for(data, a.pk[1]);
	assert_int_equal(vault_ssh_sign(&v, 30, 1, data, len, sig, &e), -1);
	assert_non_null(strstr(e.message, "does not authenticate"));
	/* Rotation needs key 2 to open, so it fails too and changes nothing. */
	assert_int_equal(vault_ssh_rotate(&v, 30, &who, &b, &e), -1);
	vault_close(&v);
	vault_store_raw_free(pa, la);
	vault_store_raw_free(pb, lb);
}

/* sshkeys.log depends on the keyring like secrets.log: with only SSH keys
 * stored, a missing keyring is an error, never silently replaced. */
static void test_keyring_not_recreated_under_ssh_keys(void **state)
{
	struct vtest *t = *state;
	struct vault v;
	struct vault_ssh_pubkeys k;
	char path[512];
	struct err e = { 0 };

	open_vault(t, &v);
	generate(&v, 2, &k);
	sync_ok(&v);
	vault_close(&v);
	vtest_path(path, sizeof(path), t, "secrets.log");
	assert_int_equal(unlink(path), 0);
	open_vault(t, &v);              /* keyring still there: fine */
	assert_keys(&v, 2, &k);
	vault_close(&v);
	assert_int_equal(unlink(path), 0);
	vtest_path(path, sizeof(path), t, "keyring");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(vault_open(&v, t->dir, &e), -1);
	assert_true(access(path, F_OK) != 0);
}

/* ---- through the real tether-vault over IPC ---- */

#ifdef TETHER_VAULT_BIN
#define TIMEOUT_MS 15000

struct vproc {
	pid_t pid;
	struct ipc_chan sup, cat;
};

static void spawn_vault(struct vtest *t, struct vproc *p)
{
	int sup[2], cat[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sup), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, cat), 0);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		int s = fcntl(sup[1], F_DUPFD_CLOEXEC, 20);
		int c = fcntl(cat[1], F_DUPFD_CLOEXEC, 20);
		if (s < 0 || c < 0 || dup2(s, 3) != 3 || dup2(c, 4) != 4)
			_exit(99);
		execl(TETHER_VAULT_BIN, "tether-vault", "--data-dir", t->dir, (char *)NULL);
		_exit(98);
	}
	close(sup[1]);
	close(cat[1]);
	ipc_chan_init(&p->sup, sup[0], IPC_SUP_VAULT, IPC_END_A);
	ipc_chan_init(&p->cat, cat[0], IPC_CATALOG_VAULT, IPC_END_A);
}

static Tether__Envelope *expect(struct ipc_chan *c, Tether__Envelope__BodyCase kind)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	Tether__Envelope *env = NULL;

	if (poll(&pfd, 1, TIMEOUT_MS) != 1)
		fail_msg("timed out waiting for the vault");
	assert_int_equal(ipc_recv(c, &env, NULL), IPC_RECV_MESSAGE);
	if (env->body_case != kind && env->body_case == TETHER__ENVELOPE__BODY_REPLY)
		fail_msg("vault answered %s: %s", env->reply->sqlstate, env->reply->message);
	assert_int_equal(env->body_case, kind);
	return env;
}

static void stop_vault(struct vproc *p)
{
	int status;

	close(p->sup.fd);
	for (int i = 0; i < TIMEOUT_MS / 10; i++) {
		if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
			close(p->cat.fd);
			assert_true(WIFEXITED(status));
			assert_int_equal(WEXITSTATUS(status), 0);
			return;
		}
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	kill(p->pid, SIGKILL);
	waitpid(p->pid, &status, 0);
	fail_msg("tether-vault did not exit");
}

static void send_env(struct ipc_chan *c, Tether__Envelope *env, uint64_t rid)
{
	env->request_id = rid;
	assert_int_equal(ipc_send(c, env, -1), 0);
}

static Tether__Envelope *ssh_request(struct vproc *p, Tether__Envelope__BodyCase kind,
				     uint64_t id, uint64_t rid,
				     Tether__Envelope__BodyCase answer)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__GenerateSshKeys g = TETHER__GENERATE_SSH_KEYS__INIT;
	Tether__RotateSshKeys r = TETHER__ROTATE_SSH_KEYS__INIT;
	Tether__DeleteSshKeys d = TETHER__DELETE_SSH_KEYS__INIT;
	Tether__GetSshPublicKeys q = TETHER__GET_SSH_PUBLIC_KEYS__INIT;
	Tether__Envelope *in;

	env.body_case = kind;
	g.object_id = r.object_id = d.object_id = q.object_id = id;
	g.object_name = r.object_name = d.object_name = "materialize.public.bastion";
	g.role = r.role = d.role = "materialize";
	env.generate_ssh_keys = &g;
	if (kind == TETHER__ENVELOPE__BODY_ROTATE_SSH_KEYS)
		env.rotate_ssh_keys = &r;
	else if (kind == TETHER__ENVELOPE__BODY_DELETE_SSH_KEYS)
		env.delete_ssh_keys = &d;
	else if (kind == TETHER__ENVELOPE__BODY_GET_SSH_PUBLIC_KEYS)
		env.get_ssh_public_keys = &q;
	send_env(&p->cat, &env, rid);
	in = expect(&p->cat, answer);
	assert_int_equal(in->request_id, rid);
	return in;
}

static void test_ipc_end_to_end(void **state)
{
	struct vtest *t = *state;
	struct vproc p;
	Tether__Envelope *in, env = TETHER__ENVELOPE__INIT;
	Tether__ReconcileBatch rb = TETHER__RECONCILE_BATCH__INIT;
	char k1[VAULT_SSH_LINE_MAX], k2[VAULT_SSH_LINE_MAX], line[VAULT_SSH_LINE_MAX];
	uint64_t owners[] = { 5, 9 };
	struct vault v;
	struct vault_ssh_pubkeys pk;

	spawn_vault(t, &p);
	in = expect(&p.sup, TETHER__ENVELOPE__BODY_HEALTH);
	ipc_envelope_free(in);

	in = ssh_request(&p, TETHER__ENVELOPE__BODY_GENERATE_SSH_KEYS, 5, 1,
			 TETHER__ENVELOPE__BODY_SSH_PUBLIC_KEYS);
	assert_int_equal(in->ssh_public_keys->object_id, 5);
	snprintf(k1, sizeof(k1), "%s", in->ssh_public_keys->public_key_1);
	snprintf(k2, sizeof(k2), "%s", in->ssh_public_keys->public_key_2);
	assert_memory_equal(k1, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI", 37);
	assert_string_not_equal(k1, k2);
	ipc_envelope_free(in);
	/* Generating twice for one object is an error Reply. */
	in = ssh_request(&p, TETHER__ENVELOPE__BODY_GENERATE_SSH_KEYS, 5, 2,
			 TETHER__ENVELOPE__BODY_REPLY);
	assert_false(in->reply->ok);
	ipc_envelope_free(in);
	in = ssh_request(&p, TETHER__ENVELOPE__BODY_GENERATE_SSH_KEYS, 6, 3,
			 TETHER__ENVELOPE__BODY_SSH_PUBLIC_KEYS);
	ipc_envelope_free(in);

	in = ssh_request(&p, TETHER__ENVELOPE__BODY_ROTATE_SSH_KEYS, 5, 4,
			 TETHER__ENVELOPE__BODY_SSH_PUBLIC_KEYS);
	assert_string_equal(in->ssh_public_keys->public_key_1, k2);
	assert_string_not_equal(in->ssh_public_keys->public_key_2, k2);
	assert_string_not_equal(in->ssh_public_keys->public_key_2, k1);
	snprintf(k1, sizeof(k1), "%s", in->ssh_public_keys->public_key_1);
	snprintf(k2, sizeof(k2), "%s", in->ssh_public_keys->public_key_2);
	ipc_envelope_free(in);
	in = ssh_request(&p, TETHER__ENVELOPE__BODY_GET_SSH_PUBLIC_KEYS, 5, 5,
			 TETHER__ENVELOPE__BODY_SSH_PUBLIC_KEYS);
	assert_string_equal(in->ssh_public_keys->public_key_1, k1);
	assert_string_equal(in->ssh_public_keys->public_key_2, k2);
	ipc_envelope_free(in);
	in = ssh_request(&p, TETHER__ENVELOPE__BODY_GET_SSH_PUBLIC_KEYS, 77, 6,
			 TETHER__ENVELOPE__BODY_REPLY);
	assert_string_equal(in->reply->sqlstate, "42704");
	ipc_envelope_free(in);

	/* A reconciliation that does not list SSH owners leaves them alone. */
	rb.last = 1;
	env.body_case = TETHER__ENVELOPE__BODY_RECONCILE_BATCH;
	env.reconcile_batch = &rb;
	send_env(&p.cat, &env, 7);
	in = expect(&p.cat, TETHER__ENVELOPE__BODY_RECONCILE_RESULT);
	assert_int_equal(in->reconcile_result->ssh_keys_shredded, 0);
	assert_int_equal(in->reconcile_result->max_object_id, 6);
	ipc_envelope_free(in);
	/* One that does (in two batches): u6 is an orphan, u9 is missing. */
	rb.last = 0;
	rb.ssh_keys_listed = 1;
	rb.ssh_key_owners = owners;
	rb.n_ssh_key_owners = 1;
	send_env(&p.cat, &env, 8);
	rb.last = 1;
	rb.ssh_keys_listed = 0;
	rb.ssh_key_owners = owners + 1;
	send_env(&p.cat, &env, 8);
	in = expect(&p.cat, TETHER__ENVELOPE__BODY_RECONCILE_RESULT);
	assert_int_equal(in->request_id, 8);
	assert_int_equal(in->reconcile_result->ssh_keys_shredded, 1);
	assert_int_equal(in->reconcile_result->n_missing_ssh_keys, 1);
	assert_int_equal(in->reconcile_result->missing_ssh_keys[0], 9);
	ipc_envelope_free(in);

	in = ssh_request(&p, TETHER__ENVELOPE__BODY_DELETE_SSH_KEYS, 5, 9,
			 TETHER__ENVELOPE__BODY_REPLY);
	assert_true(in->reply->ok);
	ipc_envelope_free(in);
	stop_vault(&p);

	open_vault(t, &v);
	assert_no_keys(&v, 5);
	assert_no_keys(&v, 6);
	vault_close(&v);
	assert_true(audit_has(t, "event=ssh_keys_generated object=u5"));
	assert_true(audit_has(t, "event=ssh_keys_rotated object=u5"));
	assert_true(audit_has(t, "event=ssh_keys_shredded object=u6"));
	assert_true(audit_has(t, "event=ssh_keys_deleted object=u5"));
	assert_true(audit_has(t, "name=materialize.public.bastion"));
	assert_audit_ok(t);
	(void)pk;
	(void)line;
}
#endif

/* ---- real OpenSSH, libssh2 client, vault-held key ---- */

#ifdef TETHER_HAVE_LIBSSH2
#include <arpa/inet.h>
#include <netinet/in.h>
#include <libssh2.h>
#include <sys/prctl.h>

#define SSHD "/usr/sbin/sshd"
#define SSH_KEYGEN "/usr/bin/ssh-keygen"

struct sshd {
	pid_t pid;
	int port;
	char dir[300];
};

struct sign_ctx {
	struct vault *v;
	uint64_t id;
	int slot;
	int calls;
};

static LIBSSH2_USERAUTH_PUBLICKEY_SIGN_FUNC(vault_sign_cb)
{
	struct sign_ctx *c = *abstract;
	struct err e = { 0 };
	unsigned char *s = malloc(VAULT_SSH_SIG_BYTES);

	(void)session;
	c->calls++;
	if (!s)
		return -1;
	if (vault_ssh_sign(c->v, c->id, c->slot, data, data_len, s, &e) < 0) {
		free(s);
		return -1;
	}
	*sig = s;
	*sig_len = VAULT_SSH_SIG_BYTES;
	return 0;
}

static int run_wait(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int tcp_connect(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void write_authorized(struct sshd *d, const char *l1, const char *l2)
{
	char path[400], buf[400];

	snprintf(path, sizeof(path), "%s/authorized_keys", d->dir);
	snprintf(buf, sizeof(buf), "%s\n%s%s", l1, l2 ? l2 : "", l2 ? "\n" : "");
	vtest_write(path, buf, strlen(buf));
}

/* 0 started, 1 skipped (no sshd), fails otherwise. */
static int sshd_start(struct vtest *t, struct sshd *d)
{
	char cfg[400], key[400], pid[400], log[400], auth[400], buf[2048];

	if (access(SSHD, X_OK) != 0 || access(SSH_KEYGEN, X_OK) != 0)
		return 1;
	snprintf(d->dir, sizeof(d->dir), "%s/sshd", t->dir);
	assert_int_equal(mkdir(d->dir, 0700), 0);
	mkdir("/run/sshd", 0755);   /* privilege separation directory */
	snprintf(key, sizeof(key), "%s/hostkey", d->dir);
	snprintf(cfg, sizeof(cfg), "%s/sshd_config", d->dir);
	snprintf(pid, sizeof(pid), "%s/sshd.pid", d->dir);
	snprintf(log, sizeof(log), "%s/sshd.log", d->dir);
	snprintf(auth, sizeof(auth), "%s/authorized_keys", d->dir);
	char *kg[] = { SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", key, NULL };
	assert_int_equal(run_wait(kg), 0);
	d->port = free_port();
	snprintf(buf, sizeof(buf),
		 "Port %d\nListenAddress 127.0.0.1\nHostKey %s\nPidFile %s\n"
		 "AuthorizedKeysFile %s\nPermitRootLogin prohibit-password\nStrictModes no\n"
		 "UsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
		 "PubkeyAuthentication yes\nLogLevel VERBOSE\n", d->port, key, pid, auth);
	vtest_write(cfg, buf, strlen(buf));
	vtest_write(auth, "", 0);
	char *chk[] = { SSHD, "-t", "-f", cfg, NULL };
	if (run_wait(chk) != 0)
		fail_msg("sshd -t rejected %s", cfg);
	d->pid = fork();
	assert_true(d->pid >= 0);
	if (d->pid == 0) {
		execl(SSHD, SSHD, "-D", "-f", cfg, "-E", log, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {     /* up to 5 s */
		int fd = tcp_connect(d->port);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
	fail_msg("sshd did not start listening on 127.0.0.1:%d", d->port);
	return -1;
}

/* Stops sshd and reaps its per-connection children too (the test is their
 * subreaper): nothing is left behind, bounded at a few seconds. */
static void sshd_stop(struct sshd *d)
{
	int i;

	kill(d->pid, SIGTERM);
	for (i = 0; i < 300; i++) {
		if (waitpid(d->pid, NULL, WNOHANG) == d->pid)
			break;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (i == 300) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
	}
	for (i = 0; i < 300; i++) {
		pid_t r = waitpid(-1, NULL, WNOHANG);
		if (r < 0)
			return;         /* ECHILD: all reaped */
		if (r == 0) {
			struct timespec ts = { 0, 10 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
}

/* 0 on successful public-key login as `user` with slot `slot`. */
static int ssh_login(struct sshd *d, struct sign_ctx *c, const char *user,
		     const unsigned char pk[VAULT_SSH_PK_BYTES])
{
	unsigned char blob[VAULT_SSH_BLOB_BYTES];
	int fd = tcp_connect(d->port), rc;
	LIBSSH2_SESSION *s;
	void *abstract = c;

	assert_true(fd >= 0);
	s = libssh2_session_init_ex(NULL, NULL, NULL, NULL);
	assert_non_null(s);
	libssh2_session_set_timeout(s, 10000);
	assert_int_equal(libssh2_session_handshake(s, fd), 0);
	vault_ssh_blob(pk, blob);
	rc = libssh2_userauth_publickey(s, user, blob, sizeof(blob), vault_sign_cb,
					&abstract);
	libssh2_session_disconnect(s, "bye");
	libssh2_session_free(s);
	close(fd);
	return rc;
}

static void test_openssh_login(void **state)
{
	struct vtest *t = *state;
	struct passwd *pw = getpwuid(getuid());
	struct vault v;
	struct vault_ssh_pubkeys k, r;
	char l1[VAULT_SSH_LINE_MAX], l2[VAULT_SSH_LINE_MAX], old1[VAULT_SSH_LINE_MAX];
	struct sign_ctx c;
	struct sshd d;

	assert_non_null(pw);
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	if (sshd_start(t, &d) == 1) {
		print_message("SKIPPED: %s or %s not installed (apt-get install openssh-server)\n",
			      SSHD, SSH_KEYGEN);
		skip();
	}
	assert_int_equal(libssh2_init(0), 0);
	open_vault(t, &v);
	generate(&v, 50, &k);
	sync_ok(&v);
	vault_ssh_authorized_key(k.pk[0], l1);
	vault_ssh_authorized_key(k.pk[1], l2);
	write_authorized(&d, l1, l2);

	/* Key 1 logs in; the vault signed exactly once. */
	c = (struct sign_ctx){ &v, 50, 1, 0 };
	assert_int_equal(ssh_login(&d, &c, pw->pw_name, k.pk[0]), 0);
	assert_int_equal(c.calls, 1);
	/* Key 2 too (the fallback during a rotation). */
	c = (struct sign_ctx){ &v, 50, 2, 0 };
	assert_int_equal(ssh_login(&d, &c, pw->pw_name, k.pk[1]), 0);
	/* Asking the vault to sign for key 1 with slot 2's key: refused in the
	 * vault, so the login fails. */
	c = (struct sign_ctx){ &v, 50, 2, 0 };
	assert_int_not_equal(ssh_login(&d, &c, pw->pw_name, k.pk[0]), 0);
	assert_int_equal(c.calls, 1);

	/* Rotate; the bastion authorizes the new pair only. */
	snprintf(old1, sizeof(old1), "%s", l1);
	rotate(&v, 50, &r);
	sync_ok(&v);
	vault_ssh_authorized_key(r.pk[0], l1);
	vault_ssh_authorized_key(r.pk[1], l2);
	assert_string_not_equal(l1, old1);
	write_authorized(&d, l1, l2);
	c = (struct sign_ctx){ &v, 50, 1, 0 };
	assert_int_equal(ssh_login(&d, &c, pw->pw_name, r.pk[0]), 0);
	c = (struct sign_ctx){ &v, 50, 2, 0 };
	assert_int_equal(ssh_login(&d, &c, pw->pw_name, r.pk[1]), 0);
	/* The old primary: the bastion still lists it, but no slot of the
	 * vault holds it any more. */
	write_authorized(&d, old1, NULL);
	c = (struct sign_ctx){ &v, 50, 1, 0 };
	assert_int_not_equal(ssh_login(&d, &c, pw->pw_name, k.pk[0]), 0);
	/* And the new key 1 is not authorized there: sshd refuses the query
	 * before any signature is asked for. */
	c = (struct sign_ctx){ &v, 50, 1, 0 };
	assert_int_not_equal(ssh_login(&d, &c, pw->pw_name, r.pk[0]), 0);
	assert_int_equal(c.calls, 0);

	vault_close(&v);
	sshd_stop(&d);
	libssh2_exit();
	{
		char log[400];
		snprintf(log, sizeof(log), "%s/sshd.log", d.dir);
		assert_true(vtest_file_contains_str(log, "Accepted publickey for"));
	}
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test_setup_teardown(test_generate, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_rotate, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_delete, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_reconcile, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_compaction_erases_destroyed_keys, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_sign_refusals, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_no_private_bytes_in_files, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_ad_binds_object_and_slot, vtest_setup, vtest_teardown),
		cmocka_unit_test_setup_teardown(test_keyring_not_recreated_under_ssh_keys, vtest_setup, vtest_teardown),
#ifdef TETHER_VAULT_BIN
		cmocka_unit_test_setup_teardown(test_ipc_end_to_end, vtest_setup, vtest_teardown),
#endif
#ifdef TETHER_HAVE_LIBSSH2
		cmocka_unit_test_setup_teardown(test_openssh_login, vtest_setup, vtest_teardown),
#endif
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
