package sbom

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/kensa-sec/kensa/internal/report"
)

func names(ps []inventory.Package) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Ecosystem+"/"+p.Name+"@"+p.Version)
	}
	return strings.Join(out, " ")
}

func TestReadFiles(t *testing.T) {
	cases := []struct {
		file, format, spec string
		os                 inventory.OS
		pkgs               string
		skipped            int
	}{
		{"alpine.cdx14.json", "cyclonedx", "1.4", inventory.OS{ID: "alpine", VersionID: "3.19.1", PrettyName: "Alpine Linux v3.19"},
			"Alpine/busybox@1.36.1-r15 Alpine/ssl_client@1.36.1-r15 Alpine/libcrypto3@3.1.4-r5 Go/golang.org/x/text@v0.3.0 npm/lodash@4.17.20 npm/@babel/core@7.0.0 Maven/org.apache.logging.log4j:log4j-core@2.14.1", 2}, // "app" and "no-purl" have no purl
		{"debian.cdx15.json", "cyclonedx", "1.5", inventory.OS{ID: "debian", VersionID: "12"},
			"Debian/openssl@3.0.11-1~deb12u2 Debian/libssl3@3.0.11-1~deb12u2 PyPI/requests@2.25.0", 0},
		{"debian.spdx23.json", "spdx", "SPDX-2.3", inventory.OS{ID: "debian", VersionID: "12"},
			"Debian/zlib1g@1:1.2.13.dfsg-1 crates.io/serde@1.0.100", 1},
		{"ubuntu.spdx22.json", "spdx", "SPDX-2.3", inventory.OS{ID: "ubuntu", VersionID: "22.04"},
			"Ubuntu/bash@5.1-6ubuntu1", 0},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			res, err := ReadFile("testdata/" + c.file)
			if err != nil {
				t.Fatal(err)
			}
			if res.Format != c.format || res.SpecVersion != c.spec {
				t.Errorf("format %s %s, want %s %s", res.Format, res.SpecVersion, c.format, c.spec)
			}
			if res.OS == nil || *res.OS != c.os {
				t.Errorf("OS = %+v, want %+v", res.OS, c.os)
			}
			if got := names(res.Packages); got != c.pkgs {
				t.Errorf("packages\n got %s\nwant %s", got, c.pkgs)
			}
			if res.Skipped != c.skipped {
				t.Errorf("skipped %d, want %d", res.Skipped, c.skipped)
			}
			for _, p := range res.Packages {
				if p.PURL == "" || p.Type == "" || p.Layer != -1 {
					t.Errorf("package %s: purl %q type %q layer %d", p.Name, p.PURL, p.Type, p.Layer)
				}
			}
		})
	}
}

func TestSourcePackagesAndLicenses(t *testing.T) {
	res, err := ReadFile("testdata/alpine.cdx14.json")
	if err != nil {
		t.Fatal(err)
	}
	ssl := res.Packages[1]
	if ssl.SourceName != "busybox" || ssl.Arch != "x86_64" || len(ssl.Licenses) != 1 || ssl.Licenses[0] != "GPL-2.0-only" {
		t.Errorf("ssl_client = %+v", ssl)
	}
	res, err = ReadFile("testdata/debian.spdx23.json")
	if err != nil {
		t.Fatal(err)
	}
	if z := res.Packages[0]; z.SourceName != "zlib" || z.Licenses[0] != "Zlib" {
		t.Errorf("zlib1g = %+v", z)
	}
}

