#!/usr/bin/env bash
# Builds the real container images kensa's tests scan, with buildah, and exports
# each one in three forms:
#
#   <name>.docker.tar   docker-archive (what `docker save` writes)
#   <name>.oci.tar      OCI archive
#   <name>.oci/         OCI image layout folder
#
# Images (Dockerfiles and build inputs in testdata/images/<name>/):
#   debian-base  debootstrap --variant=minbase bookworm root, imported with ADD.
#                Also writes debian-base.dpkg-query.txt (dpkg-query -W run inside
#                the rootfs) and debian-base.rootfs.tar.gz.
#   leaky        FROM debian-base: secret copied then deleted, credentials in Env
#                and in history, setuid file, world-writable dir, apt lists, SSH.
#   gobin        FROM debian-base + a static Go binary pinning golang.org/x/text v0.3.0.
#   npm          FROM debian-base + a node_modules tree installed by npm ci.
#   python       FROM debian-base + Debian's python3-urllib3, -requests, -jinja2,
#                -cryptography and -yaml, installed by apt (network: deb.debian.org).
#                Also writes python.dpkg-query.txt (dpkg-query -W in the image).
#   java         FROM debian-base + Debian's libcommons-lang3-java, -text, jackson2
#                databind, guava and log4j2 jars, installed by apt (no JRE).
#                Also writes java.dpkg-query.txt (dpkg-query -W in the image).
#   kensa        kensa's own image from the repository's Dockerfile (multi-stage,
#                FROM scratch, non-root), built with a toolchain image made of
#                debian-base and this machine's Go (GO_IMAGE build argument); the
#                host's module and build caches are mounted into the build.
#
# Output folder: $KENSA_TEST_IMAGES, default <repo>/.cache/testimages.
# Incremental: an image is rebuilt only when the hash of its inputs (Dockerfile,
# build inputs, base image, this script's version) changed or an output is
# missing. The debootstrap result is cached outside the repo in
# ${XDG_CACHE_HOME:-$HOME/.cache}/kensa-ci/ and refreshed after 7 days.
#
# Usage: scripts/build-test-images.sh [--force] [IMAGE...]
# Needs root (re-runs itself with sudo otherwise), buildah, skopeo, debootstrap,
# go, and npm for the npm image.
set -euo pipefail

# Bump when the way images are built changes: every image is rebuilt.
SCRIPT_VERSION=2
ALL_IMAGES=(debian-base leaky gobin npm python java kensa)

repo="$(cd "$(dirname "$0")/.." && pwd)"
out="${KENSA_TEST_IMAGES:-$repo/.cache/testimages}"

if [ "$(id -u)" != 0 ]; then
  exec sudo -E env "PATH=$PATH" "$0" "$@"
fi

force=0
want=()
for a in "$@"; do
  case "$a" in
    --force) force=1 ;; # rebuild the named images (all if none named)
    -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "build-test-images: unknown flag $a" >&2; exit 2 ;;
    *) want+=("$a") ;;
  esac
done
[ ${#want[@]} -gt 0 ] || want=("${ALL_IMAGES[@]}")
for w in "${want[@]}"; do
  case " ${ALL_IMAGES[*]} " in *" $w "*) ;; *) echo "build-test-images: unknown image $w (have: ${ALL_IMAGES[*]})" >&2; exit 2 ;; esac
done

tools=(buildah skopeo debootstrap go sha256sum flock)
case " ${want[*]} " in *" npm "*) tools+=(npm) ;; esac # only the npm image runs npm
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "build-test-images: $tool not found (run scripts/setup.sh)" >&2; exit 1; }
done

mkdir -p "$out"
out="$(cd "$out" && pwd)"
# One build at a time per output folder (several engineers/tests share it).
exec 9>"$out/.lock"
flock 9

cache="${XDG_CACHE_HOME:-$HOME/.cache}/kensa-ci"
mkdir -p "$cache"

