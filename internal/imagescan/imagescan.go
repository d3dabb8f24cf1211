// Package imagescan is kensa's image-scan pipeline as a library: walk an
// opened image's layers once (through the layer cache), merge them, resolve
// its packages, run the image rules, trace every finding to the layer and
// Dockerfile step that caused it, and match the packages against the
// vulnerability database. The CLI, the server, admission checks and base
// image advice all scan through it.
package imagescan

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/kensa-sec/kensa/internal/attrib"
	"github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/inventory/extract"
	"github.com/kensa-sec/kensa/internal/layerfs"
	imagerules "github.com/kensa-sec/kensa/internal/rules/image"
	"github.com/kensa-sec/kensa/internal/secret"
	"github.com/kensa-sec/kensa/internal/source"
)

// Scanners chooses what a scan looks for.
type Scanners struct {
	Misconfig bool // image rules: config audit, setuid, shells, waste
	Secret    bool // secrets in every layer, config and history
	Vuln      bool // packages matched against the database (Match)
	Inventory bool // packages only (SBOM)
}

// names lists the enabled scanners in a fixed order (cache keys).
func (s Scanners) names() []string {
	var out []string
	for _, x := range []struct {
		on   bool
		name string
	}{{s.Misconfig, "misconfig"}, {s.Secret, "secret"}, {s.Vuln, "vuln"}, {s.Inventory, "inventory"}} {
		if x.on {
			out = append(out, x.name)
		}
	}
	return out
}

// packages reports whether the scan resolves installed packages.
func (s Scanners) packages() bool { return s.Vuln || s.Inventory }

// Options configures Scan.
type Options struct {
	Scanners Scanners
	// MaxFileSize caps what an analyzer reads whole; 0 means
	// layerfs.DefaultMaxFileSize.
	MaxFileSize int64
	// CacheDir holds the layer cache and the image cache; "" scans
	// without either.
	CacheDir string
	// NoImageCache keeps the layer cache but never answers from the
	// image cache, so the Result always has its merged view (policies
	// read the final filesystem).
	NoImageCache bool
	// Dockerfile, when set, is the Dockerfile that built the image: layers
	// and findings are traced to its lines.
	Dockerfile *dockerfile.File
	// Layers, when set, is a shared layer-facts store consulted before a
	// layer is read (kensa server's PostgreSQL store): a layer that several
	// images share is read once.
	Layers layerfs.FactsStore
}

// InputError marks a scan that failed because the image itself is bad (a
// corrupt or hostile layer), not because of the machine.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Result is everything one image scan produced: the report and the
// attribution that traces later findings (vulnerabilities, policies) to
// layers and Dockerfile steps. When the result came from the image cache,
// Walk and Merged are nil.
type Result struct {
	Report *finding.Report
	Source *source.Image
	Walk   *layerfs.Result
	Merged *layerfs.Image
	// Digests are the layer blob digests, by layer index.
	Digests []string
	// Steps holds every history entry; Layers the entry of each layer.
	Steps  []attrib.Step
	Layers []attrib.Step
}

// Scan scans the opened image src: everything before vulnerability
// matching (call Match for that). Target names the report; a rootfs source
// gives a "rootfs" report and is never cached.
func Scan(ctx context.Context, src *source.Image, target string, o Options) (*Result, error) {
	if o.MaxFileSize < 0 {
		return nil, &InputError{Err: fmt.Errorf("max file size %d: must not be negative", o.MaxFileSize)}
	}
	rootfs := src.Kind == source.KindRootfs
	reportKind := "image"
	if rootfs {
		reportKind = "rootfs"
	}
	rep := finding.NewReport(target, reportKind)
	analyzers := Analyzers(o.Scanners)
	var ic *imageCache
	var key string
	if o.CacheDir != "" && !rootfs && !o.NoImageCache {
		ic = &imageCache{Dir: o.CacheDir}
		key = ic.key(src, analyzers, o)
	}
	if cached, ok := ic.get(key); ok {
		return cached.restore(rep, src), nil
	}
	res, err := analyze(ctx, src, target, analyzers, o, rep)
	if err != nil {
		return nil, err
	}
	// A cache that cannot be written only costs speed.
	_ = ic.put(key, newImageResult(res))
	return res, nil
}

