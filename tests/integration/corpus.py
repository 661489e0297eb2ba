"""corpus.py - the content-scanning test corpus, built at test time.

Every sample is made here from first principles (no binary fixtures): the EICAR test
string (assembled from two halves so this file is not itself a detection), archives
with Python's zipfile, `zip -P` (encrypted) and `7z`, OLE2 compound files with VBA
macros (a small CFB writer and an MS-OVBA compressor of literal-only chunks), OOXML
.docm, PDFs with JavaScript, MIME bombs and broken MIME, and a clean HTML newsletter.

build(dir) writes the .eml files and returns {name: Sample}; each Sample says which
action and symbols `bulwarkctl scan --local --json` must give. write_signatures(dir)
writes the ClamAV database the tests load (EICAR by content, one file by MD5).
"""
import base64
import hashlib
import io
import struct
import subprocess
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
# A file the signature database knows by hash only (no content pattern).
HASHED = b"Bulwark hash-signature test payload\n" * 10


@dataclass
class Sample:
    name: str
    action: object  # the action expected, or a tuple of acceptable ones
    symbols: list = field(default_factory=list)  # must all be present
    absent: list = field(default_factory=list)  # must not be present (prefixes end with '_')
    max_score: float = None  # for clean mail


def write_signatures(d: Path):
    """ClamAV signature database: .ndb (body pattern) and .hdb (MD5:size:name)."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "bulwark-test.ndb").write_text(f"Bulwark.Test.EICAR:0:*:{EICAR.hex()}\n")
    (d / "bulwark-test.hdb").write_text(
        f"{hashlib.md5(HASHED).hexdigest()}:{len(HASHED)}:Bulwark.Test.Hash\n")
    return d


# ---- executables ------------------------------------------------------------------

def pe_image(size=1024):
    """A minimal PE32 image (DOS header, PE signature, COFF and optional header)."""
    b = bytearray(size)
    b[0:2] = b"MZ"
    struct.pack_into("<I", b, 0x3C, 0x80)
    b[0x80:0x84] = b"PE\0\0"
    struct.pack_into("<HH", b, 0x84, 0x14C, 1)  # i386, one section
    struct.pack_into("<HH", b, 0x94, 0xE0, 0x0102)  # optional header size, characteristics
    struct.pack_into("<H", b, 0x98, 0x10B)  # PE32
    return bytes(b)


# ---- OLE2 compound files (MS-CFB) ----------------------------------------------------

def ovba_compress(data: bytes) -> bytes:
    """MS-OVBA compression using literal tokens only: valid, just not smaller."""
    out = bytearray(b"\x01")
    for c in range(0, max(len(data), 1), 4096):
        chunk = data[c:c + 4096]
        body = bytearray()
        for i in range(0, len(chunk), 8):
            body.append(0)  # flag byte: eight literals
            body += chunk[i:i + 8]
        hdr = 0xB000 | (len(body) + 2 - 3)  # compressed chunk, size - 3
        out += struct.pack("<H", hdr) + body
    return bytes(out)


def vba_dir_stream(modules):
    """The decompressed 'dir' stream (MS-OVBA 2.3.4.2) for modules [(name, offset)]."""
    def rec(rid, payload):
        return struct.pack("<HI", rid, len(payload)) + payload

    d = bytearray()
    d += rec(0x0001, struct.pack("<I", 1))  # PROJECTSYSKIND: win32
    d += rec(0x0002, struct.pack("<I", 0x409))  # LCID
    d += rec(0x0014, struct.pack("<I", 0x409))  # LCIDINVOKE
    d += rec(0x0003, struct.pack("<H", 1252))  # CODEPAGE
    d += rec(0x0004, b"VBAProject")  # NAME
    d += rec(0x0005, b"") + rec(0x0040, b"")  # DOCSTRING (+ unicode)
    d += rec(0x0006, b"") + rec(0x003D, b"")  # HELPFILEPATH 1 and 2
    d += rec(0x0007, struct.pack("<I", 0))  # HELPCONTEXT
    d += rec(0x0008, struct.pack("<I", 0))  # LIBFLAGS
    d += struct.pack("<HIIH", 0x0009, 4, 1, 0)  # VERSION (size 4, then major/minor)
    d += rec(0x000C, b"") + rec(0x003C, b"")  # CONSTANTS
    d += struct.pack("<HIH", 0x000F, 2, len(modules))  # PROJECTMODULES
    d += struct.pack("<HIH", 0x0013, 2, 0xFFFF)  # PROJECTCOOKIE
    for name, offset in modules:
        n = name.encode()
        d += rec(0x0019, n)  # MODULENAME
        d += rec(0x0047, name.encode("utf-16-le"))  # MODULENAMEUNICODE
        d += rec(0x001A, n) + rec(0x0032, name.encode("utf-16-le"))  # STREAMNAME
        d += rec(0x001C, b"") + rec(0x0048, b"")  # DOCSTRING
        d += rec(0x0031, struct.pack("<I", offset))  # MODULEOFFSET
        d += rec(0x001E, struct.pack("<I", 0))  # HELPCONTEXT
        d += struct.pack("<HIH", 0x002C, 2, 0xFFFF)  # COOKIE
        d += struct.pack("<HI", 0x0021, 0)  # MODULETYPE procedural
        d += struct.pack("<HI", 0x002B, 0)  # module terminator
    d += struct.pack("<HI", 0x0010, 0)  # dir terminator
    return bytes(d)


def vba_storage(source: str, module="Module1"):
    """Streams of a VBA project storage: {'dir', module, '_VBA_PROJECT'}."""
    cache = b"\x00" * 16  # performance cache before the source (MODULEOFFSET skips it)
    return {
        "_VBA_PROJECT": b"\xcc\x61\xff\xff\x00\x00\x00",
        "dir": ovba_compress(vba_dir_stream([(module, len(cache))])),
        module: cache + ovba_compress(source.encode()),
    }


class _Cfb:
    """A compound file writer: version 3, 512-byte sectors, small streams in the mini
    stream (64-byte sectors) as the format requires."""
    FREE, EOC, FATSECT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD

    def __init__(self, tree):
        self.entries = []  # [name, type, children(list of idx), data]
        self._add("Root Entry", 5, tree)

    def _add(self, name, typ, content):
        idx = len(self.entries)
        self.entries.append([name, typ, [], None])
        if isinstance(content, dict):
            for k, v in content.items():
                self.entries[idx][2].append(self._add(k, 1 if isinstance(v, dict) else 2, v))
        else:
            self.entries[idx][3] = content
        return idx

    def build(self):
        mini, minifat = bytearray(), []
        big = []  # (entry idx, data)
        starts = {}
        for i, e in enumerate(self.entries):
            if e[1] != 2:
                continue
            data = e[3]
            if len(data) < 4096:
                first = len(minifat)
                n = max(1, (len(data) + 63) // 64)
                for k in range(n):
                    minifat.append(first + k + 1 if k < n - 1 else self.EOC)
                mini += data.ljust(n * 64, b"\0")
                starts[i] = first if data else self.EOC
            else:
                big.append((i, data))
        sectors = []  # list of (bytes, chain_next) built below
        fat = []

        def alloc(data):
            n = max(1, (len(data) + 511) // 512)
            first = len(fat)
            for k in range(n):
                fat.append(first + k + 1 if k < n - 1 else self.EOC)
                sectors.append(data[k * 512:(k + 1) * 512].ljust(512, b"\0"))
            return first

        # reserve FAT sectors later; compute layout with the FAT first
        body = []
        for i, data in big:
            body.append((i, data))
        ministream_start = alloc(bytes(mini)) if mini else self.EOC
        minifat_bytes = b"".join(struct.pack("<I", x) for x in minifat)
        minifat_start = alloc(minifat_bytes) if minifat else self.EOC
        for i, data in body:
            starts[i] = alloc(data)
        self.entries[0][3] = bytes(mini)
        starts[0] = ministream_start
        dir_bytes = self._directory(starts)
        dir_start = alloc(dir_bytes)
        # FAT sectors at the end; each holds 128 entries, including themselves
        nfat = 1
        while (len(fat) + nfat) > nfat * 128:
            nfat += 1
        fat_first = len(fat)
        fat += [self.FATSECT] * nfat
        fat += [self.FREE] * (nfat * 128 - len(fat))
        fat_bytes = b"".join(struct.pack("<I", x) for x in fat)
        for k in range(nfat):
            sectors.append(fat_bytes[k * 512:(k + 1) * 512])
        difat = [fat_first + k for k in range(nfat)] + [self.FREE] * (109 - nfat)
        hdr = struct.pack("<8s16sHHHHH6sIIIIIIIII",
                          bytes.fromhex("D0CF11E0A1B11AE1"), b"\0" * 16, 0x3E, 3, 0xFFFE, 9, 6,
                          b"\0" * 6, 0, nfat, dir_start, 0, 4096, minifat_start,
                          len(minifat_bytes) // 512 + (1 if len(minifat_bytes) % 512 else 0),
                          self.EOC, 0)
        hdr += b"".join(struct.pack("<I", x) for x in difat)
        assert len(hdr) == 512
        return hdr + b"".join(sectors)

    def _directory(self, starts):
        # siblings of each storage: a chain of right links, sorted as CFB compares names
        left = {i: self.FREE for i in range(len(self.entries))}
        right = dict(left)
        child = dict(left)
        for i, e in enumerate(self.entries):
            kids = sorted(e[2], key=lambda k: (len(self.entries[k][0]),
                                               self.entries[k][0].upper()))
            if kids:
                child[i] = kids[0]
                for a, b in zip(kids, kids[1:]):
                    right[a] = b
        out = bytearray()
        for i, (name, typ, _, data) in enumerate(self.entries):
            nm = name.encode("utf-16-le") + b"\0\0"
            size = len(data) if data is not None else 0
            start = starts.get(i, 0) if typ != 1 else 0
            out += struct.pack("<64sHBBIII16sIQQIQ", nm, len(nm), typ, 1, left[i], right[i],
                               child[i], b"\0" * 16, 0, 0, 0,
                               start if size or typ == 5 else self.EOC, size)
        while len(out) % 512:
            out += struct.pack("<64sHBBIII16sIQQIQ", b"", 0, 0, 0, self.FREE, self.FREE,
                               self.FREE, b"\0" * 16, 0, 0, 0, 0, 0)
        return bytes(out)


def ole2(tree) -> bytes:
    return _Cfb(tree).build()


MACRO_SOURCE = ('Attribute VB_Name = "Module1"\r\n'
                'Sub AutoOpen()\r\n'
                '    Dim s\r\n'
                '    Set s = CreateObject("WScript.Shell")\r\n'
                '    s.Run "powershell -enc AAAA"\r\n'
                'End Sub\r\n')
XLS_MACRO_SOURCE = MACRO_SOURCE.replace("AutoOpen", "Workbook_Open")


def xls_with_macro() -> bytes:
    workbook = b"\x09\x08\x10\x00\x00\x06\x05\x00" + b"\0" * 4200  # BOF record, then padding
    return ole2({
        "Workbook": workbook,
        "_VBA_PROJECT_CUR": {
            "PROJECT": b'ID="{00000000-0000-0000-0000-000000000000}"\r\nModule=Module1\r\n',
            "VBA": vba_storage(XLS_MACRO_SOURCE),
        },
    })


def docm_with_macro() -> bytes:
    vba_bin = ole2({"PROJECT": b"Module=Module1\r\n", "VBA": vba_storage(MACRO_SOURCE)})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/content-types"><Override PartName="/word/document.xml" '
                   'ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/>'
                   '<Default Extension="bin" ContentType="application/vnd.ms-office.'
                   'vbaProject"/></Types>')
        z.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships/>')
        z.writestr("word/document.xml",
                   '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org'
                   '/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Invoice</w:t></w:r>'
                   '</w:p></w:body></w:document>')
        z.writestr("word/vbaProject.bin", vba_bin)
    return buf.getvalue()


def pdf(objects) -> bytes:
    """A PDF with a correct xref table from object bodies (1-based numbering)."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offs = []
    for i, body in enumerate(objects, 1):
        offs.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for o in offs:
        out += b"%010d 00000 n \n" % o
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def pdf_with_javascript() -> bytes:
    return pdf([b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
                b"<< /S /JavaScript /JS (app.alert\\('invoice'\\); this.exportDataObject\\({cName:"
                b" 'a', nLaunch: 2}\\);) >>"])


