/* libFuzzer target: the vault's on-disk decoders, on files whose bytes come
 * from the input (a vault directory on tmpfs, rewritten per input):
 *   secrets.log / sshkeys.log (vault/store.c) as given, or built from the
 *     input as frames with valid checksums (so the record parser, not the
 *     checksum, is what gets fuzzed), mixed with real frames of a real
 *     vault (so PUTs that decrypt, REPUT/DEL over them, ... occur);
 *     an opened store must have a sorted index inside the file, decrypt or
 *     refuse each record cleanly, and keep the same live set through a
 *     forced compaction and a reopen;
 *   audit.log (vault/audit.c) as given, or as lines with valid hashes and
 *     links around input text; when the whole chain verifies and the log
 *     opens, one appended record must leave it verifying with one more;
 *   keyring (vault/keyring.c) next to a real master key;
 *   audit public keys (audit_pubkey_parse: OpenSSH "ssh-ed25519 ..." lines,
 *     base64 or hex). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "audit.h"
#include "err.h"
#include "keyring.h"
#include "log.h"
#include "ssh.h"
#include "store.h"
#include "vault.h"

#define MAX_REAL 16

static char dir[128], keys_dir[160], keys_vdir[192], work_dir[160], work_vdir[192];
static struct vault keys;               /* a real vault: keyring and frames */

struct frames {
	unsigned char header[40];
	unsigned char *f[MAX_REAL];
	size_t len[MAX_REAL], n;
};
static struct frames real_secrets, real_ssh;

static void die(const char *what, const struct err *e)
{
	fprintf(stderr, "fuzz_vault_files: %s: %s\n", what, e ? e->message : strerror(errno));
	abort();
}

static void path_in(char *buf, size_t size, const char *d, const char *f)
{
	snprintf(buf, size, "%s/%s", d, f);
}

static void write_file(const char *path, const unsigned char *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
		die(path, NULL);
	chmod(path, 0600);
}

static unsigned char *read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p;
	long len = 0;

	if (!f || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0)
		die(path, NULL);
	rewind(f);
	p = malloc((size_t)len + 1);
	if (!p || fread(p, 1, (size_t)len, f) != (size_t)len)
		die(path, NULL);
	fclose(f);
	*n = (size_t)len;
	return p;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Splits a real log into its header and frames. */
static void split(const char *file, struct frames *fr)
{
	char path[256];
	size_t n, off = 40;
	unsigned char *p;

	path_in(path, sizeof(path), keys_vdir, file);
	p = read_file(path, &n);
	if (n < 40)
		die("short real log", NULL);
	memcpy(fr->header, p, 40);
	while (off + 36 <= n && fr->n < MAX_REAL) {
		size_t len = 36 + le32(p + off);
		if (off + len > n)
			break;
		fr->f[fr->n] = malloc(len);
		memcpy(fr->f[fr->n], p + off, len);
		fr->len[fr->n++] = len;
		off += len;
	}
	free(p);
}

static void remove_stale(const char *base, const char *prefix)
{
	DIR *d = opendir(base);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char cmd[400];
		int pid;

		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		pid = atoi(de->d_name + strlen(prefix));
		if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH)) {
			snprintf(cmd, sizeof(cmd), "rm -rf '%s/%s'", base, de->d_name);
			(void)!system(cmd);
		}
	}
	closedir(d);
}

