/* What a validation job is given: the connection's resolved options as a
 * JobSpec (secret ids only, never values), and the grant the vault gets
 * (exact secret versions, SSH key owner, destinations). Also the SSH host
 * keys pinned on the first successful validation (migration 5,
 * tether_internal table ssh_host_keys, view mz_internal.mz_ssh_tunnel_host_keys). */
#ifndef TETHER_CAT_JOBSPEC_H
#define TETHER_CAT_JOBSPEC_H

#include <stddef.h>
#include <stdint.h>

#include "descriptor.h"
#include "err.h"
#include "optset.h"
#include "store.h"

#define CAT_JOB_MAX_SECRETS 64
#define CAT_JOB_MAX_TUNNELS 8           /* SSH tunnels per job (vault: keys per grant) */
#define CAT_JOB_MAX_DESTS 16            /* vault: destinations per grant */
#define CAT_JOB_DEST_MAX 300            /* "host:port" */
#define CAT_JOB_HOST_KEY_MAX 128

struct cat_jobspec {
	uint64_t job_id, connection_id;
	char type[32];                  /* mz_connections.type */
	struct { uint64_t id, version; } secrets[CAT_JOB_MAX_SECRETS];
	size_t nsecrets;
	uint64_t ssh_owners[CAT_JOB_MAX_TUNNELS];  /* connections whose SSH keys sign */
	size_t nssh_owners;
	/* [0] the target (secrets are released for it), then the bastions */
	char dests[CAT_JOB_MAX_DESTS][CAT_JOB_DEST_MAX];
	size_t ndests;
	/* The SSH tunnel whose host key the result pins (0: none). A job
	 * through several tunnels (KAFKA per-broker) pins none: its result
	 * carries one host key and cannot say whose. */
	uint64_t tunnel_id;
	char tunnel_hostport[CAT_JOB_DEST_MAX];
	char pinned[CAT_JOB_HOST_KEY_MAX];  /* the pin sent, "" when none */
	uint32_t deadline_ms;
	uint8_t *packed;                /* Envelope{JobSpec}, one packet */
	size_t packed_len;
};

/* 1 if connections of type t can be validated (a check exists in
 * validator/); others keep answering 0A000. */
int cat_jobspec_type_validates(enum conn_type t);

/* Builds the job for connection `conn_id` (type `type`) with options `set`
 * (as planned by CREATE/ALTER, or as stored). Tunnels are read from the
 * store; `self_keys` (NULL: from the store) gives the authorized_keys lines
 * of an SSH TUNNEL connection not yet committed. -1 with e on failure. */
int cat_jobspec_build(struct cat_store *st, uint64_t job_id, uint64_t conn_id,
		      enum conn_type type, const struct conn_optset *set,
		      const char *const self_keys[2], uint32_t connect_timeout_ms,
		      uint32_t deadline_ms, struct cat_jobspec *out, struct err *e);
void cat_jobspec_free(struct cat_jobspec *js);

/* The pinned host key of SSH tunnel `tunnel_id` for `hostport`: 1 and key
 * filled, 0 when none is pinned for that address, -1. */
int cat_hostkey_get(struct cat_store *st, uint64_t tunnel_id, const char *hostport,
		    char key[CAT_JOB_HOST_KEY_MAX], struct err *e);
/* Pins `key` for the tunnel at `hostport` (replacing a pin for another
 * address). Runs in the caller's transaction if one is open. */
int cat_hostkey_pin(struct cat_store *st, uint64_t tunnel_id, const char *hostport,
		    const char *key, struct err *e);

#endif
