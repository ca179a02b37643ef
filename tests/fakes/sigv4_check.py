"""What an AWS service does with a SigV4 query-presigned request (AWS General
Reference, "Authenticating requests: using query parameters"): the fakes that
receive RDS IAM auth tokens (mysql_iam_fake.py) and Amazon MSK IAM SASL tokens
(kafka_front.py) recompute the signature with the test's secret key here.
Python 3 stdlib only; no network.
"""
import datetime
import hashlib
import hmac
import urllib.parse


def signing_key(secret, date, region, service):
    k = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def quote(s):
    return urllib.parse.quote(s, safe="-_.~")


def verify(host, path, params, cfg, service, expires="900", unsigned=(), max_skew=300):
    """None if `params` (the presigned request's query, parsed: a dict of
    decoded values, X-Amz-Signature included) carry a valid SigV4 signature
    for GET https://<host><path> by cfg's access_key_id / secret_access_key
    (session_token, region: default us-east-1) for `service`, else why not.
    `unsigned`: parameters added after signing (not part of the signature)."""
    q = {k: v for k, v in params.items() if k not in unsigned}
    sig = q.pop("X-Amz-Signature", "")
    if q.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" or q.get("X-Amz-SignedHeaders") != "host":
        return "wrong algorithm"
    if q.get("X-Amz-Expires") != expires:
        return "wrong expiry"
    akid, date, region, svc, term = (q.get("X-Amz-Credential", "") + "/////").split("/")[:5]
    if akid != cfg["access_key_id"] or svc != service or term != "aws4_request":
        return "wrong credential scope"
    if region != cfg.get("region", "us-east-1"):
        return "wrong region " + region
    if q.get("X-Amz-Security-Token") != cfg.get("session_token"):
        return "wrong session token"
    try:
        when = datetime.datetime.strptime(q.get("X-Amz-Date", ""), "%Y%m%dT%H%M%SZ")
    except ValueError:
        return "bad date"
    now = datetime.datetime.utcnow()
    if abs((now - when).total_seconds()) > max_skew or date != when.strftime("%Y%m%d"):
        return "expired or not yet valid"
    canon_q = "&".join("%s=%s" % (quote(k), quote(v)) for k, v in sorted(q.items()))
    creq = "\n".join(["GET", path, canon_q, "host:" + host, "", "host",
                      hashlib.sha256(b"").hexdigest()])
    sts = "\n".join(["AWS4-HMAC-SHA256", q["X-Amz-Date"], "/".join([date, region, svc, term]),
                     hashlib.sha256(creq.encode()).hexdigest()])
    want = hmac.new(signing_key(cfg["secret_access_key"], date, region, svc), sts.encode(),
                    hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, sig):
        return "signature mismatch"
    return None
