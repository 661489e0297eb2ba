"""Message log and quarantine: records committed before the answer, queries, release, aging.

`bulwarkctl scan --record` sets ScanJob.record as the milter does, so the master's side of
the mail path is tested here without Postfix. Real MariaDB, master and node on loopback.
"""
import csv
import io
import json
import re
import subprocess
import time
from pathlib import Path

import zmq

from bulwark_harness import CTL, curve_dealer, free_port, smtp_sink, wait_for

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def message(tag, gtube=False, subject=None):
    body = (GTUBE + "\r\n" if gtube else "") + f"body of {tag}\r\n"
    subject = subject or f"message {tag}"
    return (f"From: {tag}@example.com\r\nTo: bob@example.org\r\nSubject: {subject}\r\n"
            f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\r\n"
            f"Message-ID: <{tag}@example.com>\r\n\r\n{body}").encode()


def quarantining_cluster(cluster, extra=""):
    cluster.start_master(extra)
    cluster.start_node("node1")
    # GTUBE's default weight (1000) reaches policy.reject_score, and the most severe of
    # the score's action and the forced one wins: weigh it into the quarantine band.
    cluster.ctl("config", "set", "check.gtube.action=quarantine", "score.GTUBE=12")
    v = cluster.status()["config_version"]
    wait_for(lambda: all(n["config_version"] == v for n in cluster.status()["nodes"]), 5,
             what="node on the new version")


def scan_record(cluster, paths, *env, check=True):
    r = cluster.ctl("scan", "--record", "--json", *env, *paths, check=check)
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]


def ids_by_file(results):
    return {Path(r["file"]).name: r["job_id"] for r in results}


def rows(cluster, table, where="1"):
    out = cluster.db.sql(f"SELECT COUNT(*) FROM {cluster.db_name}.{table} WHERE {where}").stdout
    return int(out.strip())


