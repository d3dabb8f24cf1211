package layerfs

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestDeleteManyMatchesDeleteTree checks the one-pass deletion against
// deleteTree on random trees, whiteouts and opaque directories.
func TestDeleteManyMatchesDeleteTree(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	names := []string{"a", "b", "c", "d"}
	randPath := func() string {
		p := ""
		for range 1 + r.IntN(4) {
			p += "/" + names[r.IntN(len(names))]
		}
		return p
	}
	for iter := range 500 {
		files := map[string]FileState{}
		for range 5 + r.IntN(40) {
			files[randPath()] = FileState{Layer: r.IntN(3)}
		}
		if r.IntN(10) == 0 {
			files["/"] = FileState{Entry: Entry{Path: "/", Type: TypeDir}}
		}
		var removes, opaques []string
		for range 4 + r.IntN(6) {
			if r.IntN(2) == 0 {
				removes = append(removes, randPath())
			} else {
				opaques = append(opaques, randPath())
			}
		}
		if r.IntN(20) == 0 {
			opaques = append(opaques, "/")
		}
		clone := func() *Image {
			im := &Image{Files: map[string]FileState{}, history: map[string][]Change{}}
			for k, v := range files {
				im.Files[k] = v
			}
			return im
		}
		want, got := clone(), clone()
		for _, p := range removes {
			want.deleteTree(p, 2, true)
		}
		for _, p := range opaques {
			want.deleteTree(p, 2, false)
		}
		got.deleteMany(removes, opaques, 2)
		if !reflect.DeepEqual(want.Files, got.Files) || !reflect.DeepEqual(want.history, got.history) {
			t.Fatalf("iteration %d: removes %v opaques %v\nfiles %v\nwant %v %v\ngot  %v %v", iter, removes, opaques, files,
				keys(want.Files), want.history, keys(got.Files), got.history)
		}
	}
}

func keys(m map[string]FileState) string { return fmt.Sprint(len(m)) }
