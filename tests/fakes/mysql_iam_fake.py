#!/usr/bin/env python3
"""A MySQL server doing what Amazon RDS does for IAM database authentication,
on the wire (MySQL client/server protocol): handshake v10 (default plugin
mysql_native_password, CLIENT_SSL), SSLRequest then TLS (Python's ssl), the
HandshakeResponse41; unless the client already answered with
mysql_clear_password, an AuthSwitchRequest to mysql_clear_password; the
password is an RDS auth token, "<host>:<port>/?Action=connect&DBUser=<user>&
X-Amz-...&X-Amz-Signature=<sig>", whose SigV4 signature (service rds-db) is
recomputed here with the test's secret key. OK, or ERR 1045 (28000).
Loopback, driven by the tests.

stdin, first line: JSON
  {"cert": PEM path, "key": PEM path, "tls": true, "host": "127.0.0.1",
   "user": "...", "access_key_id": "...", "secret_access_key": "...",
   "session_token": null or "...", "region": "us-east-1", "lifetime": 60,
   "strip_tls_after_first": false}
  strip_tls_after_first: TLS on the first connection only, then greetings
  without CLIENT_SSL (an attacker stripping TLS after a client's probe).
stdout: "READY port=P", then one line per authentication:
  "AUTH ok user=U" / "AUTH fail reason=R" / "PLAINTEXT-CLOSED" (a client
  that did not ask for TLS: closed before any credential).
Exits when stdin closes or after `lifetime` seconds. Secrets come through
stdin, never argv.
"""
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

CLIENT_LONG_PASSWORD, CLIENT_CONNECT_WITH_DB, CLIENT_PROTOCOL_41 = 0x1, 0x8, 0x200
CLIENT_SSL, CLIENT_SECURE_CONNECTION, CLIENT_PLUGIN_AUTH = 0x800, 0x8000, 0x80000
CLIENT_CONNECT_ATTRS, CLIENT_LENENC_DATA = 0x100000, 0x200000
CLIENT_TRANSACTIONS = 0x2000

LOCK = threading.Lock()


def say(line):
    with LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def read_packet(s):
    hdr = recv_exact(s, 4)
    n = hdr[0] | hdr[1] << 8 | hdr[2] << 16
    return hdr[3], recv_exact(s, n)


def send_packet(s, seq, payload):
    s.sendall(struct.pack("<I", len(payload))[:3] + bytes([seq & 0xFF]) + payload)


def lenenc(b, off):
    c = b[off]
    if c < 0xFB:
        return c, off + 1
    if c == 0xFC:
        return struct.unpack("<H", b[off + 1:off + 3])[0], off + 3
    if c == 0xFD:
        return int.from_bytes(b[off + 1:off + 4], "little"), off + 4
    return struct.unpack("<Q", b[off + 1:off + 9])[0], off + 9


def cstr(b, off):
    end = b.index(b"\x00", off)
    return b[off:end], end + 1


def greeting(tls):
    caps = (CLIENT_LONG_PASSWORD | CLIENT_CONNECT_WITH_DB | CLIENT_PROTOCOL_41 |
            CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH |
            CLIENT_CONNECT_ATTRS | CLIENT_LENENC_DATA | (CLIENT_SSL if tls else 0))
    scramble = os.urandom(20).replace(b"\x00", b"\x01")
    return (b"\x0a" + b"8.0.36-tether-rds-iam-fake\x00" + struct.pack("<I", 7) + scramble[:8] +
            b"\x00" + struct.pack("<H", caps & 0xFFFF) + bytes([45]) + struct.pack("<H", 2) +
            struct.pack("<H", caps >> 16) + bytes([21]) + b"\x00" * 10 + scramble[8:] +
            b"\x00" + b"mysql_native_password\x00"), scramble


