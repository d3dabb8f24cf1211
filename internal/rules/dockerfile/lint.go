// Package dockerfile holds kensa's Dockerfile checks, KS-DF-001 to KS-DF-030.
// Each check is a small value (rule ID + function) that reads the parsed
// model from internal/dockerfile and reports findings with the Dockerfile
// path and lines, a message naming what it saw and a concrete fix.
//
// Findings on instructions preceded by `# kensa ignore=ID[,ID]` are kept,
// marked Suppressed (By "inline"), so the policy layer can move them aside
// and --show-suppressed can show them.
package dockerfile

import (
	"slices"
	"strings"

	df "github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/rules"
)

// Options configures the checks.
type Options struct {
	// TrustedRegistries lists registries or registry/namespace prefixes
	// base images may come from ("ghcr.io/acme", "docker.io/library").
	// KS-DF-004 runs only when it is non-empty.
	TrustedRegistries []string
	// IsTrusted, when set, decides whether a resolved base image reference
	// is trusted (the policy package's matcher); otherwise a prefix match
	// over TrustedRegistries is used.
	IsTrusted func(ref string) bool
	// Disabled rule IDs are not run.
	Disabled []string
	// ScanValue, when set, looks for a credential in an ENV/ARG/LABEL
	// value (KS-DF-010) and returns a short description of what it found
	// (e.g. "KS-SE-github-token ghp_…(40 chars)"). When nil a small
	// built-in set of token patterns is used.
	ScanValue func(value string) (desc string, found bool)
}

// Check is one rule's check.
type Check struct {
	ID  string
	Run func(c *Context)
}

// Context is what a check sees: the file, the options and the report sink.
type Context struct {
	File *df.File
	Opts *Options
	out  []finding.Finding

	// Facts many checks read, computed once per file.
	scripts  map[*df.Script]*scriptFacts
	chain    []*df.Stage       // finalChain, once computed
	chainIns []*df.Instruction // instructions of chain
	chained  bool              // chain and chainIns are set
}

// scriptFacts caches what several checks derive from one RUN.
type scriptFacts struct {
	ops          []pkgOp
	opsDone      bool
	noRecommends int8 // 0 unknown, 1 yes, -1 no
}

// facts returns the cache entry of sc.
func (c *Context) facts(sc *df.Script) *scriptFacts {
	if sf := c.scripts[sc]; sf != nil {
		return sf
	}
	if c.scripts == nil {
		c.scripts = make(map[*df.Script]*scriptFacts, 8)
	}
	sf := &scriptFacts{}
	c.scripts[sc] = sf
	return sf
}

// pkgOps returns the package-manager invocations of sc (computed once).
func (c *Context) pkgOps(sc *df.Script) []pkgOp {
	sf := c.facts(sc)
	if !sf.opsDone {
		sf.ops, sf.opsDone = pkgOps(sc), true
	}
	return sf.ops
}

// finalChain returns the stages whose layers end up in the final image
// (computed once; callers must not modify the slice).
func (c *Context) finalChain() []*df.Stage {
	c.chainOnce()
	return c.chain
}

// chainInstructions returns the instructions of finalChain, in order
// (computed once; callers must not modify the slice).
func (c *Context) chainInstructions() []*df.Instruction {
	c.chainOnce()
	return c.chainIns
}

func (c *Context) chainOnce() {
	if !c.chained {
		c.chain = finalChain(c.File)
		c.chainIns = chainInstructions(c.chain)
		c.chained = true
	}
}

// Report adds a finding for rule id at instruction in (nil: line 1). An
// empty fix keeps the catalogue's default.
func (c *Context) Report(id string, in *df.Instruction, msg, fix string) {
	loc := finding.Location{Path: c.File.Path, Line: 1, EndLine: 1}
	if in != nil {
		loc.Line, loc.EndLine = in.StartLine, in.EndLine
		loc.Step = clip(in.Original, 200)
	}
	f := rules.MustLookup(id).NewFinding(msg, loc)
	if fix != "" {
		f.Fix = fix
	}
	if in != nil && slices.Contains(in.Ignores, id) {
		f.Suppressed = &finding.Suppression{By: "inline", Source: c.File.Path + ":" + itoa(in.IgnoreLine), Reason: "# kensa ignore=" + id}
	}
	if c.out == nil {
		c.out = make([]finding.Finding, 0, 8) // the corpus averages 6.6 findings a file
	}
	c.out = append(c.out, f)
}

