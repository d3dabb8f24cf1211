package rules

import "github.com/kensa-sec/kensa/internal/finding"

// trustRules are the supply-chain trust checks (internal/trust): image
// signatures, Dockerfile base images, and the attestation that proves an
// image was scanned.
var trustRules = []Rule{
	{"KS-TR-001", sevH, finding.KindMisconfig, "Image is not signed",
		"An unsigned image cannot be told apart from one an attacker pushed under the same name: a signature made by your release pipeline proves who built the bytes you are about to run.",
		"Sign the image digest in the pipeline that builds it (`cosign sign --key cosign.key IMAGE@sha256:...`, or keyless from the CI OIDC token) and verify before deploying (`kensa verify IMAGE --key cosign.pub`)."},
	{"KS-TR-002", sevH, finding.KindMisconfig, "Signature from an untrusted key or identity",
		"The image carries signatures, but none verifies with a key or keyless identity this policy trusts (trust.keys / trust.identities in kensa.yaml, or --key / --certificate-identity): anyone can sign an image with their own key.",
		"Sign with a trusted key or identity, or, after review, add the signer's public key or certificate identity under `trust:` in kensa.yaml."},
	{"KS-TR-003", sevC, finding.KindMisconfig, "Signed digest differs from the image",
		"A trusted signature names a different manifest digest than the image being checked: the tag was re-pushed with other content, or a signature was copied from another image. The bytes you have are not the bytes that were signed.",
		"Do not deploy it: pull the image by the digest that was signed (`IMAGE@sha256:<signed digest>`), find out who re-pushed the tag, and re-sign only after a rebuild you trust."},
	{"KS-TR-004", sevM, finding.KindMisconfig, "Base image not from a trusted registry or not signed",
		"With --verify-base, every FROM image must come from a registry listed in trusted_registries and carry a signature from a trusted key or identity; otherwise the build inherits whatever the base publisher (or an attacker) pushed.",
		"Use an official or verified base image from a trusted registry, signed by its publisher, and add its publisher's key or identity under `trust:` in kensa.yaml."},
	{"KS-TR-005", sevL, finding.KindMisconfig, "Base image by tag only: trust cannot be checked",
		"A FROM that names only a tag can resolve to other bytes on every build, so a signature check made today says nothing about the next build.",
		"Pin the base image by digest (`FROM image:tag@sha256:<digest>`) and verify the signature of that digest."},
	{"KS-TR-006", sevH, finding.KindMisconfig, "No fresh, trusted scan attestation",
		"Admission requires a kensa scan attestation signed by a trusted key, for exactly this digest, younger than trust.admit.max_age and with no findings above trust.admit.max_severity: only scanned images run.",
		"Scan and attest the image in the pipeline (`kensa attest IMAGE --key cosign.key`), fix the findings above the threshold, and re-attest when the attestation ages out."},
	{"KS-TR-007", sevI, finding.KindMisconfig, "Docker Content Trust relied on",
		"DOCKER_CONTENT_TRUST turns on Notary v1 signing and verification, which is deprecated upstream and needs a Notary server that most registries no longer run: where there is none the pipeline signs or checks nothing.",
		"Sign images with cosign / sigstore (key pair, or keyless from the CI OIDC token) and verify them with `kensa verify` or `kensa admit`; drop DOCKER_CONTENT_TRUST."},
}
