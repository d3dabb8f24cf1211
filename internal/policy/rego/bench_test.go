package rego

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/finding"
	dfrules "github.com/kensa-sec/kensa/internal/rules/dockerfile"
	"github.com/kensa-sec/kensa/internal/testimages"
)

// corpusFiles parses the shared Dockerfile corpus (testimages.SharedCorpus).
func corpusFiles(b *testing.B) []*dockerfile.File {
	b.Helper()
	dir := testimages.SharedCorpus("dockerfiles", "KENSA_CORPUS")
	ents, err := os.ReadDir(dir)
	if err != nil {
		b.Fatalf("corpus: %v (set KENSA_CORPUS)", err)
	}
	var out []*dockerfile.File
	for _, e := range ents {
		if e.IsDir() || strings.Contains(e.Name(), ".template.") {
			continue
		}
		f, err := dockerfile.ParseFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // the corpus holds a few deliberately broken files
		}
		out = append(out, f)
	}
	if len(out) < 10 {
		b.Fatalf("corpus %s: only %d Dockerfiles", dir, len(out))
	}
	return out
}

// BenchmarkCorpus measures what --policy adds to a Dockerfile scan: the
// one-time compile of the example policies, and per file the lint alone
// against lint + input conversion + evaluation. Reported per file.
func BenchmarkCorpus(b *testing.B) {
	files := corpusFiles(b)
	ctx := context.Background()
	b.Run("compile-examples", func(b *testing.B) {
		for b.Loop() {
			if _, err := Load(ctx, examplesDir); err != nil {
				b.Fatal(err)
			}
		}
	})
	e, err := Load(ctx, examplesDir)
	if err != nil {
		b.Fatal(err)
	}
	lint := func(f *dockerfile.File) *finding.Report {
		rep := finding.NewReport(f.Path, "dockerfile")
		rep.Findings = dfrules.Lint(f, dfrules.Options{})
		rep.Finalize()
		return rep
	}
	b.Run("lint", func(b *testing.B) {
		for b.Loop() {
			for _, f := range files {
				lint(f)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(files)), "µs/file")
	})
	b.Run("lint+policies", func(b *testing.B) {
		n := 0
		for b.Loop() {
			for _, f := range files {
				rep := lint(f)
				fs, err := e.Eval(ctx, NewInput(rep, Subjects{Dockerfile: f}))
				if err != nil {
					b.Fatal(err)
				}
				n += len(fs)
			}
		}
		if n == 0 {
			b.Fatal("the example policies found nothing in the corpus")
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(files)), "µs/file")
	})
}
