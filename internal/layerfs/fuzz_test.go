package layerfs

import (
	"bytes"
	"context"
	"io"
	"path"
	"reflect"
	"strings"
	"testing"
)

// FuzzWalkTar feeds arbitrary bytes (seeded with tars holding whiteouts,
// opaque dirs, links and hostile names) through the walk and the merge:
// neither may panic, and every path must stay absolute and clean.
func FuzzWalkTar(f *testing.F) {
	f.Add(makeTar(f, tarEntry{name: "etc/passwd", body: "root:x:0:0"}, tarEntry{name: "etc/.wh.shadow"}, tarEntry{name: "var/.wh..wh..opq"}))
	f.Add(makeTar(f, tarEntry{name: "../../x", body: "a"}, tarEntry{name: "l", typ: '2', link: "../../../etc"}, tarEntry{name: "h", typ: '1', link: "/x"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec := &recorder{}
		opts := func(a Analyzer) WalkOptions {
			return WalkOptions{Analyzers: []Analyzer{a}, MaxFileSize: 1 << 16, MaxEntries: 10000}
		}
		facts, err := WalkTar(context.Background(), bytes.NewReader(data), 0, opts(rec))
		// The walk of the same bytes from a memory map (content in place)
		// must agree with the streamed one.
		walkMappedTar(t, data, func(r io.Reader) {
			recM := &recorder{}
			factsM, errM := walkTar(context.Background(), r, 0, "", opts(recM))
			if (err == nil) != (errM == nil) {
				t.Fatalf("streamed err %v, mapped err %v", err, errM)
			}
			if err == nil && (!reflect.DeepEqual(entryMap(facts), entryMap(factsM)) || !reflect.DeepEqual(rec.seen, recM.seen) || !reflect.DeepEqual(facts.Skipped, factsM.Skipped)) {
				t.Fatal("mapped and streamed walks differ")
			}
		})
		if err != nil {
			return
		}
		if len(facts.Escapes) > maxEscapes {
			t.Fatalf("%d escapes kept, limit %d", len(facts.Escapes), maxEscapes)
		}
		for _, e := range facts.Escapes {
			if e.Kind != EscapeName && e.Kind != EscapeHardlink && e.Kind != EscapeSymlink {
				t.Fatalf("escape kind %q", e.Kind)
			}
		}
		for e := range facts.Entries.All() {
			if !strings.HasPrefix(e.Path, "/") || path.Clean(e.Path) != e.Path || strings.Contains(e.Path, "/../") {
				t.Fatalf("unclean path %q", e.Path)
			}
			if e.Type == TypeHardlink && (!strings.HasPrefix(e.Linkname, "/") || path.Clean(e.Linkname) != e.Linkname) {
				t.Fatalf("unclean hardlink target %q", e.Linkname)
			}
		}
		// A second layer deleting and re-adding things must merge too.
		im := Merge([]*LayerFacts{facts, facts})
		for p := range im.Files() {
			if !strings.HasPrefix(p, "/") {
				t.Fatalf("merged path %q", p)
			}
		}
		im.Waste()
	})
}
