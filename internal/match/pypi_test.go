package match

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/kensa-sec/kensa/internal/vulndb"
)

// pypiRecords are real PYSEC records copied from the PyPA advisory
// database (../shared/vulndata/osv/PyPI/all.zip): every record naming one of
// the distributions Debian 12's python3-urllib3, -requests, -jinja2,
// -cryptography and -yaml install. They carry both ranges and explicit
// versions lists.
const pypiRecords = "../vulndb/testdata/osv/PyPI"

// debianPython are the upstream versions of those distributions in Debian
// 12 (their *.dist-info / *.egg-info metadata).
var debianPython = map[string]string{
	"certifi": "2022.9.24", "cryptography": "38.0.4", "idna": "3.3", "requests": "2.28.1",
	"urllib3": "1.26.12", "jinja2": "3.1.2", "pyyaml": "6.0",
}

func pypiPkgs() []inventory.Package {
	var out []inventory.Package
	for n, v := range debianPython {
		out = append(out, inventory.NewPackage("pypi", "PyPI", "", n, v, "/usr/lib/python3/dist-packages/"+n+"-"+v+".dist-info/METADATA", nil))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// TestPyPIRealRecordsFixedVersions matches Debian 12's Python distributions
// against the real records. The expected fixed versions were read off the
// records by hand: each is the lowest `fixed` event above the installed
// version (PYSEC-2022-42986: introduced 2017.11.5, fixed 2022.12.7). Before,
// a hit in a record's versions list discarded the ranges' fix and every one
// of these findings said "no fix available".
func TestPyPIRealRecordsFixedVersions(t *testing.T) {
	db := buildDB(t, pypiRecords)
	want := map[string]string{ // "package advisory" -> fixed
		"certifi PYSEC-2022-42986":    "2022.12.7",
		"certifi PYSEC-2023-135":      "2023.7.22",
		"cryptography PYSEC-2023-11":  "39.0.1",
		"cryptography PYSEC-2023-254": "41.0.6",
		"idna PYSEC-2024-60":          "3.7",
		"requests PYSEC-2023-74":      "2.31.0",
		"urllib3 PYSEC-2023-192":      "1.26.17",
		"urllib3 PYSEC-2023-212":      "1.26.18",
	}
	for _, ignoreUnfixed := range []bool{false, true} {
		got := map[string]string{}
		for _, f := range matchT(t, db, nil, Options{IgnoreUnfixed: ignoreUnfixed}, pypiPkgs()...) {
			id := f.ID
			for _, n := range names(f) {
				if strings.HasPrefix(n, "PYSEC-") {
					id = n
				}
			}
			k := f.Package.Name + " " + id
			if _, dup := got[k]; dup {
				t.Errorf("%s reported twice", k)
			}
			got[k] = f.Package.FixedVersion
			if f.Package.FixedVersion != "" && !strings.Contains(f.Fix, f.Package.FixedVersion) {
				t.Errorf("%s: fix text %q does not name %s", k, f.Fix, f.Package.FixedVersion)
			}
		}
		for k, fixed := range want {
			g, ok := got[k]
			switch {
			case !ok:
				t.Errorf("ignoreUnfixed=%v: %s not reported", ignoreUnfixed, k)
			case g != fixed:
				t.Errorf("ignoreUnfixed=%v: %s fixed in %q, want %q", ignoreUnfixed, k, g, fixed)
			}
		}
		for k, g := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("ignoreUnfixed=%v: unexpected finding %s (fixed %q)", ignoreUnfixed, k, g)
			}
		}
	}
}

// TestRecordsWithVersionsListsAgreeWithRanges checks every real record
// that has both ranges and a versions list: each listed version is
// affected, and its fix is the lowest fixed event above it, the same
// answer the ranges alone give.
func TestRecordsWithVersionsListsAgreeWithRanges(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(pypiRecords, "*.json"))
	checked := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		a, err := vulndb.ParseRecord(file, data)
		if err != nil {
			t.Fatal(err)
		}
		for i := range a.Affected {
			af := a.Affected[i]
			if len(af.Versions) == 0 || len(af.Ranges) == 0 {
				continue
			}
			rangesOnly := af
			rangesOnly.Versions = nil
			for _, v := range af.Versions {
				inst, err := parse("PyPI", v)
				if err != nil {
					t.Fatalf("%s: %v", a.ID, err)
				}
				in, fix, err := evalAffected("PyPI", inst, &af)
				if err != nil || !in {
					t.Errorf("%s %s %s: listed version not affected (err %v)", a.ID, af.Package.Name, v, err)
					continue
				}
				rin, rfix, _ := evalAffected("PyPI", inst, &rangesOnly)
				if rin && fix != rfix {
					t.Errorf("%s %s %s: fix %q with the versions list, %q from the ranges alone", a.ID, af.Package.Name, v, fix, rfix)
				}
				if want := lowestFixAbove("PyPI", inst, af.Ranges); fix != want {
					t.Errorf("%s %s %s: fix %q, want the lowest fixed event above it, %q", a.ID, af.Package.Name, v, fix, want)
				}
				checked++
			}
		}
	}
	if checked < 500 {
		t.Fatalf("only %d listed versions checked; the PyPI testdata should hold hundreds", checked)
	}
	t.Logf("%d listed versions of %d records checked", checked, len(files))
}

