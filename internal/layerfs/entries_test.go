package layerfs

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"testing"
)

func TestComparePaths(t *testing.T) {
	// A depth-first walk with names sorted: each folder's subtree follows
	// it at once.
	want := []string{"/", "/a", "/a/b", "/a/b/c", "/a/bb", "/a-b", "/a-b/x", "/a.txt", "/a0", "/b"}
	got := slices.Clone(want)
	rand.New(rand.NewPCG(1, 1)).Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
	slices.SortFunc(got, ComparePaths[string, string])
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	if ComparePaths("/a", []byte("/a")) != 0 || ComparePaths("/a/", "/a") != 1 {
		t.Error("equal or prefix paths compare wrong")
	}
}

// dedupeModel is the rule the packer follows, written plainly: sort
// stably in path order; of a repeated path the last entry that is not an
// opaque marker wins, and a folder entry takes the opaque flag if any
// entry of the path had it.
func dedupeModel(es []Entry) []Entry {
	es = slices.Clone(es)
	sort.SliceStable(es, func(i, j int) bool { return ComparePaths(es[i].Path, es[j].Path) < 0 })
	var out []Entry
	for i := 0; i < len(es); {
		j := i
		opaque := false
		for j < len(es) && es[j].Path == es[i].Path {
			opaque = opaque || es[j].Opaque
			j++
		}
		last := es[j-1]
		for k := j - 1; k >= i; k-- {
			if !es[k].Opaque {
				last = es[k]
				break
			}
		}
		if last.Type == TypeDir && !last.Whiteout {
			last.Opaque = opaque
		}
		out = append(out, last)
		i = j
	}
	return out
}

// TestPackEntriesMatchesModel packs entries in tar orders that are sorted,
// nearly sorted and shuffled, with repeated paths and opaque markers.
func TestPackEntriesMatchesModel(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 2))
	for range 2000 {
		var es []Entry
		for _, l := range randomLayers(r) {
			es = append(es, l.Entries.Slice()...)
		}
		switch r.IntN(4) {
		case 0:
			r.Shuffle(len(es), func(i, j int) { es[i], es[j] = es[j], es[i] })
		case 2:
			slices.Reverse(es)
		case 1:
			if len(es) > 1 {
				i := r.IntN(len(es) - 1)
				es[i], es[i+1] = es[i+1], es[i]
			}
		}
		want := dedupeModel(es)
		got := PackEntries(slices.Clone(es)).Slice()
		if len(want) == 0 {
			want = []Entry{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("packed %+v\nwant %+v\nfrom %+v", got, want, es)
		}
	}
}

// TestPackerHostileOrder: a tar in reverse path order makes a run of
// every entry; the packer keeps O(log n) runs and still returns every
// path once, in order.
func TestPackerHostileOrder(t *testing.T) {
	const n = 100_000
	var p entryPacker
	for i := n - 1; i >= 0; i-- {
		p.add(Entry{Path: fmt.Sprintf("/d/f%06d", i), Type: TypeFile, Mode: 0o644, Size: int64(i)})
		if len(p.runs) > 2*bits.Len(uint(n))+2 {
			t.Fatalf("%d runs after %d entries", len(p.runs), n-i)
		}
	}
	es := p.finish()
	if es.Len() != n {
		t.Fatalf("%d entries, want %d", es.Len(), n)
	}
	i := 0
	for e := range es.All() {
		if want := fmt.Sprintf("/d/f%06d", i); e.Path != want || e.Size != int64(i) {
			t.Fatalf("entry %d: %+v, want %s", i, e, want)
		}
		i++
	}
}