# Private buildah storage, config and policy: nothing collides with other users
# of buildah on this machine.
st="$out/.buildah"
mkdir -p "$st/root" "$st/run" "$st/tmp"
cat >"$st/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$st/root"
runroot = "$st/run"
EOF
cat >"$st/policy.json" <<'EOF'
{"default":[{"type":"insecureAcceptAnything"}]}
EOF
printf 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n' >"$st/registries.conf"
export CONTAINERS_STORAGE_CONF="$st/storage.conf"
export CONTAINERS_REGISTRIES_CONF="$st/registries.conf"
export TMPDIR="$st/tmp"
export BUILDAH_ISOLATION=chroot
bh() { buildah --root "$st/root" --runroot "$st/run" --storage-driver vfs "$@"; }

work="$(mktemp -d "$st/tmp/work.XXXXXX")"
cleanup() {
  bh rm --all >/dev/null 2>&1 || true
  # Keep only debian-base in the private storage (vfs copies every layer in
  # full); derived images are rebuilt from it, and it is reloaded from its
  # archive when missing.
  local n
  for n in "${ALL_IMAGES[@]}"; do
    [ "$n" = debian-base ] || bh rmi --force "localhost/$n:latest" >/dev/null 2>&1 || true
  done
  bh rmi --force localhost/kensa-go:latest >/dev/null 2>&1 || true
  bh rmi --prune >/dev/null 2>&1 || true
  rm -rf "$work"
  # Hand the exports (not the private storage: its files carry the images'
  # own ownership) back to the user who ran sudo.
  if [ -n "${SUDO_UID:-}" ]; then
    find "$out" -mindepth 1 -maxdepth 1 ! -name .buildah -exec chown -R "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" {} + 2>/dev/null || true
  fi
}
trap cleanup EXIT

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'build-test-images: %s\n' "$*" >&2; exit 1; }

# hash_inputs FILE_OR_DIR... : one sha256 over the names and contents of all files.
# Set HASH_EXTRA to fold in more text (a toolchain version).
hash_inputs() {
  {
    echo "script-version $SCRIPT_VERSION"
    if [ -n "${HASH_EXTRA:-}" ]; then echo "extra $HASH_EXTRA"; fi
    for p in "$@"; do
      if [ -d "$p" ]; then
        (cd "$p" && find . -type f ! -path './node_modules/*' -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
      else
        sha256sum "$p" | sed "s|  .*|  $(basename "$p")|"
      fi
    done
  } | sha256sum | cut -d' ' -f1
}

outputs_exist() {
  local n="$1"
  [ -s "$out/$n.docker.tar" ] && [ -s "$out/$n.oci.tar" ] && [ -s "$out/$n.oci/index.json" ]
}

up_to_date() {
  local n="$1" h="$2"
  if [ "$force" = 1 ]; then
    case " ${want[*]} " in *" $n "*) return 1 ;; esac
  fi
  outputs_exist "$n" && [ "$(cat "$out/$n.inputs" 2>/dev/null)" = "$h" ]
}

# ensure_base: debian-base must be in the private storage for FROM debian-base.
ensure_base() {
  bh inspect --type image localhost/debian-base:latest >/dev/null 2>&1 && return 0
  outputs_exist debian-base || die "debian-base outputs missing; build it first"
  log "loading debian-base into private storage"
  local id
  id="$(bh pull --quiet --signature-policy "$st/policy.json" "oci-archive:$out/debian-base.oci.tar" | tail -n1)"
  [ -n "$id" ] || die "could not load debian-base from $out/debian-base.oci.tar"
  bh tag "$id" localhost/debian-base:latest
}

