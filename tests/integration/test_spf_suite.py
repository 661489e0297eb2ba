"""The RFC 7208 SPF test suite, every case a pytest test, through the real resolver.

The suite (openspf.org's, 2014.04 with later fixes, as kept in pyspf's repository) is
read at test time from tests/data/testdata/spf/rfc7208-tests.yml (vendored unchanged,
with its licence) with Debian's yaml module. Each scenario's zonedata is served by dnsserver.py on
loopback with pyspf's rules (SPF records are also TXT records unless the name has TXT
ones; "TIMEOUT" never answers), and one `bulwarkctl spf --batch --json --dns` process
per scenario evaluates its cases through libunbound (node/dns.c), a fresh DNS batch,
so fresh lookup counts, per case. One process per scenario, not per case, keeps the
203 cases to 16 starts under ASan; a new resolver per scenario keeps one scenario's
answers out of another's cache (the scenarios give the same names other records).

A case passes when its result is one of the suite's results and, when the case gives
an explanation, ours is the same text. "DEFAULT" in the suite is the implementation's
default explanation: the driver sets it, as pyspf's does, with --default-exp DEFAULT.
Test ids are <scenario>::<case>. The older RFC 4408 suite from the same folder runs
the same way (all 191 of its cases pass too), with ids rfc4408/<scenario>::<case>.
The bulwarkctl processes must exit 0 at the end (ASan's leak check included): checked
when the module's tests are done.
"""
import json
import os
import select
import subprocess
import time

import pytest
import yaml

from bulwark_harness import CTL, TESTDATA
from dnsserver import DNSServer, zone_from_spf

SUITES = TESTDATA / "spf"
SUITE = SUITES / "rfc7208-tests.yml"
SUITE_4408 = SUITES / "rfc4408-tests.yml"
CASE_TIMEOUT = 30  # seconds; a TIMEOUT name costs the 1 s query timeout below


def load_cases(path, prefix=""):
    """pytest params (scenario key, case name, case) and each scenario's zonedata."""
    with path.open("rb") as f:
        scenarios = list(yaml.safe_load_all(f))
    cases, zones = [], {}
    for sc in scenarios:
        key = prefix + sc["description"]
        zones[key] = sc["zonedata"]
        for name, case in sc["tests"].items():
            cases.append(pytest.param(key, name, case, id=f"{key}::{name}"))
    return cases, zones


CASES, ZONES = load_cases(SUITE)
CASES_4408, ZONES_4408 = load_cases(SUITE_4408, "rfc4408/")
ZONES.update(ZONES_4408)


class ScenarioRunner:
    """dnsserver.py with one scenario's zone, and a bulwarkctl spf --batch reading cases."""

    def __init__(self, scenario, workdir):
        self.scenario = scenario
        self.dns = DNSServer(zone_from_spf(ZONES[scenario])).start()
        workdir.mkdir(parents=True, exist_ok=True)
        self.stderr_path = workdir / "bulwarkctl.err"
        self.stderr = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [str(CTL), "spf", "--batch", "--json", "--dns", f"127.0.0.1:{self.dns.port}",
             "--timeout", "1s", "--default-exp", "DEFAULT"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
            env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1"))

    def evaluate(self, ip, helo, mail_from):
        for field in (ip, helo, mail_from):
            assert "\t" not in field and "\n" not in field
        self.proc.stdin.write(f"{ip}\t{helo}\t{mail_from}\n".encode())
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], CASE_TIMEOUT)
        assert ready, f"no answer within {CASE_TIMEOUT} s:\n{self.errors()}"
        line = self.proc.stdout.readline()
        assert line, f"bulwarkctl spf ended:\n{self.errors()}"
        return json.loads(line)

    def errors(self):
        if not self.stderr.closed:
            self.stderr.flush()
        return self.stderr_path.read_text(errors="replace")[-3000:]

    def close(self):
        self.proc.stdin.close()
        try:
            rc = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc.stdout.close()
        self.dns.stop()
        self.stderr.close()
        return rc


@pytest.fixture(scope="module")
def runners(tmp_path_factory):
    """One runner per scenario, made on its first case; the previous one is closed then
    (the cases run in file order), every exit status checked at the end."""
    base = tmp_path_factory.mktemp("spf_suite")
    state = {"current": None, "exits": {}}

    def get(scenario):
        cur = state["current"]
        if cur and cur.scenario != scenario:
            state["exits"][cur.scenario] = (cur.close(), cur.errors())
            cur = None
        if not cur:
            cur = ScenarioRunner(scenario, base / scenario.replace(" ", "_"))
            state["current"] = cur
        return cur

    yield get
    if state["current"]:
        cur = state["current"]
        state["exits"][cur.scenario] = (cur.close(), cur.errors())
    bad = {sc: err for sc, (rc, err) in state["exits"].items() if rc != 0}
    assert not bad, f"bulwarkctl spf exited non-zero (ASan report?): {bad}"


def check_case(runners, scenario, case):
    r = runners(scenario).evaluate(case["host"], case.get("helo", ""), case["mailfrom"])
    want = case["result"] if isinstance(case["result"], list) else [case["result"]]
    assert r["result"] in want, (
        f"{case.get('description', '').strip()} (spec {case.get('spec')}): "
        f"got {r['result']} ({r['reason'] or r['mechanism']}), want {want}")
    if "explanation" in case:
        assert r["explanation"] == case["explanation"]
    # What the output promises beyond the suite: bounded lookups (the void lookup that
    # goes over the limit of 2 is counted), a reason for errors.
    assert r["lookups"] <= 10 and r["void_lookups"] <= 3
    if r["result"] in ("temperror", "permerror", "none"):
        assert r["reason"]
    if r["result"] == "fail":
        assert r["explanation"]


@pytest.mark.parametrize("scenario,name,case", CASES)
def test_rfc7208_case(runners, scenario, name, case):
    check_case(runners, scenario, case)


@pytest.mark.parametrize("scenario,name,case", CASES_4408)
def test_rfc4408_case(runners, scenario, name, case):
    check_case(runners, scenario, case)


def test_suite_is_whole():
    """The suite counts all cases: none may go missing through the loader."""
    assert len(CASES) == 203
    assert len({c.id for c in CASES}) == 203
    assert len(CASES_4408) == 191


def test_timeout_is_bounded(tmp_path):
    """A name that never answers is a temperror within the --timeout, not a hang."""
    with DNSServer({"slow.example": ["TIMEOUT"]}) as dns:
        t0 = time.monotonic()
        out = subprocess.run(
            [str(CTL), "spf", "--json", "--dns", f"127.0.0.1:{dns.port}", "--timeout", "500ms",
             "--ip", "192.0.2.1", "--mail-from", "a@slow.example"],
            capture_output=True, text=True, timeout=60)
        elapsed = time.monotonic() - t0
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["result"] == "temperror" and "timeout" in r["reason"]
    assert elapsed < 5, elapsed
