#!/usr/bin/env bash
# Registry-scale load test of the server: BenchmarkServerLoad
# (internal/server/load_bench_test.go) pushes KENSA_BENCH_BASES ×
# KENSA_BENCH_APPS synthetic Debian images (default 20 × 50 = 1,000, each
# base with KENSA_BENCH_EXTRA filler packages, default 100) to the
# in-process registry, submits them through the API, scans them with
# KENSA_BENCH_WORKERS workers (default 4) on a real PostgreSQL (started by
# scripts/postgres.sh) and reports images/s, layer reads per layer
# reference (1 would be no sharing; the target is one read per layer),
# database bytes per image against storing each image's packages
# separately, and the API's p99 latency while it scans.
# Usage: bench/server.sh   (environment variables above to resize)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
./scripts/postgres.sh start >/dev/null
KENSA_TEST_PG_URL="$(./scripts/postgres.sh url)"
export KENSA_TEST_PG_URL
go test -run '^$' -bench '^BenchmarkServerLoad$' -benchtime 1x -timeout 60m -v ./internal/server/ | grep -v '^20[0-9][0-9]/'
