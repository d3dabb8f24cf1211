package rego

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/inventory"
)

const examplesDir = "../../../examples/policies"

func loadExample(t *testing.T, name string) *Engine {
	t.Helper()
	e, err := Load(context.Background(), filepath.Join(examplesDir, name))
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return e
}

func dockerfileInput(t *testing.T, name string) *Input {
	t.Helper()
	f, err := dockerfile.ParseFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	f.Path = name
	rep := finding.NewReport("testdata/"+name, "dockerfile")
	rep.Finalize()
	return NewInput(rep, Subjects{Dockerfile: f})
}

// got renders findings as "ID SEVERITY path:line" for comparison.
func got(fs []finding.Finding) []string {
	out := []string{}
	for _, f := range fs {
		s := f.ID + " " + f.Severity.String()
		if f.Location.Path != "" || f.Location.Line != 0 {
			s += fmt.Sprintf(" %s:%d", f.Location.Path, f.Location.Line)
		}
		out = append(out, s)
	}
	return out
}

func vulnReport(n int, sev finding.Severity) *finding.Report {
	rep := finding.NewReport("app.tar", "image")
	for i := range n {
		rep.Findings = append(rep.Findings, finding.Finding{Kind: finding.KindVuln, ID: fmt.Sprintf("CVE-2026-%04d", i), Severity: sev, Message: "x"})
	}
	// Misconfig findings never count as vulnerabilities.
	for range 10 {
		rep.Findings = append(rep.Findings, finding.Finding{Kind: finding.KindMisconfig, ID: "KS-IM-001", Severity: finding.SeverityHigh, Message: "x"})
	}
	rep.Finalize()
	return rep
}

func licenseReport(lics ...string) *finding.Report {
	rep := finding.NewReport("app.tar", "image")
	for i, l := range lics {
		rep.Packages = append(rep.Packages, inventory.Package{Name: fmt.Sprintf("pkg%d", i), Version: "1.0.0", Type: "npm", Path: "/app/node_modules/x/package.json", Layer: 2, Licenses: []string{l}})
	}
	rep.Packages = append(rep.Packages, inventory.Package{Name: "local", Version: "0.1.0", Type: "npm", Path: "package.json", Layer: -1, Licenses: []string{"AGPL-3.0-only"}})
	rep.Finalize()
	return rep
}

