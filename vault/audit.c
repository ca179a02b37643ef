/* Writing and verifying the hash-chained audit log: records appended with
 * one pwrite each and made durable by the caller's group commit
 * (audit_sync) before any reply that depends on them is sent; signed
 * checkpoints; rotation by size; offline verification of a file set. */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "fsutil.h"
#include "keymem.h"
#include "log.h"

#define HEX_LEN (AUDIT_HASH_BYTES * 2)
/* " prev=" HEX " hash=" HEX "\n" closes every line. */
#define PREV_TAG " prev="
#define HASH_TAG " hash="
#define TRAILER_LEN (6 + HEX_LEN + 6 + HEX_LEN)
#define SIG_HEX (crypto_sign_BYTES * 2)
#define CP_CONTEXT "tether-audit-checkpoint-v1"
#define CP_MSG_LEN (sizeof(CP_CONTEXT) - 1 + 8 + AUDIT_HASH_BYTES)

/* Events whose group commit ends with a checkpoint. */
static const char *const checkpoint_events[] = {
	"credential_release", "ssh_sign", "data_key_rotation_started",
	"data_key_rotation_finished", "data_key_term_destroyed",
	"master_key_rotated",
};

static void line_hash(const char *line, size_t len, unsigned char out[AUDIT_HASH_BYTES])
{
	crypto_generichash(out, AUDIT_HASH_BYTES, (const unsigned char *)line, len,
			   NULL, 0);
}

static int hex_decode(const char *hex, unsigned char out[AUDIT_HASH_BYTES])
{
	size_t bin_len;

	return sodium_hex2bin(out, AUDIT_HASH_BYTES, hex, HEX_LEN, NULL, &bin_len,
			      NULL) == 0 && bin_len == AUDIT_HASH_BYTES ? 0 : -1;
}

/* Parses and checks one complete line (without its '\n'). On success
 * fills seq, prev and hash. Returns NULL or what is wrong. */
static const char *line_check(const char *line, size_t len, uint64_t *seq,
			      unsigned char prev[AUDIT_HASH_BYTES],
			      unsigned char hash[AUDIT_HASH_BYTES])
{
	unsigned char want[AUDIT_HASH_BYTES];
	const char *t;
	char *endp;

	if (len < 4 + 1 + TRAILER_LEN || memcmp(line, "seq=", 4) != 0)
		return "malformed record";
	t = line + len - TRAILER_LEN;
	if (memcmp(t, PREV_TAG, 6) != 0 || memcmp(t + 6 + HEX_LEN, HASH_TAG, 6) != 0 ||
	    hex_decode(t + 6, prev) < 0 || hex_decode(t + 12 + HEX_LEN, hash) < 0)
		return "malformed prev/hash fields";
	if (line[4] < '0' || line[4] > '9')
		return "malformed seq";
	errno = 0;
	*seq = strtoull(line + 4, &endp, 10);
	if (errno || *endp != ' ')
		return "malformed seq";
	line_hash(line, len - (6 + HEX_LEN), want);
	if (sodium_memcmp(want, hash, AUDIT_HASH_BYTES) != 0)
		return "hash does not match the record (edited)";
	return NULL;
}

static void cp_message(unsigned char msg[CP_MSG_LEN], uint64_t seq,
		       const unsigned char prev[AUDIT_HASH_BYTES])
{
	memcpy(msg, CP_CONTEXT, sizeof(CP_CONTEXT) - 1);
	for (int i = 0; i < 8; i++)
		msg[sizeof(CP_CONTEXT) - 1 + i] = (unsigned char)(seq >> (8 * i));
	memcpy(msg + sizeof(CP_CONTEXT) - 1 + 8, prev, AUDIT_HASH_BYTES);
}

void audit_key_id(const unsigned char pk[AUDIT_PK_BYTES], char out[17])
{
	unsigned char h[8];

	crypto_generichash(h, sizeof(h), pk, AUDIT_PK_BYTES, NULL, 0);
	sodium_bin2hex(out, 17, h, sizeof(h));
}

