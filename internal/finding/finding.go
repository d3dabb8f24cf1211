// Package finding holds the one vocabulary every kensa scanner speaks: a
// Finding (what was seen, where, how bad, how to fix it) and the Report that
// collects findings for a target and feeds every writer.
package finding

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/kensa-sec/kensa/internal/inventory"
)

// SchemaVersion is the version of the JSON report schema. Bump it only for
// incompatible changes; adding optional fields keeps it.
const SchemaVersion = 1

// Severity ranks how urgently a finding needs attention.
type Severity int

// Severities from least to most urgent. Unknown sorts lowest.
const (
	SeverityUnknown Severity = iota
	SeverityInfo
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"UNKNOWN", "INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"}

// String returns the upper-case name used in every output (e.g. "HIGH").
func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return "UNKNOWN"
	}
	return severityNames[s]
}

// ParseSeverity reads a severity name, case-insensitively.
func ParseSeverity(s string) (Severity, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	for i, n := range severityNames {
		if n == u {
			return Severity(i), nil
		}
	}
	return SeverityUnknown, fmt.Errorf("unknown severity %q (want one of %s)", s, strings.Join(severityNames[:], ", "))
}

// ParseSeverities reads a comma-separated severity list such as "HIGH,CRITICAL".
func ParseSeverities(list string) ([]Severity, error) {
	var out []Severity
	for _, p := range strings.Split(list, ",") {
		if strings.TrimSpace(p) == "" {
			continue
		}
		s, err := ParseSeverity(p)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// AllSeverities lists every severity from most to least urgent.
func AllSeverities() []Severity {
	return []Severity{SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow, SeverityInfo, SeverityUnknown}
}

// MarshalJSON writes the severity as its name.
func (s Severity) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a severity name.
func (s *Severity) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		return fmt.Errorf("severity: %w", err)
	}
	v, err := ParseSeverity(name)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Kind says which scanner family produced a finding.
type Kind string

// Finding kinds.
const (
	KindMisconfig Kind = "misconfig" // Dockerfile, build context, image config/filesystem, runtime manifests
	KindSecret    Kind = "secret"    // credentials found in files, config, history
	KindVuln      Kind = "vuln"      // known vulnerabilities in packages
	KindLicense   Kind = "license"
)

// Location says where a finding was seen. Which fields are set depends on the
// target: a Dockerfile finding has Path and Line; an image finding has the
// path inside the image, the layer and history step, and, when a Dockerfile
// was given, the Dockerfile path and line of the step that made the layer.
type Location struct {
	// Path is the file the finding is about: the Dockerfile, a build-context
	// file, or a path inside the image (absolute, e.g. "/etc/secrets.txt").
	Path    string `json:"path,omitempty"`
	Line    int    `json:"line,omitempty"`
	EndLine int    `json:"end_line,omitempty"`
	// Layer is the layer digest (sha256:...) and LayerIndex its 0-based
	// position in the image (nil when no layer applies).
	Layer      string `json:"layer,omitempty"`
	LayerIndex *int   `json:"layer_index,omitempty"`
	// Step is the history entry (created_by) or Dockerfile instruction text
	// that produced the layer or line.
	Step string `json:"step,omitempty"`
	// Dockerfile and DockerfileLine name the Dockerfile instruction an image
	// finding was traced to, when known.
	Dockerfile     string `json:"dockerfile,omitempty"`
	DockerfileLine int    `json:"dockerfile_line,omitempty"`
}

// IntPtr returns a pointer to i, for Location.LayerIndex.
func IntPtr(i int) *int { return &i }

// PackageRef names the package a vulnerability finding is about.
type PackageRef struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Ecosystem    string `json:"ecosystem,omitempty"`
	PURL         string `json:"purl,omitempty"`
	SourceName   string `json:"source_name,omitempty"`
	FixedVersion string `json:"fixed_version,omitempty"`
	// ManagedBy names the OS package that installed a language package
	// ("deb:python3-urllib3"), as inventory.Package.ManagedBy.
	ManagedBy string `json:"managed_by,omitempty"`
}

// Suppression records why a finding is not counted: an ignore file entry, an
// inline comment, a VEX statement or a config rule.
type Suppression struct {
	By      string `json:"by"`               // "ignorefile", "inline", "vex", "config", "backport", "not-linked", "baseline"
	Source  string `json:"source,omitempty"` // file:line of the rule that suppressed it
	Reason  string `json:"reason,omitempty"`
	Expires string `json:"expires,omitempty"` // YYYY-MM-DD, when the suppression lapses
}

// Finding is one thing kensa wants the user to change.
type Finding struct {
	Kind     Kind     `json:"kind"`
	ID       string   `json:"id"` // rule ID (KS-DF-001, KS-SE-github-token) or advisory ID (CVE-..., GHSA-..., GO-...)
	Severity Severity `json:"severity"`
	Title    string   `json:"title"`
	// Message says what was seen: the command, variable, file or package.
	Message  string   `json:"message"`
	Location Location `json:"location"`
	// Fix is a concrete instruction (or, for vulns, "upgrade X to Y").
	Fix string `json:"fix,omitempty"`
	// Related names other places involved, e.g. the layer that deleted a
	// file whose secret survives in an earlier layer.
	Related    []Location   `json:"related,omitempty"`
	Package    *PackageRef  `json:"package,omitempty"`
	Aliases    []string     `json:"aliases,omitempty"`
	References []string     `json:"references,omitempty"`
	Suppressed *Suppression `json:"suppressed,omitempty"`
	// Origin says, for image findings when the base image is known,
	// whether the finding comes from the base image's layers ("base") or
	// the image's own ("own").
	Origin string `json:"origin,omitempty"`
}

