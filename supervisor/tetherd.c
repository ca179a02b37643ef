/* tetherd, the supervisor: holds the data directory's lock and the pgwire
 * listening socket, starts the children of sup_roles with their channels,
 * restarts them with backoff, hands each a fresh catalog<->vault channel when
 * its peer restarts, runs validator jobs (validators.c) and shuts everything
 * down on SIGTERM/SIGINT. It sees no secret and parses no SQL; signals
 * arrive through a signalfd. */
#include "sup.h"
#include "config_args.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
};

static struct sup {
	char dir[PATH_MAX];
	char exe_dir[PATH_MAX];
	int lock_fd;
	int listen_fd;
	int sig_fd;
	struct child kids[SUP_CHILD_COUNT];
	const char *envp[8];
	uint64_t peer_generation;
	int ready;
	int shutting_down;
	uint64_t shutdown_deadline_ms;
	int stragglers_killed;
	struct sup_jobs jobs;           /* validators (validators.c) */
} sup;

static struct tcfg sup_config;  /* tether.conf + --set (config_args.c) */

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

static void spawn_child(enum sup_child who)
{
	struct child *c = &sup.kids[who];
	const struct sup_role *role = c->role;
	char path[PATH_MAX + 64];
	static struct sup_child_argv ca;
	int fds[3];
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
	sup_config_child_argv(&sup_config, who, role->exe, sup.dir, &ca);
	pid = sup_spawn(path, ca.argv, sup.envp, fds, role->gets_listener ? 3 : 2, &e);
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
	c->up = 0;
	log_info("child_started", "role=%s pid=%d exe=%s", role->name, (int)pid, path);
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
	sup.lock_fd = sup.listen_fd = sup.sig_fd = -1;
	for (int i = 0; i < SUP_CHILD_COUNT; i++) {
		sup.kids[i].role = &sup_roles[i];
		sup.kids[i].pidfd = -1;
		sup.kids[i].pending_peer_fd = -1;
		ipc_chan_init(&sup.kids[i].chan, -1, sup_roles[i].channel, IPC_END_A);
		sup_backoff_init(&sup.kids[i].backoff);
	}
	if (sup_datadir_init(args.data_dir, sup.dir, sizeof(sup.dir), &e) != 0)
		return fail(&e);
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
	sup_child_env(environ, sup.envp, sizeof(sup.envp) / sizeof(sup.envp[0]));
	{
		static const struct sup_jobs_ops ops = {
			.grant = jobs_grant, .revoke = jobs_revoke,
			.channel = jobs_channel, .ended = jobs_ended,
		};
		char vpath[PATH_MAX + 32];

		snprintf(vpath, sizeof(vpath), "%s/%s", sup.exe_dir, SUP_VALIDATOR_EXE);
		sup_jobs_init(&sup.jobs, vpath, sup.envp, &ops);
	}
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
	close(sup.lock_fd);             /* releases the flock */
	log_info("stopped", NULL);
	return 0;
}
