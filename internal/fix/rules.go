package fix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	df "github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/finding"
	"mvdan.cc/sh/v3/syntax"
)

// shText is the shell script of a RUN and where its bytes are in the
// source: the instruction's arguments, or the body of a heredoc that is
// the whole script (`RUN <<EOF` or `RUN <<EOF bash`).
type shText struct {
	x       *instr
	text    string
	file    *syntax.File
	heredoc bool
	start   int // source offset of text[0] (heredoc bodies)
}

// end returns the source offset just after the script's byte i-1.
func (t *shText) end(i int) int {
	if t.heredoc {
		return t.start + i
	}
	return t.x.end(i)
}

// runText returns the located shell of a RUN (ONBUILD RUN included) and
// its parse, or a reason why it cannot be edited.
func runText(st *state, in *df.Instruction) (*shText, string) {
	r := in
	if in.OnBuild != nil {
		r = in.OnBuild
	}
	if r.Cmd != "run" || r.JSON {
		return nil, "exec-form RUN"
	}
	if r.Script == nil || r.Script.NotShell || r.Script.Fallback {
		return nil, "the RUN is not POSIX shell kensa can parse"
	}
	x := st.src.locate(in)
	if x == nil || x.rest != shellArgs(in) {
		return nil, "the instruction's text could not be mapped to the source"
	}
	t := &shText{x: x, text: x.rest}
	if len(r.Heredocs) > 0 {
		fs := strings.Fields(x.rest)
		if len(r.Heredocs) != 1 || len(fs) == 0 || !strings.HasPrefix(fs[0], "<<") || len(fs) > 1 && !isPOSIXShellName(fs[1]) {
			return nil, "only a RUN whose heredoc is the whole script is edited"
		}
		for i := 2; i < len(fs); i++ {
			if !strings.HasPrefix(fs[i], "-") {
				return nil, "only a RUN whose heredoc is the whole script is edited"
			}
		}
		start := st.src.nextLineStart(x.ll.lastLine)
		_, end := st.src.line(in.EndLine)
		body := r.Heredocs[0].Content
		if start > end || string(st.data[start:end]) != body || r.Script.Text != body {
			return nil, "the heredoc could not be mapped to the source"
		}
		t.heredoc, t.start, t.text = true, start, body
	}
	f, err := parseShell(t.text)
	if err != nil {
		return nil, "the shell text does not parse"
	}
	t.file = f
	return t, ""
}

func isPOSIXShellName(s string) bool {
	switch df.Basename(s) {
	case "sh", "bash", "ash", "dash":
		return true
	}
	return false
}

// shCmd is one simple command of a parsed RUN with its plain-text words.
type shCmd struct {
	call *syntax.CallExpr
	lits []string // word values ("" when not plain text)
	prog int      // index of the program after wrappers (sudo, env, ...)
}

// name is the program's base name.
func (c *shCmd) name() string {
	if c.prog >= len(c.lits) {
		return ""
	}
	return df.Basename(c.lits[c.prog])
}

// args are the words after the program.
func (c *shCmd) args() []string { return c.lits[c.prog+1:] }

// wordEnd is the offset in the shell text just after argument i (an index
// into args()).
func (c *shCmd) wordEnd(i int) int { return int(c.call.Args[c.prog+1+i].End().Offset()) }

func commands(f *syntax.File) []shCmd {
	var out []shCmd
	syntax.Walk(f, func(n syntax.Node) bool {
		ce, ok := n.(*syntax.CallExpr)
		if !ok || len(ce.Args) == 0 {
			return true
		}
		c := shCmd{call: ce}
		for _, w := range ce.Args {
			v, _ := litWord(w)
			c.lits = append(c.lits, v)
		}
		cmd := df.Command{Args: c.lits}
		c.prog = len(c.lits) - len(cmd.Unwrapped())
		if c.prog < len(c.lits) {
			out = append(out, c)
		}
		return true
	})
	return out
}

// pkgCmd is a package-manager invocation: its manager, the index (into
// args()) of its subcommand, its options and package arguments.
type pkgCmd struct {
	mgr   string
	sub   int // -1 when none
	opts  []string
	npkgs int
}

