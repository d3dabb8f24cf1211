package layerfs

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// The layer cache's file format. Entries dominate a layer's facts (a
// layer can hold hundreds of thousands) and decoding them as JSON was the
// hot path of a warm rescan, so they are stored as a compact column-free
// binary list instead: the packed Entries as they are in memory, in path
// order (ComparePaths), each path prefix-compressed:
//
//	magic "kensa-layer\x00" + format byte
//	uvarint len(meta) + meta   (JSON of LayerFacts without Entries)
//	uvarint n                  (entry count)
//	n × entry:
//	  uvarint shared           (bytes shared with the previous path)
//	  uvarint len(suffix) + suffix
//	  byte type, byte flags    (1 whiteout, 2 opaque, 4 has linkname)
//	  uvarint mode, uvarint size, varint uid, varint gid
//	  [uvarint len(linkname) + linkname]
//
// Decoding checks every length against the bytes left, so a corrupt or
// truncated file is an error (a cache miss), never a panic or a huge
// allocation.
const cacheMagic = "kensa-layer\x00"

const (
	flagWhiteout = 1 << iota
	flagOpaque
	flagLink
)

// errCorrupt marks a cache file that does not decode.
var errCorrupt = errors.New("corrupt layer cache entry")

// encodeFacts serializes f in the layer cache format.
func encodeFacts(f *LayerFacts) ([]byte, error) {
	mb, err := json.Marshal(f) // without Entries (json:"-")
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(cacheMagic)+1+len(mb)+len(f.Entries.data)+2*binary.MaxVarintLen64)
	b = append(b, cacheMagic...)
	b = append(b, cacheFormat)
	b = binary.AppendUvarint(b, uint64(len(mb)))
	b = append(b, mb...)
	b = binary.AppendUvarint(b, uint64(f.Entries.n))
	return append(b, f.Entries.data...), nil
}

// decoder reads the layer cache format, failing on any overrun.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s", errCorrupt, what)
	}
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes returns the next n bytes (n checked against what is left).
func (d *decoder) bytes(n uint64, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(what)
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) byte(what string) byte {
	b := d.bytes(1, what)
	if b == nil {
		return 0
	}
	return b[0]
}

// decodeFacts parses a layer cache file written by encodeFacts.
func decodeFacts(b []byte) (*LayerFacts, error) {
	if len(b) < len(cacheMagic)+1 || string(b[:len(cacheMagic)]) != cacheMagic {
		return nil, fmt.Errorf("%w: no magic", errCorrupt)
	}
	if b[len(cacheMagic)] != cacheFormat {
		return nil, fmt.Errorf("%w: format %d, want %d", errCorrupt, b[len(cacheMagic)], cacheFormat)
	}
	d := &decoder{b: b[len(cacheMagic)+1:]}
	mb := d.bytes(d.uvarint("meta length"), "meta")
	if d.err != nil {
		return nil, d.err
	}
	var f LayerFacts
	if err := json.Unmarshal(mb, &f); err != nil {
		return nil, fmt.Errorf("%w: meta: %v", errCorrupt, err)
	}
	n := d.uvarint("entry count")
	// Every entry takes at least 8 bytes: never believe in more.
	if d.err != nil || n > uint64(len(d.b))/8 {
		d.fail("entry count")
		return nil, d.err
	}
	if err := checkEntries(d.b, n, maxExpansion(len(b))); err != nil {
		return nil, err
	}
	if n > 0 {
		f.Entries = Entries{data: d.b, n: int(n)}
	}
	return &f, nil
}

// maxExpansion bounds the text a cache file of size n may decode to:
// prefix sharing lets a small file describe huge paths, while real layers
// expand about 4-15 times.
func maxExpansion(n int) int {
	return min(64*n+1<<20, math.MaxInt32)
}

// rawEntry is one encoded entry, its path still split into the length
// shared with the previous path and the suffix.
type rawEntry struct {
	shared       uint64
	suffix, link []byte
	typ, flags   byte
	mode, size   uint64
	uid, gid     int64
}

// entry reads the next encoded entry.
func (d *decoder) entry() rawEntry {
	var r rawEntry
	r.shared = d.uvarint("shared prefix")
	r.suffix = d.bytes(d.uvarint("path length"), "path")
	d.fields(&r)
	return r
}

// fields reads an entry's fields after its path.
func (d *decoder) fields(r *rawEntry) {
	r.link = nil
	r.typ, r.flags = d.byte("type"), d.byte("flags")
	r.mode = d.uvarint("mode")
	r.size = d.uvarint("size")
	r.uid, r.gid = d.varint("uid"), d.varint("gid")
	if r.flags&flagLink != 0 {
		r.link = d.bytes(d.uvarint("linkname length"), "linkname")
	}
}

// checkEntries checks that b holds exactly n well-formed entries in
// strictly increasing path order (ComparePaths) whose paths and link
// names come to at most limit bytes, so the packed entries can be decoded
// later without checks.
func checkEntries(b []byte, n uint64, limit int) error {
	d := &decoder{b: b}
	var prev, cur []byte
	total := 0
	for k := range n {
		r := d.entry()
		if d.err != nil {
			return d.err
		}
		if r.shared > uint64(len(prev)) {
			return fmt.Errorf("%w: bad shared prefix", errCorrupt)
		}
		if r.typ > byte(TypeOther) || r.flags&^(flagWhiteout|flagOpaque|flagLink) != 0 || r.mode > math.MaxUint32 ||
			r.size > math.MaxInt64 || r.uid < math.MinInt32 || r.uid > math.MaxInt32 || r.gid < math.MinInt32 || r.gid > math.MaxInt32 ||
			r.flags&flagLink != 0 && len(r.link) == 0 {
			return fmt.Errorf("%w: bad entry fields", errCorrupt)
		}
		cur = append(cur[:0], prev[:r.shared]...)
		cur = append(cur, r.suffix...)
		if len(cur) == 0 || cur[0] != '/' {
			return fmt.Errorf("%w: relative path %q", errCorrupt, cur)
		}
		if k > 0 && ComparePaths(prev, cur) >= 0 {
			return fmt.Errorf("%w: paths out of order at %q", errCorrupt, cur)
		}
		total += len(cur) + len(r.link)
		if total > limit {
			return fmt.Errorf("%w: paths expand to more than %d bytes", errCorrupt, limit)
		}
		prev, cur = cur, prev
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(d.b))
	}
	return nil
}
