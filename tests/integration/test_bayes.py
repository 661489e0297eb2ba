"""The Bayes classifier end to end: `bulwarkctl learn` and `scan --local --redis` against a
real redis-server started here on a free loopback port (stopped by PID at the end).

Messages are synthetic (seeded random texts from a spam and a ham vocabulary), so the
test does not depend on the corpus. Covered: learn counts, learning again (already
learned), learning the other class (moved, counts move), held-out spam and ham classified,
the min_learned gate, the user scope chosen for a single recipient, Redis down
(BAYES_UNAVAILABLE, action unchanged), autolearn of a GTUBE message, usage errors, and
bulwark-node with redis_server classifying and autolearning in its workers.
"""
import json
import random
import shutil
import subprocess
import time

import pytest

from bulwark_harness import CTL, free_port, wait_for

SPAM_WORDS = ("viagra cheap pills casino winner prize claim urgent offer bitcoin investment "
              "guaranteed lottery unclaimed refund pharmacy discount bonus replica loan "
              "credit approved limited exclusive click unsubscribe million dollars").split()
HAM_WORDS = ("meeting agenda project review patch kernel build release notes schedule "
             "tomorrow lunch thanks regards attached draft budget minutes team compile "
             "branch merge commit deadline conference paper slides weekend family").split()
COMMON = "the a to of and in for is on with this that you we it be are".split()


def message(kind, i, seed):
    rnd = random.Random(f"{kind}-{i}-{seed}")
    vocab = SPAM_WORDS if kind == "spam" else HAM_WORDS
    words = [rnd.choice(vocab) if rnd.random() < 0.6 else rnd.choice(COMMON) for _ in range(80)]
    subj = " ".join(rnd.choice(vocab) for _ in range(4))
    sender = "promo@deals.example" if kind == "spam" else "colleague@work.example"
    return (f"From: {sender}\r\nTo: user@corp.example\r\nSubject: {subj} {i}\r\n"
            f"Message-ID: <{kind}{i}.{seed}@host.example>\r\n\r\n"
            + " ".join(words) + f"\r\nref {kind}{i}x{seed}\r\n")


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    if not shutil.which("redis-server"):
        pytest.skip("redis-server not installed")
    base = tmp_path_factory.mktemp("redis")
    port = free_port()
    log = open(base / "redis.log", "ab")
    p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no", "--dir", str(base)], stdout=log, stderr=log)

    def up():
        r = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True)
        return r.stdout.strip() == "PONG"

    try:
        wait_for(up, 10, 0.05, "redis-server up")
        yield f"127.0.0.1:{port}", port
    finally:
        p.terminate()
        p.wait(10)


def rcli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True,
                          check=True).stdout.split()


def ctl(*args, check=True):
    r = subprocess.run([str(CTL), *args], capture_output=True, text=True, timeout=300)
    if check:
        assert r.returncode == 0, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    return r


def scan(redis_addr, path, *extra):
    r = ctl("scan", "--local", "--json", "--redis", redis_addr, *extra, str(path), check=False)
    return json.loads(r.stdout.splitlines()[0])


def bayes(result):
    return {s["name"]: s for s in result["symbols"] if s["name"].startswith("BAYES_")}


@pytest.fixture(scope="module")
def learned(redis, tmp_path_factory):
    addr, port = redis
    base = tmp_path_factory.mktemp("mail")
    for kind in ("spam", "ham"):
        d = base / kind
        d.mkdir()
        for i in range(250):
            (d / f"{i:04d}.eml").write_text(message(kind, i, "train"))
    t0 = time.monotonic()
    r = ctl("learn", "--spam", "--redis", addr, str(base / "spam"))
    assert "250 learned, 0 already learned, 0 moved, 0 errors" in r.stdout
    r = ctl("learn", "--ham", "--redis", addr, str(base / "ham"))
    assert "250 learned" in r.stdout
    assert time.monotonic() - t0 < 120
    return addr, port, base


def test_learn_counts_and_relearn(learned):
    addr, port, base = learned
    assert rcli(port, "HMGET", "bw:b:g:n", "spam", "ham") == ["250", "250"]
    one = base / "spam" / "0000.eml"
    r = ctl("learn", "--spam", "--redis", addr, str(one))
    assert f"{one}: already learned" in r.stdout
    assert rcli(port, "HMGET", "bw:b:g:n", "spam", "ham") == ["250", "250"]
    r = ctl("learn", "--ham", "--redis", addr, str(one))
    assert f"{one}: moved" in r.stdout
    assert rcli(port, "HMGET", "bw:b:g:n", "spam", "ham") == ["249", "251"]
    assert rcli(port, "HLEN", "bw:b:g:learned") == ["500"]
    r = ctl("learn", "--spam", "--redis", addr, str(one))
    assert f"{one}: moved" in r.stdout
    assert rcli(port, "HMGET", "bw:b:g:n", "spam", "ham") == ["250", "250"]


def test_classify_held_out(learned, tmp_path):
    addr, _, _ = learned
    for kind, sym in (("spam", "BAYES_SPAM"), ("ham", "BAYES_HAM")):
        for i in range(3):
            p = tmp_path / f"{kind}{i}.eml"
            p.write_text(message(kind, i, "held-out"))
            res = scan(addr, p, "--set", "check.bayes.autolearn=no")
            b = bayes(res)
            assert list(b) == [sym], res
            assert "scope=g" in b[sym]["detail"]
            if sym == "BAYES_SPAM":
                assert 2.5 <= b[sym]["score"] <= 5.0
            else:
                assert -3.0 <= b[sym]["score"] <= -1.5


