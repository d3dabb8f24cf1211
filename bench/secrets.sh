#!/usr/bin/env bash
# Secret scanner throughput (see the "Secrets" section of bench/README.md).
#   bench/secrets.sh [benchtime] [tree]
# BenchmarkScanMix: 8 MiB of text + binary-ish bytes with a few secrets.
# BenchmarkScanTree: every file the analyzer would want under [tree]
# (default /usr/lib, capped at 512 MiB), the way a layer walk offers them.
set -euo pipefail
cd "$(dirname "$0")/.."
bt="${1:-20x}"
tree="${2:-/usr/lib}"
GOMAXPROCS=1 KENSA_BENCH_TREE="$tree" go test -run '^$' -bench 'Scan(Mix|Tree)' -benchtime "$bt" -cpu 1 -benchmem ./internal/secret/
