package fix

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden want.txt files of testdata/cases")

// TestCases fixes every testdata/cases/*/Dockerfile and compares the diff,
// the fixes applied and the notes with want.txt (regenerate with -update).
// A case's context/ folder is its build context, its layout/ folder an OCI
// layout digests are resolved from; the "offline" case runs with Offline.
// Every case must also pass the round-trip checks.
func TestCases(t *testing.T) {
	dirs, err := filepath.Glob("testdata/cases/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
			if err != nil {
				t.Fatal(err)
			}
			opts := Options{Offline: filepath.Base(dir) == "offline"}
			if st, err := os.Stat(filepath.Join(dir, "context")); err == nil && st.IsDir() {
				opts.ContextDir = filepath.Join(dir, "context")
			}
			if _, err := os.Stat(filepath.Join(dir, "layout")); err == nil {
				a, err := OpenArchives([]string{filepath.Join(dir, "layout")})
				if err != nil {
					t.Fatal(err)
				}
				opts.Resolver = a
			}
			res, err := Fix(context.Background(), "Dockerfile", data, opts)
			if err != nil {
				t.Fatal(err)
			}
			got := res.Diff() + "\n" + appliedText(res)
			golden := filepath.Join(dir, "want.txt")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got != string(want) {
				t.Errorf("fix output differs from %s:\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
			roundTrip(t, dir, data, res, opts)
		})
	}
}

// TestCRLFKept checks that lines a fix adds use the file's CRLF endings and
// that untouched bytes are identical.
func TestCRLFKept(t *testing.T) {
	data, err := os.ReadFile("testdata/cases/crlf-heredoc/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Fix(context.Background(), "Dockerfile", data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed() {
		t.Fatal("nothing fixed")
	}
	if n, crlf := strings.Count(string(res.Fixed), "\n"), strings.Count(string(res.Fixed), "\r\n"); n != crlf {
		t.Errorf("%d of %d line endings are CRLF:\n%q", crlf, n, res.Fixed)
	}
	if !strings.HasPrefix(string(res.Fixed), "FROM alpine:3.20@sha256:") {
		t.Errorf("first line changed: %q", res.Fixed)
	}
}

// TestManyFixes fixes a long file: the fixes of one round are applied and
// proven together, so every finding is cleared (not cut off by the
// bounds) and the round-trip checks hold.
func TestManyFixes(t *testing.T) {
	var b strings.Builder
	b.WriteString("FROM debian:12@sha256:0000000000000000000000000000000000000000000000000000000000000000\n")
	const n = 150
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "RUN apt-get update && apt-get install -y pkg%d=1 \\\n    && pip install x%d==1\n", i, i)
	}
	b.WriteString("USER 10001\nCMD run me\n")
	data := []byte(b.String())
	res, err := Fix(context.Background(), "Dockerfile", data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Applied) != 3*n+1 || len(res.Left) != 0 {
		t.Fatalf("%d applied, left %v", len(res.Applied), res.Left)
	}
	roundTrip(t, "many", data, res, Options{})
}
