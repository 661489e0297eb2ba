"""DNS block lists and DNS sanity checks end to end, against a real rbldnsd.

rbldnsd (Debian's) serves three lists on loopback from tests/integration/rbl_zones/: an
IP list (zen.rbl.example: IPv4 and IPv6 entries, several return codes, an address in two
datasets, a "query refused" code), a domain list used both as a URI list and for sender
domains (dbl.rbl.example), and a bit-mask list (multi.rbl.example). dnsserver.py answers
everything else (PTR, A, MX for the DNS checks) as the forwarder; the resolver sends the
list zones to rbldnsd through a stub zone (`--dns-stub` / the node's dns_stub_zones). A
UDP socket that reads nothing stands for a list that never answers.

Checked through `bulwarkctl scan --local`: code mapping (exact, range, default symbol,
bit mask, two answers), IPv6 nibble names, refused codes as list errors, trusted
networks, Received hops behind a trusted relay, URI names (registrable domain, host,
IP literal) and their per-message cap, timeouts, the Redis cache across processes (the
second process's lookups never reach rbldnsd: its query log says so) and Redis down;
every DNS sanity symbol. Through a cluster: the configuration refused in words, and two
nodes sharing one Redis (the second node asks rbldnsd nothing), a list timing out within
the node's dns_timeout.
"""
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from bulwark_harness import CTL, free_port, redis_server, wait_for
from dnsserver import DNSServer

RBLDNSD = shutil.which("rbldnsd") or "/usr/sbin/rbldnsd"
ZONES = Path(__file__).parent / "rbl_zones"

pytestmark = pytest.mark.skipif(not Path(RBLDNSD).exists(), reason="rbldnsd not installed")

CONFIG = """
check.rules.enabled = no
check.dnscheck.enabled = yes
rbl.list.zen.zone = zen.rbl.example
rbl.list.zen.on = client, received
rbl.list.zen.codes = 127.0.0.2:ZEN_SBL:4, 127.0.0.4-127.0.0.7:ZEN_XBL:3, 127.0.0.10-127.0.0.11:ZEN_PBL:1.5
rbl.list.dbl.zone = dbl.rbl.example
rbl.list.dbl.type = uri
rbl.list.dbl.codes = 127.0.1.2:DBL_SPAM:2.5, 127.0.1.4:DBL_PHISH:4
rbl.list.dbls.zone = dbl.rbl.example
rbl.list.dbls.type = domain
rbl.list.dbls.on = helo, rdns, envfrom, from, replyto
rbl.list.dbls.codes = 127.0.1.2:DBL_SENDER:1.5, 127.0.1.4:DBL_SENDER_PHISH:3
rbl.list.multi.zone = multi.rbl.example
rbl.list.multi.type = uri
rbl.list.multi.codes = &8:MULTI_PH:4, &2:MULTI_BLACK:2, 127.0.0.1:ERROR
"""

# PTR, A and MX data for the DNS checks (and the forwarder for every name not in a list).
DNS_ZONE = {
    "10.2.0.192.in-addr.arpa": [{"PTR": "good.sender.example"}],
    "good.sender.example": [{"A": "192.0.2.10"}],
    "11.2.0.192.in-addr.arpa": [{"PTR": "elsewhere.sender.example"}],
    "elsewhere.sender.example": [{"A": "192.0.2.200"}],
    "99.2.0.192.in-addr.arpa": [{"PTR": "mta.spammy.example"}],
    "mta.spammy.example": [{"A": "192.0.2.99"}],
    "sender.example": [{"MX": [10, "mx.sender.example"]}],
    "mx.sender.example": [{"A": "198.51.100.25"}],
    "aonly.example": [{"A": "198.51.100.26"}],
    "txtonly.example": [{"TXT": "v=spf1 -all"}],
    "nullmx.example": [{"MX": [0, ""]}],
    "spammy.example": [{"MX": [10, "mta.spammy.example"]}],
    "phish.example": [{"A": "203.0.113.50"}],
}

