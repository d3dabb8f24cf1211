package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/finding"
)

func vulnFinding(id string, aliases []string, purl string) finding.Finding {
	return finding.Finding{Kind: finding.KindVuln, ID: id, Aliases: aliases, Severity: finding.SeverityHigh,
		Package: &finding.PackageRef{Name: "x", Version: "1", PURL: purl}}
}

func TestVEXApply(t *testing.T) {
	v, err := LoadVEX([]string{"testdata/vex/app.openvex.json"})
	if err != nil {
		t.Fatal(err)
	}
	rep := finding.NewReport("registry.example/team/app:1.2", "image")
	rep.Image = &finding.ImageInfo{Reference: "registry.example/team/app:1.2", Digest: "sha256:0123abcd"}
	rep.Findings = []finding.Finding{
		// Matched by alias, product purl without version covers any version.
		vulnFinding("CVE-2020-14040", []string{"GO-2020-0015", "GHSA-5rcv-m4m3-hfh7"}, "pkg:golang/golang.org/x/text@v0.3.0"),
		// "affected" does not suppress.
		vulnFinding("CVE-2022-32149", []string{"GO-2022-1059"}, "pkg:golang/golang.org/x/text@v0.3.0"),
		// Image product with a matching subcomponent; qualifiers on ours are fine.
		vulnFinding("CVE-2026-9999", nil, "pkg:deb/debian/openssl@3.0.11-1?arch=amd64&distro=debian-12"),
		// Same vulnerability, a package the subcomponents do not list.
		vulnFinding("CVE-2026-9999", nil, "pkg:deb/debian/libc6@2.36-9"),
		// Statement about another image.
		vulnFinding("CVE-2026-7777", nil, "pkg:deb/debian/zlib@1.2"),
		// A later under_investigation statement overrides not_affected.
		vulnFinding("CVE-2026-5555", nil, "pkg:npm/left-pad@1.3.0"),
		// Not a vuln finding: never touched.
		{Kind: finding.KindMisconfig, ID: "GO-2020-0015"},
	}
	if n := v.Apply(rep); n != 2 {
		t.Fatalf("suppressed %d, want 2", n)
	}
	if len(rep.Findings) != 5 || len(rep.Suppressed) != 2 {
		t.Fatalf("findings %d suppressed %d", len(rep.Findings), len(rep.Suppressed))
	}
	s0 := rep.Suppressed[0]
	if s0.ID != "CVE-2020-14040" || s0.Suppressed == nil || s0.Suppressed.By != "vex" ||
		s0.Suppressed.Source != "testdata/vex/app.openvex.json#stmt-text" ||
		!strings.Contains(s0.Suppressed.Reason, "vulnerable_code_not_in_execute_path") ||
		!strings.Contains(s0.Suppressed.Reason, "UTF-16 decoder") {
		t.Errorf("first suppression = %+v / %+v", s0, s0.Suppressed)
	}
	s1 := rep.Suppressed[1]
	if s1.ID != "CVE-2026-9999" || !strings.Contains(s1.Package.PURL, "openssl") || !strings.HasPrefix(s1.Suppressed.Reason, "fixed") {
		t.Errorf("second suppression = %+v / %+v", s1, s1.Suppressed)
	}
}

func TestLoadVEXErrors(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"notvex.json": `{"hello": "world"}`,
		"broken.json": `{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [`,
		"status.json": `{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"vulnerability": {"name": "CVE-1"}, "status": "maybe"}]}`,
		"novuln.json": `{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"status": "fixed"}]}`,
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := LoadVEX([]string{p}); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want an error naming the file", name, err)
		}
	}
	if _, err := LoadVEX([]string{filepath.Join(dir, "missing.json")}); err == nil {
		t.Error("missing file: want an error")
	}
}

func FuzzParseVEX(f *testing.F) {
	seed, _ := os.ReadFile("testdata/vex/app.openvex.json")
	f.Add(seed)
	f.Add([]byte(`{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "pkg:npm/a"}], "status": "fixed"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := ParseVEX("fuzz.json", data)
		if err != nil {
			return
		}
		v := &VEX{docs: []vexDoc{{path: "fuzz.json", doc: doc}}}
		rep := finding.NewReport("app", "image")
		rep.Image = &finding.ImageInfo{Reference: "app:1", Digest: "sha256:00"}
		rep.Findings = []finding.Finding{vulnFinding("CVE-1", []string{"GHSA-x"}, "pkg:npm/a@1.0.0")}
		v.Apply(rep)
		if len(rep.Findings)+len(rep.Suppressed) != 1 {
			t.Fatalf("finding lost: %d + %d", len(rep.Findings), len(rep.Suppressed))
		}
	})
}
