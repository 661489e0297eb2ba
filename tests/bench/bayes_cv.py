"""tests/bench/bayes_cv.py - the Bayes classifier alone, K-fold cross-validation in TRAIN.

The same TRAIN set and folds as `tests/bench/accuracy.sh --cv K` (tests/bench/accuracy.py;
TEST is never read): each fold is scanned by `bulwarkctl scan --local --json` after
learning the other K-1 folds into a flushed private Redis. The thresholds are set so
that BAYES_SPAM or BAYES_HAM fires on every message with a vote (spam_threshold 0.5,
ham_threshold just below), and the probability is read from the symbol's detail
("p=0.9987 ..."). Prints, for p >= 0.5 / 0.9 / 0.99, the spam caught and ham flagged,
and how much spam and ham fall at or below 0.1 (BAYES_HAM). --out FILE writes
"p<TAB>other<TAB>class<TAB>file" per message for analysis, other being the score of
every symbol but BAYES_* (to try mappings of p to a score offline). Tokenizer and combiner changes are
judged with this before the whole pipeline's CV. --set goes to `bulwarkctl learn` too,
so e.g. --set check.bayes.osb_window=2 learns and scans with word pairs.

With --pipeline each held-out part is also scanned with the defaults (plus --set) and
the whole pipeline's figures are printed as accuracy.sh prints them.

With --time-split F it learns the first F of each TRAIN folder by file id (the ids
follow the arrival dates) and scans the rest once: a proxy for classifying mail newer
than what was learned, which the shuffled folds do not show.

usage: /usr/bin/python3 tests/bench/bayes_cv.py --ctl BUILD/node/bulwarkctl
           [--corpus DIR] [--cv 5] [--seed 1] [--time-split 0.6] [--pipeline]
           [--set K=V]... [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import accuracy  # noqa: E402
import peers  # noqa: E402


TOKENS: list[int] = []  # tokens per message from the detail ("tokens=150/612": 612)


def scan_p(ctl: str, redis: peers.Redis, files: list[str], sets: list[str]
           ) -> dict[str, tuple[float, float]]:
    """(Bayes probability, score of the other symbols) per file (p 0.5 where Bayes had
    no vote)."""
    cmd = [ctl, "scan", "--local", "--json", "--redis", redis.addr,
           "--set", "check.bayes.autolearn=no", "--set", "check.bayes.spam_threshold=0.5",
           "--set", "check.bayes.ham_threshold=0.4999999"]
    for s in sets:
        cmd += ["--set", s]
    r = subprocess.run(cmd + files, capture_output=True, text=True)
    out = {}
    for line in r.stdout.splitlines():
        o = json.loads(line)
        p, rest = 0.5, 0.0
        for s in o.get("symbols", []):
            if s.get("name") in ("BAYES_SPAM", "BAYES_HAM"):
                p = float(s["detail"].split()[0][2:])
                TOKENS.append(int(s["detail"].rsplit("/", 1)[1]))
            elif not s.get("name", "").startswith("BAYES_"):
                rest += s.get("score", 0.0)
        out[o["file"]] = (p, rest)
    missing = [f for f in files if f not in out]
    if missing:
        sys.exit(f"bayes_cv: no result for {len(missing)} files (exit {r.returncode}): "
                 f"{r.stderr.strip()[-400:]}")
    return out


def report(ps: dict[str, tuple[float, float]]) -> None:
    spam = [p for f, (p, _) in ps.items() if accuracy.is_spam(f)]
    ham = [p for f, (p, _) in ps.items() if not accuracy.is_spam(f)]

    def pct(n: int, d: int) -> str:
        return f"{100 * n / d:6.2f}% ({n}/{d})"
    print(f"{'p':>8}  {'spam caught':>20}  {'ham flagged':>18}")
    for t in (0.5, 0.9, 0.99):
        print(f"{'>= ' + str(t):>8}  {pct(sum(p >= t for p in spam), len(spam)):>20}  "
              f"{pct(sum(p >= t for p in ham), len(ham)):>18}")
    print(f"{'<= 0.1':>8}  {pct(sum(p <= 0.1 for p in spam), len(spam)):>20}  "
          f"{pct(sum(p <= 0.1 for p in ham), len(ham)):>18}")
    # Ranking quality independent of thresholds: the probability that a random spam
    # gets a higher p than a random ham (ties count half).
    srt = sorted([(p, 1) for p in spam] + [(p, 0) for p in ham])
    rank_sum, i = 0.0, 0
    while i < len(srt):
        j = i
        while j < len(srt) and srt[j][0] == srt[i][0]:
            j += 1
        avg = (i + j + 1) / 2
        rank_sum += avg * sum(c for _, c in srt[i:j])
        i = j
    auc = (rank_sum - len(spam) * (len(spam) + 1) / 2) / (len(spam) * len(ham))
    print(f"AUC {auc:.5f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ctl", required=True)
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--cv", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--pipeline", action="store_true",
                    help="also scan each held-out part with the defaults (plus --set) and "
                         "print the whole pipeline's figures as accuracy.sh does")
    ap.add_argument("--time-split", type=float, default=0,
                    help="instead of K folds: learn the first FRACTION of each TRAIN folder "
                         "by id (the ids follow the arrival dates) and scan the rest, a "
                         "proxy for mail that is newer than what was learned")
    args = ap.parse_args()
    repo = Path(__file__).resolve().parents[2]
    corpus = args.corpus or Path(subprocess.run([str(repo / "tests/bench/corpus.sh")],
                                                capture_output=True, text=True,
                                                check=True).stdout.strip())
    train, _ = accuracy.split(corpus)  # TEST is not used
    order = sorted(train)
    random.Random(args.seed).shuffle(order)  # the folds of accuracy.py --cv
    folds = [order[i::args.cv] for i in range(args.cv)]
    if args.time_split:
        by_folder: dict[str, list[str]] = {}
        for f in sorted(train):
            by_folder.setdefault(accuracy.folder_label(f), []).append(f)
        early, late = [], []
        for files in by_folder.values():
            k = int(len(files) * args.time_split)
            early += files[:k]
            late += files[k:]
        folds = [late, early]  # scan "late" after learning the rest, once
    tmp = Path(tempfile.mkdtemp(prefix="bulwark-bayescv.", dir="/tmp"))
    redis = peers.Redis(tmp / "redis").start()
    ps: dict[str, tuple[float, float]] = {}
    verdicts: dict[str, str] = {}
    try:
        for i, held in enumerate(folds[:1] if args.time_split else folds):
            learn = [f for j, fold in enumerate(folds) if j != i for f in fold]
            redis.flush()
            accuracy.bulwark_learn(args.ctl, redis, [f for f in learn if accuracy.is_spam(f)],
                                   [f for f in learn if not accuracy.is_spam(f)], args.set)
            ps.update(scan_p(args.ctl, redis, held, args.set))
            if args.pipeline:
                verdicts.update(accuracy.bulwark_scan(args.ctl, redis, held, args.set)[0])
    finally:
        redis.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if args.time_split:
        print(f"Bayes alone, TRAIN split by id: learned the first {args.time_split:.0%} of "
              f"each folder, scanned the other {len(ps)} messages")
    else:
        print(f"Bayes alone, {args.cv}-fold CV inside TRAIN ({len(train)} messages, seed "
              f"{args.seed})")
    report(ps)
    if TOKENS:
        srt = sorted(TOKENS)
        print(f"tokens per message: mean {sum(srt) / len(srt):.0f}, median "
              f"{srt[len(srt) // 2]}, 99th percentile {srt[len(srt) * 99 // 100]}")
    if verdicts:
        print("\nthe whole pipeline, default mapping of p to BAYES_* (plus --set):")
        accuracy.print_table("bulwark", verdicts)
    if args.out:
        args.out.write_text("".join(
            f"{p:.6f}\t{rest:.2f}\t{'spam' if accuracy.is_spam(f) else 'ham'}\t{f}\n"
            for f, (p, rest) in sorted(ps.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
