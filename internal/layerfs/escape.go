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
	// EscapeThroughLink is an entry written below a symlink that the same
	// layer created (Link is the symlink's path): an unpacker that follows
	// it writes wherever the symlink points, e.g. "etc -> /host/etc" then
	// "etc/passwd". Layers made by diffing a filesystem never hold one.
	EscapeThroughLink = "through-symlink"
)

// symlinkTracker remembers the symlinks a layer has created so far, to
// find entries written through them.
type symlinkTracker struct {
	links map[string]struct{}
}

// through returns the symlink of this layer that p (clean, absolute) lies
// below, if any, and records p when it is a symlink itself.
func (t *symlinkTracker) through(p string, typ EntryType) (string, bool) {
	var via string
	found := false
	if len(t.links) > 0 {
		for d := path.Dir(p); d != "/" && d != "."; d = path.Dir(d) {
			if _, ok := t.links[d]; ok {
				via, found = d, true
				break
			}
		}
	}
	switch {
	case typ == TypeSymlink && len(t.links) < maxTrackedLinks:
		if t.links == nil {
			t.links = map[string]struct{}{}
		}
		t.links[p] = struct{}{}
	case len(t.links) > 0:
		delete(t.links, p) // replaced by a folder or file later in the layer
	}
	return via, found
}

// maxTrackedLinks bounds the memory a layer of symlinks can cost the walk.
const maxTrackedLinks = 1 << 16

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
	if !strings.Contains(p, "..") {
		return false // the common case: no allocation, one scan
	}
	depth := 0
	for rest := p; rest != ""; {
		var c string
		c, rest, _ = strings.Cut(rest, "/")
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