// TestVersionsListFixAcrossEcosystems uses records shaped like GitHub's
// (GHSA) and PyPA's, which carry an explicit versions list next to the
// ranges, in every ecosystem whose records do so (Go's records have no
// versions lists). A listed version inside a fixed range gets that fix and
// survives --ignore-unfixed; a record with only a versions list, or a range
// with no fixed event, is "no fix".
func TestVersionsListFixAcrossEcosystems(t *testing.T) {
	cases := []struct {
		eco, name, installed, introduced, fixed string
		listed                                  []string
	}{
		{"PyPI", "demo-lib", "1.4.0", "1.0", "1.5.1", []string{"1.0", "1.4.0", "1.5.0"}},
		{"npm", "demo-lib", "2.3.1", "2.0.0", "2.4.0", []string{"2.0.0", "2.3.1"}},
		{"Maven", "org.example:demo-lib", "3.1.0", "3.0.0", "3.2.1", []string{"3.0.0", "3.1.0"}},
		{"RubyGems", "demo-lib", "5.0.2", "5.0.0", "5.0.3", []string{"5.0.0", "5.0.2"}},
		{"crates.io", "demo-lib", "0.7.4", "0.7.0", "0.7.5", []string{"0.7.0", "0.7.4"}},
		{"Packagist", "example/demo-lib", "4.2.0", "4.0.0", "4.2.2", []string{"4.0.0", "4.2.0"}},
		{"NuGet", "Example.DemoLib", "6.0.1", "6.0.0", "6.0.5", []string{"6.0.0", "6.0.1"}},
	}
	for _, c := range cases {
		t.Run(c.eco, func(t *testing.T) {
			rec := func(id string, withRange, withFix bool) map[string]any {
				af := map[string]any{"package": map[string]any{"ecosystem": c.eco, "name": c.name}, "versions": c.listed}
				if withRange {
					evs := []map[string]string{{"introduced": c.introduced}}
					if withFix {
						evs = append(evs, map[string]string{"fixed": c.fixed})
					}
					af["ranges"] = []map[string]any{{"type": "ECOSYSTEM", "events": evs}}
				}
				return map[string]any{"id": id, "modified": "2024-01-01T00:00:00Z", "summary": "demo", "affected": []map[string]any{af}}
			}
			db := buildDB(t, recordsDir(t,
				rec("GHSA-aaaa-bbbb-cccc", true, true),
				rec("GHSA-list-only-0001", false, false),
				rec("GHSA-open-range-001", true, false)))
			pkg := inventory.NewPackage("", c.eco, "", c.name, c.installed, "/x", nil)
			byID := func(fs []finding.Finding) map[string]finding.Finding {
				m := map[string]finding.Finding{}
				for _, f := range fs {
					m[f.ID] = f
				}
				return m
			}
			all := byID(matchT(t, db, nil, Options{}, pkg))
			if f, ok := all["GHSA-aaaa-bbbb-cccc"]; !ok || f.Package.FixedVersion != c.fixed {
				t.Errorf("ranges + versions: got %+v, want fixed %s", f.Package, c.fixed)
			}
			for _, id := range []string{"GHSA-list-only-0001", "GHSA-open-range-001"} {
				if f, ok := all[id]; !ok || f.Package.FixedVersion != "" || f.Fix != "no fix available" {
					t.Errorf("%s: got %v %+v, want a finding with no fix", id, ok, f.Package)
				}
			}
			kept := byID(matchT(t, db, nil, Options{IgnoreUnfixed: true}, pkg))
			if _, ok := kept["GHSA-aaaa-bbbb-cccc"]; !ok || len(kept) != 1 {
				t.Errorf("--ignore-unfixed kept %v, want only the fixed advisory", kept)
			}
		})
	}
}
