package rego

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzPolicy feeds arbitrary policy source to Load and, when it
// compiles, evaluates it: every failure must be an *Error naming the
// file, never a panic or another error type.
func FuzzPolicy(f *testing.F) {
	ms, _ := filepath.Glob(filepath.Join(examplesDir, "*.rego"))
	for _, m := range ms {
		b, err := os.ReadFile(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("package p\n\ndeny contains {\"id\": 1, \"message\": \"m\"} if true\n")
	f.Add("package p\n\nwarn := [{\"message\": \"m\", \"location\": {\"line\": \"x\"}}]\n")
	f.Add("package p\n\ndeny contains x if { some x in input.dockerfile.stages }\n")
	f.Add("package p\nimport rego.v1\ndeny[x] { x := 1 }\n")
	in := &Input{Kind: "dockerfile", Target: "Dockerfile", Dockerfile: &Dockerfile{Path: "Dockerfile", Stages: []*Stage{{Base: ImageRef{Raw: "debian"}, From: &Instruction{Cmd: "from", StartLine: 1}}}}}
	val, err := InputValue(in)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		e, err := LoadSources(ctx, map[string][]byte{"fuzz.rego": []byte(src)})
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.File == "" {
				t.Fatalf("Load: %v (%T), want an *Error naming the file", err, err)
			}
			return
		}
		fs, err := e.EvalValue(ctx, val, in)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.File != "fuzz.rego" {
				t.Fatalf("Eval: %v (%T), want an *Error naming the file", err, err)
			}
			return
		}
		for _, f := range fs {
			if f.ID == "" || f.Message == "" {
				t.Fatalf("finding without ID or message: %+v", f)
			}
		}
	})
}
