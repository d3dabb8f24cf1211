package secret

import (
	"bytes"
	"regexp"
	"unicode/utf8"

	"github.com/kensa-sec/kensa/internal/finding"
)

// Detector describes one credential type.
type Detector struct {
	// Type is the short name; the rule ID is "KS-SE-" + Type.
	Type     string
	Title    string
	Help     string
	Fix      string
	Severity finding.Severity
	// Keywords are matched case-insensitively by the prefilter; the
	// pattern only runs on windows around a keyword hit.
	Keywords []string
	// Pattern finds candidates; the secret is the first non-empty capture
	// group (the whole match when the pattern has no groups).
	Pattern *regexp.Regexp
	// Find replaces Pattern for formats a regular expression cannot check
	// alone; it returns [start, end) spans of secrets within the window.
	Find func(window []byte) [][2]int
	// NeedAny, when set, lists bytes of which the pattern (or Find) needs
	// at least one in a window to match, e.g. the '@' of user:password@host:
	// windows without any are skipped before the regular expression runs.
	NeedAny string
	// Validate, when set, must accept the secret (entropy, checksum,
	// decoding).
	Validate func(secret []byte) bool
	// Before and After bound the window around a keyword hit: at most
	// Before bytes before the keyword (default 1, enough for a \b) and
	// After bytes after it (default maxWindowSide). Single-line windows
	// also stop at a newline or a non-printable byte; MultiLine windows do
	// not.
	MultiLine     bool
	Before, After int
	// NoAllowList skips the placeholder allow-list (for private keys,
	// whose bodies are checked structurally).
	NoAllowList bool
}

// ID returns the stable rule ID, "KS-SE-<type>".
func (d *Detector) ID() string { return "KS-SE-" + d.Type }

// windowStart returns where the window for a keyword hit at ks begins.
func (d *Detector) windowStart(b []byte, ks int) int {
	before := d.Before
	if before == 0 && !d.MultiLine {
		before = 1
	}
	lim := max(0, ks-before)
	if d.MultiLine {
		return lim
	}
	i := ks
	for i > lim {
		c := b[i-1]
		if c < utf8.RuneSelf {
			if c == '\n' || !printable(c) {
				break
			}
			i--
			continue
		}
		r, size := utf8.DecodeLastRune(b[lim:i])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		i -= size
	}
	return i
}

// windowEnd returns where the window for a keyword hit ending at ke ends.
func (d *Detector) windowEnd(b []byte, ke int) int { return d.windowEndFrom(b, ke, ke) }

// windowEndFrom is windowEnd when the bytes between ke and from are already
// known to be inside the window: the walk resumes at from, so overlapping
// keyword hits on one long line cost linear time.
func (d *Detector) windowEndFrom(b []byte, ke, from int) int {
	after := d.After
	if after == 0 {
		after = maxWindowSide
	}
	lim := min(len(b), ke+after)
	if d.MultiLine {
		return lim
	}
	i := max(ke, from)
	for i < lim {
		c := b[i]
		if c < utf8.RuneSelf {
			if c == '\n' || !printable(c) {
				break
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:lim])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		i += size
	}
	return i
}

func (d *Detector) window(b []byte, ks, ke int) window {
	return window{d.windowStart(b, ks), d.windowEnd(b, ke)}
}

// find returns the spans of accepted secrets within w.
func (d *Detector) find(w []byte) [][2]int {
	if d.NeedAny != "" && !containsAnyByte(w, d.NeedAny) {
		return nil
	}
	var spans [][2]int
	if d.Find != nil {
		spans = d.Find(w)
	} else {
		for _, m := range d.Pattern.FindAllSubmatchIndex(w, -1) {
			s, e := m[0], m[1]
			for g := 2; g+1 < len(m); g += 2 {
				if m[g] >= 0 && m[g+1] > m[g] {
					s, e = m[g], m[g+1]
					break
				}
			}
			spans = append(spans, [2]int{s, e})
		}
	}
	out := spans[:0]
	for _, sp := range spans {
		if sp[0] < 0 || sp[1] > len(w) || sp[0] >= sp[1] {
			continue
		}
		v := w[sp[0]:sp[1]]
		if d.Validate != nil && !d.Validate(v) {
			continue
		}
		if !d.NoAllowList && IsPlaceholder(string(v)) {
			continue
		}
		out = append(out, sp)
	}
	return out
}

func (d *Detector) match(secret []byte, start, end int) Match {
	return Match{RuleID: d.ID(), Title: d.Title, Severity: d.Severity, Start: start, End: end,
		Redacted: Redact(string(secret)), Fix: d.Fix}
}

// containsAnyByte reports whether w holds any byte of set (a few bytes:
// one vectorized IndexByte per byte beats a per-byte set lookup).
func containsAnyByte(w []byte, set string) bool {
	for i := 0; i < len(set); i++ {
		if bytes.IndexByte(w, set[i]) >= 0 {
			return true
		}
	}
	return false
}
