package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/kensa-sec/kensa/internal/rules"
	"github.com/santhosh-tekuri/jsonschema/v6"
	spdxjson "github.com/spdx/tools-golang/json"
)

var update = flag.Bool("update", false, "rewrite golden files")

var fixedTime = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// fixtureReport is a report with one finding of every shape: Dockerfile,
// build context, image (with and without a Dockerfile step), secret, vuln,
// plus an inventory and one suppressed finding.
func fixtureReport() *finding.Report {
	r := finding.NewReport("app.tar", "image")
	df := rules.MustLookup("KS-DF-001").NewFinding("the final stage has no USER instruction", finding.Location{Path: "Dockerfile", Line: 1, EndLine: 4})
	df2 := rules.MustLookup("KS-DF-013").NewFinding("`curl -fsSL https://get.example.sh | sh` pipes a download into sh", finding.Location{Path: "Dockerfile", Line: 3})
	cx := rules.MustLookup("KS-CX-002").NewFinding(".env is sent into the image by `COPY . /app`", finding.Location{Path: ".env"})
	im := rules.MustLookup("KS-IM-005").NewFinding("/root/.ssh/id_rsa added in layer 1 and deleted in layer 2 is still in layer 1", finding.Location{
		Path: "/root/.ssh/id_rsa", Layer: "sha256:1111111111111111111111111111111111111111111111111111111111111111", LayerIndex: finding.IntPtr(1),
		Step: "COPY id_rsa /root/.ssh/id_rsa # buildkit", Dockerfile: "Dockerfile", DockerfileLine: 2,
	})
	im.Related = []finding.Location{{Path: "/root/.ssh/id_rsa", Layer: "sha256:2222222222222222222222222222222222222222222222222222222222222222", LayerIndex: finding.IntPtr(2), Step: "RUN rm /root/.ssh/id_rsa"}}
	im2 := rules.MustLookup("KS-IM-001").NewFinding("config User is empty: the container runs as root", finding.Location{Layer: "", Path: ""})
	se := finding.Finding{Kind: finding.KindSecret, ID: "KS-SE-aws-access-key-id", Severity: finding.SeverityCritical, Title: "AWS access key ID",
		Message: "AKIA…(20 chars) in /app/config.yml", Fix: "Revoke the key and load it from a secret store at runtime.",
		Location: finding.Location{Path: "/app/config.yml", Line: 7, Layer: "sha256:3333333333333333333333333333333333333333333333333333333333333333", LayerIndex: finding.IntPtr(3), Step: "COPY . /app"}}
	vuln := finding.Finding{Kind: finding.KindVuln, ID: "CVE-2024-0001", Severity: finding.SeverityHigh, Title: "openssl: buffer overread in X.509 parsing",
		Message: "openssl 3.0.11-1~deb12u1 is affected by CVE-2024-0001", Fix: "Upgrade openssl to 3.0.13-1~deb12u1",
		Location:   finding.Location{Path: "/var/lib/dpkg/status", Layer: "sha256:0000000000000000000000000000000000000000000000000000000000000000", LayerIndex: finding.IntPtr(0)},
		Package:    &finding.PackageRef{Name: "openssl", Version: "3.0.11-1~deb12u1", Ecosystem: "Debian:12", PURL: "pkg:deb/debian/openssl@3.0.11-1~deb12u1?arch=amd64&distro=debian-12", SourceName: "openssl", FixedVersion: "3.0.13-1~deb12u1"},
		Aliases:    []string{"DSA-5600-1"},
		References: []string{"https://security-tracker.debian.org/tracker/CVE-2024-0001"},
	}
	gov := finding.Finding{Kind: finding.KindVuln, ID: "GO-2021-0113", Severity: finding.SeverityMedium, Title: "Out-of-bounds read in golang.org/x/text/language",
		Message: "golang.org/x/text v0.3.0 in /app/server is affected", Fix: "Upgrade golang.org/x/text to v0.3.7",
		Location: finding.Location{Path: "/app/server", Layer: "sha256:3333333333333333333333333333333333333333333333333333333333333333", LayerIndex: finding.IntPtr(3)},
		Package:  &finding.PackageRef{Name: "golang.org/x/text", Version: "v0.3.0", Ecosystem: "Go", PURL: "pkg:golang/golang.org/x/text@v0.3.0", FixedVersion: "v0.3.7"},
	}
	low := rules.MustLookup("KS-DF-015").NewFinding("the final stage has no HEALTHCHECK", finding.Location{Path: "Dockerfile", Line: 1})
	low.Suppressed = &finding.Suppression{By: "ignorefile", Source: ".kensaignore:3", Reason: "probed by Kubernetes", Expires: "2026-12-31"}
	r.Findings = []finding.Finding{df, df2, cx, im, im2, se, vuln, gov}
	r.Suppressed = []finding.Finding{low}
	r.Image = &finding.ImageInfo{Reference: "app.tar", Digest: "sha256:abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcd", OS: "debian 12", Platform: "linux/amd64",
		Size: 123456789, WastedBytes: 4567890, Efficiency: 0.963,
		Layers: []finding.LayerInfo{{Index: 0, Digest: "sha256:0000000000000000000000000000000000000000000000000000000000000000", DiffID: "sha256:aa", Size: 100000000, Files: 5000}}}
	r.OS = &inventory.OS{ID: "debian", VersionID: "12", Codename: "bookworm", PrettyName: "Debian GNU/Linux 12 (bookworm)"}
	r.Packages = []inventory.Package{
		{Name: "openssl", Version: "3.0.11-1~deb12u1", SourceName: "openssl", SourceVersion: "3.0.11-1~deb12u1", Ecosystem: "Debian", Type: "deb",
			PURL: "pkg:deb/debian/openssl@3.0.11-1~deb12u1?arch=amd64&distro=debian-12", Path: "/var/lib/dpkg/status", Layer: 0,
			LayerDigest: "sha256:0000000000000000000000000000000000000000000000000000000000000000", Licenses: []string{"Apache-2.0"}, Arch: "amd64"},
		{Name: "golang.org/x/text", Version: "v0.3.0", Ecosystem: "Go", Type: "golang", PURL: "pkg:golang/golang.org/x/text@v0.3.0", Path: "/app/server", Layer: 3,
			LayerDigest: "sha256:3333333333333333333333333333333333333333333333333333333333333333", Licenses: []string{"BSD-3-Clause"}},
		{Name: "left-pad", Version: "1.3.0", Ecosystem: "npm", Type: "npm", PURL: "pkg:npm/left-pad@1.3.0", Path: "/app/node_modules/left-pad/package.json", Layer: 3,
			LayerDigest: "sha256:3333333333333333333333333333333333333333333333333333333333333333", Licenses: []string{"WTFPL or MIT"}, Dev: true},
	}
	r.Notes = []string{"vulnerability database is 5 days old (max_age 72h): run `kensa db update`"}
	r.Finalize()
	return r
}