/* The value of " key=" in a verified line (no quoting: hex and words),
 * copied into out; -1 when absent. */
static int line_field(const char *line, size_t len, const char *key, char *out,
		      size_t size)
{
	char pat[40];
	const char *p, *end = line + len;
	size_t n, k;

	k = (size_t)snprintf(pat, sizeof(pat), " %s=", key);
	for (p = line; p + k <= end; p++) {
		if (memcmp(p, pat, k) != 0)
			continue;
		p += k;
		for (n = 0; p + n < end && p[n] != ' '; n++)
			;
		if (n >= size)
			return -1;
		memcpy(out, p, n);
		out[n] = 0;
		return 0;
	}
	return -1;
}

static int line_is_checkpoint(const char *line, size_t len)
{
	char ev[32];

	return line_field(line, len, "event", ev, sizeof(ev)) == 0 &&
	       strcmp(ev, "checkpoint") == 0;
}

/* ---- open ---- */

static int rotated_path(char *out, size_t size, const char *vdir, uint32_t k)
{
	char name[64];

	snprintf(name, sizeof(name), VAULT_AUDIT_FILE ".%u", k);
	return vault_path(out, size, vdir, name);
}

/* The last complete line of fd (size `end`) into seq/prev. *cut gets the
 * offset after it (a torn tail begins there). 1 found, 0 empty, -1 bad. */
static int tail_state(int fd, uint64_t end, uint64_t *seq,
		      unsigned char prev[AUDIT_HASH_BYTES], uint64_t *cutp,
		      int *is_cp, struct err *e)
{
	size_t chunk = 2 * AUDIT_MAX_LINE;
	uint64_t start = end > chunk ? end - chunk : 0;
	size_t n = (size_t)(end - start), cut, ls;
	char *buf = malloc(n + 1);
	unsigned char lprev[AUDIT_HASH_BYTES];
	const char *why;

	if (!buf)
		return err_set(e, "XX000", "internal error: vault: out of memory");
	if (vault_pread_all(fd, buf, n, (off_t)start) < 0) {
		free(buf);
		return err_set(e, "XX000", "vault: read audit log: %s", strerror(errno));
	}
	/* Appends end with '\n'; anything after the last one is a torn write. */
	cut = n;
	while (cut > 0 && buf[cut - 1] != '\n')
		cut--;
	*cutp = start + cut;
	if (cut == 0 && start > 0) {
		free(buf);
		return err_set(e, "XX000", "vault: audit log tail has no record boundary; refusing to start");
	}
	if (cut == 0) {
		free(buf);
		return 0;
	}
	ls = cut - 1;
	while (ls > 0 && buf[ls - 1] != '\n')
		ls--;
	if (ls == 0 && start > 0) {
		free(buf);
		return err_set(e, "XX000", "vault: audit log last record too long; refusing to start");
	}
	why = line_check(buf + ls, cut - 1 - ls, seq, lprev, prev);
	if (!why && is_cp)
		*is_cp = line_is_checkpoint(buf + ls, cut - 1 - ls);
	free(buf);
	if (why) {
		err_set(e, "XX000", "vault: audit log last record does not verify (%s); refusing to start",
			why);
		err_hint(e, "Run the audit verifier on the file and keep a copy before moving it aside.");
		return -1;
	}
	return 1;
}

