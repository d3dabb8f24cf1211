//go:build unix

package layerfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// bigLayer is a layer above mapMinSize: small files, links, a whiteout,
// and two files of pseudo-random bytes, one of them above
// StreamThreshold.
func bigLayer(t *testing.T) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	blob := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return string(b)
	}
	entries := []tarEntry{
		{name: "etc/", typ: '5', mode: 0o755},
		{name: "etc/os-release", body: "ID=debian\nVERSION_ID=12\n"},
		{name: "usr/bin/tool", mode: 0o755, body: blob(3 << 20)},
		{name: "usr/bin/tool2", typ: '2', link: "tool"},
		{name: "usr/lib/big.bin", body: blob(StreamThreshold + 12345)},
		{name: "var/.wh.gone"},
	}
	for i := range 200 {
		entries = append(entries, tarEntry{name: fmt.Sprintf("srv/f%03d.txt", i), body: blob(rng.IntN(9000))})
	}
	return makeTar(t, entries...)
}

// fileBlob writes data to a file at offset off (the rest zero) and
// returns a blob reading data back as a section of that file, the way
// an uncompressed docker-archive member is read.
func fileBlob(t *testing.T, data []byte, off int64) Blob {
	t.Helper()
	p := filepath.Join(t.TempDir(), "archive")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data, off); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 777), off+int64(len(data))); err != nil { // the archive goes on
		t.Fatal(err)
	}
	f.Close()
	return Blob{Digest: sha(data), DiffID: sha(data), Open: func() (io.ReadCloser, error) {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		return sectionFile{io.NewSectionReader(f, off, int64(len(data))), f}, nil
	}}
}

type sectionFile struct {
	*io.SectionReader
	f *os.File
}

func (s sectionFile) Close() error { return s.f.Close() }

// walkBoth walks data from a mapped file section and as a plain stream
// and fails unless both give the same facts and analyzer input.
func walkBoth(t *testing.T, data []byte) (facts *LayerFacts, how map[string]string) {
	t.Helper()
	fb := fileBlob(t, data, 1000) // not on a page boundary
	rc, err := fb.Open()
	if err != nil {
		t.Fatal(err)
	}
	m := mapBlob(rc)
	if m == nil {
		t.Fatal("a file section holding an uncompressed layer was not mapped")
	}
	m.unmap()
	rc.Close()

	// A whole-file analyzer, and a Streamer that takes large files in
	// pieces (in place from a map, through a buffer otherwise).
	notBig := func(p string) bool { return p != "/usr/lib/big.bin" }
	mapped, streamed := &recorder{want: notBig}, &recorder{want: notBig}
	mappedS, streamedS := newStreamer("pieces"), newStreamer("pieces")
	resM, err := Walk(context.Background(), []Blob{fb}, WalkOptions{Analyzers: []Analyzer{mapped, mappedS}})
	if err != nil {
		t.Fatalf("mapped walk: %v", err)
	}
	resS, err := Walk(context.Background(), []Blob{blobOf(0, data, data)}, WalkOptions{Analyzers: []Analyzer{streamed, streamedS}})
	if err != nil {
		t.Fatalf("streamed walk: %v", err)
	}
	fm, fs := resM.Layers[0], resS.Layers[0]
	if fm.DiffID != sha(data) || fm.DiffID != fs.DiffID || fm.Size != fs.Size {
		t.Errorf("mapped diff_id %s size %d, streamed %s size %d, want %s", fm.DiffID, fm.Size, fs.DiffID, fs.Size, sha(data))
	}
	if !reflect.DeepEqual(entryMap(fm), entryMap(fs)) {
		t.Error("mapped and streamed walks list different entries")
	}
	if len(mapped.seen) == 0 || !reflect.DeepEqual(mapped.seen, streamed.seen) {
		t.Errorf("analyzers saw %d files mapped, %d streamed, or different content", len(mapped.seen), len(streamed.seen))
	}
	if len(mappedS.sums) == 0 || !reflect.DeepEqual(mappedS.sums, streamedS.sums) || !reflect.DeepEqual(mappedS.how, streamedS.how) || mappedS.maxLen != streamedS.maxLen {
		t.Errorf("the streamer was given different content mapped (%d files, pieces up to %d) and streamed (%d, %d)", len(mappedS.sums), mappedS.maxLen, len(streamedS.sums), streamedS.maxLen)
	}
	if !reflect.DeepEqual(fm.Skipped, fs.Skipped) {
		t.Errorf("skips differ: mapped %v, streamed %v", fm.Skipped, fs.Skipped)
	}
	return fm, mappedS.how
}

func TestWalkMappedMatchesStream(t *testing.T) {
	f, how := walkBoth(t, bigLayer(t))
	if e, ok := entryMap(f)["/usr/lib/big.bin"]; !ok || e.Size <= StreamThreshold {
		t.Error("the streamed file is missing")
	}
	if how["/usr/lib/big.bin"] != "stream" {
		t.Errorf("big.bin reached the streamer %q, want in pieces", how["/usr/lib/big.bin"])
	}
}