func render(t *testing.T, format string, opts Options, r *finding.Report) []byte {
	t.Helper()
	if opts.Created.IsZero() {
		opts.Created = fixedTime
	}
	if opts.ToolVersion == "" {
		opts.ToolVersion = "1.0.0-test"
	}
	w, err := New(format, opts)
	if err != nil {
		t.Fatalf("New(%q): %v", format, err)
	}
	var buf bytes.Buffer
	if err := w.Write(&buf, r); err != nil {
		t.Fatalf("%s: Write: %v", format, err)
	}
	return buf.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read golden %s (run with -update to create): %v", p, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file (run go test -update after checking):\n--- got ---\n%s", p, got)
	}
}

func TestGolden(t *testing.T) {
	cases := []struct {
		name   string
		format string
		opts   Options
	}{
		{"table.golden", "table", Options{}},
		{"table-suppressed.golden", "table", Options{ShowSuppressed: true}},
		{"report.json", "json", Options{}},
		{"report.sarif", "sarif", Options{}},
		{"report.html", "html", Options{ShowSuppressed: true}},
		{"report.cdx.json", "cyclonedx", Options{}},
		{"report.spdx.json", "spdx", Options{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			golden(t, c.name, render(t, c.format, c.opts, fixtureReport()))
		})
	}
}

