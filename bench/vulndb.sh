#!/usr/bin/env bash
# Vulnerability database benchmarks: import time and size (Go OSV set and a
# synthetic 500k-record set), lookups per second, and `kensa scan` of the
# debootstrap Debian image against `osv-scanner scan image --archive
# --offline-vulnerabilities` with the same archive and the same OSV zips.
#
# Usage: bench/vulndb.sh [RUNS]   (default 5 scan runs per tool; medians printed)
#        SCAN_ONLY=1 bench/vulndb.sh   skips the Go benchmarks (the 500k import takes minutes)
# Needs: the test images (scripts/build-test-images.sh debian-base),
# /work/shared/vulndata (or VULNDATA=dir), osv-scanner on PATH or in ~/go/bin.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
vulndata="${VULNDATA:-/work/shared/vulndata}"
img="${KENSA_TEST_IMAGES:-$PWD/.cache/testimages}/debian-base.docker.tar"
osv="$(command -v osv-scanner || echo "$HOME/go/bin/osv-scanner")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

go build -o "$tmp/kensa" ./cmd/kensa

if [ -z "${SCAN_ONLY:-}" ]; then
echo "== go benchmarks (import Go set, synthetic set, lookups)"
go test -run '^$' -bench 'ImportGo|Lookup' -benchtime 3x ./internal/vulndb/ | grep -E '^Benchmark'
go test -run '^$' -bench 'BenchmarkLookup' -benchtime 200000x ./internal/vulndb/ | grep -E '^Benchmark'
KENSA_BENCH_RECORDS="${KENSA_BENCH_RECORDS:-500000}" go test -run '^$' -bench 'ImportSynthetic' -benchtime 1x -timeout 60m ./internal/vulndb/ | grep -E '^Benchmark'

echo "== import CPU and memory (kensa db import of the Go set)"
/usr/bin/time -f "wall %es user %Us sys %Ss maxrss %MkB" "$tmp/kensa" db import -q --db "$tmp/go.db" "$vulndata/osv/Go/all.zip"
ls -l "$tmp/go.db" | awk '{print "size", $5, "bytes"}'
fi

echo "== scan: kensa vs osv-scanner on $(basename "$img")"
"$tmp/kensa" db import -q --db "$tmp/kensa.db" "$vulndata/osv/Go/all.zip" "$vulndata/osv/Debian/all.zip"
mkdir -p "$tmp/osv/osv-scanner/Go" "$tmp/osv/osv-scanner/Debian"
cp "$vulndata/osv/Go/all.zip" "$tmp/osv/osv-scanner/Go/"
cp "$vulndata/osv/Debian/all.zip" "$tmp/osv/osv-scanner/Debian/"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for i in $(seq "$runs"); do
  /usr/bin/time -f "%e %U %S" -a -o "$tmp/k.times" "$tmp/kensa" scan --quiet --no-cache --format json --scanners vuln --db "$tmp/kensa.db" "$img" >"$tmp/k.json"
  OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY="$tmp/osv" /usr/bin/time -f "%e %U %S" -a -o "$tmp/o.times" \
    "$osv" scan image --archive --offline-vulnerabilities --format json "$img" >"$tmp/o.json" 2>/dev/null || true
done
sed -i "/Command/d" "$tmp/k.times" "$tmp/o.times"
kw=$(awk '{print $1}' "$tmp/k.times" | median); kc=$(awk '{print $2+$3}' "$tmp/k.times" | median)
ow=$(awk '{print $1}' "$tmp/o.times" | median); oc=$(awk '{print $2+$3}' "$tmp/o.times" | median)
echo "kensa       median wall ${kw}s cpu ${kc}s"
echo "osv-scanner median wall ${ow}s cpu ${oc}s"
awk -v k="$kw" -v o="$ow" -v kc="$kc" -v oc="$oc" 'BEGIN {printf "ratio osv-scanner/kensa: wall %.1fx, cpu %.1fx\n", o/k, oc/kc}'

echo "== findings agreement (source package, advisory)"
python3 - "$tmp/k.json" "$tmp/o.json" <<'PY'
import json, sys
k = json.load(open(sys.argv[1])); o = json.load(open(sys.argv[2]))
ks = set()
for f in k["findings"]:
    p = f.get("package") or {}
    for n in [f["id"]] + f.get("aliases", []):
        if n.startswith(("DEBIAN-", "GO-")):
            ks.add((p.get("source_name") or p.get("name"), n))
os_ = set()
for r in o.get("results", []):
    for p in r["packages"]:
        for v in p.get("vulnerabilities", []):
            os_.add((p["package"]["name"], v["id"]))
print(f"kensa {len(ks)} pairs, osv-scanner {len(os_)} pairs")
for x in sorted(ks - os_): print("  only kensa:", *x)
for x in sorted(os_ - ks): print("  only osv-scanner:", *x)
if ks == os_: print("  identical")
PY
