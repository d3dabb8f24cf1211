package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/testimages"
)

var examplePolicies, _ = filepath.Abs("../../examples/policies")
var exampleWebapp, _ = filepath.Abs("../../examples/webapp")

func policyFindings(t *testing.T, stdout string) (map[string]finding.Finding, *finding.Report) {
	t.Helper()
	var rep finding.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, stdout)
	}
	out := map[string]finding.Finding{}
	for _, f := range rep.Findings {
		if strings.HasPrefix(f.ID, "POL-") || strings.HasPrefix(f.ID, "ACME-") {
			out[f.ID] = f
		}
	}
	return out, &rep
}

// TestScanPolicyDockerfile: the example policies add findings to a
// Dockerfile scan, and those findings obey the ignore file and the gate.
func TestScanPolicyDockerfile(t *testing.T) {
	isolate(t)
	code, out, errs := run(t, "scan", "--format", "json", "--policy", examplePolicies, exampleWebapp)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	pol, rep := policyFindings(t, out)
	m, ok := pol["POL-MAINTAINER"]
	if !ok || m.Location.Path != "Dockerfile" || m.Location.Line != 2 || m.Severity != finding.SeverityMedium {
		t.Errorf("POL-MAINTAINER = %+v (present %v)", m, ok)
	}
	d, ok := pol["POL-DOCKERHUB-DIGEST"]
	if !ok || d.Location.Line != 2 || !strings.Contains(d.Message, "node:latest") {
		t.Errorf("POL-DOCKERHUB-DIGEST = %+v", d)
	}
	if len(pol) != 2 {
		t.Errorf("policy findings %v, want the two Dockerfile ones", pol)
	}
	if rep.Summary.BySeverity["MEDIUM"] == 0 {
		t.Error("summary does not count the policy findings")
	}

	// Ignored like any finding, and gated like any finding.
	ign := filepath.Join(t.TempDir(), "ignore")
	if err := os.WriteFile(ign, []byte("POL-MAINTAINER # we set authors in CI\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = run(t, "scan", "--format", "json", "--policy", examplePolicies, "--ignorefile", ign, "--show-suppressed", exampleWebapp)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	pol, rep = policyFindings(t, out)
	if _, ok := pol["POL-MAINTAINER"]; ok {
		t.Error("ignored POL-MAINTAINER still shown")
	}
	found := false
	for _, f := range rep.Suppressed {
		found = found || (f.ID == "POL-MAINTAINER" && f.Suppressed != nil && f.Suppressed.By == "ignorefile")
	}
	if !found {
		t.Errorf("POL-MAINTAINER not listed as suppressed: %+v", rep.Suppressed)
	}

	// A Dockerfile with nothing above MEDIUM passes the HIGH gate until
	// the HIGH policy finding joins it.
	df := filepath.Join(t.TempDir(), "Dockerfile")
	if err := os.WriteFile(df, []byte("FROM debian:12\nUSER 1000\nCMD [\"true\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := run(t, "scan", "--severity", "HIGH", "--exit-code", "3", df); code != 0 {
		t.Fatalf("without --policy: exit %d, want 0: %s", code, errs)
	}
	code, out, errs = run(t, "scan", "--format", "json", "--policy", examplePolicies, "--severity", "HIGH", "--exit-code", "3", df)
	if code != 3 {
		t.Fatalf("exit %d, want 3: %s", code, errs)
	}
	pol, rep = policyFindings(t, out)
	if _, ok := pol["POL-DOCKERHUB-DIGEST"]; !ok || len(pol) != 1 || len(rep.Findings) != 1 {
		t.Errorf("--severity HIGH findings %v, want only POL-DOCKERHUB-DIGEST", rep.Findings)
	}
}

// TestScanPolicyBad: a broken policy stops the scan with exit 2 and one
// error naming its file and line, before anything is scanned.
func TestScanPolicyBad(t *testing.T) {
	dir := isolate(t)
	p := filepath.Join(dir, "pol")
	os.Mkdir(p, 0o755)
	os.WriteFile(filepath.Join(p, "ok.rego"), []byte("package ok\n\ndeny contains \"x\" if false\n"), 0o644)
	os.WriteFile(filepath.Join(p, "broken.rego"), []byte("package broken\n\ndeny contains msg if {\n\tmsg := concat(\",\", input.x\n}\n"), 0o644)
	code, out, errs := run(t, "scan", "--policy", p, exampleWebapp)
	if code != 2 || out != "" {
		t.Fatalf("exit %d, stdout %q, want 2 and nothing", code, out)
	}
	if want := "policy " + filepath.Join(p, "broken.rego") + ":5: rego_parse_error"; !strings.Contains(errs, want) {
		t.Errorf("stderr %q, want %q", errs, want)
	}
	code, _, errs = run(t, "scan", "--policy", filepath.Join(dir, "missing"), exampleWebapp)
	if code != 2 || !strings.Contains(errs, "missing: no such file or directory") {
		t.Errorf("missing policy folder: exit %d, %q", code, errs)
	}
	// A result a rule yields at run time that is not a finding.
	os.Remove(filepath.Join(p, "broken.rego"))
	os.WriteFile(filepath.Join(p, "ok.rego"), []byte("package ok\n\nwarn contains {\"id\": \"X\", \"severity\": \"urgent\", \"message\": \"m\"} if true\n"), 0o644)
	code, out, errs = run(t, "scan", "--policy", p, exampleWebapp)
	if code != 2 || out != "" || !strings.Contains(errs, "ok.rego:3: warn result X: unknown severity \"urgent\"") {
		t.Errorf("bad result: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// TestScanPolicyImage: policies see a real image's files and config,
// also on a rescan that the image cache would have answered, and their
// findings are traced to the Dockerfile line.
func TestScanPolicyImage(t *testing.T) {
	dir := isolate(t)
	archive := testimages.Path(t, testimages.Leaky, testimages.FormOCI)
	dockerfile := testimages.Dockerfile(t, testimages.Leaky)
	p := filepath.Join(dir, "pol")
	os.Mkdir(p, 0o755)
	os.WriteFile(filepath.Join(p, "image.rego"), []byte(`package acme

deny contains {"id": "ACME-WORLD-WRITABLE", "severity": "MEDIUM", "message": sprintf("%s is world-writable", [path]), "location": {"path": path, "layer_index": f.layer}} if {
	some path, f in input.image.files
	f.type == "dir"
	bits.and(f.mode, 2) == 2
	not f.sticky
}
`), 0o644)
	cache := filepath.Join(dir, "cache")
	for i := range 2 { // the second scan would be an image-cache hit
		code, out, errs := run(t, "scan", "--format", "json", "--scanners", "misconfig", "--cache-dir", cache,
			"--policy", p, "--dockerfile", dockerfile, archive)
		if code != 0 {
			t.Fatalf("scan %d: exit %d: %s", i, code, errs)
		}
		pol, _ := policyFindings(t, out)
		f, ok := pol["ACME-WORLD-WRITABLE"]
		if !ok || f.Location.Path != "/srv/uploads" || f.Location.DockerfileLine != 12 || f.Location.Layer == "" {
			t.Errorf("scan %d: ACME-WORLD-WRITABLE = %+v (present %v)", i, f, ok)
		}
	}
}
