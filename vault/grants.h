/* Grants: what one validator job may take from the vault — the exact
 * secrets (object id, committed version), SSH key slots, destinations and
 * a CLOCK_MONOTONIC deadline — and the checks of every GetCredential /
 * SshSign against it. Each grant, release, signature and refusal is an
 * audit record; the caller makes it durable (vault_sync) before answering. */
#ifndef TETHER_VAULT_GRANTS_H
#define TETHER_VAULT_GRANTS_H

#include <stddef.h>
#include <stdint.h>

#include "ipc.h"
#include "ssh.h"
#include "vault.h"

#define VAULT_MAX_GRANTS 64
#define VAULT_GRANT_MAX_SECRETS 64
#define VAULT_GRANT_MAX_KEYS 8
#define VAULT_GRANT_MAX_DESTS 16
#define VAULT_GRANT_DEST_MAX 300     /* "host:port" */

struct vault_grant_key {
	uint64_t connection_id;
	unsigned slots;                  /* bit 0 = slot 1, bit 1 = slot 2 */
};

struct vault_grant {
	uint64_t job_id, connection_id;
	struct vault_ref secrets[VAULT_GRANT_MAX_SECRETS];
	size_t nsecrets;
	struct vault_grant_key keys[VAULT_GRANT_MAX_KEYS];
	size_t nkeys;
	char dests[VAULT_GRANT_MAX_DESTS][VAULT_GRANT_DEST_MAX];
	size_t ndests;
	uint64_t deadline_ms;            /* CLOCK_MONOTONIC ms */
	struct ipc_chan chan;            /* its validator channel; fd -1 once closed */
	uint64_t released, signed_count; /* for the revoke record */
};

struct vault_grants {
	struct vault_grant *g[VAULT_MAX_GRANTS];
};

/* CLOCK_MONOTONIC in ms (the clock tetherd computes deadlines with). */
uint64_t vault_grant_now_ms(void);

/* Records a grant (audited as event=grant: job, connection, secrets, keys,
 * destinations, deadline) and takes ownership of `fd` (its channel; closed
 * on failure). Not durable until vault_sync(); answer tetherd after that.
 * -1 with e when refused (malformed, table full, job already granted, past
 * its deadline, audit log not writable). */
int vault_grant_add(struct vault *v, struct vault_grants *t, const Tether__Grant *m,
		    int fd, uint64_t now, struct err *e);
struct vault_grant *vault_grant_find(struct vault_grants *t, uint64_t job_id);
/* Forgets a grant and closes its channel; audits event=grant_end with
 * `why` ("revoked", "expired", "denied", "closed"). No-op if unknown. */
void vault_grant_remove(struct vault *v, struct vault_grants *t, uint64_t job_id,
			const char *why);
void vault_grants_free(struct vault_grants *t);
/* Nearest deadline of a grant, or UINT64_MAX. */
uint64_t vault_grants_next_deadline(const struct vault_grants *t);

/* Outcomes of a validator request. */
enum vault_grant_rc {
	VAULT_GRANT_OK = 0,
	VAULT_GRANT_REFUSED = -1,        /* e set; not the validator's fault (no such
					    secret any more, audit log not writable) */
	VAULT_GRANT_DENIED = 1,          /* outside the grant: audited request_denied;
					    close the channel and kill the validator */
};

/* GetCredential: secret_id must be in the grant, destination among its
 * destinations, now before its deadline. On OK *value is a
 * vault_secbuf_alloc'd plaintext (free with vault_secbuf_free) and a
 * credential_release record (job, connection, secret, version,
 * destination) was appended: vault_sync() it before sending the value. */
enum vault_grant_rc vault_grant_release(struct vault *v, struct vault_grant *g,
					uint64_t secret_id, const char *destination,
					uint64_t now, unsigned char **value, size_t *len,
					struct err *e);
/* SshSign: key (connection_id, slot) in the grant, destination named, in
 * time, and `data` a userauth request for exactly that key (ssh.c). On OK
 * sig holds the signature and an ssh_sign record was appended. */
enum vault_grant_rc vault_grant_sign(struct vault *v, struct vault_grant *g,
				     uint64_t connection_id, unsigned slot,
				     const unsigned char *data, size_t len,
				     const char *destination, uint64_t now,
				     unsigned char sig[VAULT_SSH_SIG_BYTES], struct err *e);
/* Audits a refused request that never reached a check (an undecodable
 * or unpermitted packet on the validator channel): request_denied. */
int vault_grant_audit_violation(struct vault *v, const struct vault_grant *g,
				const char *reason);

#endif
