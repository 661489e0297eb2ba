"""tests/bench/peers.py - private Redis, rspamd and SpamAssassin instances for the
benchmarks (tests/bench/accuracy.sh, tests/bench/scan.sh).

Everything runs on loopback (or a Unix socket) from a private directory, with no
network: rspamd's DNS points to a stub on loopback that answers NXDOMAIN and its network
modules (RBL/SURBL, SPF, DKIM, DMARC, ARC, ASN, fuzzy, DCC, ...) are disabled;
SpamAssassin runs with -L (local tests only). Every process is started here with
Popen and stopped by its PID (SIGTERM, then SIGKILL after a grace period).

Run with /usr/bin/python3 (no third-party modules needed).
"""
from __future__ import annotations

import concurrent.futures as cf
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

RSPAMD_CONFDIR = Path("/etc/rspamd")
SA_RULES = Path("/usr/share/spamassassin")
SA_SITE = Path("/etc/spamassassin")

# rspamd modules that need the network (DNS, HTTP, UDP to a third party) or that
# would act on state other than the Bayes classifier (greylisting, rate limits,
# neural nets trained by autolearn, history/reputation in Redis). hfilter and
# once_received score the DNS answers about the sending host and the From domain
# (HFILTER_FROMHOST_NORES_A_OR_MX 1.5, HFILTER_HOSTNAME_UNKNOWN 2.5, RDNS_NONE 1.0):
# offline every lookup fails, so they would add points to every message for a
# network condition we made up; off (the rspamd test harness turns hfilter off too).
RSPAMD_OFF = [
    "hfilter", "once_received",
    "rbl", "surbl", "emails", "spf", "dkim", "dmarc", "arc", "asn", "fuzzy_check",
    "dcc", "mx_check", "url_redirector", "greylist", "ratelimit", "neural",
    "replies", "reputation", "history_redis", "rspamd_update", "clickhouse",
    "elastic", "metadata_exporter", "external_services", "antivirus", "p0f",
    "whitelist", "dkim_signing", "bimi", "aws_s3", "metric_exporter",
]


def pmap(fn, items, parallel: int) -> list:
    """map with PARALLEL threads; on an exception (SIGTERM -> SystemExit included)
    the queued items are dropped instead of run, so the caller stops promptly."""
    ex = cf.ThreadPoolExecutor(parallel)
    try:
        return list(ex.map(fn, items))
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f}s")


def stop(proc: subprocess.Popen | None, grace: float = 10) -> None:
    """Stops one process we started, by its PID."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def rss_kib(pid: int) -> int:
    """Peak resident set (VmHWM) of a process, KiB (0 if gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(k) for k in kids]


class NxDns:
    """A stub DNS server on a free loopback UDP port that answers every query at once
    with NXDOMAIN (an offline resolver): rspamd's remaining lookups (PTR of relays,
    map hosts) fail immediately instead of timing out. A thread of this process."""

    def __init__(self):
        import threading
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.queries = 0
        self.names: dict[str, int] = {}
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                q, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            if len(q) < 12:
                continue
            self.queries += 1
            labels, i = [], 12
            while i < len(q) and q[i] and len(labels) < 20:
                labels.append(q[i + 1:i + 1 + q[i]].decode(errors="replace"))
                i += 1 + q[i]
            name = ".".join(labels[-3:])  # the zone asked about, for the record
            self.names[name] = self.names.get(name, 0) + 1
            # same id and question; QR=1, opcode copied, RD copied, RA=1, RCODE=3
            flags = 0x8000 | (q[2] << 8 & 0x7900) | 0x0080 | 3
            reply = q[:2] + flags.to_bytes(2, "big") + q[4:6] + b"\0\0\0\0\0\0" + q[12:]
            try:
                self.sock.sendto(reply, peer)
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()


