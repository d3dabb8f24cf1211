#!/usr/bin/env bash
# Admission webhook latency: BenchmarkWebhook (internal/admission) sends
# 1,000 admission.k8s.io/v1 AdmissionReviews (a pod with two containers and
# an init container, digest-pinned, signed and attested) at 50 concurrent
# over HTTPS on loopback to `kensa admit --serve`'s handler, backed by
# go-containerregistry's in-process registry, and reports p50/p99/max:
#   hit  - the decision cache is warm (the production path for a digest
#          already decided within cache_ttl)
#   miss - no cache: every image is verified (signature tag, referrers,
#          attestation tag, DSSE signature) against the registry
# Usage: bench/webhook.sh [count]   (count: repetitions, default 3)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
go test -run '^$' -bench '^BenchmarkWebhook$' -benchtime 1x -count "${1:-3}" ./internal/admission/