func (p *pkgCmd) has(opts ...string) bool {
	for _, o := range p.opts {
		for _, w := range opts {
			if o == w || strings.HasPrefix(o, w+"=") || strings.Contains(o, w) && w[0] != '-' {
				return true
			}
		}
	}
	return false
}

// classify recognises apt-get/apt, apk and pip (pip3, python -m pip).
func classify(c *shCmd) (pkgCmd, string) {
	args := c.args()
	name := c.name()
	start := 0
	mgr := ""
	switch {
	case name == "apt-get" || name == "apt":
		mgr = "apt"
	case name == "apk":
		mgr = "apk"
	case name == "pip" || name == "pip2" || name == "pip3" || strings.HasPrefix(name, "pip3."):
		mgr = "pip"
	case name == "python" || name == "python2" || name == "python3" || strings.HasPrefix(name, "python3."):
		if len(args) >= 2 && args[0] == "-m" && strings.HasPrefix(args[1], "pip") {
			mgr, start = "pip", 2
		}
	}
	p := pkgCmd{mgr: mgr, sub: -1}
	if mgr == "" {
		return p, ""
	}
	opts, sub, pkgs := df.SplitPkgArgs(mgr, args[start:])
	p.opts, p.npkgs = opts, len(pkgs)
	if sub < 0 {
		return p, ""
	}
	p.sub = start + sub
	return p, args[p.sub]
}

// planFlag adds the missing flag to every matching package-manager call of
// the RUN: --no-install-recommends (KS-DF-006), --no-cache (KS-DF-008),
// --no-cache-dir for pip (KS-DF-009).
func planFlag(st *state, fd finding.Finding, in *df.Instruction) (*candidate, string) {
	t, why := runText(st, in)
	if t == nil {
		return nil, why
	}
	var edits []edit
	var flag string
	for _, c := range commands(t.file) {
		c := c
		p, sub := classify(&c)
		if p.sub < 0 {
			continue
		}
		switch {
		case fd.ID == "KS-DF-006" && p.mgr == "apt" && sub == "install" && p.npkgs > 0 && !p.has("--no-install-recommends", "Install-Recommends"):
			flag = "--no-install-recommends"
		case fd.ID == "KS-DF-008" && p.mgr == "apk" && sub == "add" && !p.has("--no-cache", "--no-network"):
			flag = "--no-cache"
		case fd.ID == "KS-DF-009" && p.mgr == "pip" && sub == "install" && !p.has("--no-cache-dir"):
			flag = "--no-cache-dir"
		default:
			continue
		}
		at := t.end(c.wordEnd(p.sub))
		edits = append(edits, edit{start: at, end: at, text: " " + flag})
	}
	if len(edits) == 0 {
		return nil, "the command is not one kensa can edit in place (nested in sh -c or built from variables)"
	}
	return &candidate{target: fd, edits: edits, change: fmt.Sprintf("added %s to %d command(s)", flag, len(edits))}, ""
}

const aptListsRm = "rm -rf /var/lib/apt/lists/*"

// planAptLists ends the RUN with `&& rm -rf /var/lib/apt/lists/*` (KS-DF-007).
func planAptLists(st *state, fd finding.Finding, in *df.Instruction) (*candidate, string) {
	if l := laterAptUse(st.file, in); l > 0 {
		return nil, fmt.Sprintf("a later RUN (line %d) runs apt-get without apt-get update and needs the lists", l)
	}
	return planAppend(st, fd, in, aptListsRm)
}

// planAppend is the candidate chaining `&& cmd` onto the RUN in.
func planAppend(st *state, fd finding.Finding, in *df.Instruction, cmd string) (*candidate, string) {
	t, why := runText(st, in)
	if t == nil {
		return nil, why
	}
	e, why := appendCommand(st, t, in, cmd)
	if e == nil {
		return nil, why
	}
	return &candidate{target: fd, edits: []edit{*e}, change: "appended `&& " + cmd + "` to the RUN"}, ""
}

