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
	f.Entries = make([]Entry, 0, n)
	prev := ""
	var sb strings.Builder
	for range n {
		shared := d.uvarint("shared prefix")
		suffix := d.bytes(d.uvarint("path length"), "path")
		if d.err == nil && shared > uint64(len(prev)) {
			d.fail("shared prefix")
		}
		typ, flags := d.byte("type"), d.byte("flags")
		mode := d.uvarint("mode")
		size := d.uvarint("size")
		uid, gid := d.varint("uid"), d.varint("gid")
		var link []byte
		if flags&flagLink != 0 {
			link = d.bytes(d.uvarint("linkname length"), "linkname")
		}
		if d.err != nil {
			return nil, d.err
		}
		if typ > byte(TypeOther) || flags&^(flagWhiteout|flagOpaque|flagLink) != 0 || mode > math.MaxUint32 ||
			size > math.MaxInt64 || uid < math.MinInt32 || uid > math.MaxInt32 || gid < math.MinInt32 || gid > math.MaxInt32 {
			return nil, fmt.Errorf("%w: bad entry fields", errCorrupt)
		}
		sb.Reset()
		sb.Grow(int(shared) + len(suffix))
		sb.WriteString(prev[:shared])
		sb.Write(suffix)
		p := sb.String()
		if !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("%w: relative path %q", errCorrupt, p)
		}
		f.Entries = append(f.Entries, Entry{
			Path: p, Type: EntryType(typ), Mode: fs.FileMode(mode), Size: int64(size),
			UID: int32(uid), GID: int32(gid), Linkname: string(link),
			Whiteout: flags&flagWhiteout != 0, Opaque: flags&flagOpaque != 0,
		})
		prev = p
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(d.b))
	}
	return &f, nil
}
