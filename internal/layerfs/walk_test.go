package layerfs

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// tarEntry describes one member of a hand-made layer.
type tarEntry struct {
	name, link string
	typ        byte
	mode       int64
	body       string
}

func makeTar(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: typ, Mode: mode, Format: tar.FormatPAX}
		if typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func blobOf(index int, stored, uncompressed []byte) Blob {
	return Blob{Index: index, Digest: sha(stored), DiffID: sha(uncompressed), Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(stored)), nil
	}}
}

// recorder is an analyzer that records what it was offered.
type recorder struct {
	want    func(p string) bool
	seen    map[string]string
	fail    bool
	panicky bool
}

func (r *recorder) Name() string { return "recorder" }
func (r *recorder) Version() int { return 1 }
func (r *recorder) Wants(p string, size int64, mode fs.FileMode) bool {
	return r.want == nil || r.want(p)
}
func (r *recorder) Analyze(_ context.Context, f *File, out *LayerFacts) error {
	if r.panicky {
		panic("boom")
	}
	if r.fail {
		return errors.New("cannot parse")
	}
	if r.seen == nil {
		r.seen = map[string]string{}
	}
	r.seen[f.Path] = string(f.Content)
	return nil
}

func entryMap(f *LayerFacts) map[string]Entry {
	m := map[string]Entry{}
	for e := range f.Entries.All() {
		m[e.Path] = e
	}
	return m
}

func TestWalkTarEntries(t *testing.T) {
	layer := makeTar(t,
		tarEntry{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		tarEntry{name: "etc/passwd", body: "root:x:0:0::/root:/bin/sh\n"},
		tarEntry{name: "usr/bin/su", body: "ELF", mode: 0o4755},
		tarEntry{name: "usr/bin/wall", body: "ELF", mode: 0o2755},
		tarEntry{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		tarEntry{name: "bin/sh", typ: tar.TypeSymlink, link: "dash"},
		tarEntry{name: "bin/ash", typ: tar.TypeLink, link: "./bin/../bin/sh"},
		tarEntry{name: "opt/.wh.gone", body: ""},
		tarEntry{name: "var/lib/.wh..wh..opq", body: ""},
		tarEntry{name: "var/lib/", typ: tar.TypeDir, mode: 0o700},
		tarEntry{name: "var/.wh..wh.plnk", typ: tar.TypeDir},
	)
	rec := &recorder{want: func(p string) bool { return p == "/etc/passwd" }}
	f, err := WalkTar(context.Background(), bytes.NewReader(layer), 3, WalkOptions{Analyzers: []Analyzer{rec}})
	if err != nil {
		t.Fatal(err)
	}
	m := entryMap(f)
	cases := []struct {
		path string
		want Entry
	}{
		{"/etc", Entry{Path: "/etc", Type: TypeDir, Mode: 0o755}},
		{"/usr/bin/su", Entry{Path: "/usr/bin/su", Type: TypeFile, Mode: 0o755 | fs.ModeSetuid, Size: 3}},
		{"/usr/bin/wall", Entry{Path: "/usr/bin/wall", Type: TypeFile, Mode: 0o755 | fs.ModeSetgid, Size: 3}},
		{"/tmp", Entry{Path: "/tmp", Type: TypeDir, Mode: 0o777 | fs.ModeSticky}},
		{"/bin/sh", Entry{Path: "/bin/sh", Type: TypeSymlink, Mode: 0o644, Linkname: "dash"}},
		{"/bin/ash", Entry{Path: "/bin/ash", Type: TypeHardlink, Mode: 0o644, Linkname: "/bin/sh"}},
		{"/opt/gone", Entry{Path: "/opt/gone", Whiteout: true}},
		{"/var/lib", Entry{Path: "/var/lib", Type: TypeDir, Mode: 0o700, Opaque: true}},
	}
	for _, c := range cases {
		if got := m[c.path]; got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.path, got, c.want)
		}
	}
	if f.Entries.Len() != len(cases)+1 { // + /etc/passwd
		t.Errorf("got %d entries, want %d: %+v", f.Entries.Len(), len(cases)+1, f.Entries)
	}
	if rec.seen["/etc/passwd"] != "root:x:0:0::/root:/bin/sh\n" || len(rec.seen) != 1 {
		t.Errorf("analyzer saw %v, want only /etc/passwd with its content", rec.seen)
	}
	if f.Index != 3 || f.Size != int64(len("root:x:0:0::/root:/bin/sh\n")+6) {
		t.Errorf("index %d size %d", f.Index, f.Size)
	}
}

