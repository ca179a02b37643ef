/* tether-validator: one job, then exit. Confines itself first (seccomp:
 * network yes; exec, ptrace, file writes no), reads its JobSpec from the
 * catalog (fd 5), runs the check of the job's type with secrets and SSH
 * signatures from the vault (fd 4, under the job's grant), sends one
 * JobResult and exits. tetherd SIGKILLs it at the deadline. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client.h"
#include "ipc.h"
#include "log.h"
#include "sandbox.h"
#include "val.h"

/* Connection types with a check; the catalog spawns validators only for
 * these (catalog/jobs.c keeps the same list as descriptor data). */
static const struct {
	const char *type;       /* mz_connections.type */
	val_check_fn check;
} checks[] = {
	{ "postgres", conn_postgres_validate },
	{ "ssh-tunnel", conn_ssh_tunnel_validate },
	{ "kafka", conn_kafka_validate },
	{ "mysql", conn_mysql_validate },
	{ "sql-server", conn_sqlserver_validate },
	{ "confluent-schema-registry", conn_csr_validate },
	{ "iceberg-catalog", conn_iceberg_validate },
	{ "aws", conn_aws_validate },
	{ "aws-privatelink", conn_aws_privatelink_validate },
};

#define DEFAULT_CONNECT_TIMEOUT_MS 10000

static val_check_fn check_for(const char *type)
{
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
		if (type && strcmp(checks[i].type, type) == 0)
			return checks[i].check;
	return NULL;
}

/* The JobSpec: the one message the catalog sends. */
static Tether__Envelope *read_spec(struct ipc_chan *cat)
{
	Tether__Envelope *env = NULL;
	struct pollfd p = { .fd = cat->fd, .events = POLLIN };

	/* No answer at all is tetherd's to handle (the deadline). */
	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
	if (ipc_recv(cat, &env, NULL) != IPC_RECV_MESSAGE)
		return NULL;
	return env;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "job", required_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const int keep[] = { SBX_FD_VALIDATOR_NULL, SBX_FD_VALIDATOR_VAULT,
			     SBX_FD_VALIDATOR_CATALOG };
	struct ipc_chan cat;
	Tether__Envelope *spec_env, out = TETHER__ENVELOPE__INIT;
	Tether__JobResult res;
	struct val_client client;
	struct val_services svc;
	struct val_result r;
	uint64_t job_arg = 0;
	int c;

	while ((c = getopt_long(argc, argv, "j:", opts, NULL)) != -1) {
		if (c == 'j')
			job_arg = strtoull(optarg, NULL, 10);
		else
			return 2;
	}
	log_init("validator");
	sbx_enter(SBX_ROLE_VALIDATOR, keep, sizeof(keep) / sizeof(keep[0]));
	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0) {
		log_error("validator_start_failed", "reason=sodium_init");
		return 1;
	}
	ipc_chan_init(&cat, SBX_FD_VALIDATOR_CATALOG, IPC_VALIDATOR_CATALOG, IPC_END_A);
	spec_env = read_spec(&cat);
	if (!spec_env) {
		log_warn("validator_no_job", "job=%" PRIu64, job_arg);
		return 1;
	}
	const Tether__JobSpec *spec = spec_env->job_spec;
	if (job_arg && spec->job_id != job_arg) {
		log_error("validator_wrong_job", "job=%" PRIu64 " spec_job=%" PRIu64, job_arg,
			  spec->job_id);
		return 1;
	}

	memset(&r, 0, sizeof(r));
	if (val_client_init(&client, SBX_FD_VALIDATOR_VAULT, spec, &r) == 0) {
		val_check_fn check = check_for(client.job.type);

		if (client.job.connect_timeout_ms <= 0)
			client.job.connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
		val_client_services(&client, &svc);
		if (check) {
			check(&svc, &client.job, &r);
		} else {
			val_fail(&r, VAL_CONFIG, NULL, "validation of %s connections is not supported",
				 client.job.type);
			err_set(&r.e, "0A000", "validation of %s connections is not supported",
				client.job.type);
		}
	}
	log_info("validator_result", "job=%" PRIu64 " type=%s code=%s stage=%s", spec->job_id,
		 spec->type ? spec->type : "", val_code_name(r.code), r.stage);

	val_client_result(&r, spec->job_id, &res);
	out.body_case = TETHER__ENVELOPE__BODY_JOB_RESULT;
	out.job_result = &res;
	int rc = ipc_send(&cat, &out, -1) == 0 ? 0 : 1;
	val_client_free(&client);
	ipc_envelope_free(spec_env);
	return rc;
}
