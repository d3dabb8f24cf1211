package osrelease

import (
	"os"
	"testing"

	"github.com/kensa-sec/kensa/internal/inventory"
)

func TestParse(t *testing.T) {
	tests := []struct {
		file, path string
		want       inventory.OS
		eco        string
	}{
		{"testdata/debian12-os-release", "/etc/os-release", inventory.OS{ID: "debian", VersionID: "12", Codename: "bookworm", PrettyName: "Debian GNU/Linux 12 (bookworm)"}, "Debian:12"},
		{"testdata/alpine-os-release", "/usr/lib/os-release", inventory.OS{ID: "alpine", VersionID: "3.19.1", PrettyName: "Alpine Linux v3.19"}, "Alpine:v3.19"},
		{"testdata/ubuntu-os-release", "/etc/os-release", inventory.OS{ID: "ubuntu", VersionID: "22.04", Codename: "jammy", PrettyName: "Ubuntu 22.04.4 LTS"}, "Ubuntu:22.04"},
	}
	for _, tt := range tests {
		b, err := os.ReadFile(tt.file)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse(tt.path, b)
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if *got != tt.want || got.Ecosystem() != tt.eco {
			t.Errorf("%s: got %+v (%s), want %+v (%s)", tt.file, *got, got.Ecosystem(), tt.want, tt.eco)
		}
	}
}

func TestFallbacks(t *testing.T) {
	o, err := Parse("/etc/alpine-release", []byte("3.18.4\n"))
	if err != nil || o.ID != "alpine" || o.VersionID != "3.18.4" || o.Ecosystem() != "Alpine:v3.18" {
		t.Errorf("alpine-release: %+v %v", o, err)
	}
	o, err = Parse("/etc/debian_version", []byte("11.9\n"))
	if err != nil || o.ID != "debian" || o.Ecosystem() != "Debian:11" {
		t.Errorf("debian_version: %+v %v", o, err)
	}
	for p, in := range map[string]string{
		"/etc/os-release":     "NAME=nothing\n",
		"/etc/alpine-release": "\n",
		"/etc/debian_version": "",
	} {
		if _, err := Parse(p, []byte(in)); err == nil {
			t.Errorf("%s %q: no error", p, in)
		}
	}
	if _, err := Parse("/etc/os-release", make([]byte, MaxSize+1)); err == nil {
		t.Error("oversized os-release accepted")
	}
}

func TestQuoting(t *testing.T) {
	o, err := ParseOSRelease("/etc/os-release", []byte("# comment\nID='rhel'\nVERSION_ID=\"9.3\"\nPRETTY_NAME=\"Red \\\"Hat\\\"\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if o.ID != "rhel" || o.VersionID != "9.3" || o.PrettyName != `Red "Hat"` || o.Ecosystem() != "Red Hat:9" {
		t.Errorf("got %+v", o)
	}
}

func FuzzOSRelease(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, p := range Paths {
			o, err := Parse(p, b)
			if err == nil && (o == nil || o.ID == "") {
				t.Fatalf("%s: OS without ID: %+v", p, o)
			}
		}
	})
}
