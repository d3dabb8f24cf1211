package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/policy"
	"github.com/kensa-sec/kensa/internal/report"
	"golang.org/x/term"
)

// Default names of the policy files looked up in the target folder, then in
// the working directory.
const (
	defaultConfigName = "kensa.yaml"
	defaultIgnoreName = ".kensaignore"
	trivyIgnoreName   = ".trivyignore" // read when there is no .kensaignore
)

// loadPolicy returns the policy for a scan: the --config file (default
// kensa.yaml in targetDir, then the working directory, if present) and the
// --ignorefile (default .kensaignore, same lookup; without one, a
// .trivyignore found the same way). It loads once per
// scanOptions and caches the result, so scanners may call it freely: the
// Dockerfile scanner reads TrustedRegistries / Trusted(image) for KS-DF-004,
// the build-context scanner reads Config.Thresholds, the vulnerability
// matcher reads Config.DBMaxAge(). Errors are *InputError (exit 2) naming
// the file and line.
func loadPolicy(o *scanOptions, targetDir string) (*policy.Policy, error) {
	if o.policy != nil {
		return o.policy, nil
	}
	p := &policy.Policy{}
	cfgPath, err := policyFile(o.Config, targetDir, defaultConfigName)
	if err != nil {
		return nil, &InputError{Err: fmt.Errorf("--config: %w", err)}
	}
	if cfgPath != "" {
		cfg, err := policy.LoadConfig(cfgPath)
		if err != nil {
			return nil, &InputError{Err: err}
		}
		p.Config, p.ConfigPath = cfg, cfgPath
	}
	ignPath, err := policyFile(o.IgnoreFile, targetDir, defaultIgnoreName)
	if err == nil && ignPath == "" && o.IgnoreFile == "" {
		// A Trivy user's ignore file: same line format (ID [exp:DATE]
		// [# comment]); kensa's path globs work in it too.
		ignPath, err = policyFile("", targetDir, trivyIgnoreName)
	}
	if err != nil {
		return nil, &InputError{Err: fmt.Errorf("--ignorefile: %w", err)}
	}
	if ignPath != "" {
		rules, err := policy.LoadIgnore(ignPath)
		if err != nil {
			return nil, &InputError{Err: err}
		}
		p.Ignores, p.IgnorePath = rules, ignPath
	}
	o.policy = p
	return p, nil
}

// policyFile resolves an explicit path (which must exist) or finds the
// default name in dir, then in the working directory ("" when absent).
func policyFile(explicit, dir, name string) (string, error) {
	if explicit != "" {
		st, err := os.Stat(explicit)
		if err != nil {
			return "", err
		}
		if st.IsDir() {
			return "", fmt.Errorf("%s: is a folder", explicit)
		}
		return explicit, nil
	}
	seen := map[string]bool{}
	for _, d := range []string{dir, "."} {
		if d == "" {
			continue
		}
		p := filepath.Join(d, name)
		abs, _ := filepath.Abs(p)
		if seen[abs] {
			continue
		}
		seen[abs] = true
		st, err := os.Stat(p)
		if err == nil && st.Mode().IsRegular() {
			return p, nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%s: %w", p, err)
		}
	}
	return "", nil
}

// targetDirFor returns the folder whose policy files apply to a target: the
// build context for Dockerfiles, the file's folder for SBOMs and archives,
// the working directory for registry references.
func targetDirFor(kind targetKind, target string) string {
	if target == "" {
		return ""
	}
	st, err := os.Stat(target)
	switch {
	case err != nil:
		return "" // a registry reference
	case st.IsDir() && (kind == targetDockerfile || kind == targetManifest):
		return target
	default:
		return filepath.Dir(target)
	}
}

// now returns the scan's clock (tests fix it with scanOptions.now).
func (o *scanOptions) clock() time.Time {
	if o.now != nil {
		return o.now()
	}
	return time.Now()
}

