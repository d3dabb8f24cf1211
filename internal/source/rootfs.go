package source

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// OpenRootfs presents the folder dir as an image of one synthetic layer:
// its files are streamed as a tar when the layer is opened. Symlinks are
// recorded, never followed, and nothing outside dir is read.
func OpenRootfs(dir string) (*Image, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, &Error{Target: dir, Err: err}
	}
	if !st.IsDir() {
		return nil, inputErr(dir, "not a folder")
	}
	r := &rootfsLayer{dir: dir}
	im := &Image{
		Reference: dir, Kind: KindRootfs,
		Config: &v1.ConfigFile{OS: "linux"},
		Layers: []Layer{{Index: 0, Open: r.open, DigestVerified: true}},
	}
	im.skipped = r.skippedPaths
	return im, nil
}

// rootfsLayer streams a folder as a tar.
type rootfsLayer struct {
	dir     string
	mu      sync.Mutex
	skipped []string
}

func (r *rootfsLayer) skippedPaths() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]string(nil), r.skipped...)
	sort.Strings(out)
	return out
}

func (r *rootfsLayer) skip(p string, err error) {
	r.mu.Lock()
	r.skipped = append(r.skipped, fmt.Sprintf("/%s: %v", filepath.ToSlash(p), err))
	r.mu.Unlock()
}

func (r *rootfsLayer) open() (io.ReadCloser, error) {
	root, err := os.OpenRoot(r.dir)
	if err != nil {
		return nil, fmt.Errorf("rootfs %s: %w", r.dir, err)
	}
	r.mu.Lock()
	r.skipped = nil
	r.mu.Unlock()
	pr, pw := io.Pipe()
	go func() {
		defer root.Close()
		pw.CloseWithError(r.write(root, pw))
	}()
	return pr, nil
}

func (r *rootfsLayer) write(root *os.Root, w io.Writer) error {
	tw := tar.NewWriter(w)
	err := fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			r.skip(p, err)
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if p == "." {
			return nil
		}
		info, err := root.Lstat(p)
		if err != nil {
			r.skip(p, err)
			return nil
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = root.Readlink(p); err != nil {
				r.skip(p, err)
				return nil
			}
		}
		if info.Mode()&fs.ModeSocket != 0 {
			return nil
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			r.skip(p, err)
			return nil
		}
		hdr.Name = p
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		if !info.Mode().IsRegular() {
			return tw.WriteHeader(hdr)
		}
		f, err := root.Open(p)
		if err != nil {
			r.skip(p, err)
			return nil
		}
		defer f.Close()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		// The file may change while we read it: write exactly hdr.Size bytes.
		n, err := io.CopyN(tw, f, hdr.Size)
		if err != nil && err != io.EOF {
			return fmt.Errorf("rootfs %s: read %s: %w", r.dir, p, err)
		}
		if n < hdr.Size {
			r.skip(p, fmt.Errorf("shrank while reading (%d of %d bytes)", n, hdr.Size))
			_, err = io.CopyN(tw, zeroReader{}, hdr.Size-n)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

type zeroReader struct{}

func (zeroReader) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}
