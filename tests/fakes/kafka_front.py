#!/usr/bin/env python3
"""TLS and SASL front for librdkafka's mock cluster (tests/fakes/kafka_mock),
whose listeners are PLAINTEXT only. Loopback, driven by the tests.

stdin, first line: JSON
  {"upstream": "127.0.0.1:PORT", "cert": PEM path, "key": PEM path,
   "client_ca": PEM path (mtls), "user": "...", "password": "...",
   "mechanisms": ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"],
   "listeners": ["tls", "mtls", "sasl_plaintext", "sasl_ssl"], "lifetime": 120,
   "aws": {"access_key_id": "...", "secret_access_key": "...",
           "session_token": null or "...", "region": "us-east-1"}}
  "aws" (optional) adds OAUTHBEARER to the default mechanisms: Amazon MSK IAM.
stdout: "READY tls=P mtls=P ..." once listening. Exits when stdin closes or
after `lifetime` seconds. Credentials come through stdin, never argv.

Listeners:
  tls             TLS server, then bytes to and from the mock
  mtls            the same, client certificate required (client_ca)
  sasl_plaintext  Kafka SASL in front of the mock: ApiVersions is forwarded
                  and its answer gains SaslHandshake (17, v0-1) and
                  SaslAuthenticate (36, v0-1); SaslHandshake and
                  SaslAuthenticate (PLAIN, SCRAM-SHA-256/512 per RFC 5802/7677
                  as Kafka frames them) are answered here; after success,
                  bytes flow to the mock. Anything else first: closed (Kafka's
                  "illegal SASL state").
  sasl_ssl        TLS, then as sasl_plaintext.

OAUTHBEARER (RFC 7628 as Kafka frames it, KIP-255): the client's message is
"n,[a=authzid],^Aauth=Bearer <token>^A[k=v^A...]^A"; the token is
checked as Amazon MSK checks an IAM token: base64url (no padding) of
"https://kafka.<region>.amazonaws.com/?Action=kafka-cluster%3AConnect&X-Amz-
...&User-Agent=...", a SigV4 query signature (service kafka-cluster) that is
recomputed with the test's secret key (sigv4_check.py; User-Agent is added
after signing and not covered), not expired. Success: empty server message;
failure: SASL_AUTHENTICATION_FAILED whose message says why.
"""
import base64
import hashlib
import hmac
import json
import os
import select
import socket
import ssl
import struct
import sys
import threading
import urllib.parse

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
import sigv4_check  # noqa: E402  (tests/fakes/, the script's directory)

API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE = 18, 17, 36
ERR_UNSUPPORTED_SASL_MECHANISM, ERR_ILLEGAL_SASL_STATE = 33, 34
ERR_SASL_AUTHENTICATION_FAILED = 58


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def read_frame(s):
    (size,) = struct.unpack(">i", recv_exact(s, 4))
    if size < 8 or size > (1 << 20):
        raise EOFError
    return recv_exact(s, size)


def send_frame(s, body):
    s.sendall(struct.pack(">i", len(body)) + body)


def get_uvarint(b, off):
    n = shift = 0
    while True:
        c = b[off]
        off += 1
        n |= (c & 0x7F) << shift
        if not c & 0x80:
            return n, off
        shift += 7


