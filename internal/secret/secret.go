// Package secret finds credentials in bytes: files of image layers, build
// context files, environment variables and history lines. Each credential
// type is a Detector with a stable rule ID (KS-SE-<type>), keywords for a
// fast prefilter, a pattern and an optional validation.
//
// How content is scanned: one pass over the bytes looks for every detector
// keyword at once (case-insensitively, through a table indexed by the first
// two lowered bytes of each keyword). Only the printable run around a
// keyword hit (the line, bounded by a newline or any non-printable byte) is
// handed to that detector's regular expression; multi-line detectors (PEM
// private keys, GCP service-account JSON) get a larger window. Most bytes
// therefore never reach a regular expression.
//
// Binary files are scanned the same way: because windows stop at
// non-printable bytes, only printable runs (string constants) are matched,
// so a token embedded in a binary is found without matching across binary
// noise.
//
// Validation: detectors gate on Shannon entropy, character classes and
// structure (PEM END line and body, JWT header decoding to JSON with "alg",
// Docker auth decoding to user:password). GitHub's and npm's token
// checksums are not verified: their exact algorithm is not officially
// documented, and a wrong guess would silently drop real tokens.
//
// Known test values (AWS's documented example keys) and placeholders
// (example, dummy, changeme, xxxx, ${VAR}, <...>) are never reported; see
// IsPlaceholder. Documentation and the test fixtures of installed
// packages are not scanned by the layer analyzer; see IsNoisePath.
//
// Matched text never leaves this package unredacted: Match carries the
// redacted form (Redact) and byte offsets only.
package secret

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"sort"
	"sync"

	"github.com/kensa-sec/kensa/internal/finding"
)

// Match is one credential found in content.
type Match struct {
	// RuleID is the stable rule ID, e.g. "KS-SE-github-token".
	RuleID   string
	Title    string
	Severity finding.Severity
	// Line is the 1-based line of the secret's first byte.
	Line int
	// Start and End are byte offsets of the secret value in the scanned
	// content (content[Start:End] is the secret); 0 <= Start < End <= len.
	Start, End int
	// Redacted shows a short prefix and the length only, never the secret.
	Redacted string
	// Fix is the rule's fix hint.
	Fix string
}

// maxWindowSide bounds how far a window extends on either side of a
// keyword hit for single-line detectors (minified files have huge lines).
const maxWindowSide = 2048

// scanner is the compiled keyword table over all detectors.
type scanner struct {
	dets []*Detector
	kws  []keyword
	// index maps the two lowered leading bytes of a keyword to a bucket
	// in buckets (0 means no keyword starts with those bytes).
	index   [1 << 16]uint16
	buckets [][]int32
	// third holds, per bucket, the set of lowered third bytes its keywords
	// have (every keyword has at least 3 bytes): most bigram hits in text
	// ("to", "pa", "se") stop here without comparing keywords.
	third [][4]uint64
	// class is the prefilter in front of index, indexed by the raw byte
	// pair b[j] | b[j+1]<<8: bit 1 is set when the pair (in any case) is
	// the first two bytes of some keyword (a start at j), bit 0 when it is
	// the second and third (a start at j-1). Every keyword has at least
	// 3 bytes, so a keyword starting at p covers the pair at the even
	// offset p (p even) or p+1 (p odd): testing only the pairs at even
	// offsets, 4 per 8-byte word, finds every possible start. In binary
	// or numeric content almost no word has a candidate, so the scan
	// costs one load and four table lookups per 8 bytes.
	class [1 << 16]uint8
}

type keyword struct {
	lower []byte
	dets  []int // detectors that use this keyword
}

var lowerTab = func() (t [256]byte) {
	for i := range t {
		c := byte(i)
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		t[i] = c
	}
	return t
}()

var defaultScanner = sync.OnceValue(func() *scanner { return newScanner(Detectors()) })

func newScanner(dets []*Detector) *scanner {
	s := &scanner{dets: dets, buckets: [][]int32{nil}, third: [][4]uint64{{}}}
	byKW := map[string]int{}
	for di, d := range dets {
		for _, k := range d.Keywords {
			lk := string(bytes.ToLower([]byte(k)))
			if len(lk) < 3 {
				panic("secret: keyword shorter than 3 bytes in " + d.ID())
			}
			ki, ok := byKW[lk]
			if !ok {
				ki = len(s.kws)
				byKW[lk] = ki
				s.kws = append(s.kws, keyword{lower: []byte(lk)})
			}
			s.kws[ki].dets = append(s.kws[ki].dets, di)
		}
	}
	for ki, k := range s.kws {
		key := uint16(k.lower[0])<<8 | uint16(k.lower[1])
		b := s.index[key]
		if b == 0 {
			b = uint16(len(s.buckets))
			s.buckets = append(s.buckets, nil)
			s.third = append(s.third, [4]uint64{})
			s.index[key] = b
		}
		s.buckets[b] = append(s.buckets[b], int32(ki))
		c := k.lower[2]
		s.third[b][c>>6] |= 1 << (c & 63)
		for off := range 2 {
			for _, c0 := range caseVariants(k.lower[off]) {
				for _, c1 := range caseVariants(k.lower[off+1]) {
					s.class[uint16(c0)|uint16(c1)<<8] |= 1 << (1 - off)
				}
			}
		}
	}
	return s
}

// caseVariants returns the bytes x with lowerTab[x] == c.
func caseVariants(c byte) []byte {
	if c >= 'a' && c <= 'z' {
		return []byte{c, c - ('a' - 'A')}
	}
	return []byte{c}
}

// window is a byte range [start, end) of the content handed to a detector.
type window struct{ start, end int }

