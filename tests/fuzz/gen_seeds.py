#!/usr/bin/env python3
"""Writes the committed seed corpora and dictionaries of tests/fuzz from
the conformance files (tests/conformance/*.test) and hand-made cases.
Deterministic: rerun after grammar changes and commit the result.
Binary targets (IPC, vault) get their seeds from the harnesses' own
encoders: see the comments of each section.

Usage: tests/fuzz/gen_seeds.py            (from anywhere)"""
import glob
import os
import re
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")
DICT = os.path.join(HERE, "dict")


def conformance_sql():
    """Every SQL text of a statement/query record, in file order."""
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, "tests/conformance/*.test"))):
        lines = open(path, encoding="utf-8").read().split("\n")
        i = 0
        while i < len(lines):
            l = lines[i]
            if l.startswith("statement") or l.startswith("query") or l.startswith("bind"):
                i += 1
                while i < len(lines) and (lines[i].startswith("detail ") or
                                          lines[i].startswith("hint ") or
                                          lines[i].startswith("notice ")):
                    i += 1
                sql = []
                while i < len(lines) and lines[i].strip() and lines[i] != "----":
                    sql.append(lines[i])
                    i += 1
                text = "\n".join(sql)
                if "${" not in text and text:
                    out.append(text)
            i += 1
    return out


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def pick(items, pred, n):
    """Up to n distinct items matching pred, spread over the list."""
    sel = []
    seen = set()
    for s in items:
        if pred(s) and s not in seen:
            seen.add(s)
            sel.append(s)
    if len(sel) <= n:
        return sel
    step = len(sel) / n
    return [sel[int(k * step)] for k in range(n)]


# ---- (2) SQL: connection and role grammar ---------------------------------
SQL_EXTRA = [
    "CREATE ROLE r1 WITH LOGIN SUPERUSER",
    "ALTER ROLE r1 WITH NOSUPERUSER INHERIT",
    "GRANT USAGE ON CONNECTION c TO r1",
    "GRANT CREATE ON SCHEMA public TO r1, r2",
    "REVOKE ALL PRIVILEGES ON SECRET s FROM PUBLIC",
    "ALTER DEFAULT PRIVILEGES FOR ROLE r1 IN SCHEMA public GRANT USAGE ON CONNECTIONS TO r2",
    "SET ROLE r1; RESET ROLE; SHOW ROLE",
    "CREATE CONNECTION c TO SSH TUNNEL (HOST 'h', USER 'u', PORT 22)",
    "ALTER CONNECTION c ROTATE KEYS",
    "ALTER CONNECTION c SET (PORT = 2222), RESET (USER), DROP (HOST) WITH (VALIDATE = false)",
    "VALIDATE CONNECTION c",
    "SHOW CREATE CONNECTION c",
    "ALTER SYSTEM SET max_secrets = 1000",
    "ALTER SYSTEM RESET ALL",
    "CREATE SECRET IF NOT EXISTS s AS decode('aGk=', 'base64') || 'x'::bytea",
    "SELECT name FROM mz_connections WHERE name LIKE 'c%' ORDER BY 1 LIMIT 5",
]


def gen_sql(stmts):
    conn = pick(stmts, lambda s: re.search(r"\b(CONNECTION|ROLE|GRANT|REVOKE|OWNER)\b", s), 28)
    for k, s in enumerate(conn + SQL_EXTRA):
        put("fuzz_sql_parse", "conn_role_%02d" % k, s)


# ---- (3) planner: CREATE / ALTER CONNECTION ---------------------------------
def gen_plan(stmts):
    sel = pick(stmts, lambda s: re.match(r"\s*(CREATE|ALTER) CONNECTION", s, re.I) and ";" not in s.rstrip(";"), 40)
    for k, s in enumerate(sel):
        put("fuzz_plan_conn", "stmt_%02d" % k, s)
    # statements that name the fake resolver's objects (fuzz_plan_conn.c)
    for k, s in enumerate([
        "ALTER CONNECTION pg SET (PORT = 5433)",
        "ALTER CONNECTION kafka RESET (BROKER), SET (BROKERS ('a:1' USING SSH TUNNEL ssh))",
        "ALTER CONNECTION ssh SET (HOST = 'other')",
        "CREATE CONNECTION c TO POSTGRES (HOST 'h', PASSWORD SECRET pw, SSH TUNNEL ssh, DATABASE d)",
        "CREATE CONNECTION c TO KAFKA (BROKERS ('a:9092' USING AWS PRIVATELINK pl (AVAILABILITY ZONE 'use1-az1')), SASL MECHANISMS 'PLAIN', SASL USERNAME 'u', SASL PASSWORD SECRET pw)",
        "CREATE CONNECTION c TO AWS (ACCESS KEY ID = 'AKIA', SECRET ACCESS KEY = SECRET s1, REGION 'us-east-1')",
        "CREATE CONNECTION c TO ICEBERG CATALOG (CATALOG TYPE 'REST', URL 'https://x', CREDENTIAL = 'id:' || SECRET s1, WAREHOUSE 'w')",
        "CREATE CONNECTION c TO CONFLUENT SCHEMA REGISTRY (URL 'https://r', USERNAME 'u', PASSWORD SECRET pw)",
    ]):
        put("fuzz_plan_conn", "named_%02d" % k, s)


