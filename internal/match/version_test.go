package match

import "testing"

// Ordering examples from each ecosystem's own documentation: Debian Policy
// 5.6.12, Alpine's apk version rules, PEP 440, semver.org §11, Maven's
// ComparableVersion, RubyGems Gem::Version, NuGet SemVer 2.0, rpmvercmp.
func TestCompareOrdering(t *testing.T) {
	for _, c := range []struct {
		eco, lo, hi string
	}{
		// dpkg: tilde sorts before anything, epochs win, Debian revisions.
		{"Debian:12", "1.0~rc1", "1.0"},
		{"Debian:12", "1.0~~", "1.0~"},
		{"Debian:12", "2.0", "1:0.9"},
		{"Debian:12", "1.0-1", "1.0-1+deb12u1"},
		{"Debian:12", "5.36.0-7+deb12u3", "5.36.0-7+deb12u4"},
		{"Debian:12", "1.0-1", "1.0-1.1"},
		{"Debian:12", "10.42-1", "10.42-1+deb12u2"},
		{"Ubuntu:22.04", "1.2-1ubuntu1", "1.2-1ubuntu2"},
		// apk: _rc/_alpha pre-releases before release, -rN revisions, _p patch after.
		{"Alpine:v3.19", "1.0_rc1", "1.0"},
		{"Alpine:v3.19", "1.0_alpha1", "1.0_beta1"},
		{"Alpine:v3.19", "1.0-r0", "1.0-r1"},
		{"Alpine:v3.19", "1.0", "1.0_p1"},
		{"Alpine:v3.19", "1.2.3-r9", "1.2.4-r0"},
		// PEP 440: dev < pre < release < post.
		{"PyPI", "1.0.dev0", "1.0a1"},
		{"PyPI", "1.0a1", "1.0b1"},
		{"PyPI", "1.0rc1", "1.0"},
		{"PyPI", "1.0", "1.0.post1"},
		{"PyPI", "1.0", "1!0.1"},
		// semver §11: pre-releases before the release.
		{"npm", "1.0.0-alpha", "1.0.0-alpha.1"},
		{"npm", "1.0.0-alpha.beta", "1.0.0-beta"},
		{"npm", "1.0.0-beta.11", "1.0.0-rc.1"},
		{"npm", "1.0.0-rc.1", "1.0.0"},
		{"crates.io", "0.9.9", "0.10.0"},
		{"Go", "v0.3.0", "0.3.3"},
		{"Go", "go1.21.3", "1.21.10"},
		// Maven: alpha < beta < milestone < rc < snapshot < release < sp.
		{"Maven", "1.0-alpha-1", "1.0-beta-1"},
		{"Maven", "1.0-beta-1", "1.0-M1"},
		{"Maven", "1.0-RC1", "1.0-SNAPSHOT"},
		{"Maven", "1.0-SNAPSHOT", "1.0"},
		{"Maven", "1.0", "1.0-sp1"},
		{"Maven", "2.9.10.7", "2.12.1"},
		// RubyGems: prerelease (a letter) before the release.
		{"RubyGems", "1.0.a", "1.0"},
		{"RubyGems", "1.0.0.rc1", "1.0.0"},
		{"RubyGems", "1.9", "1.10"},
		// NuGet: semver 2.0 with a 4th part.
		{"NuGet", "1.0.0-beta", "1.0.0"},
		{"NuGet", "1.0.0", "1.0.0.1"},
		// rpm: epoch and release.
		{"Red Hat:9", "1.0-1.el9", "1.0-2.el9"},
		{"Red Hat:9", "2.0-1", "1:1.0-1"},
		{"Red Hat:9", "1.0~rc1-1", "1.0-1"},
		// Packagist (Composer).
		{"Packagist", "1.0.0-beta1", "1.0.0"},
	} {
		if got, err := Compare(c.eco, c.lo, c.hi); err != nil || got != -1 {
			t.Errorf("Compare(%s, %s, %s) = %d, %v; want -1", c.eco, c.lo, c.hi, got, err)
		}
		if got, err := Compare(c.eco, c.hi, c.lo); err != nil || got != 1 {
			t.Errorf("Compare(%s, %s, %s) = %d, %v; want +1", c.eco, c.hi, c.lo, got, err)
		}
	}
	for _, c := range []struct{ eco, a, b string }{
		{"Debian:12", "0:1.0", "1.0"},
		{"PyPI", "1.0", "1.0.0"},
		{"Go", "v1.2.3", "1.2.3"},
	} {
		if got, err := Compare(c.eco, c.a, c.b); err != nil || got != 0 {
			t.Errorf("Compare(%s, %s, %s) = %d, %v; want 0", c.eco, c.a, c.b, got, err)
		}
	}
	if _, err := Compare("NoSuchEcosystem", "1", "2"); err == nil {
		t.Error("unknown ecosystem: want an error")
	}
}
