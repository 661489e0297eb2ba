#!/usr/bin/python3
"""The DNS lookups a scan of each corpus message would make, and a zone that answers them.

    dns_replay.py --corpus DIR --count 1000 --replay OUT.txt --zone OUT.zone [--stats OUT.json]

Messages: every file under DIR's folders, sorted by path, taken at an even stride so
that COUNT of them span spam and ham folders alike. Per message (as the SPF, DKIM,
DMARC and block-list checks would ask them, all in one batch):
  - the Return-Path and From domains: TXT (SPF), MX and A; _dmarc.<From domain> TXT
  - each DKIM-Signature: <s>._domainkey.<d> TXT
  - each public IPv4 address in the Received headers: its PTR and <rev>.zen.example A
  - each distinct URL host in the body (the first 20, IP literals skipped): A and
    <host>.uribl.example A
Lookups that depend on an earlier answer (SPF include:, the MX hosts' addresses) are
not replayed: the file is fixed in advance. Names that are not valid host names are
dropped and counted.

The zone (one zone file for ".", served by nsd) answers each name from a hash of it,
so every run is the same: 92% of the message domains exist (the rest NXDOMAIN); of
those, 85% publish SPF, 80% MX, 90% an address, 40% DMARC; DKIM keys exist; 70% of
the IPs have a PTR; 15% of the IPs and 10% of the URL hosts are listed (127.0.0.2),
the others NXDOMAIN, as block lists answer. Positive TTL 300 s, negative 300 s.
"""
import argparse
import email
import email.policy
import email.utils
import hashlib
import ipaddress
import json
import re
import sys
from pathlib import Path

HOST_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)(\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)+$")
IPV4_RE = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")
URL_RE = re.compile(rb"(?i)\bhttps?://([a-z0-9.-]{1,253})")
DKIM_TAG_RE = re.compile(r"(?:^|;)\s*([sd])\s*=\s*([^;\s]+)")


def pct(name, salt=""):
    return int(hashlib.sha1((salt + name).encode()).hexdigest()[:8], 16) % 100


def host(s):
    s = (s or "").strip().strip(".").lower()
    return s if HOST_RE.match(s) else None


def addr_domain(value):
    _, addr = email.utils.parseaddr(value or "")
    return host(addr.rpartition("@")[2]) if "@" in addr else None


