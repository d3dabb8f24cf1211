package runtime

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/kensa-sec/kensa/internal/manifest"
	"github.com/kensa-sec/kensa/internal/rules"
	"github.com/kensa-sec/kensa/internal/testimages"
)

// TestComposeCorpus loads and checks every compose file of the shared
// corpus: no error, every file yields services, every finding is
// catalogued, names a line inside the file and carries a fix. The counts
// per rule are logged (the noisy rules of the note).
func TestComposeCorpus(t *testing.T) {
	dir := testimages.SharedCorpus("compose", "KENSA_COMPOSE_CORPUS")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("shared compose corpus not available (%v): optional extra, testdata/cases covers the rules", err)
	}
	counts := map[string]int{}
	files, services := 0, 0
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		lines := 1
		for _, b := range data {
			if b == '\n' {
				lines++
			}
		}
		c := New(testOptions())
		st, err := manifest.LoadFile(context.Background(), p, manifest.Options{}, func(w *manifest.Workload) error {
			services++
			c.Check(w)
			return nil
		})
		if err != nil {
			t.Errorf("%s: %v", e.Name(), err)
			continue
		}
		if st.Format != manifest.FormatCompose || st.Objects == 0 {
			t.Errorf("%s: read as %s with %d services", e.Name(), st.Format, st.Objects)
		}
		for _, n := range st.Notes {
			t.Logf("note: %s", n)
		}
		files++
		for _, f := range c.Finish() {
			counts[f.ID]++
			if _, ok := rules.Lookup(f.ID); !ok || f.Location.Line < 1 || f.Location.Line > lines || f.Message == "" || f.Fix == "" {
				t.Errorf("%s: malformed finding %+v", e.Name(), f)
			}
		}
	}
	if files == 0 {
		t.Fatalf("no compose files in %s", dir)
	}
	ids := make([]string, 0, len(counts))
	for id := range counts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	t.Logf("%d files, %d services", files, services)
	for _, id := range ids {
		t.Logf("%s: %d", id, counts[id])
	}
}
