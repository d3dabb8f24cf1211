package vulndb

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxTitle is the longest title Title returns, in runes (with the ellipsis).
const maxTitle = 160

// titleAbbrevs end in a dot without ending a sentence.
var titleAbbrevs = map[string]bool{
	"e.g": true, "i.e": true, "etc": true, "vs": true, "inc": true, "ltd": true, "co": true,
	"no": true, "approx": true, "resp": true, "cf": true, "al": true, "ver": true, "v": true,
}

// Title makes a short, readable title from an advisory's details, for
// records that have no summary (most PYSEC records): the first sentence of
// the first paragraph that is not a Markdown heading, skipping an opening
// sentence that only describes the project ("TensorFlow is an open source
// platform for machine learning."), cut at a word boundary with "…" when
// longer than 160 characters. Details of only headings or whitespace give "".
func Title(details string) string {
	para := firstParagraph(details)
	if para == "" {
		return ""
	}
	first, rest := splitSentence(para)
	if rest != "" && describesProject(first) {
		if second, _ := splitSentence(rest); second != "" {
			first = second
		}
	}
	return clip(first, maxTitle)
}

// firstParagraph returns the first run of non-blank lines that is not a
// Markdown heading or rule, joined with single spaces.
func firstParagraph(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
			if b.Len() > 0 {
				return b.String()
			}
			continue
		case b.Len() == 0 && (strings.HasPrefix(line, "#") || strings.Trim(line, "-=*_") == ""):
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strings.Join(strings.Fields(line), " "))
		if b.Len() > 4*maxTitle {
			break // enough to find the first sentence
		}
	}
	return b.String()
}

// splitSentence returns the first sentence of s (with its final mark) and
// the rest. A sentence ends at ".", "!" or "?" followed by a space, or at a
// dot glued to a capital letter after a few words ("Apache Airflow.This
// issue"); not after an abbreviation or a one-letter initial.
func splitSentence(s string) (string, string) {
	code := false // inside a `code span`
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '`' {
			code = !code
		}
		if code || (c != '.' && c != '!' && c != '?') {
			continue
		}
		if i+1 == len(s) {
			return s, ""
		}
		next := s[i+1]
		glued := false
		switch {
		case next == ' ':
		case c == '.' && next >= 'A' && next <= 'Z' && i > 0 && unicode.IsLower(rune(s[i-1])) && strings.Count(s[:i], " ") >= 3:
			glued = true
		default:
			continue
		}
		if c == '.' && isAbbrev(s[:i]) {
			continue
		}
		if glued {
			return s[:i+1], strings.TrimSpace(s[i+1:])
		}
		return s[:i+1], strings.TrimSpace(s[i+2:])
	}
	return s, ""
}

// isAbbrev reports whether the word before a dot at the end of s is an
// abbreviation or a one-letter initial.
func isAbbrev(s string) bool {
	w := s[strings.LastIndexAny(s, " (\"'`")+1:]
	if utf8.RuneCountInString(w) == 1 {
		return true
	}
	return titleAbbrevs[strings.ToLower(w)]
}

// describesProject reports whether a sentence only says what the affected
// project is: "<Name> is a/an/the ...", "<Name> provides the ...", with no
// word of a flaw in it.
func describesProject(s string) bool {
	words := strings.Fields(s)
	is := -1
	for i, w := range words {
		if i > 5 {
			break
		}
		if w == "is" || w == "are" || w == "provides" {
			is = i
			break
		}
	}
	if is < 1 || is+1 >= len(words) {
		return false
	}
	switch strings.ToLower(words[is+1]) {
	case "a", "an", "the", "open", "free", "functionality", "tools":
	default:
		return false
	}
	low := strings.ToLower(s)
	for _, w := range []string{"vulnerab", "affected", "attack", "malicious", "arbitrary", "flaw", "exploit", "inject", "overflow", "denial", "bypass", "crash", "leak"} {
		if strings.Contains(low, w) {
			return false
		}
	}
	return true
}

// clip shortens s to at most n runes, at a word boundary, ending in "…".
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)[:n-1]
	cut := string(r)
	if i := strings.LastIndexByte(cut, ' '); i > n/2 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,;:") + "…"
}
