"""DMARC (RFC 7489) end to end: policies, SPF records and DKIM keys served by dnsserver.py.

Messages are signed with dkimpy (Debian's python3-dkim) and scanned by the real pipeline,
which looks everything up through its own resolver: `bulwarkctl scan --local --dns` for
the policy cases (aligned SPF, aligned DKIM only, reject, quarantine, sp= for a
subdomain, pct=0, no record, a policy lookup that times out, several From fields, local
overrides), then a cluster (MariaDB, master, a node with dns_forwarders) for the same
verdicts through `scan --record`, and a day of recorded traffic turned into aggregate
reports: `bulwarkctl dmarc report` builds them, xmllint validates them against
docs/schemas/rfc7489-aggregate.xsd, the counts are checked against what was sent, and
--send mails them gzipped to an SMTP sink, once.
"""
import email
import gzip
import json
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET

import dkim
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from authtools import pem_pkcs1, rsa_record
from bulwark_harness import CTL, REPO, smtp_sink, wait_for
from dnsserver import DNSServer

XSD = REPO / "docs" / "schemas" / "rfc7489-aggregate.xsd"
NS = "{http://dmarc.org/dmarc-xml/0.1}"
GOOD_IP = "192.0.2.10"      # allowed by every sender's SPF record
ESP_IP = "198.51.100.20"    # the bulk mailer's address: SPF passes for esp.example only
BAD_IP = "203.0.113.66"     # allowed by nobody


def make_zone(pub):
    spf = f"v=spf1 ip4:{GOOD_IP} -all"
    return {
        # p=reject, reports wanted, subdomains quarantined
        "_dmarc.example.com": [{"TXT": "v=DMARC1; p=reject; sp=quarantine; "
                                       "rua=mailto:dmarc-agg@example.com"}],
        "example.com": [{"TXT": spf}],
        "mail.example.com": [{"TXT": spf}],
        "news.example.com": [{"TXT": spf}],
        "sel1._domainkey.example.com": [{"TXT": pub}],
        # quarantine
        "_dmarc.quarantine.example": [{"TXT": "v=DMARC1; p=quarantine; "
                                              "rua=mailto:agg@quarantine.example"}],
        "quarantine.example": [{"TXT": spf}],
        # quarantine, but pct=0: nobody is selected
        "_dmarc.sampled.example": [{"TXT": "v=DMARC1; p=quarantine; pct=0"}],
        "sampled.example": [{"TXT": spf}],
        # a domain without DMARC, one whose policy server never answers
        "nodmarc.example": [{"TXT": spf}],
        "_dmarc.slow.example": ["TIMEOUT"],
        "slow.example": [{"TXT": spf}],
        # the bulk mailer: SPF passes for it, never aligned with anyone's From
        "esp.example": [{"TXT": f"v=spf1 ip4:{ESP_IP} -all"}],
        # external report address, authorised by reports.example
        "_dmarc.partner.example": [{"TXT": "v=DMARC1; p=reject; "
                                           "rua=mailto:x@reports.example,mailto:y@unauth.example"}],
        "partner.example._report._dmarc.reports.example": [{"TXT": "v=DMARC1"}],
        "partner.example": [{"TXT": spf}],
    }


def message(frm, subject="Quarterly figures", extra=b""):
    return (f"From: {frm}\r\nTo: Bob <bob@rcpt.example>\r\nSubject: {subject}\r\n"
            f"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
            f"Message-ID: <{abs(hash((frm, subject)))}@test>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=us-ascii\r\n").encode() + extra + (
            b"\r\nHello Bob,\r\n\r\nthe figures for the quarter are attached to the "
            b"shared folder as usual.\r\n\r\nRegards\r\n")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dmarc")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub = rsa_record(key)
    pem = pem_pkcs1(key)
    srv = DNSServer(make_zone(pub))
    srv.start()
    yield {"tmp": tmp, "dns": f"127.0.0.1:{srv.port}", "pem": pem, "srv": srv}
    srv.stop()


def signed(env, msg, domain="example.com", selector=b"sel1"):
    sig = dkim.sign(msg, selector, domain.encode(), env["pem"],
                    include_headers=[b"from", b"to", b"subject", b"date"])
    return sig + msg


