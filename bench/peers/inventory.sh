#!/usr/bin/env bash
# Inventory side by side: kensa's CycloneDX SBOM vs Syft's and Trivy's on
# every test image (docker-archive form). Per image and ecosystem (purl
# type): packages all three agree on (type, name, version), and every
# package only some of them list. Not run by .ci/run.
# Needs syft and trivy on PATH (../shared/PEERS.md says how to install).
# Usage: bench/peers/inventory.sh [IMAGE...]   (default: every test image)
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
imgs="${KENSA_TEST_IMAGES:-$repo/.cache/testimages}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
[ -n "${KEEP:-}" ] && trap - EXIT && echo "work: $work" >&2
(cd "$repo" && go build -o "$work/kensa" ./cmd/kensa)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(debian-base leaky gobin npm python java)
for n in "${names[@]}"; do
  a="$imgs/$n.docker.tar"
  [ -s "$a" ] || { echo "missing $a: run scripts/build-test-images.sh" >&2; exit 1; }
  "$work/kensa" sbom -q --no-cache --format cyclonedx -o "$work/$n.kensa.json" "$a"
  if command -v syft >/dev/null; then
    SYFT_CHECK_FOR_APP_UPDATE=false syft -q "docker-archive:$a" -o "cyclonedx-json=$work/$n.syft.json"
  fi
  if command -v trivy >/dev/null; then
    TRIVY_CACHE_DIR="$work/trivy-cache" trivy image -q --input "$a" --format cyclonedx --scanners vuln \
      --skip-db-update --skip-java-db-update --offline-scan --output "$work/$n.trivy.json" 2>"$work/$n.trivy.err" ||
      TRIVY_CACHE_DIR="$work/trivy-cache" trivy image -q --input "$a" --format cyclonedx \
        --skip-db-update --offline-scan --output "$work/$n.trivy.json" 2>>"$work/$n.trivy.err" || cat "$work/$n.trivy.err" >&2
  fi
done
python3 - "$work" "${names[@]}" <<'PY'
import json, os, sys, urllib.parse
work, names = sys.argv[1], sys.argv[2:]
def comps(path):
    if not os.path.exists(path): return None
    out = set()
    def walk(cs):
        for c in cs or []:
            p = c.get("purl")
            if p and p.startswith("pkg:"):
                typ, rest = p[4:].split("/", 1)
                rest, _, frag = rest.partition("#")
                rest, _, query = rest.partition("?")
                name, _, ver = rest.rpartition("@")
                name = urllib.parse.unquote(name)
                ver = urllib.parse.unquote(ver)
                # Trivy puts a Debian epoch in a qualifier, kensa and Syft
                # in the version ("1:2.3"): compare in the version form.
                q = urllib.parse.parse_qs(query)
                if "epoch" in q and q["epoch"][0] not in ("", "0") and ":" not in ver:
                    ver = q["epoch"][0] + ":" + ver
                # Go module versions: kensa keeps the "v", Syft drops it.
                if typ == "golang" and ver.startswith("v"): ver = ver[1:]
                if typ in ("deb", "rpm", "apk"): name = name.split("/")[-1]
                if typ == "pypi": name = name.lower().replace("_", "-")
                out.add((typ, name, ver))
            walk(c.get("components"))
    walk(json.load(open(path)).get("components"))
    return out
tools = ["kensa", "syft", "trivy"]
print("| image | type | all agree | kensa | syft | trivy | only kensa | only syft | only trivy |")
print("|---|---|---|---|---|---|---|---|---|")
details = []
for n in names:
    sets = {t: comps(f"{work}/{n}.{t}.json") for t in tools}
    have = {t: s for t, s in sets.items() if s is not None}
    types = sorted({p[0] for s in have.values() for p in s})
    for typ in types:
        per = {t: {p for p in s if p[0] == typ} for t, s in have.items()}
        common = set.intersection(*per.values()) if per else set()
        only = {}
        for t in have:
            others = [per[o] for o in have if o != t]
            only[t] = per[t] - set.union(*others) if others else set()
        cell = lambda t: str(len(per[t])) if t in per else "-"
        oc = lambda t: str(len(only[t])) if t in only else "-"
        print(f"| {n} | {typ} | {len(common)} | {cell('kensa')} | {cell('syft')} | {cell('trivy')} | {oc('kensa')} | {oc('syft')} | {oc('trivy')} |")
        for t in have:
            for p in sorted(only[t])[:15]:
                details.append(f"{n} {typ}: only {t}: {p[1]} {p[2]}")
            if len(have) == 3:
                others = [per[o] for o in have if o != t]
                for p in sorted(set.intersection(*others) - per[t])[:15]:
                    details.append(f"{n} {typ}: all but {t}: {p[1]} {p[2]}")
for d in details: print(d)
PY
