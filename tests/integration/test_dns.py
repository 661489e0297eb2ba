"""The node's resolver (node/dns.c on libunbound) against a real DNS server on loopback.

Every lookup goes through the resolver code the checks use: `bulwarkctl dns lookup`
(one process, one resolver, one cache) or bulwark-dns-bench (batches of lookups in
flight together, as a scan submits them), forwarding to tests/integration/dnsserver.py.
The server's query log shows what reached it, so caching is seen from the outside.
"""
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from bulwark_harness import BUILD, CTL, free_port, wait_for  # noqa: E402
from dnsserver import DNSServer, DNSServerProcess  # noqa: E402

BENCH = BUILD / "tests" / "bench" / "bulwark-dns-bench"

ZONE = {
    "$negative_ttl": 45,
    "mail.example.com": [{"A": "192.0.2.10"}, {"AAAA": "2001:db8::10", "ttl": 120}],
    "example.com": [{"MX": [10, "mail.example.com"]}, {"MX": [20, "Backup.Example.COM."]},
                    {"TXT": "v=spf1 mx -all"}, {"TXT": "google-site-verification=x"}],
    "sel._domainkey.example.com": [{"TXT": ["v=DKIM1; k=rsa; p=MIIBIjAN", "BgkqhkiG9w0B"]}],
    "odd.example.com": [{"TXT": [{"hex": "00ff80"}, "caf\u00e9"]}],
    "10.2.0.192.in-addr.arpa": [{"PTR": "Mail.Example.com."}],
    "www.example.com": [{"CNAME": "mail.example.com"}],
    "nullmx.example.org": [{"MX": [0, "."]}],
    "deep.below.example.net": [{"A": "192.0.2.20"}],
    "dead.example.com": ["TIMEOUT"],
    "half.example.com": [{"TXT": "answered"}, "TIMEOUT"],
}


@pytest.fixture
def dns():
    with DNSServer(ZONE) as srv:
        yield srv


def lookup(srv, *args, timeout="2s", port=None, check=False):
    """`bulwarkctl dns lookup --json` against srv (or port); (answers, rc, seconds)."""
    argv = [str(CTL), "dns", "lookup", "--dns", f"127.0.0.1:{port or srv.port}",
            "--timeout", timeout, "--json", *args]
    t0 = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    took = time.monotonic() - t0
    assert "ERROR: AddressSanitizer" not in p.stderr and "LeakSanitizer" not in p.stderr, p.stderr
    if check:
        assert p.returncode == 0, p.stderr
    return [json.loads(line) for line in p.stdout.splitlines()], p.returncode, took


def test_answers_of_each_type(dns):
    out, rc, _ = lookup(dns, "example.com", "MX", "TXT", "A", check=True)
    mx, txt, a = out
    assert mx["status"] == "ok" and mx["type"] == "MX" and mx["ttl"] == 300
    # Names come lower case without the trailing dot, in answer order.
    assert sorted((r["pref"], r["host"]) for r in mx["answers"]) == [
        (10, "mail.example.com"), (20, "backup.example.com")]
    assert sorted(r["text"] for r in txt["answers"]) == [
        "google-site-verification=x", "v=spf1 mx -all"]
    assert a["status"] == "nodata" and a["answers"] == []

    out, _, _ = lookup(dns, "mail.example.com", "A", "AAAA", check=True)
    assert out[0]["answers"] == ["192.0.2.10"] and out[0]["ttl"] == 300
    assert out[1]["answers"] == ["2001:db8::10"] and out[1]["ttl"] == 120

    # One TXT record of two character-strings: one answer, the strings joined.
    out, _, _ = lookup(dns, "sel._domainkey.example.com", "TXT", check=True)
    assert len(out[0]["answers"]) == 1
    assert out[0]["answers"][0]["text"] == "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0B"
    assert out[0]["answers"][0]["strings"] == 2

    # Bytes that are not text arrive as they were sent (NUL included).
    out, _, _ = lookup(dns, "odd.example.com", "TXT", check=True)
    assert out[0]["answers"][0]["hex"] == "00ff80" + "café".encode().hex()

    # An address is looked up by its reverse name; the documentation prefix is asked
    # of the forwarder (unbound would answer it NXDOMAIN itself).
    out, _, _ = lookup(dns, "192.0.2.10", check=True)
    assert out[0]["name"] == "10.2.0.192.in-addr.arpa" and out[0]["type"] == "PTR"
    assert out[0]["answers"] == ["mail.example.com"]

    # A CNAME is followed; asked for itself it is the answer.
    out, _, _ = lookup(dns, "www.example.com", "A", "CNAME", check=True)
    assert out[0]["answers"] == ["192.0.2.10"]
    assert out[1]["answers"] == ["mail.example.com"]

    out, _, _ = lookup(dns, "nullmx.example.org", "MX", check=True)
    assert out[0]["answers"] == [{"pref": 0, "host": ""}]


