package fix

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	df "github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/testimages"
)

// TestCorpusRoundTrip fixes every Dockerfile of the shared corpus, with
// FROM digests resolved from an in-process registry holding every base
// the corpus names, and checks each result with roundTrip: the fixed file
// parses with BuildKit's parser, the fixed findings are gone, no other
// finding changed or appeared, and a second fix changes nothing.
func TestCorpusRoundTrip(t *testing.T) {
	dir := testimages.SharedCorpus("dockerfiles", "KENSA_CORPUS")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("shared corpus not available (%v); the golden cases in testdata/cases cover each fix", err)
	}
	m := newMirror(t)
	type file struct {
		name string
		data []byte
	}
	var files []file
	for _, e := range entries {
		if e.IsDir() || strings.Contains(e.Name(), ".template.") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		f, err := df.Parse(e.Name(), data)
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		for _, s := range f.Stages {
			if s.BaseStage == nil && !s.Base.Scratch && !s.Base.Unresolved && s.Base.Digest == "" {
				m.push(t, s.Base.Raw)
			}
		}
		files = append(files, file{e.Name(), data})
	}
	if len(files) == 0 {
		t.Fatalf("no Dockerfiles in %s", dir)
	}
	opts := Options{Resolver: m}
	changed, offlineChanged, total := 0, 0, map[string]int{}
	before := map[string]int{}
	for _, fl := range files {
		_, fs := lint(t, fl.data)
		for _, fd := range fs {
			before[fd.ID]++
		}
		res, err := Fix(context.Background(), fl.name, fl.data, opts)
		if err != nil {
			t.Fatalf("%s: %v", fl.name, err)
		}
		if res.Changed() {
			changed++
		}
		off, err := Fix(context.Background(), fl.name, fl.data, Options{Offline: true})
		if err != nil {
			t.Fatalf("%s offline: %v", fl.name, err)
		}
		if off.Changed() {
			offlineChanged++
		}
		for id, n := range roundTrip(t, fl.name, fl.data, res, opts) {
			total[id] += n
		}
	}
	var ids []string
	for id := range total {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	sum := 0
	for _, id := range ids {
		t.Logf("%s: %d of %d findings cleared", id, total[id], before[id])
		sum += total[id]
	}
	t.Logf("corpus: %d Dockerfiles, %d changed (%d with --offline), %d findings cleared", len(files), changed, offlineChanged, sum)
	if changed == 0 || total["KS-DF-003"] == 0 || total["KS-DF-001"] == 0 {
		t.Errorf("expected the corpus to exercise USER and digest fixes: %v", total)
	}
}

// BenchmarkFixCorpus measures Fix (offline: no digest lookups) per corpus
// Dockerfile, the re-linting that proves each fix included.
func BenchmarkFixCorpus(b *testing.B) {
	entries, err := os.ReadDir(testimages.SharedCorpus("dockerfiles", "KENSA_CORPUS"))
	if err != nil {
		b.Skipf("shared corpus not available: %v", err)
	}
	var files [][]byte
	for _, e := range entries {
		if !e.IsDir() && !strings.Contains(e.Name(), ".template.") {
			data, err := os.ReadFile(filepath.Join(testimages.SharedCorpus("dockerfiles", "KENSA_CORPUS"), e.Name()))
			if err != nil {
				b.Fatal(err)
			}
			files = append(files, data)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Fix(context.Background(), "Dockerfile", files[i%len(files)], Options{Offline: true}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "files/s")
}
