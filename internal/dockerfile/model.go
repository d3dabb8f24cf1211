// Package dockerfile parses a Dockerfile into a model the linter and the image
// engine share: stages with their parsed base image references, the stage
// graph, ARG scoping, every instruction with its lines, flags and original
// text, and RUN commands parsed into shell commands (argv lists with their
// pipe structure), so checks see commands rather than substrings.
//
// Parsing uses BuildKit's own Dockerfile parser (github.com/moby/buildkit/
// frontend/dockerfile/parser), so parser directives, escape=`, heredocs,
// RUN --mount, ONBUILD and continuation lines with comments behave exactly as
// in a real build. Shell text is parsed with mvdan.cc/sh/v3.
package dockerfile

import (
	"path"
	"strings"
)

// File is a parsed Dockerfile.
type File struct {
	// Path names the file in messages and finding locations.
	Path string
	// Lines are the raw source lines (without line endings); Lines[0] is line 1.
	Lines []string
	// EscapeToken is the escape character (`\` unless `# escape=` says otherwise).
	EscapeToken rune
	// Syntax is the `# syntax=` parser directive, if any.
	Syntax string
	// GlobalArgs are the ARG instructions before the first FROM, in order.
	GlobalArgs []*Instruction
	// Stages in file order; the last one is the final stage.
	Stages []*Stage
	// Instructions holds every instruction in file order (global ARGs included).
	Instructions []*Instruction
	// Warnings are parser warnings (e.g. empty continuation lines).
	Warnings []string
}

// FinalStage returns the stage that produces the image (the last one).
func (f *File) FinalStage() *Stage {
	if len(f.Stages) == 0 {
		return nil
	}
	return f.Stages[len(f.Stages)-1]
}

// StageByName finds a stage by its `AS` name or its numeric index as used in
// `COPY --from=0`. Names are case-insensitive.
func (f *File) StageByName(name string) *Stage {
	n := strings.ToLower(name)
	for _, s := range f.Stages {
		if s.Name != "" && s.Name == n {
			return s
		}
	}
	if idx, ok := atoi(n); ok && idx >= 0 && idx < len(f.Stages) {
		return f.Stages[idx]
	}
	return nil
}

// IsMultiStage reports whether the file has more than one stage.
func (f *File) IsMultiStage() bool { return len(f.Stages) > 1 }

// Stage is one FROM ... block.
type Stage struct {
	// Index is the 0-based stage position (usable in COPY --from=N).
	Index int
	// Name is the lower-cased `AS` name, or "".
	Name string
	// From is the FROM instruction.
	From *Instruction
	// Base is the base image reference after ARG substitution.
	Base ImageRef
	// BaseStage is the earlier stage this one builds on (FROM <stage>), or nil.
	BaseStage *Stage
	// Platform is the --platform flag value, if any.
	Platform string
	// Instructions are the stage's instructions after FROM, in order.
	Instructions []*Instruction
	// Args maps ARG names declared in this stage to their defaults
	// (global defaults included when re-declared without a value).
	Args map[string]string
	// CopiesFrom lists the stages this stage copies from (COPY --from=stage).
	CopiesFrom []*Stage
}

// DisplayName returns the stage name, or "stage N" when it has none.
func (s *Stage) DisplayName() string {
	if s.Name != "" {
		return s.Name
	}
	return "stage " + itoa(s.Index)
}

// Root follows FROM <stage> links back to the stage whose base is an image.
func (s *Stage) Root() *Stage {
	seen := 0
	for s.BaseStage != nil && seen < 1000 {
		s = s.BaseStage
		seen++
	}
	return s
}

