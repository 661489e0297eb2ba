"""ARC (RFC 8617) against dkimpy (Debian's python3-dkim), and our Authentication-Results.

Chains are sealed by dkimpy's arc_sign (rsa-sha256; the Authentication-Results field a
hop writes becomes its ARC-Authentication-Results) and checked by Bulwark through its
own resolver (`bulwarkctl scan --local --dns` against dnsserver.py on loopback); dkimpy's
arc_verify agrees on every chain that should pass. Breaking a chain (the body after
sealing, a seal's signature, a key) gives ARC_FAIL with the set that failed; a trusted
newest sealer gives ARC_TRUSTED, and lets DMARC forgive the failure a mailing list
caused when the list recorded that the message had passed. The stalwart mail-auth ARC
vectors (Google's seal; an Ed25519 seal under an RSA one) pass. Last, the
Authentication-Results field the pipeline adds (exact text for SPF + DKIM + DMARC pass)
and the deletion of a forged one, in scan --local and through Postfix and the milter.
"""
import json
import re

import dkim
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from authtools import dnsfunc_for, pem_pkcs1, rsa_record, run, write
from bulwark_harness import TESTDATA, free_port, wait_for
from dnsserver import DNSServer

SENDER = "sender.example"
LIST_IP = "192.0.2.55"
AUTHSERV = "bw.test"

MESSAGE = (
    b"From: Alice Example <alice@sender.example>\r\n"
    b"To: Board <board@lists.example>\r\n"
    b"Subject: Board meeting notes\r\n"
    b"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
    b"Message-ID: <arc-1@sender.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Hello board,\r\n"
    b"  the notes   are below.  \r\n"
    b"\r\n"
    b"Decisions: budget approved.\r\n")

SEALERS = ("a.example", "b.example", "c.example", "lists.example", "evil.example")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("arc")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = pem_pkcs1(key)
    rec = rsa_record(key)
    zone = {f"arc._domainkey.{d}": [{"TXT": [rec[:200], rec[200:]]}] for d in SEALERS}
    zone |= {
        f"py._domainkey.{SENDER}": [{"TXT": [rec[:200], rec[200:]]}],
        "arc._domainkey.slow.example": ["TIMEOUT"],
        SENDER: [{"TXT": "v=spf1 ip4:198.51.100.0/24 -all"}],
        f"_dmarc.{SENDER}": [{"TXT": "v=DMARC1; p=reject"}],
        "lists.example": [{"TXT": f"v=spf1 ip4:{LIST_IP} -all"}],
    }
    for f in sorted((TESTDATA / "auth-stalwart/resources/arc").glob("*.txt")):
        for line in f.read_text().split("\n\n", 1)[0].splitlines():
            name, value = line.split(" ", 1)
            zone.setdefault(name, [{"TXT": value}])
    srv = DNSServer(zone)
    srv.start()
    yield {"tmp": tmp, "zone": zone, "pem": pem, "dns": f"127.0.0.1:{srv.port}"}
    srv.stop()


def seal(env, msg, domain, results=None, cv=None):
    """One hop: the hop's Authentication-Results (its authserv-id mx.<domain>), then
    dkimpy's ARC set on top. `cv` is what the hop says of the chain it received."""
    results = results or (f"spf=pass smtp.mailfrom=alice@{SENDER}; "
                          f"dkim=pass header.d={SENDER} header.s=py; "
                          f"dmarc=pass header.from={SENDER}")
    if cv:
        results += f"; arc={cv}"
    ar = f"Authentication-Results: mx.{domain}; {results}\r\n".encode()
    sets = dkim.arc_sign(ar + msg, b"arc", domain.encode(), env["pem"], f"mx.{domain}".encode())
    assert len(sets) == 3, "dkimpy did not seal"
    return b"".join(sets) + msg


def chain(env, msg, domains):
    for i, d in enumerate(domains):
        msg = seal(env, msg, d, cv="pass" if i else None)
    return msg


