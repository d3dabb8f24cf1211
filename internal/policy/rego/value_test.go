package rego

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/testimages"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/util"
)

// viaJSON is the slow, obviously right conversion toValue replaces.
func viaJSON(t *testing.T, in *Input) ast.Value {
	t.Helper()
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := util.UnmarshalJSON(raw, &doc); err != nil {
		t.Fatal(err)
	}
	v, err := ast.InterfaceToValue(doc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func sameValue(t *testing.T, name string, in *Input) {
	t.Helper()
	got, err := InputValue(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := viaJSON(t, in); got.Compare(want) != 0 {
		g, w := got.String(), want.String()
		i := 0
		for i < len(g) && i < len(w) && g[i] == w[i] {
			i++
		}
		t.Errorf("%s: input value differs from its JSON at byte %d:\n got …%.200s\nwant …%.200s", name, i, g[max(0, i-40):], w[max(0, i-40):])
	}
}

// TestToValueMatchesJSON: the direct conversion gives the value the JSON
// encoding would, on every corpus Dockerfile, a report with every kind of
// finding field, and a real image.
func TestToValueMatchesJSON(t *testing.T) {
	dir := testimages.SharedCorpus("dockerfiles", "KENSA_CORPUS")
	ents, _ := os.ReadDir(dir)
	n := 0
	for _, e := range ents {
		f, err := dockerfile.ParseFile(filepath.Join(dir, e.Name()))
		if err != nil || strings.Contains(e.Name(), ".template.") {
			continue
		}
		n++
		sameValue(t, e.Name(), NewInput(finding.NewReport(e.Name(), "dockerfile"), Subjects{Dockerfile: f}))
	}
	for _, name := range []string{"labelled.Dockerfile", "unlabelled.Dockerfile"} {
		n++
		sameValue(t, name, dockerfileInput(t, name))
	}
	if n < 2 {
		t.Fatal("no Dockerfiles")
	}
	rep := licenseReport("MIT", "AGPL-3.0")
	rep.Findings = append(vulnReport(2, finding.SeverityHigh).Findings, finding.Finding{
		Kind: finding.KindSecret, ID: "KS-SE-x", Severity: finding.SeverityCritical, Message: "m",
		Location: finding.Location{Path: "/a", Line: 3, LayerIndex: finding.IntPtr(0), Layer: "sha256:1"},
		Related:  []finding.Location{{Path: "/b"}}, Package: &finding.PackageRef{Name: "p", Version: "1"},
		Aliases: []string{"GHSA-1"}, Suppressed: &finding.Suppression{By: "vex"},
	})
	rep.Finalize()
	sameValue(t, "report", NewInput(rep, Subjects{}))

	res := scanLeaky(t)
	df, err := dockerfile.ParseFile(testimages.Dockerfile(t, testimages.Leaky))
	if err != nil {
		t.Fatal(err)
	}
	sameValue(t, "leaky", NewInput(res.Report, Subjects{Image: res, Dockerfile: df}))
}
