package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// MaxFileSize is the largest Dockerfile ParseFile reads (a real one is a few KB).
const MaxFileSize = 4 << 20

// Error is a parse failure: the file, the line when known, and what is wrong.
type Error struct {
	Path string
	Line int
	Err  error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Path, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNotDockerfile is wrapped by errors for input that is not a Dockerfile
// (binary data, JSON, prose, no FROM).
var ErrNotDockerfile = errors.New("not a Dockerfile")

// ParseFile reads and parses the Dockerfile at path.
func ParseFile(path string) (*File, error) {
	// Stat first: opening a FIFO or device would block or never end.
	if st, err := os.Stat(path); err != nil {
		return nil, &Error{Path: path, Err: err}
	} else if st.IsDir() {
		return nil, &Error{Path: path, Err: errors.New("is a folder, not a Dockerfile")}
	} else if !st.Mode().IsRegular() {
		return nil, &Error{Path: path, Err: fmt.Errorf("%w: not a regular file (%s)", ErrNotDockerfile, st.Mode().Type())}
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, &Error{Path: path, Err: err}
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, &Error{Path: path, Err: err}
	}
	if st.IsDir() {
		return nil, &Error{Path: path, Err: errors.New("is a folder, not a Dockerfile")}
	}
	data, err := io.ReadAll(io.LimitReader(fh, MaxFileSize+1))
	if err != nil {
		return nil, &Error{Path: path, Err: fmt.Errorf("read: %w", err)}
	}
	if len(data) > MaxFileSize {
		if line := longLine(data); line > 0 {
			return nil, &Error{Path: path, Line: line, Err: fmt.Errorf("%w: line is longer than %d bytes", ErrNotDockerfile, maxLine)}
		}
		return nil, &Error{Path: path, Err: fmt.Errorf("%w: file is larger than %d MiB", ErrNotDockerfile, MaxFileSize>>20)}
	}
	return Parse(path, data)
}

// knownInstructions are the keywords BuildKit accepts.
var knownInstructions = map[string]bool{
	"add": true, "arg": true, "cmd": true, "copy": true, "entrypoint": true, "env": true,
	"expose": true, "from": true, "healthcheck": true, "label": true, "maintainer": true,
	"onbuild": true, "run": true, "shell": true, "stopsignal": true, "user": true,
	"volume": true, "workdir": true,
}

var (
	ignoreRe = regexp.MustCompile(`^#\s*kensa\s+ignore\s*=\s*([A-Za-z0-9_,\- ]+)`)
	syntaxRe = regexp.MustCompile(`^#\s*syntax\s*=\s*(\S+)`)
	varRe    = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)
)

// Parse parses Dockerfile bytes; path only names the file in errors and
// findings. Input that is not a Dockerfile is rejected with an *Error
// wrapping ErrNotDockerfile that names the first offending line.
func Parse(path string, data []byte) (*File, error) {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return nil, &Error{Path: path, Line: 1 + bytes.Count(data[:i], []byte{'\n'}), Err: fmt.Errorf("%w: binary data (NUL byte)", ErrNotDockerfile)}
	}
	if !utf8.Valid(data) {
		return nil, &Error{Path: path, Err: fmt.Errorf("%w: binary data (invalid UTF-8)", ErrNotDockerfile)}
	}
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		line := 0
		var le *parser.LocationError
		if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
			line = le.Locations[0][0].Start.Line
		}
		msg := err.Error()
		if strings.Contains(msg, "max allowed size") {
			return nil, &Error{Path: path, Line: longLine(data), Err: fmt.Errorf("%w: line is longer than %d bytes", ErrNotDockerfile, maxLine)}
		}
		if strings.Contains(msg, "file with no instructions") {
			return nil, &Error{Path: path, Err: fmt.Errorf("%w: no instructions", ErrNotDockerfile)}
		}
		return nil, &Error{Path: path, Line: line, Err: errors.New(msg)}
	}
	text := string(data)
	text = strings.TrimPrefix(text, "\ufeff")
	f := &File{Path: path, EscapeToken: res.EscapeToken, Lines: splitLines(text)}
	for _, w := range res.Warnings {
		f.Warnings = append(f.Warnings, w.Short)
	}
	for _, l := range f.Lines {
		t := strings.TrimSpace(l)
		if !strings.HasPrefix(t, "#") {
			break
		}
		if m := syntaxRe.FindStringSubmatch(t); m != nil {
			f.Syntax = m[1]
		}
	}
	b := &builder{f: f, global: map[string]string{}, shellPOSIX: true}
	defer b.release()
	for _, n := range res.AST.Children {
		if err := b.add(n); err != nil {
			return nil, err
		}
	}
	if len(f.Stages) == 0 {
		return nil, &Error{Path: path, Err: fmt.Errorf("%w: no FROM instruction", ErrNotDockerfile)}
	}
	for _, s := range f.Stages {
		for _, in := range s.Instructions {
			b.resolveCopyFrom(s, in)
		}
	}
	return f, nil
}