// Scan returns every credential found in content, ordered by position.
// It never returns the secret text itself (see Match.Redacted).
func Scan(content []byte) []Match {
	return defaultScanner().scan(content)
}

func (s *scanner) scan(b []byte) []Match {
	if len(b) < 3 {
		return nil
	}
	// One pass: record keyword hits as windows per detector. The pair
	// prefilter (class) looks at 8 bytes per step; in a word with a
	// candidate pair at j, the start j-1 and then j are checked exactly
	// (hitAt). Starts are checked in increasing order, each at most once
	// (j-1 and j belong to the pair at j only).
	wins := make([][]window, len(s.dets))
	n := len(b)
	i := 0
	for ; i+16 <= n; i += 16 {
		w, x := binary.LittleEndian.Uint64(b[i:]), binary.LittleEndian.Uint64(b[i+8:])
		// Bit 2g of m: a start at i-1+2g; bit 2g+1: a start at i+2g.
		m := uint64(s.class[uint16(w)]) | uint64(s.class[uint16(w>>16)])<<2 |
			uint64(s.class[uint16(w>>32)])<<4 | uint64(s.class[uint16(w>>48)])<<6 |
			uint64(s.class[uint16(x)])<<8 | uint64(s.class[uint16(x>>16)])<<10 |
			uint64(s.class[uint16(x>>32)])<<12 | uint64(s.class[uint16(x>>48)])<<14
		if m == 0 {
			continue
		}
		if i == 0 {
			m &^= 1
		}
		for ; m != 0; m &= m - 1 {
			p := i - 1 + bits.TrailingZeros64(m)
			if p+2 >= n {
				continue
			}
			// A keyword at p has its first pair in starts and its second
			// in seconds; one pair was tested above, test both here.
			if s.class[uint16(b[p])|uint16(b[p+1])<<8]&2 == 0 || s.class[uint16(b[p+1])|uint16(b[p+2])<<8]&1 == 0 {
				continue
			}
			s.hitAt(b, p, wins)
		}
	}
	for p := max(i-1, 0); p+2 < n; p++ {
		s.hitAt(b, p, wins)
	}
	return s.matchWindows(b, wins)
}

// matchWindows runs each detector over its windows.
func (s *scanner) matchWindows(b []byte, wins [][]window) []Match {
	n := len(b)
	var out []Match
	for di, ws := range wins {
		d := s.dets[di]
		for _, w := range ws {
			for _, sp := range d.find(b[w.start:w.end]) {
				st, en := w.start+sp[0], w.start+sp[1]
				if st < 0 || en > n || st >= en {
					continue
				}
				out = append(out, d.match(b[st:en], st, en))
			}
		}
	}
	return finish(b, out)
}

// hitAt records windows for every keyword starting at b[i] (i+2 < len(b)).
// Calls must come in increasing i.
func (s *scanner) hitAt(b []byte, i int, wins [][]window) {
	bk := s.index[uint16(lowerTab[b[i]])<<8|uint16(lowerTab[b[i+1]])]
	if bk == 0 {
		return
	}
	if c := lowerTab[b[i+2]]; s.third[bk][c>>6]&(1<<(c&63)) == 0 {
		return
	}
	for _, ki := range s.buckets[bk] {
		k := &s.kws[ki]
		if !hasPrefixFold(b[i:], k.lower) {
			continue
		}
		ke := i + len(k.lower)
		for _, di := range k.dets {
			d := s.dets[di]
			ws := wins[di]
			// Hits come in increasing order: extend the last window
			// when this hit falls inside it.
			if l := len(ws); l > 0 && i < ws[l-1].end {
				if e := d.windowEndFrom(b, ke, ws[l-1].end); e > ws[l-1].end {
					ws[l-1].end = e
				}
				continue
			}
			w := d.window(b, i, ke)
			if l := len(ws); l > 0 && w.start <= ws[l-1].end {
				ws[l-1].end = max(ws[l-1].end, w.end)
				continue
			}
			wins[di] = append(ws, w)
		}
	}
}

// finish drops duplicates and generic matches that overlap a specific
// one, sorts by position and fills line numbers.
func finish(b []byte, ms []Match) []Match {
	if len(ms) == 0 {
		return nil
	}
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].Start != ms[j].Start {
			return ms[i].Start < ms[j].Start
		}
		return ms[i].RuleID < ms[j].RuleID
	})
	out := ms[:0]
	for i, m := range ms {
		if i > 0 && m.Start == ms[i-1].Start && m.End == ms[i-1].End && m.RuleID == ms[i-1].RuleID {
			continue
		}
		if m.RuleID == genericID && overlapsSpecific(ms, m) {
			continue
		}
		out = append(out, m)
	}
	line, pos := 1, 0
	for i := range out {
		line += bytes.Count(b[pos:out[i].Start], []byte{'\n'})
		pos = out[i].Start
		out[i].Line = line
	}
	return out
}

func overlapsSpecific(ms []Match, g Match) bool {
	for _, m := range ms {
		if m.RuleID != genericID && m.Start < g.End && g.Start < m.End {
			return true
		}
	}
	return false
}

func hasPrefixFold(b, lowerPrefix []byte) bool {
	if len(b) < len(lowerPrefix) {
		return false
	}
	for i, c := range lowerPrefix {
		if lowerTab[b[i]] != c {
			return false
		}
	}
	return true
}

// printable reports whether c may be part of a text run: printable ASCII,
// tab, and any byte of a UTF-8 multi-byte sequence.
func printable(c byte) bool {
	return c >= 0x20 && c != 0x7f || c == '\t'
}
