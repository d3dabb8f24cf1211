package dockerfile

import (
	"strings"
	"testing"
)

// refClip is clip as first written (strings.Fields + Join on every call);
// clip's fast path must give the same result.
func refClip(s string, n int) string {
	if len(s) > 4*n {
		s = s[:4*n]
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// refDisablesRecommends is the lower-casing check disablesRecommends replaces.
func refDisablesRecommends(text string) bool {
	t := strings.ToLower(text)
	return strings.Contains(t, "install-recommends") && (strings.Contains(t, "false") || strings.Contains(t, "\"0\""))
}

var fastCases = []string{
	"",
	" ",
	"RUN apt-get update",
	"RUN  apt-get update",
	" RUN apt-get update",
	"RUN apt-get update ",
	"RUN apt-get \\\n\tupdate",
	"RUN\u00a0x",
	"RUN \u2003 x",
	"RUN x\r",
	"echo 'APT::Install-Recommends \"false\";' > /etc/apt/apt.conf.d/99norec",
	"echo 'APT::INSTALL-RECOMMENDS \"0\";' > /etc/apt/apt.conf.d/99norec",
	"apt-get install --no-install-recommends -y curl",
	"echo install-recommends FALSE",
	"echo install-recommends true",
	"echo \u212a install-recommends FALSE", // Kelvin sign: non-ASCII path
	"echo İnstall-recommends false",        // dotted capital I lower-cases to non-ASCII
	strings.Repeat("word ", 300),
	"install-recommends false",
	"--install-recommends=\"0\"",
	"a-b-c-install-RECOMMENDS-false",
	"apt-get -o APT::Install-Recommends=false install x",
	"install-recommend",
	"nstall-recommends false",
}

func TestClipMatchesReference(t *testing.T) {
	for _, s := range fastCases {
		for _, n := range []int{0, 1, 5, 120, 200} {
			if got, want := clip(s, n), refClip(s, n); got != want {
				t.Errorf("clip(%q, %d) = %q, want %q", s, n, got, want)
			}
		}
	}
}

func TestDisablesRecommendsMatchesReference(t *testing.T) {
	hits := 0
	for _, s := range fastCases {
		got, want := disablesRecommends(s), refDisablesRecommends(s)
		if got != want {
			t.Errorf("disablesRecommends(%q) = %v, want %v", s, got, want)
		}
		if got {
			hits++
		}
	}
	if hits < 3 {
		t.Errorf("only %d cases disable recommends; the table lost its positive cases", hits)
	}
}

// FuzzFastPaths checks clip and disablesRecommends against the plain
// implementations they replace, on arbitrary text.
func FuzzFastPaths(f *testing.F) {
	for _, s := range fastCases {
		f.Add(s, 40)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 0 || n > 1000 {
			n = 40
		}
		if got, want := clip(s, n), refClip(s, n); got != want {
			t.Fatalf("clip(%q, %d) = %q, want %q", s, n, got, want)
		}
		if got, want := disablesRecommends(s), refDisablesRecommends(s); got != want {
			t.Fatalf("disablesRecommends(%q) = %v, want %v", s, got, want)
		}
	})
}
