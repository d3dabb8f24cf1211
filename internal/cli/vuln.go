package cli

import (
	"context"
	"io"

	"github.com/kensa-sec/kensa/internal/finding"
)

// matchVulns matches rep.Packages (with rep.OS) against the vulnerability
// database and appends the findings to rep. Image and SBOM scans call it
// when the vuln scanner is enabled. (Temporary: notes that matching is not
// available until the vulnerability database lands.)
func matchVulns(ctx context.Context, o *scanOptions, rep *finding.Report, stderr io.Writer) error {
	rep.Notes = append(rep.Notes, "vulnerability matching is not available in this build")
	return nil
}
