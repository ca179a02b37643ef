/* Fake vault services, job builders and real-peer control for the
 * validator tests (see vtest.h). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "vtest.h"

#ifndef TETHER_PEERS_DIR
#error TETHER_PEERS_DIR must name tests/peers
#endif

/* ---- fake services ---- */

void fake_init(struct fake_svc *f)
{
	memset(f, 0, sizeof(*f));
	if (sodium_init() < 0)
		abort();
}

void fake_free(struct fake_svc *f)
{
	for (size_t i = 0; i < f->nsecrets; i++) {
		sodium_memzero(f->secrets[i].value, f->secrets[i].len);
		free(f->secrets[i].value);
	}
	sodium_memzero(f->sk, sizeof(f->sk));
	f->nsecrets = 0;
}

void fake_secret_set(struct fake_svc *f, uint64_t id, const void *value, size_t len)
{
	struct fake_secret *s = NULL;
	for (size_t i = 0; i < f->nsecrets; i++)
		if (f->secrets[i].id == id)
			s = &f->secrets[i];
	if (!s) {
		if (f->nsecrets == sizeof(f->secrets) / sizeof(f->secrets[0]))
			abort();
		s = &f->secrets[f->nsecrets++];
	} else {
		sodium_memzero(s->value, s->len);
		free(s->value);
	}
	s->id = id;
	s->value = malloc(len ? len : 1);
	memcpy(s->value, value, len);
	s->len = len;
}

int fake_secret_file(struct fake_svc *f, uint64_t id, const char *path)
{
	char buf[16384];
	FILE *fp = fopen(path, "r");
	if (!fp)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	fake_secret_set(f, id, buf, n);
	sodium_memzero(buf, sizeof(buf));
	return 0;
}

void fake_keys(struct fake_svc *f)
{
	for (int i = 0; i < 2; i++) {
		crypto_sign_keypair(f->pk[i], f->sk[i]);
		f->have_key[i] = true;
	}
}

static void fake_blob(const unsigned char pk[32], unsigned char blob[51])
{
	static const unsigned char head[] = { 0, 0, 0, 11, 's', 's', 'h', '-', 'e', 'd', '2',
					      '5', '5', '1', '9', 0, 0, 0, 32 };
	memcpy(blob, head, sizeof(head));
	memcpy(blob + sizeof(head), pk, 32);
}

void fake_key_line(const struct fake_svc *f, int slot, char *out, size_t size)
{
	unsigned char blob[51];
	char b64[sodium_base64_ENCODED_LEN(51, sodium_base64_VARIANT_ORIGINAL)];
	fake_blob(f->pk[slot - 1], blob);
	sodium_bin2base64(b64, sizeof(b64), blob, sizeof(blob), sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, size, "ssh-ed25519 %s tether-test", b64);
}

static int fake_fetch(void *ctx, uint64_t id, const char *destination,
		      unsigned char **value, size_t *len, struct err *e)
{
	struct fake_svc *f = ctx;
	f->fetches++;
	snprintf(f->last_destination, sizeof(f->last_destination), "%s",
		 destination ? destination : "");
	for (size_t i = 0; i < f->nsecrets; i++)
		if (f->secrets[i].id == id) {
			*value = malloc(f->secrets[i].len ? f->secrets[i].len : 1);
			memcpy(*value, f->secrets[i].value, f->secrets[i].len);
			*len = f->secrets[i].len;
			return 0;
		}
	return err_set(e, "42501", "secret u%llu is not in the grant", (unsigned long long)id);
}

static void fake_release(void *ctx, unsigned char *value, size_t len)
{
	struct fake_svc *f = ctx;
	f->releases++;
	sodium_memzero(value, len);
	free(value);
}

static int fake_sign(void *ctx, uint64_t connection_id, int slot, const unsigned char *data,
		     size_t len, unsigned char sig[64], struct err *e)
{
	struct fake_svc *f = ctx;
	(void)connection_id;
	if (slot < 1 || slot > 2 || !f->have_key[slot - 1] || f->refuse_sign)
		return err_set(e, "42501", "signing with key %d refused", slot);
	f->signs[slot]++;
	crypto_sign_detached(sig, NULL, data, len, f->sk[slot - 1]);
	return 0;
}

static int fake_pubkey(void *ctx, uint64_t connection_id, int slot, unsigned char blob[51])
{
	struct fake_svc *f = ctx;
	(void)connection_id;
	if (slot < 1 || slot > 2 || !f->have_key[slot - 1])
		return -1;
	fake_blob(f->pk[slot - 1], blob);
	return 0;
}

struct val_services fake_services(struct fake_svc *f)
{
	return (struct val_services){
		.ctx = f, .fetch_secret = fake_fetch, .release = fake_release,
		.ssh_sign = fake_sign, .ssh_public_key = fake_pubkey,
	};
}

/* ---- jobs ---- */

void job_init(struct job_builder *b, const char *type, int timeout_ms)
{
	memset(b, 0, sizeof(*b));
	b->job.job_id = 1;
	b->job.connection_id = 42;
	b->job.type = type;
	b->job.connect_timeout_ms = timeout_ms;
}

static struct val_option *job_opt(struct job_builder *b, const char *name)
{
	for (size_t i = 0; i < b->nopts; i++)
		if (strcmp(b->opts[i].name, name) == 0)
			return &b->opts[i];
	struct val_option *o = &b->opts[b->nopts++];
	o->name = name;
	o->parts = &b->parts[b->nparts];
	o->nparts = 0;
	return o;
}

