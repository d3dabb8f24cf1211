package layerfs

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// modelImage is the straightforward merge the compact one must match: a
// map of final states with a full entry copy per path and a map of
// histories (the implementation before the merged view was compacted).
type modelImage struct {
	files   map[string]FileState
	history map[string][]Change
}

func modelMerge(layers []*LayerFacts) *modelImage {
	im := &modelImage{files: map[string]FileState{}, history: map[string][]Change{}}
	for i, l := range layers {
		for e := range l.Entries.All() {
			switch {
			case e.Whiteout:
				im.deleteTree(e.Path, i, true)
			case e.Opaque:
				im.deleteTree(e.Path, i, false)
			}
		}
		for e := range l.Entries.All() {
			if e.Whiteout {
				continue
			}
			kind := Added
			prev, ok := im.files[e.Path]
			if ok {
				kind = Modified
			}
			if ok && prev.Type == TypeDir && e.Type != TypeDir {
				im.deleteTree(e.Path, i, false)
			}
			im.files[e.Path] = FileState{Entry: e, Layer: i}
			if e.Type == TypeDir && kind == Modified && !e.Opaque {
				continue
			}
			im.history[e.Path] = append(im.history[e.Path], Change{Layer: int32(i), Kind: kind, Size: e.Size})
		}
	}
	return im
}

func (im *modelImage) deleteTree(p string, layer int, self bool) {
	prefix := strings.TrimSuffix(p, "/") + "/"
	if p == "/" {
		prefix = "/"
	}
	for q, st := range im.files {
		if (self && q == p) || strings.HasPrefix(q, prefix) {
			if st.Layer == layer {
				continue
			}
			delete(im.files, q)
			im.history[q] = append(im.history[q], Change{Layer: int32(layer), Kind: Deleted})
		}
	}
}

func (im *modelImage) waste(layers int) ([]int64, int64) {
	per := make([]int64, layers)
	var total int64
	for _, changes := range im.history {
		for i, c := range changes {
			if c.Kind == Deleted || c.Size == 0 || i == len(changes)-1 {
				continue
			}
			per[c.Layer] += c.Size
			total += c.Size
		}
	}
	return per, total
}

// checkAgainstModel compares every observable of Merge(layers) with the
// model's.
func checkAgainstModel(t testing.TB, layers []*LayerFacts) {
	t.Helper()
	want := modelMerge(layers)
	got := Merge(layers)
	describe := func() string {
		var b strings.Builder
		for i, l := range layers {
			fmt.Fprintf(&b, "layer %d:", i)
			for e := range l.Entries.All() {
				fmt.Fprintf(&b, " %s(t%d w%v o%v s%d)", e.Path, e.Type, e.Whiteout, e.Opaque, e.Size)
			}
			b.WriteString("\n")
		}
		return b.String()
	}
	if got.Len() != len(want.files) {
		t.Fatalf("Len %d, want %d\n%s", got.Len(), len(want.files), describe())
	}
	var wantPaths []string
	for p := range want.files {
		wantPaths = append(wantPaths, p)
	}
	slices.SortFunc(wantPaths, ComparePaths[string, string])
	var gotPaths []string
	for p, st := range got.Files() {
		gotPaths = append(gotPaths, p)
		if w := want.files[p]; !reflect.DeepEqual(st, w) {
			t.Fatalf("%s: state %+v, want %+v\n%s", p, st, w, describe())
		}
		if st2, ok := got.File(p); !ok || !reflect.DeepEqual(st2, st) {
			t.Fatalf("%s: File %+v %v, Files said %+v", p, st2, ok, st)
		}
	}
	if !slices.Equal(gotPaths, wantPaths) {
		t.Fatalf("final paths %v, want %v\n%s", gotPaths, wantPaths, describe())
	}
	var histPaths []string
	for p, h := range got.Histories() {
		histPaths = append(histPaths, p)
		if !reflect.DeepEqual(h, want.history[p]) {
			t.Fatalf("%s: history %+v, want %+v\n%s", p, h, want.history[p], describe())
		}
		if !reflect.DeepEqual(got.History(p), h) {
			t.Fatalf("%s: History and Histories differ", p)
		}
	}
	if len(histPaths) != len(want.history) || !slices.IsSortedFunc(histPaths, ComparePaths[string, string]) {
		t.Fatalf("history paths %v, want %d sorted\n%s", histPaths, len(want.history), describe())
	}
	for p := range want.history {
		if _, ok := want.files[p]; !ok {
			if _, ok := got.File(p); ok {
				t.Fatalf("%s: deleted path still in the view", p)
			}
		}
	}
	gp, gt := got.Waste()
	wp, wt := want.waste(len(layers))
	if gt != wt || !slices.Equal(gp, wp) {
		t.Fatalf("waste %v %d, want %v %d\n%s", gp, gt, wp, wt, describe())
	}
}

// randomLayers makes layers over a small tree so paths collide often:
// files, folders and links replacing each other, whiteouts and opaque
// folders (the root too), repeated paths, sorted or not.
func randomLayers(r *rand.Rand) []*LayerFacts {
	names := []string{"a", "b", "a-b", "c"}
	randPath := func() string {
		if r.IntN(30) == 0 {
			return "/"
		}
		p := ""
		for range 1 + r.IntN(4) {
			p += "/" + names[r.IntN(len(names))]
		}
		return p
	}
	layers := make([]*LayerFacts, 1+r.IntN(5))
	for i := range layers {
		l := &LayerFacts{Index: i}
		var es []Entry
		for range r.IntN(25) {
			p := randPath()
			var e Entry
			switch r.IntN(8) {
			case 0:
				e = Entry{Path: p, Whiteout: true}
			case 1:
				e = Entry{Path: p, Type: TypeDir, Mode: 0o755, Opaque: true}
			case 2, 3:
				e = Entry{Path: p, Type: TypeDir, Mode: 0o755}
			case 4:
				e = Entry{Path: p, Type: TypeSymlink, Mode: 0o777, Linkname: "x"}
			default:
				e = Entry{Path: p, Type: TypeFile, Mode: 0o644, Size: int64(1 + r.IntN(100)), UID: int32(r.IntN(3))}
			}
			es = append(es, e)
		}
		l.Entries = PackEntries(es) // sorted and unique, as a walk leaves them
		layers[i] = l
	}
	return layers
}

// TestMergeMatchesModel checks the compact merge against the model on
// random layer sets.
func TestMergeMatchesModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		checkAgainstModel(t, randomLayers(r))
	}
}

// FuzzMerge drives the comparison with the model from fuzzer bytes.
func FuzzMerge(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Add(uint64(7), uint64(99))
	f.Fuzz(func(t *testing.T, a, b uint64) {
		checkAgainstModel(t, randomLayers(rand.New(rand.NewPCG(a, b))))
	})
}