static int audit_tail(struct audit_log *a, struct err *e)
{
	uint64_t cut;
	int is_cp = 0, rc = tail_state(a->fd, a->end, &a->seq, a->prev, &cut, &is_cp, e);

	if (rc < 0)
		return -1;
	if (cut < a->end) {
		log_warn("audit_torn_tail", "offset=%llu dropped_bytes=%llu",
			 (unsigned long long)cut, (unsigned long long)(a->end - cut));
		if (ftruncate(a->fd, (off_t)cut) < 0 || fsync(a->fd) < 0)
			return err_set(e, "XX000", "vault: cannot truncate audit.log: %s",
				       strerror(errno));
		a->truncated_bytes = a->end - cut;
		a->end = cut;
	}
	if (rc == 1) {
		/* Records after the last checkpoint are unknown here; count
		 * conservatively so that the next commit seals them. */
		a->since_checkpoint = is_cp ? 0 : 1;
		a->want_checkpoint = !is_cp;
		return 0;
	}
	/* Empty: continue from the newest rotated file, if any. */
	if (a->rotated > 0) {
		char path[4096];
		struct stat st;
		int fd;

		if (rotated_path(path, sizeof(path), a->vdir, a->rotated) < 0)
			return err_set(e, "XX000", "vault: path too long");
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0) {
			if (fd >= 0)
				close(fd);
			return err_set(e, "XX000", "vault: cannot open %s: %s", path, strerror(errno));
		}
		rc = tail_state(fd, (uint64_t)st.st_size, &a->seq, a->prev, &cut, NULL, e);
		close(fd);
		if (rc < 0)
			return -1;
		if (rc == 0 || cut != (uint64_t)st.st_size)
			return err_set(e, "XX000", "vault: %s is empty or torn; refusing to start", path);
	}
	return 0;
}

