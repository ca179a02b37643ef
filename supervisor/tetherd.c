/* tetherd, the supervisor: holds the data directory's lock and the pgwire
 * listening socket, starts the children of sup_roles with their channels,
 * restarts them with backoff, hands each a fresh catalog<->vault channel when
 * its peer restarts, runs validator jobs (validators.c) and shuts everything
 * down on SIGTERM/SIGINT. It sees no secret and parses no SQL; signals
 * arrive through a signalfd. */
#include "sup.h"
#include "config_args.h"
#include "tcp_listener.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct child {
	const struct sup_role *role;
	pid_t pid;                      /* 0 when not running */
	int pidfd;                      /* -1 without pidfd support */
	struct ipc_chan chan;           /* our end of its supervisor channel */
	uint64_t started_ms;
	uint64_t restart_at_ms;         /* 0: no restart scheduled */
	int pending_peer_fd;            /* its catalog<->vault end for next exec */
	int up;                         /* sent Health, or survived SUP_UP_AFTER_MS */
	int up_once;
	struct sup_backoff backoff;
	/* For ChildrenStatus (tether status). */
	unsigned int starts;
	uint64_t started_unix_ms;
	int last_exit_status, last_exit_signal;
};

static struct sup {
	char dir[PATH_MAX];
	char exe_dir[PATH_MAX];
	int lock_fd;
	int listen_fd;
	int tcp_fd;                     /* listen.tcp, or -1 (tcp_listener.c) */
	int sig_fd;
	struct child kids[SUP_CHILD_COUNT];
	const char *envp[8];
	uint64_t peer_generation;
	int ready;
	int shutting_down;
	uint64_t shutdown_deadline_ms;
	int stragglers_killed;
	struct sup_jobs jobs;           /* validators (validators.c) */
	struct sup_creds creds[SBX_ROLE_COUNT];  /* privdrop.c */
	int landlock_abi;               /* 0: none / disabled */
	struct sup_confine confine[SBX_ROLE_COUNT];
	uint64_t started_unix_ms;
} sup;

static struct tcfg sup_config;  /* tether.conf + --set (config_args.c) */

static uint64_t unix_ms(void);

/* A child that never sends Health counts as up once it has lived this long
 * (a child that fails to confine itself exits long before). */
#define SUP_UP_AFTER_MS 1000

static enum sup_child peer_of(enum sup_child who)
{
	return who == SUP_CHILD_VAULT ? SUP_CHILD_CATALOG : SUP_CHILD_VAULT;
}

static void child_signal(struct child *c, int sig)
{
	if (c->pid <= 0)
		return;
	/* The pidfd cannot hit a recycled pid; plain kill() is the fallback. */
	if (c->pidfd >= 0 && pidfd_send_signal(c->pidfd, sig, NULL, 0) == 0)
		return;
	kill(c->pid, sig);
}

static void child_close_channel(struct child *c)
{
	if (c->chan.fd >= 0)
		close(c->chan.fd);
	c->chan.fd = -1;
}

static void schedule_restart(struct child *c, uint64_t ran_ms)
{
	unsigned int delay = sup_backoff_next(&c->backoff, ran_ms);

	c->restart_at_ms = sup_now_ms() + delay;
	log_info("child_restart_scheduled", "role=%s delay_ms=%u", c->role->name, delay);
}

static int send_new_peer(struct child *to, const char *peer_role, uint64_t gen, int fd)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__NewPeerChannel npc = TETHER__NEW_PEER_CHANNEL__INIT;

	npc.peer_role = (char *)peer_role;
	npc.generation = gen;
	env.body_case = TETHER__ENVELOPE__BODY_NEW_PEER_CHANNEL;
	env.new_peer_channel = &npc;
	return ipc_send(&to->chan, &env, fd);
}

/* The end of a catalog<->vault channel that `who` gets at exec. Either one
 * kept for it when its peer started, or a new pair whose other end goes to
 * the running peer now (NewPeerChannel) or waits for the peer's next exec. */