def test_log_and_quarantine_records(cluster, tmp_path):
    quarantining_cluster(cluster)
    d = tmp_path / "msgs"
    d.mkdir()
    (d / "clean1.eml").write_bytes(message("clean1", subject='Hello, "world"'))
    (d / "clean2.eml").write_bytes(message("clean2"))
    (d / "spam1.eml").write_bytes(message("spam1", gtube=True))
    (d / "spam2.eml").write_bytes(message("spam2", gtube=True))
    res = scan_record(cluster, [d], "--from", "alice@example.com", "--rcpt", "bob@example.org",
                      "--rcpt", "carol@example.net", "--ip", "192.0.2.7", "--helo", "mx.example.com")
    assert len(res) == 4 and all(r["recorded"] for r in res), res
    ids = ids_by_file(res)
    actions = {Path(r["file"]).name: r["action"] for r in res}
    assert actions == {"clean1.eml": "pass", "clean2.eml": "pass", "spam1.eml": "quarantine",
                       "spam2.eml": "quarantine"}
    assert rows(cluster, "message_log") == 4 and rows(cluster, "quarantine") == 2

    # Log search by sender, by any recipient, by action, by id.
    log = [json.loads(l) for l in cluster.ctl("log", "search", "--sender", "alice", "--json")
           .stdout.splitlines()]
    assert sorted(r["id"] for r in log) == sorted(ids.values())
    assert all(r["rcpt"] == ["bob@example.org", "carol@example.net"] for r in log)
    assert all(r["client_ip"] == "192.0.2.7" and r["helo"] == "mx.example.com" for r in log)
    assert len(cluster.ctl("log", "search", "--recipient", "carol@", "--json").stdout.splitlines()) == 4
    assert cluster.ctl("log", "search", "--recipient", "nobody@", "--json").stdout == ""
    q = [json.loads(l) for l in cluster.ctl("log", "search", "--action", "quarantine", "--json")
         .stdout.splitlines()]
    assert sorted(r["id"] for r in q) == sorted([ids["spam1.eml"], ids["spam2.eml"]])
    assert all(any(s["name"] == "GTUBE" and s["score"] == 12 for s in r["symbols"]) for r in q)
    # the recorded score is the verdict's (GTUBE's 12 plus whatever the rules add)
    scores = {r["job_id"]: r["score"] for r in res}
    assert all(r["score"] == scores[r["id"]] and r["score"] >= 12 for r in q), q
    one = json.loads(cluster.ctl("log", "search", "--id", ids["clean1.eml"], "--json").stdout)
    assert one["subject"] == 'Hello, "world"' and one["message_id"] == "<clean1@example.com>"
    assert one["action"] == "pass" and one["size"] == len(message("clean1", subject='Hello, "world"'))
    assert cluster.ctl("log", "search", "--since", "1h", "--json").stdout.count("\n") == 4
    assert cluster.ctl("log", "search", "--until", "1h", "--json").stdout == ""
    assert cluster.ctl("log", "search", "--limit", "1", "--json").stdout.count("\n") == 1

    # CSV: a header row, RFC 4180 quoting of the subject with a comma and quotes.
    table = list(csv.reader(io.StringIO(cluster.ctl("log", "search", "--csv").stdout)))
    assert table[0][:4] == ["time", "id", "action", "score"]
    assert len(table) == 5 and all(len(row) == len(table[0]) for row in table)
    by_id = {row[1]: row for row in table[1:]}
    assert by_id[ids["clean1.eml"]][table[0].index("subject")] == 'Hello, "world"'
    assert by_id[ids["spam1.eml"]][2] == "quarantine"

    # The quarantine holds the GTUBE messages only.
    ql = [json.loads(l) for l in cluster.ctl("quarantine", "list", "--json").stdout.splitlines()]
    assert sorted(r["id"] for r in ql) == sorted([ids["spam1.eml"], ids["spam2.eml"]])
    assert all(r["status"] == "held" for r in ql)
    table = cluster.ctl("quarantine", "list").stdout
    assert ids["spam1.eml"] in table and ids["clean1.eml"] not in table and "held" in table
    assert cluster.ctl("quarantine", "list", "--recipient", "carol", "--json").stdout.count("\n") == 2
    assert cluster.ctl("quarantine", "list", "--status", "released", "--json").stdout == ""

    # show --raw gives back the exact bytes; show prints metadata, symbols and headers.
    raw = subprocess.run([str(CTL), "-c", str(cluster.ctl_conf), "quarantine", "show", "--raw",
                          ids["spam1.eml"]], capture_output=True, timeout=30)
    assert raw.returncode == 0 and raw.stdout == (d / "spam1.eml").read_bytes()
    shown = cluster.ctl("quarantine", "show", ids["spam1.eml"]).stdout
    assert "GTUBE" in shown and "Subject: message spam1" in shown and "status:      held" in shown
    assert "body (first lines):\n    " + GTUBE + "\n    body of spam1\n" in shown, shown
    r = cluster.ctl("quarantine", "show", "no-such-id", check=False)
    assert r.returncode == 1 and "404" in r.stderr


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num, payload):
    if isinstance(payload, int):
        return _varint(num << 3) + _varint(payload)
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def _fields(buf):
    """Top-level fields of a protobuf message: {number: [value, ...]}."""
    out, i = {}, 0
    while i < len(buf):
        key, shift = 0, 0
        while True:
            b = buf[i]; i += 1
            key |= (b & 0x7F) << shift; shift += 7
            if not b & 0x80:
                break
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, shift = 0, 0
            while True:
                b = buf[i]; i += 1
                v |= (b & 0x7F) << shift; shift += 7
                if not b & 0x80:
                    break
        elif wt == 2:
            n, shift = 0, 0
            while True:
                b = buf[i]; i += 1
                n |= (b & 0x7F) << shift; shift += 7
                if not b & 0x80:
                    break
            v = buf[i:i + n]; i += n
        elif wt == 1:
            v = buf[i:i + 8]; i += 8
        else:
            raise ValueError(f"wire type {wt}")
        out.setdefault(num, []).append(v)
    return out


