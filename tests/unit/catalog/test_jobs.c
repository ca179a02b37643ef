/* The catalog's validation jobs (catalog/jobs.c) against fake tetherd and
 * validator ends on real socketpairs: SpawnValidator carries the grant,
 * the JobSpec goes out on the channel tetherd hands over, a JobResult is
 * reported once, a JobEnded that overtakes the result still finds it,
 * JobEnded without a result maps to the documented errors, and a cancelled
 * job sends CancelJob and is not reported again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jobs.h"

static struct {
	int n;
	uint64_t job;
	struct cat_job_result res;
} done;

static void on_done(void *arg, uint64_t job, const struct cat_job_result *res)
{
	(void)arg;
	done.n++;
	done.job = job;
	done.res = *res;
}

struct fix {
	struct ipc_chan sup_cat;        /* the catalog's end (B) */
	struct ipc_chan sup_tetherd;    /* tetherd's end (A) */
	struct cat_jobs *jobs;
};

static int setup(void **state)
{
	static struct fix f;
	int sv[2];

	memset(&done, 0, sizeof(done));
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	ipc_chan_init(&f.sup_tetherd, sv[0], IPC_SUP_CATALOG, IPC_END_A);
	ipc_chan_init(&f.sup_cat, sv[1], IPC_SUP_CATALOG, IPC_END_B);
	f.jobs = cat_jobs_new(&f.sup_cat, on_done, NULL);
	assert_non_null(f.jobs);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	cat_jobs_free(f->jobs);
	close(f->sup_tetherd.fd);
	close(f->sup_cat.fd);
	return 0;
}

static Tether__Envelope *recv_one(struct ipc_chan *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	Tether__Envelope *env = NULL;

	assert_int_equal(poll(&p, 1, 2000), 1);
	assert_int_equal(ipc_recv(c, &env, NULL), IPC_RECV_MESSAGE);
	return env;
}

/* A job with a small hand-made spec: u3@v7, SSH keys of u9, two dests. */
static void start(struct fix *f, uint64_t id)
{
	struct cat_jobspec js;
	struct err e;
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__JobSpec spec = TETHER__JOB_SPEC__INIT;

	memset(&js, 0, sizeof(js));
	js.job_id = id;
	js.connection_id = 5;
	snprintf(js.type, sizeof(js.type), "postgres");
	js.secrets[0].id = 3;
	js.secrets[0].version = 7;
	js.nsecrets = 1;
	js.ssh_owners[0] = 9;
	js.nssh_owners = 1;
	snprintf(js.dests[0], sizeof(js.dests[0]), "db:5432");
	snprintf(js.dests[1], sizeof(js.dests[1]), "bastion:22");
	js.ndests = 2;
	js.tunnel_id = 9;
	snprintf(js.tunnel_hostport, sizeof(js.tunnel_hostport), "bastion:22");
	js.deadline_ms = 1234;
	spec.job_id = id;
	spec.type = "postgres";
	env.body_case = TETHER__ENVELOPE__BODY_JOB_SPEC;
	env.job_spec = &spec;
	js.packed_len = tether__envelope__get_packed_size(&env);
	js.packed = malloc(js.packed_len);
	tether__envelope__pack(&env, js.packed);
	assert_int_equal(cat_jobs_start(f->jobs, &js, "materialize.public.pg", &e), 0);
	assert_null(js.packed);         /* the job owns it */

	Tether__Envelope *m = recv_one(&f->sup_tetherd);
	assert_int_equal(m->body_case, TETHER__ENVELOPE__BODY_SPAWN_VALIDATOR);
	const Tether__SpawnValidator *sv = m->spawn_validator;
	assert_int_equal(sv->job_id, id);
	assert_int_equal(sv->connection_id, 5);
	assert_int_equal(sv->n_secrets, 1);
	assert_int_equal(sv->secrets[0]->object_id, 3);
	assert_int_equal(sv->secrets[0]->version, 7);
	assert_int_equal(sv->n_ssh_keys, 1);
	assert_int_equal(sv->ssh_keys[0]->connection_id, 9);
	assert_int_equal(sv->ssh_keys[0]->n_slots, 2);
	assert_int_equal(sv->n_destinations, 2);
	assert_string_equal(sv->destinations[1], "bastion:22");
	assert_int_equal(sv->deadline_ms, 1234);
	ipc_envelope_free(m);
}

/* tetherd hands over the channel; returns the validator's end. */
static struct ipc_chan hand_channel(struct fix *f, uint64_t id)
{
	struct ipc_chan v;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	cat_jobs_on_channel(f->jobs, id, sv[1]);
	ipc_chan_init(&v, sv[0], IPC_VALIDATOR_CATALOG, IPC_END_A);
	Tether__Envelope *m = recv_one(&v);
	assert_int_equal(m->body_case, TETHER__ENVELOPE__BODY_JOB_SPEC);
	assert_int_equal(m->job_spec->job_id, id);
	ipc_envelope_free(m);
	return v;
}