def test_min_learned_gate(learned, tmp_path):
    addr, _, _ = learned
    p = tmp_path / "s.eml"
    p.write_text(message("spam", 7, "gate"))
    res = scan(addr, p, "--set", "check.bayes.min_learned=251", "--set", "check.bayes.autolearn=no")
    assert bayes(res) == {}


def test_user_scope(learned, tmp_path):
    addr, port, base = learned
    # Three of each class into one user's scope: with min_learned 3 it is the one used.
    ctl("learn", "--spam", "--scope", "user:Boss@Corp.example", "--redis", addr,
        *[str(base / "spam" / f"{i:04d}.eml") for i in range(3)])
    ctl("learn", "--ham", "--scope", "user:boss@corp.example", "--redis", addr,
        *[str(base / "ham" / f"{i:04d}.eml") for i in range(3)])
    assert rcli(port, "HMGET", "bw:b:u:boss@corp.example:n", "spam", "ham") == ["3", "3"]
    p = tmp_path / "s.eml"
    p.write_text(message("spam", 1, "scope"))
    common = ["--set", "check.bayes.autolearn=no", "--set", "check.bayes.min_learned=3"]
    res = scan(addr, p, "--rcpt", "boss@corp.example", *common)
    assert "scope=u:boss@corp.example" in bayes(res)["BAYES_SPAM"]["detail"]
    # Two different recipients: the user scopes do not apply.
    res = scan(addr, p, "--rcpt", "boss@corp.example", "--rcpt", "x@corp.example", *common)
    assert "scope=g" in bayes(res)["BAYES_SPAM"]["detail"]


def test_redis_down(tmp_path):
    p = tmp_path / "m.eml"
    p.write_text(message("spam", 1, "down"))
    dead = f"127.0.0.1:{free_port()}"
    res = scan(dead, p)
    assert list(bayes(res)) == ["BAYES_UNAVAILABLE"]
    assert bayes(res)["BAYES_UNAVAILABLE"]["score"] == 0
    plain = json.loads(ctl("scan", "--local", "--json", str(p), check=False).stdout)
    assert bayes(plain) == {}
    assert res["action"] == plain["action"] and res["score"] == plain["score"]
    r = ctl("learn", "--spam", "--redis", dead, str(p), check=False)
    assert r.returncode == 1


def test_autolearn_gtube(learned, tmp_path):
    addr, port, _ = learned
    before = int(rcli(port, "HGET", "bw:b:g:n", "spam")[0])
    p = tmp_path / "gtube.eml"
    p.write_text("From: a@b.example\r\nSubject: test\r\n\r\n"
                 "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n")
    res = scan(addr, p)
    assert res["action"] == "reject"
    assert int(rcli(port, "HGET", "bw:b:g:n", "spam")[0]) == before + 1
    scan(addr, p)  # learned once
    assert int(rcli(port, "HGET", "bw:b:g:n", "spam")[0]) == before + 1
    r = ctl("learn", "--spam", "--redis", addr, str(p))
    assert "already learned" in r.stdout
    # autolearn off: nothing learned
    q = tmp_path / "gtube2.eml"
    q.write_text(p.read_text().replace("test", "other test"))
    scan(addr, q, "--set", "check.bayes.autolearn=no")
    assert int(rcli(port, "HGET", "bw:b:g:n", "spam")[0]) == before + 1


def test_usage_errors(redis, tmp_path):
    addr, _ = redis
    p = tmp_path / "m.eml"
    p.write_text(message("ham", 1, "usage"))
    for args in (["learn", str(p)], ["learn", "--spam", "--ham", str(p)],
                 ["learn", "--spam", "--redis", addr],
                 ["learn", "--spam", "--scope", "planet:mars", "--redis", addr, str(p)],
                 ["learn", "--spam", "--redis", "nonsense", str(p)],
                 ["learn", "--spam", str(p)],
                 ["scan", "--redis", addr, str(p)]):
        r = ctl(*args, check=False)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "bulwarkctl:" in r.stderr
    r = ctl("learn", "--ham", "--redis", addr, str(tmp_path / "missing.eml"), str(p), check=False)
    assert r.returncode == 1
    assert "learned" in r.stdout


def test_cluster_node_votes_and_autolearns(cluster, learned, tmp_path):
    """bulwark-node with redis_server: the workers classify and autolearn."""
    addr, port, _ = learned
    cluster.start_master()
    cluster.start_node("node1", workers=2, extra=f"redis_server = {addr}\n")
    d = tmp_path / "in"
    d.mkdir()
    (d / "spam.eml").write_text(message("spam", 5, "cluster"))
    (d / "ham.eml").write_text(message("ham", 5, "cluster"))
    (d / "gtube.eml").write_text("From: c@d.example\r\nSubject: cluster gtube\r\n\r\n"
                                 "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL"
                                 "*C.34X\r\n")
    before = int(rcli(port, "HGET", "bw:b:g:n", "spam")[0])
    r = cluster.ctl("scan", "--json", str(d))
    res = {json.loads(line)["file"].split("/")[-1]: json.loads(line) for line in r.stdout.splitlines()}
    assert "BAYES_SPAM" in bayes(res["spam.eml"])
    assert "BAYES_HAM" in bayes(res["ham.eml"])
    assert res["gtube.eml"]["action"] == "reject"
    wait_for(lambda: int(rcli(port, "HGET", "bw:b:g:n", "spam")[0]) > before, 5, 0.05,
             "autolearn of the GTUBE message")
    r = ctl("learn", "--spam", "--redis", addr, str(d / "gtube.eml"))
    assert "already learned" in r.stdout
