package dockerfile

import (
	"strings"
	"sync"

	"mvdan.cc/sh/v3/syntax"
)

// Script is the parsed shell of a RUN instruction.
type Script struct {
	// Text is the shell text that was parsed (heredoc bodies included).
	Text string
	// Commands are the simple commands in source order, including those
	// nested in `if`, subshells, loops, $(...), and `sh -c "..."`.
	Commands []Command
	// NotShell is true when the text is not POSIX shell (a PowerShell or
	// cmd SHELL, or a heredoc with a non-shell #! line); Commands is empty.
	NotShell bool
	// Fallback is true when the shell parser rejected the text and the
	// commands come from a plain split on && || ; and |.
	Fallback bool

	sh     *syntax.Parser // reused while parsing
	argbuf []string       // while parsing: backing store of every Command.Args
}

// Command is one simple command: its argv with quotes removed. Words that
// are not plain literals keep their shell spelling ("$HOME", "$(...)").
type Command struct {
	Args []string
	// Assigns are leading VAR=value words (`DEBIAN_FRONTEND=x apt-get ...`).
	Assigns []string
	// Pipeline identifies the pipeline the command belongs to; commands
	// joined by | share it. PipeIndex is the command's position in it.
	Pipeline, PipeIndex int
	// Parent is the index in Script.Commands of the command this one is
	// nested in (the shell of `sh -c`, or the command holding a $(...)),
	// or -1.
	Parent int
	// Subst is true for commands inside $(...), `...` or <(...).
	Subst bool
	// InSubshell is true for commands inside ( ... ).
	InSubshell bool
}

// Name returns the base name of the program (argv[0]), or "".
func (c *Command) Name() string {
	if len(c.Args) == 0 {
		return ""
	}
	return Basename(c.Args[0])
}

// Unwrapped returns argv with leading wrappers removed (sudo and its
// options, env VAR=x, exec, nohup, command, time, nice, xargs -opts),
// so `sudo -E apt-get install x` yields [apt-get install x].
func (c *Command) Unwrapped() []string {
	args := c.Args
	for i := 0; i < 8 && len(args) > 0; i++ {
		switch Basename(args[0]) {
		case "sudo", "doas", "gosu", "su-exec":
			gosu := Basename(args[0]) == "gosu" || Basename(args[0]) == "su-exec"
			args = args[1:]
			if gosu && len(args) > 0 {
				args = args[1:] // the user
				continue
			}
			for len(args) > 0 && strings.HasPrefix(args[0], "-") {
				opt := args[0]
				args = args[1:]
				if (opt == "-u" || opt == "-g") && len(args) > 0 {
					args = args[1:]
				}
			}
		case "env":
			args = args[1:]
			for len(args) > 0 && (strings.Contains(args[0], "=") || strings.HasPrefix(args[0], "-")) {
				args = args[1:]
			}
		case "exec", "nohup", "command", "time", "nice", "eatmydata", "xargs":
			args = args[1:]
			for len(args) > 0 && strings.HasPrefix(args[0], "-") {
				args = args[1:]
			}
		default:
			return args
		}
	}
	return args
}

// Program returns the base name of the unwrapped program and its arguments.
func (c *Command) Program() (string, []string) {
	a := c.Unwrapped()
	if len(a) == 0 {
		return "", nil
	}
	return Basename(a[0]), a[1:]
}

// Has reports whether any argument equals one of words.
func Has(args []string, words ...string) bool {
	for _, a := range args {
		for _, w := range words {
			if a == w {
				return true
			}
		}
	}
	return false
}

// maxNest bounds `sh -c` recursion.
const maxNest = 4

