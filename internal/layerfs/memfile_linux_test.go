package layerfs

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// memFile returns an in-memory file (memfd) holding data.
func memFile(t *testing.T, data []byte) *os.File {
	t.Helper()
	fd, err := unix.MemfdCreate("layer", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "layer")
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	return f
}