def scan_local(env, msg, ip, mail_from, *sets, name="m.eml"):
    path = env["tmp"] / name
    path.write_bytes(msg)
    args = [str(CTL), "scan", "--local", "--json", "--dns", env["dns"], "--ip", ip,
            "--helo", "mx.sender.example", "--from", mail_from, "--rcpt", "bob@rcpt.example"]
    for s in sets:
        args += ["--set", s]
    p = subprocess.run(args + [str(path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def dmarc_symbols(res):
    return {s["name"]: s["detail"] for s in res["symbols"] if s["name"].startswith("DMARC_")}


def only(res, name):
    syms = dmarc_symbols(res)
    assert list(syms) == [name], res["symbols"]
    return syms[name]


def test_pass_via_aligned_spf(env):
    # relaxed alignment: the bounce domain mail.example.com is in example.com's organisation
    res = scan_local(env, message("Alice <alice@example.com>"), GOOD_IP,
                     "bounce@mail.example.com")
    d = only(res, "DMARC_PASS")
    assert "From example.com: aligned SPF passed" in d
    assert "policy example.com p=reject pct=100 adkim=r aspf=r" in d
    assert "SPF mail.example.com pass (aligned)" in d
    assert res["action"] == "pass"


def test_pass_via_aligned_dkim_only(env):
    # sent by the bulk mailer: SPF passes for esp.example (not aligned), the DKIM
    # signature of example.com carries DMARC
    res = scan_local(env, signed(env, message("Alice <alice@example.com>")), ESP_IP,
                     "bounces@esp.example")
    d = only(res, "DMARC_PASS")
    assert "aligned DKIM passed" in d
    assert "SPF esp.example pass (not aligned)" in d
    assert "DKIM d=example.com pass (aligned)" in d
    assert res["action"] == "pass"
    # the same message with its body changed: DKIM fails, nothing else aligns -> reject
    tampered = signed(env, message("Alice <alice@example.com>")).replace(b"as usual", b"as ever")
    res = scan_local(env, tampered, ESP_IP, "bounces@esp.example", name="t.eml")
    d = only(res, "DMARC_FAIL")
    assert "DKIM d=example.com fail (aligned)" in d
    assert res["action"] == "reject"


def test_fail_reject(env):
    res = scan_local(env, message("CEO <ceo@example.com>"), BAD_IP, "ceo@example.com")
    d = only(res, "DMARC_FAIL")
    assert "no aligned identifier passed" in d and "p=reject" in d
    assert "disposition reject" in d
    assert res["action"] == "reject"
    assert res["reason"] == "DMARC policy of example.com: reject"
    # an unaligned pass does not help: SPF passes for esp.example only
    res = scan_local(env, message("CEO <ceo@example.com>"), ESP_IP, "x@esp.example")
    assert "SPF esp.example pass (not aligned)" in only(res, "DMARC_FAIL")
    assert res["action"] == "reject"


def test_fail_quarantine(env):
    res = scan_local(env, message("a@quarantine.example"), BAD_IP, "a@quarantine.example")
    d = only(res, "DMARC_FAIL")
    assert "policy quarantine.example p=quarantine" in d and "disposition quarantine" in d
    assert res["action"] == "quarantine"


def test_subdomain_gets_sp(env):
    # news.example.com has no record: example.com's applies, with sp=quarantine
    res = scan_local(env, message("News <n@news.example.com>"), BAD_IP, "n@news.example.com")
    d = only(res, "DMARC_FAIL")
    assert "From news.example.com:" in d
    assert "policy example.com sp=quarantine" in d
    assert res["action"] == "quarantine"
    # and passes when aligned (relaxed: example.com's organisation)
    res = scan_local(env, message("News <n@news.example.com>"), GOOD_IP, "n@news.example.com")
    assert "policy example.com sp=quarantine" in only(res, "DMARC_PASS")


def test_pct_zero_not_enforced(env):
    res = scan_local(env, message("a@sampled.example"), BAD_IP, "a@sampled.example")
    d = only(res, "DMARC_FAIL")
    assert "pct=0" in d and "sampled out" in d and "next milder policy none" in d
    assert "disposition none" in d
    assert res["action"] == "pass"


def test_no_record_is_none(env):
    res = scan_local(env, message("a@nodmarc.example"), BAD_IP, "a@nodmarc.example")
    d = only(res, "DMARC_NONE")
    assert "_dmarc.nodmarc.example: no record" in d
    assert res["action"] == "pass"


def test_timeout_is_temperror(env):
    t0 = time.monotonic()
    res = scan_local(env, message("a@slow.example"), BAD_IP, "a@slow.example")
    d = only(res, "DMARC_TEMPERROR")
    assert "_dmarc.slow.example: timeout" in d
    assert res["action"] == "pass"  # never enforced on a temporary error
    assert time.monotonic() - t0 < 30


def test_from_trouble_is_permerror(env):
    two = message("a@example.com").replace(b"To: ", b"From: b@example.com\r\nTo: ", 1)
    res = scan_local(env, two, BAD_IP, "a@example.com")
    assert only(res, "DMARC_PERMERROR") == "2 From fields"
    res = scan_local(env, message("a@example.com, b@nodmarc.example"), BAD_IP, "a@example.com")
    assert "different domains" in only(res, "DMARC_PERMERROR")
    assert res["action"] == "pass"


def test_local_overrides(env):
    # exempt: evaluated and reported, not enforced
    res = scan_local(env, message("ceo@example.com"), BAD_IP, "ceo@example.com",
                     "check.dmarc.exempt_domains=partner.example, example.com")
    d = only(res, "DMARC_FAIL")
    assert "exempt" in d and "disposition none" in d
    assert res["action"] == "pass"
    # the administrator maps reject to quarantine
    res = scan_local(env, message("ceo@example.com"), BAD_IP, "ceo@example.com",
                     "check.dmarc.reject_action=quarantine")
    assert res["action"] == "quarantine"
    # trusted networks are not checked at all
    res = scan_local(env, message("ceo@example.com"), BAD_IP, "ceo@example.com",
                     "check.dmarc.trusted_networks=203.0.113.0/24")
    assert dmarc_symbols(res) == {}
    # a bad network refuses the configuration
    p = subprocess.run([str(CTL), "scan", "--local", "--set", "check.dmarc.trusted_networks=nope",
                        str(env["tmp"] / "m.eml")], capture_output=True, text=True)
    assert p.returncode == 1 and "check.dmarc.trusted_networks: 'nope'" in p.stderr


# ---- through the cluster, and the aggregate reports ----------------------------------


def dmarc_cluster(cluster, env, master_extra=""):
    cluster.keygen("viewer")
    cluster.write_allowlist({"ctl": "admin", "node1": "node", "viewer": "client"})
    cluster.start_master(master_extra)
    cluster.start_node("node1", workers=2, extra=f"dns_forwarders = {env['dns']}\n")
    cluster.ctl("config", "set", "dmarc.report.org_name=Bulwark Test Receiver",
                "dmarc.report.email=dmarc-reports@receiver.example")


def scan_record(cluster, tmp, name, msg, ip, mail_from, rcpt="bob@rcpt.example"):
    path = tmp / name
    path.write_bytes(msg)
    out = cluster.ctl("scan", "--record", "--json", "--ip", ip, "--helo", "mx.sender.example",
                      "--from", mail_from, "--rcpt", rcpt, path).stdout
    res = json.loads(out)
    assert res["recorded"], res
    return res


def test_cluster_verdicts_and_aggregate_report(cluster, env, tmp_path):
    sink, sink_port, box = smtp_sink(tmp_path)
    try:
        dmarc_cluster(cluster, env)
        # A day of traffic: example.com (reports wanted) from three sources, and
        # quarantine.example, partner.example, nodmarc.example.
        for i in range(3):  # aligned SPF from the good server
            r = scan_record(cluster, tmp_path, f"good{i}.eml",
                            message(f"a{i}@example.com", f"good {i}"), GOOD_IP, f"b{i}@example.com")
            assert "DMARC_PASS" in dmarc_symbols(r)
        for i in range(2):  # the bulk mailer, DKIM-signed
            r = scan_record(cluster, tmp_path, f"esp{i}.eml",
                            signed(env, message(f"news{i}@example.com", f"esp {i}")), ESP_IP,
                            "bounces@esp.example", rcpt="carol@other-rcpt.example")
            assert "DMARC_PASS" in dmarc_symbols(r)
        r = scan_record(cluster, tmp_path, "forged.eml", message("ceo@example.com", "wire transfer"),
                        BAD_IP, "ceo@example.com")
        assert r["action"] == "reject" and "DMARC_FAIL" in dmarc_symbols(r)
        r = scan_record(cluster, tmp_path, "sub.eml", message("n@news.example.com", "sub"),
                        BAD_IP, "n@news.example.com")
        assert r["action"] == "quarantine"
        r = scan_record(cluster, tmp_path, "q.eml", message("a@quarantine.example", "q"), BAD_IP,
                        "a@quarantine.example")
        assert r["action"] == "quarantine"
        scan_record(cluster, tmp_path, "p.eml", message("a@partner.example", "p"), GOOD_IP,
                    "a@partner.example")
        r = scan_record(cluster, tmp_path, "none.eml", message("a@nodmarc.example", "n"), BAD_IP,
                        "a@nodmarc.example")
        assert "DMARC_NONE" in dmarc_symbols(r)
        # one row per recorded message whose policy asks for reports (rua=)
        assert cluster.db.sql(f"SELECT COUNT(*) FROM {cluster.db_name}.dmarc_result").stdout.strip() == "9"

        day = time.strftime("%Y-%m-%d", time.gmtime())
        out = tmp_path / "reports"
        out.mkdir()
        rep = cluster.ctl("dmarc", "report", "--day", day, "--out", out, "--json").stdout
        reports = {r["domain"]: r for r in map(json.loads, rep.splitlines())}
        # nodmarc.example publishes nothing; every other policy domain has a report
        assert set(reports) == {"example.com", "quarantine.example", "partner.example"}
        ex = reports["example.com"]
        assert ex["messages"] == 7 and ex["records"] == 4, ex
        assert ex["rua"] == ["dmarc-agg@example.com"]
        # only the authorised external address of partner.example is kept (7.1)
        assert reports["partner.example"]["rua"] == ["x@reports.example"]
        assert re.fullmatch(r"receiver\.example!example\.com!\d+!\d+\.xml\.gz", ex["file"])
        b, e = map(int, ex["file"][:-len(".xml.gz")].split("!")[2:])
        assert e - b == 86399 and b % 86400 == 0
        assert time.strftime("%Y-%m-%d", time.gmtime(b)) == day

        files = sorted(out.iterdir())
        assert len(files) == 3
        for f in files:
            v = subprocess.run(["xmllint", "--schema", str(XSD), "--noout", str(f)],
                               capture_output=True, text=True)
            assert v.returncode == 0, v.stderr + f.read_text()

        root = ET.parse(out / ex["file"][:-3]).getroot()
        assert root.tag == NS + "feedback"
        assert root.findtext("report_metadata/org_name") == "Bulwark Test Receiver"
        assert root.findtext("report_metadata/email") == "dmarc-reports@receiver.example"
        assert root.findtext("policy_published/domain") == "example.com"
        assert root.findtext("policy_published/p") == "reject"
        assert root.findtext("policy_published/sp") == "quarantine"
        rows = {}
        for rec in root.findall("record"):
            key = (rec.findtext("row/source_ip"), rec.findtext("identifiers/header_from"),
                   rec.findtext("row/policy_evaluated/disposition"),
                   rec.findtext("row/policy_evaluated/dkim"), rec.findtext("row/policy_evaluated/spf"))
            rows[key] = int(rec.findtext("row/count"))
        assert rows == {
            (GOOD_IP, "example.com", "none", "fail", "pass"): 3,
            (ESP_IP, "example.com", "none", "pass", "fail"): 2,
            (BAD_IP, "example.com", "reject", "fail", "fail"): 1,
            (BAD_IP, "news.example.com", "quarantine", "fail", "fail"): 1,
        }, rows
        esp = [r for r in root.findall("record") if r.findtext("row/source_ip") == ESP_IP][0]
        assert esp.findtext("identifiers/envelope_to") == "other-rcpt.example"
        assert esp.findtext("identifiers/envelope_from") == "esp.example"
        assert esp.findtext("auth_results/dkim/domain") == "example.com"
        assert esp.findtext("auth_results/dkim/selector") == "sel1"
        assert esp.findtext("auth_results/dkim/result") == "pass"
        assert esp.findtext("auth_results/spf/domain") == "esp.example"
        assert esp.findtext("auth_results/spf/result") == "pass"

        # A client key may build reports, not mail them.
        viewer = tmp_path / "viewer.conf"
        viewer.write_text(cluster.ctl_conf.read_text().replace("ctl.key", "viewer.key"))
        r = subprocess.run([str(CTL), "-c", str(viewer), "dmarc", "report", "--day", day],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "example.com: 4 records, 7 messages" in r.stdout, r.stderr
        r = subprocess.run([str(CTL), "-c", str(viewer), "dmarc", "report", "--day", day, "--send"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 1 and "403" in r.stderr and "needs role admin" in r.stderr

        # A relay that is not an SMTP URL: nothing is sent, the exit status says so.
        cluster.ctl("config", "set", "dmarc.report.relay=mail.example:25")
        r = cluster.ctl("dmarc", "report", "--day", day, "--domain", "example.com", "--send",
                        check=False)
        assert r.returncode == 1 and "not sent: dmarc.report.relay 'mail.example:25'" in r.stdout

        # One domain, sent through the relay: once.
        cluster.ctl("config", "set", f"dmarc.report.relay=smtp://127.0.0.1:{sink_port}")
        r = cluster.ctl("dmarc", "report", "--day", day, "--domain", "example.com", "--send")
        assert "example.com: 4 records, 7 messages, rua dmarc-agg@example.com" in r.stdout
        assert "sent: 250" in r.stdout, r.stdout
        mails = list((box / "new").iterdir())
        assert len(mails) == 1
        m = email.message_from_bytes(mails[0].read_bytes())
        assert m["X-RcptTo"] == "dmarc-agg@example.com"
        assert m["Subject"].startswith("Report Domain: example.com Submitter: receiver.example "
                                       "Report-ID: <")
        att = [p for p in m.walk() if p.get_content_type() == "application/gzip"][0]
        assert att.get_filename() == ex["file"]
        assert gzip.decompress(att.get_payload(decode=True)) == (out / ex["file"][:-3]).read_bytes()
        r = cluster.ctl("dmarc", "report", "--day", day, "--domain", "example.com", "--send")
        assert "sent before: 250" in r.stdout
        assert len(list((box / "new").iterdir())) == 1
        assert cluster.db.sql(f"SELECT COUNT(*) FROM {cluster.db_name}.dmarc_report").stdout.strip() == "1"

        # Usage errors and an empty day.
        r = cluster.ctl("dmarc", "report", "--day", "2026-02-30", check=False)
        assert r.returncode == 1 and "day must be a date" in r.stderr
        r = cluster.ctl("dmarc", "report", "--day", "2001-01-01")
        assert "no DMARC results recorded on 2001-01-01" in r.stdout
        yesterday = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))
        r = cluster.ctl("dmarc", "report", "--day", "yesterday")
        assert f"no DMARC results recorded on {yesterday}" in r.stdout
    finally:
        sink.terminate()
        sink.wait(10)


def test_results_aged_out(cluster, env, tmp_path):
    dmarc_cluster(cluster, env, "maintenance_interval = 1s\n")
    cluster.ctl("config", "set", "dmarc.report.retention_days=3")
    ids = [scan_record(cluster, tmp_path, f"a{i}.eml", message(f"a{i}@example.com", f"age {i}"),
                       GOOD_IP, f"a{i}@example.com")["job_id"] for i in range(2)]
    table = f"{cluster.db_name}.dmarc_result"

    def count():
        return int(cluster.db.sql(f"SELECT COUNT(*) FROM {table}").stdout.strip())
    assert count() == 2
    cluster.db.sql(f"UPDATE {table} SET time = NOW(3) - INTERVAL 4 DAY WHERE job_id = '{ids[0]}'")
    wait_for(lambda: count() == 1, 10, 0.2, "the old DMARC result aged out")
    left = cluster.db.sql(f"SELECT job_id FROM {table}").stdout.strip()
    assert left == ids[1]
    assert "event=aging table=dmarc_result deleted=1 days=3" in cluster.procs["master"].log_text()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_report_timer_units_verify(tmp_path):
    """The daily sender: a timer and a oneshot service running `dmarc report --send`."""
    units = ("bulwark-dmarc-report.service", "bulwark-dmarc-report.timer")
    for unit in units:
        text = (REPO / "deploy" / "systemd" / unit).read_text()
        (tmp_path / unit).write_text(text.replace("/usr/local/bin/bulwarkctl", str(CTL)))
    service = (tmp_path / units[0]).read_text()
    assert re.search(r"^ExecStart=\S*/bulwarkctl .*dmarc report --day yesterday --send$",
                     service, re.M)
    assert re.search(r"^Type=oneshot$", service, re.M)
    assert re.search(r"^OnCalendar=.*UTC$", (tmp_path / units[1]).read_text(), re.M)
    r = subprocess.run(["systemd-analyze", "verify", *[str(tmp_path / u) for u in units]],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    ours = [line for line in (r.stdout + r.stderr).splitlines() if "bulwark-dmarc" in line]
    assert not ours, "\n".join(ours)
