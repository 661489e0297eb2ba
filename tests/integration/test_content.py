"""Content and malware scanning end to end: the corpus of tests/integration/corpus.py
through `bulwarkctl scan --local --json --clamav-db DIR` (one case per sample: the
expected action and symbols), then through the cluster (a node loading the same
signatures), and ClamAV signature reload on a running node while jobs stream.
"""
import json
import subprocess
import time
from pathlib import Path

import pytest

import corpus
from bulwark_harness import CTL, wait_for


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    samples = corpus.build(d / "mail")
    db = corpus.write_signatures(d / "clamdb")
    return d / "mail", db, samples


@pytest.fixture(scope="module")
def local_results(built):
    mail, db, samples = built
    files = [mail / f"{n}.eml" for n in samples]
    t0 = time.monotonic()
    r = subprocess.run([str(CTL), "scan", "--local", "--json", "--clamav-db", str(db), *files],
                       capture_output=True, text=True, timeout=300)
    elapsed = time.monotonic() - t0
    assert r.returncode in (0, 1, 2, 3), r.stderr
    out = {}
    for line in r.stdout.splitlines():
        j = json.loads(line)
        out[Path(j["file"]).stem] = j
    assert set(out) == set(samples), (set(samples) - set(out), r.stderr)
    return out, elapsed


def names(result):
    return [s["name"] for s in result["symbols"]]


def explain(result):
    return "\n".join(f"  {s['name']} {s['score']}: {s['detail']}" for s in result["symbols"])


@pytest.mark.parametrize("sample", [
    "eicar-plain", "eicar-base64", "eicar-zip", "eicar-zip-zip-7z", "eicar-encrypted-zip",
    "hash-signature", "double-extension", "rtlo-name", "exe-named-pdf", "exe-in-zip",
    "macro-docm", "macro-xls", "pdf-javascript", "zip-bomb", "mime-2000-parts",
    "broken-boundaries", "wrong-charsets", "phishing-html", "clean-newsletter", "clean-pdf",
])
def test_corpus_sample(built, local_results, sample):
    _, _, samples = built
    results, _ = local_results
    want = samples[sample]
    got = results[sample]
    syms = names(got)
    ctx = f"{sample}: action={got['action']} score={got['score']} reason={got['reason']!r}\n" \
          f"{explain(got)}"
    wanted = want.action if isinstance(want.action, tuple) else (want.action,)
    assert got["action"] in wanted, ctx
    for s in want.symbols:
        assert s in syms, f"missing {s}\n{ctx}"
    for s in want.absent:
        hit = [x for x in syms if (x.startswith(s) if s.endswith("_") else x == s)]
        assert not hit, f"unexpected {hit}\n{ctx}"
    if want.max_score is not None:
        assert got["score"] <= want.max_score, ctx


def test_virus_detail_names_signature(local_results):
    results, _ = local_results
    det = {s["name"]: s["detail"] for s in results["eicar-zip-zip-7z"]["symbols"]}
    assert "Bulwark.Test.EICAR" in det["CLAM_VIRUS"], det
    det = {s["name"]: s["detail"] for s in results["hash-signature"]["symbols"]}
    assert "Bulwark.Test.Hash" in det["CLAM_VIRUS"], det


def test_archive_member_paths_in_details(local_results):
    results, _ = local_results
    det = {s["name"]: s["detail"] for s in results["exe-in-zip"]["symbols"]}
    assert "payroll.zip/payroll.exe" in det["ATTACHMENT_BLOCKED"], det
    det = {s["name"]: s["detail"] for s in results["eicar-encrypted-zip"]["symbols"]}
    assert "protected.zip" in det["ARCHIVE_ENCRYPTED"], det


def test_encrypted_zip_password_from_body(built):
    """With try_passwords on, the password in the body opens the archive and ClamAV's
    verdict no longer matters: the member itself is judged (EICAR is in it)."""
    mail, db, _ = built
    r = subprocess.run([str(CTL), "scan", "--local", "--json", "--clamav-db", str(db),
                        "--set", "check.archives.try_passwords=yes",
                        mail / "eicar-encrypted-zip.eml"],
                       capture_output=True, text=True, timeout=60)
    j = json.loads(r.stdout.splitlines()[0])
    syms = names(j)
    assert "ARCHIVE_DECRYPTED" in syms, explain(j)
    assert "ARCHIVE_ENCRYPTED" not in syms, explain(j)


