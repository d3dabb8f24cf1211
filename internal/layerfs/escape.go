package layerfs

import (
	"archive/tar"
	"path"
	"strings"
)

// Escape is a layer entry whose name or link target leaves the image root
// before the walk normalises it: an absolute name, a ".." that climbs
// above "/", or a hard or symbolic link whose target does. Container
// engines clamp such names, but a naive unpacker (tar -P, a hand-written
// extractor) writes outside its target folder: an image built that way is
// broken or an attack.
type Escape struct {
	// Name and Link are the raw tar header's name and link target, as
	// stored (the entry's Path in Entries is their normalised form).
	Name string `json:"name"`
	Link string `json:"link,omitempty"`
	// Kind says what escapes: "name" (the entry's own name), "hardlink"
	// or "symlink" (the link target).
	Kind string `json:"kind"`
}

// Escape kinds.
const (
	EscapeName     = "name"
	EscapeHardlink = "hardlink"
	EscapeSymlink  = "symlink"
)

// maxEscapes bounds the escapes recorded per layer: a hostile layer may
// hold millions, and a few name the problem.
const maxEscapes = 64

// escapeOf returns the escape hdr makes, if any. A name escapes when it is
// absolute or climbs above the root; a hard link's target is a name in the
// same archive (same test); a symlink's relative target is resolved from
// the link's folder, and an absolute symlink target is fine (it resolves
// inside the root at run time and in every careful unpacker).
func escapeOf(hdr *tar.Header) (Escape, bool) {
	if climbs(hdr.Name) {
		return Escape{Name: hdr.Name, Link: hdr.Linkname, Kind: EscapeName}, true
	}
	switch hdr.Typeflag {
	case tar.TypeLink:
		if climbs(hdr.Linkname) {
			return Escape{Name: hdr.Name, Link: hdr.Linkname, Kind: EscapeHardlink}, true
		}
	case tar.TypeSymlink:
		if t := hdr.Linkname; t != "" && !strings.HasPrefix(t, "/") {
			rel := t
			if dir := path.Dir(strings.TrimPrefix(strings.TrimSuffix(hdr.Name, "/"), "./")); dir != "." {
				rel = dir + "/" + t
			}
			if climbs(rel) {
				return Escape{Name: hdr.Name, Link: hdr.Linkname, Kind: EscapeSymlink}, true
			}
		}
	}
	return Escape{}, false
}

// climbs reports whether the archive name p is absolute or, read
// component by component from the root, goes above it.
func climbs(p string) bool {
	if strings.HasPrefix(p, "/") {
		return true
	}
	depth := 0
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "", ".":
		case "..":
			if depth--; depth < 0 {
				return true
			}
		default:
			depth++
		}
	}
	return false
}
