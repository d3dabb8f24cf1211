package layerfs

import (
	"encoding/binary"
	"io/fs"
	"iter"
	"slices"
)

// ComparePaths orders paths as a depth-first walk of the tree visits them:
// byte by byte, except that '/' sorts before every other byte, so a
// folder's whole subtree follows the folder at once ("/a", "/a/b",
// "/a-b"; plain string order puts "/a-b" between "/a" and "/a/b"). Layer
// entries and the merged view are kept in this order.
func ComparePaths[A, B ~string | ~[]byte](a A, b B) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		switch {
		case x == '/':
			return -1
		case y == '/':
			return 1
		case x < y:
			return -1
		default:
			return 1
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

// Entries is one layer's entries, unique and in path order (ComparePaths),
// packed into bytes: an entry costs about 12-20 bytes instead of a 56-byte
// Entry plus its path string, which is what lets an image of millions of
// paths be scanned in little memory. The encoding is the layer cache's
// (see cachecodec.go): each path is stored as the length it shares with
// the previous one plus the rest.
type Entries struct {
	data []byte
	n    int
}

// PackEntries packs es in path order, keeping the last entry of a
// repeated path (see entryPacker).
func PackEntries(es []Entry) Entries {
	var p entryPacker
	for _, e := range es {
		p.add(e)
	}
	return p.finish()
}

// entryPacker packs entries as a walk reads them, whatever their order,
// without holding them unpacked. Layer tars are almost always written in
// path order (a depth-first walk of a folder, names sorted, is exactly
// ComparePaths order), so entries are appended to a packed run while each
// path follows the one before; an entry out of order (or repeated) starts
// a new run. Runs are merged as they pile up, keeping each at least twice
// the size of the next (as Timsort does), so a hostile order (a reversed
// tar: a run per entry) costs O(log n) runs and O(n log n) merging, and
// finish merges what is left.
type entryPacker struct {
	runs   []Entries
	cur    []byte
	n      int
	prev   string
	merged bool // some run came from a merge (may carry flagReal)
}

// Flags used inside the packer only, so that merging merged runs again
// gives what one merge of everything would: flagReal marks an entry that
// stands for a real tar entry although it carries the opaque flag (a
// folder an opaque marker lent it to), so it is not taken for a marker;
// flagSawOpaque marks an entry that won over an opaque marker of its
// path, whose flag a later folder entry must still get. finish clears
// both.
const (
	flagReal = 1 << (3 + iota)
	flagSawOpaque
)

func (p *entryPacker) add(e Entry) {
	if p.n > 0 && ComparePaths(p.prev, e.Path) >= 0 {
		p.cut()
	}
	r := e.raw()
	p.cur = appendFields(appendPath(p.cur, p.prev, e.Path), &r)
	p.n++
	p.prev = e.Path
}

// cut ends the current run, then merges runs while the one below the top
// is not more than twice the top's size.
func (p *entryPacker) cut() {
	if p.n == 0 {
		return
	}
	b := p.cur
	if cap(b)-len(b) > len(b)/8 {
		b = slices.Clone(b) // drop append's slack
	}
	p.runs = append(p.runs, Entries{data: b, n: p.n})
	p.cur, p.n, p.prev = nil, 0, ""
	for k := len(p.runs); k >= 2 && p.runs[k-2].n <= 2*p.runs[k-1].n; k-- {
		p.runs[k-2] = mergeRuns(p.runs[k-2:], true)
		p.runs = p.runs[:k-1]
		p.merged = true
	}
}

// finish returns the packed entries, the runs merged path by path. Of a
// repeated path the last entry wins, as on extraction, except that an
// opaque marker (a ".wh..wh..opq" entry) only lends its flag to the
// folder's own entry.
func (p *entryPacker) finish() Entries {
	p.cut()
	switch {
	case len(p.runs) == 0:
		return Entries{}
	case len(p.runs) == 1 && !p.merged:
		return p.runs[0]
	}
	out := mergeRuns(p.runs, false)
	p.runs = nil
	return out
}

// mergeRuns merges runs (later runs were read later), applying finish's
// rule to repeated paths; keepReal keeps flagReal for a further merge.
func mergeRuns(runs []Entries, keepReal bool) Entries {
	total := 0
	for _, r := range runs {
		total += len(r.data)
	}
	out := make([]byte, 0, total)
	var prev []byte
	n := 0
	marker := func(r *rawEntry) bool { return r.flags&flagOpaque != 0 && r.flags&flagReal == 0 }
	mergeSorted(runs, func(path []byte, group []layerEntry) {
		last := group[len(group)-1].raw
		opaque := false
		for _, e := range group {
			opaque = opaque || e.raw.flags&(flagOpaque|flagSawOpaque) != 0
		}
		for k := len(group) - 1; k >= 0; k-- {
			if !marker(&group[k].raw) {
				last = group[k].raw
				break
			}
		}
		if last.typ == byte(TypeDir) && last.flags&flagWhiteout == 0 && !marker(&last) {
			last.flags &^= flagOpaque
			if opaque {
				last.flags |= flagOpaque | flagReal
			}
		}
		last.flags &^= flagSawOpaque
		if opaque && keepReal && last.flags&flagOpaque == 0 {
			last.flags |= flagSawOpaque
		}
		if !keepReal {
			last.flags &^= flagReal
		}
		out = appendFields(appendPath(out, prev, path), &last)
		prev = append(prev[:0], path...)
		n++
	})
	if cap(out)-len(out) > len(out)/8 {
		out = slices.Clone(out)
	}
	return Entries{data: out, n: n}
}

// layerCursor walks one list of packed entries (a layer's, or a run's)
// in mergeSorted; layer is the list's index.
type layerCursor struct {
	entryCursor
	layer int
}

// layerEntry is one list's entry at the path being merged.
type layerEntry struct {
	layer int
	raw   rawEntry
}

// mergeSorted walks lists of packed entries, each in path order, together:
// fn gets every distinct path once, in order, with the lists' entries for
// it in list order. Both are only valid during the call (raw.link points
// into the lists' bytes).
func mergeSorted(lists []Entries, fn func(path []byte, group []layerEntry)) {
	var h cursorHeap
	for i, l := range lists {
		c := &layerCursor{entryCursor: entryCursor{d: decoder{b: l.data}, left: l.n}, layer: i}
		if c.next() {
			h = append(h, c)
		}
	}
	h.init()
	var (
		path  []byte
		group []layerEntry
	)
	for len(h) > 0 {
		path = append(path[:0], h[0].path...)
		group = group[:0]
		for len(h) > 0 && string(h[0].path) == string(path) {
			group = append(group, layerEntry{layer: h[0].layer, raw: h[0].raw})
			h.advance()
		}
		fn(path, group)
	}
}

// regularFiles counts the regular files (whiteouts aside) without
// decoding paths into strings.
func (es Entries) regularFiles() int {
	c := entryCursor{d: decoder{b: es.data}, left: es.n}
	n := 0
	for c.next() {
		if c.raw.typ == byte(TypeFile) && c.raw.flags&flagWhiteout == 0 {
			n++
		}
	}
	return n
}

// cursorHeap is a min-heap of layer cursors by (path, layer).
type cursorHeap []*layerCursor

func (h cursorHeap) less(a, b int) bool {
	c := ComparePaths(h[a].path, h[b].path)
	return c < 0 || c == 0 && h[a].layer < h[b].layer
}

func (h cursorHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h cursorHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		if r := l + 1; r < len(h) && h.less(r, l) {
			l = r
		}
		if !h.less(l, i) {
			return
		}
		h[i], h[l] = h[l], h[i]
		i = l
	}
}

