package dockerfile

import (
	"strings"
	"testing"
)

// TestScriptsDoNotShareBuffers checks that the scratch buffers RUN parsing
// reuses never leak into the model: every command owns its arguments
// (appending to one cannot overwrite another's), and a second file parsed
// with the same pooled parser leaves the first file's commands intact.
func TestScriptsDoNotShareBuffers(t *testing.T) {
	src := "FROM debian\n" +
		"RUN apt-get update && apt-get install -y curl git | tee log; sh -c 'echo nested x'\n" +
		"RUN [\"sh\", \"-c\", \"rm -rf /tmp/a && echo b\"]\n" +
		"RUN echo \"$(id -u)\" 'quoted arg' && (cd /x; make)\n"
	f, err := Parse("Dockerfile", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	snapshot := func() []string {
		var out []string
		for _, in := range f.Instructions {
			if in.Script == nil {
				continue
			}
			for _, c := range in.Script.Commands {
				out = append(out, strings.Join(c.Args, "\x00"))
			}
		}
		return out
	}
	before := snapshot()
	want := []string{"apt-get\x00update", "apt-get\x00install\x00-y\x00curl\x00git", "tee\x00log", "sh\x00-c\x00echo nested x", "echo\x00nested\x00x"}
	if len(before) < len(want) {
		t.Fatalf("commands = %q, want at least %q", before, want)
	}
	for i, w := range want {
		if before[i] != w {
			t.Errorf("command %d = %q, want %q", i, before[i], w)
		}
	}
	// Appending to each command's Args must not write into a neighbour's.
	for _, in := range f.Instructions {
		if in.Script == nil {
			continue
		}
		for i := range in.Script.Commands {
			c := &in.Script.Commands[i]
			_ = append(c.Args, "CLOBBER")
		}
	}
	// Parse another file: it reuses the pooled parser and scratch.
	if _, err := Parse("Other", []byte("FROM alpine\nRUN apk add --no-cache a b c d e f g h && echo 1 2 3 4 5 6 7 8 9\n")); err != nil {
		t.Fatal(err)
	}
	after := snapshot()
	if strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("commands changed after appends and another parse:\nbefore %q\nafter  %q", before, after)
	}
}
