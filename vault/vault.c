/* Binds keyring, store and audit chain into the operations the request
 * loop calls. Each mutating call appends its store record and its audit
 * record; vault_sync makes both durable before any reply is sent. */
#include "vault.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "fsutil.h"
#include "keymem.h"
#include "log.h"

#define ID_BUF 24

static const char *fmt_obj(char buf[ID_BUF], uint64_t id)
{
	snprintf(buf, ID_BUF, "u%" PRIu64, id);
	return buf;
}

static const char *fmt_u64(char buf[ID_BUF], uint64_t v)
{
	snprintf(buf, ID_BUF, "%" PRIu64, v);
	return buf;
}

static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

int vault_open(struct vault *v, const char *data_dir, struct err *e)
{
	char path[4096], n1[ID_BUF], n2[ID_BUF], n3[ID_BUF], n4[ID_BUF], n5[ID_BUF];
	struct stat st;
	int create;

	memset(v, 0, sizeof(*v));
	v->store.fd = v->ssh.fd = v->audit.fd = -1;
	err_clear(e);
	if (sodium_init() < 0)
		return err_set(e, "XX000", "vault: libsodium failed to initialise");
	if (vault_path(v->vdir, sizeof(v->vdir), data_dir, "vault") < 0)
		return err_set(e, "XX000", "vault: path too long: %s", data_dir);
	if (stat(v->vdir, &st) < 0)
		return err_set(e, "XX000", "vault: cannot use directory %s: %s", v->vdir,
			       strerror(errno));
	if (!S_ISDIR(st.st_mode) || (st.st_mode & 077)) {
		err_set(e, "XX000", "vault: %s must be a directory with mode 0700 (has %04o); refusing to start",
			v->vdir, (unsigned)(st.st_mode & 07777));
		err_hint(e, "chmod 0700 %s", v->vdir);
		return -1;
	}
	/* Keys are only created when no ciphertext can depend on them. */
	if (vault_path(path, sizeof(path), v->vdir, VAULT_STORE_FILE) < 0)
		return err_set(e, "XX000", "vault: path too long: %s", data_dir);
	create = access(path, F_OK) < 0 && errno == ENOENT;
	if (vault_path(path, sizeof(path), v->vdir, VAULT_SSH_STORE_FILE) < 0)
		return err_set(e, "XX000", "vault: path too long: %s", data_dir);
	if (create && !(access(path, F_OK) < 0 && errno == ENOENT))
		create = 0;     /* SSH key pairs depend on the keyring too */
	if (vault_keyring_open(&v->kr, v->vdir, create, e) < 0)
		return -1;
	if (vault_store_open(&v->store, v->vdir, e) < 0) {
		vault_keyring_close(&v->kr);
		return -1;
	}
	if (vault_store_open_kind(&v->ssh, v->vdir, &vault_store_ssh, e) < 0) {
		vault_store_close(&v->store);
		vault_keyring_close(&v->kr);
		return -1;
	}
	if (audit_open(&v->audit, v->vdir, e) < 0) {
		vault_store_close(&v->ssh);
		vault_store_close(&v->store);
		vault_keyring_close(&v->kr);
		return -1;
	}
	/* The audit key lives in the keyring (sealed by the master key). */
	audit_set_signer(&v->audit, &v->kr.audit_seed);
	v->rot.state = "idle";
	char kid[17];
	audit_key_id(v->audit.pk, kid);
	struct audit_field f[] = {
		{ "secrets", fmt_u64(n1, v->store.count) },
		{ "key_term", fmt_u64(n2, v->kr.current) },
		{ "store_truncated_bytes", fmt_u64(n3, v->store.truncated_bytes) },
		{ "audit_truncated_bytes", fmt_u64(n4, v->audit.truncated_bytes) },
		{ "ssh_key_sets", fmt_u64(n5, v->ssh.count) },
		{ "audit_key", kid },
	};
	if (audit_append(&v->audit, "vault_start", f, 6, e) < 0 ||
	    vault_rotate_resume(v, e) < 0 || audit_sync(&v->audit, e) < 0 ||
	    audit_export_pubkey(&v->audit, v->vdir, e) < 0) {
		vault_close(v);
		return -1;
	}
	log_info("vault_open", "secrets=%zu key_term=%u store_bytes=%llu audit_seq=%llu",
		 v->store.count, v->kr.current, (unsigned long long)v->store.end,
		 (unsigned long long)v->audit.seq);
	return 0;
}