def dkim_signed(env, msg=MESSAGE):
    return dkim.sign(msg, b"py", SENDER.encode(), env["pem"],
                     include_headers=[b"from", b"to", b"subject", b"date", b"message-id"]) + msg


def scan(env, *files, sets=(), envelope=()):
    args = ["scan", "--local", "--json", "--dns", env["dns"], "--set",
            f"auth.authserv_id={AUTHSERV}", *envelope]
    for s in sets:
        args += ["--set", s]
    p = run(*args, *files)
    out = [json.loads(line) for line in p.stdout.decode().splitlines()]
    assert len(out) == len(files), p.stderr
    return out


def symbols(o, prefix=""):
    return {s["name"]: s for s in o["symbols"] if s["name"].startswith(prefix)}


def authres_header(o):
    hs = [h["value"] for h in o["headers"] if h["name"] == "Authentication-Results"]
    assert len(hs) == 1, o["headers"]
    return hs[0]


def test_dkimpy_chains_pass(env):
    one = chain(env, MESSAGE, ["a.example"])
    three = chain(env, MESSAGE, ["a.example", "b.example", "c.example"])
    dnsfunc = dnsfunc_for(env["zone"])
    for m in (one, three):
        assert dkim.arc_verify(m, dnsfunc=dnsfunc)[0] == b"pass"
    lf = three.replace(b"\r\n", b"\n")
    out = scan(env, write(env, "one.eml", one), write(env, "three.eml", three),
               write(env, "three-lf.eml", lf))
    a1, a3, a3lf = (symbols(o, "ARC_") for o in out)
    assert list(a1) == ["ARC_PASS"] and a1["ARC_PASS"]["score"] == pytest.approx(-0.1)
    assert a1["ARC_PASS"]["detail"] == (
        "1 set sealed by a.example (i=1); i=1 mx.a.example recorded spf=pass (sender.example) "
        "dkim=pass (sender.example) dmarc=pass (sender.example)")
    assert list(a3) == ["ARC_PASS"] and list(a3lf) == ["ARC_PASS"]
    assert a3["ARC_PASS"]["detail"].startswith(
        "3 sets sealed by a.example (i=1), b.example (i=2), c.example (i=3); i=1 mx.a.example")
    assert "arc=pass (i=3 d=c.example)" in authres_header(out[1])


def test_broken_chains_fail(env):
    three = chain(env, MESSAGE, ["a.example", "b.example", "c.example"])
    body = three.replace(b"budget approved", b"budget rejected")
    # one character of the newest seal's signature (an older seal's is covered by the
    # newer ones, so it breaks them first)
    m = re.search(rb"ARC-Seal: i=3;.*?\bb=([A-Za-z0-9+/]{10})", three, re.S)
    flip = b"A" if m.group(1)[5:6] != b"A" else b"B"
    bad_seal = three.replace(m.group(1), m.group(1)[:5] + flip + m.group(1)[6:])
    aar = three.replace(b"i=1; mx.a.example; spf=pass", b"i=1; mx.a.example; spf=fail")
    gap = three.replace(b"ARC-Authentication-Results: i=2;", b"X-Removed: i=2;")
    nokey = chain(env, MESSAGE, ["a.example", "nokey.example"])
    dnsfunc = dnsfunc_for(env["zone"])
    for x in (body, bad_seal, aar, gap, nokey):
        assert dkim.arc_verify(x, dnsfunc=dnsfunc)[0] != b"pass"
    files = [write(env, f"broken-{i}.eml", x)
             for i, x in enumerate((body, bad_seal, aar, gap, nokey))]
    out = scan(env, *files)
    got = [symbols(o, "ARC_") for o in out]
    assert all(list(g) == ["ARC_FAIL"] for g in got), got
    assert got[0]["ARC_FAIL"]["score"] == pytest.approx(0.3)
    details = [g["ARC_FAIL"]["detail"] for g in got]
    assert details[0] == ("3 sets: ARC-Message-Signature i=3 d=c.example: body hash mismatch "
                          "(the body was changed after it was sealed)")
    assert details[1] == "3 sets: ARC-Seal i=3 d=c.example: signature does not verify"
    assert details[2] == "3 sets: ARC-Seal i=3 d=c.example: signature does not verify"
    assert details[3] == ("3 sets: ARC set i=2 has no ARC-Authentication-Results (sets must "
                          "be 1..3)")
    assert "ARC-Message-Signature i=2 d=nokey.example: no key at arc._domainkey.nokey.example" \
        in details[4]
    assert "arc=fail (i=3)" in authres_header(out[0])


