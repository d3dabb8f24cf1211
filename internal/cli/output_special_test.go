package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kensa-sec/kensa/internal/report"
)

// TestWriteReportIntoFIFO: --output naming an existing non-regular file
// (a FIFO here; /dev/null and /dev/stdout in real use) is written into, never
// replaced by the atomic rename.
func TestWriteReportIntoFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	got := make(chan string, 1)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- "open: " + err.Error()
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		got <- string(b)
	}()
	w, err := report.New("json", report.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := writeReport(fifo, w, testReport(), nil); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if !strings.Contains(s, `"schema_version"`) {
			t.Errorf("reader of the FIFO got %.200q, want the JSON report", s)
		}
	case <-time.After(10 * time.Second):
		t.Error("nothing was written into the FIFO")
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close() // let the reader go
		}
	}
	st, err := os.Lstat(fifo)
	if err != nil || st.Mode().Type() != os.ModeNamedPipe {
		t.Errorf("FIFO replaced: mode %v, err %v", st.Mode(), err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("files left in %s: %v", dir, ents)
	}
	// A folder is an input error, not replaced either.
	if err := writeReport(dir, w, testReport(), nil); err == nil {
		t.Error("writing the report onto a folder succeeded")
	}
}

// TestWriteReportThroughSymlink: a symlinked --output keeps pointing at the
// report; the symlink's target is what gets replaced.
func TestWriteReportThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.json")
	link := filepath.Join(dir, "out.json")
	os.WriteFile(target, []byte("old"), 0o644)
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	w, err := report.New("json", report.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := writeReport(link, w, testReport(), nil); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode().Type() != os.ModeSymlink {
		t.Errorf("symlink replaced by a file: %v %v", st.Mode(), err)
	}
	if b, _ := os.ReadFile(target); !strings.Contains(string(b), `"schema_version"`) {
		t.Errorf("target holds %.100q, want the report", b)
	}
}
