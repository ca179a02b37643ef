#!/usr/bin/env python3
"""A faithful stand-in for SQL Server's login handshake ([MS-TDS] 2.2),
for the SQL SERVER validator's tests (no SQL Server package exists here).

It speaks TDS 7.4 on 127.0.0.1 (or --listen 127.0.0.2) at a free port:
  PRELOGIN (2.2.6.5): answers VERSION, ENCRYPTION, INSTOPT, THREADID, MARS;
    ENCRYPTION per --encrypt: "none" answers ENCRYPT_NOT_SUP (a client that
    insists on encryption must give up), "on" answers ENCRYPT_ON / ENCRYPT_REQ
    and runs the TLS handshake inside PRELOGIN packets (2.2.6.5, 3.3.5.2),
    then the rest of the connection in raw TLS records.
  LOGIN7 (2.2.6.4): decodes the offsets, the UCS-2 strings and the password
    obfuscation (nibble swap, XOR 0xA5), checks user, password and database.
  Reply (2.2.7): ENVCHANGE (database, packet size) + INFO 5701 + LOGINACK +
    DONE on success; ERROR 4060 for an unknown database and ERROR 18456
    "Login failed for user '<u>'." (class 14) + DONE(error) otherwise.
--mode garbage answers PRELOGIN with a malformed packet (a length field
larger than the packet) to exercise the client's handling of hostile peers.
--alt-cert/--alt-key: every second connection (the 2nd, 4th, ...) presents
this certificate instead, as a server whose certificate changes between a
client's probe and its login would (tests of certificate pinning).

Reads the expected password from the first line of stdin (never argv or a
file) and prints "PORT=<n>" on stdout once listening. Serves connections one after
another until --lifetime seconds pass or stdin reaches EOF (so the test
that started it can always end it), and appends one line per login to
--log if given (user and outcome, never the password)."""

import argparse
import os
import select
import socket
import ssl
import struct
import sys
import threading
import time

PRELOGIN, LOGIN7, REPLY = 0x12, 0x10, 0x04
ENCRYPT_OFF, ENCRYPT_ON, ENCRYPT_NOT_SUP, ENCRYPT_REQ = 0, 1, 2, 3


class Closed(Exception):
    pass


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise Closed()
        buf += chunk
    return buf


def read_packet(sock):
    """One TDS packet: 8-byte header (type, status, length BE, spid, id, window)."""
    hdr = read_exact(sock, 8)
    ptype, status, length = hdr[0], hdr[1], struct.unpack(">H", hdr[2:4])[0]
    if length < 8 or length > 32768:
        raise Closed()
    return ptype, status, read_exact(sock, length - 8)


def read_message(read):
    """Packets up to the one with status EOM (0x01)."""
    data, ptype = b"", None
    while True:
        t, status, payload = read()
        ptype = t if ptype is None else ptype
        data += payload
        if status & 0x01:
            return ptype, data


def packet(ptype, payload, packet_id=1):
    return struct.pack(">BBHHBB", ptype, 0x01, 8 + len(payload), 0, packet_id, 0) + payload


def prelogin_options(data):
    opts, i = {}, 0
    while i < len(data) and data[i] != 0xFF:
        if i + 5 > len(data):
            raise Closed()
        tok, off, ln = data[i], *struct.unpack(">HH", data[i + 1:i + 5])
        opts[tok] = data[off:off + ln]
        i += 5
    return opts


def prelogin_reply(encryption):
    items = [
        (0x00, bytes([15, 0, 0x07, 0xD0, 0, 0])),   # VERSION 15.0.2000.0
        (0x01, bytes([encryption])),                 # ENCRYPTION
        (0x02, b"\x00"),                             # INSTOPT: default instance
        (0x03, b""),                                 # THREADID
        (0x04, b"\x00"),                             # MARS off
    ]
    header_len = 5 * len(items) + 1
    head, body = b"", b""
    for tok, val in items:
        head += struct.pack(">BHH", tok, header_len + len(body), len(val))
        body += val
    return head + b"\xff" + body


def ucs2(s):
    return s.encode("utf-16-le")


def b_varchar(s):
    return bytes([len(s)]) + ucs2(s)


def us_varchar(s):
    return struct.pack("<H", len(s)) + ucs2(s)