func TestTableColor(t *testing.T) {
	plain := string(render(t, "table", Options{}, fixtureReport()))
	if strings.Contains(plain, "\x1b[") {
		t.Error("plain table contains ANSI escapes")
	}
	colored := string(render(t, "table", Options{Color: true}, fixtureReport()))
	if !strings.Contains(colored, "\x1b[1;31mCRITICAL") {
		t.Error("coloured table does not paint CRITICAL red")
	}
}

func TestTableContent(t *testing.T) {
	out := string(render(t, "table", Options{}, fixtureReport()))
	for _, want := range []string{
		"Efficiency: 96.3% (wasted 4.4 MiB)",
		"package openssl 3.0.11-1~deb12u1 → 3.0.13-1~deb12u1",
		"Dockerfile:3",
		"Summary: 8 findings (CRITICAL 2, HIGH 5, MEDIUM 1, LOW 0, INFO 0), 1 suppressed",
		"Note: vulnerability database is 5 days old",
		"fix: Create an unprivileged user",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q", want)
		}
	}
	if strings.Contains(out, "KS-DF-015") {
		t.Error("suppressed finding shown without ShowSuppressed")
	}
	shown := string(render(t, "table", Options{ShowSuppressed: true}, fixtureReport()))
	if !strings.Contains(shown, "KS-DF-015") || !strings.Contains(shown, "suppressed by ignorefile .kensaignore:3") {
		t.Error("suppressed finding not shown with its source under ShowSuppressed")
	}
}

func compileSchema(t *testing.T, main string, files map[string]string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for url, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("parse schema %s: %v", path, err)
		}
		if err := c.AddResource(url, doc); err != nil {
			t.Fatalf("add schema %s: %v", path, err)
		}
	}
	s, err := c.Compile(main)
	if err != nil {
		t.Fatalf("compile %s: %v", main, err)
	}
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, out []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if err := s.Validate(inst); err != nil {
		t.Fatalf("output does not validate: %v", err)
	}
}

func TestSARIFValidatesAgainstSchema(t *testing.T) {
	const url = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	s := compileSchema(t, url, map[string]string{url: "testdata/schema/sarif-schema-2.1.0.json"})
	validate(t, s, render(t, "sarif", Options{}, fixtureReport()))
	validate(t, s, render(t, "sarif", Options{ShowSuppressed: true}, fixtureReport()))
	validate(t, s, render(t, "sarif", Options{}, finding.NewReport("empty", "dockerfile")))
	// The schema must be able to fail: a result without a message is invalid.
	var log map[string]any
	if err := json.Unmarshal(render(t, "sarif", Options{}, fixtureReport()), &log); err != nil {
		t.Fatal(err)
	}
	delete(log["runs"].([]any)[0].(map[string]any)["results"].([]any)[0].(map[string]any), "message")
	if err := s.Validate(log); err == nil {
		t.Error("schema accepted a result without message: validation is not working")
	}
}

