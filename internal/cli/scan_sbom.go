package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/kensa-sec/kensa/internal/finding"
	"github.com/kensa-sec/kensa/internal/sbom"
)

// scanSBOM reads an existing CycloneDX or SPDX SBOM into the inventory and,
// when the vuln scanner is enabled, matches it against the database.
func scanSBOM(ctx context.Context, o *scanOptions, target string, stderr io.Writer) (*finding.Report, error) {
	rep, err := readSBOMReport(target)
	if err != nil {
		return nil, err
	}
	if o.scannerEnabled("vuln") {
		if err := matchVulns(ctx, o, rep, stderr); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// readSBOMReport turns an SBOM file into a report holding its inventory.
func readSBOMReport(target string) (*finding.Report, error) {
	res, err := sbom.ReadFile(target)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	rep := finding.NewReport(target, string(targetSBOM))
	rep.OS = res.OS
	rep.Packages = res.Packages
	if res.Skipped > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s: %d components without a usable package URL (purl) were not matched", target, res.Skipped))
	}
	if len(res.Packages) == 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s: the %s SBOM lists no packages with a package URL", target, res.Format))
	}
	return rep, nil
}
