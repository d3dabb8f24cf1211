package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/finding"
)

// copyManifests copies testdata/manifest/* into dir.
func copyManifests(t *testing.T, dir string) {
	t.Helper()
	for _, n := range []string{"compose.yaml", "deploy.yaml"} {
		b, err := os.ReadFile(filepath.Join(cliTestdata, "manifest", n))
		if err != nil {
			t.Fatal(err)
		}
		dfWrite(t, dir, n, string(b))
	}
}

// at lists findings as "ID path:line".
func at(rep *finding.Report) map[string]bool {
	out := map[string]bool{}
	for _, f := range rep.Findings {
		out[fmt.Sprintf("%s %s:%d", f.ID, f.Location.Path, f.Location.Line)] = true
	}
	return out
}

func wantAt(t *testing.T, rep *finding.Report, want ...string) {
	t.Helper()
	got := at(rep)
	for _, w := range want {
		if !got[w] {
			t.Errorf("missing %s; got %v", w, got)
		}
	}
}

// TestScanManifestFolder: a folder of compose and Kubernetes files with no
// Dockerfile is a manifest target; kensa.yaml's trusted registries apply;
// skipped kinds are noted.
func TestScanManifestFolder(t *testing.T) {
	dir := isolate(t)
	copyManifests(t, filepath.Join(dir, "app"))
	dfWrite(t, dir, "app/kensa.yaml", "trusted_registries: [registry.example]\n")
	dfWrite(t, dir, "app/values.yaml", "replicas: 3\n") // YAML, not a manifest
	rep := scanJSON(t, "app")
	if rep.TargetKind != "manifest" {
		t.Fatalf("target kind %q", rep.TargetKind)
	}
	wantAt(t, rep, "KS-RT-002 compose.yaml:4", "KS-RT-013 compose.yaml:3", "KS-RT-007 deploy.yaml:13", "KS-RT-012 deploy.yaml:16")
	if at(rep)["KS-RT-013 deploy.yaml:16"] {
		t.Error("trusted registry.example image reported as untrusted")
	}
	notes := strings.Join(rep.Notes, "\n")
	if !strings.Contains(notes, "deploy.yaml: skipped (kind not checked): ConfigMap ×1") || !strings.Contains(notes, "2 files, 2 objects") {
		t.Errorf("notes %q", notes)
	}
}

// TestScanDockerfileFolderWithManifests: a folder with a Dockerfile and a
// compose file gets both checked in one report.
func TestScanDockerfileFolderWithManifests(t *testing.T) {
	dir := isolate(t)
	copyManifests(t, dir)
	dfWrite(t, dir, "Dockerfile", "FROM debian:12\nCMD [\"true\"]\n")
	dfWrite(t, dir, ".dockerignore", ".git\n")
	rep := scanJSON(t, "--scanners", "misconfig,secret", ".")
	if rep.TargetKind != "dockerfile+manifest" {
		t.Fatalf("target kind %q", rep.TargetKind)
	}
	wantAt(t, rep, "KS-DF-001 Dockerfile:1", "KS-RT-002 compose.yaml:4", "KS-RT-007 deploy.yaml:13")
}

// TestScanManifestStdin: `-` reads a manifest stream (helm template | kensa scan -).
func TestScanManifestStdin(t *testing.T) {
	isolate(t)
	f, err := os.Open(filepath.Join(cliTestdata, "manifest", "deploy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	old := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = old }()
	rep := scanJSON(t, "-")
	if rep.TargetKind != "manifest" {
		t.Fatalf("target kind %q", rep.TargetKind)
	}
	wantAt(t, rep, "KS-RT-007 <stdin>:13")
}

// TestScanManifestBadInput: unreadable manifests exit 2 naming the input.
func TestScanManifestBadInput(t *testing.T) {
	dir := isolate(t)
	bomb := "apiVersion: v1\nkind: Pod\na: &a [x,x,x,x,x,x,x,x,x,x]\n"
	prev := "a"
	for i := 0; i < 8; i++ {
		n := fmt.Sprintf("n%d", i)
		bomb += fmt.Sprintf("%s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", n, n, prev, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = n
	}
	dfWrite(t, dir, "bomb.yaml", bomb)
	dfWrite(t, dir, "broken.yaml", "apiVersion: v1\nkind: Pod\n---\napiVersion: v1\nkind: [Pod\n")
	for _, c := range []struct{ file, want string }{
		{"bomb.yaml", "bomb.yaml:1: YAML expands to more than"},
		{"broken.yaml", "broken.yaml:4: not valid YAML"},
	} {
		code, _, stderr := dfScan(t, c.file)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 and %q", c.file, code, stderr, c.want)
		}
	}
}