func TestSARIFGitHubShape(t *testing.T) {
	var log sarifLog
	if err := json.Unmarshal(render(t, "sarif", Options{BaseDir: "/src"}, fixtureReport()), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	if len(run.Results) != 8 {
		t.Fatalf("got %d results, want 8", len(run.Results))
	}
	for _, res := range run.Results {
		if res.RuleIndex >= len(run.Tool.Driver.Rules) || run.Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID {
			t.Errorf("%s: ruleIndex %d does not point at its rule", res.RuleID, res.RuleIndex)
		}
		if len(res.Locations) != 1 || res.Locations[0].PhysicalLocation == nil {
			t.Fatalf("%s: no physical location (GitHub requires one)", res.RuleID)
		}
		uri := res.Locations[0].PhysicalLocation.ArtifactLocation.URI
		if strings.HasPrefix(uri, "/") || strings.Contains(uri, "\\") || strings.Contains(uri, ":") {
			t.Errorf("%s: uri %q is not relative with forward slashes", res.RuleID, uri)
		}
		if len(res.PartialFingerprints["kensaFindingHash/v2"]) != 32 {
			t.Errorf("%s: no partial fingerprint", res.RuleID)
		}
	}
	byID := map[string]sarifResult{}
	for _, res := range run.Results {
		byID[res.RuleID] = res
	}
	// Traced image finding points at its Dockerfile line.
	if pl := byID["KS-IM-005"].Locations[0].PhysicalLocation; pl.ArtifactLocation.URI != "Dockerfile" || pl.Region.StartLine != 2 {
		t.Errorf("KS-IM-005 location = %+v, want Dockerfile:2", pl)
	}
	if p := byID["KS-SE-aws-access-key-id"].Properties["layer"]; p != "sha256:3333333333333333333333333333333333333333333333333333333333333333" {
		t.Errorf("secret finding layer property = %v", p)
	}
	for _, r := range run.Tool.Driver.Rules {
		if r.Help.Markdown == "" || r.FullDescription.Text == "" || r.ShortDescription.Text == "" {
			t.Errorf("rule %s lacks descriptions or help", r.ID)
		}
		if r.ID == "KS-DF-013" && (r.Properties["security-severity"] != "8.0" || !strings.Contains(r.Help.Text, "Fix:")) {
			t.Errorf("KS-DF-013 descriptor = %+v", r)
		}
	}
}

func TestSARIFURI(t *testing.T) {
	s := &sarifWriter{opts: Options{BaseDir: "/src/repo"}}
	for in, want := range map[string]string{
		"/src/repo/docker/Dockerfile": "docker/Dockerfile",
		"./Dockerfile":                "Dockerfile",
		"alpine:3.19":                 "alpine%3A3.19",
		"registry.example/app:1.2":    "registry.example/app%3A1.2",
		"/etc/passwd":                 "etc/passwd",
		"dir with space/Dockerfile":   "dir%20with%20space/Dockerfile",
	} {
		if got := s.uri(in); got != want {
			t.Errorf("uri(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSARIFSourceRoot(t *testing.T) {
	rep := finding.NewReport("services/api", "dockerfile")
	rep.Findings = []finding.Finding{rules.MustLookup("KS-DF-001").NewFinding("root", finding.Location{Path: "Dockerfile", Line: 3})}
	rep.Finalize()
	var log sarifLog
	if err := json.Unmarshal(render(t, "sarif", Options{BaseDir: "/repo", SourceRoot: "/repo/services/api"}, rep), &log); err != nil {
		t.Fatal(err)
	}
	if uri := log.Runs[0].Results[0].Locations[0].PhysicalLocation.ArtifactLocation.URI; uri != "services/api/Dockerfile" {
		t.Errorf("uri = %q, want services/api/Dockerfile", uri)
	}
	// Image targets keep in-image paths as they are.
	rep.TargetKind = "image"
	if err := json.Unmarshal(render(t, "sarif", Options{BaseDir: "/repo", SourceRoot: "/repo/services/api"}, rep), &log); err != nil {
		t.Fatal(err)
	}
	if uri := log.Runs[0].Results[0].Locations[0].PhysicalLocation.ArtifactLocation.URI; uri != "Dockerfile" {
		t.Errorf("image target uri = %q, want Dockerfile", uri)
	}
}

func TestJSONValidatesAgainstDocumentedSchema(t *testing.T) {
	const url = "https://github.com/kensa-sec/kensa/docs/kensa-report.schema.json"
	s := compileSchema(t, url, map[string]string{url: "../../docs/kensa-report.schema.json"})
	validate(t, s, render(t, "json", Options{}, fixtureReport()))
	validate(t, s, render(t, "json", Options{ShowSuppressed: true}, fixtureReport()))
	validate(t, s, render(t, "json", Options{}, finding.NewReport("Dockerfile", "dockerfile")))
	var rep map[string]any
	if err := json.Unmarshal(render(t, "json", Options{}, fixtureReport()), &rep); err != nil {
		t.Fatal(err)
	}
	if _, ok := rep["suppressed"]; ok {
		t.Error("suppressed findings written without ShowSuppressed")
	}
	rep["surprise"] = true
	if err := s.Validate(rep); err == nil {
		t.Error("schema accepted an undocumented field")
	}
}

func TestCycloneDXValidatesAgainstSchema(t *testing.T) {
	const base = "http://cyclonedx.org/schema/"
	s := compileSchema(t, base+"bom-1.6.schema.json", map[string]string{
		base + "bom-1.6.schema.json":  "testdata/schema/bom-1.6.schema.json",
		base + "spdx.schema.json":     "testdata/schema/spdx.schema.json",
		base + "jsf-0.82.schema.json": "testdata/schema/jsf-0.82.schema.json",
	})
	out := render(t, "cyclonedx", Options{}, fixtureReport())
	validate(t, s, out)
	validate(t, s, render(t, "cyclonedx", Options{}, finding.NewReport("empty", "rootfs")))

	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(out), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	if bom.SpecVersion != cdx.SpecVersion1_6 || bom.Components == nil || len(*bom.Components) != 4 {
		t.Fatalf("BOM spec %v with %v components, want 1.6 with OS + 3 packages", bom.SpecVersion, bom.Components)
	}
	c := (*bom.Components)[1]
	if c.PackageURL != "pkg:deb/debian/openssl@3.0.11-1~deb12u1?arch=amd64&distro=debian-12" || c.Properties == nil {
		t.Fatalf("openssl component = %+v", c)
	}
	found := false
	for _, p := range *c.Properties {
		found = found || (p.Name == "kensa:layer_digest" && strings.HasPrefix(p.Value, "sha256:0000"))
	}
	if !found {
		t.Error("openssl component lacks kensa:layer_digest")
	}
	if bom.Vulnerabilities == nil || len(*bom.Vulnerabilities) != 2 {
		t.Fatalf("vulnerabilities = %v, want 2", bom.Vulnerabilities)
	}
	v := (*bom.Vulnerabilities)[0]
	if v.ID != "CVE-2024-0001" || v.Affects == nil || (*v.Affects)[0].Ref != c.BOMRef {
		t.Errorf("vulnerability %s affects %v, want ref %s", v.ID, v.Affects, c.BOMRef)
	}
	// Same content, same serial number; different content, different one.
	if again := render(t, "cyclonedx", Options{}, fixtureReport()); !bytes.Equal(out, again) {
		t.Error("CycloneDX output is not deterministic")
	}
}

func TestSPDXRoundTrip(t *testing.T) {
	out := render(t, "spdx", Options{}, fixtureReport())
	doc, err := spdxjson.Read(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("tools-golang cannot read our SPDX: %v", err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.CreationInfo.Created != "2026-05-01T12:00:00Z" {
		t.Errorf("version %q created %q", doc.SPDXVersion, doc.CreationInfo.Created)
	}
	if len(doc.Packages) != 5 { // target + OS + 3 packages
		t.Fatalf("got %d packages, want 5", len(doc.Packages))
	}
	var describes, contains int
	for _, r := range doc.Relationships {
		switch r.Relationship {
		case "DESCRIBES":
			describes++
		case "CONTAINS":
			contains++
		}
	}
	if describes != 1 || contains != 4 {
		t.Errorf("relationships: %d DESCRIBES, %d CONTAINS; want 1 and 4", describes, contains)
	}
	purls := 0
	for _, p := range doc.Packages {
		for _, ref := range p.PackageExternalReferences {
			if ref.RefType == "purl" && strings.HasPrefix(ref.Locator, "pkg:") {
				purls++
			}
		}
	}
	if purls != 3 {
		t.Errorf("%d purl external refs, want 3", purls)
	}
	if lic := doc.Packages[4].PackageLicenseDeclared; lic != "NOASSERTION" {
		t.Errorf("free-text licence became %q, want NOASSERTION", lic)
	}
	other := fixtureReport()
	other.Packages = other.Packages[:1]
	var a, b map[string]any
	_ = json.Unmarshal(out, &a)
	_ = json.Unmarshal(render(t, "spdx", Options{}, other), &b)
	if a["documentNamespace"] == b["documentNamespace"] {
		t.Error("different content produced the same documentNamespace")
	}
}

func TestNewUnknownFormat(t *testing.T) {
	if _, err := New("xml", Options{}); err == nil || !strings.Contains(err.Error(), "table, json, sarif") {
		t.Errorf("New(xml) error = %v, want one naming the formats", err)
	}
}

// TestSARIFImageFindingsPointAtDockerfile: an image finding traced to a
// Dockerfile line (by its layer or its config step) is reported at that
// line of the Dockerfile; one that is not stays on the image, its
// in-image path a logical location, never a repository file.
func TestSARIFImageFindingsPointAtDockerfile(t *testing.T) {
	layer := finding.Location{Path: "/etc/secrets.txt", Layer: "sha256:1", LayerIndex: finding.IntPtr(1), Dockerfile: "Dockerfile", DockerfileLine: 7}
	config := finding.Location{Step: "ENV AWS_ACCESS_KEY_ID=AKIA****", Dockerfile: "Dockerfile", DockerfileLine: 6}
	pathNoLayer := finding.Location{Path: "/usr/local/bin/suid-helper", Dockerfile: "Dockerfile", DockerfileLine: 12}
	untraced := finding.Location{Path: "/etc/shadow"}
	lint := finding.Location{Path: "Dockerfile", Line: 4}
	type want struct {
		uri     string
		line    int
		logical string
	}
	cases := []struct {
		kind string
		loc  finding.Location
		want want
	}{
		{"image", layer, want{"Dockerfile", 7, "/etc/secrets.txt"}},
		{"image", config, want{"Dockerfile", 6, ""}},
		{"image", pathNoLayer, want{"Dockerfile", 12, "/usr/local/bin/suid-helper"}},
		{"image", untraced, want{"app.tar", 1, "/etc/shadow"}},
		{"rootfs", untraced, want{"app.tar", 1, "/etc/shadow"}},
		// An image built next to its Dockerfile in a subfolder: lint and
		// image findings both name services/api/Dockerfile.
		{"dockerfile+image", layer, want{"services/api/Dockerfile", 7, "/etc/secrets.txt"}},
		{"dockerfile+image", lint, want{"services/api/Dockerfile", 4, ""}},
		{"dockerfile", lint, want{"services/api/Dockerfile", 4, ""}},
	}
	for _, c := range cases {
		rep := finding.NewReport("app.tar", c.kind)
		rep.Findings = []finding.Finding{{Kind: finding.KindMisconfig, ID: "KS-IM-005", Severity: finding.SeverityHigh, Message: "m", Location: c.loc}}
		rep.Finalize()
		var log sarifLog
		if err := json.Unmarshal(render(t, "sarif", Options{BaseDir: "/repo", SourceRoot: "/repo/services/api"}, rep), &log); err != nil {
			t.Fatal(err)
		}
		loc := log.Runs[0].Results[0].Locations[0]
		got := want{uri: loc.PhysicalLocation.ArtifactLocation.URI}
		if loc.PhysicalLocation.Region != nil {
			got.line = loc.PhysicalLocation.Region.StartLine
		}
		if len(loc.LogicalLocations) > 0 {
			got.logical = loc.LogicalLocations[0].FullyQualifiedName
		}
		if got != c.want {
			t.Errorf("%s %+v: got %+v, want %+v", c.kind, c.loc, got, c.want)
		}
	}
}
