/* The grant table and the checks of validator requests against it. A
 * request is answered only if the grant names the secret (or the SSH key
 * slot), the destination, and the deadline has not passed; anything else is
 * audited as request_denied and the caller cuts the validator off. Every
 * decision leaves an audit record before any value moves. */
#include "grants.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "keymem.h"
#include "log.h"

uint64_t vault_grant_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- formatting for audit records (ids and names only) ---- */

static void fmt_secrets(const struct vault_grant *g, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < g->nsecrets && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%su%" PRIu64 "@v%" PRIu64,
					i ? "," : "", g->secrets[i].object_id,
					g->secrets[i].version);
}

static void fmt_keys(const struct vault_grant *g, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < g->nkeys && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%su%" PRIu64 ":%s", i ? "," : "",
					g->keys[i].connection_id,
					g->keys[i].slots == 3 ? "1+2" :
					g->keys[i].slots == 1 ? "1" : "2");
}

static void fmt_dests(const struct vault_grant *g, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < g->ndests && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? "," : "", g->dests[i]);
}

/* ---- the table ---- */

static int grant_fill(struct vault_grant *g, const Tether__Grant *m, struct err *e)
{
	if (m->job_id == 0)
		return err_set(e, "XX000", "internal error: vault: grant without a job id");
	if (m->n_secrets > VAULT_GRANT_MAX_SECRETS || m->n_ssh_keys > VAULT_GRANT_MAX_KEYS ||
	    m->n_destinations > VAULT_GRANT_MAX_DESTS)
		return err_set(e, "54000", "internal error: vault: grant names too many items");
	g->job_id = m->job_id;
	g->connection_id = m->connection_id;
	for (size_t i = 0; i < m->n_secrets; i++)
		g->secrets[g->nsecrets++] = (struct vault_ref){ m->secrets[i]->object_id,
								 m->secrets[i]->version };
	for (size_t i = 0; i < m->n_ssh_keys; i++) {
		struct vault_grant_key *k = &g->keys[g->nkeys++];

		k->connection_id = m->ssh_keys[i]->connection_id;
		for (size_t s = 0; s < m->ssh_keys[i]->n_slots; s++) {
			uint32_t slot = m->ssh_keys[i]->slots[s];
			if (slot < 1 || slot > VAULT_SSH_SLOTS)
				return err_set(e, "XX000", "internal error: vault: grant names SSH key slot %u",
					       slot);
			k->slots |= 1u << (slot - 1);
		}
	}
	for (size_t i = 0; i < m->n_destinations; i++) {
		const char *d = m->destinations[i] ? m->destinations[i] : "";

		if (!*d || strlen(d) >= VAULT_GRANT_DEST_MAX)
			return err_set(e, "XX000", "internal error: vault: grant with a bad destination");
		snprintf(g->dests[g->ndests++], VAULT_GRANT_DEST_MAX, "%s", d);
	}
	g->deadline_ms = m->deadline_monotonic_ms;
	return 0;
}

int vault_grant_add(struct vault *v, struct vault_grants *t, const Tether__Grant *m,
		    int fd, uint64_t now, struct err *e)
{
	struct vault_grant *g;
	size_t slot = VAULT_MAX_GRANTS;
	char job[24], conn[24], secrets[2048], keys[512], dests[2048], remain[24];

	if (fd < 0)
		return err_set(e, "XX000", "internal error: vault: grant without a channel");
	if (vault_grant_find(t, m->job_id)) {
		close(fd);
		return err_set(e, "XX000", "internal error: vault: job %" PRIu64 " already has a grant",
			       m->job_id);
	}
	for (size_t i = 0; i < VAULT_MAX_GRANTS && slot == VAULT_MAX_GRANTS; i++)
		if (!t->g[i])
			slot = i;
	if (slot == VAULT_MAX_GRANTS) {
		close(fd);
		return err_set(e, "53300", "too many validations running in the vault (limit %d)",
			       VAULT_MAX_GRANTS);
	}
	if (!(g = calloc(1, sizeof(*g)))) {
		close(fd);
		return err_set(e, "53200", "out of memory");
	}
	if (grant_fill(g, m, e) < 0 || (m->deadline_monotonic_ms <= now &&
					err_set(e, "08001", "the validation's deadline passed before it started"))) {
		free(g);
		close(fd);
		return -1;
	}
	snprintf(job, sizeof(job), "%" PRIu64, g->job_id);
	snprintf(conn, sizeof(conn), "u%" PRIu64, g->connection_id);
	snprintf(remain, sizeof(remain), "%" PRIu64, g->deadline_ms - now);
	fmt_secrets(g, secrets, sizeof(secrets));
	fmt_keys(g, keys, sizeof(keys));
	fmt_dests(g, dests, sizeof(dests));
	struct audit_field f[] = {
		{ "job", job }, { "connection", conn }, { "secrets", secrets },
		{ "ssh_keys", keys }, { "destinations", dests }, { "deadline_in_ms", remain },
	};
	/* Fail closed: no durable grant record, no grant. */
	if (vault_audit(v, "grant", f, sizeof(f) / sizeof(f[0]), e) < 0) {
		free(g);
		close(fd);
		return -1;
	}
	ipc_chan_init(&g->chan, fd, IPC_VALIDATOR_VAULT, IPC_END_B);
	t->g[slot] = g;
	return 0;
}

