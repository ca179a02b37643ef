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
    write_dict("fuzz_pgwire", ["\x00\x03\x00\x00", "user\x00", "database\x00",
                               "application_name\x00", "materialize\x00",
                               "Q", "P", "B", "D", "E", "S", "C", "H", "X",
                               "\x00\x00\x00\x04", "\x00\x00\x00\x19"] + kw[:120])


def main():
    stmts = conformance_sql()
    gen_sql(stmts)
    gen_plan(stmts)
    gen_pgwire(stmts)
    gen_dicts(stmts)


if __name__ == "__main__":
    main()
