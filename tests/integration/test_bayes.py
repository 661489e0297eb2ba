"""The Bayes classifier end to end: `bulwarkctl learn` and `scan --local --redis` against a
real redis-server started here on a free loopback port (stopped by PID at the end).

Messages are synthetic (seeded random texts from a spam and a ham vocabulary), so the
test does not depend on the corpus. Covered: learn counts, learning again (already
learned), learning the other class (moved, counts move), held-out spam and ham classified,
the min_learned gate, the user scope chosen for a single recipient, Redis down
(BAYES_UNAVAILABLE, action unchanged), autolearn of a GTUBE message, usage errors, and
bulwark-node with redis_server classifying and autolearning in its workers. Token
scheme 2 (docs/bayes.md): the scheme recorded with the counts, fields of 6 raw bytes
and the class in 65,536 bucket hashes, counts of an older scheme refused for learning
and reported (BAYES_UNAVAILABLE) rather than used, the max_tokens cap. OSB word pairs
(check.bayes.osb_window): `learn --set` stores the pairs and records the window, scans
with the same window use the scope, scans and learners with another window refuse it
with a detail naming both windows; learn jobs through the cluster use the cluster's window.
"""
import json
import random
import socket
import subprocess
import time

import pytest

from bulwark_harness import CTL, free_port, redis_server, wait_for

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
    with redis_server(tmp_path_factory.mktemp("redis")) as p:
        yield p.addr, p.port


def rcli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True,
                          check=True).stdout.split()


def resp(port, *args):
    """One command over RESP, binary-safe (redis-cli escapes binary fields)."""
    req = b"*%d\r\n" % len(args) + b"".join(
        b"$%d\r\n%s\r\n" % (len(a), a) for a in (x if isinstance(x, bytes) else x.encode()
                                                   for x in args))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(req)
        buf = b""
        while True:
            chunk = s.recv(1 << 20)
            buf += chunk
            try:
                value, rest = _parse(buf)
                if not rest:
                    return value
            except IndexError:
                pass
            if not chunk:
                raise RuntimeError(f"redis closed: {buf[:200]!r}")


def _parse(buf):
    """(value, rest) of one RESP reply; IndexError when buf is incomplete."""
    end = buf.index(b"\r\n") if b"\r\n" in buf else None
    if end is None:
        raise IndexError
    kind, line, rest = buf[:1], buf[1:end], buf[end + 2:]
    if kind in (b"+", b"-"):
        return line, rest
    if kind == b":":
        return int(line), rest
    if kind == b"$":
        n = int(line)
        if n < 0:
            return None, rest
        if len(rest) < n + 2:
            raise IndexError
        return rest[:n], rest[n + 2:]
    if kind == b"*":
        items = []
        for _ in range(int(line)):
            v, rest = _parse(rest)
            items.append(v)
        return items, rest
    raise RuntimeError(f"bad RESP {buf[:50]!r}")


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


def test_storage_scheme_2(learned):
    """Counts carry their token scheme; token fields are 6 raw bytes + the class, in
    hashes bucketed by the token's top 16 bits."""
    _, port, _ = learned
    assert rcli(port, "HGET", "bw:b:g:n", "scheme") == ["2"]
    cursor, keys = resp(port, "SCAN", "0", "MATCH", "bw:b:g:t:*", "COUNT", "1000")
    assert keys, "no token buckets"
    fields = []
    for k in keys[:20]:
        assert len(k) == len(b"bw:b:g:t:") + 4 and all(c in b"0123456789abcdef" for c in k[-4:])
        fields += resp(port, "HKEYS", k)
    assert fields
    for f in fields:
        assert len(f) == 7 and f[-1:] in (b"s", b"h"), f
    # a learned word's counts are where the scheme says: the test vocabulary is only
    # learned as spam, so "viagra" has a spam count and no ham count
    viagra = 0x133f6799f5817800  # tok_hash("viagra"), pinned in tests/unit/test_tokens.c
    key = b"bw:b:g:t:%04x" % (viagra >> 48)
    low = (viagra & (2**48 - 1)).to_bytes(6, "big")
    spam, ham = resp(port, "HMGET", key, low + b"s", low + b"h")
    assert spam is not None and int(spam) >= 150 and ham in (None, b"0")