struct vault_grant *vault_grant_find(struct vault_grants *t, uint64_t job_id)
{
	for (size_t i = 0; i < VAULT_MAX_GRANTS; i++)
		if (t->g[i] && t->g[i]->job_id == job_id)
			return t->g[i];
	return NULL;
}

void vault_grant_remove(struct vault *v, struct vault_grants *t, uint64_t job_id,
			const char *why)
{
	for (size_t i = 0; i < VAULT_MAX_GRANTS; i++) {
		struct vault_grant *g = t->g[i];
		char job[24], rel[24], sig[24];
		struct err e = { 0 };

		if (!g || g->job_id != job_id)
			continue;
		snprintf(job, sizeof(job), "%" PRIu64, g->job_id);
		snprintf(rel, sizeof(rel), "%" PRIu64, g->released);
		snprintf(sig, sizeof(sig), "%" PRIu64, g->signed_count);
		struct audit_field f[] = {
			{ "job", job }, { "reason", why }, { "releases", rel }, { "signatures", sig },
		};
		if (vault_audit(v, "grant_end", f, 4, &e) < 0)
			log_error("audit_failed", "event=grant_end job=%s", job);
		if (g->chan.fd >= 0)
			close(g->chan.fd);
		free(g);
		t->g[i] = NULL;
		log_info("grant_end", "job=%" PRIu64 " reason=%s", job_id, why);
	}
}

void vault_grants_free(struct vault_grants *t)
{
	for (size_t i = 0; i < VAULT_MAX_GRANTS; i++)
		if (t->g[i]) {
			if (t->g[i]->chan.fd >= 0)
				close(t->g[i]->chan.fd);
			free(t->g[i]);
			t->g[i] = NULL;
		}
}

uint64_t vault_grants_next_deadline(const struct vault_grants *t)
{
	uint64_t next = UINT64_MAX;

	for (size_t i = 0; i < VAULT_MAX_GRANTS; i++)
		if (t->g[i] && t->g[i]->deadline_ms < next)
			next = t->g[i]->deadline_ms;
	return next;
}

/* ---- requests ---- */

static int dest_granted(const struct vault_grant *g, const char *d)
{
	if (!d || !*d)
		return 0;
	for (size_t i = 0; i < g->ndests; i++)
		if (strcmp(g->dests[i], d) == 0)
			return 1;
	return 0;
}

/* Audits a refusal and returns VAULT_GRANT_DENIED (or REFUSED if even the
 * audit record cannot be written: nothing is released either way). */
static enum vault_grant_rc deny(struct vault *v, const struct vault_grant *g,
				const char *request, const char *item,
				const char *destination, const char *reason, struct err *e)
{
	char job[24], conn[24], dq[VAULT_GRANT_DEST_MAX];
	struct err ae = { 0 };

	snprintf(job, sizeof(job), "%" PRIu64, g->job_id);
	snprintf(conn, sizeof(conn), "u%" PRIu64, g->connection_id);
	snprintf(dq, sizeof(dq), "%s", destination ? destination : "");
	struct audit_field f[] = {
		{ "channel", ipc_channel_name(IPC_VALIDATOR_VAULT) }, { "job", job },
		{ "connection", conn }, { "request", request }, { "item", item },
		{ "destination", dq }, { "reason", reason },
	};
	log_warn("validator_request_denied", "job=%s request=%s item=%s reason=%s", job,
		 request, item, reason);
	err_set(e, "42501", "vault: request outside the validator's grant: %s", reason);
	if (vault_audit(v, "request_denied", f, sizeof(f) / sizeof(f[0]), &ae) < 0) {
		log_error("audit_failed", "event=request_denied job=%s", job);
		return VAULT_GRANT_REFUSED;
	}
	return VAULT_GRANT_DENIED;
}

int vault_grant_audit_violation(struct vault *v, const struct vault_grant *g,
				const char *reason)
{
	struct err e = { 0 };

	return deny(v, g, "violation", "", "", reason, &e) == VAULT_GRANT_DENIED ? 0 : -1;
}

/* The version to release: the granted one while it exists, else the
 * newest (a later ALTER SECRET committed and shredded it: the newest is
 * then the committed one). 0 if the object has no ciphertext at all. */
static uint64_t release_version(const struct vault_store *st, const struct vault_ref *ref)
{
	size_t i;

	if (ref->version && vault_store_find(st, ref->object_id, ref->version))
		return ref->version;
	i = vault_store_first_after(st, ref->object_id);
	if (i > 0 && st->entries[i - 1].object_id == ref->object_id &&
	    st->entries[i - 1].version >= ref->version)
		return st->entries[i - 1].version;
	return 0;
}

