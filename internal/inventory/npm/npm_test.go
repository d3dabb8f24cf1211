package npm

import (
	"os"
	"sort"
	"strings"
	"testing"
)

// all is every package of the fixture project: lodash, @sindresorhus/is
// and debug as dependencies, ms@2.1.3 as devDependency and ms@2.0.0
// nested under debug.
var all = []string{
	"@sindresorhus/is@4.6.0 pkg:npm/%40sindresorhus/is@4.6.0",
	"debug@2.6.9 pkg:npm/debug@2.6.9",
	"lodash@4.17.20 pkg:npm/lodash@4.17.20",
	"ms@2.0.0 pkg:npm/ms@2.0.0",
	"ms@2.1.3 pkg:npm/ms@2.1.3",
}

func TestLockfiles(t *testing.T) {
	tests := []struct {
		fixture, path string
		devMS         bool // whether the format records ms@2.1.3 as dev
	}{
		{"package-lock-v1.json", "/app/package-lock.json", true},
		{"package-lock-v2.json", "/app/package-lock.json", true},
		{"package-lock-v3.json", "/app/package-lock.json", true},
		{"yarn-v1.lock", "/app/yarn.lock", false},
		{"yarn-berry.lock", "/app/yarn.lock", false},
		{"pnpm-v9.yaml", "/app/pnpm-lock.yaml", false},
		{"pnpm-v6.yaml", "/app/pnpm-lock.yaml", true},
	}
	e := Extractor{}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			b, err := os.ReadFile("testdata/" + tt.fixture)
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
			var got []string
			for _, p := range pkgs {
				got = append(got, p.Name+"@"+p.Version+" "+p.PURL)
				if p.Ecosystem != "npm" || p.Type != "npm" || p.Path != tt.path {
					t.Errorf("bad package %+v", p)
				}
				wantDev := tt.devMS && p.Name == "ms" && p.Version == "2.1.3"
				if p.Dev != wantDev {
					t.Errorf("%s@%s dev = %v, want %v", p.Name, p.Version, p.Dev, wantDev)
				}
			}
			if strings.Join(got, "\n") != strings.Join(all, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(all, "\n"))
			}
		})
	}
}

func TestPnpmV5(t *testing.T) {
	b, err := os.ReadFile("testdata/pnpm-v5.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := Extractor{}.Extract("/pnpm-lock.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pkgs {
		got = append(got, p.Name+"@"+p.Version)
	}
	if want := "@sindresorhus/is@4.6.0 debug@2.6.9 ms@2.0.0 ms@2.1.3"; strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
}

func TestInstalled(t *testing.T) {
	files := []string{
		"node_modules/@sindresorhus/is/package.json",
		"node_modules/debug/package.json",
		"node_modules/debug/node_modules/ms/package.json",
		"node_modules/lodash/package.json",
		"node_modules/ms/package.json",
	}
	e := Extractor{}
	var got []string
	for _, f := range files {
		p := "/app/" + f
		if !e.Wants(p, 0o644) {
			t.Fatalf("Wants(%s) = false", p)
		}
		b, err := os.ReadFile("testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		pkgs, err := e.Extract(p, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, pk := range pkgs {
			got = append(got, pk.Name+"@"+pk.Version+" "+pk.PURL)
		}
	}
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(all, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(all, "\n"))
	}
}

func TestWants(t *testing.T) {
	e := Extractor{}
	for p, want := range map[string]bool{
		"/app/package.json":                                     false, // the project itself
		"/app/node_modules/x/package.json":                      true,
		"/app/node_modules/@s/x/package.json":                   true,
		"/app/node_modules/x/lib/package.json":                  false,
		"/app/node_modules/@s/package.json":                     true, // scope dirs have none, harmless
		"/app/node_modules/.package-lock.json":                  false,
		"/app/node_modules/x/package-lock.json":                 false,
		"/app/package-lock.json":                                true,
		"/app/yarn.lock":                                        true,
		"/app/pnpm-lock.yaml":                                   true,
		"/usr/lib/node_modules/npm/node_modules/a/package.json": true,
		"/app/node_modules/.bin/package.json":                   false,
	} {
		if got := e.Wants(p, 0o644); got != want {
			t.Errorf("Wants(%s) = %v, want %v", p, got, want)
		}
	}
}

func TestMalformed(t *testing.T) {
	for p, in := range map[string]string{
		"/a/package-lock.json":           `{"packages": [`,
		"/a/yarn.lock":                   "lodash@^4:\n  version \"4\"\nnot a header\n",
		"/a/pnpm-lock.yaml":              "packages: [\n",
		"/a/node_modules/x/package.json": `{"name": 1}`,
	} {
		_, err := Extractor{}.Extract(p, []byte(in))
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v does not name the file", p, err)
		}
	}
	pkgs, err := Extractor{}.Extract("/a/node_modules/x/package.json", []byte(`{"name":"x"}`))
	if err != nil || len(pkgs) != 0 {
		t.Errorf("package.json without version: %v %v", pkgs, err)
	}
}

func fuzzNoBadPackages(t *testing.T, path string, b []byte) {
	pkgs, err := Extractor{}.Extract(path, b)
	if err != nil {
		return
	}
	for _, p := range pkgs {
		if p.Name == "" || p.Version == "" || p.PURL == "" {
			t.Fatalf("incomplete package %+v", p)
		}
	}
}

func FuzzPackageLock(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { fuzzNoBadPackages(t, "/package-lock.json", b) })
}

func FuzzYarnLock(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { fuzzNoBadPackages(t, "/yarn.lock", b) })
}

func FuzzPnpmLock(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { fuzzNoBadPackages(t, "/pnpm-lock.yaml", b) })
}

func TestAliases(t *testing.T) {
	for p, in := range map[string]string{
		"/a/package-lock.json": `{"lockfileVersion":3,"packages":{"":{},"node_modules/string-width-cjs":{"name":"string-width","version":"4.2.3"}}}`,
		"/b/package-lock.json": `{"lockfileVersion":1,"dependencies":{"string-width-cjs":{"version":"npm:string-width@4.2.3"}}}`,
		"/c/yarn.lock":         "\"string-width-cjs@npm:string-width@^4.2.0\":\n  version \"4.2.3\"\n",
		"/d/yarn.lock":         "\"string-width-cjs@npm:string-width@^4.2.0\":\n  version: 4.2.3\n  resolution: \"string-width@npm:4.2.3\"\n",
	} {
		pkgs, err := Extractor{}.Extract(p, []byte(in))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if len(pkgs) != 1 || pkgs[0].Name != "string-width" || pkgs[0].Version != "4.2.3" {
			t.Errorf("%s: %+v", p, pkgs)
		}
	}
}
