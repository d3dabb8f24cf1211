// Package rego runs user policies written in Rego (Open Policy Agent, v1
// syntax) over a scan: the policies of a folder are parsed and compiled
// once (Load), then every `deny` and `warn` rule is evaluated over the
// scan's Input (Eval) and each value it yields becomes a finding.Finding.
// The input schema and the result objects are documented in
// docs/policies.md.
package rego

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/open-policy-agent/opa/v1/ast"
	opa "github.com/open-policy-agent/opa/v1/rego"
)

// Rule names a policy package may define; each yields findings.
const (
	RuleDeny = "deny"
	RuleWarn = "warn"
)

// Default severities of findings whose object names none.
const (
	DefaultDenySeverity = finding.SeverityHigh
	DefaultWarnSeverity = finding.SeverityLow
)

// maxFileSize caps one policy file (a policy is source code, not data).
const maxFileSize = 1 << 20

// Error is a policy that does not load or evaluate, named by file and
// line (Line is 0 when no line applies).
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("policy %s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("policy %s: %s", e.File, e.Msg)
}

// Engine holds the compiled policies of one run.
type Engine struct {
	// Files are the loaded policy files, sorted.
	Files []string
	rules []*rule
}

// rule is one prepared deny or warn rule of a package.
type rule struct {
	pkg  string // "kensa.labels"
	name string // deny or warn
	file string
	line int
	pq   opa.PreparedEvalQuery
}

// Load reads every *.rego file under path (a folder, walked recursively,
// or one file), skipping *_test.rego, and compiles them together once.
// Parse and compile errors are *Error values naming the file and line.
func Load(ctx context.Context, path string) (*Engine, error) {
	files, err := policyFiles(path)
	if err != nil {
		return nil, err
	}
	srcs := map[string][]byte{}
	for _, f := range files {
		b, err := readPolicy(f)
		if err != nil {
			return nil, err
		}
		srcs[f] = b
	}
	return compile(ctx, files, srcs)
}

// LoadSources compiles policies given as file name → source (tests,
// embedders). Names are used in errors only.
func LoadSources(ctx context.Context, srcs map[string][]byte) (*Engine, error) {
	files := make([]string, 0, len(srcs))
	for f := range srcs {
		files = append(files, f)
	}
	sort.Strings(files)
	return compile(ctx, files, srcs)
}

func policyFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, &Error{File: path, Msg: errText(err)}
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return &Error{File: p, Msg: errText(err)}
		}
		if d.IsDir() && p != path && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".rego") && !strings.HasSuffix(p, "_test.rego") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, &Error{File: path, Msg: "no .rego policy files in this folder"}
	}
	sort.Strings(files)
	return files, nil
}

func readPolicy(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, &Error{File: p, Msg: errText(err)}
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxFileSize+1)); err != nil {
		return nil, &Error{File: p, Msg: errText(err)}
	}
	if buf.Len() > maxFileSize {
		return nil, &Error{File: p, Msg: fmt.Sprintf("larger than %d bytes", maxFileSize)}
	}
	return buf.Bytes(), nil
}

// errText drops the path an *fs.PathError repeats.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func compile(ctx context.Context, files []string, srcs map[string][]byte) (*Engine, error) {
	popts := ast.ParserOptions{RegoVersion: ast.RegoV1}
	modules := map[string]*ast.Module{}
	for _, f := range files {
		m, err := ast.ParseModuleWithOpts(f, string(srcs[f]), popts)
		if err != nil {
			return nil, astError(f, err)
		}
		if m == nil {
			return nil, &Error{File: f, Msg: "empty policy file (want a package declaration)"}
		}
		modules[f] = m
	}
	c := ast.NewCompiler().WithEnablePrintStatements(false)
	c.Compile(modules)
	if c.Failed() {
		return nil, astError("", c.Errors)
	}
	e := &Engine{Files: files}
	seen := map[string]bool{}
	for _, f := range files {
		m := modules[f]
		pkg := strings.TrimPrefix(m.Package.Path.String(), "data.")
		for _, r := range m.Rules {
			ref := r.Head.Ref()
			if len(ref) != 1 {
				continue
			}
			name := ref[0].Value.String()
			if name != RuleDeny && name != RuleWarn {
				continue
			}
			key := pkg + "." + name
			if seen[key] {
				continue
			}
			seen[key] = true
			q := m.Package.Path.Append(ast.StringTerm(name)).String()
			pq, err := opa.New(opa.Query(q), opa.Compiler(c), opa.StrictBuiltinErrors(true)).PrepareForEval(ctx)
			if err != nil {
				return nil, astError(f, err)
			}
			e.rules = append(e.rules, &rule{pkg: pkg, name: name, file: f, line: r.Location.Row, pq: pq})
		}
	}
	if len(e.rules) == 0 {
		return nil, &Error{File: strings.Join(files, ", "), Msg: "no deny or warn rule: a policy package defines `deny contains result if { ... }` or `warn contains result if { ... }`"}
	}
	return e, nil
}

