package manifest

import (
	"context"
	"io"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// peakHeap samples the live heap every millisecond until stop is closed
// and returns the largest value seen.
func peakHeap(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak {
				peak = ms.HeapAlloc
			}
			select {
			case <-stop:
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// BenchmarkStreamMemory streams n generated Deployments (from a pipe, never
// held whole) through Load and reports the peak live heap: it must stay
// flat as n grows ×100 (streamed, one document at a time).
func BenchmarkStreamMemory(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run("docs="+strconv.Itoa(n), func(b *testing.B) {
			var peak uint64
			for i := 0; i < b.N; i++ {
				runtime.GC()
				stop := make(chan struct{})
				res := peakHeap(stop)
				pr, pw := io.Pipe()
				var wg sync.WaitGroup
				wg.Add(1)
				go func() { defer wg.Done(); genStream(pw, n); pw.Close() }()
				count := 0
				if _, err := Load(context.Background(), "big.yaml", pr, Options{}, func(*Workload) error { count++; return nil }); err != nil {
					b.Fatal(err)
				}
				wg.Wait()
				close(stop)
				if p := <-res; p > peak {
					peak = p
				}
				if count != n {
					b.Fatalf("%d objects of %d", count, n)
				}
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
		})
	}
}
