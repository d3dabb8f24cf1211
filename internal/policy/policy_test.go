package policy

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kensa-sec/kensa/internal/finding"
)

func TestLoadConfig(t *testing.T) {
	cfg, err := LoadConfig("testdata/kensa.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := cfg.Override("KS-DF-015"); !ok || s != finding.SeverityInfo {
		t.Errorf("override KS-DF-015 = %v %v, want INFO", s, ok)
	}
	if s, _ := cfg.Override("CVE-2024-0001"); s != finding.SeverityLow {
		t.Errorf("override CVE-2024-0001 = %v, want LOW (case-insensitive)", s)
	}
	if _, ok := cfg.Disabled("KS-CX-004"); !ok {
		t.Error("KS-CX-* does not disable KS-CX-004")
	}
	if _, ok := cfg.Disabled("KS-DF-001"); ok {
		t.Error("KS-DF-001 disabled but not listed")
	}
	if cfg.DBMaxAge() != 48*time.Hour || cfg.Thresholds.LayerWasteBytes != 5000000 {
		t.Errorf("db max age %v, waste threshold %d", cfg.DBMaxAge(), cfg.Thresholds.LayerWasteBytes)
	}
	if (&Config{}).DBMaxAge() != DefaultDBMaxAge {
		t.Error("empty config lacks the default DB age")
	}
}

func TestParseConfigErrors(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"unknown key", "severity_overrides:\n  KS-DF-001: HIGH\nignore_rules: [x]\n", "config bad.yaml:3: field ignore_rules not found"},
		{"unknown nested key", "db:\n  max_age: 1h\n  url: x\n", "bad.yaml:3: field url not found"},
		{"bad severity", "severity_overrides:\n  KS-DF-001: SEVERE\n", "bad.yaml:2: severity_overrides.KS-DF-001: unknown severity \"SEVERE\""},
		{"bad id", "severity_overrides:\n  'not an id': LOW\n", "bad.yaml:2: severity_overrides: \"not an id\" is not a rule ID"},
		{"bad duration", "db:\n  max_age: soon\n", "bad.yaml:2: cannot unmarshal !!str `soon` into time.Duration"},
		{"bad disabled", "disabled_rules:\n  - KS-DF-001\n  - 'two words'\n", "bad.yaml:3: disabled_rules[1]"},
		{"bad registry", "trusted_registries: ['docker.io/library', 'a b']\n", "trusted_registries[1]"},
		{"not a mapping", "- a\n- b\n", "bad.yaml:1: cannot unmarshal"},
		{"two documents", "db: {max_age: 1h}\n---\ndb: {max_age: 2h}\n", "bad.yaml:2: more than one YAML document"},
		{"syntax error", "db:\n  max_age: [1h\n", "config bad.yaml:1: did not find expected"},
		{"negative age", "db: {max_age: -1h}\n", "db.max_age must not be negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig("bad.yaml", []byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want it to contain %q", err, c.want)
			}
		})
	}
	if _, err := ParseConfig("empty.yaml", nil); err != nil {
		t.Errorf("empty config: %v", err)
	}
}

