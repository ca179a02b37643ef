/* libFuzzer target: the vault's SSH userauth parser (vault/ssh.c), the
 * gate in front of vault_ssh_sign. Whatever it accepts must be exactly one
 * publickey request for an ssh-ed25519 key, with every pointer inside the
 * input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ssh.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vault_ssh_userauth ua;

	if (vault_ssh_parse_userauth(data, size, &ua) != 0)
		return 0;
	if (ua.session_id < data || ua.session_id + ua.session_id_len > data + size ||
	    ua.session_id_len < VAULT_SSH_SESSION_ID_MIN ||
	    ua.session_id_len > VAULT_SSH_SESSION_ID_MAX ||
	    (const uint8_t *)ua.user < data || (const uint8_t *)ua.user + ua.user_len > data + size ||
	    ua.user_len == 0 || ua.user_len > VAULT_SSH_USER_MAX ||
	    ua.blob + VAULT_SSH_BLOB_BYTES != data + size ||
	    ua.pk != ua.blob + VAULT_SSH_BLOB_BYTES - VAULT_SSH_PK_BYTES ||
	    memcmp(ua.blob, "\0\0\0\x0bssh-ed25519\0\0\0\x20", 19) != 0)
		abort();
	return 0;
}
