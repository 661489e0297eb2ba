"""tests/bench/accuracy.py - the accuracy benchmark behind tests/bench/accuracy.sh.

Splits the SpamAssassin public corpus by a fixed rule (the 5-digit id is the first
5 characters of the file name):
  TRAIN = easy-ham-1 + spam-1 + hard-ham-1 with an odd id
  TEST  = easy-ham-2 + spam-2 + hard-ham-1 with an even id
learns TRAIN and scans TEST with every engine asked for, and prints, per engine, for
the whole set and per folder: spam caught, ham false positives, ham tagged, plus the
learn and scan times. With --cv K it does K-fold cross-validation inside TRAIN (for
bulwark only): TEST is never looked at. Tune on --cv, never on TEST.

Verdicts, mapped to bulwark's actions (pass < tag < quarantine/reject; tempfail):
  spam caught  = tag, quarantine or reject           (over spam messages)
  ham FP       = quarantine or reject                (over ham messages)
  ham tagged   = tag                                 (over ham messages)
  bulwark      its own action.
  rspamd       "add header" / "rewrite subject" -> tag; "reject" -> reject;
               "no action" and "greylist" -> pass (greylisting delays a message, it
               is delivered unmarked when the sender retries: not a content verdict);
               "soft reject" -> tempfail (cannot happen here: the greylist and
               ratelimit modules are off).
  spamassassin score >= 5 (required_score) -> tag; score >= 15 -> quarantine
               (the same high-confidence line as rspamd's reject at 15, on the same
               scale, SpamAssassin's own scores); the FP count at >= 10 is shown too.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402

HAM = {"easy-ham-1", "easy-ham-2", "hard-ham-1"}
CAUGHT = {"tag", "quarantine", "reject"}
FLAGGED = {"quarantine", "reject"}
SA_TAG, SA_QUARANTINE, SA_ALT_QUARANTINE = 5.0, 15.0, 10.0


def folder_label(path: str) -> str:
    folder = Path(path).parent.name
    if folder == "hard-ham-1":
        return "hard-ham-1-" + ("odd" if int(Path(path).name[:5]) % 2 else "even")
    return folder


def is_spam(path: str) -> bool:
    return Path(path).parent.name.startswith("spam")


def split(corpus: Path) -> tuple[list[str], list[str]]:
    train, test = [], []
    for folder in ("easy-ham-1", "spam-1", "hard-ham-1", "easy-ham-2", "spam-2"):
        files = sorted(str(p) for p in (corpus / folder).glob("*.eml"))
        if not files:
            sys.exit(f"accuracy: no messages in {corpus / folder}")
        for f in files:
            ident = Path(f).name[:5]
            if not ident.isdigit():
                sys.exit(f"accuracy: {f}: the file name does not start with a 5-digit id")
            if folder in ("easy-ham-1", "spam-1"):
                train.append(f)
            elif folder in ("easy-ham-2", "spam-2"):
                test.append(f)
            else:
                (train if int(ident) % 2 else test).append(f)
    return train, test


def figures(verdicts: dict[str, str]) -> list[tuple[str, int, str, str, str]]:
    """Rows (set, messages, spam caught, ham FP, ham tagged) for all and per folder."""
    groups: dict[str, list[str]] = {"all": list(verdicts)}
    for f in verdicts:
        groups.setdefault(folder_label(f), []).append(f)
    rows = []
    for name in ["all"] + sorted(g for g in groups if g != "all"):
        files = groups[name]
        spam = [f for f in files if is_spam(f)]
        ham = [f for f in files if not is_spam(f)]

        def pct(n: int, d: int) -> str:
            return f"{100 * n / d:6.2f}% ({n}/{d})" if d else "-"
        caught = sum(verdicts[f] in CAUGHT for f in spam)
        fp = sum(verdicts[f] in FLAGGED for f in ham)
        tagged = sum(verdicts[f] == "tag" for f in ham)
        rows.append((name, len(files), pct(caught, len(spam)), pct(fp, len(ham)),
                     pct(tagged, len(ham))))
    return rows


def print_table(engine: str, verdicts: dict[str, str], extra: str = "") -> None:
    print(f"{'engine':14} {'set':18} {'msgs':>5}  {'spam caught':>20}  {'ham FP':>18}  "
          f"{'ham tagged':>18}")
    for name, n, caught, fp, tagged in figures(verdicts):
        print(f"{engine:14} {name:18} {n:5}  {caught:>20}  {fp:>18}  {tagged:>18}")
    counts: dict[str, int] = {}
    for v in verdicts.values():
        counts[v] = counts.get(v, 0) + 1
    print(f"{'':14} actions: {dict(sorted(counts.items()))}{extra}")


def targets(verdicts: dict[str, str]) -> None:
    """The issue's targets, on the whole set."""
    spam = [f for f in verdicts if is_spam(f)]
    ham = [f for f in verdicts if not is_spam(f)]
    if not spam or not ham:
        return
    caught = 100 * sum(verdicts[f] in CAUGHT for f in spam) / len(spam)
    fp = 100 * sum(verdicts[f] in FLAGGED for f in ham) / len(ham)
    tagged = 100 * sum(verdicts[f] == "tag" for f in ham) / len(ham)
    ok = lambda good: "met" if good else "MISSED"  # noqa: E731
    print(f"{'':14} targets: spam caught >= 99.0%: {ok(caught >= 99.0)}, "
          f"ham FP <= 0.1%: {ok(fp <= 0.1)}, ham tagged <= 0.5%: {ok(tagged <= 0.5)}")


