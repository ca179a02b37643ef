/* The validator's vault client and job decoding. Each service call is one
 * request on the validator<->vault channel, answered by the vault only for
 * what the grant names; a refusal ends the call with an error (and a
 * request outside the grant gets this process killed by tetherd). */
#include "client.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "log.h"

/* How long one vault answer may take (the vault fsyncs before answering). */
#define VAL_VAULT_REPLY_MS 10000

/* A JobTunnel as a val_ssh_tunnel (pointing into the spec); -1 if it
 * lacks what an SSH connection needs. */
static int tunnel_from(const Tether__JobTunnel *t, struct val_ssh_tunnel *out,
		       struct val_result *r)
{
	if (!t->host || !*t->host || t->port == 0 || t->port > 65535 || !t->user) {
		val_fail(r, VAL_CONFIG, NULL,
			 "invalid connection configuration: the SSH tunnel has no HOST, PORT or USER");
		return -1;
	}
	out->connection_id = t->connection_id;
	out->host = t->host;
	out->port = (uint16_t)t->port;
	out->user = t->user;
	out->pinned_host_key = t->pinned_host_key && *t->pinned_host_key ?
			       t->pinned_host_key : NULL;
	return 0;
}

/* The spec's tunnel of connection_id: the default one first. */
static const Tether__JobTunnel *spec_tunnel(const Tether__JobSpec *spec, uint64_t connection_id)
{
	if (spec->tunnel && spec->tunnel->connection_id == connection_id)
		return spec->tunnel;
	for (size_t i = 0; i < spec->n_tunnels; i++)
		if (spec->tunnels[i] && spec->tunnels[i]->connection_id == connection_id)
			return spec->tunnels[i];
	return NULL;
}

int val_client_init(struct val_client *c, int vault_fd, const Tether__JobSpec *spec,
		    struct val_result *r)
{
	size_t nparts = 0, k = 0;

	memset(c, 0, sizeof(*c));
	ipc_chan_init(&c->vault, vault_fd, IPC_VALIDATOR_VAULT, IPC_END_A);
	pthread_mutex_init(&c->lock, NULL);
	c->spec = spec;
	c->next_request_id = 1;
	for (size_t i = 0; i < spec->n_options; i++)
		nparts += spec->options[i]->n_parts;
	c->options = calloc(spec->n_options + 1, sizeof(*c->options));
	c->parts = calloc(nparts + 1, sizeof(*c->parts));
	if (!c->options || !c->parts) {
		val_fail(r, VAL_CONFIG, NULL, "internal error: validator: out of memory");
		err_set(&r->e, "XX000", "internal error: validator: out of memory");
		return -1;
	}
	for (size_t i = 0; i < spec->n_options; i++) {
		const Tether__JobOption *o = spec->options[i];

		c->options[i].name = o->name;
		c->options[i].parts = &c->parts[k];
		c->options[i].nparts = o->n_parts;
		for (size_t p = 0; p < o->n_parts; p++, k++) {
			c->parts[k].text = o->parts[p]->is_secret ? NULL :
					   (o->parts[p]->text ? o->parts[p]->text : "");
			c->parts[k].secret_id = o->parts[p]->secret_id;
		}
	}
	c->job.job_id = spec->job_id;
	c->job.connection_id = spec->connection_id;
	c->job.type = spec->type ? spec->type : "";
	c->job.options = c->options;
	c->job.noptions = spec->n_options;
	c->job.connect_timeout_ms = (int)spec->connect_timeout_ms;
	if (spec->tunnel) {
		if (tunnel_from(spec->tunnel, &c->tunnel, r) < 0)
			return -1;
		c->job.tunnel = &c->tunnel;
	}
	if (spec->n_tunnels) {
		c->tunnels = calloc(spec->n_tunnels, sizeof(*c->tunnels));
		if (!c->tunnels) {
			val_fail(r, VAL_CONFIG, NULL, "internal error: validator: out of memory");
			err_set(&r->e, "XX000", "internal error: validator: out of memory");
			return -1;
		}
		for (size_t i = 0; i < spec->n_tunnels; i++)
			if (tunnel_from(spec->tunnels[i], &c->tunnels[i], r) < 0)
				return -1;
		c->job.tunnels = c->tunnels;
		c->job.ntunnels = spec->n_tunnels;
	}
	return 0;
}

