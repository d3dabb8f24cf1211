package source

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// blobStore reads named files of an image container: a folder, or the
// members of a tar archive.
type blobStore interface {
	// open returns the named file and its size.
	open(name string) (io.ReadCloser, int64, error)
	// has reports whether the named file exists.
	has(name string) bool
}

// dirStore reads files under a folder, never escaping it (os.Root refuses
// symlinks and ".." that lead outside).
type dirStore struct{ root *os.Root }

func (d dirStore) open(name string) (io.ReadCloser, int64, error) {
	f, err := d.root.Open(cleanMember(name))
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s: not a regular file", name)
	}
	return f, st.Size(), nil
}

func (d dirStore) has(name string) bool {
	st, err := d.root.Stat(cleanMember(name))
	return err == nil && st.Mode().IsRegular()
}

// member is where one regular file of an uncompressed tar lives.
type member struct {
	off, size int64
}

// tarStore reads the members of a tar archive. Uncompressed archives are
// indexed once and members are read in place (io.SectionReader, safe for
// parallel readers); compressed archives are rescanned per open.
type tarStore struct {
	ra      io.ReaderAt
	size    int64
	closer  io.Closer
	members map[string]member
	links   map[string]string // symlink and hardlink members → target
	compr   string            // "", "gzip", "zstd"
}

// cleanMember normalizes a member name ("./a//b" → "a/b").
func cleanMember(name string) string {
	c := path.Clean("/" + strings.TrimPrefix(name, "./"))
	return strings.TrimPrefix(c, "/")
}

// maxArchiveMembers bounds the index of an image archive (image archives
// hold a few files per layer; more means this is no image archive).
const maxArchiveMembers = 1 << 20

// newTarStore indexes the archive file at p.
func newTarStore(p string) (*tarStore, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	s, err := newTarStoreAt(f, st.Size())
	if err != nil {
		f.Close()
		return nil, err
	}
	s.closer = f
	return s, nil
}

// newTarStoreAt indexes the archive held by ra (size bytes).
func newTarStoreAt(ra io.ReaderAt, size int64) (*tarStore, error) {
	head := make([]byte, 4)
	n, _ := ra.ReadAt(head, 0)
	s := &tarStore{ra: ra, size: size, members: map[string]member{}, links: map[string]string{}}
	switch {
	case n >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		s.compr = "gzip"
	case n == 4 && bytes.Equal(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		s.compr = "zstd"
	}
	if s.compr != "" {
		rc, err := s.decompress(io.NewSectionReader(ra, 0, size))
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		if err := s.index(tar.NewReader(rc), nil); err != nil {
			return nil, err
		}
		return s, nil
	}
	sr := io.NewSectionReader(ra, 0, size)
	if err := s.index(tar.NewReader(sr), func() (int64, error) { return sr.Seek(0, io.SeekCurrent) }); err != nil {
		return nil, err
	}
	for name, m := range s.members {
		if m.off+m.size > size {
			return nil, fmt.Errorf("archive truncated: member %s ends at byte %d, file has %d", name, m.off+m.size, size)
		}
	}
	return s, nil
}

func (s *tarStore) decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	switch s.compr {
	case "gzip":
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	case "zstd":
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}

// index reads every header; pos (nil for compressed archives) returns the
// current file offset, which after Next is where the member's data starts.
func (s *tarStore) index(tr *tar.Reader, pos func() (int64, error)) error {
	for count := 0; ; count++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			if count == 0 {
				return errors.New("empty or not a tar archive")
			}
			return nil
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return errors.New("archive truncated (unexpected end of tar data)")
			}
			return fmt.Errorf("not a valid tar archive: %w", err)
		}
		if count >= maxArchiveMembers {
			return fmt.Errorf("more than %d members: not an image archive", maxArchiveMembers)
		}
		name := cleanMember(hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeReg:
			if hdr.Size < 0 {
				return fmt.Errorf("member %s: negative size", name)
			}
			var off int64
			if pos != nil {
				if off, err = pos(); err != nil {
					return err
				}
			}
			s.members[name] = member{off: off, size: hdr.Size}
			delete(s.links, name)
		case tar.TypeSymlink:
			target := hdr.Linkname
			if !strings.HasPrefix(target, "/") {
				target = path.Join(path.Dir(name), target)
			}
			s.links[name] = cleanMember(target)
			delete(s.members, name)
		case tar.TypeLink:
			s.links[name] = cleanMember(hdr.Linkname)
			delete(s.members, name)
		}
	}
}

// resolve follows member links (bounded, so loops end).
func (s *tarStore) resolve(name string) (string, bool) {
	name = cleanMember(name)
	for range 16 {
		if _, ok := s.members[name]; ok {
			return name, true
		}
		t, ok := s.links[name]
		if !ok {
			return "", false
		}
		name = t
	}
	return "", false
}

func (s *tarStore) has(name string) bool {
	_, ok := s.resolve(name)
	return ok
}

func (s *tarStore) open(name string) (io.ReadCloser, int64, error) {
	real, ok := s.resolve(name)
	if !ok {
		return nil, 0, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
	}
	m := s.members[real]
	if s.compr == "" {
		return sectionCloser{io.NewSectionReader(s.ra, m.off, m.size)}, m.size, nil
	}
	// Compressed archive: scan to the member.
	rc, err := s.decompress(io.NewSectionReader(s.ra, 0, s.size))
	if err != nil {
		return nil, 0, err
	}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err != nil {
			rc.Close()
			return nil, 0, fmt.Errorf("%s: rescanning archive: %w", name, err)
		}
		if hdr.Typeflag == tar.TypeReg && cleanMember(hdr.Name) == real {
			return &multiCloser{Reader: tr, closers: []io.Closer{rc}}, hdr.Size, nil
		}
	}
}

func (s *tarStore) Close() error {
	if s.closer != nil {
		return s.closer.Close()
	}
	return nil
}

// sectionCloser is a member of an uncompressed archive. It keeps the
// SectionReader's methods (Outer, Seek) visible, so the layer walk can
// map a member of an archive file rather than read it.
type sectionCloser struct {
	*io.SectionReader
}

// Close does nothing: the store owns the archive file.
func (sectionCloser) Close() error { return nil }

type multiCloser struct {
	io.Reader
	closers []io.Closer
}

func (m *multiCloser) Close() error {
	var errs []error
	for _, c := range m.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// readSmall reads a metadata file (manifest, config, index) with a size cap.
func readSmall(s blobStore, name string) ([]byte, error) {
	const maxMeta = 16 << 20
	rc, size, err := s.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if size > maxMeta {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d allowed for metadata", name, size, maxMeta)
	}
	b, err := io.ReadAll(io.LimitReader(rc, maxMeta+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return b, nil
}