# ---- (1) pgwire streams -------------------------------------------------
def startup(user="materialize", db="materialize", extra=()):
    body = struct.pack(">I", 196608)
    for k, v in (("user", user), ("database", db)) + tuple(extra):
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    return struct.pack(">I", len(body) + 4) + body


def msg(t, body):
    return t.encode() + struct.pack(">I", len(body) + 4) + body


def cstr(s):
    return s.encode() + b"\0"


def query(sql):
    return msg("Q", cstr(sql))


def parse(name, sql, types=()):
    return msg("P", cstr(name) + cstr(sql) + struct.pack(">H", len(types)) +
               b"".join(struct.pack(">I", t) for t in types))


def bind(portal, stmt, params):
    b = cstr(portal) + cstr(stmt) + struct.pack(">H", 0) + struct.pack(">H", len(params))
    for p in params:
        if p is None:
            b += struct.pack(">i", -1)
        else:
            b += struct.pack(">I", len(p)) + p.encode()
    return msg("B", b + struct.pack(">H", 0))


def describe(kind, name):
    return msg("D", kind.encode() + cstr(name))


def execute(portal):
    return msg("E", cstr(portal) + struct.pack(">I", 0))


def gen_pgwire(stmts):
    ssl = struct.pack(">II", 8, 80877103)
    cancel = struct.pack(">IIII", 16, 80877102, 1, 2)
    s = startup()
    put("fuzz_pgwire", "ssl_then_startup", ssl + s + query("SELECT 1") + msg("X", b""))
    put("fuzz_pgwire", "cancel", cancel)
    put("fuzz_pgwire", "bad_version", struct.pack(">II", 8, 0x00020000))
    put("fuzz_pgwire", "app_name", startup(extra=(("application_name", "psql"),
                                                  ("client_encoding", "UTF8"))) + query("SHOW ALL"))
    put("fuzz_pgwire", "unknown_role", startup(user="nobody") + query("SELECT 1"))
    put("fuzz_pgwire", "extended",
        s + parse("s1", "SELECT name FROM mz_secrets WHERE name = $1", (25,)) +
        describe("S", "s1") + bind("p1", "s1", ["x"]) + describe("P", "p1") +
        execute("p1") + msg("C", b"P" + cstr("p1")) + msg("C", b"S" + cstr("s1")) +
        msg("S", b"") + msg("H", b""))
    put("fuzz_pgwire", "extended_error_sync",
        s + parse("", "SELEKT") + bind("", "", []) + execute("") + msg("S", b"") + query("SELECT 2"))
    put("fuzz_pgwire", "bind_null", s + parse("", "SELECT $1::text") + bind("", "", [None]) +
        execute("") + msg("S", b""))
    put("fuzz_pgwire", "secret_prepared",
        s + parse("sec", "CREATE SECRET s AS $1") + bind("", "sec", ["v"]) + execute("") +
        msg("S", b""))
    put("fuzz_pgwire", "txn_block", s + query("BEGIN; SHOW SECRETS; COMMIT") +
        query("BEGIN") + query("SELECT 1/0") + query("ROLLBACK"))
    put("fuzz_pgwire", "empty_query", s + query("") + query(";;"))
    put("fuzz_pgwire", "bad_type", s + msg("Z", b"") + query("SELECT 1"))
    ddl = pick(stmts, lambda x: re.match(r"\s*(CREATE|ALTER|DROP|SHOW|SELECT|SET|GRANT)", x), 18)
    for k, sql in enumerate(ddl):
        put("fuzz_pgwire", "q_%02d" % k, s + query(sql))


