package trust

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// testRegistry starts go-containerregistry's in-process registry (with
// the OCI 1.1 referrers API) on loopback and returns its host.
func testRegistry(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true)))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// pushRandom pushes a random image to host/repo:tag and returns its digest.
func pushRandom(t testing.TB, host, repoTag string) name.Digest {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	return pushImage(t, host+"/"+repoTag, img)
}

func pushImage(t testing.TB, ref string, img v1.Image) name.Digest {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	h, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return tag.Context().Digest(h.String())
}

// newKey generates a cosign-format key pair (encrypted private key) and
// parses both halves.
func newKey(t testing.TB, name string) (*PrivateKey, *PublicKey) {
	t.Helper()
	privPEM, pubPEM, err := GenerateKeyPair([]byte("test-password"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(privPEM), "ENCRYPTED SIGSTORE PRIVATE KEY") {
		t.Fatalf("private key is not in cosign's encrypted format:\n%s", privPEM)
	}
	priv, err := ParsePrivateKey(name+".key", privPEM, []byte("test-password"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(name+".pub", pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

func verifyRef(t *testing.T, ref string, keys ...*PublicKey) *Verification {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	v, err := Verify(context.Background(), r, VerifyOptions{Keys: keys})
	if err != nil {
		t.Fatalf("verify %s: %v", ref, err)
	}
	return v
}

func findingIDs(v *Verification) []string {
	var ids []string
	for _, f := range v.Findings() {
		ids = append(ids, f.ID)
	}
	return ids
}

func TestSignVerifyRoundTrip(t *testing.T) {
	host := testRegistry(t)
	d := pushRandom(t, host, "app:1")
	priv, pub := newKey(t, "release")
	if err := Sign(context.Background(), d, priv, SignOptions{}); err != nil {
		t.Fatal(err)
	}
	v := verifyRef(t, host+"/app:1", pub)
	if !v.Trusted() || len(v.Signatures) != 1 {
		t.Fatalf("not trusted: %+v", v)
	}
	s := v.Signatures[0]
	if s.Signer != "release.pub" || s.KeyID != pub.ID || s.SignedDigest != d.DigestStr() || s.Time == nil {
		t.Errorf("signature = %+v", s)
	}
	if s.Source != "tag "+strings.Replace(d.DigestStr(), ":", "-", 1)+".sig" {
		t.Errorf("source = %q", s.Source)
	}
	if ids := findingIDs(v); len(ids) != 0 {
		t.Errorf("findings %v on a trusted image", ids)
	}
	// A second signature by another key is appended, not replacing.
	other, otherPub := newKey(t, "other")
	if err := Sign(context.Background(), d, other, SignOptions{}); err != nil {
		t.Fatal(err)
	}
	v = verifyRef(t, host+"/app:1", pub, otherPub)
	if len(v.Signatures) != 2 || v.Signatures[0].Status != StatusTrusted || v.Signatures[1].Signer != "other.pub" {
		t.Errorf("two signatures: %+v", v.Signatures)
	}
}

func TestVerifyUnsigned(t *testing.T) {
	host := testRegistry(t)
	pushRandom(t, host, "app:1")
	_, pub := newKey(t, "release")
	v := verifyRef(t, host+"/app:1", pub)
	if v.Trusted() || len(v.Signatures) != 0 {
		t.Fatalf("unsigned image: %+v", v)
	}
	if ids := findingIDs(v); len(ids) != 1 || ids[0] != "KS-TR-001" {
		t.Errorf("findings = %v, want KS-TR-001", ids)
	}
	if !strings.Contains(v.Reason(), "not signed") {
		t.Errorf("reason = %q", v.Reason())
	}
}

func TestVerifyRejectsOtherKey(t *testing.T) {
	host := testRegistry(t)
	d := pushRandom(t, host, "app:1")
	_, trusted := newKey(t, "release")
	attacker, _ := newKey(t, "attacker")
	if err := Sign(context.Background(), d, attacker, SignOptions{}); err != nil {
		t.Fatal(err)
	}
	v := verifyRef(t, host+"/app:1", trusted)
	if v.Trusted() || len(v.Signatures) != 1 || v.Signatures[0].Status != StatusUntrusted {
		t.Fatalf("other key accepted: %+v", v)
	}
	if ids := findingIDs(v); len(ids) != 1 || ids[0] != "KS-TR-002" {
		t.Errorf("findings = %v, want KS-TR-002", ids)
	}
}

// TestVerifyRepushedTag: the tag is re-pushed with other content. Without
// a signature for the new digest it is unsigned; with the old signature
// copied over (the attacker cannot sign), the trusted signature names the
// old digest: "signed digest differs".
func TestVerifyRepushedTag(t *testing.T) {
	host := testRegistry(t)
	good := pushRandom(t, host, "app:1")
	priv, pub := newKey(t, "release")
	if err := Sign(context.Background(), good, priv, SignOptions{}); err != nil {
		t.Fatal(err)
	}
	bad := pushRandom(t, host, "app:1")
	v := verifyRef(t, host+"/app:1", pub)
	if v.Digest != bad.DigestStr() || v.Trusted() {
		t.Fatalf("re-pushed tag: %+v", v)
	}
	if ids := findingIDs(v); len(ids) != 1 || ids[0] != "KS-TR-001" {
		t.Errorf("findings = %v, want KS-TR-001", ids)
	}

	goodTag, _ := SignatureTag(good)
	badTag, _ := SignatureTag(bad)
	sigImg, err := remote.Image(goodTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(badTag, sigImg); err != nil {
		t.Fatal(err)
	}
	v = verifyRef(t, host+"/app:1", pub)
	if v.Trusted() || len(v.Signatures) != 1 || v.Signatures[0].Status != StatusDigestDiffers {
		t.Fatalf("copied signature: %+v", v)
	}
	if !strings.Contains(v.Reason(), "signed digest differs") || !strings.Contains(v.Reason(), good.DigestStr()) {
		t.Errorf("reason = %q", v.Reason())
	}
	if ids := findingIDs(v); len(ids) != 1 || ids[0] != "KS-TR-003" {
		t.Errorf("findings = %v, want KS-TR-003", ids)
	}
	// The original digest still verifies.
	if v := verifyRef(t, good.String(), pub); !v.Trusted() {
		t.Errorf("original digest: %+v", v)
	}
}