static void cleanup(void)
{
	char cmd[192];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	static const char *const vals[] = { "hunter2", "", "a longer secret value, 40 bytes long...." };
	struct vault_actor who = { "materialize", "s" };
	struct vault_ssh_pubkeys pk;
	struct err e;

	(void)argc;
	(void)argv;
	log_init("fuzz");
	log_set_level((enum log_level)(LOG_ERROR + 1));
	if (sodium_init() < 0)
		abort();
	remove_stale(base, "tether-fuzz-files-");
	snprintf(dir, sizeof(dir), "%s/tether-fuzz-files-%d", base, (int)getpid());
	cleanup();
	atexit(cleanup);
	snprintf(keys_dir, sizeof(keys_dir), "%s/keys", dir);
	snprintf(keys_vdir, sizeof(keys_vdir), "%s/vault", keys_dir);
	snprintf(work_dir, sizeof(work_dir), "%s/work", dir);
	snprintf(work_vdir, sizeof(work_vdir), "%s/vault", work_dir);
	if (mkdir(dir, 0700) < 0 || mkdir(keys_dir, 0700) < 0 || mkdir(keys_vdir, 0700) < 0 ||
	    mkdir(work_dir, 0700) < 0 || mkdir(work_vdir, 0700) < 0)
		die("mkdir", NULL);
	/* A real vault: two versions of one secret, a deleted one, another,
	 * two SSH key sets, one rotated. */
	if (vault_open(&keys, keys_dir, &e) < 0 ||
	    vault_secret_put(&keys, 1, 1, (const unsigned char *)vals[0], strlen(vals[0]), 0, &who, &e) < 0 ||
	    vault_secret_put(&keys, 1, 2, (const unsigned char *)vals[1], 0, 1, &who, &e) < 0 ||
	    vault_secret_put(&keys, 2, 3, (const unsigned char *)vals[2], strlen(vals[2]), 0, &who, &e) < 0 ||
	    vault_secret_delete(&keys, 2, &who, &e) < 0 ||
	    vault_secret_put(&keys, 3, 4, (const unsigned char *)vals[0], strlen(vals[0]), 0, &who, &e) < 0 ||
	    vault_ssh_generate(&keys, 10, &who, &pk, &e) < 0 ||
	    vault_ssh_generate(&keys, 11, &who, &pk, &e) < 0 ||
	    vault_ssh_rotate(&keys, 10, &who, &pk, &e) < 0 ||
	    vault_sync(&keys, &e) < 0)
		die("real vault", &e);
	split(VAULT_STORE_FILE, &real_secrets);
	split(VAULT_SSH_STORE_FILE, &real_ssh);
	return 0;
}

/* ---- input ---- */
struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static const uint8_t *take(struct in *in, size_t *n)
{
	const uint8_t *p = in->p;

	if (*n > in->n)
		*n = in->n;
	in->p += *n;
	in->n -= *n;
	return p;
}

