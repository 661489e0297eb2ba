"""The mail path for tests: a sink, private Postfix instances and bulwark-milter.

    swaks ──▶ [sender Postfix] ──▶ gateway Postfix ──milter──▶ bulwark-milter ──▶ cluster
                                        │
                                        └──▶ sink (aiosmtpd Maildir)

Postfix instances are made and stopped with scripts/postfix-instance.sh; their state
lives under a fresh directory in /tmp (Postfix's unprivileged daemons must be able to
reach it, which pytest's 0700 tmp_path does not allow). Every process started here is
stopped here, by PID or by `postfix -c DIR stop`.
"""
import email
import mailbox
import os
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from bulwark_harness import BUILD, REPO, Proc, free_port, port_open, wait_for

MILTER = BUILD / "node" / "bulwark-milter"
INSTANCE = REPO / "scripts" / "postfix-instance.sh"
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


class Sink:
    """aiosmtpd with the Mailbox handler: every message it accepts lands in a Maildir."""

    def __init__(self, base: Path):
        self.port = free_port()
        self.dir = base / "sink"
        self.proc = Proc("sink", ["/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l",
                                  f"127.0.0.1:{self.port}", "-c", "aiosmtpd.handlers.Mailbox",
                                  str(self.dir)], base / "logs" / "sink.log")
        wait_for(lambda: port_open(self.port), 10, 0.05, "sink listening")

    def messages(self):
        if not (self.dir / "new").exists():
            return []
        box = mailbox.Maildir(str(self.dir), factory=None, create=False)
        return [email.message_from_bytes(box.get_bytes(k)) for k in box.keys()]

    def message_ids(self):
        return Counter(m["Message-ID"] for m in self.messages())

    def find(self, message_id):
        return [m for m in self.messages() if m["Message-ID"] == message_id]

    def stop(self):
        self.proc.stop()


class Postfix:
    """One private Postfix instance (scripts/postfix-instance.sh)."""

    def __init__(self, name, listen, relay, milter=None, extra=""):
        self.name = name
        self.dir = Path(tempfile.mkdtemp(prefix=f"bulwark-{name}-"))
        os.chmod(self.dir, 0o755)
        self.listen = listen
        self.relay = relay
        self.milter = milter
        self.extra = extra
        self.started = False

    def start(self):
        args = [str(INSTANCE), "start", str(self.dir), str(self.listen), str(self.relay)]
        if self.milter:
            args.append(self.milter)
        r = subprocess.run(args, capture_output=True, text=True, timeout=60,
                           env={**os.environ, "POSTFIX_EXTRA": self.extra})
        self.started = True
        assert r.returncode == 0, f"{self.name}: {r.stdout}{r.stderr}\n{self.log()[-3000:]}"

    def stop(self):
        if self.started:
            subprocess.run([str(INSTANCE), "stop", str(self.dir)], capture_output=True, timeout=60)
            self.started = False

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        p = self.dir / "maillog"
        return p.read_text(errors="replace") if p.exists() else ""

    def queue(self):
        """The queue as postqueue -j sees it: a list of dicts."""
        import json
        r = subprocess.run(["postqueue", "-c", str(self.dir), "-j"], capture_output=True,
                           text=True, timeout=30)
        return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]

    def flush(self):
        subprocess.run(["postqueue", "-c", str(self.dir), "-f"], capture_output=True, timeout=30)


class Milter:
    """bulwark-milter with a key on the cluster's allow-list (role client)."""

    def __init__(self, cluster, scan_timeout="3s", extra=""):
        self.cluster = cluster
        self.port = free_port()
        self.socket = f"inet:127.0.0.1:{self.port}"
        cluster.keygen("milter")
        self.conf = cluster.base / "milter.conf"
        self.conf.write_text(
            f"milter_socket = {self.socket}\n"
            f"master_endpoint = tcp://127.0.0.1:{cluster.ports['client']}\n"
            f"curve_enable = {'yes' if cluster.curve else 'no'}\n"
            f"curve_secret_key = {cluster.keys / 'milter.key'}\n"
            f"curve_server_key = {cluster.keys / 'master.pub'}\n"
            f"scan_timeout = {scan_timeout}\n" + extra)
        self.proc = None

    def start(self):
        self.proc = Proc("milter", [str(MILTER), "-c", str(self.conf)],
                         self.cluster.base / "logs" / "milter.log")
        self.cluster.procs["milter"] = self.proc  # the cluster fixture checks its exit status
        wait_for(lambda: port_open(self.port) or not self.proc.alive(), 20, 0.05, "milter listening")
        assert self.proc.alive(), self.proc.log_text()
        return self.proc

    def stop(self):
        return self.proc.stop()

    def verdicts(self):
        """{job id: the verdict log line's fields}."""
        out = {}
        for line in self.proc.log_text().splitlines():
            if "event=verdict" not in line:
                continue
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            out[fields["job"]] = fields
        return out


def message(msgid, subject="hello", body="Just a clean test message.\r\n", extra_headers=""):
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    return (f"From: sender@example.com\r\nTo: user@example.org\r\nSubject: {subject}\r\n"
            f"Date: {date}\r\nMessage-ID: {msgid}\r\n{extra_headers}\r\n{body}")


def swaks(port, data, rcpt="user@example.org", sender="sender@example.com", timeout=120):
    """Sends one message; returns (exit status, transcript)."""
    r = subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", "--from", sender, "--to", rcpt,
                        "--helo", "client.example.com", "--data", "-", "--timeout", "100"],
                       input=data, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def allow_milter(cluster):
    """Allow-list with the default keys plus the milter's (role client)."""
    cluster.keygen("milter")
    cluster.write_allowlist({"ctl": "admin", "node1": "node", "node2": "node", "node3": "node",
                             "milter": "client"})


def wait_config_applied(cluster, timeout=10):
    """Until every node runs the master's newest configuration version."""
    def ok():
        s = cluster.status()
        return s["nodes"] and all(n["config_version"] == s["config_version"] for n in s["nodes"])
    wait_for(ok, timeout, 0.05, "nodes on the newest config version")
