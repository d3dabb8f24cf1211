package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/fix"
	dfrules "github.com/kensa-sec/kensa/internal/rules/dockerfile"
	"github.com/spf13/cobra"
)

func init() { extraCommands = append(extraCommands, newFixCmd) }

// fixOptions are the flags of `kensa fix`.
type fixOptions struct {
	Write       bool
	Offline     bool
	Rules       []string
	ContextDir  string
	DigestsFrom []string
	Insecure    bool
	ExitCode    int
	Config      string
	IgnoreFile  string
	Timeout     time.Duration
	Format      string
	Quiet       bool
}

// fixReport is `kensa fix --format json`: per file, what was fixed, what
// was left and the diff.
type fixReport struct {
	Files []fixFile `json:"files"`
}

type fixFile struct {
	Path    string        `json:"path"`
	Changed bool          `json:"changed"`
	Written bool          `json:"written"`
	Applied []fix.Applied `json:"applied"`
	Left    []fix.Left    `json:"left"`
	Diff    string        `json:"diff,omitempty"`
}

// newFixCmd builds `kensa fix [Dockerfile|DIR] [--write] [--offline]`.
func newFixCmd() *cobra.Command {
	o := &fixOptions{ExitCode: -1}
	cmd := &cobra.Command{
		Use:   "fix [Dockerfile|DIR]...",
		Short: "Print (or apply with --write) the safe mechanical fixes for a Dockerfile's findings",
		Long: `fix lints the Dockerfile (default: ./Dockerfile or ./Containerfile) and prints a
unified diff of the fixes that are safe to make mechanically; --write applies them in place.
Every fix is an edit of the original bytes (comments, continuation lines, heredocs and
indentation stay as written) and is kept only when linting the edited file shows its
finding gone and no other finding changed.

  KS-DF-001  add USER at the end of the final stage (before CMD/ENTRYPOINT/EXPOSE...):
             an earlier non-root USER or a user a RUN creates is reused; otherwise
             USER 10001:10001 with a groupadd/useradd RUN (Debian, Ubuntu, RHEL-likes)
             or addgroup/adduser RUN (Alpine, BusyBox); 65534:65534 on scratch,
             65532:65532 on distroless, ContainerUser on Windows; numeric only when
             the distribution is unknown
  KS-DF-027  COPY/ADD --chown=<user> for what the non-root final stage must own
  KS-DF-028  a useradd (or Alpine adduser) RUN before a USER name nothing creates
  KS-DF-003  FROM image:tag@sha256:<digest>, resolved from the registry (docker config
             auth) or --digests-from OCI layouts/archives; --offline skips it
             (pinning a latest/untagged base also clears its KS-DF-002)
  KS-DF-005  ADD -> COPY when every source is a plain file or folder of the build
             context (not a URL, not an archive ADD would unpack)
  KS-DF-006  apt-get install --no-install-recommends
  KS-DF-007  && rm -rf /var/lib/apt/lists/* at the end of the same RUN (not when a
             later RUN uses apt-get without apt-get update)
  KS-DF-008  apk add --no-cache
  KS-DF-009  pip install --no-cache-dir; && npm cache clean --force / && yarn cache clean
             after npm and yarn installs
  KS-DF-025  && yum/dnf/microdnf clean all, && zypper clean -a at the end of the RUN
  KS-DF-024  shell-form CMD/ENTRYPOINT -> exec form, only for one plain command: no
             operators, redirections, variables, globs or escapes (mvdan.cc/sh decides)

Findings suppressed inline (# kensa ignore=ID), by the ignore file (.kensaignore,
--ignorefile) or by disabled_rules in kensa.yaml are left alone. What was fixed and
what was left (and why) goes to stderr; --format json prints both, and the diff, as
one report on stdout.

Exit codes (for CI, like gofmt -d | git diff --exit-code):
  0  nothing to fix, or --write applied the fixes
  1  fixes are available: the diff was printed (--exit-code N changes this code,
     and makes --write exit N too when it changed the file)
  2  bad input: missing file, not a Dockerfile, bad flag or config

  kensa fix                          diff for ./Dockerfile
  kensa fix a/Dockerfile b/          several files: one diff each, one exit code
  kensa fix app/Dockerfile --write   rewrite it in place
  kensa fix --offline --rules KS-DF-006,KS-DF-007,KS-DF-008`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd); err != nil {
				return &InputError{Err: err}
			}
			if len(args) == 0 {
				args = []string{"."}
			}
			if !cmd.Flags().Changed("exit-code") {
				o.ExitCode = -1
			}
			return runFix(cmd, o, args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.Write, "write", "w", false, "rewrite the Dockerfile in place instead of printing a diff")
	f.BoolVar(&o.Offline, "offline", false, "do not contact registries (FROM digests only from --digests-from)")
	f.StringSliceVar(&o.Rules, "rules", nil, "fix only these rule IDs (default: every fixable one: "+strings.Join(fix.Rules, ",")+")")
	f.StringVar(&o.ContextDir, "context", "", "build context checked for ADD sources (default: the Dockerfile's folder)")
	f.StringSliceVar(&o.DigestsFrom, "digests-from", nil, "OCI layouts or OCI archives whose index names the base images (resolved before the registry)")
	f.BoolVar(&o.Insecure, "insecure", false, "allow plain-HTTP and self-signed registries when resolving digests")
	f.IntVar(&o.ExitCode, "exit-code", 1, "exit code when there is something to fix")
	f.StringVar(&o.Config, "config", "", "kensa.yaml (default: in the Dockerfile's folder): trusted_registries, disabled_rules")
	f.StringVar(&o.IgnoreFile, "ignorefile", "", "ignore file (default: .kensaignore in the Dockerfile's folder); ignored findings are not fixed")
	f.DurationVar(&o.Timeout, "timeout", time.Minute, "bound on resolving FROM digests from registries (unresolved ones are left, with a note)")
	f.StringVarP(&o.Format, "format", "f", "diff", "output: diff (unified diff on stdout, summary on stderr) or json (one report on stdout)")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "do not list what was fixed and left on stderr")
	return cmd
}

