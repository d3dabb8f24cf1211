#!/usr/bin/env bash
# Runs every kensa test: static checks, unit and integration tests (including
# real images built with debootstrap + buildah), and fuzz seed corpora.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$(go env GOPATH)/bin:$PATH"
echo "== gofmt"; test -z "$(gofmt -l . | tee /dev/stderr)"
echo "== go vet"; go vet ./...
echo "== staticcheck"; staticcheck ./...
echo "== go test"; go test -count=1 -timeout 25m ./...