// TestWalkMappedSparse: GNU tar's sparse files (old GNU and PAX forms)
// store a map and fragments, not the file's bytes, so a mapped walk must
// not hand out the stored bytes in place. The sparse file comes first, so
// its stated size fits in what follows it.
func TestWalkMappedSparse(t *testing.T) {
	for _, format := range []string{"posix", "gnu"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			if err := os.MkdirAll(src, 0o755); err != nil {
				t.Fatal(err)
			}
			filler := bytes.Repeat([]byte("0123456789abcdef"), (mapMinSize+4096)/16)
			if err := os.WriteFile(filepath.Join(src, "b-filler"), filler, 0o644); err != nil {
				t.Fatal(err)
			}
			sp, err := os.Create(filepath.Join(src, "a-sparse"))
			if err != nil {
				t.Fatal(err)
			}
			for _, off := range []int64{0, 1 << 20, 3 << 20} {
				if _, err := sp.WriteAt([]byte(fmt.Sprintf("data at %d\n", off)), off); err != nil {
					t.Fatal(err)
				}
			}
			sp.Close()
			if err := os.WriteFile(filepath.Join(src, "c-after"), []byte("after the sparse file\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "layer.tar")
			cmd := exec.Command("tar", "--sparse", "--format="+format, "-C", src, "-cf", out, "a-sparse", "b-filler", "c-after")
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("GNU tar: %v\n%s", err, b)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(data, []byte("GNU.sparse")) && format == "posix" {
				t.Fatal("GNU tar wrote no PAX sparse records")
			}
			walkBoth(t, data)
		})
	}
}

func TestWalkMappedDigests(t *testing.T) {
	layer := bigLayer(t)
	good := fileBlob(t, layer, 0)
	for _, c := range []struct {
		name string
		edit func(b *Blob)
		want string
	}{
		{"wrong diff_id", func(b *Blob) { b.DiffID = sha([]byte("other")) }, "diff_id"},
		{"wrong digest", func(b *Blob) { b.Digest = sha([]byte("nope")) }, "not its digest"},
	} {
		b := good
		c.edit(&b)
		if _, err := Walk(context.Background(), []Blob{b}, WalkOptions{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	tampered := append([]byte(nil), layer...)
	i := bytes.Index(tampered, []byte("VERSION_ID=12"))
	tampered[i+len("VERSION_ID=")] = '9'
	b := fileBlob(t, tampered, 0)
	b.DiffID, b.Digest = sha(layer), sha(layer)
	if _, err := Walk(context.Background(), []Blob{b}, WalkOptions{}); err == nil || !strings.Contains(err.Error(), "diff_id") {
		t.Errorf("tampered layer: err = %v", err)
	}
	_, err := Walk(context.Background(), []Blob{good}, WalkOptions{MaxLayerBytes: 1 << 20})
	if !errors.Is(err, ErrLimit) {
		t.Errorf("layer over MaxLayerBytes: err = %v", err)
	}
}

// TestStartVerifiesBeforeCaching: Start hands out a tampered mapped
// layer's facts before its hash is checked, but Wait reports the layer
// and the cache never gets the facts; a sound layer's are cached.
func TestStartVerifiesBeforeCaching(t *testing.T) {
	layer := bigLayer(t)
	tampered := append([]byte(nil), layer...)
	i := bytes.Index(tampered, []byte("VERSION_ID=12"))
	tampered[i+len("VERSION_ID=")] = '9'
	b := fileBlob(t, tampered, 0)
	b.DiffID, b.Digest = sha(layer), sha(layer)
	cache := &Cache{Dir: t.TempDir()}
	o := WalkOptions{Cache: cache}
	p, err := Start(context.Background(), []Blob{b}, o)
	if err != nil {
		t.Fatalf("Start: %v (the tar walk itself succeeds)", err)
	}
	if p.Result.Layers[0] == nil || p.Result.Layers[0].DiffID != b.DiffID {
		t.Fatal("Start returned no facts for the layer")
	}
	var le *LayerError
	if _, err := p.Wait(); !errors.As(err, &le) || !strings.Contains(err.Error(), "diff_id") {
		t.Fatalf("Wait: err = %v, want a diff_id LayerError", err)
	}
	key := cache.Key(b.DiffID, b.Digest, o.withDefaults())
	if _, ok := cache.Get(key, b.DiffID); ok {
		t.Fatal("the tampered layer's facts were cached")
	}
	good := fileBlob(t, layer, 0)
	if _, err := Walk(context.Background(), []Blob{good}, o); err != nil {
		t.Fatal(err)
	}
	if _, ok := cache.Get(key, good.DiffID); !ok {
		t.Fatal("the sound layer's facts were not cached")
	}
}

// TestWalkMappedTruncated: a file cut short while it is mapped gives an
// error naming what happened, not a SIGBUS crash.
func TestWalkMappedTruncated(t *testing.T) {
	layer := bigLayer(t)
	p := filepath.Join(t.TempDir(), "layer.tar")
	if err := os.WriteFile(p, layer, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := mapBlob(f)
	if m == nil {
		t.Fatal("not mapped")
	}
	if err := os.Truncate(p, 64<<10); err != nil {
		t.Fatal(err)
	}
	_, _, err = walkMapped(context.Background(), Blob{DiffID: sha(layer), Digest: sha(layer)}, WalkOptions{}.withDefaults(), nil, m)
	if !errors.Is(err, errMapFault) {
		t.Fatalf("err = %v, want the map-fault error", err)
	}
}

// scribbler writes into the content it is given.
type scribbler struct{}

func (scribbler) Name() string                                { return "scribbler" }
func (scribbler) Version() int                                { return 1 }
func (scribbler) Wants(p string, _ int64, _ os.FileMode) bool { return p == "/usr/bin/tool" }
func (scribbler) Analyze(_ context.Context, f *File, _ *LayerFacts) error {
	f.Content[0] = 'X'
	return nil
}

// TestWalkMappedContentReadOnly: mapped content is read-only; an
// analyzer writing to it fails alone, as a skip, and the walk goes on.
func TestWalkMappedContentReadOnly(t *testing.T) {
	res, err := Walk(context.Background(), []Blob{fileBlob(t, bigLayer(t), 0)}, WalkOptions{Analyzers: []Analyzer{scribbler{}}})
	if err != nil {
		t.Fatal(err)
	}
	sk := res.Layers[0].Skipped
	if len(sk) != 1 || sk[0].Path != "/usr/bin/tool" || !strings.Contains(sk[0].Reason, "scribbler") {
		t.Errorf("skips = %+v, want the scribbler's failure on /usr/bin/tool", sk)
	}
}

// rssFile is this process's resident file-backed memory (Linux), or -1.
func rssFile() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "RssFile:"); ok {
			var kb int64
			if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb); err == nil {
				return kb << 10
			}
		}
	}
	return -1
}

