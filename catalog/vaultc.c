/* Catalog -> vault requests. Envelopes are packed at once into a queue and
 * written without blocking, so a slow vault never stalls the pgwire loop;
 * the vault handles packets in order, so requests queued behind the
 * reconciliation batches are answered after it. */
#include "vaultc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

struct cat_vault_pkt {
	struct cat_vault_pkt *next;
	size_t len;
	uint8_t data[];
};

/* SecretMeta entries per ReconcileBatch: ~24 bytes each, far below 64 KiB. */
#define RECONCILE_BATCH 2000
/* SSH key owners per batch (<= 10 bytes each): with a full batch of items
 * still below 64 KiB. */
#define RECONCILE_SSH_BATCH 1000

void cat_vault_init(struct cat_vault *v)
{
	memset(v, 0, sizeof(*v));
	ipc_chan_init(&v->chan, -1, IPC_CATALOG_VAULT, IPC_END_A);
	v->state = CAT_VAULT_DOWN;
	v->next_request_id = 1;
}

static void pkt_free(struct cat_vault_pkt *p)
{
	explicit_bzero(p->data, p->len);
	free(p);
}

void cat_vault_close(struct cat_vault *v)
{
	while (v->head) {
		struct cat_vault_pkt *p = v->head;
		v->head = p->next;
		pkt_free(p);
	}
	v->tail = NULL;
	v->queued = 0;
	memset(v->ssh_stash, 0, sizeof(v->ssh_stash));
	if (v->chan.fd >= 0)
		close(v->chan.fd);
	v->chan.fd = -1;
	v->state = CAT_VAULT_DOWN;
}

static int enqueue(struct cat_vault *v, const Tether__Envelope *env)
{
	size_t len = tether__envelope__get_packed_size(env);
	struct cat_vault_pkt *p;

	if (v->chan.fd < 0) {
		errno = EPIPE;
		return -1;
	}
	if (len > IPC_MAX_PACKET) {
		errno = EMSGSIZE;
		return -1;
	}
	p = malloc(sizeof(*p) + len);
	if (!p)
		return -1;
	p->next = NULL;
	p->len = tether__envelope__pack(env, p->data);
	if (v->tail)
		v->tail->next = p;
	else
		v->head = p;
	v->tail = p;
	v->queued++;
	return cat_vault_flush(v);
}

int cat_vault_flush(struct cat_vault *v)
{
	while (v->head) {
		struct cat_vault_pkt *p = v->head;
		ssize_t n = send(v->chan.fd, p->data, p->len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n != (ssize_t)p->len)
			return -1;
		v->head = p->next;
		if (!v->head)
			v->tail = NULL;
		v->queued--;
		pkt_free(p);
	}
	return 0;
}

int cat_vault_wants_write(const struct cat_vault *v)
{
	return v->head != NULL;
}

struct reconcile_ctx {
	struct cat_vault *v;
	Tether__SecretMeta *metas;
	Tether__SecretMeta **ptrs;
	size_t n;
	uint64_t owners[RECONCILE_SSH_BATCH];   /* SSH key owners */
	size_t nowners;
};

static int send_batch(struct reconcile_ctx *rc, int last)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__ReconcileBatch batch = TETHER__RECONCILE_BATCH__INIT;

	env.request_id = rc->v->reconcile_request_id;
	env.body_case = TETHER__ENVELOPE__BODY_RECONCILE_BATCH;
	env.reconcile_batch = &batch;
	batch.n_items = rc->n;
	batch.items = rc->ptrs;
	batch.n_ssh_key_owners = rc->nowners;
	batch.ssh_key_owners = rc->owners;
	/* Only a complete listing may make the vault shred SSH keys: the flag
	 * rides on the last batch, sent after both lists succeeded. */
	batch.ssh_keys_listed = last;
	batch.last = last;
	rc->n = 0;
	rc->nowners = 0;
	return enqueue(rc->v, &env);
}

static int reconcile_ssh_owner(void *arg, uint64_t id)
{
	struct reconcile_ctx *rc = arg;

	rc->owners[rc->nowners++] = id;
	if (rc->nowners == RECONCILE_SSH_BATCH)
		return send_batch(rc, 0);
	return 0;
}