static int peer_fd_for(enum sup_child who)
{
	struct child *me = &sup.kids[who];
	struct child *other = &sup.kids[peer_of(who)];
	int pair[2];

	if (me->pending_peer_fd >= 0) {
		int fd = me->pending_peer_fd;

		me->pending_peer_fd = -1;
		return fd;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
		return -1;
	sup.peer_generation++;
	if (other->pid > 0 && other->chan.fd >= 0) {
		if (send_new_peer(other, me->role->name, sup.peer_generation, pair[1]) != 0) {
			/* It would keep talking to a dead peer: restart it too. */
			log_warn("peer_channel_send_failed", "role=%s pid=%d errno=%d",
				 other->role->name, (int)other->pid, errno);
			child_close_channel(other);
			child_signal(other, SIGKILL);
		} else {
			log_info("peer_channel_sent", "to=%s peer=%s generation=%llu",
				 other->role->name, me->role->name,
				 (unsigned long long)sup.peer_generation);
		}
		close(pair[1]);
	} else {
		if (other->pending_peer_fd >= 0)
			close(other->pending_peer_fd);
		other->pending_peer_fd = pair[1];
	}
	return pair[0];
}

static void write_ready_line(void)
{
	char host[PATH_MAX * 2 + 3];
	size_t n = 0;
	int quote = strpbrk(sup.dir, " '\\\t") != NULL;

	/* libpq conninfo: single-quote values with spaces, escape ' and \. */
	if (quote)
		host[n++] = '\'';
	for (const char *p = sup.dir; *p && n < sizeof(host) - 3; p++) {
		if (quote && (*p == '\'' || *p == '\\'))
			host[n++] = '\\';
		host[n++] = *p;
	}
	if (quote)
		host[n++] = '\'';
	host[n] = '\0';
	printf("tetherd ready; connect with: psql \"host=%s port=%d user=materialize "
	       "dbname=materialize\"\n", host, SUP_SOCKET_PORT);
	fflush(stdout);
}

static void check_ready(void)
{
	if (sup.ready)
		return;
	for (int i = 0; i < SUP_CHILD_COUNT; i++)
		if (!sup.kids[i].up)
			return;
	sup.ready = 1;
	log_info("ready", "socket=%s/%s", sup.dir, SUP_SOCKET_NAME);
	write_ready_line();
}

/* ---- audit of child lifecycle (the vault's chain, issue 8) ---- */

/* The exit of the vault itself is told to its successor. */
static char vault_exit_detail[160];

static void audit_child(const char *event, const char *role, const char *detail)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__AuditEvent a = TETHER__AUDIT_EVENT__INIT;
	struct child *v = &sup.kids[SUP_CHILD_VAULT];

	if (v->pid <= 0 || v->chan.fd < 0)
		return;
	a.event = (char *)event;
	a.role = (char *)role;
	a.detail = (char *)detail;
	env.body_case = TETHER__ENVELOPE__BODY_AUDIT_EVENT;
	env.audit_event = &a;
	if (ipc_send(&v->chan, &env, -1) != 0)
		log_warn("audit_child_send_failed", "event=%s role=%s errno=%d", event, role, errno);
}

