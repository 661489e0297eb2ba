"""The mail path: real Postfix, bulwark-milter, the cluster and a sink.

Every verdict is checked where it matters: in the SMTP transcript the sender sees and
in what arrives at the sink (see mailpath.py for the set-up).
"""
import signal
import smtplib
import subprocess
import threading
import time

import pytest

from bulwark_harness import CTL, free_port, wait_for
from mailpath import (GTUBE, Milter, Postfix, Sink, allow_milter, message, swaks,
                      wait_config_applied)


class Path_:
    """A gateway: cluster (master + node1) + milter + gateway Postfix + sink."""

    def __init__(self, cluster, tmp_path, nodes=("node1",), milter_extra="", scan_timeout="3s"):
        self.cluster = cluster
        self.sink = self.gw = None
        self.others = []
        allow_milter(cluster)
        cluster.start_master()
        for n in nodes:
            cluster.start_node(n)
        try:
            self.sink = Sink(tmp_path)
            self.milter = Milter(cluster, scan_timeout=scan_timeout, extra=milter_extra)
            self.milter.start()
            self.gw = Postfix("gw", free_port(), self.sink.port, self.milter.socket)
            self.gw.start()
        except BaseException:
            self.close()  # the cluster fixture stops the daemons
            raise

    def sender(self):
        """A second Postfix that relays everything to the gateway (the sending MTA)."""
        s = Postfix("sender", free_port(), self.gw.listen)
        s.start()
        self.others.append(s)
        return s

    def close(self):
        for s in self.others:
            s.cleanup()
        if self.gw:
            self.gw.cleanup()
        if self.sink:
            self.sink.stop()


@pytest.fixture
def mailpath(cluster, tmp_path):
    p = Path_(cluster, tmp_path)
    yield p
    p.close()


def test_clean_message_delivered_with_headers(mailpath):
    rc, out = swaks(mailpath.gw.listen, message("<clean-1@example.com>"))
    assert rc == 0, out
    assert "250 2.0.0 Ok: queued" in out
    msgs = wait_for(lambda: mailpath.sink.find("<clean-1@example.com>"), 20, 0.1, "delivery")
    assert len(msgs) == 1
    m = msgs[0]
    job = m["X-Bulwark-Id"]
    assert job and m["X-Bulwark-Score"] is not None, m.as_string()[:2000]
    assert m["X-Bulwark-Status"].startswith("pass score="), m["X-Bulwark-Status"]
    assert m["X-Bulwark-Symbols"] is not None
    assert m["Subject"] == "hello"
    v = mailpath.milter.verdicts()[job]
    assert v["action"] == "pass" and v["queue_id"] in job and v["from"] == "<sender@example.com>"


def test_spoofed_status_headers_are_replaced(mailpath):
    fake = "X-Bulwark-Status: pass score=-100\r\nX-Bulwark-Id: forged\r\n"
    rc, out = swaks(mailpath.gw.listen, message("<spoof-1@example.com>", extra_headers=fake))
    assert rc == 0, out
    m = wait_for(lambda: mailpath.sink.find("<spoof-1@example.com>"), 20, 0.1, "delivery")[0]
    assert m.get_all("X-Bulwark-Id") == [m["X-Bulwark-Id"]] and m["X-Bulwark-Id"] != "forged"
    assert len(m.get_all("X-Bulwark-Status")) == 1
    assert not m["X-Bulwark-Status"].endswith("-100")


def test_tagged_message_gets_subject_prefix(mailpath):
    mailpath.cluster.ctl("config", "set", "policy.tag_score=-1", "policy.subject_prefix=[SPAM] ")
    wait_config_applied(mailpath.cluster)
    rc, out = swaks(mailpath.gw.listen, message("<tag-1@example.com>", subject="cheap watches"))
    assert rc == 0, out
    m = wait_for(lambda: mailpath.sink.find("<tag-1@example.com>"), 20, 0.1, "delivery")[0]
    assert m["Subject"] == "[SPAM] cheap watches"
    assert m["X-Bulwark-Status"].startswith("tag score=")
    # No Subject at all: one is added.
    nosubj = message("<tag-2@example.com>").replace("Subject: hello\r\n", "")
    rc, out = swaks(mailpath.gw.listen, nosubj)
    assert rc == 0, out
    m = wait_for(lambda: mailpath.sink.find("<tag-2@example.com>"), 20, 0.1, "delivery")[0]
    assert m["Subject"].strip() == "[SPAM]"