// The hostile-archive suite: each case is a layer a malicious image could
// ship; each must give a bounded, correct result or a clear error.
func TestWalkHostile(t *testing.T) {
	dir := t.TempDir()
	before := listTree(t, dir)
	cases := []struct {
		name    string
		layer   []byte
		opts    WalkOptions
		wantErr string
		check   func(t *testing.T, f *LayerFacts, rec *recorder)
	}{
		{
			name:  "dotdot and absolute paths stay inside",
			layer: makeTar(t, tarEntry{name: "../../etc/shadow", body: "x"}, tarEntry{name: "/abs/file", body: "y"}, tarEntry{name: "a/../../../b", body: "z"}),
			check: func(t *testing.T, f *LayerFacts, _ *recorder) {
				m := entryMap(f)
				for _, p := range []string{"/etc/shadow", "/abs/file", "/b"} {
					if _, ok := m[p]; !ok {
						t.Errorf("missing %s in %+v", p, f.Entries.Slice())
					}
				}
				for e := range f.Entries.All() {
					if strings.Contains(e.Path, "..") || !strings.HasPrefix(e.Path, "/") {
						t.Errorf("path escaped normalization: %q", e.Path)
					}
				}
			},
		},
		{
			name: "symlink and hardlink tricks are recorded, never followed",
			layer: makeTar(t,
				tarEntry{name: "evil", typ: tar.TypeSymlink, link: "../../../../etc/passwd"},
				tarEntry{name: "evil/passwd", body: "through the link"},
				tarEntry{name: "hl", typ: tar.TypeLink, link: "../../outside"}),
			check: func(t *testing.T, f *LayerFacts, rec *recorder) {
				m := entryMap(f)
				if m["/evil"].Linkname != "../../../../etc/passwd" || m["/evil"].Type != TypeSymlink {
					t.Errorf("symlink: %+v", m["/evil"])
				}
				if m["/hl"].Linkname != "/outside" {
					t.Errorf("hardlink target not normalized: %+v", m["/hl"])
				}
				if rec.seen["/evil/passwd"] != "through the link" {
					t.Errorf("file under symlink path not read as its own path: %v", rec.seen)
				}
			},
		},
		{
			name:  "symlink loop",
			layer: makeTar(t, tarEntry{name: "a", typ: tar.TypeSymlink, link: "b"}, tarEntry{name: "b", typ: tar.TypeSymlink, link: "a"}, tarEntry{name: "self", typ: tar.TypeSymlink, link: "self"}),
			check: func(t *testing.T, f *LayerFacts, _ *recorder) {
				if f.Entries.Len() != 3 {
					t.Errorf("got %+v", f.Entries.Slice())
				}
			},
		},
		{
			name:  "file above the content cap is skipped with the reason",
			layer: makeTar(t, tarEntry{name: "big", body: strings.Repeat("x", 2000)}, tarEntry{name: "small", body: "ok"}),
			opts:  WalkOptions{MaxFileSize: 1000},
			check: func(t *testing.T, f *LayerFacts, rec *recorder) {
				if len(f.Skipped) != 1 || f.Skipped[0].Path != "/big" || !strings.Contains(f.Skipped[0].Reason, "--max-file-size") {
					t.Errorf("skipped: %+v", f.Skipped)
				}
				if _, ok := rec.seen["/big"]; ok || rec.seen["/small"] != "ok" {
					t.Errorf("seen: %v", rec.seen)
				}
				if f.Size != 2002 {
					t.Errorf("size %d", f.Size)
				}
			},
		},
		{
			name:  "sparse file with a huge logical size is bounded",
			layer: readTestdata(t, "sparse-1t.tar"), // GNU tar --sparse of a 1 TiB file
			opts:  WalkOptions{MaxFileSize: 1 << 20},
			check: func(t *testing.T, f *LayerFacts, rec *recorder) {
				if len(f.Skipped) != 1 || f.Skipped[0].Path != "/big" || f.Size != 1<<40+5 {
					t.Errorf("skipped: %+v", f.Skipped)
				}
				if len(rec.seen) != 0 {
					t.Errorf("sparse content was read: %d files", len(rec.seen))
				}
			},
		},
		{
			name:  "duplicate entries: last wins",
			layer: makeTar(t, tarEntry{name: "f", body: "first"}, tarEntry{name: "f", typ: tar.TypeSymlink, link: "x"}, tarEntry{name: "./f", body: "third!"}),
			check: func(t *testing.T, f *LayerFacts, _ *recorder) {
				if f.Entries.Len() != 1 || f.Entries.Slice()[0].Type != TypeFile || f.Entries.Slice()[0].Size != 6 {
					t.Errorf("entries: %+v", f.Entries.Slice())
				}
			},
		},
		{
			name:  "analyzer errors and panics become skips",
			layer: makeTar(t, tarEntry{name: "x", body: "data"}),
			check: nil, // covered by TestWalkAnalyzerFailures
		},
		{
			name:    "too many entries",
			layer:   makeTar(t, tarEntry{name: "a"}, tarEntry{name: "b"}, tarEntry{name: "c"}),
			opts:    WalkOptions{MaxEntries: 2},
			wantErr: "more than 2 entries",
		},
		{
			name:    "truncated tar",
			layer:   makeTar(t, tarEntry{name: "a", body: strings.Repeat("z", 5000)})[:1200],
			wantErr: "truncated",
		},
		{
			name:    "not a tar",
			layer:   bytes.Repeat([]byte("garbage!"), 200),
			wantErr: "malformed tar",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := &recorder{}
			c.opts.Analyzers = []Analyzer{rec}
			f, err := WalkTar(context.Background(), bytes.NewReader(c.layer), 0, c.opts)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if c.check != nil {
				c.check(t, f, rec)
			}
			// The same from a memory map (as a docker-archive's layer is
			// read), where content is handed out in place.
			walkMappedTar(t, c.layer, func(r io.Reader) {
				rec := &recorder{}
				c.opts.Analyzers = []Analyzer{rec}
				f, err := walkTar(context.Background(), r, 0, "", c.opts)
				if c.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), c.wantErr) {
						t.Fatalf("mapped: err = %v, want %q", err, c.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatalf("mapped: %v", err)
				}
				if c.check != nil {
					c.check(t, f, rec)
				}
			})
		})
	}
	if after := listTree(t, dir); after != before {
		t.Errorf("walk wrote files: %s", after)
	}
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func listTree(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		out = append(out, p)
		return nil
	})
	return strings.Join(out, ",")
}

