package rpm

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kensa-sec/kensa/internal/inventory"
)

// readerTestdata returns the folder of real rpm databases (taken from
// distribution images) that ships with the reader module.
func readerTestdata(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go tool needed to locate the rpmdb module: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-m", "-f", "{{.Dir}}", "github.com/erikvarga/go-rpmdb").Output()
	if err != nil {
		t.Fatalf("locate rpmdb module: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "pkg", "testdata")
}

func TestDatabases(t *testing.T) {
	td := readerTestdata(t)
	tests := []struct {
		file, path string
		min        int
		want       []string // name version source-name source-version purl
	}{
		{"centos7-plain/Packages", "/var/lib/rpm/Packages", 100, []string{
			"bash 4.2.46-30.el7 bash 4.2.46-30.el7 pkg:rpm/bash@4.2.46-30.el7?arch=x86_64",
			"openssl-libs 1:1.0.2k-12.el7 openssl 1:1.0.2k-12.el7 pkg:rpm/openssl-libs@1.0.2k-12.el7?arch=x86_64&epoch=1&upstream=openssl-1.0.2k-12.el7.src.rpm",
			"glibc-common 2.17-222.el7 glibc 2.17-222.el7 pkg:rpm/glibc-common@2.17-222.el7?arch=x86_64&upstream=glibc-2.17-222.el7.src.rpm",
		}},
		{"sle15-bci/Packages.db", "/usr/lib/sysimage/rpm/Packages.db", 30, []string{
			"libreadline7 7.0-19.6.1 bash 4.4-19.6.1 pkg:rpm/libreadline7@7.0-19.6.1?arch=x86_64&upstream=bash-4.4-19.6.1.src.rpm",
			"glibc 2.31-9.3.2 glibc 2.31-9.3.2 pkg:rpm/glibc@2.31-9.3.2?arch=x86_64",
		}},
		{"fedora35/rpmdb.sqlite", "/usr/lib/sysimage/rpm/rpmdb.sqlite", 100, []string{
			"openssl-libs 1:1.1.1l-2.fc35 openssl 1:1.1.1l-2.fc35 pkg:rpm/openssl-libs@1.1.1l-2.fc35?arch=x86_64&epoch=1&upstream=openssl-1.1.1l-2.fc35.src.rpm",
			"glibc-minimal-langpack 2.34-8.fc35 glibc 2.34-8.fc35 pkg:rpm/glibc-minimal-langpack@2.34-8.fc35?arch=x86_64&upstream=glibc-2.34-8.fc35.src.rpm",
		}},
	}
	tmp := t.TempDir()
	e := Extractor{TempDir: tmp}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(td, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if !e.Wants(tt.path, 0o644) {
				t.Fatalf("Wants(%s) = false", tt.path)
			}
			pkgs, err := e.Extract(tt.path, b)
			if err != nil {
				t.Fatal(err)
			}
			if len(pkgs) < tt.min {
				t.Errorf("%d packages, want at least %d", len(pkgs), tt.min)
			}
			have := map[string]bool{}
			for _, p := range pkgs {
				have[strings.Join([]string{p.Name, p.Version, p.SourceName, p.SourceVersion, p.PURL}, " ")] = true
				check(t, p)
			}
			for _, w := range tt.want {
				if !have[w] {
					t.Errorf("missing %s", w)
				}
			}
		})
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func check(t *testing.T, p inventory.Package) {
	t.Helper()
	if p.Name == "" || p.Version == "" || p.SourceName == "" || p.SourceVersion == "" || p.Type != "rpm" || p.Name == "gpg-pubkey" {
		t.Errorf("bad package %+v", p)
	}
}

func TestSplitSourceRPM(t *testing.T) {
	for in, want := range map[string]string{
		"bash-4.2.46-34.el7.src.rpm":        "bash 4.2.46-34.el7",
		"python3-pip-21.2.3-4.fc35.src.rpm": "python3-pip 21.2.3-4.fc35",
		"nosuch":                            " ",
		"a-1.src.rpm":                       " ",
	} {
		n, v := SplitSourceRPM(in)
		if n+" "+v != want {
			t.Errorf("SplitSourceRPM(%q) = %q %q, want %q", in, n, v, want)
		}
	}
}

func TestMalformed(t *testing.T) {
	e := Extractor{TempDir: t.TempDir()}
	for name, b := range map[string][]byte{
		"garbage":         []byte("this is not a database"),
		"sqlite no table": append([]byte("SQLite format 3\x00"), make([]byte, 200)...),
		"empty":           nil,
	} {
		_, err := e.Extract("/var/lib/rpm/rpmdb.sqlite", b)
		if err == nil || !strings.Contains(err.Error(), "/var/lib/rpm/rpmdb.sqlite") {
			t.Errorf("%s: error %v does not name the file", name, err)
		}
	}
	if left, _ := os.ReadDir(e.TempDir); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func FuzzRPMDB(f *testing.F) {
	tmp := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, p := range []string{"/var/lib/rpm/Packages", "/var/lib/rpm/Packages.db"} {
			pkgs, err := Extractor{TempDir: tmp, Timeout: 2 * time.Second}.Extract(p, b)
			if err != nil {
				continue
			}
			for _, pk := range pkgs {
				check(t, pk)
			}
		}
	})
}

func TestCheckHeaderBlob(t *testing.T) {
	blob := func(il, dl int32, entries ...[4]uint32) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(il))
		b = binary.BigEndian.AppendUint32(b, uint32(dl))
		for _, e := range entries {
			for _, v := range e {
				b = binary.BigEndian.AppendUint32(b, v)
			}
		}
		return append(b, make([]byte, max(dl, 0))...)
	}
	good := blob(1, 32, [4]uint32{1000, 6, 0, 1})
	if err := checkHeaderBlob(good); err != nil {
		t.Errorf("sound blob rejected: %v", err)
	}
	for name, b := range map[string][]byte{
		"short":              {0, 0, 0},
		"no tags":            blob(0, 0),
		"2^31 tags":          append(blob(1, 0, [4]uint32{1000, 6, 0, 1})[:0:0], 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0),
		"data beyond blob":   blob(1, 32, [4]uint32{1000, 6, 0, 1})[:30],
		"huge string count":  blob(1, 32, [4]uint32{1000, 8, 0, 3909091328}),
		"offset beyond data": blob(1, 32, [4]uint32{1000, 6, 4096, 1}),
	} {
		if err := checkHeaderBlob(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
