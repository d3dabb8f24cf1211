package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/kensa-sec/kensa/internal/finding"
)

// Policy is everything that decides what a scan reports: the config and the
// ignore file. The zero value (or nil) applies nothing.
type Policy struct {
	Config     *Config
	ConfigPath string // "" when no config was loaded
	Ignores    []IgnoreRule
	IgnorePath string // "" when no ignore file was loaded
}

// TrustedRegistries returns the configured trusted registries (nil: no check).
func (p *Policy) TrustedRegistries() []string {
	if p == nil || p.Config == nil {
		return nil
	}
	return p.Config.TrustedRegistries
}

// Trusted reports whether image (a FROM reference such as "alpine:3.19" or
// "gcr.io/distroless/static@sha256:...") comes from a trusted registry or
// repository prefix. Docker Hub short names are normalized, so the entry
// "docker.io/library" trusts "alpine". With no list configured every image
// is trusted.
func (p *Policy) Trusted(image string) bool {
	list := p.TrustedRegistries()
	if len(list) == 0 {
		return true
	}
	repo := normalizeRepo(image)
	for _, entry := range list {
		e := strings.TrimSuffix(normalizePrefix(entry), "/")
		if repo == e || strings.HasPrefix(repo, e+"/") {
			return true
		}
	}
	return false
}

func normalizeRepo(image string) string {
	ref, err := name.ParseReference(image, name.WeakValidation)
	if err != nil {
		return strings.ToLower(image)
	}
	repo := ref.Context().Name()
	return strings.Replace(repo, "index.docker.io/", "docker.io/", 1)
}

func normalizePrefix(entry string) string {
	e := strings.ToLower(strings.TrimSpace(entry))
	e = strings.Replace(e, "index.docker.io", "docker.io", 1)
	if e == "docker.io" || strings.HasPrefix(e, "docker.io/") {
		return e
	}
	first, _, _ := strings.Cut(e, "/")
	if !strings.ContainsAny(first, ".:") && first != "localhost" {
		// "library" or "myorg": a Docker Hub namespace.
		return "docker.io/" + e
	}
	return e
}

// Apply applies p to rep as of day now: severity overrides, disabled rules
// and ignore-file entries, and moves findings that scanners already marked
// suppressed (inline ignores) to rep.Suppressed. Expired ignore entries add a
// note. It finalizes rep.
func Apply(rep *finding.Report, p *Policy, now time.Time) {
	if p == nil {
		p = &Policy{}
	}
	cfg := p.Config
	used := make([]bool, len(p.Ignores))
	kept := rep.Findings[:0:0]
	for _, f := range rep.Findings {
		if s, ok := cfg.Override(f.ID); ok {
			f.Severity = s
		}
		if f.Suppressed == nil {
			if i, ok := cfg.Disabled(f.ID); ok {
				f.Suppressed = &finding.Suppression{By: "config", Source: fmt.Sprintf("%s:%d", p.ConfigPath, cfg.lines[fmt.Sprintf("disabled_rules.%d", i)]), Reason: "rule disabled in config"}
			}
		}
		if f.Suppressed == nil {
			for i, r := range p.Ignores {
				if !r.Matches(f.ID, f.Location.Path) {
					continue
				}
				used[i] = true
				if !r.Active(now) {
					continue
				}
				s := &finding.Suppression{By: "ignorefile", Source: r.Source, Reason: r.Reason}
				if !r.Expires.IsZero() {
					s.Expires = r.Expires.Format("2006-01-02")
				}
				f.Suppressed = s
				break
			}
		}
		if f.Suppressed != nil {
			rep.Suppressed = append(rep.Suppressed, f)
			continue
		}
		kept = append(kept, f)
	}
	rep.Findings = kept
	for i := range rep.Suppressed {
		if s, ok := cfg.Override(rep.Suppressed[i].ID); ok {
			rep.Suppressed[i].Severity = s
		}
	}
	for i, r := range p.Ignores {
		if r.Active(now) {
			continue
		}
		what := "no finding matched it"
		if used[i] {
			what = "the finding counts again"
		}
		target := r.ID
		if r.Path != "" {
			target += " " + r.Path
		}
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s: ignore entry %s expired on %s; %s", r.Source, target, r.Expires.Format("2006-01-02"), what))
	}
	rep.Finalize()
}

// Gate holds the CI flags: which severities are shown and the exit code to
// return when shown findings remain.
type Gate struct {
	// Severities to show; empty shows all.
	Severities []finding.Severity
	// ExitCode is returned when at least one unsuppressed finding at a shown
	// severity remains; 0 never fails.
	ExitCode int
}

// ParseGate reads --severity (comma-separated, "" = all) and --exit-code.
func ParseGate(severities string, exitCode int) (Gate, error) {
	s, err := finding.ParseSeverities(severities)
	if err != nil {
		return Gate{}, fmt.Errorf("--severity: %w", err)
	}
	if exitCode < 0 || exitCode > 255 {
		return Gate{}, fmt.Errorf("--exit-code %d: want 0-255", exitCode)
	}
	return Gate{Severities: s, ExitCode: exitCode}, nil
}

// Shows reports whether findings of severity s are shown.
func (g Gate) Shows(s finding.Severity) bool {
	if len(g.Severities) == 0 {
		return true
	}
	for _, x := range g.Severities {
		if x == s {
			return true
		}
	}
	return false
}

// Filter removes findings (and suppressed findings) at severities the gate
// does not show, then finalizes rep.
func (g Gate) Filter(rep *finding.Report) {
	keep := func(fs []finding.Finding) []finding.Finding {
		out := fs[:0:0]
		for _, f := range fs {
			if g.Shows(f.Severity) {
				out = append(out, f)
			}
		}
		return out
	}
	rep.Findings = keep(rep.Findings)
	if rep.Suppressed != nil {
		rep.Suppressed = keep(rep.Suppressed)
	}
	rep.Finalize()
}

// Code returns the exit code for a filtered report: g.ExitCode when an
// unsuppressed finding at a shown severity remains, else 0.
func (g Gate) Code(rep *finding.Report) int {
	for _, f := range rep.Findings {
		if f.Suppressed == nil && g.Shows(f.Severity) {
			return g.ExitCode
		}
	}
	return 0
}