// analyze walks the layers, merges them and runs the image rules.
func analyze(ctx context.Context, src *source.Image, target string, analyzers []layerfs.Analyzer, o Options, rep *finding.Report) (*Result, error) {
	wo := layerfs.WalkOptions{MaxFileSize: o.MaxFileSize, Analyzers: analyzers, Store: o.Layers}
	if o.CacheDir != "" && src.Kind != source.KindRootfs {
		wo.Cache = &layerfs.Cache{Dir: o.CacheDir}
	}
	defer setGCForWalk(src.Layers)()
	blobs := make([]layerfs.Blob, len(src.Layers))
	for i, l := range src.Layers {
		blobs[i] = layerfs.Blob{Index: i, Digest: l.Digest, DiffID: l.DiffID, DigestVerified: l.DigestVerified, Open: l.Open}
	}
	walkErr := func(err error) error {
		var le *layerfs.LayerError
		if errors.As(err, &le) && !errors.Is(err, context.Canceled) {
			return &InputError{Err: fmt.Errorf("%s: %w", target, err)}
		}
		return fmt.Errorf("%s: %w", target, err)
	}
	// The findings are built while the last layers' digests are still
	// being checked (layerfs.Start), and returned only once they are.
	pending, err := layerfs.Start(ctx, blobs, wo)
	if err != nil {
		return nil, walkErr(err)
	}
	r := build(src, pending.Result, o, rep)
	walk, err := pending.Wait()
	if err != nil {
		return nil, walkErr(err)
	}
	// The merged view holds its own copy of every path: drop the layers'
	// entries (the layer cache has stored them already).
	for _, l := range walk.Layers {
		l.Entries = layerfs.Entries{}
	}
	return r, nil
}

// build merges the walked layers and runs the image rules on them.
func build(src *source.Image, walk *layerfs.Result, o Options, rep *finding.Report) *Result {
	layers := walk.Layers
	r := &Result{Report: rep, Source: src, Walk: walk, Merged: layerfs.Merge(layers)}
	for _, l := range layers {
		r.Digests = append(r.Digests, l.Digest)
	}
	r.Steps = attrib.Steps(src.Config, len(layers))
	if o.Dockerfile != nil {
		attrib.Match(r.Steps, o.Dockerfile)
	}
	r.Layers = attrib.LayerSteps(r.Steps, len(layers))

	rep.Image = r.imageInfo()
	if o.Scanners.packages() {
		rep.Packages, rep.OS = extract.Resolve(r.Merged)
	}
	osInfo := rep.OS
	if osInfo == nil {
		osInfo = extract.ResolveOS(r.Merged)
	}
	if osInfo != nil {
		rep.Image.OS = strings.TrimSpace(osInfo.ID + " " + osInfo.VersionID)
	}
	if o.Scanners.Misconfig || o.Scanners.Secret {
		steps := make([]string, len(r.Layers))
		for i, st := range r.Layers {
			steps[i] = st.CreatedBy
		}
		cfg := src.Config
		if src.Kind == source.KindRootfs {
			cfg = nil
		}
		// Check attributes the per-layer findings (secrets, credential
		// files) itself and returns them with its own.
		rep.Findings = append(rep.Findings, imagerules.Check(imagerules.Input{
			Image: r.Merged, Config: cfg, Steps: steps, OS: osInfo,
			Options: imagerules.Options{NoSecrets: !o.Scanners.Secret, NoMisconfig: !o.Scanners.Misconfig},
		})...)
	}
	r.Attribute(rep.Findings)
	rep.Notes = append(rep.Notes, skippedNotes(layers, src.Skipped())...)
	return r
}

// Analyzers returns the layer analyzers the scanners need.
func Analyzers(s Scanners) []layerfs.Analyzer {
	var as []layerfs.Analyzer
	if s.packages() {
		as = append(as, extract.Analyzer(extract.Options{}))
	}
	if s.Secret {
		as = append(as, secret.Analyzer(secret.Options{}))
	}
	if s.Misconfig || s.Secret {
		// /etc/passwd, /etc/group and os-release for the image rules.
		as = append(as, imagerules.FilesAnalyzer())
	}
	if s.Misconfig {
		as = append(as, imagerules.HashAnalyzer()) // KS-HI-004's digests
	}
	return as
}