// astError turns OPA's errors into one *Error naming the first error's
// file and line (and how many more there are).
func astError(file string, err error) error {
	var errs ast.Errors
	if errors.As(err, &errs) && len(errs) > 0 {
		first := errs[0]
		e := &Error{File: file, Msg: first.Code + ": " + first.Message}
		if first.Location != nil {
			if first.Location.File != "" {
				e.File = first.Location.File
			}
			e.Line = first.Location.Row
		}
		if len(errs) > 1 {
			e.Msg += fmt.Sprintf(" (and %d more errors)", len(errs)-1)
		}
		return e
	}
	var ae *ast.Error
	if errors.As(err, &ae) {
		return astError(file, ast.Errors{ae})
	}
	return &Error{File: file, Msg: err.Error()}
}

// Eval evaluates every rule over in and returns the findings, in rule
// order (each rule's sorted as finding.Sort does). A rule that fails at run time (a conflict, a builtin error) or
// yields a value that is not a valid result is an *Error naming its file
// and line.
func (e *Engine) Eval(ctx context.Context, in *Input) ([]finding.Finding, error) {
	val, err := InputValue(in)
	if err != nil {
		return nil, err
	}
	return e.EvalValue(ctx, val, in)
}

// InputValue converts in to the Rego value policies see as input.
func InputValue(in *Input) (ast.Value, error) {
	v, err := toValue(reflect.ValueOf(in))
	if err != nil {
		return nil, fmt.Errorf("policy input: %w", err)
	}
	return v, nil
}

// EvalValue is Eval over an input already converted to a Rego value
// (benchmarks convert once); in supplies defaults (the Dockerfile path).
func (e *Engine) EvalValue(ctx context.Context, val ast.Value, in *Input) ([]finding.Finding, error) {
	var out []finding.Finding
	for _, r := range e.rules {
		rs, err := r.pq.Eval(ctx, opa.EvalParsedInput(val))
		if err != nil {
			return nil, r.errorf("%s: %s", r.name, evalErrText(err))
		}
		if len(rs) == 0 || len(rs[0].Expressions) == 0 {
			continue // undefined: nothing to report
		}
		fs, err := r.findings(rs[0].Expressions[0].Value, in)
		if err != nil {
			return nil, err
		}
		finding.Sort(fs) // a set's order is Rego's value order
		out = append(out, fs...)
	}
	return out, nil
}

func evalErrText(err error) string {
	var errs ast.Errors
	if errors.As(err, &errs) && len(errs) > 0 {
		return errs[0].Error()
	}
	return err.Error()
}

func (r *rule) errorf(format string, args ...any) error {
	return &Error{File: r.file, Line: r.line, Msg: fmt.Sprintf(format, args...)}
}

// Result is the object a deny or warn rule yields (docs/policies.md).
// A rule may also yield a plain string, taken as the message.
type Result struct {
	ID         string            `json:"id"`
	Severity   string            `json:"severity"`
	Title      string            `json:"title"`
	Message    string            `json:"message"`
	Kind       string            `json:"kind"`
	Fix        string            `json:"fix"`
	References []string          `json:"references"`
	Location   *finding.Location `json:"location"`
}

// findings converts a rule's value: a set or array of results, or one
// result.
func (r *rule) findings(v any, in *Input) ([]finding.Finding, error) {
	var items []any
	switch x := v.(type) {
	case []any:
		items = x
	default:
		items = []any{x}
	}
	out := make([]finding.Finding, 0, len(items))
	for _, it := range items {
		f, err := r.toFinding(it, in)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

func (r *rule) toFinding(v any, in *Input) (finding.Finding, error) {
	var res Result
	switch x := v.(type) {
	case string:
		res.Message = x
	case map[string]any:
		b, err := json.Marshal(x)
		if err != nil {
			return finding.Finding{}, r.errorf("%s result: %v", r.name, err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&res); err != nil {
			return finding.Finding{}, r.errorf("%s result %s: %v (want {id, severity, message, location, title, kind, fix, references})", r.name, short(b), err)
		}
	default:
		b, _ := json.Marshal(v)
		return finding.Finding{}, r.errorf("%s result %s: want an object {id, severity, message, location} or a string", r.name, short(b))
	}
	if strings.TrimSpace(res.Message) == "" {
		return finding.Finding{}, r.errorf("%s result has no message", r.name)
	}
	f := finding.Finding{
		Kind: finding.KindMisconfig, ID: res.ID, Title: res.Title, Message: res.Message,
		Fix: res.Fix, References: res.References,
	}
	if f.ID == "" {
		f.ID = r.pkg
	}
	if f.Title == "" {
		f.Title = "Policy " + r.pkg
	}
	f.Severity = DefaultDenySeverity
	if r.name == RuleWarn {
		f.Severity = DefaultWarnSeverity
	}
	if res.Severity != "" {
		s, err := finding.ParseSeverity(res.Severity)
		if err != nil {
			return finding.Finding{}, r.errorf("%s result %s: %v", r.name, f.ID, err)
		}
		f.Severity = s
	}
	if res.Kind != "" {
		switch k := finding.Kind(res.Kind); k {
		case finding.KindMisconfig, finding.KindSecret, finding.KindVuln, finding.KindLicense:
			f.Kind = k
		default:
			return finding.Finding{}, r.errorf("%s result %s: unknown kind %q (want misconfig, secret, vuln or license)", r.name, f.ID, res.Kind)
		}
	}
	if res.Location != nil {
		f.Location = *res.Location
	}
	// A line with no path is a line of the Dockerfile.
	if f.Location.Path == "" && f.Location.Line > 0 && in != nil && in.Dockerfile != nil {
		f.Location.Path = in.Dockerfile.Path
	}
	return f, nil
}

func short(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}