int audit_open(struct audit_log *a, const char *vdir, struct err *e)
{
	char path[4096];
	struct stat st;

	memset(a, 0, sizeof(*a));
	a->fd = -1;
	a->checkpoint_every = AUDIT_CHECKPOINT_EVERY;
	a->rotate_bytes = AUDIT_ROTATE_BYTES;
	if (snprintf(a->vdir, sizeof(a->vdir), "%s", vdir) >= (int)sizeof(a->vdir) ||
	    vault_path(path, sizeof(path), vdir, VAULT_AUDIT_FILE) < 0)
		return err_set(e, "XX000", "vault: path too long: %s", vdir);
	/* Rotated files are numbered 1..K without gaps. */
	for (uint32_t k = 1; k <= AUDIT_MAX_FILES; k++) {
		char rp[4096];
		if (rotated_path(rp, sizeof(rp), vdir, k) < 0 || access(rp, F_OK) < 0)
			break;
		a->rotated = k;
	}
	a->fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (a->fd < 0 && errno == ENOENT) {
		a->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (a->fd >= 0 && vault_fsync_dir(vdir) < 0) {
			audit_close(a);
			return err_set(e, "XX000", "vault: fsync %s: %s", vdir, strerror(errno));
		}
	}
	if (a->fd < 0)
		return err_set(e, "XX000", "vault: cannot open %s: %s", path, strerror(errno));
	if (fstat(a->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		audit_close(a);
		return err_set(e, "XX000", "vault: %s is not a regular file", path);
	}
	a->end = (uint64_t)st.st_size;
	if (audit_tail(a, e) < 0) {
		audit_close(a);
		return -1;
	}
	return 0;
}

void audit_set_signer(struct audit_log *a, const struct vault_key *seed)
{
	unsigned char *sk = vault_secbuf_alloc(crypto_sign_SECRETKEYBYTES);

	a->seed = NULL;
	if (!seed || !seed->bytes || !sk) {
		vault_secbuf_free(sk);
		return;
	}
	crypto_sign_seed_keypair(a->pk, sk, vault_key_open(seed));
	vault_key_close(seed);
	vault_secbuf_free(sk);
	a->seed = seed;
}

void audit_close(struct audit_log *a)
{
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
}

/* ---- append ---- */

static size_t append_str(char *line, size_t n, const char *s)
{
	size_t len = strlen(s);

	if (n + len >= AUDIT_MAX_LINE - TRAILER_LEN - 2)
		len = n < AUDIT_MAX_LINE - TRAILER_LEN - 2 ?
		      AUDIT_MAX_LINE - TRAILER_LEN - 2 - n : 0;
	memcpy(line + n, s, len);
	return n + len;
}

static int append_line(struct audit_log *a, const char *event,
		       const struct audit_field *fields, size_t nfields, struct err *e)
{
	char line[AUDIT_MAX_LINE], ts[40], hex[HEX_LEN + 1];
	char cut[AUDIT_MAX_VALUE + 1], quoted[4 * AUDIT_MAX_VALUE + 8];
	unsigned char hash[AUDIT_HASH_BYTES];
	struct timespec now;
	struct tm tm;
	size_t n;

	if (a->broken)
		return err_set(e, "XX000", "internal error: vault: audit log is not writable after an I/O error");
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", now.tv_nsec / 1000000);
	n = (size_t)snprintf(line, sizeof(line), "seq=%" PRIu64 " ts=%s event=%s",
			     a->seq + 1, ts, event);
	for (size_t i = 0; i < nfields; i++) {
		if (!fields[i].value)
			continue;
		snprintf(cut, sizeof(cut), "%s", fields[i].value);
		n = append_str(line, n, " ");
		n = append_str(line, n, fields[i].key);
		n = append_str(line, n, "=");
		n = append_str(line, n, log_quote(quoted, sizeof(quoted), cut));
	}
	sodium_bin2hex(hex, sizeof(hex), a->prev, AUDIT_HASH_BYTES);
	n += (size_t)snprintf(line + n, sizeof(line) - n, PREV_TAG "%s", hex);
	line_hash(line, n, hash);
	sodium_bin2hex(hex, sizeof(hex), hash, AUDIT_HASH_BYTES);
	n += (size_t)snprintf(line + n, sizeof(line) - n, HASH_TAG "%s\n", hex);
	if (vault_pwrite_all(a->fd, line, n, (off_t)a->end) < 0) {
		int saved = errno;
		if (ftruncate(a->fd, (off_t)a->end) < 0)
			a->broken = 1;
		log_error("audit_write_failed", "errno=%d broken=%d", saved, a->broken);
		return err_set(e, "XX000", "internal error: vault: cannot write audit log: %s",
			       strerror(saved));
	}
	a->end += n;
	a->seq++;
	memcpy(a->prev, hash, AUDIT_HASH_BYTES);
	a->dirty = 1;
	return 0;
}

int audit_append(struct audit_log *a, const char *event,
		 const struct audit_field *fields, size_t nfields, struct err *e)
{
	if (append_line(a, event, fields, nfields, e) < 0)
		return -1;
	a->since_checkpoint++;
	for (size_t i = 0; i < sizeof(checkpoint_events) / sizeof(checkpoint_events[0]); i++)
		if (strcmp(event, checkpoint_events[i]) == 0)
			a->want_checkpoint = 1;
	return 0;
}

int audit_checkpoint(struct audit_log *a, const char *reason, struct err *e)
{
	unsigned char msg[CP_MSG_LEN], sig[crypto_sign_BYTES], *sk;
	unsigned char pk[AUDIT_PK_BYTES];
	char sighex[SIG_HEX + 1], kid[17], records[24];

	if (!a->seed || a->since_checkpoint == 0)
		return 0;
	sk = vault_secbuf_alloc(crypto_sign_SECRETKEYBYTES);
	if (!sk)
		return err_set(e, "XX000", "internal error: vault: out of locked memory");
	crypto_sign_seed_keypair(pk, sk, vault_key_open(a->seed));
	vault_key_close(a->seed);
	cp_message(msg, a->seq + 1, a->prev);
	crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
	vault_secbuf_free(sk);
	sodium_bin2hex(sighex, sizeof(sighex), sig, sizeof(sig));
	audit_key_id(pk, kid);
	snprintf(records, sizeof(records), "%" PRIu64, a->seq);
	struct audit_field f[] = {
		{ "records", records },
		{ "reason", reason },
		{ "key", kid },
		{ "sig", sighex },
	};
	if (append_line(a, "checkpoint", f, 4, e) < 0)
		return -1;
	a->since_checkpoint = 0;
	a->want_checkpoint = 0;
	return 0;
}

static int audit_fsync(struct audit_log *a, struct err *e)
{
	if (fsync(a->fd) < 0) {
		a->broken = 1;
		log_error("audit_fsync_failed", "errno=%d", errno);
		return err_set(e, "XX000", "internal error: vault: cannot fsync audit log: %s",
			       strerror(errno));
	}
	a->dirty = 0;
	return 0;
}

/* audit.log (ending with a checkpoint, synced) becomes audit.log.K; a
 * fresh audit.log starts with a record linking to it. A crash between the
 * rename and the first record leaves no audit.log (or an empty one):
 * audit_open continues from audit.log.K. */
static int audit_rotate(struct audit_log *a, struct err *e)
{
	char path[4096], rp[4096], kbuf[24];
	uint32_t k = a->rotated + 1;
	int fd;

	if (audit_checkpoint(a, "rotate", e) < 0 || (a->dirty && audit_fsync(a, e) < 0))
		return -1;
	if (vault_path(path, sizeof(path), a->vdir, VAULT_AUDIT_FILE) < 0 ||
	    rotated_path(rp, sizeof(rp), a->vdir, k) < 0)
		return err_set(e, "XX000", "vault: path too long");
	if (renameat2(AT_FDCWD, path, AT_FDCWD, rp, RENAME_NOREPLACE) < 0) {
		/* Nothing changed: log it and try again at a later commit. */
		log_error("audit_rotate_failed", "errno=%d", errno);
		return 0;
	}
	a->rotated = k;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || vault_fsync_dir(a->vdir) < 0) {
		int saved = errno;
		if (fd >= 0)
			close(fd);
		a->broken = 1;
		return err_set(e, "XX000", "internal error: vault: cannot start a new audit log: %s",
			       strerror(saved));
	}
	close(a->fd);
	a->fd = fd;
	a->end = 0;
	snprintf(kbuf, sizeof(kbuf), VAULT_AUDIT_FILE ".%u", k);
	struct audit_field f[] = { { "previous_file", kbuf } };
	if (append_line(a, "log_continued", f, 1, e) < 0 || audit_fsync(a, e) < 0) {
		a->broken = 1;
		return -1;
	}
	a->since_checkpoint = 1;
	log_info("audit_rotated", "file=%s seq=%" PRIu64, kbuf, a->seq);
	return 0;
}

