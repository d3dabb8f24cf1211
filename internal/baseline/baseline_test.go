package baseline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/inventory"
)

func f(id, path, msg string) finding.Finding {
	return finding.Finding{ID: id, Message: msg, Location: finding.Location{Path: path}}
}

// TestApplyMultiset: a fingerprint twice in the baseline covers two
// findings, not three.
func TestApplyMultiset(t *testing.T) {
	old := &finding.Report{Findings: []finding.Finding{f("A", "x", "m"), f("A", "x", "m")}, Suppressed: []finding.Finding{f("B", "y", "n")}}
	rep := &finding.Report{Findings: []finding.Finding{f("A", "x", "m"), f("A", "x", "m"), f("A", "x", "m"), f("B", "y", "n"), f("C", "z", "o")}}
	if n := Of(old).Apply(rep, "old.json"); n != 3 {
		t.Errorf("moved %d, want 3", n)
	}
	var left []string
	for _, x := range rep.Findings {
		left = append(left, x.ID)
	}
	if strings.Join(left, ",") != "A,C" {
		t.Errorf("left %v, want A,C", left)
	}
	for _, s := range rep.Suppressed {
		if s.Suppressed == nil || s.Suppressed.By != "baseline" || s.Suppressed.Source != "old.json" {
			t.Errorf("suppression %+v", s.Suppressed)
		}
	}
}

func TestCompare(t *testing.T) {
	old := &finding.Report{Target: "old", Findings: []finding.Finding{f("A", "x", "m"), f("B", "y", "n")},
		Packages: []inventory.Package{{Type: "deb", Name: "openssl", Version: "3.0.1", Path: "/var/lib/dpkg/status"}, {Type: "deb", Name: "gone", Version: "1", Path: "/var/lib/dpkg/status"}}}
	new := &finding.Report{Target: "new", Findings: []finding.Finding{f("B", "y", "n"), f("C", "z", "o")},
		Packages: []inventory.Package{{Type: "deb", Name: "openssl", Version: "3.0.2", Path: "/var/lib/dpkg/status"}, {Type: "npm", Name: "new", Version: "2", Path: "/app/package.json"}}}
	d := Compare(old, new)
	if len(d.Added) != 1 || d.Added[0].ID != "C" || len(d.Removed) != 1 || d.Removed[0].ID != "A" || len(d.Unchanged) != 1 {
		t.Errorf("added %v removed %v unchanged %v", d.Added, d.Removed, d.Unchanged)
	}
	want := []PackageChange{
		{Type: "deb", Name: "gone", Path: "/var/lib/dpkg/status", From: "1"},
		{Type: "deb", Name: "openssl", Path: "/var/lib/dpkg/status", From: "3.0.1", To: "3.0.2"},
		{Type: "npm", Name: "new", Path: "/app/package.json", To: "2"},
	}
	if len(d.Packages) != len(want) {
		t.Fatalf("packages %+v", d.Packages)
	}
	for i := range want {
		if d.Packages[i] != want[i] {
			t.Errorf("package %d = %+v, want %+v", i, d.Packages[i], want[i])
		}
	}
}

func TestReadReportBad(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"empty":  "",
		"array":  "[1]",
		"other":  `{"runs": []}`,
		"newer":  `{"schema_version": 999, "findings": []}`,
		"broken": `{"schema_version": 1, "findings": [`,
	}
	for name, body := range cases {
		p := filepath.Join(dir, name+".json")
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := ReadReport(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err %v, want one naming the file", name, err)
		}
	}
	if _, err := ReadReport(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file read")
	}
}

// FuzzReadReport: any bytes give a report or an error, never a panic.
func FuzzReadReport(f *testing.F) {
	f.Add([]byte(`{"schema_version": 1, "target": "x", "findings": [{"kind": "misconfig", "id": "A", "severity": "HIGH", "title": "t", "message": "m", "location": {"path": "p"}}]}`))
	f.Add([]byte(`{"schema_version": 1, "findings": null}`))
	f.Add([]byte(`{"schema_version": -1, "findings": [{"severity": 7}]}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "r.json")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		rep, err := ReadReport(p)
		if err == nil {
			Of(rep)
			Compare(rep, rep)
		}
	})
}