/* ---- buffer ---- */
struct buf {
	unsigned char *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

/* ---- stores ---- */

/* A log built from the input: the real header (or one with other maxima
 * and a recomputed checksum), then frames: real ones, or input bodies with
 * a valid checksum (sometimes a broken one, or a cut). */
static void build_log(struct in *in, const struct frames *real, struct buf *b)
{
	unsigned char h[40];

	memcpy(h, real->header, 40);
	if (u8(in) & 1) {
		size_t n = 16;
		const uint8_t *m = take(in, &n);
		memcpy(h + 8, m, n);
		crypto_generichash(h + 24, 16, h, 24, NULL, 0);
	}
	put(b, h, 40);
	for (int k = 0; k < 24 && in->n; k++) {
		uint8_t c = u8(in);

		if (c < 96 && real->n) {
			const struct frames *fr = real;
			size_t i = c % fr->n;
			put(b, fr->f[i], fr->len[i]);
			continue;
		}
		size_t n = u8(in);
		if (c & 1)
			n = n * 4 + u8(in);
		const uint8_t *body = take(in, &n);
		unsigned char len4[4] = { (unsigned char)n, (unsigned char)(n >> 8),
					  (unsigned char)(n >> 16), (unsigned char)(n >> 24) };
		unsigned char sum[32];
		crypto_generichash_state s;
		crypto_generichash_init(&s, NULL, 0, 32);
		crypto_generichash_update(&s, len4, 4);
		crypto_generichash_update(&s, body, n);
		crypto_generichash_final(&s, sum, 32);
		if (c >= 250)
			sum[c % 32] ^= 1;
		put(b, len4, 4);
		put(b, sum, 32);
		put(b, body, c == 249 && n ? n - 1 : n);
	}
}

struct snap {
	uint64_t id, version;
	uint32_t size, term;
};

static size_t snapshot(const struct vault_store *st, struct snap **out)
{
	*out = calloc(st->count + 1, sizeof(**out));
	for (size_t i = 0; i < st->count; i++)
		(*out)[i] = (struct snap){ st->entries[i].object_id, st->entries[i].version,
					  st->entries[i].size, st->entries[i].term };
	return st->count;
}

static void check_index(const struct vault_store *st)
{
	for (size_t i = 0; i < st->count; i++) {
		const struct vault_store_entry *en = &st->entries[i];
		if (en->offset + en->frame_len > st->end)
			die("index entry outside the file", NULL);
		if (i && (st->entries[i - 1].object_id > en->object_id ||
			  (st->entries[i - 1].object_id == en->object_id &&
			   st->entries[i - 1].version >= en->version)))
			die("index not sorted", NULL);
		if (en->object_id > st->max_object_id || en->version > st->max_version)
			die("entry above the high-water marks", NULL);
	}
}

static void fuzz_store(const struct vault_store_kind *kind, const unsigned char *file,
		       size_t len)
{
	struct vault_store st;
	struct snap *a, *b;
	size_t na, nb;
	char path[256];
	struct err e;
	uint64_t max_obj, max_ver;

	path_in(path, sizeof(path), work_vdir, kind->file);
	write_file(path, file, len);
	if (vault_store_open_kind(&st, work_vdir, kind, &e) < 0)
		return;
	check_index(&st);
	for (size_t i = 0; i < st.count; i++) {
		const struct vault_store_entry *en = &st.entries[i];
		if (!kind->raw) {
			unsigned char *v = NULL;
			size_t vl = 0;
			if (vault_store_decrypt(&st, &keys.kr, en->object_id, en->version, &v, &vl,
						&e) == 0) {
				if (vl != en->size)
					die("decrypted size differs from the index", NULL);
				vault_secbuf_free(v);
			}
		} else {
			unsigned char *p = NULL;
			size_t pl = 0;
			uint64_t ver;
			uint32_t term;
			if (vault_store_read_raw(&st, en->object_id, &p, &pl, &ver, &term, &e) == 1)
				vault_store_raw_free(p, pl);
		}
	}
	/* Compaction keeps the live set, and so does a reopen. */
	na = snapshot(&st, &a);
	max_obj = st.max_object_id;
	max_ver = st.max_version;
	if (vault_store_compact(&st, 1, &e) == 0) {
		nb = snapshot(&st, &b);
		if (na != nb || memcmp(a, b, na * sizeof(*a)) != 0)
			die("compaction changed the live set", NULL);
		free(b);
		vault_store_close(&st);
		if (vault_store_open_kind(&st, work_vdir, kind, &e) < 0)
			die("compacted log does not reopen", &e);
		nb = snapshot(&st, &b);
		if (na != nb || memcmp(a, b, na * sizeof(*a)) != 0)
			die("reopen after compaction changed the live set", NULL);
		if (st.max_object_id < max_obj || st.max_version < max_ver)
			die("compaction lowered the high-water marks", NULL);
		free(b);
	}
	free(a);
	vault_store_close(&st);
}

/* ---- audit ---- */

/* Lines with valid links and hashes around input text. */
static void build_audit(struct in *in, struct buf *b)
{
	unsigned char prev[32] = { 0 };
	uint64_t seq = 0;

	while (in->n) {
		char line[1024], hex[65];
		size_t n = u8(in) % 200, off;
		const uint8_t *t = take(in, &n);
		uint8_t how = u8(in);

		if (how & 1)
			off = (size_t)snprintf(line, sizeof(line),
					       "seq=%llu ts=2026-01-01T00:00:00.000Z event=",
					       (unsigned long long)++seq);
		else
			off = 0;
		for (size_t i = 0; i < n; i++)
			line[off++] = t[i] == '\n' ? ' ' : (char)t[i];
		sodium_bin2hex(hex, sizeof(hex), prev, 32);
		off += (size_t)snprintf(line + off, sizeof(line) - off, " prev=%s", hex);
		crypto_generichash(prev, 32, (const unsigned char *)line, off, NULL, 0);
		if (how & 2)
			prev[0] ^= 1;           /* a broken link */
		sodium_bin2hex(hex, sizeof(hex), prev, 32);
		off += (size_t)snprintf(line + off, sizeof(line) - off, " hash=%s\n", hex);
		put(b, line, off);
	}
}

static void fuzz_audit(const unsigned char *file, size_t len)
{
	struct audit_log a;
	char path[256];
	struct err e;
	int64_t n, n2;
	struct audit_field f[] = { { "note", "fuzz" } };

	path_in(path, sizeof(path), work_vdir, VAULT_AUDIT_FILE);
	write_file(path, file, len);
	n = audit_verify_file(path, &e);
	if (audit_open(&a, work_vdir, &e) < 0)
		return;
	if (audit_append(&a, "test", f, 1, &e) == 0 && audit_sync(&a, &e) == 0 && n >= 0 &&
	    a.truncated_bytes == 0) {
		n2 = audit_verify_file(path, &e);
		if (n2 != n + 1) {
			fprintf(stderr, "verify: %lld then %lld (%s)\n", (long long)n, (long long)n2,
				e.message);
			die("appending to a verified chain broke it", NULL);
		}
	}
	audit_close(&a);
}

/* ---- keyring ---- */

static void fuzz_keyring(const unsigned char *file, size_t len)
{
	struct vault_keyring kr;
	unsigned char *mk;
	char src[256], dst[256];
	size_t mlen;
	struct err e;

	path_in(src, sizeof(src), keys_vdir, "master.key");
	path_in(dst, sizeof(dst), work_vdir, "master.key");
	mk = read_file(src, &mlen);
	unlink(dst);
	write_file(dst, mk, mlen);
	chmod(dst, 0400);
	free(mk);
	path_in(dst, sizeof(dst), work_vdir, "keyring");
	write_file(dst, file, len);
	if (vault_keyring_open(&kr, work_vdir, 0, &e) == 0)
		vault_keyring_close(&kr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	struct buf b = { 0 };
	uint8_t mode = u8(&in);
	char cmd[256];

	/* A clean vault directory per input. */
	snprintf(cmd, sizeof(cmd), "%s/audit.log", work_vdir);
	unlink(cmd);
	switch (mode % 7) {
	case 0:
		fuzz_store(&vault_store_secrets, in.p, in.n);
		break;
	case 1:
		build_log(&in, &real_secrets, &b);
		fuzz_store(&vault_store_secrets, b.p, b.len);
		break;
	case 2:
		build_log(&in, &real_ssh, &b);
		fuzz_store(&vault_store_ssh, b.p, b.len);
		break;
	case 3:
		fuzz_audit(in.p, in.n);
		break;
	case 4:
		build_audit(&in, &b);
		fuzz_audit(b.p, b.len);
		break;
	case 5:
		fuzz_keyring(in.p, in.n);
		break;
	default: {
		/* Text naming an existing file is read as one: keep to key text. */
		char text[512];
		unsigned char pk[AUDIT_PK_BYTES];
		struct err e;
		size_t n = in.n < sizeof(text) - 1 ? in.n : sizeof(text) - 1;
		memcpy(text, in.p, n);
		text[n] = 0;
		if (!strchr(text, '/') && strlen(text) > 0 && access(text, F_OK) != 0)
			(void)audit_pubkey_parse(text, pk, &e);
		break;
	}
	}
	free(b.p);
	return 0;
}
