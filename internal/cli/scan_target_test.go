package cli

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMainScanMissingOrNotAnImage covers what a new user types first: a
// path that does not exist, a reference that cannot be reached and a file
// that is not an image archive. Each is exit 2 with one line that says what
// is wrong with the input, not a DNS error or "not a Dockerfile".
func TestMainScanMissingOrNotAnImage(t *testing.T) {
	dir := isolate(t)
	noise := make([]byte, 4096)
	if _, err := rand.Read(noise); err != nil {
		t.Fatal(err)
	}
	noise[0] = 0x21 // never a gzip or zstd magic by chance
	for _, n := range []string{"random.tar", "random.bin"} {
		if err := os.WriteFile(filepath.Join(dir, n), noise, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "empty.tar"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		target  string
		want    []string
		notWant []string
	}{
		{"absolute path", "/nonexistent", []string{"/nonexistent: no such file or folder"}, []string{"registry", "index.docker.io", "lookup"}},
		{"relative archive", "./gone.tar", []string{"./gone.tar: no such file or folder"}, []string{"registry", "lookup"}},
		{"archive name", "gone.tar.gz", []string{"gone.tar.gz: no such file or folder"}, []string{"registry"}},
		{"dockerfile name", "sub/Dockerfile.prod", []string{"no such file or folder"}, []string{"registry"}},
		{"reference that does not resolve", "nosuchhost.invalid/app:1",
			[]string{"nosuchhost.invalid/app:1: no such file or folder; tried it as an image reference: registry nosuchhost.invalid: cannot resolve the host name"},
			[]string{"Get \"https://"}},
		{"random bytes named .tar", "random.tar", []string{"random.tar: not an image archive: not a tar, gzip or zstd stream: it starts with bytes 21 "}, []string{"Dockerfile"}},
		{"random bytes", "random.bin", []string{"random.bin: binary data", "not a tar, gzip or zstd stream"}, []string{"not a Dockerfile:"}},
		{"empty .tar", "empty.tar", []string{"empty.tar: not an image archive: not a tar, gzip or zstd stream: the file is empty"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := run(t, "scan", "--no-cache", c.target)
			if code != ExitBadInput || out != "" {
				t.Errorf("exit %d, stdout %q; want 2 and nothing", code, out)
			}
			if strings.Count(errOut, "\n") != 1 {
				t.Errorf("stderr is not one line: %q", errOut)
			}
			for _, w := range c.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr = %q, want %q", errOut, w)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(errOut, w) {
					t.Errorf("stderr = %q, must not say %q", errOut, w)
				}
			}
		})
	}
}
