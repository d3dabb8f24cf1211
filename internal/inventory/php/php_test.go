package php

import (
	"os"
	"strings"
	"testing"
)

func TestComposer(t *testing.T) {
	tests := []struct {
		fixture, path string
		devKnown      bool
	}{
		{"composer.lock", "/app/composer.lock", true},
		{"installed-v2.json", "/app/vendor/composer/installed.json", true},
		{"installed-v1.json", "/app/vendor/composer/installed.json", false},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			if !(Extractor{}).Wants(tt.path, 0o644) {
				t.Fatalf("Wants(%s) = false", tt.path)
			}
			b, err := os.ReadFile("testdata/" + tt.fixture)
			if err != nil {
				t.Fatal(err)
			}
			pkgs, err := Extractor{}.Extract(tt.path, b)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range pkgs {
				got = append(got, p.Name+"@"+p.Version+" "+p.PURL+" "+strings.Join(p.Licenses, ","))
				if p.Dev != (tt.devKnown && p.Name == "phpunit/phpunit") {
					t.Errorf("%s dev = %v", p.Name, p.Dev)
				}
				if p.Ecosystem != "Packagist" || p.Type != "composer" {
					t.Errorf("bad package %+v", p)
				}
			}
			want := strings.Join([]string{
				"guzzlehttp/guzzle@7.4.4 pkg:composer/guzzlehttp/guzzle@7.4.4 MIT",
				"phpunit/phpunit@9.6.13 pkg:composer/phpunit/phpunit@9.6.13 BSD-3-Clause",
				"symfony/http-kernel@5.4.20 pkg:composer/symfony/http-kernel@5.4.20 MIT",
			}, "\n")
			if strings.Join(got, "\n") != want {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), want)
			}
		})
	}
	if _, err := (Extractor{}).Extract("/a/composer.lock", []byte("{")); err == nil || !strings.Contains(err.Error(), "/a/composer.lock") {
		t.Errorf("malformed: %v", err)
	}
}

func fuzzOne(t *testing.T, p string, b []byte) {
	pkgs, err := Extractor{}.Extract(p, b)
	if err != nil {
		return
	}
	for _, pk := range pkgs {
		if pk.Name == "" || pk.Version == "" {
			t.Fatalf("incomplete %+v", pk)
		}
	}
}

func FuzzComposerLock(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { fuzzOne(t, "/composer.lock", b) })
}

func FuzzInstalledJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { fuzzOne(t, "/vendor/composer/installed.json", b) })
}
