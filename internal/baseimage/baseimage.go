// Package baseimage tells an image's base image apart from its own layers
// (from the Dockerfile that built it, the OCI base-image labels, or a base
// image the user names), marks every image finding with its origin, and
// compares candidate base images for `kensa recommend`.
package baseimage

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/kensa-sec/kensa/internal/attrib"
	"github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/source"
)

// The OCI annotations (also set as labels) that name an image's base.
const (
	LabelBaseName   = "org.opencontainers.image.base.name"
	LabelBaseDigest = "org.opencontainers.image.base.digest"
)

// FromDockerfile returns the base of an image built from df, given its
// history steps as attrib.Match left them: the final stage's root FROM,
// and as base layers those made before the oldest step matched to the
// Dockerfile. ok is false when no step matched (the Dockerfile did not
// build this image) or the final stage has no external base.
func FromDockerfile(df *dockerfile.File, steps []attrib.Step) (*finding.BaseImage, bool) {
	if df == nil {
		return nil, false
	}
	final := df.FinalStage()
	if final == nil {
		return nil, false
	}
	root := final.Root()
	layers, matched := 0, false
	for _, s := range steps {
		if s.Line > 0 {
			matched = true
			break
		}
		if s.Layer >= 0 {
			layers = s.Layer + 1
		}
	}
	if !matched {
		return nil, false
	}
	name := root.Base.Resolved
	if root.Base.Scratch {
		name, layers = "scratch", 0
	}
	return &finding.BaseImage{Name: name, Digest: root.Base.Digest, Layers: layers, Source: "dockerfile"}, true
}

// FromLabels returns the base the image's config labels name, with the
// layer count unknown (-1).
func FromLabels(cfg *v1.ConfigFile) (*finding.BaseImage, bool) {
	if cfg == nil || cfg.Config.Labels == nil {
		return nil, false
	}
	name, digest := cfg.Config.Labels[LabelBaseName], cfg.Config.Labels[LabelBaseDigest]
	if name == "" && digest == "" {
		return nil, false
	}
	return &finding.BaseImage{Name: name, Digest: digest, Layers: -1, Source: "label"}, true
}

// FromImage returns base as the base of img when img's layers start with
// all of base's (compared by DiffID, so compression does not matter).
func FromImage(img, base *source.Image) (*finding.BaseImage, error) {
	n := commonPrefix(diffIDs(img), diffIDs(base))
	switch {
	case len(base.Layers) == 0:
		return nil, fmt.Errorf("base %s has no layers", base.Reference)
	case n == 0:
		return nil, fmt.Errorf("base %s shares no layers with %s: it is not the image's base", base.Reference, img.Reference)
	case n < len(base.Layers):
		return nil, fmt.Errorf("base %s: %s shares only its first %d of %d layers (built on another version of it?)", base.Reference, img.Reference, n, len(base.Layers))
	}
	return &finding.BaseImage{Name: base.Reference, Digest: base.Digest, Layers: n, Source: "--base"}, nil
}

func diffIDs(im *source.Image) []string {
	out := make([]string, len(im.Layers))
	for i, l := range im.Layers {
		out[i] = l.DiffID
	}
	return out
}

// commonPrefix counts the leading equal, non-empty entries of a and b.
func commonPrefix(a, b []string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] != "" && a[n] == b[n] {
		n++
	}
	return n
}

// Apply records b as rep's base and marks each image finding that names
// its layer with its origin; a config finding traced to a line of the
// Dockerfile is the image's own. Other findings without a layer (the
// final config as a whole) keep no origin. With b.Layers unknown only the
// name is kept.
func Apply(rep *finding.Report, b *finding.BaseImage) {
	if b == nil || rep.Image == nil {
		return
	}
	rep.Image.Base = b
	if b.Layers < 0 {
		return
	}
	mark := func(fs []finding.Finding) {
		for i := range fs {
			li := fs[i].Location.LayerIndex
			switch {
			case li == nil:
				if fs[i].Location.DockerfileLine > 0 {
					fs[i].Origin = finding.OriginOwn
				}
			case *li < b.Layers:
				fs[i].Origin = finding.OriginBase
			default:
				fs[i].Origin = finding.OriginOwn
			}
		}
	}
	mark(rep.Findings)
	mark(rep.Suppressed)
}