# export_image NAME: push localhost/NAME:latest to the three forms, atomically.
export_image() {
  local n="$1" ref="localhost/$1:latest"
  rm -rf "$out/$n.docker.tar.tmp" "$out/$n.oci.tar.tmp" "$out/$n.oci.tmp"
  bh push --quiet --signature-policy "$st/policy.json" "$ref" "docker-archive:$out/$n.docker.tar.tmp:$n:latest"
  bh push --quiet --signature-policy "$st/policy.json" "$ref" "oci-archive:$out/$n.oci.tar.tmp:$n:latest"
  bh push --quiet --signature-policy "$st/policy.json" "$ref" "oci:$out/$n.oci.tmp:$n:latest"
  mv -f "$out/$n.docker.tar.tmp" "$out/$n.docker.tar"
  mv -f "$out/$n.oci.tar.tmp" "$out/$n.oci.tar"
  rm -rf "$out/$n.oci"
  mv "$out/$n.oci.tmp" "$out/$n.oci"
}

# bud NAME CONTEXT: build testdata/images/NAME/Dockerfile as localhost/NAME,
# one layer and one history entry per instruction, as docker does (no extra
# --label: history must match the Dockerfile step for step).
bud() {
  local n="$1" ctx="$2"
  bh rmi --force "localhost/$n:latest" >/dev/null 2>&1 || true
  bh bud --quiet --isolation chroot --pull=never --layers --no-cache \
    --signature-policy "$st/policy.json" \
    -f "$repo/testdata/images/$n/Dockerfile" -t "localhost/$n:latest" "$ctx" >/dev/null
}

# ---- debootstrap, cached outside the repo ---------------------------------
deb_tar="$cache/debootstrap-bookworm-minbase.tar.gz"
deb_pkgs="$cache/debootstrap-bookworm-minbase.dpkg-query.txt"
# shellcheck disable=SC2016 # dpkg-query expands these, not the shell
DPKG_FORMAT='${binary:Package}\t${Version}\t${source:Package}\t${source:Version}\n'

debootstrap_base() {
  if [ -s "$deb_tar" ] && [ -s "$deb_pkgs" ] && [ -n "$(find "$deb_tar" -mtime -7)" ] && [ "${KENSA_REFRESH_DEBOOTSTRAP:-0}" != 1 ]; then
    return 0
  fi
  exec 8>"$cache/.debootstrap.lock"
  flock 8
  local tmp
  tmp="$(mktemp -d "$cache/tmp.XXXXXX")"
  log "debootstrap --variant=minbase bookworm (cached in $cache)"
  local t0=$SECONDS
  if ! debootstrap --variant=minbase bookworm "$tmp/rootfs" http://deb.debian.org/debian >"$tmp/debootstrap.log" 2>&1; then
    tail -n 20 "$tmp/debootstrap.log" >&2
    rm -rf "$tmp"
    die "debootstrap failed (log above)"
  fi
  # What an official base image leaves out: downloaded .debs, device nodes.
  rm -rf "$tmp/rootfs/var/cache/apt/archives/"*.deb "$tmp/rootfs/dev/"* "$tmp/rootfs/var/lib/apt/lists/"*
  mkdir -p "$tmp/rootfs/var/lib/apt/lists/partial"
  chroot "$tmp/rootfs" dpkg-query -W -f "$DPKG_FORMAT" >"$tmp/pkgs.txt"
  tar --numeric-owner --xattrs --sort=name -C "$tmp/rootfs" -czf "$tmp/rootfs.tar.gz" .
  mv -f "$tmp/pkgs.txt" "$deb_pkgs"
  mv -f "$tmp/rootfs.tar.gz" "$deb_tar"
  rm -rf "$tmp"
  log "debootstrap done in $((SECONDS - t0))s"
  exec 8>&-
}

# ---- images ----------------------------------------------------------------
declare -A status took

