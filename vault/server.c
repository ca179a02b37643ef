/* The vault's request loop. Handlers only append records and queue
 * replies; the loop makes a batch durable with one fsync of the store and
 * one of the audit log, then answers. A catalog that breaks the protocol
 * is audited and cut off until the supervisor hands over a new channel; a
 * validator that asks for anything outside its grant is audited, cut off
 * and reported to tetherd (KillValidator), which SIGKILLs it. */
#include "server.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "keymem.h"
#include "log.h"
#include "ssh.h"

enum pending_kind { PEND_REPLY, PEND_META_PAGE, PEND_RECONCILE, PEND_SSH_KEYS };

struct meta_item {
	uint64_t object_id, version;
	uint32_t term, size;
};

struct vault_pending {
	enum pending_kind kind;
	uint64_t request_id;
	struct err err;                         /* PEND_REPLY: set = failure */
	struct meta_item *items;                /* PEND_META_PAGE */
	size_t nitems;
	int more;
	struct vault_reconcile_result rr;       /* PEND_RECONCILE */
	struct vault_ssh_reconcile_result srr;  /* PEND_RECONCILE */
	struct vault_ssh_pubkeys keys;          /* PEND_SSH_KEYS: public only */
};

/* Handler results. */
#define H_OK 0
#define H_FATAL (-1)      /* vault state unknown: exit non-zero */
#define H_VIOLATION 1     /* cut the peer off */

/* ---- pending replies ---- */

static struct vault_pending *pending_add(struct vault_server *s,
					 enum pending_kind kind, uint64_t request_id)
{
	struct vault_pending *p;

	if (s->npending == s->cappending) {
		size_t cap = s->cappending ? s->cappending * 2 : 16;
		p = realloc(s->pending, cap * sizeof(*p));
		if (!p)
			return NULL;
		s->pending = p;
		s->cappending = cap;
	}
	p = &s->pending[s->npending++];
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->request_id = request_id;
	return p;
}

static int reply_later(struct vault_server *s, uint64_t request_id,
		       const struct err *e)
{
	struct vault_pending *p = pending_add(s, PEND_REPLY, request_id);

	if (!p)
		return H_FATAL;
	if (e && err_is_set(e))
		p->err = *e;
	return H_OK;
}

static void pending_release(struct vault_pending *p)
{
	free(p->items);
	p->items = NULL;
	vault_reconcile_result_free(&p->rr);
	vault_ssh_reconcile_free(&p->srr);
}

static void pending_clear(struct vault_server *s)
{
	for (size_t i = 0; i < s->npending; i++)
		pending_release(&s->pending[i]);
	s->npending = 0;
}

/* ---- state tied to one catalog channel ---- */

static void put_drop(struct vault_server *s)
{
	vault_secbuf_free(s->put.buf);
	free(s->put.name);
	free(s->put.role);
	memset(&s->put, 0, sizeof(s->put));
}

static void catalog_reset(struct vault_server *s)
{
	put_drop(s);
	s->put_failed = 0;
	s->nkeep = 0;
	s->nssh_keep = 0;
	s->ssh_listed = 0;
	/* Replies for a channel that is gone have nobody to go to; their
	 * records are still made durable by the coming commit. */
	pending_clear(s);
}

static void catalog_lost(struct vault_server *s, const char *why)
{
	if (s->cat.fd >= 0) {
		close(s->cat.fd);
		log_warn("catalog_channel_closed", "reason=%s generation=%" PRIu64, why,
			 s->cat_generation);
	}
	s->cat.fd = -1;
	catalog_reset(s);
}

static int audit_denied(struct vault_server *s, const char *channel,
			const char *reason)
{
	struct err e = { 0 };
	struct audit_field f[] = {
		{ "channel", channel },
		{ "reason", reason },
	};

	if (vault_audit(s->v, "request_denied", f, 2, &e) < 0) {
		log_error("audit_failed", "event=request_denied");
		return H_FATAL;
	}
	return H_OK;
}

/* ---- catalog handlers ---- */

/* Answers request_id with an error once and ignores the rest of its
 * chunks (up to the one with last=true). */
static int put_reject(struct vault_server *s, uint64_t request_id, int last,
		      const char *sqlstate, const char *what)
{
	struct err e;

	if (strcmp(sqlstate, "54000") == 0)
		err_set(&e, sqlstate, "secrets can not be bigger than 512KiB");
	else
		err_set(&e, sqlstate, "internal error: vault: %s", what);
	log_warn("put_secret_rejected", "request=%" PRIu64 " reason=\"%s\"", request_id, what);
	put_drop(s);
	s->put_failed = !last;
	s->failed_request_id = request_id;
	return reply_later(s, request_id, &e);
}

static int put_begin(struct vault_server *s, uint64_t rid, const Tether__PutSecret *m)
{
	if (m->total_size > IPC_MAX_SECRET)
		return put_reject(s, rid, m->last, "54000", "value too large");
	if (m->offset != 0)
		return put_reject(s, rid, m->last, "XX000", "secret chunk out of order");
	s->put.buf = vault_secbuf_alloc(m->total_size);
	s->put.name = strdup(m->object_name ? m->object_name : "");
	s->put.role = strdup(m->role ? m->role : "");
	if (!s->put.buf || !s->put.name || !s->put.role)
		return put_reject(s, rid, m->last, "XX000", "out of memory");
	s->put.active = 1;
	s->put.request_id = rid;
	s->put.object_id = m->object_id;
	s->put.version = m->version;
	s->put.total = m->total_size;
	s->put.replace = m->replace;
	return H_OK;
}

