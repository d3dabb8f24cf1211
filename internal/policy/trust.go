package policy

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/kensa-sec/kensa/internal/finding"
)

// TrustConfig is kensa.yaml's trust: section: whom kensa verify and kensa
// admit trust, and what admission requires.
type TrustConfig struct {
	// Keys are trusted cosign public keys (PEM files; a relative path is
	// relative to the config file).
	Keys []TrustKey `yaml:"keys"`
	// Identities are trusted keyless signers (certificate subject and OIDC
	// issuer), anchored by TrustedRoot.
	Identities []TrustIdentity `yaml:"identities"`
	// TrustedRoot is a sigstore trusted_root.json for offline keyless
	// verification.
	TrustedRoot string `yaml:"trusted_root"`
	// Admit configures kensa admit.
	Admit AdmitConfig `yaml:"admit"`

	dir string // the config file's folder, for relative paths
}

// TrustKey names one trusted public key.
type TrustKey struct {
	Name string `yaml:"name"`
	Path string `yaml:"path"`
}

// TrustIdentity is one trusted keyless signer. Exactly one of Subject /
// SubjectRegexp and one of Issuer / IssuerRegexp must be set.
type TrustIdentity struct {
	Subject       string `yaml:"subject"`
	SubjectRegexp string `yaml:"subject_regexp"`
	Issuer        string `yaml:"issuer"`
	IssuerRegexp  string `yaml:"issuer_regexp"`
}

// AdmitConfig is what kensa admit requires of every image.
type AdmitConfig struct {
	// MaxAge is how old a scan attestation may be (default 168h).
	MaxAge time.Duration `yaml:"max_age"`
	// MaxSeverity is the highest severity an attested finding may have
	// (default HIGH: any CRITICAL finding denies).
	MaxSeverity string `yaml:"max_severity"`
	// RequireDigest denies tag references instead of resolving them.
	RequireDigest bool `yaml:"require_digest"`
	// FailOpen lets the webhook allow when kensa itself fails (a registry
	// outage, a timeout); the default is fail-closed.
	FailOpen bool `yaml:"fail_open"`
	// Timeout is the webhook's budget per request (default 8s, below the
	// API server's 10s default).
	Timeout time.Duration `yaml:"timeout"`
	// CacheTTL is how long a decision for a digest is reused (default 5m).
	CacheTTL time.Duration `yaml:"cache_ttl"`
}

// Admission defaults.
const (
	DefaultAttestationMaxAge = 168 * time.Hour
	DefaultAdmitTimeout      = 8 * time.Second
	DefaultAdmitCacheTTL     = 5 * time.Minute
)

// Path resolves a path from the trust section against the config file's
// folder.
func (t *TrustConfig) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || t.dir == "" {
		return p
	}
	return filepath.Join(t.dir, p)
}

// MaxAgeOrDefault returns admit.max_age or its default.
func (a AdmitConfig) MaxAgeOrDefault() time.Duration {
	if a.MaxAge == 0 {
		return DefaultAttestationMaxAge
	}
	return a.MaxAge
}

// MaxSeverityOrDefault returns admit.max_severity or HIGH.
func (a AdmitConfig) MaxSeverityOrDefault() finding.Severity {
	if s, err := finding.ParseSeverity(a.MaxSeverity); err == nil && a.MaxSeverity != "" {
		return s
	}
	return finding.SeverityHigh
}

// TimeoutOrDefault returns admit.timeout or its default.
func (a AdmitConfig) TimeoutOrDefault() time.Duration {
	if a.Timeout == 0 {
		return DefaultAdmitTimeout
	}
	return a.Timeout
}

// CacheTTLOrDefault returns admit.cache_ttl or its default.
func (a AdmitConfig) CacheTTLOrDefault() time.Duration {
	if a.CacheTTL == 0 {
		return DefaultAdmitCacheTTL
	}
	return a.CacheTTL
}

// validate checks the trust section; name and lines place errors.
func (t *TrustConfig) validate(name string, lines map[string]int) error {
	t.dir = filepath.Dir(name)
	at := func(key string) string { return fmt.Sprintf("config %s:%d: trust.%s", name, lines["trust."+key], key) }
	for i, k := range t.Keys {
		if strings.TrimSpace(k.Path) == "" {
			return fmt.Errorf("%s: a key needs a path (a cosign.pub PEM file)", at(fmt.Sprintf("keys.%d", i)))
		}
	}
	for i, id := range t.Identities {
		key := fmt.Sprintf("identities.%d", i)
		if (id.Subject == "") == (id.SubjectRegexp == "") {
			return fmt.Errorf("%s: set exactly one of subject and subject_regexp", at(key))
		}
		if (id.Issuer == "") == (id.IssuerRegexp == "") {
			return fmt.Errorf("%s: set exactly one of issuer and issuer_regexp", at(key))
		}
		for _, re := range []string{id.SubjectRegexp, id.IssuerRegexp} {
			if _, err := regexp.Compile(re); err != nil {
				return fmt.Errorf("%s: %w", at(key), err)
			}
		}
	}
	a := t.Admit
	if a.MaxAge < 0 || a.Timeout < 0 || a.CacheTTL < 0 {
		return fmt.Errorf("%s: durations must not be negative", at("admit"))
	}
	if a.MaxSeverity != "" {
		if _, err := finding.ParseSeverity(a.MaxSeverity); err != nil {
			return fmt.Errorf("%s: %w", at("admit.max_severity"), err)
		}
	}
	return nil
}
