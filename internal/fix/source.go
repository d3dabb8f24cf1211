package fix

import (
	"bytes"
	"sort"
	"strings"
	"unicode"

	df "github.com/kensa-sec/kensa/internal/dockerfile"
	"mvdan.cc/sh/v3/syntax"
)

// src is the original Dockerfile bytes with the offset of every line, so
// edits can be placed on bytes of the text as written.
type src struct {
	data      []byte
	lineStart []int // lineStart[i] is the offset of line i+1
	esc       byte
}

func newSrc(data []byte, esc rune) *src {
	s := &src{data: data, esc: '\\'}
	if esc > 0 && esc < 0x80 {
		s.esc = byte(esc)
	}
	s.lineStart = append(s.lineStart, 0)
	for i, b := range data {
		if b == '\n' && i+1 < len(data) {
			s.lineStart = append(s.lineStart, i+1)
		}
	}
	return s
}

// lines is the number of lines.
func (s *src) lines() int { return len(s.lineStart) }

// line returns line n (1-based) without its line ending, and its offset.
func (s *src) line(n int) ([]byte, int) {
	if n < 1 || n > len(s.lineStart) {
		return nil, len(s.data)
	}
	start := s.lineStart[n-1]
	end := len(s.data)
	if n < len(s.lineStart) {
		end = s.lineStart[n]
	}
	return bytes.TrimRight(s.data[start:end], "\r\n"), start
}

// lineAt returns the 1-based line holding offset off.
func (s *src) lineAt(off int) int {
	return sort.Search(len(s.lineStart), func(i int) bool { return s.lineStart[i] > off })
}

// nextLineStart returns the offset just after line n (its line ending
// included), or len(data).
func (s *src) nextLineStart(n int) int {
	if n >= 1 && n < len(s.lineStart) {
		return s.lineStart[n]
	}
	return len(s.data)
}

