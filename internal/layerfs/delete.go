package layerfs

import "path"

// deleteMany applies one layer's whiteouts (removes: the path and all
// below it) and opaque directories (opaques: everything below) in a
// single pass over the merged view: each path's ancestors are looked up
// in the two sets, so the cost is files × depth instead of the
// whiteouts × files of calling deleteTree for each. Results are the same
// as deleteTree's: each removed path gets one Deleted change, and entries
// written by the deleting layer itself stay.
func (im *Image) deleteMany(removes, opaques []string, layer int) {
	if len(removes) == 0 && len(opaques) == 0 {
		return
	}
	if len(removes)+len(opaques) < 4 {
		for _, p := range removes {
			im.deleteTree(p, layer, true)
		}
		for _, p := range opaques {
			im.deleteTree(p, layer, false)
		}
		return
	}
	rm := make(map[string]bool, len(removes))
	for _, p := range removes {
		rm[p] = true
	}
	op := make(map[string]bool, len(opaques))
	for _, p := range opaques {
		op[p] = true
	}
	rootGone := rm["/"] || op["/"] // deleteTree("/") matches every path, "/" included
	var gone []string
	for q, st := range im.Files {
		if st.Layer == layer {
			continue
		}
		hit := rootGone || rm[q]
		for a := q; !hit && a != "/"; {
			a = path.Dir(a)
			hit = rm[a] || op[a]
		}
		if hit {
			gone = append(gone, q)
		}
	}
	for _, q := range gone {
		delete(im.Files, q)
		im.history[q] = append(im.history[q], Change{Layer: layer, Kind: Deleted})
	}
}
