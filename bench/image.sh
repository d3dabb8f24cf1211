#!/usr/bin/env bash
# Image-scanning benchmark: cold scan, warm rescan and peak RSS of
# `kensa scan` on image archives, against
#   - the floor of merely decompressing the same layers once
#     (tar -xOf of the layer members | gzip -dc > /dev/null, or the plain
#     read for uncompressed docker-archive layers), and
#   - the verify floor (bench/floor): the same layers read, gunzipped and
#     hashed with SHA-256 one after another, which kensa must do at least to
#     check each layer against its DiffID, and
#   - osv-scanner scan image --archive --offline-vulnerabilities on the same
#     docker-archive (both with the OSV records of ../shared/vulndata when
#     present, imported into each tool's own offline store).
#
# Usage: bench/image.sh [ARCHIVE...]
#   default: the debian-base test image (docker-archive and OCI archive) and,
#   when bench/build-big-image.sh has run, the big image.
# Env: KENSA (binary, default: built into a temp dir), OSV_SCANNER (default
#   /root/go/bin/osv-scanner), RUNS (repetitions, default 3: the best is kept).
# Output: one Markdown table row per archive (paste into bench/README.md).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
runs="${RUNS:-3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
osv="${OSV_SCANNER:-/root/go/bin/osv-scanner}"

kensa="${KENSA:-}"
if [ -z "$kensa" ]; then
  kensa="$work/kensa"
  (cd "$repo" && go build -o "$kensa" ./cmd/kensa)
fi

archives=("$@")
if [ ${#archives[@]} -eq 0 ]; then
  ti="${KENSA_TEST_IMAGES:-$repo/.cache/testimages}"
  bi="${KENSA_BENCH_IMAGES:-$repo/.cache/benchimages}"
  for a in "$ti/debian-base.docker.tar" "$ti/debian-base.oci.tar" "$bi/big.docker.tar" "$bi/big.oci.tar"; do
    [ -f "$a" ] && archives+=("$a")
  done
fi
[ ${#archives[@]} -gt 0 ] || { echo "bench/image.sh: no archives (run scripts/build-test-images.sh)" >&2; exit 1; }

# Vulnerability data for both tools.
vulndata="$repo/../shared/vulndata/osv"
[ -d "$vulndata" ] || vulndata=/work/shared/vulndata/osv
kdb="$work/kensa.db"
export OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY="$work/osvdb"
if [ -d "$vulndata" ]; then
  "$kensa" db import --db "$kdb" -q "$vulndata"/* >/dev/null
  for eco in "$vulndata"/*; do
    d="$OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY/osv-scanner/$(basename "$eco")"
    mkdir -p "$d"
    (cd "$eco" && zip -qr "$d/all.zip" .)
  done
  scanners=misconfig,secret,vuln
else
  scanners=misconfig,secret,inventory
fi

# measure CMD...: runs CMD $runs times (PRE, when set, runs before each);
# prints "<best wall s> <best cpu s> <max RSS KB>". CPU (user+sys) is the
# steadier figure on a shared machine.
measure() {
  local bw="" bc="" rss=0 w c m
  for _ in $(seq "$runs"); do
    [ -n "${PRE:-}" ] && eval "$PRE"
    /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$@" >/dev/null 2>"$work/err" || true
    read -r w u s m < <(tail -1 "$work/time") || true
    c=$(awk "BEGIN{print $u+$s}")
    if [ -z "$bw" ] || awk "BEGIN{exit !($w < $bw)}"; then bw="$w"; fi
    if [ -z "$bc" ] || awk "BEGIN{exit !($c < $bc)}"; then bc="$c"; fi
    [ "$m" -gt "$rss" ] && rss="$m"
  done
  echo "$bw $bc $rss"
}

# floor.sh ARCHIVE: read each layer member once; gunzip the gzip ones.
cat >"$work/floor.sh" <<'FLOOR'
set -eu
a="$1"
for m in $(tar -tf "$a" | grep -E '^(blobs/sha256/[0-9a-f]{64}|[0-9a-f]{64}(\.tar)?|[0-9a-f]{64}/layer\.tar)$'); do
  if tar -xOf "$a" "$m" | head -c 2 | od -An -tx1 | grep -q '1f 8b'; then
    tar -xOf "$a" "$m" | gzip -dc >/dev/null
  else
    size=$(tar -tvf "$a" "$m" | awk '{print $3}')
    [ "$size" -gt 65536 ] && tar -xOf "$a" "$m" >/dev/null
  fi
done
FLOOR
# bench/floor: the verify floor (read, gunzip, SHA-256 every layer once,
# one after another; no parsing, no analysis).
(cd "$repo" && go build -o "$work/floor" ./bench/floor)

div() { awk "BEGIN{printf \"%.2f\", $1/$2}"; }

printf '| archive | size | floor wall / cpu | verify floor wall / cpu | kensa cold wall / cpu | cold/floor (wall, cpu) | cold/verify floor (wall) | kensa warm wall | osv-scanner wall / cpu | cold/osv (wall, cpu) | RSS kensa cold / warm | RSS osv |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|---|\n'
for a in "${archives[@]}"; do
  size=$(du -m "$a" | cut -f1)
  # The floor's member probing adds a little: it is an upper bound.
  read -r fw fc _ < <(measure bash "$work/floor.sh" "$a")
  read -r vw vc _ < <(measure "$work/floor" "$a")
  read -r cw cc cm < <(PRE='rm -rf "$work/cache"' measure "$kensa" scan -q --format json --scanners "$scanners" --db "$kdb" --cache-dir "$work/cache" "$a")
  read -r ww _ wm < <(measure "$kensa" scan -q --format json --scanners "$scanners" --db "$kdb" --cache-dir "$work/cache" "$a")
  ow="n/a"; oc="n/a"; om=0; rw="n/a"; rc="n/a"
  case "$a" in
    *.docker.tar)
      read -r ow oc om < <(measure "$osv" scan image --archive --offline-vulnerabilities "$a")
      rw=$(div "$cw" "$ow"); rc=$(div "$cc" "$oc") ;;
  esac
  osvcol="n/a"; osvrss="n/a"
  if [ "$ow" != "n/a" ]; then osvcol="${ow}s / ${oc}s"; osvrss="$((om / 1024)) MB"; fi
  vcol="${vw}s / ${vc}s"; vr=$(div "$cw" "$vw")
  printf '| %s | %s MB | %ss / %ss | %s | %ss / %ss | %s, %s | %s | %ss | %s | %s, %s | %s / %s MB | %s |\n' \
    "$(basename "$a")" "$size" "$fw" "$fc" "$vcol" "$cw" "$cc" "$(div "$cw" "$fw")" "$(div "$cc" "$fc")" "$vr" "$ww" \
    "$osvcol" "$rw" "$rc" "$((cm / 1024))" "$((wm / 1024))" "$osvrss"
done
