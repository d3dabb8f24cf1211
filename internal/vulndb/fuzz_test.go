package vulndb

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/osv-scalibr/semantic"
)

func FuzzParseRecord(f *testing.F) {
	files, _ := filepath.Glob("testdata/osv/*/*.json")
	for _, p := range files[:min(len(files), 6)] {
		data, _ := os.ReadFile(p)
		f.Add(data)
	}
	f.Add([]byte(`{"id":"X","affected":[{"package":{"ecosystem":"npm","name":"a"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}],"database_specific":[1,2]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseRecord("fuzz.json", data)
		if err != nil {
			if a != nil {
				t.Fatal("advisory returned with an error")
			}
			return
		}
		if a.ID == "" {
			t.Fatal("accepted a record without id")
		}
		a.compact()
		for _, af := range a.Affected {
			if af.Package.Ecosystem == "" || af.Package.Name == "" {
				t.Fatal("compact kept a packageless entry")
			}
			NormalizeName(af.Package.Ecosystem, af.Package.Name)
			// Version parsing of hostile events must not panic either.
			for _, r := range af.Ranges {
				for _, e := range r.Events {
					for _, v := range []string{e.Introduced, e.Fixed, e.LastAffected} {
						if v != "" {
							_, _ = semantic.Parse(v, af.Package.Ecosystem)
						}
					}
				}
			}
		}
	})
}

func FuzzImportSecDB(f *testing.F) {
	seed, _ := os.ReadFile("testdata/secdb/v3.11-main.yaml")
	if len(seed) > 4000 {
		seed = seed[:4000] // a prefix: the fuzzer mutates a small document faster
	}
	f.Add(seed)
	f.Add([]byte(`{"distroversion":"v3.19","reponame":"main","packages":[{"pkg":{"name":"openssl","secfixes":{"3.1.4-r1":["CVE-2023-5678 CVE-2023-1"],"0":["CVE-2000-0001"]}}}]}`))
	f.Add([]byte("distroversion: v3.5\npackages:\n  - pkg:\n      name: x\n      secfixes:\n        1.0-r0: notalist\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ImportSecDB("fuzz.yaml", data, func(a *Advisory) error {
			if err := a.validate(); err != nil {
				t.Fatalf("secdb produced an invalid advisory: %v", err)
			}
			if len(a.Affected) != 1 || len(a.Affected[0].Ranges) != 1 {
				t.Fatalf("secdb advisory shape: %+v", a)
			}
			return nil
		})
	})
}