// peakSink records the process's peak file-backed RSS while it is fed.
type peakSink struct {
	s    *peakStreamer
	seen int64
}

func (k *peakSink) Write(p []byte) {
	time.Sleep(time.Millisecond) // slower than the hasher, which runs ahead
	k.seen += int64(len(p))
	for i := 0; i < len(p); i += 4096 { // touch every page, as a scanner does
		k.s.sum += int(p[i])
	}
	k.s.peak = max(k.s.peak, rssFile())
}

func (k *peakSink) Close(context.Context, *LayerFacts) error { k.s.total += k.seen; return nil }

type peakStreamer struct {
	peak, total int64
	sum         int
}

func (*peakStreamer) Name() string                                      { return "peak" }
func (*peakStreamer) Version() int                                      { return 1 }
func (*peakStreamer) Wants(string, int64, os.FileMode) bool             { return true }
func (*peakStreamer) Analyze(context.Context, *File, *LayerFacts) error { return nil }
func (s *peakStreamer) Stream(*File) Sink                               { return &peakSink{s: s} }

// TestWalkMappedMemoryBounded: a file streamed in place from a mapped
// layer costs the pages of a few pieces, not its size, and the whole
// walk keeps few of the layer's pages resident.
func TestWalkMappedMemoryBounded(t *testing.T) {
	if rssFile() < 0 {
		t.Skip("no /proc/self/status RssFile here")
	}
	const size = 96 << 20
	body := bytes.Repeat([]byte("not a secret, just bytes\n"), size/25)
	layer := makeTar(t, tarEntry{name: "srv/huge.log", body: string(body)})
	b := fileBlob(t, layer, 0)
	before := rssFile()
	s := &peakStreamer{}
	if _, err := Walk(context.Background(), []Blob{b}, WalkOptions{Analyzers: []Analyzer{s}}); err != nil {
		t.Fatal(err)
	}
	if s.total != int64(len(body)) {
		t.Fatalf("the sink saw %d bytes, want %d", s.total, len(body))
	}
	if grew := s.peak - before; grew > 48<<20 {
		t.Errorf("file-backed RSS grew by %d MB while a %d MB file streamed, want under 48", grew>>20, size>>20)
	}
}

// walkMappedTar maps layer from a file, whatever its size, and hands fn
// a reader over the map. The file is an in-memory one where the system
// has them (fuzzing calls this for every input).
func walkMappedTar(t *testing.T, layer []byte, fn func(io.Reader)) {
	t.Helper()
	if len(layer) == 0 {
		return // nothing to map
	}
	f := memFile(t, layer)
	defer f.Close()
	m := mapSection(f, 0, int64(len(layer)))
	if m == nil {
		t.Fatal("map failed")
	}
	defer m.unmap()
	fn(newMapReader(context.Background(), m))
}
