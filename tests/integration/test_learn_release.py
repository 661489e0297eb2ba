"""Learning through the cluster: learn jobs (`bulwarkctl learn --cluster`) and released
quarantine entries learned as ham.

Real MariaDB, master, node(s) with a real redis-server on a free loopback port (stopped
by PID), and an SMTP sink (aiosmtpd) as the release relay. What a node learned is read
back from Redis (the Bayes class counters bw:b:g:n) and from the quarantine rows.
"""
import json
import subprocess

import pytest

from bulwark_harness import redis_server, smtp_sink, wait_for
from test_records import GTUBE, ids_by_file, message, quarantining_cluster, rows, \
    scan_record


@pytest.fixture
def redis(tmp_path):
    with redis_server(tmp_path) as p:
        yield p.port


def counts(port):
    """The global scope's learned-message counters: (spam, ham)."""
    out = subprocess.run(["redis-cli", "-p", str(port), "HMGET", "bw:b:g:n", "spam", "ham"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(out) == 2, out  # a missing field is an empty line
    return tuple(int(x) if x.strip().isdigit() else 0 for x in out)


def quarantine_entry(cluster, qid):
    out = cluster.ctl("quarantine", "list", "--json").stdout
    for line in out.splitlines():
        e = json.loads(line)
        if e["id"] == qid:
            return e
    raise AssertionError(f"{qid} not listed: {out}")


def test_learn_through_the_cluster(cluster, redis, tmp_path):
    cluster.start_master()
    cluster.start_node("node1", extra=f"redis_server = 127.0.0.1:{redis}\n")
    m = tmp_path / "ham.eml"
    m.write_bytes(message("cluster-learn", subject="quarterly planning notes"))
    r = cluster.ctl("learn", "--cluster", "--ham", "--json", m)
    res = json.loads(r.stdout)
    assert res["action"] == "pass" and res["node"] == "node1", res
    sym = {s["name"]: s for s in res["symbols"]}
    assert sym["LEARNED_HAM"]["detail"] == "ham into g: learned", res
    assert counts(redis) == (0, 1)
    # Learned once; the other way moves it.
    r = cluster.ctl("learn", "--cluster", "--ham", m)
    assert "ham into g: already learned" in r.stdout, r.stdout
    r = cluster.ctl("learn", "--cluster", "--spam", "--scope", "domain:example.org", m)
    assert "spam into d:example.org: learned" in r.stdout, r.stdout
    assert counts(redis) == (0, 1)
    r = cluster.ctl("learn", "--cluster", "--spam", m)
    assert "spam into g: moved" in r.stdout, r.stdout
    assert counts(redis) == (1, 0)


def test_learn_job_without_redis_is_not_done(cluster, tmp_path):
    cluster.start_master()
    cluster.start_node("node1")  # no redis_server
    m = tmp_path / "m.eml"
    m.write_bytes(message("no-redis"))
    r = cluster.ctl("learn", "--cluster", "--spam", m, check=False)
    assert r.returncode == 1, r.stdout
    assert "tempfail" in r.stdout and "no redis_server" in r.stdout, r.stdout
    r = cluster.ctl("learn", "--cluster", "--spam", "--redis", "127.0.0.1:1", m, check=False)
    assert r.returncode == 2 and "exclude each other" in r.stderr


def test_release_learns_ham_once(cluster, redis, tmp_path):
    sink, port, box = smtp_sink(tmp_path)
    try:
        quarantining_cluster(cluster, extra="")
        cluster.start_node("node2", extra=f"redis_server = 127.0.0.1:{redis}\n")
        cluster.procs["node1"].stop()
        cluster.ctl("config", "set", f"quarantine.release_relay=smtp://127.0.0.1:{port}",
                    "check.bayes.autolearn=no")
        (tmp_path / "fp.eml").write_bytes(message("false-positive", gtube=True))
        (tmp_path / "keep.eml").write_bytes(message("analysis-only", gtube=True))
        ids = ids_by_file(scan_record(cluster, [tmp_path / "fp.eml", tmp_path / "keep.eml"],
                                      "--rcpt", "bob@example.org"))
        fp, keep = ids["fp.eml"], ids["keep.eml"]
        # Learned as spam first (as autolearn would): the release must move it to ham.
        cluster.ctl("learn", "--cluster", "--spam", tmp_path / "fp.eml", tmp_path / "keep.eml")
        assert counts(redis) == (2, 0)

        out = cluster.ctl("quarantine", "release", fp).stdout
        assert out.startswith(f"{fp}: released: 250") and "to be learned as ham" in out, out
        out = cluster.ctl("quarantine", "release", "--no-learn", keep).stdout
        assert out.startswith(f"{keep}: released: 250") and "learned" not in out, out

        wait_for(lambda: quarantine_entry(cluster, fp)["learn"] == "done", 20, 0.2,
                 "released entry learned as ham")
        e = quarantine_entry(cluster, fp)
        assert e["learn_reply"] == "ham into g: moved (node node2)", e
        assert counts(redis) == (1, 1)
        assert quarantine_entry(cluster, keep)["learn"] == ""
        show = cluster.ctl("quarantine", "show", fp).stdout
        assert "learned:     done as ham: ham into g: moved (node node2)" in show, show
        assert f"job={fp} event=learned" in cluster.procs["master"].log_text()
        # Once: releasing again neither delivers nor learns again.
        cluster.ctl("quarantine", "release", fp)
        assert len(list((box / "new").iterdir())) == 2
        assert rows(cluster, "quarantine", f"job_id = '{fp}' AND learn_attempts = 1") == 1
        assert counts(redis) == (1, 1)
    finally:
        sink.terminate()
        sink.wait(10)


def test_release_learned_when_a_node_comes_back(cluster, redis, tmp_path):
    """No node at release time: the entry stays pending and is learned once one joins."""
    sink, port, box = smtp_sink(tmp_path)
    try:
        quarantining_cluster(cluster)
        cluster.ctl("config", "set", f"quarantine.release_relay=smtp://127.0.0.1:{port}",
                    "check.bayes.autolearn=no")
        (tmp_path / "fp.eml").write_bytes(message("later", gtube=True))
        qid = ids_by_file(scan_record(cluster, [tmp_path / "fp.eml"], "--rcpt", "bob@example.org"))["fp.eml"]
        cluster.procs["node1"].stop()
        wait_for(lambda: not cluster.node_ids(), 10, 0.1, "node1 gone")
        assert "to be learned as ham" in cluster.ctl("quarantine", "release", qid).stdout
        assert quarantine_entry(cluster, qid)["learn"] == "pending"
        cluster.start_node("node2", extra=f"redis_server = 127.0.0.1:{redis}\n")
        wait_for(lambda: quarantine_entry(cluster, qid)["learn"] == "done", 20, 0.2,
                 "learned after the node joined")
        assert counts(redis) == (0, 1)
        assert GTUBE.encode() in next((box / "new").iterdir()).read_bytes()
    finally:
        sink.terminate()
        sink.wait(10)
