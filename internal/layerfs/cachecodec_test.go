package layerfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/inventory"
)

// codecFacts is a layer with every kind of entry and every side field.
func codecFacts() *LayerFacts {
	return &LayerFacts{
		Index: 3, Digest: "sha256:aa", DiffID: "sha256:bb", Size: 1234,
		Entries: PackEntries([]Entry{
			{Path: "/", Type: TypeDir, Mode: 0o755},
			{Path: "/etc", Type: TypeDir, Mode: 0o755, Opaque: true},
			{Path: "/etc/passwd", Type: TypeFile, Mode: 0o644, Size: 1000, UID: 0, GID: 0},
			{Path: "/etc/passwd-", Type: TypeFile, Mode: 0o600 | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky, Size: 1 << 40, UID: 65534, GID: -1},
			{Path: "/etc/shadow", Whiteout: true},
			{Path: "/usr/bin/sh", Type: TypeSymlink, Mode: 0o777, Linkname: "dash"},
			{Path: "/usr/bin/sh2", Type: TypeHardlink, Mode: 0o755, Linkname: "/usr/bin/dash"},
			{Path: "/dev/null", Type: TypeOther, Mode: 0o666},
			{Path: "/é/ünïcode", Type: TypeFile, Mode: 0o644, Size: 1},
		}),
		Packages: []inventory.Package{{Name: "x", Version: "1", Ecosystem: "Debian", Type: "deb", PURL: "pkg:deb/x@1", Path: "/var/lib/dpkg/status", Layer: 3}},
		OS:       &inventory.OS{ID: "debian", VersionID: "12"},
		Findings: []finding.Finding{{Kind: finding.KindSecret, ID: "KS-SE-x", Severity: finding.SeverityHigh, Message: "m", Location: finding.Location{Path: "/etc/passwd", Line: 2}}},
		Files:    map[string][]byte{"/etc/passwd": []byte("root:x:0:0\n")},
		Skipped:  []Skip{{Path: "/big", Reason: "too big"}},
	}
}

func TestCacheCodecRoundTrip(t *testing.T) {
	for _, f := range []*LayerFacts{codecFacts(), {Entries: PackEntries([]Entry{})}} {
		b, err := encodeFacts(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeFacts(b)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !reflect.DeepEqual(got, f) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, f)
		}
	}
}

func TestCacheCodecCorrupt(t *testing.T) {
	good, err := encodeFacts(codecFacts())
	if err != nil {
		t.Fatal(err)
	}
	empty, _ := encodeFacts(&LayerFacts{Entries: PackEntries([]Entry{})})
	cases := map[string][]byte{
		"empty":      nil,
		"old json":   []byte(`{"index":0,"entries":[]}`),
		"format":     append(append([]byte(cacheMagic), cacheFormat+1), good[len(cacheMagic)+1:]...),
		"trailing":   append(append([]byte(nil), good...), 0),
		"huge count": append(append([]byte(nil), empty[:len(empty)-1]...), 0xff, 0xff, 0xff, 0xff, 0x0f),
		"bad prefix": append(append([]byte(nil), empty[:len(empty)-1]...), 1, 5, 1, 'x', 0, 0, 0, 0, 0, 0),
	}
	cases["path bomb"] = pathBomb()
	// Every truncation fails cleanly.
	for n := len(cacheMagic) + 1; n < len(good); n += 7 {
		if _, err := decodeFacts(good[:n]); err == nil {
			t.Errorf("truncated at %d of %d: no error", n, len(good))
		}
	}
	for name, b := range cases {
		if _, err := decodeFacts(b); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: err %v, want errCorrupt", name, err)
		}
	}
}

// pathBomb is a small cache file whose prefix-shared paths would expand
// to hundreds of megabytes: a 100 KB path, then 2,000 entries each
// sharing all of the previous path and adding a byte.
func pathBomb() []byte {
	b, _ := encodeFacts(&LayerFacts{Entries: PackEntries([]Entry{})})
	b = b[:len(b)-1] // drop the entry count
	const n = 2001
	b = binary.AppendUvarint(b, n)
	long := "/" + strings.Repeat("a", 100_000)
	entry := func(shared int, suffix string) {
		b = binary.AppendUvarint(b, uint64(shared))
		b = binary.AppendUvarint(b, uint64(len(suffix)))
		b = append(b, suffix...)
		b = append(b, byte(TypeFile), 0, 0x80, 0x03, 0, 0, 0) // type, flags, mode 0o600, size, uid, gid
	}
	entry(0, long)
	for i := range n - 1 {
		entry(len(long)+i, "b")
	}
	return b
}

// FuzzDecodeFacts: arbitrary bytes never panic the decoder, and whatever
// decodes re-encodes to the same facts.
func FuzzDecodeFacts(f *testing.F) {
	good, _ := encodeFacts(codecFacts())
	f.Add(good)
	empty, _ := encodeFacts(&LayerFacts{Entries: PackEntries([]Entry{})})
	f.Add(empty)
	f.Fuzz(func(t *testing.T, b []byte) {
		facts, err := decodeFacts(b)
		if err != nil {
			return
		}
		again, err := encodeFacts(facts)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		back, err := decodeFacts(again)
		if err != nil {
			t.Fatalf("decode of re-encoded facts: %v", err)
		}
		if back.Entries.Len() != facts.Entries.Len() || !bytes.Equal(mustEncode(t, back), again) {
			t.Fatal("re-encoded facts differ")
		}
	})
}

func mustEncode(t *testing.T, f *LayerFacts) []byte {
	t.Helper()
	b, err := encodeFacts(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// manyEntries is a layer of n files in nested folders, like a big image's.
func manyEntries(n int) *LayerFacts {
	es := make([]Entry, 0, n)
	for i := range n {
		es = append(es, Entry{Path: fmt.Sprintf("/usr/share/data/dir-%03d/file-%06d.txt", i/1000, i), Type: TypeFile, Mode: 0o644, Size: int64(i % 5000)})
	}
	return &LayerFacts{DiffID: "sha256:bb", Entries: PackEntries(es)}
}

// BenchmarkCacheDecode measures reading a 100,000-entry layer from the
// binary cache format (checking it; the entries stay packed).
func BenchmarkCacheDecode(b *testing.B) {
	f := manyEntries(100000)
	bin, _ := encodeFacts(f)
	b.Run("binary", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(bin)))
		for b.Loop() {
			if _, err := decodeFacts(bin); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		peak, kept := peakHeap(func() any {
			g, _ := decodeFacts(bin)
			return g
		})
		b.ReportMetric(float64(kept)/float64(f.Entries.Len()), "heapB/entry")
		b.ReportMetric(float64(peak)/float64(f.Entries.Len()), "peakB/entry")
	})
}