/* Parts of one option must be contiguous: add them together. */
void job_text(struct job_builder *b, const char *name, const char *text)
{
	struct val_option *o = job_opt(b, name);
	b->parts[b->nparts++] = (struct val_part){ .text = text };
	o->nparts++;
}

void job_secret(struct job_builder *b, const char *name, uint64_t secret_id)
{
	struct val_option *o = job_opt(b, name);
	b->parts[b->nparts++] = (struct val_part){ .secret_id = secret_id };
	o->nparts++;
}

const struct val_job *job_done(struct job_builder *b)
{
	b->job.options = b->opts;
	b->job.noptions = b->nopts;
	return &b->job;
}

/* ---- peers ---- */

int peer_start(struct peer *p, const char *script, const char *stop_script,
	       const char *prefix)
{
	char cmd[1024], path[300];
	memset(p, 0, sizeof(*p));
	snprintf(p->dir, sizeof(p->dir), "/tmp/tether-peer.XXXXXX");
	if (!mkdtemp(p->dir))
		return -1;
	snprintf(cmd, sizeof(cmd), "%s bash %s/%s %s/peer >%s/start.log 2>&1", prefix ? prefix : "",
		 TETHER_PEERS_DIR, script, p->dir, p->dir);
	int st = system(cmd);
	snprintf(p->stop_cmd, sizeof(p->stop_cmd), "bash %s/%s %s/peer >/dev/null 2>&1",
		 TETHER_PEERS_DIR, stop_script, p->dir);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		snprintf(cmd, sizeof(cmd), "cat %s/start.log >&2", p->dir);
		if (system(cmd) != 0) {
		}
		int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		if (system(p->stop_cmd) != 0) {
		}
		return code == 2 ? 1 : -1;
	}
	p->running = true;
	snprintf(path, sizeof(path), "%s/peer/env", p->dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[600];
	while (fgets(line, sizeof(line), f) && p->nenv < 24) {
		char *eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = '\0';
		line[strcspn(line, "\n")] = '\0';
		eq[1 + strcspn(eq + 1, "\n")] = '\0';
		if (strlen(line) >= 256 || strlen(eq + 1) >= 256)
			continue;
		memcpy(p->env[p->nenv][0], line, strlen(line) + 1);
		memcpy(p->env[p->nenv][1], eq + 1, strlen(eq + 1) + 1);
		p->nenv++;
	}
	fclose(f);
	return 0;
}

static int peer_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void peer_stop(struct peer *p)
{
	if (p->stop_cmd[0] && system(p->stop_cmd) != 0) {
	}
	if (p->dir[0])
		nftw(p->dir, peer_rm, 16, FTW_DEPTH | FTW_PHYS);
	p->running = false;
}

const char *peer_get(const struct peer *p, const char *key)
{
	for (int i = 0; i < p->nenv; i++)
		if (strcmp(p->env[i][0], key) == 0)
			return p->env[i][1];
	return NULL;
}

/* ---- secret scan ---- */

static struct {
	time_t since;
	const char *const *skip;
	size_t nskip;
	const void *needle;
	size_t len;
	char *where;
	size_t size;
	bool found;
} scan;

static bool scan_buf(const char *buf, size_t n)
{
	return n >= scan.len && memmem(buf, n, scan.needle, scan.len) != NULL;
}

static bool scan_file(const char *path)
{
	char buf[65536 + 256];
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return false;
	size_t keep = 0;
	bool hit = false;
	for (int i = 0; i < 64 && !hit; i++) {   /* first 4 MiB */
		ssize_t n = read(fd, buf + keep, sizeof(buf) - keep);
		if (n <= 0)
			break;
		hit = scan_buf(buf, keep + (size_t)n);
		size_t total = keep + (size_t)n;
		keep = total < 256 ? total : 256;
		memmove(buf, buf + total - keep, keep);
	}
	close(fd);
	return hit;
}

static int scan_visit(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)ftw;
	for (size_t i = 0; i < scan.nskip; i++)
		if (strncmp(path, scan.skip[i], strlen(scan.skip[i])) == 0)
			return flag == FTW_D ? FTW_SKIP_SUBTREE : FTW_CONTINUE;
	if (strncmp(path, "/tmp/build", 10) == 0 || strncmp(path, "/tmp/bash_jobs", 14) == 0)
		return flag == FTW_D ? FTW_SKIP_SUBTREE : FTW_CONTINUE;
	if (flag != FTW_F || !S_ISREG(sb->st_mode) || sb->st_mtime < scan.since)
		return FTW_CONTINUE;
	if (scan_file(path)) {
		snprintf(scan.where, scan.size, "%s", path);
		scan.found = true;
		return FTW_STOP;
	}
	return FTW_CONTINUE;
}

const char *secret_scan(time_t since, const char *const *skip, size_t nskip,
			const void *needle, size_t len, char *where, size_t size)
{
	static const char *procs[] = { "/proc/self/cmdline", "/proc/self/environ" };
	for (size_t i = 0; i < 2; i++)
		if (scan.needle = needle, scan.len = len, scan_file(procs[i])) {
			snprintf(where, size, "%s", procs[i]);
			return where;
		}
	scan.since = since;
	scan.skip = skip;
	scan.nskip = nskip;
	scan.where = where;
	scan.size = size;
	scan.found = false;
	nftw("/tmp", scan_visit, 32, FTW_PHYS | FTW_ACTIONRETVAL);
	return scan.found ? where : NULL;
}
