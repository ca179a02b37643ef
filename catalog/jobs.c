/* Validation jobs seen from the catalog. A job lives from SpawnValidator
 * until tetherd's JobEnded: it gets its validator channel, sends the
 * JobSpec, reads one JobResult. The outcome is reported once (`done`), on
 * the JobResult or, without one, on JobEnded; a cancelled job is reported
 * by the canceller and only waits for its JobEnded to be forgotten. */
#include "jobs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

enum job_state {
	JOB_FREE,
	JOB_SPAWNING,           /* SpawnValidator sent, no channel yet */
	JOB_RUNNING,            /* JobSpec sent, waiting for the result */
	JOB_REPORTED,           /* outcome given; waiting for JobEnded */
};

struct cat_job {
	enum job_state state;
	uint64_t id;
	struct ipc_chan chan;           /* catalog end of validator<->catalog */
	struct cat_jobspec js;
	char qname[3 * 256];
	uint64_t started_ms;
};

struct cat_jobs {
	struct ipc_chan *sup;
	cat_job_done_fn done;
	void *arg;
	uint64_t next_id;
	struct cat_job jobs[CAT_JOBS_MAX];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct cat_jobs *cat_jobs_new(struct ipc_chan *sup, cat_job_done_fn done, void *arg)
{
	struct cat_jobs *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->sup = sup;
	j->done = done;
	j->arg = arg;
	j->next_id = 1;
	for (size_t i = 0; i < CAT_JOBS_MAX; i++)
		j->jobs[i].chan.fd = -1;
	return j;
}

static void job_free(struct cat_job *job)
{
	if (job->chan.fd >= 0)
		close(job->chan.fd);
	cat_jobspec_free(&job->js);
	memset(job, 0, sizeof(*job));
	job->chan.fd = -1;
}

void cat_jobs_free(struct cat_jobs *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < CAT_JOBS_MAX; i++)
		job_free(&j->jobs[i]);
	free(j);
}

static struct cat_job *job_find(struct cat_jobs *j, uint64_t id)
{
	for (size_t i = 0; i < CAT_JOBS_MAX; i++)
		if (j->jobs[i].state != JOB_FREE && j->jobs[i].id == id)
			return &j->jobs[i];
	return NULL;
}

uint64_t cat_jobs_next_id(struct cat_jobs *j)
{
	return j->next_id++;
}

int cat_jobs_start(struct cat_jobs *j, struct cat_jobspec *js, const char *qname,
		   struct err *e)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__SpawnValidator sv = TETHER__SPAWN_VALIDATOR__INIT;
	Tether__SecretGrant sg[CAT_JOB_MAX_SECRETS], *sgp[CAT_JOB_MAX_SECRETS];
	Tether__SshKeyGrant kg[CAT_JOB_MAX_TUNNELS], *kgp[CAT_JOB_MAX_TUNNELS];
	uint32_t slots[2] = { 1, 2 };
	char *dests[CAT_JOB_MAX_DESTS];
	struct cat_job *job = NULL;

	for (size_t i = 0; i < CAT_JOBS_MAX && !job; i++)
		if (j->jobs[i].state == JOB_FREE)
			job = &j->jobs[i];
	if (!job)
		return err_set(e, "53300", "too many validations running (limit %d)", CAT_JOBS_MAX);
	if (!j->sup || j->sup->fd < 0)
		return err_set(e, "XX000", "internal error: catalog: no channel to tetherd");
	for (size_t i = 0; i < js->nsecrets; i++) {
		tether__secret_grant__init(&sg[i]);
		sg[i].object_id = js->secrets[i].id;
		sg[i].version = js->secrets[i].version;
		sgp[i] = &sg[i];
	}
	sv.job_id = js->job_id;
	sv.connection_id = js->connection_id;
	sv.n_secrets = js->nsecrets;
	sv.secrets = sgp;
	for (size_t i = 0; i < js->nssh_owners && i < CAT_JOB_MAX_TUNNELS; i++) {
		tether__ssh_key_grant__init(&kg[i]);
		kg[i].connection_id = js->ssh_owners[i];
		kg[i].n_slots = 2;
		kg[i].slots = slots;
		kgp[i] = &kg[i];
		sv.n_ssh_keys = i + 1;
		sv.ssh_keys = kgp;
	}
	for (size_t i = 0; i < js->ndests && i < CAT_JOB_MAX_DESTS; i++) {
		dests[i] = js->dests[i];
		sv.n_destinations = i + 1;
	}
	sv.destinations = dests;
	sv.deadline_ms = js->deadline_ms;
	env.body_case = TETHER__ENVELOPE__BODY_SPAWN_VALIDATOR;
	env.spawn_validator = &sv;
	if (ipc_send(j->sup, &env, -1) < 0)
		return err_set(e, "XX000", "internal error: catalog: cannot reach tetherd: %s",
			       strerror(errno));
	job->state = JOB_SPAWNING;
	job->id = js->job_id;
	job->js = *js;
	js->packed = NULL;              /* the job owns it now */
	js->packed_len = 0;
	snprintf(job->qname, sizeof(job->qname), "%s", qname);
	job->started_ms = now_ms();
	log_info("validation_started", "job=%" PRIu64 " connection=u%" PRIu64 " type=%s",
		 job->id, js->connection_id, js->type);
	return 0;
}

