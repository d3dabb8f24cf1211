package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScanHTML: --format html writes one page with every finding as a row.
func TestScanHTML(t *testing.T) {
	dir := isolate(t)
	out := filepath.Join(dir, "report.html")
	code, stdout, errs := run(t, "scan", "--format", "html", "--output", out, exampleWebapp)
	if code != 0 || stdout != "" {
		t.Fatalf("exit %d, stdout %q: %s", code, stdout, errs)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{"<!DOCTYPE html>", `data-id="KS-DF-010"`, `data-id="KS-CX-002"`, "Dockerfile:5", "</html>"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