void vault_close(struct vault *v)
{
	struct err e = { 0 };

	/* A clean stop seals the tail of the log. */
	if (v->audit.fd >= 0 && !vault_broken(v) &&
	    (audit_checkpoint(&v->audit, "shutdown", &e) < 0 || audit_sync(&v->audit, &e) < 0))
		log_warn("audit_shutdown_checkpoint_failed", "sqlstate=%s", e.sqlstate);
	audit_close(&v->audit);
	vault_store_close(&v->ssh);
	vault_store_close(&v->store);
	vault_keyring_close(&v->kr);
}

int vault_secret_put(struct vault *v, uint64_t object_id, uint64_t version,
		     const unsigned char *value, size_t len, int replace,
		     const struct vault_actor *who, struct err *e)
{
	char n1[ID_BUF], n2[ID_BUF], n3[ID_BUF];

	if (vault_store_put(&v->store, &v->kr, object_id, version, value, len, e) < 0)
		return -1;
	/* Names and ids only: never the value, its length or a hash of it. */
	struct audit_field f[] = {
		{ "object", fmt_obj(n1, object_id) },
		{ "version", fmt_u64(n2, version) },
		{ "key_term", fmt_u64(n3, v->kr.current) },
		{ "role", nonempty(who ? who->role : NULL) },
		{ "name", nonempty(who ? who->name : NULL) },
	};
	return audit_append(&v->audit, replace ? "secret_replace" : "secret_put",
			    f, 5, e);
}

static int audit_shred(struct vault *v, uint64_t object_id, uint64_t version,
		       const char *reason, struct err *e)
{
	char n1[ID_BUF], n2[ID_BUF];
	struct audit_field f[] = {
		{ "object", fmt_obj(n1, object_id) },
		{ "version", fmt_u64(n2, version) },
		{ "reason", reason },
	};

	return audit_append(&v->audit, "secret_shred", f, 3, e);
}

int vault_secret_commit(struct vault *v, uint64_t object_id, uint64_t version,
			struct err *e)
{
	size_t i;

	if (object_id == 0)
		return 0;
	/* Never shred the older versions in favour of one we do not hold:
	 * the catalog only commits what we acknowledged, so this is a bug. */
	if (!vault_store_find(&v->store, object_id, version)) {
		log_error("commit_unknown_version", "object=u%" PRIu64 " version=%" PRIu64,
			  object_id, version);
		return err_set(e, "XX000", "internal error: vault: commit of u%" PRIu64
			       " version %" PRIu64 " which is not stored", object_id, version);
	}
	i = vault_store_first_after(&v->store, object_id - 1);
	/* Older versions only: a newer, not yet committed PUT may be in flight. */
	while (i < v->store.count && v->store.entries[i].object_id == object_id &&
	       v->store.entries[i].version < version) {
		uint64_t old = v->store.entries[i].version;
		if (vault_store_delete(&v->store, object_id, old, NULL, e) < 0 ||
		    audit_shred(v, object_id, old, "commit", e) < 0)
			return -1;
	}
	return 0;
}

int vault_secret_delete(struct vault *v, uint64_t object_id,
			const struct vault_actor *who, struct err *e)
{
	char n1[ID_BUF], n2[ID_BUF];
	size_t removed;

	if (vault_store_delete(&v->store, object_id, 0, &removed, e) < 0)
		return -1;
	struct audit_field f[] = {
		{ "object", fmt_obj(n1, object_id) },
		{ "versions", fmt_u64(n2, removed) },
		{ "role", nonempty(who ? who->role : NULL) },
		{ "name", nonempty(who ? who->name : NULL) },
	};
	return audit_append(&v->audit, "secret_delete", f, 4, e);
}

static int ref_cmp(const void *a, const void *b)
{
	const struct vault_ref *x = a, *y = b;

	if (x->object_id != y->object_id)
		return x->object_id < y->object_id ? -1 : 1;
	if (x->version != y->version)
		return x->version < y->version ? -1 : 1;
	return 0;
}