// script parses the shell text of a RUN.
func (b *builder) script(in *Instruction) *Script {
	if in.JSON {
		sc := &Script{Text: strings.Join(in.Args, " ")}
		if len(in.Args) > 0 {
			sc.Commands = append(sc.Commands, Command{Args: in.Args, Pipeline: 0, Parent: -1})
			sc.nestShell(0, 1)
		}
		return sc
	}
	if !b.shellPOSIX {
		return &Script{Text: strings.Join(in.Args, " "), NotShell: true}
	}
	text := strings.Join(in.Args, " ")
	if len(in.Heredocs) > 0 {
		trimmed := strings.TrimSpace(text)
		if interp, ok := heredocInterpreter(trimmed); ok {
			// RUN <<EOT bash: the body is a script for that program.
			if !isPOSIXShell(interp) {
				return &Script{Text: in.Heredocs[0].Content, NotShell: true}
			}
			trimmed = "<<" // parsed below as the script itself
		}
		if strings.HasPrefix(trimmed, "<<") && !strings.ContainsAny(trimmed, " \t") {
			// RUN <<EOF: the body is the script.
			body := in.Heredocs[0].Content
			if strings.HasPrefix(body, "#!") {
				first, _, _ := strings.Cut(body, "\n")
				fs := strings.Fields(first[2:])
				interp := ""
				if len(fs) > 0 {
					interp = fs[0]
					if Basename(interp) == "env" && len(fs) > 1 {
						interp = fs[1]
					}
				}
				if !isPOSIXShell(interp) {
					return &Script{Text: body, NotShell: true}
				}
			}
			text = body
		} else {
			var sb strings.Builder
			sb.WriteString(text)
			for _, h := range in.Heredocs {
				sb.WriteString("\n")
				sb.WriteString(h.Content)
				if !strings.HasSuffix(h.Content, "\n") && h.Content != "" {
					sb.WriteString("\n")
				}
				sb.WriteString(h.Name)
			}
			text = sb.String()
		}
	}
	st := b.state()
	sc := &Script{Text: text, sh: st.parser, Commands: st.cmds[:0], argbuf: st.args[:0]}
	sc.parse(text, -1, 0)
	b.finish(sc)
	return sc
}

// heredocInterpreter recognises `<<EOT prog [-flags]`, a heredoc fed to
// one program as its script, and returns the program.
func heredocInterpreter(s string) (string, bool) {
	fs := strings.Fields(s)
	if len(fs) < 2 || !strings.HasPrefix(fs[0], "<<") || strings.HasPrefix(fs[1], "<") || strings.HasPrefix(fs[1], ">") {
		return "", false
	}
	for _, f := range fs[2:] {
		if !strings.HasPrefix(f, "-") {
			return "", false
		}
	}
	return fs[1], true
}

// finish moves sc's commands, and their arguments, out of the builder's
// scratch slices into one exact-size allocation each (the scratch is
// reused for the next RUN).
func (b *builder) finish(sc *Script) {
	st := b.st
	sc.sh = nil
	defer func(buf []string) {
		clear(buf) // drop references held by the scratch
		st.args = buf[:0]
	}(sc.argbuf)
	sc.argbuf = nil
	st.cmds = sc.Commands[:0]
	if len(sc.Commands) == 0 {
		sc.Commands = nil
		return
	}
	cmds := append(make([]Command, 0, len(sc.Commands)), sc.Commands...)
	clear(st.cmds[:len(sc.Commands)])
	sc.Commands = cmds
	n := 0
	for i := range cmds {
		n += len(cmds[i].Args)
	}
	arena := make([]string, n)
	n = 0
	for i := range cmds {
		a := cmds[i].Args
		if a == nil {
			continue
		}
		copy(arena[n:], a)
		cmds[i].Args = arena[n : n+len(a) : n+len(a)]
		n += len(a)
	}
}

// shellState is what parsing RUN text reuses from one file to the next:
// the mvdan.cc/sh parser and scratch slices for commands and arguments.
type shellState struct {
	parser *syntax.Parser
	cmds   []Command
	args   []string
}

// maxScratch bounds the scratch kept in the pool (one huge RUN must not
// pin its buffers for the life of the process).
const maxScratch = 4096

// shellStates recycles shellStates across files (a Parser is not safe for
// concurrent use; each Parse holds one while it runs).
var shellStates = sync.Pool{New: func() any {
	return &shellState{parser: syntax.NewParser(syntax.Variant(syntax.LangBash))}
}}

// state returns the builder's shell state, taken from the pool on first use.
func (b *builder) state() *shellState {
	if b.st == nil {
		b.st = shellStates.Get().(*shellState)
	}
	return b.st
}

// release hands the builder's shell state back for reuse.
func (b *builder) release() {
	st := b.st
	if st == nil {
		return
	}
	b.st = nil
	if cap(st.cmds) > maxScratch {
		st.cmds = nil
	}
	if cap(st.args) > maxScratch {
		st.args = nil
	}
	shellStates.Put(st)
}

