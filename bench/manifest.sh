#!/bin/sh
# Runtime-manifest throughput and memory, on one core:
#  - BenchmarkKubeStream10k: load + every KS-RT check over a generated
#    10,000-object Kubernetes stream (objects/s and objects/cpu-s);
#  - BenchmarkComposeCorpus: every compose file of /work/shared/corpus/compose
#    (or $KENSA_COMPOSE_CORPUS) through compose-go and the checks;
#  - BenchmarkStreamMemory: peak live heap streaming 1k, 10k and 100k
#    documents from a pipe (must stay flat).
# Usage: bench/manifest.sh [benchtime]   (default 3x)
set -eu
cd "$(dirname "$0")/.."
GOMAXPROCS=1 go test -run '^$' -bench '^Benchmark(KubeStream10k|ComposeCorpus)$' -benchtime "${1:-3x}" -cpu 1 ./internal/rules/runtime/
GOMAXPROCS=1 go test -run '^$' -bench '^BenchmarkStreamMemory$' -benchtime 1x -cpu 1 ./internal/manifest/
