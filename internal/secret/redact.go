package secret

import (
	"fmt"
	"math"
	"strings"
)

// Redact hides a secret: it keeps a short prefix (at most 4 characters and
// never more than a quarter of the secret) and the length, e.g.
// "AKIA****************(20 chars)". Stars are capped at 16.
func Redact(s string) string {
	r := []rune(s)
	n := len(r)
	keep := min(4, n/4)
	stars := min(16, n-keep)
	return string(r[:keep]) + strings.Repeat("*", stars) + fmt.Sprintf("(%d chars)", n)
}

// entropy returns the Shannon entropy of b in bits per byte.
func entropy(b []byte) float64 {
	if len(b) == 0 {
		return 0
	}
	var counts [256]int
	for _, c := range b {
		counts[c]++
	}
	var h float64
	n := float64(len(b))
	for _, c := range counts {
		if c == 0 {
			continue
		}
		p := float64(c) / n
		h -= p * math.Log2(p)
	}
	return h
}

// classes counts the character classes in b: lower, upper, digit, other.
func classes(b []byte) int {
	var lo, up, di, ot int
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			lo = 1
		case c >= 'A' && c <= 'Z':
			up = 1
		case c >= '0' && c <= '9':
			di = 1
		default:
			ot = 1
		}
	}
	return lo + up + di + ot
}

// placeholderWords are substrings (lower-case) that mark documentation and
// test values rather than real credentials, wherever they appear.
var placeholderWords = []string{
	"example", "changeme", "change_me", "change-me", "xxxx", "placeholder",
	"your_", "your-", "yourpass", "yourtoken", "redacted", "notreal", "not_real",
	"0000000000", "123456789", "abcdefgh", "replace_me", "replaceme",
	"secret_here", "password_here", "token_here", "<", ">", "****",
}

// placeholderShortWords mark placeholders only at a word edge (start or
// end of the value, or next to a non-letter): inside random letters they
// occur by chance ("...ckfIXmeZ...").
var placeholderShortWords = []string{"dummy", "fake", "sample", "todo", "fixme", "insert", "test123"}

// knownTestValues are published example credentials (AWS documentation).
var knownTestValues = map[string]bool{
	"AKIAIOSFODNN7EXAMPLE":                     true,
	"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY": true,
	"ASIAIOSFODNN7EXAMPLE":                     true,
}

// IsPlaceholder reports whether s is a known example value, a placeholder
// (example, dummy, changeme, xxxx, <...>), a variable reference (${...},
// $VAR, {{...}}, %(x)s) or a single repeated character.
func IsPlaceholder(s string) bool {
	if knownTestValues[s] {
		return true
	}
	if looksLikeReference(s) {
		return true
	}
	l := strings.ToLower(s)
	for _, w := range placeholderWords {
		if strings.Contains(l, w) {
			return true
		}
	}
	for _, w := range placeholderShortWords {
		for off := 0; ; {
			i := strings.Index(l[off:], w)
			if i < 0 {
				break
			}
			i += off
			j := i + len(w)
			if i == 0 || j == len(l) || !isLetter(l[i-1]) || !isLetter(l[j]) {
				return true
			}
			off = i + 1
		}
	}
	// One repeated character ("aaaaaaaa", "********").
	if len(l) > 0 && strings.Count(l, l[:1]) == len(l) {
		return true
	}
	return false
}

// looksLikeReference reports values that name a variable or template
// rather than hold a secret: ${X}, $X, {{ x }}, %(x)s, %X%, #{x}.
func looksLikeReference(s string) bool {
	t := strings.Trim(s, `"' `)
	switch {
	case strings.HasPrefix(t, "$"), strings.Contains(t, "${"), strings.Contains(t, "{{"),
		strings.Contains(t, "%("), strings.Contains(t, "#{"):
		return true
	case len(t) > 2 && strings.HasPrefix(t, "%") && strings.HasSuffix(t, "%"):
		return true
	}
	return false
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
