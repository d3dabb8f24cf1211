package apk

import (
	"os"
	"strings"
	"testing"
)

func TestExtract(t *testing.T) {
	b, err := os.ReadFile("testdata/installed")
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := Extractor{}.Extract(Path, b)
	if err != nil {
		t.Fatal(err)
	}
	type want struct{ name, version, src, arch, license, purl string }
	wants := []want{
		{"musl", "1.2.4_git20230717-r4", "musl", "x86_64", "MIT", "pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&upstream=musl"},
		{"busybox", "1.36.1-r15", "busybox", "x86_64", "GPL-2.0-only", "pkg:apk/alpine/busybox@1.36.1-r15?arch=x86_64&upstream=busybox"},
		{"ssl_client", "1.36.1-r15", "busybox", "x86_64", "GPL-2.0-only", "pkg:apk/alpine/ssl_client@1.36.1-r15?arch=x86_64&upstream=busybox"},
		{"libcrypto3", "3.1.4-r5", "openssl", "x86_64", "Apache-2.0", "pkg:apk/alpine/libcrypto3@3.1.4-r5?arch=x86_64&upstream=openssl"},
	}
	if len(pkgs) != len(wants) {
		t.Fatalf("got %d packages, want %d: %+v", len(pkgs), len(wants), pkgs)
	}
	for i, w := range wants {
		p := pkgs[i]
		if p.Name != w.name || p.Version != w.version || p.SourceName != w.src || p.SourceVersion != w.version ||
			p.Arch != w.arch || len(p.Licenses) != 1 || p.Licenses[0] != w.license || p.PURL != w.purl ||
			p.Ecosystem != "Alpine" || p.Type != "apk" {
			t.Errorf("package %d = %+v, want %+v", i, p, w)
		}
	}
}

func TestMalformed(t *testing.T) {
	_, err := Extractor{}.Extract(Path, []byte("P:musl\nnot a field line\n"))
	if err == nil || !strings.Contains(err.Error(), Path) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("error %v does not name the file and line", err)
	}
	if _, err := (Extractor{}).Extract(Path, make([]byte, MaxSize+1)); err == nil {
		t.Error("oversized database accepted")
	}
	// A paragraph without a version is not a package.
	pkgs, err := Extractor{}.Extract(Path, []byte("P:musl\n\nP:x\nV:1-r0\n"))
	if err != nil || len(pkgs) != 1 || pkgs[0].Name != "x" {
		t.Errorf("got %+v, %v", pkgs, err)
	}
}

func FuzzInstalled(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := Extractor{}.Extract(Path, b)
		if err != nil {
			return
		}
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" || p.SourceName == "" || p.PURL == "" {
				t.Fatalf("incomplete package %+v", p)
			}
		}
	})
}
