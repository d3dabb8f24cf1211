package trust

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// Media types and annotations of cosign's registry formats.
const (
	// SimpleSigningMediaType is the media type of a signature layer: its
	// content is the signed simple-signing payload.
	SimpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	// SignatureAnnotation holds the base64 signature of a layer's payload.
	SignatureAnnotation = "dev.cosignproject.cosign/signature"
	// BundleAnnotation holds cosign's Rekor bundle (inclusion promise).
	BundleAnnotation = "dev.sigstore.cosign/bundle"
	// CertificateAnnotation holds a keyless signature's certificate.
	CertificateAnnotation = "dev.sigstore.cosign/certificate"
	// DSSEMediaType is the media type of an attestation layer.
	DSSEMediaType = "application/vnd.dsse.envelope.v1+json"
	// PredicateTypeAnnotation names an attestation layer's predicate type.
	PredicateTypeAnnotation = "predicateType"
	// SigstoreBundleArtifactType marks a referrer that is a sigstore bundle.
	SigstoreBundleArtifactType = "application/vnd.dev.sigstore.bundle.v0.3+json"
)

// maxPayload bounds a signature payload, an attestation envelope or a
// bundle read from a registry.
const maxPayload = 4 << 20

// Payload is a parsed simple-signing payload: what a cosign signature
// claims to sign.
type Payload struct {
	// DockerReference is the repository (or tag) the signer named.
	DockerReference string
	// Digest is the manifest digest the signature covers.
	Digest string
	// Optional holds the signer's annotations (cosign sign -a).
	Optional map[string]any
}

var digestPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// NewPayload returns the simple-signing payload for the manifest digest of
// repo, in the form cosign writes it.
func NewPayload(repo string, digest v1.Hash, optional map[string]any) ([]byte, error) {
	p := payload.SimpleContainerImage{
		Critical: payload.Critical{
			Identity: payload.Identity{DockerReference: repo},
			Image:    payload.Image{DockerManifestDigest: digest.String()},
			Type:     payload.CosignSignatureType,
		},
		Optional: optional,
	}
	return json.Marshal(p)
}

// ParsePayload reads a simple-signing payload. It accepts only cosign's
// signature type and a sha256 manifest digest, and rejects unknown
// critical fields (the containers-signature spec says a consumer must).
func ParsePayload(data []byte) (*Payload, error) {
	if len(data) > maxPayload {
		return nil, fmt.Errorf("signature payload: %d bytes, more than %d", len(data), maxPayload)
	}
	var raw struct {
		Critical json.RawMessage `json:"critical"`
		Optional map[string]any  `json:"optional"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("signature payload: %w", err)
	}
	if len(raw.Critical) == 0 || string(raw.Critical) == "null" {
		return nil, fmt.Errorf("signature payload: no critical section")
	}
	var c payload.Critical
	dec := json.NewDecoder(bytes.NewReader(raw.Critical))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("signature payload: critical: %w", err)
	}
	if c.Type != payload.CosignSignatureType {
		return nil, fmt.Errorf("signature payload: type %q, want %q", c.Type, payload.CosignSignatureType)
	}
	if !digestPattern.MatchString(c.Image.DockerManifestDigest) {
		return nil, fmt.Errorf("signature payload: docker-manifest-digest %q is not a sha256 digest", c.Image.DockerManifestDigest)
	}
	return &Payload{DockerReference: c.Identity.DockerReference, Digest: c.Image.DockerManifestDigest, Optional: raw.Optional}, nil
}