static int handle_put_secret(struct vault_server *s, const Tether__Envelope *env)
{
	const Tether__PutSecret *m = env->put_secret;
	uint64_t rid = env->request_id;
	size_t clen = m->chunk.len;

	if (s->put.active && s->put.request_id != rid) {
		/* Chunks of two uploads interleaved: the first one is void. */
		if (put_reject(s, s->put.request_id, 0, "XX000",
			       "secret upload interrupted by another request") != H_OK)
			return H_FATAL;
	}
	if (!s->put.active) {
		if (s->put_failed && s->failed_request_id == rid) {
			if (m->last)
				s->put_failed = 0;
			return H_OK;    /* already answered with an error */
		}
		int rc = put_begin(s, rid, m);
		if (rc != H_OK || !s->put.active)
			return rc;      /* rejected: answered already */
	} else if (m->object_id != s->put.object_id || m->version != s->put.version ||
		   m->total_size != s->put.total) {
		return put_reject(s, rid, m->last, "XX000", "secret chunk does not match its upload");
	} else if (m->offset != s->put.received) {
		return put_reject(s, rid, m->last, "XX000", "secret chunk out of order");
	}
	if (clen > s->put.total - s->put.received)
		return put_reject(s, rid, m->last, "XX000", "secret chunks exceed the announced size");
	if (clen)
		memcpy(s->put.buf + s->put.received, m->chunk.data, clen);
	s->put.received += (uint32_t)clen;
	if (!m->last)
		return H_OK;
	if (s->put.received != s->put.total)
		return put_reject(s, rid, 1, "XX000", "secret upload ended early");

	struct err e = { 0 };
	struct vault_actor who = { s->put.role, s->put.name };
	if (vault_secret_put(s->v, s->put.object_id, s->put.version, s->put.buf,
			     s->put.total, s->put.replace, &who, &e) < 0)
		log_warn("put_secret_failed", "request=%" PRIu64 " object=u%" PRIu64
			 " version=%" PRIu64 " sqlstate=%s", rid, s->put.object_id,
			 s->put.version, e.sqlstate);
	put_drop(s);
	return reply_later(s, rid, &e);
}

static int handle_commit_secret(struct vault_server *s, const Tether__Envelope *env)
{
	struct err e = { 0 };

	if (vault_secret_commit(s->v, env->commit_secret->object_id,
				env->commit_secret->version, &e) < 0)
		log_error("commit_secret_failed", "object=u%" PRIu64 " sqlstate=%s",
			  env->commit_secret->object_id, e.sqlstate);
	return H_OK;
}

static int handle_delete_secret(struct vault_server *s, const Tether__Envelope *env)
{
	const Tether__DeleteSecret *m = env->delete_secret;
	struct vault_actor who = { m->role, m->object_name };
	struct err e = { 0 };

	vault_secret_delete(s->v, m->object_id, &who, &e);
	return reply_later(s, env->request_id, &e);
}

static int handle_list_meta(struct vault_server *s, const Tether__Envelope *env)
{
	const struct vault_store *st = &s->v->store;
	const Tether__ListSecretMeta *m = env->list_secret_meta;
	size_t limit = m->limit ? m->limit : VAULT_META_PAGE_DEFAULT;
	size_t i = vault_store_first_after(st, m->after_object_id);
	struct vault_pending *p = pending_add(s, PEND_META_PAGE, env->request_id);

	if (!p)
		return H_FATAL;
	if (limit > VAULT_META_PAGE_MAX)
		limit = VAULT_META_PAGE_MAX;
	/* Whole objects per page: all versions of an object travel together,
	 * since the next page starts after the last object id. */
	p->items = calloc(limit, sizeof(*p->items));
	if (!p->items)
		return H_FATAL;
	while (i < st->count) {
		size_t j = i;
		while (j < st->count && st->entries[j].object_id == st->entries[i].object_id)
			j++;
		if (p->nitems + (j - i) > limit) {
			if (p->nitems > 0)
				break;
			j = i + limit;  /* one object with more versions than a page */
		}
		for (; i < j; i++) {
			const struct vault_store_entry *ent = &st->entries[i];
			p->items[p->nitems++] = (struct meta_item){
				ent->object_id, ent->version, ent->term, ent->size };
		}
	}
	p->more = i < st->count;
	return H_OK;
}

/* Collects a batch's SSH key owners; H_VIOLATION past the bound. */
static int ssh_keep_add(struct vault_server *s, const Tether__ReconcileBatch *m)
{
	if (m->ssh_keys_listed)
		s->ssh_listed = 1;
	if (m->n_ssh_key_owners == 0)
		return H_OK;
	if (m->n_ssh_key_owners > VAULT_RECONCILE_MAX - s->nssh_keep) {
		log_warn("reconcile_too_large", "ssh_key_owners=%zu",
			 s->nssh_keep + m->n_ssh_key_owners);
		return H_VIOLATION;
	}
	if (s->nssh_keep + m->n_ssh_key_owners > s->capssh_keep) {
		size_t cap = s->capssh_keep ? s->capssh_keep : 1024;
		while (cap < s->nssh_keep + m->n_ssh_key_owners)
			cap *= 2;
		uint64_t *k = realloc(s->ssh_keep, cap * sizeof(*k));
		if (!k)
			return H_FATAL;
		s->ssh_keep = k;
		s->capssh_keep = cap;
	}
	memcpy(s->ssh_keep + s->nssh_keep, m->ssh_key_owners,
	       m->n_ssh_key_owners * sizeof(uint64_t));
	s->nssh_keep += m->n_ssh_key_owners;
	return H_OK;
}

/* The SSH half of a reconciliation, only when the catalog listed owners:
 * a catalog that does not know SSH keys must not make the vault shred
 * them. Object ids of SSH keys count towards max_object_id either way. */
static void reconcile_ssh(struct vault_server *s, struct vault_pending *p)
{
	struct err e = { 0 };

	if (s->v->ssh.max_object_id > p->rr.max_object_id)
		p->rr.max_object_id = s->v->ssh.max_object_id;
	if (!s->ssh_listed) {
		if (s->v->ssh.count)
			log_warn("ssh_reconcile_skipped", "reason=owners_not_listed key_sets=%zu",
				 s->v->ssh.count);
		return;
	}
	if (vault_ssh_reconcile(s->v, s->ssh_keep, s->nssh_keep, &p->srr, &e) < 0) {
		pending_release(p);
		p->kind = PEND_REPLY;
		p->err = e;
		return;
	}
	log_info("ssh_reconciled", "named=%zu shredded=%u missing=%zu",
		 s->nssh_keep, p->srr.shredded, p->srr.nmissing);
}