MESSAGE = ("From: Mallory <m@spammy.example>\r\nReply-To: desk@phish.example\r\n"
           "To: bob@rcpt.example\r\nSubject: your account\r\n"
           "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <rbl-1@spammy.example>\r\n"
           "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
           '<p>Deal: <a href="http://www.spammy.example/deal">here</a>, log in at '
           '<a href="https://login.phish.example/x">your bank</a>, '
           '<a href="http://192.0.2.1/file">mirror</a>, <a href="http://bits.example/">bits</a>'
           ', <a href="http://clean.example/">clean</a></p>\r\n')

PLAIN = ("From: Alice <alice@sender.example>\r\nTo: bob@rcpt.example\r\nSubject: lunch\r\n"
         "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <rbl-2@sender.example>\r\n"
         "{received}\r\nSee you at noon.\r\n")


class Rbldnsd:
    """rbldnsd on a free loopback port, its zone files copied to a directory its user
    can read (pytest's tmp dirs are root's, mode 0700), queries logged unbuffered."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="bulwark-rbldnsd-"))
        os.chmod(self.dir, 0o755)
        for f in ZONES.glob("*.zone"):
            shutil.copy(f, self.dir / f.name)
            os.chmod(self.dir / f.name, 0o644)
        self.user = "rbldns" if self._user_exists("rbldns") else "nobody"
        self.log = self.dir / "queries.log"
        self.log.touch()
        os.chmod(self.log, 0o666)
        self.port = free_port()
        self.out = open(self.dir / "rbldnsd.out", "wb")
        self.proc = subprocess.Popen(
            [RBLDNSD, "-n", "-u", self.user, "-b", f"127.0.0.1/{self.port}", "-w", str(self.dir),
             "-l", "+queries.log", "-t", "300",
             "zen.rbl.example:ip4set:sbl.zone,xbl.zone,pbl.zone", "zen.rbl.example:ip6trie:v6.zone",
             "dbl.rbl.example:dnset:dbl.zone", "multi.rbl.example:dnset:multi.zone"],
            stdout=self.out, stderr=self.out)
        wait_for(self._answers, 10, 0.05, "rbldnsd answering")

    @staticmethod
    def _user_exists(name):
        try:
            pwd.getpwnam(name)
            return True
        except KeyError:
            return False

    def _answers(self):
        r = subprocess.run(["dig", "+short", "+time=1", "+tries=1", "-p", str(self.port),
                            "@127.0.0.1", "99.2.0.192.zen.rbl.example", "A"],
                           capture_output=True, text=True)
        return r.stdout.strip() == "127.0.0.2"

    def queries(self):
        """The names rbldnsd was asked, in order (lower case)."""
        return [line.split()[2].lower().rstrip(".") for line in
                self.log.read_text(errors="replace").splitlines() if len(line.split()) > 3]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.out.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Silent:
    """A UDP port that takes queries and never answers: a list that times out."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("rbl")
    rbl = Rbldnsd()
    silent = Silent()
    dns = DNSServer(DNS_ZONE).start()
    conf = d / "rbl.conf"
    conf.write_text(CONFIG)
    (d / "msg.eml").write_text(MESSAGE)
    try:
        yield {"dir": d, "rbl": rbl, "dns": dns, "silent": silent, "conf": conf,
               "msg": d / "msg.eml",
               "stubs": [f"rbl.example=127.0.0.1:{rbl.port}",
                         f"slow.rbl.example=127.0.0.1:{silent.port}"]}
    finally:
        dns.stop()
        silent.close()
        rbl.stop()


@pytest.fixture
def redis(tmp_path):
    with redis_server(tmp_path) as p:
        yield p


