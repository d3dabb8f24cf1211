package gobin

import (
	"bytes"
	"encoding/binary"
)

// mayHaveELFSection reports whether the ELF file content may have a
// section named name, read from the section-name string table without
// parsing the file (debug/elf builds every section and program header):
// an image holds hundreds of non-Go executables and libraries, and this
// lets Extract skip them for a few hundred bytes each. It answers true
// whenever the headers cannot be read, so the full parse decides.
func mayHaveELFSection(content []byte, name string) bool {
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
	for s := range nulSeparated(content[nameOff : nameOff+nameSize]) {
		if string(s) == name {
			return true
		}
	}
	return false
}