static void spawn_child(enum sup_child who)
{
	struct child *c = &sup.kids[who];
	const struct sup_role *role = c->role;
	char path[PATH_MAX + 64];
	static struct sup_child_argv ca;
	int fds[4];
	int sv[2];
	int peer;
	struct err e;
	pid_t pid;

	c->restart_at_ms = 0;
	snprintf(path, sizeof(path), "%s/%s", sup.exe_dir, role->exe);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		log_error("child_spawn_failed", "role=%s step=socketpair errno=%d",
			  role->name, errno);
		schedule_restart(c, 0);
		return;
	}
	peer = peer_fd_for(who);
	if (peer < 0) {
		log_error("child_spawn_failed", "role=%s step=peer_socketpair errno=%d",
			  role->name, errno);
		close(sv[0]);
		close(sv[1]);
		schedule_restart(c, 0);
		return;
	}
	fds[0] = sv[1];                 /* SBX_FD_SUPERVISOR */
	fds[1] = peer;                  /* SBX_FD_PEER */
	fds[2] = sup.listen_fd;         /* SBX_FD_LISTENER */
	fds[3] = sup.tcp_fd;            /* SBX_FD_TCP_LISTENER, if listen.tcp */
	sup_config_child_argv(&sup_config, who, role->exe, sup.dir, &ca);
	pid = sup_spawn_ex(path, ca.argv, sup.envp, fds,
			   role->gets_listener ? (sup.tcp_fd >= 0 ? 4 : 3) : 2,
			   &sup.confine[role->sandbox], &e);
	close(sv[1]);
	close(peer);
	if (pid < 0) {
		char q[600];

		close(sv[0]);
		log_error("child_spawn_failed", "role=%s error=%s", role->name,
			  log_quote(q, sizeof(q), e.message));
		schedule_restart(c, 0);
		return;
	}
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	ipc_chan_init(&c->chan, sv[0], role->channel, IPC_END_A);
	c->pid = pid;
	c->pidfd = pidfd_open(pid, 0);
	c->started_ms = sup_now_ms();
	c->started_unix_ms = unix_ms();
	c->starts++;
	c->up = 0;
	log_info("child_started", "role=%s pid=%d exe=%s", role->name, (int)pid, path);
	{
		char d[64];
		if (who == SUP_CHILD_VAULT && vault_exit_detail[0]) {
			audit_child("child_exited", "vault", vault_exit_detail);
			vault_exit_detail[0] = 0;
		}
		snprintf(d, sizeof(d), "pid=%d start=%llu", (int)pid, (unsigned long long)c->starts);
		audit_child("child_started", role->name, d);
	}
}

/* ---- status for the catalog (tether_internal.tether_processes) ---- */

static uint64_t unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* "Uid:\t0\t0\t0\t0" style fields of /proc/<pid>/status. */
static void proc_status(pid_t pid, Tether__ChildStatus *cs)
{
	char path[64], buf[4096];
	int fd;
	ssize_t n;

	cs->uid = cs->gid = cs->seccomp = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (char *line = buf; line && *line; ) {
		char *nl = strchr(line, '\n');

		if (nl)
			*nl = '\0';
		if (!strncmp(line, "Uid:", 4))
			cs->uid = atoi(line + 4);
		else if (!strncmp(line, "Gid:", 4))
			cs->gid = atoi(line + 4);
		else if (!strncmp(line, "Seccomp:", 8))
			cs->seccomp = atoi(line + 8);
		else if (!strncmp(line, "NoNewPrivs:", 11))
			cs->no_new_privs = atoi(line + 11) == 1;
		line = nl ? nl + 1 : NULL;
	}
}

/* Sent to the catalog whenever a child starts, comes up or exits. */
static void send_children_status(void)
{
	struct child *cat = &sup.kids[SUP_CHILD_CATALOG];
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__ChildrenStatus m = TETHER__CHILDREN_STATUS__INIT;
	Tether__ChildStatus cs[SUP_CHILD_COUNT];
	Tether__ChildStatus *ptrs[SUP_CHILD_COUNT];
	char ll[SUP_CHILD_COUNT][32];

	if (cat->pid <= 0 || cat->chan.fd < 0 || !cat->up || sup.shutting_down)
		return;
	for (int i = 0; i < SUP_CHILD_COUNT; i++) {
		const struct child *c = &sup.kids[i];

		tether__child_status__init(&cs[i]);
		cs[i].role = (char *)c->role->name;
		cs[i].pid = c->pid;
		cs[i].started_unix_ms = c->started_unix_ms;
		cs[i].restarts = c->starts > 0 ? c->starts - 1 : 0;
		cs[i].up = c->up;
		cs[i].last_exit_status = c->last_exit_status;
		cs[i].last_exit_signal = c->last_exit_signal;
		cs[i].uid = cs[i].gid = cs[i].seccomp = -1;
		if (c->pid > 0)
			proc_status(c->pid, &cs[i]);
		if (sup.landlock_abi > 0)
			snprintf(ll[i], sizeof(ll[i]), "enforced abi=%d", sup.landlock_abi);
		else
			snprintf(ll[i], sizeof(ll[i]), "unsupported");
		cs[i].landlock = ll[i];
		ptrs[i] = &cs[i];
	}
	m.n_children = SUP_CHILD_COUNT;
	m.children = ptrs;
	m.validators_running = (uint32_t)sup_jobs_running(&sup.jobs);
	m.supervisor_pid = (uint64_t)getpid();
	m.supervisor_started_unix_ms = sup.started_unix_ms;
	m.supervisor_uid = (int32_t)geteuid();
	env.body_case = TETHER__ENVELOPE__BODY_CHILDREN_STATUS;
	env.children_status = &m;
	if (ipc_send(&cat->chan, &env, -1) != 0)
		log_debug("children_status_send_failed", "errno=%d", errno);
}

