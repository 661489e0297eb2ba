"""Generated documentation and shipped systemd units stay true to the code.

docs/config.md must be exactly `bulwarkctl config doc` (regenerate with scripts/gen-docs.sh);
deploy/systemd/*.service must pass `systemd-analyze verify`.
"""
import re
import shutil
import subprocess

import pytest

from bulwark_harness import BUILD, CTL, MASTER, NODE, REPO

MILTER = BUILD / "node" / "bulwark-milter"
UNITS = {"bulwark-master.service": MASTER, "bulwark-node.service": NODE,
         "bulwark-milter.service": MILTER}


def config_doc():
    r = subprocess.run([str(CTL), "config", "doc"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_config_md_is_generated():
    want = config_doc()
    have = (REPO / "docs" / "config.md").read_text()
    assert have == want, ("docs/config.md differs from `bulwarkctl config doc`; regenerate it with "
                          "scripts/gen-docs.sh (or: build/node/bulwarkctl config doc > docs/config.md)")


def _default_ms(doc, section, name):
    """Default of a duration parameter in one section of the reference, in ms."""
    part = doc.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    m = re.search(rf"^\| `{name}` \| duration \| `(\d+)(ms|s)` \|", part, re.M)
    assert m, f"{name} not found in section {section}"
    return int(m.group(1)) * (1 if m.group(2) == "ms" else 1000)


def test_units_match_daemon_behaviour():
    doc = config_doc()
    for unit, daemon in (("bulwark-master.service", "bulwark-master"),
                         ("bulwark-node.service", "bulwark-node")):
        text = (REPO / "deploy" / "systemd" / unit).read_text()
        assert re.search(r"^Type=notify$", text, re.M), unit
        assert re.search(r"^WatchdogSec=\d+s$", text, re.M), unit
        assert re.search(rf"^ExecStart=\S*/{daemon} -c /etc/bulwark/\S+\.conf$", text, re.M), unit
        stop = re.search(r"^TimeoutStopSec=(\d+)s$", text, re.M)
        assert stop and int(stop.group(1)) * 1000 > _default_ms(doc, daemon, "shutdown_grace"), unit
    master = (REPO / "deploy" / "systemd" / "bulwark-master.service").read_text()
    assert "ExecReload=/bin/kill -HUP $MAINPID" in master


def test_milter_unit_and_postfix_fragment_agree():
    """The milter's unit outlives a scan; Postfix waits longer than the milter scans."""
    doc = config_doc()
    scan_ms = _default_ms(doc, "bulwark-milter", "scan_timeout")
    text = (REPO / "deploy" / "systemd" / "bulwark-milter.service").read_text()
    assert re.search(r"^Type=notify$", text, re.M)
    assert re.search(r"^WatchdogSec=\d+s$", text, re.M)
    assert re.search(r"^ExecStart=\S*/bulwark-milter -c /etc/bulwark/milter\.conf$", text, re.M)
    stop = re.search(r"^TimeoutStopSec=(\d+)s$", text, re.M)
    assert stop and int(stop.group(1)) * 1000 > scan_ms
    frag = (REPO / "deploy" / "postfix" / "main.cf.fragment").read_text()
    conf = dict(l.split("=", 1) for l in frag.splitlines() if l.strip() and not l.startswith("#"))
    conf = {k.strip(): v.strip() for k, v in conf.items()}
    assert conf["milter_default_action"] == "tempfail"
    assert conf["non_smtpd_milters"] == ""
    assert conf["smtpd_milters"] == "inet:127.0.0.1:7410"
    assert int(conf["milter_content_timeout"].rstrip("s")) * 1000 > scan_ms
    for m in ("i", "{auth_authen}", "{tls_version}", "{cipher}"):
        assert m in conf["milter_mail_macros"].split(), m


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_units_verify(tmp_path):
    # verify insists that every Exec*= binary exists: point them at the build tree.
    for unit, binary in UNITS.items():
        assert binary.exists(), f"{binary} not built"
        text = (REPO / "deploy" / "systemd" / unit).read_text()
        text, n = re.subn(r"(?m)^(Exec\w*=)\S*/" + re.escape(binary.name) + r"\b",
                          lambda m: m.group(1) + str(binary), text)
        assert n >= 1, unit
        (tmp_path / unit).write_text(text)
    r = subprocess.run(["systemd-analyze", "verify", *[str(tmp_path / u) for u in UNITS]],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    ours = [l for l in (r.stdout + r.stderr).splitlines() if "bulwark-" in l]
    assert not ours, "\n".join(ours)
