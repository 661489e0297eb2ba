#!/usr/bin/python3
"""A scriptable authoritative DNS server for tests (python3-dnslib), UDP and TCP on loopback.

It answers every name from one zone given as JSON (a file, or a dict through the Python
API): it is authoritative for the whole tree, so point a resolver's forwarder at it.
Run it with /usr/bin/python3 (Debian's python3-dnslib).

Zone format: a JSON object mapping names (any case, trailing dot optional; stored lower
case) to a list of entries, in order:

    {
      "$negative_ttl": 60,
      "mail.example.com":  [{"A": "192.0.2.1"}, {"AAAA": "2001:db8::1", "ttl": 60}],
      "example.com":       [{"MX": [10, "mail.example.com"]}, {"NS": "ns.example.com"},
                            {"TXT": "v=spf1 mx -all"}, {"SPF": "v=spf1 mx -all"}],
      "k._domainkey.example.com": [{"TXT": ["v=DKIM1; k=rsa; p=MIIB", "IjANBgkq"]}],
      "1.2.0.192.in-addr.arpa":   [{"PTR": "mail.example.com"}],
      "www.example.com":   [{"CNAME": "mail.example.com"}],
      "odd.example.com":   [{"TXT": [{"hex": "80ff00"}, "text"]}],
      "slow.example.com":  [{"DELAY": 300}, {"A": "192.0.2.9"}],
      "dead.example.com":  ["TIMEOUT"],
      "half.example.com":  [{"TXT": "answered"}, "TIMEOUT"],
      "notxt.example.com": [{"A": "192.0.2.7"}, {"TXT": "TIMEOUT"}]
    }

Entries:
  {"A": "IPv4"}, {"AAAA": "IPv6"}, {"MX": [pref, "host"]} (host "" or "." is a null MX),
  {"PTR": "name"}, {"NS": "name"}, {"CNAME": "name"},
  {"TXT": value}, {"SPF": value} (type 99): value is a string (one character-string) or a
      list of them (ONE record with several character-strings). [] is sent as one empty
      character-string: a record with no strings at all is not valid DNS, and resolvers
      (unbound) answer SERVFAIL for it; for SPF both read as "".
      A string is sent as its UTF-8 bytes; {"hex": "..."} sends exact bytes. A string over
      255 bytes is cut into 255-byte character-strings, as a zone file would have to.
  "ttl": seconds, in any record entry (default 300).
  "TIMEOUT": queries for this name are never answered, except for the types that have a
      record listed BEFORE the TIMEOUT entry (the SPF test suite's rule: ["TIMEOUT"] alone
      silences the name, [{"TXT": ...}, "TIMEOUT"] answers TXT and drops the rest).
  {"TYPE": "TIMEOUT"}: queries of that type for this name are never answered.
  {"DELAY": ms}: every answer for this name is sent after that many milliseconds.

Answers: records of the asked type (AA set); a CNAME at the name is returned with the
records it leads to inside the zone (chains followed, loops stopped); a name that is
not in the zone is NXDOMAIN; a name in the zone without the type, or an empty
non-terminal (a name with a longer name below it), is NODATA. Negative answers carry
an SOA whose TTL and MINIMUM are "$negative_ttl" (default 60), owned by the name's
last two labels ("$origin" overrides when the name is below it), so a resolver caches
them for that long. UDP answers longer than the query's EDNS size (512 without EDNS)
are truncated (TC) and the resolver retries over TCP.

Zone helpers: zone_from_spf(zonedata) turns an RFC 7208 test suite scenario's
`zonedata` (the YAML as loaded) into this format with pyspf's rules (SPF records are
also served as TXT unless the name has a TXT entry; "TXT: NONE" is no record).

Command line:
    /usr/bin/python3 dnsserver.py ZONE.json [--port 0] [--port-file F] [--log F]
prints "port N" when it listens (--port 0 picks a free port, also written to
--port-file); --log appends one JSON line {"name", "type", "proto"} per query; SIGHUP
re-reads the zone file; SIGTERM/SIGINT stop it.

Python API:
    srv = DNSServer(zone_dict)             # or DNSServer.from_file(path)
    srv.start()                            # threads in this process; srv.port
    srv.set_zone({...}); srv.queries()     # [(name, type)], e.g. ("example.com", "TXT")
    srv.clear_queries(); srv.stop()
    with DNSServer(zone) as srv: ...
    p = DNSServerProcess(zone_dict, workdir)   # the same, as a subprocess
"""
import argparse
import ipaddress
import json
import os
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

