// Package fix rewrites a Dockerfile to clear the findings of the KS-DF-*
// rules that have a safe mechanical fix (ADD → COPY, apt/apk/pip flags,
// apt lists, npm/yarn and yum/dnf/zypper caches cleaned in the same RUN, a
// non-root USER with COPY --chown, the user a USER names created, FROM
// pinned by digest, shell-form CMD/ENTRYPOINT → exec form).
//
// Every fix is an edit of the original bytes: comments, continuation lines,
// heredocs, indentation and the other lines stay as written. A fix is kept
// only when linting the edited file proves it: the finding it targets is
// gone, no other finding changed (apart from ones the fix names as cleared
// too), and BuildKit's parser still accepts the file. Fixes are applied one
// at a time until none is left, so fixing a fixed file changes nothing.
package fix

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	df "github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/finding"
	dfrules "github.com/kensa-sec/kensa/internal/rules/dockerfile"
)

// Rules are the rule IDs fix knows how to clear, in ID order.
var Rules = []string{"KS-DF-001", "KS-DF-003", "KS-DF-005", "KS-DF-006", "KS-DF-007", "KS-DF-008", "KS-DF-009", "KS-DF-024", "KS-DF-025", "KS-DF-027", "KS-DF-028"}

// Resolver returns the digest ("sha256:...") a base image reference
// points to now.
type Resolver interface {
	Digest(ctx context.Context, ref string) (string, error)
}

// Options configures Fix.
type Options struct {
	// Lint configures the checks run before and after each fix (trusted
	// registries, disabled rules, the credential scanner).
	Lint dfrules.Options
	// Rules limits fixing to these rule IDs (empty: every rule in Rules).
	Rules []string
	// Resolver pins FROM lines by digest (KS-DF-003); nil skips them.
	Resolver Resolver
	// Offline says the digest pinning was skipped on purpose (the note
	// says so instead of "no resolver").
	Offline bool
	// ContextDir is the build context, read to tell whether an ADD
	// source is an archive ADD would extract. Empty: ADD is left alone.
	ContextDir string
	// Ignored, when set, says whether a finding is ignored by the user's
	// policy (ignore file) and why; ignored findings are not fixed.
	Ignored func(fd finding.Finding) (reason string, ignored bool)
}

// Applied is one finding a fix cleared.
type Applied struct {
	// Rule is the rule ID the fix clears.
	Rule string `json:"rule"`
	// Line is the finding's line in the original file.
	Line int `json:"line"`
	// Finding is the finding's message before the fix.
	Finding string `json:"finding"`
	// Change says what was edited.
	Change string `json:"change"`
	// Also lists other findings the same edit cleared (e.g. KS-DF-002
	// when a `latest` base is pinned by digest).
	Also []string `json:"also,omitempty"`
}

// Result is the outcome of Fix.
type Result struct {
	Path     string
	Original []byte
	Fixed    []byte
	Applied  []Applied
	// Left are the findings of fixable rules still there, with why.
	Left []Left
}