static void mark_up(struct child *c, const char *how)
{
	if (c->up || c->pid <= 0)
		return;
	c->up = 1;
	log_event(c->up_once ? LOG_DEBUG : LOG_INFO, "child_up", "role=%s pid=%d by=%s",
		  c->role->name, (int)c->pid, how);
	c->up_once = 1;
	check_ready();
	send_children_status();
}

static void on_child_exit(struct child *c, int status)
{
	uint64_t ran = sup_now_ms() - c->started_ms;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;

	log_event(sup.shutting_down ? LOG_INFO : LOG_WARN, "child_exited",
		  "role=%s pid=%d status=%d signal=%d ran_ms=%llu", c->role->name,
		  (int)c->pid, code, sig, (unsigned long long)ran);
	if (code == SBX_EXIT_FAILED)
		log_error("sandbox_failed", "role=%s pid=%d", c->role->name, (int)c->pid);
	{
		char d[160];
		snprintf(d, sizeof(d), "pid=%d status=%d signal=%d ran_ms=%llu restart=%s",
			 (int)c->pid, code, sig, (unsigned long long)ran,
			 !sup.shutting_down && c->role->restart == SUP_RESTART_ALWAYS ? "yes" : "no");
		if (c == &sup.kids[SUP_CHILD_VAULT])
			snprintf(vault_exit_detail, sizeof(vault_exit_detail), "%s", d);
		else
			audit_child("child_exited", c->role->name, d);
	}
	if (sig == SIGSYS)
		log_error("seccomp_killed", "role=%s pid=%d hint=\"a syscall outside its "
			  "allowlist; run with TETHER_SECCOMP_DEBUG=1 to name it\"",
			  c->role->name, (int)c->pid);
	child_close_channel(c);
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->pidfd = -1;
	c->pid = 0;
	c->up = 0;
	c->last_exit_status = code;
	c->last_exit_signal = sig;
	send_children_status();
	/* Grants in flight died with the vault; validators whose catalog is
	 * gone have nobody to report to. */
	if (c == &sup.kids[SUP_CHILD_VAULT])
		sup_jobs_vault_lost(&sup.jobs);
	else
		sup_jobs_kill_all(&sup.jobs, "catalog_gone");
	if (!sup.shutting_down && c->role->restart == SUP_RESTART_ALWAYS)
		schedule_restart(c, ran);
}

static void reap_children(void)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid <= 0)
			return;
		if (sup_jobs_reaped(&sup.jobs, pid, status))
			continue;
		for (int i = 0; i < SUP_CHILD_COUNT; i++)
			if (sup.kids[i].pid == pid)
				on_child_exit(&sup.kids[i], status);
	}
}