from dnslib import AAAA, CNAME, MX, NS, PTR, QTYPE, RCODE, RR, SOA, TXT, A, DNSRecord, EDNS0

DEFAULT_TTL = 300
DEFAULT_NEGATIVE_TTL = 60
TYPES = {"A": 1, "NS": 2, "CNAME": 5, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28, "SPF": 99}
MAX_CNAME_CHAIN = 8


def _norm(name):
    name = str(name).strip().lower()
    return name[:-1] if name.endswith(".") and name != "." else name


def _owner(name):
    """A zone key in the form dnslib gives query names: bytes outside 0x21-0x7E of a
    label as \\DDD (a space in a name, as SPF's %_ macro makes, is \\032)."""
    raw = _norm(name).encode("utf-8")
    return "".join(chr(c) if 33 <= c <= 126 else "\\%03d" % c for c in raw)


def _strings(value):
    """A TXT/SPF value as a list of byte strings, each at most 255 bytes."""
    items = value if isinstance(value, list) else [value]
    if not items:
        return [b""]
    out = []
    for item in items:
        if isinstance(item, dict) and "hex" in item:
            raw = bytes.fromhex(item["hex"])
        elif isinstance(item, (bytes, bytearray)):
            raw = bytes(item)
        else:
            raw = str(item).encode("utf-8")
        if not raw:
            out.append(b"")
        for i in range(0, len(raw), 255):
            out.append(raw[i:i + 255])
    return out


class _Record:
    __slots__ = ("rtype", "ttl", "rdata", "timeout")

    def __init__(self, rtype, ttl, rdata, timeout=False):
        self.rtype, self.ttl, self.rdata, self.timeout = rtype, ttl, rdata, timeout


class _Name:
    """One owner name: its records in order, where TIMEOUT falls, its delay."""

    def __init__(self):
        self.records = []
        self.timeout_at = None  # index into records of a bare TIMEOUT entry
        self.delay_ms = 0


def _rdata(tname, value):
    if tname == "A":
        return A(str(ipaddress.IPv4Address(value)))
    if tname == "AAAA":
        return AAAA(str(ipaddress.IPv6Address(value)))
    if tname == "MX":
        pref, host = value
        host = _norm(host)
        return MX(host if host not in ("", ".") else ".", int(pref))
    if tname == "PTR":
        return PTR(_norm(value))
    if tname == "NS":
        return NS(_norm(value))
    if tname == "CNAME":
        return CNAME(_norm(value))
    if tname in ("TXT", "SPF"):
        return TXT(_strings(value))
    raise ValueError(f"unknown record type {tname}")