def put_uvarint(n):
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def kstring(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def req_header(frame):
    """api_key, api_version, correlation_id, offset of the body (header v1)."""
    key, ver, corr = struct.unpack(">hhi", frame[:8])
    (n,) = struct.unpack(">h", frame[8:10])
    return key, ver, corr, 10 + max(n, 0)


def patch_api_versions(resp, version):
    """Adds SaslHandshake and SaslAuthenticate to the mock's ApiVersions."""
    corr, body = resp[:4], resp[4:]
    (err,) = struct.unpack(">h", body[:2])
    if err != 0:
        return resp
    off, entries = 2, []
    if version >= 3:
        n, off = get_uvarint(body, off)
        for _ in range(n - 1):
            entries.append(struct.unpack(">hhh", body[off:off + 6]))
            off += 6
            tags, off = get_uvarint(body, off)
            for _ in range(tags):
                _, off = get_uvarint(body, off)
                ln, off = get_uvarint(body, off)
                off += ln
    else:
        (n,) = struct.unpack(">i", body[off:off + 4])
        off += 4
        for _ in range(n):
            entries.append(struct.unpack(">hhh", body[off:off + 6]))
            off += 6
    rest = body[off:]
    entries = [e for e in entries if e[0] not in (SASL_HANDSHAKE, SASL_AUTHENTICATE)]
    entries += [(SASL_HANDSHAKE, 0, 1), (SASL_AUTHENTICATE, 0, 1)]
    if version >= 3:
        arr = put_uvarint(len(entries) + 1) + b"".join(
            struct.pack(">hhh", *e) + b"\x00" for e in entries)
    else:
        arr = struct.pack(">i", len(entries)) + b"".join(struct.pack(">hhh", *e) for e in entries)
    return corr + struct.pack(">h", 0) + arr + rest


class Scram:
    """Server side of SCRAM-SHA-256/512 (RFC 5802), one exchange."""

    def __init__(self, mech, user, password):
        self.hash = hashlib.sha256 if mech == "SCRAM-SHA-256" else hashlib.sha512
        self.mech, self.user, self.password = mech, user, password
        self.step = 0

    def h(self, key, msg):
        return hmac.new(key, msg, self.hash).digest()

    def next(self, data):
        """(error_code, error_message, server bytes, done)"""
        text = data.decode("utf-8", "replace")
        if self.step == 0:
            self.step = 1
            if not text.startswith("n,,"):
                return ERR_SASL_AUTHENTICATION_FAILED, "bad gs2 header", b"", True
            self.client_first_bare = text[3:]
            attrs = dict(a.split("=", 1) for a in self.client_first_bare.split(",") if "=" in a)
            name = attrs.get("n", "").replace("=2C", ",").replace("=3D", "=")
            self.salt = os.urandom(16)
            self.iterations = 4096
            # An unknown user gets a salt too (no user enumeration) and fails below.
            pw = self.password if name == self.user else base64.b64encode(os.urandom(18)).decode()
            self.salted = hashlib.pbkdf2_hmac(self.hash().name, pw.encode(), self.salt,
                                              self.iterations)
            self.nonce = attrs.get("r", "") + base64.b64encode(os.urandom(18)).decode()
            self.server_first = "r=%s,s=%s,i=%d" % (
                self.nonce, base64.b64encode(self.salt).decode(), self.iterations)
            return 0, None, self.server_first.encode(), False
        without_proof, _, proof = text.rpartition(",p=")
        attrs = dict(a.split("=", 1) for a in without_proof.split(",") if "=" in a)
        auth_message = ",".join([self.client_first_bare, self.server_first, without_proof])
        client_key = self.h(self.salted, b"Client Key")
        stored_key = self.hash(client_key).digest()
        signature = self.h(stored_key, auth_message.encode())
        try:
            got = bytes(a ^ b for a, b in zip(base64.b64decode(proof), signature))
        except Exception:
            got = b""
        # Kafka's ScramSaslServer (3.8.1+) checks endsWith, not equals:
        # librdkafka before 2.6.1 (Debian's 2.0.2 among them) sends the
        # client nonce again in front of the server's combined nonce.
        if not attrs.get("r", "").endswith(self.nonce) or not hmac.compare_digest(
                self.hash(got).digest(), stored_key):
            return (ERR_SASL_AUTHENTICATION_FAILED,
                    "Authentication failed during authentication due to invalid credentials "
                    "with SASL mechanism %s" % self.mech, b"", True)
        server_key = self.h(self.salted, b"Server Key")
        final = "v=" + base64.b64encode(self.h(server_key, auth_message.encode())).decode()
        return 0, None, final.encode(), True


def msk_iam_check(token, aws):
    """None if `token` is a valid MSK IAM token for `aws`, else why not."""
    try:
        url = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        parts = urllib.parse.urlsplit(url)
        q = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True,
                                        strict_parsing=True))
    except ValueError:
        return "not a base64url URL"
    host = "kafka.%s.amazonaws.com" % aws.get("region", "us-east-1")
    if parts.scheme != "https" or parts.netloc != host or parts.path != "/":
        return "signed for another endpoint, %s" % parts.netloc
    if q.get("Action") != "kafka-cluster:Connect":
        return "wrong Action"
    if "User-Agent" not in q:
        return "no User-Agent"
    return sigv4_check.verify(host, "/", q, aws, "kafka-cluster", unsigned=("User-Agent",))


def oauthbearer(data, cfg):
    """(error_code, error_message) for the client's OAUTHBEARER message."""
    text = data.decode("utf-8", "replace")
    gs2, sep, rest = text.partition("\x01")
    if not sep or not gs2.startswith("n,") or not rest.endswith("\x01\x01"):
        return ERR_SASL_AUTHENTICATION_FAILED, "Invalid OAUTHBEARER client message"
    kv = dict(a.split("=", 1) for a in rest[:-2].split("\x01") if "=" in a)
    auth = kv.get("auth", "")
    if not auth.startswith("Bearer ") or "aws" not in cfg:
        return ERR_SASL_AUTHENTICATION_FAILED, "Invalid OAUTHBEARER client message"
    why = msk_iam_check(auth[7:], cfg["aws"])
    if why is not None:
        return (ERR_SASL_AUTHENTICATION_FAILED,
                "Authentication failed: invalid IAM token (%s)" % why)
    return 0, None