// Checks returns every Dockerfile check in rule-ID order.
func Checks() []Check { return slices.Clone(checks) }

// checks is the catalogue Lint runs (built once, not per file).
var checks = []Check{
	{"KS-DF-001", checkRootUser},
	{"KS-DF-002", checkLatestTag},
	{"KS-DF-003", checkDigest},
	{"KS-DF-004", checkTrustedRegistry},
	{"KS-DF-005", checkAdd},
	{"KS-DF-006", checkNoInstallRecommends},
	{"KS-DF-007", checkAptLists},
	{"KS-DF-008", checkApkNoCache},
	{"KS-DF-009", checkLangCache},
	{"KS-DF-010", checkCredentialVars},
	{"KS-DF-011", checkCredentialFiles},
	{"KS-DF-012", checkAddThenDelete},
	{"KS-DF-013", checkCurlPipeShell},
	{"KS-DF-014", checkSudo},
	{"KS-DF-015", checkHealthcheck},
	{"KS-DF-016", checkOCILabels},
	{"KS-DF-017", checkCopyBeforeInstall},
	{"KS-DF-018", checkToolchain},
	{"KS-DF-019", checkAptUpdateAlone},
	{"KS-DF-020", checkPins},
	{"KS-DF-021", checkSSH},
	{"KS-DF-022", checkWorldWritable},
	{"KS-DF-023", checkWorkdir},
	{"KS-DF-024", checkShellForm},
	{"KS-DF-025", checkRPMCache},
	{"KS-DF-026", checkMinimalBase},
	{"KS-DF-027", checkChown},
	{"KS-DF-028", checkUserExists},
	{"KS-DF-029", checkUpgrade},
	{"KS-DF-030", checkArgSecret},
}

// Lint runs every enabled check over f and returns the findings in
// line order (suppressed ones included, marked).
func Lint(f *df.File, opts Options) []finding.Finding {
	c := &Context{File: f, Opts: &opts}
	for _, ch := range checks {
		if slices.Contains(opts.Disabled, ch.ID) {
			continue
		}
		ch.Run(c)
	}
	finding.Sort(c.out)
	return c.out
}

// finalChain returns the stages whose layers end up in the final image.
func finalChain(f *df.File) []*df.Stage {
	if fs := f.FinalStage(); fs != nil {
		return fs.Chain()
	}
	return nil
}

// chainInstructions returns the instructions of the stages in chain, in order.
func chainInstructions(chain []*df.Stage) []*df.Instruction {
	var out []*df.Instruction
	for _, s := range chain {
		out = append(out, s.Instructions...)
	}
	return out
}

// runs calls fn for every RUN (ONBUILD RUN included) with a parsed script in stages.
func runs(stages []*df.Stage, fn func(s *df.Stage, in *df.Instruction, sc *df.Script)) {
	for _, s := range stages {
		for _, in := range s.Instructions {
			r := in
			if in.OnBuild != nil {
				r = in.OnBuild
			}
			if r.Cmd == "run" && r.Script != nil {
				fn(s, in, r.Script)
			}
		}
	}
}

// clip collapses whitespace runs in s to one space and cuts the result at
// n bytes (marked with "…"); only the first 4n bytes of s are read.
func clip(s string, n int) string {
	if len(s) > 4*n {
		s = s[:4*n]
	}
	if !needsCollapse(s) {
		if len(s) > n {
			return s[:n] + "…"
		}
		return s
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// needsCollapse reports whether strings.Join(strings.Fields(s), " ") would
// differ from s: leading/trailing space, a run of spaces, or any
// whitespace other than a single ASCII space (or non-ASCII, which may be
// Unicode space).
func needsCollapse(s string) bool {
	prevSpace := true // a leading space needs trimming
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b >= 0x80, b == '\t', b == '\n', b == '\v', b == '\f', b == '\r':
			return true
		case b == ' ':
			if prevSpace {
				return true
			}
			prevSpace = true
		default:
			prevSpace = false
		}
	}
	return prevSpace && len(s) > 0 // trailing space
}

// cmdText renders a command for messages.
func cmdText(c *df.Command) string { return clip(strings.Join(c.Args, " "), 120) }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
