package layerfs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"hash"
	"io/fs"
	"strings"
	"sync"
	"testing"
)

// streamer is a Streamer that records, per file, a digest of what it was
// given, how (whole or in pieces) and its largest piece. It streams every
// file unless whole names it; panicAt makes its sink panic on that file.
type streamer struct {
	name    string
	whole   string
	panicAt string
	mu      sync.Mutex
	sums    map[string][32]byte
	how     map[string]string
	maxLen  int
}

func newStreamer(name string) *streamer {
	return &streamer{name: name, sums: map[string][32]byte{}, how: map[string]string{}}
}

func (s *streamer) Name() string                          { return s.name }
func (s *streamer) Version() int                          { return 1 }
func (s *streamer) Wants(string, int64, fs.FileMode) bool { return true }

func (s *streamer) Analyze(_ context.Context, f *File, _ *LayerFacts) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sums[f.Path], s.how[f.Path] = sha256.Sum256(f.Content), "whole"
	return nil
}

func (s *streamer) Stream(f *File) Sink {
	if f.Path == s.whole {
		return nil
	}
	if f.Content != nil {
		panic("Stream was given content")
	}
	return &streamSink{s: s, path: f.Path, h: sha256.New()}
}

type streamSink struct {
	s    *streamer
	path string
	h    hash.Hash
}

func (k *streamSink) Write(p []byte) {
	if k.path == k.s.panicAt {
		panic("sink broke")
	}
	k.h.Write(p)
	k.s.mu.Lock()
	k.s.maxLen = max(k.s.maxLen, len(p))
	k.s.mu.Unlock()
}

func (k *streamSink) Close(context.Context, *LayerFacts) error {
	k.s.mu.Lock()
	defer k.s.mu.Unlock()
	k.s.sums[k.path], k.s.how[k.path] = [32]byte(k.h.Sum(nil)), "stream"
	return nil
}

// TestWalkStreamsLargeFiles: a file above StreamThreshold reaches
// Streamers in pieces of at most StreamThreshold bytes when every
// analyzer wanting it streams it, and whole otherwise; small files are
// always whole; a sink that panics is recorded as a skip and the walk
// goes on.
func TestWalkStreamsLargeFiles(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 3*StreamThreshold/16+5)
	edge := bytes.Repeat([]byte("e"), StreamThreshold)
	layer := makeTar(t,
		tarEntry{name: "data/big", body: string(big)},
		tarEntry{name: "data/edge", body: string(edge)},
		tarEntry{name: "data/whole", body: string(big[1:])},
		tarEntry{name: "data/broken", body: string(big[2:])},
		tarEntry{name: "etc/small", body: "small"},
	)
	a, b := newStreamer("a"), newStreamer("b")
	b.whole, a.panicAt = "/data/whole", "/data/broken"
	res, err := Walk(context.Background(), []Blob{blobOf(0, layer, layer)}, WalkOptions{Analyzers: []Analyzer{a, b}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path    string
		content []byte
		how     string
	}{
		{"/data/big", big, "stream"},
		{"/data/edge", edge, "whole"}, // not above the threshold
		{"/data/whole", big[1:], "whole"},
		{"/etc/small", []byte("small"), "whole"},
	} {
		for _, s := range []*streamer{a, b} {
			if s.sums[tc.path] != sha256.Sum256(tc.content) || s.how[tc.path] != tc.how {
				t.Errorf("%s: analyzer %s got it %q with the wrong content or way, want %q", tc.path, s.name, s.how[tc.path], tc.how)
			}
		}
	}
	if a.maxLen > StreamThreshold || b.maxLen == 0 {
		t.Errorf("pieces up to %d bytes, want at most %d", a.maxLen, StreamThreshold)
	}
	if _, ok := a.sums["/data/broken"]; ok || b.sums["/data/broken"] != sha256.Sum256(big[2:]) {
		t.Error("a panicking sink must be dropped alone: the other analyzer still gets the file")
	}
	sk := res.Layers[0].Skipped
	if len(sk) != 1 || sk[0].Path != "/data/broken" || !strings.Contains(sk[0].Reason, "analyzer a: panic: sink broke") {
		t.Errorf("skipped = %+v", sk)
	}

	// A stream cut short is a truncated layer, like any other file.
	cut := layer[:len(layer)/3]
	if _, err := WalkTar(context.Background(), bytes.NewReader(cut), 0, WalkOptions{Analyzers: []Analyzer{a}}); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated streamed file: err = %v", err)
	}
}

// TestWalkStreamsPastContentCap: a file above MaxFileSize still reaches
// streaming analyzers in pieces; analyzers that need it whole skip it,
// and the skip names them.
func TestWalkStreamsPastContentCap(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 3*StreamThreshold)
	layer := makeTar(t, tarEntry{name: "dump.sql", body: string(big)})
	s := newStreamer("streamer")
	whole := &bigChecker{sums: map[string][32]byte{}}
	res, err := Walk(context.Background(), []Blob{blobOf(0, layer, layer)},
		WalkOptions{Analyzers: []Analyzer{s, whole}, MaxFileSize: 2 * StreamThreshold})
	if err != nil {
		t.Fatal(err)
	}
	if s.how["/dump.sql"] != "stream" || s.sums["/dump.sql"] != sha256.Sum256(big) {
		t.Errorf("streamer got the file %q, want all of it streamed", s.how["/dump.sql"])
	}
	if _, ok := whole.sums["/dump.sql"]; ok {
		t.Error("a whole-file analyzer read a file above the cap")
	}
	sk := res.Layers[0].Skipped
	if len(sk) != 1 || !strings.Contains(sk[0].Reason, "--max-file-size) for bigchecker") {
		t.Errorf("skipped = %+v", sk)
	}
}