static int handle_reconcile(struct vault_server *s, const Tether__Envelope *env)
{
	const Tether__ReconcileBatch *m = env->reconcile_batch;
	struct vault_pending *p;
	struct err e = { 0 };
	int rc;

	if (m->n_items > VAULT_RECONCILE_MAX - s->nkeep) {
		log_warn("reconcile_too_large", "items=%zu", s->nkeep + m->n_items);
		return H_VIOLATION;
	}
	if (s->nkeep + m->n_items > s->capkeep) {
		size_t cap = s->capkeep ? s->capkeep : 1024;
		while (cap < s->nkeep + m->n_items)
			cap *= 2;
		struct vault_ref *k = realloc(s->keep, cap * sizeof(*k));
		if (!k)
			return H_FATAL;
		s->keep = k;
		s->capkeep = cap;
	}
	for (size_t i = 0; i < m->n_items; i++)
		s->keep[s->nkeep++] = (struct vault_ref){ m->items[i]->object_id,
							  m->items[i]->version };
	if ((rc = ssh_keep_add(s, m)) != H_OK)
		return rc;
	if (!m->last)
		return H_OK;
	p = pending_add(s, PEND_RECONCILE, env->request_id);
	if (!p)
		return H_FATAL;
	if (vault_reconcile(s->v, s->keep, s->nkeep, &p->rr, &e) < 0) {
		p->kind = PEND_REPLY;
		p->err = e;
	} else {
		log_info("reconciled", "named=%zu shredded=%u missing=%zu",
			 s->nkeep, p->rr.shredded, p->rr.nmissing);
		reconcile_ssh(s, p);
	}
	s->nkeep = 0;
	s->nssh_keep = 0;
	s->ssh_listed = 0;
	return H_OK;
}

/* ---- SSH keys ---- */

static int ssh_keys_later(struct vault_server *s, uint64_t request_id, int rc,
			  const struct vault_ssh_pubkeys *keys, const struct err *e)
{
	struct vault_pending *p;

	if (rc <= 0)
		return reply_later(s, request_id, e);
	p = pending_add(s, PEND_SSH_KEYS, request_id);
	if (!p)
		return H_FATAL;
	p->keys = *keys;
	return H_OK;
}

static int handle_generate_ssh_keys(struct vault_server *s, const Tether__Envelope *env)
{
	const Tether__GenerateSshKeys *m = env->generate_ssh_keys;
	struct vault_actor who = { m->role, m->object_name };
	struct vault_ssh_pubkeys keys;
	struct err e = { 0 };
	int rc = vault_ssh_generate(s->v, m->object_id, &who, &keys, &e) < 0 ? -1 : 1;

	if (rc < 0)
		log_warn("ssh_generate_failed", "object=u%" PRIu64 " sqlstate=%s",
			 m->object_id, e.sqlstate);
	return ssh_keys_later(s, env->request_id, rc, &keys, &e);
}

static int handle_rotate_ssh_keys(struct vault_server *s, const Tether__Envelope *env)
{
	const Tether__RotateSshKeys *m = env->rotate_ssh_keys;
	struct vault_actor who = { m->role, m->object_name };
	struct vault_ssh_pubkeys keys;
	struct err e = { 0 };
	int rc = vault_ssh_rotate(s->v, m->object_id, &who, &keys, &e) < 0 ? -1 : 1;

	if (rc < 0)
		log_warn("ssh_rotate_failed", "object=u%" PRIu64 " sqlstate=%s",
			 m->object_id, e.sqlstate);
	return ssh_keys_later(s, env->request_id, rc, &keys, &e);
}

static int handle_delete_ssh_keys(struct vault_server *s, const Tether__Envelope *env)
{
	const Tether__DeleteSshKeys *m = env->delete_ssh_keys;
	struct vault_actor who = { m->role, m->object_name };
	struct err e = { 0 };

	vault_ssh_delete(s->v, m->object_id, &who, &e);
	return reply_later(s, env->request_id, &e);
}

static int handle_get_ssh_public_keys(struct vault_server *s, const Tether__Envelope *env)
{
	uint64_t id = env->get_ssh_public_keys->object_id;
	struct vault_ssh_pubkeys keys;
	struct err e = { 0 };
	int rc = vault_ssh_public_keys(s->v, id, &keys, &e);

	if (rc == 0)
		err_set(&e, "42704", "vault: u%" PRIu64 " has no SSH keys", id);
	return ssh_keys_later(s, env->request_id, rc, &keys, &e);
}

static int handle_audit_event(struct vault_server *s, const Tether__Envelope *env)
{
	const Tether__AuditEvent *m = env->audit_event;
	struct err e = { 0 };
	struct audit_field f[] = {
		{ "action", m->event && *m->event ? m->event : "unknown" },
		{ "role", m->role && *m->role ? m->role : NULL },
		{ "object", m->object_id && *m->object_id ? m->object_id : NULL },
		{ "detail", m->detail && *m->detail ? m->detail : NULL },
	};

	if (vault_audit(s->v, "ddl", f, 4, &e) < 0)
		log_error("audit_failed", "event=ddl");
	return H_OK;
}

/* `tether status` (ops helper): counters only, never key material. Sent at
 * once rather than after the group commit: it changes nothing, and a seq
 * not yet fsynced is fine for a status line. */
static int handle_vault_status(struct vault_server *s, const Tether__Envelope *env)
{
	Tether__Envelope r = TETHER__ENVELOPE__INIT;
	Tether__VaultStatus st = TETHER__VAULT_STATUS__INIT;

	st.current_term = s->v->kr.current;
	st.terms = (uint32_t)s->v->kr.count;
	st.audit_last_seq = s->v->audit.seq;
	st.audit_bytes = s->v->audit.end;
	r.request_id = env->request_id;
	r.body_case = TETHER__ENVELOPE__BODY_VAULT_STATUS;
	r.vault_status = &st;
	if (ipc_send(&s->cat, &r, -1) < 0)
		log_warn("vault_status_send_failed", "errno=%d", errno);
	return H_OK;
}

