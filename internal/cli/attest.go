package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/policy"
	"github.com/kensa-sec/kensa/internal/report"
	"github.com/kensa-sec/kensa/internal/trust"
	"github.com/kensa-sec/kensa/internal/vulndb"
	"github.com/spf13/cobra"
)

func init() {
	extraCommands = append(extraCommands, newAttestCmd)
}

type attestFlags struct {
	scanOptions
	Key         string
	MaxSeverity string
	Vuln        bool
}

func newAttestCmd() *cobra.Command {
	o := &attestFlags{}
	cmd := &cobra.Command{
		Use:   "attest IMAGE",
		Short: "Scan a registry image and attach the signed result as an in-toto attestation (like cosign attest)",
		Long: `attest resolves IMAGE to its digest, scans exactly that digest (misconfig,
secret, vuln), applies kensa.yaml and .kensaignore, and attaches an in-toto
statement with kensa's predicate (` + trust.PredicateType + `:
severity summary, database snapshot, policy result, report digest) signed
with --key as a DSSE envelope under the image's sha256-<digest>.att tag, the
way cosign attest does. kensa admit checks it later without rescanning.
The key is cosign's encrypted format (password from KENSA_PASSWORD or
COSIGN_PASSWORD) or plain PKCS#8.
  kensa attest registry.example/app:1.2 --key cosign.key -o report.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd); err != nil {
				return &InputError{Err: err}
			}
			o.scannersSet = cmd.Flags().Changed("scanners")
			return runAttest(cmd.Context(), o, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Key, "key", "", "cosign private key (PEM) to sign the attestation with")
	f.BoolVar(&o.Vuln, "vuln-predicate", false, "also attach the report as cosign's standard vulnerability predicate ("+trust.VulnPredicateType+")")
	f.StringVar(&o.MaxSeverity, "max-severity", "", "highest severity the policy allows (default trust.admit.max_severity, else HIGH)")
	f.StringVarP(&o.Output, "output", "o", "", "also write the full JSON report (the one whose digest is attested) to this file")
	f.StringVarP(&o.Config, "config", "c", "", "config file (default kensa.yaml in the working directory, if present)")
	f.StringVar(&o.IgnoreFile, "ignorefile", "", "ignore file (default .kensaignore in the working directory, if present)")
	f.StringSliceVar(&o.Scanners, "scanners", []string{"misconfig", "secret", "vuln"}, "scanners to run: misconfig, secret, vuln")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "no progress output")
	f.StringVar(&o.DBPath, "db", "", "vulnerability database file (default <cache-dir>/db/kensa.db)")
	f.BoolVar(&o.IgnoreUnfixed, "ignore-unfixed", false, "leave out vulnerabilities that have no fixed version")
	f.StringSliceVar(&o.VEX, "vex", nil, "OpenVEX document(s) whose not_affected/fixed statements suppress findings")
	addImageSourceFlags(f, &o.scanOptions)
	return cmd
}

func runAttest(ctx context.Context, o *attestFlags, image string, stdout, stderr io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.Key == "" {
		return inputErrorf("attest needs --key cosign.key")
	}
	o.Format = "json"
	key, err := trust.LoadPrivateKey(o.Key, keyPassword())
	if err != nil {
		return &InputError{Err: err}
	}
	reg := trust.Registry{Insecure: o.Insecure}
	ref, err := reg.ParseReference(image)
	if err != nil {
		return &InputError{Err: err}
	}
	p, err := loadPolicy(&o.scanOptions, "")
	if err != nil {
		return err
	}
	maxSev := finding.SeverityHigh
	if p.Config != nil {
		maxSev = p.Config.Trust.Admit.MaxSeverityOrDefault()
	}
	if o.MaxSeverity != "" {
		if maxSev, err = finding.ParseSeverity(o.MaxSeverity); err != nil {
			return inputErrorf("--max-severity: %v", err)
		}
	}
	// Scan exactly the digest that is attested: a tag re-pushed while
	// scanning cannot slip other bytes under the attestation.
	d, err := reg.Resolve(ctx, ref)
	if err != nil {
		return err
	}
	started := o.clock().UTC()
	res, err := runImageScan(ctx, &o.scanOptions, targetImage, d.String(), stderr)
	if err != nil {
		return err
	}
	finished := o.clock().UTC()
	rep := res.Report
	rep.Target = image
	policy.Apply(rep, p, o.clock())
	rep.Finalize()
	w, err := report.New("json", writerOptions(&o.scanOptions))
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := w.Write(&buf, rep); err != nil {
		return err
	}
	sum := sha256.Sum256(buf.Bytes())
	pred := &trust.ScanPredicate{
		Scanner:   trust.PredicateScanner{Name: "kensa", Version: Version},
		ScannedAt: started,
		Reference: image,
		Scanners:  append([]string(nil), o.Scanners...),
		Summary:   trust.PredicateSummary{Total: rep.Summary.Total, BySeverity: rep.Summary.BySeverity, Suppressed: rep.Summary.Suppressed},
		Report:    trust.PredicateReport{Digest: "sha256:" + hex.EncodeToString(sum[:]), MediaType: "application/vnd.kensa.report.v1+json"},
	}
	sort.Strings(pred.Scanners)
	pred.DB, err = attestDB(o)
	if err != nil {
		return err
	}
	pred.Policy = trust.PredicatePolicy{MaxSeverity: maxSev.String(), Passed: true}
	for _, f := range rep.Findings {
		if f.Severity > maxSev {
			pred.Policy.Passed = false
		}
	}
	if p.ConfigPath != "" {
		if data, err := os.ReadFile(p.ConfigPath); err == nil {
			cs := sha256.Sum256(data)
			pred.Policy.Config = "sha256:" + hex.EncodeToString(cs[:])
		}
	}
	if o.Output != "" {
		if err := os.WriteFile(o.Output, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("--output: %w", err)
		}
	}
	if err := trust.Attest(ctx, d, key, pred, reg); err != nil {
		return err
	}
	if o.Vuln {
		vp := &trust.VulnPredicate{}
		vp.Scanner.URI, vp.Scanner.Version, vp.Scanner.Result = "https://github.com/kensa-sec/kensa", Version, buf.Bytes()
		if pred.DB != nil {
			vp.Scanner.DB.URI, vp.Scanner.DB.Version = strings.Join(pred.DB.Sources, ","), pred.DB.Built.Format(time.RFC3339)
		}
		vp.Metadata.ScanStartedOn, vp.Metadata.ScanFinishedOn = started, finished
		st, err := trust.NewVulnStatement(d, vp)
		if err != nil {
			return fmt.Errorf("vuln predicate: %w", err)
		}
		if err := trust.AttestStatement(ctx, d, key, trust.VulnPredicateType, st, reg); err != nil {
			return err
		}
	}
	verdict := "passed"
	if !pred.Policy.Passed {
		verdict = "FAILED"
	}
	fmt.Fprintf(stdout, "attested %s: %d findings (%s), policy max_severity %s %s, report %s\n",
		d, rep.Summary.Total, severityCounts(rep.Summary.BySeverity), maxSev, verdict, pred.Report.Digest)
	for _, n := range rep.Notes {
		if !o.Quiet {
			fmt.Fprintf(stderr, "kensa: warning: %s\n", n)
		}
	}
	return nil
}

// attestDB describes the database a vuln scan used (nil when vuln is off
// or no database was there: the scan's notes say so too).
func attestDB(o *attestFlags) (*trust.PredicateDB, error) {
	if !o.scannerEnabled("vuln") {
		return nil, nil
	}
	path, err := dbPath(o.DBPath, o.CacheDir)
	if err != nil {
		return nil, err
	}
	db, err := vulndb.Open(path)
	if err != nil {
		if errors.Is(err, vulndb.ErrNoDB) {
			return nil, nil
		}
		return nil, &InputError{Err: err}
	}
	defer db.Close()
	m := db.Meta()
	out := &trust.PredicateDB{Built: m.Built.UTC()}
	for n := range m.Sources {
		out.Sources = append(out.Sources, n)
	}
	sort.Strings(out.Sources)
	return out, nil
}

func severityCounts(by map[string]int) string {
	var parts []string
	for _, s := range finding.AllSeverities() {
		if n := by[s.String()]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