static int reconcile_one(void *arg, uint64_t id, uint64_t version)
{
	struct reconcile_ctx *rc = arg;
	Tether__SecretMeta *m = &rc->metas[rc->n];

	tether__secret_meta__init(m);
	m->object_id = id;
	m->version = version;
	rc->ptrs[rc->n] = m;
	if (++rc->n == RECONCILE_BATCH)
		return send_batch(rc, 0);
	return 0;
}

int cat_vault_attach(struct cat_vault *v, int fd, struct cat_store *store,
		     struct err *e)
{
	/* Heap: the owner array makes it too big for the stack. */
	struct reconcile_ctx *rc = calloc(1, sizeof(*rc));
	int flags;

	cat_vault_close(v);
	if (!rc) {
		close(fd);
		return err_set(e, "53200", "out of memory");
	}
	rc->v = v;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		close(fd);
		free(rc);
		return err_set(e, "XX000", "internal error: vault: cannot set up channel: %s",
			       strerror(errno));
	}
	v->chan.fd = fd;
	v->state = CAT_VAULT_RECONCILING;
	v->reconcile_request_id = v->next_request_id++;
	rc->metas = calloc(RECONCILE_BATCH, sizeof(*rc->metas));
	rc->ptrs = calloc(RECONCILE_BATCH, sizeof(*rc->ptrs));
	if (!rc->metas || !rc->ptrs) {
		free(rc->metas);
		free(rc->ptrs);
		free(rc);
		cat_vault_close(v);
		return err_set(e, "53200", "out of memory");
	}
	if (cat_store_each_secret(store, reconcile_one, rc, e) < 0 ||
	    cat_store_each_ssh_key_owner(store, reconcile_ssh_owner, rc, e) < 0 ||
	    send_batch(rc, 1) < 0) {
		free(rc->metas);
		free(rc->ptrs);
		free(rc);
		cat_vault_close(v);
		if (!err_is_set(e))
			err_set(e, "XX000", "internal error: vault: reconcile failed: %s",
				strerror(errno));
		return -1;
	}
	free(rc->metas);
	free(rc->ptrs);
	free(rc);
	log_info("vault_reconcile_sent", "request_id=%" PRIu64, v->reconcile_request_id);
	return 0;
}

void cat_vault_reconciled(struct cat_vault *v, const Tether__ReconcileResult *r)
{
	for (size_t i = 0; i < r->n_missing; i++)
		log_error("secret_missing_ciphertext",
			  "id=u%" PRIu64 " msg=\"catalog secret has no ciphertext in the vault\"",
			  r->missing[i]);
	if (r->shredded)
		log_warn("vault_orphans_shredded", "count=%u", r->shredded);
	for (size_t i = 0; i < r->n_missing_ssh_keys; i++)
		log_error("ssh_keys_missing",
			  "id=u%" PRIu64 " msg=\"SSH connection has no key pairs in the vault\"",
			  r->missing_ssh_keys[i]);
	if (r->ssh_keys_shredded)
		log_warn("vault_orphan_ssh_keys_shredded", "count=%u", r->ssh_keys_shredded);
	if (r->max_object_id > v->max_object_id)
		v->max_object_id = r->max_object_id;
	if (r->max_version > v->max_version)
		v->max_version = r->max_version;
	v->state = CAT_VAULT_READY;
	log_info("vault_ready", "max_object_id=%" PRIu64 " max_version=%" PRIu64
		 " missing=%zu shredded=%u", r->max_object_id, r->max_version,
		 r->n_missing, r->shredded);
}

int cat_vault_put_secret(struct cat_vault *v, uint64_t id, uint64_t version,
			 const uint8_t *value, size_t len, const char *name,
			 const char *role, int replace, uint64_t *request_id)
{
	uint64_t rid = v->next_request_id++;
	size_t off = 0;

	do {
		Tether__Envelope env = TETHER__ENVELOPE__INIT;
		Tether__PutSecret put = TETHER__PUT_SECRET__INIT;
		size_t n = len - off < IPC_CHUNK_SIZE ? len - off : IPC_CHUNK_SIZE;

		env.request_id = rid;
		env.body_case = TETHER__ENVELOPE__BODY_PUT_SECRET;
		env.put_secret = &put;
		put.object_id = id;
		put.version = version;
		put.total_size = (uint32_t)len;
		put.offset = (uint32_t)off;
		put.chunk.data = (uint8_t *)(value + off);
		put.chunk.len = n;
		put.last = off + n == len;
		put.object_name = (char *)name;
		put.role = (char *)role;
		put.replace = replace;
		if (enqueue(v, &env) < 0)
			return -1;
		off += n;
	} while (off < len);
	*request_id = rid;
	return 0;
}

