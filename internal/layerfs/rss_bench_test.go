package layerfs

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"
)

// Memory-scaling benchmarks: how the heap of a walk + merge grows with an
// image's path count and (not) with its byte count. Run with
//
//	go test -run '^$' -bench 'BenchmarkMergePaths|BenchmarkWalkBytes' -benchtime 1x ./internal/layerfs/
//
// and read the custom metrics: liveB/path is the heap the layers' entries
// plus the merged view keep after a GC (the part that grows with paths);
// peakB/path is the highest heap seen while merging (sampled), so it
// includes the merge's temporaries and GC headroom.

// heapObjects returns the bytes of live-or-unswept heap objects.
func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// peakHeap runs f and returns the highest heap seen above the starting
// point while it ran (sampled every 100µs) and the heap f's result keeps
// (measured after a GC; keep must hold on to it).
func peakHeap(f func() any) (peak, live uint64) {
	runtime.GC()
	base := heapObjects()
	var stop atomic.Bool
	var top atomic.Uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			if h := heapObjects(); h > top.Load() {
				top.Store(h)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()
	keep := f()
	stop.Store(true)
	<-done
	runtime.GC()
	after := heapObjects()
	runtime.KeepAlive(keep)
	if after > base {
		live = after - base
	}
	if m := top.Load(); m > base {
		peak = m - base
	}
	return max(peak, live), live
}

// synthLayers builds an image of n distinct file paths over three layers,
// shaped like a real one: a base layer with most files in nested folders,
// a layer adding more and rewriting 5% of the base, and a layer deleting
// 10% of the base (a whiteout each) and one folder with an opaque marker.
func synthLayers(n int) []*LayerFacts {
	p := func(i int) string {
		return fmt.Sprintf("/usr/share/pkg-%03d/lib/module-%04d/file-%07d.dat", i%500, (i/500)%1000, i)
	}
	var base, add, del []Entry
	for i := range n * 7 / 10 {
		base = append(base, Entry{Path: p(i), Type: TypeFile, Mode: 0o644, Size: int64(1000 + i%4096)})
	}
	for i := n * 7 / 10; i < n; i++ {
		add = append(add, Entry{Path: p(i), Type: TypeFile, Mode: 0o644, Size: 512})
	}
	for i := 0; i < n*7/10; i += 20 {
		add = append(add, Entry{Path: p(i), Type: TypeFile, Mode: 0o600, Size: 10})
	}
	for i := 7; i < n*7/10; i += 10 {
		del = append(del, Entry{Path: p(i), Whiteout: true})
	}
	del = append(del, Entry{Path: "/usr/share/pkg-001", Type: TypeDir, Mode: 0o755, Opaque: true})
	// Packed: sorted and unique, as a walk leaves them.
	return []*LayerFacts{{Index: 0, Entries: PackEntries(base)}, {Index: 1, Entries: PackEntries(add)}, {Index: 2, Entries: PackEntries(del)}}
}

// BenchmarkMergePaths reports the heap per path of an image's layer
// entries plus its merged view, for growing path counts. Flat B/path
// means memory linear in paths with that slope.
func BenchmarkMergePaths(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 400_000} {
		b.Run(fmt.Sprintf("paths=%d", n), func(b *testing.B) {
			var entriesLive, mergedPeak, mergedLive uint64
			var took time.Duration
			for b.Loop() {
				var layers []*LayerFacts
				_, entriesLive = peakHeap(func() any { layers = synthLayers(n); return layers })
				mergedPeak, mergedLive = peakHeap(func() any {
					t0 := time.Now()
					im := Merge(layers)
					took = time.Since(t0)
					return im
				})
				runtime.KeepAlive(layers)
			}
			b.ReportMetric(float64(took.Nanoseconds())/float64(n), "mergeNs/path")
			b.ReportMetric(float64(entriesLive)/float64(n), "entriesB/path")
			b.ReportMetric(float64(entriesLive+mergedLive)/float64(n), "liveB/path")
			b.ReportMetric(float64(entriesLive+mergedPeak)/float64(n), "peakB/path")
		})
	}
}

// tarGen writes a layer of files files of size bytes each (zeros) into w,
// generated on the fly so gigabytes never sit in memory.
func tarGen(w *io.PipeWriter, files int, size int64) {
	tw := tar.NewWriter(w)
	zero := make([]byte, 64<<10)
	for i := range files {
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("data/d%03d/f-%06d.bin", i%100, i), Typeflag: tar.TypeReg, Size: size, Mode: 0o644}); err != nil {
			w.CloseWithError(err)
			return
		}
		for left := size; left > 0; {
			n := min(left, int64(len(zero)))
			if _, err := tw.Write(zero[:n]); err != nil {
				w.CloseWithError(err)
				return
			}
			left -= n
		}
	}
	w.CloseWithError(tw.Close())
}

// BenchmarkWalkBytes walks and merges a layer of a fixed number of files
// whose size grows (2,000 files of 1 KiB to 256 KiB: 2 MB to 512 MB of
// tar) and reports the peak heap: with no analyzer wanting content it
// must not grow with the bytes (an analyzer that wants a file costs one
// buffer of the largest wanted file per walking layer, see WalkTar).
func BenchmarkWalkBytes(b *testing.B) {
	const files = 2000
	for _, size := range []int64{1 << 10, 16 << 10, 256 << 10} {
		b.Run(fmt.Sprintf("size=%dKiB", size>>10), func(b *testing.B) {
			var peak, live uint64
			for b.Loop() {
				pr, pw := io.Pipe()
				go tarGen(pw, files, size)
				peak, live = peakHeap(func() any {
					f, err := WalkTar(context.Background(), pr, 0, WalkOptions{})
					if err != nil {
						b.Fatal(err)
					}
					return Merge([]*LayerFacts{f})
				})
			}
			b.SetBytes(files * size)
			b.ReportMetric(float64(peak)/1024, "peakKiB")
			b.ReportMetric(float64(live)/files, "liveB/path")
		})
	}
}