void val_client_free(struct val_client *c)
{
	free(c->options);
	free(c->parts);
	free(c->tunnels);
	pthread_mutex_destroy(&c->lock);
}

const char *val_client_ssh_destination(const struct val_client *c, uint64_t connection_id)
{
	static __thread char buf[320];
	const Tether__JobTunnel *t = spec_tunnel(c->spec, connection_id);

	if (t && t->host) {
		snprintf(buf, sizeof(buf), "%s:%u", t->host, t->port);
		return buf;
	}
	return c->spec->n_destinations ? c->spec->destinations[0] : "";
}

static const char *default_destination(const struct val_client *c, const char *d)
{
	if (d && *d)
		return d;
	return c->spec->n_destinations ? c->spec->destinations[0] : "";
}

/* Waits for one envelope on the vault channel (bounded). */
static int vault_recv(struct val_client *c, Tether__Envelope **env, struct err *e)
{
	struct pollfd p = { .fd = c->vault.fd, .events = POLLIN };
	int rc;

	do {
		rc = poll(&p, 1, VAL_VAULT_REPLY_MS);
	} while (rc < 0 && errno == EINTR);
	if (rc == 0)
		return err_set(e, "08006", "vault: no answer");
	switch (ipc_recv(&c->vault, env, NULL)) {
	case IPC_RECV_MESSAGE:
		return 0;
	case IPC_RECV_AGAIN:
		return err_set(e, "08006", "vault: no answer");
	case IPC_RECV_CLOSED:
		return err_set(e, "08006", "vault: channel closed (grant revoked or expired)");
	default:
		return err_set(e, "08P01", "vault: protocol violation");
	}
}

static int reply_error(const Tether__Envelope *env, struct err *e)
{
	const Tether__Reply *r = env->reply;

	return err_set(e, r->sqlstate && *r->sqlstate ? r->sqlstate : "XX000", "%s",
		       r->message && *r->message ? r->message : "vault: request refused");
}