func TestParseIgnore(t *testing.T) {
	rules, err := LoadIgnore("testdata/kensaignore")
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 5 {
		t.Fatalf("got %d rules, want 5", len(rules))
	}
	want := []IgnoreRule{
		{ID: "KS-DF-001", Path: "Dockerfile", Reason: "runs as root: needs port 80 until the ingress lands", Source: "testdata/kensaignore:3"},
		{ID: "KS-DF-015", Reason: "Kubernetes probes it", Source: "testdata/kensaignore:5"},
		{ID: "KS-DF-013", Path: "docker/*.Dockerfile", Reason: "vendor script, pinned by checksum upstream", Source: "testdata/kensaignore:6", Expires: time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)},
		{ID: "CVE-2024-0001", Source: "testdata/kensaignore:7", Expires: time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)},
		{ID: "KS-SE-aws-access-key-id", Path: "/app/**/fixtures/*", Reason: "test fixtures with fake keys", Source: "testdata/kensaignore:8"},
	}
	for i, w := range want {
		g := rules[i]
		if g.ID != w.ID || g.Path != w.Path || g.Reason != w.Reason || g.Source != w.Source || !g.Expires.Equal(w.Expires) {
			t.Errorf("rule %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestParseIgnoreErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{"KS-DF-001\nKS-DF-002 a b\n", "i:2: unexpected \"b\""},
		{"KS-DF-001 exp:2026-13-01\n", "i:1: bad expiry \"exp:2026-13-01\""},
		{"KS-DF-001 exp:tomorrow\n", "i:1: bad expiry"},
		{"KS-DF-001 exp:2026-01-01 exp:2026-02-01\n", "i:1: more than one exp: date"},
		{"\n\n$$$ Dockerfile\n", "i:3: \"$$$\" is not a rule or advisory ID"},
		{"KS-DF-001 [a-\n", "i:1: bad path glob \"[a-\""},
		{"KS-DF-001 " + strings.Repeat("a", 70000) + "\n", "i:1: bufio.Scanner: token too long"},
	}
	for _, c := range cases {
		_, err := ParseIgnore("i", []byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseIgnore(%.30q) error = %v, want %q", c.in, err, c.want)
		}
	}
}

func TestIgnoreMatches(t *testing.T) {
	cases := []struct {
		glob, path string
		want       bool
	}{
		{"", "anything", true},
		{"Dockerfile", "Dockerfile", true},
		{"Dockerfile", "./Dockerfile", true},
		{"Dockerfile", "services/api/Dockerfile", true}, // bare name: any folder
		{"Dockerfile", "Dockerfile.dev", false},
		{"docker/*.Dockerfile", "docker/api.Dockerfile", true},
		{"docker/*.Dockerfile", "docker/sub/api.Dockerfile", false},
		{"/etc/*", "/etc/shadow", true},
		{"etc/*", "/etc/shadow", true},
		{"/app/**/fixtures/*", "/app/a/b/fixtures/key.txt", true},
		{"/app/**/fixtures/*", "/app/fixtures/key.txt", true},
		{"/app/**/fixtures/*", "/srv/fixtures/key.txt", false},
		{"node_modules", "/app/node_modules/x/package.json", false},
		{"/app/node_modules", "/app/node_modules/x/package.json", true}, // folder prefix
	}
	for _, c := range cases {
		var r IgnoreRule
		r.ID = "X"
		if c.glob != "" {
			if err := r.setPath(c.glob); err != nil {
				t.Fatal(err)
			}
		}
		if got := r.Matches("X", c.path); got != c.want {
			t.Errorf("glob %q vs %q = %v, want %v", c.glob, c.path, got, c.want)
		}
		if r.Matches("Y", c.path) {
			t.Errorf("glob %q matched a different ID", c.glob)
		}
	}
}

func TestActive(t *testing.T) {
	r := IgnoreRule{Expires: time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)}
	for _, c := range []struct {
		now  time.Time
		want bool
	}{
		{time.Date(2026, 1, 30, 23, 0, 0, 0, time.UTC), true},
		{time.Date(2026, 1, 31, 23, 59, 0, 0, time.UTC), true}, // the expiry day still ignores
		{time.Date(2026, 2, 1, 0, 0, 1, 0, time.UTC), false},
	} {
		if got := r.Active(c.now); got != c.want {
			t.Errorf("Active(%v) = %v, want %v", c.now, got, c.want)
		}
	}
}

func mkFinding(id string, sev finding.Severity, path string) finding.Finding {
	return finding.Finding{Kind: finding.KindMisconfig, ID: id, Severity: sev, Title: id, Message: "m", Location: finding.Location{Path: path, Line: 1}}
}