// Left is a finding of a fixable rule that was not fixed.
type Left struct {
	Rule string `json:"rule"`
	// Line is the finding's line in the original file.
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// Changed reports whether anything was fixed.
func (r *Result) Changed() bool { return string(r.Original) != string(r.Fixed) }

// Diff returns the unified diff from the original to the fixed file
// ("" when nothing changed).
func (r *Result) Diff() string {
	return UnifiedDiff("a/"+strings.TrimPrefix(r.Path, "/"), "b/"+strings.TrimPrefix(r.Path, "/"), r.Original, r.Fixed)
}

// candidate is one planned fix of one finding.
type candidate struct {
	target finding.Finding
	edits  []edit
	change string
	// also are findings (rule IDs on the target's line) the edit may clear
	// besides the target.
	also []string
	// adds is the number of instructions the edit inserts.
	adds int
}

// state is one version of the file being fixed.
type state struct {
	data     []byte
	file     *df.File
	src      *src
	findings []finding.Finding
}

type fixer struct {
	ctx     context.Context
	path    string
	opts    Options
	rules   map[string]bool
	digests map[string]digestResult
	notes   map[string]string // finding key → why it was left
	// shifts records, per accepted batch of edits, (line, delta) in the
	// coordinates before the batch: lines added there, to map lines back
	// to the original.
	shifts [][][2]int
}

type digestResult struct {
	digest string
	err    error
}

// maxFixes and maxRounds bound the work on one (hostile) file.
const (
	maxFixes  = 2000
	maxRounds = 400
)

// batch plans a fix for every fixable finding of st, at most one per
// instruction; a fix that inserts instructions (USER) goes alone.
func (fx *fixer) batch(st *state, failed map[string]bool) []*candidate {
	var out []*candidate
	busy := map[int]bool{}
	for _, fd := range st.findings {
		k := key(st, fd)
		if !fx.rules[fd.ID] || fd.Suppressed != nil || failed[k] || busy[fd.Location.Line] {
			continue
		}
		if fx.opts.Ignored != nil {
			if why, ok := fx.opts.Ignored(fd); ok {
				failed[k], fx.notes[k] = true, why
				continue
			}
		}
		c, why := fx.plan(st, fd)
		if c == nil {
			failed[k] = true
			if why != "" {
				fx.notes[k] = why
			}
			continue
		}
		if c.adds > 0 {
			if len(out) == 0 {
				return []*candidate{c}
			}
			continue // next round, alone
		}
		lines := map[int]bool{}
		for _, e := range c.edits {
			lines[st.src.lineAt(e.start)] = true
		}
		clash := false
		for _, o := range out {
			for _, e := range o.edits {
				if lines[st.src.lineAt(e.start)] {
					clash = true
				}
			}
		}
		if clash {
			continue
		}
		busy[fd.Location.Line] = true
		out = append(out, c)
	}
	return out
}

// Fix lints data, applies every safe fix it can prove, and returns the
// result. A file BuildKit's parser rejects is an error (*dockerfile.Error).
func Fix(ctx context.Context, path string, data []byte, opts Options) (*Result, error) {
	st, err := load(path, data, opts.Lint)
	if err != nil {
		return nil, err
	}
	fx := &fixer{ctx: ctx, path: path, opts: opts, rules: map[string]bool{}, digests: map[string]digestResult{}, notes: map[string]string{}}
	for _, id := range Rules {
		if len(opts.Rules) == 0 || slices.Contains(opts.Rules, id) {
			fx.rules[id] = true
		}
	}
	res := &Result{Path: path, Original: data}
	failed := map[string]bool{}
	for round := 0; round < maxRounds && len(res.Applied) < maxFixes; round++ {
		batch := fx.batch(st, failed)
		if len(batch) == 0 {
			break
		}
		// All planned fixes at once when together they prove out; else
		// one at a time, the first that proves out alone.
		var next *state
		var used []*candidate
		if len(batch) > 1 {
			if ns, ok := fx.try(st, batch); ok {
				next, used = ns, batch
			}
		}
		for _, c := range batch {
			if next != nil {
				break
			}
			if ns, ok := fx.try(st, []*candidate{c}); ok {
				next, used = ns, []*candidate{c}
			} else {
				failed[key(st, c.target)] = true
				fx.notes[key(st, c.target)] = "the edit did not clear the finding cleanly; left as is"
			}
		}
		if next == nil {
			continue
		}
		var edits []edit
		for _, c := range used {
			edits = append(edits, c.edits...)
		}
		for _, c := range used {
			a := Applied{Rule: c.target.ID, Line: fx.originalLine(c.target.Location.Line), Finding: c.target.Message, Change: c.change}
			tl := c.target.Location.Line
			for _, id := range c.also {
				if count(st.findings, id, tl) > count(next.findings, id, tl+lineShift(st.src, edits, tl)) {
					a.Also = append(a.Also, id)
				}
			}
			res.Applied = append(res.Applied, a)
		}
		fx.recordShift(st, edits)
		st = next
	}
	res.Fixed = st.data
	// Notes for what is left.
	seen := map[string]bool{}
	for _, fd := range st.findings {
		if !fx.rules[fd.ID] {
			continue
		}
		why := fx.notes[key(st, fd)]
		if fd.Suppressed != nil {
			why = "suppressed (" + fd.Suppressed.Reason + ")"
		}
		if why == "" {
			why = "no safe mechanical fix"
		}
		l := Left{Rule: fd.ID, Line: fx.originalLine(fd.Location.Line), Reason: why}
		if k := fmt.Sprint(l); !seen[k] {
			seen[k] = true
			res.Left = append(res.Left, l)
		}
	}
	sort.SliceStable(res.Applied, func(i, j int) bool { return res.Applied[i].Line < res.Applied[j].Line })
	return res, nil
}

// load parses and lints one version of the file.
func load(path string, data []byte, opts dfrules.Options) (*state, error) {
	f, err := df.Parse(path, data)
	if err != nil {
		return nil, err
	}
	return &state{data: data, file: f, src: newSrc(data, f.EscapeToken), findings: dfrules.Lint(f, opts)}, nil
}

// key identifies a finding across versions of the file (lines move).
func key(st *state, fd finding.Finding) string {
	return fd.ID + "\x00" + fd.Message + "\x00" + fd.Location.Step
}

// try applies the candidates together and checks, by linting the result,
// that each cleared its target and nothing else changed.
func (fx *fixer) try(st *state, cs []*candidate) (*state, bool) {
	var edits []edit
	adds := 0
	for _, c := range cs {
		if len(c.edits) == 0 {
			return nil, false
		}
		edits = append(edits, c.edits...)
		adds += c.adds
	}
	if overlapping(edits) {
		return nil, false
	}
	data := apply(st.data, edits)
	ns, err := load(fx.path, data, fx.opts.Lint)
	if err != nil {
		return nil, false
	}
	// The edits must add exactly the instructions they mean to: inserted
	// lines swallowed by a continuation, or an edit that splits or joins
	// instructions, is refused.
	if len(ns.file.Instructions) != len(st.file.Instructions)+adds || len(ns.file.Stages) != len(st.file.Stages) {
		return nil, false
	}
	for i, j := 0, 0; i < len(st.file.Instructions) && j < len(ns.file.Instructions); i, j = i+1, j+1 {
		a, b := st.file.Instructions[i], ns.file.Instructions[j]
		for a.Cmd != b.Cmd && !(a.Cmd == "add" && b.Cmd == "copy") && j+1 < len(ns.file.Instructions) {
			j++
			b = ns.file.Instructions[j]
		}
		if a.Cmd != b.Cmd && !(a.Cmd == "add" && b.Cmd == "copy") {
			return nil, false
		}
		// A script the shell parser read must still parse: an edit that
		// breaks it could fool the checks run on the fallback split.
		if runScript(a) != nil && !runScript(a).Fallback && runScript(b) != nil && runScript(b).Fallback {
			return nil, false
		}
	}
	before := map[string]int{}
	for _, fd := range st.findings {
		l := fd.Location.Line + lineShift(st.src, edits, fd.Location.Line)
		before[fd.ID+"@"+itoa(l)]++
	}
	after := map[string]int{}
	for _, fd := range ns.findings {
		after[fd.ID+"@"+itoa(fd.Location.Line)]++
	}
	targets := map[string]int{}
	allowed := map[string]bool{} // also-cleared keys
	for _, c := range cs {
		tl := c.target.Location.Line + lineShift(st.src, edits, c.target.Location.Line)
		tk := c.target.ID + "@" + itoa(tl)
		targets[tk]++
		for _, fd := range ns.findings {
			if fd.ID == c.target.ID && fd.Location.Line == tl && fd.Message == c.target.Message {
				return nil, false
			}
		}
		for _, id := range c.also {
			allowed[id+"@"+itoa(tl)] = true
		}
	}
	for tk, n := range targets {
		if after[tk] > before[tk]-n {
			return nil, false
		}
	}
	for k, n := range after {
		if n > before[k] {
			return nil, false // a new finding
		}
	}
	for k, n := range before {
		if after[k] < n-targets[k] && !allowed[k] {
			return nil, false // another finding vanished
		}
	}
	return ns, true
}

// overlapping reports whether two edits touch the same bytes.
func overlapping(edits []edit) bool {
	es := append([]edit(nil), edits...)
	sort.Slice(es, func(i, j int) bool { return es[i].start < es[j].start })
	for i := 1; i < len(es); i++ {
		if es[i].start < es[i-1].end || es[i].start == es[i-1].start {
			return true
		}
	}
	return false
}

func count(fs []finding.Finding, id string, line int) int {
	n := 0
	for _, fd := range fs {
		if fd.ID == id && fd.Location.Line == line {
			n++
		}
	}
	return n
}

func (fx *fixer) recordShift(st *state, edits []edit) {
	var group [][2]int
	for _, e := range edits {
		d := strings.Count(e.text, "\n") - strings.Count(string(st.data[e.start:e.end]), "\n")
		if d != 0 {
			group = append(group, [2]int{st.src.lineAt(e.start), d})
		}
	}
	sort.Slice(group, func(i, j int) bool { return group[i][0] < group[j][0] })
	if len(group) > 0 {
		fx.shifts = append(fx.shifts, group)
	}
}

// originalLine maps a line of the current version back to the original.
func (fx *fixer) originalLine(l int) int {
	for i := len(fx.shifts) - 1; i >= 0; i-- {
		cum, total := 0, 0
		for _, sh := range fx.shifts[i] {
			if l > sh[0]+cum {
				total += sh[1]
			}
			cum += sh[1]
		}
		l -= total
	}
	return max(l, 1)
}

// plan picks the fix for one finding, or says why there is none.
func (fx *fixer) plan(st *state, fd finding.Finding) (*candidate, string) {
	in := instructionAt(st.file, fd.Location.Line)
	if in == nil {
		return nil, ""
	}
	switch fd.ID {
	case "KS-DF-001":
		return fx.planUser(st, fd)
	case "KS-DF-003":
		return fx.planDigest(st, fd, in)
	case "KS-DF-005":
		return fx.planAdd(st, fd, in)
	case "KS-DF-006", "KS-DF-008":
		return planFlag(st, fd, in)
	case "KS-DF-009":
		return planLangCache(st, fd, in)
	case "KS-DF-025":
		return planRPMCache(st, fd, in)
	case "KS-DF-007":
		return planAptLists(st, fd, in)
	case "KS-DF-024":
		return planExecForm(st, fd, in)
	case "KS-DF-027":
		return planChown(st, fd, in, "")
	case "KS-DF-028":
		return fx.planCreateUser(st, fd, in)
	}
	return nil, ""
}

// runScript returns the parsed script of a RUN or ONBUILD RUN, or nil.
func runScript(in *df.Instruction) *df.Script {
	if in.OnBuild != nil {
		in = in.OnBuild
	}
	return in.Script
}

// instructionAt returns the instruction starting at line l.
func instructionAt(f *df.File, l int) *df.Instruction {
	for _, in := range f.Instructions {
		if in.StartLine == l {
			return in
		}
	}
	return nil
}

func itoa(n int) string { return fmt.Sprint(n) }
