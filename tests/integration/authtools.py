"""Helpers shared by the DKIM, ARC and DMARC tests: bulwarkctl runs, message files, RSA
keys as a DKIM record and as the PEM dkimpy signs with, and a dkimpy dnsfunc that reads
the same zone dict dnsserver.py serves."""
import base64
import subprocess

from cryptography.hazmat.primitives import serialization

from bulwark_harness import CTL


def run(*args, check=True):
    p = subprocess.run([str(CTL), *map(str, args)], capture_output=True, timeout=120)
    if check and p.returncode not in (0, 1):
        raise AssertionError(f"bulwarkctl {args}: rc={p.returncode}\n{p.stderr.decode()}")
    return p


def write(env, name, data):
    p = env["tmp"] / name
    p.write_bytes(data)
    return p


def rsa_record(private_key):
    der = private_key.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def pem_pkcs1(private_key):
    return private_key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.TraditionalOpenSSL,
                                     serialization.NoEncryption())


def dnsfunc_for(zone):
    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        entries = zone.get(name.rstrip("."), [])
        for e in entries:
            if isinstance(e, dict) and "TXT" in e:
                v = e["TXT"]
                return ("".join(v) if isinstance(v, list) else v).encode()
        return None
    return dnsfunc