static void report(struct cat_jobs *j, struct cat_job *job, struct cat_job_result *res)
{
	res->tunnel_id = job->js.tunnel_id;
	snprintf(res->tunnel_hostport, sizeof(res->tunnel_hostport), "%s", job->js.tunnel_hostport);
	snprintf(res->pinned, sizeof(res->pinned), "%s", job->js.pinned);
	job->state = JOB_REPORTED;
	if (job->chan.fd >= 0) {
		close(job->chan.fd);
		job->chan.fd = -1;
	}
	log_info("validation_done", "job=%" PRIu64 " ok=%d code=%s sqlstate=%s ms=%" PRIu64,
		 job->id, res->ok, res->code, res->ok ? "00000" : res->e.sqlstate,
		 now_ms() - job->started_ms);
	j->done(j->arg, job->id, res);
}

static void send_cancel(struct cat_jobs *j, uint64_t job_id)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__CancelJob c = TETHER__CANCEL_JOB__INIT;

	c.job_id = job_id;
	env.body_case = TETHER__ENVELOPE__BODY_CANCEL_JOB;
	env.cancel_job = &c;
	if (ipc_send(j->sup, &env, -1) < 0)
		log_warn("cancel_job_send_failed", "job=%" PRIu64 " errno=%d", job_id, errno);
}

void cat_jobs_cancel(struct cat_jobs *j, uint64_t job_id)
{
	struct cat_job *job = job_find(j, job_id);

	if (!job || job->state == JOB_REPORTED)
		return;
	send_cancel(j, job_id);
	log_info("validation_cancelled", "job=%" PRIu64, job_id);
	job->state = JOB_REPORTED;      /* the canceller answers the client */
	if (job->chan.fd >= 0) {
		close(job->chan.fd);
		job->chan.fd = -1;
	}
}

