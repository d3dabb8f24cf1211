#!/usr/bin/env bash
# kensa's main job on bundled examples, on a fresh Debian machine with Go:
#   1. installs what is missing (buildah, skopeo, debootstrap; `scripts/setup.sh demo`)
#   2. builds kensa into bin/kensa
#   3. lints a flawed Dockerfile + build context (examples/webapp)
#   4. builds real images with debootstrap + buildah (scripts/build-test-images.sh;
#      cached, the first run takes a few minutes)
#   5. builds an offline vulnerability DB from the bundled OSV records
#   6. scans the leaky image (secrets in layers, config and history, traced to
#      Dockerfile lines) and a Go-binary image (vulnerabilities), and writes an SBOM
# Output lands in .cache/demo/. Scan exit codes are shown, not fatal.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh demo
out=.cache/demo
mkdir -p "$out" bin
go build -o bin/kensa ./cmd/kensa
db="$out/kensa.db"
k() { echo; echo "\$ kensa $*"; bin/kensa "$@" || echo "(exit $?)"; }

echo "== 1. Dockerfile + build context: the flawed example, then the fixed one"
k scan examples/webapp --exit-code 1
k scan examples/webapp-fixed --exit-code 1

echo; echo "== 2. Real images (debootstrap + buildah, three export forms each)"
./scripts/build-test-images.sh debian-base leaky gobin
imgs="${KENSA_TEST_IMAGES:-.cache/testimages}"

echo; echo "== 3. Offline vulnerability database from bundled OSV records"
k db import --db "$db" --replace internal/vulndb/testdata/osv/Go internal/vulndb/testdata/osv/Debian
k db status --db "$db"

echo; echo "== 4. The leaky image: secrets in deleted files, Env and history, traced to its Dockerfile"
k scan "$imgs/leaky.oci.tar" --db "$db" --dockerfile testdata/images/leaky/Dockerfile --severity CRITICAL,HIGH

echo; echo "== 5. A Go binary built with golang.org/x/text v0.3.0: vulnerabilities only"
k scan "$imgs/gobin.docker.tar" --db "$db" --scanners vuln --format table

echo; echo "== 6. SBOM (CycloneDX 1.6) and SARIF for code scanning"
k sbom "$imgs/gobin.docker.tar" --format cyclonedx --output "$out/gobin.cdx.json"
k scan examples/webapp --format sarif --output "$out/webapp.sarif"
echo; echo "wrote $out/gobin.cdx.json and $out/webapp.sarif"