func TestApply(t *testing.T) {
	cfg, err := LoadConfig("testdata/kensa.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ign, err := LoadIgnore("testdata/kensaignore")
	if err != nil {
		t.Fatal(err)
	}
	p := &Policy{Config: cfg, ConfigPath: "testdata/kensa.yaml", Ignores: ign, IgnorePath: "testdata/kensaignore"}
	inline := mkFinding("KS-DF-024", finding.SeverityLow, "Dockerfile")
	inline.Suppressed = &finding.Suppression{By: "inline", Source: "Dockerfile:9"}
	rep := finding.NewReport("x", "dockerfile")
	rep.Findings = []finding.Finding{
		mkFinding("KS-DF-001", finding.SeverityHigh, "Dockerfile"),          // ignored by path
		mkFinding("KS-DF-001", finding.SeverityHigh, "other/Containerfile"), // not matched: stays
		mkFinding("KS-DF-015", finding.SeverityLow, "Dockerfile"),           // overridden to INFO and ignored
		mkFinding("KS-DF-013", finding.SeverityHigh, "docker/a.Dockerfile"), // ignore expired: stays + note
		mkFinding("KS-DF-016", finding.SeverityInfo, "Dockerfile"),          // disabled
		mkFinding("KS-CX-001", finding.SeverityMedium, "."),                 // disabled by prefix
		mkFinding("CVE-2024-0001", finding.SeverityHigh, "/var/lib/dpkg/status"),
		inline,
	}
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	Apply(rep, p, now)

	var kept []string
	for _, f := range rep.Findings {
		kept = append(kept, f.ID+" "+f.Severity.String())
	}
	if got, want := strings.Join(kept, ", "), "KS-DF-013 HIGH, KS-DF-001 HIGH"; got != want {
		t.Errorf("kept = %s, want %s", got, want)
	}
	by := map[string]finding.Finding{}
	for _, f := range rep.Suppressed {
		by[f.ID] = f
	}
	if len(rep.Suppressed) != 6 {
		t.Errorf("%d suppressed, want 6", len(rep.Suppressed))
	}
	if s := by["KS-DF-001"].Suppressed; s == nil || s.By != "ignorefile" || s.Source != "testdata/kensaignore:3" || !strings.Contains(s.Reason, "ingress") {
		t.Errorf("KS-DF-001 suppression = %+v", s)
	}
	if f := by["KS-DF-015"]; f.Severity != finding.SeverityInfo {
		t.Errorf("KS-DF-015 severity %v, want INFO from override", f.Severity)
	}
	if s := by["KS-CX-001"].Suppressed; s == nil || s.By != "config" || s.Source != "testdata/kensa.yaml:7" {
		t.Errorf("KS-CX-001 suppression = %+v", s)
	}
	if s := by["CVE-2024-0001"].Suppressed; s == nil || s.Expires != "2026-06-30" {
		t.Errorf("CVE suppression = %+v", s)
	}
	if f := by["CVE-2024-0001"]; f.Severity != finding.SeverityLow {
		t.Errorf("CVE severity %v, want LOW", f.Severity)
	}
	if s := by["KS-DF-024"].Suppressed; s == nil || s.By != "inline" {
		t.Errorf("inline suppression lost: %+v", s)
	}
	if len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "testdata/kensaignore:6: ignore entry KS-DF-013 docker/*.Dockerfile expired on 2026-01-31; the finding counts again") {
		t.Errorf("notes = %q", rep.Notes)
	}
	if rep.Summary.Total != 2 || rep.Summary.Suppressed != 6 {
		t.Errorf("summary %+v", rep.Summary)
	}

	// Before the expiry the same entry ignores.
	rep2 := finding.NewReport("x", "dockerfile")
	rep2.Findings = []finding.Finding{mkFinding("KS-DF-013", finding.SeverityHigh, "docker/a.Dockerfile")}
	Apply(rep2, p, time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC))
	if len(rep2.Findings) != 0 || len(rep2.Notes) != 0 {
		t.Errorf("before expiry: findings %v notes %v", rep2.Findings, rep2.Notes)
	}
	// A nil policy still moves inline suppressions.
	rep3 := finding.NewReport("x", "dockerfile")
	rep3.Findings = []finding.Finding{inline}
	Apply(rep3, nil, now)
	if len(rep3.Findings) != 0 || len(rep3.Suppressed) != 1 {
		t.Errorf("nil policy: %d findings, %d suppressed", len(rep3.Findings), len(rep3.Suppressed))
	}
}

