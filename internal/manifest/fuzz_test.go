package manifest

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// fuzzLoad runs Load on data: it must return workloads or an error, never
// panic, and every workload's lines must lie inside the input.
func fuzzLoad(t *testing.T, data []byte) {
	lines := bytes.Count(data, []byte("\n")) + 1
	_ = Sniff(bytes.NewReader(data))
	lim := Limits{MaxDocumentBytes: 1 << 20, MaxExpandedNodes: 100_000, MaxComposeBytes: 1 << 20}
	_, err := Load(context.Background(), "fuzz.yaml", bytes.NewReader(data), Options{Limits: lim, WorkingDir: "/nonexistent/kensa-fuzz"}, func(w *Workload) error {
		if w.Line < 1 || w.Line > lines {
			t.Fatalf("workload %s at line %d of %d", w.Describe(), w.Line, lines)
		}
		for _, c := range w.Containers {
			if c.Image.Set && (c.Image.Line < 1 || c.Image.Line > lines) {
				t.Fatalf("image line %d of %d", c.Image.Line, lines)
			}
		}
		return nil
	})
	var me *Error
	if err != nil && !errors.As(err, &me) {
		t.Fatalf("error is not a *manifest.Error: %v", err)
	}
}

// FuzzKubernetes feeds arbitrary streams (multi-document YAML).
func FuzzKubernetes(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: x\n"))
	f.Fuzz(fuzzLoad)
}

// FuzzCompose feeds arbitrary compose files (the input always starts with
// a services mapping, so the compose loader runs).
func FuzzCompose(f *testing.F) {
	f.Add([]byte("  web:\n    image: nginx\n    ports: [\"80:80\"]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzLoad(t, append([]byte("services:\n"), data...))
	})
}
