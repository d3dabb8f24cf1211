package layerfs

import (
	"archive/tar"
	"bytes"
	"io"
	"time"
)

// tarReader is what the layer walk needs of a tar reader: archive/tar's
// Reader, or a fastTar over a layer held in memory.
type tarReader interface {
	Next() (*tar.Header, error)
	Read(p []byte) (int, error)
}

// blockReader reads a layer held whole in memory (a mapped layer): Read
// and Seek as usual, peek returns the next n bytes in place (nil when
// fewer remain), size the layer's length, and fault turns a panic raised
// by touching peeked bytes (a mapped file cut short) into an error.
type blockReader interface {
	io.ReadSeeker
	peek(n int64) []byte
	size() int64
	fault(recovered any) error
}

// newTarReader returns a fastTar over r when r holds the layer in memory,
// else archive/tar's reader.
func newTarReader(r io.Reader) tarReader {
	if br, ok := r.(blockReader); ok {
		return &fastTar{r: br, end: br.size()}
	}
	return tar.NewReader(r)
}

// fastTar reads the common tar header itself and leaves every other one
// to archive/tar: a USTAR or GNU header with a valid checksum, octal
// numbers, no extension records (PAX, GNU long names, sparse maps) and one
// of the plain types (file, link, symlink, device, directory, FIFO). For
// those it gives exactly the fields archive/tar gives, without the
// per-header scan of all 512 bytes, rune by rune, that archive/tar runs to
// guess the format, and without copying the block. For any other header,
// a malformed one included, it seeks back to the header and lets a fresh
// archive/tar reader read that entry: its answer, or its error, is then
// archive/tar's own (FuzzTarReader checks both agree on any input).
type fastTar struct {
	r   blockReader
	end int64 // the layer's length
	// next is where the header after the current entry starts, dataEnd
	// where its content ends (next less the padding), and left the
	// content not yet read (all when tr is nil).
	next, dataEnd, left int64
	// tr, when non-nil, reads the current entry (a sparse file, whose
	// content only archive/tar can expand) and the next header.
	tr  *tar.Reader
	err error
}

// Next advances to the next entry, as tar.Reader.Next: after an error it
// keeps returning that error.
func (t *fastTar) Next() (*tar.Header, error) {
	if t.err != nil {
		return nil, t.err
	}
	hdr, err := t.nextHeader()
	t.err = err
	return hdr, err
}

func (t *fastTar) nextHeader() (hdr *tar.Header, err error) {
	defer func() {
		if rec := recover(); rec != nil {
			hdr, err = nil, t.r.fault(rec)
		}
	}()
	if t.tr != nil {
		return t.fromStdlib(t.tr.Next())
	}
	// As archive/tar: content cut short is an error, padding cut short
	// the archive's end.
	if t.dataEnd > t.end {
		return nil, io.ErrUnexpectedEOF
	}
	if t.next > t.end {
		return nil, io.EOF
	}
	if _, err := t.r.Seek(t.next, io.SeekStart); err != nil {
		return nil, err
	}
	if blk := t.r.peek(blockSize); blk != nil {
		if hdr, ok := plainHeader(blk); ok {
			if _, err := t.r.Seek(blockSize, io.SeekCurrent); err != nil {
				return nil, err
			}
			t.startContent(hdr)
			return hdr, nil
		}
	}
	t.tr = tar.NewReader(t.r)
	return t.fromStdlib(t.tr.Next())
}

// fromStdlib takes archive/tar's answer for an entry. Unless the entry is
// sparse (or the answer an error, which archive/tar keeps giving), the
// reader it stands on is now at the entry's content, of hdr.Size bytes,
// and the header after it is read here again.
func (t *fastTar) fromStdlib(hdr *tar.Header, err error) (*tar.Header, error) {
	if err != nil || hdr.Typeflag == tar.TypeGNUSparse || paxSparse(hdr) {
		return hdr, err
	}
	t.tr = nil
	t.startContent(hdr)
	return hdr, nil
}

