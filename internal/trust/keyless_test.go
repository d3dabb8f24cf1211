package trust

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/testing/ca"
)

// statement returns an in-toto statement whose subject is digest, as cosign
// signs an image into a sigstore bundle.
func statement(t *testing.T, digest string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []map[string]any{{"name": "registry.test/app", "digest": map[string]string{"sha256": strings.TrimPrefix(digest, "sha256:")}}},
		"predicateType": "https://sigstore.dev/cosign/sign/v1",
		"predicate":     map[string]any{},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVerifyKeylessEntity: a keyless signature made by a virtual sigstore
// (Fulcio CA, Rekor log, TSA built in the test) verifies offline against
// that trusted root for the right identity and digest, and is rejected for
// another identity, another issuer, another digest and without a root.
func TestVerifyKeylessEntity(t *testing.T) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	const digest = "sha256:" + "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12"
	const other = "sha256:" + "cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34"
	const subject = "https://github.com/kensa-sec/app/.github/workflows/release.yml@refs/heads/main"
	const issuer = "https://token.actions.githubusercontent.com"
	e, err := vs.Attest(subject, issuer, statement(t, digest))
	if err != nil {
		t.Fatal(err)
	}
	good := VerifyOptions{TrustedMaterial: vs, Identities: []Identity{{Subject: subject, Issuer: issuer}}}
	s := VerifyEntity("test", e, digest, good)
	if s.Status != StatusTrusted || s.Signer != subject || s.Issuer != issuer || s.Time == nil {
		t.Fatalf("keyless signature: %+v", s)
	}
	if !strings.Contains(s.Rekor, "inclusion verified") {
		t.Errorf("rekor = %q", s.Rekor)
	}

	if s := VerifyEntity("test", e, other, good); s.Status != StatusDigestDiffers || s.SignedDigest != digest || !strings.Contains(s.Problem, "signed digest differs") {
		t.Errorf("other digest: %+v", s)
	}
	for _, id := range []Identity{
		{Subject: "https://github.com/attacker/app/.github/workflows/release.yml@refs/heads/main", Issuer: issuer},
		{Subject: subject, Issuer: "https://accounts.example"},
		{SubjectRegexp: `^https://github\.com/other/`, Issuer: issuer},
	} {
		o := good
		o.Identities = []Identity{id}
		if s := VerifyEntity("test", e, digest, o); s.Status != StatusUntrusted {
			t.Errorf("identity %s accepted: %+v", id, s)
		}
	}
	o := good
	o.Identities = []Identity{{SubjectRegexp: `^https://github\.com/kensa-sec/`, Issuer: issuer}}
	if s := VerifyEntity("test", e, digest, o); s.Status != StatusTrusted {
		t.Errorf("subject regexp: %+v", s)
	}
	// A trusted root made by another (virtual) sigstore does not anchor it.
	vs2, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	o = good
	o.TrustedMaterial = vs2
	if s := VerifyEntity("test", e, digest, o); s.Status != StatusUntrusted {
		t.Errorf("foreign root accepted: %+v", s)
	}
	o.TrustedMaterial = nil
	if s := VerifyEntity("test", e, digest, o); s.Status != StatusUntrusted || !strings.Contains(s.Problem, "--trusted-root") {
		t.Errorf("no root: %+v", s)
	}
}
