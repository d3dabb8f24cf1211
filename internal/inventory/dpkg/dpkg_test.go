package dpkg

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/inventory"
)

func names(pkgs []inventory.Package) []string {
	var out []string
	for _, p := range pkgs {
		out = append(out, p.Name+"\t"+p.Version)
	}
	sort.Strings(out)
	return out
}

// dpkgQuery lists the installed packages of an admin dir the way dpkg
// itself sees them.
func dpkgQuery(t *testing.T, admindir string) []string {
	t.Helper()
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		t.Skip("dpkg-query not installed: cannot compare with dpkg itself")
	}
	out, err := exec.Command("dpkg-query", "--admindir="+admindir, "-W", "-f", "${Package}\t${Version}\t${db:Status-Abbrev}\n").Output()
	if err != nil {
		t.Fatalf("dpkg-query: %v", err)
	}
	var want []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) == 3 && strings.TrimSpace(f[2]) == "ii" {
			want = append(want, f[0]+"\t"+f[1])
		}
	}
	sort.Strings(want)
	return want
}

func TestStatusMatchesDpkgQuery(t *testing.T) {
	b, err := os.ReadFile("testdata/status")
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := Extractor{}.Extract("/var/lib/dpkg/status", b)
	if err != nil {
		t.Fatal(err)
	}
	got := names(pkgs)
	want := dpkgQuery(t, "testdata")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("packages differ from dpkg-query:\ngot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, p := range pkgs {
		if p.Name == "oldpkg" || p.Name == "brokenpkg" {
			t.Errorf("%s is not installed but was listed", p.Name)
		}
	}
}

// TestHostStatus compares the whole status file of the machine running the
// tests with dpkg-query, when it is a Debian-family system.
func TestHostStatus(t *testing.T) {
	b, err := os.ReadFile("/var/lib/dpkg/status")
	if err != nil {
		t.Skip("no /var/lib/dpkg/status on this machine (optional extra check)")
	}
	pkgs, err := Extractor{}.Extract("/var/lib/dpkg/status", b)
	if err != nil {
		t.Fatal(err)
	}
	got, want := names(pkgs), dpkgQuery(t, "/var/lib/dpkg")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("host: %d packages, dpkg-query %d", len(got), len(want))
	}
}

func TestFields(t *testing.T) {
	b, err := os.ReadFile("testdata/status")
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := Extractor{}.Extract("/var/lib/dpkg/status", b)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]inventory.Package{}
	for _, p := range pkgs {
		by[p.Name] = p
	}
	tests := []struct {
		name, version, srcName, srcVersion, purl string
	}{
		// Source without version: the binary version is the source version.
		{"libc6", "2.36-9+deb12u14", "glibc", "2.36-9+deb12u14", "pkg:deb/debian/libc6@2.36-9%2Bdeb12u14?arch=amd64&upstream=glibc"},
		// binNMU: Source carries the source version.
		{"bash", "5.2.15-2+b8", "bash", "5.2.15-2", "pkg:deb/debian/bash@5.2.15-2%2Bb8?arch=amd64&upstream=bash%405.2.15-2"},
		// Epoch kept in both.
		{"zlib1g", "1:1.2.13.dfsg-1", "zlib", "1:1.2.13.dfsg-1", "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&upstream=zlib"},
		{"login", "1:4.13+dfsg1-1+deb12u2", "shadow", "1:4.13+dfsg1-1+deb12u2", ""},
		// No Source field: source = binary.
		{"base-files", "12.4+deb12u11", "base-files", "12.4+deb12u11", "pkg:deb/debian/base-files@12.4%2Bdeb12u11?arch=amd64"},
	}
	for _, tt := range tests {
		p, ok := by[tt.name]
		if !ok {
			t.Errorf("%s missing", tt.name)
			continue
		}
		if p.Version != tt.version || p.SourceName != tt.srcName || p.SourceVersion != tt.srcVersion {
			t.Errorf("%s: got %s src %s %s, want %s src %s %s", tt.name, p.Version, p.SourceName, p.SourceVersion, tt.version, tt.srcName, tt.srcVersion)
		}
		if tt.purl != "" && p.PURL != tt.purl {
			t.Errorf("%s purl = %s, want %s", tt.name, p.PURL, tt.purl)
		}
		if p.Ecosystem != "Debian" || p.Type != "deb" || p.Arch != "amd64" {
			t.Errorf("%s: ecosystem %q type %q arch %q", tt.name, p.Ecosystem, p.Type, p.Arch)
		}
	}
}

func TestStatusD(t *testing.T) {
	e := Extractor{}
	files, err := filepath.Glob("testdata/status.d/*")
	if err != nil {
		t.Fatal(err)
	}
	var all []inventory.Package
	for _, f := range files {
		p := "/var/lib/dpkg/status.d/" + filepath.Base(f)
		if !e.Wants(p, 0o644) {
			if !strings.HasSuffix(p, ".md5sums") {
				t.Errorf("Wants(%s) = false", p)
			}
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pkgs, err := e.Extract(p, b)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, pkgs...)
	}
	got := strings.Join(names(all), ",")
	if want := "libc6\t2.36-9+deb12u4,libssl3\t3.0.11-1~deb12u2"; got != want {
		t.Errorf("status.d: got %q, want %q", got, want)
	}
	for _, p := range all {
		if p.Name == "libssl3" && (p.SourceName != "openssl" || p.SourceVersion != "3.0.11-1~deb12u2") {
			t.Errorf("libssl3 source = %s %s", p.SourceName, p.SourceVersion)
		}
	}
}

func TestWants(t *testing.T) {
	e := Extractor{}
	for p, want := range map[string]bool{
		"/var/lib/dpkg/status":                true,
		"/var/lib/dpkg/status-old":            false,
		"/var/lib/dpkg/status.d/base":         true,
		"/var/lib/dpkg/status.d/base.md5sums": false,
		"/var/lib/dpkg/status.d/":             false,
		"/var/lib/dpkg/status.d/x/y":          false,
		"/var/lib/dpkg/available":             false,
		"/usr/share/doc/var/lib/dpkg/status":  false,
	} {
		if got := e.Wants(p, 0o644); got != want {
			t.Errorf("Wants(%s) = %v, want %v", p, got, want)
		}
	}
}

func TestMalformed(t *testing.T) {
	for name, in := range map[string]string{
		"no colon":           "Package: a\nthis is not a field\n",
		"stray continuation": " continued\nPackage: a\n",
	} {
		_, err := Extractor{}.Extract("/var/lib/dpkg/status", []byte(in))
		if err == nil || !strings.Contains(err.Error(), "/var/lib/dpkg/status") {
			t.Errorf("%s: error %v does not name the file", name, err)
		}
	}
	big := make([]byte, MaxSize+1)
	if _, err := (Extractor{}).Extract("/var/lib/dpkg/status", big); err == nil {
		t.Error("oversized status accepted")
	}
}

func FuzzStatus(f *testing.F) {
	for _, p := range []string{"testdata/status", "testdata/status.d/libc6"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := Extractor{}.Extract("/var/lib/dpkg/status", b)
		if err != nil {
			return
		}
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" || p.PURL == "" {
				t.Fatalf("incomplete package %+v", p)
			}
		}
	})
}