int vault_reconcile(struct vault *v, struct vault_ref *keep, size_t n,
		    struct vault_reconcile_result *r, struct err *e)
{
	char n1[ID_BUF], n2[ID_BUF], n3[ID_BUF];
	size_t i = 0;

	memset(r, 0, sizeof(*r));
	if (n)
		qsort(keep, n, sizeof(*keep), ref_cmp);
	/* Walk the index, shredding what keep[] does not name. The index
	 * shrinks under us, so only advance past entries that stay. */
	while (i < v->store.count) {
		const struct vault_store_entry *ent = &v->store.entries[i];
		struct vault_ref key = { ent->object_id, ent->version };
		if (n && bsearch(&key, keep, n, sizeof(*keep), ref_cmp)) {
			i++;
			continue;
		}
		if (vault_store_delete(&v->store, key.object_id, key.version, NULL, e) < 0 ||
		    audit_shred(v, key.object_id, key.version, "reconcile", e) < 0)
			return -1;
		r->shredded++;
	}
	for (size_t k = 0; k < n; k++) {
		if (k > 0 && keep[k].object_id == keep[k - 1].object_id &&
		    keep[k].version == keep[k - 1].version)
			continue;
		if (vault_store_find(&v->store, keep[k].object_id, keep[k].version))
			continue;
		uint64_t *m = realloc(r->missing, (r->nmissing + 1) * sizeof(*m));
		if (!m) {
			vault_reconcile_result_free(r);
			return err_set(e, "XX000", "internal error: vault: out of memory");
		}
		r->missing = m;
		r->missing[r->nmissing++] = keep[k].object_id;
		log_error("secret_missing", "object=u%" PRIu64 " version=%" PRIu64,
			  keep[k].object_id, keep[k].version);
	}
	r->max_object_id = v->store.max_object_id;
	r->max_version = v->store.max_version;
	struct audit_field f[] = {
		{ "named", fmt_u64(n1, n) },
		{ "shredded", fmt_u64(n2, r->shredded) },
		{ "missing", fmt_u64(n3, r->nmissing) },
	};
	if (audit_append(&v->audit, "reconcile", f, 3, e) < 0) {
		vault_reconcile_result_free(r);
		return -1;
	}
	return 0;
}

void vault_reconcile_result_free(struct vault_reconcile_result *r)
{
	free(r->missing);
	r->missing = NULL;
	r->nmissing = 0;
}

int vault_audit(struct vault *v, const char *event,
		const struct audit_field *fields, size_t n, struct err *e)
{
	return audit_append(&v->audit, event, fields, n, e);
}

int vault_sync(struct vault *v, struct err *e)
{
	if (vault_store_sync(&v->store, e) < 0 || vault_store_sync(&v->ssh, e) < 0 ||
	    audit_sync(&v->audit, e) < 0)
		return -1;
	/* Compaction failing before its rename leaves the old file intact: log
	 * it and carry on; after the rename a failure marks the store broken. */
	if (vault_store_compact(&v->store, 0, e) < 0) {
		log_error("store_compaction_failed", "broken=%d", v->store.broken);
		if (v->store.broken)
			return -1;
		err_clear(e);
	}
	if (vault_store_compact(&v->ssh, 0, e) < 0) {
		log_error("store_compaction_failed", "file=%s broken=%d",
			  VAULT_SSH_STORE_FILE, v->ssh.broken);
		if (v->ssh.broken)
			return -1;
		err_clear(e);
	}
	return 0;
}

int vault_broken(const struct vault *v)
{
	return v->store.broken || v->ssh.broken || v->audit.broken;
}

int vault_secret_decrypt(struct vault *v, uint64_t object_id, uint64_t version,
			 unsigned char **out, size_t *len, struct err *e)
{
	return vault_store_decrypt(&v->store, &v->kr, object_id, version, out, len, e);
}

int vault_verify_all(struct vault *v, struct err *e)
{
	for (size_t i = 0; i < v->store.count; i++) {
		unsigned char *pt;
		size_t len;
		if (vault_store_decrypt(&v->store, &v->kr, v->store.entries[i].object_id,
					v->store.entries[i].version, &pt, &len, e) < 0)
			return -1;
		vault_secbuf_free(pt);
	}
	return 0;
}
