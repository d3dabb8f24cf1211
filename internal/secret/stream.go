package secret

import (
	"bytes"
	"sync"
)

// Stream sizes: a stream scans its content in pieces of streamPiece bytes,
// each with streamOverlap bytes of the content before and after it.
const (
	streamPiece = 1 << 20
	// streamOverlap must cover the widest window a detector opens around
	// a keyword hit plus the longest secret: a match is only taken from a
	// piece when its whole window lies inside that piece. The widest is
	// the private-key window (32 KiB after the keyword), GCP's 8 KiB
	// before it.
	streamOverlap = 64 << 10
)

// A Stream scans content that arrives in pieces (a file too large to hold
// whole) with bounded memory: about one piece plus the overlap, whatever
// the content's size. Feed it with Write and collect the matches with
// Close.
//
// Each piece is scanned together with the bytes around it, and a match is
// taken from the scan whose piece holds its start (its whole window then
// lies in the scanned bytes), so a
// secret that straddles a piece boundary is found exactly once, at its
// offset in the whole content and on its line. The results equal Scan's
// over the whole content, except where keyword hits chain one window into
// the next across more than the overlap (a line thick with keywords for
// over 64 KiB): there the chain is cut at the piece boundary.
type Stream struct {
	s            *scanner
	piece, over  int
	buf          []byte
	base         int // offset of buf[0] in the content
	line         int // line of buf[0] (1-based)
	done         int // matches starting before this offset are settled
	matches      []Match
	count, limit int
}

// NewStream returns a stream that keeps at most limit matches (all when
// limit <= 0) and counts the rest (see Count).
func NewStream(limit int) *Stream {
	return newStream(defaultScanner(), streamPiece, streamOverlap, limit)
}

func newStream(s *scanner, piece, over, limit int) *Stream {
	return &Stream{s: s, piece: piece, over: over, line: 1, limit: limit}
}

// Write adds the next bytes of the content. p is not kept.
func (st *Stream) Write(p []byte) {
	for len(p) > 0 {
		if st.buf == nil {
			st.buf = st.getBuf()
		}
		n := min(len(p), cap(st.buf)-len(st.buf))
		st.buf = append(st.buf, p[:n]...)
		p = p[n:]
		if len(st.buf) == cap(st.buf) {
			st.flush(false)
		}
	}
}

// Close scans what is left and returns the matches, ordered by position,
// with Start, End and Line relative to the whole content.
func (st *Stream) Close() []Match {
	st.flush(true)
	if b := st.buf; cap(b) == streamPiece+2*streamOverlap {
		streamBufs.Put(&b)
	}
	st.buf = nil
	return st.matches
}

// streamBufs recycles the buffers of default-sized streams: a layer of
// large files reuses one instead of allocating one per file.
var streamBufs sync.Pool

func (st *Stream) getBuf() []byte {
	n := st.piece + 2*st.over
	if n == streamPiece+2*streamOverlap {
		if b, ok := streamBufs.Get().(*[]byte); ok {
			return (*b)[:0]
		}
	}
	return make([]byte, 0, n)
}

// Count is the number of matches found, including those beyond the limit.
func (st *Stream) Count() int { return st.count }

// flush scans buf and takes the matches starting in [done, cut): every
// such match has at least overlap bytes of buf on either side (or the
// content's start or end). The next buffer starts overlap bytes before
// cut, so it holds the left context of the matches it takes.
func (st *Stream) flush(final bool) {
	b := st.buf
	cut := len(b) // matches starting at or past cut wait for the next buffer
	if !final {
		cut = len(b) - st.over
	}
	for _, m := range st.s.scan(b) {
		if m.Start >= cut {
			break
		}
		if st.base+m.Start < st.done {
			continue
		}
		st.count++
		if st.limit > 0 && len(st.matches) >= st.limit {
			continue
		}
		m.Line += st.line - 1
		m.Start += st.base
		m.End += st.base
		st.matches = append(st.matches, m)
	}
	if final {
		return
	}
	keep := cut - st.over
	st.done = st.base + cut
	st.line += bytes.Count(b[:keep], []byte{'\n'})
	st.base += keep
	st.buf = append(b[:0], b[keep:]...)
}
