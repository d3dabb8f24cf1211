package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kensa-sec/kensa/internal/baseline"
	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/policy"
	"github.com/spf13/cobra"
)

func init() {
	extraCommands = append(extraCommands, newDiffCmd)
}

// newDiffCmd builds `kensa diff OLD NEW`.
func newDiffCmd() *cobra.Command {
	o := &scanOptions{Trivy: trivyOptions{VulnTypes: vulnTypes}}
	cmd := &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "Compare two scans: findings added, removed and unchanged, and package version changes",
		Long: `diff compares two JSON reports (kensa scan --format json) or two targets
scanned now (images, Dockerfiles, SBOMs: anything kensa scan takes), or one
of each. Findings are matched by their stable fingerprint, which survives
moved lines, rebuilt layers and version bumps of a still-vulnerable package:
  kensa diff old.json new.json
  kensa diff app-1.2.tar app-1.3.tar --exit-code 1      gate on new findings`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd); err != nil {
				return &InputError{Err: err}
			}
			o.scannersSet = cmd.Flags().Changed("scanners")
			return runDiff(cmd.Context(), o, args[0], args[1], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Format, "format", "f", "table", "output format: table, json")
	f.StringVarP(&o.Severity, "severity", "s", "", "severities of added findings to show and gate on, comma-separated (default all)")
	f.IntVar(&o.ExitCode, "exit-code", 0, "exit with this code when added findings at the shown severities remain")
	f.StringSliceVar(&o.Scanners, "scanners", []string{"misconfig", "secret", "vuln"}, "scanners to run on targets that are not reports: misconfig, secret, vuln")
	f.StringVar(&o.DBPath, "db", "", "vulnerability database file (default <cache-dir>/db/kensa.db)")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "no progress output")
	addImageSourceFlags(f, o)
	return cmd
}

// runDiff loads or scans both sides, compares them and writes the diff.
func runDiff(ctx context.Context, o *scanOptions, oldArg, newArg string, stdout, stderr io.Writer) error {
	if o.Format != "table" && o.Format != "json" {
		return inputErrorf("--format %q: diff writes table or json", o.Format)
	}
	gate, err := policy.ParseGate(o.Severity, o.ExitCode)
	if err != nil {
		return &InputError{Err: err}
	}
	var reps [2]*finding.Report
	for i, arg := range []string{oldArg, newArg} {
		side := *o
		// Packages are part of the diff even without the vuln scanner.
		side.Scanners = append(append([]string(nil), o.Scanners...), "inventory")
		if reps[i], err = reportOrScan(ctx, &side, arg, stderr); err != nil {
			return err
		}
	}
	d := baseline.Compare(reps[0], reps[1])
	added := &finding.Report{Findings: d.Added}
	gate.Filter(added)
	d.Added = added.Findings
	d.Summary["added"] = len(d.Added)
	if o.Format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(d); err != nil {
			return fmt.Errorf("write diff: %w", err)
		}
	} else if err := writeDiffTable(stdout, d); err != nil {
		return err
	}
	if code := gate.Code(added); code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// reportOrScan reads arg as a kensa JSON report when it is one, else scans
// it as kensa scan would, with its folder's policy (ignores) applied.
func reportOrScan(ctx context.Context, o *scanOptions, arg string, stderr io.Writer) (*finding.Report, error) {
	if isReportFile(arg) {
		rep, err := baseline.ReadReport(arg)
		if err != nil {
			return nil, &InputError{Err: err}
		}
		return rep, nil
	}
	rep, err := buildReport(ctx, o, arg, stderr)
	if err != nil {
		return nil, err
	}
	p, err := loadPolicy(o, o.targetDir)
	if err != nil {
		return nil, err
	}
	policy.Apply(rep, p, o.clock())
	rep.Finalize()
	return rep, nil
}

// isReportFile reports whether path is a file whose JSON holds a
// schema_version: a kensa report rather than a scan target.
func isReportFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	s := strings.TrimSpace(string(head[:n]))
	return strings.HasPrefix(s, "{") && strings.Contains(s, `"schema_version"`)
}

// writeDiffTable prints the diff for a terminal.
func writeDiffTable(w io.Writer, d *baseline.Diff) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Old: %s\nNew: %s\n", d.Old, d.New)
	section := func(title, sign string, fs []finding.Finding) {
		fmt.Fprintf(bw, "\n%s (%d)\n", title, len(fs))
		for _, f := range fs {
			where := location(f.Location)
			fmt.Fprintf(bw, "  %s %-8s %s  %s\n", sign, f.Severity, f.ID, strings.TrimSpace(where+"  "+f.Message))
		}
	}
	section("Added", "+", d.Added)
	section("Removed", "-", d.Removed)
	fmt.Fprintf(bw, "\nUnchanged: %d\n", len(d.Unchanged))
	if len(d.Packages) > 0 {
		fmt.Fprintf(bw, "\nPackages (%d changed)\n", len(d.Packages))
		for _, p := range d.Packages {
			switch {
			case p.From == "":
				fmt.Fprintf(bw, "  + %s %s %s  %s\n", p.Type, p.Name, p.To, p.Path)
			case p.To == "":
				fmt.Fprintf(bw, "  - %s %s %s  %s\n", p.Type, p.Name, p.From, p.Path)
			default:
				fmt.Fprintf(bw, "  ~ %s %s %s → %s  %s\n", p.Type, p.Name, p.From, p.To, p.Path)
			}
		}
	}
	fmt.Fprintf(bw, "\nSummary: %d added, %d removed, %d unchanged, %d package changes\n", len(d.Added), len(d.Removed), len(d.Unchanged), len(d.Packages))
	return bw.Flush()
}

// location renders where a finding is, for the diff table.
func location(l finding.Location) string {
	switch {
	case l.Dockerfile != "" && l.DockerfileLine > 0:
		return fmt.Sprintf("%s:%d", l.Dockerfile, l.DockerfileLine)
	case l.Path != "" && l.Line > 0:
		return fmt.Sprintf("%s:%d", l.Path, l.Line)
	}
	return l.Path
}