// maxLine is the longest line BuildKit's parser accepts.
const maxLine = 64*1024 - 1

// longLine returns the 1-based number of the first line longer than
// maxLine, or 0.
func longLine(data []byte) int {
	line := 1
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			i = len(data)
		}
		if i > maxLine {
			return line
		}
		if i == len(data) {
			break
		}
		data = data[i+1:]
		line++
	}
	return 0
}

func splitLines(s string) []string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1]
	}
	return lines
}

type builder struct {
	f          *File
	global     map[string]string // global ARG defaults
	shellPOSIX bool              // current stage's SHELL is sh-like
	st         *shellState       // reused shell parser and scratch (from shellStates)
}

func (b *builder) add(n *parser.Node) error {
	in, err := b.instruction(n)
	if err != nil {
		return err
	}
	b.f.Instructions = append(b.f.Instructions, in)
	b.ignores(in)
	cur := b.f.FinalStage()
	switch {
	case in.Cmd == "from":
		return b.addStage(in)
	case cur == nil && in.Cmd == "arg":
		b.f.GlobalArgs = append(b.f.GlobalArgs, in)
		for _, kv := range in.KeyValues {
			if kv.HasValue {
				b.global[kv.Key] = b.expand(kv.Value, b.global)
			} else if _, ok := b.global[kv.Key]; !ok {
				b.global[kv.Key] = ""
			}
		}
		return nil
	case cur == nil:
		return &Error{Path: b.f.Path, Line: in.StartLine, Err: fmt.Errorf("%w: %s before the first FROM (only ARG may come first)", ErrNotDockerfile, strings.ToUpper(in.Cmd))}
	}
	in.Stage = cur
	if in.OnBuild != nil {
		in.OnBuild.Stage = cur
	}
	cur.Instructions = append(cur.Instructions, in)
	switch in.Cmd {
	case "arg":
		for _, kv := range in.KeyValues {
			v := kv.Value
			if !kv.HasValue {
				v = b.global[kv.Key]
			}
			cur.Args[kv.Key] = v
		}
	case "shell":
		b.shellPOSIX = len(in.Args) > 0 && isPOSIXShell(in.Args[0])
	case "run":
		in.Script = b.script(in)
	}
	if in.OnBuild != nil && in.OnBuild.Cmd == "run" {
		in.OnBuild.Script = b.script(in.OnBuild)
	}
	return nil
}

func isPOSIXShell(s string) bool {
	switch Basename(strings.ToLower(s)) {
	case "sh", "bash", "ash", "dash", "zsh", "ksh", "busybox":
		return true
	}
	return false
}

func (b *builder) addStage(in *Instruction) error {
	if len(in.Args) == 0 {
		return &Error{Path: b.f.Path, Line: in.StartLine, Err: errors.New("FROM needs an image")}
	}
	s := &Stage{Index: len(b.f.Stages), From: in, Args: map[string]string{}}
	in.Stage = s
	if len(in.Args) >= 3 && strings.EqualFold(in.Args[1], "as") {
		s.Name = strings.ToLower(in.Args[2])
	}
	s.Platform, _ = in.Flag("platform")
	raw := in.Args[0]
	resolved := b.expand(raw, b.global)
	ref := ParseImageRef(resolved)
	ref.Raw = raw
	ref.Unresolved = strings.Contains(resolved, "$") || resolved == ""
	for _, m := range varRe.FindAllStringSubmatch(raw, -1) {
		if b.global[m[1]] == "" {
			ref.Unresolved = true // an ARG without a default: the real value comes from --build-arg
		}
	}
	s.Base = ref
	if !strings.Contains(resolved, "/") && !strings.ContainsAny(resolved, ":@") {
		lower := strings.ToLower(resolved)
		for _, prev := range b.f.Stages {
			if prev.Name != "" && prev.Name == lower {
				s.BaseStage = prev
				break
			}
		}
	}
	b.shellPOSIX = true
	if s.BaseStage != nil {
		// A stage built on another inherits its SHELL; we only track POSIX-ness.
		b.shellPOSIX = stageShellPOSIX(s.BaseStage)
	}
	b.f.Stages = append(b.f.Stages, s)
	return nil
}

