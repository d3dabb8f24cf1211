package imagescan

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestExecutableStampIsGoBuildID: the image cache keys on the binary's Go
// build ID, read from its ELF note, which must be the one the go tool
// reports; a file that is no Go ELF binary has none.
func TestExecutableStampIsGoBuildID(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "tool", "buildid", exe).Output()
	if err != nil {
		t.Fatalf("go tool buildid: %v", err)
	}
	want := strings.TrimSpace(string(out))
	if got := goBuildID(exe); got == "" || got != want {
		t.Errorf("goBuildID = %q, go tool buildid says %q", got, want)
	}
	if got := executableStamp(); got != "go-build-id "+want {
		t.Errorf("executableStamp = %q", got)
	}
	notELF := filepath.Join(t.TempDir(), "x")
	os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755)
	if id := goBuildID(notELF); id != "" {
		t.Errorf("build ID %q from a shell script", id)
	}
}