// appendCommand returns the edit chaining `&& cmd` onto the RUN's last
// command: on the same line, or on a new continuation line (indented like
// the last one) when the RUN spans lines.
func appendCommand(st *state, t *shText, in *df.Instruction, cmd string) (*edit, string) {
	f := t.file
	if len(f.Stmts) == 0 || len(f.Last) > 0 {
		return nil, "the RUN ends with a comment"
	}
	last := f.Stmts[len(f.Stmts)-1]
	end := int(last.End().Offset())
	if last.Background || last.Coprocess || strings.TrimSpace(t.text[end:]) != "" || strings.HasSuffix(strings.TrimRight(t.text[:end], " \t"), ";") || len(last.Comments) > 0 {
		return nil, "the RUN does not end with a plain command to chain onto"
	}
	for _, r := range last.Redirs {
		if r.Op == syntax.Hdoc || r.Op == syntax.DashHdoc {
			return nil, "the RUN ends with a shell heredoc"
		}
	}
	text := " && " + cmd
	if x := t.x; !t.heredoc && x.ll.lastLine > in.StartLine {
		line, _ := st.src.line(x.ll.lastLine)
		indent := line[:len(line)-len(bytes.TrimLeft(line, " \t"))]
		text = " " + string(st.src.esc) + st.src.newline() + string(indent) + "&& " + cmd
	}
	at := t.end(end)
	return &edit{start: at, end: at, text: text}, ""
}

// planLangCache clears KS-DF-009 for the whole RUN: --no-cache-dir on pip
// installs, and `&& npm cache clean --force` / `&& yarn cache clean` after
// npm and yarn installs that leave their cache.
func planLangCache(st *state, fd finding.Finding, in *df.Instruction) (*candidate, string) {
	c, why := planFlag(st, fd, in)
	if c == nil && !strings.Contains(fd.Message, "npm cache") && !strings.Contains(fd.Message, "yarn cache") {
		return nil, why
	}
	if c == nil {
		c = &candidate{target: fd}
	}
	t, why := runText(st, in)
	if t == nil {
		return nil, why
	}
	r := in
	if in.OnBuild != nil {
		r = in.OnBuild
	}
	var clean []string
	for _, tool := range []string{"npm", "yarn"} {
		if needsCacheClean(r, tool) {
			clean = append(clean, map[string]string{"npm": "npm cache clean --force", "yarn": "yarn cache clean"}[tool])
		}
	}
	if len(clean) > 0 {
		e, why := appendCommand(st, t, in, strings.Join(clean, " && "))
		if e == nil {
			return nil, why
		}
		c.edits = append(c.edits, *e)
		if c.change != "" {
			c.change += ", "
		}
		c.change += "appended `&& " + strings.Join(clean, " && ") + "` to the RUN"
	}
	if len(c.edits) == 0 {
		return nil, "the command is not one kensa can edit in place"
	}
	return c, ""
}

// needsCacheClean reports whether a RUN installs with npm or yarn and
// neither cleans that cache nor mounts a cache for it.
func needsCacheClean(r *df.Instruction, tool string) bool {
	for _, m := range r.Mounts() {
		if m["type"] == "cache" || m["type"] == "tmpfs" {
			return false
		}
	}
	installs := false
	for i := range r.Script.Commands {
		name, args := r.Script.Commands[i].Program()
		if name != tool {
			continue
		}
		sub := ""
		for _, a := range args {
			if !strings.HasPrefix(a, "-") {
				sub = a
				break
			}
		}
		switch {
		case sub == "cache":
			return false
		case tool == "npm" && (sub == "install" || sub == "i" || sub == "ci"), tool == "yarn" && (sub == "" || sub == "install"):
			installs = true
		}
	}
	return installs
}

// planRPMCache ends the RUN with the clean command KS-DF-025 names
// (`yum clean all`, `dnf clean all`, `zypper clean -a`).
func planRPMCache(st *state, fd finding.Finding, in *df.Instruction) (*candidate, string) {
	_, rest, ok := strings.Cut(fd.Fix, "`&& ")
	clean, _, ok2 := strings.Cut(rest, "`")
	if !ok || !ok2 || !rpmCleanRe.MatchString(clean) {
		return nil, ""
	}
	return planAppend(st, fd, in, clean)
}

