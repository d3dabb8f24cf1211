package dockerfile

import (
	"regexp"
	"strings"
)

// Step is a Dockerfile instruction that leaves an entry in an image's
// history (every instruction after FROM except ARG and ONBUILD-less
// no-ops). RUN, COPY and ADD create a filesystem layer; the others
// (ENV, LABEL, WORKDIR, USER, CMD, ...) create an empty-layer entry.
type Step struct {
	Stage       *Stage
	Instruction *Instruction
	// EmptyLayer is true for steps that add no filesystem layer.
	EmptyLayer bool
}

// Line returns the step's first Dockerfile line.
func (s Step) Line() int { return s.Instruction.StartLine }

// HistorySteps returns, in build order, the steps of the image built from
// the final stage: the steps of every stage it is built on (FROM <stage>)
// followed by its own. An image's history lists the base image's entries
// first, then one entry per step, so the last len(steps) history entries
// correspond to these steps; AlignHistory does that matching.
func (f *File) HistorySteps() []Step {
	fs := f.FinalStage()
	if fs == nil {
		return nil
	}
	var out []Step
	for _, s := range fs.Chain() {
		out = append(out, StageSteps(s)...)
	}
	return out
}

// StageSteps returns the history steps of one stage (without its base stages).
func StageSteps(s *Stage) []Step {
	var out []Step
	for _, in := range s.Instructions {
		if in.Cmd == "arg" {
			continue // ARG leaves no history entry of its own under BuildKit
		}
		out = append(out, Step{Stage: s, Instruction: in, EmptyLayer: !in.CreatesLayer()})
	}
	return out
}

var (
	buildkitArgsRe = regexp.MustCompile(`^\|\d+( \S+=\S*)* `)
	spaceRe        = regexp.MustCompile(`\s+`)
)

// NormalizeCreatedBy reduces an image history `created_by` string, or a
// Dockerfile instruction's Original text, to a comparable form:
//
//   - BuildKit: `RUN |2 A=1 B=2 /bin/sh -c apt-get update # buildkit`
//   - classic docker: `/bin/sh -c #(nop)  ENV A=1`, `/bin/sh -c apt-get update`
//   - Dockerfile: `RUN apt-get update`, `ENV A=1`
//
// all become "<KEYWORD> <text>" with the shell prefix, build-arg prefix,
// "# buildkit" suffix and repeated whitespace removed.
func NormalizeCreatedBy(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(s, "# buildkit")
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "/bin/sh -c #(nop)"); ok {
		s = strings.TrimSpace(rest)
	} else if rest, ok := strings.CutPrefix(s, "/bin/sh -c "); ok {
		s = "RUN " + rest
	} else if buildkitArgsRe.MatchString(s) {
		s = "RUN " + buildkitArgsRe.ReplaceAllString(s, "")
	}
	kw, rest, _ := strings.Cut(s, " ")
	kw = strings.ToUpper(kw)
	rest = strings.TrimSpace(rest)
	if kw == "RUN" {
		rest = buildkitArgsRe.ReplaceAllString(rest, "")
		rest = strings.TrimPrefix(rest, "/bin/sh -c ")
	}
	return strings.TrimSpace(kw + " " + spaceRe.ReplaceAllString(rest, " "))
}

// stepKey is the normalized text of a step.
func stepKey(in *Instruction) string {
	orig := in.Original
	if len(in.Flags) > 0 && in.Cmd == "run" {
		// RUN --mount=... flags are not part of the recorded command.
		orig = "RUN " + strings.Join(in.Args, " ")
	}
	return NormalizeCreatedBy(orig)
}

// AlignHistory matches image history entries (their created_by strings,
// oldest first) to Dockerfile steps (HistorySteps). It returns, for each
// history entry, the index of its step in steps, or -1 (base-image entries
// and entries it cannot place). Entries are aligned from the newest back:
// an entry matches the step whose normalized text equals it, or, when the
// texts differ (classic docker writes `COPY file:<hash> in /dst`), the step
// at the same position from the end if both are the same instruction kind.
func AlignHistory(steps []Step, createdBy []string) []int {
	out := make([]int, len(createdBy))
	for i := range out {
		out[i] = -1
	}
	si := len(steps) - 1
	for hi := len(createdBy) - 1; hi >= 0 && si >= 0; hi-- {
		h := NormalizeCreatedBy(createdBy[hi])
		hkw, _, _ := strings.Cut(h, " ")
		// Look a few steps back for an exact match (skipped steps such as
		// ONBUILD triggers or merged instructions).
		found := -1
		for k := si; k >= 0 && k >= si-3; k-- {
			if stepKey(steps[k].Instruction) == h {
				found = k
				break
			}
		}
		if found < 0 && strings.EqualFold(hkw, steps[si].Instruction.Cmd) {
			found = si
		}
		if found < 0 {
			continue
		}
		out[hi] = found
		si = found - 1
	}
	return out
}
