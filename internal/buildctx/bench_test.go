package buildctx

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// benchTree builds a synthetic 50,000-file context: 50 top-level folders
// ("pkgNN", every fifth one named "vendorNN") × 10 subfolders × 100 files.
func benchTree(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	for i := 0; i < 50; i++ {
		top := fmt.Sprintf("pkg%02d", i)
		if i%5 == 0 {
			top = fmt.Sprintf("vendor%02d", i)
		}
		for j := 0; j < 10; j++ {
			sub := filepath.Join(dir, top, fmt.Sprintf("sub%d", j))
			if err := os.MkdirAll(sub, 0o755); err != nil {
				b.Fatal(err)
			}
			for k := 0; k < 100; k++ {
				name := fmt.Sprintf("f%03d.go", k)
				if k%10 == 0 {
					name = fmt.Sprintf("keep%d.txt", k/10)
				}
				if err := os.WriteFile(filepath.Join(sub, name), nil, 0o644); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	return dir
}

// benchPatterns returns n exclusion patterns (the vendor folders first, then
// patterns that match nothing, so every path pays for all of them) and e
// exceptions, either plain paths or wildcards.
func benchPatterns(n, e int, wildcard bool) []string {
	var ps []string
	for i := 0; i < 50 && len(ps) < n; i += 5 {
		ps = append(ps, fmt.Sprintf("vendor%02d", i))
	}
	for i := 0; len(ps) < n; i++ {
		switch i % 3 {
		case 0:
			ps = append(ps, fmt.Sprintf("**/*.tmp%d", i))
		case 1:
			ps = append(ps, fmt.Sprintf("pkg*/cache%d", i))
		default:
			ps = append(ps, fmt.Sprintf("build%d", i))
		}
	}
	for i := 0; i < e; i++ {
		if wildcard {
			ps = append(ps, fmt.Sprintf("!**/keep%d.txt", i))
		} else {
			ps = append(ps, fmt.Sprintf("!vendor%02d/sub%d/keep%d.txt", (i*5)%50, i%10, i))
		}
	}
	return ps
}

// BenchmarkWalk measures one context walk over 50k files with 10 vs 100
// patterns and 0 vs 10 exceptions (plain-path exceptions let excluded
// folders be pruned; wildcard ones force walking them).
func BenchmarkWalk(b *testing.B) {
	dir := benchTree(b)
	cases := []struct {
		patterns, exceptions int
		wildcard             bool
	}{
		{10, 0, false}, {10, 10, false}, {10, 10, true},
		{100, 0, false}, {100, 10, false}, {100, 10, true},
	}
	for _, tc := range cases {
		kind := "plain"
		if tc.wildcard {
			kind = "wildcard"
		}
		name := fmt.Sprintf("patterns=%d/exceptions=%d-%s", tc.patterns, tc.exceptions, kind)
		if tc.exceptions == 0 {
			name = fmt.Sprintf("patterns=%d/exceptions=0", tc.patterns)
		}
		b.Run(name, func(b *testing.B) {
			ig, err := ParseIgnore([]byte(strings.Join(benchPatterns(tc.patterns, tc.exceptions, tc.wildcard), "\n")))
			if err != nil {
				b.Fatal(err)
			}
			var st Stats
			b.ReportAllocs()
			cpu0 := cpuSeconds()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c, err := Walk(context.Background(), dir, ig)
				if err != nil {
					b.Fatal(err)
				}
				st = c.Stats
			}
			b.ReportMetric(float64(st.FilesWalked), "files-walked")
			b.ReportMetric(float64(st.FilesSent), "files-sent")
			b.StopTimer()
			cpu := cpuSeconds() - cpu0
			b.ReportMetric(float64(st.FilesWalked)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
			if cpu > 0 {
				b.ReportMetric(float64(st.FilesWalked)*float64(b.N)/cpu, "files/cpu-s")
			}
		})
	}
}

// cpuSeconds is the user+system CPU time this process has used; on a
// loaded machine it measures the walk's cost better than wall time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}