var rpmCleanRe = regexp.MustCompile(`^(yum|dnf|microdnf|tdnf) clean all$|^zypper clean -a$`)

// laterAptUse returns the line of a RUN after in (in its stage or a stage
// built on it) that runs apt-get needing package lists without an
// apt-get update of its own, or 0.
func laterAptUse(f *df.File, in *df.Instruction) int {
	s := in.Stage
	if s == nil {
		return 0
	}
	for _, t := range f.Stages {
		onChain := false
		for _, c := range t.Chain() {
			if c == s {
				onChain = true
			}
		}
		if !onChain {
			continue
		}
		for _, r := range t.Instructions {
			if t == s && r.StartLine <= in.StartLine {
				continue
			}
			if r.OnBuild != nil {
				r = r.OnBuild
			}
			if r.Cmd != "run" || r.Script == nil {
				continue
			}
			updated := false
			for i := range r.Script.Commands {
				name, args := r.Script.Commands[i].Program()
				if name != "apt-get" && name != "apt" && name != "aptitude" {
					continue
				}
				sub := ""
				for _, a := range args {
					if !strings.HasPrefix(a, "-") {
						sub = a
						break
					}
				}
				switch sub {
				case "update":
					updated = true
				case "install", "source", "download", "build-dep", "upgrade", "dist-upgrade", "full-upgrade", "reinstall":
					if !updated {
						return r.StartLine
					}
				}
			}
		}
	}
	return 0
}

// shellBuiltins are commands exec form cannot run (no such program).
var shellBuiltins = map[string]bool{
	"cd": true, ".": true, "source": true, "export": true, "set": true, "unset": true, "ulimit": true, "umask": true,
	"trap": true, "eval": true, "alias": true, "shift": true, "wait": true, "read": true, "local": true,
	"readonly": true, "declare": true, "typeset": true, "exit": true, "return": true, "builtin": true, "command": true,
}