// runFix fixes each target in turn; the exit code says whether any had
// something to fix.
func runFix(cmd *cobra.Command, o *fixOptions, targets []string, stdout, stderr io.Writer) error {
	for _, id := range o.Rules {
		if !slices.Contains(fix.Rules, strings.ToUpper(strings.TrimSpace(id))) {
			return inputErrorf("--rules: %s has no mechanical fix (fixable: %s)", id, strings.Join(fix.Rules, ", "))
		}
	}
	if o.Format != "diff" && o.Format != "json" {
		return inputErrorf("--format %q: want diff or json", o.Format)
	}
	changed := false
	var rep fixReport
	for _, t := range targets {
		ff, err := fixOne(cmd, o, t, stdout, stderr)
		if err != nil {
			return err
		}
		changed = changed || ff.Changed
		rep.Files = append(rep.Files, *ff)
	}
	if o.Format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(rep); err != nil {
			return err
		}
	}
	if !changed {
		return nil
	}
	code := o.ExitCode
	if code < 0 && !o.Write {
		code = 1
	}
	if code > 0 {
		return &exitError{code: code}
	}
	return nil
}

// fixOne fixes one Dockerfile (or the one in a folder) and reports
// whether it had something to fix.
func fixOne(cmd *cobra.Command, o *fixOptions, target string, stdout, stderr io.Writer) (*fixFile, error) {
	st, err := os.Stat(target)
	if err != nil {
		return nil, &InputError{Err: fmt.Errorf("%s: %w", target, err)}
	}
	path := target
	if st.IsDir() {
		p, ok := findDockerfile(target)
		if !ok {
			return nil, inputErrorf("%s: no Dockerfile or Containerfile in this folder", target)
		}
		path = p
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	if _, err := dockerfile.ParseFile(path); err != nil { // size, type and syntax checks
		return nil, &InputError{Err: err}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	dir := filepath.Dir(path)
	so := &scanOptions{Config: o.Config, IgnoreFile: o.IgnoreFile}
	p, err := loadPolicy(so, dir)
	if err != nil {
		return nil, err
	}
	opts := fix.Options{Lint: dfrules.Options{ScanValue: scanSecretValue}, Offline: o.Offline, ContextDir: o.ContextDir}
	if opts.ContextDir == "" {
		opts.ContextDir = dir
	}
	if list := p.TrustedRegistries(); len(list) > 0 {
		opts.Lint.TrustedRegistries, opts.Lint.IsTrusted = list, p.Trusted
	}
	if len(p.Ignores) > 0 {
		now := time.Now()
		rel := filepath.Base(path)
		opts.Ignored = func(fd finding.Finding) (string, bool) {
			for _, r := range p.Ignores {
				if r.Active(now) && r.Matches(fd.ID, rel) {
					return "ignored by " + p.IgnorePath, true
				}
			}
			return "", false
		}
	}
	var disabled []string
	if p.Config != nil {
		disabled = p.Config.DisabledRules
	}
	for _, id := range fix.Rules {
		want := len(o.Rules) == 0
		for _, r := range o.Rules {
			want = want || strings.EqualFold(strings.TrimSpace(r), id)
		}
		if want && !slices.Contains(disabled, id) {
			opts.Rules = append(opts.Rules, id)
		}
	}
	if len(opts.Rules) == 0 {
		opts.Rules = []string{"none"}
	}
	var chain fix.Chain
	if len(o.DigestsFrom) > 0 {
		a, err := fix.OpenArchives(o.DigestsFrom)
		if err != nil {
			return nil, &InputError{Err: fmt.Errorf("--digests-from: %w", err)}
		}
		chain = append(chain, a)
	}
	if !o.Offline {
		reg := &fix.Registry{Insecure: o.Insecure}
		if o.Insecure {
			tr := remote.DefaultTransport.(*http.Transport).Clone()
			tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // --insecure asks for it
			reg.Options = append(reg.Options, remote.WithTransport(tr))
		}
		chain = append(chain, reg)
	}
	if len(chain) > 0 {
		opts.Resolver = chain
	}
	ctx := cmd.Context()
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	res, err := fix.Fix(ctx, path, data, opts)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	ff := &fixFile{Path: path, Changed: res.Changed(), Applied: res.Applied, Left: res.Left}
	if ff.Applied == nil {
		ff.Applied = []fix.Applied{}
	}
	if ff.Left == nil {
		ff.Left = []fix.Left{}
	}
	if !o.Quiet && o.Format == "diff" {
		for _, a := range res.Applied {
			also := ""
			if len(a.Also) > 0 {
				also = " (also clears " + strings.Join(a.Also, ", ") + ")"
			}
			fmt.Fprintf(stderr, "fixed %s %s:%d: %s%s\n", a.Rule, path, a.Line, a.Change, also)
		}
		for _, l := range res.Left {
			fmt.Fprintf(stderr, "left  %s %s:%d: %s\n", l.Rule, path, l.Line, l.Reason)
		}
	}
	if !res.Changed() {
		if !o.Quiet && o.Format == "diff" {
			fmt.Fprintf(stderr, "%s: nothing to fix\n", path)
		}
		return ff, nil
	}
	ff.Diff = res.Diff()
	if o.Write {
		real, err := filepath.EvalSymlinks(path) // rewrite the file a symlink points to, not the link
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if err := writeAtomic(real, res.Fixed, info.Mode().Perm()); err != nil {
			return nil, fmt.Errorf("%s: write: %w", path, err)
		}
		ff.Written = true
		if !o.Quiet && o.Format == "diff" {
			fmt.Fprintf(stderr, "%s: %d findings fixed, file rewritten\n", path, len(res.Applied))
		}
		return ff, nil
	}
	if o.Format == "diff" {
		if _, err := io.WriteString(stdout, ff.Diff); err != nil {
			return nil, err
		}
	}
	return ff, nil
}

// writeAtomic replaces path with data through a temporary file in the
// same folder (a reader never sees half a file), keeping the mode.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".kensa-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
