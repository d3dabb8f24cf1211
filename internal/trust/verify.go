package trust

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/rules"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// Identity is a trusted keyless signer: the certificate's subject (SAN:
// an email, or a CI workflow URI) and the OIDC issuer that vouched for it.
// Exactly one of Subject / SubjectRegexp and one of Issuer / IssuerRegexp
// is set.
type Identity struct {
	Subject       string `json:"subject,omitempty"`
	SubjectRegexp string `json:"subject_regexp,omitempty"`
	Issuer        string `json:"issuer,omitempty"`
	IssuerRegexp  string `json:"issuer_regexp,omitempty"`
}

func (i Identity) String() string {
	s, is := i.Subject, i.Issuer
	if s == "" {
		s = "~" + i.SubjectRegexp
	}
	if is == "" {
		is = "~" + i.IssuerRegexp
	}
	return s + " (" + is + ")"
}

// Status is the outcome for one signature.
type Status string

// Signature outcomes.
const (
	// StatusTrusted: a trusted key or identity signed exactly this digest.
	StatusTrusted Status = "trusted"
	// StatusDigestDiffers: a trusted signer signed another digest.
	StatusDigestDiffers Status = "digest-differs"
	// StatusUntrusted: no trusted key or identity verifies the signature.
	StatusUntrusted Status = "untrusted"
	// StatusInvalid: the signature or its payload is malformed.
	StatusInvalid Status = "invalid"
)

// Signature is what kensa learned about one signature of an image.
type Signature struct {
	// Source says where it was found: "tag sha256-<hex>.sig" or
	// "referrer sha256:<digest>".
	Source string `json:"source"`
	// Kind is "key" (cosign key pair) or "keyless" (sigstore bundle).
	Kind   string `json:"kind"`
	Status Status `json:"status"`
	// Signer is the trusted key's name or the certificate's subject;
	// KeyID the key fingerprint; Issuer the keyless OIDC issuer.
	Signer string `json:"signer,omitempty"`
	KeyID  string `json:"key_id,omitempty"`
	Issuer string `json:"issuer,omitempty"`
	// SignedDigest and SignedReference are what the payload names.
	SignedDigest    string `json:"signed_digest,omitempty"`
	SignedReference string `json:"signed_reference,omitempty"`
	// Time is when it was signed: the verified transparency-log time, or
	// the signer's own claim in the payload (TimeSource says which).
	Time       *time.Time `json:"time,omitempty"`
	TimeSource string     `json:"time_source,omitempty"`
	// Rekor describes transparency-log inclusion, when there is any.
	Rekor string `json:"rekor,omitempty"`
	// Problem says why it is not trusted.
	Problem string `json:"problem,omitempty"`
}

// Verification is the result of checking one image's signatures.
type Verification struct {
	Reference  string      `json:"reference"`
	Digest     string      `json:"digest"`
	Signatures []Signature `json:"signatures"`
}

// Trusted reports whether a trusted signer signed exactly this digest.
func (v *Verification) Trusted() bool {
	for _, s := range v.Signatures {
		if s.Status == StatusTrusted {
			return true
		}
	}
	return false
}

// Reason says in one line why the image is or is not trusted.
func (v *Verification) Reason() string {
	if s, ok := v.first(StatusTrusted); ok {
		return "signed by " + s.Signer
	}
	if len(v.Signatures) == 0 {
		return "not signed: no signature under " + v.sigTagName() + " and no signature referrer"
	}
	if s, ok := v.first(StatusDigestDiffers); ok {
		return fmt.Sprintf("signed digest differs: %s signed %s, the image is %s", s.Signer, s.SignedDigest, v.Digest)
	}
	var why []string
	for _, s := range v.Signatures {
		why = append(why, s.Problem)
	}
	return fmt.Sprintf("%d signature(s), none from a trusted key or identity: %s", len(v.Signatures), strings.Join(dedupe(why), "; "))
}

