package gobin

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// buildXText builds testdata/xtext, a program pinning golang.org/x/text
// v0.3.0, with the local toolchain (the module proxy or module cache
// supplies x/text).
func buildXText(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"go.mod", "go.sum", "main.go"} {
		b, err := os.ReadFile(filepath.Join("testdata/xtext", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "xtext")
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is needed to build the test binary: %v", err)
	}
	cmd := exec.Command(goTool, "build", "-buildvcs=false", "-trimpath", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGoBinary(t *testing.T) {
	b := buildXText(t)
	e := Extractor{}
	if !e.Wants("/app/xtext", 0o755) {
		t.Fatal("executable not wanted")
	}
	pkgs, err := e.Extract("/app/xtext", b)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range pkgs {
		got[p.Name] = p.Version + " " + p.PURL
		if p.Ecosystem != "Go" || p.Type != "golang" || p.Path != "/app/xtext" {
			t.Errorf("bad package %+v", p)
		}
	}
	if want := "0.3.0 pkg:golang/golang.org/x/text@v0.3.0"; got["golang.org/x/text"] != want {
		t.Errorf("x/text = %q, want %q", got["golang.org/x/text"], want)
	}
	goVer := GoVersion(runtime.Version())
	if want := goVer + " pkg:golang/stdlib@v" + goVer; got["stdlib"] != want {
		t.Errorf("stdlib = %q, want %q", got["stdlib"], want)
	}
	if _, ok := got["example.com/xtextdemo"]; ok {
		t.Error("(devel) main module listed")
	}
	if len(pkgs) != 2 {
		t.Errorf("got %d packages, want 2: %v", len(pkgs), got)
	}
}

func TestNotGo(t *testing.T) {
	e := Extractor{}
	if e.Wants("/etc/passwd", 0o644) {
		t.Error("non-executable wanted")
	}
	for name, b := range map[string][]byte{
		"script":        []byte("#!/bin/sh\necho hi\n"),
		"truncated elf": []byte("\x7fELF\x02\x01\x01\x00"),
		"empty":         nil,
	} {
		pkgs, err := e.Extract("/bin/x", b)
		if err != nil || len(pkgs) != 0 {
			t.Errorf("%s: %v %v", name, pkgs, err)
		}
	}
	// A real non-Go ELF binary.
	if b, err := os.ReadFile("/bin/true"); err == nil && strings.HasPrefix(string(b), "\x7fELF") {
		pkgs, err := e.Extract("/bin/true", b)
		if err != nil || len(pkgs) != 0 {
			t.Errorf("/bin/true: %v %v", pkgs, err)
		}
	}
}

func TestGoVersion(t *testing.T) {
	for in, want := range map[string]string{
		"go1.22.1":                "1.22.1",
		"go1.21":                  "1.21.0",
		"go1.22.1 X:boringcrypto": "1.22.1",
		"go1.23rc1":               "1.23rc1",
		"devel":                   "",
	} {
		if got := GoVersion(in); got != want {
			t.Errorf("GoVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFromBuildInfoReplace(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.21.5",
		Main:      debug.Module{Path: "example.com/app", Version: "v1.4.0"},
		Deps: []*debug.Module{
			{Path: "golang.org/x/net", Version: "v0.17.0", Replace: &debug.Module{Path: "example.com/fork/net", Version: "v0.17.1-fix"}},
			{Path: "example.com/local", Version: "v1.0.0", Replace: &debug.Module{Path: "../local"}},
			{Path: "github.com/pkg/errors", Version: "v0.9.1"},
		},
	}
	var got []string
	for _, p := range FromBuildInfo("/app", bi) {
		got = append(got, p.Name+"@"+p.Version)
	}
	want := "example.com/app@1.4.0 example.com/fork/net@0.17.1-fix github.com/pkg/errors@0.9.1 stdlib@1.21.5"
	if strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
}

func FuzzGoBinary(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := Extractor{}.Extract("/bin/x", b)
		if err != nil {
			t.Fatalf("Extract returned an error: %v", err)
		}
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" {
				t.Fatalf("incomplete %+v", p)
			}
		}
	})
}

// TestMainModulePseudoVersion: a main module built outside a proxy is
// "(devel)"; with VCS stamping it is listed at the stamped commit's
// pseudo-version, without it not at all.
func TestMainModulePseudoVersion(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "example.com/app", Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "96ad72a81cec5b2e0f7a1c3d4e5f60718293a4b5"}, {Key: "vcs.time", Value: "2026-12-02T18:22:27Z"}}}
	var got []string
	for _, p := range FromBuildInfo("/app", bi) {
		got = append(got, p.Name+"@"+p.Version)
	}
	if strings.Join(got, ",") != "example.com/app@0.0.0-20261202182227-96ad72a81cec,stdlib@1.26.8" {
		t.Errorf("got %v", got)
	}
	bi.Settings = nil
	if ps := FromBuildInfo("/app", bi); len(ps) != 1 || ps[0].Name != "stdlib" {
		t.Errorf("without VCS stamping: %+v", ps)
	}
}