// Attribute fills each finding's layer digest, history step and
// Dockerfile line from its layer index (or its layer digest).
func (r *Result) Attribute(fs []finding.Finding) {
	fill := func(loc *finding.Location) {
		if loc.LayerIndex == nil {
			// Config findings (ENV, USER, EXPOSE) come from history
			// entries that made no layer: the rules name the entry by
			// its redacted text; trace that entry to its Dockerfile line.
			if loc.Step != "" && loc.Dockerfile == "" {
				for i := len(r.Steps) - 1; i >= 0; i-- {
					st := r.Steps[i]
					if st.Line > 0 && imagerules.RedactStep(st.CreatedBy) == loc.Step {
						loc.Dockerfile, loc.DockerfileLine = st.Dockerfile, st.Line
						break
					}
				}
			}
			return
		}
		i := *loc.LayerIndex
		if i < 0 || i >= len(r.Layers) || i >= len(r.Digests) {
			return
		}
		if loc.Layer == "" {
			loc.Layer = r.Digests[i]
		}
		st := r.Layers[i]
		if loc.Step == "" {
			loc.Step = imagerules.RedactStep(st.CreatedBy)
		}
		if loc.Dockerfile == "" && st.Line > 0 {
			loc.Dockerfile, loc.DockerfileLine = st.Dockerfile, st.Line
		}
	}
	for i := range fs {
		if fs[i].Location.LayerIndex == nil && fs[i].Location.Layer != "" {
			for j, d := range r.Digests {
				if d == fs[i].Location.Layer {
					fs[i].Location.LayerIndex = finding.IntPtr(j)
					break
				}
			}
		}
		fill(&fs[i].Location)
		for j := range fs[i].Related {
			fill(&fs[i].Related[j])
		}
	}
}

// imageInfo summarizes the image: digest, size, layers, waste.
func (r *Result) imageInfo() *finding.ImageInfo {
	src := r.Source
	info := &finding.ImageInfo{Reference: src.Reference, Digest: src.Digest, Platform: src.Platform}
	perLayer, wasted := r.Merged.Waste()
	for i, l := range r.Walk.Layers {
		info.Size += l.Size
		info.Layers = append(info.Layers, finding.LayerInfo{
			Index: i, Digest: l.Digest, DiffID: l.DiffID, Size: l.Size, Files: l.RegularFiles,
			WastedBytes: perLayer[i], Step: imagerules.RedactStep(r.Layers[i].CreatedBy), FromCache: r.Walk.FromCache[i],
		})
	}
	info.WastedBytes = wasted
	info.Efficiency = 1
	if info.Size > 0 {
		info.Efficiency = 1 - float64(wasted)/float64(info.Size)
	}
	return info
}

// skippedNotes summarizes files the walk did not analyze: a count and the
// first few paths with their reasons.
func skippedNotes(layers []*layerfs.LayerFacts, rootfsSkipped []string) []string {
	const show = 5
	var all []string
	for _, l := range layers {
		for _, s := range l.Skipped {
			all = append(all, fmt.Sprintf("%s (layer %d): %s", s.Path, l.Index, s.Reason))
		}
	}
	var notes []string
	if len(all) > 0 {
		sort.Strings(all)
		n := min(show, len(all))
		more := ""
		if len(all) > n {
			more = fmt.Sprintf("; and %d more", len(all)-n)
		}
		notes = append(notes, fmt.Sprintf("%d file(s) not analyzed: %s%s", len(all), strings.Join(all[:n], "; "), more))
	}
	if len(rootfsSkipped) > 0 {
		n := min(show, len(rootfsSkipped))
		notes = append(notes, fmt.Sprintf("%d rootfs path(s) unreadable: %s", len(rootfsSkipped), strings.Join(rootfsSkipped[:n], "; ")))
	}
	return notes
}

// smallImage is the stored size up to which an image's walk runs with
// GOGC=400, above it GOGC=50. The walk's garbage (headers, paths, package
// records) grows with the image; on a small image the default 4 MB heap
// goal made it collect 7 times in 0.1 s, a tenth of the scan's CPU, and
// 400 cut the single-layer debian-base inventory from 1.37x to 1.25x the
// verify floor at the same 56 MB RSS. A large image's live heap is mostly
// path entries, and there 50 took the 1.26 GB benchmark image's peak RSS
// from 74-78 to 62-66 MB at the same CPU time (400 would cost 16 MB more).
const smallImage = 256 << 20

// setGCForWalk sets the garbage collector's target for the layer walk
// and merge by the image's stored size, unless the user set GOGC, and
// returns what restores it.
func setGCForWalk(layers []source.Layer) (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	var size int64
	for _, l := range layers {
		size += l.Size
	}
	percent := 50
	if size <= smallImage {
		percent = 400
	}
	old := debug.SetGCPercent(percent)
	return func() { debug.SetGCPercent(old) }
}
