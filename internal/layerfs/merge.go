package layerfs

import (
	"encoding/binary"
	"iter"
	"path"
	"slices"
	"strings"
)

// ChangeKind says what a layer did to a path.
type ChangeKind uint8

// Change kinds.
const (
	Added    ChangeKind = iota // path did not exist in the layers below
	Modified                   // path existed below and this layer rewrote it
	Deleted                    // a whiteout (or opaque directory) removed it
)

func (k ChangeKind) String() string {
	return [...]string{"added", "modified", "deleted"}[k]
}

// Change is one layer's effect on a path (16 bytes: an image holds about
// one per path).
type Change struct {
	Size  int64      `json:"size"` // bytes the layer wrote (0 for deletions)
	Layer int32      `json:"layer"`
	Kind  ChangeKind `json:"kind"`
}

// FileState is a path in the merged view: its final entry and the layer
// that wrote it last.
type FileState struct {
	Entry
	Layer int
}

// Image is the merged view of an image's layers.
//
// It is packed like the layers' Entries: one record per path that any
// layer wrote, in path order (ComparePaths), each holding the path
// (prefix-compressed), the path's final entry (if it is in the final
// filesystem) and its history:
//
//	uvarint shared, uvarint len(suffix), suffix
//	varint final layer (-1: deleted by a later layer)
//	[the final entry's fields, as in cachecodec.go, when final >= 0]
//	uvarint n, n × (uvarint layer, byte kind, uvarint size)
//
// That is 20-30 bytes a path; the view copies what it needs, so the
// layers' entries can be dropped once it is built. Every restartEvery-th
// record stores its whole path, for the binary search of File.
type Image struct {
	Layers   []*LayerFacts
	data     []byte
	restarts []int
	n        int
	present  int
}

const restartEvery = 16

// record is one decoded record of the merged view. path and raw.link
// point into reused or packed bytes: copy them to keep them.
type record struct {
	path    []byte
	layer   int // final layer, -1 when deleted
	raw     rawEntry
	changes []Change
}

// recordCursor decodes the merged view's records in order.
type recordCursor struct {
	d    decoder
	left int
	rec  record
}

func (im *Image) cursor(from, n int) *recordCursor {
	return &recordCursor{d: decoder{b: im.data[from:]}, left: n}
}

func (c *recordCursor) next() bool {
	if c.left == 0 {
		return false
	}
	c.left--
	d, r := &c.d, &c.rec
	shared := d.uvarint("shared prefix")
	suffix := d.bytes(d.uvarint("path length"), "path")
	r.path = append(r.path[:min(int(shared), len(r.path))], suffix...)
	r.layer = int(d.varint("final layer"))
	if r.layer >= 0 {
		d.fields(&r.raw)
	}
	r.changes = r.changes[:0]
	for range d.uvarint("history length") {
		ch := Change{Layer: int32(d.uvarint("change layer"))}
		ch.Kind = ChangeKind(d.byte("change kind"))
		ch.Size = int64(d.uvarint("change size"))
		r.changes = append(r.changes, ch)
	}
	return d.err == nil
}

// state returns the record's final state at path p.
func (r *record) state(p string) FileState {
	return FileState{Entry: r.raw.entry(p), Layer: r.layer}
}

// find returns the record of p.
func (im *Image) find(p string) (*record, bool) {
	if len(im.restarts) == 0 {
		return nil, false
	}
	// The last restart whose path is <= p.
	k := 0
	lo, hi := 0, len(im.restarts)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		d := decoder{b: im.data[im.restarts[mid]:]}
		d.uvarint("shared prefix")
		rp := d.bytes(d.uvarint("path length"), "path")
		if ComparePaths(rp, p) <= 0 {
			k, lo = mid, mid+1
		} else {
			hi = mid
		}
	}
	c := im.cursor(im.restarts[k], min(restartEvery, im.n-k*restartEvery))
	for c.next() {
		switch ComparePaths(c.rec.path, p) {
		case 0:
			return &c.rec, true
		case 1:
			return nil, false
		}
	}
	return nil, false
}

// File returns p's final state, or false if p is not in the final
// filesystem (never written, or deleted by a later layer).
func (im *Image) File(p string) (FileState, bool) {
	r, ok := im.find(p)
	if !ok || r.layer < 0 {
		return FileState{}, false
	}
	return r.state(p), true
}

