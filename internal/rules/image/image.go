// Package image holds the KS-IM-* image checks: the image config (user,
// Env, history, healthcheck, exposed ports), the merged filesystem
// (setuid/setgid, world-writable paths, package-manager caches, shells,
// end-of-life OS releases, layer waste) and the attribution of per-layer
// secret findings (KS-SE-*, credential files KS-IM-004/005) to the layer
// and history step that wrote them.
//
// Check is a pure function over a merged layer view (layerfs.Image), the
// image config and the history: it reads no image bytes itself. The small
// files it needs (/etc/passwd, /etc/group) come from FilesAnalyzer, which
// the layer walk runs with the other analyzers.
package image

import (
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/inventory"
	"github.com/kensa-sec/kensa/internal/layerfs"
)

// DefaultWasteMinBytes is the per-layer waste above which KS-IM-012 fires.
const DefaultWasteMinBytes = 10 << 20

// Options tunes the checks.
type Options struct {
	// Now is the date end-of-life is judged against (default time.Now()).
	Now time.Time
	// WasteMinBytes is the per-layer waste threshold for KS-IM-012
	// (default DefaultWasteMinBytes).
	WasteMinBytes int64
	// NoSecrets skips secret checks and attribution (KS-IM-002..005,
	// KS-SE-*); NoMisconfig skips the others. Both follow --scanners.
	NoSecrets, NoMisconfig bool
}

// Input is what Check looks at.
type Input struct {
	// Image is the merged view of the layers, including each layer's
	// findings from the secret analyzer (LayerFacts.Findings).
	Image *layerfs.Image
	// Config is the image config; nil for a root filesystem.
	Config *v1.ConfigFile
	// Steps is the history created_by of each layer (index = layer
	// index), "" when unknown. When empty, the non-empty-layer entries of
	// Config.History are used.
	Steps []string
	// OS is the detected operating system; nil when unknown.
	OS *inventory.OS
	Options
}

// Check runs every KS-IM rule and returns the findings, including the
// per-layer findings of LayerFacts.Findings with their layer, index and
// (redacted) step filled in: callers must not add LayerFacts.Findings to
// the report themselves. Every Location.Step is redacted (RedactStep):
// build arguments and commands in history never reach the output.
func Check(in Input) []finding.Finding {
	if in.Image == nil {
		return nil
	}
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	if in.WasteMinBytes <= 0 {
		in.WasteMinBytes = DefaultWasteMinBytes
	}
	c := newChecker(in)
	var out []finding.Finding
	if !in.NoSecrets {
		out = append(out, c.layerFindings()...)
		out = append(out, c.envSecrets()...)
		out = append(out, c.historySecrets()...)
	}
	if !in.NoMisconfig {
		out = append(out, c.rootUser()...)
		out = append(out, c.setuid()...)
		out = append(out, c.worldWritable()...)
		out = append(out, c.healthcheck()...)
		out = append(out, c.caches()...)
		out = append(out, c.shells()...)
		out = append(out, c.ports()...)
		out = append(out, c.waste()...)
		out = append(out, c.endOfLife()...)
		out = append(out, c.hostile()...)
	}
	finding.Sort(out)
	return out
}

// histEntry is one history entry with the layer it produced (-1 for
// empty-layer entries such as ENV or ARG).
type histEntry struct {
	createdBy string
	redacted  string
	layer     int
}

type checker struct {
	in    Input
	im    *layerfs.Image
	steps []string // redacted, per layer
	hist  []histEntry
}

func newChecker(in Input) *checker {
	c := &checker{in: in, im: in.Image}
	n := len(in.Image.Layers)
	raw := make([]string, n)
	copy(raw, in.Steps)
	if in.Config != nil && len(in.Config.History) > 0 {
		layer := 0
		for _, h := range in.Config.History {
			e := histEntry{createdBy: h.CreatedBy, redacted: RedactStep(h.CreatedBy), layer: -1}
			if !h.EmptyLayer {
				if layer < n {
					e.layer = layer
					if raw[layer] == "" {
						raw[layer] = h.CreatedBy
					}
				}
				layer++
			}
			c.hist = append(c.hist, e)
		}
	} else {
		for i, s := range raw {
			if s != "" {
				c.hist = append(c.hist, histEntry{createdBy: s, redacted: RedactStep(s), layer: i})
			}
		}
	}
	c.steps = make([]string, n)
	for i, s := range raw {
		c.steps[i] = RedactStep(s)
	}
	return c
}

// loc returns a location in layer (or none when layer < 0) for path p.
func (c *checker) loc(layer int, p string) finding.Location {
	l := finding.Location{Path: p}
	if layer >= 0 && layer < len(c.im.Layers) {
		l.Layer = c.im.Layers[layer].Digest
		l.LayerIndex = finding.IntPtr(layer)
		l.Step = c.steps[layer]
	}
	return l
}

// layerName names a layer in messages: "layer 2 (sha256:abcdef123456)".
func (c *checker) layerName(i int) string {
	s := "layer " + itoa(i)
	if i >= 0 && i < len(c.im.Layers) {
		if d := c.im.Layers[i].Digest; d != "" {
			s += " (" + shortDigest(d) + ")"
		}
	}
	return s
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}
