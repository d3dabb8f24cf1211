package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/report"
	"github.com/spf13/cobra"
)

func init() {
	extraCommands = append(extraCommands, newSBOMCmd)
}

// newSBOMCmd builds `kensa sbom TARGET --format cyclonedx|spdx`.
func newSBOMCmd() *cobra.Command {
	o := &scanOptions{}
	cmd := &cobra.Command{
		Use:   "sbom TARGET",
		Short: "Write a CycloneDX or SPDX SBOM of an image, OCI layout, registry image, rootfs or existing SBOM",
		Long: `sbom inventories TARGET's OS and application packages and writes them as
CycloneDX 1.6 JSON (default) or SPDX 2.3 JSON:
  kensa sbom app.tar --format cyclonedx -o app.cdx.json
  kensa sbom registry.example/app:1.2 --format spdx
  kensa sbom --rootfs ./rootfs
  kensa sbom app.spdx.json --format cyclonedx     convert an existing SBOM`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd); err != nil {
				return &InputError{Err: err}
			}
			target := ""
			if len(args) == 1 {
				target = args[0]
			}
			return runSBOM(cmd.Context(), o, target, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Format, "format", "f", "cyclonedx", "SBOM format: cyclonedx, spdx")
	f.StringVarP(&o.Output, "output", "o", "", "write the SBOM to this file instead of stdout")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "no progress output")
	addImageSourceFlags(f, o)
	return cmd
}

// runSBOM runs the image pipeline with only the inventory scanner and
// writes the result as an SBOM.
func runSBOM(ctx context.Context, o *scanOptions, target string, stdout, stderr io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if !report.IsSBOM(o.Format) {
		return inputErrorf("--format %q: kensa sbom writes cyclonedx or spdx (use kensa scan --format %s for findings)", o.Format, strings.ToLower(o.Format))
	}
	w, err := report.New(o.Format, writerOptions(o))
	if err != nil {
		return &InputError{Err: err}
	}
	kind, err := detectTarget(o, target)
	if err != nil {
		return err
	}
	inv := *o
	inv.Scanners = []string{"inventory"}
	var rep *finding.Report
	switch kind {
	case targetImage, targetRootfs:
		rep, err = scanImage(ctx, &inv, kind, target, stderr)
	case targetSBOM:
		rep, err = readSBOMReport(target)
	default:
		return inputErrorf("%s: a Dockerfile or build context has no installed packages to inventory; build the image and run kensa sbom on it", target)
	}
	if err != nil {
		return err
	}
	// An SBOM is the inventory only: findings of other scanners stay out.
	rep.Findings = []finding.Finding{}
	rep.Suppressed = nil
	rep.Finalize()
	for _, n := range rep.Notes {
		if !o.Quiet {
			fmt.Fprintf(stderr, "kensa: warning: %s\n", n)
		}
	}
	return writeReport(o.Output, w, rep, stdout)
}
