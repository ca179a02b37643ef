/* tetherd's validator jobs: for each SpawnValidator, two socketpairs, a
 * Grant to the vault (with the validator's vault end), fork+exec of
 * tether-validator only once the vault says the grant is durable, SIGKILL
 * at the deadline or on CancelJob / KillValidator, JobEnded to the catalog
 * and Revoke to the vault when it is gone. Validators are never restarted. */
#include "sup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

/* A validator that does not drain its vault channel stalls the vault's
 * send for at most this long (the vault then cuts it off). */
#define SUP_VAULT_END_SNDTIMEO_MS 2000

void sup_jobs_init(struct sup_jobs *j, const char *validator_exe,
		   const char *const *envp, const struct sup_jobs_ops *ops)
{
	memset(j, 0, sizeof(*j));
	snprintf(j->exe, sizeof(j->exe), "%s", validator_exe);
	j->envp = envp;
	j->ops = *ops;
	j->next_request_id = 1;
	for (size_t i = 0; i < SUP_MAX_VALIDATORS; i++) {
		j->jobs[i].cat_end = j->jobs[i].val_cat_end = j->jobs[i].val_vault_end = -1;
		j->jobs[i].pidfd = -1;
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void job_free(struct sup_job *job)
{
	close_fd(&job->cat_end);
	close_fd(&job->val_cat_end);
	close_fd(&job->val_vault_end);
	close_fd(&job->pidfd);
	memset(job, 0, sizeof(*job));
	job->cat_end = job->val_cat_end = job->val_vault_end = job->pidfd = -1;
}

static struct sup_job *job_find(struct sup_jobs *j, uint64_t job_id)
{
	for (size_t i = 0; i < SUP_MAX_VALIDATORS; i++)
		if (j->jobs[i].state != SUP_JOB_FREE && j->jobs[i].job_id == job_id)
			return &j->jobs[i];
	return NULL;
}

/* JobEnded for a job that never got a process. */
static void end_unstarted(struct sup_jobs *j, uint64_t job_id, const char *sqlstate,
			  const char *message, int deadline, int cancelled)
{
	Tether__JobEnded m = TETHER__JOB_ENDED__INIT;

	m.job_id = job_id;
	m.started = 0;
	m.exit_status = -1;
	m.killed_at_deadline = deadline;
	m.cancelled = cancelled;
	m.sqlstate = (char *)sqlstate;
	m.message = (char *)message;
	log_info("validator_not_started", "job=%" PRIu64 " sqlstate=%s", job_id, sqlstate);
	if (j->ops.ended(j->ops.arg, &m) < 0)
		log_warn("job_ended_send_failed", "job=%" PRIu64, job_id);
}

/* Gives up a job in GRANTING: the vault may hold (or get) its grant. */
static void abandon_grant(struct sup_jobs *j, struct sup_job *job, const char *sqlstate,
			  const char *message, int deadline, int cancelled)
{
	uint64_t id = job->job_id;

	if (j->ops.revoke(j->ops.arg, id) < 0)
		log_debug("revoke_not_sent", "job=%" PRIu64, id);
	job_free(job);
	end_unstarted(j, id, sqlstate, message, deadline, cancelled);
}

void sup_jobs_spawn(struct sup_jobs *j, const Tether__SpawnValidator *m)
{
	Tether__Grant g = TETHER__GRANT__INIT;
	struct sup_job *job = NULL;
	int vc[2] = { -1, -1 }, vv[2] = { -1, -1 };
	uint64_t now = sup_now_ms();
	uint32_t deadline = m->deadline_ms ? m->deadline_ms : SUP_VALIDATOR_DEADLINE_DEFAULT_MS;
	char msg[128];

	if (m->job_id == 0 || job_find(j, m->job_id)) {
		end_unstarted(j, m->job_id, "XX000",
			      "internal error: supervisor: duplicate or missing job id", 0, 0);
		return;
	}
	for (size_t i = 0; i < SUP_MAX_VALIDATORS && !job; i++)
		if (j->jobs[i].state == SUP_JOB_FREE)
			job = &j->jobs[i];
	if (!job) {
		snprintf(msg, sizeof(msg), "too many validations running (limit %d)",
			 SUP_MAX_VALIDATORS);
		log_warn("validator_refused", "job=%" PRIu64 " reason=limit limit=%d", m->job_id,
			 SUP_MAX_VALIDATORS);
		end_unstarted(j, m->job_id, "53300", msg, 0, 0);
		return;
	}
	if (deadline > SUP_VALIDATOR_DEADLINE_MAX_MS)
		deadline = SUP_VALIDATOR_DEADLINE_MAX_MS;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, vc) != 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, vv) != 0) {
		snprintf(msg, sizeof(msg), "internal error: supervisor: socketpair: %s",
			 strerror(errno));
		close_fd(&vc[0]);
		close_fd(&vc[1]);
		end_unstarted(j, m->job_id, "XX000", msg, 0, 0);
		return;
	}
	/* The vault blocks on sends to a validator only this long. */
	struct timeval tv = { SUP_VAULT_END_SNDTIMEO_MS / 1000,
			      (SUP_VAULT_END_SNDTIMEO_MS % 1000) * 1000 };
	setsockopt(vv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

	job->state = SUP_JOB_GRANTING;
	job->job_id = m->job_id;
	job->connection_id = m->connection_id;
	job->grant_request_id = j->next_request_id++;
	job->cat_end = vc[0];
	job->val_cat_end = vc[1];
	job->val_vault_end = vv[1];
	job->requested_ms = now;
	job->deadline_ms = now + deadline;

	g.job_id = m->job_id;
	g.connection_id = m->connection_id;
	g.n_secrets = m->n_secrets;
	g.secrets = m->secrets;
	g.n_ssh_keys = m->n_ssh_keys;
	g.ssh_keys = m->ssh_keys;
	g.n_destinations = m->n_destinations;
	g.destinations = m->destinations;
	g.deadline_monotonic_ms = job->deadline_ms;
	int rc = j->ops.grant(j->ops.arg, job->grant_request_id, &g, vv[0]);
	close(vv[0]);       /* the vault has its own copy now */
	if (rc < 0) {
		uint64_t id = job->job_id;

		job_free(job);
		end_unstarted(j, id, "XX000", "internal error: vault: unavailable (restarting)", 0, 0);
		return;
	}
	log_info("validator_granting", "job=%" PRIu64 " connection=u%" PRIu64
		 " secrets=%zu ssh_keys=%zu destinations=%zu deadline_ms=%u", m->job_id,
		 m->connection_id, m->n_secrets, m->n_ssh_keys, m->n_destinations, deadline);
}

