"""rspamd as an optional engine, against the real rspamd of the Debian package.

rspamd runs privately on loopback through rspamd_harness.Rspamd (stock rules, its own
workers on free ports, no network lookups, no Redis; see that module for the exact
configuration). Messages go through `bulwarkctl scan --local --set
check.rspamd.url=...` and through a cluster node: GTUBE comes back as RSPAMD_SCORE with
rspamd's score (15, action reject), a normal message with a low score, the weight
scales it, and with rspamd stopped or hanging the verdict still comes, with
RSPAMD_UNAVAILABLE.
"""
import json
import socket
import subprocess
import time
from pathlib import Path

import pytest

import rspamd_harness
from bulwark_harness import CTL, wait_for

pytestmark = pytest.mark.skipif(not rspamd_harness.available(), reason="rspamd not installed")

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def eml(path: Path, subject, body, n):
    path.write_text(
        f"From: Alice Example <alice@example.com>\r\nTo: Bob Example <bob@example.org>\r\n"
        f"Subject: {subject}\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
        f"Message-ID: <rs{n}@example.com>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n")
    return path


@pytest.fixture(scope="module")
def rspamd(tmp_path_factory):
    r = rspamd_harness.Rspamd(tmp_path_factory.mktemp("rspamd"))
    r.start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def mail(tmp_path_factory):
    d = tmp_path_factory.mktemp("mail")
    return {
        "gtube": eml(d / "gtube.eml", "test", f"This is a test.\r\n{GTUBE}", 1),
        "normal": eml(d / "normal.eml", "Lunch on Friday",
                      "Hi Bob,\r\n\r\nshall we have lunch on Friday at noon? The new place "
                      "near the station has a good menu.\r\n\r\nCheers,\r\nAlice", 2),
    }


def scan(*args, files):
    t0 = time.monotonic()
    r = subprocess.run([str(CTL), "scan", "--local", "--json", *args, *map(str, files)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode in (0, 1, 2, 3), r.stderr
    out = {Path(j["file"]).stem: j for j in map(json.loads, r.stdout.splitlines())}
    return out, time.monotonic() - t0


def sym(result, name):
    return next((s for s in result["symbols"] if s["name"] == name), None)


def test_gtube_and_normal(rspamd, mail):
    res, _ = scan("--set", f"check.rspamd.url={rspamd.url}",
                  "--ip", "192.0.2.10", "--helo", "mx.example.com",
                  "--from", "alice@example.com", "--rcpt", "bob@example.org",
                  files=[mail["gtube"], mail["normal"]])
    g = sym(res["gtube"], "RSPAMD_SCORE")
    assert g, res["gtube"]
    assert g["score"] == pytest.approx(15.0), g
    assert g["detail"].startswith("reject, score 15.00/15.00") and "GTUBE" in g["detail"], g
    n = sym(res["normal"], "RSPAMD_SCORE")
    assert n, res["normal"]
    assert n["score"] < 5 and n["detail"].startswith("no action"), n
    assert not sym(res["normal"], "RSPAMD_UNAVAILABLE")
    # The envelope and the job id reached rspamd (its task log line names them).
    log = (rspamd.base / "rspamd.log").read_text(errors="replace")
    assert "qid: <local-1>" in log and "ip: 192.0.2.10" in log, log[-2000:]


def test_weight_scales_the_score(rspamd, mail):
    res, _ = scan("--set", f"check.rspamd.url={rspamd.url}/", "--set", "check.rspamd.weight=0.5",
                  files=[mail["gtube"]])
    assert sym(res["gtube"], "RSPAMD_SCORE")["score"] == pytest.approx(7.5)


def test_no_url_no_symbols(mail):
    res, _ = scan(files=[mail["normal"]])
    assert not any(s["name"].startswith("RSPAMD_") for s in res["normal"]["symbols"])


def test_bad_url_refused(mail):
    r = subprocess.run([str(CTL), "scan", "--local", "--set", "check.rspamd.url=ftp://x",
                        str(mail["normal"])], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "check.rspamd.url" in r.stderr


def test_hanging_rspamd_times_out(mail):
    with socket.socket() as s:  # accepts connections (backlog) and never answers
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        port = s.getsockname()[1]
        res, elapsed = scan("--set", f"check.rspamd.url=http://127.0.0.1:{port}",
                            "--set", "check.rspamd.timeout=500ms", files=[mail["gtube"]])
    u = sym(res["gtube"], "RSPAMD_UNAVAILABLE")
    assert u and u["score"] == 0 and "imeout" in u["detail"], res["gtube"]
    assert res["gtube"]["action"] == "reject"  # our own GTUBE check still decides
    assert elapsed < 10


def test_cluster_node_asks_rspamd(cluster, rspamd, mail):
    cluster.start_master()
    cluster.start_node("node1", workers=2)
    cluster.ctl("config", "set", f"check.rspamd.url={rspamd.url}")

    def seen():
        r = cluster.ctl("scan", "--json", mail["gtube"])
        return sym(json.loads(r.stdout.splitlines()[0]), "RSPAMD_SCORE")
    s = wait_for(seen, 20, 0.2, "RSPAMD_SCORE from the node")
    assert s["score"] == pytest.approx(15.0)


def test_rspamd_stopped_verdict_still_comes(rspamd, mail):
    url = rspamd.url
    assert rspamd.stop() is not None
    res, elapsed = scan("--set", f"check.rspamd.url={url}", files=[mail["normal"], mail["gtube"]])
    for k in ("normal", "gtube"):
        u = sym(res[k], "RSPAMD_UNAVAILABLE")
        assert u and u["score"] == 0, res[k]
        assert not sym(res[k], "RSPAMD_SCORE")
    assert res["normal"]["action"] == "pass" and res["gtube"]["action"] == "reject"
    assert elapsed < 10