static void begin_shutdown(int sig)
{
	if (sup.shutting_down)
		return;
	log_info("shutdown", "signal=%s", sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
	sup.shutting_down = 1;
	sup.shutdown_deadline_ms = sup_now_ms() + SUP_SHUTDOWN_GRACE_MS;
	for (int i = 0; i < SUP_CHILD_COUNT; i++) {
		sup.kids[i].restart_at_ms = 0;
		child_signal(&sup.kids[i], SIGTERM);
	}
	sup_jobs_kill_all(&sup.jobs, "shutdown");
}

static void read_signals(void)
{
	struct signalfd_siginfo si;

	while (read(sup.sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap_children();
			break;
		case SIGTERM:
		case SIGINT:
			begin_shutdown((int)si.ssi_signo);
			break;
		case SIGHUP:
			log_info("sighup_ignored", "reason=\"nothing to reload yet\"");
			break;
		}
	}
	reap_children();        /* coalesced SIGCHLDs */
}

/* ---- messages from the children ---- */

static void on_health(struct child *c, const Tether__Envelope *env)
{
	(void)env;
	log_debug("health", "role=%s pid=%d", c->role->name, (int)c->pid);
	mark_up(c, "health");
}

static void on_spawn_validator(struct child *c, const Tether__Envelope *env)
{
	(void)c;
	if (sup.shutting_down) {
		Tether__JobEnded m = TETHER__JOB_ENDED__INIT;

		m.job_id = env->spawn_validator->job_id;
		m.exit_status = -1;
		m.sqlstate = "57P01";
		m.message = "terminating validation: tetherd is shutting down";
		sup.jobs.ops.ended(sup.jobs.ops.arg, &m);
		return;
	}
	sup_jobs_spawn(&sup.jobs, env->spawn_validator);
}

static void on_cancel_job(struct child *c, const Tether__Envelope *env)
{
	(void)c;
	sup_jobs_kill(&sup.jobs, env->cancel_job->job_id, 0, "cancel");
}

static void on_grant_reply(struct child *c, const Tether__Envelope *env)
{
	(void)c;
	if (!sup_jobs_grant_reply(&sup.jobs, env->request_id, env->reply))
		log_debug("stale_grant_reply", "request_id=%llu",
			  (unsigned long long)env->request_id);
}

static void on_kill_validator(struct child *c, const Tether__Envelope *env)
{
	char q[300];

	(void)c;
	log_warn("validator_denied", "job=%llu reason=%s",
		 (unsigned long long)env->kill_validator->job_id,
		 log_quote(q, sizeof(q), env->kill_validator->reason));
	sup_jobs_kill(&sup.jobs, env->kill_validator->job_id, 1, "denied_by_vault");
}

/* Handlers per (child, kind); proto/ipc.c's permit tables already
 * refused anything else. */
#define B(x) TETHER__ENVELOPE__BODY_##x
static const struct {
	enum sup_child from;
	Tether__Envelope__BodyCase kind;
	void (*fn)(struct child *c, const Tether__Envelope *env);
} handlers[] = {
	{ SUP_CHILD_VAULT, B(HEALTH), on_health },
	{ SUP_CHILD_VAULT, B(REPLY), on_grant_reply },
	{ SUP_CHILD_VAULT, B(KILL_VALIDATOR), on_kill_validator },
	{ SUP_CHILD_CATALOG, B(HEALTH), on_health },
	{ SUP_CHILD_CATALOG, B(SPAWN_VALIDATOR), on_spawn_validator },
	{ SUP_CHILD_CATALOG, B(CANCEL_JOB), on_cancel_job },
};
#undef B

static void dispatch(struct child *c, const Tether__Envelope *env)
{
	enum sup_child from = (enum sup_child)(c - sup.kids);

	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (handlers[i].from == from && handlers[i].kind == env->body_case) {
			handlers[i].fn(c, env);
			return;
		}
	log_debug("ignored_message", "role=%s kind=%d", c->role->name, (int)env->body_case);
}

/* The job table's outgoing messages go over the children's channels. */
static int jobs_grant(void *arg, uint64_t request_id, const Tether__Grant *g, int fd)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	struct child *v = &sup.kids[SUP_CHILD_VAULT];

	(void)arg;
	if (v->pid <= 0 || v->chan.fd < 0) {
		errno = EPIPE;
		return -1;
	}
	env.request_id = request_id;
	env.body_case = TETHER__ENVELOPE__BODY_GRANT;
	env.grant = (Tether__Grant *)g;
	return ipc_send(&v->chan, &env, fd);
}

