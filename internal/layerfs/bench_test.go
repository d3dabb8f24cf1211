package layerfs

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"testing"
)

// BenchmarkWalkTinyFiles walks a layer of 200,000 1-byte files and
// reports the memory the resulting entries hold (bytes per entry).
func BenchmarkWalkTinyFiles(b *testing.B) {
	const n = 200_000
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for i := range n {
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("usr/share/app/d%03d/file-%07d.txt", i%1000, i), Typeflag: tar.TypeReg, Size: 1, Mode: 0o644})
		tw.Write([]byte{'x'})
	}
	tw.Close()
	layer := raw.Bytes()
	b.SetBytes(int64(len(layer)))
	b.ResetTimer()
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f, err := WalkTar(context.Background(), bytes.NewReader(layer), 0, WalkOptions{})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heapB/entry")
		runtime.KeepAlive(f)
	}
}

// BenchmarkWalkGzipLayer measures the full per-layer pipeline (gunzip,
// both digests, tar walk) on a 64 MiB layer of mixed content.
func BenchmarkWalkGzipLayer(b *testing.B) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	chunk := bytes.Repeat([]byte("lorem ipsum dolor sit amet 0123456789\n"), 1<<10)
	for i := range 1600 {
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("data/%d", i), Typeflag: tar.TypeReg, Size: int64(len(chunk)), Mode: 0o644})
		tw.Write(chunk)
	}
	tw.Close()
	stored := gz(b, raw.Bytes())
	blob := blobOf(0, stored, raw.Bytes())
	b.SetBytes(int64(raw.Len()))
	b.ResetTimer()
	for range b.N {
		if _, err := Walk(context.Background(), []Blob{blob}, WalkOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	_ = io.Discard
}