enum vault_grant_rc vault_grant_release(struct vault *v, struct vault_grant *g,
					uint64_t secret_id, const char *destination,
					uint64_t now, unsigned char **value, size_t *len,
					struct err *e)
{
	const struct vault_ref *ref = NULL;
	char item[24], job[24], conn[24], ver[24], dq[VAULT_GRANT_DEST_MAX];
	uint64_t version;

	*value = NULL;
	*len = 0;
	snprintf(item, sizeof(item), "u%" PRIu64, secret_id);
	if (now >= g->deadline_ms)
		return deny(v, g, "get_credential", item, destination, "after_deadline", e);
	for (size_t i = 0; i < g->nsecrets && !ref; i++)
		if (g->secrets[i].object_id == secret_id)
			ref = &g->secrets[i];
	if (!ref)
		return deny(v, g, "get_credential", item, destination, "secret_not_granted", e);
	if (!dest_granted(g, destination))
		return deny(v, g, "get_credential", item, destination, "destination_not_granted", e);
	version = release_version(&v->store, ref);
	if (!version) {
		err_set(e, "42704", "vault: secret %s has no value any more (dropped?)", item);
		return VAULT_GRANT_REFUSED;
	}
	snprintf(job, sizeof(job), "%" PRIu64, g->job_id);
	snprintf(conn, sizeof(conn), "u%" PRIu64, g->connection_id);
	snprintf(ver, sizeof(ver), "%" PRIu64, version);
	snprintf(dq, sizeof(dq), "%s", destination);
	struct audit_field f[] = {
		{ "job", job }, { "connection", conn }, { "secret", item }, { "version", ver },
		{ "destination", dq },
	};
	/* The record first: a release the log does not hold never happens. */
	if (vault_audit(v, "credential_release", f, sizeof(f) / sizeof(f[0]), e) < 0)
		return VAULT_GRANT_REFUSED;
	if (vault_secret_decrypt(v, secret_id, version, value, len, e) < 0)
		return VAULT_GRANT_REFUSED;
	g->released++;
	return VAULT_GRANT_OK;
}

enum vault_grant_rc vault_grant_sign(struct vault *v, struct vault_grant *g,
				     uint64_t connection_id, unsigned slot,
				     const unsigned char *data, size_t len,
				     const char *destination, uint64_t now,
				     unsigned char sig[VAULT_SSH_SIG_BYTES], struct err *e)
{
	const struct vault_grant_key *k = NULL;
	char item[32], job[24], conn[24], sl[8], dq[VAULT_GRANT_DEST_MAX];
	struct vault_ssh_userauth ua;

	memset(sig, 0, VAULT_SSH_SIG_BYTES);
	snprintf(item, sizeof(item), "u%" PRIu64 ":%u", connection_id, slot);
	if (now >= g->deadline_ms)
		return deny(v, g, "ssh_sign", item, destination, "after_deadline", e);
	for (size_t i = 0; i < g->nkeys && !k; i++)
		if (g->keys[i].connection_id == connection_id)
			k = &g->keys[i];
	if (!k || slot < 1 || slot > VAULT_SSH_SLOTS || !(k->slots & (1u << (slot - 1))))
		return deny(v, g, "ssh_sign", item, destination, "key_not_granted", e);
	if (!dest_granted(g, destination))
		return deny(v, g, "ssh_sign", item, destination, "destination_not_granted", e);
	/* Not a signing oracle: only an SSH publickey userauth request. */
	if (vault_ssh_parse_userauth(data, len, &ua) < 0)
		return deny(v, g, "ssh_sign", item, destination, "not_a_userauth_request", e);
	struct vault_ssh_pubkeys pk;
	int have = vault_ssh_public_keys(v, connection_id, &pk, e);
	if (have < 0)
		return VAULT_GRANT_REFUSED;
	if (have == 0) {
		err_set(e, "42704", "vault: u%" PRIu64 " has no SSH keys (dropped?)", connection_id);
		return VAULT_GRANT_REFUSED;
	}
	/* The request must name the very key it asks to be signed with. */
	if (memcmp(ua.pk, pk.pk[slot - 1], VAULT_SSH_PK_BYTES) != 0)
		return deny(v, g, "ssh_sign", item, destination, "wrong_key_in_request", e);
	snprintf(job, sizeof(job), "%" PRIu64, g->job_id);
	snprintf(conn, sizeof(conn), "u%" PRIu64, g->connection_id);
	snprintf(sl, sizeof(sl), "%u", slot);
	snprintf(item, sizeof(item), "u%" PRIu64, connection_id);
	snprintf(dq, sizeof(dq), "%s", destination);
	struct audit_field f[] = {
		{ "job", job }, { "connection", conn }, { "key", item }, { "slot", sl },
		{ "destination", dq },
	};
	if (vault_audit(v, "ssh_sign", f, sizeof(f) / sizeof(f[0]), e) < 0)
		return VAULT_GRANT_REFUSED;
	if (vault_ssh_sign(v, connection_id, (int)slot, data, len, sig, e) < 0)
		return VAULT_GRANT_REFUSED;
	g->signed_count++;
	return VAULT_GRANT_OK;
}
