package trust

import (
	"context"
	"fmt"

	"github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/rules"
)

// BaseOptions configures CheckBases.
type BaseOptions struct {
	// TrustedRegistry reports whether a base image's registry or
	// repository prefix is trusted (policy.Policy.Trusted).
	TrustedRegistry func(image string) bool
	// VerifySignatures also verifies each digest-pinned base image's
	// signatures with Verify (--verify-base); it needs the registry.
	VerifySignatures bool
	Verify           VerifyOptions
}

// CheckBases checks the base image of every stage of df that does not
// build on an earlier stage: KS-TR-005 for a tag-only reference (its
// trust cannot be checked), KS-TR-004 for an untrusted registry or, with
// VerifySignatures, a digest without a trusted signature.
func CheckBases(ctx context.Context, df *dockerfile.File, o BaseOptions) ([]finding.Finding, error) {
	var out []finding.Finding
	for _, st := range df.Stages {
		b := st.Base
		if st.BaseStage != nil || b.Scratch || st.From == nil {
			continue
		}
		loc := finding.Location{Path: df.Path, Line: st.From.StartLine, EndLine: st.From.EndLine, Step: st.From.Original}
		if b.Unresolved {
			out = append(out, rules.MustLookup("KS-TR-005").NewFinding(fmt.Sprintf("base image %s holds a build argument without a default: what it names, and whether it is signed, cannot be checked", b.Raw), loc))
			continue
		}
		if o.TrustedRegistry != nil && !o.TrustedRegistry(b.Resolved) {
			out = append(out, rules.MustLookup("KS-TR-004").NewFinding(fmt.Sprintf("base image %s is not from a registry in trusted_registries", b.Resolved), loc))
			continue
		}
		if b.Digest == "" {
			out = append(out, rules.MustLookup("KS-TR-005").NewFinding(fmt.Sprintf("base image %s names a tag only: its signature cannot be tied to the bytes a build pulls", b.Resolved), loc))
			continue
		}
		if !o.VerifySignatures {
			continue
		}
		ref, err := o.Verify.Registry.ParseReference(b.Resolved)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", df.Path, st.From.StartLine, err)
		}
		v, err := Verify(ctx, ref, o.Verify)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: base image: %w", df.Path, st.From.StartLine, err)
		}
		if !v.Trusted() {
			out = append(out, rules.MustLookup("KS-TR-004").NewFinding(fmt.Sprintf("base image %s: %s", b.Resolved, v.Reason()), loc))
		}
	}
	return out, nil
}