// advance moves the smallest cursor to its next entry, dropping it when
// it is done.
func (h *cursorHeap) advance() {
	s := *h
	if !s[0].next() {
		s[0] = s[len(s)-1]
		s = s[:len(s)-1]
		*h = s
	}
	s.down(0)
}

// appendPath encodes path p after prev: the length they share, then the
// rest.
func appendPath[A, B ~string | ~[]byte](b []byte, prev A, p B) []byte {
	shared := 0
	for shared < len(prev) && shared < len(p) && prev[shared] == p[shared] {
		shared++
	}
	b = binary.AppendUvarint(b, uint64(shared))
	b = binary.AppendUvarint(b, uint64(len(p)-shared))
	return append(b, p[shared:]...)
}

// appendFields encodes an entry's fields after its path.
func appendFields(b []byte, r *rawEntry) []byte {
	flags := r.flags &^ flagLink
	if len(r.link) > 0 {
		flags |= flagLink
	}
	b = append(b, r.typ, flags)
	b = binary.AppendUvarint(b, r.mode)
	b = binary.AppendUvarint(b, r.size)
	b = binary.AppendVarint(b, r.uid)
	b = binary.AppendVarint(b, r.gid)
	if len(r.link) > 0 {
		b = binary.AppendUvarint(b, uint64(len(r.link)))
		b = append(b, r.link...)
	}
	return b
}

// raw returns e's fields in their encoded form (link shares e's bytes
// only for the length of the call that encodes it).
func (e *Entry) raw() rawEntry {
	r := rawEntry{typ: byte(e.Type), mode: uint64(e.Mode), size: uint64(max(e.Size, 0)), uid: int64(e.UID), gid: int64(e.GID)}
	if e.Whiteout {
		r.flags |= flagWhiteout
	}
	if e.Opaque {
		r.flags |= flagOpaque
	}
	if e.Linkname != "" {
		r.link = []byte(e.Linkname)
	}
	return r
}

// Len returns the number of entries.
func (es Entries) Len() int { return es.n }

// All yields the entries in path order. Each Entry's strings are its own.
func (es Entries) All() iter.Seq[Entry] {
	return func(yield func(Entry) bool) {
		c := entryCursor{d: decoder{b: es.data}, left: es.n}
		for c.next() {
			e := c.raw.entry(string(c.path))
			if !yield(e) {
				return
			}
		}
	}
}

// Slice returns the entries as a slice, in path order.
func (es Entries) Slice() []Entry {
	out := make([]Entry, 0, es.n)
	for e := range es.All() {
		out = append(out, e)
	}
	return out
}

// entryCursor decodes packed entries one at a time without allocating:
// path and raw (whose link points into the packed bytes) hold the
// current entry after next returns true. Packed entries were checked when
// made (PackEntries) or read (decodeFacts), so decoding cannot fail.
type entryCursor struct {
	d    decoder
	left int
	path []byte
	raw  rawEntry
}

func (c *entryCursor) next() bool {
	if c.left == 0 {
		return false
	}
	c.left--
	c.raw = c.d.entry()
	c.path = append(c.path[:min(int(c.raw.shared), len(c.path))], c.raw.suffix...)
	return c.d.err == nil
}

// entry returns the decoded entry at path p.
func (r *rawEntry) entry(p string) Entry {
	e := Entry{
		Path: p, Type: EntryType(r.typ), Mode: fs.FileMode(r.mode), Size: int64(r.size),
		UID: int32(r.uid), GID: int32(r.gid),
		Whiteout: r.flags&flagWhiteout != 0, Opaque: r.flags&flagOpaque != 0,
	}
	if len(r.link) > 0 {
		e.Linkname = string(r.link)
	}
	return e
}