static void job_exec(struct sup_jobs *j, struct sup_job *job)
{
	char idbuf[32], q[600];
	char *argv[] = { SUP_VALIDATOR_EXE, "--job", idbuf, NULL };
	int fds[3];
	struct err e;
	pid_t pid;
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

	snprintf(idbuf, sizeof(idbuf), "%" PRIu64, job->job_id);
	if (devnull < 0) {
		abandon_grant(j, job, "XX000", "internal error: supervisor: cannot open /dev/null", 0, 0);
		return;
	}
	fds[0] = devnull;               /* SBX_FD_VALIDATOR_NULL */
	fds[1] = job->val_vault_end;    /* SBX_FD_VALIDATOR_VAULT */
	fds[2] = job->val_cat_end;      /* SBX_FD_VALIDATOR_CATALOG */
	pid = sup_spawn_ex(j->exe, argv, j->envp, fds, 3, j->confine, &e);
	close(devnull);
	close_fd(&job->val_vault_end);
	close_fd(&job->val_cat_end);
	if (pid < 0) {
		log_error("validator_spawn_failed", "job=%" PRIu64 " error=%s", job->job_id,
			  log_quote(q, sizeof(q), e.message));
		abandon_grant(j, job, "XX000", "internal error: supervisor: cannot start the validator",
			      0, 0);
		return;
	}
	job->pid = pid;
	job->pidfd = pidfd_open(pid, 0);
	job->started_ms = sup_now_ms();
	job->state = SUP_JOB_RUNNING;
	log_info("validator_started", "job=%" PRIu64 " pid=%d deadline_in_ms=%" PRIu64,
		 job->job_id, (int)pid,
		 job->deadline_ms > job->started_ms ? job->deadline_ms - job->started_ms : 0);
	if (j->ops.channel(j->ops.arg, job->job_id, job->cat_end) < 0) {
		/* Nobody will send it a job: it must not wait for its deadline. */
		log_warn("validator_channel_send_failed", "job=%" PRIu64, job->job_id);
		sup_jobs_kill(j, job->job_id, 0, "catalog_unreachable");
	}
	close_fd(&job->cat_end);
}