def test_same_job_twice_recorded_once(cluster):
    quarantining_cluster(cluster)
    env = _field(4, b"dup@example.com") + _field(5, b"rcpt@example.org")
    job = (_field(1, b"dup-job-1") + _field(2, env) + _field(3, message("dup", gtube=True)) +
           _field(4, int(time.time() * 1000) + 20000) + _field(6, 1))
    ctx = zmq.Context()
    s = curve_dealer(ctx, cluster, f"tcp://127.0.0.1:{cluster.ports['client']}")
    try:
        answers = []
        for _ in range(2):
            s.send(_field(1, job))
            assert s.poll(20000), "no answer"
            pkt = _fields(s.recv())
            res = _fields(pkt[2][0])
            answers.append(res)
        for res in answers:
            assert res[1] == [b"dup-job-1"]
            assert res[2] == [2], res          # ACTION_QUARANTINE
            assert res.get(11) == [1], res     # recorded
        assert not s.poll(500), "a third answer"
    finally:
        s.close()
        ctx.term()
    assert rows(cluster, "message_log", "job_id = 'dup-job-1'") == 1
    assert rows(cluster, "quarantine", "job_id = 'dup-job-1'") == 1
    assert "job=dup-job-1 event=recorded_before" in cluster.procs["master"].log_text()


def test_release_delivers_once_and_delete(cluster, tmp_path):
    sink, port, box = smtp_sink(tmp_path)
    try:
        quarantining_cluster(cluster)
        cluster.ctl("config", "set", f"quarantine.release_relay=smtp://127.0.0.1:{port}")
        (tmp_path / "spam.eml").write_bytes(message("release-me", gtube=True))
        (tmp_path / "spam2.eml").write_bytes(message("delete-me", gtube=True))
        res = scan_record(cluster, [tmp_path / "spam.eml", tmp_path / "spam2.eml"],
                          "--from", "", "--rcpt", "one@example.org", "--rcpt", "two@example.org")
        ids = ids_by_file(res)
        rel, dele = ids["spam.eml"], ids["spam2.eml"]

        out = cluster.ctl("quarantine", "release", rel).stdout
        assert out.startswith(f"{rel}: released: 250"), out
        out = cluster.ctl("quarantine", "release", rel).stdout
        assert f"{rel}: already released at" in out and "(key ctl)" in out, out
        delivered = list((box / "new").iterdir())
        assert len(delivered) == 1
        text = delivered[0].read_bytes()
        assert b"Subject: message release-me" in text and GTUBE.encode() in text
        assert b"X-RcptTo: one@example.org, two@example.org" in text
        assert re.search(rb"^X-MailFrom: <>\r?$", text, re.M), text  # the null sender stays <>
        listed = json.loads(cluster.ctl("quarantine", "list", "--status", "released", "--json").stdout)
        assert listed["id"] == rel and listed["released_by"].endswith("(key ctl)")
        assert rows(cluster, "quarantine", f"job_id = '{rel}' AND status = 'released'") == 1

        assert cluster.ctl("quarantine", "delete", dele).stdout.strip() == f"{dele}: deleted"
        assert rows(cluster, "quarantine", f"job_id = '{dele}'") == 0
        r = cluster.ctl("quarantine", "delete", dele, check=False)
        assert r.returncode == 1 and "FAILED: no quarantine entry" in r.stdout
        r = cluster.ctl("quarantine", "release", "no-such-id", check=False)
        assert r.returncode == 1 and "no quarantine entry" in r.stdout
        assert len(list((box / "new").iterdir())) == 1
    finally:
        sink.terminate()
        sink.wait(10)


def test_failed_release_stays_held(cluster, tmp_path):
    quarantining_cluster(cluster)
    cluster.ctl("config", "set", f"quarantine.release_relay=smtp://127.0.0.1:{free_port()}")
    (tmp_path / "spam.eml").write_bytes(message("no-relay", gtube=True))
    qid = scan_record(cluster, [tmp_path / "spam.eml"], "--rcpt", "x@example.org")[0]["job_id"]
    r = cluster.ctl("quarantine", "release", qid, check=False)
    assert r.returncode == 1 and "delivery to smtp://127.0.0.1" in r.stdout, r.stdout
    assert rows(cluster, "quarantine", f"job_id = '{qid}' AND status = 'held'") == 1


