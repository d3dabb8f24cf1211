package fix

import (
	"math/rand"
	"strings"
	"testing"
)

// applyScript rebuilds b from a and the edit script, proving the script
// is a correct edit of a into b.
func applyScript(a, b []string, ops []byte) ([]string, bool) {
	var out []string
	i, j := 0, 0
	for _, op := range ops {
		switch op {
		case ' ':
			if i >= len(a) || j >= len(b) || a[i] != b[j] {
				return nil, false
			}
			out = append(out, a[i])
			i++
			j++
		case '-':
			i++
		case '+':
			out = append(out, b[j])
			j++
		}
	}
	return out, i == len(a) && j == len(b)
}

func TestDiffLinesRandom(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for n := 0; n < 300; n++ {
		a := make([]string, r.Intn(30))
		for i := range a {
			a[i] = string(rune('a' + r.Intn(4)))
		}
		b := append([]string(nil), a...)
		for e := r.Intn(6); e > 0; e-- {
			p := r.Intn(len(b) + 1)
			switch r.Intn(3) {
			case 0:
				b = append(b[:p], append([]string{"x"}, b[p:]...)...)
			case 1:
				if p < len(b) {
					b = append(b[:p], b[p+1:]...)
				}
			case 2:
				if p < len(b) {
					b[p] = "y"
				}
			}
		}
		ops := diffLines(a, b)
		got, ok := applyScript(a, b, ops)
		if !ok || strings.Join(got, "") != strings.Join(b, "") {
			t.Fatalf("bad script %q for %q -> %q", ops, a, b)
		}
	}
}

func TestUnifiedDiffFormat(t *testing.T) {
	a := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n"
	b := "1\n2\n3\nfour\n5\n6\n7\n8\n9\n10\n11\n12\nthirteen"
	got := UnifiedDiff("a/D", "b/D", []byte(a), []byte(b))
	want := "--- a/D\n+++ b/D\n@@ -1,7 +1,7 @@\n 1\n 2\n 3\n-4\n+four\n 5\n 6\n 7\n@@ -10,3 +10,4 @@\n 10\n 11\n 12\n+thirteen\n\\ No newline at end of file\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if UnifiedDiff("a", "b", []byte(a), []byte(a)) != "" {
		t.Error("equal inputs give a diff")
	}
}
