#!/bin/sh
# Records a CPU profile for profile-guided optimisation of kensa. PGO was
# evaluated and NOT adopted (bench/README.md, "Dockerfile linting"): to use
# it, copy the output to cmd/kensa/default.pgo (-pgo=auto then picks it up)
# and build bench/lint.sh's benchmark with -pgo=$(pwd)/cmd/kensa/default.pgo.
#
# The profile is what the binary really does, half and half by CPU time:
#   - lint: `kensa scan` of every Dockerfile of the shared corpus
#     (parse, shell parsing, every KS-DF check, build-context rules);
#   - image: `kensa scan --no-cache` of the test images (layer walk,
#     inventory, secrets, vulnerability matching against the OSV records
#     of the shared vulndata, imported into a scratch DB).
# Each half is recorded by bench/pgo (cli.Main under pprof) for $PGO_SECONDS
# of CPU (default 20), then merged with `go tool pprof -proto`.
#
# Needs: /work/shared/corpus (or $KENSA_CORPUS), .cache/testimages
# (scripts/build-test-images.sh), /work/shared/vulndata (optional: without
# it vulnerability matching is left out of the profile).
# Usage: bench/pgo.sh [OUT]      (default OUT: /tmp/kensa.pgo)
set -eu
case "${1:-}" in /*) out="$1" ;; "") out=/tmp/kensa.pgo ;; *) out="$(pwd)/$1" ;; esac
cd "$(dirname "$0")/.."
secs="${PGO_SECONDS:-20}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

corpus="${KENSA_CORPUS:-../shared/corpus/dockerfiles}"
[ -d "$corpus" ] || corpus=/work/shared/corpus/dockerfiles
images="${KENSA_TEST_IMAGES:-.cache/testimages}"
vulndata=../shared/vulndata/osv
[ -d "$vulndata" ] || vulndata=/work/shared/vulndata/osv
for need in "$corpus" "$images/debian-base.docker.tar"; do
  [ -e "$need" ] || { echo "bench/pgo.sh: $need missing" >&2; exit 1; }
done

go build -o "$work/pgo" ./bench/pgo
go build -o "$work/kensa" ./cmd/kensa

dockerfiles=$(find "$corpus" -maxdepth 1 -type f ! -name '*.template.*' | sort)
"$work/pgo" -o "$work/lint.pprof" -for "${secs}s" -args "scan -q --format json" $dockerfiles

dbflag=""
if [ -d "$vulndata" ]; then
  "$work/kensa" db import --db "$work/kensa.db" -q "$vulndata"/* >/dev/null
  dbflag="--db $work/kensa.db"
fi
imgs=""
for i in debian-base.docker.tar npm.oci.tar gobin.docker.tar leaky.oci.tar; do
  [ -f "$images/$i" ] && imgs="$imgs $images/$i"
done
"$work/pgo" -o "$work/image.pprof" -for "${secs}s" \
  -args "scan -q --format json --no-cache --cache-dir $work/cache $dbflag" $imgs

go tool pprof -proto "$work/lint.pprof" "$work/image.pprof" > "$work/default.pgo"
mv "$work/default.pgo" "$out"
echo "bench/pgo.sh: wrote $out ($(wc -c < "$out") bytes)"
