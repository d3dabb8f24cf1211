package layerfs

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strings"
)

// The layer cache's file format. Entries dominate a layer's facts (a
// layer can hold hundreds of thousands) and decoding them as JSON was the
// hot path of a warm rescan, so they are stored as a compact column-free
// binary list instead, paths prefix-compressed (the walk sorts them):
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
	meta := *f
	meta.Entries = nil
	mb, err := json.Marshal(&meta)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(cacheMagic)+1+len(mb)+len(f.Entries)*24)
	b = append(b, cacheMagic...)
	b = append(b, cacheFormat)
	b = binary.AppendUvarint(b, uint64(len(mb)))
	b = append(b, mb...)
	b = binary.AppendUvarint(b, uint64(len(f.Entries)))
	prev := ""
	for _, e := range f.Entries {
		shared := 0
		for shared < len(prev) && shared < len(e.Path) && prev[shared] == e.Path[shared] {
			shared++
		}
		b = binary.AppendUvarint(b, uint64(shared))
		b = binary.AppendUvarint(b, uint64(len(e.Path)-shared))
		b = append(b, e.Path[shared:]...)
		var flags byte
		if e.Whiteout {
			flags |= flagWhiteout
		}
		if e.Opaque {
			flags |= flagOpaque
		}
		if e.Linkname != "" {
			flags |= flagLink
		}
		b = append(b, byte(e.Type), flags)
		b = binary.AppendUvarint(b, uint64(e.Mode))
		b = binary.AppendUvarint(b, uint64(max(e.Size, 0)))
		b = binary.AppendVarint(b, int64(e.UID))
		b = binary.AppendVarint(b, int64(e.GID))
		if e.Linkname != "" {
			b = binary.AppendUvarint(b, uint64(len(e.Linkname)))
			b = append(b, e.Linkname...)
		}
		prev = e.Path
	}
	return b, nil
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
	// Every entry takes at least 8 bytes: never allocate for more.
	if d.err != nil || n > uint64(len(d.b))/8 {
		d.fail("entry count")
		return nil, d.err
	}
	// Paths and link names become substrings of one string per layer: a
	// heap object per path would round each up to its size class (a
	// 33-byte path takes 48 bytes). Two passes over the entries: check
	// them and size the text, then write the text and the other fields.
	entries := d.b
	total, err := scanEntries(entries, n, maxExpansion(len(b)), nil, nil, nil)
	if err != nil {
		return nil, err
	}
	var text strings.Builder
	text.Grow(total)
	f.Entries = make([]Entry, n)
	lens := make([]uint32, 2*n) // each entry's path and link name lengths
	if _, err := scanEntries(entries, n, total, &text, f.Entries, lens); err != nil {
		return nil, err
	}
	all := text.String()
	off := 0
	for k := range f.Entries {
		e := &f.Entries[k]
		pl, ll := int(lens[2*k]), int(lens[2*k+1])
		e.Path = all[off : off+pl]
		off += pl
		if ll > 0 {
			e.Linkname = all[off : off+ll]
			off += ll
		}
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
	r.typ, r.flags = d.byte("type"), d.byte("flags")
	r.mode = d.uvarint("mode")
	r.size = d.uvarint("size")
	r.uid, r.gid = d.varint("uid"), d.varint("gid")
	if r.flags&flagLink != 0 {
		r.link = d.bytes(d.uvarint("linkname length"), "linkname")
	}
	return r
}

// scanEntries reads n entries from b, checking each, and returns the
// bytes their paths and link names take (at most limit). With text set it
// also writes those bytes to text, their lengths to lens (two per entry)
// and the other fields to out.
func scanEntries(b []byte, n uint64, limit int, text *strings.Builder, out []Entry, lens []uint32) (int, error) {
	d := &decoder{b: b}
	var prev []byte // the previous path
	total := 0
	for k := range n {
		r := d.entry()
		if d.err != nil {
			return 0, d.err
		}
		if r.shared > uint64(len(prev)) {
			return 0, fmt.Errorf("%w: bad shared prefix", errCorrupt)
		}
		if r.typ > byte(TypeOther) || r.flags&^(flagWhiteout|flagOpaque|flagLink) != 0 || r.mode > math.MaxUint32 ||
			r.size > math.MaxInt64 || r.uid < math.MinInt32 || r.uid > math.MaxInt32 || r.gid < math.MinInt32 || r.gid > math.MaxInt32 {
			return 0, fmt.Errorf("%w: bad entry fields", errCorrupt)
		}
		prev = append(prev[:r.shared], r.suffix...)
		if len(prev) == 0 || prev[0] != '/' {
			return 0, fmt.Errorf("%w: relative path %q", errCorrupt, prev)
		}
		total += len(prev) + len(r.link)
		if total > limit {
			return 0, fmt.Errorf("%w: paths expand to more than %d bytes", errCorrupt, limit)
		}
		if text == nil {
			continue
		}
		text.Write(prev)
		text.Write(r.link)
		lens[2*k], lens[2*k+1] = uint32(len(prev)), uint32(len(r.link))
		out[k] = Entry{
			Type: EntryType(r.typ), Mode: fs.FileMode(r.mode), Size: int64(r.size),
			UID: int32(r.uid), GID: int32(r.gid),
			Whiteout: r.flags&flagWhiteout != 0, Opaque: r.flags&flagOpaque != 0,
		}
	}
	if len(d.b) != 0 {
		return 0, fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(d.b))
	}
	return total, nil
}