/* ---- key rotation (rotate.c does the work) ---- */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The latest state to the catalog: on every change of state at once,
 * otherwise at most every VAULT_ROTATE_REPORT_MS. */
static void rotation_report(struct vault_server *s, int force)
{
	const struct vault_rotation *r = &s->v->rot;
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__KeyRotationProgress p = TETHER__KEY_ROTATION_PROGRESS__INIT;
	int64_t now = mono_ms();

	if (s->cat.fd < 0 || !r->started_at)
		return;
	if (!force && (!r->changed ||
		       (r->active && now - s->rot_reported_ms < VAULT_ROTATE_REPORT_MS)))
		return;
	p.kind = "data";
	p.term = r->term;
	p.state = (char *)r->state;
	p.records_total = r->total;
	p.records_done = r->done;
	p.started_at_ms = r->started_at;
	p.finished_at_ms = r->finished_at;
	env.body_case = TETHER__ENVELOPE__BODY_KEY_ROTATION_PROGRESS;
	env.key_rotation_progress = &p;
	if (ipc_send(&s->cat, &env, -1) < 0) {
		log_warn("rotation_progress_send_failed", "errno=%d", errno);
		return;
	}
	s->v->rot.changed = 0;
	s->rot_reported_ms = now;
}

static void master_report(struct vault_server *s, int64_t started, int ok)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__KeyRotationProgress p = TETHER__KEY_ROTATION_PROGRESS__INIT;
	struct timespec ts;

	if (s->cat.fd < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	p.kind = "master";
	p.term = s->v->kr.current;
	p.state = ok ? "done" : "failed";
	p.records_total = p.records_done = 1;
	p.started_at_ms = started;
	p.finished_at_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	env.body_case = TETHER__ENVELOPE__BODY_KEY_ROTATION_PROGRESS;
	env.key_rotation_progress = &p;
	if (ipc_send(&s->cat, &env, -1) < 0)
		log_warn("rotation_progress_send_failed", "errno=%d", errno);
}

static int handle_rotate_key(struct vault_server *s, const Tether__Envelope *env)
{
	const Tether__RotateKey *m = env->rotate_key;
	struct vault_actor who = { m->role, NULL };
	struct err e = { 0 };
	struct timespec ts;
	int64_t started;

	clock_gettime(CLOCK_REALTIME, &ts);
	started = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (m->kind && strcmp(m->kind, "data") == 0) {
		if (vault_rotate_data_key(s->v, &who, &e) < 0)
			log_warn("rotate_data_key_refused", "sqlstate=%s", e.sqlstate);
	} else if (m->kind && strcmp(m->kind, "master") == 0) {
		int rc = vault_rotate_master_key(s->v, &who, &e);
		if (rc < 0)
			log_error("rotate_master_key_failed", "sqlstate=%s", e.sqlstate);
		master_report(s, started, rc == 0);
	} else {
		err_set(&e, "22023", "vault: unknown key kind \"%s\"", m->kind ? m->kind : "");
	}
	return reply_later(s, env->request_id, &e);
}

#define B(x) TETHER__ENVELOPE__BODY_##x
struct handler {
	Tether__Envelope__BodyCase kind;
	const char *name;
	int (*fn)(struct vault_server *s, const Tether__Envelope *env);
};

/* What the catalog may ask (proto/ipc.c's permit table enforces the same
 * set before a message gets here). */
static const struct handler catalog_handlers[] = {
	{ B(PUT_SECRET), "put_secret", handle_put_secret },
	{ B(COMMIT_SECRET), "commit_secret", handle_commit_secret },
	{ B(DELETE_SECRET), "delete_secret", handle_delete_secret },
	{ B(LIST_SECRET_META), "list_secret_meta", handle_list_meta },
	{ B(RECONCILE_BATCH), "reconcile_batch", handle_reconcile },
	{ B(AUDIT_EVENT), "audit_event", handle_audit_event },
	{ B(GENERATE_SSH_KEYS), "generate_ssh_keys", handle_generate_ssh_keys },
	{ B(ROTATE_SSH_KEYS), "rotate_ssh_keys", handle_rotate_ssh_keys },
	{ B(DELETE_SSH_KEYS), "delete_ssh_keys", handle_delete_ssh_keys },
	{ B(GET_SSH_PUBLIC_KEYS), "get_ssh_public_keys", handle_get_ssh_public_keys },
	{ B(VAULT_STATUS_REQUEST), "vault_status", handle_vault_status },
	{ B(ROTATE_KEY), "rotate_key", handle_rotate_key },
};

static const struct handler *handler_find(const struct handler *t, size_t n,
					  Tether__Envelope__BodyCase kind)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].kind == kind)
			return &t[i];
	return NULL;
}

/* ---- supervisor handlers ---- */

static int handle_new_peer(struct vault_server *s, const Tether__Envelope *env, int fd)
{
	(void)env;
	if (fd < 0) {
		log_warn("new_peer_channel_without_fd", NULL);
		return H_OK;
	}
	catalog_lost(s, "replaced");
	ipc_chan_init(&s->cat, fd, IPC_CATALOG_VAULT, IPC_END_B);
	s->cat_generation++;
	log_info("catalog_channel_open", "generation=%" PRIu64, s->cat_generation);
	rotation_report(s, 1);  /* the new catalog learns the latest state */
	return H_OK;
}

static int handle_health(struct vault_server *s, const Tether__Envelope *env, int fd)
{
	(void)s;
	(void)env;
	(void)fd;
	log_debug("health", NULL);
	return H_OK;
}

/* Grant: the record is durable before tetherd hears "ok" and execs the
 * validator, so no release can happen that the log does not authorize. */