// TestExamples runs every shipped example policy on an input that breaks
// it and on one that satisfies it.
func TestExamples(t *testing.T) {
	tests := []struct {
		name, policy string
		input        func(t *testing.T) *Input
		want         []string
	}{
		{"maintainer/missing", "maintainer.rego", func(t *testing.T) *Input { return dockerfileInput(t, "unlabelled.Dockerfile") },
			[]string{"POL-MAINTAINER MEDIUM unlabelled.Dockerfile:8"}},
		{"maintainer/present", "maintainer.rego", func(t *testing.T) *Input { return dockerfileInput(t, "labelled.Dockerfile") }, []string{}},
		{"maintainer/image-without-labels", "maintainer.rego", func(t *testing.T) *Input {
			in := dockerfileInput(t, "labelled.Dockerfile")
			in.Image = &Image{Config: Config{Labels: map[string]string{"org.opencontainers.image.version": "1"}}}
			return in
		}, []string{"POL-MAINTAINER MEDIUM"}},
		{"maintainer/image-with-label", "maintainer.rego", func(t *testing.T) *Input {
			return NewInput(finding.NewReport("x", "image"), Subjects{}).withImage(&Image{Config: Config{Labels: map[string]string{"Maintainer": "me"}}})
		}, []string{}},
		{"docker-hub-digest/tags", "docker_hub_digest.rego", func(t *testing.T) *Input { return dockerfileInput(t, "unlabelled.Dockerfile") },
			[]string{"POL-DOCKERHUB-DIGEST HIGH unlabelled.Dockerfile:1", "POL-DOCKERHUB-DIGEST HIGH unlabelled.Dockerfile:8"}},
		{"docker-hub-digest/pinned", "docker_hub_digest.rego", func(t *testing.T) *Input { return dockerfileInput(t, "labelled.Dockerfile") }, []string{}},
		{"licenses/denied", "licenses.rego", func(t *testing.T) *Input {
			return NewInput(licenseReport("MIT", "(Apache-2.0 AND AGPL-3.0)", "SSPL-1.0"), Subjects{})
		}, []string{"POL-LICENSE HIGH /app/node_modules/x/package.json:0", "POL-LICENSE HIGH /app/node_modules/x/package.json:0", "POL-LICENSE HIGH package.json:0"}},
		{"licenses/allowed", "licenses.rego", func(t *testing.T) *Input {
			rep := licenseReport("MIT", "MIT OR AGPL-3.0", "GPL-3.0-only")
			rep.Packages = rep.Packages[:3]
			return NewInput(rep, Subjects{})
		}, []string{}},
		{"high-vulns/over", "high_vulns.rego", func(t *testing.T) *Input { return NewInput(vulnReport(6, finding.SeverityCritical), Subjects{}) },
			[]string{"POL-HIGH-VULNS MEDIUM"}},
		{"high-vulns/at-limit", "high_vulns.rego", func(t *testing.T) *Input { return NewInput(vulnReport(5, finding.SeverityHigh), Subjects{}) }, []string{}},
		{"high-vulns/medium-only", "high_vulns.rego", func(t *testing.T) *Input { return NewInput(vulnReport(20, finding.SeverityMedium), Subjects{}) }, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := loadExample(t, tt.policy)
			fs, err := e.Eval(context.Background(), tt.input(t))
			if err != nil {
				t.Fatal(err)
			}
			if g := got(fs); !slices.Equal(g, tt.want) {
				t.Errorf("findings = %q, want %q", g, tt.want)
			}
			for _, f := range fs {
				if f.Message == "" || f.Title == "" || f.Fix == "" {
					t.Errorf("%s: empty message, title or fix: %+v", f.ID, f)
				}
			}
		})
	}
}

func (in *Input) withImage(im *Image) *Input { in.Image = im; return in }

