package trust

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/kensa-sec/kensa/internal/trust/trusttest"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
)

func bundleJSON(t *testing.T, vs *ca.VirtualSigstore, subject, issuer string, statement []byte) []byte {
	t.Helper()
	b, err := trusttest.Bundle(vs, subject, issuer, statement)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// attachReferrer pushes data as a sigstore-bundle referrer of d.
func attachReferrer(t *testing.T, d name.Digest, data []byte) {
	t.Helper()
	desc, err := remote.Head(d)
	if err != nil {
		t.Fatal(err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.MediaType(SigstoreBundleArtifactType))
	img, err = mutate.Append(img, mutate.Addendum{Layer: static.NewLayer(data, types.MediaType(SigstoreBundleArtifactType))})
	if err != nil {
		t.Fatal(err)
	}
	withSubject := mutate.Subject(img, v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}).(v1.Image)
	h, err := withSubject.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(d.Context().Digest(h.String()), withSubject); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyKeylessReferrer: a keyless sigstore bundle attached as an OCI
// 1.1 referrer is found through the referrers API and verified offline
// against the test trusted root; the same bundle on another image is
// "signed digest differs"; without a trusted root it is not trusted.
func TestVerifyKeylessReferrer(t *testing.T) {
	host := testRegistry(t)
	d := pushRandom(t, host, "app:1")
	other := pushRandom(t, host, "other:1")
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	const subject = "https://github.com/kensa-sec/app/.github/workflows/release.yml@refs/heads/main"
	const issuer = "https://token.actions.githubusercontent.com"
	data := bundleJSON(t, vs, subject, issuer, trusttest.Statement(d.DigestStr()))
	attachReferrer(t, d, data)
	attachReferrer(t, other, data)
	o := VerifyOptions{TrustedMaterial: vs, Identities: []Identity{{Subject: subject, Issuer: issuer}}}

	v, err := Verify(context.Background(), d, o)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Trusted() || len(v.Signatures) != 1 || v.Signatures[0].Kind != "keyless" || v.Signatures[0].Signer != subject || !strings.HasPrefix(v.Signatures[0].Source, "referrer sha256:") {
		t.Fatalf("keyless referrer: %+v", v)
	}
	if !strings.Contains(v.Signatures[0].Rekor, "inclusion verified") {
		t.Errorf("rekor = %q", v.Signatures[0].Rekor)
	}
	v, err = Verify(context.Background(), other, o)
	if err != nil {
		t.Fatal(err)
	}
	if v.Trusted() || v.Signatures[0].Status != StatusDigestDiffers || findingIDs(v)[0] != "KS-TR-003" {
		t.Errorf("bundle on another image: %+v", v)
	}
	o.TrustedMaterial = nil
	if v, _ := Verify(context.Background(), d, o); v.Trusted() {
		t.Errorf("trusted without a root: %+v", v)
	}
}
