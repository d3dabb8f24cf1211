//go:build unix

package layerfs

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// tarEvent is what a tar reader gave for one entry (or, with Err set, how
// it stopped).
type tarEvent struct {
	Name, Linkname, Uname, Gname string
	Typeflag                     byte
	Size, Mode, ModTime          int64
	Uid, Gid                     int
	Devmajor, Devminor           int64
	PAX                          map[string]string
	Content                      string
	Err                          string
}

// errKind names an error the way the comparison needs: archive/tar and
// fastTar must stop for the same reason, not with the same words.
func errKind(err error) string {
	switch {
	case err == nil:
		return ""
	case err == io.EOF:
		return "EOF"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected EOF"
	case errors.Is(err, tar.ErrHeader):
		return "bad header"
	default:
		return "other: " + err.Error()
	}
}

// readTar reads every entry of tr. Entries at even positions have their
// content read (up to 64 KiB, then skipped), the others are skipped
// unread, so both content reads and the skipping of unread content are
// compared.
func readTar(tr tarReader) []tarEvent {
	var out []tarEvent
	for i := 0; i < 10000; i++ {
		hdr, err := tr.Next()
		if err != nil {
			return append(out, tarEvent{Err: errKind(err)})
		}
		ev := tarEvent{Name: hdr.Name, Linkname: hdr.Linkname, Uname: hdr.Uname, Gname: hdr.Gname,
			Typeflag: hdr.Typeflag, Size: hdr.Size, Mode: hdr.Mode, ModTime: hdr.ModTime.Unix(),
			Uid: hdr.Uid, Gid: hdr.Gid, Devmajor: hdr.Devmajor, Devminor: hdr.Devminor, PAX: hdr.PAXRecords}
		if len(ev.PAX) == 0 {
			ev.PAX = nil
		}
		if i%2 == 0 {
			b, err := io.ReadAll(io.LimitReader(tr, 64<<10))
			ev.Content, ev.Err = string(b), errKind(err)
		}
		out = append(out, ev)
	}
	return out
}

// compareTarReaders reads data with archive/tar and with fastTar over a
// memory map of it, and fails when they differ.
func compareTarReaders(t *testing.T, data []byte) {
	t.Helper()
	want := readTar(tar.NewReader(bytes.NewReader(data)))
	walkMappedTar(t, data, func(r io.Reader) {
		tr := newTarReader(r)
		if _, ok := tr.(*fastTar); !ok {
			t.Fatalf("a mapped layer is read by %T, not fastTar", tr)
		}
		if got := readTar(tr); !reflect.DeepEqual(got, want) {
			t.Fatalf("fastTar and archive/tar differ:\n got %+v\nwant %+v", got, want)
		}
	})
}

