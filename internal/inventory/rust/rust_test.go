package rust

import (
	"bytes"
	"compress/zlib"
	"os"
	"strings"
	"testing"
)

func list(t *testing.T, p string, b []byte) string {
	t.Helper()
	pkgs, err := Extractor{}.Extract(p, b)
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, pk := range pkgs {
		s = append(s, pk.Name+"@"+pk.Version+" "+pk.PURL)
		if pk.Ecosystem != "crates.io" || pk.Type != "cargo" {
			t.Errorf("bad package %+v", pk)
		}
	}
	return strings.Join(s, "\n")
}

const crates = "autocfg@1.1.0 pkg:cargo/autocfg@1.1.0\nsmallvec@1.6.0 pkg:cargo/smallvec@1.6.0\ntime@0.1.43 pkg:cargo/time@0.1.43"

func TestCargoLock(t *testing.T) {
	b, err := os.ReadFile("testdata/Cargo.lock")
	if err != nil {
		t.Fatal(err)
	}
	if got := list(t, "/src/Cargo.lock", b); got != crates {
		t.Errorf("got\n%s\nwant\n%s", got, crates)
	}
	if _, err := (Extractor{}).Extract("/src/Cargo.lock", []byte("[[package]\n")); err == nil || !strings.Contains(err.Error(), "/src/Cargo.lock") {
		t.Errorf("malformed: %v", err)
	}
}

// testdata/hello-auditable is a minimal static ELF executable with a
// .dep-v0 section added by objcopy, the way cargo-auditable embeds
// testdata/audit.json.
func TestAuditable(t *testing.T) {
	b, err := os.ReadFile("testdata/hello-auditable")
	if err != nil {
		t.Fatal(err)
	}
	if !(Extractor{}).Wants("/usr/local/bin/hello", 0o755) {
		t.Fatal("executable not wanted")
	}
	if got := list(t, "/usr/local/bin/hello", b); got != crates {
		t.Errorf("got\n%s\nwant\n%s", got, crates)
	}
	pkgs, _ := Extractor{}.Extract("/usr/local/bin/hello", b)
	for _, p := range pkgs {
		if p.Dev != (p.Name == "autocfg") {
			t.Errorf("%s dev = %v", p.Name, p.Dev)
		}
	}
}

func TestNotAuditable(t *testing.T) {
	for name, b := range map[string][]byte{
		"script":    []byte("#!/bin/sh\n"),
		"bad elf":   []byte("\x7fELF\x02\x01\x01garbage"),
		"no binary": nil,
	} {
		pkgs, err := Extractor{}.Extract("/bin/x", b)
		if err != nil || len(pkgs) != 0 {
			t.Errorf("%s: %v %v", name, pkgs, err)
		}
	}
}

func TestZlibBomb(t *testing.T) {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte(`{"packages":[`))
	zw.Write(make([]byte, maxAuditJSON+10))
	zw.Close()
	if _, err := inflate(bytes.NewReader(z.Bytes())); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("zlib bomb: %v", err)
	}
	if _, err := inflate(strings.NewReader("not zlib")); err == nil {
		t.Error("non-zlib section accepted")
	}
	if _, err := ParseAuditJSON("/x", []byte("{")); err == nil {
		t.Error("bad JSON accepted")
	}
}

func FuzzCargoLock(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := Extractor{}.Extract("/Cargo.lock", b)
		if err != nil {
			return
		}
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" {
				t.Fatalf("incomplete %+v", p)
			}
		}
	})
}

func FuzzAuditable(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := Extractor{}.Extract("/bin/x", b)
		if err != nil {
			return
		}
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" {
				t.Fatalf("incomplete %+v", p)
			}
		}
	})
}