build_debian_base() {
  debootstrap_base
  local h
  h="$(hash_inputs "$repo/testdata/images/debian-base" "$deb_tar")"
  if up_to_date debian-base "$h" && [ -s "$out/debian-base.dpkg-query.txt" ] && [ -s "$out/debian-base.rootfs.tar.gz" ]; then
    status[debian-base]=reused; return 0
  fi
  mkdir -p "$work/debian-base"
  cp "$deb_tar" "$work/debian-base/rootfs.tar.gz"
  bud debian-base "$work/debian-base"
  export_image debian-base
  cp "$deb_pkgs" "$out/debian-base.dpkg-query.txt.tmp" && mv -f "$out/debian-base.dpkg-query.txt.tmp" "$out/debian-base.dpkg-query.txt"
  cp "$deb_tar" "$out/debian-base.rootfs.tar.gz.tmp" && mv -f "$out/debian-base.rootfs.tar.gz.tmp" "$out/debian-base.rootfs.tar.gz"
  echo "$h" >"$out/debian-base.inputs"
  status[debian-base]=built
}

base_hash() { cat "$out/debian-base.inputs" 2>/dev/null || echo none; }

build_leaky() {
  local h
  h="$(hash_inputs "$repo/testdata/images/leaky" "$out/debian-base.inputs")"
  if up_to_date leaky "$h"; then status[leaky]=reused; return 0; fi
  ensure_base
  bud leaky "$repo/testdata/images/leaky"
  export_image leaky
  echo "$h" >"$out/leaky.inputs"
  status[leaky]=built
}

build_gobin() {
  local h src="$repo/testdata/images/gobin/src"
  h="$(HASH_EXTRA="$(go version)" hash_inputs "$repo/testdata/images/gobin" "$out/debian-base.inputs")"
  if up_to_date gobin "$h"; then status[gobin]=reused; return 0; fi
  ensure_base
  mkdir -p "$work/gobin"
  (cd "$src" && GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0 GOOS=linux GOARCH=amd64 \
    go build -trimpath -o "$work/gobin/textdemo" .) || die "go build of $src failed"
  cp "$repo/testdata/images/gobin/Dockerfile" "$work/gobin/"
  bud gobin "$work/gobin"
  export_image gobin
  echo "$h" >"$out/gobin.inputs"
  status[gobin]=built
}

build_npm() {
  local h src="$repo/testdata/images/npm"
  h="$(HASH_EXTRA="npm $(npm --version 2>/dev/null)" hash_inputs "$src" "$out/debian-base.inputs")"
  if up_to_date npm "$h"; then status[npm]=reused; return 0; fi
  ensure_base
  mkdir -p "$work/npm/app"
  cp "$src/package.json" "$src/package-lock.json" "$work/npm/app/"
  (cd "$work/npm/app" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null) ||
    die "npm ci in $work/npm/app failed"
  bud npm "$work/npm"
  export_image npm
  echo "$h" >"$out/npm.inputs"
  status[npm]=built
}

# build_apt_image NAME: an image FROM debian-base whose Dockerfile installs
# Debian packages with apt; also writes NAME.dpkg-query.txt.
build_apt_image() {
  local name="$1" h
  h="$(hash_inputs "$repo/testdata/images/$name" "$out/debian-base.inputs")"
  if up_to_date "$name" "$h" && [ -s "$out/$name.dpkg-query.txt" ]; then status[$name]=reused; return 0; fi
  ensure_base
  bud "$name" "$repo/testdata/images/$name"
  # The exact Debian package list of the image, read by Debian's own dpkg-query.
  local c
  c="$(bh from --pull=never --signature-policy "$st/policy.json" "localhost/$name:latest")"
  bh run --isolation chroot --user 0 "$c" -- dpkg-query -W -f "$DPKG_FORMAT" >"$out/$name.dpkg-query.txt.tmp"
  bh rm "$c" >/dev/null
  export_image "$name"
  mv -f "$out/$name.dpkg-query.txt.tmp" "$out/$name.dpkg-query.txt"
  echo "$h" >"$out/$name.inputs"
  status[$name]=built
}

build_python() { build_apt_image python; }
build_java() { build_apt_image java; }