static void send_result(struct ipc_chan *v, uint64_t id, const char *code, const char *sqlstate,
			const char *msg)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__JobResult r = TETHER__JOB_RESULT__INIT;

	r.job_id = id;
	r.code = (char *)code;
	r.sqlstate = (char *)sqlstate;
	r.message = (char *)msg;
	r.detail = "the detail";
	r.host_key = "SHA256:abc";
	env.body_case = TETHER__ENVELOPE__BODY_JOB_RESULT;
	env.job_result = &r;
	assert_int_equal(ipc_send(v, &env, -1), 0);
}

static void ended(struct fix *f, uint64_t id, int started, int status, int sig, int deadline)
{
	Tether__JobEnded m = TETHER__JOB_ENDED__INIT;

	m.job_id = id;
	m.started = started;
	m.exit_status = status;
	m.signal = sig;
	m.killed_at_deadline = deadline;
	cat_jobs_on_ended(f->jobs, &m);
}

static void test_result_is_reported_once(void **state)
{
	struct fix *f = *state;

	start(f, 1);
	struct ipc_chan v = hand_channel(f, 1);
	send_result(&v, 1, "auth", "08004", "authentication to POSTGRES server db failed: no");
	cat_jobs_readable(f->jobs, 1);
	assert_int_equal(done.n, 1);
	assert_false(done.res.ok);
	assert_string_equal(done.res.e.sqlstate, "08004");
	assert_string_equal(done.res.e.detail, "the detail");
	assert_string_equal(done.res.host_key, "SHA256:abc");
	assert_int_equal(done.res.tunnel_id, 9);
	assert_string_equal(done.res.tunnel_hostport, "bastion:22");
	ended(f, 1, 1, 0, 0, 0);
	assert_int_equal(done.n, 1);
	close(v.fd);
}

static void test_jobended_overtaking_the_result_still_finds_it(void **state)
{
	struct fix *f = *state;

	start(f, 2);
	struct ipc_chan v = hand_channel(f, 2);
	send_result(&v, 2, "ok", "00000", "");
	close(v.fd);
	ended(f, 2, 1, 0, 0, 0);        /* before the channel was read */
	assert_int_equal(done.n, 1);
	assert_true(done.res.ok);
}

static void test_no_result_maps_to_documented_errors(void **state)
{
	struct fix *f = *state;

	start(f, 3);
	struct ipc_chan v = hand_channel(f, 3);
	close(v.fd);
	ended(f, 3, 1, -1, SIGSEGV, 0);
	assert_string_equal(done.res.e.sqlstate, "XX000");
	assert_string_equal(done.res.e.message,
			    "internal error: validator: exited without a result (killed by signal SEGV)");

	start(f, 4);
	v = hand_channel(f, 4);
	ended(f, 4, 1, -1, SIGKILL, 1);
	assert_string_equal(done.res.e.sqlstate, "08001");
	assert_string_equal(done.res.e.message,
			    "validation of connection \"materialize.public.pg\" timed out after 1234 ms");
	assert_non_null(strstr(done.res.e.detail, "db:5432"));
	close(v.fd);

	/* Never started (tetherd's limit). */
	Tether__JobEnded m = TETHER__JOB_ENDED__INIT;
	start(f, 5);
	m.job_id = 5;
	m.sqlstate = "53300";
	m.message = "too many validations running (limit 16)";
	cat_jobs_on_ended(f->jobs, &m);
	assert_string_equal(done.res.e.sqlstate, "53300");
	assert_int_equal(done.n, 3);
}

static void test_cancel_sends_canceljob_and_reports_nothing(void **state)
{
	struct fix *f = *state;

	start(f, 6);
	struct ipc_chan v = hand_channel(f, 6);
	cat_jobs_cancel(f->jobs, 6);
	Tether__Envelope *m = recv_one(&f->sup_tetherd);
	assert_int_equal(m->body_case, TETHER__ENVELOPE__BODY_CANCEL_JOB);
	assert_int_equal(m->cancel_job->job_id, 6);
	ipc_envelope_free(m);
	/* The catalog's end is closed: the validator cannot even report. */
	Tether__Envelope late = TETHER__ENVELOPE__INIT;
	Tether__JobResult r = TETHER__JOB_RESULT__INIT;
	r.job_id = 6;
	r.code = "ok";
	late.body_case = TETHER__ENVELOPE__BODY_JOB_RESULT;
	late.job_result = &r;
	assert_int_equal(ipc_send(&v, &late, -1), -1);
	ended(f, 6, 1, -1, SIGKILL, 0);
	assert_int_equal(done.n, 0);
	close(v.fd);
	/* A channel for a job that is gone is closed at once. */
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	cat_jobs_on_channel(f->jobs, 6, sv[1]);
	char c;
	assert_int_equal(recv(sv[0], &c, 1, 0), 0);
	close(sv[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_result_is_reported_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jobended_overtaking_the_result_still_finds_it,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_result_maps_to_documented_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cancel_sends_canceljob_and_reports_nothing, setup,
						teardown),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
