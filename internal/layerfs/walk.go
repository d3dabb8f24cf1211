package layerfs

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"path"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"
)

// Default walk limits.
const (
	DefaultMaxFileSize = 256 << 20 // content read whole for analyzers per file
	// bigFileSize is the size above which a file's content is read into a
	// buffer of its own that only one layer walk at a time may hold, so a
	// walk's memory stays near Workers*bigFileSize + MaxFileSize however
	// many cores run it (large Go binaries and jars are rare but real).
	bigFileSize          = 64 << 20
	DefaultMaxLayerBytes = 32 << 30 // uncompressed bytes per layer
	DefaultMaxImageBytes = 96 << 30 // uncompressed bytes per image
	DefaultMaxEntries    = 2 << 20  // tar entries per layer (~20 B of memory each, packed)
)

// WalkOptions configure a layer walk. Zero values take the defaults.
type WalkOptions struct {
	Analyzers []Analyzer
	// MaxFileSize caps the content read whole for analyzers; a larger
	// wanted file still reaches the Streamers that take it in pieces, and
	// is recorded in LayerFacts.Skipped for the analyzers that need it
	// whole.
	MaxFileSize int64
	// MaxLayerBytes and MaxImageBytes cap the uncompressed bytes read (a
	// decompression bomb stops with an error naming the layer).
	MaxLayerBytes int64
	MaxImageBytes int64
	// MaxEntries caps the tar entries of one layer.
	MaxEntries int
	// Workers bounds how many layers are walked at once (default GOMAXPROCS).
	Workers int
	// Cache, when non-nil, stores and returns LayerFacts by layer.
	Cache *Cache
	// Store, when non-nil, is consulted (after Cache) before a layer is
	// read and given the facts of every layer read; see FactsStore.
	// Layers without a DiffID never reach it.
	Store FactsStore

	// big is the walk-wide token for reading one file above bigFileSize.
	big chan struct{}
}

func (o WalkOptions) withDefaults() WalkOptions {
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	if o.MaxLayerBytes <= 0 {
		o.MaxLayerBytes = DefaultMaxLayerBytes
	}
	if o.MaxImageBytes <= 0 {
		o.MaxImageBytes = DefaultMaxImageBytes
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.big == nil {
		o.big = make(chan struct{}, 1)
	}
	return o
}

// Blob is one layer to walk: its identity and how to read it as stored
// (gzip, zstd or plain tar).
type Blob struct {
	Index  int
	Digest string // blob digest; checked while streaming unless DigestVerified
	// DiffID is the digest of the uncompressed tar, checked while
	// streaming; empty for synthetic layers (then computed, never cached).
	DiffID         string
	DigestVerified bool
	Open           func() (io.ReadCloser, error)
}

// Result is what a walk of an image's layers produced.
type Result struct {
	Layers []*LayerFacts
	// FromCache[i] is true when layer i came from the cache or the store.
	FromCache []bool
}

// LayerError is a layer that could not be read: corrupt, truncated, a
// digest mismatch or over a size limit.
type LayerError struct {
	Index  int
	Digest string
	Err    error
}

func (e *LayerError) Error() string {
	return fmt.Sprintf("layer %d (%s): %v", e.Index, e.Digest, e.Err)
}

func (e *LayerError) Unwrap() error { return e.Err }

// ErrLimit marks a walk stopped by a size or count limit.
var ErrLimit = errors.New("limit exceeded")

// Walk reads every layer once, in parallel, and returns their facts in
// layer order. A corrupt layer aborts the walk with a *LayerError.
func Walk(ctx context.Context, blobs []Blob, o WalkOptions) (*Result, error) {
	p, err := Start(ctx, blobs, o)
	if err != nil {
		return nil, err
	}
	return p.Wait()
}

// Pending is a walk whose layer facts are all in, while the digests of
// some layers may still be being checked.
type Pending struct {
	// Result holds every layer's facts, in layer order, and where they
	// came from: read it, but change nothing in it before Wait returns
	// (the cache and the store may be writing the facts).
	Result *Result
	g      *errgroup.Group
}

// Wait returns the walk's result (p.Result) once every layer's digests
// are checked, or the walk's error (a *LayerError for a corrupt or
// tampered layer): nothing made from p.Result may be shown before Wait
// returns nil.
func (p *Pending) Wait() (*Result, error) {
	if err := p.g.Wait(); err != nil {
		return nil, err
	}
	return p.Result, nil
}

// Start walks the layers like Walk, but returns as soon as every layer's
// facts are in. A mapped layer's facts are complete when its tar walk
// ends, while hashing it may take longer (on a one-layer image the hasher
// is the last to finish): the caller builds its findings meanwhile and
// calls Wait before it shows them. Facts are cached or stored only once
// their layer is verified.
func Start(ctx context.Context, blobs []Blob, o WalkOptions) (*Pending, error) {
	o = o.withDefaults()
	res := &Result{Layers: make([]*LayerFacts, len(blobs)), FromCache: make([]bool, len(blobs))}
	var imageBytes atomic.Int64
	var ready sync.WaitGroup
	ready.Add(len(blobs))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Workers)
	for i, b := range blobs {
		g.Go(func() error {
			isReady := sync.OnceFunc(ready.Done)
			defer isReady()
			key := ""
			if o.Cache != nil && b.DiffID != "" {
				key = o.Cache.Key(b.DiffID, b.Digest, o)
				if f, ok := o.Cache.Get(key, b.DiffID); ok {
					f.fixup(b.Index, b.Digest)
					res.Layers[i], res.FromCache[i] = f, true
					return nil
				}
			}
			var release func(*LayerFacts) error
			if o.Store != nil && b.DiffID != "" {
				f, rel, err := claimStored(ctx, b, o)
				if err != nil {
					return err
				}
				if f != nil {
					f.fixup(b.Index, b.Digest)
					res.Layers[i], res.FromCache[i] = f, true
					return nil
				}
				release = rel
			}
			f, verify, err := walkBlob(ctx, b, o, &imageBytes)
			if err == nil {
				res.Layers[i] = f
				isReady()
				if verify != nil {
					err = verify()
				}
			}
			if release != nil {
				kept := f
				if err != nil {
					kept = nil
				}
				if rerr := release(kept); rerr != nil && err == nil {
					return fmt.Errorf("layer %d (%s): layer store: %w", b.Index, b.Digest, rerr)
				}
			}
			if err != nil {
				return &LayerError{Index: b.Index, Digest: b.Digest, Err: err}
			}
			if key != "" {
				// A cache that cannot be written only costs speed.
				_ = o.Cache.Put(key, f)
			}
			return nil
		})
	}
	ready.Wait()
	p := &Pending{Result: res, g: g}
	for _, f := range res.Layers {
		if f == nil { // a layer failed
			_, err := p.Wait()
			return nil, err
		}
	}
	return p, nil
}

