/* The validator's side of its two channels: the JobSpec from the catalog
 * turned into a struct val_job, the val_services a check uses (secrets and
 * SSH signatures fetched from the vault under the job's grant), and the
 * JobResult sent back. Secret values live in sodium_malloc'd buffers that
 * release() wipes and frees. */
#ifndef TETHER_VAL_CLIENT_H
#define TETHER_VAL_CLIENT_H

#include <pthread.h>
#include <stdint.h>

#include "ipc.h"
#include "val.h"

struct val_client {
	struct ipc_chan vault;          /* validator<->vault (we are end A) */
	const Tether__JobSpec *spec;    /* public keys, destinations */
	uint64_t next_request_id;
	pthread_mutex_t lock;           /* one request at a time on the channel */
	/* val_job storage (points into spec) */
	struct val_job job;
	struct val_option *options;
	struct val_part *parts;
	struct val_ssh_tunnel tunnel;
	struct val_ssh_tunnel *tunnels;  /* spec->tunnels (KAFKA per-broker) */
};

/* Builds c->job from spec (which must outlive c). -1 on a malformed spec
 * (r is set: config). */
int val_client_init(struct val_client *c, int vault_fd, const Tether__JobSpec *spec,
		    struct val_result *r);
void val_client_free(struct val_client *c);
void val_client_services(struct val_client *c, struct val_services *svc);

/* The destination ("host:port") audited for SSH signatures made for
 * connection_id's keys: its tunnel's bastion (the default tunnel or one of
 * spec->tunnels), else the job's first. */
const char *val_client_ssh_destination(const struct val_client *c, uint64_t connection_id);

/* Fills a JobResult from r (strings point into r). */
void val_client_result(const struct val_result *r, uint64_t job_id, Tether__JobResult *out);

#endif