def timing(engine: str, learn_s: float | None, scan_s: float, n: int, how: str) -> dict:
    ls = f"{learn_s:.1f} s" if learn_s is not None else "-"
    print(f"{'':14} learn {ls}, scan {scan_s:.1f} s = {n / scan_s:.1f} msg/s ({how})")
    return {"learn_s": learn_s, "scan_s": scan_s, "msg_per_s": n / scan_s, "how": how}


# ---------------------------------------------------------------- bulwark

def bulwark_ready(ctl: str) -> str | None:
    """None if bulwarkctl has `learn` and `scan --redis`, else why not."""
    if not os.access(ctl, os.X_OK):
        return f"{ctl} is not built"
    r = subprocess.run([ctl, "--help"], capture_output=True, text=True)
    text = r.stdout + r.stderr
    if "learn" not in text:
        return "bulwarkctl has no `learn` command yet"
    if "--redis" not in text:
        return "bulwarkctl scan has no --redis option yet"
    return None


def bulwark_learn(ctl: str, redis: peers.Redis, spam: list[str], ham: list[str],
                  sets: list[str] = ()) -> float:
    # learn makes the tokens the scans make: the same --set (check.bayes.osb_window,
    # max_tokens) goes to both
    t = time.monotonic()
    set_args = [a for s in sets for a in ("--set", s)]
    outcomes = []
    for flag, files in (("--spam", spam), ("--ham", ham)):
        if not files:
            continue
        r = subprocess.run([ctl, "learn", flag, "--redis", redis.addr, *set_args, *files],
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"accuracy: bulwarkctl learn {flag} failed ({r.returncode}): "
                     f"{r.stderr.strip()[-500:]}")
        c: dict[str, int] = {}
        for line in r.stdout.splitlines():
            for word in ("already learned", "learned", "moved"):
                if line.rstrip().endswith(word):
                    c[word] = c.get(word, 0) + 1
                    break
        outcomes.append(f"{flag[2:]} {c}")
    elapsed = time.monotonic() - t
    print(f"{'':14} learn: {'; '.join(outcomes)}")
    return elapsed