int audit_sync(struct audit_log *a, struct err *e)
{
	if (a->broken)
		return err_set(e, "XX000", "internal error: vault: audit log is not writable after an I/O error");
	if (a->seed && (a->want_checkpoint ||
			(a->checkpoint_every && a->since_checkpoint >= a->checkpoint_every)) &&
	    audit_checkpoint(a, a->want_checkpoint ? "commit" : "interval", e) < 0)
		return -1;
	if (!a->dirty)
		return 0;
	if (audit_fsync(a, e) < 0)
		return -1;
	if (a->rotate_bytes && a->end >= a->rotate_bytes)
		return audit_rotate(a, e);
	return 0;
}

/* ---- public key ---- */

int audit_export_pubkey(const struct audit_log *a, const char *vdir, struct err *e)
{
	unsigned char blob[51];
	char b64[sodium_base64_ENCODED_LEN(51, sodium_base64_VARIANT_ORIGINAL)];
	char line[160], path[4096], cur[160];
	int n, fd;
	ssize_t got = -1;

	if (!a->seed)
		return 0;
	/* u32 11 | "ssh-ed25519" | u32 32 | pk, as OpenSSH writes it. */
	memcpy(blob, "\0\0\0\x0bssh-ed25519\0\0\0\x20", 19);
	memcpy(blob + 19, a->pk, AUDIT_PK_BYTES);
	sodium_bin2base64(b64, sizeof(b64), blob, sizeof(blob), sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(line, sizeof(line), "ssh-ed25519 %s tether-audit\n", b64);
	if (vault_path(path, sizeof(path), vdir, VAULT_AUDIT_PUB_FILE) < 0)
		return err_set(e, "XX000", "vault: path too long");
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		got = read(fd, cur, sizeof(cur));
		close(fd);
	}
	if (got == n && memcmp(cur, line, (size_t)n) == 0)
		return 0;
	return vault_write_file_atomic(vdir, VAULT_AUDIT_PUB_FILE, line, (size_t)n, 0644, e);
}