func (v *Verification) first(st Status) (Signature, bool) {
	for _, s := range v.Signatures {
		if s.Status == st {
			return s, true
		}
	}
	return Signature{}, false
}

func (v *Verification) sigTagName() string {
	return strings.Replace(v.Digest, ":", "-", 1) + ".sig"
}

// Findings turns the verification into KS-TR findings (none when trusted).
func (v *Verification) Findings() []finding.Finding {
	if v.Trusted() {
		return nil
	}
	loc := finding.Location{Path: v.Reference}
	id := "KS-TR-002"
	if len(v.Signatures) == 0 {
		id = "KS-TR-001"
	} else if _, ok := v.first(StatusDigestDiffers); ok {
		id = "KS-TR-003"
	}
	return []finding.Finding{rules.MustLookup(id).NewFinding(v.Reference+"@"+v.Digest+": "+v.Reason(), loc)}
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// VerifyOptions configures Verify.
type VerifyOptions struct {
	Registry Registry
	// Keys are the trusted public keys for cosign key-pair signatures.
	Keys []*PublicKey
	// Identities are the trusted keyless signers; TrustedMaterial (a
	// sigstore trusted root) anchors their certificates and transparency
	// log entries. Bundles are verified offline against it.
	Identities      []Identity
	TrustedMaterial root.TrustedMaterial
}

// Verify finds ref's signatures (the sha256-<hex>.sig tag and the OCI 1.1
// referrers) and checks each against the trusted keys and identities and
// against the digest ref resolves to.
func Verify(ctx context.Context, ref name.Reference, o VerifyOptions) (*Verification, error) {
	d, err := o.Registry.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	return VerifyDigest(ctx, ref.String(), d, o)
}

// VerifyDigest is Verify for an already resolved digest; reference is the
// name reports use.
func VerifyDigest(ctx context.Context, reference string, d name.Digest, o VerifyOptions) (*Verification, error) {
	v := &Verification{Reference: reference, Digest: d.DigestStr(), Signatures: []Signature{}}
	tag, err := SignatureTag(d)
	if err != nil {
		return nil, err
	}
	// The referrers list is fetched while the signature tag is read.
	type refsResult struct {
		descs []v1.Descriptor
		err   error
	}
	refsc := make(chan refsResult, 1)
	go func() {
		descs, err := o.Registry.referrers(ctx, d)
		refsc <- refsResult{descs, err}
	}()
	img, err := o.Registry.artifactImage(ctx, tag)
	if err != nil {
		return nil, err
	}
	if img != nil {
		layers, err := readLayers(img)
		if err != nil {
			return nil, fmt.Errorf("signatures %s: %w", tag, err)
		}
		for _, l := range layers {
			if string(l.Desc.MediaType) != SimpleSigningMediaType {
				continue
			}
			v.Signatures = append(v.Signatures, verifySimple("tag "+tag.TagStr(), l, d.DigestStr(), o.Keys))
		}
	}
	rr := <-refsc
	if rr.err != nil {
		return nil, rr.err
	}
	for _, desc := range rr.descs {
		src := "referrer " + desc.Digest.String()
		switch {
		case strings.HasPrefix(desc.ArtifactType, "application/vnd.dev.sigstore.bundle"):
			img, err := o.Registry.referrerImage(ctx, d, desc)
			if err != nil {
				return nil, err
			}
			layers, err := readLayers(img)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", src, err)
			}
			if len(layers) == 0 {
				v.Signatures = append(v.Signatures, Signature{Source: src, Kind: "keyless", Status: StatusInvalid, Problem: "sigstore bundle referrer without a layer"})
				continue
			}
			v.Signatures = append(v.Signatures, verifyBundleJSON(src, layers[0].Content, d.DigestStr(), o))
		case desc.ArtifactType == "application/vnd.dev.cosign.artifact.sig.v1+json":
			img, err := o.Registry.referrerImage(ctx, d, desc)
			if err != nil {
				return nil, err
			}
			layers, err := readLayers(img)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", src, err)
			}
			for _, l := range layers {
				if string(l.Desc.MediaType) == SimpleSigningMediaType {
					v.Signatures = append(v.Signatures, verifySimple(src, l, d.DigestStr(), o.Keys))
				}
			}
		}
	}
	return v, nil
}