func TestWalkAnalyzerFailures(t *testing.T) {
	layer := makeTar(t, tarEntry{name: "x", body: "data"})
	for _, rec := range []*recorder{{fail: true}, {panicky: true}} {
		f, err := WalkTar(context.Background(), bytes.NewReader(layer), 0, WalkOptions{Analyzers: []Analyzer{rec}})
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Skipped) != 1 || !strings.Contains(f.Skipped[0].Reason, "analyzer recorder") {
			t.Errorf("skipped: %+v", f.Skipped)
		}
	}
}

func TestWalkCompressionAndDigests(t *testing.T) {
	layer := makeTar(t, tarEntry{name: "etc/os-release", body: "ID=debian\n"})
	var zbuf bytes.Buffer
	zw, _ := zstd.NewWriter(&zbuf)
	zw.Write(layer)
	zw.Close()
	blobs := []Blob{blobOf(0, layer, layer), blobOf(1, gz(t, layer), layer), blobOf(2, zbuf.Bytes(), layer)}
	res, err := Walk(context.Background(), blobs, WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range res.Layers {
		if f.Index != i || f.DiffID != sha(layer) || f.Digest != blobs[i].Digest || f.Entries.Len() != 1 {
			t.Errorf("layer %d: %+v", i, f)
		}
	}

	bad := blobOf(0, gz(t, layer), layer)
	bad.DiffID = sha([]byte("other"))
	if _, err := Walk(context.Background(), []Blob{bad}, WalkOptions{}); err == nil || !strings.Contains(err.Error(), "diff_id") {
		t.Errorf("wrong diff_id: err = %v", err)
	}
	var le *LayerError
	bad2 := blobOf(4, gz(t, layer), layer)
	bad2.Digest = sha([]byte("nope"))
	_, err = Walk(context.Background(), []Blob{bad2}, WalkOptions{})
	if !errors.As(err, &le) || le.Index != 4 || !strings.Contains(err.Error(), "not its digest") || !strings.Contains(err.Error(), bad2.Digest) {
		t.Errorf("wrong digest: err = %v", err)
	}
	// An uncompressed blob named by its DiffID (docker save >= 25) is
	// hashed once; tampered bytes still fail, on the diff_id.
	tampered := blobOf(5, makeTar(t, tarEntry{name: "etc/os-release", body: "ID=evil!!\n"}), layer)
	tampered.Digest = tampered.DiffID
	if _, err := Walk(context.Background(), []Blob{tampered}, WalkOptions{}); err == nil || !strings.Contains(err.Error(), "diff_id") {
		t.Errorf("tampered uncompressed blob: err = %v", err)
	}
	trunc := gz(t, layer)
	trunc = trunc[:len(trunc)/2]
	if _, err := Walk(context.Background(), []Blob{blobOf(0, trunc, layer)}, WalkOptions{}); err == nil {
		t.Error("truncated gzip accepted")
	}
}

func TestWalkGzipBomb(t *testing.T) {
	// 64 MiB of zeros in one file compresses to ~64 KiB.
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	tw.WriteHeader(&tar.Header{Name: "zeros", Typeflag: tar.TypeReg, Size: 64 << 20, Mode: 0o644})
	tw.Write(make([]byte, 64<<20))
	tw.Close()
	bomb := gz(t, raw.Bytes())
	if len(bomb) > 1<<20 {
		t.Fatalf("bomb is %d bytes", len(bomb))
	}
	_, err := Walk(context.Background(), []Blob{blobOf(0, bomb, raw.Bytes())}, WalkOptions{MaxLayerBytes: 8 << 20})
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "decompression bomb") {
		t.Errorf("layer cap: err = %v", err)
	}
	two := []Blob{blobOf(0, bomb, raw.Bytes()), blobOf(1, bomb, raw.Bytes())}
	_, err = Walk(context.Background(), two, WalkOptions{MaxImageBytes: 100 << 20})
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "in the image") {
		t.Errorf("image cap: err = %v", err)
	}
}