int sup_jobs_grant_reply(struct sup_jobs *j, uint64_t request_id, const Tether__Reply *r)
{
	struct sup_job *job = NULL;

	for (size_t i = 0; i < SUP_MAX_VALIDATORS && !job; i++)
		if (j->jobs[i].state == SUP_JOB_GRANTING &&
		    j->jobs[i].grant_request_id == request_id)
			job = &j->jobs[i];
	if (!job)
		return 0;
	if (!r->ok) {
		log_warn("grant_refused", "job=%" PRIu64 " sqlstate=%s", job->job_id,
			 r->sqlstate ? r->sqlstate : "");
		abandon_grant(j, job, r->sqlstate && *r->sqlstate ? r->sqlstate : "XX000",
			      r->message && *r->message ? r->message :
			      "internal error: vault: grant refused", 0, 0);
		return 1;
	}
	job_exec(j, job);
	return 1;
}

static void job_signal(struct sup_job *job, int sig)
{
	if (job->pid <= 0)
		return;
	if (job->pidfd >= 0 && pidfd_send_signal(job->pidfd, sig, NULL, 0) == 0)
		return;
	kill(job->pid, sig);
}

void sup_jobs_kill(struct sup_jobs *j, uint64_t job_id, int denied, const char *why)
{
	struct sup_job *job = job_find(j, job_id);

	if (!job)
		return;
	if (job->state == SUP_JOB_GRANTING) {
		abandon_grant(j, job, "57014", "canceling statement due to user request", 0, 1);
		return;
	}
	if (denied)
		job->denied = 1;
	else
		job->cancelled = 1;
	if (!job->killed_ms) {
		job_signal(job, SIGKILL);
		job->killed_ms = sup_now_ms();
		log_info("validator_killed", "job=%" PRIu64 " pid=%d reason=%s", job_id,
			 (int)job->pid, why);
	}
}

int sup_jobs_reaped(struct sup_jobs *j, pid_t pid, int status)
{
	Tether__JobEnded m = TETHER__JOB_ENDED__INIT;
	struct sup_job *job = NULL;
	uint64_t now = sup_now_ms();

	for (size_t i = 0; i < SUP_MAX_VALIDATORS && !job; i++)
		if (j->jobs[i].state == SUP_JOB_RUNNING && j->jobs[i].pid == pid)
			job = &j->jobs[i];
	if (!job)
		return 0;
	m.job_id = job->job_id;
	m.started = 1;
	m.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	m.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	m.killed_at_deadline = job->killed_at_deadline;
	m.cancelled = job->cancelled;
	m.denied = job->denied;
	m.ran_ms = now - job->started_ms;
	log_event(m.exit_status == 0 ? LOG_INFO : LOG_WARN, "validator_exited",
		  "job=%" PRIu64 " pid=%d status=%d signal=%d deadline=%d cancelled=%d denied=%d"
		  " ran_ms=%" PRIu64, m.job_id, (int)pid, m.exit_status, m.signal,
		  m.killed_at_deadline, m.cancelled, m.denied, m.ran_ms);
	if (m.signal == SIGSYS)
		log_error("seccomp_killed", "role=validator pid=%d hint=\"a syscall outside its "
			  "allowlist; run with TETHER_SECCOMP_DEBUG=1 to name it\"", (int)pid);
	if (j->ops.revoke(j->ops.arg, m.job_id) < 0)
		log_debug("revoke_not_sent", "job=%" PRIu64, m.job_id);
	if (j->ops.ended(j->ops.arg, &m) < 0)
		log_debug("job_ended_not_sent", "job=%" PRIu64, m.job_id);
	job_free(job);
	return 1;
}