// verifySimple checks one simple-signing layer against the trusted keys.
func verifySimple(src string, l artifactLayer, digest string, keys []*PublicKey) Signature {
	s := Signature{Source: src, Kind: "key"}
	b64, ok := l.Desc.Annotations[SignatureAnnotation]
	if !ok || b64 == "" {
		s.Status, s.Problem = StatusInvalid, "layer has no "+SignatureAnnotation+" annotation"
		return s
	}
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		s.Status, s.Problem = StatusInvalid, "signature annotation is not base64: "+err.Error()
		return s
	}
	for _, k := range keys {
		if k.verifier.VerifySignature(bytes.NewReader(sig), bytes.NewReader(l.Content)) == nil {
			s.Signer, s.KeyID, s.Status = k.Name, k.ID, StatusTrusted
			break
		}
	}
	p, perr := ParsePayload(l.Content)
	if perr == nil {
		s.SignedDigest, s.SignedReference = p.Digest, p.DockerReference
		if ts, ok := p.Optional["timestamp"].(float64); ok && ts > 0 && ts < 1<<40 {
			t := time.Unix(int64(ts), 0).UTC()
			s.Time, s.TimeSource = &t, "payload (signer's claim)"
		}
	}
	if rb, ok := l.Desc.Annotations[BundleAnnotation]; ok {
		s.Rekor, s.Time, s.TimeSource = rekorPromise(rb, s.Time, s.TimeSource)
	}
	switch {
	case s.Status != StatusTrusted:
		s.Status = StatusUntrusted
		s.Problem = "no trusted key verifies this signature"
		if _, ok := l.Desc.Annotations[CertificateAnnotation]; ok {
			s.Kind = "keyless"
			s.Problem = "keyless signature in cosign's legacy certificate annotation: kensa verifies keyless signatures from sigstore bundles (OCI referrers) only"
		}
	case perr != nil:
		// The key signed it, but it is not a payload kensa can read.
		s.Status, s.Problem = StatusInvalid, perr.Error()
	case p.Digest != digest:
		s.Status = StatusDigestDiffers
		s.Problem = fmt.Sprintf("signed digest differs: the signature names %s, the image is %s", p.Digest, digest)
	}
	return s
}

// rekorPromise describes cosign's Rekor bundle annotation (a signed entry
// timestamp). Its signature needs Rekor's public key, so it is reported,
// not verified.
func rekorPromise(raw string, t *time.Time, src string) (string, *time.Time, string) {
	var b struct {
		Payload struct {
			IntegratedTime int64  `json:"integratedTime"`
			LogIndex       int64  `json:"logIndex"`
			LogID          string `json:"logID"`
		} `json:"Payload"`
	}
	if err := json.Unmarshal([]byte(raw), &b); err != nil {
		return "rekor bundle annotation unreadable: " + err.Error(), t, src
	}
	if b.Payload.IntegratedTime > 0 && t == nil {
		it := time.Unix(b.Payload.IntegratedTime, 0).UTC()
		t, src = &it, "rekor inclusion promise (not verified)"
	}
	return fmt.Sprintf("inclusion promise, log index %d (signed entry timestamp not verified: keyed signatures are checked without Rekor)", b.Payload.LogIndex), t, src
}

// verifyBundleJSON parses and verifies a sigstore bundle.
func verifyBundleJSON(src string, data []byte, digest string, o VerifyOptions) Signature {
	var b bundle.Bundle
	if err := b.UnmarshalJSON(data); err != nil {
		return Signature{Source: src, Kind: "keyless", Status: StatusInvalid, Problem: "sigstore bundle: " + err.Error()}
	}
	return VerifyEntity(src, &b, digest, o)
}

