package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/kensa-sec/kensa/internal/buildctx"
	"github.com/kensa-sec/kensa/internal/dockerfile"
	"github.com/kensa-sec/kensa/internal/finding"
	dfrules "github.com/kensa-sec/kensa/internal/rules/dockerfile"
	"github.com/kensa-sec/kensa/internal/secret"
)

// scanDockerfile lints a Dockerfile or a folder holding one and its build
// context. For a folder, the Dockerfile (Dockerfile, Containerfile, or
// --dockerfile) is linted and the folder is checked as its build context
// (KS-CX-*); finding paths are relative to the folder. For a file, only the
// Dockerfile is linted and paths are as given.
func scanDockerfile(ctx context.Context, o *scanOptions, target string, stderr io.Writer) (*finding.Report, error) {
	st, err := os.Stat(target)
	if err != nil {
		return nil, &InputError{Err: fmt.Errorf("%s: %w", target, err)}
	}
	dfPath, display, ctxDir := target, target, ""
	if st.IsDir() {
		ctxDir = target
		if o.Dockerfile != "" {
			dfPath = o.Dockerfile
		} else if p, ok := findDockerfile(target); ok {
			dfPath = p
		} else {
			return nil, inputErrorf("%s: no Dockerfile or Containerfile in this folder", target)
		}
		display = dfPath
		if rel, err := filepath.Rel(target, dfPath); err == nil && !strings.HasPrefix(rel, "..") {
			display = filepath.ToSlash(rel)
		}
	}
	f, err := dockerfile.ParseFile(dfPath)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	f.Path = display
	o.regoPolicies.noteDockerfile(f)

	opts := dfrules.Options{ScanValue: scanSecretValue}
	p, err := loadPolicy(o, o.targetDir)
	if err != nil {
		return nil, err
	}
	if list := p.TrustedRegistries(); len(list) > 0 {
		opts.TrustedRegistries = list
		opts.IsTrusted = p.Trusted
	}
	// Disabled rules are not dropped here: policy.Apply marks them
	// suppressed so --show-suppressed can still show them.

	rep := finding.NewReport(target, string(targetDockerfile))
	rep.Findings = keepScanners(o, dfrules.Lint(f, opts))

	if ctxDir != "" && o.scannerEnabled("misconfig") {
		cxOpts := buildctx.Options{Dir: ctxDir, DockerfilePath: dfPath, Copies: copySources(f)}
		if p.Config != nil {
			th := p.Config.Thresholds
			cxOpts.MaxBytes, cxOpts.MaxFiles = th.ContextMaxBytes, th.ContextMaxFiles
			cxOpts.MaxPatterns, cxOpts.MaxExceptions = th.DockerignoreMaxPatterns, th.DockerignoreMaxExceptions
		}
		cx, stats, err := buildctx.Check(ctx, cxOpts)
		if err != nil {
			return nil, &InputError{Err: err}
		}
		for i := range cx {
			if cx[i].Location.Path == dfPath {
				cx[i].Location.Path = display // one name for the Dockerfile in every finding
			}
		}
		rep.Findings = append(rep.Findings, keepScanners(o, cx)...)
		if stats != nil && !o.Quiet {
			rep.Notes = append(rep.Notes, fmt.Sprintf("build context %s: %d files walked, %d files / %d bytes sent, %d .dockerignore patterns (%d exceptions), %s",
				ctxDir, stats.FilesWalked, stats.FilesSent, stats.BytesSent, stats.Patterns, stats.Exceptions, stats.Elapsed.Round(1000)))
		}
	}
	for _, w := range f.Warnings {
		rep.Notes = append(rep.Notes, display+": "+w)
	}
	return rep, nil
}

// keepScanners drops findings whose scanner (--scanners) is off: secret
// findings need "secret", the others "misconfig".
func keepScanners(o *scanOptions, fs []finding.Finding) []finding.Finding {
	out := fs[:0]
	for _, f := range fs {
		want := "misconfig"
		if f.Kind == finding.KindSecret {
			want = "secret"
		}
		if o.scannerEnabled(want) {
			out = append(out, f)
		}
	}
	return out
}

// copySources lists the Dockerfile's COPY/ADD instructions for the build
// context checks (ONBUILD ones excluded: they run in another build).
func copySources(f *dockerfile.File) []buildctx.CopySource {
	var out []buildctx.CopySource
	for _, s := range f.Stages {
		for _, in := range s.Instructions {
			if in.Cmd != "copy" && in.Cmd != "add" {
				continue
			}
			cs := buildctx.CopySource{Line: in.StartLine, EndLine: in.EndLine, Instruction: strings.ToUpper(in.Cmd), Sources: in.Sources(), Stage: stageRef(s)}
			_, cs.FromStage = in.Flag("from")
			cs.Chown, _ = in.Flag("chown")
			if in.Cmd == "add" {
				// URLs are not read from the context.
				var local []string
				for _, src := range cs.Sources {
					if !strings.Contains(src, "://") && !strings.HasPrefix(src, "git@") {
						local = append(local, src)
					}
				}
				cs.Sources = local
			}
			out = append(out, cs)
		}
	}
	return out
}

// stageRef names a stage as COPY --from would: its name or its index.
func stageRef(s *dockerfile.Stage) string {
	if s.Name != "" {
		return s.Name
	}
	return fmt.Sprint(s.Index)
}

// scanSecretValue runs the secret detectors over an ENV/ARG/LABEL
// "NAME=value" pair for KS-DF-010.
func scanSecretValue(v string) (string, bool) {
	ms := secret.Scan([]byte(v))
	if len(ms) == 0 {
		return "", false
	}
	return fmt.Sprintf("%s %s", ms[0].RuleID, ms[0].Redacted), true
}