build_kensa() {
  local h c
  h="$(HASH_EXTRA="$(go version)" hash_inputs "$repo/Dockerfile" "$repo/.dockerignore" "$repo/go.mod" "$repo/go.sum" \
    "$repo/cmd" "$repo/internal" "$out/debian-base.inputs")"
  if up_to_date kensa "$h"; then status[kensa]=reused; return 0; fi
  ensure_base
  # The toolchain stage: debian-base plus this machine's Go and CA bundle
  # (the machine reaches no Docker Hub for golang:1.26-bookworm).
  bh rmi --force localhost/kensa-go:latest >/dev/null 2>&1 || true
  c="$(bh from --pull=never --signature-policy "$st/policy.json" localhost/debian-base:latest)"
  bh copy "$c" "$(go env GOROOT)" /usr/local/go >/dev/null
  bh copy "$c" /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt >/dev/null
  bh config --env GOPATH=/go --env PATH=/go/bin:/usr/local/go/bin:/usr/sbin:/usr/bin:/sbin:/bin "$c"
  bh commit --quiet "$c" localhost/kensa-go:latest >/dev/null
  bh rm "$c" >/dev/null
  local modcache gocache
  modcache="$(go env GOMODCACHE)"
  gocache="$(go env GOCACHE)"
  mkdir -p "$modcache" "$gocache"
  # Download on the host, so the build reads every module from the mounted cache.
  (cd "$repo" && go mod download) || die "go mod download failed"
  bh rmi --force localhost/kensa:latest >/dev/null 2>&1 || true
  # --format docker: OCI image configs cannot hold the HEALTHCHECK NONE.
  bh bud --quiet --isolation chroot --pull=never --layers --format docker \
    --signature-policy "$st/policy.json" \
    --build-arg GO_IMAGE=localhost/kensa-go:latest --build-arg VERSION=ci \
    -v "$modcache:/go/pkg/mod" -v "$gocache:/root/.cache/go-build" \
    -f "$repo/Dockerfile" -t localhost/kensa:latest "$repo" >/dev/null
  export_image kensa
  echo "$h" >"$out/kensa.inputs"
  status[kensa]=built
}

t_all=$SECONDS
# Dependencies first: every other image is FROM debian-base.
order=()
for n in "${ALL_IMAGES[@]}"; do
  case " ${want[*]} " in *" $n "*) order+=("$n") ;; *) [ "$n" = debian-base ] && order+=("$n") ;; esac
done
# debian-base first (every other image is FROM it), then the others in
# parallel: their builds overlap network (apt, npm), CPU (go build) and disk.
t0=$SECONDS
build_debian_base
took[debian-base]=$((SECONDS - t0))
[ "${status[debian-base]}" = reused ] || log "debian-base built in ${took[debian-base]}s"
ensure_base
declare -A pid
for n in "${order[@]}"; do
  [ "$n" = debian-base ] && continue
  (
    t0=$SECONDS
    "build_${n//-/_}"
    echo "${status[$n]} $((SECONDS - t0))" >"$work/$n.result"
  ) >"$work/$n.log" 2>&1 &
  pid[$n]=$!
done
failed=()
for n in "${!pid[@]}"; do
  if ! wait "${pid[$n]}"; then
    failed+=("$n")
    echo "---- $n build log (tail)" >&2
    tail -n 30 "$work/$n.log" >&2
    continue
  fi
  read -r "status[$n]" "took[$n]" <"$work/$n.result"
  [ "${status[$n]}" = reused ] || log "$n built in ${took[$n]}s"
done
[ ${#failed[@]} -eq 0 ] || die "failed to build: ${failed[*]}"

size() { du -sh "$1" 2>/dev/null | cut -f1; }
printf '\n%-12s %-7s %6s %10s %10s %10s\n' IMAGE STATUS TIME docker.tar oci.tar oci/
for n in "${order[@]}"; do
  printf '%-12s %-7s %5ss %10s %10s %10s\n' "$n" "${status[$n]}" "${took[$n]}" \
    "$(size "$out/$n.docker.tar")" "$(size "$out/$n.oci.tar")" "$(size "$out/$n.oci")"
done
printf 'total %ss, output in %s\n' "$((SECONDS - t_all))" "$out"
