#!/usr/bin/env bash
# Builds a large image (default ≥ 1 GB uncompressed) for benchmarks only — not
# run in CI. FROM debian-base (scripts/build-test-images.sh builds it), with:
#   layer 1  incompressible random files (30% of the size)
#   layer 2  compressible text: number sequences and base64 (35%)
#   layer 3  many small files (~1 KB each, 8%)
#   layer 4  deletes a third of the random files and rewrites some text files
#            (layer waste for KS-IM-012 / efficiency score)
#   layer 5  more random files (27%)
# and exports it like the test images: big.docker.tar, big.oci.tar, big.oci/.
#
# Usage: bench/build-big-image.sh [--size-mb N]      (default 1100)
# Output: $KENSA_BENCH_IMAGES, default <repo>/.cache/benchimages. Rebuilt only
# when the size or this script changed. Needs root (re-runs with sudo), buildah,
# and about 8× the size in free disk while building (vfs storage copies each
# layer), removed at the end.
set -euo pipefail

SCRIPT_VERSION=1
size_mb=1100
while [ $# -gt 0 ]; do
  case "$1" in
    --size-mb) size_mb="${2:?--size-mb needs a number}"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-big-image: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$size_mb" in ''|*[!0-9]*) echo "build-big-image: --size-mb wants a whole number, got $size_mb" >&2; exit 2 ;; esac
[ "$size_mb" -ge 20 ] || { echo "build-big-image: --size-mb must be at least 20" >&2; exit 2; }

repo="$(cd "$(dirname "$0")/.." && pwd)"
if [ "$(id -u)" != 0 ]; then
  exec sudo -E env "PATH=$PATH" "$0" "$@"
fi
out="${KENSA_BENCH_IMAGES:-$repo/.cache/benchimages}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
exec 9>"$out/.lock"
flock 9

stamp="version=$SCRIPT_VERSION size_mb=$size_mb"
if [ "$(cat "$out/big.inputs" 2>/dev/null)" = "$stamp" ] && [ -s "$out/big.docker.tar" ] && [ -s "$out/big.oci.tar" ] && [ -s "$out/big.oci/index.json" ]; then
  echo "big image up to date in $out ($stamp)"
  exit 0
fi

# debian-base comes from the test images (built if needed).
"$repo/scripts/build-test-images.sh" debian-base >/dev/null
base="${KENSA_TEST_IMAGES:-$repo/.cache/testimages}/debian-base.oci.tar"

st="$out/.buildah"
rm -rf "$st"
mkdir -p "$st/root" "$st/run" "$st/tmp" "$st/ctx"
printf '[storage]\ndriver = "vfs"\ngraphroot = "%s"\nrunroot = "%s"\n' "$st/root" "$st/run" >"$st/storage.conf"
echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$st/policy.json"
printf 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n' >"$st/registries.conf"
export CONTAINERS_STORAGE_CONF="$st/storage.conf" CONTAINERS_REGISTRIES_CONF="$st/registries.conf" TMPDIR="$st/tmp" BUILDAH_ISOLATION=chroot
bh() { buildah --root "$st/root" --runroot "$st/run" --storage-driver vfs "$@"; }
cleanup() { bh rm --all >/dev/null 2>&1 || true; bh rmi --all --force >/dev/null 2>&1 || true; rm -rf "$st"; }
trap cleanup EXIT

bh pull --quiet --signature-policy "$st/policy.json" "oci-archive:$base" >/dev/null
bh tag "$(bh images --quiet --no-trunc | head -n1)" localhost/debian-base:latest

rand_mb=$((size_mb * 30 / 100))
text_mb=$((size_mb * 35 / 100))
many_mb=$((size_mb * 8 / 100))
rand2_mb=$((size_mb * 27 / 100))
cat >"$st/ctx/Dockerfile" <<EOF
FROM localhost/debian-base:latest
RUN mkdir -p /data/random && for i in \$(seq 1 $((rand_mb / 10))); do head -c 10485760 /dev/urandom > /data/random/part-\$i.bin; done
RUN mkdir -p /data/text && for i in \$(seq 1 $((text_mb / 20))); do seq 1 2000000 | head -c 10485760 > /data/text/seq-\$i.txt; head -c 7864320 /dev/urandom | base64 > /data/text/b64-\$i.txt; done
RUN mkdir -p /data/many && head -c $((many_mb * 1048576 * 3 / 4)) /dev/urandom | base64 -w 0 | split -b 1024 -a 6 - /data/many/f-
RUN rm -f /data/random/part-*[036].bin && for f in /data/text/seq-1*.txt; do echo rewritten > "\$f"; done && rm -rf /data/many/f-aaa*
RUN mkdir -p /data/random2 && for i in \$(seq 1 $((rand2_mb / 10))); do head -c 10485760 /dev/urandom > /data/random2/part-\$i.bin; done
CMD ["bash"]
EOF
t0=$SECONDS
echo "== building big image ($size_mb MB of data) in $st"
bh bud --quiet --isolation chroot --pull=never --layers --no-cache --signature-policy "$st/policy.json" \
  -t localhost/big:latest "$st/ctx" >/dev/null
echo "== built in $((SECONDS - t0))s, exporting"
rm -rf "$out"/big.*
for dest in "docker-archive:$out/big.docker.tar:big:latest" "oci-archive:$out/big.oci.tar:big:latest" "oci:$out/big.oci:big:latest"; do
  bh push --quiet --signature-policy "$st/policy.json" localhost/big:latest "$dest"
done
echo "$stamp" >"$out/big.inputs"
if [ -n "${SUDO_UID:-}" ]; then
  find "$out" -mindepth 1 -maxdepth 1 -name 'big.*' -exec chown -R "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" {} +
fi
printf 'big image in %ss: docker.tar %s, oci.tar %s, oci/ %s (in %s)\n' "$((SECONDS - t0))" \
  "$(du -sh "$out/big.docker.tar" | cut -f1)" "$(du -sh "$out/big.oci.tar" | cut -f1)" "$(du -sh "$out/big.oci" | cut -f1)" "$out"
