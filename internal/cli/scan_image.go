package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	"golang.org/x/term"
)

// imageScan is everything one image scan produced before policy and
// writers: the opened source, the walk result, the merged view and the
// step attribution. Image rules and tests read it. When the result came
// from the image cache, walk and merged are nil: only the attribution
// (digests, steps, layers) is restored.
type imageScan struct {
	src     *source.Image
	walk    *layerfs.Result
	merged  *layerfs.Image
	digests []string      // layer blob digests, by layer index
	steps   []attrib.Step // every history entry
	layers  []attrib.Step // per layer
}

// scanImage scans an image (archive, layout, registry) or a rootfs folder.
func scanImage(ctx context.Context, o *scanOptions, kind targetKind, target string, stderr io.Writer) (*finding.Report, error) {
	rep, _, err := runImageScan(ctx, o, kind, target, stderr)
	return rep, err
}

func runImageScan(ctx context.Context, o *scanOptions, kind targetKind, target string, stderr io.Writer) (*finding.Report, *imageScan, error) {
	src, err := openImageSource(ctx, o, kind, target, stderr)
	if err != nil {
		return nil, nil, err
	}
	defer src.Close()
	if o.MaxFile < 0 {
		return nil, nil, inputErrorf("--max-file-size %d: must not be negative", o.MaxFile)
	}

	reportKind := "image"
	if kind == targetRootfs {
		reportKind, target = "rootfs", o.Rootfs
	}
	rep := finding.NewReport(target, reportKind)
	analyzers := imageAnalyzers(o)
	var (
		cacheDir string
		ic       *imageCache
		icKey    string
	)
	if !o.NoCache && kind != targetRootfs {
		cacheDir = o.CacheDir
		if cacheDir == "" {
			if cacheDir, err = layerfs.DefaultCacheDir(); err != nil {
				return nil, nil, err
			}
		}
		ic = &imageCache{Dir: cacheDir}
		dfPath := attributionDockerfilePath(o, kind, target)
		icKey = ic.key(src, analyzers, o, dfPath)
	}
	var sc *imageScan
	if res, ok := ic.get(icKey); ok {
		sc = res.restore(rep, src)
	} else {
		if sc, err = analyzeImage(ctx, o, kind, target, src, analyzers, cacheDir, rep); err != nil {
			return nil, nil, err
		}
		// A cache that cannot be written only costs speed.
		_ = ic.put(icKey, newImageResult(rep, sc))
	}
	if o.scannerEnabled("vuln") {
		if err := matchVulns(ctx, o, rep, stderr); err != nil {
			return nil, nil, err
		}
		attributeFindings(rep.Findings, sc)
	}
	return rep, sc, nil
}

