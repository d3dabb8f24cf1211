#!/usr/bin/env bash
# Dockerfile checks side by side: kensa vs `trivy config` (its embedded
# checks, offline) over ../shared/corpus/dockerfiles/. Prints the rules
# both have (by the mapping below), per shared rule the files where only
# one tool fires, and the rules only one tool has. Not run by .ci/run.
# Needs trivy on PATH (../shared/PEERS.md). Usage: bench/peers/dockerfile-trivy.sh [CORPUS_DIR]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
corpus="${1:-$repo/../shared/corpus/dockerfiles}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$repo" && go build -o "$work/kensa" ./cmd/kensa)
mkdir -p "$work/tree"
for f in "$corpus"/*; do
  n="$(basename "$f")"
  mkdir -p "$work/tree/$n"
  cp "$f" "$work/tree/$n/Dockerfile"
  "$work/kensa" scan -q --scanners misconfig,secret --format json -o "$work/tree/$n/kensa.json" "$work/tree/$n/Dockerfile" || true
done
TRIVY_CACHE_DIR="$work/trivy-cache" trivy config -q --skip-check-update --format json -o "$work/trivy.json" "$work/tree"
python3 - "$work" <<'PY'
import json, os, sys, collections
work = sys.argv[1]
# Trivy check -> kensa rules that enforce the same practice.
shared = [  # (trivy checks, kensa rules) enforcing the same practice
    (["DS-0001"], ["KS-DF-002"]), (["DS-0002"], ["KS-DF-001"]), (["DS-0004"], ["KS-DF-021"]),
    (["DS-0005"], ["KS-DF-005"]), (["DS-0009", "DS-0013"], ["KS-DF-023"]), (["DS-0010"], ["KS-DF-014"]),
    (["DS-0015", "DS-0019", "DS-0020"], ["KS-DF-025"]), (["DS-0017"], ["KS-DF-019"]),
    (["DS-0024"], ["KS-DF-029"]), (["DS-0025"], ["KS-DF-008"]), (["DS-0026"], ["KS-DF-015"]),
    (["DS-0029"], ["KS-DF-006"]), (["DS-0031"], ["KS-DF-010", "KS-DF-030", "KS-DF-011"]),
]
def norm(i):
    i = i.replace("AVD-", "")
    if i.startswith("DS") and "-" not in i: i = "DS-" + i[2:].zfill(4)
    return i
t = json.load(open(f"{work}/trivy.json"))
trivy = collections.defaultdict(set)  # file -> trivy IDs
titles = {}
for r in t.get("Results") or []:
    n = r["Target"].split("/")[-2] if "/" in r["Target"] else r["Target"]
    for m in r.get("Misconfigurations") or []:
        if m.get("Status", "FAIL") != "FAIL": continue
        i = norm(m.get("AVDID") or m["ID"]); trivy[n].add(i); titles[i] = m.get("Title", "")
kensa = collections.defaultdict(set)
for n in os.listdir(f"{work}/tree"):
    p = f"{work}/tree/{n}/kensa.json"
    if os.path.exists(p):
        for f in json.load(open(p))["findings"]:
            kensa[n].add(f["id"])
files = sorted(os.listdir(f"{work}/tree"))
print(f"{len(files)} Dockerfiles\n")
print("| trivy check | title | kensa rule(s) | both | only trivy | only kensa |")
print("|---|---|---|---|---|---|")
dis = []
for tids, krs in shared:
    tid = "+".join(tids)
    both = ot = ok = 0
    for n in files:
        a = any(t in trivy[n] for t in tids); b = any(k in kensa[n] for k in krs)
        if a and b: both += 1
        elif a: ot += 1; dis.append(f"{tid}/{'+'.join(krs)}: only trivy: {n}")
        elif b: ok += 1; dis.append(f"{tid}/{'+'.join(krs)}: only kensa: {n}")
    print(f"| {tid} | {' / '.join(titles.get(t, '') for t in tids if titles.get(t))} | {', '.join(krs)} | {both} | {ot} | {ok} |")
ks = {k for _, v in shared for k in v}
ts = {t for v, _ in shared for t in v}
print("\nTrivy-only checks that fired:", ", ".join(f"{i} ({titles[i]}: {sum(i in trivy[n] for n in files)} files)" for i in sorted({i for s in trivy.values() for i in s} - ts)))
print("kensa-only rules that fired:", ", ".join(f"{i} ({sum(i in kensa[n] for n in files)} files)" for i in sorted({i for s in kensa.values() for i in s} - ks)))
print("\nDisagreements:")
for d in dis: print(" ", d)
PY