// Chain returns the stages an image built from s is made of, from the root
// stage (based on an external image) to s itself.
func (s *Stage) Chain() []*Stage {
	var out []*Stage
	for c := s; c != nil && len(out) < 1000; c = c.BaseStage {
		out = append(out, c)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// ImageRef is a parsed image reference from a FROM line.
type ImageRef struct {
	// Raw is the reference as written (before ARG substitution).
	Raw string
	// Resolved is the reference after ARG substitution.
	Resolved string
	// Registry is the registry host ("docker.io" when none is written) and
	// RegistryExplicit says whether the reference named one.
	Registry         string
	RegistryExplicit bool
	// Repository is the path without registry ("library/debian" for "debian").
	Repository string
	Tag        string
	Digest     string
	// Scratch is true for `FROM scratch`.
	Scratch bool
	// Unresolved is true when the reference still holds a variable that no
	// ARG default defines, so its parts cannot be trusted.
	Unresolved bool
}

// Short returns the repository as users write it ("debian", "ghcr.io/x/y").
func (r ImageRef) Short() string {
	repo := strings.TrimPrefix(r.Repository, "library/")
	if r.RegistryExplicit {
		return r.Registry + "/" + r.Repository
	}
	return repo
}

// ParseImageRef splits an image reference into registry, repository, tag and
// digest. It never fails: odd input yields a best-effort split.
func ParseImageRef(s string) ImageRef {
	r := ImageRef{Raw: s, Resolved: s}
	if strings.EqualFold(s, "scratch") {
		r.Scratch = true
		r.Repository = "scratch"
		return r
	}
	rest := s
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		r.Digest = rest[i+1:]
		rest = rest[:i]
	}
	slash := strings.LastIndexByte(rest, '/')
	if i := strings.LastIndexByte(rest, ':'); i > slash {
		r.Tag = rest[i+1:]
		rest = rest[:i]
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		first := rest[:i]
		if strings.ContainsAny(first, ".:") || first == "localhost" {
			r.Registry = first
			r.RegistryExplicit = true
			rest = rest[i+1:]
		}
	}
	if r.Registry == "" {
		r.Registry = "docker.io"
	}
	if r.Registry == "docker.io" && !strings.Contains(rest, "/") {
		rest = "library/" + rest
	}
	r.Repository = strings.ToLower(rest)
	return r
}

// Instruction is one Dockerfile instruction.
type Instruction struct {
	// Cmd is the lower-case keyword: "from", "run", "copy", ...
	Cmd string
	// Args are the instruction's arguments after flags. For ENV and LABEL
	// see KeyValues; for shell-form RUN/CMD/ENTRYPOINT it is one string.
	Args []string
	// Flags are the raw flags, e.g. "--from=build", "--mount=type=cache,target=/x".
	Flags []string
	// JSON is true for exec (JSON array) form.
	JSON bool
	// Original is the instruction text with continuation lines joined, as
	// BuildKit sees it (and as image history records it).
	Original string
	// StartLine and EndLine are 1-based lines (EndLine covers heredoc bodies).
	StartLine, EndLine int
	// Heredocs are heredoc bodies attached to the instruction.
	Heredocs []Heredoc
	// KeyValues holds ENV/LABEL pairs and ARG declarations.
	KeyValues []KeyValue
	// Stage is the stage holding the instruction (nil for global ARGs).
	Stage *Stage
	// OnBuild is the wrapped instruction of an ONBUILD.
	OnBuild *Instruction
	// Script is the parsed shell of a RUN (nil for other instructions).
	Script *Script
	// Ignores lists rule IDs named by `# kensa ignore=` comments on the
	// lines directly above, and IgnoreLine is the line of that comment.
	Ignores    []string
	IgnoreLine int
}

// Heredoc is a heredoc body attached to an instruction.
type Heredoc struct {
	Name    string
	Content string
	Expand  bool
}

// KeyValue is one ENV/LABEL pair or ARG declaration. HasValue is false for
// `ARG NAME` without a default.
type KeyValue struct {
	Key      string
	Value    string
	HasValue bool
}

// Flag returns the value of the first --name flag and whether it was given.
// A flag given without a value (e.g. --link) returns "" and true.
func (in *Instruction) Flag(name string) (string, bool) {
	for _, v := range in.FlagValues(name) {
		return v, true
	}
	return "", false
}

// FlagValues returns every value given for --name (e.g. several --mount).
func (in *Instruction) FlagValues(name string) []string {
	var out []string
	prefix := "--" + name
	for _, f := range in.Flags {
		if !strings.HasPrefix(f, prefix) {
			continue
		}
		rest := f[len(prefix):]
		switch {
		case rest == "":
			out = append(out, "")
		case rest[0] == '=':
			out = append(out, rest[1:])
		}
	}
	return out
}

// Mounts returns the parsed --mount flags of a RUN as key/value maps
// (e.g. {"type":"secret","id":"npm"}).
func (in *Instruction) Mounts() []map[string]string {
	var out []map[string]string
	for _, v := range in.FlagValues("mount") {
		m := map[string]string{}
		for _, part := range strings.Split(v, ",") {
			k, val, _ := strings.Cut(part, "=")
			m[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(val), `"'`)
		}
		if _, ok := m["type"]; !ok {
			m["type"] = "bind"
		}
		out = append(out, m)
	}
	return out
}

// CreatesLayer reports whether the instruction adds a filesystem layer
// (RUN, COPY, ADD); other instructions only add an empty history entry.
func (in *Instruction) CreatesLayer() bool {
	switch in.Cmd {
	case "run", "copy", "add":
		return true
	}
	return false
}

// Sources returns the source paths of a COPY/ADD (all arguments but the last).
// Heredoc sources (<<EOF) are left out.
func (in *Instruction) Sources() []string {
	if len(in.Args) < 2 {
		return nil
	}
	var out []string
	for _, a := range in.Args[:len(in.Args)-1] {
		if strings.HasPrefix(a, "<<") && len(in.Heredocs) > 0 {
			continue
		}
		out = append(out, a)
	}
	return out
}

// Dest returns the destination of a COPY/ADD (the last argument).
func (in *Instruction) Dest() string {
	if len(in.Args) == 0 {
		return ""
	}
	return in.Args[len(in.Args)-1]
}

// Text returns the instruction's source lines as written.
func (f *File) Text(in *Instruction) string {
	if in.StartLine < 1 || in.EndLine > len(f.Lines) || in.StartLine > in.EndLine {
		return in.Original
	}
	return strings.Join(f.Lines[in.StartLine-1:in.EndLine], "\n")
}

// Basename returns the last element of a path-like command name
// (path.Base; most names hold no slash and are returned as they are).
func Basename(s string) string {
	if s != "" && strings.IndexByte(s, '/') < 0 {
		return s
	}
	return path.Base(s)
}

func atoi(s string) (int, bool) {
	if s == "" || len(s) > 6 {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// IsNumericID reports whether a USER name or group is a numeric ID
// ("10001"), which needs no passwd entry.
func IsNumericID(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// pkgOptsWithValue are package-manager options that take the next word as
// their value, by manager (apt, apk, yum, zypper, pip).
var pkgOptsWithValue = map[string]map[string]bool{
	"apt":    {"-o": true, "-t": true, "--target-release": true, "-c": true, "--config-file": true},
	"apk":    {"-t": true, "--virtual": true, "-X": true, "--repository": true, "--repositories-file": true, "-p": true, "--root": true, "--arch": true, "--keys-dir": true},
	"yum":    {"--setopt": true, "--enablerepo": true, "--disablerepo": true, "--installroot": true, "--releasever": true, "-c": true, "--repo": true, "--repofrompath": true, "-x": true, "--exclude": true},
	"zypper": {"-r": true, "--repo": true, "--from": true},
	"pip":    {"-r": true, "--requirement": true, "-c": true, "--constraint": true, "-i": true, "--index-url": true, "--extra-index-url": true, "-f": true, "--find-links": true, "-t": true, "--target": true, "--prefix": true, "--root": true, "--trusted-host": true, "-e": true, "--editable": true},
}

// SplitPkgArgs splits the arguments of a package-manager command (mgr is
// apt, apk, yum, zypper, pip, npm, yarn or pnpm; args follow the program,
// and `-m pip`) into its options with their values, the index in args of
// its subcommand (-1 when none) and the positional arguments after it.
func SplitPkgArgs(mgr string, args []string) (opts []string, sub int, pkgs []string) {
	withVal := pkgOptsWithValue[mgr]
	sub = -1
	for j := 0; j < len(args); j++ {
		a := args[j]
		if strings.HasPrefix(a, "-") && a != "-" {
			opts = append(opts, a)
			if withVal[a] && j+1 < len(args) {
				opts = append(opts, args[j+1])
				j++
			}
			continue
		}
		if sub < 0 {
			sub = j
			continue
		}
		pkgs = append(pkgs, a)
	}
	return opts, sub, pkgs
}