class Zone:
    """A parsed zone; raises ValueError with the name at fault on a bad entry."""

    def __init__(self, data):
        if not isinstance(data, dict):
            raise ValueError("a zone is a JSON object of name -> list of entries")
        self.negative_ttl = int(data.get("$negative_ttl", DEFAULT_NEGATIVE_TTL))
        self.origin = _norm(data["$origin"]) if "$origin" in data else None
        self.names = {}
        self.ents = set()
        for key, entries in data.items():
            if key.startswith("$"):
                continue
            name = _owner(key)
            try:
                self.names[name] = self._parse(entries)
            except (ValueError, TypeError, KeyError) as e:
                raise ValueError(f"zone name {key!r}: {e}") from e
        for name in self.names:
            labels = name.split(".")
            for i in range(1, len(labels)):
                parent = ".".join(labels[i:])
                if parent not in self.names:
                    self.ents.add(parent)

    @staticmethod
    def _parse(entries):
        if not isinstance(entries, list):
            raise ValueError("entries must be a list")
        n = _Name()
        for e in entries:
            if e == "TIMEOUT":
                if n.timeout_at is None:
                    n.timeout_at = len(n.records)
                continue
            if not isinstance(e, dict):
                raise ValueError(f"bad entry {e!r}")
            ttl = int(e.get("ttl", DEFAULT_TTL))
            for tname, value in e.items():
                if tname == "ttl":
                    continue
                if tname == "DELAY":
                    n.delay_ms = int(value)
                    continue
                if tname not in TYPES:
                    raise ValueError(f"unknown record type {tname}")
                if value == "TIMEOUT":
                    n.records.append(_Record(TYPES[tname], ttl, None, timeout=True))
                    continue
                n.records.append(_Record(TYPES[tname], ttl, _rdata(tname, value)))
        return n

    def soa_owner(self, qname):
        if self.origin and (qname == self.origin or qname.endswith("." + self.origin)):
            return self.origin
        labels = qname.split(".")
        return ".".join(labels[-2:]) if len(labels) > 2 else qname

    def silent(self, name, qtype):
        """True when a query (name, qtype) must not be answered at all."""
        n = self.names.get(name)
        if not n:
            return False
        for i, r in enumerate(n.records):
            if n.timeout_at is not None and i >= n.timeout_at:
                break
            if r.rtype == qtype or qtype == 255:
                return r.timeout
        if any(r.rtype == qtype and r.timeout for r in n.records):
            return True
        return n.timeout_at is not None

    def delay_ms(self, name):
        n = self.names.get(name)
        return n.delay_ms if n else 0


def zone_from_spf(zonedata):
    """An RFC 7208/4408 test suite `zonedata` mapping in this server's format (pyspf rules)."""
    out = {}
    for name, entries in zonedata.items():
        res, generated, gen = [], [], True
        for e in entries:
            if e == "TIMEOUT":
                res.append("TIMEOUT")
                continue
            for t, v in e.items():
                if t == "TXT":
                    gen = False
                elif t == "SPF" and gen:
                    generated.append({"TXT": v})
                if v == "NONE" or v == ["NONE"]:
                    continue
                res.append({t: v})
        if gen:
            res.extend(generated)
        out[str(name).lower()] = res
    return out


