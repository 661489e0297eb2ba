"""Sends the quick start's sample mail through the gateway and prints what happened.

Run by scripts/quickstart.sh with Debian's python (/usr/bin/python3):
    quickstart_samples.py STATE_DIR GATEWAY_PORT BULWARKCTL

Each sample goes to the gateway Postfix with swaks. The SMTP reply to the message
says rejected (5xx) or deferred (4xx); an accepted message is then looked for at the
sink (a Maildir under STATE_DIR/sink, by Message-ID) and in the quarantine
(`bulwarkctl quarantine list --json`).
"""
import email
import email.policy
import json
import mailbox
import os
import re
import subprocess
import sys
import time
import uuid

STATE, PORT, CTL = sys.argv[1], sys.argv[2], sys.argv[3]
CTL_CONF = os.path.join(STATE, "etc", "bulwarkctl.conf")
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
RUN = uuid.uuid4().hex[:8]


def message(n, subject, body, extra_headers="", date_ahead=0, content_type=None):
    mid = f"<quickstart-{RUN}-{n}@example.com>"
    hdr = ["From: Alice Example <alice@example.com>", "To: bob@example.org", f"Subject: {subject}"]
    when = time.gmtime(time.time() + date_ahead)
    hdr.append("Date: " + time.strftime("%a, %d %b %Y %H:%M:%S +0000", when))
    hdr.append(f"Message-ID: {mid}")
    if content_type:
        hdr += ["MIME-Version: 1.0", content_type]
    if extra_headers:
        hdr.append(extra_headers)
    return mid, "\r\n".join(hdr) + "\r\n\r\n" + body


def samples():
    yield "clean mail", message(1, "Lunch on Thursday?", "Hi Bob, are we still on? Alice\r\n")
    yield "GTUBE test spam", message(2, "You have won", GTUBE + "\r\n")
    yield "sloppy bulk mail", message(3, "cheap offer", "buy now\r\n",
                                      extra_headers="Subject: cheap offer", date_ahead=7 * 86400)
    yield "invoice.exe attached", message(
        4, "Invoice", "--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        "--b1\r\nContent-Type: application/octet-stream; name=\"invoice.exe\"\r\n"
        "Content-Disposition: attachment; filename=\"invoice.exe\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA//8AALgAAAAAAAAA\r\n--b1--\r\n",
        content_type="Content-Type: multipart/mixed; boundary=\"b1\"")
    import base64
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                    "integration"))
    import corpus

    def attach(n, subject, name, ctype, data):
        b64 = base64.encodebytes(data).decode().replace("\n", "\r\n")
        return message(n, subject, "--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
                       f"--b1\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: base64\r\n"
                       f"Content-Disposition: attachment; filename=\"{name}\"\r\n\r\n{b64}"
                       "--b1--\r\n",
                       content_type="Content-Type: multipart/mixed; boundary=\"b1\"")
    yield "EICAR in a zip", attach(6, "Documents", "docs.zip", "application/zip",
                                   corpus.zip_bytes([("eicar.txt", corpus.EICAR)]))
    yield "Word file with AutoOpen macro", attach(
        7, "Order", "order.docm", "application/vnd.ms-word.document.macroEnabled.12",
        corpus.docm_with_macro())
    mid = f"<quickstart-{RUN}-8@example.com>"
    yield "phishing page", (mid, corpus.phishing().decode().replace(
        "<phish1@example-bank-alerts.net>", mid))
    big = ("All work and no play makes Jack a dull boy. " * 2 + "\r\n") * 2000
    yield "200 KB newsletter", message(5, "Monthly newsletter", big)


def send(data):
    path = os.path.join(STATE, "samples", "current.eml")
    with open(path, "w", newline="") as f:
        f.write(data)
    r = subprocess.run(["swaks", "--server", f"127.0.0.1:{PORT}", "--from", "alice@example.com",
                        "--to", "bob@example.org", "--data", path, "--timeout", "120"],
                       capture_output=True, text=True)
    replies = [l[4:].strip() for l in r.stdout.splitlines() if l.startswith(("<~ ", "<** ", "<- "))]
    # The reply to the end of data is the last one before QUIT's 221.
    replies = [x for x in replies if not x.startswith("221")]
    return replies[-1] if replies else (r.stderr.strip() or "no reply")


def at_sink(mid):
    box = mailbox.Maildir(os.path.join(STATE, "sink"), create=False)
    for key in box.iterkeys():
        m = email.message_from_bytes(box.get_bytes(key), policy=email.policy.compat32)
        if m.get("Message-ID") == mid:
            return m
    return None


def quarantined(mid):
    r = subprocess.run([CTL, "-c", CTL_CONF, "quarantine", "list", "--json", "--limit", "50"],
                       capture_output=True, text=True)
    for line in r.stdout.splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("message_id") == mid or mid in json.dumps(e):
            return e
    return None


rows = []
for label, (mid, data) in samples():
    reply = send(data)
    outcome = ""
    if reply[:1] == "5":
        outcome = "rejected: " + reply
    elif reply[:1] == "4":
        outcome = "deferred: " + reply
    else:
        for _ in range(100):
            m = at_sink(mid)
            if m is not None:
                outcome = "delivered, Subject: %s | %s" % (
                    m.get("Subject"), m.get("X-Bulwark-Status", "no X-Bulwark-Status header"))
                break
            q = quarantined(mid)
            if q is not None:
                outcome = "quarantined as %s (%s)" % (q.get("id"), reply)
                break
            time.sleep(0.1)
        else:
            outcome = "accepted (%s) but not seen at the sink yet" % reply
    rows.append((label, outcome))

width = max(len(r[0]) for r in rows)
print(f"{'sent':<{width}}  what happened")
for label, outcome in rows:
    outcome = re.sub(r"\s+", " ", outcome)
    print(f"{label:<{width}}  {outcome}")