// TestExampleMessages checks what the example findings say, not only
// that they fire.
func TestExampleMessages(t *testing.T) {
	e := loadExample(t, ".")
	if len(e.Files) != 4 {
		t.Errorf("loaded %v, want the 4 examples", e.Files)
	}
	in := dockerfileInput(t, "unlabelled.Dockerfile")
	in.Report = Report{Findings: vulnReport(7, finding.SeverityHigh).Findings}
	fs, err := e.Eval(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	msgs := map[string][]string{}
	for _, f := range fs {
		msgs[f.ID] = append(msgs[f.ID], f.Message)
	}
	for id, want := range map[string]string{
		"POL-MAINTAINER":       "final stage (FROM docker.io/library/debian:12) sets no maintainer label",
		"POL-DOCKERHUB-DIGEST": "FROM golang:1.26 pulls from docker.io by tag",
		"POL-HIGH-VULNS":       "7 HIGH or CRITICAL vulnerabilities (policy allows 5)",
	} {
		if len(msgs[id]) == 0 || !strings.Contains(msgs[id][0], want) {
			t.Errorf("%s messages %q, want %q", id, msgs[id], want)
		}
	}
	for _, f := range fs {
		if f.ID == "POL-LICENSE" {
			t.Errorf("license finding on a Dockerfile: %+v", f)
		}
	}
}

// TestResults covers the result forms a rule may yield and the defaults.
func TestResults(t *testing.T) {
	src := `package acme.checks

deny contains "plain string" if input.kind == "dockerfile"

deny contains {"id": "ACME-1", "message": "with line", "location": {"line": 3}} if input.kind == "dockerfile"

warn contains {"id": "ACME-2", "message": "a warning", "kind": "license", "references": ["https://example.com"]} if true
`
	e, err := LoadSources(context.Background(), map[string][]byte{"acme.rego": []byte(src)})
	if err != nil {
		t.Fatal(err)
	}
	in := dockerfileInput(t, "labelled.Dockerfile")
	fs, err := e.Eval(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"acme.checks HIGH", "ACME-1 HIGH labelled.Dockerfile:3", "ACME-2 LOW"}
	if g := got(fs); !slices.Equal(g, want) {
		t.Fatalf("findings = %q, want %q", g, want)
	}
	if fs[0].Title != "Policy acme.checks" || fs[0].Message != "plain string" || fs[0].Kind != finding.KindMisconfig {
		t.Errorf("string result = %+v", fs[0])
	}
	if fs[2].Kind != finding.KindLicense || len(fs[2].References) != 1 {
		t.Errorf("warn result = %+v", fs[2])
	}
}

// TestErrors: bad policies fail with the file and line named.
func TestErrors(t *testing.T) {
	tests := []struct {
		name, src string
		load      bool // fails at Load (else at Eval)
		want      string
	}{
		{"syntax", "package p\n\ndeny contains x if {\n\tx := \n}\n", true, "bad.rego:5: rego_parse_error"},
		{"v0 syntax", "package p\n\ndeny[msg] { msg := \"x\" }\n", true, "bad.rego:3: rego_parse_error"},
		{"unsafe var", "package p\n\ndeny contains x if {\n\ty := 1\n}\n", true, "bad.rego:3: rego_unsafe_var_error"},
		{"undefined function", "package p\n\ndeny contains x if {\n\tx := nosuch(1)\n}\n", true, "bad.rego:4: rego_type_error"},
		{"no rules", "package p\n\nallow := true\n", true, "bad.rego: no deny or warn rule"},
		{"empty", "", true, "bad.rego: rego_parse_error: empty module"},
		{"no message", "package p\n\ndeny contains {\"id\": \"X\"} if true\n", false, "bad.rego:3: deny result has no message"},
		{"bad severity", "package p\n\n\ndeny contains {\"id\": \"X\", \"message\": \"m\", \"severity\": \"SEVERE\"} if true\n", false, "bad.rego:4: deny result X: unknown severity \"SEVERE\""},
		{"typo field", "package p\n\nwarn contains {\"id\": \"X\", \"mesage\": \"m\"} if true\n", false, "bad.rego:3: warn result {\"id\":\"X\",\"mesage\":\"m\"}: json: unknown field \"mesage\""},
		{"number", "package p\n\ndeny contains 42 if true\n", false, "bad.rego:3: deny result 42: want an object"},
		{"bad kind", "package p\n\ndeny contains {\"message\": \"m\", \"kind\": \"bug\"} if true\n", false, "unknown kind \"bug\""},
		{"conflict", "package p\n\ndeny := \"a\" if true\n\ndeny := \"b\" if true\n", false, "bad.rego:3: deny: "},
		{"builtin error", "package p\n\ndeny contains x if {\n\tx := sprintf(\"%d\", \"no list\")\n}\n", true, "bad.rego:4: rego_type_error"},
		{"runtime builtin error", "package p\n\ndeny contains x if {\n\tx := json.unmarshal(input.target)\n}\n", false, "bad.rego:3: deny: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := LoadSources(context.Background(), map[string][]byte{"bad.rego": []byte(tt.src)})
			if err == nil {
				if tt.load {
					t.Fatalf("Load succeeded, want %q", tt.want)
				}
				_, err = e.Eval(context.Background(), dockerfileInput(t, "labelled.Dockerfile"))
			} else if !tt.load {
				t.Fatalf("Load: %v, want an Eval error", err)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v (%T), want *Error", err, err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "policy bad.rego") {
				t.Errorf("err = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestLoadFolder(t *testing.T) {
	_, err := Load(context.Background(), "testdata/bad")
	if err == nil || !strings.Contains(err.Error(), "policy testdata/bad/syntax.rego:6: rego_parse_error") {
		t.Errorf("err = %v", err)
	}
	_, err = Load(context.Background(), "testdata")
	if err == nil || !strings.Contains(err.Error(), "syntax.rego") {
		t.Errorf("a folder with a bad file below: err = %v", err)
	}
	_, err = Load(context.Background(), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "no .rego policy files") {
		t.Errorf("empty folder: err = %v", err)
	}
	_, err = Load(context.Background(), "testdata/nosuch")
	if err == nil || err.Error() != "policy testdata/nosuch: no such file or directory" {
		t.Errorf("missing folder: err = %v", err)
	}
}
