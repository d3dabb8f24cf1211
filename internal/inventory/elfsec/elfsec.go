// Package elfsec answers, from an ELF file's section-name string table
// alone, whether the file may hold a section: the extractors that look
// for one section (Go's .go.buildinfo, cargo-auditable's .dep-v0) skip
// the hundreds of other executables and libraries of an image for a few
// hundred bytes each instead of a full debug/elf parse.
package elfsec

import (
	"bytes"
	"encoding/binary"
)

// MayHave reports whether the ELF file content may have a section named
// name, read from the section-name string table without parsing the file
// (debug/elf builds every section and program header). It answers true
// whenever the headers cannot be read (or content is no ELF file), so the
// full parse decides.
func MayHave(content []byte, name string) bool {
	if len(content) < 0x40 || !bytes.HasPrefix(content, []byte("\x7fELF")) {
		return true
	}
	var bo binary.ByteOrder
	switch content[5] {
	case 1:
		bo = binary.LittleEndian
	case 2:
		bo = binary.BigEndian
	default:
		return true
	}
	var shoff, entsize, strndx, nameOff, nameSize uint64
	switch content[4] {
	case 2: // ELF64
		shoff = bo.Uint64(content[0x28:])
		entsize = uint64(bo.Uint16(content[0x3a:]))
		strndx = uint64(bo.Uint16(content[0x3e:]))
		hdr := shoff + strndx*entsize
		if entsize < 0x28 || hdr < shoff || hdr+0x28 > uint64(len(content)) {
			return true
		}
		nameOff, nameSize = bo.Uint64(content[hdr+0x18:]), bo.Uint64(content[hdr+0x20:])
	case 1: // ELF32
		shoff = uint64(bo.Uint32(content[0x20:]))
		entsize = uint64(bo.Uint16(content[0x2e:]))
		strndx = uint64(bo.Uint16(content[0x32:]))
		hdr := shoff + strndx*entsize
		if entsize < 0x18 || hdr < shoff || hdr+0x18 > uint64(len(content)) {
			return true
		}
		nameOff, nameSize = uint64(bo.Uint32(content[hdr+0x10:])), uint64(bo.Uint32(content[hdr+0x14:]))
	default:
		return true
	}
	if shoff == 0 || strndx == 0 || nameOff > uint64(len(content)) || nameSize > uint64(len(content))-nameOff {
		return true
	}
	for s := range CStrings(content[nameOff : nameOff+nameSize]) {
		if string(s) == name {
			return true
		}
	}
	return false
}

// CStrings yields the non-empty NUL-terminated strings of b.
func CStrings(b []byte) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			s := b
			if i := bytes.IndexByte(b, 0); i >= 0 {
				s, b = b[:i], b[i+1:]
			} else {
				b = nil
			}
			if len(s) > 0 && !yield(s) {
				return
			}
		}
	}
}