// fixup sets the per-image fields of cached facts (the same layer can sit
// at different positions in different images).
func (f *LayerFacts) fixup(index int, digest string) {
	f.Index, f.Digest = index, digest
	for i := range f.Packages {
		f.Packages[i].Layer = index
		f.Packages[i].LayerDigest = digest
	}
}

// limitedReader counts bytes and fails once a layer or image cap is passed.
type limitedReader struct {
	r        io.Reader
	n, max   int64
	image    *atomic.Int64
	imageMax int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		return n, layerTooBig(l.max)
	}
	if l.image != nil && l.image.Add(int64(n)) > l.imageMax {
		return n, imageTooBig(l.imageMax)
	}
	return n, err
}

func layerTooBig(max int64) error {
	return fmt.Errorf("%w: more than %d uncompressed bytes in one layer (decompression bomb?)", ErrLimit, max)
}

func imageTooBig(max int64) error {
	return fmt.Errorf("%w: more than %d uncompressed bytes in the image", ErrLimit, max)
}

// gzip and zstd magic numbers, as a layer blob starts.
func isGzip(head []byte) bool { return len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b }

func isZstd(head []byte) bool { return bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}) }

// checkDigests compares what a layer hashed to with what it should: the
// uncompressed bytes' diffID with b.DiffID (when the config names one),
// and, when blob is not empty, the stored bytes' digest with b.Digest.
func checkDigests(b Blob, diffID, blob string) error {
	if b.DiffID != "" && diffID != b.DiffID {
		return fmt.Errorf("uncompressed content hashes to %s, but the config says diff_id %s (corrupt or tampered layer)", diffID, b.DiffID)
	}
	if blob != "" && blob != b.Digest {
		return fmt.Errorf("blob hashes to %s, not its digest (corrupt or tampered layer)", blob)
	}
	return nil
}

// ctxReader stops reading once ctx is done (another layer failed).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// walkBlob opens and walks one layer. For a mapped layer it may return
// before the layer's digests are checked, with verify to call for that
// (see Start); verify is nil when they are checked already.
func walkBlob(ctx context.Context, b Blob, o WalkOptions, imageBytes *atomic.Int64) (_ *LayerFacts, verify func() error, _ error) {
	rc, err := b.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("open: %w", err)
	}
	defer rc.Close()
	if m := mapBlob(rc); m != nil {
		return walkMapped(ctx, b, o, imageBytes, m)
	}
	f, err := walkStream(ctx, b, o, imageBytes, rc)
	return f, nil, err
}

