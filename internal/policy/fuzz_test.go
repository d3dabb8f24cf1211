package policy

import (
	"testing"
	"time"

	"github.com/kensa-sec/kensa/internal/finding"
)

func FuzzParseIgnore(f *testing.F) {
	f.Add([]byte("KS-DF-001 Dockerfile exp:2026-01-01 # reason\n# c\nCVE-1 /a/**/b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := ParseIgnore("fuzz", data)
		if err != nil {
			return
		}
		rep := finding.NewReport("x", "dockerfile")
		rep.Findings = []finding.Finding{{ID: "KS-DF-001", Location: finding.Location{Path: "a/b/Dockerfile"}}}
		Apply(rep, &Policy{Ignores: rules}, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		if rep.Summary.Total+rep.Summary.Suppressed != 1 {
			t.Fatalf("finding lost: %+v", rep.Summary)
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("severity_overrides: {KS-DF-015: INFO}\ndisabled_rules: [KS-CX-*]\ndb: {max_age: 1h}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig("fuzz", data)
		if err != nil {
			return
		}
		p := &Policy{Config: cfg, ConfigPath: "fuzz"}
		_ = p.Trusted("alpine:3.19")
		rep := finding.NewReport("x", "dockerfile")
		rep.Findings = []finding.Finding{{ID: "KS-DF-015"}}
		Apply(rep, p, time.Now())
	})
}
