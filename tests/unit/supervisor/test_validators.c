/* tetherd's validator jobs (supervisor/validators.c) with a stand-in
 * validator: no exec before the vault's grant Reply, exactly fds 3/4/5,
 * JobEnded + Revoke on every end (clean exit, crash, deadline SIGKILL,
 * CancelJob, KillValidator), refusals answered at once (grant refused,
 * cancelled while granting, table full), nothing left running. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sup.h"

/* What the job table sent, as tetherd's peers would see it. */
static struct rec {
	uint64_t grant_rid;
	int vault_end;          /* dup of the validator's vault channel end */
	int cat_end;            /* dup of the catalog's end */
	uint64_t channel_job;
	int nended, nrevoked, ngrants;
	Tether__JobEnded ended;
	char ended_sqlstate[8];
	uint64_t revoked_job;
} rec;

static int op_grant(void *arg, uint64_t rid, const Tether__Grant *g, int fd)
{
	(void)arg;
	(void)g;
	rec.ngrants++;
	rec.grant_rid = rid;
	if (rec.vault_end >= 0)
		close(rec.vault_end);
	rec.vault_end = fcntl(fd, F_DUPFD_CLOEXEC, 10);
	return 0;
}

static int op_revoke(void *arg, uint64_t job)
{
	(void)arg;
	rec.nrevoked++;
	rec.revoked_job = job;
	return 0;
}

static int op_channel(void *arg, uint64_t job, int fd)
{
	(void)arg;
	rec.channel_job = job;
	if (rec.cat_end >= 0)
		close(rec.cat_end);
	rec.cat_end = fcntl(fd, F_DUPFD_CLOEXEC, 10);
	return 0;
}

static int op_ended(void *arg, const Tether__JobEnded *m)
{
	(void)arg;
	rec.nended++;
	rec.ended = *m;
	snprintf(rec.ended_sqlstate, sizeof(rec.ended_sqlstate), "%s",
		 m->sqlstate ? m->sqlstate : "");
	rec.ended.sqlstate = NULL;
	rec.ended.message = NULL;
	return 0;
}

static const struct sup_jobs_ops ops = {
	.grant = op_grant, .revoke = op_revoke, .channel = op_channel, .ended = op_ended,
};
static const char *const envp[] = { "PATH=/usr/bin:/bin", NULL };
static struct sup_jobs jobs;

static int setup(void **state)
{
	(void)state;
	memset(&rec, 0, sizeof(rec));
	rec.vault_end = rec.cat_end = -1;
	sup_jobs_init(&jobs, STANDIN_VALIDATOR_PATH, envp, &ops);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sup_jobs_kill_all(&jobs, "teardown");
	for (int i = 0; i < 200 && sup_jobs_running(&jobs); i++) {
		int st;
		pid_t p = waitpid(-1, &st, 0);
		if (p > 0)
			sup_jobs_reaped(&jobs, p, st);
	}
	if (rec.vault_end >= 0)
		close(rec.vault_end);
	if (rec.cat_end >= 0)
		close(rec.cat_end);
	return 0;
}

static void spawn(uint64_t job, uint32_t deadline_ms)
{
	Tether__SpawnValidator m = TETHER__SPAWN_VALIDATOR__INIT;

	m.job_id = job;
	m.connection_id = 5;
	m.deadline_ms = deadline_ms;
	sup_jobs_spawn(&jobs, &m);
}

static void grant_ok(void)
{
	Tether__Reply r = TETHER__REPLY__INIT;

	r.ok = 1;
	assert_int_equal(sup_jobs_grant_reply(&jobs, rec.grant_rid, &r), 1);
}

static pid_t job_pid(uint64_t job)
{
	for (size_t i = 0; i < SUP_MAX_VALIDATORS; i++)
		if (jobs.jobs[i].state == SUP_JOB_RUNNING && jobs.jobs[i].job_id == job)
			return jobs.jobs[i].pid;
	return -1;
}

/* Reaps the validator (bounded), driving deadlines meanwhile. */
static int reap(pid_t pid, int max_ms)
{
	int st = 0;

	for (int t = 0; t < max_ms; t += 5) {
		sup_jobs_tick(&jobs, sup_now_ms());
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			assert_int_equal(sup_jobs_reaped(&jobs, pid, st), 1);
			return st;
		}
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	fail_msg("validator %d still running after %d ms", (int)pid, max_ms);
	return -1;
}

static char standin_report(void)
{
	struct pollfd p = { .fd = rec.vault_end, .events = POLLIN };
	char c = 0;

	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_int_equal(read(rec.vault_end, &c, 1), 1);
	return c;
}

static void command(char c)
{
	assert_int_equal(write(rec.cat_end, &c, 1), 1);
}