def parse_response(p):
    """user, auth data, plugin name of a HandshakeResponse41."""
    caps = struct.unpack("<I", p[:4])[0]
    off = 32
    user, off = cstr(p, off)
    if caps & CLIENT_LENENC_DATA:
        n, off = lenenc(p, off)
    elif caps & CLIENT_SECURE_CONNECTION:
        n, off = p[off], off + 1
    else:
        n = p.index(b"\x00", off) - off
    auth = p[off:off + n]
    off += n
    if not caps & CLIENT_SECURE_CONNECTION and not caps & CLIENT_LENENC_DATA:
        off += 1
    if caps & CLIENT_CONNECT_WITH_DB and off < len(p):
        _, off = cstr(p, off)
    plugin = b""
    if caps & CLIENT_PLUGIN_AUTH and off < len(p):
        plugin, off = cstr(p, off)
    return user.decode("utf-8", "replace"), auth, plugin.decode("ascii", "replace")


def verify_token(token, cfg, port, user):
    """None if the RDS auth token is valid, else why not."""
    hostport, sep, query = token.partition("/?")
    if not sep:
        return "not a token"
    if hostport != "%s:%d" % (cfg["host"], port):
        return "signed for another host: " + hostport
    q = dict(urllib.parse.parse_qsl(query, keep_blank_values=True, strict_parsing=True))
    if q.get("Action") != "connect" or q.get("DBUser") != user:
        return "wrong Action or DBUser"
    return sigv4_check.verify(hostport, "/", q, cfg, "rds-db")


def handle(cs, cfg, ctx, port):
    try:
        cs.settimeout(15)
        hello, scramble = greeting(ctx is not None)
        send_packet(cs, 0, hello)
        seq, p = read_packet(cs)
        caps = struct.unpack("<I", p[:4])[0]
        if len(p) == 32 and caps & CLIENT_SSL and ctx is not None:
            cs = ctx.wrap_socket(cs, server_side=True)
            seq, p = read_packet(cs)
        elif ctx is not None or len(p) == 32:
            say("PLAINTEXT-CLOSED")
            return
        else:
            say("PLAINTEXT-RESPONSE")
        user, auth, plugin = parse_response(p)
        seq += 1
        if plugin != "mysql_clear_password":
            send_packet(cs, seq, b"\xfe" + b"mysql_clear_password\x00" + scramble + b"\x00")
            seq, auth = read_packet(cs)
            seq += 1
        token = auth.rstrip(b"\x00").decode("utf-8", "replace")
        why = verify_token(token, cfg, port, user) if user == cfg["user"] else "unknown user"
        if why is None:
            say("AUTH ok user=%s" % user)
            send_packet(cs, seq, b"\x00\x00\x00" + struct.pack("<HH", 2, 0))
            try:
                read_packet(cs)             # COM_QUIT
            except (OSError, EOFError):
                pass
        else:
            say("AUTH fail reason=%s" % why.replace(" ", "_"))
            msg = "Access denied for user '%s'@'127.0.0.1' (using password: YES)" % user
            send_packet(cs, seq, b"\xff" + struct.pack("<H", 1045) + b"#28000" + msg.encode())
    except (OSError, EOFError, ValueError, IndexError, struct.error, ssl.SSLError):
        pass
    finally:
        try:
            cs.close()
        except OSError:
            pass


def main():
    cfg = json.loads(sys.stdin.readline())
    ctx = None
    if cfg.get("tls", True):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cfg["cert"], cfg["key"])
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    port = ls.getsockname()[1]

    def serve():
        while True:
            try:
                cs, _ = ls.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(cs, cfg, ctx, port), daemon=True).start()

    count = [0]

    def serve_counted():
        while True:
            try:
                cs, _ = ls.accept()
            except OSError:
                return
            count[0] += 1
            c = None if cfg.get("strip_tls_after_first") and count[0] > 1 else ctx
            threading.Thread(target=handle, args=(cs, cfg, c, port), daemon=True).start()

    threading.Thread(target=serve_counted, daemon=True).start()
    say("READY port=%d" % port)
    select.select([sys.stdin], [], [], float(cfg.get("lifetime", 60)))
    os._exit(0)


if __name__ == "__main__":
    main()