def test_none_and_temperror(env):
    slow = chain(env, MESSAGE, ["a.example", "slow.example"])
    out = scan(env, write(env, "plain.eml", MESSAGE), write(env, "slow.eml", slow))
    assert list(symbols(out[0], "ARC_")) == ["ARC_NONE"]
    t = symbols(out[1], "ARC_")
    assert list(t) == ["ARC_TEMPERROR"] and t["ARC_TEMPERROR"]["score"] == 0
    assert "key lookup arc._domainkey.slow.example: timeout" in t["ARC_TEMPERROR"]["detail"]
    # switched off: no symbol, no arc= in Authentication-Results
    out = scan(env, write(env, "off.eml", slow), sets=("check.arc.enabled=no",))
    assert not symbols(out[0], "ARC_") and "arc=" not in authres_header(out[0])


def test_trusted_sealer(env):
    three = write(env, "trusted.eml", chain(env, MESSAGE, ["a.example", "b.example",
                                                            "c.example"]))
    # the newest sealer, listed by its parent domain
    out = scan(env, three, sets=("check.arc.trusted_sealers=example.net, C.EXAMPLE",))
    s = symbols(out[0], "ARC_")
    assert set(s) == {"ARC_PASS", "ARC_TRUSTED"}
    assert s["ARC_TRUSTED"]["score"] == pytest.approx(-0.5)
    # only c.example is trusted: the results believed are the ones c.example recorded
    assert s["ARC_TRUSTED"]["detail"].startswith(
        "newest sealer c.example is trusted; i=3 mx.c.example recorded")
    # all three trusted: back to the oldest set, what the first hop saw
    out = scan(env, three, sets=("check.arc.trusted_sealers=a.example,b.example,c.example",))
    assert "; i=1 mx.a.example recorded" in symbols(out[0])["ARC_TRUSTED"]["detail"]
    # an older sealer alone is not enough: the newest could have changed the message
    out = scan(env, three, sets=("check.arc.trusted_sealers=a.example",))
    assert list(symbols(out[0], "ARC_")) == ["ARC_PASS"]
    # a failing chain is never trusted
    broken = write(env, "trusted-broken.eml",
                   three.read_bytes().replace(b"budget approved", b"budget rejected"))
    out = scan(env, broken, sets=("check.arc.trusted_sealers=c.example",))
    assert list(symbols(out[0], "ARC_")) == ["ARC_FAIL"]


def list_copy(env, results, sealer="lists.example"):
    """What a mailing list delivers: Alice's signed message with a tagged Subject and a
    footer (her DKIM signature breaks), sealed by the list with `results`."""
    m = dkim_signed(env)
    m = m.replace(b"Subject: Board meeting", b"Subject: [board] Board meeting")
    m += b"-- \r\nboard mailing list\r\n"
    return seal(env, m, sealer, results=results)