def bulwark_scan(ctl: str, redis: peers.Redis, files: list[str], sets: list[str]
                 ) -> tuple[dict[str, str], float]:
    # no learning from TEST: the peers' autolearn is off too (--set can override)
    cmd = [ctl, "scan", "--local", "--json", "--redis", redis.addr,
           "--set", "check.bayes.autolearn=no"]
    for s in sets:
        cmd += ["--set", s]
    t = time.monotonic()
    r = subprocess.run(cmd + files, capture_output=True, text=True)
    elapsed = time.monotonic() - t
    verdicts = {}
    classifier: dict[str, int] = {}  # messages with a BAYES_* / FUZZY_* symbol
    bad_lines = []
    for line in r.stdout.splitlines():
        try:
            o = json.loads(line)
        except ValueError:
            bad_lines.append(line)
            continue
        verdicts[o["file"]] = o["action"]
        for s in o.get("symbols", []):
            name = s.get("name", "") if isinstance(s, dict) else str(s)
            if name.startswith(("BAYES", "FUZZY")):
                classifier[name] = classifier.get(name, 0) + 1
    bulwark_scan.classifier = classifier
    missing = [f for f in files if f not in verdicts]
    if missing:
        # file names may come back relative or normalised: match by basename
        by_name = {Path(k).name: v for k, v in verdicts.items()}
        verdicts = {f: by_name.get(Path(f).name) for f in files}
        missing = [f for f in files if verdicts[f] is None]
    if missing:
        sys.exit(f"accuracy: bulwarkctl scan gave no verdict for {len(missing)} of "
                 f"{len(files)} messages (exit {r.returncode}): {r.stderr.strip()[-500:]}"
                 + "".join(f"\n  unreadable output line: {b[:400]!r}" for b in bad_lines[:3]))
    return verdicts, elapsed


def run_bulwark(args, tmp: Path, train: list[str], test: list[str]) -> dict | None:
    why = bulwark_ready(args.ctl)
    if why:
        print(f"bulwark: PENDING - {why}; no figures.")
        return None
    redis = peers.Redis(tmp / "redis-bulwark").start()
    try:
        learn_s = bulwark_learn(args.ctl, redis, [f for f in train if is_spam(f)],
                                [f for f in train if not is_spam(f)], args.set)
        verdicts, scan_s = bulwark_scan(args.ctl, redis, test, args.set)
    finally:
        redis.stop()
    print_table("bulwark", verdicts, f"; Bayes/fuzzy symbols {bulwark_scan.classifier}")
    targets(verdicts)
    t = timing("bulwark", learn_s, scan_s, len(test), "bulwarkctl scan --local, 1 thread")
    return {"figures": figures(verdicts), **t}


def run_cv(args, tmp: Path, train: list[str]) -> int:
    why = bulwark_ready(args.ctl)
    if why:
        sys.exit(f"accuracy: --cv needs bulwarkctl learn and scan --redis: {why}")
    k = args.cv
    order = sorted(train)
    random.Random(args.seed).shuffle(order)  # fixed seed: the same folds every run
    folds = [order[i::k] for i in range(k)]
    print(f"cross-validation inside TRAIN only: {len(train)} messages, {k} folds "
          f"(seed {args.seed}); each fold scanned after learning the other {k - 1} "
          f"into a fresh Redis database")
    redis = peers.Redis(tmp / "redis-cv").start()
    total: dict[str, str] = {}
    try:
        for i, held in enumerate(folds):
            learn = [f for j, fold in enumerate(folds) if j != i for f in fold]
            redis.flush()
            learn_s = bulwark_learn(args.ctl, redis, [f for f in learn if is_spam(f)],
                                    [f for f in learn if not is_spam(f)], args.set)
            verdicts, scan_s = bulwark_scan(args.ctl, redis, held, args.set)
            total.update(verdicts)
            print(f"\nfold {i + 1}/{k}: learned {len(learn)}, scanned {len(held)}")
            print_table("bulwark", verdicts)
            timing("bulwark", learn_s, scan_s, len(held), "1 thread")
    finally:
        redis.stop()
    print(f"\nall {k} folds together:")
    print_table("bulwark", total)
    targets(total)
    return 0


