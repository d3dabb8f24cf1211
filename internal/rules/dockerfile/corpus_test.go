package dockerfile

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	df "github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/rules"
	"github.com/kensa-sec/kensa/internal/testimages"
)

// isTemplate reports whether a corpus file is a template (e.g. the
// docker-library jq templates) rather than a Dockerfile.
func isTemplate(name string) bool { return strings.Contains(name, ".template.") }

// TestCorpus lints every Dockerfile of the shared corpus: no error, no
// panic, every finding well-formed. Templates must be rejected as
// "not a Dockerfile", not crash.
func TestCorpus(t *testing.T) {
	dir := testimages.SharedCorpus("dockerfiles", "KENSA_CORPUS")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("shared corpus not available (%v): optional extra, the seed corpus in testdata/fuzz covers the basics", err)
	}
	counts := map[string]int{}
	n := 0
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		f, err := df.ParseFile(p)
		if isTemplate(e.Name()) {
			if err == nil || !errors.Is(err, df.ErrNotDockerfile) {
				t.Errorf("%s: template should be rejected as not a Dockerfile, got %v", e.Name(), err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", e.Name(), err)
			continue
		}
		n++
		for _, fd := range Lint(f, Options{TrustedRegistries: []string{"docker.io/library"}}) {
			counts[fd.ID]++
			if _, ok := rules.Lookup(fd.ID); !ok || fd.Location.Line < 1 || fd.Location.Line > len(f.Lines) || fd.Message == "" || fd.Fix == "" {
				t.Errorf("%s: malformed finding %+v", e.Name(), fd)
			}
		}
	}
	if n == 0 {
		t.Fatalf("no Dockerfiles in %s", dir)
	}
	ids := make([]string, 0, len(counts))
	for id := range counts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		t.Logf("%s: %d", id, counts[id])
	}
}

// seedFiles returns the fuzz seed Dockerfiles (used when the shared corpus is absent).
func corpusFiles(tb testing.TB) [][]byte {
	var out [][]byte
	dir := testimages.SharedCorpus("dockerfiles", "KENSA_CORPUS")
	entries, err := os.ReadDir(dir)
	if err == nil {
		for _, e := range entries {
			if e.IsDir() || isTemplate(e.Name()) {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		tb.Logf("shared corpus absent: benchmarking the committed fuzz seeds")
		seeds, _ := filepath.Glob("testdata/fuzz/FuzzLint/corpus_*")
		for _, s := range seeds {
			b, _ := os.ReadFile(s)
			out = append(out, b)
		}
	}
	return out
}

// BenchmarkLintCorpus measures parse + all checks per Dockerfile of the
// corpus; files/s is the headline figure (run with GOMAXPROCS=1, see
// bench/lint.sh).
func BenchmarkLintCorpus(b *testing.B) {
	files := corpusFiles(b)
	var bytes int64
	for _, f := range files {
		bytes += int64(len(f))
	}
	b.SetBytes(bytes / int64(len(files)))
	b.ReportAllocs()
	cpu0 := processCPU()
	b.ResetTimer()
	done := 0
	for i := 0; i < b.N; i++ {
		data := files[i%len(files)]
		f, err := df.Parse("Dockerfile", data)
		if err != nil {
			b.Fatal(err)
		}
		_ = Lint(f, Options{})
		done++
	}
	b.ReportMetric(float64(done)/b.Elapsed().Seconds(), "files/s")
	// On a shared, loaded machine wall time overstates the cost: also
	// report files per CPU-second of this process (GOMAXPROCS=1: one core).
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(done)/cpu.Seconds(), "files/cpu-s")
	}
	b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "procs")
}

// FuzzLint runs the full analysis (parse + every check) on arbitrary bytes:
// it must return a parse error or findings, never panic.
func FuzzLint(f *testing.F) {
	f.Add([]byte("FROM debian\nRUN apt-get update && apt-get install -y curl | sh\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := df.Parse("Dockerfile", data)
		if err != nil {
			var pe *df.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error is not a *dockerfile.Error: %v", err)
			}
			return
		}
		for _, fd := range Lint(file, Options{TrustedRegistries: []string{"ghcr.io/acme"}}) {
			if fd.Location.Line < 1 || fd.ID == "" {
				t.Fatalf("malformed finding %+v", fd)
			}
		}
		_ = df.AlignHistory(file.HistorySteps(), []string{"RUN x", "COPY a b"})
	})
}

// processCPU returns the user+system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