def sasl(cs, up, cfg):
    """Kafka's SASL exchange; True once authenticated."""
    mech, scram = None, None
    while True:
        frame = read_frame(cs)
        key, ver, corr, off = req_header(frame)
        if key == API_VERSIONS and mech is None:
            send_frame(up, frame)
            send_frame(cs, patch_api_versions(read_frame(up), ver))
        elif key == SASL_HANDSHAKE and mech is None and ver <= 1:
            (n,) = struct.unpack(">h", frame[off:off + 2])
            want = frame[off + 2:off + 2 + n].decode("utf-8", "replace")
            mechs = cfg["mechanisms"]
            err = 0 if want in mechs else ERR_UNSUPPORTED_SASL_MECHANISM
            send_frame(cs, struct.pack(">ih", corr, err) + struct.pack(">i", len(mechs)) +
                       b"".join(kstring(m) for m in mechs))
            if err:
                return False
            mech = want
            if mech.startswith("SCRAM-"):
                scram = Scram(mech, cfg["user"], cfg["password"])
        elif key == SASL_AUTHENTICATE and mech is not None and ver <= 1:
            (n,) = struct.unpack(">i", frame[off:off + 4])
            data = frame[off + 4:off + 4 + max(n, 0)]
            if scram:
                err, msg, out, done = scram.next(data)
            elif mech == "OAUTHBEARER":
                err, msg = oauthbearer(data, cfg)
                out, done = b"", True
            else:
                parts = data.split(b"\x00")
                ok = (len(parts) == 3 and parts[1].decode("utf-8", "replace") == cfg["user"]
                      and hmac.compare_digest(parts[2], cfg["password"].encode()))
                err = 0 if ok else ERR_SASL_AUTHENTICATION_FAILED
                msg = None if ok else "Authentication failed: Invalid username or password"
                out, done = b"", True
            body = struct.pack(">ih", corr, err)
            body += kstring(msg) if msg is not None else struct.pack(">h", -1)
            body += struct.pack(">i", len(out)) + out
            if ver >= 1:
                body += struct.pack(">q", 3600 * 1000 if err == 0 else 0)
            send_frame(cs, body)
            if err:
                return False
            if done:
                return True
        else:
            return False        # ILLEGAL_SASL_STATE: Kafka closes


def pump(a, b):
    socks = [a, b]
    while True:
        ready = [s for s in socks if isinstance(s, ssl.SSLSocket) and s.pending()]
        if not ready:
            ready, _, _ = select.select(socks, [], [], 60)
            if not ready:
                return
        for s in ready:
            data = s.recv(65536)
            if not data:
                return
            (b if s is a else a).sendall(data)


def handle(cs, mode, cfg, contexts):
    up = None
    try:
        cs.settimeout(30)
        if mode in contexts:
            cs = contexts[mode].wrap_socket(cs, server_side=True)
        host, port = cfg["upstream"].rsplit(":", 1)
        up = socket.create_connection((host, int(port)), timeout=30)
        if mode.startswith("sasl") and not sasl(cs, up, cfg):
            return
        cs.settimeout(None)
        up.settimeout(None)
        pump(cs, up)
    except (OSError, EOFError, ValueError, struct.error):
        pass
    finally:
        for s in (cs, up):
            try:
                if s:
                    s.close()
            except OSError:
                pass


def serve(ls, mode, cfg, contexts):
    while True:
        try:
            cs, _ = ls.accept()
        except OSError:
            return
        threading.Thread(target=handle, args=(cs, mode, cfg, contexts), daemon=True).start()


def main():
    cfg = json.loads(sys.stdin.readline())
    cfg.setdefault("mechanisms", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] +
                   (["OAUTHBEARER"] if "aws" in cfg else []))
    contexts = {}
    for mode in ("tls", "mtls", "sasl_ssl"):
        if mode in cfg["listeners"]:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cfg["cert"], cfg["key"])
            if mode == "mtls":
                ctx.verify_mode = ssl.CERT_REQUIRED
                ctx.load_verify_locations(cfg["client_ca"])
            contexts[mode] = ctx
    ports = []
    for mode in cfg["listeners"]:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", 0))
        ls.listen(16)
        ports.append("%s=%d" % (mode, ls.getsockname()[1]))
        threading.Thread(target=serve, args=(ls, mode, cfg, contexts), daemon=True).start()
    print("READY " + " ".join(ports), flush=True)
    # Until the test closes our stdin, or the lifetime ends.
    select.select([sys.stdin], [], [], float(cfg.get("lifetime", 120)))
    os._exit(0)


if __name__ == "__main__":
    main()
