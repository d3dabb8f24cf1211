package golang

import (
	"os"
	"strings"
	"testing"
)

func TestGoMod(t *testing.T) {
	b, err := os.ReadFile("testdata/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := Extractor{}.Extract("/src/go.mod", b)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pkgs {
		got = append(got, p.Name+"@"+p.Version+" "+p.PURL)
	}
	want := []string{
		"github.com/google/uuid@1.6.0 pkg:golang/github.com/google/uuid@v1.6.0",
		"golang.org/x/text@0.3.0 pkg:golang/golang.org/x/text@v0.3.0",
		"github.com/someone/forked@1.2.1-fix pkg:golang/github.com/someone/forked@v1.2.1-fix",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	_, err = Extractor{}.Extract("/src/go.mod", []byte("module x\nrequire (\n"))
	if err == nil || !strings.Contains(err.Error(), "/src/go.mod") {
		t.Errorf("malformed go.mod: %v", err)
	}
}

func FuzzGoMod(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := Extractor{}.Extract("/go.mod", b)
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