int audit_pubkey_parse(const char *text, unsigned char pk[AUDIT_PK_BYTES], struct err *e)
{
	char buf[512], *p, *q;
	unsigned char bin[64];
	size_t len;
	FILE *f = fopen(text, "re");

	if (f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = 0;
	} else {
		snprintf(buf, sizeof(buf), "%s", text);
	}
	p = buf;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncmp(p, "ssh-ed25519 ", 12) == 0)
		p += 12;
	for (q = p; *q && *q != ' ' && *q != '\n' && *q != '\r' && *q != '\t'; q++)
		;
	*q = 0;
	if (strlen(p) == 64 && sodium_hex2bin(pk, AUDIT_PK_BYTES, p, 64, NULL, &len, NULL) == 0 &&
	    len == AUDIT_PK_BYTES)
		return 0;
	if (sodium_base642bin(bin, sizeof(bin), p, strlen(p), NULL, &len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) == 0) {
		if (len == AUDIT_PK_BYTES) {
			memcpy(pk, bin, AUDIT_PK_BYTES);
			return 0;
		}
		if (len == 51 && memcmp(bin, "\0\0\0\x0bssh-ed25519\0\0\0\x20", 19) == 0) {
			memcpy(pk, bin + 19, AUDIT_PK_BYTES);
			return 0;
		}
	}
	return err_set(e, "22023", "not an Ed25519 public key (expected \"ssh-ed25519 AAAA...\", base64 or hex of 32 bytes)");
}

/* ---- verify ---- */

static void report_bad(struct audit_verify_report *r, size_t file, uint64_t record,
		       uint64_t seq, const char *why)
{
	r->ok = 0;
	r->bad_file = file;
	r->bad_record = record;
	r->bad_seq = seq;
	snprintf(r->problem, sizeof(r->problem), "%s", why);
}

/* Checks a checkpoint line's signature. NULL or what is wrong. */
static const char *checkpoint_check(const char *line, size_t len, uint64_t seq,
				    const unsigned char prev[AUDIT_HASH_BYTES],
				    const unsigned char *pk, uint64_t *covers)
{
	char sighex[SIG_HEX + 2], rec[24], kid[24], want_kid[17];
	unsigned char sig[crypto_sign_BYTES], msg[CP_MSG_LEN];
	size_t bl;

	if (line_field(line, len, "sig", sighex, sizeof(sighex)) < 0 ||
	    strlen(sighex) != SIG_HEX ||
	    sodium_hex2bin(sig, sizeof(sig), sighex, SIG_HEX, NULL, &bl, NULL) < 0 ||
	    line_field(line, len, "records", rec, sizeof(rec)) < 0 ||
	    line_field(line, len, "key", kid, sizeof(kid)) < 0)
		return "malformed checkpoint";
	*covers = strtoull(rec, NULL, 10);
	if (*covers + 1 != seq)
		return "checkpoint does not cover the records before it";
	if (!pk)
		return NULL;
	audit_key_id(pk, want_kid);
	cp_message(msg, seq, prev);
	if (crypto_sign_verify_detached(sig, msg, sizeof(msg), pk) != 0)
		return strcmp(kid, want_kid) != 0 ?
		       "checkpoint signed by another key (wrong public key?)" :
		       "checkpoint signature does not verify (forged or edited)";
	return NULL;
}

int audit_verify_files(const char *const *paths, size_t n,
		       const unsigned char *pubkey32_or_NULL,
		       struct audit_verify_report *out, struct err *e)
{
	unsigned char prev[AUDIT_HASH_BYTES] = { 0 }, lprev[AUDIT_HASH_BYTES];
	unsigned char hash[AUDIT_HASH_BYTES];
	uint64_t expect_seq = 0;        /* 0: not known yet (first record) */
	int last_was_cp = 0;
	char *line = NULL;
	size_t cap = 0;

