"""Fuzzy hashes end to end: near-duplicate campaigns match across all nodes within seconds.

A private redis-server (free loopback port, stopped by PID) holds the signatures. One
campaign message is learned as spam with `bulwarkctl fuzzy learn --spam --redis`; then
variants of it (other names, amounts, dates, links, reference codes) are scanned through
a cluster of two nodes whose redis_server is that Redis: every variant gets FUZZY_SPAM,
on both nodes, within seconds of the learning; unrelated mail does not. Learning one
variant as ham makes it stop matching. Redis stopped: FUZZY_UNAVAILABLE, and the verdict
still comes.
"""
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from bulwark_harness import CTL, redis_server

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"

pytestmark = pytest.mark.skipif(not Path(REDIS).exists(), reason="redis-server not installed")

CAMPAIGN = """Dear {name},

We are pleased to inform you that your account at Northwind Savings has been selected
for our annual loyalty reward. To receive the payment of ${amount} you must confirm your
banking details before {date}. Please visit {url} and enter the reference code {code}
together with your date of birth. If you do not confirm your details within {hours} hours
the reward will be transferred to another customer and your account may be suspended for
security reasons. Thank you for banking with us.

Customer Care Team
Northwind Savings
"""

VARIANTS = [
    dict(name="John Smith", amount="1,250.00", date="28 November 2026",
         url="https://northwind-rewards.example.com/claim?id=884213", code="NW-77412", hours=48),
    dict(name="Maria Garcia", amount="3,980.00", date="2 December 2026",
         url="https://nw-loyalty.example.net/c/55931", code="NW-10293", hours=24),
    dict(name="Li Wei", amount="760.50", date="30 November 2026",
         url="http://198.51.100.23/northwind/reward", code="NW-55120", hours=72),
    dict(name="Olivia Brown", amount="2,000.00", date="1 December 2026",
         url="https://bit.example/3xYz9", code="NW-00017", hours=12),
]

UNRELATED = [
    """Hi team, the quarterly planning meeting moves to Thursday afternoon in the large
conference room on the third floor. Please bring the draft roadmap, the hiring plan for the
platform group and your notes on the customer interviews from last month. Lunch will be
provided, so tell Karen about dietary needs by Wednesday. Thanks, Paul""",
    """Your order 5512-2291 has shipped. The parcel with the walking boots and two pairs of
wool socks left our warehouse this morning and should arrive within three working days.
You can follow the delivery on the carrier's website with the tracking number in your
account. Questions? Reply to this message and our support staff will help.""",
]