static int handle_grant(struct vault_server *s, const Tether__Envelope *env, int fd)
{
	struct err e = { 0 };
	int rc = H_OK;

	if (vault_grant_add(s->v, &s->grants, env->grant, fd, vault_grant_now_ms(), &e) == 0) {
		if (vault_sync(s->v, &e) < 0) {
			vault_grant_remove(s->v, &s->grants, env->grant->job_id, "sync_failed");
			err_set(&e, "XX000", "internal error: vault: could not make the grant durable");
			rc = H_FATAL;
		} else {
			log_info("grant", "job=%" PRIu64 " connection=u%" PRIu64 " secrets=%zu"
				 " ssh_keys=%zu destinations=%zu", env->grant->job_id,
				 env->grant->connection_id, env->grant->n_secrets,
				 env->grant->n_ssh_keys, env->grant->n_destinations);
		}
	} else {
		log_warn("grant_refused", "job=%" PRIu64 " sqlstate=%s", env->grant->job_id,
			 e.sqlstate);
	}
	if (ipc_send_reply(&s->sup, env->request_id, &e) < 0)
		log_warn("grant_reply_failed", "job=%" PRIu64 " errno=%d", env->grant->job_id, errno);
	return rc;
}

static int handle_revoke(struct vault_server *s, const Tether__Envelope *env, int fd)
{
	struct err e = { 0 };

	(void)fd;
	vault_grant_remove(s->v, &s->grants, env->revoke->job_id, "revoked");
	return vault_sync(s->v, &e) < 0 ? H_FATAL : H_OK;
}

/* tetherd reports a child's start or exit: audited and made durable now
 * (tetherd does not wait for an answer). */
static int handle_sup_audit(struct vault_server *s, const Tether__Envelope *env, int fd)
{
	const Tether__AuditEvent *m = env->audit_event;
	struct err e = { 0 };
	struct audit_field f[] = {
		{ "role", m->role && *m->role ? m->role : NULL },
		{ "detail", m->detail && *m->detail ? m->detail : NULL },
	};

	(void)fd;
	if (vault_audit(s->v, m->event && !strncmp(m->event, "child_", 6) ? m->event : "child_event",
			f, 2, &e) < 0 || vault_sync(s->v, &e) < 0) {
		log_error("audit_failed", "event=child");
		return H_FATAL;
	}
	return H_OK;
}

static const struct {
	Tether__Envelope__BodyCase kind;
	int (*fn)(struct vault_server *s, const Tether__Envelope *env, int fd);
} supervisor_handlers[] = {
	{ B(AUDIT_EVENT), handle_sup_audit },
	{ B(NEW_PEER_CHANNEL), handle_new_peer },
	{ B(HEALTH), handle_health },
	{ B(GRANT), handle_grant },
	{ B(REVOKE), handle_revoke },
};
#undef B

/* One message from tetherd. Returns 1 to keep serving, 0 when tetherd is
 * gone, H_FATAL on a broken supervisor. */
static int serve_supervisor(struct vault_server *s)
{
	Tether__Envelope *env;
	int fd = -1, rc = H_OK;

	switch (ipc_recv(&s->sup, &env, &fd)) {
	case IPC_RECV_AGAIN:
		return 1;
	case IPC_RECV_CLOSED:
		log_info("supervisor_gone", NULL);
		return 0;
	case IPC_RECV_VIOLATION:
		/* tetherd is trusted: a bad packet from it is a broken invariant. */
		audit_denied(s, ipc_channel_name(IPC_SUP_VAULT), "violation");
		return H_FATAL;
	case IPC_RECV_MESSAGE:
		break;
	}
	for (size_t i = 0; i < sizeof(supervisor_handlers) / sizeof(supervisor_handlers[0]); i++)
		if (supervisor_handlers[i].kind == env->body_case) {
			rc = supervisor_handlers[i].fn(s, env, fd);
			fd = -1;
			break;
		}
	if (fd >= 0)
		close(fd);
	ipc_envelope_free(env);
	return rc == H_OK ? 1 : rc;
}

static int cat_readable(const struct vault_server *s)
{
	struct pollfd p = { .fd = s->cat.fd, .events = POLLIN };

	/* Any event counts: ipc_recv turns HUP, ERR and NVAL into "closed". */
	return s->cat.fd >= 0 && poll(&p, 1, 0) > 0 && p.revents != 0;
}

/* Applies every packet the catalog has queued (up to a batch). */
static int serve_catalog_batch(struct vault_server *s)
{
	for (int n = 0; n < VAULT_BATCH_MAX && cat_readable(s); n++) {
		Tether__Envelope *env;
		const struct handler *h;
		int fd = -1, rc;

		switch (ipc_recv(&s->cat, &env, &fd)) {
		case IPC_RECV_AGAIN:
			return H_OK;
		case IPC_RECV_CLOSED:
			catalog_lost(s, "closed");
			return H_OK;
		case IPC_RECV_VIOLATION:
			catalog_lost(s, "violation");
			return audit_denied(s, ipc_channel_name(IPC_CATALOG_VAULT),
					    "violation");
		case IPC_RECV_MESSAGE:
			break;
		}
		if (fd >= 0)
			close(fd);      /* ipc_recv only passes fds with NewPeerChannel */
		h = handler_find(catalog_handlers,
				 sizeof(catalog_handlers) / sizeof(catalog_handlers[0]),
				 env->body_case);
		rc = h ? h->fn(s, env) : H_VIOLATION;
		ipc_envelope_free(env);
		if (rc == H_VIOLATION) {
			catalog_lost(s, "violation");
			return audit_denied(s, ipc_channel_name(IPC_CATALOG_VAULT),
					    h ? h->name : "unhandled_kind");
		}
		if (rc == H_FATAL || vault_broken(s->v))
			return H_FATAL;
	}
	return H_OK;
}

/* ---- replies ---- */