class DNSServer:
    """The server in this process: one UDP and one TCP listener on the same port."""

    def __init__(self, zone=None, port=0, host="127.0.0.1"):
        self.host = host
        self.port = port
        self._zone = Zone(zone or {})
        self._lock = threading.Lock()
        self._log = []
        self._log_file = None
        self._servers = []
        self._threads = []

    @classmethod
    def from_file(cls, path, **kw):
        return cls(json.loads(Path(path).read_text()), **kw)

    # -- API ---------------------------------------------------------------------------

    def set_zone(self, zone):
        z = Zone(zone)
        with self._lock:
            self._zone = z

    def queries(self):
        """Every query received so far, in order: (name lower case, type name)."""
        with self._lock:
            return [(n, t) for n, t, _ in self._log]

    def clear_queries(self):
        with self._lock:
            self._log.clear()

    def start(self):
        udp_cls = type("UDP", (socketserver.ThreadingMixIn, socketserver.UDPServer),
                       {"daemon_threads": True, "allow_reuse_address": True})
        tcp_cls = type("TCP", (socketserver.ThreadingMixIn, socketserver.TCPServer),
                       {"daemon_threads": True, "allow_reuse_address": True})
        server = self
        for attempt in range(20):
            udp = udp_cls((self.host, self.port), _UDPHandler, bind_and_activate=True)
            port = udp.server_address[1]
            try:
                tcp = tcp_cls((self.host, port), _TCPHandler, bind_and_activate=True)
            except OSError:
                udp.server_close()
                if self.port:
                    raise
                continue
            break
        else:
            raise OSError("no port free for both UDP and TCP")
        self.port = port
        for s in (udp, tcp):
            s.dns = server
            t = threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05},
                                 daemon=True)
            t.start()
            self._servers.append(s)
            self._threads.append(t)
        return self

    def stop(self):
        for s in self._servers:
            s.shutdown()
            s.server_close()
        for t in self._threads:
            t.join(5)
        self._servers.clear()
        self._threads.clear()
        if self._log_file:
            self._log_file.close()
            self._log_file = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- answering ---------------------------------------------------------------------

    def _note(self, name, qtype, proto):
        tname = QTYPE.get(qtype, str(qtype))
        with self._lock:
            self._log.append((name, tname, proto))
            if self._log_file:
                self._log_file.write(json.dumps({"name": name, "type": tname, "proto": proto})
                                     + "\n")
                self._log_file.flush()

    def answer(self, data, proto):
        """The reply to one query packet (bytes), or None to stay silent."""
        try:
            req = DNSRecord.parse(data)
        except Exception:  # noqa: BLE001 - any unparsable packet is dropped
            return None
        if req.header.qr or not req.questions:
            return None
        q = req.questions[0]
        qname = _norm(str(q.qname))
        qtype = q.qtype
        self._note(qname, qtype, proto)
        with self._lock:
            zone = self._zone
        if zone.silent(qname, qtype):
            return None
        delay = zone.delay_ms(qname)
        if delay:
            time.sleep(delay / 1000)
        reply = req.reply(ra=1, aa=1)
        if req.header.opcode != 0 or q.qclass != 1:
            reply.header.rcode = RCODE.NOTIMP if req.header.opcode else RCODE.REFUSED
            return self._pack(req, reply, proto)
        try:
            self._fill(zone, reply, qname, qtype)
            return self._pack(req, reply, proto)
        except Exception as e:  # noqa: BLE001 - a record dnslib cannot pack (label > 63...)
            print(f"dnsserver: {qname} {qtype}: cannot answer: {e}", file=sys.stderr, flush=True)
            reply = req.reply(ra=1, aa=1)
            reply.header.rcode = RCODE.SERVFAIL
            return reply.pack()

    def _fill(self, zone, reply, qname, qtype):
        name, seen = qname, set()
        for _ in range(MAX_CNAME_CHAIN + 1):
            n = zone.names.get(name)
            if n is None:
                if name == qname:
                    if name in zone.ents:
                        break  # NODATA
                    reply.header.rcode = RCODE.NXDOMAIN
                break  # a CNAME out of the zone or to nothing: the chain so far
            recs = [r for r in n.records if not r.timeout]
            match = [r for r in recs if r.rtype == qtype or qtype == 255]
            cname = [r for r in recs if r.rtype == 5]
            if match or not cname or qtype == 5:
                for r in match:
                    reply.add_answer(RR(name, r.rtype, ttl=r.ttl, rdata=r.rdata))
                break
            c = cname[0]
            reply.add_answer(RR(name, 5, ttl=c.ttl, rdata=c.rdata))
            seen.add(name)
            name = _norm(str(c.rdata.label))
            if name in seen:
                break  # a loop: what we have, the resolver sees the loop
        if not reply.rr:
            owner = zone.soa_owner(qname)
            neg = zone.negative_ttl
            reply.add_auth(RR(owner, QTYPE.SOA, ttl=neg,
                              rdata=SOA("ns." + owner, "hostmaster." + owner,
                                        (1, 3600, 600, 86400, neg))))

    @staticmethod
    def _pack(req, reply, proto):
        edns = [r for r in req.ar if r.rtype == QTYPE.OPT]
        limit = 512
        if edns:
            limit = max(512, min(edns[0].edns_len, 4096))
            reply.add_ar(EDNS0(udp_len=1232))
        out = reply.pack()
        if proto == "udp" and len(out) > limit:
            reply.rr, reply.auth = [], []
            reply.header.tc = 1
            out = reply.pack()
        return out