def test_gtube_rejected(mailpath):
    rc, out = swaks(mailpath.gw.listen, message("<gtube-1@example.com>", body=GTUBE + "\r\n"))
    assert rc != 0
    assert "554 5.7.1" in out, out
    rc, out = swaks(mailpath.gw.listen, message("<after-gtube@example.com>"))
    assert rc == 0, out
    wait_for(lambda: mailpath.sink.find("<after-gtube@example.com>"), 20, 0.1, "delivery")
    assert not mailpath.sink.find("<gtube-1@example.com>")


def test_quarantine_discards_recorded_message(mailpath):
    c = mailpath.cluster
    # The more severe of the score's action and the forced one wins: weigh GTUBE into the
    # quarantine band.
    c.ctl("config", "set", "check.gtube.action=quarantine", "score.GTUBE=12")
    wait_config_applied(c)
    sent = message("<quar-1@example.com>", body=f"line one\r\n {GTUBE}\r\n\tindented\r\n",
                   extra_headers="X-Folded: first\r\n\tsecond\r\nX-Tight:no-space\r\n")
    # smtplib sends the bytes as they are (swaks would add an empty line at the end).
    with smtplib.SMTP("127.0.0.1", mailpath.gw.listen, timeout=60) as s:
        code, text = s.docmd("MAIL FROM:<sender@example.com>")
        assert code == 250, text
        assert s.docmd("RCPT TO:<user@example.org>")[0] == 250
        code, text = s.data(sent.encode())
        assert code == 250, text  # accepted: the message is now the quarantine's
    job = [j for j, v in mailpath.milter.verdicts().items() if v["action"] == "quarantine"]
    assert len(job) == 1, mailpath.milter.proc.log_text()[-2000:]
    assert mailpath.milter.verdicts()[job[0]]["recorded"] == "yes"
    listed = c.ctl("quarantine", "list", "--json").stdout
    assert job[0] in listed, listed
    # The quarantine holds the message byte for byte as the sender sent it (Postfix may
    # put its Received line on top): the milter rebuilt it exactly.
    raw = subprocess.run([str(CTL), "-c", str(c.ctl_conf), "quarantine", "show", "--raw", job[0]],
                         capture_output=True, timeout=30).stdout
    assert raw.endswith(sent.encode()), raw[-500:]
    assert raw == sent.encode() or raw.startswith(b"Received: "), raw[:500]
    # Accepted, but not delivered.
    rc, out = swaks(mailpath.gw.listen, message("<after-quar@example.com>"))
    wait_for(lambda: mailpath.sink.find("<after-quar@example.com>"), 20, 0.1, "delivery")
    assert not mailpath.sink.find("<quar-1@example.com>")


def test_master_down_tempfails(mailpath):
    assert mailpath.cluster.procs["master"].stop() == 0
    t0 = time.monotonic()
    rc, out = swaks(mailpath.gw.listen, message("<down-1@example.com>"))
    took = time.monotonic() - t0
    assert rc != 0
    assert "451 4.7.1" in out, out
    assert took < 3 + 10, took  # scan_timeout (3 s) plus margin
    assert not mailpath.sink.find("<down-1@example.com>")


def test_milter_down_tempfails(mailpath):
    assert mailpath.milter.stop() == 0  # and exits cleanly under ASan
    rc, out = swaks(mailpath.gw.listen, message("<nomilter-1@example.com>"))
    assert rc != 0
    assert "451 4.7.1" in out, out
    time.sleep(1)
    assert not mailpath.sink.find("<nomilter-1@example.com>")