def test_old_scheme_refused(learned, tmp_path):
    """Counts of token scheme 1 (no scheme field) are neither used nor added to."""
    addr, port, base = learned
    scope = "bw:b:u:old@corp.example:n"
    rcli(port, "HSET", scope, "spam", "400", "ham", "400")
    p = tmp_path / "s.eml"
    p.write_text(message("spam", 3, "old-scheme"))
    common = ["--set", "check.bayes.autolearn=no", "--set", "check.bayes.min_learned=300"]
    # The old user scope is the only one with enough learned: no vote, and why.
    res = scan(addr, p, "--rcpt", "old@corp.example", *common)
    b = bayes(res)
    assert list(b) == ["BAYES_UNAVAILABLE"], res
    assert "token scheme 1" in b["BAYES_UNAVAILABLE"]["detail"]
    assert "u:old@corp.example" in b["BAYES_UNAVAILABLE"]["detail"]
    assert "osb_window" not in b["BAYES_UNAVAILABLE"]["detail"]  # no pairs either side
    # A fresh global scope that qualifies is used instead of the old one.
    res = scan(addr, p, "--rcpt", "old@corp.example", "--set", "check.bayes.autolearn=no",
               "--set", "check.bayes.min_learned=200")
    assert "scope=g" in bayes(res)["BAYES_SPAM"]["detail"]
    # Learning into it fails with the remedy, and changes nothing.
    r = ctl("learn", "--spam", "--scope", "user:old@corp.example", "--redis", addr,
            str(base / "spam" / "0001.eml"), check=False)
    assert r.returncode == 1
    assert "token scheme 1" in r.stdout and "learn again" in r.stdout, r.stdout
    assert rcli(port, "HMGET", scope, "spam", "ham", "scheme") == ["400", "400"]
    assert rcli(port, "EXISTS", "bw:b:u:old@corp.example:learned") == ["0"]
    rcli(port, "DEL", scope)


def test_max_tokens(learned, tmp_path):
    addr, _, _ = learned
    p = tmp_path / "long.eml"
    # 3,000 distinct words no one learned, and a few learned spam words to vote on
    words = " ".join(f"w{i:05d}x" for i in range(3000))
    p.write_text("From: a@b.example\r\nSubject: long\r\n\r\n" + words
                 + " " + " ".join(SPAM_WORDS) + "\r\n")
    common = ["--set", "check.bayes.autolearn=no"]
    res = scan(addr, p, *common)
    b = bayes(res)
    assert list(b) == ["BAYES_SPAM"] and b["BAYES_SPAM"]["detail"].endswith("/1000"), res
    res = scan(addr, p, *common, "--set", "check.bayes.max_tokens=50")
    b = bayes(res)
    assert list(b) and b[list(b)[0]]["detail"].endswith("/50"), res


def tok_hash(s):
    """node/tokens.c tok_hash: FNV-1a 64 finished with fmix64."""
    m = 2**64 - 1
    h = 0xcbf29ce484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001b3) & m
    return fmix64(h)


def fmix64(k):
    m = 2**64 - 1
    k ^= k >> 33
    k = (k * 0xff51afd7ed558ccd) & m
    k ^= k >> 33
    k = (k * 0xc4ceb9fe1a85ec53) & m
    return k ^ (k >> 33)


def tok_pair(a, b, dist):
    """node/tokens.c tok_pair."""
    m = 2**64 - 1
    return fmix64(((a * 0x9e3779b97f4a7c15) & m) ^ (((b << 23) | (b >> 41)) & m)
                  ^ (0x5bd1e995 * dist))


