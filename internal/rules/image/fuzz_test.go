package image

import (
	"strings"
	"testing"
)

// FuzzRedactStep checks the history parser: spans stay within the input,
// and no secret it finds survives in the redacted step.
func FuzzRedactStep(f *testing.F) {
	f.Add("|1 GITHUB_TOKEN=" + fakeGHToken + " /bin/sh -c make")
	f.Add(`/bin/sh -c #(nop)  ENV A=1 DB_PASSWORD="` + fakePass + `" B='x y'`)
	f.Add("ENV API_SECRET " + fakePass)
	f.Add("RUN |2 A= B /bin/sh -c git clone https://u:" + fakePass + "@h.io/r # buildkit")
	f.Fuzz(func(t *testing.T, s string) {
		ss := stepSecrets(s)
		out := RedactStep(s)
		for _, x := range ss {
			if x.start < 0 || x.end > len(s) || x.start >= x.end {
				t.Fatalf("span [%d,%d) outside %d bytes", x.start, x.end, len(s))
			}
			sec := s[x.start:x.end]
			if len(sec) >= 8 && strings.Contains(out, sec) && !strings.Contains(strings.Replace(s, sec, "", 1), sec) {
				t.Fatalf("redacted step %q still holds %q", out, sec)
			}
		}
	})
}
