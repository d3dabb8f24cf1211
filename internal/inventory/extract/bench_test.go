package extract

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"syscall"
	"testing"

	"github.com/kensa-sec/kensa/internal/layerfs"
	"github.com/kensa-sec/kensa/internal/testimages"
)

// BenchmarkWants measures the analyzer's Wants, which the walk calls for
// every file of every layer, over the paths of the debian-base rootfs.
func BenchmarkWants(b *testing.B) {
	f, err := os.Open(testimages.RootfsTarball(b, testimages.DebianBase))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		b.Fatal(err)
	}
	type file struct {
		path string
		size int64
		mode os.FileMode
	}
	var files []file
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			files = append(files, file{layerfs.Clean(h.Name), h.Size, h.FileInfo().Mode()})
		}
	}
	a := Analyzer(Options{})
	cpu0 := cpuTime()
	b.ResetTimer()
	wanted := 0
	for b.Loop() {
		wanted = 0
		for _, f := range files {
			if a.Wants(f.path, f.size, f.mode) {
				wanted++
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(files)), "ns/file")
	// CPU time is steadier than wall time on a shared machine.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N*len(files)), "cpu-ns/file")
	b.ReportMetric(float64(wanted), "wanted")
	b.ReportMetric(float64(len(files)), "files")
}

// cpuTime returns the process's user+system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
