package layerfs

import (
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
// It holds no copy of any entry: a path's final state is a reference to
// the entry of the layer that wrote it last (Layers[i].Entries stay the
// one copy), paths are kept once in a sorted slice whose strings share
// their bytes with the entries, and every path's history is a run of one
// shared change slice. That is about 45 bytes per path on top of the
// layers' entries, instead of a map entry with a full Entry copy plus a
// history map with a slice per path (see BenchmarkMergePaths).
type Image struct {
	Layers []*LayerFacts
	// paths is every path a layer wrote (whiteouts aside), sorted and
	// unique; the slices below are indexed like it.
	paths []string
	// final is where each path's entry is in the final filesystem; layer
	// -1 when a later layer deleted it.
	final []entryRef
	// changes holds every change to every path, grouped by path in path
	// order and in layer order within a path: path i's history is
	// changes[histAt[i]:histAt[i+1]].
	changes []Change
	histAt  []uint32
	present int
}

// entryRef locates an entry: Layers[layer].Entries[entry].
type entryRef struct{ layer, entry int32 }

// index returns the position of p in im.paths.
func (im *Image) index(p string) (int, bool) {
	return slices.BinarySearch(im.paths, p)
}

func (im *Image) state(i int) (FileState, bool) {
	r := im.final[i]
	if r.layer < 0 {
		return FileState{}, false
	}
	return FileState{Entry: im.Layers[r.layer].Entries[r.entry], Layer: int(r.layer)}, true
}

// File returns p's final state, or false if p is not in the final
// filesystem (never written, or deleted by a later layer).
func (im *Image) File(p string) (FileState, bool) {
	i, ok := im.index(p)
	if !ok {
		return FileState{}, false
	}
	return im.state(i)
}

// Files yields every path of the final filesystem with its state, in path
// order: every path present after applying all layers in order, with
// whiteouts and opaque directories honoured.
func (im *Image) Files() iter.Seq2[string, FileState] {
	return func(yield func(string, FileState) bool) {
		for i, p := range im.paths {
			if st, ok := im.state(i); ok && !yield(p, st) {
				return
			}
		}
	}
}

// Len returns the number of paths in the final filesystem.
func (im *Image) Len() int { return im.present }

// History returns every change made to p across layers, oldest first.
// The slice is shared: callers must not modify it.
func (im *Image) History(p string) []Change {
	i, ok := im.index(p)
	if !ok {
		return nil
	}
	return im.history(i)
}

func (im *Image) history(i int) []Change {
	lo, hi := im.histAt[i], im.histAt[i+1]
	return im.changes[lo:hi:hi]
}

// Histories yields every path that ever appeared in any layer with its
// history (as History returns it), in path order.
func (im *Image) Histories() iter.Seq2[string, []Change] {
	return func(yield func(string, []Change) bool) {
		for i, p := range im.paths {
			if !yield(p, im.history(i)) {
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

// merger is the state of one Merge. The merge runs twice over the
// layers: first counting each path's changes, then writing them straight
// into their place in the shared change slice (at[i] is path i's next
// free slot), so no list of all changes in layer order is ever held.
type merger struct {
	im     *Image
	layers []*LayerFacts
	order  [][]int32 // per layer: entries in path order, nil when already so
	pos    [][]int32 // per layer and entry: index in im.paths, -1 for whiteouts
	at     []uint32
	write  bool
}

// Merge applies layers in order (lowest first) and returns the merged view.
// A whiteout entry deletes its path and everything under it; an opaque
// directory hides everything below it from lower layers (its own layer's
// entries under it stay). A layer may repeat a path (the later entry
// wins); the layers' entries need not be sorted, though a walk leaves
// them so and sorted layers merge without extra memory.
//
// The merged view refers to the layers' entries: they must not be changed
// afterwards. Its memory is about 45 bytes per path (a path slice, a
// reference, a history start and a 16-byte change), plus 4 bytes per
// entry while merging.
func Merge(layers []*LayerFacts) *Image {
	im := &Image{Layers: layers}
	m := &merger{im: im, layers: layers, order: make([][]int32, len(layers)), pos: make([][]int32, len(layers))}
	for i, l := range layers {
		m.order[i] = pathOrder(l.Entries)
	}
	im.paths = mergePaths(layers, m.order, m.pos)
	n := len(im.paths)
	im.final = make([]entryRef, n)
	m.at = make([]uint32, n+1)
	m.apply() // count
	for i := 1; i <= n; i++ {
		m.at[i] += m.at[i-1]
	}
	im.changes = make([]Change, m.at[n])
	m.write = true
	m.apply()
	// at[i] is now path i's end, which is path i+1's start.
	copy(m.at[1:], m.at[:n])
	m.at[0] = 0
	im.histAt = m.at
	return im
}

// apply runs the merge over every layer from an empty view, recording
// each change (see record).
func (m *merger) apply() {
	im := m.im
	for i := range im.final {
		im.final[i].layer = -1
	}
	im.present = 0
	for i, l := range m.layers {
		layer := int32(i)
		m.deletions(l.Entries, m.order[i], layer)
		for k, e := range l.Entries {
			if e.Whiteout {
				continue
			}
			at := m.pos[i][k]
			prev := im.final[at]
			kind := Added
			if prev.layer >= 0 {
				kind = Modified
				// A file replacing a directory hides what was below it.
				if m.layers[prev.layer].Entries[prev.entry].Type == TypeDir && e.Type != TypeDir {
					m.deleteTree(e.Path, layer, false)
				}
			}
			if im.final[at].layer < 0 { // (a non-directory "/" deletes itself above)
				im.present++
			}
			im.final[at] = entryRef{layer: layer, entry: int32(k)}
			if e.Type == TypeDir && kind == Modified && !e.Opaque {
				// Re-listing a directory does not change it meaningfully.
				continue
			}
			m.record(at, Change{Layer: layer, Kind: kind, Size: e.Size})
		}
		if m.write {
			m.pos[i] = nil // done with this layer's positions
		}
	}
}

// record counts a change of path i (first pass) or stores it (second).
func (m *merger) record(i int32, c Change) {
	if !m.write {
		m.at[i+1]++
		return
	}
	m.im.changes[m.at[i]] = c
	m.at[i]++
}

// pathOrder returns the indices of es's entries in path order (stable),
// or nil when es is already in path order.
func pathOrder(es []Entry) []int32 {
	sorted := true
	for k := 1; k < len(es); k++ {
		if es[k].Path < es[k-1].Path {
			sorted = false
			break
		}
	}
	if sorted {
		return nil
	}
	order := make([]int32, len(es))
	for k := range order {
		order[k] = int32(k)
	}
	slices.SortStableFunc(order, func(a, b int32) int { return strings.Compare(es[a].Path, es[b].Path) })
	return order
}

// cursor walks one layer's entries in path order during mergePaths.
type cursor struct {
	es    []Entry
	order []int32 // nil: identity
	at    int     // position in path order
	layer int
}

func (c *cursor) entry() int {
	if c.order != nil {
		return int(c.order[c.at])
	}
	return c.at
}

// skip moves past whiteouts; false when the layer is done.
func (c *cursor) skip() bool {
	for ; c.at < len(c.es); c.at++ {
		if !c.es[c.entry()].Whiteout {
			return true
		}
	}
	return false
}

func (c *cursor) path() string { return c.es[c.entry()].Path }

// mergePaths returns the sorted, unique paths of all layers' entries
// (whiteouts aside) by merging the layers' path orders, and fills pos[i]
// with each entry's index in the result.
func mergePaths(layers []*LayerFacts, order, pos [][]int32) []string {
	total := 0
	var heap []*cursor
	for i, l := range layers {
		pos[i] = make([]int32, len(l.Entries))
		for k := range pos[i] {
			pos[i][k] = -1
		}
		total += len(l.Entries)
		c := &cursor{es: l.Entries, order: order[i], layer: i}
		if c.skip() {
			heap = append(heap, c)
		}
	}
	less := func(a, b *cursor) bool {
		pa, pb := a.path(), b.path()
		return pa < pb || pa == pb && a.layer < b.layer
	}
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(heap) {
				return
			}
			if r := l + 1; r < len(heap) && less(heap[r], heap[l]) {
				l = r
			}
			if !less(heap[l], heap[i]) {
				return
			}
			heap[i], heap[l] = heap[l], heap[i]
			i = l
		}
	}
	for i := len(heap)/2 - 1; i >= 0; i-- {
		down(i)
	}
	paths := make([]string, 0, total)
	for len(heap) > 0 {
		c := heap[0]
		p := c.path()
		if n := len(paths); n == 0 || paths[n-1] != p {
			paths = append(paths, p)
		}
		pos[c.layer][c.entry()] = int32(len(paths) - 1)
		c.at++
		if !c.skip() {
			heap[0] = heap[len(heap)-1]
			heap = heap[:len(heap)-1]
		}
		down(0)
	}
	if len(paths) < cap(paths)-cap(paths)/8 {
		paths = slices.Clone(paths) // layers rewrote many paths: drop the slack
	}
	return paths
}

// deletions applies one layer's whiteouts (the path and all below it) and
// opaque directories (everything below). They all act on the layers
// below, so a deletion inside a folder the same layer deletes is skipped:
// with es visited in path order, each path is looked at once per layer.
func (m *merger) deletions(es []Entry, order []int32, layer int32) {
	covered := "" // prefix of the last whole-tree deletion
	for j := range es {
		k := j
		if order != nil {
			k = int(order[j])
		}
		e := es[k]
		if !e.Whiteout && !e.Opaque {
			continue
		}
		if covered != "" && strings.HasPrefix(e.Path, covered) {
			continue
		}
		m.deleteTree(e.Path, layer, e.Whiteout)
		covered = treePrefix(e.Path)
	}
}

// treePrefix is the prefix of every path below p.
func treePrefix(p string) string {
	if p == "/" {
		return "/"
	}
	return strings.TrimSuffix(p, "/") + "/"
}

// deleteTree removes p (when self) and everything below it from the merged
// view, recording a deletion by layer for each removed path. Paths the
// deleting layer itself wrote stay (an opaque directory keeps its own
// layer's entries).
func (m *merger) deleteTree(p string, layer int32, self bool) {
	paths := m.im.paths
	if self {
		if i, ok := m.im.index(p); ok {
			m.remove(i, layer)
		}
	}
	prefix := treePrefix(p)
	i, _ := slices.BinarySearch(paths, prefix)
	for ; i < len(paths) && strings.HasPrefix(paths[i], prefix); i++ {
		m.remove(i, layer)
	}
}

func (m *merger) remove(i int, layer int32) {
	r := &m.im.final[i]
	if r.layer < 0 || r.layer == layer {
		return
	}
	r.layer = -1
	m.im.present--
	m.record(int32(i), Change{Layer: layer, Kind: Deleted})
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
	for i := range im.paths {
		changes := im.history(i)
		for j, c := range changes {
			if c.Kind == Deleted || c.Size == 0 || j == len(changes)-1 {
				continue
			}
			// Superseded by a later change (overwrite or deletion).
			perLayer[c.Layer] += c.Size
			total += c.Size
		}
	}
	return perLayer, total
}