int cat_vault_delete_secret(struct cat_vault *v, uint64_t id, const char *name,
			    const char *role, uint64_t *request_id)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__DeleteSecret del = TETHER__DELETE_SECRET__INIT;

	env.request_id = v->next_request_id++;
	env.body_case = TETHER__ENVELOPE__BODY_DELETE_SECRET;
	env.delete_secret = &del;
	del.object_id = id;
	del.object_name = (char *)name;
	del.role = (char *)role;
	if (request_id)
		*request_id = env.request_id;
	return enqueue(v, &env);
}

int cat_vault_commit_secret(struct cat_vault *v, uint64_t id, uint64_t version)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__CommitSecret c = TETHER__COMMIT_SECRET__INIT;

	env.request_id = v->next_request_id++;
	env.body_case = TETHER__ENVELOPE__BODY_COMMIT_SECRET;
	env.commit_secret = &c;
	c.object_id = id;
	c.version = version;
	return enqueue(v, &env);
}

int cat_vault_rotate_key(struct cat_vault *v, const char *kind, const char *role,
			 uint64_t *request_id)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__RotateKey k = TETHER__ROTATE_KEY__INIT;

	env.request_id = v->next_request_id++;
	env.body_case = TETHER__ENVELOPE__BODY_ROTATE_KEY;
	env.rotate_key = &k;
	k.kind = (char *)kind;
	k.role = (char *)role;
	if (request_id)
		*request_id = env.request_id;
	return enqueue(v, &env);
}

int cat_vault_audit(struct cat_vault *v, const char *event, const char *role,
		    const char *object_id, const char *detail)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__AuditEvent a = TETHER__AUDIT_EVENT__INIT;

	env.request_id = v->next_request_id++;
	env.body_case = TETHER__ENVELOPE__BODY_AUDIT_EVENT;
	env.audit_event = &a;
	a.event = (char *)event;
	a.role = (char *)role;
	a.object_id = (char *)object_id;
	a.detail = (char *)detail;
	return enqueue(v, &env);
}

int cat_vault_request_status(struct cat_vault *v, uint64_t *request_id)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__VaultStatusRequest r = TETHER__VAULT_STATUS_REQUEST__INIT;

	env.request_id = v->next_request_id++;
	env.body_case = TETHER__ENVELOPE__BODY_VAULT_STATUS_REQUEST;
	env.vault_status_request = &r;
	if (request_id)
		*request_id = env.request_id;
	return enqueue(v, &env);
}

/* ---- SSH key pairs ---- */

enum ssh_op { SSH_GENERATE, SSH_ROTATE, SSH_DELETE };

static int ssh_request(struct cat_vault *v, enum ssh_op op, uint64_t id,
		       const char *name, const char *role, uint64_t *request_id)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__GenerateSshKeys g = TETHER__GENERATE_SSH_KEYS__INIT;
	Tether__RotateSshKeys r = TETHER__ROTATE_SSH_KEYS__INIT;
	Tether__DeleteSshKeys d = TETHER__DELETE_SSH_KEYS__INIT;

	env.request_id = v->next_request_id++;
	g.object_id = r.object_id = d.object_id = id;
	g.object_name = r.object_name = d.object_name = (char *)name;
	g.role = r.role = d.role = (char *)role;
	switch (op) {
	case SSH_GENERATE:
		env.body_case = TETHER__ENVELOPE__BODY_GENERATE_SSH_KEYS;
		env.generate_ssh_keys = &g;
		break;
	case SSH_ROTATE:
		env.body_case = TETHER__ENVELOPE__BODY_ROTATE_SSH_KEYS;
		env.rotate_ssh_keys = &r;
		break;
	case SSH_DELETE:
		env.body_case = TETHER__ENVELOPE__BODY_DELETE_SSH_KEYS;
		env.delete_ssh_keys = &d;
		break;
	}
	if (request_id)
		*request_id = env.request_id;
	return enqueue(v, &env);
}

