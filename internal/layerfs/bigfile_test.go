package layerfs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// bigChecker records a digest of every file it is offered and the most big
// buffers it ever saw alive at once.
type bigChecker struct {
	mu      sync.Mutex
	sums    map[string][32]byte
	live    atomic.Int32
	maxLive atomic.Int32
}

func (b *bigChecker) Name() string                          { return "bigchecker" }
func (b *bigChecker) Version() int                          { return 1 }
func (b *bigChecker) Wants(string, int64, fs.FileMode) bool { return true }
func (b *bigChecker) Analyze(_ context.Context, f *File, _ *LayerFacts) error {
	if int64(len(f.Content)) > bigFileSize {
		n := b.live.Add(1)
		for {
			m := b.maxLive.Load()
			if n <= m || b.maxLive.CompareAndSwap(m, n) {
				break
			}
		}
		defer b.live.Add(-1)
	}
	b.mu.Lock()
	b.sums[f.Path] = sha256.Sum256(f.Content)
	b.mu.Unlock()
	return nil
}

// TestWalkBigFiles: files above bigFileSize (large Go binaries, jars) are
// analyzed whole, one at a time across parallel layer walks; files above
// MaxFileSize are skipped and said so.
func TestWalkBigFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates ~200 MB")
	}
	bigA := bytes.Repeat([]byte("a"), bigFileSize+1)
	bigB := bytes.Repeat([]byte("b"), bigFileSize+7)
	small := "small file"
	l0 := makeTar(t, tarEntry{name: "usr/bin/a", body: string(bigA)}, tarEntry{name: "etc/x", body: small})
	l1 := makeTar(t, tarEntry{name: "usr/bin/b", body: string(bigB)}, tarEntry{name: "etc/y", body: small})
	chk := &bigChecker{sums: map[string][32]byte{}}
	res, err := Walk(context.Background(), []Blob{blobOf(0, l0, l0), blobOf(1, l1, l1)},
		WalkOptions{Analyzers: []Analyzer{chk}, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string][]byte{"/usr/bin/a": bigA, "/usr/bin/b": bigB, "/etc/x": []byte(small), "/etc/y": []byte(small)} {
		if chk.sums[p] != sha256.Sum256(want) {
			t.Errorf("%s: analyzer saw wrong or no content", p)
		}
	}
	if m := chk.maxLive.Load(); m != 1 {
		t.Errorf("%d big buffers were alive at once, want 1", m)
	}
	for _, l := range res.Layers {
		if len(l.Skipped) != 0 {
			t.Errorf("layer %d skipped %v under the default cap", l.Index, l.Skipped)
		}
	}

	// Above MaxFileSize: skipped with the reason, the walk goes on.
	chk = &bigChecker{sums: map[string][32]byte{}}
	res, err = Walk(context.Background(), []Blob{blobOf(0, l0, l0)},
		WalkOptions{Analyzers: []Analyzer{chk}, MaxFileSize: bigFileSize})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := chk.sums["/usr/bin/a"]; ok {
		t.Error("file above MaxFileSize was analyzed")
	}
	if _, ok := chk.sums["/etc/x"]; !ok {
		t.Error("small file after the skipped one was not analyzed")
	}
	if s := res.Layers[0].Skipped; len(s) != 1 || s[0].Path != "/usr/bin/a" || !strings.Contains(s[0].Reason, "--max-file-size") {
		t.Errorf("skipped = %+v", s)
	}
}