# ---- dictionaries -------------------------------------------------------
def keywords(stmts):
    words = set()
    for st in stmts:
        for w in re.findall(r"\b[A-Z][A-Z_]+\b", st):
            words.add(w)
    for src in glob.glob(os.path.join(ROOT, "catalog/sql/*.c")) + \
            glob.glob(os.path.join(ROOT, "catalog/conn/*.c")):
        for w in re.findall(r'"([A-Z][A-Z_ ]*[A-Z])"', open(src, encoding="utf-8").read()):
            words.update(w.split())
    return sorted(words)


def write_dict(name, entries):
    os.makedirs(DICT, exist_ok=True)
    with open(os.path.join(DICT, name + ".dict"), "w") as f:
        f.write("# generated by gen_seeds.py\n")
        for e in entries:
            esc = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "\\x%02x" % ord(c)
                          for c in e)
            f.write('"%s"\n' % esc)


def gen_dicts(stmts):
    kw = keywords(stmts)
    punct = ["'", "''", "\"", "(", ")", ",", ";", "=", "||", "::", "$1", "E'", "/*", "*/",
             "--", "decode(", "'base64'", "'hex'"]
    objects = ["pw", "s1", "s2", "ssh", "pl", "aws", "pg", "kafka", "materialize.public."]
    write_dict("fuzz_sql_parse", kw + punct)
    write_dict("fuzz_plan_conn", kw + punct + objects)
    write_dict("fuzz_val_replies", [
        '"access_token"', '"token_type"', '"expires_in"', '"defaults"', '"overrides"',
        '"namespaces"', '"error"', '"error_description"', '"message"', '"error_code"',
        "<AssumeRoleResponse>", "<AssumeRoleResult>", "<Credentials>", "<AccessKeyId>",
        "<SecretAccessKey>", "<SessionToken>", "<Expiration>", "<GetCallerIdentityResponse>",
        "<GetCallerIdentityResult>", "<Arn>", "<Account>", "<ErrorResponse>", "<Error>",
        "<Code>", "<Message>", "</", "<![CDATA[", "&amp;", "\\u0000", "null", "true", "[]", "{}",
        "Sup3r-S3cret-Passw0rd", "client-id-007:client-secret-XYZ",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYFUZZKEY", "FwoGZXIvYXdzEFUZZTOKEN"])
    write_dict("fuzz_pgwire", ["\x00\x03\x00\x00", "user\x00", "database\x00",
                               "application_name\x00", "materialize\x00",
                               "Q", "P", "B", "D", "E", "S", "C", "H", "X",
                               "\x00\x00\x00\x04", "\x00\x00\x00\x19"] + kw[:120])


# ---- (4) IPC: one envelope per permitted kind, per channel end ----------
def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def f_varint(num, v):
    return varint(num << 3) + varint(v)


def f_bytes(num, b):
    if isinstance(b, str):
        b = b.encode()
    return varint(num << 3 | 2) + varint(len(b)) + b


def envelope(rid, body_num, body):
    return f_varint(1, rid) + f_bytes(body_num, body)


IPC = {
    # (channel index, end): [(name, body field, body bytes)]
    (0, 0): [("health", 3, f_bytes(1, "catalog") + f_varint(2, 42)),
             ("spawn_validator", 18, f_varint(1, 7) + f_varint(2, 12) +
              f_bytes(3, f_varint(1, 3) + f_varint(2, 9)) + f_bytes(5, "db:5432") + f_varint(6, 5000)),
             ("cancel_job", 21, f_varint(1, 7))],
    (0, 1): [("health", 3, f_bytes(1, "tetherd")),
             ("new_peer_channel", 12, f_bytes(1, "vault") + f_varint(2, 2)),
             ("validator_channel", 19, f_varint(1, 7)),
             ("job_ended", 20, f_varint(1, 7) + f_varint(2, 1) + f_varint(8, 120)),
             ("children_status", 60, f_bytes(1, f_bytes(1, "vault") + f_varint(2, 99)) + f_varint(3, 1))],
    (1, 0): [("health", 3, f_bytes(1, "vault")),
             ("reply_ok", 2, f_varint(1, 1)),
             ("kill_validator", 24, f_varint(1, 7) + f_bytes(2, "secret_not_granted"))],
    (1, 1): [("grant", 22, f_varint(1, 7) + f_varint(2, 12) + f_bytes(3, f_varint(1, 3)) +
              f_bytes(4, f_varint(1, 12) + f_bytes(2, b"\x01\x02")) + f_bytes(5, "db:5432") +
              f_varint(6, 123456)),
             ("revoke", 23, f_varint(1, 7)),
             ("audit_event", 11, f_bytes(1, "child_exit") + f_bytes(4, "role=catalog status=0"))],
    (2, 0): [("reply_err", 2, f_bytes(2, "XX000") + f_bytes(3, "internal error")),
             ("meta_page", 8, f_bytes(1, f_varint(1, 3) + f_varint(2, 4) + f_varint(3, 1) + f_varint(4, 7)) + f_varint(2, 1)),
             ("reconcile_result", 10, f_varint(1, 2) + f_bytes(2, varint(5) + varint(6)) + f_varint(3, 9) + f_varint(4, 11)),
             ("ssh_public_keys", 17, f_varint(1, 12) + f_bytes(2, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGk tether")),
             ("vault_status", 62, f_varint(1, 1) + f_varint(2, 1) + f_varint(3, 10)),
             ("key_rotation_progress", 41, f_bytes(1, "data") + f_varint(2, 2) + f_bytes(3, "running"))],
    (2, 1): [("put_secret", 4, f_varint(1, 3) + f_varint(2, 4) + f_varint(3, 7) + f_bytes(5, "hunter2") +
              f_varint(6, 1) + f_bytes(7, "pw") + f_bytes(8, "materialize")),
             ("put_chunk", 4, f_varint(1, 3) + f_varint(2, 5) + f_varint(3, 100000) + f_varint(4, 49152) + f_bytes(5, "x" * 64)),
             ("commit_secret", 5, f_varint(1, 3) + f_varint(2, 4)),
             ("delete_secret", 6, f_varint(1, 3) + f_bytes(2, "pw")),
             ("list_meta", 7, f_varint(1, 0) + f_varint(2, 500)),
             ("reconcile", 9, f_bytes(1, f_varint(1, 3) + f_varint(2, 4)) + f_varint(2, 1) + f_bytes(3, varint(12)) + f_varint(4, 1)),
             ("audit_event", 11, f_bytes(1, "rename_secret") + f_bytes(2, "materialize") + f_bytes(3, "u3")),
             ("generate_ssh_keys", 13, f_varint(1, 12) + f_bytes(2, "ssh")),
             ("rotate_ssh_keys", 14, f_varint(1, 12)),
             ("delete_ssh_keys", 15, f_varint(1, 12)),
             ("get_ssh_public_keys", 16, f_varint(1, 12)),
             ("vault_status_request", 61, b""),
             ("rotate_key", 40, f_bytes(1, "data") + f_bytes(2, "materialize"))],
    (3, 0): [("job_spec", 29, f_varint(1, 7) + f_varint(2, 12) + f_bytes(3, "postgres") +
              f_bytes(4, f_bytes(1, "HOST") + f_bytes(2, f_bytes(1, "db"))) + f_varint(6, 5000) + f_bytes(7, "db:5432"))],
    (3, 1): [("job_result", 30, f_varint(1, 7) + f_bytes(2, "auth") + f_bytes(3, "db:5432") + f_bytes(5, "08004") +
              f_bytes(6, "password authentication failed"))],
    (4, 0): [("credential_value", 26, f_varint(1, 3) + f_varint(2, 7) + f_bytes(4, "hunter2") + f_varint(5, 1)),
             ("ssh_signature", 28, f_bytes(1, b"\x00" * 64)),
             ("reply_denied", 2, f_bytes(2, "42501") + f_bytes(3, "vault: request outside the validator's grant"))],
    (4, 1): [("get_credential", 25, f_varint(1, 3) + f_bytes(2, "db:5432")),
             ("ssh_sign", 27, f_varint(1, 12) + f_varint(2, 1) + f_bytes(3, b"\x00\x00\x00\x14" + b"s" * 20) + f_bytes(4, "bastion:22"))],
}


def gen_ipc():
    for (ch, end), msgs in sorted(IPC.items()):
        for name, num, body in msgs:
            put("fuzz_ipc_decode", "ch%d_%s_%s" % (ch, "ab"[end], name),
                bytes([ch << 1 | end]) + envelope(9, num, body))
    # not permitted at that end, undecodable, fd-carrier kinds elsewhere
    put("fuzz_ipc_decode", "ch2_a_put_secret_denied", bytes([2 << 1]) + envelope(1, 4, f_varint(1, 1)))
    put("fuzz_ipc_decode", "truncated", bytes([2 << 1 | 1]) + envelope(1, 4, f_varint(1, 1))[:-1])


# ---- (5) vault session: op streams (see fuzz_vault_session.c's switch) ---
def gen_vault_session():
    P, PC, COMMIT, DEL, LIST, AUDIT, SSH, REC, RAWC, GRANT, REVOKE, GET, SIGN, VAL, SLEEP, NEWCH = \
        0, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 16, 17, 18, 19
    seeds = {
        # put id1 (v1), commit, grant job1 {1} dest0 far, get it (granted), get id2 (denied)
        "put_grant_get": [P, 0, 0, 5, 1, 2, 0, COMMIT, 0, 0, 1, GRANT, 0, 0x01, 0, 0x01, 10,
                          GET, 0, 0, 0, GET, 0, 0, 1],
        # wrong destination
        "get_wrong_dest": [P, 0, 0, 5, 1, 2, 0, GRANT, 0, 0x01, 0, 0x01, 10, GET, 0, 2, 0],
        # grant with a 3 ms deadline, sleep, get (after deadline)
        "after_deadline": [P, 1, 0, 3, 0, 0, 0, GRANT, 1, 0x02, 0, 0x01, 203, SLEEP, 7, GET, 1, 0, 1],
        # ssh keys for conn 10, grant slot 1, sign a well-formed request, then slot 2 (not granted)
        "ssh_sign": [SSH, 0, 0, 0, 0, GRANT, 2, 0, 0x01, 0x02, 10,
                     SIGN, 2, 1, 0x02, 0, 0, 30] + [7] * 30 + [2, 117, 0,
                     SIGN, 2, 1, 0x03, 0, 0, 30] + [7] * 30 + [2, 117, 0],
        # rotate keys between grant and sign
        "ssh_rotate": [SSH, 0, 0, 0, 0, SSH, 1, 0, 0, GRANT, 0, 0, 0x03, 0x02, 10,
                       SIGN, 0, 1, 0x06, 0, 0, 20] + [1] * 20 + [1, 117],
        # chunked put with a bad offset, reconcile keeping nothing, list
        "chunks_reconcile": [PC, 0, 0, 40, 1, 1, 3, 0x00, 10, 0x01, 99, 5, 0x08, 30,
                             REC, 0, 1, 0x10, LIST, 0, 0, 2],
        # raw junk on the catalog channel (violation), then a new channel
        "violation": [RAWC, 4, 0xff, 0xff, 0xff, 0xff, NEWCH, P, 0, 0, 1, 0, 0, 0],
        # revoke then use; delete then get
        "revoke_delete": [P, 2, 0, 1, 0, 0, 0, GRANT, 2, 0x04, 0, 0x03, 0, GET, 2, 1, 3,
                          DEL, 0, 2, GET, 2, 1, 3, REVOKE, 2, GET, 2, 1, 3],
        "audit_event": [AUDIT, 3, 1, 2, 3, 2, 4, 5, 1, 0, 4, 1, 1, 1, 1],
        # validator raw packet and hang-up
        "validator_raw": [GRANT, 0, 0x01, 0, 0x01, 0, VAL, 0, 0, 3, 0x0a, 0x01, 0x00,
                          GRANT, 1, 0x01, 0, 0x01, 0, VAL, 1, 1],
    }
    for name, ops in seeds.items():
        put("fuzz_vault_session", name, bytes(ops))


# ---- (6) vault files -----------------------------------------------------
def gen_vault_files():
    # mode 1/2: built logs: header kept, real frames 0..3, a DEL body, a junk body
    dele = bytes([2]) + struct.pack("<QQ", 1, 0)
    raw = bytes([3]) + struct.pack("<QQI", 10, 9, 1) + b"payload"
    put("fuzz_vault_files", "secrets_real", bytes([1, 0, 0, 1, 2, 3]))
    put("fuzz_vault_files", "secrets_del", bytes([1, 0, 0, 1, 100, len(dele)]) + dele + bytes([2]))
    put("fuzz_vault_files", "secrets_maxima", bytes([1, 1]) + struct.pack("<QQ", 2**63, 5) + bytes([0, 1]))
    put("fuzz_vault_files", "ssh_real", bytes([2, 0, 0, 1, 2]))
    put("fuzz_vault_files", "ssh_raw", bytes([2, 0, 100, len(raw)]) + raw + bytes([0]))
    put("fuzz_vault_files", "secrets_torn", bytes([1, 0, 0, 1, 249, 9]) + b"123456789")
    # mode 0 / 3: files as given
    put("fuzz_vault_files", "raw_header", bytes([0]) + b"TSECLOG1" + b"\0" * 32)
    line = b"seq=1 ts=2026-01-01T00:00:00.000Z event=vault_start prev=" + b"0" * 64 + b" hash=" + b"0" * 64 + b"\n"
    put("fuzz_vault_files", "audit_raw", bytes([3]) + line)
    # mode 4: chained lines around text
    put("fuzz_vault_files", "audit_chain", bytes([4, 11]) + b"vault_start" + bytes([1, 8]) + b"grant jo" + bytes([1, 3]) + b"ddl" + bytes([3]))
    put("fuzz_vault_files", "keyring_junk", bytes([5]) + b"TKEYRNG1" + b"\0" * 40)
    put("fuzz_vault_files", "pubkey_openssh", bytes([6]) + b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl tether-audit")
    put("fuzz_vault_files", "pubkey_hex", bytes([6]) + b"e32aaa7915ceb9b449d1ba50ea2a28bb1a6e01f90bda245a2d1d87697d18a265")


# ---- (7) SSH sign: control byte + the userauth seeds -----------------------
def gen_ssh_sign():
    d = os.path.join(CORPUS, "fuzz_ssh_userauth")
    for f in sorted(os.listdir(d)):
        data = open(os.path.join(d, f), "rb").read()
        for c in (0x01, 0x05, 0x06, 0x0D, 0x15):
            put("fuzz_ssh_sign", "%s_%02x" % (f, c), bytes([c]) + data)


# ---- (8) validator replies: job byte, then replies (how, len16, body) ------
def reply(status_idx, ctype_idx, body):
    if isinstance(body, str):
        body = body.encode()
    return bytes([ctype_idx << 4 | status_idx]) + struct.pack("<H", len(body)) + body


def gen_val_replies():
    sts_ok = ('<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
              '<GetCallerIdentityResult><Arn>arn:aws:iam::1:user/u</Arn><UserId>AID</UserId>'
              '<Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>')
    assume = ('<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIA1</AccessKeyId>'
              '<SecretAccessKey>sk</SecretAccessKey><SessionToken>tok</SessionToken>'
              '<Expiration>2030-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>')
    sts_err = ('<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>'
               '<Message>User is not authorized to perform sts:AssumeRole</Message></Error></ErrorResponse>')
    seeds = {
        "csr_ok": bytes([0]) + reply(0, 1, '["orders-value","users-value"]'),
        "csr_401": bytes([0]) + reply(3, 1, '{"error_code":40101,"message":"Unauthorized Sup3r-S3cret-Passw0rd"}'),
        "csr_html": bytes([0]) + reply(6, 3, "<html><body>Bad gateway</body></html>"),
        "csr_tls": bytes([0, 243]),
        "ice_rest_ok": bytes([1]) + reply(0, 0, '{"access_token":"eyJ","token_type":"bearer","expires_in":3600}') +
        reply(0, 0, '{"defaults":{},"overrides":{"prefix":"p"}}') + reply(0, 0, '{"namespaces":[["a"],["b","c"]]}'),
        "ice_rest_bad_token": bytes([1]) + reply(8, 0, '{"error":"invalid_client","error_description":"client-id-007:client-secret-XYZ"}'),
        "ice_s3_ok": bytes([2]) + reply(0, 0, '{"defaults":{},"overrides":{}}') + reply(0, 0, '{"namespaces":[]}'),
        "ice_s3_denied": bytes([2]) + reply(4, 0, '{"message":"User is not authorized to perform s3tables:GetTableBucket"}'),
        "aws_keys_ok": bytes([3]) + reply(0, 2, sts_ok),
        "aws_keys_denied": bytes([3]) + reply(4, 2, sts_err),
        "aws_role_ok": bytes([4]) + reply(0, 2, assume) + reply(0, 2, sts_ok) + reply(4, 2, sts_err),
        "aws_role_garbage": bytes([4]) + reply(0, 4, "<AssumeRoleResponse><Credentials>"),
    }
    for name, data in seeds.items():
        put("fuzz_val_replies", name, data)


def main():
    stmts = conformance_sql()
    gen_sql(stmts)
    gen_plan(stmts)
    gen_pgwire(stmts)
    gen_dicts(stmts)
    gen_ipc()
    gen_vault_session()
    gen_vault_files()
    gen_ssh_sign()
    gen_val_replies()


if __name__ == "__main__":
    main()