// planExecForm rewrites a shell-form CMD/ENTRYPOINT to exec form when its
// text is one plain command: no operators, redirections, variables,
// globs or escapes (KS-DF-024).
func planExecForm(st *state, fd finding.Finding, in *df.Instruction) (*candidate, string) {
	if in.Cmd != "cmd" && in.Cmd != "entrypoint" || in.JSON || in.OnBuild != nil {
		return nil, ""
	}
	chain := in.Stage.Chain()
	for _, s := range chain {
		for _, o := range s.Instructions {
			if o.Cmd == "shell" {
				return nil, "a SHELL instruction changes what shell form runs"
			}
			if in.Cmd == "entrypoint" && o.Cmd == "cmd" {
				return nil, "exec-form ENTRYPOINT would take the CMD as arguments"
			}
			if in.Cmd == "cmd" && o.Cmd == "entrypoint" {
				return nil, "the ENTRYPOINT would receive different arguments"
			}
		}
	}
	x := st.src.locate(in)
	if x == nil || x.rest != shellArgs(in) || x.ll.lastLine != in.StartLine {
		return nil, "only one-line instructions are rewritten"
	}
	f, err := parseShell(x.rest)
	if err != nil || len(f.Stmts) != 1 || len(f.Last) > 0 {
		return nil, "not a single command"
	}
	stmt := f.Stmts[0]
	ce, ok := stmt.Cmd.(*syntax.CallExpr)
	if !ok || len(ce.Assigns) > 0 || len(stmt.Redirs) > 0 || stmt.Negated || stmt.Background || stmt.Coprocess || len(stmt.Comments) > 0 || stmt.Semicolon.IsValid() {
		return nil, "uses shell syntax (operators, redirections or assignments)"
	}
	var argv []string
	for _, w := range ce.Args {
		v, ok := litWord(w)
		if !ok {
			return nil, "uses variables, substitutions or escapes"
		}
		for _, p := range w.Parts {
			if l, isLit := p.(*syntax.Lit); isLit && strings.ContainsAny(l.Value, "*?[]{}~") {
				return nil, "uses glob or brace patterns"
			}
		}
		argv = append(argv, v)
	}
	if len(argv) > 1 && argv[0] == "exec" {
		argv = argv[1:]
	}
	if len(argv) == 0 || shellBuiltins[argv[0]] || argv[0] == "" {
		return nil, "runs a shell builtin"
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, a := range argv {
		if i > 0 {
			b.WriteString(", ")
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(a); err != nil {
			return nil, ""
		}
		b.WriteString(strings.TrimSuffix(buf.String(), "\n"))
	}
	b.WriteByte(']')
	return &candidate{target: fd, edits: []edit{{start: x.off(0), end: x.end(len(x.rest)), text: b.String()}},
		change: "rewrote " + strings.ToUpper(in.Cmd) + " in exec form"}, ""
}

// addFlagsCopyTakes are ADD flags COPY accepts with the same meaning.
var addFlagsCopyTakes = map[string]bool{"chown": true, "chmod": true, "link": true, "exclude": true}

// planAdd turns ADD into COPY when every source is a local file or folder
// of the build context that is not an archive ADD would unpack (KS-DF-005).
func (fx *fixer) planAdd(st *state, fd finding.Finding, in *df.Instruction) (*candidate, string) {
	if in.Cmd != "add" || len(in.Heredocs) > 0 {
		return nil, ""
	}
	for _, fl := range in.Flags {
		name, _, _ := strings.Cut(strings.TrimPrefix(fl, "--"), "=")
		if !addFlagsCopyTakes[name] {
			return nil, "ADD --" + name + " has no COPY equivalent"
		}
	}
	if fx.opts.ContextDir == "" {
		return nil, "no build context to check the sources against (ADD extracts local archives)"
	}
	for _, s := range in.Sources() {
		if why := localPlainSource(fx.opts.ContextDir, s); why != "" {
			return nil, why
		}
	}
	x := st.src.locate(in)
	if x == nil {
		return nil, "the instruction's text could not be mapped to the source"
	}
	kw := string(st.data[x.kwStart:x.kwEnd])
	repl := "COPY"
	if kw == strings.ToLower(kw) {
		repl = "copy"
	}
	return &candidate{target: fd, edits: []edit{{start: x.kwStart, end: x.kwEnd, text: repl}}, change: "ADD → COPY"}, ""
}

// localPlainSource returns "" when every path src names in the context is
// a folder or a file that is not an archive, else why not.
func localPlainSource(ctxDir, src string) string {
	l := strings.ToLower(src)
	if strings.Contains(l, "://") || strings.HasPrefix(l, "git@") || strings.Contains(src, "$") {
		return "source " + src + " is a URL or a variable"
	}
	rel := filepath.Clean(filepath.FromSlash(strings.TrimPrefix(src, "/")))
	if rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "source " + src + " is outside the build context"
	}
	matches, err := filepath.Glob(filepath.Join(ctxDir, rel))
	if err != nil || len(matches) == 0 {
		return "source " + src + " is not in the build context " + ctxDir
	}
	for _, m := range matches {
		st, err := os.Stat(m)
		if err != nil {
			return "source " + src + ": " + err.Error()
		}
		if st.IsDir() {
			continue
		}
		if !st.Mode().IsRegular() {
			return "source " + m + " is not a regular file"
		}
		if isArchiveFile(m) {
			return "source " + m + " is an archive ADD extracts"
		}
	}
	return ""
}

// isArchiveFile reports whether a file starts like an archive ADD unpacks
// (tar, gzip, bzip2, xz, zstd, lzma), judged by content as ADD does.
func isArchiveFile(path string) bool {
	fh, err := os.Open(path)
	if err != nil {
		return true
	}
	defer fh.Close()
	b := make([]byte, 512)
	n, _ := fh.Read(b)
	b = b[:n]
	for _, magic := range [][]byte{{0x1f, 0x8b}, []byte("BZh"), {0xfd, '7', 'z', 'X', 'Z', 0}, {0x28, 0xb5, 0x2f, 0xfd}, {0x5d, 0, 0}} {
		if bytes.HasPrefix(b, magic) {
			return true
		}
	}
	return len(b) >= 262 && string(b[257:262]) == "ustar"
}