// analyzeImage walks the layers (through the layer cache under cacheDir,
// when set), merges them and runs the image rules, filling rep with
// everything that precedes vulnerability matching: misconfig and secret
// findings, packages, OS, image info and notes.
func analyzeImage(ctx context.Context, o *scanOptions, kind targetKind, target string, src *source.Image, analyzers []layerfs.Analyzer, cacheDir string, rep *finding.Report) (*imageScan, error) {
	wo := layerfs.WalkOptions{MaxFileSize: o.MaxFile, Analyzers: analyzers}
	if cacheDir != "" {
		wo.Cache = &layerfs.Cache{Dir: cacheDir}
	}
	defer lowerGCForWalk()()
	blobs := make([]layerfs.Blob, len(src.Layers))
	for i, l := range src.Layers {
		blobs[i] = layerfs.Blob{Index: i, Digest: l.Digest, DiffID: l.DiffID, DigestVerified: l.DigestVerified, Open: l.Open}
	}
	res, err := layerfs.Walk(ctx, blobs, wo)
	if err != nil {
		var le *layerfs.LayerError
		if errors.As(err, &le) && !errors.Is(err, context.Canceled) {
			return nil, &InputError{Err: fmt.Errorf("%s: %w", target, err)}
		}
		return nil, fmt.Errorf("%s: %w", target, err)
	}
	sc := &imageScan{src: src, walk: res, merged: layerfs.Merge(res.Layers)}
	// The merged view holds its own copy of every path: drop the layers'
	// entries (the layer cache has stored them already).
	for _, l := range res.Layers {
		l.Entries = layerfs.Entries{}
	}
	for _, l := range res.Layers {
		sc.digests = append(sc.digests, l.Digest)
	}
	sc.steps = attrib.Steps(src.Config, len(res.Layers))
	if df, err := attributionDockerfile(o, kind, target); err != nil {
		return nil, err
	} else if df != nil {
		attrib.Match(sc.steps, df)
	}
	sc.layers = attrib.LayerSteps(sc.steps, len(res.Layers))

	rep.Image = imageInfo(sc)
	if o.scannerEnabled("vuln") || o.scannerEnabled("inventory") {
		rep.Packages, rep.OS = extract.Resolve(sc.merged)
		if rep.OS != nil {
			rep.Image.OS = strings.TrimSpace(rep.OS.ID + " " + rep.OS.VersionID)
		}
	}
	osInfo := rep.OS
	if osInfo == nil {
		osInfo = extract.ResolveOS(sc.merged)
		if osInfo != nil {
			rep.Image.OS = strings.TrimSpace(osInfo.ID + " " + osInfo.VersionID)
		}
	}
	if o.scannerEnabled("misconfig") || o.scannerEnabled("secret") {
		steps := make([]string, len(sc.layers))
		for i, st := range sc.layers {
			steps[i] = st.CreatedBy
		}
		var cfg = src.Config
		if kind == targetRootfs {
			cfg = nil
		}
		// Check attributes the per-layer findings (secrets, credential
		// files) itself and returns them with its own.
		rep.Findings = append(rep.Findings, imagerules.Check(imagerules.Input{
			Image: sc.merged, Config: cfg, Steps: steps, OS: osInfo,
			Options: imagerules.Options{NoSecrets: !o.scannerEnabled("secret"), NoMisconfig: !o.scannerEnabled("misconfig")},
		})...)
	}
	attributeFindings(rep.Findings, sc)
	rep.Notes = append(rep.Notes, skippedNotes(res.Layers, src.Skipped())...)
	return sc, nil
}

// openImageSource opens the target as an image, mapping bad input to exit 2.
func openImageSource(ctx context.Context, o *scanOptions, kind targetKind, target string, stderr io.Writer) (*source.Image, error) {
	var src *source.Image
	var err error
	if kind == targetRootfs {
		src, err = source.OpenRootfs(o.Rootfs)
	} else {
		so := source.Options{Image: o.Image, Platform: o.Platform, Insecure: o.Insecure}
		if !o.Quiet && isTerminal(stderr) {
			so.Progress = stderr
		}
		src, err = source.Open(ctx, target, so)
	}
	if err != nil {
		var se *source.Error
		if errors.As(err, &se) {
			return nil, &InputError{Err: err}
		}
		return nil, err
	}
	return src, nil
}

