// Package report holds kensa's output writers: a terminal table, the stable
// JSON report, SARIF 2.1.0 for code-scanning services, a self-contained HTML
// page, and CycloneDX 1.6 and
// SPDX 2.3 SBOMs. Every writer consumes a finalized *finding.Report.
package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/kensa-sec/kensa/internal/finding"
)

// Writer renders a report in one format.
type Writer interface {
	Write(w io.Writer, r *finding.Report) error
}

// Options tune the writers. The zero value is valid.
type Options struct {
	// Color turns on ANSI colours in the table writer. Callers decide
	// (terminal and NO_COLOR); writers never probe the environment.
	Color bool
	// ShowSuppressed makes writers include suppressed findings.
	ShowSuppressed bool
	// ToolVersion is kensa's version, named in SARIF and SBOM metadata.
	ToolVersion string
	// Created is the creation time written into SBOMs; zero means now.
	// Tests set it so golden files are stable.
	Created time.Time
	// BaseDir is the folder SARIF URIs are made relative to (usually the
	// working directory); absolute paths outside it are kept as given.
	BaseDir string
	// SourceRoot is the build-context folder that Dockerfile-target
	// finding paths are relative to; SARIF joins it so URIs stay correct
	// when scanning a subfolder (kensa scan services/api).
	SourceRoot string
}

// Formats lists every format New accepts.
func Formats() []string {
	return []string{"table", "json", "sarif", "html", "cyclonedx", "spdx"}
}

// New returns the writer for format (case-insensitive).
func New(format string, opts Options) (Writer, error) {
	if opts.ToolVersion == "" {
		opts.ToolVersion = "dev"
	}
	switch strings.ToLower(strings.TrimSpace(format)) {
	case "table":
		return &tableWriter{opts: opts}, nil
	case "json":
		return &jsonWriter{opts: opts}, nil
	case "sarif":
		return &sarifWriter{opts: opts}, nil
	case "html":
		return &htmlWriter{opts: opts}, nil
	case "cyclonedx", "cdx":
		return &cyclonedxWriter{opts: opts}, nil
	case "spdx", "spdx-json":
		return &spdxWriter{opts: opts}, nil
	}
	return nil, fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(Formats(), ", "))
}

// IsSBOM reports whether format is an SBOM format (inventory, not findings).
func IsSBOM(format string) bool {
	switch strings.ToLower(strings.TrimSpace(format)) {
	case "cyclonedx", "cdx", "spdx", "spdx-json":
		return true
	}
	return false
}

// created returns the SBOM creation time, UTC, to the second.
func (o Options) created() time.Time {
	t := o.Created
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Truncate(time.Second)
}

// visibleFindings returns the findings a writer shows: the unsuppressed ones
// and, with ShowSuppressed, the suppressed ones too (sorted together).
func visibleFindings(r *finding.Report, show bool) []finding.Finding {
	out := append([]finding.Finding(nil), r.Findings...)
	if show {
		out = append(out, r.Suppressed...)
		finding.Sort(out)
	}
	return out
}

// sortedIDs returns the keys of m in order.
func sortedIDs[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