static int send_pending(struct vault_server *s, const struct vault_pending *p)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	env.request_id = p->request_id;

	if (p->kind == PEND_REPLY)
		return ipc_send_reply(&s->cat, p->request_id, &p->err);
	if (p->kind == PEND_META_PAGE) {
		Tether__SecretMetaPage page = TETHER__SECRET_META_PAGE__INIT;
		Tether__SecretMeta *items = calloc(p->nitems + 1, sizeof(*items));
		Tether__SecretMeta **ptrs = calloc(p->nitems + 1, sizeof(*ptrs));
		int rc = -1;

		if (items && ptrs) {
			for (size_t i = 0; i < p->nitems; i++) {
				tether__secret_meta__init(&items[i]);
				items[i].object_id = p->items[i].object_id;
				items[i].version = p->items[i].version;
				items[i].key_term = p->items[i].term;
				items[i].size = p->items[i].size;
				ptrs[i] = &items[i];
			}
			page.n_items = p->nitems;
			page.items = ptrs;
			page.more = p->more;
			env.body_case = TETHER__ENVELOPE__BODY_SECRET_META_PAGE;
			env.secret_meta_page = &page;
			rc = ipc_send(&s->cat, &env, -1);
		}
		free(items);
		free(ptrs);
		return rc;
	}
	if (p->kind == PEND_SSH_KEYS) {
		Tether__SshPublicKeys k = TETHER__SSH_PUBLIC_KEYS__INIT;
		char line1[VAULT_SSH_LINE_MAX], line2[VAULT_SSH_LINE_MAX];

		vault_ssh_authorized_key(p->keys.pk[0], line1);
		vault_ssh_authorized_key(p->keys.pk[1], line2);
		k.object_id = p->keys.object_id;
		k.public_key_1 = line1;
		k.public_key_2 = line2;
		env.body_case = TETHER__ENVELOPE__BODY_SSH_PUBLIC_KEYS;
		env.ssh_public_keys = &k;
		return ipc_send(&s->cat, &env, -1);
	}
	Tether__ReconcileResult rr = TETHER__RECONCILE_RESULT__INIT;
	rr.ssh_keys_shredded = p->srr.shredded;
	rr.missing_ssh_keys = p->srr.missing;
	rr.n_missing_ssh_keys = p->srr.nmissing > VAULT_MISSING_REPORT_MAX ?
				VAULT_MISSING_REPORT_MAX : p->srr.nmissing;
	rr.shredded = p->rr.shredded;
	rr.missing = p->rr.missing;
	rr.n_missing = p->rr.nmissing > VAULT_MISSING_REPORT_MAX ?
		       VAULT_MISSING_REPORT_MAX : p->rr.nmissing;
	rr.max_object_id = p->rr.max_object_id;
	rr.max_version = p->rr.max_version;
	env.body_case = TETHER__ENVELOPE__BODY_RECONCILE_RESULT;
	env.reconcile_result = &rr;
	return ipc_send(&s->cat, &env, -1);
}

/* The group commit: durable first, then every reply of the batch. */
static int commit_batch(struct vault_server *s)
{
	struct err e = { 0 };
	int rc = H_OK;

	if (vault_sync(s->v, &e) < 0) {
		log_error("group_commit_failed", "sqlstate=%s", e.sqlstate);
		/* Nothing of this batch may be acknowledged. */
		for (size_t i = 0; i < s->npending; i++) {
			pending_release(&s->pending[i]);
			s->pending[i].kind = PEND_REPLY;
			err_set(&s->pending[i].err, "XX000",
				"internal error: vault: could not make the change durable");
		}
		rc = H_FATAL;
	}
	for (size_t i = 0; i < s->npending && s->cat.fd >= 0; i++)
		if (send_pending(s, &s->pending[i]) < 0) {
			catalog_lost(s, "send_failed");
			break;
		}
	pending_clear(s);
	return rc;
}

/* ---- validator channels ---- */

enum vpend_kind {
	VP_VALUE,       /* CredentialValue chunks */
	VP_SIG,         /* SshSignature */
	VP_ERROR,       /* Reply{ok=false}: refused, channel stays */
	VP_DENIED,      /* Reply{ok=false}, close, KillValidator */
	VP_CLOSED,      /* the validator hung up: forget the grant */
};

struct vault_vpending {
	enum vpend_kind kind;
	uint64_t job_id, request_id, secret_id;
	unsigned char *value;           /* vault_secbuf_alloc'd (VP_VALUE) */
	size_t len;
	unsigned char sig[VAULT_SSH_SIG_BYTES];
	struct err err;
	char reason[64];
};

/* Most packets taken from one validator per wake-up. */
#define VAULT_VALIDATOR_BATCH 8
/* Userauth signing input is ~150 bytes; anything near this is not one. */
#define VAULT_SIGN_DATA_MAX 4096

static struct vault_vpending *vpending_add(struct vault_server *s, enum vpend_kind kind,
					   uint64_t job_id, uint64_t request_id)
{
	struct vault_vpending *p;

	if (s->nvpending == s->capvpending) {
		size_t cap = s->capvpending ? s->capvpending * 2 : 16;
		p = realloc(s->vpending, cap * sizeof(*p));
		if (!p)
			return NULL;
		s->vpending = p;
		s->capvpending = cap;
	}
	p = &s->vpending[s->nvpending++];
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->job_id = job_id;
	p->request_id = request_id;
	return p;
}

static void vpending_clear(struct vault_server *s)
{
	for (size_t i = 0; i < s->nvpending; i++) {
		vault_secbuf_free(s->vpending[i].value);
		sodium_memzero(s->vpending[i].sig, sizeof(s->vpending[i].sig));
	}
	s->nvpending = 0;
}

static int grant_readable(const struct vault_grant *g)
{
	struct pollfd p = { .fd = g->chan.fd, .events = POLLIN };

	return g->chan.fd >= 0 && poll(&p, 1, 0) > 0 && p.revents != 0;
}

/* Applies one request; returns 0 to go on reading, 1 to stop (denied,
 * closed), H_FATAL when the vault cannot go on. */
