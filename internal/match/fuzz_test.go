package match

import "testing"

var fuzzEcosystems = []string{"Debian:12", "Alpine:v3.19", "Red Hat:9", "Go", "npm", "PyPI", "Maven", "RubyGems", "NuGet", "Packagist", "crates.io"}

// FuzzCompare feeds hostile version strings (they come from scanned
// images) to every ecosystem's ordering: no panic, and a version equals
// itself whenever it parses.
func FuzzCompare(f *testing.F) {
	for _, s := range [][2]string{{"1.0~rc1", "1:0.9"}, {"1.0_rc1-r0", "1.0_p1"}, {"1.0.dev0", "1!1.0.post1"}, {"1.0-SNAPSHOT", "1.0-sp1"}, {"1.0.0-alpha.1", "v1.0.0+build"}, {"99999999999999999999999", "0"}} {
		for i := range fuzzEcosystems {
			f.Add(uint8(i), s[0], s[1])
		}
	}
	f.Fuzz(func(t *testing.T, e uint8, a, b string) {
		eco := fuzzEcosystems[int(e)%len(fuzzEcosystems)]
		_, _ = Compare(eco, a, b)
		if c, err := Compare(eco, a, a); err == nil && c != 0 {
			t.Fatalf("%s: Compare(%q, itself) = %d", eco, a, c)
		}
	})
}
