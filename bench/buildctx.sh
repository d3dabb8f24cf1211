#!/bin/sh
# Build-context walk benchmark: one .dockerignore-filtered walk of a synthetic
# 50,000-file context with 10 vs 100 patterns and 0 vs 10 `!` exceptions.
# Usage: bench/buildctx.sh [benchtime]   (default 5x)
set -eu
cd "$(dirname "$0")/.."
exec go test -run '^$' -bench 'BenchmarkWalk' -benchtime "${1:-5x}" -count 1 ./internal/buildctx/
