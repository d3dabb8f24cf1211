package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kensa-sec/kensa/internal/baseimage"
	"github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/imagescan"
	"github.com/kensa-sec/kensa/internal/layerfs"
	"github.com/kensa-sec/kensa/internal/source"
	"golang.org/x/term"
)

// scanImage scans an image (archive, layout, registry) or a rootfs folder.
func scanImage(ctx context.Context, o *scanOptions, kind targetKind, target string, stderr io.Writer) (*finding.Report, error) {
	res, err := runImageScan(ctx, o, kind, target, stderr)
	if err != nil {
		return nil, err
	}
	return res.Report, nil
}

// runImageScan opens the target, runs the imagescan pipeline with the
// flags' options and, when the vuln scanner is on, matches and attributes
// vulnerabilities.
func runImageScan(ctx context.Context, o *scanOptions, kind targetKind, target string, stderr io.Writer) (*imagescan.Result, error) {
	if o.MaxFile < 0 {
		return nil, inputErrorf("--max-file-size %d: must not be negative", o.MaxFile)
	}
	src, err := openImageSource(ctx, o, kind, target, stderr)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	df, err := attributionDockerfile(o, kind, target)
	if err != nil {
		return nil, err
	}
	// Policies read the final filesystem, which an image-cache hit lacks.
	so := imagescan.Options{Scanners: o.scanners(), MaxFileSize: o.MaxFile, Dockerfile: df, NoImageCache: o.regoPolicies != nil}
	if !o.NoCache {
		if so.CacheDir = o.CacheDir; so.CacheDir == "" {
			if so.CacheDir, err = layerfs.DefaultCacheDir(); err != nil {
				return nil, err
			}
		}
	}
	if kind == targetRootfs {
		target = o.Rootfs
	}
	res, err := imagescan.Scan(ctx, src, target, so)
	if err != nil {
		var ie *imagescan.InputError
		if errors.As(err, &ie) {
			return nil, &InputError{Err: err}
		}
		return nil, err
	}
	if o.scannerEnabled("vuln") {
		if err := matchVulns(ctx, o, res.Report, stderr); err != nil {
			return nil, err
		}
		res.Attribute(res.Report.Findings)
	}
	b, err := baseOf(ctx, o, src, df, res)
	if err != nil {
		return nil, err
	}
	baseimage.Apply(res.Report, b)
	o.regoPolicies.noteImage(res, df)
	return res, nil
}

// baseOf finds the image's base: --base (opened and compared layer by
// layer), else the Dockerfile's final FROM, else the base-name label.
func baseOf(ctx context.Context, o *scanOptions, src *source.Image, df *dockerfile.File, res *imagescan.Result) (*finding.BaseImage, error) {
	if o.Base != "" {
		base, err := source.Open(ctx, o.Base, source.Options{Platform: o.Platform, Insecure: o.Insecure})
		if err != nil {
			return nil, &InputError{Err: fmt.Errorf("--base: %w", err)}
		}
		defer base.Close()
		b, err := baseimage.FromImage(src, base)
		if err != nil {
			return nil, &InputError{Err: fmt.Errorf("--base: %w", err)}
		}
		if o.Base != base.Reference || b.Name == "" {
			b.Name = o.Base
		}
		return b, nil
	}
	if b, ok := baseimage.FromDockerfile(df, res.Steps); ok {
		return b, nil
	}
	if b, ok := baseimage.FromLabels(src.Config); ok {
		return b, nil
	}
	return nil, nil
}

// scanners turns --scanners into imagescan's switches.
func (o *scanOptions) scanners() imagescan.Scanners {
	return imagescan.Scanners{
		Misconfig: o.scannerEnabled("misconfig"), Secret: o.scannerEnabled("secret"),
		Vuln: o.scannerEnabled("vuln"), Inventory: o.scannerEnabled("inventory"),
	}
}

// openImageSource opens the target as an image, mapping bad input to exit 2.
func openImageSource(ctx context.Context, o *scanOptions, kind targetKind, target string, stderr io.Writer) (*source.Image, error) {
	var src *source.Image
	var err error
	if kind == targetRootfs {
		src, err = source.OpenRootfs(o.Rootfs)
	} else {
		so := source.Options{Image: o.Image, Platform: o.Platform, Insecure: o.Insecure, Sources: o.ImageSrc}
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

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// attributionDockerfile returns the Dockerfile to trace layers to: the one
// --dockerfile names or, for an archive, a Dockerfile next to it (ignored
// when it does not parse: a stray file next to an archive is not the
// user's ask).
func attributionDockerfile(o *scanOptions, kind targetKind, target string) (*dockerfile.File, error) {
	if o.Dockerfile != "" {
		df, err := dockerfile.ParseFile(o.Dockerfile)
		if err != nil {
			return nil, &InputError{Err: fmt.Errorf("--dockerfile %s: %w", o.Dockerfile, err)}
		}
		return df, nil
	}
	if kind != targetImage {
		return nil, nil
	}
	st, err := os.Stat(target)
	if err != nil || st.IsDir() {
		return nil, nil
	}
	p, ok := findDockerfile(filepath.Dir(target))
	if !ok {
		return nil, nil
	}
	df, err := dockerfile.ParseFile(p)
	if err != nil {
		return nil, nil
	}
	return df, nil
}