// imageAnalyzers picks the layer analyzers --scanners asks for.
func imageAnalyzers(o *scanOptions) []layerfs.Analyzer {
	var as []layerfs.Analyzer
	if o.scannerEnabled("vuln") || o.scannerEnabled("inventory") {
		as = append(as, extract.Analyzer(extract.Options{}))
	}
	if o.scannerEnabled("secret") {
		as = append(as, secret.Analyzer(secret.Options{}))
	}
	if o.scannerEnabled("misconfig") || o.scannerEnabled("secret") {
		// /etc/passwd, /etc/group and os-release for the image rules.
		as = append(as, imagerules.FilesAnalyzer())
	}
	return as
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// attributionDockerfile returns the Dockerfile to trace layers to: the one
// --dockerfile names or, for an archive, a Dockerfile next to it.
func attributionDockerfile(o *scanOptions, kind targetKind, target string) (*dockerfile.File, error) {
	p := attributionDockerfilePath(o, kind, target)
	if o.Dockerfile == "" {
		if p == "" {
			return nil, nil
		}
		df, err := dockerfile.ParseFile(p)
		if err != nil {
			return nil, nil // a stray unparsable Dockerfile next to an archive is not the user's ask
		}
		return df, nil
	}
	if p == "" {
		return nil, nil
	}
	df, err := dockerfile.ParseFile(p)
	if err != nil {
		return nil, &InputError{Err: fmt.Errorf("--dockerfile %s: %w", p, err)}
	}
	return df, nil
}

// attributionDockerfilePath returns the path attributionDockerfile
// parses: --dockerfile, or for an archive target a Dockerfile next to it;
// "" for none.
func attributionDockerfilePath(o *scanOptions, kind targetKind, target string) string {
	if o.Dockerfile != "" {
		return o.Dockerfile
	}
	if kind != targetImage {
		return ""
	}
	if st, err := os.Stat(target); err == nil && !st.IsDir() {
		p, _ := findDockerfile(filepath.Dir(target))
		return p
	}
	return ""
}

// attributeFindings fills each finding's layer digest, history step and
// Dockerfile line from its layer index.
func attributeFindings(fs []finding.Finding, sc *imageScan) {
	fill := func(loc *finding.Location) {
		if loc.LayerIndex == nil {
			// Config findings (ENV, USER, EXPOSE) come from history
			// entries that made no layer: the rules name the entry by
			// its redacted text; trace that entry to its Dockerfile line.
			if loc.Step != "" && loc.Dockerfile == "" {
				for i := len(sc.steps) - 1; i >= 0; i-- {
					st := sc.steps[i]
					if st.Line > 0 && imagerules.RedactStep(st.CreatedBy) == loc.Step {
						loc.Dockerfile, loc.DockerfileLine = st.Dockerfile, st.Line
						break
					}
				}
			}
			return
		}
		i := *loc.LayerIndex
		if i < 0 || i >= len(sc.layers) || i >= len(sc.digests) {
			return
		}
		if loc.Layer == "" {
			loc.Layer = sc.digests[i]
		}
		st := sc.layers[i]
		if loc.Step == "" {
			loc.Step = imagerules.RedactStep(st.CreatedBy)
		}
		if loc.Dockerfile == "" && st.Line > 0 {
			loc.Dockerfile, loc.DockerfileLine = st.Dockerfile, st.Line
		}
	}
	for i := range fs {
		if fs[i].Location.LayerIndex == nil && fs[i].Location.Layer != "" {
			for j, d := range sc.digests {
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
func imageInfo(sc *imageScan) *finding.ImageInfo {
	info := &finding.ImageInfo{Reference: sc.src.Reference, Digest: sc.src.Digest, Platform: sc.src.Platform}
	perLayer, wasted := sc.merged.Waste()
	for i, l := range sc.walk.Layers {
		info.Size += l.Size
		info.Layers = append(info.Layers, finding.LayerInfo{
			Index: i, Digest: l.Digest, DiffID: l.DiffID, Size: l.Size, Files: l.RegularFiles,
			WastedBytes: perLayer[i], Step: imagerules.RedactStep(sc.layers[i].CreatedBy), FromCache: sc.walk.FromCache[i],
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

// lowerGCForWalk lowers the garbage collector's target for the layer walk
// and merge, unless the user set GOGC, and returns what restores it. The
// walk's live heap is mostly path entries, and with the default GOGC=100
// the heap peaks near twice that; 50 took the 1.26 GB benchmark image's
// peak RSS from 74-78 to 62-66 MB at the same CPU time (bench/README.md).
func lowerGCForWalk() (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	old := debug.SetGCPercent(50)
	return func() { debug.SetGCPercent(old) }
}