static int jobs_revoke(void *arg, uint64_t job_id)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__Revoke r = TETHER__REVOKE__INIT;
	struct child *v = &sup.kids[SUP_CHILD_VAULT];

	(void)arg;
	if (v->pid <= 0 || v->chan.fd < 0)
		return -1;
	r.job_id = job_id;
	env.body_case = TETHER__ENVELOPE__BODY_REVOKE;
	env.revoke = &r;
	return ipc_send(&v->chan, &env, -1);
}

static int jobs_channel(void *arg, uint64_t job_id, int fd)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__ValidatorChannel m = TETHER__VALIDATOR_CHANNEL__INIT;
	struct child *c = &sup.kids[SUP_CHILD_CATALOG];

	(void)arg;
	if (c->pid <= 0 || c->chan.fd < 0)
		return -1;
	m.job_id = job_id;
	env.body_case = TETHER__ENVELOPE__BODY_VALIDATOR_CHANNEL;
	env.validator_channel = &m;
	return ipc_send(&c->chan, &env, fd);
}

static int jobs_ended(void *arg, const Tether__JobEnded *m)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	struct child *c = &sup.kids[SUP_CHILD_CATALOG];

	(void)arg;
	if (c->pid <= 0 || c->chan.fd < 0)
		return -1;
	env.body_case = TETHER__ENVELOPE__BODY_JOB_ENDED;
	env.job_ended = (Tether__JobEnded *)m;
	return ipc_send(&c->chan, &env, -1);
}

/* At most this many messages per wake-up, so that a chatty child cannot
 * starve signals or its peer. */
#define SUP_MAX_MSGS_PER_WAKE 64

static void read_channel(struct child *c)
{
	for (int budget = SUP_MAX_MSGS_PER_WAKE; budget > 0; budget--) {
		Tether__Envelope *env = NULL;
		int fd = -1;
		enum ipc_recv_status st = ipc_recv(&c->chan, &env, &fd);

		if (st == IPC_RECV_AGAIN)
			return;
		if (st == IPC_RECV_MESSAGE) {
			if (fd >= 0)
				close(fd);      /* children never pass descriptors up */
			dispatch(c, env);
			ipc_envelope_free(env);
			continue;
		}
		/* A violation, or a child that hung up on us: it is not in a
		 * state we trust, so it is restarted. A child that simply died
		 * closes its channel too: reap first so that is logged as such. */
		if (st == IPC_RECV_CLOSED)
			reap_children();
		if (c->pid <= 0)
			return;         /* reaped: channel already closed */
		/* EOF usually just means the child is dying and not yet
		 * waitable: worth a line, not a warning. */
		if (!sup.shutting_down)
			log_event(st == IPC_RECV_VIOLATION ? LOG_WARN : LOG_INFO,
				  st == IPC_RECV_VIOLATION ? "child_violation" : "child_channel_closed",
				  "role=%s pid=%d action=kill", c->role->name, (int)c->pid);
		child_close_channel(c);
		if (!sup.shutting_down)
			child_signal(c, SIGKILL);
		return;
	}
}

static int any_child_running(void)
{
	for (int i = 0; i < SUP_CHILD_COUNT; i++)
		if (sup.kids[i].pid > 0)
			return 1;
	return sup_jobs_running(&sup.jobs) > 0;
}

static int poll_timeout(uint64_t now)
{
	uint64_t next = UINT64_MAX;

	if (sup.shutting_down)
		next = sup.stragglers_killed ? now + 100 : sup.shutdown_deadline_ms;
	else
		for (int i = 0; i < SUP_CHILD_COUNT; i++) {
			const struct child *c = &sup.kids[i];

			if (c->pid <= 0 && c->restart_at_ms && c->restart_at_ms < next)
				next = c->restart_at_ms;
			if (c->pid > 0 && !c->up && c->started_ms + SUP_UP_AFTER_MS < next)
				next = c->started_ms + SUP_UP_AFTER_MS;
		}
	int jt = sup_jobs_timeout(&sup.jobs, now);
	if (jt >= 0 && now + (uint64_t)jt < next)
		next = now + (uint64_t)jt;
	if (next == UINT64_MAX)
		return -1;
	return next <= now ? 0 : (int)(next - now);
}

