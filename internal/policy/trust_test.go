package policy

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kensa-sec/kensa/internal/finding"
)

func TestTrustConfig(t *testing.T) {
	cfg, err := ParseConfig(filepath.Join("conf", "kensa.yaml"), []byte(`
trust:
  keys:
    - {name: release, path: keys/release.pub}
    - {path: /etc/kensa/other.pub}
  identities:
    - {subject: dev@example.com, issuer: https://accounts.example}
    - {subject_regexp: '^https://github\.com/org/', issuer_regexp: '^https://token\.'}
  trusted_root: root.json
  admit: {max_age: 24h, max_severity: medium, require_digest: true, timeout: 2s}
`))
	if err != nil {
		t.Fatal(err)
	}
	tr := cfg.Trust
	if got := tr.Path(tr.Keys[0].Path); got != filepath.Join("conf", "keys", "release.pub") {
		t.Errorf("relative key path = %q", got)
	}
	if got := tr.Path(tr.Keys[1].Path); got != "/etc/kensa/other.pub" {
		t.Errorf("absolute key path = %q", got)
	}
	a := tr.Admit
	if a.MaxAgeOrDefault() != 24*time.Hour || a.MaxSeverityOrDefault() != finding.SeverityMedium || !a.RequireDigest ||
		a.TimeoutOrDefault() != 2*time.Second || a.CacheTTLOrDefault() != DefaultAdmitCacheTTL || a.FailOpen {
		t.Errorf("admit = %+v", a)
	}
	var zero AdmitConfig
	if zero.MaxAgeOrDefault() != DefaultAttestationMaxAge || zero.MaxSeverityOrDefault() != finding.SeverityHigh || zero.TimeoutOrDefault() != DefaultAdmitTimeout {
		t.Errorf("defaults = %v %v %v", zero.MaxAgeOrDefault(), zero.MaxSeverityOrDefault(), zero.TimeoutOrDefault())
	}

	for _, tc := range []struct{ yaml, want string }{
		{"trust:\n  keys:\n    - {name: x}\n", "kensa.yaml:3: trust.keys.0: a key needs a path"},
		{"trust:\n  identities:\n    - {subject: a, subject_regexp: b, issuer: c}\n", "trust.identities.0: set exactly one of subject and subject_regexp"},
		{"trust:\n  identities:\n    - {subject: a}\n", "set exactly one of issuer and issuer_regexp"},
		{"trust:\n  identities:\n    - {subject_regexp: '(', issuer: c}\n", "missing closing )"},
		{"trust:\n  admit: {max_severity: SEVERE}\n", "trust.admit.max_severity: unknown severity"},
		{"trust:\n  admit: {max_age: -1h}\n", "durations must not be negative"},
		{"trust:\n  admit: {max_age: soon}\n", "kensa.yaml:2"},
		{"trust:\n  keyz: []\n", "field keyz not found"},
	} {
		_, err := ParseConfig("kensa.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