static int svc_fetch_secret(void *ctx, uint64_t secret_id, const char *destination,
			    unsigned char **value, size_t *len, struct err *e)
{
	struct val_client *c = ctx;
	Tether__Envelope req = TETHER__ENVELOPE__INIT;
	Tether__GetCredential gc = TETHER__GET_CREDENTIAL__INIT;
	unsigned char *buf = NULL;
	uint32_t total = 0, got = 0;
	uint64_t rid;
	int rc = -1;

	*value = NULL;
	*len = 0;
	pthread_mutex_lock(&c->lock);
	rid = c->next_request_id++;
	gc.secret_id = secret_id;
	gc.destination = (char *)default_destination(c, destination);
	req.request_id = rid;
	req.body_case = TETHER__ENVELOPE__BODY_GET_CREDENTIAL;
	req.get_credential = &gc;
	if (ipc_send(&c->vault, &req, -1) < 0) {
		err_set(e, "08006", "vault: cannot send: %s", strerror(errno));
		goto out;
	}
	for (;;) {
		Tether__Envelope *env = NULL;

		if (vault_recv(c, &env, e) < 0)
			goto out;
		if (env->request_id != rid) {
			ipc_envelope_free(env);
			err_set(e, "08P01", "vault: answer to another request");
			goto out;
		}
		if (env->body_case == TETHER__ENVELOPE__BODY_REPLY) {
			reply_error(env, e);
			ipc_envelope_free(env);
			goto out;
		}
		if (env->body_case != TETHER__ENVELOPE__BODY_CREDENTIAL_VALUE) {
			ipc_envelope_free(env);
			err_set(e, "08P01", "vault: unexpected answer");
			goto out;
		}
		const Tether__CredentialValue *cv = env->credential_value;
		if (!buf) {
			total = cv->total_size;
			if (total > IPC_MAX_SECRET || cv->secret_id != secret_id ||
			    !(buf = sodium_malloc((size_t)total + 1))) {
				ipc_envelope_free(env);
				err_set(e, "08P01", "vault: bad credential value");
				goto out;
			}
		}
		if (cv->total_size != total || cv->offset != got || cv->chunk.len > total - got) {
			ipc_envelope_free(env);
			err_set(e, "08P01", "vault: credential chunks out of order");
			goto out;
		}
		memcpy(buf + got, cv->chunk.data, cv->chunk.len);
		got += (uint32_t)cv->chunk.len;
		int last = cv->last;
		ipc_envelope_free(env);         /* wipes the chunk */
		if (last)
			break;
	}
	if (got != total) {
		err_set(e, "08P01", "vault: credential value ended early");
		goto out;
	}
	buf[total] = '\0';
	*value = buf;
	*len = total;
	buf = NULL;
	rc = 0;
out:
	if (buf)
		sodium_free(buf);       /* zeroes */
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static void svc_release(void *ctx, unsigned char *value, size_t len)
{
	(void)ctx;
	(void)len;
	if (value)
		sodium_free(value);     /* sodium_free zeroes the whole allocation */
}

static int svc_ssh_sign(void *ctx, uint64_t connection_id, int slot,
			const unsigned char *data, size_t len, unsigned char sig[64],
			struct err *e)
{
	struct val_client *c = ctx;
	Tether__Envelope req = TETHER__ENVELOPE__INIT;
	Tether__SshSign ss = TETHER__SSH_SIGN__INIT;
	Tether__Envelope *env = NULL;
	uint64_t rid;
	int rc = -1;

	pthread_mutex_lock(&c->lock);
	rid = c->next_request_id++;
	ss.connection_id = connection_id;
	ss.slot = (uint32_t)slot;
	ss.data.data = (uint8_t *)data;
	ss.data.len = len;
	ss.destination = (char *)val_client_ssh_destination(c, connection_id);
	req.request_id = rid;
	req.body_case = TETHER__ENVELOPE__BODY_SSH_SIGN;
	req.ssh_sign = &ss;
	if (ipc_send(&c->vault, &req, -1) < 0) {
		err_set(e, "08006", "vault: cannot send: %s", strerror(errno));
		goto out;
	}
	if (vault_recv(c, &env, e) < 0)
		goto out;
	if (env->request_id != rid)
		err_set(e, "08P01", "vault: answer to another request");
	else if (env->body_case == TETHER__ENVELOPE__BODY_REPLY)
		reply_error(env, e);
	else if (env->body_case != TETHER__ENVELOPE__BODY_SSH_SIGNATURE ||
		 env->ssh_signature->sig.len != 64)
		err_set(e, "08P01", "vault: bad signature answer");
	else {
		memcpy(sig, env->ssh_signature->sig.data, 64);
		rc = 0;
	}
	ipc_envelope_free(env);
out:
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static int svc_ssh_public_key(void *ctx, uint64_t connection_id, int slot,
			      unsigned char blob[51])
{
	struct val_client *c = ctx;
	const Tether__JobTunnel *t = spec_tunnel(c->spec, connection_id);
	const ProtobufCBinaryData *b;

	if (!t || (slot != 1 && slot != 2))
		return -1;
	b = slot == 1 ? &t->public_key_1 : &t->public_key_2;
	if (b->len != 51)
		return -1;
	memcpy(blob, b->data, 51);
	return 0;
}

void val_client_services(struct val_client *c, struct val_services *svc)
{
	memset(svc, 0, sizeof(*svc));
	svc->ctx = c;
	svc->fetch_secret = svc_fetch_secret;
	svc->release = svc_release;
	svc->ssh_sign = svc_ssh_sign;
	svc->ssh_public_key = svc_ssh_public_key;
}

void val_client_result(const struct val_result *r, uint64_t job_id, Tether__JobResult *out)
{
	tether__job_result__init(out);
	out->job_id = job_id;
	out->code = (char *)val_code_name(r->code);
	out->host = (char *)r->host;
	out->stage = (char *)r->stage;
	out->sqlstate = (char *)(r->code == VAL_OK ? "00000" :
				 r->e.sqlstate[0] ? r->e.sqlstate : val_code_sqlstate(r->code));
	out->message = (char *)r->e.message;
	out->detail = (char *)r->e.detail;
	out->hint = (char *)r->e.hint;
	out->host_key = (char *)r->host_key;
	out->ssh_key_slot = r->ssh_key_slot > 0 ? (uint32_t)r->ssh_key_slot : 0;
}