static void run_loop(void)
{
	for (;;) {
		struct pollfd pfd[1 + SUP_CHILD_COUNT];
		struct child *owner[1 + SUP_CHILD_COUNT];
		nfds_t n = 0;
		uint64_t now = sup_now_ms();

		if (sup.shutting_down) {
			if (!any_child_running())
				return;
			if (now >= sup.shutdown_deadline_ms && !sup.stragglers_killed) {
				for (int i = 0; i < SUP_CHILD_COUNT; i++)
					if (sup.kids[i].pid > 0) {
						log_warn("shutdown_kill", "role=%s pid=%d",
							 sup.kids[i].role->name, (int)sup.kids[i].pid);
						child_signal(&sup.kids[i], SIGKILL);
					}
				sup.stragglers_killed = 1;
			}
			/* SIGKILL cannot be refused; bound the wait anyway. */
			if (now >= sup.shutdown_deadline_ms + 2000) {
				log_error("shutdown_timeout", "reason=\"children did not die\"");
				return;
			}
		} else {
			for (int i = 0; i < SUP_CHILD_COUNT; i++) {
				struct child *c = &sup.kids[i];

				if (c->pid <= 0 && c->restart_at_ms && c->restart_at_ms <= now)
					spawn_child((enum sup_child)i);
				else if (c->pid > 0 && !c->up &&
					 now >= c->started_ms + SUP_UP_AFTER_MS)
					mark_up(c, "alive");
			}
		}

		sup_jobs_tick(&sup.jobs, now);
		pfd[n].fd = sup.sig_fd;
		pfd[n].events = POLLIN;
		owner[n++] = NULL;
		for (int i = 0; i < SUP_CHILD_COUNT; i++)
			if (sup.kids[i].chan.fd >= 0) {
				pfd[n].fd = sup.kids[i].chan.fd;
				pfd[n].events = POLLIN;
				owner[n++] = &sup.kids[i];
			}
		if (poll(pfd, n, poll_timeout(sup_now_ms())) < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll_failed", "errno=%d", errno);
			begin_shutdown(SIGTERM);
			continue;
		}
		for (nfds_t i = 1; i < n; i++)
			if (pfd[i].revents && owner[i]->chan.fd == pfd[i].fd)
				read_channel(owner[i]);
		if (pfd[0].revents)
			read_signals();
	}
}

static int setup_signals(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);       /* children get SIG_DFL back at spawn */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	sup.sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return sup.sig_fd < 0 ? -1 : 0;
}

/* Landlock for every role unless TETHER_LANDLOCK=off (troubleshooting);
 * a kernel without it is logged, not fatal (docs/OPERATIONS.md). */
static void setup_confinement(void)
{
	const char *ll = getenv("TETHER_LANDLOCK");
	int off = ll && !strcmp(ll, "off");

	sup.landlock_abi = off ? 0 : sbx_landlock_abi();
	if (off)
		log_warn("landlock_disabled", "reason=\"TETHER_LANDLOCK=off\"");
	else if (sup.landlock_abi <= 0)
		log_warn("landlock_unsupported", "effect=\"roles are confined by seccomp and "
			 "file modes only\"");
	else
		log_info("landlock", "abi=%d", sup.landlock_abi);
	for (int r = 0; r < SBX_ROLE_COUNT; r++) {
		sup.confine[r].creds = &sup.creds[r];
		sup.confine[r].landlock = sup.landlock_abi > 0;
		sup.confine[r].role = (enum sbx_role)r;
		sup.confine[r].data_dir = sup.dir;
	}
	/* The catalog reads the TCP listener's certificate and key itself. */
	static const enum tcfg_key tls_files[] = {
		TCFG_TLS_CERTIFICATE, TCFG_TLS_KEY, TCFG_TLS_CA,
	};
	size_t n = 0;
	for (size_t i = 0; i < sizeof(tls_files) / sizeof(tls_files[0]); i++) {
		const char *path = tcfg_get(&sup_config, tls_files[i]);
		if (path && *path)
			sup.confine[SBX_ROLE_CATALOG].extra_ro[n++] = path;
	}
}

