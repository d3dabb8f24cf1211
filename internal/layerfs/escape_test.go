package layerfs

import (
	"bytes"
	"context"
	"fmt"
	"testing"
)

// TestEscapes: entries whose raw name or link target leaves the root are
// recorded with the name as stored, while Entries keep their normalised
// form; what real layers hold (relative symlinks inside the root, absolute
// symlinks, "./" names, hard links to names in the layer) is not.
func TestEscapes(t *testing.T) {
	cases := []struct {
		e    tarEntry
		want string // "" for no escape, else "kind name -> link"
	}{
		{tarEntry{name: "../../etc/passwd", body: "x"}, "name ../../etc/passwd"},
		{tarEntry{name: "a/../../b", body: "x"}, "name a/../../b"},
		{tarEntry{name: "/etc/abs", body: "x"}, "name /etc/abs"},
		{tarEntry{name: "h", typ: '1', link: "../outside"}, "hardlink h -> ../outside"},
		{tarEntry{name: "h2", typ: '1', link: "/etc/passwd"}, "hardlink h2 -> /etc/passwd"},
		{tarEntry{name: "usr/lib/l", typ: '2', link: "../../../etc/shadow"}, "symlink usr/lib/l -> ../../../etc/shadow"},
		{tarEntry{name: "./l2", typ: '2', link: ".."}, "symlink ./l2 -> .."},
		// Not escapes.
		{tarEntry{name: "bin", typ: '2', link: "usr/bin"}, ""},
		{tarEntry{name: "./usr/lib/x.so", typ: '2', link: "../../lib/x.so.1"}, ""},
		{tarEntry{name: "usr/bin/python", typ: '2', link: "/usr/bin/python3"}, ""},
		{tarEntry{name: "./etc/ok", body: "x"}, ""},
		{tarEntry{name: "a/../b", body: "x"}, ""},
		{tarEntry{name: "usr/bin/link", typ: '1', link: "usr/bin/target"}, ""},
		{tarEntry{name: "./usr/bin/link2", typ: '1', link: "./usr/bin/target"}, ""},
	}
	for _, c := range cases {
		t.Run(c.e.name, func(t *testing.T) {
			facts, err := WalkTar(context.Background(), bytes.NewReader(makeTar(t, c.e)), 3, WalkOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, e := range facts.Escapes {
				got = e.Kind + " " + e.Name
				if e.Kind != EscapeName {
					got += " -> " + e.Link
				}
			}
			if got != c.want {
				t.Errorf("escape %q, want %q", got, c.want)
			}
			for e := range facts.Entries.All() {
				if e.Path != Clean(e.Path) || e.Path[0] != '/' {
					t.Errorf("entry path %q not normalised", e.Path)
				}
			}
		})
	}
}

// TestEscapeThroughSymlink: an entry below a symlink the same layer made
// is an escape naming the symlink; below a real folder, or below a
// symlink of another layer, it is not.
func TestEscapeThroughSymlink(t *testing.T) {
	layer := makeTar(t,
		tarEntry{name: "etc", typ: '2', link: "/host/etc"},
		tarEntry{name: "etc/passwd", body: "root::0:0"},
		tarEntry{name: "usr/", typ: '5'},
		tarEntry{name: "usr/lib/", typ: '5'},
		tarEntry{name: "usr/lib/x", body: "x"},
		tarEntry{name: "./bin", typ: '2', link: "usr/bin"},
		tarEntry{name: "./bin/.wh.gone"},
		tarEntry{name: "./bin/sub/tool", body: "x"},
		tarEntry{name: "lib", typ: '2', link: "usr/lib"},
		tarEntry{name: "lib/", typ: '5'}, // the symlink replaced by a folder
		tarEntry{name: "lib/y", body: "y"},
	)
	facts, err := WalkTar(context.Background(), bytes.NewReader(layer), 0, WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range facts.Escapes {
		got = append(got, e.Kind+" "+e.Name+" via "+e.Link)
	}
	want := []string{"through-symlink etc/passwd via /etc", "through-symlink ./bin/sub/tool via /bin"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("escapes %q, want %q", got, want)
	}
	// The next layer writing below /etc (a symlink of the layer before)
	// is not this check's business.
	next, err := WalkTar(context.Background(), bytes.NewReader(makeTar(t, tarEntry{name: "etc/hosts", body: "x"})), 1, WalkOptions{})
	if err != nil || len(next.Escapes) != 0 {
		t.Errorf("next layer: %v, escapes %+v", err, next.Escapes)
	}
}

// TestEscapesBounded: a layer of many escaping entries keeps maxEscapes.
func TestEscapesBounded(t *testing.T) {
	var es []tarEntry
	for i := range 3 * maxEscapes {
		es = append(es, tarEntry{name: fmt.Sprintf("../x%d", i), body: "x"})
	}
	facts, err := WalkTar(context.Background(), bytes.NewReader(makeTar(t, es...)), 0, WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(facts.Escapes) != maxEscapes || facts.Escapes[0].Name != "../x0" {
		t.Errorf("%d escapes (first %+v), want %d", len(facts.Escapes), facts.Escapes[0], maxEscapes)
	}
}

// TestEscapesCached: escapes survive the layer cache's encoding.
func TestEscapesCached(t *testing.T) {
	facts, err := WalkTar(context.Background(), bytes.NewReader(makeTar(t, tarEntry{name: "../evil", body: "x"})), 0, WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := encodeFacts(facts)
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodeFacts(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Escapes) != 1 || back.Escapes[0] != (Escape{Name: "../evil", Kind: EscapeName}) {
		t.Errorf("decoded escapes %+v", back.Escapes)
	}
}
