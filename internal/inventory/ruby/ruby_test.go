package ruby

import (
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
		e := pk.Name + "@" + pk.Version + " " + pk.PURL
		if len(pk.Licenses) > 0 {
			e += " " + pk.Licenses[0]
		}
		s = append(s, e)
		if pk.Ecosystem != "RubyGems" || pk.Type != "gem" {
			t.Errorf("bad package %+v", pk)
		}
	}
	return strings.Join(s, "\n")
}

func TestGemfileLock(t *testing.T) {
	b, err := os.ReadFile("testdata/Gemfile.lock")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"actionpack@7.1.0.alpha pkg:gem/actionpack@7.1.0.alpha",
		"nokogiri@1.15.4 pkg:gem/nokogiri@1.15.4",
		"racc@1.7.1 pkg:gem/racc@1.7.1",
		"rack@2.2.8 pkg:gem/rack@2.2.8",
		"rake@13.0.6 pkg:gem/rake@13.0.6",
	}, "\n")
	if got := list(t, "/app/Gemfile.lock", b); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestGemspecs(t *testing.T) {
	for file, want := range map[string]string{
		"rake-13.0.6.gemspec": "rake@13.0.6 pkg:gem/rake@13.0.6 MIT",
		"json-1.8.6.gemspec":  "json@1.8.6 pkg:gem/json@1.8.6 Ruby",
	} {
		p := "/usr/local/lib/ruby/gems/3.2.0/specifications/" + file
		if !(Extractor{}).Wants(p, 0o644) {
			t.Fatalf("Wants(%s) = false", p)
		}
		b, err := os.ReadFile("testdata/specifications/" + file)
		if err != nil {
			t.Fatal(err)
		}
		if got := list(t, p, b); got != want {
			t.Errorf("%s: got %q, want %q", file, got, want)
		}
	}
	if !(Extractor{}).Wants("/usr/local/lib/ruby/gems/3.2.0/specifications/default/json-2.6.3.gemspec", 0o644) {
		t.Error("default gem spec not wanted")
	}
	if (Extractor{}).Wants("/app/mygem.gemspec", 0o644) {
		t.Error("a project's own gemspec is wanted")
	}
	if _, err := (Extractor{}).Extract("/g/specifications/x.gemspec", []byte("Gem::Specification.new do |s|\nend\n")); err == nil || !strings.Contains(err.Error(), "x.gemspec") {
		t.Errorf("gemspec without name: %v", err)
	}
}

func FuzzGemfileLock(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := Extractor{}.Extract("/Gemfile.lock", b)
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