// newline is the line ending the file uses (CRLF when its first line has one).
func (s *src) newline() string {
	if i := bytes.IndexByte(s.data, '\n'); i > 0 && s.data[i-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

// logicalLine is an instruction's text the way BuildKit joins it:
// continuation characters removed, comment and empty lines inside the
// continuation skipped. pos[i] is the source offset of text[i];
// pos[len(text)] is the offset just after the last byte.
type logicalLine struct {
	text     string
	pos      []int
	lastLine int // the last source line joined
}

// logical joins the instruction starting at line start.
func (s *src) logical(start int) logicalLine {
	var sb strings.Builder
	var pos []int
	add := func(b []byte, off int) {
		sb.Write(b)
		for i := range b {
			pos = append(pos, off+i)
		}
	}
	line, off := s.line(start)
	if start == 1 && bytes.HasPrefix(line, []byte("\ufeff")) {
		line, off = line[3:], off+3
	}
	trimmed := bytes.TrimLeftFunc(line, unicode.IsSpace)
	off += len(line) - len(trimmed)
	body, cont := s.trimContinuation(trimmed)
	add(body, off)
	endOff := off + len(body)
	n := start
	for cont && n < s.lines() {
		n++
		line, off = s.line(n)
		t := bytes.TrimLeftFunc(line, unicode.IsSpace)
		if len(t) == 0 || t[0] == '#' {
			continue
		}
		body, cont = s.trimContinuation(line)
		add(body, off)
		endOff = off + len(body)
	}
	pos = append(pos, endOff)
	return logicalLine{text: sb.String(), pos: pos, lastLine: n}
}

// trimContinuation removes a trailing escape character (followed only by
// blanks) as BuildKit's line-continuation regexp does.
func (s *src) trimContinuation(line []byte) ([]byte, bool) {
	t := bytes.TrimRight(line, " \t")
	if len(t) == 0 || t[len(t)-1] != s.esc {
		return line, false
	}
	if len(t) >= 2 && t[len(t)-2] == s.esc {
		return line, false
	}
	return t[:len(t)-1], true
}

// instr locates the parts of one instruction in the source.
type instr struct {
	in *df.Instruction
	ll logicalLine
	// kwStart/kwEnd are the offsets of the keyword (the wrapped
	// instruction's keyword for ONBUILD).
	kwStart, kwEnd int
	// rest is the text after the keyword and flags (what BuildKit keeps
	// as the instruction's arguments); restOff is its index in ll.text.
	rest    string
	restOff int
}

// off returns the source offset of byte i of rest (i may be len(rest)).
func (x *instr) off(i int) int { return x.ll.pos[x.restOff+i] }

// end returns the source offset just after rest[:i] (i > 0).
func (x *instr) end(i int) int {
	if i <= 0 {
		return x.off(0)
	}
	return x.ll.pos[x.restOff+i-1] + 1
}

func isBlank(b byte) bool { return b == ' ' || b == '\t' || b == '\v' || b == '\f' || b == '\r' }

// locate finds in's keyword, flags and arguments in the source. It returns
// nil when the text does not split as the model says (odd quoting in
// flags, escape tricks): such instructions are not edited.
func (s *src) locate(in *df.Instruction) *instr {
	if in.StartLine < 1 || in.StartLine > s.lines() {
		return nil
	}
	ll := s.logical(in.StartLine)
	t := ll.text
	i := 0
	word := func() (int, int) {
		for i < len(t) && isBlank(t[i]) {
			i++
		}
		a := i
		for i < len(t) && !isBlank(t[i]) {
			i++
		}
		return a, i
	}
	a, b := word()
	if !strings.EqualFold(t[a:b], in.Cmd) {
		return nil
	}
	target := in
	if in.OnBuild != nil {
		target = in.OnBuild
		a, b = word()
		if !strings.EqualFold(t[a:b], target.Cmd) {
			return nil
		}
	}
	x := &instr{in: in, ll: ll, kwStart: ll.pos[a], kwEnd: ll.pos[b-1] + 1}
	for {
		for i < len(t) && isBlank(t[i]) {
			i++
		}
		if !strings.HasPrefix(t[i:], "--") {
			break
		}
		j := i
		for j < len(t) && !isBlank(t[j]) {
			j++
		}
		w := t[i:j]
		if strings.ContainsAny(w, `"'`) || strings.IndexByte(w, s.esc) >= 0 {
			return nil
		}
		i = j
		if w == "--" {
			break
		}
	}
	for i < len(t) && isBlank(t[i]) {
		i++
	}
	restEnd := len(t)
	for restEnd > i && (isBlank(t[restEnd-1]) || t[restEnd-1] == '\n') {
		restEnd--
	}
	x.rest, x.restOff = t[i:restEnd], i
	if len(target.Flags) != countFlags(t[b:i]) {
		return nil
	}
	return x
}

// countFlags counts the --flag words (not a lone "--") in s.
func countFlags(s string) int {
	n := 0
	for _, w := range strings.Fields(s) {
		if strings.HasPrefix(w, "--") && w != "--" {
			n++
		}
	}
	return n
}

// shellArgs returns the shell text of a shell-form RUN/CMD/ENTRYPOINT as
// the model holds it.
func shellArgs(in *df.Instruction) string {
	if in.OnBuild != nil {
		in = in.OnBuild
	}
	return strings.Join(in.Args, " ")
}

// parseShell parses shell text with positions (mvdan.cc/sh, bash dialect,
// as the model does).
func parseShell(text string) (*syntax.File, error) {
	return syntax.NewParser(syntax.Variant(syntax.LangBash), syntax.KeepComments(true)).Parse(strings.NewReader(text), "")
}

// litWord returns a word's value when it is plain text (literals and
// quotes holding only literals), and whether it is.
func litWord(w *syntax.Word) (string, bool) {
	var sb strings.Builder
	for _, p := range w.Parts {
		switch x := p.(type) {
		case *syntax.Lit:
			if strings.ContainsAny(x.Value, `\`) {
				return "", false
			}
			sb.WriteString(x.Value)
		case *syntax.SglQuoted:
			if x.Dollar {
				return "", false
			}
			sb.WriteString(x.Value)
		case *syntax.DblQuoted:
			if x.Dollar {
				return "", false
			}
			for _, q := range x.Parts {
				l, ok := q.(*syntax.Lit)
				if !ok || strings.ContainsAny(l.Value, `\`) {
					return "", false
				}
				sb.WriteString(l.Value)
			}
		default:
			return "", false
		}
	}
	return sb.String(), true
}

// edit replaces data[start:end] with text.
type edit struct {
	start, end int
	text       string
}

// apply returns data with edits applied (edits must not overlap).
func apply(data []byte, edits []edit) []byte {
	es := append([]edit(nil), edits...)
	sort.SliceStable(es, func(i, j int) bool { return es[i].start < es[j].start })
	var out bytes.Buffer
	out.Grow(len(data) + 256)
	last := 0
	for _, e := range es {
		if e.start < last || e.end < e.start || e.end > len(data) {
			continue
		}
		out.Write(data[last:e.start])
		out.WriteString(e.text)
		last = e.end
	}
	out.Write(data[last:])
	return out.Bytes()
}

// lineShift returns how many lines edits add before old line n.
func lineShift(s *src, edits []edit, n int) int {
	if n < 1 || n > s.lines() {
		return 0
	}
	o := s.lineStart[n-1]
	d := 0
	for _, e := range edits {
		if e.end <= o {
			d += strings.Count(e.text, "\n") - bytes.Count(s.data[e.start:e.end], []byte("\n"))
		}
	}
	return d
}