static int fail(const struct err *e)
{
	fprintf(stderr, "tetherd: %s\n", e->message);
	return 1;
}

int main(int argc, char **argv)
{
	struct sup_args args;
	struct err e;
	char q[PATH_MAX + 8];

	log_init("tetherd");
	struct sup_config_opts copts;
	if (sup_config_take_args(&argc, argv, &copts, &e) != 0 ||
	    sup_args_parse(argc, argv, &args, &e) != 0) {
		fprintf(stderr, "tetherd: %s\n%s", e.message, sup_usage());
		return 2;
	}
	if (args.help) {
		fputs(sup_usage(), stdout);
		return 0;
	}
	if (sup_config_load(&copts, &args, &sup_config, &e) != 0)
		return fail(&e);
	log_set_level(args.log_level);
	umask(077);
	sup.lock_fd = sup.listen_fd = sup.tcp_fd = sup.sig_fd = -1;
	for (int i = 0; i < SUP_CHILD_COUNT; i++) {
		sup.kids[i].role = &sup_roles[i];
		sup.kids[i].pidfd = -1;
		sup.kids[i].pending_peer_fd = -1;
		ipc_chan_init(&sup.kids[i].chan, -1, sup_roles[i].channel, IPC_END_A);
		sup_backoff_init(&sup.kids[i].backoff);
	}
	if (sup_datadir_init(args.data_dir, sup.dir, sizeof(sup.dir), &e) != 0)
		return fail(&e);
	if (sup_creds_resolve(&sup_config, sup.creds, &e) != 0 ||
	    sup_datadir_assign(sup.dir, sup.creds, &e) != 0)
		return fail(&e);
	setup_confinement();
	if (sup_lock_acquire(sup.dir, &sup.lock_fd, &e) != 0)
		return fail(&e);
	if (sup_self_dir(sup.exe_dir, sizeof(sup.exe_dir), &e) != 0)
		return fail(&e);
	if (setup_signals() != 0) {
		err_set(&e, "58030", "cannot set up signalfd: %s", strerror(errno));
		return fail(&e);
	}
	if (sup_listener_open(sup.dir, &sup.listen_fd, &e) != 0)
		return fail(&e);
	if (sup_tcp_listener_open(&sup_config, &sup.tcp_fd, &e) != 0)
		return fail(&e);
	if (sup.tcp_fd >= 0)
		log_info("tcp_listener", "address=%s tls=required auth=scram-sha-256",
			 tcfg_get(&sup_config, TCFG_LISTEN_TCP));
	sup_child_env(environ, sup.envp, sizeof(sup.envp) / sizeof(sup.envp[0]));
	{
		static const struct sup_jobs_ops ops = {
			.grant = jobs_grant, .revoke = jobs_revoke,
			.channel = jobs_channel, .ended = jobs_ended,
		};
		char vpath[PATH_MAX + 32];

		snprintf(vpath, sizeof(vpath), "%s/%s", sup.exe_dir, SUP_VALIDATOR_EXE);
		sup_jobs_init(&sup.jobs, vpath, sup.envp, &ops);
		sup.jobs.confine = &sup.confine[SBX_ROLE_VALIDATOR];
	}
	sup.started_unix_ms = unix_ms();
	log_info("starting", "data_dir=%s", log_quote(q, sizeof(q), sup.dir));

	for (int i = 0; i < SUP_CHILD_COUNT; i++)
		spawn_child((enum sup_child)i);
	run_loop();

	for (int i = 0; i < SUP_CHILD_COUNT; i++) {
		child_close_channel(&sup.kids[i]);
		if (sup.kids[i].pending_peer_fd >= 0)
			close(sup.kids[i].pending_peer_fd);
	}
	char sock[PATH_MAX + 32];
	sup_listener_path(sup.dir, sock, sizeof(sock));
	unlink(sock);
	close(sup.listen_fd);
	if (sup.tcp_fd >= 0)
		close(sup.tcp_fd);
	close(sup.lock_fd);             /* releases the flock */
	log_info("stopped", NULL);
	return 0;
}
