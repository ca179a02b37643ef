/* The vault's locked arena: key material and plaintext buffers come from
 * sodium_malloc. sodium_malloc tries to mlock but ignores failure, so keys
 * are locked again here and a failure is reported instead of ignored. */
#include "keymem.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "log.h"

/* Page-aligned span covering [p, p+len) for madvise, which rejects
 * unaligned addresses. */
static void key_dontdump(void *p, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	uintptr_t start, end;

	if (page <= 0)
		return;
	start = (uintptr_t)p & ~((uintptr_t)page - 1);
	end = ((uintptr_t)p + len + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
	if (madvise((void *)start, end - start, MADV_DONTDUMP) < 0)
		log_warn("key_dontdump_failed", "errno=%d", errno);
}

int vault_key_alloc(struct vault_key *k, struct err *e)
{
	k->bytes = sodium_malloc(VAULT_KEY_BYTES);
	if (!k->bytes)
		return err_set(e, "XX000",
			       "vault: cannot lock key memory (RLIMIT_MEMLOCK too low?): %s",
			       strerror(errno ? errno : ENOMEM));
	/* Already locked by sodium_malloc if it could; ask again and listen. */
	if (sodium_mlock(k->bytes, VAULT_KEY_BYTES) != 0) {
		int saved = errno;
		sodium_free(k->bytes);
		k->bytes = NULL;
		err_set(e, "XX000",
			"vault: cannot lock key memory (RLIMIT_MEMLOCK too low?): %s",
			strerror(saved));
		err_hint(e, "raise the locked-memory limit (ulimit -l, or LimitMEMLOCK= in systemd)");
		return -1;
	}
	key_dontdump(k->bytes, VAULT_KEY_BYTES);
	return 0;
}

int vault_key_generate(struct vault_key *k, struct err *e)
{
	if (vault_key_alloc(k, e) < 0)
		return -1;
	randombytes_buf(k->bytes, VAULT_KEY_BYTES);
	vault_key_close(k);
	return 0;
}

const unsigned char *vault_key_open(const struct vault_key *k)
{
	sodium_mprotect_readonly(k->bytes);
	return k->bytes;
}

unsigned char *vault_key_open_rw(struct vault_key *k)
{
	sodium_mprotect_readwrite(k->bytes);
	return k->bytes;
}

void vault_key_close(const struct vault_key *k)
{
	sodium_mprotect_noaccess(k->bytes);
}

void vault_key_free(struct vault_key *k)
{
	if (!k->bytes)
		return;
	/* sodium_free needs write access to zero and check the canary. */
	sodium_mprotect_readwrite(k->bytes);
	sodium_free(k->bytes);
	k->bytes = NULL;
}

unsigned char *vault_secbuf_alloc(size_t size)
{
	unsigned char *p = sodium_malloc(size ? size : 1);

	if (p)
		key_dontdump(p, size ? size : 1);
	return p;
}

void vault_secbuf_free(unsigned char *p)
{
	if (p)
		sodium_free(p);
}
