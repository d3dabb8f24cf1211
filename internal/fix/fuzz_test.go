package fix

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	df "github.com/kensa-sec/kensa/internal/dockerfile"
)

// emptyArchives resolves nothing: the digest path runs and fails cleanly.
var emptyArchives = &Archives{refs: map[string]string{}}

// FuzzFix runs Fix on arbitrary bytes: it never panics; input the parser
// rejects is an error; for input it accepts, the fixed file parses too
// (with BuildKit's instruction parser as well, when the input did) and a
// second fix changes nothing. Seeds: testdata/fuzz/FuzzFix and the
// golden cases.
func FuzzFix(f *testing.F) {
	cases, _ := filepath.Glob("testdata/cases/*/Dockerfile")
	for _, c := range cases {
		if b, err := os.ReadFile(c); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := Options{Resolver: emptyArchives, ContextDir: t.TempDir()}
		res, err := Fix(context.Background(), "Dockerfile", data, opts)
		if _, perr := df.Parse("Dockerfile", data); perr != nil {
			var pe *df.Error
			if err == nil || !errors.As(err, &pe) {
				t.Fatalf("input does not parse (%v) but Fix returned %v", perr, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Fix of a parsed file: %v", err)
		}
		if _, err := df.Parse("Dockerfile", res.Fixed); err != nil {
			t.Fatalf("fixed file does not parse: %v\ninput:\n%q\nfixed:\n%q", err, data, res.Fixed)
		}
		if buildkitInstructions(data) == nil {
			if err := buildkitInstructions(res.Fixed); err != nil {
				t.Fatalf("BuildKit's instruction parser rejects the fixed file: %v\ninput:\n%q\nfixed:\n%q", err, data, res.Fixed)
			}
		}
		again, err := Fix(context.Background(), "Dockerfile", res.Fixed, opts)
		if err != nil {
			t.Fatalf("second Fix: %v", err)
		}
		if again.Changed() {
			t.Fatalf("second Fix changed the file:\n%s", again.Diff())
		}
		if res.Changed() && res.Diff() == "" || !res.Changed() && res.Diff() != "" {
			t.Fatal("Diff disagrees with Changed")
		}
	})
}