// walkStream walks a layer read through rc: gzip, zstd or plain tar.
func walkStream(ctx context.Context, b Blob, o WalkOptions, imageBytes *atomic.Int64, rc io.Reader) (*LayerFacts, error) {
	var raw io.Reader = ctxReader{ctx: ctx, r: rc}
	var digestH hash.Hash
	// An uncompressed blob (docker save >= 25 names layers by digest) has
	// its DiffID as digest: the DiffID check below covers it, so the same
	// bytes are not hashed twice.
	if !b.DigestVerified && strings.HasPrefix(b.Digest, "sha256:") && b.Digest != b.DiffID {
		digestH = sha256.New()
		raw = io.TeeReader(raw, digestH)
	}
	br := bufio.NewReaderSize(raw, 256<<10)
	head, _ := br.Peek(4)
	var un io.Reader
	switch {
	case isGzip(head):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		un = zr
	case isZstd(head):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		defer zr.Close()
		un = zr
	default:
		un = br
	}
	diffH := sha256.New()
	lr := &limitedReader{r: un, max: o.MaxLayerBytes, image: imageBytes, imageMax: o.MaxImageBytes}
	ra := newReadahead(lr, diffH) // hashes in its own goroutine
	defer ra.Close()
	f, err := walkTar(ctx, ra, b.Index, b.Digest, o)
	if err != nil {
		ra.Close() // the producer must stop reading br before we do
		// A blob that does not match its digest explains a broken tar
		// better than the tar error does.
		if digestH != nil && !errors.Is(err, ErrLimit) && ctx.Err() == nil {
			if _, cerr := io.Copy(io.Discard, br); cerr == nil {
				if got := "sha256:" + hex.EncodeToString(digestH.Sum(nil)); got != b.Digest {
					return nil, fmt.Errorf("blob hashes to %s, not its digest (corrupt or tampered layer): %w", got, err)
				}
			}
		}
		return nil, err
	}
	// Drain the tar padding and any trailing bytes so both digests cover
	// the whole stream.
	if _, err := io.Copy(io.Discard, ra); err != nil {
		return nil, fmt.Errorf("read layer: %w", err)
	}
	ra.Close()
	if digestH != nil {
		if _, err := io.Copy(io.Discard, br); err != nil {
			return nil, fmt.Errorf("read layer: %w", err)
		}
	}
	diffID := "sha256:" + hex.EncodeToString(diffH.Sum(nil))
	blob := ""
	if digestH != nil {
		blob = "sha256:" + hex.EncodeToString(digestH.Sum(nil))
	}
	if err := checkDigests(b, diffID, blob); err != nil {
		return nil, err
	}
	f.Digest, f.DiffID = b.Digest, diffID
	return f, nil
}

// Whiteout name prefixes (OCI image spec, "Representing Changesets").
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
	whiteoutMeta   = ".wh..wh."
)

// WalkTar reads one uncompressed layer tar stream and returns its facts.
// Entry names are normalized (never above "/"); links are recorded, never
// followed; wanted regular files up to MaxFileSize are read once and
// offered to every analyzer that wants them. Analyzer errors and panics
// become Skips; a malformed tar is an error.
func WalkTar(ctx context.Context, r io.Reader, index int, o WalkOptions) (*LayerFacts, error) {
	return walkTar(ctx, r, index, "", o)
}