def lookups_of(raw):
    """[(type, name)] for one message, in the order a scan submits them."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    out, seen, bad = [], set(), 0

    def add(qtype, name):
        nonlocal bad
        if name is None:
            bad += 1
            return
        if (qtype, name) not in seen:
            seen.add((qtype, name))
            out.append((qtype, name))

    rp = addr_domain(msg.get("Return-Path"))
    frm = addr_domain(msg.get("From"))
    for d in dict.fromkeys(x for x in (rp, frm) if x):
        add("TXT", d)
        add("MX", d)
        add("A", d)
    if frm:
        add("TXT", host("_dmarc." + frm))
    for sig in msg.get_all("DKIM-Signature") or []:
        tags = dict(DKIM_TAG_RE.findall(re.sub(r"\s+", " ", str(sig))))
        if "s" in tags and "d" in tags:
            add("TXT", host(f"{tags['s']}._domainkey.{tags['d']}"))
    for rcv in msg.get_all("Received") or []:
        for ip in IPV4_RE.findall(str(rcv)):
            try:
                a = ipaddress.IPv4Address(ip)
            except ValueError:
                continue
            if not a.is_global:
                continue
            rev = ".".join(reversed(ip.split(".")))
            add("PTR", rev + ".in-addr.arpa")
            add("A", rev + ".zen.example")
    hosts = []
    for m in URL_RE.finditer(raw):
        h = host(m.group(1).decode("ascii", "replace"))
        if not h or h in hosts:
            continue
        try:
            ipaddress.ip_address(h)
            continue
        except ValueError:
            pass
        hosts.append(h)
        if len(hosts) == 20:
            break
    for h in hosts:
        add("A", h)
        add("A", host(h + ".uribl.example"))
    return out, bad


def zone_records(lookups):
    """name -> [(type, rdata)] answering the lookups by the rules in the docstring."""
    rr = {}
    domains = {}
    for qtype, name in lookups:
        if name.endswith(".zen.example"):
            if pct(name) < 15:
                rr.setdefault(name, []).append(("A", "127.0.0.2"))
        elif name.endswith(".uribl.example"):
            if pct(name) < 10:
                rr.setdefault(name, []).append(("A", "127.0.0.2"))
        elif name.endswith(".in-addr.arpa"):
            if pct(name) < 70:
                rr.setdefault(name, []).append(("PTR", f"host-{pct(name, 'p')}.isp.example."))
        elif "._domainkey." in name:
            key = hashlib.sha256(name.encode()).hexdigest() * 6  # ~390 bytes, like RSA-2048
            txt = "v=DKIM1; k=rsa; p=" + key
            rr.setdefault(name, []).append(
                ("TXT", " ".join(f'"{txt[i:i + 255]}"' for i in range(0, len(txt), 255))))
        elif name.startswith("_dmarc."):
            if pct(name[7:]) < 92 and pct(name, "dmarc") < 40:
                rr.setdefault(name, []).append(("TXT", '"v=DMARC1; p=none; rua=mailto:d@x"'))
        else:
            domains.setdefault(name, set()).add(qtype)
    for d, types in domains.items():
        if pct(d) >= 92:
            continue  # the domain does not exist
        recs = rr.setdefault(d, [])
        if "TXT" in types and pct(d, "spf") < 85:
            recs.append(("TXT", '"v=spf1 ip4:192.0.2.0/24 mx -all"'))
        if "MX" in types and pct(d, "mx") < 80:
            recs.append(("MX", f"10 mx.{d}."))
        if pct(d, "a") < 90:
            recs.append(("A", f"192.0.2.{pct(d, 'ip') + 1}"))
    return rr


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--replay", required=True)
    ap.add_argument("--zone", required=True)
    ap.add_argument("--stats")
    a = ap.parse_args()
    files = sorted(p for p in Path(a.corpus).glob("*/*") if p.is_file())
    if len(files) < a.count:
        sys.exit(f"dns_replay.py: {a.corpus} has {len(files)} messages, {a.count} wanted")
    step = len(files) / a.count
    chosen = [files[int(i * step)] for i in range(a.count)]
    all_lookups, per_msg, dropped = [], [], 0
    with open(a.replay, "w") as out:
        for i, f in enumerate(chosen):
            lk, bad = lookups_of(f.read_bytes())
            dropped += bad
            per_msg.append(len(lk))
            for qtype, name in lk:
                out.write(f"m{i} {qtype} {name}\n")
            all_lookups.extend(lk)
    rr = zone_records(all_lookups)
    with open(a.zone, "w") as z:
        z.write("$TTL 300\n. 300 IN SOA ns.bench. hostmaster.bench. 1 3600 600 86400 300\n"
                ". 300 IN NS ns.bench.\nns.bench. 300 IN A 127.0.0.1\n")
        for name in sorted(rr):
            for qtype, rdata in rr[name]:
                z.write(f"{name}. IN {qtype} {rdata}\n")
    kinds = {}
    for qtype, name in all_lookups:
        k = ("rbl" if name.endswith(".zen.example") else "uribl" if name.endswith(".uribl.example")
             else "ptr" if qtype == "PTR" else "dkim" if "._domainkey." in name
             else "dmarc" if name.startswith("_dmarc.") else f"domain {qtype}")
        kinds[k] = kinds.get(k, 0) + 1
    stats = {"messages": len(chosen), "lookups": len(all_lookups),
             "distinct": len(set(all_lookups)), "names_dropped": dropped,
             "max_per_message": max(per_msg), "by_kind": kinds,
             "zone_names": len(rr)}
    if a.stats:
        Path(a.stats).write_text(json.dumps(stats, indent=1) + "\n")
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