void sup_jobs_tick(struct sup_jobs *j, uint64_t now)
{
	for (size_t i = 0; i < SUP_MAX_VALIDATORS; i++) {
		struct sup_job *job = &j->jobs[i];

		if (job->state == SUP_JOB_GRANTING &&
		    (now >= job->deadline_ms || now >= job->requested_ms + SUP_GRANT_TIMEOUT_MS)) {
			log_warn("grant_timeout", "job=%" PRIu64, job->job_id);
			abandon_grant(j, job, "08001", "the vault did not grant the job in time", 1, 0);
		} else if (job->state == SUP_JOB_RUNNING && !job->killed_ms &&
			   now >= job->deadline_ms) {
			job->killed_at_deadline = 1;
			job_signal(job, SIGKILL);
			job->killed_ms = now;
			log_warn("validator_killed", "job=%" PRIu64 " pid=%d reason=deadline",
				 job->job_id, (int)job->pid);
		} else if (job->state == SUP_JOB_RUNNING && job->killed_ms &&
			   now >= job->killed_ms + 5000) {
			/* SIGKILL cannot be refused; a process stuck in the kernel
			 * is reported once and reaped whenever it goes. */
			log_error("validator_not_dying", "job=%" PRIu64 " pid=%d", job->job_id,
				  (int)job->pid);
			job->killed_ms = UINT64_MAX / 2;
		}
	}
}

int sup_jobs_timeout(const struct sup_jobs *j, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	for (size_t i = 0; i < SUP_MAX_VALIDATORS; i++) {
		const struct sup_job *job = &j->jobs[i];
		uint64_t t = UINT64_MAX;

		if (job->state == SUP_JOB_GRANTING) {
			t = job->requested_ms + SUP_GRANT_TIMEOUT_MS;
			if (job->deadline_ms < t)
				t = job->deadline_ms;
		} else if (job->state == SUP_JOB_RUNNING) {
			t = job->killed_ms ? job->killed_ms + 5000 : job->deadline_ms;
		}
		if (t < next)
			next = t;
	}
	if (next == UINT64_MAX || next >= UINT64_MAX / 4)
		return -1;
	if (next <= now)
		return 0;
	return next - now > 60000 ? 60000 : (int)(next - now);
}

void sup_jobs_vault_lost(struct sup_jobs *j)
{
	for (size_t i = 0; i < SUP_MAX_VALIDATORS; i++)
		if (j->jobs[i].state == SUP_JOB_GRANTING) {
			uint64_t id = j->jobs[i].job_id;

			job_free(&j->jobs[i]);
			end_unstarted(j, id, "XX000",
				      "internal error: vault: connection lost; the validation did not run",
				      0, 0);
		}
}

void sup_jobs_kill_all(struct sup_jobs *j, const char *why)
{
	for (size_t i = 0; i < SUP_MAX_VALIDATORS; i++) {
		struct sup_job *job = &j->jobs[i];

		if (job->state == SUP_JOB_GRANTING)
			abandon_grant(j, job, "57P01", "terminating validation", 0, 1);
		else if (job->state == SUP_JOB_RUNNING)
			sup_jobs_kill(j, job->job_id, 0, why);
	}
}

size_t sup_jobs_active(const struct sup_jobs *j)
{
	size_t n = 0;

	for (size_t i = 0; i < SUP_MAX_VALIDATORS; i++)
		n += j->jobs[i].state != SUP_JOB_FREE;
	return n;
}

size_t sup_jobs_running(const struct sup_jobs *j)
{
	size_t n = 0;

	for (size_t i = 0; i < SUP_MAX_VALIDATORS; i++)
		n += j->jobs[i].state == SUP_JOB_RUNNING;
	return n;
}
