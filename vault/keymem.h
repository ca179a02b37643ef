/* Locked memory for keys and secret values. Keys live in sodium_malloc'd
 * pages that are verified locked (mlock), excluded from core dumps
 * (MADV_DONTDUMP) and PROT_NONE except between vault_key_open/close. */
#ifndef TETHER_VAULT_KEYMEM_H
#define TETHER_VAULT_KEYMEM_H

#include <stddef.h>

struct err;

#define VAULT_KEY_BYTES 32

struct vault_key {
	unsigned char *bytes;   /* VAULT_KEY_BYTES; NULL when not allocated */
};

/* Allocates a locked key buffer, left writable so the caller can fill it;
 * call vault_key_close() once filled. Fails (never exits) with the message
 * "vault: cannot lock key memory (RLIMIT_MEMLOCK too low?): <reason>". */
int vault_key_alloc(struct vault_key *k, struct err *e);
/* Allocates and fills with random bytes; returns closed. */
int vault_key_generate(struct vault_key *k, struct err *e);
/* Access windows: readable (open), writable (open_rw), none (close). */
const unsigned char *vault_key_open(const struct vault_key *k);
unsigned char *vault_key_open_rw(struct vault_key *k);
void vault_key_close(const struct vault_key *k);
/* Zeroes and releases (sodium_free). Safe on an unallocated key. */
void vault_key_free(struct vault_key *k);

/* A buffer for plaintext secret values: sodium_malloc'd (guard pages,
 * locked when the limit allows, not dumped). Sizes of 0 are allowed. */
unsigned char *vault_secbuf_alloc(size_t size);
/* Wipes and frees (sodium_free zeroes). NULL is a no-op. */
void vault_secbuf_free(unsigned char *p);

#endif