func TestWalkManyTinyFiles(t *testing.T) {
	const n = 100_000
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for i := range n {
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("d%d/f%d", i%100, i), Typeflag: tar.TypeReg, Size: 1, Mode: 0o644})
		tw.Write([]byte{'x'})
	}
	tw.Close()
	f, err := WalkTar(context.Background(), &raw, 0, WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Entries.Len() != n || f.Size != n {
		t.Errorf("entries %d size %d", f.Entries.Len(), f.Size)
	}
}

func TestCache(t *testing.T) {
	dir := t.TempDir()
	layer := makeTar(t, tarEntry{name: "a", body: "hello"})
	opened := 0
	b := blobOf(0, gz(t, layer), layer)
	open := b.Open
	b.Open = func() (io.ReadCloser, error) { opened++; return open() }
	o := WalkOptions{Cache: &Cache{Dir: dir}, Analyzers: []Analyzer{&recorder{}}}

	res, err := Walk(context.Background(), []Blob{b}, o)
	if err != nil || res.FromCache[0] || opened != 1 {
		t.Fatalf("cold: err %v fromCache %v opened %d", err, res.FromCache, opened)
	}
	// Same layer at another position of another image: a hit, re-indexed.
	b.Index = 5
	res, err = Walk(context.Background(), []Blob{b}, o)
	if err != nil || !res.FromCache[0] || opened != 1 || res.Layers[0].Index != 5 || res.Layers[0].Entries.Len() != 1 {
		t.Fatalf("warm: err %v fromCache %v opened %d facts %+v", err, res.FromCache, opened, res.Layers[0])
	}
	// Other analyzer versions or caps miss.
	o2 := o
	o2.MaxFileSize = 10
	if res, _ := Walk(context.Background(), []Blob{b}, o2); res.FromCache[0] {
		t.Error("different --max-file-size hit the cache")
	}
	// Corrupt entries are ignored and rewritten.
	key := o.Cache.Key(b.DiffID, b.Digest, o)
	if err := os.WriteFile(o.Cache.path(key), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err = Walk(context.Background(), []Blob{b}, o)
	if err != nil || res.FromCache[0] {
		t.Fatalf("corrupt entry: err %v fromCache %v", err, res.FromCache)
	}
	if _, ok := o.Cache.Get(key, b.DiffID); !ok {
		t.Error("corrupt entry was not rewritten")
	}
	// Nothing but the cache tree was written, and no temp files remain.
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if strings.Contains(filepath.Base(p), ".tmp-") {
			t.Errorf("temp file left: %s", p)
		}
		if rel, _ := filepath.Rel(dir, p); rel != "." && !strings.HasPrefix(rel, "layers") {
			t.Errorf("unexpected path in cache dir: %s", p)
		}
		return nil
	})
	// Synthetic layers (no DiffID) are never cached.
	s := blobOf(0, layer, layer)
	s.DiffID = ""
	if res, err := Walk(context.Background(), []Blob{s}, o); err != nil || res.FromCache[0] {
		t.Fatal(err)
	}
}

