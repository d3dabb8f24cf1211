package dotnet

import (
	"os"
	"strings"
	"testing"
)

func TestDepsJSON(t *testing.T) {
	b, err := os.ReadFile("testdata/app.deps.json")
	if err != nil {
		t.Fatal(err)
	}
	if !(Extractor{}).Wants("/app/app.deps.json", 0o644) {
		t.Fatal("deps.json not wanted")
	}
	pkgs, err := Extractor{}.Extract("/app/app.deps.json", b)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pkgs {
		got = append(got, p.Name+"@"+p.Version+" "+p.PURL)
		if p.Ecosystem != "NuGet" || p.Type != "nuget" {
			t.Errorf("bad package %+v", p)
		}
	}
	want := "Newtonsoft.Json@13.0.1 pkg:nuget/Newtonsoft.Json@13.0.1\nSystem.Text.Encodings.Web@4.7.1 pkg:nuget/System.Text.Encodings.Web@4.7.1"
	if strings.Join(got, "\n") != want {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), want)
	}
	if _, err := (Extractor{}).Extract("/a/x.deps.json", []byte("{")); err == nil || !strings.Contains(err.Error(), "/a/x.deps.json") {
		t.Errorf("malformed: %v", err)
	}
}

func FuzzDepsJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := Extractor{}.Extract("/x.deps.json", b)
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