func walkTar(ctx context.Context, r io.Reader, index int, digest string, o WalkOptions) (*LayerFacts, error) {
	o = o.withDefaults()
	tr := newTarReader(r)
	facts := &LayerFacts{Index: index, Digest: digest}
	var entries entryPacker
	var links symlinkTracker
	count := 0
	var wanting []Analyzer
	var buf []byte
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("truncated tar stream after %d entries", count)
			}
			return nil, fmt.Errorf("malformed tar after %d entries: %w", count, err)
		}
		if count >= o.MaxEntries {
			return nil, fmt.Errorf("%w: more than %d entries in one layer", ErrLimit, o.MaxEntries)
		}
		if esc, bad := escapeOf(hdr); bad && len(facts.Escapes) < maxEscapes {
			facts.Escapes = append(facts.Escapes, esc)
		}
		e, ok := entryFor(hdr)
		if !ok {
			continue
		}
		if via, bad := links.through(e.Path, e.Type); bad && !e.Whiteout && len(facts.Escapes) < maxEscapes {
			facts.Escapes = append(facts.Escapes, Escape{Name: hdr.Name, Link: via, Kind: EscapeThroughLink})
		}
		entries.add(e)
		count++
		if e.Type != TypeFile || e.Whiteout {
			continue
		}
		facts.Size += e.Size
		wanting = wanting[:0]
		for _, a := range o.Analyzers {
			if a.Wants(e.Path, e.Size, e.Mode) {
				wanting = append(wanting, a)
			}
		}
		if len(wanting) == 0 {
			continue
		}
		overCap := e.Size > o.MaxFileSize
		if e.Size > StreamThreshold {
			// Streaming costs one piece of memory whatever the size, so
			// the content cap only holds for analyzers that need the file
			// whole: when every one streams it, or it is over the cap,
			// the streamers get it in pieces and the rest skip it.
			sinks, whole := streamSinks(e, index, wanting)
			if len(whole) == 0 || overCap {
				if len(whole) > 0 {
					facts.Skipped = append(facts.Skipped, Skip{Path: e.Path, Reason: fmt.Sprintf("%d bytes, above the %d-byte content cap (--max-file-size) for %s", e.Size, o.MaxFileSize, strings.Join(whole, ", "))})
				}
				if len(sinks) > 0 {
					in := inPlace(r, hdr, e.Size)
					if in == nil && int64(cap(buf)) < StreamThreshold {
						buf = make([]byte, StreamThreshold)
					}
					if err := streamFile(ctx, tr, in, e, buf[:cap(buf)], sinks, facts); err != nil {
						return nil, err
					}
				}
				continue
			}
		}
		if overCap {
			facts.Skipped = append(facts.Skipped, Skip{Path: e.Path, Reason: fmt.Sprintf("%d bytes, above the %d-byte content cap (--max-file-size)", e.Size, o.MaxFileSize)})
			continue
		}
		// One buffer per layer walk, reused for every file: analyzers must
		// not keep Content past Analyze (see File.Content), so a layer of
		// many large files costs one buffer, not one per file. Files above
		// bigFileSize get a buffer of their own, held by one walk at a time.
		var content []byte
		if in := inPlace(r, hdr, e.Size); in != nil {
			analyzeAll(ctx, &File{Entry: e, Content: in.b, Layer: index}, wanting, facts)
			continue
		}
		big := e.Size > bigFileSize
		if big {
			select {
			case o.big <- struct{}{}:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			content = make([]byte, e.Size)
		} else {
			if int64(cap(buf)) < e.Size {
				buf = make([]byte, e.Size)
			}
			content = buf[:e.Size]
		}
		_, err = io.ReadFull(tr, content)
		if err == nil {
			analyzeAll(ctx, &File{Entry: e, Content: content, Layer: index}, wanting, facts)
		}
		if big {
			<-o.big
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: truncated tar stream: %w", e.Path, err)
		}
	}
	facts.Entries = entries.finish()
	facts.RegularFiles = facts.Entries.regularFiles()
	return facts, nil
}

// namedSink is a Sink with the name of the analyzer it came from.
type namedSink struct {
	name string
	Sink
}

// streamSinks returns a sink from every analyzer in wanting that streams
// e, and the names of those that need it whole.
func streamSinks(e Entry, layer int, wanting []Analyzer) (sinks []namedSink, whole []string) {
	f := &File{Entry: e, Layer: layer}
	for _, a := range wanting {
		var sink Sink
		if s, ok := a.(Streamer); ok {
			if err := guard(func() error { sink = s.Stream(f); return nil }); err != nil {
				sink = nil
			}
		}
		if sink == nil {
			whole = append(whole, a.Name())
			continue
		}
		sinks = append(sinks, namedSink{a.Name(), sink})
	}
	return sinks, whole
}

// inPlace returns the content of the file the tar reader over r is at,
// in place, when r reads a mapped layer; nil otherwise. Only a plain
// regular file's data sits as is right after its header: a sparse one's
// is a map and fragments.
func inPlace(r io.Reader, hdr *tar.Header, size int64) *pieces {
	mr, ok := r.(*mapReader)
	if !ok || hdr.Typeflag != tar.TypeReg || paxSparse(hdr) {
		return nil
	}
	if b := mr.peek(size); b != nil {
		return &pieces{mr: mr, b: b}
	}
	return nil
}

