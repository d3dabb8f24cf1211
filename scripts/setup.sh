#!/usr/bin/env bash
# Installs what kensa's build and tests need on a fresh Debian machine:
# buildah, skopeo, debootstrap, distro-info-data, podman, postgresql (apt), npm (apt, only if
# missing), chromium (apt, the HTML report test), and the Go
# tools staticcheck, osv-scanner and govulncheck (go install, pinned).
# Idempotent and quiet: skips what is already there. Works as root, and with
# sudo for apt otherwise.
#
#   scripts/setup.sh        everything the tests need (scripts/test.sh)
#   scripts/setup.sh demo   only what scripts/demo.sh needs: buildah, skopeo and
#                           debootstrap (the demo builds the debian-base, leaky and
#                           gobin images; no npm, no Go tools)
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-all}"
case "$mode" in
  all|demo) ;;
  *) echo "setup: unknown mode $mode (want: all, demo)" >&2; exit 2 ;;
esac

STATICCHECK_VERSION=v0.8.2
OSV_SCANNER_VERSION=v2.2.4
GOVULNCHECK_VERSION=v1.9.0

need=()
tools=(buildah:buildah skopeo:skopeo debootstrap:debootstrap)
[ "$mode" = demo ] || tools+=(npm:npm)
for tool in "${tools[@]}"; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool##*:}")
done
if [ "$mode" = all ]; then
  # Debian's and Ubuntu's own release/support dates: the EOL table test
  # (internal/rules/image) checks eol.json against them.
  [ -f /usr/share/distro-info/ubuntu.csv ] || need+=(distro-info-data)
fi
if [ "$mode" = all ]; then
  # podman: the engine-source test (internal/cli, TestScanEngineImage) runs
  # `podman system service` on a private socket and storage and scans an
  # image by name through its Docker-compatible API.
  command -v podman >/dev/null 2>&1 || need+=(podman)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "setup: need root or sudo to install ${need[*]}" >&2; exit 1; }
    SUDO=sudo
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

[ "$mode" = demo ] && exit 0

# PostgreSQL server binaries for kensa server's store and its integration
# tests (scripts/postgres.sh starts a throwaway cluster on loopback).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "== installing postgresql"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql postgresql-client >/dev/null
  # Debian's package starts its own cluster; kensa uses its own on loopback.
  $SUDO service postgresql stop >/dev/null 2>&1 || true
fi

# Headless Chromium (and one font) for the HTML report's browser test
# (internal/report: renders the report, checks the DOM, takes a screenshot).
if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing chromium"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "setup: need root or sudo to install chromium" >&2; exit 1; }
    SUDO=sudo
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi

gobin="$(go env GOPATH)/bin"
export PATH="$gobin:$PATH"
# go_tool NAME MODULE@VERSION: go install unless NAME is already on PATH.
go_tool() {
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "== go install $2"
  local log
  log="$(mktemp)"
  if ! go install "$2" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "setup: go install $2 failed" >&2
    return 1
  fi
  rm -f "$log"
}
go_tool staticcheck "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
go_tool osv-scanner "github.com/google/osv-scanner/v2/cmd/osv-scanner@$OSV_SCANNER_VERSION"
go_tool govulncheck "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION"