func stageShellPOSIX(s *Stage) bool {
	for i := len(s.Instructions) - 1; i >= 0; i-- {
		if in := s.Instructions[i]; in.Cmd == "shell" {
			return len(in.Args) > 0 && isPOSIXShell(in.Args[0])
		}
	}
	if s.BaseStage != nil && s.BaseStage != s {
		return stageShellPOSIX(s.BaseStage)
	}
	return true
}

func (b *builder) resolveCopyFrom(s *Stage, in *Instruction) {
	if in.Cmd != "copy" && in.Cmd != "add" {
		return
	}
	from, ok := in.Flag("from")
	if !ok {
		return
	}
	if src := b.f.StageByName(from); src != nil && src.Index < s.Index {
		for _, c := range s.CopiesFrom {
			if c == src {
				return
			}
		}
		s.CopiesFrom = append(s.CopiesFrom, src)
	}
}

// instruction converts a parser node.
func (b *builder) instruction(n *parser.Node) (*Instruction, error) {
	cmd := strings.ToLower(n.Value)
	if !knownInstructions[cmd] {
		return nil, &Error{Path: b.f.Path, Line: n.StartLine, Err: fmt.Errorf("%w: unknown instruction %q", ErrNotDockerfile, clip(n.Value, 40))}
	}
	in := &Instruction{
		Cmd:       cmd,
		Flags:     n.Flags,
		JSON:      n.Attributes["json"],
		Original:  n.Original,
		StartLine: n.StartLine,
		EndLine:   n.EndLine,
	}
	for _, h := range n.Heredocs {
		in.Heredocs = append(in.Heredocs, Heredoc{Name: h.Name, Content: h.Content, Expand: h.Expand})
	}
	switch cmd {
	case "onbuild":
		if n.Next != nil && len(n.Next.Children) > 0 {
			sub, err := b.instruction(n.Next.Children[0])
			if err != nil {
				return nil, err
			}
			sub.StartLine, sub.EndLine = in.StartLine, in.EndLine
			in.OnBuild = sub
		}
	case "env", "label":
		for c := n.Next; c != nil && c.Next != nil; c = c.Next.Next.Next {
			in.KeyValues = append(in.KeyValues, KeyValue{Key: unquote(c.Value), Value: unquote(c.Next.Value), HasValue: true})
			in.Args = append(in.Args, c.Value+"="+c.Next.Value)
			if c.Next.Next == nil {
				break
			}
		}
	default:
		for c := n.Next; c != nil; c = c.Next {
			in.Args = append(in.Args, c.Value)
		}
		if cmd == "arg" {
			for _, a := range in.Args {
				k, v, has := strings.Cut(a, "=")
				in.KeyValues = append(in.KeyValues, KeyValue{Key: k, Value: unquote(v), HasValue: has})
			}
		}
	}
	return in, nil
}

// ignores reads `# kensa ignore=ID[,ID]` comments directly above in.
func (b *builder) ignores(in *Instruction) {
	for l := in.StartLine - 1; l >= 1 && l <= len(b.f.Lines); l-- {
		t := strings.TrimSpace(b.f.Lines[l-1])
		if !strings.HasPrefix(t, "#") {
			return
		}
		if m := ignoreRe.FindStringSubmatch(t); m != nil {
			for _, id := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ',' || r == ' ' }) {
				in.Ignores = append(in.Ignores, strings.ToUpper(id))
			}
			if in.IgnoreLine == 0 {
				in.IgnoreLine = l
			}
		}
	}
}

// envMap adapts a map to BuildKit's shell.EnvGetter.
type envMap map[string]string

func (m envMap) Get(k string) (string, bool) { v, ok := m[k]; return v, ok }
func (m envMap) Keys() []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// expand substitutes ARG values into word the way BuildKit does for FROM.
func (b *builder) expand(word string, env map[string]string) string {
	if !strings.Contains(word, "$") {
		return word
	}
	lex := shell.NewLex(b.f.EscapeToken)
	out, _, err := lex.ProcessWord(word, envMap(env))
	if err != nil {
		return word
	}
	return out
}

// Expand substitutes the stage's ARG defaults (and global ARGs) into word;
// unknown variables expand to "". Used by checks that need resolved values.
func (f *File) Expand(s *Stage, word string) string {
	if !strings.Contains(word, "$") {
		return word
	}
	env := map[string]string{}
	if s != nil {
		for k, v := range s.Args {
			env[k] = v
		}
	}
	b := &builder{f: f}
	return b.expand(word, env)
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