def eml(path: Path, subject, body, n):
    path.write_text(
        f"From: Sender <sender{n}@example.com>\r\nTo: rcpt@example.org\r\n"
        f"Subject: {subject}\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
        f"Message-ID: <fz{n}.{time.monotonic_ns()}@example.com>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body.replace("\n", "\r\n"))
    return path


@pytest.fixture
def redis(tmp_path):
    with redis_server(tmp_path / "redis") as p:
        yield p


@pytest.fixture
def mail(tmp_path):
    d = tmp_path / "mail"
    d.mkdir()
    subjects = ["Your loyalty reward is waiting", "Reward payment pending",
                "Action required: claim your reward", "Final notice: loyalty reward"]
    camp = [eml(d / f"campaign{i}.eml", subjects[i], CAMPAIGN.format(**v), i)
            for i, v in enumerate(VARIANTS)]
    ham = [eml(d / f"ham{i}.eml", "Hello", t, 100 + i) for i, t in enumerate(UNRELATED)]
    return camp, ham


def fuzzy(*args, check=True):
    r = subprocess.run([str(CTL), "fuzzy", *map(str, args)], capture_output=True, text=True,
                       timeout=60)
    if check:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


def scan_local(redis_addr, files):
    r = subprocess.run([str(CTL), "scan", "--local", "--json", "--redis", redis_addr,
                        *map(str, files)], capture_output=True, text=True, timeout=120)
    assert r.returncode in (0, 1, 2, 3), r.stderr
    return {Path(j["file"]).name: j for j in map(json.loads, r.stdout.splitlines())}


def sym(result, name):
    return next((s for s in result["symbols"] if s["name"] == name), None)


def test_learn_check_and_release_local(redis, mail):
    camp, ham = mail
    # Nothing learned yet.
    res = scan_local(redis.addr, camp + ham)
    assert not any(sym(r, "FUZZY_SPAM") for r in res.values()), res
    out = fuzzy("learn", "--spam", "--redis", redis.addr, camp[0]).stdout
    assert "1 learned" in out
    res = scan_local(redis.addr, camp + ham)
    for f in camp:
        s = sym(res[f.name], "FUZZY_SPAM")
        assert s, (f.name, res[f.name])
        assert 0 < s["score"] <= 6.0 and "similarity" in s["detail"], s
    assert sym(res[camp[0].name], "FUZZY_SPAM")["score"] == pytest.approx(6.0)
    for f in ham:
        assert not sym(res[f.name], "FUZZY_SPAM"), res[f.name]
    chk = fuzzy("check", "--redis", redis.addr, camp[1]).stdout
    assert "similarity" in chk and "campaign" in chk
    # Variant 1 released as ham: it stops matching; the learned original still matches.
    fuzzy("learn", "--ham", "--redis", redis.addr, camp[1])
    res = scan_local(redis.addr, [camp[0], camp[1]])
    assert not sym(res[camp[1].name], "FUZZY_SPAM"), res[camp[1].name]
    assert sym(res[camp[0].name], "FUZZY_SPAM")


def test_short_message_not_hashed(redis, tmp_path):
    f = eml(tmp_path / "short.eml", "hi", "Claim your prize now at our site", 7)
    r = fuzzy("learn", "--spam", "--redis", redis.addr, f)
    assert "skipped" in r.stdout and "0 learned" in r.stdout


def test_redis_down_verdict_still_comes(redis, mail):
    camp, _ = mail
    addr = redis.addr
    redis.terminate()
    redis.wait(10)
    res = scan_local(addr, camp[:1])
    r = res[camp[0].name]
    assert r["action"] in ("pass", "add_header", "reject", "quarantine"), r
    assert sym(r, "FUZZY_UNAVAILABLE"), r
    assert sym(r, "FUZZY_UNAVAILABLE")["score"] == 0
    assert fuzzy("learn", "--spam", "--redis", addr, camp[0], check=False).returncode != 0


def test_campaign_matches_on_all_nodes_within_seconds(cluster, redis, mail, tmp_path):
    camp, ham = mail
    extra = f"redis_server = {redis.addr}\n"
    cluster.start_master()
    cluster.start_node("node1", workers=2, extra=extra)
    cluster.start_node("node2", workers=2, extra=extra)
    # Many copies so that both nodes get some of them.
    d = tmp_path / "stream"
    d.mkdir()
    files = []
    for k in range(6):
        for f in camp[1:] + ham:
            files.append(d / f"{k}-{f.name}")
            shutil.copy(f, files[-1])
    fuzzy("learn", "--spam", "--redis", redis.addr, camp[0])
    t0 = time.monotonic()
    r = cluster.ctl("scan", "--json", d)
    elapsed = time.monotonic() - t0
    results = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(results) == len(files)
    by_node = {}
    for res in results:
        name = Path(res["file"]).name
        spam = sym(res, "FUZZY_SPAM")
        if "campaign" in name:
            assert spam, (name, res)
            by_node.setdefault(res["node"], []).append(spam["score"])
        else:
            assert not spam, (name, res)
        assert not sym(res, "FUZZY_UNAVAILABLE"), res
    assert set(by_node) == {"node1", "node2"}, by_node
    assert elapsed < 10, elapsed