// prepareOutput validates --format, --severity and --exit-code before any
// scanning, so a typo fails fast with exit 2.
func prepareOutput(o *scanOptions) (report.Writer, policy.Gate, error) {
	gate, err := policy.ParseGate(o.Severity, o.ExitCode)
	if err != nil {
		return nil, gate, &InputError{Err: err}
	}
	w, err := report.New(o.Format, writerOptions(o))
	if err != nil {
		return nil, gate, &InputError{Err: fmt.Errorf("--format: %w", err)}
	}
	return w, gate, nil
}

func writerOptions(o *scanOptions) report.Options {
	wd, _ := os.Getwd()
	return report.Options{
		Color:          o.color,
		ShowSuppressed: o.ShowSuppressed,
		ToolVersion:    Version,
		Created:        o.createdTime(),
		BaseDir:        wd,
		SourceRoot:     o.targetDir,
	}
}

func (o *scanOptions) createdTime() time.Time {
	if o.now != nil {
		return o.now()
	}
	return time.Time{}
}

// useColor decides whether the table is coloured: only when writing to
// stdout, NO_COLOR is unset, and stdout is a terminal or FORCE_COLOR is set.
func useColor(o *scanOptions, stdout io.Writer) bool {
	if o.Output != "" {
		return false
	}
	if _, ok := os.LookupEnv("NO_COLOR"); ok {
		return false
	}
	if os.Getenv("FORCE_COLOR") != "" {
		return true
	}
	f, ok := stdout.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// finishScan applies the policy (config, ignore file, inline suppressions)
// and the --severity filter, writes the report with the chosen writer to
// stdout or --output, and returns an *exitError carrying --exit-code when
// shown, unsuppressed findings remain.
func finishScan(o *scanOptions, rep *finding.Report, stdout io.Writer) error {
	o.color = useColor(o, stdout)
	w, gate, err := prepareOutput(o)
	if err != nil {
		return err
	}
	p, err := loadPolicy(o, o.targetDir)
	if err != nil {
		return err
	}
	if err := evalRegoPolicies(o, rep, p); err != nil {
		return err
	}
	policy.Apply(rep, p, o.clock())
	if o.baseline != nil {
		o.baseline.Apply(rep, o.Baseline)
	}
	gate.Filter(rep)
	if err := writeReport(o.Output, w, rep, stdout); err != nil {
		return err
	}
	if code := gate.Code(rep); code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// writeReport writes rep to path (atomically: a temp file in the same
// folder renamed into place, removed on any error) or to stdout. A path
// that exists and is not a regular file (/dev/null, /dev/stdout, a FIFO)
// is written into directly: renaming onto it would replace it. A symlink
// keeps pointing at the report: its target is replaced.
func writeReport(path string, w report.Writer, rep *finding.Report, stdout io.Writer) error {
	if path == "" || path == "-" {
		return w.Write(stdout, rep)
	}
	if st, err := os.Stat(path); err == nil {
		if !st.Mode().IsRegular() {
			return writeInto(path, w, rep)
		}
		if resolved, err := filepath.EvalSymlinks(path); err == nil {
			path = resolved
		}
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".kensa-*")
	if err != nil {
		return &InputError{Err: fmt.Errorf("--output %s: %w", path, err)}
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := w.Write(tmp, rep); err != nil {
		return fmt.Errorf("--output %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("--output %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("--output %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return &InputError{Err: fmt.Errorf("--output %s: %w", path, err)}
	}
	ok = true
	return nil
}

// writeInto writes rep into an existing non-regular file (a device, FIFO
// or terminal) without replacing it.
func writeInto(path string, w report.Writer, rep *finding.Report) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return &InputError{Err: fmt.Errorf("--output %s: %w", path, err)}
	}
	if err := w.Write(f, rep); err != nil {
		f.Close()
		return fmt.Errorf("--output %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--output %s: %w", path, err)
	}
	return nil
}