def test_dmarc_override_for_trusted_list(env):
    """sender.example says p=reject; the list's changes break DKIM and the list's own
    address passes SPF for lists.example only: DMARC fails and the message would be
    rejected. Trusting the list's seal, its record of a DKIM pass aligned with the From
    domain, or of a DMARC pass, keeps it from being enforced."""
    listed = (f"--ip={LIST_IP}", "--from=board-bounces@lists.example",
              "--helo=mail.lists.example")
    dk = write(env, "list-dkim.eml", list_copy(env, f"dkim=pass header.d={SENDER}"))
    dm = write(env, "list-dmarc.eml", list_copy(env, f"dmarc=pass header.from={SENDER}"))
    other = write(env, "list-other.eml",
                  list_copy(env, "dkim=pass header.d=other.example; "
                                 "dmarc=pass header.from=other.example"))
    spf = write(env, "list-spf.eml",
                list_copy(env, f"spf=pass smtp.mailfrom=alice@mail.{SENDER}"))
    files = (dk, dm, other, spf)
    out = scan(env, *files, envelope=listed)
    for o in out:  # not trusted: enforced
        assert symbols(o, "DKIM_").keys() == {"DKIM_FAIL"}
        assert "DMARC_FAIL" in symbols(o) and o["action"] == "reject", o
        assert "ARC override" not in symbols(o)["DMARC_FAIL"]["detail"]
    out = scan(env, *files, envelope=listed,
               sets=("check.arc.trusted_sealers=lists.example",))
    for o, why in zip(out, ("dkim=pass header.d=sender.example (aligned)",
                            "dmarc=pass header.from=sender.example", None,
                            "spf=pass smtp.mailfrom=mail.sender.example (aligned)")):
        s = symbols(o)
        assert "ARC_TRUSTED" in s
        d = s["DMARC_FAIL"]
        if why is None:  # the list recorded results for another From domain
            assert "ARC override" not in d["detail"] and o["action"] == "reject"
            assert d["score"] == 1
            continue
        assert (f"ARC override by lists.example: ARC set i=1 recorded {why}; not enforced"
                in d["detail"]), d
        assert d["score"] == 0 and o["action"] != "reject", o
        assert "dmarc=fail header.from=sender.example" in authres_header(o)
    # the same list, not trusted but sealing under a trusted name it does not own: the
    # seal does not verify against lists.example's key, so nothing is forgiven
    forged = dk.read_bytes().replace(b"d=lists.example;", b"d=a.example;")
    out = scan(env, write(env, "list-forged.eml", forged), envelope=listed,
               sets=("check.arc.trusted_sealers=a.example",))
    assert "ARC_FAIL" in symbols(out[0]) and out[0]["action"] == "reject"