def test_oversized_message_refused_unscanned(cluster, tmp_path):
    p = Path_(cluster, tmp_path, milter_extra="max_message_size = 4k\n")
    try:
        rc, out = swaks(p.gw.listen, message("<big-1@example.com>", body="x" * 76 + "\r\n") * 1)
        assert rc == 0, out
        rc, out = swaks(p.gw.listen, message("<big-2@example.com>",
                                             body=("y" * 76 + "\r\n") * 100))
        assert rc != 0 and "552 5.3.4" in out, out
        assert not any("big-2" in v.get("job", "") for v in p.milter.verdicts().values())
        wait_for(lambda: p.sink.find("<big-1@example.com>"), 20, 0.1, "delivery")
        assert not p.sink.find("<big-2@example.com>")
    finally:
        p.close()


def test_fail_open_accepts_unscanned(cluster, tmp_path):
    p = Path_(cluster, tmp_path, milter_extra="fail_open = yes\n", scan_timeout="1s")
    try:
        assert cluster.procs["master"].stop() == 0
        rc, out = swaks(p.gw.listen, message("<open-1@example.com>"))
        assert rc == 0, out
        m = wait_for(lambda: p.sink.find("<open-1@example.com>"), 20, 0.1, "delivery")[0]
        assert m["X-Bulwark-Status"].startswith("unscanned ("), m["X-Bulwark-Status"]
    finally:
        p.close()


# ---- faults: nothing lost, nothing doubled -------------------------------------------------


def _send_to(port, ids, threads=4):
    """Sends one message per id over several concurrent SMTP sessions (smtplib)."""
    errors = []

    def run(chunk):
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
                for i in chunk:
                    s.sendmail("sender@example.com", ["user@example.org"],
                               message(i, subject=f"stream {i}").encode())
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))
    ts = [threading.Thread(target=run, args=(ids[k::threads],)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors


def test_sender_queues_while_master_down_then_delivers_once(mailpath):
    c = mailpath.cluster
    sender = mailpath.sender()
    assert c.procs["master"].stop() == 0
    ids = [f"<queued-{i}@example.com>" for i in range(5)]
    _send_to(sender.listen, ids, threads=1)

    def all_deferred():
        q = sender.queue()
        return len(q) == 5 and all(
            any("4.7.1" in r.get("delay_reason", "") for r in e["recipients"]) for e in q)
    wait_for(all_deferred, 90, 0.5, "5 messages deferred with 4.7.1 at the sender")
    assert "451 4.7.1" in mailpath.gw.log() or "4.7.1" in sender.log()
    assert not mailpath.sink.messages()

    c.start_master()
    wait_for(lambda: "node1" in c.node_ids(), 30, 0.1, "node1 back")
    t0 = time.monotonic()
    sender.flush()
    try:
        wait_for(lambda: len(mailpath.sink.message_ids()) == 5, 90, 0.2, "all 5 delivered")
    except AssertionError:
        print("sender queue:", sender.queue())
        print("sender log:", sender.log()[-3000:])
        print("gateway log:", mailpath.gw.log()[-3000:])
        raise
    took = time.monotonic() - t0
    time.sleep(2)  # a duplicate would arrive now
    counts = mailpath.sink.message_ids()
    assert set(counts) == set(ids) and set(counts.values()) == {1}, counts
    assert not sender.queue()
    assert took < 60, took  # retries every 1-2 s: well under a minute even on a slow CI


def test_node_killed_while_200_messages_stream(cluster, tmp_path):
    p = Path_(cluster, tmp_path, nodes=("node1", "node2"), scan_timeout="20s")
    try:
        sender = p.sender()
        ids = [f"<stream-{i}@example.com>" for i in range(200)]
        t = threading.Thread(target=_send_to, args=(sender.listen, ids))
        t.start()
        wait_for(lambda: len(p.sink.messages()) >= 40, 120, 0.1, "40 delivered")
        cluster.procs["node1"].signal(signal.SIGKILL)
        cluster.procs["node1"].p.wait()
        t.join(120)
        wait_for(lambda: len(p.sink.message_ids()) >= 200, 180, 0.5, "200 delivered")
        time.sleep(2)
        counts = p.sink.message_ids()
        assert set(counts) == set(ids), set(ids) - set(counts)
        assert set(counts.values()) == {1}, [k for k, v in counts.items() if v != 1]
        assert not sender.queue()
    finally:
        p.close()
