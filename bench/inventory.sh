#!/bin/sh
# Inventory benchmarks: the analyzer's per-file Wants over the debian-base
# rootfs (needs scripts/build-test-images.sh) and dpkg status parsing.
# Usage: bench/inventory.sh [benchtime]   (default 50x)
set -eu
cd "$(dirname "$0")/.."
bt=${1:-50x}
GOMAXPROCS=1 go test -run '^$' -bench . -benchtime "$bt" -cpu 1 ./internal/inventory/extract/ ./internal/inventory/dpkg/
