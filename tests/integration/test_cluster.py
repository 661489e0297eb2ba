"""Cluster core: dispatch, failover, config bus, CURVE allow-list, bad frames.

Real MariaDB, bulwark-master and bulwark-node processes on loopback (see bulwark_harness.py).
"""
import json
import os
import random
import signal
import subprocess
import time
from collections import Counter

import zmq

from bulwark_harness import CTL, MASTER, NODE, curve_dealer, wait_for, write_messages


def results_by_file(stdout):
    lines = []
    for l in stdout.splitlines():
        if l.strip():
            try:
                lines.append(json.loads(l))
            except ValueError:
                raise AssertionError("bad JSON line: %r" % l)
    return lines, Counter(r["file"] for r in lines)


def finish(scan, timeout=60):
    """Rest of a scan's output. (communicate() would lose what readline() buffered.)"""
    out = scan.stdout.read()
    err = scan.stderr.read()
    scan.wait(timeout)
    return out, err


def test_500_messages_one_node_killed(cluster, tmp_path):
    cluster.start_master()
    cluster.start_node("node1", workers=2)
    cluster.start_node("node2", workers=2)
    msgs = write_messages(tmp_path / "msgs", 500, size=10_000, gtube_every=10)
    scan = subprocess.Popen([str(CTL), "-c", str(cluster.ctl_conf), "scan", "--json", str(msgs)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    # Freeze node1 while it holds jobs (it gets about half), let node2 go on, then kill node1:
    # its jobs can only be answered by re-dispatch.
    while len(lines) < 100:
        line = scan.stdout.readline()
        assert line, "scan ended early: " + scan.stderr.read()
        lines.append(line)
    cluster.procs["node1"].signal(signal.SIGSTOP)
    for _ in range(150):
        line = scan.stdout.readline()
        assert line, "scan ended early: " + scan.stderr.read()
        lines.append(line)
    held = [n for n in cluster.status()["nodes"] if n["node"] == "node1"]
    cluster.procs["node1"].signal(signal.SIGKILL)
    cluster.procs["node1"].p.wait()
    out, err = finish(scan)
    assert scan.returncode == 0, err
    results, per_file = results_by_file("".join(lines) + out)
    assert len(per_file) == 500
    assert set(per_file.values()) == {1}, [f for f, c in per_file.items() if c != 1]
    assert len(results) == 500
    assert all(r["action"] in ("pass", "reject") for r in results), \
        Counter(r["action"] for r in results)
    gtube = [r for r in results if any(s["name"] == "GTUBE" for s in r["symbols"])]
    assert len(gtube) == 50 and all(r["action"] == "reject" for r in gtube)
    st = cluster.status()
    assert {n["node"] for n in st["nodes"]} == {"node2"}
    if held and held[0]["load"] > 0:
        assert st["jobs_redispatched"] >= held[0]["load"]
    assert st["jobs_answered"] == 500 and st["in_flight"] == 0 and st["queue_depth"] == 0
    assert "event=node_gone node=node1" in cluster.procs["master"].log_text()


def test_config_change_reaches_nodes_within_1s(cluster, tmp_path):
    cluster.start_master()
    cluster.start_node("node1")
    cluster.start_node("node2")
    v0 = cluster.status()["config_version"]
    assert v0 >= 1
    wait_for(lambda: all(n["config_version"] == v0 for n in cluster.status()["nodes"]), 5,
             what="nodes on initial version")
    t0 = time.monotonic()
    r = cluster.ctl("config", "set", "--comment", "lower tag threshold", "policy.tag_score=3.5")
    assert r.stdout.strip() == f"config version {v0 + 1}"

    def both_new():
        nodes = cluster.status()["nodes"]
        return len(nodes) == 2 and all(n["config_version"] == v0 + 1 for n in nodes)
    wait_for(both_new, 1.0, 0.01, "both nodes report the new version")
    elapsed = time.monotonic() - t0
    assert elapsed < 1.0, elapsed

    # The pipeline uses it: a message scoring 3.5 (missing From/Date/Message-ID) is now tagged.
    (tmp_path / "m.eml").write_text("Subject: hi\n\nhello\n")
    res = json.loads(cluster.ctl("scan", "--json", tmp_path / "m.eml").stdout)
    assert res["action"] == "tag" and res["config_version"] == v0 + 1

    # A node started after the change gets it too.
    cluster.start_node("node3")
    wait_for(lambda: any(n["node"] == "node3" and n["config_version"] == v0 + 1
                         for n in cluster.status()["nodes"]), 5, what="late node converged")

    hist = cluster.ctl("config", "history").stdout
    assert f"version {v0 + 1}" in hist and "policy.tag_score: 5 -> 3.5" in hist
    assert "lower tag threshold" in hist and "(key ctl)" in hist
    assert cluster.ctl("config", "get", "policy.tag_score").stdout.strip() == "3.5"
    # The audit trail is in MariaDB.
    row = cluster.db.sql(f"SELECT version, changes FROM {cluster.db_name}.config_version "
                         f"WHERE version = {v0 + 1}").stdout
    assert "policy.tag_score: 5 -> 3.5" in row


def test_bad_config_values_refused(cluster):
    cluster.start_master()
    v0 = cluster.status()["config_version"]
    r = cluster.ctl("config", "set", "policy.tag_score=lots", check=False)
    assert r.returncode == 1 and "'lots' is not a number" in r.stderr
    r = cluster.ctl("config", "set", "no.such.key=1", check=False)
    assert r.returncode == 1 and "unknown parameter 'no.such.key'" in r.stderr
    r = cluster.ctl("config", "set", "check.size.action=explode", check=False)
    assert r.returncode == 1 and "not one of none|tag|quarantine|reject" in r.stderr
    assert cluster.status()["config_version"] == v0
    # compare-and-set
    r = cluster.ctl("config", "set", "--base", str(v0 + 5), "policy.tag_score=4", check=False)
    assert r.returncode == 1 and "409" in r.stderr
    # score overrides are dynamic keys
    cluster.ctl("config", "set", "score.MISSING_DATE=2.5")
    assert cluster.ctl("config", "get", "score.MISSING_DATE").stdout.strip() == "2.5"


def test_unknown_key_node_gets_no_jobs(cluster, tmp_path):
    cluster.keygen("rogue")
    cluster.start_master()
    cluster.start_node("node1")
    rogue = cluster.start_node("rogue", key="rogue", wait=False)
    wait_for(lambda: "event=zap_refused" in cluster.procs["master"].log_text(), 10,
             what="master logs the refusal")
    wait_for(lambda: "event=master_refused_key" in rogue.log_text(), 10, what="node logs the refusal")
    msgs = write_messages(tmp_path / "msgs", 60, size=2000)
    out = cluster.ctl("scan", "--json", msgs).stdout
    results, per_file = results_by_file(out)
    assert len(per_file) == 60 and set(per_file.values()) == {1}
    assert {r["node"] for r in results} == {"node1"}
    st = cluster.status()
    assert {n["node"] for n in st["nodes"]} == {"node1"}
    assert st["zap_refused"] >= 1
    assert rogue.alive()
    log = cluster.procs["master"].log_text()
    assert "reason=\"key not on allow-list\"" in log and cluster.public_key("rogue") in log


def test_malformed_frames_dropped_and_counted(cluster, tmp_path):
    cluster.start_master()
    cluster.start_node("node1")
    ctx = zmq.Context()
    client = curve_dealer(ctx, cluster, f"tcp://127.0.0.1:{cluster.ports['client']}")
    worker = curve_dealer(ctx, cluster, f"tcp://127.0.0.1:{cluster.ports['worker']}", "node2")
    rnd = random.Random(7)
    garbage = [b"", b"\xff" * 10, bytes(rnd.getrandbits(8) for _ in range(300)),
               b"\x0a\x09\x0a\x03abc",     # a job whose body is cut short
               b"\x0a\xff\xff\xff\xff\x0f",  # length far beyond the frame
               b"\x78\x01"]                 # unknown field only: no body
    for g in garbage:
        client.send(g)
        worker.send(g)
    client.send_multipart([b"two", b"frames"])
    worker.send_multipart([b"two", b"frames"])
    n_sent = len(garbage) + 1

    def counted():
        st = cluster.status()
        return st if st["bad_frames_client"] >= n_sent and st["bad_frames_worker"] >= n_sent else None
    st = wait_for(counted, 5, what="bad frames counted")
    assert st["bad_frames_client"] == n_sent and st["bad_frames_worker"] == n_sent
    # A well-formed but misdirected request gets a clear error, the master keeps serving.
    client.send(b"\x5a\x00")  # field 11 (history reply) on the request socket
    assert client.poll(5000)
    reply = client.recv()
    assert b"unexpected request" in reply
    msgs = write_messages(tmp_path / "msgs", 20, size=1000)
    results, per_file = results_by_file(cluster.ctl("scan", "--json", msgs).stdout)
    assert len(per_file) == 20 and set(per_file.values()) == {1}
    assert cluster.procs["master"].alive()
    log = cluster.procs["master"].log_text()
    assert "event=bad_frame socket=client" in log and "event=bad_frame socket=worker" in log
    client.close()
    worker.close()
    ctx.term()


def test_master_restart_nodes_reconnect(cluster, tmp_path):
    cluster.start_master()
    cluster.start_node("node1")
    cluster.start_node("node2")
    assert cluster.procs["master"].stop() == 0
    cluster.start_master()
    wait_for(lambda: cluster.node_ids() == {"node1", "node2"}, 10, what="nodes back after restart")
    msgs = write_messages(tmp_path / "msgs", 40, size=1000)
    results, per_file = results_by_file(cluster.ctl("scan", "--json", msgs).stdout)
    assert len(per_file) == 40 and set(per_file.values()) == {1}
    assert {r["node"] for r in results} <= {"node1", "node2"}


def test_node_sigterm_finishes_and_leaves(cluster, tmp_path):
    cluster.start_master()
    cluster.start_node("node1")
    cluster.start_node("node2")
    msgs = write_messages(tmp_path / "msgs", 300, size=10_000)
    scan = subprocess.Popen([str(CTL), "-c", str(cluster.ctl_conf), "scan", "--json", str(msgs)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = [scan.stdout.readline() for _ in range(50)]
    assert cluster.procs["node1"].stop() == 0
    out, err = finish(scan)
    assert scan.returncode == 0, err
    results, per_file = results_by_file("".join(first) + out)
    assert len(per_file) == 300 and set(per_file.values()) == {1}
    wait_for(lambda: cluster.node_ids() == {"node2"}, 5, what="node1 gone from status")
    assert "event=stopped" in cluster.procs["node1"].log_text()


def test_database_down_scanning_goes_on(cluster, tmp_path, mariadb):
    cluster.start_master()
    cluster.start_node("node1")
    mariadb.stop()
    try:
        msgs = write_messages(tmp_path / "msgs", 30, size=1000)
        results, per_file = results_by_file(cluster.ctl("scan", "--json", msgs).stdout)
        assert len(per_file) == 30
        r = cluster.ctl("config", "set", "policy.tag_score=4", check=False)
        assert r.returncode == 1 and "451" in r.stderr
    finally:
        mariadb.start()
    wait_for(lambda: cluster.ctl("config", "set", "policy.tag_score=4", check=False).returncode == 0,
             15, 0.5, "config set works again")


def test_daemon_config_errors_name_file_and_line(tmp_path):
    conf = tmp_path / "master.conf"
    conf.write_text("# comment\nclient_endpoint = tcp://127.0.0.1:1\nheartbeat_interval = soon\n")
    r = subprocess.run([str(MASTER), "-c", str(conf), "-t"], capture_output=True, text=True)
    assert r.returncode == 1
    assert f"{conf}:3: bad value for 'heartbeat_interval': 'soon' is not a duration" in r.stderr
    conf.write_text("workers = 5000\n")
    r = subprocess.run([str(NODE), "-c", str(conf), "-t"], capture_output=True, text=True)
    assert r.returncode == 1 and f"{conf}:1: bad value for 'workers': '5000' is out of range" in r.stderr
    conf.write_text("no_such_option = 1\n")
    r = subprocess.run([str(NODE), "-c", str(conf), "-t"], capture_output=True, text=True)
    assert r.returncode == 1 and "unknown parameter 'no_such_option'" in r.stderr
    conf.write_text("this line has no equals sign\n")
    r = subprocess.run([str(MASTER), "-c", str(conf)], capture_output=True, text=True)
    assert r.returncode == 1 and f"{conf}:1: expected 'name = value'" in r.stderr
    r = subprocess.run([str(MASTER), "-c", str(tmp_path / "missing.conf")], capture_output=True, text=True)
    assert r.returncode == 1 and "cannot read" in r.stderr


def test_ctl_usage_errors(tmp_path):
    for args, text in [([], "usage"), (["frobnicate"], "unknown command"),
                       (["scan"], "no files given"), (["scan", "--local", "--set", "x", "f"], "KEY=VALUE"),
                       (["config", "set"], "nothing to change"), (["keygen"], "NAME missing"),
                       (["keygen", "bad/name"], "bad key name")]:
        r = subprocess.run([str(CTL), *args], capture_output=True, text=True, cwd=tmp_path)
        assert r.returncode in (1, 2), (args, r.returncode)
        assert text in r.stderr, (args, r.stderr)
    r = subprocess.run([str(CTL), "scan", "--local", "--json", str(tmp_path / "nope.eml")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "No such file" in r.stderr
    assert json.loads(r.stdout)["action"] == "tempfail"


def test_database_hung_scanning_goes_on(cluster, tmp_path, mariadb):
    """A hung MariaDB (SIGSTOP: connections accepted, no answers) must not stall the
    dispatcher: the database is only used from the master's own database thread."""
    cluster.start_master()
    cluster.start_node("node1")
    assert cluster.status()["db_connected"] is True
    v0 = cluster.status()["config_version"]
    mariadb.proc.send_signal(signal.SIGSTOP)
    try:
        change = subprocess.Popen([str(CTL), "-c", str(cluster.ctl_conf), "--timeout", "60",
                                   "config", "set", "policy.tag_score=4.5"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)  # the change is now waiting on the database in the master
        msgs = write_messages(tmp_path / "msgs", 50, size=2000)
        t0 = time.monotonic()
        results, per_file = results_by_file(cluster.ctl("scan", "--json", msgs).stdout)
        elapsed = time.monotonic() - t0
        assert len(per_file) == 50 and set(per_file.values()) == {1}
        assert all(r["action"] == "pass" for r in results)
        assert elapsed < 5, f"scanning stalled behind the database: {elapsed:.1f}s"
        st = cluster.status()
        assert st["config_version"] == v0 and st["jobs_answered"] >= 50
        assert change.poll() is None, "config set should still be waiting for the database"
    finally:
        mariadb.proc.send_signal(signal.SIGCONT)
    out, err = change.communicate(timeout=60)
    print("config set while the database hung:", change.returncode, out, err)
    # The database came back within the read timeout (the change lands) or after it
    # (the change is refused with 451 and can be retried): never a crash or a hang.
    if change.returncode == 0:
        assert out.strip() == f"config version {v0 + 1}"
        wait_for(lambda: cluster.status()["config_version"] == v0 + 1, 5, what="new version active")
    else:
        assert "451" in err, err


def test_master_killed_mid_scan_client_resubmits(cluster, tmp_path):
    """Jobs open in a master that is SIGKILLed are lost with it; the client sends every
    unanswered job again when its connection comes back, so each file still gets
    exactly one result."""
    cluster.start_master()
    cluster.start_node("node1")
    cluster.start_node("node2")
    for n in ("node1", "node2"):
        cluster.procs[n].signal(signal.SIGSTOP)  # jobs pile up in the master
    msgs = write_messages(tmp_path / "msgs", 200, size=3000, gtube_every=20)
    scan = subprocess.Popen([str(CTL), "-c", str(cluster.ctl_conf), "scan", "--json", str(msgs)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: cluster.status()["jobs_received"] >= 64, 10, what="jobs queued in the master")
    cluster.procs["master"].signal(signal.SIGKILL)
    cluster.procs["master"].p.wait()
    time.sleep(0.3)
    cluster.start_master()
    for n in ("node1", "node2"):
        cluster.procs[n].signal(signal.SIGCONT)
    out, err = finish(scan, timeout=90)
    assert scan.returncode == 0, err
    assert "sent" in err and "unanswered jobs again" in err, err
    results, per_file = results_by_file(out)
    assert len(per_file) == 200 and set(per_file.values()) == {1}, \
        [f for f, c in per_file.items() if c != 1]
    assert all(r["action"] in ("pass", "reject") for r in results)
    assert sum(r["action"] == "reject" for r in results) == 10


def test_key_roles_limit_what_a_key_may_do(cluster, tmp_path):
    """The allow-list gives each key roles: node keys may only take jobs and follow the
    config bus, client keys may scan and read, only admin keys change the configuration."""
    cluster.keygen("viewer")
    cluster.write_allowlist({"ctl": "admin", "node1": "node", "viewer": "client"})
    cluster.start_master()
    cluster.start_node("node1")
    viewer = tmp_path / "viewer.conf"
    viewer.write_text(cluster.ctl_conf.read_text().replace("ctl.key", "viewer.key"))
    as_node = tmp_path / "as-node.conf"
    as_node.write_text(cluster.ctl_conf.read_text().replace("ctl.key", "node1.key"))

    def ctl_as(conf, *args):
        return subprocess.run([str(CTL), "-c", str(conf), "--timeout", "3", *map(str, args)],
                              capture_output=True, text=True, timeout=60)

    # A client key scans and reads ...
    msgs = write_messages(tmp_path / "msgs", 5, size=1000)
    r = ctl_as(viewer, "scan", "--json", msgs)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 5, r.stderr
    v0 = cluster.status()["config_version"]
    assert ctl_as(viewer, "config", "get", "policy.tag_score").stdout.strip() == "5"
    # ... but may not change the configuration.
    r = ctl_as(viewer, "config", "set", "policy.tag_score=1")
    assert r.returncode == 1 and "403" in r.stderr and "needs role admin" in r.stderr, r.stderr
    assert cluster.status()["config_version"] == v0
    assert "event=config_set_refused peer=viewer" in cluster.procs["master"].log_text()
    # A node key is refused on the client socket altogether.
    r = ctl_as(as_node, "status")
    assert r.returncode == 1 and "no reply" in r.stderr
    # A client key is refused on the worker socket: such a node gets no jobs.
    rogue = cluster.start_node("node2", key="viewer", wait=False)
    wait_for(lambda: "event=master_refused_key" in rogue.log_text(), 10, what="node refused")
    log = cluster.procs["master"].log_text()
    assert 'socket=client' in log and 'reason="key has no client or admin role"' in log
    assert 'socket=worker' in log and 'reason="key has no node role"' in log
    assert {n["node"] for n in cluster.status()["nodes"]} == {"node1"}
    # The admin key changes it, and the audit trail names the key.
    assert cluster.ctl("config", "set", "policy.tag_score=4").stdout.strip() == \
        f"config version {v0 + 1}"
    assert "(key ctl)" in cluster.ctl("config", "history", "--limit", "1").stdout
