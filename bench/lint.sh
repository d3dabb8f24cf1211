#!/bin/sh
# Dockerfile linting throughput: parse + every KS-DF check per corpus file,
# on one core. Uses /work/shared/corpus/dockerfiles (or $KENSA_CORPUS);
# falls back to the committed fuzz seeds when the corpus is absent.
# Usage: bench/lint.sh [benchtime]   (default 3s)
set -eu
cd "$(dirname "$0")/.."
GOMAXPROCS=1 go test -run '^$' -bench '^BenchmarkLintCorpus$' -benchtime "${1:-3s}" -count 3 -cpu 1 ./internal/rules/dockerfile/