int cat_vault_generate_ssh_keys(struct cat_vault *v, uint64_t id, const char *name,
				const char *role, uint64_t *request_id)
{
	return ssh_request(v, SSH_GENERATE, id, name, role, request_id);
}

int cat_vault_rotate_ssh_keys(struct cat_vault *v, uint64_t id, const char *name,
			      const char *role, uint64_t *request_id)
{
	return ssh_request(v, SSH_ROTATE, id, name, role, request_id);
}

int cat_vault_delete_ssh_keys(struct cat_vault *v, uint64_t id, const char *name,
			      const char *role, uint64_t *request_id)
{
	return ssh_request(v, SSH_DELETE, id, name, role, request_id);
}

int cat_vault_get_ssh_public_keys(struct cat_vault *v, uint64_t id,
				  uint64_t *request_id)
{
	Tether__Envelope env = TETHER__ENVELOPE__INIT;
	Tether__GetSshPublicKeys q = TETHER__GET_SSH_PUBLIC_KEYS__INIT;

	env.request_id = v->next_request_id++;
	env.body_case = TETHER__ENVELOPE__BODY_GET_SSH_PUBLIC_KEYS;
	env.get_ssh_public_keys = &q;
	q.object_id = id;
	if (request_id)
		*request_id = env.request_id;
	return enqueue(v, &env);
}

/* "ssh-ed25519 <68 base64 chars of a 51-byte blob> <comment>": what the
 * vault sends; anything else is not shown to users. */
static int ssh_line_ok(const char *l)
{
	static const char prefix[] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI";
	size_t n = l ? strlen(l) : 0, i;

	if (n >= CAT_VAULT_SSH_LINE_MAX || strncmp(l, prefix, sizeof(prefix) - 1) != 0)
		return 0;
	for (i = 12; i < n && l[i] != ' '; i++)
		if (!((l[i] >= 'A' && l[i] <= 'Z') || (l[i] >= 'a' && l[i] <= 'z') ||
		      (l[i] >= '0' && l[i] <= '9') || l[i] == '+' || l[i] == '/' || l[i] == '='))
			return 0;
	if (i - 12 != 68)
		return 0;
	for (; i < n; i++)
		if (l[i] < 0x20 || l[i] > 0x7e)
			return 0;
	return 1;
}

int cat_vault_ssh_keys_arrived(struct cat_vault *v, uint64_t request_id,
			       const Tether__SshPublicKeys *k)
{
	struct cat_vault_ssh_keys *slot = NULL;

	if (!ssh_line_ok(k->public_key_1) || !ssh_line_ok(k->public_key_2)) {
		log_error("vault_ssh_keys_malformed", "request_id=%" PRIu64 " id=u%" PRIu64,
			  request_id, k->object_id);
		return -1;
	}
	for (size_t i = 0; i < CAT_VAULT_SSH_STASH && !slot; i++)
		if (v->ssh_stash[i].request_id == 0)
			slot = &v->ssh_stash[i];
	if (!slot) {
		slot = &v->ssh_stash[v->ssh_stash_next];
		v->ssh_stash_next = (v->ssh_stash_next + 1) % CAT_VAULT_SSH_STASH;
		log_warn("vault_ssh_keys_unclaimed", "request_id=%" PRIu64, slot->request_id);
	}
	slot->request_id = request_id;
	slot->object_id = k->object_id;
	snprintf(slot->public_key_1, sizeof(slot->public_key_1), "%s", k->public_key_1);
	snprintf(slot->public_key_2, sizeof(slot->public_key_2), "%s", k->public_key_2);
	return 0;
}

int cat_vault_take_ssh_keys(struct cat_vault *v, uint64_t request_id,
			    struct cat_vault_ssh_keys *out)
{
	for (size_t i = 0; i < CAT_VAULT_SSH_STASH; i++) {
		if (request_id == 0 || v->ssh_stash[i].request_id != request_id)
			continue;
		*out = v->ssh_stash[i];
		memset(&v->ssh_stash[i], 0, sizeof(v->ssh_stash[i]));
		return 1;
	}
	return 0;
}