def test_client_role_may_list_not_release(cluster, tmp_path):
    cluster.keygen("viewer")
    cluster.write_allowlist({"ctl": "admin", "node1": "node", "viewer": "client"})
    quarantining_cluster(cluster)
    (tmp_path / "spam.eml").write_bytes(message("viewer", gtube=True))
    qid = scan_record(cluster, [tmp_path / "spam.eml"], "--rcpt", "x@example.org")[0]["job_id"]
    viewer = tmp_path / "viewer.conf"
    viewer.write_text(cluster.ctl_conf.read_text().replace("ctl.key", "viewer.key"))

    def as_viewer(*args):
        return subprocess.run([str(CTL), "-c", str(viewer), *args], capture_output=True, text=True,
                              timeout=60)
    r = as_viewer("quarantine", "list", "--json")
    assert r.returncode == 0 and qid in r.stdout
    for op in ("release", "delete"):
        r = as_viewer("quarantine", op, qid)
        assert r.returncode == 1 and "403" in r.stderr and "needs role admin" in r.stderr, r.stderr
    assert rows(cluster, "quarantine", f"job_id = '{qid}' AND status = 'held'") == 1
    assert "event=quarantine_release_refused peer=viewer" in cluster.procs["master"].log_text()


def test_aging_removes_old_rows(cluster, tmp_path):
    quarantining_cluster(cluster, "maintenance_interval = 1s\n")
    cluster.ctl("config", "set", "quarantine.retention_days=7", "log.retention_days=30")
    d = tmp_path / "msgs"
    d.mkdir()
    for tag in ("old", "new"):
        (d / f"{tag}.eml").write_bytes(message(tag, gtube=True))
    ids = ids_by_file(scan_record(cluster, [d], "--rcpt", "x@example.org"))
    db = cluster.db_name
    cluster.db.sql(f"UPDATE {db}.quarantine SET time = NOW(3) - INTERVAL 8 DAY "
                   f"WHERE job_id = '{ids['old.eml']}'")
    cluster.db.sql(f"UPDATE {db}.message_log SET time = NOW(3) - INTERVAL 31 DAY "
                   f"WHERE job_id = '{ids['old.eml']}'")
    wait_for(lambda: rows(cluster, "quarantine") == 1 and rows(cluster, "message_log") == 1, 10,
             0.2, "old rows aged out")
    assert rows(cluster, "quarantine", f"job_id = '{ids['new.eml']}'") == 1
    assert rows(cluster, "message_log", f"job_id = '{ids['new.eml']}'") == 1
    log = cluster.procs["master"].log_text()
    assert "event=aging log_deleted=1 quarantine_deleted=1" in log


def test_database_down_record_tempfails(cluster, tmp_path, mariadb):
    quarantining_cluster(cluster)
    (tmp_path / "m.eml").write_bytes(message("dbdown"))
    assert scan_record(cluster, [tmp_path / "m.eml"])[0]["recorded"]
    mariadb.stop()
    try:
        r = scan_record(cluster, [tmp_path / "m.eml"], check=False)[0]
        assert r["action"] == "tempfail" and r["reason"] == "could not record the verdict", r
        assert not r["recorded"]
        plain = json.loads(cluster.ctl("scan", "--json", tmp_path / "m.eml").stdout)
        assert plain["action"] == "pass" and not plain["recorded"]
    finally:
        mariadb.start()
    wait_for(lambda: scan_record(cluster, [tmp_path / "m.eml"], check=False)[0]["recorded"], 20, 0.5,
             "recording works again")


def test_query_usage_errors(tmp_path):
    conf = tmp_path / "ctl.conf"
    conf.write_text("curve_enable = no\nmaster_endpoint = tcp://127.0.0.1:1\ntimeout = 1s\n")
    for args, words in [
        (["log", "search", "--since", "yesterday"], "is not a time"),
        (["log", "search", "--since", "2026-02-30"], "is not a time"),
        (["log", "search", "--limit", "0"], "--limit wants a number"),
        (["log", "search", "--action", "explode"], "--action wants"),
        (["log", "search", "--status", "held"], "does not apply"),
        (["log", "search", "--csv", "--json"], "not both"),
        (["log", "search", "--since", "1h", "--until", "2h"], "--since must be before --until"),
        (["quarantine", "list", "--status", "gone"], "--status wants held or released"),
        (["quarantine", "list", "--csv"], "does not apply"),
        (["quarantine", "show"], "ID missing"),
        (["quarantine", "release"], "ID missing"),
        (["quarantine", "frobnicate"], "say list, show, release or delete"),
        (["log", "grep"], "log: say search"),
        (["scan", "--local", "--record", str(tmp_path)], "--record needs the cluster"),
    ]:
        r = subprocess.run([str(CTL), "-c", str(conf), *args], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 2 and words in r.stderr, (args, r.returncode, r.stderr)