def token(tok, body):
    return bytes([tok]) + struct.pack("<H", len(body)) + body


def envchange(kind, new, old):
    return token(0xE3, bytes([kind]) + b_varchar(new) + b_varchar(old))


def message(tok, number, state, cls, text, server="tdsfake"):
    body = (struct.pack("<IBB", number, state, cls) + us_varchar(text) + b_varchar(server)
            + b_varchar("") + struct.pack("<I", 1))
    return token(tok, body)


def loginack():
    body = (bytes([1]) + bytes([0x74, 0x00, 0x00, 0x04]) + b_varchar("Microsoft SQL Server")
            + bytes([15, 0, 0x07, 0xD0]))
    return token(0xAD, body)


def done(status):
    return bytes([0xFD]) + struct.pack("<HHQ", status, 0, 0)


def decode_password(raw):
    """[MS-TDS] 2.2.6.4: each byte had its nibbles swapped, then XOR 0xA5."""
    out = bytearray()
    for b in raw:
        b ^= 0xA5
        out.append(((b & 0x0F) << 4) | (b >> 4))
    return out.decode("utf-16-le")


def parse_login7(data):
    if len(data) < 94:
        raise Closed()
    (length,) = struct.unpack("<I", data[0:4])
    if length != len(data):
        raise Closed()
    fields = {}
    names = ["host", "user", "password", "app", "server", "extension", "library",
             "language", "database"]
    for i, name in enumerate(names):
        off, cch = struct.unpack("<HH", data[36 + 4 * i:40 + 4 * i])
        raw = data[off:off + 2 * cch] if name != "extension" else b""
        if off + 2 * cch > len(data):
            raise Closed()
        if name == "password":
            fields[name] = decode_password(raw)
        elif name != "extension":
            fields[name] = raw.decode("utf-16-le")
    fields["tds_version"] = struct.unpack("<I", data[4:8])[0]
    return fields


