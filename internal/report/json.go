package report

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/kensa-sec/kensa/internal/finding"
)

// jsonWriter writes the stable JSON report (docs/json-schema.md).
type jsonWriter struct{ opts Options }

// Write encodes r as indented JSON. Suppressed findings are included only
// with ShowSuppressed; the summary counts them either way.
func (j *jsonWriter) Write(w io.Writer, r *finding.Report) error {
	out := *r
	if !j.opts.ShowSuppressed {
		out.Suppressed = nil
	}
	if out.Summary.BySeverity == nil {
		// Not finalized by the caller: count now so the summary is whole.
		out.Findings = append([]finding.Finding{}, out.Findings...)
		out.Suppressed = append([]finding.Finding(nil), out.Suppressed...)
		out.Finalize()
		if !j.opts.ShowSuppressed {
			out.Suppressed = nil
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&out); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	return nil
}
