package trust

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

var testNow = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

func predicate(at time.Time, critical int) *ScanPredicate {
	return &ScanPredicate{
		Scanner:   PredicateScanner{Name: "kensa", Version: "test"},
		ScannedAt: at,
		Reference: "app:1",
		Scanners:  []string{"misconfig", "secret", "vuln"},
		Summary:   PredicateSummary{Total: critical, BySeverity: map[string]int{"CRITICAL": critical, "HIGH": 0}},
		Policy:    PredicatePolicy{MaxSeverity: "HIGH", Passed: critical == 0},
		Report:    PredicateReport{Digest: "sha256:" + strings.Repeat("0", 64), MediaType: "application/json"},
	}
}

func testPolicy(keys ...*PublicKey) *AdmitPolicy {
	return &AdmitPolicy{
		Verify: VerifyOptions{Keys: keys}, MaxAge: 24 * time.Hour, MaxSeverity: finding.SeverityHigh,
		Now: func() time.Time { return testNow },
	}
}

// signedAttested pushes a random image, signs it and attests pred.
func signedAttested(t *testing.T, host, repoTag string, key *PrivateKey, pred *ScanPredicate) name.Digest {
	t.Helper()
	d := pushRandom(t, host, repoTag)
	if err := Sign(context.Background(), d, key, SignOptions{}); err != nil {
		t.Fatal(err)
	}
	if pred != nil {
		if err := Attest(context.Background(), d, key, pred, Registry{}); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func TestAdmitDecisions(t *testing.T) {
	host := testRegistry(t)
	key, pub := newKey(t, "release")
	other, otherPub := newKey(t, "other")
	fresh := testNow.Add(-time.Hour)

	clean := signedAttested(t, host, "clean:1", key, predicate(fresh, 0))
	leaky := signedAttested(t, host, "leaky:1", key, predicate(fresh, 3))
	stale := signedAttested(t, host, "stale:1", key, predicate(testNow.Add(-48*time.Hour), 0))
	future := signedAttested(t, host, "future:1", key, predicate(testNow.Add(time.Hour), 0))
	noAtt := signedAttested(t, host, "noatt:1", key, nil)
	unsigned := pushRandom(t, host, "unsigned:1")
	if err := Attest(context.Background(), unsigned, key, predicate(fresh, 0), Registry{}); err != nil {
		t.Fatal(err)
	}
	foreignAtt := signedAttested(t, host, "foreign:1", key, nil)
	if err := Attest(context.Background(), foreignAtt, other, predicate(fresh, 0), Registry{}); err != nil {
		t.Fatal(err)
	}
	// A newer attestation with findings outranks an older clean one.
	renewed := signedAttested(t, host, "renewed:1", key, predicate(fresh.Add(-time.Hour), 0))
	if err := Attest(context.Background(), renewed, key, predicate(fresh, 1), Registry{}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, image string
		allowed     bool
		want        string
		finding     string
	}{
		{"clean by digest", clean.String(), true, "no findings above HIGH", ""},
		{"clean by tag", host + "/clean:1", true, "tag resolved to " + clean.DigestStr(), ""},
		{"critical findings", leaky.String(), false, "findings above HIGH: 3 CRITICAL", "KS-TR-006"},
		{"stale", stale.String(), false, "attestation is stale", "KS-TR-006"},
		{"future", future.String(), false, "in the future", "KS-TR-006"},
		{"no attestation", noAtt.String(), false, "no kensa scan attestation", "KS-TR-006"},
		{"unsigned", unsigned.String(), false, "not signed", "KS-TR-001"},
		{"attested by another key", foreignAtt.String(), false, "no trusted key verifies", "KS-TR-006"},
		{"newest attestation decides", renewed.String(), false, "1 CRITICAL", "KS-TR-006"},
		{"bad reference", "UPPER/Case::x", false, "image reference", ""},
		{"missing tag", host + "/clean:nope", false, "cannot resolve", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := testPolicy(pub, otherPub).Check(context.Background(), tc.image)
			// otherPub is trusted for signatures here but the policy
			// below uses only pub for attestations.
			if tc.name == "attested by another key" {
				d = testPolicy(pub).Check(context.Background(), tc.image)
			}
			if d.Allowed != tc.allowed || !strings.Contains(d.Reason(), tc.want) {
				t.Fatalf("allowed=%v reason=%q, want allowed=%v reason containing %q", d.Allowed, d.Reason(), tc.allowed, tc.want)
			}
			if tc.finding != "" && (len(d.Findings) == 0 || d.Findings[0].ID != tc.finding) {
				t.Errorf("findings = %+v, want %s", d.Findings, tc.finding)
			}
		})
	}

	p := testPolicy(pub)
	p.RequireDigest = true
	if d := p.Check(context.Background(), host+"/clean:1"); d.Allowed || !strings.Contains(d.Reason(), "not digest-pinned") {
		t.Errorf("require_digest: %+v", d)
	}
	if d := p.Check(context.Background(), clean.String()); !d.Allowed || d.ValidUntil == nil || !d.ValidUntil.Equal(fresh.Add(24*time.Hour)) {
		t.Errorf("require_digest, pinned: %+v", d)
	}
}

// TestAdmitTamperedAttestation: changing the statement inside the
// envelope (3 CRITICAL → 0) breaks the DSSE signature; copying a valid
// attestation to another image fails the subject check.
func TestAdmitTamperedAttestation(t *testing.T) {
	host := testRegistry(t)
	key, pub := newKey(t, "release")
	d := signedAttested(t, host, "leaky:1", key, nil)
	tag, _ := AttestationTag(d)
	st, err := NewStatement(d, predicate(testNow.Add(-time.Hour), 3))
	if err != nil {
		t.Fatal(err)
	}
	env, err := SignEnvelope(key, st)
	if err != nil {
		t.Fatal(err)
	}
	var e dsse.Envelope
	if err := json.Unmarshal(env, &e); err != nil {
		t.Fatal(err)
	}
	body, _ := base64.StdEncoding.DecodeString(e.Payload)
	forged := strings.Replace(string(body), `"CRITICAL":3`, `"CRITICAL":0`, 1)
	if forged == string(body) {
		t.Fatalf("statement has no CRITICAL count to forge: %s", body)
	}
	e.Payload = base64.StdEncoding.EncodeToString([]byte(forged))
	tampered, _ := json.Marshal(e)
	layer := static.NewLayer(tampered, types.MediaType(DSSEMediaType))
	if err := (Registry{}).appendLayer(context.Background(), tag, layer, map[string]string{PredicateTypeAnnotation: PredicateType}); err != nil {
		t.Fatal(err)
	}
	dec := testPolicy(pub).Check(context.Background(), d.String())
	if dec.Allowed || !strings.Contains(dec.Reason(), "no trusted key verifies") {
		t.Fatalf("tampered attestation: %+v", dec)
	}

	// A genuine attestation of a clean image copied onto another signed
	// image: the subject names the clean digest.
	clean := signedAttested(t, host, "clean:1", key, predicate(testNow.Add(-time.Hour), 0))
	other := signedAttested(t, host, "other:1", key, nil)
	cleanTag, _ := AttestationTag(clean)
	otherTag, _ := AttestationTag(other)
	img, err := remote.Image(cleanTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(otherTag, img); err != nil {
		t.Fatal(err)
	}
	dec = testPolicy(pub).Check(context.Background(), other.String())
	if dec.Allowed || !strings.Contains(dec.Reason(), "attested digest differs") {
		t.Fatalf("copied attestation: %+v", dec)
	}
}