class Conn:
    def __init__(self, sock, args, log, alt=False):
        self.sock, self.args, self.log = sock, args, log
        self.alt = alt
        self.tls = None   # ssl.SSLObject once the handshake is done
        self.inc = self.out = None

    # -- TLS inside PRELOGIN packets, then raw TLS records -----------------
    def flush_tls(self, wrap):
        data = self.out.read()
        if data:
            self.sock.sendall(packet(PRELOGIN, data) if wrap else data)

    def handshake(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # TDS 7.x wraps only the handshake in PRELOGIN packets: SQL Server
        # negotiates at most TLS 1.2 there (1.3 needs TDS 8 "strict"),
        # whose post-handshake tickets would land in the wrong framing.
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        if self.alt:
            ctx.load_cert_chain(self.args.alt_cert, self.args.alt_key)
        else:
            ctx.load_cert_chain(self.args.cert, self.args.key)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(self.inc, self.out, server_side=True)
        while True:
            try:
                obj.do_handshake()
                self.flush_tls(True)
                break
            except ssl.SSLWantReadError:
                self.flush_tls(True)
                ptype, _, payload = read_packet(self.sock)
                if ptype != PRELOGIN:
                    raise Closed()
                self.inc.write(payload)
        self.tls = obj

    def tls_read(self, n):
        while True:
            try:
                data = self.tls.read(n)
                if not data:
                    raise Closed()
                return data
            except ssl.SSLWantReadError:
                chunk = self.sock.recv(16384)
                if not chunk:
                    raise Closed()
                self.inc.write(chunk)

    def read(self):
        if not self.tls:
            return read_packet(self.sock)
        hdr = b""
        while len(hdr) < 8:
            hdr += self.tls_read(8 - len(hdr))
        length = struct.unpack(">H", hdr[2:4])[0]
        payload = b""
        while len(payload) < length - 8:
            payload += self.tls_read(length - 8 - len(payload))
        return hdr[0], hdr[1], payload

    def send(self, data):
        if self.tls:
            self.tls.write(data)
            self.flush_tls(False)
        else:
            self.sock.sendall(data)

    # -- the login ---------------------------------------------------------
    def serve(self):
        ptype, data = read_message(lambda: read_packet(self.sock))
        if ptype != PRELOGIN:
            return
        opts = prelogin_options(data)
        client_enc = opts.get(0x01, b"\x02")[0] if opts.get(0x01) else ENCRYPT_NOT_SUP
        if self.args.mode == "garbage":
            self.sock.sendall(struct.pack(">BBHHBB", REPLY, 1, 4000, 0, 1, 0) + b"\xff" * 20)
            return
        if self.args.encrypt == "none":
            self.sock.sendall(packet(REPLY, prelogin_reply(ENCRYPT_NOT_SUP)))
            if client_enc in (ENCRYPT_ON, ENCRYPT_REQ):
                return   # the client wanted encryption: it gives up
        else:
            if client_enc == ENCRYPT_NOT_SUP:
                # The server requires encryption: answer, then end (3.3.5.1).
                self.sock.sendall(packet(REPLY, prelogin_reply(ENCRYPT_REQ)))
                self.log_line("-", "rejected: client does not support encryption")
                return
            self.sock.sendall(packet(REPLY, prelogin_reply(ENCRYPT_ON)))
            try:
                self.handshake()
            except (ssl.SSLError, OSError, Closed) as e:
                # Closed: the client hung up mid-handshake (it refused
                # the certificate without an alert).
                self.log_line("-", "tls failed: %s" % (e or "closed"))
                return
        ptype, data = read_message(self.read)
        if ptype != LOGIN7:
            return
        f = parse_login7(data)
        ok_user = f["user"] == self.args.user and f["password"] == self.args.password
        if not ok_user:
            err = message(0xAA, 18456, 1, 14, "Login failed for user '%s'." % f["user"])
            self.send(packet(REPLY, err + done(0x0002)))
            self.log_line(f["user"], "login failed")
            return
        if f["database"] and f["database"] != self.args.database:
            err = message(0xAA, 4060, 1, 11, 'Cannot open database "%s" requested by the '
                          'login. The login failed.' % f["database"])
            err += message(0xAA, 18456, 1, 14, "Login failed for user '%s'." % f["user"])
            self.send(packet(REPLY, err + done(0x0002)))
            self.log_line(f["user"], "no database")
            return
        db = f["database"] or "master"
        reply = (envchange(1, db, "master")
                 + message(0xAB, 5701, 2, 0, "Changed database context to '%s'." % db)
                 + loginack() + envchange(4, "4096", "4096") + done(0x0000))
        self.send(packet(REPLY, reply))
        self.log_line(f["user"], "ok db=%s tls=%s" % (db, "yes" if self.tls else "no"))
        # Stay until the client leaves (it closes after a successful login).
        try:
            while True:
                self.read()
        except (Closed, OSError, ssl.SSLError):
            pass

    def log_line(self, user, what):
        if self.log:
            with open(self.log, "a") as f:
                f.write("%s %s\n" % (user, what))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--user", required=True)
    ap.add_argument("--database", default="app")
    ap.add_argument("--encrypt", choices=["none", "on"], default="none")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--alt-cert")
    ap.add_argument("--alt-key")
    ap.add_argument("--mode", choices=["normal", "garbage"], default="normal")
    ap.add_argument("--lifetime", type=float, default=120.0)
    ap.add_argument("--log")
    ap.add_argument("--listen", default="127.0.0.1", choices=["127.0.0.1", "127.0.0.2"])
    args = ap.parse_args()
    # The password is the first line of stdin: never an argument or a file.
    line = b""
    while not line.endswith(b"\n"):
        ch = os.read(sys.stdin.fileno(), 1)
        if not ch:
            break
        line += ch
    args.password = line.decode().rstrip("\n")

    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((args.listen, 0))
    ls.listen(8)
    print("PORT=%d" % ls.getsockname()[1], flush=True)

    deadline = time.monotonic() + args.lifetime
    count = 0
    while time.monotonic() < deadline:
        r, _, _ = select.select([ls, sys.stdin], [], [], 0.5)
        if sys.stdin in r and not os.read(sys.stdin.fileno(), 1):
            break
        if ls in r:
            c, _ = ls.accept()
            c.settimeout(30)
            count += 1
            alt = bool(args.alt_cert) and count % 2 == 0

            def run(c=c, alt=alt):
                try:
                    Conn(c, args, args.log, alt).serve()
                except (Closed, OSError, ssl.SSLError, ValueError, UnicodeDecodeError):
                    pass
                finally:
                    c.close()
            threading.Thread(target=run, daemon=True).start()


if __name__ == "__main__":
    main()
