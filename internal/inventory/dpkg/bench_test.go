package dpkg

import (
	"os"
	"syscall"
	"testing"
)

// BenchmarkStatus measures parsing a dpkg status file.
func BenchmarkStatus(b *testing.B) {
	in, err := os.ReadFile("testdata/status")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := (Extractor{}).Extract("/var/lib/dpkg/status", in); err != nil {
			b.Fatal(err)
		}
	}
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(int64(b.N)*int64(len(in)))/1e6/(float64(cpu)/1e9), "MB/cpu-s")
	}
}

// cpuTime returns the process's user+system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
