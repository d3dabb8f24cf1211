package layerfs

import "testing"

func file(p string, size int64) Entry { return Entry{Path: p, Type: TypeFile, Mode: 0o644, Size: size} }
func dir(p string) Entry              { return Entry{Path: p, Type: TypeDir, Mode: 0o755} }

func TestMergeWhiteoutsAndOpaque(t *testing.T) {
	layers := []*LayerFacts{
		{Index: 0, Entries: PackEntries([]Entry{dir("/etc"), file("/etc/secrets.txt", 10), dir("/app"), file("/app/a", 1), file("/app/b", 2)})},
		{Index: 1, Entries: PackEntries([]Entry{{Path: "/etc/secrets.txt", Whiteout: true}, file("/etc/passwd", 5)})},
		{Index: 2, Entries: PackEntries([]Entry{{Path: "/app", Type: TypeDir, Opaque: true}, file("/app/c", 3), file("/etc/passwd", 7)})},
	}
	im := Merge(layers)
	for _, gone := range []string{"/etc/secrets.txt", "/app/a", "/app/b"} {
		if _, ok := im.File(gone); ok {
			t.Errorf("%s should be deleted", gone)
		}
	}
	for p, layer := range map[string]int{"/app/c": 2, "/etc/passwd": 2, "/etc": 0} {
		st, ok := im.File(p)
		if !ok || st.Layer != layer {
			t.Errorf("%s: present=%v layer=%d, want layer %d", p, ok, st.Layer, layer)
		}
	}
	h := im.History("/etc/secrets.txt")
	if len(h) != 2 || h[0].Kind != Added || h[0].Layer != 0 || h[1].Kind != Deleted || h[1].Layer != 1 {
		t.Errorf("history of secrets.txt = %+v", h)
	}
	h = im.History("/etc/passwd")
	if len(h) != 2 || h[1].Kind != Modified || h[1].Layer != 2 {
		t.Errorf("history of passwd = %+v", h)
	}
	if h := im.History("/app/a"); len(h) != 2 || h[1].Kind != Deleted || h[1].Layer != 2 {
		t.Errorf("opaque dir should delete /app/a in layer 2: %+v", h)
	}
}

func TestClean(t *testing.T) {
	for in, want := range map[string]string{"../../etc/x": "/etc/x", "./a/b/": "/a/b", "/abs/../y": "/y", ".": "/"} {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWaste(t *testing.T) {
	im := Merge([]*LayerFacts{
		{Entries: PackEntries([]Entry{file("/big", 100), file("/keep", 5), file("/over", 20)})},
		{Entries: PackEntries([]Entry{{Path: "/big", Whiteout: true}, file("/over", 30)})},
	})
	per, total := im.Waste()
	if total != 120 || per[0] != 120 || per[1] != 0 {
		t.Errorf("waste per=%v total=%d, want [120 0] 120", per, total)
	}
}
