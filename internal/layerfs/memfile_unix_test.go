//go:build unix && !linux

package layerfs

import (
	"os"
	"path/filepath"
	"testing"
)

// memFile returns a temporary file holding data.
func memFile(t *testing.T, data []byte) *os.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "layer.tar")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