def scan(env, path=None, ip="192.0.2.10", helo="good.sender.example", mail_from="a@sender.example",
         sets=(), redis=None, stubs=None):
    """One `scan --local`; (symbols by name, the result, stderr)."""
    args = [str(CTL), "scan", "--local", "--json", "--config", str(env["conf"]), "--dns",
            f"127.0.0.1:{env['dns'].port}", "--ip", ip, "--helo", helo, "--from", mail_from]
    for s in env["stubs"] if stubs is None else stubs:
        args += ["--dns-stub", s]
    for s in sets:
        args += ["--set", s]
    if redis:
        args += ["--redis", redis]
    p = subprocess.run(args + [str(path or env["msg"])], capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    out = json.loads(p.stdout.decode().splitlines()[0])
    return {s["name"]: s for s in out["symbols"]}, out, p.stderr.decode()


def plain(env, name, received=""):
    path = env["dir"] / name
    path.write_text(PLAIN.format(received=received))
    return path


LIST_PREFIXES = ("ZEN_", "DBL_", "MULTI_", "RBL_")


def listed(syms):
    return {k: v for k, v in syms.items() if k.startswith(LIST_PREFIXES)}


def zen(syms):
    """The IP list's symbols (the HELO or rDNS name may be in the domain list too)."""
    return {k: v for k, v in syms.items() if k.startswith(("ZEN_", "RBL_ZEN"))}


# ---- IP lists ------------------------------------------------------------------------


def test_ip_list_return_codes(env):
    msg = plain(env, "plain.eml")
    s, _, _ = scan(env, msg, ip="192.0.2.99", helo="mta.spammy.example")
    assert set(zen(s)) == {"ZEN_SBL"}
    assert s["ZEN_SBL"]["score"] == 4
    assert s["ZEN_SBL"]["detail"] == "client 192.0.2.99 in zen.rbl.example (127.0.0.2)"
    # an address in two datasets gets both answers, both symbols
    s, out, _ = scan(env, msg, ip="203.0.113.8")
    assert set(zen(s)) == {"ZEN_SBL", "ZEN_XBL"}
    assert "(127.0.0.2,127.0.0.4)" in s["ZEN_XBL"]["detail"] or \
        "(127.0.0.4,127.0.0.2)" in s["ZEN_XBL"]["detail"]
    # a range of codes
    s, _, _ = scan(env, msg, ip="203.0.113.7")
    assert set(zen(s)) == {"ZEN_PBL"} and s["ZEN_PBL"]["score"] == 1.5
    s, _, _ = scan(env, msg, ip="198.51.100.200")
    assert set(zen(s)) == {"ZEN_XBL"}
    # a code no entry names: the list's default symbol, weight 1
    s, _, _ = scan(env, msg, ip="192.0.2.77")
    assert set(zen(s)) == {"RBL_ZEN"} and s["RBL_ZEN"]["score"] == 1
    assert "(127.0.0.9)" in s["RBL_ZEN"]["detail"]
    # IPv6: nibbles; an IPv4-mapped client is its IPv4 address
    s, _, _ = scan(env, msg, ip="2001:db8:bad::25")
    assert s["ZEN_SBL"]["detail"] == "client 2001:db8:bad::25 in zen.rbl.example (127.0.0.2)"
    s, _, _ = scan(env, msg, ip="::ffff:192.0.2.99")
    assert s["ZEN_SBL"]["detail"] == "client 192.0.2.99 in zen.rbl.example (127.0.0.2)"
    # not listed
    s, _, _ = scan(env, msg, ip="192.0.2.10")
    assert zen(s) == {}
    s, _, _ = scan(env, msg, ip="2001:db8:600d::1")
    assert zen(s) == {}
    q = env["rbl"].queries()
    assert "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.a.b.0.8.b.d.0.1.0.0.2.zen.rbl.example" in q


def test_refused_code_is_not_a_listing(env):
    msg = plain(env, "plain.eml")
    s, out, err = scan(env, msg, ip="203.0.113.66")
    assert "ZEN_SBL" not in s and "RBL_ZEN" not in s
    assert s["RBL_LIST_ERROR"]["score"] == 0
    assert s["RBL_LIST_ERROR"]["detail"] == (
        "zen.rbl.example answered 127.255.255.254 for client 203.0.113.66: an error code, "
        "not a listing")
    assert "event=rbl_list_error list=zen zone=zen.rbl.example query=66.113.0.203.zen.rbl.example"\
           " answer=127.255.255.254" in err
    # a code the configuration maps to ERROR (URIBL's 127.0.0.1)
    path = env["dir"] / "refused.eml"
    path.write_text(PLAIN.format(received="").replace("See you", "See http://refused.example/ "))
    s, _, err = scan(env, path)
    assert "MULTI_PH" not in s and "MULTI_BLACK" not in s and "RBL_MULTI" not in s
    assert "multi.rbl.example answered 127.0.0.1 for url refused.example" in \
        s["RBL_LIST_ERROR"]["detail"]


def test_trusted_networks_exempt(env):
    msg = plain(env, "plain.eml")
    env["rbl"].log.write_text("")
    # 10.1.2.3 is listed, but private space is trusted by default: not even asked
    s, _, _ = scan(env, msg, ip="10.1.2.3")
    assert zen(s) == {}
    assert not [n for n in env["rbl"].queries() if n.endswith("3.2.1.10.zen.rbl.example")]
    assert not [n for n in s if n.startswith(("RDNS_", "HELO_", "SENDER_DOMAIN"))]
    s, _, _ = scan(env, msg, ip="10.1.2.3", sets=("rbl.trusted_networks=127.0.0.0/8",))
    assert set(zen(s)) == {"ZEN_SBL"}
    s, _, _ = scan(env, msg, ip="192.0.2.99", helo="mta.spammy.example",
                   sets=("rbl.trusted_networks=192.0.2.0/24",))
    assert zen(s) == {}


def test_received_hops_behind_a_trusted_relay(env):
    hops = ("Received: from relay.corp.example (relay.corp.example [10.0.0.5]) by "
            "mx.rcpt.example; Tue, 24 Nov 2026 10:00:02 +0000\r\n"
            "Received: from mta.outside.example (mta.outside.example [198.51.100.9]) by "
            "relay.corp.example; Tue, 24 Nov 2026 10:00:01 +0000\r\n"
            "Received: from laptop ([203.0.113.7]) by mta.outside.example; "
            "Tue, 24 Nov 2026 10:00:00 +0000\r\n")
    msg = plain(env, "hops.eml", hops)
    # the client is our relay: the hops below it are asked, topmost first
    s, _, _ = scan(env, msg, ip="10.0.0.5")
    assert set(zen(s)) == {"ZEN_XBL", "ZEN_PBL"}
    assert s["ZEN_XBL"]["detail"] == "received 198.51.100.9 in zen.rbl.example (127.0.0.4)"
    assert s["ZEN_PBL"]["detail"] == "received 203.0.113.7 in zen.rbl.example (127.0.0.10)"
    s, _, _ = scan(env, msg, ip="10.0.0.5", sets=("rbl.max_received=1",))
    assert set(zen(s)) == {"ZEN_XBL"}
    # a list that asks only about the client does not read Received
    s, _, _ = scan(env, msg, ip="10.0.0.5", sets=("rbl.list.zen.on=client",))
    assert zen(s) == {}


# ---- domain and URI lists -----------------------------------------------------------


def test_uri_and_sender_domain_lists(env):
    s, out, _ = scan(env, ip="192.0.2.10", mail_from="m@spammy.example")
    got = listed(s)
    assert set(got) == {"DBL_SPAM", "DBL_PHISH", "MULTI_PH", "MULTI_BLACK", "DBL_SENDER",
                        "DBL_SENDER_PHISH"}, got
    # the registrable domain of www.spammy.example, and the IP literal reversed
    assert got["DBL_SPAM"]["detail"] == ("url spammy.example in dbl.rbl.example (127.0.1.2); "
                                         "url 192.0.2.1 in dbl.rbl.example (127.0.1.2)")
    assert got["DBL_SPAM"]["score"] == 2.5
    # a wildcard entry: the domain and the host both listed
    assert got["DBL_PHISH"]["detail"] == ("url phish.example in dbl.rbl.example (127.0.1.4); "
                                          "url login.phish.example in dbl.rbl.example "
                                          "(127.0.1.4)")
    # one answer, two bits
    assert got["MULTI_PH"]["detail"] == "url bits.example in multi.rbl.example (127.0.0.10)"
    assert got["MULTI_BLACK"]["score"] == 2
    # sender domains: MAIL FROM and From are one name, Reply-To another
    assert got["DBL_SENDER"]["detail"] == ("envfrom/from spammy.example in dbl.rbl.example "
                                           "(127.0.1.2)")
    assert got["DBL_SENDER_PHISH"]["detail"] == ("replyto phish.example in dbl.rbl.example "
                                                 "(127.0.1.4)")
    assert out["score"] >= 2.5 + 4 + 4 + 2 + 1.5 + 3
    # a score override applies to a list's symbol like any other
    s, _, _ = scan(env, ip="192.0.2.10", sets=("score.DBL_PHISH=9",))
    assert s["DBL_PHISH"]["score"] == 9


def test_url_names_capped(env):
    links = "".join(f'<a href="http://www.cap{i:02d}.example/">{i}</a> ' for i in range(1, 31))
    path = env["dir"] / "many.eml"
    path.write_text(MESSAGE.split("\r\n\r\n")[0] + "\r\n\r\n" + links + "\r\n")
    s, _, _ = scan(env, path, sets=("rbl.max_url_hosts=5",))
    d = s["DBL_SPAM"]["detail"]
    assert d.count("url cap") == 5
    assert d.endswith("(the first 5 URL names were looked up: rbl.max_url_hosts)")
    # registrable domains come before hosts: cap01..cap05, not www.cap01...
    assert "url cap05.example" in d and "www." not in d
    # the default cap (20) names 8 in the detail and counts the rest
    s, _, _ = scan(env, path)
    assert "; 12 more (the first 20 URL names were looked up" in s["DBL_SPAM"]["detail"]


def test_list_timeout_is_a_temperror(env):
    msg = plain(env, "plain.eml")
    t0 = time.monotonic()
    s, out, _ = scan(env, msg, ip="192.0.2.99", helo="mta.spammy.example",
                     sets=("rbl.list.slow.zone=slow.rbl.example",
                           "rbl.list.slow.codes=127.0.0.2:SLOW_LISTED:5"))
    elapsed = time.monotonic() - t0
    assert "SLOW_LISTED" not in s
    assert s["RBL_TEMPERROR"]["score"] == 0
    assert s["RBL_TEMPERROR"]["detail"] == "no answer from slow.rbl.example (client 192.0.2.99)"
    assert s["ZEN_SBL"]  # the other lists still vote
    # bulwarkctl's resolver waits dns_timeout's default, 2 s, once for all lookups
    assert out["ms"] < 3000, out["ms"]
    assert elapsed < 20


# ---- the Redis cache --------------------------------------------------------------------


def test_cache_serves_the_next_process(env, redis):
    msg = plain(env, "cache.eml")
    name = "99.2.0.192.zen.rbl.example"
    before = env["rbl"].queries().count(name)
    s, _, err = scan(env, msg, ip="192.0.2.99", helo="mta.spammy.example", redis=redis.addr)
    assert "ZEN_SBL" in s and "rbl_cache_unavailable" not in err
    assert env["rbl"].queries().count(name) == before + 1
    r = subprocess.run(["redis-cli", "-p", redis.addr.split(":")[1], "--raw", "GET",
                        f"bw:rbl:{name}"], capture_output=True, text=True)
    assert r.stdout.strip() == "127.0.0.2"
    r = subprocess.run(["redis-cli", "-p", redis.addr.split(":")[1], "TTL", f"bw:rbl:{name}"],
                       capture_output=True, text=True)
    assert 290 <= int(r.stdout) <= 300
    # "not listed" is kept too
    r = subprocess.run(["redis-cli", "-p", redis.addr.split(":")[1], "--raw", "GET",
                        "bw:rbl:sender.example.dbl.rbl.example"], capture_output=True, text=True)
    assert r.stdout.strip() == "-"
    # another process: the answers come from Redis, rbldnsd is not asked again
    mark = len(env["rbl"].queries())
    s, _, _ = scan(env, msg, ip="192.0.2.99", helo="mta.spammy.example", redis=redis.addr)
    assert s["ZEN_SBL"]["detail"] == "client 192.0.2.99 in zen.rbl.example (127.0.0.2)"
    assert env["rbl"].queries()[mark:] == []
    # without the cache it asks again
    s, _, _ = scan(env, msg, ip="192.0.2.99", helo="mta.spammy.example", redis=redis.addr,
                   sets=("rbl.cache_ttl=0",))
    assert "ZEN_SBL" in s and name in env["rbl"].queries()[mark:]


def test_redis_down_means_dns(env):
    msg = plain(env, "cache.eml")
    s, _, err = scan(env, msg, ip="192.0.2.99", helo="mta.spammy.example",
                     redis=f"127.0.0.1:{free_port()}")
    assert s["ZEN_SBL"]["score"] == 4
    assert "event=rbl_cache_unavailable" in err


# ---- DNS sanity -------------------------------------------------------------------------


def sanity(syms):
    return {k: v for k, v in syms.items()
            if k.startswith(("RDNS_", "HELO_", "SENDER_DOMAIN", "DNSCHECK_"))}


def test_dns_checks(env):
    msg = plain(env, "plain.eml")
    # all in order: PTR leads back, HELO resolves to the client, sender has an MX
    s, _, _ = scan(env, msg)
    assert sanity(s) == {}
    s, _, _ = scan(env, msg, ip="192.0.2.12")
    assert s["RDNS_NONE"]["detail"] == "192.0.2.12 has no PTR record (nxdomain)"
    assert s["RDNS_NONE"]["score"] == 1
    s, _, _ = scan(env, msg, ip="192.0.2.11", helo="elsewhere.sender.example")
    assert s["RDNS_NOT_FCRDNS"]["detail"] == (
        "192.0.2.11: PTR elsewhere.sender.example, which does not resolve to it "
        "(elsewhere.sender.example: other addresses)")
    assert s["HELO_MISMATCH_IP"]["score"] == 0.2
    # the envelope sender's domain
    for sender, detail in [
            ("x@txtonly.example", "txtonly.example has no MX, A or AAAA record"),
            ("x@nxd.example", "nxd.example does not exist (NXDOMAIN)"),
            ("x@nullmx.example", "nullmx.example publishes a null MX (RFC 7505): it takes no "
                                 "mail, bounces included")]:
        s, _, _ = scan(env, msg, mail_from=sender)
        assert s["SENDER_DOMAIN_NO_MX_A"]["detail"] == detail, sender
        assert s["SENDER_DOMAIN_NO_MX_A"]["score"] == 1.5
    s, _, _ = scan(env, msg, mail_from="x@aonly.example")  # an A record is enough
    assert sanity(s) == {}
    s, _, _ = scan(env, msg, mail_from="")  # the null sender has no domain to check
    assert sanity(s) == {}
    # HELO
    s, _, _ = scan(env, msg, helo="WORKSTATION")
    assert set(sanity(s)) == {"HELO_NOT_FQDN"}
    s, _, _ = scan(env, msg, helo="192.0.2.10")
    assert set(sanity(s)) == {"HELO_BARE_IP"}
    s, _, _ = scan(env, msg, helo="[192.0.2.10]")  # an address literal, the client's
    assert sanity(s) == {}
    s, _, _ = scan(env, msg, helo="[192.0.2.55]")
    assert set(sanity(s)) == {"HELO_MISMATCH_IP"}
    s, _, _ = scan(env, msg, helo="no-such-host.sender.example")
    assert s["HELO_NXDOMAIN"]["detail"] == "HELO no-such-host.sender.example: no such name"
    # trusted networks: nothing checked
    s, _, _ = scan(env, msg, ip="10.9.9.9", helo="WORKSTATION", mail_from="x@nxd.example")
    assert sanity(s) == {}
    # a DNS server that never answers: no verdict, a temperror
    s, _, _ = scan(env, msg, ip="192.0.2.12", stubs=[f"in-addr.arpa=127.0.0.1:{env['silent'].port}"])
    assert "RDNS_NONE" not in s
    assert s["DNSCHECK_TEMPERROR"]["detail"] == "PTR of 192.0.2.12: timeout"
    # the check is off by default
    s, _, _ = scan(env, msg, ip="192.0.2.12", sets=("check.dnscheck.enabled=no",))
    assert sanity(s) == {}


# ---- the cluster ------------------------------------------------------------------------


def config_set(cluster, *kv, check=True):
    return cluster.ctl("config", "set", "--comment", "block lists", *kv, check=check)


def test_cluster_refuses_bad_list_config(cluster):
    cluster.start_master()
    v0 = cluster.status()["config_version"]
    r = config_set(cluster, "rbl.list.zen.codes=127.0.0.2:ZEN_SBL:lots", check=False)
    assert r.returncode == 1
    assert ("bad value for 'rbl.list.zen.codes': weight 'lots' of ZEN_SBL is not a number in "
            "[-1000, 1000]") in r.stderr
    r = config_set(cluster, "rbl.list.zen.codes=10.0.0.2:X", check=False)
    assert r.returncode == 1 and "'10.0.0.2' is outside 127.0.0.0/8" in r.stderr
    r = config_set(cluster, "rbl.list.zen.type=dns", check=False)
    assert r.returncode == 1 and "'dns' is not one of ip|domain|uri" in r.stderr
    r = config_set(cluster, "rbl.list.zen.zonefile=x.example", check=False)
    assert r.returncode == 1 and "unknown attribute 'zonefile' of list zen" in r.stderr
    r = config_set(cluster, "rbl.list.zen.on=client,sender", check=False)
    assert r.returncode == 1 and "'sender' is not a source" in r.stderr
    r = config_set(cluster, "rbl.trusted_networks=10.0.0.0/8", "rbl.max_url_hosts=0",
                   check=False)
    assert r.returncode == 1 and "out of range" in r.stderr
    assert cluster.status()["config_version"] == v0
    # good values are versioned like any other
    config_set(cluster, "rbl.list.zen.zone=zen.rbl.example", "rbl.list.zen.codes=127.0.0.2:ZEN_SBL:4")
    assert cluster.status()["config_version"] == v0 + 1
    assert cluster.ctl("config", "get", "rbl.list.zen.codes").stdout.strip() == "127.0.0.2:ZEN_SBL:4"
    listing = cluster.ctl("config", "get", "--changed").stdout
    assert "rbl.list.zen.zone = zen.rbl.example\n" in listing
    assert "rbl.list.zen.codes = 127.0.0.2:ZEN_SBL:4\n" in listing
    assert cluster.ctl("config", "get", "rbl.list.other.zone").stdout.strip() == "(default)"


def node_extra(env, redis, timeout="2s"):
    return (f"dns_forwarders = 127.0.0.1:{env['dns'].port}\n"
            f"dns_stub_zones = {', '.join(env['stubs'])}\n"
            f"dns_timeout = {timeout}\nredis_server = {redis.addr}\n")


def cluster_scan(cluster, msg, ip):
    r = cluster.ctl("scan", "--json", "--ip", ip, "--helo", "mta.spammy.example", "--from",
                    "a@sender.example", msg)
    out = json.loads(r.stdout.splitlines()[0])
    return {s["name"]: s for s in out["symbols"]}, out


def test_cluster_nodes_share_the_cache(cluster, env, redis, tmp_path):
    cluster.start_master()
    lines = [ln.strip() for ln in CONFIG.strip().splitlines()]
    config_set(cluster, *[ln.replace(" = ", "=") for ln in lines],
               "rbl.list.slow.zone=slow.rbl.example", "rbl.list.slow.codes=127.0.0.2:SLOW_LISTED")
    version = cluster.status()["config_version"]
    cluster.start_node("node1", extra=node_extra(env, redis, "500ms"))
    wait_for(lambda: any(n["node"] == "node1" and n["config_version"] == version
                         for n in cluster.status()["nodes"]), 10, what="node1 on the version")
    msg = plain(env, "cluster.eml")
    name = "99.2.0.192.zen.rbl.example"
    before = env["rbl"].queries().count(name)
    s, out = cluster_scan(cluster, msg, "192.0.2.99")
    assert out["node"] == "node1"
    assert s["ZEN_SBL"]["score"] == 4
    # the list that never answers costs one dns_timeout (500 ms), not a stuck worker
    assert s["RBL_TEMPERROR"]["detail"] == "no answer from slow.rbl.example (client 192.0.2.99)"
    assert out["ms"] < 1500, out["ms"]
    assert env["rbl"].queries().count(name) == before + 1

    # another node, its own resolver cache empty: the answer comes from the shared Redis
    cluster.procs["node1"].stop()
    cluster.start_node("node2", extra=node_extra(env, redis, "500ms"))
    wait_for(lambda: any(n["node"] == "node2" and n["config_version"] == version
                         for n in cluster.status()["nodes"]), 10, what="node2 on the version")
    mark = len(env["rbl"].queries())
    s, out = cluster_scan(cluster, msg, "192.0.2.99")
    assert out["node"] == "node2"
    assert s["ZEN_SBL"]["detail"] == "client 192.0.2.99 in zen.rbl.example (127.0.0.2)"
    assert env["rbl"].queries()[mark:] == [], env["rbl"].queries()[mark:]

    # a list without a zone: the nodes refuse the version and keep scanning with theirs
    config_set(cluster, "rbl.list.half.codes=127.0.0.2:HALF")
    wait_for(lambda: "block list half has no zone (rbl.list.half.zone)"
             in cluster.procs["node2"].log_text(), 10, what="node2 refuses the version")
    s, out = cluster_scan(cluster, msg, "192.0.2.99")
    assert out["config_version"] == version and "ZEN_SBL" in s
    # unsetting the half list's keys makes a version the nodes take again
    cluster.ctl("config", "unset", "rbl.list.half.codes")
    fixed = cluster.status()["config_version"]
    wait_for(lambda: any(n["node"] == "node2" and n["config_version"] == fixed
                         for n in cluster.status()["nodes"]), 10, what="node2 on the next version")


def test_node_refuses_a_bad_stub_zone(cluster):
    cluster.start_master()
    p = cluster.start_node("node1", wait=False,
                           extra="dns_stub_zones = zen.rbl.example=rbldnsd.example:53\n")
    wait_for(lambda: not p.alive(), 20, 0.05, "bulwark-node to exit")
    assert p.p.returncode != 0
    assert ("bad DNS stub zone 'zen.rbl.example=rbldnsd.example:53': expected IPv4[:PORT], "
            "[IPv6]:PORT or an IPv6 address after '='") in p.log_text()
    del cluster.procs["node1"]  # exited by itself; nothing to stop
