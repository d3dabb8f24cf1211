package manifest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"gopkg.in/yaml.v3"
)

// Limits bound what one manifest may cost. Zero fields take the defaults.
type Limits struct {
	// MaxDocumentBytes bounds one YAML document (default 8 MiB).
	MaxDocumentBytes int
	// MaxExpandedNodes bounds the nodes of one document once aliases are
	// expanded (default 1,000,000): a billion-laughs document is refused.
	MaxExpandedNodes int
	// MaxComposeBytes bounds a whole compose file (default 8 MiB).
	MaxComposeBytes int
}

// Default limits.
const (
	DefaultMaxDocumentBytes = 8 << 20
	DefaultMaxExpandedNodes = 1_000_000
	DefaultMaxComposeBytes  = 8 << 20
)

func (l Limits) withDefaults() Limits {
	if l.MaxDocumentBytes <= 0 {
		l.MaxDocumentBytes = DefaultMaxDocumentBytes
	}
	if l.MaxExpandedNodes <= 0 {
		l.MaxExpandedNodes = DefaultMaxExpandedNodes
	}
	if l.MaxComposeBytes <= 0 {
		l.MaxComposeBytes = DefaultMaxComposeBytes
	}
	return l
}

// Error is a manifest that cannot be read: not YAML, too large, a YAML bomb.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// document is one YAML document of a stream: its bytes and the line
// offset of its first line in the file (node line + Offset = file line).
type document struct {
	data   []byte
	offset int
}

// splitter cuts a YAML stream into documents at `---` and `...` lines,
// reading line by line so memory is bounded by the largest document.
type splitter struct {
	r      *bufio.Reader
	file   string
	max    int
	line   int // lines consumed so far
	buf    bytes.Buffer
	start  int  // line offset of buf's first line
	filled bool // buf holds more than comments, blanks and directives
	carry  []byte
	eof    bool
}

func newSplitter(r io.Reader, file string, max int) *splitter {
	return &splitter{r: bufio.NewReaderSize(r, 64<<10), file: file, max: max}
}

// readLine returns the next line including its newline; io.EOF at the end.
func (s *splitter) readLine() ([]byte, error) {
	var line []byte
	for {
		chunk, err := s.r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > s.max {
			return nil, &Error{File: s.file, Line: s.line + 1, Msg: fmt.Sprintf("line longer than the %d-byte document limit", s.max)}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			if len(line) > 0 && errors.Is(err, io.EOF) {
				return line, nil
			}
			return line, err
		}
		return line, nil
	}
}

func isMarker(line []byte, m string) bool {
	if !bytes.HasPrefix(line, []byte(m)) {
		return false
	}
	rest := line[len(m):]
	return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\n' || rest[0] == '\r'
}

// contentLine reports whether a line is more than blank, comment or directive.
func contentLine(line []byte) bool {
	t := bytes.TrimSpace(line)
	return len(t) > 0 && t[0] != '#' && t[0] != '%'
}

// next returns the next non-empty document, or io.EOF.
func (s *splitter) next() (document, error) {
	for {
		if s.eof {
			if s.filled {
				return s.flush(), nil
			}
			return document{}, io.EOF
		}
		var line []byte
		if s.carry != nil {
			line, s.carry = s.carry, nil
		} else {
			l, err := s.readLine()
			if errors.Is(err, io.EOF) {
				s.eof = true
				continue
			}
			if err != nil {
				var me *Error
				if errors.As(err, &me) {
					return document{}, err
				}
				return document{}, &Error{File: s.file, Line: s.line + 1, Msg: "read: " + err.Error()}
			}
			s.line++
			line = l
		}
		switch {
		case isMarker(line, "---"):
			if s.filled {
				s.carry = line
				return s.flush(), nil
			}
			// A document start after only comments/directives: same document.
			s.add(line)
			if contentLine(line[3:]) {
				s.filled = true
			}
		case isMarker(line, "..."):
			if s.filled {
				return s.flush(), nil
			}
			s.reset()
		default:
			s.add(line)
			if contentLine(line) {
				s.filled = true
			}
		}
		if s.buf.Len() > s.max {
			return document{}, &Error{File: s.file, Line: s.start + 1, Msg: fmt.Sprintf("YAML document larger than the %d MiB limit", s.max>>20)}
		}
	}
}

func (s *splitter) add(line []byte) {
	if s.buf.Len() == 0 {
		s.start = s.line - 1
	}
	s.buf.Write(line)
}

func (s *splitter) reset() {
	s.buf.Reset()
	s.filled = false
}

func (s *splitter) flush() document {
	d := document{data: bytes.Clone(s.buf.Bytes()), offset: s.start}
	s.reset()
	return d
}

// decode parses one document into a node tree and refuses alias bombs.
func decode(file string, d document, lim Limits) (*yaml.Node, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(d.data, &n); err != nil {
		return nil, &Error{File: file, Line: d.offset + errLine(err), Msg: "not valid YAML: " + stripLine(err)}
	}
	if n.Kind == 0 {
		return nil, nil
	}
	// Without a '*' there is no alias: the tree is no bigger than the
	// (size-bounded) document, and the expansion walk can be skipped.
	if bytes.IndexByte(d.data, '*') < 0 {
		return &n, nil
	}
	if err := checkExpansion(&n, lim.MaxExpandedNodes); err != nil {
		return nil, &Error{File: file, Line: d.offset + n.Line, Msg: err.Error()}
	}
	return &n, nil
}

// checkExpansion counts the nodes of n with aliases expanded (memoized, so
// linear in the tree) and fails when they exceed max.
func checkExpansion(root *yaml.Node, max int) error {
	memo := map[*yaml.Node]int{}
	var size func(n *yaml.Node, depth int) (int, error)
	size = func(n *yaml.Node, depth int) (int, error) {
		if depth > 10_000 {
			return 0, errors.New("YAML nesting deeper than 10000 levels")
		}
		if v, ok := memo[n]; ok {
			if v < 0 {
				return 0, errors.New("YAML alias refers to itself")
			}
			return v, nil
		}
		memo[n] = -1
		total := 1
		kids := n.Content
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			kids = []*yaml.Node{n.Alias}
		}
		for _, c := range kids {
			v, err := size(c, depth+1)
			if err != nil {
				return 0, err
			}
			total += v
			if total > max {
				return 0, fmt.Errorf("YAML expands to more than %d nodes through aliases (a YAML bomb?): refused", max)
			}
		}
		memo[n] = total
		return total, nil
	}
	_, err := size(root, 0)
	return err
}