def test_stalwart_vectors(env):
    """Google's seal over a list message (001) and an Ed25519 seal under an RSA one (002),
    verified at any time: ARC signatures carry no expiry here."""
    files = []
    for src in sorted((TESTDATA / "auth-stalwart/resources/arc").glob("*.txt")):
        msg = src.read_bytes().split(b"\n\n", 1)[1]
        files.append(write(env, f"stalwart-{src.stem}.eml",
                           msg.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")))
    out = scan(env, *files)
    a = [symbols(o, "ARC_") for o in out]
    assert list(a[0]) == ["ARC_PASS"] and list(a[1]) == ["ARC_PASS"], a
    assert a[0]["ARC_PASS"]["detail"].startswith(
        "1 set sealed by google.com (i=1); i=1 mx.google.com recorded spf=pass (ietf.org) "
        "dkim=pass (ietf.org)")
    assert "dmarc=fail (stalw.art)" in a[0]["ARC_PASS"]["detail"]
    assert a[1]["ARC_PASS"]["detail"].startswith(
        "2 sets sealed by scamorza.org (i=1), manchego.org (i=2)")


def test_authentication_results_header(env):
    """SPF, DKIM and DMARC pass: the exact field; an incoming field with our authserv-id
    is listed for deletion, one with another id is not."""
    signed = dkim_signed(env)
    ok = ("--ip=198.51.100.7", f"--from=alice@{SENDER}", "--helo=mx.sender.example")
    out = scan(env, write(env, "ar-pass.eml", signed), envelope=ok)
    assert authres_header(out[0]) == (
        f"{AUTHSERV};\r\n"
        f"\tspf=pass smtp.mailfrom=alice@{SENDER};\r\n"
        f"\tdkim=pass header.d={SENDER} header.s=py;\r\n"
        f"\tdmarc=pass header.from={SENDER};\r\n"
        "\tarc=none")
    assert out[0]["remove_headers"] == []
    forged = (b"Authentication-Results: other.example; spf=pass\r\n"
              b"Authentication-Results: BW.test; dkim=pass header.d=paypal.example\r\n"
              b"Authentication-Results: (x) bw.test; dmarc=pass\r\n" + signed)
    out = scan(env, write(env, "ar-forged.eml", forged), envelope=ok)
    assert out[0]["remove_headers"] == [{"name": "Authentication-Results", "index": 2},
                                        {"name": "Authentication-Results", "index": 3}]
    assert authres_header(out[0]).startswith(f"{AUTHSERV};\r\n\tspf=pass")
    # the host name when auth.authserv_id is empty; a bad one refuses the configuration
    out = scan(env, write(env, "ar-host.eml", signed), sets=("auth.authserv_id=",))
    host = authres_header(out[0]).split(";")[0]
    assert host and " " not in host
    p = run("scan", "--local", "--json", "--set", "auth.authserv_id=mx example",
            env["tmp"] / "ar-host.eml", check=False)
    assert p.returncode != 0 and b"auth.authserv_id 'mx example' is not a name" in p.stderr


def test_forged_results_removed_in_the_mail_path(cluster, tmp_path, env):
    """Postfix + milter + node: the delivered message has our field on top (dkim and arc
    pass), the sender's field with our authserv-id is gone, another id's field stays."""
    from mailpath import Milter, Postfix, Sink, allow_milter, swaks, wait_config_applied

    allow_milter(cluster)
    cluster.start_master()
    cluster.ctl("config", "set", f"auth.authserv_id={AUTHSERV}")
    cluster.start_node("node1", extra=f"dns_forwarders = {env['dns']}\n")
    wait_config_applied(cluster)
    sink = Sink(tmp_path)
    milter = Milter(cluster)
    milter.start()
    gw = Postfix("gw", free_port(), sink.port, milter.socket)
    try:
        gw.start()
        msg = seal(env, dkim_signed(env), "lists.example")
        msg = (b"Authentication-Results: bw.test; dmarc=pass header.from=paypal.example\r\n"
               b"Authentication-Results: mx.other.example; spf=neutral\r\n" + msg)
        rc, out = swaks(gw.listen, msg.decode(), sender=f"alice@{SENDER}")
        assert rc == 0, out

        def delivered():
            new = sink.dir / "new"
            for f in (new.iterdir() if new.exists() else []):
                if b"<arc-1@sender.example>" in f.read_bytes():
                    return f.read_bytes()
            return None
        raw = wait_for(delivered, 30, 0.1, "delivery").replace(b"\r\n", b"\n")
        head = raw.split(b"\n\n", 1)[0].decode()
        fields = re.findall(r"^Authentication-Results:(.*(?:\n[ \t].*)*)", head, re.M)
        ours = [f for f in fields if f.strip().startswith(AUTHSERV)]
        assert len(ours) == 1, head
        assert "paypal" not in head
        assert any("mx.other.example" in f for f in fields)
        assert fields.index(ours[0]) == 0  # on top of the other one
        value = " ".join(ours[0].split())
        assert f"dkim=pass header.d={SENDER} header.s=py;" in value, value
        assert "arc=pass (i=1 d=lists.example) smtp.remote-ip=127.0.0.1" in value, value
        # the milter folded it: one result per line
        assert "\n\tdkim=pass" in ours[0], ours[0]
    finally:
        gw.cleanup()
        sink.stop()