class _UDPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        out = self.server.dns.answer(data, "udp")
        if out is not None:
            sock.sendto(out, self.client_address)


class _TCPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        sock.settimeout(10)
        try:
            while True:
                head = _recv_exact(sock, 2)
                if not head:
                    return
                data = _recv_exact(sock, struct.unpack("!H", head)[0])
                if data is None:
                    return
                out = self.server.dns.answer(data, "tcp")
                if out is not None:
                    sock.sendall(struct.pack("!H", len(out)) + out)
        except OSError:
            return


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


class DNSServerProcess:
    """The same server as a subprocess (its own interpreter, so it never shares the GIL
    with the test); queries() reads its log file, set_zone() rewrites the zone and
    sends SIGHUP. Stopped by its PID."""

    def __init__(self, zone, workdir, port=0):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.zone_path = self.dir / "zone.json"
        self.log_path = self.dir / "queries.jsonl"
        self.port_path = self.dir / "port"
        self.zone_path.write_text(json.dumps(zone))
        self.want_port = port
        self.proc = None
        self.port = None

    def start(self, timeout=10):
        for p in (self.log_path, self.port_path):
            if p.exists():
                p.unlink()
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", __file__,
             str(self.zone_path), "--port", str(self.want_port), "--port-file",
             str(self.port_path), "--log", str(self.log_path)],
            stdout=subprocess.DEVNULL, stderr=open(self.dir / "dnsserver.err", "ab"))
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.port_path.exists() and self.port_path.read_text().strip():
                self.port = int(self.port_path.read_text())
                return self
            if self.proc.poll() is not None:
                raise RuntimeError("dnsserver.py exited: "
                                   + (self.dir / "dnsserver.err").read_text()[-2000:])
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("dnsserver.py did not start")

    def set_zone(self, zone):
        tmp = self.zone_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(zone))
        os.replace(tmp, self.zone_path)
        mark = self.dir / "reloaded"
        if mark.exists():
            mark.unlink()
        os.kill(self.proc.pid, signal.SIGHUP)
        end = time.monotonic() + 5
        while not mark.exists() and time.monotonic() < end:
            time.sleep(0.01)

    def queries(self):
        if not self.log_path.exists():
            return []
        out = []
        for line in self.log_path.read_text().splitlines():
            if line.strip():
                d = json.loads(line)
                out.append((d["name"], d["type"]))
        return out

    def clear_queries(self):
        self.log_path.write_text("")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("zone", help="zone file (JSON, see the module docstring)")
    ap.add_argument("--port", type=int, default=0, help="port (0: a free one)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--log", help="append one JSON line per query to this file")
    args = ap.parse_args()
    try:
        srv = DNSServer.from_file(args.zone, port=args.port, host=args.host)
    except (OSError, ValueError) as e:
        print(f"dnsserver: {args.zone}: {e}", file=sys.stderr)
        return 2
    if args.log:
        srv._log_file = open(args.log, "a")
    srv.start()
    stop = threading.Event()

    def reload(*_):
        try:
            srv.set_zone(json.loads(Path(args.zone).read_text()))
            print(f"dnsserver: reloaded {args.zone}", file=sys.stderr, flush=True)
        except (OSError, ValueError) as e:
            print(f"dnsserver: reload refused, zone kept: {e}", file=sys.stderr, flush=True)
        Path(args.zone).with_name("reloaded").write_text("1")

    signal.signal(signal.SIGHUP, reload)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.port_file:
        tmp = args.port_file + ".tmp"
        Path(tmp).write_text(str(srv.port))
        os.replace(tmp, args.port_file)
    print(f"port {srv.port}", flush=True)
    while not stop.wait(0.2):
        pass
    srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