static void test_exec_only_after_grant_with_exact_fds(void **state)
{
	(void)state;
	spawn(1, 10000);
	assert_int_equal(rec.ngrants, 1);
	assert_int_equal(sup_jobs_running(&jobs), 0);     /* not before the Reply */
	assert_int_equal(sup_jobs_active(&jobs), 1);
	grant_ok();
	assert_int_equal(sup_jobs_running(&jobs), 1);
	assert_int_equal(rec.channel_job, 1);
	pid_t pid = job_pid(1);
	assert_true(pid > 0);
	assert_int_equal(standin_report(), 'y');
	command('x');
	int st = reap(pid, 5000);
	assert_true(WIFEXITED(st));
	assert_int_equal(rec.nended, 1);
	assert_true(rec.ended.started);
	assert_int_equal(rec.ended.exit_status, 0);
	assert_false(rec.ended.killed_at_deadline);
	assert_int_equal(rec.nrevoked, 1);
	assert_int_equal(rec.revoked_job, 1);
	assert_int_equal(sup_jobs_active(&jobs), 0);
}

static void test_crash_is_reported_not_restarted(void **state)
{
	(void)state;
	spawn(2, 10000);
	grant_ok();
	pid_t pid = job_pid(2);
	assert_int_equal(standin_report(), 'y');
	command('c');
	reap(pid, 5000);
	assert_int_equal(rec.ended.signal, SIGABRT);
	assert_int_equal(rec.ended.exit_status, -1);
	assert_int_equal(rec.nrevoked, 1);
	assert_int_equal(sup_jobs_active(&jobs), 0);      /* never restarted */
}

static void test_deadline_sigkills_a_hanging_validator(void **state)
{
	(void)state;
	uint64_t t0 = sup_now_ms();

	spawn(3, 300);
	grant_ok();
	pid_t pid = job_pid(3);
	assert_int_equal(standin_report(), 'y');
	command('h');
	assert_true(sup_jobs_timeout(&jobs, sup_now_ms()) <= 300);
	int st = reap(pid, 5000);
	uint64_t took = sup_now_ms() - t0;
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	assert_true(rec.ended.killed_at_deadline);
	assert_true(took >= 250 && took < 2000);
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(rec.nrevoked, 1);
}

static void test_cancel_and_vault_denial_sigkill_now(void **state)
{
	(void)state;
	spawn(4, 60000);
	grant_ok();
	pid_t pid = job_pid(4);
	assert_int_equal(standin_report(), 'y');
	command('h');
	sup_jobs_kill(&jobs, 4, 0, "cancel");
	reap(pid, 2000);
	assert_true(rec.ended.cancelled);
	assert_false(rec.ended.killed_at_deadline);
	assert_int_equal(rec.ended.signal, SIGKILL);

	spawn(5, 60000);
	grant_ok();
	pid = job_pid(5);
	assert_int_equal(standin_report(), 'y');
	sup_jobs_kill(&jobs, 5, 1, "denied_by_vault");
	reap(pid, 2000);
	assert_true(rec.ended.denied);
	assert_int_equal(rec.nrevoked, 2);
}

static void test_refusals_end_the_job_without_a_process(void **state)
{
	Tether__Reply no = TETHER__REPLY__INIT;

	(void)state;
	/* The vault refuses the grant. */
	spawn(6, 10000);
	no.ok = 0;
	no.sqlstate = "XX000";
	no.message = "internal error: vault: audit log is not writable";
	assert_int_equal(sup_jobs_grant_reply(&jobs, rec.grant_rid, &no), 1);
	assert_int_equal(rec.nended, 1);
	assert_false(rec.ended.started);
	assert_string_equal(rec.ended_sqlstate, "XX000");
	assert_int_equal(sup_jobs_active(&jobs), 0);

	/* Cancelled while the vault is granting: a late Reply starts nothing. */
	spawn(7, 10000);
	uint64_t rid = rec.grant_rid;
	sup_jobs_kill(&jobs, 7, 0, "cancel");
	assert_int_equal(rec.nended, 2);
	assert_true(rec.ended.cancelled);
	assert_string_equal(rec.ended_sqlstate, "57014");
	no.ok = 1;
	assert_int_equal(sup_jobs_grant_reply(&jobs, rid, &no), 0);
	assert_int_equal(sup_jobs_running(&jobs), 0);

	/* The vault goes away while granting. */
	spawn(8, 10000);
	sup_jobs_vault_lost(&jobs);
	assert_int_equal(rec.nended, 3);
	assert_false(rec.ended.started);
	assert_int_equal(sup_jobs_active(&jobs), 0);
}

static void test_at_most_n_validators(void **state)
{
	(void)state;
	for (uint64_t j = 100; j < 100 + SUP_MAX_VALIDATORS; j++)
		spawn(j, 10000);
	assert_int_equal(sup_jobs_active(&jobs), SUP_MAX_VALIDATORS);
	assert_int_equal(rec.nended, 0);
	spawn(999, 10000);
	assert_int_equal(rec.nended, 1);
	assert_int_equal(rec.ended.job_id, 999);
	assert_false(rec.ended.started);
	assert_string_equal(rec.ended_sqlstate, "53300");
	/* A duplicate id is refused too. */
	spawn(100, 10000);
	assert_int_equal(rec.nended, 2);
	sup_jobs_kill_all(&jobs, "test");
	assert_int_equal(sup_jobs_active(&jobs), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exec_only_after_grant_with_exact_fds, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_crash_is_reported_not_restarted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline_sigkills_a_hanging_validator, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cancel_and_vault_denial_sigkill_now, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_refusals_end_the_job_without_a_process, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_at_most_n_validators, setup, teardown),
	};
	signal(SIGPIPE, SIG_IGN);
	log_init("test");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
