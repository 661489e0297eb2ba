#!/usr/bin/python3
"""fit-weights.py - refits the starter rule weights on TRAIN only (docs/rules.md).

Usage: node/rules/fit-weights.py BULWARKCTL [write]
Scans TRAIN (easy-ham-1, spam-1, odd-numbered hard-ham-1 of state/corpus) with
`bulwarkctl scan --local --json`, the rules taken from these files (not the built-in
copy), prints 5-fold cross-validation figures and each rule's hit rates, and with
`write` rewrites the `score` of every rule with the fit on all of TRAIN. TEST
(easy-ham-2, spam-2, even hard-ham-1) is never read.

Model: P(spam) = sigmoid(sum of rule weights + other checks' score - TAG): the tag
threshold is the boundary and a weight is in score points. L2 penalty, ham errors
weighted HAMW times, each weight kept on the sign it was written with and capped."""
import glob, json, math, os, random, re, subprocess, sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TAG, HAMW, L2, CAP, EPOCHS, LR = 5.0, 4.0, 0.02, 3.5, 300, 0.05
rules_dir = os.path.join(REPO, 'node', 'rules')
corpus = os.path.join(REPO, 'state', 'corpus')
files = sorted(glob.glob(corpus + '/easy-ham-1/*.eml') + glob.glob(corpus + '/spam-1/*.eml') +
               [f for f in glob.glob(corpus + '/hard-ham-1/*.eml')
                if int(os.path.basename(f)[:5]) % 2 == 1])
rule_files = ','.join(sorted(glob.glob(rules_dir + '/*.rules')))
out = subprocess.run([sys.argv[1], 'scan', '--local', '--json', '--set', 'check.rules.builtin=no',
                      '--set', 'check.rules.files=' + rule_files] + files,
                     capture_output=True, text=True).stdout
defs = {}  # name -> (file, initial score)
for f in sorted(glob.glob(rules_dir + '/*.rules')):
    for line in open(f):
        m = re.match(r'^\s*(header|body|rawbody|uri|full|meta)\s+([A-Z0-9_]+)\s.*\sscore\s+(-?[\d.]+)', line)
        if m and not m.group(2).startswith('__'):
            defs[m.group(2)] = (f, float(m.group(3)))
names = sorted(defs)
idx = {n: i for i, n in enumerate(names)}
X, y, off = [], [], []
for line in out.splitlines():
    r = json.loads(line)
    spam = '/spam-' in r['file']
    hits, other = [], 0.0
    for s in r['symbols']:
        if s['name'] in idx:
            hits.append(idx[s['name']])
        else:
            other += s['score']
    X.append(hits); y.append(1 if spam else 0); off.append(other)
N = len(X)

def fit(rows):
    w = [0.5 if defs[n][1] > 0 else -0.5 for n in names]
    for ep in range(EPOCHS):
        g = [0.0] * len(names)
        for k in rows:
            z = sum(w[i] for i in X[k]) + off[k] - TAG
            p = 1 / (1 + math.exp(-max(-30, min(30, z))))
            e = (p - y[k]) * (1 if y[k] else HAMW)
            for i in X[k]:
                g[i] += e
        for i, n in enumerate(names):
            w[i] -= LR * (g[i] / len(rows) * 50 + L2 * w[i])
            w[i] = min(CAP, max(0, w[i])) if defs[n][1] > 0 else max(-CAP, min(0, w[i]))
    return w

def evaluate(w, rows):
    tp = fp = fn = tn = 0
    for k in rows:
        s = sum(w[i] for i in X[k]) + off[k]
        if s >= TAG:
            if y[k]: tp += 1
            else: fp += 1
        else:
            if y[k]: fn += 1
            else: tn += 1
    return tp, fp, fn, tn

random.seed(7)
order = list(range(N)); random.shuffle(order)
folds = [order[i::5] for i in range(5)]
tot = [0, 0, 0, 0]
for f in range(5):
    test = set(folds[f]); train = [k for k in order if k not in test]
    w = fit(train)
    tp, fp, fn, tn = evaluate(w, folds[f])
    tot = [a + b for a, b in zip(tot, (tp, fp, fn, tn))]
    print(f'fold {f}: spam caught {tp}/{tp+fn} ({100*tp/max(1,tp+fn):.1f}%), ham FP {fp}/{fp+tn} ({100*fp/max(1,fp+tn):.2f}%)')
tp, fp, fn, tn = tot
print(f'CV total: spam recall {100*tp/(tp+fn):.1f}%, ham FP {100*fp/(fp+tn):.2f}% ({fp}/{fp+tn}), accuracy {100*(tp+tn)/N:.2f}%')
w = fit(order)
tp, fp, fn, tn = evaluate(w, order)
print(f'all TRAIN fit: recall {100*tp/(tp+fn):.1f}% FP {fp}/{fp+tn}')
# per rule hit rates
nspam = sum(y); nham = N - nspam
cnt = {n: [0, 0] for n in names}
for k in range(N):
    for i in X[k]:
        cnt[names[i]][y[k]] += 1
if len(sys.argv) > 2 and sys.argv[2] == 'write':
    for f in sorted(glob.glob(rules_dir + '/*.rules')):
        out = []
        for line in open(f):
            m = re.match(r'^(\s*(?:header|body|rawbody|uri|full|meta)\s+([A-Z0-9_]+)\s.*\sscore\s+)(-?[\d.]+)', line)
            if m and m.group(2) in idx:
                v = round(w[idx[m.group(2)]], 2)
                line = m.group(1) + (f'{v:g}' if v else '0') + line[m.end(3):]
            out.append(line)
        open(f, 'w').write(''.join(out))
for n in names:
    print(f'{n:24s} spam {cnt[n][1]:4d} ({100*cnt[n][1]/nspam:5.1f}%) ham {cnt[n][0]:4d} ({100*cnt[n][0]/nham:5.2f}%) w={w[idx[n]]:.2f}')