def test_osb_window_recorded_and_refused(learned, tmp_path):
    """A scope learned with OSB window 3 holds the pairs and says so; scans with window 3
    use it, scans and learners with another window refuse it, clearly."""
    addr, port, base = learned
    spam = [str(base / "spam" / f"{i:04d}.eml") for i in range(30)]
    ham = [str(base / "ham" / f"{i:04d}.eml") for i in range(30)]
    w3 = ["--set", "check.bayes.osb_window=3"]
    for flag, files in (("--spam", spam), ("--ham", ham)):
        r = ctl("learn", flag, "--scope", "domain:osb.example", "--redis", addr, *w3, *files)
        assert "30 learned, 0 already learned" in r.stdout, r.stdout
    n = "bw:b:d:osb.example:n"
    assert rcli(port, "HMGET", n, "spam", "ham", "scheme") == ["30", "30", "203"]
    # A pair of neighbouring body words of a learned spam has a spam count.
    text = (base / "spam" / "0000.eml").read_bytes().decode().split("\r\n\r\n", 1)[1].split()
    i = next(k for k in range(len(text) - 1) if len(text[k]) > 1 and len(text[k + 1]) > 1)
    pair = tok_pair(tok_hash(text[i]), tok_hash(text[i + 1]), 1)
    key = b"bw:b:d:osb.example:t:%04x" % (pair >> 48)
    low = (pair & (2**48 - 1)).to_bytes(6, "big")
    got = resp(port, "HGET", key, low + b"s")
    assert got is not None and int(got) >= 1, (text[i], text[i + 1])
    # The global scope (window 0) holds no such pair.
    gkey = b"bw:b:g:t:%04x" % (pair >> 48)
    assert resp(port, "HGET", gkey, low + b"s") is None

    p = tmp_path / "s.eml"
    p.write_text(message("spam", 11, "osb"))
    common = ["--rcpt", "x@osb.example", "--set", "check.bayes.autolearn=no",
              "--set", "check.bayes.min_learned=30"]
    # Same window: the domain scope votes.
    b = bayes(scan(addr, p, *common, *w3))
    assert list(b) == ["BAYES_SPAM"] and "scope=d:osb.example" in b["BAYES_SPAM"]["detail"], b
    # Window 0 (the default): the domain scope is passed over for the global one.
    b = bayes(scan(addr, p, *common))
    assert list(b) == ["BAYES_SPAM"] and "scope=g" in b["BAYES_SPAM"]["detail"], b
    # Window 2: no scope matches; the detail names the scope and both windows.
    b = bayes(scan(addr, p, *common, "--set", "check.bayes.osb_window=2"))
    assert list(b) == ["BAYES_UNAVAILABLE"], b
    d = b["BAYES_UNAVAILABLE"]["detail"]
    assert "d:osb.example" in d and "OSB window 3" in d and "OSB window 2" in d, d
    assert "check.bayes.osb_window" in d, d

    # Learning with another window changes nothing and says why.
    extra = str(base / "spam" / "0100.eml")
    r = ctl("learn", "--spam", "--scope", "domain:osb.example", "--redis", addr, extra,
            check=False)
    assert r.returncode == 1
    assert "OSB window 3" in r.stdout and "without word pairs" in r.stdout, r.stdout
    assert "check.bayes.osb_window" in r.stdout and "learn again" in r.stdout, r.stdout
    r = ctl("learn", "--spam", "--redis", addr, *w3, extra, check=False)
    assert r.returncode == 1 and "scope g was learned with token scheme 2 without" in r.stdout
    assert rcli(port, "HMGET", n, "spam", "ham", "scheme") == ["30", "30", "203"]
    # With the same window: learned; again: already learned.
    r = ctl("learn", "--spam", "--scope", "domain:osb.example", "--redis", addr, *w3, extra)
    assert f"{extra}: learned" in r.stdout
    r = ctl("learn", "--spam", "--scope", "domain:osb.example", "--redis", addr, *w3, extra)
    assert f"{extra}: already learned" in r.stdout
    assert rcli(port, "HMGET", n, "spam", "scheme") == ["31", "203"]
    # A --config file gives the window as --set does.
    conf = tmp_path / "cluster.conf"
    conf.write_text("check.bayes.osb_window = 3\n")
    extra2 = str(base / "spam" / "0101.eml")
    r = ctl("learn", "--spam", "--scope", "domain:osb.example", "--redis", addr,
            "--config", str(conf), extra2)
    assert f"{extra2}: learned" in r.stdout
    # Bad values and --set with --cluster are usage errors.
    for args in (["--set", "check.bayes.osb_window=6"], ["--set", "no.such.key=1"],
                 ["--set", "check.bayes.osb_window"], ["--cluster", *w3]):
        r = ctl("learn", "--spam", *args, extra, check=False)
        assert r.returncode in (1, 2) and "bulwarkctl:" in r.stderr, (args, r.stderr)
        assert r.returncode == 2 or "osb_window" in r.stderr or "no.such.key" in r.stderr
    for k in resp(port, "KEYS", "bw:b:d:osb.example:*"):
        resp(port, "DEL", k)


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
                assert 3.0 <= b[sym]["score"] <= 6.0  # p > 0.75 for these clear cases
            else:
                assert -2.0 <= b[sym]["score"] <= -1.0


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


def test_cluster_learn_job_uses_the_cluster_window(cluster, learned, tmp_path):
    """A learn job (`learn --cluster`) tokenizes with the cluster's osb_window, as the
    node's scans do; a scope of another window is refused with the reason."""
    from mailpath import wait_config_applied

    addr, port, base = learned
    cluster.start_master()
    cluster.ctl("config", "set", "check.bayes.osb_window=2")
    cluster.start_node("node1", workers=1, extra=f"redis_server = {addr}\n")
    wait_config_applied(cluster)
    m = base / "spam" / "0002.eml"
    r = cluster.ctl("learn", "--cluster", "--spam", "--scope", "domain:w2.example", str(m))
    assert "spam into d:w2.example: learned" in r.stdout, r.stdout
    assert rcli(port, "HGET", "bw:b:d:w2.example:n", "scheme") == ["202"]
    # The global scope was learned without pairs: not added to.
    before = rcli(port, "HMGET", "bw:b:g:n", "spam", "ham", "scheme")
    r = cluster.ctl("learn", "--cluster", "--spam", str(m), check=False)
    assert r.returncode == 1
    assert "OSB window 2" in r.stdout + r.stderr, (r.stdout, r.stderr)
    assert rcli(port, "HMGET", "bw:b:g:n", "spam", "ham", "scheme") == before
    for k in resp(port, "KEYS", "bw:b:d:w2.example:*"):
        resp(port, "DEL", k)
