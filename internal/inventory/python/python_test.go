package python

import (
	"os"
	"strings"
	"testing"
)

func TestExtract(t *testing.T) {
	tests := []struct {
		fixture, path string
		want          []string // name@version[ dev][ license]
	}{
		{"PyYAML-6.0.dist-info/METADATA", "/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA", []string{"pyyaml@6.0 MIT pkg:pypi/pyyaml@6.0"}},
		{"PyJWT-2.6.0.egg-info/PKG-INFO", "/usr/lib/python3/dist-packages/PyJWT-2.6.0.egg-info/PKG-INFO", []string{"pyjwt@2.6.0 MIT pkg:pypi/pyjwt@2.6.0"}},
		{"zope.interface-5.4.0-py3.11.egg-info", "/usr/lib/python3/site-packages/zope.interface-5.4.0-py3.11.egg-info", []string{"zope-interface@5.4.0 ZPL 2.1 pkg:pypi/zope-interface@5.4.0"}},
		{"requirements.txt", "/app/requirements.txt", []string{
			"django@4.2.7 pkg:pypi/django@4.2.7",
			"jinja2@3.1.2 pkg:pypi/jinja2@3.1.2",
			"requests@2.31.0 pkg:pypi/requests@2.31.0",
			"ruamel-yaml-clib@0.2.8 pkg:pypi/ruamel-yaml-clib@0.2.8",
			"urllib3@1.26.18 pkg:pypi/urllib3@1.26.18",
		}},
		{"poetry.lock", "/app/poetry.lock", []string{
			"certifi@2023.7.22 pkg:pypi/certifi@2023.7.22",
			"pytest@7.4.3 dev pkg:pypi/pytest@7.4.3",
			"typing-extensions@4.8.0 pkg:pypi/typing-extensions@4.8.0",
		}},
		{"Pipfile.lock", "/app/Pipfile.lock", []string{
			"black@23.10.1 dev pkg:pypi/black@23.10.1",
			"flask@2.3.3 pkg:pypi/flask@2.3.3",
			"idna@3.4 pkg:pypi/idna@3.4",
		}},
	}
	e := Extractor{}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			if !e.Wants(tt.path, 0o644) {
				t.Fatalf("Wants(%s) = false", tt.path)
			}
			b, err := os.ReadFile("testdata/" + tt.fixture)
			if err != nil {
				t.Fatal(err)
			}
			pkgs, err := e.Extract(tt.path, b)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range pkgs {
				s := p.Name + "@" + p.Version
				if p.Dev {
					s += " dev"
				}
				if len(p.Licenses) > 0 {
					s += " " + p.Licenses[0]
				}
				got = append(got, s+" "+p.PURL)
				if p.Ecosystem != "PyPI" || p.Type != "pypi" {
					t.Errorf("bad package %+v", p)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"Django": "django", "zope.interface": "zope-interface", "ruamel__yaml--Clib": "ruamel-yaml-clib", "a-_.b": "a-b",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWants(t *testing.T) {
	e := Extractor{}
	for p, want := range map[string]bool{
		"/x/foo-1.0.dist-info/METADATA": true,
		"/x/foo-1.0.dist-info/RECORD":   false,
		"/x/METADATA":                   false,
		"/x/foo.egg-info/PKG-INFO":      true,
		"/x/foo-1.0.egg-info":           true,
		"/app/requirements-dev.txt":     true,
		"/app/requirements.in":          false,
		"/app/poetry.lock":              true,
		"/app/Pipfile":                  false,
		"/app/Pipfile.lock":             true,
	} {
		if got := e.Wants(p, 0o644); got != want {
			t.Errorf("Wants(%s) = %v, want %v", p, got, want)
		}
	}
}

func TestMalformed(t *testing.T) {
	for p, in := range map[string]string{
		"/a/poetry.lock":            "[[package]\nname=",
		"/a/Pipfile.lock":           "{",
		"/a/x-1.dist-info/METADATA": "Summary: no name\n",
	} {
		_, err := Extractor{}.Extract(p, []byte(in))
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v does not name the file", p, err)
		}
	}
}

func fuzzOne(t *testing.T, path string, b []byte) {
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

func FuzzPoetryLock(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { fuzzOne(t, "/poetry.lock", b) })
}

func FuzzPipfileLock(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { fuzzOne(t, "/Pipfile.lock", b) })
}

func FuzzRequirements(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) { fuzzOne(t, "/requirements.txt", b) })
}
