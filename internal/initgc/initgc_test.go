package initgc

import (
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"
)

// atInit is the collector's setting while this test binary's packages
// initialize (after initgc's own init).
var atInit = func() int {
	p := debug.SetGCPercent(-1)
	debug.SetGCPercent(p)
	return p
}()

// TestRestore: the collector is off during init, and after Restore runs
// with the setting it had before (100: this test runs without GOGC).
func TestRestore(t *testing.T) {
	if os.Getenv("GOGC") != "" {
		t.Skip("GOGC is set")
	}
	if atInit != -1 {
		t.Fatalf("during init the collector was at %d, want off (-1)", atInit)
	}
	if percent != 100 {
		t.Fatalf("the setting before init was %d, want 100", percent)
	}
	Restore()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("after Restore the collector is at %d, want 100", got)
	}
}

// TestInitOrder builds kensa and checks, from the runtime's init trace,
// that this package initializes before the heavy dependencies whose
// allocations it exists for, and that no collection runs during init.
func TestInitOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the kensa binary")
	}
	bin := t.TempDir() + "/kensa"
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/kensa-sec/kensa/cmd/kensa").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1,gctrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kensa version: %v\n%s", err, out)
	}
	lines := strings.Split(string(out), "\n")
	pos := func(prefix string) int {
		for i, l := range lines {
			if strings.HasPrefix(l, prefix) {
				return i
			}
		}
		t.Fatalf("no %q in the init trace", prefix)
		return -1
	}
	self := pos("init github.com/kensa-sec/kensa/internal/initgc ")
	for _, dep := range []string{"github.com/santhosh-tekuri/jsonschema/v6", "github.com/open-policy-agent/opa/v1/ast", "google.golang.org/grpc"} {
		if p := pos("init " + dep + " "); p < self {
			t.Errorf("%s initializes before initgc", dep)
		}
	}
	// A collection may start as soon as main turns the collector back on;
	// none may finish (and print its line) before the last init.
	last := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "init ") {
			last = i
		}
	}
	for _, l := range lines[:last] {
		if strings.HasPrefix(l, "gc ") {
			t.Errorf("a collection ran during init: %s", l)
		}
	}
}