void cat_jobs_on_channel(struct cat_jobs *j, uint64_t job_id, int fd)
{
	struct cat_job *job = job_find(j, job_id);
	ssize_t n;

	if (!job || job->state != JOB_SPAWNING) {
		close(fd);      /* cancelled meanwhile: the validator sees EOF */
		return;
	}
	ipc_chan_init(&job->chan, fd, IPC_VALIDATOR_CATALOG, IPC_END_B);
	/* The packed Envelope{JobSpec}: one packet into an empty socket,
	 * which cannot block. */
	size_t len = job->js.packed_len;
	do {
		n = send(fd, job->js.packed, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	int saved = errno;
	cat_jobspec_free(&job->js);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	job->state = JOB_RUNNING;
	if (n != (ssize_t)len) {
		struct cat_job_result res;

		memset(&res, 0, sizeof(res));
		log_warn("job_spec_send_failed", "job=%" PRIu64 " errno=%d", job_id, saved);
		err_set(&res.e, "XX000", "internal error: validator: cannot send the job (%s)",
			n < 0 ? strerror(saved) : "short write");
		send_cancel(j, job_id);
		report(j, job, &res);
	}
}

/* A JobResult as the client's outcome. */
static void result_from(const Tether__JobResult *m, struct cat_job_result *res)
{
	memset(res, 0, sizeof(*res));
	snprintf(res->code, sizeof(res->code), "%s", m->code ? m->code : "");
	snprintf(res->host_key, sizeof(res->host_key), "%s", m->host_key ? m->host_key : "");
	res->ssh_key_slot = (int)m->ssh_key_slot;
	res->ok = m->code && strcmp(m->code, "ok") == 0;
	if (res->ok)
		return;
	err_set(&res->e, m->sqlstate && strlen(m->sqlstate) == 5 ? m->sqlstate : "XX000", "%s",
		m->message && *m->message ? m->message : "validation failed");
	if (m->detail && *m->detail)
		err_detail(&res->e, "%s", m->detail);
	if (m->hint && *m->hint)
		err_hint(&res->e, "%s", m->hint);
}

/* Reads what the validator sent; 1 if a result was reported. */
static int drain(struct cat_jobs *j, struct cat_job *job)
{
	for (int budget = 4; budget > 0 && job->chan.fd >= 0; budget--) {
		Tether__Envelope *env = NULL;
		enum ipc_recv_status st = ipc_recv(&job->chan, &env, NULL);
		struct cat_job_result res;

		if (st == IPC_RECV_AGAIN)
			return 0;
		if (st != IPC_RECV_MESSAGE) {
			/* EOF without a result (JobEnded says how it ended), or a
			 * violation: the validator is not trusted any further. */
			close(job->chan.fd);
			job->chan.fd = -1;
			if (st == IPC_RECV_VIOLATION) {
				log_warn("validator_violation", "job=%" PRIu64, job->id);
				send_cancel(j, job->id);
				memset(&res, 0, sizeof(res));
				err_set(&res.e, "XX000", "internal error: validator: protocol violation");
				report(j, job, &res);
				return 1;
			}
			return 0;
		}
		if (env->job_result->job_id != job->id) {
			ipc_envelope_free(env);
			send_cancel(j, job->id);
			memset(&res, 0, sizeof(res));
			err_set(&res.e, "XX000", "internal error: validator: result for another job");
			report(j, job, &res);
			return 1;
		}
		result_from(env->job_result, &res);
		ipc_envelope_free(env);
		report(j, job, &res);
		return 1;
	}
	return 0;
}

void cat_jobs_readable(struct cat_jobs *j, uint64_t job_id)
{
	struct cat_job *job = job_find(j, job_id);

	if (job && job->state == JOB_RUNNING)
		drain(j, job);
}

void cat_jobs_ended_error(const Tether__JobEnded *m, const char *qname,
			  const char *dest, uint32_t deadline_ms, struct err *e)
{
	char how[96];

	if (!m->started && m->sqlstate && *m->sqlstate) {
		err_set(e, m->sqlstate, "%s", m->message && *m->message ? m->message :
			"internal error: validator: not started");
		return;
	}
	if (m->killed_at_deadline) {
		err_set(e, "08001", "validation of connection \"%s\" timed out after %u ms",
			qname, deadline_ms);
		err_detail(e, "The validator was stopped at its deadline while reaching %s.",
			   dest && *dest ? dest : "the remote system");
		err_hint(e, "The deadline is the session setting validation_timeout (milliseconds).");
		return;
	}
	if (m->cancelled) {
		err_set(e, "57014", "canceling statement due to user request");
		return;
	}
	if (m->denied) {
		err_set(e, "XX000", "internal error: validator: killed: it asked the vault for "
			"something outside its grant");
		return;
	}
	if (m->signal)
		snprintf(how, sizeof(how), "killed by signal %s",
			 sigabbrev_np(m->signal) ? sigabbrev_np(m->signal) : "?");
	else
		snprintf(how, sizeof(how), "exit status %d", m->exit_status);
	err_set(e, "XX000", "internal error: validator: exited without a result (%s)", how);
}

void cat_jobs_on_ended(struct cat_jobs *j, const Tether__JobEnded *m)
{
	struct cat_job *job = job_find(j, m->job_id);
	struct cat_job_result res;

	if (!job)
		return;
	/* The result may still sit in the channel: JobEnded travels on
	 * another socket and can overtake it. */
	if (job->state == JOB_RUNNING && drain(j, job)) {
		job_free(job);
		return;
	}
	if (job->state != JOB_REPORTED) {
		memset(&res, 0, sizeof(res));
		cat_jobs_ended_error(m, job->qname, job->js.dests[0], job->js.deadline_ms, &res.e);
		report(j, job, &res);
	}
	job_free(job);
}

void cat_jobs_tick(struct cat_jobs *j)
{
	uint64_t now = now_ms();

	for (size_t i = 0; i < CAT_JOBS_MAX; i++) {
		struct cat_job *job = &j->jobs[i];
		struct cat_job_result res;

		if (job->state == JOB_FREE ||
		    now < job->started_ms + job->js.deadline_ms + CAT_JOB_GRACE_MS)
			continue;
		log_error("validation_lost", "job=%" PRIu64 " state=%d", job->id, (int)job->state);
		if (job->state != JOB_REPORTED) {
			send_cancel(j, job->id);
			memset(&res, 0, sizeof(res));
			err_set(&res.e, "XX000", "internal error: validator: no word from tetherd about "
				"the validation");
			report(j, job, &res);
		}
		job_free(job);
	}
}

size_t cat_jobs_pollfds(struct cat_jobs *j, struct pollfd *pfd, uint64_t *ids, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < CAT_JOBS_MAX && n < max; i++)
		if (j->jobs[i].state == JOB_RUNNING && j->jobs[i].chan.fd >= 0) {
			pfd[n] = (struct pollfd){ .fd = j->jobs[i].chan.fd, .events = POLLIN };
			ids[n++] = j->jobs[i].id;
		}
	return n;
}