# ---------------------------------------------------------------- rspamd

def run_rspamd(args, tmp: Path, train: list[str], test: list[str]) -> dict:
    redis = peers.Redis(tmp / "redis-rspamd").start()
    rs = peers.Rspamd(tmp / "rspamd", redis, workers=args.jobs, hs_cache=args.hs_cache)
    try:
        t = time.monotonic()
        rs.start()
        rs.wait_hyperscan()
        print(f"rspamd: started in {time.monotonic() - t:.1f} s "
              f"({args.jobs} normal workers, Bayes in Redis {redis.addr})")
        t = time.monotonic()
        out_s = rs.learn_many([f for f in train if is_spam(f)], True, args.jobs)
        out_h = rs.learn_many([f for f in train if not is_spam(f)], False, args.jobs)
        learn_s = time.monotonic() - t
        print(f"rspamd: learn spam {out_s}, ham {out_h}")
        t = time.monotonic()
        replies = rs.check_many(test, args.jobs)
        scan_s = time.monotonic() - t
    finally:
        rs.stop()
        redis.stop()
    mapping = {"no action": "pass", "greylist": "pass", "add header": "tag",
               "rewrite subject": "tag", "reject": "reject", "soft reject": "tempfail"}
    raw: dict[str, int] = {}
    verdicts = {}
    for f, rep in replies.items():
        a = rep.get("action", "error")
        raw[a] = raw.get(a, 0) + 1
        verdicts[f] = mapping.get(a, "tempfail")
    bayes = sum(1 for rep in replies.values()
                if {"BAYES_SPAM", "BAYES_HAM"} & set(rep.get("symbols", {})))
    print_table("rspamd", verdicts, f"; rspamd actions {raw}; Bayes symbol on {bayes}")
    t = timing("rspamd", learn_s, scan_s, len(test),
               f"HTTP /checkv2, {args.jobs} workers, {args.jobs} in flight")
    return {"figures": figures(verdicts), "raw_actions": raw, **t}


# ---------------------------------------------------------------- SpamAssassin

def run_spamassassin(args, tmp: Path, train: list[str], test: list[str]) -> dict:
    sa = peers.SpamAssassin(tmp / "sa", children=args.jobs)
    sa.setup()
    rules = sa.rules_dir()
    print(f"spamassassin: rules from {rules} "
          f"({'shipped with the package: sa-update never ran' if rules == peers.SA_RULES else 'sa-update'}), "
          f"{len(list(rules.glob('*.cf')))} .cf files")
    t = time.monotonic()
    print("spamassassin: sa-learn --spam:", sa.learn([f for f in train if is_spam(f)], True))
    print("spamassassin: sa-learn --ham:", sa.learn([f for f in train if not is_spam(f)], False))
    sa.sync()
    learn_s = time.monotonic() - t
    try:
        sa.start()
        t = time.monotonic()
        reports = sa.check_many(test, args.jobs)
        scan_s = time.monotonic() - t
        scores = {f: s for f, (s, _) in reports.items()}
        bayes = sum(" BAYES_" in rep for _, rep in reports.values())
    finally:
        sa.stop()
    errors = sum(s is None for s in scores.values())
    verdicts, alt = {}, {}
    for f, s in scores.items():
        if s is None:
            verdicts[f] = alt[f] = "tempfail"
            continue
        verdicts[f] = "quarantine" if s >= SA_QUARANTINE else "tag" if s >= SA_TAG else "pass"
        alt[f] = "quarantine" if s >= SA_ALT_QUARANTINE else verdicts[f]
    alt_fp = [r for r in figures(alt) if r[0] == "all"][0][3]
    print_table("spamassassin", verdicts,
                f"; spamc errors {errors}; a BAYES_ rule on {bayes}; ham FP if quarantine were at >= 10: {alt_fp.strip()}")
    t = timing("spamassassin", learn_s, scan_s, len(test),
               f"spamd -L, {args.jobs} children, {args.jobs} spamc in flight")
    return {"figures": figures(verdicts), "ham_fp_at_10": alt_fp.strip(), **t}


