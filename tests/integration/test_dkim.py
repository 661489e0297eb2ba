"""DKIM against dkimpy (Debian's python3-dkim), the independent implementation.

Keys are published by dnsserver.py on loopback (a 2048-bit RSA key as two explicit
character-strings, the others cut at 255 bytes by the server) and Bulwark looks them up
through its own resolver (`bulwarkctl dkim verify --dns`, `scan --local --dns`).
Messages signed by dkimpy (rsa-sha256 and ed25519-sha256, every canonicalisation pair)
must verify in Bulwark; messages signed by `bulwarkctl dkim sign` must verify in dkimpy
(its dnsfunc reads the same zone). A changed body or signed header fails in both. Then
the RFC 8301 rules (rsa-sha1, a 512-bit key), key trouble (revoked, missing, a DNS
server that never answers, a test-mode key), the RFC 8463 example and the stalwart
mail-auth vectors (real signatures of ietf.org, github.com...) at their own time.
"""
import base64
import json
import re
import subprocess

import dkim
import nacl.signing
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from authtools import dnsfunc_for, pem_pkcs1, rsa_record, run, write
from bulwark_harness import TESTDATA
from dnsserver import DNSServer

DOMAIN = "sender.example"
CANONS = ["simple/simple", "simple/relaxed", "relaxed/simple", "relaxed/relaxed"]

