// Package attrib traces image layers back to what made them: each layer to
// its history entry (the `created_by` step) and, when the Dockerfile that
// built the image is given, each step to the instruction and line of the
// Dockerfile's final stage.
package attrib

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/kensa-sec/kensa/internal/dockerfile"
)

// Step is one history entry of an image.
type Step struct {
	// History is the index in the config's history.
	History int
	// Layer is the index of the layer this entry made, or -1 for entries
	// that made no layer (ENV, LABEL, ...).
	Layer     int
	CreatedBy string
	// Dockerfile and Line name the instruction that made the step, when
	// matched.
	Dockerfile string
	Line       int
}

// Steps lists the image's history entries, linking the ones that made a
// layer to it (empty_layer entries are skipped when counting layers). When
// the history has fewer non-empty entries than there are layers, the
// missing ones are added with no CreatedBy.
func Steps(cfg *v1.ConfigFile, layers int) []Step {
	var out []Step
	next := 0
	if cfg != nil {
		for i, h := range cfg.History {
			s := Step{History: i, Layer: -1, CreatedBy: h.CreatedBy}
			if !h.EmptyLayer && next < layers {
				s.Layer = next
				next++
			}
			out = append(out, s)
		}
	}
	for ; next < layers; next++ {
		out = append(out, Step{History: -1, Layer: next})
	}
	return out
}

// LayerSteps returns, per layer, the step that made it.
func LayerSteps(steps []Step, layers int) []Step {
	out := make([]Step, layers)
	for i := range out {
		out[i] = Step{History: -1, Layer: i}
	}
	for _, s := range steps {
		if s.Layer >= 0 && s.Layer < layers {
			out[s.Layer] = s
		}
	}
	return out
}

// Match links steps to the instructions of the Dockerfile's final stage
// (and the stages it is built on), using the Dockerfile model's history
// alignment (newest entries first; base-image entries stay unmatched).
func Match(steps []Step, df *dockerfile.File) {
	created := make([]string, len(steps))
	for i, s := range steps {
		created[i] = s.CreatedBy
	}
	hs := df.HistorySteps()
	for i, k := range dockerfile.AlignHistory(hs, created) {
		if k >= 0 && steps[i].CreatedBy != "" {
			steps[i].Dockerfile, steps[i].Line = df.Path, hs[k].Line()
		}
	}
}