// TestRoundTrip writes kensa's own SBOMs and reads them back.
func TestRoundTrip(t *testing.T) {
	rep := finding.NewReport("app.tar", "image")
	rep.OS = &inventory.OS{ID: "debian", VersionID: "12"}
	rep.Packages = []inventory.Package{
		{Name: "openssl", Version: "3.0.11-1~deb12u1", SourceName: "openssl", Ecosystem: "Debian", Type: "deb",
			PURL: "pkg:deb/debian/openssl@3.0.11-1~deb12u1?arch=amd64&distro=debian-12", Path: "/var/lib/dpkg/status", Layer: 0, LayerDigest: "sha256:00", Arch: "amd64"},
		{Name: "golang.org/x/text", Version: "v0.3.0", Ecosystem: "Go", Type: "golang", PURL: "pkg:golang/golang.org/x/text@v0.3.0", Path: "/app/server", Layer: 2, LayerDigest: "sha256:22"},
		{Name: "urllib3", Version: "1.26.12", Ecosystem: "PyPI", Type: "pypi", PURL: "pkg:pypi/urllib3@1.26.12", Path: "/usr/lib/python3/dist-packages/urllib3-1.26.12.egg-info/PKG-INFO", Layer: 1, LayerDigest: "sha256:11", ManagedBy: "deb:python3-urllib3"},
		{Name: "org.tukaani:xz", Version: "1.9", Ecosystem: "Maven", Type: "maven", PURL: "pkg:maven/org.tukaani/xz@1.9", Path: "/usr/share/java/xz-1.9.jar", Layer: 1, LayerDigest: "sha256:11", ManagedBy: "deb:libxz-java", IdentifiedBy: "maven-repo"},
	}
	rep.Finalize()
	for _, format := range []string{"cyclonedx", "spdx"} {
		w, err := report.New(format, report.Options{Created: time.Unix(0, 0)})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := w.Write(&buf, rep); err != nil {
			t.Fatal(err)
		}
		res, err := Read(format, &buf)
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if res.OS == nil || *res.OS != *rep.OS {
			t.Errorf("%s: OS %+v", format, res.OS)
		}
		if len(res.Packages) != len(rep.Packages) {
			t.Fatalf("%s: %d packages", format, len(res.Packages))
		}
		for i, p := range res.Packages {
			want := rep.Packages[i]
			if p.Name != want.Name || p.Version != want.Version || p.Ecosystem != want.Ecosystem || p.PURL != want.PURL ||
				p.Path != want.Path || p.LayerDigest != want.LayerDigest || p.Layer != want.Layer || p.ManagedBy != want.ManagedBy ||
				p.IdentifiedBy != want.IdentifiedBy {
				t.Errorf("%s: package %d = %+v, want %+v", format, i, p, want)
			}
		}
	}
}

func TestBadInput(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "sbom x: not a JSON object"},
		{"[1,2]", "not a JSON object"},
		{`{"name": "x"}`, "neither CycloneDX (no bomFormat) nor SPDX"},
		{`{"bomFormat": "CycloneDX", "specVersion": "9.9"}`, "CycloneDX: unsupported specVersion \"9.9\""},
		{`{"bomFormat": "SWID", "specVersion": "1.5"}`, "bomFormat \"SWID\""},
		{`{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": {"a": 1}}`, "sbom x: CycloneDX:"},
		{`{"spdxVersion": "SPDX-3.0"}`, "SPDX: unsupported SDPX version"},
		{`{"spdxVersion": "SPDX-2.3", "packages": "nope"}`, "sbom x: SPDX:"},
	}
	for _, c := range cases {
		_, err := Read("x", strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Read(%q) error = %v, want %q", c.in, err, c.want)
		}
	}
	if _, err := ReadFile("testdata/missing.json"); err == nil || !strings.Contains(err.Error(), "testdata/missing.json") {
		t.Errorf("missing file error = %v", err)
	}
}

func TestDeepNesting(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[`)
	for i := 0; i < 100; i++ {
		b.WriteString(`{"type":"library","name":"x","version":"1","purl":"pkg:npm/x@1","components":[`)
	}
	b.WriteString(strings.Repeat("]}", 100))
	b.WriteString("]}")
	res, err := Read("deep", strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Packages) != maxDepth+1 || res.Skipped == 0 {
		t.Errorf("deep nesting: %d packages, %d skipped", len(res.Packages), res.Skipped)
	}
}

func FuzzRead(f *testing.F) {
	for _, name := range []string{"alpine.cdx14.json", "debian.cdx15.json", "debian.spdx23.json", "ubuntu.spdx22.json"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Read("fuzz", bytes.NewReader(data))
		if err != nil {
			if res != nil {
				t.Fatal("result with error")
			}
			return
		}
		for _, p := range res.Packages {
			if p.PURL == "" || p.Name == "" || p.Version == "" {
				t.Fatalf("package without purl/name/version: %+v", p)
			}
		}
	})
}