// pieces hands out a file's in-place content a piece at a time.
type pieces struct {
	mr   *mapReader
	b    []byte // what is left
	done int64  // bytes handed out
}

// next returns the next piece of at most n bytes. The pages of the pieces
// before it may be handed back: a file streamed in place costs the pages
// of a few pieces, however large it is.
func (p *pieces) next(n int) []byte {
	p.mr.passedInside(p.done)
	piece := p.b[:min(n, len(p.b))]
	p.b = p.b[len(piece):]
	p.done += int64(len(piece))
	return piece
}

// streamFile hands e's content to every sink in pieces of StreamThreshold
// bytes: from in when it is in place, else read from tr through buf. A
// sink that panics is dropped and recorded as a skip; the rest go on.
func streamFile(ctx context.Context, tr io.Reader, in *pieces, e Entry, buf []byte, sinks []namedSink, facts *LayerFacts) error {
	failed := make([]error, len(sinks))
	for left := e.Size; left > 0; {
		n := int(min(left, StreamThreshold))
		var piece []byte
		if in != nil {
			piece = in.next(n)
		} else {
			piece = buf[:n]
			if _, err := io.ReadFull(tr, piece); err != nil {
				return fmt.Errorf("read %s: truncated tar stream: %w", e.Path, err)
			}
		}
		left -= int64(n)
		for i, s := range sinks {
			if failed[i] == nil {
				failed[i] = guard(func() error { s.Write(piece); return nil })
			}
		}
	}
	for i, s := range sinks {
		err := failed[i]
		if err == nil {
			err = guard(func() error { return s.Close(ctx, facts) })
		}
		if err != nil {
			facts.Skipped = append(facts.Skipped, Skip{Path: e.Path, Reason: fmt.Sprintf("analyzer %s: %v", s.name, err)})
		}
	}
	return nil
}

// guard runs f, turning a panic into an error.
func guard(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return f()
}

// paxSparse reports a PAX-format sparse file (GNU tar --sparse
// --format=posix), which archive/tar reports as TypeReg.
func paxSparse(hdr *tar.Header) bool {
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// analyzeAll offers file to every analyzer in wanting, recording the
// ones that fail as skips.
func analyzeAll(ctx context.Context, file *File, wanting []Analyzer, facts *LayerFacts) {
	for _, a := range wanting {
		if err := analyze(ctx, a, file, facts); err != nil {
			facts.Skipped = append(facts.Skipped, Skip{Path: file.Path, Reason: fmt.Sprintf("analyzer %s: %v", a.Name(), err)})
		}
	}
}

// analyze runs one analyzer, turning a panic into an error.
func analyze(ctx context.Context, a Analyzer, f *File, out *LayerFacts) error {
	return guard(func() error { return a.Analyze(ctx, f, out) })
}

// entryFor turns a tar header into an Entry; false for entries that carry
// nothing (aufs metadata, the root itself as a non-directory).
func entryFor(hdr *tar.Header) (Entry, bool) {
	p := Clean(hdr.Name)
	dir, base := path.Split(p)
	switch {
	case base == whiteoutOpaque:
		return Entry{Path: Clean(dir), Type: TypeDir, Mode: 0o755, Opaque: true}, true
	case strings.HasPrefix(base, whiteoutMeta):
		return Entry{}, false
	case strings.HasPrefix(base, whiteoutPrefix):
		target := Clean(dir + base[len(whiteoutPrefix):])
		if target == "/" {
			return Entry{}, false
		}
		return Entry{Path: target, Whiteout: true}, true
	}
	e := Entry{Path: p, Mode: fs.FileMode(hdr.Mode & 0o777), UID: ID(hdr.Uid), GID: ID(hdr.Gid)}
	if hdr.Mode&0o4000 != 0 {
		e.Mode |= fs.ModeSetuid
	}
	if hdr.Mode&0o2000 != 0 {
		e.Mode |= fs.ModeSetgid
	}
	if hdr.Mode&0o1000 != 0 {
		e.Mode |= fs.ModeSticky
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse, 0 /* pre-POSIX regular file */ :
		e.Type, e.Size = TypeFile, max(hdr.Size, 0)
	case tar.TypeDir:
		e.Type = TypeDir
	case tar.TypeSymlink:
		e.Type, e.Linkname = TypeSymlink, hdr.Linkname
	case tar.TypeLink:
		e.Type, e.Linkname = TypeHardlink, Clean(hdr.Linkname)
	default:
		e.Type = TypeOther
	}
	if p == "/" && e.Type != TypeDir {
		return Entry{}, false
	}
	return e, true
}
