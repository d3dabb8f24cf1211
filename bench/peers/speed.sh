#!/usr/bin/env bash
# Speed and memory side by side (issue 14): kensa vs Trivy (secret +
# misconfig scanners, offline, no vulnerability DB needed) and vs Syft and
# Trivy for the inventory (an SBOM), on image archives, cold (empty caches)
# and warm (the same command again with the caches it left). Runs are
# interleaved (kensa, trivy, syft, kensa, ...) so a machine whose speed
# drifts hurts every tool alike; each cell is the median of RUNS runs, wall
# seconds and peak RSS (/usr/bin/time). Not run by .ci/run.
#
# Usage: bench/peers/speed.sh [ARCHIVE...]
#   default: the test images' docker-archives and, when
#   bench/build-big-image.sh has run, big.docker.tar.
# Env: RUNS (default 5), TRIVY, SYFT (default: on PATH or ~/go/bin).
# Output: Markdown table rows on stdout (paste into bench/README.md).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
runs="${RUNS:-5}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
gobin="$(go env GOPATH)/bin"
trivy="${TRIVY:-$(command -v trivy || echo "$gobin/trivy")}"
syft="${SYFT:-$(command -v syft || echo "$gobin/syft")}"
for t in "$trivy" "$syft"; do
  [ -x "$t" ] || { echo "speed.sh: $t not found (see ../shared/PEERS.md)" >&2; exit 1; }
done
(cd "$repo" && go build -o "$work/kensa" ./cmd/kensa)
kensa="$work/kensa"

archives=("$@")
if [ ${#archives[@]} -eq 0 ]; then
  ti="${KENSA_TEST_IMAGES:-$repo/.cache/testimages}"
  bi="${KENSA_BENCH_IMAGES:-$repo/.cache/benchimages}"
  for n in debian-base leaky gobin npm python java kensa; do
    [ -f "$ti/$n.docker.tar" ] && archives+=("$ti/$n.docker.tar")
  done
  [ -f "$bi/big.docker.tar" ] && archives+=("$bi/big.docker.tar")
fi

# measure NAME CMD...: run CMD once, append "wall rss_kb" to $work/NAME.
measure() {
  local name="$1"
  shift
  /usr/bin/time -f '%e %M' -o "$work/time.out" "$@" >/dev/null 2>"$work/err.out" || {
    echo "speed.sh: $name failed: $(tail -n 3 "$work/err.out")" >&2
    echo "nan 0" >>"$work/$name"
    return 0
  }
  cat "$work/time.out" >>"$work/$name"
}
median() { # FILE COLUMN
  awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'
}
cell() { # NAME -> "1.23 s / 45 MB"
  printf '%s s / %d MB' "$(median "$work/$1" 1)" "$(( $(median "$work/$1" 2 | cut -d. -f1) / 1024 ))"
}
ratio() { # A B -> A/B of the median walls
  awk -v a="$(median "$work/$1" 1)" -v b="$(median "$work/$2" 1)" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'
}

echo "| archive | size | job | kensa cold | kensa warm | trivy cold | trivy warm | syft | kensa/best peer (cold, warm) |"
echo "|---|---|---|---|---|---|---|---|---|"
for a in "${archives[@]}"; do
  base="$(basename "$a")"
  size="$(du -m "$a" | cut -f1) MB"
  rm -f "$work"/k-* "$work"/t-* "$work"/s-*
  for ((i = 0; i < runs; i++)); do
    # Secret + misconfig scanning of the image.
    kc="$work/kcache"; tc="$work/tcache"
    rm -rf "$kc" "$tc"
    measure k-sec-cold "$kensa" scan --cache-dir "$kc" --scanners secret,misconfig --format json -o /dev/null "$a"
    measure k-sec-warm "$kensa" scan --cache-dir "$kc" --scanners secret,misconfig --format json -o /dev/null "$a"
    measure t-sec-cold env TRIVY_CACHE_DIR="$tc" "$trivy" image --quiet --input "$a" --scanners secret,misconfig \
      --skip-db-update --skip-check-update --offline-scan --format json -o /dev/null
    measure t-sec-warm env TRIVY_CACHE_DIR="$tc" "$trivy" image --quiet --input "$a" --scanners secret,misconfig \
      --skip-db-update --skip-check-update --offline-scan --format json -o /dev/null
    # Inventory: a CycloneDX SBOM.
    rm -rf "$kc" "$tc"
    measure k-inv-cold "$kensa" sbom --cache-dir "$kc" --format cyclonedx -o /dev/null "$a"
    measure k-inv-warm "$kensa" sbom --cache-dir "$kc" --format cyclonedx -o /dev/null "$a"
    measure t-inv-cold env TRIVY_CACHE_DIR="$tc" "$trivy" image --quiet --input "$a" \
      --offline-scan --format cyclonedx -o /dev/null
    measure t-inv-warm env TRIVY_CACHE_DIR="$tc" "$trivy" image --quiet --input "$a" \
      --offline-scan --format cyclonedx -o /dev/null
    measure s-inv env SYFT_CHECK_FOR_APP_UPDATE=false "$syft" scan -q "docker-archive:$a" -o cyclonedx-json=/dev/null
  done
  best_sec_cold="t-sec-cold"; best_sec_warm="t-sec-warm"
  printf '| %s | %s | secret+misconfig | %s | %s | %s | %s | — | %s, %s |\n' "$base" "$size" \
    "$(cell k-sec-cold)" "$(cell k-sec-warm)" "$(cell t-sec-cold)" "$(cell t-sec-warm)" \
    "$(ratio k-sec-cold $best_sec_cold)" "$(ratio k-sec-warm $best_sec_warm)"
  # The fastest inventory peer, cold: Trivy or Syft (Syft keeps no cache).
  best_inv="s-inv"
  if awk -v t="$(median "$work/t-inv-cold" 1)" -v s="$(median "$work/s-inv" 1)" 'BEGIN{exit !(t < s)}'; then best_inv="t-inv-cold"; fi
  best_inv_warm="s-inv"
  if awk -v t="$(median "$work/t-inv-warm" 1)" -v s="$(median "$work/s-inv" 1)" 'BEGIN{exit !(t < s)}'; then best_inv_warm="t-inv-warm"; fi
  printf '| %s | %s | inventory (CycloneDX) | %s | %s | %s | %s | %s | %s, %s |\n' "$base" "$size" \
    "$(cell k-inv-cold)" "$(cell k-inv-warm)" "$(cell t-inv-cold)" "$(cell t-inv-warm)" "$(cell s-inv)" \
    "$(ratio k-inv-cold $best_inv)" "$(ratio k-inv-warm $best_inv_warm)"
done