class Redis:
    """redis-server on a free loopback port, data in DIR, no persistence."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "Redis":
        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--save", "", "--appendonly", "no", "--daemonize", "no",
             "--logfile", str(self.dir / "redis.log"), "--protected-mode", "yes"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc, "redis-server", 30)
        return self

    def command(self, *args: str) -> bytes:
        req = f"*{len(args)}\r\n".encode()
        for a in args:
            b = a.encode()
            req += b"$%d\r\n%s\r\n" % (len(b), b)
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            s.sendall(req)
            return s.recv(65536)

    def flush(self) -> None:
        """A fresh database: FLUSHALL (the next learner starts from nothing)."""
        reply = self.command("FLUSHALL")
        if not reply.startswith(b"+OK"):
            raise RuntimeError(f"redis FLUSHALL: {reply!r}")

    def stop(self) -> None:
        stop(self.proc)


class Rspamd:
    """rspamd (Debian's package, stock rules and scores) with a private local config:
    WORKERS normal workers and a controller on free loopback ports, the Bayes
    classifier in REDIS, network modules off, no autolearn."""

    def __init__(self, directory: Path, redis: Redis | None, workers: int = 2,
                 hs_cache: Path | None = None):
        self.dir = directory
        self.redis = redis
        self.workers = workers
        self.hs_cache = hs_cache
        self.port = free_port()
        self.ctl_port = free_port()
        self.proc: subprocess.Popen | None = None
        self.dns = NxDns()

    def _config(self) -> None:
        local = self.dir / "etc" / "local.d"
        override = self.dir / "etc" / "override.d"
        for d in (local, override, self.dir / "run", self.dir / "db", self.dir / "log"):
            d.mkdir(parents=True, exist_ok=True)
        opts = [f'dns {{ nameserver = ["127.0.0.1:{self.dns.port}"]; timeout = 1s; '
                'retransmits = 1; }']
        if self.hs_cache:
            self.hs_cache.mkdir(parents=True, exist_ok=True)
            opts.append(f'hs_cache_dir = "{self.hs_cache}";')
        (local / "options.inc").write_text("\n".join(opts) + "\n")
        for m in RSPAMD_OFF:
            (local / f"{m}.conf").write_text("enabled = false;\n")
        # phishing: keep the local URL heuristics, not the phishtank DNS lookups
        (local / "phishing.conf").write_text("phishtank_enabled = false;\n")
        if self.redis:
            (local / "redis.conf").write_text(f'servers = "{self.redis.addr}";\n')
            (local / "classifier-bayes.conf").write_text(
                f'servers = "{self.redis.addr}";\nbackend = "redis";\nautolearn = false;\n')
        else:
            (local / "classifier-bayes.conf").write_text('backend = "redis";\n')
        (override / "worker-normal.inc").write_text(
            f'bind_socket = "127.0.0.1:{self.port}";\ncount = {self.workers};\n')
        (override / "worker-controller.inc").write_text(
            f'bind_socket = "127.0.0.1:{self.ctl_port}";\ncount = 1;\n'
            'secure_ip = "127.0.0.1";\n')
        (override / "worker-proxy.inc").write_text("enabled = false;\ncount = 0;\n")
        (override / "logging.inc").write_text(
            f'type = "file";\nfilename = "{self.dir}/log/rspamd.log";\nlevel = "warning";\n')

    def start(self) -> "Rspamd":
        exe = shutil.which("rspamd") or "/usr/bin/rspamd"
        self._config()
        self.proc = subprocess.Popen(
            [exe, "-f", "-i", "-c", str(RSPAMD_CONFDIR / "rspamd.conf"),
             f"--var=LOCAL_CONFDIR={self.dir}/etc", f"--var=RUNDIR={self.dir}/run",
             f"--var=DBDIR={self.dir}/db", f"--var=LOGDIR={self.dir}/log"],
            stdin=subprocess.DEVNULL, stdout=open(self.dir / "stdout.log", "wb"),
            stderr=subprocess.STDOUT)
        wait_port(self.port, self.proc, "rspamd", 180)
        wait_port(self.ctl_port, self.proc, "rspamd controller", 60)
        return self

    def wait_hyperscan(self, timeout: float = 600) -> None:
        """Waits until the Hyperscan cache (compiled by rspamd's hs_helper at start,
        reused from HS_CACHE on later starts) stops changing: until the workers load
        it they match with PCRE, which is slower and would bias a throughput run."""
        if not self.hs_cache:
            time.sleep(5)
            return
        end = time.monotonic() + timeout
        last, stable = None, 0
        while time.monotonic() < end:
            now = sorted((p.name, p.stat().st_size) for p in self.hs_cache.iterdir())
            stable = stable + 1 if now == last and now else 0
            if stable >= 5:
                return
            last = now
            time.sleep(1)

    def stat(self) -> dict | None:
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.ctl_port, timeout=30)
            c.request("GET", "/stat")
            r = c.getresponse()
            return json.loads(r.read())
        except (OSError, ValueError):
            return None

    def worker_pids(self) -> list[int]:
        return children(self.proc.pid) if self.proc else []

    def _post(self, conn_cache: dict, port: int, path: str, body: bytes) -> tuple[int, dict]:
        key = (port, os.getpid(), id(conn_cache))
        for attempt in range(3):
            c = conn_cache.get(key)
            if c is None:
                c = conn_cache[key] = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            try:
                c.request("POST", path, body=body, headers={"Content-Length": str(len(body))})
                r = c.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    c.close()
                    conn_cache.pop(key, None)
                try:
                    return r.status, json.loads(data)
                except ValueError:
                    return r.status, {"raw": data[:200].decode(errors="replace")}
            except (OSError, http.client.HTTPException):
                c.close()
                conn_cache.pop(key, None)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def check_many(self, files: list[str], parallel: int) -> dict[str, dict]:
        """POST /checkv2 every file, PARALLEL requests in flight; file -> reply."""
        import threading
        local = threading.local()

        def one(f: str) -> tuple[str, dict]:
            cache = getattr(local, "cache", None)
            if cache is None:
                cache = local.cache = {}
            _, reply = self._post(cache, self.port, "/checkv2", Path(f).read_bytes())
            return f, reply

        return dict(pmap(one, files, parallel))

    def learn_many(self, files: list[str], spam: bool, parallel: int) -> dict[str, int]:
        """POST /learnspam or /learnham to the controller; counts of outcomes."""
        import threading
        local = threading.local()
        path = "/learnspam" if spam else "/learnham"

        def one(f: str) -> str:
            cache = getattr(local, "cache", None)
            if cache is None:
                cache = local.cache = {}
            status, reply = self._post(cache, self.ctl_port, path, Path(f).read_bytes())
            if status == 200 and reply.get("success"):
                return "learned"
            if status == 204:  # learn_condition declined: Bayes already sure of the class
                return "skipped (already classified)"
            err = str(reply.get("error", reply))
            if "already" in err:
                return "already known"
            if "class" in err:
                return "skipped (already in class)"
            return f"error {status}: {err[:80]}"

        counts: dict[str, int] = {}
        for outcome in pmap(one, files, parallel):
            counts[outcome] = counts.get(outcome, 0) + 1
        return counts

    def stop(self) -> None:
        stop(self.proc, 20)
        self.dns.close()


class SpamAssassin:
    """SpamAssassin 4 from Debian: the shipped rules (/usr/share/spamassassin, or
    what sa-update installed), a private site config and Bayes database, -L (local
    tests only), no auto-learning; spamd on a Unix socket with CHILDREN children."""

    def __init__(self, directory: Path, children: int = 2):
        self.dir = directory
        self.children = children
        self.site = directory / "site"
        self.bayes = directory / "bayes"
        self.sock = directory / "spamd.sock"
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def rules_dir() -> Path:
        """Where SpamAssassin would load its rules from: sa-update's directory if it
        ever ran (/var/lib/spamassassin/<version>/), else the shipped ones."""
        var = sorted(Path("/var/lib/spamassassin").glob("[0-9]*"))
        for v in reversed(var):
            if any(v.rglob("*.cf")):
                return v
        return SA_RULES

    def setup(self) -> None:
        self.site.mkdir(parents=True, exist_ok=True)
        self.bayes.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o777)
        os.chmod(self.dir.parent, 0o755)  # spamd's children run as nobody
        os.chmod(self.bayes, 0o777)
        for pre in SA_SITE.glob("*.pre"):  # the plugin loads (Bayes is a plugin in 4.0)
            shutil.copy(pre, self.site / pre.name)
        (self.site / "local.cf").write_text(
            "# bulwark accuracy bench: no network, Bayes from a private database\n"
            "local_tests_only 1\n"
            "skip_rbl_checks 1\n"
            "dns_available no\n"
            "use_bayes 1\n"
            "bayes_auto_learn 0\n"
            "bayes_auto_expire 0\n"
            f"bayes_path {self.bayes}/bayes\n"
            "bayes_file_mode 0666\n"
            "use_razor2 0\nuse_pyzor 0\nuse_dcc 0\n"
            "required_score 5.0\n")

    def _base(self) -> list[str]:
        return ["-C", str(self.rules_dir()), f"--siteconfigpath={self.site}"]

    def learn(self, files: list[str], spam: bool) -> str:
        cmd = ["sa-learn", "-L", *self._base(), f"--prefspath={self.dir}/user_prefs",
               "--no-sync", "--spam" if spam else "--ham", "-f", "-"]
        r = subprocess.run(cmd, input="\n".join(files) + "\n", text=True,
                           capture_output=True, check=True)
        return r.stdout.strip()

    def sync(self) -> str:
        r = subprocess.run(["sa-learn", "-L", *self._base(),
                            f"--prefspath={self.dir}/user_prefs", "--sync"],
                           text=True, capture_output=True, check=True)
        for p in self.bayes.iterdir():
            os.chmod(p, 0o666)
        return r.stdout.strip()

    def magic(self) -> str:
        r = subprocess.run(["sa-learn", *self._base(), f"--prefspath={self.dir}/user_prefs",
                            "--dump", "magic"], text=True, capture_output=True)
        return r.stdout

    def start(self) -> "SpamAssassin":
        self.proc = subprocess.Popen(
            ["/usr/sbin/spamd", "-L", *self._base(), "-x", "-u", "nobody",
             f"--socketpath={self.sock}", "--socketmode=0666", "-m", str(self.children),
             "--min-children", str(self.children), "--max-conn-per-child=100000",
             "-s", f"{self.dir}/spamd.log", "-H", str(self.dir)],
            stdin=subprocess.DEVNULL, stdout=open(self.dir / "stdout.log", "wb"),
            stderr=subprocess.STDOUT)
        end = time.monotonic() + 180
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"spamd exited with status {self.proc.returncode} "
                                   f"(see {self.dir}/spamd.log)")
            if self.sock.exists():
                r = subprocess.run(["spamc", "-U", str(self.sock), "-K"],
                                   capture_output=True, text=True)
                if r.returncode == 0:
                    return self
            time.sleep(0.5)
        raise RuntimeError("spamd did not answer PING within 180s")

    def check_many(self, files: list[str], parallel: int) -> dict[str, tuple[float | None, str]]:
        """spamc -R for every file, PARALLEL at a time; file -> (score or None on
        error, the report: the names of the rules hit are in it)."""
        def one(f: str) -> tuple[str, tuple[float | None, str]]:
            with open(f, "rb") as fh:
                r = subprocess.run(["spamc", "-U", str(self.sock), "-R", "-x", "-t", "300",
                                    "-s", "67108864"], stdin=fh, capture_output=True)
            out = r.stdout.decode(errors="replace")
            try:
                return f, (float(out.split("\n", 1)[0].split("/")[0]), out)
            except ValueError:
                return f, (None, out)

        return dict(pmap(one, files, parallel))

    def stop(self) -> None:
        stop(self.proc, 20)


# ---------------------------------------------------------------- command line
# Used by tests/bench/scan.sh:
#   peers.py serve-rspamd DIR WORKERS HS_CACHE [TRAINLIST]   start Redis + rspamd,
#       learn the files of TRAINLIST if given (spam: a spam-* folder), write DIR/info
#       (JSON: port, pid), run until SIGTERM, then stop both by PID
#   peers.py check-rspamd INFO FILELIST INFLIGHT OUT   scan every file over /checkv2,
#       INFLIGHT requests in flight; OUT.json (one line per message: file, action,
#       score, ms = client round trip) and OUT.time ("elapsed_s peak_rss_kib" of the
#       normal workers, like GNU time's "%e %M")

def _serve_rspamd(directory: str, workers: str, hs_cache: str, trainlist: str = "") -> int:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    done = []
    signal.signal(signal.SIGTERM, lambda *_: done.append(1))
    signal.signal(signal.SIGINT, lambda *_: done.append(1))
    redis = Redis(d / "redis").start()
    rs = Rspamd(d / "rspamd", redis, int(workers), Path(hs_cache) if hs_cache else None)
    try:
        rs.start()
        rs.wait_hyperscan()
        if trainlist:
            train = [f for f in Path(trainlist).read_text().split("\n") if f]
            spam = [f for f in train if Path(f).parent.name.startswith("spam")]
            ham = [f for f in train if not Path(f).parent.name.startswith("spam")]
            print("rspamd learn spam", rs.learn_many(spam, True, 2),
                  "ham", rs.learn_many(ham, False, 2), flush=True)
        # warm-up: the first messages load maps and Lua state
        warm = sorted(str(p) for p in Path(__file__).resolve().parents[2]
                      .joinpath("state", "corpus", "spam-1").glob("*.eml"))[:20]
        if warm:
            rs.check_many(warm, 1)
        (d / "info.tmp").write_text(json.dumps({"port": rs.port, "pid": rs.proc.pid,
                                                "workers": int(workers)}))
        (d / "info.tmp").rename(d / "info")
        while not done and rs.proc.poll() is None:
            time.sleep(0.2)
    finally:
        rs.stop()
        redis.stop()
    return 0


def _check_rspamd(info: str, filelist: str, inflight: str, out: str) -> int:
    import threading
    meta = json.loads(Path(info).read_text())
    files = Path(filelist).read_text().split("\n")
    files = [f for f in files if f]
    local = threading.local()

    def one(f: str) -> str:
        c = getattr(local, "c", None)
        if c is None:
            c = local.c = http.client.HTTPConnection("127.0.0.1", meta["port"], timeout=300)
        body = Path(f).read_bytes()
        t = time.perf_counter()
        for attempt in range(3):
            try:
                c.request("POST", "/checkv2", body=body)
                r = c.getresponse()
                rep = json.loads(r.read())
                break
            except (OSError, http.client.HTTPException, ValueError):
                c.close()
                c = local.c = http.client.HTTPConnection("127.0.0.1", meta["port"], timeout=300)
                rep = {"action": "error"}
        ms = (time.perf_counter() - t) * 1000
        return json.dumps({"file": f, "action": rep.get("action", "error"),
                           "score": rep.get("score"), "ms": ms})

    t = time.monotonic()
    lines = pmap(one, files, int(inflight))
    elapsed = time.monotonic() - t
    workers = [p for p in children(meta["pid"])
               if "normal" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")]
    rss = max((rss_kib(p) for p in workers), default=0)
    Path(out + ".json").write_text("\n".join(lines) + "\n")
    Path(out + ".time").write_text(f"{elapsed:.2f} {rss}\n")
    return 0


if __name__ == "__main__":
    import sys
    cmds = {"serve-rspamd": _serve_rspamd, "check-rspamd": _check_rspamd}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(f"usage: peers.py {{{'|'.join(cmds)}}} ARGS...")
    sys.exit(cmds[sys.argv[1]](*sys.argv[2:]))