// Files yields every path of the final filesystem with its state, in path
// order (ComparePaths): every path present after applying all layers in
// order, with whiteouts and opaque directories honoured.
func (im *Image) Files() iter.Seq2[string, FileState] {
	return func(yield func(string, FileState) bool) {
		c := im.cursor(0, im.n)
		for c.next() {
			if c.rec.layer < 0 {
				continue
			}
			p := string(c.rec.path)
			if !yield(p, c.rec.state(p)) {
				return
			}
		}
	}
}

// Len returns the number of paths in the final filesystem.
func (im *Image) Len() int { return im.present }

// History returns every change made to p across layers, oldest first.
func (im *Image) History(p string) []Change {
	r, ok := im.find(p)
	if !ok {
		return nil
	}
	return slices.Clone(r.changes)
}

// Histories yields every path that ever appeared in any layer with its
// history (as History returns it), in path order. The slice is reused
// for the next path: copy it to keep it.
func (im *Image) Histories() iter.Seq2[string, []Change] {
	return func(yield func(string, []Change) bool) {
		c := im.cursor(0, im.n)
		for c.next() {
			if !yield(string(c.rec.path), c.rec.changes) {
				return
			}
		}
	}
}

// FileContent returns the content of a small file kept by an analyzer
// (LayerFacts.Files) as it is in the final view: the copy from the layer
// that wrote the path last, or false if the path is gone or was not kept.
func (im *Image) FileContent(p string) ([]byte, bool) {
	st, ok := im.File(p)
	if !ok || st.Layer < 0 || st.Layer >= len(im.Layers) {
		return nil, false
	}
	b, ok := im.Layers[st.Layer].Files[p]
	return b, ok
}

// killFrame is a folder whose subtree layers deleted: kills lists, in
// order, the layers that deleted everything below it (and below its
// ancestors), by whiteout, opaque directory or replacing the folder with
// a file.
type killFrame struct {
	path  string
	kills []int32
}

// Merge applies layers in order (lowest first) and returns the merged view.
// A whiteout entry deletes its path and everything under it; an opaque
// directory hides everything below it from lower layers (its own layer's
// entries under it stay); a file replacing a folder deletes what was
// below the folder.
//
// The layers' entries are merged path by path in one pass, as a
// depth-first walk of the tree (ComparePaths order puts a folder's
// subtree right after it), keeping a stack of the folders above the
// current path whose subtrees some layer deleted. The view keeps no
// reference to the layers' entries.
func Merge(layers []*LayerFacts) *Image {
	im := &Image{Layers: layers}
	lists := make([]Entries, len(layers))
	total := 0
	for i, l := range layers {
		lists[i] = l.Entries
		total += len(l.Entries.data)
	}
	im.data = make([]byte, 0, total+total/2)
	var (
		prev  []byte
		stack []killFrame
		pm    pathMerge
	)
	mergeSorted(lists, func(p []byte, group []layerEntry) {
		for len(stack) > 0 && !isAncestor(stack[len(stack)-1].path, p) {
			stack = stack[:len(stack)-1]
		}
		var kills []int32
		if len(stack) > 0 {
			kills = stack[len(stack)-1].kills
		}
		pm.run(len(p) == 1, group, kills)
		if pm.final >= 0 {
			im.present++
		}
		if written(group) { // a path only ever whited out has no record
			if im.n%restartEvery == 0 {
				im.restarts = append(im.restarts, len(im.data))
				prev = prev[:0]
			}
			im.data = appendRecord(im.data, prev, p, pm.final, &pm.fin, pm.hist)
			im.n++
			prev = append(prev[:0], p...)
		}
		if len(pm.own) > 0 {
			stack = append(stack, killFrame{path: string(p), kills: unionLayers(kills, pm.own)})
		}
	})
	im.data = slices.Clip(im.data)
	return im
}

// pathMerge is the merge of one path: its final layer (-1 when not in
// the final filesystem) and entry, its history, and the layers that
// deleted its subtree (own). Its slices are reused from path to path.
type pathMerge struct {
	final int
	fin   rawEntry
	hist  []Change
	own   []int32
}

