#!/usr/bin/env bash
# Runs every kensa test: installs tools (scripts/setup.sh), builds the real test
# images (scripts/build-test-images.sh, incremental), then gofmt, go vet,
# staticcheck and `go test -count=1 ./...` (unit and integration tests on the
# real images, and the fuzz seed corpora). Prints how long each phase took.
# A failing check does not stop the later ones; the exit status is 1 if any
# phase failed. Setup or image-build failures stop the run.
#
# Environment: KENSA_TEST_IMAGES (image folder, see build-test-images.sh),
# KENSA_TEST_PG_URL (set here from scripts/postgres.sh start),
# KENSA_TEST_TIMEOUT (go test -timeout, default 20m).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
PATH="$(go env GOPATH)/bin:$PATH"
export PATH

phases=()
failed=()
t_start=$SECONDS
summary() {
  echo
  echo "== phase timings"
  for p in "${phases[@]}"; do echo "   $p"; done
  echo "   total: $((SECONDS - t_start))s"
  if [ -s "$testlog" ] && grep -qE '^(fail |--- FAIL|panic:|.*NOT ALLOWED)' "$testlog"; then
    echo "== failing tests, packages and unallowed skips"
    grep -E '^(fail |--- FAIL|panic:|.*NOT ALLOWED)' "$testlog" | sed 's/^/   /'
  fi
  rm -f "$testlog"
  if [ ${#failed[@]} -gt 0 ]; then echo "== FAILED: ${failed[*]}"; else echo "== all phases passed"; fi
}
testlog="$(mktemp)"
auditbin="$(mktemp -d)/testaudit"
trap summary EXIT

# phase NAME CMD...: run CMD, record its time and whether it failed.
phase() {
  local name="$1" t0=$SECONDS rc=0
  shift
  echo "== $name"
  "$@" || rc=$?
  local st=ok
  [ $rc = 0 ] || { st="FAILED (exit $rc)"; failed+=("$name"); }
  phases+=("$(printf '%-18s %5ss  %s' "$name" "$((SECONDS - t0))" "$st")")
  return $rc
}

gofmt_check() {
  local bad
  bad="$(git ls-files -z -co --exclude-standard '*.go' | grep -zv '/testdata/' | xargs -0 -r gofmt -l 2>&1)"
  [ -z "$bad" ] || { echo "gofmt needed:"; echo "$bad"; return 1; }
}

phase setup ./scripts/setup.sh || exit 1
phase build-images ./scripts/build-test-images.sh || exit 1
phase gofmt gofmt_check
phase vet go vet ./...
phase staticcheck staticcheck ./...
# go test runs through tools/testaudit: it prints failing tests' output and a
# per-package summary, and fails the phase on any skipped test that is not
# in .ci/allowed-skips (a skip must never pass as a success).
go_test() {
  go build -o "$auditbin" ./tools/testaudit || return 1
  go test -json -count=1 -timeout "${KENSA_TEST_TIMEOUT:-20m}" ./... 2>&1 |
    "$auditbin" -allow .ci/allowed-skips | tee "$testlog"
}
# The server's integration tests run against a real PostgreSQL on loopback
# (scripts/postgres.sh), stopped again when the tests end.
pg_started=""
if pgurl="$(./scripts/postgres.sh start)"; then
  export KENSA_TEST_PG_URL="$pgurl"
  pg_started=1
else
  echo "test.sh: PostgreSQL did not start; the server tests will fail" >&2
fi
phase "go test" go_test
[ -z "$pg_started" ] || ./scripts/postgres.sh stop
[ ${#failed[@]} -eq 0 ]
