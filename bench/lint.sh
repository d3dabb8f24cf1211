#!/bin/sh
# Dockerfile linting throughput: parse + every KS-DF check per corpus file,
# on one core. Uses /work/shared/corpus/dockerfiles (or $KENSA_CORPUS);
# falls back to the committed fuzz seeds when the corpus is absent.
# Usage: bench/lint.sh [benchtime]   (default 3s)
#        bench/lint.sh --instr       instructions per linted file under
#                                    valgrind (callgrind), GC off: a
#                                    repeatable A/B figure on a loaded machine
set -eu
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--instr" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  go test -c -o "$work/lint.test" ./internal/rules/dockerfile/
  ir() { # total instructions of a run linting $1 files (plus one warm-up file)
    (cd internal/rules/dockerfile && GOGC=off GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 \
      valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$work/lint.test" \
      -test.run '^$' -test.bench '^BenchmarkLintCorpus$' -test.benchtime "$1x" -test.cpu 1 >/dev/null 2>&1)
    awk '/^(summary|totals):/ {print $2; exit}' "$work/cg.out"
  }
  a=$(ir 600); b=$(ir 1)
  echo "instructions/file: $(( (a - b) / 600 ))  (GOGC=off; 600 files minus 1)"
  exit 0
fi
GOMAXPROCS=1 go test -run '^$' -bench '^BenchmarkLintCorpus$' -benchtime "${1:-3s}" -count 3 -cpu 1 ./internal/rules/dockerfile/
