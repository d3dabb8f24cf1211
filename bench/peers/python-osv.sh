#!/usr/bin/env bash
# Compares kensa with osv-scanner (offline) on the python test image
# (Debian 12's python3 packages) with the same real PyPI advisories
# (../shared/vulndata/osv/PyPI/all.zip, 2,661 PYSEC records): the
# (package, advisory) pairs each reports, and kensa's fixed versions.
# Not run by .ci/run. Usage: bench/peers/python-osv.sh [PYPI_ZIP]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
zip="${1:-$repo/../shared/vulndata/osv/PyPI/all.zip}"
img="${KENSA_TEST_IMAGES:-$repo/.cache/testimages}/python.docker.tar"
[ -s "$img" ] || "$repo/scripts/build-test-images.sh" python
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$repo" && go build -o "$work/kensa" ./cmd/kensa)
"$work/kensa" db import --db "$work/kensa.db" "$zip" >/dev/null
"$work/kensa" scan --db "$work/kensa.db" --scanners vuln --no-cache --format json -o "$work/kensa.json" "$img" || true
mkdir -p "$work/osv/osv-scanner/PyPI" "$work/osv/osv-scanner/Debian"
cp "$zip" "$work/osv/osv-scanner/PyPI/all.zip"
(cd "$repo/internal/vulndb/testdata/osv/Debian" && python3 -c 'import zipfile,glob,sys; z=zipfile.ZipFile(sys.argv[1],"w"); [z.write(f) for f in glob.glob("*.json")]' "$work/osv/osv-scanner/Debian/all.zip")
OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY="$work/osv" osv-scanner scan image --archive --offline-vulnerabilities --format json "$img" >"$work/osv.json" 2>/dev/null || true
python3 - "$work/kensa.json" "$work/osv.json" <<'PY'
import json, sys
k = json.load(open(sys.argv[1])); o = json.load(open(sys.argv[2]))
kp = {}
for f in k["findings"]:
    p = f.get("package") or {}
    if p.get("ecosystem") != "PyPI": continue
    ids = [i for i in [f["id"]] + f.get("aliases", []) if i.startswith("PYSEC-")]
    for i in ids: kp[(p["name"], i)] = p.get("fixed_version") or "-"
op = set()
for r in o.get("results", []):
    for p in r.get("packages", []):
        if p["package"]["ecosystem"] != "PyPI": continue
        for v in p.get("vulnerabilities", []): op.add((p["package"]["name"], v["id"]))
print("| package | advisory | kensa fixed in | osv-scanner |")
print("|---|---|---|---|")
for key in sorted(set(kp) | op):
    print(f"| {key[0]} | {key[1]} | {kp.get(key, 'not reported')} | {'reported' if key in op else 'not reported'} |")
print(f"\nkensa {len(kp)} pairs, osv-scanner {len(op)}, only kensa {len(set(kp)-op)}, only osv-scanner {len(op-set(kp))}")
PY