// tarCases are archives in every header form fastTar reads itself or
// hands to archive/tar.
func tarCases(t testing.TB) map[string][]byte {
	t.Helper()
	write := func(format tar.Format, hdrs ...*tar.Header) []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, h := range hdrs {
			h.Format = format
			if h.ModTime.IsZero() {
				h.ModTime = time.Unix(1700000000, 0)
			}
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			if h.Typeflag == tar.TypeReg {
				if _, err := io.WriteString(tw, strings.Repeat("x", int(h.Size))); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	plain := func() []*tar.Header {
		return []*tar.Header{
			{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755, Uname: "root", Gname: "root"},
			{Name: "etc/passwd", Typeflag: tar.TypeReg, Size: 10, Mode: 0o644, Uid: 1000, Gid: 1000},
			{Name: "etc/empty", Typeflag: tar.TypeReg, Mode: 0o600},
			{Name: "etc/block", Typeflag: tar.TypeReg, Size: 512, Mode: 0o600},
			{Name: "bin/sh", Typeflag: tar.TypeSymlink, Linkname: "/bin/bash", Mode: 0o777},
			{Name: "bin/rbash", Typeflag: tar.TypeLink, Linkname: "bin/bash"},
			{Name: "dev/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666},
			{Name: "run/fifo", Typeflag: tar.TypeFifo, Mode: 0o600},
			{Name: "usr/bin/su", Typeflag: tar.TypeReg, Size: 700, Mode: 0o4755},
		}
	}
	long := strings.Repeat("d/", 60) + "file" // 124 bytes: USTAR prefix, PAX or GNU long name
	cases := map[string][]byte{
		"ustar": write(tar.FormatUSTAR, append(plain(), &tar.Header{Name: long, Typeflag: tar.TypeReg, Size: 3, Mode: 0o644})...),
		"gnu":   write(tar.FormatGNU, append(plain(), &tar.Header{Name: long + long, Typeflag: tar.TypeReg, Size: 3, Mode: 0o644}, &tar.Header{Name: "big-uid", Typeflag: tar.TypeReg, Size: 1, Uid: 1 << 30, Mode: 0o644})...),
		"pax": write(tar.FormatPAX, append(plain(),
			&tar.Header{Name: long + long, Typeflag: tar.TypeReg, Size: 3, Mode: 0o644},
			&tar.Header{Name: "xattr", Typeflag: tar.TypeReg, Size: 2, Mode: 0o644, PAXRecords: map[string]string{"SCHILY.xattr.user.k": "v"}},
			&tar.Header{Name: "nanos", Typeflag: tar.TypeReg, Size: 2, Mode: 0o644, ModTime: time.Unix(1700000000, 5)},
		)...),
	}
	// A symlink whose header claims a size: archive/tar gives links no
	// content, so the next header follows at once.
	sym := write(tar.FormatUSTAR, &tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "t", Mode: 0o777}, &tar.Header{Name: "after", Typeflag: tar.TypeReg, Size: 4, Mode: 0o644})
	copy(sym[124:136], fmt.Sprintf("%011o\x00", 1024))
	copy(sym[148:156], fmt.Sprintf("%06o\x00 ", checksum(sym)))
	cases["symlink-with-size"] = sym
	// A vendor type archive/tar returns as is, content included.
	vendor := write(tar.FormatUSTAR, &tar.Header{Name: "v", Typeflag: tar.TypeReg, Size: 600, Mode: 0o644}, &tar.Header{Name: "after", Typeflag: tar.TypeReg, Size: 4, Mode: 0o644})
	vendor[156] = 'V'
	copy(vendor[148:156], fmt.Sprintf("%06o\x00 ", checksum(vendor)))
	cases["vendor-type"] = vendor
	// Broken in each way archive/tar tells apart.
	u := cases["ustar"]
	cases["truncated-content"] = u[:512*4+100]
	cases["truncated-header"] = u[:512*2+200]
	cases["cut-at-entry"] = u[:512*4]
	cases["no-end-blocks"] = u[:len(u)-1024]
	bad := bytes.Clone(u)
	bad[512+10] ^= 1 // name byte: the checksum no longer matches
	cases["bad-checksum"] = bad
	oct := bytes.Clone(u)
	copy(oct[512+100:512+108], "00064x4\x00")
	copy(oct[512+148:512+156], fmt.Sprintf("%06o\x00 ", checksum(oct[512:])))
	cases["bad-octal"] = oct
	// GNU tar's own output, sparse files included (both forms).
	if _, err := exec.LookPath("tar"); err == nil {
		for _, format := range []string{"gnu", "posix", "ustar"} {
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(src, "sub", "a"), []byte("alpha\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("sub/a", filepath.Join(src, "link")); err != nil {
				t.Fatal(err)
			}
			args := []string{"--format=" + format, "-C", src, "-cf", filepath.Join(dir, "out.tar"), "sub", "link"}
			if format != "ustar" {
				sp, err := os.Create(filepath.Join(src, "sparse"))
				if err != nil {
					t.Fatal(err)
				}
				for _, off := range []int64{0, 64 << 10, 200 << 10} {
					if _, err := sp.WriteAt([]byte("data\n"), off); err != nil {
						t.Fatal(err)
					}
				}
				sp.Close()
				args = append([]string{"--sparse"}, append(args, "sparse", "sub")...)
			}
			if b, err := exec.Command("tar", args...).CombinedOutput(); err != nil {
				t.Fatalf("GNU tar: %v\n%s", err, b)
			}
			data, err := os.ReadFile(filepath.Join(dir, "out.tar"))
			if err != nil {
				t.Fatal(err)
			}
			cases["gnutar-"+format] = data
		}
	}
	return cases
}

func TestFastTarMatchesStdlib(t *testing.T) {
	for name, data := range tarCases(t) {
		t.Run(name, func(t *testing.T) { compareTarReaders(t, data) })
	}
}

// TestFastTarReadsPlainHeaders checks that the common headers really take
// the fast path (the comparison above would pass if everything fell back).
func TestFastTarReadsPlainHeaders(t *testing.T) {
	cases := tarCases(t)
	for _, name := range []string{"ustar", "gnu", "pax", "symlink-with-size"} {
		if _, ok := plainHeader(cases[name][:blockSize]); !ok {
			t.Errorf("%s: first header not read by fastTar itself", name)
		}
	}
	if _, ok := plainHeader(cases["bad-checksum"][blockSize : 2*blockSize]); ok {
		t.Error("a header with a wrong checksum was read by fastTar itself")
	}
	if _, ok := plainHeader(cases["vendor-type"][:blockSize]); ok {
		t.Error("a vendor-type header was read by fastTar itself")
	}
}

// FuzzTarReader checks that fastTar and archive/tar give the same entries,
// content and stopping reason on any input.
func FuzzTarReader(f *testing.F) {
	for _, data := range tarCases(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		compareTarReaders(t, data)
		// A mutated header mostly fails its checksum and goes to
		// archive/tar; with the checksums made right again, mutations
		// reach fastTar's own parsing.
		compareTarReaders(t, fixChecksums(data))
	})
}

// fixChecksums returns data with the checksum of every 512-byte block
// that carries a tar magic recomputed.
func fixChecksums(data []byte) []byte {
	out := bytes.Clone(data)
	for off := 0; off+blockSize <= len(out); off += blockSize {
		blk := out[off : off+blockSize]
		if bytes.HasPrefix(blk[257:], []byte("ustar")) {
			copy(blk[148:156], fmt.Sprintf("%06o\x00 ", checksum(blk)))
		}
	}
	return out
}