// startContent notes where hdr's content lies: at the reader's position,
// hdr.Size bytes, except that archive/tar gives links, devices,
// directories and FIFOs none, whatever their size field says.
func (t *fastTar) startContent(hdr *tar.Header) {
	pos, _ := t.r.Seek(0, io.SeekCurrent)
	t.left = max(hdr.Size, 0)
	switch hdr.Typeflag {
	case tar.TypeLink, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeDir, tar.TypeFifo:
		t.left = 0
	}
	t.dataEnd = pos + t.left
	t.next = pos + (t.left+blockSize-1)/blockSize*blockSize
}

// Read reads the current entry's content, as tar.Reader.Read.
func (t *fastTar) Read(p []byte) (int, error) {
	if t.tr != nil {
		return t.tr.Read(p)
	}
	if t.left <= 0 {
		return 0, io.EOF
	}
	n, err := t.r.Read(p[:min(int64(len(p)), t.left)])
	t.left -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF // t.left > 0: the content is cut short
	}
	return n, err
}

const blockSize = 512

// plainHeader parses blk when it is a header fastTar reads itself (see
// fastTar), filling what archive/tar would; ok is false for any other.
func plainHeader(blk []byte) (hdr *tar.Header, ok bool) {
	var ustar bool
	switch {
	case string(blk[257:265]) == "ustar\x0000":
		// archive/tar reads a USTAR header with the star trailer as star.
		if string(blk[508:512]) == "tar\x00" {
			return nil, false
		}
		ustar = true
	case string(blk[257:265]) == "ustar  \x00":
		// GNU: archive/tar may take atime and ctime, when set, for a
		// misplaced USTAR prefix; leave those to it.
		if blk[345] != 0 || blk[357] != 0 {
			return nil, false
		}
	default:
		return nil, false
	}
	switch blk[156] {
	case tar.TypeReg, tar.TypeLink, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeDir, tar.TypeFifo, tar.TypeCont:
	default:
		return nil, false
	}
	sum, ok := octal(blk[148:156])
	if !ok || sum != checksum(blk) {
		return nil, false
	}
	var nums [7]int64
	for i, f := range [7][2]int{{100, 108}, {108, 116}, {116, 124}, {124, 136}, {136, 148}, {329, 337}, {337, 345}} {
		if nums[i], ok = octal(blk[f[0]:f[1]]); !ok {
			return nil, false
		}
	}
	hdr = &tar.Header{
		Typeflag: blk[156],
		Name:     cString(blk[0:100]),
		Linkname: cString(blk[157:257]),
		Mode:     nums[0],
		Uid:      int(nums[1]),
		Gid:      int(nums[2]),
		Size:     nums[3],
		ModTime:  time.Unix(nums[4], 0),
		Uname:    cString(blk[265:297]),
		Gname:    cString(blk[297:329]),
		Devmajor: nums[5],
		Devminor: nums[6],
		Format:   tar.FormatGNU,
	}
	if ustar {
		hdr.Format = tar.FormatUSTAR
		if prefix := cString(blk[345:500]); prefix != "" {
			hdr.Name = prefix + "/" + hdr.Name
		}
	}
	return hdr, true
}

// octal parses a numeric field the strict way: octal digits between
// optional spaces and NULs. Anything else (base-256, stray bytes) is left
// to archive/tar.
func octal(b []byte) (int64, bool) {
	b = bytes.Trim(b, " \x00")
	var v int64
	for _, c := range b {
		if c < '0' || c > '7' {
			return 0, false
		}
		v = v<<3 | int64(c-'0')
	}
	return v, true
}

// checksum is the unsigned sum of the header's bytes with the checksum
// field read as spaces.
func checksum(blk []byte) int64 {
	var s int64
	for i, c := range blk[:blockSize] {
		if i >= 148 && i < 156 {
			c = ' '
		}
		s += int64(c)
	}
	return s
}

// cString is the field up to its first NUL.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