def test_text_output(dns):
    p = subprocess.run([str(CTL), "dns", "lookup", "--dns", f"127.0.0.1:{dns.port}",
                        "example.com", "MX"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("example.com MX: ok ttl=300 ms=")
    assert sorted(lines[1:]) == ["    10 mail.example.com", "    20 backup.example.com"]


def test_nxdomain_nodata_and_negative_ttl(dns):
    out, rc, _ = lookup(dns, "nosuch.example.com", "A", "TXT")
    assert rc == 0  # a negative answer is an answer
    assert [o["status"] for o in out] == ["nxdomain", "nxdomain"]
    assert all(o["ttl"] == 45 for o in out)  # the SOA's minimum
    # A name with a name below it exists (empty non-terminal): NODATA, not NXDOMAIN.
    out, _, _ = lookup(dns, "below.example.net", "A")
    assert out[0]["status"] == "nodata" and out[0]["ttl"] == 45


def test_bad_names(dns):
    out, rc, _ = lookup(dns, "a..example.com", "A")
    assert out[0]["status"] == "badname" and rc == 1
    assert not [q for q in dns.queries() if "a..example" in q[0]]
    p = subprocess.run([str(CTL), "dns", "lookup", "--dns", "dns.example:53", "x.example"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "bad DNS forwarder 'dns.example:53'" in p.stderr
    p = subprocess.run([str(CTL), "dns", "lookup", "x.example", "NOTATYPE"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "unknown type 'NOTATYPE'" in p.stderr


def test_timeout_is_bounded(dns):
    out, rc, took = lookup(dns, "dead.example.com", "A", timeout="500ms")
    assert out[0]["status"] == "timeout" and rc == 1
    assert 0.45 <= out[0]["ms"] / 1000 < 1.0
    assert took < 2.0, f"a silent server held the lookup {took:.2f}s"
    assert ("dead.example.com", "A") in dns.queries()  # it was asked, it never answered
    # The TIMEOUT rule of the SPF test suite: the types listed before it answer.
    out, _, took = lookup(dns, "half.example.com", "TXT", "A", timeout="500ms")
    assert out[0]["status"] == "ok" and out[0]["answers"][0]["text"] == "answered"
    assert out[1]["status"] == "timeout"
    assert took < 2.0


def test_silent_name_does_not_poison_the_server(dns):
    # After timeouts on one name, other names on the same server still resolve in the
    # same process. (What this cannot show in a second: unbound doubles its wait for a
    # silent server at each timeout and stops asking it at all past 120 s, for every
    # name; dns.c caps that wait at dns_timeout, or 1 s, so it never gets there.)
    argv = [str(CTL), "dns", "lookup", "--dns", f"127.0.0.1:{dns.port}", "--timeout", "400ms",
            "--json", "--repeat", "3", "dead.example.com", "A"]
    subprocess.run(argv, capture_output=True, text=True, timeout=30)
    out, rc, _ = lookup(dns, "mail.example.com", "A", timeout="1s")
    assert out[0]["status"] == "ok", out


def test_server_down():
    port = free_port()  # nothing listens there
    out, rc, took = lookup(None, "example.com", "MX", port=port, timeout="500ms")
    assert out[0]["status"] in ("servfail", "timeout") and rc == 1
    assert took < 2.0


def test_positive_and_negative_caching(dns):
    out, rc, _ = lookup(dns, "--repeat", "3", "example.com", "MX", check=True)
    assert [o["status"] for o in out] == ["ok"] * 3
    # Asked once: the second and third rounds came from the resolver's cache, with
    # the TTL counting down from 300.
    assert dns.queries().count(("example.com", "MX")) == 1
    assert all(o["ttl"] <= 300 for o in out[1:])
    assert out[2]["ms"] < 50

    dns.clear_queries()
    out, _, _ = lookup(dns, "--repeat", "2", "missing.example.com", "TXT")
    assert [o["status"] for o in out] == ["nxdomain", "nxdomain"]
    assert dns.queries().count(("missing.example.com", "TXT")) == 1
    # A fresh process has a fresh cache: the server is asked again.
    lookup(dns, "missing.example.com", "TXT")
    assert dns.queries().count(("missing.example.com", "TXT")) == 2


def test_cached_answers_expire():
    # TTL 1 s, a record's own and the SOA minimum of a negative answer. The resolver
    # counts time in whole seconds, so an entry expires between 1 and 2 s after it was
    # fetched: of rounds at 0, 0.75, 1.5 and 2.25 s, the second is always from the
    # cache, and exactly one of the last two fetches again.
    zone = {"$negative_ttl": 1, "x.example": [{"A": "192.0.2.1", "ttl": 1}]}
    with DNSServer(zone) as srv:
        for name, status in (("x.example", "ok"), ("gone.x.example", "nxdomain")):
            argv = [str(CTL), "dns", "lookup", "--dns", f"127.0.0.1:{srv.port}", "--json",
                    "--repeat", "4", "--interval", "750ms", name, "A"]
            p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            assert p.returncode == 0, p.stderr
            out = [json.loads(line) for line in p.stdout.splitlines()]
            assert [o["status"] for o in out] == [status] * 4
            assert all(o["ttl"] <= 1 for o in out)
            assert srv.queries().count((name, "A")) == 2, srv.queries()


def write_replay(path, messages):
    with open(path, "w") as f:
        for i, lookups in enumerate(messages):
            for qtype, name in lookups:
                f.write(f"m{i} {qtype} {name}\n")


def bench(srv, replay, *extra):
    p = subprocess.run([str(BENCH), "--dns", f"127.0.0.1:{srv.port}", *extra, str(replay)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "Sanitizer" not in p.stderr, p.stderr
    return [json.loads(line) for line in p.stdout.splitlines()]


def test_lookups_of_a_message_are_in_flight_together(tmp_path):
    # 20 names, each answered after 300 ms: one batch takes about one delay, not 20.
    zone = {f"n{i}.slow.example": [{"DELAY": 300}, {"A": f"192.0.2.{i + 1}"}] for i in range(40)}
    with DNSServer(zone) as srv:
        replay = tmp_path / "replay.txt"
        write_replay(replay, [[("A", f"n{i}.slow.example") for i in range(20)]])
        cold, warm = bench(srv, replay, "--threads", "1", "--passes", "2")
        assert cold["ok"] == 20 and cold["timeout"] == 0
        assert 0.29 <= cold["msg_max_ms"] / 1000 < 1.0, cold  # 20 x 300 ms would be 6 s
        assert warm["ok"] == 20 and warm["msg_max_ms"] < 100, warm  # all cached
        assert len(srv.queries()) == 20
        # 40 at once are still one round trip: libunbound's library default of 16
        # sockets would make it three (0.9 s).
        write_replay(replay, [[("A", f"n{i}.slow.example") for i in range(40)]])
        srv.clear_queries()
        (cold,) = bench(srv, replay, "--threads", "1", "--passes", "1")
        assert cold["ok"] == 40 and cold["msg_max_ms"] < 750, cold


def test_bench_counts_cache_hits(tmp_path):
    # Three messages asking overlapping names: 5 distinct lookups of 8. The server runs
    # as a subprocess; its query log is what --count-cmd counts.
    replay = tmp_path / "replay.txt"
    write_replay(replay, [
        [("MX", "example.com"), ("TXT", "example.com"), ("A", "mail.example.com")],
        [("MX", "example.com"), ("TXT", "sel._domainkey.example.com")],
        [("TXT", "example.com"), ("A", "mail.example.com"), ("A", "nosuch.example.com")],
    ])
    with DNSServerProcess(ZONE, tmp_path / "srv") as srv:
        count = f"cat {srv.log_path} 2>/dev/null | wc -l"
        cold, warm = bench(srv, replay, "--threads", "1", "--passes", "2", "--count-cmd", count)
    assert cold["lookups"] == 8 and cold["ok"] == 7 and cold["nxdomain"] == 1
    assert cold["upstream"] == 5 and cold["cache_hit_rate"] == pytest.approx(3 / 8)
    assert warm["upstream"] == 0 and warm["cache_hit_rate"] == 1.0


# ---- bulwark-node: the process resolver from dns_forwarders ------------------------------


def symbols(result):
    return {s["name"]: s for s in result["symbols"]}


def test_node_resolves_through_its_forwarders(cluster, tmp_path):
    """A node with dns_forwarders asks that server for its checks (SPF here), and a
    server that never answers costs a scan its dns_timeout, not a stuck worker."""
    zone = {"example.org": [{"TXT": "v=spf1 ip4:192.0.2.1 -all"}],
            "dead.example.net": ["TIMEOUT"]}
    with DNSServer(zone) as srv:
        cluster.start_master()
        cluster.start_node("node1", workers=2, extra=f"dns_forwarders = 127.0.0.1:{srv.port}\n"
                                                     "dns_timeout = 500ms\n")
        msg = tmp_path / "m.eml"
        msg.write_text("From: a@example.org\r\nTo: b@example.com\r\nSubject: dns\r\n\r\nhi\r\n")
        r = cluster.ctl("scan", "--json", "--ip", "192.0.2.1", "--helo", "mx.example.org",
                        "--from", "a@example.org", "--rcpt", "b@example.com", msg)
        res = json.loads(r.stdout)
        assert "SPF_PASS" in symbols(res), res
        assert ("example.org", "TXT") in srv.queries()

        t0 = time.monotonic()
        r = cluster.ctl("scan", "--json", "--ip", "192.0.2.1", "--helo", "mx.example.org",
                        "--from", "a@dead.example.net", "--rcpt", "b@example.com", msg)
        took = time.monotonic() - t0
        res = json.loads(r.stdout)
        assert "SPF_TEMPERROR" in symbols(res), res
        assert res["action"] != "tempfail"
        assert took < 4.0, f"the scan took {took:.1f}s with a 500 ms dns_timeout"
        assert "event=dns mode=forward" in cluster.procs["node1"].log_text()


def test_node_refuses_a_bad_forwarder(cluster):
    cluster.start_master()
    p = cluster.start_node("node1", wait=False, extra="dns_forwarders = dns.example.net:53\n")
    wait_for(lambda: not p.alive(), 20, 0.05, "bulwark-node to exit")
    assert p.p.returncode != 0
    assert "bad DNS forwarder 'dns.example.net:53'" in p.log_text()
    del cluster.procs["node1"]  # exited by itself; nothing to stop
