"""The SPF check end to end: `bulwarkctl scan --local --dns` against dnsserver.py.

The envelope (--ip, --helo, --from) decides the SPF symbols a message gets; the zone
below gives each result a domain. Checked: the symbol, its weight and detail, the HELO
identity, the null sender, trusted networks, fail_action, score overrides, a DNS
timeout and a DNS server that is down, and `bulwarkctl spf` itself (text, JSON,
exit statuses). The RFC's own cases are in test_spf_suite.py.
"""
import json
import subprocess
import time

import pytest

from bulwark_harness import CTL, free_port
from dnsserver import DNSServer

ZONE = {
    "good.example": [{"TXT": "v=spf1 ip4:192.0.2.0/24 mx -all exp=why.good.example"},
                     {"MX": [10, "mx.good.example"]}],
    "mx.good.example": [{"A": "198.51.100.25"}],
    "why.good.example": [{"TXT": "%{i} may not send for %{d}"}],
    "soft.example": [{"TXT": "v=spf1 ip4:192.0.2.0/24 ~all"}],
    "open.example": [{"TXT": "v=spf1 ?all"}],
    "broken.example": [{"TXT": "v=spf1 ip4:192.0.2.300 -all"}],
    "twice.example": [{"TXT": "v=spf1 -all"}, {"TXT": "v=spf1 +all"}],
    "nospf.example": [{"TXT": "google-site-verification=abc"}],
    "slow.example": ["TIMEOUT"],
    "mx1.sender.example": [{"TXT": "v=spf1 a -all"}, {"A": "192.0.2.10"}],
    "helo-fail.example": [{"TXT": "v=spf1 -all"}],
}

MESSAGE = (b"From: Alice <alice@good.example>\r\nTo: bob@example.org\r\n"
           b"Subject: quarterly numbers\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
           b"Message-ID: <spf-test@good.example>\r\n\r\nThe numbers are attached.\r\n")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("spf")
    msg = d / "msg.eml"
    msg.write_bytes(MESSAGE)
    with DNSServer(ZONE) as dns:
        yield {"dns": f"127.0.0.1:{dns.port}", "msg": msg, "server": dns}