func TestWalkThenMerge(t *testing.T) {
	l0 := makeTar(t, tarEntry{name: "etc/secret", body: "s3cr3t"}, tarEntry{name: "var/lib/x/old", body: "1"})
	l1 := makeTar(t, tarEntry{name: "etc/.wh.secret"}, tarEntry{name: "var/lib/x/.wh..wh..opq"}, tarEntry{name: "var/lib/x/new", body: "2"})
	res, err := Walk(context.Background(), []Blob{blobOf(0, l0, l0), blobOf(1, gz(t, l1), l1)}, WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	im := Merge(res.Layers)
	for _, p := range []string{"/etc/secret", "/var/lib/x/old"} {
		if _, ok := im.File(p); ok {
			t.Errorf("%s survived", p)
		}
		h := im.History(p)
		if len(h) != 2 || h[1].Kind != Deleted || h[1].Layer != 1 {
			t.Errorf("%s history %+v", p, h)
		}
	}
	if st, ok := im.File("/var/lib/x/new"); !ok || st.Layer != 1 {
		t.Errorf("new file: %+v", st)
	}
}

// TestWalkReusesContentBuffer checks that reusing one content buffer per
// layer never shows a file bytes of another: a large file, then smaller
// and empty ones, then a larger one again, each seen with exactly its own
// content and length.
func TestWalkReusesContentBuffer(t *testing.T) {
	big := strings.Repeat("A", 70000)
	bigger := strings.Repeat("C", 90000)
	tb := makeTar(t,
		tarEntry{name: "big", typ: tar.TypeReg, mode: 0o644, body: big},
		tarEntry{name: "small", typ: tar.TypeReg, mode: 0o644, body: "bb"},
		tarEntry{name: "empty", typ: tar.TypeReg, mode: 0o644, body: ""},
		tarEntry{name: "bigger", typ: tar.TypeReg, mode: 0o644, body: bigger},
		tarEntry{name: "tail", typ: tar.TypeReg, mode: 0o644, body: "t"},
	)
	r := &recorder{}
	if _, err := WalkTar(context.Background(), bytes.NewReader(tb), 0, WalkOptions{Analyzers: []Analyzer{r}}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"/big": big, "/small": "bb", "/empty": "", "/bigger": bigger, "/tail": "t"}
	for p, w := range want {
		if got, ok := r.seen[p]; !ok || got != w {
			t.Errorf("%s: got %d bytes (%.10q), want %d bytes", p, len(got), got, len(w))
		}
	}
}