def pdf_clean() -> bytes:
    content = b"BT /F1 12 Tf 72 720 Td (Quarterly report) Tj ET"
    return pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
                b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(zlib.compress(content))
                + zlib.compress(content) + b"\nendstream"])


# ---- archives ---------------------------------------------------------------------

def zip_bytes(members, compression=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in members:
            z.writestr(name, data)
    return buf.getvalue()


def seven_zip(tmp: Path, members) -> bytes:
    d = tmp / "7z-src"
    d.mkdir(parents=True, exist_ok=True)
    for name, data in members:
        (d / name).write_bytes(data)
    out = tmp / "out.7z"
    out.unlink(missing_ok=True)
    subprocess.run(["7z", "a", "-bd", "-y", str(out)] + [name for name, _ in members], cwd=d,
                   check=True, stdout=subprocess.DEVNULL)
    return out.read_bytes()


def encrypted_zip(tmp: Path, members, password) -> bytes:
    d = tmp / "zip-src"
    d.mkdir(parents=True, exist_ok=True)
    for name, data in members:
        (d / name).write_bytes(data)
    out = tmp / "enc.zip"
    out.unlink(missing_ok=True)
    subprocess.run(["zip", "-q", "-P", password, str(out)] + [name for name, _ in members],
                   cwd=d, check=True)
    return out.read_bytes()


# ---- messages ---------------------------------------------------------------------

HEAD = ("From: Accounts <accounts@example.com>\r\nTo: user@example.org\r\n"
        "Date: Tue, 24 Nov 2026 08:00:00 +0000\r\nMessage-ID: <{mid}@example.com>\r\n"
        "Subject: {subject}\r\nMIME-Version: 1.0\r\n")


def mime(subject, text, attachments=(), mid=None):
    """multipart/mixed with a text part and base64 attachments [(name, type, bytes)]."""
    mid = mid or hashlib.md5(subject.encode()).hexdigest()[:12]
    m = HEAD.format(mid=mid, subject=subject)
    m += 'Content-Type: multipart/mixed; boundary="=_b1"\r\n\r\n'
    m += "--=_b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n"
    for name, ctype, data in attachments:
        b64 = base64.encodebytes(data).decode().replace("\n", "\r\n")
        m += (f"--=_b1\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: base64\r\n"
              f"Content-Disposition: attachment; filename=\"{name}\"\r\n\r\n{b64}")
    m += "--=_b1--\r\n"
    return m.encode("utf-8")


def rfc2231_attachment(subject, name_utf8, ctype, data):
    """An attachment whose name is given RFC 2231-encoded (for non-ASCII names)."""
    from urllib.parse import quote
    m = HEAD.format(mid="rtlo", subject=subject)
    m += 'Content-Type: multipart/mixed; boundary="=_b1"\r\n\r\n'
    m += "--=_b1\r\nContent-Type: text/plain\r\n\r\nPlease see the invoice.\r\n"
    b64 = base64.encodebytes(data).decode().replace("\n", "\r\n")
    m += (f"--=_b1\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: base64\r\n"
          f"Content-Disposition: attachment; filename*=utf-8''{quote(name_utf8)}\r\n\r\n{b64}"
          "--=_b1--\r\n")
    return m.encode()


def many_parts(n=2000):
    m = HEAD.format(mid="parts", subject="many parts")
    m += 'Content-Type: multipart/mixed; boundary="p"\r\n\r\n'
    for i in range(n):
        m += f"--p\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n"
    m += "--p--\r\n"
    return m.encode()


def broken_boundaries():
    m = HEAD.format(mid="broken", subject="broken boundaries")
    m += 'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n'
    m += "--outer\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n"
    m += "--inner\r\nContent-Type: text/plain\r\n\r\nplain text\r\n"
    m += "--innr\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n"  # misspelt boundary
    m += "--outer\r\nContent-Type: application/octet-stream\r\n"
    m += "Content-Transfer-Encoding: base64\r\n\r\nQUJD!!!RE\r\n"  # bad base64
    # no closing boundaries at all
    return m.encode()


def wrong_charsets():
    m = HEAD.format(mid="charset", subject="=?us-ascii?Q?charsets?=")
    m += 'Content-Type: multipart/alternative; boundary="c"\r\n\r\n'
    m += "--c\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 8bit"
    m += "\r\n\r\n"
    body1 = ("Привет, это сообщение в кодировке windows-1251, объявленной как ASCII. "
             "Здесь довольно много текста, чтобы определить кодировку.\r\n").encode("cp1251")
    m = m.encode() + body1
    m += b"--c\r\nContent-Type: text/plain; charset=x-unknown-charset\r\n\r\n"
    m += "こんにちは、これは文字コードが不明なメッセージです。日本語のテキスト。\r\n".encode("shift_jis")
    m += b"--c\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    m += "Grüße aus Köln, schöne Straße, Übergröße und Äpfel.\r\n".encode("latin-1")
    m += b"--c--\r\n"
    return m


def newsletter():
    html = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>News</title>
<style>body{font-family:Arial} .btn{background:#0055aa;color:#ffffff}</style></head>
<body><table width="600" align="center"><tr><td>
<img src="https://static.example-news.com/logo.png" alt="Example News" width="200">
<h1>Your November update</h1>
<p>Hello reader, here is what happened this month at Example News.</p>
<p><a href="https://click.example-news.com/t/abc123">Read the full story on our site</a></p>
<p><a class="btn" href="https://click.example-news.com/t/def456">See the programme</a></p>
<p>Visit <a href="https://www.example-news.com/events">www.example-news.com/events</a>.</p>
<img src="https://click.example-news.com/open/xyz.gif" width="1" height="1" alt="">
<p style="font-size:11px;color:#777777">You receive this because you subscribed.
<a href="https://click.example-news.com/unsubscribe?u=42">Unsubscribe</a></p>
</td></tr></table></body></html>"""
    text = ("Your November update\r\n\r\nRead the full story: "
            "https://www.example-news.com/story\r\nUnsubscribe: "
            "https://click.example-news.com/unsubscribe?u=42\r\n")
    m = ("From: Example News <news@example-news.com>\r\nTo: reader@example.org\r\n"
         "Date: Tue, 24 Nov 2026 08:00:00 +0000\r\nMessage-ID: <nl-2026-11@example-news.com>\r\n"
         "Subject: Your November update\r\nMIME-Version: 1.0\r\n"
         "List-Unsubscribe: <https://click.example-news.com/unsubscribe?u=42>\r\n"
         'Content-Type: multipart/alternative; boundary="nl"\r\n\r\n'
         "--nl\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text +
         "--nl\r\nContent-Type: text/html; charset=utf-8\r\n"
         "Content-Transfer-Encoding: quoted-printable\r\n\r\n")
    qp = html.replace("=", "=3D").replace("\n", "\r\n")
    return (m + qp + "\r\n--nl--\r\n").encode()


def phishing():
    html = """<html><body><p>Your mailbox is full. Verify your account now:</p>
<p><a href="http://198.51.100.7/login.php">https://www.example-bank.com/verify</a></p>
<form action="http://login-verify.example.net/collect.php" method="post">
<input type="text" name="user"><input type="password" name="pass"><input type="submit"></form>
<div style="display:none">hello friend invoice newsletter</div>
<script>document.forms[0].submit()</script></body></html>"""
    m = ("From: \"Example Bank\" <security@example-bank-alerts.net>\r\nTo: user@example.org\r\n"
         "Date: Tue, 24 Nov 2026 08:00:00 +0000\r\nMessage-ID: <phish1@example-bank-alerts.net>\r\n"
         "Subject: Urgent: verify your account\r\nMIME-Version: 1.0\r\n"
         "Content-Type: text/html; charset=utf-8\r\n\r\n" + html + "\r\n")
    return m.encode()


def build(d: Path):
    """Writes every sample into d as <name>.eml; returns {name: Sample}."""
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / "_work"
    tmp.mkdir(exist_ok=True)
    s = {}

    def add(sample: Sample, raw: bytes):
        (d / f"{sample.name}.eml").write_bytes(raw)
        s[sample.name] = sample

    add(Sample("eicar-plain", "reject", ["CLAM_VIRUS"]),
        (HEAD.format(mid="e1", subject="test") + "Content-Type: text/plain\r\n\r\n").encode()
        + EICAR + b"\r\n")
    add(Sample("eicar-base64", "reject", ["CLAM_VIRUS"]),
        mime("document", "see attached", [("readme.txt", "text/plain", EICAR)]))
    add(Sample("eicar-zip", "reject", ["CLAM_VIRUS"]),
        mime("zipped", "see attached",
             [("files.zip", "application/zip", zip_bytes([("eicar.txt", EICAR)]))]))
    inner = zip_bytes([("deep/eicar.txt", EICAR)])
    middle = zip_bytes([("inner.zip", inner)])
    outer = seven_zip(tmp, [("middle.zip", middle)])
    add(Sample("eicar-zip-zip-7z", "reject", ["CLAM_VIRUS"]),
        mime("nested", "nested archives", [("bundle.7z", "application/x-7z-compressed",
                                             outer)]))
    enc = encrypted_zip(tmp, [("eicar.txt", EICAR)], "infected")
    add(Sample("eicar-encrypted-zip", "quarantine", ["ARCHIVE_ENCRYPTED"], ["CLAM_VIRUS"]),
        mime("protected", "The password is: infected",
             [("protected.zip", "application/zip", enc)]))
    add(Sample("hash-signature", "reject", ["CLAM_VIRUS"]),
        mime("data", "see attached", [("data.bin", "application/octet-stream", HASHED)]))
    add(Sample("double-extension", "reject", ["ATTACHMENT_DOUBLE_EXT", "ATTACHMENT_BLOCKED"]),
        mime("invoice", "Invoice attached", [("invoice.pdf.exe", "application/pdf",
                                              pe_image())]))
    add(Sample("rtlo-name", "reject", ["ATTACHMENT_NAME_OBFUSCATED", "ATTACHMENT_BLOCKED"]),
        rfc2231_attachment("invoice", "invoice\u202efdp.exe", "application/octet-stream",
                           pe_image()))
    add(Sample("exe-named-pdf", "reject", ["ATTACHMENT_BLOCKED_TYPE",
                                           "ATTACHMENT_EXEC_DISGUISED"], ["ATTACHMENT_BLOCKED"]),
        mime("scan", "Scanned document", [("scan.pdf", "application/pdf", pe_image())]))
    add(Sample("exe-in-zip", "reject", ["ATTACHMENT_BLOCKED", "ATTACHMENT_BLOCKED_TYPE"]),
        mime("payroll", "payroll", [("payroll.zip", "application/zip",
                                     zip_bytes([("payroll.exe", pe_image())]))]))
    add(Sample("macro-docm", "quarantine", ["OFFICE_MACRO", "OFFICE_AUTOEXEC"]),
        mime("order", "Order attached", [("order.docm",
                                          "application/vnd.ms-word.document.macroEnabled.12",
                                          docm_with_macro())]))
    add(Sample("macro-xls", "quarantine", ["OFFICE_MACRO", "OFFICE_AUTOEXEC"]),
        mime("prices", "Prices attached", [("prices.xls", "application/vnd.ms-excel",
                                            xls_with_macro())]))
    add(Sample("pdf-javascript", "tag", ["PDF_JAVASCRIPT", "PDF_OPENACTION"]),
        mime("statement", "Statement attached", [("statement.pdf", "application/pdf",
                                                  pdf_with_javascript())]))
    bomb = zip_bytes([("zeros.bin", b"\0" * (300 << 20))])
    add(Sample("zip-bomb", "quarantine", ["ARCHIVE_BOMB"]),
        mime("bomb", "see attached", [("data.zip", "application/zip", bomb)]))
    add(Sample("mime-2000-parts", "pass", ["MIME_TOO_MANY_PARTS"]), many_parts(2000))
    add(Sample("broken-boundaries", "pass", ["MIME_MISSING_END"]), broken_boundaries())
    add(Sample("wrong-charsets", "pass", ["MIME_BAD_CHARSET"]), wrong_charsets())
    add(Sample("phishing-html", ("quarantine", "reject"),
               ["URL_DECEPTIVE_LINK", "HTML_PASSWORD_FIELD", "URL_IP_HOST"]), phishing())
    add(Sample("clean-newsletter", "pass", [],
               ["CLAM_", "ATTACHMENT_", "ARCHIVE_", "OFFICE_", "PDF_", "MIME_",
                "URL_DECEPTIVE_LINK", "HTML_PASSWORD_FIELD", "HTML_SCRIPT"], max_score=2.0),
        newsletter())
    add(Sample("clean-pdf", "pass", [], ["CLAM_", "ATTACHMENT_", "OFFICE_", "PDF_"],
               max_score=2.0),
        mime("report", "Quarterly report attached", [("report.pdf", "application/pdf",
                                                      pdf_clean())]))
    return s
