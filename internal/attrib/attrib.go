// Package attrib traces image layers back to what made them: each layer to
// its history entry (the `created_by` step) and, when the Dockerfile that
// built the image is given, each step to the instruction and line of the
// Dockerfile's final stage.
package attrib

import (
	"strconv"
	"strings"

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

// parsed is a created_by string split into its instruction keyword and
// the rest.
type parsed struct {
	cmd  string // "run", "copy", "add", "env", ...
	text string // command or arguments, whitespace-collapsed
}

// parseCreatedBy understands the formats builders write:
//
//	RUN /bin/sh -c apt-get update # buildkit          (BuildKit)
//	RUN |1 TOKEN=x /bin/sh -c make # buildkit         (BuildKit, with ARGs)
//	COPY app /app # buildkit                          (BuildKit)
//	/bin/sh -c #(nop) COPY file:ab12... in /etc/x     (docker classic, buildah)
//	/bin/sh -c apt-get update                         (docker classic, buildah RUN)
//	|1 TOKEN=x /bin/sh -c rm /etc/x                   (docker classic, buildah RUN with ARGs)
func parseCreatedBy(s string) parsed {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "# buildkit"))
	if i := strings.Index(s, "#(nop)"); i >= 0 {
		rest := strings.TrimSpace(s[i+len("#(nop)"):])
		kw, args, _ := strings.Cut(rest, " ")
		return parsed{cmd: strings.ToLower(kw), text: collapse(args)}
	}
	kw, rest, _ := strings.Cut(s, " ")
	switch strings.ToUpper(kw) {
	case "RUN":
		return parsed{cmd: "run", text: collapse(stripShell(stripArgs(rest)))}
	case "COPY", "ADD", "ENV", "LABEL", "ARG", "WORKDIR", "USER", "EXPOSE", "CMD", "ENTRYPOINT", "VOLUME", "HEALTHCHECK", "SHELL", "STOPSIGNAL", "ONBUILD":
		return parsed{cmd: strings.ToLower(kw), text: collapse(rest)}
	}
	return parsed{cmd: "run", text: collapse(stripShell(stripArgs(s)))}
}

// stripArgs removes the "|N K=V ..." prefix recording build args.
func stripArgs(s string) string {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "|") {
		return s
	}
	num, rest, _ := strings.Cut(s[1:], " ")
	n, err := strconv.Atoi(num)
	if err != nil {
		return s
	}
	for range n {
		_, rest, _ = strings.Cut(strings.TrimSpace(rest), " ")
	}
	return strings.TrimSpace(rest)
}

func stripShell(s string) string {
	for _, p := range []string{"/bin/sh -c ", "/bin/bash -c ", "cmd /S /C "} {
		if strings.HasPrefix(s, p) {
			return s[len(p):]
		}
	}
	return s
}

func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

// instrText is an instruction's arguments as builders record them.
func instrText(in *dockerfile.Instruction) string {
	_, rest, _ := strings.Cut(collapse(in.Original), " ")
	// Drop flags such as --chown=, --mount=, --from= from COPY/RUN.
	for strings.HasPrefix(rest, "--") {
		_, rest, _ = strings.Cut(rest, " ")
	}
	return rest
}

// matches reports whether history step p could have come from in.
func matches(p parsed, in *dockerfile.Instruction) bool {
	if p.cmd != in.Cmd {
		return false
	}
	want := instrText(in)
	switch in.Cmd {
	case "run":
		if in.JSON {
			return strings.Contains(p.text, strings.Join(in.Args, " ")) || p.text == want
		}
		return p.text == want || (want != "" && strings.Contains(p.text, want))
	case "copy", "add":
		// docker classic and buildah write "file:<hash> in <dest>"; BuildKit
		// writes the arguments.
		dest := in.Dest()
		if p.text == want {
			return true
		}
		return dest != "" && (strings.HasSuffix(p.text, " "+dest) || strings.HasSuffix(strings.TrimSuffix(p.text, "/"), " "+strings.TrimSuffix(dest, "/")) || strings.Contains(p.text, " in "+dest))
	default:
		return p.text == want || strings.HasPrefix(p.text, want) || strings.HasPrefix(want, p.text)
	}
}

// Match links steps to the instructions of the Dockerfile's final stage
// (and the stages it is built on), aligning from the newest step
// backwards: the image's newest history entries were made by the last
// instructions. Steps made by the base image stay unmatched.
func Match(steps []Step, df *dockerfile.File) {
	final := df.FinalStage()
	if final == nil {
		return
	}
	var instrs []*dockerfile.Instruction
	chain := final.Chain()
	for i := len(chain) - 1; i >= 0; i-- {
		instrs = append(instrs, chain[i].Instructions...)
	}
	j := len(instrs) - 1
	for i := len(steps) - 1; i >= 0 && j >= 0; i-- {
		p := parseCreatedBy(steps[i].CreatedBy)
		if steps[i].CreatedBy == "" {
			continue
		}
		for k := j; k >= 0; k-- {
			if matches(p, instrs[k]) {
				steps[i].Dockerfile, steps[i].Line = df.Path, instrs[k].StartLine
				j = k - 1
				break
			}
		}
	}
}