def test_without_clamav_engine(built):
    """No --clamav-db: CLAM_UNAVAILABLE says so; the other checks still judge."""
    mail, _, _ = built
    r = subprocess.run([str(CTL), "scan", "--local", "--json", mail / "double-extension.eml",
                        mail / "eicar-plain.eml"], capture_output=True, text=True, timeout=60)
    res = {Path(j["file"]).stem: j for j in map(json.loads, r.stdout.splitlines())}
    assert "CLAM_UNAVAILABLE" in names(res["eicar-plain"])
    assert "CLAM_VIRUS" not in names(res["eicar-plain"])
    assert res["double-extension"]["action"] == "reject"


def test_bad_clamav_db_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    msg = tmp_path / "m.eml"
    msg.write_text("From: a@example.com\r\nSubject: x\r\n\r\nhi\r\n")
    r = subprocess.run([str(CTL), "scan", "--local", "--clamav-db", empty, msg],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "clamav" in r.stderr.lower() and str(empty) in r.stderr, r.stderr


def test_2000_parts_is_fast(local_results):
    results, _ = local_results
    assert results["mime-2000-parts"]["ms"] < 2000, results["mime-2000-parts"]["ms"]


def test_cluster_scans_with_clamav_and_reloads(cluster, built, tmp_path):
    """A node with clamav_db_dir detects EICAR through the cluster; a signature added
    while jobs stream is picked up by the reload, and no job is lost meanwhile."""
    mail, db, _ = built
    live_db = tmp_path / "live-db"
    live_db.mkdir()
    for f in db.iterdir():
        (live_db / f.name).write_bytes(f.read_bytes())
    cluster.start_master()
    cluster.start_node("n1", key="node1", extra=f"clamav_db_dir = {live_db}\nclamav_reload_interval = 1s\n")
    r = cluster.ctl("scan", "--json", mail / "eicar-zip.eml", mail / "clean-pdf.eml", check=False)
    res = {Path(j["file"]).stem: j for j in map(json.loads, r.stdout.splitlines())}
    assert res["eicar-zip"]["action"] == "reject", explain(res["eicar-zip"])
    assert "CLAM_VIRUS" in names(res["eicar-zip"])
    assert res["clean-pdf"]["action"] == "pass", explain(res["clean-pdf"])

    # a new "virus" the database does not know yet
    payload = b"bulwark reload marker 7f3a9c\n" * 4
    newmsg = tmp_path / "new.eml"
    newmsg.write_bytes(corpus.mime("new", "see attached", [("n.bin", "application/octet-stream",
                                                             payload)], mid="newsig"))
    r = cluster.ctl("scan", "--json", newmsg, check=False)
    assert "CLAM_VIRUS" not in names(json.loads(r.stdout.splitlines()[0]))

    # stream jobs while the signature is added and the node reloads
    many = tmp_path / "stream"
    many.mkdir()
    for i in range(300):
        (many / f"{i:04d}.eml").write_bytes((mail / "clean-pdf.eml").read_bytes())
    proc = subprocess.Popen([str(CTL), "-c", str(cluster.ctl_conf), "scan", "--json",
                             *sorted(many.iterdir())], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)
    (live_db / "added.ndb").write_text(f"Bulwark.Test.Reload:0:*:{payload[:30].hex()}\n")
    out, err = proc.communicate(timeout=180)
    lines = [json.loads(x) for x in out.splitlines()]
    assert len(lines) == 300, err
    assert all(x["action"] == "pass" for x in lines), [x for x in lines if x["action"] != "pass"][:3]

    def detected():
        rr = cluster.ctl("scan", "--json", newmsg, check=False)
        return "CLAM_VIRUS" in names(json.loads(rr.stdout.splitlines()[0]))
    wait_for(detected, 30, 0.5, "reloaded signature detected")
    assert "reload" in cluster.procs["n1"].log_text()
