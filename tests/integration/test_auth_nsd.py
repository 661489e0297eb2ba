"""SPF, DKIM and DMARC through the cluster with the zones served by nsd (Debian's
authoritative server) on loopback, the way a production node sees DNS: the node's
resolver forwards to a real name server that knows nothing of the tests.

A sender domain publishes SPF, a DKIM key (the message is signed with dkimpy) and a
DMARC policy in an nsd zone file; the milter's path is stood in for by `bulwarkctl scan
--record` with the envelope a Postfix gateway would pass. Cases: an aligned, signed
message passes; a forgery from an unlisted address is rejected (p=reject); a forgery of
a subdomain is quarantined (sp=quarantine); a tampered body fails DKIM but passes DMARC
through aligned SPF; a subdomain with SPF ~all and no policy of its own gets
SPF_SOFTFAIL and the organisational domain's sp=quarantine.
"""
import json
import shutil
import subprocess
import time

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bulwark_harness import free_port, wait_for

GOOD_IP = "192.0.2.25"
BAD_IP = "203.0.113.9"


def zone_text(pub_b64):
    # A TXT string is at most 255 bytes: the key record goes as several strings.
    key = f"v=DKIM1; k=rsa; p={pub_b64}"
    parts = " ".join(f'"{key[i:i + 200]}"' for i in range(0, len(key), 200))
    return f"""$ORIGIN sender.example.
$TTL 300
@        IN SOA ns.sender.example. hostmaster.sender.example. 1 3600 600 86400 60
@        IN NS  ns.sender.example.
ns       IN A   127.0.0.1
@        IN TXT "v=spf1 ip4:{GOOD_IP} -all"
@        IN MX  10 mx.sender.example.
mx       IN A   {GOOD_IP}
_dmarc   IN TXT "v=DMARC1; p=reject; sp=quarantine; adkim=r; aspf=r"
news     IN TXT "v=spf1 ip4:{GOOD_IP} -all"
s2026._domainkey IN TXT {parts}
loose    IN TXT "v=spf1 ip4:{GOOD_IP} ~all"
"""


@pytest.fixture(scope="module")
def nsd(tmp_path_factory):
    if not shutil.which("nsd"):
        pytest.skip("nsd not installed")
    d = tmp_path_factory.mktemp("nsd")
    priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = priv.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    pub = priv.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    import base64
    (d / "sender.example.zone").write_text(zone_text(base64.b64encode(pub).decode()))
    chk = subprocess.run(["nsd-checkzone", "sender.example", str(d / "sender.example.zone")],
                         capture_output=True, text=True)
    assert chk.returncode == 0, chk.stdout + chk.stderr
    port = free_port()
    (d / "nsd.conf").write_text(f"""server:
    ip-address: 127.0.0.1@{port}
    do-ip6: no
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "{d}"
    database: ""
    zonelistfile: "{d}/zone.list"
    xfrdfile: "{d}/xfrd.state"
    pidfile: "{d}/nsd.pid"
    logfile: "{d}/nsd.log"
    rrl-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: "sender.example"
    zonefile: "sender.example.zone"
""")
    p = subprocess.Popen(["nsd", "-d", "-c", str(d / "nsd.conf")], stdout=subprocess.DEVNULL,
                         stderr=open(d / "nsd.err", "wb"))

    def answers():
        r = subprocess.run(["dig", "+short", "+time=1", "+tries=1", "@127.0.0.1", "-p",
                            str(port), "sender.example", "TXT"], capture_output=True, text=True)
        return "v=spf1" in r.stdout

    try:
        wait_for(answers, 15, 0.1, "nsd answering")
        yield {"addr": f"127.0.0.1:{port}", "key": pem}
    finally:
        p.terminate()
        p.wait(10)


def message(sender, subject, key=None):
    msg = (f"From: Sender <{sender}>\r\nTo: bob@rcpt.example\r\nSubject: {subject}\r\n"
           f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\r\n"
           f"Message-ID: <{abs(hash(subject))}@sender.example>\r\n\r\n"
           "Hello,\r\nthe minutes of Tuesday's meeting are below.\r\n").encode()
    if key:
        sig = dkim.sign(msg, b"s2026", b"sender.example", key,
                        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
        msg = sig + msg
    return msg


def scan(cluster, tmp, name, msg, ip, mail_from):
    (tmp / name).write_bytes(msg)
    out = cluster.ctl("scan", "--record", "--json", "--ip", ip, "--helo", "mx.sender.example",
                      "--from", mail_from, "--rcpt", "bob@rcpt.example", tmp / name).stdout
    r = json.loads(out)
    return r, {s["name"]: s for s in r["symbols"]}


def test_cluster_auth_against_nsd(cluster, nsd, tmp_path):
    cluster.start_master()
    cluster.start_node("node1", extra=f"dns_forwarders = {nsd['addr']}\n")

    r, s = scan(cluster, tmp_path, "good.eml", message("alice@sender.example", "minutes",
                                                       nsd["key"]),
                GOOD_IP, "alice@sender.example")
    assert {"SPF_PASS", "DKIM_PASS", "DMARC_PASS"} <= set(s), s
    assert "d=sender.example" in s["DKIM_PASS"]["detail"], s["DKIM_PASS"]
    assert r["action"] == "pass", r

    r, s = scan(cluster, tmp_path, "forged.eml", message("ceo@sender.example", "wire"), BAD_IP,
                "ceo@sender.example")
    assert {"SPF_FAIL", "DMARC_FAIL"} <= set(s) and "DKIM_PASS" not in s, s
    assert r["action"] == "reject", r
    assert "p=reject" in s["DMARC_FAIL"]["detail"], s["DMARC_FAIL"]

    r, s = scan(cluster, tmp_path, "sub.eml", message("n@news.sender.example", "news"), BAD_IP,
                "n@news.sender.example")
    assert "DMARC_FAIL" in s and "sp=quarantine" in s["DMARC_FAIL"]["detail"], s
    assert r["action"] == "quarantine", r

    # A tampered body breaks the signature: DKIM fails, SPF still aligns, DMARC passes.
    bad = message("alice@sender.example", "minutes 2", nsd["key"]).replace(b"Tuesday",
                                                                           b"Friday")
    r, s = scan(cluster, tmp_path, "tampered.eml", bad, GOOD_IP, "alice@sender.example")
    assert "DKIM_FAIL" in s and "SPF_PASS" in s and "DMARC_PASS" in s, s

    r, s = scan(cluster, tmp_path, "loose.eml", message("x@loose.sender.example", "loose"),
                BAD_IP, "x@loose.sender.example")
    assert "SPF_SOFTFAIL" in s, s
    # loose.sender.example has no _dmarc record of its own: the organisational domain's
    # policy applies with sp=quarantine.
    assert "DMARC_FAIL" in s and "sp=quarantine" in s["DMARC_FAIL"]["detail"], s

    log = cluster.ctl("log", "search", "--json").stdout
    assert len(log.splitlines()) == 5, log
