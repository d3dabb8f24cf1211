#!/usr/bin/env bash
# Peak-RSS scaling of a cold `kensa scan` on synthetic docker-archives:
#   paths  10k, 100k and 300k files of 100 bytes (growing path count), and
#   bytes  1,000 files of 16 KiB, 256 KiB and 1 MiB (16 MB to 1 GB of
#          files at a constant path count).
# Each archive has two layers: the files, then a layer deleting every
# tenth of them (whiteouts), so the merge and history do real work.
# Prints one Markdown row per archive: max RSS over RUNS runs (default 3)
# and the slope in bytes of RSS per path between the path archives.
#
# Usage: bench/rss.sh [KENSA_BINARY...]   (default: built from this tree;
#   several binaries give one column each, e.g. before/after a change)
# Env: RUNS, WORK (where the archives are generated and kept; default a
#   temp dir removed at the end; ~1.6 GB).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
runs="${RUNS:-3}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
work="${WORK:-$tmp}"
mkdir -p "$work"

bins=("$@")
if [ ${#bins[@]} -eq 0 ]; then
  (cd "$repo" && go build -o "$tmp/kensa" ./cmd/kensa)
  bins=("$tmp/kensa")
fi

vulndata="$repo/../shared/vulndata/osv"
[ -d "$vulndata" ] || vulndata=/work/shared/vulndata/osv
db="$tmp/kensa.db"
if [ -d "$vulndata" ]; then
  "${bins[0]}" db import --db "$db" -q "$vulndata"/* >/dev/null
  scanners=misconfig,secret,vuln
else
  scanners=misconfig,secret,inventory
fi

# mkarchive OUT FILES SIZE: a docker-archive of FILES files of SIZE bytes.
mkarchive() {
  [ -s "$1" ] && return 0
  python3 - "$@" <<'PY'
import hashlib, io, json, os, sys, tarfile
out, files, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
tmp = out + '.d'
os.makedirs(tmp, exist_ok=True)
def name(i):
    return 'data/d%03d/sub%02d/file-%07d.txt' % (i % 500, (i // 500) % 20, i)
def layer(path, members):
    with tarfile.open(path, 'w', format=tarfile.PAX_FORMAT) as tf:
        for n, data in members:
            ti = tarfile.TarInfo(n)
            ti.size, ti.mode = len(data), 0o644
            tf.addfile(ti, io.BytesIO(data))
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for b in iter(lambda: f.read(1 << 20), b''):
            h.update(b)
    return 'sha256:' + h.hexdigest()
body = (b'lorem ipsum dolor sit amet ' * (size // 27 + 1))[:size]
d1 = layer(tmp + '/l1.tar', ((name(i), body) for i in range(files)))
d2 = layer(tmp + '/l2.tar', ((os.path.dirname(name(i)) + '/.wh.' + os.path.basename(name(i)), b'') for i in range(0, files, 10)))
cfg = {"architecture": "amd64", "os": "linux", "config": {"User": "1000"},
       "rootfs": {"type": "layers", "diff_ids": [d1, d2]},
       "history": [{"created_by": "COPY data /data"}, {"created_by": "RUN rm -f some"}]}
with open(tmp + '/config.json', 'w') as f:
    json.dump(cfg, f)
with open(tmp + '/manifest.json', 'w') as f:
    json.dump([{"Config": "config.json", "RepoTags": ["rss:test"], "Layers": ["l1.tar", "l2.tar"]}], f)
with tarfile.open(out + '.part', 'w') as tf:
    for n in ['manifest.json', 'config.json', 'l1.tar', 'l2.tar']:
        tf.add(tmp + '/' + n, arcname=n)
for n in os.listdir(tmp):
    os.remove(tmp + '/' + n)
os.rmdir(tmp)
os.rename(out + '.part', out)
PY
}

# rss BINARY ARCHIVE: the highest max RSS (KB) of $runs cold scans.
rss() {
  local best=0 m
  for _ in $(seq "$runs"); do
    /usr/bin/time -f %M -o "$tmp/time" "$1" scan -q --format json --no-cache --scanners "$scanners" --db "$db" "$2" >/dev/null 2>&1 || true
    m=$(tail -1 "$tmp/time")
    [ "$m" -gt "$best" ] && best=$m
  done
  echo "$best"
}

declare -A spec=([paths-10k]="10000 100" [paths-100k]="100000 100" [paths-300k]="300000 100"
  [bytes-16M]="1000 16384" [bytes-256M]="1000 262144" [bytes-1G]="1000 1048576")
order=(paths-10k paths-100k paths-300k bytes-16M bytes-256M bytes-1G)

printf '| archive |'; for b in "${bins[@]}"; do printf ' %s |' "$(basename "$b")"; done; printf '\n|---|'
for _ in "${bins[@]}"; do printf -- '---|'; done; printf '\n'
declare -A got
for a in "${order[@]}"; do
  # shellcheck disable=SC2086
  mkarchive "$work/$a.tar" ${spec[$a]}
  printf '| %s (%s MB) |' "$a" "$(du -m "$work/$a.tar" | cut -f1)"
  for i in "${!bins[@]}"; do
    m=$(rss "${bins[$i]}" "$work/$a.tar")
    got[$a,$i]=$m
    printf ' %s MB |' "$((m / 1024))"
  done
  printf '\n'
done
printf '| RSS slope, paths-10k to paths-300k |'
for i in "${!bins[@]}"; do
  printf ' %s B/path |' "$(( (got[paths-300k,$i] - got[paths-10k,$i]) * 1024 / 290000 ))"
done
printf '\n'
