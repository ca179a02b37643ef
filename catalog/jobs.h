/* The catalog's validation jobs: SpawnValidator to tetherd, the JobSpec on
 * the validator channel tetherd hands over, the JobResult (or JobEnded
 * without one) turned into a client-facing result, CancelJob. A session
 * waiting for a job is parked like one waiting for the vault; the server
 * (server.c) polls the job channels and resumes it through `done`. */
#ifndef TETHER_CAT_JOBS_H
#define TETHER_CAT_JOBS_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "ipc.h"
#include "jobspec.h"

#define CAT_JOBS_MAX 32
/* SQL.md 6 defaults; session settings validation_timeout and
 * validation_connect_timeout (milliseconds) override them. */
#define CAT_JOB_DEADLINE_DEFAULT_MS 30000u
#define CAT_JOB_CONNECT_TIMEOUT_DEFAULT_MS 10000u

struct cat_job_result {
	int ok;
	struct err e;                   /* when !ok: what the client gets */
	char code[16];                  /* "ok", "auth", ..., "" without a result */
	char host_key[CAT_JOB_HOST_KEY_MAX];   /* bastion key seen (to pin) */
	int ssh_key_slot;
	uint64_t tunnel_id;             /* from the job: what to pin */
	char tunnel_hostport[CAT_JOB_DEST_MAX];
	char pinned[CAT_JOB_HOST_KEY_MAX];     /* the pin the job was given */
};

struct cat_jobs;

typedef void (*cat_job_done_fn)(void *arg, uint64_t job_id, const struct cat_job_result *res);

/* `sup` is the catalog's channel to tetherd; `done` is called (at most once
 * per job) when a job's outcome is known. */
struct cat_jobs *cat_jobs_new(struct ipc_chan *sup, cat_job_done_fn done, void *arg);
void cat_jobs_free(struct cat_jobs *j);

/* Asks tetherd for a validator for js (the job takes js's packed spec).
 * 0, or -1 with e (53300 when CAT_JOBS_MAX jobs run). */
int cat_jobs_start(struct cat_jobs *j, struct cat_jobspec *js, const char *qname,
		   struct err *e);
uint64_t cat_jobs_next_id(struct cat_jobs *j);
/* CancelJob: the validator is killed; `done` is not called for it. */
void cat_jobs_cancel(struct cat_jobs *j, uint64_t job_id);

/* Messages from tetherd. */
void cat_jobs_on_channel(struct cat_jobs *j, uint64_t job_id, int fd);
void cat_jobs_on_ended(struct cat_jobs *j, const Tether__JobEnded *m);

/* Poll integration: the validator channels to watch (ids[i] for pfd[i]). */
size_t cat_jobs_pollfds(struct cat_jobs *j, struct pollfd *pfd, uint64_t *ids, size_t max);
void cat_jobs_readable(struct cat_jobs *j, uint64_t job_id);

/* Watchdog: a job that outlived its deadline by CAT_JOB_GRACE_MS without
 * tetherd's JobEnded (which should never happen) is reported as an
 * internal error and forgotten, so no session stays parked for ever. */
#define CAT_JOB_GRACE_MS 15000u
void cat_jobs_tick(struct cat_jobs *j);

/* Maps a JobEnded without a result to the client's error (exposed for
 * tests). */
void cat_jobs_ended_error(const Tether__JobEnded *m, const char *qname,
			  const char *dest, uint32_t deadline_ms, struct err *e);

#endif