MESSAGE = (
    b"Received: from mx.sender.example by mx.rcpt.example; Tue, 24 Nov 2026 10:00:01 +0000\r\n"
    b"From: Alice Example <alice@sender.example>\r\n"
    b"To: Bob Example <bob@rcpt.example>\r\n"
    b"Subject: Board meeting notes\r\n"
    b"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
    b"Message-ID: <notes-1@sender.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Hello Bob,\r\n"
    b"  the notes   are below.  \r\n"
    b"\r\n"
    b"Decisions: budget approved.\r\n"
    b"\r\n"
    b"\r\n")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Keys, the zone and the DNS server; `sign` holds what dkimpy signs with."""
    tmp = tmp_path_factory.mktemp("dkim")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = nacl.signing.SigningKey.generate()
    # a 512-bit key, which the cryptography package no longer makes
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:512", "-out", str(tmp / "short.pem")],
                   check=True, capture_output=True)
    short = serialization.load_pem_private_key((tmp / "short.pem").read_bytes(), None)
    rec = rsa_record(rsa_key)
    assert len(rec) > 255
    zone = {
        # one record, two character-strings split where a zone file would not
        f"py-rsa._domainkey.{DOMAIN}": [{"TXT": [rec[:100], rec[100:]]}],
        f"py-ed._domainkey.{DOMAIN}": [{"TXT": "v=DKIM1; k=ed25519; p=" + base64.b64encode(
            bytes(ed_key.verify_key)).decode()}],
        f"py-short._domainkey.{DOMAIN}": [{"TXT": rsa_record(short)}],
        f"py-test._domainkey.{DOMAIN}": [{"TXT": rec.replace("v=DKIM1;", "v=DKIM1; t=y;")}],
        f"revoked._domainkey.{DOMAIN}": [{"TXT": "v=DKIM1; k=rsa; p="}],
        f"slow._domainkey.{DOMAIN}": ["TIMEOUT"],
    }
    for kind, sel in (("rsa", "bw-rsa"), ("ed25519", "bw-ed")):
        p = run("dkim", "keygen", "--type", kind, "--selector", sel, "--domain", DOMAIN,
                "--out", tmp / f"{sel}.pem")
        assert p.returncode == 0, p.stderr
        out = p.stdout.decode()
        assert f"{sel}._domainkey.{DOMAIN}. IN TXT (" in out
        strings = re.findall(r'"([^"]*)"', out)
        assert all(len(s) <= 255 for s in strings)
        zone[f"{sel}._domainkey.{DOMAIN}"] = [{"TXT": strings}]
        assert (tmp / f"{sel}.pem").stat().st_mode & 0o777 == 0o600
    # the RFC 8463 example and the stalwart mail-auth vectors bring their own records
    for line in (TESTDATA / "dkim/rfc8463/dns.zone").read_text().splitlines():
        m = re.match(r'(\S+)\.\s+IN\s+TXT\s+"(.*)"', line)
        zone[m.group(1)] = [{"TXT": m.group(2)}]
    for f in sorted((TESTDATA / "auth-stalwart/resources/dkim").glob("*.txt")):
        records = f.read_text().split("\n\n", 1)[0]
        for line in records.splitlines():
            name, value = line.split(" ", 1)
            zone.setdefault(name, [{"TXT": value}])
    srv = DNSServer(zone)
    srv.start()
    yield {
        "tmp": tmp, "zone": zone, "dns": f"127.0.0.1:{srv.port}",
        "sign": {"py-rsa": pem_pkcs1(rsa_key), "py-test": pem_pkcs1(rsa_key),
                 "py-short": pem_pkcs1(short),
                 "py-ed": base64.b64encode(bytes(ed_key)), "slow": pem_pkcs1(rsa_key),
                 "revoked": pem_pkcs1(rsa_key), "nokey": pem_pkcs1(rsa_key)},
    }
    srv.stop()


def dkimpy_sign(env, selector, msg=MESSAGE, canon="relaxed/relaxed", alg=None):
    alg = alg or (b"ed25519-sha256" if selector == "py-ed" else b"rsa-sha256")
    h, b = canon.encode().split(b"/")
    sig = dkim.sign(msg, selector.encode(), DOMAIN.encode(), env["sign"][selector],
                    canonicalize=(h, b), signature_algorithm=alg,
                    include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    return sig + msg


def verify(env, *files, extra=()):
    p = run("dkim", "verify", "--dns", env["dns"], "--json", *extra, *files)
    lines = [json.loads(line) for line in p.stdout.decode().splitlines()]
    assert len(lines) == len(files), p.stderr
    return p.returncode, lines


def tamper_body(m):
    return m.replace(b"budget approved", b"budget rejected")


def tamper_header(m):
    return m.replace(b"Subject: Board meeting", b"Subject: Bored meeting")


def test_dkimpy_signed_verify_in_bulwark(env):
    files, want = [], []
    for sel in ("py-rsa", "py-ed"):
        for canon in CANONS:
            signed = dkimpy_sign(env, sel, canon=canon)
            assert dkim.verify(signed, dnsfunc=dnsfunc_for(env["zone"]))
            stem = f"{sel}-{canon.replace('/', '-')}"
            files += [write(env, f"{stem}.eml", signed),
                      write(env, f"{stem}-body.eml", tamper_body(signed)),
                      write(env, f"{stem}-hdr.eml", tamper_header(signed)),
                      write(env, f"{stem}-lf.eml", signed.replace(b"\r\n", b"\n"))]
            want += [("pass", ""), ("fail", "body hash mismatch"),
                     ("fail", "signature does not verify"), ("pass", "")]
    rc, out = verify(env, *files)
    assert rc == 1  # the tampered ones
    for f, o, (res, why) in zip(files, out, want):
        sig = o["signatures"][0]
        assert (sig["result"], f.name) == (res, f.name), sig
        assert why in sig["reason"]
        assert sig["domain"] == DOMAIN
        assert sig["alg"] == ("ed25519-sha256" if "py-ed" in f.name else "rsa-sha256")
        assert sig["key_bits"] == (256 if "py-ed" in f.name else 2048)


def test_bulwark_signed_verify_in_dkimpy(env):
    src = write(env, "plain.eml", MESSAGE)
    dnsfunc = dnsfunc_for(env["zone"])
    ours = []
    for sel, alg in (("bw-rsa", "rsa-sha256"), ("bw-ed", "ed25519-sha256")):
        for canon in CANONS:
            p = run("dkim", "sign", "--domain", DOMAIN, "--selector", sel, "--key",
                    env["tmp"] / f"{sel}.pem", "--algorithm", alg, "--canon", canon, src)
            assert p.returncode == 0, p.stderr
            signed = p.stdout
            assert signed.endswith(MESSAGE) and signed.startswith(b"DKIM-Signature: v=1;")
            assert f"a={alg}; c={canon};".encode() in signed
            assert dkim.verify(signed, dnsfunc=dnsfunc), (sel, canon)
            assert not dkim.verify(tamper_body(signed), dnsfunc=dnsfunc)
            assert not dkim.verify(tamper_header(signed), dnsfunc=dnsfunc)
            # a second From on top: From is over-signed
            assert not dkim.verify(b"From: mallory@evil.example\r\n" + signed, dnsfunc=dnsfunc)
            ours.append(write(env, f"{sel}-{canon.replace('/', '-')}-ours.eml", signed))
    rc, out = verify(env, *ours)
    assert rc == 0
    assert all(o["signatures"][0]["result"] == "pass" for o in out)

    # --header-only, --length and --identity, in LF line ends like the input
    lf = write(env, "plain-lf.eml", MESSAGE.replace(b"\r\n", b"\n"))
    p = run("dkim", "sign", "--domain", DOMAIN, "--selector", "bw-ed", "--key",
            env["tmp"] / "bw-ed.pem", "--header-only", "--length", "--identity",
            f"alice@mail.{DOMAIN}", lf)
    assert p.returncode == 0, p.stderr
    header = p.stdout
    assert header.startswith(b"DKIM-Signature:") and b"\r" not in header
    assert b" l=" in header and f"i=alice@mail.{DOMAIN};".encode() in header
    signed = header + MESSAGE.replace(b"\r\n", b"\n") + b"P.S. added by a list\n"
    assert dkim.verify(signed.replace(b"\n", b"\r\n"), dnsfunc=dnsfunc)
    rc, out = verify(env, write(env, "length.eml", signed))
    sig = out[0]["signatures"][0]
    assert sig["result"] == "pass" and sig["unsigned_tail"] and sig["length"] > 0
    assert sig["identity"] == f"alice@mail.{DOMAIN}"


def test_sign_refusals(env):
    src = write(env, "plain.eml", MESSAGE)
    p = run("dkim", "sign", "--domain", DOMAIN, "--selector", "bw-ed", "--key",
            env["tmp"] / "bw-ed.pem", "--algorithm", "rsa-sha256", src)
    assert p.returncode == 1 and b"needs an RSA key" in p.stderr
    p = run("dkim", "sign", "--domain", DOMAIN, "--selector", "x", "--key", src, src)
    assert p.returncode == 1 and b"not a PEM private key" in p.stderr
    p = run("dkim", "sign", "--domain", DOMAIN, "--selector", "x", "--key",
            env["tmp"] / "bw-rsa.pem", "--algorithm", "rsa-sha1", src, check=False)
    assert p.returncode == 2
    p = run("dkim", "keygen", "--type", "rsa", "--selector", "bw-rsa", "--domain", DOMAIN,
            "--out", env["tmp"] / "bw-rsa.pem")
    assert p.returncode == 1 and b"File exists" in p.stderr
    p = run("dkim", "keygen", "--type", "dsa", "--selector", "s", "--domain", DOMAIN, "--out",
            env["tmp"] / "x.pem", check=False)
    assert p.returncode == 2


def test_rfc8301_and_key_trouble(env):
    cases = {
        "sha1.eml": (dkimpy_sign(env, "py-rsa", alg=b"rsa-sha1"), "fail",
                     "rsa-sha1 is not accepted (RFC 8301)"),
        "short.eml": (dkimpy_sign(env, "py-short"), "fail", "RSA key of 512 bits, below 1024"),
        "revoked.eml": (dkimpy_sign(env, "revoked"), "fail", "key revoked"),
        "nokey.eml": (dkimpy_sign(env, "nokey"), "permerror",
                      f"no key at nokey._domainkey.{DOMAIN} (nxdomain)"),
        "slow.eml": (dkimpy_sign(env, "slow"), "temperror",
                     f"key lookup slow._domainkey.{DOMAIN}: timeout"),
        "test.eml": (dkimpy_sign(env, "py-test"), "pass", ""),
    }
    files = [write(env, name, c[0]) for name, c in cases.items()]
    rc, out = verify(env, *files)
    assert rc == 1
    for f, o in zip(files, out):
        _, res, why = cases[f.name]
        sig = o["signatures"][0]
        assert sig["result"] == res, (f.name, sig)
        assert why in sig["reason"], (f.name, sig)
    assert out[-1]["signatures"][0]["testing"] is True
    # rsa-sha1 is flagged weak whatever the policy
    assert out[0]["signatures"][0]["weak_sha1"] is True


def test_rfc8463_example(env):
    """Both signatures of RFC 8463 Appendix A (ed25519 and rsa, simple/simple), CRLF."""
    raw = (TESTDATA / "dkim/rfc8463/rfc8463-appendixA-signed.msg").read_bytes()
    f = write(env, "rfc8463.eml", raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    rc, out = verify(env, f)
    assert rc == 0
    sigs = out[0]["signatures"]
    assert [(s["result"], s["alg"], s["selector"]) for s in sigs] == [
        ("pass", "ed25519-sha256", "brisbane"), ("pass", "rsa-sha256", "test")]


def test_stalwart_vectors(env):
    """Real signed mail (ietf.org, facebookmail.com, github.com...) with the keys of the day;
    005 carries x= and has expired since, so it passes only at its own time."""
    files, stamps = [], []
    for src in sorted((TESTDATA / "auth-stalwart/resources/dkim").glob("*.txt")):
        msg = src.read_bytes().split(b"\n\n", 1)[1]
        files.append(write(env, f"stalwart-{src.stem}.eml",
                           msg.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")))
        stamps.append(int(re.search(rb"\bt=(\d+)", msg).group(1)))
    rc, out = verify(env, *files)
    results = {f.stem: [s["result"] for s in o["signatures"]] for f, o in zip(files, out)}
    assert results == {
        "stalwart-001": ["pass", "pass"], "stalwart-002": ["pass"],
        "stalwart-003": ["pass", "pass"], "stalwart-004": ["pass"],
        "stalwart-005": ["fail"], "stalwart-006": ["pass"]}
    assert "expired" in out[4]["signatures"][0]["reason"]
    rc, out = verify(env, files[4], extra=("--time", stamps[4] + 60))
    assert rc == 0 and out[0]["signatures"][0]["result"] == "pass"


def scan(env, *files, sets=()):
    args = ["scan", "--local", "--json", "--dns", env["dns"]]
    for s in sets:
        args += ["--set", s]
    p = run(*args, *files)
    out = [json.loads(line) for line in p.stdout.decode().splitlines()]
    assert len(out) == len(files), p.stderr
    return [{s["name"]: s for s in o["symbols"]} | {"@action": o["action"]} for o in out]


def test_scan_local_symbols(env):
    signed = dkimpy_sign(env, "py-rsa")
    files = [write(env, "scan-pass.eml", signed),
             write(env, "scan-fail.eml", tamper_body(signed)),
             write(env, "scan-none.eml", MESSAGE),
             write(env, "scan-temp.eml", dkimpy_sign(env, "slow")),
             write(env, "scan-perm.eml", dkimpy_sign(env, "nokey")),
             write(env, "scan-test.eml", dkimpy_sign(env, "py-test")),
             write(env, "scan-two.eml", dkimpy_sign(env, "py-ed", msg=tamper_body(signed)))]
    r = scan(env, *files)
    dk = [{k: v for k, v in x.items() if k.startswith("DKIM_")} for x in r]
    assert list(dk[0]) == ["DKIM_PASS"] and dk[0]["DKIM_PASS"]["score"] == -0.2
    assert f"d={DOMAIN} s=py-rsa a=rsa-sha256" == dk[0]["DKIM_PASS"]["detail"]
    assert list(dk[1]) == ["DKIM_FAIL"] and "body hash" in dk[1]["DKIM_FAIL"]["detail"]
    assert dk[1]["DKIM_FAIL"]["score"] == 1
    assert list(dk[2]) == ["DKIM_NONE"]
    assert list(dk[3]) == ["DKIM_TEMPERROR"] and "timeout" in dk[3]["DKIM_TEMPERROR"]["detail"]
    assert list(dk[4]) == ["DKIM_PERMERROR"]
    assert "test key t=y" in dk[5]["DKIM_PASS"]["detail"]
    assert dk[5]["DKIM_PASS"]["score"] == 0  # a test-mode key earns nothing
    # the ed25519 signature (added last, on top) passes, the rsa one below it fails
    assert set(dk[6]) == {"DKIM_PASS", "DKIM_FAIL"}
    assert "s=py-ed" in dk[6]["DKIM_PASS"]["detail"]

    # scores and the action are configurable; the check can be switched off
    r = scan(env, files[1], files[6], sets=("check.dkim.action=quarantine",
                                            "score.DKIM_FAIL=3.5"))
    assert r[0]["DKIM_FAIL"]["score"] == 3.5 and r[0]["@action"] == "quarantine"
    assert r[1]["@action"] != "quarantine"  # another signature passed
    r = scan(env, files[0], sets=("check.dkim.enabled=no",))
    assert not [k for k in r[0] if k.startswith("DKIM_")]


def test_scan_without_resolver_is_silent(env):
    p = run("scan", "--local", "--json", write(env, "quiet.eml", dkimpy_sign(env, "py-rsa")))
    out = json.loads(p.stdout.decode().splitlines()[0])
    assert not [s for s in out["symbols"] if s["name"].startswith("DKIM_")]


def test_signed_in_the_mail_path(cluster, tmp_path, env):
    """Keys sealed into the configuration; a node with the cluster key signs mail from a
    listed network as it passes the gateway (Postfix + milter), with both keys of the
    domain; the delivered message verifies in dkimpy and in Bulwark. Mail of a domain
    without keys, and mail the verdict rejects, leave unsigned (the message log says
    which: DKIM_SIGNED, DKIM_UNSIGNED)."""
    from mailpath import Milter, Postfix, Sink, allow_milter, swaks, wait_config_applied
    from bulwark_harness import free_port, wait_for

    secret = tmp_path / "dkim.secret"
    assert run("dkim", "secret", "--out", secret).returncode == 0
    sets = []
    for sel in ("bw-rsa", "bw-ed"):
        p = run("dkim", "seal", "--secret", secret, "--domain", DOMAIN, "--selector", sel,
                env["tmp"] / f"{sel}.pem")
        assert p.returncode == 0, p.stderr
        line = p.stdout.decode().strip()
        assert line.startswith(f"dkim.sign.{DOMAIN}.{sel}=enc:") and "PRIVATE" not in line
        sets.append(line)
    allow_milter(cluster)
    cluster.start_master()
    cluster.ctl("config", "set", *sets, "check.dkim.sign_networks=127.0.0.0/8")
    cluster.start_node("node1", extra=f"dkim_key_file = {secret}\n")
    wait_config_applied(cluster)
    sink = Sink(tmp_path)
    milter = Milter(cluster)
    milter.start()
    gw = Postfix("gw", free_port(), sink.port, milter.socket)
    try:
        gw.start()
        ours = MESSAGE.replace(b"<notes-1@", b"<path-1@")
        other = ours.replace(b"<path-1@", b"<path-2@").replace(
            f"alice@{DOMAIN}".encode(), b"carol@other.example")
        gtube = ours.replace(b"<path-1@", b"<path-3@").replace(
            b"budget approved.", b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-"
            b"EMAIL*C.34X")
        for m in (ours, other):
            rc, out = swaks(gw.listen, m.decode(), sender=f"alice@{DOMAIN}")
            assert rc == 0, out
        rc, out = swaks(gw.listen, gtube.decode(), sender=f"alice@{DOMAIN}")
        assert "550" in out or "554" in out, out

        def raw(msgid):
            new = sink.dir / "new"
            for f in (new.iterdir() if new.exists() else []):
                data = f.read_bytes()
                if msgid in data:
                    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            return None
        signed = wait_for(lambda: raw(b"<path-1@"), 30, 0.1, "delivery of the signed message")
        unsigned = wait_for(lambda: raw(b"<path-2@"), 30, 0.1, "delivery of the other message")
        # the message log has what the signer did, symbols added after the policy
        def logged():
            out = cluster.ctl("log", "search", "--sender", "alice", "--json").stdout
            rows = {r["message_id"]: r for r in map(json.loads, out.splitlines())}
            return rows if len(rows) == 3 else None
        rows = wait_for(logged, 20, 0.2, "three log rows")
    finally:
        gw.cleanup()
        sink.stop()
    syms = {mid: [(x["name"], x["detail"]) for x in r["symbols"] if x["name"].startswith("DKIM_")]
            for mid, r in rows.items()}
    assert sorted(x for x in syms[f"<path-1@{DOMAIN}>"] if x[0] == "DKIM_SIGNED") == [
        ("DKIM_SIGNED", f"d={DOMAIN} s=bw-ed a=ed25519-sha256"),
        ("DKIM_SIGNED", f"d={DOMAIN} s=bw-rsa a=rsa-sha256")]
    assert not [n for n, _ in syms[f"<path-2@{DOMAIN}>"] if n.startswith("DKIM_SIGN")]
    assert ("DKIM_UNSIGNED", f"d={DOMAIN} s=bw-rsa: verdict reject") in syms[f"<path-3@{DOMAIN}>"]
    head = signed.split(b"\r\n\r\n", 1)[0]
    assert head.count(b"DKIM-Signature:") == 2, head.decode()
    assert b"DKIM-Signature:" not in unsigned
    # on top of the fields the gateway saw (Postfix's own Received goes above them)
    assert head.index(b"DKIM-Signature:") < head.index(b"From:")
    dnsfunc = dnsfunc_for(env["zone"])
    d = dkim.DKIM(signed)
    assert d.verify(idx=0, dnsfunc=dnsfunc) and d.verify(idx=1, dnsfunc=dnsfunc)
    assert b"a=ed25519-sha256; c=relaxed/relaxed;" in head.replace(b"\r\n\t", b" ")
    rc, out = verify(env, write(env, "path-signed.eml", signed))
    assert rc == 0 and [s["result"] for s in out[0]["signatures"]] == ["pass", "pass"]
    assert {s["selector"] for s in out[0]["signatures"]} == {"bw-rsa", "bw-ed"}
    assert not dkim.verify(tamper_body(signed), dnsfunc=dnsfunc)
