#!/usr/bin/env bash
# Installs what kensa's build and tests need on a fresh Debian machine.
# Idempotent: skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for tool in buildah:buildah skopeo:skopeo debootstrap:debootstrap; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool##*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
export PATH="$(go env GOPATH)/bin:$PATH"
command -v staticcheck >/dev/null 2>&1 || go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