// Origins of image findings (Finding.Origin).
const (
	OriginBase = "base"
	OriginOwn  = "own"
)

// Summary counts findings by severity.
type Summary struct {
	Total      int            `json:"total"`
	BySeverity map[string]int `json:"by_severity"`
	Suppressed int            `json:"suppressed"`
	// ByOrigin counts image findings by Origin when the base is known.
	ByOrigin map[string]int `json:"by_origin,omitempty"`
}

// ImageInfo describes a scanned image (set only for image targets).
type ImageInfo struct {
	Reference string      `json:"reference,omitempty"`
	Digest    string      `json:"digest,omitempty"`
	OS        string      `json:"os,omitempty"` // e.g. "debian 12"
	Platform  string      `json:"platform,omitempty"`
	Size      int64       `json:"size"`
	Layers    []LayerInfo `json:"layers,omitempty"`
	// WastedBytes are bytes in layers that later layers delete or overwrite;
	// Efficiency is 1 - wasted/total (dive's score).
	WastedBytes int64   `json:"wasted_bytes"`
	Efficiency  float64 `json:"efficiency"`
	// Base is the image this one was built on, when kensa could tell.
	Base *BaseImage `json:"base,omitempty"`
}

// BaseImage names the image an image was built on and how many of its
// leading layers came from it.
type BaseImage struct {
	// Name is the base's reference (the Dockerfile's final FROM, the
	// org.opencontainers.image.base.name label, or --base).
	Name   string `json:"name,omitempty"`
	Digest string `json:"digest,omitempty"`
	// Layers is the number of leading layers that came from the base; -1
	// when only the name is known.
	Layers int `json:"layers"`
	// Source says how kensa knows: "dockerfile", "label" or "--base".
	Source string `json:"source"`
}

// LayerInfo summarizes one layer.
type LayerInfo struct {
	Index       int    `json:"index"`
	Digest      string `json:"digest"`
	DiffID      string `json:"diff_id"`
	Size        int64  `json:"size"`
	Files       int    `json:"files"`
	WastedBytes int64  `json:"wasted_bytes"`
	Step        string `json:"step,omitempty"`
	FromCache   bool   `json:"from_cache,omitempty"`
}

// Report is the result of scanning one target. Writers consume it.
type Report struct {
	SchemaVersion int    `json:"schema_version"`
	Target        string `json:"target"`
	// TargetKind is "dockerfile", "image", "rootfs" or "sbom".
	TargetKind string    `json:"target_kind,omitempty"`
	Findings   []Finding `json:"findings"`
	// Suppressed holds findings removed by ignores or VEX; writers show them
	// only when asked (--show-suppressed).
	Suppressed []Finding  `json:"suppressed,omitempty"`
	Summary    Summary    `json:"summary"`
	Image      *ImageInfo `json:"image,omitempty"`
	// OS and Packages are the inventory (image, rootfs and SBOM targets);
	// SBOM writers and the vulnerability matcher read them.
	OS       *inventory.OS       `json:"os,omitempty"`
	Packages []inventory.Package `json:"packages,omitempty"`
	// Notes are warnings the user should see: skipped files, an old DB.
	Notes []string `json:"notes,omitempty"`
}

// NewReport returns an empty report for target.
func NewReport(target, kind string) *Report {
	return &Report{SchemaVersion: SchemaVersion, Target: target, TargetKind: kind, Findings: []Finding{}}
}

// Sort orders findings by location path, line, severity (most urgent first)
// and ID, so every output is stable.
func Sort(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Location.Path != b.Location.Path {
			return a.Location.Path < b.Location.Path
		}
		if a.Location.Line != b.Location.Line {
			return a.Location.Line < b.Location.Line
		}
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		if a.Package != nil && b.Package != nil && a.Package.Name != b.Package.Name {
			return a.Package.Name < b.Package.Name
		}
		return a.Message < b.Message
	})
}

// Finalize sorts findings and recomputes the summary. Call it once all
// findings and suppressions are in place, before writing.
func (r *Report) Finalize() {
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	Sort(r.Findings)
	Sort(r.Suppressed)
	r.Summary = Summary{Total: len(r.Findings), BySeverity: map[string]int{}, Suppressed: len(r.Suppressed)}
	for _, s := range AllSeverities() {
		r.Summary.BySeverity[s.String()] = 0
	}
	for _, f := range r.Findings {
		r.Summary.BySeverity[f.Severity.String()]++
		if f.Origin != "" {
			if r.Summary.ByOrigin == nil {
				r.Summary.ByOrigin = map[string]int{OriginBase: 0, OriginOwn: 0}
			}
			r.Summary.ByOrigin[f.Origin]++
		}
	}
	if r.Summary.ByOrigin == nil && r.Image != nil && r.Image.Base != nil && r.Image.Base.Layers >= 0 {
		r.Summary.ByOrigin = map[string]int{OriginBase: 0, OriginOwn: 0}
	}
}

// SuppressWhere moves every finding for which decide returns a
// suppression into r.Suppressed, with that suppression set, keeping the
// order of the rest. It returns how many it moved.
func (r *Report) SuppressWhere(decide func(Finding) *Suppression) int {
	kept := r.Findings[:0]
	n := 0
	for _, f := range r.Findings {
		if sup := decide(f); sup != nil {
			f.Suppressed = sup
			r.Suppressed = append(r.Suppressed, f)
			n++
			continue
		}
		kept = append(kept, f)
	}
	r.Findings = kept
	return n
}