# ---------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--ctl", default="", help="bulwarkctl")
    ap.add_argument("--print-split", choices=("train", "test"),
                    help="print the TRAIN or TEST file names, one a line, and exit")
    ap.add_argument("--only", default="bulwark,rspamd,spamassassin",
                    help="comma-separated engines (bulwark, rspamd, spamassassin)")
    ap.add_argument("--cv", type=int, default=0, help="K-fold cross-validation in TRAIN")
    ap.add_argument("--seed", type=int, default=1, help="fold assignment seed (--cv)")
    ap.add_argument("--jobs", type=int, default=2,
                    help="peers' parallelism: rspamd workers / spamd children (default 2)")
    ap.add_argument("--set", action="append", default=[], help="KEY=VALUE for bulwarkctl scan and learn")
    ap.add_argument("--sample", type=int, default=1,
                    help="keep every Nth message of TRAIN and TEST (quick checks only)")
    ap.add_argument("--hs-cache", type=Path, default=None,
                    help="rspamd Hyperscan cache dir kept between runs")
    ap.add_argument("--json-out", type=Path, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    engines = [e.strip() for e in args.only.split(",") if e.strip()]
    for e in engines:
        if e not in ("bulwark", "rspamd", "spamassassin"):
            ap.error(f"unknown engine {e}")

    # SIGTERM/SIGHUP -> SystemExit, so every `finally` stops what it started
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, lambda *_: sys.exit(130))

    train, test = split(args.corpus)
    if args.print_split:
        print("\n".join(train if args.print_split == "train" else test))
        return 0
    if args.sample > 1:
        train, test = train[::args.sample], test[::args.sample]
    tmp = Path(tempfile.mkdtemp(prefix="bulwark-accuracy.", dir="/tmp"))
    os.chmod(tmp, 0o755)
    try:
        if args.cv:
            return run_cv(args, tmp, train)

        def count(files: list[str]) -> str:
            c: dict[str, int] = {}
            for f in files:
                c[folder_label(f)] = c.get(folder_label(f), 0) + 1
            return ", ".join(f"{k} {v}" for k, v in sorted(c.items()))
        repo = Path(__file__).resolve().parents[2]
        head = subprocess.run(["git", "-C", str(repo), "log", "-1", "--format=%h %cs"],
                              capture_output=True, text=True).stdout.strip()
        if args.ctl and os.access(args.ctl, os.X_OK):
            v = subprocess.run([args.ctl, "version"], capture_output=True, text=True)
            print(f"bulwarkctl: {args.ctl} ({v.stdout.strip()}; built "
                  f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(os.stat(args.ctl).st_mtime))}"
                  f" UTC; checkout at {head})")
        print(f"data: {args.corpus}")
        print(f"TRAIN {len(train)}: {count(train)}")
        print(f"TEST  {len(test)}: {count(test)}"
              + (f"  (every {args.sample}th message only)" if args.sample > 1 else ""))
        print(f"machine: {os.cpu_count()} cores, {os.uname().release}; "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        print("spam caught = tag or worse; ham FP = quarantine or reject; ham tagged = tag\n")
        results = {}
        runners = {"bulwark": run_bulwark, "rspamd": run_rspamd,
                   "spamassassin": run_spamassassin}
        for e in engines:
            t = time.monotonic()
            results[e] = runners[e](args, tmp, train, test)
            print(f"{'':14} ({e}: {time.monotonic() - t:.0f} s in all)\n", flush=True)
        if args.json_out:
            args.json_out.write_text(json.dumps(results, indent=1))
        return 0
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