	memset(out, 0, sizeof(*out));
	out->ok = 1;
	out->signatures_checked = pubkey32_or_NULL != NULL;
	for (size_t fi = 0; fi < n && out->ok; fi++) {
		FILE *f = fopen(paths[fi], "re");
		uint64_t record = 0, seq = 0;
		ssize_t len;
		const char *why = NULL;

		if (!f) {
			report_bad(out, fi, 0, expect_seq, "cannot open the file");
			err_set(e, "58030", "could not open audit log %s: %s", paths[fi],
				strerror(errno));
			free(line);
			return -1;
		}
		if (fi > 0 && !last_was_cp) {
			/* The previous file should end with its rotation checkpoint. */
			why = "previous file does not end with a checkpoint (cut or truncated)";
			record = 0;
		}
		while (!why && (len = getline(&line, &cap, f)) > 0) {
			record++;
			if (line[len - 1] != '\n') {
				why = "torn record (no end of line): truncated";
				break;
			}
			if ((size_t)len > AUDIT_MAX_LINE) {
				why = "record too long";
				break;
			}
			why = line_check(line, (size_t)len - 1, &seq, lprev, hash);
			if (why)
				break;
			if (expect_seq == 0) {
				out->first_seq = seq;
				out->anchored = seq == 1;
				if (seq == 1 && !sodium_is_zero(lprev, AUDIT_HASH_BYTES)) {
					why = "first record does not start a chain";
					break;
				}
				/* A later file alone: trust its first link. */
				memcpy(prev, lprev, AUDIT_HASH_BYTES);
			} else if (seq != expect_seq) {
				why = record == 1 && fi > 0 ?
				      "sequence does not continue the previous file (file missing or out of order)" :
				      "sequence number out of order (record deleted, inserted or moved)";
				break;
			}
			if (sodium_memcmp(lprev, prev, AUDIT_HASH_BYTES) != 0) {
				why = record == 1 && fi > 0 ?
				      "does not link to the previous file's last record (file missing, reordered, or the previous one was cut)" :
				      "prev does not match the previous record's hash";
				break;
			}
			last_was_cp = line_is_checkpoint(line, (size_t)len - 1);
			if (last_was_cp) {
				uint64_t covers;
				why = checkpoint_check(line, (size_t)len - 1, seq, lprev,
						       pubkey32_or_NULL, &covers);
				if (why)
					break;
				out->checkpoints++;
				out->last_checkpoint_seq = seq;
				out->unsealed = 0;
			} else {
				out->unsealed++;
			}
			memcpy(prev, hash, AUDIT_HASH_BYTES);
			expect_seq = seq + 1;
			out->records++;
			out->last_seq = seq;
		}
		if (!why && ferror(f))
			why = "read error";
		if (!why && record == 0 && fi + 1 < n)
			why = "empty file in the middle of the chain";
		fclose(f);
		if (why) {
			report_bad(out, fi, record, expect_seq ? expect_seq : seq, why);
			err_set(e, "XX001", "audit log %s: record %" PRIu64 " (seq %" PRIu64 "): %s",
				paths[fi], record, out->bad_seq, why);
			err_detail(e, "record=%" PRIu64, record);
			free(line);
			return -1;
		}
	}
	free(line);
	return 0;
}

int64_t audit_verify_file_at(const char *path, uint64_t *bad_record, struct err *e)
{
	struct audit_verify_report r;
	const char *const paths[1] = { path };

	if (bad_record)
		*bad_record = 0;
	if (audit_verify_files(paths, 1, NULL, &r, e) < 0) {
		if (bad_record)
			*bad_record = r.bad_record;
		/* Keep the historical message form: "record N: ...". */
		err_set(e, "XX001", "audit log %s: record %" PRIu64 ": %s", path,
			r.bad_record, r.problem);
		err_detail(e, "record=%" PRIu64, r.bad_record);
		return -1;
	}
	return (int64_t)r.records;
}

int64_t audit_verify_file(const char *path, struct err *e)
{
	return audit_verify_file_at(path, NULL, e);
}
