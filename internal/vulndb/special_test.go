package vulndb

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestNewBuilderRefusesSpecialFiles: the database is renamed into place, so
// a --db that names a device, FIFO or folder is refused, never replaced.
func TestNewBuilderRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	for _, p := range []string{fifo, dir} {
		b, err := NewBuilder(p)
		if err == nil {
			b.Abort()
			t.Errorf("NewBuilder(%s) accepted a non-regular file", p)
			continue
		}
		if !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("NewBuilder(%s): %v", p, err)
		}
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode().Type() != os.ModeNamedPipe {
		t.Errorf("FIFO changed: %v %v", st.Mode(), err)
	}
	// A regular file (an older database) is still replaced as before.
	b, err := NewBuilder(filepath.Join(dir, "kensa.db"))
	if err != nil {
		t.Fatal(err)
	}
	b.Abort()
}
