/* libFuzzer target: the vault's SshSign path with real keys
 * (vault_ssh_sign, vault/ssh.c): a vault on tmpfs holds two Ed25519 pairs
 * for connection 10; the input picks a slot and the data to sign, and may
 * have the slot's real key blob (or the other slot's) spliced in at the
 * end so that the key check, not only the parser, is reached. Whatever is
 * signed must be exactly a publickey userauth request naming that slot's
 * own key, and the signature must verify under it: the vault is no general
 * signing oracle. The public key formats (authorized_keys line,
 * fingerprint) are rendered for every key too. */
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

#include "err.h"
#include "log.h"
#include "ssh.h"
#include "vault.h"

static char dir[128];
static struct vault v;
static struct vault_ssh_pubkeys keys;

static void cleanup(void)
{
	char cmd[192];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	struct vault_actor who = { "materialize", "ssh" };
	char vdir[192];
	struct err e;

	(void)argc;
	(void)argv;
	log_init("fuzz");
	log_set_level((enum log_level)(LOG_ERROR + 1));
	snprintf(dir, sizeof(dir), "%s/tether-fuzz-sign-XXXXXX", base);
	if (!mkdtemp(dir))
		abort();
	atexit(cleanup);
	snprintf(vdir, sizeof(vdir), "%s/vault", dir);
	if (mkdir(vdir, 0700) < 0 || vault_open(&v, dir, &e) < 0 ||
	    vault_ssh_generate(&v, 10, &who, &keys, &e) < 0 || vault_sync(&v, &e) < 0) {
		fprintf(stderr, "fuzz_ssh_sign: set-up: %s\n", e.message);
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char sig[VAULT_SSH_SIG_BYTES], blob[VAULT_SSH_BLOB_BYTES];
	char line[VAULT_SSH_LINE_MAX], fp[VAULT_SSH_FP_MAX];
	struct vault_ssh_userauth ua;
	unsigned char *buf;
	struct err e;
	int slot;

	if (size < 1)
		return 0;
	/* bits 0-1: slot (0..3, only 1 and 2 exist); bit 2: splice a real
	 * blob; bit 3: of the other slot; bit 4: sign for an unknown id */
	slot = data[0] & 3;
	buf = malloc(size);
	memcpy(buf, data + 1, size - 1);
	size--;
	if ((data[0] & 4) && size >= VAULT_SSH_BLOB_BYTES) {
		int which = slot >= 1 && slot <= 2 ? slot - 1 : 0;
		if (data[0] & 8)
			which ^= 1;
		vault_ssh_blob(keys.pk[which], blob);
		memcpy(buf + size - VAULT_SSH_BLOB_BYTES, blob, VAULT_SSH_BLOB_BYTES);
	}
	if (vault_ssh_sign(&v, (data[0] & 16) ? 11 : 10, slot, buf, size, sig, &e) == 0) {
		if ((data[0] & 16) || slot < 1 || slot > 2 ||
		    vault_ssh_parse_userauth(buf, size, &ua) != 0 ||
		    memcmp(ua.pk, keys.pk[slot - 1], VAULT_SSH_PK_BYTES) != 0) {
			fprintf(stderr, "fuzz_ssh_sign: signed something that is not a userauth request for slot %d's key\n",
				slot);
			abort();
		}
		if (crypto_sign_verify_detached(sig, buf, size, keys.pk[slot - 1]) != 0) {
			fprintf(stderr, "fuzz_ssh_sign: signature does not verify\n");
			abort();
		}
	}
	if (size >= VAULT_SSH_PK_BYTES) {
		vault_ssh_authorized_key(buf, line);
		vault_ssh_fingerprint(buf, fp);
		if (strlen(line) >= sizeof(line) || strncmp(line, "ssh-ed25519 ", 12) != 0 ||
		    strncmp(fp, "SHA256:", 7) != 0)
			abort();
	}
	free(buf);
	return 0;
}