// run applies, layer by layer, the path's entries (group, in layer order)
// and the deletions of its subtree by folders above it (kills). root says
// the path is "/", which is in its own subtree.
func (m *pathMerge) run(root bool, group []layerEntry, kills []int32) {
	m.final, m.hist, m.own = -1, m.hist[:0], m.own[:0]
	for gi, ki := 0, 0; gi < len(group) || ki < len(kills); {
		layer := int32(-1)
		if gi < len(group) {
			layer = int32(group[gi].layer)
		}
		if ki < len(kills) && (layer < 0 || kills[ki] <= layer) {
			layer = kills[ki]
		}
		killed := false
		for ki < len(kills) && kills[ki] == layer {
			killed = true
			ki++
		}
		var e *rawEntry
		if gi < len(group) && int32(group[gi].layer) == layer {
			e = &group[gi].raw
			gi++
		}
		whiteout := e != nil && e.flags&flagWhiteout != 0
		if whiteout {
			killed = true
			m.own = append(m.own, layer)
		}
		if killed && m.final >= 0 && int32(m.final) < layer {
			m.delete(layer)
		}
		if e != nil && !whiteout {
			m.write(root, layer, e)
		}
	}
}

func (m *pathMerge) delete(layer int32) {
	m.final = -1
	m.hist = append(m.hist, Change{Layer: layer, Kind: Deleted})
}

// write applies a layer's (non-whiteout) entry e for the path.
func (m *pathMerge) write(root bool, layer int32, e *rawEntry) {
	// An opaque folder or a file replacing a folder deletes the subtree
	// below from lower layers; "/" is in its own subtree.
	opaque := e.flags&flagOpaque != 0
	if opaque {
		m.own = append(m.own, layer)
		if root && m.final >= 0 {
			m.delete(layer)
		}
	}
	kind := Added
	if m.final >= 0 {
		kind = Modified
		if m.fin.typ == byte(TypeDir) && e.typ != byte(TypeDir) {
			m.own = append(m.own, layer)
			if root {
				m.hist = append(m.hist, Change{Layer: layer, Kind: Deleted})
			}
		}
	}
	m.final, m.fin = int(layer), *e
	if e.typ == byte(TypeDir) && kind == Modified && !opaque {
		return // re-listing a directory does not change it
	}
	m.hist = append(m.hist, Change{Layer: layer, Kind: kind, Size: int64(e.size)})
}

// appendRecord encodes one merged-view record after one at path prev.
func appendRecord(b, prev, p []byte, final int, e *rawEntry, hist []Change) []byte {
	b = appendPath(b, prev, p)
	b = binary.AppendVarint(b, int64(final))
	if final >= 0 {
		b = appendFields(b, e)
	}
	b = binary.AppendUvarint(b, uint64(len(hist)))
	for _, c := range hist {
		b = binary.AppendUvarint(b, uint64(c.Layer))
		b = append(b, byte(c.Kind))
		b = binary.AppendUvarint(b, uint64(max(c.Size, 0)))
	}
	return b
}

// written reports whether some layer wrote the path (not only whited
// it out).
func written(group []layerEntry) bool {
	for _, e := range group {
		if e.raw.flags&flagWhiteout == 0 {
			return true
		}
	}
	return false
}

// isAncestor reports whether folder a is above p.
func isAncestor(a string, p []byte) bool {
	if a == "/" {
		return len(p) > 1
	}
	return len(p) > len(a) && p[len(a)] == '/' && string(p[:len(a)]) == a
}

// unionLayers merges two sorted layer lists into a new sorted list
// without repeats.
func unionLayers(a, b []int32) []int32 {
	out := make([]int32, 0, len(a)+len(b))
	out = append(append(out, a...), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// Clean normalizes a tar entry name to an absolute, cleaned path that can
// never climb above "/" ("../../etc/x" becomes "/etc/x").
func Clean(name string) string {
	return path.Clean("/" + strings.TrimPrefix(name, "./"))
}

// Waste returns, per layer, the bytes that layer wrote which a later layer
// deleted or overwrote (they ship in the image but are invisible in the
// final filesystem), and the total.
func (im *Image) Waste() (perLayer []int64, total int64) {
	perLayer = make([]int64, len(im.Layers))
	for _, changes := range im.Histories() {
		for j, c := range changes {
			if c.Kind == Deleted || c.Size == 0 || j == len(changes)-1 || int(c.Layer) >= len(perLayer) {
				continue
			}
			// Superseded by a later change (overwrite or deletion).
			perLayer[c.Layer] += c.Size
			total += c.Size
		}
	}
	return perLayer, total
}