static int serve_validator_one(struct vault_server *s, struct vault_grant *g)
{
	Tether__Envelope *env;
	struct vault_vpending *p;
	enum vault_grant_rc rc;
	struct err e = { 0 };
	int fd = -1;
	uint64_t now = vault_grant_now_ms();

	switch (ipc_recv(&g->chan, &env, &fd)) {
	case IPC_RECV_AGAIN:
		return 1;
	case IPC_RECV_CLOSED:
		return vpending_add(s, VP_CLOSED, g->job_id, 0) ? 1 : H_FATAL;
	case IPC_RECV_VIOLATION:
		if (vault_grant_audit_violation(s->v, g, "malformed_or_unpermitted_packet") < 0)
			log_error("audit_failed", "event=request_denied job=%" PRIu64, g->job_id);
		p = vpending_add(s, VP_DENIED, g->job_id, 0);
		if (!p)
			return H_FATAL;
		err_set(&p->err, "08P01", "vault: protocol violation");
		snprintf(p->reason, sizeof(p->reason), "violation");
		return 1;
	case IPC_RECV_MESSAGE:
		break;
	}
	if (fd >= 0)
		close(fd);
	p = vpending_add(s, VP_ERROR, g->job_id, env->request_id);
	if (!p) {
		ipc_envelope_free(env);
		return H_FATAL;
	}
	if (env->body_case == TETHER__ENVELOPE__BODY_GET_CREDENTIAL) {
		const Tether__GetCredential *m = env->get_credential;

		p->secret_id = m->secret_id;
		rc = vault_grant_release(s->v, g, m->secret_id, m->destination, now, &p->value,
					 &p->len, &e);
		if (rc == VAULT_GRANT_OK)
			p->kind = VP_VALUE;
		snprintf(p->reason, sizeof(p->reason), "get_credential");
	} else {
		const Tether__SshSign *m = env->ssh_sign;

		if (m->data.len > VAULT_SIGN_DATA_MAX)
			rc = vault_grant_sign(s->v, g, m->connection_id, m->slot, (const unsigned char *)"",
					      0, m->destination, now, p->sig, &e);
		else
			rc = vault_grant_sign(s->v, g, m->connection_id, m->slot, m->data.data,
					      m->data.len, m->destination, now, p->sig, &e);
		if (rc == VAULT_GRANT_OK)
			p->kind = VP_SIG;
		snprintf(p->reason, sizeof(p->reason), "ssh_sign");
	}
	ipc_envelope_free(env);
	if (rc == VAULT_GRANT_DENIED)
		p->kind = VP_DENIED;
	if (rc != VAULT_GRANT_OK)
		p->err = e;
	if (vault_broken(s->v))
		return H_FATAL;
	return rc == VAULT_GRANT_DENIED ? 1 : 0;
}

static int serve_validator(struct vault_server *s, uint64_t job_id)
{
	for (int n = 0; n < VAULT_VALIDATOR_BATCH; n++) {
		struct vault_grant *g = vault_grant_find(&s->grants, job_id);
		int rc;

		if (!g || !grant_readable(g))
			return H_OK;
		rc = serve_validator_one(s, g);
		if (rc == H_FATAL)
			return H_FATAL;
		if (rc)
			return H_OK;
	}
	return H_OK;
}

static int send_credential(struct vault_grant *g, const struct vault_vpending *p)
{
	size_t off = 0;

	do {
		Tether__Envelope env = TETHER__ENVELOPE__INIT;
		Tether__CredentialValue cv = TETHER__CREDENTIAL_VALUE__INIT;
		size_t n = p->len - off > IPC_CHUNK_SIZE ? IPC_CHUNK_SIZE : p->len - off;

		cv.secret_id = p->secret_id;
		cv.total_size = (uint32_t)p->len;
		cv.offset = (uint32_t)off;
		cv.chunk.data = p->value + off;
		cv.chunk.len = n;
		cv.last = off + n == p->len;
		env.request_id = p->request_id;
		env.body_case = TETHER__ENVELOPE__BODY_CREDENTIAL_VALUE;
		env.credential_value = &cv;
		if (ipc_send(&g->chan, &env, -1) < 0)
			return -1;
		off += n;
	} while (off < p->len);
	return 0;
}

static void kill_validator(struct vault_server *s, uint64_t job_id, const char *reason)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__KillValidator k = TETHER__KILL_VALIDATOR__INIT;

	k.job_id = job_id;
	k.reason = (char *)reason;
	env.body_case = TETHER__ENVELOPE__BODY_KILL_VALIDATOR;
	env.kill_validator = &k;
	if (ipc_send(&s->sup, &env, -1) < 0)
		log_warn("kill_validator_send_failed", "job=%" PRIu64 " errno=%d", job_id, errno);
}

/* The validators' group commit: every release and signature of this
 * round is in the durable log before the first value or signature leaves. */
static int commit_validators(struct vault_server *s)
{
	struct err e = { 0 };
	int rc = H_OK;

	if (s->nvpending == 0)
		return H_OK;
	if (vault_sync(s->v, &e) < 0) {
		log_error("group_commit_failed", "sqlstate=%s scope=validators", e.sqlstate);
		for (size_t i = 0; i < s->nvpending; i++) {
			struct vault_vpending *p = &s->vpending[i];

			vault_secbuf_free(p->value);
			p->value = NULL;
			if (p->kind == VP_VALUE || p->kind == VP_SIG) {
				p->kind = VP_ERROR;
				err_set(&p->err, "XX000",
					"internal error: vault: could not make the release durable");
			}
		}
		rc = H_FATAL;
	}
	for (size_t i = 0; i < s->nvpending; i++) {
		struct vault_vpending *p = &s->vpending[i];
		struct vault_grant *g = vault_grant_find(&s->grants, p->job_id);
		int sent = 0;

		if (!g || g->chan.fd < 0)
			continue;
		switch (p->kind) {
		case VP_VALUE:
			sent = send_credential(g, p);
			break;
		case VP_SIG: {
			Tether__Envelope env = TETHER__ENVELOPE__INIT;
			Tether__SshSignature sig = TETHER__SSH_SIGNATURE__INIT;

			sig.sig.data = p->sig;
			sig.sig.len = VAULT_SSH_SIG_BYTES;
			env.request_id = p->request_id;
			env.body_case = TETHER__ENVELOPE__BODY_SSH_SIGNATURE;
			env.ssh_signature = &sig;
			sent = ipc_send(&g->chan, &env, -1);
			break;
		}
		case VP_ERROR:
			sent = ipc_send_reply(&g->chan, p->request_id, &p->err);
			break;
		case VP_DENIED:
			(void)ipc_send_reply(&g->chan, p->request_id, &p->err);
			vault_grant_remove(s->v, &s->grants, p->job_id, "denied");
			kill_validator(s, p->job_id, p->reason);
			continue;
		case VP_CLOSED:
			vault_grant_remove(s->v, &s->grants, p->job_id, "closed");
			continue;
		}
		if (sent < 0) {
			/* It does not read (SO_SNDTIMEO, set by tetherd): cut it off. */
			log_warn("validator_send_failed", "job=%" PRIu64 " errno=%d", p->job_id, errno);
			vault_grant_remove(s->v, &s->grants, p->job_id, "send_failed");
			kill_validator(s, p->job_id, "not_reading");
		}
	}
	vpending_clear(s);
	/* grant_end records of this round; a failure here is fatal too. */
	if (vault_sync(s->v, &e) < 0)
		rc = H_FATAL;
	return rc;
}

