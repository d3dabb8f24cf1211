package secret

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time (user + system) used by this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPURate adds MB/cpu-s: throughput per CPU-second, meaningful on a
// shared machine where wall time mostly measures waiting for a core.
func reportCPURate(b *testing.B, bytesPerOp int64, start time.Duration) {
	if d := cpuTime() - start; d > 0 {
		b.ReportMetric(float64(bytesPerOp)*float64(b.N)/1e6/d.Seconds(), "MB/cpu-s")
	}
}

// benchMix builds a realistic layer-like mix: text files (config, scripts,
// source), binary-ish bytes with embedded strings, and a few secrets.
func benchMix() []byte {
	var b bytes.Buffer
	text := []byte("server:\n  listen: 0.0.0.0:8080\n  tls: true\n  log_level: info\n# the session token is read from the environment\nfunc handler(w http.ResponseWriter, r *http.Request) { token := r.Header.Get(\"X-Token\"); if token == \"\" { return } }\nexport PATH=/usr/local/bin:$PATH\nfor f in *.conf; do echo \"$f\"; done\n")
	bin := make([]byte, 4096)
	for i := range bin {
		bin[i] = byte(i*131 + i>>3)
	}
	for b.Len() < 8<<20 {
		b.Write(text)
		b.Write(bin)
		b.WriteString("\x00libc.so.6\x00GLIBC_2.34\x00__cxa_finalize\x00password\x00")
	}
	b.WriteString("\nAWS_ACCESS_KEY_ID=AKIAQ2RZ7XKPLMNB4V6W\nGITHUB_TOKEN=ghp_R8tY2uI4oP6aS8dF0gH2jK4lZ6xC8vB0nM1q\n")
	b.WriteString(pemBlock("RSA PRIVATE KEY"))
	return b.Bytes()
}

func BenchmarkScanMix(b *testing.B) {
	data := benchMix()
	b.SetBytes(int64(len(data)))
	start := cpuTime()
	for b.Loop() {
		if len(Scan(data)) < 3 {
			b.Fatal("secrets not found")
		}
	}
	reportCPURate(b, int64(len(data)), start)
}

// BenchmarkScanTree scans real files under KENSA_BENCH_TREE (e.g. an
// unpacked root filesystem) the way the analyzer would; skipped when unset.
func BenchmarkScanTree(b *testing.B) {
	root := os.Getenv("KENSA_BENCH_TREE")
	if root == "" {
		b.Skip("set KENSA_BENCH_TREE to a folder to scan")
	}
	a := Analyzer(Options{}).(*analyzer)
	var files [][]byte
	var total int64
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil || !a.Wants(p, info.Size(), info.Mode()) || total > 512<<20 {
			return nil
		}
		c, err := os.ReadFile(p)
		if err == nil {
			files = append(files, c)
			total += int64(len(c))
		}
		return nil
	})
	b.SetBytes(total)
	start := cpuTime()
	for b.Loop() {
		for _, f := range files {
			Scan(f)
		}
	}
	reportCPURate(b, total, start)
}

// benchRandom is 8 MiB of random bytes (like compressed or encrypted
// files, and the random files of bench/build-big-image.sh) with three
// secrets stored between NUL bytes, the way a binary holds string
// constants.
func benchRandom() []byte {
	b := make([]byte, 8<<20)
	rand.NewChaCha8([32]byte{1}).Read(b)
	at := len(b) / 4
	for _, s := range []string{"AKIAQ2RZ7XKPLMNB4V6W", "ghp_R8tY2uI4oP6aS8dF0gH2jK4lZ6xC8vB0nM1q", "glpat-Xr4s9QzLm2Vt7pNw3Kd8"} {
		at += copy(b[at:], "\x00"+s+"\x00") + len(b)/8
	}
	return b
}

// benchBase64 is 8 MiB of base64 lines of random bytes (`base64` output,
// as in the text layer of bench/build-big-image.sh): letters everywhere,
// so many byte pairs start a keyword.
func benchBase64() []byte {
	raw := make([]byte, 6<<20)
	rand.NewChaCha8([32]byte{2}).Read(raw)
	enc := base64.StdEncoding.EncodeToString(raw)
	var b bytes.Buffer
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteByte('\n')
		enc = enc[76:]
	}
	b.WriteString("\nGITHUB_TOKEN=ghp_R8tY2uI4oP6aS8dF0gH2jK4lZ6xC8vB0nM1q\n")
	return b.Bytes()
}

func BenchmarkScanRandom(b *testing.B) { benchScan(b, benchRandom(), 3) }

func BenchmarkScanBase64(b *testing.B) { benchScan(b, benchBase64(), 1) }

func benchScan(b *testing.B, data []byte, want int) {
	b.SetBytes(int64(len(data)))
	start := cpuTime()
	for b.Loop() {
		if n := len(Scan(data)); n < want {
			b.Fatalf("%d secrets found, want %d", n, want)
		}
	}
	reportCPURate(b, int64(len(data)), start)
}