// VerifyEntity verifies a sigstore signed entity (a bundle) offline
// against o.TrustedMaterial: certificate chain to the trusted Fulcio root,
// transparency-log inclusion, the certificate identity against
// o.Identities, and that the signed in-toto statement's subject is digest.
func VerifyEntity(src string, e verify.SignedEntity, digest string, o VerifyOptions) Signature {
	s := Signature{Source: src, Kind: "keyless"}
	if o.TrustedMaterial == nil {
		s.Status, s.Problem = StatusUntrusted, "sigstore bundle not verified: no trusted root given (--trusted-root)"
		return s
	}
	if len(o.Identities) == 0 {
		s.Status, s.Problem = StatusUntrusted, "sigstore bundle not verified: no trusted identity given (--certificate-identity and --certificate-oidc-issuer)"
		return s
	}
	raw, err := hex.DecodeString(strings.TrimPrefix(digest, "sha256:"))
	if err != nil || !strings.HasPrefix(digest, "sha256:") {
		s.Status, s.Problem = StatusInvalid, "image digest "+digest+" is not sha256"
		return s
	}
	v, err := verify.NewVerifier(o.TrustedMaterial, verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1))
	if err != nil {
		s.Status, s.Problem = StatusInvalid, "sigstore verifier: "+err.Error()
		return s
	}
	var popts []verify.PolicyOption
	for _, id := range o.Identities {
		ci, err := verify.NewShortCertificateIdentity(id.Issuer, id.IssuerRegexp, id.Subject, id.SubjectRegexp)
		if err != nil {
			s.Status, s.Problem = StatusInvalid, "identity "+id.String()+": "+err.Error()
			return s
		}
		popts = append(popts, verify.WithCertificateIdentity(ci))
	}
	res, err := v.Verify(e, verify.NewPolicy(verify.WithArtifactDigest("sha256", raw), popts...))
	if err != nil {
		// Tell a good signature over other bytes from a bad signature.
		if other, oerr := v.Verify(e, verify.NewPolicy(verify.WithoutArtifactUnsafe(), popts...)); oerr == nil {
			fillResult(&s, other)
			s.Status = StatusDigestDiffers
			s.Problem = fmt.Sprintf("signed digest differs: the bundle's statement names %s, the image is %s", s.SignedDigest, digest)
			return s
		}
		s.Status, s.Problem = StatusUntrusted, "sigstore bundle: "+err.Error()
		return s
	}
	fillResult(&s, res)
	if s.Rekor == "" {
		// The verifier required a transparency-log entry (threshold 1)
		// and checked it: its inclusion proof or promise holds.
		if tles, err := e.TlogEntries(); err == nil && len(tles) > 0 {
			s.Rekor = fmt.Sprintf("inclusion verified against the trusted root (log index %d)", tles[0].LogIndex())
		}
	}
	s.SignedDigest = digest
	s.Status = StatusTrusted
	return s
}

// fillResult copies who and when from a sigstore verification result.
func fillResult(s *Signature, res *verify.VerificationResult) {
	if res.Signature != nil && res.Signature.Certificate != nil {
		s.Signer = res.Signature.Certificate.SubjectAlternativeName
		s.Issuer = res.Signature.Certificate.Issuer
	}
	for _, ts := range res.VerifiedTimestamps {
		t := ts.Timestamp.UTC()
		if s.Time == nil {
			s.Time, s.TimeSource = &t, ts.Type+" (verified)"
		}
		if ts.Type == "Tlog" {
			s.Rekor = "inclusion verified against the trusted root (integrated " + t.Format(time.RFC3339) + ")"
		}
	}
	if res.Statement != nil {
		for _, sub := range res.Statement.GetSubject() {
			if h := sub.GetDigest()["sha256"]; h != "" {
				s.SignedDigest = "sha256:" + h
				break
			}
		}
	}
}