// parse adds the commands of text, nested under parent.
func (sc *Script) parse(text string, parent, depth int) {
	p := sc.sh
	if p == nil { // exec-form RUN's `sh -c`: no builder state at hand
		st := shellStates.Get().(*shellState)
		defer shellStates.Put(st)
		p = st.parser
	}
	f, err := p.Parse(strings.NewReader(text), "")
	if err != nil {
		sc.Fallback = true
		sc.split(text, parent)
		return
	}
	w := &walker{sc: sc, depth: depth}
	for _, st := range f.Stmts {
		w.stmt(st, parent, false)
	}
}

// split is the fallback when the shell parser fails: split on control
// operators and whitespace.
func (sc *Script) split(text string, parent int) {
	r := strings.NewReplacer("&&", "\x00", "||", "\x00", ";", "\x00", "\n", "\x00", "|", "\x01")
	for _, part := range strings.Split(r.Replace(text), "\x00") {
		pipe := len(sc.Commands)
		for i, seg := range strings.Split(part, "\x01") {
			fs := strings.Fields(seg)
			for j := range fs {
				fs[j] = strings.Trim(fs[j], `"'`)
			}
			if len(fs) == 0 {
				continue
			}
			sc.Commands = append(sc.Commands, Command{Args: fs, Pipeline: pipe, PipeIndex: i, Parent: parent})
		}
	}
}

// nestShell parses `sh -c "script"` arguments of command idx.
func (sc *Script) nestShell(idx, depth int) {
	if depth > maxNest {
		return
	}
	c := sc.Commands[idx]
	args := c.Unwrapped()
	if len(args) < 3 || !isPOSIXShell(args[0]) {
		return
	}
	for i := 1; i < len(args)-1; i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return
		}
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.Contains(a, "c") {
			sc.parse(args[i+1], idx, depth)
			return
		}
	}
}

type walker struct {
	sc       *Script
	depth    int
	subshell int
}

func (w *walker) stmt(st *syntax.Stmt, parent int, subst bool) {
	if st == nil || st.Cmd == nil {
		return
	}
	w.pipeline(st, parent, subst, -1, 0)
}

// pipeline walks st; pipe >= 0 when st is part of a pipeline.
func (w *walker) pipeline(st *syntax.Stmt, parent int, subst bool, pipe, pos int) int {
	if st == nil || st.Cmd == nil {
		return pos
	}
	if bc, ok := st.Cmd.(*syntax.BinaryCmd); ok && (bc.Op == syntax.Pipe || bc.Op == syntax.PipeAll) {
		if pipe < 0 {
			pipe = len(w.sc.Commands)
		}
		pos = w.pipeline(bc.X, parent, subst, pipe, pos)
		return w.pipeline(bc.Y, parent, subst, pipe, pos)
	}
	if pipe < 0 {
		pipe = len(w.sc.Commands)
	}
	w.cmd(st, parent, subst, pipe, pos)
	return pos + 1
}

func (w *walker) cmd(st *syntax.Stmt, parent int, subst bool, pipe, pos int) {
	for _, r := range st.Redirs {
		w.substs(r.Word, parent)
	}
	switch c := st.Cmd.(type) {
	case *syntax.CallExpr:
		if len(c.Args) == 0 {
			for _, a := range c.Assigns {
				w.substs(a.Value, parent)
			}
			return
		}
		cmd := Command{Pipeline: pipe, PipeIndex: pos, Parent: parent, Subst: subst, InSubshell: w.subshell > 0}
		if len(c.Assigns) > 0 {
			cmd.Assigns = make([]string, 0, len(c.Assigns))
		}
		for _, a := range c.Assigns {
			v := ""
			if a.Value != nil {
				v = wordString(a.Value)
			}
			name := ""
			if a.Name != nil {
				name = a.Name.Value
			}
			cmd.Assigns = append(cmd.Assigns, name+"="+v)
		}
		// Args live in one shared buffer while parsing; builder.finish moves
		// them into one exact-size allocation per script.
		start := len(w.sc.argbuf)
		for _, a := range c.Args {
			w.sc.argbuf = append(w.sc.argbuf, wordString(a))
		}
		end := len(w.sc.argbuf)
		cmd.Args = w.sc.argbuf[start:end:end]
		idx := len(w.sc.Commands)
		w.sc.Commands = append(w.sc.Commands, cmd)
		for _, a := range c.Args {
			w.substs(a, idx)
		}
		w.sc.nestShell(idx, w.depth+1)
	case *syntax.BinaryCmd:
		w.stmt(c.X, parent, subst)
		w.stmt(c.Y, parent, subst)
	case *syntax.Block:
		w.stmts(c.Stmts, parent, subst)
	case *syntax.Subshell:
		w.subshell++
		w.stmts(c.Stmts, parent, subst)
		w.subshell--
	case *syntax.IfClause:
		for ic := c; ic != nil; ic = ic.Else {
			w.stmts(ic.Cond, parent, subst)
			w.stmts(ic.Then, parent, subst)
		}
	case *syntax.WhileClause:
		w.stmts(c.Cond, parent, subst)
		w.stmts(c.Do, parent, subst)
	case *syntax.ForClause:
		w.stmts(c.Do, parent, subst)
	case *syntax.CaseClause:
		for _, it := range c.Items {
			w.stmts(it.Stmts, parent, subst)
		}
	case *syntax.FuncDecl:
		w.stmt(c.Body, parent, subst)
	case *syntax.TimeClause:
		w.stmt(c.Stmt, parent, subst)
	case *syntax.CoprocClause:
		w.stmt(c.Stmt, parent, subst)
	case *syntax.DeclClause:
		cmd := Command{Pipeline: pipe, PipeIndex: pos, Parent: parent, Subst: subst, Args: []string{c.Variant.Value}}
		for _, a := range c.Args {
			s := ""
			if a.Name != nil {
				s = a.Name.Value
				if a.Value != nil || !a.Naked {
					s += "="
				}
			}
			if a.Value != nil {
				s += wordString(a.Value)
			}
			cmd.Args = append(cmd.Args, s)
		}
		w.sc.Commands = append(w.sc.Commands, cmd)
	}
}

