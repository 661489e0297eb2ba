"""Starts real MariaDB, bulwark-master and bulwark-node processes on loopback for tests.

Every process is started here and ended here, by PID. Logs go to <tmp>/logs/<name>.log;
a failing test prints the tail of each so the reason is visible in CI output.
Binaries come from $BULWARK_BUILD (default: <repo>/build).
"""
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Third-party suites and vectors (SPF suite, DKIM/ARC vectors), vendored with their
# licences: tests/data/testdata/README.md.
TESTDATA = REPO / "tests" / "data" / "testdata"
BUILD = Path(os.environ.get("BULWARK_BUILD", REPO / "build")).resolve()
MASTER = BUILD / "master" / "bulwark-master"
NODE = BUILD / "node" / "bulwark-node"
CTL = BUILD / "node" / "bulwarkctl"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=10.0, interval=0.02, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def port_open(port):
    """Something accepts TCP connections on the loopback port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def smtp_sink(tmp_path):
    """aiosmtpd on a free loopback port, delivering into the Maildir tmp_path/mailbox:
    (the Popen, which the caller stops, the port, the Maildir)."""
    port = free_port()
    box = tmp_path / "mailbox"
    p = subprocess.Popen([sys.executable if Path(sys.executable).name.startswith("python3")
                          else "/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l",
                          f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Mailbox", str(box)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: port_open(port), 10, 0.05, "SMTP sink listening")
    return p, port, box


@contextlib.contextmanager
def redis_server(d: Path):
    """A private redis-server on a free loopback port with its files in `d`, stopped by PID
    on exit (if the test has not stopped it). Yields the Popen with .port and .addr
    ("127.0.0.1:PORT"); skips the test when redis-server is not installed."""
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(exe).exists():
        import pytest
        pytest.skip("redis-server not installed")
    d.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with open(d / "redis.log", "ab") as log:
        p = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", str(d)], stdout=log, stderr=log)
        p.port, p.addr = port, f"127.0.0.1:{port}"
        try:
            wait_for(lambda: port_open(port), 10, 0.05, "redis-server up")
            yield p
        finally:
            if p.poll() is None:
                p.terminate()
                p.wait(10)


class MariaDB:
    """A private mariadbd with its own datadir and socket (no TCP)."""

    def __init__(self, base: Path):
        self.base = base
        self.datadir = base / "mysql-data"
        self.socket = base / "mysqld.sock"
        self.proc = None

    def start(self):
        if not self.datadir.exists():
            subprocess.run(
                ["mariadb-install-db", "--no-defaults", f"--datadir={self.datadir}", "--user=root",
                 "--auth-root-authentication-method=normal", "--skip-test-db"],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        log = open(self.base / "logs" / "mariadb.log", "ab")
        self.proc = subprocess.Popen(
            ["mariadbd", "--no-defaults", f"--datadir={self.datadir}", f"--socket={self.socket}",
             "--skip-networking", "--user=root", f"--pid-file={self.base / 'mysqld.pid'}",
             "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M",
             "--innodb-flush-log-at-trx-commit=2", "--skip-name-resolve"],
            stdout=log, stderr=log)
        wait_for(lambda: self.sql("SELECT 1", check=False).returncode == 0, 30, 0.1, "mariadb up")
        self.sql("CREATE DATABASE IF NOT EXISTS bulwark")

    def sql(self, q, check=True):
        return subprocess.run(["mariadb", "--no-defaults", "-S", str(self.socket), "-u", "root",
                               "-N", "-B", "-e", q], capture_output=True, text=True, check=check)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class Proc:
    def __init__(self, name, argv, log_path, env=None):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=self.log, env=env)

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def log_text(self):
        return Path(self.log_path).read_text(errors="replace")

    def signal(self, sig):
        if self.alive():
            os.kill(self.p.pid, sig)

    def stop(self, timeout=30):
        """SIGTERM and wait; returns the exit status."""
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise AssertionError(f"{self.name} did not stop within {timeout}s of SIGTERM")



_QUIET_DNS = None


def quiet_dns():
    """HOST:PORT of a loopback DNS server that knows no name (NXDOMAIN at once), started
    once per test process, for nodes whose test does not give them dns_forwarders. A node
    without forwarders recurses from the root servers, which no machine here reaches, so
    every SPF/DKIM/DMARC lookup would cost it dns_timeout."""
    global _QUIET_DNS
    if _QUIET_DNS is None:
        from dnsserver import DNSServer
        _QUIET_DNS = DNSServer({}).start()
    return f"127.0.0.1:{_QUIET_DNS.port}"

class Cluster:
    """Keys, config files and processes of one test cluster under `base`."""

    def __init__(self, base: Path, db: MariaDB, curve=True, heartbeat="200ms"):
        self.base = base
        self.db = db
        self.curve = curve
        self.heartbeat = heartbeat
        self.keys = base / "keys"
        self.keys.mkdir(exist_ok=True)
        (base / "logs").mkdir(exist_ok=True)
        self.ports = {k: free_port() for k in ("client", "worker", "publish", "snapshot")}
        self.procs = {}
        for name in ("master", "ctl", "node1", "node2", "node3"):
            self.keygen(name)
        self.write_allowlist({"ctl": "admin", "node1": "node", "node2": "node", "node3": "node"})
        self.ctl_conf = base / "bulwarkctl.conf"
        self.ctl_conf.write_text(
            f"master_endpoint = tcp://127.0.0.1:{self.ports['client']}\n"
            f"curve_enable = {'yes' if curve else 'no'}\n"
            f"curve_secret_key = {self.keys / 'ctl.key'}\n"
            f"curve_server_key = {self.keys / 'master.pub'}\n"
            "timeout = 20s\n")

    def keygen(self, name):
        if not (self.keys / f"{name}.key").exists():
            subprocess.run([str(CTL), "keygen", "--dir", str(self.keys), name], check=True,
                           stdout=subprocess.DEVNULL)

    def public_key(self, name):
        for line in (self.keys / f"{name}.pub").read_text().splitlines():
            if line.startswith("public"):
                return line.split("=", 1)[1].strip()
        raise KeyError(name)

    def secret_key(self, name):
        for line in (self.keys / f"{name}.key").read_text().splitlines():
            if line.startswith("secret"):
                return line.split("=", 1)[1].strip()
        raise KeyError(name)

    def write_allowlist(self, roles):
        """roles: {key name: "node" | "client" | "admin" | "node,admin" ...}"""
        (self.keys / "allowed").write_text(
            "# test allow-list\n" + "".join(f"{n} {self.public_key(n)} {r}\n" for n, r in roles.items()))

    def master_conf(self, extra=""):
        p = self.base / "master.conf"
        p.write_text(
            f"master_id = test-master\n"
            f"client_endpoint = tcp://127.0.0.1:{self.ports['client']}\n"
            f"worker_endpoint = tcp://127.0.0.1:{self.ports['worker']}\n"
            f"publish_endpoint = tcp://127.0.0.1:{self.ports['publish']}\n"
            f"snapshot_endpoint = tcp://127.0.0.1:{self.ports['snapshot']}\n"
            f"curve_enable = {'yes' if self.curve else 'no'}\n"
            f"curve_secret_key = {self.keys / 'master.key'}\n"
            f"curve_allow = {self.keys / 'allowed'}\n"
            f"db_socket = {self.db.socket}\n"
            "db_user = root\n"
            "db_retry = 500ms\n"
            "config_poll = 500ms\n"
            f"heartbeat_interval = {self.heartbeat}\n"
            "attempt_timeout = 10s\n"
            "shutdown_grace = 5s\n" + extra)
        return p

    def node_conf(self, name, key=None, workers=2, extra=""):
        key = key or name
        p = self.base / f"{name}.conf"
        if "dns_forwarders" not in extra:
            extra = f"dns_forwarders = {quiet_dns()}\n" + extra
        p.write_text(
            f"node_id = {name}\n"
            f"master_worker_endpoint = tcp://127.0.0.1:{self.ports['worker']}\n"
            f"master_publish_endpoint = tcp://127.0.0.1:{self.ports['publish']}\n"
            f"master_snapshot_endpoint = tcp://127.0.0.1:{self.ports['snapshot']}\n"
            f"curve_enable = {'yes' if self.curve else 'no'}\n"
            f"curve_secret_key = {self.keys / (key + '.key')}\n"
            f"curve_server_key = {self.keys / 'master.pub'}\n"
            f"workers = {workers}\n"
            f"heartbeat_interval = {self.heartbeat}\n"
            "reconnect_max = 2s\n"
            "shutdown_grace = 5s\n" + extra)
        return p

    def start_master(self, extra=""):
        conf = self.master_conf(extra)
        self.procs["master"] = Proc("master", [str(MASTER), "-c", str(conf)],
                                    self.base / "logs" / "master.log")
        # Answering status is not enough: the first configuration version is loaded
        # (or written) once the database is reached, a moment later.
        def ready():
            st = self.try_status()
            return st is not None and st.get("config_version", 0) >= 1
        wait_for(ready, 30, 0.1, "master answering status with a configuration loaded")
        return self.procs["master"]

    def start_node(self, name, key=None, workers=2, wait=True, extra=""):
        conf = self.node_conf(name, key, workers, extra)
        self.procs[name] = Proc(name, [str(NODE), "-c", str(conf)], self.base / "logs" / f"{name}.log")
        if wait:
            wait_for(lambda: name in self.node_ids(), 20, 0.05, f"{name} joined")
        return self.procs[name]

    def ctl(self, *args, check=True, timeout=120, input=None):
        r = subprocess.run([str(CTL), "-c", str(self.ctl_conf), *map(str, args)],
                           capture_output=True, text=True, timeout=timeout, input=input)
        if check and r.returncode != 0:
            raise AssertionError(f"bulwarkctl {' '.join(map(str, args))} -> {r.returncode}\n"
                                 f"stdout: {r.stdout}\nstderr: {r.stderr}")
        return r

    def try_status(self):
        r = subprocess.run([str(CTL), "-c", str(self.ctl_conf), "--timeout", "1", "status", "--json"],
                           capture_output=True, text=True, timeout=10)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def status(self):
        s = self.try_status()
        assert s is not None, "master did not answer status"
        return s

    def node_ids(self):
        s = self.try_status()
        return {n["node"] for n in s["nodes"]} if s else set()

    def stop_all(self):
        """Stops every process still running; returns {name: exit status}."""
        rcs = {}
        for name in [n for n in self.procs if n != "master"] + ["master"]:
            p = self.procs.get(name)
            if p and p.alive():
                rcs[name] = p.stop()
        return rcs

    def dump_logs(self, lines=40):
        out = []
        for f in sorted((self.base / "logs").glob("*.log")):
            text = f.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"==== {f.name} ====\n" + "\n".join(text))
        return "\n".join(out)


def curve_dealer(ctx, cluster, endpoint, client="ctl"):
    """A pyzmq DEALER speaking CURVE to the master with `client`'s key."""
    import zmq
    s = ctx.socket(zmq.DEALER)
    s.curve_secretkey = cluster.secret_key(client).encode()
    s.curve_publickey = cluster.public_key(client).encode()
    s.curve_serverkey = cluster.public_key("master").encode()
    s.linger = 0
    s.connect(endpoint)
    return s


def write_messages(d: Path, n, size=10_000, gtube_every=0):
    """n RFC 5322 messages of about `size` bytes; every gtube_every-th carries GTUBE."""
    d.mkdir(parents=True, exist_ok=True)
    filler = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 40)[:70]
    for i in range(n):
        body = []
        if gtube_every and i % gtube_every == 0:
            body.append("XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X")
        while sum(len(x) + 2 for x in body) < size:
            body.append(filler)
        msg = (f"From: sender{i}@example.com\r\nTo: user@example.org\r\n"
               f"Subject: message {i}\r\nDate: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\r\n"
               f"Message-ID: <{i}.test@example.com>\r\n\r\n" + "\r\n".join(body) + "\r\n")
        (d / f"msg{i:05d}.eml").write_text(msg)
    return d


def shutil_rm(p):
    shutil.rmtree(p, ignore_errors=True)
