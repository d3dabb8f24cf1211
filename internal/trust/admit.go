package trust

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/rules"
)

// clockSkew is how far in the future an attestation's scan time may lie.
const clockSkew = 5 * time.Minute

// AdmitPolicy is what an image needs to be admitted: a trusted signature
// over its digest and a fresh, trusted kensa attestation with no finding
// above MaxSeverity.
type AdmitPolicy struct {
	// Verify holds the trusted keys and identities, and the registry.
	Verify VerifyOptions
	// MaxAge bounds the attestation's age; MaxSeverity the findings it
	// may report.
	MaxAge      time.Duration
	MaxSeverity finding.Severity
	// RequireDigest denies tag references instead of resolving them.
	RequireDigest bool
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Decision is the admission outcome for one image.
type Decision struct {
	Image   string `json:"image"`
	Digest  string `json:"digest,omitempty"`
	Allowed bool   `json:"allowed"`
	// Reasons say why, most important first.
	Reasons []string `json:"reasons"`
	// Findings are the KS-TR findings behind a deny.
	Findings []finding.Finding `json:"findings,omitempty"`
	// Internal marks a deny caused by kensa failing (registry unreachable,
	// timeout), not by the image: a fail-open webhook allows those.
	Internal bool `json:"internal_error,omitempty"`
	// ValidUntil is when an allow lapses (the attestation reaches max_age).
	ValidUntil *time.Time `json:"valid_until,omitempty"`
}

// Reason joins the reasons into one line.
func (d Decision) Reason() string { return strings.Join(d.Reasons, "; ") }

func (p *AdmitPolicy) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func deny(image, digest string, internal bool, id, reason string) Decision {
	d := Decision{Image: image, Digest: digest, Reasons: []string{reason}, Internal: internal}
	if id != "" {
		d.Findings = []finding.Finding{rules.MustLookup(id).NewFinding(image+": "+reason, finding.Location{Path: image})}
	}
	return d
}

// Resolve turns image into the digest to decide on: a digest reference as
// it is, a tag resolved through the registry (unless RequireDigest). A
// non-nil Decision is a deny.
func (p *AdmitPolicy) Resolve(ctx context.Context, image string) (name.Digest, *Decision) {
	ref, err := p.Verify.Registry.ParseReference(image)
	if err != nil {
		d := deny(image, "", false, "", err.Error())
		return name.Digest{}, &d
	}
	if dg, ok := ref.(name.Digest); ok {
		return dg, nil
	}
	if p.RequireDigest {
		d := deny(image, "", false, "", "not digest-pinned: admission requires IMAGE@sha256:<digest> (trust.admit.require_digest)")
		return name.Digest{}, &d
	}
	dg, err := p.Verify.Registry.Resolve(ctx, ref)
	if err != nil {
		d := deny(image, "", true, "", "cannot resolve the tag to a digest: "+err.Error())
		return name.Digest{}, &d
	}
	return dg, nil
}

// Check decides on one image reference.
func (p *AdmitPolicy) Check(ctx context.Context, image string) Decision {
	dg, d := p.Resolve(ctx, image)
	if d != nil {
		return *d
	}
	out := p.CheckDigest(ctx, image, dg)
	if _, pinned := mustParse(image).(name.Digest); !pinned && out.Allowed {
		out.Reasons = append(out.Reasons, "tag resolved to "+dg.DigestStr()+" (pin it by digest in the manifest)")
	}
	return out
}

func mustParse(image string) name.Reference {
	r, _ := name.ParseReference(image)
	return r
}

// CheckDigest decides on the resolved digest dg of image.
func (p *AdmitPolicy) CheckDigest(ctx context.Context, image string, dg name.Digest) Decision {
	digest := dg.DigestStr()
	// Attestations are fetched while the signatures are checked.
	type attResult struct {
		envs [][]byte
		err  error
	}
	attc := make(chan attResult, 1)
	go func() {
		envs, err := FetchAttestations(ctx, dg, p.Verify.Registry)
		attc <- attResult{envs, err}
	}()
	v, err := VerifyDigest(ctx, image, dg, p.Verify)
	if err != nil {
		return deny(image, digest, true, "", "cannot check signatures: "+err.Error())
	}
	if !v.Trusted() {
		d := deny(image, digest, false, "", v.Reason())
		d.Findings = v.Findings()
		return d
	}
	ar := <-attc
	envs, err := ar.envs, ar.err
	if err != nil {
		return deny(image, digest, true, "", "cannot fetch attestations: "+err.Error())
	}
	var best *Attestation
	var problems []string
	for _, e := range envs {
		a, err := VerifyEnvelope(e, digest, p.Verify.Keys)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if best == nil || a.Predicate.ScannedAt.After(best.Predicate.ScannedAt) {
			best = a
		}
	}
	if best == nil {
		why := "no kensa scan attestation (" + PredicateType + ") under " + strings.Replace(digest, ":", "-", 1) + ".att"
		if len(problems) > 0 {
			why = fmt.Sprintf("no valid kensa scan attestation: %s", strings.Join(dedupe(problems), "; "))
		}
		return deny(image, digest, false, "KS-TR-006", why)
	}
	now := p.now()
	at := best.Predicate.ScannedAt
	if at.After(now.Add(clockSkew)) {
		return deny(image, digest, false, "KS-TR-006", fmt.Sprintf("attestation scan time %s is in the future", at.UTC().Format(time.RFC3339)))
	}
	if age := now.Sub(at); p.MaxAge > 0 && age > p.MaxAge {
		return deny(image, digest, false, "KS-TR-006", fmt.Sprintf("attestation is stale: scanned %s, %s ago, max_age %s", at.UTC().Format(time.RFC3339), age.Round(time.Minute), p.MaxAge))
	}
	var above []string
	for _, s := range finding.AllSeverities() {
		if s > p.MaxSeverity && best.Predicate.Summary.BySeverity[s.String()] > 0 {
			above = append(above, fmt.Sprintf("%d %s", best.Predicate.Summary.BySeverity[s.String()], s))
		}
	}
	if len(above) > 0 {
		return deny(image, digest, false, "KS-TR-006", fmt.Sprintf("attested scan has findings above %s: %s", p.MaxSeverity, strings.Join(above, ", ")))
	}
	var until *time.Time
	if p.MaxAge > 0 {
		u := at.Add(p.MaxAge)
		until = &u
	}
	return Decision{Image: image, Digest: digest, Allowed: true, ValidUntil: until, Reasons: []string{
		v.Reason(),
		fmt.Sprintf("scan attested by %s at %s: no findings above %s", best.Signer, at.UTC().Format(time.RFC3339), p.MaxSeverity),
	}}
}
