/* Writing and verifying the hash-chained audit log. Records are appended
 * with one pwrite each and made durable by the caller's group commit
 * (audit_sync) before any reply that depends on them is sent. */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "fsutil.h"
#include "log.h"

#define HEX_LEN (AUDIT_HASH_BYTES * 2)
/* " prev=" HEX " hash=" HEX "\n" closes every line. */
#define PREV_TAG " prev="
#define HASH_TAG " hash="
#define TRAILER_LEN (6 + HEX_LEN + 6 + HEX_LEN)

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

/* ---- open ---- */

static int audit_tail(struct audit_log *a, struct err *e)
{
	size_t chunk = 2 * AUDIT_MAX_LINE;
	uint64_t start = a->end > chunk ? a->end - chunk : 0;
	size_t n = (size_t)(a->end - start), cut, ls;
	char *buf = malloc(n + 1);
	unsigned char lprev[AUDIT_HASH_BYTES];
	const char *why;

	if (!buf)
		return err_set(e, "XX000", "internal error: vault: out of memory");
	if (vault_pread_all(a->fd, buf, n, (off_t)start) < 0) {
		free(buf);
		return err_set(e, "XX000", "vault: read audit.log: %s", strerror(errno));
	}
	/* Appends end with '\n'; anything after the last one is a torn write. */
	cut = n;
	while (cut > 0 && buf[cut - 1] != '\n')
		cut--;
	if (cut == 0 && start > 0) {
		free(buf);
		return err_set(e, "XX000", "vault: audit.log tail has no record boundary; refusing to start");
	}
	if (cut < n) {
		log_warn("audit_torn_tail", "offset=%llu dropped_bytes=%zu",
			 (unsigned long long)(start + cut), n - cut);
		if (ftruncate(a->fd, (off_t)(start + cut)) < 0 || fsync(a->fd) < 0) {
			free(buf);
			return err_set(e, "XX000", "vault: cannot truncate audit.log: %s",
				       strerror(errno));
		}
		a->truncated_bytes = n - cut;
		a->end = start + cut;
	}
	if (cut == 0) {         /* empty (or only a torn first line) */
		free(buf);
		return 0;
	}
	ls = cut - 1;
	while (ls > 0 && buf[ls - 1] != '\n')
		ls--;
	if (ls == 0 && start > 0) {
		free(buf);
		return err_set(e, "XX000", "vault: audit.log last record too long; refusing to start");
	}
	why = line_check(buf + ls, cut - 1 - ls, &a->seq, lprev, a->prev);
	free(buf);
	if (why) {
		err_set(e, "XX000", "vault: audit.log last record does not verify (%s); refusing to start",
			why);
		err_hint(e, "Run the audit verifier on the file and keep a copy before moving it aside.");
		return -1;
	}
	return 0;
}

int audit_open(struct audit_log *a, const char *vdir, struct err *e)
{
	char path[4096];
	struct stat st;

	memset(a, 0, sizeof(*a));
	a->fd = -1;
	if (vault_path(path, sizeof(path), vdir, VAULT_AUDIT_FILE) < 0)
		return err_set(e, "XX000", "vault: path too long: %s", vdir);
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

int audit_append(struct audit_log *a, const char *event,
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

int audit_sync(struct audit_log *a, struct err *e)
{
	if (a->broken)
		return err_set(e, "XX000", "internal error: vault: audit log is not writable after an I/O error");
	if (!a->dirty)
		return 0;
	if (fsync(a->fd) < 0) {
		a->broken = 1;
		log_error("audit_fsync_failed", "errno=%d", errno);
		return err_set(e, "XX000", "internal error: vault: cannot fsync audit log: %s",
			       strerror(errno));
	}
	a->dirty = 0;
	return 0;
}

/* ---- verify ---- */

int64_t audit_verify_file_at(const char *path, uint64_t *bad_record, struct err *e)
{
	unsigned char prev[AUDIT_HASH_BYTES] = { 0 }, lprev[AUDIT_HASH_BYTES];
	unsigned char hash[AUDIT_HASH_BYTES];
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	uint64_t record = 0, seq;
	const char *why = NULL;

	if (bad_record)
		*bad_record = 0;
	if (!f)
		return err_set(e, "58030", "could not open audit log %s: %s", path,
			       strerror(errno));
	while ((len = getline(&line, &cap, f)) > 0) {
		record++;
		if (line[len - 1] != '\n') {
			why = "torn record (no end of line)";
			break;
		}
		if ((size_t)len > AUDIT_MAX_LINE) {
			why = "record too long";
			break;
		}
		why = line_check(line, (size_t)len - 1, &seq, lprev, hash);
		if (why)
			break;
		if (seq != record) {
			why = "sequence number out of order (record deleted, inserted or moved)";
			break;
		}
		if (sodium_memcmp(lprev, prev, AUDIT_HASH_BYTES) != 0) {
			why = "prev does not match the previous record's hash";
			break;
		}
		memcpy(prev, hash, AUDIT_HASH_BYTES);
	}
	free(line);
	if (!why && ferror(f))
		why = "read error";
	fclose(f);
	if (why) {
		if (bad_record)
			*bad_record = record;
		err_set(e, "XX001", "audit log %s: record %" PRIu64 ": %s", path, record, why);
		err_detail(e, "record=%" PRIu64, record);
		return -1;
	}
	return (int64_t)record;
}

int64_t audit_verify_file(const char *path, struct err *e)
{
	return audit_verify_file_at(path, NULL, e);
}