/* Grants past their deadline are gone (tetherd kills the validator at the
 * same moment). */
static void expire_grants(struct vault_server *s, uint64_t now)
{
	for (size_t i = 0; i < VAULT_MAX_GRANTS; i++) {
		struct vault_grant *g = s->grants.g[i];

		if (g && g->deadline_ms <= now)
			vault_grant_remove(s->v, &s->grants, g->job_id, "expired");
	}
}

/* ---- loop ---- */

void vault_server_init(struct vault_server *s, struct vault *v, int sup_fd,
		       int cat_fd)
{
	memset(s, 0, sizeof(*s));
	s->v = v;
	ipc_chan_init(&s->sup, sup_fd, IPC_SUP_VAULT, IPC_END_B);
	ipc_chan_init(&s->cat, cat_fd, IPC_CATALOG_VAULT, IPC_END_B);
	s->cat_generation = cat_fd >= 0 ? 1 : 0;
}

static void announce(struct vault_server *s)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__Health h = TETHER__HEALTH__INIT;

	h.role = "vault";
	h.pid = (uint64_t)getpid();
	env.body_case = TETHER__ENVELOPE__BODY_HEALTH;
	env.health = &h;
	if (ipc_send(&s->sup, &env, -1) < 0)
		log_warn("health_send_failed", "errno=%d", errno);
}

int vault_server_run(struct vault_server *s, const sigset_t *poll_mask,
		     volatile sig_atomic_t *stop)
{
	announce(s);
	while (!*stop) {
		struct pollfd pfd[2 + VAULT_MAX_GRANTS] = {
			{ .fd = s->sup.fd, .events = POLLIN },
			{ .fd = s->cat.fd, .events = POLLIN },
		};
		uint64_t jobs[VAULT_MAX_GRANTS];
		nfds_t n = 2, ng = 0;
		uint64_t now = vault_grant_now_ms(), next;
		struct timespec ts, *tsp = NULL;
		int rc;

		expire_grants(s, now);
		/* A negative fd is ignored by poll: a closed catalog channel
		 * keeps its slot. */
		for (size_t i = 0; i < VAULT_MAX_GRANTS; i++)
			if (s->grants.g[i] && s->grants.g[i]->chan.fd >= 0) {
				pfd[n++] = (struct pollfd){ .fd = s->grants.g[i]->chan.fd,
							    .events = POLLIN };
				jobs[ng++] = s->grants.g[i]->job_id;
			}
		next = vault_grants_next_deadline(&s->grants);
		if (s->v->rot.active) {
			/* Re-encryption pending: poll without waiting. */
			ts.tv_sec = 0;
			ts.tv_nsec = 0;
			tsp = &ts;
		} else if (next != UINT64_MAX) {
			uint64_t ms = next > now ? next - now : 0;
			ts.tv_sec = (time_t)(ms / 1000);
			ts.tv_nsec = (long)(ms % 1000) * 1000000L;
			tsp = &ts;
		}
		if (ppoll(pfd, n, tsp, poll_mask) < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll_failed", "errno=%d", errno);
			return -1;
		}
		if (pfd[0].revents) {
			rc = serve_supervisor(s);
			if (rc == 0) {
				commit_batch(s);
				return 0;
			}
			if (rc == H_FATAL) {
				commit_batch(s);
				return -1;
			}
			continue;   /* the catalog fd may have been replaced */
		}
		if (s->cat.fd >= 0 && pfd[1].revents) {
			rc = serve_catalog_batch(s);
			if (commit_batch(s) != H_OK || rc == H_FATAL)
				return -1;
		}
		rc = H_OK;
		for (nfds_t i = 0; i < ng && rc != H_FATAL; i++)
			if (pfd[2 + i].revents)
				rc = serve_validator(s, jobs[i]);
		if (commit_validators(s) != H_OK || rc == H_FATAL)
			return -1;
		/* One bounded step of a data-key rotation between request
		 * batches, made durable like one. */
		if (s->v->rot.active) {
			struct err e = { 0 };
			if (vault_rotate_step(s->v, VAULT_ROTATE_BATCH, &e) < 0 &&
			    vault_broken(s->v))
				return -1;
			if (commit_batch(s) != H_OK)
				return -1;
		}
		rotation_report(s, 0);
	}
	log_info("vault_stopping", "reason=signal");
	return commit_batch(s) == H_OK ? 0 : -1;
}

void vault_server_free(struct vault_server *s)
{
	vpending_clear(s);
	free(s->vpending);
	vault_grants_free(&s->grants);
	catalog_reset(s);
	free(s->pending);
	free(s->keep);
	free(s->ssh_keep);
	if (s->cat.fd >= 0)
		close(s->cat.fd);
	s->cat.fd = -1;
}
