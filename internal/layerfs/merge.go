package layerfs

import (
	"path"
	"sort"
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

// Change is one layer's effect on a path.
type Change struct {
	Layer int        `json:"layer"`
	Kind  ChangeKind `json:"kind"`
	Size  int64      `json:"size"` // bytes the layer wrote (0 for deletions)
}

// FileState is a path in the merged view: its final entry and the layer
// that wrote it last.
type FileState struct {
	Entry
	Layer int
}

// Image is the merged view of an image's layers.
type Image struct {
	Layers []*LayerFacts
	// Files is the final filesystem: every path present after applying all
	// layers in order, with whiteouts and opaque directories honoured.
	Files map[string]FileState
	// history holds every change to every path, in layer order.
	history map[string][]Change
}

// History returns every change made to p across layers, oldest first.
func (im *Image) History(p string) []Change { return im.history[p] }

// Paths returns the paths that ever appeared in any layer, sorted.
func (im *Image) Paths() []string {
	out := make([]string, 0, len(im.history))
	for p := range im.history {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// FileContent returns the content of a small file kept by an analyzer
// (LayerFacts.Files) as it is in the final view: the copy from the layer
// that wrote the path last, or false if the path is gone or was not kept.
func (im *Image) FileContent(p string) ([]byte, bool) {
	st, ok := im.Files[p]
	if !ok || st.Layer < 0 || st.Layer >= len(im.Layers) {
		return nil, false
	}
	b, ok := im.Layers[st.Layer].Files[p]
	return b, ok
}

// Merge applies layers in order (lowest first) and returns the merged view.
// A whiteout entry deletes its path and everything under it; an opaque
// directory hides everything below it from lower layers (its own layer's
// entries under it stay).
func Merge(layers []*LayerFacts) *Image {
	// Sizing the maps for every entry up front avoids rehashing (and the
	// old tables' garbage) as they grow: most paths appear in one layer.
	n := 0
	for _, l := range layers {
		n += len(l.Entries)
	}
	im := &Image{Layers: layers, Files: make(map[string]FileState, n), history: make(map[string][]Change, n)}
	for i, l := range layers {
		// Deletions of this layer apply to lower layers only, so collect
		// them first, then apply, then add this layer's entries.
		var removes []string
		var opaques []string
		for _, e := range l.Entries {
			switch {
			case e.Whiteout:
				removes = append(removes, e.Path)
			case e.Opaque:
				opaques = append(opaques, e.Path)
			}
		}
		im.deleteMany(removes, opaques, i)
		for _, e := range l.Entries {
			if e.Whiteout {
				continue
			}
			kind := Added
			if _, ok := im.Files[e.Path]; ok {
				kind = Modified
			}
			// A file replacing a directory hides what was below it.
			if prev, ok := im.Files[e.Path]; ok && prev.Type == TypeDir && e.Type != TypeDir {
				im.deleteTree(e.Path, i, false)
			}
			if e.Type == TypeDir && kind == Modified && !e.Opaque {
				// Re-listing a directory does not change it meaningfully.
				im.Files[e.Path] = FileState{Entry: e, Layer: i}
				continue
			}
			im.Files[e.Path] = FileState{Entry: e, Layer: i}
			im.history[e.Path] = append(im.history[e.Path], Change{Layer: i, Kind: kind, Size: e.Size})
		}
	}
	return im
}

// deleteTree removes p (when self) and everything below it from the merged
// view, recording a deletion by layer for each removed path.
func (im *Image) deleteTree(p string, layer int, self bool) {
	prefix := strings.TrimSuffix(p, "/") + "/"
	if p == "/" {
		prefix = "/"
	}
	for q, st := range im.Files {
		if (self && q == p) || strings.HasPrefix(q, prefix) {
			if st.Layer == layer {
				continue // entries of the deleting layer itself survive an opaque dir
			}
			delete(im.Files, q)
			im.history[q] = append(im.history[q], Change{Layer: layer, Kind: Deleted})
		}
	}
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
	for _, changes := range im.history {
		for i, c := range changes {
			if c.Kind == Deleted || c.Size == 0 || i == len(changes)-1 {
				continue
			}
			// Superseded by a later change (overwrite or deletion).
			perLayer[c.Layer] += c.Size
			total += c.Size
		}
	}
	return perLayer, total
}
