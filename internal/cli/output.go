package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/kensa-sec/kensa/internal/finding"
)

// finishScan applies policy and writes the report. (Placeholder until the
// report writers and policy land: writes JSON only.)
func finishScan(o *scanOptions, rep *finding.Report, stdout io.Writer) error {
	rep.Finalize()
	if o.Format != "json" {
		return fmt.Errorf("format %q: not available yet", o.Format)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
