/* Data-key and master-key rotation. A data-key rotation adds a term
 * (keyring.c), then re-encrypts secrets (REPUT frames) and re-seals SSH
 * key pairs in bounded steps that the request loop interleaves with its
 * batches; when no record uses an older term, both stores are compacted
 * (the old frames leave the disk) and the old terms are destroyed. */
#include "vault.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "log.h"
#include "ssh.h"

#define ROT_LOG_EVERY 1000

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t vault_rotate_count_old(const struct vault *v)
{
	uint64_t n = 0;

	for (size_t i = 0; i < v->store.count; i++)
		n += v->store.entries[i].term != v->kr.current;
	for (size_t i = 0; i < v->ssh.count; i++)
		n += v->ssh.entries[i].term != v->kr.current;
	return n;
}

static const char *u64s(char buf[24], uint64_t x)
{
	snprintf(buf, 24, "%" PRIu64, x);
	return buf;
}

static void rot_begin(struct vault *v)
{
	struct vault_rotation *r = &v->rot;

	memset(r, 0, sizeof(*r));
	r->active = 1;
	r->term = v->kr.current;
	r->total = vault_rotate_count_old(v);
	r->started_at = now_ms();
	r->state = "running";
	r->changed = 1;
}

int vault_rotate_data_key(struct vault *v, const struct vault_actor *who,
			  struct err *e)
{
	char t[24], n[24], o[24];
	uint32_t old = v->kr.current;

	if (v->rot.active) {
		err_set(e, "55006", "a data key rotation is already in progress");
		err_detail(e, "Term %u: %" PRIu64 " of %" PRIu64 " records re-encrypted.",
			   v->rot.term, v->rot.done, v->rot.total);
		return -1;
	}
	if (vault_keyring_add_term(&v->kr, v->vdir, e) < 0)
		return -1;
	rot_begin(v);
	struct audit_field f[] = {
		{ "term", u64s(t, v->kr.current) },
		{ "previous_term", u64s(o, old) },
		{ "records", u64s(n, v->rot.total) },
		{ "role", who && who->role && *who->role ? who->role : NULL },
	};
	log_info("data_key_rotation_started", "term=%u previous_term=%u records=%" PRIu64,
		 v->kr.current, old, v->rot.total);
	return audit_append(&v->audit, "data_key_rotation_started", f, 4, e);
}

int vault_rotate_resume(struct vault *v, struct err *e)
{
	char t[24], n[24];

	if (v->kr.count <= 1)
		return 0;
	rot_begin(v);
	struct audit_field f[] = {
		{ "term", u64s(t, v->kr.current) },
		{ "records", u64s(n, v->rot.total) },
	};
	log_info("data_key_rotation_resumed", "term=%u records=%" PRIu64,
		 v->kr.current, v->rot.total);
	return audit_append(&v->audit, "data_key_rotation_resumed", f, 2, e);
}

/* Nothing uses an old term any more: drop the old frames, then the keys. */
static int rot_finish(struct vault *v, struct err *e)
{
	struct vault_rotation *r = &v->rot;
	uint32_t oldest = vault_keyring_oldest_term(&v->kr);
	char t[24], d[24], n[24], o[24];
	size_t dropped = 0;

	if (vault_rotate_count_old(v) != 0)
		return err_set(e, "XX000", "internal error: vault: records left under an old term");
	if (vault_sync(v, e) < 0 || vault_store_compact(&v->store, 1, e) < 0 ||
	    vault_store_compact(&v->ssh, 1, e) < 0)
		return -1;
	if (vault_keyring_drop_old_terms(&v->kr, v->vdir, &dropped, e) < 0)
		return -1;
	r->active = 0;
	r->state = "done";
	r->finished_at = now_ms();
	r->changed = 1;
	struct audit_field f1[] = {
		{ "terms", u64s(d, dropped) },
		{ "oldest", u64s(o, oldest) },
		{ "kept", u64s(t, v->kr.current) },
	};
	struct audit_field f2[] = {
		{ "term", u64s(t, v->kr.current) },
		{ "records", u64s(n, r->done) },
	};
	log_info("data_key_rotation_finished", "term=%u records=%" PRIu64 " terms_destroyed=%zu",
		 v->kr.current, r->done, dropped);
	if ((dropped && audit_append(&v->audit, "data_key_term_destroyed", f1, 3, e) < 0) ||
	    audit_append(&v->audit, "data_key_rotation_finished", f2, 2, e) < 0)
		return -1;
	return vault_sync(v, e);
}

int vault_rotate_step(struct vault *v, size_t max, struct err *e)
{
	struct vault_rotation *r = &v->rot;
	size_t n = 0, i;

	if (!r->active)
		return 0;
	/* Secrets, in key order from the cursor: whatever is before it was
	 * re-encrypted or written under the current term since. */
	i = r->cur_obj ? vault_store_first_after(&v->store, r->cur_obj - 1) : 0;
	for (; i < v->store.count && n < max; i++) {
		const struct vault_store_entry *ent = &v->store.entries[i];

		if (ent->object_id == r->cur_obj && ent->version <= r->cur_ver)
			continue;
		r->cur_obj = ent->object_id;
		r->cur_ver = ent->version;
		if (ent->term == v->kr.current)
			continue;
		if (vault_store_reput(&v->store, &v->kr, ent->object_id, ent->version, e) < 0)
			goto fail;
		n++;
	}
	if (n < max) {
		i = vault_store_first_after(&v->ssh, r->cur_ssh);
		for (; i < v->ssh.count && n < max; i = vault_store_first_after(&v->ssh, r->cur_ssh)) {
			const struct vault_store_entry *ent = &v->ssh.entries[i];

			r->cur_ssh = ent->object_id;
			if (ent->term == v->kr.current)
				continue;
			if (vault_ssh_reseal(v, ent->object_id, e) < 0)
				goto fail;
			n++;
		}
	}
	r->done += n;
	if (r->done > r->total)
		r->total = r->done;
	if (n)
		r->changed = 1;
	if (r->done - r->logged >= ROT_LOG_EVERY) {
		r->logged = r->done;
		log_info("data_key_rotation_progress", "term=%u done=%" PRIu64 " total=%" PRIu64,
			 r->term, r->done, r->total);
	}
	if (n == max)
		return 1;
	if (rot_finish(v, e) < 0)
		goto fail;
	return 0;
fail:
	/* Stop trying until the next start (which resumes it). */
	r->active = 0;
	r->state = "failed";
	r->changed = 1;
	log_error("data_key_rotation_failed", "term=%u done=%" PRIu64, r->term, r->done);
	return -1;
}

int vault_rotate_master_key(struct vault *v, const struct vault_actor *who,
			    struct err *e)
{
	char t[24];

	if (vault_keyring_rotate_master(&v->kr, v->vdir, e) < 0)
		return -1;
	struct audit_field f[] = {
		{ "data_terms", u64s(t, v->kr.count) },
		{ "role", who && who->role && *who->role ? who->role : NULL },
	};
	return audit_append(&v->audit, "master_key_rotated", f, 2, e);
}