func (w *walker) stmts(sts []*syntax.Stmt, parent int, subst bool) {
	for _, s := range sts {
		w.stmt(s, parent, subst)
	}
}

// substs walks command and process substitutions inside a word.
func (w *walker) substs(word *syntax.Word, parent int) {
	if word == nil || !hasSubst(word.Parts) {
		return
	}
	syntax.Walk(word, func(n syntax.Node) bool {
		switch x := n.(type) {
		case *syntax.CmdSubst:
			w.stmts(x.Stmts, parent, true)
			return false
		case *syntax.ProcSubst:
			w.stmts(x.Stmts, parent, true)
			return false
		}
		return true
	})
}

// hasSubst reports whether word parts may hold a command or process
// substitution (a cheap check before walking the word).
func hasSubst(ps []syntax.WordPart) bool {
	for _, p := range ps {
		switch x := p.(type) {
		case *syntax.Lit, *syntax.SglQuoted:
		case *syntax.DblQuoted:
			if hasSubst(x.Parts) {
				return true
			}
		case *syntax.ParamExp:
			if x.Exp != nil || x.Repl != nil || x.Slice != nil || x.Index != nil {
				return true // may nest a $(...) in its word
			}
		default:
			return true
		}
	}
	return false
}

// wordString renders a word with quotes removed; expansions keep their
// shell spelling.
func wordString(w *syntax.Word) string {
	if w == nil {
		return ""
	}
	if lit := w.Lit(); lit != "" || len(w.Parts) == 0 {
		return lit
	}
	if len(w.Parts) == 1 { // "quoted" or 'quoted': no builder needed
		switch x := w.Parts[0].(type) {
		case *syntax.SglQuoted:
			return x.Value
		case *syntax.DblQuoted:
			if len(x.Parts) == 0 {
				return ""
			}
			if l, ok := x.Parts[0].(*syntax.Lit); ok && len(x.Parts) == 1 {
				return l.Value
			}
		}
	}
	var sb strings.Builder
	parts(&sb, w.Parts)
	return sb.String()
}

func parts(sb *strings.Builder, ps []syntax.WordPart) {
	for _, p := range ps {
		switch x := p.(type) {
		case *syntax.Lit:
			sb.WriteString(x.Value)
		case *syntax.SglQuoted:
			sb.WriteString(x.Value)
		case *syntax.DblQuoted:
			parts(sb, x.Parts)
		case *syntax.ParamExp:
			if x.Param != nil {
				sb.WriteString("${" + x.Param.Value + "}")
			} else {
				sb.WriteString("${}")
			}
		case *syntax.CmdSubst:
			sb.WriteString("$(...)")
		default:
			var pb strings.Builder
			if err := syntax.NewPrinter().Print(&pb, p.(syntax.Node)); err == nil {
				sb.WriteString(pb.String())
			}
		}
	}
}