def scan(env, ip, helo, mail_from, sets=(), dns=None):
    # The rule set is off: compiling it costs 3 s a scan under ASan, and SPF needs none of it.
    args = [str(CTL), "scan", "--local", "--json", "--dns", dns or env["dns"], "--ip", ip,
            "--helo", helo, "--from", mail_from, "--set", "check.rules.enabled=no"]
    for s in sets:
        args += ["--set", s]
    p = subprocess.run(args + [str(env["msg"])], capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    out = json.loads(p.stdout.decode().splitlines()[0])
    syms = {s["name"]: s for s in out["symbols"] if s["name"].startswith("SPF_")}
    return syms, out


def only(syms, name):
    assert list(syms) == [name], syms
    return syms[name]


def test_pass_fail_softfail(env):
    s, _ = scan(env, "192.0.2.7", "mx1.sender.example", "alice@good.example")
    sym = only({k: v for k, v in s.items() if not k.startswith("SPF_HELO")}, "SPF_PASS")
    assert sym["score"] == -0.2
    assert sym["detail"] == "mailfrom good.example: pass by 'ip4:192.0.2.0/24' for 192.0.2.7"

    s, _ = scan(env, "198.51.100.25", "mx.good.example", "alice@good.example")
    assert "by 'mx'" in only(s, "SPF_PASS")["detail"]  # mx.good.example has no record

    s, out = scan(env, "203.0.113.9", "mx.good.example", "alice@good.example")
    sym = only(s, "SPF_FAIL")
    assert sym["score"] == 2
    # the domain's own explanation (exp=), macros expanded
    assert sym["detail"] == ("mailfrom good.example: fail by '-all' for 203.0.113.9: "
                             "203.0.113.9 may not send for good.example")
    assert out["action"] == "pass"  # fail_action is none by default: the score decides

    s, _ = scan(env, "203.0.113.9", "mx.good.example", "carol@soft.example")
    assert only(s, "SPF_SOFTFAIL")["score"] == 0.7
    s, _ = scan(env, "203.0.113.9", "mx.good.example", "dave@open.example")
    assert "by '?all'" in only(s, "SPF_NEUTRAL")["detail"]


def test_none_permerror_temperror(env):
    s, _ = scan(env, "203.0.113.9", "mx.good.example", "x@nospf.example")
    assert "no SPF record at nospf.example" in only(s, "SPF_NONE")["detail"]
    s, _ = scan(env, "203.0.113.9", "mx.good.example", "x@unknown.example")  # NXDOMAIN
    only(s, "SPF_NONE")
    s, _ = scan(env, "203.0.113.9", "mx.good.example", "x@broken.example")
    sym = only(s, "SPF_PERMERROR")
    assert "ip4:192.0.2.300" in sym["detail"] and sym["score"] == 0.5
    s, _ = scan(env, "203.0.113.9", "mx.good.example", "x@twice.example")
    assert "2 SPF records" in only(s, "SPF_PERMERROR")["detail"]

    t0 = time.monotonic()
    s, _ = scan(env, "203.0.113.9", "mx.good.example", "x@slow.example")
    assert time.monotonic() - t0 < 20
    sym = only(s, "SPF_TEMPERROR")
    assert "timeout" in sym["detail"] and sym["score"] == 0

    # a DNS server that is not there: a temperror, not a stuck scan and not a pass
    s, _ = scan(env, "203.0.113.9", "mx.good.example", "alice@good.example",
                dns=f"127.0.0.1:{free_port()}")
    only(s, "SPF_TEMPERROR")


def test_helo_identity_and_null_sender(env):
    # HELO checked on its own: mx1.sender.example allows only its A record
    s, _ = scan(env, "192.0.2.10", "mx1.sender.example", "alice@good.example")
    assert set(s) == {"SPF_PASS", "SPF_HELO_PASS"}
    assert s["SPF_HELO_PASS"]["detail"].startswith("helo mx1.sender.example: pass by 'a'")
    s, _ = scan(env, "203.0.113.9", "helo-fail.example", "alice@good.example")
    assert set(s) == {"SPF_FAIL", "SPF_HELO_FAIL"} and s["SPF_HELO_FAIL"]["score"] == 1
    # a HELO name without a record adds nothing of its own
    s, _ = scan(env, "203.0.113.9", "mx.good.example", "alice@good.example")
    assert set(s) == {"SPF_FAIL"}
    s, _ = scan(env, "203.0.113.9", "helo-fail.example", "alice@good.example",
                sets=("check.spf.helo=no",))
    assert set(s) == {"SPF_FAIL"}
    # the null sender is postmaster@HELO: one check, as MAIL FROM
    s, _ = scan(env, "192.0.2.10", "mx1.sender.example", "")
    sym = only(s, "SPF_PASS")
    assert sym["detail"].startswith("mailfrom mx1.sender.example: pass")
    s, _ = scan(env, "203.0.113.9", "mx1.sender.example", "")
    only(s, "SPF_FAIL")


def test_trusted_networks_action_scores(env):
    # loopback is trusted by default: not checked at all
    s, _ = scan(env, "127.0.0.1", "mx.good.example", "alice@good.example")
    assert s == {}
    s, _ = scan(env, "::1", "mx.good.example", "alice@good.example")
    assert s == {}
    s, _ = scan(env, "203.0.113.9", "mx.good.example", "alice@good.example",
                sets=("check.spf.trusted_networks=10.0.0.0/8, 203.0.113.0/24",))
    assert s == {}
    s, _ = scan(env, "::ffff:203.0.113.9", "mx.good.example", "alice@good.example",
                sets=("check.spf.trusted_networks=203.0.113.0/24",))
    assert s == {}  # an IPv4-mapped client is its IPv4 address
    s, _ = scan(env, "127.0.0.1", "mx.good.example", "alice@good.example",
                sets=("check.spf.trusted_networks=",))
    only(s, "SPF_FAIL")

    s, out = scan(env, "203.0.113.9", "mx.good.example", "alice@good.example",
                  sets=("check.spf.fail_action=reject", "score.SPF_FAIL=4.5"))
    assert only(s, "SPF_FAIL")["score"] == 4.5
    assert out["action"] == "reject" and out["reason"] == "SPF fail"
    s, out = scan(env, "203.0.113.9", "mx.good.example", "carol@soft.example",
                  sets=("check.spf.fail_action=reject",))
    assert out["action"] == "pass"  # a softfail is not a fail
    s, _ = scan(env, "203.0.113.9", "mx.good.example", "alice@good.example",
                sets=("check.spf.enabled=no",))
    assert s == {}

    p = subprocess.run([str(CTL), "scan", "--local", "--json", "--dns", env["dns"], "--set",
                        "check.spf.trusted_networks=10.0.0.0/33", str(env["msg"])],
                       capture_output=True, timeout=60)
    assert p.returncode != 0
    assert b"check.spf.trusted_networks: '10.0.0.0/33'" in p.stderr


def test_no_resolver_no_client(env):
    # without --dns the check says nothing (as on a node without dns_* settings)
    p = subprocess.run([str(CTL), "scan", "--local", "--json", "--ip", "203.0.113.9", "--from",
                        "alice@good.example", str(env["msg"])], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert not [s for s in json.loads(p.stdout)["symbols"] if s["name"].startswith("SPF_")]
    # nor without a client address
    p = subprocess.run([str(CTL), "scan", "--local", "--json", "--dns", env["dns"], "--from",
                        "alice@good.example", str(env["msg"])], capture_output=True, timeout=60)
    assert not [s for s in json.loads(p.stdout)["symbols"] if s["name"].startswith("SPF_")]


def spf(env, *args):
    return subprocess.run([str(CTL), "spf", "--dns", env["dns"], *args], capture_output=True,
                          text=True, timeout=60)


def test_bulwarkctl_spf(env):
    p = spf(env, "--ip", "203.0.113.9", "--helo", "mx.good.example", "--mail-from",
            "alice@good.example")
    assert p.returncode == 0, p.stderr
    assert "result:      fail\n" in p.stdout and "mechanism:   -all\n" in p.stdout
    assert "explanation: 203.0.113.9 may not send for good.example\n" in p.stdout
    assert "lookups:     1 of 10, void 0 of 2, 4 DNS queries" in p.stdout

    p = spf(env, "--json", "--ip", "198.51.100.25", "--mail-from", "alice@good.example")
    r = json.loads(p.stdout)
    assert (r["result"], r["mechanism"], r["lookups"], r["domain"]) == \
        ("pass", "mx", 1, "good.example")
    p = spf(env, "--json", "--identity", "helo", "--ip", "192.0.2.10", "--helo",
            "mx1.sender.example", "--mail-from", "alice@good.example")
    r = json.loads(p.stdout)
    assert (r["identity"], r["domain"], r["result"]) == ("helo", "mx1.sender.example", "pass")
    # every result exits 0; bad arguments exit 2
    assert spf(env, "--ip", "203.0.113.9", "--mail-from", "x@slow.example",
               "--timeout", "300ms").returncode == 0
    for bad in (["--ip", "not-an-ip"], [], ["--ip", "192.0.2.1", "--identity", "dkim"],
                ["--ip", "192.0.2.1", "--identity", "helo"], ["--batch", "--ip", "192.0.2.1"],
                ["--ip", "192.0.2.1", "--timeout", "forever"],
                ["--ip", "192.0.2.1", "--default-exp", "%{x}"], ["--ip", "192.0.2.1", "extra"]):
        p = spf(env, *bad)
        assert p.returncode == 2, (bad, p.stdout, p.stderr)
        assert p.stderr
    p = subprocess.run([str(CTL), "spf", "--dns", "nonsense", "--ip", "192.0.2.1"],
                       capture_output=True, timeout=60)
    assert p.returncode == 2
