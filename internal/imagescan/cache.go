package imagescan

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/kensa-sec/kensa/internal/attrib"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/kensa-sec/kensa/internal/layerfs"
	"github.com/kensa-sec/kensa/internal/source"
)

// imageCacheFormat is bumped whenever imageResult's shape or meaning
// changes.
const imageCacheFormat = 1

// maxImageCacheEntry bounds what get reads: a larger file is not ours.
const maxImageCacheEntry = 256 << 20

// imageCache stores, per image, what the layer walk, merge, package
// resolution and image rules produced (everything before vulnerability
// matching and policy), so a warm rescan reads the manifest, the config
// and one small file instead of every layer's facts. Entries live under
// Dir/images/, keyed by imageCache.key; writes are atomic (temp file +
// rename); unreadable, corrupt or mismatched entries are misses. A nil
// *imageCache is a disabled cache.
type imageCache struct {
	Dir string
}

// imageResult is one image cache entry.
type imageResult struct {
	Format   int                 `json:"format"`
	Key      string              `json:"key"`
	Findings []finding.Finding   `json:"findings"`
	Packages []inventory.Package `json:"packages,omitempty"`
	OS       *inventory.OS       `json:"os,omitempty"`
	Image    *finding.ImageInfo  `json:"image"`
	Notes    []string            `json:"notes,omitempty"`
	// Attribution, for the vulnerability findings matched after a hit.
	Digests []string      `json:"digests"`
	Steps   []attrib.Step `json:"steps,omitempty"`
	Layers  []attrib.Step `json:"layers"`
}

// newImageResult captures r's report (before vulnerability matching) and
// attribution. Per-layer FromCache flags are not stored: restore sets
// them all.
func newImageResult(r *Result) *imageResult {
	rep := r.Report
	var info *finding.ImageInfo
	if rep.Image != nil {
		cp := *rep.Image
		cp.Layers = append([]finding.LayerInfo(nil), cp.Layers...)
		for i := range cp.Layers {
			cp.Layers[i].FromCache = false
		}
		info = &cp
	}
	return &imageResult{
		Format: imageCacheFormat, Findings: rep.Findings, Packages: rep.Packages, OS: rep.OS,
		Image: info, Notes: rep.Notes, Digests: r.Digests, Steps: r.Steps, Layers: r.Layers,
	}
}

// restore fills rep from the cached result and returns the attribution
// for findings added later. The image's reference is the one scanned now
// (the same image may sit in another file or under another name), and
// every layer is marked as coming from the cache.
func (r *imageResult) restore(rep *finding.Report, src *source.Image) *Result {
	rep.Findings, rep.Packages, rep.OS, rep.Image = r.Findings, r.Packages, r.OS, r.Image
	rep.Notes = append(rep.Notes, r.Notes...)
	if rep.Findings == nil {
		rep.Findings = []finding.Finding{}
	}
	rep.Image.Reference = src.Reference
	for i := range rep.Image.Layers {
		rep.Image.Layers[i].FromCache = true
	}
	return &Result{Report: rep, Source: src, Digests: r.Digests, Steps: r.Steps, Layers: r.Layers}
}

// executableStamp identifies the running binary: rules and analyzers live
// in it, so a rebuilt or upgraded kensa never reads results its
// predecessor computed. It is the Go build ID the linker records (a hash
// of the binary's inputs and content: the same build copied elsewhere, or
// rebuilt by go run from the same source, hits the cache), or, for a
// binary without one, its path, size and modification time.
func executableStamp() string {
	p, err := os.Executable()
	if err != nil {
		return "unknown-executable"
	}
	if id := goBuildID(p); id != "" {
		return "go-build-id " + id
	}
	st, err := os.Stat(p)
	if err != nil {
		return "unknown-executable"
	}
	return fmt.Sprintf("%s %d %d", p, st.Size(), st.ModTime().UnixNano())
}

// goBuildID returns the build ID in the ELF executable at p (the
// ".note.go.buildid" note: name "Go", type 4), or "" when there is none.
func goBuildID(p string) string {
	f, err := elf.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	sec := f.Section(".note.go.buildid")
	if sec == nil || sec.Size > 1<<10 {
		return ""
	}
	b, err := sec.Data()
	if err != nil || len(b) < 16 {
		return ""
	}
	bo := f.ByteOrder
	namesz, descsz, typ := bo.Uint32(b), bo.Uint32(b[4:]), bo.Uint32(b[8:])
	if namesz != 4 || typ != 4 || string(b[12:16]) != "Go\x00\x00" || uint64(descsz) > uint64(len(b)-16) {
		return ""
	}
	return string(b[16 : 16+descsz])
}

// key returns the cache key of src scanned with o and analyzers, or "" when
// ic is nil. Everything that changes the cached result is in it: the
// binary (rules, analyzers), the image's manifest digest, config bytes and
// layer digests, the analyzers' names and versions, the content cap, the
// scanners and the attribution Dockerfile's name and content.
func (ic *imageCache) key(src *source.Image, analyzers []layerfs.Analyzer, o Options) string {
	if ic == nil {
		return ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "kensa-image/%d\n%s\n", imageCacheFormat, executableStamp())
	cfg := sha256.Sum256(src.RawConfig)
	fmt.Fprintf(h, "digest=%s\nconfig=%x\nplatform=%s\n", src.Digest, cfg, src.Platform)
	for _, l := range src.Layers {
		fmt.Fprintf(h, "layer=%s %s\n", l.Digest, l.DiffID)
	}
	names := make([]string, 0, len(analyzers))
	for _, a := range analyzers {
		names = append(names, a.Name()+"@"+strconv.Itoa(a.Version()))
	}
	sort.Strings(names)
	maxFile := o.MaxFileSize
	if maxFile <= 0 {
		maxFile = layerfs.DefaultMaxFileSize
	}
	fmt.Fprintf(h, "analyzers=%s\nmaxfile=%d\nscanners=%s\n", strings.Join(names, ","), maxFile, strings.Join(o.Scanners.names(), ","))
	if df := o.Dockerfile; df != nil {
		dh := sha256.New()
		for _, l := range df.Lines {
			io.WriteString(dh, l)
			dh.Write([]byte{'\n'})
		}
		fmt.Fprintf(h, "dockerfile=%s %x\n", df.Path, dh.Sum(nil))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (ic *imageCache) path(key string) string {
	return filepath.Join(ic.Dir, "images", key[:2], key+".json")
}

// get returns the entry for key when present and sound.
func (ic *imageCache) get(key string) (*imageResult, bool) {
	if ic == nil || len(key) < 2 {
		return nil, false
	}
	f, err := os.Open(ic.path(key))
	if err != nil {
		return nil, false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxImageCacheEntry+1))
	if err != nil || len(b) > maxImageCacheEntry {
		return nil, false
	}
	var r imageResult
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, false
	}
	if r.Format != imageCacheFormat || r.Key != key || r.Image == nil || len(r.Layers) != len(r.Digests) || len(r.Image.Layers) != len(r.Digests) {
		return nil, false
	}
	return &r, true
}

// put stores r under key atomically.
func (ic *imageCache) put(key string, r *imageResult) error {
	if ic == nil || len(key) < 2 {
		return nil
	}
	r.Key = key
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("image cache: encode: %w", err)
	}
	p := ic.path(key)
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("image cache: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("image cache: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("image cache: write %s: %w", p, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("image cache: write %s: %w", p, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("image cache: %w", err)
	}
	return nil
}