func TestGate(t *testing.T) {
	rep := finding.NewReport("x", "dockerfile")
	rep.Findings = []finding.Finding{mkFinding("A", finding.SeverityLow, "f"), mkFinding("B", finding.SeverityMedium, "f")}
	g, err := ParseGate("HIGH,CRITICAL", 3)
	if err != nil {
		t.Fatal(err)
	}
	r1 := *rep
	g.Filter(&r1)
	if len(r1.Findings) != 0 || g.Code(&r1) != 0 {
		t.Errorf("HIGH,CRITICAL gate kept %d findings, code %d", len(r1.Findings), g.Code(&r1))
	}
	g, _ = ParseGate("medium", 3)
	r2 := *rep
	r2.Findings = append([]finding.Finding(nil), rep.Findings...)
	g.Filter(&r2)
	if len(r2.Findings) != 1 || g.Code(&r2) != 3 {
		t.Errorf("MEDIUM gate kept %d findings, code %d; want 1 and 3", len(r2.Findings), g.Code(&r2))
	}
	g, _ = ParseGate("", 0)
	if g.Code(rep) != 0 {
		t.Error("exit code 0 gate failed the build")
	}
	if _, err := ParseGate("HIGH,SEVERE", 1); err == nil || !strings.Contains(err.Error(), "--severity") {
		t.Errorf("bad severity error = %v", err)
	}
	if _, err := ParseGate("", 300); err == nil {
		t.Error("exit code 300 accepted")
	}
}

func TestTrusted(t *testing.T) {
	cfg, err := LoadConfig("testdata/kensa.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := &Policy{Config: cfg}
	for img, want := range map[string]bool{
		"alpine:3.19":                                              true,
		"docker.io/library/debian:12":                              true,
		"index.docker.io/library/node:20":                          true,
		"gcr.io/distroless/static:nonroot":                         true,
		"gcr.io/distroless/base@sha256:" + strings.Repeat("a", 64): true,
		"ghcr.io/kensa-sec/builder:1":                              true,
		"bitnami/redis:7":                                          false,
		"gcr.io/distroless-evil/static":                            false,
		"quay.io/prometheus/node-exporter":                         false,
		"ghcr.io/kensa-sec-fork/builder":                           false,
	} {
		if got := p.Trusted(img); got != want {
			t.Errorf("Trusted(%q) = %v, want %v", img, got, want)
		}
	}
	if !(&Policy{}).Trusted("anything/at:all") || !(*Policy)(nil).Trusted("x") {
		t.Error("no trusted list configured should trust everything")
	}
	if p2 := (&Policy{Config: &Config{TrustedRegistries: []string{"myorg"}}}); !p2.Trusted("myorg/app:1") || p2.Trusted("other/app") {
		t.Error("Docker Hub namespace entry not normalized")
	}
}

func TestLoadMissingAndHuge(t *testing.T) {
	if _, err := LoadConfig("testdata/nope.yaml"); err == nil {
		t.Error("missing config loaded")
	}
	dir := t.TempDir()
	if _, err := LoadIgnore(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("folder as ignore file: %v", err)
	}
	big := dir + "/big"
	if err := os.WriteFile(big, make([]byte, maxPolicyFile+10), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadIgnore(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("huge ignore file: %v", err)
	}
}
